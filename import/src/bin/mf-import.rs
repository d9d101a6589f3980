//! `mf-import <folder> [--out DIR] [--replay-only]`: every block of a folder in the
//! `ethereum-mainnet` layout, re-validated as a move set. Per block:
//!
//! 1. senders are recovered (libsecp256k1) and checked against the JSON's `from`;
//! 2. the block is replayed with plain revm (timed, one core): the reference;
//! 3. the block becomes a chain of its own (`DIR/<N>/genesis.json`: its pre-state, numbered as
//!    its parent, with the ancestors' hashes) and one batch (`DIR/<N>/batch-1.bin`: every
//!    transaction authorised by its signed Ethereum transaction, its moves derived in block
//!    order; none for a block without transactions, whose checks are those of no receipts),
//!    which a real validator applies in strict mode (`DIR/<N>/data`); the same files
//!    can be checked with `mf-validator init` and `mf-validator ingest --mode strict
//!    --fixed-time <the block's timestamp>`;
//!
//! and prints whether the header's `gasUsed`, `logsBloom` and (from Byzantium on)
//! `receiptsRoot` are reproduced by the replay and by the validator's receipts; then
//! `N passed, M failed` counting blocks. Exits non-zero if any block failed. Without `--out`
//! the files go to a temporary directory that is removed at the end.

use anyhow::{Context, Result, bail};
use mf_import::layout::LoadedBlock;
use mf_import::recover::{Backend, check_sender};
use mf_import::replay::{BlockReport, Check, replay_block, spec_at};
use mf_import::{Folder, ImportError, block_chain, validate_block};
use revm::primitives::hardfork::SpecId;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn verdict<T: PartialEq + Display>(name: &str, c: &Check<T>) -> String {
    if c.holds() {
        format!("{name} ok")
    } else {
        format!(
            "{name} MISMATCH (header {}, replay {})",
            c.expected, c.computed
        )
    }
}

fn checks(r: &BlockReport) -> String {
    let root = match &r.receipts_root {
        Some(c) => verdict("receiptsRoot", c),
        None => "receiptsRoot n/a pre-Byzantium".to_owned(),
    };
    format!(
        "{}, {}, {}",
        verdict("gasUsed", &r.gas_used),
        verdict("logsBloom", &r.logs_bloom),
        root
    )
}

/// The move-set path of one block: its chain written under `dir` and validated there.
fn as_move_set(folder: &Folder, block: &LoadedBlock, dir: &Path) -> Result<BlockReport> {
    let chain = block_chain(folder, block)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(
        dir.join("genesis.json"),
        chain.genesis.to_json().to_string(),
    )
    .context("writing genesis.json")?;
    // A block without transactions is no batch (a batch holds at least one).
    if !chain.batch.txs.is_empty() {
        std::fs::write(dir.join("batch-1.bin"), mf_format::encode(&chain.batch))
            .context("writing batch-1.bin")?;
    }
    let data = dir.join("data");
    if data.exists() {
        std::fs::remove_dir_all(&data).with_context(|| format!("clearing {}", data.display()))?;
    }
    Ok(validate_block(block, &chain, &data)?)
}

/// One block: load, check senders, replay (timed), the move-set path, and its line.
fn run_block(
    folder: &Folder,
    number: u64,
    out: Option<&Path>,
) -> Result<(bool, String, usize, Duration), ImportError> {
    let block = folder.load_block(number)?;
    let homestead = spec_at(number, block.header.timestamp)?.is_enabled_in(SpecId::HOMESTEAD);
    for (index, tx) in block.transactions.iter().enumerate() {
        check_sender(Backend::Secp256k1, tx, homestead).map_err(|error| ImportError::Tx {
            block: number,
            index,
            error,
        })?;
    }
    let t = Instant::now();
    let r = replay_block(folder, &block)?;
    let took = t.elapsed();
    let mut passed = r.passed();
    let mut line = format!(
        "block {:>9} {:<16} {:>5} txs, replay in {:>7.1} ms: {}",
        r.number,
        format!("{:?}", r.spec),
        r.transactions,
        took.as_secs_f64() * 1e3,
        checks(&r),
    );
    if let Some(out) = out {
        match as_move_set(folder, &block, &out.join(number.to_string())) {
            Ok(m) => {
                passed &= m.passed();
                line.push_str(&format!("; move set: {}", checks(&m)));
            }
            Err(e) => {
                passed = false;
                line.push_str(&format!("; move set: ERROR {e:#}"));
            }
        }
    }
    line.push_str(if passed { " -> PASS" } else { " -> FAIL" });
    Ok((passed, line, r.transactions, took))
}

fn main() -> Result<ExitCode> {
    let usage =
        "usage: mf-import <folder in the ethereum-mainnet layout> [--out DIR] [--replay-only]";
    let (mut path, mut out, mut replay_only) = (None, None, false);
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        match a.to_str() {
            Some("--out") => out = Some(PathBuf::from(args.next().context(usage)?)),
            Some("--replay-only") => replay_only = true,
            Some("-h" | "--help") => {
                println!("{usage}");
                return Ok(ExitCode::SUCCESS);
            }
            _ if path.is_none() => path = Some(PathBuf::from(a)),
            _ => bail!("{usage}"),
        }
    }
    let Some(path) = path else { bail!("{usage}") };
    let folder = Folder::open(&path).with_context(|| format!("opening {}", path.display()))?;
    // The batches go to a temporary directory unless --out names one.
    let tmp = match (&out, replay_only) {
        (None, false) => Some(tempfile::tempdir().context("creating a temporary directory")?),
        _ => None,
    };
    let out: Option<PathBuf> = if replay_only {
        None
    } else {
        out.or_else(|| tmp.as_ref().map(|t| t.path().to_path_buf()))
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    let (mut txs, mut replay_time) = (0usize, Duration::ZERO);
    for &number in &folder.numbers {
        match run_block(&folder, number, out.as_deref()) {
            Ok((ok, line, n, took)) => {
                println!("{line}");
                txs += n;
                replay_time += took;
                if ok {
                    passed += 1;
                } else {
                    failed += 1;
                }
            }
            Err(e) => {
                println!("block {number:>9} ERROR: {e} -> FAIL");
                failed += 1;
            }
        }
    }
    println!(
        "replay: {txs} transactions in {:.2} s, {:.0} tx/s on one core ({} build; loading and \
         sender recovery not counted)",
        replay_time.as_secs_f64(),
        txs as f64 / replay_time.as_secs_f64().max(1e-9),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    );
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
