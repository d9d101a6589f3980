//! Stateless structural checks: everything about a transaction that needs neither the EVM,
//! nor the UTXO set, nor signature arithmetic. Cheap; run before anything else.

use crate::limits::{CONTEXT_MAX_DRIFT_S, CONTEXT_WINDOW_BLOCKS};
use crate::reason::Reason;
use crate::rules::ChainRules;
use crate::sign::address_of;
use crate::types::{ExecContext, FeeKind, Key, Mark, Move, MoveKind, Transaction};
use alloy_primitives::{B256, U256, keccak256};

/// Checks the structure of `tx` for a validator of chain `chain_id`. The checks run in the
/// order of `docs/PROTOCOL.md` §6.1 and the first failure is returned.
pub fn check_structure(tx: &Transaction, chain_id: u64) -> Result<(), Reason> {
    let body = &tx.body;
    if body.chain_id != chain_id {
        return Err(Reason::WrongChainId);
    }
    for m in &body.moves {
        if !m.mask.is_valid() || (m.mask.nonce() && m.mark != Mark::Account) {
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
        // An Ethereum authorisation signs no move: its nonce binds the sender (§5.5).
        Some(m) if !m.mask.is_signed() && tx.eth.is_none() => {
            return Err(Reason::SenderMoveUnsigned);
        }
        Some(_) => {}
    }
    if body.created_code.iter().any(|c| c.is_empty()) {
        return Err(Reason::InvalidCreatedCode);
    }
    if !created_code_is_canonical(&body.created_code) {
        return Err(Reason::InvalidCreatedCode);
    }
    if !moves_are_canonical(&body.moves) {
        return Err(Reason::NoncanonicalMoveOrder);
    }
    let call = &body.call;
    let blob_fields_fit = match (call.fee.kind, &call.blob) {
        // A blob call names a callee (EIP-4844: no creation) and at least one blob.
        (FeeKind::Blob, Some(b)) => call.to.is_some() && !b.versioned_hashes.is_empty(),
        (FeeKind::Blob, None) => false,
        (_, b) => b.is_none(),
    };
    if !call.fee.is_consistent()
        || (call.fee.kind == FeeKind::Legacy && !call.access_list.is_empty())
        || !blob_fields_fit
    {
        return Err(Reason::InvalidFeeFields);
    }
    if tx.eth.is_some() {
        // Its signer is recovered with the signatures (§6.2); it comes alone and signs no
        // move.
        if !tx.auths.is_empty() || body.moves.iter().any(|m| m.mask.is_signed()) {
            return Err(Reason::InvalidEthAuthorization);
        }
        return Ok(());
    }
    let first = tx.auths.first().ok_or(Reason::NoAuthorization)?;
    if address_of(&first.public_key) != body.call.from {
        return Err(Reason::SenderNotFirstSigner);
    }
    Ok(())
}

/// The chain's gas limit (PROTOCOL.md §6.1 #2): a transaction may declare at most the gas
/// limit of its chain's rules (the genesis `gasLimit`, 30,000,000 when it names none) →
/// else `gas_limit_too_high`. Validators check it right after [`check_structure`].
pub fn check_gas_limit(tx: &Transaction, rules: &ChainRules) -> Result<(), Reason> {
    if tx.body.call.gas_limit > rules.gas_limit {
        return Err(Reason::GasLimitTooHigh);
    }
    Ok(())
}

/// Whether the `created_code` entries are in their canonical order (`docs/PROTOCOL.md` §6.1
/// #7b): strictly ascending keccak-256 hashes, so sorted and without a repeated entry. The
/// signing digest does not cover the created code; with one valid order a third party
/// cannot reorder it into another id.
pub fn created_code_is_canonical(codes: &[Vec<u8>]) -> bool {
    if codes.len() < 2 {
        return true;
    }
    let hashes: Vec<B256> = codes.iter().map(keccak256).collect();
    hashes.windows(2).all(|w| w[0] < w[1])
}

/// Whether the moves are in their canonical order (`docs/PROTOCOL.md` §6.1 #7c): every
/// signed move (mask ≠ 0) before every unsigned one (mask 0), and the unsigned moves in
/// strictly ascending key order (the order of [`Key`]: mark, address, slot, which is the
/// byte order of [`Key::to_bytes`]). The signed moves keep the order their signers chose
/// (the signing digest covers it); the unsigned ones, which it leaves out, have one order.
pub fn moves_are_canonical(moves: &[Move]) -> bool {
    let mut last_unsigned: Option<Key> = None;
    for m in moves {
        if m.mask.is_signed() {
            if last_unsigned.is_some() {
                return false;
            }
        } else {
            let key = m.key();
            if last_unsigned.is_some_and(|l| key <= l) {
                return false;
            }
            last_unsigned = Some(key);
        }
    }
    true
}

/// The context window (`docs/PROTOCOL.md` §6.3.1): whether a transaction declaring `ctx` may
/// be applied in the batch at `height` (`H`) whose header time is `time_s` seconds (`T`,
/// the header's `time_ms / 1000`). `time_at(n)` gives the header time in seconds of an
/// earlier height `n < H` (the validator keeps the last 257); `None` for a height it does
/// not know counts as out of window. Writing `time(n)` for the header time of height `n`
/// and `time(H) = T`, a context `(b, t)` is in the window when
///
/// - `H - 256 <= b <= H` (the lower bound saturating at 0): a recent block;
/// - `t <= time(b) + 15`: no later than the declared block's time, with a drift;
/// - `t + 15 >= time(b - 1)` when `b >= 1`: no earlier than the time of the block before
///   the declared one, with a drift.
///
/// So a declared `(number, time)` pair is one the chain could have had: the time lies
/// between the header times around the declared block, and since header times never
/// decrease, contexts with larger block numbers can run at most 30 s behind smaller ones.
/// Otherwise [`Reason::ContextOutOfWindow`].
///
/// ```
/// use mf_format::{ExecContext, Reason, check::check_context};
/// let ctx = |block_number, timestamp| ExecContext { block_number, timestamp };
/// // Header time of height n: 100 + 10 n seconds; the batch at H = 1000 has T = 10_100.
/// let time_at = |n: u64| Some(100 + 10 * n);
/// let check = |b, t| check_context(&ctx(b, t), 1000, 10_100, time_at);
/// assert_eq!(check(1000, 10_100), Ok(()));
/// assert_eq!(check(744, 7_540), Ok(()));
/// assert_eq!(check(743, 7_530), Err(Reason::ContextOutOfWindow), "older than 256 blocks");
/// assert_eq!(check(1001, 10_100), Err(Reason::ContextOutOfWindow), "a future block");
/// assert_eq!(check(1000, 10_115), Ok(()));
/// assert_eq!(check(1000, 10_116), Err(Reason::ContextOutOfWindow), "15 s past T");
/// assert_eq!(check(900, 9_115), Ok(()));
/// assert_eq!(check(900, 9_116), Err(Reason::ContextOutOfWindow), "after block 900's time");
/// assert_eq!(check(900, 9_075), Ok(()));
/// assert_eq!(check(900, 9_074), Err(Reason::ContextOutOfWindow), "before block 899's time");
/// assert_eq!(check(1000, 0), Err(Reason::ContextOutOfWindow), "time 0 at height 1000");
/// ```
#[inline]
pub fn check_context(
    ctx: &ExecContext,
    height: u64,
    time_s: u64,
    time_at: impl Fn(u64) -> Option<u64>,
) -> Result<(), Reason> {
    let b = ctx.block_number;
    if b > height || b.saturating_add(CONTEXT_WINDOW_BLOCKS) < height {
        return Err(Reason::ContextOutOfWindow);
    }
    let time = |n: u64| {
        if n == height {
            Some(time_s)
        } else {
            time_at(n)
        }
    };
    let upper = time(b).ok_or(Reason::ContextOutOfWindow)?;
    if ctx.timestamp > upper.saturating_add(CONTEXT_MAX_DRIFT_S) {
        return Err(Reason::ContextOutOfWindow);
    }
    if let Some(before) = b.checked_sub(1) {
        let lower = time(before).ok_or(Reason::ContextOutOfWindow)?;
        if ctx.timestamp.saturating_add(CONTEXT_MAX_DRIFT_S) < lower {
            return Err(Reason::ContextOutOfWindow);
        }
    }
    Ok(())
}
