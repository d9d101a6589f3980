//! The coordinator's own LMDB environment: the state index it follows from the validator's
//! feed, and the journal of intents.
//!
//! | table | key | value |
//! | --- | --- | --- |
//! | `state` | mark (1) + address (20) + slot (32, BE) | intx (32) + the value's canonical encoding |
//! | `code` | keccak-256 code hash | runtime code |
//! | `meta` | name | `height`, `head_hash`, `state_hash`, `lthash`, `chain_id` |
//! | `intents` | intent id | its [`IntentStatus`] as JSON (what `mf_getIntent` answers) |
//! | `intent_tx` | intent id | the transaction as submitted (canonical encoding) |
//! | `open` | intent id | arrival sequence number (u64 BE): intents not yet final |
//! | `filled` | filled transaction id | intent id |
//!
//! `state` is the web3 secondary index of DESIGN.md §4: the live version of every key
//! (never-written keys are absent). A feed record is applied in one write transaction
//! together with the new head, so the index is always exactly the state after some height:
//! a restart resumes from `height + 1`. Applying a record checks it against the index: the
//! header chains onto the head, the transaction root matches, every declared `(intx, prev)`
//! is the live version, and the state hash recomputed move by move (the same LtHash as the
//! validator's) equals the header's. A follower that disagrees stops instead of serving a
//! wrong state.
//!
//! The chain itself is how acceptance is learnt: when an applied batch contains a
//! transaction whose id is in `filled`, its intent becomes `accepted` in the same write
//! transaction, whoever submitted it and whatever the submitter heard back.

use crate::CoordError;
use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions, RoTxn, RwTxn, WithoutTls};
use mf_format::{
    GENESIS_INTX, Header, Key, LtHash, MoveKind, TxId, U256, Value, header_hash, tx_id, tx_root,
};
use mf_movegen::StateView;
use mf_movegen::genesis::Genesis;
use mf_movegen::rpc::{IntentState, IntentStatus};
use std::path::Path;

type Db = Database<'static, Bytes, Bytes>;

const MAP_SIZE: usize = 1 << 40;

/// One record of the validator's feed, decoded (its framing is `mf-api`'s).
pub use mf_api::FeedRecord;

/// The head the index reflects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Height.
    pub height: u64,
    /// Hash of the header at that height.
    pub hash: mf_format::B256,
    /// Its state hash.
    pub state_hash: mf_format::B256,
    /// Chain id.
    pub chain_id: u64,
}

/// What applying a feed record did.
#[derive(Clone, Debug, Default)]
pub struct AppliedRecord {
    /// Transactions applied.
    pub txs: usize,
    /// Moves applied.
    pub moves: usize,
    /// Intents that became accepted.
    pub accepted: Vec<TxId>,
}

/// The coordinator's LMDB environment.
pub struct Store {
    env: Env<WithoutTls>,
    state: Db,
    code: Db,
    meta: Db,
    intents: Db,
    intent_tx: Db,
    open: Db,
    filled: Db,
    _lock: std::fs::File,
}

/// The 53-byte index key of a state key.
pub fn key_bytes(key: &Key) -> [u8; 53] {
    let mut k = [0u8; 53];
    k[0] = key.mark.byte();
    k[1..21].copy_from_slice(key.addr.as_slice());
    k[21..].copy_from_slice(&key.slot.to_be_bytes::<32>());
    k
}

fn version_bytes(intx: &TxId, value: &Value) -> Vec<u8> {
    let mut v = Vec::with_capacity(32 + 80);
    v.extend_from_slice(intx.as_slice());
    mf_format::encode_into(value, &mut v);
    v
}

fn parse_version(key: &Key, b: &[u8]) -> Result<(TxId, Value), CoordError> {
    if b.len() < 33 {
        return Err(CoordError::Corrupt(format!(
            "state entry of {key:?} too short"
        )));
    }
    let intx = TxId::from_slice(&b[..32]);
    let value: Value = mf_format::decode(&b[32..], 80, "value")
        .map_err(|e| CoordError::Corrupt(format!("state entry of {key:?}: {e}")))?;
    if value.mark() != key.mark {
        return Err(CoordError::Corrupt(format!(
            "state entry of {key:?}: wrong type"
        )));
    }
    Ok((intx, value))
}

fn be(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

fn u64_of(b: &[u8], what: &str) -> Result<u64, CoordError> {
    let a: [u8; 8] = b
        .try_into()
        .map_err(|_| CoordError::Corrupt(format!("meta {what}")))?;
    Ok(u64::from_be_bytes(a))
}

fn b256_of(b: &[u8], what: &str) -> Result<mf_format::B256, CoordError> {
    if b.len() != 32 {
        return Err(CoordError::Corrupt(format!("meta {what}")));
    }
    Ok(mf_format::B256::from_slice(b))
}

impl Store {
    /// Opens (creating) the environment in `dir/index`, holding `dir/LOCK` so that two
    /// coordinators cannot share a data directory.
    pub fn open(dir: &Path) -> Result<Store, CoordError> {
        let env_dir = dir.join("index");
        std::fs::create_dir_all(&env_dir).map_err(|e| CoordError::io(&env_dir, e))?;
        let lock_path = dir.join("LOCK");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| CoordError::io(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(CoordError::Locked(dir.display().to_string()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(CoordError::io(&lock_path, e)),
        }
        // SAFETY: LMDB's map must not be modified by anything else and a process must not
        // open the same environment twice; the LOCK file above guarantees one coordinator
        // per directory, and it opens the environment once.
        let env = unsafe {
            EnvOpenOptions::new()
                .read_txn_without_tls()
                .map_size(MAP_SIZE)
                .max_dbs(16)
                .max_readers(512)
                .open(&env_dir)?
        };
        let wtxn = env.write_txn()?;
        let [state, code, meta, intents, intent_tx, open, filled] = env
            .create_databases_and_commit(wtxn, |wdo, wtxn| {
                let mut db = |name| wdo.create_database::<Bytes, Bytes>(wtxn, Some(name));
                let dbs = [
                    db("state")?,
                    db("code")?,
                    db("meta")?,
                    db("intents")?,
                    db("intent_tx")?,
                    db("open")?,
                    db("filled")?,
                ];
                heed::Result::Ok(CommitOrAbort::<_, ()>::Commit(dbs))
            })?
            .unwrap_commit();
        Ok(Store {
            env,
            state,
            code,
            meta,
            intents,
            intent_tx,
            open,
            filled,
            _lock: lock,
        })
    }

    /// The head, or `None` before the genesis was loaded.
    pub fn head(&self) -> Result<Option<Head>, CoordError> {
        let r = self.env.read_txn()?;
        self.head_in(&r)
    }

    fn head_in(&self, r: &RoTxn<'_, WithoutTls>) -> Result<Option<Head>, CoordError> {
        let Some(h) = self.meta.get(r, b"height")? else {
            return Ok(None);
        };
        let get = |name: &str| -> Result<&[u8], CoordError> {
            self.meta
                .get(r, name.as_bytes())?
                .ok_or_else(|| CoordError::Corrupt(format!("no meta {name}")))
        };
        Ok(Some(Head {
            height: u64_of(h, "height")?,
            hash: b256_of(get("head_hash")?, "head_hash")?,
            state_hash: b256_of(get("state_hash")?, "state_hash")?,
            chain_id: u64_of(get("chain_id")?, "chain_id")?,
        }))
    }

    /// Loads the genesis (height 0). `header0` is the validator's header 0: its state hash
    /// must be the genesis' LtHash, or the genesis is not the validator's.
    pub fn bootstrap(&self, genesis: &Genesis, header0: &Header) -> Result<(), CoordError> {
        let lthash = genesis.lthash();
        if header0.height != 0 || lthash.digest() != header0.state_hash {
            return Err(CoordError::Diverged(format!(
                "the genesis served hashes to {} but header 0 says {}",
                lthash.digest(),
                header0.state_hash
            )));
        }
        let mut w = self.env.write_txn()?;
        if self.meta.get(&w, b"height")?.is_some() {
            return Err(CoordError::Corrupt("genesis already loaded".into()));
        }
        for (key, value) in &genesis.versions {
            if value.mark() != key.mark {
                return Err(CoordError::Diverged(format!(
                    "genesis value type of {key:?}"
                )));
            }
            self.state.put(
                &mut w,
                &key_bytes(key),
                &version_bytes(&GENESIS_INTX, value),
            )?;
        }
        for (h, c) in &genesis.code {
            self.code.put(&mut w, h.as_slice(), c)?;
        }
        self.put_head(&mut w, header0, &lthash, genesis.chain_id)?;
        w.commit()?;
        Ok(())
    }

    fn put_head(
        &self,
        w: &mut RwTxn<'_>,
        header: &Header,
        lthash: &LtHash,
        chain_id: u64,
    ) -> Result<(), CoordError> {
        self.meta.put(w, b"height", &be(header.height))?;
        self.meta
            .put(w, b"head_hash", header_hash(header).as_slice())?;
        self.meta
            .put(w, b"state_hash", header.state_hash.as_slice())?;
        self.meta.put(w, b"lthash", &lthash.to_bytes())?;
        self.meta.put(w, b"chain_id", &be(chain_id))?;
        Ok(())
    }

    /// Applies one feed record (see the module documentation for what is checked). On any
    /// mismatch nothing is written and the error says what disagreed.
    pub fn apply_record(&self, rec: &FeedRecord) -> Result<AppliedRecord, CoordError> {
        let mut w = self.env.write_txn()?;
        let head = self
            .head_in_rw(&w)?
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
            .get(&w, b"lthash")?
            .ok_or_else(|| CoordError::Corrupt("no lthash".into()))?;
        let mut lthash =
            LtHash::from_bytes(lanes).ok_or_else(|| CoordError::Corrupt("lthash".into()))?;
        let mut out = AppliedRecord::default();
        for (tx, id) in rec.batch.txs.iter().zip(&ids) {
            for m in &tx.body.moves {
                let key = m.key();
                let kb = key_bytes(&key);
                let live = match self.state.get(&w, &kb)? {
                    Some(b) => Some(parse_version(&key, b)?),
                    None => None,
                };
                let (live_intx, live_value) = live.unwrap_or((GENESIS_INTX, Value::zero(key.mark)));
                if live_intx != m.intx || live_value != m.prev {
                    return Err(CoordError::Diverged(format!(
                        "height {}: transaction {id} declares {:?} at intx {} but the index \
                         holds intx {live_intx}",
                        h.height, key, m.intx
                    )));
                }
                if m.kind == MoveKind::Reference {
                    continue;
                }
                if m.intx == GENESIS_INTX {
                    lthash.add(&LtHash::of_used_marker(&key));
                    if live.is_some() {
                        lthash.sub(&LtHash::of_version(&GENESIS_INTX, &key, &m.prev));
                    }
                } else {
                    lthash.sub(&LtHash::of_version(&m.intx, &key, &m.prev));
                }
                lthash.add(&LtHash::of_version(id, &key, &m.next));
                self.state.put(&mut w, &kb, &version_bytes(id, &m.next))?;
                out.moves += 1;
            }
            for code in &tx.body.created_code {
                let hash = alloy_primitives::keccak256(code);
                self.code.put(&mut w, hash.as_slice(), code)?;
            }
            if let Some(intent) = self.filled.get(&w, id.as_slice())? {
                let intent = TxId::from_slice(intent);
                // The chain is the truth: a fill in an applied batch is accepted whatever
                // the journal said, but an intent already accepted is not counted twice.
                if let Some(mut st) = self
                    .status_rw(&w, &intent)?
                    .filter(|st| st.status != IntentState::Accepted)
                {
                    if st.status == IntentState::Rejected {
                        tracing::warn!(
                            %intent,
                            "a fill of an intent reported rejected was accepted; now accepted"
                        );
                    }
                    st.status = IntentState::Accepted;
                    st.tx_id = Some(*id);
                    st.height = Some(alloy_primitives::U64::from(h.height));
                    st.reason = None;
                    st.code = None;
                    st.detail = None;
                    self.put_status(&mut w, &st)?;
                    self.open.delete(&mut w, intent.as_slice())?;
                    out.accepted.push(intent);
                }
            }
            out.txs += 1;
        }
        if lthash.digest() != h.state_hash {
            return Err(CoordError::Diverged(format!(
                "height {}: the state hash recomputed from the moves is {} but the header says {}",
                h.height,
                lthash.digest(),
                h.state_hash
            )));
        }
        self.put_head(&mut w, h, &lthash, head.chain_id)?;
        w.commit()?;
        Ok(out)
    }

    fn head_in_rw(&self, w: &RwTxn<'_>) -> Result<Option<Head>, CoordError> {
        let Some(h) = self.meta.get(w, b"height")? else {
            return Ok(None);
        };
        let get = |name: &str| -> Result<&[u8], CoordError> {
            self.meta
                .get(w, name.as_bytes())?
                .ok_or_else(|| CoordError::Corrupt(format!("no meta {name}")))
        };
        Ok(Some(Head {
            height: u64_of(h, "height")?,
            hash: b256_of(get("head_hash")?, "head_hash")?,
            state_hash: b256_of(get("state_hash")?, "state_hash")?,
            chain_id: u64_of(get("chain_id")?, "chain_id")?,
        }))
    }

    /// A consistent read-only view of the index (a [`StateView`]).
    pub fn reader(&self) -> Result<Reader<'_>, CoordError> {
        Ok(Reader {
            store: self,
            txn: self.env.read_txn()?,
        })
    }

    // ----- intents -----

    fn status_rw(&self, w: &RwTxn<'_>, id: &TxId) -> Result<Option<IntentStatus>, CoordError> {
        match self.intents.get(w, id.as_slice())? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(b)
                .map(Some)
                .map_err(|e| CoordError::Corrupt(format!("intent {id}: {e}"))),
        }
    }

    fn put_status(&self, w: &mut RwTxn<'_>, st: &IntentStatus) -> Result<(), CoordError> {
        let json = serde_json::to_vec(st).map_err(|e| CoordError::Corrupt(e.to_string()))?;
        self.intents.put(w, st.intent.as_slice(), &json)?;
        Ok(())
    }

    /// The status of an intent.
    pub fn intent(&self, id: &TxId) -> Result<Option<IntentStatus>, CoordError> {
        let r = self.env.read_txn()?;
        match self.intents.get(&r, id.as_slice())? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(b)
                .map(Some)
                .map_err(|e| CoordError::Corrupt(format!("intent {id}: {e}"))),
        }
    }

    /// Journals new intents (`(id, encoded transaction, arrival sequence)`) in one write
    /// transaction; ids already known are skipped. Returns which were new.
    pub fn journal(&self, new: &[(TxId, Vec<u8>, u64)]) -> Result<Vec<bool>, CoordError> {
        let mut w = self.env.write_txn()?;
        let mut fresh = Vec::with_capacity(new.len());
        for (id, bytes, seq) in new {
            if self.intents.get(&w, id.as_slice())?.is_some() {
                fresh.push(false);
                continue;
            }
            self.put_status(&mut w, &IntentStatus::pending(*id))?;
            self.intent_tx.put(&mut w, id.as_slice(), bytes)?;
            self.open.put(&mut w, id.as_slice(), &be(*seq))?;
            fresh.push(true);
        }
        w.commit()?;
        Ok(fresh)
    }

    /// Records intents as filled (their new transaction ids) before the batch is sent, so
    /// that the feed can recognise them whoever reports the verdict.
    pub fn mark_filled(&self, filled: &[(TxId, TxId, u64)]) -> Result<(), CoordError> {
        let mut w = self.env.write_txn()?;
        for (intent, txid, gas) in filled {
            let Some(mut st) = self.status_rw(&w, intent)? else {
                continue;
            };
            if st.status.is_final() {
                continue;
            }
            st.status = IntentState::Filled;
            st.tx_id = Some(*txid);
            st.attempts += 1;
            st.gas_used = Some(alloy_primitives::U64::from(*gas));
            self.put_status(&mut w, &st)?;
            self.filled
                .put(&mut w, txid.as_slice(), intent.as_slice())?;
        }
        w.commit()?;
        Ok(())
    }

    /// Applies status updates computed by the sequencer. An intent already accepted (the
    /// feed saw it) is never moved back. Final ones leave the `open` table.
    pub fn update_intents(&self, updates: &[IntentStatus]) -> Result<(), CoordError> {
        if updates.is_empty() {
            return Ok(());
        }
        let mut w = self.env.write_txn()?;
        for st in updates {
            if let Some(cur) = self.status_rw(&w, &st.intent)?
                && cur.status == IntentState::Accepted
            {
                continue;
            }
            self.put_status(&mut w, st)?;
            if st.status.is_final() {
                self.open.delete(&mut w, st.intent.as_slice())?;
            }
        }
        w.commit()?;
        Ok(())
    }

    /// The intents that are not final, in arrival order, with their transactions: what a
    /// restarted coordinator queues again.
    pub fn open_intents(&self) -> Result<Vec<(u64, IntentStatus, Vec<u8>)>, CoordError> {
        let r = self.env.read_txn()?;
        let mut out = Vec::new();
        for item in self.open.iter(&r)? {
            let (id, seq) = item?;
            let id = TxId::from_slice(id);
            let seq = u64_of(seq, "open seq")?;
            let st = match self.intents.get(&r, id.as_slice())? {
                Some(b) => serde_json::from_slice::<IntentStatus>(b)
                    .map_err(|e| CoordError::Corrupt(format!("intent {id}: {e}")))?,
                None => return Err(CoordError::Corrupt(format!("open intent {id} unknown"))),
            };
            let tx = self
                .intent_tx
                .get(&r, id.as_slice())?
                .ok_or_else(|| CoordError::Corrupt(format!("intent {id} has no transaction")))?
                .to_vec();
            out.push((seq, st, tx));
        }
        out.sort_by_key(|(seq, _, _)| *seq);
        Ok(out)
    }

    /// Counts of `(state entries, intents, open intents)`.
    pub fn counts(&self) -> Result<(u64, u64, u64), CoordError> {
        let r = self.env.read_txn()?;
        Ok((
            self.state.len(&r)?,
            self.intents.len(&r)?,
            self.open.len(&r)?,
        ))
    }
}

/// A read transaction on the index: a consistent [`StateView`] of one height.
pub struct Reader<'a> {
    store: &'a Store,
    txn: RoTxn<'a, WithoutTls>,
}

impl Reader<'_> {
    /// The head this reader sees.
    pub fn head(&self) -> Result<Head, CoordError> {
        self.head_opt()?
            .ok_or_else(|| CoordError::Corrupt("no genesis loaded".into()))
    }

    /// The head, or `None` before the genesis is loaded.
    pub fn head_opt(&self) -> Result<Option<Head>, CoordError> {
        self.store.head_in(&self.txn)
    }

    /// The account record of `addr` (the empty account when never written).
    pub fn account(&self, addr: mf_format::Address) -> Result<mf_format::Account, CoordError> {
        match self.version(&Key::account(addr))? {
            Some((_, Value::Account(a))) => Ok(a),
            _ => Ok(mf_format::Account::default()),
        }
    }

    /// A storage word (zero when never written).
    pub fn storage(&self, addr: mf_format::Address, slot: U256) -> Result<U256, CoordError> {
        match self.version(&Key::storage(addr, slot))? {
            Some((_, Value::Storage(w))) => Ok(w),
            _ => Ok(U256::ZERO),
        }
    }
}

impl StateView for Reader<'_> {
    type Error = CoordError;

    fn version(&self, key: &Key) -> Result<Option<(TxId, Value)>, CoordError> {
        match self.store.state.get(&self.txn, &key_bytes(key))? {
            None => Ok(None),
            Some(b) => parse_version(key, b).map(Some),
        }
    }

    fn code(&self, hash: &mf_format::B256) -> Result<Option<alloy_primitives::Bytes>, CoordError> {
        Ok(self
            .store
            .code
            .get(&self.txn, hash.as_slice())?
            .map(alloy_primitives::Bytes::copy_from_slice))
    }
}
