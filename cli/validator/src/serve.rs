//! `serve`: the HTTP API until SIGINT or SIGTERM, alone or as a replica of the order stream
//! (`--order`); `publish`: batch files into the order stream.

use crate::{open, pin_clock};
use anyhow::{Context, Result};
use mf_validator::order;
use mf_validator::server::ServeConfig;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

fn runtime() -> Result<tokio::runtime::Runtime> {
    // Store reads run on the blocking pool; LMDB gives each reading thread a slot in its
    // reader table (126 by default), so the pool must stay well below that.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(64)
        .thread_name("mf-http")
        .build()
        .context("cannot start the async runtime")
}

pub(crate) fn serve(
    data: &Path,
    listen: SocketAddr,
    fixed_time: Option<u64>,
    order: Option<(String, usize)>,
    cfg: ServeConfig,
) -> Result<ExitCode> {
    let mut v = open(data)?;
    pin_clock(&mut v, fixed_time);
    let rt = runtime()?;
    rt.block_on(async move {
        let reader = match &order {
            None => None,
            Some((url, replicas)) => {
                let after = v.store().order_seq().context("reading the order sequence")?;
                let client = order::connect(url).await?;
                let reader = order::Reader::open(&client, v.chain_id(), *replicas, after)
                    .await
                    .context("opening the order stream")?;
                tracing::info!(
                    stream = order::stream_name(v.chain_id()),
                    next = reader.next_seq(),
                    "replica: applying the order stream"
                );
                Some(reader)
            }
        };
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr().context("listener address")?;
        tracing::info!(%addr, mode = ?cfg.mode, queue = cfg.queue, height = v.head().height, "serving");
        out!("listening on {addr}");
        let _ = std::io::stdout().flush();
        let served = match reader {
            None => {
                mf_validator::server::serve(v, listener, cfg, mf_cli::shutdown_signal()).await
            }
            Some(reader) => {
                mf_validator::server::serve_replica(
                    v,
                    listener,
                    cfg,
                    reader,
                    mf_cli::shutdown_signal(),
                )
                .await
            }
        };
        served.context("server stopped with an error")
    })?;
    rt.shutdown_timeout(Duration::from_secs(1));
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn publish(
    url: &str,
    chain_id: u64,
    replicas: usize,
    files: &[PathBuf],
) -> Result<ExitCode> {
    let rt = runtime()?;
    rt.block_on(async move {
        let client = order::connect(url).await?;
        let js = order::async_nats::jetstream::new(client);
        order::ensure_stream(&js, chain_id, replicas).await?;
        for f in files {
            let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
            let p = order::publish(&js, chain_id, bytes.into())
                .await
                .with_context(|| format!("publishing {}", f.display()))?;
            out!(
                "{}: seq {}{}",
                f.display(),
                p.seq,
                if p.duplicate { " (duplicate)" } else { "" }
            );
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
