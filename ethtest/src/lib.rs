//! # mf-ethtest: Ethereum's own tests, run through the protocol
//!
//! Ethereum compatibility is measured, not claimed: this crate runs the blockchain tests of
//! [ethereum/tests](https://github.com/ethereum/tests) (the `BlockchainTests` JSON format,
//! any folder of it) through the project's own pipeline and compares the result with
//! Ethereum's post-state, the way revm's `revme btest` runs them through revm:
//!
//! 1. the case's `pre` state becomes a validator's genesis (through the protocol's genesis
//!    parser, so its rules apply);
//! 2. each block's transactions are turned into moves by `mf_movegen::execute` against the
//!    state so far (the wallet side), one protocol transaction per Ethereum transaction;
//! 3. each block is one batch, applied in strict mode by a real `mf_validator::Validator`
//!    on LMDB, with the re-execution check against only the declared values ([`run`] says
//!    which step the runner stands in for: the secp256k1 authorisation);
//! 4. the validator's live state is read back and compared with `postState` (balance,
//!    nonce, code, storage of every account named anywhere); a block Ethereum refuses
//!    (`expectException`) must be refused and change nothing.
//!
//! Block-level credits a batch does not make (the proof-of-work block reward, withdrawals)
//! are taken out of the expected balances they went to, and a valid empty block followed by
//! more becomes a batch of the runner's own no-op ([`FILLER`]).
//!
//! A case that needs something the protocol does not carry (a set-code transaction, uncle
//! headers, block values that vary...) is *skipped* with the [`Feature`] named, detected from
//! the case itself or, for a value the protocol defines otherwise (a block hash, a system
//! contract's storage, a withdrawal's credit read back), while running and only when the
//! result differs; `docs/CONFORMANCE.md` lists every feature with its reason, and the tests
//! check that the list and the code agree. The `mf-validator ethtest PATH...` command prints a
//! [`Report`].

#![warn(missing_docs, unused_crate_dependencies)]

pub mod case;
pub mod compare;
pub mod features;
pub mod run;
pub mod verdict;

pub use case::Case;
pub use features::{FILLER, Feature};
pub use run::run_case;
pub use verdict::{Report, Verdict};

use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Why a file or a case could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EthtestError {
    /// A file or folder could not be read.
    #[error("{0}")]
    Io(String),
    /// A case is not of the blockchain-test shape.
    #[error("not a blockchain test: {0}")]
    Case(String),
}

/// Every `.json` file under `paths` (files as given, folders walked), sorted.
pub fn test_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, EthtestError> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) -> Result<(), EthtestError> {
        let meta =
            std::fs::metadata(p).map_err(|e| EthtestError::Io(format!("{}: {e}", p.display())))?;
        if meta.is_file() {
            out.push(p.to_path_buf());
            return Ok(());
        }
        let entries =
            std::fs::read_dir(p).map_err(|e| EthtestError::Io(format!("{}: {e}", p.display())))?;
        for e in entries {
            let e = e.map_err(|e| EthtestError::Io(format!("{}: {e}", p.display())))?;
            let path = e.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|x| x == "json") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out)?;
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Runs every case of every file (in parallel across cases; each case on its own
/// validator), a panic caught and reported as that case's verdict. A file that is not a
/// blockchain test counts as one failed case named after the file.
pub fn run_files(files: &[PathBuf]) -> Report {
    let mut work: Vec<(String, String, Result<Case, String>)> = Vec::new();
    for f in files {
        let shown = f.display().to_string();
        match case::read_file(f) {
            Ok(cases) => {
                for (name, c) in cases {
                    work.push((shown.clone(), name, c.map_err(|e| e.to_string())));
                }
            }
            Err(e) => work.push((shown.clone(), shown, Err(e.to_string()))),
        }
    }
    let cases = work
        .into_par_iter()
        .map(|(file, name, c)| {
            let verdict = match c {
                Err(e) => Verdict::Error(e),
                Ok(c) => match std::panic::catch_unwind(|| run_case(&c)) {
                    Ok(v) => v,
                    Err(p) => Verdict::Panic(
                        p.downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "unknown panic".into()),
                    ),
                },
            };
            (file, name, verdict)
        })
        .collect();
    Report { cases }
}
