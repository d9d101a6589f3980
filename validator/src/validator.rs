//! The validator: the store, the index and the state hash behind one API that applies
//! batches. Code that checks batches does not know whether an entry came from genesis, an
//! earlier batch or this one; the flush boundary is the LMDB commit of each batch.

use crate::commit::{Committer, Pending};
use crate::error::{ApplyError, StoreError};
use crate::fingerprint::{USED, version_fp};
use crate::genesis::Genesis;
use crate::index::{Applied, Index, IndexTx};
use crate::outcome::{Located, Mode, Outcome, Timings, VersionState};
use crate::prepare::{KeyCache, Prepared, prepare_batch, prepare_ops};
use crate::replay::{genesis_of, rebuild_index, recompute_lthash, value_at};
use crate::state_hash::par_sum;
use crate::store::{BatchWrite, Store};
use mf_format::{
    Account, Address, B256, Batch, ChainRules, ExecContext, GENESIS_INTX, Header, Key, Log, LtHash,
    MoveKind, Reason, Receipt, Status, Transaction, TxId, U256, Value, VersionId, check_context,
    decode_batch, encode, fee_credit_tx,
    hash::{merkle_leaf, merkle_root_of_leaves},
    header_hash,
    limits::CONTEXT_WINDOW_BLOCKS,
    merkle_empty_root, receipt_len, split_batch,
};
use mf_movegen::{BlockHashes, CodeLookup, Reexec, ReexecCheck};
use rayon::prelude::*;
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// What re-execution may read for a batch beyond its declared moves: the store's code plus
/// the code the batch creates, and the stored header hashes `BLOCKHASH` reads (what
/// [`Validator::submit_batch`] hands its stateless stage; public for callers of
/// [`Validator::submit_prepared`] that run that stage themselves).
pub struct StoreCode<'a> {
    store: &'a Store,
    batch: HashMap<B256, &'a [u8]>,
    height: u64,
    rules: &'a ChainRules,
    lowest_context: u64,
    hashes: OnceLock<Arc<BlockHashes>>,
}

impl<'a> StoreCode<'a> {
    /// The store's code plus the code `batch` creates, for `batch` applied at `height`, with
    /// the hashes `rules` names for blocks up to its genesis.
    pub fn new(
        store: &'a Store,
        batch: &'a Batch,
        height: u64,
        rules: &'a ChainRules,
    ) -> StoreCode<'a> {
        StoreCode {
            store,
            batch: batch
                .txs
                .iter()
                .flat_map(|t| t.body.created_code.iter())
                .map(|c| (alloy_primitives::keccak256(c), c.as_slice()))
                .collect(),
            height,
            rules,
            lowest_context: batch
                .txs
                .iter()
                .map(|t| t.body.context.block_number)
                .min()
                .unwrap_or(u64::MAX),
            hashes: OnceLock::new(),
        }
    }
}

impl CodeLookup for StoreCode<'_> {
    fn code(&self, hash: &B256) -> Option<Vec<u8>> {
        if let Some(c) = self.batch.get(hash) {
            return Some(c.to_vec());
        }
        self.store.code(&hash.0).ok().flatten()
    }

    /// The hashes of the blocks before the batch's, by block number, from 256 below the
    /// lowest declared block number inside the context window (PROTOCOL.md §6.3.1): every
    /// block `BLOCKHASH` can read for a transaction the window admits. A block up to the
    /// genesis has the hash the genesis names for it, if any, else (the genesis itself) its
    /// header's; a later one its stored header's. Read once per batch, on the first request.
    fn block_hashes(&self) -> Arc<BlockHashes> {
        self.hashes
            .get_or_init(|| {
                let r = self.rules;
                let current = r.number_at(self.height);
                let window = current.saturating_sub(CONTEXT_WINDOW_BLOCKS);
                let first = self
                    .lowest_context
                    .clamp(window, current)
                    .saturating_sub(256);
                // One run of consecutive blocks with a hash: the first such block on.
                let (mut start, mut hashes) = (None, Vec::new());
                for n in first..current {
                    let hash = match r.ancestor_hash(n) {
                        Some(h) => Some(h),
                        None => r
                            .height_of(n)
                            .and_then(|h| self.store.header(h).ok().flatten())
                            .map(|h| header_hash(&h)),
                    };
                    match (hash, start) {
                        (Some(h), _) => {
                            start.get_or_insert(n);
                            hashes.push(h);
                        }
                        (None, None) => {}
                        (None, Some(_)) => break,
                    }
                }
                Arc::new(BlockHashes::new(start.unwrap_or(first), hashes))
            })
            .clone()
    }
}

/// Genesis versions are addressed by their sequence number below this bound (the location
/// scheme of [`crate::index::loc`]).
const MAX_GENESIS_VERSIONS: u64 = 1 << 27;

/// What [`Validator::build_write`] turns into a [`BatchWrite`]: a batch applied in memory at
/// `height` with its verdicts and receipts.
#[derive(Clone, Copy)]
struct BatchPlan<'a> {
    height: u64,
    time_ms: u64,
    batch: &'a Batch,
    prepared: &'a [Prepared],
    applied: &'a Applied,
    /// One receipt per transaction of `batch` (the stored list adds the fee credit's).
    receipts: &'a [Receipt],
    /// The fee credit appended after the batch's transactions (PROTOCOL.md §6.4.6): at
    /// position `prepared.len()` of `applied`'s verdicts.
    credit: Option<(&'a Transaction, &'a Prepared)>,
    /// The beneficiary's live version after the batch, when it changed.
    beneficiary: Option<(TxId, Account)>,
}

/// The header times (seconds) of the last heights, which the context window reads
/// (PROTOCOL.md §6.3.1): a context may name a block up to 256 heights back and is checked
/// against the time of that block and of the one before it, so 257 heights are kept.
struct RecentTimes {
    /// The height of the last entry.
    head: u64,
    /// `times[i]` is the header time of height `head + 1 - times.len() + i`.
    times: VecDeque<u64>,
}

impl RecentTimes {
    const KEEP: usize = mf_format::limits::CONTEXT_WINDOW_BLOCKS as usize + 1;

    fn load(store: &Store, head: &Header) -> Result<RecentTimes, StoreError> {
        let first = head.height.saturating_sub(Self::KEEP as u64 - 1);
        let mut times = VecDeque::with_capacity(Self::KEEP);
        for h in first..head.height {
            let header = store
                .header(h)?
                .ok_or_else(|| StoreError::Corrupt(format!("no header at height {h}")))?;
            times.push_back(header.time_ms / 1000);
        }
        times.push_back(head.time_ms / 1000);
        Ok(RecentTimes {
            head: head.height,
            times,
        })
    }

    fn push(&mut self, header: &Header) {
        if self.times.len() == Self::KEEP {
            self.times.pop_front();
        }
        self.times.push_back(header.time_ms / 1000);
        self.head = header.height;
    }

    fn get(&self, height: u64) -> Option<u64> {
        let back = usize::try_from(self.head.checked_sub(height)?).ok()?;
        let i = self.times.len().checked_sub(back + 1)?;
        self.times.get(i).copied()
    }
}

/// The account `addr` holds in `genesis` (the empty account when it holds none).
fn genesis_account(genesis: &Genesis, addr: Address) -> Account {
    let key = Key::account(addr);
    genesis
        .versions
        .iter()
        .find_map(|(k, v)| match v {
            Value::Account(a) if *k == key => Some(*a),
            _ => None,
        })
        .unwrap_or(Account::EMPTY)
}

/// The stored form of the beneficiary's live version: `intx || encoded account`.
fn beneficiary_record(b: &(TxId, Account)) -> Vec<u8> {
    let mut out = b.0.to_vec();
    let mut buf = [0u8; Value::MAX_ENCODED_LEN];
    out.extend_from_slice(Value::Account(b.1).encode_fixed(&mut buf));
    out
}

/// The validator state.
pub struct Validator {
    committer: Committer,
    store: Arc<Store>,
    index: Index,
    lthash: LtHash,
    head: Header,
    times: RecentTimes,
    chain_id: u64,
    rules: ChainRules,
    /// The beneficiary's live account version (PROTOCOL.md §6.4.6): what the next fee
    /// credit consumes.
    beneficiary: (TxId, Account),
    keys: KeyCache,
    reexec: Box<dyn Reexec>,
    clock: Box<dyn Fn() -> u64 + Send>,
    /// Set by [`Validator::submit_batch`] for a batch that ends with a fee credit (a chain
    /// applied again from its stored batches): the credit the batch must earn.
    given_credit: Option<Transaction>,
    /// Set by [`Validator::apply_ordered`] for the batch in hand: its order-stream sequence,
    /// written with the batch.
    order_seq: Option<u64>,
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
        if genesis.versions.len() as u64 >= MAX_GENESIS_VERSIONS {
            return Err(StoreError::GenesisTooLarge {
                versions: genesis.versions.len(),
                max: MAX_GENESIS_VERSIONS - 1,
            });
        }
        // Built in a staging directory and moved into place once committed: an init killed
        // midway leaves no store, and the next init starts over.
        let store = Store::create_staged(dir)?;
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
        w.beneficiary = Some(beneficiary_record(&(
            GENESIS_INTX,
            genesis_account(genesis, genesis.rules.beneficiary),
        )));
        genesis
            .rules
            .validate()
            .map_err(|e| StoreError::Genesis(format!("chain rules: {e}")))?;
        store.commit_genesis(&w, genesis.chain_id, &genesis.rules)?;
        store.publish()?;
        Validator::open(dir)
    }

    /// Opens an initialised directory and rebuilds the index from the store.
    pub fn open(dir: &Path) -> Result<Validator, StoreError> {
        Self::from_store(Store::open(dir, false)?, dir)
    }

    /// [`Validator::open`] with the store capped at `map_size` bytes
    /// ([`Store::open_with_map_size`]): a batch that would grow it beyond fails to commit.
    pub fn open_with_map_size(dir: &Path, map_size: usize) -> Result<Validator, StoreError> {
        Self::from_store(Store::open_with_map_size(dir, map_size)?, dir)
    }

    fn from_store(store: Store, dir: &Path) -> Result<Validator, StoreError> {
        let height = store
            .height()?
            .ok_or_else(|| StoreError::NotInitialised(dir.display().to_string()))?;
        let head = store
            .header(height)?
            .ok_or_else(|| StoreError::Corrupt(format!("no header at height {height}")))?;
        let lthash = store.lthash()?;
        let chain_id = store.chain_id()?;
        let rules = store.rules()?;
        let beneficiary = match store.beneficiary()? {
            Some(b) => b,
            None => (
                GENESIS_INTX,
                genesis_account(&genesis_of(&store)?, rules.beneficiary),
            ),
        };
        let index = rebuild_index(&store)?;
        let times = RecentTimes::load(&store, &head)?;
        tracing::info!(height, entries = index.len(), "validator opened");
        let store = Arc::new(store);
        Ok(Validator {
            committer: Committer::start(Arc::clone(&store)),
            store,
            index,
            lthash,
            head,
            times,
            chain_id,
            rules: rules.clone(),
            beneficiary,
            keys: KeyCache::default(),
            reexec: Box::new(ReexecCheck::new(rules)),
            clock: Box::new(now_ms),
            given_credit: None,
            order_seq: None,
        })
    }

    /// Replaces the re-execution step (the default is [`ReexecCheck`] under the chain's
    /// rules, revm against the declared values; [`mf_movegen::StructureOnly`] skips it, for benchmarks of the other
    /// stages).
    pub fn set_reexec(&mut self, r: Box<dyn Reexec>) {
        self.reexec = r;
    }

    /// Replaces the header clock (milliseconds since the Unix epoch; the default is
    /// [`now_ms`]). Each batch reads it once, before checking: that reading is the header's
    /// `time_ms`, and its seconds are the `T` of the context window (PROTOCOL.md §6.3.1).
    /// A reading behind the parent's time counts as the parent's time (header times never
    /// decrease). Tests pin it; a follower replaying a chain would serve the producer's times.
    pub fn set_clock(&mut self, clock: impl Fn() -> u64 + Send + 'static) {
        self.clock = Box::new(clock);
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }
    /// The chain's execution rules (gas limit, fork schedule), from its genesis.
    pub fn rules(&self) -> &ChainRules {
        &self.rules
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

    /// Looks up version `(intx, key)`. After a failed commit the in-memory index is ahead
    /// of the disk (it holds the batch that did not reach it), so lookups are refused with
    /// [`StoreError::Failed`] until a restart rebuilds the index from the store.
    pub fn version(&self, intx: &TxId, key: &Key) -> Result<VersionState, StoreError> {
        match self.locate(intx, key)? {
            Located::NeverWritten(v) => Ok(VersionState::NeverWritten(v)),
            Located::NotLive => Ok(VersionState::NotLive),
            Located::At(l) => value_at(&self.store, l).map(VersionState::Live),
        }
    }

    /// The index's part of [`Validator::version`]: where the value of version
    /// `(intx, key)` is stored, without reading it. The location of a committed version
    /// never changes, so the value may be read later on any thread. Refused, as
    /// [`Validator::version`], after a failed commit.
    pub fn locate(&self, intx: &TxId, key: &Key) -> Result<Located, StoreError> {
        if self.committer.failed() {
            return Err(StoreError::Failed);
        }
        Ok(match self.index.get(version_fp(intx, key)) {
            None if intx.is_zero() => Located::NeverWritten(Value::zero(key.mark)),
            None => Located::NotLive,
            Some(e) if e.value == USED => Located::NotLive,
            Some(e) => Located::At(e.loc),
        })
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

    /// Applies message `seq` of the order stream (a replica, [`crate::order`]): the header
    /// time is `time_ms`, the time the orderer stored the message (never this machine's
    /// clock; still at least the parent's time), and `seq` is committed in the same LMDB
    /// transaction as the batch, so that a restart resumes exactly after it. When nothing is
    /// written (no transaction accepted, or the batch refused as a whole: malformed, empty)
    /// `seq` is recorded in a small transaction of its own once the answer is known, so every
    /// replica skips the message the same way. A crash between the two re-applies such a
    /// message on restart, which is harmless: nothing of it was written, so the state, the
    /// parent header and `time_ms` are those of the first try, and so is the verdict.
    pub fn apply_ordered(
        &mut self,
        bytes: &[u8],
        mode: Mode,
        seq: u64,
        time_ms: u64,
    ) -> Result<Outcome, ApplyError> {
        let clock = std::mem::replace(&mut self.clock, Box::new(move || time_ms));
        self.order_seq = Some(seq);
        let r = self.apply_bytes(bytes, mode);
        self.order_seq = None;
        self.clock = clock;
        let written = matches!(&r, Ok(out) if out.header.is_some());
        let failed = matches!(&r, Err(ApplyError::Store(_))) || self.committer.failed();
        if !written && !failed {
            self.store.record_order_seq(seq)?;
        }
        r
    }

    /// Applies a decoded batch and waits until it is on disk.
    pub fn apply_batch(&mut self, batch: &Batch, mode: Mode) -> Result<Outcome, ApplyError> {
        self.submit_batch(batch, mode)?.wait()
    }

    /// Applies a decoded batch; see [`Validator::submit_prepared`].
    ///
    /// A batch that ends with a fee credit (a stored batch applied again: `GET /batch` gives
    /// a batch with its credit) is applied without it, and the credit the validator computes
    /// must be exactly that one, else the batch is refused ([`ApplyError::FeeCredit`]).
    pub fn submit_batch(&mut self, batch: &Batch, mode: Mode) -> Result<Pending, ApplyError> {
        if let [rest @ .., last] = batch.txs.as_slice()
            && !rest.is_empty()
            && mf_format::is_fee_credit(last)
        {
            let without = Batch { txs: rest.to_vec() };
            self.given_credit = Some(last.clone());
            let r = self.submit_batch(&without, mode);
            self.given_credit = None;
            return r;
        }
        if batch.txs.is_empty() {
            return Err(ApplyError::Empty);
        }
        let t0 = Instant::now();
        let code = StoreCode::new(
            self.store.as_ref(),
            batch,
            self.head.height + 1,
            &self.rules,
        );
        let prepared = prepare_batch(
            &batch.txs,
            self.chain_id,
            &self.rules,
            &self.keys,
            self.reexec.as_ref(),
            &code,
        );
        let stateless = t0.elapsed().as_secs_f64();
        self.submit_prepared(batch, &prepared, mode, stateless)
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
        // header written use the same `time_ms`. It never runs backwards: a clock behind
        // the parent's time gives the parent's time (PROTOCOL.md §6.4.5).
        let time_ms = (self.clock)().max(self.head.time_ms);
        let time_s = time_ms / 1000;
        let t1 = Instant::now();
        let itxs: Vec<IndexTx> = prepared
            .iter()
            .map(|p| IndexTx {
                // The context window (PROTOCOL.md §6.3.1) is the last stateless check: it
                // needs only the height and the header time, so it runs here, before the
                // double-use check of the transaction. A failure cascades like any other.
                stateless: match p.stateless {
                    // Declared block numbers count from the genesis number; the window is
                    // over heights.
                    Ok(()) => match self.rules.height_of(p.context.block_number) {
                        Some(b) => check_context(
                            &ExecContext {
                                block_number: b,
                                ..p.context
                            },
                            height,
                            time_s,
                            |n| self.times.get(n),
                        ),
                        None => Err(Reason::ContextOutOfWindow),
                    },
                    Err(r) => Err(r),
                },
                id: p.id,
                ops: &p.ops,
                intx: &p.intx,
                receipt_len: p.receipt_len,
            })
            .collect();
        let mut applied = self.index.apply(height, &itxs);
        let apply = t1.elapsed().as_secs_f64();

        let mut recovered = match self.recover_logs(batch, prepared, &applied.verdicts) {
            Ok(r) => r,
            Err(e) => {
                self.index.rollback(&mut applied);
                return Err(e);
            }
        };
        let receipts: Vec<Receipt> = prepared
            .iter()
            .zip(&applied.verdicts)
            .enumerate()
            .map(|(i, (p, v))| Receipt {
                tx_id: p.id,
                status: match v {
                    Ok(()) if p.exec.failed => Status::Failed,
                    Ok(()) => Status::Accepted,
                    Err(r) => Status::Rejected(*r),
                },
                gas_used: if v.is_ok() { p.exec.gas_used } else { 0 },
                logs: match v {
                    Ok(()) if p.logs_kept => p.exec.logs.clone(),
                    Ok(()) => recovered.remove(&i).unwrap_or_default(),
                    Err(_) => Vec::new(),
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

        // The fee credit (PROTOCOL.md §6.4.6): the unburnt fees of the included
        // transactions, added to the beneficiary's live version as it is after them.
        let (credit, beneficiary) = self.fee_credit(batch, prepared, &applied, height, time_s);
        if let Some(given) = self.given_credit.take()
            && credit.as_ref() != Some(&given)
        {
            self.index.rollback(&mut applied);
            return Err(ApplyError::FeeCredit(match &credit {
                None => "the batch earns no fee credit".into(),
                Some(c) => format!(
                    "the batch earns {} wei for the beneficiary's version {}, it names {} wei \
                     for version {}",
                    c.body.call.value,
                    c.body.moves[0].intx,
                    given.body.call.value,
                    given.body.moves.first().map(|m| m.intx).unwrap_or_default()
                ),
            }));
        }
        let credit_prepared = credit
            .as_ref()
            .map(|tx| prepare_ops(tx, mf_format::tx_id(&tx.body), Default::default()));
        if let (Some(tx), Some(p)) = (&credit, &credit_prepared) {
            let itx = IndexTx {
                stateless: Ok(()),
                id: p.id,
                ops: &p.ops,
                intx: &p.intx,
                receipt_len: p.receipt_len,
            };
            self.index
                .apply_after(height, accepted as u32, &[itx], &mut applied);
            if let Some(Err(r)) = applied.verdicts.last() {
                // The validator built it against the version it tracks as live: a refusal
                // means that tracking is wrong, which must not pass silently.
                let r = *r;
                self.index.rollback(&mut applied);
                return Err(ApplyError::Store(StoreError::Corrupt(format!(
                    "the fee credit of height {height} was refused ({r}): the tracked \
                     beneficiary version {} is not live",
                    tx.body.moves[0].intx
                ))));
            }
        }

        let t2 = Instant::now();
        let (w, lthash) = self.build_write(&BatchPlan {
            height,
            time_ms,
            batch,
            prepared,
            applied: &applied,
            receipts: &receipts,
            credit: credit.as_ref().zip(credit_prepared.as_ref()),
            beneficiary,
        });
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
        self.times.push(&header);
        if let Some(b) = beneficiary {
            self.beneficiary = b;
        }
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

    /// The logs of the accepted transactions whose logs the stateless stage did not keep
    /// ([`Prepared::logs_kept`]; their receipts fit the batch's budget, so these are few),
    /// by position: they are re-executed, which must give the same receipt again.
    fn recover_logs(
        &self,
        batch: &Batch,
        prepared: &[Prepared],
        verdicts: &[Result<(), Reason>],
    ) -> Result<HashMap<usize, Vec<Log>>, ApplyError> {
        let missing: Vec<usize> = (0..prepared.len())
            .filter(|&i| verdicts[i].is_ok() && !prepared[i].logs_kept)
            .collect();
        if missing.is_empty() {
            return Ok(HashMap::new());
        }
        tracing::debug!(
            txs = missing.len(),
            "re-executing accepted transactions for the logs the stateless stage did not keep"
        );
        let code = StoreCode::new(
            self.store.as_ref(),
            batch,
            self.head.height + 1,
            &self.rules,
        );
        missing
            .par_iter()
            .map(|&i| {
                let p = &prepared[i];
                match self.reexec.reexec(&batch.txs[i], &p.id, &code) {
                    Ok(e)
                        if e.gas_used == p.exec.gas_used
                            && receipt_len(&e.logs) == p.receipt_len =>
                    {
                        Ok((i, e.logs))
                    }
                    // Re-execution is deterministic given the code it reads, so only a code
                    // read that failed this time (the lookup reports it as missing) lands here.
                    _ => Err(ApplyError::Store(StoreError::Corrupt(format!(
                        "re-executing the accepted transaction {} for its logs gave another \
                         result than its first execution (a code read failed?)",
                        p.id
                    )))),
                }
            })
            .collect()
    }

    /// The fee credit of a batch applied in memory (PROTOCOL.md §6.4.6), and the
    /// beneficiary's live version after the batch when it changed: the batch's included
    /// transactions may consume the beneficiary's account themselves (the last such
    /// consume is what the credit spends), and the credit consumes it again.
    fn fee_credit(
        &self,
        batch: &Batch,
        prepared: &[Prepared],
        applied: &Applied,
        height: u64,
        time_s: u64,
    ) -> (Option<Transaction>, Option<(TxId, Account)>) {
        let key = Key::account(self.rules.beneficiary);
        let mut live = None;
        let mut fees = U256::ZERO;
        for (i, p) in prepared.iter().enumerate() {
            if applied.verdicts[i].is_err() {
                continue;
            }
            fees = fees.saturating_add(p.exec.beneficiary_fee);
            for m in &batch.txs[i].body.moves {
                if m.kind == MoveKind::Consume
                    && m.key() == key
                    && let Value::Account(a) = m.next
                {
                    live = Some((p.id, a));
                }
            }
        }
        let before = live.unwrap_or(self.beneficiary);
        match fee_credit_tx(
            self.chain_id,
            height,
            time_s,
            self.rules.beneficiary,
            before,
            fees,
        ) {
            Some(tx) => {
                let after = match tx.body.moves[0].next {
                    Value::Account(a) => a,
                    Value::Storage(_) => before.1,
                };
                let id = mf_format::tx_id(&tx.body);
                (Some(tx), Some((id, after)))
            }
            None => (None, live),
        }
    }

    /// The write of a batch applied in memory: its records, its header and the new state
    /// hash.
    fn build_write(&self, plan: &BatchPlan<'_>) -> (BatchWrite, LtHash) {
        let BatchPlan {
            height,
            time_ms,
            batch,
            prepared,
            applied,
            receipts,
            credit,
            beneficiary,
        } = *plan;
        let mut lthash = self.lthash.clone();
        let accepted: Vec<usize> = (0..prepared.len())
            .filter(|i| applied.verdicts[*i].is_ok())
            .collect();
        // State hash: the deltas of accepted transactions (summed in parallel), minus the
        // elements of stored genesis values that were spent.
        let sum = par_sum(accepted.par_iter().map(|&i| &*prepared[i].delta));
        lthash.add(&sum);
        if let Some((_, p)) = credit {
            lthash.add(&p.delta);
        }
        for &(ti, oi) in &applied.explicit_genesis {
            let p = match prepared.get(ti as usize) {
                Some(p) => p,
                None => match credit {
                    Some((_, p)) => p,
                    None => continue,
                },
            };
            if let Some((_, e)) = p.genesis_elems.iter().find(|(o, _)| *o == oi) {
                lthash.sub(e);
            }
        }

        let record = |id: &TxId, tx: &Transaction| {
            let mut rec = Vec::with_capacity(32 + 64 + tx.body.moves.len() * 200);
            rec.extend_from_slice(id.as_slice());
            mf_format::encoders::put_tx(&mut rec, tx);
            rec
        };
        let mut txs: Vec<Vec<u8>> = accepted
            .par_iter()
            .map(|&i| record(&prepared[i].id, &batch.txs[i]))
            .collect();
        if let Some((tx, p)) = credit {
            txs.push(record(&p.id, tx));
        }
        let mut w = BatchWrite {
            txs,
            order_seq: self.order_seq,
            beneficiary: beneficiary.as_ref().map(beneficiary_record),
            ..BatchWrite::default()
        };
        for &i in &accepted {
            for c in &batch.txs[i].body.created_code {
                w.code.push((alloy_primitives::keccak256(c).0, c.clone()));
            }
        }
        let credit_receipt: Option<Receipt> = credit.map(|(_, p)| Receipt {
            tx_id: p.id,
            status: Status::Accepted,
            gas_used: 0,
            logs: Vec::new(),
        });
        let ids: Vec<TxId> = accepted
            .iter()
            .map(|&i| prepared[i].id)
            .chain(credit.map(|(_, p)| p.id))
            .collect();
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
                        .chain(credit_receipt.par_iter())
                        .map_init(Vec::new, |buf, r| {
                            buf.clear();
                            mf_format::encoders::put_receipt(buf, r);
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
        // The stored receipts end with the fee credit's; the outcome (what the submitter is
        // answered) keeps one receipt per transaction it sent.
        let n = receipts.len() + usize::from(credit_receipt.is_some());
        w.receipts.extend_from_slice(&(n as u64).to_le_bytes());
        for r in receipts.iter().chain(&credit_receipt) {
            mf_format::encoders::put_receipt(&mut w.receipts, r);
        }
        w.lthash = lthash.clone();
        (w, lthash)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{GenConfig, generate};
    use crate::{Mode, Validator};
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
        v.set_clock(crate::sample::sample_clock);
        v.set_reexec(Box::new(ReexecCheck::default()));
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
        v.set_clock(crate::sample::sample_clock);
        v.set_reexec(Box::new(ReexecCheck::default()));
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

    /// `apply_ordered`: the sequence is durable with every outcome (a batch written, nothing
    /// accepted, a batch refused as a whole), the header time is the one given, and a
    /// reopened validator resumes after the last sequence.
    #[test]
    fn ordered_batches_record_their_sequence() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = generate(&GenConfig {
            accounts: 20,
            txs: 20,
            batch_size: 10,
            ..GenConfig::default()
        });
        let t = crate::sample::SAMPLE_TIME_S * 1000;
        let bytes: Vec<Vec<u8>> = s.batches.iter().map(encode).collect();
        {
            let mut v = Validator::init(dir.path(), &s.genesis).expect("init");
            assert_eq!(v.store().order_seq().expect("seq"), None);
            let out = v
                .apply_ordered(&bytes[0], Mode::Filter, 1, t + 5)
                .expect("apply");
            assert_eq!(out.accepted, 10);
            assert_eq!(v.head().time_ms, t + 5, "the header time is the stream's");
            assert_eq!(v.store().order_seq().expect("seq"), Some(1));
            // The same batch again: every spend is gone, nothing accepted, nothing written;
            // the sequence is recorded all the same.
            let out = v
                .apply_ordered(&bytes[0], Mode::Filter, 2, t + 6)
                .expect("apply");
            assert_eq!(out.accepted, 0);
            assert!(out.header.is_none());
            assert_eq!(v.head().height, 1);
            assert_eq!(v.store().order_seq().expect("seq"), Some(2));
            // Not a batch: refused as a whole, the sequence recorded.
            assert!(v.apply_ordered(b"junk", Mode::Filter, 3, t + 7).is_err());
            assert_eq!(v.store().order_seq().expect("seq"), Some(3));
            // A time behind the parent's counts as the parent's.
            v.apply_ordered(&bytes[1], Mode::Filter, 4, t)
                .expect("apply");
            assert_eq!(v.head().time_ms, t + 5);
            // The clock is the validator's own again after an ordered batch.
            v.set_clock(move || t + 9);
        }
        let v = Validator::open(dir.path()).expect("open");
        assert_eq!(v.store().order_seq().expect("seq"), Some(4));
        assert_eq!(v.head().height, 2);
        assert_eq!(v.check().expect("check").0, v.state_hash());
    }
}
