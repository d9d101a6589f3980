//! `mf-validator`: the validator's command-line interface. See `mf-validator --help`.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mf_format::Status;
use mf_validator::Timings;
use mf_validator::genesis::Genesis;
use mf_validator::sample::{GenConfig, generate};
use mf_validator::server::{ServeConfig, header_json};
use mf_validator::store::Store;
use mf_validator::verify::{Order, verify_dir};
use mf_validator::{ApplyError, Mode, Validator};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const ABOUT: &str = "A Manaflow-style UTXO move-set validator: every transaction declares the \
state versions it consumes and creates; the validator checks each one alone and keeps the live \
set on disk (LMDB), crash-safe.";

const LONG_ABOUT: &str = "A Manaflow-style UTXO move-set validator: every transaction declares \
the state versions it consumes and creates; the validator checks each one alone and keeps the \
live set on disk (LMDB), crash-safe.

Typical use:
  mf-validator gen --out sample                       # a genesis and signed batch files
  mf-validator init --data db --genesis sample/genesis.json
  mf-validator ingest --data db sample/batch-*.bin
  mf-validator check --data db
  mf-validator verify-chain --data db --order shuffle --seed 7
  mf-validator serve --data db --listen 127.0.0.1:8080

Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=debug) to change their level. After a crash or
kill -9, simply run the same command again: a batch is on disk entirely or not at all.";

#[derive(Parser)]
#[command(name = "mf-validator", version, about = ABOUT, long_about = LONG_ABOUT)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ModeArg {
    /// Any invalid transaction refuses the whole batch (following an already-ordered chain).
    Strict,
    /// Invalid transactions are dropped with a reason code, with everything that depends on
    /// them (ingesting from coordinators and users).
    Filter,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OrderArg {
    /// Heights 1, 2, ..., head.
    Forward,
    /// Heights head, ..., 2, 1.
    Reverse,
    /// A shuffle of the heights, deterministic in --seed.
    Shuffle,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Mode {
        match m {
            ModeArg::Strict => Mode::Strict,
            ModeArg::Filter => Mode::Filter,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole job once on a fresh directory: generate signed transfer batches, create
    /// a data directory from their genesis, ingest them all with progress and a summary,
    /// then verify the stored state hash.
    ///
    /// Uses DIR/sample for the batch files and DIR/data for the validator (DIR defaults to
    /// a new directory under the system temp directory; it must not exist yet).
    Demo {
        /// Working directory (must not exist).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Number of funded accounts.
        #[arg(long, default_value_t = 10_000)]
        accounts: usize,
        /// Number of transfers in all.
        #[arg(long, default_value_t = 200_000)]
        txs: usize,
        /// Transfers per batch.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=mf_format::limits::MAX_TXS_PER_BATCH as u64))]
        batch_size: u64,
    },
    /// Create a data directory from a genesis file in the Ethereum `alloc` style.
    ///
    /// Every account and non-zero storage word of the genesis becomes a live version at
    /// height 0. Refuses a directory that already holds validator data.
    Init {
        /// The data directory (created if missing; must not hold validator data).
        #[arg(long)]
        data: PathBuf,
        /// Genesis JSON: {"config": {"chainId": N}, "alloc": {"0x..": {"balance": ..}}}.
        #[arg(long)]
        genesis: PathBuf,
    },
    /// Generate a sample workload: a genesis file and signed batches of value transfers.
    ///
    /// Writes DIR/genesis.json and DIR/batch-000001.bin, DIR/batch-000002.bin, ... (encoded
    /// batches). Applied in order on that genesis, batch file k becomes height k.
    Gen {
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Number of funded accounts.
        #[arg(long, default_value_t = 1000)]
        accounts: usize,
        /// Number of transfers in all.
        #[arg(long, default_value_t = 10_000)]
        txs: usize,
        /// Transfers per batch file.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=mf_format::limits::MAX_TXS_PER_BATCH as u64))]
        batch_size: u64,
        /// Seed of the keys and of the transfer choices.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Chain id written to the genesis and signed by every transaction.
        #[arg(long, default_value_t = 1337)]
        chain_id: u64,
    },
    /// Apply batch files, in the order given, to the data directory.
    ///
    /// Shows progress and throughput, logs one line per file and prints a summary (batches,
    /// transactions accepted and rejected by reason, moves/s, time per stage, final height and
    /// state hash). A refused batch is reported and skipped; the exit code is then 1.
    Ingest {
        /// The data directory (made by `init`).
        #[arg(long)]
        data: PathBuf,
        /// strict: an invalid transaction refuses its whole batch; filter: it is dropped.
        #[arg(long, value_enum, default_value_t = ModeArg::Strict)]
        mode: ModeArg,
        /// Batch files (as written by `gen`, or fetched from `GET /batch/{height}`).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Serve the HTTP API: submit batches, read headers, batches, receipts and versions,
    /// follow the feed of accepted batches, and scrape /metrics.
    ///
    /// Endpoints: POST /batch, GET /head, /header/{h}, /batch/{h}, /receipts/{h},
    /// /version/{intx}/{mark}/{addr}/{slot}, /feed?from=H, /metrics, /health. One thread
    /// applies batches from a bounded queue; when it is full, POST /batch answers 503.
    /// SIGINT or SIGTERM stops it cleanly. The address it listens on is printed on stdout.
    Serve {
        /// The data directory (made by `init`).
        #[arg(long)]
        data: PathBuf,
        /// Address to listen on (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// How posted batches are applied (see `ingest --mode`).
        #[arg(long, value_enum, default_value_t = ModeArg::Filter)]
        mode: ModeArg,
        /// Batches that may wait to be applied; beyond that POST /batch answers 503.
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=4096))]
        queue: u64,
    },
    /// Verify the store: recompute the state hash from the stored live set and compare it
    /// with the stored one and the head header's. Exit code 1 on a mismatch.
    Check {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
    },
    /// Re-validate the whole stored chain by set reconciliation over all moves, with no
    /// sequential state: each batch, fed in the given order, contributes the versions it
    /// creates, spends and references; they are grouped by version and each version is
    /// judged alone (created once, spent at most once, used only after its creation and,
    /// for a reference, not after its spend, with the declared prev equal to the created
    /// value); the state hash after each batch is checked against its header.
    ///
    /// The summary is the same for every order (that is the point: PROTOCOL.md §9). Exit
    /// code 1 when a violation is found. The validator must be stopped (the data directory
    /// is locked while it runs); nothing is written.
    VerifyChain {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// The order in which batches are fed into the reconciliation.
        #[arg(long, value_enum, default_value_t = OrderArg::Forward)]
        order: OrderArg,
        /// Seed of --order shuffle.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print JSON (with every violation) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show the state of a data directory: height, head hash, state hash, table entry
    /// counts, index entries and size on disk.
    Inspect {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `println!` that ignores a closed stdout (`mf-validator inspect | head -1`) instead of
/// panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

// ---------------------------------------------------------------------------------------
// Logging: tracing to stderr, written around the progress bar when one is shown.

static PROGRESS: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn set_progress(pb: Option<ProgressBar>) {
    if let Ok(mut g) = PROGRESS.lock() {
        *g = pb;
    }
}

/// Collects one log event, then writes it to stderr in one piece, suspending the progress
/// bar (if any) so that the two do not garble each other.
struct LogWriter(Vec<u8>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        let write = || {
            let _ = std::io::stderr().lock().write_all(&buf);
        };
        let pb = PROGRESS.lock().ok().and_then(|g| g.clone());
        match pb {
            Some(pb) => pb.suspend(write),
            None => write(),
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogWriter(Vec::new()))
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

// ---------------------------------------------------------------------------------------

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            set_progress(None);
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Demo {
            dir,
            accounts,
            txs,
            batch_size,
        } => demo(
            dir,
            &GenConfig {
                accounts,
                txs,
                batch_size: usize::try_from(batch_size).context("batch size")?,
                ..GenConfig::default()
            },
        ),
        Command::Init { data, genesis } => init(&data, &genesis),
        Command::Gen {
            out,
            accounts,
            txs,
            batch_size,
            seed,
            chain_id,
        } => gen_sample(
            &out,
            &GenConfig {
                chain_id,
                accounts,
                txs,
                batch_size: usize::try_from(batch_size).context("batch size")?,
                seed,
            },
        ),
        Command::Ingest { data, mode, files } => ingest(&data, mode.into(), &files),
        Command::Serve {
            data,
            listen,
            mode,
            queue,
        } => serve(
            &data,
            listen,
            ServeConfig {
                mode: mode.into(),
                queue: usize::try_from(queue).context("queue")?,
                ..ServeConfig::default()
            },
        ),
        Command::Check { data } => check(&data),
        Command::Inspect { data, json } => inspect(&data, json),
        Command::VerifyChain {
            data,
            order,
            seed,
            json,
        } => verify_chain(
            &data,
            match order {
                OrderArg::Forward => Order::Forward,
                OrderArg::Reverse => Order::Reverse,
                OrderArg::Shuffle => Order::Shuffle { seed },
            },
            json,
        ),
    }
}

fn demo(dir: Option<PathBuf>, cfg: &GenConfig) -> Result<ExitCode> {
    let root = dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("mf-demo-{}-{}", std::process::id(), cfg.seed))
    });
    if root.exists() {
        bail!(
            "{} already exists; name a new directory with --dir",
            root.display()
        );
    }
    let sample = root.join("sample");
    let data = root.join("data");
    gen_sample(&sample, cfg)?;
    init(&data, &sample.join("genesis.json"))?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&sample)
        .with_context(|| format!("cannot list {}", sample.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    files.sort();
    let code = ingest(&data, Mode::Strict, &files)?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    let code = check(&data)?;
    out!(
        "demo data left in {} (inspect it with `mf-validator inspect --data {}`)",
        root.display(),
        data.display()
    );
    Ok(code)
}

fn open(data: &Path) -> Result<Validator> {
    // Re-execution with revm is the library's default.
    Validator::open(data)
        .with_context(|| format!("cannot open the data directory {}", data.display()))
}

fn init(data: &Path, genesis_path: &Path) -> Result<ExitCode> {
    if Store::exists(data) {
        bail!(
            "{} already holds validator data; choose an empty directory (or delete it to start over)",
            data.display()
        );
    }
    let text = std::fs::read_to_string(genesis_path)
        .with_context(|| format!("cannot read the genesis file {}", genesis_path.display()))?;
    let genesis = Genesis::parse(&text)
        .with_context(|| format!("bad genesis file {}", genesis_path.display()))?;
    let v = Validator::init(data, &genesis)
        .with_context(|| format!("cannot initialise {}", data.display()))?;
    tracing::info!(
        data = %data.display(),
        chain_id = genesis.chain_id,
        versions = genesis.versions.len(),
        contracts = genesis.code.len(),
        "initialised"
    );
    out!(
        "initialised {}: chain id {}, {} genesis versions, {} contracts, state hash {}",
        data.display(),
        genesis.chain_id,
        genesis.versions.len(),
        genesis.code.len(),
        v.state_hash()
    );
    Ok(ExitCode::SUCCESS)
}

fn gen_sample(out: &Path, cfg: &GenConfig) -> Result<ExitCode> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create the output directory {}", out.display()))?;
    let t = Instant::now();
    let sample = generate(cfg);
    let genesis_path = out.join("genesis.json");
    let text = serde_json::to_string_pretty(&sample.genesis.to_json())
        .context("cannot render the genesis")?;
    std::fs::write(&genesis_path, text)
        .with_context(|| format!("cannot write {}", genesis_path.display()))?;
    let mut bytes = 0usize;
    for (i, b) in sample.batches.iter().enumerate() {
        let p = out.join(format!("batch-{:06}.bin", i + 1));
        let enc = mf_format::encode(b);
        bytes += enc.len();
        std::fs::write(&p, &enc).with_context(|| format!("cannot write {}", p.display()))?;
    }
    out!(
        "wrote {} ({} accounts, chain id {}) and {} batch files ({} transfers, {} bytes) to {} in {:.2} s",
        genesis_path.display(),
        sample.keys.len(),
        cfg.chain_id,
        sample.batches.len(),
        sample.batches.iter().map(|b| b.txs.len()).sum::<usize>(),
        bytes,
        out.display(),
        t.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Default)]
struct IngestStats {
    applied: u64,
    nothing_accepted: u64,
    refused: u64,
    refused_by: BTreeMap<String, u64>,
    accepted: u64,
    rejected_by: BTreeMap<&'static str, u64>,
    moves: u64,
    timings: Timings,
}

fn rate(n: u64, secs: f64) -> f64 {
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}

fn ingest(data: &Path, mode: Mode, files: &[PathBuf]) -> Result<ExitCode> {
    let mut v = open(data)?;
    let start_height = v.head().height;
    let pb = ProgressBar::with_draw_target(
        Some(files.len() as u64),
        ProgressDrawTarget::stderr_with_hz(5),
    );
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} batches {msg} (eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    set_progress(Some(pb.clone()));
    let mut st = IngestStats::default();
    let t0 = Instant::now();
    for file in files {
        let name = file.display().to_string();
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(file = %name, "cannot read: {e}");
                st.refused += 1;
                *st.refused_by.entry("unreadable".into()).or_default() += 1;
                pb.inc(1);
                continue;
            }
        };
        let t = Instant::now();
        match v.apply_bytes(&bytes, mode) {
            Ok(out) => {
                let secs = t.elapsed().as_secs_f64();
                let rejected = out.receipts.len() - out.accepted;
                for r in &out.receipts {
                    if let Status::Rejected(reason) = r.status {
                        *st.rejected_by.entry(reason.name()).or_default() += 1;
                    }
                }
                st.accepted += out.accepted as u64;
                st.moves += out.moves as u64;
                st.timings.decode += out.timings.decode;
                st.timings.stateless += out.timings.stateless;
                st.timings.apply += out.timings.apply;
                st.timings.commit += out.timings.commit;
                match out.header {
                    Some(h) => {
                        st.applied += 1;
                        tracing::info!(
                            file = %name,
                            height = h.height,
                            accepted = out.accepted,
                            rejected,
                            moves = out.moves,
                            ms = format_args!("{:.1}", secs * 1e3),
                            "applied"
                        );
                    }
                    None => {
                        st.nothing_accepted += 1;
                        tracing::warn!(
                            file = %name,
                            rejected,
                            "no transaction accepted; nothing written"
                        );
                    }
                }
            }
            Err(ApplyError::Store(e)) => {
                pb.abandon();
                set_progress(None);
                return Err(e).with_context(|| format!("store failure while applying {name}"));
            }
            Err(e) => {
                let reason = match (&e, e.reason()) {
                    (_, Some(r)) => r.name().to_string(),
                    (ApplyError::Empty, None) => "empty_batch".to_string(),
                    _ => "other".to_string(),
                };
                tracing::error!(file = %name, reason = %reason, "{e}");
                st.refused += 1;
                *st.refused_by.entry(reason).or_default() += 1;
            }
        }
        pb.inc(1);
        let el = t0.elapsed().as_secs_f64();
        pb.set_message(format!(
            "{:.0} tx/s, {:.0} moves/s",
            rate(st.accepted, el),
            rate(st.moves, el)
        ));
    }
    pb.finish_and_clear();
    set_progress(None);
    let el = t0.elapsed().as_secs_f64();
    let rejected: u64 = st.rejected_by.values().sum();
    out!(
        "ingested {} files in {:.3} s: {} batches applied, {} with nothing accepted, {} refused",
        files.len(),
        el,
        st.applied,
        st.nothing_accepted,
        st.refused
    );
    if !st.refused_by.is_empty() {
        let parts: Vec<String> = st
            .refused_by
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        out!("refused batches by reason: {}", parts.join(", "));
    }
    out!(
        "transactions: {} accepted, {} rejected",
        st.accepted,
        rejected
    );
    if !st.rejected_by.is_empty() {
        let parts: Vec<String> = st
            .rejected_by
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        out!("rejected by reason: {}", parts.join(", "));
    }
    out!(
        "moves: {} ({:.0} moves/s, {:.0} tx/s)",
        st.moves,
        rate(st.moves, el),
        rate(st.accepted, el)
    );
    let t = st.timings;
    out!(
        "time per stage: decode {:.3} s, stateless {:.3} s, apply {:.3} s, commit {:.3} s",
        t.decode,
        t.stateless,
        t.apply,
        t.commit
    );
    out!(
        "height {} -> {}, state hash {}",
        start_height,
        v.head().height,
        v.state_hash()
    );
    Ok(if st.refused > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn serve(data: &Path, listen: SocketAddr, cfg: ServeConfig) -> Result<ExitCode> {
    let v = open(data)?;
    // Store reads run on the blocking pool; LMDB gives each reading thread a slot in its
    // reader table (126 by default), so the pool must stay well below that.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(64)
        .thread_name("mf-http")
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr().context("listener address")?;
        tracing::info!(%addr, mode = ?cfg.mode, queue = cfg.queue, height = v.head().height, "serving");
        out!("listening on {addr}");
        let _ = std::io::stdout().flush();
        mf_validator::server::serve(v, listener, cfg, shutdown_signal())
            .await
            .context("server stopped with an error")
    })?;
    rt.shutdown_timeout(Duration::from_secs(1));
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for SIGINT: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received"),
        _ = term => tracing::info!("SIGTERM received"),
    }
}

fn check(data: &Path) -> Result<ExitCode> {
    let v = open(data)?;
    let t = Instant::now();
    let (fresh, stored) = v
        .check()
        .with_context(|| format!("cannot check {}", data.display()))?;
    let head = v.head();
    out!("height:                {}", head.height);
    out!("recomputed state hash: {fresh}");
    out!("stored state hash:     {stored}");
    out!("head header state:     {}", head.state_hash);
    let ok = fresh == stored && stored == head.state_hash;
    if ok {
        out!("OK ({:.2} s)", t.elapsed().as_secs_f64());
        Ok(ExitCode::SUCCESS)
    } else {
        out!("MISMATCH: the store is inconsistent");
        tracing::error!(%fresh, %stored, header = %head.state_hash, "state hash mismatch");
        Ok(ExitCode::FAILURE)
    }
}

/// Violations listed in the text output (JSON lists them all).
const MAX_SHOWN_VIOLATIONS: usize = 50;

fn verify_chain(data: &Path, order: Order, as_json: bool) -> Result<ExitCode> {
    let t = Instant::now();
    let report = verify_dir(data, order)
        .with_context(|| format!("cannot verify the chain in {}", data.display()))?;
    // The order and the time go to the log, so that stdout is the same in every order.
    tracing::info!(
        %order,
        batches = report.batches,
        moves = report.moves,
        violations = report.violations.len(),
        secs = format_args!("{:.3}", t.elapsed().as_secs_f64()),
        "chain verified by set reconciliation"
    );
    if as_json {
        out!("{}", report.to_json());
    } else {
        out!("{report}");
        for v in report.violations.iter().take(MAX_SHOWN_VIOLATIONS) {
            out!("  {v}");
        }
        if report.violations.len() > MAX_SHOWN_VIOLATIONS {
            out!(
                "  ... and {} more (--json lists them all)",
                report.violations.len() - MAX_SHOWN_VIOLATIONS
            );
        }
        if report.ok() {
            out!("OK: the chain reconciles");
        } else {
            out!("VIOLATIONS: the chain does not reconcile");
        }
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn inspect(data: &Path, as_json: bool) -> Result<ExitCode> {
    let v = open(data)?;
    let store = v.store();
    let (genesis, txs, code, headers) = store
        .counts()
        .with_context(|| format!("cannot read {}", data.display()))?;
    let head = *v.head();
    let disk = store.disk_bytes();
    if as_json {
        let out = serde_json::json!({
            "height": head.height,
            "head_hash": header_json(&head)["hash"],
            "state_hash": format!("{}", v.state_hash()),
            "chain_id": v.chain_id(),
            "head": header_json(&head),
            "entries": {"genesis": genesis, "txs": txs, "code": code, "headers": headers},
            "index_entries": v.index_len(),
            "disk_bytes": disk,
        });
        out!("{out}");
    } else {
        out!("data directory:  {}", data.display());
        out!("chain id:        {}", v.chain_id());
        out!("height:          {}", head.height);
        out!("head hash:       {}", mf_format::header_hash(&head));
        out!("state hash:      {}", v.state_hash());
        out!(
            "entries:         genesis versions {genesis}, transactions {txs}, code {code}, headers {headers}"
        );
        out!("index entries:   {}", v.index_len());
        out!(
            "size on disk:    {} bytes ({:.1} MiB)",
            disk,
            disk as f64 / (1 << 20) as f64
        );
    }
    Ok(ExitCode::SUCCESS)
}
