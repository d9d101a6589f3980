//! Signing policies: which fields of which moves a wallet signs, and whether a filler may
//! add unsigned moves (PROTOCOL.md §1 "mask", §5.2).
//!
//! A [`SignPolicy`] gives every move a [`Mask`]: a default for every key (normally
//! [`Mask::ALL`]) and per-key overrides. It is applied to the moves of an execution by
//! [`SignPolicy::apply`] (the [`crate::TxBuilder`] does this before signing).
//!
//! ## Rules (checked by [`SignPolicy::apply`])
//!
//! - A mask with a bit above bit 3, or the nonce bit on a storage move →
//!   [`PolicyError::InvalidMask`].
//! - Mask 0 (the move is not signed at all) only in an `open` transaction →
//!   [`PolicyError::UnsignedMoveInClosedTx`].
//! - The sender's own account move must sign its nonce, directly ([`Mask::NONCE`] or
//!   [`Mask::PREV`]) or through its version ([`Mask::INTX`]): that makes the transaction
//!   unrepeatable (PROTOCOL.md §6.1 #6b asks only for a non-zero mask; this library is
//!   stricter) → [`PolicyError::SenderMoveUnsigned`].
//! - A per-key mask for a key the execution did not touch is ignored (a policy may be
//!   written once for a family of calls).
//!
//! ## The sender's account move
//!
//! Unless a per-key mask says otherwise, the sender's own account move gets
//! [`SignPolicy::sender`], by default [`Mask::NONCE_ONLY`]: the nonce is signed, the
//! version, balance and value after are left to the filler. So value credited to the
//! sender before the transaction lands (a payment received, a fee credit) does not
//! invalidate it: a coordinator re-fills it against the new version, and the nonce makes it
//! unrepeatable, as on Ethereum (PROTOCOL.md §5.3). [`SignPolicy::exact`] signs the
//! sender's move fully instead (valid only against exactly the version it was built on).
//!
//! ## What a mask can express
//!
//! A signed move (mask ≠ 0) always signs `mark, kind, addr, slot` and at least one of
//! `intx`, `prev`, `next`. So a key whose version, value before *and* value after may all
//! change before the transaction is applied (a contested pool reserve) cannot be a signed
//! move: leave it unsigned (mask 0) in an `open` transaction. The contract code, re-executed
//! by every validator, still constrains the filled values (e.g. a swap's `minAmountOut`
//! in the signed calldata).
//!
//! ## Common patterns
//!
//! (a) **Sign everything** ([`SignPolicy::all`], the default): every move [`Mask::ALL`]
//! but the sender's account move (its nonce only), `open = false`. Nothing but the sender's
//! balance can be filled. Right for uncontested state (transfers, ERC20 transfers).
//! [`SignPolicy::exact`] signs the sender's move fully too: valid only against exactly the
//! versions it was built on.
//!
//! (b) **AMM swap through a coordinator**: `open = true`, and
//!
//! | key | mask | why |
//! | --- | --- | --- |
//! | the sender's account (nonce) | [`Mask::NONCE_ONLY`] ([`SignPolicy::sender`]) | replay protection, exact nonce; credits received meanwhile do not invalidate it |
//! | the user's input-token balance, allowance | [`Mask::ALL`] | the user's own state: exact amount in |
//! | the user's output-token balance | `INTX \| PREV` ([`SignPolicy::KNOWN_BEFORE`]) | own version and value pinned; the amount received depends on the pool, bounded by `minAmountOut` |
//! | pool reserves, the pool's token balances | [`Mask::NONE`] | contested: the coordinator fills version, before and after |
//! | contract account records, pool config (token addresses) | [`Mask::ALL`] | read-only references that do not change |
//!
//! ```
//! use mf_format::{Address, Key, Mask, U256};
//! use mf_movegen::SignPolicy;
//! use mf_movegen::abi::mapping_slot;
//!
//! let (user, pair, token_in, token_out) =
//!     (Address::repeat_byte(1), Address::repeat_byte(2), Address::repeat_byte(3), Address::repeat_byte(4));
//! let balance = |token, holder| Key::storage(token, mapping_slot(holder, U256::ZERO));
//! let policy = SignPolicy::all()
//!     .open(true)
//!     .with_mask(Key::storage(pair, U256::from(2u64)), Mask::NONE) // reserve0
//!     .with_mask(Key::storage(pair, U256::from(3u64)), Mask::NONE) // reserve1
//!     .with_mask(balance(token_in, pair), Mask::NONE)
//!     .with_mask(balance(token_out, pair), Mask::NONE)
//!     .with_mask(balance(token_out, user), SignPolicy::KNOWN_BEFORE);
//! assert_eq!(policy.mask_for(&balance(token_in, user)), Mask::ALL);
//! ```

use mf_format::{Address, Key, Mark, Mask, Move, MoveKind};
use std::collections::BTreeMap;

/// Which fields of which moves to sign, and whether the transaction is `open`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignPolicy {
    /// The mask of every key without an override.
    pub default: Mask,
    /// Per-key masks.
    pub masks: BTreeMap<Key, Mask>,
    /// The mask of the sender's own account move when `masks` names no mask for it.
    pub sender: Mask,
    /// Whether a filler may add unsigned (mask 0) moves.
    pub open: bool,
}

impl Default for SignPolicy {
    fn default() -> Self {
        SignPolicy::all()
    }
}

/// Why a policy cannot be applied to a transaction's moves.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A mask with a bit above bit 3, or the nonce bit on a storage move.
    #[error("mask {mask:?} for {key:?} has undefined bits or signs a storage word's nonce")]
    InvalidMask {
        /// The key.
        key: Key,
        /// The mask.
        mask: Mask,
    },
    /// Mask 0 on a move of a transaction that is not `open`.
    #[error("unsigned (mask 0) move for {0:?} in a closed transaction")]
    UnsignedMoveInClosedTx(Key),
    /// The sender's account move signs neither its nonce nor its version.
    #[error("the sender's account move must sign its nonce or its version (mask {0:?})")]
    SenderMoveUnsigned(Mask),
}

impl SignPolicy {
    /// `INTX | PREV`: the version and the value before are signed, the value after is left
    /// to the filler (a user's balance that receives an amount decided by contested state).
    pub const KNOWN_BEFORE: Mask = Mask(Mask::INTX | Mask::PREV);

    /// Sign everything but the sender's balance and version: [`Mask::ALL`] on every move,
    /// [`Mask::NONCE_ONLY`] on the sender's account move, `open = false`.
    pub fn all() -> SignPolicy {
        SignPolicy {
            default: Mask::ALL,
            masks: BTreeMap::new(),
            sender: Mask::NONCE_ONLY,
            open: false,
        }
    }

    /// Sign everything, the sender's account move included: valid only against exactly the
    /// versions it was built on (a credit to the sender before it lands invalidates it).
    pub fn exact() -> SignPolicy {
        SignPolicy {
            sender: Mask::ALL,
            ..SignPolicy::all()
        }
    }

    /// Sets the mask of the sender's account move (when no per-key mask names it).
    pub fn sender_mask(mut self, mask: Mask) -> SignPolicy {
        self.sender = mask;
        self
    }

    /// Sets the mask of one key.
    pub fn with_mask(mut self, key: Key, mask: Mask) -> SignPolicy {
        self.masks.insert(key, mask);
        self
    }

    /// Sets the same mask on several keys.
    pub fn with_masks(mut self, keys: impl IntoIterator<Item = Key>, mask: Mask) -> SignPolicy {
        for k in keys {
            self.masks.insert(k, mask);
        }
        self
    }

    /// Sets `open`.
    pub fn open(mut self, open: bool) -> SignPolicy {
        self.open = open;
        self
    }

    /// The mask a move on `key` gets, for any move but the sender's own account move (which
    /// gets [`SignPolicy::sender`] unless `masks` names it).
    pub fn mask_for(&self, key: &Key) -> Mask {
        self.masks.get(key).copied().unwrap_or(self.default)
    }

    /// True when the policy signs every field of every move of a closed transaction.
    pub fn is_sign_all(&self) -> bool {
        !self.open
            && self.default == Mask::ALL
            && self.sender == Mask::ALL
            && self.masks.values().all(|m| *m == Mask::ALL)
    }

    /// Sets the mask of each of `moves` (whose sender is `from`), checking the rules of the
    /// module documentation.
    pub fn apply(&self, from: Address, moves: &mut [Move]) -> Result<(), PolicyError> {
        let sender = Key::account(from);
        for m in moves.iter_mut() {
            let key = m.key();
            let is_sender = key == sender && m.kind == MoveKind::Consume;
            let mask = match self.masks.get(&key) {
                Some(mask) => *mask,
                None if is_sender => self.sender,
                None => self.default,
            };
            if !mask.is_valid() || (mask.nonce() && m.mark != Mark::Account) {
                return Err(PolicyError::InvalidMask { key, mask });
            }
            if is_sender && !(mask.intx() || mask.prev() || mask.nonce()) {
                return Err(PolicyError::SenderMoveUnsigned(mask));
            }
            if !mask.is_signed() && !self.open {
                return Err(PolicyError::UnsignedMoveInClosedTx(key));
            }
            m.mask = mask;
        }
        Ok(())
    }
}
