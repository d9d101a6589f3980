//! The state hash: a lattice hash (LtHash) of the multiset of live versions.
//!
//! Each version `(intx, key) -> value` maps to an *element*: 1024 lanes of `u16`, read
//! little-endian from 2048 bytes of blake3 XOF output (context [`crate::hash::domain::LTHASH`]) over
//! `intx || mark || addr || slot || value` in canonical encoding. The state is the lane-wise
//! sum (wrapping mod 2^16) of the elements of all live versions: creating a version adds its
//! element, spending subtracts it. So the hash updates in O(1) per move, sums of disjoint
//! parts combine in any order (parallel), and replicas compare state after every batch. The
//! 32-byte digest published in headers is blake3 (context [`crate::hash::domain::LTHASH_DIGEST`]) of the
//! 2048 lane bytes, little-endian. Parameters follow Solana's accounts lattice hash.

use crate::types::{GENESIS_INTX, Key, Move, MoveKind, TxId, Value, VersionId};
use alloy_primitives::B256;

/// Number of lanes.
pub const LANES: usize = 1024;

/// A lattice hash: 1024 lanes of 16 bits.
#[derive(Clone, PartialEq, Eq)]
pub struct LtHash(pub [u16; LANES]);

impl std::fmt::Debug for LtHash {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "LtHash({})", self.digest())
    }
}

impl Default for LtHash {
    fn default() -> Self {
        LtHash::IDENTITY
    }
}

impl LtHash {
    /// The hash of the empty set.
    pub const IDENTITY: LtHash = LtHash([0; LANES]);

    /// The element of one version.
    pub fn of_version(intx: &TxId, key: &Key, value: &Value) -> LtHash {
        Self::of_version_id(&VersionId::new(*intx, *key), value)
    }

    /// The element of one version given its id: the hash input is the 85-byte
    /// [`VersionId::to_bytes`] followed by the value's canonical encoding.
    pub fn of_version_id(v: &VersionId, value: &Value) -> LtHash {
        let mut buf = [0u8; VersionId::ENCODED_LEN + Value::MAX_ENCODED_LEN];
        buf[..VersionId::ENCODED_LEN].copy_from_slice(&v.to_bytes());
        let mut vb = [0u8; Value::MAX_ENCODED_LEN];
        let enc = value.encode_fixed(&mut vb);
        let end = VersionId::ENCODED_LEN + enc.len();
        buf[VersionId::ENCODED_LEN..end].copy_from_slice(enc);
        Self::of_input(&buf[..end])
    }

    /// The element of the *used marker* a genesis key (`intx = 0`) gets when its version is
    /// spent: the same input layout as a version, with the single byte `0xff` in place of
    /// the value encoding (a tag no value has).
    pub fn of_used_marker(key: &Key) -> LtHash {
        let mut buf = [0u8; VersionId::ENCODED_LEN + 1];
        buf[..VersionId::ENCODED_LEN]
            .copy_from_slice(&VersionId::new(GENESIS_INTX, *key).to_bytes());
        buf[VersionId::ENCODED_LEN] = 0xff;
        Self::of_input(&buf)
    }

    /// What one move of transaction `id` changes in the state hash, short of one thing only
    /// the holder of the set knows: a consume adds the new version `(id, key) -> next` and
    /// removes the spent version, or, when the spent version is a genesis one, adds the key's
    /// used marker instead. The genesis version's own element is in the set only if the
    /// genesis file listed the key; whoever applies the move subtracts
    /// [`LtHash::of_version`]`(GENESIS_INTX, key, prev)` in that case. A reference changes
    /// nothing.
    pub fn of_move(id: &TxId, m: &Move) -> LtHash {
        let mut delta = LtHash::IDENTITY;
        if m.kind == MoveKind::Reference {
            return delta;
        }
        let key = m.key();
        if m.intx == GENESIS_INTX {
            delta.add(&LtHash::of_used_marker(&key));
        } else {
            delta.sub(&LtHash::of_version(&m.intx, &key, &m.prev));
        }
        delta.add(&LtHash::of_version(id, &key, &m.next));
        delta
    }

    /// The sum of many hashes (in any order: the sum is commutative).
    pub fn sum<'a>(parts: impl IntoIterator<Item = &'a LtHash>) -> LtHash {
        let mut total = LtHash::IDENTITY;
        for p in parts {
            total.add(p);
        }
        total
    }

    fn of_input(buf: &[u8]) -> LtHash {
        let mut h = crate::hash::lthash_hasher();
        h.update(buf);
        let mut bytes = [0u8; LANES * 2];
        h.finalize_xof().fill(&mut bytes);
        let mut lanes = [0u16; LANES];
        for (lane, b) in lanes.iter_mut().zip(bytes.chunks_exact(2)) {
            *lane = u16::from_le_bytes([b[0], b[1]]);
        }
        LtHash(lanes)
    }

    /// Adds another hash (set union of disjoint sets).
    pub fn add(&mut self, other: &LtHash) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = a.wrapping_add(*b);
        }
    }

    /// Subtracts another hash (removal).
    pub fn sub(&mut self, other: &LtHash) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = a.wrapping_sub(*b);
        }
    }

    /// The lanes as 2048 little-endian bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|l| l.to_le_bytes()).collect()
    }

    /// Parses 2048 little-endian bytes; `None` on a wrong length.
    pub fn from_bytes(bytes: &[u8]) -> Option<LtHash> {
        if bytes.len() != LANES * 2 {
            return None;
        }
        let mut lanes = [0u16; LANES];
        for (lane, b) in lanes.iter_mut().zip(bytes.chunks_exact(2)) {
            *lane = u16::from_le_bytes([b[0], b[1]]);
        }
        Some(LtHash(lanes))
    }

    /// The 32-byte digest published as the state hash.
    pub fn digest(&self) -> B256 {
        let mut h = crate::hash::lthash_digest_hasher();
        h.update(&self.to_bytes());
        B256::from(*h.finalize().as_bytes())
    }
}
