//! The receipt budget (PROTOCOL.md §3, §6.4.3; `mf_format::budget`) through a real validator
//! with real re-execution and LMDB: log bombs (one call emits about 3.7 MB of logs within
//! 30M gas) are cut at `MAX_BATCH_RECEIPT_BYTES` with `batch_receipts_full` (85) in batch
//! order, what they would have created cascades, the stored receipts stay decodable; a
//! receipt over the per-transaction cap is `receipt_too_large` (66); and the stateless
//! stage keeps at most a budget's worth of logs, re-executing the accepted ones it dropped.

use mf_devkit::contracts::log_bomb;
use mf_format::budget::RECEIPT_FIXED_BYTES;
use mf_format::limits::{MAX_AUX_BYTES, MAX_BATCH_RECEIPT_BYTES, MAX_TX_RECEIPT_BYTES};
use mf_format::*;
use mf_movegen::{CodeLookup, MemoryView, Reexec, ReexecCheck, Reexecuted, TxBuilder};
use mf_validator::genesis::Genesis;
use mf_validator::prepare::{KeyCache, prepare_batch};
use mf_validator::{ApplyError, Mode, Outcome, Validator};
use tempfile::TempDir;

const CHAIN: u64 = 1337;
/// Bytes each `LOG0` of the bomb logs.
const CHUNK: u32 = 64 << 10;
/// Logs one bomb call emits with 30M gas (see `mf_devkit::contracts::log_bomb`).
const LOGS_PER_BOMB: usize = 57;
/// The encoded receipt of one bomb call.
const BOMB_RECEIPT: usize = RECEIPT_FIXED_BYTES + LOGS_PER_BOMB * (36 + CHUNK as usize);
/// Bombs that fit one batch's receipt budget.
const FIT: usize = MAX_BATCH_RECEIPT_BYTES / BOMB_RECEIPT;

fn bomb_addr() -> Address {
    Address::repeat_byte(0xb0)
}

/// A genesis of funded wallets and the bomb contract, and validators on it.
struct Bombs {
    keys: Vec<Keypair>,
    view: MemoryView,
    genesis: Genesis,
    dirs: Vec<TempDir>,
}

impl Bombs {
    fn new(wallets: usize) -> Bombs {
        let keys: Vec<Keypair> = (0..wallets)
            .map(|i| Keypair::from_label(&format!("receipt budget wallet {i}")))
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
        let genesis = Genesis::from_view(CHAIN, &view);
        Bombs {
            keys,
            view,
            genesis,
            dirs: Vec::new(),
        }
    }

    fn validator(&mut self) -> Validator {
        let dir = tempfile::tempdir().expect("tempdir");
        let v = Validator::init(dir.path(), &self.genesis).expect("init");
        self.dirs.push(dir);
        v
    }

    /// Wallet `i` calls the bomb with 30M gas, built on `view`.
    fn bomb_on(&self, view: &MemoryView, i: usize) -> Transaction {
        TxBuilder::call(CHAIN, bomb_addr(), Vec::new())
            .build(view, &self.keys[i], &[])
            .expect("build a bomb call")
            .tx
    }

    fn bomb(&self, i: usize) -> Transaction {
        self.bomb_on(&self.view, i)
    }

    /// Wallet `i` pays 1 wei to wallet `to`, built on `view`.
    fn pay_on(&self, view: &MemoryView, i: usize, to: usize) -> Transaction {
        TxBuilder::transfer(CHAIN, self.keys[to].address(), U256::from(1u64))
            .build(view, &self.keys[i], &[])
            .expect("build a transfer")
            .tx
    }
}

/// The code the bomb's callers need.
struct BombCode;

impl CodeLookup for BombCode {
    fn code(&self, hash: &B256) -> Option<Vec<u8>> {
        let c = log_bomb(CHUNK);
        (alloy_primitives::keccak256(&c) == *hash).then_some(c)
    }
}

fn statuses(o: &Outcome) -> Vec<Status> {
    o.receipts.iter().map(|r| r.status).collect()
}

/// What a stored batch's receipts must satisfy: the accepted ones within the budget, the
/// stored list decodable (within `MAX_AUX_BYTES`) and equal to what was answered, the
/// header's receipts root over them.
fn check_stored(v: &Validator, o: &Outcome) {
    let accepted: usize = o
        .receipts
        .iter()
        .filter(|r| r.status == Status::Accepted)
        .map(|r| encode(r).len())
        .sum();
    assert!(
        accepted <= MAX_BATCH_RECEIPT_BYTES,
        "{accepted} receipt bytes"
    );
    let h = o.header.expect("a header");
    let bytes = v
        .store()
        .receipts_bytes(h.height)
        .expect("read")
        .expect("stored receipts");
    assert!(bytes.len() <= MAX_AUX_BYTES);
    assert_eq!(
        decode_receipts(&bytes).expect("stored receipts decode"),
        o.receipts
    );
    assert_eq!(h.receipts_root, receipts_root(&o.receipts));
    let (fresh, stored) = v.check().expect("check");
    assert_eq!(fresh, stored);
}

/// An accepted bomb's receipt: its 57 logs of 64 KiB of zeros, from the bomb.
fn assert_bomb_receipt(r: &Receipt) {
    assert_eq!(r.status, Status::Accepted);
    assert_eq!(r.logs.len(), LOGS_PER_BOMB);
    assert!(r.logs.iter().all(|l| l.address == bomb_addr()
        && l.topics.is_empty()
        && l.data.len() == CHUNK as usize
        && l.data.iter().all(|b| *b == 0)));
    assert_eq!(receipt_len(&r.logs), BOMB_RECEIPT);
}

/// Six bombs, a transfer chained on the fifth, and a small transfer: the first four bombs
/// fill the budget, the fifth and sixth are `batch_receipts_full`, the chained transfer
/// `depends_on_rejected`, the small transfer (which still fits) accepted. Strict mode
/// refuses the batch at the fifth bomb.
#[test]
fn log_bomb_batch_is_cut_at_the_receipt_budget_and_cut_transactions_cascade() {
    assert_eq!(FIT, 4, "the numbers below assume four bombs fit");
    let mut w = Bombs::new(10);
    let bombs: Vec<Transaction> = (0..6).map(|i| w.bomb(i)).collect();
    let mut after4 = w.view.clone();
    after4.apply(&bombs[4].body).expect("mirror bomb 4");
    let chained = w.pay_on(&after4, 4, 8);
    let bomb4 = tx_id(&bombs[4].body);
    assert!(
        chained.body.moves.iter().any(|m| m.intx == bomb4),
        "chained on bomb 4"
    );
    let small = w.pay_on(&w.view, 7, 9);
    let mut txs = bombs[..5].to_vec();
    txs.push(chained);
    txs.push(bombs[5].clone());
    txs.push(small);
    let batch = Batch { txs };
    assert!(encode(&batch).len() < 10_000, "a small batch");

    let mut v = w.validator();
    let o = v.apply_batch(&batch, Mode::Filter).expect("filter");
    let full = Status::Rejected(Reason::BatchReceiptsFull);
    assert_eq!(
        statuses(&o),
        vec![
            Status::Accepted,
            Status::Accepted,
            Status::Accepted,
            Status::Accepted,
            full,
            Status::Rejected(Reason::DependsOnRejected),
            full,
            Status::Accepted,
        ]
    );
    assert!(!o.fast_path);
    for r in &o.receipts[..4] {
        assert_bomb_receipt(r);
    }
    for r in &o.receipts[4..7] {
        assert!(
            r.logs.is_empty() && r.gas_used == 0,
            "a rejection has no logs"
        );
    }
    check_stored(&v, &o);
    eprintln!(
        "8 transactions ({} bytes): {} receipt bytes stored, {} accepted",
        encode(&batch).len(),
        encode(&o.receipts).len(),
        o.accepted
    );

    // Strict mode: the first transaction past the budget refuses the batch.
    let mut s = w.validator();
    let head = *s.head();
    match s.apply_batch(&batch, Mode::Strict) {
        Err(ApplyError::Strict { index, reason, .. }) => {
            assert_eq!((index, reason), (4, Reason::BatchReceiptsFull));
        }
        other => panic!("strict mode must refuse the batch: {other:?}"),
    }
    assert_eq!(*s.head(), head, "nothing applied");
    // What filter mode accepted is a valid strict batch.
    let part = Batch {
        txs: batch
            .txs
            .iter()
            .zip(&o.receipts)
            .filter(|(_, r)| r.status == Status::Accepted)
            .map(|(t, _)| t.clone())
            .collect(),
    };
    let so = s.apply_batch(&part, Mode::Strict).expect("strict");
    assert_eq!(
        so.header.map(|h| h.state_hash),
        o.header.map(|h| h.state_hash)
    );

    // The cut bombs fit the next batch.
    let next = Batch {
        txs: vec![bombs[4].clone(), bombs[5].clone()],
    };
    let o2 = v.apply_batch(&next, Mode::Filter).expect("filter");
    assert_eq!(o2.accepted, 2);
    check_stored(&v, &o2);
}

/// Re-execution as the validator does it, with one extra log of `MAX_TX_RECEIPT_BYTES` for
/// calls to the bomb: a receipt no 30M-gas call can reach.
struct Inflated;

impl Reexec for Inflated {
    fn reexec(
        &self,
        tx: &Transaction,
        id: &TxId,
        code: &dyn CodeLookup,
    ) -> Result<Reexecuted, Reason> {
        let mut r = ReexecCheck::default().reexec(tx, id, code)?;
        if tx.body.call.to == Some(bomb_addr()) {
            r.logs.push(Log {
                address: bomb_addr(),
                topics: Vec::new(),
                data: vec![0; MAX_TX_RECEIPT_BYTES],
            });
        }
        Ok(r)
    }
}

/// A receipt over the per-transaction cap is `receipt_too_large` (66) from the stateless
/// stage, keeps no logs, and cascades; strict mode refuses the batch there.
#[test]
fn a_receipt_over_the_per_transaction_cap_is_receipt_too_large() {
    let mut w = Bombs::new(4);
    let bomb = w.bomb(0);
    let mut after = w.view.clone();
    after.apply(&bomb.body).expect("mirror the bomb");
    let chained = w.pay_on(&after, 0, 1);
    let other = w.pay_on(&w.view, 2, 3);
    let batch = Batch {
        txs: vec![bomb.clone(), chained, other],
    };

    let code = BombCode;
    let prepared = prepare_batch(
        &batch.txs,
        CHAIN,
        &ChainRules::default(),
        &KeyCache::default(),
        &Inflated,
        &code,
    );
    assert_eq!(prepared[0].stateless, Err(Reason::ReceiptTooLarge));
    assert!(prepared[0].exec.logs.is_empty(), "its logs are not kept");

    let mut v = w.validator();
    v.set_reexec(Box::new(Inflated));
    let o = v.apply_batch(&batch, Mode::Filter).expect("filter");
    assert_eq!(
        statuses(&o),
        vec![
            Status::Rejected(Reason::ReceiptTooLarge),
            Status::Rejected(Reason::DependsOnRejected),
            Status::Accepted,
        ]
    );
    check_stored(&v, &o);

    let mut s = w.validator();
    s.set_reexec(Box::new(Inflated));
    match s.apply_batch(&batch, Mode::Strict) {
        Err(ApplyError::Strict { index, reason, .. }) => {
            assert_eq!((index, reason), (0, Reason::ReceiptTooLarge));
        }
        other => panic!("strict mode must refuse the batch: {other:?}"),
    }
}

/// The stateless stage keeps at most a budget's worth of log bytes however many log bombs
/// a batch holds (it keeps the receipt length of every one); the accepted transactions
/// whose logs it dropped are re-executed for them, giving the same receipts.
#[test]
fn the_stateless_stage_keeps_bounded_logs_and_recovers_accepted_ones() {
    let mut w = Bombs::new(8);
    let batch = Batch {
        txs: (0..8).map(|i| w.bomb(i)).collect(),
    };
    let code = BombCode;
    let keys = KeyCache::default();
    let mut prepared = prepare_batch(
        &batch.txs,
        CHAIN,
        &ChainRules::default(),
        &keys,
        &ReexecCheck::default(),
        &code,
    );
    let kept: usize = prepared
        .iter()
        .filter(|p| p.logs_kept)
        .map(|p| receipt_len(&p.exec.logs) - RECEIPT_FIXED_BYTES)
        .sum();
    assert!(kept <= MAX_BATCH_RECEIPT_BYTES, "{kept} log bytes kept");
    assert!(prepared.iter().filter(|p| !p.logs_kept).count() >= 8 - FIT);
    for p in &prepared {
        assert_eq!(p.stateless, Ok(()));
        assert_eq!(
            p.receipt_len, BOMB_RECEIPT,
            "the length of dropped logs is kept"
        );
        if !p.logs_kept {
            assert!(p.exec.logs.is_empty());
        }
    }

    // The validator recovers the logs of every accepted transaction that has none kept.
    for p in &mut prepared {
        p.logs_kept = false;
        p.exec.logs = Vec::new();
    }
    let mut v = w.validator();
    let o = v
        .submit_prepared(&batch, &prepared, Mode::Filter, 0.0)
        .expect("submit")
        .wait()
        .expect("commit");
    assert_eq!(o.accepted, FIT);
    for r in &o.receipts[..FIT] {
        assert_bomb_receipt(r);
    }
    for r in &o.receipts[FIT..] {
        assert_eq!(r.status, Status::Rejected(Reason::BatchReceiptsFull));
    }
    check_stored(&v, &o);
}
