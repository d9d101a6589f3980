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
use std::process::Command;
use std::time::Duration;

#[test]
fn viem_reads_the_coordinator() {
    need_viem();
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
    let got = run_viem("check.mjs", client.url(), &cfg);

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

/// viem sends through the coordinator as through any node: a local account, nonce, fees and
/// gas filled by viem (`eth_getTransactionCount`, `eth_getBlockByNumber`'s base fee,
/// `eth_maxPriorityFeePerGas`, `eth_estimateGas`), `eth_sendRawTransaction`,
/// `waitForTransactionReceipt`; then the block, the transaction, logs and fee history read
/// and parsed by viem agree with the coordinator's answers; a replay is viem's
/// `NonceTooLowError`, an unknown receipt its `TransactionReceiptNotFoundError`.
#[test]
fn viem_sends_and_reads_blocks_receipts_and_logs() {
    use crate::eth_blocks::{TOPIC0, logger, logger_code};
    use mf_devkit::eth::EthKey;
    use mf_devkit::process::{start_coordinator, start_validator, wait_ready};
    use mf_movegen::genesis::Genesis;
    use mf_movegen::remote::RpcClient;
    need_viem();
    const CHAIN: u64 = 1337;
    let secret = [0x42u8; 32];
    let key = EthKey::from_secret(secret).expect("a key");
    let mut view = mf_devkit::funded([key.address()], units(100));
    view.deploy(logger(), logger_code(), alloy_primitives::U256::ZERO, []);
    let mut genesis = Genesis::from_view(CHAIN, &view);
    genesis.rules.base_fee = 7;
    let data_dir = tempfile::tempdir().expect("tempdir");
    let (_validator, vurl) =
        start_validator(&validator_bin(), data_dir.path(), &genesis).expect("validator");
    let (_coordinator, curl) = start_coordinator(
        &coordinator_bin(),
        data_dir.path(),
        "coordinator",
        &vurl,
        &[],
    )
    .expect("coordinator");
    let client = RpcClient::new(&curl);
    wait_ready(&client, Duration::from_secs(30)).expect("coordinator ready");

    let cfg = json!({
        "chainId": CHAIN,
        "key": alloy_primitives::B256::from(secret),
        "logger": logger(),
        "data": "0x6d616e61666c6f77",
    });
    let got = run_viem("wallet.mjs", client.url(), &cfg);
    let raw = |m: &str, p: Value| client.call_raw(m, p).expect(m);
    let dec = |v: &Value| {
        let s = v.as_str().expect("a quantity").trim_start_matches("0x");
        u64::from_str_radix(s, 16).expect("hex").to_string()
    };
    let lower = |v: &Value| v.as_str().expect("a string").to_ascii_lowercase();

    assert_eq!(lower(&got["address"]), format!("{:#x}", key.address()));
    let hash = got["hash"].clone();
    let receipt = raw("eth_getTransactionReceipt", json!([hash]));
    let r = &got["receipt"];
    assert_eq!(r["status"], json!("success"));
    assert_eq!(r["type"], json!("eip1559"));
    assert_eq!(r["transactionHash"], hash);
    assert_eq!(r["blockHash"], receipt["blockHash"]);
    assert_eq!(
        r["blockNumber"].as_str(),
        Some(dec(&receipt["blockNumber"]).as_str())
    );
    assert_eq!(
        r["gasUsed"].as_str(),
        Some(dec(&receipt["gasUsed"]).as_str())
    );
    assert_eq!(
        r["cumulativeGasUsed"].as_str(),
        Some(dec(&receipt["cumulativeGasUsed"]).as_str())
    );
    assert_eq!(
        r["effectiveGasPrice"].as_str(),
        Some(dec(&receipt["effectiveGasPrice"]).as_str())
    );
    assert_eq!(r["logsBloom"], receipt["logsBloom"]);
    assert_eq!(r["logs"].as_array().map(Vec::len), Some(1));
    assert_eq!(lower(&r["to"]), format!("{:#x}", logger()));

    let b = &got["block"];
    assert_eq!(b["hash"], receipt["blockHash"]);
    assert_eq!(got["blockByHash"]["hash"], b["hash"]);
    assert_eq!(b["baseFeePerGas"], json!("7"));
    let txs = b["transactions"].as_array().expect("transactions");
    assert_eq!(got["txCount"].as_u64(), Some(txs.len() as u64));
    assert!(txs.iter().any(|t| t["hash"] == hash), "{b}");
    let block = raw("eth_getBlockByHash", json!([b["hash"], false]));
    assert_eq!(b["parentHash"], block["parentHash"]);
    assert_eq!(b["stateRoot"], block["stateRoot"]);
    assert_eq!(b["gasUsed"].as_str(), Some(dec(&block["gasUsed"]).as_str()));

    let t = &got["tx"];
    assert_eq!(t["hash"], hash);
    assert_eq!(t["blockHash"], receipt["blockHash"]);
    assert_eq!(t["nonce"], json!(0));
    assert_eq!(t["input"], cfg["data"]);
    assert_eq!(t["type"], json!("eip1559"));
    assert_eq!(lower(&t["from"]), format!("{:#x}", key.address()));

    let logs = got["logs"].as_array().expect("logs");
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0]["transactionHash"], hash);
    assert_eq!(logs[0]["topics"][0], json!(TOPIC0));
    assert_eq!(logs[0]["data"], cfg["data"]);
    assert_eq!(logs[0]["logIndex"], r["logs"][0]["logIndex"]);
    assert_eq!(got["otherLogs"], json!([]));

    assert_eq!(
        got["gasPrice"].as_str(),
        Some(dec(&raw("eth_gasPrice", json!([]))).as_str())
    );
    assert!(
        got["fees"]["maxFeePerGas"].as_str().is_some(),
        "{}",
        got["fees"]
    );
    let hist = &got["feeHistory"];
    for f in hist["baseFeePerGas"].as_array().expect("base fees") {
        assert_eq!(f, &json!("7"), "{hist}");
    }
    // Four blocks asked for, as many as there are up to the head.
    let n = hist["gasUsedRatio"].as_array().map_or(0, Vec::len);
    assert_eq!(
        n as u64,
        (dec(&block["number"]).parse::<u64>().expect("n") + 1).min(4)
    );
    assert_eq!(hist["reward"].as_array().map(Vec::len), Some(n), "{hist}");
    assert_eq!(hist["baseFeePerGas"].as_array().map(Vec::len), Some(n + 1));
    assert_eq!(got["unknown"], json!("TransactionReceiptNotFoundError"));
    assert_eq!(got["second"]["status"], json!("success"));
    assert_eq!(got["replay"], json!("NonceTooLowError"));
}

/// Runs the viem script `script` of `tests/clients` against `url` with `cfg`: the JSON it
/// printed.
fn run_viem(script: &str, url: &str, cfg: &Value) -> Value {
    let out = Command::new("node")
        .current_dir(clients_dir())
        .arg(script)
        .arg(url)
        .arg(cfg.to_string())
        .output()
        .expect("run node (is Node.js installed?)");
    assert!(
        out.status.success(),
        "viem failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("viem printed JSON")
}
