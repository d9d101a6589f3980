//! Fees (PROTOCOL.md §6.3, §6.4.6): a sender pays `gas_used x effective price` from the
//! account record its move declares, the base fee is burnt, and the validator credits the
//! batch's priority fees to the beneficiary once, with a fee credit after the batch's last
//! transaction that the header, the state hash and a restart all keep. revm's fee checks
//! give named reasons.

use crate::util::included_body;
use mf_format::*;
use mf_movegen::MemoryView;
use mf_validator::genesis::Genesis;
use mf_validator::{ApplyError, Mode, Validator, VersionState};

const CHAIN: u64 = 1337;
const BASE_FEE: u64 = 10;

fn beneficiary() -> Address {
    Address::repeat_byte(0xbe)
}

fn rules() -> ChainRules {
    ChainRules {
        base_fee: BASE_FEE,
        beneficiary: beneficiary(),
        ..ChainRules::default()
    }
}

fn eth(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// Alice and carol with 1 ETH each, the beneficiary with 5 wei.
fn world() -> (Keypair, Keypair, MemoryView, Genesis) {
    let alice = Keypair::from_label("fees alice");
    let carol = Keypair::from_label("fees carol");
    let mut view = MemoryView::new();
    for k in [&alice, &carol] {
        view.set_account(
            k.address(),
            Account {
                balance: eth(1),
                nonce: 0,
                code_hash: EMPTY_CODE_HASH,
            },
        );
    }
    view.set_account(
        beneficiary(),
        Account {
            balance: U256::from(5u64),
            nonce: 0,
            code_hash: EMPTY_CODE_HASH,
        },
    );
    let mut genesis = Genesis::from_view(CHAIN, &view);
    genesis.rules = rules();
    (alice, carol, view, genesis)
}

fn pay(view: &MemoryView, from: &Keypair, to: Address, value: u64, fee: Fee) -> Transaction {
    let call = Call {
        from: from.address(),
        to: Some(to),
        value: U256::from(value),
        input: vec![],
        gas_limit: 21_000,
        fee,
        access_list: Vec::new(),
        blob: None,
    };
    sign(
        included_body(view, CHAIN, &rules(), call, ExecContext::default()),
        &[from],
    )
}

fn account(v: &Validator, intx: TxId, addr: Address) -> Account {
    match v.version(&intx, &Key::account(addr)).expect("lookup") {
        VersionState::Live(Value::Account(a)) => a,
        other => panic!("{addr} at {intx}: {other:?}"),
    }
}

#[test]
fn senders_pay_and_the_beneficiary_is_credited_once_per_batch() {
    let (alice, carol, view, genesis) = world();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("d");
    let mut v = Validator::init(&path, &genesis).expect("init");
    let bob = Address::repeat_byte(0xb0);
    let dave = Address::repeat_byte(0xda);
    // Priority 5 under a fee cap of 30: effective price 15, 5 of it to the beneficiary.
    let a = pay(&view, &alice, bob, 1_000, Fee::dynamic(30, 5));
    // Legacy price 12: 2 above the base fee to the beneficiary.
    let c = pay(&view, &carol, dave, 2_000, Fee::legacy(12));
    let out = v
        .apply_batch(
            &Batch {
                txs: vec![a.clone(), c.clone()],
            },
            Mode::Strict,
        )
        .expect("applied");
    assert_eq!(out.receipts.len(), 2, "the submitter's transactions");
    let receipts = v.store().receipts(1).expect("read").expect("receipts");
    assert_eq!(receipts.len(), 3, "two transactions and the fee credit");
    assert!(receipts.iter().all(|r| r.status == Status::Accepted));
    let a_id = tx_id(&a.body);
    let spent = eth(1) - U256::from(1_000u64 + 21_000 * 15);
    assert_eq!(account(&v, a_id, alice.address()).balance, spent);
    assert_eq!(
        account(&v, tx_id(&c.body), carol.address()).balance,
        eth(1) - U256::from(2_000u64 + 21_000 * 12)
    );
    // The fee credit: the last stored transaction, consuming the genesis version.
    let stored =
        decode_batch(&v.store().batch_bytes(1).expect("read").expect("batch")).expect("decodes");
    let credit = stored.txs.last().expect("credit");
    assert!(is_fee_credit(credit));
    assert_eq!(credit.body.moves[0].intx, GENESIS_INTX);
    let credit_id = tx_id(&credit.body);
    assert_eq!(receipts[2].tx_id, credit_id);
    let fees = U256::from(21_000u64 * 5 + 21_000 * 2);
    assert_eq!(
        account(&v, credit_id, beneficiary()).balance,
        U256::from(5u64) + fees
    );
    // A second batch credits again, spending the first credit's version.
    let mut after = view.clone();
    after.apply(&a.body).expect("mirror");
    let a2 = pay(&after, &alice, bob, 1, Fee::dynamic(30, 1));
    v.apply_batch(&Batch { txs: vec![a2] }, Mode::Strict)
        .expect("second batch");
    let stored =
        decode_batch(&v.store().batch_bytes(2).expect("read").expect("batch")).expect("decodes");
    let credit2 = stored.txs.last().expect("credit");
    assert!(is_fee_credit(credit2));
    assert_eq!(credit2.body.moves[0].intx, credit_id);
    let credit2_id = tx_id(&credit2.body);
    let head = *v.head();
    let (fresh, stored_hash) = v.check().expect("check");
    assert_eq!(fresh, stored_hash);
    drop(v);
    // A restart rebuilds the same state and tracks the credit's version.
    let mut v = Validator::open(&path).expect("reopen");
    assert_eq!(*v.head(), head);
    assert_eq!(
        account(&v, credit2_id, beneficiary()).balance,
        U256::from(5u64) + fees + U256::from(21_000u64)
    );
    let mut after2 = after.clone();
    after2.apply(&stored.txs[0].body).expect("mirror");
    let a3 = pay(&after2, &alice, bob, 1, Fee::dynamic(30, 1));
    v.apply_batch(&Batch { txs: vec![a3] }, Mode::Strict)
        .expect("third batch after the restart");
    let stored =
        decode_batch(&v.store().batch_bytes(3).expect("read").expect("batch")).expect("decodes");
    assert_eq!(stored.txs[1].body.moves[0].intx, credit2_id);
}

#[test]
fn no_tip_writes_no_credit_and_the_beneficiary_spending_first_is_credited_after() {
    let (alice, _, view, genesis) = world();
    let dir = tempfile::tempdir().expect("dir");
    let mut v = Validator::init(&dir.path().join("d"), &genesis).expect("init");
    // At exactly the base fee nothing goes to the beneficiary: no credit is written.
    let a = pay(&view, &alice, beneficiary(), 100, Fee::dynamic(10, 0));
    let out = v
        .apply_batch(
            &Batch {
                txs: vec![a.clone()],
            },
            Mode::Strict,
        )
        .expect("applied");
    assert_eq!(out.receipts.len(), 1);
    // A payment to the beneficiary with a tip: the credit spends the version the payment
    // created, after it.
    let mut after = view.clone();
    after.apply(&a.body).expect("mirror");
    let b = pay(&after, &alice, beneficiary(), 100, Fee::dynamic(11, 1));
    v.apply_batch(
        &Batch {
            txs: vec![b.clone()],
        },
        Mode::Strict,
    )
    .expect("applied");
    assert_eq!(v.store().receipts(2).expect("read").expect("r").len(), 2);
    let stored =
        decode_batch(&v.store().batch_bytes(2).expect("read").expect("batch")).expect("decodes");
    assert_eq!(stored.txs[1].body.moves[0].intx, tx_id(&b.body));
    assert_eq!(
        account(&v, tx_id(&stored.txs[1].body), beneficiary()).balance,
        U256::from(5u64 + 200 + 21_000)
    );
}

#[test]
fn fee_refusals_are_named() {
    let (alice, _, view, genesis) = world();
    let dir = tempfile::tempdir().expect("dir");
    let mut v = Validator::init(&dir.path().join("d"), &genesis).expect("init");
    let bob = Address::repeat_byte(0xb0);
    let refused = |v: &mut Validator, tx: Transaction| match v
        .apply_batch(&Batch { txs: vec![tx] }, Mode::Strict)
    {
        Err(ApplyError::Strict { reason, .. }) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    };
    // Moves built as if the fee were fine, with a fee cap below the base fee.
    let mut low = pay(&view, &alice, bob, 1, Fee::dynamic(30, 0)).body;
    low.call.fee = Fee::dynamic(9, 0);
    assert_eq!(
        refused(&mut v, sign(low, &[&alice])),
        Reason::FeeCapBelowBaseFee
    );
    // gas_limit x fee cap + value above the balance (1 ETH).
    let mut rich = pay(&view, &alice, bob, 1, Fee::dynamic(30, 0)).body;
    rich.call.fee = Fee::dynamic(u128::from(u64::MAX), 0);
    assert_eq!(
        refused(&mut v, sign(rich, &[&alice])),
        Reason::InsufficientFunds
    );
    // A legacy price with a different priority field.
    let mut odd = pay(&view, &alice, bob, 1, Fee::legacy(20)).body;
    odd.call.fee.max_priority_fee_per_gas = 10;
    assert_eq!(
        refused(&mut v, sign(odd, &[&alice])),
        Reason::InvalidFeeFields
    );
    // A submitted transaction dressed as a fee credit has no authorisation.
    let fake = fee_credit_tx(
        CHAIN,
        1,
        0,
        beneficiary(),
        (
            GENESIS_INTX,
            Account {
                balance: U256::from(5u64),
                nonce: 0,
                code_hash: EMPTY_CODE_HASH,
            },
        ),
        eth(1),
    )
    .expect("credit");
    assert_eq!(refused(&mut v, fake), Reason::SenderNotConsumed);
    assert_eq!(v.head().height, 0, "nothing applied");
}

/// PROTOCOL.md §6.4.3 step 0: the gas limits of the transactions a batch executes sum to at
/// most the chain's batch gas limit; one past it is `batch_gas_full` and not executed (its
/// dependants cascade), a transaction refused before execution takes no gas from the
/// budget, and a later one that fits is executed.
#[test]
fn the_batch_gas_budget_is_decided_before_execution() {
    let (alice, carol, view, mut genesis) = world();
    genesis.rules.gas_limit = 30_000;
    genesis.rules.batch_gas_limit = 50_000;
    let dir = tempfile::tempdir().expect("dir");
    let mut v = Validator::init(&dir.path().join("d"), &genesis).expect("init");
    let bob = Address::repeat_byte(0xb0);
    let fee = Fee::dynamic(30, 1);
    let mut forged = pay(&view, &carol, bob, 1, fee);
    forged.auths[0].signature.0[0] ^= 1;
    let a1 = pay(&view, &alice, bob, 1, fee);
    let c1 = pay(&view, &carol, Address::repeat_byte(0xda), 2, fee);
    let mut after = view.clone();
    after.apply(&a1.body).expect("mirror");
    after.apply(&c1.body).expect("mirror");
    let a2 = pay(&after, &alice, Address::repeat_byte(0xe1), 3, fee);
    let mut after2 = after.clone();
    after2.apply(&a2.body).expect("mirror");
    let a3 = pay(&after2, &alice, Address::repeat_byte(0xe2), 4, fee);
    let batch = Batch {
        txs: vec![forged, a1, c1, a2, a3],
    };
    let before = (v.state_hash(), *v.head());
    assert!(matches!(
        v.apply_batch(&batch, Mode::Strict),
        Err(ApplyError::Strict { .. })
    ));
    assert_eq!(
        (v.state_hash(), *v.head()),
        before,
        "a refused batch changes nothing"
    );
    let out = v.apply_batch(&batch, Mode::Filter).expect("filter");
    let got: Vec<Status> = out.receipts.iter().map(|r| r.status).collect();
    assert_eq!(
        got,
        vec![
            Status::Rejected(Reason::BadSignature),
            Status::Accepted,
            Status::Accepted,
            Status::Rejected(Reason::BatchGasFull),
            Status::Rejected(Reason::BatchGasFull),
        ]
    );
    assert_eq!(out.receipts[3].gas_used, 0, "not executed");
}
