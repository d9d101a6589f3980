//! A transaction from arbitrary bytes through the stateless checks: `check_structure`, the
//! signature paths (`verify_tx_signatures`, `PublicKey::parse`/`verify`, `verify_batch`), and
//! the validator's stateless stage (`mf_validator::prepare::prepare_batch`, without
//! re-execution), checking that they never panic and agree:
//!
//! - `prepare_batch`'s verdict for a one-transaction batch equals
//!   `check_structure`, `check_gas_limit` (default rules), then `verify_tx_signatures` (the
//!   order the protocol fixes), and its
//!   id is `tx_id` of the body;
//! - `verify_batch` over the transaction's signatures names exactly those for which the
//!   single verification `PublicKey::verify` fails ("whatever else is in the batch").
#![no_main]

use libfuzzer_sys::fuzz_target;
use mf_format::{
    ChainRules, PublicKey, SigCheck, check_gas_limit, check_structure, decode_tx,
    tx_authorization_digest, tx_id, verify_batch, verify_tx_signatures,
};
use mf_fuzz::CHAIN_ID;
use mf_movegen::{NoCode, StructureOnly};
use mf_validator::prepare::{KeyCache, prepare_batch};
use std::sync::OnceLock;

fn key_cache() -> &'static KeyCache {
    // Shared across inputs, as the validator shares it across batches.
    static K: OnceLock<KeyCache> = OnceLock::new();
    K.get_or_init(KeyCache::default)
}

fuzz_target!(|data: &[u8]| {
    let Ok(tx) = decode_tx(data) else {
        return;
    };
    let sigs = verify_tx_signatures(&tx);
    let id = tx_id(&tx.body);
    let mut chains = vec![tx.body.chain_id];
    if tx.body.chain_id != CHAIN_ID {
        chains.push(CHAIN_ID);
    }
    for chain in chains {
        let structure =
            check_structure(&tx, chain).and_then(|()| check_gas_limit(&tx, &ChainRules::default()));
        let expected = structure.and(sigs);
        let prepared = prepare_batch(
            std::slice::from_ref(&tx),
            chain,
            &ChainRules::default(),
            key_cache(),
            &StructureOnly,
            &NoCode,
        );
        assert_eq!(prepared.len(), 1);
        assert_eq!(prepared[0].id, id, "prepare_batch id differs from tx_id");
        assert_eq!(
            prepared[0].stateless, expected,
            "prepare_batch verdict differs from check_structure + verify_tx_signatures"
        );
        if expected.is_ok() {
            let consumes = tx
                .body
                .moves
                .iter()
                .filter(|m| m.kind == mf_format::MoveKind::Consume)
                .count();
            // One op per move plus one create per consume.
            assert_eq!(prepared[0].ops.len(), tx.body.moves.len() + consumes);
        }
    }

    // Batch verification against single verification, on the keys that parse.
    let digest = tx_authorization_digest(&tx);
    let keys: Vec<(usize, PublicKey)> = tx
        .auths
        .iter()
        .enumerate()
        .filter_map(|(i, a)| PublicKey::parse(&a.public_key).ok().map(|k| (i, k)))
        .collect();
    for (_, k) in &keys {
        assert_eq!(k.address(), mf_format::address_of(k.bytes()));
    }
    let checks: Vec<SigCheck> = keys
        .iter()
        .map(|(i, k)| SigCheck {
            key: k,
            message: digest.as_slice(),
            signature: &tx.auths[*i].signature,
        })
        .collect();
    let bad = verify_batch(&checks);
    let single: Vec<usize> = checks
        .iter()
        .enumerate()
        .filter(|(_, c)| c.key.verify(c.message, c.signature).is_err())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        bad, single,
        "verify_batch disagrees with single verification"
    );
});
