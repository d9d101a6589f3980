//! The durable store: one LMDB environment, written append-only.
//!
//! | table | key | value |
//! | --- | --- | --- |
//! | `genesis` | sequence number (u64 BE) | version id (85 bytes) + value encoding |
//! | `txs` | height (u64 BE) + index among the batch's accepted transactions (u32 BE) | tx id (32 bytes) + the transaction's encoding |
//! | `code` | keccak-256 code hash | runtime code |
//! | `headers` | height (u64 BE) | header |
//! | `receipts` | height (u64 BE) | receipts of every transaction submitted in the batch |
//! | `meta` | name | `height`, `lthash`, `chain_id`; `order_seq` on a replica (the last order-stream sequence applied, [`crate::order`]) |
//!
//! Why this shape: the live set is indexed in memory ([`crate::index`]), so LMDB never
//! needs a random lookup on the critical path, and the chain itself is the log (as in
//! Bitcoin Core): the accepted transactions carry every move with its `prev` and `next`, so
//! the set of live versions is genesis plus what they created minus what they spent, and
//! [`crate::chain::rebuild_index`] replays it. A batch writes only appends at the end of
//! B-trees (`MDB_APPEND`), no copy-on-write of random pages (what limits per-move LMDB
//! updates to ~100k/s), and it commits as one LMDB write transaction: on disk entirely or
//! not at all. A version's value is found through its location (height, transaction, move).
//! History is kept; pruning spent history is future work.

use crate::error::StoreError;
use heed::{Env, EnvOpenOptions, PutFlags, RoTxn, RwTxn};
use mf_format::{
    Account, ChainRules, Header, LtHash, Receipt, TxId, Value, VersionId, decode_header,
    decode_receipts,
};
use mf_lmdb::{DirLock, Table};
use std::ops::Bound;
use std::path::{Path, PathBuf};

/// The LMDB environment and its tables.
pub struct Store {
    /// Held for the life of the store: one process per data directory.
    _lock: DirLock,
    env: Env,
    genesis: Table,
    txs: Table,
    code: Table,
    headers: Table,
    receipts: Table,
    meta: Table,
    dir: PathBuf,
}

/// Map size: sparse, so generous (1 TiB of address space).
const MAP_SIZE: usize = 1 << 40;

/// A genesis record: version id and value bytes.
pub struct Record<'a> {
    /// The 85-byte version id.
    pub vkey: &'a [u8; VersionId::ENCODED_LEN],
    /// The value's canonical encoding.
    pub value: &'a [u8],
}

/// Splits a `genesis` record.
pub fn split_record(rec: &[u8]) -> Option<Record<'_>> {
    if rec.len() <= VersionId::ENCODED_LEN {
        return None;
    }
    let (k, v) = rec.split_at(VersionId::ENCODED_LEN);
    Some(Record {
        vkey: k.try_into().ok()?,
        value: v,
    })
}

/// Everything one batch writes.
#[derive(Default)]
pub struct BatchWrite {
    /// Genesis records `(sequence, record)` (height 0 only).
    pub genesis: Vec<(u64, Vec<u8>)>,
    /// The accepted transactions in order: tx id (32 bytes) + encoding.
    pub txs: Vec<Vec<u8>>,
    /// `(code hash, code)` of created contracts.
    pub code: Vec<([u8; 32], Vec<u8>)>,
    /// The header.
    pub header: Header,
    /// Receipts, encoded.
    pub receipts: Vec<u8>,
    /// The state hash lanes after the batch.
    pub lthash: LtHash,
    /// On a replica, the order-stream sequence of the batch ([`crate::order`]): written to
    /// `meta` in the same transaction, so that a restart resumes exactly after it.
    pub order_seq: Option<u64>,
    /// The beneficiary's live account version after the batch, `intx || encoded account`
    /// (PROTOCOL.md §6.4.6), when the batch changed it or at genesis.
    pub beneficiary: Option<Vec<u8>>,
}

fn tx_key(height: u64, index: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&height.to_be_bytes());
    k[8..].copy_from_slice(&index.to_be_bytes());
    k
}

fn be(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

impl Store {
    fn env_dir(dir: &Path) -> PathBuf {
        dir.join("lmdb")
    }

    /// Where `init` builds the environment before it is moved into place.
    fn staging_dir(dir: &Path) -> PathBuf {
        dir.join("lmdb.init")
    }

    /// Starts an `init`: the environment is created in a staging directory beside where it
    /// will live, so that an `init` killed midway leaves no store (only the staging
    /// directory, which the next `init` deletes). Call [`Store::publish`] after the genesis
    /// is committed. Refuses a directory that already holds a store.
    pub fn create_staged(dir: &Path) -> Result<Store, StoreError> {
        let lock = DirLock::acquire(dir)?;
        if Self::exists(dir) {
            return Err(StoreError::AlreadyInitialised(dir.display().to_string()));
        }
        let staging = Self::staging_dir(dir);
        if staging.exists() {
            tracing::warn!(dir = %staging.display(), "removing what an interrupted init left");
            std::fs::remove_dir_all(&staging).map_err(|source| StoreError::Io {
                path: staging.clone(),
                source,
            })?;
        }
        Self::open_env_at(lock, &staging, dir, MAP_SIZE)
    }

    /// Finishes an `init` begun by [`Store::create_staged`]: closes the environment (its
    /// commits are already synced), moves the staging directory into place with one
    /// `rename` and syncs the data directory, so that the store appears whole or not at all.
    pub fn publish(self) -> Result<(), StoreError> {
        let Store {
            _lock: lock,
            env,
            dir,
            ..
        } = self;
        env.prepare_for_closing().wait();
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, source }
        };
        let (from, to) = (Self::staging_dir(&dir), Self::env_dir(&dir));
        std::fs::rename(&from, &to).map_err(io(&to))?;
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&dir))?;
        drop(lock);
        Ok(())
    }

    /// True when `dir` holds a store.
    pub fn exists(dir: &Path) -> bool {
        Self::env_dir(dir).join("data.mdb").exists()
    }

    /// Opens (creating tables when `create`).
    pub fn open(dir: &Path, create: bool) -> Result<Store, StoreError> {
        let env_dir = Self::env_dir(dir);
        if !create && !Self::exists(dir) {
            return Err(StoreError::NotInitialised(dir.display().to_string()));
        }
        let lock = DirLock::acquire(dir)?;
        Self::open_env_at(lock, &env_dir, dir, MAP_SIZE)
    }

    /// Opens an initialised store whose LMDB map is `map_size` bytes instead of 1 TiB: the
    /// store cannot grow beyond it, and a batch that would make it grow fails to commit
    /// (LMDB's `MDB_MAP_FULL`). For operators who cap a validator's disk, and for tests of
    /// a failed commit.
    pub fn open_with_map_size(dir: &Path, map_size: usize) -> Result<Store, StoreError> {
        if !Self::exists(dir) {
            return Err(StoreError::NotInitialised(dir.display().to_string()));
        }
        let lock = DirLock::acquire(dir)?;
        Self::open_env_at(lock, &Self::env_dir(dir), dir, map_size)
    }

    fn open_env_at(
        lock: DirLock,
        env_dir: &Path,
        dir: &Path,
        map_size: usize,
    ) -> Result<Store, StoreError> {
        let env = mf_lmdb::open_env(
            &lock,
            EnvOpenOptions::new().map_size(map_size).max_dbs(16),
            env_dir,
        )?;
        let [genesis, txs, code, headers, receipts, meta] = mf_lmdb::create_tables(
            &env,
            ["genesis", "txs", "code", "headers", "receipts", "meta"],
        )?;
        Ok(Store {
            _lock: lock,
            env,
            genesis,
            txs,
            code,
            headers,
            receipts,
            meta,
            dir: dir.to_path_buf(),
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A read transaction.
    pub fn read(&self) -> Result<RoTxn<'_, heed::WithTls>, StoreError> {
        Ok(self.env.read_txn()?)
    }

    /// Reads a meta value.
    pub fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let r = self.env.read_txn()?;
        Ok(self.meta.get(&r, name.as_bytes())?.map(|v| v.to_vec()))
    }

    /// The applied height, if any batch (or genesis) was committed.
    pub fn height(&self) -> Result<Option<u64>, StoreError> {
        match self.meta("height")? {
            None => Ok(None),
            Some(v) => {
                let b: [u8; 8] = v
                    .as_slice()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("meta height".into()))?;
                Ok(Some(u64::from_be_bytes(b)))
            }
        }
    }

    /// The stored state hash lanes.
    pub fn lthash(&self) -> Result<LtHash, StoreError> {
        let v = self
            .meta("lthash")?
            .ok_or_else(|| StoreError::Corrupt("no lthash".into()))?;
        LtHash::from_bytes(&v).ok_or_else(|| StoreError::Corrupt("lthash length".into()))
    }

    /// The chain id.
    pub fn chain_id(&self) -> Result<u64, StoreError> {
        let v = self
            .meta("chain_id")?
            .ok_or_else(|| StoreError::Corrupt("no chain id".into()))?;
        let b: [u8; 8] = v
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Corrupt("chain id".into()))?;
        Ok(u64::from_be_bytes(b))
    }

    /// The chain's execution rules (gas limit, fork schedule) from its genesis; a store
    /// written before they were recorded holds the default rules (Cancun, 30,000,000 gas),
    /// the only ones there were.
    pub fn rules(&self) -> Result<ChainRules, StoreError> {
        match self.meta("chain_rules")? {
            None => Ok(ChainRules::default()),
            Some(v) => {
                let r = ChainRules::decode_stored(&v)
                    .map_err(|e| StoreError::Corrupt(format!("chain rules: {e}")))?;
                r.validate()
                    .map_err(|e| StoreError::Corrupt(format!("chain rules: {e}")))?;
                Ok(r)
            }
        }
    }

    /// Writes the genesis (height 0), the chain id and the chain's rules atomically.
    pub fn commit_genesis(
        &self,
        w: &BatchWrite,
        chain_id: u64,
        rules: &ChainRules,
    ) -> Result<(), StoreError> {
        let mut t = self.env.write_txn()?;
        self.write_into(&mut t, w)?;
        self.meta
            .put(&mut t, b"chain_id", &chain_id.to_be_bytes())?;
        self.meta
            .put(&mut t, b"chain_rules", &mf_format::encode(rules))?;
        t.commit()?;
        Ok(())
    }

    /// Writes one batch atomically: the one flush boundary of the validator.
    pub fn commit(&self, w: &BatchWrite) -> Result<(), StoreError> {
        let mut t = self.env.write_txn()?;
        self.write_into(&mut t, w)?;
        t.commit()?;
        Ok(())
    }

    fn write_into(&self, t: &mut RwTxn<'_>, w: &BatchWrite) -> Result<(), StoreError> {
        for (seq, rec) in &w.genesis {
            self.genesis
                .put_with_flags(t, PutFlags::APPEND, &be(*seq), rec)?;
        }
        for (i, tx) in w.txs.iter().enumerate() {
            self.txs
                .put_with_flags(t, PutFlags::APPEND, &tx_key(w.header.height, i as u32), tx)?;
        }
        for (h, c) in &w.code {
            self.code.put(t, h, c)?;
        }
        let h = be(w.header.height);
        self.headers.put(t, &h, &mf_format::encode(&w.header))?;
        self.receipts.put(t, &h, &w.receipts)?;
        self.meta.put(t, b"height", &h)?;
        self.meta.put(t, b"lthash", &w.lthash.to_bytes())?;
        if let Some(seq) = w.order_seq {
            self.meta.put(t, b"order_seq", &be(seq))?;
        }
        if let Some(b) = &w.beneficiary {
            self.meta.put(t, b"beneficiary", b)?;
        }
        Ok(())
    }

    /// Records that order-stream message `seq` was applied without writing a batch (nothing
    /// in it was accepted, or it was refused as a whole): one small LMDB transaction of its
    /// own. Call it only when no batch write is in the commit thread's hands.
    pub fn record_order_seq(&self, seq: u64) -> Result<(), StoreError> {
        let mut t = self.env.write_txn()?;
        self.meta.put(&mut t, b"order_seq", &be(seq))?;
        t.commit()?;
        Ok(())
    }

    /// The last order-stream sequence applied ([`crate::order`]); `None` before the first.
    pub fn order_seq(&self) -> Result<Option<u64>, StoreError> {
        match self.meta("order_seq")? {
            None => Ok(None),
            Some(v) => {
                let b: [u8; 8] = v
                    .as_slice()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("meta order_seq".into()))?;
                Ok(Some(u64::from_be_bytes(b)))
            }
        }
    }

    /// The beneficiary's live account version (PROTOCOL.md §6.4.6) as the last batch (or
    /// the genesis) recorded it; `None` in a store that never recorded one.
    pub fn beneficiary(&self) -> Result<Option<(TxId, Account)>, StoreError> {
        let Some(v) = self.meta("beneficiary")? else {
            return Ok(None);
        };
        let corrupt = || StoreError::Corrupt("meta beneficiary".into());
        if v.len() < 32 {
            return Err(corrupt());
        }
        match Value::decode_canonical(&v[32..]) {
            Ok(Value::Account(a)) => Ok(Some((TxId::from_slice(&v[..32]), a))),
            _ => Err(corrupt()),
        }
    }

    /// Header at `height`.
    pub fn header(&self, height: u64) -> Result<Option<Header>, StoreError> {
        let r = self.env.read_txn()?;
        match self.headers.get(&r, &be(height))? {
            None => Ok(None),
            Some(b) => decode_header(b)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("header {height}: {e}"))),
        }
    }

    /// The accepted transactions at `height`, encoded as a [`mf_format::Batch`] (the
    /// encoding of a batch is its count followed by its transactions' encodings). `None` when
    /// the height is above the head.
    pub fn batch_bytes(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let r = self.env.read_txn()?;
        if self.headers.get(&r, &be(height))?.is_none() {
            return Ok(None);
        }
        let mut body = Vec::new();
        let mut n = 0u64;
        let start = tx_key(height, 0);
        let end = tx_key(height, u32::MAX);
        let range = (Bound::Included(&start[..]), Bound::Included(&end[..]));
        for item in self.txs.range(&r, &range)? {
            let (_, v) = item?;
            if v.len() < 32 {
                return Err(StoreError::Corrupt(format!("short tx record at {height}")));
            }
            body.extend_from_slice(&v[32..]);
            n += 1;
        }
        let mut out = Vec::with_capacity(8 + body.len());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&body);
        Ok(Some(out))
    }

    /// The stored transaction `(id, encoding)` at `(height, index)`.
    pub fn tx_at(&self, height: u64, index: u32) -> Result<Option<(TxId, Vec<u8>)>, StoreError> {
        let r = self.env.read_txn()?;
        match self.txs.get(&r, &tx_key(height, index))? {
            None => Ok(None),
            Some(v) if v.len() >= 32 => Ok(Some((TxId::from_slice(&v[..32]), v[32..].to_vec()))),
            Some(_) => Err(StoreError::Corrupt(format!("short tx record at {height}"))),
        }
    }

    /// The `next` value of move `mv` of the stored transaction at `(height, index)`, read
    /// in place (the transaction is walked up to that move, not decoded or copied). `None`
    /// when there is no such transaction; an error when the record does not hold that move.
    pub fn move_next_at(
        &self,
        height: u64,
        index: u32,
        mv: u16,
    ) -> Result<Option<mf_format::Value>, StoreError> {
        let r = self.env.read_txn()?;
        match self.txs.get(&r, &tx_key(height, index))? {
            None => Ok(None),
            Some(v) if v.len() >= 32 => mf_format::tx_move_next(&v[32..], mv as usize)
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt(format!("no move {mv} at {height}/{index}"))),
            Some(_) => Err(StoreError::Corrupt(format!("short tx record at {height}"))),
        }
    }

    /// The shape of the stored batch at `height`: `(transactions, bytes of the batch's
    /// encoding)`, the count prefix included, without copying a transaction. `None` when the
    /// height is above the head.
    pub fn batch_shape(&self, height: u64) -> Result<Option<(u32, u64)>, StoreError> {
        let r = self.env.read_txn()?;
        if self.headers.get(&r, &be(height))?.is_none() {
            return Ok(None);
        }
        let (mut n, mut bytes) = (0u32, 8u64);
        let start = tx_key(height, 0);
        let end = tx_key(height, u32::MAX);
        let range = (Bound::Included(&start[..]), Bound::Included(&end[..]));
        for item in self.txs.range(&r, &range)? {
            let (_, v) = item?;
            if v.len() < 32 {
                return Err(StoreError::Corrupt(format!("short tx record at {height}")));
            }
            n += 1;
            bytes += (v.len() - 32) as u64;
        }
        Ok(Some((n, bytes)))
    }

    /// Appends to `out` the encodings of the stored transactions at `height` from index
    /// `from` on, until `out` holds at least `max` bytes or the batch ends (at least one
    /// transaction when there is one). Returns the index to continue from, `None` at the end.
    pub fn batch_txs_into(
        &self,
        height: u64,
        from: u32,
        max: usize,
        out: &mut Vec<u8>,
    ) -> Result<Option<u32>, StoreError> {
        let r = self.env.read_txn()?;
        let start = tx_key(height, from);
        let end = tx_key(height, u32::MAX);
        let range = (Bound::Included(&start[..]), Bound::Included(&end[..]));
        let mut next = from;
        for item in self.txs.range(&r, &range)? {
            if out.len() >= max {
                return Ok(Some(next));
            }
            let (_, v) = item?;
            if v.len() < 32 {
                return Err(StoreError::Corrupt(format!("short tx record at {height}")));
            }
            out.extend_from_slice(&v[32..]);
            next = next
                .checked_add(1)
                .ok_or_else(|| StoreError::Corrupt(format!("too many txs at {height}")))?;
        }
        Ok(None)
    }

    /// Bytes `[offset, offset + max)` of the raw receipts at `height` (fewer at the end),
    /// and their total length. `None` when there are none stored.
    pub fn receipts_slice(
        &self,
        height: u64,
        offset: usize,
        max: usize,
    ) -> Result<Option<(Vec<u8>, usize)>, StoreError> {
        let r = self.env.read_txn()?;
        Ok(self.receipts.get(&r, &be(height))?.map(|b| {
            let from = offset.min(b.len());
            let to = from.saturating_add(max).min(b.len());
            (b[from..to].to_vec(), b.len())
        }))
    }

    /// Calls `f(sequence, record)` with the genesis records from sequence `from` on, in
    /// order, while it returns true; returns the sequence to continue from (`None` at the
    /// end). The records are read in place.
    pub fn genesis_from(
        &self,
        from: u64,
        mut f: impl FnMut(u64, &[u8]) -> Result<bool, StoreError>,
    ) -> Result<Option<u64>, StoreError> {
        let r = self.env.read_txn()?;
        let start = be(from);
        let range = (Bound::Included(&start[..]), Bound::Unbounded);
        for item in self.genesis.range(&r, &range)? {
            let (k, v) = item?;
            let seq = u64::from_be_bytes(
                k.try_into()
                    .map_err(|_| StoreError::Corrupt("genesis key".into()))?,
            );
            if !f(seq, v)? {
                return Ok(Some(seq));
            }
        }
        Ok(None)
    }

    /// Receipts at `height`.
    pub fn receipts(&self, height: u64) -> Result<Option<Vec<Receipt>>, StoreError> {
        let r = self.env.read_txn()?;
        match self.receipts.get(&r, &be(height))? {
            None => Ok(None),
            Some(b) => decode_receipts(b)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("receipts {height}: {e}"))),
        }
    }

    /// Raw receipts bytes at `height`.
    pub fn receipts_bytes(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let r = self.env.read_txn()?;
        Ok(self.receipts.get(&r, &be(height))?.map(|b| b.to_vec()))
    }

    /// The genesis record with sequence number `seq`.
    pub fn genesis_at(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let r = self.env.read_txn()?;
        Ok(self.genesis.get(&r, &be(seq))?.map(|b| b.to_vec()))
    }

    /// Code by hash.
    pub fn code(&self, hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        let r = self.env.read_txn()?;
        Ok(self.code.get(&r, hash)?.map(|b| b.to_vec()))
    }

    /// Calls `f(chunk)` with the genesis records `(sequence, record)` in order, `chunk` at a
    /// time (so the caller can fingerprint a chunk in parallel).
    pub fn scan_genesis(
        &self,
        chunk: usize,
        mut f: impl FnMut(&[(u64, Vec<u8>)]),
    ) -> Result<u64, StoreError> {
        let r = self.env.read_txn()?;
        let mut buf = Vec::with_capacity(chunk);
        let mut n = 0u64;
        for item in self.genesis.iter(&r)? {
            let (k, v) = item?;
            let seq = u64::from_be_bytes(
                k.try_into()
                    .map_err(|_| StoreError::Corrupt("genesis key".into()))?,
            );
            buf.push((seq, v.to_vec()));
            n += 1;
            if buf.len() == chunk {
                f(&buf);
                buf.clear();
            }
        }
        if !buf.is_empty() {
            f(&buf);
        }
        Ok(n)
    }

    /// Calls `f(chunk)` with the stored transactions `(height, index, id, encoding)` in
    /// chain order, `chunk` at a time.
    pub fn scan_txs(
        &self,
        chunk: usize,
        mut f: impl FnMut(&[(u64, u32, TxId, Vec<u8>)]) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let r = self.env.read_txn()?;
        let mut buf = Vec::with_capacity(chunk);
        let mut n = 0u64;
        for item in self.txs.iter(&r)? {
            let (k, v) = item?;
            if k.len() != 12 || v.len() < 32 {
                return Err(StoreError::Corrupt("tx record".into()));
            }
            let mut h = [0u8; 8];
            h.copy_from_slice(&k[..8]);
            let mut i = [0u8; 4];
            i.copy_from_slice(&k[8..]);
            buf.push((
                u64::from_be_bytes(h),
                u32::from_be_bytes(i),
                TxId::from_slice(&v[..32]),
                v[32..].to_vec(),
            ));
            n += 1;
            if buf.len() == chunk {
                f(&buf)?;
                buf.clear();
            }
        }
        if !buf.is_empty() {
            f(&buf)?;
        }
        Ok(n)
    }

    /// Entry counts: (genesis versions, stored transactions, code, headers).
    pub fn counts(&self) -> Result<(u64, u64, u64, u64), StoreError> {
        let r = self.env.read_txn()?;
        Ok((
            self.genesis.len(&r)?,
            self.txs.len(&r)?,
            self.code.len(&r)?,
            self.headers.len(&r)?,
        ))
    }

    /// Size of the LMDB file on disk, in bytes.
    pub fn disk_bytes(&self) -> u64 {
        let p = Self::env_dir(&self.dir).join("data.mdb");
        file_blocks_bytes(&p)
    }

    /// Appends bulk-loaded genesis records (bench preload; sequence numbers must increase
    /// and stay below 2^27), in one transaction per call.
    pub fn append_genesis(&self, recs: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        let mut t = self.env.write_txn()?;
        for (seq, rec) in recs {
            self.genesis
                .put_with_flags(&mut t, PutFlags::APPEND, &be(*seq), rec)?;
        }
        t.commit()?;
        Ok(())
    }
}

/// Bytes a file really occupies (LMDB files are sparse).
fn file_blocks_bytes(p: &Path) -> u64 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(p).map(|m| m.blocks() * 512).unwrap_or(0)
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
    }
}
