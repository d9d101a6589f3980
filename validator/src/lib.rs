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
//! [`Validator`] ties these together; the `mf-validator` binary puts a CLI and an HTTP API on
//! top; [`sample`] makes signed sample batches of transfers; [`naive`] is the per-move LMDB
//! baseline the benchmarks compare against.
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
#![warn(missing_docs)]

pub mod chain;
pub mod fp;
/// Genesis files (alloc JSON): the parser lives in `mf-movegen`, which coordinators share.
pub use mf_movegen::genesis;
pub mod index;
pub mod prepare;
pub mod reexec;
pub mod sample;
pub mod server;
pub mod store;
pub mod verify;

pub use chain::{ApplyError, Mode, Outcome, Pending, Validator, VersionState};
