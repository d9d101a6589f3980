//! Two real coordinator processes and one real validator trading on the same hot pool.
//!
//! Each coordinator fills its wallets' swaps against its own index, so whenever both put a
//! swap on the pool into batches at the same time, the second batch to reach the validator
//! consumes pool versions that the first one already spent: the validator rejects that
//! transaction for double use, and its coordinator catches up from the feed, re-fills the
//! intent (the pool fields are masked) and resubmits it. The test checks that
//!
//! - both coordinators make progress and at least one race was lost and re-filled;
//! - every intent ends accepted or rejected with a reason;
//! - the accepted transactions, replayed in chain order by plain execution from the genesis,
//!   reproduce every declared value, and the pool they imply is the pool both coordinators
//!   and the validator hold at the end.

use crate::util::*;
use alloy_primitives::{B256, U256};
use mf_devkit::devnet::{DevnetWorld, Op, build_intent};
use mf_devkit::units;
use mf_format::{Key, MoveKind, TxId, tx_id};
use mf_movegen::remote::{RemoteView, RpcClient};
use mf_movegen::rpc::{IntentState, IntentStatus};
use mf_movegen::{MemoryView, StateView, execute_under};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Barrier};
use std::time::Duration;

const ROUNDS: usize = 6;
const WALLETS_PER_COORDINATOR: usize = 6;

/// One coordinator's wallets: in each round every wallet submits one swap on the hot pool
/// (all coordinators start the round together), then waits for the verdicts.
pub(crate) fn trade(
    world: Arc<DevnetWorld>,
    client: RpcClient,
    wallets: Vec<usize>,
    barrier: Arc<Barrier>,
) -> Vec<IntentStatus> {
    let view = RemoteView::new(client.clone());
    let mut out = Vec::new();
    for round in 0..ROUNDS {
        let height = client.block_number().expect("height");
        let ctx = next_block(height);
        let txs: Vec<_> = wallets
            .iter()
            .map(|&w| {
                let op = Op::Swap {
                    pool: 0,
                    sell_hub: (w + round) % 2 == 0,
                    tight: false,
                };
                build_intent(
                    &world,
                    &view,
                    &world.wallets[w],
                    op,
                    world.merchants[0],
                    units(1 + (w as u64 * 7 + round as u64) % 40),
                    ctx,
                    true,
                )
                .expect("build a swap")
            })
            .collect();
        barrier.wait();
        let ids: Vec<TxId> = txs
            .iter()
            .map(|tx| client.submit(tx).expect("submit"))
            .collect();
        for id in ids {
            let st = client.wait(&id, Duration::from_secs(60)).expect("wait");
            assert!(st.status.is_final(), "intent {id} not final: {st:?}");
            out.push(st);
        }
    }
    out
}

fn storage_at(client: &RpcClient, addr: alloy_primitives::Address, slot: U256) -> U256 {
    let v = client
        .call_raw(
            "eth_getStorageAt",
            json!([addr, B256::from(slot), "latest"]),
        )
        .expect("eth_getStorageAt");
    let b: B256 = serde_json::from_value(v).expect("a word");
    U256::from_be_bytes(b.0)
}

#[test]
fn two_coordinators_race_on_one_hot_pool() {
    let world = Arc::new(DevnetWorld::new(2 * WALLETS_PER_COORDINATOR, 1, 0).expect("world"));
    let net = Net::start((*world).clone());
    // Short batch windows so both coordinators have batches in flight at the same time.
    let (_a, ca) = net.coordinator(
        "coordinator-a",
        &["--batch-ms", "15", "--max-attempts", "8"],
    );
    let (_b, cb) = net.coordinator(
        "coordinator-b",
        &["--batch-ms", "15", "--max-attempts", "8"],
    );

    let barrier = Arc::new(Barrier::new(2));
    let ta = {
        let (w, c, b) = (Arc::clone(&world), ca.clone(), Arc::clone(&barrier));
        std::thread::spawn(move || trade(w, c, (0..WALLETS_PER_COORDINATOR).collect(), b))
    };
    let tb = {
        let (w, c, b) = (Arc::clone(&world), cb.clone(), Arc::clone(&barrier));
        std::thread::spawn(move || {
            trade(
                w,
                c,
                (WALLETS_PER_COORDINATOR..2 * WALLETS_PER_COORDINATOR).collect(),
                b,
            )
        })
    };
    let sa = ta.join().expect("coordinator a's wallets");
    let sb = tb.join().expect("coordinator b's wallets");

    // Every intent is final; a rejection names its reason.
    let accepted = |s: &[IntentStatus]| {
        s.iter()
            .filter(|st| st.status == IntentState::Accepted)
            .count()
    };
    for st in sa.iter().chain(&sb) {
        if st.status == IntentState::Rejected {
            assert!(st.reason.is_some(), "a rejection without a reason: {st:?}");
        }
    }
    assert!(accepted(&sa) > 0, "coordinator a made no progress: {sa:?}");
    assert!(accepted(&sb) > 0, "coordinator b made no progress: {sb:?}");

    // Races happened and were re-filled.
    let refills: u64 = [&ca, &cb]
        .iter()
        .map(|c| {
            metric(
                &get_text(&format!("{}/metrics", c.url())),
                "mf_coordinator_refills_total",
            )
        })
        .sum();
    let refilled = sa.iter().chain(&sb).filter(|s| s.attempts > 1).count();
    eprintln!(
        "accepted a {} b {} of {}; {refills} refills, {refilled} intents filled more than once",
        accepted(&sa),
        accepted(&sb),
        sa.len() + sb.len()
    );
    assert!(
        refills > 0 && refilled > 0,
        "no race was lost (refills {refills}); the test no longer exercises conflicts"
    );

    // The chain holds exactly the accepted fills.
    let (_, chain) = chain(&net.vurl);
    let in_chain: BTreeSet<TxId> = chain.iter().map(|t| tx_id(&t.body)).collect();
    let claimed: BTreeSet<TxId> = sa
        .iter()
        .chain(&sb)
        .filter(|s| s.status == IntentState::Accepted)
        .map(|s| s.tx_id.expect("an accepted intent names its transaction"))
        .collect();
    assert_eq!(claimed.len(), accepted(&sa) + accepted(&sb));
    assert_eq!(
        in_chain, claimed,
        "the chain and the coordinators disagree on what was accepted"
    );

    // Replay in chain order from the genesis: every declared move is what execution gives.
    let mut view: MemoryView = world.view.clone();
    for tx in &chain {
        let exec = execute_under(
            &view,
            tx.body.chain_id,
            &mf_devkit::devnet::rules(),
            &tx.body.call,
            &tx.body.context,
            false,
        )
        .expect("an accepted swap executes in chain order");
        let got: BTreeMap<Key, _> = exec
            .moves
            .iter()
            .filter(|m| m.kind == MoveKind::Consume)
            .map(|m| (m.key(), m.next))
            .collect();
        let declared: BTreeMap<Key, _> = tx
            .body
            .moves
            .iter()
            .filter(|m| m.kind == MoveKind::Consume)
            .map(|m| (m.key(), m.next))
            .collect();
        assert_eq!(got, declared, "declared writes differ from execution");
        view.apply(&tx.body)
            .expect("every move names the live version in chain order");
    }

    // The implied pool is everyone's pool.
    let (pair, token) = world.pools[0];
    let slots = [
        (pair, U256::from(2u64)),
        (pair, U256::from(3u64)),
        (world.hub, mf_devkit::slots::token::balance(pair)),
        (token, mf_devkit::slots::token::balance(pair)),
    ];
    for (addr, slot) in slots {
        let want = view.storage(addr, slot);
        for c in [&ca, &cb] {
            // The followers may still be a batch behind the validator.
            let mut got = storage_at(c, addr, slot);
            for _ in 0..100 {
                if got == want {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
                got = storage_at(c, addr, slot);
            }
            assert_eq!(got, want, "{} holds another pool", c.url());
        }
        let (intx, _) = view
            .version(&Key::storage(addr, slot))
            .expect("infallible")
            .expect("the pool was written");
        let v: serde_json::Value = serde_json::from_str(&get_text(&format!(
            "{}/version/{intx}/s/{addr}/{}",
            net.vurl,
            B256::from(slot)
        )))
        .expect("version json");
        assert_eq!(
            v["state"], "live",
            "the validator's pool version is not live: {v}"
        );
        let live: U256 = v["value"]
            .as_str()
            .and_then(|h| U256::from_str_radix(h.trim_start_matches("0x"), 16).ok())
            .expect("a hex word");
        assert_eq!(live, want, "the validator holds another pool");
    }
}
