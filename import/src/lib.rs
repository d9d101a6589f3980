//! Real Ethereum mainnet blocks, re-validated.
//!
//! pending
#![warn(missing_docs, unused_crate_dependencies)]

pub mod error;
pub mod layout;
pub mod recover;
pub mod replay;

pub use error::{ImportError, TxError};
pub use layout::{Folder, LoadedBlock, Transaction};
pub use replay::{BlockReport, Check, replay_block, replay_folder};

// The binary's error type; the library itself returns `ImportError`.
use anyhow as _;
