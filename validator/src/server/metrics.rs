//! The server's counters, updated by the worker and the handlers and rendered by
//! `GET /metrics` in the Prometheus text format.

use crate::{ApplyError, Outcome};
use mf_format::{Reason, Status};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Upper bounds (seconds) of the apply-time histogram buckets.
const APPLY_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// Refusals of a whole batch that have no protocol reason code.
const REFUSAL_EMPTY: usize = 0;
const REFUSAL_STORE: usize = 1;

/// Counters the worker and the handlers update; rendered by `GET /metrics`.
pub(super) struct Metrics {
    pub(super) height: AtomicU64,
    pub(super) applying: AtomicU64,
    pub(super) index_entries: AtomicU64,
    batches_applied: AtomicU64,
    batches_nothing_accepted: AtomicU64,
    txs_accepted: AtomicU64,
    /// Included as failed (the execution reverted or halted); counted in `txs_accepted` too.
    txs_failed: AtomicU64,
    moves_applied: AtomicU64,
    /// Rejected transactions, by position in [`Reason::ALL`].
    txs_rejected: Vec<AtomicU64>,
    /// Refused batches, by position in [`Reason::ALL`].
    batches_refused: Vec<AtomicU64>,
    /// Refused batches without a reason code: empty, store error.
    batches_refused_other: [AtomicU64; 2],
    pub(super) busy: AtomicU64,
    /// `POST /batch` bodies cut at their deadline (`408`).
    pub(super) body_timeouts: AtomicU64,
    apply_count: AtomicU64,
    apply_micros: AtomicU64,
    apply_buckets: [AtomicU64; APPLY_BUCKETS.len()],
    /// Seconds per stage (decode, stateless, apply, commit), in microseconds.
    stage_micros: [AtomicU64; 4],
}

fn reason_index(r: Reason) -> usize {
    Reason::ALL.iter().position(|x| *x == r).unwrap_or(0)
}

impl Metrics {
    pub(super) fn new(height: u64, index_entries: usize) -> Metrics {
        let zeros = || (0..Reason::ALL.len()).map(|_| AtomicU64::new(0)).collect();
        Metrics {
            height: AtomicU64::new(height),
            applying: AtomicU64::new(0),
            index_entries: AtomicU64::new(index_entries as u64),
            batches_applied: AtomicU64::new(0),
            batches_nothing_accepted: AtomicU64::new(0),
            txs_accepted: AtomicU64::new(0),
            txs_failed: AtomicU64::new(0),
            moves_applied: AtomicU64::new(0),
            txs_rejected: zeros(),
            batches_refused: zeros(),
            batches_refused_other: Default::default(),
            busy: AtomicU64::new(0),
            body_timeouts: AtomicU64::new(0),
            apply_count: AtomicU64::new(0),
            apply_micros: AtomicU64::new(0),
            apply_buckets: Default::default(),
            stage_micros: Default::default(),
        }
    }

    pub(super) fn observe_apply(&self, secs: f64) {
        self.apply_count.fetch_add(1, Relaxed);
        self.apply_micros.fetch_add((secs * 1e6) as u64, Relaxed);
        for (b, le) in self.apply_buckets.iter().zip(APPLY_BUCKETS) {
            if secs <= le {
                b.fetch_add(1, Relaxed);
            }
        }
    }

    pub(super) fn observe_outcome(&self, out: &Outcome) {
        let t = &out.timings;
        for (m, s) in self
            .stage_micros
            .iter()
            .zip([t.decode, t.stateless, t.apply, t.commit])
        {
            m.fetch_add((s * 1e6) as u64, Relaxed);
        }
        for r in &out.receipts {
            match r.status {
                Status::Rejected(reason) => {
                    self.txs_rejected[reason_index(reason)].fetch_add(1, Relaxed);
                }
                Status::Failed => {
                    self.txs_failed.fetch_add(1, Relaxed);
                }
                Status::Accepted => {}
            }
        }
        if out.header.is_some() {
            self.batches_applied.fetch_add(1, Relaxed);
            self.txs_accepted.fetch_add(out.accepted as u64, Relaxed);
            self.moves_applied.fetch_add(out.moves as u64, Relaxed);
        } else {
            self.batches_nothing_accepted.fetch_add(1, Relaxed);
        }
    }

    pub(super) fn observe_refusal(&self, e: &ApplyError) {
        match (e, e.reason()) {
            (_, Some(r)) => self.batches_refused[reason_index(r)].fetch_add(1, Relaxed),
            (ApplyError::Store(_), None) => {
                self.batches_refused_other[REFUSAL_STORE].fetch_add(1, Relaxed)
            }
            (_, None) => self.batches_refused_other[REFUSAL_EMPTY].fetch_add(1, Relaxed),
        };
    }

    pub(super) fn render(
        &self,
        queue_depth: usize,
        queue_capacity: usize,
        connections: &mf_api::server::ConnStats,
    ) -> String {
        let mut s = String::with_capacity(4096);
        let mut metric = |name: &str, kind: &str, help: &str, lines: &[(String, u64)]| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, v) in lines {
                let _ = writeln!(s, "{name}{labels} {v}");
            }
        };
        let one = |v: &AtomicU64| vec![(String::new(), v.load(Relaxed))];
        metric(
            "mf_height",
            "gauge",
            "Height of the last committed batch.",
            &one(&self.height),
        );
        metric(
            "mf_index_entries",
            "gauge",
            "Entries of the in-memory index (live versions and used markers).",
            &one(&self.index_entries),
        );
        metric(
            "mf_queue_depth",
            "gauge",
            "Batches waiting in the apply queue.",
            &[(String::new(), queue_depth as u64)],
        );
        metric(
            "mf_applying",
            "gauge",
            "1 while the worker is applying a batch.",
            &one(&self.applying),
        );
        metric(
            "mf_queue_capacity",
            "gauge",
            "Capacity of the apply queue.",
            &[(String::new(), queue_capacity as u64)],
        );
        metric(
            "mf_batches_applied_total",
            "counter",
            "Batches committed (at least one transaction accepted).",
            &one(&self.batches_applied),
        );
        metric(
            "mf_batches_nothing_accepted_total",
            "counter",
            "Batches decoded and checked in which no transaction was accepted (nothing written).",
            &one(&self.batches_nothing_accepted),
        );
        let mut refused: Vec<(String, u64)> = Reason::ALL
            .iter()
            .zip(&self.batches_refused)
            .map(|(r, c)| (format!("{{reason=\"{}\"}}", r.name()), c.load(Relaxed)))
            .filter(|(_, c)| *c > 0)
            .collect();
        for (name, c) in ["empty_batch", "store_error"]
            .iter()
            .zip(&self.batches_refused_other)
        {
            refused.push((format!("{{reason=\"{name}\"}}"), c.load(Relaxed)));
        }
        metric(
            "mf_batches_refused_total",
            "counter",
            "Batches refused as a whole (undecodable, empty, strict-mode invalid, store error).",
            &refused,
        );
        metric(
            "mf_txs_accepted_total",
            "counter",
            "Transactions included (their execution succeeded or failed).",
            &one(&self.txs_accepted),
        );
        metric(
            "mf_txs_failed_total",
            "counter",
            "Transactions included as failed: the execution reverted or halted, only the sender's nonce bump applied.",
            &one(&self.txs_failed),
        );
        let rejected: Vec<(String, u64)> = Reason::ALL
            .iter()
            .zip(&self.txs_rejected)
            .map(|(r, c)| (format!("{{reason=\"{}\"}}", r.name()), c.load(Relaxed)))
            .collect();
        metric(
            "mf_txs_rejected_total",
            "counter",
            "Transactions rejected, by reason (filter mode drops; strict refusals count here too).",
            &rejected,
        );
        metric(
            "mf_moves_applied_total",
            "counter",
            "Moves of accepted transactions.",
            &one(&self.moves_applied),
        );
        metric(
            "mf_busy_total",
            "counter",
            "Requests answered 503 because a queue was full.",
            &one(&self.busy),
        );
        metric(
            "mf_body_timeouts_total",
            "counter",
            "POST /batch bodies cut at their deadline (408).",
            &one(&self.body_timeouts),
        );
        metric(
            "mf_connections_open",
            "gauge",
            "HTTP connections open.",
            &[(String::new(), connections.open() as u64)],
        );
        metric(
            "mf_connections_refused_total",
            "counter",
            "Connections refused at a cap (503 too_many_connections), by cap.",
            &[
                ("{cap=\"per_ip\"}".to_string(), connections.refused_per_ip()),
                ("{cap=\"total\"}".to_string(), connections.refused_total()),
            ],
        );
        let stages: Vec<(String, u64)> = ["decode", "stateless", "apply", "commit"]
            .iter()
            .zip(&self.stage_micros)
            .map(|(n, m)| (format!("{{stage=\"{n}\"}}"), m.load(Relaxed)))
            .collect();
        metric(
            "mf_stage_microseconds_total",
            "counter",
            "Time spent per stage of batch application, in microseconds.",
            &stages,
        );
        let _ = writeln!(
            s,
            "# HELP mf_apply_seconds Time to apply one batch (worker, decode to commit).\n\
             # TYPE mf_apply_seconds histogram"
        );
        for (b, le) in self.apply_buckets.iter().zip(APPLY_BUCKETS) {
            let _ = writeln!(
                s,
                "mf_apply_seconds_bucket{{le=\"{le}\"}} {}",
                b.load(Relaxed)
            );
        }
        let count = self.apply_count.load(Relaxed);
        let _ = writeln!(s, "mf_apply_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            s,
            "mf_apply_seconds_sum {}",
            self.apply_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(s, "mf_apply_seconds_count {count}");
        s
    }
}
