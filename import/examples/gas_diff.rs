//! The first transactions whose gas differs between the plain revm replay and the move-set
//! path, for one block: `cargo run -p mf-import --example gas_diff -- FOLDER NUMBER`.

use mf_import::{Folder, block_chain, replay_block, validate_block};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(n)) = (args.next(), args.next()) else {
        return Err("usage: gas_diff FOLDER NUMBER".into());
    };
    let folder = Folder::open(&path)?;
    let block = folder.load_block(n.parse()?)?;
    let replay = replay_block(&folder, &block)?;
    let chain = block_chain(&folder, &block)?;
    let dir = tempfile::tempdir()?;
    let moved = validate_block(&block, &chain, &dir.path().join("d"))?;
    let mut shown = 0;
    for (i, (a, b)) in replay.gas_per_tx.iter().zip(&moved.gas_per_tx).enumerate() {
        if a != b && shown < 10 {
            let tx = &block.transactions[i];
            println!(
                "tx {i} {:#x}: replay {a}, move set {b} (to {:?})",
                tx.hash(),
                alloy_consensus::Transaction::to(&tx.envelope)
            );
            shown += 1;
        }
    }
    Ok(())
}
