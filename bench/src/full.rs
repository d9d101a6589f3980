//! Full validation: signatures, EVM re-execution and the critical path, ours on 1 and 2
//! threads against the sequential Ethereum-way baseline ([`crate::baseline`]) in the same
//! run, on the same signed transactions.

use crate::baseline::EthState;
use crate::stats::Stat;
use crate::workload::{Kind, Workload, build};
use anyhow::{Result, bail};
use mf_format::{Batch, MoveKind, Transaction, TxId};
use mf_movegen::genesis::Genesis;
use mf_validator::{Mode, Validator};
use serde_json::{Value as Json, json};
use std::time::Instant;

/// Options of the full-validation section.
#[derive(Clone, Debug)]
pub struct FullArgs {
    /// Transactions per workload.
    pub txs: usize,
    /// Transactions per batch.
    pub batch: usize,
    /// Runs (median reported).
    pub runs: usize,
}

/// Our validator over a fresh data directory: `(tx/s, moves/s)` of the whole pipeline, with
/// batch `k + 1` checked while batch `k` is written (as `serve` does).
fn ours(
    genesis: &Genesis,
    batches: &[Batch],
    threads: usize,
    dir: &std::path::Path,
) -> Result<(f64, f64)> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let mut v = Validator::init(dir, genesis)?;
    pool.install(|| -> Result<(f64, f64)> {
        let t = Instant::now();
        let (mut txs, mut moves) = (0usize, 0usize);
        let mut pending: Option<mf_validator::Pending> = None;
        let mut finish = |p: mf_validator::Pending| -> Result<()> {
            let out = p.wait()?;
            txs += out.accepted;
            moves += out.moves;
            Ok(())
        };
        for b in batches {
            let p = v.submit_batch(b, Mode::Strict)?;
            if let Some(prev) = pending.replace(p) {
                finish(prev)?;
            }
        }
        if let Some(prev) = pending.take() {
            finish(prev)?;
        }
        let s = t.elapsed().as_secs_f64();
        let want: usize = batches.iter().map(|b| b.txs.len()).sum();
        if txs != want {
            bail!("ours accepted {txs} of {want}: the workload is not valid");
        }
        Ok((txs as f64 / s, moves as f64 / s))
    })
}

/// The sequential baseline over a fresh LMDB state: `(tx/s, state changes/s)`.
fn baseline(
    genesis: &Genesis,
    batches: &[Vec<(Transaction, TxId)>],
    dir: &std::path::Path,
) -> Result<(f64, f64)> {
    let st = EthState::create(dir, genesis)?;
    let t = Instant::now();
    let (mut txs, mut changes) = (0, 0);
    for b in batches {
        let (n, c) = st.apply(b)?;
        txs += n;
        changes += c;
    }
    let s = t.elapsed().as_secs_f64();
    // The baseline must end in the state the declared moves describe: the last write of
    // every key is the `next` of its last consume.
    let mut last = std::collections::BTreeMap::new();
    for (tx, _) in batches.iter().flatten() {
        for m in tx.body.moves.iter().filter(|m| m.kind == MoveKind::Consume) {
            last.insert(m.key(), m.next);
        }
    }
    for (key, want) in last {
        let got = st.value(&key)?;
        if got != want {
            bail!("the baseline ends with {got:?} at {key:?}, the moves declare {want:?}");
        }
    }
    Ok((txs as f64 / s, changes as f64 / s))
}

/// Runs the section: one entry per workload.
pub fn run(a: &FullArgs) -> Result<Json> {
    let mut world = Workload::new(a.txs, a.txs)?;
    let mut out = Vec::new();
    for kind in Kind::ALL {
        let t = Instant::now();
        world.set_fees(false);
        let txs = build(&world, kind, a.txs)?;
        let genesis = world.genesis();
        let build_s = t.elapsed().as_secs_f64();
        // The same transactions with fees (EIP-1559, a base fee burnt, tips credited to the
        // beneficiary once per batch): what fees cost full validation, measured in this run.
        world.set_fees(true);
        let fee_genesis = world.genesis();
        let fee_batches: Vec<Batch> = build(&world, kind, a.txs)?
            .chunks(a.batch.max(1))
            .map(|c| Batch {
                txs: c.iter().map(|(t, _)| t.clone()).collect(),
            })
            .collect();
        let moves: usize = txs.iter().map(|(t, _)| t.body.moves.len()).sum();
        let changes: usize = txs
            .iter()
            .map(|(t, _)| {
                t.body
                    .moves
                    .iter()
                    .filter(|m| m.kind == MoveKind::Consume)
                    .count()
            })
            .sum();
        let chunks: Vec<Vec<(Transaction, TxId)>> =
            txs.chunks(a.batch.max(1)).map(|c| c.to_vec()).collect();
        let batches: Vec<Batch> = chunks
            .iter()
            .map(|c| Batch {
                txs: c.iter().map(|(t, _)| t.clone()).collect(),
            })
            .collect();
        let (mut o1, mut o2, mut base, mut fee2) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut o1m, mut o2m, mut basem) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..a.runs.max(1) {
            let tmp = tempfile::tempdir()?;
            let (tps, mps) = ours(&genesis, &batches, 1, &tmp.path().join("ours1"))?;
            o1.push(tps);
            o1m.push(mps);
            // Without and with fees on 2 threads, their order alternating between runs so
            // that neither always runs on a warmer machine.
            for fees in [run % 2 == 1, run % 2 == 0] {
                if fees {
                    let (tps, _) = ours(&fee_genesis, &fee_batches, 2, &tmp.path().join("fees2"))?;
                    fee2.push(tps);
                } else {
                    let (tps, mps) = ours(&genesis, &batches, 2, &tmp.path().join("ours2"))?;
                    o2.push(tps);
                    o2m.push(mps);
                }
            }
            let (tps, cps) = baseline(&genesis, &chunks, &tmp.path().join("eth"))?;
            base.push(tps);
            basem.push(cps);
        }
        let (s1, s2, sb) = (Stat::of(&o1), Stat::of(&o2), Stat::of(&base));
        let sf = Stat::of(&fee2);
        // How much longer full validation takes with fees: time per transaction with fees
        // over time per transaction without, less one (the target is at most 5%).
        let fee_cost = s2.median / sf.median - 1.0;
        println!(
            "full {:<10} ours 1 thread {:>8.0} tx/s, 2 threads {:>8.0} tx/s; sequential LMDB+revm {:>8.0} tx/s; ratio (2 threads) {:.2}x",
            kind.name(),
            s1.median,
            s2.median,
            sb.median,
            s2.median / sb.median
        );
        println!(
            "full {:<10} with fees, 2 threads {:>8.0} tx/s: {:+.1}% time per transaction",
            kind.name(),
            sf.median,
            100.0 * fee_cost
        );
        out.push(json!({
            "workload": kind.name(),
            "txs": txs.len(),
            "moves_per_tx": moves as f64 / txs.len().max(1) as f64,
            "state_changes_per_tx": changes as f64 / txs.len().max(1) as f64,
            "build_s": build_s,
            "ours_1_thread_tx_per_s": s1,
            "ours_2_threads_tx_per_s": s2,
            "ours_1_thread_moves_per_s": Stat::of(&o1m),
            "ours_2_threads_moves_per_s": Stat::of(&o2m),
            "baseline_tx_per_s": sb,
            "baseline_changes_per_s": Stat::of(&basem),
            "ratio_2_threads_vs_baseline": s2.median / sb.median,
            "ratio_1_thread_vs_baseline": s1.median / sb.median,
            "scaling_2_vs_1": s2.median / s1.median,
            "ours_2_threads_with_fees_tx_per_s": sf,
            "fee_cost_2_threads": fee_cost,
        }));
    }
    let rate = |name: &str| {
        out.iter()
            .find(|e| e["workload"] == name)
            .and_then(|e| e["ours_2_threads_tx_per_s"]["median"].as_f64())
            .unwrap_or(0.0)
    };
    let hot_vs_cold = rate("swap_hot") / rate("swap_cold").max(1e-9);
    println!(
        "contention: hot-pool swaps validate at {hot_vs_cold:.2}x the rate of uncontended swaps"
    );
    Ok(json!({
        "txs_per_workload": a.txs,
        "batch_txs": a.batch,
        "runs": a.runs,
        "workloads": out,
        "hot_vs_cold_swap_rate": hot_vs_cold,
    }))
}
