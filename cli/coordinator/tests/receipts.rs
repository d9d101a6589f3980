//! The receipt budget of a batch (PROTOCOL.md §3, §6.4.3) with real processes on loopback:
//! a real `mf-validator serve`, and a real `mf-coordinator serve` following it.
//!
//! A log bomb (`mf_devkit::contracts::log_bomb`: one call emits about 3.7 MB of logs within
//! 30M gas) used to be accepted without bound: 24 calls in a 17 KB batch stored 86 MB of
//! receipts, `GET /receipts/1` answered 500 (the stored list is over `MAX_AUX_BYTES`), the
//! `POST /batch` answer was 174 MB of JSON (clients read 64 MiB), and a coordinator
//! following the feed stopped at that height for good (the record's receipts part is over
//! what a follower reads, and a record cannot be skipped).

use crate::util::*;
use mf_api::{BatchApplied, Client, MAX_JSON_ANSWER_BYTES, ReceiptsJson};
use mf_devkit::contracts::log_bomb;
use mf_devkit::process::{start_coordinator, start_validator, wait_ready};
use mf_format::limits::{MAX_AUX_BYTES, MAX_BATCH_RECEIPT_BYTES};
use mf_format::{
    Account, Address, Batch, EMPTY_CODE_HASH, Keypair, Reason, Status, Transaction, U256, encode,
    tx_id,
};
use mf_movegen::genesis::Genesis;
use mf_movegen::remote::RpcClient;
use mf_movegen::rpc::IntentState;
use mf_movegen::{MemoryView, TxBuilder};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const CHAIN: u64 = 1337;
/// Bytes each `LOG0` of the bomb logs (57 of them per call at 30M gas).
const CHUNK: u32 = 64 << 10;

fn bomb_addr() -> Address {
    Address::repeat_byte(0xb0)
}

/// Funded wallets and the bomb contract.
struct BombWorld {
    keys: Vec<Keypair>,
    view: MemoryView,
}

impl BombWorld {
    fn new(wallets: usize) -> BombWorld {
        let keys: Vec<Keypair> = (0..wallets)
            .map(|i| Keypair::from_label(&format!("log bomb wallet {i}")))
            .collect();
        let mut view = MemoryView::new();
        for k in &keys {
            view.set_account(
                k.address(),
                Account {
                    balance: U256::from(10u64).pow(U256::from(21u64)),
                    nonce: 0,
                    code_hash: EMPTY_CODE_HASH,
                },
            );
        }
        view.deploy(bomb_addr(), log_bomb(CHUNK), U256::ZERO, []);
        BombWorld { keys, view }
    }

    fn genesis(&self) -> Genesis {
        Genesis::from_view(CHAIN, &self.view)
    }

    /// Wallet `i` calls the bomb with 30M gas (built on the genesis).
    fn bomb(&self, i: usize) -> Transaction {
        TxBuilder::call(CHAIN, bomb_addr(), Vec::new())
            .build(&self.view, &self.keys[i], &[])
            .expect("build a bomb call")
            .tx
    }

    /// Wallet `i` pays `wei` to wallet `to` (built on the genesis).
    fn pay(&self, i: usize, to: usize, wei: u64) -> Transaction {
        TxBuilder::transfer(CHAIN, self.keys[to].address(), U256::from(wei))
            .build(&self.view, &self.keys[i], &[])
            .expect("build a transfer")
            .tx
    }
}

/// A ureq agent that reads answers of any size (to measure what the validator sends).
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .into()
}

/// `(status, body)` of a request, the body read up to 1 GiB.
fn read(mut resp: ureq::http::Response<ureq::Body>) -> (u16, String) {
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_string()
        .expect("read the answer");
    (status, body)
}

/// Encoded receipt bytes of the accepted receipts of an answer.
fn accepted_receipt_bytes(receipts: &[mf_api::ReceiptJson]) -> usize {
    receipts
        .iter()
        .map(|r| r.receipt().expect("a known status"))
        .filter(|r| r.status == Status::Accepted)
        .map(|r| encode(&r).len())
        .sum()
}

/// 24 log bombs (about 90 MB of logs) in one small batch, posted straight to a validator
/// that a coordinator follows. The answer stays bounded and names every bomb past the
/// budget `batch_receipts_full`; `GET /receipts/1` answers 200 and decodes; the feed
/// delivers the record; and the coordinator goes past that height (a payment through it
/// lands).
#[test]
fn log_bomb_batch_is_cut_at_the_receipt_budget() {
    const BOMBS: usize = 24;
    let w = BombWorld::new(BOMBS + 2);
    let dir = tempfile::tempdir().expect("tempdir");
    let (_validator, vurl) =
        start_validator(&validator_bin(), dir.path(), &w.genesis()).expect("validator");
    let (_coordinator, curl) =
        start_coordinator(&coordinator_bin(), dir.path(), "coordinator", &vurl, &[])
            .expect("coordinator");
    let client = RpcClient::new(&curl);
    wait_ready(&client, Duration::from_secs(30)).expect("coordinator ready");

    let txs: Vec<Transaction> = (0..BOMBS).map(|i| w.bomb(i)).collect();
    let bytes = encode(&Batch { txs: txs.clone() });
    let t = Instant::now();
    let (status, answer) = read(
        agent()
            .post(format!("{vurl}/batch"))
            .header("content-type", "application/octet-stream")
            .send(&bytes[..])
            .expect("POST /batch"),
    );
    eprintln!(
        "{BOMBS} log bombs in a {}-byte batch: HTTP {status}, a {}-byte answer in {:?}",
        bytes.len(),
        answer.len(),
        t.elapsed()
    );
    assert_eq!(status, 200, "{:.300}", answer);
    assert!(
        answer.len() <= MAX_JSON_ANSWER_BYTES,
        "the answer is {} bytes, over the {MAX_JSON_ANSWER_BYTES} clients read",
        answer.len()
    );
    let applied: BatchApplied = serde_json::from_str(&answer).expect("a POST /batch answer");
    assert_eq!(applied.height, Some(1));
    assert_eq!(applied.receipts.len(), BOMBS);
    let mut accepted = 0;
    for (i, (r, tx)) in applied.receipts.iter().zip(&txs).enumerate() {
        assert_eq!(r.tx_id, tx_id(&tx.body), "receipt order");
        match r.reason().expect("a known code") {
            None => {
                assert_eq!(accepted, i, "the accepted ones come first");
                accepted += 1;
            }
            Some(reason) => {
                assert_eq!(reason, Reason::BatchReceiptsFull, "{}", r.status);
                assert_eq!(r.status, "batch_receipts_full");
                assert_eq!(r.code, 85);
                assert!(r.logs.is_empty() && r.gas_used == 0);
            }
        }
    }
    assert_eq!(accepted, 4, "four bombs fill the budget");
    assert_eq!(applied.accepted, accepted);
    let answered = accepted_receipt_bytes(&applied.receipts);
    assert!(answered <= MAX_BATCH_RECEIPT_BYTES);

    // GET /receipts/1: 200, the same receipts.
    let (status, text) = read(
        agent()
            .get(format!("{vurl}/receipts/1"))
            .call()
            .expect("GET /receipts/1"),
    );
    assert_eq!(status, 200, "GET /receipts/1: {text:.300}");
    let stored: ReceiptsJson = serde_json::from_str(&text).expect("a receipts answer");
    assert_eq!(stored.receipts, applied.receipts);

    // The feed delivers the record (its receipts part within MAX_AUX_BYTES, decoded).
    let api = Client::new(&vurl);
    let record = api
        .feed(1)
        .expect("GET /feed?from=1")
        .next_record()
        .expect("the record reads and decodes")
        .expect("a record");
    assert_eq!(record.header.height, 1);
    let answered: Vec<mf_format::Receipt> = applied
        .receipts
        .iter()
        .map(|r| r.receipt().expect("receipt"))
        .collect();
    assert_eq!(record.receipts, answered);
    let stored_bytes = encode(&record.receipts).len();
    assert!(stored_bytes <= MAX_AUX_BYTES);
    eprintln!(
        "stored receipts: {stored_bytes} bytes; GET /receipts/1: a {}-byte answer",
        text.len(),
    );

    // The coordinator follows past height 1: a payment through it lands at height 2.
    let pay = w.pay(BOMBS, BOMBS + 1, 7);
    let st = client
        .submit_and_wait(&pay, Duration::from_secs(60))
        .expect("the payment ends");
    assert_eq!(st.status, IntentState::Accepted, "{st:?}");
    let h = st.height.expect("a height").to::<u64>();
    assert!(h >= 2, "accepted at {h}");
    assert!(client.block_number().expect("eth_blockNumber") >= h);
}

/// Six bomb intents through one coordinator, sent together: its batches respect the same
/// budget, so the validator cuts none of them (no `batch_receipts_full` at any height) and
/// all six land, over at least two heights.
#[test]
fn coordinator_batches_log_bombs_within_the_receipt_budget() {
    const BOMBS: usize = 6;
    let w = BombWorld::new(BOMBS);
    let dir = tempfile::tempdir().expect("tempdir");
    let (_validator, vurl) =
        start_validator(&validator_bin(), dir.path(), &w.genesis()).expect("validator");
    let extra = ["--batch-ms".to_string(), "500".to_string()];
    let (_coordinator, curl) =
        start_coordinator(&coordinator_bin(), dir.path(), "coordinator", &vurl, &extra)
            .expect("coordinator");
    let client = RpcClient::new(&curl);
    wait_ready(&client, Duration::from_secs(30)).expect("coordinator ready");

    let ids: Vec<_> = (0..BOMBS)
        .map(|i| client.submit(&w.bomb(i)).expect("mf_sendIntent"))
        .collect();
    let mut heights = BTreeSet::new();
    for id in &ids {
        let st = client.wait(id, Duration::from_secs(120)).expect("wait");
        assert_eq!(st.status, IntentState::Accepted, "{st:?}");
        assert_eq!(
            st.attempts, 1,
            "left out of a batch is not an attempt: {st:?}"
        );
        heights.insert(st.height.expect("height").to::<u64>());
    }
    assert!(
        heights.len() >= 2,
        "six bombs do not fit one batch: {heights:?}"
    );
    let api = Client::new(&vurl);
    let head = api.head().expect("head").height;
    for h in 1..=head {
        let r = api.receipts(h).expect("GET /receipts").expect("receipts");
        assert!(
            r.receipts.iter().all(|r| r.code == 0),
            "height {h}: the validator rejected part of a coordinator's batch"
        );
        assert!(accepted_receipt_bytes(&r.receipts) <= MAX_BATCH_RECEIPT_BYTES);
    }
}
