//! Ethereum's block, transaction, receipt, log and fee methods (`docs/RPC.md`), answered
//! from the block store ([`crate::store::blocks`]) in alloy's RPC shapes
//! (`alloy-rpc-types-eth`), the shapes geth and anvil answer and cast, web3.py and viem read.
//!
//! A block's `number` is its height; its `stateRoot`, `transactionsRoot` and
//! `receiptsRoot` are the protocol's own roots (the LtHash state hash, the Merkle roots of
//! the transaction ids and of the receipts), not Ethereum's tries; `gasLimit` is the chain's
//! batch gas limit (the most gas a batch's transactions may declare in all, so `gasUsed`
//! never exceeds it); `miner` the chain's beneficiary; `mixHash` its `PREVRANDAO` constant;
//! `baseFeePerGas` the chain's constant base fee (from London on). A transaction carrying
//! an Ethereum authorisation is answered as the signed Ethereum transaction it is; a native
//! one (ed25519 signers) is synthesised from its call with a zero signature and its protocol
//! id as hash (`docs/RPC.md`).
//!
//! Everything a caller sizes is bounded: [`MAX_LOG_BLOCKS`], [`MAX_LOGS`],
//! [`MAX_FEE_HISTORY_BLOCKS`], [`MAX_REWARD_PERCENTILES`] (`-32005` with the limit named
//! in `data`).

use super::params::{hex_u64, max_params, opt_param, param};
use super::transport::{RpcError, RpcResult};
use crate::service::Shared;
use crate::store::blocks::logs_bloom;
use crate::store::{BlockReader, Head, StoredBlock};
use alloy_consensus::transaction::{Recovered, TransactionInfo};
use alloy_consensus::{
    Eip658Value, ReceiptEnvelope, ReceiptWithBloom, Signed, TxEip1559, TxEip2930, TxEip4844,
    TxEip4844Variant, TxEnvelope, TxLegacy,
};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{B64, B256, Bytes, LogData, Signature, TxKind, U64, U256};
use alloy_rpc_types_eth::{
    Block, BlockId, BlockNumberOrTag, BlockTransactions, FeeHistory, Filter, FilterBlockOption,
    Header as RpcHeader, Log as RpcLog, Transaction as RpcTransaction, TransactionReceipt,
};
use mf_format::{ChainRules, FeeKind, Transaction};
use mf_movegen::rpc::codes;
use serde_json::{Value as Json, json};

/// Most blocks one `eth_getLogs` scans (`toBlock - fromBlock + 1`).
pub const MAX_LOG_BLOCKS: u64 = 10_000;
/// Most logs one `eth_getLogs` answers.
pub const MAX_LOGS: usize = 10_000;
/// Most addresses, and most topics in each position, of one log filter (each is tested
/// against every block's bloom).
pub const MAX_FILTER_VALUES: usize = 1024;
/// Most blocks one `eth_feeHistory` covers (geth's limit).
pub const MAX_FEE_HISTORY_BLOCKS: u64 = 1024;
/// Most reward percentiles one `eth_feeHistory` asks for.
pub const MAX_REWARD_PERCENTILES: usize = 100;
/// Recent blocks whose tips `eth_maxPriorityFeePerGas` reads (geth's oracle: 20).
const TIP_BLOCKS: u64 = 20;
/// The percentile of those tips it suggests (geth's oracle: 60).
const TIP_PERCENTILE: f64 = 60.0;

/// The methods of this module.
pub(super) const METHODS: &[&str] = &[
    "eth_getBlockByNumber",
    "eth_getBlockByHash",
    "eth_getBlockTransactionCountByNumber",
    "eth_getBlockTransactionCountByHash",
    "eth_getTransactionByBlockNumberAndIndex",
    "eth_getTransactionByBlockHashAndIndex",
    "eth_getBlockReceipts",
    "eth_getTransactionByHash",
    "eth_getTransactionReceipt",
    "eth_getLogs",
    "eth_feeHistory",
    "eth_gasPrice",
    "eth_maxPriorityFeePerGas",
    "eth_blobBaseFee",
];

fn internal(e: impl std::fmt::Display) -> RpcError {
    RpcError::internal(e)
}

fn limit(what: &str, name: &str, max: u64, message: String) -> RpcError {
    RpcError {
        code: codes::LIMIT_EXCEEDED,
        message,
        data: Some(json!({"limit": name, "max": max, "what": what})),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> RpcResult {
    serde_json::to_value(v).map_err(internal)
}

/// A read of the block store with the chain's rules and the head.
struct View<'a> {
    r: BlockReader<'a>,
    rules: ChainRules,
    head: Head,
}

impl<'a> View<'a> {
    fn open(s: &'a Shared) -> Result<View<'a>, RpcError> {
        let r = s.store.block_reader().map_err(internal)?;
        let head = r.head().map_err(internal)?.ok_or_else(|| {
            RpcError::new(
                codes::RESOURCE_UNAVAILABLE,
                "the coordinator has not loaded the validator's genesis yet; retry shortly",
            )
        })?;
        let rules = s.store.rules().map_err(internal)?;
        Ok(View { r, rules, head })
    }

    /// The height a block number or tag names (`None`: above the head).
    fn height(&self, tag: BlockNumberOrTag) -> Option<u64> {
        match tag {
            BlockNumberOrTag::Latest
            | BlockNumberOrTag::Pending
            | BlockNumberOrTag::Safe
            | BlockNumberOrTag::Finalized => Some(self.head.height),
            BlockNumberOrTag::Earliest => Some(0),
            BlockNumberOrTag::Number(n) => (n <= self.head.height).then_some(n),
        }
    }

    fn block(&self, height: u64) -> Result<Option<StoredBlock>, RpcError> {
        self.r.block(height).map_err(internal)
    }

    fn block_by_hash(&self, hash: &B256) -> Result<Option<StoredBlock>, RpcError> {
        match self.r.height_of(hash).map_err(internal)? {
            Some(h) => self.block(h),
            None => Ok(None),
        }
    }

    fn block_by_tag(&self, tag: BlockNumberOrTag) -> Result<Option<StoredBlock>, RpcError> {
        match self.height(tag) {
            Some(h) => self.block(h),
            None => Ok(None),
        }
    }

    fn block_by_id(&self, id: BlockId) -> Result<Option<StoredBlock>, RpcError> {
        match id {
            BlockId::Hash(h) => self.block_by_hash(&h.block_hash),
            BlockId::Number(n) => self.block_by_tag(n),
        }
    }

    /// The base fee of a block: the chain's constant from London on.
    fn base_fee(&self, b: &StoredBlock) -> Option<u64> {
        let h = &b.header;
        self.rules
            .london_at(self.rules.number_at(h.height), h.time_ms / 1000)
            .then_some(self.rules.base_fee)
    }

    fn header(&self, b: &StoredBlock) -> RpcHeader {
        let h = &b.header;
        let inner = alloy_consensus::Header {
            parent_hash: h.parent,
            ommers_hash: alloy_consensus::EMPTY_OMMER_ROOT_HASH,
            beneficiary: self.rules.beneficiary,
            state_root: h.state_hash,
            transactions_root: h.tx_root,
            receipts_root: h.receipts_root,
            logs_bloom: b.bloom,
            difficulty: U256::ZERO,
            number: h.height,
            gas_limit: self.rules.batch_gas_limit,
            gas_used: b.gas_used,
            timestamp: h.time_ms / 1000,
            extra_data: Bytes::new(),
            mix_hash: self.rules.prevrandao,
            nonce: B64::ZERO,
            base_fee_per_gas: self.base_fee(b),
            withdrawals_root: None,
            blob_gas_used: None,
            excess_blob_gas: None,
            parent_beacon_block_root: None,
            requests_hash: None,
            block_access_list_hash: None,
            slot_number: None,
        };
        RpcHeader {
            hash: b.hash,
            inner,
            total_difficulty: None,
            size: Some(U256::from(b.size)),
        }
    }

    /// The transaction at `index` of block `b` in RPC form (`tx`: the stored transaction).
    fn included_tx(
        &self,
        b: &StoredBlock,
        index: usize,
        tx: &Transaction,
    ) -> Result<RpcTransaction, RpcError> {
        let hash = b
            .txs
            .get(index)
            .map(|t| t.hash)
            .ok_or_else(|| internal("a block's transaction has no summary"))?;
        rpc_tx(
            tx,
            hash,
            TransactionInfo {
                hash: Some(hash),
                index: Some(index as u64),
                block_hash: Some(b.hash),
                block_number: Some(b.header.height),
                block_timestamp: Some(b.header.time_ms / 1000),
                base_fee: self.base_fee(b),
            },
        )
    }

    fn block_json(&self, b: &StoredBlock, full: bool) -> RpcResult {
        let txs = if full {
            let txs = self.r.txs(b.header.height).map_err(internal)?;
            let mut out = Vec::with_capacity(txs.len());
            for (i, tx) in txs.iter().enumerate() {
                out.push(self.included_tx(b, i, tx)?);
            }
            BlockTransactions::Full(out)
        } else {
            BlockTransactions::Hashes(b.txs.iter().map(|t| t.hash).collect())
        };
        let block: Block<RpcTransaction, RpcHeader> = Block {
            header: self.header(b),
            uncles: Vec::new(),
            transactions: txs,
            withdrawals: None,
        };
        to_json(&block)
    }

    fn tx_at(&self, b: &StoredBlock, index: u64) -> RpcResult {
        let Ok(i) = u32::try_from(index) else {
            return Ok(Json::Null);
        };
        match self.r.tx(b.header.height, i).map_err(internal)? {
            Some(tx) => to_json(&self.included_tx(b, i as usize, &tx)?),
            None => Ok(Json::Null),
        }
    }

    /// The logs of block `b` in RPC form, block-wide log indices, each with its transaction
    /// index: per transaction, its logs.
    fn logs(&self, b: &StoredBlock) -> Vec<Vec<RpcLog>> {
        let mut log_index = 0u64;
        let ts = b.header.time_ms / 1000;
        b.txs
            .iter()
            .enumerate()
            .map(|(i, t)| {
                t.receipt
                    .logs
                    .iter()
                    .map(|l| {
                        let li = log_index;
                        log_index += 1;
                        RpcLog {
                            inner: alloy_primitives::Log {
                                address: l.address,
                                data: LogData::new_unchecked(
                                    l.topics.clone(),
                                    Bytes::copy_from_slice(&l.data),
                                ),
                            },
                            block_hash: Some(b.hash),
                            block_number: Some(b.header.height),
                            block_timestamp: Some(ts),
                            transaction_hash: Some(t.hash),
                            transaction_index: Some(i as u64),
                            log_index: Some(li),
                            removed: false,
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// The receipts of block `b`, in order.
    fn receipts(&self, b: &StoredBlock) -> Vec<TransactionReceipt> {
        let base_fee = self.base_fee(b).unwrap_or(0);
        let mut cumulative = 0u64;
        self.logs(b)
            .into_iter()
            .zip(&b.txs)
            .enumerate()
            .map(|(i, (logs, t))| {
                cumulative = cumulative.saturating_add(t.receipt.gas_used);
                let receipt = alloy_consensus::Receipt {
                    status: Eip658Value::Eip658(t.receipt.status == mf_format::Status::Accepted),
                    cumulative_gas_used: cumulative,
                    logs,
                };
                let with_bloom = ReceiptWithBloom {
                    receipt,
                    logs_bloom: logs_bloom(&t.receipt.logs),
                };
                TransactionReceipt {
                    inner: match t.fee.kind {
                        FeeKind::Legacy => ReceiptEnvelope::Legacy(with_bloom),
                        FeeKind::AccessList => ReceiptEnvelope::Eip2930(with_bloom),
                        FeeKind::Dynamic => ReceiptEnvelope::Eip1559(with_bloom),
                        FeeKind::Blob => ReceiptEnvelope::Eip4844(with_bloom),
                    },
                    transaction_hash: t.hash,
                    transaction_index: Some(i as u64),
                    block_hash: Some(b.hash),
                    block_number: Some(b.header.height),
                    gas_used: t.receipt.gas_used,
                    effective_gas_price: t.fee.effective_price(base_fee),
                    // A blob call's blob gas, at the chain's blob base fee (PROTOCOL.md
                    // §6.3); absent for the other kinds, as Ethereum's receipts.
                    blob_gas_used: (t.fee.kind == FeeKind::Blob).then(|| {
                        u64::from(t.blobs).saturating_mul(mf_format::limits::GAS_PER_BLOB)
                    }),
                    blob_gas_price: (t.fee.kind == FeeKind::Blob).then(|| {
                        self.rules.blob_base_fee_at(
                            self.rules.number_at(b.header.height),
                            b.header.time_ms / 1000,
                        )
                    }),
                    from: t.from,
                    to: t.to,
                    contract_address: t.to.is_none().then(|| t.from.create(t.nonce)),
                }
            })
            .collect()
    }

    /// The effective tips (price above the base fee) of a block's transactions sent by
    /// someone (not the fee credit), with their gas used.
    fn tips(&self, b: &StoredBlock) -> Vec<(u128, u64)> {
        let base_fee = self.base_fee(b).unwrap_or(0);
        b.txs
            .iter()
            .filter(|t| t.from != mf_format::SYSTEM_SENDER)
            .map(|t| {
                let tip = t
                    .fee
                    .effective_price(base_fee)
                    .saturating_sub(base_fee as u128);
                (tip, t.receipt.gas_used)
            })
            .collect()
    }

    /// The next block's base fee.
    fn next_base_fee(&self) -> u128 {
        let next = self.head.height + 1;
        if self
            .rules
            .london_at(self.rules.number_at(next), super::methods::now_s())
        {
            self.rules.base_fee as u128
        } else {
            0
        }
    }

    /// The suggested priority fee: the 60th percentile of the tips paid in the last 20
    /// blocks, 0 when they hold no transaction (the coordinator orders by arrival, not by
    /// tip, and the base fee is a constant: no tip is needed to land).
    fn suggested_tip(&self) -> Result<u128, RpcError> {
        let mut tips = Vec::new();
        let from = self.head.height.saturating_sub(TIP_BLOCKS - 1);
        for h in from..=self.head.height {
            if let Some(b) = self.block(h)? {
                tips.extend(self.tips(&b).into_iter().map(|(t, _)| t));
            }
        }
        if tips.is_empty() {
            return Ok(0);
        }
        tips.sort_unstable();
        let i = ((tips.len() - 1) as f64 * TIP_PERCENTILE / 100.0) as usize;
        Ok(tips[i.min(tips.len() - 1)])
    }
}

/// The signed Ethereum transaction a transaction carries (its envelope decoded, type and
/// signature kept), or, for a native one, an Ethereum transaction of its fee kind
/// synthesised from its call with a zero signature and `hash` (its protocol id).
fn envelope_of(tx: &Transaction, hash: B256) -> Result<TxEnvelope, RpcError> {
    if let Some(e) = &tx.eth {
        let mut rest = e.envelope.as_slice();
        return TxEnvelope::decode_2718(&mut rest).map_err(internal);
    }
    let c = &tx.body.call;
    let to = match c.to {
        Some(a) => TxKind::Call(a),
        None => TxKind::Create,
    };
    let nonce = mf_format::eth::declared_nonce(&tx.body).unwrap_or(0);
    let input = Bytes::copy_from_slice(&c.input);
    let sig = Signature::new(U256::ZERO, U256::ZERO, false);
    let access_list = mf_format::eth::alloy_access_list(&c.access_list);
    Ok(match c.fee.kind {
        FeeKind::Legacy => TxEnvelope::Legacy(Signed::new_unchecked(
            TxLegacy {
                chain_id: Some(tx.body.chain_id),
                nonce,
                gas_price: c.fee.max_fee_per_gas,
                gas_limit: c.gas_limit,
                to,
                value: c.value,
                input,
            },
            sig,
            hash,
        )),
        FeeKind::AccessList => TxEnvelope::Eip2930(Signed::new_unchecked(
            TxEip2930 {
                chain_id: tx.body.chain_id,
                nonce,
                gas_price: c.fee.max_fee_per_gas,
                gas_limit: c.gas_limit,
                to,
                value: c.value,
                access_list,
                input,
            },
            sig,
            hash,
        )),
        FeeKind::Dynamic => TxEnvelope::Eip1559(Signed::new_unchecked(
            TxEip1559 {
                chain_id: tx.body.chain_id,
                nonce,
                gas_limit: c.gas_limit,
                max_fee_per_gas: c.fee.max_fee_per_gas,
                max_priority_fee_per_gas: c.fee.max_priority_fee_per_gas,
                to,
                value: c.value,
                access_list,
                input,
            },
            sig,
            hash,
        )),
        FeeKind::Blob => TxEnvelope::Eip4844(Signed::new_unchecked(
            TxEip4844Variant::TxEip4844(TxEip4844 {
                chain_id: tx.body.chain_id,
                nonce,
                gas_limit: c.gas_limit,
                max_fee_per_gas: c.fee.max_fee_per_gas,
                max_priority_fee_per_gas: c.fee.max_priority_fee_per_gas,
                to: c.to.unwrap_or_default(),
                value: c.value,
                access_list,
                blob_versioned_hashes: c
                    .blob
                    .as_ref()
                    .map(|b| b.versioned_hashes.clone())
                    .unwrap_or_default(),
                max_fee_per_blob_gas: c.blob.as_ref().map_or(0, |b| b.max_fee_per_blob_gas),
                input,
            }),
            sig,
            hash,
        )),
    })
}

/// A transaction in RPC form. `from` is `call.from`: for an Ethereum authorisation the
/// recovered signer, which intake and the validator checked it equals.
fn rpc_tx(tx: &Transaction, hash: B256, info: TransactionInfo) -> Result<RpcTransaction, RpcError> {
    let env = envelope_of(tx, hash)?;
    Ok(RpcTransaction::from_transaction(
        Recovered::new_unchecked(env, tx.body.call.from),
        info,
    ))
}

/// A block number or tag parameter.
fn tag_param(params: &[Json], i: usize) -> Result<BlockNumberOrTag, RpcError> {
    Ok(opt_param::<BlockNumberOrTag>(params, i, "block number or tag")?.unwrap_or_default())
}

/// A quantity given as a hex string or a JSON number.
fn quantity(params: &[Json], i: usize, name: &str) -> Result<u64, RpcError> {
    match params.get(i) {
        Some(Json::Number(n)) => n
            .as_u64()
            .ok_or_else(|| RpcError::params(format!("parameter {i} ({name}): not a u64"))),
        _ => Ok(param::<U64>(params, i, name)?.saturating_to()),
    }
}

/// Runs one method of this module (see [`METHODS`]).
pub(super) fn call(s: &Shared, method: &str, params: &[Json]) -> RpcResult {
    let v = View::open(s)?;
    match method {
        "eth_getBlockByNumber" | "eth_getBlockByHash" => {
            max_params(params, 2)?;
            let full = opt_param::<bool>(params, 1, "full transactions")?.unwrap_or(false);
            let b = if method == "eth_getBlockByHash" {
                v.block_by_hash(&param(params, 0, "block hash")?)?
            } else {
                v.block_by_tag(tag_param(params, 0)?)?
            };
            match b {
                Some(b) => v.block_json(&b, full),
                None => Ok(Json::Null),
            }
        }
        "eth_getBlockTransactionCountByNumber" | "eth_getBlockTransactionCountByHash" => {
            max_params(params, 1)?;
            let b = if method.ends_with("ByHash") {
                v.block_by_hash(&param(params, 0, "block hash")?)?
            } else {
                v.block_by_tag(tag_param(params, 0)?)?
            };
            Ok(b.map_or(Json::Null, |b| hex_u64(b.txs.len() as u64)))
        }
        "eth_getTransactionByBlockNumberAndIndex" | "eth_getTransactionByBlockHashAndIndex" => {
            max_params(params, 2)?;
            let b = if method == "eth_getTransactionByBlockHashAndIndex" {
                v.block_by_hash(&param(params, 0, "block hash")?)?
            } else {
                v.block_by_tag(tag_param(params, 0)?)?
            };
            let index = quantity(params, 1, "index")?;
            match b {
                Some(b) => v.tx_at(&b, index),
                None => Ok(Json::Null),
            }
        }
        "eth_getBlockReceipts" => {
            max_params(params, 1)?;
            let id: BlockId = param(params, 0, "block")?;
            match v.block_by_id(id)? {
                Some(b) => to_json(&v.receipts(&b)),
                None => Ok(Json::Null),
            }
        }
        "eth_getTransactionByHash" => {
            max_params(params, 1)?;
            let hash: B256 = param(params, 0, "transaction hash")?;
            transaction_by_hash(&v, hash)
        }
        "eth_getTransactionReceipt" => {
            max_params(params, 1)?;
            let hash: B256 = param(params, 0, "transaction hash")?;
            let Some((height, index)) = included(&v, hash)? else {
                return Ok(Json::Null);
            };
            let Some(b) = v.block(height)? else {
                return Ok(Json::Null);
            };
            match v.receipts(&b).into_iter().nth(index as usize) {
                Some(r) => to_json(&r),
                None => Ok(Json::Null),
            }
        }
        "eth_getLogs" => {
            max_params(params, 1)?;
            let filter: Filter = param(params, 0, "filter")?;
            let (from, to) = match filter.block_option {
                FilterBlockOption::AtBlockHash(h) => {
                    let height = v.r.height_of(&h).map_err(internal)?.ok_or_else(|| {
                        RpcError::new(codes::SERVER_ERROR, format!("unknown block {h}"))
                    })?;
                    (height, height)
                }
                FilterBlockOption::Range {
                    from_block,
                    to_block,
                } => {
                    let end = |t: Option<BlockNumberOrTag>| match t.unwrap_or_default() {
                        BlockNumberOrTag::Number(n) => n,
                        BlockNumberOrTag::Earliest => 0,
                        _ => v.head.height,
                    };
                    let (from, to) = (end(from_block), end(to_block));
                    if from > to {
                        return Err(RpcError::params(format!(
                            "invalid block range params: fromBlock {from} is after toBlock {to}"
                        )));
                    }
                    (from, to)
                }
            };
            to_json(&logs_of(&v, &filter, from, to)?)
        }
        "eth_feeHistory" => {
            max_params(params, 3)?;
            fee_history(&v, params)
        }
        "eth_gasPrice" => {
            max_params(params, 0)?;
            Ok(json!(U256::from(v.next_base_fee() + v.suggested_tip()?)))
        }
        "eth_maxPriorityFeePerGas" => {
            max_params(params, 0)?;
            Ok(json!(U256::from(v.suggested_tip()?)))
        }
        // The chain's blob base fee (its constant excess blob gas under the next block's
        // fork): what a blob transaction pays per blob gas.
        "eth_blobBaseFee" => {
            max_params(params, 0)?;
            let next = v.rules.number_at(v.head.height + 1);
            Ok(json!(U256::from(
                v.rules.blob_base_fee_at(next, super::methods::now_s())
            )))
        }
        other => Err(RpcError::new(
            codes::METHOD_NOT_FOUND,
            format!("the method {other} does not exist / is not available"),
        )),
    }
}

/// Where the included transaction `hash` is: by its hash, or, for an intent id or the
/// Ethereum hash of an intent this coordinator took, where its accepted fill is.
fn included(v: &View<'_>, hash: B256) -> Result<Option<(u64, u32)>, RpcError> {
    if let Some(at) = v.r.tx_at(&hash).map_err(internal)? {
        return Ok(Some(at));
    }
    let Some(id) = v.r.intent_id(&hash).map_err(internal)? else {
        return Ok(None);
    };
    let Some((st, tx)) = v.r.intent(&id).map_err(internal)? else {
        return Ok(None);
    };
    if st.status != mf_movegen::rpc::IntentState::Accepted {
        return Ok(None);
    }
    let Some(filled) = st.tx_id else {
        return Ok(None);
    };
    // The fill's hash: the same Ethereum hash, or the filled transaction's id.
    let fill_hash = match &tx.eth {
        Some(e) => alloy_primitives::keccak256(&e.envelope),
        None => filled,
    };
    v.r.tx_at(&fill_hash).map_err(internal)
}

fn transaction_by_hash(v: &View<'_>, hash: B256) -> RpcResult {
    if let Some((height, index)) = included(v, hash)? {
        let Some(b) = v.block(height)? else {
            return Ok(Json::Null);
        };
        return v.tx_at(&b, index as u64);
    }
    // Pending: an intent taken and not final.
    let Some(id) = v.r.intent_id(&hash).map_err(internal)? else {
        return Ok(Json::Null);
    };
    let Some((st, tx)) = v.r.intent(&id).map_err(internal)? else {
        return Ok(Json::Null);
    };
    if st.status.is_final() {
        return Ok(Json::Null);
    }
    let hash = crate::store::blocks::tx_hash(&tx, &id);
    to_json(&rpc_tx(
        &tx,
        hash,
        TransactionInfo {
            hash: Some(hash),
            ..TransactionInfo::default()
        },
    )?)
}

/// The most values `filter` names in one position (its addresses, or one topic's
/// alternatives), which [`MAX_FILTER_VALUES`] bounds.
pub(super) fn filter_width(filter: &Filter) -> usize {
    filter
        .topics
        .iter()
        .map(|t| t.len())
        .chain([filter.address.len()])
        .max()
        .unwrap_or(0)
}

/// The logs of blocks `from..=to` (clamped to the head) that `filter`'s addresses and
/// topics match, in chain order; `-32005` when `from..=to` spans more than
/// [`MAX_LOG_BLOCKS`] blocks (above the head too), the answer is over [`MAX_LOGS`] logs, or
/// the filter names more than [`MAX_FILTER_VALUES`] addresses or topics in one position.
fn logs_of(v: &View<'_>, filter: &Filter, from: u64, to: u64) -> Result<Vec<RpcLog>, RpcError> {
    let widest = filter_width(filter);
    if widest > MAX_FILTER_VALUES {
        return Err(limit(
            "eth_getLogs filter",
            "max_filter_values",
            MAX_FILTER_VALUES as u64,
            format!(
                "a filter of {widest} addresses or topics in one position is above the limit \
                 of {MAX_FILTER_VALUES}"
            ),
        ));
    }
    // The range asked for is what is bounded (not what is left of it below the head).
    if to.saturating_sub(from) >= MAX_LOG_BLOCKS {
        return Err(limit(
            "eth_getLogs block range",
            "max_log_blocks",
            MAX_LOG_BLOCKS,
            format!(
                "query exceeds max block range {MAX_LOG_BLOCKS}: blocks {from} to {to} are {} \
                 blocks; split the range",
                (to - from).saturating_add(1)
            ),
        ));
    }
    let to = to.min(v.head.height);
    if from > to {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for h in from..=to {
        match v.r.bloom(h).map_err(internal)? {
            Some(bloom) if filter.matches_bloom(bloom) => {}
            _ => continue,
        }
        let Some(b) = v.block(h)? else { continue };
        for log in v.logs(&b).into_iter().flatten() {
            if filter.matches(&log.inner) {
                if out.len() == MAX_LOGS {
                    return Err(limit(
                        "eth_getLogs results",
                        "max_logs",
                        MAX_LOGS as u64,
                        format!(
                            "query returned more than {MAX_LOGS} results (blocks {from} to \
                             {to}); narrow the range or the filter"
                        ),
                    ));
                }
                out.push(log);
            }
        }
    }
    Ok(out)
}

fn fee_history(v: &View<'_>, params: &[Json]) -> RpcResult {
    let count = quantity(params, 0, "block count")?;
    if count > MAX_FEE_HISTORY_BLOCKS {
        return Err(limit(
            "eth_feeHistory block count",
            "max_fee_history_blocks",
            MAX_FEE_HISTORY_BLOCKS,
            format!("block count {count} is above the limit of {MAX_FEE_HISTORY_BLOCKS}"),
        ));
    }
    let newest_tag = tag_param(params, 1)?;
    let percentiles: Option<Vec<f64>> = opt_param(params, 2, "reward percentiles")?;
    if let Some(p) = &percentiles {
        if p.len() > MAX_REWARD_PERCENTILES {
            return Err(limit(
                "eth_feeHistory reward percentiles",
                "max_reward_percentiles",
                MAX_REWARD_PERCENTILES as u64,
                format!(
                    "{} reward percentiles is above the limit of {MAX_REWARD_PERCENTILES}",
                    p.len()
                ),
            ));
        }
        if p.iter().any(|x| !(0.0..=100.0).contains(x)) || p.windows(2).any(|w| w[0] > w[1]) {
            return Err(RpcError::params(
                "reward percentiles must be within [0, 100] and in non-decreasing order",
            ));
        }
    }
    let Some(newest) = v.height(newest_tag) else {
        return Err(RpcError::new(
            codes::SERVER_ERROR,
            format!(
                "request beyond head block: requested {newest_tag}, head {}",
                v.head.height
            ),
        ));
    };
    if count == 0 {
        return to_json(&FeeHistory::default());
    }
    let oldest = newest.saturating_sub(count - 1);
    let mut hist = FeeHistory {
        oldest_block: oldest,
        reward: percentiles.as_ref().map(|_| Vec::new()),
        ..FeeHistory::default()
    };
    let gas_limit = v.rules.batch_gas_limit.max(1);
    for h in oldest..=newest {
        let Some(b) = v.block(h)? else {
            return Err(RpcError::new(
                codes::RESOURCE_UNAVAILABLE,
                format!("block {h} is not kept by this coordinator"),
            ));
        };
        hist.base_fee_per_gas
            .push(v.base_fee(&b).unwrap_or(0) as u128);
        hist.gas_used_ratio
            .push(b.gas_used as f64 / gas_limit as f64);
        if let (Some(p), Some(rewards)) = (&percentiles, hist.reward.as_mut()) {
            rewards.push(block_rewards(v.tips(&b), b.gas_used, p));
        }
    }
    let next = match v.block(newest + 1)? {
        Some(b) => v.base_fee(&b).unwrap_or(0) as u128,
        None => v.next_base_fee(),
    };
    hist.base_fee_per_gas.push(next);
    to_json(&hist)
}

/// geth's rewards of one block: the tips sorted ascending, each weighted by its gas used;
/// the tip at which the cumulative gas reaches each percentile of the block's gas used.
fn block_rewards(mut tips: Vec<(u128, u64)>, gas_used: u64, percentiles: &[f64]) -> Vec<u128> {
    if tips.is_empty() {
        return vec![0; percentiles.len()];
    }
    tips.sort_unstable_by_key(|(t, _)| *t);
    let mut out = Vec::with_capacity(percentiles.len());
    let mut i = 0;
    let mut sum = tips[0].1;
    for p in percentiles {
        let threshold = (gas_used as f64 * p / 100.0) as u64;
        while sum < threshold && i < tips.len() - 1 {
            i += 1;
            sum = sum.saturating_add(tips[i].1);
        }
        out.push(tips[i].0);
    }
    out
}

// ----- for subscriptions and filters -----

/// The alloy RPC header (`newHeads`' shape) of the block at `height`, as JSON; `None` when
/// this coordinator keeps no block there.
pub(crate) fn header_json(s: &Shared, height: u64) -> Result<Option<Json>, RpcError> {
    let v = View::open(s)?;
    match v.block(height)? {
        Some(b) => to_json(&v.header(&b)).map(Some),
        None => Ok(None),
    }
}

/// The logs of heights `from..=to` (clamped to the head) that `filter`'s addresses and
/// topics match (its block option is not read: the range is the caller's), in chain order;
/// `-32005` above [`MAX_LOG_BLOCKS`] blocks, [`MAX_LOGS`] logs or [`MAX_FILTER_VALUES`].
pub(crate) fn logs(
    s: &Shared,
    filter: &Filter,
    from: u64,
    to: u64,
) -> Result<Vec<RpcLog>, RpcError> {
    let v = View::open(s)?;
    logs_of(&v, filter, from, to)
}

#[cfg(test)]
mod tests {
    use super::block_rewards;

    /// geth's rewards: tips sorted ascending, weighted by gas used, the tip at which each
    /// percentile of the block's gas is reached.
    #[test]
    fn rewards_follow_geth() {
        let tips = vec![(5, 50_000), (1, 21_000), (3, 29_000)];
        assert_eq!(
            block_rewards(tips, 100_000, &[0.0, 25.0, 50.0, 75.0, 100.0]),
            vec![1, 3, 3, 5, 5]
        );
        assert_eq!(block_rewards(Vec::new(), 0, &[10.0, 90.0]), vec![0, 0]);
        assert_eq!(block_rewards(vec![(7, 0)], 0, &[100.0]), vec![7]);
    }
}
