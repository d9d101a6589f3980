//! The validator's HTTP API as the coordinator uses it: a thin layer over [`mf_api::Client`]
//! (the contract lives in `mf-api`; the endpoints are documented on `mf_validator::server`)
//! that reports failures as [`CoordError::Upstream`] and turns the answer to `POST /batch`
//! into the sequencer's verdicts.
//!
//! # Replicas
//!
//! An upstream may be several replica validators of one chain (`serve --order` on one order
//! stream, docs/REPLICATION.md), given as comma-separated URLs: every call goes to the
//! *current* one, and [`Upstream::fail_over`] moves to the next when it fails. Replicas hold
//! the same chain byte for byte, so the follower continues on the next one from its own
//! height and its checks against header and state hashes still hold. A batch whose fate is
//! unknown (the connection broke after sending) may be posted again, as the same bytes, to
//! another replica: both publish it to the same stream with the same message id (blake3 of
//! the bytes), which the stream stores once within its 2-minute duplicate window.

use crate::CoordError;
use mf_api::{BatchAnswer, Client, ErrorJson, FeedReader};
use mf_format::{Reason, TxId};
use mf_movegen::genesis::Genesis;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A validator's base URL (or several replicas' URLs) and the connection pools.
#[derive(Clone)]
pub struct Upstream {
    clients: Arc<[Client]>,
    current: Arc<AtomicUsize>,
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
    /// A replica could not publish the batch to its order stream, or stopped applying it
    /// (`503` `order_unavailable` or `replica_stopped`): the batch may be in the log; post
    /// the same bytes again, to the next replica. (Each of these three carries the
    /// replica's URL and its words.)
    Unavailable(String),
    /// A replica published the batch but did not apply it in time (`504`
    /// `order_timeout`): it is in the log and will be applied; posting the same bytes
    /// again within the duplicate window waits for it again.
    Pending(String),
    /// A replica says the same bytes are already in the log and applied, its answer not
    /// kept (`409` `already_in_log`): the fate is known to the feed, not to this answer.
    InLog(String),
}

/// The validator's feed as the follower reads it.
pub type Feed = FeedReader<Box<dyn Read + Send>>;

impl Upstream {
    /// A client for the validator at `base` (e.g. `http://127.0.0.1:8080`), or for several
    /// replicas of one chain: their URLs separated by commas, the first one current.
    pub fn new(base: &str) -> Upstream {
        let mut clients: Vec<Client> = base
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(Client::new)
            .collect();
        if clients.is_empty() {
            // Reported as an unreachable URL on the first call.
            clients.push(Client::new(base));
        }
        Upstream {
            clients: clients.into(),
            current: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// How many validators (replicas) this upstream has.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// True when it has none (never: [`Upstream::new`] keeps at least one URL).
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    fn client(&self) -> &Client {
        let i = self.current.load(Ordering::Relaxed) % self.clients.len().max(1);
        &self.clients[i]
    }

    /// The current validator's base URL.
    pub fn url(&self) -> &str {
        self.client().url()
    }

    /// The index of the current validator: what [`Upstream::fail_over`] takes.
    pub fn current(&self) -> usize {
        self.current.load(Ordering::Relaxed)
    }

    /// Moves to the next validator if `from` (a value of [`Upstream::current`]) is still
    /// the current one, so that two threads seeing the same failure move once. Returns
    /// true when this call moved (false with a single validator, or when another thread
    /// moved first).
    pub fn fail_over(&self, from: usize) -> bool {
        if self.clients.len() < 2 {
            return false;
        }
        let next = (from + 1) % self.clients.len();
        let moved = self
            .current
            .compare_exchange(from, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok();
        if moved {
            tracing::warn!(
                from = self.clients[from % self.clients.len()].url(),
                to = self.clients[next].url(),
                "failing over to the next validator replica"
            );
        }
        moved
    }

    /// A failure talking to this validator, as the coordinator reports it.
    pub fn err(&self, detail: impl std::fmt::Display) -> CoordError {
        err_from(self.client(), detail)
    }

    /// `GET /genesis`.
    pub fn genesis(&self) -> Result<Genesis, CoordError> {
        let c = self.client();
        let text = c.genesis_text().map_err(|e| err_from(c, e))?;
        Genesis::parse(&text).map_err(|e| err_from(c, format!("GET /genesis: {e}")))
    }

    /// `GET /head`: the validator's height.
    pub fn head_height(&self) -> Result<u64, CoordError> {
        let c = self.client();
        Ok(c.head().map_err(|e| err_from(c, e))?.height)
    }

    /// `GET /health`.
    pub fn healthy(&self) -> bool {
        self.client().health().is_ok()
    }

    /// `POST /batch`.
    pub fn submit(&self, batch_bytes: &[u8]) -> Result<Submitted, CoordError> {
        // The one validator this call went to, even if another thread fails over meanwhile.
        let c = self.client();
        match c.post_batch(batch_bytes).map_err(|e| err_from(c, e))? {
            BatchAnswer::Applied(a) => {
                let verdicts = a
                    .receipts
                    .iter()
                    .map(|r| {
                        let reason = r
                            .reason()
                            .map_err(|e| err_from(c, format!("receipt: {e}")))?;
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
            BatchAnswer::Unavailable(e)
                if e.error == ErrorJson::ORDER_UNAVAILABLE
                    || e.error == ErrorJson::REPLICA_STOPPED =>
            {
                Ok(Submitted::Unavailable(format!(
                    "{}: {}: {:.500}",
                    c.url(),
                    e.error,
                    e.detail
                )))
            }
            BatchAnswer::Unavailable(_) => Ok(Submitted::Busy),
            BatchAnswer::Refused { status, refusal } => Ok(Submitted::Refused(format!(
                "HTTP {status}: {} (code {:?}): {:.500}",
                refusal.reason, refusal.code, refusal.error
            ))),
            BatchAnswer::Other { status, body } => {
                let named = serde_json::from_str::<ErrorJson>(&body).ok();
                Ok(match named {
                    Some(e) if status == 504 && e.error == ErrorJson::ORDER_TIMEOUT => {
                        Submitted::Pending(format!("{}: {:.500}", c.url(), e.detail))
                    }
                    Some(e) if status == 409 && e.error == ErrorJson::ALREADY_IN_LOG => {
                        Submitted::InLog(format!("{}: {:.500}", c.url(), e.detail))
                    }
                    _ => Submitted::Refused(format!("HTTP {status}: {body:.500}")),
                })
            }
        }
    }

    /// Opens `GET /feed?from=H`; read it with [`FeedReader::next_record`] and report its
    /// errors with [`Upstream::err`].
    pub fn feed(&self, from: u64) -> Result<Feed, CoordError> {
        let c = self.client();
        c.feed(from).map_err(|e| err_from(c, e))
    }
}

/// A failure talking to the validator of `c`.
fn err_from(c: &Client, detail: impl std::fmt::Display) -> CoordError {
    CoordError::Upstream {
        url: c.url().to_string(),
        detail: detail.to_string(),
    }
}
