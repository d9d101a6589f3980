//! Small blockchain tests written here, with their Ethereum post-state worked out by hand
//! (gas price zero, so no fee moves a balance), one per outcome of the runner.

use mf_ethtest::case::case;
use mf_ethtest::{Feature, Verdict, run_case};
use serde_json::{Value, json};

const SENDER: &str = "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b";
const TARGET: &str = "0x1000000000000000000000000000000000000001";
const ONE_ETH: &str = "0x0de0b6b3a7640000";

fn block(txs: Value) -> Value {
    json!({
        "blockHeader": { "number": "0x01", "timestamp": "0x03e8",
                         "coinbase": "0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba",
                         "baseFeePerGas": "0x00", "gasLimit": "0x01c9c380" },
        "transactions": txs,
        "uncleHeaders": [],
        "withdrawals": []
    })
}

fn tx(to: &str, value: &str, gas: &str) -> Value {
    json!({ "sender": SENDER, "to": to, "value": value, "data": "0x", "gasLimit": gas,
            "gasPrice": "0x00", "nonce": "0x00", "v": "0x1b", "r": "0x01", "s": "0x01" })
}

fn run(pre: Value, blocks: Value, post: Value) -> Verdict {
    let c = json!({ "network": "Cancun", "pre": pre, "blocks": blocks, "postState": post });
    run_case(&case("t", &c).expect("the case reads"))
}

fn pre(target_code: &str) -> Value {
    json!({
        SENDER: { "balance": ONE_ETH, "nonce": "0x00", "code": "0x", "storage": {} },
        TARGET: { "balance": "0x00", "nonce": "0x01", "code": target_code, "storage": {} },
    })
}

#[test]
fn a_value_transfer_matches() {
    let post = json!({
        SENDER: { "balance": "0x0de0b6b3a763fc18", "nonce": "0x01", "code": "0x", "storage": {} },
        TARGET: { "balance": "0x03e8", "nonce": "0x01", "code": "0x", "storage": {} },
    });
    let v = run(
        pre("0x"),
        json!([block(json!([tx(TARGET, "0x03e8", "0x5208")]))]),
        post,
    );
    assert_eq!(
        v,
        Verdict::Matched {
            refused_as_expected: false
        }
    );
}

#[test]
fn an_empty_last_block_changes_nothing() {
    let post = json!({
        SENDER: { "balance": "0x0de0b6b3a763fc18", "nonce": "0x01", "code": "0x", "storage": {} },
        TARGET: { "balance": "0x03e8", "nonce": "0x01", "code": "0x", "storage": {} },
    });
    let mut empty = block(json!([]));
    empty["blockHeader"]["number"] = json!("0x02");
    let blocks = json!([block(json!([tx(TARGET, "0x03e8", "0x5208")])), empty]);
    assert_eq!(
        run(pre("0x"), blocks, post),
        Verdict::Matched {
            refused_as_expected: false
        }
    );
}

#[test]
fn a_wrong_post_state_is_the_first_difference() {
    let post = json!({
        SENDER: { "balance": "0x0de0b6b3a763fc18", "nonce": "0x01", "code": "0x", "storage": {} },
        TARGET: { "balance": "0x03e7", "nonce": "0x01", "code": "0x", "storage": {} },
    });
    let v = run(
        pre("0x"),
        json!([block(json!([tx(TARGET, "0x03e8", "0x5208")]))]),
        post,
    );
    match v {
        Verdict::Differs(d) => assert!(
            d.starts_with(&format!("{TARGET}: balance: Ethereum 0x3e7, here 0x3e8")),
            "{d}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn storage_and_code_are_compared() {
    // CALLVALUE PUSH1 1 SSTORE: stores the value sent at slot 1.
    let code = "0x34600155";
    let post = |word: &str| {
        json!({
            SENDER: { "balance": "0x0de0b6b3a763fc18", "nonce": "0x01", "code": "0x", "storage": {} },
            TARGET: { "balance": "0x03e8", "nonce": "0x01", "code": code,
                      "storage": { "0x01": word } },
        })
    };
    let blocks = json!([block(json!([tx(TARGET, "0x03e8", "0x0186a0")]))]);
    assert!(run(pre(code), blocks.clone(), post("0x03e8")).passed());
    match run(pre(code), blocks.clone(), post("0x03e9")) {
        Verdict::Differs(d) => assert!(
            d.contains("storage[0x1]: Ethereum 0x3e9, here 0x3e8"),
            "{d}"
        ),
        other => panic!("{other:?}"),
    }
    // The same post-state with other code.
    let mut p = post("0x03e8");
    p[TARGET]["code"] = json!("0x34600255");
    match run(pre(code), blocks, p) {
        Verdict::Differs(d) => assert!(d.contains(": code: Ethereum 4 bytes"), "{d}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_invalid_block_must_be_refused_and_change_nothing() {
    // 20,000 gas is below the 21,000 a transaction costs before it runs.
    let mut b = block(json!([tx(TARGET, "0x03e8", "0x4e20")]));
    b["expectException"] = json!("TransactionException.INTRINSIC_GAS_TOO_LOW");
    let unchanged = pre("0x");
    assert_eq!(
        run(pre("0x"), json!([b]), unchanged),
        Verdict::Matched {
            refused_as_expected: true
        }
    );
    // A valid block that the case says Ethereum refuses.
    let mut b = block(json!([tx(TARGET, "0x03e8", "0x5208")]));
    b["expectException"] = json!("TransactionException.INSUFFICIENT_ACCOUNT_FUNDS");
    match run(pre("0x"), json!([b]), pre("0x")) {
        Verdict::AcceptedInvalid {
            block: 0,
            exception,
        } => {
            assert_eq!(exception, "TransactionException.INSUFFICIENT_ACCOUNT_FUNDS")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_reverted_call_is_included_with_its_nonce_bump() {
    // PUSH1 0 PUSH1 0 REVERT: on Ethereum the transaction is included with status 0; only
    // the sender's nonce bump (and its fee, zero here) applies.
    let post = json!({
        SENDER: { "balance": ONE_ETH, "nonce": "0x01", "code": "0x", "storage": {} },
        TARGET: { "balance": "0x00", "nonce": "0x01", "code": "0x60006000fd", "storage": {} },
    });
    let v = run(
        pre("0x60006000fd"),
        json!([block(json!([tx(TARGET, "0x03e8", "0x0186a0")]))]),
        post,
    );
    assert_eq!(
        v,
        Verdict::Matched {
            refused_as_expected: false
        }
    );
}

#[test]
fn a_refusal_is_named() {
    // 40,000,000 gas: valid on Ethereum (under the block's limit), above the protocol's
    // cap of 30,000,000 per transaction (semantics issue, item 3).
    let post = json!({
        SENDER: { "balance": "0x0de0b6b3a763fc18", "nonce": "0x01", "code": "0x", "storage": {} },
        TARGET: { "balance": "0x03e8", "nonce": "0x01", "code": "0x", "storage": {} },
    });
    let v = run(
        pre("0x"),
        json!([block(json!([tx(TARGET, "0x03e8", "0x02625a00")]))]),
        post,
    );
    match v {
        Verdict::Refused { block: 0, refusal } => {
            assert_eq!(refusal.kind, "gas_limit_too_high", "{refusal:?}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn features_are_detected_from_the_case() {
    let transfer = || json!([tx(TARGET, "0x03e8", "0x5208")]);
    let mut b = block(transfer());
    b["withdrawals"] =
        json!([{ "index": "0x0", "validatorIndex": "0x0", "address": TARGET, "amount": "0x1" }]);
    assert_eq!(
        run(pre("0x"), json!([b]), json!({})),
        Verdict::Skipped(Feature::Withdrawals)
    );

    // A block Ethereum refuses for its header's blob gas fields, or for its blobs
    // together: the protocol has neither (named, not a failure).
    for (exception, feature) in [
        (
            "BlockException.INCORRECT_EXCESS_BLOB_GAS",
            Feature::BlobHeaderFields,
        ),
        (
            "BlockException.BLOB_GAS_USED_ABOVE_LIMIT|BlockException.INCORRECT_BLOB_GAS_USED",
            Feature::BlobHeaderFields,
        ),
        (
            "TransactionException.TYPE_3_TX_MAX_BLOB_GAS_ALLOWANCE_EXCEEDED",
            Feature::BlockBlobLimit,
        ),
    ] {
        let mut b = block(transfer());
        b["expectException"] = json!(exception);
        assert_eq!(
            run(pre("0x"), json!([b]), json!({})),
            Verdict::Skipped(feature)
        );
    }

    let c = json!({ "network": "Olympic", "pre": pre("0x"),
                    "blocks": [block(transfer())], "postState": {} });
    assert_eq!(
        run_case(&case("t", &c).expect("reads")),
        Verdict::Skipped(Feature::UnknownFork)
    );

    let c = json!({ "network": "Cancun", "pre": pre("0x"),
                    "blocks": [block(transfer())], "postStateHash": "0x00" });
    assert_eq!(
        run_case(&case("t", &c).expect("reads")),
        Verdict::Skipped(Feature::PostStateHashOnly)
    );

    // A valid empty block followed by more is a batch of the runner's no-op (its filler
    // account is left out of the comparison), so heights keep following block numbers.
    let mut second = block(transfer());
    second["blockHeader"]["number"] = json!("0x02");
    let post = json!({
        SENDER: { "balance": "0x0de0b6b3a763fc18", "nonce": "0x01", "code": "0x", "storage": {} },
        TARGET: { "balance": "0x03e8", "nonce": "0x01", "code": "0x", "storage": {} },
    });
    let v = run(pre("0x"), json!([block(json!([])), second]), post);
    assert!(v.passed(), "{v:?}");

    let mut p = pre("0x");
    p[TARGET] =
        json!({ "balance": "0x00", "nonce": "0x00", "code": "0x", "storage": { "0x01": "0x01" } });
    let v = run(p, json!([block(transfer())]), json!({}));
    assert_eq!(v, Verdict::Skipped(Feature::StorageWithoutCode));
}

#[test]
fn files_that_are_not_tests_fail_without_stopping_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.json"), "{ not json").expect("write");
    let good = json!({ "ok": { "network": "Cancun", "pre": pre("0x"),
        "blocks": [block(json!([tx(TARGET, "0x03e8", "0x5208")]))],
        "postState": {
            SENDER: { "balance": "0x0de0b6b3a763fc18", "nonce": "0x01", "code": "0x", "storage": {} },
            TARGET: { "balance": "0x03e8", "nonce": "0x01", "code": "0x", "storage": {} } } },
        "bad": { "network": "Cancun" } });
    std::fs::write(dir.path().join("b.json"), good.to_string()).expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not a test").expect("write");
    let files = mf_ethtest::test_files(&[dir.path().to_path_buf()]).expect("walk");
    assert_eq!(files.len(), 2, "only .json files: {files:?}");
    let report = mf_ethtest::run_files(&files);
    assert_eq!(
        (report.passed(), report.failed(), report.skipped()),
        (1, 2, 0)
    );
    let text = report.render(10);
    assert!(text.ends_with("1 passed, 2 failed, 0 skipped\n"), "{text}");
    assert!(text.contains("     2  fail: could not run"), "{text}");
}

#[test]
fn the_network_and_the_block_gas_limit_set_the_rules() {
    // TSTORE(0, 1); SSTORE(0, TLOAD(0)): Cancun stores 1; before Cancun TSTORE is an
    // invalid opcode, the call halts and is included as failed (slot 0 stays 0).
    let code = "0x600160005d60005c60005500";
    let post = |word: Option<&str>| {
        let storage = match word {
            Some(w) => json!({ "0x00": w }),
            None => json!({}),
        };
        json!({
            SENDER: { "balance": ONE_ETH, "nonce": "0x01", "code": "0x", "storage": {} },
            TARGET: { "balance": "0x00", "nonce": "0x01", "code": code, "storage": storage },
        })
    };
    let blocks = json!([block(json!([tx(TARGET, "0x00", "0x0186a0")]))]);
    let on = |network: &str, post: Value| {
        let c = json!({ "network": network, "pre": pre(code), "blocks": blocks.clone(),
                        "postState": post });
        run_case(&case("t", &c).expect("the case reads"))
    };
    assert!(on("Cancun", post(Some("0x01"))).passed());
    assert!(on("Shanghai", post(None)).passed());
    assert!(matches!(
        on("Shanghai", post(Some("0x01"))),
        Verdict::Differs(_)
    ));
    // A transition by time: block 1 is at time 1000, before Cancun at 15,000.
    assert!(on("ShanghaiToCancunAtTime15k", post(None)).passed());
    assert_eq!(
        on("FrontierToDaoAt5", post(None)),
        Verdict::Skipped(Feature::UnknownFork)
    );
    assert!(on("Homestead", post(None)).passed());

    // 40,000,000 gas in a block whose gas limit is 100,000,000: within the chain's limit.
    let mut b = block(json!([tx(TARGET, "0x00", "0x02625a00")]));
    b["blockHeader"]["gasLimit"] = json!("0x05f5e100");
    let c = json!({ "network": "Cancun", "pre": pre(code), "blocks": [b],
                    "postState": post(Some("0x01")) });
    assert!(run_case(&case("t", &c).expect("reads")).passed());
}

/// A blob transaction (type 3) runs as Ethereum runs it: the sender pays the blob gas at
/// the blob base fee of the header's `excessBlobGas` (EIP-4844), on top of the value.
#[test]
fn a_blob_transaction_pays_its_blob_gas_at_the_headers_blob_base_fee() {
    use alloy_primitives::U256;
    use mf_format::Fork;
    let excess: u64 = 10_000_000;
    let blob_fee =
        mf_format::rules::blob_base_fee(excess, Fork::Cancun.blob_base_fee_update_fraction());
    assert!(
        blob_fee > 1,
        "the excess is high enough to show: {blob_fee}"
    );
    let blobs = 2u64;
    let mut blob = tx(TARGET, "0x03e8", "0x5208");
    let obj = blob.as_object_mut().expect("object");
    obj.remove("gasPrice");
    obj.insert("type".into(), json!("0x03"));
    obj.insert("chainId".into(), json!("0x01"));
    obj.insert("maxFeePerGas".into(), json!("0x00"));
    obj.insert("maxPriorityFeePerGas".into(), json!("0x00"));
    obj.insert("maxFeePerBlobGas".into(), json!(format!("{:#x}", blob_fee)));
    obj.insert("accessList".into(), json!([]));
    obj.insert(
        "blobVersionedHashes".into(),
        json!([
            "0x0100000000000000000000000000000000000000000000000000000000000001",
            "0x0100000000000000000000000000000000000000000000000000000000000002"
        ]),
    );
    let mut b = block(json!([blob]));
    b["blockHeader"]["excessBlobGas"] = json!(format!("{excess:#x}"));
    let paid = U256::from(1000u64)
        + U256::from(blobs * mf_format::limits::GAS_PER_BLOB) * U256::from(blob_fee);
    let left = U256::from(1_000_000_000_000_000_000u128) - paid;
    let post = json!({
        SENDER: { "balance": format!("{left:#x}"), "nonce": "0x01", "code": "0x", "storage": {} },
        TARGET: { "balance": "0x03e8", "nonce": "0x01", "code": "0x", "storage": {} },
    });
    assert_eq!(
        run(pre("0x"), json!([b.clone()]), post),
        Verdict::Matched {
            refused_as_expected: false
        }
    );
    // A blob fee cap below the blob base fee: refused, as Ethereum refuses it.
    let mut low = b;
    low["transactions"][0]["maxFeePerBlobGas"] = json!(format!("{:#x}", blob_fee - 1));
    low["expectException"] = json!("TransactionException.INSUFFICIENT_MAX_FEE_PER_BLOB_GAS");
    let unchanged = json!({
        SENDER: { "balance": ONE_ETH, "nonce": "0x00", "code": "0x", "storage": {} },
        TARGET: { "balance": "0x00", "nonce": "0x01", "code": "0x", "storage": {} },
    });
    assert_eq!(
        run(pre("0x"), json!([low]), unchanged),
        Verdict::Matched {
            refused_as_expected: true
        }
    );
}

/// Before Spurious Dragon (EIP-161) an empty account that exists is not a missing one: a
/// `CALL` to a missing account is charged 25,000 gas for the new account and creates it, a
/// `CALL` to an existing empty one is not. The proof-of-work block reward (5 ETH here) is
/// taken out of the coinbase's expected balance; the gas fees are not.
#[test]
fn before_eip161_a_call_tells_an_existing_empty_account_from_a_missing_one() {
    use alloy_primitives::U256;
    const EMPTY: &str = "0x00000000000000000000000000000000000000ee";
    const COINBASE: &str = "0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba";
    // CALL(4096 gas, 0x..ee, no value, no data); POP; STOP.
    let code = format!("0x6000600060006000600073{}611000f15000", &EMPTY[2..]);
    let eth = U256::from(10u64).pow(U256::from(18u64));
    let reward = U256::from(5u64) * eth;
    let case_with = |existing: bool, gas_used: u64| {
        let mut pre = pre(&code);
        if existing {
            pre[EMPTY] = json!({ "balance": "0x00", "nonce": "0x00", "code": "0x", "storage": {} });
        }
        let fee = U256::from(gas_used * 10);
        let post = json!({
            SENDER: { "balance": format!("{:#x}", eth - fee), "nonce": "0x01", "code": "0x",
                      "storage": {} },
            TARGET: { "balance": "0x00", "nonce": "0x01", "code": code, "storage": {} },
            EMPTY: { "balance": "0x00", "nonce": "0x00", "code": "0x", "storage": {} },
            COINBASE: { "balance": format!("{:#x}", reward + fee), "nonce": "0x00",
                        "code": "0x", "storage": {} },
        });
        let mut t = tx(TARGET, "0x00", "0x0186a0");
        t["gasPrice"] = json!("0x0a");
        let c = json!({ "network": "EIP150", "pre": pre, "blocks": [block(json!([t]))],
                        "postState": post });
        run_case(&case("t", &c).expect("the case reads"))
    };
    // 21,000 + seven pushes (21) + CALL (700, EIP-150) + POP (2); the missing account adds
    // 25,000.
    assert!(case_with(true, 21_723).passed());
    assert!(case_with(false, 46_723).passed());
    assert!(matches!(case_with(true, 46_723), Verdict::Differs(_)));
    assert!(matches!(case_with(false, 21_723), Verdict::Differs(_)));
}

/// Valid blocks that compete for one height (a fork-choice case) are named, not run.
#[test]
fn competing_blocks_are_named() {
    let transfer = || json!([tx(TARGET, "0x03e8", "0x5208")]);
    let v = run(
        pre("0x"),
        json!([block(transfer()), block(transfer())]),
        json!({}),
    );
    assert_eq!(v, Verdict::Skipped(Feature::CompetingBlocks));
}

/// A legacy transaction's chain id is in its `v` (27/28: none, EIP-155: 35 + 2 x id); a
/// `chainId` field beside a pre-EIP-155 `v` says nothing (ethereum/tests writes `0x00`).
#[test]
fn a_legacy_chain_id_is_read_from_v() {
    let post = json!({
        SENDER: { "balance": "0x0de0b6b3a763fc18", "nonce": "0x01", "code": "0x", "storage": {} },
        TARGET: { "balance": "0x03e8", "nonce": "0x01", "code": "0x", "storage": {} },
    });
    let mut t = tx(TARGET, "0x03e8", "0x5208");
    t["chainId"] = json!("0x00");
    assert!(run(pre("0x"), json!([block(json!([t.clone()]))]), post.clone()).passed());
    // v = 35 + 2 x 1 + 0: chain 1, this chain.
    t["v"] = json!("0x25");
    assert!(run(pre("0x"), json!([block(json!([t.clone()]))]), post.clone()).passed());
    // v = 35 + 2 x 5: another chain, refused.
    t["v"] = json!("0x2d");
    assert!(!run(pre("0x"), json!([block(json!([t]))]), post).passed());
}

/// A transaction's nonce must be its sender's (Ethereum's `NONCE_MISMATCH_TOO_LOW/HIGH`), as
/// an Ethereum authorisation's must (`eth_nonce_mismatch`). A block Ethereum refuses only for
/// its Ethereum header, accepted here, is named, not failed.
#[test]
fn a_wrong_nonce_is_refused_and_a_header_only_refusal_is_named() {
    let mut t = tx(TARGET, "0x03e8", "0x5208");
    t["nonce"] = json!("0x01");
    let mut b = block(json!([t.clone()]));
    b["expectException"] = json!("TransactionException.NONCE_MISMATCH_TOO_HIGH");
    assert!(run(pre("0x"), json!([b]), pre("0x")).passed());
    let v = run(pre("0x"), json!([block(json!([t]))]), json!({}));
    assert!(matches!(v, Verdict::Refused { .. }), "{v:?}");

    let mut b = block(json!([tx(TARGET, "0x03e8", "0x5208")]));
    b["expectException"] = json!("BlockException.INVALID_STATE_ROOT");
    assert_eq!(
        run(pre("0x"), json!([b]), json!({})),
        Verdict::Skipped(Feature::EthereumHeader)
    );
}

/// A block's withdrawals credit their recipients at its end (EIP-4895), which a batch does
/// not do: the credits are taken out of the expected balances and the rest is compared; a
/// case whose result still differs is named.
#[test]
fn withdrawals_are_taken_out_of_the_expected_balances() {
    let post = json!({
        SENDER: { "balance": "0x0de0b6b3a763fc18", "nonce": "0x01", "code": "0x", "storage": {} },
        // 1,000 wei from the transfer and 2 gwei from the withdrawal.
        TARGET: { "balance": "0x773597e8", "nonce": "0x01", "code": "0x", "storage": {} },
    });
    let mut b = block(json!([tx(TARGET, "0x03e8", "0x5208")]));
    b["withdrawals"] =
        json!([{ "index": "0x0", "validatorIndex": "0x0", "address": TARGET, "amount": "0x2" }]);
    assert!(run(pre("0x"), json!([b.clone()]), post.clone()).passed());
    // A post-state that misses the transfer differs, and the case is named.
    let mut wrong = post;
    wrong[TARGET]["balance"] = json!("0x77359400");
    assert_eq!(
        run(pre("0x"), json!([b]), wrong),
        Verdict::Skipped(Feature::Withdrawals)
    );
}
