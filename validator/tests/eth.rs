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
