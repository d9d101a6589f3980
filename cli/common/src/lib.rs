//! # mf-cli: what the `mf-validator` and `mf-coordinator` binaries share
//!
//! Both binaries log the same way and stop the same way; this crate is the one home for
//! both, so that the libraries (`mf-validator`, `mf-coordinator`) carry no command-line
//! dependencies:
//!
//! - [`init_logging`]: `tracing` events to stderr, filtered by `RUST_LOG` (default `info`),
//!   coloured only on a terminal, and written around the progress bar registered with
//!   [`set_progress`] (so that a log line never garbles the bar);
//! - [`shutdown_signal`]: a future that completes on SIGINT (Ctrl-C) or SIGTERM, for a
//!   server's graceful shutdown;
//! - [`on_shutdown_signal`]: the same on a thread of its own, for synchronous drivers;
//! - [`HttpLimitArgs`]: the flags of the limits both HTTP servers apply to slow bodies and
//!   to connections (`mf_api::server`), written once.

#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, unused_crate_dependencies)]

use indicatif::ProgressBar;
use mf_api::server::ConnLimits;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

static PROGRESS: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Registers the progress bar log lines are written around (`None`: no bar).
pub fn set_progress(pb: Option<ProgressBar>) {
    if let Ok(mut g) = PROGRESS.lock() {
        *g = pb;
    }
}

/// Collects one log event, then writes it to stderr in one piece, suspending the progress
/// bar (if any) so that the two do not garble each other.
struct LogWriter(Vec<u8>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        let write = || {
            let _ = std::io::stderr().lock().write_all(&buf);
        };
        let pb = PROGRESS.lock().ok().and_then(|g| g.clone());
        match pb {
            Some(pb) => pb.suspend(write),
            None => write(),
        }
    }
}

/// Sends `tracing` events to stderr, filtered by `RUST_LOG` (default `info`). Does nothing
/// when a subscriber is already installed.
pub fn init_logging() {
    init_logging_at("info");
}

/// [`init_logging`] with another default level (`RUST_LOG` still wins): `"warn"` for a
/// command whose own output is the report and whose routine events would drown it.
pub fn init_logging_at(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogWriter(Vec::new()))
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Completes on SIGINT or SIGTERM (on other platforms: Ctrl-C). A signal that cannot be
/// listened for is logged and never completes.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for SIGINT: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received"),
        _ = term => tracing::info!("SIGTERM received"),
    }
}

/// Runs `then` on a thread of its own once SIGINT or SIGTERM arrives (see
/// [`shutdown_signal`]); for drivers that are not async. Returns at once.
pub fn on_shutdown_signal(then: impl FnOnce() + Send + 'static) {
    let spawned = std::thread::Builder::new()
        .name("mf-signals".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::warn!("cannot listen for signals: {e}");
                    return;
                }
            };
            rt.block_on(shutdown_signal());
            then();
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot listen for signals: {e}");
    }
}

/// The command-line flags of the limits both HTTP servers apply (`mf_api::server`): body
/// deadlines and connection caps. Flattened into each binary's `serve` command.
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct HttpLimitArgs {
    /// Seconds a request body may take, plus one second per --body-min-rate bytes
    /// received; a body still incomplete then is answered 408 (body_timeout) and its
    /// connection closed.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout: u64,
    /// Bytes per second a request body must average: each this many bytes received extend
    /// its deadline by one second (0: --body-timeout is the whole allowance).
    #[arg(long, value_name = "BYTES", default_value_t = 65536)]
    pub body_min_rate: u64,
    /// Open connections in all; a connection past it is answered 503
    /// (too_many_connections) and closed.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// Open connections from one IP address; a connection past it is answered 503
    /// (too_many_connections) and closed.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections_per_ip: u64,
}

impl HttpLimitArgs {
    /// `--body-timeout` as a duration.
    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout)
    }

    /// The connection caps (`--max-connections`, `--max-connections-per-ip`).
    pub fn connections(&self) -> ConnLimits {
        // Both flags are at most 1,000,000, which fits every usize this runs on.
        let cap = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        ConnLimits {
            max_connections: cap(self.max_connections),
            max_per_ip: cap(self.max_connections_per_ip),
        }
    }
}
