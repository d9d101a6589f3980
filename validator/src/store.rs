//! The durable store: one LMDB environment, written append-only.
//!
//! | table | key | value |
//! | --- | --- | --- |
//! | `created` | location `height << 32 \| seq` (u64 BE) | version id (85 bytes) + value encoding |
//! | `spent` | location (u64 BE) | the spent version id (85 bytes) |
//! | `code` | keccak-256 code hash | runtime code |
//! | `headers` | height (u64 BE) | header |
//! | `batches` | height (u64 BE) | the batch as received |
//! | `receipts` | height (u64 BE) | receipts of every transaction of the batch |
//! | `meta` | name | `height`, `lthash`, `chain_id` |
//!
//! Why append-only: the set is indexed in memory ([`crate::index`]), so LMDB never needs a
//! random lookup on the critical path, and every write is an append at the end of a B-tree
//! (`MDB_APPEND`): no copy-on-write of random pages, which is what limits per-move LMDB
//! updates to ~100k/s. A batch commits as one LMDB write transaction, so it is on disk
//! entirely or not at all; the chain of batches is the log. The live set is `created` minus
//! `spent`; [`Store::scan_live`] rebuilds it. Spent records are kept (history); compaction
//! is future work.

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions, PutFlags, RoTxn, RwTxn};
use mf_format::{Header, LtHash, Receipt, decode_header, decode_receipts};
use std::path::{Path, PathBuf};

type Db = Database<'static, Bytes, Bytes>;

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// LMDB failed.
    #[error("LMDB error: {0}")]
    Lmdb(#[from] heed::Error),
    /// Filesystem error.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The data directory holds something we cannot read.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// No store was initialised here.
    #[error("no validator data in {0}: run `mf-validator init --data {0} --genesis FILE` first")]
    NotInitialised(String),
    /// A store already exists here.
    #[error("{0} already holds validator data; choose an empty directory")]
    AlreadyInitialised(String),
}

/// The LMDB environment and its tables.
pub struct Store {
    env: Env,
    created: Db,
    spent: Db,
    code: Db,
    headers: Db,
    batches: Db,
    receipts: Db,
    meta: Db,
    dir: PathBuf,
}

/// Map size: sparse, so generous (1 TiB of address space).
const MAP_SIZE: usize = 1 << 40;

/// A created record: version id and value bytes.
pub struct Record<'a> {
    /// The 85-byte version id.
    pub vkey: &'a [u8; 85],
    /// The value's canonical encoding.
    pub value: &'a [u8],
}

/// Splits a `created` record.
pub fn split_record(rec: &[u8]) -> Option<Record<'_>> {
    if rec.len() < 86 {
        return None;
    }
    let (k, v) = rec.split_at(85);
    Some(Record {
        vkey: k.try_into().ok()?,
        value: v,
    })
}

/// Everything one batch writes.
#[derive(Default)]
pub struct BatchWrite {
    /// `(location, record)` of created versions, in increasing location order.
    pub created: Vec<(u64, Vec<u8>)>,
    /// `(location, version id)` of spent versions, in increasing location order.
    pub spent: Vec<(u64, [u8; 85])>,
    /// `(code hash, code)` of created contracts.
    pub code: Vec<([u8; 32], Vec<u8>)>,
    /// The header.
    pub header: Header,
    /// The batch bytes.
    pub batch: Vec<u8>,
    /// Receipts, encoded.
    pub receipts: Vec<u8>,
    /// The state hash lanes after the batch.
    pub lthash: LtHash,
}

fn be(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

impl Store {
    fn env_dir(dir: &Path) -> PathBuf {
        dir.join("lmdb")
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
        std::fs::create_dir_all(&env_dir).map_err(|source| StoreError::Io {
            path: env_dir.clone(),
            source,
        })?;
        // SAFETY: heed marks `open` unsafe because LMDB's memory map must not be modified by
        // anything else and one process must not open the same path twice; the validator
        // opens its data directory once (and `serve` holds it for its lifetime).
        let env = unsafe {
            EnvOpenOptions::new()
                .map_size(MAP_SIZE)
                .max_dbs(16)
                .open(&env_dir)?
        };
        let wtxn = env.write_txn()?;
        let [created, spent, code, headers, batches, receipts, meta] = env
            .create_databases_and_commit(wtxn, |wdo, wtxn| {
                let mut open = |name| wdo.create_database::<Bytes, Bytes>(wtxn, Some(name));
                let dbs = [
                    open("created")?,
                    open("spent")?,
                    open("code")?,
                    open("headers")?,
                    open("batches")?,
                    open("receipts")?,
                    open("meta")?,
                ];
                heed::Result::Ok(CommitOrAbort::<_, ()>::Commit(dbs))
            })?
            .unwrap_commit();
        Ok(Store {
            env,
            created,
            spent,
            code,
            headers,
            batches,
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

    /// Writes one batch (or the genesis, at height 0) atomically.
    pub fn commit(&self, w: &BatchWrite, chain_id: u64) -> Result<(), StoreError> {
        let mut t = self.env.write_txn()?;
        self.write_into(&mut t, w, chain_id)?;
        t.commit()?;
        Ok(())
    }

    fn write_into(
        &self,
        t: &mut RwTxn<'_>,
        w: &BatchWrite,
        chain_id: u64,
    ) -> Result<(), StoreError> {
        for (loc, rec) in &w.created {
            self.created
                .put_with_flags(t, PutFlags::APPEND, &be(*loc), rec)?;
        }
        for (loc, k) in &w.spent {
            self.spent
                .put_with_flags(t, PutFlags::APPEND, &be(*loc), k)?;
        }
        for (h, c) in &w.code {
            self.code.put(t, h, c)?;
        }
        let h = be(w.header.height);
        self.headers.put(t, &h, &mf_format::encode(&w.header))?;
        self.batches.put(t, &h, &w.batch)?;
        self.receipts.put(t, &h, &w.receipts)?;
        self.meta.put(t, b"height", &h)?;
        self.meta.put(t, b"lthash", &w.lthash.to_bytes())?;
        self.meta.put(t, b"chain_id", &chain_id.to_be_bytes())?;
        Ok(())
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

    /// Batch bytes at `height`.
    pub fn batch_bytes(&self, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let r = self.env.read_txn()?;
        Ok(self.batches.get(&r, &be(height))?.map(|b| b.to_vec()))
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

    /// The created record at `loc`.
    pub fn created_at(&self, loc: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let r = self.env.read_txn()?;
        Ok(self.created.get(&r, &be(loc))?.map(|b| b.to_vec()))
    }

    /// Code by hash.
    pub fn code(&self, hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        let r = self.env.read_txn()?;
        Ok(self.code.get(&r, hash)?.map(|b| b.to_vec()))
    }

    /// Calls `f(location, record)` for every created record, in location order, `chunk`
    /// records at a time (so the caller can fingerprint a chunk in parallel).
    pub fn scan_created(
        &self,
        chunk: usize,
        mut f: impl FnMut(&[(u64, Vec<u8>)]),
    ) -> Result<u64, StoreError> {
        let r = self.env.read_txn()?;
        let mut buf = Vec::with_capacity(chunk);
        let mut n = 0u64;
        for item in self.created.iter(&r)? {
            let (k, v) = item?;
            let loc = u64::from_be_bytes(
                k.try_into()
                    .map_err(|_| StoreError::Corrupt("created key".into()))?,
            );
            buf.push((loc, v.to_vec()));
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

    /// Calls `f(location, version id)` for every spent record, in location order.
    pub fn scan_spent(&self, mut f: impl FnMut(u64, &[u8; 85])) -> Result<u64, StoreError> {
        let r = self.env.read_txn()?;
        let mut n = 0;
        for item in self.spent.iter(&r)? {
            let (k, v) = item?;
            let loc = u64::from_be_bytes(
                k.try_into()
                    .map_err(|_| StoreError::Corrupt("spent key".into()))?,
            );
            let vk: &[u8; 85] = v
                .try_into()
                .map_err(|_| StoreError::Corrupt("spent record".into()))?;
            f(loc, vk);
            n += 1;
        }
        Ok(n)
    }

    /// Entry counts: (created, spent, code, headers).
    pub fn counts(&self) -> Result<(u64, u64, u64, u64), StoreError> {
        let r = self.env.read_txn()?;
        Ok((
            self.created.len(&r)?,
            self.spent.len(&r)?,
            self.code.len(&r)?,
            self.headers.len(&r)?,
        ))
    }

    /// Size of the LMDB file on disk, in bytes.
    pub fn disk_bytes(&self) -> u64 {
        let p = Self::env_dir(&self.dir).join("data.mdb");
        file_blocks_bytes(&p)
    }

    /// Appends bulk-loaded records at height 0 (bench preload), in one transaction per call.
    pub fn append_created(&self, recs: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        let mut t = self.env.write_txn()?;
        for (loc, rec) in recs {
            self.created
                .put_with_flags(&mut t, PutFlags::APPEND, &be(*loc), rec)?;
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
