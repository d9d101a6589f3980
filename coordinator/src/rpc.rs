//! The JSON-RPC 2.0 server (jsonrpsee: `POST /` and WebSocket subscriptions on one port,
//! CORS), plus `GET /health` and `GET /metrics`.
//!
//! `docs/RPC.md` is the reference for every method. The rules of the transport:
//!
//! - a request is one JSON-RPC 2.0 object or a batch (array, at most [`MAX_BATCH`]
//!   entries, whose estimated EVM work is at most `--rpc-batch-gas`), or a WebSocket
//!   message; notifications (no `id`) run but get no answer; the body is at most [`MAX_BODY`] bytes and must arrive
//!   in time (`--body-timeout`, `--body-min-rate`; `408` otherwise); connections are
//!   capped per IP and in all;
//! - EVM execution (`eth_call`, `eth_estimateGas`, `mf_simulate`) is bounded: a gas cap per
//!   call (`--rpc-gas-cap`) and a time budget per HTTP request, shared by the calls of a
//!   batch (`--rpc-time-budget-ms`), which interrupts revm where it is ([`Budget`]);
//! - errors use the JSON-RPC codes (`-32700` parse, `-32600` invalid request, `-32601`
//!   unknown method, `-32602` invalid params, `-32603` internal) and Ethereum's (`3`
//!   execution reverted, with the revert data; `-32000` other execution failures; `-32002`
//!   historical state; `-32003` intent refused with `{reason, code}`; `-32005` busy);
//! - state reads answer at the height their block parameter names, within the history the
//!   index keeps (`--history-heights`, `--archive`; `-32002` past it); blocks,
//!   transactions, receipts and logs are kept for every height applied (`rpc/eth.rs`, the
//!   store's block tables); traces re-run a transaction against its declared values
//!   (`rpc/trace.rs`, [`mf_movegen::trace`]).
//!
//! The module splits the transport (`rpc/transport.rs`: the accept loop and connection caps,
//! body limits and the batch checks in front of jsonrpsee, CORS, error objects), filters
//! (`rpc/filters.rs`), subscriptions (`rpc/subscribe.rs`), the decoding of parameters (`rpc/params.rs`) and the
//! methods themselves (`rpc/methods.rs`: reads against the index, intents in and out; gas
//! estimation is [`mf_movegen::estimate_gas`]; `rpc/eth.rs`: Ethereum's block, transaction,
//! receipt, log and fee methods from the block store).

pub(crate) mod eth;
mod filters;
mod methods;
mod params;
mod subscribe;
mod trace;
mod transport;

pub use filters::Filters;
pub use transport::{RpcError, run_server};

/// Largest request body: an intent of 1 MiB, hex-encoded, with room (an intent this large is
/// far past any wallet's: its moves are what it signs, and a filler adds the rest).
pub const MAX_BODY: usize = 2 * (1 << 20) + (64 << 10);
/// Most calls in one batch request (geth allows 1000 by default, Erigon 100: the calls of a
/// batch run one after the other, holding the connection).
pub const MAX_BATCH: usize = 100;
/// Largest answer (a block with its transactions, a page of logs, a batch's answers).
pub const MAX_RESPONSE: usize = 32 << 20;
/// Most subscriptions one WebSocket connection holds.
pub const MAX_SUBSCRIPTIONS: u32 = 1024;
/// Most ids in one `mf_waitIntents`.
pub const MAX_WAIT_IDS: usize = 10_000;
/// Longest `mf_waitIntent`.
pub const MAX_WAIT_MS: u64 = 30_000;

/// The EVM time a request has left: each execution runs until the request's budget is
/// spent (revm is interrupted there, `mf_movegen::execute_until`), and the time it took is
/// taken off for the calls after it in the same batch.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    total: std::time::Duration,
    left: std::time::Duration,
}

impl Budget {
    /// A request's budget.
    pub fn new(total: std::time::Duration) -> Budget {
        Budget { total, left: total }
    }
    /// The deadline of an execution that starts now.
    fn deadline(&self) -> std::time::Instant {
        std::time::Instant::now() + self.left
    }
    /// Takes `spent` off what is left.
    fn spend(&mut self, spent: std::time::Duration) {
        self.left = self.left.saturating_sub(spent);
    }
    /// The error of an execution stopped by the budget.
    fn exhausted(&self) -> RpcError {
        let ms = self.total.as_millis();
        RpcError {
            code: mf_movegen::rpc::codes::SERVER_ERROR,
            message: format!(
                "execution aborted (timeout = {ms} ms): the request's time budget for EVM \
                 execution is spent (--rpc-time-budget-ms)"
            ),
            data: Some(serde_json::json!({"limit": "rpc_time_budget", "budgetMs": ms as u64})),
        }
    }
}
