//! # mf-lmdb: one data directory, one process, one LMDB environment
//!
//! The validator and the coordinator keep their state in LMDB (through heed), each in a data
//! directory of its own. Both need the same two things, written once here:
//!
//! - **one process per directory**: LMDB's memory map must not be opened twice by one
//!   process, and two validators (or coordinators) writing one directory would corrupt it.
//!   [`DirLock`] holds an exclusive lock on `dir/LOCK` (`File::try_lock`, released by the
//!   operating system when the process dies, so a `kill -9` never leaves a stale lock);
//! - **the environment and its tables**: [`open_env`] opens the environment under that
//!   lock (the only `unsafe` call, with its safety argument in one place) and
//!   [`create_tables`] creates or opens named tables of raw bytes in one write transaction.
//!
//! Why a crate of its own: the coordinator does not depend on the validator (nor the other
//! way round), and the storage discipline belongs to neither.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let lock = mf_lmdb::DirLock::acquire(dir.path())?;
//! let env = mf_lmdb::open_env(&lock, heed::EnvOpenOptions::new().max_dbs(4), &dir.path().join("env"))?;
//! let [a, b] = mf_lmdb::create_tables(&env, ["a", "b"])?;
//! let mut w = env.write_txn()?;
//! a.put(&mut w, b"k", b"v")?;
//! w.commit()?;
//! assert!(matches!(mf_lmdb::DirLock::acquire(dir.path()), Err(mf_lmdb::OpenError::Locked(_))));
//! # let _ = b;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, unused_crate_dependencies)]

#[cfg(test)]
use tempfile as _;

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions, TlsUsage};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// A table of raw bytes (keys and values are the callers' own encodings).
pub type Table = Database<'static, Bytes, Bytes>;

/// Why a data directory could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process holds the directory's LOCK file.
    #[error("{} is in use by another process (it holds the LOCK file); stop that process first", .0.display())]
    Locked(PathBuf),
    /// A filesystem operation failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// LMDB refused to open the environment or its tables.
    #[error("LMDB error: {0}")]
    Lmdb(#[from] heed::Error),
}

/// An exclusive lock on a data directory (`dir/LOCK`), held for as long as this value
/// lives. Keep it beside the environment it protects.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    dir: PathBuf,
}

impl DirLock {
    /// Creates `dir` if needed and locks `dir/LOCK`; [`OpenError::Locked`] when another
    /// process (or another `DirLock` of this process) holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock, OpenError> {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join("LOCK");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| OpenError::Io {
                path: path.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock {
                _file: file,
                dir: dir.to_path_buf(),
            }),
            Err(TryLockError::WouldBlock) => Err(OpenError::Locked(dir.to_path_buf())),
            Err(TryLockError::Error(source)) => Err(OpenError::Io { path, source }),
        }
    }

    /// The directory this lock holds.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Opens (creating the directory) the LMDB environment at `env_dir`, which must lie inside
/// the directory `lock` holds. `options` carries the caller's map size, table count,
/// readers and thread-local-storage choice.
pub fn open_env<T: TlsUsage>(
    lock: &DirLock,
    options: &EnvOpenOptions<T>,
    env_dir: &Path,
) -> Result<Env<T>, OpenError> {
    if !env_dir.starts_with(lock.dir()) {
        return Err(OpenError::Io {
            path: env_dir.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the environment must lie inside the locked data directory",
            ),
        });
    }
    std::fs::create_dir_all(env_dir).map_err(|source| OpenError::Io {
        path: env_dir.to_path_buf(),
        source,
    })?;
    // SAFETY: heed marks `open` unsafe because LMDB's memory map must not be modified by
    // anything else and one process must not open the same environment twice. The
    // environment lies inside a directory whose LOCK this process holds exclusively (`lock`
    // is borrowed for the call), so no other process opens it, and a second open within
    // this process would first fail to take the same lock.
    let env = unsafe { options.open(env_dir)? };
    Ok(env)
}

/// Creates (or opens) the named tables of `env` in one write transaction.
pub fn create_tables<T: TlsUsage, const N: usize>(
    env: &Env<T>,
    names: [&str; N],
) -> Result<[Table; N], OpenError> {
    let wtxn = env.write_txn()?;
    let done = env.create_databases_and_commit(wtxn, |wdo, wtxn| {
        let mut out = Vec::with_capacity(N);
        for name in names {
            out.push(wdo.create_database::<Bytes, Bytes>(wtxn, Some(name))?);
        }
        let tables: [_; N] = out
            .try_into()
            .map_err(|_| heed::Error::Io(std::io::Error::other("table count")))?;
        heed::Result::Ok(CommitOrAbort::<_, ()>::Commit(tables))
    })?;
    match done {
        CommitOrAbort::Commit(tables) => Ok(tables),
        CommitOrAbort::Abort(()) => Err(OpenError::Lmdb(heed::Error::Io(std::io::Error::other(
            "creating the tables was aborted",
        )))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_directory_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = DirLock::acquire(dir.path()).expect("lock");
        assert!(matches!(
            DirLock::acquire(dir.path()),
            Err(OpenError::Locked(_))
        ));
        drop(first);
        DirLock::acquire(dir.path()).expect("lock again");
    }

    #[test]
    fn an_environment_outside_the_locked_directory_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let other = tempfile::tempdir().expect("tempdir");
        let lock = DirLock::acquire(dir.path()).expect("lock");
        let r = open_env(&lock, &EnvOpenOptions::new(), other.path());
        assert!(matches!(r, Err(OpenError::Io { .. })));
    }
}
