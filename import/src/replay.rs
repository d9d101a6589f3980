//! Sequential replay of a block with plain revm, checked against its header.
//!
//! Each block runs on its own pre-state: one revm `CacheDB` over the block's
//! `pre_state.json` (and the folder's code), its transactions executed and committed in
//! order, as an Ethereum client executes a block. Fees are charged (the beneficiary is paid
//! inside each transaction), the sender's nonce and balance are checked, and the chain id is 1.
//! The spec comes from the mainnet fork schedule ([`spec_at`]); the block environment from
//! the header.
//!
//! What is checked per block: the summed `gasUsed`, the OR of the receipts' blooms, and from
//! Byzantium on the receipts root (Ethereum's EIP-2718 receipt encoding in an ordered trie).
//! Receipts before Byzantium carry the intermediate state root, which the partial pre-state
//! cannot give, so their root is not checked.

use crate::error::{ImportError, TxError};
use crate::layout::{Folder, Header, LoadedBlock, PreState};
use alloy_consensus::proofs::calculate_receipt_root;
use alloy_consensus::{
    Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom, TxEip4844Variant, TxEnvelope,
};
use alloy_primitives::{Address, B256, Bloom, Log, TxKind, U256, logs_bloom};
use revm::context::result::ExecutionResult;
use revm::context::{BlockEnv, CfgEnv, TxEnv};
use revm::context_interface::block::BlobExcessGasAndPrice;
use revm::database::CacheDB;
use revm::database_interface::{DBErrorMarker, DatabaseRef};
use revm::primitives::KECCAK_EMPTY;
use revm::primitives::eip4844::BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN;
use revm::primitives::hardfork::SpecId;
use revm::state::{AccountInfo, Bytecode};
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};
use std::collections::{BTreeMap, HashMap};

/// Ethereum mainnet's chain id.
pub const CHAIN_ID: u64 = 1;

/// Mainnet's Prague activation time, the first fork this crate does not replay (EIP-7702
/// transactions and the EIP-7691 blob schedule are not implemented).
pub const PRAGUE_TIMESTAMP: u64 = 1_746_612_311;

/// The mainnet spec of a block, by number and (from Shanghai on) timestamp: the fork
/// [`crate::batches::mainnet_forks`] gives (the one home of mainnet's schedule), as revm's
/// spec.
pub fn spec_at(number: u64, timestamp: u64) -> Result<SpecId, ImportError> {
    if timestamp >= PRAGUE_TIMESTAMP {
        return Err(ImportError::UnsupportedFork {
            block: number,
            timestamp,
        });
    }
    let rules = mf_format::ChainRules {
        forks: crate::batches::mainnet_forks(),
        ..mf_format::ChainRules::default()
    };
    Ok(mf_movegen::exec::spec_of(rules.fork_at(number, timestamp)))
}

/// One header check: what the header says and what the replay computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check<T> {
    /// The header's value.
    pub expected: T,
    /// The replay's value.
    pub computed: T,
}

impl<T: PartialEq> Check<T> {
    /// Whether the replay reproduced the header.
    pub fn holds(&self) -> bool {
        self.expected == self.computed
    }
}

/// The outcome of replaying one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockReport {
    /// Block number.
    pub number: u64,
    /// The spec it ran under.
    pub spec: SpecId,
    /// Number of transactions.
    pub transactions: usize,
    /// Sum of the transactions' gas used.
    pub gas_used: Check<u64>,
    /// OR of the receipts' blooms.
    pub logs_bloom: Check<Bloom>,
    /// Root of the receipts trie; `None` before Byzantium (not checkable).
    pub receipts_root: Option<Check<B256>>,
    /// Each transaction's gas used, in block order (to locate a difference).
    pub gas_per_tx: Vec<u64>,
}

impl BlockReport {
    /// Whether every check holds.
    pub fn passed(&self) -> bool {
        self.gas_used.holds()
            && self.logs_bloom.holds()
            && self.receipts_root.as_ref().is_none_or(Check::holds)
    }
}

/// Why the read-only pre-state could not answer revm.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DbError {
    /// `BLOCKHASH` asked for a block that neither `block_hashes.json` nor the parent hash gives.
    #[error("no hash for block {0} (BLOCKHASH)")]
    MissingBlockHash(u64),
    /// Code was asked by a hash that no account of the pre-state has.
    #[error("no code with hash {0}")]
    MissingCode(B256),
}

impl DBErrorMarker for DbError {}

/// A block's pre-state as a read-only revm database: absent accounts do not exist, absent
/// slots are zero.
#[derive(Debug)]
pub struct PreStateDb<'a> {
    pre_state: &'a PreState,
    code: HashMap<B256, Bytecode>,
    block_hashes: &'a BTreeMap<u64, B256>,
    parent: (u64, B256),
}

impl<'a> PreStateDb<'a> {
    /// The pre-state of `block`, with its accounts' code from `folder` (analysed once here).
    pub fn new(folder: &'a Folder, block: &'a LoadedBlock) -> Result<Self, ImportError> {
        let number = block.header.number;
        let mut code = HashMap::new();
        for (address, account) in &block.pre_state {
            let Some(hash) = account.code_hash else {
                continue;
            };
            if hash == KECCAK_EMPTY || code.contains_key(&hash) {
                continue;
            }
            let code_error = |what| ImportError::Code {
                block: number,
                address: *address,
                code_hash: hash,
                what,
            };
            let bytes = folder
                .bytecodes
                .get(&hash)
                .ok_or_else(|| code_error("is not in bytecodes.json"))?;
            let bytecode = Bytecode::new_raw_checked(bytes.clone())
                .map_err(|_| code_error("is not valid bytecode"))?;
            code.insert(hash, bytecode);
        }
        Ok(Self {
            pre_state: &block.pre_state,
            code,
            block_hashes: &folder.block_hashes,
            parent: (number.saturating_sub(1), block.header.parent_hash),
        })
    }
}

impl DatabaseRef for PreStateDb<'_> {
    type Error = DbError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, DbError> {
        let Some(a) = self.pre_state.get(&address) else {
            return Ok(None);
        };
        let (code_hash, code) = match a.code_hash {
            Some(h) if h != KECCAK_EMPTY => (
                h,
                self.code.get(&h).cloned().ok_or(DbError::MissingCode(h))?,
            ),
            _ => (KECCAK_EMPTY, Bytecode::default()),
        };
        Ok(Some(AccountInfo::new(a.balance, a.nonce, code_hash, code)))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, DbError> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        self.code
            .get(&code_hash)
            .cloned()
            .ok_or(DbError::MissingCode(code_hash))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, DbError> {
        Ok(self
            .pre_state
            .get(&address)
            .and_then(|a| a.storage.get(&index))
            .copied()
            .unwrap_or_default())
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, DbError> {
        if number == self.parent.0 {
            return Ok(self.parent.1);
        }
        self.block_hashes
            .get(&number)
            .copied()
            .ok_or(DbError::MissingBlockHash(number))
    }
}

/// The revm block environment of a header under `spec`.
pub fn block_env(header: &Header, spec: SpecId) -> Result<BlockEnv, ImportError> {
    let london = spec.is_enabled_in(SpecId::LONDON);
    let basefee = match (header.base_fee_per_gas, london) {
        (Some(fee), true) => fee,
        (None, true) => {
            return Err(ImportError::Header {
                block: header.number,
                what: "London or later block without baseFeePerGas",
            });
        }
        (_, false) => 0,
    };
    let blob_excess_gas_and_price = if spec.is_enabled_in(SpecId::CANCUN) {
        let excess = header.excess_blob_gas.ok_or(ImportError::Header {
            block: header.number,
            what: "Cancun or later block without excessBlobGas",
        })?;
        Some(BlobExcessGasAndPrice::new(
            excess,
            BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN,
        ))
    } else {
        None
    };
    let prevrandao = if spec.is_enabled_in(SpecId::MERGE) {
        Some(header.mix_hash.ok_or(ImportError::Header {
            block: header.number,
            what: "Merge or later block without mixHash (PREVRANDAO)",
        })?)
    } else {
        None
    };
    Ok(BlockEnv {
        number: U256::from(header.number),
        beneficiary: header.miner,
        timestamp: U256::from(header.timestamp),
        gas_limit: header.gas_limit,
        basefee,
        difficulty: header.difficulty,
        prevrandao,
        blob_excess_gas_and_price,
        ..BlockEnv::default()
    })
}

/// The revm transaction of a signed transaction sent by `caller`.
pub fn tx_env(tx: &TxEnvelope, caller: Address) -> Result<TxEnv, TxError> {
    let env = match tx {
        TxEnvelope::Legacy(s) => {
            let t = s.tx();
            TxEnv {
                tx_type: 0,
                caller,
                gas_limit: t.gas_limit,
                gas_price: t.gas_price,
                kind: t.to,
                value: t.value,
                data: t.input.clone(),
                nonce: t.nonce,
                chain_id: t.chain_id,
                ..TxEnv::default()
            }
        }
        TxEnvelope::Eip2930(s) => {
            let t = s.tx();
            TxEnv {
                tx_type: 1,
                caller,
                gas_limit: t.gas_limit,
                gas_price: t.gas_price,
                kind: t.to,
                value: t.value,
                data: t.input.clone(),
                nonce: t.nonce,
                chain_id: Some(t.chain_id),
                access_list: t.access_list.clone(),
                ..TxEnv::default()
            }
        }
        TxEnvelope::Eip1559(s) => {
            let t = s.tx();
            TxEnv {
                tx_type: 2,
                caller,
                gas_limit: t.gas_limit,
                gas_price: t.max_fee_per_gas,
                gas_priority_fee: Some(t.max_priority_fee_per_gas),
                kind: t.to,
                value: t.value,
                data: t.input.clone(),
                nonce: t.nonce,
                chain_id: Some(t.chain_id),
                access_list: t.access_list.clone(),
                ..TxEnv::default()
            }
        }
        TxEnvelope::Eip4844(s) => {
            let t = match s.tx() {
                TxEip4844Variant::TxEip4844(t) => t,
                TxEip4844Variant::TxEip4844WithSidecar(t) => &t.tx,
            };
            TxEnv {
                tx_type: 3,
                caller,
                gas_limit: t.gas_limit,
                gas_price: t.max_fee_per_gas,
                gas_priority_fee: Some(t.max_priority_fee_per_gas),
                kind: TxKind::Call(t.to),
                value: t.value,
                data: t.input.clone(),
                nonce: t.nonce,
                chain_id: Some(t.chain_id),
                access_list: t.access_list.clone(),
                blob_hashes: t.blob_versioned_hashes.clone(),
                max_fee_per_blob_gas: t.max_fee_per_blob_gas,
                ..TxEnv::default()
            }
        }
        TxEnvelope::Eip7702(_) => return Err(TxError::UnsupportedType(4)),
    };
    Ok(env)
}

/// The receipt envelope of `tx`'s type.
pub(crate) fn receipt_envelope(tx: &TxEnvelope, receipt: ReceiptWithBloom) -> ReceiptEnvelope {
    match tx {
        TxEnvelope::Legacy(_) => ReceiptEnvelope::Legacy(receipt),
        TxEnvelope::Eip2930(_) => ReceiptEnvelope::Eip2930(receipt),
        TxEnvelope::Eip1559(_) => ReceiptEnvelope::Eip1559(receipt),
        TxEnvelope::Eip4844(_) => ReceiptEnvelope::Eip4844(receipt),
        TxEnvelope::Eip7702(_) => ReceiptEnvelope::Eip7702(receipt),
    }
}

/// Replays `block` on its pre-state and checks the header.
///
/// Senders are the JSON's `from` fields; [`crate::recover::check_sender`] checks them against
/// the signatures (the replay does not recover, so that it can serve as an execution-only
/// baseline).
pub fn replay_block(folder: &Folder, block: &LoadedBlock) -> Result<BlockReport, ImportError> {
    let header = &block.header;
    let spec = spec_at(header.number, header.timestamp)?;
    let db = CacheDB::new(PreStateDb::new(folder, block)?);
    let mut cfg = CfgEnv::new().with_spec_and_mainnet_gas_params(spec);
    cfg.chain_id = CHAIN_ID;
    let mut evm = Context::mainnet()
        .with_db(db)
        .with_cfg(cfg)
        .with_block(block_env(header, spec)?)
        .build_mainnet();
    let mut acc = HeaderChecks::new(spec, block.transactions.len());
    for (index, tx) in block.transactions.iter().enumerate() {
        let tx_error = |error| ImportError::Tx {
            block: header.number,
            index,
            error,
        };
        let env = tx_env(&tx.envelope, tx.from).map_err(tx_error)?;
        let result: ExecutionResult = evm
            .transact_commit(env)
            .map_err(|e| tx_error(TxError::Evm(e.to_string())))?;
        let (gas, success) = (result.tx_gas_used(), result.is_success());
        acc.push(&tx.envelope, success, gas, result.into_logs());
    }
    Ok(acc.report(header))
}

/// A block's header checks, accumulated transaction by transaction in block order: the
/// summed gas, the OR of the logs blooms and (from Byzantium on) the receipts in Ethereum's
/// encoding. The replay and the move-set path ([`crate::batches`]) both fill one.
pub(crate) struct HeaderChecks {
    spec: SpecId,
    byzantium: bool,
    transactions: usize,
    cumulative: u64,
    bloom: Bloom,
    receipts: Vec<ReceiptEnvelope>,
    gas_per_tx: Vec<u64>,
}

impl HeaderChecks {
    /// An empty block of `transactions` transactions under `spec`.
    pub(crate) fn new(spec: SpecId, transactions: usize) -> HeaderChecks {
        let byzantium = spec.is_enabled_in(SpecId::BYZANTIUM);
        HeaderChecks {
            spec,
            byzantium,
            transactions,
            cumulative: 0,
            bloom: Bloom::ZERO,
            receipts: Vec::with_capacity(if byzantium { transactions } else { 0 }),
            gas_per_tx: Vec::with_capacity(transactions),
        }
    }

    /// The next transaction's outcome: whether it succeeded, its gas and its logs.
    pub(crate) fn push(&mut self, tx: &TxEnvelope, success: bool, gas: u64, logs: Vec<Log>) {
        self.cumulative = self.cumulative.saturating_add(gas);
        self.gas_per_tx.push(gas);
        let tx_bloom = logs_bloom(&logs);
        self.bloom |= tx_bloom;
        if self.byzantium {
            let receipt = ReceiptWithBloom {
                receipt: Receipt {
                    status: Eip658Value::Eip658(success),
                    cumulative_gas_used: self.cumulative,
                    logs,
                },
                logs_bloom: tx_bloom,
            };
            self.receipts.push(receipt_envelope(tx, receipt));
        }
    }

    /// The checks against `header`.
    pub(crate) fn report(self, header: &Header) -> BlockReport {
        BlockReport {
            number: header.number,
            spec: self.spec,
            transactions: self.transactions,
            gas_used: Check {
                expected: header.gas_used,
                computed: self.cumulative,
            },
            logs_bloom: Check {
                expected: header.logs_bloom,
                computed: self.bloom,
            },
            receipts_root: self.byzantium.then(|| Check {
                expected: header.receipts_root,
                computed: calculate_receipt_root(&self.receipts),
            }),
            gas_per_tx: self.gas_per_tx,
        }
    }
}

/// Loads and replays every block of `folder` in ascending order.
pub fn replay_folder(
    folder: &Folder,
) -> impl Iterator<Item = (u64, Result<BlockReport, ImportError>)> + '_ {
    folder.numbers.iter().map(move |&n| {
        (
            n,
            folder
                .load_block(n)
                .and_then(|block| replay_block(folder, &block)),
        )
    })
}
