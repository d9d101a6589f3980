//! Profiling aid: builds every importable block of a folder as a move set, then validates
//! them `N` times (only the validation is repeated): `cargo run -p mf-import --release
//! --example validate_only -- FOLDER N`, under `perf record` to see where validation goes.

use mf_import::{Folder, block_chain};
use mf_validator::{Mode, Validator};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(n)) = (args.next(), args.next()) else {
        return Err("usage: validate_only FOLDER N".into());
    };
    let folder = Folder::open(&path)?;
    let mut chains = Vec::new();
    for &number in &folder.numbers {
        let block = folder.load_block(number)?;
        if let Ok(c) = block_chain(&folder, &block) {
            let bytes = mf_format::encode(&c.batch);
            chains.push((c, bytes));
        }
    }
    let txs: usize = chains.iter().map(|(c, _)| c.batch.txs.len()).sum();
    let dir = tempfile::tempdir()?;
    for round in 0..n.parse::<usize>()? {
        let mut total = Duration::ZERO;
        for (i, (c, bytes)) in chains.iter().enumerate() {
            let mut v = Validator::init(&dir.path().join(format!("{round}-{i}")), &c.genesis)?;
            let ms = c.timestamp * 1000;
            v.set_clock(move || ms);
            let t = Instant::now();
            v.apply_bytes(bytes, Mode::Strict)?;
            total += t.elapsed();
        }
        println!(
            "round {round}: {txs} txs in {total:.2?}, {:.0} tx/s",
            txs as f64 / total.as_secs_f64()
        );
    }
    Ok(())
}
