//! The G rows: signatures.

use super::*;
use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Digest, Sha512, SigningKey};

/// The key of `seed` plus the point of order 8 `EIGHT_TORSION[1]`: a torsion variant.
fn torsion_variant_key(seed: [u8; 32]) -> [u8; 32] {
    (SigningKey::from_bytes(&seed).verifying_key().to_edwards() + EIGHT_TORSION[1])
        .compress()
        .0
}

/// A signature on `msg` under [`torsion_variant_key`] by the secret scalar `a` of `seed`:
/// `R = rB`, `S = r + H(R || A + T || msg) a`, valid under the cofactored equation.
fn torsion_variant_sign(seed: [u8; 32], msg: &B256) -> SignatureBytes {
    let a = SigningKey::from_bytes(&seed).to_scalar();
    let variant = torsion_variant_key(seed);
    let r = Scalar::from_bytes_mod_order([0x5a; 32]);
    let r_bytes = (r * ED25519_BASEPOINT_POINT).compress().0;
    let k = Scalar::from_hash(
        Sha512::new()
            .chain_update(r_bytes)
            .chain_update(variant)
            .chain_update(msg.as_slice()),
    );
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&r_bytes);
    sig[32..].copy_from_slice(&(r + k * a).to_bytes());
    SignatureBytes(sig)
}

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

    // Co-signers (PROTOCOL.md §5.2, §6.2): a transfer from user 1 co-signed by user 2; every
    // signer signs the list of signers, so a stripped co-signature breaks the sender's.
    let u1 = n.key(1);
    let cosigned = resign(n.transfer(1, fresh(1003), 11).body, &[&u1, &u2]);
    n.one(
        "G10",
        with_auths(&cosigned, |a| {
            a.pop();
        }),
        Some(Reason::BadSignature),
    );
    // One secret as two co-signers: a key C and its torsion variant C + T (T of order 8),
    // both signing correctly (the cofactored equation absorbs T).
    let seed = [0x11; 32];
    let c = Keypair::from_seed(seed);
    let body = n.transfer(1, fresh(1004), 12).body;
    let variant = torsion_variant_key(seed);
    let keys = [u1.public_key(), c.public_key(), variant];
    let msg = mf_format::authorization_digest(&mf_format::signing_digest(&body), &keys);
    let twice = Transaction {
        eth: None,
        auths: vec![
            Authorization {
                public_key: keys[0],
                signature: u1.sign_digest(&msg),
            },
            Authorization {
                public_key: keys[1],
                signature: c.sign_digest(&msg),
            },
            Authorization {
                public_key: variant,
                signature: torsion_variant_sign(seed, &msg),
            },
        ],
        body,
    };
    n.one("G11", twice, Some(Reason::InvalidPublicKey));

    n.finish('G');
}
