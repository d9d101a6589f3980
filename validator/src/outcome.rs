//! What applying a batch reports: the mode it ran in, the outcome with its receipts and
//! timings, and what a version lookup finds. Plain data, below the modules that produce it.

use mf_format::{Header, Receipt, Value};

/// How a batch treats an invalid transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Any invalid transaction rejects the whole batch (following an ordered chain).
    Strict,
    /// Invalid transactions are dropped with their reason; dependants cascade.
    Filter,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "strict" => Ok(Mode::Strict),
            "filter" => Ok(Mode::Filter),
            _ => Err(format!("unknown mode {s:?}: use strict or filter")),
        }
    }
}

/// What applying a batch did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The new header, or `None` when no transaction was accepted (nothing was written).
    pub header: Option<Header>,
    /// One receipt per transaction, in batch order.
    pub receipts: Vec<Receipt>,
    /// Accepted transactions.
    pub accepted: usize,
    /// Moves of the accepted transactions.
    pub moves: usize,
    /// Whether the optimistic parallel apply sufficed.
    pub fast_path: bool,
    /// Time spent in each stage.
    pub timings: Timings,
}

/// Seconds spent per stage of one batch.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    /// Decode.
    pub decode: f64,
    /// Stateless stage (parallel).
    pub stateless: f64,
    /// Index apply (the critical path).
    pub apply: f64,
    /// Building records and committing to LMDB.
    pub commit: f64,
    /// Of `commit`, the LMDB write transaction and its sync.
    pub lmdb: f64,
}

/// What the in-memory index knows of a version: where its value is stored, or that it has
/// none ([`Validator::locate`](crate::Validator::locate)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Located {
    /// Live; its value is at this location (read it with [`crate::replay::value_at`]).
    At(u64),
    /// A genesis key that was never written: live, zero.
    NeverWritten(Value),
    /// Spent, or never created.
    NotLive,
}

/// What a version lookup finds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionState {
    /// Live with this value.
    Live(Value),
    /// A genesis key that was never written: live, zero.
    NeverWritten(Value),
    /// Spent, or never created.
    NotLive,
}
