//! geth-style traces and access lists of one call, with revm-inspectors (the maintained
//! inspectors reth serves `debug_trace*` and `eth_createAccessList` with).
//!
//! A trace runs the call exactly as [`execute_until_under`](crate::execute_until_under)
//! does (the same rules, context, handler and instruction table) with the tracing
//! inspector beside the [`Deadline`](crate::Deadline) one, so a trace is bounded in time like any RPC
//! execution. The tracers served: the default struct logger (no `tracer`), `callTracer`
//! and `prestateTracer` (with `diffMode`); another tracer is refused with
//! [`MovegenError::Tracer`].
//!
//! What state a trace runs against is the caller's choice: the coordinator traces a call
//! at a height of its index, and a transaction of the chain against the `prev` values its
//! moves declared (the state its validators re-executed it against).

use crate::MovegenError;
use crate::db::{DbError, RecordingDb};
use crate::exec::{db_error, inspect_call};
use crate::view::StateView;
use alloy_rpc_types_eth::AccessList;
use alloy_rpc_types_trace::geth::{
    GethDebugBuiltInTracerType, GethDebugTracerType, GethDebugTracingOptions, GethTrace,
};
use mf_format::{AccessItem, Call, ChainRules, ExecContext};
use revm::context::result::{EVMError, ExecResultAndState, ExecutionResult};
use revm::database_interface::{Database, DatabaseRef};
use revm::state::{AccountInfo, Bytecode};
use revm_inspectors::access_list::AccessListInspector;
use revm_inspectors::tracing::{
    TraceLimitBehavior, TraceLimits, TracingInspector, TracingInspectorConfig,
};
use std::time::Instant;

/// A [`StateView`] read through revm's `DatabaseRef` (what the prestate builder reads the
/// values before the call from), answering as [`RecordingDb`] does without recording.
struct ViewRef<'a, V>(&'a V);

impl<V: StateView> DatabaseRef for ViewRef<'_, V> {
    type Error = DbError<V::Error>;
    fn basic_ref(&self, address: mf_format::Address) -> Result<Option<AccountInfo>, Self::Error> {
        self.db().basic(address)
    }
    fn code_by_hash_ref(&self, code_hash: mf_format::B256) -> Result<Bytecode, Self::Error> {
        self.db().code_by_hash(code_hash)
    }
    fn storage_ref(
        &self,
        address: mf_format::Address,
        index: mf_format::U256,
    ) -> Result<mf_format::U256, Self::Error> {
        self.db().storage(address, index)
    }
    fn block_hash_ref(&self, number: u64) -> Result<mf_format::B256, Self::Error> {
        self.db().block_hash(number)
    }
}

impl<'a, V: StateView> ViewRef<'a, V> {
    fn db(&self) -> RecordingDb<&'a V> {
        let mut db = RecordingDb::new(self.0);
        db.record = false;
        db
    }
}

/// Most opcode steps a trace records (the struct logger records each; a trace of 30M gas
/// of cheap opcodes would be millions of steps, gigabytes before it is answered). A call
/// past it is refused with [`MovegenError::Tracer`]: trace a smaller gas or use
/// `callTracer`.
pub const MAX_TRACE_STEPS: u64 = 50_000;
/// Most bytes of memory snapshots, call inputs and return data a trace records.
pub const MAX_TRACE_BYTES: usize = 16 << 20;

/// Halts a traced execution past [`MAX_TRACE_STEPS`] steps (only for the struct logger,
/// the one tracer that records every step).
#[derive(Debug)]
struct StepCap {
    left: u64,
    over: bool,
}

impl<CTX> revm::Inspector<CTX, revm::interpreter::interpreter::EthInterpreter> for StepCap {
    #[inline]
    fn step(
        &mut self,
        interp: &mut revm::interpreter::Interpreter<revm::interpreter::interpreter::EthInterpreter>,
        _context: &mut CTX,
    ) {
        if self.left == 0 {
            self.over = true;
            interp.halt(revm::interpreter::InstructionResult::OutOfGas);
        } else {
            self.left -= 1;
        }
    }
}

/// What the options ask for, checked before anything runs.
enum Tracer {
    Struct(alloy_rpc_types_trace::geth::GethDefaultTracingOptions),
    Call(alloy_rpc_types_trace::geth::CallConfig),
    Prestate(alloy_rpc_types_trace::geth::PreStateConfig),
}

fn tracer_of(opts: &GethDebugTracingOptions) -> Result<Tracer, MovegenError> {
    let bad = |e: serde_json::Error| MovegenError::Tracer(format!("tracerConfig: {e}"));
    match &opts.tracer {
        None => Ok(Tracer::Struct(opts.config)),
        Some(GethDebugTracerType::BuiltInTracer(GethDebugBuiltInTracerType::CallTracer)) => Ok(
            Tracer::Call(opts.tracer_config.clone().into_call_config().map_err(bad)?),
        ),
        Some(GethDebugTracerType::BuiltInTracer(GethDebugBuiltInTracerType::PreStateTracer)) => {
            Ok(Tracer::Prestate(
                opts.tracer_config
                    .clone()
                    .into_pre_state_config()
                    .map_err(bad)?,
            ))
        }
        Some(other) => Err(MovegenError::Tracer(format!(
            "the tracer {} is not served here (callTracer, prestateTracer, or no tracer for \
             the struct logger)",
            serde_json::to_string(other).unwrap_or_else(|_| "?".into())
        ))),
    }
}

/// The geth trace of `call` run on `view` under `rules` in context `ctx`, stopped at
/// `deadline` ([`MovegenError::Aborted`]). A call that reverts or halts is traced (its
/// failure is in the trace); one revm refuses before running it is an error.
pub fn trace_call<V: StateView>(
    view: &V,
    chain_id: u64,
    rules: &ChainRules,
    call: &Call,
    ctx: &ExecContext,
    deadline: Instant,
    opts: &GethDebugTracingOptions,
) -> Result<GethTrace, MovegenError> {
    let tracer = tracer_of(opts)?;
    let config = match &tracer {
        Tracer::Struct(c) => TracingInspectorConfig::from_geth_config(c),
        Tracer::Call(c) => TracingInspectorConfig::from_geth_call_config(c),
        Tracer::Prestate(c) => TracingInspectorConfig::from_geth_prestate_config(c),
    };
    let cap = StepCap {
        left: match tracer {
            Tracer::Struct(_) => MAX_TRACE_STEPS,
            _ => u64::MAX,
        },
        over: false,
    };
    let limits = TraceLimits::default()
        .set_max_recorded_bytes(Some(MAX_TRACE_BYTES))
        .set_behavior(TraceLimitBehavior::Halt);
    let ran = inspect_call(
        view,
        chain_id,
        rules,
        call,
        ctx,
        deadline,
        (cap, TracingInspector::new(config).with_limits(limits)),
        false,
    )?;
    let (cap, tracing) = ran.inspector;
    let (out, state) = (ran.out, ran.state);
    if cap.over {
        return Err(MovegenError::Tracer(format!(
            "the struct log would hold more than {MAX_TRACE_STEPS} steps: trace with less gas, \
             or use callTracer"
        )));
    }
    if tracing.limit_exceeded() {
        return Err(MovegenError::Tracer(format!(
            "the trace would record more than {MAX_TRACE_BYTES} bytes (memory, inputs, return \
             data): disable enableMemory or trace with less gas"
        )));
    }
    let result = match out {
        Ok(r) => r,
        Err(EVMError::Database(e)) => return Err(db_error(e)),
        Err(e) => return Err(MovegenError::Tracer(format!("not executed: {e}"))),
    };
    let (gas_used, output) = match &result {
        ExecutionResult::Success { gas, output, .. } => (gas.tx_gas_used(), output.data().clone()),
        ExecutionResult::Revert { gas, output, .. } => (gas.tx_gas_used(), output.clone()),
        ExecutionResult::Halt { gas, .. } => (gas.tx_gas_used(), Default::default()),
    };
    let builder = tracing
        .with_transaction_gas_used(gas_used)
        .into_geth_builder();
    Ok(match tracer {
        Tracer::Struct(c) => GethTrace::Default(builder.geth_traces(gas_used, output, c)),
        Tracer::Call(c) => GethTrace::CallTracer(builder.geth_call_traces(c, gas_used)),
        Tracer::Prestate(c) => {
            let res = ExecResultAndState::new(result, state);
            GethTrace::PreStateTracer(
                builder
                    .geth_prestate_traces(&res, &c, ViewRef(view))
                    .map_err(db_error)?,
            )
        }
    })
}

/// `eth_createAccessList`: the accounts and storage slots `call` touches (its sender, its
/// recipient and the precompiles left out, as geth and reth do), and the gas the call uses
/// with that list. The list of the first run is checked by a second run with it, as geth
/// iterates until it is stable; a list that still grows (gas-dependent paths) is answered
/// as the second run found it.
pub fn create_access_list<V: StateView>(
    view: &V,
    chain_id: u64,
    rules: &ChainRules,
    call: &Call,
    ctx: &ExecContext,
    deadline: Instant,
) -> Result<(AccessList, u64, Option<String>), MovegenError> {
    let mut call = call.clone();
    let mut list = mf_format::eth::alloy_access_list(&call.access_list);
    let mut last = (0u64, None);
    for _ in 0..2 {
        let (found, gas, error) =
            access_list_run(view, chain_id, rules, &call, ctx, deadline, list.clone())?;
        last = (gas, error);
        let stable = found == list;
        list = found;
        call.access_list = list
            .0
            .iter()
            .map(|i| AccessItem {
                address: i.address,
                storage_keys: i.storage_keys.clone(),
            })
            .collect();
        if stable {
            break;
        }
    }
    Ok((list, last.0, last.1))
}

#[allow(clippy::too_many_arguments)]
fn access_list_run<V: StateView>(
    view: &V,
    chain_id: u64,
    rules: &ChainRules,
    call: &Call,
    ctx: &ExecContext,
    deadline: Instant,
    initial: AccessList,
) -> Result<(AccessList, u64, Option<String>), MovegenError> {
    let ran = inspect_call(
        view,
        chain_id,
        rules,
        call,
        ctx,
        deadline,
        AccessListInspector::new(initial),
        false,
    )?;
    let inspector = ran.inspector;
    let list = inspector.access_list();
    let out = ran.out;
    match out {
        Ok(ExecutionResult::Success { gas, .. }) => Ok((list, gas.tx_gas_used(), None)),
        Ok(ExecutionResult::Revert { gas, output, .. }) => Ok((
            list,
            gas.tx_gas_used(),
            Some(match crate::exec::decode_revert_reason(&output) {
                Some(r) => format!("execution reverted: {r}"),
                None => "execution reverted".into(),
            }),
        )),
        Ok(ExecutionResult::Halt { gas, reason, .. }) => {
            Ok((list, gas.tx_gas_used(), Some(format!("{reason:?}"))))
        }
        Err(EVMError::Database(e)) => Err(db_error(e)),
        Err(e) => Err(MovegenError::Tracer(format!("not executed: {e}"))),
    }
}
