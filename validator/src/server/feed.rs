//! `GET /feed?from=H`: stored records from `H` on, then each new one as it is committed (the
//! framing is `mf_api::feed`'s; the lifetime of the stream is documented on `server`).

use super::handlers::{ApiError, ApiResult, AppState};
use crate::StoreError;
use crate::store::Store;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Deserialize)]
pub(super) struct FeedQuery {
    from: Option<u64>,
}

/// One feed record for `height`, or `None` if it is not stored.
fn feed_record(store: &Store, height: u64) -> Result<Option<Vec<u8>>, StoreError> {
    let (Some(h), Some(b), Some(r)) = (
        store.header(height)?,
        store.batch_bytes(height)?,
        store.receipts_bytes(height)?,
    ) else {
        return Ok(None);
    };
    let h = mf_format::encode(&h);
    let mut out = Vec::with_capacity(12 + h.len() + b.len() + r.len());
    mf_api::write_record(&mut out, &h, &b, &r).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Some(out))
}

/// A follower's position in the stream.
struct Feed {
    store: Arc<Store>,
    next: u64,
    head: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
    done: bool,
}

/// The next chunk of the body: the record at `next` once it is committed; the end at
/// shutdown; an error (which aborts the body) when a committed height cannot be read.
async fn feed_next(mut f: Feed) -> Option<(Result<Bytes, std::io::Error>, Feed)> {
    loop {
        if f.done || *f.shutdown.borrow() {
            return None;
        }
        let head = *f.head.borrow_and_update();
        if f.next <= head {
            let height = f.next;
            let store = Arc::clone(&f.store);
            let rec = tokio::task::spawn_blocking(move || feed_record(&store, height)).await;
            let err = match rec {
                Ok(Ok(Some(bytes))) => {
                    f.next += 1;
                    return Some((Ok(Bytes::from(bytes)), f));
                }
                Ok(Ok(None)) => format!("height {height} is not in the store"),
                Ok(Err(e)) => e.to_string(),
                Err(e) => e.to_string(),
            };
            tracing::error!(height, "feed stopped: {err}");
            f.done = true;
            return Some((Err(std::io::Error::other(err)), f));
        }
        tokio::select! {
            r = f.head.changed() => if r.is_err() { return None },
            _ = f.shutdown.wait_for(|s| *s) => return None,
        }
    }
}

pub(super) async fn get_feed(
    State(s): State<AppState>,
    q: Result<Query<FeedQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let feed = Feed {
        store: Arc::clone(&s.store),
        next: q.from.unwrap_or(1),
        head: s.head.clone(),
        shutdown: s.shutdown.clone(),
        done: false,
    };
    let stream = futures_util::stream::unfold(feed, feed_next);
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from_stream(stream),
    )
        .into_response())
}
