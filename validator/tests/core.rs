//! The critical path against real LMDB: acceptance, every rejection reason, atomicity, and
//! restart.

use crate::util::Transfers;
use mf_format::*;
use mf_validator::sample::{GenConfig, generate, transfer_body};
use mf_validator::{ApplyError, Mode, Validator, VersionState};

fn statuses(o: &mf_validator::Outcome) -> Vec<Status> {
    o.receipts.iter().map(|r| r.status).collect()
}

#[test]
fn sample_batches_apply_and_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = generate(&GenConfig {
        accounts: 50,
        txs: 2000,
        batch_size: 250,
        ..GenConfig::default()
    });
    let mut v = Validator::init(dir.path(), &s.genesis).expect("init");
    v.set_clock(mf_validator::sample::sample_clock);
    let genesis_hash = v.state_hash();
    for b in &s.batches {
        let out = v
            .apply_bytes(&encode(b), Mode::Strict)
            .expect("valid batch");
        assert_eq!(out.accepted, b.txs.len());
        assert!(out.fast_path, "an all-valid batch takes the parallel path");
        assert_eq!(out.header.map(|h| h.state_hash), Some(v.state_hash()));
    }
    assert_eq!(v.head().height, s.batches.len() as u64);
    assert_ne!(v.state_hash(), genesis_hash);
    let (fresh, stored) = v.check().expect("check");
    assert_eq!(fresh, stored);
    assert_eq!(fresh, v.state_hash());
    let (hash, entries, head) = (v.state_hash(), v.index_len(), *v.head());
    drop(v);
    let v = Validator::open(dir.path()).expect("reopen");
    assert_eq!(v.state_hash(), hash);
    assert_eq!(v.index_len(), entries);
    assert_eq!(*v.head(), head);
    // The header chain links.
    let store = v.store();
    for h in 1..=head.height {
        let hd = store.header(h).expect("read").expect("header");
        let parent = store.header(h - 1).expect("read").expect("parent");
        assert_eq!(hd.parent, header_hash(&parent));
    }
}

#[test]
fn each_rejection_has_its_reason_and_changes_nothing() {
    let mut w = Transfers::new(6);
    let before = w.v.state_hash();
    let entries = w.v.index_len();

    // Unknown version.
    let mut tx = w.transfer(0, 1, 5, ExecContext::default());
    tx.body.moves[1].intx = TxId::repeat_byte(9);
    let tx = sign(tx.body, &[&w.keys[0]]);
    let o = w.apply(vec![tx], Mode::Filter).expect("filter");
    assert_eq!(statuses(&o), vec![Status::Rejected(Reason::VersionNotLive)]);
    assert!(o.header.is_none(), "nothing accepted, nothing written");

    // Wrong prev (consistent with its next, so re-execution passes and the set refuses it).
    let mut tx = w.transfer(0, 1, 5, ExecContext::default());
    let m = &mut tx.body.moves[1];
    for v in [&mut m.prev, &mut m.next] {
        if let Value::Account(a) = v {
            a.balance += U256::from(1u64);
        }
    }
    let tx = sign(tx.body, &[&w.keys[0]]);
    let o = w.apply(vec![tx], Mode::Filter).expect("filter");
    assert_eq!(statuses(&o), vec![Status::Rejected(Reason::PrevMismatch)]);

    // A declared next that execution does not produce.
    let mut tx = w.transfer(0, 1, 5, ExecContext::default());
    if let Value::Account(a) = &mut tx.body.moves[1].next {
        a.balance += U256::from(1u64);
    }
    let tx = sign(tx.body, &[&w.keys[0]]);
    let o = w.apply(vec![tx], Mode::Filter).expect("filter");
    assert_eq!(statuses(&o), vec![Status::Rejected(Reason::WriteMismatch)]);

    // Forged signature.
    let mut tx = w.transfer(0, 1, 5, ExecContext::default());
    tx.auths[0].signature.0[10] ^= 1;
    let o = w.apply(vec![tx], Mode::Filter).expect("filter");
    assert_eq!(statuses(&o), vec![Status::Rejected(Reason::BadSignature)]);

    // Signed by someone else.
    let tx = w.transfer(0, 1, 5, ExecContext::default());
    let tx = sign(tx.body, &[&w.keys[2]]);
    let o = w.apply(vec![tx], Mode::Filter).expect("filter");
    assert_eq!(
        statuses(&o),
        vec![Status::Rejected(Reason::SenderNotFirstSigner)]
    );

    // Wrong chain.
    let mut tx = w.transfer(0, 1, 5, ExecContext::default());
    tx.body.chain_id = 1;
    let tx = sign(tx.body, &[&w.keys[0]]);
    let o = w.apply(vec![tx], Mode::Filter).expect("filter");
    assert_eq!(statuses(&o), vec![Status::Rejected(Reason::WrongChainId)]);

    // Malformed and oversized batches are refused whole.
    let e =
        w.v.apply_bytes(&[1, 2, 3], Mode::Filter)
            .expect_err("garbage");
    assert_eq!(e.reason(), Some(Reason::Malformed));
    let mut huge = (1u64 << 40).to_le_bytes().to_vec();
    huge.extend_from_slice(&[0; 64]);
    let e = w.v.apply_bytes(&huge, Mode::Filter).expect_err("huge");
    assert_eq!(e.reason(), Some(Reason::LimitExceeded));
    let e =
        w.v.apply_bytes(&encode(&Batch::default()), Mode::Filter)
            .expect_err("empty");
    assert!(matches!(e, ApplyError::Empty));

    assert_eq!(w.v.state_hash(), before);
    assert_eq!(w.v.index_len(), entries);
    assert_eq!(w.v.head().height, 0);
}

#[test]
fn double_use_replay_cascade_and_strict_mode() {
    let mut w = Transfers::new(6);

    // Double use inside a batch: two transfers spending the same sender version.
    let a = w.transfer(0, 1, 5, ExecContext::default());
    let b = w.transfer(0, 2, 7, ExecContext::default());
    let o = w.apply(vec![a.clone(), b], Mode::Filter).expect("filter");
    assert_eq!(
        statuses(&o),
        vec![Status::Accepted, Status::Rejected(Reason::DoubleUseInBatch)]
    );
    assert!(!o.fast_path);
    w.accept(0, 1, &a);
    let after_a = w.v.state_hash();

    // Replay of the accepted transaction: its versions are spent.
    let o = w.apply(vec![a.clone()], Mode::Filter).expect("filter");
    assert_eq!(statuses(&o), vec![Status::Rejected(Reason::VersionNotLive)]);

    // Double use across batches: a different transaction on the old (spent) sender version.
    let mut stale = w.clone_state();
    stale.state[0] = (GENESIS_INTX, stale.start);
    stale.state[3] = w.state[3];
    let c = stale.transfer_from(&w, 0, 3, 1);
    let o = w.apply(vec![c], Mode::Filter).expect("filter");
    assert_eq!(statuses(&o), vec![Status::Rejected(Reason::VersionNotLive)]);
    assert_eq!(w.v.state_hash(), after_a);

    // Cascade: x is invalid (forged), y spends what x would have created.
    let mut x = w.transfer(2, 3, 1, ExecContext::default());
    x.auths[0].signature.0[3] ^= 1;
    w.accept(2, 3, &x);
    let y = w.transfer(3, 4, 1, ExecContext::default());
    w.accept(3, 4, &y);
    let z = w.transfer(5, 4, 1, ExecContext::default()); // recipient 4 version chains onto y's: cascades too
    let o = w.apply(vec![x, y, z], Mode::Filter).expect("filter");
    assert_eq!(
        statuses(&o),
        vec![
            Status::Rejected(Reason::BadSignature),
            Status::Rejected(Reason::DependsOnRejected),
            Status::Rejected(Reason::DependsOnRejected),
        ]
    );
    assert_eq!(w.v.state_hash(), after_a);

    // Strict mode: one invalid transaction refuses the whole batch; nothing changes.
    let mut w = Transfers::new(4);
    let good = w.transfer(0, 1, 1, ExecContext::default());
    let mut bad = w.transfer(2, 3, 1, ExecContext::default());
    bad.auths[0].signature.0[0] ^= 1;
    let before = (w.v.state_hash(), w.v.index_len());
    let e = w
        .apply(vec![good.clone(), bad], Mode::Strict)
        .expect_err("strict");
    match e {
        ApplyError::Strict { index, reason, .. } => {
            assert_eq!((index, reason), (1, Reason::BadSignature))
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!((w.v.state_hash(), w.v.index_len()), before);
    assert_eq!(w.v.head().height, 0);
    // The same good transaction then applies.
    let o = w.apply(vec![good], Mode::Strict).expect("strict ok");
    assert_eq!(o.accepted, 1);
}

impl Transfers {
    fn clone_state(&self) -> Stale {
        Stale {
            state: self.state.clone(),
            start: self.start(),
        }
    }
    fn start(&self) -> Account {
        Account {
            balance: mf_validator::sample::initial_balance(),
            nonce: 0,
            code_hash: EMPTY_CODE_HASH,
        }
    }
}

struct Stale {
    state: Vec<(TxId, Account)>,
    start: Account,
}

impl Stale {
    fn transfer_from(&self, w: &Transfers, f: usize, t: usize, value: u64) -> Transaction {
        let body = transfer_body(
            1337,
            w.keys[f].address(),
            self.state[f],
            w.keys[t].address(),
            self.state[t],
            U256::from(value),
            ExecContext::default(),
        );
        sign(body, &[&w.keys[f]])
    }
}

#[test]
fn filter_mode_drops_exactly_the_invalid_transactions() {
    // [good1, bad, good2] in filter mode ends in the same state as [good1, good2].
    let mut w1 = Transfers::new(6);
    let mut w2 = Transfers::new(6);
    let g1 = w1.transfer(0, 1, 3, ExecContext::default());
    let mut bad = w1.transfer(2, 3, 4, ExecContext::default());
    bad.auths[0].signature.0[7] ^= 1;
    let g2 = w1.transfer(4, 5, 5, ExecContext::default());
    let o = w1
        .apply(vec![g1.clone(), bad, g2.clone()], Mode::Filter)
        .expect("filter");
    assert_eq!(o.accepted, 2);
    let o2 = w2.apply(vec![g1, g2], Mode::Filter).expect("filter");
    assert_eq!(o2.accepted, 2);
    assert_eq!(w1.v.state_hash(), w2.v.state_hash());
    let (fresh, stored) = w1.v.check().expect("check");
    assert_eq!(fresh, stored);
}

#[test]
fn genesis_and_never_written_versions_are_used_once() {
    let mut w = Transfers::new(3);
    // A fresh address that was never written: its zero account is live at intx = 0.
    let fresh = Keypair::from_label("never written").address();
    let zero = (GENESIS_INTX, Account::EMPTY);
    let body = transfer_body(
        1337,
        w.keys[0].address(),
        w.state[0],
        fresh,
        zero,
        U256::from(9u64),
        ExecContext::default(),
    );
    let tx = sign(body, &[&w.keys[0]]);
    let o = w.apply(vec![tx.clone()], Mode::Filter).expect("filter");
    assert_eq!(statuses(&o), vec![Status::Accepted]);
    let id = tx_id(&tx.body);
    assert_eq!(
        w.v.version(&GENESIS_INTX, &Key::account(fresh))
            .expect("lookup"),
        VersionState::NotLive
    );
    assert!(matches!(
        w.v.version(&id, &Key::account(fresh)).expect("lookup"),
        VersionState::Live(_)
    ));
    w.accept(0, 1, &tx); // keys[0] advanced (index 1 untouched: fix it back)
    w.state[1] = (GENESIS_INTX, w.start());

    // Claiming the never-written version again fails.
    let body = transfer_body(
        1337,
        w.keys[1].address(),
        w.state[1],
        fresh,
        zero,
        U256::from(1u64),
        ExecContext::default(),
    );
    let again = sign(body, &[&w.keys[1]]);
    let o = w.apply(vec![again], Mode::Filter).expect("filter");
    assert_eq!(statuses(&o), vec![Status::Rejected(Reason::VersionNotLive)]);

    // A never-written key claimed with a non-zero prev is a prev mismatch.
    let other = Keypair::from_label("never written 2").address();
    let fake = Account {
        balance: U256::from(1u64),
        ..Account::EMPTY
    };
    let body = transfer_body(
        1337,
        w.keys[1].address(),
        w.state[1],
        other,
        (GENESIS_INTX, fake),
        U256::from(1u64),
        ExecContext::default(),
    );
    let tx = sign(body, &[&w.keys[1]]);
    let o = w.apply(vec![tx], Mode::Filter).expect("filter");
    assert_eq!(statuses(&o), vec![Status::Rejected(Reason::PrevMismatch)]);

    // Re-spending a stored genesis version fails after it was spent once.
    let g = (GENESIS_INTX, w.start());
    let body = transfer_body(
        1337,
        w.keys[0].address(),
        g,
        w.keys[2].address(),
        w.state[2],
        U256::from(1u64),
        ExecContext::default(),
    );
    let tx = sign(body, &[&w.keys[0]]);
    let o = w.apply(vec![tx], Mode::Filter).expect("filter");
    assert_eq!(statuses(&o), vec![Status::Rejected(Reason::VersionNotLive)]);
    let (fresh_hash, stored) = w.v.check().expect("check");
    assert_eq!(fresh_hash, stored);
}

#[test]
fn a_data_directory_is_opened_by_one_validator_at_a_time() {
    let w = Transfers::new(2);
    let dir = w.v.store().dir().to_path_buf();
    let second = Validator::open(&dir);
    assert!(
        matches!(second, Err(mf_validator::StoreError::Locked(_))),
        "second open must be refused"
    );
    drop(w);
}

/// The hardening review's item 8: after a failed commit the in-memory index is ahead of the
/// disk, and `version` used to answer from it (a version spent only by the batch that never
/// reached the disk was reported not live; one it created was looked up as if stored). Now
/// every lookup is refused until a restart, which answers from what is on disk.
#[test]
fn version_lookups_after_a_failed_commit_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = generate(&GenConfig {
        accounts: 200,
        txs: 20_000,
        batch_size: 1000,
        ..GenConfig::default()
    });
    drop(Validator::init(dir.path(), &s.genesis).expect("init"));
    // A store capped at its present size: the batches below need more pages.
    let file = dir.path().join("lmdb").join("data.mdb");
    let size = std::fs::metadata(&file).expect("data.mdb").len() as usize;
    let mut v = Validator::open_with_map_size(dir.path(), size.next_multiple_of(4096))
        .expect("open capped");
    v.set_clock(mf_validator::sample::sample_clock);
    let mut failed = None;
    for (i, b) in s.batches.iter().enumerate() {
        match v.apply_batch(b, Mode::Strict) {
            Ok(o) => assert_eq!(o.accepted, b.txs.len()),
            Err(ApplyError::Store(e)) => {
                failed = Some((i, e.to_string()));
                break;
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    let (i, why) = failed.expect("a commit fails once the map is full");
    let committed = v.store().height().expect("height").expect("some");
    assert_eq!(
        committed, i as u64,
        "batches before the failed one are on disk"
    );
    eprintln!("batch {} failed to commit: {why}", i + 1);

    // The first transaction of the failed batch: what it spent and what it created.
    let tx = &s.batches[i].txs[0];
    let m = &tx.body.moves[0];
    let spent = (m.intx, m.key());
    let created = (tx_id(&tx.body), m.key());
    for (intx, key) in [spent, created] {
        match v.version(&intx, &key) {
            Err(mf_validator::StoreError::Failed) => {}
            other => panic!("a lookup after a failed commit must be refused, got {other:?}"),
        }
    }
    drop(v);
    // After a restart: the disk's view.
    let v = Validator::open(dir.path()).expect("reopen");
    assert_eq!(v.head().height, committed);
    assert!(matches!(
        v.version(&spent.0, &spent.1).expect("lookup"),
        VersionState::Live(_) | VersionState::NeverWritten(_)
    ));
    assert_eq!(
        v.version(&created.0, &created.1).expect("lookup"),
        VersionState::NotLive
    );
}
