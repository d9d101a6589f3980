//! # mf-validator: the UTXO move-set validator
//!
//! A validator checks batches of transactions that declare their state moves, and keeps the
//! set of live versions. The pipeline for one batch:
//!
//! 1. **decode** ([`mf_format::decode_batch`]) within the size limits;
//! 2. **stateless stage** ([`prepare`]), in parallel over all transactions: structure,
//!    signatures in cross-transaction batches, re-execution (pluggable), fingerprints and
//!    the state-hash contribution;
//! 3. **critical path** ([`index`]): the context window ([`mf_format::check_context`] at the
//!    batch's height and header time, read once before checking), then the double-use check
//!    against the in-memory index of live versions, optimistic and sharded across cores,
//!    with an exact sequential fallback for batches that contain invalid transactions
//!    (filter mode's cascade);
//! 4. **commit** ([`store`]): one LMDB write transaction per batch, append-only, so a batch
//!    is on disk entirely or not at all, and restart rebuilds the index from the store.
//!
//! [`Validator`] ties these together; [`server`] puts the HTTP API and feed on top (the
//! `mf-validator` binary, in the `mf-validator-cli` package, adds the command line);
//! [`sample`] makes signed sample batches of transfers.
//!
//! ```no_run
//! use mf_validator::{Validator, Mode, genesis::Genesis};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let genesis = Genesis::parse(&std::fs::read_to_string("genesis.json")?)?;
//! let mut v = Validator::init(std::path::Path::new("data"), &genesis)?;
//! let out = v.apply_bytes(&std::fs::read("batch-000000.bin")?, Mode::Filter)?;
//! println!("accepted {} of {}", out.accepted, out.receipts.len());
//! # Ok(()) }
//! ```

#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, unused_crate_dependencies)]

// Dev-dependencies of the integration tests (plain revm is the differential test's
// reference), not of the unit tests.
#[cfg(test)]
use mf_devkit as _;
#[cfg(test)]
use revm as _;

pub mod commit;
pub mod error;
pub mod fingerprint;
/// Genesis files (alloc JSON): the parser lives in `mf-movegen`, which coordinators share.
pub use mf_movegen::genesis;
pub mod index;
pub mod order;
pub mod outcome;
pub mod prepare;
pub mod replay;
pub mod sample;
pub mod server;
pub mod state_hash;
pub mod store;
pub mod validator;
pub mod verify;

pub use commit::Pending;
pub use error::{ApplyError, StoreError};
pub use outcome::{Located, Mode, Outcome, Timings, VersionState};
pub use validator::{StoreCode, Validator, now_ms};
