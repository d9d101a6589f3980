//! The in-process integration tests of mf-validator, in one test binary: the core rules, the
//! context window, masks end to end, tampering at every stage, and the differential test
//! against plain revm. (The tests that run the `mf-validator` binary live with it in
//! `cli/validator`.)

mod util;

mod blockhash;
mod core;
mod credits;
mod differential;
mod eth;
mod failed;
mod fees;
mod malleability;
mod masks;
mod receipts;
mod rules;
mod tamper;
mod window;
