//! Where execution reads state from: the [`StateView`] trait and an in-memory [`MemoryView`].

use crate::error::MovegenError;
use crate::overlay::{EmptyView, Overlay};
use alloy_primitives::Bytes;
use mf_format::{Account, Address, B256, GENESIS_INTX, Key, Mark, TxBody, TxId, U256, Value};
use std::collections::BTreeMap;
use std::convert::Infallible;

/// The latest version of every key, and code by hash: what a wallet or coordinator executes
/// against.
///
/// `version` answers `None` for a key that has never been written: its version is
/// `(GENESIS_INTX, key)` with the zero value of the mark (an empty account, a zero word).
pub trait StateView {
    /// Why a lookup failed (I/O, a remote index...). Not "absent": that is `Ok(None)`.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The live version of `key`: the transaction that wrote it and its value.
    fn version(&self, key: &Key) -> Result<Option<(TxId, Value)>, Self::Error>;

    /// Runtime code by its keccak-256 hash.
    fn code(&self, hash: &B256) -> Result<Option<Bytes>, Self::Error>;

    /// The hash of the chain's header at `number` (what `BLOCKHASH(number)` returns; the EVM
    /// asks only for the 256 blocks before the transaction's declared block number,
    /// PROTOCOL.md §6.3). `None` when the view does not know it: execution then fails
    /// rather than read a made-up value. The default knows none.
    fn block_hash(&self, number: u64) -> Result<Option<B256>, Self::Error> {
        let _ = number;
        Ok(None)
    }
}

impl<V: StateView + ?Sized> StateView for &V {
    type Error = V::Error;
    fn version(&self, key: &Key) -> Result<Option<(TxId, Value)>, Self::Error> {
        (**self).version(key)
    }
    fn code(&self, hash: &B256) -> Result<Option<Bytes>, Self::Error> {
        (**self).code(hash)
    }
    fn block_hash(&self, number: u64) -> Result<Option<B256>, Self::Error> {
        (**self).block_hash(number)
    }
}

/// A deterministic in-memory state: a genesis, then the accepted moves of transactions
/// applied in order. Good for wallets' tests, examples and differential tests. An
/// [`Overlay`] over the [`EmptyView`]: [`MemoryView::apply`] is [`Overlay::apply`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryView {
    state: Overlay<EmptyView>,
    block_hashes: BTreeMap<u64, B256>,
}

impl MemoryView {
    /// An empty state: every key never written.
    pub fn new() -> MemoryView {
        MemoryView::default()
    }

    /// A genesis from versions and code (all versions get `intx = GENESIS_INTX`).
    pub fn from_genesis(
        versions: impl IntoIterator<Item = (Key, Value)>,
        codes: impl IntoIterator<Item = Vec<u8>>,
    ) -> MemoryView {
        let mut v = MemoryView::new();
        for (k, val) in versions {
            v.state.versions.insert(k, (GENESIS_INTX, val));
        }
        for c in codes {
            v.insert_code(c);
        }
        v
    }

    /// Sets the hash `BLOCKHASH(number)` answers (a header of the chain this view follows).
    pub fn set_block_hash(&mut self, number: u64, hash: B256) {
        self.block_hashes.insert(number, hash);
    }

    /// Sets a genesis account record.
    pub fn set_account(&mut self, addr: Address, account: Account) {
        self.state
            .versions
            .insert(Key::account(addr), (GENESIS_INTX, Value::Account(account)));
    }

    /// Sets a genesis storage word (a zero word is not stored: the key is never-written).
    pub fn set_storage(&mut self, addr: Address, slot: U256, word: U256) {
        let key = Key::storage(addr, slot);
        if word.is_zero() {
            self.state.versions.remove(&key);
        } else {
            self.state
                .versions
                .insert(key, (GENESIS_INTX, Value::Storage(word)));
        }
    }

    /// Stores runtime code and returns its keccak-256 hash.
    pub fn insert_code(&mut self, code: Vec<u8>) -> B256 {
        self.state.insert_code(code)
    }

    /// Puts a contract at `addr` in the genesis: its runtime code, nonce 1, `balance` wei, and
    /// storage words.
    pub fn deploy(
        &mut self,
        addr: Address,
        runtime_code: Vec<u8>,
        balance: U256,
        storage: impl IntoIterator<Item = (U256, U256)>,
    ) {
        let code_hash = self.insert_code(runtime_code);
        self.set_account(
            addr,
            Account {
                balance,
                nonce: 1,
                code_hash,
            },
        );
        for (slot, word) in storage {
            self.set_storage(addr, slot, word);
        }
    }

    /// The account record of `addr` (the empty account when never written).
    pub fn account(&self, addr: Address) -> Account {
        match self.state.versions.get(&Key::account(addr)) {
            Some((_, Value::Account(a))) => *a,
            _ => Account::EMPTY,
        }
    }

    /// The storage word `(addr, slot)` (zero when never written).
    pub fn storage(&self, addr: Address, slot: U256) -> U256 {
        match self.state.versions.get(&Key::storage(addr, slot)) {
            Some((_, Value::Storage(w))) => *w,
            _ => U256::ZERO,
        }
    }

    /// Every stored version, in key order.
    pub fn versions(&self) -> impl Iterator<Item = (&Key, &(TxId, Value))> {
        self.state.versions()
    }

    /// Every stored runtime code, by keccak-256 hash.
    pub fn codes(&self) -> impl Iterator<Item = (&B256, &Bytes)> {
        self.state.codes()
    }

    /// Applies an accepted transaction ([`Overlay::apply`]): checks that every move's
    /// version is the live one with value `prev` (the never-written version is
    /// `(GENESIS_INTX, zero)`), then makes each consume's `next` the live version of its key
    /// under the transaction's id and stores its created code. Nothing changes when a check
    /// fails.
    pub fn apply(&mut self, body: &TxBody) -> Result<TxId, MovegenError> {
        Ok(self.state.apply(body)?)
    }

    /// A plain revm database holding this view's state (values only, no versions): what
    /// differential tests and benchmarks run plain revm against.
    pub fn to_cache_db(
        &self,
    ) -> Result<revm::database::CacheDB<revm::database::EmptyDB>, MovegenError> {
        use crate::db::{account_info, bytecode};
        let mut db = revm::database::CacheDB::new(revm::database::EmptyDB::default());
        for (key, (_, value)) in self.versions() {
            match (key.mark, value) {
                (Mark::Account, Value::Account(a)) => {
                    if let Some(mut info) = account_info(a) {
                        if info.code.is_none() {
                            let code = self
                                .state
                                .codes
                                .get(&a.code_hash)
                                .ok_or(MovegenError::MissingCode(a.code_hash))?;
                            info.code = Some(bytecode(code.clone()));
                        }
                        db.insert_account_info(key.addr, info);
                    }
                }
                (Mark::Storage, Value::Storage(w)) => {
                    // EmptyDB cannot fail.
                    let _ = db.insert_account_storage(key.addr, key.slot, *w);
                }
                _ => return Err(MovegenError::TypeMismatch(*key)),
            }
        }
        Ok(db)
    }
}

impl StateView for MemoryView {
    type Error = Infallible;
    fn version(&self, key: &Key) -> Result<Option<(TxId, Value)>, Infallible> {
        self.state.version(key)
    }
    fn code(&self, hash: &B256) -> Result<Option<Bytes>, Infallible> {
        self.state.code(hash)
    }
    fn block_hash(&self, number: u64) -> Result<Option<B256>, Infallible> {
        Ok(self.block_hashes.get(&number).copied())
    }
}
