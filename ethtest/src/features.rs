//! What a case needs that the protocol does not express, detected from the case itself
//! (never from its name), so that the runner classifies cases it has never seen.
//!
//! `docs/CONFORMANCE.md` lists every [`Feature`] with its reason and whether the protocol
//! lacks it on purpose; the crate's tests check that the file and [`Feature::ALL`] name the
//! same features, so the list cannot grow without the file saying why.

use crate::case::Case;
use alloy_primitives::{Address, U256, address};

/// The EIP-4788 beacon-roots contract. Its system call at the start of each block is not
/// modelled (the protocol has no beacon chain); the runner leaves this account out of the
/// comparison (`docs/CONFORMANCE.md`).
pub const BEACON_ROOTS: Address = address!("000F3df6D732807Ef1319fB7B8bB8522d0Beac02");

/// A feature a case needs that the protocol does not carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    /// The case runs under a fork other than Cancun.
    OtherFork,
    /// A blob-carrying transaction (EIP-4844, type 3).
    BlobTransaction,
    /// A set-code transaction (EIP-7702, type 4).
    SetCodeTransaction,
    /// A transaction type this runner does not know.
    UnknownTransactionType,
    /// Beacon-chain withdrawals credited by a block.
    Withdrawals,
    /// Uncle (ommer) headers.
    Uncles,
    /// A pre-state account with storage but neither code nor a nonce (EIP-7610).
    StorageWithoutCode,
    /// A pre-state nonce above 2^64 - 1 (no account record holds it).
    NonceOutOfRange,
    /// The expected post-state is given only as a state-trie root.
    PostStateHashOnly,
    /// A block without transactions followed by more blocks.
    EmptyBlockThenMore,
}

impl Feature {
    /// Every feature, in the order the runner checks them.
    pub const ALL: [Feature; 10] = [
        Feature::OtherFork,
        Feature::BlobTransaction,
        Feature::SetCodeTransaction,
        Feature::UnknownTransactionType,
        Feature::Withdrawals,
        Feature::Uncles,
        Feature::StorageWithoutCode,
        Feature::NonceOutOfRange,
        Feature::PostStateHashOnly,
        Feature::EmptyBlockThenMore,
    ];

    /// Its name in the runner's output and in `docs/CONFORMANCE.md`.
    pub fn name(self) -> &'static str {
        match self {
            Feature::OtherFork => "fork_other_than_cancun",
            Feature::BlobTransaction => "blob_transaction",
            Feature::SetCodeTransaction => "set_code_transaction",
            Feature::UnknownTransactionType => "unknown_transaction_type",
            Feature::Withdrawals => "withdrawals",
            Feature::Uncles => "uncle_headers",
            Feature::StorageWithoutCode => "storage_without_code",
            Feature::NonceOutOfRange => "nonce_out_of_range",
            Feature::PostStateHashOnly => "post_state_hash_only",
            Feature::EmptyBlockThenMore => "empty_block_then_more",
        }
    }

    /// Why the protocol cannot run such a case, in one line.
    pub fn reason(self) -> &'static str {
        match self {
            Feature::OtherFork => {
                "execution runs one spec (Cancun) for every batch; a fork schedule is not built yet"
            }
            Feature::BlobTransaction => {
                "no blob data is carried or made available, so BLOBHASH and blob fees have nothing to refer to"
            }
            Feature::SetCodeTransaction => {
                "EIP-7702 delegations are not carried (a Prague feature; execution runs Cancun)"
            }
            Feature::UnknownTransactionType => "an EIP-2718 type this runner cannot read",
            Feature::Withdrawals => "there is no beacon chain, so nothing withdraws to the state",
            Feature::Uncles => "there is no proof of work, so no ommer rewards",
            Feature::StorageWithoutCode => {
                "moves cannot show that an address has no storage, so such a genesis is refused (PROTOCOL.md §6.4.1, EIP-7610)"
            }
            Feature::NonceOutOfRange => {
                "an account record's nonce is a u64 (EIP-2681 caps nonces at 2^64 - 1)"
            }
            Feature::PostStateHashOnly => {
                "the runner compares explicit post-states; it does not build Ethereum's state trie"
            }
            Feature::EmptyBlockThenMore => {
                "a batch holds at least one transaction, so heights cannot follow block numbers past an empty block"
            }
        }
    }

    /// The feature of this name.
    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// The first feature `case` needs that the protocol lacks, in [`Feature::ALL`] order.
pub fn detect(case: &Case) -> Option<Feature> {
    let txs = || case.blocks.iter().flat_map(|b| b.txs.iter().flatten());
    let found = |f: Feature| -> bool {
        match f {
            Feature::OtherFork => case.network != "Cancun",
            Feature::BlobTransaction => txs().any(|t| t.ty == 3),
            Feature::SetCodeTransaction => txs().any(|t| t.ty == 4),
            Feature::UnknownTransactionType => txs().any(|t| t.ty > 4),
            Feature::Withdrawals => case.blocks.iter().any(|b| b.withdrawals > 0),
            Feature::Uncles => case.blocks.iter().any(|b| b.uncles > 0),
            Feature::StorageWithoutCode => case.pre.values().any(|a| {
                a.code.is_empty() && a.nonce.is_zero() && a.storage.values().any(|w| !w.is_zero())
            }),
            Feature::NonceOutOfRange => case.pre.values().any(|a| a.nonce > U256::from(u64::MAX)),
            Feature::PostStateHashOnly => case.post.is_none(),
            Feature::EmptyBlockThenMore => case.blocks.iter().enumerate().any(|(i, b)| {
                b.txs.is_empty()
                    && b.expect_exception.is_none()
                    && case.blocks[i + 1..].iter().any(|l| !l.txs.is_empty())
            }),
        }
    };
    Feature::ALL.into_iter().find(|f| found(*f))
}
