//! Failed executions are included (PROTOCOL.md §6.3): a call that reverts or halts, with the
//! moves of the failed run (the sender's nonce bump, references for what it read), is
//! included with status `failed` in both modes, its sender's version is spent (so it cannot
//! be posted again), later transactions chain on it, a restart rebuilds the same state, and
//! the moves of the call as if it had succeeded are refused.

use crate::util::{funded_with_contract, included_body};
use mf_format::*;
use mf_movegen::{MemoryView, execute};
use mf_validator::genesis::Genesis;
use mf_validator::{Mode, Validator, VersionState};

const CHAIN: u64 = 1337;

/// `SSTORE(0, 1)` then `REVERT(0, 0)`: a write that the revert undoes.
const WRITE_THEN_REVERT: [u8; 10] = [0x60, 0x01, 0x60, 0x00, 0x55, 0x60, 0x00, 0x60, 0x00, 0xfd];

fn reverter() -> Address {
    Address::repeat_byte(0xfe)
}

fn world() -> (Keypair, MemoryView) {
    funded_with_contract("failed executions alice", reverter(), &WRITE_THEN_REVERT)
}

fn body_of(view: &MemoryView, call: Call, ctx: ExecContext) -> TxBody {
    included_body(view, CHAIN, &ChainRules::default(), call, ctx)
}

#[test]
fn a_reverting_call_is_included_as_failed_and_chains() {
    let (alice, view) = world();
    let ctx = ExecContext::default();
    let call = Call {
        from: alice.address(),
        to: Some(reverter()),
        value: U256::ZERO,
        input: vec![],
        gas_limit: 100_000,
        fee: Default::default(),
        access_list: Vec::new(),
        blob: None,
    };
    assert!(
        execute(&view, CHAIN, &call, &ctx).is_err(),
        "a wallet sees the revert"
    );
    let failed = sign(body_of(&view, call.clone(), ctx), &[&alice]);
    let failed_id = tx_id(&failed.body);
    let mut after = view.clone();
    after.apply(&failed.body).expect("mirror");
    // A payment chained on the failed transaction's version of alice's record.
    let bob = Address::repeat_byte(0xb0);
    let pay = sign(
        body_of(
            &after,
            Call {
                from: alice.address(),
                to: Some(bob),
                value: U256::from(7u64),
                input: vec![],
                gas_limit: 21_000,
                fee: Default::default(),
                access_list: Vec::new(),
                blob: None,
            },
            ctx,
        ),
        &[&alice],
    );
    let batch = Batch {
        txs: vec![failed.clone(), pay.clone()],
    };
    let genesis = Genesis::from_view(CHAIN, &view);

    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().expect("dir")).collect();
    let mut heads = Vec::new();
    for (dir, mode) in dirs.iter().zip([Mode::Filter, Mode::Strict]) {
        let mut v = Validator::init(&dir.path().join("d"), &genesis).expect("init");
        v.set_clock(|| 1_000);
        let out = v.apply_batch(&batch, mode).expect("applied");
        assert!(out.header.is_some(), "{mode:?}: a new height");
        assert_eq!(out.accepted, 2, "{mode:?}: both included");
        let r = &out.receipts[0];
        assert_eq!(r.status, Status::Failed, "{mode:?}");
        assert!(r.gas_used > 21_000, "the failed run's gas: {}", r.gas_used);
        assert!(r.logs.is_empty());
        assert_eq!(out.receipts[1].status, Status::Accepted, "{mode:?}");
        // Alice's record: nonce 2 after both, at the payment's version.
        let key = Key::account(alice.address());
        match v.version(&tx_id(&pay.body), &key).expect("lookup") {
            VersionState::Live(Value::Account(a)) => assert_eq!(a.nonce, 2),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            v.version(&failed_id, &key).expect("lookup"),
            VersionState::NotLive,
            "spent by the payment"
        );
        // The reverted write never happened.
        let slot = Key::storage(reverter(), U256::ZERO);
        assert_eq!(
            v.version(&GENESIS_INTX, &slot).expect("lookup"),
            VersionState::NeverWritten(Value::Storage(U256::ZERO))
        );
        // Posted again: its sender's version is spent.
        let again = v
            .apply_batch(
                &Batch {
                    txs: vec![failed.clone()],
                },
                Mode::Filter,
            )
            .expect("answered");
        assert!(again.header.is_none(), "nothing written");
        assert_eq!(
            again.receipts[0].status,
            Status::Rejected(Reason::VersionNotLive)
        );
        heads.push((*v.head(), v.state_hash()));
        drop(v);
        let v = Validator::open(&dir.path().join("d")).expect("reopen");
        assert_eq!(v.state_hash(), heads.last().expect("head").1, "replay");
        assert_eq!(v.check().expect("check").0, v.state_hash());
    }
    assert_eq!(heads[0], heads[1], "filter and strict agree");
}

#[test]
fn the_successful_moves_of_a_reverting_call_are_refused() {
    let (alice, view) = world();
    // Declare what the call would do had it not reverted: slot 0 of the reverter set to 1.
    let ctx = ExecContext::default();
    let call = Call {
        from: alice.address(),
        to: Some(reverter()),
        value: U256::ZERO,
        input: vec![],
        gas_limit: 100_000,
        fee: Default::default(),
        access_list: Vec::new(),
        blob: None,
    };
    let mut body = body_of(&view, call, ctx);
    // The failed run read the slot (SSTORE loads it): a reference. Declare it written.
    let slot = body
        .moves
        .iter_mut()
        .find(|m| m.key() == Key::storage(reverter(), U256::ZERO))
        .expect("the slot is declared");
    assert_eq!(slot.kind, MoveKind::Reference);
    slot.kind = MoveKind::Consume;
    slot.next = Value::Storage(U256::from(1u64));
    body.canonicalize();
    let tx = sign(body, &[&alice]);
    let dir = tempfile::tempdir().expect("dir");
    let mut v =
        Validator::init(&dir.path().join("d"), &Genesis::from_view(CHAIN, &view)).expect("init");
    let out = v
        .apply_batch(&Batch { txs: vec![tx] }, Mode::Filter)
        .expect("answered");
    assert_eq!(
        out.receipts[0].status,
        Status::Rejected(Reason::WriteMismatch)
    );
    assert!(out.header.is_none(), "nothing written");
}
