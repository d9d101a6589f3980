//! The validator's HTTP API as the coordinator uses it: the genesis, the head, the feed, and
//! batch submission (`validator/src/server.rs` documents the endpoints).

use crate::CoordError;
use crate::store::FeedRecord;
use mf_format::limits::{MAX_AUX_BYTES, MAX_BATCH_BYTES, MAX_HEADER_BYTES};
use mf_format::{Reason, TxId, decode_batch, decode_header, decode_receipts};
use mf_movegen::genesis::Genesis;
use serde::Deserialize;
use std::io::Read;
use std::time::Duration;

/// A validator's base URL and a connection pool.
#[derive(Clone)]
pub struct Upstream {
    base: String,
    agent: ureq::Agent,
    feed_agent: ureq::Agent,
}

/// The verdict on one transaction of a submitted batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Its id.
    pub tx_id: TxId,
    /// `None` when accepted.
    pub reason: Option<Reason>,
}

/// What the validator answered to `POST /batch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Submitted {
    /// Applied (possibly with rejections): the height when anything was accepted.
    Applied {
        /// The new height, `None` when nothing was accepted.
        height: Option<u64>,
        /// One verdict per transaction, in order.
        verdicts: Vec<Verdict>,
    },
    /// The validator is busy (its queue is full): try again shortly.
    Busy,
    /// The batch was refused as a whole (`400`/`413`/`422`): a bug on our side.
    Refused(String),
}

#[derive(Deserialize)]
struct ReceiptJson {
    tx_id: String,
    code: u16,
}

#[derive(Deserialize)]
struct BatchAnswer {
    height: Option<u64>,
    receipts: Vec<ReceiptJson>,
}

#[derive(Deserialize)]
struct HeadAnswer {
    height: u64,
}

impl Upstream {
    /// A client for the validator at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Upstream {
        let agent = mf_movegen::remote::http_agent(Some(Duration::from_secs(60)));
        // The feed never ends on its own: no receive timeout.
        let feed_agent = mf_movegen::remote::http_agent(None);
        Upstream {
            base: base.trim_end_matches('/').to_string(),
            agent,
            feed_agent,
        }
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    fn err(&self, detail: impl std::fmt::Display) -> CoordError {
        CoordError::Upstream {
            url: self.base.clone(),
            detail: detail.to_string(),
        }
    }

    fn get_text(&self, path: &str, limit: u64) -> Result<String, CoordError> {
        let mut resp = self
            .agent
            .get(format!("{}{path}", self.base))
            .call()
            .map_err(|e| self.err(e))?;
        let status = resp.status();
        let text = resp
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_string()
            .map_err(|e| self.err(e))?;
        if !status.is_success() {
            return Err(self.err(format!("GET {path}: HTTP {status}: {text:.300}")));
        }
        Ok(text)
    }

    /// `GET /genesis`.
    pub fn genesis(&self) -> Result<Genesis, CoordError> {
        let text = self.get_text("/genesis", 1 << 30)?;
        Genesis::parse(&text).map_err(|e| self.err(format!("GET /genesis: {e}")))
    }

    /// `GET /head`: the validator's height.
    pub fn head_height(&self) -> Result<u64, CoordError> {
        let text = self.get_text("/head", 1 << 16)?;
        let h: HeadAnswer =
            serde_json::from_str(&text).map_err(|e| self.err(format!("GET /head: {e}")))?;
        Ok(h.height)
    }

    /// `GET /health`.
    pub fn healthy(&self) -> bool {
        self.get_text("/health", 1024).is_ok()
    }

    /// `POST /batch`.
    pub fn submit(&self, batch_bytes: &[u8]) -> Result<Submitted, CoordError> {
        let mut resp = self
            .agent
            .post(format!("{}/batch", self.base))
            .header("content-type", "application/octet-stream")
            .send(batch_bytes)
            .map_err(|e| self.err(e))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|e| self.err(e))?;
        match status {
            200 => {
                let a: BatchAnswer = serde_json::from_str(&text)
                    .map_err(|e| self.err(format!("POST /batch answer: {e}")))?;
                let mut verdicts = Vec::with_capacity(a.receipts.len());
                for r in a.receipts {
                    let id = r
                        .tx_id
                        .parse::<TxId>()
                        .map_err(|e| self.err(format!("receipt tx_id: {e}")))?;
                    let reason = match r.code {
                        0 => None,
                        c => Some(
                            Reason::from_code(c)
                                .ok_or_else(|| self.err(format!("unknown reason code {c}")))?,
                        ),
                    };
                    verdicts.push(Verdict { tx_id: id, reason });
                }
                Ok(Submitted::Applied {
                    height: a.height,
                    verdicts,
                })
            }
            503 => Ok(Submitted::Busy),
            _ => Ok(Submitted::Refused(format!("HTTP {status}: {text:.500}"))),
        }
    }

    /// Opens `GET /feed?from=H`.
    pub fn feed(&self, from: u64) -> Result<FeedReader, CoordError> {
        let resp = self
            .feed_agent
            .get(format!("{}/feed?from={from}", self.base))
            .call()
            .map_err(|e| self.err(e))?;
        if !resp.status().is_success() {
            return Err(self.err(format!("GET /feed: HTTP {}", resp.status())));
        }
        Ok(FeedReader {
            body: Box::new(resp.into_body().into_reader()),
            url: self.base.clone(),
        })
    }
}

/// The feed's records, read one at a time from the stream.
pub struct FeedReader {
    body: Box<dyn Read + Send>,
    url: String,
}

impl FeedReader {
    fn err(&self, detail: impl std::fmt::Display) -> CoordError {
        CoordError::Upstream {
            url: self.url.clone(),
            detail: format!("feed: {detail}"),
        }
    }

    /// Reads `len: u32 LE || bytes`; `Ok(None)` on a clean end before the length.
    fn part(&mut self, max: usize, what: &str, first: bool) -> Result<Option<Vec<u8>>, CoordError> {
        let mut len = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            match self.body.read(&mut len[got..]) {
                Ok(0) if got == 0 && first => return Ok(None),
                Ok(0) => return Err(self.err(format!("stream ended inside a {what}"))),
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.err(e)),
            }
        }
        let len = u32::from_le_bytes(len) as usize;
        if len > max {
            return Err(self.err(format!("{what} of {len} bytes exceeds {max}")));
        }
        let mut buf = vec![0u8; len];
        self.body
            .read_exact(&mut buf)
            .map_err(|e| self.err(format!("{what}: {e}")))?;
        Ok(Some(buf))
    }

    /// The next record; `Ok(None)` when the validator ended the stream (it is shutting
    /// down).
    pub fn next_record(&mut self) -> Result<Option<FeedRecord>, CoordError> {
        let Some(h) = self.part(MAX_HEADER_BYTES, "header", true)? else {
            return Ok(None);
        };
        let b = self
            .part(MAX_BATCH_BYTES, "batch", false)?
            .ok_or_else(|| self.err("stream ended inside a record"))?;
        let r = self
            .part(MAX_AUX_BYTES, "receipts", false)?
            .ok_or_else(|| self.err("stream ended inside a record"))?;
        Ok(Some(FeedRecord {
            header: decode_header(&h).map_err(|e| self.err(e))?,
            batch: decode_batch(&b).map_err(|e| self.err(e))?,
            receipts: decode_receipts(&r).map_err(|e| self.err(e))?,
        }))
    }
}
