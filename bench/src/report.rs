//! `mf-bench report`: every section in one run, written as `report.md`, `report.json` and
//! SVG plots in one directory.

use crate::svg::Chart;
use crate::{CpArgs, bytes, critical_path, fill, full, mainnet, replicated};
use anyhow::{Context, Result};
use serde_json::{Value as Json, json};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Options of a report run.
#[derive(clap::Parser, Clone, Debug)]
pub struct ReportArgs {
    /// Small sizes, one run: checks the harness end to end in well under 2 minutes (its
    /// figures mean little).
    #[arg(long)]
    pub quick: bool,
    /// Runs per figure (the median is reported with min and max).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Output directory (default: bench/results/<UTC date>, or a temporary one with --quick).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also run the critical path on 100M entries (prints the disk and memory it needs).
    #[arg(long)]
    pub big: bool,
    /// Transactions per full-validation workload.
    #[arg(long, default_value_t = 20_000)]
    pub txs: usize,
    /// Transactions per batch in full validation.
    #[arg(long, default_value_t = 2_000)]
    pub batch_txs: usize,
    /// Run only these sections (comma-separated: critical-path, full, fill, bytes,
    /// replicated, mainnet).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// The folder of real blocks for the mainnet section (the `ethereum-mainnet` layout);
    /// the section is skipped when it does not exist.
    #[arg(long, default_value = "../shared/ethereum-mainnet")]
    pub mainnet: PathBuf,
}

impl ReportArgs {
    fn wants(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }
}

/// Today's UTC date as `YYYY-MM-DD` (civil-from-days, proleptic Gregorian).
pub fn utc_date() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn command_output(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn machine() -> Json {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / (1024.0 * 1024.0));
    let avx512 = std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| s.contains("avx512ifma"))
        .unwrap_or(false);
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "memory_gib": (mem_gib * 10.0).round() / 10.0,
        "avx512ifma": avx512,
        "rustc": command_output("rustc", &["--version"]),
        "commit": command_output("git", &["rev-parse", "--short", "HEAD"]),
    })
}

fn f(v: &Json) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

fn stat(v: &Json) -> String {
    format!(
        "{:.0} [{:.0}–{:.0}]",
        f(&v["median"]),
        f(&v["min"]),
        f(&v["max"])
    )
}

/// Runs the report.
pub fn run(a: &ReportArgs) -> Result<PathBuf> {
    let started = Instant::now();
    let runs = if a.quick { 1 } else { a.runs.max(1) };
    let out = match &a.out {
        Some(p) => p.clone(),
        None if a.quick => {
            std::env::temp_dir().join(format!("mf-bench-quick-{}", std::process::id()))
        }
        None => PathBuf::from("bench/results").join(utc_date()),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    println!(
        "report: {} (runs {runs}) -> {}",
        if a.quick { "quick" } else { "full" },
        out.display()
    );

    // 1. Critical path against set size.
    let sizes: Vec<(u64, u64, u64)> = if a.quick {
        vec![(200_000, 60_000, 10_000)]
    } else {
        let mut s = vec![
            (1_000_000, 250_000, 50_000),
            (10_000_000, 2_000_000, 400_000),
        ];
        if a.big {
            s.push((100_000_000, 4_000_000, 400_000));
        }
        s
    };
    let mut cp = Vec::new();
    for (entries, moves, naive_moves) in sizes.into_iter().filter(|_| a.wants("critical-path")) {
        let batch_txs = if a.quick { 5_000 } else { 50_000 };
        let args = CpArgs {
            entries,
            moves,
            naive_moves,
            batch_txs,
            runs,
            dir: None,
            big: a.big,
            json: None,
        };
        cp.push(critical_path(&args)?);
    }

    // 2. Full validation.
    let full_args = full::FullArgs {
        txs: if a.quick { 600 } else { a.txs },
        batch: if a.quick { 200 } else { a.batch_txs.max(1) },
        runs,
    };
    let fv = if a.wants("full") {
        full::run(&full_args)?
    } else {
        Json::Null
    };

    // 3. Coordinator fill.
    let fl = if a.wants("fill") {
        fill::run(if a.quick { 300 } else { 10_000 }, runs)?
    } else {
        Json::Null
    };

    // 4. Bytes.
    let by = if a.wants("bytes") {
        bytes::run(if a.quick { 100 } else { 1_000 })?
    } else {
        Json::Null
    };

    // 5. The replicated path. It runs real processes: a failure (a stale binary, a port
    // taken) is written into the section instead of discarding the sections above.
    let rp = if a.wants("replicated") {
        let mut ra = replicated::ReplicatedArgs::defaults();
        ra.runs = runs;
        if a.quick {
            (ra.txs, ra.batch_txs, ra.latency_batches) = (300, 30, 4);
            ra.replicas = vec![1];
        }
        replicated::run(&ra).unwrap_or_else(|e| {
            tracing::warn!("replicated path failed: {e:#}");
            println!("replicated: FAILED: {e:#}");
            json!({ "skipped": format!("failed: {e:#}") })
        })
    } else {
        Json::Null
    };

    // 6. Real mainnet blocks.
    let mn = if a.wants("mainnet") && a.mainnet.join("blocks").is_dir() {
        mainnet::run(&a.mainnet, runs, a.quick.then_some(4)).unwrap_or_else(|e| {
            println!("mainnet: FAILED: {e:#}");
            json!({ "skipped": format!("failed: {e:#}") })
        })
    } else {
        Json::Null
    };

    let report = json!({
        "date": utc_date(),
        "command": command,
        "quick": a.quick,
        "runs": runs,
        "machine": machine(),
        "seconds": started.elapsed().as_secs_f64(),
        "critical_path": cp,
        "full_validation": fv,
        "fill": fl,
        "bytes": by,
        "replicated": rp,
        "mainnet": mn,
    });
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    write_plots(&out, &report)?;
    std::fs::write(out.join("report.md"), markdown(&report))?;
    println!(
        "report written: {} ({:.0} s)",
        out.join("report.md").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(out)
}

fn workloads(r: &Json, section: &str) -> Vec<Json> {
    r[section]["workloads"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn write_plots(out: &Path, r: &Json) -> Result<()> {
    let cp: Vec<Json> = r["critical_path"].as_array().cloned().unwrap_or_default();
    let chart = Chart {
        title: "Critical path: moves/s against set size",
        unit: "moves/s",
        series: &["ours (pipelined, commit incl.)", "naive per-move LMDB"],
        groups: cp
            .iter()
            .map(|c| {
                (
                    format!("{}M entries", f(&c["entries"]) / 1e6),
                    vec![
                        f(&c["ours_moves_per_s"]["median"]),
                        f(&c["naive_moves_per_s"]["median"]),
                    ],
                )
            })
            .collect(),
        log: true,
    };
    std::fs::write(out.join("critical_path.svg"), chart.render())?;
    let fv = workloads(r, "full_validation");
    let chart = Chart {
        title: "Full validation (signatures + re-execution + critical path)",
        unit: "tx/s",
        series: &[
            "ours, 1 thread",
            "ours, 2 threads",
            "sequential LMDB + revm",
        ],
        groups: fv
            .iter()
            .map(|w| {
                (
                    w["workload"].as_str().unwrap_or("?").to_string(),
                    vec![
                        f(&w["ours_1_thread_tx_per_s"]["median"]),
                        f(&w["ours_2_threads_tx_per_s"]["median"]),
                        f(&w["baseline_tx_per_s"]["median"]),
                    ],
                )
            })
            .collect(),
        log: false,
    };
    std::fs::write(out.join("full_validation.svg"), chart.render())?;
    let fl = &r["fill"];
    let chart = Chart {
        title: "Coordinator fill rate",
        unit: "per second",
        series: &["fill", "raw revm (same swaps)"],
        groups: vec![
            (
                "hot pool".into(),
                vec![
                    f(&fl["hot_fill_per_s"]["median"]),
                    f(&fl["hot_raw_revm_per_s"]["median"]),
                ],
            ),
            (
                "independent, 1 thread".into(),
                vec![f(&fl["independent_fill_1_thread_per_s"]["median"]), 0.0],
            ),
            (
                "independent, 2 threads".into(),
                vec![f(&fl["independent_fill_2_threads_per_s"]["median"]), 0.0],
            ),
        ],
        log: false,
    };
    std::fs::write(out.join("fill.svg"), chart.render())?;
    let by = workloads(r, "bytes");
    let chart = Chart {
        title: "Bytes per transaction",
        unit: "bytes",
        series: &["ours (moves declared)", "EIP-1559 equivalent"],
        groups: by
            .iter()
            .map(|w| {
                (
                    w["workload"].as_str().unwrap_or("?").to_string(),
                    vec![f(&w["bytes_per_tx"]), f(&w["eip1559_bytes_per_tx"])],
                )
            })
            .collect(),
        log: false,
    };
    std::fs::write(out.join("bytes.svg"), chart.render())?;
    Ok(())
}

fn markdown(r: &Json) -> String {
    let mut s = String::new();
    let m = &r["machine"];
    let _ = writeln!(
        s,
        "# Benchmark report, {}\n",
        r["date"].as_str().unwrap_or("?")
    );
    let _ = writeln!(
        s,
        "Command: `{}` ({} runs per figure; medians with [min–max]; {:.0} s in all).\n",
        r["command"].as_str().unwrap_or("?"),
        r["runs"],
        f(&r["seconds"])
    );
    let _ = writeln!(
        s,
        "Machine: {}, {} cores, {} GiB; AVX-512 IFMA: {}; {}; commit {}.\n",
        m["cpu"].as_str().unwrap_or("?"),
        m["cores"],
        m["memory_gib"],
        m["avx512ifma"],
        m["rustc"].as_str().unwrap_or("?"),
        m["commit"].as_str().unwrap_or("?")
    );
    if r["quick"].as_bool() == Some(true) {
        let _ = writeln!(
            s,
            "**Quick mode**: tiny sizes and one run, to check the harness; the figures mean little.\n"
        );
    }

    let _ = writeln!(s, "## 1. Critical path\n");
    let _ = writeln!(
        s,
        "Our apply (in-memory sharded index + append-only LMDB, pipelined commit, crash-safe) against \
         the naive per-move LMDB apply (get + compare + delete + put per move, one write \
         transaction per batch), on the same preloaded set, in the same process.\n"
    );
    let _ = writeln!(
        s,
        "| entries | ours moves/s | naive moves/s | ratio | ours incl. stateless prep | index alone | disk ours / naive | RSS |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- | --- | --- |");
    for c in r["critical_path"].as_array().cloned().unwrap_or_default() {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.1}x | {} | {} | {:.2} / {:.2} GB | {:.2} GB |",
            c["entries"],
            stat(&c["ours_moves_per_s"]),
            stat(&c["naive_moves_per_s"]),
            f(&c["ratio"]),
            stat(&c["ours_with_prep_moves_per_s"]),
            stat(&c["ours_index_moves_per_s"]),
            f(&c["ours_disk_bytes"]) / 1e9,
            f(&c["naive_disk_bytes"]) / 1e9,
            f(&c["rss_bytes"]) / 1e9
        );
    }
    let _ = writeln!(s, "\n![critical path](critical_path.svg)\n");

    let _ = writeln!(s, "## 2. Full validation\n");
    let fv = &r["full_validation"];
    let _ = writeln!(
        s,
        "{} signed transactions per workload in batches of {}: decode-free batches through \
         `Validator::submit_batch` (structure, batch signature verification, revm re-execution \
         against declared values only, critical path, LMDB commit) on rayon pools of 1 and 2 \
         threads, against the sequential baseline that verifies each signature and executes \
         each call with revm against one mutable state in LMDB (the Ethereum way).\n",
        fv["txs_per_workload"], fv["batch_txs"]
    );
    let _ = writeln!(
        s,
        "| workload | moves/tx | ours 1 thread tx/s | ours 2 threads tx/s | ours 2 threads moves/s | sequential LMDB+revm tx/s | ratio (2 threads) | 2 vs 1 thread |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- | --- | --- |");
    for w in workloads(r, "full_validation") {
        let _ = writeln!(
            s,
            "| {} | {:.1} | {} | {} | {} | {} | {:.2}x | {:.2}x |",
            w["workload"].as_str().unwrap_or("?"),
            f(&w["moves_per_tx"]),
            stat(&w["ours_1_thread_tx_per_s"]),
            stat(&w["ours_2_threads_tx_per_s"]),
            stat(&w["ours_2_threads_moves_per_s"]),
            stat(&w["baseline_tx_per_s"]),
            f(&w["ratio_2_threads_vs_baseline"]),
            f(&w["scaling_2_vs_1"])
        );
    }
    let _ = writeln!(
        s,
        "\nContention: swaps all on one hot pool validate at **{:.2}x** the rate of swaps each on \
         their own pool (same count, same batch size).\n",
        f(&fv["hot_vs_cold_swap_rate"])
    );
    let _ = writeln!(
        s,
        "Fees: the same transactions signed with EIP-1559 fees (a 1 gwei base fee burnt, a 1 gwei \
         tip, the beneficiary credited once per batch), validated on 2 threads in the same run. \
         The target is at most 5% more time per transaction.\n"
    );
    let _ = writeln!(
        s,
        "| workload | without fees tx/s | with fees tx/s | time per transaction with fees |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- |");
    for w in workloads(r, "full_validation") {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:+.1}% |",
            w["workload"].as_str().unwrap_or("?"),
            stat(&w["ours_2_threads_tx_per_s"]),
            stat(&w["ours_2_threads_with_fees_tx_per_s"]),
            100.0 * f(&w["fee_cost_2_threads"])
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "![full validation](full_validation.svg)\n");

    let _ = writeln!(s, "## 3. Coordinator fill\n");
    let fl = &r["fill"];
    let _ = writeln!(
        s,
        "{} masked swap intents. Hot pool: filled in order (`mf_movegen::fill_preverified`: signatures verified once at intake, outside the timing; each against the \
         state the previous fill left) against raw revm executing the same swaps in order on one \
         `CacheDB`. Independent pools: each intent on its own pool, filled in parallel.\n",
        fl["intents"]
    );
    let _ = writeln!(s, "| case | rate/s | against |");
    let _ = writeln!(s, "| --- | --- | --- |");
    let _ = writeln!(
        s,
        "| hot pool, fill | {} | raw revm {} : **{:.0}%** |",
        stat(&fl["hot_fill_per_s"]),
        stat(&fl["hot_raw_revm_per_s"]),
        100.0 * f(&fl["hot_fill_vs_raw"])
    );
    let _ = writeln!(
        s,
        "| independent pools, 1 thread | {} | |",
        stat(&fl["independent_fill_1_thread_per_s"])
    );
    let _ = writeln!(
        s,
        "| independent pools, 2 threads | {} | {:.2}x of 1 thread |",
        stat(&fl["independent_fill_2_threads_per_s"]),
        f(&fl["independent_scaling_2_vs_1"])
    );
    let _ = writeln!(s, "\n![fill](fill.svg)\n");

    let _ = writeln!(s, "## 4. Bytes on the wire\n");
    let _ = writeln!(
        s,
        "Canonical encoding of our signed transactions (every declared move included) against \
         the equivalent signed EIP-1559 transaction encoded with alloy's EIP-2718 encoder \
         (which carries no state: an Ethereum validator re-derives it by executing). Both carry \
         the same gas limit and EIP-1559 fee fields; the fee column is what ours spends on them \
         (type, fee cap, tip, the access list).\n"
    );
    let _ = writeln!(
        s,
        "| workload | ours B/tx | of which fee fields | moves/tx | state changes/tx | ours B/state change | EIP-1559 B/tx | ratio |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- | --- | --- |");
    for w in workloads(r, "bytes") {
        let _ = writeln!(
            s,
            "| {} | {:.0} | {:.0} | {:.1} | {:.1} | {:.0} | {:.0} | {:.1}x |",
            w["workload"].as_str().unwrap_or("?"),
            f(&w["bytes_per_tx"]),
            f(&w["fee_bytes_per_tx"]),
            f(&w["moves_per_tx"]),
            f(&w["state_changes_per_tx"]),
            f(&w["bytes_per_state_change"]),
            f(&w["eip1559_bytes_per_tx"]),
            f(&w["ratio_ours_vs_eip1559"])
        );
    }
    let _ = writeln!(s, "\n![bytes](bytes.svg)\n");
    replicated_markdown(&mut s, &r["replicated"]);
    mainnet_markdown(&mut s, &r["mainnet"]);
    let _ = writeln!(s, "Raw figures: [`report.json`](report.json).");
    s
}

fn mainnet_markdown(s: &mut String, m: &Json) {
    if m.is_null() {
        return;
    }
    let _ = writeln!(s, "## 6. Real mainnet blocks\n");
    if let Some(why) = m["skipped"].as_str() {
        let _ = writeln!(s, "Not measured: {why}.\n");
        return;
    }
    let _ = writeln!(
        s,
        "{} blocks of `{}` ({} transactions; left out: {}), each as its own chain and one \
         batch of Ethereum-authorised transactions. Ours: `Validator::apply_bytes` in strict \
         mode (decode, secp256k1 recovery, re-execution of every transaction against its \
         declared values, critical path, LMDB commit). Baseline: sender recovery \
         (libsecp256k1) and a sequential revm replay on one mutable in-memory state.\n",
        m["blocks"],
        m["folder"].as_str().unwrap_or("?"),
        m["txs"],
        m["left_out"].as_array().map_or(0, |l| l.len())
    );
    let _ = writeln!(s, "| | tx/s | against the baseline |");
    let _ = writeln!(s, "| --- | --- | --- |");
    let _ = writeln!(
        s,
        "| ours, 1 thread | {} | {:.2}x |",
        stat(&m["ours_1_thread_tx_per_s"]),
        f(&m["ratio_1_thread_vs_baseline"])
    );
    let _ = writeln!(
        s,
        "| ours, 2 threads | {} | {:.2}x |",
        stat(&m["ours_2_threads_tx_per_s"]),
        f(&m["ratio_2_threads_vs_baseline"])
    );
    let _ = writeln!(
        s,
        "| recovery + sequential revm | {} | |",
        stat(&m["baseline_tx_per_s"])
    );
    if let Some(r) = m["recoveries_per_s_per_core"].as_object() {
        let rates: Vec<String> = r
            .iter()
            .map(|(name, v)| format!("{name} {:.0}", v.as_f64().unwrap_or(0.0)))
            .collect();
        let _ = writeln!(
            s,
            "\nSender recovery of the same transactions, one core, best of the runs \
             (recoveries/s; the validator uses libsecp256k1, `secp256k1`): {}.",
            rates.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "\nBytes per state change ({} changes): our batches {:.0} raw, {:.0} with zstd; the \
         blocks' own signed transactions {:.0} plus their EIP-7928 block access lists {:.0} = \
         {:.0}.\n",
        m["state_changes"],
        f(&m["bytes_per_state_change_raw"]),
        f(&m["bytes_per_state_change_zstd"]),
        f(&m["eth_tx_bytes_per_state_change"]),
        f(&m["eip7928_bytes_per_state_change"]),
        f(&m["eth_total_bytes_per_state_change"])
    );
}

fn replicated_markdown(s: &mut String, rp: &Json) {
    if rp.is_null() {
        return;
    }
    let _ = writeln!(s, "## 5. Replicated path\n");
    if let Some(why) = rp["skipped"].as_str() {
        let _ = writeln!(s, "Not measured: {why}.\n");
        return;
    }
    let _ = writeln!(
        s,
        "{} signed transfers in {} batches of {} (at most {} B each), posted over HTTP to one \
         `mf-validator serve` (direct) and to replicas (`serve --order`, {} NATS server(s)) \
         that publish each batch to the JetStream log and answer once they applied it. \
         Latency: {} batches one at a time (the first left out as warm-up), from `POST /batch` \
         to the receipts. Throughput: the other {} batches with {} posts in flight (round \
         robin over the replicas), first post to last receipt. Every process runs on this \
         machine: the replicas share its cores, each checking and executing every batch.\n",
        rp["txs"],
        rp["batches"],
        rp["batch_txs"],
        rp["batch_bytes"],
        rp["nats_nodes"],
        rp["latency_batches"],
        rp["throughput_batches"],
        rp["concurrency"]
    );
    let _ = writeln!(
        s,
        "| path | tx/s | batches/s | vs direct | latency p50 / p99 ms | added p50 / p99 ms | loaded p50 / p99 ms | all replicas after last receipt |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- | --- | --- |");
    let d = &rp["direct"];
    let bps = |v: &Json| {
        format!(
            "{:.1} [{:.1}–{:.1}]",
            f(&v["median"]),
            f(&v["min"]),
            f(&v["max"])
        )
    };
    let _ = writeln!(
        s,
        "| direct | {} | {} | 1.00x | {:.1} / {:.1} | | {:.1} / {:.1} | |",
        stat(&d["tx_per_s"]),
        bps(&d["batches_per_s"]),
        f(&d["latency_ms"]["p50"]),
        f(&d["latency_ms"]["p99"]),
        f(&d["loaded_latency_ms"]["p50"]),
        f(&d["loaded_latency_ms"]["p99"])
    );
    for w in rp["replicated"].as_array().cloned().unwrap_or_default() {
        let _ = writeln!(
            s,
            "| {} replica(s) | {} | {} | {:.2}x | {:.1} / {:.1} | {:+.1} / {:+.1} | {:.1} / {:.1} | {:.2} s |",
            w["replicas"],
            stat(&w["tx_per_s"]),
            bps(&w["batches_per_s"]),
            f(&w["ratio_tx_per_s_vs_direct"]),
            f(&w["latency_ms"]["p50"]),
            f(&w["latency_ms"]["p99"]),
            f(&w["added_latency_ms"]["p50"]),
            f(&w["added_latency_ms"]["p99"]),
            f(&w["loaded_latency_ms"]["p50"]),
            f(&w["loaded_latency_ms"]["p99"]),
            f(&w["all_caught_up_s"]["median"])
        );
    }
    let _ = writeln!(
        s,
        "\nEvery replica ended with the same header hash at the last height: {}.\n",
        rp["replicated"]
            .as_array()
            .is_some_and(|a| a.iter().all(|w| w["same_head"].as_bool() == Some(true)))
    );
}
