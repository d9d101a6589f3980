//! The world of `mf-coordinator dev`, the development node: chain id 31337 (anvil's and
//! Hardhat's), the ten well-known development accounts funded, and the project's token and
//! pair contracts deployed, so that the tools written for anvil (Foundry's `cast`, web3.py,
//! viem, wallets) find what they expect.
//!
//! The accounts are the first ten of the mnemonic `test test test test test test test test
//! test test test junk` at `m/44'/60'/0'/0/i`, the ones anvil and Hardhat print when they
//! start. Their private keys are public knowledge (printed by those tools and listed in their
//! documentation): **never** send anything of value to them on a real chain.

use crate::DevkitError;
use crate::eth::EthKey;
use crate::world::{PairSpec, WorldBuilder, fixed_addr, units};
use alloy_primitives::{B256, address, b256};
use mf_format::{Address, U256};
use mf_movegen::MemoryView;
use mf_movegen::genesis::Genesis;

/// The mnemonic the development keys derive from (`m/44'/60'/0'/0/i`).
pub const MNEMONIC: &str = "test test test test test test test test test test test junk";

/// The chain id of the development node: anvil's and Hardhat's.
pub const CHAIN_ID: u64 = 31337;

/// The secret keys of the ten development accounts, as anvil and Hardhat print them.
pub const KEYS: [B256; 10] = [
    b256!("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"),
    b256!("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"),
    b256!("5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"),
    b256!("7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"),
    b256!("47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"),
    b256!("8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba"),
    b256!("92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e"),
    b256!("4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356"),
    b256!("dbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97"),
    b256!("2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6"),
];

/// The addresses of [`KEYS`], as anvil and Hardhat print them.
pub const ADDRESSES: [Address; 10] = [
    address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
    address!("70997970C51812dc3A010C7d01b50e0d17dc79C8"),
    address!("3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"),
    address!("90F79bf6EB2c4f870365E785982E1f101E93b906"),
    address!("15d34AAf54267DB7D7c367839AAf71A00a2C6A65"),
    address!("9965507D1a55bcC2695C58ba16FB37d819B0A4dc"),
    address!("976EA74026E726554dB657fA54763abd0C3a0aa9"),
    address!("14dC79964da2C08b23698B3D3cc7Ca32193d9955"),
    address!("23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f"),
    address!("a0Ee7A142d267C1f36714E4a8F75612F20a79720"),
];

/// Ether each development account starts with: 10,000 (anvil's default).
pub const BALANCE_ETH: u64 = 10_000;

/// Tokens of each kind each development account starts with.
pub const TOKENS_EACH: u64 = 1_000_000;

/// Each token's reserve in the pair.
pub const RESERVE: u64 = 1_000_000;

/// The key of development account `i` (`None` past the tenth).
pub fn key(i: usize) -> Option<EthKey> {
    KEYS.get(i).and_then(|k| EthKey::from_secret(k.0))
}

/// One token of the development world.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevToken {
    /// Its address.
    pub addr: Address,
    /// `name()`.
    pub name: &'static str,
    /// `symbol()`.
    pub symbol: &'static str,
}

/// The genesis of the development node.
#[derive(Clone, Debug)]
pub struct DevWorld {
    /// The genesis state.
    pub view: MemoryView,
    /// The two tokens (`Token.sol`, 18 decimals), each held by every account.
    pub tokens: [DevToken; 2],
    /// The constant-product pair (`Pair.sol`) trading them; every account allows it to
    /// spend both without limit, and account 0 holds its LP shares.
    pub pair: Address,
}

impl DevWorld {
    /// Builds it: the ten accounts with [`BALANCE_ETH`] ether and [`TOKENS_EACH`] of both
    /// tokens, and the pair with [`RESERVE`] of each.
    pub fn new() -> Result<DevWorld, DevkitError> {
        let tokens = [
            DevToken {
                addr: fixed_addr(0xd0, 0),
                name: "Dev Token A",
                symbol: "TKA",
            },
            DevToken {
                addr: fixed_addr(0xd0, 1),
                name: "Dev Token B",
                symbol: "TKB",
            },
        ];
        let pair = fixed_addr(0xe0, 0);
        let mut b = WorldBuilder::new(Vec::new(), units(BALANCE_ETH)).accounts(ADDRESSES);
        for t in &tokens {
            b = b.token(t.addr, units(TOKENS_EACH));
        }
        let spec = PairSpec::new(
            pair,
            tokens[0].addr,
            tokens[1].addr,
            units(RESERVE),
            units(RESERVE),
        )
        .lp_holder(ADDRESSES[0]);
        let mut world = b.pair(spec).build()?;
        for t in &tokens {
            world
                .view
                .set_storage(t.addr, crate::slots::token::NAME, short_string(t.name));
            world
                .view
                .set_storage(t.addr, crate::slots::token::SYMBOL, short_string(t.symbol));
        }
        Ok(DevWorld {
            view: world.view,
            tokens,
            pair,
        })
    }

    /// The genesis file of this world: [`CHAIN_ID`], with the devnet's rules (Cancun,
    /// a base fee of 1 gwei: [`crate::devnet::rules`]).
    pub fn genesis(&self) -> Genesis {
        Genesis {
            rules: crate::devnet::rules(),
            ..Genesis::from_view(CHAIN_ID, &self.view)
        }
    }
}

/// A Solidity `string` of at most 31 bytes as its storage word: the bytes left-aligned,
/// twice the length in the last byte. Longer strings are cut to 31 bytes.
fn short_string(s: &str) -> U256 {
    let bytes = &s.as_bytes()[..s.len().min(31)];
    let mut word = [0u8; 32];
    word[..bytes.len()].copy_from_slice(bytes);
    word[31] = (bytes.len() * 2) as u8;
    U256::from_be_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_signs_for_its_well_known_address() {
        for (i, (k, a)) in KEYS.iter().zip(ADDRESSES).enumerate() {
            let key = EthKey::from_secret(k.0).expect("a valid secret");
            assert_eq!(key.address(), a, "development account {i}");
        }
    }

    #[test]
    fn the_world_funds_every_account_with_ether_and_tokens() {
        let w = DevWorld::new().expect("world");
        for a in ADDRESSES {
            assert_eq!(w.view.account(a).balance, units(BALANCE_ETH));
            for t in &w.tokens {
                assert_eq!(
                    w.view.storage(t.addr, crate::slots::token::balance(a)),
                    units(TOKENS_EACH)
                );
            }
        }
        assert_eq!(
            w.view
                .storage(w.tokens[0].addr, crate::slots::token::TOTAL_SUPPLY),
            units(TOKENS_EACH) * U256::from(10u64) + units(RESERVE)
        );
        // "TKA": three bytes, length 3 * 2 in the last byte.
        let sym = w
            .view
            .storage(w.tokens[0].addr, crate::slots::token::SYMBOL);
        let b = sym.to_be_bytes::<32>();
        assert_eq!((&b[..3], b[31]), (&b"TKA"[..], 6));
        assert_eq!(w.genesis().chain_id, CHAIN_ID);
    }
}
