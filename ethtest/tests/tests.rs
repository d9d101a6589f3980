//! mf-ethtest's tests: hand-written cases whose Ethereum post-state is worked out in the
//! test (each outcome of the runner), the features list against `docs/CONFORMANCE.md`, and
//! the shared ethereum/tests folder when it is present.

mod cases;
mod suite;
