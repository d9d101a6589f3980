//! # mf-movegen: execution, move generation and the re-execution check
//!
//! A transaction of this protocol declares every piece of state it touches (its *moves*).
//! Someone has to run the EVM to find them: a wallet for its own uncontested state, a
//! coordinator for contested state. And every validator has to run the EVM again, against
//! **only** the declared values, to check them. This crate does both with one engine, so
//! the two sides cannot disagree:
//!
//! - [`StateView`]: the latest version of each key and code by hash (an in-memory
//!   [`MemoryView`] is included; a coordinator plugs in its index);
//! - [`Overlay`]: versions and code written on top of any [`StateView`], and the one rule
//!   for applying a transaction body to a state ([`check_move`]: every move names the live
//!   version), the pattern of revm's `CacheDB`;
//! - [`execute`]: runs a call with revm against a view through a database that records every
//!   account and storage read ([`db::RecordingDb`]), and turns the reads and the post-state
//!   into sorted moves: a **consume** for each key whose value changed (`next` = the new
//!   value), a **reference** for each key only read, `intx` from the view, plus the runtime
//!   code of created contracts, the gas used and the logs;
//! - [`TxBuilder`]: "call contract X with this calldata" to a signed transaction, with a
//!   [`SignPolicy`] saying which fields of which moves are signed (masks, `open`);
//! - [`fill()`]: the filler's (coordinator's) core operation: re-execute a signed, partly
//!   masked transaction against the current state and fill what its signers left open;
//! - [`estimate_gas`]: the smallest gas limit under which a call succeeds
//!   (`eth_estimateGas`);
//! - [`rpc`] and, with the `remote` feature, [`remote`](crate#remote): the coordinator's
//!   JSON-RPC shapes, a `RemoteView` (a [`StateView`] over a coordinator) and an
//!   `RpcClient` that submits intents and waits for their verdict;
//! - the re-execution seam [`Reexec`] and [`ReexecCheck`], the stateless check validators
//!   call (PROTOCOL.md §6.3), with its reason codes and their precedence documented on the
//!   type; [`StructureOnly`] skips re-execution.
//!
//! ```
//! use mf_format::{Account, EMPTY_CODE_HASH, Keypair, U256, check_structure};
//! use mf_movegen::{MemoryView, NoCode, Reexec, ReexecCheck, TxBuilder};
//!
//! let alice = Keypair::from_label("alice");
//! let bob = Keypair::from_label("bob");
//! let mut view = MemoryView::new();
//! view.set_account(alice.address(), Account {
//!     balance: U256::from(1_000u64), nonce: 0, code_hash: EMPTY_CODE_HASH });
//!
//! // Execute, declare the moves, sign.
//! let built = TxBuilder::transfer(1337, bob.address(), U256::from(10u64))
//!     .build(&view, &alice, &[])?;
//! assert_eq!(built.tx.body.moves.len(), 2); // alice and bob's account records
//! assert_eq!(check_structure(&built.tx, 1337), Ok(()));
//!
//! // What a validator does: re-execute against the declared values only.
//! let out = ReexecCheck::default().reexec(&built.tx, &built.id, &NoCode);
//! assert_eq!(out.map(|o| o.gas_used), Ok(21_000));
//!
//! // Chain the next transaction on the new versions.
//! view.apply(&built.tx.body)?;
//! assert_eq!(view.account(bob.address()).balance, U256::from(10u64));
//! # Ok::<(), mf_movegen::MovegenError>(())
//! ```
//!
//! ## Execution rules (pinned here, binding on wallets and validators alike)
//!
//! - revm **43.0.3**, the spec of the fork the chain's rules ([`mf_format::ChainRules`], from
//!   the genesis) give for the transaction's declared context ([`exec::spec_of`]), with the
//!   mainnet gas table of that spec; Cancun under the default rules ([`exec::SPEC`]), which
//!   [`execute`] and [`ReexecCheck::default`] use, [`execute_under`] and
//!   [`ReexecCheck::new`] take a chain's.
//! - The transaction of the call's type (legacy, EIP-2930, EIP-1559, EIP-4844:
//!   [`mf_format::Fee`]) from `call.from` with `call.to`/creation, `call.value`,
//!   `call.input`, `call.gas_limit`, its fee fields and access list (pre-warmed and charged),
//!   for a blob call its blob fee cap and versioned hashes ([`mf_format::Blobs`]; at most
//!   the fork's blobs per transaction, [`mf_format::Fork::max_blobs_per_tx`]), chain id
//!   `body.chain_id` (`CHAINID` returns it).
//! - Block: number and timestamp from the transaction's context; gas limit, base fee,
//!   beneficiary, prevrandao and difficulty from the chain's rules (PROTOCOL.md §6.3 "Fees
//!   and block values": chain constants); the excess blob gas from the chain's rules too
//!   (`BLOBBASEFEE`, with the fork's update fraction). `BLOCKHASH(n)` for the 256
//!   blocks before the declared number is the hash of the chain's header `n`, from the
//!   view ([`StateView::block_hash`]; a view that does not know it fails the call with
//!   [`MovegenError::UnknownBlockHash`], and re-execution with `context_out_of_window`).
//! - Fees: charged as on Ethereum (the sender pays `gas_used x effective price`, and a blob
//!   call `blob gas x blob base fee`, burnt, from the record its move declares, revm's
//!   balance and fee-field checks on), except that the
//!   beneficiary is not paid inside the transaction ([`handler`]): the validator credits a
//!   batch's priority fees once (PROTOCOL.md §6.4.6), so a plain value transfer touches
//!   exactly the sender's and the recipient's account records.
//! - Nonces: revm's nonce check is disabled (replay protection is the sender's signed nonce
//!   or version, PROTOCOL.md §6.1 #6b, §5.2); the nonce is still bumped for calls, and a creation uses
//!   the sender's current nonce for the new address. EIP-3607 (no sender with code) holds.
//! - State: an account whose value is the protocol's zero value (balance 0, nonce 0, empty
//!   code hash) is non-existent to revm (EIP-161 makes the two equivalent). All code is
//!   legacy (Cancun has no EOF and no EIP-7702).
//! - Post-state: a key is *written* when its final value differs from the value served to
//!   the EVM (or, for a key revm never loaded, such as the storage of a contract created in
//!   the same transaction, from the zero value). A self-destructed account (Cancun: only one
//!   created in the same transaction) ends as the empty account with zero storage.
//! - Receipts: `gas_used` is revm's `tx_gas_used` (after refunds); logs in emission order.
//! - The context window (`context_out_of_window`, 65; PROTOCOL.md §6.3.1) is not enforced
//!   here: re-execution is stateless, and the window needs the height `H` and header time
//!   `T` of the batch, which only the validator's sequential apply knows. The rule
//!   ([`mf_format::check_context`]): `block_number` in `[H - 256, H]` (saturating at 0,
//!   [`mf_format::limits::CONTEXT_WINDOW_BLOCKS`]) and `timestamp` within 15 s
//!   ([`mf_format::limits::CONTEXT_MAX_DRIFT_S`]) of the header times of the declared block
//!   and the one before it. [`TxBuilder`]'s default context `(0, 0)` is valid only at
//!   heights 1–256: wallets should set
//!   `.context(ExecContext { block_number: head + 1, timestamp: now })`.

#![forbid(unsafe_code)]
#![warn(missing_docs, unused_crate_dependencies)]

// Dev-dependencies of the benchmarks, not of the unit tests.
#[cfg(test)]
use criterion as _;
#[cfg(test)]
use rayon as _;

pub mod abi;
pub mod builder;
pub mod db;
pub mod error;
pub mod estimate;
pub mod eth;
pub mod exec;
pub mod fill;
pub mod genesis;
pub mod handler;
pub mod overlay;
pub mod policy;
pub mod reexec;
#[cfg(feature = "remote")]
pub mod remote;
pub mod rpc;
#[cfg(feature = "trace")]
pub mod trace;
pub mod view;

pub use builder::{Built, TxBuilder};
pub use error::{MovegenError, StaleMove};
pub use estimate::{estimate_gas, estimate_gas_until, estimate_gas_until_under, estimate_runs};
pub use eth::{eth_transaction, eth_transaction_signed};
pub use exec::{
    Deadline, Execution, Failure, decode_revert_reason, execute, execute_included, execute_under,
    execute_until, execute_until_under,
};
pub use fill::{
    FillError, SignedField, fill, fill_built, fill_built_under, fill_preverified,
    fill_preverified_under,
};
pub use overlay::{EmptyView, Overlay, OverlayError, check_move};
pub use policy::{PolicyError, SignPolicy};
pub use reexec::{
    BlockHashes, CodeLookup, DeclaredState, NoCode, Reexec, ReexecCheck, Reexecuted, StructureOnly,
};
pub use view::{MemoryView, StateView};
