//! # mf-coordinator: fills and sequences intents, and answers Ethereum JSON-RPC reads
//!
//! A validator checks transactions that declare every move; somebody has to execute them
//! first. Wallets do it for their own state; for **contested** state (an AMM pool, a popular
//! account) they sign with masks and leave the contested fields to a coordinator. This crate
//! is that coordinator:
//!
//! 1. [`follower`]: follows a validator's feed (`GET /feed`) into its own LMDB index
//!    ([`store`]: the state index and the intent journal in one environment,
//!    [`store::CoordDb`]): `(mark, addr, slot) -> (intx, value)` plus code, checked record
//!    by record against the header chain and the state hash, resumed from the last height
//!    after a restart, and reconnected when the validator restarts;
//! 2. [`rpc`]: JSON-RPC 2.0 over HTTP: intents in (`mf_sendIntent`), their fate out
//!    (`mf_getIntent`, `mf_waitIntent`), versions and a dry-run fill for wallets, and the
//!    Ethereum reads standard client libraries use (`eth_chainId`, `eth_blockNumber`,
//!    `eth_getBalance`, `eth_getTransactionCount`, `eth_getCode`, `eth_getStorageAt`,
//!    `eth_call`, `eth_estimateGas`). `docs/RPC.md` is the reference;
//! 3. [`sequencer`]: cuts batches by size or time, fills them against a speculative overlay
//!    of the pending batch ([`mf_movegen::Overlay`] over the index; first come, first
//!    served on contested keys, independent intents in parallel), submits them in filter
//!    mode, and re-fills and resubmits intents that lost a race to another coordinator
//!    (bounded attempts).
//!
//! Intents are journaled in LMDB before their id is returned, and acceptance is learnt from
//! the chain itself (an accepted transaction whose id the coordinator filled), so a
//! coordinator killed at any moment loses no intent it acknowledged and reports every
//! accepted one as accepted once it has caught up.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cfg = mf_coordinator::Config {
//!     validator: "http://127.0.0.1:8080".into(),
//!     data: "coordinator-data".into(),
//!     ..Default::default()
//! };
//! let listener = std::net::TcpListener::bind("127.0.0.1:8646")?;
//! mf_coordinator::serve(cfg, listener, std::future::pending())?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod error;
pub mod follower;
pub mod rpc;
pub mod sequencer;
pub mod service;
pub mod store;
pub mod upstream;

pub use error::CoordError;
pub use mf_api::server::ConnLimits;
pub use service::{Config, RpcLimits, Shared, serve};
