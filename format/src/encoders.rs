//! Hand-written writers for the types encoded on hot paths (ids, digests, state-hash
//! elements, stored transactions, receipts). They produce exactly the bytes of the serde +
//! bincode encoding of [`crate::codec`], which serialises fixed-size arrays one byte at a time
//! and is several times slower; property tests check the two agree on random values.

use crate::types::{Call, ExecContext, FeeKind, Move, Receipt, Transaction, TxBody, Value};

#[inline]
fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u64).to_le_bytes());
}

/// Appends a value (tag byte and payload): [`Value::encode_fixed`].
#[inline]
pub fn put_value(out: &mut Vec<u8>, v: &Value) {
    let mut buf = [0u8; Value::MAX_ENCODED_LEN];
    out.extend_from_slice(v.encode_fixed(&mut buf));
}

/// Appends a move.
#[inline]
pub fn put_move(out: &mut Vec<u8>, m: &Move) {
    out.push(m.mask.0);
    out.push(u8::from(m.kind));
    out.push(m.mark.byte());
    out.extend_from_slice(m.intx.as_slice());
    out.extend_from_slice(m.addr.as_slice());
    out.extend_from_slice(&m.slot.to_be_bytes::<32>());
    put_value(out, &m.prev);
    put_value(out, &m.next);
}

/// Appends a call.
pub fn put_call(out: &mut Vec<u8>, c: &Call) {
    out.extend_from_slice(c.from.as_slice());
    match &c.to {
        None => out.push(0),
        Some(to) => {
            out.push(1);
            out.extend_from_slice(to.as_slice());
        }
    }
    out.extend_from_slice(&c.value.to_be_bytes::<32>());
    put_len(out, c.input.len());
    out.extend_from_slice(&c.input);
    out.extend_from_slice(&c.gas_limit.to_le_bytes());
    out.push(c.fee.kind.byte());
    out.extend_from_slice(&c.fee.max_fee_per_gas.to_le_bytes());
    out.extend_from_slice(&c.fee.max_priority_fee_per_gas.to_le_bytes());
    put_len(out, c.access_list.len());
    for item in &c.access_list {
        out.extend_from_slice(item.address.as_slice());
        put_len(out, item.storage_keys.len());
        for k in &item.storage_keys {
            out.extend_from_slice(k.as_slice());
        }
    }
    if c.fee.kind == FeeKind::Blob {
        let b = c.blob.as_ref();
        out.extend_from_slice(&b.map_or(0, |b| b.max_fee_per_blob_gas).to_le_bytes());
        let hashes: &[alloy_primitives::B256] = b.map_or(&[], |b| &b.versioned_hashes);
        put_len(out, hashes.len());
        for h in hashes {
            out.extend_from_slice(h.as_slice());
        }
    }
}

/// Appends an execution context.
pub fn put_context(out: &mut Vec<u8>, c: &ExecContext) {
    out.extend_from_slice(&c.block_number.to_le_bytes());
    out.extend_from_slice(&c.timestamp.to_le_bytes());
}

/// Appends a transaction body.
pub fn put_body(out: &mut Vec<u8>, b: &TxBody) {
    out.reserve(180 + b.call.input.len() + b.moves.len() * 233);
    out.extend_from_slice(&b.chain_id.to_le_bytes());
    put_call(out, &b.call);
    put_context(out, &b.context);
    out.push(u8::from(b.open));
    put_len(out, b.moves.len());
    for m in &b.moves {
        put_move(out, m);
    }
    put_len(out, b.created_code.len());
    for c in &b.created_code {
        put_len(out, c.len());
        out.extend_from_slice(c);
    }
}

/// Appends a transaction (body, then authorisations, then the Ethereum authorisation as an
/// option: `00`, or `01` and the envelope's bytes).
pub fn put_tx(out: &mut Vec<u8>, t: &Transaction) {
    put_body(out, &t.body);
    put_len(out, t.auths.len());
    for a in &t.auths {
        out.extend_from_slice(&a.public_key);
        out.extend_from_slice(&a.signature.0);
    }
    match &t.eth {
        None => out.push(0),
        Some(e) => {
            out.push(1);
            put_len(out, e.envelope.len());
            out.extend_from_slice(&e.envelope);
        }
    }
}

/// Appends a receipt.
pub fn put_receipt(out: &mut Vec<u8>, r: &Receipt) {
    out.extend_from_slice(r.tx_id.as_slice());
    let code: u16 = r.status.code();
    out.extend_from_slice(&code.to_le_bytes());
    out.extend_from_slice(&r.gas_used.to_le_bytes());
    put_len(out, r.logs.len());
    for l in &r.logs {
        out.extend_from_slice(l.address.as_slice());
        put_len(out, l.topics.len());
        for t in &l.topics {
            out.extend_from_slice(t.as_slice());
        }
        put_len(out, l.data.len());
        out.extend_from_slice(&l.data);
    }
}

/// Appends a list of receipts.
pub fn put_receipts(out: &mut Vec<u8>, rs: &[Receipt]) {
    put_len(out, rs.len());
    for r in rs {
        put_receipt(out, r);
    }
}
