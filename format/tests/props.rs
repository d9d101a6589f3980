//! Property tests of the format (each at least 1000 cases).

use mf_format::*;
use proptest::prelude::*;

fn word() -> impl Strategy<Value = U256> {
    prop_oneof![
        Just(U256::ZERO),
        any::<u64>().prop_map(U256::from),
        any::<[u8; 32]>().prop_map(U256::from_be_bytes),
    ]
}

fn value(mark: Mark) -> BoxedStrategy<Value> {
    match mark {
        Mark::Account => (word(), any::<u64>(), any::<[u8; 32]>())
            .prop_map(|(balance, nonce, h)| {
                Value::Account(Account {
                    balance,
                    nonce,
                    code_hash: B256::from(h),
                })
            })
            .boxed(),
        Mark::Storage => word().prop_map(Value::Storage).boxed(),
    }
}

fn a_move() -> impl Strategy<Value = Move> {
    (
        prop_oneof![Just(Mark::Account), Just(Mark::Storage)],
        prop_oneof![Just(MoveKind::Consume), Just(MoveKind::Reference)],
        1u8..8,
        any::<[u8; 32]>(),
        any::<[u8; 20]>(),
    )
        .prop_flat_map(|(mark, kind, mask, intx, addr)| {
            let slot = match mark {
                Mark::Account => Just(U256::ZERO).boxed(),
                Mark::Storage => word().boxed(),
            };
            (slot, value(mark), value(mark)).prop_map(move |(slot, prev, next)| Move {
                mask: Mask(mask),
                kind,
                mark,
                intx: B256::from(intx),
                addr: Address::from(addr),
                slot,
                prev,
                next: if kind == MoveKind::Reference {
                    prev
                } else if next == prev {
                    // A consume must change its value (PROTOCOL.md §6.1 3f).
                    match prev {
                        Value::Account(a) => Value::Account(Account {
                            nonce: a.nonce.wrapping_add(1),
                            ..a
                        }),
                        Value::Storage(w) => Value::Storage(w ^ U256::from(1u64)),
                    }
                } else {
                    next
                },
            })
        })
}

/// A signed, structurally valid transaction for chain 7, signed by one of a few keys.
fn signed_tx() -> impl Strategy<Value = (Transaction, u8)> {
    (
        0u8..4,
        proptest::option::of(any::<[u8; 20]>()),
        word(),
        proptest::collection::vec(any::<u8>(), 0..64),
        0u64..MAX_GAS,
        any::<(u64, u64)>(),
        any::<bool>(),
        proptest::collection::vec(a_move(), 0..6),
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..40), 0..2),
        // Blob fields (a type-3 call when there is a callee): 1 to 9 hashes.
        proptest::option::of((
            any::<u128>(),
            proptest::collection::vec(any::<[u8; 32]>(), 1..=limits::MAX_BLOB_HASHES),
        )),
    )
        .prop_map(
            |(
                signer,
                to,
                value,
                input,
                gas_limit,
                (bn, ts),
                open,
                mut moves,
                created_code,
                blob,
            )| {
                let key = Keypair::from_label(&format!("prop signer {signer}"));
                let from = key.address();
                let sender_prev = Value::Account(Account::EMPTY);
                moves.retain(|m| !(m.mark == Mark::Account && m.addr == from));
                moves.insert(
                    0,
                    Move {
                        mask: Mask::ALL,
                        kind: MoveKind::Consume,
                        mark: Mark::Account,
                        intx: GENESIS_INTX,
                        addr: from,
                        slot: U256::ZERO,
                        prev: sender_prev,
                        next: Value::Account(Account {
                            nonce: 1,
                            ..Account::EMPTY
                        }),
                    },
                );
                let mut seen = std::collections::BTreeSet::new();
                moves.retain(|m| seen.insert(m.key()));
                let blob = blob.filter(|_| to.is_some()).map(|(cap, hashes)| Blobs {
                    max_fee_per_blob_gas: cap,
                    versioned_hashes: hashes.into_iter().map(B256::from).collect(),
                });
                let fee = if blob.is_some() {
                    Fee {
                        kind: FeeKind::Blob,
                        max_fee_per_gas: 10,
                        max_priority_fee_per_gas: 1,
                    }
                } else {
                    Fee::default()
                };
                let body = TxBody {
                    chain_id: 7,
                    call: Call {
                        from,
                        to: to.map(Address::from),
                        value,
                        input,
                        gas_limit,
                        fee,
                        access_list: Vec::new(),
                        blob,
                    },
                    context: ExecContext {
                        block_number: bn,
                        timestamp: ts,
                    },
                    open,
                    moves,
                    created_code,
                };
                (sign(body, &[&key]), signer)
            },
        )
}

const MAX_GAS: u64 = limits::MAX_GAS_LIMIT;

/// Every field of a body a mutation can change, and whether the signing digest covers it.
#[derive(Debug, Clone, Copy)]
enum Field {
    ChainId,
    CallValue,
    CallInput,
    GasLimit,
    Timestamp,
    Open,
    MoveIntx(usize),
    MovePrev(usize),
    MoveNext(usize),
    MoveSlot(usize),
    MoveMask(usize),
    CreatedCode,
    BlobHash,
    BlobFeeCap,
}

fn mutate(body: &mut TxBody, f: Field) -> Option<bool> {
    let bump = |w: &mut U256| *w = w.wrapping_add(U256::from(1u64));
    let bump_value = |v: &mut Value| match v {
        Value::Account(a) => a.nonce = a.nonce.wrapping_add(1),
        Value::Storage(w) => *w = w.wrapping_add(U256::from(1u64)),
    };
    Some(match f {
        Field::ChainId => {
            body.chain_id ^= 1;
            true
        }
        Field::CallValue => {
            bump(&mut body.call.value);
            true
        }
        Field::CallInput => {
            body.call.input.push(1);
            true
        }
        Field::GasLimit => {
            body.call.gas_limit ^= 1;
            true
        }
        Field::Timestamp => {
            body.context.timestamp ^= 1;
            true
        }
        Field::Open => {
            body.open = !body.open;
            true
        }
        Field::MoveIntx(i) => {
            let m = body.moves.get_mut(i)?;
            m.intx.0[0] ^= 1;
            m.mask.intx()
        }
        Field::MovePrev(i) => {
            let m = body.moves.get_mut(i)?;
            bump_value(&mut m.prev);
            m.mask.prev()
        }
        Field::MoveNext(i) => {
            let m = body.moves.get_mut(i)?;
            bump_value(&mut m.next);
            m.mask.next()
        }
        Field::MoveSlot(i) => {
            let m = body.moves.get_mut(i)?;
            bump(&mut m.slot);
            true
        }
        Field::MoveMask(i) => {
            let m = body.moves.get_mut(i)?;
            m.mask.0 = (m.mask.0 % 7) + 1;
            true
        }
        Field::CreatedCode => {
            body.created_code.push(vec![0xfe]);
            false
        }
        Field::BlobHash => {
            let b = body.call.blob.as_mut()?;
            b.versioned_hashes[0].0[7] ^= 1;
            true
        }
        Field::BlobFeeCap => {
            let b = body.call.blob.as_mut()?;
            b.max_fee_per_blob_gas ^= 1;
            true
        }
    })
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        Just(Field::ChainId),
        Just(Field::CallValue),
        Just(Field::CallInput),
        Just(Field::GasLimit),
        Just(Field::Timestamp),
        Just(Field::Open),
        Just(Field::CreatedCode),
        Just(Field::BlobHash),
        Just(Field::BlobFeeCap),
        (0usize..6).prop_map(Field::MoveIntx),
        (0usize..6).prop_map(Field::MovePrev),
        (0usize..6).prop_map(Field::MoveNext),
        (0usize..6).prop_map(Field::MoveSlot),
        (0usize..6).prop_map(Field::MoveMask),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn round_trip_is_canonical((tx, _) in signed_tx()) {
        let bytes = encode(&tx);
        let back = decode_tx(&bytes).expect("decodes");
        prop_assert_eq!(&back, &tx);
        prop_assert_eq!(encode(&back), bytes);
        prop_assert_eq!(check_structure(&back, 7), Ok(()));
        prop_assert_eq!(verify_tx_signatures(&back), Ok(()));
        let batch = Batch { txs: vec![tx.clone(), back] };
        prop_assert_eq!(decode_batch(&encode(&batch)).expect("batch decodes"), batch);
    }

    #[test]
    fn digest_changes_iff_a_signed_field_changes((tx, _) in signed_tx(), f in field()) {
        let mut body = tx.body.clone();
        if let Some(signed) = mutate(&mut body, f) {
            let changed = signing_digest(&body) != signing_digest(&tx.body);
            prop_assert_eq!(changed, signed, "field {:?}", f);
            // The id covers every body field, signed or not.
            prop_assert_ne!(tx_id(&body), tx_id(&tx.body));
        }
    }

    #[test]
    fn masked_fields_change_without_breaking_the_signature(
        (tx, _) in signed_tx(), f in field()
    ) {
        let mut changed = tx.clone();
        if let Some(signed) = mutate(&mut changed.body, f) {
            let verdict = verify_tx_signatures(&changed);
            if signed {
                prop_assert_eq!(verdict, Err(Reason::BadSignature), "field {:?}", f);
            } else {
                prop_assert_eq!(verdict, Ok(()), "field {:?}", f);
            }
        }
    }

    #[test]
    fn flipping_any_byte_is_noticed((tx, _) in signed_tx(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let bytes = encode(&tx);
        let body_len = encode(&tx.body).len();
        let i = pos.index(bytes.len());
        let mut bad = bytes.clone();
        bad[i] ^= 1 << bit;
        match decode_tx(&bad) {
            Err(e) => { let _ = e.reason(); }
            Ok(t) => {
                if i < body_len {
                    prop_assert_ne!(tx_id(&t.body), tx_id(&tx.body));
                } else {
                    prop_assert_eq!(verify_tx_signatures(&t).is_err(), true);
                }
            }
        }
    }

    #[test]
    fn fast_writers_match_serde((tx, _) in signed_tx(), gas in any::<u64>(), code in 0u16..200) {
        let mut out = Vec::new();
        encoders::put_tx(&mut out, &tx);
        prop_assert_eq!(&out, &encode(&tx));
        let mut out = Vec::new();
        encoders::put_body(&mut out, &tx.body);
        prop_assert_eq!(&out, &encode(&tx.body));
        let status = Reason::from_code(code).map(Status::Rejected).unwrap_or(Status::Accepted);
        let receipts = vec![Receipt {
            tx_id: tx_id(&tx.body),
            status,
            gas_used: gas,
            logs: vec![Log {
                address: tx.body.call.from,
                topics: vec![B256::repeat_byte(code as u8); (code % 5) as usize],
                data: tx.body.call.input.clone(),
            }],
        }];
        let mut out = Vec::new();
        encoders::put_receipts(&mut out, &receipts);
        prop_assert_eq!(&out, &encode(&receipts));
    }

    #[test]
    fn split_batch_agrees_with_the_decoder(
        txs in proptest::collection::vec(signed_tx(), 0..4),
        pos in any::<prop::sample::Index>(),
        bit in 0u8..8,
        flip in any::<bool>(),
    ) {
        let batch = Batch { txs: txs.into_iter().map(|(t, _)| t).collect() };
        let mut bytes = encode(&batch);
        if flip && !bytes.is_empty() {
            let i = pos.index(bytes.len());
            bytes[i] ^= 1 << bit;
        }
        let whole = decode_batch(&bytes);
        let parts = split_batch(&bytes)
            .map(|s| s.into_iter().map(decode_tx).collect::<Result<Vec<_>, _>>());
        match (whole, parts) {
            (Ok(b), Some(Ok(txs))) => prop_assert_eq!(b.txs, txs),
            (Ok(_), other) => prop_assert!(false, "split refused a valid batch: {:?}", other.map(|r| r.is_ok())),
            (Err(_), Some(Ok(_))) => prop_assert!(false, "split accepted what the decoder refuses"),
            (Err(_), _) => {}
        }
    }

    #[test]
    fn tx_move_next_agrees_with_the_decoder((tx, _) in signed_tx(), extra in 0usize..3) {
        let bytes = encode(&tx);
        for (i, m) in tx.body.moves.iter().enumerate() {
            prop_assert_eq!(tx_move_next(&bytes, i), Some(m.next));
        }
        prop_assert_eq!(tx_move_next(&bytes, tx.body.moves.len() + extra), None);
        let cut = bytes.len() / 2;
        let _ = tx_move_next(&bytes[..cut], 0);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode_tx(&bytes);
        let _ = decode_batch(&bytes);
        let _ = decode_header(&bytes);
        let _ = decode_receipts(&bytes);
        let _ = split_batch(&bytes);
        let _ = tx_move_next(&bytes, 0);
    }

    #[test]
    fn truncated_or_extended_inputs_fail((tx, _) in signed_tx(), cut in any::<prop::sample::Index>(), extra in proptest::collection::vec(any::<u8>(), 1..8)) {
        let bytes = encode(&tx);
        let n = cut.index(bytes.len());
        prop_assert!(decode_tx(&bytes[..n]).is_err());
        let mut longer = bytes.clone();
        longer.extend_from_slice(&extra);
        let err = decode_tx(&longer).expect_err("trailing bytes are refused");
        prop_assert_eq!(err.reason(), Reason::Malformed);
    }

    /// Item 4 (transaction ids): the parts of a body the signing digest leaves out (unsigned
    /// moves, created code) have one valid order. `canonicalize` reaches it without touching
    /// the digest, and any other arrangement of the same moves and code either changes the
    /// signing digest (a signed move moved: the signature breaks) or fails structure.
    #[test]
    fn the_unsigned_parts_have_one_valid_order(
        (tx, signer) in signed_tx(),
        unsigned in proptest::collection::vec(any::<bool>(), 6),
        codes in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..6), 0..4),
        swaps in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<bool>()), 1..4),
    ) {
        let key = Keypair::from_label(&format!("prop signer {signer}"));
        let mut body = tx.body.clone();
        body.open = true;
        // Every move but the sender's (the first) may be unsigned.
        for (m, u) in body.moves.iter_mut().skip(1).zip(&unsigned) {
            if *u {
                m.mask = Mask::NONE;
            }
        }
        body.created_code = codes;
        let digest = signing_digest(&body);
        let mut canonical = body.clone();
        canonical.canonicalize();
        prop_assert_eq!(signing_digest(&canonical), digest);
        let mut again = canonical.clone();
        again.canonicalize();
        prop_assert_eq!(&again, &canonical, "idempotent");
        let signed = sign(canonical.clone(), &[&key]);
        prop_assert_eq!(check_structure(&signed, 7), Ok(()));
        prop_assert_eq!(verify_tx_signatures(&signed), Ok(()));

        let mut other = canonical.clone();
        for (i, j, code) in swaps {
            if code && !other.created_code.is_empty() {
                let n = other.created_code.len();
                other.created_code.swap(i.index(n), j.index(n));
            } else {
                let n = other.moves.len();
                other.moves.swap(i.index(n), j.index(n));
            }
        }
        if other != canonical {
            let t = Transaction { body: other.clone(), auths: signed.auths.clone(), eth: None };
            prop_assert_ne!(tx_id(&other), tx_id(&canonical));
            let refused = check_structure(&t, 7).is_err() || verify_tx_signatures(&t).is_err();
            prop_assert!(refused, "a second valid arrangement: {:?}", other);
        }
    }
}

#[test]
fn oversized_inputs_are_refused_before_allocation() {
    // A batch announcing 2^40 transactions in 8 bytes.
    let mut b = (1u64 << 40).to_le_bytes().to_vec();
    b.extend_from_slice(&[0; 8]);
    let e = decode_batch(&b).expect_err("refused");
    assert_eq!(e.reason(), Reason::LimitExceeded, "{e}");

    // Whole input above the limit.
    let big = vec![0u8; limits::MAX_TX_BYTES + 1];
    assert_eq!(
        decode_tx(&big).map_err(|e| e.reason()),
        Err(Reason::LimitExceeded)
    );

    // Call input and move count above their limits.
    let key = Keypair::from_label("limits");
    let mut body = TxBody {
        chain_id: 1,
        call: Call {
            from: key.address(),
            to: None,
            value: U256::ZERO,
            input: vec![0; limits::MAX_INPUT_BYTES + 1],
            gas_limit: 1,
            fee: Default::default(),
            access_list: Vec::new(),
            blob: None,
        },
        context: ExecContext::default(),
        open: false,
        moves: vec![],
        created_code: vec![],
    };
    let e = decode_body(&encode(&body)).expect_err("input too large");
    assert_eq!(e.reason(), Reason::LimitExceeded, "{e}");
    body.call.input.clear();
    let m = Move {
        mask: Mask::ALL,
        kind: MoveKind::Consume,
        mark: Mark::Storage,
        intx: GENESIS_INTX,
        addr: key.address(),
        slot: U256::ZERO,
        prev: Value::Storage(U256::ZERO),
        next: Value::Storage(U256::ZERO),
    };
    body.moves = vec![m; limits::MAX_MOVES_PER_TX + 1];
    let e = decode_body(&encode(&body)).expect_err("too many moves");
    assert_eq!(e.reason(), Reason::LimitExceeded, "{e}");
    body.moves.truncate(limits::MAX_MOVES_PER_TX);
    assert!(decode_body(&encode(&body)).is_ok());
    body.created_code = vec![vec![0; limits::MAX_CODE_BYTES + 1]];
    let e = decode_body(&encode(&body)).expect_err("code too large");
    assert_eq!(e.reason(), Reason::LimitExceeded, "{e}");
}
