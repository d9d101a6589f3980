//! The standard Ethereum JSON-RPC surface of the coordinator over real processes: CORS
//! preflights, polled block and pending-transaction filters, and `eth_subscribe` over a
//! WebSocket on the same port as HTTP.

use crate::util::*;
use alloy_primitives::keccak256;
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
    _validator: mf_devkit::process::Proc,
    _coordinator: mf_devkit::process::Proc,
    url: String,
    client: RpcClient,
    key: EthKey,
}

fn node(extra: &[&str]) -> Node {
    let key = EthKey::from_label("standard rpc sender");
    let view = mf_devkit::funded([key.address()], mf_devkit::units(100));
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
        _validator: validator,
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

    /// A signed payment of `wei` with `nonce`: its raw bytes.
    fn payment(&self, nonce: u64, wei: u64) -> Vec<u8> {
        let call = Call {
            from: self.key.address(),
            to: Some(Address::repeat_byte(0x77)),
            value: U256::from(wei),
            input: vec![],
            gas_limit: 21_000,
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
    // A plain call works over the WebSocket too.
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
