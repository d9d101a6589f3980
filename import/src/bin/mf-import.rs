//! `mf-import <folder>`: replays every block of a folder in the `ethereum-mainnet` layout with
//! plain revm and prints, per block, whether the header's `gasUsed`, `logsBloom` and (from
//! Byzantium on) `receiptsRoot` are reproduced; then `N passed, M failed`. Exits non-zero if any
//! block failed or could not be replayed. Senders are recovered (libsecp256k1) and checked
//! against the JSON's `from` first; the replay alone is timed (one core, the block's
//! pre-state database built and its transactions executed and committed).

use anyhow::{Context, Result, bail};
use mf_import::recover::{Backend, check_sender};
use mf_import::replay::{Check, replay_block, spec_at};
use mf_import::{Folder, ImportError};
use revm::primitives::hardfork::SpecId;
use std::fmt::Display;
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

/// One block: load, check senders, replay (timed), and its line.
fn run_block(folder: &Folder, number: u64) -> Result<(bool, String, usize, Duration), ImportError> {
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
    let root = match &r.receipts_root {
        Some(c) => verdict("receiptsRoot", c),
        None => "receiptsRoot n/a pre-Byzantium".to_owned(),
    };
    let passed = r.passed();
    let line = format!(
        "block {:>9} {:<16} {:>5} txs in {:>7.1} ms: {}, {}, {} -> {}",
        r.number,
        format!("{:?}", r.spec),
        r.transactions,
        took.as_secs_f64() * 1e3,
        verdict("gasUsed", &r.gas_used),
        verdict("logsBloom", &r.logs_bloom),
        root,
        if passed { "PASS" } else { "FAIL" }
    );
    Ok((passed, line, r.transactions, took))
}

fn main() -> Result<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    let (Some(path), None) = (args.next(), args.next()) else {
        bail!("usage: mf-import <folder in the ethereum-mainnet layout>");
    };
    let folder = Folder::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let (mut passed, mut failed) = (0usize, 0usize);
    let (mut txs, mut replay_time) = (0usize, Duration::ZERO);
    for &number in &folder.numbers {
        match run_block(&folder, number) {
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
