//! Plain revm on one in-memory database, the reference the differential tests compare with.

use mf_format::{Key, Mark, Value};
use mf_movegen::MemoryView;
use revm::DatabaseRef;
use revm::database::{CacheDB, EmptyDB};

/// A revm database holding the same state as `view`.
pub fn cache_db(view: &MemoryView) -> CacheDB<EmptyDB> {
    view.to_cache_db().unwrap()
}

/// The value of `key` in a revm database.
pub fn value_in(db: &CacheDB<EmptyDB>, key: &Key) -> Value {
    match key.mark {
        Mark::Account => {
            let info = db.basic_ref(key.addr).unwrap().unwrap_or_default();
            Value::Account(mf_format::Account {
                balance: info.balance,
                nonce: info.nonce,
                code_hash: info.code_hash,
            })
        }
        Mark::Storage => Value::Storage(db.storage_ref(key.addr, key.slot).unwrap()),
    }
}
