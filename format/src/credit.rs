//! The fee credit: the one transaction a validator writes itself.
//!
//! Transactions pay their fees from their own sender's account record (their declared
//! moves carry it); the part of the fees that is not burnt belongs to the batch's
//! beneficiary ([`crate::ChainRules::beneficiary`]). Crediting it inside each transaction
//! would make the beneficiary's account record a key every transaction consumes, so that no
//! two transactions of a batch could be independent. Instead the validator appends one
//! *fee credit* to every batch whose fees are not zero, after its last transaction: a
//! transaction from [`SYSTEM_SENDER`] with no authorisation whose one move consumes the
//! beneficiary's live account version and adds the batch's credit to its balance
//! (PROTOCOL.md §6.4.6). It is stored, hashed into `tx_root`, `receipts_root` and the state
//! hash, served and replayed like any transaction, so everything that follows a chain sees
//! the beneficiary's new version without a rule of its own.

use crate::types::{
    Account, Call, ExecContext, Fee, Mark, Mask, Move, MoveKind, Transaction, TxBody, TxId, Value,
};
use alloy_primitives::{Address, U256, address};

/// The sender of a fee credit (the address Ethereum's system calls use, EIP-4788). No key
/// owns it: a transaction from it with an authorisation would need a key whose address it
/// is, and a submitted transaction without one is `no_authorization`.
pub const SYSTEM_SENDER: Address = address!("0xfffffffffffffffffffffffffffffffffffffffe");

/// The fee credit of a batch at `height` with header time `time_s` (seconds): consumes the
/// beneficiary's live version `(intx, prev)` and adds `credit` wei to its balance. `None`
/// when the credit is zero (no transaction is written) or the balance would overflow.
pub fn fee_credit_tx(
    chain_id: u64,
    height: u64,
    time_s: u64,
    beneficiary: Address,
    live: (TxId, Account),
    credit: U256,
) -> Option<Transaction> {
    if credit.is_zero() {
        return None;
    }
    let (intx, prev) = live;
    let next = Account {
        balance: prev.balance.checked_add(credit)?,
        ..prev
    };
    Some(Transaction {
        eth: None,
        body: TxBody {
            chain_id,
            call: Call {
                from: SYSTEM_SENDER,
                to: Some(beneficiary),
                value: credit,
                input: Vec::new(),
                gas_limit: 0,
                fee: Fee::default(),
                access_list: Vec::new(),
                blob: None,
            },
            context: ExecContext {
                block_number: height,
                timestamp: time_s,
            },
            open: false,
            moves: vec![Move {
                mask: Mask::ALL,
                kind: MoveKind::Consume,
                mark: Mark::Account,
                intx,
                addr: beneficiary,
                slot: U256::ZERO,
                prev: Value::Account(prev),
                next: Value::Account(next),
            }],
            created_code: Vec::new(),
        },
        auths: Vec::new(),
    })
}

/// Whether `tx` has the shape of a fee credit: sent by [`SYSTEM_SENDER`], no
/// authorisation. (Whether it is the *right* credit only the validator that applies the
/// batch can say.)
pub fn is_fee_credit(tx: &Transaction) -> bool {
    tx.body.call.from == SYSTEM_SENDER && tx.auths.is_empty()
}
