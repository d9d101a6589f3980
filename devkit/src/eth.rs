//! Ethereum keys (secp256k1) that sign real Ethereum transactions, as any Ethereum wallet
//! does: what tests and the devnet use to send transactions with an Ethereum authorisation
//! (PROTOCOL.md §5.5).

use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxEip4844, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, Signature, TxKind, U256, keccak256};
use k256::ecdsa::SigningKey;
use mf_format::{Call, FeeKind};

/// A secp256k1 key.
#[derive(Clone)]
pub struct EthKey {
    key: SigningKey,
}

impl std::fmt::Debug for EthKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EthKey({})", self.address())
    }
}

impl EthKey {
    /// The key with this 32-byte secret; `None` for zero or a value not below the curve
    /// order.
    pub fn from_secret(secret: [u8; 32]) -> Option<EthKey> {
        SigningKey::from_slice(&secret)
            .ok()
            .map(|key| EthKey { key })
    }

    /// A deterministic key for tests: the secret is keccak-256 of the label (re-hashed in
    /// the negligible case that it is not a valid scalar).
    pub fn from_label(label: &str) -> EthKey {
        let mut secret = keccak256(label.as_bytes());
        loop {
            if let Some(k) = EthKey::from_secret(secret.0) {
                return k;
            }
            secret = keccak256(secret);
        }
    }

    /// Its Ethereum address: the last 20 bytes of keccak-256 of the uncompressed public key.
    pub fn address(&self) -> Address {
        let point = self.key.verifying_key().to_encoded_point(false);
        Address::from_slice(&keccak256(&point.as_bytes()[1..])[12..])
    }

    /// The signed Ethereum transaction (its EIP-2718 bytes) of `call` with `nonce` on chain
    /// `chain_id`, of the call's fee type: legacy with EIP-155, EIP-2930, EIP-1559 or EIP-4844
    /// (its blob fields from `call.blob`, none when absent; a blob call names a callee, and
    /// one without is signed as a call to the zero address, which no validator accepts).
    pub fn sign_call(&self, call: &Call, chain_id: u64, nonce: u64) -> Vec<u8> {
        let to = match call.to {
            Some(a) => TxKind::Call(a),
            None => TxKind::Create,
        };
        let input = Bytes::copy_from_slice(&call.input);
        let access_list = mf_format::eth::alloy_access_list(&call.access_list);
        let fee = call.fee;
        match fee.kind {
            FeeKind::Legacy => self.envelope(TxLegacy {
                chain_id: Some(chain_id),
                nonce,
                gas_price: fee.max_fee_per_gas,
                gas_limit: call.gas_limit,
                to,
                value: call.value,
                input,
            }),
            FeeKind::AccessList => self.envelope(TxEip2930 {
                chain_id,
                nonce,
                gas_price: fee.max_fee_per_gas,
                gas_limit: call.gas_limit,
                to,
                value: call.value,
                access_list,
                input,
            }),
            FeeKind::Dynamic => self.envelope(TxEip1559 {
                chain_id,
                nonce,
                gas_limit: call.gas_limit,
                max_fee_per_gas: fee.max_fee_per_gas,
                max_priority_fee_per_gas: fee.max_priority_fee_per_gas,
                to,
                value: call.value,
                access_list,
                input,
            }),
            FeeKind::Blob => self.envelope(TxEip4844 {
                chain_id,
                nonce,
                gas_limit: call.gas_limit,
                max_fee_per_gas: fee.max_fee_per_gas,
                max_priority_fee_per_gas: fee.max_priority_fee_per_gas,
                to: call.to.unwrap_or_default(),
                value: call.value,
                access_list,
                blob_versioned_hashes: call
                    .blob
                    .as_ref()
                    .map(|b| b.versioned_hashes.clone())
                    .unwrap_or_default(),
                max_fee_per_blob_gas: call.blob.as_ref().map_or(0, |b| b.max_fee_per_blob_gas),
                input,
            }),
        }
    }

    fn envelope<T>(&self, tx: T) -> Vec<u8>
    where
        T: SignableTransaction<Signature>,
        TxEnvelope: From<alloy_consensus::Signed<T>>,
    {
        let hash = tx.signature_hash();
        // Signing a 32-byte prehash with a valid key does not fail.
        let (sig, recid) = match self.key.sign_prehash_recoverable(hash.as_slice()) {
            Ok(s) => s,
            Err(e) => panic!("secp256k1 signing failed: {e}"),
        };
        let signature = Signature::new(
            U256::from_be_slice(&sig.r().to_bytes()),
            U256::from_be_slice(&sig.s().to_bytes()),
            recid.is_y_odd(),
        );
        TxEnvelope::from(tx.into_signed(signature)).encoded_2718()
    }
}

/// The twin of a signed EIP-1559 envelope whose signature has `s` replaced by `n - s` (and
/// its y parity flipped): the same transaction and the same signer, with the high `s` that
/// Ethereum refuses from Homestead on (EIP-2). `None` for bytes that are not a signed
/// EIP-1559 transaction.
pub fn high_s_twin(envelope: &[u8]) -> Option<Vec<u8>> {
    use alloy_eips::eip2718::Decodable2718;
    // The order of secp256k1's group.
    const N: U256 = U256::from_be_bytes([
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36,
        0x41, 0x41,
    ]);
    let TxEnvelope::Eip1559(signed) = TxEnvelope::decode_2718(&mut &envelope[..]).ok()? else {
        return None;
    };
    let sig = signed.signature();
    let twin = Signature::new(sig.r(), N - sig.s(), !sig.v());
    let tx = signed.tx().clone();
    Some(TxEnvelope::from(tx.into_signed(twin)).encoded_2718())
}
