//! Ethereum's block, transaction, receipt, log and fee methods (docs/RPC.md) through a real
//! `mf-coordinator serve` following a real `mf-validator serve`: signed Ethereum
//! transactions sent with `eth_sendRawTransaction`, then every field of what the
//! coordinator answers checked against values computed here (the validator's headers, the
//! signed bytes, blooms and gas sums recomputed from the answers' parts).

use crate::util::*;
use alloy_primitives::{Bloom, keccak256};
use mf_api::Client;
use mf_devkit::eth::EthKey;
use mf_devkit::process::{Proc, start_coordinator, start_validator, wait_ready};
use mf_format::{Address, B256, Call, Fee, U256};
use mf_movegen::TxBuilder;
use mf_movegen::genesis::Genesis;
use mf_movegen::remote::RpcClient;
use mf_movegen::rpc::IntentState;
use serde_json::{Value as Json, json};
use std::time::{Duration, Instant};

const CHAIN: u64 = 1337;
const BASE_FEE: u64 = 7;
pub(crate) const TOPIC0: B256 = B256::repeat_byte(0x70);

pub(crate) fn logger() -> Address {
    Address::repeat_byte(0x10)
}

fn beneficiary() -> Address {
    Address::repeat_byte(0xbe)
}

/// `CALLDATACOPY(0, 0, CALLDATASIZE); LOG2(0, CALLDATASIZE, TOPIC0, CALLER)`.
pub(crate) fn logger_code() -> Vec<u8> {
    let mut c = vec![0x36, 0x60, 0x00, 0x60, 0x00, 0x37, 0x33, 0x7f];
    c.extend_from_slice(TOPIC0.as_slice());
    c.extend_from_slice(&[0x36, 0x60, 0x00, 0xa2, 0x00]);
    c
}

fn hex(n: u64) -> String {
    format!("{n:#x}")
}

fn q(v: &Json) -> u64 {
    let s = v.as_str().unwrap_or_else(|| panic!("a quantity, got {v}"));
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex quantity")
}

fn b256(v: &Json) -> B256 {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("a hash, got {v}: {e}"))
}

fn call(c: &RpcClient, method: &str, params: Json) -> Json {
    c.call_raw(method, params)
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

/// The error object of a call that must fail.
fn call_err(url: &str, method: &str, params: Json) -> Json {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let (status, text) = post_raw(url, &body.to_string());
    assert_eq!(status, 200, "{text}");
    let v: Json = serde_json::from_str(&text).expect("json");
    v.get("error")
        .cloned()
        .unwrap_or_else(|| panic!("{method} must fail: {v}"))
}

fn wait_receipt(c: &RpcClient, hash: B256) -> Json {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = call(c, "eth_getTransactionReceipt", json!([hash]));
        if !r.is_null() {
            return r;
        }
        assert!(Instant::now() < deadline, "no receipt for {hash}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The bloom of an answer's logs, recomputed here.
fn bloom_of(logs: &[Json]) -> Bloom {
    let mut b = Bloom::ZERO;
    for l in logs {
        let addr: Address = serde_json::from_value(l["address"].clone()).expect("address");
        let topics: Vec<B256> = serde_json::from_value(l["topics"].clone()).expect("topics");
        b.accrue_raw_log(addr, &topics);
    }
    b
}

fn restart_validator(dir: &std::path::Path, vurl: &str, old: &mut Proc) -> Proc {
    old.stop(Duration::from_secs(10));
    let (p, _) = Proc::start(
        "mf-validator",
        &validator_bin(),
        &[
            "serve".into(),
            "--data".into(),
            dir.join("validator").display().to_string(),
            "--listen".into(),
            vurl.trim_start_matches("http://").to_string(),
        ],
        &dir.join("validator-2.log"),
    )
    .expect("restart the validator");
    p
}

#[test]
fn blocks_transactions_receipts_and_logs() {
    let key = EthKey::from_label("eth blocks sender");
    let native = mf_format::Keypair::from_label("eth blocks native sender");
    let mut view = mf_devkit::funded([key.address(), native.address()], mf_devkit::units(100));
    view.deploy(logger(), logger_code(), U256::ZERO, []);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut genesis = Genesis::from_view(CHAIN, &view);
    genesis.rules.base_fee = BASE_FEE;
    genesis.rules.beneficiary = beneficiary();
    genesis.rules.prevrandao = B256::repeat_byte(0x5a);
    let (mut validator, vurl) =
        start_validator(&validator_bin(), dir.path(), &genesis).expect("validator");
    let (mut coordinator, curl) =
        start_coordinator(&coordinator_bin(), dir.path(), "coordinator", &vurl, &[])
            .expect("coordinator");
    let c = RpcClient::new(&curl);
    wait_ready(&c, Duration::from_secs(30)).expect("coordinator ready");
    let v = Client::new(&vurl);

    // ----- the genesis block -----
    let g = call(&c, "eth_getBlockByNumber", json!(["earliest", false]));
    let h0 = v.header(0).expect("header 0").expect("header 0 exists");
    assert_eq!(q(&g["number"]), 0);
    assert_eq!(b256(&g["hash"]), h0.hash);
    assert_eq!(b256(&g["parentHash"]), B256::ZERO);
    assert_eq!(b256(&g["stateRoot"]), h0.state_hash);
    assert_eq!(g["transactions"], json!([]));
    assert_eq!(q(&g["gasUsed"]), 0);
    assert_eq!(call(&c, "eth_getBlockByHash", json!([h0.hash, false])), g);
    assert_eq!(
        call(&c, "eth_getBlockTransactionCountByNumber", json!(["0x0"])),
        json!("0x0")
    );
    assert_eq!(
        call(&c, "eth_getBlockByNumber", json!(["0xffffff", false])),
        Json::Null
    );
    assert_eq!(
        call(
            &c,
            "eth_getBlockByHash",
            json!([B256::repeat_byte(1), true])
        ),
        Json::Null
    );

    // ----- an Ethereum-signed call that logs, by eth_sendRawTransaction -----
    let sign = |nonce: u64, to: Option<Address>, input: Vec<u8>, fee: Fee| {
        let call = Call {
            from: key.address(),
            to,
            value: U256::from(if to == Some(logger()) { 0 } else { 5 }),
            input,
            gas_limit: 100_000,
            fee,
            access_list: Vec::new(),
            blob: None,
        };
        key.sign_call(&call, CHAIN, nonce)
    };
    let data = b"manaflow logs".to_vec();
    let fee_a = Fee::dynamic(1_000, 3);
    let raw_a = sign(0, Some(logger()), data.clone(), fee_a);
    let hash_a = keccak256(&raw_a);
    let sent = call(
        &c,
        "eth_sendRawTransaction",
        json!([alloy_primitives::Bytes::from(raw_a.clone())]),
    );
    assert_eq!(
        b256(&sent),
        hash_a,
        "eth_sendRawTransaction answers the Ethereum hash"
    );
    let ra = wait_receipt(&c, hash_a);

    // A legacy transfer (type 0) in a later or the same block.
    let raw_b = sign(
        1,
        Some(Address::repeat_byte(0x99)),
        Vec::new(),
        Fee::legacy(20),
    );
    let hash_b = keccak256(&raw_b);
    let sent = call(
        &c,
        "eth_sendRawTransaction",
        json!([alloy_primitives::Bytes::from(raw_b.clone())]),
    );
    assert_eq!(b256(&sent), hash_b);
    let rb = wait_receipt(&c, hash_b);

    // ----- the receipt of A -----
    assert_eq!(ra["status"], json!("0x1"));
    assert_eq!(ra["type"], json!("0x2"));
    assert_eq!(b256(&ra["transactionHash"]), hash_a);
    let from: Address = serde_json::from_value(ra["from"].clone()).expect("from");
    assert_eq!(from, key.address());
    assert_eq!(ra["to"], json!(logger()));
    assert_eq!(ra["contractAddress"], Json::Null);
    // min(max fee, base fee + tip)
    assert_eq!(q(&ra["effectiveGasPrice"]), 1_000.min(BASE_FEE + 3));
    let logs = ra["logs"].as_array().expect("logs").clone();
    assert_eq!(logs.len(), 1, "{ra}");
    let log = &logs[0];
    assert_eq!(log["address"], json!(logger()));
    let mut sender_topic = [0u8; 32];
    sender_topic[12..].copy_from_slice(key.address().as_slice());
    let sender_topic = B256::from(sender_topic);
    assert_eq!(log["topics"], json!([TOPIC0, sender_topic]));
    assert_eq!(
        log["data"],
        json!(alloy_primitives::Bytes::from(data.clone()))
    );
    assert_eq!(log["removed"], json!(false));
    assert_eq!(log["transactionHash"], ra["transactionHash"]);
    assert_eq!(log["blockHash"], ra["blockHash"]);
    assert_eq!(log["blockNumber"], ra["blockNumber"]);
    assert_eq!(log["transactionIndex"], ra["transactionIndex"]);
    let bloom: Bloom = serde_json::from_value(ra["logsBloom"].clone()).expect("bloom");
    assert_eq!(bloom, bloom_of(&logs));
    assert_ne!(bloom, Bloom::ZERO);

    // ----- its block -----
    let height = q(&ra["blockNumber"]);
    let index = q(&ra["transactionIndex"]) as usize;
    let block = call(&c, "eth_getBlockByNumber", json!([hex(height), false]));
    let header = v.header(height).expect("header").expect("header exists");
    let block_hash = b256(&block["hash"]);
    assert_eq!(block_hash, header.hash);
    assert_eq!(block_hash, b256(&ra["blockHash"]));
    assert_eq!(
        block_hash,
        mf_format::header_hash(&mf_format::Header {
            height,
            parent: header.parent,
            tx_root: header.tx_root,
            receipts_root: header.receipts_root,
            state_hash: header.state_hash,
            time_ms: header.time_ms,
        })
    );
    assert_eq!(q(&block["number"]), height);
    assert_eq!(b256(&block["parentHash"]), header.parent);
    let parent = call(&c, "eth_getBlockByNumber", json!([hex(height - 1), false]));
    assert_eq!(b256(&parent["hash"]), header.parent);
    assert_eq!(b256(&block["stateRoot"]), header.state_hash);
    assert_eq!(b256(&block["transactionsRoot"]), header.tx_root);
    assert_eq!(b256(&block["receiptsRoot"]), header.receipts_root);
    assert_eq!(q(&block["timestamp"]), header.time_ms / 1000);
    assert_eq!(block["miner"], json!(beneficiary()));
    assert_eq!(q(&block["baseFeePerGas"]), BASE_FEE);
    assert_eq!(b256(&block["mixHash"]), B256::repeat_byte(0x5a));
    assert_eq!(q(&block["difficulty"]), 0);
    assert_eq!(block["nonce"], json!("0x0000000000000000"));
    assert_eq!(block["uncles"], json!([]));
    // keccak-256 of the RLP of an empty list.
    assert_eq!(b256(&block["sha3Uncles"]), keccak256([0xc0]));
    let txs = block["transactions"].as_array().expect("hashes").clone();
    assert_eq!(b256(&txs[index]), hash_a);
    assert_eq!(
        call(
            &c,
            "eth_getBlockTransactionCountByHash",
            json!([block_hash])
        ),
        json!(hex(txs.len() as u64))
    );
    // The block's receipts: one per transaction, in order; cumulative gas, log indices
    // and the block's bloom and gas used recomputed from them.
    let receipts = call(&c, "eth_getBlockReceipts", json!([hex(height)]));
    let receipts = receipts.as_array().expect("receipts").clone();
    assert_eq!(receipts.len(), txs.len());
    let mut cumulative = 0;
    let mut block_bloom = Bloom::ZERO;
    let mut log_index = 0;
    for (i, r) in receipts.iter().enumerate() {
        assert_eq!(r["transactionHash"], txs[i]);
        assert_eq!(q(&r["transactionIndex"]), i as u64);
        cumulative += q(&r["gasUsed"]);
        assert_eq!(q(&r["cumulativeGasUsed"]), cumulative);
        let logs = r["logs"].as_array().expect("logs");
        block_bloom.accrue_bloom(&bloom_of(logs));
        for l in logs {
            assert_eq!(q(&l["logIndex"]), log_index);
            log_index += 1;
        }
    }
    assert_eq!(receipts[index], ra);
    assert_eq!(q(&block["gasUsed"]), cumulative);
    let bb: Bloom = serde_json::from_value(block["logsBloom"].clone()).expect("bloom");
    assert_eq!(bb, block_bloom);
    assert!(q(&block["gasLimit"]) >= cumulative);
    assert_eq!(
        call(&c, "eth_getBlockReceipts", json!([block_hash])),
        json!(receipts)
    );

    // ----- the transaction, by hash, by block and index, in the full block -----
    let ta = call(&c, "eth_getTransactionByHash", json!([hash_a]));
    assert_eq!(b256(&ta["hash"]), hash_a);
    assert_eq!(ta["from"], ra["from"]);
    assert_eq!(ta["to"], json!(logger()));
    assert_eq!(ta["type"], json!("0x2"));
    assert_eq!(q(&ta["nonce"]), 0);
    assert_eq!(q(&ta["gas"]), 100_000);
    assert_eq!(q(&ta["maxFeePerGas"]), 1_000);
    assert_eq!(q(&ta["maxPriorityFeePerGas"]), 3);
    assert_eq!(q(&ta["chainId"]), CHAIN);
    assert_eq!(
        ta["input"],
        json!(alloy_primitives::Bytes::from(data.clone()))
    );
    assert_eq!(ta["blockHash"], ra["blockHash"]);
    assert_eq!(ta["blockNumber"], ra["blockNumber"]);
    assert_eq!(ta["transactionIndex"], ra["transactionIndex"]);
    assert_ne!(ta["r"], json!("0x0"), "the signature is the signed one");
    assert_eq!(
        call(
            &c,
            "eth_getTransactionByBlockNumberAndIndex",
            json!([hex(height), hex(index as u64)])
        ),
        ta
    );
    assert_eq!(
        call(
            &c,
            "eth_getTransactionByBlockHashAndIndex",
            json!([block_hash, hex(index as u64)])
        ),
        ta
    );
    assert_eq!(
        call(
            &c,
            "eth_getTransactionByBlockNumberAndIndex",
            json!([hex(height), hex(txs.len() as u64)])
        ),
        Json::Null
    );
    let full = call(&c, "eth_getBlockByHash", json!([block_hash, true]));
    assert_eq!(full["transactions"][index], ta);
    assert_eq!(full["hash"], block["hash"]);

    // ----- B: legacy -----
    assert_eq!(rb["type"], json!("0x0"));
    assert_eq!(rb["status"], json!("0x1"));
    assert_eq!(q(&rb["effectiveGasPrice"]), 20);
    assert_eq!(q(&rb["gasUsed"]), 21_000);
    assert_eq!(rb["logs"], json!([]));
    let bloom_b: Bloom = serde_json::from_value(rb["logsBloom"].clone()).expect("bloom");
    assert_eq!(bloom_b, Bloom::ZERO);
    let tb = call(&c, "eth_getTransactionByHash", json!([hash_b]));
    assert_eq!(tb["type"], json!("0x0"));
    assert_eq!(q(&tb["gasPrice"]), 20);
    assert_eq!(q(&tb["value"]), 5);

    // ----- a native (ed25519) transaction: synthesised, with a zero signature -----
    let built = TxBuilder::transfer(CHAIN, Address::repeat_byte(0x77), U256::from(9u64))
        .fee(Fee::dynamic(1_000, 2))
        .rules(genesis.rules.clone())
        .context(next_block(c.block_number().expect("height")))
        .build(&view, &native, &[])
        .expect("build a native transfer");
    let id = c.submit(&built.tx).expect("mf_sendIntent");
    let st = c.wait(&id, Duration::from_secs(60)).expect("wait");
    assert_eq!(st.status, IntentState::Accepted, "{st:?}");
    let filled = st.tx_id.expect("the filled id");
    let tn = call(&c, "eth_getTransactionByHash", json!([filled]));
    assert_eq!(b256(&tn["hash"]), filled, "{tn}");
    assert_eq!(
        call(&c, "eth_getTransactionByHash", json!([id])),
        tn,
        "found by its intent id too"
    );
    let addr = |v: &Json| -> Address { serde_json::from_value(v.clone()).expect("an address") };
    assert_eq!(addr(&tn["from"]), native.address());
    assert_eq!(addr(&tn["to"]), Address::repeat_byte(0x77));
    assert_eq!(q(&tn["value"]), 9);
    assert_eq!(tn["type"], json!("0x2"));
    assert_eq!(q(&tn["nonce"]), 0);
    assert_eq!(q(&tn["maxFeePerGas"]), 1_000);
    assert_eq!(q(&tn["maxPriorityFeePerGas"]), 2);
    assert_eq!(q(&tn["gasPrice"]), BASE_FEE + 2, "the effective price");
    assert_eq!((&tn["r"], &tn["s"]), (&json!("0x0"), &json!("0x0")));
    assert_eq!(
        q(&tn["blockNumber"]),
        st.height.expect("height").to::<u64>()
    );
    let rn = call(&c, "eth_getTransactionReceipt", json!([id]));
    assert_eq!(b256(&rn["transactionHash"]), filled);
    assert_eq!(rn["status"], json!("0x1"));
    assert_eq!(rn["type"], json!("0x2"));
    assert_eq!(q(&rn["gasUsed"]), 21_000);
    assert_eq!(q(&rn["effectiveGasPrice"]), BASE_FEE + 2);
    assert_eq!(rn, call(&c, "eth_getTransactionReceipt", json!([filled])));

    // ----- unknown hashes -----
    let unknown = B256::repeat_byte(0xee);
    assert_eq!(
        call(&c, "eth_getTransactionByHash", json!([unknown])),
        Json::Null
    );
    assert_eq!(
        call(&c, "eth_getTransactionReceipt", json!([unknown])),
        Json::Null
    );

    // ----- a replay is refused in geth's words -----
    let e = call_err(
        &curl,
        "eth_sendRawTransaction",
        json!([alloy_primitives::Bytes::from(raw_a.clone())]),
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("nonce too low"),
        "{e}"
    );

    // ----- a high-s signature (EIP-2) is refused in geth's words -----
    let twin = mf_devkit::eth::high_s_twin(&sign(99, Some(logger()), data.clone(), fee_a))
        .expect("an EIP-1559 envelope");
    let e = call_err(
        &curl,
        "eth_sendRawTransaction",
        json!([alloy_primitives::Bytes::from(twin)]),
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("invalid transaction v, r, s values"),
        "{e}"
    );
    assert_eq!(e["data"]["reason"], json!("eth_high_s"), "{e}");

    // ----- eth_getLogs -----
    let logs_of = |filter: Json| -> Vec<Json> {
        call(&c, "eth_getLogs", json!([filter]))
            .as_array()
            .expect("logs")
            .clone()
    };
    let other = B256::repeat_byte(0x01);
    let all = json!({"fromBlock": "earliest", "toBlock": "latest"});
    let with = |extra: Json| {
        let mut f = all.clone();
        for (k, x) in extra.as_object().expect("object") {
            f[k] = x.clone();
        }
        f
    };
    assert_eq!(
        logs_of(with(json!({"address": logger()}))),
        vec![log.clone()]
    );
    assert_eq!(
        logs_of(with(
            json!({"address": [Address::repeat_byte(3), logger()]})
        )),
        vec![log.clone()]
    );
    assert_eq!(
        logs_of(with(json!({"topics": [TOPIC0]}))),
        vec![log.clone()]
    );
    assert_eq!(
        logs_of(with(json!({"topics": [[other, TOPIC0], sender_topic]}))),
        vec![log.clone()]
    );
    assert_eq!(
        logs_of(with(json!({"topics": [null, sender_topic]}))),
        vec![log.clone()]
    );
    assert_eq!(
        logs_of(json!({"blockHash": block_hash, "address": logger()})),
        vec![log.clone()]
    );
    // Not matching: another address, another topic, a topic in the wrong position, a
    // fifth position, another block.
    assert!(logs_of(with(json!({"address": Address::repeat_byte(3)}))).is_empty());
    assert!(logs_of(with(json!({"topics": [other]}))).is_empty());
    assert!(logs_of(with(json!({"topics": [sender_topic]}))).is_empty());
    assert!(logs_of(with(json!({"topics": [null, null, TOPIC0]}))).is_empty());
    assert!(logs_of(json!({"blockHash": h0.hash})).is_empty());
    assert!(logs_of(json!({"fromBlock": hex(height + 1), "toBlock": hex(height + 5)})).is_empty());
    // The bounds.
    let e = call_err(
        &curl,
        "eth_getLogs",
        json!([{"fromBlock": "0x0", "toBlock": hex(10_000)}]),
    );
    assert_eq!(e["code"], json!(-32005), "{e}");
    assert_eq!(e["data"]["limit"], json!("max_log_blocks"), "{e}");
    let many: Vec<Address> = (0..1025u32)
        .map(|i| Address::left_padding_from(&i.to_be_bytes()))
        .collect();
    let e = call_err(&curl, "eth_getLogs", json!([{"address": many}]));
    assert_eq!(e["code"], json!(-32005), "{e}");
    assert_eq!(e["data"]["limit"], json!("max_filter_values"), "{e}");
    let e = call_err(
        &curl,
        "eth_getLogs",
        json!([{"fromBlock": "0x5", "toBlock": "0x4"}]),
    );
    assert_eq!(e["code"], json!(-32602), "{e}");

    // ----- fees -----
    let hist = call(
        &c,
        "eth_feeHistory",
        json!([hex(1), hex(height), [0.0, 50.0, 100.0]]),
    );
    assert_eq!(q(&hist["oldestBlock"]), height);
    assert_eq!(hist["baseFeePerGas"], json!([hex(BASE_FEE), hex(BASE_FEE)]));
    let ratio = hist["gasUsedRatio"][0].as_f64().expect("ratio");
    let expected = cumulative as f64 / q(&block["gasLimit"]) as f64;
    assert!((ratio - expected).abs() < 1e-12, "{ratio} vs {expected}");
    let rewards = hist["reward"][0].as_array().expect("rewards");
    assert_eq!(rewards.len(), 3);
    // Percentile 0 is the smallest tip paid in the block, 100 the largest (the fee credit,
    // from the system sender, pays none and is left out).
    let tips: Vec<u64> = receipts
        .iter()
        .filter(|r| r["from"] != json!(mf_format::SYSTEM_SENDER))
        .map(|r| q(&r["effectiveGasPrice"]) - BASE_FEE)
        .collect();
    let min = tips.iter().min().copied().expect("a tip");
    let max = tips.iter().max().copied().expect("a tip");
    assert_eq!(q(&rewards[0]), min, "{hist}");
    assert_eq!(q(&rewards[2]), max, "{hist}");
    let hist = call(&c, "eth_feeHistory", json!(["0x400", "latest", []]));
    let n = hist["gasUsedRatio"].as_array().expect("ratios").len();
    assert_eq!(hist["baseFeePerGas"].as_array().expect("fees").len(), n + 1);
    let e = call_err(&curl, "eth_feeHistory", json!(["0x401", "latest"]));
    assert_eq!(e["code"], json!(-32005), "{e}");
    let tip = q(&call(&c, "eth_maxPriorityFeePerGas", json!([])));
    assert!(tip <= 20, "a tip paid recently: {tip}");
    assert_eq!(q(&call(&c, "eth_gasPrice", json!([]))), BASE_FEE + tip);
    assert_eq!(call(&c, "eth_blobBaseFee", json!([])), json!("0x1"));

    // ----- a pending transaction: the validator is down, so it cannot be included -----
    let raw_c = sign(2, None, vec![0x00], Fee::dynamic(1_000, 0));
    let hash_c = keccak256(&raw_c);
    validator.stop(Duration::from_secs(10));
    let sent = call(
        &c,
        "eth_sendRawTransaction",
        json!([alloy_primitives::Bytes::from(raw_c.clone())]),
    );
    assert_eq!(b256(&sent), hash_c);
    let tc = call(&c, "eth_getTransactionByHash", json!([hash_c]));
    assert_eq!(b256(&tc["hash"]), hash_c, "{tc}");
    assert_eq!(tc["blockHash"], Json::Null);
    assert_eq!(tc["blockNumber"], Json::Null);
    assert_eq!(tc["transactionIndex"], Json::Null);
    assert_eq!(tc["to"], Json::Null);
    assert_eq!(q(&tc["nonce"]), 2);
    assert_eq!(
        call(&c, "eth_getTransactionReceipt", json!([hash_c])),
        Json::Null
    );
    let mut validator = restart_validator(dir.path(), &vurl, &mut validator);
    let rc = wait_receipt(&c, hash_c);
    assert_eq!(rc["contractAddress"], json!(key.address().create(2)));
    assert_eq!(rc["to"], Json::Null);
    let tc = call(&c, "eth_getTransactionByHash", json!([hash_c]));
    assert_eq!(tc["blockHash"], rc["blockHash"]);

    // ----- a restarted coordinator serves the same blocks from its store -----
    let before = call(&c, "eth_getBlockByNumber", json!([hex(height), true]));
    let receipt_c = call(&c, "eth_getTransactionReceipt", json!([hash_c]));
    coordinator.stop(Duration::from_secs(10));
    let (_coordinator, curl) =
        start_coordinator(&coordinator_bin(), dir.path(), "coordinator", &vurl, &[])
            .expect("restart the coordinator");
    let c = RpcClient::new(&curl);
    wait_ready(&c, Duration::from_secs(30)).expect("coordinator ready");
    assert_eq!(
        call(&c, "eth_getBlockByNumber", json!([hex(height), true])),
        before
    );
    assert_eq!(
        call(&c, "eth_getTransactionReceipt", json!([hash_c])),
        receipt_c
    );
    validator.stop(Duration::from_secs(10));
}
