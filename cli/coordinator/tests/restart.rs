//! Killing the coordinator with SIGKILL mid-stream loses no intent it acknowledged, and the
//! coordinator rides out a validator restart.
//!
//! Wallets stream payments and hot-pool swaps through a real coordinator; at random moments
//! (while intents are journaled, filled, in a batch on its way to the validator, or
//! accepted but not yet followed) the coordinator is killed and restarted on the same data
//! directory. Afterwards every acknowledged intent is known to the new process and ends
//! accepted or rejected with a reason, an intent once reported accepted stays accepted, and
//! the transactions the coordinator reports accepted are exactly the ones in the validator's
//! chain. Then the validator itself is restarted on the same address: the coordinator
//! reconnects to the feed and goes on accepting intents, and ends on the validator's head.

use crate::util::*;
use mf_devkit::devnet::{DevnetWorld, Op, build_intent};
use mf_devkit::process::{Proc, start_coordinator};
use mf_devkit::units;
use mf_format::{TxId, tx_id};
use mf_movegen::remote::{RemoteView, RpcClient};
use mf_movegen::rpc::{HeadJson, IntentState};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const WALLETS: usize = 8;

/// Builds and submits one intent per wallet not in flight. Returns the acknowledged ids.
fn submit_round(
    world: &DevnetWorld,
    client: &RpcClient,
    round: usize,
    inflight: &mut BTreeMap<usize, TxId>,
) -> Vec<TxId> {
    let view = RemoteView::new(client.clone());
    let Ok(height) = client.block_number() else {
        return Vec::new();
    };
    let ctx = next_block(height);
    let mut acked = Vec::new();
    for w in 0..WALLETS {
        if inflight.contains_key(&w) {
            continue;
        }
        let op = if (w + round).is_multiple_of(3) {
            Op::Swap {
                pool: 0,
                sell_hub: round.is_multiple_of(2),
                tight: false,
            }
        } else {
            Op::PayToken
        };
        let Ok(tx) = build_intent(
            world,
            &view,
            &world.wallets[w],
            op,
            world.merchants[w % world.merchants.len()],
            units(1 + (round as u64 % 9)),
            ctx,
            true,
        ) else {
            // The view lags (e.g. the wallet's last intent is accepted but not yet
            // followed): try again next round.
            continue;
        };
        if let Ok(id) = client.submit(&tx) {
            inflight.insert(w, id);
            acked.push(id);
        }
    }
    acked
}

/// Drops the wallets whose intent is final from `inflight`; records verdicts.
fn poll(
    client: &RpcClient,
    inflight: &mut BTreeMap<usize, TxId>,
    verdicts: &mut BTreeMap<TxId, (IntentState, Option<TxId>)>,
) {
    let ids: Vec<(usize, TxId)> = inflight.iter().map(|(w, id)| (*w, *id)).collect();
    let wanted: Vec<TxId> = ids.iter().map(|(_, id)| *id).collect();
    let Ok(answers) = client.wait_any(&wanted, Duration::from_millis(100)) else {
        return;
    };
    for ((w, id), st) in ids.into_iter().zip(answers) {
        let Some(st) = st else { continue };
        if st.status.is_final() {
            if st.status == IntentState::Rejected {
                assert!(st.reason.is_some(), "a rejection without a reason: {st:?}");
            }
            if let Some((IntentState::Accepted, _)) = verdicts.get(&id) {
                assert_eq!(
                    st.status,
                    IntentState::Accepted,
                    "an accepted intent changed"
                );
            }
            verdicts.insert(id, (st.status, st.tx_id));
            inflight.remove(&w);
        }
    }
}

fn coordinator(net: &Net) -> (Proc, RpcClient) {
    let (p, url) = start_coordinator(
        &coordinator_bin(),
        net.dir.path(),
        "coordinator",
        &net.vurl,
        &["--batch-ms".to_string(), "10".to_string()],
    )
    .expect("coordinator");
    let client = RpcClient::new(&url);
    mf_devkit::process::wait_ready(&client, Duration::from_secs(30)).expect("ready");
    (p, client)
}

#[test]
fn sigkill_loses_no_acknowledged_intent_and_a_validator_restart_is_ridden_out() {
    let world = DevnetWorld::new(WALLETS, 3, 0).expect("world");
    let mut net = Net::start(world.clone());
    let (mut proc, mut client) = coordinator(&net);

    let mut acked: Vec<TxId> = Vec::new();
    let mut inflight: BTreeMap<usize, TxId> = BTreeMap::new();
    let mut verdicts: BTreeMap<TxId, (IntentState, Option<TxId>)> = BTreeMap::new();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut round = 0;
    for _kill in 0..5 {
        // Stream for a random 50-400 ms, then SIGKILL.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let run_for = Duration::from_millis(50 + seed % 350);
        let start = Instant::now();
        while start.elapsed() < run_for {
            acked.extend(submit_round(&world, &client, round, &mut inflight));
            round += 1;
            poll(&client, &mut inflight, &mut verdicts);
        }
        // Some intents are in flight right now.
        acked.extend(submit_round(&world, &client, round, &mut inflight));
        round += 1;
        eprintln!(
            "kill after {run_for:?}: {} acknowledged so far, {} in flight",
            acked.len(),
            inflight.len()
        );
        proc.kill();
        (proc, client) = coordinator(&net);
    }

    // Every acknowledged intent is known after the restarts and ends final.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !inflight.is_empty() && Instant::now() < deadline {
        poll(&client, &mut inflight, &mut verdicts);
    }
    assert!(inflight.is_empty(), "intents never finished: {inflight:?}");
    for id in &acked {
        let st = client
            .intent(id)
            .expect("mf_getIntent")
            .unwrap_or_else(|| panic!("acknowledged intent {id} was lost"));
        assert!(st.status.is_final(), "{st:?}");
        assert_eq!(
            verdicts.get(id).map(|v| v.0),
            Some(st.status),
            "the verdict of {id} changed"
        );
    }
    let accepted: BTreeSet<TxId> = verdicts
        .values()
        .filter(|(s, _)| *s == IntentState::Accepted)
        .map(|(_, t)| t.expect("an accepted intent names its transaction"))
        .collect();
    eprintln!(
        "{} acknowledged, {} accepted across the kills",
        acked.len(),
        accepted.len()
    );
    assert!(accepted.len() >= 10, "too little progress: {verdicts:?}");

    // The validator restarts on the same address; the coordinator follows it again.
    let addr = net.validator_addr();
    net.validator.stop(Duration::from_secs(10));
    let (validator, _) = Proc::start(
        "mf-validator",
        &validator_bin(),
        &[
            "serve".into(),
            "--data".into(),
            net.dir.path().join("validator").display().to_string(),
            "--listen".into(),
            addr,
        ],
        &net.dir.path().join("validator-2.log"),
    )
    .expect("restart the validator");
    net.validator = validator;
    let mut after = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while after < 2 * WALLETS && Instant::now() < deadline {
        let before: BTreeSet<TxId> = verdicts.keys().copied().collect();
        submit_round(&world, &client, round, &mut inflight);
        round += 1;
        poll(&client, &mut inflight, &mut verdicts);
        after += verdicts
            .iter()
            .filter(|(id, v)| !before.contains(*id) && v.0 == IntentState::Accepted)
            .count();
    }
    assert!(
        after >= 2 * WALLETS,
        "the coordinator did not recover from the validator restart ({after} accepted)"
    );
    while !inflight.is_empty() && Instant::now() < deadline {
        poll(&client, &mut inflight, &mut verdicts);
    }

    // The chain holds exactly what the coordinator reported accepted.
    let vhead: serde_json::Value =
        serde_json::from_str(&get_text(&format!("{}/head", net.vurl))).expect("head");
    let (height, txs) = chain(&net.vurl);
    assert_eq!(Some(height), vhead["height"].as_u64(), "the head moved");
    let in_chain: BTreeSet<TxId> = txs.iter().map(|t| tx_id(&t.body)).collect();
    let accepted: BTreeSet<TxId> = verdicts
        .values()
        .filter(|(s, _)| *s == IntentState::Accepted)
        .filter_map(|(_, t)| *t)
        .collect();
    assert_eq!(in_chain, accepted, "accepted intents and the chain differ");

    // And the coordinator's index ends on the validator's head.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let head: HeadJson = client
            .call("mf_getHead", serde_json::json!([]))
            .expect("head");
        let vhash = vhead["hash"].as_str().unwrap_or_default().to_string();
        if head.height.to::<u64>() == height
            && format!("{:x}", head.header_hash).trim_start_matches("0x")
                == vhash.trim_start_matches("0x")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the coordinator's head {head:?} is not the validator's {vhead}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
