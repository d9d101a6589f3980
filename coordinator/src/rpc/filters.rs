//! Polled filters (`eth_newFilter`, `eth_newBlockFilter`, `eth_newPendingTransactionFilter`,
//! `eth_getFilterChanges`, `eth_getFilterLogs`, `eth_uninstallFilter`), kept in memory as geth keeps them: a
//! filter not polled for [`FILTER_TTL`] is removed, and at most [`MAX_FILTERS`] exist at once
//! (the oldest-polled is dropped first). A restart forgets them (a client then gets
//! "filter not found" and installs a new one, as with geth).

use super::params::param;
use super::transport::{RpcError, RpcResult};
use crate::service::Shared;
use alloy_primitives::{B256, U256};
use mf_movegen::rpc::codes;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A filter not polled for this long is removed (geth: 5 minutes).
pub const FILTER_TTL: Duration = Duration::from_secs(300);
/// Most filters installed at once.
pub const MAX_FILTERS: usize = 4096;
/// Most entries one `eth_getFilterChanges` answers (the rest come on the next poll).
pub const MAX_CHANGES: usize = 10_000;

/// What a filter watches.
enum Kind {
    /// New blocks from this height on.
    Blocks { next: u64 },
    /// Transactions journaled since the last poll.
    Pending(tokio::sync::broadcast::Receiver<B256>),
    /// Logs matching the filter, from this height on.
    Logs {
        filter: Box<alloy_rpc_types_eth::Filter>,
        next: u64,
    },
}

struct Installed {
    kind: Kind,
    polled: Instant,
}

/// The installed filters.
#[derive(Default)]
pub struct Filters {
    map: Mutex<BTreeMap<u64, Installed>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl Filters {
    fn install(&self, kind: Kind) -> Json {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        map.retain(|_, f| now.duration_since(f.polled) < FILTER_TTL);
        while map.len() >= MAX_FILTERS {
            let oldest = map.iter().min_by_key(|(_, f)| f.polled).map(|(id, _)| *id);
            match oldest {
                Some(id) => map.remove(&id),
                None => break,
            };
        }
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .wrapping_add(1);
        map.insert(id, Installed { kind, polled: now });
        json!(U256::from(id))
    }
}

fn filter_id(params: &[Json]) -> Result<u64, RpcError> {
    let id: U256 = param(params, 0, "filter id")?;
    u64::try_from(id).map_err(|_| not_found())
}

fn not_found() -> RpcError {
    RpcError::new(codes::SERVER_ERROR, "filter not found")
}

fn head_height(s: &Shared) -> Result<u64, RpcError> {
    match s.store.head() {
        Ok(Some(h)) => Ok(h.height),
        Ok(None) => Err(RpcError::new(
            codes::RESOURCE_UNAVAILABLE,
            "the coordinator has not loaded the validator's genesis yet; retry shortly",
        )),
        Err(e) => Err(RpcError::internal(e)),
    }
}

/// The hashes of the blocks `from..=to` (at most [`MAX_CHANGES`]), from the block store.
fn block_hashes(s: &Shared, from: u64, to: u64) -> Result<Vec<B256>, RpcError> {
    let blocks = s.store.block_reader().map_err(RpcError::internal)?;
    let mut out = Vec::new();
    for h in from..=to {
        if out.len() >= MAX_CHANGES {
            break;
        }
        if let Some(b) = blocks.block(h).map_err(RpcError::internal)? {
            out.push(b.hash);
        }
    }
    Ok(out)
}

/// The methods [`dispatch`] answers.
pub(super) const METHODS: &[&str] = &[
    "eth_newFilter",
    "eth_newBlockFilter",
    "eth_newPendingTransactionFilter",
    "eth_getFilterChanges",
    "eth_getFilterLogs",
    "eth_uninstallFilter",
];

/// Answers a filter method, or `None` when `method` is not one.
pub(super) fn dispatch(s: &Shared, method: &str, params: &[Json]) -> Option<RpcResult> {
    let r = match method {
        "eth_newBlockFilter" => {
            head_height(s).map(|h| s.filters.install(Kind::Blocks { next: h + 1 }))
        }
        "eth_newPendingTransactionFilter" => {
            Ok(s.filters.install(Kind::Pending(s.pending.subscribe())))
        }
        "eth_uninstallFilter" => filter_id(params).map(|id| {
            let mut map = s.filters.map.lock().unwrap_or_else(PoisonError::into_inner);
            json!(map.remove(&id).is_some())
        }),
        "eth_getFilterChanges" => changes(s, params),
        "eth_newFilter" => new_log_filter(s, params),
        "eth_getFilterLogs" => filter_logs(s, params),
        _ => return None,
    };
    Some(r)
}

/// A log filter starts at the head + 1, or at its `fromBlock` when that is a number
/// ahead; its `toBlock`, `address` and `topics` apply to every poll.
fn new_log_filter(s: &Shared, params: &[Json]) -> RpcResult {
    let filter: alloy_rpc_types_eth::Filter = param(params, 0, "filter")?;
    let head = head_height(s)?;
    let widest = super::eth::filter_width(&filter);
    if widest > super::eth::MAX_FILTER_VALUES {
        return Err(RpcError::params(format!(
            "a filter of {widest} addresses or topics in one position is above the limit of {}",
            super::eth::MAX_FILTER_VALUES
        )));
    }
    let next = match filter.get_from_block() {
        Some(n) if n > head => n,
        _ => head + 1,
    };
    Ok(s.filters.install(Kind::Logs {
        filter: Box::new(filter),
        next,
    }))
}

/// `eth_getFilterLogs`: the logs of a log filter's whole range, as `eth_getLogs` answers
/// for the same filter.
fn filter_logs(s: &Shared, params: &[Json]) -> RpcResult {
    let id = filter_id(params)?;
    let filter = {
        let mut map = s.filters.map.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(f) = map.get_mut(&id) else {
            return Err(not_found());
        };
        f.polled = Instant::now();
        match &f.kind {
            Kind::Logs { filter, .. } => (**filter).clone(),
            _ => return Err(RpcError::params("eth_getFilterLogs: not a log filter")),
        }
    };
    let filter = serde_json::to_value(&filter).map_err(RpcError::internal)?;
    super::eth::call(s, "eth_getLogs", &[filter])
}

fn changes(s: &Shared, params: &[Json]) -> RpcResult {
    let id = filter_id(params)?;
    let head = head_height(s)?;
    // Take what the filter needs under the lock; read the store after it.
    enum Work {
        Blocks(u64, u64),
        Logs(Box<alloy_rpc_types_eth::Filter>, u64, u64),
    }
    let work = {
        let mut map = s.filters.map.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let Some(f) = map.get_mut(&id) else {
            return Err(not_found());
        };
        if now.duration_since(f.polled) >= FILTER_TTL {
            map.remove(&id);
            return Err(not_found());
        }
        f.polled = now;
        match &mut f.kind {
            Kind::Pending(rx) => {
                let mut out = Vec::new();
                while out.len() < MAX_CHANGES {
                    match rx.try_recv() {
                        Ok(h) => out.push(h),
                        // Hashes a slow poller missed are gone (the channel's capacity):
                        // what is still there comes next.
                        Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
                        Err(_) => break,
                    }
                }
                return Ok(json!(out));
            }
            Kind::Blocks { next } => {
                let from = *next;
                let to = head.min(from.saturating_add(MAX_CHANGES as u64 - 1));
                *next = (*next).max(to + 1);
                Work::Blocks(from, to)
            }
            Kind::Logs { filter, next } => {
                let from = *next;
                let last = filter.get_to_block().unwrap_or(u64::MAX).min(head);
                let to = last.min(from.saturating_add(super::eth::MAX_LOG_BLOCKS - 1));
                *next = (*next).max(to.saturating_add(1));
                Work::Logs(filter.clone(), from, to)
            }
        }
    };
    match work {
        Work::Blocks(from, to) if from <= to => Ok(json!(block_hashes(s, from, to)?)),
        Work::Blocks(..) => Ok(json!([])),
        Work::Logs(filter, from, to) if from <= to => {
            Ok(json!(super::eth::logs(s, &filter, from, to)?))
        }
        Work::Logs(..) => Ok(json!([])),
    }
}

#[cfg(test)]
mod tests {
    use super::{FILTER_TTL, Filters, Kind, MAX_FILTERS};
    use std::time::Instant;

    fn ids(f: &Filters) -> Vec<u64> {
        f.map
            .lock()
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default()
    }

    #[test]
    fn filters_expire_unpolled_and_are_capped_least_recently_polled_first() {
        let f = Filters::default();
        for _ in 0..MAX_FILTERS + 1 {
            f.install(Kind::Blocks { next: 1 });
        }
        let live = ids(&f);
        assert_eq!(live.len(), MAX_FILTERS);
        assert!(
            !live.contains(&1),
            "the least recently polled (the first) went"
        );
        assert!(live.contains(&(MAX_FILTERS as u64 + 1)));

        // One not polled for the TTL is gone at the next install.
        if let Ok(mut m) = f.map.lock()
            && let Some(e) = m.get_mut(&2)
            && let Some(old) = Instant::now().checked_sub(FILTER_TTL)
        {
            e.polled = old;
        }
        f.install(Kind::Blocks { next: 1 });
        let live = ids(&f);
        assert!(!live.contains(&2));
        assert_eq!(live.len(), MAX_FILTERS);
    }
}
