//! The re-execution seam: the [`Reexec`] step of stateless validity, with its code lookup
//! ([`CodeLookup`]) and its output ([`Reexecuted`]), and the two implementations a validator
//! plugs in: [`ReexecCheck`] (revm against only the declared values, PROTOCOL.md §6.3, the
//! default) and [`StructureOnly`] (no re-execution, for benchmarks of the other stages and
//! for fuzzing structure and signatures).
//!
//! One seam for the wallet side and the validator: they share this engine, so they agree on
//! every execution rule.

use crate::db::{DbError, RecordingDb};
use crate::exec::{Evm, Failure, beneficiary_fee, new_evm, post_values, run};
use crate::view::StateView;
use alloy_primitives::{Bytes, keccak256};
use mf_format::{
    B256, ChainRules, Key, Log, Move, MoveKind, Reason, Transaction, TxId, U256, Value,
};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Code by hash: a validator's code store plus the code a batch creates. Shared by the
/// threads of the parallel stateless stage.
pub trait CodeLookup: Sync {
    /// The runtime code with this keccak-256 hash.
    fn code(&self, hash: &B256) -> Option<Vec<u8>>;

    /// The header hashes `BLOCKHASH` may read while the batch is re-executed: at least the
    /// 256 heights before each declared block number inside the context window (PROTOCOL.md
    /// §6.3). A height it lacks fails the transaction with `context_out_of_window` (65):
    /// its declared block is not one the batch can run at. The default knows none.
    fn block_hashes(&self) -> Arc<BlockHashes> {
        Arc::default()
    }
}

/// Header hashes of consecutive heights, `first` onwards: what `BLOCKHASH` answers during
/// re-execution.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockHashes {
    first: u64,
    hashes: Vec<B256>,
}

impl BlockHashes {
    /// The hashes of heights `first, first + 1, ...`.
    pub fn new(first: u64, hashes: Vec<B256>) -> BlockHashes {
        BlockHashes { first, hashes }
    }

    /// The hash of height `number`, if held.
    pub fn get(&self, number: u64) -> Option<B256> {
        let i = usize::try_from(number.checked_sub(self.first)?).ok()?;
        self.hashes.get(i).copied()
    }
}

/// No code at all (for transactions that touch no contract).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoCode;

impl CodeLookup for NoCode {
    fn code(&self, _: &B256) -> Option<Vec<u8>> {
        None
    }
}

/// What re-execution reports for an included call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reexecuted {
    /// Gas used.
    pub gas_used: u64,
    /// Logs, in emission order (none when the execution failed).
    pub logs: Vec<Log>,
    /// The execution reverted or halted: the transaction is included as failed (its moves
    /// are what the failed run left: the sender's nonce bump and its fee).
    pub failed: bool,
    /// What the transaction adds to its batch's beneficiary credit (PROTOCOL.md §6.4.6).
    pub beneficiary_fee: U256,
}

/// The re-execution step of stateless validity. Implementations must be deterministic and
/// must read nothing but the transaction and `code`.
pub trait Reexec: Send + Sync {
    /// Re-executes `tx` (whose id is `id`) against only its declared `prev` values.
    fn reexec(
        &self,
        tx: &Transaction,
        id: &TxId,
        code: &dyn CodeLookup,
    ) -> Result<Reexecuted, Reason>;
}

/// No re-execution: structure and signatures only (every transaction "uses" no gas and
/// emits no log).
#[derive(Clone, Copy, Debug, Default)]
pub struct StructureOnly;

impl Reexec for StructureOnly {
    fn reexec(&self, _: &Transaction, _: &TxId, _: &dyn CodeLookup) -> Result<Reexecuted, Reason> {
        Ok(Reexecuted::default())
    }
}

/// A read outside the declared moves.
#[derive(Debug, thiserror::Error)]
#[error("undeclared read of {0:?}")]
pub struct Undeclared(pub Key);

/// The state of a re-execution: only the declared `prev` values and the code for the
/// declared code hashes (fetched before the run, so the state is owned and one EVM can be
/// reused per thread; a hash neither source has fails only if execution needs its code).
#[derive(Debug, Default)]
pub struct DeclaredState {
    versions: HashMap<Key, (TxId, Value)>,
    codes: HashMap<B256, Bytes>,
    block_hashes: Arc<BlockHashes>,
}

impl StateView for DeclaredState {
    type Error = Undeclared;
    fn version(&self, key: &Key) -> Result<Option<(TxId, Value)>, Undeclared> {
        match self.versions.get(key) {
            Some(v) => Ok(Some(*v)),
            None => Err(Undeclared(*key)),
        }
    }
    fn code(&self, hash: &B256) -> Result<Option<Bytes>, Undeclared> {
        Ok(self.codes.get(hash).cloned())
    }
    fn block_hash(&self, number: u64) -> Result<Option<B256>, Undeclared> {
        Ok(self.block_hashes.get(number))
    }
}

type ReEvm = Evm<RecordingDb<DeclaredState>>;

thread_local! {
    /// One EVM per thread, reused: building a fresh revm EVM per transaction was measured
    /// here at up to 20x slower (an allocator pathology of glibc with its many small
    /// allocations; docs/ARCHITECTURE.md).
    static EVM: RefCell<Option<ReEvm>> = const { RefCell::new(None) };
}

/// The re-execution check (PROTOCOL.md §6.3) under a chain's rules (the fork its schedule
/// gives for the transaction's declared context, its gas limit; [`ChainRules::default`]
/// unless built with [`ReexecCheck::new`]). Deterministic: it reads only the transaction, the
/// code lookup and the rules.
///
/// Verdicts, in this order (the first failure wins):
///
/// 1. `duplicate_key` (22) if two moves name one key, `reference_changes_value` (23) for a
///    reference with `next != prev` (the structural checks catch both first in a
///    validator);
/// 2. during execution, the first access outside the declared moves → `undeclared_read`
///    (61); the first code hash the code store and the transaction's `created_code` both
///    lack → `code_hash_mismatch` (64). Execution stops at that access, so these two never
///    combine with a later verdict;
/// 3. a transaction revm refuses before running it (intrinsic gas, a sender with code)
///    → `execution_failed` (60). A revert or a halt is not a verdict: the transaction is
///    included as failed ([`Reexecuted::failed`]) when its moves are what the failed run
///    left (the checks below, against that run's post-state);
/// 4. for each key execution wrote, in key order (a key is *written* when its post-state
///    value differs from its declared `prev`, or, for a key never loaded from the declared
///    state such as a new contract's storage, from the zero value): declared by a
///    reference → `reference_written` (63); not declared → `write_mismatch` (62); an
///    account whose code hash changed to non-empty code: the declared `next` code hash
///    differs, or `created_code` lacks that code → `code_hash_mismatch` (64); the declared
///    `next` differs from the post-state → `write_mismatch` (62);
/// 5. a consume move whose key was not written with `next != prev` → `write_mismatch` (62);
/// 6. a `created_code` entry no creation produced, or a repeated entry →
///    `invalid_created_code` (30);
/// 7. an unsigned (mask 0) reference, in body order, whose key execution never read →
///    `unread_reference` (67). A filler can add unsigned moves to an `open` transaction
///    and the signing digest does not cover them: an unread one would only change the id
///    (and add a precondition nobody signed). Signed references may be unread: their
///    signers chose them (a precondition, e.g. "only while this version is live").
#[derive(Clone, Debug, Default)]
pub struct ReexecCheck {
    rules: ChainRules,
}

impl ReexecCheck {
    /// The check under `rules` (a validator's, from its genesis).
    pub fn new(rules: ChainRules) -> ReexecCheck {
        ReexecCheck { rules }
    }

    /// The rules it runs under.
    pub fn rules(&self) -> &ChainRules {
        &self.rules
    }
}

impl Reexec for ReexecCheck {
    fn reexec(
        &self,
        tx: &Transaction,
        _id: &TxId,
        code: &dyn CodeLookup,
    ) -> Result<Reexecuted, Reason> {
        let body = &tx.body;
        let mut moves: HashMap<Key, &Move> = HashMap::with_capacity(body.moves.len());
        for m in &body.moves {
            if moves.insert(m.key(), m).is_some() {
                return Err(Reason::DuplicateKey);
            }
            if m.kind == MoveKind::Reference && m.next != m.prev {
                return Err(Reason::ReferenceChangesValue);
            }
        }
        let created: HashMap<B256, &[u8]> = body
            .created_code
            .iter()
            .map(|c| (keccak256(c), c.as_slice()))
            .collect();

        // Reads are recorded only when an unsigned reference must be shown to be read.
        let unsigned_refs = body
            .moves
            .iter()
            .any(|m| !m.mask.is_signed() && m.kind == MoveKind::Reference);
        let outcome = with_evm(body.chain_id, |evm| {
            let db = &mut evm.ctx.journaled_state.database;
            db.record = unsigned_refs;
            db.reads.clear();
            let state = &mut db.view;
            state.versions.clear();
            state.codes.clear();
            state.block_hashes = code.block_hashes();
            state.versions.reserve(body.moves.len());
            for m in &body.moves {
                state.versions.insert(m.key(), (m.intx, m.prev));
                let Value::Account(a) = m.prev else {
                    continue;
                };
                if a.has_code() && !state.codes.contains_key(&a.code_hash) {
                    let c = match created.get(&a.code_hash) {
                        Some(c) => Some(Bytes::copy_from_slice(c)),
                        None => code.code(&a.code_hash).map(Bytes::from),
                    };
                    if let Some(c) = c {
                        state.codes.insert(a.code_hash, c);
                    }
                }
            }
            let run = run(evm, &body.call, body.chain_id, &body.context, &self.rules)?;
            let reads = &evm.ctx.journaled_state.database.reads;
            let unread = unsigned_refs
                && body.moves.iter().any(|m| {
                    !m.mask.is_signed()
                        && m.kind == MoveKind::Reference
                        && !reads.contains_key(&m.key())
                });
            Ok((run, unread))
        });
        let (run, unread) = match outcome {
            Ok(r) => r,
            Err(DbError::View(Undeclared(_))) => return Err(Reason::UndeclaredRead),
            Err(DbError::MissingCode(_)) => return Err(Reason::CodeHashMismatch),
            Err(DbError::TypeMismatch(_)) => return Err(Reason::ValueTypeMismatch),
            Err(DbError::UnknownBlockHash(_)) => return Err(Reason::ContextOutOfWindow),
        };
        let (gas_used, logs, failed) = match run.result {
            Ok(ok) => (ok.gas_used, ok.logs, false),
            Err(Failure::Revert { .. } | Failure::Halt(_)) => (run.gas_used, Vec::new(), true),
            Err(Failure::FeeCapBelowBaseFee) => return Err(Reason::FeeCapBelowBaseFee),
            Err(Failure::InsufficientFunds(_)) => return Err(Reason::InsufficientFunds),
            Err(Failure::TooManyBlobs(_)) => return Err(Reason::TooManyBlobs),
            Err(Failure::BlobFeeCapBelowBlobBaseFee(_)) => {
                return Err(Reason::BlobFeeCapBelowBlobBaseFee);
            }
            Err(Failure::Invalid(_)) => return Err(Reason::ExecutionFailed),
        };

        let post = post_values(
            &run.state,
            self.rules
                .state_clear_at(body.context.block_number, body.context.timestamp),
        );
        let mut written: HashSet<Key> = HashSet::with_capacity(post.len());
        let mut used_code: HashSet<B256> = HashSet::new();
        for (key, (fin, runtime)) in &post {
            let Some(m) = moves.get(key) else {
                if *fin != Value::zero(key.mark) {
                    return Err(Reason::WriteMismatch);
                }
                continue;
            };
            if *fin == m.prev {
                continue;
            }
            if m.kind == MoveKind::Reference {
                return Err(Reason::ReferenceWritten);
            }
            let new_code = match (m.prev, *fin) {
                (Value::Account(p), Value::Account(n))
                    if n.code_hash != p.code_hash && n.has_code() =>
                {
                    Some(n.code_hash)
                }
                _ => None,
            };
            if let Some(hash) = new_code {
                let declared = match m.next {
                    Value::Account(d) => d.code_hash,
                    Value::Storage(_) => return Err(Reason::ValueTypeMismatch),
                };
                let in_tx = created.contains_key(&hash)
                    && runtime.as_ref().is_some_and(|c| keccak256(c) == hash);
                if declared != hash || !in_tx {
                    return Err(Reason::CodeHashMismatch);
                }
                used_code.insert(hash);
            }
            if m.next != *fin {
                return Err(Reason::WriteMismatch);
            }
            written.insert(*key);
        }
        for m in &body.moves {
            if m.kind == MoveKind::Consume && !written.contains(&m.key()) && m.next != m.prev {
                return Err(Reason::WriteMismatch);
            }
        }
        if created.len() != body.created_code.len()
            || created.keys().any(|h| !used_code.contains(h))
        {
            return Err(Reason::InvalidCreatedCode);
        }
        if unread {
            return Err(Reason::UnreadReference);
        }
        Ok(Reexecuted {
            gas_used,
            logs,
            failed,
            beneficiary_fee: beneficiary_fee(&body.call, &body.context, &self.rules, gas_used),
        })
    }
}

/// Runs `f` on this thread's EVM (a fresh EVM if the thread's one is in use, or if the
/// last run stopped on a database error, after which revm's context may hold stale state).
fn with_evm<T>(
    chain_id: u64,
    f: impl FnOnce(&mut ReEvm) -> Result<T, DbError<Undeclared>>,
) -> Result<T, DbError<Undeclared>> {
    let mut evm = EVM
        .try_with(|c| c.try_borrow_mut().ok().and_then(|mut c| c.take()))
        .ok()
        .flatten()
        .unwrap_or_else(|| new_evm(RecordingDb::new(DeclaredState::default()), chain_id));
    let out = f(&mut evm);
    if out.is_ok() {
        let _ = EVM.try_with(|c| {
            if let Ok(mut c) = c.try_borrow_mut() {
                *c = Some(evm);
            }
        });
    }
    out
}
