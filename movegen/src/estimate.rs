//! Gas estimation (`eth_estimateGas`): the smallest gas limit under which a call succeeds,
//! against any [`StateView`].

use crate::error::MovegenError;
use crate::exec::{Execution, execute, execute_until_under};
use crate::view::StateView;
use mf_format::{Call, ChainRules, ExecContext};
use std::time::Instant;

/// The smallest gas limit at most `call.gas_limit` under which `call` succeeds against
/// `view`. The call is run once with its own limit (its failure is the answer's error);
/// then the gas it used is tried (refunds and the 63/64 rule can make it too small), and
/// the limit is bisected between the two: at most [`estimate_runs`]`(call.gas_limit)`
/// executions.
pub fn estimate_gas<V: StateView>(
    view: &V,
    chain_id: u64,
    call: &Call,
    ctx: &ExecContext,
) -> Result<u64, MovegenError> {
    estimate_with(call, |c| execute(view, chain_id, c, ctx))
}

/// [`estimate_gas`] within `deadline`: every execution runs under it
/// ([`execute_until`]), and once it has passed the estimation stops with
/// [`MovegenError::Aborted`] (never with an estimate from an interrupted run).
pub fn estimate_gas_until<V: StateView>(
    view: &V,
    chain_id: u64,
    call: &Call,
    ctx: &ExecContext,
    deadline: Instant,
) -> Result<u64, MovegenError> {
    estimate_gas_until_under(view, chain_id, &ChainRules::default(), call, ctx, deadline)
}

/// [`estimate_gas_until`] under a chain's `rules`.
pub fn estimate_gas_until_under<V: StateView>(
    view: &V,
    chain_id: u64,
    rules: &ChainRules,
    call: &Call,
    ctx: &ExecContext,
    deadline: Instant,
) -> Result<u64, MovegenError> {
    estimate_with(call, |c| {
        execute_until_under(view, chain_id, rules, c, ctx, deadline)
    })
}

/// The most executions [`estimate_gas`] runs for a call of `gas_limit`: the first run, the
/// run at the gas it used, and a bisection of at most `gas_limit` values.
pub fn estimate_runs(gas_limit: u64) -> u64 {
    2 + u64::from(64 - gas_limit.max(1).leading_zeros())
}

fn estimate_with(
    call: &Call,
    exec: impl Fn(&Call) -> Result<Execution, MovegenError>,
) -> Result<u64, MovegenError> {
    let ran = exec(call)?;
    // Whether the call succeeds with `gas`: an interrupted run is no answer, it ends the
    // estimation; any other failure means "not enough".
    let ok = |gas: u64| {
        let c = Call {
            gas_limit: gas,
            fee: Default::default(),
            access_list: Vec::new(),
            ..call.clone()
        };
        match exec(&c) {
            Ok(_) => Ok(true),
            Err(MovegenError::Aborted) => Err(MovegenError::Aborted),
            Err(_) => Ok(false),
        }
    };
    if ok(ran.gas_used)? {
        return Ok(ran.gas_used);
    }
    let mut lo = ran.gas_used;
    let mut hi = call.gas_limit;
    while hi.saturating_sub(lo) > 1 {
        let mid = lo + (hi - lo) / 2;
        if ok(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}
