//! The HTTP side: shared state, error answers, and one handler per endpoint except the feed
//! (see `feed.rs`). Every JSON answer is an `mf_api` type.

use super::ReplicaStatus;
use super::feed::get_feed;
use super::metrics::Metrics;
use super::stream::{GenesisJson, Parts, genesis_stream, parts_stream};
use super::worker::{ApplyJob, BatchReply, VersionJob};
use crate::store::Store;
use crate::{Located, StoreError, VersionState};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mf_api::server::{BodyError, BodyLimits, ConnStats, read_body};
use mf_api::{
    BatchRefused, BusyJson, ErrorJson, HeaderJson, ReceiptJson, ReceiptsJson, VersionJson,
    VersionPath,
};
use mf_format::Reason;
use mf_format::limits::MAX_BATCH_BYTES;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};

/// What every handler shares.
#[derive(Clone)]
pub(super) struct AppState {
    pub(super) store: Arc<Store>,
    pub(super) batches: mpsc::Sender<ApplyJob>,
    pub(super) versions: mpsc::Sender<VersionJob>,
    /// Permits for `POST /batch` requests queued or being applied (`queue + 1`), taken once
    /// the body is in: a client that is slow to send holds none.
    pub(super) admission: Arc<Semaphore>,
    /// Body memory, one permit per KiB ([`BODY_MEMORY_UNIT`]), taken as body bytes arrive
    /// and held until the batch is applied: `(queue + 1) × MAX_BATCH_BYTES` in all, the
    /// bound the admission permits kept when they were taken before the body.
    pub(super) body_memory: Arc<Semaphore>,
    /// The size of `body_memory`, in MiB (for the busy answer).
    pub(super) body_memory_mib: usize,
    /// Deadline and size of a `POST /batch` body.
    pub(super) body_limits: BodyLimits,
    pub(super) head: watch::Receiver<u64>,
    pub(super) shutdown: watch::Receiver<bool>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) connections: Arc<ConnStats>,
    /// On a replica (`serve --order`): the order stream it applies, and why it stopped
    /// applying, if it did.
    pub(super) replica: Option<Arc<super::ReplicaStatus>>,
}

/// The unit of [`AppState::body_memory`]: one permit per this many bytes of body.
pub(super) const BODY_MEMORY_UNIT: usize = 1024;

impl AppState {
    fn busy(&self, what: &str) -> Response {
        self.busy_because(format!("the {what} queue is full; retry later"))
    }
    fn busy_because(&self, detail: String) -> Response {
        self.metrics.busy.fetch_add(1, Relaxed);
        let mut r = json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &BusyJson {
                detail,
                error: ErrorJson::BUSY.to_string(),
                queue_capacity: self.batches.max_capacity(),
            },
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        r
    }
}

/// The routes of the API (the module doc of `server` lists them).
pub(super) fn router(state: AppState) -> Router {
    Router::new()
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
        .with_state(state)
}

/// A JSON answer.
pub(super) fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_string(body) {
        Ok(text) => (status, [(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(e) => {
            tracing::error!("cannot render an answer: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot render the answer",
            )
                .into_response()
        }
    }
}

/// An error answer: `{detail, error}` with a status.
pub(super) struct ApiError {
    status: StatusCode,
    body: ErrorJson,
}

impl ApiError {
    fn new(status: StatusCode, error: &'static str, detail: impl std::fmt::Display) -> ApiError {
        ApiError {
            status,
            body: ErrorJson::new(error, detail.to_string()),
        }
    }
    pub(super) fn bad_request(detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorJson::BAD_REQUEST, detail)
    }
    fn not_found(what: &str, height: u64) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorJson::NOT_FOUND,
            format!("no {what} at height {height}"),
        )
    }
    fn shutting_down() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorJson::SHUTTING_DOWN,
            "the validator is stopping; the request was not carried out",
        )
    }
    fn body_timeout(detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::REQUEST_TIMEOUT, ErrorJson::BODY_TIMEOUT, detail)
    }
    fn store(e: impl std::fmt::Display) -> ApiError {
        tracing::error!("store read failed: {e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorJson::STORE_ERROR, e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body)
    }
}

pub(super) type ApiResult = Result<Response, ApiError>;

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
            ErrorJson::INTERNAL,
            e,
        )),
    }
}

fn limit_exceeded(detail: impl std::fmt::Display) -> Response {
    json_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        &BatchRefused::with_reason(detail.to_string(), Reason::LimitExceeded),
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

/// Why a body was refused while it arrived (besides the limits of [`read_body`]).
#[derive(Debug, thiserror::Error)]
#[error("no body memory left")]
struct NoBodyMemory;

async fn post_batch(State(s): State<AppState>, req: Request) -> ApiResult {
    if let Some(r) = &s.replica
        && let Some(problem) = r.problem()
    {
        // It would publish, but never answer: another replica can.
        discard_body(req.into_body()).await;
        return Ok(json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &ErrorJson::new(
                ErrorJson::REPLICA_STOPPED,
                format!(
                    "this replica stopped applying the order stream {} ({problem}); nothing \
                     was published: post the batch to another replica",
                    r.stream()
                ),
            ),
        ));
    }
    // When every admission permit is taken (the queue is full of batches that arrived
    // whole), refuse at once rather than read a body that would be refused anyway. Slow
    // uploads take no permit: admission is decided again once the body is in.
    if s.admission.available_permits() == 0 {
        // Read and discard the body (nothing is kept) so that a simple client, which writes
        // the whole body before it reads, gets the 503 rather than a reset connection. A
        // client that sent `Expect: 100-continue` is answered at once and sends nothing.
        if !req.headers().contains_key(header::EXPECT) {
            discard_body(req.into_body()).await;
        }
        return Ok(s.busy("batch"));
    }
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
    // The body, under its deadline, holding memory permits for the bytes received.
    let mut memory: Option<OwnedSemaphorePermit> = None;
    let mut received = 0usize;
    let mut body = req.into_body();
    let read = read_body(&mut body, &s.body_limits, |n| {
        let need = (received + n).div_ceil(BODY_MEMORY_UNIT) - received.div_ceil(BODY_MEMORY_UNIT);
        received += n;
        if need == 0 {
            return Ok(());
        }
        let more = Arc::clone(&s.body_memory)
            .try_acquire_many_owned(u32::try_from(need).map_err(|_| NoBodyMemory)?)
            .map_err(|_| NoBodyMemory)?;
        match &mut memory {
            Some(m) => m.merge(more),
            None => memory = Some(more),
        }
        Ok(())
    })
    .await;
    let bytes = match read {
        Ok(b) => b,
        Err(BodyError::TooLarge { .. }) => {
            return Ok(limit_exceeded(format!(
                "the batch is over {MAX_BATCH_BYTES} bytes"
            )));
        }
        Err(e @ BodyError::TooSlow { .. }) => {
            s.metrics.body_timeouts.fetch_add(1, Relaxed);
            tracing::warn!("POST /batch: {e}");
            let mut r = ApiError::body_timeout(e).into_response();
            r.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            return Ok(r);
        }
        Err(BodyError::Refused(NoBodyMemory)) => {
            drop(memory);
            discard_body(body).await;
            return Ok(s.busy_because(format!(
                "the memory for batch bodies ({} MiB: --queue + 1 batches of the largest size) \
                 is taken by bodies that arrived; retry later",
                s.body_memory_mib
            )));
        }
        Err(e) => return Err(ApiError::bad_request(e)),
    };
    let Ok(_permit) = Arc::clone(&s.admission).try_acquire_owned() else {
        return Ok(s.busy("batch"));
    };
    if let Some(r) = &s.replica {
        let answer = forward(&s, r, bytes).await;
        drop(memory);
        return answer;
    }
    let (reply, answer) = oneshot::channel();
    let job = ApplyJob {
        bytes,
        reply,
        _memory: memory,
        order: None,
    };
    match s.batches.try_send(job) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => return Ok(s.busy("batch")),
        Err(mpsc::error::TrySendError::Closed(_)) => return Err(ApiError::shutting_down()),
    }
    match answer.await.map_err(|_| ApiError::shutting_down())? {
        BatchReply::Applied(a) => Ok(json_response(StatusCode::OK, &a)),
        BatchReply::Refused(status, r) => Ok(json_response(status, &r)),
    }
}

/// On a replica: publishes `bytes` to the order stream, waits until this replica applied
/// that sequence, and answers what a single validator answers for the batch.
async fn forward(s: &AppState, r: &ReplicaStatus, bytes: axum::body::Bytes) -> ApiResult {
    let started = tokio::time::Instant::now();
    // From here on, every sequence applied is kept until this request leaves, so that its
    // answer is there even when it is applied before the acknowledgement arrives.
    let _waiting = r.register();
    let mut applied = r.applied.subscribe();
    let published =
        tokio::time::timeout(r.wait, crate::order::publish(&r.js, r.chain_id, bytes)).await;
    let p = match published {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return Ok(order_unavailable(r, e)),
        Err(_) => {
            return Ok(order_unavailable(
                r,
                format!("no acknowledgement within {} s", r.wait.as_secs()),
            ));
        }
    };
    let already = |why: &str| {
        json_response(
            StatusCode::CONFLICT,
            &ErrorJson::new(
                ErrorJson::ALREADY_IN_LOG,
                format!(
                    "this batch is already in the order stream {} at sequence {} (the same \
                     bytes were published before) and was applied {why}: its effects are in \
                     the chain, and its answer is not kept here; look its transactions up \
                     (GET /receipts/{{height}}, the feed) rather than post it again",
                    r.stream(),
                    p.seq
                ),
            ),
        )
    };
    if p.seq <= r.started_after {
        return Ok(already("before this replica started"));
    }
    let pending = |why: String| {
        json_response(
            StatusCode::GATEWAY_TIMEOUT,
            &ErrorJson::new(
                ErrorJson::ORDER_TIMEOUT,
                format!(
                    "the batch is in the order stream {} at sequence {}, but {why}; it will be \
                     applied: look its transactions up later, or post the same bytes again \
                     within 2 minutes to wait for it again (they are stored once)",
                    r.stream(),
                    p.seq
                ),
            ),
        )
    };
    let left = r.wait.saturating_sub(started.elapsed());
    let mut stop = s.shutdown.clone();
    tokio::select! {
        done = tokio::time::timeout(left, applied.wait_for(|a| *a >= p.seq)) => match done {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return Ok(pending("this replica stopped applying".into())),
            Err(_) => {
                return Ok(pending(match r.problem() {
                    Some(why) => format!("this replica stopped applying the stream ({why})"),
                    None => format!("this replica did not apply it within {} s", r.wait.as_secs()),
                }));
            }
        },
        _ = stop.wait_for(|s| *s) => return Ok(pending("this replica is stopping".into())),
    }
    match r.answer(p.seq) {
        Some(BatchReply::Applied(a)) => Ok(json_response(StatusCode::OK, &a)),
        Some(BatchReply::Refused(status, refusal)) => Ok(json_response(status, &refusal)),
        None if p.duplicate => Ok(already("while no request waited for it")),
        None => Ok(already("while more than 1,024 other messages were applied")),
    }
}

/// `503 order_unavailable`: the order stream did not take the batch (or did not say so).
fn order_unavailable(r: &ReplicaStatus, e: impl std::fmt::Display) -> Response {
    tracing::warn!("POST /batch: publishing to the order stream: {e}");
    let mut resp = json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &ErrorJson::new(
            ErrorJson::ORDER_UNAVAILABLE,
            format!(
                "cannot publish to the order stream {}: {e}; the batch may or may not be in \
                 the log: post the same bytes again (here or to another replica) within 2 \
                 minutes, where they are stored at most once",
                r.stream()
            ),
        ),
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    resp
}

async fn header_at(s: &AppState, height: u64) -> ApiResult {
    match read_store(&s.store, move |st| st.header(height)).await? {
        Some(h) => Ok(json_response(StatusCode::OK, &HeaderJson::from(&h))),
        None => Err(ApiError::not_found("header", height)),
    }
}

async fn get_head(State(s): State<AppState>) -> ApiResult {
    let height = *s.head.borrow();
    header_at(&s, height).await
}

/// The genesis, streamed from the store ([`GenesisJson`]); rendered in memory only when the
/// stored records are not in key order.
async fn get_genesis(State(s): State<AppState>) -> ApiResult {
    let json = [(header::CONTENT_TYPE, "application/json")];
    match read_store(&s.store, GenesisJson::start).await? {
        Some(g) => Ok((
            StatusCode::OK,
            json,
            Body::from_stream(genesis_stream(Arc::clone(&s.store), g)),
        )
            .into_response()),
        None => {
            let g = read_store(&s.store, crate::replay::genesis_of).await?;
            Ok(json_response(StatusCode::OK, &g.to_json()))
        }
    }
}

async fn get_header(State(s): State<AppState>, Path(height): Path<String>) -> ApiResult {
    header_at(&s, parse_height(&height)?).await
}

/// A stored batch, streamed from the store in chunks, with its length.
async fn get_batch(State(s): State<AppState>, Path(height): Path<String>) -> ApiResult {
    let height = parse_height(&height)?;
    match read_store(&s.store, move |st| Parts::batch(st, height)).await? {
        Some((parts, len)) => Ok((
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (header::CONTENT_LENGTH, len.to_string()),
            ],
            Body::from_stream(parts_stream(Arc::clone(&s.store), parts)),
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
            &ReceiptsJson {
                height,
                receipts: rs.iter().map(ReceiptJson::from).collect(),
            },
        )),
        None => Err(ApiError::not_found("receipts", height)),
    }
}

/// A version lookup's answer.
pub(super) fn version_answer(s: &VersionState) -> VersionJson {
    match s {
        VersionState::Live(v) => VersionJson::live(v),
        VersionState::NeverWritten(v) => VersionJson::never_written(v),
        VersionState::NotLive => VersionJson::not_live(),
    }
}

async fn get_version(
    State(s): State<AppState>,
    Path((intx, mark, addr, slot)): Path<(String, String, String, String)>,
) -> ApiResult {
    let VersionPath { intx, key } =
        VersionPath::from_segments(&intx, &mark, &addr, &slot).map_err(ApiError::bad_request)?;
    let (reply, answer) = oneshot::channel();
    match s.versions.try_send(VersionJob { intx, key, reply }) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => return Ok(s.busy("lookup")),
        Err(mpsc::error::TrySendError::Closed(_)) => return Err(ApiError::shutting_down()),
    }
    // The worker answers from its index alone; a live value is read here, on a store
    // reader, so that lookups cost the thread that applies batches one probe each.
    let located = answer
        .await
        .map_err(|_| ApiError::shutting_down())?
        .map_err(ApiError::store)?;
    let state = match located {
        Located::At(l) => VersionState::Live(
            read_store(&s.store, move |st| crate::replay::value_at(st, l)).await?,
        ),
        Located::NeverWritten(v) => VersionState::NeverWritten(v),
        Located::NotLive => VersionState::NotLive,
    };
    Ok(json_response(StatusCode::OK, &version_answer(&state)))
}

async fn get_metrics(State(s): State<AppState>) -> Response {
    let cap = s.batches.max_capacity();
    let depth = cap.saturating_sub(s.batches.capacity());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(depth, cap, &s.connections),
    )
        .into_response()
}

async fn get_health(State(s): State<AppState>) -> Response {
    let problem = s.replica.as_ref().and_then(|r| r.problem());
    match problem {
        None => (StatusCode::OK, "ok").into_response(),
        Some(p) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("replica stopped applying the order stream: {p}"),
        )
            .into_response(),
    }
}

async fn fallback() -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorJson::NOT_FOUND,
        "no such endpoint; see the mf-validator server documentation",
    )
    .into_response()
}
