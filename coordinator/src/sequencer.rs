//! Sequencing: intents in, filled batches out, verdicts back.
//!
//! One thread runs the loop:
//!
//! 1. **Cut** a batch: everything that arrived while the previous batch was out (at most
//!    `batch_max`, default 2048); when the loop was idle, wait for a first intent and then
//!    up to `batch_wait` (default 20 ms) for more.
//! 2. **Catch up**: before filling, wait until the index has applied the height of the last
//!    batch this coordinator got accepted (and, after a lost race, the validator's head), so
//!    fills see their own previous effects and the winner's.
//! 3. **Fill** ([`fill_batch`]): intents are grouped by the keys their moves declare
//!    (union-find): intents sharing a key (a hot pool, one wallet's account) form one group
//!    and are filled one after the other in arrival order (first come, first served)
//!    against a speculative overlay of the group's earlier fills, so later ones consume the
//!    versions earlier ones create (chained `intx` inside the batch); groups are filled in
//!    parallel. A merge pass in arrival order then checks every fill against the overlay of
//!    the whole batch (an `open` intent may add keys no other intent declared) and re-fills
//!    the few that collide. An intent that cannot be filled (revert, a signed field the
//!    state contradicts, a minimum not met) is rejected with its reason and leaves nothing
//!    in the overlay.
//! 4. **Budget**: the fills are admitted to the batch's gas and receipt budgets in arrival
//!    order, by the validator's own rules ([`fit_batch_budget`], `mf_format::GasBudget`
//!    under the chain's batch gas limit and `mf_format::ReceiptBudget`), so that the
//!    validator never cuts a batch of ours with `batch_gas_full` or `batch_receipts_full`:
//!    a fill that does not fit what is left, and every fill chained on it, waits for the
//!    next batch (it is filled again then, and this does not count as an attempt); a fill
//!    whose receipt alone is over the per-transaction cap is rejected
//!    (`receipt_too_large`).
//! 5. **Submit** in filter mode (`POST /batch`), after recording every fill's transaction
//!    id, so that the feed recognises acceptance even if this answer is lost.
//! 6. **Verdicts**: accepted transactions become `accepted` when the follower applies their
//!    height. A transaction that lost a race (`version_not_live`, `prev_mismatch`,
//!    `double_use_in_batch`, `depends_on_rejected`, `duplicate_transaction`) goes back to the
//!    front of the queue, to be re-filled once the index has caught up, up to
//!    `max_attempts` fills; any other reason is final.
//!
//! If the validator cannot be reached, the loop waits for it, catches up to its head, and
//! re-queues the batch: whatever it had applied is then known from the feed and is not
//! filled again.

use crate::CoordError;
use crate::service::Shared;
use crate::store::{CoordDb, IndexReader};
use crate::upstream::Submitted;
use mf_format::limits::MAX_TX_RECEIPT_BYTES;
use mf_format::{
    Batch, GasBudget, Key, Reason, ReceiptBudget, Transaction, TxId, check_receipt_len, encode,
    receipt_len,
};
use mf_movegen::rpc::{IntentState, IntentStatus};
// Every intent reaching the sequencer had its signatures verified at intake (`mf_sendIntent`
// verifies before journaling), so fills skip the re-verification (`fill_preverified`).
use mf_movegen::{Built, FillError, MovegenError, Overlay, OverlayError, fill_preverified_under};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// An intent waiting to be filled.
pub struct Job {
    /// Its id.
    pub intent: TxId,
    /// The transaction as the wallet signed it.
    pub tx: Transaction,
    /// Arrival order.
    pub seq: u64,
    /// Its current status.
    pub status: IntentStatus,
}

/// A rejection: `(protocol reason or coordinator reason name, detail)`.
pub fn fill_rejection(e: &FillError) -> (Result<Reason, &'static str>, String) {
    match e {
        FillError::Structure(r) | FillError::Signature(r) => (Ok(*r), e.to_string()),
        FillError::Execution(MovegenError::Execution(f)) => {
            (Ok(Reason::ExecutionFailed), f.to_string())
        }
        FillError::Execution(other) => (Err("coordinator_error"), other.to_string()),
        FillError::SignedFieldChanged { .. } => (
            Err("signed_field_changed"),
            format!("{e}: the intent was signed against a state that has moved on"),
        ),
        FillError::MoveNoLongerTouched(_) => (Err("signed_move_not_touched"), e.to_string()),
        FillError::MovesAddedToClosedTx(_) => (Err("closed_needs_moves"), e.to_string()),
    }
}

fn reject_with(st: &mut IntentStatus, e: &FillError) {
    let (reason, detail) = fill_rejection(e);
    let detail = match &st.reason {
        Some(prev) if st.attempts > 0 => {
            format!("after a lost race ({prev}) the intent could not be filled again: {detail}")
        }
        _ => detail,
    };
    match reason {
        Ok(r) => st.reject(r, Some(detail)),
        Err(name) => st.reject_named(name, Some(detail)),
    }
}

/// Groups job indices by shared declared keys (union-find); each group in arrival order,
/// groups ordered by their first member.
pub fn group_by_keys(txs: &[&Transaction]) -> Vec<Vec<usize>> {
    fn find(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let mut parent: Vec<usize> = (0..txs.len()).collect();
    let mut owner: HashMap<Key, usize> = HashMap::new();
    for (i, tx) in txs.iter().enumerate() {
        for m in &tx.body.moves {
            match owner.get(&m.key()) {
                Some(&o) => {
                    let (a, b) = (find(&mut parent, o), find(&mut parent, i));
                    if a != b {
                        parent[a.max(b)] = a.min(b);
                    }
                }
                None => {
                    owner.insert(m.key(), i);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..txs.len() {
        let r = find(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    groups.into_values().collect()
}

/// Fills `txs` as one batch against `store`'s index (see the module documentation):
/// results in input order.
pub fn fill_batch(
    store: &CoordDb,
    txs: &[&Transaction],
) -> Result<Vec<Result<Built, FillError>>, CoordError> {
    let groups = group_by_keys(txs);
    let rules = store.rules()?;
    let rules = &rules;
    let mut first: Vec<(usize, Result<Built, FillError>)> = groups
        .par_iter()
        .map_init(
            || store.reader(),
            |reader, group| {
                let base = match reader {
                    Ok(base) => base,
                    Err(e) => {
                        // Opening a reader failed (LMDB): every fill of the group reports it.
                        let e = e.to_string();
                        return group
                            .iter()
                            .map(|&i| {
                                let err = MovegenError::View(e.clone().into());
                                (i, Err(FillError::Execution(err)))
                            })
                            .collect();
                    }
                };
                // The group's earlier fills, over the index: later ones chain on them.
                let mut overlay = Overlay::new(&*base);
                let mut out = Vec::with_capacity(group.len());
                for &i in group {
                    let r = fill_preverified_under(txs[i], &overlay, rules);
                    if let Ok(b) = &r {
                        // A fill against the overlay names its live versions, so this
                        // applies; if it did not, the merge pass below, which checks every
                        // fill again, re-fills or reports it.
                        let _ = overlay.apply(&b.tx.body);
                    }
                    out.push((i, r));
                }
                out
            },
        )
        .flatten()
        .collect();
    first.sort_by_key(|(i, _)| *i);

    // Merge in arrival order over one consistent reader: each fill must still apply on top
    // of the batch so far, or it is filled again against it.
    let reader: IndexReader<'_> = store.reader()?;
    let mut overlay = Overlay::new(&reader);
    let mut out = Vec::with_capacity(first.len());
    for (i, r) in first {
        let r = match r {
            Ok(b) => match overlay.apply(&b.tx.body) {
                Ok(_) => Ok(b),
                Err(OverlayError::View(e)) => return Err(e),
                Err(OverlayError::Stale(_)) => {
                    match fill_preverified_under(txs[i], &overlay, rules) {
                        Ok(b) => match overlay.apply(&b.tx.body) {
                            Ok(_) => Ok(b),
                            Err(OverlayError::View(e)) => return Err(e),
                            // Cannot happen (the fill read this overlay): never submit it.
                            Err(OverlayError::Stale(s)) => {
                                Err(FillError::Execution(MovegenError::StaleMove(s)))
                            }
                        },
                        Err(e) => Err(e),
                    }
                }
            },
            Err(e) => Err(e),
        };
        out.push(r);
    }
    Ok(out)
}

/// Where a fill goes under the batch's budgets ([`fit_batch_budget`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budgeted {
    /// Into this batch.
    Include,
    /// Into a later batch: its gas limit or its receipt does not fit what this batch has
    /// left, or it uses a version that a fill left out of this batch creates.
    Defer,
    /// Nowhere: its receipt alone is over `MAX_TX_RECEIPT_BYTES` (`receipt_too_large`).
    TooLarge,
}

/// The validator's budgets (PROTOCOL.md §6.4.3) applied to fills in batch order: the gas
/// budget (`mf_format::GasBudget`: the sum of gas limits within `batch_gas_limit`) and the
/// receipt budget (`mf_format::ReceiptBudget`), counting each one's receipt as its execution
/// gives it ([`receipt_len`] of its logs). Every fill included would also be admitted by
/// the validator, which counts at most the fills included (they are all it executes, and
/// re-execution gives the same logs). A fill chained on one left out is left out too: the
/// version it uses will not exist.
pub fn fit_batch_budget(fills: &[&Built], batch_gas_limit: u64) -> Vec<Budgeted> {
    let mut budget = ReceiptBudget::new();
    let mut gas = GasBudget::new(batch_gas_limit);
    let mut left_out: HashSet<TxId> = HashSet::new();
    fills
        .iter()
        .map(|b| {
            let len = receipt_len(&b.execution.logs);
            let v = if check_receipt_len(len).is_err() {
                Budgeted::TooLarge
            } else if b.tx.body.moves.iter().any(|m| left_out.contains(&m.intx)) {
                Budgeted::Defer
            } else {
                // Admitted to both budgets or to neither.
                let (mut g, mut r) = (gas, budget);
                if g.admit(b.tx.body.call.gas_limit).is_ok() && r.admit(len).is_ok() {
                    (gas, budget) = (g, r);
                    Budgeted::Include
                } else {
                    Budgeted::Defer
                }
            };
            if v != Budgeted::Include {
                left_out.insert(b.id);
            }
            v
        })
        .collect()
}

fn is_race(r: Reason) -> bool {
    matches!(
        r,
        Reason::VersionNotLive
            | Reason::PrevMismatch
            | Reason::DoubleUseInBatch
            | Reason::DependsOnRejected
            | Reason::DuplicateTransaction
    )
}

/// The sequencer thread (see the module documentation).
pub fn run(shared: Arc<Shared>, rx: mpsc::Receiver<Job>) {
    let threads = match shared.cfg.fill_threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("mf-fill-{i}"))
        .build()
    {
        Ok(p) => p,
        Err(e) => {
            shared.fail(CoordError::Thread {
                name: "mf-fill".into(),
                detail: e.to_string(),
            });
            return;
        }
    };
    // Nothing can be filled before the genesis is in.
    while !shared.stopping() {
        if shared
            .store
            .changes()
            .wait_until(Duration::from_millis(500), || {
                matches!(shared.store.head(), Ok(Some(_)))
            })
        {
            break;
        }
    }
    // After a restart, see everything the validator has before filling anything.
    let mut min_height = upstream_head(&shared);
    let mut queue: VecDeque<Job> = VecDeque::new();
    while !shared.stopping() {
        // Whatever arrived while the last batch was out joins this one without waiting:
        // under load, batches are cut back to back; `batch_wait` only applies when the
        // loop was idle.
        let waited_during_last = !queue.is_empty();
        while queue.len() < shared.cfg.batch_max {
            match rx.try_recv() {
                Ok(j) => queue.push_back(j),
                Err(_) => break,
            }
        }
        let busy = waited_during_last || queue.len() > 1;
        if queue.is_empty() {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(j) => queue.push_back(j),
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let deadline = Instant::now()
            + if busy {
                Duration::ZERO
            } else {
                shared.cfg.batch_wait
            };
        while queue.len() < shared.cfg.batch_max {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match rx.recv_timeout(deadline - now) {
                Ok(j) => queue.push_back(j),
                Err(_) => break,
            }
        }
        if min_height > 0 {
            shared
                .store
                .changes()
                .wait_until(Duration::from_secs(10), || {
                    shared.stopping()
                        || matches!(shared.store.head(), Ok(Some(h)) if h.height >= min_height)
                });
        }
        let take = queue.len().min(shared.cfg.batch_max);
        let jobs: Vec<Job> = queue.drain(..take).collect();
        match pool.install(|| one_batch(&shared, jobs)) {
            Ok(mut step) => {
                min_height = min_height.max(step.min_height);
                // In arrival order: a fill left out for the budget comes back before the
                // later intents chained on it.
                step.requeue.sort_by_key(|j| j.seq);
                for j in step.requeue.into_iter().rev() {
                    queue.push_front(j);
                }
            }
            Err(e) => {
                shared.fail(e);
                return;
            }
        }
    }
}

fn upstream_head(shared: &Shared) -> u64 {
    let mut backoff = Duration::from_millis(50);
    while !shared.stopping() {
        let at = shared.upstream.current();
        match shared.upstream.head_height() {
            Ok(h) => return h,
            Err(e) => {
                tracing::warn!("waiting for the validator: {e}");
                shared.fail_over(at);
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
    0
}

struct Step {
    min_height: u64,
    requeue: Vec<Job>,
}

fn one_batch(shared: &Shared, jobs: Vec<Job>) -> Result<Step, CoordError> {
    let store = &shared.store;
    let mut step = Step {
        min_height: 0,
        requeue: Vec::new(),
    };
    // Intents the chain already accepted (a resubmission after a lost answer) are done.
    let mut live = Vec::with_capacity(jobs.len());
    for mut j in jobs {
        match store.intent(&j.intent)? {
            Some(st) if st.status.is_final() => {}
            Some(st) => {
                j.status = st;
                live.push(j);
            }
            None => live.push(j),
        }
    }
    let mut finals: Vec<IntentStatus> = Vec::new();
    let mut ready: Vec<Job> = Vec::with_capacity(live.len());
    for mut j in live {
        if j.status.attempts >= shared.cfg.max_attempts {
            // Final with the reason of the last lost race (every rejection has a reason).
            let detail = format!(
                "gave up after {} fills that lost races; the last failed with {}",
                j.status.attempts,
                j.status.reason.as_deref().unwrap_or("no verdict")
            );
            if j.status.reason.is_some() {
                j.status.status = IntentState::Rejected;
                j.status.detail = Some(detail);
            } else {
                j.status.reject_named("max_attempts", Some(detail));
            }
            finals.push(j.status);
        } else {
            ready.push(j);
        }
    }
    let txs: Vec<&Transaction> = ready.iter().map(|j| &j.tx).collect();
    let results = fill_batch(store, &txs)?;
    let mut fills: Vec<(Job, Built)> = Vec::with_capacity(ready.len());
    for (mut j, r) in ready.into_iter().zip(results) {
        match r {
            Ok(b) => fills.push((j, b)),
            Err(e) => {
                reject_with(&mut j.status, &e);
                finals.push(j.status);
            }
        }
    }
    let budgeted = fit_batch_budget(
        &fills.iter().map(|(_, b)| b).collect::<Vec<_>>(),
        store.rules()?.batch_gas_limit,
    );
    let mut filled: Vec<(Job, Built)> = Vec::with_capacity(fills.len());
    for ((mut j, b), v) in fills.into_iter().zip(budgeted) {
        match v {
            Budgeted::Include => filled.push((j, b)),
            Budgeted::Defer => step.requeue.push(j),
            Budgeted::TooLarge => {
                let len = receipt_len(&b.execution.logs);
                j.status.reject(
                    Reason::ReceiptTooLarge,
                    Some(format!(
                        "its receipt would take {len} bytes, over the cap of \
                         {MAX_TX_RECEIPT_BYTES}"
                    )),
                );
                finals.push(j.status);
            }
        }
    }
    if !step.requeue.is_empty() {
        tracing::debug!(
            deferred = step.requeue.len(),
            "fills past the batch's receipt budget wait for the next batch"
        );
    }
    let n_final = finals.len();
    store.update_intents(&finals)?;
    shared.metrics.rejected.fetch_add(n_final as u64, Relaxed);
    shared.dec_open(n_final);
    if filled.is_empty() {
        return Ok(step);
    }

    let marks: Vec<(TxId, TxId, u64)> = filled
        .iter()
        .map(|(j, b)| (j.intent, b.id, b.execution.gas_used))
        .collect();
    store.mark_filled(&marks)?;
    let batch = Batch {
        txs: filled.iter().map(|(_, b)| b.tx.clone()).collect(),
    };
    let bytes = encode(&batch);
    shared.metrics.batches.fetch_add(1, Relaxed);
    shared
        .metrics
        .submitted
        .fetch_add(filled.len() as u64, Relaxed);

    let answer = submit_until_answered(shared, &bytes);
    let verdicts = match answer {
        Some(Submitted::Applied { height, verdicts }) => {
            if let Some(h) = height {
                step.min_height = h;
            }
            verdicts
        }
        Some(Submitted::Refused(msg)) => {
            // The whole batch was refused: a bug on our side. Reject its intents rather
            // than loop.
            tracing::error!("the validator refused a batch as a whole: {msg}");
            let mut finals = Vec::new();
            for (mut j, _) in filled {
                j.status = store.intent(&j.intent)?.unwrap_or(j.status);
                j.status
                    .reject_named("batch_refused", Some(format!("the validator said {msg}")));
                finals.push(j.status);
            }
            shared.dec_open(finals.len());
            shared
                .metrics
                .rejected
                .fetch_add(finals.len() as u64, Relaxed);
            store.update_intents(&finals)?;
            return Ok(step);
        }
        Some(
            Submitted::Busy
            | Submitted::Unavailable(_)
            | Submitted::Pending(_)
            | Submitted::InLog(_),
        )
        | None => {
            // Unknown fate (or stopping): catch up to the validator, then look again. A
            // submission nobody answered is not a fill that lost: it does not count
            // against `max_attempts` (if it was applied, the feed marks it accepted).
            step.min_height = upstream_head(shared);
            let mut updates = Vec::with_capacity(filled.len());
            for (mut j, _) in filled {
                if let Some(mut st) = store.intent(&j.intent)?
                    && !st.status.is_final()
                {
                    st.attempts = st.attempts.saturating_sub(1);
                    st.detail = Some("the validator did not answer; resubmitting".into());
                    j.status = st.clone();
                    updates.push(st);
                }
                step.requeue.push(j);
            }
            store.update_intents(&updates)?;
            return Ok(step);
        }
    };
    let by_id: HashMap<TxId, Option<Reason>> =
        verdicts.into_iter().map(|v| (v.tx_id, v.reason)).collect();
    let mut updates = Vec::new();
    let mut lost_race = false;
    for (mut j, b) in filled {
        let mut st = store.intent(&j.intent)?.unwrap_or(j.status.clone());
        if st.status == IntentState::Accepted {
            continue;
        }
        match by_id.get(&b.id) {
            Some(None) => {}
            Some(Some(r)) if is_race(*r) && st.attempts < shared.cfg.max_attempts => {
                lost_race = true;
                st.status = IntentState::Pending;
                st.reason = Some(r.name().to_string());
                st.code = Some(r.code());
                st.detail = Some(format!(
                    "lost a race ({}); re-filling after catching up (attempt {} of {})",
                    r.name(),
                    st.attempts + 1,
                    shared.cfg.max_attempts
                ));
                shared.metrics.retries.fetch_add(1, Relaxed);
                j.status = st.clone();
                updates.push(st);
                step.requeue.push(j);
            }
            Some(Some(r)) => {
                st.reject(
                    *r,
                    Some(format!(
                        "the validator rejected the filled transaction {}",
                        b.id
                    )),
                );
                shared.metrics.rejected.fetch_add(1, Relaxed);
                shared.dec_open(1);
                updates.push(st);
            }
            None => {
                // No verdict for it: treat like an unknown fate (not an attempt).
                lost_race = true;
                st.attempts = st.attempts.saturating_sub(1);
                j.status = st.clone();
                updates.push(st);
                step.requeue.push(j);
            }
        }
    }
    store.update_intents(&updates)?;
    if lost_race {
        step.min_height = step.min_height.max(upstream_head(shared));
    }
    Ok(step)
}

/// How long after its first post a batch may be posted again, as the same bytes, to another
/// replica: within the order stream's duplicate window (2 minutes) with a margin, so that
/// the stream stores it once however many replicas it was posted to.
const RESUBMIT_WINDOW: Duration = Duration::from_secs(90);

/// Posts until the validator answers (busy: short waits; unreachable: waits for it).
/// `None` when the fate is unknown (the connection broke after sending) or on stop.
///
/// With several replicas (`--validator` with several URLs), a failure moves to the next
/// replica and posts the same bytes there: the replicas publish to one order stream with
/// the batch's blake3 as message id, so a batch the failed replica had published is stored
/// once and the next replica answers with its verdicts. Past [`RESUBMIT_WINDOW`], or when a
/// replica says the batch is in the log with its answer no longer kept, the fate is left to
/// the feed (`None`), as with a single validator.
fn submit_until_answered(shared: &Shared, bytes: &[u8]) -> Option<Submitted> {
    let first = Instant::now();
    let replicas = shared.upstream.len() > 1;
    let mut busy_wait = Duration::from_millis(10);
    let mut fail_wait = Duration::from_millis(50);
    loop {
        if shared.stopping() {
            return None;
        }
        let at = shared.upstream.current();
        match shared.upstream.submit(bytes) {
            Ok(Submitted::Busy) => {
                shared.metrics.upstream_busy.fetch_add(1, Relaxed);
                std::thread::sleep(busy_wait);
                busy_wait = (busy_wait * 2).min(Duration::from_millis(500));
            }
            Ok(Submitted::Unavailable(why) | Submitted::Pending(why)) => {
                // The batch may be (Pending: is) in the order stream: only the same bytes
                // may go out again, and only within the duplicate window.
                if first.elapsed() > RESUBMIT_WINDOW {
                    tracing::warn!("{why}; leaving the batch's fate to the feed");
                    return None;
                }
                tracing::warn!("{why}; posting the same bytes again");
                shared.fail_over(at);
                std::thread::sleep(fail_wait);
                fail_wait = (fail_wait * 2).min(Duration::from_secs(1));
            }
            Ok(Submitted::InLog(why)) => {
                tracing::info!("{why}; catching up with the feed");
                return None;
            }
            Ok(other) => return Some(other),
            Err(e) if replicas && first.elapsed() <= RESUBMIT_WINDOW => {
                tracing::warn!(
                    "submitting a batch: {e}; posting the same bytes to the next replica"
                );
                shared.fail_over(at);
                std::thread::sleep(fail_wait);
                fail_wait = (fail_wait * 2).min(Duration::from_secs(1));
            }
            Err(e) => {
                tracing::warn!("submitting a batch: {e}; waiting for the validator");
                let mut backoff = Duration::from_millis(50);
                while !shared.stopping() && !shared.upstream.healthy() {
                    let at = shared.upstream.current();
                    shared.fail_over(at);
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mf_format::limits::MAX_BATCH_RECEIPT_BYTES;
    use mf_format::{Account, EMPTY_CODE_HASH, Keypair, Log, U256};
    use mf_movegen::{MemoryView, TxBuilder};

    /// A transfer from `key` (to an address of its own) built on `view`, whose receipt takes
    /// `len` bytes (one log).
    fn fill(view: &MemoryView, key: &Keypair, len: usize) -> Built {
        let to = Keypair::from_label(&format!("to {}", key.address())).address();
        let mut b = TxBuilder::transfer(1337, to, U256::from(1u64))
            .build(view, key, &[])
            .expect("build");
        if len > 50 {
            b.execution.logs = vec![Log {
                address: key.address(),
                topics: Vec::new(),
                data: vec![0; len - 50 - 36],
            }];
        }
        assert_eq!(receipt_len(&b.execution.logs), len.max(50));
        b
    }

    /// `n` keys labelled `label`, each funded with 1,000,000 wei.
    fn funded_keys(label: &str, n: usize) -> (Vec<Keypair>, MemoryView) {
        let keys: Vec<Keypair> = (0..n)
            .map(|i| Keypair::from_label(&format!("{label} {i}")))
            .collect();
        let mut view = MemoryView::new();
        for k in &keys {
            view.set_account(
                k.address(),
                Account {
                    balance: U256::from(1_000_000u64),
                    nonce: 0,
                    code_hash: EMPTY_CODE_HASH,
                },
            );
        }
        (keys, view)
    }

    /// The gas budget, in arrival order: fills whose gas limits fit the batch gas limit are
    /// included, one past it waits with what is chained on it, a later one that fits goes
    /// in; what is included is what the validator's `GasBudget` admits.
    #[test]
    fn fills_past_the_gas_budget_wait_with_what_is_chained_on_them() {
        let (keys, view) = funded_keys("gas", 4);
        let a = fill(&view, &keys[0], 50);
        let gas = a.tx.body.call.gas_limit;
        let mut big = fill(&view, &keys[1], 50);
        big.tx.body.call.gas_limit = 2 * gas;
        big.id = mf_format::tx_id(&big.tx.body);
        let mut after = view.clone();
        after.apply(&big.tx.body).expect("apply big");
        let chained = fill(&after, &keys[1], 50);
        let small = fill(&view, &keys[2], 50);
        let fills = [a, big, chained, small];
        let refs: Vec<&Built> = fills.iter().collect();
        use Budgeted::*;
        let got = fit_batch_budget(&refs, 2 * gas);
        assert_eq!(got, vec![Include, Defer, Defer, Include]);
        let mut g = GasBudget::new(2 * gas);
        for (f, v) in fills.iter().zip(&got) {
            if *v == Include {
                assert_eq!(g.admit(f.tx.body.call.gas_limit), Ok(()));
            }
        }
    }

    /// The validator's rule, in arrival order: fills that fit are included, one past the
    /// budget and everything chained on a fill left out wait, one over the per-transaction
    /// cap is refused, and a later small one that still fits is included.
    #[test]
    fn fills_past_the_receipt_budget_wait_with_what_is_chained_on_them() {
        let (keys, view) = funded_keys("budget", 7);
        let cap = MAX_TX_RECEIPT_BYTES;
        assert_eq!(MAX_BATCH_RECEIPT_BYTES, 4 * cap);
        let mut fills = vec![
            fill(&view, &keys[0], cap),
            fill(&view, &keys[1], cap),
            fill(&view, &keys[2], cap),
            fill(&view, &keys[3], cap - 100),
        ];
        let b = fill(&view, &keys[4], 1000);
        let d = fill(&view, &keys[5], cap + 1);
        let mut after = view.clone();
        after.apply(&b.tx.body).expect("apply b");
        after.apply(&d.tx.body).expect("apply d");
        let c = fill(&after, &keys[4], 50);
        let e = fill(&after, &keys[5], 50);
        fills.extend([b, c, d, e, fill(&view, &keys[6], 50)]);
        let refs: Vec<&Built> = fills.iter().collect();
        use Budgeted::*;
        assert_eq!(
            fit_batch_budget(&refs, u64::MAX),
            vec![
                Include, Include, Include, Include, Defer, Defer, TooLarge, Defer, Include
            ]
        );
        // What is included is what the validator admits.
        let included = fills
            .iter()
            .zip(fit_batch_budget(&refs, u64::MAX))
            .filter(|(_, v)| *v == Include)
            .map(|(f, _)| receipt_len(&f.execution.logs));
        assert!(ReceiptBudget::all_fit(included));
    }
}
