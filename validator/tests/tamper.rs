//! Random tampering through the whole validator (structure, signatures, revm re-execution,
//! context window, critical path, LMDB): movegen builds a random valid transaction (a plain
//! transfer, an ERC20 transfer or an AMM swap) on a chain that already holds a few random
//! earlier transactions; every tamper of it, re-signed with the same key so that the
//! signature is valid over the tampered body, is rejected with exactly the reason the
//! precedence of PROTOCOL.md §6 gives, and without re-signing with `bad_signature` (or the
//! structural reason, which comes first); no rejection changes the state hash or the head;
//! the untampered transaction is accepted afterwards.

use crate::util::fixtures::*;
use mf_format::limits::{CONTEXT_MAX_DRIFT_S, CONTEXT_WINDOW_BLOCKS};
use mf_format::{
    Account, Address, Batch, ExecContext, Keypair, Mark, MoveKind, Reason, Status, Transaction,
    TxBody, TxId, U256, Value, sign,
};
use mf_movegen::{MemoryView, TxBuilder};
use mf_validator::genesis::Genesis;
use mf_validator::{Mode, Validator};
use proptest::prelude::*;

/// The pinned header clock (ms) and its seconds `T`.
const NOW_MS: u64 = 1_800_000_000_500;
const T: u64 = NOW_MS / 1000;

fn clock() -> u64 {
    NOW_MS
}

const USERS: usize = 3;

/// Where a transfer goes.
#[derive(Clone, Copy, Debug)]
enum To {
    /// Another user (`(sender + 1 + k) % USERS`, never the sender).
    User(usize),
    /// A never-written address.
    Fresh(u8),
}

/// A call to build.
#[derive(Clone, Copy, Debug)]
enum Spec {
    /// Plain value transfer of `wei` (>= 1).
    Transfer { from: usize, to: To, wei: u64 },
    /// ERC20 transfer of `amount` whole tokens (>= 1).
    Erc20 {
        from: usize,
        token_b: bool,
        to: To,
        amount: u64,
    },
    /// AMM swap of `amount` whole tokens (>= 1).
    Swap {
        from: usize,
        a_to_b: bool,
        amount: u64,
    },
}

fn to() -> impl Strategy<Value = To> {
    prop_oneof![
        (0..USERS - 1).prop_map(To::User),
        any::<u8>().prop_map(To::Fresh)
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        (0..USERS, to(), 1u64..1_000_000_000).prop_map(|(from, to, wei)| Spec::Transfer {
            from,
            to,
            wei
        }),
        (0..USERS, any::<bool>(), to(), 1u64..1_000).prop_map(|(from, token_b, to, amount)| {
            Spec::Erc20 {
                from,
                token_b,
                to,
                amount,
            }
        }),
        (0..USERS, any::<bool>(), 1u64..100).prop_map(|(from, a_to_b, amount)| Spec::Swap {
            from,
            a_to_b,
            amount
        }),
    ]
}

/// One tamper. Move indices are taken modulo the number of candidate moves.
#[derive(Clone, Copy, Debug)]
enum Tamper {
    /// A move's `next` + 1.
    Next(usize),
    /// A move's `prev` + 1 (its `next` kept).
    Prev(usize),
    /// The sender's balance shifted by `d` in both `prev` and `next`: re-execution agrees,
    /// the chain's live version holds another value.
    ShiftSender(u64),
    /// A referenced contract account's balance shifted in `prev` and `next` (code never reads
    /// it): re-execution agrees, the live version differs.
    ShiftReference(usize, u64),
    /// A consume declared as a reference with `next = prev`.
    ToReference(usize),
    /// A move left out.
    Drop(usize),
    /// A move's `intx` replaced by a random id.
    Intx(usize, [u8; 32]),
    /// The call's value changed.
    Value,
    /// The call's input changed.
    Input,
    /// The context's block number past the batch's height.
    BlockNumber(u64),
    /// The context's timestamp past the header time + 15 s.
    Timestamp(u64),
}

fn tampers() -> impl Strategy<Value = Vec<Tamper>> {
    let i = || 0usize..64;
    (
        (i(), i(), 1u64..1_000_000, i(), 1u64..1_000_000),
        (i(), i(), i(), any::<[u8; 32]>()),
        (0u64..1_000_000, 0u64..1_000_000),
    )
        .prop_map(|((n, p, d, r, e), (c, x, k, id), (b, t))| {
            vec![
                Tamper::Next(n),
                Tamper::Prev(p),
                Tamper::ShiftSender(d),
                Tamper::ShiftReference(r, e),
                Tamper::ToReference(c),
                Tamper::Drop(x),
                Tamper::Intx(k, id),
                Tamper::Value,
                Tamper::Input,
                Tamper::BlockNumber(b),
                Tamper::Timestamp(t),
            ]
        })
}

struct Chain {
    _dir: tempfile::TempDir,
    v: Validator,
    view: MemoryView,
    w: World,
}

fn chain() -> Chain {
    let w = world(USERS);
    let genesis = Genesis {
        chain_id: CHAIN,
        rules: Default::default(),
        versions: w.view.versions().map(|(k, (_, v))| (*k, *v)).collect(),
        code: w.view.codes().map(|(h, c)| (*h, c.to_vec())).collect(),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = Validator::init(dir.path(), &genesis).expect("init");
    v.set_clock(clock);
    Chain {
        _dir: dir,
        v,
        view: w.view.clone(),
        w,
    }
}

impl Chain {
    fn user(&self, i: usize) -> &Keypair {
        &self.w.users[i % USERS]
    }
    fn target(&self, from: usize, to: To) -> Address {
        match to {
            To::User(k) => self.user(from + 1 + k).address(),
            To::Fresh(n) => Keypair::from_label(&format!("tamper fresh {n}")).address(),
        }
    }
    /// Builds `spec` against the current state, in the window of the next batch.
    fn build(&self, spec: Spec, timestamp: u64) -> Option<(Transaction, usize)> {
        let (from, builder) = match spec {
            Spec::Transfer { from, to, wei } => (
                from,
                TxBuilder::transfer(CHAIN, self.target(from, to), U256::from(wei)),
            ),
            Spec::Erc20 {
                from,
                token_b,
                to,
                amount,
            } => {
                let token = if token_b {
                    self.w.token_b
                } else {
                    self.w.token_a
                };
                let data = transfer_data(self.target(from, to), eth(amount));
                (from, TxBuilder::call(CHAIN, token, data))
            }
            Spec::Swap {
                from,
                a_to_b,
                amount,
            } => {
                let token = if a_to_b {
                    self.w.token_a
                } else {
                    self.w.token_b
                };
                let data = swap_data(token, eth(amount), U256::from(1u64));
                (from, TxBuilder::call(CHAIN, self.w.pair, data))
            }
        };
        let context = ExecContext {
            block_number: self.v.head().height + 1,
            timestamp,
        };
        // Every field signed, the sender's account move included: a tamper of any field
        // then breaks the signature.
        let built = builder
            .context(context)
            .sign_policy(mf_movegen::SignPolicy::exact())
            .build(&self.view, self.user(from), &[])
            .ok()?;
        Some((built.tx, from % USERS))
    }
    /// Applies one transaction alone in filter mode; mirrors it when accepted.
    fn submit(&mut self, tx: &Transaction) -> Status {
        let out = self
            .v
            .apply_batch(
                &Batch {
                    txs: vec![tx.clone()],
                },
                Mode::Filter,
            )
            .expect("apply");
        let status = out.receipts[0].status;
        if status == Status::Accepted {
            self.view.apply(&tx.body).expect("mirror");
        }
        status
    }
}

fn bump(v: Value) -> Value {
    match v {
        Value::Account(a) => Value::Account(Account {
            balance: a.balance + U256::from(1u64),
            ..a
        }),
        Value::Storage(w) => Value::Storage(w.wrapping_add(U256::from(1u64))),
    }
}

fn shift_balance(v: &mut Value, d: u64) {
    if let Value::Account(a) = v {
        a.balance += U256::from(d);
    }
}

/// Indices of the moves that pass `f`.
fn candidates(body: &TxBody, f: impl Fn(&mf_format::Move) -> bool) -> Vec<usize> {
    (0..body.moves.len())
        .filter(|&i| f(&body.moves[i]))
        .collect()
}

/// Applies `t` to `body` and returns the reason the validator must give once the body is
/// re-signed, or `None` when the tamper does not apply to this transaction.
fn tamper(t: Tamper, body: &mut TxBody, height: u64) -> Option<Reason> {
    let sender = mf_format::Key::account(body.call.from);
    let plain = body.call.input.is_empty();
    let n = body.moves.len();
    Some(match t {
        Tamper::Next(i) => {
            let m = &mut body.moves[i % n];
            m.next = bump(m.next);
            match m.kind {
                // Execution writes the old next, or leaves prev (§6.3).
                MoveKind::Consume => Reason::WriteMismatch,
                // Structure, before anything else (§6.1 3d).
                MoveKind::Reference => Reason::ReferenceChangesValue,
            }
        }
        Tamper::Prev(i) => {
            let m = &mut body.moves[i % n];
            m.prev = bump(m.prev);
            match m.kind {
                // Re-execution runs on the declared prev and writes something else than
                // the declared next (a higher balance or reserve never makes these calls
                // revert); it comes before the set's prev_mismatch.
                MoveKind::Consume => Reason::WriteMismatch,
                MoveKind::Reference => Reason::ReferenceChangesValue,
            }
        }
        Tamper::ShiftSender(d) => {
            let i = *candidates(body, |m| m.key() == sender).first()?;
            let m = &mut body.moves[i];
            shift_balance(&mut m.prev, d);
            shift_balance(&mut m.next, d);
            // Consistent for re-execution; the live version holds another value (§6.4.3).
            Reason::PrevMismatch
        }
        Tamper::ShiftReference(i, d) => {
            let c = candidates(body, |m| {
                m.kind == MoveKind::Reference && m.mark == Mark::Account
            });
            if c.is_empty() {
                return None;
            }
            let m = &mut body.moves[c[i % c.len()]];
            shift_balance(&mut m.prev, d);
            shift_balance(&mut m.next, d);
            Reason::PrevMismatch
        }
        Tamper::ToReference(i) => {
            let c = candidates(body, |m| m.kind == MoveKind::Consume);
            let m = &mut body.moves[c[i % c.len()]];
            m.kind = MoveKind::Reference;
            m.next = m.prev;
            if m.key() == sender {
                Reason::SenderNotConsumed
            } else {
                // Every consume movegen declares is written.
                Reason::ReferenceWritten
            }
        }
        Tamper::Drop(i) => {
            let m = body.moves.remove(i % n);
            if m.key() == sender {
                Reason::SenderNotConsumed
            } else {
                // Every declared key is read.
                Reason::UndeclaredRead
            }
        }
        Tamper::Intx(i, mut id) => {
            let m = &mut body.moves[i % n];
            id[0] |= 1; // never the genesis id
            if m.intx == TxId::from(id) {
                id[1] ^= 0xff;
            }
            m.intx = TxId::from(id);
            // Re-execution does not look at intx; the version was never created.
            Reason::VersionNotLive
        }
        Tamper::Value => {
            if plain {
                body.call.value += U256::from(1u64);
                Reason::WriteMismatch
            } else {
                // The token's and the pair's functions are not payable: they revert, and
                // the declared moves are not the failed run's (the nonce bump alone).
                body.call.value = U256::from(1u64);
                Reason::WriteMismatch
            }
        }
        Tamper::Input => {
            if plain {
                // 16 more intrinsic gas than the 21,000 limit: revm refuses the call.
                body.call.input = vec![1];
                Reason::ExecutionFailed
            } else {
                // The amount (second word of transfer and swap) + 1.
                let word = &mut body.call.input[36..68];
                let a = U256::from_be_slice(word) + U256::from(1u64);
                word.copy_from_slice(&a.to_be_bytes::<32>());
                Reason::WriteMismatch
            }
        }
        Tamper::BlockNumber(r) => {
            body.context.block_number = height + 1 + r;
            Reason::ContextOutOfWindow
        }
        Tamper::Timestamp(r) => {
            body.context.timestamp = T + CONTEXT_MAX_DRIFT_S + 1 + r;
            Reason::ContextOutOfWindow
        }
    })
}

/// Without re-signing: a structural reason still comes first (§6.1 before §6.2); anything
/// else changed the signed digest.
fn unsigned_reason(resigned: Reason) -> Reason {
    if (20..40).contains(&resigned.code()) {
        resigned
    } else {
        Reason::BadSignature
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_tamper_is_rejected_with_its_reason_and_changes_nothing(
        prior in proptest::collection::vec(spec(), 0..3),
        target in spec(),
        timestamp in T - CONTEXT_MAX_DRIFT_S..=T + CONTEXT_MAX_DRIFT_S,
        tampers in tampers(),
    ) {
        let mut c = chain();
        // A few earlier transactions, so versions chain on non-genesis ids.
        for s in prior {
            if let Some((tx, _)) = c.build(s, timestamp) {
                prop_assert_eq!(c.submit(&tx), Status::Accepted, "prior {:?}", s);
            }
        }
        let (tx, signer) = c.build(target, timestamp).expect("the target call builds");
        let key = c.w.users[signer].clone();
        let height = c.v.head().height + 1;
        prop_assert!(height <= CONTEXT_WINDOW_BLOCKS, "the genesis context stays valid");

        for t in tampers {
            let mut body = tx.body.clone();
            let Some(expected) = tamper(t, &mut body, height) else {
                continue;
            };
            prop_assert_ne!(&body, &tx.body, "{:?} changed nothing", t);
            let resigned = sign(body.clone(), &[&key]);
            let unsigned = Transaction { body, auths: tx.auths.clone(), eth: None };
            for (what, bad, reason) in [
                ("re-signed", resigned, expected),
                ("not re-signed", unsigned, unsigned_reason(expected)),
            ] {
                let before = (c.v.state_hash(), *c.v.head(), c.v.index_len());
                let status = c.submit(&bad);
                prop_assert_eq!(
                    status,
                    Status::Rejected(reason),
                    "{:?} {} on {:?}", t, what, target
                );
                prop_assert_eq!(
                    (c.v.state_hash(), *c.v.head(), c.v.index_len()),
                    before,
                    "{:?} {}: a rejection changed the state", t, what
                );
            }
        }

        // The untampered transaction is still valid.
        let before = c.v.state_hash();
        prop_assert_eq!(c.submit(&tx), Status::Accepted, "untampered {:?}", target);
        prop_assert_eq!(c.v.head().height, height);
        prop_assert_ne!(c.v.state_hash(), before);
    }
}
