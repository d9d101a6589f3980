//! The chain's rules from its genesis (semantics issue items 3 and 4): a validator keeps them
//! across a restart, serves them in its genesis, re-executes under the fork its schedule
//! gives for each transaction's declared context, and caps gas limits at the chain's.

use crate::util::{funded_with_contract, included_body};
use mf_format::*;
use mf_movegen::MemoryView;
use mf_validator::genesis::Genesis;
use mf_validator::{Mode, Validator, VersionState};

const CHAIN: u64 = 1337;

/// `TSTORE(0, 1); SSTORE(0, TLOAD(0))`: stores 1 under Cancun; an invalid opcode before.
const TRANSIENT: [u8; 12] = [
    0x60, 0x01, 0x60, 0x00, 0x5d, 0x60, 0x00, 0x5c, 0x60, 0x00, 0x55, 0x00,
];

fn contract() -> Address {
    Address::repeat_byte(0xc7)
}

fn setup(rules: ChainRules) -> (Keypair, MemoryView, Genesis) {
    let (alice, view) = funded_with_contract("chain rules alice", contract(), &TRANSIENT);
    let mut genesis = Genesis::from_view(CHAIN, &view);
    genesis.rules = rules;
    (alice, view, genesis)
}

fn tx_at(
    view: &MemoryView,
    rules: &ChainRules,
    alice: &Keypair,
    ctx: ExecContext,
    gas: u64,
) -> Transaction {
    let call = Call {
        from: alice.address(),
        to: Some(contract()),
        value: U256::ZERO,
        input: vec![],
        gas_limit: gas,
        fee: Default::default(),
        access_list: Vec::new(),
        blob: None,
    };
    sign(included_body(view, CHAIN, rules, call, ctx), &[alice])
}

#[test]
fn the_fork_follows_the_declared_context_and_survives_a_restart() {
    // Shanghai from genesis, Cancun from time 100.
    let rules = ChainRules {
        gas_limit: 40_000_000,
        forks: vec![
            (Fork::Shanghai, Activation::Time(0)),
            (Fork::Cancun, Activation::Time(100)),
        ],
        ..ChainRules::default()
    };
    let (alice, view, genesis) = setup(rules.clone());
    let dir = tempfile::tempdir().expect("dir");
    let mut v = Validator::init(&dir.path().join("d"), &genesis).expect("init");
    assert_eq!(v.rules(), &rules);
    v.set_clock(|| 50_000);

    // Declared at block 1, time 50 (the batch's header time): Shanghai, TSTORE is an
    // invalid opcode, the call is included as failed.
    let early = tx_at(
        &view,
        &rules,
        &alice,
        ExecContext {
            block_number: 1,
            timestamp: 50,
        },
        100_000,
    );
    let out = v
        .apply_batch(
            &Batch {
                txs: vec![early.clone()],
            },
            Mode::Strict,
        )
        .expect("applied");
    assert_eq!(out.receipts[0].status, Status::Failed);
    let mut after = view.clone();
    after.apply(&early.body).expect("mirror");

    // The same call declared under Cancun rules but at time 50 does not re-execute.
    let cancun = ChainRules::default();
    let wrong = tx_at(
        &after,
        &cancun,
        &alice,
        ExecContext {
            block_number: 1,
            timestamp: 50,
        },
        100_000,
    );
    let out = v
        .apply_batch(&Batch { txs: vec![wrong] }, Mode::Filter)
        .expect("answered");
    assert_eq!(
        out.receipts[0].status,
        Status::Rejected(Reason::WriteMismatch)
    );

    // Declared at time 120 (the batch's header time): Cancun, the word is stored.
    v.set_clock(|| 120_000);
    let late = tx_at(
        &after,
        &rules,
        &alice,
        ExecContext {
            block_number: 2,
            timestamp: 120,
        },
        100_000,
    );
    let out = v
        .apply_batch(
            &Batch {
                txs: vec![late.clone()],
            },
            Mode::Strict,
        )
        .expect("applied");
    assert_eq!(out.receipts[0].status, Status::Accepted);
    assert_eq!(
        v.version(&tx_id(&late.body), &Key::storage(contract(), U256::ZERO))
            .expect("lookup"),
        VersionState::Live(Value::Storage(U256::from(1u64)))
    );

    // The chain's gas limit, not 30,000,000: 35M is valid here, 41M is not.
    let mut after2 = after.clone();
    after2.apply(&late.body).expect("mirror");
    let big = tx_at(
        &after2,
        &rules,
        &alice,
        ExecContext {
            block_number: 3,
            timestamp: 120,
        },
        35_000_000,
    );
    let over = {
        let mut b = big.body.clone();
        b.call.gas_limit = 41_000_000;
        sign(b, &[&alice])
    };
    let out = v
        .apply_batch(
            &Batch {
                txs: vec![over, big],
            },
            Mode::Filter,
        )
        .expect("answered");
    assert_eq!(
        out.receipts[0].status,
        Status::Rejected(Reason::GasLimitTooHigh)
    );
    assert!(
        out.receipts[1].status.is_included(),
        "{:?}",
        out.receipts[1]
    );

    // Kept across a restart, and served back in the genesis.
    let hash = v.state_hash();
    drop(v);
    let v = Validator::open(&dir.path().join("d")).expect("reopen");
    assert_eq!(v.rules(), &rules);
    assert_eq!(v.state_hash(), hash);
    let back = mf_validator::replay::genesis_of(v.store()).expect("genesis");
    assert_eq!(back.rules, rules);
    let reparsed = Genesis::parse(&back.to_json().to_string()).expect("parse");
    assert_eq!(reparsed.rules, rules);
}

#[test]
fn an_inconsistent_schedule_is_refused_at_init() {
    let (_, _, genesis) = setup(ChainRules {
        gas_limit: 1,
        forks: vec![
            (Fork::London, Activation::Block(5)),
            (Fork::Berlin, Activation::Block(9)),
        ],
        ..ChainRules::default()
    });
    let dir = tempfile::tempdir().expect("dir");
    let err = Validator::init(&dir.path().join("d"), &genesis)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("fork schedule"), "{err}");
}
