//! mf-import's tests: the replay of the shared mainnet blocks, sender recovery with both
//! backends, and the loader's errors.

use mf_format::tx_id;
use mf_import::recover::{Backend, check_sender, sender};
use mf_import::replay::spec_at;
use mf_import::{Folder, ImportError, TxError, block_chain, replay_block, validate_block};
use revm::primitives::hardfork::SpecId;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The shared data set: `/work/shared/ethereum-mainnet` when the crate is at
/// `<repo>/import` and the repository at `/work/<checkout>`.
const MAINNET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/ethereum-mainnet");

fn mainnet() -> Folder {
    let path = Path::new(MAINNET);
    assert!(
        path.join("blocks").is_dir(),
        "the mainnet data set is missing: expected a folder in the ethereum-mainnet layout at {} \
         (see its README.md); this test does not pass without it",
        path.display()
    );
    Folder::open(path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()))
}

#[test]
fn every_mainnet_block_replays_to_its_header() {
    let folder = mainnet();
    assert!(!folder.numbers.is_empty(), "no blocks in {MAINNET}");
    let t = Instant::now();
    let mut failures = Vec::new();
    let mut txs = 0;
    for &number in &folder.numbers {
        let block = folder
            .load_block(number)
            .unwrap_or_else(|e| panic!("loading block {number}: {e}"));
        txs += block.transactions.len();
        let report = replay_block(&folder, &block)
            .unwrap_or_else(|e| panic!("replaying block {number}: {e}"));
        assert_eq!(report.number, number);
        if !report.passed() {
            failures.push(format!("{report:?}"));
        }
    }
    eprintln!(
        "{} blocks, {txs} transactions loaded and replayed in {:.2?}",
        folder.numbers.len(),
        t.elapsed()
    );
    assert!(
        failures.is_empty(),
        "blocks failed:\n{}",
        failures.join("\n")
    );
}

/// The blob transactions of the shared blocks, carried as move sets, charge their senders
/// exactly what Ethereum does: for each one, the sender's balance before and after in the
/// move set (its declared `prev` and `next`) equals the plain revm replay's with the block's
/// header (blob fee at the header's excessBlobGas, burnt). Each block is checked as it is
/// (their excess blob gas gives the minimum blob base fee, 1 wei) and again with its header's
/// excessBlobGas raised to 5,500,000 (a blob base fee of 5 wei, below every blob fee cap of
/// these transactions): the chain's genesis takes it from the header, so both follow it.
#[test]
fn blob_senders_pay_what_ethereum_charges() {
    use mf_format::{Key, Status, Value};
    use mf_import::replay::{PreStateDb, block_env, tx_env};
    use revm::database::CacheDB;
    use revm::{Context, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext};
    let folder = mainnet();
    let dir = tempfile::tempdir().expect("dir");
    let mut checked = 0;
    for &number in &folder.numbers {
        let loaded = folder.load_block(number).expect("load");
        let is_blob = |t: &mf_import::Transaction| {
            matches!(t.envelope, alloy_consensus::TxEnvelope::Eip4844(_))
        };
        if !loaded.transactions.iter().any(is_blob) {
            continue;
        }
        for excess in [loaded.header.excess_blob_gas, Some(5_500_000)] {
            let mut block = loaded.clone();
            block.header.excess_blob_gas = excess;
            let h = &block.header;
            // Ethereum: the replay's balances of each blob sender around its transaction.
            let spec = spec_at(h.number, h.timestamp).expect("spec");
            let mut cfg = revm::context::CfgEnv::new().with_spec_and_mainnet_gas_params(spec);
            cfg.chain_id = 1;
            let mut evm = Context::mainnet()
                .with_db(CacheDB::new(PreStateDb::new(&folder, &block).expect("db")))
                .with_cfg(cfg)
                .with_block(block_env(h, spec).expect("block env"))
                .build_mainnet();
            let mut ethereum = Vec::new();
            for t in &block.transactions {
                let out = evm
                    .transact(tx_env(&t.envelope, t.from).expect("tx env"))
                    .expect("runs");
                if is_blob(t) {
                    let a = &out.state[&t.from];
                    ethereum.push(Some((a.original_info().balance, a.info.balance)));
                } else {
                    ethereum.push(None);
                }
                evm.commit(out.state);
            }
            // The move set, applied by a validator.
            let chain = block_chain(&folder, &block).expect("carried");
            let mut v = mf_validator::Validator::init(
                &dir.path().join(format!("{number}-{excess:?}")),
                &chain.genesis,
            )
            .expect("init");
            let time_ms = chain.timestamp * 1000;
            v.set_clock(move || time_ms);
            let out = v
                .apply_batch(&chain.batch, mf_validator::Mode::Strict)
                .expect("applies");
            for ((tx, want), r) in chain.batch.txs.iter().zip(&ethereum).zip(&out.receipts) {
                let Some(want) = want else { continue };
                assert_eq!(r.status, Status::Accepted);
                let from = tx.body.call.from;
                assert_ne!(from, h.miner, "the beneficiary is paid per block here");
                let sender = tx
                    .body
                    .moves
                    .iter()
                    .find(|m| m.key() == Key::account(from))
                    .expect("the sender's move");
                let (Value::Account(prev), Value::Account(next)) = (sender.prev, sender.next)
                else {
                    panic!("an account move");
                };
                assert_eq!(
                    (prev.balance, next.balance),
                    *want,
                    "block {number} at excess blob gas {excess:?}: {:#x}",
                    tx_id(&tx.body)
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 6,
        "the shared blocks hold 3 blob transactions: {checked} checked"
    );
}

/// Every block as a move set (one chain and one batch per block, every transaction
/// authorised by its signed Ethereum transaction), applied by a real validator in strict mode,
/// reproduces its header. Before Spurious Dragon an empty account that exists differs from a
/// missing one (PROTOCOL.md §3.2): the shared Tangerine block 2,674,998 calls one. Blocks with
/// blob (type 3) transactions are carried too: the shared folder has 3 of them.
#[test]
fn every_mainnet_block_as_a_move_set_reproduces_its_header() {
    let folder = mainnet();
    let dir = tempfile::tempdir().expect("dir");
    let (mut passed, mut blob_blocks, mut failures) = (0, 0, Vec::new());
    for &number in &folder.numbers {
        let block = folder.load_block(number).expect("load");
        let has_blob = block
            .transactions
            .iter()
            .any(|t| matches!(t.envelope, alloy_consensus::TxEnvelope::Eip4844(_)));
        let result = block_chain(&folder, &block)
            .and_then(|chain| validate_block(&block, &chain, &dir.path().join(number.to_string())));
        match result {
            Ok(r) if r.passed() => {
                passed += 1;
                blob_blocks += usize::from(has_blob);
            }
            other => failures.push(format!("block {number}: {other:?}")),
        }
    }
    eprintln!(
        "{passed} of {} blocks reproduce their header as move sets",
        folder.numbers.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The shared folder: 43 blocks, all pass (block 2,674,998, Tangerine, calls an empty
    // account that exists), 3 of them with blob transactions.
    if folder.numbers.len() == 43 {
        assert_eq!(passed, 43, "{passed} blocks passed, 43 expected");
        assert_eq!(blob_blocks, 3, "the 3 blocks with blob transactions pass");
    }
    assert!(passed > 0);
}

#[test]
fn both_backends_recover_every_sender() {
    let folder = mainnet();
    let mut types = [0usize; 4];
    for block in folder.blocks() {
        let block = block.expect("load");
        let homestead = spec_at(block.header.number, block.header.timestamp)
            .unwrap()
            .is_enabled_in(SpecId::HOMESTEAD);
        for (i, tx) in block.transactions.iter().enumerate() {
            let a = check_sender(Backend::Secp256k1, tx, homestead)
                .unwrap_or_else(|e| panic!("block {} tx {i}: {e}", block.header.number));
            let b = sender(Backend::K256, &tx.envelope).expect("k256 recovers");
            assert_eq!(
                a, b,
                "backends disagree at block {} tx {i}",
                block.header.number
            );
            types[tx.envelope.tx_type() as usize] += 1;
        }
    }
    // The data set has every type up to blob transactions.
    assert!(
        types.iter().all(|&n| n > 0),
        "transaction types seen: {types:?}"
    );
}

#[test]
fn spec_follows_the_mainnet_schedule() {
    assert_eq!(spec_at(0, 0).unwrap(), SpecId::FRONTIER);
    assert_eq!(spec_at(1_150_000, 0).unwrap(), SpecId::HOMESTEAD);
    assert_eq!(spec_at(4_369_999, 0).unwrap(), SpecId::SPURIOUS_DRAGON);
    assert_eq!(spec_at(4_370_000, 0).unwrap(), SpecId::BYZANTIUM);
    assert_eq!(spec_at(15_537_393, 1_663_224_162).unwrap(), SpecId::LONDON);
    assert_eq!(spec_at(15_537_394, 1_663_224_179).unwrap(), SpecId::MERGE);
    assert_eq!(
        spec_at(17_034_870, 1_681_338_455).unwrap(),
        SpecId::SHANGHAI
    );
    assert_eq!(spec_at(19_426_587, 1_710_338_135).unwrap(), SpecId::CANCUN);
    assert!(matches!(
        spec_at(22_431_084, 1_746_612_311),
        Err(ImportError::UnsupportedFork { .. })
    ));
}

#[test]
fn eip2_high_s_is_refused_from_homestead() {
    let folder = mainnet();
    let block = folder.load_block(folder.numbers[0]).unwrap();
    let mut tx = block.transactions[0].clone();
    let alloy_consensus::TxEnvelope::Legacy(signed) = &tx.envelope else {
        panic!("the first block's first transaction is legacy");
    };
    // The same signature with s mirrored to the upper half (and the parity flipped) still
    // recovers the sender; EIP-2 is what refuses it.
    let (body, sig, _) = signed.clone().into_parts();
    let high = alloy_primitives::Signature::new(
        sig.r(),
        alloy_primitives::U256::from_be_slice(&alloy_primitives::hex!(
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
        )) - sig.s(),
        !sig.v(),
    );
    assert!(!mf_import::recover::is_low_s(&high));
    tx.envelope = alloy_consensus::TxEnvelope::Legacy(
        alloy_consensus::SignableTransaction::into_signed(body, high),
    );
    for backend in Backend::ALL {
        assert_eq!(
            check_sender(backend, &tx, false).unwrap(),
            tx.from,
            "{backend:?}"
        );
        assert!(matches!(
            check_sender(backend, &tx, true),
            Err(TxError::HighS)
        ));
    }
}

#[test]
fn a_missing_folder_is_an_error() {
    let err = Folder::open("/nonexistent/ethereum-mainnet").unwrap_err();
    assert!(matches!(err, ImportError::Io { .. }), "{err}");
}

/// A scratch folder in the layout holding one block of the data set, its `block.json` edited.
struct Scratch(PathBuf);

impl Scratch {
    fn with_block(name: &str, number: u64, edit: impl FnOnce(&mut serde_json::Value)) -> Self {
        let root = std::env::temp_dir().join(format!("mf-import-{name}-{}", std::process::id()));
        let dir = root.join("blocks").join(number.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        let src = Path::new(MAINNET).join("blocks").join(number.to_string());
        let mut block: serde_json::Value =
            serde_json::from_slice(&std::fs::read(src.join("block.json")).unwrap()).unwrap();
        edit(&mut block);
        std::fs::write(dir.join("block.json"), serde_json::to_vec(&block).unwrap()).unwrap();
        std::fs::copy(src.join("pre_state.json"), dir.join("pre_state.json")).unwrap();
        for f in ["bytecodes.json", "block_hashes.json"] {
            std::fs::copy(Path::new(MAINNET).join(f), root.join(f)).unwrap();
        }
        Scratch(root)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The smallest block of the data set.
fn small_block(folder: &Folder) -> u64 {
    folder
        .numbers
        .iter()
        .copied()
        .min_by_key(|&n| {
            std::fs::metadata(Path::new(MAINNET).join(format!("blocks/{n}/block.json")))
                .map(|m| m.len())
                .unwrap_or(u64::MAX)
        })
        .unwrap()
}

#[test]
fn an_edited_transaction_fails_its_hash_check_by_block_and_index() {
    let number = small_block(&mainnet());
    let scratch = Scratch::with_block("hash", number, |b| {
        b["transactions"][1]["nonce"] = serde_json::json!("0x123456");
    });
    let folder = Folder::open(&scratch.0).unwrap();
    let err = folder.load_block(number).unwrap_err();
    match &err {
        ImportError::Tx {
            block,
            index: 1,
            error: TxError::HashMismatch { .. },
        } if *block == number => {}
        other => panic!("unexpected error: {other}"),
    }
    assert!(
        err.to_string()
            .contains(&format!("block {number}, transaction 1")),
        "{err}"
    );
}

#[test]
fn a_wrong_from_is_caught_by_recovery() {
    let number = small_block(&mainnet());
    let scratch = Scratch::with_block("from", number, |b| {
        b["transactions"][0]["from"] =
            serde_json::json!("0x00000000000000000000000000000000000000aa");
    });
    let block = Folder::open(&scratch.0)
        .unwrap()
        .load_block(number)
        .unwrap();
    for backend in Backend::ALL {
        let err = check_sender(backend, &block.transactions[0], true).unwrap_err();
        assert!(matches!(err, TxError::SenderMismatch { .. }), "{err}");
    }
}

#[test]
fn a_wrong_header_fails_its_check() {
    let folder = mainnet();
    let number = small_block(&folder);
    let scratch = Scratch::with_block("header", number, |b| {
        b["gasUsed"] = serde_json::json!("0x1");
    });
    let edited = Folder::open(&scratch.0).unwrap();
    let report = replay_block(&edited, &edited.load_block(number).unwrap()).unwrap();
    assert!(!report.gas_used.holds() && report.logs_bloom.holds());
    assert!(!report.passed());
}

/// Three real blocks outside the shared folder (`tests/data/more-mainnet`, see its README),
/// each once refused: Frontier transactions signed with a high `s` (valid before EIP-2), a
/// transaction touching 1,321 keys (more than the earlier move limit), and a block without
/// transactions (no batch). Each reproduces its header, by the replay and as a move set.
#[test]
fn more_real_blocks_reproduce_their_headers() {
    let folder =
        Folder::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/more-mainnet"))
            .expect("the folder opens");
    assert_eq!(folder.numbers, vec![116_525, 15_537_393, 19_910_734]);
    let dir = tempfile::tempdir().expect("dir");
    for &number in &folder.numbers {
        let block = folder.load_block(number).expect("load");
        let replay = replay_block(&folder, &block).expect("replays");
        assert!(replay.passed(), "block {number}: replay {replay:?}");
        let chain = block_chain(&folder, &block).expect("a chain");
        let report = validate_block(&block, &chain, &dir.path().join(number.to_string()))
            .expect("the validator accepts the block");
        assert!(report.passed(), "block {number}: move set {report:?}");
        let most_moves = chain.batch.txs.iter().map(|t| t.body.moves.len()).max();
        match number {
            116_525 => {
                let high_s = block
                    .transactions
                    .iter()
                    .filter(|t| !mf_import::recover::is_low_s(t.envelope.signature()));
                assert_eq!(high_s.count(), 4, "four transactions with a high s");
            }
            15_537_393 => assert!(most_moves > Some(1_024), "{most_moves:?} moves"),
            _ => assert!(chain.batch.txs.is_empty()),
        }
    }
}
