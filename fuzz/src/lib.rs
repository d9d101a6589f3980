//! Shared pieces of the fuzz targets and the seed generator: one small world (three funded
//! wallets, two ERC20 tokens and a constant-product pair built from the committed
//! `contracts/artifacts/*.json`, plus the accounts of a tiny `mf_validator::sample`), its
//! genesis, and code lookups holding the committed contracts.
//!
//! Everything here is deterministic: keys come from labels, signatures are deterministic
//! (ed25519), so `examples/gen_seeds.rs` writes byte-identical seeds on every run, and the
//! `http_batch` target's validator starts from the same genesis as the seeds were built on.

#![warn(unused_crate_dependencies)]

// The fuzz targets (fuzz_targets/*.rs) use libfuzzer-sys; this library does not.
use libfuzzer_sys as _;

use mf_devkit::contracts::{self, Artifact};
pub use mf_devkit::slots::token::{allowance as allowance_slot, balance as balance_slot};
pub use mf_devkit::{PairSpec, WorldBuilder, fixed_addr, units};
use mf_format::{Address, B256, ExecContext, Keypair};
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

fn artifact(a: Result<&'static Artifact, mf_devkit::DevkitError>) -> &'static Artifact {
    match a {
        Ok(a) => a,
        Err(e) => panic!("{e}"),
    }
}

/// Runtime code of `Token.sol` (`deployedBytecode`).
pub fn token_code() -> &'static [u8] {
    &artifact(contracts::token()).runtime
}

/// Runtime code of `Pair.sol` (`deployedBytecode`).
pub fn pair_code() -> &'static [u8] {
    &artifact(contracts::pair()).runtime
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
    fixed_addr(0xcc, i as usize)
}

/// The world's Ethereum key (funded in its genesis).
pub fn eth_key() -> mf_devkit::eth::EthKey {
    mf_devkit::eth::EthKey::from_label("mf fuzz ethereum wallet")
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
    let (token_a, token_b, pair) = (
        fixed_addr(0xa0, 0),
        fixed_addr(0xb0, 0),
        fixed_addr(0xe0, 0),
    );
    let reserve = units(100_000);
    let mut spec = PairSpec::new(pair, token_a, token_b, reserve, reserve);
    spec.lp = units(100_000);
    // Wallet 0 has a finite allowance on token B (consumed by a swap), every other allowance
    // to the pair is infinite (only referenced by a swap).
    let built = WorldBuilder::new(wallets, units(10))
        .token(token_a, units(1_000))
        .token(token_b, units(1_000))
        .pair(spec)
        .allowance(0, token_b, 0, units(500))
        .build();
    let (mut view, wallets) = match built {
        Ok(w) => (w.view, w.wallets),
        Err(e) => panic!("{e}"),
    };
    // An Ethereum (secp256k1) account, for transactions with an Ethereum authorisation.
    view.set_account(
        eth_key().address(),
        mf_format::Account {
            balance: units(10),
            nonce: 0,
            code_hash: mf_format::EMPTY_CODE_HASH,
        },
    );
    let sample = generate(&GenConfig {
        chain_id: CHAIN_ID,
        accounts: 4,
        txs: 8,
        batch_size: 4,
        seed: 7,
        // The header clock's time: the sample's later batches are then in the window too.
        time_s: CLOCK_MS / 1000,
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
            rules: Default::default(),
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
