//! # mf-format: the wire format of the Manaflow-style UTXO move-set validator
//!
//! Every other crate of the workspace speaks through the types here, and nothing else
//! defines bytes that are hashed, signed or sent. The crate holds:
//!
//! - the wire types ([`Move`], [`Value`], [`Transaction`], [`Batch`], [`Header`],
//!   [`Receipt`], ...) and their canonical encoding ([`encode`], [`decode_tx`],
//!   [`decode_batch`]): serde + bincode 2, little-endian, fixed-width integers, with every
//!   variable length checked against [`limits`] before allocation;
//! - ids and digests: [`tx_id`], [`signing_digest`] (honouring each move's [`Mask`]) and
//!   [`authorization_digest`] (what co-signers sign: the digest bound to every signer),
//!   [`header_hash`], merkle roots ([`tx_root`], [`receipts_root`]);
//! - keys and signatures: [`Keypair`], [`address_of`], strict (cofactored) verification with
//!   [`PublicKey::verify`], and [`verify_batch`] that names the failing signatures;
//! - the stateless structural checks ([`check_structure`]), the context window
//!   ([`check_context`], applied by validators at the height and header time of the batch)
//!   and the reason codes ([`Reason`]) every rejection carries;
//! - the state hash ([`LtHash`]).
//!
//! Why one crate: a validator, a coordinator and a wallet must agree bit for bit on ids and
//! digests. Golden vectors in `tests/vectors/golden.txt` pin the format; any change to it
//! shows there. The normative description is `docs/PROTOCOL.md`.
//!
//! ```
//! use mf_format::*;
//! use alloy_primitives::U256;
//!
//! let alice = Keypair::from_label("alice");
//! let bob = Keypair::from_label("bob");
//! let before = Account { balance: U256::from(100u64), nonce: 0, code_hash: EMPTY_CODE_HASH };
//! let after = Account { balance: U256::from(90u64), nonce: 1, ..before };
//! let body = TxBody {
//!     chain_id: 1,
//!     call: Call { from: alice.address(), to: Some(bob.address()), value: U256::from(10u64),
//!                  input: vec![], gas_limit: 21_000, fee: Fee::legacy(0), access_list: vec![],
//!                  blob: None },
//!     context: ExecContext::default(),
//!     open: false,
//!     moves: vec![Move { mask: Mask::ALL, kind: MoveKind::Consume, mark: Mark::Account,
//!                        intx: GENESIS_INTX, addr: alice.address(), slot: U256::ZERO,
//!                        prev: Value::Account(before), next: Value::Account(after) }],
//!     created_code: vec![],
//! };
//! let tx = sign(body, &[&alice]);
//! let bytes = encode(&tx);
//! let back = decode_tx(&bytes).unwrap();
//! assert_eq!(tx_id(&back.body), tx_id(&tx.body));
//! assert_eq!(check_structure(&back, 1), Ok(()));
//! assert_eq!(verify_tx_signatures(&back), Ok(()));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, unused_crate_dependencies)]

// Dev-dependencies of the integration tests and benchmarks, not of the unit tests.
#[cfg(test)]
use criterion as _;
#[cfg(test)]
use hex as _;
#[cfg(test)]
use proptest as _;

pub mod budget;
pub mod check;
pub mod codec;
pub mod credit;
pub mod encoders;
pub mod eth;
pub mod hash;
pub mod limits;
pub mod lthash;
pub mod reason;
pub mod rules;
pub mod sign;
pub mod types;
pub mod wire;

pub use alloy_primitives::{Address, B256, U256};
pub use budget::{GasBudget, ReceiptBudget, check_receipt_len, receipt_len};
pub use check::{check_context, check_gas_limit, check_structure};
pub use codec::{
    FormatError, decode, decode_batch, decode_body, decode_header, decode_receipts, decode_tx,
    encode, encode_into, split_batch, tx_move_next,
};
pub use credit::{SYSTEM_SENDER, fee_credit_tx, is_fee_credit};
pub use eth::{EthSigned, decode_eth, verify_eth_authorization, verify_eth_authorization_under};
pub use hash::{header_hash, merkle_empty_root, receipts_root, tx_id, tx_root};
pub use lthash::LtHash;
pub use reason::Reason;
pub use rules::{Activation, ChainRules, Fork, RulesError, blob_base_fee};
pub use sign::{
    Keypair, PublicKey, SigCheck, address_of, authorization_digest, sign, signing_digest,
    tx_authorization_digest, verify_batch, verify_tx_signatures,
};
pub use types::*;
