//! `GET /feed?from=H`: stored records from `H` on, then each new one as it is committed (the
//! framing is `mf_api::feed`'s; the lifetime of the stream is documented on `server`).

use super::handlers::{ApiError, ApiResult, AppState};
use super::stream::{Parts, blocking};
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

/// A follower's position in the stream.
struct Feed {
    store: Arc<Store>,
    next: u64,
    /// The record at `next` being written, a chunk at a time.
    current: Option<Parts>,
    head: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
    done: bool,
}

/// The next chunk of the body: the next piece of the record at `next` once it is committed
/// (a record is read from the store a chunk at a time, never whole); the end at shutdown,
/// between two records; an error (which aborts the body) when a committed height cannot be
/// read.
async fn feed_next(mut f: Feed) -> Option<(Result<Bytes, std::io::Error>, Feed)> {
    loop {
        if f.done {
            return None;
        }
        let height = f.next;
        let store = Arc::clone(&f.store);
        let err = if let Some(mut parts) = f.current.take() {
            match blocking(move || parts.next_chunk(&store).map(|c| (c, parts))).await {
                Ok((Some(chunk), parts)) => {
                    f.current = Some(parts);
                    return Some((Ok(Bytes::from(chunk)), f));
                }
                Ok((None, _)) => {
                    f.next += 1;
                    continue;
                }
                Err(e) => e.to_string(),
            }
        } else {
            if *f.shutdown.borrow() {
                return None;
            }
            let head = *f.head.borrow_and_update();
            if height > head {
                tokio::select! {
                    r = f.head.changed() => if r.is_err() { return None },
                    _ = f.shutdown.wait_for(|s| *s) => return None,
                }
                continue;
            }
            match blocking(move || Parts::record(&store, height)).await {
                Ok(Some(parts)) => {
                    f.current = Some(parts);
                    continue;
                }
                Ok(None) => format!("height {height} is not in the store"),
                Err(e) => e.to_string(),
            }
        };
        tracing::error!(height, "feed stopped: {err}");
        f.done = true;
        return Some((Err(std::io::Error::other(err)), f));
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
        current: None,
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
