//! The JSON answers of the validator's HTTP API.
//!
//! Hashes, ids, addresses and U256 quantities are `0x`-prefixed lowercase hex (the serde form
//! of [`B256`], [`Address`] and [`U256`]); byte strings are `0x` hex too. Fields are declared
//! in alphabetical order: that is the order the keys are written in (see the crate doc).

use alloy_primitives::Bytes;
use mf_format::{
    Account, Address, B256, Header, Log, Reason, Receipt, Status, TxId, U256, Value, header_hash,
};
use serde::{Deserialize, Serialize};

/// Largest JSON answer a client reads (64 MiB): a `POST /batch` answer carries a receipt
/// per transaction, with its logs in hex. The receipt budget of a batch
/// (`mf_format::limits::MAX_BATCH_RECEIPT_BYTES`) is sized so that every answer fits.
pub const MAX_JSON_ANSWER_BYTES: usize = 64 << 20;

/// A header, with its hash: the answer of `GET /head` and `GET /header/{height}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderJson {
    /// The header's hash ([`header_hash`]).
    pub hash: B256,
    /// Height (0 for genesis).
    pub height: u64,
    /// Hash of the previous header.
    pub parent: B256,
    /// Merkle root of the receipts.
    pub receipts_root: B256,
    /// State hash after the batch.
    pub state_hash: B256,
    /// Unix time in milliseconds when the batch was applied.
    pub time_ms: u64,
    /// Merkle root of the accepted transactions' ids.
    pub tx_root: B256,
}

impl From<&Header> for HeaderJson {
    fn from(h: &Header) -> HeaderJson {
        HeaderJson {
            hash: header_hash(h),
            height: h.height,
            parent: h.parent,
            receipts_root: h.receipts_root,
            state_hash: h.state_hash,
            time_ms: h.time_ms,
            tx_root: h.tx_root,
        }
    }
}

impl HeaderJson {
    /// The header (without its hash, which a caller may check against [`header_hash`]).
    pub fn header(&self) -> Header {
        Header {
            height: self.height,
            parent: self.parent,
            tx_root: self.tx_root,
            receipts_root: self.receipts_root,
            state_hash: self.state_hash,
            time_ms: self.time_ms,
        }
    }
}

/// An EVM log of a receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogJson {
    /// Emitting contract.
    pub address: Address,
    /// Data.
    pub data: Bytes,
    /// Topics.
    pub topics: Vec<B256>,
}

impl From<&Log> for LogJson {
    fn from(l: &Log) -> LogJson {
        LogJson {
            address: l.address,
            data: Bytes::copy_from_slice(&l.data),
            topics: l.topics.clone(),
        }
    }
}

impl From<&LogJson> for Log {
    fn from(l: &LogJson) -> Log {
        Log {
            address: l.address,
            topics: l.topics.clone(),
            data: l.data.to_vec(),
        }
    }
}

/// A receipt: `status` is `accepted`, `failed` (included, the execution reverted or halted)
/// or the reason's name, `code` its number (0 accepted, 3 failed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptJson {
    /// 0 when accepted, else the reason's code.
    pub code: u16,
    /// Gas the call used.
    pub gas_used: u64,
    /// Logs of an accepted call.
    pub logs: Vec<LogJson>,
    /// `accepted` or the reason's name ([`Reason::name`]).
    pub status: String,
    /// The transaction.
    pub tx_id: TxId,
}

impl From<&Receipt> for ReceiptJson {
    fn from(r: &Receipt) -> ReceiptJson {
        let (status, code) = (r.status.name(), r.status.code());
        ReceiptJson {
            code,
            gas_used: r.gas_used,
            logs: r.logs.iter().map(LogJson::from).collect(),
            status: status.to_string(),
            tx_id: r.tx_id,
        }
    }
}

impl ReceiptJson {
    /// The status its `code` names (the `status` text is informative).
    pub fn status(&self) -> Result<Status, String> {
        Status::try_from(self.code)
    }

    /// `None` when included (accepted, or failed with only its nonce bump applied), else
    /// the reason; an error for an unknown code.
    pub fn reason(&self) -> Result<Option<Reason>, String> {
        Ok(match self.status()? {
            Status::Accepted | Status::Failed => None,
            Status::Rejected(r) => Some(r),
        })
    }

    /// The receipt.
    pub fn receipt(&self) -> Result<Receipt, String> {
        Ok(Receipt {
            tx_id: self.tx_id,
            status: self.status()?,
            gas_used: self.gas_used,
            logs: self.logs.iter().map(Log::from).collect(),
        })
    }
}

/// The answer of `GET /receipts/{height}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptsJson {
    /// The height.
    pub height: u64,
    /// The receipts of every transaction submitted in that batch, in submission order.
    pub receipts: Vec<ReceiptJson>,
}

/// A value: an account is `{balance, code_hash, nonce}`, a storage word a hex string.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ValueJson {
    /// An account record.
    Account {
        /// Balance in wei.
        balance: U256,
        /// Keccak-256 of the runtime code.
        code_hash: B256,
        /// Nonce.
        nonce: u64,
    },
    /// A storage word.
    Storage(U256),
}

impl From<&Value> for ValueJson {
    fn from(v: &Value) -> ValueJson {
        match v {
            Value::Account(a) => ValueJson::Account {
                balance: a.balance,
                code_hash: a.code_hash,
                nonce: a.nonce,
            },
            Value::Storage(w) => ValueJson::Storage(*w),
        }
    }
}

impl From<&ValueJson> for Value {
    fn from(v: &ValueJson) -> Value {
        match v {
            ValueJson::Account {
                balance,
                code_hash,
                nonce,
            } => Value::Account(Account {
                balance: *balance,
                nonce: *nonce,
                code_hash: *code_hash,
            }),
            ValueJson::Storage(w) => Value::Storage(*w),
        }
    }
}

/// The state of a version, as `GET /version/...` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionStateJson {
    /// Live with the value given.
    Live,
    /// A key never written: live, with the zero value given.
    NeverWritten,
    /// Spent, or never created: no value.
    NotLive,
}

/// The answer of `GET /version/{intx}/{mark}/{addr}/{slot}`: `{state, value}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionJson {
    /// Live, never written or not live.
    pub state: VersionStateJson,
    /// The value, `null` when not live.
    pub value: Option<ValueJson>,
}

impl VersionJson {
    /// A live version with this value.
    pub fn live(v: &Value) -> VersionJson {
        VersionJson {
            state: VersionStateJson::Live,
            value: Some(v.into()),
        }
    }
    /// A never-written key with its zero value.
    pub fn never_written(v: &Value) -> VersionJson {
        VersionJson {
            state: VersionStateJson::NeverWritten,
            value: Some(v.into()),
        }
    }
    /// A version that is not live.
    pub fn not_live() -> VersionJson {
        VersionJson {
            state: VersionStateJson::NotLive,
            value: None,
        }
    }
    /// The value when the version is live (never-written keys included).
    pub fn live_value(&self) -> Option<Value> {
        match self.state {
            VersionStateJson::NotLive => None,
            _ => self.value.as_ref().map(Value::from),
        }
    }
}

/// The `200` answer of `POST /batch`: the batch was decoded and checked, and what was
/// accepted (possibly nothing) is committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchApplied {
    /// Transactions accepted.
    pub accepted: usize,
    /// Hash of the new header, `null` when nothing was accepted (nothing was written).
    pub header_hash: Option<B256>,
    /// The new height, `null` when nothing was accepted.
    pub height: Option<u64>,
    /// Moves of the accepted transactions.
    pub moves: usize,
    /// One receipt per submitted transaction, in batch order.
    pub receipts: Vec<ReceiptJson>,
    /// The validator's state hash after the batch.
    pub state_hash: B256,
}

/// A batch refused as a whole (`400`, `413`, `422` or `500`); nothing was applied.
///
/// `reason` is a reason's name ([`Reason::name`]), `empty_batch` or `store_error`; `code` the
/// reason's code, `null` for the latter two. A strict-mode refusal (`422`) also names the
/// first invalid transaction (`index`, `tx_id`) and carries the receipts computed so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRefused {
    /// The reason's code, `null` when it has none.
    pub code: Option<u16>,
    /// What went wrong, in words.
    pub error: String,
    /// Strict mode: position of the first invalid transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The reason's name, `empty_batch` or `store_error`.
    pub reason: String,
    /// Strict mode: the receipts computed before the refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipts: Option<Vec<ReceiptJson>>,
    /// Strict mode: the first invalid transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_id: Option<TxId>,
}

impl BatchRefused {
    /// `reason` for an empty batch.
    pub const EMPTY_BATCH: &'static str = "empty_batch";
    /// `reason` for a store failure.
    pub const STORE_ERROR: &'static str = "store_error";

    /// A refusal with a protocol reason.
    pub fn with_reason(error: impl Into<String>, reason: Reason) -> BatchRefused {
        BatchRefused {
            code: Some(reason.code()),
            error: error.into(),
            index: None,
            reason: reason.name().to_string(),
            receipts: None,
            tx_id: None,
        }
    }

    /// A refusal without a reason code (`empty_batch`, `store_error`).
    pub fn without_code(error: impl Into<String>, reason: &str) -> BatchRefused {
        BatchRefused {
            code: None,
            error: error.into(),
            index: None,
            reason: reason.to_string(),
            receipts: None,
            tx_id: None,
        }
    }

    /// The protocol reason, when `code` names one.
    pub fn protocol_reason(&self) -> Option<Reason> {
        self.code.and_then(Reason::from_code)
    }
}

/// The `503` answer when a queue is full: retry after the `Retry-After` seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusyJson {
    /// Which queue, in words.
    pub detail: String,
    /// Always [`ErrorJson::BUSY`].
    pub error: String,
    /// Capacity of the batch queue.
    pub queue_capacity: usize,
}

/// Every other error answer: `{detail, error}`, `error` a short name (the constants below).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorJson {
    /// What went wrong, in words.
    #[serde(default)]
    pub detail: String,
    /// A short name.
    pub error: String,
}

impl ErrorJson {
    /// `400`: the request is malformed (a height, a version path, a query).
    pub const BAD_REQUEST: &'static str = "bad_request";
    /// `404`: no such height or endpoint.
    pub const NOT_FOUND: &'static str = "not_found";
    /// `503`: a queue is full.
    pub const BUSY: &'static str = "busy";
    /// `503`: the validator is stopping; the request was not carried out.
    pub const SHUTTING_DOWN: &'static str = "shutting_down";
    /// `500`: a store read failed.
    pub const STORE_ERROR: &'static str = "store_error";
    /// `500`: an internal failure (a task that did not finish).
    pub const INTERNAL: &'static str = "internal";
    /// `408`: the request body did not arrive in time (it stalled, or trickled below the
    /// minimum rate); the connection is closed.
    pub const BODY_TIMEOUT: &'static str = "body_timeout";
    /// `503`: the peer's IP, or the server, has as many connections open as allowed; the
    /// connection is closed.
    pub const TOO_MANY_CONNECTIONS: &'static str = "too_many_connections";
    /// `503` from a replica: the order stream (NATS) could not take the batch; it may or
    /// may not be in the log, and posting the same bytes again within the stream's
    /// duplicate window (2 minutes) stores it at most once.
    pub const ORDER_UNAVAILABLE: &'static str = "order_unavailable";
    /// `503` from a replica that stopped applying the order stream (`/health` says why):
    /// nothing was published; post the batch to another replica.
    pub const REPLICA_STOPPED: &'static str = "replica_stopped";
    /// `504` from a replica: the batch is in the order stream (at the sequence the detail
    /// names) but this replica did not apply it in time; it will be applied. Posting the
    /// same bytes again within the duplicate window waits for it again.
    pub const ORDER_TIMEOUT: &'static str = "order_timeout";
    /// `409` from a replica: the batch is in the order stream at the sequence the detail
    /// names and was applied, but its answer is no longer kept (applied before this
    /// process started, or while no request waited for it); its effects are in the chain.
    pub const ALREADY_IN_LOG: &'static str = "already_in_log";

    /// An error body.
    pub fn new(error: impl Into<String>, detail: impl Into<String>) -> ErrorJson {
        ErrorJson {
            detail: detail.into(),
            error: error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The bytes on the wire are those the server wrote before these types existed, when it
    //! built `serde_json::Value` maps: the renderings below are those maps, written out.
    use super::*;
    use serde_json::json;

    fn hex(b: &[u8]) -> String {
        alloy_primitives::hex::encode_prefixed(b)
    }

    fn same_bytes<T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
        typed: &T,
        old: serde_json::Value,
    ) {
        let bytes = serde_json::to_string(typed).expect("serialize");
        assert_eq!(bytes, old.to_string());
        let back: T = serde_json::from_str(&bytes).expect("deserialize");
        assert_eq!(&back, typed);
    }

    fn receipt() -> Receipt {
        Receipt {
            tx_id: B256::repeat_byte(0x11),
            status: Status::Rejected(Reason::VersionNotLive),
            gas_used: 52_000,
            logs: vec![
                Log {
                    address: Address::repeat_byte(0xAB),
                    topics: vec![B256::repeat_byte(2), B256::ZERO],
                    data: vec![0, 1, 0xfe],
                },
                Log {
                    address: Address::ZERO,
                    topics: Vec::new(),
                    data: Vec::new(),
                },
            ],
        }
    }

    fn old_receipt(r: &Receipt) -> serde_json::Value {
        let (status, code) = match r.status {
            Status::Accepted => ("accepted", 0u16),
            Status::Failed => ("failed", Status::FAILED_CODE),
            Status::Rejected(reason) => (reason.name(), reason.code()),
        };
        let logs: Vec<serde_json::Value> = r
            .logs
            .iter()
            .map(|l| {
                json!({
                    "address": hex(l.address.as_slice()),
                    "topics": l.topics.iter().map(|t| hex(t.as_slice())).collect::<Vec<_>>(),
                    "data": hex(&l.data),
                })
            })
            .collect();
        json!({"tx_id": hex(r.tx_id.as_slice()), "status": status, "code": code,
               "gas_used": r.gas_used, "logs": logs})
    }

    #[test]
    fn headers_and_receipts_keep_their_bytes() {
        let h = Header {
            height: 7,
            parent: B256::repeat_byte(1),
            tx_root: B256::repeat_byte(2),
            receipts_root: B256::repeat_byte(3),
            state_hash: B256::repeat_byte(4),
            time_ms: 1_700_000_000_123,
        };
        let typed = HeaderJson::from(&h);
        same_bytes(
            &typed,
            json!({
                "height": h.height,
                "hash": hex(header_hash(&h).as_slice()),
                "parent": hex(h.parent.as_slice()),
                "tx_root": hex(h.tx_root.as_slice()),
                "receipts_root": hex(h.receipts_root.as_slice()),
                "state_hash": hex(h.state_hash.as_slice()),
                "time_ms": h.time_ms,
            }),
        );
        assert_eq!(typed.header(), h);

        let mut accepted = receipt();
        accepted.status = Status::Accepted;
        for r in [receipt(), accepted] {
            let typed = ReceiptJson::from(&r);
            same_bytes(&typed, old_receipt(&r));
            assert_eq!(typed.receipt(), Ok(r.clone()));
        }
        let r = receipt();
        same_bytes(
            &ReceiptsJson {
                height: 3,
                receipts: vec![ReceiptJson::from(&r)],
            },
            json!({"height": 3, "receipts": [old_receipt(&r)]}),
        );
    }

    /// The arithmetic of `MAX_BATCH_RECEIPT_BYTES` (PROTOCOL.md §3): a receipt's fixed part
    /// renders in at most 172 characters (with its separator), a log in at most 82/36 per
    /// encoded byte; so the largest `POST /batch` answer a batch within the budget can
    /// produce (every receipt slot used, the accepted ones filling the budget) fits what
    /// clients read.
    #[test]
    fn a_batch_within_the_receipt_budget_answers_within_the_json_limit() {
        use mf_format::limits::{MAX_BATCH_RECEIPT_BYTES, MAX_TXS_PER_BATCH};
        use mf_format::{encode, receipt_len};
        let json_len = |r: &Receipt| serde_json::to_string(&ReceiptJson::from(r)).map(|s| s.len());
        let longest = Reason::ALL
            .iter()
            .copied()
            .max_by_key(|r| r.name().len())
            .expect("reasons");
        let shell = Receipt {
            tx_id: B256::repeat_byte(0xff),
            status: Status::Rejected(longest),
            gas_used: u64::MAX,
            logs: Vec::new(),
        };
        assert!(json_len(&shell).expect("json") < 172);
        for topics in 0..=4 {
            for data in [0usize, 1, 31, 1000] {
                let log = Log {
                    address: Address::repeat_byte(0xff),
                    topics: vec![B256::repeat_byte(0xff); topics],
                    data: vec![0xff; data],
                };
                let r = Receipt {
                    logs: vec![log.clone(), log],
                    status: Status::Accepted,
                    ..shell.clone()
                };
                let base = Receipt {
                    logs: Vec::new(),
                    status: Status::Accepted,
                    ..shell.clone()
                };
                // Two logs: their characters (with the separator between them) per byte.
                let chars = json_len(&r).expect("json") - json_len(&base).expect("json");
                let bytes = receipt_len(&r.logs) - receipt_len(&[]);
                assert_eq!(bytes, encode(&r).len() - encode(&base).len());
                assert!(36 * chars <= 82 * bytes, "{topics} topics, {data} bytes");
            }
        }
        let envelope = serde_json::to_string(&BatchApplied {
            accepted: usize::MAX,
            header_hash: Some(B256::ZERO),
            height: Some(u64::MAX),
            moves: usize::MAX,
            receipts: Vec::new(),
            state_hash: B256::ZERO,
        })
        .expect("json")
        .len();
        assert!(envelope < 512, "{envelope}");
        let worst = 512 + 172 * MAX_TXS_PER_BATCH + MAX_BATCH_RECEIPT_BYTES * 82 / 36 + 1;
        assert!(worst <= MAX_JSON_ANSWER_BYTES, "{worst}");
    }

    #[test]
    fn versions_keep_their_bytes() {
        let acct = Value::Account(Account {
            balance: U256::from(10u64).pow(U256::from(20u64)),
            nonce: 3,
            code_hash: mf_format::EMPTY_CODE_HASH,
        });
        let old_acct = json!({
            "balance": "0x56bc75e2d63100000",
            "nonce": 3,
            "code_hash": hex(mf_format::EMPTY_CODE_HASH.as_slice()),
        });
        same_bytes(
            &VersionJson::live(&acct),
            json!({"state": "live", "value": old_acct}),
        );
        for (w, text) in [
            (U256::ZERO, "0x0"),
            (U256::MAX, &format!("0x{}", "f".repeat(64))),
        ] {
            same_bytes(
                &VersionJson::never_written(&Value::Storage(w)),
                json!({"state": "never_written", "value": text}),
            );
        }
        same_bytes(
            &VersionJson::not_live(),
            json!({"state": "not_live", "value": null}),
        );
        assert_eq!(VersionJson::live(&acct).live_value(), Some(acct));
    }

    #[test]
    fn batch_answers_and_errors_keep_their_bytes() {
        let r = receipt();
        same_bytes(
            &BatchApplied {
                accepted: 0,
                header_hash: None,
                height: None,
                moves: 0,
                receipts: vec![ReceiptJson::from(&r)],
                state_hash: B256::repeat_byte(9),
            },
            json!({"height": null, "header_hash": null,
                   "state_hash": hex(B256::repeat_byte(9).as_slice()),
                   "accepted": 0, "moves": 0, "receipts": [old_receipt(&r)]}),
        );
        same_bytes(
            &BatchApplied {
                accepted: 1,
                header_hash: Some(B256::repeat_byte(8)),
                height: Some(4),
                moves: 2,
                receipts: Vec::new(),
                state_hash: B256::repeat_byte(9),
            },
            json!({"height": 4, "header_hash": hex(B256::repeat_byte(8).as_slice()),
                   "state_hash": hex(B256::repeat_byte(9).as_slice()),
                   "accepted": 1, "moves": 2, "receipts": []}),
        );
        same_bytes(
            &BatchRefused::with_reason("bad", Reason::LimitExceeded),
            json!({"error": "bad", "reason": "limit_exceeded", "code": 2}),
        );
        same_bytes(
            &BatchRefused::without_code("empty", BatchRefused::EMPTY_BATCH),
            json!({"error": "empty", "reason": "empty_batch", "code": null}),
        );
        let strict = BatchRefused {
            index: Some(5),
            tx_id: Some(B256::repeat_byte(0x11)),
            receipts: Some(vec![ReceiptJson::from(&r)]),
            ..BatchRefused::with_reason("strict", Reason::VersionNotLive)
        };
        same_bytes(
            &strict,
            json!({"error": "strict", "reason": "version_not_live", "code": 80, "index": 5,
                   "tx_id": hex(B256::repeat_byte(0x11).as_slice()),
                   "receipts": [old_receipt(&r)]}),
        );
        same_bytes(
            &BusyJson {
                detail: "the batch queue is full; retry later".into(),
                error: ErrorJson::BUSY.into(),
                queue_capacity: 16,
            },
            json!({"error": "busy", "detail": "the batch queue is full; retry later",
                   "queue_capacity": 16}),
        );
        same_bytes(
            &ErrorJson::new(ErrorJson::NOT_FOUND, "no header at height 9"),
            json!({"error": "not_found", "detail": "no header at height 9"}),
        );
    }
}
