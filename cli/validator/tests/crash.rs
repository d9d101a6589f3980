//! Crash safety of the real process: `kill -9` an ingesting validator at random moments
//! (deterministic seed), check the store after every kill, resume with the files not yet
//! applied, and require the same final state as an uninterrupted run.
//!
//! Per kill: `check` passes (the stored state hash equals the one recomputed from the live
//! set, so no batch is half-applied), the height never goes backwards, and the state hash at
//! height `h` equals the uninterrupted run's at `h` (batch file `k` applies at height `k`).

use crate::util::*;
use mf_validator::sample::SplitMix;
use mf_validator::store::Store;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Kills wanted (each while the ingest process is still running).
const KILLS: usize = 20;
/// Bound on the whole test; it normally takes far less.
const BUDGET: Duration = Duration::from_secs(90);

#[test]
fn kill_9_mid_ingest_loses_nothing_and_half_applies_nothing() {
    let t0 = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let sample = tmp.path().join("sample");
    // Small batches keep each restart cheap (opening replays the stored chain).
    let files = gen_sample(&sample, 100, 40 * 30, 30);
    let n = files.len() as u64;
    let genesis = sample.join("genesis.json");

    // The uninterrupted run, and its state hash at every height.
    let reference = tmp.path().join("reference");
    run_ok(&["init", "--data", p(&reference), "--genesis", p(&genesis)]);
    let mut args = vec![
        "ingest",
        "--fixed-time",
        SAMPLE_TIME,
        "--data",
        p(&reference),
    ];
    args.extend(files.iter().map(|f| p(f)));
    let t = Instant::now();
    run_ok(&args);
    let full_ingest = t.elapsed();
    let (ref_height, ref_hash) = height_and_hash(&reference);
    assert_eq!(ref_height, n);
    let ref_hashes: Vec<String> = {
        let store = Store::open(&reference, false).expect("open reference");
        (0..=n)
            .map(|h| {
                let hdr = store.header(h).expect("read").expect("header");
                format!("{}", hdr.state_hash)
            })
            .collect()
    };
    assert_eq!(ref_hashes[n as usize], ref_hash);
    eprintln!("uninterrupted ingest of {n} files: {full_ingest:?}");

    // Kill at random moments within 0-300 ms, over as many fresh rounds as it takes.
    let mut rng = SplitMix(0xc0ffee);
    let mut kills = 0usize;
    let mut kills_mid_batch_run = 0usize;
    let mut rounds = 0;
    while kills < KILLS {
        assert!(
            t0.elapsed() < BUDGET,
            "only {kills} kills within {BUDGET:?}"
        );
        rounds += 1;
        let data = tmp.path().join(format!("crash-{rounds}"));
        run_ok(&["init", "--data", p(&data), "--genesis", p(&genesis)]);
        let mut height = 0u64;
        let mut attempts = 0;
        while height < n {
            attempts += 1;
            assert!(attempts <= 200, "round {rounds} does not progress");
            assert!(t0.elapsed() < BUDGET, "test over budget");
            let mut cmd = Command::new(BIN);
            cmd.args(["ingest", "--fixed-time", SAMPLE_TIME, "--data", p(&data)])
                .args(&files[height as usize..])
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let mut child = Guard(Some(cmd.spawn().expect("spawn ingest")));
            let delay = Duration::from_millis(rng.below(301) as u64);
            std::thread::sleep(delay);
            let killed = match child.child().try_wait().expect("try_wait") {
                None => {
                    child.child().kill().expect("kill -9");
                    child.child().wait().expect("reap");
                    kills += 1;
                    true
                }
                Some(status) => {
                    assert!(status.success(), "ingest failed on its own: {status}");
                    false
                }
            };
            child.0 = None;

            // After every stop: the store is consistent and matches the reference.
            let out = run(&["check", "--data", p(&data)]);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "check after a kill at {delay:?} (round {rounds}):\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let (h, hash) = parse_check(&stdout);
            assert!(h >= height, "height went backwards: {height} -> {h}");
            assert!(h <= n);
            assert_eq!(
                hash, ref_hashes[h as usize],
                "state at height {h} differs from the uninterrupted run"
            );
            if killed && h > height && h < n {
                kills_mid_batch_run += 1;
            }
            height = h;
        }
        assert_eq!(height_and_hash(&data), (ref_height, ref_hash.clone()));
    }
    eprintln!(
        "{kills} kills ({kills_mid_batch_run} after some batches and before the last) in \
         {rounds} rounds, {:?}",
        t0.elapsed()
    );
    assert!(
        kills_mid_batch_run >= KILLS / 4,
        "too few kills landed between batches: {kills_mid_batch_run}"
    );
}

/// Height and stored state hash from the output of `check`.
fn parse_check(out: &str) -> (u64, String) {
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("check prints {name:?}:\n{out}"))
    };
    (
        field("height:").parse().expect("height"),
        field("stored state hash:"),
    )
}

/// The hardening review's item 8: an `init` killed while it wrote used to leave a directory
/// that both `init` ("already holds validator data") and `open` ("no validator data")
/// refused. Now the store is built aside and moved into place whole: after a kill at any
/// moment, either the directory holds the complete genesis or `init` runs again.
#[test]
fn init_killed_mid_write_can_be_run_again() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sample = tmp.path().join("sample");
    // A genesis large enough that init takes a while (no batches).
    gen_sample(&sample, 60_000, 0, 1);
    let genesis = sample.join("genesis.json");
    let reference = tmp.path().join("reference");
    let t = Instant::now();
    run_ok(&["init", "--data", p(&reference), "--genesis", p(&genesis)]);
    let init_time = t.elapsed();
    let want = height_and_hash(&reference);
    eprintln!("init of the genesis: {init_time:?}");

    let mut rng = SplitMix(0x1417);
    let (mut killed, mut rounds) = (0, 0);
    while killed < 6 {
        rounds += 1;
        assert!(rounds <= 40, "only {killed} kills in {rounds} rounds");
        let data = tmp.path().join(format!("killed-{rounds}"));
        let mut child = Guard(Some(
            Command::new(BIN)
                .args(["init", "--data", p(&data), "--genesis", p(&genesis)])
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn init"),
        ));
        let delay = init_time.mul_f64(rng.below(1000) as f64 / 1000.0);
        std::thread::sleep(delay);
        let was_running = child.child().try_wait().expect("try_wait").is_none();
        if was_running {
            child.child().kill().expect("kill -9");
            killed += 1;
        }
        child.child().wait().expect("reap");
        child.0 = None;
        // Whatever the moment: the directory is either a whole store or no store.
        let out = run(&["check", "--data", p(&data)]);
        if out.status.success() {
            assert_eq!(height_and_hash(&data), want, "a whole genesis");
            continue;
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("no validator data"),
            "a killed init leaves no store (killed after {delay:?}): {stderr}"
        );
        run_ok(&["init", "--data", p(&data), "--genesis", p(&genesis)]);
        assert_eq!(height_and_hash(&data), want, "init again after a kill");
    }
}
