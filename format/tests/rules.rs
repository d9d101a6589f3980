//! Structural checks and signature edge cases, one reason code at a time.

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use ed25519_dalek::{Digest, Sha512, SigningKey};
use mf_format::*;

fn base_tx(open: bool) -> (Keypair, TxBody) {
    let k = Keypair::from_label("rules");
    let to = Keypair::from_label("rules bob").address();
    let body = TxBody {
        chain_id: 9,
        call: Call {
            from: k.address(),
            to: Some(to),
            value: U256::from(1u64),
            input: vec![],
            gas_limit: 21_000,
            fee: Default::default(),
            access_list: Vec::new(),
            blob: None,
        },
        context: ExecContext::default(),
        open,
        moves: vec![
            Move {
                mask: Mask::ALL,
                kind: MoveKind::Consume,
                mark: Mark::Account,
                intx: GENESIS_INTX,
                addr: k.address(),
                slot: U256::ZERO,
                prev: Value::Account(Account {
                    balance: U256::from(10u64),
                    ..Account::EMPTY
                }),
                next: Value::Account(Account {
                    balance: U256::from(9u64),
                    nonce: 1,
                    ..Account::EMPTY
                }),
            },
            Move {
                mask: Mask::ALL,
                kind: MoveKind::Consume,
                mark: Mark::Account,
                intx: GENESIS_INTX,
                addr: to,
                slot: U256::ZERO,
                prev: Value::Account(Account::EMPTY),
                next: Value::Account(Account {
                    balance: U256::from(1u64),
                    ..Account::EMPTY
                }),
            },
        ],
        created_code: vec![],
    };
    (k, body)
}

fn verdict(k: &Keypair, body: TxBody) -> Result<(), Reason> {
    let tx = sign(body, &[k]);
    check_structure(&tx, 9)?;
    check_gas_limit(&tx, &ChainRules::default())?;
    verify_tx_signatures(&tx)
}

#[test]
fn each_structural_rule_has_its_reason() {
    let (k, body) = base_tx(false);
    assert_eq!(verdict(&k, body.clone()), Ok(()));

    let mut b = body.clone();
    b.chain_id = 10;
    assert_eq!(verdict(&k, b), Err(Reason::WrongChainId));

    let mut b = body.clone();
    b.call.gas_limit = limits::MAX_GAS_LIMIT + 1;
    assert_eq!(verdict(&k, b.clone()), Err(Reason::GasLimitTooHigh));
    // The chain's gas limit, not a constant: a chain with a higher one takes it.
    let tx = sign(b, &[&k]);
    let roomy = ChainRules::from_genesis(Fork::Cancun, limits::MAX_GAS_LIMIT + 1);
    assert_eq!(check_gas_limit(&tx, &roomy), Ok(()));

    let mut b = body.clone();
    b.moves[1].mask = Mask(16 | 7);
    assert_eq!(verdict(&k, b), Err(Reason::InvalidMask));
    // The nonce bit signs an account's nonce: on a storage word it is refused.
    for (i, m) in body.moves.iter().enumerate() {
        let mut b = body.clone();
        b.moves[i].mask = Mask(Mask::NONCE | Mask::INTX);
        let want = match m.mark {
            Mark::Account => Ok(()),
            Mark::Storage => Err(Reason::InvalidMask),
        };
        assert_eq!(verdict(&k, b), want, "move {i}");
    }

    let mut b = body.clone();
    b.moves[1].next = Value::Storage(U256::ZERO);
    assert_eq!(verdict(&k, b), Err(Reason::ValueTypeMismatch));

    let mut b = body.clone();
    b.moves[1].slot = U256::from(1u64);
    assert_eq!(verdict(&k, b), Err(Reason::NonZeroAccountSlot));

    let mut b = body.clone();
    b.moves[1].kind = MoveKind::Reference;
    assert_eq!(verdict(&k, b), Err(Reason::ReferenceChangesValue));

    let mut b = body.clone();
    b.moves[1].mask = Mask::NONE;
    assert_eq!(verdict(&k, b.clone()), Err(Reason::UnsignedMoveInClosedTx));
    b.open = true;
    assert_eq!(
        verdict(&k, b),
        Ok(()),
        "open transactions may carry unsigned moves"
    );

    // A consume that leaves its value as it was must be a reference.
    let mut b = body.clone();
    b.moves[1].next = b.moves[1].prev;
    assert_eq!(verdict(&k, b.clone()), Err(Reason::ConsumeUnchanged));
    b.moves[1].kind = MoveKind::Reference;
    assert_eq!(
        verdict(&k, b),
        Ok(()),
        "the same use as a reference is fine"
    );

    let mut b = body.clone();
    let dup = b.moves[1];
    b.moves.push(dup);
    assert_eq!(verdict(&k, b), Err(Reason::DuplicateKey));

    let mut b = body.clone();
    b.open = true;
    b.moves[0].mask = Mask::NONE;
    assert_eq!(verdict(&k, b), Err(Reason::SenderMoveUnsigned));

    let mut b = body.clone();
    b.moves[0].kind = MoveKind::Reference;
    b.moves[0].next = b.moves[0].prev;
    assert_eq!(verdict(&k, b), Err(Reason::SenderNotConsumed));

    let mut b = body.clone();
    for m in &mut b.moves {
        m.kind = MoveKind::Reference;
        m.next = m.prev;
    }
    assert_eq!(verdict(&k, b), Err(Reason::NoConsumeMove));

    let mut b = body.clone();
    b.created_code = vec![vec![]];
    assert_eq!(verdict(&k, b), Err(Reason::InvalidCreatedCode));

    let other = Keypair::from_label("someone else");
    let tx = sign(body.clone(), &[&other]);
    assert_eq!(check_structure(&tx, 9), Err(Reason::SenderNotFirstSigner));
    let tx = sign(body.clone(), &[]);
    assert_eq!(check_structure(&tx, 9), Err(Reason::NoAuthorization));
    let tx = sign(body.clone(), &[&k, &other]);
    assert_eq!(verify_tx_signatures(&tx), Ok(()), "co-signers are allowed");
    let tx = sign(body, &[&k, &k]);
    assert_eq!(verify_tx_signatures(&tx), Err(Reason::DuplicateSigner));
}

const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

#[test]
fn blob_fields_fit_the_fee_kind() {
    let (k, body) = base_tx(false);
    let blobs = Blobs {
        max_fee_per_blob_gas: 1,
        versioned_hashes: vec![B256::repeat_byte(1)],
    };
    let mut blob = body.clone();
    blob.call.fee = Fee {
        kind: FeeKind::Blob,
        max_fee_per_gas: 2,
        max_priority_fee_per_gas: 1,
    };
    blob.call.blob = Some(blobs.clone());
    assert_eq!(verdict(&k, blob.clone()), Ok(()));
    // A blob call without blob fields, with no blob, creating a contract, or with a
    // priority cap above its fee cap; blob fields on another kind.
    let mut b = blob.clone();
    b.call.blob = None;
    assert_eq!(verdict(&k, b), Err(Reason::InvalidFeeFields));
    let mut b = blob.clone();
    b.call.blob = Some(Blobs {
        versioned_hashes: Vec::new(),
        ..blobs.clone()
    });
    assert_eq!(verdict(&k, b), Err(Reason::InvalidFeeFields));
    let mut b = blob.clone();
    b.call.to = None;
    assert_eq!(verdict(&k, b), Err(Reason::InvalidFeeFields));
    let mut b = blob.clone();
    b.call.fee.max_priority_fee_per_gas = 3;
    assert_eq!(verdict(&k, b), Err(Reason::InvalidFeeFields));
    let mut b = body.clone();
    b.call.blob = Some(blobs);
    assert_eq!(verdict(&k, b), Err(Reason::InvalidFeeFields));
    // A decoded blob call always has its fields (a zero cap and no hashes when the encoder
    // was given none), and another kind never has them.
    let mut b = blob.clone();
    b.call.blob = None;
    let back: Call = decode(&encode(&b.call), limits::MAX_TX_BYTES, "call").expect("decodes");
    assert_eq!(back.blob, Some(Blobs::default()));
    let mut b = body.clone();
    b.call.blob = blob.call.blob.clone();
    let back: Call = decode(&encode(&b.call), limits::MAX_TX_BYTES, "call").expect("decodes");
    assert_eq!(back.blob, None);
}

fn add_le(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let s = a[i] as u16 + b[i] as u16 + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    out
}

#[test]
fn malleated_and_degenerate_signatures_are_refused() {
    let k = Keypair::from_label("malleable");
    let pk = PublicKey::parse(&k.public_key()).expect("valid key");
    let msg = B256::repeat_byte(3);
    let sig = k.sign_digest(&msg);
    assert_eq!(pk.verify(msg.as_slice(), &sig), Ok(()));

    // S + l: same equation, non-canonical scalar.
    let mut s = [0u8; 32];
    s.copy_from_slice(&sig.0[32..]);
    let mut bad = sig;
    bad.0[32..].copy_from_slice(&add_le(&s, &L));
    assert_eq!(pk.verify(msg.as_slice(), &bad), Err(Reason::BadSignature));

    // Small-order R (the identity) and a non-canonical R (y = p).
    let mut bad = sig;
    bad.0[..32].copy_from_slice(&{
        let mut id = [0u8; 32];
        id[0] = 1;
        id
    });
    assert_eq!(pk.verify(msg.as_slice(), &bad), Err(Reason::BadSignature));
    let mut bad = sig;
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    bad.0[..32].copy_from_slice(&p);
    assert_eq!(pk.verify(msg.as_slice(), &bad), Err(Reason::BadSignature));

    // Small-order and non-canonical public keys.
    let mut id = [0u8; 32];
    id[0] = 1;
    assert_eq!(PublicKey::parse(&id).err(), Some(Reason::InvalidPublicKey));
    assert_eq!(PublicKey::parse(&p).err(), Some(Reason::InvalidPublicKey));
}

#[test]
fn batch_names_the_culprits() {
    let keys: Vec<Keypair> = (0..8)
        .map(|i| Keypair::from_label(&format!("batch {i}")))
        .collect();
    let parsed: Vec<PublicKey> = keys
        .iter()
        .map(|k| PublicKey::parse(&k.public_key()).expect("key"))
        .collect();
    let msgs: Vec<B256> = (0..8u8).map(B256::repeat_byte).collect();
    let mut sigs: Vec<SignatureBytes> = keys
        .iter()
        .zip(&msgs)
        .map(|(k, m)| k.sign_digest(m))
        .collect();
    let checks = |sigs: &[SignatureBytes]| -> Vec<usize> {
        let items: Vec<SigCheck> = (0..8)
            .map(|i| SigCheck {
                key: &parsed[i],
                message: msgs[i].as_slice(),
                signature: &sigs[i],
            })
            .collect();
        verify_batch(&items)
    };
    assert!(checks(&sigs).is_empty());
    sigs[2].0[5] ^= 1;
    sigs[6] = keys[0].sign_digest(&msgs[6]);
    assert_eq!(checks(&sigs), vec![2, 6]);
}

/// A signer can add a torsion point to R. The cofactorless equation then fails and the
/// cofactored one holds; the verdict must not depend on how signatures are batched.
#[test]
fn torsion_signature_gets_one_verdict_however_batched() {
    let seed = [9u8; 32];
    let sk = SigningKey::from_bytes(&seed);
    let a = sk.to_scalar();
    let a_bytes = sk.verifying_key().to_bytes();
    let msg = B256::repeat_byte(0x55);
    let r = Scalar::from_bytes_mod_order([0x21; 32]);
    let big_r = r * ED25519_BASEPOINT_POINT + EIGHT_TORSION[1];
    let r_bytes = big_r.compress().0;
    let k = Scalar::from_hash(
        Sha512::new()
            .chain_update(r_bytes)
            .chain_update(a_bytes)
            .chain_update(msg.as_slice()),
    );
    let s = r + k * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&r_bytes);
    sig[32..].copy_from_slice(&s.to_bytes());
    let sig = SignatureBytes(sig);
    // dalek's strict (cofactorless) verification refuses it ...
    let dsig = ed25519_dalek::Signature::from_bytes(&sig.0);
    assert!(
        sk.verifying_key()
            .verify_strict(msg.as_slice(), &dsig)
            .is_err()
    );
    // ... our rule accepts it, alone and in any batch.
    let pk = PublicKey::parse(&a_bytes).expect("key");
    assert_eq!(pk.verify(msg.as_slice(), &sig), Ok(()));
    let good = Keypair::from_label("good");
    let good_pk = PublicKey::parse(&good.public_key()).expect("key");
    let good_sig = good.sign_digest(&msg);
    let mut broken = good_sig;
    broken.0[40] ^= 1;
    for others in [vec![], vec![good_sig], vec![good_sig, broken]] {
        let mut items = vec![SigCheck {
            key: &pk,
            message: msg.as_slice(),
            signature: &sig,
        }];
        for o in &others {
            items.push(SigCheck {
                key: &good_pk,
                message: msg.as_slice(),
                signature: o,
            });
        }
        let bad = verify_batch(&items);
        assert!(
            !bad.contains(&0),
            "torsion signature rejected in {others:?}"
        );
        // Repeat with many shuffled companions: the random batch weights change each time.
        for rep in 0..16u8 {
            let extra_msg = B256::repeat_byte(rep);
            let extra_sig = good.sign_digest(&extra_msg);
            let mut items2 = items.clone();
            items2.push(SigCheck {
                key: &good_pk,
                message: extra_msg.as_slice(),
                signature: &extra_sig,
            });
            assert!(!verify_batch(&items2).contains(&0));
        }
    }
}

#[test]
fn merkle_roots_are_defined_for_every_count() {
    let ids: Vec<B256> = (0..9u8).map(B256::repeat_byte).collect();
    let mut roots = std::collections::BTreeSet::new();
    for n in 0..=9 {
        assert!(roots.insert(tx_root(&ids[..n])), "root of {n} ids repeats");
    }
    // An odd last node is carried up, not duplicated: [a,b,c] differs from [a,b,c,c].
    let three = tx_root(&ids[..3]);
    let dup = tx_root(&[ids[0], ids[1], ids[2], ids[2]]);
    assert_ne!(three, dup);
    assert_eq!(tx_root(&[]), merkle_empty_root());
}

#[test]
fn lthash_is_a_multiset_hash() {
    let k = Key::storage(Address::repeat_byte(1), U256::from(3u64));
    let v = |x: u64| Value::Storage(U256::from(x));
    let e1 = LtHash::of_version(&B256::repeat_byte(1), &k, &v(1));
    let e2 = LtHash::of_version(&B256::repeat_byte(2), &k, &v(2));
    let mut a = LtHash::IDENTITY;
    a.add(&e1);
    a.add(&e2);
    let mut b = LtHash::IDENTITY;
    b.add(&e2);
    b.add(&e1);
    assert_eq!(a, b, "order does not matter");
    a.sub(&e1);
    a.sub(&e2);
    assert_eq!(a, LtHash::IDENTITY);
    assert_eq!(LtHash::from_bytes(&e1.to_bytes()), Some(e1));
    assert_ne!(
        LtHash::of_version(&B256::repeat_byte(1), &k, &v(2)).digest(),
        LtHash::of_version(&B256::repeat_byte(1), &k, &v(1)).digest()
    );
}

#[test]
fn every_reason_code_round_trips() {
    let mut seen = std::collections::BTreeSet::new();
    for r in Reason::ALL {
        assert!(seen.insert(r.code()), "code {} reused", r.code());
        assert_ne!(r.code(), 0);
        assert_eq!(Reason::from_code(r.code()), Some(*r));
        let st = Status::Rejected(*r);
        let bytes = encode(&st);
        assert_eq!(bytes, r.code().to_le_bytes());
    }
    assert_eq!(Reason::from_code(0), None);
    assert_eq!(Reason::from_code(9999), None);
}

/// `base_tx` as an `open` transaction with the recipient's move unsigned, plus `extra`
/// unsigned references to never-written accounts.
fn open_tx(extra: usize) -> (Keypair, TxBody) {
    let (k, mut body) = base_tx(true);
    body.moves[1].mask = Mask::NONE;
    for i in 0..extra {
        let addr = Keypair::from_label(&format!("rules extra {i}")).address();
        body.moves.push(Move {
            mask: Mask::NONE,
            kind: MoveKind::Reference,
            mark: Mark::Account,
            intx: GENESIS_INTX,
            addr,
            slot: U256::ZERO,
            prev: Value::Account(Account::EMPTY),
            next: Value::Account(Account::EMPTY),
        });
    }
    body.canonicalize();
    (k, body)
}

/// Item 4 (transaction ids): `created_code` is not signed, so its order must be fixed, or a
/// third party could reverse two entries of a signed creation into a second valid id.
#[test]
fn created_code_must_be_sorted_by_hash_and_distinct() {
    let (k, mut body) = base_tx(false);
    let (a, b) = (vec![0x60, 0x00], vec![0x60, 0x01]);
    let sorted = if alloy_primitives::keccak256(&a) < alloy_primitives::keccak256(&b) {
        vec![a.clone(), b.clone()]
    } else {
        vec![b.clone(), a.clone()]
    };
    body.created_code = sorted.clone();
    assert_eq!(verdict(&k, body.clone()), Ok(()));
    let signed = sign(body.clone(), &[&k]);

    // Reversed by a third party: the signatures still hold (the code is not signed), the id
    // differs, and structure refuses it.
    let mut reversed = signed.clone();
    reversed.body.created_code.reverse();
    assert_eq!(verify_tx_signatures(&reversed), Ok(()));
    assert_ne!(tx_id(&reversed.body), tx_id(&signed.body));
    assert_eq!(
        check_structure(&reversed, 9),
        Err(Reason::InvalidCreatedCode)
    );

    // A repeated entry (adjacent, so "sorted" but not strictly).
    let mut repeated = signed.clone();
    repeated.body.created_code.insert(1, sorted[0].clone());
    assert_eq!(
        check_structure(&repeated, 9),
        Err(Reason::InvalidCreatedCode)
    );

    // canonicalize() restores the one order, and keeps the signing digest.
    let mut fixed = reversed.body.clone();
    fixed.canonicalize();
    assert_eq!(fixed, signed.body);
    let mut fixed = repeated.body.clone();
    fixed.canonicalize();
    assert_eq!(fixed, signed.body);
    assert_eq!(signing_digest(&fixed), signing_digest(&reversed.body));
}

/// Item 4: unsigned moves are not in the signing digest, so their order and their place
/// among the signed moves must be fixed: signed moves first, then unsigned in key order.
#[test]
fn unsigned_moves_follow_the_signed_ones_in_key_order() {
    let (k, body) = open_tx(2);
    assert_eq!(body.moves.len(), 4);
    assert!(body.moves[0].mask.is_signed());
    assert!(body.moves[1..].iter().all(|m| !m.mask.is_signed()));
    assert_eq!(verdict(&k, body.clone()), Ok(()));
    let signed = sign(body.clone(), &[&k]);

    // Every other order of the same moves keeps the signatures and changes the id; only the
    // canonical one passes structure.
    let n = body.moves.len();
    let mut others = 0;
    for i in 0..n {
        for j in 0..n {
            if i == j {
                continue;
            }
            let mut t = signed.clone();
            let m = t.body.moves.remove(i);
            t.body.moves.insert(j, m);
            assert_eq!(verify_tx_signatures(&t), Ok(()), "moved {i} to {j}");
            assert_ne!(tx_id(&t.body), tx_id(&signed.body));
            assert_eq!(
                check_structure(&t, 9),
                Err(Reason::NoncanonicalMoveOrder),
                "moved {i} to {j}"
            );
            let mut fixed = t.body.clone();
            fixed.canonicalize();
            assert_eq!(fixed, signed.body);
            others += 1;
        }
    }
    assert!(others > 0);

    // The signed moves keep the order their signers chose (the digest covers it).
    let (k, mut body) = base_tx(false);
    body.moves.reverse();
    assert_eq!(
        verdict(&k, body),
        Ok(()),
        "signed moves in any signed order"
    );
}

/// A torsion variant `A + T` of `k`'s public key `A` and a signature by `k`'s secret scalar
/// under it on `msg` (valid under the cofactored equation: `[8]T = 0`).
fn torsion_variant(seed: [u8; 32], t: usize, msg: &B256) -> Authorization {
    let sk = SigningKey::from_bytes(&seed);
    let a = sk.to_scalar();
    let variant = (sk.verifying_key().to_edwards() + EIGHT_TORSION[t])
        .compress()
        .0;
    let r = Scalar::from_bytes_mod_order([0x33; 32]);
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
    Authorization {
        public_key: variant,
        signature: SignatureBytes(sig),
    }
}

/// Item 8e (co-signers): one secret key controls its seven torsion variants `A + T`; they
/// must not count as more signers (nor own more addresses). Keys must be torsion-free.
#[test]
fn a_public_key_with_a_torsion_component_is_invalid() {
    let seed = [0x42; 32];
    let k = Keypair::from_seed(seed);
    let (_, mut body) = base_tx(false);
    body.call.from = k.address();
    body.moves[0].addr = k.address();
    for t in 1..8 {
        let variant = torsion_variant(seed, t, &B256::ZERO).public_key;
        assert_eq!(
            PublicKey::parse(&variant).err(),
            Some(Reason::InvalidPublicKey),
            "torsion variant {t}"
        );
        // The sender and "another" co-signer that is the sender's own secret: both sign the
        // message that binds the two keys.
        let keys = [k.public_key(), variant];
        let msg = authorization_digest(&signing_digest(&body), &keys);
        let tx = Transaction {
            eth: None,
            body: body.clone(),
            auths: vec![
                Authorization {
                    public_key: k.public_key(),
                    signature: k.sign_digest(&msg),
                },
                torsion_variant(seed, t, &msg),
            ],
        };
        assert_eq!(check_structure(&tx, 9), Ok(()));
        // The variant's signature is a real one under the cofactored equation ...
        let ok = tx.auths[1].signature;
        let point = curve25519_dalek::edwards::CompressedEdwardsY(variant)
            .decompress()
            .expect("a point");
        let s =
            Scalar::from_canonical_bytes(ok.0[32..].try_into().expect("32")).expect("canonical S");
        let r = curve25519_dalek::edwards::CompressedEdwardsY(ok.0[..32].try_into().expect("32"))
            .decompress()
            .expect("R");
        let kk = Scalar::from_hash(
            Sha512::new()
                .chain_update(&ok.0[..32])
                .chain_update(variant)
                .chain_update(msg.as_slice()),
        );
        assert!(
            (s * ED25519_BASEPOINT_POINT - r - kk * point)
                .mul_by_cofactor()
                .is_identity(),
            "the crafted signature holds"
        );
        // ... and the key is refused all the same.
        assert_eq!(verify_tx_signatures(&tx), Err(Reason::InvalidPublicKey));
    }
    // Honest keys are torsion-free.
    for i in 0..32 {
        let k = Keypair::from_label(&format!("honest {i}"));
        assert!(PublicKey::parse(&k.public_key()).is_ok());
    }
}

/// Item 8e: a co-signature is part of what every signer signed. Stripping one, adding one,
/// or reordering them invalidates the transaction (the id never covered them; now the
/// signatures do).
#[test]
fn cosigners_cannot_be_stripped_added_or_reordered() {
    let (k, body) = base_tx(false);
    let (b, c) = (
        Keypair::from_label("rules cosigner b"),
        Keypair::from_label("rules cosigner c"),
    );
    let tx = sign(body.clone(), &[&k, &b, &c]);
    assert_eq!(verify_tx_signatures(&tx), Ok(()));
    assert_eq!(
        tx_authorization_digest(&tx),
        authorization_digest(
            &signing_digest(&body),
            &[k.public_key(), b.public_key(), c.public_key()]
        )
    );

    // Stripped: each co-signature alone, and both.
    for keep in [vec![0, 1], vec![0, 2], vec![0]] {
        let t = Transaction {
            eth: None,
            body: body.clone(),
            auths: keep.iter().map(|i| tx.auths[*i]).collect(),
        };
        assert_eq!(
            verify_tx_signatures(&t),
            Err(Reason::BadSignature),
            "kept {keep:?}"
        );
    }
    // Reordered co-signers.
    let mut t = tx.clone();
    t.auths.swap(1, 2);
    assert_eq!(verify_tx_signatures(&t), Err(Reason::BadSignature));
    // A third party adds its own co-signature, over any message it likes.
    let d = Keypair::from_label("rules third party");
    let single = sign(body.clone(), &[&k]);
    assert_eq!(verify_tx_signatures(&single), Ok(()));
    for msg in [
        signing_digest(&body),
        authorization_digest(&signing_digest(&body), &[k.public_key(), d.public_key()]),
    ] {
        let mut t = single.clone();
        t.auths.push(Authorization {
            public_key: d.public_key(),
            signature: d.sign_digest(&msg),
        });
        assert_eq!(verify_tx_signatures(&t), Err(Reason::BadSignature));
    }
    // A single signer signs the plain signing digest (unchanged from before co-signers were
    // bound), and authorize_among gives the same signatures as sign().
    assert_eq!(tx_authorization_digest(&single), signing_digest(&body));
    let keys = [k.public_key(), b.public_key(), c.public_key()];
    let piecewise = Transaction {
        eth: None,
        body: body.clone(),
        auths: vec![
            k.authorize_among(&body, &keys),
            b.authorize_among(&body, &keys),
            c.authorize_among(&body, &keys),
        ],
    };
    assert_eq!(piecewise, tx);
    assert_eq!(k.authorize(&body), single.auths[0]);
}
