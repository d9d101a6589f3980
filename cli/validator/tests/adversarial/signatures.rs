//! The G rows: signatures.

use super::*;

#[test]
fn signatures() {
    let mut n = Net::start();
    // ---- G: signatures -----------------------------------------------------------------
    let u2 = n.key(2);
    let base = n.transfer(1, fresh(1100), 9);
    fn with_auths(tx: &Transaction, f: impl Fn(&mut Vec<Authorization>)) -> Transaction {
        let mut t = tx.clone();
        f(&mut t.auths);
        t
    }
    n.one(
        "G1",
        with_auths(&base, |a| a[0].signature.0[10] ^= 1),
        Some(Reason::BadSignature),
    );
    n.one(
        "G2",
        with_auths(&base, |a| {
            let s = add_le(&a[0].signature.0[32..], &L);
            a[0].signature.0[32..].copy_from_slice(&s);
        }),
        Some(Reason::BadSignature),
    );
    n.one(
        "G3",
        with_auths(&base, |a| {
            let r = add_order_two_point(&a[0].signature.0[..32]);
            a[0].signature.0[..32].copy_from_slice(&r);
        }),
        Some(Reason::BadSignature),
    );
    n.one(
        "G4",
        with_auths(&base, |a| {
            a[0].signature.0[..32].copy_from_slice(&identity_point())
        }),
        Some(Reason::BadSignature),
    );
    n.one(
        "G5",
        resign(base.body.clone(), &[&u2]),
        Some(Reason::SenderNotFirstSigner),
    );
    n.one(
        "G6",
        with_auths(&base, |a| a.clear()),
        Some(Reason::NoAuthorization),
    );
    n.one(
        "G7",
        with_auths(&base, |a| {
            a.push(Authorization {
                public_key: identity_point(),
                signature: SignatureBytes([0; 64]),
            })
        }),
        Some(Reason::InvalidPublicKey),
    );
    n.one(
        "G8",
        with_auths(&base, |a| {
            let first = a[0];
            a.push(first)
        }),
        Some(Reason::DuplicateSigner),
    );
    let other = n.transfer(1, fresh(1002), 10);
    n.one(
        "G9",
        with_auths(&base, |a| a[0].signature = other.auths[0].signature),
        Some(Reason::BadSignature),
    );

    n.finish('G');
}
