//! `serve`: the HTTP API until SIGINT or SIGTERM.

use crate::{open, pin_clock};
use anyhow::{Context, Result};
use mf_validator::server::ServeConfig;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

pub(crate) fn serve(
    data: &Path,
    listen: SocketAddr,
    fixed_time: Option<u64>,
    cfg: ServeConfig,
) -> Result<ExitCode> {
    let mut v = open(data)?;
    pin_clock(&mut v, fixed_time);
    // Store reads run on the blocking pool; LMDB gives each reading thread a slot in its
    // reader table (126 by default), so the pool must stay well below that.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(64)
        .thread_name("mf-http")
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr().context("listener address")?;
        tracing::info!(%addr, mode = ?cfg.mode, queue = cfg.queue, height = v.head().height, "serving");
        out!("listening on {addr}");
        let _ = std::io::stdout().flush();
        mf_validator::server::serve(v, listener, cfg, mf_cli::shutdown_signal())
            .await
            .context("server stopped with an error")
    })?;
    rt.shutdown_timeout(Duration::from_secs(1));
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
