//! The framing of `GET /feed?from=H`: one record per height, in height order.
//!
//! ```text
//! record   = part(header) part(batch) part(receipts)
//! part(x)  = len: u32 little-endian || x (len bytes)
//! header   = the canonical encoding of the Header (mf_format::decode_header)
//! batch    = the accepted transactions, in order, encoded as a Batch
//!            (mf_format::decode_batch); the same bytes as GET /batch/{height}
//! receipts = the canonical encoding of the receipts of every transaction submitted in the
//!            batch, accepted or not, in submission order (mf_format::decode_receipts)
//! ```
//!
//! Records are contiguous; HTTP chunk boundaries carry no meaning. The stream ends cleanly
//! only between records. [`write_record`] is the server's side, [`FeedReader`] a follower's.

use mf_format::limits::{MAX_AUX_BYTES, MAX_BATCH_BYTES, MAX_HEADER_BYTES};
use mf_format::{
    Batch, FormatError, Header, Receipt, decode_batch, decode_header, decode_receipts,
};
use std::io::{ErrorKind, Read};

/// One record of the validator's feed, decoded.
#[derive(Clone, Debug)]
pub struct FeedRecord {
    /// The header.
    pub header: Header,
    /// The accepted transactions.
    pub batch: Batch,
    /// Receipts of every transaction submitted in the batch.
    pub receipts: Vec<Receipt>,
}

impl FeedRecord {
    /// The record's bytes on the feed.
    pub fn encode(&self) -> Result<Vec<u8>, FeedError> {
        let (h, b, r) = (
            mf_format::encode(&self.header),
            mf_format::encode(&self.batch),
            mf_format::encode(&self.receipts),
        );
        let mut out = Vec::with_capacity(12 + h.len() + b.len() + r.len());
        write_record(&mut out, &h, &b, &r)?;
        Ok(out)
    }
}

/// Why a feed record could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The connection failed.
    #[error("feed: {0}")]
    Io(#[from] std::io::Error),
    /// The stream ended inside a record.
    #[error("feed: stream ended inside a {0}")]
    Truncated(&'static str),
    /// A part is longer than its limit (or than a `u32` length can say).
    #[error("feed: {what} of {len} bytes exceeds {max}")]
    TooLarge {
        /// Which part.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A part does not decode.
    #[error("feed: {what}: {source}")]
    Decode {
        /// Which part.
        what: &'static str,
        /// Why.
        source: FormatError,
    },
}

/// Appends one record made of already encoded parts to `out`.
pub fn write_record(
    out: &mut Vec<u8>,
    header: &[u8],
    batch: &[u8],
    receipts: &[u8],
) -> Result<(), FeedError> {
    for (what, part) in [("header", header), ("batch", batch), ("receipts", receipts)] {
        let len = u32::try_from(part.len()).map_err(|_| FeedError::TooLarge {
            what,
            len: part.len(),
            max: u32::MAX as usize,
        })?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(part);
    }
    Ok(())
}

/// Reads feed records one at a time from a byte stream (an HTTP body, a file, a slice).
pub struct FeedReader<R> {
    body: R,
}

impl<R: Read> FeedReader<R> {
    /// A reader over `body`, which must start at a record boundary.
    pub fn new(body: R) -> FeedReader<R> {
        FeedReader { body }
    }

    /// Reads `len: u32 LE || bytes`; `Ok(None)` on a clean end before the length of the
    /// first part of a record.
    fn part(
        &mut self,
        max: usize,
        what: &'static str,
        first: bool,
    ) -> Result<Option<Vec<u8>>, FeedError> {
        let mut len = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            match self.body.read(&mut len[got..]) {
                Ok(0) if got == 0 && first => return Ok(None),
                Ok(0) => return Err(FeedError::Truncated(what)),
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(FeedError::Io(e)),
            }
        }
        let len = u32::from_le_bytes(len) as usize;
        if len > max {
            return Err(FeedError::TooLarge { what, len, max });
        }
        let mut buf = vec![0u8; len];
        self.body.read_exact(&mut buf).map_err(|e| match e.kind() {
            ErrorKind::UnexpectedEof => FeedError::Truncated(what),
            _ => FeedError::Io(e),
        })?;
        Ok(Some(buf))
    }

    /// The next record's three parts, still encoded (header, batch, receipts); `Ok(None)`
    /// when the stream ended cleanly between records.
    pub fn next_raw(&mut self) -> Result<Option<[Vec<u8>; 3]>, FeedError> {
        let Some(h) = self.part(MAX_HEADER_BYTES, "header", true)? else {
            return Ok(None);
        };
        let b = self
            .part(MAX_BATCH_BYTES, "batch", false)?
            .ok_or(FeedError::Truncated("record"))?;
        let r = self
            .part(MAX_AUX_BYTES, "receipts", false)?
            .ok_or(FeedError::Truncated("record"))?;
        Ok(Some([h, b, r]))
    }

    /// The next record, decoded; `Ok(None)` when the stream ended cleanly between records
    /// (the validator is shutting down).
    pub fn next_record(&mut self) -> Result<Option<FeedRecord>, FeedError> {
        let Some([h, b, r]) = self.next_raw()? else {
            return Ok(None);
        };
        let decode = |what| move |source| FeedError::Decode { what, source };
        Ok(Some(FeedRecord {
            header: decode_header(&h).map_err(decode("header"))?,
            batch: decode_batch(&b).map_err(decode("batch"))?,
            receipts: decode_receipts(&r).map_err(decode("receipts"))?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mf_format::{B256, Reason, Status};

    fn record(height: u64, n: usize) -> FeedRecord {
        FeedRecord {
            header: Header {
                height,
                parent: B256::repeat_byte(1),
                tx_root: B256::repeat_byte(2),
                receipts_root: B256::repeat_byte(3),
                state_hash: B256::repeat_byte(4),
                time_ms: 1_700_000_000_000 + height,
            },
            batch: Batch { txs: Vec::new() },
            receipts: (0..n)
                .map(|i| Receipt {
                    tx_id: B256::repeat_byte(i as u8),
                    status: if i % 2 == 0 {
                        Status::Accepted
                    } else {
                        Status::Rejected(Reason::VersionNotLive)
                    },
                    gas_used: 21_000,
                    logs: Vec::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn records_round_trip_and_end_cleanly() {
        let recs = [record(1, 0), record(2, 3), record(3, 1)];
        let mut stream = Vec::new();
        for r in &recs {
            stream.extend(r.encode().expect("encode"));
        }
        let mut reader = FeedReader::new(&stream[..]);
        for want in &recs {
            let got = reader.next_record().expect("read").expect("a record");
            assert_eq!(got.header, want.header);
            assert_eq!(got.batch, want.batch);
            assert_eq!(got.receipts, want.receipts);
        }
        assert!(reader.next_record().expect("clean end").is_none());
    }

    #[test]
    fn a_cut_record_is_an_error_not_an_end() {
        let bytes = record(7, 2).encode().expect("encode");
        for cut in 1..bytes.len() {
            let mut reader = FeedReader::new(&bytes[..cut]);
            assert!(
                reader.next_record().is_err(),
                "a record cut at {cut} of {} bytes",
                bytes.len()
            );
        }
    }

    #[test]
    fn an_oversized_part_is_refused_before_it_is_read() {
        let mut bytes = ((MAX_HEADER_BYTES + 1) as u32).to_le_bytes().to_vec();
        bytes.extend([0u8; 16]);
        let err = FeedReader::new(&bytes[..]).next_record();
        assert!(matches!(
            err,
            Err(FeedError::TooLarge { what: "header", .. })
        ));
    }
}
