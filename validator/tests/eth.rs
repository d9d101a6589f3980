//! Ethereum authorisations (PROTOCOL.md §5.5): a transaction authorised by its sender's
//! signed Ethereum transaction (secp256k1, EIP-2718) is validated like any other, its signer
//! recovered in the stateless stage; a body that differs from what the envelope signs, a
//! foreign signer, a wrong nonce, a broken envelope or a mix with ed25519 signatures are
//! refused with their reasons and change nothing; the nonce makes it unrepeatable.

use crate::util::status;
use mf_devkit::eth::EthKey;
use mf_format::*;
use mf_movegen::{MemoryView, eth_transaction};
use mf_validator::genesis::Genesis;
use mf_validator::{Mode, Validator};

const CHAIN: u64 = 1337;

fn rules() -> ChainRules {
    ChainRules {
        base_fee: 5,
        beneficiary: Address::repeat_byte(0xbe),
        ..ChainRules::default()
    }
}

fn call(from: Address, to: Address, wei: u64) -> Call {
    Call {
        from,
        to: Some(to),
        value: U256::from(wei),
        input: vec![],
        gas_limit: 21_000,
        fee: Fee::dynamic(10, 1),
        access_list: Vec::new(),
        blob: None,
    }
}

struct World {
    v: EthKey,
    w: EthKey,
    view: MemoryView,
    val: Validator,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let (v, w) = (
        EthKey::from_label("eth auth v"),
        EthKey::from_label("eth auth w"),
    );
    let view = mf_devkit::funded([v.address(), w.address()], mf_devkit::units(1));
    let mut genesis = Genesis::from_view(CHAIN, &view);
    genesis.rules = rules();
    let dir = tempfile::tempdir().expect("dir");
    let val = Validator::init(&dir.path().join("d"), &genesis).expect("init");
    World {
        v,
        w,
        view,
        val,
        _dir: dir,
    }
}

#[test]
fn an_ethereum_signed_transaction_is_validated_and_cannot_be_replayed() {
    let mut x = world();
    let bob = Address::repeat_byte(0xb0);
    let c = call(x.v.address(), bob, 1_000);
    let envelope = x.v.sign_call(&c, CHAIN, 0);
    let built = eth_transaction(&x.view, CHAIN, &rules(), &envelope, ExecContext::default())
        .expect("build from the envelope");
    let tx = built.tx;
    assert_eq!(tx.body.call, c, "the body carries exactly the signed call");
    assert!(tx.auths.is_empty() && tx.body.open);
    assert!(tx.body.moves.iter().all(|m| !m.mask.is_signed()));
    assert_eq!(
        verify_eth_authorization(&tx),
        Ok(alloy_primitives::keccak256(&envelope)),
        "the Ethereum hash is keccak-256 of the envelope"
    );
    // The wire encoding carries the envelope and splits like any transaction.
    let bytes = encode(&Batch {
        txs: vec![tx.clone()],
    });
    assert_eq!(decode_batch(&bytes).expect("decodes").txs[0], tx);
    assert_eq!(split_batch(&bytes).map(|p| p.len()), Some(1));

    // Refusals, each with its reason.
    let mut forged_value = tx.clone();
    forged_value.body.call.value += U256::from(1u64);
    assert_eq!(
        status(&mut x.val, &forged_value),
        Status::Rejected(Reason::EthBodyMismatch)
    );
    let mut foreign = tx.clone();
    foreign.eth = Some(EthAuthorization {
        envelope: x.w.sign_call(&c, CHAIN, 0),
    });
    assert_eq!(
        status(&mut x.val, &foreign),
        Status::Rejected(Reason::EthSignerMismatch)
    );
    let mut wrong_nonce = tx.clone();
    wrong_nonce.eth = Some(EthAuthorization {
        envelope: x.v.sign_call(&c, CHAIN, 1),
    });
    assert_eq!(
        status(&mut x.val, &wrong_nonce),
        Status::Rejected(Reason::EthNonceMismatch)
    );
    let mut other_chain = tx.clone();
    other_chain.eth = Some(EthAuthorization {
        envelope: x.v.sign_call(&c, CHAIN + 1, 0),
    });
    assert_eq!(
        status(&mut x.val, &other_chain),
        Status::Rejected(Reason::EthBodyMismatch)
    );
    // The same transaction with the high-s twin of its signature: the same signer, which
    // Ethereum refuses from Homestead on (EIP-2).
    let twin = mf_devkit::eth::high_s_twin(&envelope).expect("an EIP-1559 envelope");
    assert_eq!(
        decode_eth(&twin).map(|s| (s.signer, s.high_s)),
        Ok((x.v.address(), true))
    );
    let mut high_s = tx.clone();
    high_s.eth = Some(EthAuthorization { envelope: twin });
    assert_eq!(verify_eth_authorization(&high_s), Err(Reason::EthHighS));
    assert_eq!(
        status(&mut x.val, &high_s),
        Status::Rejected(Reason::EthHighS)
    );
    let mut garbage = tx.clone();
    garbage.eth = Some(EthAuthorization {
        envelope: envelope[..envelope.len() - 1].to_vec(),
    });
    assert_eq!(
        status(&mut x.val, &garbage),
        Status::Rejected(Reason::InvalidEthAuthorization)
    );
    let mut mixed = tx.clone();
    mixed.auths = sign(tx.body.clone(), &[&Keypair::from_label("eth auth ed25519")]).auths;
    assert_eq!(
        status(&mut x.val, &mixed),
        Status::Rejected(Reason::InvalidEthAuthorization)
    );
    let mut signed_move = tx.clone();
    signed_move.body.moves[0].mask = Mask::ALL;
    signed_move.body.canonicalize();
    assert_eq!(
        status(&mut x.val, &signed_move),
        Status::Rejected(Reason::InvalidEthAuthorization)
    );

    // The real one is accepted; the sender pays the value and the fee.
    assert_eq!(status(&mut x.val, &tx), Status::Accepted);
    let (fresh, stored) = x.val.check().expect("check");
    assert_eq!(fresh, stored);

    // Unrepeatable: the same transaction names a spent version, and the same envelope
    // re-filled against the new state declares nonce 1 where it signs 0.
    assert!(matches!(status(&mut x.val, &tx), Status::Rejected(_)));
    let mut after = x.view.clone();
    after.apply(&tx.body).expect("mirror");
    let again = eth_transaction(&after, CHAIN, &rules(), &envelope, ExecContext::default())
        .expect("re-fill")
        .tx;
    assert_eq!(
        status(&mut x.val, &again),
        Status::Rejected(Reason::EthNonceMismatch)
    );
    // The sender's next transaction, nonce 1, is accepted.
    let next = eth_transaction(
        &after,
        CHAIN,
        &rules(),
        &x.v.sign_call(&call(x.v.address(), bob, 7), CHAIN, 1),
        ExecContext::default(),
    )
    .expect("build the next")
    .tx;
    assert_eq!(status(&mut x.val, &next), Status::Accepted);
}

#[test]
fn ethereum_and_ed25519_senders_share_a_batch_and_legacy_and_2930_types_work() {
    let mut x = world();
    let alice = Keypair::from_label("eth auth alice");
    x.view.set_account(
        alice.address(),
        Account {
            balance: U256::from(10u64).pow(U256::from(18u64)),
            nonce: 0,
            code_hash: EMPTY_CODE_HASH,
        },
    );
    let mut genesis = Genesis::from_view(CHAIN, &x.view);
    genesis.rules = rules();
    let dir = tempfile::tempdir().expect("dir");
    let mut val = Validator::init(&dir.path().join("d"), &genesis).expect("init");
    // alice (ed25519) pays V; V's legacy (EIP-155) payment, filled after the credit; W's
    // EIP-2930 payment with an access list.
    let credit = mf_movegen::TxBuilder::transfer(CHAIN, x.v.address(), U256::from(3u64))
        .fee(Fee::dynamic(10, 1))
        .rules(rules())
        .build(&x.view, &alice, &[])
        .expect("alice's payment")
        .tx;
    let mut after = x.view.clone();
    after.apply(&credit.body).expect("mirror");
    let mut legacy = call(x.v.address(), Address::repeat_byte(0xc1), 5);
    legacy.fee = Fee::legacy(8);
    let v_tx = eth_transaction(
        &after,
        CHAIN,
        &rules(),
        &x.v.sign_call(&legacy, CHAIN, 0),
        ExecContext::default(),
    )
    .expect("V's legacy payment")
    .tx;
    let mut with_list = call(x.w.address(), Address::repeat_byte(0xc2), 6);
    with_list.fee = Fee {
        kind: FeeKind::AccessList,
        max_fee_per_gas: 9,
        max_priority_fee_per_gas: 9,
    };
    with_list.gas_limit = 30_000;
    with_list.access_list = vec![AccessItem {
        address: Address::repeat_byte(0xc2),
        storage_keys: vec![B256::repeat_byte(1)],
    }];
    let w_tx = eth_transaction(
        &x.view,
        CHAIN,
        &rules(),
        &x.w.sign_call(&with_list, CHAIN, 0),
        ExecContext::default(),
    )
    .expect("W's EIP-2930 payment")
    .tx;
    let out = val
        .apply_batch(
            &Batch {
                txs: vec![credit, v_tx, w_tx],
            },
            Mode::Strict,
        )
        .expect("all three accepted");
    assert!(out.receipts.iter().all(|r| r.status == Status::Accepted));
}

/// EIP-4844's `fake_exponential(1, excess, fraction)`: the blob base fee.
fn blob_base_fee(excess: u64, fraction: u64) -> u128 {
    let (numerator, denominator) = (u128::from(excess), u128::from(fraction));
    let (mut i, mut output, mut accum) = (1u128, 0u128, denominator);
    while accum > 0 {
        output += accum;
        accum = accum * numerator / (denominator * i);
        i += 1;
    }
    output / denominator
}

#[test]
fn a_blob_transaction_pays_its_blob_gas_burnt_and_its_blob_fields_are_bound() {
    // A chain whose blob base fee is above the minimum: excess blob gas 10,000,000 gives
    // e^(10^7 / 3,338,477) ≈ 19 wei per blob gas under Cancun.
    let rules = ChainRules {
        excess_blob_gas: 10_000_000,
        ..rules()
    };
    let blob_price = blob_base_fee(10_000_000, Fork::Cancun.blob_base_fee_update_fraction());
    assert_eq!(blob_price, 19);
    let v = EthKey::from_label("eth blob v");
    let view = mf_devkit::funded([v.address()], mf_devkit::units(1));
    let mut genesis = Genesis::from_view(CHAIN, &view);
    genesis.rules = rules.clone();
    let dir = tempfile::tempdir().expect("dir");
    let mut val = Validator::init(&dir.path().join("d"), &genesis).expect("init");

    let hashes = |n: u8| -> Vec<B256> {
        (0..n)
            .map(|i| {
                let mut h = B256::repeat_byte(0x20 + i);
                h.0[0] = 0x01; // VERSIONED_HASH_VERSION_KZG
                h
            })
            .collect()
    };
    let bob = Address::repeat_byte(0xb0);
    let mut c = call(v.address(), bob, 1_000);
    c.fee.kind = FeeKind::Blob;
    c.blob = Some(Blobs {
        max_fee_per_blob_gas: 100,
        versioned_hashes: hashes(2),
    });
    let envelope = v.sign_call(&c, CHAIN, 0);
    assert_eq!(envelope[0], 3, "a type-3 envelope");
    let built = eth_transaction(&view, CHAIN, &rules, &envelope, ExecContext::default())
        .expect("build from the blob envelope");
    let tx = built.tx;
    assert_eq!(tx.body.call, c, "the body carries exactly the signed call");
    assert_eq!(
        verify_eth_authorization(&tx),
        Ok(alloy_primitives::keccak256(&envelope))
    );
    // Blob gas is not in gas used, and the blob fee is burnt: the beneficiary gets the
    // priority fee of the gas used only.
    assert_eq!(built.execution.gas_used, 21_000);
    assert_eq!(built.execution.beneficiary_fee, U256::from(21_000u64));
    // The sender pays value + gas used x effective price (min(10, 5 + 1)) + blob gas x the
    // blob base fee.
    let sender = tx
        .body
        .moves
        .iter()
        .find(|m| m.key() == Key::account(v.address()))
        .expect("the sender's move");
    let balance = |v: &Value| match v {
        Value::Account(a) => a.balance,
        Value::Storage(_) => U256::ZERO,
    };
    let spent = balance(&sender.prev) - balance(&sender.next);
    let blob_fee = u128::from(2 * limits::GAS_PER_BLOB) * blob_price;
    assert_eq!(spent, U256::from(1_000 + 21_000 * 6 + blob_fee));
    // The encoding round-trips and splits.
    let bytes = encode(&Batch {
        txs: vec![tx.clone()],
    });
    assert_eq!(decode_batch(&bytes).expect("decodes").txs[0], tx);
    assert_eq!(split_batch(&bytes).map(|p| p.len()), Some(1));

    // Refusals, each with its reason.
    let mut other_hashes = tx.clone();
    if let Some(b) = &mut other_hashes.body.call.blob {
        b.versioned_hashes[1].0[31] ^= 1;
    }
    assert_eq!(
        status(&mut val, &other_hashes),
        Status::Rejected(Reason::EthBodyMismatch)
    );
    let mut other_blob_cap = tx.clone();
    if let Some(b) = &mut other_blob_cap.body.call.blob {
        b.max_fee_per_blob_gas += 1;
    }
    assert_eq!(
        status(&mut val, &other_blob_cap),
        Status::Rejected(Reason::EthBodyMismatch)
    );
    let resigned = |blob: Blobs| {
        let mut t = tx.clone();
        t.body.call.blob = Some(blob);
        t.eth = Some(EthAuthorization {
            envelope: v.sign_call(&t.body.call, CHAIN, 0),
        });
        t
    };
    // 7 blobs: above Cancun's 6 per transaction.
    let seven = resigned(Blobs {
        max_fee_per_blob_gas: 100,
        versioned_hashes: hashes(7),
    });
    assert_eq!(
        status(&mut val, &seven),
        Status::Rejected(Reason::TooManyBlobs)
    );
    // 10 blobs: above what any fork allows, refused by the decoder.
    let ten = resigned(Blobs {
        max_fee_per_blob_gas: 100,
        versioned_hashes: hashes(10),
    });
    assert_eq!(
        decode_tx(&encode(&ten)).map_err(|e| e.reason()),
        Err(Reason::LimitExceeded)
    );
    // No blob at all, or a creation: not a blob call (structure).
    let none = resigned(Blobs {
        max_fee_per_blob_gas: 100,
        versioned_hashes: Vec::new(),
    });
    assert_eq!(
        status(&mut val, &none),
        Status::Rejected(Reason::InvalidFeeFields)
    );
    let mut create = tx.clone();
    create.body.call.to = None;
    assert_eq!(
        status(&mut val, &create),
        Status::Rejected(Reason::InvalidFeeFields)
    );
    // A blob fee cap below the chain's blob base fee.
    let cheap = resigned(Blobs {
        max_fee_per_blob_gas: blob_price - 1,
        versioned_hashes: hashes(2),
    });
    assert_eq!(
        status(&mut val, &cheap),
        Status::Rejected(Reason::BlobFeeCapBelowBlobBaseFee)
    );

    // The real one is accepted.
    assert_eq!(status(&mut val, &tx), Status::Accepted);
    let (fresh, stored) = val.check().expect("check");
    assert_eq!(fresh, stored);
}
