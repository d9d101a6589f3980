//! The commit stage: one thread that writes each batch to LMDB (one write transaction, the
//! flush boundary) in the order batches were applied in memory, and [`Pending`], the handle
//! a caller waits on before giving out receipts.

use crate::error::{ApplyError, StoreError};
use crate::outcome::Outcome;
use crate::store::{BatchWrite, Store};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Instant;

/// A batch applied in memory whose write is in the commit thread's hands.
#[must_use = "receipts may be given out only after `wait` returns"]
pub struct Pending {
    pub(crate) outcome: Outcome,
    pub(crate) done: Option<mpsc::Receiver<Result<f64, StoreError>>>,
}

impl Pending {
    /// The outcome, before the batch is known to be on disk.
    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    /// Waits until the batch is on disk.
    pub fn wait(mut self) -> Result<Outcome, ApplyError> {
        if let Some(rx) = self.done.take() {
            match rx.recv() {
                Ok(Ok(lmdb)) => {
                    self.outcome.timings.lmdb = lmdb;
                    self.outcome.timings.commit += lmdb;
                }
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => return Err(StoreError::Failed.into()),
            }
        }
        Ok(self.outcome)
    }
}

type Job = (Box<BatchWrite>, mpsc::SyncSender<Result<f64, StoreError>>);

/// The commit stage: one thread that writes batches to LMDB in the order they were applied.
/// After a failed write the in-memory state is ahead of the disk, so every later submission
/// is refused until a restart rebuilds the state from the store.
pub(crate) struct Committer {
    tx: Option<mpsc::SyncSender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    failed: Arc<AtomicBool>,
}

impl Committer {
    pub(crate) fn start(store: Arc<Store>) -> Committer {
        let (tx, rx) = mpsc::sync_channel::<Job>(2);
        let failed = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&failed);
        let thread = std::thread::Builder::new()
            .name("mf-commit".into())
            .spawn(move || {
                for (w, reply) in rx {
                    let t = Instant::now();
                    let r = if flag.load(Ordering::SeqCst) {
                        Err(StoreError::Failed)
                    } else {
                        store.commit(&w).map(|()| t.elapsed().as_secs_f64())
                    };
                    if let Err(e) = &r {
                        tracing::error!(height = w.header.height, error = %e, "commit failed");
                        flag.store(true, Ordering::SeqCst);
                    }
                    drop(w);
                    let _ = reply.send(r);
                }
            })
            .ok();
        Committer {
            tx: Some(tx),
            thread,
            failed,
        }
    }

    /// True once a write has failed: the in-memory state is then ahead of the disk.
    pub(crate) fn failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst) || self.thread.is_none()
    }

    pub(crate) fn submit(
        &self,
        w: BatchWrite,
    ) -> Result<mpsc::Receiver<Result<f64, StoreError>>, StoreError> {
        if self.failed.load(Ordering::SeqCst) || self.thread.is_none() {
            return Err(StoreError::Failed);
        }
        let (reply, rx) = mpsc::sync_channel(1);
        self.tx
            .as_ref()
            .ok_or(StoreError::Failed)?
            .send((Box::new(w), reply))
            .map_err(|_| StoreError::Failed)?;
        Ok(rx)
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        // Closing the channel lets the thread finish the writes in hand, then exit.
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
