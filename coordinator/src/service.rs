//! The running service: configuration, the state its threads share, and [`serve`], which
//! starts the follower, the intake journal, the sequencer and the JSON-RPC server.

use crate::CoordError;
use crate::sequencer::{self, Job};
use crate::store::CoordDb;
use crate::upstream::Upstream;
use mf_format::{Transaction, TxId};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// How the coordinator runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The validator's base URL (`http://127.0.0.1:8080`), or several replicas' URLs
    /// separated by commas: the coordinator fails over between them
    /// ([`Upstream`]).
    pub validator: String,
    /// The data directory (index and intent journal).
    pub data: PathBuf,
    /// Most intents in one batch.
    pub batch_max: usize,
    /// How long a batch waits for more intents after its first one.
    pub batch_wait: Duration,
    /// Fills submitted per intent before it is rejected for good (lost races re-fill).
    pub max_attempts: u32,
    /// Intents accepted at intake but not final yet, at most (then `mf_sendIntent` answers
    /// "busy").
    pub max_open: usize,
    /// Worker threads for filling (0: one per core).
    pub fill_threads: usize,
    /// The bounds on the JSON-RPC server's work (`docs/RPC.md`, Limits).
    pub rpc: RpcLimits,
    /// Heights behind the head whose state reads answer (`eth_getBalance(addr, N)`,
    /// `eth_call` at a past block...): `--history-heights`, `u64::MAX` for all (`--archive`).
    pub keep_heights: u64,
    /// How long `eth_sendRawTransaction` waits for its transaction to be final before it
    /// answers (`--send-wait-ms`; zero: it answers once the transaction is journaled).
    pub send_wait: Duration,
    /// The browser origins allowed to call the JSON-RPC server (CORS): `*` for any, else
    /// exact origins such as `http://localhost:3000` (`--rpc-cors`).
    pub cors: Vec<String>,
}

impl Config {
    /// The default of [`Config::keep_heights`]: 128 heights, as geth and reth keep recent
    /// state by default.
    pub const KEEP_HEIGHTS: u64 = 128;
}

/// What one JSON-RPC request may cost the coordinator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RpcLimits {
    /// The most gas of an `eth_call` / `eth_estimateGas` (the default gas of a call that
    /// gives none; more is refused) (`--rpc-gas-cap`).
    pub gas_cap: u64,
    /// EVM execution time per HTTP request, shared by the calls of a batch; execution is
    /// interrupted when it runs out (`--rpc-time-budget-ms`).
    pub time_budget: Duration,
    /// The estimated gas of the executing calls of one batch, checked before any runs
    /// (`--rpc-batch-gas`).
    pub batch_gas: u64,
    /// Open connections, per peer IP and in all.
    pub connections: mf_api::server::ConnLimits,
    /// How long a request body may take, before the extension its bytes earn.
    pub body_timeout: Duration,
    /// Bytes per second that extend a body's deadline by one second (0: none).
    pub body_min_rate: u64,
    /// EVM executions of RPC requests that run at once (`--rpc-max-evm`); a request waits
    /// for a slot within its time budget, and the wait counts against it.
    pub max_evm: usize,
}

impl RpcLimits {
    /// The default gas cap: the protocol's `MAX_GAS_LIMIT`, 30,000,000 (geth's RPC gas cap
    /// is 50,000,000, above what a transaction may use here).
    pub const GAS_CAP: u64 = mf_format::limits::MAX_GAS_LIMIT;
    /// The default time budget: 5 s, geth's `--rpc.evmtimeout`.
    pub const TIME_BUDGET: Duration = Duration::from_secs(5);
    /// The default batch gas: 100 calls at the gas cap (a batch of the largest size of
    /// plain `eth_call`s), or about 3 worst-case `eth_estimateGas`.
    pub const BATCH_GAS: u64 = 3_000_000_000;

    /// The default of [`RpcLimits::max_evm`]: one execution per available core.
    pub fn max_evm_default() -> usize {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }
}

impl Default for RpcLimits {
    fn default() -> Self {
        RpcLimits {
            gas_cap: RpcLimits::GAS_CAP,
            time_budget: RpcLimits::TIME_BUDGET,
            batch_gas: RpcLimits::BATCH_GAS,
            connections: mf_api::server::ConnLimits::default(),
            body_timeout: Duration::from_secs(30),
            body_min_rate: 64 << 10,
            max_evm: RpcLimits::max_evm_default(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            validator: "http://127.0.0.1:8080".into(),
            data: PathBuf::from("coordinator-data"),
            batch_max: 2048,
            batch_wait: Duration::from_millis(20),
            max_attempts: 4,
            max_open: 100_000,
            fill_threads: 0,
            rpc: RpcLimits::default(),
            cors: vec!["*".into()],
            keep_heights: Config::KEEP_HEIGHTS,
            send_wait: Duration::ZERO,
        }
    }
}

/// The coordinator's counters, served on `/metrics`.
#[derive(Debug, Default)]
pub struct CoordMetrics {
    /// Intents journaled.
    pub received: AtomicU64,
    /// Intents accepted (seen in the chain).
    pub accepted: AtomicU64,
    /// Intents rejected for good.
    pub rejected: AtomicU64,
    /// Re-fills after a lost race.
    pub retries: AtomicU64,
    /// Batches submitted.
    pub batches: AtomicU64,
    /// Transactions submitted.
    pub submitted: AtomicU64,
    /// Transactions applied from the feed (anyone's).
    pub feed_txs: AtomicU64,
    /// Moves applied from the feed.
    pub feed_moves: AtomicU64,
    /// Feed reconnections.
    pub feed_reconnects: AtomicU64,
    /// Busy answers from the validator.
    pub upstream_busy: AtomicU64,
    /// Moves to the next validator replica (`--validator` with several URLs).
    pub upstream_failovers: AtomicU64,
    /// RPC EVM executions running now.
    pub evm_running: AtomicU64,
    /// The most RPC EVM executions that ran at once.
    pub evm_peak: AtomicU64,
}

/// The journal queue did not take an intent (full, or stopping).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// An intent on its way from the RPC handler to the journal.
pub struct Intake {
    /// Its id.
    pub id: TxId,
    /// The decoded transaction.
    pub tx: Transaction,
    /// Its encoding (what the journal stores).
    pub bytes: Vec<u8>,
    /// Where to answer once it is on disk.
    pub reply: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// The error that stopped the service: its message (for `/health`) and, when a thread
/// reported a typed error, that error (what [`serve`] returns).
struct Fatal {
    msg: String,
    error: Option<CoordError>,
}

/// What the threads share.
pub struct Shared {
    /// The configuration.
    pub cfg: Config,
    /// The index and the journal (whose [`CoordDb::changes`] wakes waiters).
    pub store: CoordDb,
    /// The validator.
    pub upstream: Upstream,
    /// Counters.
    pub metrics: CoordMetrics,
    /// Open (not final) intents.
    pub open: AtomicUsize,
    /// Slots for RPC EVM executions ([`RpcLimits::max_evm`]).
    pub evm_slots: tokio::sync::Semaphore,
    /// The hash of each transaction the journal takes (its Ethereum hash when a signed
    /// Ethereum transaction authorises it, else its id), for pending-transaction filters
    /// and subscriptions.
    pub pending: tokio::sync::broadcast::Sender<mf_format::B256>,
    /// The polled filters of `eth_newFilter` and its kin.
    pub filters: crate::rpc::Filters,
    /// The signed nonces of each sender's Ethereum transactions taken and maybe not final
    /// yet (what `eth_getTransactionCount(addr, "pending")` counts): entries are added at
    /// intake and dropped when a read finds them final or behind the sender's nonce.
    pub pending_nonces: Mutex<HashMap<mf_format::Address, BTreeMap<u64, TxId>>>,
    stop: AtomicBool,
    fatal: Mutex<Option<Fatal>>,
    next_seq: AtomicU64,
    intake: Mutex<Option<mpsc::SyncSender<Intake>>>,
}

impl Shared {
    /// Moves to the next validator replica if the one at `from` (a value of
    /// [`Upstream::current`]) is still the current one, and counts it.
    pub fn fail_over(&self, from: usize) {
        if self.upstream.fail_over(from) {
            self.metrics.upstream_failovers.fetch_add(1, Relaxed);
        }
    }

    /// Notes the signed nonce of an Ethereum-authorised intent (see
    /// [`Shared::pending_nonces`]).
    pub fn note_pending_nonce(&self, tx: &Transaction, intent: TxId) {
        let Some(eth) = &tx.eth else {
            return;
        };
        let Ok(nonce) = mf_format::eth::signed_nonce(&eth.envelope) else {
            return;
        };
        let mut map = self
            .pending_nonces
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Refused intents leave entries until their sender's next inclusion or query: when
        // the map outgrows the intents that can be open, drop every final one.
        if map.len() >= self.cfg.max_open.max(1) {
            map.retain(|_, mine| {
                mine.retain(|_, id| {
                    self.store
                        .intent(id)
                        .is_ok_and(|st| st.is_some_and(|st| !st.status.is_final()))
                });
                !mine.is_empty()
            });
        }
        map.entry(tx.body.call.from)
            .or_default()
            .insert(nonce, intent);
    }

    /// Drops the pending nonces the chain has passed: a sender's entries up to each nonce
    /// its included Ethereum transactions signed (called for every applied height, so the
    /// map holds only what is still in flight, plus refused intents until their sender's
    /// next inclusion or query).
    pub fn forget_included_nonces(&self, txs: &[Transaction]) {
        let mut map = self
            .pending_nonces
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.is_empty() {
            return;
        }
        for tx in txs {
            let Some(eth) = &tx.eth else {
                continue;
            };
            let Ok(nonce) = mf_format::eth::signed_nonce(&eth.envelope) else {
                continue;
            };
            let from = tx.body.call.from;
            if let Some(mine) = map.get_mut(&from) {
                mine.retain(|n, _| *n > nonce);
                if mine.is_empty() {
                    map.remove(&from);
                }
            }
        }
    }

    /// The nonce a sender's next Ethereum transaction takes counting those taken and not
    /// final: `chain_nonce` (its account's nonce) or one past the highest open one.
    pub fn pending_nonce(
        &self,
        sender: mf_format::Address,
        chain_nonce: u64,
    ) -> Result<u64, CoordError> {
        let mut map = self
            .pending_nonces
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(mine) = map.get_mut(&sender) else {
            return Ok(chain_nonce);
        };
        mine.retain(|n, _| *n >= chain_nonce);
        let mut next = chain_nonce;
        while let Some((&nonce, &intent)) = mine.last_key_value() {
            let open = self
                .store
                .intent(&intent)?
                .is_some_and(|st| !st.status.is_final());
            if open {
                next = next.max(nonce.saturating_add(1));
                break;
            }
            mine.remove(&nonce);
        }
        if mine.is_empty() {
            map.remove(&sender);
        }
        Ok(next)
    }

    /// Whether the service is stopping.
    pub fn stopping(&self) -> bool {
        self.stop.load(Relaxed)
    }

    /// Asks every thread to stop.
    pub fn request_stop(&self) {
        self.stop.store(true, Relaxed);
        self.store.changes().notify();
    }

    /// Records an unrecoverable error and stops the service ([`serve`] then returns it).
    /// The first error recorded wins.
    pub fn fail(&self, error: CoordError) {
        self.record_fatal(Fatal {
            msg: error.to_string(),
            error: Some(error),
        });
    }

    fn record_fatal(&self, f: Fatal) {
        tracing::error!("{}", f.msg);
        if let Ok(mut slot) = self.fatal.lock() {
            slot.get_or_insert(f);
        }
        self.request_stop();
    }

    /// The unrecoverable error, if any.
    pub fn fatal(&self) -> Option<String> {
        self.fatal
            .lock()
            .ok()
            .and_then(|f| f.as_ref().map(|f| f.msg.clone()))
    }

    fn take_fatal(&self) -> Option<CoordError> {
        let f = match self.fatal.lock() {
            Ok(mut f) => f.take(),
            Err(p) => p.into_inner().take(),
        }?;
        Some(f.error.unwrap_or(CoordError::Stopped(f.msg)))
    }

    /// The next arrival sequence number.
    pub fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Relaxed)
    }

    /// Decrements the open-intent gauge (saturating).
    pub fn dec_open(&self, n: usize) {
        let _ = self
            .open
            .fetch_update(Relaxed, Relaxed, |o| Some(o.saturating_sub(n)));
    }

    /// Hands an intent to the journal; `Err(Busy)` when the journal queue is full or the
    /// journal has stopped (the intent is dropped: the caller answers "busy").
    pub fn send_intake(&self, i: Intake) -> Result<(), Busy> {
        let guard = match self.intake.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        match guard.as_ref() {
            Some(tx) => tx.try_send(i).map_err(|_| Busy),
            None => Err(Busy),
        }
    }
}

/// Opens the data directory, starts the follower, the journal and the sequencer, serves
/// JSON-RPC on `listener` until `shutdown` completes (or an unrecoverable error), then stops
/// the threads (the batch in flight is finished first).
pub fn serve(
    cfg: Config,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), CoordError> {
    std::fs::create_dir_all(&cfg.data).map_err(|e| CoordError::io(&cfg.data, e))?;
    let store = CoordDb::open(&cfg.data, cfg.keep_heights)?;
    let open = store.open_intents()?;
    let upstream = Upstream::new(&cfg.validator);
    let (intake_tx, intake_rx) = mpsc::sync_channel::<Intake>(8192);
    let next_seq = open.last().map(|(s, _, _)| s + 1).unwrap_or(0);
    let shared = Arc::new(Shared {
        cfg: cfg.clone(),
        store,
        upstream,
        metrics: CoordMetrics::default(),
        open: AtomicUsize::new(open.len()),
        evm_slots: tokio::sync::Semaphore::new(cfg.rpc.max_evm.max(1)),
        pending: tokio::sync::broadcast::channel(PENDING_CAPACITY).0,
        filters: crate::rpc::Filters::default(),
        pending_nonces: Mutex::new(HashMap::new()),
        stop: AtomicBool::new(false),
        fatal: Mutex::new(None),
        next_seq: AtomicU64::new(next_seq.max(now_seq())),
        intake: Mutex::new(Some(intake_tx)),
    });
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    let mut requeued = 0usize;
    for (seq, status, bytes) in open {
        match mf_format::decode_tx(&bytes) {
            Ok(tx) => {
                requeued += 1;
                shared.note_pending_nonce(&tx, status.intent);
                let _ = jobs_tx.send(Job {
                    intent: status.intent,
                    tx,
                    seq,
                    status,
                });
            }
            Err(e) => return Err(CoordError::Corrupt(format!("journaled intent: {e}"))),
        }
    }
    if requeued > 0 {
        tracing::info!(requeued, "intents from before the restart queued again");
    }

    let threads = [
        spawn("mf-follow", {
            let s = Arc::clone(&shared);
            move || crate::follower::run(s)
        })?,
        spawn("mf-journal", {
            let s = Arc::clone(&shared);
            let jobs = jobs_tx.clone();
            move || journal(s, intake_rx, jobs)
        })?,
        spawn("mf-sequence", {
            let s = Arc::clone(&shared);
            move || sequencer::run(s, jobs_rx)
        })?,
    ];
    drop(jobs_tx);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Reads run on the blocking pool and each holds an LMDB reader slot while it runs.
        .max_blocking_threads(64)
        .thread_name("mf-rpc")
        .build()
        .map_err(CoordError::Runtime)?;
    let served = rt.block_on(crate::rpc::run_server(
        Arc::clone(&shared),
        listener,
        shutdown,
    ));
    shared.request_stop();
    if let Ok(mut g) = shared.intake.lock() {
        g.take();
    }
    for t in threads {
        // The follower may sit in a blocking read of the feed: it is not joined (the
        // process ends with it); the others finish their batch and return.
        if t.thread().name() != Some("mf-follow") {
            let _ = t.join();
        }
    }
    drop(rt);
    match shared.take_fatal() {
        Some(e) => Err(e),
        None => served,
    }
}

/// Arrival sequence numbers start at the wall clock in microseconds, so that numbers stay
/// increasing across restarts without a counter on disk.
fn now_seq() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn spawn(
    name: &str,
    f: impl FnOnce() + Send + 'static,
) -> Result<std::thread::JoinHandle<()>, CoordError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|e| CoordError::Thread {
            name: name.into(),
            detail: e.to_string(),
        })
}

/// The journal thread: group-commits intents (one LMDB write transaction for everything
/// that arrived meanwhile), answers their callers, hands the new ones to the sequencer.
/// Pending-transaction hashes a filter or subscriber may fall behind by before it misses
/// some.
const PENDING_CAPACITY: usize = 4096;

fn journal(shared: Arc<Shared>, rx: mpsc::Receiver<Intake>, jobs: mpsc::Sender<Job>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < 4096 {
            match rx.try_recv() {
                Ok(i) => group.push(i),
                Err(_) => break,
            }
        }
        let rows: Vec<(TxId, Vec<u8>, u64)> = group
            .iter_mut()
            .map(|i| (i.id, std::mem::take(&mut i.bytes), shared.next_seq()))
            .collect();
        match shared.store.journal(&rows) {
            Ok(fresh) => {
                for ((i, (_, _, seq)), new) in group.into_iter().zip(rows).zip(fresh) {
                    if new {
                        let hash =
                            i.tx.eth
                                .as_ref()
                                .map_or(i.id, |e| alloy_primitives::keccak256(&e.envelope));
                        let _ = shared.pending.send(hash);
                        shared.note_pending_nonce(&i.tx, i.id);
                        shared.metrics.received.fetch_add(1, Relaxed);
                        shared.open.fetch_add(1, Relaxed);
                        let _ = jobs.send(Job {
                            intent: i.id,
                            tx: i.tx,
                            seq,
                            status: mf_movegen::rpc::IntentStatus::pending(i.id),
                        });
                    }
                    let _ = i.reply.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!("journal: {e}");
                for i in group {
                    let _ = i.reply.send(Err(format!("the intent journal failed: {e}")));
                }
            }
        }
    }
}
