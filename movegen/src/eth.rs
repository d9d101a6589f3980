//! Ethereum-signed transactions on the wallet and coordinator side (PROTOCOL.md §5.5): the
//! transaction a signed Ethereum transaction authorises, with its moves derived by executing
//! it against a state view.
//!
//! The Ethereum signature covers the call, the fee fields, the access list, the chain id and
//! the nonce, and no move: every move is left to the filler (mask 0 in an `open` body), so a
//! coordinator re-fills it against whatever versions are live when it orders it, and the
//! nonce (checked against the sender's declared record) makes it unrepeatable.

use crate::builder::Built;
use crate::error::MovegenError;
use crate::exec::execute_under;
use crate::view::StateView;
use mf_format::{
    Call, ChainRules, EthSigned, ExecContext, Mask, Move, Transaction, TxBody, decode_eth, tx_id,
};

/// The transaction `envelope` (a signed Ethereum transaction's EIP-2718 bytes) authorises
/// on chain `chain_id`, its moves from executing it against `view` under `rules` in
/// `context` (a call that reverts or halts is included as failed, as Ethereum includes it).
/// [`MovegenError::Eth`] when the envelope does not decode, its signature does not
/// recover, or it signs another chain id.
pub fn eth_transaction<V: StateView>(
    view: &V,
    chain_id: u64,
    rules: &ChainRules,
    envelope: &[u8],
    context: ExecContext,
) -> Result<Built, MovegenError> {
    let signed = decode_eth(envelope).map_err(MovegenError::Eth)?;
    eth_transaction_signed(view, chain_id, rules, &signed, envelope, context)
}

/// [`eth_transaction`] for an envelope already decoded (its signer recovered) into
/// `signed`: a coordinator decodes once at intake and keeps the hash and nonce.
pub fn eth_transaction_signed<V: StateView>(
    view: &V,
    chain_id: u64,
    rules: &ChainRules,
    signed: &EthSigned,
    envelope: &[u8],
    context: ExecContext,
) -> Result<Built, MovegenError> {
    if signed.chain_id.is_some_and(|c| c != chain_id) {
        return Err(MovegenError::Eth(mf_format::Reason::EthBodyMismatch));
    }
    let call = Call {
        from: signed.signer,
        to: signed.to,
        value: signed.value,
        input: signed.input.clone(),
        gas_limit: signed.gas_limit,
        fee: signed.fee,
        access_list: signed.access_list.clone(),
        blob: signed.blob.clone(),
    };
    let execution = execute_under(view, chain_id, rules, &call, &context, true)?;
    let mut body = TxBody {
        chain_id,
        call,
        context,
        open: true,
        moves: execution
            .moves
            .iter()
            .map(|m| Move {
                mask: Mask::NONE,
                ..*m
            })
            .collect(),
        created_code: execution.created_code.clone(),
    };
    body.canonicalize();
    Ok(Built {
        id: tx_id(&body),
        tx: Transaction::eth(body, envelope.to_vec()),
        execution,
    })
}
