//! Comparing the validator's state with Ethereum's post-state: every account the pre-state,
//! the post-state or the moves name (balance, nonce, code), and every storage slot any of
//! them names, in address then slot order; the first difference is reported.

use crate::case::AccountState;
use crate::features::{FILLER, SYSTEM_CONTRACTS};
use alloy_primitives::{Address, U256};
use mf_format::{Account, Key, Mark, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The first place where the validator's state (read through `read`) differs from `post`,
/// or `None` when they are equal. An account absent from `post` must be empty (balance 0,
/// nonce 0, no code, all storage zero). The system contracts of block-level system calls
/// are left out (those calls are not modelled, [`SYSTEM_CONTRACTS`]), and so is the runner's
/// own [`FILLER`].
pub fn first_difference(
    pre: &BTreeMap<Address, AccountState>,
    post: &BTreeMap<Address, AccountState>,
    written: &[Key],
    read: impl Fn(&Key) -> Result<Value, String>,
) -> Result<Option<String>, String> {
    let mut addrs: BTreeSet<Address> = pre.keys().chain(post.keys()).copied().collect();
    addrs.extend(written.iter().map(|k| k.addr));
    let empty = AccountState::default();
    for addr in addrs {
        if SYSTEM_CONTRACTS.contains(&addr) || addr == FILLER {
            continue;
        }
        let want = post.get(&addr).unwrap_or(&empty);
        let got = match read(&Key::account(addr))? {
            Value::Account(a) => a,
            Value::Storage(_) => return Err(format!("{addr}: account key holds a word")),
        };
        if let Some(d) = account_difference(want, &got) {
            return Ok(Some(format!("{addr:#x}: {d}")));
        }
        let mut slots: BTreeSet<U256> = want.storage.keys().copied().collect();
        if let Some(p) = pre.get(&addr) {
            slots.extend(p.storage.keys().copied());
        }
        slots.extend(
            written
                .iter()
                .filter(|k| k.addr == addr && k.mark == Mark::Storage)
                .map(|k| k.slot),
        );
        for slot in slots {
            let w = want.storage.get(&slot).copied().unwrap_or_default();
            let g = match read(&Key::storage(addr, slot))? {
                Value::Storage(g) => g,
                Value::Account(_) => return Err(format!("{addr}: storage key holds an account")),
            };
            if w != g {
                return Ok(Some(format!(
                    "{addr:#x}: storage[{slot:#x}]: Ethereum {w:#x}, here {g:#x}"
                )));
            }
        }
    }
    Ok(None)
}

fn account_difference(want: &AccountState, got: &Account) -> Option<String> {
    if want.balance != got.balance {
        return Some(format!(
            "balance: Ethereum {:#x}, here {:#x} (here - Ethereum = {})",
            want.balance,
            got.balance,
            signed_difference(got.balance, want.balance)
        ));
    }
    if want.nonce != U256::from(got.nonce) {
        return Some(format!(
            "nonce: Ethereum {}, here {}",
            want.nonce, got.nonce
        ));
    }
    let want_hash = alloy_primitives::keccak256(&want.code);
    if want_hash != got.code_keccak() {
        return Some(format!(
            "code: Ethereum {} bytes (hash {want_hash}), here code hash {}",
            want.code.len(),
            got.code_hash
        ));
    }
    None
}

fn signed_difference(a: U256, b: U256) -> String {
    if a >= b {
        format!("{}", a - b)
    } else {
        format!("-{}", b - a)
    }
}
