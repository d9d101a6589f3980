//! The validator's HTTP API as the coordinator uses it: a thin layer over [`mf_api::Client`]
//! (the contract lives in `mf-api`; the endpoints are documented on `mf_validator::server`)
//! that reports failures as [`CoordError::Upstream`] and turns the answer to `POST /batch`
//! into the sequencer's verdicts.

use crate::CoordError;
use mf_api::{BatchAnswer, Client, FeedReader};
use mf_format::{Reason, TxId};
use mf_movegen::genesis::Genesis;
use std::io::Read;

/// A validator's base URL and its connection pools.
#[derive(Clone)]
pub struct Upstream {
    client: Client,
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
    /// The validator is busy (its queue is full, or it is stopping): try again shortly.
    Busy,
    /// The batch was refused as a whole (`400`/`413`/`422`): a bug on our side.
    Refused(String),
}

/// The validator's feed as the follower reads it.
pub type Feed = FeedReader<Box<dyn Read + Send>>;

impl Upstream {
    /// A client for the validator at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Upstream {
        Upstream {
            client: Client::new(base),
        }
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        self.client.url()
    }

    /// A failure talking to this validator, as the coordinator reports it.
    pub fn err(&self, detail: impl std::fmt::Display) -> CoordError {
        CoordError::Upstream {
            url: self.url().to_string(),
            detail: detail.to_string(),
        }
    }

    /// `GET /genesis`.
    pub fn genesis(&self) -> Result<Genesis, CoordError> {
        let text = self.client.genesis_text().map_err(|e| self.err(e))?;
        Genesis::parse(&text).map_err(|e| self.err(format!("GET /genesis: {e}")))
    }

    /// `GET /head`: the validator's height.
    pub fn head_height(&self) -> Result<u64, CoordError> {
        Ok(self.client.head().map_err(|e| self.err(e))?.height)
    }

    /// `GET /health`.
    pub fn healthy(&self) -> bool {
        self.client.health().is_ok()
    }

    /// `POST /batch`.
    pub fn submit(&self, batch_bytes: &[u8]) -> Result<Submitted, CoordError> {
        match self
            .client
            .post_batch(batch_bytes)
            .map_err(|e| self.err(e))?
        {
            BatchAnswer::Applied(a) => {
                let verdicts = a
                    .receipts
                    .iter()
                    .map(|r| {
                        let reason = r.reason().map_err(|e| self.err(format!("receipt: {e}")))?;
                        Ok(Verdict {
                            tx_id: r.tx_id,
                            reason,
                        })
                    })
                    .collect::<Result<Vec<_>, CoordError>>()?;
                Ok(Submitted::Applied {
                    height: a.height,
                    verdicts,
                })
            }
            BatchAnswer::Unavailable(_) => Ok(Submitted::Busy),
            BatchAnswer::Refused { status, refusal } => Ok(Submitted::Refused(format!(
                "HTTP {status}: {} (code {:?}): {:.500}",
                refusal.reason, refusal.code, refusal.error
            ))),
            BatchAnswer::Other { status, body } => {
                Ok(Submitted::Refused(format!("HTTP {status}: {body:.500}")))
            }
        }
    }

    /// Opens `GET /feed?from=H`; read it with [`FeedReader::next_record`] and report its
    /// errors with [`Upstream::err`].
    pub fn feed(&self, from: u64) -> Result<Feed, CoordError> {
        self.client.feed(from).map_err(|e| self.err(e))
    }
}
