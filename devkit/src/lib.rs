//! # mf-devkit: the fixtures the devnet, the benchmarks, the fuzz targets and the tests share
//!
//! Every tool that needs a realistic genesis needs the same few things: the committed
//! contract artifacts (`contracts/artifacts/*.json`, solc output), where the contracts keep
//! their state (an ERC20 balance or allowance, a pair's reserves), and a genesis of funded
//! wallets, tokens and constant-product pairs. They live here once, so that the devnet,
//! `mf-bench`, the fuzz workspace and the integration tests cannot drift apart, and so that
//! none of them has to depend on the coordinator or the validator library for a fixture:
//!
//! - [`contracts`]: the `Token` and `Pair` artifacts, decoded once;
//! - [`slots`]: the storage layout of both contracts (balances, allowances, reserves);
//! - [`world`]: [`WorldBuilder`], the one genesis builder (wallets, tokens, pairs,
//!   allowances), and [`units`] / [`fixed_addr`];
//! - [`dev`]: the development node's world (chain 31337, the ten well-known development
//!   accounts of anvil and Hardhat, a token pair and its pool);
//! - [`devnet`]: the devnet's world (payment token, hub token, one hot and many cold
//!   pools, merchants) and, with the `remote` feature, the wallet-side intents it sends;
//! - [`process`] (feature `remote`): real `mf-validator` and `mf-coordinator` processes on
//!   loopback, stopped when dropped.
//!
//! This is a development crate: it is not part of the protocol, and nothing in the
//! validator or the coordinator depends on it.

#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, unused_crate_dependencies)]

pub mod contracts;
pub mod dev;
pub mod devnet;
mod error;
pub mod eth;
#[cfg(feature = "remote")]
pub mod process;
pub mod rng;
pub mod slots;
pub mod world;

pub use error::DevkitError;
pub use world::{PairSpec, World, WorldBuilder, fixed_addr, funded, units};
