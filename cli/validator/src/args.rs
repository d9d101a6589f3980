//! The command line: every subcommand and its options (`mf-validator --help`).

use clap::{Parser, Subcommand, ValueEnum};
use mf_validator::Mode;
use std::net::SocketAddr;
use std::path::PathBuf;

const ABOUT: &str = "A Manaflow-style UTXO move-set validator: every transaction declares the \
state versions it consumes and creates; the validator checks each one alone and keeps the live \
set on disk (LMDB), crash-safe.";

const LONG_ABOUT: &str = "A Manaflow-style UTXO move-set validator: every transaction declares \
the state versions it consumes and creates; the validator checks each one alone and keeps the \
live set on disk (LMDB), crash-safe.

Typical use:
  mf-validator gen --out sample                       # a genesis and signed batch files
  mf-validator init --data db --genesis sample/genesis.json
  mf-validator ingest --data db sample/batch-*.bin
  mf-validator check --data db
  mf-validator verify-chain --data db --order shuffle --seed 7
  mf-validator serve --data db --listen 127.0.0.1:8080

Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=debug) to change their level. After a crash or
kill -9, simply run the same command again: a batch is on disk entirely or not at all.";

#[derive(Parser)]
#[command(name = "mf-validator", version, about = ABOUT, long_about = LONG_ABOUT)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum ModeArg {
    /// Any invalid transaction refuses the whole batch (following an already-ordered chain).
    Strict,
    /// Invalid transactions are dropped with a reason code, with everything that depends on
    /// them (ingesting from coordinators and users).
    Filter,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum OrderArg {
    /// Heights 1, 2, ..., head.
    Forward,
    /// Heights head, ..., 2, 1.
    Reverse,
    /// A shuffle of the heights, deterministic in --seed.
    Shuffle,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Mode {
        match m {
            ModeArg::Strict => Mode::Strict,
            ModeArg::Filter => Mode::Filter,
        }
    }
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run the whole job once on a fresh directory: generate signed transfer batches, create
    /// a data directory from their genesis, ingest them all with progress and a summary,
    /// then verify the stored state hash.
    ///
    /// Uses DIR/sample for the batch files and DIR/data for the validator (DIR defaults to
    /// a new directory under the system temp directory; it must not exist yet).
    Demo {
        /// Working directory (must not exist).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Number of funded accounts.
        #[arg(long, default_value_t = 10_000)]
        accounts: usize,
        /// Number of transfers in all.
        #[arg(long, default_value_t = 200_000)]
        txs: usize,
        /// Transfers per batch.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=mf_format::limits::MAX_TXS_PER_BATCH as u64))]
        batch_size: u64,
    },
    /// Create a data directory from a genesis file in the Ethereum `alloc` style.
    ///
    /// Every account and non-zero storage word of the genesis becomes a live version at
    /// height 0. Refuses a directory that already holds validator data.
    Init {
        /// The data directory (created if missing; must not hold validator data).
        #[arg(long)]
        data: PathBuf,
        /// Genesis JSON: {"config": {"chainId": N}, "alloc": {"0x..": {"balance": ..}}}.
        #[arg(long)]
        genesis: PathBuf,
    },
    /// Generate a sample workload: a genesis file and signed batches of value transfers.
    ///
    /// Writes DIR/genesis.json and DIR/batch-000001.bin, DIR/batch-000002.bin, ... (encoded
    /// batches). Applied in order on that genesis, batch file k becomes height k.
    Gen {
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Number of funded accounts.
        #[arg(long, default_value_t = 1000)]
        accounts: usize,
        /// Number of transfers in all.
        #[arg(long, default_value_t = 10_000)]
        txs: usize,
        /// Transfers per batch file.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=mf_format::limits::MAX_TXS_PER_BATCH as u64))]
        batch_size: u64,
        /// Seed of the keys and of the transfer choices.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Chain id written to the genesis and signed by every transaction.
        #[arg(long, default_value_t = 1337)]
        chain_id: u64,
        /// The timestamp every transaction declares, in seconds since the Unix epoch
        /// (default: now). The batches are in the context window (PROTOCOL.md §6.3.1) of a
        /// validator whose header times stay within 15 s of it: ingest or serve them within
        /// 15 s, or with `--fixed-time` set to the same value.
        #[arg(long)]
        time: Option<u64>,
    },
    /// Apply batch files, in the order given, to the data directory.
    ///
    /// Shows progress and throughput, logs one line per file and prints a summary (batches,
    /// transactions accepted and rejected by reason, moves/s, time per stage, final height and
    /// state hash). A refused batch is reported and skipped; the exit code is then 1.
    Ingest {
        /// The data directory (made by `init`).
        #[arg(long)]
        data: PathBuf,
        /// strict: an invalid transaction refuses its whole batch; filter: it is dropped.
        #[arg(long, value_enum, default_value_t = ModeArg::Strict)]
        mode: ModeArg,
        /// Pin every header's time to this many seconds since the Unix epoch instead of
        /// the clock (for replaying batch files made by `gen --time` at any later moment;
        /// a live validator leaves it unset).
        #[arg(long)]
        fixed_time: Option<u64>,
        /// Replay a chain with its producer's header times: a file with one header
        /// `time_ms` per line (as `GET /header/{h}` gives them), for the batch files in
        /// order. The headers written are then byte for byte the producer's.
        #[arg(long, conflicts_with = "fixed_time")]
        header_times: Option<PathBuf>,
        /// Batch files (as written by `gen`, or fetched from `GET /batch/{height}`).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Serve the HTTP API: submit batches, read headers, batches, receipts and versions,
    /// follow the feed of accepted batches, and scrape /metrics.
    ///
    /// Endpoints: POST /batch, GET /head, /header/{h}, /batch/{h}, /receipts/{h},
    /// /version/{intx}/{mark}/{addr}/{slot}, /feed?from=H, /metrics, /health. One thread
    /// applies batches from a bounded queue; when it is full, POST /batch answers 503. A
    /// slow client holds no place in the queue: a body has a deadline that grows with the
    /// bytes it delivers, and connections are capped per IP address and in total.
    /// SIGINT or SIGTERM stops it cleanly. The address it listens on is printed on stdout.
    Serve {
        /// The data directory (made by `init`).
        #[arg(long)]
        data: PathBuf,
        /// Address to listen on (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// How posted batches are applied (see `ingest --mode`).
        #[arg(long, value_enum, default_value_t = ModeArg::Filter)]
        mode: ModeArg,
        /// Batches that may wait to be applied; beyond that POST /batch answers 503.
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=4096))]
        queue: u64,
        /// Pin every header's time to this many seconds since the Unix epoch instead of
        /// the clock (for replaying batch files made by `gen --time` at any later moment;
        /// a live validator leaves it unset).
        #[arg(long)]
        fixed_time: Option<u64>,
        #[command(flatten)]
        limits: mf_cli::HttpLimitArgs,
        /// Run as a replica of the ordered batch log on this NATS JetStream server
        /// (nats://host:port; a cluster's servers comma-separated): apply the batches of the stream MF_BATCHES_<chain id> in
        /// order, from the message after the last one applied, each with the time the
        /// stream stored it as its header time (never this machine's clock; --fixed-time
        /// is refused with it). POST /batch then publishes the batch to that stream (message
        /// id: blake3 of its bytes, so the same bytes posted again within 2 minutes are
        /// stored once) and answers once this replica applied it, as a single validator
        /// would. See docs/REPLICATION.md.
        #[arg(long, value_name = "URL", conflicts_with = "fixed_time")]
        order: Option<String>,
        /// With --order: seconds POST /batch waits for the batch it published to be applied
        /// here; past that it answers 504 "order_timeout" with the batch's stream sequence
        /// (the batch is in the log and will be applied).
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
        order_wait: u64,
        /// Copies of the order stream when this replica creates it (1 on a single NATS
        /// server, 3 on a 3-node cluster).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=5))]
        order_replicas: u64,
    },
    /// Publish batch files to the ordered batch log (the JetStream stream of the chain,
    /// created when missing), in the order given; prints each file's stream sequence. A
    /// batch's message id is blake3 of its bytes, so a publish retried within two minutes
    /// is stored once ("duplicate"). Once this prints a sequence the batch is in the log:
    /// every replica applies it at that place.
    Publish {
        /// The NATS JetStream server (nats://host:port; a cluster's servers comma-separated).
        #[arg(long, value_name = "URL")]
        order: String,
        /// The chain id (of the genesis; it names the stream).
        #[arg(long, default_value_t = 1337)]
        chain_id: u64,
        /// Copies of the stream when this creates it.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=5))]
        order_replicas: u64,
        /// Encoded batch files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Verify the store: recompute the state hash from the stored live set and compare it
    /// with the stored one and the head header's. Exit code 1 on a mismatch.
    Check {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
    },
    /// Re-validate the whole stored chain by set reconciliation over all moves, with no
    /// sequential state: each batch, fed in the given order, contributes the versions it
    /// creates, spends and references; they are grouped by version and each version is
    /// judged alone (created once, spent at most once, used only after its creation and,
    /// for a reference, not after its spend, with the declared prev equal to the created
    /// value); the state hash after each batch is checked against its header.
    ///
    /// The summary is the same for every order (that is the point: PROTOCOL.md §9). Exit
    /// code 1 when a violation is found. The validator must be stopped (the data directory
    /// is locked while it runs); nothing is written.
    VerifyChain {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// The order in which batches are fed into the reconciliation.
        #[arg(long, value_enum, default_value_t = OrderArg::Forward)]
        order: OrderArg,
        /// Seed of --order shuffle.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print JSON (with every violation) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run Ethereum's blockchain tests (ethereum/tests `BlockchainTests` JSON, any files or
    /// folders of them) through the protocol: each case's pre-state as a genesis, each
    /// block's transactions turned into moves and applied as one strict batch by a
    /// validator with re-execution, the resulting state compared with the case's
    /// `postState` (a block the case expects to be refused must be refused). Prints one
    /// line per outcome with its count, the failed cases with their first difference, and
    /// `N passed, M failed, K skipped` (skipped: a feature the protocol does not carry,
    /// named; docs/CONFORMANCE.md). Exit code 1 when a case fails or panics.
    Ethtest {
        /// Test files or folders (walked for `*.json`).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Failed cases listed by name (the counts always cover all of them).
        #[arg(long, default_value_t = 100)]
        max_failures: usize,
    },
    /// Show the state of a data directory: height, head hash, state hash, table entry
    /// counts, index entries and size on disk.
    Inspect {
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}
