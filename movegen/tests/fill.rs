//! Signing policies and filling, with real revm on the committed contracts and real
//! signatures.

use crate::util::*;
use mf_format::{
    Address, Key, Keypair, Mask, MoveKind, Reason, Transaction, U256, Value, check_structure, sign,
    signing_digest, tx_id, verify_tx_signatures,
};
use mf_movegen::{
    CodeLookup, FillError, MemoryView, MovegenError, PolicyError, Reexec, ReexecCheck, SignPolicy,
    SignedField, StateView, TxBuilder, fill, fill_built, fill_preverified,
};

struct ViewCode<'a>(&'a MemoryView);

impl CodeLookup for ViewCode<'_> {
    fn code(&self, hash: &mf_format::B256) -> Option<Vec<u8>> {
        self.0.code(hash).ok().flatten().map(|b| b.to_vec())
    }
}

fn reexec(view: &MemoryView, tx: &Transaction) -> Result<u64, Reason> {
    ReexecCheck::default()
        .reexec(tx, &tx_id(&tx.body), &ViewCode(view))
        .map(|o| o.gas_used)
}

/// The contested keys of a token A -> token B swap: the reserves and the pool's balances.
fn pool_keys(w: &World) -> [Key; 4] {
    [
        Key::storage(w.pair, U256::from(2u64)),
        Key::storage(w.pair, U256::from(3u64)),
        Key::storage(w.token_a, bal_slot(w.pair)),
        Key::storage(w.token_b, bal_slot(w.pair)),
    ]
}

/// Pattern (b): pool keys unsigned in an open transaction, the user's output balance signed
/// up to its value before, everything else signed.
fn swap_policy(w: &World, user: Address) -> SignPolicy {
    SignPolicy::all()
        .open(true)
        .with_masks(pool_keys(w), Mask::NONE)
        .with_mask(
            Key::storage(w.token_b, bal_slot(user)),
            SignPolicy::KNOWN_BEFORE,
        )
}

fn swap_builder(w: &World, amount: U256, min_out: U256) -> TxBuilder {
    TxBuilder::call(CHAIN, w.pair, swap_data(w.token_a, amount, min_out))
}

fn reserves(view: &MemoryView, w: &World) -> (U256, U256) {
    (
        view.storage(w.pair, U256::from(2u64)),
        view.storage(w.pair, U256::from(3u64)),
    )
}

#[test]
fn the_policy_sets_masks_and_open() {
    let w = world(2);
    let b = &w.users[1];
    let built = swap_builder(&w, eth(10), U256::from(1u64))
        .sign_policy(swap_policy(&w, b.address()))
        .build(&w.view, b, &[])
        .unwrap();
    let body = &built.tx.body;
    assert!(body.open);
    for m in &body.moves {
        let want = if pool_keys(&w).contains(&m.key()) {
            Mask::NONE
        } else if m.key() == Key::storage(w.token_b, bal_slot(b.address())) {
            SignPolicy::KNOWN_BEFORE
        } else if m.key() == Key::account(b.address()) {
            Mask::NONCE_ONLY
        } else {
            Mask::ALL
        };
        assert_eq!(m.mask, want, "{:?}", m.key());
    }
    assert_eq!(check_structure(&built.tx, CHAIN), Ok(()));
    assert_eq!(verify_tx_signatures(&built.tx), Ok(()));
    assert_eq!(reexec(&w.view, &built.tx), Ok(built.execution.gas_used));
    // The builder's per-key calls give the same transaction.
    let mut again = swap_builder(&w, eth(10), U256::from(1u64)).open(true);
    for k in pool_keys(&w) {
        again = again.with_mask(k, Mask::NONE);
    }
    let again = again
        .with_mask(
            Key::storage(w.token_b, bal_slot(b.address())),
            SignPolicy::KNOWN_BEFORE,
        )
        .build(&w.view, b, &[])
        .unwrap();
    assert_eq!(again.tx, built.tx);
}

#[test]
fn policy_rules_are_enforced() {
    let w = world(1);
    let a = &w.users[0];
    let err = swap_builder(&w, eth(1), U256::from(1u64))
        .with_mask(pool_keys(&w)[0], Mask::NONE)
        .build(&w.view, a, &[])
        .unwrap_err();
    assert!(
        matches!(
            err,
            MovegenError::Policy(PolicyError::UnsignedMoveInClosedTx(k)) if k == pool_keys(&w)[0]
        ),
        "{err}"
    );
    for mask in [Mask::NONE, Mask(Mask::NEXT)] {
        let err = swap_builder(&w, eth(1), U256::from(1u64))
            .open(true)
            .with_mask(Key::account(a.address()), mask)
            .build(&w.view, a, &[])
            .unwrap_err();
        assert!(
            matches!(err, MovegenError::Policy(PolicyError::SenderMoveUnsigned(m)) if m == mask),
            "{err}"
        );
    }
    let err = swap_builder(&w, eth(1), U256::from(1u64))
        .with_mask(pool_keys(&w)[1], Mask(8))
        .build(&w.view, a, &[])
        .unwrap_err();
    assert!(
        matches!(err, MovegenError::Policy(PolicyError::InvalidMask { .. })),
        "{err}"
    );
    // A key the execution does not touch is ignored.
    let plain = swap_builder(&w, eth(1), U256::from(1u64))
        .build(&w.view, a, &[])
        .unwrap();
    let masked = swap_builder(&w, eth(1), U256::from(1u64))
        .with_mask(Key::account(Address::repeat_byte(0x77)), Mask(Mask::NEXT))
        .build(&w.view, a, &[])
        .unwrap();
    assert_eq!(plain.tx, masked.tx);
}

#[test]
fn masked_swap_is_filled_after_another_swap_moved_the_pool() {
    let w = world(2);
    let mut view = w.view.clone();
    let (a, b) = (&w.users[0], &w.users[1]);
    let amount_b = eth(50);
    // B signs first, against the genesis pool.
    let signed = swap_builder(&w, amount_b, eth(1))
        .sign_policy(swap_policy(&w, b.address()))
        .build(&view, b, &[])
        .unwrap();
    // A's swap is applied first and moves the pool.
    let first = swap_builder(&w, eth(200), U256::from(1u64))
        .build(&view, a, &[])
        .unwrap();
    let id_a = view.apply(&first.tx.body).unwrap();
    // The stale transaction no longer applies.
    assert!(matches!(
        view.clone().apply(&signed.tx.body),
        Err(MovegenError::StaleMove(_))
    ));
    let (ra, rb) = reserves(&view, &w);

    let filled = fill_built(&signed.tx, &view).unwrap();
    assert_ne!(filled.tx, signed.tx);
    assert_eq!(filled.tx.auths, signed.tx.auths);
    assert_eq!(
        signing_digest(&filled.tx.body),
        signing_digest(&signed.tx.body)
    );
    assert_eq!(check_structure(&filled.tx, CHAIN), Ok(()));
    assert_eq!(verify_tx_signatures(&filled.tx), Ok(()));
    assert_eq!(reexec(&view, &filled.tx), Ok(filled.execution.gas_used));
    // The pool moves now name A's versions.
    for k in pool_keys(&w) {
        let m = filled.tx.body.moves.iter().find(|m| m.key() == k).unwrap();
        assert_eq!(m.intx, id_a, "{k:?}");
        assert_eq!(m.mask, Mask::NONE);
    }
    let out = amount_out(amount_b, ra, rb);
    assert!(out < amount_out(amount_b, eth(10_000), eth(20_000)));
    view.apply(&filled.tx.body).unwrap();
    assert_eq!(
        view.storage(w.token_b, bal_slot(b.address())),
        eth(1_000_000) + out
    );
    assert_eq!(reserves(&view, &w), (ra + amount_b, rb - out));
}

#[test]
fn a_changed_signed_field_is_refused() {
    let w = world(2);
    let mut view = w.view.clone();
    let (a, b) = (&w.users[0], &w.users[1]);
    // The output balance signed in full: the amount received is pinned.
    let pinned_out = swap_builder(&w, eth(50), eth(1))
        .sign_policy(
            swap_policy(&w, b.address())
                .with_mask(Key::storage(w.token_b, bal_slot(b.address())), Mask::ALL),
        )
        .build(&view, b, &[])
        .unwrap();
    // Everything signed.
    let all = swap_builder(&w, eth(50), eth(1))
        .build(&view, b, &[])
        .unwrap();
    let masked = swap_builder(&w, eth(50), eth(1))
        .sign_policy(swap_policy(&w, b.address()))
        .build(&view, b, &[])
        .unwrap();
    let first = swap_builder(&w, eth(200), U256::from(1u64))
        .build(&view, a, &[])
        .unwrap();
    view.apply(&first.tx.body).unwrap();

    match fill(&pinned_out.tx, &view) {
        Err(FillError::SignedFieldChanged { key, field }) => {
            assert_eq!(key, Key::storage(w.token_b, bal_slot(b.address())));
            assert_eq!(field, SignedField::Next);
        }
        other => panic!("{other:?}"),
    }
    match fill(&all.tx, &view) {
        Err(FillError::SignedFieldChanged { key, field }) => {
            assert!(pool_keys(&w).contains(&key), "{key:?}");
            assert_eq!(field, SignedField::Intx);
        }
        other => panic!("{other:?}"),
    }

    // A filler that changes a signed field after filling breaks the signature...
    let filled = fill(&masked.tx, &view).unwrap();
    let i = filled
        .body
        .moves
        .iter()
        .position(|m| m.key() == Key::storage(w.token_a, bal_slot(b.address())))
        .unwrap();
    let mut tampered = filled.clone();
    if let Value::Storage(x) = &mut tampered.body.moves[i].next {
        *x += U256::from(1u64);
    }
    assert_eq!(verify_tx_signatures(&tampered), Err(Reason::BadSignature));
    assert!(matches!(
        fill(&tampered, &view),
        Err(FillError::SignedFieldChanged {
            field: SignedField::Next,
            ..
        })
    ));
    // ... while an unsigned field changed keeps it (re-execution is what catches that).
    let j = filled
        .body
        .moves
        .iter()
        .position(|m| m.key() == pool_keys(&w)[1])
        .unwrap();
    let mut skimmed = filled.clone();
    if let Value::Storage(x) = &mut skimmed.body.moves[j].next {
        *x += U256::from(1u64);
    }
    assert_eq!(verify_tx_signatures(&skimmed), Ok(()));
    assert_eq!(reexec(&view, &skimmed), Err(Reason::WriteMismatch));
    // A bad signature on the original is reported.
    let mut bad = masked.tx.clone();
    bad.auths[0].signature.0[0] ^= 1;
    assert!(matches!(
        fill(&bad, &view),
        Err(FillError::Signature(Reason::BadSignature))
    ));
}

#[test]
fn adding_moves_to_a_closed_transaction_is_refused() {
    let w = world(1);
    let b = &w.users[0];
    let masked = swap_builder(&w, eth(5), eth(1))
        .sign_policy(swap_policy(&w, b.address()))
        .build(&w.view, b, &[])
        .unwrap();
    // The wallet leaves the pool moves out entirely.
    let partial = |open: bool| {
        let mut body = masked.tx.body.clone();
        body.moves.retain(|m| m.mask.is_signed());
        body.open = open;
        sign(body, &[b])
    };
    let closed = partial(false);
    assert_eq!(check_structure(&closed, CHAIN), Ok(()));
    match fill(&closed, &w.view) {
        Err(FillError::MovesAddedToClosedTx(keys)) => {
            let mut want = pool_keys(&w).to_vec();
            want.sort();
            assert_eq!(keys, want);
        }
        other => panic!("{other:?}"),
    }
    // Open, the filler adds them unsigned.
    let filled = fill(&partial(true), &w.view).unwrap();
    assert_eq!(filled.body.moves.len(), masked.tx.body.moves.len());
    assert!(
        filled.body.moves[filled.body.moves.len() - 4..]
            .iter()
            .all(|m| m.mask == Mask::NONE && pool_keys(&w).contains(&m.key()))
    );
    assert_eq!(reexec(&w.view, &filled), Ok(masked.execution.gas_used));
    // A signed move the execution does not touch cannot be dropped.
    let mut body = masked.tx.body.clone();
    let stranger = Keypair::from_label("stranger").address();
    // Among the signed moves (they come before the unsigned ones, PROTOCOL.md §6.1 #7c).
    let first_unsigned = body.moves.iter().position(|m| !m.mask.is_signed()).unwrap();
    body.moves.insert(
        first_unsigned,
        mf_format::Move {
            mask: Mask::ALL,
            kind: MoveKind::Reference,
            mark: mf_format::Mark::Account,
            intx: mf_format::GENESIS_INTX,
            addr: stranger,
            slot: U256::ZERO,
            prev: Value::zero(mf_format::Mark::Account),
            next: Value::zero(mf_format::Mark::Account),
        },
    );
    assert!(matches!(
        fill(&sign(body.clone(), &[b]), &w.view),
        Err(FillError::MoveNoLongerTouched(k)) if k == Key::account(stranger)
    ));
    // Unsigned (in its place among the unsigned moves), it is dropped.
    body.moves[first_unsigned].mask = Mask::NONE;
    body.canonicalize();
    assert_eq!(fill(&sign(body, &[b]), &w.view).unwrap(), masked.tx);
}

#[test]
fn a_swap_below_its_minimum_after_the_pool_moved_is_refused() {
    let w = world(2);
    let mut view = w.view.clone();
    let (a, b) = (&w.users[0], &w.users[1]);
    let amount = eth(50);
    let exact = amount_out(amount, eth(10_000), eth(20_000));
    let signed = swap_builder(&w, amount, exact)
        .sign_policy(swap_policy(&w, b.address()))
        .build(&view, b, &[])
        .unwrap();
    // Still fillable against the state it was signed on.
    assert_eq!(fill(&signed.tx, &view).unwrap(), signed.tx);
    let first = swap_builder(&w, eth(1), U256::from(1u64))
        .build(&view, a, &[])
        .unwrap();
    view.apply(&first.tx.body).unwrap();
    let err = fill(&signed.tx, &view).unwrap_err();
    assert_eq!(err.revert_reason(), Some("insufficient output"), "{err}");
    assert!(err.to_string().contains("insufficient output"), "{err}");
}

#[test]
fn fill_against_an_unchanged_view_returns_the_same_transaction() {
    let w = world(2);
    let (a, b) = (&w.users[0], &w.users[1]);
    let builts = [
        TxBuilder::transfer(CHAIN, b.address(), U256::from(5u64))
            .build(&w.view, a, &[])
            .unwrap(),
        TxBuilder::call(CHAIN, w.token_a, transfer_data(b.address(), eth(3)))
            .build(&w.view, a, &[])
            .unwrap(),
        swap_builder(&w, eth(10), U256::from(1u64))
            .build(&w.view, a, &[])
            .unwrap(),
        swap_builder(&w, eth(10), U256::from(1u64))
            .sign_policy(swap_policy(&w, a.address()))
            .build(&w.view, a, &[])
            .unwrap(),
    ];
    for built in &builts {
        let filled = fill_built(&built.tx, &w.view).unwrap();
        assert_eq!(filled.tx, built.tx);
        assert_eq!(filled.id, built.id);
        assert_eq!(filled.execution, built.execution);
    }
    // A plain transfer whose recipient received funds meanwhile is refused (all signed).
    let mut view = w.view.clone();
    let other = TxBuilder::transfer(CHAIN, b.address(), U256::from(1u64))
        .build(&view, b, &[])
        .unwrap();
    view.apply(&other.tx.body).unwrap();
    assert!(matches!(
        fill(&builts[0].tx, &view),
        Err(FillError::SignedFieldChanged {
            field: SignedField::Intx,
            ..
        })
    ));
}

/// `fill_preverified` (the coordinator's path, after intake verified the intent) gives the
/// same result as `fill_built`; it does not check signatures itself, so a forged intent
/// comes out forged and the validator's verification refuses it.
#[test]
fn preverified_fill_matches_the_verifying_fill_and_keeps_the_digest() {
    let w = world(3);
    let (a, b) = (&w.users[1], &w.users[2]);
    let intent = swap_builder(&w, eth(10), U256::from(1u64))
        .sign_policy(swap_policy(&w, b.address()))
        .build(&w.view, b, &[])
        .unwrap()
        .tx;
    // Another swap moves the pool first.
    let mut view = w.view.clone();
    let first = swap_builder(&w, eth(50), U256::from(1u64))
        .build(&view, a, &[])
        .unwrap();
    view.apply(&first.tx.body).unwrap();

    let checked = fill_built(&intent, &view).unwrap();
    let fast = fill_preverified(&intent, &view).unwrap();
    assert_eq!(checked.tx, fast.tx);
    assert_eq!(checked.id, fast.id);
    assert_ne!(fast.tx.body, intent.body, "the pool fields were re-filled");
    assert_eq!(signing_digest(&fast.tx.body), signing_digest(&intent.body));
    verify_tx_signatures(&fast.tx).unwrap();

    // A forgery: the same intent signed by somebody else.
    let forged = sign(intent.body.clone(), &[a]);
    assert!(matches!(
        fill_built(&forged, &view),
        Err(FillError::Signature(_) | FillError::Structure(_))
    ));
    if let Ok(f) = fill_preverified(&forged, &view) {
        assert!(verify_tx_signatures(&f.tx).is_err());
    }
}
