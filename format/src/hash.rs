//! Ids and digests: transaction ids, header hashes, merkle roots. Every hash is blake3 in
//! key-derivation mode with its own context string, so no two kinds of digest can collide.

use crate::types::{Header, Receipt, TxBody, TxId};
use alloy_primitives::B256;

/// Context strings (blake3 `derive_key` mode) of every digest in the protocol.
pub mod domain {
    /// Transaction id.
    pub const TX_ID: &str = "manaflow-utxo 2026-11 transaction id v2";
    /// Signing digest.
    pub const SIGNING: &str = "manaflow-utxo 2026-11 signing digest v2";
    /// The message of a co-signed transaction: its signing digest bound to its signers.
    pub const SIGNERS: &str = "manaflow-utxo 2026-11 signers v1";
    /// Address of a public key.
    pub const ADDRESS: &str = "manaflow-utxo 2026-11 address v1";
    /// Header hash.
    pub const HEADER: &str = "manaflow-utxo 2026-11 header v1";
    /// Merkle trees (leaves and nodes, told apart by a prefix byte).
    pub const MERKLE: &str = "manaflow-utxo 2026-11 merkle v1";
    /// Elements of the LtHash state hash.
    pub const LTHASH: &str = "manaflow-utxo 2026-11 lthash element v1";
    /// The digest of an LtHash's lanes.
    pub const LTHASH_DIGEST: &str = "manaflow-utxo 2026-11 lthash digest v1";
}

/// A hasher in derive-key mode for `context`, prepared once: `new_derive_key` hashes the
/// context string on every call, an extra compression per digest on hot paths.
macro_rules! keyed {
    ($name:ident, $ctx:expr) => {
        pub(crate) fn $name() -> blake3::Hasher {
            static H: std::sync::LazyLock<blake3::Hasher> =
                std::sync::LazyLock::new(|| blake3::Hasher::new_derive_key($ctx));
            H.clone()
        }
    };
}
keyed!(tx_id_hasher, domain::TX_ID);
keyed!(signing_hasher, domain::SIGNING);
keyed!(signers_hasher, domain::SIGNERS);
keyed!(address_hasher, domain::ADDRESS);
keyed!(header_hasher, domain::HEADER);
keyed!(merkle_hasher, domain::MERKLE);
keyed!(lthash_hasher, domain::LTHASH);
keyed!(lthash_digest_hasher, domain::LTHASH_DIGEST);

fn finish(h: &blake3::Hasher) -> B256 {
    B256::from(*h.finalize().as_bytes())
}

/// The id of a transaction with this body: blake3 (context [`domain::TX_ID`]) of the body's
/// canonical encoding. Authorisations are not covered, so signing cannot change the id.
pub fn tx_id(body: &TxBody) -> TxId {
    let mut buf = Vec::with_capacity(256 + body.moves.len() * 233);
    crate::encoders::put_body(&mut buf, body);
    tx_id_of_encoded_body(&buf)
}

/// The id of a transaction from the canonical encoding of its body.
pub fn tx_id_of_encoded_body(encoded_body: &[u8]) -> TxId {
    let mut h = tx_id_hasher();
    h.update(encoded_body);
    finish(&h)
}

/// The hash of a header: blake3 (context [`domain::HEADER`]) of its canonical encoding.
pub fn header_hash(header: &Header) -> B256 {
    let mut h = header_hasher();
    h.update(&crate::codec::encode(header));
    finish(&h)
}

/// The leaf hash of one item (blake3, context [`domain::MERKLE`], prefix byte 0).
pub fn merkle_leaf(item: &[u8]) -> B256 {
    let mut h = merkle_hasher();
    h.update(&[0u8]);
    h.update(item);
    finish(&h)
}

fn merkle_node(left: &B256, right: &B256) -> B256 {
    let mut h = merkle_hasher();
    h.update(&[1u8]);
    h.update(left.as_slice());
    h.update(right.as_slice());
    finish(&h)
}

/// The root of an empty tree.
pub fn merkle_empty_root() -> B256 {
    let mut h = merkle_hasher();
    h.update(&[2u8]);
    finish(&h)
}

/// Merkle root over leaf hashes already computed with [`merkle_leaf`] (callers may compute
/// them in parallel). Pairs are hashed left to right; an odd last node is carried up
/// unchanged (never paired with itself, so no two lists share a root by duplication).
pub fn merkle_root_of_leaves(mut level: Vec<B256>) -> B256 {
    if level.is_empty() {
        return merkle_empty_root();
    }
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            match pair {
                [l, r] => next.push(merkle_node(l, r)),
                [single] => next.push(*single),
                _ => {}
            }
        }
        level = next;
    }
    level[0]
}

/// Merkle root of transaction ids (leaf = the 32 id bytes).
pub fn tx_root(ids: &[TxId]) -> B256 {
    merkle_root_of_leaves(ids.iter().map(|id| merkle_leaf(id.as_slice())).collect())
}

/// Merkle root of receipts (leaf = the canonical encoding of the receipt).
pub fn receipts_root(receipts: &[Receipt]) -> B256 {
    let mut buf = Vec::new();
    merkle_root_of_leaves(
        receipts
            .iter()
            .map(|r| {
                buf.clear();
                crate::encoders::put_receipt(&mut buf, r);
                merkle_leaf(&buf)
            })
            .collect(),
    )
}
