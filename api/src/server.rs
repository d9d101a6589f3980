//! What both servers (the validator's HTTP API and the coordinator's JSON-RPC) do to keep
//! slow or numerous peers from locking honest clients out (feature `server`):
//!
//! - [`LimitedListener`]: an accepting socket that caps open connections per peer IP and in
//!   total. A connection past a cap is answered at once with `503` and the JSON body
//!   `{"detail": "...", "error": "too_many_connections"}` ([`ErrorJson::TOO_MANY_CONNECTIONS`]),
//!   `Connection: close` and `Retry-After: 1`, then closed (after reading and dropping, for
//!   at most [`LINGER`], what the peer had already sent, so that it gets the answer rather
//!   than a reset).
//! - [`read_body`]: reads a request body under a deadline that grows with what arrives
//!   ([`BodyLimits`]): a body that stalls, or trickles below the minimum rate, ends in
//!   [`BodyError::TooSlow`], which the servers answer with `408` and close the connection.
//!
//! Nothing here is held for a peer before its bytes arrive: a connection costs one slot of
//! the caps and a socket, a body only the memory of what it has sent so far.

use crate::ErrorJson;
use axum::body::{Body, Bytes};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// How long a refused connection is read (and what arrives dropped) after its answer, so
/// that the peer reads the answer instead of a reset.
pub const LINGER: Duration = Duration::from_secs(2);
/// Refused connections lingering at once; past this a refused connection is closed at once.
const MAX_LINGERING: usize = 256;

/// Caps on open connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnLimits {
    /// Open connections in all (at least 1).
    pub max_connections: usize,
    /// Open connections from one IP address (at least 1).
    pub max_per_ip: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            max_connections: 1024,
            max_per_ip: 64,
        }
    }
}

/// Counters of a [`LimitedListener`], for `/metrics`.
#[derive(Debug, Default)]
pub struct ConnStats {
    open: AtomicUsize,
    refused_per_ip: AtomicU64,
    refused_total: AtomicU64,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

impl ConnStats {
    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Relaxed)
    }
    /// Connections refused because their IP had `max_per_ip` open.
    pub fn refused_per_ip(&self) -> u64 {
        self.refused_per_ip.load(Relaxed)
    }
    /// Connections refused because `max_connections` were open.
    pub fn refused_total(&self) -> u64 {
        self.refused_total.load(Relaxed)
    }

    /// Counts a new connection from `ip`, or says which cap it is over.
    fn admit(self: &Arc<Self>, ip: IpAddr, limits: ConnLimits) -> Result<Slot, String> {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
        let open = self.open.load(Relaxed);
        if open >= limits.max_connections.max(1) {
            self.refused_total.fetch_add(1, Relaxed);
            return Err(format!(
                "the server has {open} open connections, its limit \
                 (--max-connections {}); retry later",
                limits.max_connections
            ));
        }
        let n = per_ip.entry(ip).or_insert(0);
        if *n >= limits.max_per_ip.max(1) {
            self.refused_per_ip.fetch_add(1, Relaxed);
            return Err(format!(
                "{ip} already has {n} open connections, the limit per address \
                 (--max-connections-per-ip {}); close one or retry later",
                limits.max_per_ip
            ));
        }
        *n += 1;
        self.open.fetch_add(1, Relaxed);
        Ok(Slot {
            stats: Arc::clone(self),
            ip,
        })
    }
}

/// One admitted connection's place in the counts, given back when it closes.
#[derive(Debug)]
struct Slot {
    stats: Arc<ConnStats>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut per_ip = self
            .stats
            .per_ip
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
        self.stats.open.fetch_sub(1, Relaxed);
    }
}

/// A TCP listener for `axum::serve` that applies [`ConnLimits`] (see the module doc).
#[derive(Debug)]
pub struct LimitedListener {
    inner: TcpListener,
    limits: ConnLimits,
    stats: Arc<ConnStats>,
    lingering: Arc<tokio::sync::Semaphore>,
}

impl LimitedListener {
    /// Wraps a bound listener.
    pub fn new(inner: TcpListener, limits: ConnLimits) -> LimitedListener {
        LimitedListener {
            inner,
            limits,
            stats: Arc::default(),
            lingering: Arc::new(tokio::sync::Semaphore::new(MAX_LINGERING)),
        }
    }

    /// The counters, shared with the listener.
    pub fn stats(&self) -> Arc<ConnStats> {
        Arc::clone(&self.stats)
    }
}

/// An admitted connection: the socket, and its place in the counts until it is dropped.
#[derive(Debug)]
pub struct LimitedStream {
    io: TcpStream,
    _slot: Slot,
}

impl AsyncRead for LimitedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

impl axum::serve::Listener for LimitedListener {
    type Io = LimitedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (LimitedStream, SocketAddr) {
        loop {
            let (io, addr) = match self.inner.accept().await {
                Ok(c) => c,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            };
            match self.stats.admit(addr.ip().to_canonical(), self.limits) {
                Ok(slot) => return (LimitedStream { io, _slot: slot }, addr),
                Err(detail) => {
                    tracing::warn!(peer = %addr, "connection refused: {detail}");
                    let permit = Arc::clone(&self.lingering).try_acquire_owned().ok();
                    tokio::spawn(refuse(io, detail, permit));
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// What `axum::serve`'s own listener does on an accept error: a peer's failure is ignored; a
/// local one (out of file descriptors) is logged and retried after a second.
async fn accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!("accept error: {e}");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// The answer to a refused connection (its bytes on the wire).
pub fn refusal_bytes(detail: &str) -> Vec<u8> {
    let body = serde_json::to_string(&ErrorJson::new(ErrorJson::TOO_MANY_CONNECTIONS, detail))
        .unwrap_or_else(|_| format!("{{\"error\":\"{}\"}}", ErrorJson::TOO_MANY_CONNECTIONS));
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answers a refused connection and closes it (lingering when a permit allows).
async fn refuse(
    mut io: TcpStream,
    detail: String,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
) {
    let answer = refusal_bytes(&detail);
    let Some(_permit) = permit else {
        let _ = io.try_write(&answer);
        return;
    };
    let _ = tokio::time::timeout(LINGER, async {
        io.write_all(&answer).await?;
        io.shutdown().await?;
        let mut sink = [0u8; 4096];
        let mut seen = 0usize;
        while seen < 1 << 16 {
            match io.read(&mut sink).await? {
                0 => break,
                n => seen += n,
            }
        }
        Ok::<(), io::Error>(())
    })
    .await;
}

/// Limits on reading one request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyLimits {
    /// The time a body may take, before the extension that [`BodyLimits::min_rate`] earns.
    pub timeout: Duration,
    /// Bytes per second: each this many bytes received extends the deadline by one second
    /// (0: no extension, `timeout` is the whole allowance).
    pub min_rate: u64,
    /// The largest body.
    pub max_bytes: usize,
}

impl BodyLimits {
    /// The deadline of a body started at `start` of which `received` bytes have arrived.
    pub fn deadline(&self, start: Instant, received: u64) -> Instant {
        let earned = match self.min_rate {
            0 => Duration::ZERO,
            r => Duration::from_secs_f64(received as f64 / r as f64),
        };
        start + self.timeout + earned
    }
}

/// Why a request body was not read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError<E> {
    /// Larger than [`BodyLimits::max_bytes`].
    #[error("the body is over {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// It did not arrive by its deadline.
    #[error(
        "the request body arrived too slowly: {received} bytes in {:.1} s; a body may take \
         {} s plus one second per {min_rate} bytes received (--body-timeout, --body-min-rate)",
        elapsed.as_secs_f64(), timeout.as_secs()
    )]
    TooSlow {
        /// Bytes received by the deadline.
        received: u64,
        /// Time since the body started.
        elapsed: Duration,
        /// [`BodyLimits::timeout`].
        timeout: Duration,
        /// [`BodyLimits::min_rate`].
        min_rate: u64,
    },
    /// The connection failed while the body was read.
    #[error("cannot read the request body: {0}")]
    Read(String),
    /// The caller's check of a chunk refused it.
    #[error(transparent)]
    Refused(E),
}

/// Reads a whole body under `limits`. `on_chunk(n)` is called before each chunk of `n`
/// bytes is kept (a caller can account for memory there, and refuse). Nothing is allocated
/// ahead of the bytes that arrive: an announced length is not trusted. On an error the rest
/// of the body is left in `body` (a caller may drain it before answering).
pub async fn read_body<E>(
    body: &mut Body,
    limits: &BodyLimits,
    mut on_chunk: impl FnMut(usize) -> Result<(), E>,
) -> Result<Bytes, BodyError<E>> {
    use http_body_util::BodyExt;
    let start = Instant::now();
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let deadline = limits.deadline(start, buf.len() as u64);
        let frame = match tokio::time::timeout_at(deadline.into(), body.frame()).await {
            Err(_) => {
                return Err(BodyError::TooSlow {
                    received: buf.len() as u64,
                    elapsed: start.elapsed(),
                    timeout: limits.timeout,
                    min_rate: limits.min_rate,
                });
            }
            Ok(None) => return Ok(Bytes::from(buf)),
            Ok(Some(Err(e))) => return Err(BodyError::Read(e.to_string())),
            Ok(Some(Ok(f))) => f,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if buf.len().saturating_add(data.len()) > limits.max_bytes {
            return Err(BodyError::TooLarge {
                max: limits.max_bytes,
            });
        }
        on_chunk(data.len()).map_err(BodyError::Refused)?;
        buf.extend_from_slice(&data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_is_a_complete_json_answer() {
        let b = String::from_utf8(refusal_bytes("1.2.3.4 has \"8\" open\n")).expect("utf-8");
        let (head, body) = b.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let j: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(j["error"], "too_many_connections");
        assert_eq!(j["detail"], "1.2.3.4 has \"8\" open\n");
    }

    #[test]
    fn the_deadline_grows_with_the_bytes_received() {
        let l = BodyLimits {
            timeout: Duration::from_secs(10),
            min_rate: 1000,
            max_bytes: 1 << 20,
        };
        let t = Instant::now();
        assert_eq!(l.deadline(t, 0), t + Duration::from_secs(10));
        assert_eq!(l.deadline(t, 5000), t + Duration::from_secs(15));
        let flat = BodyLimits { min_rate: 0, ..l };
        assert_eq!(flat.deadline(t, 5000), t + Duration::from_secs(10));
    }

    #[test]
    fn caps_per_ip_and_in_total() {
        let stats = Arc::new(ConnStats::default());
        let limits = ConnLimits {
            max_connections: 3,
            max_per_ip: 2,
        };
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let a1 = stats.admit(a, limits).expect("first");
        let _a2 = stats.admit(a, limits).expect("second");
        let e = stats.admit(a, limits).expect_err("third from a");
        assert!(e.contains("--max-connections-per-ip 2"), "{e}");
        let _b1 = stats.admit(b, limits).expect("b");
        let e = stats.admit(b, limits).expect_err("total");
        assert!(e.contains("--max-connections 3"), "{e}");
        assert_eq!((stats.refused_per_ip(), stats.refused_total()), (1, 1));
        drop(a1);
        assert_eq!(stats.open(), 2);
        let _a3 = stats.admit(a, limits).expect("a slot was given back");
    }
}
