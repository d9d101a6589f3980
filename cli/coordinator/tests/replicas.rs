//! Coordinators in front of replica validators (docs/REPLICATION.md): real `nats-server`,
//! real `mf-validator serve --order` replicas, real `mf-coordinator serve --validator
//! URL,URL,URL` processes.
//!
//! - Under load from wallets, the replica the coordinator uses is killed with SIGKILL and
//!   restarted, then a random one: the coordinator fails over to the next replica (batches and feed), every
//!   acknowledged intent ends final, every accepted intent is in the chain once at the height
//!   its status names, the replicas (and one started late) agree on every header, and
//!   `check` and `verify-chain` pass on each.
//! - The same on a 3-node NATS cluster, where a random NATS node is killed with SIGKILL
//!   mid-load and restarted too.
//! - Two coordinators, each in front of a different replica, race on one hot pool through
//!   the stream: the replicas agree, and the chain holds exactly the accepted swaps, once.
//!
//! Without `nats-server` on the PATH the tests print a SKIPPED line and pass, unless
//! `MF_REQUIRE_NATS` is set (then they fail).

use crate::util::replicas::{ReplicaSet, nats_server_or_skip};
use crate::util::*;
use mf_devkit::devnet::{DevnetWorld, Op, build_intent};
use mf_devkit::process::start_coordinator;
use mf_devkit::units;
use mf_format::{ExecContext, TxId, tx_id};
use mf_movegen::remote::{RemoteError, RemoteView, RpcClient};
use mf_movegen::rpc::{IntentState, IntentStatus, codes};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Wallet threads.
const THREADS: usize = 4;
/// Wallets per thread, each with at most one intent in flight.
const WALLETS_PER_THREAD: usize = 6;
/// How long the wallets send.
const RUN: Duration = Duration::from_secs(14);
/// How long acknowledged intents may take to become final after that.
const DRAIN: Duration = Duration::from_secs(40);

/// What one wallet thread saw: the final statuses of its acknowledged intents, those that
/// never became final, and unexpected errors.
#[derive(Default)]
struct Seen {
    finals: Vec<IntentStatus>,
    unfinished: Vec<TxId>,
    errors: Vec<String>,
}

/// One wallet thread: payments, token payments and swaps on the hot pool, one intent in
/// flight per wallet, for `RUN`; then it waits up to `DRAIN` for what is in flight.
fn wallets(world: Arc<DevnetWorld>, client: RpcClient, t: usize, start: Instant) -> Seen {
    let view = RemoteView::new(client.clone());
    let mine: Vec<usize> = (t..world.wallets.len()).step_by(THREADS).collect();
    let mut rng = SplitMix64(0x5e91 ^ (t as u64) << 32);
    let mut inflight: BTreeMap<usize, TxId> = BTreeMap::new();
    let mut seen = Seen::default();
    loop {
        let sending = start.elapsed() < RUN;
        if !sending && (inflight.is_empty() || start.elapsed() > RUN + DRAIN) {
            break;
        }
        if sending {
            let height = match client.block_number() {
                Ok(h) => h,
                Err(e) => {
                    seen.errors.push(format!("eth_blockNumber: {e}"));
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            for &w in &mine {
                if inflight.contains_key(&w) {
                    continue;
                }
                let op = match rng.next_u64() % 3 {
                    0 => Op::Pay,
                    1 => Op::PayToken,
                    _ => Op::Swap {
                        pool: 0,
                        sell_hub: rng.next_u64().is_multiple_of(2),
                        tight: false,
                    },
                };
                let merchant =
                    world.merchants[(rng.next_u64() % world.merchants.len() as u64) as usize];
                let ctx = ExecContext {
                    block_number: height + 1,
                    timestamp: std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs()),
                };
                let amount = units(1 + rng.next_u64() % 20);
                let Ok(tx) = build_intent(
                    &world,
                    &view,
                    &world.wallets[w],
                    op,
                    merchant,
                    amount,
                    ctx,
                    true,
                ) else {
                    continue;
                };
                match client.submit(&tx) {
                    Ok(id) => {
                        inflight.insert(w, id);
                    }
                    Err(RemoteError::Rpc { code, .. }) if code == codes::LIMIT_EXCEEDED => {}
                    Err(e) => seen.errors.push(format!("mf_sendIntent: {e}")),
                }
            }
        }
        if inflight.is_empty() {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let ids: Vec<(usize, TxId)> = inflight.iter().map(|(w, id)| (*w, *id)).collect();
        let wait_for: Vec<TxId> = ids.iter().map(|(_, id)| *id).collect();
        match client.wait_any(&wait_for, Duration::from_millis(200)) {
            Ok(answers) => {
                for ((w, id), st) in ids.iter().zip(answers) {
                    match st {
                        None => {
                            seen.errors
                                .push(format!("acknowledged intent {id} is unknown"));
                            inflight.remove(w);
                        }
                        Some(st) if st.status.is_final() => {
                            inflight.remove(w);
                            seen.finals.push(st);
                        }
                        Some(_) => {}
                    }
                }
            }
            Err(e) => seen.errors.push(format!("mf_waitIntents: {e}")),
        }
    }
    seen.unfinished = inflight.into_values().collect();
    seen
}

/// The transactions of the chain at heights `1..=height` of the replica at `url`, each
/// with its height.
fn chain_by_height(url: &str, height: u64) -> Vec<(u64, TxId)> {
    let client = mf_api::Client::new(url);
    let mut out = Vec::new();
    for h in 1..=height {
        let bytes = client.batch_bytes(h).expect("GET /batch").expect("a batch");
        let batch = mf_format::decode_batch(&bytes).expect("a stored batch decodes");
        out.extend(
            batch
                .txs
                .iter()
                .filter(|t| !mf_format::is_fee_credit(t))
                .map(|t| (h, tx_id(&t.body))),
        );
    }
    out
}

/// Checks that the accepted intents of `finals` are in the chain once each, at the height
/// their status names, and that the chain holds nothing else.
fn accepted_are_in_chain(finals: &[IntentStatus], chain: &[(u64, TxId)]) {
    let mut at: BTreeMap<TxId, u64> = BTreeMap::new();
    for (h, id) in chain {
        assert!(
            at.insert(*id, *h).is_none(),
            "transaction {id} is in the chain twice"
        );
    }
    let mut claimed = BTreeSet::new();
    for st in finals.iter().filter(|s| s.status == IntentState::Accepted) {
        let id = st.tx_id.expect("an accepted intent names its transaction");
        let height = st
            .height
            .expect("an accepted intent names its height")
            .to::<u64>();
        assert_eq!(
            at.get(&id),
            Some(&height),
            "accepted intent {} ({id}) is not in the chain at height {height}",
            st.intent
        );
        claimed.insert(id);
    }
    let in_chain: BTreeSet<TxId> = at.into_keys().collect();
    assert_eq!(
        in_chain, claimed,
        "the chain holds transactions no client was told were accepted"
    );
}

#[test]
fn coordinator_fails_over_when_its_replica_is_killed() {
    let Some(nats) = nats_server_or_skip("coordinator_fails_over_when_its_replica_is_killed")
    else {
        return;
    };
    fail_over_under_load(&nats, 1);
}

/// The same on a 3-node NATS cluster (the stream with 3 copies), where one NATS node, chosen
/// at random, is also killed with SIGKILL mid-load and restarted.
#[test]
fn coordinator_and_replicas_survive_a_nats_node_killed_in_a_cluster() {
    let Some(nats) =
        nats_server_or_skip("coordinator_and_replicas_survive_a_nats_node_killed_in_a_cluster")
    else {
        return;
    };
    fail_over_under_load(&nats, 3);
}

/// A coordinator in front of 3 replicas on `nats_nodes` NATS servers, under load from
/// wallets; mid-load (with a cluster) a random NATS node is killed with SIGKILL and
/// restarted, then the replica the coordinator uses, then a replica chosen at random. At the end: every acknowledged intent
/// final, none refused as a whole, every accepted one in the chain once at its height, the
/// replicas (and one started late on a fresh directory) agreeing on every header, `check`
/// and `verify-chain` passing on each.
fn fail_over_under_load(nats: &std::path::Path, nats_nodes: usize) {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut rng = SplitMix64(seed);
    eprintln!("seed {seed}");
    let world = Arc::new(DevnetWorld::new(THREADS * WALLETS_PER_THREAD, 4, 0).expect("world"));
    let mut set = ReplicaSet::start_with(nats, &world, 3, nats_nodes);
    let (_coordinator, url) = start_coordinator(
        &coordinator_bin(),
        set.dir.path(),
        "coordinator",
        &set.urls_from(0),
        &["--batch-ms".into(), "15".into()],
    )
    .expect("coordinator");
    let client = RpcClient::new(&url);
    mf_devkit::process::wait_ready(&client, Duration::from_secs(30)).expect("ready");

    let start = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (w, c) = (Arc::clone(&world), client.clone());
            std::thread::spawn(move || wallets(w, c, t, start))
        })
        .collect();
    if set.nats.len() > 1 {
        // A NATS node, at a random moment of the first third of the run.
        let node = (rng.next_u64() % set.nats.len() as u64) as usize;
        let at = RUN / 6 + Duration::from_millis(rng.next_u64() % 2000);
        std::thread::sleep(at);
        eprintln!("killing NATS node {node} at {at:?}");
        set.nats.kill(node);
        std::thread::sleep(Duration::from_secs(2));
        set.nats.restart(node).expect("the NATS node restarts");
    }
    // Mid-load, the replica the coordinator uses (the first URL) dies with SIGKILL, and is
    // restarted a moment later.
    std::thread::sleep(
        (RUN / 3).saturating_sub(start.elapsed()) + Duration::from_millis(rng.next_u64() % 1000),
    );
    let height_before = mf_api::Client::new(&set.replicas[0].url())
        .head()
        .expect("head")
        .height;
    set.replicas[0].kill();
    std::thread::sleep(Duration::from_secs(2));
    set.replicas[0].start();
    // Then a replica chosen at random, at a random moment of the last third.
    let victim = (rng.next_u64() % set.replicas.len() as u64) as usize;
    std::thread::sleep(
        (RUN * 2 / 3).saturating_sub(start.elapsed())
            + Duration::from_millis(rng.next_u64() % 1000),
    );
    eprintln!("killing replica {victim} at {:?}", start.elapsed());
    set.replicas[victim].kill();
    std::thread::sleep(Duration::from_secs(2));
    set.replicas[victim].start();

    let mut finals = Vec::new();
    for t in threads {
        let seen = t.join().expect("wallet thread");
        assert!(seen.errors.is_empty(), "wallet errors: {:?}", seen.errors);
        assert!(
            seen.unfinished.is_empty(),
            "acknowledged intents never became final: {:?}",
            seen.unfinished
        );
        finals.extend(seen.finals);
    }
    let accepted = finals
        .iter()
        .filter(|s| s.status == IntentState::Accepted)
        .count();
    let after_kill = finals
        .iter()
        .filter(|s| s.height.is_some_and(|h| h.to::<u64>() > height_before))
        .count();
    eprintln!(
        "{} intents final, {accepted} accepted, {after_kill} after height {height_before} \
         (the replica's kill)",
        finals.len()
    );
    assert!(
        accepted > 0 && after_kill > 0,
        "no progress across the kill"
    );
    for st in &finals {
        if st.status == IntentState::Rejected {
            assert_ne!(
                st.reason.as_deref(),
                Some("batch_refused"),
                "a batch was refused as a whole: {st:?}"
            );
        }
    }
    let failovers = metric(
        &get_text(&format!("{url}/metrics")),
        "mf_coordinator_upstream_failovers_total",
    );
    assert!(failovers > 0, "the coordinator did not fail over");
    let log = std::fs::read_to_string(set.dir.path().join("coordinator.log")).expect("log");

    let reposted = log.matches("posting the same bytes").count();
    eprintln!(
        "the coordinator failed over {failovers} times and posted the same bytes again \
         {reposted} times"
    );

    // A replica started now, on a fresh directory, replays the stream and agrees.
    set.add_replica();
    let height = set.wait_agreement(Duration::from_secs(60));
    accepted_are_in_chain(&finals, &chain_by_height(&set.replicas[1].url(), height));
    set.stop_and_verify();
}

#[test]
fn two_coordinators_race_on_one_hot_pool_through_the_stream() {
    let Some(nats) =
        nats_server_or_skip("two_coordinators_race_on_one_hot_pool_through_the_stream")
    else {
        return;
    };
    let per = 6;
    let world = Arc::new(DevnetWorld::new(2 * per, 1, 0).expect("world"));
    let mut set = ReplicaSet::start(&nats, &world, 3);
    let args = ["--batch-ms", "15", "--max-attempts", "8"].map(String::from);
    let mut coordinators = Vec::new();
    for (name, first) in [("coordinator-a", 0), ("coordinator-b", 1)] {
        let (p, url) = start_coordinator(
            &coordinator_bin(),
            set.dir.path(),
            name,
            &set.urls_from(first),
            &args,
        )
        .expect("coordinator");
        let client = RpcClient::new(&url);
        mf_devkit::process::wait_ready(&client, Duration::from_secs(30)).expect("ready");
        coordinators.push((p, client));
    }
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = coordinators
        .iter()
        .enumerate()
        .map(|(i, (_, c))| {
            let (w, c, b) = (Arc::clone(&world), c.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                crate::conflict::trade(w, c, (i * per..(i + 1) * per).collect(), b)
            })
        })
        .collect();
    let mut finals = Vec::new();
    for t in threads {
        let mine = t.join().expect("wallets");
        assert!(
            mine.iter().any(|s| s.status == IntentState::Accepted),
            "a coordinator made no progress: {mine:?}"
        );
        finals.extend(mine);
    }
    for st in &finals {
        if st.status == IntentState::Rejected {
            assert!(st.reason.is_some(), "a rejection without a reason: {st:?}");
        }
    }
    let refilled = finals.iter().filter(|s| s.attempts > 1).count();
    eprintln!(
        "{} swaps, {} accepted, {refilled} filled more than once",
        finals.len(),
        finals
            .iter()
            .filter(|s| s.status == IntentState::Accepted)
            .count()
    );
    assert!(
        refilled > 0,
        "no race was lost; the test no longer exercises conflicts"
    );
    let height = set.wait_agreement(Duration::from_secs(60));
    for r in &set.replicas {
        accepted_are_in_chain(&finals, &chain_by_height(&r.url(), height));
    }
    drop(coordinators);
    set.stop_and_verify();
}
