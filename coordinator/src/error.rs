//! Why the coordinator failed: [`CoordError`].

use std::path::Path;

/// Why the coordinator failed. Each message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum CoordError {
    /// LMDB failed.
    #[error("index storage error: {0}; check the data directory's disk (space, permissions)")]
    Lmdb(#[from] heed::Error),
    /// A file of the data directory failed.
    #[error("{path}: {source}; check the path, its permissions and the free space")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The JSON-RPC listener failed.
    #[error("the JSON-RPC listener failed: {0}; check the listen address")]
    Listener(#[source] std::io::Error),
    /// The async runtime of the JSON-RPC server could not start.
    #[error("cannot start the JSON-RPC runtime: {0}; check the process' thread limits")]
    Runtime(#[source] std::io::Error),
    /// A thread of the service could not start.
    #[error("cannot start the {name} thread(s): {detail}; check the process' thread limits")]
    Thread {
        /// Which thread.
        name: String,
        /// Why.
        detail: String,
    },
    /// Another coordinator holds the data directory.
    #[error(
        "data directory {0} is in use by another coordinator (its LOCK file is held); stop \
         that one or give this one another data directory"
    )]
    Locked(String),
    /// The stored index or journal is damaged.
    #[error("the index is damaged: {0}; delete the data directory to rebuild it from the feed")]
    Corrupt(String),
    /// The validator's feed disagrees with the index (a different chain, or a bug).
    #[error(
        "the validator's chain disagrees with this index: {0}; if the validator was \
         re-initialised, delete the coordinator's data directory"
    )]
    Diverged(String),
    /// The validator could not be reached or answered something unexpected.
    #[error("validator at {url}: {detail}; check that it runs and that the URL is its address")]
    Upstream {
        /// The validator's URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// A thread of the service hit an unrecoverable error and the service stopped (the
    /// message is that error; it was logged when it happened).
    #[error("the coordinator stopped: {0}")]
    Stopped(String),
}

impl From<mf_lmdb::OpenError> for CoordError {
    fn from(e: mf_lmdb::OpenError) -> CoordError {
        match e {
            mf_lmdb::OpenError::Locked(dir) => CoordError::Locked(dir.display().to_string()),
            mf_lmdb::OpenError::Io { path, source } => CoordError::io(&path, source),
            mf_lmdb::OpenError::Lmdb(e) => CoordError::from(e),
        }
    }
}

impl CoordError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> CoordError {
        CoordError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
