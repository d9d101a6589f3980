//! Sender recovery from a transaction's signature, with either of two secp256k1 backends.
//!
//! - [`Backend::K256`]: the pure-Rust `k256` crate, what alloy uses by default
//!   (`Signature::recover_address_from_prehash`).
//! - [`Backend::Secp256k1`]: the C `libsecp256k1` through the `secp256k1` crate.
//!
//! Both recover the public key from `(r, s, y parity)` and the transaction's signing hash and
//! return keccak-256 of the key's 64 bytes, last 20. Recovery dominates validating real traffic:
//! `examples/recover_rate.rs` measures both over a folder.

use crate::error::TxError;
use crate::layout::Transaction;
use alloy_consensus::transaction::SignableTransaction;
use alloy_consensus::{TxEip4844Variant, TxEnvelope};
use alloy_primitives::{Address, B256, Signature, keccak256};

/// Which secp256k1 implementation recovers the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Pure Rust `k256` (alloy's default).
    K256,
    /// C `libsecp256k1` (the `secp256k1` crate).
    Secp256k1,
}

impl Backend {
    /// Both backends, for measurements.
    pub const ALL: [Backend; 2] = [Backend::K256, Backend::Secp256k1];

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Backend::K256 => "k256",
            Backend::Secp256k1 => "secp256k1",
        }
    }
}

/// The signature of a signed transaction and the hash it signs.
pub fn signature_and_hash(tx: &TxEnvelope) -> (Signature, B256) {
    match tx {
        TxEnvelope::Legacy(s) => (*s.signature(), s.tx().signature_hash()),
        TxEnvelope::Eip2930(s) => (*s.signature(), s.tx().signature_hash()),
        TxEnvelope::Eip1559(s) => (*s.signature(), s.tx().signature_hash()),
        TxEnvelope::Eip4844(s) => (
            *s.signature(),
            match s.tx() {
                TxEip4844Variant::TxEip4844(t) => t.signature_hash(),
                TxEip4844Variant::TxEip4844WithSidecar(t) => t.tx.signature_hash(),
            },
        ),
        TxEnvelope::Eip7702(s) => (*s.signature(), s.tx().signature_hash()),
    }
}

/// Recovers the address that signed `hash` with `sig`, with `backend`.
pub fn recover_address(backend: Backend, sig: &Signature, hash: &B256) -> Result<Address, TxError> {
    match backend {
        // `recover_from_prehash` is k256's always; `recover_address_from_prehash` takes
        // libsecp256k1 whenever the build enables alloy-primitives' `secp256k1` feature
        // (another crate's dependency does), which once made this backend measure the other.
        Backend::K256 => sig
            .recover_from_prehash(hash)
            .map(|key| Address::from_public_key(&key))
            .map_err(|_| TxError::Unrecoverable),
        Backend::Secp256k1 => recover_secp256k1(sig, hash),
    }
}

fn recover_secp256k1(sig: &Signature, hash: &B256) -> Result<Address, TxError> {
    use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(&sig.r().to_be_bytes::<32>());
    compact[32..].copy_from_slice(&sig.s().to_be_bytes::<32>());
    let id = RecoveryId::try_from(i32::from(sig.v())).map_err(|_| TxError::Unrecoverable)?;
    let rsig =
        RecoverableSignature::from_compact(&compact, id).map_err(|_| TxError::Unrecoverable)?;
    let key = rsig
        .recover_ecdsa(secp256k1::Message::from_digest(hash.0))
        .map_err(|_| TxError::Unrecoverable)?;
    let uncompressed = key.serialize_uncompressed();
    Ok(Address::from_slice(&keccak256(&uncompressed[1..])[12..]))
}

/// Recovers a transaction's sender with `backend`.
pub fn sender(backend: Backend, tx: &TxEnvelope) -> Result<Address, TxError> {
    let (sig, hash) = signature_and_hash(tx);
    recover_address(backend, &sig, &hash)
}

/// Whether `s` is in the lower half of the curve order, as EIP-2 requires of transaction
/// signatures from Homestead on.
pub fn is_low_s(sig: &Signature) -> bool {
    sig.normalize_s().is_none()
}

/// Recovers a transaction's sender and checks it is the JSON's `from`; with `require_low_s`
/// (blocks from Homestead on, EIP-2), a signature with `s` above half the order is refused.
///
/// Both backends recover from either half (k256 through alloy normalises `s` first), so
/// EIP-2 is checked here, not left to the backend.
pub fn check_sender(
    backend: Backend,
    tx: &Transaction,
    require_low_s: bool,
) -> Result<Address, TxError> {
    let (sig, hash) = signature_and_hash(&tx.envelope);
    if require_low_s && !is_low_s(&sig) {
        return Err(TxError::HighS);
    }
    let recovered = recover_address(backend, &sig, &hash)?;
    if recovered != tx.from {
        return Err(TxError::SenderMismatch {
            expected: tx.from,
            recovered,
        });
    }
    Ok(recovered)
}
