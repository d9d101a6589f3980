//! The state index: the live version of every key, code by hash, and the head, as applied
//! from the validator's feed (tables `state`, `code`, `meta`).

use super::{Db, FeedRecord, Head, u64_of};
use crate::CoordError;
use heed::{RoTxn, RwTxn, WithoutTls};
use mf_format::{
    Account, Address, B256, GENESIS_INTX, Header, Key, LtHash, MoveKind, TxId, U256, Value,
    header_hash, tx_id, tx_root,
};
use mf_movegen::genesis::Genesis;
use mf_movegen::{StateView, check_move};

/// The tables of the state index (opened by [`CoordDb`](super::CoordDb), which runs the
/// transactions).
pub struct StateIndex {
    state: Db,
    code: Db,
    meta: Db,
}

/// A `state` entry: `intx (32) || canonical value`, on the stack.
struct VersionBytes {
    buf: [u8; 32 + Value::MAX_ENCODED_LEN],
    len: usize,
}

impl VersionBytes {
    fn new(intx: &TxId, value: &Value) -> VersionBytes {
        let mut buf = [0u8; 32 + Value::MAX_ENCODED_LEN];
        buf[..32].copy_from_slice(intx.as_slice());
        let mut v = [0u8; Value::MAX_ENCODED_LEN];
        let enc = value.encode_fixed(&mut v);
        buf[32..32 + enc.len()].copy_from_slice(enc);
        VersionBytes {
            buf,
            len: 32 + enc.len(),
        }
    }

    fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

fn parse_version(key: &Key, b: &[u8]) -> Result<(TxId, Value), CoordError> {
    if b.len() < 33 {
        return Err(CoordError::Corrupt(format!(
            "state entry of {key:?} too short"
        )));
    }
    let intx = TxId::from_slice(&b[..32]);
    let value = Value::decode_canonical(&b[32..])
        .map_err(|e| CoordError::Corrupt(format!("state entry of {key:?}: {e}")))?;
    if value.mark() != key.mark {
        return Err(CoordError::Corrupt(format!(
            "state entry of {key:?}: wrong type"
        )));
    }
    Ok((intx, value))
}

/// Header hashes kept for `BLOCKHASH`: twice the 256 a transaction can read behind its
/// declared block, itself at most 256 behind the head.
const KEPT_BLOCK_HASHES: u64 = 1024;

/// The meta key of the header hash at `height`.
fn block_hash_key(height: u64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[..2].copy_from_slice(b"bh");
    k[2..].copy_from_slice(&height.to_be_bytes());
    k
}

fn b256_of(b: &[u8], what: &str) -> Result<B256, CoordError> {
    if b.len() != 32 {
        return Err(CoordError::Corrupt(format!("meta {what} is not 32 bytes")));
    }
    Ok(B256::from_slice(b))
}

impl StateIndex {
    pub(super) fn new(state: Db, code: Db, meta: Db) -> StateIndex {
        StateIndex { state, code, meta }
    }

    /// The head, or `None` before the genesis was loaded.
    pub(super) fn head(&self, r: &RoTxn<'_, WithoutTls>) -> Result<Option<Head>, CoordError> {
        let Some(h) = self.meta.get(r, b"height")? else {
            return Ok(None);
        };
        let get = |name: &str| -> Result<&[u8], CoordError> {
            self.meta
                .get(r, name.as_bytes())?
                .ok_or_else(|| CoordError::Corrupt(format!("no meta {name}")))
        };
        Ok(Some(Head {
            height: u64_of(h, "meta height")?,
            hash: b256_of(get("head_hash")?, "head_hash")?,
            state_hash: b256_of(get("state_hash")?, "state_hash")?,
            chain_id: u64_of(get("chain_id")?, "meta chain_id")?,
        }))
    }

    /// The chain's rules recorded with the genesis (`None` before it was loaded).
    pub(super) fn rules(
        &self,
        r: &RoTxn<'_, WithoutTls>,
    ) -> Result<Option<mf_format::ChainRules>, CoordError> {
        match self.meta.get(r, b"chain_rules")? {
            None => Ok(None),
            Some(b) => mf_format::ChainRules::decode_stored(b)
                .map(Some)
                .map_err(|e| CoordError::Corrupt(format!("meta chain_rules: {e}"))),
        }
    }

    fn version(
        &self,
        r: &RoTxn<'_, WithoutTls>,
        key: &Key,
    ) -> Result<Option<(TxId, Value)>, CoordError> {
        match self.state.get(r, &key.to_bytes())? {
            None => Ok(None),
            Some(b) => parse_version(key, b).map(Some),
        }
    }

    fn put_version(
        &self,
        w: &mut RwTxn<'_>,
        key: &Key,
        intx: &TxId,
        value: &Value,
    ) -> Result<(), CoordError> {
        self.state.put(
            w,
            &key.to_bytes(),
            VersionBytes::new(intx, value).as_slice(),
        )?;
        Ok(())
    }

    /// The head fields that change with every height (the chain id is written once, by
    /// [`StateIndex::load_genesis`]).
    fn put_head(
        &self,
        w: &mut RwTxn<'_>,
        header: &Header,
        lthash: &LtHash,
    ) -> Result<(), CoordError> {
        let hash = header_hash(header);
        self.meta.put(w, b"height", &header.height.to_be_bytes())?;
        self.meta.put(w, b"head_hash", hash.as_slice())?;
        // The header hashes BLOCKHASH reads (PROTOCOL.md §6.3): a transaction's declared
        // block is at most 256 behind the head, and it reads the 256 before that.
        self.meta
            .put(w, &block_hash_key(header.height), hash.as_slice())?;
        if let Some(old) = header.height.checked_sub(KEPT_BLOCK_HASHES) {
            self.meta.delete(w, &block_hash_key(old))?;
        }
        self.meta
            .put(w, b"state_hash", header.state_hash.as_slice())?;
        self.meta.put(w, b"lthash", &lthash.to_bytes())?;
        Ok(())
    }

    /// Loads the genesis as height 0, checked against the validator's header 0.
    pub(super) fn load_genesis(
        &self,
        w: &mut RwTxn<'_>,
        genesis: &Genesis,
        header0: &Header,
    ) -> Result<(), CoordError> {
        let lthash = genesis.lthash();
        if header0.height != 0 || lthash.digest() != header0.state_hash {
            return Err(CoordError::Diverged(format!(
                "the genesis served hashes to {} but header 0 says {}",
                lthash.digest(),
                header0.state_hash
            )));
        }
        if self.meta.get(w, b"height")?.is_some() {
            return Err(CoordError::Corrupt("genesis already loaded".into()));
        }
        for (key, value) in &genesis.versions {
            if value.mark() != key.mark {
                return Err(CoordError::Diverged(format!(
                    "genesis value type of {key:?}"
                )));
            }
            self.put_version(w, key, &GENESIS_INTX, value)?;
        }
        for (h, c) in &genesis.code {
            self.code.put(w, h.as_slice(), c)?;
        }
        self.put_head(w, header0, &lthash)?;
        self.meta
            .put(w, b"chain_id", &genesis.chain_id.to_be_bytes())?;
        self.meta
            .put(w, b"chain_rules", &mf_format::encode(&genesis.rules))?;
        Ok(())
    }

    /// Applies one feed record's batch and header: returns the ids of its transactions and
    /// the number of consumes applied. Nothing is committed here; on an error the caller
    /// drops the transaction.
    pub(super) fn apply_record(
        &self,
        w: &mut RwTxn<'_>,
        rec: &FeedRecord,
    ) -> Result<(Vec<TxId>, usize), CoordError> {
        let head = self
            .head(w)?
            .ok_or_else(|| CoordError::Corrupt("no genesis loaded".into()))?;
        let h = &rec.header;
        if h.height != head.height + 1 || h.parent != head.hash {
            return Err(CoordError::Diverged(format!(
                "header {} (parent {}) does not follow head {} ({})",
                h.height, h.parent, head.height, head.hash
            )));
        }
        let ids: Vec<TxId> = rec.batch.txs.iter().map(|t| tx_id(&t.body)).collect();
        if tx_root(&ids) != h.tx_root {
            return Err(CoordError::Diverged(format!(
                "the transactions of height {} do not match its tx_root",
                h.height
            )));
        }
        let lanes = self
            .meta
            .get(w, b"lthash")?
            .ok_or_else(|| CoordError::Corrupt("no meta lthash".into()))?;
        let mut lthash = LtHash::from_bytes(lanes)
            .ok_or_else(|| CoordError::Corrupt("meta lthash has the wrong length".into()))?;
        let mut moves = 0;
        for (tx, id) in rec.batch.txs.iter().zip(&ids) {
            for m in &tx.body.moves {
                let key = m.key();
                let live = self.version(w, &key)?;
                if let Err(stale) = check_move(m, live) {
                    return Err(CoordError::Diverged(format!(
                        "height {}: transaction {id} declares {:?} at intx {} but the index \
                         holds intx {}",
                        h.height, key, m.intx, stale.live.0
                    )));
                }
                if m.kind == MoveKind::Reference {
                    continue;
                }
                lthash.add(&LtHash::of_move(id, m));
                // The genesis element is in the set only when the genesis listed the key.
                if m.intx == GENESIS_INTX && live.is_some() {
                    lthash.sub(&LtHash::of_version(&GENESIS_INTX, &key, &m.prev));
                }
                self.put_version(w, &key, id, &m.next)?;
                moves += 1;
            }
            for code in &tx.body.created_code {
                let hash = alloy_primitives::keccak256(code);
                self.code.put(w, hash.as_slice(), code)?;
            }
        }
        if lthash.digest() != h.state_hash {
            return Err(CoordError::Diverged(format!(
                "height {}: the state hash recomputed from the moves is {} but the header says {}",
                h.height,
                lthash.digest(),
                h.state_hash
            )));
        }
        self.put_head(w, h, &lthash)?;
        Ok((ids, moves))
    }

    /// Entries in `state`.
    pub(super) fn len(&self, r: &RoTxn<'_, WithoutTls>) -> Result<u64, CoordError> {
        Ok(self.state.len(r)?)
    }
}

/// A read transaction on the index: a consistent [`StateView`] of one height.
pub struct IndexReader<'a> {
    index: &'a StateIndex,
    txn: RoTxn<'a, WithoutTls>,
}

impl<'a> IndexReader<'a> {
    pub(super) fn new(index: &'a StateIndex, txn: RoTxn<'a, WithoutTls>) -> IndexReader<'a> {
        IndexReader { index, txn }
    }

    /// The head this reader sees.
    pub fn head(&self) -> Result<Head, CoordError> {
        self.head_opt()?
            .ok_or_else(|| CoordError::Corrupt("no genesis loaded".into()))
    }

    /// The head, or `None` before the genesis is loaded.
    pub fn head_opt(&self) -> Result<Option<Head>, CoordError> {
        self.index.head(&self.txn)
    }

    /// The account record of `addr` (the empty account when never written).
    pub fn account(&self, addr: Address) -> Result<Account, CoordError> {
        match self.version(&Key::account(addr))? {
            Some((_, Value::Account(a))) => Ok(a),
            _ => Ok(Account::default()),
        }
    }

    /// A storage word (zero when never written).
    pub fn storage(&self, addr: Address, slot: U256) -> Result<U256, CoordError> {
        match self.version(&Key::storage(addr, slot))? {
            Some((_, Value::Storage(w))) => Ok(w),
            _ => Ok(U256::ZERO),
        }
    }
}

impl StateView for IndexReader<'_> {
    type Error = CoordError;

    fn version(&self, key: &Key) -> Result<Option<(TxId, Value)>, CoordError> {
        self.index.version(&self.txn, key)
    }

    fn code(&self, hash: &B256) -> Result<Option<alloy_primitives::Bytes>, CoordError> {
        Ok(self
            .index
            .code
            .get(&self.txn, hash.as_slice())?
            .map(alloy_primitives::Bytes::copy_from_slice))
    }

    /// Block `number`'s hash: the genesis names it (a block up to the genesis of a chain
    /// that continues another), else the header at its height.
    fn block_hash(&self, number: u64) -> Result<Option<B256>, CoordError> {
        let rules = self.index.rules(&self.txn)?.unwrap_or_default();
        if let Some(h) = rules.ancestor_hash(number) {
            return Ok(Some(h));
        }
        let Some(height) = rules.height_of(number) else {
            return Ok(None);
        };
        match self.index.meta.get(&self.txn, &block_hash_key(height))? {
            None => Ok(None),
            Some(b) => b256_of(b, "block hash").map(Some),
        }
    }
}
