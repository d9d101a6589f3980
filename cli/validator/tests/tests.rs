//! The integration tests of `mf-validator`, as one test binary: each module runs the real
//! binary (or its server) and shares the helpers in `util`.
//!
//! Run one module with a name filter, e.g. `cargo test -p mf-validator-cli --test tests
//! adversarial`.

mod util;

mod adversarial;
mod cli;
mod crash;
mod mainnet;
mod power_loss;
mod replicas;
mod server;
mod slow_clients;
mod verify_chain;
