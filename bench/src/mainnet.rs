//! Real traffic: the blocks of a folder in the `ethereum-mainnet` layout (`mf_import`), each
//! as a chain of its own and one batch of Ethereum-authorised transactions (PROTOCOL.md
//! §5.5), validated in full by the validator (secp256k1 recovery, re-execution of every
//! transaction alone against its declared values, the critical path, the LMDB commit) on 1
//! and 2 threads, against the way an Ethereum client executes the same blocks: sender
//! recovery and a sequential revm replay on one mutable state (`mf_import::replay_block`).
//! Both are timed per block and summed over the blocks; a block's setup (loading, the
//! genesis written to LMDB, the pre-state database) is outside the timing.
//!
//! Bytes: the batches' canonical encoding per state change, raw and zstd-compressed, against
//! what an Ethereum block carries for the same effects: its signed transactions plus an
//! EIP-7928 block access list (every account and slot the block changes, with the new
//! values, and the slots it reads), RLP-encoded with alloy's types.

use crate::stats::Stat;
use alloy_eip7928::{
    AccountChanges, BalanceChange, CodeChange, NonceChange, SlotChanges, StorageChange,
};
use alloy_eips::eip2718::Encodable2718;
use anyhow::{Context, Result};
use mf_format::{Address, Mark, MoveKind, U256, Value};
use mf_import::recover::{Backend, check_sender, recover_address, signature_and_hash};
use mf_import::replay::spec_at;
use mf_import::{BlockChain, Folder, LoadedBlock, block_chain, replay_block};
use mf_validator::{Mode, Validator};
use revm::primitives::hardfork::SpecId;
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// One importable block: what it is, its chain and its batch's bytes.
struct Block {
    loaded: LoadedBlock,
    chain: BlockChain,
    bytes: Vec<u8>,
}

/// Our full validation of every block on `threads`: the time of `apply_bytes` (strict), and
/// its stages summed (decode, stateless, critical path, commit; of the commit, LMDB's).
fn ours(blocks: &[Block], threads: usize) -> Result<(Duration, [f64; 5])> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let tmp = tempfile::tempdir()?;
    let mut total = Duration::ZERO;
    let mut stages = [0f64; 5];
    for (i, b) in blocks.iter().enumerate() {
        let mut v = Validator::init(&tmp.path().join(i.to_string()), &b.chain.genesis)?;
        let ms = b.chain.timestamp.saturating_mul(1000);
        v.set_clock(move || ms);
        let t = Instant::now();
        let out = pool.install(|| v.apply_bytes(&b.bytes, Mode::Strict))?;
        total += t.elapsed();
        let tm = &out.timings;
        for (s, x) in stages
            .iter_mut()
            .zip([tm.decode, tm.stateless, tm.apply, tm.commit, tm.lmdb])
        {
            *s += x;
        }
        anyhow::ensure!(
            out.receipts.iter().all(|r| matches!(
                r.status,
                mf_format::Status::Accepted | mf_format::Status::Failed
            )),
            "block {}: a transaction was refused",
            b.loaded.header.number
        );
    }
    Ok((total, stages))
}

/// The Ethereum way: every sender recovered (libsecp256k1), then the block replayed
/// sequentially with revm on one mutable state.
fn baseline(folder: &Folder, blocks: &[Block]) -> Result<Duration> {
    let mut total = Duration::ZERO;
    for b in blocks {
        let h = &b.loaded.header;
        let homestead = spec_at(h.number, h.timestamp)?.is_enabled_in(SpecId::HOMESTEAD);
        let t = Instant::now();
        for tx in &b.loaded.transactions {
            check_sender(Backend::Secp256k1, tx, homestead)?;
        }
        let r = replay_block(folder, &b.loaded)?;
        total += t.elapsed();
        anyhow::ensure!(
            r.passed(),
            "block {}: the replay misses its header",
            h.number
        );
    }
    Ok(total)
}

/// Sender recoveries per second on one core with `backend`, over every transaction of
/// `blocks` (its signature hash computed beforehand), each checked against the block's
/// `from`; the best of `runs` rounds.
fn recovery_rate(blocks: &[Block], backend: Backend, runs: usize) -> Result<f64> {
    let work: Vec<_> = blocks
        .iter()
        .flat_map(|b| &b.loaded.transactions)
        .map(|t| (signature_and_hash(&t.envelope), t.from))
        .collect();
    let mut best = 0f64;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        for ((sig, hash), from) in &work {
            let got = recover_address(backend, sig, hash)?;
            anyhow::ensure!(
                got == *from,
                "{}: recovered {got}, not {from}",
                backend.name()
            );
        }
        best = best.max(work.len() as f64 / t.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// The EIP-7928 block access list of a batch: per account, its balance, nonce and code
/// after each transaction that changes them and its slots' new values (indices: the
/// transaction's position + 1), and the slots it only reads.
fn block_access_list(chain: &BlockChain) -> Vec<AccountChanges> {
    let mut accounts: BTreeMap<Address, AccountChanges> = BTreeMap::new();
    let mut writes: BTreeMap<(Address, U256), Vec<StorageChange>> = BTreeMap::new();
    let mut reads: BTreeSet<(Address, U256)> = BTreeSet::new();
    for (i, tx) in chain.batch.txs.iter().enumerate() {
        let index = i as u64 + 1;
        for m in &tx.body.moves {
            let entry = accounts
                .entry(m.addr)
                .or_insert_with(|| AccountChanges::new(m.addr));
            match (m.mark, m.kind, m.prev, m.next) {
                (Mark::Account, MoveKind::Consume, Value::Account(p), Value::Account(n)) => {
                    if p.balance != n.balance {
                        entry.balance_changes.push(BalanceChange {
                            block_access_index: alloy_eip7928::BlockAccessIndex(index),
                            post_balance: n.balance,
                        });
                    }
                    if p.nonce != n.nonce {
                        entry.nonce_changes.push(NonceChange {
                            block_access_index: alloy_eip7928::BlockAccessIndex(index),
                            new_nonce: n.nonce,
                        });
                    }
                    if p.code_hash != n.code_hash {
                        let code = tx
                            .body
                            .created_code
                            .iter()
                            .find(|c| alloy_primitives::keccak256(c) == n.code_hash)
                            .cloned()
                            .unwrap_or_default();
                        entry.code_changes.push(CodeChange {
                            block_access_index: alloy_eip7928::BlockAccessIndex(index),
                            new_code: code.into(),
                        });
                    }
                }
                (Mark::Storage, MoveKind::Consume, _, Value::Storage(w)) => {
                    writes
                        .entry((m.addr, m.slot))
                        .or_default()
                        .push(StorageChange {
                            block_access_index: alloy_eip7928::BlockAccessIndex(index),
                            new_value: w,
                        });
                }
                (Mark::Storage, MoveKind::Reference, _, _) => {
                    reads.insert((m.addr, m.slot));
                }
                _ => {}
            }
        }
    }
    for ((addr, slot), changes) in writes {
        if let Some(a) = accounts.get_mut(&addr) {
            a.storage_changes.push(SlotChanges { slot, changes });
        }
    }
    for (addr, slot) in reads {
        if let Some(a) = accounts.get_mut(&addr)
            && !a.storage_changes.iter().any(|c| c.slot == slot)
        {
            a.storage_reads.push(slot);
        }
    }
    accounts.into_values().collect()
}

/// Runs the section on the blocks of `folder` (those the protocol can carry; the first
/// `limit` of them when given).
pub fn run(path: &Path, runs: usize, limit: Option<usize>) -> Result<Json> {
    let folder = Folder::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut blocks = Vec::new();
    let mut left_out = Vec::new();
    for &n in folder.numbers.iter().take(limit.unwrap_or(usize::MAX)) {
        let loaded = folder.load_block(n)?;
        match block_chain(&folder, &loaded) {
            // A block without transactions is no batch: nothing to validate or replay.
            Ok(chain) if chain.batch.txs.is_empty() => {
                left_out.push(json!({ "block": n, "why": "no transactions" }));
            }
            Ok(chain) => {
                let bytes = mf_format::encode(&chain.batch);
                blocks.push(Block {
                    loaded,
                    chain,
                    bytes,
                });
            }
            Err(e) => left_out.push(json!({ "block": n, "why": e.to_string() })),
        }
    }
    let txs: usize = blocks.iter().map(|b| b.chain.batch.txs.len()).sum();
    let (mut o1, mut o2, mut base) = (Vec::new(), Vec::new(), Vec::new());
    let mut stages = [0f64; 5];
    for _ in 0..runs.max(1) {
        o1.push(txs as f64 / ours(&blocks, 1)?.0.as_secs_f64());
        let (t2, st) = ours(&blocks, 2)?;
        o2.push(txs as f64 / t2.as_secs_f64());
        stages = st;
        base.push(txs as f64 / baseline(&folder, &blocks)?.as_secs_f64());
    }
    let (s1, s2, sb) = (Stat::of(&o1), Stat::of(&o2), Stat::of(&base));
    let recovery: Vec<(Backend, f64)> = Backend::ALL
        .into_iter()
        .map(|b| recovery_rate(&blocks, b, runs).map(|r| (b, r)))
        .collect::<Result<_>>()?;
    for (b, r) in &recovery {
        println!("mainnet sender recovery, one core: {} {r:.0}/s", b.name());
    }
    println!(
        "mainnet {} blocks, {txs} txs: ours 1 thread {:>7.0} tx/s, 2 threads {:>7.0} tx/s; \
         recovery + sequential revm {:>7.0} tx/s; ratio (2 threads) {:.2}x",
        blocks.len(),
        s1.median,
        s2.median,
        sb.median,
        s2.median / sb.median
    );
    println!(
        "mainnet ours 2 threads, seconds by stage (last run): decode {:.3}, stateless {:.3}, \
         critical path {:.3}, commit {:.3} (LMDB {:.3})",
        stages[0], stages[1], stages[2], stages[3], stages[4]
    );

    // Bytes per state change.
    let (mut raw, mut zstd, mut eth, mut bal, mut changes) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    for b in &blocks {
        raw += b.bytes.len();
        zstd += zstd::bulk::compress(&b.bytes, 3)?.len();
        eth += b
            .loaded
            .transactions
            .iter()
            .map(|t| t.envelope.encoded_2718().len())
            .sum::<usize>();
        bal += alloy_rlp::encode(block_access_list(&b.chain)).len();
        changes += b
            .chain
            .batch
            .txs
            .iter()
            .flat_map(|t| &t.body.moves)
            .filter(|m| m.kind == MoveKind::Consume)
            .count();
    }
    let per = |n: usize| n as f64 / changes.max(1) as f64;
    println!(
        "mainnet bytes per state change: ours {:.0} raw, {:.0} zstd; Ethereum transactions {:.0} + EIP-7928 access list {:.0} = {:.0}",
        per(raw),
        per(zstd),
        per(eth),
        per(bal),
        per(eth + bal)
    );
    Ok(json!({
        "folder": path.display().to_string(),
        "blocks": blocks.len(),
        "left_out": left_out,
        "txs": txs,
        "state_changes": changes,
        "ours_1_thread_tx_per_s": s1,
        "ours_2_threads_tx_per_s": s2,
        "baseline_tx_per_s": sb,
        "ratio_2_threads_vs_baseline": s2.median / sb.median,
        "ratio_1_thread_vs_baseline": s1.median / sb.median,
        "ours_2_threads_stage_seconds": {
            "decode": stages[0], "stateless": stages[1], "critical_path": stages[2],
            "commit": stages[3], "of_which_lmdb": stages[4],
        },
        "recoveries_per_s_per_core": recovery
            .iter()
            .map(|(b, r)| (b.name().to_string(), json!(r)))
            .collect::<serde_json::Map<_, _>>(),
        "bytes_per_state_change_raw": per(raw),
        "bytes_per_state_change_zstd": per(zstd),
        "eth_tx_bytes_per_state_change": per(eth),
        "eip7928_bytes_per_state_change": per(bal),
        "eth_total_bytes_per_state_change": per(eth + bal),
    }))
}
