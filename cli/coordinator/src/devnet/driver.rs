//! The wallet driver: a few threads, each sending its wallets' next intents and long-polling
//! their verdicts, with a shared budget of intents and a progress bar.

use mf_devkit::devnet::{DevnetWorld, Op, build_intent};
use mf_devkit::rng::SplitMix;
use mf_devkit::units;
use mf_format::{ExecContext, TxId};
use mf_movegen::remote::{RemoteView, RpcClient};
use mf_movegen::rpc::IntentState;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
pub(super) struct Tally {
    pub(super) submitted: AtomicU64,
    pub(super) accepted: AtomicU64,
    pub(super) rejected: AtomicU64,
    pub(super) not_built: AtomicU64,
    pub(super) by_reason: Mutex<BTreeMap<String, u64>>,
    pub(super) latencies: Mutex<Vec<f64>>,
}

/// Drives `world`'s wallets through the coordinator at `url` (see the module
/// documentation); returns when `intents` were sent and answered, or `max_time` passed.
#[allow(clippy::too_many_arguments)]
pub(super) fn drive(
    world: &Arc<DevnetWorld>,
    url: &str,
    intents: u64,
    max_time: Duration,
    hot_share: f64,
    threads: usize,
    progress: Option<&indicatif::ProgressBar>,
    done: &Arc<AtomicBool>,
) -> (Tally, f64, u64) {
    let tally = Arc::new(Tally::default());
    let budget = Arc::new(AtomicU64::new(intents));
    let start = Instant::now();
    let threads = threads.clamp(1, world.wallets.len().max(1));
    let mut handles = Vec::new();
    for t in 0..threads {
        let world = Arc::clone(world);
        let tally = Arc::clone(&tally);
        let budget = Arc::clone(&budget);
        let done = Arc::clone(done);
        let url = url.to_string();
        handles.push(std::thread::spawn(move || {
            let client = RpcClient::new(&url);
            let view = RemoteView::new(client.clone());
            let mine: Vec<usize> = (t..world.wallets.len()).step_by(threads).collect();
            let mut rng = SplitMix(0x5eed ^ (t as u64) << 32);
            let mut inflight: BTreeMap<usize, (TxId, Instant)> = BTreeMap::new();
            let mut stop_sending = false;
            let mut stopped_at: Option<Instant> = None;
            loop {
                if !stop_sending && (start.elapsed() > max_time || done.load(Relaxed)) {
                    stop_sending = true;
                }
                if !stop_sending {
                    let height = client.block_number().unwrap_or(0);
                    for &w in &mine {
                        if inflight.contains_key(&w) {
                            continue;
                        }
                        if budget
                            .fetch_update(Relaxed, Relaxed, |b| b.checked_sub(1))
                            .is_err()
                        {
                            stop_sending = true;
                            break;
                        }
                        let op = pick(&mut rng, world.pools.len(), hot_share);
                        let merchant = world.merchants
                            [(rng.next_u64() % world.merchants.len().max(1) as u64) as usize];
                        let amount = units(1 + rng.next_u64() % 50);
                        let ctx = ExecContext {
                            block_number: height + 1,
                            timestamp: std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .map_or(0, |d| d.as_secs()),
                        };
                        let tx = match build_intent(
                            &world,
                            &view,
                            &world.wallets[w],
                            op,
                            merchant,
                            amount,
                            ctx,
                            true,
                        ) {
                            Ok(tx) => tx,
                            Err(e) => {
                                tracing::debug!("wallet {w}: {e}");
                                tally.not_built.fetch_add(1, Relaxed);
                                continue;
                            }
                        };
                        match client.submit(&tx) {
                            Ok(id) => {
                                tally.submitted.fetch_add(1, Relaxed);
                                inflight.insert(w, (id, Instant::now()));
                            }
                            Err(e) => {
                                tracing::warn!("wallet {w}: submit: {e}");
                                budget.fetch_add(1, Relaxed);
                                std::thread::sleep(Duration::from_millis(20));
                            }
                        }
                    }
                }
                if inflight.is_empty() {
                    if stop_sending {
                        break;
                    }
                    continue;
                }
                // One long-poll for every open intent of this thread.
                let ids: Vec<(usize, TxId, Instant)> =
                    inflight.iter().map(|(w, (id, t))| (*w, *id, *t)).collect();
                let wait_for: Vec<TxId> = ids.iter().map(|(_, id, _)| *id).collect();
                let timeout = if stop_sending {
                    Duration::from_millis(500)
                } else {
                    Duration::from_millis(50)
                };
                if let Ok(answers) = client.wait_any(&wait_for, timeout) {
                    for ((w, _, sent), st) in ids.iter().zip(answers) {
                        let Some(st) = st else { continue };
                        if !st.status.is_final() {
                            continue;
                        }
                        inflight.remove(w);
                        if st.status == IntentState::Accepted {
                            tally.accepted.fetch_add(1, Relaxed);
                            if let Ok(mut l) = tally.latencies.lock() {
                                l.push(sent.elapsed().as_secs_f64() * 1e3);
                            }
                        } else {
                            tally.rejected.fetch_add(1, Relaxed);
                            let r = st.reason.unwrap_or_else(|| "unknown".into());
                            if let Ok(mut m) = tally.by_reason.lock() {
                                *m.entry(r).or_default() += 1;
                            }
                        }
                    }
                } else {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let give_up = if done.load(Relaxed) {
                    Duration::from_secs(5)
                } else {
                    Duration::from_secs(60)
                };
                if stop_sending && stopped_at.get_or_insert_with(Instant::now).elapsed() > give_up {
                    break;
                }
            }
            inflight.len() as u64
        }));
    }
    let mut unfinished = 0;
    let mut handles: Vec<Option<std::thread::JoinHandle<u64>>> =
        handles.into_iter().map(Some).collect();
    loop {
        if let Some(pb) = progress {
            let a = tally.accepted.load(Relaxed);
            let r = tally.rejected.load(Relaxed);
            pb.set_position(a + r);
            pb.set_message(format!(
                "accepted {a}, rejected {r}, {:.0} tx/s",
                a as f64 / start.elapsed().as_secs_f64().max(1e-9)
            ));
        }
        if handles
            .iter()
            .all(|h| h.as_ref().is_none_or(|h| h.is_finished()))
        {
            for h in handles.iter_mut() {
                if let Some(h) = h.take() {
                    unfinished += h.join().unwrap_or(0);
                }
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let secs = start.elapsed().as_secs_f64();
    let tally = Arc::try_unwrap(tally).unwrap_or_default();
    (tally, secs, unfinished)
}

fn pick(rng: &mut SplitMix, pools: usize, hot_share: f64) -> Op {
    let x = rng.unit();
    if x < 0.15 {
        Op::Pay
    } else if x < 0.3 {
        Op::PayToken
    } else {
        let pool = if rng.unit() < hot_share || pools <= 1 {
            0
        } else {
            1 + (rng.next_u64() % (pools as u64 - 1)) as usize
        };
        Op::Swap {
            pool,
            sell_hub: rng.next_u64().is_multiple_of(2),
            tight: rng.unit() < 0.1,
        }
    }
}
