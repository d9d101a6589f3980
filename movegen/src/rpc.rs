//! The shapes of the coordinator's JSON-RPC (`docs/RPC.md`), shared by the coordinator that
//! answers and the wallets that ask ([`crate::remote`]).
//!
//! Everything here is plain data with serde derives. Quantities and hashes follow the
//! Ethereum JSON-RPC conventions: `0x`-prefixed lowercase hex, quantities without leading
//! zeros (`"0x0"` for zero), data and hashes as full-width hex.

use alloy_primitives::{B256, U64, U256};
use mf_format::{Account, Mark, Reason, TxId, Value};
use serde::{Deserialize, Serialize};

/// JSON-RPC error codes the coordinator answers with (the first five are JSON-RPC 2.0's,
/// `3` is what Ethereum clients expect for a reverted `eth_call`, the rest follow EIP-1474).
pub mod codes {
    /// The request body is not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// Not a JSON-RPC 2.0 request object.
    pub const INVALID_REQUEST: i64 = -32600;
    /// No such method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// The parameters do not fit the method.
    pub const INVALID_PARAMS: i64 = -32602;
    /// The coordinator failed (storage, a bug): the request may be retried.
    pub const INTERNAL: i64 = -32603;
    /// `eth_call` / `eth_estimateGas` reverted: `data` holds the revert data.
    pub const EXECUTION_REVERTED: i64 = 3;
    /// Any other execution failure (halt, out of gas, invalid transaction).
    pub const SERVER_ERROR: i64 = -32000;
    /// The requested block is not the head: only the head state is kept.
    pub const RESOURCE_UNAVAILABLE: i64 = -32002;
    /// An intent was refused at intake (`data`: `{reason, code}`).
    pub const TRANSACTION_REJECTED: i64 = -32003;
    /// Too many requests or intents in flight: retry later.
    pub const LIMIT_EXCEEDED: i64 = -32005;
}

/// Where an intent is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntentState {
    /// Received and journaled, waiting for a batch.
    Pending,
    /// Filled and submitted to the validator in a batch; the verdict is not in yet.
    Filled,
    /// In the chain at `height` (final).
    Accepted,
    /// Refused with `reason` (final).
    Rejected,
}

impl IntentState {
    /// Accepted or rejected: nothing will change any more.
    pub fn is_final(self) -> bool {
        matches!(self, IntentState::Accepted | IntentState::Rejected)
    }
}

/// The answer of `mf_getIntent`: what happened to an intent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntentStatus {
    /// The intent's id: the id of the transaction as it was submitted.
    pub intent: TxId,
    /// Where it is.
    pub status: IntentState,
    /// The id of the transaction as last filled (what the chain holds once accepted).
    pub tx_id: Option<TxId>,
    /// The height of the batch that accepted it.
    pub height: Option<U64>,
    /// Why it was rejected (a protocol reason name such as `prev_mismatch`, or a
    /// coordinator reason such as `signed_field_changed`), or why the last attempt failed
    /// while it is retried.
    pub reason: Option<String>,
    /// The protocol reason code when `reason` is a protocol reason.
    pub code: Option<u16>,
    /// Human-readable detail (a revert message, the key that changed...).
    pub detail: Option<String>,
    /// Fills submitted to the validator so far.
    pub attempts: u32,
    /// Gas used by the last fill.
    pub gas_used: Option<U64>,
}

impl IntentStatus {
    /// A freshly received intent.
    pub fn pending(intent: TxId) -> IntentStatus {
        IntentStatus {
            intent,
            status: IntentState::Pending,
            tx_id: None,
            height: None,
            reason: None,
            code: None,
            detail: None,
            attempts: 0,
            gas_used: None,
        }
    }

    /// Rejected with a protocol reason.
    pub fn reject(&mut self, reason: Reason, detail: Option<String>) {
        self.status = IntentState::Rejected;
        self.reason = Some(reason.name().to_string());
        self.code = Some(reason.code());
        self.detail = detail;
    }

    /// Rejected with a coordinator reason (no protocol code).
    pub fn reject_named(&mut self, reason: &str, detail: Option<String>) {
        self.status = IntentState::Rejected;
        self.reason = Some(reason.to_string());
        self.code = None;
        self.detail = detail;
    }
}

/// An account record in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountJson {
    /// Wei.
    pub balance: U256,
    /// Nonce.
    pub nonce: U64,
    /// Keccak-256 of the runtime code.
    pub code_hash: B256,
}

/// A value in JSON: an account record object, or a storage word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RpcValue {
    /// Mark `a`.
    Account(AccountJson),
    /// Mark `s`: the word as a 32-byte hex string.
    Storage(B256),
}

impl From<&Value> for RpcValue {
    fn from(v: &Value) -> RpcValue {
        match v {
            Value::Account(a) => RpcValue::Account(AccountJson {
                balance: a.balance,
                nonce: U64::from(a.nonce),
                code_hash: a.code_hash,
            }),
            Value::Storage(w) => RpcValue::Storage(B256::from(*w)),
        }
    }
}

impl RpcValue {
    /// The protocol value, if its shape fits `mark`.
    pub fn to_value(&self, mark: Mark) -> Option<Value> {
        match (self, mark) {
            (RpcValue::Account(a), Mark::Account) => Some(Value::Account(Account {
                balance: a.balance,
                nonce: a.nonce.to::<u64>(),
                code_hash: a.code_hash,
            })),
            (RpcValue::Storage(w), Mark::Storage) => Some(Value::Storage(U256::from_be_bytes(w.0))),
            _ => None,
        }
    }
}

/// The answer of `mf_getVersion`: the live version of a key at the coordinator's head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcVersion {
    /// `false` when the key has never been written (then `intx` is zero and `value` is the
    /// mark's zero value).
    pub exists: bool,
    /// The transaction that wrote it (zero for genesis and never-written keys).
    pub intx: TxId,
    /// The value.
    pub value: RpcValue,
    /// The height this answer reflects.
    pub height: U64,
}

/// The answer of `mf_dryRun`: a fill that is not queued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DryRunJson {
    /// The filled transaction, canonically encoded.
    pub tx: alloy_primitives::Bytes,
    /// Its id.
    pub tx_id: TxId,
    /// Gas used.
    pub gas_used: U64,
    /// The call's return data.
    pub output: alloy_primitives::Bytes,
    /// Number of moves after the fill.
    pub moves: u32,
    /// The height of the state it was filled against.
    pub height: U64,
}

/// The answer of `mf_simulate`: an execution against the coordinator's head, with its moves
/// in an unsigned body (canonical encoding; every mask [`mf_format::Mask::ALL`], `open`
/// false) for a wallet to apply its signing policy to and sign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimulationJson {
    /// The body: the call, the context, the moves and the created code.
    pub body: alloy_primitives::Bytes,
    /// Gas used.
    pub gas_used: U64,
    /// The call's return data.
    pub output: alloy_primitives::Bytes,
    /// The address a creation deployed to.
    pub created: Option<alloy_primitives::Address>,
    /// The height of the state it ran against.
    pub height: U64,
}

/// The answer of `mf_getHead`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeadJson {
    /// The height the coordinator's index reflects.
    pub height: U64,
    /// The hash of that header.
    pub header_hash: B256,
    /// Its state hash (the coordinator checks its own index against it).
    pub state_hash: B256,
}

#[cfg(test)]
mod tests {
    use super::*;
    use mf_format::EMPTY_CODE_HASH;

    #[test]
    fn status_json_shape() {
        let mut s = IntentStatus::pending(B256::repeat_byte(0xab));
        s.height = Some(U64::from(26u64));
        s.reject(Reason::PrevMismatch, Some("x".into()));
        let j = serde_json::to_value(&s).expect("json");
        assert_eq!(j["status"], "rejected");
        assert_eq!(j["height"], "0x1a");
        assert_eq!(j["reason"], "prev_mismatch");
        assert_eq!(j["code"], 81);
        assert_eq!(j["txId"], serde_json::Value::Null);
        assert_eq!(j["intent"], format!("0x{}", "ab".repeat(32)));
        let back: IntentStatus = serde_json::from_value(j).expect("back");
        assert_eq!(back, s);
    }

    #[test]
    fn value_json_round_trips() {
        let a = Value::Account(Account {
            balance: U256::from(1000u64),
            nonce: 7,
            code_hash: EMPTY_CODE_HASH,
        });
        let j = serde_json::to_value(RpcValue::from(&a)).expect("json");
        assert_eq!(j["balance"], "0x3e8");
        assert_eq!(j["nonce"], "0x7");
        let back: RpcValue = serde_json::from_value(j).expect("back");
        assert_eq!(back.to_value(Mark::Account), Some(a));
        assert_eq!(back.to_value(Mark::Storage), None);
        let w = Value::Storage(U256::from(5u64));
        let j = serde_json::to_value(RpcValue::from(&w)).expect("json");
        assert_eq!(j, format!("0x{}05", "00".repeat(31)));
        let back: RpcValue = serde_json::from_value(j).expect("back");
        assert_eq!(back.to_value(Mark::Storage), Some(w));
    }
}
