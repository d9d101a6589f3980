//! One real validator and one real coordinator process: JSON-RPC shape conformance,
//! Ethereum reads against the genesis contracts, intents end to end through the remote
//! view, and intake refusals.

use crate::util::*;
use alloy_primitives::{B256, U256};
use mf_devkit::devnet::{DevnetWorld, Op, build_intent};
use mf_devkit::{slots, units};
use mf_format::{ExecContext, encode};
use mf_movegen::abi::{Arg, calldata};
use mf_movegen::remote::{RemoteError, RemoteView, RpcClient};
use mf_movegen::rpc::{IntentState, codes};
use serde_json::{Value, json};
use std::time::Duration;

fn ctx(client: &RpcClient) -> ExecContext {
    next_block(client.block_number().expect("height"))
}

fn call(client: &RpcClient, method: &str, params: Value) -> Result<Value, RemoteError> {
    client.call_raw(method, params)
}

fn rpc_error(r: Result<Value, RemoteError>) -> (i64, String, Option<Value>) {
    match r {
        Err(RemoteError::Rpc {
            code,
            message,
            data,
            ..
        }) => (code, message, data),
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

#[test]
fn json_rpc_shapes_reads_and_intents() {
    let world = DevnetWorld::new(4, 2, 1).expect("world");
    let net = Net::start(world.clone());
    let (_coord, client) = net.coordinator("coordinator", &[]);
    let url = client.url().to_string();

    // --- transport conformance ---
    let (status, body) = post_raw(&url, "{not json");
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["jsonrpc"], "2.0");
    assert_eq!(v["id"], Value::Null);
    assert_eq!(v["error"]["code"], codes::PARSE_ERROR);

    let (_, body) = post_raw(&url, r#"{"id":1,"method":"eth_chainId"}"#);
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["error"]["code"], codes::INVALID_REQUEST, "{v}");
    assert_eq!(v["id"], 1);

    let (_, body) = post_raw(
        &url,
        r#"{"jsonrpc":"2.0","id":"x","method":"eth_nope","params":[]}"#,
    );
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["error"]["code"], codes::METHOD_NOT_FOUND);
    assert_eq!(v["id"], "x");

    let (_, body) = post_raw(&url, "[]");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["error"]["code"], codes::INVALID_REQUEST);

    // A batch: answers keep their ids; the notification gets none.
    let (_, body) = post_raw(
        &url,
        r#"[{"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":[]},
            {"jsonrpc":"2.0","method":"eth_blockNumber","params":[]},
            {"jsonrpc":"2.0","id":8,"method":"eth_getBalance","params":["0xnothex","latest"]},
            5]"#,
    );
    let v: Value = serde_json::from_str(&body).expect("json");
    let items = v.as_array().expect("array");
    assert_eq!(items.len(), 3, "{v}");
    assert_eq!(items[0]["id"], 7);
    assert_eq!(items[0]["result"], "0x7a69"); // 31337
    assert_eq!(items[1]["id"], 8);
    assert_eq!(items[1]["error"]["code"], codes::INVALID_PARAMS);
    assert_eq!(items[2]["error"]["code"], codes::INVALID_REQUEST);

    // A lone notification: no answer object (jsonrpsee sends `200` with an empty or
    // `null` body).
    let (status, body) = post_raw(&url, r#"{"jsonrpc":"2.0","method":"eth_chainId"}"#);
    assert_eq!(status, 200);
    assert!(matches!(body.trim(), "" | "null"), "{body}");

    // --- Ethereum reads ---
    assert_eq!(
        call(&client, "eth_chainId", json!([])).expect("id"),
        "0x7a69"
    );
    assert_eq!(
        call(&client, "net_version", json!([])).expect("net"),
        "31337"
    );
    assert_eq!(
        call(&client, "eth_blockNumber", json!([])).expect("n"),
        "0x0"
    );
    let alice = &world.wallets[0];
    let bal = call(
        &client,
        "eth_getBalance",
        json!([alice.address(), "latest"]),
    )
    .expect("bal");
    assert_eq!(bal, json!(units(1_000_000)));
    assert_eq!(
        call(&client, "eth_getBalance", json!([alice.address(), "0x0"])).expect("bal at 0"),
        bal
    );
    let (code, msg, _) = rpc_error(call(
        &client,
        "eth_getBalance",
        json!([alice.address(), "0x5"]),
    ));
    // A block above the head: geth's "header not found".
    assert_eq!(code, codes::SERVER_ERROR, "{msg}");
    assert!(msg.contains("header not found"), "{msg}");
    assert_eq!(
        call(
            &client,
            "eth_getTransactionCount",
            json!([alice.address(), "latest"])
        )
        .expect("n"),
        "0x0"
    );
    let code_hex = call(&client, "eth_getCode", json!([world.pay_token, "latest"])).expect("code");
    assert!(code_hex.as_str().expect("str").len() > 100);
    assert_eq!(
        call(&client, "eth_getCode", json!([alice.address(), "latest"])).expect("no code"),
        "0x"
    );
    let (pair, _) = world.pools[0];
    let reserve = call(&client, "eth_getStorageAt", json!([pair, "0x2", "latest"])).expect("slot");
    assert_eq!(reserve, json!(B256::from(units(1_000_000))));

    // eth_call: balanceOf through the EVM.
    let data = calldata("balanceOf(address)", &[Arg::Address(alice.address())]);
    let out = call(
        &client,
        "eth_call",
        json!([{"to": world.pay_token, "data": alloy_primitives::Bytes::from(data)}, "latest"]),
    )
    .expect("call");
    assert_eq!(out, json!(B256::from(units(1_000_000))));
    // A revert: code 3, the reason in the message, the revert data in `data`.
    let swap = calldata(
        "swap(address,uint256,uint256)",
        &[
            Arg::Address(world.hub),
            Arg::Uint(units(1)),
            Arg::Uint(units(1_000)),
        ],
    );
    let (code, msg, data) = rpc_error(call(
        &client,
        "eth_call",
        json!([{"from": alice.address(), "to": pair, "input": alloy_primitives::Bytes::from(swap)}]),
    ));
    assert_eq!(code, codes::EXECUTION_REVERTED);
    assert!(msg.contains("insufficient output"), "{msg}");
    assert!(
        data.and_then(|d| d.as_str().map(|s| s.starts_with("0x08c379a0")))
            .unwrap_or(false)
    );
    // eth_estimateGas of a plain transfer.
    let gas = call(
        &client,
        "eth_estimateGas",
        json!([{"from": alice.address(), "to": world.merchants[0], "value": "0x1"}]),
    )
    .expect("estimate");
    assert_eq!(gas, "0x5208");

    // --- intents ---
    let view = RemoteView::new(client.clone());
    let ver = client
        .version(&mf_format::Key::account(alice.address()))
        .expect("version");
    assert!(ver.exists);
    assert_eq!(ver.intx, B256::ZERO);
    assert_eq!(client.intent(&B256::repeat_byte(7)).expect("unknown"), None);

    // A payment to a merchant, the merchant's record left to the filler.
    let merchant = world.merchants[0];
    let tx = build_intent(
        &world,
        &view,
        alice,
        Op::PayToken,
        merchant,
        units(5),
        ctx(&client),
        false,
    )
    .expect("build");
    let dry = client.dry_run(&tx).expect("dry run");
    assert_eq!(dry.moves as usize, tx.body.moves.len());
    let id = client.submit(&tx).expect("submit");
    assert_eq!(
        client.submit(&tx).expect("again"),
        id,
        "submitting twice is idempotent"
    );
    let st = client.wait(&id, Duration::from_secs(30)).expect("wait");
    assert_eq!(st.status, IntentState::Accepted, "{st:?}");
    assert_eq!(st.tx_id, Some(dry.tx_id));
    let h = st.height.expect("height").to::<u64>();
    assert!(client.block_number().expect("n") >= h);
    let merchant_balance = call(
        &client,
        "eth_getStorageAt",
        json!([
            world.pay_token,
            B256::from(slots::token::balance(merchant)),
            "latest"
        ]),
    )
    .expect("merchant");
    assert_eq!(merchant_balance, json!(B256::from(units(5))));
    assert_eq!(
        call(&client, "eth_getTransactionCount", json!([alice.address()])).expect("nonce"),
        "0x1"
    );

    // A swap whose minimum cannot be met: rejected at fill with the revert reason, and the
    // pool is untouched.
    let bob = &world.wallets[1];
    let reserves_before = client
        .version(&mf_format::Key::storage(pair, U256::from(2u64)))
        .expect("reserve");
    let tight = build_intent(
        &world,
        &view,
        bob,
        Op::Swap {
            pool: 0,
            sell_hub: true,
            tight: true,
        },
        merchant,
        units(50),
        ctx(&client),
        true,
    )
    .expect("tight swap");
    // Another wallet's large swap in the same direction lands first.
    let carol = &world.wallets[2];
    let big = build_intent(
        &world,
        &view,
        carol,
        Op::Swap {
            pool: 0,
            sell_hub: true,
            tight: false,
        },
        merchant,
        units(20_000),
        ctx(&client),
        false,
    )
    .expect("big swap");
    let big_id = client.submit(&big).expect("submit big");
    let st = client.wait(&big_id, Duration::from_secs(30)).expect("big");
    assert_eq!(st.status, IntentState::Accepted, "{st:?}");
    let reserves_mid = client
        .version(&mf_format::Key::storage(pair, U256::from(2u64)))
        .expect("reserve");
    assert_ne!(reserves_mid, reserves_before);
    let tight_id = client.submit(&tight).expect("submit tight");
    let st = client
        .wait(&tight_id, Duration::from_secs(30))
        .expect("tight");
    assert_eq!(st.status, IntentState::Rejected, "{st:?}");
    assert_eq!(st.reason.as_deref(), Some("execution_failed"));
    assert_eq!(st.code, Some(60));
    assert!(
        st.detail
            .as_deref()
            .unwrap_or("")
            .contains("insufficient output"),
        "{st:?}"
    );
    let reserves_after = client
        .version(&mf_format::Key::storage(pair, U256::from(2u64)))
        .expect("reserve");
    assert_eq!(
        reserves_after.intx, reserves_mid.intx,
        "a rejected intent leaves no trace"
    );

    // --- intake refusals ---
    let (code, _, data) = rpc_error(call(&client, "mf_sendIntent", json!(["0x0102"])));
    assert_eq!(code, codes::INVALID_PARAMS);
    assert_eq!(data.expect("data")["reason"], "malformed");
    let mut forged = build_intent(
        &world,
        &view,
        bob,
        Op::Pay,
        merchant,
        units(1),
        ctx(&client),
        true,
    )
    .expect("pay");
    forged.body.call.value += U256::from(1u64);
    let (code, _, data) = rpc_error(call(
        &client,
        "mf_sendIntent",
        json!([alloy_primitives::Bytes::from(encode(&forged))]),
    ));
    assert_eq!(code, codes::TRANSACTION_REJECTED);
    assert_eq!(data.expect("data")["reason"], "bad_signature");
    let mut wrong_chain = forged.clone();
    wrong_chain.body.chain_id = 1;
    let (code, _, data) = rpc_error(call(
        &client,
        "mf_sendIntent",
        json!([alloy_primitives::Bytes::from(encode(&wrong_chain))]),
    ));
    assert_eq!(code, codes::TRANSACTION_REJECTED);
    assert_eq!(data.expect("data")["reason"], "wrong_chain_id");

    // The coordinator's index equals the validator's state.
    let head = client.head().expect("head");
    let vhead: Value =
        serde_json::from_str(&get_text(&format!("{}/head", net.vurl))).expect("head");
    assert_eq!(vhead["height"].as_u64(), Some(head.height.to::<u64>()));
    assert_eq!(
        vhead["state_hash"].as_str(),
        Some(format!("{:#x}", head.state_hash).as_str())
    );
    let metrics = get_text(&format!("{url}/metrics"));
    assert_eq!(metric(&metrics, "mf_coordinator_intents_accepted_total"), 2);
    assert_eq!(metric(&metrics, "mf_coordinator_intents_rejected_total"), 1);
}
