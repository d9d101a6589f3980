//! Traces of the chain's transactions (`debug_traceTransaction`, `mf_traceTransaction`):
//! a transaction is re-run against exactly the `prev` values its moves declare, as its
//! validators re-executed it, so its trace needs no historical state and is the execution
//! the chain accepted. `mf_traceTransaction` answers the moves beside the trace.

use super::transport::RpcError;
use crate::CoordError;
use crate::store::IndexReader;
use alloy_primitives::{B256, Bytes, keccak256};
use mf_format::{Key, Transaction, TxId, Value};
use mf_movegen::StateView;
use std::collections::BTreeMap;

/// The state a transaction declared: its moves' `prev` versions, the code it created, and
/// the index for code and block hashes. A read outside the moves cannot happen for an
/// included transaction (its validators refused such reads), and is an error here.
pub(super) struct Declared<'a> {
    versions: BTreeMap<Key, (TxId, Value)>,
    created: BTreeMap<B256, Bytes>,
    index: &'a IndexReader<'a>,
}

impl<'a> Declared<'a> {
    pub(super) fn new(tx: &Transaction, index: &'a IndexReader<'a>) -> Declared<'a> {
        Declared {
            versions: tx
                .body
                .moves
                .iter()
                .map(|m| (m.key(), (m.intx, m.prev)))
                .collect(),
            created: tx
                .body
                .created_code
                .iter()
                .map(|c| (keccak256(c), Bytes::copy_from_slice(c)))
                .collect(),
            index,
        }
    }
}

impl StateView for Declared<'_> {
    type Error = CoordError;
    fn version(&self, key: &Key) -> Result<Option<(TxId, Value)>, CoordError> {
        match self.versions.get(key) {
            Some(v) => Ok(Some(*v)),
            None => Err(CoordError::Corrupt(format!(
                "tracing read {key:?}, which the transaction did not declare"
            ))),
        }
    }
    fn code(&self, hash: &B256) -> Result<Option<Bytes>, CoordError> {
        match self.created.get(hash) {
            Some(c) => Ok(Some(c.clone())),
            None => self.index.code(hash),
        }
    }
    fn block_hash(&self, number: u64) -> Result<Option<B256>, CoordError> {
        self.index.block_hash(number)
    }
}

/// The geth trace of the chain transaction `tx` (see the module doc). The batch's fee
/// credit is a system change, not an execution: it has no trace.
pub(super) fn trace_included(
    s: &crate::service::Shared,
    r: &IndexReader<'_>,
    tx: &Transaction,
    deadline: std::time::Instant,
    opts: &alloy_rpc_types_trace::geth::GethDebugTracingOptions,
) -> Result<alloy_rpc_types_trace::geth::GethTrace, mf_movegen::MovegenError> {
    if tx.body.call.from == mf_format::SYSTEM_SENDER {
        return Err(mf_movegen::MovegenError::Tracer(
            "the batch's fee credit is a system change (PROTOCOL.md §6.4.6), not an EVM \
             execution: it has no trace"
                .into(),
        ));
    }
    let view = Declared::new(tx, r);
    let rules = s
        .store
        .rules()
        .map_err(|e| mf_movegen::MovegenError::View(Box::new(e)))?;
    let body = &tx.body;
    mf_movegen::trace::trace_call(
        &view,
        body.chain_id,
        &rules,
        &body.call,
        &body.context,
        deadline,
        opts,
    )
}

/// `-32000 transaction not found`, geth's answer for a hash it does not hold.
pub(super) fn not_found(hash: &B256) -> RpcError {
    RpcError::new(
        mf_movegen::rpc::codes::SERVER_ERROR,
        format!("transaction not found: {hash}"),
    )
}
