//! The integration tests of mf-movegen, in one test binary: move generation and the
//! re-execution check, filling masked transactions, and the differential test against plain
//! revm. `util` holds the shared genesis and helpers.

mod util;

mod canonical;
mod differential;
mod fill;
mod forks;
mod genesis;
mod movegen;
