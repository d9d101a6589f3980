//! The worker: one OS thread that owns the [`Validator`], applies posted batches one at a
//! time from the bounded batch queue, and answers version lookups (which need the in-memory
//! index) from a second queue, fairly: a bounded round of lookups, then one batch.

use super::metrics::Metrics;
use crate::{ApplyError, Located, Mode, Validator};
use axum::body::Bytes;
use axum::http::StatusCode;
use mf_api::{BatchApplied, BatchRefused, ReceiptJson};
use mf_format::{B256, Key, Reason, header_hash};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, watch};

/// What the worker answers to a posted batch.
#[derive(Clone)]
pub(super) enum BatchReply {
    /// `200`: applied (possibly nothing accepted).
    Applied(BatchApplied),
    /// Refused as a whole, with this status.
    Refused(StatusCode, BatchRefused),
}

/// A posted batch and where its answer goes.
pub(super) struct ApplyJob {
    pub(super) bytes: Bytes,
    pub(super) reply: oneshot::Sender<BatchReply>,
    /// The body memory the bytes hold, given back when the job is dropped (applied).
    pub(super) _memory: Option<tokio::sync::OwnedSemaphorePermit>,
    /// On a replica, the order-stream message: its sequence and stored time (ms), the
    /// header time ([`crate::Validator::apply_ordered`]).
    pub(super) order: Option<(u64, u64)>,
}

/// A version lookup and where its answer goes: the index's answer only (one probe); the
/// handler reads a live value from the store itself, off this thread.
pub(super) struct VersionJob {
    pub(super) intx: B256,
    pub(super) key: Key,
    pub(super) reply: oneshot::Sender<Result<Located, String>>,
}

/// Most version lookups the worker answers between two batches. A lookup is one probe of
/// the in-memory index, so a round is far shorter than a batch: a flood of lookups delays a
/// queued batch by one round at most, and a stream of batches delays a lookup by one batch.
pub(super) const LOOKUPS_PER_ROUND: usize = 1024;

/// Sets the shutdown flag when the worker ends, however it ends (a panic included), so that
/// the HTTP side stops too.
struct ShutdownOnDrop(Arc<watch::Sender<bool>>);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

/// The validator and what the worker publishes: metrics and the committed height.
pub(super) struct Worker {
    pub(super) validator: Validator,
    pub(super) mode: Mode,
    pub(super) metrics: Arc<Metrics>,
    pub(super) head: watch::Sender<u64>,
}

impl Worker {
    fn apply(&mut self, job: &ApplyJob) -> BatchReply {
        let t = Instant::now();
        self.metrics.applying.store(1, Relaxed);
        let result = match job.order {
            Some((seq, time_ms)) => self
                .validator
                .apply_ordered(&job.bytes, self.mode, seq, time_ms),
            None => self.validator.apply_bytes(&job.bytes, self.mode),
        };
        self.metrics.applying.store(0, Relaxed);
        let secs = t.elapsed().as_secs_f64();
        self.metrics.observe_apply(secs);
        match result {
            Ok(out) => {
                self.metrics.observe_outcome(&out);
                let (height, hash) = match &out.header {
                    Some(h) => {
                        self.metrics.height.store(h.height, Relaxed);
                        self.metrics
                            .index_entries
                            .store(self.validator.index_len() as u64, Relaxed);
                        self.head.send_replace(h.height);
                        tracing::info!(
                            height = h.height,
                            txs = out.receipts.len(),
                            accepted = out.accepted,
                            moves = out.moves,
                            ms = format_args!("{:.2}", secs * 1e3),
                            "batch applied"
                        );
                        (Some(h.height), Some(header_hash(h)))
                    }
                    None => {
                        tracing::info!(
                            txs = out.receipts.len(),
                            "batch checked: no transaction accepted, nothing written"
                        );
                        (None, None)
                    }
                };
                BatchReply::Applied(BatchApplied {
                    accepted: out.accepted,
                    header_hash: hash,
                    height,
                    moves: out.moves,
                    receipts: out.receipts.iter().map(ReceiptJson::from).collect(),
                    state_hash: self.validator.state_hash(),
                })
            }
            Err(e) => {
                self.metrics.observe_refusal(&e);
                tracing::warn!("{e}");
                refusal(&e)
            }
        }
    }
}

/// The answer to a batch refused as a whole.
fn refusal(e: &ApplyError) -> BatchReply {
    let error = e.to_string();
    match e {
        ApplyError::Decode(f) => BatchReply::Refused(
            StatusCode::BAD_REQUEST,
            BatchRefused::with_reason(error, f.reason()),
        ),
        ApplyError::Empty => BatchReply::Refused(
            StatusCode::BAD_REQUEST,
            BatchRefused::without_code(error, BatchRefused::EMPTY_BATCH),
        ),
        ApplyError::Strict {
            index,
            tx_id,
            reason,
            receipts,
        } => BatchReply::Refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            BatchRefused {
                index: Some(*index),
                tx_id: Some(*tx_id),
                receipts: Some(receipts.iter().map(ReceiptJson::from).collect()),
                ..BatchRefused::with_reason(error, *reason)
            },
        ),
        ApplyError::FeeCredit(_) => BatchReply::Refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            BatchRefused::with_reason(error, Reason::InvalidFeeCredit),
        ),
        ApplyError::Store(_) => BatchReply::Refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            BatchRefused::without_code(error, BatchRefused::STORE_ERROR),
        ),
    }
}

/// The worker's loop, until the stop flag is raised or the batch queue closes: a round of
/// at most [`LOOKUPS_PER_ROUND`] waiting lookups, then the next batch if one is queued;
/// when neither is waiting, it sleeps until one arrives.
pub(super) fn run_worker(
    mut worker: Worker,
    mut batches: mpsc::Receiver<ApplyJob>,
    mut versions: mpsc::Receiver<VersionJob>,
    shutdown: Arc<watch::Sender<bool>>,
) {
    let _guard = ShutdownOnDrop(Arc::clone(&shutdown));
    let rt = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the worker's event loop: {e}");
            return;
        }
    };
    let mut stop = shutdown.subscribe();
    let lookup = |worker: &Worker, job: VersionJob| {
        let r = worker.validator.locate(&job.intx, &job.key);
        let _ = job.reply.send(r.map_err(|e| e.to_string()));
    };
    rt.block_on(async move {
        loop {
            if *stop.borrow() {
                break;
            }
            let mut served = 0;
            while served < LOOKUPS_PER_ROUND {
                let Ok(job) = versions.try_recv() else { break };
                lookup(&worker, job);
                served += 1;
            }
            match batches.try_recv() {
                Ok(job) => {
                    let answer = worker.apply(&job);
                    // The client may have gone; the batch is applied all the same.
                    let _ = job.reply.send(answer);
                    continue;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {}
            }
            if served > 0 {
                continue;
            }
            tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => break,
                Some(job) = versions.recv() => lookup(&worker, job),
                job = batches.recv() => match job {
                    Some(job) => {
                        let answer = worker.apply(&job);
                        let _ = job.reply.send(answer);
                    }
                    None => break,
                },
            }
        }
        tracing::info!(
            height = worker.validator.head().height,
            "apply worker stopped"
        );
    });
}
