//! Plain revm on one in-memory database, the reference the differential tests compare with.

use mf_format::{Key, Mark, Value};
use mf_movegen::db::{account_info, bytecode};
use mf_movegen::{MemoryView, StateView};
use revm::DatabaseRef;
use revm::database::{CacheDB, EmptyDB};

/// A revm database holding the same state as `view`.
pub fn cache_db(view: &MemoryView) -> CacheDB<EmptyDB> {
    let mut db = CacheDB::new(EmptyDB::default());
    for (key, (_, value)) in view.versions() {
        match (key.mark, value) {
            (Mark::Account, Value::Account(a)) => {
                if let Some(mut info) = account_info(a) {
                    if info.code.is_none() {
                        let code = view.code(&a.code_hash).unwrap().unwrap();
                        info.code = Some(bytecode(code));
                    }
                    db.insert_account_info(key.addr, info);
                }
            }
            (Mark::Storage, Value::Storage(w)) => {
                db.insert_account_storage(key.addr, key.slot, *w).unwrap();
            }
            _ => unreachable!(),
        }
    }
    db
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
