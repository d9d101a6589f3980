//! [`Notifier`]: wakes whoever waits for the store to change.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// A generation counter that sync and async waiters can both wait on. The store bumps it
/// after every commit that changes the head or an intent; the service also bumps it when
/// it stops, so that waiters look at the stop flag.
pub struct Notifier {
    generation: Mutex<u64>,
    cv: Condvar,
    watch: tokio::sync::watch::Sender<u64>,
}

impl Default for Notifier {
    fn default() -> Self {
        Notifier {
            generation: Mutex::new(0),
            cv: Condvar::new(),
            watch: tokio::sync::watch::channel(0).0,
        }
    }
}

impl Notifier {
    /// Wakes every waiter.
    pub fn notify(&self) {
        let g = match self.generation.lock() {
            Ok(mut g) => {
                *g += 1;
                *g
            }
            Err(p) => {
                let mut g = p.into_inner();
                *g += 1;
                *g
            }
        };
        self.cv.notify_all();
        self.watch.send_replace(g);
    }

    /// Blocks until `done()` holds or `timeout` passes; returns whether it holds.
    pub fn wait_until(&self, timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let g = match self.generation.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            if done() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            // Wake at least every 100 ms: `done` may depend on things that do not notify.
            let wait = (deadline - now).min(Duration::from_millis(100));
            drop(self.cv.wait_timeout(g, wait));
        }
    }

    /// An async subscription (for long-polling RPC handlers).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.watch.subscribe()
    }
}
