//! The standard Ethereum JSON-RPC surface of the coordinator over real processes: CORS
//! preflights, polled block and pending-transaction filters, and `eth_subscribe` over a
//! WebSocket on the same port as HTTP.

use crate::util::*;
use alloy_primitives::{B256, keccak256};
use mf_devkit::eth::EthKey;
use mf_devkit::process::{start_coordinator, start_validator, wait_ready};
use mf_format::{Address, Call, Fee, U256};
use mf_movegen::genesis::Genesis;
use mf_movegen::remote::RpcClient;
use mf_movegen::rpc::IntentState;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const CHAIN: u64 = 31337;

struct Node {
    _dir: tempfile::TempDir,
    validator: mf_devkit::process::Proc,
    _coordinator: mf_devkit::process::Proc,
    url: String,
    client: RpcClient,
    key: EthKey,
}

/// Stores 0x2a in slot 0 and emits an empty LOG0.
const STORE_AND_LOG: [u8; 11] = [
    0x60, 0x2a, 0x60, 0x00, 0x55, 0x60, 0x00, 0x60, 0x00, 0xa0, 0x00,
];

fn store_and_log() -> Address {
    Address::repeat_byte(0xc1)
}

fn probed() -> Address {
    Address::repeat_byte(0xc3)
}

/// Reads the balance of [`probed`] (PUSH20 addr, BALANCE, POP, STOP).
fn balance_probe_code() -> Vec<u8> {
    let mut c = vec![0x73];
    c.extend_from_slice(probed().as_slice());
    c.extend_from_slice(&[0x31, 0x50, 0x00]);
    c
}

fn balance_probe() -> Address {
    Address::repeat_byte(0xc2)
}

/// JUMPDEST, PUSH1 0, JUMP: loops until its gas runs out.
fn looper() -> Address {
    Address::repeat_byte(0xc4)
}

fn node(extra: &[&str]) -> Node {
    let key = EthKey::from_label("standard rpc sender");
    let mut view = mf_devkit::funded([key.address()], mf_devkit::units(100));
    view.deploy(store_and_log(), STORE_AND_LOG.to_vec(), U256::ZERO, []);
    view.deploy(balance_probe(), balance_probe_code(), U256::ZERO, []);
    view.deploy(looper(), vec![0x5b, 0x60, 0x00, 0x56], U256::ZERO, []);
    let dir = tempfile::tempdir().expect("tempdir");
    let genesis = Genesis::from_view(CHAIN, &view);
    let (validator, vurl) =
        start_validator(&validator_bin(), dir.path(), &genesis).expect("validator");
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let (coordinator, url) =
        start_coordinator(&coordinator_bin(), dir.path(), "coordinator", &vurl, &extra)
            .expect("coordinator");
    let client = RpcClient::new(&url);
    wait_ready(&client, Duration::from_secs(30)).expect("coordinator ready");
    Node {
        _dir: dir,
        validator,
        _coordinator: coordinator,
        url,
        client,
        key,
    }
}

impl Node {
    fn rpc(&self, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (status, text) = post_raw(&self.url, &body.to_string());
        assert_eq!(status, 200, "{text}");
        let v: Value = serde_json::from_str(&text).expect("JSON");
        assert!(v.get("error").is_none(), "{method}: {v}");
        v["result"].clone()
    }

    /// The error object of a call that must fail.
    fn rpc_error(&self, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (_, text) = post_raw(&self.url, &body.to_string());
        let v: Value = serde_json::from_str(&text).expect("JSON");
        assert!(v.get("result").is_none(), "{method} answered {v}");
        v["error"].clone()
    }

    /// A signed payment of `wei` with `nonce`: its raw bytes.
    fn payment(&self, nonce: u64, wei: u64) -> Vec<u8> {
        self.signed(nonce, Address::repeat_byte(0x77), wei, 21_000)
    }

    /// A signed call to `to` with `wei` and `gas`.
    fn signed(&self, nonce: u64, to: Address, wei: u64, gas: u64) -> Vec<u8> {
        let call = Call {
            from: self.key.address(),
            to: Some(to),
            value: U256::from(wei),
            input: vec![],
            gas_limit: gas,
            fee: Fee::dynamic(1_000_000_000_000, 1),
            access_list: Vec::new(),
            blob: None,
        };
        self.key.sign_call(&call, CHAIN, nonce)
    }

    fn send_and_wait(&self, raw: &[u8]) {
        let id = self.client.send_eth_transaction(raw).expect("send");
        let st = self
            .client
            .wait(&id, Duration::from_secs(60))
            .expect("wait");
        assert_eq!(st.status, IntentState::Accepted, "{st:?}");
    }

    fn addr(&self) -> String {
        self.url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string()
    }
}

/// An OPTIONS preflight from `origin`: the status line and the headers, lowercased.
fn preflight(addr: &str, origin: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "OPTIONS / HTTP/1.1\r\nHost: {addr}\r\nOrigin: {origin}\r\n\
         Access-Control-Request-Method: POST\r\n\
         Access-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.to_lowercase()
}

#[test]
fn cors_preflights_follow_the_configured_origins() {
    let n = node(&[]);
    let any = preflight(&n.addr(), "http://dapp.example");
    assert!(any.starts_with("http/1.1 200"), "{any}");
    assert!(any.contains("access-control-allow-origin: *"), "{any}");
    assert!(any.contains("access-control-allow-methods:"), "{any}");
    assert!(any.contains("access-control-allow-headers:"), "{any}");

    let n = node(&["--rpc-cors", "http://a.example"]);
    let allowed = preflight(&n.addr(), "http://a.example");
    assert!(
        allowed.contains("access-control-allow-origin: http://a.example"),
        "{allowed}"
    );
    let other = preflight(&n.addr(), "http://b.example");
    assert!(!other.contains("access-control-allow-origin"), "{other}");
}

#[test]
fn block_and_pending_filters_report_what_happened_since_the_last_poll() {
    let n = node(&[]);
    let blocks = n.rpc("eth_newBlockFilter", json!([]));
    let pending = n.rpc("eth_newPendingTransactionFilter", json!([]));
    assert_ne!(blocks, pending);
    assert_eq!(n.rpc("eth_getFilterChanges", json!([blocks])), json!([]));
    assert_eq!(n.rpc("eth_getFilterChanges", json!([pending])), json!([]));

    let raw = n.payment(0, 5);
    n.send_and_wait(&raw);
    let head = n.rpc("mf_getHead", json!([]));
    let hashes = n.rpc("eth_getFilterChanges", json!([blocks]));
    let hashes = hashes.as_array().expect("array");
    assert!(!hashes.is_empty());
    assert_eq!(
        hashes.last(),
        Some(&head["headerHash"]),
        "{hashes:?} {head}"
    );
    let seen = n.rpc("eth_getFilterChanges", json!([pending]));
    assert_eq!(seen, json!([keccak256(&raw)]));
    // Polled again: nothing new.
    assert_eq!(n.rpc("eth_getFilterChanges", json!([pending])), json!([]));
    assert_eq!(n.rpc("eth_getFilterChanges", json!([blocks])), json!([]));

    assert_eq!(n.rpc("eth_uninstallFilter", json!([blocks])), json!(true));
    assert_eq!(n.rpc("eth_uninstallFilter", json!([blocks])), json!(false));
    let body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_getFilterChanges", "params": [blocks]});
    let (_, text) = post_raw(&n.url, &body.to_string());
    let v: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(v["error"]["message"], "filter not found", "{v}");
}

#[test]
fn pending_transactions_are_pushed_over_a_websocket_on_the_http_port() {
    let n = node(&[]);
    let (mut ws, _) =
        tungstenite::connect(format!("ws://{}/", n.addr())).expect("WebSocket handshake");
    let send = |ws: &mut tungstenite::WebSocket<_>, v: Value| {
        ws.send(tungstenite::Message::text(v.to_string()))
            .expect("send")
    };
    let next =
        |ws: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>| -> Value {
            loop {
                match ws.read().expect("read") {
                    tungstenite::Message::Text(t) => {
                        return serde_json::from_str(&t).expect("JSON");
                    }
                    tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_) => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
        };
    // A plain call works over the WebSocket too; so do the node-information methods.
    assert_eq!(
        n.rpc("web3_sha3", json!(["0x68656c6c6f"])),
        json!(keccak256(b"hello"))
    );
    assert_eq!(n.rpc("net_listening", json!([])), json!(true));
    assert_eq!(n.rpc("eth_mining", json!([])), json!(false));
    send(
        &mut ws,
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}),
    );
    assert_eq!(next(&mut ws)["result"], "0x7a69");
    send(
        &mut ws,
        json!({"jsonrpc": "2.0", "id": 2, "method": "eth_subscribe", "params": ["newPendingTransactions"]}),
    );
    let sub = next(&mut ws);
    let id = sub["result"].clone();
    assert!(id.is_string(), "{sub}");
    send(
        &mut ws,
        json!({"jsonrpc": "2.0", "id": 3, "method": "eth_subscribe", "params": ["nonsense"]}),
    );
    let refused = next(&mut ws);
    assert_eq!(refused["error"]["code"], -32602, "{refused}");

    let raw = n.payment(0, 9);
    n.send_and_wait(&raw);
    let deadline = Instant::now() + Duration::from_secs(30);
    let note = loop {
        let v = next(&mut ws);
        if v["method"] == "eth_subscription" {
            break v;
        }
        assert!(Instant::now() < deadline, "no notification");
    };
    assert_eq!(note["params"]["subscription"], id, "{note}");
    assert_eq!(note["params"]["result"], json!(keccak256(&raw)), "{note}");
    send(
        &mut ws,
        json!({"jsonrpc": "2.0", "id": 4, "method": "eth_unsubscribe", "params": [id]}),
    );
    assert_eq!(next(&mut ws)["result"], true);
}

#[test]
fn state_reads_answer_at_past_heights_within_the_history_kept() {
    let n = node(&["--history-heights", "2"]);
    let to = format!("{:#x}", Address::repeat_byte(0x77));
    let sender = format!("{:#x}", n.key.address());
    for (nonce, wei) in [(0, 5u64), (1, 7), (2, 11)] {
        n.send_and_wait(&n.payment(nonce, wei));
    }
    let head: u64 = u64::from_str_radix(
        n.rpc("eth_blockNumber", json!([]))
            .as_str()
            .expect("hex")
            .trim_start_matches("0x"),
        16,
    )
    .expect("number");
    assert!(head >= 3, "{head}");
    // Each payment is its own height here (sent one after the other), so the balance of
    // the recipient steps 5, 12, 23 over the last three heights.
    let at = |h: u64| n.rpc("eth_getBalance", json!([to, format!("{h:#x}")]));
    assert_eq!(at(head), json!("0x17"));
    assert_eq!(at(head - 1), json!("0xc"));
    assert_eq!(at(head - 2), json!("0x5"));
    let nonce_at = |h: u64| {
        n.rpc(
            "eth_getTransactionCount",
            json!([sender, format!("{h:#x}")]),
        )
    };
    assert_eq!(nonce_at(head - 2), json!("0x1"));
    assert_eq!(nonce_at(head), json!("0x3"));
    // By block hash, as EIP-1898 objects.
    let block = n.rpc(
        "eth_getBlockByNumber",
        json!([format!("{:#x}", head - 1), false]),
    );
    assert_eq!(
        n.rpc("eth_getBalance", json!([to, {"blockHash": block["hash"]}])),
        json!("0xc")
    );
    // Older than the history kept: -32002, naming the heights kept; a block not reached:
    // header not found.
    let e = n.rpc_error("eth_getBalance", json!([to, format!("{:#x}", head - 3)]));
    assert_eq!(e["code"], -32002, "{e}");
    assert_eq!(e["data"]["oldest"], head - 2, "{e}");
    let e = n.rpc_error("eth_getBalance", json!([to, format!("{:#x}", head + 1)]));
    assert_eq!(e["code"], -32000, "{e}");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("header not found")),
        "{e}"
    );
    // eth_call takes a past block too (it runs on that height's state).
    let bal = n.rpc(
        "eth_call",
        json!([{"to": format!("{:#x}", balance_probe())}, format!("{:#x}", head - 2)]),
    );
    assert_eq!(bal, json!("0x"));
}

#[test]
fn transactions_and_calls_are_traced_as_geth_traces_them() {
    let n = node(&[]);
    let raw = n.signed(0, store_and_log(), 0, 100_000);
    n.send_and_wait(&raw);
    let hash = keccak256(&raw);
    let receipt = n.rpc("eth_getTransactionReceipt", json!([hash]));
    assert_eq!(receipt["status"], "0x1", "{receipt}");

    // callTracer: one frame, the call as it ran, with the receipt's gas.
    let t = n.rpc(
        "debug_traceTransaction",
        json!([hash, {"tracer": "callTracer"}]),
    );
    assert_eq!(t["type"], "CALL", "{t}");
    assert_eq!(t["from"], json!(n.key.address()), "{t}");
    assert_eq!(t["to"], json!(store_and_log()), "{t}");
    assert_eq!(t["gasUsed"], receipt["gasUsed"], "{t} {receipt}");
    // withLog: the LOG0 in the frame.
    let t = n.rpc(
        "debug_traceTransaction",
        json!([hash, {"tracer": "callTracer", "tracerConfig": {"withLog": true}}]),
    );
    assert_eq!(t["logs"].as_array().map(Vec::len), Some(1), "{t}");

    // prestateTracer in diff mode: slot 0 of the contract goes from absent to 0x2a.
    let t = n.rpc(
        "debug_traceTransaction",
        json!([hash, {"tracer": "prestateTracer", "tracerConfig": {"diffMode": true}}]),
    );
    let contract = format!("{:#x}", store_and_log());
    let slot0 = format!("{:#x}", B256::ZERO);
    assert_eq!(
        t["post"][&contract]["storage"][&slot0],
        json!(B256::from(U256::from(0x2a))),
        "{t}"
    );
    // The default struct logger: every opcode, SSTORE among them.
    let t = n.rpc("debug_traceTransaction", json!([hash, {}]));
    let ops: Vec<&str> = t["structLogs"]
        .as_array()
        .expect("structLogs")
        .iter()
        .filter_map(|l| l["op"].as_str())
        .collect();
    assert_eq!(
        ops,
        ["PUSH1", "PUSH1", "SSTORE", "PUSH1", "PUSH1", "LOG0", "STOP"],
        "{t}"
    );
    assert_eq!(t["failed"], false);

    // mf_traceTransaction: the same trace, beside the moves the transaction declared.
    let m = n.rpc(
        "mf_traceTransaction",
        json!([hash, {"tracer": "callTracer"}]),
    );
    let moves = m["moves"].as_array().expect("moves");
    assert!(
        moves
            .iter()
            .any(|mv| mv["address"] == json!(store_and_log())
                && mv["slot"] == json!(B256::ZERO)
                && mv["next"] == json!(B256::from(U256::from(0x2a)))),
        "{m}"
    );
    assert_eq!(m["trace"]["gasUsed"], receipt["gasUsed"]);

    // The whole block, as geth answers it: one entry per transaction (the batch's fee
    // credit is a system change, not traced).
    let traces = n.rpc(
        "debug_traceBlockByNumber",
        json!([receipt["blockNumber"], {"tracer": "callTracer"}]),
    );
    let traces = traces.as_array().expect("array");
    assert_eq!(traces.len(), 1, "{traces:?}");
    assert_eq!(traces[0]["txHash"], json!(hash));
    assert_eq!(traces[0]["result"]["gasUsed"], receipt["gasUsed"]);
    let by_hash = n.rpc(
        "debug_traceBlockByHash",
        json!([receipt["blockHash"], {"tracer": "callTracer"}]),
    );
    assert_eq!(by_hash.as_array(), Some(traces));

    // Unknown hash; unknown tracer.
    let e = n.rpc_error("debug_traceTransaction", json!([B256::repeat_byte(9)]));
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("transaction not found")),
        "{e}"
    );
    let e = n.rpc_error(
        "debug_traceTransaction",
        json!([hash, {"tracer": "4byteTracer"}]),
    );
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("not served")),
        "{e}"
    );

    // debug_traceCall on the head state, and eth_createAccessList: the probe's BALANCE
    // read puts the probed address in the list (sender and recipient are left out).
    let from = format!("{:#x}", n.key.address());
    let t = n.rpc(
        "debug_traceCall",
        json!([{"from": from, "to": format!("{:#x}", store_and_log())}, "latest", {"tracer": "callTracer"}]),
    );
    assert_eq!(t["type"], "CALL", "{t}");
    let list = n.rpc(
        "eth_createAccessList",
        json!([{"from": from, "to": format!("{:#x}", balance_probe())}, "latest"]),
    );
    assert_eq!(
        list["accessList"],
        json!([{"address": probed(), "storageKeys": []}]),
        "{list}"
    );
    assert!(list["gasUsed"].is_string(), "{list}");

    // A loop with 1M gas: the call tracer shows it out of gas; the struct logger would
    // record ~250k steps and is refused at its step cap instead of growing without bound.
    let call = json!({"from": from, "to": format!("{:#x}", looper()), "gas": "0xf4240"});
    let t = n.rpc(
        "debug_traceCall",
        json!([call, "latest", {"tracer": "callTracer"}]),
    );
    assert_eq!(t["gasUsed"], "0xf4240", "{t}");
    assert!(
        t["error"]
            .as_str()
            .is_some_and(|e| e.contains("out of gas")),
        "{t}"
    );
    let e = n.rpc_error("debug_traceCall", json!([call, "latest", {}]));
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("50000 steps")),
        "{e}"
    );
}

#[test]
fn the_pending_nonce_counts_transactions_taken_and_not_final() {
    let mut n = node(&[]);
    let sender = format!("{:#x}", n.key.address());
    n.send_and_wait(&n.payment(0, 1));
    let count = |n: &Node, tag: &str| n.rpc("eth_getTransactionCount", json!([sender, tag]));
    assert_eq!(count(&n, "pending"), json!("0x1"));
    // With the validator stopped, what is taken stays pending: "pending" counts it,
    // "latest" does not.
    n.validator.stop(Duration::from_secs(10));
    n.client
        .send_eth_transaction(&n.payment(1, 2))
        .expect("taken while the validator is down");
    n.client
        .send_eth_transaction(&n.payment(2, 3))
        .expect("the next nonce is queued");
    assert_eq!(count(&n, "latest"), json!("0x1"));
    assert_eq!(count(&n, "pending"), json!("0x3"));
}

#[test]
fn with_a_send_wait_the_latest_nonce_counts_what_was_just_sent() {
    let n = node(&["--send-wait-ms", "10000"]);
    let sender = format!("{:#x}", n.key.address());
    for wei in [1u64, 2, 3] {
        // As cast does: the nonce from "latest", then eth_sendRawTransaction.
        let nonce = n.rpc("eth_getTransactionCount", json!([sender, "latest"]));
        let nonce = u64::from_str_radix(nonce.as_str().expect("hex").trim_start_matches("0x"), 16)
            .expect("nonce");
        let raw = n.payment(nonce, wei);
        let hash = n.rpc(
            "eth_sendRawTransaction",
            json!([alloy_primitives::Bytes::from(raw.clone())]),
        );
        assert_eq!(hash, json!(keccak256(&raw)));
        // Final when answered: the receipt is there at once.
        let receipt = n.rpc("eth_getTransactionReceipt", json!([hash]));
        assert_eq!(receipt["status"], "0x1", "{receipt}");
    }
    assert_eq!(
        n.rpc("eth_getTransactionCount", json!([sender, "latest"])),
        json!("0x3")
    );
    // A refusal is the call's error (here at intake: a replay of nonce 0).
    let e = n.rpc_error(
        "eth_sendRawTransaction",
        json!([alloy_primitives::Bytes::from(n.payment(0, 9))]),
    );
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("nonce too low")),
        "{e}"
    );
}

#[test]
fn a_blob_transaction_has_its_blob_gas_in_the_receipt() {
    let n = node(&[]);
    let mut call = Call {
        from: n.key.address(),
        to: Some(Address::repeat_byte(0x77)),
        value: U256::from(1u64),
        input: vec![],
        gas_limit: 21_000,
        fee: Fee::dynamic(1_000_000_000_000, 1),
        access_list: Vec::new(),
        blob: None,
    };
    call.fee.kind = mf_format::FeeKind::Blob;
    // Versioned hashes: version byte 0x01 (KZG), as EIP-4844 requires.
    let hashes: Vec<B256> = (1..=2u8)
        .map(|i| {
            let mut h = [i; 32];
            h[0] = 0x01;
            B256::from(h)
        })
        .collect();
    call.blob = Some(mf_format::Blobs {
        max_fee_per_blob_gas: 100,
        versioned_hashes: hashes,
    });
    let raw = n.key.sign_call(&call, CHAIN, 0);
    assert_eq!(raw[0], 3, "a type-3 envelope");
    n.send_and_wait(&raw);
    let r = n.rpc("eth_getTransactionReceipt", json!([keccak256(&raw)]));
    assert_eq!(r["type"], "0x3", "{r}");
    assert_eq!(r["status"], "0x1", "{r}");
    // Two blobs of 2^17 blob gas at the chain's blob base fee (excess blob gas 0: 1 wei).
    assert_eq!(r["blobGasUsed"], "0x40000", "{r}");
    assert_eq!(r["blobGasPrice"], "0x1", "{r}");
    assert_eq!(n.rpc("eth_blobBaseFee", json!([])), json!("0x1"));
    // A type-2 receipt has neither.
    let raw2 = n.payment(1, 1);
    n.send_and_wait(&raw2);
    let r2 = n.rpc("eth_getTransactionReceipt", json!([keccak256(&raw2)]));
    assert!(r2.get("blobGasUsed").is_none(), "{r2}");
}
