//! Running a call with revm and turning what it read and wrote into moves.

use crate::MovegenError;
use crate::db::{DbError, RecordingDb};
use crate::handler::NoBeneficiaryReward;
use crate::view::StateView;
use alloy_primitives::Bytes;
use mf_format::{
    Account, Address, B256, Call, ChainRules, EMPTY_CODE_HASH, ExecContext, FeeKind, Fork, Key,
    Log, Mask, Move, MoveKind, U256, Value,
};
use revm::context::result::{
    EVMError, ExecResultAndState, ExecutionResult, InvalidTransaction, Output,
};
use revm::context::{BlockEnv, CfgEnv, ContextSetters, TxEnv};
use revm::context_interface::block::BlobExcessGasAndPrice;
use revm::database_interface::Database;
use revm::handler::Handler;
use revm::handler::instructions::EthInstructions;
use revm::handler::{MainnetContext, MainnetEvm};
use revm::inspector::{InspectorHandler, NoOpInspector};
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::{InstructionResult, Interpreter};
use revm::primitives::TxKind;
use revm::primitives::hardfork::SpecId;
use revm::state::EvmState;
use revm::{Context, ExecuteEvm, Inspector, MainBuilder, MainContext};
use std::collections::BTreeMap;
use std::time::Instant;

/// The spec of the default rules ([`ChainRules::default`]: Cancun from genesis), which
/// [`cfg_env`] starts from.
pub const SPEC: SpecId = SpecId::CANCUN;

/// The revm spec of a fork. revm has no Constantinople of its own (EIP-1283 was withdrawn
/// before mainnet activated it): Constantinople runs Petersburg's rules.
pub fn spec_of(fork: Fork) -> SpecId {
    match fork {
        Fork::Frontier => SpecId::FRONTIER,
        Fork::Homestead => SpecId::HOMESTEAD,
        Fork::Tangerine => SpecId::TANGERINE,
        Fork::SpuriousDragon => SpecId::SPURIOUS_DRAGON,
        Fork::Byzantium => SpecId::BYZANTIUM,
        Fork::Constantinople | Fork::Petersburg => SpecId::PETERSBURG,
        Fork::Istanbul => SpecId::ISTANBUL,
        Fork::Berlin => SpecId::BERLIN,
        Fork::London => SpecId::LONDON,
        Fork::Paris => SpecId::MERGE,
        Fork::Shanghai => SpecId::SHANGHAI,
        Fork::Cancun => SpecId::CANCUN,
        Fork::Prague => SpecId::PRAGUE,
    }
}

/// The EVM type used here, over a database `DB`.
pub type Evm<DB> = MainnetEvm<MainnetContext<DB>>;

/// The configuration every execution uses (see the crate documentation).
pub fn cfg_env(chain_id: u64) -> CfgEnv {
    let mut cfg = CfgEnv::new().with_spec_and_mainnet_gas_params(SPEC);
    cfg.chain_id = chain_id;
    cfg.tx_chain_id_check = true;
    // The nonce is still bumped; replay protection is the consumed sender version (whose
    // declared nonce the validator's set checks).
    cfg.disable_nonce_check = true;
    // Fees are charged as on Ethereum (revm's checks of the fee fields against the base fee
    // and of the sender's balance against `gas_limit x fee cap + value` stay on), except
    // that the beneficiary is not paid inside the transaction ([`crate::handler`]).
    cfg.disable_fee_charge = false;
    cfg
}

/// The block environment of an execution context under `rules`: the declared number and
/// time, and the chain's gas limit, base fee, beneficiary, prevrandao, difficulty and
/// excess blob gas (whose blob base fee follows the fork's update fraction).
pub fn block_env(ctx: &ExecContext, rules: &ChainRules) -> BlockEnv {
    let fork = rules.fork_at(ctx.block_number, ctx.timestamp);
    BlockEnv {
        number: U256::from(ctx.block_number),
        beneficiary: rules.beneficiary,
        timestamp: U256::from(ctx.timestamp),
        gas_limit: rules.gas_limit,
        basefee: rules.base_fee,
        difficulty: rules.difficulty,
        prevrandao: Some(rules.prevrandao),
        blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new(
            rules.excess_blob_gas,
            fork.blob_base_fee_update_fraction(),
        )),
        ..BlockEnv::default()
    }
}

/// The revm transaction of a call: its type, fee fields, access list and (type 3) blob
/// fields as Ethereum's.
pub fn tx_env(call: &Call, chain_id: u64) -> TxEnv {
    let blob = match (call.fee.kind, &call.blob) {
        (FeeKind::Blob, Some(b)) => Some(b),
        _ => None,
    };
    TxEnv {
        tx_type: call.fee.kind.byte(),
        caller: call.from,
        gas_limit: call.gas_limit,
        gas_price: call.fee.max_fee_per_gas,
        gas_priority_fee: match call.fee.kind {
            FeeKind::Dynamic | FeeKind::Blob => Some(call.fee.max_priority_fee_per_gas),
            FeeKind::Legacy | FeeKind::AccessList => None,
        },
        blob_hashes: blob.map(|b| b.versioned_hashes.clone()).unwrap_or_default(),
        max_fee_per_blob_gas: blob.map_or(0, |b| b.max_fee_per_blob_gas),
        access_list: mf_format::eth::alloy_access_list(&call.access_list),
        kind: match call.to {
            Some(to) => TxKind::Call(to),
            None => TxKind::Create,
        },
        value: call.value,
        data: Bytes::copy_from_slice(&call.input),
        nonce: 0,
        chain_id: Some(chain_id),
        ..TxEnv::default()
    }
}

/// What a transaction adds to its batch's beneficiary credit: `gas_used x` the part of the
/// effective price that is not burnt (PROTOCOL.md §6.4.6).
pub fn beneficiary_fee(call: &Call, ctx: &ExecContext, rules: &ChainRules, gas_used: u64) -> U256 {
    let london = rules.london_at(ctx.block_number, ctx.timestamp);
    U256::from(call.fee.beneficiary_price(rules.base_fee, london)) * U256::from(gas_used)
}

/// A fresh EVM over `db`.
pub fn new_evm<DB: Database>(db: DB, chain_id: u64) -> Evm<DB> {
    Context::mainnet()
        .with_db(db)
        .with_cfg(cfg_env(chain_id))
        .build_mainnet()
}

/// How a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// `REVERT`: the decoded `Error(string)` reason when there is one, and the raw output.
    Revert {
        /// The `Error(string)` message.
        reason: Option<String>,
        /// The revert data.
        output: Vec<u8>,
    },
    /// An exceptional halt (out of gas, invalid opcode, ...).
    Halt(String),
    /// The fee cap (gas price) is below the chain's base fee.
    FeeCapBelowBaseFee,
    /// The sender's balance is below `gas_limit x fee cap + value` (and, for a blob call,
    /// `+ blob gas x blob fee cap`).
    InsufficientFunds(String),
    /// A blob call carries more blobs than the fork in force allows per transaction.
    TooManyBlobs(String),
    /// A blob call's blob fee cap is below the chain's blob base fee.
    BlobFeeCapBelowBlobBaseFee(String),
    /// revm refused the transaction before running it (intrinsic gas, sender with code...).
    Invalid(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Revert {
                reason: Some(r), ..
            } => write!(f, "reverted: {r}"),
            Failure::Revert {
                reason: None,
                output,
            } => write!(
                f,
                "reverted with {} bytes of data 0x{}",
                output.len(),
                alloy_primitives::hex::encode(output)
            ),
            Failure::Halt(h) => write!(f, "halted: {h}"),
            Failure::FeeCapBelowBaseFee => {
                f.write_str("invalid transaction: fee cap below the chain's base fee")
            }
            Failure::InsufficientFunds(e) => write!(f, "insufficient funds: {e}"),
            Failure::TooManyBlobs(e) => write!(f, "too many blobs: {e}"),
            Failure::BlobFeeCapBelowBlobBaseFee(e) => {
                write!(f, "blob fee cap below the blob base fee: {e}")
            }
            Failure::Invalid(e) => write!(f, "invalid transaction: {e}"),
        }
    }
}

/// Decodes the standard `Error(string)` revert payload (selector `0x08c379a0`).
pub fn decode_revert_reason(output: &[u8]) -> Option<String> {
    let body = output.strip_prefix(&[0x08, 0xc3, 0x79, 0xa0][..])?;
    let word = |i: usize| -> Option<usize> {
        let w = body.get(i..i.checked_add(32)?)?;
        if w[..24].iter().any(|b| *b != 0) {
            return None;
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&w[24..]);
        usize::try_from(u64::from_be_bytes(b)).ok()
    };
    let offset = word(0)?;
    let len = word(offset)?;
    let start = offset.checked_add(32)?;
    let bytes = body.get(start..start.checked_add(len)?)?;
    String::from_utf8(bytes.to_vec()).ok()
}

/// What one run produced, before it is compared or turned into moves.
pub(crate) struct Run {
    pub result: Result<Success, Failure>,
    /// Gas used, whatever the outcome (0 when revm refused the transaction).
    pub gas_used: u64,
    pub state: EvmState,
}

/// A successful run.
pub(crate) struct Success {
    pub gas_used: u64,
    pub logs: Vec<Log>,
    pub output: Vec<u8>,
    pub created: Option<Address>,
}

/// Puts `evm` under the rules in force at `ctx` (the spec of the fork the schedule gives
/// for the declared block number and time, the block gas limit) for a call on `chain_id`.
pub fn set_rules<DB: Database>(
    ctx: &mut MainnetContext<DB>,
    rules: &ChainRules,
    chain_id: u64,
    exec: &ExecContext,
) {
    let spec = spec_of(rules.fork_at(exec.block_number, exec.timestamp));
    if ctx.cfg.spec != spec {
        ctx.cfg.set_spec_and_mainnet_gas_params(spec);
    }
    ctx.cfg.chain_id = chain_id;
    let fork = rules.fork_at(exec.block_number, exec.timestamp);
    ctx.cfg.max_blobs_per_tx = fork.max_blobs_per_tx();
    ctx.block = block_env(exec, rules);
}

/// Puts the instruction table of `spec` in `instruction`: the static gas of each opcode is
/// in the table, built for one spec, so a table of another fork would charge that fork's
/// costs (before Berlin, EIP-2929's warm prices instead of the fork's own). `set_rules`
/// changes the spec of the context only.
fn use_spec_table<DB: Database>(
    instruction: &mut EthInstructions<EthInterpreter, MainnetContext<DB>>,
    spec: SpecId,
) {
    if instruction.spec != spec {
        *instruction = EthInstructions::new_mainnet_with_spec(spec);
    }
}

/// Runs `call` on `evm` (whose database is already set up) under `rules`.
pub(crate) fn run<DB: Database>(
    evm: &mut Evm<DB>,
    call: &Call,
    chain_id: u64,
    ctx: &ExecContext,
    rules: &ChainRules,
) -> Result<Run, DB::Error> {
    set_rules(&mut evm.ctx, rules, chain_id, ctx);
    use_spec_table(&mut evm.instruction, evm.ctx.cfg.spec);
    evm.ctx.set_tx(tx_env(call, chain_id));
    let out = NoBeneficiaryReward::default().run(evm);
    let state = evm.finalize();
    into_run(out.map(|result| ExecResultAndState::new(result, state)))
}

/// What revm's answer to one transaction (run plainly or inspected) becomes.
fn into_run<E: std::fmt::Display>(
    out: Result<ExecResultAndState<ExecutionResult>, EVMError<E>>,
) -> Result<Run, E> {
    let out = match out {
        Ok(o) => o,
        Err(EVMError::Database(e)) => return Err(e),
        Err(EVMError::Transaction(InvalidTransaction::GasPriceLessThanBasefee)) => {
            return Ok(Run {
                result: Err(Failure::FeeCapBelowBaseFee),
                gas_used: 0,
                state: EvmState::default(),
            });
        }
        Err(EVMError::Transaction(e @ InvalidTransaction::LackOfFundForMaxFee { .. })) => {
            return Ok(Run {
                result: Err(Failure::InsufficientFunds(e.to_string())),
                gas_used: 0,
                state: EvmState::default(),
            });
        }
        Err(EVMError::Transaction(e @ InvalidTransaction::TooManyBlobs { .. })) => {
            return Ok(Run {
                result: Err(Failure::TooManyBlobs(e.to_string())),
                gas_used: 0,
                state: EvmState::default(),
            });
        }
        Err(EVMError::Transaction(e @ InvalidTransaction::BlobGasPriceGreaterThanMax { .. })) => {
            return Ok(Run {
                result: Err(Failure::BlobFeeCapBelowBlobBaseFee(e.to_string())),
                gas_used: 0,
                state: EvmState::default(),
            });
        }
        Err(e) => {
            return Ok(Run {
                result: Err(Failure::Invalid(e.to_string())),
                gas_used: 0,
                state: EvmState::default(),
            });
        }
    };
    let gas_used = match &out.result {
        ExecutionResult::Success { gas, .. }
        | ExecutionResult::Revert { gas, .. }
        | ExecutionResult::Halt { gas, .. } => gas.tx_gas_used(),
    };
    let result = match out.result {
        ExecutionResult::Success {
            gas, logs, output, ..
        } => {
            let created = match &output {
                Output::Create(_, a) => *a,
                Output::Call(_) => None,
            };
            Ok(Success {
                gas_used: gas.tx_gas_used(),
                logs: logs
                    .into_iter()
                    .map(|l| Log {
                        address: l.address,
                        topics: l.data.topics().to_vec(),
                        data: l.data.data.to_vec(),
                    })
                    .collect(),
                output: output.into_data().to_vec(),
                created,
            })
        }
        ExecutionResult::Revert { output, .. } => Err(Failure::Revert {
            reason: decode_revert_reason(&output),
            output: output.to_vec(),
        }),
        ExecutionResult::Halt { reason, .. } => Err(Failure::Halt(format!("{reason:?}"))),
    };
    Ok(Run {
        result,
        gas_used,
        state: out.state,
    })
}

/// The value of every key in a post-state, with the runtime code of accounts whose code
/// hash is not empty (to find created code). A self-destructed account ends as the
/// never-written account with zero storage.
///
/// An account that ends empty (zero balance and nonce, no code) ends as
/// [`Account::EXISTING_EMPTY`] or [`Account::EMPTY`] as Ethereum keeps or deletes it:
/// before EIP-161 (`state_clear` false) it exists unless it was loaded as non-existent and
/// never touched (a `CALL` creates its target); from EIP-161 on a touched empty account is
/// deleted, and an untouched one stays what it was.
pub(crate) fn post_values(
    state: &EvmState,
    state_clear: bool,
) -> BTreeMap<Key, (Value, Option<Bytes>)> {
    let mut out = BTreeMap::new();
    for (addr, acc) in state {
        let destroyed = acc.is_selfdestructed();
        let (account, code) = if destroyed {
            (Account::EMPTY, None)
        } else if acc.info.is_empty() {
            let existed = !acc.is_loaded_as_not_existing();
            let exists = if state_clear {
                existed && !acc.is_touched()
            } else {
                existed || acc.is_touched() || acc.is_created()
            };
            let a = if exists {
                Account::EXISTING_EMPTY
            } else {
                Account::EMPTY
            };
            (a, None)
        } else {
            let code_hash = if acc.info.code_hash == B256::ZERO {
                EMPTY_CODE_HASH
            } else {
                acc.info.code_hash
            };
            let code = if code_hash == EMPTY_CODE_HASH {
                None
            } else {
                acc.info.code.as_ref().map(|c| c.original_bytes())
            };
            (
                Account {
                    balance: acc.info.balance,
                    nonce: acc.info.nonce,
                    code_hash,
                },
                code,
            )
        };
        out.insert(Key::account(*addr), (Value::Account(account), code));
        for (slot, s) in &acc.storage {
            let w = if destroyed {
                U256::ZERO
            } else {
                s.present_value
            };
            out.insert(Key::storage(*addr, *slot), (Value::Storage(w), None));
        }
    }
    out
}

/// The moves, created code and receipt data of one successful execution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// One move per key touched, sorted by key: consumes (with `next`) for keys whose value
    /// changed, references for keys only read. All masks are [`Mask::ALL`].
    pub moves: Vec<Move>,
    /// Runtime code of the contracts the call created: one entry per distinct code, in
    /// ascending order of keccak-256 hash (the canonical order, PROTOCOL.md §6.1 #7b).
    pub created_code: Vec<Vec<u8>>,
    /// Gas used (the receipt's value).
    pub gas_used: u64,
    /// Logs, in emission order.
    pub logs: Vec<Log>,
    /// The call's return data (for a creation: the runtime code).
    pub output: Vec<u8>,
    /// The address a creation deployed to.
    pub created: Option<Address>,
    /// `Some` when the execution reverted or halted and the transaction is included as
    /// failed ([`execute_included`]): its moves are then only what the failed run left (the
    /// sender's nonce bump, and references for what it read), `logs` is empty and `output`
    /// holds the revert data. Always `None` from [`execute`].
    pub failure: Option<Failure>,
    /// What the call adds to its batch's beneficiary credit (`gas_used x` the unburnt part
    /// of its price; PROTOCOL.md §6.4.6).
    pub beneficiary_fee: U256,
}

/// Executes `call` against `view` and derives its moves (see [`Execution`]), under the
/// default rules (Cancun, [`ChainRules::default`]); [`execute_under`] takes a chain's.
///
/// Fails with [`MovegenError::Execution`] when the call reverts or halts (with the decoded
/// `Error(string)` reason when there is one), and with [`MovegenError::View`] or
/// [`MovegenError::MissingCode`] when the view cannot answer.
pub fn execute<V: StateView>(
    view: &V,
    chain_id: u64,
    call: &Call,
    ctx: &ExecContext,
) -> Result<Execution, MovegenError> {
    execute_under(view, chain_id, &ChainRules::default(), call, ctx, false)
}

/// [`execute`], except that an execution that reverts or halts is not an error: as on
/// Ethereum, such a transaction is included with a failed status, and its moves are what
/// the failed run changed (the sender's nonce bump) and read (PROTOCOL.md §6.3). A
/// transaction revm refuses before running it (intrinsic gas, a sender with code...) is
/// still [`MovegenError::Execution`] with [`Failure::Invalid`]: it cannot be included.
pub fn execute_included<V: StateView>(
    view: &V,
    chain_id: u64,
    call: &Call,
    ctx: &ExecContext,
) -> Result<Execution, MovegenError> {
    execute_under(view, chain_id, &ChainRules::default(), call, ctx, true)
}

/// [`execute`] (or, with `include_failed`, [`execute_included`]) under a chain's `rules`:
/// the fork its schedule gives for the declared context, its gas limit.
pub fn execute_under<V: StateView>(
    view: &V,
    chain_id: u64,
    rules: &ChainRules,
    call: &Call,
    ctx: &ExecContext,
    include_failed: bool,
) -> Result<Execution, MovegenError> {
    let mut evm = new_evm(RecordingDb::new(view), chain_id);
    let run = run(&mut evm, call, chain_id, ctx, rules).map_err(db_error)?;
    let reads = std::mem::take(&mut evm.ctx.journaled_state.database.reads);
    let state_clear = rules.state_clear_at(ctx.block_number, ctx.timestamp);
    let mut ex = into_execution(view, run, reads, include_failed, state_clear)?;
    ex.beneficiary_fee = beneficiary_fee(call, ctx, rules, ex.gas_used);
    Ok(ex)
}

/// Stops an execution at a deadline: revm calls it before every instruction, and once the
/// clock (read every [`Deadline::CHECK_EVERY`] instructions) has passed `at`, it halts the
/// running frame and every frame that runs after it, so the whole call ends within a few
/// thousand instructions of the deadline. [`execute_until`] uses it.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    at: Instant,
    steps: u32,
    expired: bool,
}

impl Deadline {
    /// Instructions between two readings of the clock.
    pub const CHECK_EVERY: u32 = 4096;

    /// A deadline at `at`.
    pub fn new(at: Instant) -> Deadline {
        Deadline {
            at,
            steps: 0,
            expired: false,
        }
    }

    /// Whether it stopped the execution.
    pub fn expired(&self) -> bool {
        self.expired
    }
}

impl<CTX> Inspector<CTX, EthInterpreter> for Deadline {
    #[inline]
    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, _context: &mut CTX) {
        if !self.expired {
            self.steps = self.steps.wrapping_add(1);
            if !self.steps.is_multiple_of(Deadline::CHECK_EVERY) || Instant::now() < self.at {
                return;
            }
            self.expired = true;
        }
        interp.halt(InstructionResult::OutOfGas);
    }
}

/// [`execute`] stopped at `deadline`: revm runs with a [`Deadline`] inspector, so an
/// execution that would outlast it (an endless loop with 30M gas, ...) is interrupted where
/// it is, not merely abandoned, and fails with [`MovegenError::Aborted`]. An execution
/// that ends before the deadline is exactly [`execute`]'s.
pub fn execute_until<V: StateView>(
    view: &V,
    chain_id: u64,
    call: &Call,
    ctx: &ExecContext,
    deadline: Instant,
) -> Result<Execution, MovegenError> {
    execute_until_under(view, chain_id, &ChainRules::default(), call, ctx, deadline)
}

/// [`execute_until`] under a chain's `rules`.
pub fn execute_until_under<V: StateView>(
    view: &V,
    chain_id: u64,
    rules: &ChainRules,
    call: &Call,
    ctx: &ExecContext,
    deadline: Instant,
) -> Result<Execution, MovegenError> {
    let ran = inspect_call(
        view,
        chain_id,
        rules,
        call,
        ctx,
        deadline,
        NoOpInspector,
        true,
    )?;
    let run = into_run(
        ran.out
            .map(|result| ExecResultAndState::new(result, ran.state)),
    )
    .map_err(db_error)?;
    let state_clear = rules.state_clear_at(ctx.block_number, ctx.timestamp);
    let mut ex = into_execution(view, run, ran.reads, false, state_clear)?;
    ex.beneficiary_fee = beneficiary_fee(call, ctx, rules, ex.gas_used);
    Ok(ex)
}

/// What [`inspect_call`] returns.
pub(crate) struct Inspected<E, I> {
    /// revm's answer.
    pub out: Result<ExecutionResult, EVMError<E, InvalidTransaction>>,
    /// The post-state.
    pub state: EvmState,
    /// The inspector, after the run.
    pub inspector: I,
    /// Every key read with the version served (empty unless asked for).
    pub reads: BTreeMap<Key, (mf_format::TxId, Value)>,
}

/// Runs `call` on `view` under `rules` in context `ctx` with `inspector` watching, stopped
/// at `deadline` by a [`Deadline`] beside it ([`MovegenError::Aborted`] when the deadline
/// has passed before the run or stopped it): the same context, handler and instruction
/// table as every execution here, so an inspected run (a deadline, a tracer) is the
/// execution the validators re-run. `record` keeps the reads.
#[allow(clippy::too_many_arguments)]
pub(crate) fn inspect_call<'v, V: StateView, I>(
    view: &'v V,
    chain_id: u64,
    rules: &ChainRules,
    call: &Call,
    ctx: &ExecContext,
    deadline: Instant,
    inspector: I,
    record: bool,
) -> Result<Inspected<DbError<V::Error>, I>, MovegenError>
where
    I: Inspector<MainnetContext<RecordingDb<&'v V>>, EthInterpreter>,
{
    if Instant::now() >= deadline {
        return Err(MovegenError::Aborted);
    }
    let mut evm = Context::mainnet()
        .with_db(RecordingDb::new(view))
        .with_cfg(cfg_env(chain_id))
        .build_mainnet_with_inspector((Deadline::new(deadline), inspector));
    evm.ctx.journaled_state.database.record = record;
    set_rules(&mut evm.ctx, rules, chain_id, ctx);
    use_spec_table(&mut evm.instruction, evm.ctx.cfg.spec);
    evm.ctx.set_tx(tx_env(call, chain_id));
    let out = NoBeneficiaryReward::default().inspect_run(&mut evm);
    let state = evm.finalize();
    let reads = std::mem::take(&mut evm.ctx.journaled_state.database.reads);
    let (stop, inspector) = evm.inspector;
    if stop.expired() {
        return Err(MovegenError::Aborted);
    }
    Ok(Inspected {
        out,
        state,
        inspector,
        reads,
    })
}

/// The moves and created code of a finished run, from what it read and its post-state.
fn into_execution<V: StateView>(
    view: &V,
    run: Run,
    reads: BTreeMap<Key, (mf_format::TxId, Value)>,
    include_failed: bool,
    state_clear: bool,
) -> Result<Execution, MovegenError> {
    let (ok, failure) = match run.result {
        Ok(ok) => (ok, None),
        Err(f @ (Failure::Revert { .. } | Failure::Halt(_))) if include_failed => {
            let output = match &f {
                Failure::Revert { output, .. } => output.clone(),
                _ => Vec::new(),
            };
            let failed = Success {
                gas_used: run.gas_used,
                logs: Vec::new(),
                output,
                created: None,
            };
            (failed, Some(f))
        }
        Err(f) => return Err(MovegenError::Execution(f)),
    };
    let post = post_values(&run.state, state_clear);

    let mut moves = Vec::with_capacity(reads.len() + post.len());
    let mut created_code: Vec<Vec<u8>> = Vec::new();
    let mut seen_code: Vec<B256> = Vec::new();
    let mut keys: Vec<Key> = reads.keys().chain(post.keys()).copied().collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        let fin = post.get(&key);
        let (intx, prev, was_read) = match reads.get(&key) {
            Some((i, v)) => (*i, *v, true),
            None => {
                // Written without being read (storage of a contract created here).
                let (i, v) = view
                    .version(&key)
                    .map_err(|e| MovegenError::View(Box::new(e)))?
                    .unwrap_or_else(|| key.never_written());
                (i, v, false)
            }
        };
        let next = fin.map(|(v, _)| *v).unwrap_or(prev);
        let kind = if next != prev {
            MoveKind::Consume
        } else if was_read {
            MoveKind::Reference
        } else if next != Value::zero(key.mark) {
            MoveKind::Consume
        } else {
            continue;
        };
        let new_code = match (prev, next, fin) {
            (Value::Account(p), Value::Account(n), Some((_, Some(code))))
                if n.code_hash != p.code_hash
                    && n.has_code()
                    && !seen_code.contains(&n.code_hash) =>
            {
                Some((n.code_hash, code))
            }
            _ => None,
        };
        if let Some((hash, code)) = new_code {
            seen_code.push(hash);
            created_code.push(code.to_vec());
        }
        moves.push(Move {
            mask: Mask::ALL,
            kind,
            mark: key.mark,
            intx,
            addr: key.addr,
            slot: key.slot,
            prev,
            next,
        });
    }
    created_code.sort_by_cached_key(|c| alloy_primitives::keccak256(c));
    Ok(Execution {
        moves,
        created_code,
        gas_used: ok.gas_used,
        logs: ok.logs,
        output: ok.output,
        created: ok.created,
        failure,
        beneficiary_fee: U256::ZERO,
    })
}

pub(crate) fn db_error<E: std::error::Error + Send + Sync + 'static>(
    e: DbError<E>,
) -> MovegenError {
    match e {
        DbError::View(e) => MovegenError::View(Box::new(e)),
        DbError::MissingCode(h) => MovegenError::MissingCode(h),
        DbError::TypeMismatch(k) => MovegenError::TypeMismatch(k),
        DbError::UnknownBlockHash(n) => MovegenError::UnknownBlockHash(n),
    }
}
