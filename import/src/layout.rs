//! A folder of mainnet blocks in the `ethereum-mainnet` layout, loaded into typed structs.
//!
//! ```text
//! <folder>/blocks/<N>/block.json      eth_getBlockByNumber(N, true)
//! <folder>/blocks/<N>/pre_state.json  the state at the end of block N-1 that block N reads
//! <folder>/bytecodes.json             code hash -> runtime code
//! <folder>/block_hashes.json          decimal block number -> hash (BLOCKHASH ancestors)
//! ```
//!
//! [`Folder::open`] reads the shared files and lists the blocks (ascending number);
//! [`Folder::load_block`] reads one block and its pre-state, so a long folder is never held in
//! memory at once. Every transaction is rebuilt as an alloy [`TxEnvelope`] from its JSON fields
//! and its EIP-2718 encoding is checked against the JSON's `hash`, which also checks that the
//! signature fields were read as signed.

use crate::error::{ImportError, TxError};
use alloy_consensus::{
    SignableTransaction, Signed, TxEip1559, TxEip2930, TxEip4844, TxEip4844Variant, TxEnvelope,
    TxLegacy,
};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_primitives::{Address, B256, Bloom, Bytes, Signature, TxKind, U64, U128, U256};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// A folder in the layout, with its shared files loaded and its blocks listed.
#[derive(Debug, Clone)]
pub struct Folder {
    root: PathBuf,
    /// The block numbers that have a `blocks/<N>/` directory, ascending.
    pub numbers: Vec<u64>,
    /// Contract code by its keccak-256 hash (`bytecodes.json`).
    pub bytecodes: HashMap<B256, Bytes>,
    /// Ancestor hashes by number (`block_hashes.json`).
    pub block_hashes: BTreeMap<u64, B256>,
}

/// One block of the folder: its header, transactions and pre-state.
#[derive(Debug, Clone)]
pub struct LoadedBlock {
    /// The header fields the replay needs and checks.
    pub header: Header,
    /// The signed transactions in block order.
    pub transactions: Vec<Transaction>,
    /// The state at the end of the previous block, restricted to what this block reads.
    pub pre_state: PreState,
}

/// The header fields of a block (the JSON's; the rest are ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// Parent block hash (`BLOCKHASH(number - 1)`).
    pub parent_hash: B256,
    /// Fee recipient (`COINBASE`).
    pub miner: Address,
    /// Unix time in seconds.
    pub timestamp: u64,
    /// Block gas limit.
    pub gas_limit: u64,
    /// Gas used by all transactions (checked).
    pub gas_used: u64,
    /// Base fee per gas, from London on.
    pub base_fee_per_gas: Option<u64>,
    /// Proof-of-work difficulty (zero after the Merge).
    pub difficulty: U256,
    /// Mix hash: `PREVRANDAO` after the Merge.
    pub mix_hash: Option<B256>,
    /// OR of the receipts' blooms (checked).
    pub logs_bloom: Bloom,
    /// Root of the receipts trie (checked from Byzantium on).
    pub receipts_root: B256,
    /// Excess blob gas, from Cancun on.
    pub excess_blob_gas: Option<u64>,
}

/// A signed transaction of a block, with what the JSON says of it.
#[derive(Debug, Clone)]
pub struct Transaction {
    /// The signed EIP-2718 transaction, rebuilt from the JSON (its hash checked).
    pub envelope: TxEnvelope,
    /// The sender the JSON names (`from`); [`crate::recover`] checks it.
    pub from: Address,
}

impl Transaction {
    /// The transaction hash.
    pub fn hash(&self) -> B256 {
        *self.envelope.tx_hash()
    }
}

/// An account of the pre-state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreAccount {
    /// Balance in wei.
    pub balance: U256,
    /// Nonce.
    pub nonce: u64,
    /// Hash of the account's code, if it has code (in [`Folder::bytecodes`]).
    pub code_hash: Option<B256>,
    /// Non-zero storage slots read by the block (an absent slot is zero).
    pub storage: HashMap<U256, U256>,
}

/// The pre-state of a block: every account it reads (an absent account did not exist).
pub type PreState = HashMap<Address, PreAccount>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockJson {
    number: U64,
    hash: B256,
    parent_hash: B256,
    miner: Address,
    timestamp: U64,
    gas_limit: U64,
    gas_used: U64,
    #[serde(default)]
    base_fee_per_gas: Option<U64>,
    difficulty: U256,
    #[serde(default)]
    mix_hash: Option<B256>,
    logs_bloom: Bloom,
    receipts_root: B256,
    #[serde(default)]
    excess_blob_gas: Option<U64>,
    transactions: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TxJson {
    hash: B256,
    #[serde(rename = "type", default)]
    tx_type: Option<U64>,
    from: Address,
    nonce: U64,
    gas: U64,
    #[serde(default)]
    gas_price: Option<U128>,
    #[serde(default)]
    max_fee_per_gas: Option<U128>,
    #[serde(default)]
    max_priority_fee_per_gas: Option<U128>,
    #[serde(default)]
    max_fee_per_blob_gas: Option<U128>,
    #[serde(default)]
    to: Option<Address>,
    value: U256,
    input: Bytes,
    #[serde(default)]
    access_list: Option<Vec<AccessListJson>>,
    #[serde(default)]
    blob_versioned_hashes: Option<Vec<B256>>,
    #[serde(default)]
    chain_id: Option<U64>,
    #[serde(default)]
    v: Option<U256>,
    r: U256,
    s: U256,
    #[serde(default)]
    y_parity: Option<U64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessListJson {
    address: Address,
    storage_keys: Vec<B256>,
}

#[derive(Deserialize)]
struct PreAccountJson {
    balance: U256,
    nonce: u64,
    #[serde(default)]
    code_hash: Option<B256>,
    #[serde(default)]
    storage: HashMap<U256, U256>,
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, ImportError> {
    let bytes = std::fs::read(path).map_err(|error| ImportError::Io {
        path: path.to_owned(),
        error,
    })?;
    serde_json::from_slice(&bytes).map_err(|error| ImportError::Json {
        path: path.to_owned(),
        error,
    })
}

impl Folder {
    /// Opens a folder: reads `bytecodes.json` and `block_hashes.json` and lists `blocks/<N>/`.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, ImportError> {
        let root = root.as_ref().to_owned();
        let blocks_dir = root.join("blocks");
        let entries = std::fs::read_dir(&blocks_dir).map_err(|error| ImportError::Io {
            path: blocks_dir.clone(),
            error,
        })?;
        let mut numbers = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|error| ImportError::Io {
                path: blocks_dir.clone(),
                error,
            })?;
            let name = entry.file_name();
            let Some(number) = name.to_str().and_then(|s| s.parse::<u64>().ok()) else {
                continue;
            };
            if entry.path().is_dir() {
                numbers.push(number);
            }
        }
        numbers.sort_unstable();
        let bytecodes: HashMap<B256, Bytes> = read_json(&root.join("bytecodes.json"))?;
        let raw_hashes: HashMap<String, B256> = read_json(&root.join("block_hashes.json"))?;
        let mut block_hashes = BTreeMap::new();
        for (key, hash) in raw_hashes {
            let number = key
                .parse::<u64>()
                .map_err(|_| ImportError::BlockHashKey { key: key.clone() })?;
            block_hashes.insert(number, hash);
        }
        Ok(Self {
            root,
            numbers,
            bytecodes,
            block_hashes,
        })
    }

    /// The folder's path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Reads block `number`'s `block.json` and `pre_state.json`.
    pub fn load_block(&self, number: u64) -> Result<LoadedBlock, ImportError> {
        let dir = self.root.join("blocks").join(number.to_string());
        let block: BlockJson = read_json(&dir.join("block.json"))?;
        let header = Header {
            number: block.number.to(),
            hash: block.hash,
            parent_hash: block.parent_hash,
            miner: block.miner,
            timestamp: block.timestamp.to(),
            gas_limit: block.gas_limit.to(),
            gas_used: block.gas_used.to(),
            base_fee_per_gas: block.base_fee_per_gas.map(|v| v.to()),
            difficulty: block.difficulty,
            mix_hash: block.mix_hash,
            logs_bloom: block.logs_bloom,
            receipts_root: block.receipts_root,
            excess_blob_gas: block.excess_blob_gas.map(|v| v.to()),
        };
        if header.number != number {
            return Err(ImportError::NumberMismatch {
                dir: number,
                json: header.number,
            });
        }
        let transactions = block
            .transactions
            .into_iter()
            .enumerate()
            .map(|(index, value)| {
                parse_transaction(value).map_err(|error| ImportError::Tx {
                    block: number,
                    index,
                    error,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let raw: HashMap<Address, PreAccountJson> = read_json(&dir.join("pre_state.json"))?;
        let pre_state = raw
            .into_iter()
            .map(|(address, a)| {
                (
                    address,
                    PreAccount {
                        balance: a.balance,
                        nonce: a.nonce,
                        code_hash: a.code_hash,
                        storage: a.storage,
                    },
                )
            })
            .collect();
        Ok(LoadedBlock {
            header,
            transactions,
            pre_state,
        })
    }

    /// Every block of the folder in ascending order, loaded one at a time.
    pub fn blocks(&self) -> impl Iterator<Item = Result<LoadedBlock, ImportError>> + '_ {
        self.numbers.iter().map(|&n| self.load_block(n))
    }
}

fn access_list(json: Option<Vec<AccessListJson>>) -> AccessList {
    AccessList(
        json.unwrap_or_default()
            .into_iter()
            .map(|i| AccessListItem {
                address: i.address,
                storage_keys: i.storage_keys,
            })
            .collect(),
    )
}

fn need<T>(field: Option<T>, name: &'static str) -> Result<T, TxError> {
    field.ok_or(TxError::MissingField(name))
}

fn small<T: TryFrom<U256>>(v: U256, name: &'static str) -> Result<T, TxError> {
    T::try_from(v).map_err(|_| TxError::OutOfRange(name))
}

/// The y parity of a typed transaction: `yParity`, else `v` (which is the parity there).
fn typed_parity(tx: &TxJson) -> Result<bool, TxError> {
    let parity = match (tx.y_parity, tx.v) {
        (Some(p), _) => U256::from(p),
        (None, Some(v)) => v,
        (None, None) => return Err(TxError::MissingField("yParity")),
    };
    match u8::try_from(parity) {
        Ok(0) => Ok(false),
        Ok(1) => Ok(true),
        _ => Err(TxError::BadV(parity)),
    }
}

fn chain_id(tx: &TxJson) -> Result<u64, TxError> {
    Ok(need(tx.chain_id, "chainId")?.to())
}

/// Rebuilds one transaction from its RPC JSON and checks its hash.
fn parse_transaction(value: serde_json::Value) -> Result<Transaction, TxError> {
    let tx: TxJson = serde_json::from_value(value).map_err(TxError::Json)?;
    let tx_type = tx.tx_type.map_or(0, |t| t.to::<u64>());
    let to = tx.to.map_or(TxKind::Create, TxKind::Call);
    let nonce = tx.nonce.to::<u64>();
    let gas_limit = tx.gas.to::<u64>();
    let envelope = match tx_type {
        0 => {
            // v = 27 + parity before EIP-155, chain_id * 2 + 35 + parity after.
            let v = need(tx.v, "v")?;
            let (chain_id, parity) = match small::<u64>(v, "v")? {
                27 => (None, false),
                28 => (None, true),
                n @ 35.. => (Some((n - 35) / 2), (n - 35) % 2 == 1),
                _ => return Err(TxError::BadV(v)),
            };
            let body = TxLegacy {
                chain_id,
                nonce,
                gas_price: need(tx.gas_price, "gasPrice")?.to(),
                gas_limit,
                to,
                value: tx.value,
                input: tx.input.clone(),
            };
            TxEnvelope::Legacy(body.into_signed(Signature::new(tx.r, tx.s, parity)))
        }
        1 => {
            let sig = Signature::new(tx.r, tx.s, typed_parity(&tx)?);
            let body = TxEip2930 {
                chain_id: chain_id(&tx)?,
                nonce,
                gas_price: need(tx.gas_price, "gasPrice")?.to(),
                gas_limit,
                to,
                value: tx.value,
                access_list: access_list(tx.access_list),
                input: tx.input.clone(),
            };
            TxEnvelope::Eip2930(body.into_signed(sig))
        }
        2 => {
            let sig = Signature::new(tx.r, tx.s, typed_parity(&tx)?);
            let body = TxEip1559 {
                chain_id: chain_id(&tx)?,
                nonce,
                gas_limit,
                max_fee_per_gas: need(tx.max_fee_per_gas, "maxFeePerGas")?.to(),
                max_priority_fee_per_gas: need(
                    tx.max_priority_fee_per_gas,
                    "maxPriorityFeePerGas",
                )?
                .to(),
                to,
                value: tx.value,
                access_list: access_list(tx.access_list),
                input: tx.input.clone(),
            };
            TxEnvelope::Eip1559(body.into_signed(sig))
        }
        3 => {
            let sig = Signature::new(tx.r, tx.s, typed_parity(&tx)?);
            let body = TxEip4844 {
                chain_id: chain_id(&tx)?,
                nonce,
                gas_limit,
                max_fee_per_gas: need(tx.max_fee_per_gas, "maxFeePerGas")?.to(),
                max_priority_fee_per_gas: need(
                    tx.max_priority_fee_per_gas,
                    "maxPriorityFeePerGas",
                )?
                .to(),
                to: need(tx.to, "to")?,
                value: tx.value,
                access_list: access_list(tx.access_list),
                blob_versioned_hashes: need(tx.blob_versioned_hashes, "blobVersionedHashes")?,
                max_fee_per_blob_gas: need(tx.max_fee_per_blob_gas, "maxFeePerBlobGas")?.to(),
                input: tx.input.clone(),
            };
            let signed = body.into_signed(sig);
            let (body, sig, hash) = signed.into_parts();
            TxEnvelope::Eip4844(Signed::new_unchecked(
                TxEip4844Variant::TxEip4844(body),
                sig,
                hash,
            ))
        }
        other => return Err(TxError::UnsupportedType(other)),
    };
    // `into_signed` hashes the EIP-2718 encoding; recompute it from the envelope's own
    // encoding so the check does not depend on that.
    let computed = alloy_primitives::keccak256(envelope.encoded_2718());
    if computed != tx.hash {
        return Err(TxError::HashMismatch {
            expected: tx.hash,
            computed,
        });
    }
    Ok(Transaction {
        envelope,
        from: tx.from,
    })
}
