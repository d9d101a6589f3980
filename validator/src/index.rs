//! The in-memory index of live versions: the critical path.
//!
//! Every live version is one entry `version fp -> (value fp, location)`, where the location
//! names where its value is stored ([`loc`]). The index holds the whole live
//! set, so checking a batch never reads the disk: the store is written append-only
//! (see [`crate::store`]) and the index is rebuilt from it on start.
//!
//! The index is split into [`SHARDS`] hash maps by the top bits of the version fingerprint.
//! A batch is applied optimistically in parallel: its operations are bucketed by shard, each
//! shard replays its own operations in transaction order, and since every operation on one
//! version lands in one shard, each shard sees exactly the history the sequential order
//! would give it. When every operation succeeds (the common case) the batch is done. When
//! any fails, every shard is rolled back and the batch is re-run sequentially, transaction
//! by transaction, which gives the exact verdicts and the filter-mode cascade.

use crate::fingerprint::{USED, ValueFp, VersionFp};
use hashbrown::{HashMap, HashSet};
use mf_format::{Reason, ReceiptBudget, TxId};
use rayon::prelude::*;

/// Number of shards (a power of two).
pub const SHARDS: usize = 256;

/// What the index knows of a live version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Fingerprint of the value ([`USED`] for a spent genesis key).
    pub value: ValueFp,
    /// Where the value is: see [`loc`] (the move that created the version, or for a used
    /// marker the move that spent it).
    pub loc: u64,
}

/// Bits of a location for the move index (MAX_MOVES_PER_TX = 16,384).
pub const LOC_MOVE_BITS: u32 = 14;
/// Bits of a location for the transaction index (MAX_TXS_PER_BATCH = 131072).
pub const LOC_TX_BITS: u32 = 17;

/// The location of move `mv` of the `tx`-th accepted transaction at `height`:
/// `height << 31 | tx << 14 | mv`. Genesis versions (height 0) use their sequence number.
#[inline]
pub const fn loc(height: u64, tx: u32, mv: u16) -> u64 {
    (height << (LOC_TX_BITS + LOC_MOVE_BITS)) | ((tx as u64) << LOC_MOVE_BITS) | mv as u64
}

/// Splits a location into `(height, tx, move)`.
#[inline]
pub const fn split_loc(l: u64) -> (u64, u32, u16) {
    (
        l >> (LOC_TX_BITS + LOC_MOVE_BITS),
        ((l >> LOC_MOVE_BITS) & ((1 << LOC_TX_BITS) - 1)) as u32,
        (l & ((1 << LOC_MOVE_BITS) - 1)) as u16,
    )
}

/// What an operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexOpKind {
    /// Spend a version written by a transaction.
    Spend,
    /// Spend a genesis version (`intx = 0`): stored, or never written and zero.
    SpendGenesis,
    /// Read a version without spending it.
    Ref,
    /// Read a genesis version.
    RefGenesis,
    /// Create the version `(this tx, key)`.
    Create,
}

/// One operation on the index.
#[derive(Clone, Copy, Debug)]
pub struct IndexOp {
    /// The version.
    pub vfp: VersionFp,
    /// The declared value (`prev` for spends and references, `next` for creations).
    pub value: ValueFp,
    /// What to do.
    pub kind: IndexOpKind,
    /// For genesis operations: the declared `prev` is the zero value of its mark, so a
    /// never-written key satisfies it.
    pub genesis_zero: bool,
    /// Index of the move this op comes from.
    pub mv: u16,
}

impl IndexOp {
    fn is_read_phase(&self) -> bool {
        !matches!(self.kind, IndexOpKind::Create)
    }
}

/// A transaction as the index sees it.
#[derive(Clone, Debug)]
pub struct IndexTx<'a> {
    /// Stateless verdict: a transaction that failed it is rejected without touching the index.
    pub stateless: Result<(), Reason>,
    /// The transaction's id.
    pub id: TxId,
    /// Operations: one read-phase op per move, in move order, then one creation per consume.
    pub ops: &'a [IndexOp],
    /// `intx` of each move (same order as the read-phase ops), for the cascade reason.
    pub intx: &'a [TxId],
    /// The encoded length of its receipt if accepted, for the batch's receipt budget
    /// ([`ReceiptBudget`], PROTOCOL.md §6.4.3 step 3).
    pub receipt_len: usize,
}

/// A genesis spend that removed an explicitly stored value (its element leaves the state
/// hash): `(tx index, op index)`.
pub type ExplicitGenesis = (u32, u32);

/// Result of applying a batch to the index.
#[derive(Debug)]
pub struct Applied {
    /// Verdict per transaction.
    pub verdicts: Vec<Result<(), Reason>>,
    /// Genesis spends that found a stored value.
    pub explicit_genesis: Vec<ExplicitGenesis>,
    /// Whether the optimistic parallel pass sufficed.
    pub fast_path: bool,
    undo: Vec<Vec<(VersionFp, Option<Entry>)>>,
}

type Map = HashMap<VersionFp, Entry>;

/// The sharded index.
pub struct Index {
    shards: Vec<Map>,
}

impl Default for Index {
    fn default() -> Self {
        Index::new()
    }
}

#[inline]
fn shard_of(vfp: VersionFp) -> usize {
    (vfp >> 120) as usize & (SHARDS - 1)
}

/// Outcome of checking one read-phase op against current contents.
#[inline]
fn check_read(op: &IndexOp, cur: Option<&Entry>) -> Result<bool, Reason> {
    // Ok(true): the entry is stored explicitly (matters for genesis spends).
    match op.kind {
        IndexOpKind::Spend | IndexOpKind::Ref => match cur {
            Some(e) if e.value == op.value => Ok(true),
            Some(_) => Err(Reason::PrevMismatch),
            None => Err(Reason::VersionNotLive),
        },
        IndexOpKind::SpendGenesis | IndexOpKind::RefGenesis => match cur {
            Some(e) if e.value == USED => Err(Reason::VersionNotLive),
            Some(e) if e.value == op.value => Ok(true),
            Some(_) => Err(Reason::PrevMismatch),
            None if op.genesis_zero => Ok(false),
            None => Err(Reason::PrevMismatch),
        },
        IndexOpKind::Create => Ok(false),
    }
}

impl Index {
    /// An empty index.
    pub fn new() -> Index {
        Index {
            shards: (0..SHARDS).map(|_| Map::default()).collect(),
        }
    }

    /// Number of entries (live versions plus used markers).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.len()).sum()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Looks a version up.
    pub fn get(&self, vfp: VersionFp) -> Option<Entry> {
        self.shards[shard_of(vfp)].get(&vfp).copied()
    }

    /// Inserts an entry (loading from the store).
    pub fn insert(&mut self, vfp: VersionFp, e: Entry) {
        self.shards[shard_of(vfp)].insert(vfp, e);
    }

    /// Removes an entry (loading from the store).
    pub fn remove(&mut self, vfp: VersionFp) -> Option<Entry> {
        self.shards[shard_of(vfp)].remove(&vfp)
    }

    /// Reserves room for `n` more entries in total, spread over the shards.
    pub fn reserve(&mut self, n: usize) {
        let per = n / SHARDS + 1;
        for s in &mut self.shards {
            s.reserve(per);
        }
    }

    /// Bulk insert from many threads: entries are bucketed by shard and each shard is filled
    /// by one thread.
    pub fn par_extend(&mut self, entries: Vec<(VersionFp, Entry)>) {
        let mut buckets: Vec<Vec<(VersionFp, Entry)>> = vec![Vec::new(); SHARDS];
        for (v, e) in entries {
            buckets[shard_of(v)].push((v, e));
        }
        self.shards
            .par_iter_mut()
            .zip(buckets.into_par_iter())
            .for_each(|(m, b)| m.extend(b));
    }

    /// Iterates over all entries (unordered).
    pub fn iter(&self) -> impl Iterator<Item = (&VersionFp, &Entry)> {
        self.shards.iter().flat_map(|s| s.iter())
    }

    /// Applies a batch at `height`. On return the index holds the state after the accepted
    /// transactions; [`Index::rollback`] undoes it (strict-mode rejection or a failed commit).
    ///
    /// A transaction that passes its reads and creations is admitted to the batch's receipt
    /// budget in batch order ([`ReceiptBudget::admit`]): past it, `batch_receipts_full`
    /// (85), which cascades like any rejection. The parallel pass, which accepts every
    /// transaction, runs only when all their receipts fit.
    pub fn apply(&mut self, height: u64, txs: &[IndexTx<'_>]) -> Applied {
        if txs.iter().all(|t| t.stateless.is_ok())
            && ReceiptBudget::all_fit(txs.iter().map(|t| t.receipt_len))
            && let Some(applied) = self.apply_parallel(height, txs)
        {
            return applied;
        }
        self.apply_sequential(height, 0, txs)
    }

    /// Applies `txs` after a batch already applied at `height` by [`Index::apply`], whose
    /// accepted transactions number `accepted_before` (their locations come first), and
    /// adds the result to `applied`: what the validator's own fee credit goes through
    /// (PROTOCOL.md §6.4.6). Verdicts and genesis spends of `txs` follow those of
    /// `applied` (positions offset by its length); one [`Index::rollback`] undoes both.
    pub fn apply_after(
        &mut self,
        height: u64,
        accepted_before: u32,
        txs: &[IndexTx<'_>],
        applied: &mut Applied,
    ) {
        let tail = self.apply_sequential(height, accepted_before, txs);
        let offset = applied.verdicts.len() as u32;
        applied.verdicts.extend(tail.verdicts);
        applied
            .explicit_genesis
            .extend(tail.explicit_genesis.iter().map(|&(t, o)| (t + offset, o)));
        for (mine, more) in applied.undo.iter_mut().zip(tail.undo) {
            mine.extend(more);
        }
    }

    fn apply_parallel(&mut self, height: u64, txs: &[IndexTx<'_>]) -> Option<Applied> {
        // Bucket (tx index, op index) by shard, in transaction order.
        const CHUNK: usize = 512;
        let buckets: Vec<Vec<Vec<(u32, u32)>>> = txs
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(ci, chunk)| {
                let mut per: Vec<Vec<(u32, u32)>> = vec![Vec::new(); SHARDS];
                for (j, tx) in chunk.iter().enumerate() {
                    let ti = (ci * CHUNK + j) as u32;
                    for (oi, op) in tx.ops.iter().enumerate() {
                        per[shard_of(op.vfp)].push((ti, oi as u32));
                    }
                }
                per
            })
            .collect();

        struct ShardOut {
            failed: bool,
            explicit: Vec<ExplicitGenesis>,
            undo: Vec<(VersionFp, Option<Entry>)>,
        }
        let outs: Vec<ShardOut> = self
            .shards
            .par_iter_mut()
            .enumerate()
            .map(|(s, map)| {
                let mut out = ShardOut {
                    failed: false,
                    explicit: Vec::new(),
                    undo: Vec::new(),
                };
                'all: for chunk in &buckets {
                    for &(ti, oi) in &chunk[s] {
                        let tx = &txs[ti as usize];
                        let op = &tx.ops[oi as usize];
                        if op.is_read_phase() {
                            match check_read(op, map.get(&op.vfp)) {
                                Err(_) => {
                                    out.failed = true;
                                    break 'all;
                                }
                                Ok(explicit) => {
                                    if op.kind == IndexOpKind::SpendGenesis && explicit {
                                        out.explicit.push((ti, oi));
                                    }
                                }
                            }
                            match op.kind {
                                IndexOpKind::Spend => {
                                    let old = map.remove(&op.vfp);
                                    out.undo.push((op.vfp, old));
                                }
                                IndexOpKind::SpendGenesis => {
                                    let e = Entry {
                                        value: USED,
                                        loc: loc(height, ti, op.mv),
                                    };
                                    let old = map.insert(op.vfp, e);
                                    out.undo.push((op.vfp, old));
                                }
                                _ => {}
                            }
                        } else {
                            let e = Entry {
                                value: op.value,
                                loc: loc(height, ti, op.mv),
                            };
                            let old = map.insert(op.vfp, e);
                            out.undo.push((op.vfp, old));
                            if old.is_some() {
                                out.failed = true;
                                break 'all;
                            }
                        }
                    }
                }
                out
            })
            .collect();

        let mut undo = Vec::with_capacity(SHARDS);
        let mut explicit = Vec::new();
        let mut failed = false;
        for o in outs {
            failed |= o.failed;
            explicit.extend(o.explicit);
            undo.push(o.undo);
        }
        let mut applied = Applied {
            verdicts: vec![Ok(()); txs.len()],
            explicit_genesis: explicit,
            fast_path: true,
            undo,
        };
        if failed {
            self.rollback(&mut applied);
            return None;
        }
        applied.explicit_genesis.sort_unstable();
        Some(applied)
    }

    fn apply_sequential(&mut self, height: u64, first: u32, txs: &[IndexTx<'_>]) -> Applied {
        let mut applied = Applied {
            verdicts: Vec::with_capacity(txs.len()),
            explicit_genesis: Vec::new(),
            fast_path: false,
            undo: vec![Vec::new(); SHARDS],
        };
        let mut rejected: HashSet<TxId> = HashSet::new();
        let mut spent_here: HashSet<VersionFp> = HashSet::new();
        let mut explicit_tx: Vec<ExplicitGenesis> = Vec::new();
        let mut budget = ReceiptBudget::new();
        let mut accepted = first;
        for (ti, tx) in txs.iter().enumerate() {
            let verdict = tx.stateless.and_then(|()| {
                explicit_tx.clear();
                for (oi, op) in tx.ops.iter().enumerate() {
                    let cur = self.shards[shard_of(op.vfp)].get(&op.vfp);
                    if op.is_read_phase() {
                        match check_read(op, cur) {
                            Ok(explicit) => {
                                if op.kind == IndexOpKind::SpendGenesis && explicit {
                                    explicit_tx.push((ti as u32, oi as u32));
                                }
                            }
                            Err(r) => {
                                let intx = tx.intx.get(oi).copied().unwrap_or_default();
                                return Err(if rejected.contains(&intx) {
                                    Reason::DependsOnRejected
                                } else if spent_here.contains(&op.vfp) {
                                    Reason::DoubleUseInBatch
                                } else {
                                    r
                                });
                            }
                        }
                    } else if cur.is_some() {
                        return Err(Reason::DuplicateTransaction);
                    }
                }
                // Accepted unless its receipt is past the batch's budget.
                budget.admit(tx.receipt_len)
            });
            if verdict.is_ok() {
                applied.explicit_genesis.extend_from_slice(&explicit_tx);
                for op in tx.ops {
                    let s = shard_of(op.vfp);
                    let map = &mut self.shards[s];
                    let old = match op.kind {
                        IndexOpKind::Spend => {
                            spent_here.insert(op.vfp);
                            map.remove(&op.vfp)
                        }
                        IndexOpKind::SpendGenesis => {
                            spent_here.insert(op.vfp);
                            map.insert(
                                op.vfp,
                                Entry {
                                    value: USED,
                                    loc: loc(height, accepted, op.mv),
                                },
                            )
                        }
                        IndexOpKind::Create => map.insert(
                            op.vfp,
                            Entry {
                                value: op.value,
                                loc: loc(height, accepted, op.mv),
                            },
                        ),
                        IndexOpKind::Ref | IndexOpKind::RefGenesis => continue,
                    };
                    applied.undo[s].push((op.vfp, old));
                }
                accepted += 1;
            } else {
                rejected.insert(tx.id);
            }
            applied.verdicts.push(verdict);
        }
        applied
    }

    /// Undoes an application (in reverse order, shard by shard).
    pub fn rollback(&mut self, applied: &mut Applied) {
        let undo = std::mem::take(&mut applied.undo);
        self.shards
            .par_iter_mut()
            .zip(undo.into_par_iter())
            .for_each(|(map, log)| {
                for (vfp, old) in log.into_iter().rev() {
                    match old {
                        Some(e) => {
                            map.insert(vfp, e);
                        }
                        None => {
                            map.remove(&vfp);
                        }
                    }
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// Spreads small version numbers over the shards.
    fn vfp(v: u32) -> VersionFp {
        (u128::from(v) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
    }

    #[derive(Clone, Debug)]
    enum T {
        Spend(u32, u128),
        Ref(u32, u128),
    }

    /// A batch: per transaction, its reads, then one creation of a fresh version.
    fn batch() -> impl Strategy<Value = Vec<Vec<T>>> {
        let read = prop_oneof![
            (0u32..40, 1u128..4).prop_map(|(v, x)| T::Spend(v, x)),
            (0u32..40, 1u128..4).prop_map(|(v, x)| T::Ref(v, x)),
        ];
        proptest::collection::vec(proptest::collection::vec(read, 1..4), 1..40)
    }

    fn create(v: u32) -> IndexOp {
        IndexOp {
            vfp: vfp(v),
            value: 1,
            kind: IndexOpKind::Create,
            genesis_zero: false,
            mv: 0,
        }
    }

    /// PROTOCOL.md §6.4.3 step 3: a transaction whose receipt is past the batch's budget is
    /// `batch_receipts_full`, what it would have created never exists (its dependant is
    /// `depends_on_rejected`), and a later one that still fits is accepted.
    #[test]
    fn a_receipt_past_the_budget_is_cut_and_its_dependants_cascade() {
        use mf_format::limits::MAX_BATCH_RECEIPT_BYTES as B;
        let mut index = Index::new();
        let ids: Vec<TxId> = (0..4u8).map(TxId::with_last_byte).collect();
        let spend = IndexOp {
            vfp: vfp(101),
            value: 1,
            kind: IndexOpKind::Spend,
            genesis_zero: false,
            mv: 0,
        };
        let ops = [
            vec![create(100)],
            vec![create(101)],
            vec![spend, create(102)],
            vec![create(103)],
        ];
        let intx = [vec![], vec![], vec![ids[1]], vec![]];
        let lens = [B / 2, B / 2 + 1, 50, B / 2];
        let txs: Vec<IndexTx> = (0..4)
            .map(|i| IndexTx {
                stateless: Ok(()),
                id: ids[i],
                ops: &ops[i],
                intx: &intx[i],
                receipt_len: lens[i],
            })
            .collect();
        let mut applied = index.apply(1, &txs);
        assert_eq!(
            applied.verdicts,
            vec![
                Ok(()),
                Err(Reason::BatchReceiptsFull),
                Err(Reason::DependsOnRejected),
                Ok(())
            ]
        );
        assert!(
            !applied.fast_path,
            "receipts past the budget take the sequential path"
        );
        assert!(index.get(vfp(100)).is_some() && index.get(vfp(103)).is_some());
        assert!(index.get(vfp(101)).is_none() && index.get(vfp(102)).is_none());
        index.rollback(&mut applied);
        assert!(index.is_empty());

        // Receipts that fit take the parallel path.
        let small: Vec<IndexTx> = txs
            .iter()
            .take(2)
            .map(|t| IndexTx {
                receipt_len: B / 2,
                ..t.clone()
            })
            .collect();
        let applied = index.apply(1, &small);
        assert!(applied.fast_path);
        assert_eq!(applied.verdicts, vec![Ok(()), Ok(())]);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// The sharded optimistic apply (and its sequential fallback) accepts exactly what a
        /// plain sequential model accepts, ends in the same set, and rolls back to the start.
        #[test]
        fn parallel_apply_matches_a_sequential_model(b in batch(), initial in proptest::collection::btree_map(0u32..20, 1u128..4, 0..20)) {
            // Versions 0..20 may exist initially; tx i creates version 20 + i with value 1..3.
            let mut index = Index::new();
            let mut model: BTreeMap<VersionFp, u128> = BTreeMap::new();
            for (v, x) in &initial {
                index.insert(vfp(*v), Entry { value: *x, loc: 0 });
                model.insert(vfp(*v), *x);
            }
            let start = model.clone();
            let ops: Vec<Vec<IndexOp>> = b
                .iter()
                .enumerate()
                .map(|(i, reads)| {
                    let mut seen = std::collections::BTreeSet::new();
                    let mut ops: Vec<IndexOp> = reads
                        .iter()
                        .filter(|t| seen.insert(match t { T::Spend(v, _) | T::Ref(v, _) => *v }))
                        .map(|t| {
                            let (v, x, kind) = match t {
                                T::Spend(v, x) => (*v, *x, IndexOpKind::Spend),
                                T::Ref(v, x) => (*v, *x, IndexOpKind::Ref),
                            };
                            IndexOp { vfp: vfp(v), value: x, kind, genesis_zero: false, mv: 0 }
                        })
                        .collect();
                    ops.push(IndexOp {
                        vfp: vfp(20 + i as u32),
                        value: (i as u128 % 3) + 1,
                        kind: IndexOpKind::Create,
                        genesis_zero: false,
                        mv: 0,
                    });
                    ops
                })
                .collect();
            let ids: Vec<TxId> = (0..ops.len()).map(|i| TxId::with_last_byte(i as u8)).collect();
            let txs: Vec<IndexTx> = ops
                .iter()
                .zip(&ids)
                .map(|(o, id)| IndexTx { stateless: Ok(()), id: *id, ops: o, intx: &[], receipt_len: 0 })
                .collect();
            // The model.
            let mut expect = Vec::new();
            for o in &ops {
                let ok = o.iter().all(|op| match op.kind {
                    IndexOpKind::Create => !model.contains_key(&op.vfp),
                    _ => model.get(&op.vfp) == Some(&op.value),
                });
                if ok {
                    for op in o {
                        match op.kind {
                            IndexOpKind::Spend => { model.remove(&op.vfp); }
                            IndexOpKind::Create => { model.insert(op.vfp, op.value); }
                            _ => {}
                        }
                    }
                }
                expect.push(ok);
            }
            let mut applied = index.apply(1, &txs);
            let got: Vec<bool> = applied.verdicts.iter().map(|v| v.is_ok()).collect();
            prop_assert_eq!(&got, &expect);
            prop_assert_eq!(applied.fast_path, expect.iter().all(|x| *x));
            let now: BTreeMap<VersionFp, u128> = index.iter().map(|(k, e)| (*k, e.value)).collect();
            prop_assert_eq!(&now, &model);
            index.rollback(&mut applied);
            let back: BTreeMap<VersionFp, u128> = index.iter().map(|(k, e)| (*k, e.value)).collect();
            prop_assert_eq!(&back, &start);
        }
    }
}
