//! Sender recovery rate of `k256` and `libsecp256k1` over every transaction of a folder.
//!
//! `cargo run -p mf-import --release --example recover_rate -- <folder> [rounds]`
//!
//! Loads every block, then recovers all senders on one thread with each backend, `rounds`
//! times (default 3), checking each against the JSON's `from`; prints the best round's
//! recoveries per second (per core) and the CPU.

use mf_import::Folder;
use mf_import::recover::{Backend, recover_address, signature_and_hash};
use std::time::Instant;

fn cpu() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: recover_rate <folder> [rounds]")?;
    let rounds: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(3);
    let folder = Folder::open(&path)?;
    let mut work = Vec::new();
    for block in folder.blocks() {
        for tx in block?.transactions {
            let (sig, hash) = signature_and_hash(&tx.envelope);
            work.push((sig, hash, tx.from));
        }
    }
    println!("{} transactions, CPU: {}", work.len(), cpu());
    for backend in Backend::ALL {
        let mut best = 0f64;
        for _ in 0..rounds.max(1) {
            let t = Instant::now();
            for (i, (sig, hash, from)) in work.iter().enumerate() {
                let got = recover_address(backend, sig, hash)?;
                if got != *from {
                    return Err(format!(
                        "{}: tx {i}: recovered {got}, JSON says {from}",
                        backend.name()
                    )
                    .into());
                }
            }
            best = best.max(work.len() as f64 / t.elapsed().as_secs_f64());
        }
        println!("{:<10} {:>9.0} recoveries/s per core", backend.name(), best);
    }
    Ok(())
}
