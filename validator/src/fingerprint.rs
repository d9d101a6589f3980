//! Fingerprints: 128-bit digests that stand in for versions and values in the in-memory
//! index. They are blake3 (keyed by a fixed internal context), so a stranger cannot craft two
//! versions or two values with one fingerprint (second preimages cost 2^128). They never
//! leave the process and are not part of the protocol.

use mf_format::{Key, TxId, Value, VersionId};
use std::sync::LazyLock;

static VERSION: LazyLock<blake3::Hasher> =
    LazyLock::new(|| blake3::Hasher::new_derive_key("mf-validator index version fp v1"));
static VALUE: LazyLock<blake3::Hasher> =
    LazyLock::new(|| blake3::Hasher::new_derive_key("mf-validator index value fp v1"));

/// Fingerprint of a version id `(intx, key)`.
pub type VersionFp = u128;
/// Fingerprint of a value. [`USED`] is reserved for the used marker of a genesis key.
pub type ValueFp = u128;

/// The value fingerprint of the marker left when a genesis (`intx = 0`) version is spent.
pub const USED: ValueFp = 0;

fn first16(h: blake3::Hash) -> u128 {
    let b = h.as_bytes();
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    u128::from_le_bytes(a)
}

/// Fingerprint of a version id given its 85-byte storage form.
pub fn version_fp_bytes(k: &[u8; VersionId::ENCODED_LEN]) -> VersionFp {
    let mut h = VERSION.clone();
    h.update(k);
    first16(h.finalize())
}

/// Fingerprint of a version id.
pub fn version_fp(intx: &TxId, key: &Key) -> VersionFp {
    version_fp_bytes(&VersionId::new(*intx, *key).to_bytes())
}

/// Fingerprint of a value (never [`USED`]).
pub fn value_fp(v: &Value) -> ValueFp {
    let mut buf = [0u8; Value::MAX_ENCODED_LEN];
    value_fp_bytes(v.encode_fixed(&mut buf))
}

/// Fingerprint of a value from its canonical encoding.
pub fn value_fp_bytes(enc: &[u8]) -> ValueFp {
    let mut h = VALUE.clone();
    h.update(enc);
    first16(h.finalize()).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mf_format::{Account, Address, U256};

    #[test]
    fn fingerprints_separate_versions_and_values() {
        let vs = [
            Value::Storage(U256::from(5u64)),
            Value::Account(Account {
                balance: U256::from(9u64),
                nonce: 3,
                ..Account::EMPTY
            }),
        ];
        assert_ne!(value_fp(&vs[0]), value_fp(&vs[1]));
        for v in vs {
            let mut buf = [0u8; Value::MAX_ENCODED_LEN];
            assert_eq!(v.encode_fixed(&mut buf), mf_format::encode(&v).as_slice());
            assert_eq!(value_fp(&v), value_fp_bytes(&mf_format::encode(&v)));
        }
        let k = Key::account(Address::repeat_byte(1));
        assert_ne!(
            version_fp(&TxId::ZERO, &k),
            version_fp(&TxId::repeat_byte(1), &k)
        );
    }
}
