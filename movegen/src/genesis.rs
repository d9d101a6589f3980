//! Genesis files in the Ethereum `alloc` style.
//!
//! ```json
//! { "config": { "chainId": 1337 },
//!   "alloc": { "0x00..01": { "balance": "0x3635c9adc5dea00000", "nonce": "0x0",
//!                            "code": "0x6080...", "storage": { "0x0": "0x1" } } } }
//! ```
//! A top-level `"chainId"` is accepted too. Quantities are `0x` hex or decimal strings (or
//! JSON numbers). Every account and every non-zero storage word becomes a genesis version
//! (`intx = 0`).
//!
//! The chain's execution rules ([`ChainRules`]) come from the same file, as geth reads them:
//! the fork keys of `config` (`homesteadBlock`, `eip150Block`, `eip158Block`,
//! `byzantiumBlock`, `constantinopleBlock`, `petersburgBlock`, `istanbulBlock`,
//! `berlinBlock`, `londonBlock`, `mergeNetsplitBlock`, `shanghaiTime`, `cancunTime`,
//! `pragueTime`; a fork whose key is absent never activates) and the top-level `gasLimit`
//! (a transaction's gas limit at most this), and this protocol's `batchGasLimit` (the sum of
//! the gas limits of a batch's executed transactions at most this; when absent 10^10, or
//! `gasLimit` if that is larger). A
//! genesis that names no fork runs Cancun from genesis, and one without `gasLimit` has
//! 30,000,000. The block values geth takes from the
//! genesis block are the chain's constants here (PROTOCOL.md §6.3): `baseFeePerGas` the base
//! fee of every batch, `coinbase` its beneficiary, `mixHash` its `PREVRANDAO`, `difficulty`
//! its `DIFFICULTY`, `excessBlobGas` the excess blob gas that sets the blob base fee of
//! every batch from Cancun on (all zero when absent).

use mf_format::{
    Account, Activation, Address, B256, ChainRules, EMPTY_CODE_HASH, Fork, Key, LtHash, TxId, U256,
    Value,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::str::FromStr;

/// Why a genesis file was refused.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// Not JSON of the expected shape.
    #[error("genesis is not valid JSON of the alloc shape: {0}")]
    Json(#[from] serde_json::Error),
    /// A field did not parse.
    #[error("genesis field {field}: {msg}")]
    Field {
        /// Which field.
        field: String,
        /// What is wrong.
        msg: String,
    },
    /// No chain id.
    #[error("genesis has no chain id: add \"config\": {{\"chainId\": N}}")]
    NoChainId,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    config: Option<Config>,
    #[serde(default, rename = "chainId")]
    chain_id: Option<serde_json::Value>,
    #[serde(default, rename = "gasLimit")]
    gas_limit: Option<serde_json::Value>,
    #[serde(default, rename = "batchGasLimit")]
    batch_gas_limit: Option<serde_json::Value>,
    #[serde(default)]
    number: Option<serde_json::Value>,
    #[serde(default, rename = "blockHashes")]
    block_hashes: BTreeMap<String, String>,
    #[serde(default, rename = "baseFeePerGas")]
    base_fee: Option<serde_json::Value>,
    #[serde(default)]
    coinbase: Option<String>,
    #[serde(default, rename = "mixHash")]
    mix_hash: Option<String>,
    #[serde(default)]
    difficulty: Option<serde_json::Value>,
    #[serde(default, rename = "excessBlobGas")]
    excess_blob_gas: Option<serde_json::Value>,
    #[serde(default)]
    alloc: BTreeMap<String, Alloc>,
}

#[derive(Deserialize)]
struct Config {
    #[serde(default, rename = "chainId")]
    chain_id: Option<serde_json::Value>,
    /// Every other key (the fork keys are read from here; the rest is ignored, as geth's
    /// other settings do not apply).
    #[serde(flatten)]
    rest: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Alloc {
    #[serde(default)]
    balance: Option<serde_json::Value>,
    #[serde(default)]
    nonce: Option<serde_json::Value>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    storage: BTreeMap<String, String>,
}

/// A parsed genesis.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Genesis {
    /// The chain id.
    pub chain_id: u64,
    /// The chain's execution rules: gas limit and fork schedule.
    pub rules: ChainRules,
    /// Versions, in key order.
    pub versions: Vec<(Key, Value)>,
    /// `(code hash, code)` of the contracts.
    pub code: Vec<(B256, Vec<u8>)>,
}

fn quantity(field: &str, v: &serde_json::Value) -> Result<U256, GenesisError> {
    let bad = |msg: String| GenesisError::Field {
        field: field.to_string(),
        msg,
    };
    match v {
        serde_json::Value::Number(n) => n
            .as_u64()
            .map(U256::from)
            .ok_or_else(|| bad(format!("{n} is not a non-negative integer"))),
        serde_json::Value::String(s) => {
            U256::from_str(s.trim()).map_err(|e| bad(format!("{s:?}: {e}")))
        }
        other => Err(bad(format!("expected a quantity, found {other}"))),
    }
}

/// A storage key or value, as geth reads them: hex digits, with or without `0x`, at most 64
/// of them (a 32-byte word, left-padded). Unlike quantities, a storage word without `0x` is
/// still hex (`"10"` is 16), never decimal. An odd number of digits is accepted (geth
/// refuses it) because minimal hex such as `"0x1"` is what most tools write.
fn storage_word(field: &str, s: &str) -> Result<U256, GenesisError> {
    let bad = |msg: &str| GenesisError::Field {
        field: field.to_string(),
        msg: format!("{s:?}: {msg}"),
    };
    let t = s.trim();
    let digits = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if digits.is_empty() {
        return Err(bad("no hex digits"));
    }
    if digits.len() > 64 {
        return Err(bad("more than 64 hex digits (a storage word is 32 bytes)"));
    }
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(
            "not hex (storage keys and values are hex, with or without 0x)",
        ));
    }
    U256::from_str_radix(digits, 16).map_err(|e| bad(&e.to_string()))
}

fn hex_bytes(field: &str, s: &str) -> Result<Vec<u8>, GenesisError> {
    alloy_primitives::hex::decode(s.trim()).map_err(|e| GenesisError::Field {
        field: field.to_string(),
        msg: format!("bad hex: {e}"),
    })
}

/// The rules a genesis names (module documentation).
fn rules_of(f: &File) -> Result<ChainRules, GenesisError> {
    let (config, gas_limit) = (f.config.as_ref(), f.gas_limit.as_ref());
    let small = |field: &str, v: &serde_json::Value| -> Result<u64, GenesisError> {
        u64::try_from(quantity(field, v)?).map_err(|_| GenesisError::Field {
            field: field.to_string(),
            msg: "does not fit in 64 bits".into(),
        })
    };
    let mut rules = ChainRules::default();
    if let Some(g) = gas_limit {
        rules.gas_limit = small("gasLimit", g)?;
    }
    rules.batch_gas_limit = match &f.batch_gas_limit {
        Some(g) => small("batchGasLimit", g)?,
        // Absent: the default, raised to the gas limit (one transaction always fits).
        None => rules.batch_gas_limit.max(rules.gas_limit),
    };
    if let Some(b) = &f.base_fee {
        rules.base_fee = small("baseFeePerGas", b)?;
    }
    if let Some(d) = &f.difficulty {
        rules.difficulty = quantity("difficulty", d)?;
    }
    if let Some(x) = &f.excess_blob_gas {
        rules.excess_blob_gas = small("excessBlobGas", x)?;
    }
    if let Some(c) = &f.coinbase {
        rules.beneficiary = Address::from_str(c).map_err(|e| GenesisError::Field {
            field: "coinbase".into(),
            msg: e.to_string(),
        })?;
    }
    if let Some(n) = &f.number {
        rules.genesis_number = small("number", n)?;
    }
    let mut ancestors = Vec::with_capacity(f.block_hashes.len());
    for (n, h) in &f.block_hashes {
        let field = format!("blockHashes.{n}");
        let number = small(&field, &serde_json::Value::String(n.clone()))?;
        let hash = B256::from_str(h).map_err(|e| GenesisError::Field {
            field: field.clone(),
            msg: e.to_string(),
        })?;
        ancestors.push((number, hash));
    }
    ancestors.sort_unstable_by_key(|(n, _)| *n);
    if ancestors.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(GenesisError::Field {
            field: "blockHashes".into(),
            msg: "a block number is named twice".into(),
        });
    }
    rules.ancestor_hashes = ancestors;
    if let Some(m) = &f.mix_hash {
        rules.prevrandao = B256::from_str(m).map_err(|e| GenesisError::Field {
            field: "mixHash".into(),
            msg: e.to_string(),
        })?;
    }
    let named: Vec<(Fork, Activation)> = match config {
        None => Vec::new(),
        Some(c) => {
            let mut out = Vec::new();
            for fork in Fork::ALL {
                let Some((key, by_time)) = fork.geth_key() else {
                    continue;
                };
                match c.rest.get(key) {
                    None | Some(serde_json::Value::Null) => {}
                    Some(v) => {
                        let at = small(&format!("config.{key}"), v)?;
                        out.push((
                            fork,
                            if by_time {
                                Activation::Time(at)
                            } else {
                                Activation::Block(at)
                            },
                        ));
                    }
                }
            }
            out
        }
    };
    // A config naming no fork gets the default schedule; `frontierBlock` (this protocol's
    // key: geth has none, every chain starts at Frontier) names a chain that stays at
    // Frontier, which [`rules_json`] writes for an empty schedule.
    let frontier_only =
        config.is_some_and(|c| c.rest.get(FRONTIER_KEY).is_some_and(|v| !v.is_null()));
    if !named.is_empty() || frontier_only {
        rules.forks = named;
    }
    rules.validate().map_err(|e| GenesisError::Field {
        field: "config".into(),
        msg: e.to_string(),
    })?;
    Ok(rules)
}

/// The config key that keeps a chain at Frontier: an empty fork schedule, which naming no
/// fork cannot say (that gives the default schedule).
pub const FRONTIER_KEY: &str = "frontierBlock";

/// The geth `config` keys of `rules`' fork schedule, in fork order ([`FRONTIER_KEY`] alone
/// for an empty schedule).
pub fn rules_json(rules: &ChainRules) -> Vec<(&'static str, u64)> {
    if rules.forks.is_empty() {
        return vec![(FRONTIER_KEY, 0)];
    }
    rules
        .forks
        .iter()
        .filter_map(|(fork, at)| {
            let (key, _) = fork.geth_key()?;
            Some((
                key,
                match at {
                    Activation::Block(b) => *b,
                    Activation::Time(t) => *t,
                },
            ))
        })
        .collect()
}

/// The top-level genesis keys of `rules` other than the fork schedule, with their values
/// as geth writes them: `number`, `gasLimit`, `baseFeePerGas`, `coinbase`, `mixHash`,
/// `difficulty`, `excessBlobGas` (when not zero), and this protocol's own `batchGasLimit`
/// and (when there are any) `blockHashes` (geth ignores both).
pub fn rules_top_level(rules: &ChainRules) -> Vec<(&'static str, serde_json::Value)> {
    let mut out: Vec<(&'static str, serde_json::Value)> = vec![
        ("number", format!("{:#x}", rules.genesis_number).into()),
        ("gasLimit", format!("{:#x}", rules.gas_limit).into()),
        (
            "batchGasLimit",
            format!("{:#x}", rules.batch_gas_limit).into(),
        ),
        ("baseFeePerGas", format!("{:#x}", rules.base_fee).into()),
        ("coinbase", format!("{:#x}", rules.beneficiary).into()),
        ("mixHash", format!("{:#x}", rules.prevrandao).into()),
        ("difficulty", format!("{:#x}", rules.difficulty).into()),
    ];
    if rules.excess_blob_gas != 0 {
        out.push((
            "excessBlobGas",
            format!("{:#x}", rules.excess_blob_gas).into(),
        ));
    }
    if !rules.ancestor_hashes.is_empty() {
        let map: serde_json::Map<String, serde_json::Value> = rules
            .ancestor_hashes
            .iter()
            .map(|(n, h)| (n.to_string(), format!("{h:#x}").into()))
            .collect();
        out.push(("blockHashes", map.into()));
    }
    out
}

impl Genesis {
    /// The genesis holding every version and code of `view` (its intx is dropped: genesis
    /// versions are intx 0), in key order.
    pub fn from_view(chain_id: u64, view: &crate::MemoryView) -> Genesis {
        Genesis {
            chain_id,
            rules: ChainRules::default(),
            versions: view.versions().map(|(k, (_, v))| (*k, *v)).collect(),
            code: view.codes().map(|(h, c)| (*h, c.to_vec())).collect(),
        }
    }

    /// Parses a genesis file's text.
    pub fn parse(text: &str) -> Result<Genesis, GenesisError> {
        let f: File = serde_json::from_str(text)?;
        let rules = rules_of(&f)?;
        let chain = f
            .config
            .and_then(|c| c.chain_id)
            .or(f.chain_id)
            .ok_or(GenesisError::NoChainId)?;
        let chain_id =
            u64::try_from(quantity("chainId", &chain)?).map_err(|_| GenesisError::Field {
                field: "chainId".into(),
                msg: "does not fit in 64 bits".into(),
            })?;
        let mut versions = BTreeMap::new();
        let mut code = BTreeMap::new();
        // Before EIP-161 an empty account listed in the alloc exists (geth creates it), and
        // existing differs from missing: it is kept as such (PROTOCOL.md §3.2).
        let keep_empty = !rules.state_clear_at(rules.genesis_number.saturating_add(1), 0);
        for (a, acct) in &f.alloc {
            let addr = Address::from_str(a.trim()).map_err(|e| GenesisError::Field {
                field: format!("alloc.{a}"),
                msg: format!("not an address: {e}"),
            })?;
            let balance = match &acct.balance {
                Some(v) => quantity(&format!("alloc.{a}.balance"), v)?,
                None => U256::ZERO,
            };
            let nonce = match &acct.nonce {
                Some(v) => {
                    u64::try_from(quantity(&format!("alloc.{a}.nonce"), v)?).map_err(|_| {
                        GenesisError::Field {
                            field: format!("alloc.{a}.nonce"),
                            msg: "does not fit in 64 bits".into(),
                        }
                    })?
                }
                None => 0,
            };
            let code_hash = match &acct.code {
                Some(c) => {
                    let bytes = hex_bytes(&format!("alloc.{a}.code"), c)?;
                    if bytes.is_empty() {
                        EMPTY_CODE_HASH
                    } else {
                        let h = alloy_primitives::keccak256(&bytes);
                        code.insert(h, bytes);
                        h
                    }
                }
                None => EMPTY_CODE_HASH,
            };
            let key = Key::account(addr);
            let mut account = Account {
                balance,
                nonce,
                code_hash,
            };
            if keep_empty && account == Account::EMPTY {
                account = Account::EXISTING_EMPTY;
            }
            if versions.insert(key, Value::Account(account)).is_some() {
                return Err(GenesisError::Field {
                    field: format!("alloc.{a}"),
                    msg: "address listed twice".into(),
                });
            }
            // Two spellings of one slot ("0x1" and "0x01") would silently keep one of the
            // two values: refused.
            let mut slots: BTreeMap<U256, &str> = BTreeMap::new();
            for (s, v) in &acct.storage {
                let slot = storage_word(&format!("alloc.{a}.storage"), s)?;
                let val = storage_word(&format!("alloc.{a}.storage.{s}"), v)?;
                if let Some(first) = slots.insert(slot, s) {
                    return Err(GenesisError::Field {
                        field: format!("alloc.{a}.storage"),
                        msg: format!("{first:?} and {s:?} name the same slot {slot:#x}"),
                    });
                }
                if !val.is_zero() {
                    // EIP-7610: no contract may be created at an address with storage. A
                    // transaction's moves cannot show that an address has no storage (an
                    // account record does not commit to it), and in Cancun storage without
                    // code or a nonce arises only from a genesis: such entries are refused,
                    // so that every address with storage has code or a nonce, which the
                    // creation's declared read of the account does show (PROTOCOL.md §6.4.1).
                    if nonce == 0 && code_hash == EMPTY_CODE_HASH {
                        return Err(GenesisError::Field {
                            field: format!("alloc.{a}.storage"),
                            msg: "an account with storage but neither code nor a nonce: \
                                  EIP-7610 forbids creating a contract there, which moves \
                                  cannot show; give it code or a nonce, or drop its storage"
                                .into(),
                        });
                    }
                    versions.insert(Key::storage(addr, slot), Value::Storage(val));
                }
            }
        }
        Ok(Genesis {
            chain_id,
            rules,
            versions: versions.into_iter().collect(),
            code: code.into_iter().collect(),
        })
    }

    /// The LtHash of the genesis set: every version at `intx = 0`. Its digest is the state
    /// hash of header 0, which is how a follower checks that it holds the same genesis as
    /// the validator it follows.
    pub fn lthash(&self) -> LtHash {
        let mut h = LtHash::IDENTITY;
        for (key, value) in &self.versions {
            h.add(&LtHash::of_version(&TxId::ZERO, key, value));
        }
        h
    }

    /// Renders a genesis back to alloc JSON (used by the sample generator).
    pub fn to_json(&self) -> serde_json::Value {
        let mut alloc = serde_json::Map::new();
        let code: BTreeMap<B256, &Vec<u8>> = self.code.iter().map(|(h, c)| (*h, c)).collect();
        for (k, v) in &self.versions {
            let entry = alloc
                .entry(format!("{:#x}", k.addr))
                .or_insert_with(|| serde_json::json!({}));
            match v {
                Value::Account(a) => {
                    entry["balance"] = serde_json::json!(format!("{:#x}", a.balance));
                    entry["nonce"] = serde_json::json!(format!("{:#x}", a.nonce));
                    if let Some(c) = code.get(&a.code_hash) {
                        entry["code"] = serde_json::json!(format!(
                            "0x{}",
                            c.iter().map(|b| format!("{b:02x}")).collect::<String>()
                        ));
                    }
                }
                Value::Storage(w) => {
                    if entry.get("storage").is_none() {
                        entry["storage"] = serde_json::json!({});
                    }
                    entry["storage"][format!("{:#x}", k.slot)] =
                        serde_json::json!(format!("{w:#x}"));
                }
            }
        }
        let mut config = serde_json::Map::new();
        config.insert("chainId".into(), self.chain_id.into());
        for (k, v) in rules_json(&self.rules) {
            config.insert(k.into(), v.into());
        }
        let mut out = serde_json::Map::new();
        out.insert("config".into(), config.into());
        for (k, v) in rules_top_level(&self.rules) {
            out.insert(k.into(), v);
        }
        out.insert("alloc".into(), alloc.into());
        out.into()
    }
}
