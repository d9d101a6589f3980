//! Filling a signed, partly masked transaction against the current state: the
//! coordinator's core operation.
//!
//! A wallet signs what it knows ([`crate::SignPolicy`]); by the time a coordinator orders
//! the transaction, contested state (a pool's reserves) has moved. [`fill`] re-executes the
//! signed call against the coordinator's [`StateView`] and rebuilds the moves, keeping every
//! signed field and the authorisations as they are.
//!
//! ## Rules, in the order they are checked
//!
//! 1. The transaction must pass [`mf_format::check_structure`] for its own chain id
//!    ([`FillError::Structure`]): valid masks, no mask 0 in a closed transaction, the sender's
//!    account consumed by a signed move, a first signer that owns `call.from`...
//! 2. The call is executed against `view` with the transaction's chain id and context. A
//!    revert (e.g. the pool's `"insufficient output"` when `minAmountOut` is no longer met),
//!    a halt, or a view failure → [`FillError::Execution`] (the decoded reason is
//!    [`FillError::revert_reason`]).
//! 3. Every move of the original, in body order (this keeps the order of the signed moves,
//!    which the digest covers):
//!    - if the new execution touches its key: for a signed move (mask ≠ 0), `kind` and the
//!      fields its mask selects (`intx`, `prev`, `next`) must equal the new execution's, else
//!      [`FillError::SignedFieldChanged`] naming the key and the first field that differs
//!      (in the order kind, intx, prev, next); the move is replaced by the new one with the
//!      original mask (so the unsigned fields are filled). `mark, addr, slot` are the key and
//!      so cannot differ;
//!    - if the new execution no longer touches its key: a signed move →
//!      [`FillError::MoveNoLongerTouched`] (it cannot be dropped: the digest counts it and a
//!      declared key is also a declared read); an unsigned move is dropped.
//! 4. Keys the new execution touches that the original lacks are added as unsigned moves
//!    (mask 0) when the transaction is `open`; in a closed transaction →
//!    [`FillError::MovesAddedToClosedTx`] naming them.
//! 5. `created_code` is taken from the new execution (it is not signed; re-execution binds
//!    it through the declared code hashes).
//! 6. The body is put in its canonical order ([`TxBody::canonicalize`], PROTOCOL.md §6.1
//!    #7b, #7c): the signed moves in their signed order, then every unsigned move in key
//!    order; `created_code` by keccak-256 hash. That is the only order validators accept,
//!    so a filled transaction has one id for one state.
//! 7. A transaction with an Ethereum authorisation (PROTOCOL.md §5.5), whose every move is
//!    unsigned, must have the envelope's nonce in the sender's filled record, else
//!    [`FillError::SignedFieldChanged`] on the nonce.
//! 8. The filled transaction keeps the authorisations, which must still verify
//!    ([`mf_format::verify_tx_signatures`]) → else [`FillError::Signature`]. By construction
//!    the signing digest does not change, so this fails only for a transaction whose
//!    signatures were bad to begin with.
//!
//! The filled transaction re-executes to the same result under [`crate::ReexecCheck`]: its
//! moves are exactly those of an execution against `view`. A transaction that is already
//! up to date comes back unchanged (same body, same id).

use crate::MovegenError;
use crate::builder::Built;
use crate::exec::execute_under;
use crate::view::StateView;
pub use mf_format::SignedField;
use mf_format::eth::{declared_nonce, signed_nonce};
use mf_format::{
    ChainRules, Key, Mask, Move, Reason, Transaction, TxBody, check_structure, signing_digest,
    tx_id, verify_tx_signatures,
};
use std::collections::BTreeMap;

/// Why a transaction cannot be filled against a state.
#[derive(Debug, thiserror::Error)]
pub enum FillError {
    /// The transaction fails the structural checks (PROTOCOL.md §6.1).
    #[error("transaction is malformed: {0:?}")]
    Structure(Reason),
    /// Executing the call against the current state failed (revert, halt, view error).
    #[error("{0}")]
    Execution(MovegenError),
    /// The current state gives a signed field another value.
    #[error("signed field {field:?} of the move on {key:?} would change")]
    SignedFieldChanged {
        /// The key of the move.
        key: Key,
        /// The first field that differs.
        field: SignedField,
    },
    /// A signed move's key is no longer touched by the execution.
    #[error("signed move on {0:?} is no longer touched by the execution")]
    MoveNoLongerTouched(Key),
    /// The execution needs keys the transaction lacks, and it is not `open`.
    #[error("execution needs {} undeclared key(s) (first {:?}) and the transaction is closed", .0.len(), .0.first())]
    MovesAddedToClosedTx(Vec<Key>),
    /// The authorisations do not verify over the filled body.
    #[error("signatures do not verify: {0:?}")]
    Signature(Reason),
}

impl FillError {
    /// The decoded `Error(string)` reason of a reverted call, if any.
    pub fn revert_reason(&self) -> Option<&str> {
        match self {
            FillError::Execution(e) => e.revert_reason(),
            _ => None,
        }
    }
}

/// Fills `tx` against `view`: see the module documentation for the rules.
pub fn fill<V: StateView>(tx: &Transaction, view: &V) -> Result<Transaction, FillError> {
    fill_built(tx, view).map(|b| b.tx)
}

/// Like [`fill`], also returning the new id and the execution (gas, logs, output).
pub fn fill_built<V: StateView>(tx: &Transaction, view: &V) -> Result<Built, FillError> {
    fill_built_under(tx, view, &ChainRules::default())
}

/// [`fill_built`] under a chain's `rules` (fork schedule, gas limit, base fee and the other
/// block values), as its validators re-execute.
pub fn fill_built_under<V: StateView>(
    tx: &Transaction,
    view: &V,
    rules: &ChainRules,
) -> Result<Built, FillError> {
    let b = fill_preverified_under(tx, view, rules)?;
    verify_tx_signatures(&b.tx).map_err(FillError::Signature)?;
    Ok(b)
}

/// Like [`fill_built`], for an intent whose signatures were verified when it was received
/// (a coordinator verifies at intake and then re-fills the same intent many times).
///
/// Instead of verifying the signatures of the filled transaction again, it checks that the
/// filled transaction has the intent's signing digest: the authorisations sign the digest,
/// so equal digests and verified intent signatures mean valid filled signatures. That saves
/// an ed25519 verification (and key decompression) per fill, which costs about as much as
/// the swap's execution. **Do not** use it for an intent whose signatures nobody checked:
/// it would fill a forgery (which validators then reject).
pub fn fill_preverified<V: StateView>(tx: &Transaction, view: &V) -> Result<Built, FillError> {
    fill_preverified_under(tx, view, &ChainRules::default())
}

/// [`fill_preverified`] under a chain's `rules`.
pub fn fill_preverified_under<V: StateView>(
    tx: &Transaction,
    view: &V,
    rules: &ChainRules,
) -> Result<Built, FillError> {
    let body = &tx.body;
    check_structure(tx, body.chain_id).map_err(FillError::Structure)?;
    let execution = execute_under(view, body.chain_id, rules, &body.call, &body.context, false)
        .map_err(FillError::Execution)?;

    let mut fresh: BTreeMap<Key, Move> = execution.moves.iter().map(|m| (m.key(), *m)).collect();
    let mut moves = Vec::with_capacity(execution.moves.len());
    for m in &body.moves {
        let key = m.key();
        let Some(f) = fresh.remove(&key) else {
            if m.mask.is_signed() {
                return Err(FillError::MoveNoLongerTouched(key));
            }
            continue;
        };
        if let Some(field) = m.signed_difference(&f) {
            return Err(FillError::SignedFieldChanged { key, field });
        }
        moves.push(Move { mask: m.mask, ..f });
    }
    if !fresh.is_empty() {
        if !body.open {
            return Err(FillError::MovesAddedToClosedTx(fresh.into_keys().collect()));
        }
        moves.extend(fresh.into_values().map(|f| Move {
            mask: Mask::NONE,
            ..f
        }));
    }

    let mut filled = Transaction {
        eth: tx.eth.clone(),
        body: TxBody {
            chain_id: body.chain_id,
            call: body.call.clone(),
            context: body.context,
            open: body.open,
            moves,
            created_code: execution.created_code.clone(),
        },
        auths: tx.auths.clone(),
    };
    filled.body.canonicalize();
    // Unchanged signed fields (checked above) give the same digest; this is the guard that
    // makes skipping the signature verification sound.
    if signing_digest(&filled.body) != signing_digest(body) {
        return Err(FillError::Signature(Reason::BadSignature));
    }
    // An Ethereum authorisation signs no move but the sender's nonce: the version filled in
    // must have it (PROTOCOL.md §5.5). Its signer and the call were checked at intake and
    // the call is unchanged, so only the nonce is compared (no recovery per fill).
    if let Some(eth) = &filled.eth {
        let nonce = signed_nonce(&eth.envelope).map_err(FillError::Signature)?;
        if declared_nonce(&filled.body) != Some(nonce) {
            return Err(FillError::SignedFieldChanged {
                key: Key::account(body.call.from),
                field: SignedField::Nonce,
            });
        }
    }
    Ok(Built {
        id: tx_id(&filled.body),
        tx: filled,
        execution,
    })
}
