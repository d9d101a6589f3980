//! What a case needs that the protocol does not express, detected from the case itself
//! (never from its name), so that the runner classifies cases it has never seen.
//!
//! `docs/CONFORMANCE.md` lists every [`Feature`] with its reason and whether the protocol
//! lacks it on purpose; the crate's tests check that the file and [`Feature::ALL`] name the
//! same features, so the list cannot grow without the file saying why.

use crate::case::Case;
use alloy_eips::eip1559::BaseFeeParams;
use alloy_primitives::{Address, U256, address};
use mf_format::{Activation, ChainRules, Fork};

/// The system contracts whose block-level system calls are not modelled (the protocol has
/// no beacon chain and no consensus-layer requests): EIP-4788 beacon roots, and Prague's
/// EIP-2935 block-hash history, EIP-7002 withdrawal and EIP-7251 consolidation requests.
/// The runner leaves these accounts out of the comparison (`docs/CONFORMANCE.md`).
pub const SYSTEM_CONTRACTS: [Address; 4] = [
    address!("000F3df6D732807Ef1319fB7B8bB8522d0Beac02"),
    address!("0000F90827F1C53a10cb7A02335B175320002935"),
    address!("00000961Ef480Eb55e80D19ad83579A64c007002"),
    address!("0000BBdDc7CE488642fb579F8B00f3a590007251"),
];

/// The runner's own account: it sends a no-op transaction (a transfer of nothing to
/// itself) for each valid block without transactions, so that the block is a batch and
/// heights keep following block numbers (a batch holds at least one transaction). It exists
/// only in cases with such a block, and the comparison leaves it out.
pub const FILLER: Address = address!("00000000000000000000000000000000000f111e");

/// The fork of an ethereum/tests network name (`Cancun`, `EIP158`, `ConstantinopleFix`...).
pub fn fork_named(name: &str) -> Option<Fork> {
    Some(match name {
        "Frontier" => Fork::Frontier,
        "Homestead" => Fork::Homestead,
        "EIP150" | "Tangerine" | "TangerineWhistle" => Fork::Tangerine,
        "EIP158" | "SpuriousDragon" => Fork::SpuriousDragon,
        "Byzantium" => Fork::Byzantium,
        "Constantinople" => Fork::Constantinople,
        "ConstantinopleFix" | "Petersburg" => Fork::Petersburg,
        "Istanbul" => Fork::Istanbul,
        "Berlin" => Fork::Berlin,
        "London" => Fork::London,
        "Merge" | "Paris" => Fork::Paris,
        "Shanghai" => Fork::Shanghai,
        "Cancun" => Fork::Cancun,
        "Prague" => Fork::Prague,
        _ => return None,
    })
}

/// The fork schedule of a network name: one fork from genesis (`Shanghai`), or a
/// transition (`BerlinToLondonAt5`: by block; `ShanghaiToCancunAtTime15k`: by time, `k`
/// for thousands). `None` for a name this runner does not know.
pub fn schedule_of(network: &str, gas_limit: u64) -> Option<ChainRules> {
    if let Some(f) = fork_named(network) {
        return Some(ChainRules::from_genesis(f, gas_limit));
    }
    let (from, rest) = network.split_once("To")?;
    let (to, at) = rest.split_once("At")?;
    let (by_time, n) = match at.strip_prefix("Time") {
        Some(n) => (true, n),
        None => (false, at),
    };
    let n: u64 = match n.strip_suffix('k') {
        Some(k) => k.parse::<u64>().ok()?.checked_mul(1000)?,
        None => n.parse().ok()?,
    };
    let (from, to) = (fork_named(from)?, fork_named(to)?);
    let mut rules = ChainRules::from_genesis(from, gas_limit);
    rules.forks.push((
        to,
        if by_time {
            Activation::Time(n)
        } else {
            Activation::Block(n)
        },
    ));
    rules.validate().ok()?;
    Some(rules)
}

/// The rules a case runs under: its network's schedule and the gas limit of its first
/// block (else its genesis header; 30,000,000 when neither says).
pub fn rules_of(case: &Case) -> Option<ChainRules> {
    let gas = case
        .blocks
        .iter()
        // A zero gas limit is no chain's (Ethereum refuses such a block for its header).
        .find_map(|b| b.gas_limit.filter(|g| *g > 0))
        .or(case.genesis_gas_limit)
        .unwrap_or(mf_format::limits::MAX_GAS_LIMIT);
    let mut rules = schedule_of(&case.network, gas)?;
    // The block values are chain constants here (PROTOCOL.md §6.3): those of the first
    // block that names them ([`Feature::BlockValuesVary`] skips a case whose blocks
    // differ). A block whose header is absent (an undecodable invalid block) has the base
    // fee EIP-1559 derives from the genesis header.
    let envs = || case.blocks.iter().map(|b| &b.env);
    rules.base_fee = envs()
        .find_map(|e| e.base_fee)
        .or_else(|| {
            let g = &case.genesis_env;
            Some(BaseFeeParams::ethereum().next_block_base_fee(
                g.gas_used?,
                g.gas_limit?,
                g.base_fee?,
            ))
        })
        .unwrap_or(0);
    rules.beneficiary = case
        .blocks
        .iter()
        .find_map(|b| b.env.coinbase)
        .or(case.genesis_env.coinbase)
        .unwrap_or_default();
    rules.prevrandao = case
        .blocks
        .iter()
        .find_map(|b| b.env.mix_hash)
        .unwrap_or_default();
    rules.difficulty = envs().find_map(|e| e.difficulty).unwrap_or_default();
    // The blob base fee is a chain constant too (PROTOCOL.md §6.3): the chain's excess blob
    // gas, that of the first block that names one.
    rules.excess_blob_gas = envs().find_map(|e| e.excess_blob_gas).unwrap_or(0);
    Some(rules)
}

/// Whether two blocks of `case` name different values of a block constant: the base fee,
/// the beneficiary, or (from Paris on) the prevrandao.
fn block_values_vary(case: &Case) -> bool {
    fn differ<T: PartialEq>(mut it: impl Iterator<Item = T>) -> bool {
        match it.next() {
            None => false,
            Some(first) => it.any(|x| x != first),
        }
    }
    let envs = || case.blocks.iter().map(|b| &b.env);
    let paris = rules_of(case).is_some_and(|r| {
        case.blocks.iter().any(|b| {
            b.number
                .is_some_and(|n| r.fork_at(n, b.timestamp) >= Fork::Paris)
        })
    });
    differ(envs().filter_map(|e| e.base_fee))
        || differ(envs().filter_map(|e| e.coinbase))
        || (paris && differ(envs().filter_map(|e| e.mix_hash)))
        || differ(envs().filter_map(|e| e.excess_blob_gas))
}

/// A feature a case needs that the protocol does not carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    /// The case's network names no fork schedule this runner knows.
    UnknownFork,
    /// The case runs Constantinople's EIP-1283, which revm does not implement.
    Constantinople,
    /// An excess blob gas above what a chain may name (EIP-4844's blob base fee).
    ExcessBlobGasAboveCap,
    /// A block refused for its header's blob gas fields (`blobGasUsed`, `excessBlobGas`),
    /// which this protocol's headers do not carry.
    BlobHeaderFields,
    /// A block refused for the blobs of its transactions together (EIP-4844's per-block
    /// blob gas limit), which this protocol does not have.
    BlockBlobLimit,
    /// A set-code transaction (EIP-7702, type 4).
    SetCodeTransaction,
    /// A transaction type this runner does not know.
    UnknownTransactionType,
    /// Beacon-chain withdrawals credited by a block, and the result differs once their
    /// credits are taken out of the expected balances (detected while running).
    Withdrawals,
    /// Uncle (ommer) headers.
    Uncles,
    /// A pre-state account with storage but neither code nor a nonce (EIP-7610).
    StorageWithoutCode,
    /// A pre-state nonce above 2^64 - 1 (no account record holds it).
    NonceOutOfRange,
    /// The expected post-state is given only as a state-trie root.
    PostStateHashOnly,
    /// Valid blocks whose numbers do not rise one by one: competing blocks for the same
    /// height, of which proof of work's fork choice keeps one chain.
    CompetingBlocks,
    /// A block time past what a header holds (milliseconds in a u64).
    TimestampOutOfRange,
    /// Blocks with different base fees, beneficiaries or prevrandao values.
    BlockValuesVary,
    /// Execution read `BLOCKHASH` of an earlier block and the result differs: this chain's
    /// block hashes are its own header hashes, not Ethereum's (detected while running).
    BlockHashValue,
    /// A contract destroyed by `SELFDESTRUCT` (before Cancun) and the result differs: its
    /// storage slots that the moves did not name keep their values here (detected while
    /// running).
    SelfdestructStorage,
    /// Execution read the storage of a system contract (EIP-4788's beacon roots, ...) and
    /// the result differs: the block-level system calls that write it are not modelled
    /// (detected while running).
    SystemCallState,
    /// A block accepted here that Ethereum refuses for a field of its Ethereum header or its
    /// RLP encoding (state root, receipts root, extra data, ...), which a batch does not have
    /// (detected while running).
    EthereumHeader,
    /// A block accepted here that Ethereum refuses for its gas pool (a transaction's gas limit
    /// above the block's gas left, or the gas used above the limit): a batch's gas budget is
    /// decided on gas limits before execution instead (detected while running).
    BlockGasPool,
}

/// The exceptions of a block refused for its Ethereum header or encoding
/// ([`Feature::EthereumHeader`]).
pub const HEADER_EXCEPTIONS: [&str; 14] = [
    "EXTRA_DATA_TOO_BIG",
    "GASLIMIT_TOO_BIG",
    "INVALID_GASLIMIT",
    "INVALID_GAS_USED",
    "IMPORT_IMPOSSIBLE_DIFFICULTY",
    "IMPORT_IMPOSSIBLE_UNCLES",
    "INVALID_BLOCK_TIMESTAMP",
    "INVALID_LOG_BLOOM",
    "INVALID_RECEIPTS_ROOT",
    "INVALID_STATE_ROOT",
    "INVALID_TRANSACTIONS_ROOT",
    "INVALID_UNCLES_HASH",
    "UNKNOWN_PARENT",
    "RLP_",
];

/// The exceptions of a block refused for its gas pool ([`Feature::BlockGasPool`]).
pub const GAS_POOL_EXCEPTIONS: [&str; 2] = ["GAS_ALLOWANCE_EXCEEDED", "GAS_USED_OVERFLOW"];

impl Feature {
    /// Every feature, in the order the runner checks them.
    pub const ALL: [Feature; 20] = [
        Feature::UnknownFork,
        Feature::Constantinople,
        Feature::ExcessBlobGasAboveCap,
        Feature::BlobHeaderFields,
        Feature::BlockBlobLimit,
        Feature::SetCodeTransaction,
        Feature::UnknownTransactionType,
        Feature::Withdrawals,
        Feature::Uncles,
        Feature::StorageWithoutCode,
        Feature::NonceOutOfRange,
        Feature::PostStateHashOnly,
        Feature::CompetingBlocks,
        Feature::TimestampOutOfRange,
        Feature::BlockValuesVary,
        Feature::BlockHashValue,
        Feature::SelfdestructStorage,
        Feature::SystemCallState,
        Feature::EthereumHeader,
        Feature::BlockGasPool,
    ];

    /// Its name in the runner's output and in `docs/CONFORMANCE.md`.
    pub fn name(self) -> &'static str {
        match self {
            Feature::UnknownFork => "unknown_fork",
            Feature::Constantinople => "constantinople_eip1283",
            Feature::ExcessBlobGasAboveCap => "excess_blob_gas_above_cap",
            Feature::BlobHeaderFields => "blob_header_fields",
            Feature::BlockBlobLimit => "block_blob_limit",
            Feature::SetCodeTransaction => "set_code_transaction",
            Feature::UnknownTransactionType => "unknown_transaction_type",
            Feature::Withdrawals => "withdrawals",
            Feature::Uncles => "uncle_headers",
            Feature::StorageWithoutCode => "storage_without_code",
            Feature::NonceOutOfRange => "nonce_out_of_range",
            Feature::PostStateHashOnly => "post_state_hash_only",
            Feature::CompetingBlocks => "competing_blocks",
            Feature::TimestampOutOfRange => "timestamp_out_of_range",
            Feature::BlockValuesVary => "block_values_vary",
            Feature::BlockHashValue => "block_hash_value",
            Feature::SelfdestructStorage => "selfdestruct_storage",
            Feature::SystemCallState => "system_call_state",
            Feature::EthereumHeader => "ethereum_header",
            Feature::BlockGasPool => "block_gas_pool",
        }
    }

    /// Why the protocol cannot run such a case, in one line.
    pub fn reason(self) -> &'static str {
        match self {
            Feature::UnknownFork => "a network name the runner cannot map to a fork schedule",
            Feature::Constantinople => {
                "revm runs Constantinople as Petersburg (EIP-1283 was withdrawn before mainnet ran it)"
            }
            Feature::ExcessBlobGasAboveCap => {
                "the chain's excess blob gas is at most 2^27 here (PROTOCOL.md §6.3), and this case's header names more"
            }
            Feature::BlobHeaderFields => {
                "the block is refused for its header's blobGasUsed or excessBlobGas: a batch header carries neither (the blob base fee is a chain constant, PROTOCOL.md §6.3)"
            }
            Feature::BlockBlobLimit => {
                "the block is refused for its transactions' blobs together: the chain carries no blob data, so there is no per-batch blob limit (PROTOCOL.md §6.3), only the fork's per-transaction one"
            }
            Feature::SetCodeTransaction => {
                "EIP-7702 delegations are not carried (a Prague feature; execution runs Cancun)"
            }
            Feature::UnknownTransactionType => "an EIP-2718 type this runner cannot read",
            Feature::Withdrawals => {
                "there is no beacon chain, so nothing withdraws to the state, and the result depends on a withdrawal's credit"
            }
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
            Feature::CompetingBlocks => {
                "a batch chain has one order, fixed when a batch is applied: no fork choice between competing blocks"
            }
            Feature::TimestampOutOfRange => {
                "a header's time is milliseconds in a u64, so a block time past 2^64 / 1000 seconds cannot be one"
            }
            Feature::BlockValuesVary => {
                "the base fee, beneficiary and prevrandao are chain constants, so transactions can be filled before the batch they land in is known"
            }
            Feature::BlockHashValue => {
                "BLOCKHASH returns this chain's own header hashes, not Ethereum's, and the result depends on the value"
            }
            Feature::EthereumHeader => {
                "a batch header is the protocol's own: Ethereum's header fields and block encoding are not carried, so none of them can be wrong"
            }
            Feature::BlockGasPool => {
                "a batch's gas budget sums gas limits before execution, not Ethereum's pool of gas left per block"
            }
            Feature::SystemCallState => {
                "block-level system calls (EIP-4788's beacon root, ...) are not modelled, and the result depends on the storage they write"
            }
            Feature::SelfdestructStorage => {
                "a destroyed contract keeps the storage slots its moves do not name (before Cancun Ethereum wipes them all), and the result depends on one"
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
    // Whether a block's expected exception names one of `names` (exception names are
    // `Kind.NAME`, several joined by `|`).
    let expects = |names: &[&str]| {
        case.blocks.iter().any(|b| {
            b.expect_exception
                .as_deref()
                .is_some_and(|e| names.iter().any(|n| e.contains(n)))
        })
    };
    let found = |f: Feature| -> bool {
        match f {
            Feature::UnknownFork => rules_of(case).is_none(),
            Feature::Constantinople => {
                rules_of(case).is_some_and(|r| r.forks.iter().any(|f| f.0 == Fork::Constantinople))
            }
            Feature::ExcessBlobGasAboveCap => case.blocks.iter().any(|b| {
                b.env
                    .excess_blob_gas
                    .is_some_and(|x| x > mf_format::rules::MAX_EXCESS_BLOB_GAS)
            }),
            Feature::BlobHeaderFields => expects(&[
                "INCORRECT_BLOB_GAS_USED",
                "INCORRECT_EXCESS_BLOB_GAS",
                "BLOB_GAS_USED_ABOVE_LIMIT",
            ]),
            Feature::BlockBlobLimit => expects(&["MAX_BLOB_GAS_ALLOWANCE_EXCEEDED"]),
            Feature::SetCodeTransaction => txs().any(|t| t.ty == 4),
            Feature::UnknownTransactionType => txs().any(|t| t.ty > 4),

            Feature::Uncles => case.blocks.iter().any(|b| b.uncles > 0),
            Feature::StorageWithoutCode => case.pre.values().any(|a| {
                a.code.is_empty() && a.nonce.is_zero() && a.storage.values().any(|w| !w.is_zero())
            }),
            Feature::NonceOutOfRange => case.pre.values().any(|a| a.nonce > U256::from(u64::MAX)),
            Feature::PostStateHashOnly => case.post.is_none(),
            Feature::CompetingBlocks => {
                let mut numbers = case
                    .blocks
                    .iter()
                    .filter(|b| b.expect_exception.is_none())
                    .filter_map(|b| b.number);
                numbers.next().is_some_and(|first| {
                    numbers
                        .try_fold(first, |prev, n| (n == prev + 1).then_some(n))
                        .is_none()
                })
            }
            Feature::TimestampOutOfRange => {
                case.blocks.iter().any(|b| b.timestamp > u64::MAX / 1000)
            }
            Feature::BlockValuesVary => block_values_vary(case),
            // Detected while running the case (`run_case`): which blocks' hashes execution
            // reads is known only then.
            Feature::BlockHashValue
            | Feature::Withdrawals
            | Feature::SelfdestructStorage
            | Feature::SystemCallState
            | Feature::EthereumHeader
            | Feature::BlockGasPool => false,
        }
    };
    Feature::ALL.into_iter().find(|f| found(*f))
}
