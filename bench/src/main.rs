//! # mf-bench: side-by-side benchmarks of the move-set validator
//!
//! `mf-bench critical-path` preloads a UTXO set of N random versions into both our store
//! (append-only LMDB + in-memory index) and the naive baseline (one LMDB table keyed by
//! version, per-move get + compare + delete + put), then applies the same batches of
//! two-move transactions to both in one process and prints moves/s for each and their
//! ratio, as medians over `--runs` runs with min and max.
//!
//! ```sh
//! cargo run --release -p mf-bench -- critical-path --entries 10000000 --runs 3
//! ```
//!
//! `mf-bench report` runs every section in one process and writes `report.md`,
//! `report.json` and SVG plots (default `bench/results/<date>/`):
//!
//! 1. the critical path against set size (1M, 10M; 100M with `--big`), ours and naive;
//! 2. full validation of signed transfers, ERC20 transfers, swaps on their own pools and
//!    swaps all on one hot pool, ours on 1 and 2 threads against a sequential baseline that
//!    verifies and executes each transaction against one mutable state in LMDB;
//! 3. the coordinator's fill rate on one hot pool against raw revm, and on independent pools
//!    on 1 and 2 threads;
//! 4. bytes per transaction and per state change beside the equivalent EIP-1559 transaction;
//! 5. the replicated path: signed transfer batches posted to replicas on a NATS JetStream
//!    log (`serve --order`) against a direct `POST /batch` to one validator, real processes
//!    on loopback: tx/s, batches/s and the added latency from publish to receipt (skipped,
//!    saying why, without `nats-server` or the `mf-validator` binary).
//!
//! `mf-bench replicated` runs section 5 alone:
//!
//! ```sh
//! cargo build --release -p mf-validator-cli -p mf-bench
//! target/release/mf-bench replicated --txs 20000 --batch-txs 100 --replicas 1,3
//! ```
//!
//! `mf-bench report --quick` checks the whole harness in seconds (the test suite runs it).

#![warn(unused_crate_dependencies)]

mod baseline;
mod bytes;
mod fill;
mod full;
mod mainnet;
mod naive;
mod replicated;
mod report;
mod stats;
mod svg;
mod workload;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use mf_format::{
    Address, Batch, Call, ExecContext, Key, Mark, Mask, Move, MoveKind, Transaction, TxBody, TxId,
    U256, Value, VersionId,
};
use mf_movegen::Reexecuted;
use mf_validator::genesis::Genesis;
use mf_validator::prepare::{Prepared, prepare_ops};
use mf_validator::{Mode, Validator};
use naive::Naive;
use rayon::prelude::*;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "mf-bench",
    about = "Benchmarks of the move-set validator against its baselines"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Critical path: our apply against the naive per-move LMDB apply on a preloaded set.
    CriticalPath(CpArgs),
    /// Every benchmark in one run, written as a markdown + JSON + SVG report.
    Report(report::ReportArgs),
    /// The replicated path (NATS JetStream log + replica validators) against a direct
    /// `POST /batch` to one validator: tx/s, batches/s and the added latency.
    Replicated(replicated::ReplicatedArgs),
}

#[derive(Parser, Clone)]
pub(crate) struct CpArgs {
    /// Versions preloaded into each set.
    #[arg(long, default_value_t = 10_000_000)]
    entries: u64,
    /// Moves applied per run.
    #[arg(long, default_value_t = 2_000_000)]
    moves: u64,
    /// Moves applied per run by the naive baseline (it is slow; fewer keeps runs short).
    #[arg(long, default_value_t = 400_000)]
    naive_moves: u64,
    /// Transactions per batch (two moves each).
    #[arg(long, default_value_t = 50_000)]
    batch_txs: usize,
    /// Runs (fresh moves each time, same preloaded set).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Working directory (default: a temporary directory, removed afterwards).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Allow more than 20M entries (prints the disk needed first).
    #[arg(long)]
    big: bool,
    /// Write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The deterministic preloaded record `i` of `n`: version id (sorted by `i`) and value.
fn record(i: u64, n: u64) -> ([u8; 85], Value, TxId, Key) {
    let h = blake3::hash(&i.to_le_bytes());
    let b = h.as_bytes();
    let step = u64::MAX / n.max(1);
    let mut intx = [0u8; 32];
    intx[..8].copy_from_slice(&(i * step).to_be_bytes());
    intx[8..].copy_from_slice(&b[..24]);
    let intx = TxId::from(intx);
    let key = Key::storage(
        Address::from_slice(&b[12..32]),
        U256::from_le_slice(&b[..16]),
    );
    let value = Value::Storage(U256::from(i + 1));
    (VersionId::new(intx, key).to_bytes(), value, intx, key)
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Affine permutation of `0..n`: distinct indices in a scattered order.
struct Perm {
    n: u64,
    a: u64,
    b: u64,
    j: u64,
}

impl Perm {
    fn new(n: u64) -> Perm {
        let gcd = |mut x: u64, mut y: u64| {
            while y != 0 {
                (x, y) = (y, x % y);
            }
            x
        };
        let mut a = 0x9E37_79B9_7F4A_7C15 % n.max(2);
        while gcd(a, n) != 1 {
            a += 1;
        }
        Perm {
            n,
            a,
            b: 12_345 % n.max(1),
            j: 0,
        }
    }
    fn next(&mut self) -> u64 {
        let v = ((self.a as u128 * self.j as u128 + self.b as u128) % self.n as u128) as u64;
        self.j += 1;
        v
    }
}

/// A batch of `txs` two-move transactions. `block_number` is the height the batch will be
/// applied at, so its context is inside the validator's window (PROTOCOL.md §6.3.1).
fn make_batch(
    perm: &mut Perm,
    n: u64,
    txs: usize,
    salt: u64,
    block_number: u64,
) -> (Batch, Vec<TxId>) {
    let picks: Vec<(u64, u64)> = (0..txs).map(|_| (perm.next(), perm.next())).collect();
    let built: Vec<(Transaction, TxId)> = picks
        .par_iter()
        .enumerate()
        .map(|(t, &(i, j))| {
            let mv = |k: u64, seq: u64| {
                let (_, prev, intx, key) = record(k, n);
                Move {
                    mask: Mask::ALL,
                    kind: MoveKind::Consume,
                    mark: Mark::Storage,
                    intx,
                    addr: key.addr,
                    slot: key.slot,
                    prev,
                    // Bit 200 keeps `next` apart from every preloaded value (a consume
                    // must change its value).
                    next: Value::Storage(U256::from(salt ^ seq) | (U256::from(1u64) << 200)),
                }
            };
            let body = TxBody {
                chain_id: 1,
                call: Call {
                    from: Address::ZERO,
                    to: None,
                    value: U256::ZERO,
                    input: vec![],
                    gas_limit: 0,
                    fee: Default::default(),
                    access_list: Vec::new(),
                    blob: None,
                },
                // Header times are pinned to 0 below, so timestamp 0 is in the window.
                context: ExecContext {
                    block_number,
                    timestamp: 0,
                },
                open: false,
                moves: vec![mv(i, 2 * t as u64), mv(j, 2 * t as u64 + 1)],
                created_code: vec![],
            };
            let id = mf_format::tx_id(&body);
            (
                Transaction {
                    eth: None,
                    body,
                    auths: vec![],
                },
                id,
            )
        })
        .collect();
    let (txs, ids) = built.into_iter().unzip();
    (Batch { txs }, ids)
}

fn median(v: &[f64]) -> (f64, f64, f64) {
    let s = stats::Stat::of(v);
    (s.median, s.min, s.max)
}

fn critical_path(a: &CpArgs) -> Result<serde_json::Value> {
    let n = a.entries;
    let need = n * 300 + a.moves * a.runs as u64 * 600;
    if n > 20_000_000 && !a.big {
        bail!(
            "{n} entries need about {:.1} GB of disk and {:.1} GB of memory: pass --big to go on",
            need as f64 / 1e9,
            n as f64 * 60.0 / 1e9
        );
    }
    let used = (a.moves + a.naive_moves) * a.runs as u64;
    if used > n {
        bail!(
            "{used} moves in all but only {n} preloaded versions: every move spends a fresh one; \
             lower --moves/--naive-moves/--runs or raise --entries"
        );
    }
    println!(
        "critical-path: {n} entries, {} moves/run (naive {}), {} txs/batch, {} runs; disk needed ~{:.1} GB",
        a.moves,
        a.naive_moves,
        a.batch_txs,
        a.runs,
        need as f64 / 1e9
    );
    let tmp;
    let root = match &a.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let ours_dir = root.join("ours");
    let naive_dir = root.join("naive");
    let genesis = Genesis {
        chain_id: 1,
        rules: Default::default(),
        ..Genesis::default()
    };
    let v = Validator::init(&ours_dir, &genesis).context("init ours")?;
    let naive = Naive::open(&naive_dir).context("open naive")?;

    // Preload both, in chunks.
    let t = Instant::now();
    const CHUNK: u64 = 1 << 20;
    let mut i = 0;
    while i < n {
        let end = (i + CHUNK).min(n);
        let recs: Vec<([u8; VersionId::ENCODED_LEN], Vec<u8>)> = (i..end)
            .into_par_iter()
            .map(|k| {
                let (vk, value, _, _) = record(k, n);
                let mut buf = [0u8; Value::MAX_ENCODED_LEN];
                (vk, value.encode_fixed(&mut buf).to_vec())
            })
            .collect();
        let ours: Vec<(u64, Vec<u8>)> = recs
            .par_iter()
            .enumerate()
            .map(|(j, (vk, val))| {
                let mut rec = vk.to_vec();
                rec.extend_from_slice(val);
                (i + j as u64, rec)
            })
            .collect();
        v.store().append_genesis(&ours)?;
        naive.preload_sorted(&recs)?;
        i = end;
    }
    let preload_s = t.elapsed().as_secs_f64();
    drop(v);
    let t = Instant::now();
    let mut v = Validator::open(&ours_dir).context("reopen ours")?;
    // Every header at time 0, every transaction at timestamp 0: the context window
    // (PROTOCOL.md §6.3.1) holds whatever the clock says while the batches are built.
    v.set_clock(|| 0);
    let rebuild_s = t.elapsed().as_secs_f64();
    println!(
        "preloaded {n} versions into both in {preload_s:.1}s; index rebuilt in {rebuild_s:.1}s ({} entries, RSS {:.2} GB)",
        v.index_len(),
        rss_bytes() as f64 / 1e9
    );

    let mut perm = Perm::new(n);
    let mut ours_cp = Vec::new();
    let mut ours_apply = Vec::new();
    let mut ours_prep = Vec::new();
    let mut naive_rate = Vec::new();
    let mut ours_wall = Vec::new();
    let mut fast = true;
    for run in 0..a.runs {
        let batches = (a.moves as usize / 2).div_ceil(a.batch_txs);
        // Every batch is accepted whole (strict mode), so batch b lands at head + 1 + b.
        let base = v.head().height + 1;
        let work: Vec<(Batch, Vec<TxId>)> = (0..batches)
            .map(|b| {
                let salt = (run * 1000 + b) as u64;
                make_batch(&mut perm, n, a.batch_txs, salt, base + b as u64)
            })
            .collect();
        let (mut cp_s, mut apply_s, mut prep_s, mut moves) = (0.0, 0.0, 0.0, 0u64);
        let (mut build_s, mut lmdb_s) = (0.0, 0.0);
        let mut pending: Option<mf_validator::Pending> = None;
        let mut finish = |p: mf_validator::Pending| -> Result<()> {
            let out = p.wait().map_err(|e| anyhow::anyhow!("{e}"))?;
            apply_s += out.timings.apply;
            build_s += out.timings.commit - out.timings.lmdb;
            lmdb_s += out.timings.lmdb;
            fast &= out.fast_path;
            moves += out.moves as u64;
            Ok(())
        };
        let wall = Instant::now();
        for (batch, ids) in &work {
            let t = Instant::now();
            let prepared: Vec<Prepared> = batch
                .txs
                .par_iter()
                .zip(ids.par_iter())
                .map(|(tx, id)| prepare_ops(tx, *id, Reexecuted::default()))
                .collect();
            prep_s += t.elapsed().as_secs_f64();
            // Pipelined: batch k is checked while batch k-1 is written.
            let t = Instant::now();
            let p = v
                .submit_prepared(batch, &prepared, Mode::Strict, 0.0)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if let Some(prev) = pending.replace(p) {
                finish(prev)?;
            }
            cp_s += t.elapsed().as_secs_f64();
        }
        let t = Instant::now();
        if let Some(prev) = pending.take() {
            finish(prev)?;
        }
        cp_s += t.elapsed().as_secs_f64();
        let wall_s = wall.elapsed().as_secs_f64();
        drop(work);
        let naive_batch = a.batch_txs.min((a.naive_moves as usize / 2).max(1));
        let nb = (a.naive_moves as usize / 2).div_ceil(naive_batch);
        let (mut naive_s, mut naive_moves) = (0.0, 0u64);
        for b in 0..nb {
            let (batch, ids) =
                make_batch(&mut perm, n, naive_batch, (run * 1000 + 500 + b) as u64, 0);
            let pairs: Vec<(TxId, &Transaction)> = ids.iter().copied().zip(&batch.txs).collect();
            let t = Instant::now();
            naive_moves += naive.apply(&pairs)? as u64;
            naive_s += t.elapsed().as_secs_f64();
        }
        ours_wall.push(moves as f64 / wall_s);
        let r = (
            moves as f64 / cp_s,
            moves as f64 / apply_s,
            moves as f64 / prep_s,
            naive_moves as f64 / naive_s,
        );
        println!(
            "run {run}: ours {:.0} moves/s (index {:.0}/s, commit incl.), prep {:.0}/s, naive {:.0} moves/s, ratio {:.1}x",
            r.0,
            r.1,
            r.2,
            r.3,
            r.0 / r.3
        );
        println!(
            "       seconds: index {apply_s:.3}, records+hashes {build_s:.3}, lmdb {lmdb_s:.3} (overlapped), critical path {cp_s:.3}, with prep {wall_s:.3}"
        );
        ours_cp.push(r.0);
        ours_apply.push(r.1);
        ours_prep.push(r.2);
        naive_rate.push(r.3);
    }
    let (cp, cp_min, cp_max) = median(&ours_cp);
    let (ap, ap_min, ap_max) = median(&ours_apply);
    let (pp, pp_min, pp_max) = median(&ours_prep);
    let (nv, nv_min, nv_max) = median(&naive_rate);
    let (wl, wl_min, wl_max) = median(&ours_wall);
    let ours_disk = v.store().disk_bytes();
    let naive_disk = dir_bytes(&naive_dir);
    println!(
        "--- critical path, {n} entries, median of {} runs ---",
        a.runs
    );
    println!(
        "ours  critical path, pipelined (index + records + LMDB commit): {cp:.0} moves/s  [min {cp_min:.0}, max {cp_max:.0}]"
    );
    println!(
        "      end to end incl. stateless prep (fp + LtHash): {wl:.0} moves/s  [min {wl_min:.0}, max {wl_max:.0}]"
    );
    println!(
        "      index apply alone:           {ap:.0} moves/s  [min {ap_min:.0}, max {ap_max:.0}]  parallel fast path: {fast}"
    );
    println!(
        "      stateless prep (fp + LtHash): {pp:.0} moves/s  [min {pp_min:.0}, max {pp_max:.0}]"
    );
    println!(
        "naive (get+cmp+del+put per move):  {nv:.0} moves/s  [min {nv_min:.0}, max {nv_max:.0}]"
    );
    println!("ratio ours / naive: {:.1}x", cp / nv);
    println!(
        "disk: ours {:.2} GB, naive {:.2} GB; RSS {:.2} GB",
        ours_disk as f64 / 1e9,
        naive_disk as f64 / 1e9,
        rss_bytes() as f64 / 1e9
    );
    let j = serde_json::json!({
        "entries": n, "runs": a.runs, "moves_per_run": a.moves, "batch_txs": a.batch_txs,
        "ours_moves_per_s": {"median": cp, "min": cp_min, "max": cp_max},
        "ours_with_prep_moves_per_s": {"median": wl, "min": wl_min, "max": wl_max},
        "ours_index_moves_per_s": {"median": ap, "min": ap_min, "max": ap_max},
        "prep_moves_per_s": {"median": pp, "min": pp_min, "max": pp_max},
        "naive_moves_per_s": {"median": nv, "min": nv_min, "max": nv_max},
        "ratio": cp / nv, "ours_disk_bytes": ours_disk, "naive_disk_bytes": naive_disk,
        "rss_bytes": rss_bytes(), "preload_s": preload_s, "rebuild_s": rebuild_s,
        "threads": rayon::current_num_threads(),
    });
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_string_pretty(&j)?)?;
    }
    Ok(j)
}

fn dir_bytes(d: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(d)
        .map(|it| {
            it.filter_map(|e| e.ok())
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.blocks() * 512)
                .sum()
        })
        .unwrap_or(0)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::CriticalPath(a) => critical_path(&a).map(|_| ()),
        Cmd::Report(a) => report::run(&a).map(|_| ()),
        Cmd::Replicated(a) => replicated::run(&a).map(|_| ()),
    }
}
