//! Fingerprints: 128-bit digests that stand in for versions and values in the in-memory
//! index. They are blake3 (keyed by a fixed internal context), so a stranger cannot craft two
//! versions or two values with one fingerprint (second preimages cost 2^128). They never
//! leave the process and are not part of the protocol.

use mf_format::{Key, TxId, Value};
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

/// The 85-byte storage form of a version id: `intx || mark || addr || slot (BE)`.
pub fn version_key_bytes(intx: &TxId, key: &Key) -> [u8; 85] {
    let mut k = [0u8; 85];
    k[..32].copy_from_slice(intx.as_slice());
    k[32] = key.mark.byte();
    k[33..53].copy_from_slice(key.addr.as_slice());
    k[53..].copy_from_slice(&key.slot.to_be_bytes::<32>());
    k
}

/// Fingerprint of a version id given its 85-byte storage form.
pub fn version_fp_bytes(k: &[u8; 85]) -> VersionFp {
    let mut h = VERSION.clone();
    h.update(k);
    first16(h.finalize())
}

/// Fingerprint of a version id.
pub fn version_fp(intx: &TxId, key: &Key) -> VersionFp {
    version_fp_bytes(&version_key_bytes(intx, key))
}

/// Fingerprint of a value (never [`USED`]).
pub fn value_fp(v: &Value) -> ValueFp {
    let mut buf = [0u8; 80];
    let enc = value_bytes(v, &mut buf);
    value_fp_bytes(enc)
}

/// Fingerprint of a value from its canonical encoding.
pub fn value_fp_bytes(enc: &[u8]) -> ValueFp {
    let mut h = VALUE.clone();
    h.update(enc);
    first16(h.finalize()).max(1)
}

/// Writes the canonical encoding of a value into `buf` without allocating; returns the slice.
pub fn value_bytes<'a>(v: &Value, buf: &'a mut [u8; 80]) -> &'a [u8] {
    match v {
        Value::Account(a) => {
            buf[0] = 0;
            buf[1..33].copy_from_slice(&a.balance.to_be_bytes::<32>());
            buf[33..41].copy_from_slice(&a.nonce.to_le_bytes());
            buf[41..73].copy_from_slice(a.code_hash.as_slice());
            &buf[..73]
        }
        Value::Storage(w) => {
            buf[0] = 1;
            buf[1..33].copy_from_slice(&w.to_be_bytes::<32>());
            &buf[..33]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mf_format::{Account, Address, U256};

    #[test]
    fn value_bytes_is_the_canonical_encoding() {
        let vs = [
            Value::Storage(U256::from(5u64)),
            Value::Account(Account {
                balance: U256::from(9u64),
                nonce: 3,
                ..Account::EMPTY
            }),
        ];
        for v in vs {
            let mut buf = [0u8; 80];
            assert_eq!(value_bytes(&v, &mut buf), mf_format::encode(&v).as_slice());
        }
        let k = Key::account(Address::repeat_byte(1));
        assert_ne!(
            version_fp(&TxId::ZERO, &k),
            version_fp(&TxId::repeat_byte(1), &k)
        );
    }
}
