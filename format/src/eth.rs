//! Ethereum authorisations (PROTOCOL.md §5.5): a transaction authorised by its sender's signed
//! Ethereum transaction instead of ed25519 signatures, so that every secp256k1 key and every
//! Ethereum wallet can send.
//!
//! The envelope is decoded with alloy's consensus types (EIP-2718: legacy with or without
//! EIP-155, EIP-2930, EIP-1559, EIP-4844 in the form blocks hold it, without a sidecar;
//! set-code transactions are not carried) and its
//! signer recovered (secp256k1 ECDSA with libsecp256k1, about five times k256's rate per
//! core on this project's machines; EIP-2's low `s` required). The body must be exactly what it signs: the
//! call (`from` is the signer; `to`, `value`, `input`, `gas_limit`), the fee fields of its
//! type, the access list, the blob fields (type 3) and the chain id; and the sender's declared account record must
//! have its nonce. The Ethereum signature covers no move: every move of such a transaction
//! is left to its filler (mask 0, an `open` body), and the nonce makes it unrepeatable.

use crate::reason::Reason;
use crate::types::{AccessItem, Blobs, Fee, FeeKind, Key, MoveKind, Transaction, TxBody};
use alloy_consensus::TxEip4844Variant;
use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{Transaction as _, TxEnvelope};
use alloy_eips::eip2718::Decodable2718;
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_primitives::{Address, B256, TxKind, keccak256};

/// What an Ethereum authorisation signs, decoded: the call and fee fields, the chain id (none
/// for a legacy transaction without EIP-155) and the nonce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EthSigned {
    /// The recovered signer.
    pub signer: Address,
    /// The Ethereum transaction hash (keccak-256 of the envelope).
    pub hash: B256,
    /// The chain id it signs (`None`: a legacy transaction without EIP-155).
    pub chain_id: Option<u64>,
    /// Its nonce.
    pub nonce: u64,
    /// The callee (`None` for a creation).
    pub to: Option<Address>,
    /// Wei sent.
    pub value: alloy_primitives::U256,
    /// Calldata or init code.
    pub input: Vec<u8>,
    /// The gas limit.
    pub gas_limit: u64,
    /// The fee fields, in the protocol's form.
    pub fee: Fee,
    /// The access list, in the protocol's form.
    pub access_list: Vec<AccessItem>,
    /// The blob fields of a type-3 transaction (`None` for the other types).
    pub blob: Option<Blobs>,
    /// Whether the signature's `s` is above half the curve order: valid before Homestead,
    /// refused from it on (EIP-2, `eth_high_s`). The signer is recovered either way.
    pub high_s: bool,
}

/// A call's access list in alloy's form (which revm takes too).
pub fn alloy_access_list(items: &[AccessItem]) -> AccessList {
    AccessList(
        items
            .iter()
            .map(|i| AccessListItem {
                address: i.address,
                storage_keys: i.storage_keys.clone(),
            })
            .collect(),
    )
}

/// Exactly one legacy, EIP-2930, EIP-1559 or EIP-4844 (without a sidecar: the form a block
/// holds and its hash covers) transaction, else `invalid_eth_authorization` (45).
fn decode_envelope(envelope: &[u8]) -> Result<TxEnvelope, Reason> {
    let mut rest = envelope;
    let tx = TxEnvelope::decode_2718(&mut rest).map_err(|_| Reason::InvalidEthAuthorization)?;
    match tx {
        _ if !rest.is_empty() => Err(Reason::InvalidEthAuthorization),
        TxEnvelope::Legacy(_) | TxEnvelope::Eip2930(_) | TxEnvelope::Eip1559(_) => Ok(tx),
        TxEnvelope::Eip4844(ref t) if matches!(t.tx(), TxEip4844Variant::TxEip4844(_)) => Ok(tx),
        _ => Err(Reason::InvalidEthAuthorization),
    }
}

/// The nonce an envelope signs, without recovering its signer: what a filler checks again
/// on every fill of an intent whose signer was recovered at intake.
pub fn signed_nonce(envelope: &[u8]) -> Result<u64, Reason> {
    decode_envelope(envelope).map(|tx| tx.nonce())
}

/// The nonce of the sender's account record a body declares (its consume of
/// `(a, call.from, 0)`), if it declares one.
pub fn declared_nonce(body: &TxBody) -> Option<u64> {
    let sender = Key::account(body.call.from);
    body.moves
        .iter()
        .find(|m| m.kind == MoveKind::Consume && m.key() == sender)
        .and_then(|m| m.prev.nonce())
}

/// Decodes an envelope and recovers its signer: `invalid_eth_authorization` (45) for bytes
/// that are not exactly one legacy, EIP-2930, EIP-1559 or EIP-4844 (no sidecar) transaction,
/// `eth_signer_mismatch`
/// (46) for a signature that does not recover.
pub fn decode_eth(envelope: &[u8]) -> Result<EthSigned, Reason> {
    let tx = decode_envelope(envelope)?;
    let (kind, chain_id) = match &tx {
        TxEnvelope::Legacy(t) => (FeeKind::Legacy, t.tx().chain_id),
        TxEnvelope::Eip2930(t) => (FeeKind::AccessList, Some(t.tx().chain_id)),
        TxEnvelope::Eip1559(t) => (FeeKind::Dynamic, Some(t.tx().chain_id)),
        TxEnvelope::Eip4844(t) => (FeeKind::Blob, Some(t.tx().tx().chain_id)),
        _ => return Err(Reason::InvalidEthAuthorization),
    };
    let high_s = tx.signature().normalize_s().is_some();
    let signer = tx
        .recover_signer_unchecked()
        .map_err(|_| Reason::EthSignerMismatch)?;
    let fee = match kind {
        FeeKind::Dynamic | FeeKind::Blob => Fee {
            kind,
            max_fee_per_gas: tx.max_fee_per_gas(),
            max_priority_fee_per_gas: tx.max_priority_fee_per_gas().unwrap_or(0),
        },
        FeeKind::Legacy | FeeKind::AccessList => {
            let price = tx.gas_price().unwrap_or(0);
            Fee {
                kind,
                max_fee_per_gas: price,
                max_priority_fee_per_gas: price,
            }
        }
    };
    let access_list = tx
        .access_list()
        .map(|l| {
            l.iter()
                .map(|i| AccessItem {
                    address: i.address,
                    storage_keys: i.storage_keys.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let blob = match kind {
        FeeKind::Blob => Some(Blobs {
            max_fee_per_blob_gas: tx.max_fee_per_blob_gas().unwrap_or(0),
            versioned_hashes: tx.blob_versioned_hashes().unwrap_or_default().to_vec(),
        }),
        _ => None,
    };
    Ok(EthSigned {
        signer,
        hash: keccak256(envelope),
        chain_id,
        nonce: tx.nonce(),
        to: match tx.kind() {
            TxKind::Call(a) => Some(a),
            TxKind::Create => None,
        },
        value: tx.value(),
        input: tx.input().to_vec(),
        gas_limit: tx.gas_limit(),
        fee,
        access_list,
        blob,
        high_s,
    })
}

/// Verifies the Ethereum authorisation of `tx` (the signatures phase, PROTOCOL.md §6.2 for
/// such a transaction): its envelope decodes and recovers to `call.from` (45, 46), the body
/// is exactly what it signs (47) and the sender's declared record has its nonce (48).
/// Returns the Ethereum transaction hash. `no_authorization` (40) for a transaction
/// without one. A signature with a high `s` is `eth_high_s` (49), as from Homestead on;
/// [`verify_eth_authorization_under`] follows a chain's forks.
pub fn verify_eth_authorization(tx: &Transaction) -> Result<B256, Reason> {
    verify_eth(tx, true)
}

/// [`verify_eth_authorization`] under a chain's rules: a high `s` is refused (`eth_high_s`,
/// 49) when the fork in force at the transaction's declared context is Homestead or later
/// (EIP-2), and accepted before, as Ethereum did.
pub fn verify_eth_authorization_under(
    tx: &Transaction,
    rules: &crate::ChainRules,
) -> Result<B256, Reason> {
    let ctx = &tx.body.context;
    let homestead = rules.fork_at(ctx.block_number, ctx.timestamp) >= crate::Fork::Homestead;
    verify_eth(tx, homestead)
}

fn verify_eth(tx: &Transaction, refuse_high_s: bool) -> Result<B256, Reason> {
    let env = tx.eth.as_ref().ok_or(Reason::NoAuthorization)?;
    let signed = decode_eth(&env.envelope)?;
    if refuse_high_s && signed.high_s {
        return Err(Reason::EthHighS);
    }
    let body = &tx.body;
    if signed.signer != body.call.from {
        return Err(Reason::EthSignerMismatch);
    }
    if !signed_matches(&signed, body) {
        return Err(Reason::EthBodyMismatch);
    }
    if declared_nonce(body) != Some(signed.nonce) {
        return Err(Reason::EthNonceMismatch);
    }
    Ok(signed.hash)
}

/// Whether `body` carries exactly the call, fee fields, access list, blob fields and chain id
/// `signed` signs (a legacy transaction without EIP-155 signs no chain id: PROTOCOL.md §5.5).
pub fn signed_matches(signed: &EthSigned, body: &TxBody) -> bool {
    let c = &body.call;
    signed.chain_id.is_none_or(|id| id == body.chain_id)
        && signed.to == c.to
        && signed.value == c.value
        && signed.input == c.input
        && signed.gas_limit == c.gas_limit
        && signed.fee == c.fee
        && signed.access_list == c.access_list
        && signed.blob == c.blob
}
