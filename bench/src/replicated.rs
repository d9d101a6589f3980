//! The replicated path (docs/REPLICATION.md) against a single validator, over HTTP, with
//! real processes on loopback: the same signed transfer batches posted to one
//! `mf-validator serve` (direct) and to replicas (`serve --order nats://...`) that publish
//! each batch to the JetStream log and answer once they applied it.
//!
//! Each target starts on a fresh chain and takes the batches in two phases:
//!
//! 1. **latency**: the first batches one at a time: `POST /batch` → receipts, unloaded. On a
//!    replica that is publish, acknowledgement, the replica's read of the stream, apply and
//!    answer: the added latency of the replicated path is this minus the direct figure.
//! 2. **throughput**: the other batches with `concurrency` posts in flight (round robin over
//!    the replicas): tx/s and batches/s from the first post to the last receipt, and the
//!    latency under that load. With several replicas, also how long after the last receipt
//!    every replica held the last height, and that all hold the same header hash there.
//!
//! Without `nats-server` (or the `mf-validator` binary) the section is skipped and says why.

use crate::stats::{Stat, percentile};
use crate::workload::{Kind, Workload, build};
use anyhow::{Context, Result, bail};
use mf_api::{BatchAnswer, Client, ErrorJson};
use mf_devkit::process::{NatsCluster, nats_server_bin, start_nats_cluster, start_validator_named};
use mf_format::{Batch, Transaction, TxId};
use serde_json::{Value as Json, json};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Default (0, 0) transaction contexts are valid at heights 1–256 only (PROTOCOL.md §6.3.1):
/// every batch is one height, so a chain takes at most this many.
const MAX_BATCHES: usize = 256;

/// NATS refuses messages above its default `max_payload` (1 MiB).
const NATS_MAX_PAYLOAD: usize = 1 << 20;

/// Batches of the latency phase left out of its percentiles: the first post of a target
/// also opens connections (and, on a replica, may wait for the stream to be created).
const WARMUP: usize = 1;

/// How long a `503` (busy, order unavailable) is retried with the same bytes.
const RETRY_FOR: Duration = Duration::from_secs(30);

/// Options of the replicated-path section (`mf-bench replicated`).
#[derive(clap::Parser, Clone, Debug)]
pub struct ReplicatedArgs {
    /// Signed transfers in the workload (one wallet each).
    #[arg(long, default_value_t = 20_000)]
    pub txs: usize,
    /// Transactions per batch (at most 256 batches in all: the transactions' context window).
    #[arg(long, default_value_t = 100)]
    pub batch_txs: usize,
    /// Batches of the latency phase (posted one at a time); the rest go in the throughput
    /// phase. The first is a warm-up, left out of the percentiles.
    #[arg(long, default_value_t = 100)]
    pub latency_batches: usize,
    /// Posts in flight in the throughput phase.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Replica counts to measure, comma-separated (each on a fresh stream).
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    pub replicas: Vec<usize>,
    /// NATS servers: 1, or 3 for a cluster whose stream keeps 3 copies.
    #[arg(long, default_value_t = 1)]
    pub nats_nodes: usize,
    /// Runs (fresh processes and chains each time; throughput as median [min–max],
    /// latency percentiles over every run's batches).
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
    /// The `mf-validator` binary (default: beside this executable, as cargo builds it).
    #[arg(long)]
    pub validator_bin: Option<PathBuf>,
    /// The `nats-server` binary (default: on the PATH or in /usr/sbin).
    #[arg(long)]
    pub nats_bin: Option<PathBuf>,
    /// Working directory for data and logs (default: a temporary one, removed afterwards).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

impl ReplicatedArgs {
    /// The defaults of the subcommand.
    pub fn defaults() -> ReplicatedArgs {
        <ReplicatedArgs as clap::Parser>::parse_from(["replicated"])
    }
}

/// The `mf-validator` binary of the same build: beside this executable.
fn default_validator_bin() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    let bin = me.with_file_name(format!("mf-validator{}", std::env::consts::EXE_SUFFIX));
    bin.is_file().then_some(bin)
}

/// The binaries, or why the section cannot run.
fn binaries(a: &ReplicatedArgs) -> std::result::Result<(PathBuf, PathBuf), String> {
    let nats = match &a.nats_bin {
        Some(p) if p.is_file() => p.clone(),
        Some(p) => return Err(format!("nats-server not found at {}", p.display())),
        None => nats_server_bin().ok_or_else(|| {
            "nats-server not found on the PATH or in /usr/sbin (apt-get install nats-server)"
                .to_string()
        })?,
    };
    let validator = match &a.validator_bin {
        Some(p) if p.is_file() => p.clone(),
        Some(p) => return Err(format!("mf-validator not found at {}", p.display())),
        None => default_validator_bin().ok_or_else(|| {
            "mf-validator not found beside mf-bench: build it with the same profile \
             (cargo build --release -p mf-validator-cli) or pass --validator-bin"
                .to_string()
        })?,
    };
    Ok((validator, nats))
}

/// One batch's answer.
struct Answer {
    latency_s: f64,
    accepted: usize,
    height: u64,
}

/// Posts `bytes` to `client` until it is applied, retrying a `503` (busy, order unavailable:
/// the same bytes are stored at most once in the log) for up to [`RETRY_FOR`].
fn post(client: &Client, bytes: &[u8]) -> Result<Answer> {
    let t = Instant::now();
    loop {
        match client.post_batch(bytes)? {
            BatchAnswer::Applied(a) => {
                let accepted = a.receipts.iter().filter(|r| r.code == 0).count();
                return Ok(Answer {
                    latency_s: t.elapsed().as_secs_f64(),
                    accepted,
                    height: a.height.unwrap_or(0),
                });
            }
            BatchAnswer::Unavailable(e)
                if (e.error == ErrorJson::BUSY || e.error == ErrorJson::ORDER_UNAVAILABLE)
                    && t.elapsed() < RETRY_FOR =>
            {
                tracing::debug!(url = client.url(), error = %e.error, "retrying POST /batch");
                std::thread::sleep(Duration::from_millis(10));
            }
            other => bail!("POST /batch to {}: {other:?}", client.url()),
        }
    }
}

/// What one phase measured.
struct Phase {
    seconds: f64,
    latencies_s: Vec<f64>,
    accepted: usize,
    max_height: u64,
}

/// Posts every batch with `concurrency` in flight, worker `k` to `clients[k % len]`.
fn drive(clients: &[Client], batches: &[Vec<u8>], concurrency: usize) -> Result<Phase> {
    let next = AtomicUsize::new(0);
    let answers: Mutex<Vec<Answer>> = Mutex::new(Vec::with_capacity(batches.len()));
    let t = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let workers: Vec<_> = (0..concurrency.max(1))
            .map(|k| {
                let client = &clients[k % clients.len()];
                let (next, answers) = (&next, &answers);
                s.spawn(move || -> Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(bytes) = batches.get(i) else {
                            return Ok(());
                        };
                        let a = post(client, bytes)?;
                        answers
                            .lock()
                            .map_err(|_| anyhow::anyhow!("a worker panicked"))?
                            .push(a);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("a worker panicked"))??;
        }
        Ok(())
    })?;
    let seconds = t.elapsed().as_secs_f64();
    let answers = answers
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a worker panicked"))?;
    Ok(Phase {
        seconds,
        latencies_s: answers.iter().map(|a| a.latency_s).collect(),
        accepted: answers.iter().map(|a| a.accepted).sum(),
        max_height: answers.iter().map(|a| a.height).max().unwrap_or(0),
    })
}

/// Waits until every client's head is at `height`; the seconds it took and whether they all
/// hold the same header hash there.
fn wait_all(clients: &[Client], height: u64) -> Result<(f64, bool)> {
    let t = Instant::now();
    let deadline = t + Duration::from_secs(120);
    let mut hashes = Vec::with_capacity(clients.len());
    for c in clients {
        loop {
            if let Ok(h) = c.head()
                && h.height >= height
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("{} did not reach height {height} in 120 s", c.url());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let hdr = c
            .header(height)?
            .with_context(|| format!("{} has no header at {height}", c.url()))?;
        hashes.push(hdr.hash);
    }
    let same = hashes.windows(2).all(|w| w[0] == w[1]);
    Ok((t.elapsed().as_secs_f64(), same))
}

/// One run on one target: its figures.
struct Measured {
    latency: Phase,
    throughput: Phase,
    /// Seconds from the last receipt until every replica held the last height.
    all_caught_up_s: f64,
    same_head: bool,
}

/// Runs both phases against `clients` (fresh chain) and checks every transaction was
/// accepted.
fn measure(
    clients: &[Client],
    batches: &[Vec<u8>],
    latency_batches: usize,
    concurrency: usize,
    want_txs: usize,
) -> Result<Measured> {
    let (lat, thr) = batches.split_at(latency_batches.min(batches.len()));
    let latency = drive(clients, lat, 1)?;
    let throughput = drive(clients, thr, concurrency)?;
    let accepted = latency.accepted + throughput.accepted;
    if accepted != want_txs {
        bail!("{accepted} of {want_txs} transactions accepted: the workload is not valid here");
    }
    let height = latency.max_height.max(throughput.max_height);
    let (all_caught_up_s, same_head) = wait_all(clients, height)?;
    Ok(Measured {
        latency,
        throughput,
        all_caught_up_s,
        same_head,
    })
}

/// The latency phase's latencies, in post order, less the first [`WARMUP`] (connections,
/// the stream's creation).
fn unloaded(p: &Phase) -> Vec<f64> {
    p.latencies_s.iter().skip(WARMUP).copied().collect()
}

/// Percentiles in milliseconds.
fn latency_json(lat: &[f64]) -> Json {
    let ms: Vec<f64> = lat.iter().map(|s| s * 1e3).collect();
    json!({
        "p50": percentile(&ms, 0.50),
        "p99": percentile(&ms, 0.99),
        "max": percentile(&ms, 1.0),
        "n": ms.len(),
    })
}

/// Figures of one target over every run.
fn summary(runs: &[Measured], txs_per_batch: &[usize], latency_batches: usize) -> Json {
    let thr_txs: usize = txs_per_batch[latency_batches.min(txs_per_batch.len())..]
        .iter()
        .sum();
    let thr_batches = txs_per_batch.len().saturating_sub(latency_batches);
    let tps: Vec<f64> = runs
        .iter()
        .map(|m| thr_txs as f64 / m.throughput.seconds.max(1e-9))
        .collect();
    let bps: Vec<f64> = runs
        .iter()
        .map(|m| thr_batches as f64 / m.throughput.seconds.max(1e-9))
        .collect();
    let unloaded: Vec<f64> = runs.iter().flat_map(|m| unloaded(&m.latency)).collect();
    let loaded: Vec<f64> = runs
        .iter()
        .flat_map(|m| m.throughput.latencies_s.iter().copied())
        .collect();
    json!({
        "tx_per_s": Stat::of(&tps),
        "batches_per_s": Stat::of(&bps),
        "latency_ms": latency_json(&unloaded),
        "loaded_latency_ms": latency_json(&loaded),
        "all_caught_up_s": Stat::of(&runs.iter().map(|m| m.all_caught_up_s).collect::<Vec<_>>()),
        "same_head": runs.iter().all(|m| m.same_head),
    })
}

/// Starts `n` replicas on `nats`'s stream: their processes (stopped when dropped) and clients.
fn start_replicas(
    bin: &Path,
    dir: &Path,
    world: &Workload,
    nats: &NatsCluster,
    n: usize,
) -> Result<(Vec<mf_devkit::process::Proc>, Vec<Client>)> {
    let mut extra = vec!["--order".to_string(), nats.url.clone()];
    if nats.len() > 1 {
        extra.extend(["--order-replicas".to_string(), nats.len().to_string()]);
    }
    let mut procs = Vec::with_capacity(n);
    let mut clients = Vec::with_capacity(n);
    let genesis = world.genesis();
    for i in 0..n {
        // A new cluster answers JetStream requests only once it elected its meta leader:
        // until then a replica cannot open the stream and exits. Each try is a fresh
        // directory (`init` again).
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut attempt = 0;
        let (p, url) = loop {
            let name = match attempt {
                0 => format!("replica-{i}"),
                k => format!("replica-{i}-retry{k}"),
            };
            match start_validator_named(bin, dir, &name, &genesis, &extra) {
                Ok(x) => break x,
                Err(e) if Instant::now() < deadline => {
                    tracing::info!("replica {i} did not start ({e}); trying again");
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("starting replica {i} (logs in {})", dir.display())
                    });
                }
            }
        };
        procs.push(p);
        clients.push(Client::new(&url));
    }
    Ok((procs, clients))
}

/// Runs the section. `Ok` with `"skipped"` set when it cannot run here.
pub fn run(a: &ReplicatedArgs) -> Result<Json> {
    let (validator, nats_bin) = match binaries(a) {
        Ok(b) => b,
        Err(why) => {
            println!("replicated: SKIPPED: {why}");
            tracing::warn!("replicated path not measured: {why}");
            return Ok(json!({ "skipped": why }));
        }
    };
    let batch_txs = a.batch_txs.max(1);
    let n_batches = a.txs.div_ceil(batch_txs);
    if n_batches > MAX_BATCHES {
        bail!(
            "{n_batches} batches: at most {MAX_BATCHES} fit the transactions' context window; \
             raise --batch-txs or lower --txs"
        );
    }
    if a.latency_batches <= WARMUP || a.latency_batches >= n_batches {
        bail!(
            "--latency-batches {} must be above {WARMUP} (the warm-up) and leave batches for the \
             throughput phase ({n_batches} batches in all)",
            a.latency_batches
        );
    }
    let t = Instant::now();
    let world = Workload::new(a.txs, 1)?;
    let txs: Vec<(Transaction, TxId)> = build(&world, Kind::Transfer, a.txs)?;
    let txs_per_batch: Vec<usize> = txs.chunks(batch_txs).map(<[_]>::len).collect();
    let batches: Vec<Vec<u8>> = txs
        .chunks(batch_txs)
        .map(|c| {
            mf_format::encode(&Batch {
                txs: c.iter().map(|(t, _)| t.clone()).collect(),
            })
        })
        .collect();
    let largest = batches.iter().map(Vec::len).max().unwrap_or(0);
    if largest > NATS_MAX_PAYLOAD {
        bail!(
            "a batch of {largest} bytes is above NATS's default max_payload ({NATS_MAX_PAYLOAD}): \
             lower --batch-txs"
        );
    }
    println!(
        "replicated: {} transfers in {n_batches} batches of {batch_txs} (at most {} B each), built in {:.1}s; \
         latency phase {} batches one at a time, throughput phase {} batches with {} in flight; \
         NATS servers {}; validator {}",
        txs.len(),
        largest,
        t.elapsed().as_secs_f64(),
        a.latency_batches,
        n_batches - a.latency_batches,
        a.concurrency.max(1),
        a.nats_nodes.max(1),
        validator.display()
    );
    let tmp;
    let root = match &a.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let want = txs.len();
    let replica_counts: Vec<usize> = a.replicas.iter().copied().filter(|&n| n > 0).collect();
    let mut direct_runs = Vec::new();
    let mut replicated_runs: Vec<Vec<Measured>> =
        replica_counts.iter().map(|_| Vec::new()).collect();
    for run in 0..a.runs.max(1) {
        let dir = root.join(format!("run-{run}"));
        std::fs::create_dir_all(&dir)?;
        {
            let (_proc, url) =
                start_validator_named(&validator, &dir, "direct", &world.genesis(), &[])
                    .with_context(|| {
                        format!("starting the validator (logs in {})", dir.display())
                    })?;
            let m = measure(
                &[Client::new(&url)],
                &batches,
                a.latency_batches,
                a.concurrency,
                want,
            )
            .context("direct POST /batch")?;
            println!(
                "run {run}: direct        {:>8.0} tx/s {:>6.1} batches/s; latency p50 {:.1} ms p99 {:.1} ms",
                thr_rate(&txs_per_batch, a.latency_batches, &m),
                (n_batches - a.latency_batches) as f64 / m.throughput.seconds,
                percentile(&unloaded(&m.latency), 0.5) * 1e3,
                percentile(&unloaded(&m.latency), 0.99) * 1e3,
            );
            direct_runs.push(m);
        }
        for (k, &n) in replica_counts.iter().enumerate() {
            let rdir = dir.join(format!("replicas-{n}"));
            let nats = start_nats_cluster(&nats_bin, &rdir.join("nats"), a.nats_nodes.max(1))
                .context("starting nats-server")?;
            let (_procs, clients) = start_replicas(&validator, &rdir, &world, &nats, n)?;
            let m = measure(&clients, &batches, a.latency_batches, a.concurrency, want)
                .with_context(|| format!("{n} replicas (logs in {})", rdir.display()))?;
            if !m.same_head {
                bail!("the {n} replicas ended with different header hashes");
            }
            println!(
                "run {run}: {n} replica(s)  {:>8.0} tx/s {:>6.1} batches/s; latency p50 {:.1} ms p99 {:.1} ms; all replicas {:.2}s after the last receipt",
                thr_rate(&txs_per_batch, a.latency_batches, &m),
                (n_batches - a.latency_batches) as f64 / m.throughput.seconds,
                percentile(&unloaded(&m.latency), 0.5) * 1e3,
                percentile(&unloaded(&m.latency), 0.99) * 1e3,
                m.all_caught_up_s,
            );
            replicated_runs[k].push(m);
        }
    }
    let direct = summary(&direct_runs, &txs_per_batch, a.latency_batches);
    let f = |v: &Json| v.as_f64().unwrap_or(0.0);
    let replicated: Vec<Json> = replica_counts
        .iter()
        .zip(&replicated_runs)
        .map(|(&n, runs)| {
            let mut s = summary(runs, &txs_per_batch, a.latency_batches);
            let ratio = f(&s["tx_per_s"]["median"]) / f(&direct["tx_per_s"]["median"]).max(1e-9);
            let added_p50 = f(&s["latency_ms"]["p50"]) - f(&direct["latency_ms"]["p50"]);
            let added_p99 = f(&s["latency_ms"]["p99"]) - f(&direct["latency_ms"]["p99"]);
            println!(
                "replicated, {n} replica(s): {:.0} tx/s against {:.0} direct ({:.2}x); \
                 added latency p50 {added_p50:+.1} ms, p99 {added_p99:+.1} ms",
                f(&s["tx_per_s"]["median"]),
                f(&direct["tx_per_s"]["median"]),
                ratio
            );
            s["replicas"] = json!(n);
            s["ratio_tx_per_s_vs_direct"] = json!(ratio);
            s["added_latency_ms"] = json!({ "p50": added_p50, "p99": added_p99 });
            s
        })
        .collect();
    let j = json!({
        "skipped": Json::Null,
        "workload": "transfer",
        "txs": want,
        "batch_txs": batch_txs,
        "batches": n_batches,
        "batch_bytes": largest,
        "latency_batches": a.latency_batches,
        "latency_warmup_batches": WARMUP,
        "throughput_batches": n_batches - a.latency_batches,
        "concurrency": a.concurrency.max(1),
        "nats_nodes": a.nats_nodes.max(1),
        "runs": a.runs.max(1),
        "direct": direct,
        "replicated": replicated,
    });
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_string_pretty(&j)?)?;
    }
    Ok(j)
}

/// tx/s of one run's throughput phase.
fn thr_rate(txs_per_batch: &[usize], latency_batches: usize, m: &Measured) -> f64 {
    let txs: usize = txs_per_batch[latency_batches.min(txs_per_batch.len())..]
        .iter()
        .sum();
    txs as f64 / m.throughput.seconds.max(1e-9)
}
