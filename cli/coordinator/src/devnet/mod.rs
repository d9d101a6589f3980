//! `mf-coordinator devnet`: a validator and a coordinator as real processes on loopback,
//! driven by many wallets.
//!
//! What it does, in order:
//!
//! 1. writes a genesis ([`DevnetWorld`]): `wallets` funded accounts, a token for payments, a
//!    hub token and one more token per pool, constant-product pairs (one **hot** pool and
//!    `cold_pools` cold ones), every wallet's allowance to every pair, and `merchants`
//!    receiving accounts;
//! 2. runs `mf-validator init` and `mf-validator serve` (the binary next to this one, or
//!    `--validator-bin`), then `mf-coordinator serve` against it, each with a data directory
//!    of its own under the devnet directory and its log file there ([`mf_devkit::process`]);
//! 3. drives the wallets from a few threads ([`driver`]): each wallet builds its next intent
//!    with [`mf_devkit::devnet::build_intent`] against the coordinator (ETH and token payments
//!    to merchants with the merchant's record left to the filler; swaps with the pool left to
//!    the filler and a minimum output), submits it, and waits for the verdict before its next
//!    one (its own account record chains them);
//! 4. shows a progress bar, then a summary ([`Summary`]): accepted, rejected by reason, tx/s,
//!    moves/s and latency percentiles (submission to verdict), and checks that the
//!    coordinator's state hash equals the validator's.
//!
//! With `--replicas N` (N > 1) step 2 starts a NATS cluster instead (3 `nats-server -js`
//! processes on loopback ports; 1 when N is 2) and N replica validators
//! (`mf-validator serve --order`, the stream kept in as many copies as there are NATS
//! servers), and the coordinator is given every replica's URL (it posts to one and fails
//! over to the next); at the end every replica must hold the same header hash at the final
//! height (docs/REPLICATION.md). This needs `nats-server` (`apt-get install nats-server`);
//! the single-validator devnet needs nothing but the two binaries.

mod driver;
mod summary;

pub use summary::Summary;

use anyhow::{Context, Result, bail};
use mf_devkit::devnet::DevnetWorld;
use mf_devkit::process::{
    NatsCluster, Proc, nats_server_bin, start_coordinator, start_nats_cluster,
    start_validator_named, wait_ready,
};
use mf_movegen::remote::RpcClient;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Devnet options.
#[derive(Clone, Debug)]
pub struct DevnetConfig {
    /// Where the data directories and logs go (a fresh temporary directory if `None`).
    pub dir: Option<PathBuf>,
    /// The `mf-validator` binary.
    pub validator_bin: PathBuf,
    /// The `mf-coordinator` binary (this one).
    pub coordinator_bin: PathBuf,
    /// Wallets.
    pub wallets: usize,
    /// Merchants.
    pub merchants: usize,
    /// Cold pools (besides the hot one).
    pub cold_pools: usize,
    /// Intents to send in all.
    pub intents: u64,
    /// Stop sending after this long.
    pub max_time: Duration,
    /// Share of swaps that go to the hot pool.
    pub hot_share: f64,
    /// Driver threads.
    pub threads: usize,
    /// Show a progress bar.
    pub progress: bool,
    /// Extra arguments for `mf-coordinator serve`.
    pub coordinator_args: Vec<String>,
    /// Validators: 1, or that many replicas of an ordered batch log on a NATS cluster.
    pub replicas: usize,
}

/// The validators of a devnet: one, or replicas with their NATS cluster (kept alive while
/// they run).
struct Validators {
    procs: Vec<Proc>,
    urls: Vec<String>,
    _nats: Option<NatsCluster>,
}

fn start_validators(
    cfg: &DevnetConfig,
    dir: &std::path::Path,
    genesis: &mf_movegen::genesis::Genesis,
) -> Result<Validators> {
    if cfg.replicas <= 1 {
        let (p, url) = start_validator_named(&cfg.validator_bin, dir, "validator", genesis, &[])?;
        return Ok(Validators {
            procs: vec![p],
            urls: vec![url],
            _nats: None,
        });
    }
    let Some(nats) = nats_server_bin() else {
        bail!(
            "--replicas {} needs nats-server (apt-get install nats-server); without it, run \
             the devnet with one validator",
            cfg.replicas
        );
    };
    let nodes = if cfg.replicas >= 3 { 3 } else { 1 };
    let cluster = start_nats_cluster(&nats, dir, nodes)?;
    let order = [
        "--order".to_string(),
        cluster.url.clone(),
        "--order-replicas".to_string(),
        nodes.to_string(),
    ];
    let mut procs = Vec::with_capacity(cfg.replicas);
    let mut urls = Vec::with_capacity(cfg.replicas);
    for i in 0..cfg.replicas {
        let name = format!("replica-{i}");
        // A new cluster elects its JetStream leader in a few seconds; until then a replica
        // cannot open the order stream and exits: start it again on a fresh directory.
        let deadline = Instant::now() + Duration::from_secs(60);
        let (p, url) = loop {
            match start_validator_named(&cfg.validator_bin, dir, &name, genesis, &order) {
                Ok(started) => break started,
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!("{name}: {e}; starting it again");
                    let _ = std::fs::remove_dir_all(dir.join(&name));
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => return Err(e.into()),
            }
        };
        procs.push(p);
        urls.push(url);
    }
    Ok(Validators {
        procs,
        urls,
        _nats: Some(cluster),
    })
}

/// Waits (up to 20 s) until every replica's head is at the height of the highest one, then
/// says whether they all hold the same header hash there.
fn replicas_agree(agent: &ureq::Agent, urls: &[String]) -> bool {
    let head = |url: &String| -> Option<(u64, String)> {
        let t = agent
            .get(format!("{url}/head"))
            .call()
            .ok()?
            .body_mut()
            .read_to_string()
            .ok()?;
        let j: serde_json::Value = serde_json::from_str(&t).ok()?;
        Some((j["height"].as_u64()?, j["hash"].as_str()?.to_string()))
    };
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        let heads: Vec<Option<(u64, String)>> = urls.iter().map(head).collect();
        let top = heads.iter().flatten().map(|h| h.0).max();
        if let Some(top) = top
            && heads.iter().all(|h| h.as_ref().is_some_and(|h| h.0 == top))
        {
            let first = heads.first().and_then(|h| h.as_ref()).map(|h| h.1.clone());
            return heads
                .iter()
                .all(|h| h.as_ref().map(|h| h.1.clone()) == first);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Runs the devnet.
pub fn run(cfg: &DevnetConfig) -> Result<Summary> {
    let (dir, _tmp) = match &cfg.dir {
        Some(d) => {
            if crate::dev::has_entries(d)? {
                bail!(
                    "{} is not empty: give a new directory (or none for a temporary one)",
                    d.display()
                );
            }
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            (d.clone(), None)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("mf-devnet-")
                .tempdir()
                .context("cannot create a temporary directory")?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    if !cfg.validator_bin.exists() {
        bail!(
            "no validator binary at {}: build it first (cargo build --release -p mf-validator-cli) \
             or pass --validator-bin",
            cfg.validator_bin.display()
        );
    }
    let world = Arc::new(DevnetWorld::new(
        cfg.wallets,
        cfg.merchants,
        cfg.cold_pools,
    )?);
    let genesis = world.genesis();
    let mut validators = start_validators(cfg, &dir, &genesis)?;
    let vurl = validators.urls[0].clone();
    let (mut coordinator, curl) = start_coordinator(
        &cfg.coordinator_bin,
        &dir,
        "coordinator",
        &validators.urls.join(","),
        &cfg.coordinator_args,
    )?;
    let client = RpcClient::new(&curl);
    wait_ready(&client, Duration::from_secs(30))?;
    let agent = mf_movegen::remote::http_agent(Some(Duration::from_secs(10)));
    let moves_before = validator_metric(&agent, &vurl, "mf_moves_applied_total");

    let pb = if cfg.progress {
        let pb = indicatif::ProgressBar::new(cfg.intents);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(pb)
    } else {
        None
    };
    mf_cli::set_progress(pb.clone());
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&interrupted);
    // On SIGINT or SIGTERM the wallets stop sending, the processes are stopped and the
    // summary printed, instead of dying with the children still running.
    mf_cli::on_shutdown_signal(move || {
        eprintln!("devnet: stopping (waiting up to 5 s for intents in flight)");
        flag.store(true, Relaxed);
    });
    let (tally, seconds, unfinished) = driver::drive(
        &world,
        &curl,
        cfg.intents,
        cfg.max_time,
        cfg.hot_share,
        cfg.threads,
        pb.as_ref(),
        &interrupted,
    );
    if let Some(pb) = &pb {
        pb.finish_and_clear();
    }
    mf_cli::set_progress(None);
    let moves =
        validator_metric(&agent, &vurl, "mf_moves_applied_total").saturating_sub(moves_before);

    // The coordinator's index must end where the validator is.
    let vhead: serde_json::Value = agent
        .get(format!("{vurl}/head"))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let vheight = vhead["height"].as_u64().unwrap_or(0);
    let start = Instant::now();
    let mut agrees = false;
    let mut height = 0;
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(h) = client.head() {
            height = h.height.to::<u64>();
            if height >= vheight {
                agrees = vhead["state_hash"].as_str() == Some(&format!("{:#x}", h.state_hash)[..]);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let replicas = (validators.urls.len() > 1).then(|| {
        (
            validators.urls.len(),
            replicas_agree(&agent, &validators.urls),
        )
    });
    coordinator.stop(Duration::from_secs(10));
    for v in &mut validators.procs {
        v.stop(Duration::from_secs(10));
    }
    let mut latencies = tally.latencies.into_inner().unwrap_or_default();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let summary = Summary {
        submitted: tally.submitted.load(Relaxed),
        accepted: tally.accepted.load(Relaxed),
        rejected: tally.by_reason.into_inner().unwrap_or_default(),
        not_built: tally.not_built.load(Relaxed),
        unfinished,
        seconds,
        moves,
        latencies_ms: latencies,
        height,
        state_hash_agrees: agrees,
        replicas,
        dir: dir.clone(),
    };
    if let Some(t) = _tmp {
        // Keep the logs when something went wrong.
        if summary.state_hash_agrees
            && summary.unfinished == 0
            && summary.replicas.is_none_or(|r| r.1)
        {
            drop(t);
        } else {
            let _ = t.keep();
        }
    }
    Ok(summary)
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

fn validator_metric(agent: &ureq::Agent, base: &str, name: &str) -> u64 {
    agent
        .get(format!("{base}/metrics"))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .map_or(0, |t| metric(&t, name))
}
