//! `mf-import <folder>`: replays every block of a folder in the `ethereum-mainnet` layout with
//! plain revm and prints, per block, whether the header's `gasUsed`, `logsBloom` and (from
//! Byzantium on) `receiptsRoot` are reproduced; then `N passed, M failed`. Exits non-zero if any
//! block failed or could not be replayed. Senders are recovered (libsecp256k1) and checked
//! against the JSON's `from` first.

use anyhow::{Context, Result, bail};
use mf_import::recover::{Backend, check_sender};
use mf_import::replay::{Check, replay_block};
use mf_import::{Folder, ImportError};
use std::fmt::Display;
use std::process::ExitCode;

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

fn run_block(folder: &Folder, number: u64) -> Result<(bool, String), ImportError> {
    let block = folder.load_block(number)?;
    for (index, tx) in block.transactions.iter().enumerate() {
        check_sender(Backend::Secp256k1, tx).map_err(|error| ImportError::Tx {
            block: number,
            index,
            error,
        })?;
    }
    let r = replay_block(folder, &block)?;
    let root = match &r.receipts_root {
        Some(c) => verdict("receiptsRoot", c),
        None => "receiptsRoot n/a pre-Byzantium".to_owned(),
    };
    let passed = r.passed();
    let line = format!(
        "block {:>9} {:<16} {:>5} txs: {}, {}, {} -> {}",
        r.number,
        format!("{:?}", r.spec),
        r.transactions,
        verdict("gasUsed", &r.gas_used),
        verdict("logsBloom", &r.logs_bloom),
        root,
        if passed { "PASS" } else { "FAIL" }
    );
    Ok((passed, line))
}

fn main() -> Result<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    let (Some(path), None) = (args.next(), args.next()) else {
        bail!("usage: mf-import <folder in the ethereum-mainnet layout>");
    };
    let folder = Folder::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let (mut passed, mut failed) = (0usize, 0usize);
    for &number in &folder.numbers {
        match run_block(&folder, number) {
            Ok((ok, line)) => {
                println!("{line}");
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
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
