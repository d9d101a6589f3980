//! The E rows: re-execution.

use super::*;

#[test]
fn re_execution() {
    let mut n = Net::start();
    // ---- E: re-execution ---------------------------------------------------------------
    let u3 = n.key(3);
    // E1: an endless loop with the full 30M gas.
    let me = Key::account(u3.address());
    let (_, prev) = n.view.version(&me).expect("view").expect("funded");
    let next = Value::Account(Account {
        nonce: acct(&prev).nonce + 1,
        ..acct(&prev)
    });
    let body = TxBody {
        chain_id: CHAIN,
        call: Call {
            from: u3.address(),
            to: Some(contract(LOOP)),
            value: U256::ZERO,
            input: vec![],
            gas_limit: MAX_GAS_LIMIT,
            fee: Default::default(),
            access_list: Vec::new(),
            blob: None,
        },
        context: ExecContext::default(),
        open: false,
        moves: vec![
            declared(&n.view, me, MoveKind::Consume, Mask::ALL, Some(next)),
            declared(
                &n.view,
                Key::account(contract(LOOP)),
                MoveKind::Reference,
                Mask::ALL,
                None,
            ),
        ],
        created_code: vec![],
    };
    let spin = resign(body, &[&u3]);
    let t = Instant::now();
    // Posted to both servers (filter and strict): each re-executes all 30M gas.
    n.one_failed("E1", spin);
    eprintln!(
        "E1: one 30M-gas endless loop, posted to two validators, took {:?}",
        t.elapsed()
    );
    // E2: a token transfer that runs out of gas half-way.
    let tt = n.token_transfer(3, fresh(1003), 1);
    let mut b = tt.body.clone();
    b.call.gas_limit = 30_000;
    n.one("E2", resign(b, &[&u3]), Some(Reason::WriteMismatch));
    // E3: a plain transfer below its intrinsic gas.
    let mut b = n.transfer(3, fresh(1004), 1).body;
    b.call.gas_limit = 20_999;
    n.one("E3", resign(b, &[&u3]), Some(Reason::ExecutionFailed));
    // E4: the token reverts (more than the balance).
    let mut b = tt.body.clone();
    b.call.input = transfer_data(fresh(1003), eth(2_000_000));
    n.one("E4", resign(b, &[&u3]), Some(Reason::WriteMismatch));
    // E5: the declared reference to the token contract's record left out.
    let mut b = tt.body.clone();
    b.moves.remove(move_on(&b, Key::account(n.w.token_a)));
    n.one("E5", resign(b, &[&u3]), Some(Reason::UndeclaredRead));
    // E6: a declared next that execution does not produce.
    let to = n.fresh();
    let t = n.transfer(3, to, 13);
    let ri = move_on(&t.body, Key::account(to));
    let mut b = t.body.clone();
    b.moves[ri].next = with_balance(b.moves[ri].next, |x| x + U256::from(1u64));
    n.one("E6", resign(b, &[&u3]), Some(Reason::WriteMismatch));
    // E7: the recipient declared as a reference (it is written).
    let mut b = t.body.clone();
    b.moves[ri].kind = MoveKind::Reference;
    b.moves[ri].next = b.moves[ri].prev;
    n.one("E7", resign(b, &[&u3]), Some(Reason::ReferenceWritten));
    // E8: the token's record declares a code hash no one has code for.
    let mut b = tt.body.clone();
    let ti = move_on(&b, Key::account(n.w.token_a));
    let mut a = acct(&b.moves[ti].prev);
    a.code_hash = B256::repeat_byte(0xab);
    b.moves[ti].prev = Value::Account(a);
    b.moves[ti].next = Value::Account(a);
    n.one("E8", resign(b, &[&u3]), Some(Reason::CodeHashMismatch));
    // E9: a creation whose created_code entry is swapped for other code (created_code is
    // not signed: a filler could try this without the key).
    let created = TxBuilder::create(CHAIN, INIT_STOP.to_vec())
        .build(&n.view, &u3, &[])
        .expect("build a creation")
        .tx;
    assert_eq!(created.body.created_code, vec![vec![0x00]]);
    let mut t = created.clone();
    t.body.created_code = vec![vec![0x01]];
    n.one("E9", t, Some(Reason::CodeHashMismatch));
    // E10: a creation onto an address that already has code and a nonce (EIP-684).
    let creator = n.key(7);
    let collider = creator_collider(creator.address());
    let mut without = n.view.clone();
    without.set_account(collider, Account::EMPTY);
    let made = TxBuilder::create(CHAIN, vec![])
        .build(&without, &creator, &[])
        .expect("a creation where nothing collides");
    assert_eq!(
        made.execution.created,
        Some(collider),
        "the creator's first address"
    );
    let mut b = made.tx.body.clone();
    let ci = move_on(&b, Key::account(collider));
    b.moves[ci] = declared(
        &n.view,
        Key::account(collider),
        MoveKind::Reference,
        Mask::ALL,
        None,
    );
    b.created_code.clear();
    n.one_failed("E10", resign(b, &[&creator]));
    // E11: a CREATE opcode onto an address that already has code: the inner creation
    // fails (CREATE pushes 0), the call goes on and succeeds.
    let fac = contract(FACTORY);
    let collider2 = fac.create(1);
    let built = TxBuilder::call(CHAIN, fac, vec![])
        .build(&n.view, &u3, &[])
        .expect("build the factory call");
    let id = built.id;
    let fm = &built.tx.body.moves[move_on(&built.tx.body, Key::account(fac))];
    let fac_next_nonce = acct(&fm.next).nonce;
    let cm = built.tx.body.moves[move_on(&built.tx.body, Key::account(collider2))];
    assert_eq!(cm.kind, MoveKind::Reference, "the collider is only read");
    assert!(n.one("E11", built.tx.clone(), None), "E11 accepted");
    let slot0 = n.filter.version(&id, &Key::storage(fac, U256::ZERO));
    assert_eq!(slot0["value"], "0x1", "CREATE returned 0 (failed)");
    let c = n.filter.version(&GENESIS_INTX, &Key::account(collider2));
    assert_eq!(c["state"], "live", "the collider is untouched");
    assert_eq!(c["value"], value_json(&cm.prev));
    eprintln!("E11: the factory's nonce goes 1 -> {fac_next_nonce} on a colliding CREATE");
    assert_eq!(fac_next_nonce, 2, "EIP-684: the creator's nonce is bumped");
    // E12: deep recursion. EIP-150 leaves each callee 63/64 of the gas, so 30M gas runs
    // out long before the 1024-frame limit: the innermost calls fail for lack of gas, CALL
    // returns 0 to their callers, and the outer frames complete.
    let rec = contract(RECURSE);
    let depth_with = |gas: u64| {
        let built = TxBuilder::call(CHAIN, rec, vec![])
            .gas_limit(gas)
            .build(&n.view, &u3, &[])
            .expect("build the recursive call");
        let sm = built.tx.body.moves[move_on(&built.tx.body, Key::storage(rec, U256::ZERO))];
        let depth = match sm.next {
            Value::Storage(w) => w.to::<u64>(),
            Value::Account(_) => panic!("a storage move"),
        };
        (built, depth)
    };
    let (_, depth_1m) = depth_with(1_000_000);
    let (built, depth) = depth_with(MAX_GAS_LIMIT);
    eprintln!(
        "E12: the first failing frame is at depth {depth} with 30M gas ({depth_1m} with 1M), \
         gas used {}",
        built.execution.gas_used
    );
    assert!(
        depth_1m < depth && depth < 1024,
        "depth {depth_1m} (1M gas), {depth} (30M gas): gas, not the 1024-frame limit, ends \
         the recursion"
    );
    let id = built.id;
    assert!(n.one("E12", built.tx, None), "E12 accepted");
    assert_eq!(
        n.filter.version(&id, &Key::storage(rec, U256::ZERO))["value"],
        hex_u256(&U256::from(depth))
    );
    // E13, E14: the context window.
    let h = n.height() + 1;
    let t = TxBuilder::transfer(CHAIN, fresh(1005), U256::from(1u64))
        .context(ExecContext {
            block_number: h + 1,
            timestamp: 0,
        })
        .build(&n.view, &u3, &[])
        .expect("build")
        .tx;
    n.one("E13", t, Some(Reason::ContextOutOfWindow));
    let t = TxBuilder::transfer(CHAIN, fresh(1005), U256::from(1u64))
        .context(ExecContext {
            block_number: h,
            timestamp: now_s() + 3600,
        })
        .build(&n.view, &u3, &[])
        .expect("build")
        .tx;
    n.one("E14", t, Some(Reason::ContextOutOfWindow));

    n.finish('E');
}
