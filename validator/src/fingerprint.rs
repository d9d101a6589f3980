//! Fingerprints: 128-bit digests that stand in for versions and values in the in-memory
//! index. They never leave the process and are not part of the protocol.
//!
//! They are keyed blake3 with a **secret drawn from the operating system's random source
//! when the process starts**. The double-use check compares only fingerprints, and a
//! stranger controls both sides of a comparison: the versions and values of their own
//! transactions, and (by choosing whom to attack) which victim version they aim at. With a
//! public key, a birthday search over about 2^64 of their own versions would find one whose
//! fingerprint equals a victim's, and the index would then let them spend the victim's
//! version with a `prev` of their choosing. With a secret key nothing can be computed
//! offline: each guess must be posted to the validator, and a guess hits a given victim
//! version with probability 2^-128 (PROTOCOL.md §6.4.1).

use mf_format::{Key, TxId, Value, VersionId};
use std::sync::LazyLock;

/// The keyed hashers of one process: one for version ids, one for values (domain-separated
/// by derivation from one random secret).
struct Keys {
    version: blake3::Hasher,
    value: blake3::Hasher,
}

impl Keys {
    /// Fresh keys from a random secret.
    fn random() -> Keys {
        let secret = random_secret();
        let derive = |context: &str| {
            let mut k = blake3::Hasher::new_derive_key(context);
            k.update(&secret);
            blake3::Hasher::new_keyed(k.finalize().as_bytes())
        };
        Keys {
            version: derive("mf-validator index version fp v2"),
            value: derive("mf-validator index value fp v2"),
        }
    }
}

/// 32 bytes from the operating system's random source. Should the source fail (it does not
/// on the systems this runs on), the standard library's per-process random hash keys stand
/// in: they too come from the operating system when it has one.
fn random_secret() -> [u8; 32] {
    let mut secret = [0u8; 32];
    if let Err(e) = getrandom::fill(&mut secret) {
        tracing::warn!("the OS random source failed ({e}); keying fingerprints from std's");
        use std::hash::{BuildHasher, Hasher};
        for (i, chunk) in secret.chunks_mut(8).enumerate() {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(i);
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    secret
}

static KEYS: LazyLock<Keys> = LazyLock::new(Keys::random);

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
    let mut h = KEYS.version.clone();
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
    let mut h = KEYS.value.clone();
    h.update(enc);
    first16(h.finalize()).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mf_format::{Account, Address, U256};

    /// The hardening review's item 3: fingerprints were blake3 keyed with a public context
    /// string, so anyone could compute them offline and search for a collision. Now the
    /// key is a per-process secret: the public formula no longer gives the fingerprint, and
    /// two sets of keys drawn independently disagree.
    #[test]
    fn fingerprints_cannot_be_collided() {
        let k = Key::account(Address::repeat_byte(7));
        let id = VersionId::new(TxId::repeat_byte(3), k).to_bytes();
        let public = |context: &str, bytes: &[u8]| {
            let mut h = blake3::Hasher::new_derive_key(context);
            h.update(bytes);
            first16(h.finalize())
        };
        assert_ne!(
            version_fp_bytes(&id),
            public("mf-validator index version fp v1", &id),
            "the version fingerprint is not the public formula"
        );
        let v = Value::Storage(U256::from(5u64));
        let enc = mf_format::encode(&v);
        assert_ne!(
            value_fp(&v),
            public("mf-validator index value fp v1", &enc).max(1),
            "the value fingerprint is not the public formula"
        );
        // Independent draws give independent keys.
        let (a, b) = (Keys::random(), Keys::random());
        let fp = |h: &blake3::Hasher| {
            let mut h = h.clone();
            h.update(&id);
            first16(h.finalize())
        };
        assert_ne!(fp(&a.version), fp(&b.version));
        assert_ne!(fp(&a.value), fp(&b.value));
        assert_ne!(fp(&a.version), fp(&a.value), "domains are separated");
        // Within one process the fingerprint is a function of the version.
        assert_eq!(version_fp_bytes(&id), version_fp_bytes(&id));
    }

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
