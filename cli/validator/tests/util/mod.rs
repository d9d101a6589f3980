//! Helpers shared by the process-level tests: run the real `mf-validator` binary, with
//! bounded waits, and kill what was started when a test fails.

#![allow(dead_code)] // not every helper is used

#[path = "../../../../movegen/tests/util/mod.rs"]
pub mod fixtures;
pub mod http;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_mf-validator");
/// The time `gen_sample` makes its transactions declare, and the `--fixed-time` that
/// replays them: the header times stay within the context window (PROTOCOL.md §6.3.1)
/// however long a test takes.
pub const SAMPLE_TIME: &str = "1700000000";

/// Runs `mf-validator ARGS` to completion (at most `limit`), returning its output.
pub fn run(args: &[&str]) -> Output {
    run_limited(args, Duration::from_secs(60))
}

/// Like [`run`] with an explicit time limit; the process is killed past it.
pub fn run_limited(args: &[&str], limit: Duration) -> Output {
    let child = Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mf-validator");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait for mf-validator"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("mf-validator {args:?} ran past {limit:?}");
        }
    }
}

/// Runs and requires success; returns stdout.
pub fn run_ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "mf-validator {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `gen` into `out`; returns the batch files in order.
pub fn gen_sample(out: &Path, accounts: usize, txs: usize, batch_size: usize) -> Vec<PathBuf> {
    run_ok(&[
        "gen",
        "--out",
        p(out),
        "--accounts",
        &accounts.to_string(),
        "--txs",
        &txs.to_string(),
        "--batch-size",
        &batch_size.to_string(),
        "--seed",
        "7",
        "--time",
        SAMPLE_TIME,
    ]);
    let n = txs.div_ceil(batch_size);
    let files: Vec<PathBuf> = (1..=n)
        .map(|i| out.join(format!("batch-{i:06}.bin")))
        .collect();
    for f in &files {
        assert!(f.exists(), "gen did not write {}", f.display());
    }
    files
}

/// A path as `&str` (temp paths are UTF-8 here).
pub fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// `inspect --json`.
pub fn inspect(data: &Path) -> serde_json::Value {
    let out = run_ok(&["inspect", "--data", p(data), "--json"]);
    serde_json::from_str(out.trim()).expect("inspect --json prints JSON")
}

/// Height and state hash from `inspect --json`.
pub fn height_and_hash(data: &Path) -> (u64, String) {
    let j = inspect(data);
    (
        j["height"].as_u64().expect("height"),
        j["state_hash"].as_str().expect("state_hash").to_string(),
    )
}

/// A child process that is killed (SIGKILL) and reaped when dropped.
pub struct Guard(pub Option<Child>);

impl Guard {
    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("child")
    }
    pub fn pid(&self) -> u32 {
        self.0.as_ref().expect("child").id()
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

/// Starts `serve` on a free loopback port; returns the guard and the address it printed.
pub fn start_server(data: &Path, extra: &[&str]) -> (Guard, String) {
    let mut args = vec!["serve", "--data", p(data), "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut child = Command::new(BIN)
        .args(&args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn serve");
    let stdout = child.stdout.take().expect("stdout");
    let guard = Guard(Some(child));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        while let Some(Ok(line)) = lines.next() {
            if let Some(addr) = line.strip_prefix("listening on ") {
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("serve prints its address within 30 s");
    (guard, addr)
}

/// Sends SIGTERM to `pid` and waits (bounded) for a clean exit.
pub fn terminate(guard: &mut Guard, limit: Duration) -> std::process::ExitStatus {
    let pid = guard.pid().to_string();
    let st = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(st.success(), "kill -TERM {pid}");
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(s) = guard.child().try_wait().expect("try_wait") {
            guard.0 = None;
            return s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "serve did not stop within {limit:?} of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
