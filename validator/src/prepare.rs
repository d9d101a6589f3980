//! The stateless stage: everything about a transaction that does not depend on the order of
//! the batch, done for all transactions in parallel (rayon).
//!
//! Per transaction: the id, the structural checks, the signatures (verified in batches of
//! [`SIG_CHUNK`] across transactions, so one bad signature costs a re-check of its chunk
//! only), the batch's gas budget (the one sequential step here: a running sum of gas limits
//! in batch order, `batch_gas_full`), the re-execution step ([`Reexec`], pluggable: `mf_movegen::ReexecCheck` by default)
//! followed by the receipt cap (`receipt_too_large`, PROTOCOL.md §6.3; the logs kept are
//! bounded per batch, see [`Prepared::exec`]), and the
//! preparation for the critical path: fingerprints of every version and value the
//! transaction uses, and its contribution to the state hash, computed from the declared
//! values (which the critical path then proves are the stored ones).

use crate::fingerprint::{value_fp, version_fp};
use crate::index::{IndexOp, IndexOpKind};
use mf_format::budget::RECEIPT_FIXED_BYTES;
use mf_format::limits::MAX_BATCH_RECEIPT_BYTES;
use mf_format::{
    B256, ChainRules, ExecContext, GENESIS_INTX, GasBudget, LtHash, MoveKind, PublicKey, Reason,
    SigCheck, Transaction, TxId, Value, check_gas_limit, check_receipt_len, check_structure,
    receipt_len, tx_authorization_digest, tx_id, verify_batch, verify_eth_authorization_under,
};
use mf_movegen::{CodeLookup, Reexec, Reexecuted};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Signatures per batch verification.
pub const SIG_CHUNK: usize = 256;

/// Parsed public keys, shared across batches (parsing costs a point decompression).
#[derive(Default)]
pub struct KeyCache {
    map: RwLock<HashMap<[u8; 32], PublicKey>>,
}

/// Most keys kept; the cache is cleared when it grows past this.
const KEY_CACHE_MAX: usize = 1 << 20;

impl KeyCache {
    fn resolve(&self, keys: &[[u8; 32]]) -> HashMap<[u8; 32], Result<PublicKey, Reason>> {
        let mut out = HashMap::with_capacity(keys.len());
        let mut missing = Vec::new();
        if let Ok(m) = self.map.read() {
            for k in keys {
                match m.get(k) {
                    Some(pk) => {
                        out.insert(*k, Ok(*pk));
                    }
                    None => missing.push(*k),
                }
            }
        } else {
            missing.extend_from_slice(keys);
        }
        missing.sort_unstable();
        missing.dedup();
        let parsed: Vec<([u8; 32], Result<PublicKey, Reason>)> = missing
            .par_iter()
            .map(|k| (*k, PublicKey::parse(k)))
            .collect();
        if let Ok(mut m) = self.map.write() {
            if m.len() + parsed.len() > KEY_CACHE_MAX {
                m.clear();
            }
            for (k, r) in &parsed {
                if let Ok(pk) = r {
                    m.insert(*k, *pk);
                }
            }
        }
        out.extend(parsed);
        out
    }
}

/// A transaction after the stateless stage.
#[derive(Debug)]
pub struct Prepared {
    /// Its id.
    pub id: TxId,
    /// The stateless verdict.
    pub stateless: Result<(), Reason>,
    /// Index operations (empty when the stateless stage failed).
    pub ops: Vec<IndexOp>,
    /// `intx` of each move.
    pub intx: Vec<TxId>,
    /// Its state-hash contribution, assuming no genesis spend found a stored value.
    pub delta: Box<LtHash>,
    /// `(op index, element)` of genesis spends: subtracted when the value was stored.
    pub genesis_elems: Vec<(u32, Box<LtHash>)>,
    /// Re-execution output. Its logs are dropped (`logs_kept` false) when keeping them would
    /// take the log bytes this batch's stateless stage keeps past
    /// [`MAX_BATCH_RECEIPT_BYTES`]: no more than that can be accepted, so a batch of log-heavy
    /// transactions costs bounded memory, and the few accepted ones are re-executed for
    /// their logs.
    pub exec: Reexecuted,
    /// The encoded length of its receipt if it is accepted ([`mf_format::receipt_len`] of
    /// the re-execution's logs, whether kept or not): what the batch's receipt budget counts.
    pub receipt_len: usize,
    /// Whether `exec.logs` holds the logs of the re-execution.
    pub logs_kept: bool,
    /// The declared context, kept here (next to the verdict) for the window check of the
    /// critical path, which knows the height and header time (`mf_format::check_context`).
    pub context: ExecContext,
}

impl Prepared {
    fn rejected(id: TxId, r: Reason) -> Prepared {
        Prepared {
            id,
            stateless: Err(r),
            ops: Vec::new(),
            intx: Vec::new(),
            delta: Box::new(LtHash::IDENTITY),
            genesis_elems: Vec::new(),
            exec: Reexecuted::default(),
            receipt_len: 0,
            logs_kept: true,
            context: ExecContext::default(),
        }
    }
}

/// Reserves `bytes` of the log bytes a batch's stateless stage keeps (at most
/// [`MAX_BATCH_RECEIPT_BYTES`]); `false`, reserving nothing, when they do not fit.
fn keep_logs(kept: &AtomicUsize, bytes: usize) -> bool {
    kept.fetch_update(Relaxed, Relaxed, |k| {
        k.checked_add(bytes)
            .filter(|n| *n <= MAX_BATCH_RECEIPT_BYTES)
    })
    .is_ok()
}

/// What the stateless stage keeps of a transaction that re-executed: `receipt_too_large`
/// (66) for a receipt over the per-transaction cap, without its logs; else its preparation,
/// with its logs when they fit the batch's kept bytes (`kept`).
fn prepare_executed(
    tx: &Transaction,
    id: TxId,
    mut exec: Reexecuted,
    kept: &AtomicUsize,
) -> Prepared {
    let len = receipt_len(&exec.logs);
    if let Err(r) = check_receipt_len(len) {
        return Prepared::rejected(id, r);
    }
    let logs_kept = exec.logs.is_empty() || keep_logs(kept, len - RECEIPT_FIXED_BYTES);
    if !logs_kept {
        exec.logs = Vec::new();
    }
    let mut p = prepare_ops(tx, id, exec);
    p.receipt_len = len;
    p.logs_kept = logs_kept;
    p
}

/// Runs the stateless stage over a batch.
pub fn prepare_batch(
    txs: &[Transaction],
    chain_id: u64,
    rules: &ChainRules,
    keys: &KeyCache,
    reexec: &dyn Reexec,
    code: &dyn CodeLookup,
) -> Vec<Prepared> {
    // 1. ids, structure, the messages the authorisations sign (the signing digest, bound to
    // the signers when there are co-signers).
    let first: Vec<(TxId, Result<B256, Reason>)> = txs
        .par_iter()
        .map(|tx| {
            let id = tx_id(&tx.body);
            let r = check_structure(tx, chain_id)
                .and_then(|()| check_gas_limit(tx, rules))
                .map(|()| tx_authorization_digest(tx));
            (id, r)
        })
        .collect();

    // 2. keys.
    let wanted: Vec<[u8; 32]> = txs
        .iter()
        .zip(&first)
        .filter(|(_, (_, r))| r.is_ok())
        .flat_map(|(tx, _)| tx.auths.iter().map(|a| a.public_key))
        .collect();
    let parsed = keys.resolve(&wanted);

    // 3. signatures, in chunks across transactions.
    let mut verdict: Vec<Result<(), Reason>> = first.iter().map(|(_, r)| r.map(|_| ())).collect();
    let mut items: Vec<(usize, PublicKey, usize)> = Vec::new(); // (tx, key, auth index)
    for (ti, tx) in txs.iter().enumerate() {
        if verdict[ti].is_err() {
            continue;
        }
        // Same order as `mf_format::verify_tx_signatures`: per authorisation, a repeated key
        // first, then an invalid one.
        for (ai, a) in tx.auths.iter().enumerate() {
            if tx.auths[..ai].iter().any(|b| b.public_key == a.public_key) {
                verdict[ti] = Err(Reason::DuplicateSigner);
                break;
            }
            match parsed.get(&a.public_key) {
                Some(Ok(pk)) => items.push((ti, *pk, ai)),
                _ => {
                    verdict[ti] = Err(Reason::InvalidPublicKey);
                    break;
                }
            }
        }
    }
    items.retain(|(ti, _, _)| verdict[*ti].is_ok());
    let bad: Vec<usize> = items
        .par_chunks(SIG_CHUNK)
        .flat_map_iter(|chunk| {
            let checks: Vec<SigCheck> = chunk
                .iter()
                .map(|(ti, pk, ai)| SigCheck {
                    key: pk,
                    message: first[*ti].1.as_ref().map(|d| d.as_slice()).unwrap_or(&[]),
                    signature: &txs[*ti].auths[*ai].signature,
                })
                .collect();
            verify_batch(&checks)
                .into_iter()
                .map(|i| chunk[i].0)
                .collect::<Vec<_>>()
        })
        .collect();
    for ti in bad {
        verdict[ti] = Err(Reason::BadSignature);
    }
    // Ethereum authorisations (PROTOCOL.md §5.5): recover each signer (secp256k1), check
    // the body against what it signs and the declared nonce, in parallel.
    let eth: Vec<(usize, Result<(), Reason>)> = txs
        .par_iter()
        .enumerate()
        .filter(|(ti, t)| t.eth.is_some() && verdict[*ti].is_ok())
        .map(|(ti, t)| (ti, verify_eth_authorization_under(t, rules).map(|_| ())))
        .collect();
    for (ti, r) in eth {
        verdict[ti] = r;
    }

    // 3b. the batch's gas budget (PROTOCOL.md §6.4.3 step 0), in batch order, before any
    // execution: a transaction past it is not executed.
    let mut gas = GasBudget::new(rules.batch_gas_limit);
    for (v, tx) in verdict.iter_mut().zip(txs) {
        if v.is_ok() {
            *v = gas.admit(tx.body.call.gas_limit);
        }
    }

    // 4. re-execution (then the receipt cap) and critical-path preparation.
    let kept = AtomicUsize::new(0);
    txs.par_iter()
        .zip(first.par_iter())
        .zip(verdict.into_par_iter())
        .map(|((tx, (id, _)), v)| match v {
            Err(r) => Prepared::rejected(*id, r),
            Ok(()) => match reexec.reexec(tx, id, code) {
                Err(r) => Prepared::rejected(*id, r),
                Ok(exec) => prepare_executed(tx, *id, exec, &kept),
            },
        })
        .collect()
}

/// The critical-path preparation of one transaction that passed the stateless checks: index
/// operations (fingerprints) and its state-hash contribution (its logs kept). Public for the
/// benchmarks.
pub fn prepare_ops(tx: &Transaction, id: TxId, exec: Reexecuted) -> Prepared {
    let moves = &tx.body.moves;
    let mut ops = Vec::with_capacity(moves.len() * 2);
    let mut intx = Vec::with_capacity(moves.len());
    let mut delta = Box::new(LtHash::IDENTITY);
    let mut genesis_elems = Vec::new();
    for (mi, m) in moves.iter().enumerate() {
        let key = m.key();
        let genesis = m.intx == GENESIS_INTX;
        let kind = match (m.kind, genesis) {
            (MoveKind::Consume, false) => IndexOpKind::Spend,
            (MoveKind::Consume, true) => IndexOpKind::SpendGenesis,
            (MoveKind::Reference, false) => IndexOpKind::Ref,
            (MoveKind::Reference, true) => IndexOpKind::RefGenesis,
        };
        ops.push(IndexOp {
            vfp: version_fp(&m.intx, &key),
            value: value_fp(&m.prev),
            kind,
            genesis_zero: m.prev == Value::zero(m.mark),
            mv: mi as u16,
        });
        intx.push(m.intx);
        delta.add(&LtHash::of_move(&id, m));
        if m.kind == MoveKind::Consume && genesis {
            genesis_elems.push((
                (ops.len() - 1) as u32,
                Box::new(LtHash::of_version(&m.intx, &key, &m.prev)),
            ));
        }
    }
    for (mi, m) in moves
        .iter()
        .enumerate()
        .filter(|(_, m)| m.kind == MoveKind::Consume)
    {
        let key = m.key();
        ops.push(IndexOp {
            vfp: version_fp(&id, &key),
            value: value_fp(&m.next),
            kind: IndexOpKind::Create,
            genesis_zero: false,
            mv: mi as u16,
        });
    }
    Prepared {
        id,
        stateless: Ok(()),
        ops,
        intx,
        delta,
        genesis_elems,
        receipt_len: receipt_len(&exec.logs),
        logs_kept: true,
        exec,
        context: tx.body.context,
    }
}
