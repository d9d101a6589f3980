//! Real Ethereum mainnet blocks as move sets through the `mf-validator` binary (PROTOCOL.md
//! §5.5, §6.3): `mf_import` writes each block of the shared folder as a genesis (its
//! pre-state, numbered as its parent, with its ancestors' hashes) and one batch of
//! transactions authorised by the original signed transactions; `mf-validator init` and
//! `mf-validator ingest --mode strict --fixed-time <block time>` must accept every
//! transaction. A block holding a transaction type the protocol does not carry (blob) is
//! detected and left out.

use crate::util::*;
use mf_import::{Folder, ImportError, block_chain};
use std::path::Path;

const MAINNET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/ethereum-mainnet"
);

#[test]
fn mainnet_blocks_ingest_as_move_sets_in_strict_mode() {
    let path = Path::new(MAINNET);
    assert!(
        path.join("blocks").is_dir(),
        "the mainnet data set is missing at {} (see its README.md)",
        path.display()
    );
    let folder = Folder::open(path).expect("open the folder");
    let dir = tempfile::tempdir().expect("dir");
    let mut ingested = 0;
    for &number in &folder.numbers {
        let block = folder.load_block(number).expect("load");
        let chain = match block_chain(&folder, &block) {
            Ok(c) => c,
            Err(ImportError::Batch { what, .. }) if what.contains("not carried") => continue,
            Err(e) => panic!("block {number}: {e}"),
        };
        let d = dir.path().join(number.to_string());
        std::fs::create_dir_all(&d).expect("mkdir");
        let genesis = d.join("genesis.json");
        let batch = d.join("batch-1.bin");
        std::fs::write(&genesis, chain.genesis.to_json().to_string()).expect("write genesis");
        std::fs::write(&batch, mf_format::encode(&chain.batch)).expect("write batch");
        let data = d.join("data");
        let (data, genesis, batch) = (
            data.to_str().expect("utf-8"),
            genesis.to_str().expect("utf-8"),
            batch.to_str().expect("utf-8"),
        );
        run_ok(&["init", "--data", data, "--genesis", genesis]);
        let out = run_ok(&[
            "ingest",
            "--data",
            data,
            "--mode",
            "strict",
            "--fixed-time",
            &chain.timestamp.to_string(),
            batch,
        ]);
        let want = format!(
            "transactions: {} accepted, 0 rejected",
            chain.batch.txs.len()
        );
        assert!(out.contains(&want), "block {number}: {out}");
        ingested += 1;
    }
    assert!(ingested > 0, "no block of {MAINNET} could be imported");
}
