//! The transport: the HTTP server (`POST /`, `GET /health`, `GET /metrics`), the JSON-RPC
//! 2.0 envelope (single requests, batches, notifications) and the error object.

use super::{Budget, MAX_BATCH, MAX_BODY, MAX_RESPONSE, MAX_SUBSCRIPTIONS, methods};
use crate::service::Shared;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mf_api::server::{BodyError, BodyLimits, LimitedListener, read_body};
use mf_format::limits::MAX_GAS_LIMIT;
use mf_movegen::estimate_runs;
use mf_movegen::rpc::codes;
use serde_json::{Value as Json, json};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

/// A JSON-RPC error object.
#[derive(Debug, Clone)]
pub struct RpcError {
    /// The code.
    pub code: i64,
    /// The message.
    pub message: String,
    /// Extra data.
    pub data: Option<Json>,
}

impl RpcError {
    pub(super) fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }
    pub(super) fn params(message: impl Into<String>) -> RpcError {
        RpcError::new(codes::INVALID_PARAMS, message)
    }
    pub(super) fn internal(e: impl std::fmt::Display) -> RpcError {
        RpcError::new(codes::INTERNAL, format!("internal error: {e}"))
    }
    pub(super) fn rejected(reason: &str, code: Option<u16>, detail: String) -> RpcError {
        RpcError {
            code: codes::TRANSACTION_REJECTED,
            message: format!("intent refused: {reason}: {detail}"),
            data: Some(json!({"reason": reason, "code": code})),
        }
    }
    /// The error object jsonrpsee sends.
    pub(crate) fn into_object(self) -> jsonrpsee::types::ErrorObjectOwned {
        let code = i32::try_from(self.code).unwrap_or(codes::INTERNAL as i32);
        jsonrpsee::types::ErrorObject::owned(code, self.message, self.data)
    }
    fn to_json(&self) -> Json {
        let mut e = json!({"code": self.code, "message": self.message});
        if let Some(d) = &self.data {
            e["data"] = d.clone();
        }
        e
    }
}

/// What a method answers: its result, or an error object.
pub type RpcResult = Result<Json, RpcError>;

/// The budget of one HTTP request, shared by the calls of its batch (a WebSocket call
/// gets a budget of its own): put in the request's extensions, which jsonrpsee hands to
/// every call it parses from the body.
#[derive(Clone)]
pub(super) struct RequestBudget(pub(super) Arc<tokio::sync::Mutex<Budget>>);

/// The body every answer of the server carries.
type Body = axum::body::Body;

/// Serves until `shutdown` completes or the service stops.
///
/// One accept loop over [`LimitedListener`] (the per-IP and total caps); each connection
/// is served by hyper with upgrades, so that a WebSocket handshake on `/` becomes a
/// jsonrpsee session on the same port. A request goes through CORS, then: `GET /health`
/// and `GET /metrics` are answered here; a `POST` body is read within the body limits
/// (`408` when it trickles), its batch's estimated EVM work checked, and the request with
/// its budget handed to jsonrpsee; anything else (the WebSocket upgrade) goes to jsonrpsee
/// as it is.
pub async fn run_server(
    shared: Arc<Shared>,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), crate::CoordError> {
    let io = crate::CoordError::Listener;
    listener.set_nonblocking(true).map_err(io)?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(io)?;
    let mut listener = LimitedListener::new(listener, shared.cfg.rpc.connections);
    let module = methods::module(Arc::clone(&shared)).map_err(|e| {
        crate::CoordError::Listener(std::io::Error::other(format!("JSON-RPC methods: {e}")))
    })?;
    let cors = cors_layer(&shared.cfg.cors).map_err(crate::CoordError::Listener)?;
    let rpc_builder = jsonrpsee::server::Server::builder()
        .set_config(
            jsonrpsee::server::ServerConfig::builder()
                .max_request_body_size(u32::try_from(MAX_BODY).unwrap_or(u32::MAX))
                .max_response_body_size(u32::try_from(MAX_RESPONSE).unwrap_or(u32::MAX))
                .max_connections(
                    u32::try_from(shared.cfg.rpc.connections.max_connections).unwrap_or(u32::MAX),
                )
                .max_subscriptions_per_connection(MAX_SUBSCRIPTIONS)
                .set_id_provider(super::subscribe::HexIds::default())
                .set_batch_request_config(jsonrpsee::server::BatchRequestConfig::Limit(
                    MAX_BATCH as u32,
                ))
                .build(),
        )
        .to_service_builder();
    let plain = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(Arc::clone(&shared));
    let (stop_handle, server_handle) = jsonrpsee::server::stop_channel();
    let mut changes = shared.store.changes().subscribe();
    let stopping = Arc::clone(&shared);
    let stop = async move {
        tokio::select! {
            _ = shutdown => {}
            _ = async {
                while !stopping.stopping() {
                    if changes.changed().await.is_err() {
                        break;
                    }
                }
            } => {}
        }
        tracing::info!("JSON-RPC server stopping");
    };
    tokio::pin!(stop);
    loop {
        let (conn, _peer) = tokio::select! {
            c = axum::serve::Listener::accept(&mut listener) => c,
            _ = &mut stop => break,
        };
        let rpc = rpc_builder
            .clone()
            .build(module.clone(), stop_handle.clone());
        let s = Arc::clone(&shared);
        let plain = plain.clone();
        let svc = tower::ServiceBuilder::new()
            .layer(cors.clone())
            .service(tower::service_fn(
                move |req: http::Request<hyper::body::Incoming>| {
                    route(Arc::clone(&s), plain.clone(), rpc.clone(), req)
                },
            ));
        let stopped = stop_handle.clone().shutdown();
        tokio::spawn(async move {
            if let Err(e) =
                jsonrpsee::server::serve_with_graceful_shutdown(conn, svc, stopped).await
            {
                tracing::debug!("connection closed: {e}");
            }
        });
    }
    let _ = server_handle.stop();
    Ok(())
}

/// The CORS layer of `--rpc-cors`: `*` allows any origin, otherwise the listed ones.
fn cors_layer(origins: &[String]) -> std::io::Result<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, Any, CorsLayer};
    let layer = CorsLayer::new()
        .allow_methods([http::Method::GET, http::Method::POST, http::Method::OPTIONS])
        .allow_headers(Any)
        .max_age(std::time::Duration::from_secs(600));
    if origins.is_empty() {
        return Ok(layer);
    }
    if origins.iter().any(|o| o == "*") {
        return Ok(layer.allow_origin(Any));
    }
    let list = origins
        .iter()
        .map(|o| {
            http::HeaderValue::from_str(o).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("--rpc-cors origin {o:?} is not a valid header value: {e}"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(layer.allow_origin(AllowOrigin::list(list)))
}

/// Routes one request of a connection (see [`run_server`]).
async fn route<S>(
    s: Arc<Shared>,
    plain: Router,
    mut rpc: S,
    req: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<Body>, std::convert::Infallible>
where
    S: tower::Service<
            http::Request<Body>,
            Response = http::Response<jsonrpsee::server::HttpBody>,
            Error = Box<dyn std::error::Error + Send + Sync>,
        >,
{
    use tower::ServiceExt;
    let (parts, incoming) = req.into_parts();
    let body = Body::new(incoming);
    let path = parts.uri.path();
    if parts.method == http::Method::GET && (path == "/health" || path == "/metrics") {
        let req = http::Request::from_parts(parts, body);
        return plain.oneshot(req).await;
    }
    let req = if parts.method == http::Method::POST {
        let (bytes, budget) = match read_request(&s, body).await {
            Ok(b) => b,
            Err(answer) => return Ok(answer),
        };
        let mut req = http::Request::from_parts(parts, Body::from(bytes));
        req.extensions_mut()
            .insert(RequestBudget(Arc::new(tokio::sync::Mutex::new(budget))));
        req
    } else {
        http::Request::from_parts(parts, body)
    };
    match rpc.ready().await {
        Ok(svc) => match svc.call(req).await {
            Ok(resp) => Ok(resp.map(Body::new)),
            Err(e) => Ok((StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()),
        },
        Err(e) => Ok((StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()),
    }
}

/// Reads a POST body within the body limits and checks a batch's estimated EVM work
/// before anything runs: the body and the request's budget, or the answer that refuses it.
async fn read_request(s: &Shared, mut body: Body) -> Result<(axum::body::Bytes, Budget), Response> {
    let limits = BodyLimits {
        timeout: s.cfg.rpc.body_timeout,
        min_rate: s.cfg.rpc.body_min_rate,
        max_bytes: MAX_BODY,
    };
    let read = read_body(&mut body, &limits, |_| {
        Ok::<(), std::convert::Infallible>(())
    })
    .await;
    let bytes = match read {
        Ok(b) => b,
        Err(e @ BodyError::TooLarge { .. }) => {
            return Err((StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response());
        }
        Err(e @ BodyError::TooSlow { .. }) => {
            tracing::warn!("JSON-RPC request: {e}");
            return Err((
                StatusCode::REQUEST_TIMEOUT,
                [(header::CONNECTION, "close")],
                e.to_string(),
            )
                .into_response());
        }
        Err(e) => return Err((StatusCode::BAD_REQUEST, e.to_string()).into_response()),
    };
    // Only a batch is looked at here (jsonrpsee parses and answers everything else).
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
        && let Ok(Json::Array(items)) = serde_json::from_slice::<Json>(&bytes)
    {
        if items.is_empty() || items.len() > MAX_BATCH {
            let e = RpcError {
                code: codes::INVALID_REQUEST,
                message: format!(
                    "a batch holds 1 to {MAX_BATCH} requests, this one {}",
                    items.len()
                ),
                data: Some(json!({"limit": "batch_size", "max": MAX_BATCH})),
            };
            return Err(json_response(
                &json!({"jsonrpc": "2.0", "id": Json::Null, "error": e.to_json()}),
            ));
        }
        let work: u64 = items
            .iter()
            .map(|i| estimated_gas(i, s.cfg.rpc.gas_cap))
            .fold(0, u64::saturating_add);
        if work > s.cfg.rpc.batch_gas {
            let e = RpcError {
                code: codes::INVALID_REQUEST,
                message: format!(
                    "the batch's estimated EVM work is {work} gas, over the limit of \
                     {} (--rpc-batch-gas; an eth_estimateGas counts its gas times \
                     the runs of its bisection): send fewer or smaller calls",
                    s.cfg.rpc.batch_gas
                ),
                data: Some(json!({
                    "limit": "batch_gas",
                    "estimated": work,
                    "max": s.cfg.rpc.batch_gas,
                })),
            };
            return Err(json_response(
                &json!({"jsonrpc": "2.0", "id": Json::Null, "error": e.to_json()}),
            ));
        }
    }
    Ok((bytes, Budget::new(s.cfg.rpc.time_budget)))
}

async fn health(State(s): State<Arc<Shared>>) -> Response {
    match (s.fatal(), s.store.head()) {
        (Some(f), _) => (StatusCode::SERVICE_UNAVAILABLE, f).into_response(),
        (None, Ok(Some(_))) => (StatusCode::OK, "ok").into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "syncing: no genesis yet").into_response(),
    }
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    let m = &s.metrics;
    let height = s.store.head().ok().flatten().map_or(0, |h| h.height);
    let rows = [
        (
            "mf_coordinator_height",
            "Height the index has applied.",
            "gauge",
            height,
        ),
        (
            "mf_coordinator_open_intents",
            "Intents not final yet.",
            "gauge",
            s.open.load(Relaxed) as u64,
        ),
        (
            "mf_coordinator_intents_received_total",
            "Intents journaled.",
            "counter",
            m.received.load(Relaxed),
        ),
        (
            "mf_coordinator_intents_accepted_total",
            "Intents seen accepted in the chain.",
            "counter",
            m.accepted.load(Relaxed),
        ),
        (
            "mf_coordinator_intents_rejected_total",
            "Intents rejected for good.",
            "counter",
            m.rejected.load(Relaxed),
        ),
        (
            "mf_coordinator_refills_total",
            "Re-fills after a lost race.",
            "counter",
            m.retries.load(Relaxed),
        ),
        (
            "mf_coordinator_batches_total",
            "Batches submitted.",
            "counter",
            m.batches.load(Relaxed),
        ),
        (
            "mf_coordinator_submitted_total",
            "Transactions submitted.",
            "counter",
            m.submitted.load(Relaxed),
        ),
        (
            "mf_coordinator_feed_txs_total",
            "Transactions applied from the feed.",
            "counter",
            m.feed_txs.load(Relaxed),
        ),
        (
            "mf_coordinator_feed_moves_total",
            "Moves applied from the feed.",
            "counter",
            m.feed_moves.load(Relaxed),
        ),
        (
            "mf_coordinator_feed_reconnects_total",
            "Feed reconnections.",
            "counter",
            m.feed_reconnects.load(Relaxed),
        ),
        (
            "mf_coordinator_upstream_busy_total",
            "Busy answers from the validator.",
            "counter",
            m.upstream_busy.load(Relaxed),
        ),
        (
            "mf_coordinator_upstream_failovers_total",
            "Moves to the next validator replica.",
            "counter",
            m.upstream_failovers.load(Relaxed),
        ),
        (
            "mf_coordinator_rpc_evm_running",
            "RPC EVM executions running now.",
            "gauge",
            m.evm_running.load(Relaxed),
        ),
        (
            "mf_coordinator_rpc_evm_peak",
            "The most RPC EVM executions that ran at once (at most --rpc-max-evm).",
            "gauge",
            m.evm_peak.load(Relaxed),
        ),
    ];
    let mut out = String::new();
    for (name, help, kind, v) in rows {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
        ));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

fn json_response(v: &Json) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

/// The estimated EVM gas of one request object of a batch, before it runs: an `eth_call`
/// or `mf_simulate` its gas (the cap when it gives none), an `eth_estimateGas` its gas
/// times the most runs of its bisection, an `mf_dryRun` the most gas a transaction may
/// have; other methods execute nothing.
fn estimated_gas(item: &Json, cap: u64) -> u64 {
    let Some(obj) = item.as_object() else {
        return 0;
    };
    let gas = |max: u64| {
        obj.get("params")
            .and_then(|p| p.get(0))
            .and_then(|c| c.get("gas"))
            .and_then(|g| serde_json::from_value::<alloy_primitives::U64>(g.clone()).ok())
            .map_or(max, |g| g.saturating_to::<u64>().min(max))
    };
    match obj.get("method").and_then(Json::as_str) {
        Some("eth_call" | "debug_traceCall") => gas(cap),
        Some("eth_createAccessList") => gas(cap).saturating_mul(2),
        Some("mf_simulate") => gas(MAX_GAS_LIMIT),
        Some("eth_estimateGas") => {
            let g = gas(cap);
            g.saturating_mul(estimate_runs(g))
        }
        Some("mf_dryRun" | "debug_traceTransaction" | "mf_traceTransaction") => MAX_GAS_LIMIT,
        _ => 0,
    }
}
