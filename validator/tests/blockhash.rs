//! `BLOCKHASH` (PROTOCOL.md §6.3): a transaction declaring block number `b` reads the hashes
//! of this chain's headers `b - 256 .. b - 1`; the validator re-executes with its stored
//! headers, so a wallet that used any other hash is refused (`write_mismatch`), a declared
//! block whose parent the chain has not reached is out of the context window, and a view
//! without the chain's headers cannot execute the call.

use crate::util::{funded_with_contract, included_body, status};
use mf_format::*;
use mf_movegen::{MovegenError, execute_under};
use mf_validator::genesis::Genesis;
use mf_validator::{Validator, VersionState};

const CHAIN: u64 = 1337;

/// `SSTORE(0, BLOCKHASH(NUMBER - 1))`.
const STORE_PARENT_HASH: [u8; 9] = [0x60, 0x01, 0x43, 0x03, 0x40, 0x60, 0x00, 0x55, 0x00];

fn recorder() -> Address {
    Address::repeat_byte(0x40)
}

fn call(from: Address) -> Call {
    Call {
        from,
        to: Some(recorder()),
        value: U256::ZERO,
        input: vec![],
        gas_limit: 100_000,
        fee: Default::default(),
        access_list: Vec::new(),
        blob: None,
    }
}

fn ctx(block_number: u64) -> ExecContext {
    ExecContext {
        block_number,
        timestamp: 1,
    }
}

fn slot0(v: &Validator, tx: &Transaction) -> U256 {
    match v
        .version(&tx_id(&tx.body), &Key::storage(recorder(), U256::ZERO))
        .expect("lookup")
    {
        VersionState::Live(Value::Storage(w)) => w,
        other => panic!("slot 0: {other:?}"),
    }
}

#[test]
fn blockhash_reads_this_chains_headers() {
    let (alice, mut view) = funded_with_contract("blockhash alice", recorder(), &STORE_PARENT_HASH);
    let genesis = Genesis::from_view(CHAIN, &view);
    let dir = tempfile::tempdir().expect("dir");
    let mut v = Validator::init(&dir.path().join("d"), &genesis).expect("init");
    v.set_clock(|| 1_000);
    let rules = ChainRules::default();

    // A view without the chain's headers cannot run the call.
    assert!(matches!(
        execute_under(&view, CHAIN, &rules, &call(alice.address()), &ctx(1), false),
        Err(MovegenError::UnknownBlockHash(0))
    ));

    // Block 1 reads header 0 (the genesis header).
    view.set_block_hash(0, header_hash(v.head()));
    let t1 = sign(
        included_body(&view, CHAIN, &rules, call(alice.address()), ctx(1)),
        &[&alice],
    );
    assert_eq!(status(&mut v, &t1), Status::Accepted);
    assert_eq!(
        slot0(&v, &t1),
        U256::from_be_bytes(header_hash(&v.store().header(0).expect("read").expect("h0")).0)
    );
    view.apply(&t1.body).expect("mirror");

    // A wallet that used another hash for header 1 is refused: the validator's execution
    // writes the real one.
    let mut wrong = view.clone();
    wrong.set_block_hash(1, B256::repeat_byte(0x99));
    let forged = sign(
        included_body(&wrong, CHAIN, &rules, call(alice.address()), ctx(2)),
        &[&alice],
    );
    assert_eq!(
        status(&mut v, &forged),
        Status::Rejected(Reason::WriteMismatch)
    );

    // Declaring block 3 at height 2 asks for header 2, which does not exist yet: out of the
    // context window.
    let mut ahead = view.clone();
    ahead.set_block_hash(2, B256::repeat_byte(0x98));
    let early = sign(
        included_body(&ahead, CHAIN, &rules, call(alice.address()), ctx(3)),
        &[&alice],
    );
    assert_eq!(
        status(&mut v, &early),
        Status::Rejected(Reason::ContextOutOfWindow)
    );

    // With the real hash of header 1 (the filter-mode batches above were refused and wrote
    // no header), block 2 is accepted.
    view.set_block_hash(1, header_hash(v.head()));
    let t2 = sign(
        included_body(&view, CHAIN, &rules, call(alice.address()), ctx(2)),
        &[&alice],
    );
    assert_eq!(status(&mut v, &t2), Status::Accepted);
    assert_eq!(
        slot0(&v, &t2),
        U256::from_be_bytes(header_hash(&v.store().header(1).expect("read").expect("h1")).0)
    );
}

/// A chain that continues another (PROTOCOL.md §6.3): its genesis names its block number and
/// the hashes of the blocks before it; transactions declare block numbers from there, and
/// `BLOCKHASH` of a block up to the genesis returns the named hash.
#[test]
fn a_chain_that_continues_another_reads_its_ancestors_hashes() {
    let (alice, mut view) = funded_with_contract("blockhash carol", recorder(), &STORE_PARENT_HASH);
    let mut genesis = Genesis::from_view(CHAIN, &view);
    let parent = B256::repeat_byte(0x5a);
    genesis.rules.genesis_number = 1_000;
    genesis.rules.ancestor_hashes = vec![(999, B256::repeat_byte(0x59)), (1_000, parent)];
    let rules = genesis.rules.clone();
    let dir = tempfile::tempdir().expect("dir");
    let mut v = Validator::init(&dir.path().join("d"), &genesis).expect("init");
    v.set_clock(|| 1_000);

    // Block numbers count from the genesis number: block 1 is far out of the window.
    view.set_block_hash(0, B256::repeat_byte(1));
    let stale = sign(
        included_body(&view, CHAIN, &rules, call(alice.address()), ctx(1)),
        &[&alice],
    );
    assert_eq!(
        status(&mut v, &stale),
        Status::Rejected(Reason::ContextOutOfWindow)
    );
    // Block 1,001 (height 1) reads block 1,000's hash: the one the genesis names.
    view.set_block_hash(1_000, parent);
    let t = sign(
        included_body(&view, CHAIN, &rules, call(alice.address()), ctx(1_001)),
        &[&alice],
    );
    assert_eq!(status(&mut v, &t), Status::Accepted);
    assert_eq!(slot0(&v, &t), U256::from_be_bytes(parent.0));
    // The rules survive a restart with the ancestors.
    drop(v);
    let v = Validator::open(&dir.path().join("d")).expect("reopen");
    assert_eq!(v.rules().ancestor_hash(999), Some(B256::repeat_byte(0x59)));
    assert_eq!(v.rules().number_at(v.head().height), 1_001);
}
