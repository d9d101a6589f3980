//! The methods (`docs/RPC.md`): reads against the index at its head, execution, and
//! intents in and out.

use super::params::{
    CallObject, block_height, decode_intent, hex_u64, max_params, opt_param, param,
};
use super::transport::{RpcError, RpcResult};
use super::{Budget, MAX_WAIT_IDS, MAX_WAIT_MS};
use crate::service::{Intake, Shared};
use crate::store::{Head, IndexReader};
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_rpc_types_trace::geth::GethDebugTracingOptions;
use mf_format::eth::declared_nonce;
use mf_format::{ExecContext, Key, TxId, check_structure, decode_eth, tx_id, verify_tx_signatures};
use mf_movegen::rpc::{DryRunJson, HeadJson, RpcValue, RpcVersion, codes};
use mf_movegen::{
    Failure, MovegenError, StateView, estimate_gas_until_under, eth_transaction_signed,
    execute_until_under, fill_built_under,
};
use serde_json::{Value as Json, json};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// The methods [`dispatch`] answers by name here (with `super::eth::METHODS`, which it
/// hands to rpc/eth.rs, and `super::filters::METHODS`, which rpc/filters.rs answers, every
/// method the server registers: [`registered`]).
pub(crate) const METHODS: &[&str] = &[
    "web3_clientVersion",
    "eth_syncing",
    "net_listening",
    "net_peerCount",
    "eth_mining",
    "eth_hashrate",
    "eth_coinbase",
    "web3_sha3",
    "eth_accounts",
    "eth_chainId",
    "net_version",
    "eth_blockNumber",
    "mf_getHead",
    "eth_getBalance",
    "eth_getTransactionCount",
    "eth_getCode",
    "eth_getStorageAt",
    "eth_call",
    "eth_estimateGas",
    "mf_simulate",
    "mf_getVersion",
    "mf_getCodeByHash",
    "mf_getIntent",
    "mf_waitIntent",
    "mf_waitIntents",
    "mf_sendIntent",
    "mf_sendEthTransaction",
    "eth_sendRawTransaction",
    "mf_dryRun",
    "debug_traceCall",
    "eth_createAccessList",
    "debug_traceTransaction",
    "mf_traceTransaction",
    "debug_traceBlockByNumber",
    "debug_traceBlockByHash",
];

/// Runs blocking work (LMDB, the EVM, signatures) off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RpcError> + Send + 'static,
) -> Result<T, RpcError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(RpcError::internal)?
}

fn reader(s: &Shared) -> Result<IndexReader<'_>, RpcError> {
    let r = s.store.reader().map_err(RpcError::internal)?;
    Ok(r)
}

/// A reader of the state after the block `tag` names (see [`block_height`]), and the head:
/// `-32002` when that height's state is no longer kept.
fn reader_at<'a>(s: &'a Shared, tag: Option<&Json>) -> Result<(IndexReader<'a>, Head), RpcError> {
    let r = reader(s)?;
    let head = head_of(&r)?;
    let by_hash = |h: &B256| -> Result<Option<u64>, RpcError> {
        s.store
            .block_reader()
            .and_then(|b| b.height_of(h))
            .map_err(RpcError::internal)
    };
    let height = block_height(tag, &head, &by_hash)?;
    match r.at(height).map_err(RpcError::internal)? {
        Ok(r) => Ok((r, head)),
        Err(n) => Err(RpcError {
            code: codes::RESOURCE_UNAVAILABLE,
            message: format!(
                "state at height {} is not kept: this coordinator keeps heights {} to {} \
                 (--history-heights, or --archive for all)",
                n.height, n.oldest, n.head
            ),
            data: Some(json!({"oldest": n.oldest, "head": n.head})),
        }),
    }
}

fn head_of(r: &IndexReader<'_>) -> Result<Head, RpcError> {
    match r.head_opt() {
        Ok(Some(h)) => Ok(h),
        Ok(None) => Err(RpcError::new(
            codes::RESOURCE_UNAVAILABLE,
            "the coordinator has not loaded the validator's genesis yet; retry shortly",
        )),
        Err(e) => Err(RpcError::internal(e)),
    }
}

pub(super) fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Journals a checked intent and answers its id (a known one answers at once: resubmitting
/// is idempotent).
async fn enqueue(s: &Arc<Shared>, tx: mf_format::Transaction, id: TxId) -> RpcResult {
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

fn exec_error(e: MovegenError, budget: &Budget) -> RpcError {
    match e {
        MovegenError::Aborted => budget.exhausted(),
        MovegenError::Execution(Failure::Revert { reason, output }) => RpcError {
            code: codes::EXECUTION_REVERTED,
            message: match reason {
                Some(r) => format!("execution reverted: {r}"),
                None => "execution reverted".into(),
            },
            data: Some(json!(Bytes::from(output))),
        },
        MovegenError::Execution(f) => RpcError::new(codes::SERVER_ERROR, f.to_string()),
        MovegenError::Tracer(m) => RpcError::new(codes::SERVER_ERROR, m),
        other => RpcError::internal(other),
    }
}

/// Runs `f` (an EVM execution until the deadline it is given) on the blocking pool within
/// what is left of the request's budget, and takes the time it took off the budget. At
/// most `--rpc-max-evm` executions run at once: a request waits for a slot, and the wait
/// counts against its budget (a request whose budget runs out waiting gets the budget's
/// error, having run nothing).
async fn execution<T: Send + 'static>(
    s: &Shared,
    budget: &mut Budget,
    f: impl FnOnce(std::time::Instant, Budget) -> Result<T, RpcError> + Send + 'static,
) -> Result<T, RpcError> {
    let started = std::time::Instant::now();
    let slot = tokio::time::timeout(budget.left, s.evm_slots.acquire()).await;
    let Ok(Ok(_slot)) = slot else {
        budget.spend(started.elapsed());
        return Err(budget.exhausted());
    };
    budget.spend(started.elapsed());
    /// Counts a running execution for `/metrics`, also when the request is dropped.
    struct Running<'a>(&'a std::sync::atomic::AtomicU64);
    impl Drop for Running<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Relaxed);
        }
    }
    let now = s.metrics.evm_running.fetch_add(1, Relaxed) + 1;
    let _running = Running(&s.metrics.evm_running);
    s.metrics.evm_peak.fetch_max(now, Relaxed);
    let b = *budget;
    let started = std::time::Instant::now();
    let r = blocking(move || f(b.deadline(), b)).await;
    budget.spend(started.elapsed());
    r
}

/// The rules and context an RPC call on the state after `height` runs under: the next
/// block's number, the
/// coordinator's clock, and, as geth, no base fee for a call that names no fee (so reads
/// need no gas price: BASEFEE reads 0 and the fee-cap check is off).
fn call_rules(
    s: &Shared,
    height: u64,
    call: &mf_format::Call,
) -> Result<(mf_format::ChainRules, ExecContext), RpcError> {
    let mut rules = s.store.rules().map_err(RpcError::internal)?;
    let ctx = ExecContext {
        block_number: rules.number_at(height + 1),
        timestamp: now_s(),
    };
    if call.fee.max_fee_per_gas == 0 {
        rules.base_fee = 0;
    }
    Ok((rules, ctx))
}

/// Intake of a signed Ethereum transaction (EIP-2718 bytes, `params[0]`): decoded and its
/// signer recovered once, its moves filled against the head, journaled. Answers the intent
/// id and the Ethereum hash.
async fn send_eth(s: &Arc<Shared>, params: &[Json]) -> Result<(TxId, B256), RpcError> {
    max_params(params, 1)?;
    let raw: Bytes = param(params, 0, "signed Ethereum transaction")?;
    let s2 = Arc::clone(s);
    let (tx, id, hash) = blocking(move || {
        let r = reader(&s2)?;
        let head = head_of(&r)?;
        let rules = s2.store.rules().map_err(RpcError::internal)?;
        let ctx = ExecContext {
            block_number: rules.number_at(head.height + 1),
            timestamp: now_s(),
        };
        let rejected = |r: mf_format::Reason, what: &str| {
            RpcError::rejected(r.name(), Some(r.code()), what.into())
        };
        // Decoded and its signer recovered once; the body is built from what it
        // signs, so only the nonce is left to compare.
        let signed = decode_eth(&raw).map_err(|r| rejected(r, "Ethereum authorisation"))?;
        if signed.high_s
            && rules.fork_at(ctx.block_number, ctx.timestamp) >= mf_format::Fork::Homestead
        {
            return Err(rejected(
                mf_format::Reason::EthHighS,
                "Ethereum authorisation",
            ));
        }
        let built =
            eth_transaction_signed(&r, head.chain_id, &rules, &signed, &raw, ctx).map_err(|e| {
                match e {
                    MovegenError::Eth(r) => rejected(r, "Ethereum authorisation"),
                    MovegenError::Execution(f) => RpcError::new(codes::SERVER_ERROR, f.to_string()),
                    other => RpcError::internal(other),
                }
            })?;
        check_structure(&built.tx, head.chain_id).map_err(|r| rejected(r, "structural check"))?;
        // A nonce ahead of the sender's is queued (its predecessors may be waiting
        // here too: the sequencer fills one sender's intents in arrival order); one
        // behind it is a replay.
        if signed.nonce < declared_nonce(&built.tx.body).unwrap_or(0) {
            let r = mf_format::Reason::EthNonceMismatch;
            return Err(rejected(r, "Ethereum authorisation"));
        }
        Ok((built.tx, built.id, signed.hash))
    })
    .await?;
    enqueue(s, tx, id).await?;
    s.store
        .record_eth_hash(&hash, &id)
        .map_err(RpcError::internal)?;
    Ok((id, hash))
}

/// An intake refusal in the words geth uses for the same cause (wallets and libraries match
/// on them: "nonce too low", "insufficient funds for gas * price + value", ...); the code
/// and `data` are kept.
fn ethereum_wording(mut e: RpcError) -> RpcError {
    let reason = e
        .data
        .as_ref()
        .and_then(|d| d.get("reason"))
        .and_then(|r| r.as_str())
        .unwrap_or("");
    let m = &e.message;
    let words = if reason == mf_format::Reason::EthNonceMismatch.name() {
        Some("nonce too low")
    } else if m.contains("insufficient funds") {
        Some("insufficient funds for gas * price + value")
    } else if m.contains("fee cap below the chain's base fee") {
        Some("max fee per gas less than block base fee")
    } else if m.to_ascii_lowercase().contains("intrinsic gas") {
        Some("intrinsic gas too low")
    } else if reason == mf_format::Reason::InvalidEthAuthorization.name() {
        Some("invalid transaction")
    } else if reason == mf_format::Reason::EthSignerMismatch.name() {
        Some("invalid sender")
    } else if reason == mf_format::Reason::EthHighS.name() {
        Some("invalid transaction v, r, s values")
    } else if reason == mf_format::Reason::EthBodyMismatch.name() {
        Some("invalid chain id")
    } else {
        None
    };
    if let Some(w) = words {
        e.message = format!("{w}: {}", e.message);
    }
    e
}

/// Waits (at most `wait`) until intent `id` is final: its status then, or as it stands
/// when the wait ends (`None`: unknown).
async fn wait_final(
    s: &Shared,
    id: &TxId,
    wait: Duration,
) -> Result<Option<mf_movegen::rpc::IntentStatus>, RpcError> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut changes = s.store.changes().subscribe();
    loop {
        let st = s.store.intent(id).map_err(RpcError::internal)?;
        let done = st.as_ref().is_none_or(|st| st.status.is_final());
        if done || s.stopping() {
            return Ok(st);
        }
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(Ok(())) => {}
            _ => return Ok(st),
        }
    }
}

/// Runs one method; EVM execution draws on the request's `budget`.
pub(super) async fn dispatch(
    s: &Arc<Shared>,
    method: &str,
    params: Vec<Json>,
    budget: &mut Budget,
) -> RpcResult {
    if let Some(r) = super::filters::dispatch(s, method, &params) {
        return r;
    }
    match method {
        "web3_clientVersion" => Ok(json!(concat!("mf-coordinator/", env!("CARGO_PKG_VERSION")))),
        // Blocks, transactions, receipts, logs and fees (rpc/eth.rs).
        m if super::eth::METHODS.contains(&m) => {
            let s = Arc::clone(s);
            let m = m.to_string();
            blocking(move || super::eth::call(&s, &m, &params)).await
        }
        "eth_syncing" => Ok(json!(false)),
        // As a dev node answers them: one node, no mining, no peers to report.
        "net_listening" => Ok(json!(true)),
        "net_peerCount" => Ok(json!("0x0")),
        "eth_mining" => Ok(json!(false)),
        "eth_hashrate" => Ok(json!("0x0")),
        "eth_coinbase" => {
            let rules = s.store.rules().map_err(RpcError::internal)?;
            Ok(json!(rules.beneficiary))
        }
        "web3_sha3" => {
            max_params(&params, 1)?;
            let data: Bytes = param(&params, 0, "data")?;
            Ok(json!(alloy_primitives::keccak256(&data)))
        }
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
            let (r, _) = reader_at(s, params.get(1))?;
            let a = r.account(addr).map_err(RpcError::internal)?;
            Ok(match method {
                "eth_getBalance" => json!(a.balance),
                "eth_getTransactionCount"
                    if params.get(1).and_then(Json::as_str) == Some("pending") =>
                {
                    hex_u64(s.pending_nonce(addr, a.nonce).map_err(RpcError::internal)?)
                }
                "eth_getTransactionCount" => hex_u64(a.nonce),
                _ => {
                    if !a.has_code() {
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
            let (r, _) = reader_at(s, params.get(2))?;
            let w = r.storage(addr, slot).map_err(RpcError::internal)?;
            Ok(json!(B256::from(w)))
        }
        "eth_call" | "eth_estimateGas" | "debug_traceCall" | "eth_createAccessList" => {
            max_params(&params, 3)?;
            let obj: CallObject = param(&params, 0, "transaction")?;
            // The third parameter: the tracing options of debug_traceCall, state overrides
            // (not supported) of the others.
            let opts: GethDebugTracingOptions = if method == "debug_traceCall" {
                opt_param(&params, 2, "tracing options")?.unwrap_or_default()
            } else if params.get(2).is_some_and(|v| !v.is_null()) {
                return Err(RpcError::params("state overrides are not supported"));
            } else {
                GethDebugTracingOptions::default()
            };
            let call = obj.to_capped_call(s.cfg.rpc.gas_cap)?;
            let tag = params.get(1).cloned();
            let method = method.to_string();
            let shared = Arc::clone(s);
            execution(s, budget, move |deadline, b| {
                let s = shared;
                let (r, head) = reader_at(&s, tag.as_ref())?;
                let err = |e| exec_error(e, &b);
                let height = r.height().map_err(RpcError::internal)?;
                let (rules, ctx) = call_rules(&s, height, &call)?;
                let chain = head.chain_id;
                match method.as_str() {
                    "eth_estimateGas" => {
                        estimate_gas_until_under(&r, chain, &rules, &call, &ctx, deadline)
                            .map(hex_u64)
                            .map_err(err)
                    }
                    "debug_traceCall" => {
                        let t = mf_movegen::trace::trace_call(
                            &r, chain, &rules, &call, &ctx, deadline, &opts,
                        )
                        .map_err(err)?;
                        serde_json::to_value(t).map_err(RpcError::internal)
                    }
                    "eth_createAccessList" => {
                        let (list, gas, error) = mf_movegen::trace::create_access_list(
                            &r, chain, &rules, &call, &ctx, deadline,
                        )
                        .map_err(err)?;
                        let mut out = json!({"accessList": list, "gasUsed": hex_u64(gas)});
                        if let Some(e) = error {
                            out["error"] = json!(e);
                        }
                        Ok(out)
                    }
                    _ => {
                        let ran = execute_until_under(&r, chain, &rules, &call, &ctx, deadline)
                            .map_err(err)?;
                        Ok(json!(Bytes::from(ran.output)))
                    }
                }
            })
            .await
        }
        "debug_traceTransaction" | "mf_traceTransaction" => {
            max_params(&params, 2)?;
            let hash: B256 = param(&params, 0, "transaction hash")?;
            let opts: GethDebugTracingOptions =
                opt_param(&params, 1, "tracing options")?.unwrap_or_default();
            let with_moves = method == "mf_traceTransaction";
            let shared = Arc::clone(s);
            execution(s, budget, move |deadline, b| {
                let s = shared;
                let blocks = s.store.block_reader().map_err(RpcError::internal)?;
                let (height, index) = blocks
                    .tx_at(&hash)
                    .map_err(RpcError::internal)?
                    .ok_or_else(|| super::trace::not_found(&hash))?;
                let tx = blocks
                    .tx(height, index)
                    .map_err(RpcError::internal)?
                    .ok_or_else(|| super::trace::not_found(&hash))?;
                let r = reader(&s)?;
                let t = super::trace::trace_included(&s, &r, &tx, deadline, &opts)
                    .map_err(|e| exec_error(e, &b))?;
                let body = &tx.body;
                let t = serde_json::to_value(t).map_err(RpcError::internal)?;
                if !with_moves {
                    return Ok(t);
                }
                let moves: Vec<Json> = body
                    .moves
                    .iter()
                    .map(|m| {
                        let key = m.key();
                        json!({
                            "address": key.addr,
                            "slot": (key.mark == mf_format::Mark::Storage).then_some(B256::from(key.slot)),
                            "kind": match m.kind {
                                mf_format::MoveKind::Consume => "consume",
                                mf_format::MoveKind::Reference => "reference",
                            },
                            "intx": m.intx,
                            "prev": RpcValue::from(&m.prev),
                            "next": RpcValue::from(&m.next),
                        })
                    })
                    .collect();
                Ok(json!({"trace": t, "moves": moves, "height": U64::from(height), "index": index}))
            })
            .await
        }
        "debug_traceBlockByNumber" | "debug_traceBlockByHash" => {
            max_params(&params, 2)?;
            let opts: GethDebugTracingOptions =
                opt_param(&params, 1, "tracing options")?.unwrap_or_default();
            if opts.tracer.is_none() {
                return Err(RpcError::new(
                    codes::SERVER_ERROR,
                    "the struct logger is served per transaction (debug_traceTransaction): \
                     trace a block with callTracer or prestateTracer",
                ));
            }
            let tag = if method == "debug_traceBlockByHash" {
                let h: B256 = param(&params, 0, "block hash")?;
                json!({"blockHash": h})
            } else {
                params.first().cloned().unwrap_or(Json::Null)
            };
            let shared = Arc::clone(s);
            execution(s, budget, move |deadline, b| {
                let s = shared;
                let r = reader(&s)?;
                let head = head_of(&r)?;
                let blocks = s.store.block_reader().map_err(RpcError::internal)?;
                let by_hash = |h: &B256| blocks.height_of(h).map_err(RpcError::internal);
                let height = block_height(Some(&tag), &head, &by_hash)?;
                let block = blocks
                    .block(height)
                    .map_err(RpcError::internal)?
                    .ok_or_else(|| {
                        RpcError::new(codes::SERVER_ERROR, format!("block {height} not found"))
                    })?;
                let txs = blocks.txs(height).map_err(RpcError::internal)?;
                let mut out = Vec::with_capacity(txs.len());
                for (tx, st) in txs.iter().zip(&block.txs) {
                    if tx.body.call.from == mf_format::SYSTEM_SENDER {
                        continue;
                    }
                    match super::trace::trace_included(&s, &r, tx, deadline, &opts) {
                        Ok(t) => out.push(json!({"txHash": st.hash, "result": t})),
                        Err(MovegenError::Aborted) => return Err(b.exhausted()),
                        Err(e) => out.push(json!({"txHash": st.hash, "error": e.to_string()})),
                    }
                }
                Ok(Json::Array(out))
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
            let shared = Arc::clone(s);
            execution(s, budget, move |deadline, b| {
                let s = shared;
                let r = reader(&s)?;
                let head = head_of(&r)?;
                let rules = s.store.rules().map_err(RpcError::internal)?;
                let ctx = match ctx {
                    Some(c) => ExecContext {
                        block_number: c.block_number.saturating_to(),
                        timestamp: c.timestamp.saturating_to(),
                    },
                    None => ExecContext {
                        block_number: rules.number_at(head.height + 1),
                        timestamp: now_s(),
                    },
                };
                let ran = execute_until_under(&r, head.chain_id, &rules, &call, &ctx, deadline)
                    .map_err(|e| exec_error(e, &b))?;
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
            let mark = mf_format::Mark::parse(&mark)
                .ok_or_else(|| RpcError::params("mark must be \"a\" or \"s\""))?;
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
                None => (false, key.never_written()),
            };
            serde_json::to_value(RpcVersion {
                exists,
                intx,
                value: RpcValue::from(&value),
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
            let st = wait_final(s, &id, Duration::from_millis(ms.min(MAX_WAIT_MS))).await?;
            serde_json::to_value(st).map_err(RpcError::internal)
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
            let mut changes = s.store.changes().subscribe();
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
            enqueue(s, tx, id).await
        }
        "mf_sendEthTransaction" => {
            // A signed Ethereum transaction (EIP-2718 bytes): the intent it authorises
            // (PROTOCOL.md §5.5), its moves filled here; answered with the intent id, and
            // found by `mf_getIntent` under its Ethereum hash too.
            send_eth(s, &params).await.map(|(id, _)| json!(id))
        }
        "eth_sendRawTransaction" => {
            // The same intake, answered with the Ethereum hash (keccak-256 of the bytes),
            // its refusals worded as geth words them (tools match on those words).
            let (id, hash) = send_eth(s, &params).await.map_err(ethereum_wording)?;
            // With --send-wait-ms (the dev node's default, as anvil's automine), the answer
            // waits for the transaction to be final: a refusal is then this call's error,
            // and the sender's next nonce is on chain when it returns.
            if !s.cfg.send_wait.is_zero()
                && let Some(st) = wait_final(s, &id, s.cfg.send_wait).await?
                && st.status == mf_movegen::rpc::IntentState::Rejected
            {
                let reason = st.reason.unwrap_or_default();
                let detail = st.detail.unwrap_or_default();
                return Err(ethereum_wording(RpcError::rejected(
                    &reason, st.code, detail,
                )));
            }
            Ok(json!(hash))
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
                let rules = s.store.rules().map_err(RpcError::internal)?;
                let b = fill_built_under(&tx, &r, &rules).map_err(|e| {
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

/// Every method the server registers.
pub(crate) fn registered() -> impl Iterator<Item = &'static str> {
    METHODS
        .iter()
        .chain(super::eth::METHODS)
        .chain(super::filters::METHODS)
        .copied()
}

/// The positional parameters of a call: absent and `null` are none; an object (named
/// parameters) is refused.
fn positional(params: &jsonrpsee::types::Params<'_>) -> Result<Vec<Json>, RpcError> {
    match params.as_str() {
        None => Ok(Vec::new()),
        Some(text) => match serde_json::from_str::<Json>(text) {
            Ok(Json::Null) => Ok(Vec::new()),
            Ok(Json::Array(a)) => Ok(a),
            Ok(_) => Err(RpcError::params("params must be an array (positional)")),
            Err(e) => Err(RpcError::params(format!("params: {e}"))),
        },
    }
}

/// The jsonrpsee module: every method of [`METHODS`] and the filters', each run by [`dispatch`] with the
/// budget of its HTTP request (shared by a batch) or one of its own (a WebSocket call),
/// and the subscriptions (`super::subscribe`).
pub(crate) fn module(
    s: Arc<Shared>,
) -> Result<jsonrpsee::RpcModule<Arc<Shared>>, jsonrpsee::core::RegisterMethodError> {
    let mut m = jsonrpsee::RpcModule::new(s);
    for name in registered() {
        m.register_async_method(name, move |params, ctx, ext| async move {
            let r = match positional(&params) {
                Err(e) => Err(e),
                Ok(params) => match ext.get::<super::transport::RequestBudget>() {
                    Some(b) => {
                        let mut budget = b.0.lock().await;
                        dispatch(&ctx, name, params, &mut budget).await
                    }
                    None => {
                        let mut budget = Budget::new(ctx.cfg.rpc.time_budget);
                        dispatch(&ctx, name, params, &mut budget).await
                    }
                },
            };
            r.map_err(RpcError::into_object)
        })?;
    }
    super::subscribe::register(&mut m)?;
    Ok(m)
}

#[cfg(test)]
mod tests {

    /// `METHODS` is exactly what `dispatch` answers: every arm's name (here and in
    /// rpc/eth.rs) is listed, and every listed name has an arm.
    #[test]
    fn methods_lists_every_arm() {
        let here = include_str!("methods.rs");
        let body = &here[here.find("pub(super) async fn dispatch").unwrap_or(0)..];
        let body = &body[..body.find("#[cfg(test)]").unwrap_or(body.len())];
        let mut arms: Vec<&str> = Vec::new();
        for line in body.lines() {
            let line = line.trim();
            let Some((pattern, _)) = line.split_once("=>") else {
                continue;
            };
            if !pattern.starts_with('"') {
                continue;
            }
            for name in pattern.split('"').skip(1).step_by(2) {
                arms.push(name);
            }
        }
        arms.extend(super::super::eth::METHODS);
        // The filters answer before the match (rpc/filters.rs).
        arms.extend(super::super::filters::METHODS);
        let registered: Vec<&str> = super::registered().collect();
        for a in &arms {
            assert!(registered.contains(a), "{a} is answered but not in METHODS");
        }
        for m in &registered {
            assert!(arms.contains(m), "{m} is in METHODS but has no arm");
        }
        let mut sorted = registered.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), registered.len(), "a name is listed twice");
    }
}
