//! Move generation and the re-execution check with real revm on the committed contracts.

use crate::util::*;
use mf_format::{
    Account, EMPTY_CODE_HASH, GENESIS_INTX, Key, Keypair, Mark, MoveKind, Reason, Transaction,
    U256, Value, check_structure, sign, verify_tx_signatures,
};
use mf_movegen::{
    Built, CodeLookup, MemoryView, MovegenError, Reexec, ReexecCheck, StateView, TxBuilder,
    abi::decode_uint,
};

/// The validator's code store, as the check sees it: the view's code.
struct ViewCode<'a>(&'a MemoryView);

impl CodeLookup for ViewCode<'_> {
    fn code(&self, hash: &mf_format::B256) -> Option<Vec<u8>> {
        self.0.code(hash).ok().flatten().map(|b| b.to_vec())
    }
}

fn check(view: &MemoryView, tx: &Transaction) -> Result<u64, Reason> {
    ReexecCheck::default()
        .reexec(tx, &mf_format::tx_id(&tx.body), &ViewCode(view))
        .map(|o| o.gas_used)
}

fn assert_valid(view: &MemoryView, b: &Built) {
    assert_eq!(check_structure(&b.tx, CHAIN), Ok(()));
    assert_eq!(verify_tx_signatures(&b.tx), Ok(()));
    assert_eq!(check(view, &b.tx), Ok(b.execution.gas_used));
}

fn kinds(b: &Built) -> Vec<(Key, MoveKind)> {
    b.tx.body.moves.iter().map(|m| (m.key(), m.kind)).collect()
}

fn bump(v: Value) -> Value {
    match v {
        Value::Account(a) => Value::Account(Account {
            balance: a.balance + U256::from(1u64),
            ..a
        }),
        Value::Storage(w) => Value::Storage(w.wrapping_add(U256::from(1u64))),
    }
}

/// Re-signs a tampered body (so only re-execution can catch the change).
fn resign(
    tx: &Transaction,
    signer: &Keypair,
    f: impl FnOnce(&mut mf_format::TxBody),
) -> Transaction {
    let mut body = tx.body.clone();
    f(&mut body);
    sign(body, &[signer])
}

#[test]
fn plain_transfer_touches_two_accounts_and_chains() {
    let w = world(2);
    let mut view = w.view.clone();
    let (a, b) = (&w.users[0], &w.users[1]);
    let built = TxBuilder::transfer(CHAIN, b.address(), U256::from(5u64))
        .build(&view, a, &[])
        .unwrap();
    assert_eq!(built.execution.gas_used, 21_000);
    let moves = &built.tx.body.moves;
    assert_eq!(moves.len(), 2);
    for m in moves {
        assert_eq!(m.kind, MoveKind::Consume);
        assert_eq!(m.intx, GENESIS_INTX);
    }
    let sender = moves.iter().find(|m| m.addr == a.address()).unwrap();
    assert_eq!(
        sender.next,
        Value::Account(Account {
            balance: eth(1000) - U256::from(5u64),
            nonce: 1,
            code_hash: EMPTY_CODE_HASH
        })
    );
    assert_valid(&view, &built);
    let id = view.apply(&built.tx.body).unwrap();
    assert_eq!(id, built.id);
    // The next transfer consumes the versions the first created.
    let again = TxBuilder::transfer(CHAIN, b.address(), U256::from(7u64))
        .build(&view, a, &[])
        .unwrap();
    assert!(again.tx.body.moves.iter().all(|m| m.intx == id));
    assert_valid(&view, &again);
    view.apply(&again.tx.body).unwrap();
    assert_eq!(
        view.account(b.address()).balance,
        eth(1000) + U256::from(12u64)
    );
    assert_eq!(view.account(a.address()).nonce, 2);
}

#[test]
fn transfer_to_a_fresh_account_consumes_the_never_written_version() {
    let w = world(1);
    let fresh = Keypair::from_label("fresh");
    let built = TxBuilder::transfer(CHAIN, fresh.address(), U256::from(1u64))
        .build(&w.view, &w.users[0], &[])
        .unwrap();
    let m = built
        .tx
        .body
        .moves
        .iter()
        .find(|m| m.addr == fresh.address())
        .unwrap();
    assert_eq!(m.prev, Value::zero(Mark::Account));
    assert_eq!(m.intx, GENESIS_INTX);
    assert_valid(&w.view, &built);
}

#[test]
fn erc20_transfer() {
    let w = world(2);
    let mut view = w.view.clone();
    let (a, b) = (&w.users[0], &w.users[1]);
    let amount = eth(123);
    let built = TxBuilder::call(CHAIN, w.token_a, transfer_data(b.address(), amount))
        .build(&view, a, &[])
        .unwrap();
    assert_eq!(kinds(&built), {
        let mut k = vec![
            (Key::account(a.address()), MoveKind::Consume),
            (Key::account(w.token_a), MoveKind::Reference),
            (
                Key::storage(w.token_a, bal_slot(a.address())),
                MoveKind::Consume,
            ),
            (
                Key::storage(w.token_a, bal_slot(b.address())),
                MoveKind::Consume,
            ),
        ];
        k.sort();
        k
    });
    assert_eq!(built.execution.logs.len(), 1);
    assert_eq!(
        built.execution.logs[0].topics[0].to_string(),
        "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    );
    assert_eq!(decode_uint(&built.execution.output), Some(U256::from(1u64)));
    assert_valid(&view, &built);
    view.apply(&built.tx.body).unwrap();
    assert_eq!(
        view.storage(w.token_a, bal_slot(b.address())),
        eth(1_000_000) + amount
    );
}

fn swap(w: &World, view: &MemoryView, user: &Keypair, amount: U256) -> Built {
    TxBuilder::call(
        CHAIN,
        w.pair,
        swap_data(w.token_a, amount, U256::from(1u64)),
    )
    .build(view, user, &[])
    .unwrap()
}

#[test]
fn amm_swap_and_chained_swaps() {
    let w = world(3);
    let mut view = w.view.clone();
    let mut ra = eth(10_000);
    let mut rb = eth(20_000);
    for (i, user) in w.users.iter().enumerate() {
        let amount = eth(100 + i as u64);
        let built = swap(&w, &view, user, amount);
        let out = amount_out(amount, ra, rb);
        assert_eq!(decode_uint(&built.execution.output), Some(out));
        // Max allowance: read, never written.
        let allowance = built
            .tx
            .body
            .moves
            .iter()
            .find(|m| m.key() == Key::storage(w.token_a, allowance_slot(user.address(), w.pair)))
            .unwrap();
        assert_eq!(allowance.kind, MoveKind::Reference);
        for slot in [2u64, 3] {
            let m = built
                .tx
                .body
                .moves
                .iter()
                .find(|m| m.key() == Key::storage(w.pair, U256::from(slot)))
                .unwrap();
            assert_eq!(m.kind, MoveKind::Consume);
        }
        for slot in [0u64, 1] {
            let m = built
                .tx
                .body
                .moves
                .iter()
                .find(|m| m.key() == Key::storage(w.pair, U256::from(slot)))
                .unwrap();
            assert_eq!(m.kind, MoveKind::Reference);
        }
        assert_valid(&view, &built);
        view.apply(&built.tx.body).unwrap();
        ra += amount;
        rb -= out;
        assert_eq!(view.storage(w.pair, U256::from(2u64)), ra);
        assert_eq!(view.storage(w.pair, U256::from(3u64)), rb);
        assert_eq!(
            view.storage(w.token_b, bal_slot(user.address())),
            eth(1_000_000) + out
        );
    }
}

#[test]
fn reverts_carry_the_decoded_reason() {
    let w = world(2);
    let (a, b) = (&w.users[0], &w.users[1]);
    let err = TxBuilder::call(CHAIN, w.token_a, transfer_data(b.address(), eth(2_000_000)))
        .build(&w.view, a, &[])
        .unwrap_err();
    assert_eq!(err.revert_reason(), Some("insufficient balance"));
    let err = TxBuilder::call(CHAIN, w.pair, swap_data(w.token_a, eth(1), eth(1_000_000)))
        .build(&w.view, a, &[])
        .unwrap_err();
    assert_eq!(err.revert_reason(), Some("insufficient output"));
    assert!(err.to_string().contains("insufficient output"), "{err}");
    let err = TxBuilder::transfer(CHAIN, b.address(), eth(5000))
        .build(&w.view, a, &[])
        .unwrap_err();
    assert!(matches!(err, MovegenError::Execution(_)), "{err}");
}

#[test]
fn a_reverting_call_is_included_only_with_the_failed_runs_moves() {
    let w = world(2);
    let (a, b) = (&w.users[0], &w.users[1]);
    // Declare a transfer's moves, then change the calldata so the call reverts: the
    // declared token balances are not what the failed run leaves.
    let built = TxBuilder::call(CHAIN, w.token_a, transfer_data(b.address(), eth(1)))
        .build(&w.view, a, &[])
        .unwrap();
    let bad = resign(&built.tx, a, |body| {
        body.call.input = transfer_data(b.address(), eth(5_000_000));
    });
    assert_eq!(check(&w.view, &bad), Err(Reason::WriteMismatch));

    // The moves of the failed run (execute_included): the sender's nonce bump and what the
    // call read. Included as failed, as on Ethereum; `execute` still reports the revert.
    let call = bad.body.call.clone();
    let ctx = bad.body.context;
    let err = mf_movegen::execute(&w.view, CHAIN, &call, &ctx).unwrap_err();
    assert_eq!(err.revert_reason(), Some("insufficient balance"));
    let exec = mf_movegen::execute_included(&w.view, CHAIN, &call, &ctx).unwrap();
    assert!(
        matches!(&exec.failure, Some(mf_movegen::Failure::Revert { reason: Some(r), .. }) if r == "insufficient balance"),
        "{:?}",
        exec.failure
    );
    assert!(exec.logs.is_empty());
    let consumed: Vec<Key> = exec
        .moves
        .iter()
        .filter(|m| m.kind == MoveKind::Consume)
        .map(|m| m.key())
        .collect();
    assert_eq!(
        consumed,
        vec![Key::account(a.address())],
        "only the sender changes"
    );
    let sender = exec
        .moves
        .iter()
        .find(|m| m.kind == MoveKind::Consume)
        .unwrap();
    match (sender.prev, sender.next) {
        (Value::Account(p), Value::Account(n)) => {
            assert_eq!(n.nonce, p.nonce + 1);
            assert_eq!(n.balance, p.balance, "no fee at gas price zero");
        }
        other => panic!("{other:?}"),
    }
    let failed = resign(&bad, a, |body| {
        body.moves = exec.moves.clone();
        body.created_code = exec.created_code.clone();
    });
    assert_eq!(check_structure(&failed, CHAIN), Ok(()));
    let out = ReexecCheck::default()
        .reexec(&failed, &mf_format::tx_id(&failed.body), &ViewCode(&w.view))
        .unwrap();
    assert!(out.failed);
    assert!(out.logs.is_empty());
    assert_eq!(out.gas_used, exec.gas_used);
    assert!(out.gas_used > 21_000);
}

/// Every way of tampering with a declared value is caught with the right reason.
#[test]
fn tampered_moves_fail_with_the_right_reason() {
    let w = world(2);
    let (a, b) = (&w.users[0], &w.users[1]);
    let builts = [
        (
            "transfer",
            TxBuilder::transfer(CHAIN, b.address(), U256::from(5u64))
                .build(&w.view, a, &[])
                .unwrap(),
        ),
        (
            "erc20",
            TxBuilder::call(CHAIN, w.token_a, transfer_data(b.address(), eth(3)))
                .build(&w.view, a, &[])
                .unwrap(),
        ),
        ("swap", swap(&w, &w.view, a, eth(10))),
    ];
    for (name, built) in &builts {
        assert_valid(&w.view, built);
        for (i, m) in built.tx.body.moves.iter().enumerate() {
            let what = format!("{name} move {i} {:?} {:?}", m.key(), m.kind);
            match m.kind {
                MoveKind::Consume => {
                    // A different next.
                    let t = resign(&built.tx, a, |b| b.moves[i].next = bump(m.next));
                    assert_eq!(
                        check(&w.view, &t),
                        Err(Reason::WriteMismatch),
                        "{what} next"
                    );
                    // A different prev: execution sees another value and writes another.
                    let t = resign(&built.tx, a, |b| b.moves[i].prev = bump(m.prev));
                    assert_eq!(
                        check(&w.view, &t),
                        Err(Reason::WriteMismatch),
                        "{what} prev"
                    );
                    // Declared as a reference although it is written.
                    let t = resign(&built.tx, a, |b| {
                        b.moves[i].kind = MoveKind::Reference;
                        b.moves[i].next = m.prev;
                    });
                    assert_eq!(check(&w.view, &t), Err(Reason::ReferenceWritten), "{what}");
                }
                MoveKind::Reference => {
                    // next != prev on a reference.
                    let t = resign(&built.tx, a, |b| b.moves[i].next = bump(m.next));
                    assert_eq!(
                        check(&w.view, &t),
                        Err(Reason::ReferenceChangesValue),
                        "{what}"
                    );
                }
            }
            // Left out: the read is undeclared.
            let t = resign(&built.tx, a, |b| {
                b.moves.remove(i);
            });
            assert_eq!(
                check(&w.view, &t),
                Err(Reason::UndeclaredRead),
                "{what} removed"
            );
        }
    }
    // A reference whose value execution depends on: the max allowance lowered makes the swap
    // write it.
    let (_, sw) = &builts[2];
    let i = sw
        .tx
        .body
        .moves
        .iter()
        .position(|m| m.key() == Key::storage(w.token_a, allowance_slot(a.address(), w.pair)))
        .unwrap();
    let t = resign(&sw.tx, a, |b| {
        b.moves[i].prev = Value::Storage(eth(1_000));
        b.moves[i].next = Value::Storage(eth(1_000));
    });
    assert_eq!(check(&w.view, &t), Err(Reason::ReferenceWritten));
    // The pool's token0 changed: the swap reverts ("invalid token").
    let i = sw
        .tx
        .body
        .moves
        .iter()
        .position(|m| m.key() == Key::storage(w.pair, U256::ZERO))
        .unwrap();
    let t = resign(&sw.tx, a, |b| {
        b.moves[i].prev = Value::Storage(U256::from(77u64));
        b.moves[i].next = Value::Storage(U256::from(77u64));
    });
    // Included only as failed, with the sender's nonce bump alone: the declared reserves
    // and balances are not what the failed run leaves.
    assert_eq!(check(&w.view, &t), Err(Reason::WriteMismatch));
    // A contract's code hash no store knows.
    let i = sw
        .tx
        .body
        .moves
        .iter()
        .position(|m| m.key() == Key::account(w.pair))
        .unwrap();
    let t = resign(&sw.tx, a, |b| {
        if let Value::Account(acc) = b.moves[i].prev {
            let v = Value::Account(Account {
                code_hash: mf_format::B256::repeat_byte(9),
                ..acc
            });
            b.moves[i].prev = v;
            b.moves[i].next = v;
        }
    });
    assert_eq!(check(&w.view, &t), Err(Reason::CodeHashMismatch));
}

#[test]
fn create_then_use_a_token() {
    let w = world(2);
    let mut view = w.view.clone();
    let (a, b) = (&w.users[0], &w.users[1]);
    let supply = eth(500);
    let built = TxBuilder::create(CHAIN, token_init_code("Test", "TST", supply, a.address()))
        .build(&view, a, &[])
        .unwrap();
    let token = built.execution.created.unwrap();
    assert_eq!(built.tx.body.created_code.len(), 1);
    assert_eq!(
        built.tx.body.created_code[0],
        artifact("Token", "deployedBytecode")
    );
    assert_valid(&view, &built);
    // Without the created code the check cannot find it.
    let t = resign(&built.tx, a, |b| b.created_code.clear());
    assert_eq!(check(&view, &t), Err(Reason::CodeHashMismatch));
    // An extra created code entry fits no creation.
    let t = resign(&built.tx, a, |b| b.created_code.push(vec![0x60, 0x00]));
    assert_eq!(check(&view, &t), Err(Reason::InvalidCreatedCode));
    view.apply(&built.tx.body).unwrap();
    let tr = TxBuilder::call(CHAIN, token, transfer_data(b.address(), eth(1)))
        .build(&view, a, &[])
        .unwrap();
    assert_valid(&view, &tr);
    view.apply(&tr.tx.body).unwrap();
    assert_eq!(view.storage(token, bal_slot(b.address())), eth(1));
    assert_eq!(view.storage(token, bal_slot(a.address())), supply - eth(1));
}

/// `execute_until` interrupts an endless loop inside revm at its deadline (well before its
/// 30M gas run out) and reports `Aborted`; before a deadline it is exactly `execute`, and
/// `estimate_gas_until` is `estimate_gas`.
#[test]
fn execution_is_interrupted_at_its_deadline() {
    use mf_format::{Call, ExecContext};
    use mf_movegen::{estimate_gas, estimate_gas_until, estimate_runs, execute, execute_until};
    use std::time::{Duration, Instant};
    let mut w = world(2);
    let looper = addr(0x77);
    // JUMPDEST PUSH1 0 JUMP: loops until the gas is gone.
    w.view
        .deploy(looper, vec![0x5b, 0x60, 0x00, 0x56], U256::ZERO, []);
    let ctx = ExecContext {
        block_number: 1,
        timestamp: 0,
    };
    let endless = Call {
        from: w.users[0].address(),
        to: Some(looper),
        value: U256::ZERO,
        input: Vec::new(),
        gas_limit: 30_000_000,
        fee: Default::default(),
        access_list: Vec::new(),
        blob: None,
    };
    let t = Instant::now();
    let r = execute_until(
        &w.view,
        CHAIN,
        &endless,
        &ctx,
        t + Duration::from_millis(20),
    );
    assert!(matches!(r, Err(MovegenError::Aborted)), "{r:?}");
    let aborted_after = t.elapsed();
    let t = Instant::now();
    let full = execute(&w.view, CHAIN, &endless, &ctx);
    let full_run = t.elapsed();
    assert!(
        matches!(full, Err(MovegenError::Execution(_))),
        "out of gas"
    );
    eprintln!("aborted after {aborted_after:?}; the whole 30M-gas loop takes {full_run:?}");
    let r = estimate_gas_until(&w.view, CHAIN, &endless, &ctx, Instant::now());
    assert!(matches!(r, Err(MovegenError::Aborted)), "{r:?}");

    let far = Instant::now() + Duration::from_secs(600);
    let call = Call {
        from: w.users[0].address(),
        to: Some(w.token_a),
        value: U256::ZERO,
        input: transfer_data(w.users[1].address(), eth(5)),
        gas_limit: 1_000_000,
        fee: Default::default(),
        access_list: Vec::new(),
        blob: None,
    };
    let a = execute(&w.view, CHAIN, &call, &ctx).expect("execute");
    let b = execute_until(&w.view, CHAIN, &call, &ctx, far).expect("execute_until");
    assert_eq!(a, b);
    assert_eq!(
        estimate_gas(&w.view, CHAIN, &call, &ctx).expect("estimate"),
        estimate_gas_until(&w.view, CHAIN, &call, &ctx, far).expect("estimate until")
    );
    assert_eq!(estimate_runs(30_000_000), 27);
    assert_eq!(estimate_runs(1), 3);
}
