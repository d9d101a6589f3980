//! The A rows: application to the UTXO set.

use super::*;

#[test]
fn application_to_the_utxo_set() {
    let mut n = Net::start();
    let u1 = n.key(1);
    let u3 = n.key(3);
    // ---- A: application to the UTXO set -----------------------------------------------
    let u4 = n.key(4);
    // A1: a version that was never created.
    let to = n.fresh();
    let t = n.transfer(3, to, 1);
    let mut b = t.body.clone();
    let ri = move_on(&b, Key::account(to));
    b.moves[ri].intx = TxId::repeat_byte(0x5a);
    n.one("A1", resign(b, &[&u3]), Some(Reason::VersionNotLive));
    // A2: a stale read: the version was created by t1, then spent by t2.
    let t1 = n.transfer(3, fresh(1006), 1);
    n.setup(vec![t1]);
    let after_t1 = n.view.clone();
    let t2 = n.transfer(3, fresh(1007), 1);
    n.setup(vec![t2]);
    let stale = n.transfer_on(&after_t1, 3, fresh(1008), 1);
    n.one("A2", stale, Some(Reason::VersionNotLive));
    // A3: re-spending a genesis version (user 3's was spent by its first transfer).
    let again = n.transfer_on(&n.genesis, 3, fresh(1009), 1);
    assert_eq!(
        again
            .body
            .moves
            .iter()
            .filter(|m| m.intx == GENESIS_INTX)
            .count(),
        2
    );
    n.one("A3", again, Some(Reason::VersionNotLive));
    // A4: the live version, declared with another value (consistent for execution).
    let t = n.transfer(3, fresh(1010), 1);
    let mut b = t.body.clone();
    let si = move_on(&b, Key::account(u3.address()));
    b.moves[si].prev = with_balance(b.moves[si].prev, |x| x + U256::from(1000u64));
    b.moves[si].next = with_balance(b.moves[si].next, |x| x + U256::from(1000u64));
    n.one("A4", resign(b, &[&u3]), Some(Reason::PrevMismatch));
    // A5: double spend inside a batch.
    let before_a5 = n.view.clone();
    let a = n.transfer(4, fresh(1011), 1);
    let b2 = n.transfer(4, fresh(1012), 2);
    n.row(
        "A5",
        vec![a.clone(), b2],
        &[None, Some(Reason::DoubleUseInBatch)],
    );
    // A6: double spend across batches: another transaction on the version `a` spent.
    let c = n.transfer_on(&before_a5, 4, fresh(1013), 3);
    n.one("A6", c, Some(Reason::VersionNotLive));
    // A7: replay of an accepted transaction.
    n.one("A7", a, Some(Reason::VersionNotLive));
    // A8: the same transaction twice in one batch.
    let d = n.transfer(4, fresh(1014), 4);
    n.row(
        "A8",
        vec![d.clone(), d],
        &[None, Some(Reason::DoubleUseInBatch)],
    );
    // A9: a reference to a version spent in an earlier batch. A zero-value transfer only
    // reads the recipient's record: movegen declares it as a reference.
    let u0 = Key::account(n.key(0).address());
    let r = TxBuilder::transfer(CHAIN, n.key(0).address(), U256::ZERO)
        .build(&n.view, &u1, &[])
        .expect("build")
        .tx;
    assert_eq!(r.body.moves[move_on(&r.body, u0)].kind, MoveKind::Reference);
    let spend = n.transfer(0, fresh(1015), 1);
    n.setup(vec![spend]);
    n.one("A9", r, Some(Reason::VersionNotLive));
    // A10: a reference to a version spent earlier in the same batch.
    let spend = n.transfer(0, fresh(1016), 1);
    let r = TxBuilder::transfer(CHAIN, n.key(0).address(), U256::ZERO)
        .build(&n.view, &u1, &[])
        .expect("build")
        .tx;
    n.row(
        "A10",
        vec![spend, r],
        &[None, Some(Reason::DoubleUseInBatch)],
    );
    // A11: the reference before the spend in one batch is valid.
    let r = TxBuilder::transfer(CHAIN, n.key(0).address(), U256::ZERO)
        .build(&n.view, &u1, &[])
        .expect("build")
        .tx;
    let spend = n.transfer(0, fresh(1017), 1);
    n.row("A11", vec![r, spend], &[None, None]);
    // A12: the filter-mode cascade: x is forged, y and z chain on what x would create.
    let mut x = n.transfer(4, fresh(1018), 1);
    x.auths[0].signature.0[3] ^= 1;
    let mut v = n.view.clone();
    v.apply(&x.body).expect("chain x");
    let y = n.transfer_on(&v, 4, fresh(1019), 1);
    v.apply(&y.body).expect("chain y");
    let z = n.transfer_on(&v, 4, fresh(1020), 1);
    n.row(
        "A12",
        vec![x, y, z],
        &[
            Some(Reason::BadSignature),
            Some(Reason::DependsOnRejected),
            Some(Reason::DependsOnRejected),
        ],
    );
    // A13: a never-written key claimed with a non-zero prev (execution is consistent).
    let to = n.fresh();
    let t = n.transfer(4, to, 1);
    let mut b = t.body.clone();
    let ri = move_on(&b, Key::account(to));
    b.moves[ri].prev = with_balance(b.moves[ri].prev, |x| x + U256::from(5u64));
    b.moves[ri].next = with_balance(b.moves[ri].next, |x| x + U256::from(5u64));
    n.one("A13", resign(b, &[&u4]), Some(Reason::PrevMismatch));
    // A14, A15: a third party tries to spend and re-create someone else's record with
    // next = prev (the call never touches it) in its own signed transaction. Refused
    // (§6.1 3f): the victim's pre-signed transaction still applies.
    let victim_tx = n.transfer(5, fresh(1021), 1);
    let vk = Key::account(n.key(5).address());
    let mut b = n.transfer(4, fresh(1022), 1).body;
    b.moves
        .push(declared(&n.view, vk, MoveKind::Consume, Mask::ALL, None));
    n.one("A14", resign(b, &[&u4]), Some(Reason::ConsumeUnchanged));
    n.one("A15", victim_tx, None);

    n.finish('A');
}
