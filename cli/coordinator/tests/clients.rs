//! A standard Ethereum client library, used as it is, against a live coordinator: viem (npm)
//! reads chain id, height, balances, nonces, code, storage, a contract view through
//! `eth_call`, a gas estimate, and decodes a revert reason. Its answers must equal what the
//! coordinator's state holds.
//!
//! Needs Node.js and the pinned viem in `coordinator/tests/clients` (`.ci/run` installs it:
//! `npm ci --prefix coordinator/tests/clients`).

use crate::util::*;
use mf_devkit::devnet::{CHAIN_ID, DevnetWorld, Op, build_intent};
use mf_devkit::units;
use mf_movegen::remote::RemoteView;
use mf_movegen::rpc::IntentState;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

#[test]
fn viem_reads_the_coordinator() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients");
    assert!(
        dir.join("node_modules/viem").exists(),
        "viem is not installed: run ./test.sh (or `npm ci --prefix cli/coordinator/tests/clients`; needs Node.js)"
    );
    let world = DevnetWorld::new(3, 1, 0).expect("world");
    let net = Net::start(world.clone());
    let (_coord, client) = net.coordinator("coordinator", &[]);

    // One accepted payment first, so height, nonce and balances have moved.
    let alice = &world.wallets[0];
    let view = RemoteView::new(client.clone());
    let ctx = next_block(client.block_number().expect("height"));
    let tx = build_intent(
        &world,
        &view,
        alice,
        Op::PayToken,
        world.merchants[0],
        units(7),
        ctx,
        false,
    )
    .expect("build");
    let id = client.submit(&tx).expect("submit");
    let st = client.wait(&id, Duration::from_secs(30)).expect("wait");
    assert_eq!(st.status, IntentState::Accepted, "{st:?}");

    let (pair, _) = world.pools[0];
    let cfg = json!({
        "chainId": CHAIN_ID,
        "wallet": alice.address(),
        "merchant": world.merchants[0],
        "token": world.pay_token,
        "hub": world.hub,
        "pair": pair,
    });
    let out = Command::new("node")
        .current_dir(&dir)
        .arg("check.mjs")
        .arg(client.url())
        .arg(cfg.to_string())
        .output()
        .expect("run node (is Node.js installed?)");
    assert!(
        out.status.success(),
        "viem failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).expect("viem printed JSON");

    let raw = |m: &str, p: Value| client.call_raw(m, p).expect(m);
    let quantity = |v: Value| {
        let s = v
            .as_str()
            .expect("a quantity")
            .trim_start_matches("0x")
            .to_string();
        alloy_primitives::U256::from_str_radix(&s, 16)
            .expect("hex")
            .to_string()
    };
    assert_eq!(got["chainId"], json!(CHAIN_ID));
    assert_eq!(
        got["blockNumber"].as_str(),
        Some(client.block_number().expect("n").to_string().as_str())
    );
    assert_eq!(
        got["balance"].as_str(),
        Some(quantity(raw("eth_getBalance", json!([alice.address(), "latest"]))).as_str())
    );
    assert_eq!(got["nonce"], json!(1));
    let code = raw("eth_getCode", json!([world.pay_token, "latest"]));
    assert_eq!(
        got["codeBytes"].as_u64(),
        Some((code.as_str().expect("hex").len() as u64 - 2) / 2)
    );
    assert!(got["codeBytes"].as_u64() > Some(100));
    assert!(
        got["noCode"].is_null() || got["noCode"] == "0x",
        "{}",
        got["noCode"]
    );
    assert_eq!(
        got["reserve"],
        raw("eth_getStorageAt", json!([pair, "0x2", "latest"]))
    );
    assert_eq!(
        got["tokenBalance"].as_str(),
        Some((units(1_000_000) - units(7)).to_string().as_str()),
        "balanceOf through eth_call"
    );
    assert_eq!(got["gas"], "21000");
    assert!(
        got["revert"]
            .as_str()
            .is_some_and(|r| r.contains("insufficient output")),
        "the revert reason: {}",
        got["revert"]
    );
}
