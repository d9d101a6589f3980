//! Stateless structural checks: everything about a transaction that needs neither the EVM,
//! nor the UTXO set, nor signature arithmetic. Cheap; run before anything else.

use crate::limits::{CONTEXT_MAX_DRIFT_S, CONTEXT_WINDOW_BLOCKS, MAX_GAS_LIMIT};
use crate::reason::Reason;
use crate::sign::address_of;
use crate::types::{ExecContext, Key, Mark, MoveKind, Transaction};
use alloy_primitives::U256;

/// Checks the structure of `tx` for a validator of chain `chain_id`. The checks run in the
/// order of `docs/PROTOCOL.md` §6.1 and the first failure is returned.
pub fn check_structure(tx: &Transaction, chain_id: u64) -> Result<(), Reason> {
    let body = &tx.body;
    if body.chain_id != chain_id {
        return Err(Reason::WrongChainId);
    }
    if body.call.gas_limit > MAX_GAS_LIMIT {
        return Err(Reason::GasLimitTooHigh);
    }
    for m in &body.moves {
        if !m.mask.is_valid() {
            return Err(Reason::InvalidMask);
        }
        if m.prev.mark() != m.mark || m.next.mark() != m.mark {
            return Err(Reason::ValueTypeMismatch);
        }
        if m.mark == Mark::Account && m.slot != U256::ZERO {
            return Err(Reason::NonZeroAccountSlot);
        }
        if m.kind == MoveKind::Reference && m.next != m.prev {
            return Err(Reason::ReferenceChangesValue);
        }
        if !m.mask.is_signed() && !body.open {
            return Err(Reason::UnsignedMoveInClosedTx);
        }
        if m.kind == MoveKind::Consume && m.next == m.prev {
            return Err(Reason::ConsumeUnchanged);
        }
    }
    let mut keys: Vec<Key> = body.moves.iter().map(|m| m.key()).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(Reason::DuplicateKey);
    }
    if !body.moves.iter().any(|m| m.kind == MoveKind::Consume) {
        return Err(Reason::NoConsumeMove);
    }
    let sender = Key::account(body.call.from);
    match body
        .moves
        .iter()
        .find(|m| m.kind == MoveKind::Consume && m.key() == sender)
    {
        None => return Err(Reason::SenderNotConsumed),
        Some(m) if !m.mask.is_signed() => return Err(Reason::SenderMoveUnsigned),
        Some(_) => {}
    }
    if body.created_code.iter().any(|c| c.is_empty()) {
        return Err(Reason::InvalidCreatedCode);
    }
    let first = tx.auths.first().ok_or(Reason::NoAuthorization)?;
    if address_of(&first.public_key) != body.call.from {
        return Err(Reason::SenderNotFirstSigner);
    }
    Ok(())
}

/// The context window (`docs/PROTOCOL.md` §6.3.1): whether a transaction declaring `ctx` may
/// be applied in the batch at `height` whose header time is `time_s` seconds (the header's
/// `time_ms / 1000`). In the window when `height - 256 <= ctx.block_number <= height`
/// (the lower bound saturating at 0) and `ctx.timestamp <= time_s + 15`; otherwise
/// [`Reason::ContextOutOfWindow`]. There is no lower bound on the timestamp.
///
/// ```
/// use mf_format::{ExecContext, Reason, check::check_context};
/// let ctx = |block_number, timestamp| ExecContext { block_number, timestamp };
/// assert_eq!(check_context(&ctx(1000, 0), 1000, 0), Ok(()));
/// assert_eq!(check_context(&ctx(744, 0), 1000, 0), Ok(()));
/// assert_eq!(check_context(&ctx(743, 0), 1000, 0), Err(Reason::ContextOutOfWindow));
/// assert_eq!(check_context(&ctx(1001, 0), 1000, 0), Err(Reason::ContextOutOfWindow));
/// assert_eq!(check_context(&ctx(0, 115), 1, 100), Ok(()));
/// assert_eq!(check_context(&ctx(0, 116), 1, 100), Err(Reason::ContextOutOfWindow));
/// ```
#[inline]
pub fn check_context(ctx: &ExecContext, height: u64, time_s: u64) -> Result<(), Reason> {
    if ctx.block_number > height
        || ctx.block_number.saturating_add(CONTEXT_WINDOW_BLOCKS) < height
        || ctx.timestamp > time_s.saturating_add(CONTEXT_MAX_DRIFT_S)
    {
        return Err(Reason::ContextOutOfWindow);
    }
    Ok(())
}
