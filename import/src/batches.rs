//! Real blocks as move sets: each block of a folder becomes a chain of its own (the block's
//! pre-state as its genesis, numbered as the block's parent, with the real ancestors' hashes,
//! PROTOCOL.md §6.3) and one batch, each transaction authorised by the original signed
//! Ethereum transaction (§5.5) with its moves derived by executing it in block order
//! (`mf_movegen::eth_transaction`). A real validator then applies the batch in strict mode:
//! every signer recovered, every transaction re-executed alone against its declared values,
//! the critical path, the commit. The header checks are computed from the validator's own
//! receipts: summed gas, the OR of the logs blooms, and (Byzantium on) the receipts root in
//! Ethereum's receipt encoding.
//!
//! Not modelled (none of the checked header fields depends on them): block and uncle
//! rewards, withdrawals, the beacon-root system call. The beneficiary is credited the
//! block's priority fees once after the last transaction (§6.4.6), not after each one: a
//! transaction that reads the beneficiary's balance mid-block sees less than on Ethereum.
//! Blob transactions (type 3) are carried like the others (§5.5): the genesis names the
//! block's `excessBlobGas`, so each chain's blob base fee is the block's (§6.3), and the
//! sender pays its blob gas at that price, burnt. Set-code transactions (type 4, Prague) are
//! not carried: a block holding one is reported as not importable.

use crate::error::ImportError;
use crate::layout::{Folder, LoadedBlock};
use crate::replay::{BlockReport, HeaderChecks, spec_at};
use alloy_consensus::TxEnvelope;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{B256, Log as EthLog};
use mf_format::limits::DEFAULT_BATCH_GAS_LIMIT;
use mf_format::{
    Account, Activation, Batch, ChainRules, EMPTY_CODE_HASH, ExecContext, Fork, Key, Status,
    Transaction, Value,
};
use mf_movegen::genesis::Genesis;
use mf_movegen::{MemoryView, eth_transaction};
use mf_validator::{Mode, Validator};
use std::path::Path;

/// The chain id of Ethereum mainnet.
pub const CHAIN_ID: u64 = 1;

/// Mainnet's fork schedule up to Cancun, as a genesis `config` names it.
pub fn mainnet_forks() -> Vec<(Fork, Activation)> {
    use Activation::{Block, Time};
    vec![
        (Fork::Homestead, Block(1_150_000)),
        (Fork::Tangerine, Block(2_463_000)),
        (Fork::SpuriousDragon, Block(2_675_000)),
        (Fork::Byzantium, Block(4_370_000)),
        (Fork::Constantinople, Block(7_280_000)),
        (Fork::Petersburg, Block(7_280_000)),
        (Fork::Istanbul, Block(9_069_000)),
        (Fork::Berlin, Block(12_244_000)),
        (Fork::London, Block(12_965_000)),
        (Fork::Paris, Block(15_537_394)),
        (Fork::Shanghai, Time(1_681_338_455)),
        (Fork::Cancun, Time(1_710_338_135)),
    ]
}

/// One block as a chain: its genesis and its batch.
#[derive(Debug, Clone)]
pub struct BlockChain {
    /// The block's pre-state, numbered as its parent, with the ancestors' hashes.
    pub genesis: Genesis,
    /// The block's transactions with their moves.
    pub batch: Batch,
    /// The block's timestamp in seconds (the batch's header time).
    pub timestamp: u64,
}

/// The genesis of `block`: its pre-state and code, chain id 1, mainnet's forks, the block's
/// gas limit, base fee, beneficiary, prevrandao, difficulty and excess blob gas, numbered as its parent, with
/// the hashes of the parent and the ancestors the folder holds.
pub fn genesis_of(folder: &Folder, block: &LoadedBlock) -> Result<Genesis, ImportError> {
    let h = &block.header;
    let mut ancestors: Vec<(u64, B256)> = folder
        .block_hashes
        .range(h.number.saturating_sub(257)..h.number.saturating_sub(1))
        .map(|(n, hash)| (*n, *hash))
        .collect();
    if let Some(parent) = h.number.checked_sub(1) {
        ancestors.push((parent, h.parent_hash));
    }
    let paris = h.number >= 15_537_394;
    let rules = ChainRules {
        gas_limit: h.gas_limit,
        batch_gas_limit: DEFAULT_BATCH_GAS_LIMIT.max(h.gas_limit),
        forks: mainnet_forks(),
        base_fee: h.base_fee_per_gas.unwrap_or(0),
        beneficiary: h.miner,
        prevrandao: if paris {
            h.mix_hash.unwrap_or_default()
        } else {
            B256::ZERO
        },
        difficulty: h.difficulty,
        genesis_number: h.number.saturating_sub(1),
        ancestor_hashes: ancestors,
        // The blob base fee of the block (Cancun on; 0, the minimum fee 1, before).
        excess_blob_gas: h.excess_blob_gas.unwrap_or(0),
    };
    let mut versions = Vec::new();
    let mut code = Vec::new();
    // A listed account exists. Before EIP-161 an empty one differs from a missing one (a
    // CALL to it is not charged for a new account), so it is kept as existing.
    let keep_empty = !rules.state_clear_at(h.number, h.timestamp);
    for (addr, a) in &block.pre_state {
        let mut account = Account {
            balance: a.balance,
            nonce: a.nonce,
            code_hash: a.code_hash.unwrap_or(EMPTY_CODE_HASH),
        };
        if keep_empty && account == Account::EMPTY {
            account = Account::EXISTING_EMPTY;
        }
        if let Some(hash) = a.code_hash {
            let bytes = folder.bytecodes.get(&hash).ok_or(ImportError::Code {
                block: h.number,
                address: *addr,
                code_hash: hash,
                what: "is not in bytecodes.json",
            })?;
            code.push((hash, bytes.to_vec()));
        }
        if account != Account::EMPTY {
            versions.push((Key::account(*addr), Value::Account(account)));
        }
        for (slot, word) in &a.storage {
            if !word.is_zero() {
                versions.push((Key::storage(*addr, *slot), Value::Storage(*word)));
            }
        }
    }
    versions.sort_unstable_by_key(|(k, _)| *k);
    code.sort_unstable_by_key(|(hash, _)| *hash);
    code.dedup_by_key(|(hash, _)| *hash);
    Ok(Genesis {
        chain_id: CHAIN_ID,
        rules,
        versions,
        code,
    })
}

/// `block` as a chain: its genesis, and its transactions executed in order against it, each
/// authorised by its signed Ethereum transaction, as one batch.
pub fn block_chain(folder: &Folder, block: &LoadedBlock) -> Result<BlockChain, ImportError> {
    let h = &block.header;
    spec_at(h.number, h.timestamp)?;
    let genesis = genesis_of(folder, block)?;
    let mut view = MemoryView::from_genesis(
        genesis.versions.iter().copied(),
        genesis.code.iter().map(|(_, c)| c.clone()),
    );
    for (n, hash) in &genesis.rules.ancestor_hashes {
        view.set_block_hash(*n, *hash);
    }
    let context = ExecContext {
        block_number: h.number,
        timestamp: h.timestamp,
    };
    let mut txs = Vec::with_capacity(block.transactions.len());
    for (index, tx) in block.transactions.iter().enumerate() {
        let fail = |what: String| ImportError::Batch {
            block: h.number,
            index,
            what,
        };
        if matches!(tx.envelope, TxEnvelope::Eip7702(_)) {
            return Err(fail(format!(
                "type {} transactions are not carried (PROTOCOL.md §5.5)",
                u8::from(tx.envelope.tx_type())
            )));
        }
        let built = eth_transaction(
            &view,
            CHAIN_ID,
            &genesis.rules,
            &tx.envelope.encoded_2718(),
            context,
        )
        .map_err(|e| fail(e.to_string()))?;
        view.apply(&built.tx.body)
            .map_err(|e| fail(format!("the moves do not apply: {e}")))?;
        txs.push(built.tx);
    }
    Ok(BlockChain {
        genesis,
        batch: Batch { txs },
        timestamp: h.timestamp,
    })
}

/// Validates `chain` with a real validator in `dir` (strict mode, the batch's header time
/// the block's) and checks the header against the validator's receipts.
pub fn validate_block(
    block: &LoadedBlock,
    chain: &BlockChain,
    dir: &Path,
) -> Result<BlockReport, ImportError> {
    let h = &block.header;
    let store_err = |what: String| ImportError::Batch {
        block: h.number,
        index: 0,
        what,
    };
    if chain.batch.txs.is_empty() {
        // A block without transactions is no batch (a batch holds at least one): nothing
        // changes, and the header's checks are those of no receipts.
        let checks = HeaderChecks::new(spec_at(h.number, h.timestamp)?, 0);
        return Ok(checks.report(h));
    }
    let mut v = Validator::init(dir, &chain.genesis)
        .map_err(|e| store_err(format!("validator init: {e}")))?;
    let time_ms = chain.timestamp.saturating_mul(1000);
    v.set_clock(move || time_ms);
    let out = v
        .apply_bytes(&mf_format::encode(&chain.batch), Mode::Strict)
        .map_err(|e| store_err(format!("the validator refused the batch: {e}")))?;
    let mut checks = HeaderChecks::new(spec_at(h.number, h.timestamp)?, block.transactions.len());
    for ((r, tx), t) in out
        .receipts
        .iter()
        .zip(&chain.batch.txs)
        .zip(&block.transactions)
    {
        let success = match r.status {
            Status::Accepted => true,
            Status::Failed => false,
            Status::Rejected(reason) => {
                return Err(store_err(format!(
                    "transaction {} refused: {reason}",
                    tx_id_hex(tx)
                )));
            }
        };
        let logs: Vec<EthLog> = r
            .logs
            .iter()
            .map(|l| EthLog::new_unchecked(l.address, l.topics.clone(), l.data.clone().into()))
            .collect();
        checks.push(&t.envelope, success, r.gas_used, logs);
    }
    Ok(checks.report(h))
}

fn tx_id_hex(tx: &Transaction) -> String {
    format!("{:#x}", mf_format::tx_id(&tx.body))
}
