//! Each fork's gas schedule (PROTOCOL.md §6.3): the static cost of every opcode comes from
//! the instruction table of the fork in force, also when one engine runs transactions of
//! several forks one after the other (a reused EVM built for another fork once charged
//! EIP-2929's warm prices before Berlin).

use mf_format::{
    Account, Address, B256, Call, ChainRules, EMPTY_CODE_HASH, ExecContext, Fork, U256,
};
use mf_movegen::{MemoryView, execute_under};

/// `SLOAD(0)`, `BALANCE(0x..ee)`, `EXTCODESIZE(0x..ee)`: three accesses whose price each
/// fork changed.
const ACCESSES: &[u8] = &[
    0x60, 0x00, 0x54, 0x50, // SLOAD(0), POP
    0x73, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
    0xee, 0xee, 0xee, 0xee, 0xee, 0x31, 0x50, // BALANCE, POP
    0x73, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
    0xee, 0xee, 0xee, 0xee, 0xee, 0x3b, 0x50, // EXTCODESIZE, POP
    0x00,
];

/// A view holding one account, `from`, with 1 ETH and `nonce`.
fn funded(from: Address, nonce: u64) -> MemoryView {
    let mut view = MemoryView::new();
    view.set_account(
        from,
        Account {
            balance: U256::from(10u64).pow(U256::from(18u64)),
            nonce,
            code_hash: EMPTY_CODE_HASH,
        },
    );
    view
}

/// A call from `from` to `to` with no value, no input and no fee, of `gas_limit` gas.
fn plain_call(from: Address, to: Address, gas_limit: u64) -> Call {
    Call {
        from,
        to: Some(to),
        value: U256::ZERO,
        input: vec![],
        gas_limit,
        fee: Default::default(),
        access_list: Vec::new(),
        blob: None,
    }
}

#[test]
fn every_fork_charges_its_own_static_gas() {
    let from = Address::repeat_byte(0x11);
    let to = Address::repeat_byte(0x22);
    let mut view = funded(from, 0);
    view.deploy(to, ACCESSES.to_vec(), U256::ZERO, []);
    let call = plain_call(from, to, 100_000);
    // 21,000 + pushes and pops (3 x 3 + 3 x 2) + the three accesses, by fork:
    // Byzantium SLOAD 200, BALANCE 400, EXTCODESIZE 700; Istanbul (EIP-1884) SLOAD 800,
    // BALANCE 700; Berlin on (EIP-2929) 2,100 and 2,600 cold, then 100 for the address now
    // warm.
    let base = 21_000 + 9 + 6;
    let want = [
        (Fork::Frontier, base + 50 + 20 + 20),
        (Fork::Homestead, base + 50 + 20 + 20),
        (Fork::Tangerine, base + 200 + 400 + 700),
        (Fork::Byzantium, base + 200 + 400 + 700),
        (Fork::Istanbul, base + 800 + 700 + 700),
        (Fork::Berlin, base + 2_100 + 2_600 + 100),
        (Fork::Cancun, base + 2_100 + 2_600 + 100),
    ];
    // Twice in alternation: nothing of one fork's run may leak into the next.
    for _ in 0..2 {
        for (fork, gas) in want {
            let rules = ChainRules::from_genesis(fork, 30_000_000);
            let ex = execute_under(&view, 1, &rules, &call, &ExecContext::default(), false)
                .expect("runs");
            assert_eq!(ex.gas_used, gas, "{fork:?}");
        }
    }
}

/// A blob call reads the chain's blob base fee (`BLOBBASEFEE`, from its excess blob gas with
/// the fork's update fraction, as `ChainRules::blob_base_fee_at` computes it) and its
/// versioned hashes (`BLOBHASH`), pays the blob gas, burnt, and is refused with more blobs
/// than the fork allows.
#[test]
fn a_blob_call_reads_the_blob_base_fee_and_its_hashes_by_fork() {
    use mf_format::{Blobs, Fee, FeeKind, Key, Value};
    let from = Address::repeat_byte(0x11);
    let to = Address::repeat_byte(0x22);
    let mut view = MemoryView::new();
    let balance = U256::from(10u64).pow(U256::from(18u64));
    view.set_account(
        from,
        Account {
            balance,
            nonce: 0,
            code_hash: EMPTY_CODE_HASH,
        },
    );
    // SSTORE(0, BLOBBASEFEE); SSTORE(1, BLOBHASH(1)); STOP
    let code = vec![
        0x4a, 0x60, 0x00, 0x55, 0x60, 0x01, 0x49, 0x60, 0x01, 0x55, 0x00,
    ];
    view.deploy(to, code, U256::ZERO, []);
    let hashes = |n: u8| -> Vec<B256> {
        (0..n)
            .map(|i| {
                let mut h = B256::repeat_byte(0x30 + i);
                h.0[0] = 1;
                h
            })
            .collect()
    };
    let call = |n: u8| Call {
        from,
        to: Some(to),
        value: U256::ZERO,
        input: vec![],
        gas_limit: 100_000,
        fee: Fee {
            kind: FeeKind::Blob,
            max_fee_per_gas: 0,
            max_priority_fee_per_gas: 0,
        },
        access_list: Vec::new(),
        blob: Some(Blobs {
            max_fee_per_blob_gas: 1_000,
            versioned_hashes: hashes(n),
        }),
    };
    let word = |ex: &mf_movegen::Execution, slot: u64| {
        ex.moves
            .iter()
            .find(|m| m.key() == Key::storage(to, U256::from(slot)))
            .map(|m| m.next)
    };
    for (fork, fee) in [(Fork::Cancun, 23u128), (Fork::Prague, 8)] {
        let rules = ChainRules {
            excess_blob_gas: 10 * 1024 * 1024,
            ..ChainRules::from_genesis(fork, 30_000_000)
        };
        assert_eq!(rules.blob_base_fee_at(0, 0), fee, "{fork:?}");
        let ex = execute_under(&view, 1, &rules, &call(2), &ExecContext::default(), false)
            .expect("runs");
        assert_eq!(
            word(&ex, 0),
            Some(Value::Storage(U256::from(fee))),
            "{fork:?}"
        );
        assert_eq!(
            word(&ex, 1),
            Some(Value::Storage(U256::from_be_bytes(hashes(2)[1].0))),
            "{fork:?}"
        );
        // Gas price 0: the sender pays exactly 2 blobs of blob gas at the blob base fee.
        let sender = ex
            .moves
            .iter()
            .find(|m| m.key() == Key::account(from))
            .expect("sender");
        assert_eq!(
            sender.next,
            Value::Account(Account {
                balance: balance - U256::from(2 * 131_072 * fee),
                nonce: 1,
                code_hash: EMPTY_CODE_HASH,
            }),
            "{fork:?}"
        );
        assert_eq!(ex.beneficiary_fee, U256::ZERO, "the blob fee is burnt");
        // The balance check counts the blob fee cap: a sender that can pay the blob gas at
        // the blob base fee but not at its cap (2 x 131,072 x 1,000 wei) is refused.
        let mut poor = view.clone();
        poor.set_account(
            from,
            Account {
                balance: U256::from(2 * 131_072 * 1_000 - 1),
                nonce: 0,
                code_hash: EMPTY_CODE_HASH,
            },
        );
        let refused = execute_under(&poor, 1, &rules, &call(2), &ExecContext::default(), false);
        assert!(
            matches!(
                refused,
                Err(mf_movegen::MovegenError::Execution(
                    mf_movegen::Failure::InsufficientFunds(_)
                ))
            ),
            "{refused:?}"
        );
        // 7 blobs: above Cancun's 6, within Prague's 9.
        let seven = execute_under(&view, 1, &rules, &call(7), &ExecContext::default(), false);
        match fork {
            Fork::Cancun => assert!(
                matches!(
                    seven,
                    Err(mf_movegen::MovegenError::Execution(
                        mf_movegen::Failure::TooManyBlobs(_)
                    ))
                ),
                "{seven:?}"
            ),
            _ => assert!(seven.is_ok(), "{seven:?}"),
        }
    }
}

/// A contract that `CALL`s `0x..ee` with 4,096 gas, no value and no data, then stops.
fn caller_of_ee() -> Vec<u8> {
    let mut c = vec![
        0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x73,
    ];
    c.extend_from_slice(&[0xee; 20]);
    c.extend_from_slice(&[0x61, 0x10, 0x00, 0xf1, 0x50, 0x00]); // PUSH2 4096, CALL, POP, STOP
    c
}

/// Before EIP-161 an empty account that exists differs from a missing one (PROTOCOL.md §2.2,
/// `Account::EXISTING_EMPTY`): a `CALL` to a missing account is charged 25,000 for the new
/// account and creates it, a `CALL` to an existing empty one is not. From EIP-161 on the two
/// are the same to execution, and a touched empty account is deleted. Each execution's moves
/// pass the validator's isolated re-execution.
#[test]
fn an_existing_empty_account_is_kept_apart_from_a_missing_one_before_eip161() {
    use mf_format::{Move, MoveKind, Transaction, TxBody, tx_id};
    use mf_movegen::{CodeLookup, Reexec, ReexecCheck, StateView};
    struct ViewCode<'a>(&'a MemoryView);
    impl CodeLookup for ViewCode<'_> {
        fn code(&self, hash: &B256) -> Option<Vec<u8>> {
            self.0.code(hash).ok().flatten().map(|b| b.to_vec())
        }
    }
    let from = Address::repeat_byte(0x11);
    let to = Address::repeat_byte(0x22);
    let target = Address::repeat_byte(0xee);
    let call = plain_call(from, to, 100_000);
    let run = |fork: Fork, existing: bool| {
        let mut view = funded(from, 0);
        view.deploy(to, caller_of_ee(), U256::ZERO, []);
        if existing {
            view.set_account(target, Account::EXISTING_EMPTY);
        }
        let rules = ChainRules::from_genesis(fork, 30_000_000);
        let ctx = ExecContext::default();
        let ex = execute_under(&view, 1, &rules, &call, &ctx, false).expect("runs");
        // The validator's check: the moves alone reproduce the execution.
        let body = TxBody {
            chain_id: 1,
            call: call.clone(),
            context: ctx,
            open: false,
            moves: ex.moves.clone(),
            created_code: ex.created_code.clone(),
        };
        let tx = Transaction::signed(body, Vec::new());
        let again = ReexecCheck::new(rules)
            .reexec(&tx, &tx_id(&tx.body), &ViewCode(&view))
            .expect("the moves re-execute");
        assert_eq!(again.gas_used, ex.gas_used, "{fork:?}");
        let moved: Vec<&Move> = ex.moves.iter().filter(|m| m.addr == target).collect();
        assert_eq!(moved.len(), 1, "{fork:?}: one move of the target");
        (ex.gas_used, *moved[0])
    };
    let account = |m: &Move| match (m.prev, m.next) {
        (mf_format::Value::Account(p), mf_format::Value::Account(n)) => (m.kind, p, n),
        _ => panic!("an account move"),
    };

    // (fork, the gas a call to the missing account costs more, the target's move when it is
    // missing, when it exists). Tangerine Whistle: the missing target is created (and charged
    // for), the existing one only read. Cancun: no charge either way (no value moves), the
    // touched existing empty account is deleted, the missing one stays missing.
    let (e, x) = (Account::EMPTY, Account::EXISTING_EMPTY);
    for (fork, extra, missing, existing) in [
        (
            Fork::Tangerine,
            25_000,
            (MoveKind::Consume, e, x),
            (MoveKind::Reference, x, x),
        ),
        (
            Fork::Cancun,
            0,
            (MoveKind::Reference, e, e),
            (MoveKind::Consume, x, e),
        ),
    ] {
        let (gas_missing, m) = run(fork, false);
        assert_eq!(account(&m), missing, "{fork:?}, missing");
        let (gas_existing, m) = run(fork, true);
        assert_eq!(account(&m), existing, "{fork:?}, existing");
        assert_eq!(gas_missing - gas_existing, extra, "{fork:?}");
    }
}

/// A Frontier-only schedule survives a genesis file (`frontierBlock`: a config naming no fork
/// gets the default schedule), and before Spurious Dragon an empty `alloc` entry is an
/// account that exists.
#[test]
fn a_frontier_genesis_keeps_its_schedule_and_its_empty_accounts() {
    use mf_movegen::genesis::{Genesis, rules_json};
    let rules = ChainRules::from_genesis(Fork::Frontier, 30_000_000);
    let mut config = serde_json::Map::new();
    config.insert("chainId".into(), 1.into());
    for (k, v) in rules_json(&rules) {
        config.insert(k.into(), v.into());
    }
    let empty = Address::repeat_byte(0xee);
    let file = serde_json::json!({
        "config": config,
        "alloc": { format!("{empty:#x}"): { "balance": "0x0" } },
    });
    let g = Genesis::parse(&file.to_string()).expect("parses");
    assert_eq!(g.rules.fork_at(1_000_000, 2_000_000_000), Fork::Frontier);
    assert_eq!(
        g.versions,
        vec![(
            mf_format::Key::account(empty),
            mf_format::Value::Account(Account::EXISTING_EMPTY)
        )]
    );
    // The same entry from Spurious Dragon on is the missing account.
    let mut config = serde_json::Map::new();
    config.insert("chainId".into(), 1.into());
    config.insert("eip158Block".into(), 0.into());
    let file = serde_json::json!({
        "config": config,
        "alloc": { format!("{empty:#x}"): { "balance": "0x0" } },
    });
    let g = Genesis::parse(&file.to_string()).expect("parses");
    assert_eq!(
        g.versions,
        vec![(
            mf_format::Key::account(empty),
            mf_format::Value::Account(Account::EMPTY)
        )]
    );
}

/// EIP-2681: a sender whose nonce is 2^64 - 1 cannot send (its nonce would overflow), with
/// revm's own nonce check off (replay protection is the consumed version).
#[test]
fn a_sender_at_the_largest_nonce_cannot_send() {
    let from = Address::repeat_byte(0x11);
    let call = plain_call(from, Address::repeat_byte(0x22), 21_000);
    let rules = ChainRules::from_genesis(Fork::Cancun, 30_000_000);
    for (nonce, ok) in [(u64::MAX - 1, true), (u64::MAX, false)] {
        let view = funded(from, nonce);
        let ex = execute_under(&view, 1, &rules, &call, &ExecContext::default(), true);
        assert_eq!(ex.is_ok(), ok, "nonce {nonce}: {ex:?}");
    }
}
