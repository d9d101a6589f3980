//! Golden vectors: fixed inputs whose encodings, ids, digests, addresses and hashes are
//! committed in `tests/vectors/golden.txt`. Any change to the format makes this test fail.
//! After an intended format change, regenerate with `MF_BLESS=1 cargo test -p mf-format
//! --test tests golden` and say so in `docs/PROTOCOL.md`.

use mf_format::*;
use std::collections::BTreeMap;

fn acct(balance: u64, nonce: u64) -> Value {
    Value::Account(Account {
        balance: U256::from(balance),
        nonce,
        code_hash: EMPTY_CODE_HASH,
    })
}

fn sample_body(masks: [u8; 3], open: bool) -> TxBody {
    let alice = Keypair::from_label("golden alice");
    let pool = Address::repeat_byte(0x42);
    let prev_tx = B256::repeat_byte(0x07);
    TxBody {
        chain_id: 1337,
        call: Call {
            from: alice.address(),
            to: Some(pool),
            value: U256::from(5u64),
            input: vec![0xa9, 0x05, 0x9c, 0xbb, 0x00, 0x01],
            gas_limit: 100_000,
            fee: Fee::dynamic(30_000_000_000, 1_000_000_000),
            access_list: vec![AccessItem {
                address: pool,
                storage_keys: vec![B256::repeat_byte(0x01)],
            }],
            blob: None,
        },
        context: ExecContext {
            block_number: 12,
            timestamp: 1_700_000_000,
        },
        open,
        moves: vec![
            Move {
                mask: Mask(masks[0]),
                kind: MoveKind::Consume,
                mark: Mark::Account,
                intx: GENESIS_INTX,
                addr: alice.address(),
                slot: U256::ZERO,
                prev: acct(1000, 0),
                next: acct(995, 1),
            },
            Move {
                mask: Mask(masks[1]),
                kind: MoveKind::Consume,
                mark: Mark::Storage,
                intx: prev_tx,
                addr: pool,
                slot: U256::from(8u64),
                prev: Value::Storage(U256::from(77u64)),
                next: Value::Storage(U256::from(78u64)),
            },
            Move {
                mask: Mask(masks[2]),
                kind: MoveKind::Reference,
                mark: Mark::Account,
                intx: prev_tx,
                addr: pool,
                slot: U256::ZERO,
                prev: acct(5, 1),
                next: acct(5, 1),
            },
        ],
        created_code: vec![vec![0x60, 0x00, 0x60, 0x00, 0xf3]],
    }
}

/// The golden blob call (v4): the golden body as an EIP-4844 call (the same fee caps, a blob
/// fee cap of 3 gwei, two versioned hashes).
fn sample_blob_body(masks: [u8; 3], open: bool) -> TxBody {
    let mut body = sample_body(masks, open);
    body.call.fee.kind = FeeKind::Blob;
    let hash = |b: u8| {
        let mut h = B256::repeat_byte(b);
        h.0[0] = 0x01;
        h
    };
    body.call.blob = Some(Blobs {
        max_fee_per_blob_gas: 3_000_000_000,
        versioned_hashes: vec![hash(0x11), hash(0x22)],
    });
    body
}

fn vectors() -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    let alice = Keypair::from_label("golden alice");
    let put = |v: &mut BTreeMap<String, String>, k: &str, bytes: &[u8]| {
        v.insert(k.to_string(), hex::encode(bytes));
    };
    put(&mut v, "alice.public_key", &alice.public_key());
    put(&mut v, "alice.address", alice.address().as_slice());

    let body = sample_body([7, 7, 7], false);
    let tx = sign(body.clone(), &[&alice]);
    put(&mut v, "tx.encoded", &encode(&tx));
    put(&mut v, "tx.id", tx_id(&body).as_slice());
    // An Ethereum authorisation (§5.5): alice's call signed as an EIP-1559 transaction with
    // nonce 0 by the secp256k1 key keccak-256("golden eth"), its sender recovered, and the
    // transaction carrying it (every move unsigned, `open`).
    let (envelope, sender) = golden_eth_envelope(&body.call, body.chain_id);
    put(&mut v, "eth.envelope", &envelope);
    put(
        &mut v,
        "eth.hash",
        alloy_primitives::keccak256(&envelope).as_slice(),
    );
    put(&mut v, "eth.sender", sender.as_slice());
    let mut eth_body = sample_body([0, 0, 0], true);
    eth_body.call.from = sender;
    eth_body.moves[0].addr = sender;
    eth_body.canonicalize();
    put(
        &mut v,
        "tx.eth_encoded",
        &encode(&Transaction::eth(eth_body, envelope)),
    );
    // A blob call (v4, §2.2): the blob fields follow the access list.
    let blob_body = sample_blob_body([7, 7, 7], false);
    put(
        &mut v,
        "tx.blob_encoded",
        &encode(&sign(blob_body.clone(), &[&alice])),
    );
    put(&mut v, "tx.blob_id", tx_id(&blob_body).as_slice());
    put(&mut v, "digest.blob", signing_digest(&blob_body).as_slice());
    let (blob_envelope, blob_sender) = golden_eth_envelope(&blob_body.call, blob_body.chain_id);
    assert_eq!(blob_sender, sender);
    put(&mut v, "eth.blob_envelope", &blob_envelope);
    let mut eth_blob_body = sample_blob_body([0, 0, 0], true);
    eth_blob_body.call.from = sender;
    eth_blob_body.moves[0].addr = sender;
    eth_blob_body.canonicalize();
    put(
        &mut v,
        "tx.eth_blob_encoded",
        &encode(&Transaction::eth(eth_blob_body, blob_envelope)),
    );
    for (name, masks, open) in [
        ("digest.all", [7, 7, 7], false),
        ("digest.intx_only", [1, 1, 1], false),
        ("digest.pool_prev_next_masked", [7, 1, 7], false),
        ("digest.pool_unsigned_open", [7, 0, 7], true),
        ("digest.next_only", [4, 4, 4], false),
        ("digest.sender_nonce_only", [8, 7, 7], false),
    ] {
        put(
            &mut v,
            name,
            signing_digest(&sample_body(masks, open)).as_slice(),
        );
    }
    // What the signers of a co-signed transaction sign (§5.2): the digest of `digest.all`
    // bound to alice and a co-signer, bob.
    let bob = Keypair::from_label("golden bob");
    put(
        &mut v,
        "digest.cosigned_alice_bob",
        authorization_digest(
            &signing_digest(&body),
            &[alice.public_key(), bob.public_key()],
        )
        .as_slice(),
    );
    let header = Header {
        height: 3,
        parent: B256::repeat_byte(0x11),
        tx_root: tx_root(&[tx_id(&body), B256::repeat_byte(1), B256::repeat_byte(2)]),
        receipts_root: receipts_root(&[Receipt {
            tx_id: tx_id(&body),
            status: Status::Rejected(Reason::PrevMismatch),
            gas_used: 21_000,
            logs: vec![Log {
                address: Address::repeat_byte(0x42),
                topics: vec![B256::repeat_byte(0xaa)],
                data: vec![1, 2, 3],
            }],
        }]),
        state_hash: LtHash::IDENTITY.digest(),
        time_ms: 1_700_000_000_123,
    };
    put(&mut v, "header.encoded", &encode(&header));
    put(&mut v, "header.hash", header_hash(&header).as_slice());
    put(&mut v, "merkle.empty", merkle_empty_root().as_slice());
    let mut lt = LtHash::IDENTITY;
    lt.add(&LtHash::of_version(
        &GENESIS_INTX,
        &Key::account(alice.address()),
        &acct(1000, 0),
    ));
    put(
        &mut v,
        "lthash.used_marker.digest",
        LtHash::of_used_marker(&Key::account(alice.address()))
            .digest()
            .as_slice(),
    );
    put(&mut v, "lthash.one_version.digest", lt.digest().as_slice());
    put(
        &mut v,
        "lthash.one_version.lanes_0_16",
        &lt.to_bytes()[..32],
    );
    // The existing empty account (§2.2: code hash zero), and its state-hash element.
    let existing = Value::Account(Account::EXISTING_EMPTY);
    put(&mut v, "value.existing_empty", &encode(&existing));
    put(
        &mut v,
        "lthash.existing_empty.digest",
        LtHash::of_version(&GENESIS_INTX, &Key::account(alice.address()), &existing)
            .digest()
            .as_slice(),
    );
    v
}

/// The golden Ethereum authorisation of `call`: its EIP-1559 (or, for a blob call, EIP-4844)
/// envelope and its signer.
fn golden_eth_envelope(call: &Call, chain_id: u64) -> (Vec<u8>, Address) {
    use alloy_consensus::{SignableTransaction, TxEip1559, TxEip4844, TxEnvelope};
    use alloy_eips::eip2718::Encodable2718;
    let secret = alloy_primitives::keccak256(b"golden eth");
    if let (FeeKind::Blob, Some(b), Some(to)) = (call.fee.kind, &call.blob, call.to) {
        let tx = TxEip4844 {
            chain_id,
            nonce: 0,
            gas_limit: call.gas_limit,
            max_fee_per_gas: call.fee.max_fee_per_gas,
            max_priority_fee_per_gas: call.fee.max_priority_fee_per_gas,
            to,
            value: call.value,
            access_list: mf_format::eth::alloy_access_list(&call.access_list),
            blob_versioned_hashes: b.versioned_hashes.clone(),
            max_fee_per_blob_gas: b.max_fee_per_blob_gas,
            input: call.input.clone().into(),
        };
        let sig = alloy_consensus::crypto::secp256k1::sign_message(secret, tx.signature_hash())
            .expect("sign");
        let envelope = TxEnvelope::from(tx.into_signed(sig)).encoded_2718();
        let sender = decode_eth(&envelope).expect("recovers").signer;
        return (envelope, sender);
    }
    let tx = TxEip1559 {
        chain_id,
        nonce: 0,
        gas_limit: call.gas_limit,
        max_fee_per_gas: call.fee.max_fee_per_gas,
        max_priority_fee_per_gas: call.fee.max_priority_fee_per_gas,
        to: call.to.map_or(
            alloy_primitives::TxKind::Create,
            alloy_primitives::TxKind::Call,
        ),
        value: call.value,
        access_list: mf_format::eth::alloy_access_list(&call.access_list),
        input: call.input.clone().into(),
    };
    let sig = alloy_consensus::crypto::secp256k1::sign_message(secret, tx.signature_hash())
        .expect("sign");
    let envelope = TxEnvelope::from(tx.into_signed(sig)).encoded_2718();
    let sender = decode_eth(&envelope).expect("recovers").signer;
    (envelope, sender)
}

#[test]
fn golden_vectors_match() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/golden.txt");
    let now = vectors();
    let text: String = now.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
    if std::env::var_os("MF_BLESS").is_some() {
        std::fs::write(path, &text).expect("write golden vectors");
        return;
    }
    let stored = std::fs::read_to_string(path).expect("read golden vectors");
    let mut diffs = Vec::new();
    let stored: BTreeMap<&str, &str> = stored
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once(" = "))
        .collect();
    assert_eq!(stored.len(), now.len(), "vector count changed");
    for (k, v) in &now {
        if stored.get(k.as_str()) != Some(&v.as_str()) {
            diffs.push(k.clone());
        }
    }
    assert!(diffs.is_empty(), "golden vectors differ: {diffs:?}");
}

#[test]
fn golden_transaction_decodes_and_verifies() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/golden.txt");
    let stored = std::fs::read_to_string(path).expect("read golden vectors");
    let hex_tx = stored
        .lines()
        .find_map(|l| l.strip_prefix("tx.encoded = "))
        .expect("tx.encoded present");
    let tx = decode_tx(&hex::decode(hex_tx).expect("hex")).expect("decodes");
    assert_eq!(check_structure(&tx, 1337), Ok(()));
    assert_eq!(verify_tx_signatures(&tx), Ok(()));
    assert_eq!(tx.body, sample_body([7, 7, 7], false));
}

#[test]
fn golden_eth_transaction_decodes_and_verifies() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/golden.txt");
    let stored = std::fs::read_to_string(path).expect("read golden vectors");
    let hex_tx = stored
        .lines()
        .find_map(|l| l.strip_prefix("tx.eth_encoded = "))
        .expect("tx.eth_encoded present");
    let tx = decode_tx(&hex::decode(hex_tx).expect("hex")).expect("decodes");
    assert_eq!(check_structure(&tx, 1337), Ok(()));
    // The golden body declares alice's genesis record, nonce 0: the envelope's nonce.
    assert!(verify_eth_authorization(&tx).is_ok());
}

#[test]
fn golden_blob_transactions_decode_and_verify() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/golden.txt");
    let stored = std::fs::read_to_string(path).expect("read golden vectors");
    let get = |name: &str| {
        let prefix = format!("{name} = ");
        let hex_tx = stored
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("{name} present"));
        decode_tx(&hex::decode(hex_tx).expect("hex")).expect("decodes")
    };
    let tx = get("tx.blob_encoded");
    assert_eq!(check_structure(&tx, 1337), Ok(()));
    assert_eq!(verify_tx_signatures(&tx), Ok(()));
    assert_eq!(tx.body, sample_blob_body([7, 7, 7], false));
    // The blob fields are the last 8 + 16 + 2 x 32 bytes of the call: the encoding of the
    // golden call with kind 3 is the kind-2 one (its kind byte changed) and these bytes.
    let plain = encode(&sample_body([7, 7, 7], false).call);
    let blob = encode(&tx.body.call);
    assert_eq!(blob.len(), plain.len() + 16 + 8 + 64);
    assert_eq!(blob[95], 3);
    assert_eq!(blob[..95], plain[..95]);
    assert_eq!(blob[96..plain.len()], plain[96..]);
    let eth = get("tx.eth_blob_encoded");
    assert_eq!(check_structure(&eth, 1337), Ok(()));
    assert!(verify_eth_authorization(&eth).is_ok());
}
