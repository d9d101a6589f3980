//! Why move generation failed: [`MovegenError`], and [`StaleMove`] for a move whose version
//! is not the live one.

use crate::exec::Failure;
use crate::policy::PolicyError;
use mf_format::{B256, Key, TxId, Value};

/// Why move generation failed.
#[derive(Debug, thiserror::Error)]
pub enum MovegenError {
    /// The call reverted, halted, or was refused by revm.
    #[error("execution failed: {0}")]
    Execution(Failure),
    /// The state view failed.
    #[error("state view: {0}")]
    View(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The view has no code for a code hash an account declares.
    #[error("no code for code hash {0}")]
    MissingCode(B256),
    /// A signed Ethereum transaction that cannot authorise a transaction here (PROTOCOL.md
    /// §5.5): it does not decode, its signature does not recover, or it signs another chain.
    #[error("Ethereum authorisation refused: {0}")]
    Eth(mf_format::Reason),
    /// The view holds a value of the wrong type for a key.
    #[error("key {0:?} holds a value of the wrong type")]
    TypeMismatch(Key),
    /// The call reads `BLOCKHASH` of a block whose header hash the view does not know (a
    /// view without the chain's headers, or a declared block number ahead of them).
    #[error(
        "BLOCKHASH({0}): the state view does not know that header's hash; execute against a view that follows the chain's headers (a coordinator), or declare a block number it has reached"
    )]
    UnknownBlockHash(u64),
    /// Applying a transaction to a [`MemoryView`](crate::MemoryView) or an
    /// [`Overlay`](crate::Overlay): a move names a version that is not the live one.
    #[error("{0}")]
    StaleMove(Box<StaleMove>),
    /// The signing policy cannot be applied to the execution's moves.
    #[error("signing policy: {0}")]
    Policy(PolicyError),
    /// The execution was stopped at its deadline ([`execute_until`](crate::execute_until),
    /// [`estimate_gas_until`](crate::estimate_gas_until)).
    #[error("execution aborted: its time budget ran out")]
    Aborted,
    /// A trace that cannot be made: a tracer not served, a bad tracer config, or a call
    /// revm refuses before running it (the message says which).
    #[error("trace: {0}")]
    Tracer(String),
}

/// A move whose version is not the live one (see [`check_move`](crate::overlay::check_move)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "move on {key:?} declares {declared:?} but the live version is {live:?}: build the \
     transaction again against the current state"
)]
pub struct StaleMove {
    /// The key.
    pub key: Key,
    /// `(intx, prev)` of the move.
    pub declared: (TxId, Value),
    /// The live version.
    pub live: (TxId, Value),
}

impl MovegenError {
    /// The decoded `Error(string)` reason of a reverted call, if any.
    pub fn revert_reason(&self) -> Option<&str> {
        match self {
            MovegenError::Execution(Failure::Revert {
                reason: Some(r), ..
            }) => Some(r),
            _ => None,
        }
    }
}
