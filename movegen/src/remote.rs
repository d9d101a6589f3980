//! The wallet's side of a coordinator: a [`StateView`] over its JSON-RPC ([`RemoteView`])
//! and a client that submits intents and waits for their verdict ([`RpcClient`]).
//!
//! Blocking HTTP (ureq): execution reads state synchronously, one key at a time, so a
//! blocking client is the natural fit; one `RpcClient` keeps its connections alive and is
//! cheap to clone.
//!
//! ```no_run
//! use mf_format::{Keypair, U256};
//! use mf_movegen::TxBuilder;
//! use mf_movegen::remote::{RemoteView, RpcClient};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = RpcClient::new("http://127.0.0.1:8646");
//! let alice = Keypair::from_label("alice");
//! let view = RemoteView::new(client.clone());
//! let built = TxBuilder::transfer(client.chain_id()?, Keypair::from_label("bob").address(),
//!     U256::from(10u64)).build(&view, &alice, &[])?;
//! let status = client.submit_and_wait(&built.tx, std::time::Duration::from_secs(10))?;
//! println!("{:?} at height {:?}", status.status, status.height);
//! # Ok(()) }
//! ```

use crate::exec::Execution;
use crate::rpc::{DryRunJson, HeadJson, IntentStatus, RpcVersion, SimulationJson};
use crate::view::StateView;
use alloy_primitives::{B256, Bytes, U64};
use mf_format::{Call, ExecContext, Key, Transaction, TxId, U256, Value, encode};
use serde::de::DeserializeOwned;
use serde_json::{Value as Json, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest JSON-RPC answer the client reads (a dry run returns a whole transaction).
const MAX_ANSWER_BYTES: u64 = 8 << 20;

/// Why a remote call failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The coordinator could not be reached, or the connection broke.
    #[error("cannot reach the coordinator at {url}: {detail}")]
    Transport {
        /// The endpoint.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The coordinator answered with a JSON-RPC error.
    #[error("{method}: JSON-RPC error {code}: {message}")]
    Rpc {
        /// The method called.
        method: String,
        /// The JSON-RPC error code (see [`crate::rpc::codes`]).
        code: i64,
        /// Its message.
        message: String,
        /// Its `data`, if any.
        data: Option<Json>,
    },
    /// The answer did not have the documented shape.
    #[error("{method}: unexpected answer: {detail}")]
    BadAnswer {
        /// The method called.
        method: String,
        /// What is wrong.
        detail: String,
    },
    /// [`RpcClient::wait`] gave up.
    #[error("intent {intent} not final after {waited:?} (last status: {last:?})")]
    Timeout {
        /// The intent.
        intent: TxId,
        /// How long it waited.
        waited: Duration,
        /// Its last status.
        last: Box<IntentStatus>,
    },
}

/// A keep-alive HTTP agent that reports HTTP error statuses as answers (not errors).
///
/// Timeouts are per phase (connect 5 s; sending and receiving `timeout` each, none when
/// `None`, for streams) and never on name resolution: ureq enforces a resolution timeout by
/// resolving on a new thread per request, which costs more than a loopback call itself.
pub fn http_agent(timeout: Option<Duration>) -> ureq::Agent {
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

/// A JSON-RPC 2.0 client for a coordinator (`http://host:port`).
#[derive(Clone)]
pub struct RpcClient {
    url: Arc<str>,
    agent: ureq::Agent,
    next_id: Arc<AtomicU64>,
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcClient").field("url", &self.url).finish()
    }
}

impl RpcClient {
    /// A client for the coordinator at `url` (30 s timeout per call).
    pub fn new(url: &str) -> RpcClient {
        RpcClient::with_timeout(url, Duration::from_secs(30))
    }

    /// A client with another per-call timeout.
    pub fn with_timeout(url: &str, timeout: Duration) -> RpcClient {
        let agent = http_agent(Some(timeout));
        RpcClient {
            url: Arc::from(url.trim_end_matches('/')),
            agent,
            next_id: Arc::new(AtomicU64::new(1)),
        }
    }

    /// The endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn transport(&self, detail: impl std::fmt::Display) -> RemoteError {
        RemoteError::Transport {
            url: self.url.to_string(),
            detail: detail.to_string(),
        }
    }

    fn post(&self, body: &Json) -> Result<Json, RemoteError> {
        let bytes = serde_json::to_vec(body).map_err(|e| self.transport(e))?;
        let mut resp = self
            .agent
            .post(&*self.url)
            .header("content-type", "application/json")
            .send(&bytes[..])
            .map_err(|e| self.transport(e))?;
        let status = resp.status();
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_string()
            .map_err(|e| self.transport(e))?;
        serde_json::from_str(&text)
            .map_err(|e| self.transport(format!("HTTP {status}: not JSON ({e}): {text:.200}")))
    }

    /// Calls `method` with `params` and returns the raw `result`.
    pub fn call_raw(&self, method: &str, params: Json) -> Result<Json, RemoteError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let answer = self.post(&json!({
            "jsonrpc": "2.0", "id": id, "method": method, "params": params,
        }))?;
        take_result(method, answer)
    }

    /// Calls `method` and decodes its `result`.
    pub fn call<T: DeserializeOwned>(&self, method: &str, params: Json) -> Result<T, RemoteError> {
        let raw = self.call_raw(method, params)?;
        serde_json::from_value(raw).map_err(|e| RemoteError::BadAnswer {
            method: method.to_string(),
            detail: e.to_string(),
        })
    }

    /// Sends several calls as one JSON-RPC batch; the answers come back in the order of
    /// `calls` (each its own `Result`).
    pub fn batch(
        &self,
        calls: &[(&str, Json)],
    ) -> Result<Vec<Result<Json, RemoteError>>, RemoteError> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let first = self
            .next_id
            .fetch_add(calls.len() as u64, Ordering::Relaxed);
        let body: Vec<Json> = calls
            .iter()
            .enumerate()
            .map(|(i, (m, p))| json!({"jsonrpc": "2.0", "id": first + i as u64, "method": m, "params": p}))
            .collect();
        let answer = self.post(&Json::Array(body))?;
        let Json::Array(items) = answer else {
            return Err(RemoteError::BadAnswer {
                method: "batch".into(),
                detail: "a batch request must be answered with an array".into(),
            });
        };
        let mut by_id: HashMap<u64, Json> = HashMap::with_capacity(items.len());
        for item in items {
            if let Some(id) = item.get("id").and_then(Json::as_u64) {
                by_id.insert(id, item);
            }
        }
        Ok(calls
            .iter()
            .enumerate()
            .map(|(i, (m, _))| match by_id.remove(&(first + i as u64)) {
                Some(a) => take_result(m, a),
                None => Err(RemoteError::BadAnswer {
                    method: m.to_string(),
                    detail: "no answer in the batch".into(),
                }),
            })
            .collect())
    }

    /// `eth_chainId`.
    pub fn chain_id(&self) -> Result<u64, RemoteError> {
        Ok(self.call::<U64>("eth_chainId", json!([]))?.to::<u64>())
    }

    /// `eth_blockNumber`: the height the coordinator's index reflects.
    pub fn block_number(&self) -> Result<u64, RemoteError> {
        Ok(self.call::<U64>("eth_blockNumber", json!([]))?.to::<u64>())
    }

    /// `mf_getHead`.
    pub fn head(&self) -> Result<HeadJson, RemoteError> {
        self.call("mf_getHead", json!([]))
    }

    /// `mf_getVersion`: the live version of `key`.
    pub fn version(&self, key: &Key) -> Result<RpcVersion, RemoteError> {
        self.call(
            "mf_getVersion",
            json!([key.mark.as_str(), key.addr, B256::from(key.slot)]),
        )
    }

    /// `mf_getCodeByHash`.
    pub fn code_by_hash(&self, hash: &B256) -> Result<Option<Bytes>, RemoteError> {
        self.call("mf_getCodeByHash", json!([hash]))
    }

    /// `mf_sendIntent`: journals a signed (possibly masked) transaction; returns its intent id.
    pub fn submit(&self, tx: &Transaction) -> Result<TxId, RemoteError> {
        self.call("mf_sendIntent", json!([Bytes::from(encode(tx))]))
    }

    /// `mf_sendEthTransaction`: a signed Ethereum transaction (its EIP-2718 bytes) as an
    /// intent (PROTOCOL.md §5.5); the answer is the intent's id. `mf_getIntent` also finds it
    /// by the Ethereum hash (keccak-256 of `envelope`).
    pub fn send_eth_transaction(&self, envelope: &[u8]) -> Result<TxId, RemoteError> {
        self.call(
            "mf_sendEthTransaction",
            json!([Bytes::from(envelope.to_vec())]),
        )
    }

    /// `mf_getIntent`; `None` when the coordinator does not know the id.
    pub fn intent(&self, id: &TxId) -> Result<Option<IntentStatus>, RemoteError> {
        self.call("mf_getIntent", json!([id]))
    }

    /// `mf_simulate`: runs `call` in `context` against the coordinator's head and returns
    /// the execution (moves, created code, gas, output; no logs), ready for
    /// [`TxBuilder::build_with`](crate::TxBuilder::build_with). One round trip instead of one
    /// per state read through a [`RemoteView`]; the validators' re-execution still checks
    /// everything signed.
    pub fn simulate(&self, call: &Call, context: &ExecContext) -> Result<Execution, RemoteError> {
        let mut obj = json!({
            "from": call.from,
            "to": call.to,
            "value": call.value,
            "input": Bytes::from(call.input.clone()),
            "gas": U64::from(call.gas_limit),
            "type": U64::from(call.fee.kind.byte()),
        });
        if matches!(
            call.fee.kind,
            mf_format::FeeKind::Dynamic | mf_format::FeeKind::Blob
        ) {
            obj["maxFeePerGas"] = json!(U256::from(call.fee.max_fee_per_gas));
            obj["maxPriorityFeePerGas"] = json!(U256::from(call.fee.max_priority_fee_per_gas));
            if let Some(b) = &call.blob {
                obj["maxFeePerBlobGas"] = json!(U256::from(b.max_fee_per_blob_gas));
                obj["blobVersionedHashes"] = json!(b.versioned_hashes);
            }
        } else {
            obj["gasPrice"] = json!(U256::from(call.fee.max_fee_per_gas));
        }
        if !call.access_list.is_empty() {
            obj["accessList"] = call
                .access_list
                .iter()
                .map(|i| json!({"address": i.address, "storageKeys": i.storage_keys}))
                .collect();
        }
        let sim: SimulationJson = self.call(
            "mf_simulate",
            json!([obj, {
                "blockNumber": U64::from(context.block_number),
                "timestamp": U64::from(context.timestamp),
            }]),
        )?;
        let body = mf_format::decode_body(&sim.body).map_err(|e| RemoteError::BadAnswer {
            method: "mf_simulate".into(),
            detail: format!("body: {e}"),
        })?;
        if body.call != *call || body.context != *context {
            return Err(RemoteError::BadAnswer {
                method: "mf_simulate".into(),
                detail: "the body is for another call or context".into(),
            });
        }
        Ok(Execution {
            moves: body.moves,
            created_code: body.created_code,
            gas_used: sim.gas_used.to::<u64>(),
            logs: Vec::new(),
            output: sim.output.to_vec(),
            created: sim.created,
            failure: None,
            beneficiary_fee: U256::ZERO,
        })
    }

    /// `mf_dryRun`: fills `tx` against the head state without queueing it.
    pub fn dry_run(&self, tx: &Transaction) -> Result<DryRunJson, RemoteError> {
        self.call("mf_dryRun", json!([Bytes::from(encode(tx))]))
    }

    /// Waits until the intent is accepted or rejected (long-polling `mf_waitIntent`), at
    /// most `timeout`.
    pub fn wait(&self, id: &TxId, timeout: Duration) -> Result<IntentStatus, RemoteError> {
        let start = Instant::now();
        loop {
            let left = timeout.saturating_sub(start.elapsed());
            let poll = left.min(Duration::from_secs(5));
            let status: Option<IntentStatus> =
                self.call("mf_waitIntent", json!([id, poll.as_millis() as u64]))?;
            let Some(status) = status else {
                return Err(RemoteError::BadAnswer {
                    method: "mf_waitIntent".into(),
                    detail: format!("the coordinator does not know intent {id}"),
                });
            };
            if status.status.is_final() {
                return Ok(status);
            }
            if start.elapsed() >= timeout {
                return Err(RemoteError::Timeout {
                    intent: *id,
                    waited: start.elapsed(),
                    last: Box::new(status),
                });
            }
        }
    }

    /// `mf_waitIntents`: the statuses of `ids` (in order, `None` for unknown ids), as soon
    /// as at least one is final or `timeout` passed (at most 30 s). For a client that
    /// follows many intents at once.
    pub fn wait_any(
        &self,
        ids: &[TxId],
        timeout: Duration,
    ) -> Result<Vec<Option<IntentStatus>>, RemoteError> {
        self.call("mf_waitIntents", json!([ids, timeout.as_millis() as u64]))
    }

    /// [`submit`](Self::submit) then [`wait`](Self::wait).
    pub fn submit_and_wait(
        &self,
        tx: &Transaction,
        timeout: Duration,
    ) -> Result<IntentStatus, RemoteError> {
        let id = self.submit(tx)?;
        self.wait(&id, timeout)
    }
}

fn take_result(method: &str, mut answer: Json) -> Result<Json, RemoteError> {
    if let Some(err) = answer.get_mut("error").map(Json::take) {
        return Err(RemoteError::Rpc {
            method: method.to_string(),
            code: err.get("code").and_then(Json::as_i64).unwrap_or(0),
            message: err
                .get("message")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string(),
            data: err.get("data").cloned(),
        });
    }
    match answer.get_mut("result") {
        Some(r) => Ok(r.take()),
        None => Err(RemoteError::BadAnswer {
            method: method.to_string(),
            detail: "neither result nor error".into(),
        }),
    }
}

/// A [`StateView`] that asks a coordinator (`mf_getVersion`, `mf_getCodeByHash`).
///
/// Code is cached (it never changes for a hash); versions are not: each execution reads the
/// coordinator's head as it is.
#[derive(Clone, Debug)]
pub struct RemoteView {
    client: RpcClient,
    code: Arc<Mutex<HashMap<B256, Bytes>>>,
}

impl RemoteView {
    /// A view over `client`'s coordinator.
    pub fn new(client: RpcClient) -> RemoteView {
        RemoteView {
            client,
            code: Arc::default(),
        }
    }

    /// The client.
    pub fn client(&self) -> &RpcClient {
        &self.client
    }
}

impl StateView for RemoteView {
    type Error = RemoteError;

    fn version(&self, key: &Key) -> Result<Option<(TxId, Value)>, RemoteError> {
        let v = self.client.version(key)?;
        if !v.exists {
            return Ok(None);
        }
        let value = v
            .value
            .to_value(key.mark)
            .ok_or_else(|| RemoteError::BadAnswer {
                method: "mf_getVersion".into(),
                detail: format!("a value of the wrong type for {key:?}"),
            })?;
        Ok(Some((v.intx, value)))
    }

    fn code(&self, hash: &B256) -> Result<Option<Bytes>, RemoteError> {
        if let Ok(cache) = self.code.lock()
            && let Some(c) = cache.get(hash)
        {
            return Ok(Some(c.clone()));
        }
        let code = self.client.code_by_hash(hash)?;
        if let Some(c) = &code {
            if alloy_primitives::keccak256(c) != *hash {
                return Err(RemoteError::BadAnswer {
                    method: "mf_getCodeByHash".into(),
                    detail: format!("the code returned for {hash} hashes to something else"),
                });
            }
            if let Ok(mut cache) = self.code.lock() {
                cache.insert(*hash, c.clone());
            }
        }
        Ok(code)
    }
}
