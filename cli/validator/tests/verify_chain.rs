//! Order independence (PROTOCOL.md §9): `verify-chain` re-validates a chain by set
//! reconciliation and must give the same verdict whatever order the batches are fed in.
//!
//! - real chains, made and applied by the validator (the `mf-validator` binary, and the
//!   library for transfers to never-written accounts), reconcile with no violation in every
//!   order, and a batch planted in the store behind the validator's back is caught;
//! - random in-memory chains (chained and contended transactions, references) reconcile
//!   cleanly, and each planted violation is caught, identically in every order.

use crate::util::*;
use mf_format::{
    Account, Address, B256, Batch, Call, EMPTY_CODE_HASH, ExecContext, GENESIS_INTX, Key, Mask,
    Move, MoveKind, Receipt, Transaction, TxBody, TxId, U256, Value, sign, tx_id,
};
use mf_validator::StoreError;
use mf_validator::sample::{GenConfig, SplitMix, generate, transfer_body};
use mf_validator::store::{BatchWrite, Store};
use mf_validator::verify::{
    Chain, Order, Pos, Report, ViolationKind, read_chain, verify, verify_dir,
};
use mf_validator::{Mode, Validator};
use proptest::prelude::*;
use std::path::Path;

const ORDERS: [Order; 4] = [
    Order::Forward,
    Order::Reverse,
    Order::Shuffle { seed: 3 },
    Order::Shuffle { seed: 0x5eed },
];

/// Verifies `chain` in every order of [`ORDERS`]; asserts the reports are equal; returns it.
fn verify_all(chain: &Chain) -> Report {
    let n = chain.batches.len();
    let first = verify(chain, &Order::Forward.permutation(n)).expect("verify forward");
    for o in &ORDERS[1..] {
        let r = verify(chain, &o.permutation(n)).expect("verify");
        assert_eq!(r, first, "order {o} gives another report");
    }
    first
}

// ---------------------------------------------------------------------------------------
// Real chains.

fn verify_chain_cli(data: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["verify-chain", "--data", p(data)];
    args.extend_from_slice(extra);
    let out = run(&args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

const CLI_ORDERS: [&[&str]; 4] = [
    &["--order", "forward"],
    &["--order", "reverse"],
    &["--order", "shuffle", "--seed", "3"],
    &["--order", "shuffle", "--seed", "99"],
];

#[test]
fn sample_chain_reconciles_identically_in_every_order() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sample = tmp.path().join("sample");
    let data = tmp.path().join("data");
    // 40 accounts and 100 transfers per batch: most batches chain many transfers on the
    // same accounts, within the batch and across batches.
    let files = gen_sample(&sample, 40, 600, 100);
    run_ok(&[
        "init",
        "--data",
        p(&data),
        "--genesis",
        p(&sample.join("genesis.json")),
    ]);
    let mut args = vec!["ingest", "--fixed-time", SAMPLE_TIME, "--data", p(&data)];
    args.extend(files.iter().map(|f| p(f)));
    run_ok(&args);

    let mut texts = Vec::new();
    for o in CLI_ORDERS {
        let (code, text) = verify_chain_cli(&data, o);
        assert_eq!(code, Some(0), "verify-chain {o:?}:\n{text}");
        texts.push(text);
    }
    for t in &texts[1..] {
        assert_eq!(t, &texts[0], "the text summary differs between orders");
    }
    let t = &texts[0];
    assert!(t.contains("batches:      6"), "{t}");
    assert!(t.contains("transactions: 600"), "{t}");
    assert!(
        t.contains("moves:        1200 (1200 consume, 0 reference)"),
        "{t}"
    );
    assert!(t.contains("state hashes: 7 headers checked"), "{t}");
    assert!(t.contains("violations:   0"), "{t}");
    assert!(t.contains("OK"), "{t}");

    let mut jsons = Vec::new();
    for o in CLI_ORDERS {
        let mut a = o.to_vec();
        a.push("--json");
        let (code, text) = verify_chain_cli(&data, &a);
        assert_eq!(code, Some(0), "{text}");
        jsons.push(text);
    }
    for j in &jsons[1..] {
        assert_eq!(j, &jsons[0], "the JSON report differs between orders");
    }
    let j: serde_json::Value = serde_json::from_str(jsons[0].trim()).expect("JSON");
    assert_eq!(j["ok"], true);
    assert_eq!(j["violations"], serde_json::json!([]));
    assert_eq!(j["versions_created"], 1200);
    assert_eq!(j["versions_spent"], 1200);
    assert_eq!(j["genesis_versions"], 40);
    // The reconciled live set is the validator's index: live versions plus used markers.
    let live = j["live_versions"].as_u64().expect("live");
    let markers = j["used_markers"].as_u64().expect("markers");
    assert_eq!(
        live + markers,
        inspect(&data)["index_entries"]
            .as_u64()
            .expect("index_entries")
    );
    assert_eq!(live, 40, "one live version per account");
}

#[test]
fn never_written_keys_and_the_lock() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = generate(&GenConfig {
        accounts: 8,
        txs: 0,
        ..GenConfig::default()
    });
    let mut v = Validator::init(tmp.path(), &s.genesis).expect("init");
    v.set_clock(mf_validator::sample::sample_clock);
    let start = Account {
        balance: mf_validator::sample::initial_balance(),
        nonce: 0,
        code_hash: EMPTY_CODE_HASH,
    };
    let fresh = |i: u8| Address::repeat_byte(0xf0 + i);
    let ctx = |h: u64| ExecContext {
        block_number: h,
        timestamp: 1_700_000_000,
    };
    // Height 1: accounts 0..4 each pay a never-written address (consuming its (0, k)).
    let mut latest = Vec::new();
    let mut txs = Vec::new();
    for i in 0..4u8 {
        let body = transfer_body(
            1337,
            s.keys[i as usize].address(),
            (GENESIS_INTX, start),
            fresh(i),
            (GENESIS_INTX, Account::EMPTY),
            U256::from(10u64),
            ctx(1),
        );
        latest.push((tx_id(&body), body.moves.clone()));
        txs.push(sign(body, &[&s.keys[i as usize]]));
    }
    let out = v
        .apply_batch(&Batch { txs }, Mode::Strict)
        .expect("height 1");
    assert_eq!(out.accepted, 4);
    // Height 2: account 0 pays fresh(1) again, chaining on both versions made at height 1.
    let acct = |m: &Move| match m.next {
        Value::Account(a) => a,
        Value::Storage(_) => unreachable!("transfers move accounts"),
    };
    let body = transfer_body(
        1337,
        s.keys[0].address(),
        (latest[0].0, acct(&latest[0].1[0])),
        fresh(1),
        (latest[1].0, acct(&latest[1].1[1])),
        U256::from(1u64),
        ctx(2),
    );
    let tx = sign(body, &[&s.keys[0]]);
    let out = v
        .apply_batch(&Batch { txs: vec![tx] }, Mode::Strict)
        .expect("height 2");
    assert_eq!(out.accepted, 1);
    let index_entries = v.index_len() as u64;

    // While the validator holds the directory, verification is refused (LOCK).
    match verify_dir(tmp.path(), Order::Forward) {
        Err(mf_validator::verify::VerifyError::Store(StoreError::Locked(_))) => {}
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(v);

    let mut reports = Vec::new();
    for o in ORDERS {
        reports.push(verify_dir(tmp.path(), o).expect("verify_dir"));
    }
    for r in &reports[1..] {
        assert_eq!(r, &reports[0]);
    }
    let r = &reports[0];
    assert!(r.ok(), "{:#?}", r.violations);
    assert_eq!((r.batches, r.txs, r.moves), (2, 5, 10));
    assert_eq!(r.never_written_used, 4);
    assert_eq!(r.state_hashes_checked, 3, "genesis and both batches");
    assert_eq!(r.live_versions + r.used_markers, index_entries);
}

#[test]
fn a_batch_planted_in_the_store_is_caught_in_every_order() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path();
    let s = generate(&GenConfig {
        accounts: 10,
        txs: 60,
        batch_size: 20,
        ..GenConfig::default()
    });
    {
        let mut v = Validator::init(data, &s.genesis).expect("init");
        v.set_clock(mf_validator::sample::sample_clock);
        for b in &s.batches {
            v.apply_batch(b, Mode::Strict).expect("apply");
        }
    }
    // Behind the validator's back: height 4 repeats the first transaction of height 1, with
    // the head's state hash unchanged.
    {
        let store = Store::open(data, false).expect("open store");
        let head = store.header(3).expect("header").expect("head");
        let (id, enc) = store.tx_at(1, 0).expect("tx").expect("tx 1/0");
        let mut rec = id.to_vec();
        rec.extend_from_slice(&enc);
        let w = BatchWrite {
            txs: vec![rec],
            header: mf_format::Header {
                height: 4,
                parent: mf_format::header_hash(&head),
                ..head
            },
            receipts: mf_format::encode(&Vec::<Receipt>::new()),
            lthash: store.lthash().expect("lthash"),
            ..BatchWrite::default()
        };
        store.commit(&w).expect("commit");
    }

    let mut texts = Vec::new();
    for o in CLI_ORDERS {
        let (code, text) = verify_chain_cli(data, o);
        assert_eq!(code, Some(1), "violations give exit code 1:\n{text}");
        texts.push(text);
    }
    for t in &texts[1..] {
        assert_eq!(t, &texts[0], "the report differs between orders");
    }
    let t = &texts[0];
    for kind in ["created_twice", "spent_twice", "state_hash_mismatch"] {
        assert!(t.contains(kind), "{kind} not reported:\n{t}");
    }
    assert!(t.contains("at 1/0, 4/0"), "positions named:\n{t}");

    let store = Store::open(data, false).expect("open");
    let (chain, perm) = read_chain(&store, Order::Reverse).expect("read");
    let r = verify(&chain, &perm).expect("verify");
    // Two spends, two creations (one per move), one state hash (height 4).
    let kinds: Vec<ViolationKind> = r.violations.iter().map(|v| v.kind).collect();
    assert_eq!(
        r.counts_by_kind(),
        vec![
            (ViolationKind::CreatedTwice, 2),
            (ViolationKind::SpentTwice, 2),
            (ViolationKind::StateHashMismatch, 1)
        ],
        "{kinds:?}"
    );
}

// ---------------------------------------------------------------------------------------
// In-memory chains.

fn value_for(key: &Key, n: u64) -> Value {
    match key.mark {
        mf_format::Mark::Account => Value::Account(Account {
            balance: U256::from(n),
            nonce: n,
            code_hash: EMPTY_CODE_HASH,
        }),
        mf_format::Mark::Storage => Value::Storage(U256::from(n)),
    }
}

fn mv(kind: MoveKind, key: Key, intx: TxId, prev: Value, next: Value) -> Move {
    Move {
        mask: Mask::ALL,
        kind,
        mark: key.mark,
        intx,
        addr: key.addr,
        slot: key.slot,
        prev,
        next,
    }
}

/// A transaction with these moves (unsigned: reconciliation does not look at signatures);
/// `tag` makes its id unique.
fn tx(tag: u64, moves: Vec<Move>) -> Transaction {
    Transaction {
        eth: None,
        body: TxBody {
            chain_id: 1,
            call: Call {
                from: Address::repeat_byte(0xaa),
                to: None,
                value: U256::from(tag),
                input: Vec::new(),
                gas_limit: 0,
                fee: Default::default(),
                access_list: Vec::new(),
                blob: None,
            },
            context: ExecContext::default(),
            open: false,
            moves,
            created_code: Vec::new(),
        },
        auths: Vec::new(),
    }
}

fn id(t: &Transaction) -> TxId {
    tx_id(&t.body)
}

/// The contended key pool: accounts and storage words of one contract.
const KEYS: usize = 6;

fn pool_key(i: usize) -> Key {
    if i.is_multiple_of(2) {
        Key::account(Address::repeat_byte(1 + i as u8))
    } else {
        Key::storage(Address::repeat_byte(0xc0), U256::from(i))
    }
}

/// A valid random chain: `sizes[b]` transactions in batch `b`, each consuming 1–3 and
/// referencing 0–2 keys of a pool of [`KEYS`], always the latest version; keys in
/// `genesis_mask` start in genesis, the others are never-written.
fn random_chain(seed: u64, sizes: &[usize], genesis_mask: u8) -> Chain {
    let mut rng = SplitMix(seed);
    let mut genesis = Vec::new();
    let mut state: Vec<(TxId, Value)> = Vec::new();
    for i in 0..KEYS {
        let k = pool_key(i);
        if genesis_mask & (1 << i) != 0 {
            let v = value_for(&k, 1000 + i as u64);
            genesis.push((k, v));
            state.push((GENESIS_INTX, v));
        } else {
            state.push((GENESIS_INTX, Value::zero(k.mark)));
        }
    }
    let mut tag = 0u64;
    let mut batches = Vec::new();
    for &size in sizes {
        let mut txs = Vec::new();
        for _ in 0..size {
            let mut order: Vec<usize> = (0..KEYS).collect();
            for i in (1..KEYS).rev() {
                order.swap(i, rng.below(i + 1));
            }
            let consumes = 1 + rng.below(3);
            let refs = rng.below(3);
            let mut moves = Vec::new();
            for (j, &ki) in order.iter().take(consumes + refs).enumerate() {
                let k = pool_key(ki);
                let (intx, prev) = state[ki];
                if j < consumes {
                    tag += 1;
                    moves.push(mv(MoveKind::Consume, k, intx, prev, value_for(&k, tag)));
                } else {
                    moves.push(mv(MoveKind::Reference, k, intx, prev, prev));
                }
            }
            tag += 1;
            let t = tx(tag, moves);
            let tid = id(&t);
            for m in &t.body.moves {
                if m.kind == MoveKind::Consume {
                    let ki = (0..KEYS).find(|&i| pool_key(i) == m.key()).unwrap_or(0);
                    state[ki] = (tid, m.next);
                }
            }
            txs.push(t);
        }
        batches.push(Batch { txs });
    }
    Chain {
        genesis,
        batches,
        state_hashes: None,
    }
}

/// Every move of the chain with its position: `(batch index, tx index, move)`.
fn moves_of(chain: &Chain) -> Vec<(usize, usize, Move)> {
    let mut out = Vec::new();
    for (b, batch) in chain.batches.iter().enumerate() {
        for (t, tx) in batch.txs.iter().enumerate() {
            for m in &tx.body.moves {
                out.push((b, t, *m));
            }
        }
    }
    out
}

/// A fresh never-written storage key (outside the pool), so that a planted transaction has
/// a consume of its own that breaks nothing.
fn spare_key(n: u64) -> Key {
    Key::storage(Address::repeat_byte(0xfe), U256::from(n))
}

#[derive(Clone, Copy, Debug)]
enum Plant {
    DoubleSpendAcrossBatches,
    DoubleSpendInBatch,
    SpendBeforeCreation,
    ReferenceToSpent,
    WrongPrev,
    DuplicateTransaction,
}

const PLANTS: [Plant; 6] = [
    Plant::DoubleSpendAcrossBatches,
    Plant::DoubleSpendInBatch,
    Plant::SpendBeforeCreation,
    Plant::ReferenceToSpent,
    Plant::WrongPrev,
    Plant::DuplicateTransaction,
];

/// Plants one violation in a copy of `chain`, using `pick` to choose where; returns the
/// chain and the violation it must produce, or `None` when the chain has no spot for it.
fn plant(chain: &Chain, what: Plant, pick: u64) -> Option<(Chain, ViolationKind, TxId, Key)> {
    let mut c = chain.clone();
    let all = moves_of(chain);
    let consumes: Vec<&(usize, usize, Move)> = all
        .iter()
        .filter(|(_, _, m)| m.kind == MoveKind::Consume)
        .collect();
    let choose = |n: usize| (pick % n.max(1) as u64) as usize;
    match what {
        Plant::DoubleSpendAcrossBatches | Plant::DoubleSpendInBatch => {
            let &&(b, _, m) = consumes.get(choose(consumes.len()))?;
            let again = tx(
                u64::MAX - 1,
                vec![mv(
                    MoveKind::Consume,
                    m.key(),
                    m.intx,
                    m.prev,
                    value_for(&m.key(), 7),
                )],
            );
            if matches!(what, Plant::DoubleSpendInBatch) {
                c.batches[b].txs.push(again);
            } else {
                c.batches.push(Batch { txs: vec![again] });
            }
            Some((c, ViolationKind::SpentTwice, m.intx, m.key()))
        }
        Plant::SpendBeforeCreation => {
            // A spend of a version a transaction created: move the spender just before the
            // creator.
            let chained: Vec<&&(usize, usize, Move)> = consumes
                .iter()
                .filter(|(_, _, m)| !m.intx.is_zero())
                .collect();
            let &&&(bs, ts, m) = chained.get(choose(chained.len()))?;
            let (bc, tc) = chain.batches.iter().enumerate().find_map(|(b, batch)| {
                batch
                    .txs
                    .iter()
                    .position(|t| id(t) == m.intx)
                    .map(|t| (b, t))
            })?;
            let spender = c.batches[bs].txs.remove(ts);
            c.batches[bc].txs.insert(tc, spender);
            Some((c, ViolationKind::SpentBeforeCreated, m.intx, m.key()))
        }
        Plant::ReferenceToSpent => {
            let &&(_, _, m) = consumes.get(choose(consumes.len()))?;
            let k = spare_key(pick);
            let late = tx(
                u64::MAX - 2,
                vec![
                    mv(MoveKind::Reference, m.key(), m.intx, m.prev, m.prev),
                    mv(
                        MoveKind::Consume,
                        k,
                        GENESIS_INTX,
                        Value::zero(k.mark),
                        value_for(&k, 1),
                    ),
                ],
            );
            c.batches.push(Batch { txs: vec![late] });
            Some((c, ViolationKind::ReferencedAfterSpent, m.intx, m.key()))
        }
        Plant::WrongPrev => {
            let (b, t, m) = *all.get(choose(all.len()))?;
            let bad = value_for(&m.key(), 999_999_999);
            let target = c.batches[b].txs[t]
                .body
                .moves
                .iter_mut()
                .find(|x| x.key() == m.key())?;
            target.prev = bad;
            if target.kind == MoveKind::Reference {
                target.next = bad;
            }
            Some((c, ViolationKind::PrevMismatch, m.intx, m.key()))
        }
        Plant::DuplicateTransaction => {
            let &&(b, t, m) = consumes.get(choose(consumes.len()))?;
            let copy = chain.batches[b].txs[t].clone();
            let created = id(&copy);
            c.batches.push(Batch { txs: vec![copy] });
            Some((c, ViolationKind::CreatedTwice, created, m.key()))
        }
    }
}

#[test]
fn exact_verdicts_on_a_small_chain() {
    let (k0, k1, k2) = (pool_key(0), pool_key(1), spare_key(2));
    let g = value_for(&k0, 50);
    let a = tx(
        1,
        vec![
            mv(MoveKind::Consume, k0, GENESIS_INTX, g, value_for(&k0, 51)),
            mv(
                MoveKind::Consume,
                k1,
                GENESIS_INTX,
                Value::zero(k1.mark),
                value_for(&k1, 1),
            ),
        ],
    );
    let ai = id(&a);
    let b = tx(
        2,
        vec![
            // Referenced earlier in the batch than its spend by `c`: allowed.
            mv(
                MoveKind::Reference,
                k0,
                ai,
                value_for(&k0, 51),
                value_for(&k0, 51),
            ),
            mv(
                MoveKind::Consume,
                k1,
                ai,
                value_for(&k1, 1),
                value_for(&k1, 2),
            ),
        ],
    );
    let c = tx(
        3,
        vec![mv(
            MoveKind::Consume,
            k0,
            ai,
            value_for(&k0, 51),
            value_for(&k0, 52),
        )],
    );
    let ci = id(&c);
    let d = tx(
        4,
        vec![
            mv(
                MoveKind::Reference,
                k0,
                ci,
                value_for(&k0, 52),
                value_for(&k0, 52),
            ),
            mv(
                MoveKind::Consume,
                k2,
                GENESIS_INTX,
                Value::zero(k2.mark),
                value_for(&k2, 9),
            ),
        ],
    );
    let mut chain = Chain {
        genesis: vec![(k0, g)],
        batches: vec![Batch { txs: vec![a, b, c] }, Batch { txs: vec![d] }],
        state_hashes: None,
    };
    let r = verify_all(&chain);
    assert!(r.ok(), "{:#?}", r.violations);
    assert_eq!((r.txs, r.moves, r.consumes, r.references), (4, 7, 5, 2));
    assert_eq!(r.versions_spent, 5, "(0,k0) (0,k1) (0,k2) (a,k0) (a,k1)");
    assert_eq!(r.versions_referenced, 2);
    assert_eq!(r.never_written_used, 2);
    assert_eq!((r.live_versions, r.used_markers), (3, 3));

    // Height 2 also references (a, k0), spent at 1/2, and consumes (0, k1) again.
    let e = tx(
        5,
        vec![
            mv(
                MoveKind::Reference,
                k0,
                ai,
                value_for(&k0, 51),
                value_for(&k0, 51),
            ),
            mv(
                MoveKind::Consume,
                k1,
                GENESIS_INTX,
                Value::zero(k1.mark),
                value_for(&k1, 3),
            ),
        ],
    );
    chain.batches[1].txs.push(e);
    let r = verify_all(&chain);
    type Seen = (ViolationKind, Option<(TxId, Key)>, Vec<Pos>);
    let got: Vec<Seen> = r
        .violations
        .iter()
        .map(|v| (v.kind, v.version, v.positions.clone()))
        .collect();
    let pos = |height, index| Pos { height, index };
    assert_eq!(
        got,
        vec![
            (
                ViolationKind::SpentTwice,
                Some((GENESIS_INTX, k1)),
                vec![pos(1, 0), pos(2, 1)]
            ),
            (
                ViolationKind::ReferencedAfterSpent,
                Some((ai, k0)),
                vec![pos(1, 2), pos(2, 1)]
            ),
        ]
    );

    // A bad feeding order is an error, not a verdict.
    assert!(verify(&chain, &[0, 0]).is_err());
    assert!(verify(&chain, &[1]).is_err());
    // Wrong number of state hashes too.
    chain.state_hashes = Some(vec![B256::ZERO]);
    assert!(verify(&chain, &[0, 1]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_order_gives_the_same_verdict_and_catches_every_plant(
        seed in any::<u64>(),
        sizes in proptest::collection::vec(1usize..7, 1..6),
        genesis_mask in any::<u8>(),
        pick in any::<u64>(),
    ) {
        let chain = random_chain(seed, &sizes, genesis_mask);
        let clean = verify_all(&chain);
        prop_assert!(clean.ok(), "clean chain: {:#?}", clean.violations);
        let txs: usize = sizes.iter().sum();
        prop_assert_eq!(clean.txs, txs as u64);
        prop_assert_eq!(clean.versions_created, clean.consumes);
        // Every genesis key, and every never-written key once consumed, has exactly one
        // live version.
        prop_assert_eq!(
            clean.live_versions,
            chain.genesis.len() as u64 + clean.never_written_used
        );

        for what in PLANTS {
            let Some((bad, kind, intx, key)) = plant(&chain, what, pick) else {
                continue;
            };
            let r = verify_all(&bad);
            prop_assert!(
                r.violations.iter().any(|v| v.kind == kind && v.version == Some((intx, key))),
                "{:?}: {:?} on {}/{:?} not reported: {:#?}",
                what, kind, intx, key, r.violations
            );
        }
    }
}
