//! The integration tests of `mf-coordinator` (and the devnet), as one test binary: each
//! module runs the real binaries on loopback and shares the helpers in `util`.
//!
//! Run one module with a name filter, e.g. `cargo test -p mf-coordinator-cli --test tests
//! crash_harness`.

mod util;

mod client_tools;
mod clients;
mod conflict;
mod crash_harness;
mod credits;
mod dev;
mod devnet;
mod eth_blocks;
mod load;
mod receipts;
mod replicas;
mod restart;
mod rpc;
mod rpc_limits;
mod standard;
