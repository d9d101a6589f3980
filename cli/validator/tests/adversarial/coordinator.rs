//! The C rows: a coordinator (filler) misbehaving.

use super::*;

#[test]
fn a_misbehaving_coordinator() {
    let mut n = Net::start();
    let u2 = n.key(2);
    // ---- C: a coordinator (filler) misbehaving -----------------------------------------
    // An open payment: the recipient's record is left to the filler (mask 0).
    let to = n.fresh();
    let open = TxBuilder::transfer(CHAIN, to, U256::from(11u64))
        .sign_policy(
            SignPolicy::all()
                .open(true)
                .with_mask(Key::account(to), Mask::NONE),
        )
        .build(&n.view, &u2, &[])
        .expect("build an open transfer")
        .tx;
    let ri = move_on(&open.body, Key::account(to));
    let si = move_on(&open.body, Key::account(u2.address()));
    assert_eq!(open.body.moves[ri].mask, Mask::NONE);
    let alter = |tx: &Transaction, f: &dyn Fn(&mut TxBody)| {
        let mut t = tx.clone();
        f(&mut t.body);
        t
    };
    n.one(
        "C1",
        alter(&open, &|b| b.call.value += U256::from(1u64)),
        Some(Reason::BadSignature),
    );
    n.one(
        "C2",
        alter(&open, &|b| {
            b.moves[si].prev = with_nonce(b.moves[si].prev, |x| x + 1)
        }),
        Some(Reason::BadSignature),
    );
    n.one(
        "C3",
        alter(&open, &|b| {
            b.moves[ri].next = with_balance(b.moves[ri].next, |x| x + U256::from(1u64))
        }),
        Some(Reason::WriteMismatch),
    );
    // A closed payment (everything signed, open = false).
    let to = n.fresh();
    let closed = n.transfer(2, to, 12);
    let extra = n.fresh();
    n.one(
        "C4",
        alter(&closed, &|b| {
            b.moves.push(never_written_ref(extra, Mask::NONE))
        }),
        Some(Reason::UnsignedMoveInClosedTx),
    );
    n.one(
        "C5",
        alter(&closed, &|b| {
            b.moves.push(never_written_ref(extra, Mask::ALL))
        }),
        Some(Reason::BadSignature),
    );
    let ri = move_on(&closed.body, Key::account(to));
    n.one(
        "C6",
        alter(&closed, &|b| {
            b.moves.remove(ri);
        }),
        Some(Reason::BadSignature),
    );
    n.one(
        "C7",
        alter(&closed, &|b| b.moves.reverse()),
        Some(Reason::BadSignature),
    );
    // The filler adds an unsigned consume of someone else's record (user 6) that the call
    // never touches, with next = prev: refused by the structural rule that a consume must
    // change its value (PROTOCOL.md §6.1 3f), and the victim's version stays where it was.
    let victim = n.key(6);
    let victim_key = Key::account(victim.address());
    let grief = alter(&open, &|b| {
        b.moves.push(declared(
            &n.view,
            victim_key,
            MoveKind::Consume,
            Mask::NONE,
            None,
        ))
    });
    let victim_before = n.view.version(&victim_key).expect("view").expect("funded");
    assert!(
        !n.one("C8", grief, Some(Reason::ConsumeUnchanged)),
        "C8 refused"
    );
    assert_eq!(
        n.view.version(&victim_key).expect("view").expect("funded"),
        victim_before,
        "the victim's record is untouched"
    );

    // The filler adds to the open payment an unsigned reference to a never-written account,
    // in its canonical place (after the signed moves, in key order): structure and
    // signatures hold, but execution never reads it, and it would only rename the
    // transaction (PROTOCOL.md §6.3).
    let stranger = n.fresh();
    let renamed = alter(&open, &|b| {
        b.moves.push(never_written_ref(stranger, Mask::NONE));
        b.canonicalize();
    });
    assert_ne!(tx_id(&renamed.body), tx_id(&open.body));
    n.one("C9", renamed, Some(Reason::UnreadReference));

    n.finish('C');
}
