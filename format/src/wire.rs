//! Serde adapters that give the alloy primitives one fixed, length-free wire shape.
//!
//! alloy's own serde impls are written for JSON (hex strings) and, in binary form, carry a
//! length prefix. The canonical encoding wants fixed-width fields with no prefix, so every
//! address is 20 raw bytes, every word 32 raw bytes and every `U256` 32 bytes big-endian.
//! Variable-length fields go through [`bounded_bytes`] and [`bounded_seq`], which refuse an
//! over-long length *before* anything is allocated.

#![allow(missing_docs)] // serde `with` modules: serialize/deserialize pairs.

use alloy_primitives::{Address, B256, U256};
use serde::de::{Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::marker::PhantomData;

/// Prefix of the serde error message that marks a limit violation, so that
/// [`crate::FormatError`] can tell a limit from malformed bytes.
pub(crate) const LIMIT_TAG: &str = "limit exceeded: ";

pub(crate) fn limit_error<E: serde::de::Error>(what: &str, len: usize, max: usize) -> E {
    E::custom(format_args!(
        "{LIMIT_TAG}{what} has {len}, at most {max} allowed"
    ))
}

/// `Address` as 20 raw bytes.
pub mod address {
    use super::*;
    pub fn serialize<S: Serializer>(a: &Address, s: S) -> Result<S::Ok, S::Error> {
        a.0.0.serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        <[u8; 20]>::deserialize(d).map(Address::from)
    }
}

/// `Option<Address>` as a one-byte tag (0 none, 1 some) and 20 raw bytes.
pub mod opt_address {
    use super::*;
    #[derive(Serialize, Deserialize)]
    struct A(#[serde(with = "super::address")] Address);
    pub fn serialize<S: Serializer>(a: &Option<Address>, s: S) -> Result<S::Ok, S::Error> {
        a.map(A).serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Address>, D::Error> {
        Option::<A>::deserialize(d).map(|o| o.map(|a| a.0))
    }
}

/// `B256` as 32 raw bytes.
pub mod b256 {
    use super::*;
    pub fn serialize<S: Serializer>(w: &B256, s: S) -> Result<S::Ok, S::Error> {
        w.0.serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<B256, D::Error> {
        <[u8; 32]>::deserialize(d).map(B256::from)
    }
}

/// `U256` as 32 bytes, big-endian.
pub mod u256 {
    use super::*;
    pub fn serialize<S: Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
        v.to_be_bytes::<32>().serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
        <[u8; 32]>::deserialize(d).map(|b| U256::from_be_bytes(b))
    }
}

/// A list of `B256`, each as 32 raw bytes, of at most `max` entries.
fn b256_seq<'de, D: Deserializer<'de>>(
    d: D,
    max: usize,
    what: &'static str,
) -> Result<Vec<B256>, D::Error> {
    #[derive(Deserialize)]
    struct W(#[serde(with = "b256")] B256);
    let v: Vec<W> = bounded_seq(d, max, what)?;
    Ok(v.into_iter().map(|w| w.0).collect())
}

fn ser_b256_seq<S: Serializer>(v: &[B256], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|t| t.0))
}

/// A list of `B256` (log topics) with at most `crate::limits::MAX_LOG_TOPICS` entries.
pub mod topics {
    use super::*;
    pub fn serialize<S: Serializer>(v: &[B256], s: S) -> Result<S::Ok, S::Error> {
        ser_b256_seq(v, s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<B256>, D::Error> {
        b256_seq(d, crate::limits::MAX_LOG_TOPICS, "log topics")
    }
}

/// A list of `B256` (access-list storage keys) with at most
/// `crate::limits::MAX_ACCESS_LIST_KEYS` entries.
pub mod b256_list {
    use super::*;
    pub fn serialize<S: Serializer>(v: &[B256], s: S) -> Result<S::Ok, S::Error> {
        ser_b256_seq(v, s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<B256>, D::Error> {
        b256_seq(
            d,
            crate::limits::MAX_ACCESS_LIST_KEYS,
            "access list storage keys",
        )
    }
}

/// A list of `B256` (a blob call's versioned hashes) with at most
/// `crate::limits::MAX_BLOB_HASHES` entries.
pub mod blob_hashes {
    use super::*;
    pub fn serialize<S: Serializer>(v: &[B256], s: S) -> Result<S::Ok, S::Error> {
        ser_b256_seq(v, s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<B256>, D::Error> {
        b256_seq(d, crate::limits::MAX_BLOB_HASHES, "blob versioned hashes")
    }
}

/// Deserializes a byte string of at most `max` bytes. The length prefix is checked against
/// `max` before any byte is copied.
pub fn bounded_bytes<'de, D: Deserializer<'de>>(
    d: D,
    max: usize,
    what: &'static str,
) -> Result<Vec<u8>, D::Error> {
    struct V {
        max: usize,
        what: &'static str,
    }
    impl<'de> Visitor<'de> for V {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "{} of at most {} bytes", self.what, self.max)
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            if v.len() > self.max {
                return Err(limit_error(self.what, v.len(), self.max));
            }
            Ok(v.to_vec())
        }
        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            self.visit_bytes(&v)
        }
    }
    d.deserialize_bytes(V { max, what })
}

/// Deserializes a sequence of at most `max` elements. The announced length is checked before
/// the vector is allocated; a decoder that announces no length is refused.
pub fn bounded_seq<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
    max: usize,
    what: &'static str,
) -> Result<Vec<T>, D::Error> {
    struct V<T> {
        max: usize,
        what: &'static str,
        _t: PhantomData<T>,
    }
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "{} of at most {} entries", self.what, self.max)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let len = seq
                .size_hint()
                .ok_or_else(|| A::Error::custom("sequence without a length"))?;
            if len > self.max {
                return Err(limit_error(self.what, len, self.max));
            }
            let mut out = Vec::with_capacity(len);
            while let Some(x) = seq.next_element()? {
                out.push(x);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(V {
        max,
        what,
        _t: PhantomData,
    })
}

/// Serializes a byte vector as a byte string (length prefix + raw bytes).
pub fn ser_bytes<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(v)
}

/// A list of byte strings (created runtime code).
pub fn ser_byte_list<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct B<'a>(#[serde(serialize_with = "ser_bytes")] &'a [u8]);
    s.collect_seq(v.iter().map(|b| B(b)))
}
