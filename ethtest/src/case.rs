//! Reading blockchain-test files (the `BlockchainTests` format of ethereum/tests) into
//! [`Case`]s: only what the runner uses, every field checked, nothing assumed about which
//! cases a file holds.

use crate::EthtestError;
use alloy_consensus::TxEnvelope;
use alloy_consensus::transaction::SignerRecoverable;
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, B256, U256, hex};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

/// One account of a `pre` or `postState` section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountState {
    /// Balance in wei.
    pub balance: U256,
    /// Nonce (a quantity: a test may hold one past `u64`).
    pub nonce: U256,
    /// Runtime code.
    pub code: Vec<u8>,
    /// Storage, zero words included when the file lists them.
    pub storage: BTreeMap<U256, U256>,
}

/// A transaction as the block carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EthTx {
    /// EIP-2718 type (0 legacy, 1 EIP-2930, 2 EIP-1559, 3 blob, 4 set-code).
    pub ty: u8,
    /// The signer (given by the file, or recovered from the raw envelope).
    pub sender: Address,
    /// Callee; `None` creates a contract.
    pub to: Option<Address>,
    /// Value sent.
    pub value: U256,
    /// Input data.
    pub data: Vec<u8>,
    /// Gas limit (a quantity: may exceed `u64` in a test of that refusal).
    pub gas_limit: U256,
    /// Nonce.
    pub nonce: U256,
    /// Chain id, when the transaction names one (EIP-155 or a typed transaction).
    pub chain_id: Option<U256>,
    /// Its access list (EIP-2930 and later types).
    pub access_list: Vec<(Address, Vec<B256>)>,
    /// `gasPrice` (legacy and EIP-2930).
    pub gas_price: Option<U256>,
    /// `maxFeePerGas` (EIP-1559 and later).
    pub max_fee_per_gas: Option<U256>,
    /// `maxPriorityFeePerGas` (EIP-1559 and later).
    pub max_priority_fee_per_gas: Option<U256>,
    /// `maxFeePerBlobGas` (EIP-4844).
    pub max_fee_per_blob_gas: Option<U256>,
    /// `blobVersionedHashes` (EIP-4844; empty for other types).
    pub blob_hashes: Vec<B256>,
}

/// One block of a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// Header number (`None` when the block could not be decoded at all).
    pub number: Option<u64>,
    /// Header gas limit (`None` when the block could not be decoded).
    pub gas_limit: Option<u64>,
    /// Header timestamp, in seconds.
    pub timestamp: u64,
    /// Transactions in block order: each decoded, or why it could not be.
    pub txs: Vec<Result<EthTx, String>>,
    /// The exception Ethereum raises on this block, if it is invalid.
    pub expect_exception: Option<String>,
    /// Withdrawals the block carries: each recipient and the wei it is credited (the gwei
    /// amount times 10^9), in block order.
    pub withdrawals: Vec<(Address, U256)>,
    /// Why a withdrawal of the block does not read (such a block cannot be valid).
    pub bad_withdrawal: Option<String>,
    /// Uncle headers the block carries.
    pub uncles: usize,
    /// The values the EVM reads about the block (`None` where the header is absent).
    pub env: BlockValues,
}

/// What a header says about its block's execution environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockValues {
    /// `baseFeePerGas` (London on).
    pub base_fee: Option<u64>,
    /// `coinbase`.
    pub coinbase: Option<Address>,
    /// `mixHash` (PREVRANDAO from Paris on).
    pub mix_hash: Option<B256>,
    /// `difficulty`.
    pub difficulty: Option<U256>,
    /// `gasUsed`.
    pub gas_used: Option<u64>,
    /// `gasLimit`.
    pub gas_limit: Option<u64>,
    /// `excessBlobGas` (Cancun on).
    pub excess_blob_gas: Option<u64>,
}

/// One blockchain test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The test's name (its key in the file).
    pub name: String,
    /// The fork it runs under (`network`).
    pub network: String,
    /// The state before the first block.
    pub pre: BTreeMap<Address, AccountState>,
    /// The blocks, in order.
    pub blocks: Vec<Block>,
    /// The state after the last valid block; `None` when the file gives only its hash.
    pub post: Option<BTreeMap<Address, AccountState>>,
    /// The genesis header's gas limit.
    pub genesis_gas_limit: Option<u64>,
    /// The genesis header's environment values.
    pub genesis_env: BlockValues,
}

/// The environment values of a header object (absent or unreadable fields are `None`).
fn block_values(h: &Map<String, Json>) -> BlockValues {
    BlockValues {
        base_fee: h
            .get("baseFeePerGas")
            .and_then(|v| small(v, "baseFeePerGas").ok()),
        coinbase: h.get("coinbase").and_then(|v| address(v, "coinbase").ok()),
        mix_hash: h
            .get("mixHash")
            .and_then(|v| text(v, "mixHash").ok())
            .and_then(|t| B256::from_str(t.trim()).ok()),
        difficulty: h
            .get("difficulty")
            .and_then(|v| quantity(v, "difficulty").ok()),
        gas_used: h.get("gasUsed").and_then(|v| small(v, "gasUsed").ok()),
        gas_limit: h.get("gasLimit").and_then(|v| small(v, "gasLimit").ok()),
        excess_blob_gas: h
            .get("excessBlobGas")
            .and_then(|v| small(v, "excessBlobGas").ok()),
    }
}

fn bad(what: &str, msg: impl std::fmt::Display) -> EthtestError {
    EthtestError::Case(format!("{what}: {msg}"))
}

fn field<'a>(obj: &'a Map<String, Json>, name: &str) -> Result<&'a Json, EthtestError> {
    obj.get(name).ok_or_else(|| bad(name, "missing"))
}

fn object<'a>(v: &'a Json, what: &str) -> Result<&'a Map<String, Json>, EthtestError> {
    v.as_object().ok_or_else(|| bad(what, "not an object"))
}

fn text<'a>(v: &'a Json, what: &str) -> Result<&'a str, EthtestError> {
    v.as_str().ok_or_else(|| bad(what, "not a string"))
}

/// A hex (`0x`) or decimal quantity.
pub(crate) fn quantity(v: &Json, what: &str) -> Result<U256, EthtestError> {
    match v {
        Json::String(s) => U256::from_str(s.trim()).map_err(|e| bad(what, format!("{s:?}: {e}"))),
        Json::Number(n) => n
            .as_u64()
            .map(U256::from)
            .ok_or_else(|| bad(what, format!("{n} is not a non-negative integer"))),
        _ => Err(bad(what, "not a quantity")),
    }
}

fn small(v: &Json, what: &str) -> Result<u64, EthtestError> {
    u64::try_from(quantity(v, what)?).map_err(|_| bad(what, "above 2^64 - 1"))
}

fn bytes(v: &Json, what: &str) -> Result<Vec<u8>, EthtestError> {
    hex::decode(text(v, what)?.trim()).map_err(|e| bad(what, e))
}

fn address(v: &Json, what: &str) -> Result<Address, EthtestError> {
    Address::from_str(text(v, what)?.trim()).map_err(|e| bad(what, e))
}

fn accounts(v: &Json, what: &str) -> Result<BTreeMap<Address, AccountState>, EthtestError> {
    let mut out = BTreeMap::new();
    for (addr, acc) in object(v, what)? {
        let a = Address::from_str(addr.trim()).map_err(|e| bad(what, format!("{addr}: {e}")))?;
        let acc = object(acc, addr)?;
        let mut storage = BTreeMap::new();
        if let Some(s) = acc.get("storage") {
            for (k, w) in object(s, "storage")? {
                let k = quantity(&Json::String(k.clone()), "storage key")?;
                storage.insert(k, quantity(w, "storage word")?);
            }
        }
        let state = AccountState {
            balance: acc
                .get("balance")
                .map(|b| quantity(b, "balance"))
                .transpose()?
                .unwrap_or_default(),
            nonce: acc
                .get("nonce")
                .map(|n| quantity(n, "nonce"))
                .transpose()?
                .unwrap_or_default(),
            code: acc
                .get("code")
                .map(|c| bytes(c, "code"))
                .transpose()?
                .unwrap_or_default(),
            storage,
        };
        if out.insert(a, state).is_some() {
            return Err(bad(what, format!("{a} is listed twice")));
        }
    }
    Ok(out)
}

/// The signer of a legacy transaction given only by its fields (some files leave out
/// `sender`): the transaction rebuilt from them (its chain id from `v`, EIP-155) and its
/// signature recovered.
fn legacy_signer(t: &Map<String, Json>) -> Result<Address, String> {
    let q = |name: &str| -> Result<U256, String> {
        quantity(field(t, name).map_err(|e| e.to_string())?, name).map_err(|e| e.to_string())
    };
    let small = |name: &str| -> Result<u64, String> {
        u64::try_from(q(name)?).map_err(|_| format!("{name} above 2^64 - 1"))
    };
    let v = small("v")?;
    let (chain_id, odd) = match v {
        27 | 28 => (None, v == 28),
        v if v >= 35 => (Some((v - 35) / 2), (v - 35) % 2 == 1),
        v => return Err(format!("v = {v} is neither 27/28 nor EIP-155")),
    };
    let to = match t.get("to").map(|v| text(v, "to")) {
        None => alloy_primitives::TxKind::Create,
        Some(Err(e)) => return Err(e.to_string()),
        Some(Ok(s)) if s.trim().is_empty() => alloy_primitives::TxKind::Create,
        Some(Ok(s)) => alloy_primitives::TxKind::Call(
            Address::from_str(s.trim()).map_err(|e| format!("to: {e}"))?,
        ),
    };
    let tx = alloy_consensus::TxLegacy {
        chain_id,
        nonce: small("nonce")?,
        gas_price: u128::try_from(q("gasPrice")?).map_err(|_| "gasPrice above 2^128 - 1")?,
        gas_limit: small("gasLimit")?,
        to,
        value: q("value")?,
        input: bytes(field(t, "data").map_err(|e| e.to_string())?, "data")
            .map_err(|e| e.to_string())?
            .into(),
    };
    let sig = alloy_primitives::Signature::new(q("r")?, q("s")?, odd);
    alloy_consensus::SignableTransaction::into_signed(tx, sig)
        .recover_signer()
        .map_err(|e| format!("signer not recoverable: {e}"))
}

/// A block's withdrawals (EIP-4895): each `address` and its `amount` in gwei, as wei.
fn withdrawals(body: &Map<String, Json>) -> Result<Vec<(Address, U256)>, EthtestError> {
    let Some(list) = body.get("withdrawals").and_then(Json::as_array) else {
        return Ok(Vec::new());
    };
    list.iter()
        .map(|w| {
            let w = object(w, "withdrawal")?;
            let to = address(field(w, "address")?, "withdrawal address")?;
            let gwei = quantity(field(w, "amount")?, "withdrawal amount")?;
            Ok((to, gwei.saturating_mul(U256::from(1_000_000_000u64))))
        })
        .collect()
}

/// A transaction from its JSON rendering; `raw` (the `transactionSequence` entry's bytes)
/// gives the signer when the rendering does not.
fn transaction(t: &Json, raw: Option<&Json>) -> Result<EthTx, String> {
    let t = object(t, "transaction").map_err(|e| e.to_string())?;
    let q = |name: &str| -> Result<U256, String> {
        quantity(field(t, name).map_err(|e| e.to_string())?, name).map_err(|e| e.to_string())
    };
    let ty = match t.get("type") {
        Some(v) => {
            let n = quantity(v, "type").map_err(|e| e.to_string())?;
            u8::try_from(n).map_err(|_| format!("transaction type {n} is not an EIP-2718 type"))?
        }
        None if t.contains_key("maxFeePerGas") => 2,
        None if t.contains_key("accessList") => 1,
        None => 0,
    };
    let sender = match t.get("sender") {
        Some(s) => address(s, "sender").map_err(|e| e.to_string())?,
        None => match raw {
            Some(raw) => {
                let raw = bytes(raw, "rawBytes").map_err(|e| e.to_string())?;
                let env = TxEnvelope::decode_2718(&mut raw.as_slice())
                    .map_err(|e| format!("undecodable envelope: {e}"))?;
                env.recover_signer()
                    .map_err(|e| format!("signer not recoverable: {e}"))?
            }
            None if ty == 0 => legacy_signer(t)?,
            None => return Err("no sender and no raw bytes to recover it from".into()),
        },
    };
    let to = match t.get("to").map(|v| text(v, "to")) {
        None => None,
        Some(Err(e)) => return Err(e.to_string()),
        Some(Ok(s)) if s.trim().is_empty() => None,
        Some(Ok(s)) => Some(Address::from_str(s.trim()).map_err(|e| format!("to: {e}"))?),
    };
    let mut access_list = Vec::new();
    if let Some(Json::Array(items)) = t.get("accessList") {
        for item in items {
            let address = item
                .get("address")
                .ok_or("access list entry without an address")
                .and_then(|a| address(a, "address").map_err(|_| "bad access list address"))?;
            let mut keys = Vec::new();
            if let Some(Json::Array(ks)) = item.get("storageKeys") {
                for k in ks {
                    let k = text(k, "storage key").map_err(|e| e.to_string())?;
                    keys.push(B256::from_str(k.trim()).map_err(|e| format!("storage key: {e}"))?);
                }
            }
            access_list.push((address, keys));
        }
    }
    let mut blob_hashes = Vec::new();
    if let Some(v) = t.get("blobVersionedHashes") {
        let Json::Array(items) = v else {
            return Err("blobVersionedHashes is not a list".into());
        };
        for h in items {
            let h = text(h, "blob versioned hash").map_err(|e| e.to_string())?;
            blob_hashes.push(B256::from_str(h.trim()).map_err(|e| format!("blob hash: {e}"))?);
        }
    }
    let opt = |name: &str| -> Result<Option<U256>, String> {
        t.get(name)
            .map(|v| quantity(v, name).map_err(|e| e.to_string()))
            .transpose()
    };
    Ok(EthTx {
        ty,
        sender,
        to,
        value: q("value")?,
        data: bytes(field(t, "data").map_err(|e| e.to_string())?, "data")
            .map_err(|e| e.to_string())?,
        gas_limit: q("gasLimit")?,
        nonce: q("nonce")?,
        chain_id: match (ty, opt("v")?) {
            // A legacy transaction's chain id is in its `v` (EIP-155: 35 + 2 x id, or 27/28
            // for none); a `chainId` field beside it says nothing.
            (0, Some(v)) if v == U256::from(27u64) || v == U256::from(28u64) => None,
            (0, Some(v)) if v >= U256::from(35u64) => {
                Some((v - U256::from(35u64)) / U256::from(2u64))
            }
            _ => t.get("chainId").map(|_| q("chainId")).transpose()?,
        },
        access_list,
        gas_price: opt("gasPrice")?,
        max_fee_per_gas: opt("maxFeePerGas")?,
        max_priority_fee_per_gas: opt("maxPriorityFeePerGas")?,
        max_fee_per_blob_gas: opt("maxFeePerBlobGas")?,
        blob_hashes,
    })
}

fn block(b: &Json) -> Result<Block, EthtestError> {
    let b = object(b, "block")?;
    let expect_exception = b
        .get("expectException")
        .map(|e| text(e, "expectException").map(str::to_string))
        .transpose()?;
    // A valid block is given decoded; an invalid one as `rlp_decoded` (absent when even
    // its RLP does not decode).
    let body = if b.contains_key("blockHeader") {
        Some(b)
    } else {
        b.get("rlp_decoded")
            .map(|d| object(d, "rlp_decoded"))
            .transpose()?
    };
    let Some(body) = body else {
        return Ok(Block {
            number: None,
            gas_limit: None,
            timestamp: 0,
            txs: vec![Err("the block's RLP does not decode".into())],
            expect_exception,
            withdrawals: Vec::new(),
            bad_withdrawal: None,
            uncles: 0,
            env: BlockValues::default(),
        });
    };
    let header = object(field(body, "blockHeader")?, "blockHeader")?;
    let sequence = b.get("transactionSequence").and_then(Json::as_array);
    let txs = match body.get("transactions") {
        Some(Json::Array(txs)) => txs
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let raw = sequence
                    .and_then(|s| s.get(i))
                    .and_then(|e| e.get("rawBytes"));
                transaction(t, raw)
            })
            .collect(),
        Some(_) => return Err(bad("transactions", "not an array")),
        None => Vec::new(),
    };
    let len = |name: &str| body.get(name).and_then(Json::as_array).map_or(0, Vec::len);
    let (withdrawals, bad_withdrawal) = match withdrawals(body) {
        Ok(w) => (w, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    Ok(Block {
        number: Some(small(field(header, "number")?, "number")?),
        gas_limit: header
            .get("gasLimit")
            .map(|g| small(g, "gasLimit"))
            .transpose()?,
        timestamp: small(field(header, "timestamp")?, "timestamp")?,
        txs,
        expect_exception,
        withdrawals,
        bad_withdrawal,
        uncles: len("uncleHeaders"),
        env: block_values(header),
    })
}

/// The case `name` of a file, from its JSON object.
pub fn case(name: &str, v: &Json) -> Result<Case, EthtestError> {
    let c = object(v, name)?;
    let blocks = match field(c, "blocks")? {
        Json::Array(b) => b.iter().map(block).collect::<Result<Vec<_>, _>>()?,
        _ => return Err(bad("blocks", "not an array")),
    };
    Ok(Case {
        name: name.to_string(),
        network: text(field(c, "network")?, "network")?.to_string(),
        pre: accounts(field(c, "pre")?, "pre")?,
        blocks,
        post: c
            .get("postState")
            .map(|p| accounts(p, "postState"))
            .transpose()?,
        genesis_gas_limit: c
            .get("genesisBlockHeader")
            .and_then(|h| h.get("gasLimit"))
            .map(|g| small(g, "genesisBlockHeader.gasLimit"))
            .transpose()?,
        genesis_env: c
            .get("genesisBlockHeader")
            .and_then(Json::as_object)
            .map(block_values)
            .unwrap_or_default(),
    })
}

/// A case's name and the case, or why it could not be read.
pub type NamedCase = (String, Result<Case, EthtestError>);

/// Every case of one file, in name order, each read or refused on its own.
pub fn read_file(path: &Path) -> Result<Vec<NamedCase>, EthtestError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| EthtestError::Io(format!("{}: {e}", path.display())))?;
    let json: Json = serde_json::from_str(&text)
        .map_err(|e| EthtestError::Case(format!("{}: not JSON: {e}", path.display())))?;
    let Json::Object(cases) = json else {
        return Err(EthtestError::Case(format!(
            "{}: not an object of test cases",
            path.display()
        )));
    };
    Ok(cases
        .iter()
        .map(|(name, v)| (name.clone(), case(name, v)))
        .collect())
}
