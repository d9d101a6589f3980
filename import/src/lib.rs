//! Real Ethereum mainnet blocks, re-validated.
//!
//! Real mainnet traffic through the move-set validator. It reads a folder of blocks in the `ethereum-mainnet` layout (each block with
//! the pre-state it reads, the contract code, and the ancestor hashes `BLOCKHASH` needs; see
//! [`layout`]), and replays each block sequentially with plain revm on one mutable state, the
//! way an Ethereum client executes it ([`replay`]). The replay is checked against what the
//! block header commits to, so the data and the execution setup (spec per fork, block
//! environment, fee charging, receipts) are known to be faithful before anything is built
//! on them: later work turns each transaction into move-set batches, and this replay is the
//! benchmark's baseline.
//!
//! - [`layout`]: loads a folder into typed structs; every transaction is rebuilt as an alloy
//!   signed [`alloy_consensus::TxEnvelope`] (legacy, EIP-2930, EIP-1559, EIP-4844) whose
//!   EIP-2718 encoding must hash to the JSON's `hash`.
//! - [`recover`]: the sender from the signature, with `k256` (pure Rust, alloy's default) or
//!   `libsecp256k1` (C, the `secp256k1` crate); `examples/recover_rate.rs` measures both.
//! - [`replay`]: revm 43 over the block's pre-state, the spec from the mainnet fork schedule,
//!   chain id 1, fees charged; per block the header's `gasUsed`, `logsBloom` and, from
//!   Byzantium on, `receiptsRoot` are compared with the replay's ([`BlockReport`]).
//! - [`batches`]: each block as a move set: a chain of its own (the pre-state as genesis,
//!   numbered as the block's parent, with the ancestors' hashes) and one batch whose
//!   transactions are authorised by the original signed transactions (PROTOCOL.md §5.5),
//!   applied by a real validator in strict mode; the same header checks from its receipts.
//! - the `mf-import <folder> [--out DIR]` binary prints one line per block (the replay's checks
//!   and the move set's) and `N passed, M failed`.
//!
//! Out of scope, as none of the checked header fields depend on them: block and uncle rewards,
//! withdrawals (Shanghai on), the EIP-4788 beacon-root system call (Cancun on) and the DAO
//! fork's irregular balance move; the `stateRoot` (the pre-state is partial) and, before
//! Byzantium, the receipts root (each receipt then carries an intermediate state root).
//! Blocks from Prague on are refused ([`ImportError::UnsupportedFork`]): EIP-7702
//! transactions and Prague's blob schedule are not implemented.
#![warn(missing_docs, unused_crate_dependencies)]

pub mod batches;
pub mod error;
pub mod layout;
pub mod recover;
pub mod replay;

pub use batches::{BlockChain, block_chain, genesis_of, validate_block};
pub use error::{ImportError, TxError};
pub use layout::{Folder, LoadedBlock, Transaction};
pub use replay::{BlockReport, Check, replay_block, replay_folder};

// The binary's error type; the library returns `ImportError`.
use anyhow as _;
// The binary's temporary output directory.
use tempfile as _;
