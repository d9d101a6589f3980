//! The coordinator's own LMDB environment ([`CoordDb`]): the state index it follows from
//! the validator's feed ([`StateIndex`]) and the journal of intents ([`Journal`]), in ONE
//! environment so that applying a feed record and marking the intents it accepts is one
//! write transaction.
//!
//! | table | part | key | value |
//! | --- | --- | --- | --- |
//! | `state` | index | [`Key::to_bytes`](mf_format::Key::to_bytes) (53) | intx (32) + the value's canonical encoding |
//! | `code` | index | keccak-256 code hash | runtime code |
//! | `meta` | index | name | `height`, `head_hash`, `state_hash`, `lthash`, `chain_id` |
//! | `intents` | journal | intent id | its [`IntentStatus`] as JSON (what `mf_getIntent` answers) |
//! | `intent_tx` | journal | intent id | the transaction as submitted (canonical encoding) |
//! | `open` | journal | intent id | arrival sequence number (u64 BE): intents not yet final |
//! | `filled` | journal | filled transaction id | intent id |
//! | `hist` | index | key (53) + height (8, BE) | the key's version before that height wrote it (intx + value; empty: never written) |
//! | `hist_h` | index | height (8, BE) + key (53) | nothing: which `hist` entries a height has, for pruning |
//! | `eth` | journal | Ethereum hash (keccak-256 of the signed Ethereum transaction) | intent id |
//! | `blocks` | blocks | height (u64 BE) | the logs bloom (256 bytes), then the [`StoredBlock`]: header, hash, size, gas used, and per included transaction its hash, id, sender, callee, nonce, fee fields and receipt |
//! | `block_txs` | blocks | height (u64 BE) + index (u32 BE) | the included transaction (canonical encoding) |
//! | `block_at` | blocks | header hash | height (u64 BE) |
//! | `tx_at` | blocks | transaction hash ([`blocks::tx_hash`]: Ethereum hash, else protocol id) | height (u64 BE) + index (u32 BE) |
//!
//! `state` is the web3 secondary index: the live version of every key (never-written keys
//! are absent). A feed record is applied in one write transaction together with the new
//! head, so the index is always exactly the state after some height: a restart resumes from
//! `height + 1`. Applying a record checks it against the index: the header chains onto the
//! head, the transaction root matches, every declared `(intx, prev)` is the live version
//! ([`mf_movegen::check_move`], the rule every overlay applies), and the state hash
//! recomputed move by move (the same LtHash as the validator's) equals the header's. A
//! follower that disagrees stops instead of serving a wrong state. The chain id is written
//! once, with the genesis.
//!
//! The block store (`blocks`, `block_txs`, `block_at`, `tx_at`) keeps every height applied
//! since the index was created, the genesis (height 0, no transactions) included, as
//! Ethereum's block, transaction, receipt and log methods read them; it is written in the
//! same write transaction as the height it describes.
//!
//! The chain itself is how acceptance is learnt: when an applied batch contains a
//! transaction whose id is in `filled`, its intent becomes `accepted` in the same write
//! transaction, whoever submitted it and whatever the submitter heard back.
//!
//! Every commit that changes the head or an intent wakes the waiters of [`CoordDb::changes`]
//! (the sequencer waiting for a height, `mf_waitIntent`): callers never signal by hand.

pub mod blocks;
mod index;
mod journal;
mod notify;

pub use blocks::{BlockStore, StoredBlock, StoredTx};
pub use index::{IndexReader, NotKept, StateIndex};
pub use journal::Journal;
pub use notify::Notifier;

use crate::CoordError;
use heed::{Env, EnvOpenOptions, WithoutTls};
use mf_format::{B256, Header, TxId};
use mf_lmdb::DirLock;
use mf_movegen::genesis::Genesis;
use mf_movegen::rpc::IntentStatus;
use std::path::Path;

type Db = mf_lmdb::Table;

const MAP_SIZE: usize = 1 << 40;

/// One record of the validator's feed, decoded (its framing is `mf-api`'s).
pub use mf_api::FeedRecord;

/// The head the index reflects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Height.
    pub height: u64,
    /// Hash of the header at that height.
    pub hash: mf_format::B256,
    /// Its state hash.
    pub state_hash: mf_format::B256,
    /// Chain id.
    pub chain_id: u64,
}

/// What applying a feed record did.
#[derive(Clone, Debug, Default)]
pub struct AppliedRecord {
    /// Transactions applied.
    pub txs: usize,
    /// Moves applied.
    pub moves: usize,
    /// Intents that became accepted.
    pub accepted: Vec<TxId>,
}

/// The coordinator's LMDB environment: the state index and the intent journal, and the
/// waiters woken after each commit.
pub struct CoordDb {
    env: Env<WithoutTls>,
    index: StateIndex,
    journal: Journal,
    blocks: BlockStore,
    /// Ethereum hash -> intent id, for intents authorised by a signed Ethereum transaction.
    eth: Db,
    changes: Notifier,
    /// The chain's rules, read once from `meta` after the genesis is loaded.
    rules: std::sync::OnceLock<mf_format::ChainRules>,
    _lock: DirLock,
}

impl CoordDb {
    /// Opens (creating) the environment in `dir/index`, holding `dir/LOCK` so that two
    /// coordinators cannot share a data directory. State is kept readable at the last
    /// `keep_heights` heights behind the head (`u64::MAX`: every height, archive mode).
    pub fn open(dir: &Path, keep_heights: u64) -> Result<CoordDb, CoordError> {
        let env_dir = dir.join("index");
        let lock = DirLock::acquire(dir)?;
        let env = mf_lmdb::open_env(
            &lock,
            EnvOpenOptions::new()
                .read_txn_without_tls()
                .map_size(MAP_SIZE)
                .max_dbs(16)
                .max_readers(512),
            &env_dir,
        )?;
        let [
            state,
            code,
            meta,
            intents,
            intent_tx,
            open,
            filled,
            eth,
            blocks,
            block_txs,
            block_at,
            tx_at,
            hist,
            hist_h,
        ] = mf_lmdb::create_tables(
            &env,
            [
                "state",
                "code",
                "meta",
                "intents",
                "intent_tx",
                "open",
                "filled",
                "eth",
                "blocks",
                "block_txs",
                "block_at",
                "tx_at",
                "hist",
                "hist_h",
            ],
        )?;
        Ok(CoordDb {
            env,
            index: StateIndex::new(state, code, meta, hist, hist_h, keep_heights),
            journal: Journal::new(intents, intent_tx, open, filled),
            blocks: BlockStore::new(blocks, block_txs, block_at, tx_at),
            eth,
            changes: Notifier::default(),
            rules: std::sync::OnceLock::new(),
            _lock: lock,
        })
    }

    /// Woken after every commit that changes the head or an intent.
    pub fn changes(&self) -> &Notifier {
        &self.changes
    }

    // ----- the state index -----

    /// The head, or `None` before the genesis was loaded.
    pub fn head(&self) -> Result<Option<Head>, CoordError> {
        let r = self.env.read_txn()?;
        self.index.head(&r)
    }

    /// The chain's execution rules (fork schedule, gas limit, base fee, beneficiary...)
    /// from its genesis, which fills, simulations and estimates run under, as the
    /// validators re-execute. The default rules before the genesis is loaded.
    pub fn rules(&self) -> Result<mf_format::ChainRules, CoordError> {
        if let Some(r) = self.rules.get() {
            return Ok(r.clone());
        }
        let r = self.env.read_txn()?;
        match self.index.rules(&r)? {
            Some(rules) => Ok(self.rules.get_or_init(|| rules).clone()),
            None => Ok(mf_format::ChainRules::default()),
        }
    }

    /// A consistent read-only view of the index (a [`StateView`](mf_movegen::StateView)).
    pub fn reader(&self) -> Result<IndexReader<'_>, CoordError> {
        Ok(IndexReader::new(&self.index, self.env.read_txn()?))
    }

    /// Loads the genesis (height 0). `header0` is the validator's header 0: its state hash
    /// must be the genesis' LtHash, or the genesis is not the validator's.
    pub fn bootstrap(&self, genesis: &Genesis, header0: &Header) -> Result<(), CoordError> {
        let mut w = self.env.write_txn()?;
        self.index.load_genesis(&mut w, genesis, header0)?;
        self.blocks.put(&mut w, header0, &[], &[], &[])?;
        w.commit()?;
        self.changes.notify();
        Ok(())
    }

    /// Applies one feed record (see the module documentation for what is checked) and
    /// marks the intents whose fills it contains accepted, in one write transaction. On any
    /// mismatch nothing is written and the error says what disagreed.
    pub fn apply_record(&self, rec: &FeedRecord) -> Result<AppliedRecord, CoordError> {
        let mut w = self.env.write_txn()?;
        let (ids, moves) = self.index.apply_record(&mut w, rec)?;
        self.blocks
            .put(&mut w, &rec.header, &rec.batch.txs, &ids, &rec.receipts)?;
        let accepted = self.journal.accept(&mut w, &ids, rec.header.height)?;
        w.commit()?;
        self.changes.notify();
        Ok(AppliedRecord {
            txs: ids.len(),
            moves,
            accepted,
        })
    }

    /// A consistent read-only view of the block store, the head and the journal.
    pub fn block_reader(&self) -> Result<BlockReader<'_>, CoordError> {
        Ok(BlockReader {
            db: self,
            txn: self.env.read_txn()?,
        })
    }

    // ----- the intent journal -----

    /// The status of an intent, by its id or by the Ethereum hash of the signed Ethereum
    /// transaction that authorises it (PROTOCOL.md §5.5).
    pub fn intent(&self, id: &TxId) -> Result<Option<IntentStatus>, CoordError> {
        let r = self.env.read_txn()?;
        if let Some(st) = self.journal.status(&r, id)? {
            return Ok(Some(st));
        }
        match self.eth.get(&r, id.as_slice())? {
            Some(b) => self.journal.status(&r, &txid_of(b, "eth hash entry")?),
            None => Ok(None),
        }
    }

    /// Records the Ethereum hash of an intent authorised by a signed Ethereum transaction,
    /// so that [`CoordDb::intent`] finds it by either.
    pub fn record_eth_hash(&self, hash: &B256, intent: &TxId) -> Result<(), CoordError> {
        let mut w = self.env.write_txn()?;
        self.eth.put(&mut w, hash.as_slice(), intent.as_slice())?;
        w.commit()?;
        Ok(())
    }

    /// Journals new intents (`(id, encoded transaction, arrival sequence)`) in one write
    /// transaction; ids already known are skipped. Returns which were new.
    pub fn journal(&self, new: &[(TxId, Vec<u8>, u64)]) -> Result<Vec<bool>, CoordError> {
        let mut w = self.env.write_txn()?;
        let fresh = self.journal.insert(&mut w, new)?;
        w.commit()?;
        self.changes.notify();
        Ok(fresh)
    }

    /// Records intents as filled (`(intent, filled transaction id, gas used)`) before the
    /// batch is sent, so that the feed can recognise them whoever reports the verdict.
    pub fn mark_filled(&self, filled: &[(TxId, TxId, u64)]) -> Result<(), CoordError> {
        let mut w = self.env.write_txn()?;
        self.journal.mark_filled(&mut w, filled)?;
        w.commit()?;
        self.changes.notify();
        Ok(())
    }

    /// Applies status updates computed by the sequencer. An intent already accepted (the
    /// feed saw it) is never moved back. Final ones leave the `open` table.
    pub fn update_intents(&self, updates: &[IntentStatus]) -> Result<(), CoordError> {
        if updates.is_empty() {
            return Ok(());
        }
        let mut w = self.env.write_txn()?;
        self.journal.update(&mut w, updates)?;
        w.commit()?;
        self.changes.notify();
        Ok(())
    }

    /// The intents that are not final, in arrival order, with their transactions: what a
    /// restarted coordinator queues again.
    pub fn open_intents(&self) -> Result<Vec<(u64, IntentStatus, Vec<u8>)>, CoordError> {
        let r = self.env.read_txn()?;
        self.journal.open_intents(&r)
    }

    /// Counts of `(state entries, intents, open intents)`.
    pub fn counts(&self) -> Result<(u64, u64, u64), CoordError> {
        let r = self.env.read_txn()?;
        let (intents, open) = self.journal.counts(&r)?;
        Ok((self.index.len(&r)?, intents, open))
    }
}

/// A read transaction on the block store, the head and the journal: one consistent view.
pub struct BlockReader<'a> {
    db: &'a CoordDb,
    txn: heed::RoTxn<'a, WithoutTls>,
}

impl BlockReader<'_> {
    /// The head, or `None` before the genesis was loaded.
    pub fn head(&self) -> Result<Option<Head>, CoordError> {
        self.db.index.head(&self.txn)
    }

    /// The block at `height` (`None` above the head, or below the height the index was
    /// created at by a coordinator without a block store).
    pub fn block(&self, height: u64) -> Result<Option<StoredBlock>, CoordError> {
        self.db.blocks.block(&self.txn, height)
    }

    /// The logs bloom of the block at `height`, read without decoding the block.
    pub fn bloom(&self, height: u64) -> Result<Option<alloy_primitives::Bloom>, CoordError> {
        self.db.blocks.bloom(&self.txn, height)
    }

    /// The height of the block with header hash `hash`.
    pub fn height_of(&self, hash: &B256) -> Result<Option<u64>, CoordError> {
        self.db.blocks.height_of(&self.txn, hash)
    }

    /// Where the included transaction of hash `hash` is: `(height, index)`.
    pub fn tx_at(&self, hash: &B256) -> Result<Option<(u64, u32)>, CoordError> {
        self.db.blocks.tx_at(&self.txn, hash)
    }

    /// The included transaction at `(height, index)`.
    pub fn tx(
        &self,
        height: u64,
        index: u32,
    ) -> Result<Option<mf_format::Transaction>, CoordError> {
        self.db.blocks.tx(&self.txn, height, index)
    }

    /// The included transactions of the block at `height`, in order.
    pub fn txs(&self, height: u64) -> Result<Vec<mf_format::Transaction>, CoordError> {
        self.db.blocks.txs(&self.txn, height)
    }

    /// The journal's intent id for `hash`: an intent id, or the Ethereum hash of an intent's
    /// signed Ethereum transaction.
    pub fn intent_id(&self, hash: &B256) -> Result<Option<TxId>, CoordError> {
        if self.db.journal.status(&self.txn, hash)?.is_some() {
            return Ok(Some(*hash));
        }
        match self.db.eth.get(&self.txn, hash.as_slice())? {
            Some(b) => txid_of(b, "eth hash entry").map(Some),
            None => Ok(None),
        }
    }

    /// An intent's status and its transaction as submitted.
    pub fn intent(
        &self,
        id: &TxId,
    ) -> Result<Option<(IntentStatus, mf_format::Transaction)>, CoordError> {
        let Some(st) = self.db.journal.status(&self.txn, id)? else {
            return Ok(None);
        };
        match self.db.journal.transaction(&self.txn, id)? {
            Some(tx) => Ok(Some((st, tx))),
            None => Ok(None),
        }
    }

    /// The hashes of the intents not yet final (pending or filled, not yet on the chain),
    /// in arrival order: an Ethereum hash for an intent authorised by a signed Ethereum
    /// transaction, else the intent id.
    pub fn pending_hashes(&self) -> Result<Vec<B256>, CoordError> {
        let open = self.db.journal.open_intents(&self.txn)?;
        let mut out = Vec::with_capacity(open.len());
        for (_, st, bytes) in open {
            let tx = mf_format::decode_tx(&bytes)
                .map_err(|e| CoordError::Corrupt(format!("intent {}: {e}", st.intent)))?;
            out.push(blocks::tx_hash(&tx, &st.intent));
        }
        Ok(out)
    }
}

fn u64_of(b: &[u8], what: &str) -> Result<u64, CoordError> {
    let a: [u8; 8] = b
        .try_into()
        .map_err(|_| CoordError::Corrupt(format!("{what} is not 8 bytes")))?;
    Ok(u64::from_be_bytes(a))
}

fn txid_of(b: &[u8], what: &str) -> Result<TxId, CoordError> {
    TxId::try_from(b)
        .map_err(|_| CoordError::Corrupt(format!("{what} holds an id of {} bytes", b.len())))
}
