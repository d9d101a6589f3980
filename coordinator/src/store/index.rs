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
    /// `key (53) || height (8, BE)` -> the key's version before `height` wrote it:
    /// `intx || value`, or empty when the key had never been written. One entry per key and
    /// height (the first write of the height).
    hist: Db,
    /// `height (8, BE) || key (53)` -> nothing: the `hist` entries of a height, to prune them.
    hist_h: Db,
    /// Heights of history kept behind the head (`u64::MAX`: all, archive mode).
    keep: u64,
}

/// The `hist` key of `key` written at `height`.
fn hist_key(key: &Key, height: u64) -> [u8; Key::ENCODED_LEN + 8] {
    let mut k = [0u8; Key::ENCODED_LEN + 8];
    k[..Key::ENCODED_LEN].copy_from_slice(&key.to_bytes());
    k[Key::ENCODED_LEN..].copy_from_slice(&height.to_be_bytes());
    k
}

/// The `hist_h` key of `key` written at `height`.
fn hist_h_key(key: &Key, height: u64) -> [u8; Key::ENCODED_LEN + 8] {
    let mut k = [0u8; Key::ENCODED_LEN + 8];
    k[..8].copy_from_slice(&height.to_be_bytes());
    k[8..].copy_from_slice(&key.to_bytes());
    k
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
    pub(super) fn new(
        state: Db,
        code: Db,
        meta: Db,
        hist: Db,
        hist_h: Db,
        keep: u64,
    ) -> StateIndex {
        StateIndex {
            state,
            code,
            meta,
            hist,
            hist_h,
            keep,
        }
    }

    /// The lowest height whose state can be read (`Some(head)` at least once the genesis
    /// is loaded): history is recorded from the height the index started keeping it (the
    /// genesis, or the first height applied by a version that keeps it) and pruned to the
    /// last `keep` heights.
    pub(super) fn oldest_state(
        &self,
        r: &RoTxn<'_, WithoutTls>,
    ) -> Result<Option<u64>, CoordError> {
        let Some(head) = self.head(r)? else {
            return Ok(None);
        };
        let start = match self.meta.get(r, b"hist_from")? {
            Some(b) => u64_of(b, "meta hist_from")?,
            None => head.height,
        };
        let kept = head.height.saturating_sub(self.keep);
        Ok(Some(start.max(kept).min(head.height)))
    }

    /// The version of `key` at `height` (at most the head): the first history entry after
    /// `height` holds it, else the live version.
    fn version_at(
        &self,
        r: &RoTxn<'_, WithoutTls>,
        key: &Key,
        height: u64,
    ) -> Result<Option<(TxId, Value)>, CoordError> {
        let probe = hist_key(key, height.saturating_add(1));
        if let Some((k, v)) = self.hist.get_greater_than_or_equal_to(r, &probe)?
            && k.len() == Key::ENCODED_LEN + 8
            && k[..Key::ENCODED_LEN] == probe[..Key::ENCODED_LEN]
        {
            if v.is_empty() {
                return Ok(None);
            }
            return parse_version(key, v).map(Some);
        }
        self.version(r, key)
    }

    /// Records `live`, the version of `key` before `height` writes it (once per height).
    fn record_history(
        &self,
        w: &mut RwTxn<'_>,
        key: &Key,
        height: u64,
        live: Option<&(TxId, Value)>,
    ) -> Result<(), CoordError> {
        let k = hist_key(key, height);
        if self.hist.get(w, &k)?.is_some() {
            return Ok(());
        }
        match live {
            Some((intx, value)) => {
                self.hist
                    .put(w, &k, VersionBytes::new(intx, value).as_slice())?
            }
            None => self.hist.put(w, &k, &[])?,
        }
        self.hist_h.put(w, &hist_h_key(key, height), &[])?;
        Ok(())
    }

    /// Drops the history no longer kept at head `height`: the entries of heights at most
    /// `height - keep`.
    fn prune_history(&self, w: &mut RwTxn<'_>, height: u64) -> Result<(), CoordError> {
        if self.keep == u64::MAX || height < self.keep {
            return Ok(());
        }
        let cutoff = height - self.keep;
        let mut old: Vec<Vec<u8>> = Vec::new();
        for item in self.hist_h.iter(w)? {
            let (k, _) = item?;
            if k.len() != Key::ENCODED_LEN + 8 || u64_of(&k[..8], "hist_h height")? > cutoff {
                break;
            }
            old.push(k.to_vec());
        }
        for k in old {
            self.hist_h.delete(w, &k)?;
            let mut hk = [0u8; Key::ENCODED_LEN + 8];
            hk[..Key::ENCODED_LEN].copy_from_slice(&k[8..]);
            hk[Key::ENCODED_LEN..].copy_from_slice(&k[..8]);
            self.hist.delete(w, &hk)?;
        }
        Ok(())
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
        self.meta.put(w, b"hist_from", &0u64.to_be_bytes())?;
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
                self.record_history(w, &key, h.height, live.as_ref())?;
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
        if self.meta.get(w, b"hist_from")?.is_none() {
            // An index from before history was kept: its history starts here.
            self.meta.put(w, b"hist_from", &head.height.to_be_bytes())?;
        }
        self.prune_history(w, h.height)?;
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
    /// The height read (`None`: the head).
    at: Option<u64>,
}

/// A height whose state is not kept any more (or not yet reached).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotKept {
    /// The height asked for.
    pub height: u64,
    /// The lowest height kept.
    pub oldest: u64,
    /// The head.
    pub head: u64,
}

impl<'a> IndexReader<'a> {
    pub(super) fn new(index: &'a StateIndex, txn: RoTxn<'a, WithoutTls>) -> IndexReader<'a> {
        IndexReader {
            index,
            txn,
            at: None,
        }
    }

    /// This reader, reading the state after `height` instead of the head: `Err` when that
    /// height's state is not kept ([`NotKept`]) or is above the head.
    pub fn at(mut self, height: u64) -> Result<Result<IndexReader<'a>, NotKept>, CoordError> {
        let head = self.head()?.height;
        let oldest = self.index.oldest_state(&self.txn)?.unwrap_or(head);
        if height > head || height < oldest {
            return Ok(Err(NotKept {
                height,
                oldest,
                head,
            }));
        }
        self.at = (height < head).then_some(height);
        Ok(Ok(self))
    }

    /// The height this reader reads (the head's unless [`IndexReader::at`] chose another).
    pub fn height(&self) -> Result<u64, CoordError> {
        match self.at {
            Some(h) => Ok(h),
            None => Ok(self.head()?.height),
        }
    }

    /// The lowest height whose state can be read.
    pub fn oldest_state(&self) -> Result<u64, CoordError> {
        Ok(self.index.oldest_state(&self.txn)?.unwrap_or(0))
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
        match self.at {
            None => self.index.version(&self.txn, key),
            Some(h) => self.index.version_at(&self.txn, key, h),
        }
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
