//! The crash harness (issue 7 item 2): the validator is killed with SIGKILL at random
//! moments, (a) while it ingests batch files and (b) while it serves a coordinator and
//! direct `POST /batch` clients under load. Nothing may be half-applied, the final state
//! must equal an uninterrupted run's, and no receipt handed to a client may be lost.
//!
//! (a) `crash_kill_9_while_ingesting`: sample batches are generated once and ingested
//! without interruption (the reference: its header at every height, read over HTTP). Each
//! trial starts from a fresh `init`, kills `ingest` after a random delay within the time a
//! whole ingest takes, and then, on the dead process's data directory: `check` passes
//! (recomputed state hash = stored = head header's, so no batch is half-applied), the head
//! at height `h` has the reference's state hash, tx root and receipts root at `h`, the
//! store holds exactly `h + 1` headers and the reference's number of transactions up to `h`,
//! and `verify-chain --order shuffle` finds no violation. The ingest is then resumed:
//! even trials pass the files not yet applied (file `k` is height `k`), odd trials pass
//! every file again in filter mode, where the already-applied ones must be no-ops (nothing
//! accepted: replay is impossible). The final state hash and roots must be the reference's.
//!
//! (b) `crash_kill_9_while_serving_a_coordinator`: a validator `serve`s with a coordinator
//! in front. One thread streams intents (token payments and hot-pool swaps) through the
//! coordinator and follows them to their verdicts. Another posts batches straight to
//! `POST /batch`: ETH payments from wallets of its own, two chained per wallet per batch,
//! built against its own exact view of those wallets (it takes in exactly what the
//! validator accepted, so a rejection would mean the chain lost something it receipted);
//! it records every receipt and header hash it gets back, and resolves a post that got no
//! answer from the chain once the validator is back. Each trial waits a random 30-400 ms,
//! then (by trial, one in three each) kills the validator with SIGKILL at once, or as soon
//! as `/metrics` shows it applying a batch, or as soon as a direct post's receipt arrives
//! (a receipt given out before its batch is durable is lost then). It then runs `check` on
//! the data directory (must pass; its height must cover every receipt returned so far),
//! every fifth trial also `verify-chain`, restarts the validator on the same address and
//! data directory, and waits for the load to resume (a new receipt, the coordinator
//! following again). At the end: every
//! receipt returned as accepted at height `H` (direct or through the coordinator) names a
//! transaction that the chain holds at `H` with an accepted receipt, and the header at `H`
//! is the one returned; the direct posts in the chain are exactly the receipted ones plus
//! the unanswered ones found applied; every acknowledged intent is known, final, with the
//! verdict the client saw (and a reason when rejected); the coordinator's transactions in
//! the chain are exactly the ones it reported accepted; the coordinator ends on the
//! validator's head; after a clean stop `check` and `verify-chain --order shuffle` pass;
//! and the chain's batches (`GET /batch/{h}`) ingested in strict mode into a fresh
//! validator give the same height and state hash.
//!
//! `MF_CRASH_TRIALS` (default 12) is the number of trials (kills) in all, split between
//! (a) and (b), (a) taking the odd one; `MF_CRASH_SEED` changes the random moments;
//! `MF_CRASH_DIRECT_PAUSE_MS` (default 20) is the pause between direct posts (smaller:
//! more direct load, and a coordinator that lags further behind the feed). Each trial
//! prints a line on stderr (`--no-capture` shows them).

use crate::util::*;
use mf_devkit::devnet::{CHAIN_ID, DevnetWorld, Op, build_intent};
use mf_devkit::process::Proc;
use mf_devkit::units;
use mf_format::{B256, Batch, TxId, U256, decode_batch, tx_id};
use mf_movegen::remote::{RemoteView, RpcClient, http_agent};
use mf_movegen::rpc::{HeadJson, IntentState};
use mf_movegen::{MemoryView, SignPolicy, TxBuilder};
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Configuration and randomness.

/// `(ingest trials, serve trials)` from `MF_CRASH_TRIALS` (default 12 in all).
fn trials() -> (usize, usize) {
    let total = env_u64("MF_CRASH_TRIALS", 12) as usize;
    (total.div_ceil(2), total / 2)
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(s) => s
            .trim()
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("{name}={s:?} is not a number")),
        Err(_) => default,
    }
}

fn seed() -> u64 {
    env_u64("MF_CRASH_SEED", 0x0c2a_54ed)
}

// ---------------------------------------------------------------------------------------
// Running mf-validator.

/// The time the sample transactions declare (`gen --time`) and the header time their
/// replays pin (`ingest --fixed-time`), so that they stay in the context window.
const SAMPLE_TIME: &str = "1700000000";

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Runs `mf-validator ARGS` to completion (killed past two minutes).
fn run_v(args: &[&str]) -> Output {
    let child = Command::new(validator_bin())
        .args(args)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mf-validator");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(out) => out.expect("wait for mf-validator"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("mf-validator {args:?} ran past 120 s");
        }
    }
}

/// A child process that is killed (SIGKILL) and reaped when dropped.
struct Guard(Option<std::process::Child>);

impl Guard {
    fn child(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("child")
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn describe(args: &[&str], out: &Output) -> String {
    format!(
        "mf-validator {args:?} ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs and requires success; returns stdout.
fn run_v_ok(args: &[&str]) -> String {
    let out = run_v(args);
    assert!(out.status.success(), "failed: {}", describe(args, &out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `check`: requires success and recomputed = stored = head header state hash; returns
/// `(height, state hash)`.
fn check_ok(data: &Path, what: &str) -> (u64, String) {
    let args = ["check", "--data", s(data)];
    let out = run_v(&args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what}: check fails, the store is inconsistent: {}",
        describe(&args, &out)
    );
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("check prints {name:?}:\n{text}"))
    };
    let (fresh, stored, head) = (
        field("recomputed state hash:"),
        field("stored state hash:"),
        field("head header state:"),
    );
    assert!(
        fresh == stored && stored == head,
        "{what}: half-applied state: {text}"
    );
    (field("height:").parse().expect("height"), stored)
}

/// `verify-chain --order shuffle --json`: requires no violation, a state hash checked at
/// every height and `batches` batches; returns the transactions it reconciled.
fn verify_chain_ok(data: &Path, seed: u64, batches: u64, what: &str) -> u64 {
    let seed = seed.to_string();
    let args = [
        "verify-chain",
        "--data",
        s(data),
        "--order",
        "shuffle",
        "--seed",
        &seed,
        "--json",
    ];
    let out = run_v(&args);
    let report: Json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{what}: verify-chain JSON ({e}): {}", describe(&args, &out)));
    assert!(
        out.status.success() && report["ok"] == Json::Bool(true),
        "{what}: the chain does not reconcile: {}",
        describe(&args, &out)
    );
    assert_eq!(
        (
            report["batches"].as_u64(),
            report["state_hashes_checked"].as_u64()
        ),
        (Some(batches), Some(batches + 1)),
        "{what}: verify-chain did not see every batch: {report}"
    );
    report["txs"].as_u64().expect("txs")
}

fn inspect_json(data: &Path) -> Json {
    let out = run_v_ok(&["inspect", "--data", s(data), "--json"]);
    serde_json::from_str(out.trim()).expect("inspect --json prints JSON")
}

/// `(applied, nothing accepted, refused)` from the summary line of `ingest`.
fn ingest_summary(stdout: &str) -> (u64, u64, u64) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("ingested "))
        .unwrap_or_else(|| panic!("no summary line in:\n{stdout}"));
    let rest = line.split_once(": ").expect("summary").1;
    let nums: Vec<u64> = rest
        .split(", ")
        .map(|part| {
            part.split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("summary {line:?}"))
        })
        .collect();
    assert_eq!(nums.len(), 3, "summary {line:?}");
    (nums[0], nums[1], nums[2])
}

fn serve_args(data: &Path, listen: &str) -> Vec<String> {
    ["serve", "--data", s(data), "--listen", listen]
        .iter()
        .map(|x| x.to_string())
        .collect()
}

/// Starts `serve` on `listen`, retrying while the address is not free yet.
fn start_serve(data: &Path, listen: &str, log: &Path) -> (Proc, String) {
    let mut last = String::new();
    for _ in 0..100 {
        match Proc::start(
            "mf-validator",
            &validator_bin(),
            &serve_args(data, listen),
            log,
        ) {
            Ok(x) => return x,
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "the validator does not restart on {listen}: {last}\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

// ---------------------------------------------------------------------------------------
// HTTP.

fn get(agent: &ureq::Agent, url: &str) -> Result<(u16, Vec<u8>), String> {
    let mut r = agent.get(url).call().map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let body = r
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    Ok((status, body))
}

fn get_json(agent: &ureq::Agent, url: &str) -> Result<Json, String> {
    match get(agent, url)? {
        (200, body) => serde_json::from_slice(&body).map_err(|e| format!("{url}: {e}")),
        (status, body) => Err(format!(
            "{url}: {status} {}",
            String::from_utf8_lossy(&body)
        )),
    }
}

fn hex_id(v: &Json) -> TxId {
    B256::from_str(v.as_str().expect("a hex id")).expect("a 32-byte id")
}

fn field_str(j: &Json, name: &str) -> String {
    j[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {j}"))
        .to_string()
}

// ---------------------------------------------------------------------------------------
// (a) Killed while ingesting.

/// The uninterrupted run's header at one height.
struct RefHeader {
    state_hash: String,
    tx_root: String,
    receipts_root: String,
    /// Transactions stored up to and including this height.
    txs: u64,
}

/// Reads every header and receipt list of a data directory over HTTP (`serve`).
fn reference_headers(data: &Path, n: u64, log: &Path) -> Vec<RefHeader> {
    let (mut proc, addr) = start_serve(data, "127.0.0.1:0", log);
    let agent = http_agent(Some(Duration::from_secs(30)));
    let mut out = Vec::new();
    let mut txs = 0u64;
    for h in 0..=n {
        let hdr = get_json(&agent, &format!("http://{addr}/header/{h}")).expect("header");
        if h > 0 {
            let r = get_json(&agent, &format!("http://{addr}/receipts/{h}")).expect("receipts");
            let receipts = r["receipts"].as_array().expect("receipts");
            assert!(
                receipts.iter().all(|r| r["status"] == "accepted"),
                "the sample has a rejected transaction at {h}"
            );
            txs += receipts.len() as u64;
        }
        out.push(RefHeader {
            state_hash: field_str(&hdr, "state_hash"),
            tx_root: field_str(&hdr, "tx_root"),
            receipts_root: field_str(&hdr, "receipts_root"),
            txs,
        });
    }
    proc.stop(Duration::from_secs(10));
    out
}

/// The head of `data` has the reference's hashes at its height.
fn assert_head_matches(data: &Path, refs: &[RefHeader], what: &str) -> u64 {
    let j = inspect_json(data);
    let h = j["height"].as_u64().expect("height");
    let r = refs
        .get(h as usize)
        .unwrap_or_else(|| panic!("{what}: height {h} beyond the reference"));
    let head = &j["head"];
    assert_eq!(
        field_str(head, "state_hash"),
        r.state_hash,
        "{what}: the state at height {h} differs from the uninterrupted run's"
    );
    assert_eq!(
        field_str(head, "tx_root"),
        r.tx_root,
        "{what}: the transactions of height {h} differ from the uninterrupted run's"
    );
    assert_eq!(
        field_str(head, "receipts_root"),
        r.receipts_root,
        "{what}: the receipts of height {h} differ from the uninterrupted run's"
    );
    assert_eq!(
        j["entries"]["headers"].as_u64(),
        Some(h + 1),
        "{what}: headers stored beside height {h}: {j}"
    );
    assert_eq!(
        j["entries"]["txs"].as_u64(),
        Some(r.txs),
        "{what}: transactions stored up to height {h}: {j}"
    );
    h
}

#[test]
fn crash_kill_9_while_ingesting() {
    let (trials, _) = trials();
    let t0 = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let sample = tmp.path().join("sample");
    run_v_ok(&[
        "gen",
        "--out",
        s(&sample),
        "--accounts",
        "100",
        "--txs",
        "1200",
        "--batch-size",
        "30",
        "--seed",
        "7",
        "--time",
        SAMPLE_TIME,
    ]);
    let n = 40u64;
    let files: Vec<PathBuf> = (1..=n)
        .map(|i| sample.join(format!("batch-{i:06}.bin")))
        .collect();
    assert!(files.iter().all(|f| f.exists()), "gen wrote {n} files");
    let genesis = sample.join("genesis.json");
    let file_args = |from: u64| {
        files[from as usize..]
            .iter()
            .map(|f| s(f))
            .collect::<Vec<_>>()
    };

    // The uninterrupted reference.
    let reference = tmp.path().join("reference");
    run_v_ok(&["init", "--data", s(&reference), "--genesis", s(&genesis)]);
    let mut args = vec![
        "ingest",
        "--fixed-time",
        SAMPLE_TIME,
        "--data",
        s(&reference),
    ];
    args.extend(file_args(0));
    let t = Instant::now();
    let out = run_v_ok(&args);
    let full = t.elapsed();
    assert_eq!(ingest_summary(&out), (n, 0, 0), "{out}");
    let (ref_h, ref_hash) = check_ok(&reference, "reference");
    assert_eq!(ref_h, n);
    let refs = reference_headers(&reference, n, &tmp.path().join("reference-serve.log"));
    assert_eq!(refs[n as usize].state_hash, ref_hash);
    assert_eq!(refs[n as usize].txs, 1200);
    assert_eq!(assert_head_matches(&reference, &refs, "reference"), n);
    eprintln!(
        "[ingest] reference: {n} batches, 1200 transactions, ingest {full:?}, state hash {ref_hash}"
    );

    let mut rng = SplitMix64(seed());
    // Kill moments are drawn within the time a whole ingest takes (process start-up
    // included); shrunk when an ingest finishes before its kill.
    let mut max_ms = (full.as_millis() as u64 * 11 / 10).max(20);
    let (mut at_start, mut mid, mut at_end, mut too_late) = (0, 0, 0, 0);
    for t in 0..trials {
        let data = tmp.path().join(format!("trial-{t}"));
        let mut attempts = 0;
        let delay = loop {
            attempts += 1;
            assert!(attempts <= 30, "trial {t}: ingest always finished first");
            if data.exists() {
                std::fs::remove_dir_all(&data).expect("remove");
            }
            run_v_ok(&["init", "--data", s(&data), "--genesis", s(&genesis)]);
            let delay = Duration::from_millis(rng.below(max_ms));
            let mut child = Guard(Some(
                Command::new(validator_bin())
                    .args(["ingest", "--fixed-time", SAMPLE_TIME, "--data", s(&data)])
                    .args(file_args(0))
                    .env("RUST_LOG", "warn")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("spawn ingest"),
            ));
            std::thread::sleep(delay);
            match child.child().try_wait().expect("try_wait") {
                None => {
                    child.child().kill().expect("SIGKILL");
                    child.child().wait().expect("reap");
                    child.0 = None;
                    break delay;
                }
                Some(status) => {
                    assert!(status.success(), "trial {t}: ingest failed alone: {status}");
                    child.0 = None;
                    too_late += 1;
                    max_ms = (max_ms * 3 / 4).max(5);
                }
            }
        };

        // Nothing half-applied: the dead process left whole batches only, the reference's.
        let what = format!("trial {t} (killed after {delay:?})");
        let (h, _) = check_ok(&data, &what);
        assert!(h <= n, "{what}: height {h} > {n}");
        assert_eq!(assert_head_matches(&data, &refs, &what), h);
        let verified = verify_chain_ok(&data, t as u64, h, &what);
        assert_eq!(
            verified, refs[h as usize].txs,
            "{what}: verify-chain reconciled {verified} transactions"
        );
        match h {
            0 => at_start += 1,
            h if h == n => at_end += 1,
            _ => mid += 1,
        }

        // Resume: the files not yet applied, or all of them again (replays are no-ops).
        let resume = if t % 2 == 0 {
            if h < n {
                let mut args = vec!["ingest", "--fixed-time", SAMPLE_TIME, "--data", s(&data)];
                args.extend(file_args(h));
                let out = run_v_ok(&args);
                assert_eq!(ingest_summary(&out), (n - h, 0, 0), "{what}: resume\n{out}");
            }
            format!("resumed with files {}..={n}", h + 1)
        } else {
            let mut args = vec![
                "ingest",
                "--fixed-time",
                SAMPLE_TIME,
                "--data",
                s(&data),
                "--mode",
                "filter",
            ];
            args.extend(file_args(0));
            let out = run_v_ok(&args);
            assert_eq!(
                ingest_summary(&out),
                (n - h, h, 0),
                "{what}: re-ingesting every file must apply exactly the missing ones\n{out}"
            );
            format!("re-ingested all {n} files ({h} replays, nothing accepted)")
        };
        let (fh, fhash) = check_ok(&data, &what);
        assert_eq!((fh, &fhash), (n, &ref_hash), "{what}: final state");
        assert_eq!(assert_head_matches(&data, &refs, &what), n);
        eprintln!(
            "[ingest {t:3}] SIGKILL after {:4} ms: height {h:2}/{n} ({} txs stored), check OK, \
             verify-chain OK; {resume}; final height {fh}, state hash = reference",
            delay.as_millis(),
            refs[h as usize].txs
        );
        std::fs::remove_dir_all(&data).expect("remove");
    }
    eprintln!(
        "[ingest] {trials} kills: {at_start} before the first batch, {mid} between batches, \
         {at_end} after the last; {too_late} ingests finished before their kill (redrawn); \
         {:?}",
        t0.elapsed()
    );
    assert!(
        mid >= trials / 4,
        "too few kills landed between batches: {mid} of {trials}"
    );
}

// ---------------------------------------------------------------------------------------
// (b) Killed while serving.

/// Wallets driven through the coordinator.
const CWALLETS: usize = 8;
/// Wallets whose batches go straight to `POST /batch` (wallet `CWALLETS + d` pays ETH to
/// merchant `d`; the coordinator's wallets pay tokens, so the two never touch the same key).
const DWALLETS: usize = 4;

#[derive(Default)]
struct Progress {
    /// The highest height of a receipt returned as accepted (direct or coordinator).
    max_height: AtomicU64,
    direct_accepted: AtomicU64,
    direct_batches: AtomicU64,
    /// `200` answers to direct posts (bumped as soon as one arrives).
    answers: AtomicU64,
    unknown: AtomicU64,
    acked: AtomicU64,
    coord_accepted: AtomicU64,
}

#[derive(Default)]
struct DirectLog {
    /// Every transaction posted.
    posted: BTreeSet<TxId>,
    /// `(tx, height)` of every receipt returned as accepted.
    accepted: Vec<(TxId, u64)>,
    /// Height -> the header hash returned with it.
    headers: BTreeMap<u64, String>,
    /// Receipts returned as rejected, by reason.
    rejected: BTreeMap<String, u64>,
    busy: u64,
    /// Posts whose answer never came (the validator died), resolved afterwards from the
    /// chain: `(tx, height)` of those found applied, and the ids of those not applied.
    unknown: u64,
    found_applied: Vec<(TxId, u64)>,
    not_applied: BTreeSet<TxId>,
    /// Answers that should never happen.
    unexpected: Vec<String>,
}

/// Reads the validator's head height, waiting (up to 60 s) while it is down.
fn wait_head(agent: &ureq::Agent, vurl: &str) -> Option<u64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(j) = get_json(agent, &format!("{vurl}/head"))
            && let Some(h) = j["height"].as_u64()
        {
            return Some(h);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// Builds batches of ETH payments from the direct wallets (two chained transactions per
/// wallet: the second spends the account version the first creates) and posts them to the
/// validator until `stop`. Only this thread touches those wallets and their merchants, so
/// it keeps their state itself: a [`MemoryView`] that takes in exactly the transactions the
/// validator accepted. A post that gets no answer (the validator was killed) is resolved
/// from the chain once the validator is back: it can only be in a batch above the head
/// read before posting.
fn post_direct(
    world: &DevnetWorld,
    vurl: &str,
    stop: &AtomicBool,
    progress: &Progress,
) -> DirectLog {
    let pause = Duration::from_millis(env_u64("MF_CRASH_DIRECT_PAUSE_MS", 20));
    let mut view: MemoryView = world.view.clone();
    let agent = http_agent(Some(Duration::from_secs(30)));
    let mut log = DirectLog::default();
    let mut round = 0u64;
    while !stop.load(SeqCst) {
        round += 1;
        let Ok(head) = get_json(&agent, &format!("{vurl}/head")) else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let before = head["height"].as_u64().expect("height");
        let ctx = next_block(before);
        let mut draft = view.clone();
        let mut txs = Vec::new();
        for d in 0..DWALLETS {
            for k in 0..2u64 {
                let built = TxBuilder::transfer(
                    CHAIN_ID,
                    world.merchants[d],
                    U256::from(1 + (round + d as u64 + k) % 7),
                )
                .context(ctx)
                .sign_policy(SignPolicy::all())
                .fee(mf_devkit::devnet::WALLET_FEE)
                .rules(mf_devkit::devnet::rules())
                .build(&draft, &world.wallets[CWALLETS + d], &[])
                .expect("a payment from a funded wallet builds");
                draft.apply(&built.tx.body).expect("applies to the draft");
                txs.push(built.tx);
            }
        }
        let ids: Vec<TxId> = txs.iter().map(|t| tx_id(&t.body)).collect();
        log.posted.extend(ids.iter().copied());
        let bytes = mf_format::encode(&Batch { txs: txs.clone() });
        let answer = agent
            .post(format!("{vurl}/batch"))
            .header("content-type", "application/octet-stream")
            .send(&bytes[..])
            .map_err(|e| e.to_string())
            .and_then(|mut r| {
                let status = r.status().as_u16();
                r.body_mut()
                    .read_to_string()
                    .map(|b| (status, b))
                    .map_err(|e| e.to_string())
            });
        let accepted_ids: BTreeSet<TxId> = match answer {
            Err(_) => {
                // No answer: find out from the chain what became of it.
                log.unknown += 1;
                progress.unknown.fetch_add(1, SeqCst);
                let Some(now) = wait_head(&agent, vurl) else {
                    log.unexpected
                        .push("the validator did not come back within 60 s".into());
                    break;
                };
                let mut found = BTreeSet::new();
                for h in before + 1..=now {
                    let batch = get(&agent, &format!("{vurl}/batch/{h}"))
                        .ok()
                        .filter(|(status, _)| *status == 200)
                        .and_then(|(_, b)| decode_batch(&b).ok());
                    let Some(batch) = batch else {
                        log.unexpected.push(format!("GET /batch/{h} failed"));
                        continue;
                    };
                    for t in &batch.txs {
                        let id = tx_id(&t.body);
                        if ids.contains(&id) {
                            found.insert(id);
                            log.found_applied.push((id, h));
                        }
                    }
                }
                log.not_applied
                    .extend(ids.iter().filter(|id| !found.contains(*id)).copied());
                found
            }
            Ok((503, _)) => {
                log.busy += 1;
                std::thread::sleep(Duration::from_millis(20));
                BTreeSet::new()
            }
            Ok((200, body)) => {
                progress.answers.fetch_add(1, SeqCst);
                let j: Json = serde_json::from_str(&body).unwrap_or(Json::Null);
                let receipts = j["receipts"].as_array().cloned().unwrap_or_default();
                let got: Vec<TxId> = receipts.iter().map(|r| hex_id(&r["tx_id"])).collect();
                if got != ids {
                    log.unexpected
                        .push(format!("receipts for other transactions: {body}"));
                    continue;
                }
                let height = j["height"].as_u64();
                let mut accepted = BTreeSet::new();
                for r in &receipts {
                    if r["status"] == "accepted" {
                        let Some(h) = height else {
                            log.unexpected
                                .push(format!("an accepted receipt without a height: {body}"));
                            continue;
                        };
                        let id = hex_id(&r["tx_id"]);
                        accepted.insert(id);
                        log.accepted.push((id, h));
                        progress.direct_accepted.fetch_add(1, SeqCst);
                        progress.max_height.fetch_max(h, SeqCst);
                    } else {
                        let reason = r["status"].as_str().unwrap_or("?").to_string();
                        *log.rejected.entry(reason).or_default() += 1;
                    }
                }
                if let Some(h) = height {
                    progress.direct_batches.fetch_add(1, SeqCst);
                    let hash = j["header_hash"].as_str().unwrap_or_default().to_string();
                    if let Some(old) = log.headers.insert(h, hash.clone()) {
                        log.unexpected
                            .push(format!("height {h} returned twice: {old}, then {hash}"));
                    }
                }
                accepted
            }
            Ok((status, body)) => {
                log.unexpected.push(format!("{status}: {body}"));
                BTreeSet::new()
            }
        };
        // Leave the coordinator room: it is the main load.
        std::thread::sleep(pause);
        // The view takes in what the validator accepted, in batch order.
        for t in txs
            .iter()
            .filter(|t| accepted_ids.contains(&tx_id(&t.body)))
        {
            if let Err(e) = view.apply(&t.body) {
                log.unexpected
                    .push(format!("an accepted transaction does not apply: {e}"));
            }
        }
    }
    log
}

#[derive(Default)]
struct CoordLog {
    acked: Vec<TxId>,
    /// intent -> (state, filled tx id, height).
    verdicts: BTreeMap<TxId, (IntentState, Option<TxId>, Option<u64>)>,
    /// Wallet -> intent not final yet.
    inflight: BTreeMap<usize, TxId>,
    /// Verdicts that changed after being final, and rejections without a reason.
    unexpected: Vec<String>,
}

/// One intent per coordinator wallet not in flight (payments and hot-pool swaps).
fn submit_round(world: &DevnetWorld, client: &RpcClient, round: usize, log: &mut CoordLog) {
    let view = RemoteView::new(client.clone());
    let Ok(height) = client.block_number() else {
        return;
    };
    let ctx = next_block(height);
    for w in 0..CWALLETS {
        if log.inflight.contains_key(&w) {
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
            world.merchants[w % DWALLETS],
            units(1 + (round as u64 % 9)),
            ctx,
            true,
        ) else {
            continue; // the view lags; next round
        };
        if let Ok(id) = client.submit(&tx) {
            log.inflight.insert(w, id);
            log.acked.push(id);
        }
    }
}

/// Records the verdicts of intents in flight.
fn poll(client: &RpcClient, log: &mut CoordLog, progress: &Progress) {
    let ids: Vec<(usize, TxId)> = log.inflight.iter().map(|(w, id)| (*w, *id)).collect();
    if ids.is_empty() {
        return;
    }
    let wanted: Vec<TxId> = ids.iter().map(|(_, id)| *id).collect();
    let Ok(answers) = client.wait_any(&wanted, Duration::from_millis(100)) else {
        std::thread::sleep(Duration::from_millis(20));
        return;
    };
    for ((w, id), st) in ids.into_iter().zip(answers) {
        let Some(st) = st else { continue };
        if !st.status.is_final() {
            continue;
        }
        if st.status == IntentState::Rejected && st.reason.is_none() {
            log.unexpected
                .push(format!("a rejection without a reason: {st:?}"));
        }
        if let Some((old, _, _)) = log.verdicts.get(&id)
            && *old != st.status
        {
            log.unexpected
                .push(format!("the verdict of {id} changed: {old:?} -> {st:?}"));
        }
        let height = st.height.map(|h| h.to::<u64>());
        if st.status == IntentState::Accepted {
            progress.coord_accepted.fetch_add(1, SeqCst);
            if let Some(h) = height {
                progress.max_height.fetch_max(h, SeqCst);
            }
        }
        log.verdicts.insert(id, (st.status, st.tx_id, height));
        log.inflight.remove(&w);
    }
}

/// Streams intents through the coordinator until `stop`, then waits (bounded) for the
/// ones in flight.
fn drive_coordinator(
    world: &DevnetWorld,
    client: &RpcClient,
    stop: &AtomicBool,
    progress: &Progress,
) -> CoordLog {
    let mut log = CoordLog::default();
    let mut round = 0;
    while !stop.load(SeqCst) {
        let before = log.acked.len();
        submit_round(world, client, round, &mut log);
        progress
            .acked
            .fetch_add((log.acked.len() - before) as u64, SeqCst);
        round += 1;
        poll(client, &mut log, progress);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !log.inflight.is_empty() && Instant::now() < deadline {
        poll(client, &mut log, progress);
    }
    log
}

#[test]
fn crash_kill_9_while_serving_a_coordinator() {
    let (_, trials) = trials();
    let t0 = Instant::now();
    let world = DevnetWorld::new(CWALLETS + DWALLETS, DWALLETS, 0).expect("world");
    let mut net = Net::start(world.clone());
    let vdata = net.dir.path().join("validator");
    let addr = net.validator_addr();
    let vurl = net.vurl.clone();
    let (mut coordinator, client) = net.coordinator("coordinator", &["--batch-ms", "10"]);

    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(Progress::default());
    let coord_thread = {
        let (world, client, stop, progress) = (
            world.clone(),
            client.clone(),
            Arc::clone(&stop),
            Arc::clone(&progress),
        );
        std::thread::spawn(move || drive_coordinator(&world, &client, &stop, &progress))
    };
    let direct_thread = {
        let (world, vurl, stop, progress) = (
            world.clone(),
            vurl.clone(),
            Arc::clone(&stop),
            Arc::clone(&progress),
        );
        std::thread::spawn(move || post_direct(&world, &vurl, &stop, &progress))
    };

    let agent = http_agent(Some(Duration::from_secs(5)));
    let mut rng = SplitMix64(seed() ^ 0xb0b0);
    let mut mid_apply = 0;
    let mut after_receipt = 0;
    let mut last_kill_height = 0;
    for t in 0..trials {
        let delay = Duration::from_millis(30 + rng.below(371));
        std::thread::sleep(delay);
        // Then, by trial: kill at once; or as soon as /metrics shows a batch being
        // applied; or as soon as a receipt has come back (a receipt given out before its
        // batch is durable would be lost here). Each waits up to 1 s.
        let mut moment = "";
        let until = Instant::now() + Duration::from_secs(1);
        match t % 3 {
            1 => {
                while Instant::now() < until {
                    if let Ok((200, body)) = get(&agent, &format!("{vurl}/metrics"))
                        && metric(&String::from_utf8_lossy(&body), "mf_applying") == 1
                    {
                        moment = " mid-apply";
                        mid_apply += 1;
                        break;
                    }
                }
            }
            2 => {
                let seen = progress.answers.load(SeqCst);
                while Instant::now() < until {
                    if progress.answers.load(SeqCst) > seen {
                        moment = " just after a receipt";
                        after_receipt += 1;
                        break;
                    }
                    std::hint::spin_loop();
                }
            }
            _ => {}
        }
        net.validator.kill();

        // The dead validator's store: whole batches only, and every receipt handed out.
        let what = format!("serve trial {t}");
        let (h, _) = check_ok(&vdata, &what);
        let receipted = progress.max_height.load(SeqCst);
        assert!(
            h >= receipted,
            "{what}: a receipt at height {receipted} was returned, but after the kill the \
             store ends at {h}: a receipt was lost"
        );
        assert!(h >= last_kill_height, "{what}: height went back to {h}");
        last_kill_height = h;
        let verified = if t % 5 == 4 || t + 1 == trials {
            verify_chain_ok(&vdata, t as u64, h, &what);
            ", verify-chain OK"
        } else {
            ""
        };

        let so_far = format!(
            "{} direct txs accepted in {} batches, {} of {} intents accepted, {} posts of \
             unknown fate",
            progress.direct_accepted.load(SeqCst),
            progress.direct_batches.load(SeqCst),
            progress.coord_accepted.load(SeqCst),
            progress.acked.load(SeqCst),
            progress.unknown.load(SeqCst),
        );
        let (validator, _) = start_serve(
            &vdata,
            &addr,
            &net.dir.path().join(format!("validator-{t}.log")),
        );
        net.validator = validator;
        // Under load again before the next kill: a receipt from the new process, and the
        // coordinator following it again.
        let restarted = Instant::now();
        while progress.max_height.load(SeqCst) <= h || client.block_number().unwrap_or(0) <= h {
            assert!(
                restarted.elapsed() < Duration::from_secs(30),
                "{what}: no receipt, or the coordinator not following, within 30 s of the restart"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        eprintln!(
            "[serve {t:3}] SIGKILL after {:3} ms{}: stored height {h} >= highest receipted \
             {receipted} (check OK{verified}); receipts so far: {so_far}; load resumed {} ms \
             after the restart",
            delay.as_millis(),
            moment,
            restarted.elapsed().as_millis(),
        );
    }

    // Progress after the last restart, then stop the load.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let head = get_json(&agent, &format!("{vurl}/head"))
            .ok()
            .and_then(|j| j["height"].as_u64())
            .unwrap_or(0);
        if head >= last_kill_height + 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no progress after the last restart (height {head}, {last_kill_height} at the kill)"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, SeqCst);
    let direct = direct_thread.join().expect("direct thread");
    let coord = coord_thread.join().expect("coordinator thread");
    // Everything wrong is collected, so that one run reports all of it.
    let mut problems: Vec<String> = Vec::new();
    problems.extend(
        direct
            .unexpected
            .iter()
            .map(|p| format!("validator answer: {p}")),
    );
    problems.extend(coord.unexpected.iter().map(|p| format!("coordinator: {p}")));
    if !coord.inflight.is_empty() {
        problems.push(format!("intents never finished: {:?}", coord.inflight));
    }

    // The chain as the validator serves it.
    let vhead = get_json(&agent, &format!("{vurl}/head")).expect("head");
    let head = vhead["height"].as_u64().expect("height");
    let replay = net.dir.path().join("replay");
    std::fs::create_dir_all(&replay).expect("mkdir");
    let mut chain: BTreeMap<TxId, u64> = BTreeMap::new();
    let mut credits = 0u64;
    let mut accepted_receipt: BTreeSet<(u64, TxId)> = BTreeSet::new();
    let mut files = Vec::new();
    // The replay below uses the producer's header times (the context window reads them).
    let mut header_times = String::new();
    for h in 1..=head {
        let hdr = get_json(&agent, &format!("{vurl}/header/{h}")).expect("header");
        header_times.push_str(&format!("{}\n", hdr["time_ms"]));
        let (status, bytes) = get(&agent, &format!("{vurl}/batch/{h}")).expect("batch");
        assert_eq!(status, 200, "GET /batch/{h}");
        let batch = decode_batch(&bytes).expect("a stored batch decodes");
        // The validator's fee credits are in the chain too; nobody sent them.
        credits += batch
            .txs
            .iter()
            .filter(|t| mf_format::is_fee_credit(t))
            .count() as u64;
        for tx in batch.txs.iter().filter(|t| !mf_format::is_fee_credit(t)) {
            let id = tx_id(&tx.body);
            if let Some(first) = chain.insert(id, h) {
                problems.push(format!("{id} is in the chain twice, at {first} and {h}"));
            }
        }
        if let Some(returned) = direct.headers.get(&h) {
            let hdr = get_json(&agent, &format!("{vurl}/header/{h}")).expect("header");
            if &field_str(&hdr, "hash") != returned {
                problems.push(format!(
                    "the header at {h} is not the one returned to the client: {hdr}, {returned}"
                ));
            }
        }
        let r = get_json(&agent, &format!("{vurl}/receipts/{h}")).expect("receipts");
        for rec in r["receipts"].as_array().expect("receipts") {
            if rec["status"] == "accepted" {
                accepted_receipt.insert((h, hex_id(&rec["tx_id"])));
            }
        }
        let f = replay.join(format!("batch-{h:06}.bin"));
        std::fs::write(&f, &bytes).expect("write");
        files.push(f);
    }
    let header_times_file = replay.join("header-times");
    std::fs::write(&header_times_file, header_times).expect("write");

    // No receipt returned as accepted is lost: the chain holds it at its height.
    let mut lost = 0;
    for (id, h) in &direct.accepted {
        if chain.get(id) != Some(h) || !accepted_receipt.contains(&(*h, *id)) {
            lost += 1;
            problems.push(format!(
                "LOST: direct {id} receipted at {h}; the chain has it at {:?}",
                chain.get(id)
            ));
        }
    }
    let mut coord_txs = BTreeSet::new();
    let mut coord_rejected: BTreeMap<String, u64> = BTreeMap::new();
    for (intent, (state, tx, height)) in &coord.verdicts {
        if *state != IntentState::Accepted {
            let reason = client
                .intent(intent)
                .ok()
                .flatten()
                .and_then(|st| st.reason)
                .unwrap_or_else(|| "(none)".into());
            *coord_rejected.entry(reason).or_default() += 1;
            continue;
        }
        let Some(tx) = *tx else {
            problems.push(format!("accepted intent {intent} names no transaction"));
            continue;
        };
        coord_txs.insert(tx);
        let at = chain.get(&tx);
        let ok = match height {
            Some(h) => at == Some(h) && accepted_receipt.contains(&(*h, tx)),
            None => at.is_some(),
        };
        if !ok {
            lost += 1;
            problems.push(format!(
                "LOST: intent {intent} reported accepted as {tx} at {height:?}; the chain has \
                 it at {at:?}"
            ));
        }
    }
    // Every acknowledged intent is known, final, with the verdict the client saw.
    for id in &coord.acked {
        match client.intent(id).expect("mf_getIntent") {
            None => problems.push(format!("acknowledged intent {id} was lost")),
            Some(st) if coord.verdicts.get(id).map(|v| v.0) != Some(st.status) => {
                problems.push(format!(
                    "the final verdict of {id} changed from {:?}: now {st:?}",
                    coord.verdicts.get(id)
                ))
            }
            Some(_) => {}
        }
    }
    // The chain holds exactly the coordinator's accepted transactions and direct posts.
    let from_coordinator: BTreeSet<TxId> = chain
        .keys()
        .filter(|id| !direct.posted.contains(*id))
        .copied()
        .collect();
    for id in from_coordinator.difference(&coord_txs) {
        problems.push(format!(
            "{id} (at {:?}) came through the coordinator, which did not report it accepted",
            chain.get(id)
        ));
    }
    // The direct posts in the chain are exactly the receipted ones and the unanswered ones
    // found applied after the restart, at those heights; the others are not in it.
    let direct_in_chain: BTreeMap<TxId, u64> = chain
        .iter()
        .filter(|(id, _)| direct.posted.contains(*id))
        .map(|(id, h)| (*id, *h))
        .collect();
    let direct_known: BTreeMap<TxId, u64> = direct
        .accepted
        .iter()
        .chain(&direct.found_applied)
        .copied()
        .collect();
    if direct_in_chain != direct_known {
        problems.push(format!(
            "the direct posts in the chain ({}) are not the receipted ones plus those found \
             applied ({})",
            direct_in_chain.len(),
            direct_known.len()
        ));
    }
    let direct_in_chain = direct_in_chain.len();
    if direct.not_applied.iter().any(|id| chain.contains_key(id)) {
        problems.push("a post resolved as not applied is in the chain".into());
    }
    // The poster's own view is exact, so a rejection means the chain lost what it receipted.
    if !direct.rejected.is_empty() {
        problems.push(format!(
            "direct transactions rejected: {:?}",
            direct.rejected
        ));
    }
    if direct.accepted.len() < 10 || coord_txs.len() < 10 {
        problems.push(format!(
            "too little progress: {} direct, {} through the coordinator",
            direct.accepted.len(),
            coord_txs.len()
        ));
    }

    // The coordinator ends on the validator's head.
    let vhash = field_str(&vhead, "hash");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ch: HeadJson = client
            .call("mf_getHead", serde_json::json!([]))
            .expect("head");
        if ch.height.to::<u64>() == head
            && format!("{:x}", ch.header_hash).trim_start_matches("0x")
                == vhash.trim_start_matches("0x")
        {
            break;
        }
        if Instant::now() > deadline {
            problems.push(format!(
                "the coordinator's head {ch:?} is not the validator's {vhead}"
            ));
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    // Stopped cleanly: the store checks, and the chain reconciles in a shuffled order.
    coordinator.stop(Duration::from_secs(10));
    net.validator.stop(Duration::from_secs(10));
    let flips = std::fs::read_to_string(net.dir.path().join("coordinator.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("reported rejected was accepted"))
        .count();
    if flips > 0 {
        problems.push(format!(
            "the coordinator logged {flips} intents reported rejected whose fill was then \
             accepted"
        ));
    }
    let final_hash = field_str(&vhead, "state_hash");
    assert_eq!(
        check_ok(&vdata, "after the serve trials"),
        (head, final_hash.clone())
    );
    assert_eq!(
        verify_chain_ok(&vdata, seed(), head, "after the serve trials"),
        chain.len() as u64 + credits
    );

    // The chain re-applied from its batches gives the same state.
    let fresh = net.dir.path().join("replayed");
    let genesis = net.dir.path().join("genesis.json");
    run_v_ok(&["init", "--data", s(&fresh), "--genesis", s(&genesis)]);
    let mut args = vec![
        "ingest",
        "--data",
        s(&fresh),
        "--mode",
        "strict",
        "--header-times",
        s(&header_times_file),
    ];
    args.extend(files.iter().map(|f| s(f)));
    let out = run_v_ok(&args);
    assert_eq!(ingest_summary(&out), (head, 0, 0), "replay:\n{out}");
    assert_eq!(
        check_ok(&fresh, "replayed chain"),
        (head, final_hash.clone()),
        "the chain re-applied from its batches has another state"
    );
    eprintln!(
        "[serve] {trials} kills ({mid_apply} mid-apply, {after_receipt} just after a receipt), final height {head}: {} direct txs \
         receipted ({} rejected, {} busy, {} posts of unknown fate of which {} txs were \
         applied, {direct_in_chain} in the chain); {} intents acknowledged, {} accepted, \
         rejected by reason {coord_rejected:?}; {lost} receipts lost; check, verify-chain and \
         the strict replay agree on {final_hash}; {:?}",
        direct.accepted.len(),
        direct.rejected.values().sum::<u64>(),
        direct.busy,
        direct.unknown,
        direct.found_applied.len(),
        coord.acked.len(),
        coord_txs.len(),
        t0.elapsed()
    );
    assert!(
        problems.is_empty(),
        "{} problems: {problems:#?}",
        problems.len()
    );
}
