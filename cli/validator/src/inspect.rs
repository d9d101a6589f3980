//! `check`, `verify-chain` and `inspect`: a data directory checked and shown.

use crate::open;
use anyhow::{Context, Result};
use mf_validator::server::header_json;
use mf_validator::verify::{Order, verify_dir};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

pub(crate) fn check(data: &Path) -> Result<ExitCode> {
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

pub(crate) fn verify_chain(data: &Path, order: Order, as_json: bool) -> Result<ExitCode> {
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

pub(crate) fn inspect(data: &Path, as_json: bool) -> Result<ExitCode> {
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
