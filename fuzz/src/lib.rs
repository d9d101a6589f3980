//! Shared pieces of the fuzz targets and the seed generator: one small world (three funded
//! wallets, two ERC20 tokens and a constant-product pair built from the committed
//! `contracts/artifacts/*.json`, plus the accounts of a tiny `mf_validator::sample`), its
//! genesis, and code lookups holding the committed contracts.
//!
//! Everything here is deterministic: keys come from labels, signatures are deterministic
//! (ed25519), so `examples/gen_seeds.rs` writes byte-identical seeds on every run, and the
//! `http_batch` target's validator starts from the same genesis as the seeds were built on.

use mf_format::{Account, Address, B256, EMPTY_CODE_HASH, ExecContext, Keypair, U256};
use mf_movegen::abi::{mapping_slot, nested_mapping_slot};
use mf_movegen::genesis::Genesis;
use mf_movegen::{CodeLookup, MemoryView};
use mf_validator::sample::{GenConfig, Sample, generate};
use std::collections::HashMap;
use std::sync::OnceLock;

pub mod batch;

/// The chain id of every seed and of the `http_batch` validator.
pub const CHAIN_ID: u64 = 1337;

/// The context of every built seed: valid at heights 1..=256 and at the fixed clock below.
pub const CONTEXT: ExecContext = ExecContext {
    block_number: 1,
    timestamp: 1_700_000_000,
};

/// The `http_batch` validator's header clock (ms): fixed, so that runs are deterministic
/// and the seeds' contexts are inside the window.
pub const CLOCK_MS: u64 = 1_700_000_100_000;

/// The fixed header clock as a function pointer (`Validator::set_clock`).
pub fn clock() -> u64 {
    CLOCK_MS
}

const TOKEN_JSON: &str = include_str!("../../contracts/artifacts/Token.json");
const PAIR_JSON: &str = include_str!("../../contracts/artifacts/Pair.json");

fn artifact_hex(artifact: &str, field: &str) -> Vec<u8> {
    let v: serde_json::Value = serde_json::from_str(artifact).expect("artifact json");
    let hex = v[field].as_str().expect("artifact field");
    alloy_primitives::hex::decode(hex.trim_start_matches("0x")).expect("artifact hex")
}

/// Runtime code of `Token.sol` (`deployedBytecode`).
pub fn token_code() -> &'static [u8] {
    static C: OnceLock<Vec<u8>> = OnceLock::new();
    C.get_or_init(|| artifact_hex(TOKEN_JSON, "deployedBytecode"))
}

/// Runtime code of `Pair.sol` (`deployedBytecode`).
pub fn pair_code() -> &'static [u8] {
    static C: OnceLock<Vec<u8>> = OnceLock::new();
    C.get_or_init(|| artifact_hex(PAIR_JSON, "deployedBytecode"))
}

/// Creation code of `Pair.sol` (`bytecode`), without constructor arguments.
pub fn pair_creation_code() -> &'static [u8] {
    static C: OnceLock<Vec<u8>> = OnceLock::new();
    C.get_or_init(|| artifact_hex(PAIR_JSON, "bytecode"))
}

/// The committed contracts' runtime code by keccak-256: what a validator's code store holds
/// for this world.
pub fn committed_codes() -> &'static HashMap<B256, Vec<u8>> {
    static M: OnceLock<HashMap<B256, Vec<u8>>> = OnceLock::new();
    M.get_or_init(|| {
        [token_code(), pair_code()]
            .into_iter()
            .map(|c| (alloy_primitives::keccak256(c), c.to_vec()))
            .collect()
    })
}

/// A [`CodeLookup`] over [`committed_codes`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Committed;

impl CodeLookup for Committed {
    fn code(&self, hash: &B256) -> Option<Vec<u8>> {
        committed_codes().get(hash).cloned()
    }
}

/// A validator `CodeSource` with no code (for the stateless stage without re-execution).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoCodeSource;

impl mf_validator::prepare::CodeSource for NoCodeSource {
    fn code(&self, _: &B256) -> Option<Vec<u8>> {
        None
    }
}

fn fixed(kind: u8, i: u32) -> Address {
    let mut a = [0u8; 20];
    a[0] = kind;
    a[16..].copy_from_slice(&i.to_be_bytes());
    Address::from(a)
}

/// `n` whole tokens (18 decimals).
pub fn units(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// `balanceOf[holder]` of `Token.sol` (mapping slot 0).
pub fn balance_slot(holder: Address) -> U256 {
    mapping_slot(holder, U256::ZERO)
}

/// `allowance[owner][spender]` of `Token.sol` (nested mapping slot 1).
pub fn allowance_slot(owner: Address, spender: Address) -> U256 {
    nested_mapping_slot(owner, spender, U256::from(1u64))
}

/// The world the seeds are built on.
pub struct World {
    /// Contracts and wallets (genesis, `intx = 0`), without the sample accounts.
    pub view: MemoryView,
    /// Three funded wallets.
    pub wallets: Vec<Keypair>,
    /// Token A.
    pub token_a: Address,
    /// Token B.
    pub token_b: Address,
    /// The A/B pair.
    pub pair: Address,
    /// A tiny sample of plain transfers (`mf_validator::sample`), whose accounts are in the
    /// genesis too.
    pub sample: Sample,
}

/// A fresh recipient address (never in the genesis).
pub fn recipient(i: u32) -> Address {
    fixed(0xcc, i)
}

/// The world (built once per process).
pub fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(build_world)
}

fn build_world() -> World {
    let wallets: Vec<Keypair> = (0..3)
        .map(|i| Keypair::from_label(&format!("mf fuzz wallet {i}")))
        .collect();
    let (token_a, token_b, pair) = (fixed(0xa0, 0), fixed(0xb0, 0), fixed(0xe0, 0));
    let mut view = MemoryView::new();
    let per_wallet = units(1_000);
    let reserve = units(100_000);
    for w in &wallets {
        view.set_account(
            w.address(),
            Account {
                balance: units(10),
                nonce: 0,
                code_hash: EMPTY_CODE_HASH,
            },
        );
    }
    for token in [token_a, token_b] {
        let supply = per_wallet * U256::from(wallets.len() as u64) + reserve;
        let mut storage = vec![(U256::from(2u64), supply), (balance_slot(pair), reserve)];
        for (i, w) in wallets.iter().enumerate() {
            storage.push((balance_slot(w.address()), per_wallet));
            // Wallet 0 has a finite allowance on token B (consumed by a swap), every other
            // allowance to the pair is infinite (only referenced by a swap).
            let allowance = if i == 0 && token == token_b {
                units(500)
            } else {
                U256::MAX
            };
            storage.push((allowance_slot(w.address(), pair), allowance));
        }
        view.deploy(token, token_code().to_vec(), U256::ZERO, storage);
    }
    let lp = units(100_000);
    view.deploy(
        pair,
        pair_code().to_vec(),
        U256::ZERO,
        [
            (U256::ZERO, U256::from_be_slice(token_a.as_slice())),
            (U256::from(1u64), U256::from_be_slice(token_b.as_slice())),
            (U256::from(2u64), reserve),
            (U256::from(3u64), reserve),
            (U256::from(4u64), lp),
            (mapping_slot(fixed(0xbb, 0), U256::from(5u64)), lp),
        ],
    );
    let sample = generate(&GenConfig {
        chain_id: CHAIN_ID,
        accounts: 4,
        txs: 8,
        batch_size: 4,
        seed: 7,
    });
    World {
        view,
        wallets,
        token_a,
        token_b,
        pair,
        sample,
    }
}

impl World {
    /// The genesis of the world: contracts, wallets and the sample's accounts.
    pub fn genesis(&self) -> Genesis {
        let mut versions: Vec<_> = self
            .view
            .versions()
            .map(|(k, (_, v))| (*k, *v))
            .chain(self.sample.genesis.versions.iter().copied())
            .collect();
        versions.sort_by_key(|v| v.0);
        versions.dedup_by_key(|v| v.0);
        Genesis {
            chain_id: CHAIN_ID,
            versions,
            code: self.view.codes().map(|(h, c)| (*h, c.to_vec())).collect(),
        }
    }
}

/// Every key of the world (wallets and sample accounts), by address.
pub fn known_keys() -> &'static HashMap<Address, Keypair> {
    static K: OnceLock<HashMap<Address, Keypair>> = OnceLock::new();
    K.get_or_init(|| {
        let w = world();
        w.wallets
            .iter()
            .chain(&w.sample.keys)
            .map(|k| (k.address(), k.clone()))
            .collect()
    })
}

/// Re-signs `tx` when its sender is a known key: the sender first, then every other known
/// key among its authorisations (in their order, each once); unknown co-signers are dropped.
/// Returns `None` when the sender is not known (the transaction is left as it is).
pub fn resign(tx: &mf_format::Transaction) -> Option<mf_format::Transaction> {
    let keys = known_keys();
    let sender = keys.get(&tx.body.call.from)?;
    let mut signers: Vec<&Keypair> = vec![sender];
    for a in tx.auths.iter().skip(1) {
        if let Some(k) = keys.values().find(|k| k.public_key() == a.public_key)
            && !signers.iter().any(|s| s.public_key() == k.public_key())
        {
            signers.push(k);
        }
    }
    Some(mf_format::sign(tx.body.clone(), &signers))
}
