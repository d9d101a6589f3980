//! Ethereum semantics through a real `mf-coordinator serve` in front of a real
//! `mf-validator serve` (PROTOCOL.md §5.2, §6.3):
//!
//! - a payment signed before its sender received 1 wei is still accepted: the wallet signed
//!   its own account move's nonce alone, and the coordinator re-fills the version the credit
//!   created (the review's scenario across batches);
//! - `BLOCKHASH` of the previous block, simulated on the coordinator (which follows the
//!   chain's headers) and validated by re-execution against the validator's stored headers,
//!   stores the real header hash.

use crate::util::*;
use mf_api::Client;
use mf_devkit::process::{start_coordinator, start_validator, wait_ready};
use mf_format::{Address, Key, Keypair, U256};
use mf_movegen::TxBuilder;
use mf_movegen::genesis::Genesis;
use mf_movegen::remote::RpcClient;
use mf_movegen::rpc::{IntentState, RpcValue};
use std::time::Duration;

const CHAIN: u64 = 1337;

/// `SSTORE(0, BLOCKHASH(NUMBER - 1))`.
const STORE_PARENT_HASH: [u8; 9] = [0x60, 0x01, 0x43, 0x03, 0x40, 0x60, 0x00, 0x55, 0x00];

fn recorder() -> Address {
    Address::repeat_byte(0x40)
}

fn accepted_height(client: &RpcClient, tx: &mf_format::Transaction) -> u64 {
    let id = client.submit(tx).expect("mf_sendIntent");
    let st = client.wait(&id, Duration::from_secs(60)).expect("wait");
    assert_eq!(st.status, IntentState::Accepted, "{st:?}");
    st.height.expect("height").to::<u64>()
}

#[test]
fn credits_keep_payments_valid_and_blockhash_reads_the_chain() {
    let (u, v) = (
        Keypair::from_label("coordinator credits u"),
        Keypair::from_label("coordinator credits v"),
    );
    let mut view = mf_devkit::funded([u.address(), v.address()], mf_devkit::units(100));
    view.deploy(recorder(), STORE_PARENT_HASH.to_vec(), U256::ZERO, []);
    let dir = tempfile::tempdir().expect("tempdir");
    let genesis = Genesis::from_view(CHAIN, &view);
    let (_validator, vurl) =
        start_validator(&validator_bin(), dir.path(), &genesis).expect("validator");
    let (_coordinator, curl) =
        start_coordinator(&coordinator_bin(), dir.path(), "coordinator", &vurl, &[])
            .expect("coordinator");
    let client = RpcClient::new(&curl);
    wait_ready(&client, Duration::from_secs(30)).expect("coordinator ready");

    // V signs a payment; then U sends V 1 wei, which lands first.
    let ctx = next_block(0);
    let payment = TxBuilder::transfer(CHAIN, Address::repeat_byte(0x77), U256::from(5u64))
        .context(ctx)
        .build(&view, &v, &[])
        .expect("build the payment")
        .tx;
    let credit = TxBuilder::transfer(CHAIN, v.address(), U256::from(1u64))
        .context(ctx)
        .build(&view, &u, &[])
        .expect("build the credit")
        .tx;
    let h1 = accepted_height(&client, &credit);
    // Signed against the version the credit spent, filled against the one it created.
    let h2 = accepted_height(&client, &payment);
    assert!(h2 > h1, "the payment lands after the credit ({h1}, {h2})");

    // BLOCKHASH: simulated where the headers are known, then signed and sent.
    let head = client.head().expect("head").height.to::<u64>();
    let ctx = next_block(head);
    let builder = TxBuilder::call(CHAIN, recorder(), vec![])
        .gas_limit(100_000)
        .context(ctx);
    let execution = client
        .simulate(&builder.to_call(u.address()), &ctx)
        .expect("mf_simulate");
    let reader = builder
        .build_with(execution, &u, &[])
        .expect("sign the simulated call")
        .tx;
    accepted_height(&client, &reader);
    let parent = Client::new(&vurl)
        .header(ctx.block_number - 1)
        .expect("GET /header")
        .expect("the parent header");
    let stored = client
        .version(&Key::storage(recorder(), U256::ZERO))
        .expect("mf_getVersion");
    assert_eq!(stored.value, RpcValue::Storage(parent.hash));
}

/// Signed Ethereum transactions (PROTOCOL.md §5.5) through `mf_sendEthTransaction`: two from
/// one secp256k1 key sent back to back (nonces 0 and 1) are both filled, sequenced and
/// accepted; each is found by its Ethereum hash; the same signed transaction sent again is
/// refused at intake as a replay.
#[test]
fn ethereum_signed_transactions_through_the_coordinator() {
    use mf_devkit::eth::EthKey;
    use mf_format::{Call, Fee};
    let key = EthKey::from_label("coordinator eth sender");
    let view = mf_devkit::funded([key.address()], mf_devkit::units(100));
    let dir = tempfile::tempdir().expect("tempdir");
    let genesis = Genesis::from_view(CHAIN, &view);
    let (_validator, _vurl) =
        start_validator(&validator_bin(), dir.path(), &genesis).expect("validator");
    let (_coordinator, curl) =
        start_coordinator(&coordinator_bin(), dir.path(), "coordinator", &_vurl, &[])
            .expect("coordinator");
    let client = RpcClient::new(&curl);
    wait_ready(&client, Duration::from_secs(30)).expect("coordinator ready");

    let pay = |nonce: u64, wei: u64| {
        let call = Call {
            from: key.address(),
            to: Some(Address::repeat_byte(0x99)),
            value: U256::from(wei),
            input: vec![],
            gas_limit: 21_000,
            fee: Fee::dynamic(1_000, 1),
            access_list: Vec::new(),
            blob: None,
        };
        key.sign_call(&call, CHAIN, nonce)
    };
    let (first, second) = (pay(0, 1), pay(1, 2));
    let ids: Vec<_> = [&first, &second]
        .iter()
        .map(|raw| {
            client
                .send_eth_transaction(raw)
                .expect("mf_sendEthTransaction")
        })
        .collect();
    for (id, raw) in ids.iter().zip([&first, &second]) {
        let st = client.wait(id, Duration::from_secs(60)).expect("wait");
        assert_eq!(st.status, IntentState::Accepted, "{st:?}");
        let by_hash = client
            .intent(&alloy_primitives::keccak256(raw))
            .expect("mf_getIntent")
            .expect("found by its Ethereum hash");
        assert_eq!(by_hash.intent, *id);
    }
    let replay = client.send_eth_transaction(&first);
    assert!(
        replay
            .as_ref()
            .is_err_and(|e| e.to_string().contains("eth_nonce_mismatch")),
        "{replay:?}"
    );
    let stored = client
        .version(&Key::account(key.address()))
        .expect("mf_getVersion");
    let RpcValue::Account(a) = stored.value else {
        panic!("an account record");
    };
    assert_eq!(a.nonce.to::<u64>(), 2);
}
