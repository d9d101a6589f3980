//! Arbitrary bytes through every decoder of the wire format, checking that they agree and
//! that everything they accept is canonical:
//!
//! - `decode_batch` accepts ⇒ re-encoding gives the same bytes (serde encoder and the
//!   hand-written `encoders` writers both), `split_batch` finds exactly its transactions, and
//!   each slice decodes (`decode_tx`) to the same transaction;
//! - `split_batch` finds slices that all decode ⇒ `decode_batch` accepts the same batch
//!   (this is what `Validator::apply_bytes` relies on: it decodes the slices in parallel and
//!   uses `decode_batch` only as the fallback);
//! - `decode_tx` / `decode_body` / `decode_header` / `decode_receipts` accept ⇒ canonical,
//!   and the id computed from the value equals the id of the body bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mf_format::{
    Batch, decode_batch, decode_body, decode_header, decode_receipts, decode_tx, encode, encoders,
    hash::tx_id_of_encoded_body, split_batch, tx_id,
};

fn fast_tx(t: &mf_format::Transaction) -> Vec<u8> {
    let mut v = Vec::new();
    encoders::put_tx(&mut v, t);
    v
}

fuzz_target!(|data: &[u8]| {
    let batch = decode_batch(data);
    let split = split_batch(data);

    if let Ok(b) = &batch {
        assert_eq!(
            encode(b),
            data,
            "decode_batch accepted a non-canonical encoding"
        );
        let mut fast_all = (b.txs.len() as u64).to_le_bytes().to_vec();
        for t in &b.txs {
            fast_all.extend_from_slice(&fast_tx(t));
        }
        assert_eq!(
            fast_all, data,
            "encoders::put_tx disagrees with the serde encoding"
        );
        let slices = split
            .as_ref()
            .expect("decode_batch accepted bytes that split_batch refuses");
        assert_eq!(
            slices.len(),
            b.txs.len(),
            "split_batch found another tx count"
        );
        for (s, t) in slices.iter().zip(&b.txs) {
            let d = decode_tx(s).expect("a split_batch slice of a valid batch does not decode");
            assert_eq!(&d, t, "slice decodes to another transaction");
        }
    }

    if let Some(slices) = &split {
        // Total cover: the slices are contiguous after the 8-byte count.
        let mut at = 8usize;
        for s in slices {
            let off = s.as_ptr() as usize - data.as_ptr() as usize;
            assert_eq!(off, at, "split_batch slices are not contiguous");
            at += s.len();
        }
        assert_eq!(at, data.len(), "split_batch slices do not cover the input");
        let txs: Result<Vec<_>, _> = slices.iter().map(|s| decode_tx(s)).collect();
        if let Ok(txs) = txs {
            let b = batch
                .as_ref()
                .expect("every split_batch slice decodes but decode_batch refuses the batch");
            assert_eq!(
                &Batch { txs },
                b,
                "parallel decode differs from decode_batch"
            );
        }
    }

    if let Ok(t) = decode_tx(data) {
        assert_eq!(
            encode(&t),
            data,
            "decode_tx accepted a non-canonical encoding"
        );
        assert_eq!(
            fast_tx(&t),
            data,
            "encoders::put_tx disagrees with the serde encoding"
        );
        let body_len = data.len() - 8 - 96 * t.auths.len();
        assert_eq!(tx_id(&t.body), tx_id_of_encoded_body(&data[..body_len]));
        let body = decode_body(&data[..body_len]).expect("the body of a valid tx does not decode");
        assert_eq!(body, t.body);
        let _ = mf_format::signing_digest(&t.body);
    }
    if let Ok(b) = decode_body(data) {
        assert_eq!(
            encode(&b),
            data,
            "decode_body accepted a non-canonical encoding"
        );
    }
    if let Ok(h) = decode_header(data) {
        assert_eq!(
            encode(&h),
            data,
            "decode_header accepted a non-canonical encoding"
        );
        let _ = mf_format::header_hash(&h);
    }
    if let Ok(r) = decode_receipts(data) {
        assert_eq!(
            encode(&r),
            data,
            "decode_receipts accepted a non-canonical encoding"
        );
        let mut v = Vec::new();
        encoders::put_receipts(&mut v, &r);
        assert_eq!(
            v, data,
            "encoders::put_receipts disagrees with the serde encoding"
        );
        let _ = mf_format::receipts_root(&r);
    }
});
