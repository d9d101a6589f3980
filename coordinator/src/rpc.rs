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
//!
//! The module splits the transport (`rpc/transport.rs`: the HTTP server, the JSON-RPC 2.0
//! envelope, batches, error objects), the decoding of parameters (`rpc/params.rs`) and the
//! methods themselves (`rpc/methods.rs`: reads against the index, intents in and out; gas
//! estimation is [`mf_movegen::estimate_gas`]).

mod methods;
mod params;
mod transport;

pub use transport::{RpcError, run_server};

use mf_format::limits::MAX_TX_BYTES;

/// Largest request body: an intent at the transaction size limit, hex-encoded, with room.
pub const MAX_BODY: usize = 2 * MAX_TX_BYTES + (64 << 10);
/// Most calls in one batch request.
pub const MAX_BATCH: usize = 1000;
/// Most ids in one `mf_waitIntents`.
pub const MAX_WAIT_IDS: usize = 10_000;
/// Longest `mf_waitIntent`.
pub const MAX_WAIT_MS: u64 = 30_000;
