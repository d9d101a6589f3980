//! Gas estimation (`eth_estimateGas`): the smallest gas limit under which a call succeeds,
//! against any [`StateView`].

use crate::error::MovegenError;
use crate::exec::execute;
use crate::view::StateView;
use mf_format::{Call, ExecContext};

/// The smallest gas limit at most `call.gas_limit` under which `call` succeeds against
/// `view`. The call is run once with its own limit (its failure is the answer's error);
/// then the gas it used is tried (refunds and the 63/64 rule can make it too small), and
/// the limit is bisected between the two.
pub fn estimate_gas<V: StateView>(
    view: &V,
    chain_id: u64,
    call: &Call,
    ctx: &ExecContext,
) -> Result<u64, MovegenError> {
    let ran = execute(view, chain_id, call, ctx)?;
    let ok = |gas: u64| {
        let c = Call {
            gas_limit: gas,
            ..call.clone()
        };
        execute(view, chain_id, &c, ctx).is_ok()
    };
    if ok(ran.gas_used) {
        return Ok(ran.gas_used);
    }
    let mut lo = ran.gas_used;
    let mut hi = call.gas_limit;
    while hi.saturating_sub(lo) > 1 {
        let mid = lo + (hi - lo) / 2;
        if ok(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}
