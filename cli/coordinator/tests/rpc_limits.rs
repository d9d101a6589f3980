//! The work of one JSON-RPC request is bounded (the hardening rows H61–H63 of
//! `docs/ADVERSARIAL.md`): EVM execution stops when the request's time budget runs out, a
//! batch over the size or estimated-work cap is refused before anything runs, and a call
//! over the gas cap is refused. H56: the coordinator's HTTP server cuts slow bodies and caps
//! connections per IP as the validator's does.

use crate::util::*;
use alloy_primitives::Address;
use mf_devkit::devnet::DevnetWorld;
use mf_movegen::rpc::codes;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// `JUMPDEST PUSH1 0 JUMP`: loops until the gas is gone.
const LOOP_CODE: &[u8] = &[0x5b, 0x60, 0x00, 0x56];

fn looper() -> Address {
    Address::from([0x1f; 20])
}

/// A devnet world with the endless loop deployed, a validator, and a coordinator with
/// `extra` arguments.
fn start(extra: &[&str]) -> (Net, mf_devkit::process::Proc, String) {
    let mut world = DevnetWorld::new(2, 1, 0).expect("world");
    world.view.deploy(
        looper(),
        LOOP_CODE.to_vec(),
        alloy_primitives::U256::ZERO,
        [],
    );
    let net = Net::start(world);
    let (coord, client) = net.coordinator("coordinator", extra);
    let url = client.url().to_string();
    (net, coord, url)
}

fn rpc(url: &str, body: &Value) -> Value {
    let (status, text) = post_raw(url, &body.to_string());
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).expect("JSON")
}

fn request(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// H61: `eth_estimateGas` (and `eth_call`) of an endless loop with 30M gas is interrupted
/// when the request's time budget runs out, with a clear error; in a batch the budget is
/// shared, so a second loop is not run at all, and calls that execute nothing still are.
#[test]
fn h61_endless_loop_estimate_returns_within_the_time_budget() {
    let (net, _coord, url) = start(&["--rpc-time-budget-ms", "200"]);
    let from = net.world.wallets[0].address();
    let loop_call = json!({"from": from, "to": looper()});
    for method in ["eth_estimateGas", "eth_call"] {
        let t = Instant::now();
        let v = rpc(&url, &request(1, method, json!([loop_call])));
        let took = t.elapsed();
        let e = &v["error"];
        assert_eq!(e["code"], codes::SERVER_ERROR, "{method}: {v}");
        let msg = e["message"].as_str().expect("message");
        assert!(
            msg.starts_with("execution aborted (timeout = 200 ms)")
                && msg.contains("--rpc-time-budget-ms"),
            "{method}: {msg}"
        );
        assert_eq!(e["data"]["limit"], "rpc_time_budget", "{v}");
        assert_eq!(e["data"]["budgetMs"], 200, "{v}");
        assert!(took < Duration::from_secs(30), "{method} took {took:?}");
        eprintln!("{method} of an endless loop answered after {took:?}");
    }
    // A batch: the first loop spends the budget, the second is not run, eth_chainId is
    // answered.
    let batch = json!([
        request(1, "eth_call", json!([loop_call])),
        request(2, "eth_estimateGas", json!([loop_call])),
        request(3, "eth_chainId", json!([])),
    ]);
    let v = rpc(&url, &batch);
    let answers = v.as_array().expect("an array");
    assert_eq!(answers.len(), 3, "{v}");
    for a in &answers[..2] {
        assert_eq!(a["error"]["data"]["limit"], "rpc_time_budget", "{a}");
    }
    assert!(answers[2]["result"].is_string(), "{v}");
    // A plain transfer's estimate is untouched by the budget.
    let to = net.world.merchants[0];
    let v = rpc(
        &url,
        &request(
            4,
            "eth_estimateGas",
            json!([{"from": from, "to": to, "value": "0x1"}]),
        ),
    );
    assert_eq!(v["result"], "0x5208", "{v}");
}

/// H62: a batch of more than 100 requests, or whose estimated EVM work is over
/// `--rpc-batch-gas`, is refused as a whole before anything runs.
#[test]
fn h62_a_batch_over_the_caps_is_refused() {
    let (net, _coord, url) = start(&[]);
    let from = net.world.wallets[0].address();
    let big: Vec<Value> = (0..101)
        .map(|i| request(i, "eth_chainId", json!([])))
        .collect();
    let v = rpc(&url, &Value::Array(big));
    assert_eq!(v["error"]["code"], codes::INVALID_REQUEST, "{v}");
    assert_eq!(v["id"], Value::Null);
    let msg = v["error"]["message"].as_str().expect("message");
    assert!(msg.contains("1 to 100") && msg.contains("101"), "{msg}");
    assert_eq!(v["error"]["data"]["limit"], "batch_size");
    // 100 are answered.
    let ok: Vec<Value> = (0..100)
        .map(|i| request(i, "eth_chainId", json!([])))
        .collect();
    assert_eq!(
        rpc(&url, &Value::Array(ok)).as_array().map(Vec::len),
        Some(100)
    );
    // Four estimates at the gas cap: 4 x 27 runs x 30M gas, over the 3G default.
    let loop_call = json!({"from": from, "to": looper()});
    let heavy: Vec<Value> = (0..4)
        .map(|i| request(i, "eth_estimateGas", json!([loop_call])))
        .collect();
    let t = Instant::now();
    let v = rpc(&url, &Value::Array(heavy));
    assert_eq!(v["error"]["code"], codes::INVALID_REQUEST, "{v}");
    assert_eq!(v["error"]["data"]["limit"], "batch_gas", "{v}");
    assert_eq!(v["error"]["data"]["estimated"], 3_240_000_000u64, "{v}");
    let msg = v["error"]["message"].as_str().expect("message");
    assert!(msg.contains("--rpc-batch-gas"), "{msg}");
    eprintln!("the heavy batch was refused after {:?}", t.elapsed());
    // The same estimates with a small gas each fit.
    let light: Vec<Value> = (0..4)
        .map(|i| {
            request(
                i,
                "eth_estimateGas",
                json!([{"from": from, "to": net.world.merchants[0], "gas": "0x5208"}]),
            )
        })
        .collect();
    let v = rpc(&url, &Value::Array(light));
    assert!(
        v.as_array()
            .is_some_and(|a| a.iter().all(|x| x["result"] == "0x5208")),
        "{v}"
    );
}

/// H63: a call whose gas is over the gas cap is refused with a clear error (it used to be
/// clamped); a call without gas runs with the cap.
#[test]
fn h63_a_call_over_the_gas_cap_is_refused() {
    let (net, _coord, url) = start(&[]);
    let from = net.world.wallets[0].address();
    let to = net.world.merchants[0];
    for method in ["eth_call", "eth_estimateGas"] {
        // geth's default cap: over ours (the protocol's 30,000,000).
        let v = rpc(
            &url,
            &request(
                1,
                method,
                json!([{"from": from, "to": to, "gas": "0x2faf080"}]),
            ),
        );
        assert_eq!(v["error"]["code"], codes::INVALID_PARAMS, "{method}: {v}");
        let msg = v["error"]["message"].as_str().expect("message");
        assert!(
            msg.contains("50000000") && msg.contains("gas cap of 30000000"),
            "{msg}"
        );
        assert_eq!(v["error"]["data"]["limit"], "rpc_gas_cap");
        assert_eq!(v["error"]["data"]["cap"], 30_000_000);
        let v = rpc(
            &url,
            &request(
                2,
                method,
                json!([{"from": from, "to": to, "gas": "0x1c9c380"}]),
            ),
        );
        assert!(v["result"].is_string(), "{method} at the cap: {v}");
    }
    drop(net);

    // A lower cap: a call without gas gets the cap; the endless loop runs out of it (an
    // ordinary out-of-gas failure, not the budget).
    let (net, _coord, url) = start(&["--rpc-gas-cap", "100000"]);
    let from = net.world.wallets[0].address();
    let v = rpc(
        &url,
        &request(1, "eth_call", json!([{"from": from, "to": looper()}])),
    );
    assert_eq!(v["error"]["code"], codes::SERVER_ERROR, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("OutOfGas")),
        "{v}"
    );
    let v = rpc(
        &url,
        &request(
            2,
            "eth_call",
            json!([{"from": from, "to": looper(), "gas": "0x186a1"}]),
        ),
    );
    assert_eq!(v["error"]["code"], codes::INVALID_PARAMS, "{v}");
}

/// H56: the coordinator's HTTP server, like the validator's, answers a body that trickles
/// below the minimum rate with `408` and closes it, and refuses connections past the
/// per-IP cap with `503 too_many_connections`.
#[test]
fn h56_coordinator_cuts_slow_bodies_and_caps_connections() {
    let (_net, _coord, url) = start(&[
        "--body-timeout",
        "1",
        "--body-min-rate",
        "1000",
        "--max-connections-per-ip",
        "3",
    ]);
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    s.write_all(
        format!("POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 5000\r\n\r\n{{\"js").as_bytes(),
    )
    .expect("write");
    let t = Instant::now();
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut status = String::new();
    r.read_line(&mut status).expect("status line");
    assert!(status.starts_with("HTTP/1.1 408"), "{status}");
    let mut rest = String::new();
    let _ = r.read_to_string(&mut rest);
    assert!(rest.to_lowercase().contains("connection: close"), "{rest}");
    assert!(rest.contains("too slowly"), "{rest}");
    assert!(t.elapsed() < Duration::from_secs(30));

    drop(r);
    drop(s);

    // Three idle connections take the three places of 127.0.0.1; the next is refused. A
    // connection from before (the slow one, the readiness probe's) may not have been given
    // back yet when an idle one connects, so an idle one the server refused (it answered and
    // closed) is replaced until three are held.
    let mut idle: Vec<TcpStream> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        idle.retain(mf_devkit::process::still_open);
        while idle.len() < 3 {
            idle.push(TcpStream::connect(addr).expect("connect"));
        }
        std::thread::sleep(Duration::from_millis(20));
        if !idle.iter().all(mf_devkit::process::still_open) {
            assert!(
                Instant::now() < deadline,
                "the idle connections are never all admitted"
            );
            continue;
        }
        let (status, body) = post_raw(&url, r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}"#);
        if status == 503 {
            let v: Value = serde_json::from_str(&body).expect("JSON");
            assert_eq!(v["error"], "too_many_connections", "{v}");
            assert!(
                v["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("--max-connections-per-ip 3")),
                "{v}"
            );
            break;
        }
        assert_eq!(status, 200, "{body}");
        assert!(
            Instant::now() < deadline,
            "a fourth connection is never refused"
        );
    }
    drop(idle);
}

/// H64: concurrent requests share `--rpc-max-evm` execution slots. Six endless-loop calls at
/// once against one slot: they run one at a time (the peak the coordinator reports is 1),
/// those that wait past their budget get the budget's error without running, and every one
/// answers within its budget's reach.
#[test]
fn h64_concurrent_evm_executions_are_capped() {
    let (net, _coord, url) = start(&["--rpc-max-evm", "1", "--rpc-time-budget-ms", "300"]);
    let from = net.world.wallets[0].address();
    let t = Instant::now();
    let answers: Vec<Value> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let url = url.clone();
                scope.spawn(move || {
                    rpc(
                        &url,
                        &request(i, "eth_call", json!([{"from": from, "to": looper()}])),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect()
    });
    for v in &answers {
        assert_eq!(v["error"]["code"], codes::SERVER_ERROR, "{v}");
        let m = v["error"]["message"].as_str().unwrap_or_default();
        assert!(m.contains("execution aborted (timeout = 300 ms)"), "{v}");
    }
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "six 300 ms budgets answered in {:?}",
        t.elapsed()
    );
    let metrics = get_text(&format!("{}/metrics", url.trim_end_matches('/')));
    assert_eq!(
        metric(&metrics, "mf_coordinator_rpc_evm_peak"),
        1,
        "{metrics}"
    );
    assert_eq!(metric(&metrics, "mf_coordinator_rpc_evm_running"), 0);
}
