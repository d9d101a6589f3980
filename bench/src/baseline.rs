//! The sequential baseline of full validation, the Ethereum way: one mutable state in LMDB
//! (`(mark, addr, slot) -> value`, no versions), and for each transaction in order: verify
//! its signature (one by one, strict), execute its call with revm against that state, and
//! write what it changed; one LMDB write transaction per batch, committed with sync.
//!
//! Execution uses the same revm configuration as the validator (`mf_movegen::execute`), so
//! the two sides run the same EVM; the baseline reads every value from LMDB (through the
//! write transaction, so it sees the writes of earlier transactions of its batch).

use anyhow::{Context, Result};
use heed::types::Bytes as HBytes;
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions, RoTxn};
use mf_format::{Account, B256, Key, Mark, MoveKind, Transaction, TxId, U256, Value};
use mf_movegen::StateView;
use mf_movegen::genesis::Genesis;
use std::path::Path;

type Db = Database<'static, HBytes, HBytes>;

/// The baseline's state.
pub struct EthState {
    env: Env,
    state: Db,
    code: Db,
}

fn key_bytes(k: &Key) -> [u8; 53] {
    let mut b = [0u8; 53];
    b[0] = match k.mark {
        Mark::Account => b'a',
        Mark::Storage => b's',
    };
    b[1..21].copy_from_slice(k.addr.as_slice());
    b[21..].copy_from_slice(&k.slot.to_be_bytes::<32>());
    b
}

fn value_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::Account(a) => {
            let mut b = Vec::with_capacity(72);
            b.extend_from_slice(&a.balance.to_be_bytes::<32>());
            b.extend_from_slice(&a.nonce.to_be_bytes());
            b.extend_from_slice(a.code_hash.as_slice());
            b
        }
        Value::Storage(w) => w.to_be_bytes::<32>().to_vec(),
    }
}

fn parse_value(mark: Mark, b: &[u8]) -> Option<Value> {
    match (mark, b.len()) {
        (Mark::Account, 72) => Some(Value::Account(Account {
            balance: U256::from_be_slice(&b[..32]),
            nonce: u64::from_be_bytes(b[32..40].try_into().ok()?),
            code_hash: B256::from_slice(&b[40..]),
        })),
        (Mark::Storage, 32) => Some(Value::Storage(U256::from_be_slice(b))),
        _ => None,
    }
}

/// Why a baseline read failed.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// LMDB failed.
    #[error("lmdb: {0}")]
    Lmdb(#[from] heed::Error),
    /// A stored value has the wrong size.
    #[error("a stored value is damaged")]
    Damaged,
}

/// A [`StateView`] over the baseline's LMDB state, inside one transaction.
struct TxnView<'a, 't> {
    txn: &'a RoTxn<'t>,
    s: &'a EthState,
}

impl StateView for TxnView<'_, '_> {
    type Error = ViewError;
    fn version(&self, key: &Key) -> Result<Option<(TxId, Value)>, ViewError> {
        match self.s.state.get(self.txn, &key_bytes(key))? {
            Some(b) => Ok(Some((
                TxId::ZERO,
                parse_value(key.mark, b).ok_or(ViewError::Damaged)?,
            ))),
            None => Ok(None),
        }
    }
    fn code(&self, hash: &B256) -> Result<Option<alloy_primitives::Bytes>, ViewError> {
        if *hash == mf_format::EMPTY_CODE_HASH {
            return Ok(Some(alloy_primitives::Bytes::new()));
        }
        Ok(self
            .s
            .code
            .get(self.txn, hash.as_slice())?
            .map(alloy_primitives::Bytes::copy_from_slice))
    }
}

impl EthState {
    /// A new state in `dir` loaded with `genesis`.
    pub fn create(dir: &Path, genesis: &Genesis) -> Result<EthState> {
        std::fs::create_dir_all(dir)?;
        // SAFETY: one environment per directory in this process; the directory is new.
        let env = unsafe {
            EnvOpenOptions::new()
                .map_size(1 << 36)
                .max_dbs(2)
                .open(dir)?
        };
        let wtxn = env.write_txn()?;
        let (state, code) = env
            .create_databases_and_commit(wtxn, |wdo, wtxn| {
                let s = wdo.create_database::<HBytes, HBytes>(wtxn, Some("state"))?;
                let c = wdo.create_database::<HBytes, HBytes>(wtxn, Some("code"))?;
                heed::Result::Ok(CommitOrAbort::<_, ()>::Commit((s, c)))
            })?
            .unwrap_commit();
        let me = EthState { env, state, code };
        let mut w = me.env.write_txn()?;
        for (k, v) in &genesis.versions {
            me.state.put(&mut w, &key_bytes(k), &value_bytes(v))?;
        }
        for (h, c) in &genesis.code {
            me.code.put(&mut w, h.as_slice(), c)?;
        }
        w.commit()?;
        Ok(me)
    }

    /// Validates and applies `batch` sequentially in one write transaction. Returns
    /// `(transactions, state changes)`; fails on the first invalid transaction (the
    /// workloads are valid).
    pub fn apply(&self, batch: &[(Transaction, TxId)]) -> Result<(usize, usize)> {
        let mut w = self.env.write_txn()?;
        let mut changes = 0;
        for (tx, _) in batch {
            mf_format::verify_tx_signatures(tx)
                .map_err(|r| anyhow::anyhow!("baseline: bad signature ({})", r.name()))?;
            let body = &tx.body;
            let exec = {
                let view = TxnView { txn: &w, s: self };
                mf_movegen::execute(&view, body.chain_id, &body.call, &body.context)
                    .context("baseline: execution failed")?
            };
            for m in exec.moves.iter().filter(|m| m.kind == MoveKind::Consume) {
                self.state
                    .put(&mut w, &key_bytes(&m.key()), &value_bytes(&m.next))?;
                changes += 1;
            }
            for c in &exec.created_code {
                let h = alloy_primitives::keccak256(c);
                self.code.put(&mut w, h.as_slice(), c)?;
            }
        }
        w.commit()?;
        Ok((batch.len(), changes))
    }

    /// The value of `key` now.
    pub fn value(&self, key: &Key) -> Result<Value> {
        let r = self.env.read_txn()?;
        match self.state.get(&r, &key_bytes(key))? {
            Some(b) => parse_value(key.mark, b).context("damaged value"),
            None => Ok(Value::zero(key.mark)),
        }
    }
}
