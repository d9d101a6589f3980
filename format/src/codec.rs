//! The canonical encoding: serde + bincode 2 with one fixed configuration.
//!
//! Configuration: little-endian, fixed-width integers (`u16` 2 bytes, `u64` 8 bytes, lengths
//! as `u64`), no varints, so every value has exactly one encoding. Decoding refuses trailing
//! bytes, unknown tags, booleans other than 0/1, and any length above its limit, and checks the
//! whole input length first, so a hostile length prefix never causes a large allocation.

use crate::limits::{MAX_AUX_BYTES, MAX_BATCH_BYTES, MAX_TX_BYTES};
use crate::reason::Reason;
use crate::types::{Batch, Header, Receipt, Transaction, TxBody};
use crate::wire::LIMIT_TAG;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The one bincode configuration of the protocol.
pub const fn config() -> bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Fixint,
    bincode::config::Limit<MAX_BATCH_BYTES>,
> {
    bincode::config::standard()
        .with_little_endian()
        .with_fixed_int_encoding()
        .with_limit::<MAX_BATCH_BYTES>()
}

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The input is longer than the limit for its type.
    #[error("{what} is {len} bytes, at most {max} allowed")]
    TooLarge {
        /// What was being decoded.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A length inside the input is above its limit.
    #[error("{what}: {detail}")]
    Limit {
        /// What was being decoded.
        what: &'static str,
        /// Which limit.
        detail: String,
    },
    /// The bytes are not a canonical encoding.
    #[error("{what} is malformed: {detail}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's complaint.
        detail: String,
    },
    /// The input continues after a complete value.
    #[error("{what} has {extra} trailing bytes after a complete value")]
    TrailingBytes {
        /// What was being decoded.
        what: &'static str,
        /// How many bytes were left over.
        extra: usize,
    },
}

impl FormatError {
    /// The reason code a receipt or a rejection carries for this error.
    pub fn reason(&self) -> Reason {
        match self {
            FormatError::TooLarge { .. } | FormatError::Limit { .. } => Reason::LimitExceeded,
            FormatError::Malformed { .. } | FormatError::TrailingBytes { .. } => Reason::Malformed,
        }
    }
}

/// Encodes a value canonically.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(value, &mut out);
    out
}

/// Appends the canonical encoding of a value to `out`.
pub fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail, and every protocol type has a known-length shape, so
    // bincode has no error to report here.
    let r = bincode::serde::encode_into_std_write(value, out, config());
    debug_assert!(r.is_ok(), "encoding a protocol type failed: {r:?}");
}

/// Decodes exactly one value of type `T` from `bytes`, which may be at most `max` long.
pub fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    max: usize,
    what: &'static str,
) -> Result<T, FormatError> {
    if bytes.len() > max {
        return Err(FormatError::TooLarge {
            what,
            len: bytes.len(),
            max,
        });
    }
    let (value, used): (T, usize) =
        bincode::serde::borrow_decode_from_slice(bytes, config()).map_err(|e| classify(e, what))?;
    if used != bytes.len() {
        return Err(FormatError::TrailingBytes {
            what,
            extra: bytes.len() - used,
        });
    }
    Ok(value)
}

fn classify(e: bincode::error::DecodeError, what: &'static str) -> FormatError {
    use bincode::error::DecodeError as D;
    match e {
        D::OtherString(s) if s.starts_with(LIMIT_TAG) => FormatError::Limit {
            what,
            detail: s[LIMIT_TAG.len()..].to_string(),
        },
        D::LimitExceeded => FormatError::Limit {
            what,
            detail: "decoder byte limit".to_string(),
        },
        other => FormatError::Malformed {
            what,
            detail: other.to_string(),
        },
    }
}

/// Decodes a transaction (at most [`MAX_TX_BYTES`]).
pub fn decode_tx(bytes: &[u8]) -> Result<Transaction, FormatError> {
    decode(bytes, MAX_TX_BYTES, "transaction")
}

/// Decodes a transaction body (at most [`MAX_TX_BYTES`]).
pub fn decode_body(bytes: &[u8]) -> Result<TxBody, FormatError> {
    decode(bytes, MAX_TX_BYTES, "transaction body")
}

/// Decodes a batch (at most [`MAX_BATCH_BYTES`]).
pub fn decode_batch(bytes: &[u8]) -> Result<Batch, FormatError> {
    decode(bytes, MAX_BATCH_BYTES, "batch")
}

/// Decodes a header.
pub fn decode_header(bytes: &[u8]) -> Result<Header, FormatError> {
    decode(bytes, crate::limits::MAX_HEADER_BYTES, "header")
}

/// Decodes a list of receipts (at most [`MAX_AUX_BYTES`]).
pub fn decode_receipts(bytes: &[u8]) -> Result<Vec<Receipt>, FormatError> {
    #[derive(serde::Deserialize)]
    struct R(#[serde(deserialize_with = "de_receipts")] Vec<Receipt>);
    fn de_receipts<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Receipt>, D::Error> {
        crate::wire::bounded_seq(d, crate::limits::MAX_TXS_PER_BATCH, "receipts")
    }
    decode::<R>(bytes, MAX_AUX_BYTES, "receipts").map(|r| r.0)
}

/// A cursor over an encoding that walks the layout of PROTOCOL.md §2.2 by lengths and tags.
struct Walk<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Walk<'a> {
    fn skip(&mut self, n: usize) -> Option<()> {
        let end = self.at.checked_add(n)?;
        if end > self.b.len() {
            return None;
        }
        self.at = end;
        Some(())
    }
    fn u8(&mut self) -> Option<u8> {
        let v = *self.b.get(self.at)?;
        self.at += 1;
        Some(v)
    }
    fn len(&mut self, max: usize) -> Option<usize> {
        let s = self.b.get(self.at..self.at.checked_add(8)?)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        self.at += 8;
        let n = usize::try_from(u64::from_le_bytes(a)).ok()?;
        (n <= max).then_some(n)
    }
    /// Skips a Value; returns its bytes (tag included).
    fn value(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        match self.u8()? {
            0 => self.skip(72)?,
            1 => self.skip(32)?,
            _ => return None,
        }
        self.b.get(start..self.at)
    }
    /// Skips a transaction body up to its moves; returns the move count.
    fn skip_to_moves(&mut self) -> Option<usize> {
        use crate::limits::{
            MAX_ACCESS_LIST_ITEMS, MAX_ACCESS_LIST_KEYS, MAX_BLOB_HASHES, MAX_INPUT_BYTES,
            MAX_MOVES_PER_TX,
        };
        self.skip(8 + 20)?; // chain id, from
        match self.u8()? {
            0 => {}
            1 => self.skip(20)?,
            _ => return None,
        }
        self.skip(32)?; // value
        let n = self.len(MAX_INPUT_BYTES)?;
        self.skip(n)?;
        self.skip(8)?; // gas limit
        let kind = self.u8()?;
        self.skip(16 + 16)?; // fee caps
        let items = self.len(MAX_ACCESS_LIST_ITEMS)?;
        for _ in 0..items {
            self.skip(20)?;
            let keys = self.len(MAX_ACCESS_LIST_KEYS)?;
            self.skip(keys.checked_mul(32)?)?;
        }
        if kind == crate::FeeKind::Blob.byte() {
            self.skip(16)?; // blob fee cap
            let hashes = self.len(MAX_BLOB_HASHES)?;
            self.skip(hashes.checked_mul(32)?)?;
        }
        self.skip(16 + 1)?; // context, open
        self.len(MAX_MOVES_PER_TX)
    }
    /// Skips a move; returns its `next` value's bytes.
    fn a_move(&mut self) -> Option<&'a [u8]> {
        self.skip(3 + 32 + 20 + 32)?;
        self.value()?;
        self.value()
    }
}

/// The `next` value of move `index` of an encoded transaction, found by walking the layout
/// up to that move (nothing before it is decoded or allocated): what a validator's version
/// lookup needs of a stored transaction. `None` when the bytes do not have the shape of a
/// transaction up to that move or the transaction has fewer moves. Only the value itself
/// is decoded, canonically; the rest of the transaction is not checked (the caller stored
/// it after checking it).
pub fn tx_move_next(tx: &[u8], index: usize) -> Option<crate::Value> {
    let mut w = Walk { b: tx, at: 0 };
    let moves = w.skip_to_moves()?;
    if index >= moves {
        return None;
    }
    for _ in 0..index {
        w.a_move()?;
    }
    crate::Value::decode_canonical(w.a_move()?).ok()
}

/// Splits an encoded batch into the byte ranges of its transactions by walking the layout
/// (lengths and tags only, nothing is decoded or allocated per field), so that callers can
/// decode the transactions in parallel with [`decode_tx`]. Returns `None` when the bytes do
/// not have the shape of a batch; callers then use [`decode_batch`] for the exact error. Any
/// slice this returns still goes through the canonical decoder, so a walker mistake can
/// only refuse a batch, never accept a different one.
pub fn split_batch(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    use crate::limits::*;
    if bytes.len() > MAX_BATCH_BYTES {
        return None;
    }
    let mut w = Walk { b: bytes, at: 0 };
    let count = w.len(MAX_TXS_PER_BATCH)?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let start = w.at;
        let moves = w.skip_to_moves()?;
        for _ in 0..moves {
            w.a_move()?;
        }
        let codes = w.len(MAX_CREATED_CODES)?;
        for _ in 0..codes {
            let n = w.len(MAX_CODE_BYTES)?;
            w.skip(n)?;
        }
        let auths = w.len(MAX_AUTHS)?;
        w.skip(auths.checked_mul(96)?)?;
        // The Ethereum authorisation: an option tag, then the envelope's bytes.
        match w.u8()? {
            0 => {}
            1 => {
                let n = w.len(MAX_ETH_ENVELOPE_BYTES)?;
                w.skip(n)?;
            }
            _ => return None,
        }
        out.push(&bytes[start..w.at]);
    }
    (w.at == bytes.len()).then_some(out)
}
