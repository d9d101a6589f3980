//! `mf-coordinator`: the coordinator service and the devnet.
//!
//! ```text
//! mf-coordinator dev               # a development node on 127.0.0.1:8545, as anvil is one
//! mf-coordinator serve --validator http://127.0.0.1:8080 --data coord --listen 127.0.0.1:8545
//! mf-coordinator serve --validator http://127.0.0.1:8081,http://127.0.0.1:8082 --data coord
//! mf-coordinator devnet            # validator + coordinator + wallets on loopback
//! ```
//!
//! The library (`mf-coordinator`) holds the service; this binary parses the command line,
//! serves until SIGINT or SIGTERM, and runs the development node ([`dev`]) and the
//! [`devnet`].

#![warn(unused_crate_dependencies)]

// Dev-dependencies of the integration tests (tests/), not of this binary.
#[cfg(test)]
use alloy_primitives as _;
#[cfg(test)]
use mf_api as _;
#[cfg(test)]
use tungstenite as _;

mod dev;
mod devnet;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use dev::DevConfig;
use devnet::DevnetConfig;
use mf_coordinator::{Config, RpcLimits, serve};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "mf-coordinator",
    version,
    about = "Fills and sequences intents for a UTXO move-set validator, and answers Ethereum JSON-RPC reads",
    long_about = "A coordinator follows a validator's feed into its own LMDB index, takes signed \
                  (possibly masked) transactions from wallets over JSON-RPC, fills the masked \
                  fields by executing them with revm against the latest state, submits them \
                  in batches, and re-fills the ones that lose a race. It also answers the \
                  Ethereum reads (eth_call, eth_getBalance, ...) that client libraries use.\n\n\
                  `dev` starts a development node (a validator and a coordinator on loopback, \
                  chain id 31337, the ten well-known development accounts funded, a token \
                  pair and its pool deployed) and runs until Ctrl-C, as anvil does.\n\n\
                  `devnet` starts a validator and a coordinator as processes on loopback and \
                  drives many wallets' payments and swaps through them."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a development node until Ctrl-C: a validator and a coordinator on loopback,
    /// chain id 31337, the ten well-known development accounts (anvil's and Hardhat's, from
    /// the mnemonic "test test ... junk") with 10,000 ETH and tokens each, and a token pair
    /// and its constant-product pool deployed. Prints the RPC URL, the contracts and the
    /// accounts with their private keys (public knowledge: never use them on a real chain).
    Dev {
        /// Address the JSON-RPC listens on (port 0: any free port; the RPC URL printed says
        /// which).
        #[arg(long, default_value = "127.0.0.1:8545", conflicts_with = "port")]
        listen: SocketAddr,
        /// Port on 127.0.0.1 the JSON-RPC listens on (instead of --listen).
        #[arg(long)]
        port: Option<u16>,
        /// Data directory: created if missing, resumed if it holds an earlier run's data
        /// (default: a temporary one, removed on exit).
        #[arg(long)]
        data: Option<PathBuf>,
        /// The mf-validator binary (default: next to this one).
        #[arg(long)]
        validator_bin: Option<PathBuf>,
    },
    /// Run the coordinator service (JSON-RPC over HTTP).
    Serve {
        /// The validator's base URL; or several replicas of one chain (`mf-validator serve
        /// --order` on one order stream), comma-separated or with the flag repeated. Batches
        /// and the feed go to the first; when it fails they move to the next. A batch whose
        /// fate is unknown is posted again, as the same bytes, to the next replica: the
        /// order stream stores the same bytes once within 2 minutes (docs/REPLICATION.md).
        #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:8080")]
        validator: Vec<String>,
        /// Data directory (index and intent journal); created if missing.
        #[arg(long)]
        data: PathBuf,
        /// Address to listen on (port 0: any free port; the chosen one is printed).
        #[arg(long, default_value = "127.0.0.1:8545")]
        listen: SocketAddr,
        /// Most intents per batch.
        #[arg(long, default_value_t = 2048)]
        batch_max: usize,
        /// Milliseconds a batch waits for more intents after its first.
        #[arg(long, default_value_t = 20)]
        batch_ms: u64,
        /// Fills per intent before it is rejected for good.
        #[arg(long, default_value_t = 4)]
        max_attempts: u32,
        /// Intents in flight at most before intake answers "busy".
        #[arg(long, default_value_t = 100_000)]
        max_open: usize,
        /// Fill threads (0: one per core).
        #[arg(long, default_value_t = 0)]
        fill_threads: usize,
        /// The most gas of an eth_call or eth_estimateGas: a call without gas gets this
        /// much, one with more is refused (-32602).
        #[arg(long, default_value_t = RpcLimits::GAS_CAP, value_parser = clap::value_parser!(u64).range(21_000..=30_000_000))]
        rpc_gas_cap: u64,
        /// Milliseconds of EVM execution per HTTP request, shared by the calls of a batch;
        /// an execution still running then is interrupted (-32000 "execution aborted").
        #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
        rpc_time_budget_ms: u64,
        /// The estimated EVM gas of one batch's calls, checked before any runs (an
        /// eth_estimateGas counts its gas times the runs of its bisection); a batch over it
        /// is refused (-32600).
        #[arg(long, default_value_t = RpcLimits::BATCH_GAS)]
        rpc_batch_gas: u64,
        /// EVM executions of RPC requests (eth_call, eth_estimateGas, mf_simulate) that run
        /// at once (default: one per core); a request waits for a slot within its time
        /// budget (--rpc-time-budget-ms), and the wait counts against it.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=4096))]
        rpc_max_evm: Option<u64>,
        /// Browser origins allowed to call the JSON-RPC server (CORS), comma-separated
        /// (`http://localhost:3000,https://app.example`); `*` allows any, an empty value none.
        #[arg(long, default_value = "*", value_delimiter = ',')]
        rpc_cors: Vec<String>,
        /// Heights behind the head whose state reads still answer (eth_getBalance,
        /// eth_call, ... at a past block); older ones get -32002.
        #[arg(long, default_value_t = mf_coordinator::Config::KEEP_HEIGHTS)]
        history_heights: u64,
        /// Keep the state of every height (overrides --history-heights).
        #[arg(long)]
        archive: bool,
        /// How long eth_sendRawTransaction waits for its transaction to be final before it
        /// answers (0: it answers once the transaction is journaled; the dev node waits, as
        /// anvil's automine does, so that tools reading the "latest" nonce see it).
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=30_000))]
        send_wait_ms: u64,
        #[command(flatten)]
        limits: mf_cli::HttpLimitArgs,
    },
    /// Start a validator and a coordinator on loopback and drive wallets through them.
    Devnet {
        /// Directory for data and logs (must be new or empty; default: a temporary one,
        /// removed after a clean run).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The mf-validator binary (default: next to this one).
        #[arg(long)]
        validator_bin: Option<PathBuf>,
        /// Wallets.
        #[arg(long, default_value_t = 400)]
        wallets: usize,
        /// Merchants receiving payments.
        #[arg(long, default_value_t = 16)]
        merchants: usize,
        /// Cold pools besides the hot one.
        #[arg(long, default_value_t = 7)]
        cold_pools: usize,
        /// Intents to send.
        #[arg(long, default_value_t = 20_000)]
        intents: u64,
        /// Stop sending after this many seconds.
        #[arg(long, default_value_t = 120)]
        seconds: u64,
        /// Share of swaps that go to the hot pool.
        #[arg(long, default_value_t = 0.5)]
        hot_share: f64,
        /// Wallet driver threads.
        #[arg(long, default_value_t = 8)]
        threads: usize,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Validators: 1 (no NATS needed), or that many replicas of an ordered batch log on
        /// a NATS JetStream cluster of 3 `nats-server` processes it starts (needs
        /// nats-server; docs/REPLICATION.md). The summary says whether they all agree.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=9))]
        replicas: u64,
    },
}

fn main() -> ExitCode {
    mf_cli::init_logging();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The mf-validator binary: `given`, or the one next to this executable.
fn find_validator_bin(given: Option<PathBuf>) -> Result<PathBuf> {
    match given {
        Some(p) => Ok(p),
        None => Ok(std::env::current_exe()
            .context("cannot find this executable")?
            .with_file_name(format!("mf-validator{}", std::env::consts::EXE_SUFFIX))),
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.cmd {
        Cmd::Dev {
            listen,
            port,
            data,
            validator_bin: vbin,
        } => {
            let listen = match port {
                Some(p) => SocketAddr::from(([127, 0, 0, 1], p)),
                None => listen,
            };
            dev::run(&DevConfig {
                listen,
                data,
                validator_bin: find_validator_bin(vbin)?,
                coordinator_bin: std::env::current_exe().context("cannot find this executable")?,
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Serve {
            validator,
            data,
            listen,
            batch_max,
            batch_ms,
            max_attempts,
            max_open,
            fill_threads,
            rpc_gas_cap,
            rpc_time_budget_ms,
            rpc_batch_gas,
            rpc_max_evm,
            rpc_cors,
            history_heights,
            archive,
            send_wait_ms,
            limits,
        } => {
            if batch_max == 0 || max_attempts == 0 {
                bail!("--batch-max and --max-attempts must be at least 1");
            }
            let listener = std::net::TcpListener::bind(listen)
                .with_context(|| format!("cannot listen on {listen}"))?;
            let addr = listener.local_addr().context("listener address")?;
            let cfg = Config {
                validator: validator.join(","),
                data,
                batch_max,
                batch_wait: Duration::from_millis(batch_ms),
                max_attempts,
                max_open,
                fill_threads,
                rpc: RpcLimits {
                    gas_cap: rpc_gas_cap,
                    time_budget: Duration::from_millis(rpc_time_budget_ms),
                    batch_gas: rpc_batch_gas,
                    connections: limits.connections(),
                    body_timeout: limits.body_timeout(),
                    body_min_rate: limits.body_min_rate,
                    max_evm: rpc_max_evm.map_or_else(RpcLimits::max_evm_default, |n| {
                        usize::try_from(n).unwrap_or(usize::MAX)
                    }),
                },
                cors: rpc_cors.into_iter().filter(|o| !o.is_empty()).collect(),
                keep_heights: if archive { u64::MAX } else { history_heights },
                send_wait: Duration::from_millis(send_wait_ms),
            };
            tracing::info!(%addr, validator = %cfg.validator, data = %cfg.data.display(), "serving JSON-RPC");
            println!("listening on {addr}");
            serve(cfg, listener, mf_cli::shutdown_signal())
                .context("coordinator stopped with an error")?;
            tracing::info!("stopped");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Devnet {
            dir,
            validator_bin,
            wallets,
            merchants,
            cold_pools,
            intents,
            seconds,
            hot_share,
            threads,
            quiet,
            replicas,
        } => {
            let me = std::env::current_exe().context("cannot find this executable")?;
            let validator_bin = find_validator_bin(validator_bin)?;
            if wallets == 0 || merchants == 0 {
                bail!("--wallets and --merchants must be at least 1");
            }
            if !(0.0..=1.0).contains(&hot_share) {
                bail!("--hot-share is a fraction between 0 and 1");
            }
            let cfg = DevnetConfig {
                dir,
                validator_bin,
                coordinator_bin: me,
                wallets,
                merchants,
                cold_pools,
                intents,
                max_time: Duration::from_secs(seconds),
                hot_share,
                threads,
                progress: !quiet,
                coordinator_args: Vec::new(),
                replicas: replicas as usize,
            };
            eprintln!(
                "devnet: {wallets} wallets, 1 hot pool + {cold_pools} cold, {merchants} merchants, {intents} intents"
            );
            let summary = devnet::run(&cfg)?;
            print!("{}", summary.render());
            Ok(
                if summary.state_hash_agrees
                    && summary.accepted > 0
                    && summary.replicas.is_none_or(|r| r.1)
                {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                },
            )
        }
    }
}
