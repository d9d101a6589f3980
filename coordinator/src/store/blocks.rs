//! The block store: every applied height as Ethereum's JSON-RPC reads it (tables `blocks`,
//! `block_txs`, `block_at`, `tx_at`), written in the write transaction that applies the
//! height to the index, so a block is served exactly when the state after it is.
//!
//! A block's transaction hash is its Ethereum hash (keccak-256 of the signed Ethereum
//! transaction) when an Ethereum authorisation carries it, else its protocol id
//! ([`mf_format::tx_id`]): [`tx_hash`].

use super::{Db, u64_of};
use crate::CoordError;
use heed::{RoTxn, RwTxn, WithoutTls};
use mf_format::{Address, B256, Fee, Header, Log, Receipt, Status, Transaction, TxId};
use serde::{Deserialize, Serialize};

/// Largest stored block summary decoded (a batch at the limits of transactions and logs is
/// far below).
const MAX_STORED_BLOCK: usize = 1 << 30;

/// The hash a transaction has on Ethereum's JSON-RPC: its Ethereum hash when it carries an
/// Ethereum authorisation, else its protocol id.
pub fn tx_hash(tx: &Transaction, id: &TxId) -> B256 {
    match &tx.eth {
        Some(e) => alloy_primitives::keccak256(&e.envelope),
        None => *id,
    }
}

/// One included transaction of a stored block: what its receipt and its logs need, without
/// the transaction itself (which `block_txs` holds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTx {
    /// Its hash ([`tx_hash`]).
    pub hash: B256,
    /// Its protocol id.
    pub id: TxId,
    /// The sender.
    pub from: Address,
    /// The callee (`None`: a creation).
    pub to: Option<Address>,
    /// The sender's nonce it declares (0 when it declares none: a fee credit).
    pub nonce: u64,
    /// The fee fields (the type and the prices).
    pub fee: Fee,
    /// Its blobs (a blob call's versioned hashes; 0 for other kinds).
    pub blobs: u32,
    /// Whether it carries an Ethereum authorisation.
    pub eth: bool,
    /// Its receipt (accepted or failed).
    pub receipt: Receipt,
}

/// A stored block: the header, its derived totals and its transactions' receipts in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredBlock {
    /// The validator's header.
    pub header: Header,
    /// Its hash ([`mf_format::header_hash`]).
    pub hash: B256,
    /// Bytes: the header's canonical encoding and its transactions'.
    pub size: u64,
    /// Gas used by its transactions in all.
    pub gas_used: u64,
    /// The OR of its logs' blooms (stored ahead of the rest, so that a log query reads it
    /// without decoding the block: [`BlockReader::bloom`](super::BlockReader::bloom)).
    #[serde(skip)]
    pub bloom: alloy_primitives::Bloom,
    /// Its transactions, in order.
    pub txs: Vec<StoredTx>,
}

/// The bloom of some logs.
pub fn logs_bloom<'a>(logs: impl IntoIterator<Item = &'a Log>) -> alloy_primitives::Bloom {
    let mut b = alloy_primitives::Bloom::ZERO;
    for l in logs {
        b.accrue_raw_log(l.address, &l.topics);
    }
    b
}

/// The tables of the block store (opened by [`CoordDb`](super::CoordDb), which runs the
/// transactions).
pub struct BlockStore {
    blocks: Db,
    block_txs: Db,
    block_at: Db,
    tx_at: Db,
}

/// A `blocks` value: the bloom (256 bytes), then the [`StoredBlock`]'s encoding.
fn split_bloom(b: &[u8], height: u64) -> Result<(alloy_primitives::Bloom, &[u8]), CoordError> {
    if b.len() < 256 {
        return Err(CoordError::Corrupt(format!("block {height} is too short")));
    }
    let (bloom, rest) = b.split_at(256);
    Ok((alloy_primitives::Bloom::from_slice(bloom), rest))
}

fn tx_key(height: u64, index: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&height.to_be_bytes());
    k[8..].copy_from_slice(&index.to_be_bytes());
    k
}

impl BlockStore {
    pub(super) fn new(blocks: Db, block_txs: Db, block_at: Db, tx_at: Db) -> BlockStore {
        BlockStore {
            blocks,
            block_txs,
            block_at,
            tx_at,
        }
    }

    /// Stores the block of `header` with the transactions `txs` (ids `ids`), each matched
    /// with its receipt among `receipts` by id.
    pub(super) fn put(
        &self,
        w: &mut RwTxn<'_>,
        header: &Header,
        txs: &[Transaction],
        ids: &[TxId],
        receipts: &[Receipt],
    ) -> Result<(), CoordError> {
        let hash = mf_format::header_hash(header);
        let height = header.height;
        let mut by_id: std::collections::HashMap<&TxId, &Receipt> =
            std::collections::HashMap::with_capacity(receipts.len());
        for r in receipts.iter().filter(|r| r.status.is_included()) {
            by_id.insert(&r.tx_id, r);
        }
        let mut size = mf_format::encode(header).len() as u64;
        let mut gas_used = 0u64;
        let mut bloom = alloy_primitives::Bloom::ZERO;
        let mut stored = Vec::with_capacity(txs.len());
        for (i, (tx, id)) in txs.iter().zip(ids).enumerate() {
            let index = u32::try_from(i)
                .map_err(|_| CoordError::Corrupt(format!("height {height}: too many txs")))?;
            let bytes = mf_format::encode(tx);
            size += bytes.len() as u64;
            self.block_txs.put(w, &tx_key(height, index), &bytes)?;
            let receipt = match by_id.get(id) {
                Some(r) => (*r).clone(),
                None => {
                    // Every included transaction has a receipt on the feed; a record
                    // without one is served as a success without gas or logs.
                    tracing::warn!(%id, height, "an included transaction has no receipt");
                    Receipt {
                        tx_id: *id,
                        status: Status::Accepted,
                        gas_used: 0,
                        logs: Vec::new(),
                    }
                }
            };
            gas_used = gas_used.saturating_add(receipt.gas_used);
            bloom.accrue_bloom(&logs_bloom(&receipt.logs));
            let h = tx_hash(tx, id);
            let mut at = [0u8; 12];
            at.copy_from_slice(&tx_key(height, index));
            self.tx_at.put(w, h.as_slice(), &at)?;
            stored.push(StoredTx {
                hash: h,
                id: *id,
                from: tx.body.call.from,
                to: tx.body.call.to,
                nonce: mf_format::eth::declared_nonce(&tx.body).unwrap_or(0),
                fee: tx.body.call.fee,
                blobs: tx.body.call.blob.as_ref().map_or(0, |b| {
                    u32::try_from(b.versioned_hashes.len()).unwrap_or(u32::MAX)
                }),
                eth: tx.eth.is_some(),
                receipt,
            });
        }
        let block = StoredBlock {
            header: *header,
            hash,
            size,
            gas_used,
            bloom,
            txs: stored,
        };
        let mut value = bloom.as_slice().to_vec();
        mf_format::encode_into(&block, &mut value);
        self.blocks.put(w, &height.to_be_bytes(), &value)?;
        self.block_at
            .put(w, hash.as_slice(), &height.to_be_bytes())?;
        Ok(())
    }

    /// The block at `height`.
    pub(super) fn block(
        &self,
        r: &RoTxn<'_, WithoutTls>,
        height: u64,
    ) -> Result<Option<StoredBlock>, CoordError> {
        let Some(b) = self.blocks.get(r, &height.to_be_bytes())? else {
            return Ok(None);
        };
        let (bloom, rest) = split_bloom(b, height)?;
        let mut block: StoredBlock = mf_format::decode(rest, MAX_STORED_BLOCK, "stored block")
            .map_err(|e| CoordError::Corrupt(format!("block {height}: {e}")))?;
        block.bloom = bloom;
        Ok(Some(block))
    }

    /// The logs bloom of the block at `height`, without decoding the block.
    pub(super) fn bloom(
        &self,
        r: &RoTxn<'_, WithoutTls>,
        height: u64,
    ) -> Result<Option<alloy_primitives::Bloom>, CoordError> {
        match self.blocks.get(r, &height.to_be_bytes())? {
            None => Ok(None),
            Some(b) => split_bloom(b, height).map(|(bloom, _)| Some(bloom)),
        }
    }

    /// The height of the block whose header hash is `hash`.
    pub(super) fn height_of(
        &self,
        r: &RoTxn<'_, WithoutTls>,
        hash: &B256,
    ) -> Result<Option<u64>, CoordError> {
        match self.block_at.get(r, hash.as_slice())? {
            None => Ok(None),
            Some(b) => u64_of(b, "block_at entry").map(Some),
        }
    }

    /// Where the transaction of hash `hash` is: `(height, index)`.
    pub(super) fn tx_at(
        &self,
        r: &RoTxn<'_, WithoutTls>,
        hash: &B256,
    ) -> Result<Option<(u64, u32)>, CoordError> {
        match self.tx_at.get(r, hash.as_slice())? {
            None => Ok(None),
            Some(b) if b.len() == 12 => {
                let height = u64_of(&b[..8], "tx_at height")?;
                let mut i = [0u8; 4];
                i.copy_from_slice(&b[8..]);
                Ok(Some((height, u32::from_be_bytes(i))))
            }
            Some(_) => Err(CoordError::Corrupt("tx_at entry is not 12 bytes".into())),
        }
    }

    /// The transaction at `index` of the block at `height`.
    pub(super) fn tx(
        &self,
        r: &RoTxn<'_, WithoutTls>,
        height: u64,
        index: u32,
    ) -> Result<Option<Transaction>, CoordError> {
        match self.block_txs.get(r, &tx_key(height, index))? {
            None => Ok(None),
            Some(b) => mf_format::decode_tx(b)
                .map(Some)
                .map_err(|e| CoordError::Corrupt(format!("tx {height}/{index}: {e}"))),
        }
    }

    /// The transactions of the block at `height`, in order.
    pub(super) fn txs(
        &self,
        r: &RoTxn<'_, WithoutTls>,
        height: u64,
    ) -> Result<Vec<Transaction>, CoordError> {
        let mut out = Vec::new();
        for item in self.block_txs.prefix_iter(r, &height.to_be_bytes())? {
            let (_, b) = item?;
            out.push(
                mf_format::decode_tx(b)
                    .map_err(|e| CoordError::Corrupt(format!("a tx of height {height}: {e}")))?,
            );
        }
        Ok(out)
    }
}
