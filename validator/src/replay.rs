//! The read side of the stored chain: rebuilding the in-memory index by replaying it (the
//! chain is the log), recomputing the state hash from the stored live set, reading one
//! stored value, and reading the genesis back.

use crate::error::StoreError;
use crate::fingerprint::{
    USED, ValueFp, VersionFp, value_fp, value_fp_bytes, version_fp, version_fp_bytes,
};
use crate::genesis::Genesis;
use crate::index::{Entry, Index, loc, split_loc};
use crate::state_hash::par_sum;
use crate::store::{Store, split_record};
use mf_format::{LtHash, MoveKind, TxId, Value, VersionId};
use rayon::prelude::*;

/// The value stored at a location (a genesis record, or the `next` of a stored move).
/// Reads on any thread: the location of a committed version never changes.
pub fn value_at(store: &Store, l: u64) -> Result<Value, StoreError> {
    let (height, tx, mv) = split_loc(l);
    if height == 0 {
        let rec = store
            .genesis_at(l)?
            .ok_or_else(|| StoreError::Corrupt(format!("no genesis record {l}")))?;
        let r = split_record(&rec)
            .ok_or_else(|| StoreError::Corrupt(format!("short genesis record {l}")))?;
        return Value::decode_canonical(r.value).map_err(|e| StoreError::Corrupt(e.to_string()));
    }
    // The move is read in place: a stored transaction may be up to MAX_TX_BYTES, and a
    // lookup needs one value of it.
    store
        .move_next_at(height, tx, mv)?
        .ok_or_else(|| StoreError::Corrupt(format!("no transaction at {height}/{tx}")))
}

/// Stored transactions decoded in parallel: `(height, index, id, tx)`.
type Decoded = (u64, u32, TxId, mf_format::Transaction);

fn decode_chunk(chunk: &[(u64, u32, TxId, Vec<u8>)]) -> Result<Vec<Decoded>, StoreError> {
    chunk
        .par_iter()
        .map(|(h, i, id, b)| {
            mf_format::decode_tx(b)
                .map(|t| (*h, *i, *id, t))
                .map_err(|e| StoreError::Corrupt(format!("transaction {h}/{i}: {e}")))
        })
        .collect()
}

/// Rebuilds the index from the store: the genesis versions, then every stored transaction
/// replayed in chain order (spends remove, or leave a used marker for genesis keys;
/// creations insert).
pub fn rebuild_index(store: &Store) -> Result<Index, StoreError> {
    let mut index = Index::new();
    let (genesis, txs, _, _) = store.counts()?;
    index.reserve(genesis as usize + txs as usize);
    store.scan_genesis(1 << 16, |chunk| {
        let entries: Vec<_> = chunk
            .par_iter()
            .filter_map(|(seq, rec)| {
                let r = split_record(rec)?;
                Some((
                    version_fp_bytes(r.vkey),
                    Entry {
                        value: value_fp_bytes(r.value),
                        loc: *seq,
                    },
                ))
            })
            .collect();
        index.par_extend(entries);
    })?;
    store.scan_txs(1 << 14, |chunk| {
        // Fingerprints in parallel, then the replay in order.
        type Fps = Vec<(VersionFp, Option<(VersionFp, ValueFp)>, u64, bool)>;
        let fps: Vec<Fps> = decode_chunk(chunk)?
            .par_iter()
            .map(|(h, i, id, t)| {
                t.body
                    .moves
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| m.kind == MoveKind::Consume)
                    .map(|(mi, m)| {
                        let key = m.key();
                        (
                            version_fp(&m.intx, &key),
                            Some((version_fp(id, &key), value_fp(&m.next))),
                            loc(*h, *i, mi as u16),
                            m.intx.is_zero(),
                        )
                    })
                    .collect()
            })
            .collect();
        for tx in fps {
            for (spent, created, l, genesis) in tx {
                if genesis {
                    index.insert(
                        spent,
                        Entry {
                            value: USED,
                            loc: l,
                        },
                    );
                } else {
                    index.remove(spent);
                }
                if let Some((vfp, value)) = created {
                    index.insert(vfp, Entry { value, loc: l });
                }
            }
        }
        Ok(())
    })?;
    Ok(index)
}

/// Recomputes the state hash from the store: the elements of every live version (live per
/// `index`, values read from the store) plus the used markers.
pub fn recompute_lthash(store: &Store, index: &Index) -> Result<LtHash, StoreError> {
    let mut total = LtHash::IDENTITY;
    store.scan_genesis(1 << 14, |chunk| {
        let part = par_sum(chunk.par_iter().filter_map(|(seq, rec)| {
            let r = split_record(rec)?;
            let e = index.get(version_fp_bytes(r.vkey))?;
            if e.loc != *seq || e.value == USED {
                return None;
            }
            let id = VersionId::from_bytes(r.vkey)?;
            let v = Value::decode_canonical(r.value).ok()?;
            Some(LtHash::of_version_id(&id, &v))
        }));
        total.add(&part);
    })?;
    store.scan_txs(1 << 12, |chunk| {
        let part = par_sum(
            decode_chunk(chunk)?
                .par_iter()
                .flat_map_iter(|(h, i, id, t)| {
                    t.body
                        .moves
                        .iter()
                        .enumerate()
                        .filter(|(_, m)| m.kind == MoveKind::Consume)
                        .filter_map(move |(mi, m)| {
                            let l = loc(*h, *i, mi as u16);
                            let key = m.key();
                            let mut el = None;
                            if let Some(e) = index.get(version_fp(id, &key))
                                && e.loc == l
                            {
                                el = Some(LtHash::of_version(id, &key, &m.next));
                            }
                            if m.intx.is_zero()
                                && index.get(version_fp(&m.intx, &key))
                                    == Some(Entry {
                                        value: USED,
                                        loc: l,
                                    })
                            {
                                let mut marker = LtHash::of_used_marker(&key);
                                if let Some(e) = el {
                                    marker.add(&e);
                                }
                                el = Some(marker);
                            }
                            el
                        })
                }),
        );
        total.add(&part);
        Ok(())
    })?;
    Ok(total)
}

/// Reads the genesis back from the store: its versions (in key order), the code of its
/// contracts and the chain id. Followers fetch it (`GET /genesis`) and check it against
/// header 0's state hash.
pub fn genesis_of(store: &Store) -> Result<Genesis, StoreError> {
    let chain_id = store.chain_id()?;
    let rules = store.rules()?;
    let mut versions = Vec::new();
    let mut bad = None;
    store.scan_genesis(1 << 14, |chunk| {
        for (seq, rec) in chunk {
            let parsed = split_record(rec).and_then(|r| {
                let id = VersionId::from_bytes(r.vkey)?;
                let value = Value::decode_canonical(r.value).ok()?;
                Some((id.key, value))
            });
            match parsed {
                Some(v) => versions.push(v),
                None => bad = Some(*seq),
            }
        }
    })?;
    if let Some(seq) = bad {
        return Err(StoreError::Corrupt(format!("genesis record {seq}")));
    }
    versions.sort_by_key(|a| a.0);
    // Each distinct code once (a set, not a scan of the codes found so far: many accounts
    // may share a few codes, or each have its own).
    let mut code = std::collections::BTreeMap::new();
    for (_, v) in &versions {
        if let Value::Account(a) = v
            && a.has_code()
            && !code.contains_key(&a.code_hash)
        {
            let c = store.code(&a.code_hash.0)?.ok_or_else(|| {
                StoreError::Corrupt(format!("no code for genesis code hash {}", a.code_hash))
            })?;
            code.insert(a.code_hash, c);
        }
    }
    Ok(Genesis {
        chain_id,
        rules,
        versions,
        code: code.into_iter().collect(),
    })
}
