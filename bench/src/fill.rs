//! Coordinator fill rate: filling masked swap intents (`mf_movegen::fill_preverified`, the
//! coordinator's core operation: execute, fill the unsigned fields, check the signed ones
//! and the signing digest; signatures were verified once at intake, outside the timing)
//! against raw revm execution of the same swaps in the same run.
//!
//! - **hot pool**: every intent swaps on one pool; they are filled in order, each against
//!   the state the previous fill left (as the coordinator's overlay does). The baseline
//!   executes the same calls in order on one revm `CacheDB` and commits each.
//! - **independent pools**: every intent on its own pool, filled in parallel on 1 and 2
//!   threads.

use crate::stats::Stat;
use crate::workload::{Workload, intents};
use anyhow::{Context, Result, bail};
use mf_format::Transaction;
use mf_movegen::exec::{block_env, new_evm, tx_env};
use mf_movegen::fill_preverified;
use rayon::prelude::*;
use revm::ExecuteCommitEvm;
use serde_json::{Value as Json, json};
use std::time::Instant;

fn fill_in_order(world: &Workload, txs: &[Transaction]) -> Result<f64> {
    let mut view = world.view.clone();
    let t = Instant::now();
    for tx in txs {
        let filled = fill_preverified(tx, &view).context("fill")?;
        view.apply(&filled.tx.body)?;
    }
    Ok(txs.len() as f64 / t.elapsed().as_secs_f64())
}

fn raw_revm(world: &Workload, txs: &[Transaction]) -> Result<f64> {
    let db = world.view.to_cache_db()?;
    let chain = txs.first().map_or(0, |t| t.body.chain_id);
    let mut evm = new_evm(db, chain);
    let t = Instant::now();
    for tx in txs {
        evm.ctx.block = block_env(&tx.body.context, &mf_format::ChainRules::default());
        let r = evm
            .transact_commit(tx_env(&tx.body.call, chain))
            .map_err(|e| anyhow::anyhow!("raw revm: {e:?}"))?;
        if !r.is_success() {
            bail!("raw revm: a swap failed: {r:?}");
        }
    }
    Ok(txs.len() as f64 / t.elapsed().as_secs_f64())
}

fn fill_parallel(world: &Workload, txs: &[Transaction], threads: usize) -> Result<f64> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let t = Instant::now();
    let ok = pool.install(|| {
        txs.par_iter()
            .map(|tx| fill_preverified(tx, &world.view).is_ok())
            .filter(|ok| *ok)
            .count()
    });
    let s = t.elapsed().as_secs_f64();
    if ok != txs.len() {
        bail!(
            "{} of {} independent fills failed",
            txs.len() - ok,
            txs.len()
        );
    }
    Ok(txs.len() as f64 / s)
}

/// Runs the section with `n` intents per case.
pub fn run(n: usize, runs: usize) -> Result<Json> {
    let world = Workload::new(n, n)?;
    let hot = intents(&world, false, n)?;
    let cold = intents(&world, true, n)?;
    let (mut f, mut r, mut p1, mut p2) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs.max(1) {
        f.push(fill_in_order(&world, &hot)?);
        r.push(raw_revm(&world, &hot)?);
        p1.push(fill_parallel(&world, &cold, 1)?);
        p2.push(fill_parallel(&world, &cold, 2)?);
    }
    let (f, r, p1, p2) = (Stat::of(&f), Stat::of(&r), Stat::of(&p1), Stat::of(&p2));
    println!(
        "fill   hot pool {:>8.0} fills/s vs raw revm {:>8.0} swaps/s ({:.0}%); independent pools 1 thread {:>8.0}/s, 2 threads {:>8.0}/s ({:.2}x)",
        f.median,
        r.median,
        100.0 * f.median / r.median,
        p1.median,
        p2.median,
        p2.median / p1.median
    );
    Ok(json!({
        "intents": n,
        "runs": runs,
        "hot_fill_per_s": f,
        "hot_raw_revm_per_s": r,
        "hot_fill_vs_raw": f.median / r.median,
        "independent_fill_1_thread_per_s": p1,
        "independent_fill_2_threads_per_s": p2,
        "independent_scaling_2_vs_1": p2.median / p1.median,
    }))
}
