//! The coordinator under load: one real validator, one real coordinator with a small
//! `--max-open`, and many concurrent wallet threads hammering `mf_sendIntent` and reads for a
//! bounded time.
//!
//! Checks that
//!
//! - the coordinator survives: still running, `/health` answers `ok`, and its state ends equal
//!   to the validator's;
//! - back-pressure is explicit: some submissions get the JSON-RPC busy error (`-32005`) with a
//!   message that says so, promptly, instead of hanging;
//! - nothing acknowledged is lost: every intent whose submission returned an id ends final,
//!   and none is rejected for a coordinator fault;
//! - memory stays bounded: the coordinator's resident set stays under a generous ceiling,
//!   and its anonymous memory does not keep growing from the middle of the run to its end.
//!
//! The figures (submissions/s, busy answers, latency percentiles, RSS) are printed to stderr
//! (`cargo nextest run ... --no-capture`).

use crate::util::*;
use mf_devkit::devnet::{DevnetWorld, Op, build_intent};
use mf_devkit::units;
use mf_format::{ExecContext, TxId};
use mf_movegen::remote::{RemoteError, RemoteView, RpcClient};
use mf_movegen::rpc::{IntentState, codes};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Client threads.
const THREADS: usize = 32;
/// Wallets per thread: each has at most one intent in flight (its account record chains
/// them), so up to `THREADS * WALLETS_PER_THREAD` intents can be open at once, well above
/// `MAX_OPEN`.
const WALLETS_PER_THREAD: usize = 16;
/// The coordinator's `--max-open`.
const MAX_OPEN: usize = 200;
/// How long the clients send.
const RUN: Duration = Duration::from_secs(16);
/// How long acknowledged intents may take to become final after the clients stop sending.
const DRAIN: Duration = Duration::from_secs(30);
/// The ceiling on the coordinator's resident set. Its index holds a few thousand versions
/// and its journal the intents of one run: tens of MiB. A GiB means something is wrong.
const RSS_CEILING_KB: u64 = 1 << 20;

#[derive(Default)]
struct Tally {
    /// Submissions answered with an intent id.
    acked: u64,
    /// Submissions answered busy (-32005).
    busy: u64,
    /// A busy answer's message (the first seen).
    busy_message: Option<String>,
    /// Latency of `mf_sendIntent` calls, in ms: acknowledged ones, busy ones.
    send_ms: Vec<f64>,
    busy_ms: Vec<f64>,
    /// Submission to final, in ms, for accepted intents.
    final_ms: Vec<f64>,
    accepted: u64,
    rejected: BTreeMap<String, u64>,
    /// Read calls that succeeded (`eth_blockNumber`, `eth_getBalance`, and the
    /// `mf_simulate` / `mf_getVersion` calls of building an intent).
    reads: u64,
    /// Intents the wallet could not build (a local failure: counted, not fatal).
    not_built: u64,
    /// Any other error (transport, unexpected JSON-RPC error): the test fails on them.
    errors: Vec<String>,
    /// Acknowledged intents that never became final.
    unfinished: Vec<TxId>,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        self.acked += o.acked;
        self.busy += o.busy;
        if self.busy_message.is_none() {
            self.busy_message = o.busy_message;
        }
        self.send_ms.extend(o.send_ms);
        self.busy_ms.extend(o.busy_ms);
        self.final_ms.extend(o.final_ms);
        self.accepted += o.accepted;
        for (r, n) in o.rejected {
            *self.rejected.entry(r).or_default() += n;
        }
        self.reads += o.reads;
        self.not_built += o.not_built;
        self.errors.extend(o.errors);
        self.unfinished.extend(o.unfinished);
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `(VmRSS, RssAnon)` in kB, and the process state letter, from `/proc/PID/status`.
fn proc_status(pid: u32) -> Option<(u64, u64, String)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<&str> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let kb = |name: &str| -> Option<u64> { field(name)?.split_whitespace().next()?.parse().ok() };
    let state = field("State")?.split_whitespace().next()?.to_string();
    Some((kb("VmRSS")?, kb("RssAnon")?, state))
}

/// One client thread: its wallets send intents (ETH and token payments, swaps on the hot
/// pool) for `RUN`, each waiting for its previous intent to be final, with reads in between;
/// then it waits up to `DRAIN` for what is still in flight.
fn run_client(world: Arc<DevnetWorld>, url: String, t: usize, start: Instant) -> Tally {
    let client = RpcClient::new(&url);
    let view = RemoteView::new(client.clone());
    let mine: Vec<usize> = (t..world.wallets.len()).step_by(THREADS).collect();
    let mut rng = SplitMix64(0x10ad ^ (t as u64) << 32);
    let mut inflight: BTreeMap<usize, (TxId, Instant)> = BTreeMap::new();
    let mut tally = Tally::default();
    let unexpected = |tally: &mut Tally, what: &str, e: RemoteError| {
        if tally.errors.len() < 20 {
            tally.errors.push(format!("thread {t}: {what}: {e}"));
        }
    };
    loop {
        let sending = start.elapsed() < RUN;
        if !sending && (inflight.is_empty() || start.elapsed() > RUN + DRAIN) {
            break;
        }
        if sending {
            let height = match client.block_number() {
                Ok(h) => {
                    tally.reads += 1;
                    h
                }
                Err(e) => {
                    unexpected(&mut tally, "eth_blockNumber", e);
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            };
            let w = &world.wallets[mine[(rng.next_u64() % mine.len() as u64) as usize]];
            match client.call_raw("eth_getBalance", json!([w.address(), "latest"])) {
                Ok(_) => tally.reads += 1,
                Err(e) => unexpected(&mut tally, "eth_getBalance", e),
            }
            for &w in &mine {
                if inflight.contains_key(&w) || start.elapsed() >= RUN {
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
                    Ok(tx) => {
                        tally.reads += 1;
                        tx
                    }
                    Err(e) => {
                        tally.not_built += 1;
                        if tally.not_built <= 3 {
                            eprintln!("thread {t}: wallet {w}: not built: {e}");
                        }
                        continue;
                    }
                };
                let sent = Instant::now();
                match client.submit(&tx) {
                    Ok(id) => {
                        tally.acked += 1;
                        tally.send_ms.push(ms(sent.elapsed()));
                        inflight.insert(w, (id, sent));
                    }
                    Err(RemoteError::Rpc { code, message, .. })
                        if code == codes::LIMIT_EXCEEDED =>
                    {
                        tally.busy += 1;
                        tally.busy_ms.push(ms(sent.elapsed()));
                        if tally.busy_message.is_none() {
                            tally.busy_message = Some(message);
                        }
                    }
                    Err(e) => unexpected(&mut tally, "mf_sendIntent", e),
                }
            }
        }
        if inflight.is_empty() {
            continue;
        }
        // One long-poll for every open intent of this thread.
        let ids: Vec<(usize, TxId, Instant)> =
            inflight.iter().map(|(w, (id, t))| (*w, *id, *t)).collect();
        let wait_for: Vec<TxId> = ids.iter().map(|(_, id, _)| *id).collect();
        let poll = if sending {
            Duration::from_millis(50)
        } else {
            Duration::from_millis(500)
        };
        match client.wait_any(&wait_for, poll) {
            Ok(answers) => {
                for ((w, id, sent), st) in ids.iter().zip(answers) {
                    let Some(st) = st else {
                        tally
                            .errors
                            .push(format!("thread {t}: acknowledged intent {id} is unknown"));
                        inflight.remove(w);
                        continue;
                    };
                    if !st.status.is_final() {
                        continue;
                    }
                    inflight.remove(w);
                    if st.status == IntentState::Accepted {
                        tally.accepted += 1;
                        tally.final_ms.push(ms(sent.elapsed()));
                    } else {
                        let r = format!(
                            "{} ({})",
                            st.reason.as_deref().unwrap_or("no reason"),
                            st.detail.as_deref().unwrap_or("")
                        );
                        *tally.rejected.entry(r).or_default() += 1;
                    }
                }
            }
            Err(e) => unexpected(&mut tally, "mf_waitIntents", e),
        }
    }
    tally.unfinished = inflight.values().map(|(id, _)| *id).collect();
    tally
}

#[test]
fn concurrent_clients_get_busy_answers_and_nothing_is_lost() {
    let t0 = Instant::now();
    let world = Arc::new(DevnetWorld::new(THREADS * WALLETS_PER_THREAD, 8, 0).expect("world"));
    let net = Net::start((*world).clone());
    let max_open = MAX_OPEN.to_string();
    let (coord, client) = net.coordinator("coordinator", &["--max-open", &max_open]);
    let pid = coord.id();
    let url = client.url().to_string();
    eprintln!("load: validator and coordinator up in {:?}", t0.elapsed());

    // Sample the coordinator's memory while the clients run.
    let done = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let sampler = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut samples: Vec<(f64, u64, u64)> = Vec::new();
            while !done.load(Relaxed) {
                if let Some((rss, anon, _)) = proc_status(pid) {
                    samples.push((start.elapsed().as_secs_f64(), rss, anon));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            samples
        })
    };
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (world, url) = (Arc::clone(&world), url.clone());
            std::thread::spawn(move || run_client(world, url, t, start))
        })
        .collect();
    let mut tally = Tally::default();
    for h in handles {
        tally.merge(h.join().expect("client thread"));
    }
    let elapsed = start.elapsed();
    done.store(true, Relaxed);
    let samples = sampler.join().expect("sampler");

    // Alive and healthy, and at the validator's state.
    let (rss_now, anon_now, state) = proc_status(pid).expect("the coordinator process exists");
    assert!(
        state != "Z" && state != "X",
        "the coordinator died (state {state}); see {}",
        net.dir.path().join("coordinator.log").display()
    );
    let health = get_text(&format!("{url}/health"));
    assert_eq!(health.trim(), "ok", "/health after the load");
    let vhead: serde_json::Value =
        serde_json::from_str(&get_text(&format!("{}/head", net.vurl))).expect("validator head");
    let vheight = vhead["height"].as_u64().expect("height");
    let deadline = Instant::now() + Duration::from_secs(20);
    let chead = loop {
        let h = client.head().expect("mf_getHead");
        if h.height.to::<u64>() >= vheight || Instant::now() > deadline {
            break h;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        chead.height.to::<u64>(),
        vheight,
        "the coordinator caught up"
    );
    assert_eq!(
        vhead["state_hash"].as_str(),
        Some(&format!("{:#x}", chead.state_hash)[..]),
        "the coordinator's state equals the validator's"
    );
    let metrics = get_text(&format!("{url}/metrics"));
    let open_now = metric(&metrics, "mf_coordinator_open_intents");

    // The figures.
    let send = sorted(std::mem::take(&mut tally.send_ms));
    let busy_lat = sorted(std::mem::take(&mut tally.busy_ms));
    let fin = sorted(std::mem::take(&mut tally.final_ms));
    let send_s = RUN.as_secs_f64();
    let rejected: u64 = tally.rejected.values().sum();
    eprintln!(
        "load: {THREADS} threads x {WALLETS_PER_THREAD} wallets, --max-open {MAX_OPEN}, \
         {:.1} s sending, {:.1} s in all",
        send_s,
        elapsed.as_secs_f64()
    );
    eprintln!(
        "  submissions {} ({:.0}/s): acknowledged {} ({:.0}/s), busy {} ({:.0}/s); reads {} ({:.0}/s); not built {}",
        tally.acked + tally.busy,
        (tally.acked + tally.busy) as f64 / send_s,
        tally.acked,
        tally.acked as f64 / send_s,
        tally.busy,
        tally.busy as f64 / send_s,
        tally.reads,
        tally.reads as f64 / send_s,
        tally.not_built
    );
    eprintln!(
        "  mf_sendIntent latency: acknowledged p50 {:.1} ms p99 {:.1} ms max {:.1} ms; busy p50 {:.1} ms p99 {:.1} ms max {:.1} ms",
        quantile(&send, 0.5),
        quantile(&send, 0.99),
        quantile(&send, 1.0),
        quantile(&busy_lat, 0.5),
        quantile(&busy_lat, 0.99),
        quantile(&busy_lat, 1.0)
    );
    eprintln!(
        "  submission to accepted: p50 {:.0} ms p99 {:.0} ms max {:.0} ms; accepted {} ({:.0}/s), rejected {rejected}",
        quantile(&fin, 0.5),
        quantile(&fin, 0.99),
        quantile(&fin, 1.0),
        tally.accepted,
        tally.accepted as f64 / elapsed.as_secs_f64()
    );
    for (r, n) in &tally.rejected {
        eprintln!("    rejected {n} x {r}");
    }
    if let Some(m) = &tally.busy_message {
        eprintln!("  busy message: {m:?}");
    }
    let at = |t: f64| {
        samples
            .iter()
            .rev()
            .find(|s| s.0 <= t)
            .or(samples.first())
            .copied()
            .expect("memory samples")
    };
    let mid = at(RUN.as_secs_f64() / 2.0);
    let end = at(RUN.as_secs_f64());
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(0);
    eprintln!(
        "  coordinator RSS: middle ({:.1} s) {} MiB (anon {} MiB), end of sending ({:.1} s) {} MiB (anon {} MiB), peak {} MiB, after drain {} MiB (anon {} MiB); height {vheight}",
        mid.0,
        mid.1 / 1024,
        mid.2 / 1024,
        end.0,
        end.1 / 1024,
        end.2 / 1024,
        peak / 1024,
        rss_now / 1024,
        anon_now / 1024
    );

    // The verdicts.
    assert!(
        tally.errors.is_empty(),
        "unexpected errors (transport failures, unknown intents, other RPC errors):\n{}",
        tally.errors.join("\n")
    );
    assert!(
        tally.busy > 0,
        "{} clients with up to {} intents in flight never hit --max-open {MAX_OPEN}",
        THREADS,
        THREADS * WALLETS_PER_THREAD
    );
    let msg = tally.busy_message.clone().unwrap_or_default();
    assert!(
        msg.contains("busy") && msg.contains("retry"),
        "the busy answer says what happened and what to do: {msg:?}"
    );
    // A busy answer is decided before the intent is journaled: it must come promptly even
    // under load (the clients' own timeout is 30 s).
    assert!(
        quantile(&busy_lat, 1.0) < 10_000.0,
        "a busy answer took {:.0} ms",
        quantile(&busy_lat, 1.0)
    );
    assert!(
        tally.unfinished.is_empty(),
        "{} acknowledged intents not final {DRAIN:?} after the clients stopped: {:?}",
        tally.unfinished.len(),
        &tally.unfinished[..tally.unfinished.len().min(5)]
    );
    assert_eq!(
        tally.accepted + rejected,
        tally.acked,
        "every acknowledged intent ended final"
    );
    assert!(tally.accepted > 0, "intents were accepted");
    for r in tally.rejected.keys() {
        assert!(
            !r.starts_with("batch_refused") && !r.starts_with("coordinator_error"),
            "an intent was rejected for a coordinator fault: {r}"
        );
    }
    assert_eq!(open_now, 0, "no intent is left open:\n{metrics}");
    assert!(
        peak < RSS_CEILING_KB,
        "coordinator RSS peaked at {} MiB",
        peak / 1024
    );
    // Bounded: from the middle of the run to its end, anonymous memory may grow by at most
    // a quarter (plus 16 MiB for allocator noise). A per-intent leak grows it about as much
    // in the second half as in the first.
    assert!(
        end.2 <= mid.2 + (mid.2 / 4).max(16 * 1024),
        "coordinator anonymous memory grew from {} KiB (middle) to {} KiB (end)",
        mid.2,
        end.2
    );
    eprintln!("load test took {:?}", t0.elapsed());
}
