//! The HTTP API of `mf-validator serve`.
//!
//! # Threads
//!
//! One dedicated OS thread (the *worker*) owns the [`Validator`] and applies batches one at a
//! time from a bounded queue (`--queue`, default 16). Back-pressure is explicit: when
//! `queue + 1` batch requests are already in progress (uploading, queued or being applied),
//! or the queue itself is full, `POST /batch` answers `503` with `{"error":"busy", ...}` and
//! `Retry-After: 1`. A refused body is read and dropped as it arrives (never kept), so that
//! simple clients see the answer; a client that sends `Expect: 100-continue` is answered
//! before it sends the body. The server never holds more than a bounded number of batches
//! in memory.
//!
//! Version lookups need the in-memory index, so they go to the worker too, on a second small
//! queue that the worker serves before the next batch. Everything else (headers, batches,
//! receipts, the feed) is read straight from the store through
//! [`Validator::store_handle`]: LMDB readers do not block the writer, and only committed
//! heights (published on a watch channel after each commit) are ever read.
//!
//! # Endpoints
//!
//! | method and path | answer |
//! | --- | --- |
//! | `POST /batch` | body: an encoded batch (at most [`MAX_BATCH_BYTES`]). `200` with `{height, header_hash, state_hash, accepted, receipts: [{tx_id, status, code, gas_used, logs}]}`; `height` and `header_hash` are `null` when no transaction was accepted (nothing was written). `400` `{error, reason, code}` when the bytes are not a batch (`reason` `malformed` or `limit_exceeded`) or the batch is empty (`reason` `empty_batch`, `code` `null`); `413` `{error, reason: "limit_exceeded", code: 2}` when the body is over the limit; `422` `{error, reason, code, index, tx_id, receipts}` when strict mode refuses the batch; `503` `{error: "busy", detail, queue_capacity}` when the queue is full, `503` `{error: "shutting_down"}` when the server stops before applying it. Nothing is applied unless the answer is `200` |
//! | `GET /head` | the last header as JSON, with its `hash` |
//! | `GET /genesis` | the genesis in the alloc JSON of `init --genesis` (chain id, every genesis version, the code of its contracts); its LtHash is header 0's `state_hash` |
//! | `GET /header/{height}` | that header as JSON, `404` if there is none |
//! | `GET /batch/{height}` | the batch's accepted transactions, encoded as a batch (`application/octet-stream`); when every transaction was accepted these are the bytes posted |
//! | `GET /receipts/{height}` | `{height, receipts: [...]}` |
//! | `GET /version/{intx}/{mark}/{addr}/{slot}` | hex `intx` (32 bytes), mark `a`/`s`, hex address, hex slot: `{state: "live" \| "never_written" \| "not_live", value}`; an account value is `{balance, nonce, code_hash}`, a storage value a hex word, `null` when not live |
//! | `GET /feed?from=H` | the stream of accepted batches from height `H` (default 1) on, see below |
//! | `GET /metrics` | Prometheus text format |
//! | `GET /health` | `200 ok` |
//!
//! Hashes, ids, addresses and U256 quantities are `0x`-prefixed lowercase hex in JSON.
//! Every error answer is JSON with at least an `error` field.
//!
//! # The feed
//!
//! `GET /feed?from=H` answers `200` with `Content-Type: application/octet-stream` and a
//! chunked body that never ends on its own: it carries one record per stored height
//! `H, H+1, ...` up to the head, then waits for new batches and sends each as soon as it is
//! committed, until the client disconnects or the server shuts down (then the body ends
//! cleanly after a whole record). A record is three length-prefixed parts:
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
//! In filter mode the receipts may outnumber the batch's transactions (rejected ones are not
//! stored): match them by `tx_id`, not by position. The header's `tx_root` covers exactly the
//! transactions of `batch`, its `receipts_root` exactly `receipts`.
//!
//! Records are contiguous and in height order with no gaps; HTTP chunk boundaries carry no
//! meaning (a record may span chunks). Height 0 is the genesis record (an empty batch); a
//! follower normally starts at 1. A follower that reconnects asks for `from = last height + 1`.

use crate::StoreError;
use crate::store::Store;
use crate::{ApplyError, Mode, Outcome, Validator, VersionState};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mf_format::limits::MAX_BATCH_BYTES;
use mf_format::{
    Address, B256, Header, Key, Mark, Reason, Receipt, Status, U256, Value, header_hash,
};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use std::fmt::Write as _;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// How the server runs.
#[derive(Clone, Copy, Debug)]
pub struct ServeConfig {
    /// How batches posted to `/batch` are applied.
    pub mode: Mode,
    /// Capacity of the batch queue (at least 1).
    pub queue: usize,
    /// After a shutdown signal, how long open connections may take to finish before the
    /// server stops waiting for them.
    pub grace: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            mode: Mode::Filter,
            queue: 16,
            grace: Duration::from_secs(10),
        }
    }
}

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Socket or thread error.
    #[error("server I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The worker thread that owns the validator panicked.
    #[error("the apply worker panicked; the store holds every batch committed before it")]
    WorkerPanicked,
}

// ---------------------------------------------------------------------------------------
// JSON renderings (also used by the binary's `inspect --json`).

fn hex(b: &[u8]) -> String {
    alloy_primitives::hex::encode_prefixed(b)
}

fn hex_u256(v: &U256) -> String {
    format!("{v:#x}")
}

/// A header as JSON, with its hash.
pub fn header_json(h: &Header) -> Json {
    json!({
        "height": h.height,
        "hash": hex(header_hash(h).as_slice()),
        "parent": hex(h.parent.as_slice()),
        "tx_root": hex(h.tx_root.as_slice()),
        "receipts_root": hex(h.receipts_root.as_slice()),
        "state_hash": hex(h.state_hash.as_slice()),
        "time_ms": h.time_ms,
    })
}

/// A receipt as JSON: `status` is `accepted` or the reason's name, `code` its number.
pub fn receipt_json(r: &Receipt) -> Json {
    let (status, code) = match r.status {
        Status::Accepted => ("accepted", 0u16),
        Status::Rejected(reason) => (reason.name(), reason.code()),
    };
    let logs: Vec<Json> = r
        .logs
        .iter()
        .map(|l| {
            json!({
                "address": hex(l.address.as_slice()),
                "topics": l.topics.iter().map(|t| hex(t.as_slice())).collect::<Vec<_>>(),
                "data": hex(&l.data),
            })
        })
        .collect();
    json!({
        "tx_id": hex(r.tx_id.as_slice()),
        "status": status,
        "code": code,
        "gas_used": r.gas_used,
        "logs": logs,
    })
}

/// A value as JSON: an account is `{balance, nonce, code_hash}`, a storage word a hex string.
pub fn value_json(v: &Value) -> Json {
    match v {
        Value::Account(a) => json!({
            "balance": hex_u256(&a.balance),
            "nonce": a.nonce,
            "code_hash": hex(a.code_hash.as_slice()),
        }),
        Value::Storage(w) => json!(hex_u256(w)),
    }
}

/// A version lookup as JSON: `{state, value}`.
pub fn version_json(s: &VersionState) -> Json {
    match s {
        VersionState::Live(v) => json!({"state": "live", "value": value_json(v)}),
        VersionState::NeverWritten(v) => {
            json!({"state": "never_written", "value": value_json(v)})
        }
        VersionState::NotLive => json!({"state": "not_live", "value": null}),
    }
}

fn json_response(status: StatusCode, body: &Json) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error_response(status: StatusCode, error: &str, detail: impl std::fmt::Display) -> Response {
    json_response(
        status,
        &json!({"error": error, "detail": detail.to_string()}),
    )
}

// ---------------------------------------------------------------------------------------
// Metrics.

/// Upper bounds (seconds) of the apply-time histogram buckets.
const APPLY_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// Refusals of a whole batch that have no protocol reason code.
const REFUSAL_EMPTY: usize = 0;
const REFUSAL_STORE: usize = 1;

/// Counters the worker and the handlers update; rendered by `GET /metrics`.
pub struct Metrics {
    height: AtomicU64,
    applying: AtomicU64,
    index_entries: AtomicU64,
    batches_applied: AtomicU64,
    batches_nothing_accepted: AtomicU64,
    txs_accepted: AtomicU64,
    moves_applied: AtomicU64,
    /// Rejected transactions, by position in [`Reason::ALL`].
    txs_rejected: Vec<AtomicU64>,
    /// Refused batches, by position in [`Reason::ALL`].
    batches_refused: Vec<AtomicU64>,
    /// Refused batches without a reason code: empty, store error.
    batches_refused_other: [AtomicU64; 2],
    busy: AtomicU64,
    apply_count: AtomicU64,
    apply_micros: AtomicU64,
    apply_buckets: [AtomicU64; APPLY_BUCKETS.len()],
    /// Seconds per stage (decode, stateless, apply, commit), in microseconds.
    stage_micros: [AtomicU64; 4],
}

fn reason_index(r: Reason) -> usize {
    Reason::ALL.iter().position(|x| *x == r).unwrap_or(0)
}

impl Metrics {
    fn new(height: u64, index_entries: usize) -> Metrics {
        let zeros = || (0..Reason::ALL.len()).map(|_| AtomicU64::new(0)).collect();
        Metrics {
            height: AtomicU64::new(height),
            applying: AtomicU64::new(0),
            index_entries: AtomicU64::new(index_entries as u64),
            batches_applied: AtomicU64::new(0),
            batches_nothing_accepted: AtomicU64::new(0),
            txs_accepted: AtomicU64::new(0),
            moves_applied: AtomicU64::new(0),
            txs_rejected: zeros(),
            batches_refused: zeros(),
            batches_refused_other: Default::default(),
            busy: AtomicU64::new(0),
            apply_count: AtomicU64::new(0),
            apply_micros: AtomicU64::new(0),
            apply_buckets: Default::default(),
            stage_micros: Default::default(),
        }
    }

    fn observe_apply(&self, secs: f64) {
        self.apply_count.fetch_add(1, Relaxed);
        self.apply_micros.fetch_add((secs * 1e6) as u64, Relaxed);
        for (b, le) in self.apply_buckets.iter().zip(APPLY_BUCKETS) {
            if secs <= le {
                b.fetch_add(1, Relaxed);
            }
        }
    }

    fn observe_outcome(&self, out: &Outcome) {
        let t = &out.timings;
        for (m, s) in self
            .stage_micros
            .iter()
            .zip([t.decode, t.stateless, t.apply, t.commit])
        {
            m.fetch_add((s * 1e6) as u64, Relaxed);
        }
        for r in &out.receipts {
            if let Status::Rejected(reason) = r.status {
                self.txs_rejected[reason_index(reason)].fetch_add(1, Relaxed);
            }
        }
        if out.header.is_some() {
            self.batches_applied.fetch_add(1, Relaxed);
            self.txs_accepted.fetch_add(out.accepted as u64, Relaxed);
            self.moves_applied.fetch_add(out.moves as u64, Relaxed);
        } else {
            self.batches_nothing_accepted.fetch_add(1, Relaxed);
        }
    }

    fn observe_refusal(&self, e: &ApplyError) {
        match (e, e.reason()) {
            (_, Some(r)) => self.batches_refused[reason_index(r)].fetch_add(1, Relaxed),
            (ApplyError::Store(_), None) => {
                self.batches_refused_other[REFUSAL_STORE].fetch_add(1, Relaxed)
            }
            (_, None) => self.batches_refused_other[REFUSAL_EMPTY].fetch_add(1, Relaxed),
        };
    }

    fn render(&self, queue_depth: usize, queue_capacity: usize) -> String {
        let mut s = String::with_capacity(4096);
        let mut metric = |name: &str, kind: &str, help: &str, lines: &[(String, u64)]| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, v) in lines {
                let _ = writeln!(s, "{name}{labels} {v}");
            }
        };
        let one = |v: &AtomicU64| vec![(String::new(), v.load(Relaxed))];
        metric(
            "mf_height",
            "gauge",
            "Height of the last committed batch.",
            &one(&self.height),
        );
        metric(
            "mf_index_entries",
            "gauge",
            "Entries of the in-memory index (live versions and used markers).",
            &one(&self.index_entries),
        );
        metric(
            "mf_queue_depth",
            "gauge",
            "Batches waiting in the apply queue.",
            &[(String::new(), queue_depth as u64)],
        );
        metric(
            "mf_applying",
            "gauge",
            "1 while the worker is applying a batch.",
            &one(&self.applying),
        );
        metric(
            "mf_queue_capacity",
            "gauge",
            "Capacity of the apply queue.",
            &[(String::new(), queue_capacity as u64)],
        );
        metric(
            "mf_batches_applied_total",
            "counter",
            "Batches committed (at least one transaction accepted).",
            &one(&self.batches_applied),
        );
        metric(
            "mf_batches_nothing_accepted_total",
            "counter",
            "Batches decoded and checked in which no transaction was accepted (nothing written).",
            &one(&self.batches_nothing_accepted),
        );
        let mut refused: Vec<(String, u64)> = Reason::ALL
            .iter()
            .zip(&self.batches_refused)
            .map(|(r, c)| (format!("{{reason=\"{}\"}}", r.name()), c.load(Relaxed)))
            .filter(|(_, c)| *c > 0)
            .collect();
        for (name, c) in ["empty_batch", "store_error"]
            .iter()
            .zip(&self.batches_refused_other)
        {
            refused.push((format!("{{reason=\"{name}\"}}"), c.load(Relaxed)));
        }
        metric(
            "mf_batches_refused_total",
            "counter",
            "Batches refused as a whole (undecodable, empty, strict-mode invalid, store error).",
            &refused,
        );
        metric(
            "mf_txs_accepted_total",
            "counter",
            "Transactions accepted.",
            &one(&self.txs_accepted),
        );
        let rejected: Vec<(String, u64)> = Reason::ALL
            .iter()
            .zip(&self.txs_rejected)
            .map(|(r, c)| (format!("{{reason=\"{}\"}}", r.name()), c.load(Relaxed)))
            .collect();
        metric(
            "mf_txs_rejected_total",
            "counter",
            "Transactions rejected, by reason (filter mode drops; strict refusals count here too).",
            &rejected,
        );
        metric(
            "mf_moves_applied_total",
            "counter",
            "Moves of accepted transactions.",
            &one(&self.moves_applied),
        );
        metric(
            "mf_busy_total",
            "counter",
            "Requests answered 503 because a queue was full.",
            &one(&self.busy),
        );
        let stages: Vec<(String, u64)> = ["decode", "stateless", "apply", "commit"]
            .iter()
            .zip(&self.stage_micros)
            .map(|(n, m)| (format!("{{stage=\"{n}\"}}"), m.load(Relaxed)))
            .collect();
        metric(
            "mf_stage_microseconds_total",
            "counter",
            "Time spent per stage of batch application, in microseconds.",
            &stages,
        );
        let _ = writeln!(
            s,
            "# HELP mf_apply_seconds Time to apply one batch (worker, decode to commit).\n\
             # TYPE mf_apply_seconds histogram"
        );
        for (b, le) in self.apply_buckets.iter().zip(APPLY_BUCKETS) {
            let _ = writeln!(
                s,
                "mf_apply_seconds_bucket{{le=\"{le}\"}} {}",
                b.load(Relaxed)
            );
        }
        let count = self.apply_count.load(Relaxed);
        let _ = writeln!(s, "mf_apply_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            s,
            "mf_apply_seconds_sum {}",
            self.apply_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(s, "mf_apply_seconds_count {count}");
        s
    }
}

// ---------------------------------------------------------------------------------------
// The worker.

struct ApplyJob {
    bytes: Bytes,
    reply: oneshot::Sender<(StatusCode, Json)>,
}

struct VersionJob {
    intx: B256,
    key: Key,
    reply: oneshot::Sender<Result<VersionState, String>>,
}

/// Sets the shutdown flag when the worker ends, however it ends (a panic included), so that
/// the HTTP side stops too.
struct ShutdownOnDrop(Arc<watch::Sender<bool>>);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

struct Worker {
    validator: Validator,
    mode: Mode,
    metrics: Arc<Metrics>,
    head: watch::Sender<u64>,
}

impl Worker {
    fn apply(&mut self, bytes: &[u8]) -> (StatusCode, Json) {
        let t = Instant::now();
        self.metrics.applying.store(1, Relaxed);
        let result = self.validator.apply_bytes(bytes, self.mode);
        self.metrics.applying.store(0, Relaxed);
        let secs = t.elapsed().as_secs_f64();
        self.metrics.observe_apply(secs);
        match result {
            Ok(out) => {
                self.metrics.observe_outcome(&out);
                let receipts: Vec<Json> = out.receipts.iter().map(receipt_json).collect();
                let (height, hash) = match &out.header {
                    Some(h) => {
                        self.metrics.height.store(h.height, Relaxed);
                        self.metrics
                            .index_entries
                            .store(self.validator.index_len() as u64, Relaxed);
                        self.head.send_replace(h.height);
                        tracing::info!(
                            height = h.height,
                            txs = out.receipts.len(),
                            accepted = out.accepted,
                            moves = out.moves,
                            ms = format_args!("{:.2}", secs * 1e3),
                            "batch applied"
                        );
                        (json!(h.height), json!(hex(header_hash(h).as_slice())))
                    }
                    None => {
                        tracing::info!(
                            txs = out.receipts.len(),
                            "batch checked: no transaction accepted, nothing written"
                        );
                        (Json::Null, Json::Null)
                    }
                };
                (
                    StatusCode::OK,
                    json!({
                        "height": height,
                        "header_hash": hash,
                        "state_hash": hex(self.validator.state_hash().as_slice()),
                        "accepted": out.accepted,
                        "moves": out.moves,
                        "receipts": receipts,
                    }),
                )
            }
            Err(e) => {
                self.metrics.observe_refusal(&e);
                tracing::warn!("{e}");
                refusal_json(&e)
            }
        }
    }
}

fn refusal_json(e: &ApplyError) -> (StatusCode, Json) {
    match e {
        ApplyError::Decode(f) => {
            let r = f.reason();
            (
                StatusCode::BAD_REQUEST,
                json!({"error": e.to_string(), "reason": r.name(), "code": r.code()}),
            )
        }
        ApplyError::Empty => (
            StatusCode::BAD_REQUEST,
            json!({"error": e.to_string(), "reason": "empty_batch", "code": null}),
        ),
        ApplyError::Strict {
            index,
            tx_id,
            reason,
            receipts,
        } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({
                "error": e.to_string(),
                "reason": reason.name(),
                "code": reason.code(),
                "index": index,
                "tx_id": hex(tx_id.as_slice()),
                "receipts": receipts.iter().map(receipt_json).collect::<Vec<_>>(),
            }),
        ),
        ApplyError::Store(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": e.to_string(), "reason": "store_error", "code": null}),
        ),
    }
}

fn run_worker(
    mut worker: Worker,
    mut batches: mpsc::Receiver<ApplyJob>,
    mut versions: mpsc::Receiver<VersionJob>,
    shutdown: Arc<watch::Sender<bool>>,
) {
    let _guard = ShutdownOnDrop(Arc::clone(&shutdown));
    let rt = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the worker's event loop: {e}");
            return;
        }
    };
    let mut stop = shutdown.subscribe();
    rt.block_on(async move {
        loop {
            tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => break,
                Some(job) = versions.recv() => {
                    let r = worker
                        .validator
                        .version(&job.intx, &job.key)
                        .map_err(|e| e.to_string());
                    let _ = job.reply.send(r);
                }
                job = batches.recv() => match job {
                    Some(job) => {
                        let answer = worker.apply(&job.bytes);
                        // The client may have gone; the batch is applied all the same.
                        let _ = job.reply.send(answer);
                    }
                    None => break,
                },
            }
        }
        tracing::info!(
            height = worker.validator.head().height,
            "apply worker stopped"
        );
    });
}

// ---------------------------------------------------------------------------------------
// The HTTP side.

#[derive(Clone)]
struct AppState {
    store: Arc<Store>,
    batches: mpsc::Sender<ApplyJob>,
    versions: mpsc::Sender<VersionJob>,
    /// Permits for `POST /batch` requests in progress (`queue + 1`).
    admission: Arc<tokio::sync::Semaphore>,
    head: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
}

impl AppState {
    fn busy(&self, what: &str) -> Response {
        self.metrics.busy.fetch_add(1, Relaxed);
        let mut r = json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({
                "error": "busy",
                "detail": format!("the {what} queue is full; retry later"),
                "queue_capacity": self.batches.max_capacity(),
            }),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        r
    }
}

/// An error answer: `{error, detail}` with a status.
struct ApiError {
    status: StatusCode,
    error: &'static str,
    detail: String,
}

impl ApiError {
    fn new(status: StatusCode, error: &'static str, detail: impl std::fmt::Display) -> ApiError {
        ApiError {
            status,
            error,
            detail: detail.to_string(),
        }
    }
    fn bad_request(detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }
    fn not_found(what: &str, height: u64) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no {what} at height {height}"),
        )
    }
    fn shutting_down() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the validator is stopping; the request was not carried out",
        )
    }
    fn store(e: impl std::fmt::Display) -> ApiError {
        tracing::error!("store read failed: {e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "store_error", e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(self.status, self.error, self.detail)
    }
}

type ApiResult = Result<Response, ApiError>;

fn parse_height(s: &str) -> Result<u64, ApiError> {
    s.parse::<u64>()
        .map_err(|_| ApiError::bad_request(format!("height {s:?} is not a non-negative integer")))
}

/// Runs a store read on the blocking pool (a batch may be tens of MiB).
async fn read_store<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = Arc::clone(store);
    match tokio::task::spawn_blocking(move || f(&store)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ApiError::store(e)),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            e,
        )),
    }
}

fn limit_exceeded(detail: impl std::fmt::Display) -> Response {
    json_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        &json!({
            "error": detail.to_string(),
            "reason": Reason::LimitExceeded.name(),
            "code": Reason::LimitExceeded.code(),
        }),
    )
}

/// Reads and drops a request body: at most [`MAX_BATCH_BYTES`], for at most 10 s.
async fn discard_body(mut body: Body) {
    use http_body_util::BodyExt;
    let mut seen = 0usize;
    let deadline = tokio::time::sleep(Duration::from_secs(10));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            frame = body.frame() => match frame {
                Some(Ok(f)) => {
                    seen += f.data_ref().map_or(0, |d| d.len());
                    if seen > MAX_BATCH_BYTES {
                        return;
                    }
                }
                _ => return,
            },
            _ = &mut deadline => return,
        }
    }
}

async fn post_batch(State(s): State<AppState>, req: Request) -> ApiResult {
    // Admission first, before a byte of the body is read: at most `queue + 1` batches are
    // uploading, queued or being applied on behalf of connected clients.
    let Ok(_permit) = Arc::clone(&s.admission).try_acquire_owned() else {
        // Read and discard the body (nothing is kept) so that a simple client, which writes
        // the whole body before it reads, gets the 503 rather than a reset connection. A
        // client that sent `Expect: 100-continue` is answered at once and sends nothing.
        if !req.headers().contains_key(header::EXPECT) {
            discard_body(req.into_body()).await;
        }
        return Ok(s.busy("batch"));
    };
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = announced
        && n > MAX_BATCH_BYTES as u64
    {
        return Ok(limit_exceeded(format!(
            "the batch is {n} bytes, at most {MAX_BATCH_BYTES} allowed"
        )));
    }
    let bytes = match axum::body::to_bytes(req.into_body(), MAX_BATCH_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            let over = std::error::Error::source(&e)
                .is_some_and(|src| src.is::<http_body_util::LengthLimitError>());
            if over {
                return Ok(limit_exceeded(format!(
                    "the batch is over {MAX_BATCH_BYTES} bytes"
                )));
            }
            return Err(ApiError::bad_request(format!(
                "cannot read the request body: {e}"
            )));
        }
    };
    let (reply, answer) = oneshot::channel();
    match s.batches.try_send(ApplyJob { bytes, reply }) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => return Ok(s.busy("batch")),
        Err(mpsc::error::TrySendError::Closed(_)) => return Err(ApiError::shutting_down()),
    }
    let (status, body) = answer.await.map_err(|_| ApiError::shutting_down())?;
    Ok(json_response(status, &body))
}

async fn header_at(s: &AppState, height: u64) -> ApiResult {
    match read_store(&s.store, move |st| st.header(height)).await? {
        Some(h) => Ok(json_response(StatusCode::OK, &header_json(&h))),
        None => Err(ApiError::not_found("header", height)),
    }
}

async fn get_head(State(s): State<AppState>) -> ApiResult {
    let height = *s.head.borrow();
    header_at(&s, height).await
}

async fn get_genesis(State(s): State<AppState>) -> ApiResult {
    let g = read_store(&s.store, crate::replay::genesis_of).await?;
    Ok(json_response(StatusCode::OK, &g.to_json()))
}

async fn get_header(State(s): State<AppState>, Path(height): Path<String>) -> ApiResult {
    header_at(&s, parse_height(&height)?).await
}

async fn get_batch(State(s): State<AppState>, Path(height): Path<String>) -> ApiResult {
    let height = parse_height(&height)?;
    match read_store(&s.store, move |st| st.batch_bytes(height)).await? {
        Some(b) => Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            b,
        )
            .into_response()),
        None => Err(ApiError::not_found("batch", height)),
    }
}

async fn get_receipts(State(s): State<AppState>, Path(height): Path<String>) -> ApiResult {
    let height = parse_height(&height)?;
    match read_store(&s.store, move |st| st.receipts(height)).await? {
        Some(rs) => Ok(json_response(
            StatusCode::OK,
            &json!({
                "height": height,
                "receipts": rs.iter().map(receipt_json).collect::<Vec<_>>(),
            }),
        )),
        None => Err(ApiError::not_found("receipts", height)),
    }
}

fn parse_hex_fixed<T: FromStr>(what: &str, s: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    T::from_str(s.trim()).map_err(|e| ApiError::bad_request(format!("{what} {s:?}: {e}")))
}

fn parse_version_path(
    intx: &str,
    mark: &str,
    addr: &str,
    slot: &str,
) -> Result<(B256, Key), ApiError> {
    let intx: B256 = parse_hex_fixed("intx", intx)?;
    let mark = match mark {
        "a" | "account" => Mark::Account,
        "s" | "storage" => Mark::Storage,
        other => {
            return Err(ApiError::bad_request(format!(
                "mark {other:?}: use a (account) or s (storage)"
            )));
        }
    };
    let addr: Address = parse_hex_fixed("addr", addr)?;
    let digits = slot.trim();
    let digits = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
        .unwrap_or(digits);
    let slot = U256::from_str_radix(digits, 16)
        .map_err(|e| ApiError::bad_request(format!("slot {slot:?} is not a hex U256: {e}")))?;
    Ok((intx, Key { mark, addr, slot }))
}

async fn get_version(
    State(s): State<AppState>,
    Path((intx, mark, addr, slot)): Path<(String, String, String, String)>,
) -> ApiResult {
    let (intx, key) = parse_version_path(&intx, &mark, &addr, &slot)?;
    let (reply, answer) = oneshot::channel();
    match s.versions.try_send(VersionJob { intx, key, reply }) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => return Ok(s.busy("lookup")),
        Err(mpsc::error::TrySendError::Closed(_)) => return Err(ApiError::shutting_down()),
    }
    match answer.await {
        Ok(Ok(v)) => Ok(json_response(StatusCode::OK, &version_json(&v))),
        Ok(Err(e)) => Err(ApiError::store(e)),
        Err(_) => Err(ApiError::shutting_down()),
    }
}

#[derive(Deserialize)]
struct FeedQuery {
    from: Option<u64>,
}

/// One feed record for `height` (see the module doc), or `None` if it is not stored.
fn feed_record(store: &Store, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
    let (Some(h), Some(b), Some(r)) = (
        store.header(height)?,
        store.batch_bytes(height)?,
        store.receipts_bytes(height)?,
    ) else {
        return Ok(None);
    };
    let h = mf_format::encode(&h);
    let mut out = Vec::with_capacity(12 + h.len() + b.len() + r.len());
    for part in [&h[..], &b[..], &r[..]] {
        let len = u32::try_from(part.len())
            .map_err(|_| StoreError::Corrupt(format!("feed part of {} bytes", part.len())))?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(part);
    }
    Ok(Some(out))
}

struct Feed {
    store: Arc<Store>,
    next: u64,
    head: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
    done: bool,
}

async fn feed_next(mut f: Feed) -> Option<(Result<Bytes, std::io::Error>, Feed)> {
    loop {
        if f.done || *f.shutdown.borrow() {
            return None;
        }
        let head = *f.head.borrow_and_update();
        if f.next <= head {
            let height = f.next;
            let store = Arc::clone(&f.store);
            let rec = tokio::task::spawn_blocking(move || feed_record(&store, height)).await;
            let err = match rec {
                Ok(Ok(Some(bytes))) => {
                    f.next += 1;
                    return Some((Ok(Bytes::from(bytes)), f));
                }
                Ok(Ok(None)) => format!("height {height} is not in the store"),
                Ok(Err(e)) => e.to_string(),
                Err(e) => e.to_string(),
            };
            tracing::error!(height, "feed stopped: {err}");
            f.done = true;
            return Some((Err(std::io::Error::other(err)), f));
        }
        tokio::select! {
            r = f.head.changed() => if r.is_err() { return None },
            _ = f.shutdown.wait_for(|s| *s) => return None,
        }
    }
}

async fn get_feed(
    State(s): State<AppState>,
    q: Result<Query<FeedQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let feed = Feed {
        store: Arc::clone(&s.store),
        next: q.from.unwrap_or(1),
        head: s.head.clone(),
        shutdown: s.shutdown.clone(),
        done: false,
    };
    let stream = futures_util::stream::unfold(feed, feed_next);
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn get_metrics(State(s): State<AppState>) -> Response {
    let cap = s.batches.max_capacity();
    let depth = cap.saturating_sub(s.batches.capacity());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(depth, cap),
    )
        .into_response()
}

async fn get_health() -> &'static str {
    "ok"
}

async fn fallback() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see the mf-validator server documentation",
    )
}

/// Serves the HTTP API on `listener` until `shutdown` completes (or the worker stops), then
/// stops accepting, lets open requests finish (for at most `cfg.grace`), lets the worker
/// finish the batch in hand, and returns. Batches still queued at that point are not
/// applied; their requests are answered `503 shutting_down`.
///
/// Store reads run on the runtime's blocking pool, and LMDB holds a reader slot per reading
/// thread (126 by default): build the runtime with `max_blocking_threads` well below that
/// (the binary uses 64).
pub async fn serve(
    validator: Validator,
    listener: tokio::net::TcpListener,
    cfg: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let queue = cfg.queue.max(1);
    let height = validator.head().height;
    let metrics = Arc::new(Metrics::new(height, validator.index_len()));
    let store = validator.store_handle();
    let (head_tx, head_rx) = watch::channel(height);
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let (batch_tx, batch_rx) = mpsc::channel(queue);
    let (version_tx, version_rx) = mpsc::channel(1024);

    let worker = Worker {
        validator,
        mode: cfg.mode,
        metrics: Arc::clone(&metrics),
        head: head_tx,
    };
    let worker_stop = Arc::clone(&stop_tx);
    let handle = std::thread::Builder::new()
        .name("mf-apply".into())
        .spawn(move || run_worker(worker, batch_rx, version_rx, worker_stop))?;

    let state = AppState {
        store,
        batches: batch_tx,
        versions: version_tx,
        admission: Arc::new(tokio::sync::Semaphore::new(queue + 1)),
        head: head_rx,
        shutdown: stop_rx.clone(),
        metrics,
    };
    let app = Router::new()
        .route("/batch", post(post_batch))
        .route("/head", get(get_head))
        .route("/genesis", get(get_genesis))
        .route("/header/{height}", get(get_header))
        .route("/batch/{height}", get(get_batch))
        .route("/receipts/{height}", get(get_receipts))
        .route("/version/{intx}/{mark}/{addr}/{slot}", get(get_version))
        .route("/feed", get(get_feed))
        .route("/metrics", get(get_metrics))
        .route("/health", get(get_health))
        .fallback(fallback)
        .with_state(state);

    // The signal (or the worker's end) raises the stop flag: feeds end, the worker stops
    // after the batch in hand, and axum stops accepting and drains connections.
    let signal_stop = Arc::clone(&stop_tx);
    let mut stop_wait = stop_rx.clone();
    let graceful = async move {
        tokio::select! {
            _ = shutdown => {}
            _ = stop_wait.wait_for(|s| *s) => {}
        }
        tracing::info!("shutting down: no new connections; finishing requests in flight");
        signal_stop.send_replace(true);
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(graceful);
    let mut stop_grace = stop_rx;
    let grace = cfg.grace;
    let served = tokio::select! {
        r = server => r.map_err(ServeError::Io),
        _ = async move {
            let _ = stop_grace.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(?grace, "connections still open after the grace period; closing them");
            Ok(())
        }
    };
    stop_tx.send_replace(true);
    let joined = tokio::task::spawn_blocking(move || handle.join()).await;
    match joined {
        Ok(Ok(())) => served,
        _ => Err(ServeError::WorkerPanicked),
    }
}
