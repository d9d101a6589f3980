//! Follows the validator's feed into the index.
//!
//! One thread: connect to `GET /feed?from=<height + 1>` (read with `mf_api::FeedReader`) (from 0, after fetching
//! `GET /genesis`, when the index is empty), apply each record in its own LMDB write
//! transaction ([`CoordDb::apply_record`](crate::store::CoordDb::apply_record)), wake whoever
//! waits for a height or an intent. When the connection fails or the validator ends the
//! stream (a restart), reconnect with a bounded back-off from the height reached: records
//! are applied exactly once because the height is committed with them. With several
//! replicas (`--validator URL,URL,...`) a failed connection moves to the next replica
//! ([`Upstream::fail_over`](crate::upstream::Upstream::fail_over)), from the same height.
//! A record that disagrees with the index ([`CoordError::Diverged`]) stops the coordinator: serving reads
//! from a state the validator does not have would be worse than stopping.

use crate::CoordError;
use crate::service::Shared;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// Runs until `shared` says stop (checked between records and reconnections) or the index
/// diverges (then `shared.fatal` is set).
pub fn run(shared: Arc<Shared>) {
    let mut backoff = Duration::from_millis(50);
    let mut connected_once = false;
    while !shared.stopping() {
        let at = shared.upstream.current();
        match follow_once(&shared, &mut connected_once) {
            Ok(()) => {
                tracing::info!("the validator ended the feed; reconnecting");
                backoff = Duration::from_millis(50);
            }
            Err(e @ (CoordError::Diverged(_) | CoordError::Corrupt(_))) => {
                // Typed, so `serve` returns the error with its advice (delete the data
                // directory and resync) rather than a bare message.
                shared.fail(e);
                return;
            }
            Err(e) => {
                // With replicas, continue on the next one from the height reached: they hold
                // the same chain byte for byte, so the checks against the index still hold.
                shared.fail_over(at);
                if connected_once {
                    tracing::warn!("feed: {e}; retrying in {backoff:?}");
                } else {
                    tracing::debug!("feed: {e}; retrying in {backoff:?}");
                }
                shared.metrics.feed_reconnects.fetch_add(1, Relaxed);
            }
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

fn follow_once(shared: &Shared, connected_once: &mut bool) -> Result<(), CoordError> {
    let head = shared.store.head()?;
    let genesis = match head {
        Some(_) => None,
        None => Some(shared.upstream.genesis()?),
    };
    let from = head.map(|h| h.height + 1).unwrap_or(0);
    // Named in errors: the replica this feed comes from, even if the sequencer fails over.
    let url = shared.upstream.url().to_string();
    let mut feed = shared.upstream.feed(from)?;
    if !*connected_once {
        tracing::info!(from, validator = url, "following the feed");
    }
    *connected_once = true;
    let mut genesis = genesis;
    let feed_err = |e: mf_api::FeedError| CoordError::Upstream {
        url: url.clone(),
        detail: e.to_string(),
    };
    while let Some(rec) = feed.next_record().map_err(feed_err)? {
        if let Some(g) = genesis.take() {
            shared.store.bootstrap(&g, &rec.header)?;
            tracing::info!(
                chain_id = g.chain_id,
                versions = g.versions.len(),
                "genesis loaded and checked against header 0"
            );
        } else {
            let applied = shared.store.apply_record(&rec)?;
            shared.forget_included_nonces(&rec.batch.txs);
            let m = &shared.metrics;
            m.feed_txs.fetch_add(applied.txs as u64, Relaxed);
            m.feed_moves.fetch_add(applied.moves as u64, Relaxed);
            m.accepted.fetch_add(applied.accepted.len() as u64, Relaxed);
            if !applied.accepted.is_empty() {
                shared.open.fetch_sub(
                    applied.accepted.len().min(shared.open.load(Relaxed)),
                    Relaxed,
                );
            }
            tracing::debug!(
                height = rec.header.height,
                txs = applied.txs,
                ours = applied.accepted.len(),
                "applied"
            );
        }
        if shared.stopping() {
            break;
        }
    }
    Ok(())
}
