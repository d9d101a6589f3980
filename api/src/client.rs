//! A blocking client for the validator's HTTP API (ureq), as the coordinator and the tests
//! use it.

use crate::answer::{BatchApplied, BatchRefused, ErrorJson, HeaderJson, ReceiptsJson, VersionJson};
use crate::feed::{FeedError, FeedReader};
use crate::path::VersionPath;
use mf_format::{Key, TxId};
use serde::de::DeserializeOwned;
use std::io::Read;
use std::time::Duration;

/// Largest JSON answer read ([`crate::answer::MAX_JSON_ANSWER_BYTES`]).
const MAX_JSON_BYTES: u64 = crate::answer::MAX_JSON_ANSWER_BYTES as u64;
/// Largest `GET /genesis` answer read.
const MAX_GENESIS_BYTES: u64 = 1 << 30;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request could not be made or its answer not read.
    #[error("{method} {path}: {source}")]
    Transport {
        /// HTTP method.
        method: &'static str,
        /// Path and query.
        path: String,
        /// The transport error.
        source: ureq::Error,
    },
    /// An unexpected status.
    #[error("{method} {path}: HTTP {status}: {body:.300}")]
    Status {
        /// HTTP method.
        method: &'static str,
        /// Path and query.
        path: String,
        /// The status.
        status: u16,
        /// The answer's body.
        body: String,
    },
    /// The answer is not the JSON the contract says.
    #[error("{method} {path}: unexpected answer: {source}")]
    Json {
        /// HTTP method.
        method: &'static str,
        /// Path and query.
        path: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The feed broke off or carried a bad record.
    #[error(transparent)]
    Feed(#[from] FeedError),
}

/// What `POST /batch` answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchAnswer {
    /// `200`: checked, and what was accepted (possibly nothing) is committed.
    Applied(BatchApplied),
    /// `503`: a queue is full (`busy`) or the validator is stopping (`shutting_down`);
    /// nothing was applied: try again shortly. From a replica also `order_unavailable`
    /// (the batch may be in the order stream: post the same bytes again) and
    /// `replica_stopped` (post to another replica).
    Unavailable(ErrorJson),
    /// `400`, `413`, `422` or `500` with a refusal body: refused as a whole.
    Refused {
        /// The status.
        status: u16,
        /// The refusal.
        refusal: BatchRefused,
    },
    /// Any other answer (e.g. a `400` for an unreadable body): nothing was applied; except,
    /// from a replica, `504` `order_timeout` (the batch is in the order stream and will be
    /// applied) and `409` `already_in_log` (it was applied; its answer is not kept).
    Other {
        /// The status.
        status: u16,
        /// The body, as text.
        body: String,
    },
}

/// A validator's base URL and two connection pools (requests, and the feed's stream).
#[derive(Clone)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
    feed_agent: ureq::Agent,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).finish()
    }
}

/// An agent that reports every status as an answer. Timeouts are per phase (connect 5 s,
/// then `timeout` for sending and for receiving; none for a stream) and never on name
/// resolution, which ureq would do on a new thread per request.
fn agent(timeout: Option<Duration>) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(5)))
        .timeout_send_request(timeout)
        .timeout_send_body(timeout)
        .timeout_recv_response(timeout)
        .timeout_recv_body(timeout)
        .http_status_as_error(false)
        .build()
        .into()
}

impl Client {
    /// A client for the validator at `base` (e.g. `http://127.0.0.1:8080`), with a 60 s
    /// timeout per request phase.
    pub fn new(base: &str) -> Client {
        Client::with_timeout(base, Duration::from_secs(60))
    }

    /// A client whose requests time out after `timeout` per phase (the feed never does).
    pub fn with_timeout(base: &str, timeout: Duration) -> Client {
        Client {
            base: base.trim_end_matches('/').to_string(),
            agent: agent(Some(timeout)),
            feed_agent: agent(None),
        }
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// `GET path`: the status and the body as text (at most `limit` bytes).
    fn get_text(&self, path: &str, limit: u64) -> Result<(u16, String), ClientError> {
        let transport = |source| ClientError::Transport {
            method: "GET",
            path: path.to_string(),
            source,
        };
        let mut resp = self
            .agent
            .get(format!("{}{path}", self.base))
            .call()
            .map_err(transport)?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_string()
            .map_err(transport)?;
        Ok((status, text))
    }

    /// `GET path` expecting `200` (or `404`, then `None`) with a JSON body.
    fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ClientError> {
        let (status, text) = self.get_text(path, MAX_JSON_BYTES)?;
        match status {
            200 => parse("GET", path, &text).map(Some),
            404 => Ok(None),
            _ => Err(status_error("GET", path, status, text)),
        }
    }

    /// `GET /health`: `Ok` when the validator answers `200`.
    pub fn health(&self) -> Result<(), ClientError> {
        match self.get_text("/health", 1024)? {
            (200, _) => Ok(()),
            (status, body) => Err(status_error("GET", "/health", status, body)),
        }
    }

    /// `GET /head`: the last header.
    pub fn head(&self) -> Result<HeaderJson, ClientError> {
        self.get_json("/head")?.ok_or_else(|| ClientError::Status {
            method: "GET",
            path: "/head".into(),
            status: 404,
            body: String::new(),
        })
    }

    /// `GET /header/{height}`; `None` when there is none.
    pub fn header(&self, height: u64) -> Result<Option<HeaderJson>, ClientError> {
        self.get_json(&format!("/header/{height}"))
    }

    /// `GET /receipts/{height}`; `None` when there is no such height.
    pub fn receipts(&self, height: u64) -> Result<Option<ReceiptsJson>, ClientError> {
        self.get_json(&format!("/receipts/{height}"))
    }

    /// `GET /version/{intx}/{mark}/{addr}/{slot}`.
    pub fn version(&self, intx: TxId, key: Key) -> Result<VersionJson, ClientError> {
        let path = VersionPath::new(intx, key).to_string();
        let (status, text) = self.get_text(&path, MAX_JSON_BYTES)?;
        match status {
            200 => parse("GET", &path, &text),
            _ => Err(status_error("GET", &path, status, text)),
        }
    }

    /// `GET /batch/{height}`: the accepted transactions, encoded as a batch; `None` when
    /// there is no such height.
    pub fn batch_bytes(&self, height: u64) -> Result<Option<Vec<u8>>, ClientError> {
        let path = format!("/batch/{height}");
        let transport = |source| ClientError::Transport {
            method: "GET",
            path: path.clone(),
            source,
        };
        let mut resp = self
            .agent
            .get(format!("{}{path}", self.base))
            .call()
            .map_err(transport)?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(mf_format::limits::MAX_BATCH_BYTES as u64)
            .read_to_vec()
            .map_err(transport)?;
        match status {
            200 => Ok(Some(body)),
            404 => Ok(None),
            _ => Err(status_error(
                "GET",
                &path,
                status,
                String::from_utf8_lossy(&body).into_owned(),
            )),
        }
    }

    /// `GET /genesis`: the genesis in the alloc JSON of `mf-validator init --genesis`, as
    /// text (parse it with `mf_movegen::genesis::Genesis::parse`).
    pub fn genesis_text(&self) -> Result<String, ClientError> {
        match self.get_text("/genesis", MAX_GENESIS_BYTES)? {
            (200, text) => Ok(text),
            (status, body) => Err(status_error("GET", "/genesis", status, body)),
        }
    }

    /// `POST /batch` with an encoded batch.
    pub fn post_batch(&self, batch_bytes: &[u8]) -> Result<BatchAnswer, ClientError> {
        let transport = |source| ClientError::Transport {
            method: "POST",
            path: "/batch".into(),
            source,
        };
        let mut resp = self
            .agent
            .post(format!("{}/batch", self.base))
            .header("content-type", "application/octet-stream")
            .send(batch_bytes)
            .map_err(transport)?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_JSON_BYTES)
            .read_to_string()
            .map_err(transport)?;
        Ok(match status {
            200 => BatchAnswer::Applied(parse("POST", "/batch", &text)?),
            503 => BatchAnswer::Unavailable(
                serde_json::from_str(&text)
                    .unwrap_or_else(|_| ErrorJson::new(ErrorJson::BUSY, text)),
            ),
            _ => match serde_json::from_str::<BatchRefused>(&text) {
                Ok(refusal) => BatchAnswer::Refused { status, refusal },
                Err(_) => BatchAnswer::Other { status, body: text },
            },
        })
    }

    /// Opens `GET /feed?from={from}`: records from that height on, then each new one as it
    /// is committed, until the validator stops.
    pub fn feed(&self, from: u64) -> Result<FeedReader<Box<dyn Read + Send>>, ClientError> {
        let path = format!("/feed?from={from}");
        let resp = self
            .feed_agent
            .get(format!("{}{path}", self.base))
            .call()
            .map_err(|source| ClientError::Transport {
                method: "GET",
                path: path.clone(),
                source,
            })?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(status_error("GET", &path, status, String::new()));
        }
        let body: Box<dyn Read + Send> = Box::new(resp.into_body().into_reader());
        Ok(FeedReader::new(body))
    }
}

fn parse<T: DeserializeOwned>(
    method: &'static str,
    path: &str,
    text: &str,
) -> Result<T, ClientError> {
    serde_json::from_str(text).map_err(|source| ClientError::Json {
        method,
        path: path.to_string(),
        source,
    })
}

fn status_error(method: &'static str, path: &str, status: u16, body: String) -> ClientError {
    ClientError::Status {
        method,
        path: path.to_string(),
        status,
        body,
    }
}
