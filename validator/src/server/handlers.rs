//! The HTTP side: shared state, error answers, and one handler per endpoint except the feed
//! (see `feed.rs`). Every JSON answer is an `mf_api` type.

use super::feed::get_feed;
use super::metrics::Metrics;
use super::worker::{ApplyJob, BatchReply, VersionJob};
use crate::StoreError;
use crate::VersionState;
use crate::store::Store;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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
use tokio::sync::{mpsc, oneshot, watch};

/// What every handler shares.
#[derive(Clone)]
pub(super) struct AppState {
    pub(super) store: Arc<Store>,
    pub(super) batches: mpsc::Sender<ApplyJob>,
    pub(super) versions: mpsc::Sender<VersionJob>,
    /// Permits for `POST /batch` requests in progress (`queue + 1`).
    pub(super) admission: Arc<tokio::sync::Semaphore>,
    pub(super) head: watch::Receiver<u64>,
    pub(super) shutdown: watch::Receiver<bool>,
    pub(super) metrics: Arc<Metrics>,
}

impl AppState {
    fn busy(&self, what: &str) -> Response {
        self.metrics.busy.fetch_add(1, Relaxed);
        let mut r = json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &BusyJson {
                detail: format!("the {what} queue is full; retry later"),
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
    match answer.await.map_err(|_| ApiError::shutting_down())? {
        BatchReply::Applied(a) => Ok(json_response(StatusCode::OK, &a)),
        BatchReply::Refused(status, r) => Ok(json_response(status, &r)),
    }
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
    match answer.await {
        Ok(Ok(v)) => Ok(json_response(StatusCode::OK, &version_answer(&v))),
        Ok(Err(e)) => Err(ApiError::store(e)),
        Err(_) => Err(ApiError::shutting_down()),
    }
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
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorJson::NOT_FOUND,
        "no such endpoint; see the mf-validator server documentation",
    )
    .into_response()
}
