//! Re-execution rate ([`ReexecCheck`], what a validator runs per transaction) of plain
//! transfers, ERC20 transfers and AMM swaps, on one thread and on two threads with rayon.
//!
//! Run: `cargo bench -p mf-movegen --bench reexec -- --warm-up-time 1 --measurement-time 3`.
//! Throughput is in transactions per second (criterion's `elem/s`).

#[path = "../tests/util/mod.rs"]
mod common;

use common::*;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mf_format::{B256, Transaction, TxId, U256, tx_id};
use mf_movegen::{CodeLookup, MemoryView, Reexec, ReexecCheck, StateView, TxBuilder};
use rayon::prelude::*;
use std::hint::black_box;

/// Transactions per iteration.
const N: usize = 1024;

struct ViewCode<'a>(&'a MemoryView);

impl CodeLookup for ViewCode<'_> {
    fn code(&self, hash: &B256) -> Option<Vec<u8>> {
        self.0.code(hash).ok().flatten().map(|b| b.to_vec())
    }
}

/// `N` independent transactions of each kind, all built on the genesis (re-execution is
/// stateless, so whether they conflict does not matter here).
fn workloads(w: &World) -> Vec<(&'static str, Vec<(Transaction, TxId)>)> {
    let n = w.users.len();
    let build = |f: &dyn Fn(usize) -> TxBuilder| -> Vec<(Transaction, TxId)> {
        (0..n)
            .map(|i| {
                let b = f(i).build(&w.view, &w.users[i], &[]).expect("build");
                (b.tx, b.id)
            })
            .collect()
    };
    vec![
        (
            "transfer",
            build(&|i| {
                TxBuilder::transfer(CHAIN, w.users[(i + 1) % n].address(), U256::from(1u64))
            }),
        ),
        (
            "erc20_transfer",
            build(&|i| {
                TxBuilder::call(
                    CHAIN,
                    w.token_a,
                    transfer_data(w.users[(i + 1) % n].address(), eth(1)),
                )
            }),
        ),
        (
            "amm_swap",
            build(&|_| {
                TxBuilder::call(
                    CHAIN,
                    w.pair,
                    swap_data(w.token_a, eth(1), U256::from(1u64)),
                )
            }),
        ),
    ]
}

fn reexec(c: &mut Criterion) {
    let w = world(N);
    let code = ViewCode(&w.view);
    let loads = workloads(&w);
    for (_, txs) in &loads {
        for (tx, id) in txs {
            assert_eq!(tx_id(&tx.body), *id);
            ReexecCheck::default().reexec(tx, id, &code).expect("valid");
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("pool");
    let mut g = c.benchmark_group("reexec");
    g.throughput(Throughput::Elements(N as u64));
    for (name, txs) in &loads {
        g.bench_with_input(BenchmarkId::new("1_thread", name), txs, |b, txs| {
            b.iter(|| {
                for (tx, id) in txs {
                    black_box(ReexecCheck::default().reexec(tx, id, &code).is_ok());
                }
            })
        });
        g.bench_with_input(BenchmarkId::new("2_threads", name), txs, |b, txs| {
            b.iter(|| {
                pool.install(|| {
                    txs.par_iter().for_each(|(tx, id)| {
                        black_box(ReexecCheck::default().reexec(tx, id, &code).is_ok());
                    })
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, reexec);
criterion_main!(benches);
