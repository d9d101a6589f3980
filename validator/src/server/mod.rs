//! The HTTP API of `mf-validator serve`.
//!
//! The answers are the types of [`mf_api`], the validator's HTTP contract, which clients
//! (the coordinator, the tests) share. The modules: `handlers` (routes and one handler per
//! endpoint), `worker` (the thread that owns the validator), `feed` (the `/feed` stream),
//! `metrics` (the counters behind `/metrics`); this file starts and stops them.
//!
//! # Threads
//!
//! One dedicated OS thread (the *worker*) owns the [`Validator`] and applies batches one at a
//! time from a bounded queue (`--queue`, default 16). Back-pressure is explicit: when
//! `queue + 1` batches that arrived whole are already queued or being applied, or the queue
//! itself is full, `POST /batch` answers `503` with `{"error":"busy", ...}` and
//! `Retry-After: 1`. A place is taken only once the whole body is in, so clients that are
//! slow to send hold none. A refused body is read and dropped as it arrives (never kept), so
//! that simple clients see the answer; a client that sends `Expect: 100-continue` is answered
//! before it sends the body. The server never holds more than a bounded number of batches
//! in memory: a body holds memory for the bytes it has sent, at most
//! `(queue + 1) × MAX_BATCH_BYTES` for all bodies together (past that, `503 busy`).
//!
//! Version lookups need the in-memory index, so they go to the worker too, on a second
//! queue. The worker answers them fairly: at most 1,024 lookups, then the next batch, and
//! again; and it answers a lookup from the index alone (where the value is stored), the
//! handler reading the value on a store reader by walking the stored transaction to the move
//! ([`mf_format::tx_move_next`]). Everything else (headers, batches, receipts, the feed, the
//! genesis) is read straight from the store through [`Validator::store_handle`], in chunks of
//! 256 KiB for the large answers: LMDB readers do not block the writer, and only committed
//! heights (published on a watch channel after each commit) are ever read.
//!
//! # Slow and numerous clients
//!
//! - A request body must arrive within `--body-timeout` (30 s) plus one second per
//!   `--body-min-rate` bytes received (64 KiB): a body that stalls or trickles below that is
//!   answered `408` `{"error":"body_timeout", ...}` and its connection closed.
//! - At most `--max-connections-per-ip` (64) connections per peer address and
//!   `--max-connections` (1024) in all: a connection past a cap is answered `503`
//!   `{"error":"too_many_connections", ...}` and closed ([`mf_api::server`]).
//!
//! # Endpoints
//!
//! | method and path | answer |
//! | --- | --- |
//! | `POST /batch` | body: an encoded batch (at most [`MAX_BATCH_BYTES`](mf_format::limits::MAX_BATCH_BYTES)). `200` with `{height, header_hash, state_hash, accepted, receipts: [{tx_id, status, code, gas_used, logs}]}`; `height` and `header_hash` are `null` when no transaction was accepted (nothing was written). `400` `{error, reason, code}` when the bytes are not a batch (`reason` `malformed` or `limit_exceeded`) or the batch is empty (`reason` `empty_batch`, `code` `null`); `413` `{error, reason: "limit_exceeded", code: 2}` when the body is over the limit; `408` `{error: "body_timeout", detail}` when the body does not arrive in time (the connection is closed); `422` `{error, reason, code, index, tx_id, receipts}` when strict mode refuses the batch; `503` `{error: "busy", detail, queue_capacity}` when the queue (or the memory for bodies) is full, `503` `{error: "shutting_down"}` when the server stops before applying it; on a replica, see below. Nothing is applied unless the answer is `200` |
//! | `GET /head` | the last header as JSON, with its `hash` |
//! | `GET /genesis` | the genesis in the alloc JSON of `init --genesis` (chain id, every genesis version, the code of its contracts); its LtHash is header 0's `state_hash` |
//! | `GET /header/{height}` | that header as JSON, `404` if there is none |
//! | `GET /batch/{height}` | the batch's accepted transactions, encoded as a batch (`application/octet-stream`); when every transaction was accepted these are the bytes posted |
//! | `GET /receipts/{height}` | `{height, receipts: [...]}` |
//! | `GET /version/{intx}/{mark}/{addr}/{slot}` | hex `intx` (32 bytes), mark `a`/`s`, hex address, hex slot: `{state: "live" \| "never_written" \| "not_live", value}`; an account value is `{balance, nonce, code_hash}`, a storage value a hex word, `null` when not live |
//! | `GET /feed?from=H` | the stream of accepted batches from height `H` (default 1) on, see below |
//! | `GET /metrics` | Prometheus text format |
//! | `GET /health` | `200 ok`; on a replica that stopped applying the order stream, `503` and why |
//!
//! On a replica ([`serve_replica`]) `POST /batch` takes the same bodies under the same limits
//! and admission (`408`, `413`, `503 busy` as above), then publishes the batch to the order
//! stream ([`crate::order::publish`]; message id blake3 of the bytes, so the same bytes
//! posted again, to any replica, within the stream's 2-minute duplicate window are stored
//! once) and waits until this replica applied that stream sequence: it answers then what a
//! single validator answers for the batch (`200`, or `400`/`422` when the batch is refused
//! as a whole: every replica refuses it the same way). Besides:
//!
//! | status and `error` | meaning |
//! | --- | --- |
//! | `503` `order_unavailable` | the stream did not acknowledge the publish (NATS unreachable, no answer in time): the batch may or may not be in the log; post the same bytes again within 2 minutes |
//! | `503` `replica_stopped` | this replica stopped applying the stream (`/health` says why); nothing was published: post to another replica |
//! | `504` `order_timeout` | the batch is in the log at the sequence the detail names, but this replica did not apply it within `--order-wait` (30 s), or is stopping; it will be applied. Posting the same bytes again within 2 minutes waits for it again |
//! | `409` `already_in_log` | the same bytes were published before (the detail names the sequence) and that sequence was applied before this process started, or while no request waited for it: its effects are in the chain, its answer is not kept |
//!
//! The answers of sequences applied while a request waits are kept in memory, at most 1,024
//! of them, and dropped when no request waits.
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
//! cleanly after a whole record). A record is three length-prefixed parts
//! ([`mf_api::feed`] writes and reads them):
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

mod feed;
mod handlers;
mod metrics;
mod stream;
mod worker;

use crate::{Mode, Validator, VersionState};
use handlers::{AppState, BODY_MEMORY_UNIT};
use metrics::Metrics;
pub use mf_api::server::ConnLimits;
use mf_api::server::{BodyLimits, LimitedListener};
use mf_api::{HeaderJson, ReceiptJson, ValueJson};
use mf_format::limits::MAX_BATCH_BYTES;
use mf_format::{Header, Receipt, Value};
use serde_json::Value as Json;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use worker::{Worker, run_worker};

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
    /// How long a `POST /batch` body may take, before the extension its bytes earn
    /// (`--body-timeout`).
    pub body_timeout: Duration,
    /// Bytes per second: each this many bytes of a body received extend its deadline by one
    /// second (`--body-min-rate`; 0: no extension).
    pub body_min_rate: u64,
    /// Caps on open connections, per peer IP and in total (`--max-connections-per-ip`,
    /// `--max-connections`).
    pub connections: ConnLimits,
    /// On a replica: how long `POST /batch` waits for the batch it published to be applied
    /// here before it answers `504` (`--order-wait`).
    pub order_wait: Duration,
}

impl ServeConfig {
    /// The default `body_timeout`.
    pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
    /// The default `body_min_rate`: 64 KiB/s, so a batch of the largest size may take
    /// about 17 minutes.
    pub const BODY_MIN_RATE: u64 = 64 << 10;
    /// The default `order_wait`.
    pub const ORDER_WAIT: Duration = Duration::from_secs(30);
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            mode: Mode::Filter,
            queue: 16,
            grace: Duration::from_secs(10),
            body_timeout: ServeConfig::BODY_TIMEOUT,
            body_min_rate: ServeConfig::BODY_MIN_RATE,
            connections: ConnLimits::default(),
            order_wait: ServeConfig::ORDER_WAIT,
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
// The API's renderings as JSON values, for callers that embed them (the binary's
// `inspect --json`, `verify-chain`'s reports, the fuzz targets).

fn to_json(v: impl serde::Serialize) -> Json {
    serde_json::to_value(v).unwrap_or(Json::Null)
}

/// A header as JSON, with its hash ([`HeaderJson`]).
pub fn header_json(h: &Header) -> Json {
    to_json(HeaderJson::from(h))
}

/// A receipt as JSON ([`ReceiptJson`]): `status` is `accepted` or the reason's name, `code`
/// its number.
pub fn receipt_json(r: &Receipt) -> Json {
    to_json(ReceiptJson::from(r))
}

/// A value as JSON ([`ValueJson`]): an account is `{balance, code_hash, nonce}`, a storage
/// word a hex string.
pub fn value_json(v: &Value) -> Json {
    to_json(ValueJson::from(v))
}

/// A version lookup as JSON ([`mf_api::VersionJson`]): `{state, value}`.
pub fn version_json(s: &VersionState) -> Json {
    to_json(handlers::version_answer(s))
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
    serve_inner(validator, listener, cfg, None, shutdown).await
}

/// A replica's side of the server: what `/health` reports (the stream it applies, and why
/// it stopped, if it did), and what `POST /batch` needs to forward a batch to the stream and
/// wait for its answer.
pub(crate) struct ReplicaStatus {
    stream: String,
    problem: std::sync::Mutex<Option<String>>,
    /// Where `POST /batch` publishes.
    js: crate::order::async_nats::jetstream::Context,
    chain_id: u64,
    /// The last sequence applied before this process started: a duplicate publish at or
    /// below it has no answer here.
    started_after: u64,
    /// The last sequence this process applied (or refused as a whole).
    applied: watch::Sender<u64>,
    /// The answers to the sequences applied while a `POST /batch` waited.
    answers: std::sync::Mutex<Answers>,
    /// How long `POST /batch` waits for its sequence to be applied.
    wait: Duration,
}

/// The answers of [`ReplicaStatus`]: kept only while a request waits (`waiting > 0`), at
/// most [`Answers::KEPT`] of them (the oldest go first), dropped when the last waiting
/// request leaves.
#[derive(Default)]
struct Answers {
    waiting: usize,
    by_seq: std::collections::BTreeMap<u64, worker::BatchReply>,
}

impl Answers {
    /// The most answers kept.
    const KEPT: usize = 1024;
}

/// A request registered as waiting for an answer ([`ReplicaStatus::register`]); leaves
/// when dropped.
struct Waiting<'a>(&'a ReplicaStatus);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Ok(mut a) = self.0.answers.lock() {
            a.waiting = a.waiting.saturating_sub(1);
            if a.waiting == 0 {
                a.by_seq.clear();
            }
        }
    }
}

impl ReplicaStatus {
    fn problem(&self) -> Option<String> {
        self.problem.lock().map(|p| p.clone()).unwrap_or(None)
    }
    fn stop(&self, why: String) {
        tracing::error!("replica stopped applying the order stream: {why}");
        if let Ok(mut p) = self.problem.lock() {
            *p = Some(why);
        }
    }
    /// The stream's name.
    fn stream(&self) -> &str {
        &self.stream
    }
    /// Registers a request that will wait for the answer of a sequence: from now on until
    /// the guard drops, every sequence applied is kept.
    fn register(&self) -> Waiting<'_> {
        if let Ok(mut a) = self.answers.lock() {
            a.waiting += 1;
        }
        Waiting(self)
    }
    /// The answer to `seq`, if it is kept.
    fn answer(&self, seq: u64) -> Option<worker::BatchReply> {
        self.answers
            .lock()
            .ok()
            .and_then(|a| a.by_seq.get(&seq).cloned())
    }
    /// Records that `seq` was applied with `reply`, then wakes the requests waiting.
    fn applied(&self, seq: u64, reply: &worker::BatchReply) {
        if let Ok(mut a) = self.answers.lock()
            && a.waiting > 0
        {
            a.by_seq.insert(seq, reply.clone());
            while a.by_seq.len() > Answers::KEPT {
                a.by_seq.pop_first();
            }
        }
        self.applied.send_replace(seq);
    }
}

/// [`serve`] as a replica (`serve --order`, [`crate::order`]): batches come from the order
/// stream `reader` reads, in sequence order, each applied with the time the stream stored
/// it as its header time and its sequence committed with it ([`Validator::apply_ordered`]);
/// `POST /batch` publishes the batch to that stream and answers once this replica applied it
/// (the endpoint table above). Every other endpoint, the feed included, is served as usual. Should applying fail (a store error, a gap in the stream)
/// the replica stops applying, says why in its log and in `/health` (`503`), and keeps
/// serving what it has.
pub async fn serve_replica(
    validator: Validator,
    listener: tokio::net::TcpListener,
    cfg: ServeConfig,
    reader: crate::order::Reader,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_inner(validator, listener, cfg, Some(reader), shutdown).await
}

/// Feeds the order stream to the worker, one message at a time (the next is read once the
/// last is on disk).
async fn follow(
    mut reader: crate::order::Reader,
    batches: mpsc::Sender<worker::ApplyJob>,
    mut stop: watch::Receiver<bool>,
    status: Arc<ReplicaStatus>,
) {
    loop {
        let next = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            m = reader.next() => m,
        };
        let m = match next {
            Ok(m) => m,
            Err(e @ crate::order::OrderError::Gap { .. }) => return status.stop(e.to_string()),
            Err(e) => {
                // NATS reconnects on its own; try again shortly.
                tracing::warn!("order stream: {e}; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = worker::ApplyJob {
            bytes: m.bytes,
            reply,
            _memory: None,
            order: Some((m.seq, m.time_ms)),
        };
        if batches.send(job).await.is_err() {
            return;
        }
        let reply = match answer.await {
            Ok(r) => r,
            Err(_) => return,
        };
        status.applied(m.seq, &reply);
        match reply {
            worker::BatchReply::Applied(a) => {
                tracing::debug!(seq = m.seq, height = ?a.height, "order message applied");
                if let (Some(height), Some(hash)) = (a.height, a.header_hash) {
                    match reader.check_head(height, &hash).await {
                        Ok(Some(crate::order::HeadCheck::Differs { first })) => {
                            return status.stop(format!(
                                "diverged at height {height} (order message {}): our header \
                                 hash is {hash}, another replica reported {first}",
                                m.seq
                            ));
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(height, "header hash not compared: {e}"),
                    }
                }
            }
            worker::BatchReply::Refused(code, r) if code.is_server_error() => {
                return status.stop(format!("message {}: {}", m.seq, r.error));
            }
            worker::BatchReply::Refused(_, r) => {
                tracing::warn!(seq = m.seq, "order message refused as a whole: {}", r.error)
            }
        }
    }
}

async fn serve_inner(
    validator: Validator,
    listener: tokio::net::TcpListener,
    cfg: ServeConfig,
    reader: Option<crate::order::Reader>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let replica = reader.as_ref().map(|r| {
        let started_after = r.next_seq().saturating_sub(1);
        Arc::new(ReplicaStatus {
            stream: crate::order::stream_name(validator.chain_id()),
            problem: std::sync::Mutex::new(None),
            js: r.context(),
            chain_id: r.chain_id(),
            started_after,
            applied: watch::channel(started_after).0,
            answers: std::sync::Mutex::new(Answers::default()),
            wait: cfg.order_wait,
        })
    });
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

    let listener = LimitedListener::new(listener, cfg.connections);
    let body_memory = (queue + 1).saturating_mul(MAX_BATCH_BYTES);
    let state = AppState {
        store,
        batches: batch_tx,
        versions: version_tx,
        admission: Arc::new(tokio::sync::Semaphore::new(queue + 1)),
        body_memory: Arc::new(tokio::sync::Semaphore::new(
            (body_memory / BODY_MEMORY_UNIT).min(tokio::sync::Semaphore::MAX_PERMITS),
        )),
        body_memory_mib: body_memory >> 20,
        body_limits: BodyLimits {
            timeout: cfg.body_timeout,
            min_rate: cfg.body_min_rate,
            max_bytes: MAX_BATCH_BYTES,
        },
        head: head_rx,
        shutdown: stop_rx.clone(),
        metrics,
        connections: listener.stats(),
        replica: replica.clone(),
    };
    if let (Some(reader), Some(status)) = (reader, replica) {
        tokio::spawn(follow(
            reader,
            state.batches.clone(),
            stop_rx.clone(),
            status,
        ));
    }
    let app = handlers::router(state);

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
