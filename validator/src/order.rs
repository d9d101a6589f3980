//! The replicated batch log: candidate batches in apply order on a NATS JetStream stream,
//! which replica validators (`mf-validator serve --order`) apply one by one
//! (docs/REPLICATION.md).
//!
//! - One stream per chain, [`stream_name`] (`MF_BATCHES_<chain_id>`), on one subject,
//!   [`subject`] (`mf.<chain_id>.batches`). A message is the encoded batch, the bytes
//!   `POST /batch` takes. The stream keeps every message (limits retention, no age, size or
//!   count limit): a replica that joins late replays it from sequence 1.
//! - [`publish`] sends a batch with the message id [`message_id`] (blake3 of the bytes, hex),
//!   so that a publish retried within the stream's duplicate window is stored once. The
//!   publish acknowledgement is the commit point: the batch is then in the log, at the
//!   sequence the acknowledgement names.
//! - [`Reader`] reads the stream by sequence (`STREAM.MSG.GET`, which a 2.9 server
//!   answers), from the sequence after the last one a replica applied, and gives each message
//!   with the time the stream stored it: the header time of the height it produces.
//! - Divergence: after each height a replica publishes its header hash to the stream
//!   [`heads_bucket`] (`MF_HEADS_<chain_id>`, subject `mf.<chain_id>.heads.<height>`) on
//!   condition that the height's subject is still empty; when it is not, it compares
//!   ([`Reader::check_head`]): the first hash stored for a height is the reference, and a
//!   replica that differs from it stops applying.

pub use async_nats;
use async_nats::jetstream::{self, stream};
use axum::body::Bytes;
use std::time::Duration;

/// The stream of chain `chain_id`.
pub fn stream_name(chain_id: u64) -> String {
    format!("MF_BATCHES_{chain_id}")
}

/// The subject batches of chain `chain_id` are published on.
pub fn subject(chain_id: u64) -> String {
    format!("mf.{chain_id}.batches")
}

/// The JetStream message id of a batch: blake3 of its bytes, hex. The stream stores a
/// message id once per duplicate window ([`DUPLICATE_WINDOW`]).
pub fn message_id(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// The stream's duplicate window: a publish retried within it is not stored again.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// The stream of the header hashes replicas report, one subject per height.
pub fn heads_bucket(chain_id: u64) -> String {
    format!("MF_HEADS_{chain_id}")
}

/// What [`Reader::check_head`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeadCheck {
    /// This replica is the first to report the height.
    First,
    /// The hash reported first is the same.
    Agrees,
    /// Another replica reported a different hash first.
    Differs {
        /// The hash reported first.
        first: String,
    },
}

/// Why the order stream could not be used.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// The NATS server could not be reached.
    #[error("cannot connect to the NATS server {url}: {detail}")]
    Connect {
        /// The server.
        url: String,
        /// Why.
        detail: String,
    },
    /// A JetStream request failed.
    #[error("JetStream {what}: {detail}")]
    JetStream {
        /// What was asked.
        what: &'static str,
        /// Why it failed.
        detail: String,
    },
    /// The stream no longer holds the next message: its retention dropped it.
    #[error(
        "the order stream no longer holds message {seq} (its first is {first}): it must keep \
         every message since genesis"
    )]
    Gap {
        /// The sequence wanted.
        seq: u64,
        /// The stream's first sequence.
        first: u64,
    },
}

fn js_err(what: &'static str) -> impl Fn(&dyn std::fmt::Display) -> OrderError {
    move |e| OrderError::JetStream {
        what,
        detail: e.to_string(),
    }
}

/// Connects to the NATS server at `url` (`nats://host:port`), or to one of a cluster's
/// servers given as comma-separated URLs (the client also learns the cluster's other servers
/// from the one it reaches, and reconnects to another when its server goes away).
pub async fn connect(url: &str) -> Result<async_nats::Client, OrderError> {
    let urls: Vec<&str> = url
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    async_nats::connect(urls)
        .await
        .map_err(|e| OrderError::Connect {
            url: url.to_string(),
            detail: e.to_string(),
        })
}

/// The stream of `chain_id`, created when missing with `replicas` copies (1 on a single
/// server, 3 on a 3-node cluster).
pub async fn ensure_stream(
    js: &jetstream::Context,
    chain_id: u64,
    replicas: usize,
) -> Result<stream::Stream, OrderError> {
    js.get_or_create_stream(stream::Config {
        name: stream_name(chain_id),
        subjects: vec![subject(chain_id)],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        num_replicas: replicas.max(1),
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    })
    .await
    .map_err(|e| js_err("stream create")(&e))
}

/// What the stream answered to a publish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Published {
    /// The batch's sequence in the stream.
    pub seq: u64,
    /// True when the stream already held this batch (same message id, within the duplicate
    /// window): `seq` is then the first copy's.
    pub duplicate: bool,
}

/// Publishes a batch to the stream of `chain_id` (which must exist, [`ensure_stream`]) and
/// waits for the acknowledgement: once it returns, the batch is in the log.
pub async fn publish(
    js: &jetstream::Context,
    chain_id: u64,
    bytes: Bytes,
) -> Result<Published, OrderError> {
    let id = message_id(&bytes);
    let ack = js
        .send_publish(
            subject(chain_id),
            jetstream::message::PublishMessage::build()
                .payload(bytes)
                .message_id(id),
        )
        .await
        .map_err(|e| js_err("publish")(&e))?
        .await
        .map_err(|e| js_err("publish acknowledgement")(&e))?;
    Ok(Published {
        seq: ack.sequence,
        duplicate: ack.duplicate,
    })
}

/// One message of the stream.
pub struct Ordered {
    /// Its sequence.
    pub seq: u64,
    /// When the stream stored it, in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The batch.
    pub bytes: Bytes,
}

/// Reads the stream in sequence order.
pub struct Reader {
    js: jetstream::Context,
    stream: stream::Stream,
    wake: async_nats::Subscriber,
    next: u64,
    heads: Option<(jetstream::Context, stream::Stream)>,
    chain_id: u64,
}

/// The heads stream of `chain_id` (one subject per height, at most one message each),
/// created when missing. A plain stream rather than a JetStream key-value bucket, whose
/// client-side set-up needs a newer server than 2.9.
async fn heads_store(
    js: &jetstream::Context,
    chain_id: u64,
    replicas: usize,
) -> Result<stream::Stream, OrderError> {
    js.get_or_create_stream(stream::Config {
        name: heads_bucket(chain_id),
        subjects: vec![format!("mf.{chain_id}.heads.*")],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        num_replicas: replicas.max(1),
        max_messages_per_subject: 1,
        ..Default::default()
    })
    .await
    .map_err(|e| js_err("heads stream create")(&e))
}

impl Reader {
    /// A reader of the stream of `chain_id` (created when missing) that starts after
    /// sequence `after` (`None`: from the first message).
    pub async fn open(
        client: &async_nats::Client,
        chain_id: u64,
        replicas: usize,
        after: Option<u64>,
    ) -> Result<Reader, OrderError> {
        let js = jetstream::new(client.clone());
        let stream = ensure_stream(&js, chain_id, replicas).await?;
        // Every new message also reaches this subscription: a wake-up for a reader that is
        // waiting at the end of the stream.
        let wake = client
            .subscribe(subject(chain_id))
            .await
            .map_err(|e| js_err("subscribe")(&e))?;
        let heads = match heads_store(&js, chain_id, replicas).await {
            Ok(st) => Some((js.clone(), st)),
            Err(e) => {
                tracing::warn!("{e}: header hashes are not compared between replicas");
                None
            }
        };
        Ok(Reader {
            js,
            stream,
            wake,
            next: after.map_or(1, |s| s + 1),
            heads,
            chain_id,
        })
    }

    /// Reports `hash` as the header hash of `height` to the heads bucket, or compares it
    /// with the hash reported first. `None` when the bucket is not available.
    pub async fn check_head(
        &self,
        height: u64,
        hash: &mf_format::B256,
    ) -> Result<Option<HeadCheck>, OrderError> {
        let Some((js, heads)) = &self.heads else {
            return Ok(None);
        };
        let ours = format!("{hash}");
        let subject = format!("mf.{}.heads.{height}", self.chain_id);
        // Stored only if the height's subject holds nothing yet.
        let sent = js
            .send_publish(
                subject.clone(),
                jetstream::message::PublishMessage::build()
                    .payload(Bytes::from(ours.clone()))
                    .expected_last_subject_sequence(0),
            )
            .await
            .map_err(|e| js_err("heads publish")(&e))?
            .await;
        match sent {
            Ok(_) => Ok(Some(HeadCheck::First)),
            Err(e) if e.kind() == jetstream::context::PublishErrorKind::WrongLastSequence => {
                let first = heads
                    .get_last_raw_message_by_subject(&subject)
                    .await
                    .map_err(|e| js_err("heads get")(&e))?;
                let first = String::from_utf8_lossy(&first.payload).into_owned();
                Ok(Some(if first == ours {
                    HeadCheck::Agrees
                } else {
                    HeadCheck::Differs { first }
                }))
            }
            Err(e) => Err(js_err("heads publish acknowledgement")(&e)),
        }
    }

    /// The JetStream context the reader uses: a replica publishes the batches posted to it
    /// ([`publish`]) on the same connection.
    pub fn context(&self) -> jetstream::Context {
        self.js.clone()
    }

    /// The chain whose stream this reads.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The sequence the next message will have.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// The next message, waiting for it to be published.
    pub async fn next(&mut self) -> Result<Ordered, OrderError> {
        use futures_util::StreamExt;
        loop {
            match self.stream.get_raw_message(self.next).await {
                Ok(m) => {
                    self.next += 1;
                    let ns = m.time.unix_timestamp_nanos();
                    return Ok(Ordered {
                        seq: m.sequence,
                        time_ms: u64::try_from(ns / 1_000_000).unwrap_or(0),
                        bytes: m.payload,
                    });
                }
                Err(e) if e.kind() == stream::RawMessageErrorKind::NoMessageFound => {
                    let info = self
                        .stream
                        .get_info()
                        .await
                        .map_err(|e| js_err("stream info")(&e))?;
                    if info.state.messages > 0 && info.state.first_sequence > self.next {
                        return Err(OrderError::Gap {
                            seq: self.next,
                            first: info.state.first_sequence,
                        });
                    }
                    if info.state.last_sequence >= self.next {
                        // Either published between the get and the info (look again), or
                        // deleted by hand: a hole the log must not have.
                        match self.stream.get_raw_message(self.next).await {
                            Ok(_) => continue,
                            Err(e) if e.kind() == stream::RawMessageErrorKind::NoMessageFound => {
                                return Err(OrderError::Gap {
                                    seq: self.next,
                                    first: info.state.first_sequence,
                                });
                            }
                            Err(e) => return Err(js_err("message get")(&e)),
                        }
                    }
                    // At the end: wait for a publish (or poll again after a while, in case
                    // the wake-up was missed).
                    let _ =
                        tokio::time::timeout(Duration::from_millis(500), self.wake.next()).await;
                }
                Err(e) => return Err(js_err("message get")(&e)),
            }
        }
    }
}
