//! `eth_subscribe` / `eth_unsubscribe` over WebSocket (the same port as HTTP), with the
//! notifications sent as `eth_subscription`: `newPendingTransactions` (the hash of each
//! transaction the journal takes), `newHeads` and `logs`. A subscriber that reads too slowly
//! misses what the channel could not hold (jsonrpsee's per-connection buffer; the pending
//! channel's capacity), as with geth; a closed connection ends its subscriptions.

use super::transport::RpcError;
use crate::service::Shared;
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::{PendingSubscriptionSink, SubscriptionMessage};
use serde_json::Value as Json;
use std::sync::Arc;

/// Subscription ids as geth and reth give them: `0x` and 32 hex digits (a random key of
/// this process and a counter, so ids are unguessable across connections and never repeat).
#[derive(Debug)]
pub(super) struct HexIds {
    key: u64,
    next: std::sync::atomic::AtomicU64,
}

impl Default for HexIds {
    fn default() -> Self {
        use std::hash::{BuildHasher, Hasher};
        HexIds {
            key: std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish(),
            next: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl jsonrpsee::core::traits::IdProvider for HexIds {
    fn next_id(&self) -> jsonrpsee::types::SubscriptionId<'static> {
        use std::hash::{BuildHasher, Hasher};
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // The counter keyed by a per-process random hasher state: unpredictable, distinct.
        let mut h =
            std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
                .build_hasher();
        h.write_u64(self.key);
        h.write_u64(n);
        jsonrpsee::types::SubscriptionId::Str(format!("0x{:016x}{:016x}", h.finish(), n).into())
    }
}

fn head_height(s: &Shared) -> Option<u64> {
    s.store.head().ok().flatten().map(|h| h.height)
}

fn message(v: &impl serde::Serialize) -> Result<SubscriptionMessage, serde_json::Error> {
    serde_json::value::to_raw_value(v).map(SubscriptionMessage::from)
}

/// Registers `eth_subscribe`.
pub(super) fn register(
    m: &mut jsonrpsee::RpcModule<Arc<Shared>>,
) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_subscription(
        "eth_subscribe",
        "eth_subscription",
        "eth_unsubscribe",
        |params, pending, ctx, _ext| async move { subscribe(params, pending, Arc::clone(&ctx)).await },
    )?;
    Ok(())
}

async fn subscribe(
    params: jsonrpsee::types::Params<'static>,
    pending: PendingSubscriptionSink,
    s: Arc<Shared>,
) -> SubscriptionResult {
    let args: Vec<Json> = match params.as_str() {
        None => Vec::new(),
        Some(t) => match serde_json::from_str::<Json>(t) {
            Ok(Json::Array(a)) => a,
            _ => Vec::new(),
        },
    };
    let kind = args.first().and_then(Json::as_str).unwrap_or("");
    match kind {
        "newPendingTransactions" => {
            let mut rx = s.pending.subscribe();
            let sink = pending.accept().await?;
            loop {
                tokio::select! {
                    _ = sink.closed() => return Ok(()),
                    got = rx.recv() => match got {
                        Ok(hash) => sink.send(message(&hash)?).await?,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
                    },
                }
            }
        }
        "newHeads" | "logs" => {
            let filter = if kind == "logs" {
                let f: alloy_rpc_types_eth::Filter = match args.get(1) {
                    None | Some(Json::Null) => alloy_rpc_types_eth::Filter::default(),
                    Some(v) => match serde_json::from_value(v.clone()) {
                        Ok(f) => f,
                        Err(e) => {
                            let e = RpcError::params(format!("eth_subscribe logs filter: {e}"));
                            pending.reject(e.into_object()).await;
                            return Ok(());
                        }
                    },
                };
                Some(f)
            } else {
                None
            };
            let mut changes = s.store.changes().subscribe();
            let Some(mut next) = head_height(&s).map(|h| h + 1) else {
                let e = RpcError::new(
                    mf_movegen::rpc::codes::RESOURCE_UNAVAILABLE,
                    "the coordinator has not loaded the validator's genesis yet; retry shortly",
                );
                pending.reject(e.into_object()).await;
                return Ok(());
            };
            let sink = pending.accept().await?;
            loop {
                // Everything applied since the last round, one height at a time.
                let head = head_height(&s).unwrap_or(0);
                while next <= head {
                    let h = next;
                    next += 1;
                    let s2 = Arc::clone(&s);
                    let f = filter.clone();
                    let items: Vec<Json> = tokio::task::spawn_blocking(move || match f {
                        None => super::eth::header_json(&s2, h).map(|o| o.into_iter().collect()),
                        Some(f) => super::eth::logs(&s2, &f, h, h).map(|logs| {
                            logs.iter()
                                .filter_map(|l| serde_json::to_value(l).ok())
                                .collect()
                        }),
                    })
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.message)?;
                    for item in items {
                        sink.send(message(&item)?).await?;
                    }
                }
                tokio::select! {
                    _ = sink.closed() => return Ok(()),
                    changed = changes.changed() => if changed.is_err() || s.stopping() {
                        return Ok(());
                    },
                }
            }
        }
        other => {
            let e = RpcError::params(format!(
                "eth_subscribe: unknown subscription {other:?} (newHeads, logs, \
                 newPendingTransactions)"
            ));
            pending.reject(e.into_object()).await;
            Ok(())
        }
    }
}
