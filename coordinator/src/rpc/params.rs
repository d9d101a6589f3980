//! Decoding parameters: positional params, block tags, call objects, intents.

use super::transport::RpcError;
use crate::store::Head;
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use mf_format::limits::{
    MAX_ACCESS_LIST_ITEMS, MAX_ACCESS_LIST_KEYS, MAX_GAS_LIMIT, MAX_INPUT_BYTES, MAX_TX_BYTES,
};
use mf_format::{AccessItem, Call, Fee, FeeKind, Reason};
use mf_movegen::rpc::codes;
use serde::de::DeserializeOwned;
use serde_json::{Value as Json, json};

pub(super) fn param<T: DeserializeOwned>(
    params: &[Json],
    i: usize,
    name: &str,
) -> Result<T, RpcError> {
    let v = params
        .get(i)
        .ok_or_else(|| RpcError::params(format!("missing parameter {i} ({name})")))?;
    serde_json::from_value(v.clone())
        .map_err(|e| RpcError::params(format!("parameter {i} ({name}): {e}")))
}

pub(super) fn opt_param<T: DeserializeOwned>(
    params: &[Json],
    i: usize,
    name: &str,
) -> Result<Option<T>, RpcError> {
    match params.get(i) {
        None | Some(Json::Null) => Ok(None),
        Some(_) => param(params, i, name).map(Some),
    }
}

pub(super) fn max_params(params: &[Json], n: usize) -> Result<(), RpcError> {
    if params.len() > n {
        return Err(RpcError::params(format!(
            "too many parameters: at most {n}, got {}",
            params.len()
        )));
    }
    Ok(())
}

pub(super) fn hex_u64(n: u64) -> Json {
    json!(format!("{n:#x}"))
}

/// The height a block parameter names: absent, `null`, `latest`, `pending`, `safe` and
/// `finalized` are the head (a batch is final once applied); `earliest` is 0; a number or a
/// `{blockNumber}` / `{blockHash}` object names its block (`hash_height` finds a hash).
/// A block above the head, or a hash this coordinator does not know, is `-32000 header not
/// found`, as geth answers.
pub(super) fn block_height(
    tag: Option<&Json>,
    head: &Head,
    hash_height: &dyn Fn(&B256) -> Result<Option<u64>, RpcError>,
) -> Result<u64, RpcError> {
    let not_found = |what: String| {
        Err(RpcError::new(
            codes::SERVER_ERROR,
            format!("header not found: {what} (the head is {})", head.height),
        ))
    };
    match tag {
        None | Some(Json::Null) => Ok(head.height),
        Some(Json::String(s)) => match s.as_str() {
            "latest" | "pending" | "safe" | "finalized" => Ok(head.height),
            "earliest" => Ok(0),
            other => match u64::from_str_radix(other.trim_start_matches("0x"), 16) {
                Ok(n) if other.starts_with("0x") && n <= head.height => Ok(n),
                Ok(n) if other.starts_with("0x") => not_found(format!("block {n}")),
                _ => Err(RpcError::params(format!("bad block tag {other:?}"))),
            },
        },
        Some(Json::Object(o)) => {
            if let Some(h) = o.get("blockHash") {
                let h: B256 = serde_json::from_value(h.clone())
                    .map_err(|e| RpcError::params(format!("blockHash: {e}")))?;
                return match hash_height(&h)? {
                    Some(n) => Ok(n),
                    None => not_found(format!("block {h}")),
                };
            }
            block_height(o.get("blockNumber"), head, hash_height)
        }
        Some(other) => Err(RpcError::params(format!("bad block parameter {other}"))),
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CallObject {
    #[serde(default)]
    from: Option<Address>,
    #[serde(default)]
    to: Option<Address>,
    #[serde(default)]
    gas: Option<U64>,
    #[serde(default)]
    value: Option<U256>,
    #[serde(default)]
    data: Option<Bytes>,
    #[serde(default)]
    input: Option<Bytes>,
    #[serde(default)]
    gas_price: Option<U256>,
    #[serde(default)]
    max_fee_per_gas: Option<U256>,
    #[serde(default)]
    max_priority_fee_per_gas: Option<U256>,
    #[serde(default)]
    access_list: Option<Vec<AccessItemJson>>,
    #[serde(default, rename = "type")]
    ty: Option<U64>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessItemJson {
    address: Address,
    #[serde(default)]
    storage_keys: Vec<B256>,
}

impl CallObject {
    /// The fee fields as Ethereum's call objects give them: `maxFeePerGas` (with
    /// `maxPriorityFeePerGas`, 0 when absent) makes an EIP-1559 call; `gasPrice` a legacy
    /// one, or an EIP-2930 one with an `accessList` or `type` 1; none, a legacy call at price
    /// 0. Giving both kinds is refused, as geth refuses it.
    fn fee(&self) -> Result<Fee, RpcError> {
        let price = |v: &U256, what: &str| -> Result<u128, RpcError> {
            u128::try_from(*v).map_err(|_| RpcError::params(format!("{what} above 2^128 - 1")))
        };
        let ty = self.ty.map(|t| t.saturating_to::<u64>());
        match (&self.gas_price, &self.max_fee_per_gas) {
            (Some(_), Some(_)) => Err(RpcError::params(
                "both gasPrice and maxFeePerGas given: give one kind of fee",
            )),
            (None, Some(max)) => Ok(Fee::dynamic(
                price(max, "maxFeePerGas")?,
                price(
                    &self.max_priority_fee_per_gas.unwrap_or_default(),
                    "maxPriorityFeePerGas",
                )?,
            )),
            (Some(p), None) => {
                let p = price(p, "gasPrice")?;
                let kind = if self.access_list.is_some() || ty == Some(1) {
                    FeeKind::AccessList
                } else {
                    FeeKind::Legacy
                };
                Ok(Fee {
                    kind,
                    max_fee_per_gas: p,
                    max_priority_fee_per_gas: p,
                })
            }
            (None, None) if ty == Some(2) => Ok(Fee::dynamic(
                0,
                price(
                    &self.max_priority_fee_per_gas.unwrap_or_default(),
                    "maxPriorityFeePerGas",
                )?,
            )),
            (None, None) if self.access_list.is_some() || ty == Some(1) => Ok(Fee {
                kind: FeeKind::AccessList,
                ..Fee::default()
            }),
            (None, None) => Ok(Fee::default()),
        }
    }
}

impl CallObject {
    pub(super) fn to_call(&self) -> Result<Call, RpcError> {
        let input = match (&self.input, &self.data) {
            (Some(i), Some(d)) if i != d => {
                return Err(RpcError::params("\"input\" and \"data\" differ"));
            }
            (Some(i), _) => i.to_vec(),
            (None, Some(d)) => d.to_vec(),
            (None, None) => Vec::new(),
        };
        if input.len() > MAX_INPUT_BYTES {
            return Err(RpcError::params(format!(
                "input of {} bytes exceeds {MAX_INPUT_BYTES}",
                input.len()
            )));
        }
        let items = self.access_list.as_deref().unwrap_or_default();
        if items.len() > MAX_ACCESS_LIST_ITEMS
            || items
                .iter()
                .any(|i| i.storage_keys.len() > MAX_ACCESS_LIST_KEYS)
        {
            return Err(RpcError::params(format!(
                "access list above {MAX_ACCESS_LIST_ITEMS} entries or \
                 {MAX_ACCESS_LIST_KEYS} storage keys per entry"
            )));
        }
        Ok(Call {
            from: self.from.unwrap_or(Address::ZERO),
            to: self.to,
            value: self.value.unwrap_or(U256::ZERO),
            input,
            gas_limit: self.gas.map_or(MAX_GAS_LIMIT, |g| {
                g.saturating_to::<u64>().min(MAX_GAS_LIMIT)
            }),
            fee: self.fee()?,
            access_list: self
                .access_list
                .iter()
                .flatten()
                .map(|i| AccessItem {
                    address: i.address,
                    storage_keys: i.storage_keys.clone(),
                })
                .collect(),
            blob: None,
        })
    }
}

impl CallObject {
    /// The call of `eth_call` / `eth_estimateGas`: its gas is at most `cap` (the gas cap,
    /// `--rpc-gas-cap`), and `cap` when it gives none; a larger gas is refused.
    pub(super) fn to_capped_call(&self, cap: u64) -> Result<Call, RpcError> {
        let gas = match self.gas {
            None => cap,
            Some(g) => {
                let g = g.saturating_to::<u64>();
                if g > cap {
                    return Err(RpcError {
                        code: codes::INVALID_PARAMS,
                        message: format!(
                            "gas {g} is above the gas cap of {cap} for eth_call and \
                             eth_estimateGas (--rpc-gas-cap); give at most {cap}, or no gas"
                        ),
                        data: Some(json!({"limit": "rpc_gas_cap", "cap": cap})),
                    });
                }
                g
            }
        };
        Ok(Call {
            gas_limit: gas,
            ..self.to_call()?
        })
    }
}

pub(super) fn decode_intent(params: &[Json]) -> Result<mf_format::Transaction, RpcError> {
    max_params(params, 1)?;
    let raw: Bytes = param(params, 0, "transaction")?;
    if raw.len() > MAX_TX_BYTES {
        return Err(RpcError::rejected(
            Reason::LimitExceeded.name(),
            Some(Reason::LimitExceeded.code()),
            format!("{} bytes exceeds {MAX_TX_BYTES}", raw.len()),
        ));
    }
    mf_format::decode_tx(&raw).map_err(|e| {
        let r = e.reason();
        RpcError {
            code: codes::INVALID_PARAMS,
            message: format!("not a transaction: {e}"),
            data: Some(json!({"reason": r.name(), "code": r.code()})),
        }
    })
}
