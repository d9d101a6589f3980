//! # mf-api: the validator's HTTP contract
//!
//! The validator (`mf-validator serve`) and the coordinator are separate processes that talk
//! over HTTP; this crate is the one place that contract is written down in code, so that the
//! server and its clients cannot drift apart (the pattern of reth's `rpc-api` beside its
//! server). It holds:
//!
//! - [`answer`]: serde types for every JSON answer of the validator's API, successes and
//!   errors (`POST /batch`, `/head`, `/header/{h}`, `/receipts/{h}`, `/version/...`, the error
//!   bodies), with conversions from and to the [`mf_format`] types they render. The server
//!   serializes exactly these types; clients deserialize them.
//! - [`feed`]: the framing of the `GET /feed?from=H` stream, the [`FeedRecord`] it carries,
//!   the writer the server uses and the [`FeedReader`] followers use.
//! - [`path`]: the `/version/{intx}/{mark}/{addr}/{slot}` path syntax, formatted and parsed
//!   in one place ([`VersionPath`]).
//! - `client` (feature `client`): the blocking client the coordinator and the tests use.
//! - `server` (feature `server`): what both servers (this API and the coordinator's
//!   JSON-RPC) do against slow or numerous peers: connection caps per IP and in total, and
//!   request-body deadlines.
//!
//! The endpoints themselves (statuses, back-pressure, the feed's lifetime) are documented on
//! the server, `mf_validator::server`.
//!
//! ## JSON keys are in alphabetical order
//!
//! The server used to build its answers as `serde_json::Value` maps, which serde_json (without
//! its `preserve_order` feature) writes with sorted keys. The structs here declare their fields
//! in alphabetical order so that the bytes on the wire stay exactly what they were.
//!
//! ## What is not here, and why
//!
//! - The coordinator's Ethereum JSON-RPC shapes (`mf_movegen::rpc`) are a different contract
//!   (wallets <-> coordinator), shaped by Ethereum's JSON-RPC rather than by this validator;
//!   they belong with alloy's RPC types, not with the validator's API.
//! - The genesis file format (`mf_movegen::genesis`, also the body of `GET /genesis`) is read
//!   and written by movegen's wallet side and by `mf-validator init`; moving it here would make
//!   this small crate depend on movegen (and revm) or movegen depend on this crate for a file
//!   format. The client returns `GET /genesis` as text for `Genesis::parse`.

#![forbid(unsafe_code)]
#![warn(missing_docs, unused_crate_dependencies)]

// The crate is its own dev-dependency, so that its unit tests build with every feature
// (those of `server` among them) in a workspace test run.
#[cfg(test)]
use mf_api as _;

pub mod answer;
#[cfg(feature = "client")]
pub mod client;
pub mod feed;
pub mod path;
#[cfg(feature = "server")]
pub mod server;

pub use answer::{
    BatchApplied, BatchRefused, BusyJson, ErrorJson, HeaderJson, LogJson, MAX_JSON_ANSWER_BYTES,
    ReceiptJson, ReceiptsJson, ValueJson, VersionJson, VersionStateJson,
};
#[cfg(feature = "client")]
pub use client::{BatchAnswer, Client, ClientError};
pub use feed::{FeedError, FeedReader, FeedRecord, write_record};
pub use path::{VersionPath, VersionPathError};
