//! The validator: the store, the index and the state hash behind one API that applies
//! batches. Code that checks batches does not know whether an entry came from genesis, an
//! earlier batch or this one; the flush boundary is the LMDB commit of each batch.

use crate::fingerprint::{USED, ValueFp, VersionFp, value_fp_bytes, version_fp, version_fp_bytes};
use crate::genesis::Genesis;
use crate::index::{Applied, Entry, Index, IndexTx, loc, split_loc};
use crate::prepare::{KeyCache, Prepared, prepare_batch};
use crate::state_hash::par_sum;
use crate::store::{BatchWrite, Store, StoreError, split_record};
use mf_format::{
    B256, Batch, FormatError, GENESIS_INTX, Header, Key, LtHash, MoveKind, Reason, Receipt, Status,
    TxId, Value, VersionId, check_context, decode_batch, encode,
    hash::{merkle_leaf, merkle_root_of_leaves},
    header_hash, merkle_empty_root, split_batch,
};
use mf_movegen::{CodeLookup, Reexec, ReexecCheck};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// How a batch treats an invalid transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Any invalid transaction rejects the whole batch (following an ordered chain).
    Strict,
    /// Invalid transactions are dropped with their reason; dependants cascade.
    Filter,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "strict" => Ok(Mode::Strict),
            "filter" => Ok(Mode::Filter),
            _ => Err(format!("unknown mode {s:?}: use strict or filter")),
        }
    }
}

/// Why a batch was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The bytes are not a batch.
    #[error("batch refused: {0}")]
    Decode(#[from] FormatError),
    /// Strict mode: a transaction was invalid, so nothing was applied.
    #[error("batch refused (strict): transaction {index} ({tx_id}) is invalid: {reason}")]
    Strict {
        /// Position in the batch.
        index: usize,
        /// Its id.
        tx_id: TxId,
        /// Why.
        reason: Reason,
        /// Every transaction's verdict.
        receipts: Vec<Receipt>,
    },
    /// The batch has no transaction.
    #[error("batch refused: it has no transaction")]
    Empty,
    /// The store failed; nothing was applied.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApplyError {
    /// The reason code for a refusal of the batch itself, where there is one.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            ApplyError::Decode(e) => Some(e.reason()),
            ApplyError::Strict { reason, .. } => Some(*reason),
            _ => None,
        }
    }
}

/// What applying a batch did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The new header, or `None` when no transaction was accepted (nothing was written).
    pub header: Option<Header>,
    /// One receipt per transaction, in batch order.
    pub receipts: Vec<Receipt>,
    /// Accepted transactions.
    pub accepted: usize,
    /// Moves of the accepted transactions.
    pub moves: usize,
    /// Whether the optimistic parallel apply sufficed.
    pub fast_path: bool,
    /// Time spent in each stage.
    pub timings: Timings,
}

/// Seconds spent per stage of one batch.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    /// Decode.
    pub decode: f64,
    /// Stateless stage (parallel).
    pub stateless: f64,
    /// Index apply (the critical path).
    pub apply: f64,
    /// Building records and committing to LMDB.
    pub commit: f64,
    /// Of `commit`, the LMDB write transaction and its sync.
    pub lmdb: f64,
}

/// A batch applied in memory whose write is in the commit thread's hands.
#[must_use = "receipts may be given out only after `wait` returns"]
pub struct Pending {
    outcome: Outcome,
    done: Option<mpsc::Receiver<Result<f64, StoreError>>>,
}

impl Pending {
    /// The outcome, before the batch is known to be on disk.
    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    /// Waits until the batch is on disk.
    pub fn wait(mut self) -> Result<Outcome, ApplyError> {
        if let Some(rx) = self.done.take() {
            match rx.recv() {
                Ok(Ok(lmdb)) => {
                    self.outcome.timings.lmdb = lmdb;
                    self.outcome.timings.commit += lmdb;
                }
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => return Err(StoreError::Failed.into()),
            }
        }
        Ok(self.outcome)
    }
}

type Job = (Box<BatchWrite>, mpsc::SyncSender<Result<f64, StoreError>>);

/// The commit stage: one thread that writes batches to LMDB in the order they were applied.
/// After a failed write the in-memory state is ahead of the disk, so every later submission
/// is refused until a restart rebuilds the state from the store.
struct Committer {
    tx: Option<mpsc::SyncSender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    failed: Arc<AtomicBool>,
}

impl Committer {
    fn start(store: Arc<Store>, chain_id: u64) -> Committer {
        let (tx, rx) = mpsc::sync_channel::<Job>(2);
        let failed = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&failed);
        let thread = std::thread::Builder::new()
            .name("mf-commit".into())
            .spawn(move || {
                for (w, reply) in rx {
                    let t = Instant::now();
                    let r = if flag.load(Ordering::SeqCst) {
                        Err(StoreError::Failed)
                    } else {
                        store
                            .commit(&w, chain_id)
                            .map(|()| t.elapsed().as_secs_f64())
                    };
                    if let Err(e) = &r {
                        tracing::error!(height = w.header.height, error = %e, "commit failed");
                        flag.store(true, Ordering::SeqCst);
                    }
                    drop(w);
                    let _ = reply.send(r);
                }
            })
            .ok();
        Committer {
            tx: Some(tx),
            thread,
            failed,
        }
    }

    fn submit(&self, w: BatchWrite) -> Result<mpsc::Receiver<Result<f64, StoreError>>, StoreError> {
        if self.failed.load(Ordering::SeqCst) || self.thread.is_none() {
            return Err(StoreError::Failed);
        }
        let (reply, rx) = mpsc::sync_channel(1);
        self.tx
            .as_ref()
            .ok_or(StoreError::Failed)?
            .send((Box::new(w), reply))
            .map_err(|_| StoreError::Failed)?;
        Ok(rx)
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        // Closing the channel lets the thread finish the writes in hand, then exit.
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What a version lookup finds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionState {
    /// Live with this value.
    Live(Value),
    /// A genesis key that was never written: live, zero.
    NeverWritten(Value),
    /// Spent, or never created.
    NotLive,
}

struct StoreCode<'a> {
    store: &'a Store,
    batch: HashMap<B256, &'a [u8]>,
}

impl CodeLookup for StoreCode<'_> {
    fn code(&self, hash: &B256) -> Option<Vec<u8>> {
        if let Some(c) = self.batch.get(hash) {
            return Some(c.to_vec());
        }
        self.store.code(&hash.0).ok().flatten()
    }
}

/// The validator state.
pub struct Validator {
    committer: Committer,
    store: Arc<Store>,
    index: Index,
    lthash: LtHash,
    head: Header,
    chain_id: u64,
    keys: KeyCache,
    reexec: Box<dyn Reexec>,
    clock: fn() -> u64,
}

/// The default header clock: milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Validator {
    /// Creates a validator in an empty directory from a genesis.
    pub fn init(dir: &Path, genesis: &Genesis) -> Result<Validator, StoreError> {
        if Store::exists(dir) {
            return Err(StoreError::AlreadyInitialised(dir.display().to_string()));
        }
        if genesis.versions.len() as u64 >= 1 << 27 {
            return Err(StoreError::Corrupt(format!(
                "genesis has {} versions; at most 2^27 fit the location scheme",
                genesis.versions.len()
            )));
        }
        let store = Store::open(dir, true)?;
        let lthash = genesis.lthash();
        let mut w = BatchWrite::default();
        for (seq, (key, value)) in genesis.versions.iter().enumerate() {
            let mut rec = VersionId::new(GENESIS_INTX, *key).to_bytes().to_vec();
            let mut buf = [0u8; Value::MAX_ENCODED_LEN];
            rec.extend_from_slice(value.encode_fixed(&mut buf));
            w.genesis.push((seq as u64, rec));
        }
        w.code = genesis.code.iter().map(|(h, c)| (h.0, c.clone())).collect();
        w.header = Header {
            height: 0,
            parent: B256::ZERO,
            tx_root: merkle_empty_root(),
            receipts_root: merkle_empty_root(),
            state_hash: lthash.digest(),
            time_ms: 0,
        };
        w.receipts = encode(&Vec::<Receipt>::new());
        w.lthash = lthash;
        store.commit(&w, genesis.chain_id)?;
        drop(store);
        Validator::open(dir)
    }

    /// Opens an initialised directory and rebuilds the index from the store.
    pub fn open(dir: &Path) -> Result<Validator, StoreError> {
        let store = Store::open(dir, false)?;
        let height = store
            .height()?
            .ok_or_else(|| StoreError::NotInitialised(dir.display().to_string()))?;
        let head = store
            .header(height)?
            .ok_or_else(|| StoreError::Corrupt(format!("no header at height {height}")))?;
        let lthash = store.lthash()?;
        let chain_id = store.chain_id()?;
        let index = rebuild_index(&store)?;
        tracing::info!(height, entries = index.len(), "validator opened");
        let store = Arc::new(store);
        Ok(Validator {
            committer: Committer::start(Arc::clone(&store), chain_id),
            store,
            index,
            lthash,
            head,
            chain_id,
            keys: KeyCache::default(),
            reexec: Box::new(ReexecCheck),
            clock: now_ms,
        })
    }

    /// Replaces the re-execution step (the default is [`ReexecCheck`], revm against the
    /// declared values; [`mf_movegen::StructureOnly`] skips it, for benchmarks of the other
    /// stages).
    pub fn set_reexec(&mut self, r: Box<dyn Reexec>) {
        self.reexec = r;
    }

    /// Replaces the header clock (milliseconds since the Unix epoch; the default is
    /// [`now_ms`]). Each batch reads it once, before checking: that reading is the header's
    /// `time_ms`, and its seconds are the `T` of the context window (PROTOCOL.md §6.3.1).
    /// Tests pin it; a follower replaying a chain would serve the producer's times.
    pub fn set_clock(&mut self, clock: fn() -> u64) {
        self.clock = clock;
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }
    /// The last header.
    pub fn head(&self) -> &Header {
        &self.head
    }
    /// The current state hash.
    pub fn state_hash(&self) -> B256 {
        self.lthash.digest()
    }
    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }
    /// A shared handle on the store, for readers on other threads (LMDB readers do not block
    /// the writer).
    pub fn store_handle(&self) -> Arc<Store> {
        Arc::clone(&self.store)
    }
    /// Number of index entries (live versions and used markers).
    pub fn index_len(&self) -> usize {
        self.index.len()
    }
    /// The index (bench preload).
    pub fn index_mut(&mut self) -> &mut Index {
        &mut self.index
    }

    /// Looks up version `(intx, key)`.
    pub fn version(&self, intx: &TxId, key: &Key) -> Result<VersionState, StoreError> {
        match self.index.get(version_fp(intx, key)) {
            None if intx.is_zero() => Ok(VersionState::NeverWritten(Value::zero(key.mark))),
            None => Ok(VersionState::NotLive),
            Some(e) if e.value == USED => Ok(VersionState::NotLive),
            Some(e) => value_at(&self.store, e.loc).map(VersionState::Live),
        }
    }

    /// Decodes and applies a batch.
    pub fn apply_bytes(&mut self, bytes: &[u8], mode: Mode) -> Result<Outcome, ApplyError> {
        let t = Instant::now();
        // Transactions are decoded in parallel between the boundaries `split_batch` finds;
        // any failure falls back to the whole-batch decoder, which gives the exact error.
        let parallel = split_batch(bytes).and_then(|slices| {
            slices
                .par_iter()
                .map(|s| mf_format::decode_tx(s))
                .collect::<Result<Vec<_>, _>>()
                .ok()
        });
        let batch = match parallel {
            Some(txs) => Batch { txs },
            None => decode_batch(bytes)?,
        };
        let decode = t.elapsed().as_secs_f64();
        let mut out = self.apply_batch(&batch, mode)?;
        out.timings.decode = decode;
        Ok(out)
    }

    /// Applies a decoded batch and waits until it is on disk.
    pub fn apply_batch(&mut self, batch: &Batch, mode: Mode) -> Result<Outcome, ApplyError> {
        self.submit_batch(batch, mode)?.wait()
    }

    /// Applies a decoded batch; see [`Validator::submit_prepared`].
    pub fn submit_batch(&mut self, batch: &Batch, mode: Mode) -> Result<Pending, ApplyError> {
        if batch.txs.is_empty() {
            return Err(ApplyError::Empty);
        }
        let t0 = Instant::now();
        let code = StoreCode {
            store: self.store.as_ref(),
            batch: batch
                .txs
                .iter()
                .flat_map(|t| t.body.created_code.iter())
                .map(|c| (alloy_primitives::keccak256(c), c.as_slice()))
                .collect(),
        };
        let prepared = prepare_batch(
            &batch.txs,
            self.chain_id,
            &self.keys,
            self.reexec.as_ref(),
            &code,
        );
        let stateless = t0.elapsed().as_secs_f64();
        self.submit_prepared(batch, &prepared, mode, stateless)
    }

    /// Applies a batch whose stateless stage is done, and waits until it is on disk.
    pub fn apply_prepared(
        &mut self,
        batch: &Batch,
        prepared: &[Prepared],
        mode: Mode,
        stateless: f64,
    ) -> Result<Outcome, ApplyError> {
        self.submit_prepared(batch, prepared, mode, stateless)?
            .wait()
    }

    /// Applies a batch whose stateless stage is done and hands its write to the commit
    /// thread. The in-memory state moves on at once, so the next batch can be checked while
    /// this one is written; its receipts may be given out only after [`Pending::wait`]
    /// returns. Commits happen in submission order.
    pub fn submit_prepared(
        &mut self,
        batch: &Batch,
        prepared: &[Prepared],
        mode: Mode,
        stateless: f64,
    ) -> Result<Pending, ApplyError> {
        let height = self.head.height + 1;
        // The header time is read once, before checking: the window check below and the
        // header written use the same `time_ms`.
        let time_ms = (self.clock)();
        let time_s = time_ms / 1000;
        let t1 = Instant::now();
        let itxs: Vec<IndexTx> = prepared
            .iter()
            .map(|p| IndexTx {
                // The context window (PROTOCOL.md §6.3.1) is the last stateless check: it
                // needs only the height and the header time, so it runs here, before the
                // double-use check of the transaction. A failure cascades like any other.
                stateless: match p.stateless {
                    Ok(()) => check_context(&p.context, height, time_s),
                    Err(r) => Err(r),
                },
                id: p.id,
                ops: &p.ops,
                intx: &p.intx,
            })
            .collect();
        let mut applied = self.index.apply(height, &itxs);
        let apply = t1.elapsed().as_secs_f64();

        let receipts: Vec<Receipt> = prepared
            .iter()
            .zip(&applied.verdicts)
            .map(|(p, v)| Receipt {
                tx_id: p.id,
                status: match v {
                    Ok(()) => Status::Accepted,
                    Err(r) => Status::Rejected(*r),
                },
                gas_used: if v.is_ok() { p.exec.gas_used } else { 0 },
                logs: if v.is_ok() {
                    p.exec.logs.clone()
                } else {
                    Vec::new()
                },
            })
            .collect();
        if mode == Mode::Strict
            && let Some((index, reason)) = applied
                .verdicts
                .iter()
                .enumerate()
                .find_map(|(i, v)| v.err().map(|r| (i, r)))
        {
            self.index.rollback(&mut applied);
            return Err(ApplyError::Strict {
                index,
                tx_id: prepared[index].id,
                reason,
                receipts,
            });
        }
        let accepted = applied.verdicts.iter().filter(|v| v.is_ok()).count();
        let moves: usize = batch
            .txs
            .iter()
            .zip(&applied.verdicts)
            .filter(|(_, v)| v.is_ok())
            .map(|(t, _)| t.body.moves.len())
            .sum();
        if accepted == 0 {
            self.index.rollback(&mut applied);
            return Ok(Pending {
                outcome: Outcome {
                    header: None,
                    receipts,
                    accepted,
                    moves,
                    fast_path: applied.fast_path,
                    timings: Timings {
                        stateless,
                        apply,
                        ..Timings::default()
                    },
                },
                done: None,
            });
        }

        let t2 = Instant::now();
        let mut lthash = self.lthash.clone();
        let (w, new_lthash) = match self.build_write(
            height, time_ms, batch, prepared, &applied, &receipts, lthash,
        ) {
            Ok(x) => x,
            Err(e) => {
                self.index.rollback(&mut applied);
                return Err(e);
            }
        };
        lthash = new_lthash;
        let build = t2.elapsed().as_secs_f64();
        let header = w.header;
        let done = match self.committer.submit(w) {
            Ok(rx) => rx,
            Err(e) => {
                self.index.rollback(&mut applied);
                return Err(e.into());
            }
        };
        self.lthash = lthash;
        self.head = header;
        Ok(Pending {
            outcome: Outcome {
                header: Some(header),
                receipts,
                accepted,
                moves,
                fast_path: applied.fast_path,
                timings: Timings {
                    decode: 0.0,
                    stateless,
                    apply,
                    commit: build,
                    lmdb: 0.0,
                },
            },
            done: Some(done),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn build_write(
        &self,
        height: u64,
        time_ms: u64,
        batch: &Batch,
        prepared: &[Prepared],
        applied: &Applied,
        receipts: &[Receipt],
        mut lthash: LtHash,
    ) -> Result<(BatchWrite, LtHash), ApplyError> {
        let accepted: Vec<usize> = (0..prepared.len())
            .filter(|i| applied.verdicts[*i].is_ok())
            .collect();
        // State hash: the deltas of accepted transactions (summed in parallel), minus the
        // elements of stored genesis values that were spent.
        let sum = par_sum(accepted.par_iter().map(|&i| &*prepared[i].delta));
        lthash.add(&sum);
        for &(ti, oi) in &applied.explicit_genesis {
            let p = &prepared[ti as usize];
            if let Some((_, e)) = p.genesis_elems.iter().find(|(o, _)| *o == oi) {
                lthash.sub(e);
            }
        }

        let txs = accepted
            .par_iter()
            .map(|&i| {
                let mut rec = Vec::with_capacity(32 + 64 + batch.txs[i].body.moves.len() * 200);
                rec.extend_from_slice(prepared[i].id.as_slice());
                mf_format::fast::put_tx(&mut rec, &batch.txs[i]);
                rec
            })
            .collect();
        let mut w = BatchWrite {
            txs,
            ..BatchWrite::default()
        };
        for &i in &accepted {
            for c in &batch.txs[i].body.created_code {
                w.code.push((alloy_primitives::keccak256(c).0, c.clone()));
            }
        }
        let ids: Vec<TxId> = accepted.iter().map(|&i| prepared[i].id).collect();
        let (tx_root, receipts_root) = rayon::join(
            || {
                merkle_root_of_leaves(
                    ids.par_iter()
                        .map(|id| merkle_leaf(id.as_slice()))
                        .collect(),
                )
            },
            || {
                merkle_root_of_leaves(
                    receipts
                        .par_iter()
                        .map_init(Vec::new, |buf, r| {
                            buf.clear();
                            mf_format::fast::put_receipt(buf, r);
                            merkle_leaf(buf)
                        })
                        .collect(),
                )
            },
        );
        w.header = Header {
            height,
            parent: header_hash(&self.head),
            tx_root,
            receipts_root,
            state_hash: lthash.digest(),
            time_ms,
        };
        mf_format::fast::put_receipts(&mut w.receipts, receipts);
        w.lthash = lthash.clone();
        Ok((w, lthash))
    }

    /// Recomputes the state hash from the stored live set and compares it with the stored
    /// one. Returns `(recomputed, stored)`.
    pub fn check(&self) -> Result<(B256, B256), StoreError> {
        // The index was rebuilt from the store when this validator opened and has since
        // followed every committed batch; the elements are read from the store.
        let fresh = recompute_lthash(&self.store, &self.index)?;
        Ok((fresh.digest(), self.store.lthash()?.digest()))
    }
}

/// The value stored at a location (a genesis record, or the `next` of a stored move).
pub fn value_at(store: &Store, l: u64) -> Result<Value, StoreError> {
    let (height, tx, mv) = split_loc(l);
    if height == 0 {
        let rec = store
            .genesis_at(l)?
            .ok_or_else(|| StoreError::Corrupt(format!("no genesis record {l}")))?;
        let r = split_record(&rec)
            .ok_or_else(|| StoreError::Corrupt(format!("short genesis record {l}")))?;
        return Value::decode_canonical(r.value).map_err(|e| StoreError::Corrupt(e.to_string()));
    }
    let (_, bytes) = store
        .tx_at(height, tx)?
        .ok_or_else(|| StoreError::Corrupt(format!("no transaction at {height}/{tx}")))?;
    let t = mf_format::decode_tx(&bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    t.body
        .moves
        .get(mv as usize)
        .map(|m| m.next)
        .ok_or_else(|| StoreError::Corrupt(format!("no move {mv} at {height}/{tx}")))
}

/// Stored transactions decoded in parallel: `(height, index, id, tx)`.
type Decoded = (u64, u32, TxId, mf_format::Transaction);

fn decode_chunk(chunk: &[(u64, u32, TxId, Vec<u8>)]) -> Result<Vec<Decoded>, StoreError> {
    chunk
        .par_iter()
        .map(|(h, i, id, b)| {
            mf_format::decode_tx(b)
                .map(|t| (*h, *i, *id, t))
                .map_err(|e| StoreError::Corrupt(format!("transaction {h}/{i}: {e}")))
        })
        .collect()
}

/// Rebuilds the index from the store: the genesis versions, then every stored transaction
/// replayed in chain order (spends remove, or leave a used marker for genesis keys;
/// creations insert).
pub fn rebuild_index(store: &Store) -> Result<Index, StoreError> {
    let mut index = Index::new();
    let (genesis, txs, _, _) = store.counts()?;
    index.reserve(genesis as usize + txs as usize);
    store.scan_genesis(1 << 16, |chunk| {
        let entries: Vec<_> = chunk
            .par_iter()
            .filter_map(|(seq, rec)| {
                let r = split_record(rec)?;
                Some((
                    version_fp_bytes(r.vkey),
                    Entry {
                        value: value_fp_bytes(r.value),
                        loc: *seq,
                    },
                ))
            })
            .collect();
        index.par_extend(entries);
    })?;
    store.scan_txs(1 << 14, |chunk| {
        // Fingerprints in parallel, then the replay in order.
        type Fps = Vec<(VersionFp, Option<(VersionFp, ValueFp)>, u64, bool)>;
        let fps: Vec<Fps> = decode_chunk(chunk)?
            .par_iter()
            .map(|(h, i, id, t)| {
                t.body
                    .moves
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| m.kind == MoveKind::Consume)
                    .map(|(mi, m)| {
                        let key = m.key();
                        (
                            version_fp(&m.intx, &key),
                            Some((version_fp(id, &key), crate::fingerprint::value_fp(&m.next))),
                            loc(*h, *i, mi as u16),
                            m.intx.is_zero(),
                        )
                    })
                    .collect()
            })
            .collect();
        for tx in fps {
            for (spent, created, l, genesis) in tx {
                if genesis {
                    index.insert(
                        spent,
                        Entry {
                            value: USED,
                            loc: l,
                        },
                    );
                } else {
                    index.remove(spent);
                }
                if let Some((vfp, value)) = created {
                    index.insert(vfp, Entry { value, loc: l });
                }
            }
        }
        Ok(())
    })?;
    Ok(index)
}

/// Recomputes the state hash from the store: the elements of every live version (live per
/// `index`, values read from the store) plus the used markers.
pub fn recompute_lthash(store: &Store, index: &Index) -> Result<LtHash, StoreError> {
    let mut total = LtHash::IDENTITY;
    store.scan_genesis(1 << 14, |chunk| {
        let part = par_sum(chunk.par_iter().filter_map(|(seq, rec)| {
            let r = split_record(rec)?;
            let e = index.get(version_fp_bytes(r.vkey))?;
            if e.loc != *seq || e.value == USED {
                return None;
            }
            let id = VersionId::from_bytes(r.vkey)?;
            let v = Value::decode_canonical(r.value).ok()?;
            Some(LtHash::of_version_id(&id, &v))
        }));
        total.add(&part);
    })?;
    store.scan_txs(1 << 12, |chunk| {
        let part = par_sum(
            decode_chunk(chunk)?
                .par_iter()
                .flat_map_iter(|(h, i, id, t)| {
                    t.body
                        .moves
                        .iter()
                        .enumerate()
                        .filter(|(_, m)| m.kind == MoveKind::Consume)
                        .filter_map(move |(mi, m)| {
                            let l = loc(*h, *i, mi as u16);
                            let key = m.key();
                            let mut el = None;
                            if let Some(e) = index.get(version_fp(id, &key))
                                && e.loc == l
                            {
                                el = Some(LtHash::of_version(id, &key, &m.next));
                            }
                            if m.intx.is_zero()
                                && index.get(version_fp(&m.intx, &key))
                                    == Some(Entry {
                                        value: USED,
                                        loc: l,
                                    })
                            {
                                let mut marker = LtHash::of_used_marker(&key);
                                if let Some(e) = el {
                                    marker.add(&e);
                                }
                                el = Some(marker);
                            }
                            el
                        })
                }),
        );
        total.add(&part);
        Ok(())
    })?;
    Ok(total)
}

/// Reads the genesis back from the store: its versions (in key order), the code of its
/// contracts and the chain id. Followers fetch it (`GET /genesis`) and check it against
/// header 0's state hash.
pub fn genesis_of(store: &Store) -> Result<Genesis, StoreError> {
    let chain_id = store.chain_id()?;
    let mut versions = Vec::new();
    let mut bad = None;
    store.scan_genesis(1 << 14, |chunk| {
        for (seq, rec) in chunk {
            let parsed = split_record(rec).and_then(|r| {
                let id = VersionId::from_bytes(r.vkey)?;
                let value = Value::decode_canonical(r.value).ok()?;
                Some((id.key, value))
            });
            match parsed {
                Some(v) => versions.push(v),
                None => bad = Some(*seq),
            }
        }
    })?;
    if let Some(seq) = bad {
        return Err(StoreError::Corrupt(format!("genesis record {seq}")));
    }
    versions.sort_by_key(|a| a.0);
    let mut code = Vec::new();
    for (_, v) in &versions {
        if let Value::Account(a) = v
            && a.code_hash != mf_format::EMPTY_CODE_HASH
            && !code.iter().any(|(h, _)| *h == a.code_hash)
        {
            let c = store.code(&a.code_hash.0)?.ok_or_else(|| {
                StoreError::Corrupt(format!("no code for genesis code hash {}", a.code_hash))
            })?;
            code.push((a.code_hash, c));
        }
    }
    code.sort_by_key(|a| a.0);
    Ok(Genesis {
        chain_id,
        versions,
        code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{GenConfig, generate};
    use crate::{Mode, Validator};
    use mf_format::Reason;
    use mf_format::{Status, sign};

    #[test]
    fn sample_batches_pass_evm_reexecution() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = generate(&GenConfig {
            accounts: 50,
            txs: 600,
            batch_size: 200,
            ..GenConfig::default()
        });
        let mut v = Validator::init(dir.path(), &s.genesis).expect("init");
        v.set_reexec(Box::new(ReexecCheck));
        for b in &s.batches {
            let out = v.apply_batch(b, Mode::Strict).expect("apply");
            assert_eq!(out.accepted, b.txs.len());
            assert!(out.receipts.iter().all(|r| r.gas_used == 21_000));
        }
    }

    #[test]
    fn a_wrong_next_is_a_write_mismatch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = generate(&GenConfig {
            accounts: 10,
            txs: 2,
            batch_size: 2,
            ..GenConfig::default()
        });
        let mut v = Validator::init(dir.path(), &s.genesis).expect("init");
        v.set_reexec(Box::new(ReexecCheck));
        let mut batch = s.batches[0].clone();
        let first = &batch.txs[0];
        let signer = s
            .keys
            .iter()
            .find(|k| k.address() == first.body.call.from)
            .expect("signer");
        let mut body = first.body.clone();
        if let mf_format::Value::Account(a) = &mut body.moves[1].next {
            a.balance += mf_format::U256::from(1u64);
        }
        batch.txs[0] = sign(body, &[signer]);
        let out = v.apply_batch(&batch, Mode::Filter).expect("apply");
        assert_eq!(
            out.receipts[0].status,
            Status::Rejected(Reason::WriteMismatch)
        );
    }
}
