//! The intent journal: every intent taken, its status and transaction, which are still
//! open, and which filled transaction belongs to which intent (tables `intents`,
//! `intent_tx`, `open`, `filled`).

use super::{Db, txid_of, u64_of};
use crate::CoordError;
use heed::{RoTxn, RwTxn, WithoutTls};
use mf_format::TxId;
use mf_movegen::rpc::{IntentState, IntentStatus};

/// The tables of the intent journal (opened by [`CoordDb`](super::CoordDb), which runs the
/// transactions).
pub struct Journal {
    intents: Db,
    intent_tx: Db,
    open: Db,
    filled: Db,
}

impl Journal {
    pub(super) fn new(intents: Db, intent_tx: Db, open: Db, filled: Db) -> Journal {
        Journal {
            intents,
            intent_tx,
            open,
            filled,
        }
    }

    /// The status of an intent.
    pub(super) fn status(
        &self,
        r: &RoTxn<'_, WithoutTls>,
        id: &TxId,
    ) -> Result<Option<IntentStatus>, CoordError> {
        match self.intents.get(r, id.as_slice())? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(b)
                .map(Some)
                .map_err(|e| CoordError::Corrupt(format!("intent {id}: {e}"))),
        }
    }

    /// The transaction of an intent as submitted.
    pub(super) fn transaction(
        &self,
        r: &RoTxn<'_, WithoutTls>,
        id: &TxId,
    ) -> Result<Option<mf_format::Transaction>, CoordError> {
        match self.intent_tx.get(r, id.as_slice())? {
            None => Ok(None),
            Some(b) => mf_format::decode_tx(b)
                .map(Some)
                .map_err(|e| CoordError::Corrupt(format!("intent {id}: {e}"))),
        }
    }

    fn put_status(&self, w: &mut RwTxn<'_>, st: &IntentStatus) -> Result<(), CoordError> {
        let json = serde_json::to_vec(st)
            .map_err(|e| CoordError::Corrupt(format!("intent {}: {e}", st.intent)))?;
        self.intents.put(w, st.intent.as_slice(), &json)?;
        Ok(())
    }

    /// Journals new intents; ids already known are skipped. Returns which were new.
    pub(super) fn insert(
        &self,
        w: &mut RwTxn<'_>,
        new: &[(TxId, Vec<u8>, u64)],
    ) -> Result<Vec<bool>, CoordError> {
        let mut fresh = Vec::with_capacity(new.len());
        for (id, bytes, seq) in new {
            if self.intents.get(w, id.as_slice())?.is_some() {
                fresh.push(false);
                continue;
            }
            self.put_status(w, &IntentStatus::pending(*id))?;
            self.intent_tx.put(w, id.as_slice(), bytes)?;
            self.open.put(w, id.as_slice(), &seq.to_be_bytes())?;
            fresh.push(true);
        }
        Ok(fresh)
    }

    /// Records intents as filled with their new transaction ids.
    pub(super) fn mark_filled(
        &self,
        w: &mut RwTxn<'_>,
        filled: &[(TxId, TxId, u64)],
    ) -> Result<(), CoordError> {
        for (intent, txid, gas) in filled {
            let Some(mut st) = self.status(w, intent)? else {
                continue;
            };
            if st.status.is_final() {
                continue;
            }
            st.status = IntentState::Filled;
            st.tx_id = Some(*txid);
            st.attempts += 1;
            st.gas_used = Some(alloy_primitives::U64::from(*gas));
            self.put_status(w, &st)?;
            self.filled.put(w, txid.as_slice(), intent.as_slice())?;
        }
        Ok(())
    }

    /// Applies status updates; an accepted intent is never moved back, final ones leave
    /// `open`.
    pub(super) fn update(
        &self,
        w: &mut RwTxn<'_>,
        updates: &[IntentStatus],
    ) -> Result<(), CoordError> {
        for st in updates {
            if let Some(cur) = self.status(w, &st.intent)?
                && cur.status == IntentState::Accepted
            {
                continue;
            }
            self.put_status(w, st)?;
            if st.status.is_final() {
                self.open.delete(w, st.intent.as_slice())?;
            }
        }
        Ok(())
    }

    /// Marks accepted the intents whose filled transactions are among `ids` (the
    /// transactions of the batch applied at `height`); returns those intents. The chain is
    /// the truth: a fill in an applied batch is accepted whatever the journal said, but an
    /// intent already accepted is not counted twice.
    pub(super) fn accept(
        &self,
        w: &mut RwTxn<'_>,
        ids: &[TxId],
        height: u64,
    ) -> Result<Vec<TxId>, CoordError> {
        let mut accepted = Vec::new();
        for id in ids {
            let Some(intent) = self.filled.get(w, id.as_slice())? else {
                continue;
            };
            let intent = txid_of(intent, "a filled entry")?;
            let Some(mut st) = self
                .status(w, &intent)?
                .filter(|st| st.status != IntentState::Accepted)
            else {
                continue;
            };
            if st.status == IntentState::Rejected {
                tracing::warn!(
                    %intent,
                    "a fill of an intent reported rejected was accepted; now accepted"
                );
            }
            st.status = IntentState::Accepted;
            st.tx_id = Some(*id);
            st.height = Some(alloy_primitives::U64::from(height));
            st.reason = None;
            st.code = None;
            st.detail = None;
            self.put_status(w, &st)?;
            self.open.delete(w, intent.as_slice())?;
            accepted.push(intent);
        }
        Ok(accepted)
    }

    /// The intents that are not final, in arrival order, with their transactions.
    pub(super) fn open_intents(
        &self,
        r: &RoTxn<'_, WithoutTls>,
    ) -> Result<Vec<(u64, IntentStatus, Vec<u8>)>, CoordError> {
        let mut out = Vec::new();
        for item in self.open.iter(r)? {
            let (id, seq) = item?;
            let id = txid_of(id, "an open entry")?;
            let seq = u64_of(seq, "open seq")?;
            let st = self
                .status(r, &id)?
                .ok_or_else(|| CoordError::Corrupt(format!("open intent {id} unknown")))?;
            let tx = self
                .intent_tx
                .get(r, id.as_slice())?
                .ok_or_else(|| CoordError::Corrupt(format!("intent {id} has no transaction")))?
                .to_vec();
            out.push((seq, st, tx));
        }
        out.sort_by_key(|(seq, _, _)| *seq);
        Ok(out)
    }

    /// `(intents, open intents)`.
    pub(super) fn counts(&self, r: &RoTxn<'_, WithoutTls>) -> Result<(u64, u64), CoordError> {
        Ok((self.intents.len(r)?, self.open.len(r)?))
    }
}
