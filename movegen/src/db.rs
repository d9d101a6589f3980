//! The revm [`Database`] over a [`StateView`] that records every read.

use crate::view::StateView;
use alloy_primitives::Bytes;
use mf_format::{Account, Address, B256, EMPTY_CODE_HASH, Key, TxId, U256, Value};
use revm::Database;
use revm::database_interface::DBErrorMarker;
use revm::state::{AccountInfo, Bytecode};
use std::collections::{BTreeMap, HashMap};
use std::sync::{OnceLock, RwLock};

/// Why the database could not answer revm.
#[derive(Debug, thiserror::Error)]
pub enum DbError<E: std::error::Error + Send + Sync + 'static> {
    /// The view failed (for the re-execution check: the key is not declared).
    #[error("state view: {0}")]
    View(#[source] E),
    /// No code is known for this code hash.
    #[error("no code for code hash {0}")]
    MissingCode(B256),
    /// The view holds a value of the wrong type for the key's mark.
    #[error("key {0:?} holds a value of the wrong type")]
    TypeMismatch(Key),
    /// `BLOCKHASH` asked for a block whose hash the view does not know.
    #[error("the hash of block {0} is not known to this state view")]
    UnknownBlockHash(u64),
}

impl<E: std::error::Error + Send + Sync + 'static> DBErrorMarker for DbError<E> {}

/// A revm database that answers from a [`StateView`] and records, per key, the version it
/// served. Block hashes are always zero (see the crate documentation).
#[derive(Debug)]
pub struct RecordingDb<V> {
    /// Where answers come from.
    pub view: V,
    /// Every key read, with the version served (kept only when `record` is set).
    pub reads: BTreeMap<Key, (TxId, Value)>,
    /// Whether to keep `reads` (the re-execution check does not need them).
    pub record: bool,
}

impl<V: StateView> RecordingDb<V> {
    /// A database over `view` with no reads yet.
    pub fn new(view: V) -> RecordingDb<V> {
        RecordingDb {
            view,
            reads: BTreeMap::new(),
            record: true,
        }
    }

    fn read(&mut self, key: Key) -> Result<Value, DbError<V::Error>> {
        let (intx, value) = self
            .view
            .version(&key)
            .map_err(DbError::View)?
            .unwrap_or_else(|| key.never_written());
        if value.mark() != key.mark {
            return Err(DbError::TypeMismatch(key));
        }
        if self.record {
            self.reads.entry(key).or_insert((intx, value));
        }
        Ok(value)
    }
}

/// The revm view of an account record: `None` for the never-written account
/// ([`Account::EMPTY`], which does not exist), an empty but existing account for
/// [`Account::EXISTING_EMPTY`] (the two differ only before EIP-161).
pub fn account_info(a: &Account) -> Option<AccountInfo> {
    if *a == Account::EMPTY {
        return None;
    }
    let mut info = AccountInfo::default()
        .with_balance(a.balance)
        .with_nonce(a.nonce);
    if !a.has_code() {
        info = info.with_code_and_hash(Bytecode::new(), EMPTY_CODE_HASH);
    } else {
        info = info.with_code_hash(a.code_hash);
    }
    Some(info)
}

/// Analysed code from raw bytes. Cancun has no EOF and no EIP-7702 delegations, so all
/// code is legacy.
pub fn bytecode(code: Bytes) -> Bytecode {
    Bytecode::new_legacy(code)
}

/// Most distinct codes kept analysed; the cache starts over when it is full.
const ANALYSED_MAX: usize = 4096;

/// Analysed code by code hash, shared by every execution in the process.
///
/// revm analyses legacy code (its jump table) whenever it gets raw bytes, and for contract
/// calls that analysis costs more than the call itself (an AMM swap touches three
/// contracts). The cache only saves the analysis: the view is still asked for the code
/// every time (so whether code is *available* never depends on what this process ran
/// before, which would make verdicts differ between validators), and a cached entry is used
/// only when its bytes equal the bytes the view returned.
fn analysed(hash: B256, code: Bytes) -> Bytecode {
    static CACHE: OnceLock<RwLock<HashMap<B256, Bytecode>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Ok(map) = cache.read()
        && let Some(b) = map.get(&hash)
        && b.original_byte_slice() == code.as_ref()
    {
        return b.clone();
    }
    let b = bytecode(code);
    if let Ok(mut map) = cache.write() {
        if map.len() >= ANALYSED_MAX {
            map.clear();
        }
        map.insert(hash, b.clone());
    }
    b
}

impl<V: StateView> Database for RecordingDb<V> {
    type Error = DbError<V::Error>;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        match self.read(Key::account(address))? {
            Value::Account(a) => Ok(account_info(&a)),
            Value::Storage(_) => Err(DbError::TypeMismatch(Key::account(address))),
        }
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == EMPTY_CODE_HASH {
            return Ok(Bytecode::new());
        }
        match self.view.code(&code_hash).map_err(DbError::View)? {
            Some(c) => Ok(analysed(code_hash, c)),
            None => Err(DbError::MissingCode(code_hash)),
        }
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        let key = Key::storage(address, index);
        match self.read(key)? {
            Value::Storage(w) => Ok(w),
            Value::Account(_) => Err(DbError::TypeMismatch(key)),
        }
    }

    /// `BLOCKHASH(number)`: revm asks only for the 256 blocks before the executing block
    /// number (the transaction's declared context) and answers 0 itself outside them; the
    /// hash is the chain's header hash from the view, and a view that does not know it fails
    /// the execution ([`DbError::UnknownBlockHash`]).
    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        self.view
            .block_hash(number)
            .map_err(DbError::View)?
            .ok_or(DbError::UnknownBlockHash(number))
    }
}
