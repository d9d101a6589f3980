//! Bytes on the wire: the canonical encoding of our signed transactions per workload, per
//! transaction and per state change, beside the equivalent signed Ethereum EIP-1559
//! transaction (same call, chain id, gas limit and fee fields) encoded with alloy's own
//! EIP-2718 encoder. The workloads run with fees, so both sides carry an EIP-1559 fee cap
//! and tip (ours: `fee` in the call, PROTOCOL.md §2.2).
//!
//! The Ethereum transaction carries no state: a validator re-derives its state changes by
//! executing it against the whole state. Ours carries every version it uses, which is what
//! makes validation parallel and stateless; the difference is the price of that.

use crate::workload::{Kind, Workload, build};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Signature, TxKind, U256};
use anyhow::Result;
use mf_format::{MoveKind, Transaction};
use serde_json::{Value as Json, json};

/// The equivalent signed EIP-1559 transaction's encoded size (type byte + RLP): the call's
/// gas limit and fee fields (a legacy-priced call as a cap and tip of its price).
pub fn eth_size(tx: &Transaction) -> usize {
    let call = &tx.body.call;
    let eth = TxEip1559 {
        chain_id: tx.body.chain_id,
        nonce: 0,
        gas_limit: call.gas_limit,
        max_fee_per_gas: call.fee.max_fee_per_gas,
        max_priority_fee_per_gas: call.fee.max_priority_fee_per_gas,
        to: match call.to {
            Some(a) => TxKind::Call(a),
            None => TxKind::Create,
        },
        value: call.value,
        access_list: Default::default(),
        input: alloy_primitives::Bytes::copy_from_slice(&call.input),
    };
    // A full-width secp256k1 signature (r and s of 32 significant bytes, as almost all are).
    let r = U256::from_be_bytes([0x8f; 32]);
    let s = U256::from_be_bytes([0x3c; 32]);
    let signed = eth.into_signed(Signature::new(r, s, false));
    TxEnvelope::Eip1559(signed).encoded_2718().len()
}

/// The bytes of a transaction's encoding that its fee fields and access list take
/// (PROTOCOL.md §2.2: kind 1, fee cap 16, priority cap 16, the access list's count 8, then
/// per entry an address 20, a key count 8 and 32 per key).
fn fee_bytes(tx: &Transaction) -> usize {
    1 + 16
        + 16
        + 8
        + tx.body
            .call
            .access_list
            .iter()
            .map(|i| 20 + 8 + 32 * i.storage_keys.len())
            .sum::<usize>()
}

/// Runs the section on `n` transactions of each workload.
pub fn run(n: usize) -> Result<Json> {
    let mut world = Workload::new(n, n)?;
    world.set_fees(true);
    let mut rows = Vec::new();
    for kind in Kind::ALL {
        let txs = build(&world, kind, n)?;
        let count = txs.len().max(1) as f64;
        let ours: usize = txs.iter().map(|(t, _)| mf_format::encode(t).len()).sum();
        let moves: usize = txs.iter().map(|(t, _)| t.body.moves.len()).sum();
        let changes: usize = txs
            .iter()
            .map(|(t, _)| {
                t.body
                    .moves
                    .iter()
                    .filter(|m| m.kind == MoveKind::Consume)
                    .count()
            })
            .sum();
        let fee_bytes = txs.iter().map(|(t, _)| fee_bytes(t)).sum::<usize>() as f64 / count;
        let eth: usize = txs.iter().map(|(t, _)| eth_size(t)).sum();
        let per_tx = ours as f64 / count;
        let eth_per_tx = eth as f64 / count;
        println!(
            "bytes  {:<10} ours {:>6.0} B/tx ({:.0} of them fee fields; {:.1} moves, {:.1} state changes, {:>5.0} B/change); EIP-1559 {:>4.0} B/tx ({:.1}x)",
            kind.name(),
            per_tx,
            fee_bytes,
            moves as f64 / count,
            changes as f64 / count,
            ours as f64 / changes.max(1) as f64,
            eth_per_tx,
            per_tx / eth_per_tx
        );
        rows.push(json!({
            "workload": kind.name(),
            "txs": txs.len(),
            "bytes_per_tx": per_tx,
            "moves_per_tx": moves as f64 / count,
            "state_changes_per_tx": changes as f64 / count,
            "bytes_per_move": ours as f64 / moves.max(1) as f64,
            "bytes_per_state_change": ours as f64 / changes.max(1) as f64,
            "fee_bytes_per_tx": fee_bytes,
            "eip1559_bytes_per_tx": eth_per_tx,
            "eip1559_bytes_per_state_change": eth as f64 / changes.max(1) as f64,
            "ratio_ours_vs_eip1559": per_tx / eth_per_tx,
        }));
    }
    Ok(json!({ "txs_per_workload": n, "workloads": rows }))
}
