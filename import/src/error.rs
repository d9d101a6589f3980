//! Errors of loading, recovering and replaying a folder.

use alloy_primitives::{Address, B256, U256};
use std::path::PathBuf;

/// Why a folder, a block or a transaction could not be loaded or replayed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file could not be read.
    #[error("reading {path}: {error}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error (in the message, not a chained source, so it is printed once).
        error: std::io::Error,
    },
    /// A file is not the JSON the layout describes.
    #[error("parsing {path}: {error}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The JSON error (in the message, not a chained source).
        error: serde_json::Error,
    },
    /// A key of `block_hashes.json` is not a decimal block number.
    #[error("block_hashes.json: key {key:?} is not a decimal block number")]
    BlockHashKey {
        /// The key.
        key: String,
    },
    /// `blocks/<N>/block.json` holds another block's number.
    #[error("blocks/{dir}/block.json holds block {json}")]
    NumberMismatch {
        /// The directory's number.
        dir: u64,
        /// The JSON's number.
        json: u64,
    },
    /// A transaction is malformed or unsupported.
    #[error("block {block}, transaction {index}: {error}")]
    Tx {
        /// Block number.
        block: u64,
        /// Index in the block.
        index: usize,
        /// What is wrong with it.
        error: TxError,
    },
    /// A block cannot be turned into a batch, or the validator refused it.
    #[error("block {block}, transaction {index}: {what}")]
    Batch {
        /// Block number.
        block: u64,
        /// Index in the block (0 for the batch as a whole).
        index: usize,
        /// What went wrong.
        what: String,
    },
    /// A block's time or number falls after the forks this crate knows.
    #[error("block {block}: timestamp {timestamp} is at or after Prague, which is not supported")]
    UnsupportedFork {
        /// Block number.
        block: u64,
        /// Block timestamp.
        timestamp: u64,
    },
    /// An account of a block's pre-state has code that the folder does not hold, or that is
    /// not valid bytecode.
    #[error("block {block}: account {address}: code {code_hash} {what}")]
    Code {
        /// Block number.
        block: u64,
        /// The account.
        address: Address,
        /// Its code hash.
        code_hash: B256,
        /// What is wrong.
        what: &'static str,
    },
    /// A block header field the replay needs is inconsistent with its fork.
    #[error("block {block}: {what}")]
    Header {
        /// Block number.
        block: u64,
        /// What is missing or wrong.
        what: &'static str,
    },
}

/// What is wrong with one transaction.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    /// Its JSON does not have the RPC shape.
    #[error("JSON: {0}")]
    Json(serde_json::Error),
    /// A field its type needs is absent.
    #[error("missing field {0}")]
    MissingField(&'static str),
    /// A field does not fit its type.
    #[error("field {0} out of range")]
    OutOfRange(&'static str),
    /// The `v` / `yParity` is not a valid recovery value.
    #[error("invalid signature v {0}")]
    BadV(U256),
    /// An EIP-2718 type this crate does not build.
    #[error("unsupported transaction type {0:#x}")]
    UnsupportedType(u64),
    /// The keccak of the rebuilt EIP-2718 envelope is not the JSON's `hash`.
    #[error("hash mismatch: JSON says {expected}, the re-encoded envelope hashes to {computed}")]
    HashMismatch {
        /// The JSON's `hash`.
        expected: B256,
        /// keccak-256 of the rebuilt envelope's EIP-2718 encoding.
        computed: B256,
    },
    /// The signature's `s` is in the upper half of the order (invalid from Homestead, EIP-2).
    #[error("signature s above half the curve order (EIP-2)")]
    HighS,
    /// The signature recovers no key.
    #[error("signature recovers no public key")]
    Unrecoverable,
    /// The recovered sender is not the JSON's `from`.
    #[error("sender mismatch: JSON says {expected}, the signature recovers {recovered}")]
    SenderMismatch {
        /// The JSON's `from`.
        expected: Address,
        /// The recovered address.
        recovered: Address,
    },
    /// revm rejected the transaction (invalid, or a database error).
    #[error("revm: {0}")]
    Evm(String),
}
