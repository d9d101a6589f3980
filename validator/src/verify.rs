//! Order-independent re-validation of a stored chain by set reconciliation
//! (PROTOCOL.md §9; docs/ARCHITECTURE.md says why it matters).
//!
//! The design claims that the only sequential step of validation is a set reconciliation:
//! once every transaction is known to be stateless-valid, a chain is valid iff each version
//! is created once, spent at most once, and used only at a position after its creation (and,
//! for a reference, not after its spend), with the declared `prev` equal to the created
//! value. Each of those is a statement about **one version** and the positions of its
//! creator, spenders and referencers. So this module checks a chain without any running
//! state: every batch, fed in any order ([`Order`]), contributes *records*
//! (create / spend / reference, each with its chain position and value); the records are
//! sorted by version in parallel; and each version's group is judged alone, in parallel.
//! Sorting on a total key makes the grouping, and so the [`Report`], identical whatever the
//! feeding order — which is the property being demonstrated, and what the tests check.
//!
//! # The verdict, precisely
//!
//! A *position* is `(height, index among the batch's accepted transactions)`, compared
//! lexicographically; genesis is height 0 (index = genesis entry), before every batch. For a
//! version `v = (intx, key)`:
//!
//! | violation | when |
//! | --- | --- |
//! | [`ViolationKind::CreatedTwice`] | more than one creation (two genesis entries, or two accepted transactions with the same id: `duplicate_transaction`) |
//! | [`ViolationKind::NeverCreated`] | `v` is spent or referenced, `intx ≠ 0`, and no accepted transaction created it |
//! | [`ViolationKind::SpentTwice`] | more than one consume names `v` (in one batch or across batches) |
//! | [`ViolationKind::SpentBeforeCreated`] | a consume at a position not after `v`'s creation |
//! | [`ViolationKind::ReferencedBeforeCreated`] | a reference at a position not after `v`'s creation |
//! | [`ViolationKind::ReferencedAfterSpent`] | a reference at a position after `v`'s first spend (a reference earlier in the same batch than the spend is fine: §6.4.1, a version is live until the position that spends it) |
//! | [`ViolationKind::PrevMismatch`] | a consume or reference whose `prev` differs from the value `v` was created with |
//! | [`ViolationKind::StateHashMismatch`] | (only when header state hashes are given) the LtHash of §8.4 after a batch differs from that header's `state_hash` |
//!
//! `intx = 0` follows §6.4.1–§6.4.2: `(0, k)` with `k` in genesis is created at genesis with
//! its genesis value; `(0, k)` with `k` absent from genesis is *never-written*, created
//! implicitly at genesis with the zero value of `k`'s mark, so it may be consumed once (its
//! spend is the used marker) and referenced before that. When a version is created twice,
//! the earliest creation is the one the other checks compare against. Exactly the versions
//! a sequential apply (strict mode) would accept pass: every row above is one way a
//! transaction gets `version_not_live` (80), `prev_mismatch` (81), `double_use_in_batch`
//! (82) or `duplicate_transaction` (84).
//!
//! Only accepted transactions are checked (the store keeps no others); their stateless
//! validity (signatures, re-execution) is not re-checked here.
//!
//! # Reading a data directory
//!
//! [`verify_dir`] opens the store through [`Store::open`], which takes the data directory's
//! exclusive `LOCK` file: the validator (`serve`, `ingest`) must be stopped first (opening
//! a running validator's directory fails with [`StoreError::Locked`]). It changes nothing
//! (the table creation in [`Store::open`] is a no-op on an initialised store). The whole
//! decoded chain is held in memory while it is checked (about 2.6 KB per transfer: the
//! decoded transactions plus two ~120-byte records per consume); a chain larger than memory
//! would need an external sort of the records, which this layout allows but does not do.

use crate::error::StoreError;
use crate::replay::genesis_of;
use crate::sample::SplitMix;
use crate::server::value_json;
use crate::state_hash::par_sum;
use crate::store::Store;
use mf_format::{
    B256, Batch, FormatError, GENESIS_INTX, Key, LtHash, Mark, MoveKind, TxId, Value, tx_id,
};
use rayon::prelude::*;
use std::collections::HashSet;
use std::fmt;
use std::path::Path;

/// Why a chain could not be checked (as opposed to a chain that was checked and has
/// violations, which is a [`Report`]).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored batch does not decode.
    #[error("the stored batch at height {height} does not decode: {source}")]
    Decode {
        /// Its height.
        height: u64,
        /// Why.
        source: FormatError,
    },
    /// A height between 1 and the head has no batch or header.
    #[error("the store has no batch or header at height {height} (head {head})")]
    Missing {
        /// The missing height.
        height: u64,
        /// The head height.
        head: u64,
    },
    /// The feeding order is not a permutation of the batches.
    #[error("the feeding order is not a permutation of the {0} batches")]
    BadOrder(usize),
    /// The state hashes given do not cover genesis and every batch.
    #[error("{given} state hashes given for {batches} batches (expected one per height 0..=head)")]
    StateHashes {
        /// How many were given.
        given: usize,
        /// How many batches.
        batches: usize,
    },
    /// A batch is too large to address with a position (only for in-memory input).
    #[error("the batch at height {0} has too many transactions or moves for a position")]
    TooLarge(u64),
}

/// The order in which batches are fed into the reconciliation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Heights 1, 2, …, head.
    Forward,
    /// Heights head, …, 2, 1.
    Reverse,
    /// A Fisher–Yates shuffle of the heights, deterministic in the seed.
    Shuffle {
        /// The shuffle's seed.
        seed: u64,
    },
}

impl Order {
    /// The feeding order of `n` batches, as indices `0..n` (index `i` is height `i + 1`).
    pub fn permutation(&self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        match *self {
            Order::Forward => {}
            Order::Reverse => p.reverse(),
            Order::Shuffle { seed } => {
                let mut rng = SplitMix(seed);
                for i in (1..n).rev() {
                    p.swap(i, rng.below(i + 1));
                }
            }
        }
        p
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Order::Forward => f.write_str("forward"),
            Order::Reverse => f.write_str("reverse"),
            Order::Shuffle { seed } => write!(f, "shuffle (seed {seed})"),
        }
    }
}

/// A chain position: `(height, index)`. Genesis entries are at height 0 (index = entry
/// number), before every batch; a transaction is at `(its batch's height, its index among
/// the batch's accepted transactions)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// Batch height (0 = genesis).
    pub height: u64,
    /// Index in the batch (or genesis entry number).
    pub index: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.height, self.index)
    }
}

/// A whole chain in memory: what [`verify`] checks.
#[derive(Clone, Debug, Default)]
pub struct Chain {
    /// The genesis versions `(key, value)`, each `(0, key)`.
    pub genesis: Vec<(Key, Value)>,
    /// The accepted transactions of each batch: `batches[i]` is height `i + 1`.
    pub batches: Vec<Batch>,
    /// The header state hashes for heights `0..=batches.len()`, when known: then the state
    /// hash after each batch is checked too (§9 property 5).
    pub state_hashes: Option<Vec<B256>>,
}

/// One way the chain breaks a reconciliation rule (see the module docs for each kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ViolationKind {
    /// A version has more than one creation.
    CreatedTwice,
    /// A version with `intx ≠ 0` is used but was never created.
    NeverCreated,
    /// A version is consumed more than once.
    SpentTwice,
    /// A consume is not after the creation.
    SpentBeforeCreated,
    /// A reference is not after the creation.
    ReferencedBeforeCreated,
    /// A reference is after the version's spend.
    ReferencedAfterSpent,
    /// A declared `prev` differs from the created value.
    PrevMismatch,
    /// The state hash after a batch differs from its header's.
    StateHashMismatch,
}

impl ViolationKind {
    /// The stable snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            ViolationKind::CreatedTwice => "created_twice",
            ViolationKind::NeverCreated => "never_created",
            ViolationKind::SpentTwice => "spent_twice",
            ViolationKind::SpentBeforeCreated => "spent_before_created",
            ViolationKind::ReferencedBeforeCreated => "referenced_before_created",
            ViolationKind::ReferencedAfterSpent => "referenced_after_spent",
            ViolationKind::PrevMismatch => "prev_mismatch",
            ViolationKind::StateHashMismatch => "state_hash_mismatch",
        }
    }
}

/// A violation: its kind, the version (`None` for a state hash), the positions involved
/// (sorted; for ordering violations the creation or spend first, then the offending use)
/// and a human-readable detail.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Violation {
    /// The version `(intx, key)`.
    pub version: Option<(TxId, Key)>,
    /// What is wrong.
    pub kind: ViolationKind,
    /// The positions involved.
    pub positions: Vec<Pos>,
    /// Details (values), for people.
    pub detail: String,
}

/// What [`verify`] found. Every field is independent of the feeding order; violations are
/// sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Batches (heights 1..=head).
    pub batches: u64,
    /// Accepted transactions.
    pub txs: u64,
    /// Moves of those transactions.
    pub moves: u64,
    /// Of which consumes.
    pub consumes: u64,
    /// Of which references.
    pub references: u64,
    /// Genesis versions.
    pub genesis_versions: u64,
    /// Versions created by transactions (one per consume).
    pub versions_created: u64,
    /// Distinct versions spent.
    pub versions_spent: u64,
    /// Distinct versions referenced.
    pub versions_referenced: u64,
    /// Distinct never-written `(0, k)` versions spent (their used markers).
    pub never_written_used: u64,
    /// Versions created (genesis or transaction) and not spent: the live set at the head.
    pub live_versions: u64,
    /// Spent `intx = 0` versions: the used markers at the head.
    pub used_markers: u64,
    /// Header state hashes compared (0 when none were given).
    pub state_hashes_checked: u64,
    /// Everything that is wrong, sorted.
    pub violations: Vec<Violation>,
}

/// The role of a record; the order groups a version's creations, then spends, then
/// references.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Create,
    Spend,
    Reference,
}

/// One use of a version. `value` is the created value (`next`, or the genesis value) of a
/// creation, the declared `prev` of a spend or reference; it borrows from the chain.
#[derive(Clone, Copy, Debug)]
struct Rec<'a> {
    intx: TxId,
    key: Key,
    role: Role,
    pos: Pos,
    mv: u16,
    value: &'a Value,
}

impl Rec<'_> {
    /// A total order on the records of one chain (a version's records at one position are
    /// told apart by move index), so that sorting is deterministic.
    fn sort_key(&self) -> (&TxId, &Key, Role, Pos, u16) {
        (&self.intx, &self.key, self.role, self.pos, self.mv)
    }
}

/// What one batch contributes.
struct Fed<'a> {
    height: u64,
    recs: Vec<Rec<'a>>,
    txs: u64,
    moves: u64,
    references: u64,
    /// The batch's state-hash delta (§8.4), when state hashes are checked.
    delta: Option<Box<LtHash>>,
}

/// The records (and, with `genesis_keys`, the state-hash delta) of batch `b`, computed from
/// that batch alone.
fn feed<'a>(
    batch: &'a Batch,
    height: u64,
    genesis_keys: Option<&HashSet<Key>>,
) -> Result<Fed<'a>, VerifyError> {
    if u32::try_from(batch.txs.len()).is_err()
        || batch
            .txs
            .iter()
            .any(|t| u16::try_from(t.body.moves.len()).is_err())
    {
        return Err(VerifyError::TooLarge(height));
    }
    let ids: Vec<TxId> = batch.txs.par_iter().map(|t| tx_id(&t.body)).collect();
    let per_tx: Vec<Vec<Rec<'a>>> = batch
        .txs
        .par_iter()
        .zip(&ids)
        .enumerate()
        .map(|(ti, (tx, id))| {
            // In range: checked above.
            let pos = Pos {
                height,
                index: ti as u32,
            };
            let mut recs = Vec::with_capacity(tx.body.moves.len() * 2);
            for (mi, m) in tx.body.moves.iter().enumerate() {
                let key = m.key();
                let mv = mi as u16;
                let role = match m.kind {
                    MoveKind::Consume => Role::Spend,
                    MoveKind::Reference => Role::Reference,
                };
                recs.push(Rec {
                    intx: m.intx,
                    key,
                    role,
                    pos,
                    mv,
                    value: &m.prev,
                });
                if m.kind == MoveKind::Consume {
                    recs.push(Rec {
                        intx: *id,
                        key,
                        role: Role::Create,
                        pos,
                        mv,
                        value: &m.next,
                    });
                }
            }
            recs
        })
        .collect();
    // The batch's state-hash delta (§8.4), summed in parallel: one accumulator per job.
    let delta = genesis_keys.map(|gk| {
        par_sum(batch.txs.par_iter().zip(&ids).flat_map_iter(|(tx, id)| {
            tx.body
                .moves
                .iter()
                .filter(|m| m.kind == MoveKind::Consume)
                .map(move |m| {
                    let mut d = LtHash::of_move(id, m);
                    if m.intx.is_zero() && gk.contains(&m.key()) {
                        d.sub(&LtHash::of_version(&m.intx, &m.key(), &m.prev));
                    }
                    d
                })
        }))
    });
    let moves: usize = batch.txs.iter().map(|t| t.body.moves.len()).sum();
    let references = batch
        .txs
        .iter()
        .flat_map(|t| &t.body.moves)
        .filter(|m| m.kind == MoveKind::Reference)
        .count();
    Ok(Fed {
        height,
        recs: per_tx.into_iter().flatten().collect(),
        txs: batch.txs.len() as u64,
        moves: moves as u64,
        references: references as u64,
        delta,
    })
}

/// Per-version counts, summed over groups.
#[derive(Default)]
struct Tally {
    spent: u64,
    referenced: u64,
    never_written_used: u64,
    live: u64,
    markers: u64,
}

impl Tally {
    fn merge(mut self, o: Tally) -> Tally {
        self.spent += o.spent;
        self.referenced += o.referenced;
        self.never_written_used += o.never_written_used;
        self.live += o.live;
        self.markers += o.markers;
        self
    }
}

fn describe(v: &Value) -> String {
    value_json(v).to_string()
}

/// The verdict on one version, from its records alone (sorted: creations, spends,
/// references, each by position).
fn judge(group: &[Rec<'_>], out: &mut Vec<Violation>) -> Tally {
    let Some(first) = group.first() else {
        return Tally::default();
    };
    let (intx, key) = (first.intx, first.key);
    let spends_at = group.partition_point(|r| r.role == Role::Create);
    let refs_at = group.partition_point(|r| r.role != Role::Reference);
    let (creates, rest) = group.split_at(spends_at);
    let (spends, refs) = rest.split_at(refs_at - spends_at);
    let mut v = |kind, positions: Vec<Pos>, detail: String| {
        out.push(Violation {
            version: Some((intx, key)),
            kind,
            positions,
            detail,
        })
    };

    let zero = Value::zero(key.mark);
    let genesis_pos = Pos {
        height: 0,
        index: 0,
    };
    let created: Option<(Pos, &Value)> = match creates.first() {
        Some(c) => Some((c.pos, c.value)),
        // Never-written: created implicitly at genesis with the zero value (§6.4.1).
        None if intx.is_zero() => Some((genesis_pos, &zero)),
        None => None,
    };
    if creates.len() > 1 {
        v(
            ViolationKind::CreatedTwice,
            creates.iter().map(|r| r.pos).collect(),
            format!("{} creations", creates.len()),
        );
    }
    let tally = Tally {
        spent: u64::from(!spends.is_empty()),
        referenced: u64::from(!refs.is_empty()),
        never_written_used: u64::from(creates.is_empty() && intx.is_zero() && !spends.is_empty()),
        live: u64::from(!creates.is_empty() && spends.is_empty()),
        markers: u64::from(intx.is_zero() && !spends.is_empty()),
    };
    let Some((cpos, cval)) = created else {
        v(
            ViolationKind::NeverCreated,
            spends.iter().chain(refs).map(|r| r.pos).collect(),
            format!(
                "{} consume(s) and {} reference(s) of a version no accepted transaction created",
                spends.len(),
                refs.len()
            ),
        );
        return tally;
    };
    if spends.len() > 1 {
        v(
            ViolationKind::SpentTwice,
            spends.iter().map(|r| r.pos).collect(),
            format!("{} consumes", spends.len()),
        );
    }
    for s in spends.iter().filter(|s| s.pos <= cpos) {
        v(
            ViolationKind::SpentBeforeCreated,
            vec![cpos, s.pos],
            format!("created at {cpos}, consumed at {}", s.pos),
        );
    }
    for r in refs.iter().filter(|r| r.pos <= cpos) {
        v(
            ViolationKind::ReferencedBeforeCreated,
            vec![cpos, r.pos],
            format!("created at {cpos}, referenced at {}", r.pos),
        );
    }
    if let Some(spent) = spends.first() {
        for r in refs.iter().filter(|r| r.pos > spent.pos) {
            v(
                ViolationKind::ReferencedAfterSpent,
                vec![spent.pos, r.pos],
                format!("spent at {}, referenced at {}", spent.pos, r.pos),
            );
        }
    }
    for u in spends.iter().chain(refs).filter(|u| u.value != cval) {
        let what = if u.role == Role::Spend {
            "consume"
        } else {
            "reference"
        };
        v(
            ViolationKind::PrevMismatch,
            vec![cpos, u.pos],
            format!(
                "{what} at {} declares prev {}; created at {cpos} with {}",
                u.pos,
                describe(u.value),
                describe(cval)
            ),
        );
    }
    tally
}

/// Checks `chain` by set reconciliation, feeding its batches in `order` (a permutation of
/// `0..chain.batches.len()`; see [`Order::permutation`]). The report is the same for every
/// order.
pub fn verify(chain: &Chain, order: &[usize]) -> Result<Report, VerifyError> {
    let n = chain.batches.len();
    let mut seen = vec![false; n];
    for &i in order {
        match seen.get_mut(i) {
            Some(s) if !*s => *s = true,
            _ => return Err(VerifyError::BadOrder(n)),
        }
    }
    if order.len() != n {
        return Err(VerifyError::BadOrder(n));
    }
    if let Some(h) = &chain.state_hashes
        && h.len() != n + 1
    {
        return Err(VerifyError::StateHashes {
            given: h.len(),
            batches: n,
        });
    }
    let genesis_keys: Option<HashSet<Key>> = chain
        .state_hashes
        .as_ref()
        .map(|_| chain.genesis.iter().map(|(k, _)| *k).collect());

    // Feed: each batch alone, in the given order (in parallel; `collect` keeps the order).
    let fed = order
        .par_iter()
        .map(|&i| {
            let batch = chain.batches.get(i).ok_or(VerifyError::BadOrder(n))?;
            feed(batch, i as u64 + 1, genesis_keys.as_ref())
        })
        .collect::<Result<Vec<_>, VerifyError>>()?;

    let mut report = Report {
        batches: n as u64,
        genesis_versions: chain.genesis.len() as u64,
        ..Report::default()
    };
    let mut recs: Vec<Rec<'_>> =
        Vec::with_capacity(chain.genesis.len() + fed.iter().map(|f| f.recs.len()).sum::<usize>());
    for (gi, (key, value)) in chain.genesis.iter().enumerate() {
        recs.push(Rec {
            intx: TxId::ZERO,
            key: *key,
            role: Role::Create,
            pos: Pos {
                height: 0,
                index: u32::try_from(gi).map_err(|_| VerifyError::TooLarge(0))?,
            },
            mv: 0,
            value,
        });
    }
    let mut deltas: Vec<Option<Box<LtHash>>> = (0..n).map(|_| None).collect();
    for f in fed {
        report.txs += f.txs;
        report.moves += f.moves;
        report.references += f.references;
        recs.extend(f.recs);
        if let Some(slot) = deltas.get_mut((f.height - 1) as usize) {
            *slot = f.delta;
        }
    }
    report.consumes = report.moves - report.references;
    report.versions_created = report.consumes;

    // Reconcile: group by version (a parallel sort on a total key), judge each alone.
    tracing::debug!(records = recs.len(), batches = n, "reconciling");
    recs.par_sort_unstable_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    let (tally, mut violations) = recs
        .par_chunk_by(|a, b| a.intx == b.intx && a.key == b.key)
        .fold(
            || (Tally::default(), Vec::new()),
            |(t, mut out), g| {
                let t2 = judge(g, &mut out);
                (t.merge(t2), out)
            },
        )
        .reduce(
            || (Tally::default(), Vec::new()),
            |(a, mut va), (b, vb)| {
                va.extend(vb);
                (a.merge(b), va)
            },
        );
    report.versions_spent = tally.spent;
    report.versions_referenced = tally.referenced;
    report.never_written_used = tally.never_written_used;
    report.live_versions = tally.live;
    report.used_markers = tally.markers;

    // §9 property 5: the state hash after each batch. The deltas were computed per batch in
    // the feeding order; only their running sum follows the heights.
    if let Some(expected) = &chain.state_hashes {
        let mut acc = par_sum(
            chain
                .genesis
                .par_iter()
                .map(|(k, v)| LtHash::of_version(&GENESIS_INTX, k, v)),
        );
        for (height, want) in expected.iter().enumerate() {
            if height > 0
                && let Some(Some(d)) = deltas.get(height - 1)
            {
                acc.add(d);
            }
            let got = acc.digest();
            report.state_hashes_checked += 1;
            if got != *want {
                violations.push(Violation {
                    version: None,
                    kind: ViolationKind::StateHashMismatch,
                    positions: vec![Pos {
                        height: height as u64,
                        index: 0,
                    }],
                    detail: format!("header {want}, recomputed {got}"),
                });
            }
        }
    }
    violations.par_sort_unstable();
    report.violations = violations;
    Ok(report)
}

/// Reads the chain of the data directory `dir` (genesis, every stored batch of heights
/// 1..=head, fed in `order`, and the header state hashes) and checks it with [`verify`].
/// The validator must not be running on `dir` (see the module docs).
pub fn verify_dir(dir: &Path, order: Order) -> Result<Report, VerifyError> {
    let store = Store::open(dir, false)?;
    let (chain, perm) = read_chain(&store, order)?;
    verify(&chain, &perm)
}

/// How many bytes of encoded batches [`read_chain`] holds before decoding them.
const READ_CHUNK_BYTES: usize = 64 << 20;

/// Reads the chain from `store`, batches in `order`; returns it with the permutation used.
pub fn read_chain(store: &Store, order: Order) -> Result<(Chain, Vec<usize>), VerifyError> {
    let head = store
        .height()?
        .ok_or_else(|| StoreError::NotInitialised(store.dir().display().to_string()))?;
    let n = usize::try_from(head).map_err(|_| VerifyError::TooLarge(head))?;
    let genesis = genesis_of(store)?.versions;
    let perm = order.permutation(n);
    let mut batches: Vec<Option<Batch>> = (0..n).map(|_| None).collect();
    // Read in the feeding order, a chunk of at most READ_CHUNK_BYTES of encoded batches at a
    // time (LMDB reads are sequential), decoding each chunk in parallel.
    let mut next = 0;
    while next < perm.len() {
        let mut raw = Vec::new();
        let mut bytes_read = 0;
        while let Some(&i) = perm.get(next)
            && (raw.is_empty() || bytes_read < READ_CHUNK_BYTES)
        {
            let height = i as u64 + 1;
            let bytes = store
                .batch_bytes(height)?
                .ok_or(VerifyError::Missing { height, head })?;
            bytes_read += bytes.len();
            raw.push((i, bytes));
            next += 1;
        }
        let decoded = raw
            .par_iter()
            .map(|(i, b)| {
                mf_format::decode_batch(b)
                    .map(|batch| (*i, batch))
                    .map_err(|source| VerifyError::Decode {
                        height: *i as u64 + 1,
                        source,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (i, batch) in decoded {
            if let Some(slot) = batches.get_mut(i) {
                *slot = Some(batch);
            }
        }
    }
    let batches = batches
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            b.ok_or(VerifyError::Missing {
                height: i as u64 + 1,
                head,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let state_hashes = (0..=head)
        .map(|h| {
            store
                .header(h)?
                .map(|hd| hd.state_hash)
                .ok_or(VerifyError::Missing { height: h, head })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((
        Chain {
            genesis,
            batches,
            state_hashes: Some(state_hashes),
        },
        perm,
    ))
}

/// `(intx, key)` in the form of the HTTP API's version path: `intx/mark/addr/slot`.
pub fn version_path(intx: &TxId, key: &Key) -> String {
    let mark = match key.mark {
        Mark::Account => 'a',
        Mark::Storage => 's',
    };
    format!(
        "{intx}/{mark}/{}/{:#x}",
        alloy_primitives::hex::encode_prefixed(key.addr.as_slice()),
        key.slot
    )
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind.name())?;
        if let Some((intx, key)) = &self.version {
            write!(f, " {}", version_path(intx, key))?;
        }
        let pos: Vec<String> = self.positions.iter().map(|p| p.to_string()).collect();
        write!(f, " at {}: {}", pos.join(", "), self.detail)
    }
}

impl Report {
    /// True when no rule is broken.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// Violations per kind, in kind order.
    pub fn counts_by_kind(&self) -> Vec<(ViolationKind, usize)> {
        let mut out: Vec<(ViolationKind, usize)> = Vec::new();
        let mut kinds: Vec<ViolationKind> = self.violations.iter().map(|v| v.kind).collect();
        kinds.sort_unstable();
        for k in kinds {
            match out.last_mut() {
                Some((last, n)) if *last == k => *n += 1,
                _ => out.push((k, 1)),
            }
        }
        out
    }

    /// The report as JSON (every violation included).
    pub fn to_json(&self) -> serde_json::Value {
        let violations: Vec<serde_json::Value> = self
            .violations
            .iter()
            .map(|v| {
                serde_json::json!({
                    "kind": v.kind.name(),
                    "version": v.version.as_ref().map(|(i, k)| version_path(i, k)),
                    "positions": v.positions.iter()
                        .map(|p| serde_json::json!({"height": p.height, "index": p.index}))
                        .collect::<Vec<_>>(),
                    "detail": v.detail,
                })
            })
            .collect();
        serde_json::json!({
            "ok": self.ok(),
            "batches": self.batches,
            "txs": self.txs,
            "moves": self.moves,
            "consumes": self.consumes,
            "references": self.references,
            "genesis_versions": self.genesis_versions,
            "versions_created": self.versions_created,
            "versions_spent": self.versions_spent,
            "versions_referenced": self.versions_referenced,
            "never_written_used": self.never_written_used,
            "live_versions": self.live_versions,
            "used_markers": self.used_markers,
            "state_hashes_checked": self.state_hashes_checked,
            "violations": violations,
        })
    }
}

impl fmt::Display for Report {
    /// The summary (without the list of violations).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "batches:      {}", self.batches)?;
        writeln!(f, "transactions: {}", self.txs)?;
        writeln!(
            f,
            "moves:        {} ({} consume, {} reference)",
            self.moves, self.consumes, self.references
        )?;
        writeln!(
            f,
            "versions:     {} genesis, {} created, {} spent, {} referenced, {} never-written used",
            self.genesis_versions,
            self.versions_created,
            self.versions_spent,
            self.versions_referenced,
            self.never_written_used
        )?;
        writeln!(
            f,
            "at the head:  {} live versions, {} used markers",
            self.live_versions, self.used_markers
        )?;
        writeln!(
            f,
            "state hashes: {} headers checked",
            self.state_hashes_checked
        )?;
        let by_kind: Vec<String> = self
            .counts_by_kind()
            .iter()
            .map(|(k, n)| format!("{} {n}", k.name()))
            .collect();
        if by_kind.is_empty() {
            write!(f, "violations:   0")
        } else {
            write!(
                f,
                "violations:   {} ({})",
                self.violations.len(),
                by_kind.join(", ")
            )
        }
    }
}
