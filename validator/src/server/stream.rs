//! Large answers read from the store a chunk at a time: a stored batch (`GET /batch/{h}`, and
//! the batch part of each `/feed` record) and the genesis (`GET /genesis`). A connection
//! holds one chunk of at most [`CHUNK`] bytes (and what hyper has buffered for the socket),
//! never a whole batch: each chunk is read on the blocking pool with its own LMDB reader,
//! which is consistent because committed heights (and the genesis) never change.

use crate::StoreError;
use crate::store::{Store, split_record};
use axum::body::Bytes;
use mf_format::{Address, Mark, Value, VersionId};
use std::sync::Arc;

/// The most bytes one chunk of a streamed answer holds (one transaction may exceed it).
pub(super) const CHUNK: usize = 256 << 10;

/// Runs `f` on the blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(StoreError::Corrupt(format!(
            "a store read did not finish: {e}"
        ))),
    }
}

/// What remains of the receipts part of a feed record.
enum Receipts {
    /// A bare batch (`GET /batch/{h}`): no receipts part.
    None,
    /// The part's length prefix is still to be written.
    Prefix,
    /// `offset` bytes of the stored receipts written.
    From(usize),
}

/// A stored batch, or a whole feed record, being written out a chunk at a time.
pub(super) struct Parts {
    height: u64,
    /// Bytes to send before the next transaction (length prefixes, the header).
    head: Vec<u8>,
    /// `Some(i)`: the transactions from index `i` on are still to be sent.
    next_tx: Option<u32>,
    receipts: Receipts,
}

impl Parts {
    /// The encoding of the stored batch at `height` (what `POST /batch` of its accepted
    /// transactions would carry) and its length; `None` above the head.
    pub(super) fn batch(store: &Store, height: u64) -> Result<Option<(Parts, u64)>, StoreError> {
        let Some((n, len)) = store.batch_shape(height)? else {
            return Ok(None);
        };
        let parts = Parts {
            height,
            head: u64::from(n).to_le_bytes().to_vec(),
            next_tx: Some(0),
            receipts: Receipts::None,
        };
        Ok(Some((parts, len)))
    }

    /// The feed record of `height` (`mf_api::feed` framing); `None` when it is not stored.
    pub(super) fn record(store: &Store, height: u64) -> Result<Option<Parts>, StoreError> {
        let (Some(header), Some((n, len))) = (store.header(height)?, store.batch_shape(height)?)
        else {
            return Ok(None);
        };
        let header = mf_format::encode(&header);
        let part_len = |what: &str, len: u64| {
            u32::try_from(len).map_err(|_| {
                StoreError::Corrupt(format!("the {what} at {height} is too large for a record"))
            })
        };
        let mut head = Vec::with_capacity(header.len() + 16);
        head.extend_from_slice(&part_len("header", header.len() as u64)?.to_le_bytes());
        head.extend_from_slice(&header);
        head.extend_from_slice(&part_len("batch", len)?.to_le_bytes());
        head.extend_from_slice(&u64::from(n).to_le_bytes());
        Ok(Some(Parts {
            height,
            head,
            next_tx: Some(0),
            receipts: Receipts::Prefix,
        }))
    }

    /// The next chunk (about [`CHUNK`] bytes), `None` at the end.
    pub(super) fn next_chunk(&mut self, store: &Store) -> Result<Option<Vec<u8>>, StoreError> {
        let h = self.height;
        let mut out = std::mem::take(&mut self.head);
        if let Some(i) = self.next_tx
            && out.len() < CHUNK
        {
            self.next_tx = store.batch_txs_into(h, i, CHUNK, &mut out)?;
        }
        while self.next_tx.is_none() && out.len() < CHUNK {
            let offset = match self.receipts {
                Receipts::None => break,
                Receipts::Prefix => 0,
                Receipts::From(o) => o,
            };
            let (bytes, total) = store
                .receipts_slice(h, offset, CHUNK - out.len())?
                .ok_or_else(|| StoreError::Corrupt(format!("no receipts at {h}")))?;
            if matches!(self.receipts, Receipts::Prefix) {
                let len = u32::try_from(total).map_err(|_| {
                    StoreError::Corrupt(format!("the receipts at {h} are too large for a record"))
                })?;
                out.extend_from_slice(&len.to_le_bytes());
            }
            let end = offset + bytes.len();
            out.extend_from_slice(&bytes);
            self.receipts = if end >= total {
                Receipts::None
            } else {
                Receipts::From(end)
            };
        }
        Ok((!out.is_empty()).then_some(out))
    }
}

/// A stream of the chunks of `parts`: an error (which aborts the body) if the store fails.
pub(super) fn parts_stream(
    store: Arc<Store>,
    parts: Parts,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    futures_util::stream::unfold(Some(parts), move |state| {
        let store = Arc::clone(&store);
        async move {
            let mut parts = state?;
            let h = parts.height;
            let r = blocking(move || {
                let chunk = parts.next_chunk(&store)?;
                Ok((chunk, parts))
            })
            .await;
            match r {
                Ok((Some(chunk), parts)) => Some((Ok(Bytes::from(chunk)), Some(parts))),
                Ok((None, _)) => None,
                Err(e) => {
                    tracing::error!(height = h, "stopped streaming a stored batch: {e}");
                    Some((Err(std::io::Error::other(e.to_string())), None))
                }
            }
        }
    })
}

/// The genesis in the alloc JSON of `init --genesis` (`Genesis::to_json`'s shape: per
/// address, in address order, `balance`, `code`, `nonce` and `storage`), written a chunk at
/// a time from the stored genesis records. The records are stored in key order (`init`
/// writes them so: every account, then every storage word, each by address): two cursors,
/// one over the accounts and one over the storage words, are merged by address.
pub(super) struct GenesisJson {
    chain_id: u64,
    rules: mf_format::ChainRules,
    /// The next account record, `None` once the accounts are done.
    accounts: Option<u64>,
    /// The next storage record, `None` once they are done.
    storage: Option<u64>,
    /// The sequence number of the first storage record (where the accounts end).
    storage_start: u64,
    /// Whether the opening `{"alloc":{` has been written.
    started: bool,
    /// Whether an address entry has been written (the next one needs a comma).
    any: bool,
    /// Inside the `storage` object of this address: `(address, a word was written)`.
    open_storage: Option<(Address, bool)>,
    /// The code of the last account that had code, rendered: accounts often share code.
    code_cache: Option<(mf_format::B256, Arc<String>)>,
    done: bool,
}

/// One genesis record, decoded.
fn record(seq: u64, rec: &[u8]) -> Result<(mf_format::Key, Value), StoreError> {
    let bad = || StoreError::Corrupt(format!("genesis record {seq}"));
    let r = split_record(rec).ok_or_else(bad)?;
    let id = VersionId::from_bytes(r.vkey).ok_or_else(bad)?;
    let value = Value::decode_canonical(r.value).map_err(|_| bad())?;
    Ok((id.key, value))
}

fn read(store: &Store, seq: u64) -> Result<(mf_format::Key, Value), StoreError> {
    let rec = store
        .genesis_at(seq)?
        .ok_or_else(|| StoreError::Corrupt(format!("no genesis record {seq}")))?;
    record(seq, &rec)
}

impl GenesisJson {
    /// Checks that the stored records are in key order (the streamed rendering needs it)
    /// and finds where the storage words start. `None` when they are not in order (a store
    /// bulk-loaded by other means): the caller renders the genesis in memory instead.
    pub(super) fn start(store: &Store) -> Result<Option<GenesisJson>, StoreError> {
        let chain_id = store.chain_id()?;
        let rules = store.rules()?;
        let mut last: Option<mf_format::Key> = None;
        let mut storage_start = None;
        let mut sorted = true;
        let mut count = 0u64;
        store.genesis_from(0, |seq, rec| {
            let (key, value) = record(seq, rec)?;
            let typed = matches!(
                (key.mark, value),
                (Mark::Account, Value::Account(_)) | (Mark::Storage, Value::Storage(_))
            );
            if !typed || seq != count || last.is_some_and(|l| l >= key) {
                sorted = false;
                return Ok(false);
            }
            if key.mark == Mark::Storage && storage_start.is_none() {
                storage_start = Some(seq);
            }
            last = Some(key);
            count += 1;
            Ok(true)
        })?;
        if !sorted {
            return Ok(None);
        }
        let storage_start = storage_start.unwrap_or(count);
        Ok(Some(GenesisJson {
            chain_id,
            rules,
            accounts: (storage_start > 0).then_some(0),
            storage: (storage_start < count).then_some(storage_start),
            storage_start,
            started: false,
            any: false,
            open_storage: None,
            code_cache: None,
            done: false,
        }))
    }

    /// The next chunk of the JSON text, `None` at the end.
    pub(super) fn next_chunk(&mut self, store: &Store) -> Result<Option<Vec<u8>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let mut out = String::new();
        if !self.started {
            out.push_str("{\"alloc\":{");
            self.started = true;
        }
        while out.len() < CHUNK {
            if let Some((addr, written)) = self.open_storage {
                let ended = self.storage_words(store, addr, written, &mut out)?;
                if !ended {
                    break;
                }
                out.push_str("}}");
                self.open_storage = None;
                continue;
            }
            // The next address: the smaller of the two cursors'.
            let acct = self.accounts.map(|seq| read(store, seq)).transpose()?;
            let stor = self.storage.map(|seq| read(store, seq)).transpose()?;
            let addr = match (&acct, &stor) {
                (None, None) => {
                    // The chain's rules as geth writes them: the fork keys in `config`, the
                    // gas limit, base fee, coinbase, mixHash and difficulty beside it
                    // (mf_movegen::genesis).
                    let forks: String = mf_movegen::genesis::rules_json(&self.rules)
                        .iter()
                        .map(|(k, v)| format!(",\"{k}\":{v}"))
                        .collect();
                    let top: String = mf_movegen::genesis::rules_top_level(&self.rules)
                        .iter()
                        .map(|(k, v)| format!(",\"{k}\":{v}"))
                        .collect();
                    out.push_str(&format!(
                        "}},\"config\":{{\"chainId\":{}{forks}}}{top}}}",
                        self.chain_id
                    ));
                    self.done = true;
                    break;
                }
                (Some((a, _)), Some((s, _))) => a.addr.min(s.addr),
                (Some((k, _)), None) | (None, Some((k, _))) => k.addr,
            };
            if self.any {
                out.push(',');
            }
            self.any = true;
            out.push_str(&format!("\"{addr:#x}\":{{"));
            let mut fields = false;
            if let Some((k, Value::Account(a))) = acct
                && k.addr == addr
            {
                out.push_str(&format!("\"balance\":\"{:#x}\"", a.balance));
                if a.has_code() {
                    let code = self.code(store, a.code_hash)?;
                    out.push_str(",\"code\":\"");
                    out.push_str(&code);
                    out.push('"');
                }
                out.push_str(&format!(",\"nonce\":\"{:#x}\"", a.nonce));
                fields = true;
                self.accounts = self
                    .accounts
                    .map(|s| s + 1)
                    .filter(|s| *s < self.storage_start);
            }
            match stor {
                Some((k, _)) if k.addr == addr => {
                    out.push_str(if fields {
                        ",\"storage\":{"
                    } else {
                        "\"storage\":{"
                    });
                    self.open_storage = Some((addr, false));
                }
                _ => out.push('}'),
            }
        }
        Ok(Some(out.into_bytes()))
    }

    /// Writes storage words of `addr` from the storage cursor on, until the chunk is full
    /// (false) or the address's words end (true); advances the cursor past what it wrote.
    fn storage_words(
        &mut self,
        store: &Store,
        addr: Address,
        mut written: bool,
        out: &mut String,
    ) -> Result<bool, StoreError> {
        let Some(from) = self.storage else {
            return Ok(true);
        };
        let mut ended = false;
        self.storage = store.genesis_from(from, |seq, rec| {
            if out.len() >= CHUNK {
                return Ok(false);
            }
            let (k, v) = record(seq, rec)?;
            if k.addr != addr {
                ended = true;
                return Ok(false);
            }
            let Value::Storage(w) = v else {
                return Err(StoreError::Corrupt(format!("genesis record {seq}")));
            };
            if written {
                out.push(',');
            }
            written = true;
            out.push_str(&format!("\"{:#x}\":\"{w:#x}\"", k.slot));
            Ok(true)
        })?;
        self.open_storage = Some((addr, written));
        Ok(ended || self.storage.is_none())
    }

    fn code(&mut self, store: &Store, hash: mf_format::B256) -> Result<Arc<String>, StoreError> {
        if let Some((h, c)) = &self.code_cache
            && *h == hash
        {
            return Ok(Arc::clone(c));
        }
        let code = store
            .code(&hash.0)?
            .ok_or_else(|| StoreError::Corrupt(format!("no code for genesis code hash {hash}")))?;
        let text = Arc::new(alloy_primitives::hex::encode_prefixed(&code));
        self.code_cache = Some((hash, Arc::clone(&text)));
        Ok(text)
    }
}

/// A stream of the chunks of the genesis JSON.
pub(super) fn genesis_stream(
    store: Arc<Store>,
    g: GenesisJson,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    futures_util::stream::unfold(Some(g), move |state| {
        let store = Arc::clone(&store);
        async move {
            let mut g = state?;
            let r = blocking(move || {
                let chunk = g.next_chunk(&store)?;
                Ok((chunk, g))
            })
            .await;
            match r {
                Ok((Some(chunk), g)) => Some((Ok(Bytes::from(chunk)), Some(g))),
                Ok((None, _)) => None,
                Err(e) => {
                    tracing::error!("stopped streaming the genesis: {e}");
                    Some((Err(std::io::Error::other(e.to_string())), None))
                }
            }
        }
    })
}
