//! The JSON-RPC 2.0 server (`POST /`), plus `GET /health` and `GET /metrics`.
//!
//! `docs/RPC.md` is the reference for every method. The rules of the transport:
//!
//! - a request is one JSON-RPC 2.0 object or a batch (array, at most [`MAX_BATCH`]
//!   entries); notifications (no `id`) run but get no answer; the body is at most
//!   [`MAX_BODY`] bytes;
//! - errors use the JSON-RPC codes (`-32700` parse, `-32600` invalid request, `-32601`
//!   unknown method, `-32602` invalid params, `-32603` internal) and Ethereum's (`3`
//!   execution reverted, with the revert data; `-32000` other execution failures; `-32002`
//!   historical state; `-32003` intent refused with `{reason, code}`; `-32005` busy);
//! - reads answer at the head the index has applied; a block tag other than
//!   `latest`/`pending`/`safe`/`finalized` or the head's own number or hash is refused with
//!   `-32002` (history is not kept).

use crate::service::{Intake, Shared};
use crate::store::Reader;
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use axum::Router;
use axum::body::Bytes as Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mf_format::limits::{MAX_GAS_LIMIT, MAX_INPUT_BYTES, MAX_TX_BYTES};
use mf_format::{
    Call, ExecContext, Key, Reason, TxId, check_structure, tx_id, verify_tx_signatures,
};
use mf_movegen::rpc::{DryRunJson, HeadJson, ValueJson, VersionJson, codes, parse_mark};
use mf_movegen::{Failure, MovegenError, StateView, execute, fill_built};
use serde::de::DeserializeOwned;
use serde_json::{Value as Json, json};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// Largest request body: an intent at the transaction size limit, hex-encoded, with room.
pub const MAX_BODY: usize = 2 * MAX_TX_BYTES + (64 << 10);
/// Most calls in one batch request.
pub const MAX_BATCH: usize = 1000;
/// Most ids in one `mf_waitIntents`.
pub const MAX_WAIT_IDS: usize = 10_000;
/// Longest `mf_waitIntent`.
pub const MAX_WAIT_MS: u64 = 30_000;

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
    fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }
    fn params(message: impl Into<String>) -> RpcError {
        RpcError::new(codes::INVALID_PARAMS, message)
    }
    fn internal(e: impl std::fmt::Display) -> RpcError {
        RpcError::new(codes::INTERNAL, format!("internal error: {e}"))
    }
    fn rejected(reason: &str, code: Option<u16>, detail: String) -> RpcError {
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

type RpcResult = Result<Json, RpcError>;

/// Serves until `shutdown` completes or the service stops.
pub async fn run_server(
    shared: Arc<Shared>,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), crate::CoordError> {
    let io = |e| crate::CoordError::io(std::path::Path::new("listener"), e);
    listener.set_nonblocking(true).map_err(io)?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(io)?;
    let app = Router::new()
        .route("/", post(handle))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Arc::clone(&shared));
    let mut changes = shared.signal.subscribe();
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

async fn handle(State(s): State<Arc<Shared>>, body: Body) -> Response {
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
    match req {
        Json::Array(items) => {
            if items.is_empty() || items.len() > MAX_BATCH {
                return json_response(&answer(
                    Json::Null,
                    Err(RpcError::new(
                        codes::INVALID_REQUEST,
                        format!("a batch holds 1 to {MAX_BATCH} requests"),
                    )),
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                if let Some(a) = one(&s, item).await {
                    out.push(a);
                }
            }
            if out.is_empty() {
                StatusCode::NO_CONTENT.into_response()
            } else {
                json_response(&Json::Array(out))
            }
        }
        other => match one(&s, other).await {
            Some(a) => json_response(&a),
            None => StatusCode::NO_CONTENT.into_response(),
        },
    }
}

/// One request object: its answer, `None` for a notification.
async fn one(s: &Arc<Shared>, req: Json) -> Option<Json> {
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
    let r = dispatch(s, &method, params).await;
    id.map(|id| answer(id, r))
}

fn param<T: DeserializeOwned>(params: &[Json], i: usize, name: &str) -> Result<T, RpcError> {
    let v = params
        .get(i)
        .ok_or_else(|| RpcError::params(format!("missing parameter {i} ({name})")))?;
    serde_json::from_value(v.clone())
        .map_err(|e| RpcError::params(format!("parameter {i} ({name}): {e}")))
}

fn opt_param<T: DeserializeOwned>(
    params: &[Json],
    i: usize,
    name: &str,
) -> Result<Option<T>, RpcError> {
    match params.get(i) {
        None | Some(Json::Null) => Ok(None),
        Some(_) => param(params, i, name).map(Some),
    }
}

fn max_params(params: &[Json], n: usize) -> Result<(), RpcError> {
    if params.len() > n {
        return Err(RpcError::params(format!(
            "too many parameters: at most {n}, got {}",
            params.len()
        )));
    }
    Ok(())
}

fn hex_u64(n: u64) -> Json {
    json!(format!("{n:#x}"))
}

/// Runs blocking work (LMDB, the EVM, signatures) off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RpcError> + Send + 'static,
) -> Result<T, RpcError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(RpcError::internal)?
}

fn reader(s: &Shared) -> Result<Reader<'_>, RpcError> {
    let r = s.store.reader().map_err(RpcError::internal)?;
    Ok(r)
}

fn head_of(r: &Reader<'_>) -> Result<crate::store::Head, RpcError> {
    match r.head_opt() {
        Ok(Some(h)) => Ok(h),
        Ok(None) => Err(RpcError::new(
            codes::RESOURCE_UNAVAILABLE,
            "the coordinator has not loaded the validator's genesis yet; retry shortly",
        )),
        Err(e) => Err(RpcError::internal(e)),
    }
}

/// Checks a block parameter against the head.
fn check_block(tag: Option<&Json>, head: &crate::store::Head) -> Result<(), RpcError> {
    let unavailable = |what: String| {
        Err(RpcError::new(
            codes::RESOURCE_UNAVAILABLE,
            format!(
                "{what}: only the head state (height {}) is kept; use \"latest\"",
                head.height
            ),
        ))
    };
    match tag {
        None | Some(Json::Null) => Ok(()),
        Some(Json::String(s)) => match s.as_str() {
            "latest" | "pending" | "safe" | "finalized" => Ok(()),
            "earliest" if head.height == 0 => Ok(()),
            "earliest" => unavailable("block \"earliest\"".into()),
            other => match u64::from_str_radix(other.trim_start_matches("0x"), 16) {
                Ok(n) if other.starts_with("0x") && n == head.height => Ok(()),
                Ok(n) if other.starts_with("0x") => unavailable(format!("block {n}")),
                _ => Err(RpcError::params(format!("bad block tag {other:?}"))),
            },
        },
        Some(Json::Object(o)) => {
            if let Some(h) = o.get("blockHash") {
                let h: B256 = serde_json::from_value(h.clone())
                    .map_err(|e| RpcError::params(format!("blockHash: {e}")))?;
                if h == head.hash {
                    return Ok(());
                }
                return unavailable(format!("block {h}"));
            }
            check_block(o.get("blockNumber"), head)
        }
        Some(other) => Err(RpcError::params(format!("bad block parameter {other}"))),
    }
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallObject {
    #[serde(default)]
    from: Option<Address>,
    #[serde(default)]
    to: Option<Address>,
    #[serde(default)]
    gas: Option<U64>,
    #[serde(default)]
    value: Option<U256>,
    #[serde(default)]
    data: Option<Bytes>,
    #[serde(default)]
    input: Option<Bytes>,
}

impl CallObject {
    fn to_call(&self) -> Result<Call, RpcError> {
        let input = match (&self.input, &self.data) {
            (Some(i), Some(d)) if i != d => {
                return Err(RpcError::params("\"input\" and \"data\" differ"));
            }
            (Some(i), _) => i.to_vec(),
            (None, Some(d)) => d.to_vec(),
            (None, None) => Vec::new(),
        };
        if input.len() > MAX_INPUT_BYTES {
            return Err(RpcError::params(format!(
                "input of {} bytes exceeds {MAX_INPUT_BYTES}",
                input.len()
            )));
        }
        Ok(Call {
            from: self.from.unwrap_or(Address::ZERO),
            to: self.to,
            value: self.value.unwrap_or(U256::ZERO),
            input,
            gas_limit: self.gas.map_or(MAX_GAS_LIMIT, |g| {
                g.saturating_to::<u64>().min(MAX_GAS_LIMIT)
            }),
        })
    }
}

fn exec_error(e: MovegenError) -> RpcError {
    match e {
        MovegenError::Execution(Failure::Revert { reason, output }) => RpcError {
            code: codes::EXECUTION_REVERTED,
            message: match reason {
                Some(r) => format!("execution reverted: {r}"),
                None => "execution reverted".into(),
            },
            data: Some(json!(Bytes::from(output))),
        },
        MovegenError::Execution(f) => RpcError::new(codes::SERVER_ERROR, f.to_string()),
        other => RpcError::internal(other),
    }
}

fn decode_intent(params: &[Json]) -> Result<mf_format::Transaction, RpcError> {
    max_params(params, 1)?;
    let raw: Bytes = param(params, 0, "transaction")?;
    if raw.len() > MAX_TX_BYTES {
        return Err(RpcError::rejected(
            Reason::LimitExceeded.name(),
            Some(Reason::LimitExceeded.code()),
            format!("{} bytes exceeds {MAX_TX_BYTES}", raw.len()),
        ));
    }
    mf_format::decode_tx(&raw).map_err(|e| {
        let r = e.reason();
        RpcError {
            code: codes::INVALID_PARAMS,
            message: format!("not a transaction: {e}"),
            data: Some(json!({"reason": r.name(), "code": r.code()})),
        }
    })
}

async fn dispatch(s: &Arc<Shared>, method: &str, params: Vec<Json>) -> RpcResult {
    match method {
        "web3_clientVersion" => Ok(json!(concat!("mf-coordinator/", env!("CARGO_PKG_VERSION")))),
        "eth_gasPrice" | "eth_maxPriorityFeePerGas" => Ok(json!("0x0")),
        "eth_syncing" => Ok(json!(false)),
        "eth_accounts" => Ok(json!([])),
        "eth_chainId" | "net_version" | "eth_blockNumber" | "mf_getHead" => {
            max_params(&params, 0)?;
            let r = reader(s)?;
            let head = head_of(&r)?;
            Ok(match method {
                "eth_chainId" => hex_u64(head.chain_id),
                "net_version" => json!(head.chain_id.to_string()),
                "eth_blockNumber" => hex_u64(head.height),
                _ => serde_json::to_value(HeadJson {
                    height: U64::from(head.height),
                    header_hash: head.hash,
                    state_hash: head.state_hash,
                })
                .map_err(RpcError::internal)?,
            })
        }
        "eth_getBalance" | "eth_getTransactionCount" | "eth_getCode" => {
            max_params(&params, 2)?;
            let addr: Address = param(&params, 0, "address")?;
            let r = reader(s)?;
            check_block(params.get(1), &head_of(&r)?)?;
            let a = r.account(addr).map_err(RpcError::internal)?;
            Ok(match method {
                "eth_getBalance" => json!(a.balance),
                "eth_getTransactionCount" => hex_u64(a.nonce),
                _ => {
                    if a.code_hash == mf_format::EMPTY_CODE_HASH {
                        json!("0x")
                    } else {
                        let code = r
                            .code(&a.code_hash)
                            .map_err(RpcError::internal)?
                            .ok_or_else(|| RpcError::internal("code missing from the index"))?;
                        json!(code)
                    }
                }
            })
        }
        "eth_getStorageAt" => {
            max_params(&params, 3)?;
            let addr: Address = param(&params, 0, "address")?;
            let slot: U256 = param(&params, 1, "slot")?;
            let r = reader(s)?;
            check_block(params.get(2), &head_of(&r)?)?;
            let w = r.storage(addr, slot).map_err(RpcError::internal)?;
            Ok(json!(B256::from(w)))
        }
        "eth_call" | "eth_estimateGas" => {
            max_params(&params, 3)?;
            let obj: CallObject = param(&params, 0, "transaction")?;
            if params.get(2).is_some_and(|v| !v.is_null()) {
                return Err(RpcError::params("state overrides are not supported"));
            }
            let call = obj.to_call()?;
            let tag = params.get(1).cloned();
            let estimate = method == "eth_estimateGas";
            let s = Arc::clone(s);
            blocking(move || {
                let r = reader(&s)?;
                let head = head_of(&r)?;
                check_block(tag.as_ref(), &head)?;
                let ctx = ExecContext {
                    block_number: head.height + 1,
                    timestamp: now_s(),
                };
                let ran = execute(&r, head.chain_id, &call, &ctx).map_err(exec_error)?;
                if !estimate {
                    return Ok(json!(Bytes::from(ran.output)));
                }
                // The smallest gas limit that succeeds: start from what was used (refunds
                // and the 63/64 rule can make it too small), then bisect.
                let ok = |gas: u64| {
                    let c = Call {
                        gas_limit: gas,
                        ..call.clone()
                    };
                    execute(&r, head.chain_id, &c, &ctx).is_ok()
                };
                let mut lo = ran.gas_used.saturating_sub(1);
                let mut hi = call.gas_limit;
                if ok(ran.gas_used) {
                    return Ok(hex_u64(ran.gas_used));
                }
                lo = lo.max(ran.gas_used);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if ok(mid) {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                Ok(hex_u64(hi))
            })
            .await
        }
        "mf_simulate" => {
            max_params(&params, 2)?;
            let obj: CallObject = param(&params, 0, "transaction")?;
            let call = obj.to_call()?;
            #[derive(serde::Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Ctx {
                block_number: U64,
                timestamp: U64,
            }
            let ctx: Option<Ctx> = opt_param(&params, 1, "context")?;
            let s = Arc::clone(s);
            blocking(move || {
                let r = reader(&s)?;
                let head = head_of(&r)?;
                let ctx = match ctx {
                    Some(c) => ExecContext {
                        block_number: c.block_number.saturating_to(),
                        timestamp: c.timestamp.saturating_to(),
                    },
                    None => ExecContext {
                        block_number: head.height + 1,
                        timestamp: now_s(),
                    },
                };
                let ran = execute(&r, head.chain_id, &call, &ctx).map_err(exec_error)?;
                let body = mf_format::TxBody {
                    chain_id: head.chain_id,
                    call,
                    context: ctx,
                    open: false,
                    moves: ran.moves,
                    created_code: ran.created_code,
                };
                serde_json::to_value(mf_movegen::rpc::SimulationJson {
                    body: Bytes::from(mf_format::encode(&body)),
                    gas_used: U64::from(ran.gas_used),
                    output: Bytes::from(ran.output),
                    created: ran.created,
                    height: U64::from(head.height),
                })
                .map_err(RpcError::internal)
            })
            .await
        }
        "mf_getVersion" => {
            max_params(&params, 3)?;
            let mark: String = param(&params, 0, "mark")?;
            let mark =
                parse_mark(&mark).ok_or_else(|| RpcError::params("mark must be \"a\" or \"s\""))?;
            let addr: Address = param(&params, 1, "address")?;
            let slot: U256 = opt_param(&params, 2, "slot")?.unwrap_or(U256::ZERO);
            if mark == mf_format::Mark::Account && !slot.is_zero() {
                return Err(RpcError::params("an account key has slot 0"));
            }
            let key = Key { mark, addr, slot };
            let r = reader(s)?;
            let head = head_of(&r)?;
            let v = r.version(&key).map_err(RpcError::internal)?;
            let (exists, (intx, value)) = match v {
                Some(v) => (true, v),
                None => (
                    false,
                    (mf_format::GENESIS_INTX, mf_format::Value::zero(mark)),
                ),
            };
            serde_json::to_value(VersionJson {
                exists,
                intx,
                value: ValueJson::from(&value),
                height: U64::from(head.height),
            })
            .map_err(RpcError::internal)
        }
        "mf_getCodeByHash" => {
            max_params(&params, 1)?;
            let hash: B256 = param(&params, 0, "code hash")?;
            let r = reader(s)?;
            Ok(match r.code(&hash).map_err(RpcError::internal)? {
                Some(c) => json!(c),
                None => Json::Null,
            })
        }
        "mf_getIntent" => {
            max_params(&params, 1)?;
            let id: TxId = param(&params, 0, "intent id")?;
            let st = s.store.intent(&id).map_err(RpcError::internal)?;
            serde_json::to_value(st).map_err(RpcError::internal)
        }
        "mf_waitIntent" => {
            max_params(&params, 2)?;
            let id: TxId = param(&params, 0, "intent id")?;
            let ms: u64 = opt_param::<u64>(&params, 1, "timeout ms")?.unwrap_or(5_000);
            let deadline = tokio::time::Instant::now() + Duration::from_millis(ms.min(MAX_WAIT_MS));
            let mut changes = s.signal.subscribe();
            loop {
                let st = s.store.intent(&id).map_err(RpcError::internal)?;
                let done = match &st {
                    None => true,
                    Some(st) => st.status.is_final(),
                };
                if done || s.stopping() {
                    return serde_json::to_value(st).map_err(RpcError::internal);
                }
                match tokio::time::timeout_at(deadline, changes.changed()).await {
                    Ok(Ok(())) => {}
                    _ => return serde_json::to_value(st).map_err(RpcError::internal),
                }
            }
        }
        "mf_waitIntents" => {
            max_params(&params, 2)?;
            let ids: Vec<TxId> = param(&params, 0, "intent ids")?;
            if ids.is_empty() || ids.len() > MAX_WAIT_IDS {
                return Err(RpcError::params(format!(
                    "give 1 to {MAX_WAIT_IDS} intent ids"
                )));
            }
            let ms: u64 = opt_param::<u64>(&params, 1, "timeout ms")?.unwrap_or(5_000);
            let deadline = tokio::time::Instant::now() + Duration::from_millis(ms.min(MAX_WAIT_MS));
            let mut changes = s.signal.subscribe();
            loop {
                let mut out = Vec::with_capacity(ids.len());
                let mut any = false;
                for id in &ids {
                    let st = s.store.intent(id).map_err(RpcError::internal)?;
                    any |= st.as_ref().is_none_or(|st| st.status.is_final());
                    out.push(st);
                }
                if any || s.stopping() {
                    return serde_json::to_value(out).map_err(RpcError::internal);
                }
                match tokio::time::timeout_at(deadline, changes.changed()).await {
                    Ok(Ok(())) => {}
                    _ => return serde_json::to_value(out).map_err(RpcError::internal),
                }
            }
        }
        "mf_sendIntent" => {
            let tx = decode_intent(&params)?;
            let s2 = Arc::clone(s);
            let (tx, id) = blocking(move || {
                let head = head_of(&reader(&s2)?)?;
                check_structure(&tx, head.chain_id).map_err(|r| {
                    RpcError::rejected(r.name(), Some(r.code()), "structural check".into())
                })?;
                verify_tx_signatures(&tx).map_err(|r| {
                    RpcError::rejected(r.name(), Some(r.code()), "signature check".into())
                })?;
                let id = tx_id(&tx.body);
                Ok((tx, id))
            })
            .await?;
            // A known intent answers its id even when busy: resubmitting is idempotent.
            if s.store.intent(&id).map_err(RpcError::internal)?.is_some() {
                return Ok(json!(id));
            }
            if s.open.load(Relaxed) >= s.cfg.max_open {
                return Err(RpcError::new(
                    codes::LIMIT_EXCEEDED,
                    format!(
                        "busy: {} intents are in flight (the limit); retry later",
                        s.cfg.max_open
                    ),
                ));
            }
            let (reply, wait) = tokio::sync::oneshot::channel();
            let bytes = mf_format::encode(&tx);
            if s.send_intake(Intake {
                id,
                tx,
                bytes,
                reply,
            })
            .is_err()
            {
                return Err(RpcError::new(
                    codes::LIMIT_EXCEEDED,
                    "busy: the intake queue is full; retry later",
                ));
            }
            match wait.await {
                Ok(Ok(())) => Ok(json!(id)),
                Ok(Err(e)) => Err(RpcError::internal(e)),
                Err(_) => Err(RpcError::internal("the coordinator is stopping")),
            }
        }
        "mf_dryRun" => {
            let tx = decode_intent(&params)?;
            let s = Arc::clone(s);
            blocking(move || {
                let r = reader(&s)?;
                let head = head_of(&r)?;
                // The same intake checks as mf_sendIntent, so a dry run that succeeds is an
                // intent the coordinator would take.
                check_structure(&tx, head.chain_id).map_err(|r| {
                    RpcError::rejected(r.name(), Some(r.code()), "structural check".into())
                })?;
                let b = fill_built(&tx, &r).map_err(|e| {
                    let (reason, detail) = crate::sequencer::fill_rejection(&e);
                    match reason {
                        Ok(r) => RpcError::rejected(r.name(), Some(r.code()), detail),
                        Err(name) => RpcError::rejected(name, None, detail),
                    }
                })?;
                serde_json::to_value(DryRunJson {
                    tx: Bytes::from(mf_format::encode(&b.tx)),
                    tx_id: b.id,
                    gas_used: U64::from(b.execution.gas_used),
                    output: Bytes::from(b.execution.output),
                    moves: b.tx.body.moves.len() as u32,
                    height: U64::from(head.height),
                })
                .map_err(RpcError::internal)
            })
            .await
        }
        other => Err(RpcError::new(
            codes::METHOD_NOT_FOUND,
            format!("the method {other} does not exist / is not available"),
        )),
    }
}
