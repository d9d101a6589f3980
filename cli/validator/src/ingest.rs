//! `demo`, `gen`, `init` and `ingest`: sample batches, a data directory from a genesis,
//! and batch files ingested with progress and a summary.
use crate::inspect::check;
use crate::{open, pin_clock};
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mf_format::Status;
use mf_validator::Timings;
use mf_validator::genesis::Genesis;
use mf_validator::sample::{GenConfig, generate};
use mf_validator::store::Store;
use mf_validator::{ApplyError, Mode, Validator};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

pub(crate) fn demo(dir: Option<PathBuf>, cfg: &GenConfig) -> Result<ExitCode> {
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
    // The sample declares the time it was generated at: the headers take that time, so the
    // batches are in the context window however long generating them took.
    let code = ingest(&data, Mode::Strict, Some(cfg.time_s), None, &files)?;
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

pub(crate) fn init(data: &Path, genesis_path: &Path) -> Result<ExitCode> {
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

pub(crate) fn gen_sample(out: &Path, cfg: &GenConfig) -> Result<ExitCode> {
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

/// Reads `--header-times`: one header time in milliseconds per line, for the batch files in
/// order.
fn read_header_times(path: &Path, files: usize) -> Result<Vec<u64>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the header times {}", path.display()))?;
    let times = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, l)| {
            l.parse::<u64>().with_context(|| {
                format!(
                    "{} line {}: {l:?} is not a time in milliseconds",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect::<Result<Vec<u64>>>()?;
    if times.len() < files {
        bail!(
            "{} holds {} header times for {files} batch files: give one per file, in order",
            path.display(),
            times.len()
        );
    }
    Ok(times)
}

pub(crate) fn ingest(
    data: &Path,
    mode: Mode,
    fixed_time: Option<u64>,
    header_times: Option<&Path>,
    files: &[PathBuf],
) -> Result<ExitCode> {
    let mut v = open(data)?;
    pin_clock(&mut v, fixed_time);
    // A replay with its producer's header times: the clock reads the time of the file being
    // applied.
    let replay_times = header_times
        .map(|p| read_header_times(p, files.len()))
        .transpose()?;
    let replay_now = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    if replay_times.is_some() {
        let now = std::sync::Arc::clone(&replay_now);
        v.set_clock(move || now.load(std::sync::atomic::Ordering::SeqCst));
    }
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
    mf_cli::set_progress(Some(pb.clone()));
    let mut st = IngestStats::default();
    let t0 = Instant::now();
    for (i, file) in files.iter().enumerate() {
        if let Some(t) = replay_times.as_ref().and_then(|t| t.get(i)) {
            replay_now.store(*t, std::sync::atomic::Ordering::SeqCst);
        }
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
                mf_cli::set_progress(None);
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
    mf_cli::set_progress(None);
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
