//! `mf-bench report --quick` end to end: every section runs on tiny sizes and the report
//! (markdown, JSON, SVG plots) is written and complete. No timing is asserted.

use std::process::Command;

/// The shared real blocks (`/work/shared/ethereum-mainnet` beside the repository).
const MAINNET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/ethereum-mainnet");

#[test]
fn quick_report_covers_every_section() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("report");
    let run = Command::new(env!("CARGO_BIN_EXE_mf-bench"))
        .args(["report", "--quick", "--out"])
        .arg(&out)
        .arg("--mainnet")
        .arg(MAINNET)
        .output()
        .expect("run mf-bench");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "mf-bench report --quick failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("report.json")).expect("report.json"),
    )
    .expect("valid JSON");
    assert_eq!(json["quick"], true);
    let positive = |v: &serde_json::Value, what: &str| {
        let x = v.as_f64().unwrap_or(0.0);
        assert!(x > 0.0, "{what} is {v}");
    };
    let cp = &json["critical_path"][0];
    positive(&cp["ours_moves_per_s"]["median"], "critical path, ours");
    positive(&cp["naive_moves_per_s"]["median"], "critical path, naive");
    let workloads = json["full_validation"]["workloads"]
        .as_array()
        .expect("workloads");
    let names: Vec<&str> = workloads
        .iter()
        .filter_map(|w| w["workload"].as_str())
        .collect();
    assert_eq!(names, ["transfer", "erc20", "swap_cold", "swap_hot"]);
    for w in workloads {
        positive(&w["ours_2_threads_tx_per_s"]["median"], "ours, 2 threads");
        positive(&w["baseline_tx_per_s"]["median"], "baseline");
        let s = &w["ours_1_thread_tx_per_s"];
        assert!(
            s["min"].as_f64() <= s["median"].as_f64() && s["median"].as_f64() <= s["max"].as_f64()
        );
    }
    positive(&json["fill"]["hot_fill_per_s"]["median"], "hot fill");
    positive(&json["fill"]["hot_raw_revm_per_s"]["median"], "raw revm");
    let m = &json["mainnet"];
    positive(&m["ours_2_threads_tx_per_s"]["median"], "mainnet, ours");
    positive(&m["baseline_tx_per_s"]["median"], "mainnet, baseline");
    positive(&m["bytes_per_state_change_zstd"], "mainnet, zstd bytes");
    let bytes = json["bytes"]["workloads"].as_array().expect("bytes");
    assert_eq!(bytes.len(), 4);
    for b in bytes {
        // Our transactions carry their moves; the EIP-1559 one does not.
        assert!(
            b["bytes_per_tx"].as_f64() > b["eip1559_bytes_per_tx"].as_f64(),
            "{b}"
        );
        positive(&b["eip1559_bytes_per_tx"], "EIP-1559 size");
    }
    // The replicated path runs real processes: it is measured when nats-server and the
    // mf-validator binary of this build are here, and otherwise says why it was not.
    let rp = &json["replicated"];
    match rp["skipped"].as_str() {
        Some(why) => println!("replicated path not measured: {why}"),
        None => {
            positive(&rp["direct"]["tx_per_s"]["median"], "direct POST /batch");
            positive(&rp["replicated"][0]["tx_per_s"]["median"], "replicated");
            positive(&rp["replicated"][0]["latency_ms"]["p99"], "replicated p99");
            assert_eq!(rp["replicated"][0]["same_head"], true);
        }
    }
    assert!(json["machine"]["cores"].as_u64() >= Some(1));
    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md");
    for heading in [
        "## 1. Critical path",
        "## 2. Full validation",
        "## 3. Coordinator fill",
        "## 4. Bytes",
        "## 5. Replicated path",
    ] {
        assert!(md.contains(heading), "{heading} missing");
    }
    for svg in [
        "critical_path.svg",
        "full_validation.svg",
        "fill.svg",
        "bytes.svg",
    ] {
        let s = std::fs::read_to_string(out.join(svg)).expect(svg);
        assert!(s.starts_with("<svg") && s.contains("<rect"), "{svg}");
        assert!(md.contains(svg), "{svg} not linked");
    }
}
