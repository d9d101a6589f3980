//! The body of `POST /batch`: what the server's worker runs on it. The worker
//! (`server.rs`, `Worker::apply`) is private; its whole work on the bytes is
//! `Validator::apply_bytes(bytes, mode)` followed by JSON rendering, so this target calls
//! `apply_bytes` (strict and filter mode) on a validator opened once per process in a
//! tempdir with the fuzz world's genesis, then renders the receipts and header with the
//! public `receipt_json` / `header_json`.
//!
//! State isolation: a refused batch, or one that accepts nothing, must change nothing (head,
//! state hash, index size, stored height are compared before/after). When a batch is
//! accepted the validator is checked (header fields, roots, stored batch, state hash
//! recomputed from the store) and then replaced by a fresh one, so every input runs against
//! the genesis state and runs are reproducible.
//!
//! Differential: strict mode refuses a batch exactly when filter mode would reject one of
//! its transactions, with the same receipts; when strict accepts everything, filter on a
//! fresh validator produces the same header (the clock is fixed).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mf_fuzz::batch::run_body(data);
});
