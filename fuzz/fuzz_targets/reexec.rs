//! A transaction from arbitrary bytes through `mf_movegen::ReexecCheck` (stateless
//! re-execution against only the declared values) with a code lookup holding the committed
//! contracts (`contracts/artifacts/*.json`, `deployedBytecode`). Checks:
//!
//! - it never panics;
//! - it is deterministic: a second run on the same thread (which reuses the thread's EVM,
//!   the first one may have run on the EVM the previous input left) gives the same verdict,
//!   gas and logs;
//! - wallet/validator agreement: when it accepts a structurally valid transaction,
//!   `mf_movegen::execute_included` over a `MemoryView` holding exactly the declared `prev`
//!   values succeeds with the same gas and logs, and fails exactly when re-execution
//!   reports the transaction as failed, every key it writes is a declared consume with the
//!   same `next`, every declared consume it does not write has `next == prev`, and the
//!   created code it finds is the declared `created_code`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mf_format::{MoveKind, Transaction, Value, check_structure, decode_tx, tx_id};
use mf_fuzz::{Committed, committed_codes};
use mf_movegen::{MemoryView, Reexec, ReexecCheck, Reexecuted, execute_included};
use std::collections::{BTreeSet, HashMap};

fn agree_with_execute(tx: &Transaction, out: &Reexecuted) {
    let body = &tx.body;
    let mut view = MemoryView::new();
    for m in &body.moves {
        match m.prev {
            Value::Account(a) => view.set_account(m.addr, a),
            Value::Storage(w) => view.set_storage(m.addr, m.slot, w),
        }
    }
    for m in &body.moves {
        if let Value::Account(a) = m.prev
            && let Some(c) = body
                .created_code
                .iter()
                .find(|c| alloy_primitives::keccak256(c) == a.code_hash)
                .cloned()
                .or_else(|| committed_codes().get(&a.code_hash).cloned())
        {
            view.insert_code(c);
        }
    }
    let e = match execute_included(&view, body.chain_id, &body.call, &body.context) {
        Ok(e) => e,
        Err(err) => panic!("re-execution accepted but execute_included fails: {err}"),
    };
    assert_eq!(
        e.failure.is_some(),
        out.failed,
        "execute and reexec disagree on whether the call failed"
    );
    assert_eq!(
        e.gas_used, out.gas_used,
        "gas differs between execute and reexec"
    );
    assert_eq!(e.logs, out.logs, "logs differ between execute and reexec");
    let declared: HashMap<_, _> = body.moves.iter().map(|m| (m.key(), m)).collect();
    let mut written = BTreeSet::new();
    for m in &e.moves {
        let d = declared
            .get(&m.key())
            .unwrap_or_else(|| panic!("execute touched {:?}, which is not declared", m.key()));
        assert_eq!(d.prev, m.prev, "execute read another value than declared");
        // (execute may declare a no-op consume, `next == prev`, for a key it wrote without
        // reading, such as a new contract's storage: not a write.)
        if m.kind == MoveKind::Consume && m.next != m.prev {
            assert_eq!(
                d.kind,
                MoveKind::Consume,
                "execute wrote a declared reference"
            );
            assert_eq!(d.next, m.next, "execute wrote another value than declared");
            written.insert(m.key());
        }
    }
    for d in &body.moves {
        if !written.contains(&d.key()) {
            assert_eq!(d.next, d.prev, "declared write that execute does not make");
        }
    }
    let created: BTreeSet<&Vec<u8>> = e.created_code.iter().collect();
    let declared_code: BTreeSet<&Vec<u8>> = body.created_code.iter().collect();
    assert_eq!(created, declared_code, "created code differs");
}

fuzz_target!(|data: &[u8]| {
    let Ok(tx) = decode_tx(data) else {
        return;
    };
    let id = tx_id(&tx.body);
    let first = ReexecCheck::default().reexec(&tx, &id, &Committed);
    let second = ReexecCheck::default().reexec(&tx, &id, &Committed);
    assert_eq!(first, second, "re-execution is not deterministic");
    if let Ok(out) = &first
        && check_structure(&tx, tx.body.chain_id).is_ok()
    {
        agree_with_execute(&tx, out);
    }
});
