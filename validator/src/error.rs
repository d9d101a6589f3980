//! The validator's error types. They sit below every module that returns them, so no
//! module points back up to the one that applies batches.

use mf_format::{FormatError, Reason, Receipt, TxId};
use std::path::PathBuf;

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// LMDB failed.
    #[error("LMDB error: {0}")]
    Lmdb(#[from] heed::Error),
    /// Filesystem error.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The data directory holds something we cannot read.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// No store was initialised here.
    #[error("no validator data in {0}: run `mf-validator init --data {0} --genesis FILE` first")]
    NotInitialised(String),
    /// An earlier commit failed; the in-memory state is ahead of the disk.
    #[error(
        "an earlier commit to the store failed: restart the validator (it recovers from the last committed batch)"
    )]
    Failed,
    /// Another process has the data directory open.
    #[error(
        "{0} is in use by another process (an mf-validator holds its LOCK file); stop it first"
    )]
    Locked(String),
    /// A store already exists here.
    #[error("{0} already holds validator data; choose an empty directory")]
    AlreadyInitialised(String),
    /// The genesis lists more versions than the store's location scheme addresses.
    #[error(
        "the genesis has {versions} versions; at most {max} fit: split the state or start from a smaller genesis"
    )]
    GenesisTooLarge {
        /// Versions in the genesis.
        versions: usize,
        /// The most that fit.
        max: u64,
    },
    /// The genesis's chain rules are inconsistent (a fork schedule out of order...).
    #[error("the genesis is refused: {0}; fix its config")]
    Genesis(String),
}

impl From<mf_lmdb::OpenError> for StoreError {
    fn from(e: mf_lmdb::OpenError) -> StoreError {
        match e {
            mf_lmdb::OpenError::Locked(dir) => StoreError::Locked(dir.display().to_string()),
            mf_lmdb::OpenError::Io { path, source } => StoreError::Io { path, source },
            mf_lmdb::OpenError::Lmdb(e) => StoreError::Lmdb(e),
        }
    }
}

/// Why a batch was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The bytes are not a batch.
    #[error("batch refused: {0}")]
    Decode(#[from] FormatError),
    /// Strict mode: a transaction was invalid, so nothing was applied.
    #[error("batch refused (strict): transaction {index} ({tx_id}) is invalid: {reason}")]
    Strict {
        /// Position in the batch.
        index: usize,
        /// Its id.
        tx_id: TxId,
        /// Why.
        reason: Reason,
        /// Every transaction's verdict.
        receipts: Vec<Receipt>,
    },
    /// The batch has no transaction.
    #[error("batch refused: it has no transaction")]
    Empty,
    /// The batch ends with a fee credit other than the one this validator computes for it
    /// (PROTOCOL.md §6.4.6); nothing was applied.
    #[error(
        "batch refused: it ends with a fee credit that differs from the one the batch earns \
         ({0}); send the batch without it, the validator appends its own"
    )]
    FeeCredit(String),
    /// The store failed; nothing was applied.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApplyError {
    /// The reason code for a refusal of the batch itself, where there is one.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            ApplyError::Decode(e) => Some(e.reason()),
            ApplyError::Strict { reason, .. } => Some(*reason),
            ApplyError::FeeCredit(_) => Some(Reason::InvalidFeeCredit),
            _ => None,
        }
    }
}
