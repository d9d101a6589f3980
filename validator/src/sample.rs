//! Signed sample batches of plain value transfers between generated keys.
//!
//! Each transfer carries exactly the moves the EVM produces for it with gas price zero: the
//! sender's account record consumed (balance − value, nonce + 1) and the recipient's
//! consumed (balance + value). The generator tracks the latest version of every account, so
//! later transfers in a batch chain onto earlier ones.
//!
//! The batches are meant to be applied in order on a fresh validator, from height 1: each
//! transaction's context names the height its batch is applied at (`block_number` = 1 for
//! the first batch, 2 for the second, ...) and the time [`GenConfig::time_s`]. They are
//! inside the validator's window (PROTOCOL.md §6.3.1) when every header time of the chain
//! is within 15 s of that time: a validator whose clock is pinned to it
//! ([`crate::Validator::set_clock`], `--fixed-time` on the command line), or one that
//! applies them within 15 s of a `time_s` taken from the clock. Applied in another order,
//! more than 256 heights late, or later than that, they are rejected with
//! `context_out_of_window` (65).

use crate::genesis::Genesis;
use mf_format::{
    Account, Address, Batch, Call, EMPTY_CODE_HASH, ExecContext, GENESIS_INTX, Key, Keypair, Mark,
    Mask, Move, MoveKind, Transaction, TxBody, TxId, U256, Value, sign, tx_id,
};
use rayon::prelude::*;

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// Chain id.
    pub chain_id: u64,
    /// Number of accounts.
    pub accounts: usize,
    /// Number of transfers.
    pub txs: usize,
    /// Transfers per batch.
    pub batch_size: usize,
    /// Seed (keys and choices).
    pub seed: u64,
    /// The timestamp every transaction declares, in seconds since the Unix epoch (the
    /// default is a fixed past time, so that a seed always gives the same transactions).
    pub time_s: u64,
}

/// [`GenConfig::time_s`]'s default: 2023-11-14T22:13:20Z.
pub const SAMPLE_TIME_S: u64 = 1_700_000_000;

/// A header clock pinned at [`SAMPLE_TIME_S`] (for [`crate::Validator::set_clock`]): a
/// sample generated with the default time is in the window at every height.
pub fn sample_clock() -> u64 {
    SAMPLE_TIME_S * 1000
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            chain_id: 1337,
            accounts: 1000,
            txs: 10_000,
            batch_size: 1000,
            seed: 1,
            time_s: SAMPLE_TIME_S,
        }
    }
}

/// A genesis and batches that apply on it in order.
#[derive(Clone, Debug)]
pub struct Sample {
    /// The genesis.
    pub genesis: Genesis,
    /// Batches, in order.
    pub batches: Vec<Batch>,
    /// The keys, by account index.
    pub keys: Vec<Keypair>,
}

/// splitmix64: a tiny deterministic generator for workload choices (not for keys).
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Initial balance of each generated account (10^24 wei).
pub fn initial_balance() -> U256 {
    U256::from(10u64).pow(U256::from(24u64))
}

/// The keys of a sample (deterministic in the seed).
pub fn keys(seed: u64, n: usize) -> Vec<Keypair> {
    (0..n)
        .into_par_iter()
        .map(|i| Keypair::from_label(&format!("mf sample {seed} account {i}")))
        .collect()
}

/// A transfer body: exactly the moves of a value transfer.
#[allow(clippy::too_many_arguments)]
pub fn transfer_body(
    chain_id: u64,
    from: Address,
    from_version: (TxId, Account),
    to: Address,
    to_version: (TxId, Account),
    value: U256,
    context: ExecContext,
) -> TxBody {
    let (fi, fa) = from_version;
    let (ti, ta) = to_version;
    let mv = |addr, intx, prev: Account, next: Account| Move {
        mask: Mask::ALL,
        kind: MoveKind::Consume,
        mark: Mark::Account,
        intx,
        addr,
        slot: U256::ZERO,
        prev: Value::Account(prev),
        next: Value::Account(next),
    };
    TxBody {
        chain_id,
        call: Call {
            from,
            to: Some(to),
            value,
            input: Vec::new(),
            gas_limit: 21_000,
            fee: Default::default(),
            access_list: Vec::new(),
            blob: None,
        },
        context,
        open: false,
        moves: vec![
            mv(
                from,
                fi,
                fa,
                Account {
                    balance: fa.balance - value,
                    nonce: fa.nonce + 1,
                    ..fa
                },
            ),
            mv(
                to,
                ti,
                ta,
                Account {
                    balance: ta.balance + value,
                    ..ta
                },
            ),
        ],
        created_code: Vec::new(),
    }
}

/// Generates a sample.
pub fn generate(cfg: &GenConfig) -> Sample {
    let n = cfg.accounts.max(2);
    let keys = keys(cfg.seed, n);
    let start = Account {
        balance: initial_balance(),
        nonce: 0,
        code_hash: EMPTY_CODE_HASH,
    };
    let mut state: Vec<(TxId, Account)> = vec![(GENESIS_INTX, start); n];
    let addrs: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let mut versions: Vec<(Key, Value)> = addrs
        .iter()
        .map(|a| (Key::account(*a), Value::Account(start)))
        .collect();
    versions.sort_by_key(|v| v.0);
    let genesis = Genesis {
        chain_id: cfg.chain_id,
        rules: Default::default(),
        versions,
        code: Vec::new(),
    };
    let mut rng = SplitMix(cfg.seed ^ 0x5eed);
    let mut batches = Vec::new();
    let mut made = 0;
    let mut height = 1u64;
    while made < cfg.txs {
        let size = cfg.batch_size.min(cfg.txs - made).max(1);
        let mut bodies: Vec<(usize, TxBody)> = Vec::with_capacity(size);
        for _ in 0..size {
            let f = rng.below(n);
            let mut t = rng.below(n - 1);
            if t >= f {
                t += 1;
            }
            let value = U256::from(1 + rng.below(1000) as u64);
            let body = transfer_body(
                cfg.chain_id,
                addrs[f],
                state[f],
                addrs[t],
                state[t],
                value,
                // The height this batch is applied at (from 1, in order) and the
                // configured time.
                ExecContext {
                    block_number: height,
                    timestamp: cfg.time_s,
                },
            );
            let id = tx_id(&body);
            if let (Value::Account(fa), Value::Account(ta)) =
                (body.moves[0].next, body.moves[1].next)
            {
                state[f] = (id, fa);
                state[t] = (id, ta);
            }
            bodies.push((f, body));
        }
        let txs: Vec<Transaction> = bodies
            .into_par_iter()
            .map(|(f, b)| sign(b, &[&keys[f]]))
            .collect();
        batches.push(Batch { txs });
        made += size;
        height += 1;
    }
    Sample {
        genesis,
        batches,
        keys,
    }
}
