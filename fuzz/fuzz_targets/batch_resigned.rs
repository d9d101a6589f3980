//! `http_batch` with the signatures taken out of the fuzzer's way: the input is decoded as
//! a batch, every transaction whose sender is a key of the fuzz world is re-signed with it
//! (`mf_fuzz::resign`), and the re-encoded batch goes through the same harness as
//! `http_batch` (`Validator::apply_bytes`, strict and filter, state-isolation and outcome
//! checks). Mutations of signed fields (values, versions, masks, calldata, context) then
//! reach re-execution, the context window, the double-use index with its cascade, the state
//! hash and the commit, instead of stopping at `bad_signature`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mf_format::{Batch, decode_batch, encode};

fuzz_target!(|data: &[u8]| {
    let Ok(b) = decode_batch(data) else {
        return;
    };
    let txs = b
        .txs
        .iter()
        .map(|t| mf_fuzz::resign(t).unwrap_or_else(|| t.clone()))
        .collect();
    mf_fuzz::batch::run_body(&encode(&Batch { txs }));
});
