//! Credits do not invalidate pending transactions (PROTOCOL.md §5.3): a wallet signs its own
//! account move's nonce only ([`Mask::NONCE_ONLY`], the wallet library's default), so a
//! payment it receives after signing leaves its transaction valid once a filler re-fills it
//! against the new version; the nonce makes it unrepeatable. The review's scenario:
//! `[1 wei to V, V's pre-signed payment]` in one batch and across two batches.

use crate::util::statuses;
use mf_format::*;
use mf_movegen::{FillError, MemoryView, SignPolicy, TxBuilder, fill_preverified_under};
use mf_validator::Validator;
use mf_validator::genesis::Genesis;

const CHAIN: u64 = 1337;

fn rules() -> ChainRules {
    ChainRules {
        base_fee: 7,
        beneficiary: Address::repeat_byte(0xbe),
        ..ChainRules::default()
    }
}

fn funded() -> (Keypair, Keypair, MemoryView, Genesis) {
    let u = Keypair::from_label("credits u");
    let v = Keypair::from_label("credits v");
    let view = mf_devkit::funded([u.address(), v.address()], mf_devkit::units(1));
    let mut genesis = Genesis::from_view(CHAIN, &view);
    genesis.rules = rules();
    (u, v, view, genesis)
}

fn pay(
    view: &MemoryView,
    from: &Keypair,
    to: Address,
    wei: u64,
    policy: SignPolicy,
) -> Transaction {
    TxBuilder::transfer(CHAIN, to, U256::from(wei))
        .fee(Fee::dynamic(20, 2))
        .rules(rules())
        .sign_policy(policy)
        .build(view, from, &[])
        .expect("build a payment")
        .tx
}

fn sender_index(tx: &Transaction, sender: Address) -> usize {
    tx.body
        .moves
        .iter()
        .position(|m| m.key() == Key::account(sender))
        .expect("sender move")
}

#[test]
fn a_credit_in_the_same_batch_leaves_the_payment_valid() {
    let (u, v, view, genesis) = funded();
    let dir = tempfile::tempdir().expect("dir");
    let mut val = Validator::init(&dir.path().join("d"), &genesis).expect("init");
    let w = Address::repeat_byte(0x77);
    // V signs a payment, then U sends V 1 wei before it lands.
    let payment = pay(&view, &v, w, 5, SignPolicy::all());
    let sender = &payment.body.moves[sender_index(&payment, v.address())];
    assert_eq!(sender.mask, Mask::NONCE_ONLY);
    let credit = pay(&view, &u, v.address(), 1, SignPolicy::all());
    let mut after = view.clone();
    after.apply(&credit.body).expect("mirror the credit");

    // As signed, the payment spends the version the credit consumed: a filler re-fills it
    // against the credit's version, keeping the signature.
    let refilled = fill_preverified_under(&payment, &after, &rules())
        .expect("re-fill")
        .tx;
    assert_ne!(tx_id(&refilled.body), tx_id(&payment.body));
    assert_eq!(
        signing_digest(&refilled.body),
        signing_digest(&payment.body)
    );
    assert_eq!(verify_tx_signatures(&refilled), Ok(()));
    assert_eq!(
        statuses(&mut val, &[credit.clone(), refilled.clone()]),
        vec![Status::Accepted, Status::Accepted]
    );
    // The nonce makes it unrepeatable: neither the filled transaction nor a new fill of the
    // signed one goes in again.
    let mut done = after.clone();
    done.apply(&refilled.body).expect("mirror the payment");
    let replay = fill_preverified_under(&payment, &done, &rules());
    assert!(
        matches!(replay, Err(FillError::SignedFieldChanged { .. })),
        "{replay:?}"
    );
    let signed = *sender;
    let Value::Account(spent) = refilled.body.moves[sender_index(&refilled, v.address())].next
    else {
        panic!("the sender's record");
    };
    let live = Move {
        prev: Value::Account(spent),
        ..signed
    };
    assert_eq!(signed.signed_difference(&live), Some(SignedField::Nonce));
    let again = statuses(&mut val, std::slice::from_ref(&refilled));
    assert!(matches!(again[0], Status::Rejected(_)), "{again:?}");

    // Signed exactly (the sender's version too), the same credit does invalidate it.
    let (u, v, view, genesis) = funded();
    let exact = pay(&view, &v, w, 5, SignPolicy::exact());
    let credit = pay(&view, &u, v.address(), 1, SignPolicy::all());
    let mut after = view.clone();
    after.apply(&credit.body).expect("mirror the credit");
    assert!(matches!(
        fill_preverified_under(&exact, &after, &rules()),
        Err(FillError::SignedFieldChanged {
            field: SignedField::Intx,
            ..
        })
    ));
    let dir = tempfile::tempdir().expect("dir");
    let mut val = Validator::init(&dir.path().join("d"), &genesis).expect("init");
    let out = statuses(&mut val, &[credit, exact]);
    assert_eq!(out[0], Status::Accepted);
    assert!(matches!(out[1], Status::Rejected(_)), "{out:?}");
}

#[test]
fn a_credit_in_an_earlier_batch_leaves_the_payment_valid() {
    let (u, v, view, genesis) = funded();
    let dir = tempfile::tempdir().expect("dir");
    let mut val = Validator::init(&dir.path().join("d"), &genesis).expect("init");
    let w = Address::repeat_byte(0x77);
    let payment = pay(&view, &v, w, 5, SignPolicy::all());
    let credit = pay(&view, &u, v.address(), 1, SignPolicy::all());
    assert_eq!(
        statuses(&mut val, std::slice::from_ref(&credit)),
        vec![Status::Accepted]
    );
    // As signed, the payment now names a spent version.
    assert!(matches!(
        statuses(&mut val, std::slice::from_ref(&payment))[0],
        Status::Rejected(_)
    ));
    let mut after = view.clone();
    after.apply(&credit.body).expect("mirror the credit");
    let refilled = fill_preverified_under(&payment, &after, &rules())
        .expect("re-fill")
        .tx;
    assert_eq!(
        statuses(&mut val, std::slice::from_ref(&refilled)),
        vec![Status::Accepted]
    );
    // V paid 5 wei and its fee from the balance that includes U's 1 wei.
    let (fresh, stored) = val.check().expect("check");
    assert_eq!(fresh, stored);
    let sender = &refilled.body.moves[sender_index(&refilled, v.address())];
    assert_eq!(sender.intx, tx_id(&credit.body));
    let (Value::Account(before), Value::Account(after)) = (sender.prev, sender.next) else {
        panic!("account values");
    };
    assert_eq!(before.nonce + 1, after.nonce);
    assert_eq!(
        before.balance,
        U256::from(10u64).pow(U256::from(18u64)) + U256::from(1u64)
    );
}
