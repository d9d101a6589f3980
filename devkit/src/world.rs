//! The one genesis builder: funded wallets, ERC20 tokens ([`contracts::token`]) and
//! constant-product pairs ([`contracts::pair`]), with each wallet's balance in every token
//! and its allowance to the pairs.
//!
//! ```
//! use mf_devkit::{PairSpec, WorldBuilder, fixed_addr, units};
//! use mf_format::Keypair;
//!
//! let wallets = (0..3).map(|i| Keypair::from_label(&format!("doc wallet {i}"))).collect();
//! let (a, b, pair) = (fixed_addr(0xa0, 0), fixed_addr(0xb0, 0), fixed_addr(0xe0, 0));
//! let world = WorldBuilder::new(wallets, units(10))
//!     .token(a, units(1_000))
//!     .token(b, units(1_000))
//!     .pair(PairSpec::new(pair, a, b, units(100_000), units(100_000)))
//!     .build()?;
//! assert_eq!(world.pairs, vec![pair]);
//! # Ok::<(), mf_devkit::DevkitError>(())
//! ```
//!
//! [`contracts::token`]: crate::contracts::token
//! [`contracts::pair`]: crate::contracts::pair

use crate::slots::{pair as pair_slots, token as token_slots};
use crate::{DevkitError, contracts};
use mf_format::{Account, Address, EMPTY_CODE_HASH, Keypair, U256};
use mf_movegen::MemoryView;
use mf_movegen::genesis::Genesis;
use std::collections::BTreeMap;

/// `n` tokens with 18 decimals.
pub fn units(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// A state in which each of `addresses` holds `balance` wei (nonce 0, no code): the
/// starting point of a test with a few funded senders.
pub fn funded(addresses: impl IntoIterator<Item = Address>, balance: U256) -> MemoryView {
    let mut view = MemoryView::new();
    for a in addresses {
        view.set_account(
            a,
            Account {
                balance,
                nonce: 0,
                code_hash: EMPTY_CODE_HASH,
            },
        );
    }
    view
}

/// A fixed address: `kind` in the first byte, `i` in the last four.
pub fn fixed_addr(kind: u8, i: usize) -> Address {
    let mut a = [0u8; 20];
    a[0] = kind;
    a[16..].copy_from_slice(&(i as u32).to_be_bytes());
    Address::from(a)
}

/// One constant-product pair of a genesis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairSpec {
    /// The pair's address.
    pub addr: Address,
    /// `token0`.
    pub token0: Address,
    /// `token1`.
    pub token1: Address,
    /// `reserve0` (the pair also holds this much `token0`).
    pub reserve0: U256,
    /// `reserve1` (the pair also holds this much `token1`).
    pub reserve1: U256,
    /// LP shares issued.
    pub lp: U256,
    /// Who holds them.
    pub lp_holder: Address,
}

impl PairSpec {
    /// A pair with 1,000,000 LP shares held by `fixed_addr(0xbb, 0)`.
    pub fn new(
        addr: Address,
        token0: Address,
        token1: Address,
        reserve0: U256,
        reserve1: U256,
    ) -> PairSpec {
        PairSpec {
            addr,
            token0,
            token1,
            reserve0,
            reserve1,
            lp: U256::from(1_000_000u64),
            lp_holder: fixed_addr(0xbb, 0),
        }
    }

    /// The same pair with its LP shares held by `holder`.
    pub fn lp_holder(mut self, holder: Address) -> PairSpec {
        self.lp_holder = holder;
        self
    }

    /// What the pair holds of `token` (0 when it does not trade it).
    fn reserve_of(&self, token: Address) -> U256 {
        if token == self.token0 {
            self.reserve0
        } else if token == self.token1 {
            self.reserve1
        } else {
            U256::ZERO
        }
    }

    fn trades(&self, token: Address) -> bool {
        token == self.token0 || token == self.token1
    }
}

type PairsOf = Box<dyn Fn(usize) -> Vec<usize> + Send + Sync>;

/// Builds a [`World`]; see the module documentation.
pub struct WorldBuilder {
    wallets: Vec<Keypair>,
    accounts: Vec<Address>,
    wallet_balance: U256,
    tokens: Vec<(Address, U256)>,
    pairs: Vec<PairSpec>,
    allowed: Option<PairsOf>,
    overrides: BTreeMap<(usize, Address, usize), U256>,
}

impl WorldBuilder {
    /// `wallets`, each with `wallet_balance` wei and nonce 0.
    pub fn new(wallets: Vec<Keypair>, wallet_balance: U256) -> WorldBuilder {
        WorldBuilder {
            wallets,
            accounts: Vec::new(),
            wallet_balance,
            tokens: Vec::new(),
            pairs: Vec::new(),
            allowed: None,
            overrides: BTreeMap::new(),
        }
    }

    /// More funded accounts known by address only (Ethereum accounts whose secp256k1 keys
    /// sign for them, such as the development keys of [`crate::dev`]): each is treated as a
    /// wallet, numbered after the ed25519 wallets (for [`WorldBuilder::allowed_pairs`] and
    /// [`WorldBuilder::allowance`]), with the same balance, tokens and allowances.
    pub fn accounts(mut self, accounts: impl IntoIterator<Item = Address>) -> WorldBuilder {
        self.accounts.extend(accounts);
        self
    }

    /// A token at `addr`; every wallet holds `per_wallet` of it, every pair trading it its
    /// reserve, and `totalSupply` is their sum.
    pub fn token(mut self, addr: Address, per_wallet: U256) -> WorldBuilder {
        self.tokens.push((addr, per_wallet));
        self
    }

    /// A pair (its tokens must be added with [`WorldBuilder::token`]).
    pub fn pair(mut self, pair: PairSpec) -> WorldBuilder {
        self.pairs.push(pair);
        self
    }

    /// Which pairs (by index, in the order added) wallet `i` allows to spend its tokens;
    /// by default every pair, for every token the pair trades, with an infinite allowance.
    pub fn allowed_pairs(
        mut self,
        f: impl Fn(usize) -> Vec<usize> + Send + Sync + 'static,
    ) -> WorldBuilder {
        self.allowed = Some(Box::new(f));
        self
    }

    /// Wallet `wallet`'s allowance of `token` to pair `pair` is `amount` instead of
    /// infinite.
    pub fn allowance(
        mut self,
        wallet: usize,
        token: Address,
        pair: usize,
        amount: U256,
    ) -> WorldBuilder {
        self.overrides.insert((wallet, token, pair), amount);
        self
    }

    /// The genesis state.
    pub fn build(self) -> Result<World, DevkitError> {
        let token_code = &contracts::token()?.runtime;
        let pair_code = &contracts::pair()?.runtime;
        let mut view = MemoryView::new();
        let holders: Vec<Address> = self
            .wallets
            .iter()
            .map(Keypair::address)
            .chain(self.accounts.iter().copied())
            .collect();
        for &w in &holders {
            view.set_account(
                w,
                Account {
                    balance: self.wallet_balance,
                    nonce: 0,
                    code_hash: EMPTY_CODE_HASH,
                },
            );
        }
        let n = U256::from(holders.len());
        let every_pair: Vec<usize> = (0..self.pairs.len()).collect();
        for &(token, per_wallet) in &self.tokens {
            let held_by_pairs = self
                .pairs
                .iter()
                .fold(U256::ZERO, |s, p| s + p.reserve_of(token));
            let mut storage = vec![(token_slots::TOTAL_SUPPLY, per_wallet * n + held_by_pairs)];
            for (i, &w) in holders.iter().enumerate() {
                storage.push((token_slots::balance(w), per_wallet));
                let allowed = match &self.allowed {
                    Some(f) => f(i),
                    None => every_pair.clone(),
                };
                for j in allowed {
                    let Some(p) = self.pairs.get(j) else { continue };
                    if !p.trades(token) {
                        continue;
                    }
                    let amount = self
                        .overrides
                        .get(&(i, token, j))
                        .copied()
                        .unwrap_or(U256::MAX);
                    storage.push((token_slots::allowance(w, p.addr), amount));
                }
            }
            for p in self.pairs.iter().filter(|p| p.trades(token)) {
                storage.push((token_slots::balance(p.addr), p.reserve_of(token)));
            }
            view.deploy(token, token_code.clone(), U256::ZERO, storage);
        }
        for p in &self.pairs {
            view.deploy(
                p.addr,
                pair_code.clone(),
                U256::ZERO,
                [
                    (pair_slots::TOKEN0, U256::from_be_slice(p.token0.as_slice())),
                    (pair_slots::TOKEN1, U256::from_be_slice(p.token1.as_slice())),
                    (pair_slots::RESERVE0, p.reserve0),
                    (pair_slots::RESERVE1, p.reserve1),
                    (pair_slots::TOTAL_SUPPLY, p.lp),
                    (pair_slots::lp_balance(p.lp_holder), p.lp),
                ],
            );
        }
        Ok(World {
            view,
            wallets: self.wallets,
            tokens: self.tokens.iter().map(|t| t.0).collect(),
            pairs: self.pairs.iter().map(|p| p.addr).collect(),
        })
    }
}

/// A genesis built by [`WorldBuilder`].
#[derive(Clone, Debug)]
pub struct World {
    /// The genesis state (every version at `intx = 0`).
    pub view: MemoryView,
    /// The funded wallets.
    pub wallets: Vec<Keypair>,
    /// The tokens, in the order added.
    pub tokens: Vec<Address>,
    /// The pairs, in the order added.
    pub pairs: Vec<Address>,
}

impl World {
    /// The genesis file contents of this world on chain `chain_id`.
    pub fn genesis(&self, chain_id: u64) -> Genesis {
        Genesis::from_view(chain_id, &self.view)
    }
}
