//! The transport: the HTTP server (`POST /`, `GET /health`, `GET /metrics`), the JSON-RPC
//! 2.0 envelope (single requests, batches, notifications) and the error object.

use super::{Budget, MAX_BATCH, MAX_BODY, methods};
use crate::service::Shared;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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

/// Serves until `shutdown` completes or the service stops.
pub async fn run_server(
    shared: Arc<Shared>,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), crate::CoordError> {
    let io = crate::CoordError::Listener;
    listener.set_nonblocking(true).map_err(io)?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(io)?;
    let listener = LimitedListener::new(listener, shared.cfg.rpc.connections);
    let app = Router::new()
        .route("/", post(handle))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(Arc::clone(&shared));
    let mut changes = shared.store.changes().subscribe();
    let stop = async move {
        tokio::select! {
            _ = shutdown => {}
            _ = async {
                while !shared.stopping() {
                    if changes.changed().await.is_err() {
                        break;
                    }
                }
            } => {}
        }
        tracing::info!("JSON-RPC server stopping");
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
        .map_err(io)
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

fn answer(id: Json, r: RpcResult) -> Json {
    match r {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(e) => json!({"jsonrpc": "2.0", "id": id, "error": e.to_json()}),
    }
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
        Some("eth_call") => gas(cap),
        Some("mf_simulate") => gas(MAX_GAS_LIMIT),
        Some("eth_estimateGas") => {
            let g = gas(cap);
            g.saturating_mul(estimate_runs(g))
        }
        Some("mf_dryRun") => MAX_GAS_LIMIT,
        _ => 0,
    }
}

/// Reads the body (at most [`MAX_BODY`] bytes, by its deadline) and answers it.
async fn handle(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let limits = BodyLimits {
        timeout: s.cfg.rpc.body_timeout,
        min_rate: s.cfg.rpc.body_min_rate,
        max_bytes: MAX_BODY,
    };
    let mut body = req.into_body();
    let read = read_body(&mut body, &limits, |_| {
        Ok::<(), std::convert::Infallible>(())
    })
    .await;
    let body = match read {
        Ok(b) => b,
        Err(e @ BodyError::TooLarge { .. }) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response();
        }
        Err(e @ BodyError::TooSlow { .. }) => {
            tracing::warn!("JSON-RPC request: {e}");
            return (
                StatusCode::REQUEST_TIMEOUT,
                [(header::CONNECTION, "close")],
                e.to_string(),
            )
                .into_response();
        }
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let req: Json = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return json_response(&answer(
                Json::Null,
                Err(RpcError::new(
                    codes::PARSE_ERROR,
                    format!("parse error: {e}"),
                )),
            ));
        }
    };
    let mut budget = Budget::new(s.cfg.rpc.time_budget);
    match req {
        Json::Array(items) => {
            if items.is_empty() || items.len() > MAX_BATCH {
                return json_response(&answer(
                    Json::Null,
                    Err(RpcError {
                        code: codes::INVALID_REQUEST,
                        message: format!(
                            "a batch holds 1 to {MAX_BATCH} requests, this one {}",
                            items.len()
                        ),
                        data: Some(json!({"limit": "batch_size", "max": MAX_BATCH})),
                    }),
                ));
            }
            let work: u64 = items
                .iter()
                .map(|i| estimated_gas(i, s.cfg.rpc.gas_cap))
                .fold(0, u64::saturating_add);
            if work > s.cfg.rpc.batch_gas {
                return json_response(&answer(
                    Json::Null,
                    Err(RpcError {
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
                    }),
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                if let Some(a) = one(&s, item, &mut budget).await {
                    out.push(a);
                }
            }
            if out.is_empty() {
                StatusCode::NO_CONTENT.into_response()
            } else {
                json_response(&Json::Array(out))
            }
        }
        other => match one(&s, other, &mut budget).await {
            Some(a) => json_response(&a),
            None => StatusCode::NO_CONTENT.into_response(),
        },
    }
}

/// One request object: its answer, `None` for a notification.
async fn one(s: &Arc<Shared>, req: Json, budget: &mut Budget) -> Option<Json> {
    let Json::Object(mut obj) = req else {
        return Some(answer(
            Json::Null,
            Err(RpcError::new(
                codes::INVALID_REQUEST,
                "a request must be an object",
            )),
        ));
    };
    let id = obj.remove("id");
    let id_ok = matches!(
        id,
        None | Some(Json::Null | Json::Number(_) | Json::String(_))
    );
    let reply_id = if id_ok {
        id.clone().unwrap_or(Json::Null)
    } else {
        Json::Null
    };
    let invalid = |msg: &str| {
        Some(answer(
            reply_id.clone(),
            Err(RpcError::new(codes::INVALID_REQUEST, msg.to_string())),
        ))
    };
    if !id_ok {
        return invalid("id must be a string, a number or null");
    }
    if obj.get("jsonrpc").and_then(Json::as_str) != Some("2.0") {
        return invalid("\"jsonrpc\" must be \"2.0\"");
    }
    let Some(method) = obj.get("method").and_then(Json::as_str).map(str::to_string) else {
        return invalid("\"method\" must be a string");
    };
    let params = match obj.remove("params") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(a)) => a,
        Some(_) => {
            return Some(answer(
                reply_id,
                Err(RpcError::params("params must be an array (positional)")),
            ));
        }
    };
    let r = methods::dispatch(s, &method, params, budget).await;
    id.map(|id| answer(id, r))
}
