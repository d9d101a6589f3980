//! The receipt budget of a batch (PROTOCOL.md §3, §6.4.3): the one rule that validators
//! apply when they accept transactions and that coordinators apply when they assemble a
//! batch, so that an honest coordinator never sends a batch the validator cuts.
//!
//! What is counted is the **encoded** receipt of each accepted transaction
//! ([`receipt_len`]): exactly the bytes the validator stores, sends on the feed and every
//! reader decodes, and the bytes the JSON answers render (about twice as many characters).
//!
//! - One transaction: a receipt longer than [`MAX_TX_RECEIPT_BYTES`] is
//!   [`Reason::ReceiptTooLarge`] (66), decided right after re-execution, without keeping its
//!   logs ([`check_receipt_len`]).
//! - One batch: transactions are admitted in batch order as they are accepted; one whose
//!   receipt would take the accepted receipts of the batch past [`MAX_BATCH_RECEIPT_BYTES`] is
//!   [`Reason::BatchReceiptsFull`] (85) and cascades like any other rejection
//!   ([`ReceiptBudget::admit`]). A later, smaller transaction that still fits is accepted.
//!
//! The batch's **gas budget** ([`GasBudget`]) is decided before execution: in batch order,
//! each transaction that passed the structural and signature checks is admitted when its
//! gas limit fits what the chain's `batch_gas_limit` has left, else it is
//! [`Reason::BatchGasFull`] (87) and not executed. So the work of re-executing a batch is
//! bounded by one number before any of it starts, whatever the transactions do.

use crate::limits::{MAX_BATCH_RECEIPT_BYTES, MAX_TX_RECEIPT_BYTES};
use crate::reason::Reason;
use crate::types::Log;

/// Bytes of a receipt without logs: `tx_id` (32) ‖ status (2) ‖ `gas_used` (8) ‖ logs
/// count (8).
pub const RECEIPT_FIXED_BYTES: usize = 32 + 2 + 8 + 8;

/// Bytes of one log: address (20) ‖ topics count (8) ‖ 32 per topic ‖ data length (8) ‖
/// data.
pub fn log_len(log: &Log) -> usize {
    (20 + 8 + 8usize)
        .saturating_add(log.topics.len().saturating_mul(32))
        .saturating_add(log.data.len())
}

/// The encoded length of the receipt of a transaction accepted with these logs (PROTOCOL.md
/// §2.2): what `encode(&Receipt)` produces, computed without encoding.
pub fn receipt_len(logs: &[Log]) -> usize {
    logs.iter()
        .fold(RECEIPT_FIXED_BYTES, |n, l| n.saturating_add(log_len(l)))
}

/// The per-transaction cap: `Err(receipt_too_large)` for a receipt of more than
/// [`MAX_TX_RECEIPT_BYTES`].
pub fn check_receipt_len(len: usize) -> Result<(), Reason> {
    if len > MAX_TX_RECEIPT_BYTES {
        Err(Reason::ReceiptTooLarge)
    } else {
        Ok(())
    }
}

/// The receipt bytes of the transactions accepted so far in one batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceiptBudget {
    used: usize,
}

impl ReceiptBudget {
    /// An empty batch.
    pub const fn new() -> ReceiptBudget {
        ReceiptBudget { used: 0 }
    }

    /// Admits the next accepted transaction, whose receipt is `len` bytes: `Ok` and counted
    /// when the batch's accepted receipts stay within [`MAX_BATCH_RECEIPT_BYTES`], else
    /// `Err(batch_receipts_full)` and nothing counted.
    pub fn admit(&mut self, len: usize) -> Result<(), Reason> {
        let next = self.used.saturating_add(len);
        if next > MAX_BATCH_RECEIPT_BYTES {
            return Err(Reason::BatchReceiptsFull);
        }
        self.used = next;
        Ok(())
    }

    /// Receipt bytes admitted so far.
    pub const fn used(&self) -> usize {
        self.used
    }

    /// Whether receipts of these lengths, all accepted in this order, fit one batch.
    pub fn all_fit(lens: impl IntoIterator<Item = usize>) -> bool {
        let mut b = ReceiptBudget::new();
        lens.into_iter().all(|l| b.admit(l).is_ok())
    }
}

/// The gas limits admitted so far in one batch, against the chain's batch gas limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GasBudget {
    used: u64,
    limit: u64,
}

impl GasBudget {
    /// An empty batch of a chain whose batch gas limit is `limit`.
    pub const fn new(limit: u64) -> GasBudget {
        GasBudget { used: 0, limit }
    }

    /// Admits the next transaction to execute, whose gas limit is `gas_limit`: `Ok` and
    /// counted when the sum stays within the limit, else `Err(batch_gas_full)` and nothing
    /// counted.
    pub fn admit(&mut self, gas_limit: u64) -> Result<(), Reason> {
        match self.used.checked_add(gas_limit) {
            Some(next) if next <= self.limit => {
                self.used = next;
                Ok(())
            }
            _ => Err(Reason::BatchGasFull),
        }
    }

    /// Gas admitted so far.
    pub const fn used(&self) -> u64 {
        self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Receipt, Status};
    use crate::{Address, B256, encode};

    fn log(topics: usize, data: usize) -> Log {
        Log {
            address: Address::repeat_byte(7),
            topics: vec![B256::repeat_byte(1); topics],
            data: vec![0xab; data],
        }
    }

    #[test]
    fn receipt_len_is_the_encoded_length() {
        for logs in [
            vec![],
            vec![log(0, 0)],
            vec![log(4, 100), log(1, 0), log(3, 4097)],
        ] {
            let r = Receipt {
                tx_id: B256::repeat_byte(3),
                status: Status::Accepted,
                gas_used: 12_345,
                logs,
            };
            assert_eq!(receipt_len(&r.logs), encode(&r).len());
        }
    }

    #[test]
    fn the_gas_budget_admits_in_order_and_cuts_past_the_limit() {
        let mut g = GasBudget::new(100);
        assert_eq!(g.admit(60), Ok(()));
        assert_eq!(g.admit(41), Err(Reason::BatchGasFull));
        assert_eq!(g.admit(40), Ok(()));
        assert_eq!(g.admit(1), Err(Reason::BatchGasFull));
        assert_eq!(g.admit(0), Ok(()));
        assert_eq!(g.used(), 100);
        let mut big = GasBudget::new(u64::MAX);
        assert_eq!(big.admit(u64::MAX), Ok(()));
        assert_eq!(big.admit(1), Err(Reason::BatchGasFull), "no overflow");
    }

    #[test]
    fn the_budget_admits_in_order_and_cuts_past_the_limit() {
        let mut b = ReceiptBudget::new();
        let quarter = MAX_BATCH_RECEIPT_BYTES / 4;
        for _ in 0..4 {
            assert_eq!(b.admit(quarter), Ok(()));
        }
        assert_eq!(b.admit(1), Err(Reason::BatchReceiptsFull));
        assert_eq!(b.used(), 4 * quarter);
        assert!(ReceiptBudget::all_fit([quarter; 4]));
        assert!(!ReceiptBudget::all_fit([
            quarter,
            quarter,
            quarter,
            quarter + 1
        ]));
        assert_eq!(b.admit(usize::MAX), Err(Reason::BatchReceiptsFull));
        assert_eq!(check_receipt_len(MAX_TX_RECEIPT_BYTES), Ok(()));
        assert_eq!(
            check_receipt_len(MAX_TX_RECEIPT_BYTES + 1),
            Err(Reason::ReceiptTooLarge)
        );
        const { assert!(MAX_TX_RECEIPT_BYTES <= MAX_BATCH_RECEIPT_BYTES) };
    }
}
