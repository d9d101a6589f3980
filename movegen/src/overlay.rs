//! One overlay over a [`StateView`]: the versions and code written on top of it, and the
//! one rule for applying a transaction body (revm's `CacheDB<ExtDB>`, Bitcoin Core's
//! `CCoinsViewCache`).
//!
//! The rule ([`check_move`]): every move of a body, consume or reference, names the live
//! version of its key, `(intx, prev)` equal to what the view holds, where a key the view
//! does not hold has its never-written version ([`Key::never_written`]). Applying a body
//! whose moves all pass makes each consume's `next` the live version of its key under the
//! body's transaction id, and stores the code the body created. A version written back to
//! the zero value is kept: its `intx` is what later moves name.
//!
//! Who applies bodies this way: [`MemoryView`](crate::MemoryView) (an overlay over
//! [`EmptyView`]), a coordinator's speculative state of the batch it is filling (an overlay
//! over its index), and a coordinator's index applying the feed (which checks each move
//! with [`check_move`] inside its own write transaction).

use crate::error::{MovegenError, StaleMove};
use crate::view::StateView;
use alloy_primitives::{Bytes, keccak256};
use mf_format::{B256, EMPTY_CODE_HASH, Key, Move, MoveKind, TxBody, TxId, Value, tx_id};
use std::collections::BTreeMap;
use std::convert::Infallible;

/// Checks one move against the live version of its key as a view answers it (`None`: never
/// written, so the live version is [`Key::never_written`]).
pub fn check_move(m: &Move, live: Option<(TxId, Value)>) -> Result<(), Box<StaleMove>> {
    let key = m.key();
    let live = live.unwrap_or_else(|| key.never_written());
    if live == (m.intx, m.prev) {
        Ok(())
    } else {
        Err(Box::new(StaleMove {
            key,
            declared: (m.intx, m.prev),
            live,
        }))
    }
}

/// Why [`Overlay::apply`] refused a body. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum OverlayError<E> {
    /// A move names a version that is not the live one.
    #[error(transparent)]
    Stale(Box<StaleMove>),
    /// The view underneath failed.
    #[error("state view: {0}")]
    View(#[source] E),
}

impl From<OverlayError<Infallible>> for MovegenError {
    fn from(e: OverlayError<Infallible>) -> MovegenError {
        match e {
            OverlayError::Stale(s) => MovegenError::StaleMove(s),
            OverlayError::View(never) => match never {},
        }
    }
}

/// A view with nothing written: every key answers its never-written version, no code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EmptyView;

impl StateView for EmptyView {
    type Error = Infallible;
    fn version(&self, _key: &Key) -> Result<Option<(TxId, Value)>, Infallible> {
        Ok(None)
    }
    fn code(&self, _hash: &B256) -> Result<Option<Bytes>, Infallible> {
        Ok(None)
    }
}

/// Versions and code written on top of a `base` view. Reads answer the overlay first, then
/// the base; [`Overlay::apply`] checks a body against that combined view and writes on top.
/// Ordered maps, so iteration (and equality) is deterministic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overlay<V> {
    base: V,
    pub(crate) versions: BTreeMap<Key, (TxId, Value)>,
    pub(crate) codes: BTreeMap<B256, Bytes>,
}

impl<V> Overlay<V> {
    /// Nothing written yet over `base`.
    pub fn new(base: V) -> Overlay<V> {
        Overlay {
            base,
            versions: BTreeMap::new(),
            codes: BTreeMap::new(),
        }
    }

    /// The view underneath.
    pub fn base(&self) -> &V {
        &self.base
    }

    /// The versions written on top of the base, in key order.
    pub fn versions(&self) -> impl Iterator<Item = (&Key, &(TxId, Value))> {
        self.versions.iter()
    }

    /// The code written on top of the base, by keccak-256 hash.
    pub fn codes(&self) -> impl Iterator<Item = (&B256, &Bytes)> {
        self.codes.iter()
    }

    /// Stores runtime code and returns its keccak-256 hash (empty code is not stored: its
    /// hash is [`EMPTY_CODE_HASH`], which every view answers).
    pub fn insert_code(&mut self, code: Vec<u8>) -> B256 {
        if code.is_empty() {
            return EMPTY_CODE_HASH;
        }
        let h = keccak256(&code);
        self.codes.insert(h, Bytes::from(code));
        h
    }
}

impl<V: StateView> Overlay<V> {
    /// Checks every move of `body` against this view ([`check_move`]); writes nothing.
    pub fn check(&self, body: &TxBody) -> Result<(), OverlayError<V::Error>> {
        for m in &body.moves {
            let live = self.version(&m.key()).map_err(OverlayError::View)?;
            check_move(m, live).map_err(OverlayError::Stale)?;
        }
        Ok(())
    }

    /// Applies a body (see the module documentation): checks every move, then writes each
    /// consume's `next` under the body's transaction id and the created code. Returns that
    /// id. Nothing changes when a check fails.
    pub fn apply(&mut self, body: &TxBody) -> Result<TxId, OverlayError<V::Error>> {
        self.check(body)?;
        let id = tx_id(body);
        for m in body.moves.iter().filter(|m| m.kind == MoveKind::Consume) {
            self.versions.insert(m.key(), (id, m.next));
        }
        for c in &body.created_code {
            self.insert_code(c.clone());
        }
        Ok(id)
    }
}

impl<V: StateView> StateView for Overlay<V> {
    type Error = V::Error;

    fn version(&self, key: &Key) -> Result<Option<(TxId, Value)>, V::Error> {
        match self.versions.get(key) {
            Some(v) => Ok(Some(*v)),
            None => self.base.version(key),
        }
    }

    fn code(&self, hash: &B256) -> Result<Option<Bytes>, V::Error> {
        if *hash == EMPTY_CODE_HASH {
            return Ok(Some(Bytes::new()));
        }
        match self.codes.get(hash) {
            Some(c) => Ok(Some(c.clone())),
            None => self.base.code(hash),
        }
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>, V::Error> {
        self.base.block_hash(number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mf_format::{Address, Call, ExecContext, GENESIS_INTX, Mark, Move, U256};

    fn body(moves: Vec<Move>) -> TxBody {
        TxBody {
            chain_id: 1,
            call: Call {
                from: Address::ZERO,
                to: None,
                value: U256::ZERO,
                input: Vec::new(),
                gas_limit: 21_000,
                fee: Default::default(),
                access_list: Vec::new(),
                blob: None,
            },
            context: ExecContext::default(),
            open: false,
            moves,
            created_code: Vec::new(),
        }
    }

    fn consume(slot: u64, intx: TxId, prev: u64, next: u64) -> Move {
        Move {
            kind: MoveKind::Consume,
            mark: Mark::Storage,
            addr: Address::repeat_byte(7),
            slot: U256::from(slot),
            intx,
            prev: Value::Storage(U256::from(prev)),
            next: Value::Storage(U256::from(next)),
            mask: Default::default(),
        }
    }

    #[test]
    fn a_never_written_key_has_the_genesis_zero_version() {
        let m = consume(1, GENESIS_INTX, 0, 5);
        assert_eq!(check_move(&m, None), Ok(()));
        let stale = consume(1, GENESIS_INTX, 1, 5);
        assert!(check_move(&stale, None).is_err());
    }

    #[test]
    fn apply_chains_versions_and_refuses_stale_moves_without_writing() {
        let mut o = Overlay::new(EmptyView);
        let first = body(vec![consume(1, GENESIS_INTX, 0, 5)]);
        let id = o.apply(&first).map_err(MovegenError::from).unwrap();
        let key = first.moves[0].key();
        assert_eq!(
            o.version(&key),
            Ok(Some((id, Value::Storage(U256::from(5u64)))))
        );
        // Spending the genesis version again is stale, and changes nothing.
        let before = o.clone();
        let again = body(vec![
            consume(2, GENESIS_INTX, 0, 1),
            consume(1, GENESIS_INTX, 0, 6),
        ]);
        match o.apply(&again) {
            Err(OverlayError::Stale(s)) => {
                assert_eq!(s.live, (id, Value::Storage(U256::from(5u64))))
            }
            other => panic!("expected a stale move, got {other:?}"),
        }
        assert_eq!(o, before);
        // The live version applies.
        let next = body(vec![consume(1, id, 5, 0)]);
        let id2 = o.apply(&next).map_err(MovegenError::from).unwrap();
        // A version written back to zero is kept.
        assert_eq!(o.version(&key), Ok(Some((id2, Value::Storage(U256::ZERO)))));
    }
}
