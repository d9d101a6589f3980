//! The execution rules of a chain, fixed by its genesis: the gas limit of a transaction and
//! the fork schedule (which EVM rules apply at which block number or time).
//!
//! A transaction declares the block number and timestamp it assumes (its
//! [`ExecContext`](crate::ExecContext)); the fork it runs under is the one the schedule
//! gives for that context, so re-execution needs nothing but the transaction and these
//! rules, and the context window (PROTOCOL.md §6.3.1) ties the context to the batch.

use crate::limits::{DEFAULT_BATCH_GAS_LIMIT, MAX_GAS_LIMIT};
use alloy_primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

/// An Ethereum hard fork that changed the EVM's rules, in activation order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Fork {
    /// The launch rules.
    Frontier,
    /// EIP-2, EIP-7 (`DELEGATECALL`).
    Homestead,
    /// EIP-150 (gas repricing), "Tangerine Whistle".
    Tangerine,
    /// EIP-155, EIP-158/161 (empty accounts), "Spurious Dragon".
    SpuriousDragon,
    /// Byzantium.
    Byzantium,
    /// Constantinople.
    Constantinople,
    /// Petersburg (Constantinople without EIP-1283).
    Petersburg,
    /// Istanbul.
    Istanbul,
    /// Berlin (EIP-2929 access lists and warm/cold gas).
    Berlin,
    /// London (EIP-1559, EIP-3529).
    London,
    /// Paris, the merge (`PREVRANDAO`).
    Paris,
    /// Shanghai (`PUSH0`, EIP-3860).
    Shanghai,
    /// Cancun (transient storage, `MCOPY`, EIP-6780).
    Cancun,
    /// Prague.
    Prague,
}

impl Fork {
    /// Every fork, in activation order.
    pub const ALL: [Fork; 14] = [
        Fork::Frontier,
        Fork::Homestead,
        Fork::Tangerine,
        Fork::SpuriousDragon,
        Fork::Byzantium,
        Fork::Constantinople,
        Fork::Petersburg,
        Fork::Istanbul,
        Fork::Berlin,
        Fork::London,
        Fork::Paris,
        Fork::Shanghai,
        Fork::Cancun,
        Fork::Prague,
    ];

    /// The key of a geth genesis `config` that activates it (`None` for Frontier, active
    /// from genesis), and whether its value is a timestamp (else a block number).
    pub fn geth_key(self) -> Option<(&'static str, bool)> {
        Some(match self {
            Fork::Frontier => return None,
            Fork::Homestead => ("homesteadBlock", false),
            Fork::Tangerine => ("eip150Block", false),
            Fork::SpuriousDragon => ("eip158Block", false),
            Fork::Byzantium => ("byzantiumBlock", false),
            Fork::Constantinople => ("constantinopleBlock", false),
            Fork::Petersburg => ("petersburgBlock", false),
            Fork::Istanbul => ("istanbulBlock", false),
            Fork::Berlin => ("berlinBlock", false),
            Fork::London => ("londonBlock", false),
            Fork::Paris => ("mergeNetsplitBlock", false),
            Fork::Shanghai => ("shanghaiTime", true),
            Fork::Cancun => ("cancunTime", true),
            Fork::Prague => ("pragueTime", true),
        })
    }
}

impl Fork {
    /// Most blobs one transaction may carry under this fork: the fork's blob limit per block
    /// (EIP-4844: 6 under Cancun; EIP-7691: 9 under Prague), `None` before Cancun (no blob
    /// transactions; execution refuses type 3 then).
    pub const fn max_blobs_per_tx(self) -> Option<u64> {
        match self {
            Fork::Cancun => Some(6),
            Fork::Prague => Some(9),
            _ => None,
        }
    }

    /// The blob base fee update fraction of this fork (EIP-4844: 3,338,477 under Cancun;
    /// EIP-7691: 5,007,716 under Prague), which turns the excess blob gas into the blob base
    /// fee.
    pub const fn blob_base_fee_update_fraction(self) -> u64 {
        match self {
            Fork::Prague => 5_007_716,
            _ => 3_338_477,
        }
    }

    /// Its activation at genesis: time 0 for the forks activated by time (Shanghai and
    /// later), block 0 for the others.
    pub fn at_genesis(self) -> Activation {
        match self.geth_key() {
            Some((_, true)) => Activation::Time(0),
            _ => Activation::Block(0),
        }
    }
}

/// When a fork activates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Activation {
    /// At this block number.
    Block(u64),
    /// At this timestamp (seconds).
    Time(u64),
}

/// Why a set of rules was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    /// Forks listed out of their order, or activating before an earlier fork.
    #[error("fork schedule: {0:?} is listed after a later fork or activates before an earlier one")]
    OutOfOrder(Fork),
    /// A fork activated by the other kind than geth's key for it (Shanghai and later by
    /// time, the others by block number), or Frontier listed (it is in force before any).
    #[error(
        "fork schedule: {0:?} cannot be activated that way (Shanghai and later by time, earlier forks by block; Frontier is not listed)"
    )]
    WrongActivation(Fork),
    /// A zero gas limit.
    #[error("gas limit 0: no transaction could run")]
    ZeroGasLimit,
    /// Ancestor hashes out of order, repeated, after the genesis number, or too many.
    #[error(
        "blockHashes: at most 257 entries, block numbers ascending and at most the genesis number"
    )]
    AncestorHashes,
    /// An excess blob gas above [`MAX_EXCESS_BLOB_GAS`].
    #[error("excessBlobGas {0} is above the largest allowed, {MAX_EXCESS_BLOB_GAS}")]
    ExcessBlobGas(u64),
    /// A batch gas limit below the transaction gas limit.
    #[error(
        "batch gas limit {batch} is below the gas limit {tx}: a transaction with the largest gas limit would fit no batch"
    )]
    BatchGasBelowGasLimit {
        /// The batch gas limit.
        batch: u64,
        /// The transaction gas limit.
        tx: u64,
    },
}

/// A chain's execution rules (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChainRules {
    /// The gas limit a transaction may declare at most (the genesis `gasLimit`), and the
    /// `GASLIMIT` the EVM reads.
    pub gas_limit: u64,
    /// The most gas the executed transactions of one batch may declare in all (the genesis
    /// `batchGasLimit`, [`DEFAULT_BATCH_GAS_LIMIT`] when it names none; PROTOCOL.md §6.4.3
    /// step 0): the sum of gas limits, known before execution, so a batch's work is
    /// bounded before it starts. At least `gas_limit`.
    pub batch_gas_limit: u64,
    /// Forks in activation order with their activations; before the first, Frontier.
    pub forks: Vec<(Fork, Activation)>,
    /// The base fee of every batch, in wei per gas (the genesis `baseFeePerGas`; 0 when it
    /// names none): a chain constant, not EIP-1559's per-block update (PROTOCOL.md §6.3
    /// says why). Burnt from London on; `BASEFEE` reads it.
    pub base_fee: u64,
    /// The beneficiary of every batch (the genesis `coinbase`): `COINBASE` reads it, it is
    /// warm from the start (EIP-3651), and the priority fees of a batch are credited to it
    /// once, after the batch's last transaction.
    pub beneficiary: Address,
    /// `PREVRANDAO` from Paris on (the genesis `mixHash`). The chain has no randomness
    /// beacon: it is a constant, and contracts must not take it for randomness.
    pub prevrandao: B256,
    /// `DIFFICULTY` before Paris (the genesis `difficulty`).
    pub difficulty: U256,
    /// The Ethereum block number of the genesis header (the genesis `number`, 0 when
    /// absent): the batch at height `H` is block `genesis_number + H`, which transactions
    /// declare as their context's block number and `NUMBER` returns. A chain that continues
    /// another (an import of real blocks) starts at that chain's number.
    pub genesis_number: u64,
    /// What `BLOCKHASH` returns for blocks up to the genesis (the genesis `blockHashes`, an
    /// extension of geth's format): the hashes of the chain this one continues, in ascending
    /// block order, each at most `genesis_number`, at most [`MAX_ANCESTOR_HASHES`].
    pub ancestor_hashes: Vec<(u64, B256)>,
    /// The excess blob gas of every batch (the genesis `excessBlobGas`, geth's field; 0
    /// when absent): a chain constant like the base fee, not EIP-4844's per-block update.
    /// From Cancun on the blob base fee (`BLOBBASEFEE`, and what a blob call pays per blob
    /// gas, burnt) is EIP-4844's `fake_exponential(1, excess_blob_gas, fraction)` with the
    /// fork's update fraction ([`Fork::blob_base_fee_update_fraction`]): 1 wei at 0.
    pub excess_blob_gas: u64,
}

/// The largest excess blob gas a genesis may name (2^27): its blob base fee under Cancun
/// is about e^40 wei (2.4 x 10^17) per blob gas, far above any real one, and revm's `u128`
/// evaluation of the fee does not overflow up to about 1.9 x 10^8.
pub const MAX_EXCESS_BLOB_GAS: u64 = 1 << 27;

/// Most ancestor hashes a genesis names: the 256 blocks `BLOCKHASH` reads and the genesis.
pub const MAX_ANCESTOR_HASHES: usize = 257;

/// An upper bound on the encoded length of [`ChainRules`] (for decoding stored rules): the
/// fixed fields, the fork schedule and [`MAX_ANCESTOR_HASHES`] hashes.
pub const MAX_ENCODED_RULES: usize = 1024 + MAX_ANCESTOR_HASHES * 40;

/// The stored layout of [`ChainRules`] before `excess_blob_gas` (protocol v3 and earlier).
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct RulesBeforeBlobs {
    gas_limit: u64,
    batch_gas_limit: u64,
    forks: Vec<(Fork, Activation)>,
    base_fee: u64,
    beneficiary: Address,
    prevrandao: B256,
    difficulty: U256,
    genesis_number: u64,
    ancestor_hashes: Vec<(u64, B256)>,
}

impl ChainRules {
    /// Decodes stored rules (`crate::encode` of [`ChainRules`]), also in the layout stores
    /// wrote before the excess blob gas was a rule (it is then 0, the value those chains
    /// ran). At most [`MAX_ENCODED_RULES`] bytes.
    pub fn decode_stored(bytes: &[u8]) -> Result<ChainRules, crate::FormatError> {
        match crate::decode::<ChainRules>(bytes, MAX_ENCODED_RULES, "chain rules") {
            Ok(r) => Ok(r),
            Err(e) => {
                match crate::decode::<RulesBeforeBlobs>(bytes, MAX_ENCODED_RULES, "chain rules") {
                    Ok(r) => Ok(ChainRules {
                        gas_limit: r.gas_limit,
                        batch_gas_limit: r.batch_gas_limit,
                        forks: r.forks,
                        base_fee: r.base_fee,
                        beneficiary: r.beneficiary,
                        prevrandao: r.prevrandao,
                        difficulty: r.difficulty,
                        genesis_number: r.genesis_number,
                        ancestor_hashes: r.ancestor_hashes,
                        excess_blob_gas: 0,
                    }),
                    Err(_) => Err(e),
                }
            }
        }
    }
}

impl Default for ChainRules {
    /// Cancun from genesis, [`MAX_GAS_LIMIT`] gas: the rules of a genesis that names no fork
    /// and no gas limit.
    fn default() -> Self {
        ChainRules {
            gas_limit: MAX_GAS_LIMIT,
            forks: vec![(Fork::Cancun, Fork::Cancun.at_genesis())],
            ..ChainRules::ZERO_CONTEXT
        }
    }
}

impl ChainRules {
    /// Frontier, no gas, and the block values (base fee, beneficiary, prevrandao,
    /// difficulty) all zero: the base the constructors fill in.
    const ZERO_CONTEXT: ChainRules = ChainRules {
        gas_limit: 0,
        batch_gas_limit: DEFAULT_BATCH_GAS_LIMIT,
        forks: Vec::new(),
        base_fee: 0,
        beneficiary: Address::ZERO,
        prevrandao: B256::ZERO,
        difficulty: U256::ZERO,
        genesis_number: 0,
        ancestor_hashes: Vec::new(),
        excess_blob_gas: 0,
    };

    /// Every fork up to and including `fork` from genesis, `gas_limit` gas per transaction
    /// and the default batch gas limit (at least `gas_limit`).
    pub fn from_genesis(fork: Fork, gas_limit: u64) -> ChainRules {
        ChainRules {
            gas_limit,
            // The default, raised to the gas limit: one transaction always fits a batch.
            batch_gas_limit: DEFAULT_BATCH_GAS_LIMIT.max(gas_limit),
            forks: if fork == Fork::Frontier {
                Vec::new()
            } else {
                vec![(fork, fork.at_genesis())]
            },
            ..ChainRules::ZERO_CONTEXT
        }
    }

    /// Checks the schedule: forks in their order, each activated the way geth's key for it
    /// says (Shanghai and later by time, earlier forks by block), activations
    /// non-decreasing; a non-zero gas limit.
    pub fn validate(&self) -> Result<(), RulesError> {
        if self.gas_limit == 0 {
            return Err(RulesError::ZeroGasLimit);
        }
        if self.ancestor_hashes.len() > MAX_ANCESTOR_HASHES
            || self.ancestor_hashes.windows(2).any(|w| w[0].0 >= w[1].0)
            || self
                .ancestor_hashes
                .last()
                .is_some_and(|(n, _)| *n > self.genesis_number)
        {
            return Err(RulesError::AncestorHashes);
        }
        if self.excess_blob_gas > MAX_EXCESS_BLOB_GAS {
            return Err(RulesError::ExcessBlobGas(self.excess_blob_gas));
        }
        if self.batch_gas_limit < self.gas_limit {
            return Err(RulesError::BatchGasBelowGasLimit {
                batch: self.batch_gas_limit,
                tx: self.gas_limit,
            });
        }
        let mut last: Option<(Fork, Activation)> = None;
        for &(fork, at) in &self.forks {
            match (fork.geth_key(), at) {
                (Some((_, true)), Activation::Time(_))
                | (Some((_, false)), Activation::Block(_)) => {}
                _ => return Err(RulesError::WrongActivation(fork)),
            }
            if let Some((pf, pa)) = last {
                if fork <= pf {
                    return Err(RulesError::OutOfOrder(fork));
                }
                // Forks by block come before forks by time (their order), so two
                // consecutive ones differ in kind only from block to time.
                match (pa, at) {
                    (Activation::Block(a), Activation::Block(b))
                    | (Activation::Time(a), Activation::Time(b))
                        if b < a =>
                    {
                        return Err(RulesError::OutOfOrder(fork));
                    }
                    _ => {}
                }
            }
            last = Some((fork, at));
        }
        Ok(())
    }

    /// The Ethereum block number of the batch at `height`.
    pub fn number_at(&self, height: u64) -> u64 {
        self.genesis_number.saturating_add(height)
    }

    /// The height of block `number` (`None` before the genesis).
    pub fn height_of(&self, number: u64) -> Option<u64> {
        number.checked_sub(self.genesis_number)
    }

    /// The hash the genesis names for block `number`, if any.
    pub fn ancestor_hash(&self, number: u64) -> Option<B256> {
        self.ancestor_hashes
            .binary_search_by_key(&number, |(n, _)| *n)
            .ok()
            .map(|i| self.ancestor_hashes[i].1)
    }

    /// Whether EIP-1559 (London) is in force at a context: the base fee is then burnt and
    /// checked against fee caps.
    pub fn london_at(&self, number: u64, timestamp: u64) -> bool {
        self.fork_at(number, timestamp) >= Fork::London
    }

    /// The fork in force at block `number` and time `timestamp`: forks activate in their
    /// order, so it is the last one before the first whose activation is not reached
    /// (Frontier when none is; a fork by time waits for every fork by block before it, as
    /// in geth).
    pub fn fork_at(&self, number: u64, timestamp: u64) -> Fork {
        self.forks
            .iter()
            .take_while(|(_, at)| match *at {
                Activation::Block(b) => number >= b,
                Activation::Time(t) => timestamp >= t,
            })
            .last()
            .map_or(Fork::Frontier, |(f, _)| *f)
    }

    /// Whether EIP-161's state clearing is in force at block `number` and time `timestamp`
    /// (Spurious Dragon on): an empty account is then the same as a missing one, and a
    /// touched empty account is deleted.
    pub fn state_clear_at(&self, number: u64, timestamp: u64) -> bool {
        self.fork_at(number, timestamp) >= Fork::SpuriousDragon
    }

    /// The blob base fee (wei per blob gas) at block `number` and time `timestamp`:
    /// [`blob_base_fee`] of the chain's excess blob gas with the update fraction of the fork
    /// in force. What `BLOBBASEFEE` reads and a blob call pays (PROTOCOL.md §6.3).
    pub fn blob_base_fee_at(&self, number: u64, timestamp: u64) -> u128 {
        let fork = self.fork_at(number, timestamp);
        blob_base_fee(self.excess_blob_gas, fork.blob_base_fee_update_fraction())
    }
}

/// EIP-4844's `fake_exponential(1, excess_blob_gas, update_fraction)`: the blob base fee,
/// about `e^(excess / fraction)` wei per blob gas, 1 at no excess. Saturates at `u128::MAX`
/// (reached only for an excess far above any real one); a zero fraction gives 1.
pub fn blob_base_fee(excess_blob_gas: u64, update_fraction: u64) -> u128 {
    if update_fraction == 0 {
        return 1;
    }
    let (numerator, denominator) = (U256::from(excess_blob_gas), U256::from(update_fraction));
    let mut output = U256::ZERO;
    let mut accum = denominator; // factor 1 x denominator
    let mut i = U256::from(1u64);
    while !accum.is_zero() && output != U256::MAX {
        output = output.saturating_add(accum);
        accum = accum.saturating_mul(numerator) / denominator.saturating_mul(i);
        i += U256::from(1u64);
    }
    u128::try_from(output / denominator).unwrap_or(u128::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fork_in_force_follows_the_schedule() {
        let r = ChainRules {
            gas_limit: 1,
            forks: vec![
                (Fork::London, Activation::Block(5)),
                (Fork::Paris, Activation::Block(5)),
                (Fork::Shanghai, Activation::Time(100)),
                (Fork::Cancun, Activation::Time(200)),
            ],
            ..ChainRules::default()
        };
        assert_eq!(
            ChainRules::from_genesis(Fork::Berlin, 1).fork_at(0, 0),
            Fork::Berlin
        );
        assert_eq!(
            ChainRules::from_genesis(Fork::Frontier, 1).fork_at(9, 9),
            Fork::Frontier
        );
        assert_eq!(r.validate(), Ok(()));
        assert_eq!(r.fork_at(4, 1000), Fork::Frontier);
        assert_eq!(r.fork_at(5, 0), Fork::Paris);
        assert_eq!(r.fork_at(6, 99), Fork::Paris);
        assert_eq!(r.fork_at(6, 100), Fork::Shanghai);
        assert_eq!(r.fork_at(6, 250), Fork::Cancun);
        assert_eq!(ChainRules::default().fork_at(0, 0), Fork::Cancun);
    }

    #[test]
    fn a_batch_gas_limit_below_the_gas_limit_is_refused() {
        let r = ChainRules {
            batch_gas_limit: MAX_GAS_LIMIT - 1,
            ..ChainRules::default()
        };
        assert_eq!(
            r.validate(),
            Err(RulesError::BatchGasBelowGasLimit {
                batch: MAX_GAS_LIMIT - 1,
                tx: MAX_GAS_LIMIT
            })
        );
        let r = ChainRules {
            batch_gas_limit: MAX_GAS_LIMIT,
            ..ChainRules::default()
        };
        assert_eq!(r.validate(), Ok(()));
    }

    #[test]
    fn a_disordered_schedule_is_refused() {
        let bad = |forks| {
            ChainRules {
                gas_limit: 1,
                forks,
                ..ChainRules::default()
            }
            .validate()
        };
        assert_eq!(
            bad(vec![
                (Fork::London, Activation::Block(5)),
                (Fork::Berlin, Activation::Block(9)),
            ]),
            Err(RulesError::OutOfOrder(Fork::Berlin))
        );
        assert_eq!(
            bad(vec![
                (Fork::Berlin, Activation::Block(9)),
                (Fork::London, Activation::Block(5)),
            ]),
            Err(RulesError::OutOfOrder(Fork::London))
        );
        assert_eq!(
            bad(vec![
                (Fork::Shanghai, Activation::Time(9)),
                (Fork::Cancun, Activation::Block(10)),
            ]),
            Err(RulesError::WrongActivation(Fork::Cancun))
        );
        assert_eq!(
            bad(vec![(Fork::Frontier, Activation::Block(0))]),
            Err(RulesError::WrongActivation(Fork::Frontier))
        );
        assert_eq!(
            ChainRules {
                gas_limit: 0,
                forks: vec![],
                ..ChainRules::default()
            }
            .validate(),
            Err(RulesError::ZeroGasLimit)
        );
    }

    #[test]
    fn the_blob_base_fee_follows_eip_4844() {
        // geth's eip4844 tests (fake_exponential(1, excess, fraction)).
        assert_eq!(blob_base_fee(0, 3_338_477), 1);
        assert_eq!(blob_base_fee(2_314_057, 3_338_477), 1);
        assert_eq!(blob_base_fee(2_314_058, 3_338_477), 2);
        assert_eq!(blob_base_fee(10 * 1024 * 1024, 3_338_477), 23);
        assert_eq!(blob_base_fee(0, 0), 1);
        let r = ChainRules {
            excess_blob_gas: 10 * 1024 * 1024,
            ..ChainRules::default()
        };
        assert_eq!(r.blob_base_fee_at(0, 0), 23);
        assert_eq!(r.validate(), Ok(()));
        let r = ChainRules {
            excess_blob_gas: MAX_EXCESS_BLOB_GAS + 1,
            ..ChainRules::default()
        };
        assert_eq!(
            r.validate(),
            Err(RulesError::ExcessBlobGas(MAX_EXCESS_BLOB_GAS + 1))
        );
        // Far above the cap it saturates instead of running for ever.
        assert_eq!(blob_base_fee(u64::MAX, 1), u128::MAX);
    }

    #[test]
    fn rules_stored_before_the_excess_blob_gas_still_decode() {
        let r = ChainRules {
            base_fee: 7,
            genesis_number: 9,
            ancestor_hashes: vec![(8, B256::repeat_byte(1))],
            ..ChainRules::default()
        };
        let old = crate::encode(&super::RulesBeforeBlobs {
            gas_limit: r.gas_limit,
            batch_gas_limit: r.batch_gas_limit,
            forks: r.forks.clone(),
            base_fee: r.base_fee,
            beneficiary: r.beneficiary,
            prevrandao: r.prevrandao,
            difficulty: r.difficulty,
            genesis_number: r.genesis_number,
            ancestor_hashes: r.ancestor_hashes.clone(),
        });
        assert_eq!(ChainRules::decode_stored(&old), Ok(r.clone()));
        let now = ChainRules {
            excess_blob_gas: 5,
            ..r
        };
        assert_eq!(ChainRules::decode_stored(&crate::encode(&now)), Ok(now));
        assert!(ChainRules::decode_stored(&[1, 2, 3]).is_err());
    }
}
