//! The `POST /batch` harness shared by the `http_batch` and `batch_resigned` targets: see
//! `fuzz_targets/http_batch.rs`.

use crate::{CLOCK_MS, clock, world};
use mf_format::limits::{MAX_AUX_BYTES, MAX_BATCH_RECEIPT_BYTES, MAX_TX_RECEIPT_BYTES};
use mf_format::{
    B256, Batch, Header, Status, decode_batch, decode_receipts, header_hash, receipt_len,
    receipts_root, tx_id, tx_root,
};
use mf_validator::genesis::Genesis;
use mf_validator::server::{header_json, receipt_json};
use mf_validator::{ApplyError, Mode, Outcome, Validator};
use std::sync::{Mutex, OnceLock};

struct Harness {
    v: Validator,
    _dir: tempfile::TempDir,
}

fn genesis() -> &'static Genesis {
    static G: OnceLock<Genesis> = OnceLock::new();
    G.get_or_init(|| world().genesis())
}

fn fresh() -> Harness {
    let dir = tempfile::Builder::new()
        .prefix("mf-fuzz-http-")
        .tempdir()
        .expect("tempdir");
    let mut v = Validator::init(dir.path(), genesis()).expect("init validator");
    v.set_clock(clock);
    Harness { v, _dir: dir }
}

#[derive(Debug, PartialEq, Eq)]
struct Snap {
    head: Header,
    state: B256,
    index: usize,
    stored: Option<u64>,
}

fn snap(v: &Validator) -> Snap {
    Snap {
        head: *v.head(),
        state: v.state_hash(),
        index: v.index_len(),
        stored: v.store().height().expect("store height"),
    }
}

fn render(out: &Outcome) {
    for r in &out.receipts {
        let _ = receipt_json(r);
    }
    if let Some(h) = &out.header {
        let _ = header_json(h);
    }
}

/// Checks an outcome of `batch` applied on a validator whose state was `before`.
fn check_outcome(v: &Validator, out: &Outcome, before: &Snap, batch: &Batch) {
    render(out);
    assert_eq!(
        out.receipts.len(),
        batch.txs.len(),
        "one receipt per transaction"
    );
    for (r, t) in out.receipts.iter().zip(&batch.txs) {
        assert_eq!(r.tx_id, tx_id(&t.body), "receipt for another transaction");
        if !r.status.is_included() {
            assert_eq!(r.gas_used, 0, "gas on a rejected receipt");
            assert!(r.logs.is_empty(), "logs on a rejected receipt");
        }
    }
    let accepted: Vec<usize> = (0..batch.txs.len())
        .filter(|&i| out.receipts[i].status.is_included())
        .collect();
    assert_eq!(out.accepted, accepted.len(), "accepted count");
    // The receipt budget (PROTOCOL.md §6.3, §6.4.3): each accepted receipt within the
    // per-transaction cap, all of them within the batch's budget.
    let lens: Vec<usize> = accepted
        .iter()
        .map(|&i| receipt_len(&out.receipts[i].logs))
        .collect();
    assert!(
        lens.iter().all(|l| *l <= MAX_TX_RECEIPT_BYTES),
        "an accepted receipt over the per-transaction cap"
    );
    assert!(
        lens.iter().sum::<usize>() <= MAX_BATCH_RECEIPT_BYTES,
        "accepted receipts over the batch's budget"
    );
    let moves: usize = accepted
        .iter()
        .map(|&i| batch.txs[i].body.moves.len())
        .sum();
    assert_eq!(out.moves, moves, "moves count");
    let Some(h) = out.header else {
        assert!(accepted.is_empty(), "no header but transactions accepted");
        assert_eq!(
            &snap(v),
            before,
            "a batch that accepted nothing changed the state"
        );
        return;
    };
    assert!(
        !accepted.is_empty(),
        "a header for a batch that accepted nothing"
    );
    assert_eq!(h.height, before.head.height + 1, "height");
    assert_eq!(h.parent, header_hash(&before.head), "parent");
    assert_eq!(h.time_ms, CLOCK_MS, "time");
    assert_eq!(*v.head(), h, "head is not the new header");
    assert_eq!(h.state_hash, v.state_hash(), "header state hash");
    let ids: Vec<B256> = accepted.iter().map(|&i| out.receipts[i].tx_id).collect();
    assert_eq!(h.tx_root, tx_root(&ids), "tx root");
    assert_eq!(
        h.receipts_root,
        receipts_root(&out.receipts),
        "receipts root"
    );
    let store = v.store();
    assert_eq!(
        store.height().expect("height"),
        Some(h.height),
        "stored height"
    );
    assert_eq!(
        store.header(h.height).expect("header"),
        Some(h),
        "stored header"
    );
    let stored = store
        .batch_bytes(h.height)
        .expect("batch bytes")
        .expect("stored batch");
    let stored = decode_batch(&stored).expect("stored batch decodes");
    let expect: Vec<_> = accepted.iter().map(|&i| batch.txs[i].clone()).collect();
    assert_eq!(
        stored.txs, expect,
        "stored batch is not the accepted transactions"
    );
    // What every reader decodes: the stored receipts (GET /receipts, the feed), within
    // MAX_AUX_BYTES, equal to the answer's.
    let stored = store
        .receipts_bytes(h.height)
        .expect("receipts bytes")
        .expect("stored receipts");
    assert!(
        stored.len() <= MAX_AUX_BYTES,
        "stored receipts over MAX_AUX_BYTES"
    );
    assert_eq!(
        decode_receipts(&stored).expect("stored receipts decode"),
        out.receipts,
        "stored receipts are not the answered ones"
    );
    let (recomputed, kept) = v.check().expect("check");
    assert_eq!(
        recomputed, kept,
        "state hash recomputed from the store differs"
    );
    assert_eq!(
        kept, h.state_hash,
        "stored state hash differs from the header"
    );
}

fn harness() -> &'static Mutex<Option<Harness>> {
    static H: OnceLock<Mutex<Option<Harness>>> = OnceLock::new();
    H.get_or_init(|| Mutex::new(None))
}

/// Runs one `POST /batch` body (see the `http_batch` target) and checks the outcome.
pub fn run_body(data: &[u8]) {
    let mut guard = harness().lock().unwrap_or_else(|e| e.into_inner());
    let h = guard.get_or_insert_with(fresh);
    let before = snap(&h.v);
    assert_eq!(
        before.head.height, 0,
        "the harness validator is not at genesis"
    );
    let decoded = decode_batch(data);
    let strict = h.v.apply_bytes(data, Mode::Strict);
    match (&decoded, strict) {
        (Err(e), Err(ApplyError::Decode(f))) => {
            assert_eq!(e, &f, "apply_bytes reports another decode error");
            assert_eq!(snap(&h.v), before, "a refused batch changed the state");
            let filter = h.v.apply_bytes(data, Mode::Filter);
            assert!(matches!(filter, Err(ApplyError::Decode(_))), "{filter:?}");
        }
        (Err(e), other) => panic!("decode_batch refuses ({e}) but apply_bytes gives {other:?}"),
        (Ok(b), Err(ApplyError::Empty)) if b.txs.is_empty() => {
            assert_eq!(snap(&h.v), before, "an empty batch changed the state");
        }
        (
            Ok(b),
            Err(ApplyError::Strict {
                index,
                tx_id: id,
                reason,
                receipts,
            }),
        ) => {
            assert_eq!(
                snap(&h.v),
                before,
                "a batch refused in strict mode changed the state"
            );
            assert_eq!(receipts.len(), b.txs.len());
            assert_eq!(receipts[index].status, Status::Rejected(reason));
            assert_eq!(receipts[index].tx_id, id);
            assert!(
                receipts[..index].iter().all(|r| r.status.is_included()),
                "strict mode did not report the first rejection"
            );
            let out =
                h.v.apply_bytes(data, Mode::Filter)
                    .unwrap_or_else(|e| panic!("strict refused with receipts, filter errs: {e}"));
            assert_eq!(out.receipts, receipts, "filter and strict receipts differ");
            check_outcome(&h.v, &out, &before, b);
            if out.header.is_some() {
                *h = fresh();
            }
        }
        (Ok(b), Ok(out)) => {
            assert!(
                out.receipts.iter().all(|r| r.status.is_included()),
                "strict mode applied a batch with a rejected transaction"
            );
            check_outcome(&h.v, &out, &before, b);
            *h = fresh();
            let filter =
                h.v.apply_bytes(data, Mode::Filter)
                    .unwrap_or_else(|e| panic!("strict accepted, filter errs: {e}"));
            assert_eq!(
                filter.receipts, out.receipts,
                "filter and strict receipts differ"
            );
            assert_eq!(
                filter.header, out.header,
                "filter and strict headers differ"
            );
            *h = fresh();
        }
        (Ok(_), other) => panic!("decode_batch accepts but apply_bytes gives {other:?}"),
    }
}
