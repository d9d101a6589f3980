//! The context window (PROTOCOL.md §6.3.1, `context_out_of_window` = 65) through a real
//! validator: block numbers in `[H - 256, H]`, timestamps within 15 s of the header times
//! around the declared block, with the header clock pinned so that the times are known; the
//! filter-mode cascade and strict mode.

use crate::util::Transfers;
use mf_format::limits::{CONTEXT_MAX_DRIFT_S, CONTEXT_WINDOW_BLOCKS};
use mf_format::*;
use mf_validator::sample::{GenConfig, generate, transfer_body};
use mf_validator::{ApplyError, Mode, Validator};

/// The pinned header time, in milliseconds (not a whole second, to check the rounding).
const NOW_MS: u64 = 1_800_000_000_789;
/// `T`: the header time in seconds.
const T: u64 = NOW_MS / 1000;

fn clock() -> u64 {
    NOW_MS
}

fn world_at_fixed_clock(accounts: usize) -> Transfers {
    let mut w = Transfers::new(accounts);
    w.v.set_clock(clock);
    w
}

impl Transfers {
    /// The height the next batch is applied at.
    fn next_height(&self) -> u64 {
        self.v.head().height + 1
    }
    /// Applies one transfer 0 -> 1 declaring `context`; returns its status. State, head and
    /// index must be unchanged when it is rejected.
    fn try_context(&mut self, context: ExecContext) -> Status {
        let before = (self.v.state_hash(), *self.v.head(), self.v.index_len());
        let tx = self.transfer(0, 1, 1, context);
        let o = self.apply(vec![tx.clone()], Mode::Filter).expect("filter");
        let status = o.receipts[0].status;
        if status == Status::Accepted {
            self.accept(0, 1, &tx);
            let header = o.header.expect("a header");
            assert_eq!(
                header.time_ms, NOW_MS,
                "the header carries the checked time"
            );
            assert_eq!(header.height, before.1.height + 1);
        } else {
            assert!(o.header.is_none());
            assert_eq!(
                (self.v.state_hash(), *self.v.head(), self.v.index_len()),
                before,
                "a rejection changes nothing"
            );
        }
        status
    }
    /// [`Transfers::try_context`] with a clock that is not [`NOW_MS`]: `time_s` is the
    /// batch's header time in seconds.
    fn try_context_at(&mut self, context: ExecContext, time_s: u64) -> Status {
        let before = (self.v.state_hash(), *self.v.head(), self.v.index_len());
        let tx = self.transfer(0, 1, 1, context);
        let o = self.apply(vec![tx.clone()], Mode::Filter).expect("filter");
        let status = o.receipts[0].status;
        if status == Status::Accepted {
            self.accept(0, 1, &tx);
            assert_eq!(o.header.expect("a header").time_ms / 1000, time_s);
        } else {
            assert!(o.header.is_none());
            assert_eq!(
                (self.v.state_hash(), *self.v.head(), self.v.index_len()),
                before,
                "a rejection changes nothing"
            );
        }
        status
    }
    /// Applies one-transfer batches (context = the batch's height) until the head is `height`.
    fn advance_to(&mut self, height: u64) {
        while self.v.head().height < height {
            let h = self.next_height();
            let tx = self.transfer(
                2,
                3,
                1,
                ExecContext {
                    block_number: h,
                    timestamp: T,
                },
            );
            let o = self
                .apply(vec![tx.clone()], Mode::Strict)
                .expect("in window");
            assert_eq!(o.accepted, 1);
            self.accept(2, 3, &tx);
        }
    }
}

const OUT: Status = Status::Rejected(Reason::ContextOutOfWindow);

fn ctx(block_number: u64, timestamp: u64) -> ExecContext {
    ExecContext {
        block_number,
        timestamp,
    }
}

#[test]
fn block_numbers_must_lie_in_the_last_257_heights() {
    let mut w = world_at_fixed_clock(4);
    // Low heights: the lower bound saturates at 0, so the default context is valid.
    assert_eq!(w.try_context(ExecContext::default()), Status::Accepted);
    assert_eq!(w.next_height(), 2);
    assert_eq!(w.try_context(ctx(3, T)), OUT, "H + 1");
    assert_eq!(
        w.try_context(ctx(u64::MAX, T)),
        OUT,
        "far future, no overflow"
    );
    assert_eq!(w.try_context(ctx(2, T)), Status::Accepted, "exactly H");

    w.advance_to(299);
    let h = w.next_height();
    assert_eq!(h, 300);
    assert_eq!(w.try_context(ctx(h + 1, T)), OUT, "H + 1");
    assert_eq!(
        w.try_context(ctx(h - CONTEXT_WINDOW_BLOCKS - 1, T)),
        OUT,
        "H - 257"
    );
    assert_eq!(w.try_context(ExecContext::default()), OUT, "0 at H = 300");
    assert_eq!(
        w.try_context(ctx(h - CONTEXT_WINDOW_BLOCKS, T)),
        Status::Accepted,
        "exactly H - 256"
    );
    let h = w.next_height();
    assert_eq!(w.try_context(ctx(h, T)), Status::Accepted, "exactly H");
    let h = w.next_height();
    assert_eq!(w.try_context(ctx(h - 1, T)), Status::Accepted, "H - 1");
    let (fresh, stored) = w.v.check().expect("check");
    assert_eq!(fresh, stored);
}

#[test]
fn timestamps_may_run_at_most_15_seconds_ahead_of_the_header_time() {
    let mut w = world_at_fixed_clock(4);
    assert_eq!(
        w.try_context(ctx(1, T + CONTEXT_MAX_DRIFT_S + 1)),
        OUT,
        "T + 16"
    );
    assert_eq!(w.try_context(ctx(1, u64::MAX)), OUT, "far future");
    assert_eq!(
        w.try_context(ctx(1, T + CONTEXT_MAX_DRIFT_S)),
        Status::Accepted,
        "exactly T + 15 (T rounds the header's milliseconds down)"
    );
}

/// The lower bound (the hardening review's item 2): a transaction at height 2 used to be
/// able to declare timestamp 0, and time could run backwards between transactions. Header
/// times here are 100 s apart, so every bound is visible.
#[test]
fn block_timestamp_has_a_lower_bound() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
    let mut w = Transfers::new(4);
    let now = Arc::new(AtomicU64::new(NOW_MS));
    let clock = Arc::clone(&now);
    w.v.set_clock(move || clock.load(SeqCst));
    // time(n) = T + 100 (n - 1) for n >= 1; the genesis header's time is 0.
    let time = |n: u64| T + 100 * (n - 1);
    let set_height = |w: &mut Transfers| {
        let h = w.next_height();
        now.store(time(h) * 1000 + 789, SeqCst);
        h
    };
    let h = set_height(&mut w);
    assert_eq!(w.try_context_at(ctx(1, T), time(h)), Status::Accepted);
    let h = set_height(&mut w);
    // The demonstrated hole: height 2, timestamp 0.
    assert_eq!(w.try_context_at(ctx(2, 0), time(h)), OUT, "timestamp 0");
    assert_eq!(w.try_context_at(ctx(2, time(2)), time(h)), Status::Accepted);
    let h = set_height(&mut w);
    assert_eq!(w.try_context_at(ctx(3, time(3)), time(h)), Status::Accepted);
    let h = set_height(&mut w);
    assert_eq!(h, 4);
    let d = CONTEXT_MAX_DRIFT_S;
    // The declared block is the batch's own: between time(3) - 15 and T(4) + 15.
    let cases = [
        (ctx(4, time(4) + d), true, "T + 15"),
        (ctx(4, time(4) + d + 1), false, "T + 16"),
        (ctx(4, time(3) - d), true, "the parent's time - 15"),
        (ctx(4, time(3) - d - 1), false, "the parent's time - 16"),
        // An earlier block: between time(1) - 15 and time(2) + 15.
        (ctx(2, time(2) + d), true, "block 2's time + 15"),
        (
            ctx(2, time(2) + d + 1),
            false,
            "later than block 2 could have seen",
        ),
        (ctx(2, time(1) - d), true, "block 1's time - 15"),
        (ctx(2, time(1) - d - 1), false, "earlier than block 1"),
        (ctx(3, 0), false, "timestamp 0 at block 3"),
        (
            ctx(3, time(1)),
            false,
            "block 3 cannot be as early as block 1",
        ),
        (
            ctx(2, time(4)),
            false,
            "block 2 cannot be as late as block 4",
        ),
    ];
    for (c, ok, why) in cases {
        let want = if ok { Status::Accepted } else { OUT };
        let h = set_height(&mut w);
        // Each accepted case moves the chain on; the bounds above are about heights 1-4,
        // which do not change.
        assert_eq!(w.try_context_at(c, time(h)), want, "{why}: {c:?} at {h}");
    }
    // Header times never run backwards, whatever the clock says.
    now.store(0, SeqCst);
    let before = w.v.head().time_ms;
    let h = w.next_height();
    let tx = w.transfer(2, 3, 1, ctx(h, before / 1000));
    let o = w.apply(vec![tx.clone()], Mode::Strict).expect("in window");
    assert_eq!(
        o.header.expect("a header").time_ms,
        before,
        "the parent's time"
    );
}

#[test]
fn the_real_clock_refuses_a_context_an_hour_ahead() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = generate(&GenConfig {
        accounts: 2,
        txs: 0,
        ..GenConfig::default()
    });
    let mut v = Validator::init(dir.path(), &s.genesis).expect("init");
    let now_s = mf_validator::now_ms() / 1000;
    let start = match s.genesis.versions[0].1 {
        Value::Account(a) => a,
        Value::Storage(_) => unreachable!(),
    };
    let tx = |timestamp| {
        let body = transfer_body(
            1337,
            s.keys[0].address(),
            (GENESIS_INTX, start),
            s.keys[1].address(),
            (GENESIS_INTX, start),
            U256::from(1u64),
            ctx(1, timestamp),
        );
        sign(body, &[&s.keys[0]])
    };
    let before = v.state_hash();
    let o = v
        .apply_batch(
            &Batch {
                txs: vec![tx(now_s + 3600)],
            },
            Mode::Filter,
        )
        .expect("filter");
    assert_eq!(o.receipts[0].status, OUT);
    assert_eq!(v.state_hash(), before);
    let o = v
        .apply_batch(
            &Batch {
                txs: vec![tx(now_s)],
            },
            Mode::Filter,
        )
        .expect("filter");
    assert_eq!(o.receipts[0].status, Status::Accepted);
    let t = o.header.expect("header").time_ms / 1000;
    assert!(t >= now_s && t < now_s + 60, "the header time is the clock");
}

#[test]
fn out_of_window_cascades_in_filter_mode_and_refuses_a_strict_batch() {
    let mut w = world_at_fixed_clock(6);
    let mut twin = world_at_fixed_clock(6);
    let h = w.next_height();
    // x is out of window; y spends what x would have created; z is independent.
    let x = w.transfer(0, 1, 1, ctx(h + 1, 0));
    w.accept(0, 1, &x);
    let y = w.transfer(1, 2, 1, ctx(h, 0));
    w.accept(1, 2, &y);
    let z = w.transfer(3, 4, 1, ctx(h, 0));
    let o = w
        .apply(vec![x, y, z.clone()], Mode::Filter)
        .expect("filter");
    let statuses: Vec<Status> = o.receipts.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        vec![
            OUT,
            Status::Rejected(Reason::DependsOnRejected),
            Status::Accepted
        ]
    );
    assert!(!o.fast_path, "a rejection takes the exact sequential path");
    // The same state as applying z alone.
    let o2 = twin.apply(vec![z], Mode::Filter).expect("filter");
    assert_eq!(o2.accepted, 1);
    assert_eq!(w.v.state_hash(), twin.v.state_hash());

    // Strict: one out-of-window transaction refuses the batch; nothing changes.
    let mut w = world_at_fixed_clock(4);
    let h = w.next_height();
    let good = w.transfer(0, 1, 1, ctx(h, 0));
    let late = w.transfer(2, 3, 1, ctx(h, T + CONTEXT_MAX_DRIFT_S + 1));
    let before = (w.v.state_hash(), *w.v.head(), w.v.index_len());
    match w.apply(vec![good.clone(), late], Mode::Strict) {
        Err(ApplyError::Strict { index, reason, .. }) => {
            assert_eq!((index, reason), (1, Reason::ContextOutOfWindow))
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!((w.v.state_hash(), *w.v.head(), w.v.index_len()), before);
    let o = w.apply(vec![good], Mode::Strict).expect("strict ok");
    assert_eq!(o.accepted, 1);
}

#[test]
fn a_stateless_failure_takes_precedence_over_the_window() {
    // Re-execution (62) and signatures (43) are reported before the window (65).
    let mut w = world_at_fixed_clock(4);
    let h = w.next_height();
    let mut tx = w.transfer(0, 1, 1, ctx(h + 5, 0));
    if let Value::Account(a) = &mut tx.body.moves[1].next {
        a.balance += U256::from(1u64);
    }
    let tx = sign(tx.body, &[&w.keys[0]]);
    let o = w.apply(vec![tx.clone()], Mode::Filter).expect("filter");
    assert_eq!(
        o.receipts[0].status,
        Status::Rejected(Reason::WriteMismatch)
    );
    let mut forged = tx;
    forged.auths[0].signature.0[5] ^= 1;
    let o = w.apply(vec![forged], Mode::Filter).expect("filter");
    assert_eq!(o.receipts[0].status, Status::Rejected(Reason::BadSignature));
}
