//! Real Ethereum mainnet blocks, re-validated.
//!
//! This crate is the ground floor of replaying real mainnet traffic through the move-set
//! validator. It reads a folder of blocks in the `ethereum-mainnet` layout (each block with
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
//! - the `mf-import <folder>` binary prints one line per block and `N passed, M failed`.
//!
//! Out of scope, as none of the checked header fields depend on them: block and uncle rewards,
//! withdrawals (Shanghai on), the EIP-4788 beacon-root system call (Cancun on) and the DAO
//! fork's irregular balance move; the `stateRoot` (the pre-state is partial) and, before
//! Byzantium, the receipts root (each receipt then carries an intermediate state root).
//! Blocks from Prague on are refused ([`ImportError::UnsupportedFork`]): EIP-7702
//! transactions and Prague's blob schedule are not implemented.
#![warn(missing_docs, unused_crate_dependencies)]

pub mod error;
pub mod layout;
pub mod recover;
pub mod replay;

pub use error::{ImportError, TxError};
pub use layout::{Folder, LoadedBlock, Transaction};
pub use replay::{BlockReport, Check, replay_block, replay_folder};

// The binary's error type; the library returns `ImportError`.
use anyhow as _;
