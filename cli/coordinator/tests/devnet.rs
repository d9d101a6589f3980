//! The main job end to end: `mf-coordinator devnet` as a real process, starting its own
//! validator and coordinator, driving wallets, and printing a summary.

use crate::util::*;
use std::process::Command;

#[test]
fn devnet_runs_end_to_end_and_summarises() {
    let validator = validator_bin();
    let dir = tempfile::tempdir().expect("tempdir");
    let run_dir = dir.path().join("net");
    let out = Command::new(coordinator_bin())
        .args([
            "devnet",
            "--quiet",
            "--wallets",
            "24",
            "--merchants",
            "4",
            "--cold-pools",
            "2",
            "--intents",
            "300",
            "--seconds",
            "60",
            "--threads",
            "3",
            "--validator-bin",
        ])
        .arg(&validator)
        .arg("--dir")
        .arg(&run_dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the devnet");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "devnet failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("intents submitted"), "{stdout}");
    assert!(stdout.contains("equals the validator's"), "{stdout}");
    let accepted: u64 = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("accepted")?.trim().parse().ok())
        .expect("an accepted line");
    assert!(accepted >= 100, "{stdout}");
    assert!(stdout.contains("latency    p50"), "{stdout}");
    // Logs and data stay in the directory given.
    for f in ["validator.log", "coordinator.log", "genesis.json"] {
        assert!(
            run_dir.join(f).exists(),
            "{f} missing in {}",
            run_dir.display()
        );
    }

    // A directory that is not empty is refused with a clear error.
    let again = Command::new(coordinator_bin())
        .args(["devnet", "--quiet", "--validator-bin"])
        .arg(&validator)
        .arg("--dir")
        .arg(&run_dir)
        .output()
        .expect("run");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("is not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
