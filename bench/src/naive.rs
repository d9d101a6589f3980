//! The naive baseline: the UTXO set as one LMDB table keyed by the 85-byte version id, and
//! per move a get, a compare, a delete and a put, inside one write transaction per batch.
//! This is how the Manaflow prototype applies moves; the benchmarks run it beside ours (it
//! lived in the validator crate before; only the benchmarks use it).

use anyhow::{Context, Result};
use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions, PutFlags};
use mf_format::{MoveKind, Transaction, TxId, Value, VersionId};
use std::path::Path;

/// The baseline store.
pub struct Naive {
    env: Env,
    set: Database<'static, Bytes, Bytes>,
}

impl Naive {
    /// Opens (or creates) a baseline store in `dir`.
    pub fn open(dir: &Path) -> Result<Naive> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        // SAFETY: opened once per process, on a directory of its own.
        let env = unsafe {
            EnvOpenOptions::new()
                .map_size(1 << 40)
                .max_dbs(2)
                .open(dir)?
        };
        let wtxn = env.write_txn()?;
        let set = env
            .create_databases_and_commit(wtxn, |wdo, wtxn| {
                let d = wdo.create_database::<Bytes, Bytes>(wtxn, Some("set"))?;
                heed::Result::Ok(CommitOrAbort::<_, ()>::Commit(d))
            })?
            .unwrap_commit();
        Ok(Naive { env, set })
    }

    /// Loads records `(version id, value bytes)` that are sorted by version id (append).
    pub fn preload_sorted(&self, recs: &[([u8; 85], Vec<u8>)]) -> Result<()> {
        let mut t = self.env.write_txn()?;
        for (k, v) in recs {
            self.set.put_with_flags(&mut t, PutFlags::APPEND, k, v)?;
        }
        t.commit()?;
        Ok(())
    }

    /// Applies the consume moves of `txs` (with their ids) in one write transaction; returns
    /// the number of moves applied. A transaction whose version is missing or whose value
    /// differs is skipped (its earlier moves stay: the prototype had no rollback either, and
    /// the benchmarks feed it valid batches).
    pub fn apply(&self, txs: &[(TxId, &Transaction)]) -> Result<usize> {
        let mut t = self.env.write_txn()?;
        let mut n = 0;
        let mut buf = [0u8; Value::MAX_ENCODED_LEN];
        for (id, tx) in txs {
            for m in &tx.body.moves {
                if m.kind != MoveKind::Consume {
                    continue;
                }
                let key = m.key();
                let old = m.version().to_bytes();
                let prev = m.prev.encode_fixed(&mut buf).to_vec();
                match self.set.get(&t, &old)? {
                    Some(v) if v == prev.as_slice() => {}
                    _ => continue,
                }
                self.set.delete(&mut t, &old)?;
                let new = VersionId::new(*id, key).to_bytes();
                self.set.put(&mut t, &new, m.next.encode_fixed(&mut buf))?;
                n += 1;
            }
        }
        t.commit()?;
        Ok(n)
    }
}
