//! Items 4 and 8e of the hardening review, through the whole validator (structure,
//! signatures, revm re-execution, the context window, the critical path, LMDB):
//!
//! - transaction ids are not malleable by third parties: whatever a third party does to a
//!   valid transaction without the signers' keys (reorder, add or remove `created_code`;
//!   reorder, add, remove or alter moves, signed or not, in the fields the masks leave out
//!   or not; add, strip, reorder or duplicate authorisations), the result is either refused
//!   at the state where the original is valid, or has the original's id;
//! - co-signatures are bound: a change to the authorisations of a valid transaction is
//!   always refused;
//! - the demonstrated attacks, one by one: a reversed `created_code`, and an unread mask-0
//!   reference added to an open transfer, which used to rename the parent and kill the
//!   child its wallet had pre-signed against the parent's id.

use crate::util::fixtures::*;
use mf_format::{
    Account, Authorization, Batch, ExecContext, GENESIS_INTX, Key, Keypair, Mask, Move, MoveKind,
    Reason, Status, Transaction, TxId, U256, Value, authorization_digest, sign, signing_digest,
    tx_id,
};
use mf_movegen::{MemoryView, SignPolicy, StateView, TxBuilder};
use mf_validator::genesis::Genesis;
use mf_validator::{Mode, Validator};
use proptest::prelude::*;

/// The pinned header clock (ms).
const NOW_MS: u64 = 1_800_000_000_500;

fn clock() -> u64 {
    NOW_MS
}

const USERS: usize = 4;

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

    fn context(&self) -> ExecContext {
        ExecContext {
            block_number: self.v.head().height + 1,
            timestamp: NOW_MS / 1000,
        }
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

    /// The contested keys of a swap (the reserves and the pool's balances).
    fn pool_keys(&self) -> [Key; 4] {
        let w = &self.w;
        [
            Key::storage(w.pair, U256::from(2u64)),
            Key::storage(w.pair, U256::from(3u64)),
            Key::storage(w.token_a, bal_slot(w.pair)),
            Key::storage(w.token_b, bal_slot(w.pair)),
        ]
    }

    /// Builds `shape` against the current state, signed by its sender and, when
    /// `cosigned`, by the next user too.
    fn build(&self, shape: Shape, cosigned: bool) -> Transaction {
        let (from, builder) = match shape {
            Shape::Transfer { from, to, wei } => (
                from,
                TxBuilder::transfer(CHAIN, self.user(from + 1 + to).address(), U256::from(wei)),
            ),
            Shape::OpenTransfer { from, to, wei } => {
                let to = self.user(from + 1 + to).address();
                (
                    from,
                    TxBuilder::transfer(CHAIN, to, U256::from(wei))
                        .open(true)
                        .with_mask(Key::account(to), Mask::NONE),
                )
            }
            Shape::Swap { from, amount } => {
                let user = self.user(from).address();
                (
                    from,
                    TxBuilder::call(
                        CHAIN,
                        self.w.pair,
                        swap_data(self.w.token_a, eth(amount), U256::from(1u64)),
                    )
                    .sign_policy(
                        SignPolicy::all()
                            .open(true)
                            .with_masks(self.pool_keys(), Mask::NONE)
                            .with_mask(
                                Key::storage(self.w.token_b, bal_slot(user)),
                                SignPolicy::KNOWN_BEFORE,
                            ),
                    ),
                )
            }
            Shape::Create { from } => (from, TxBuilder::create(CHAIN, TWO_CONTRACTS_INIT.to_vec())),
        };
        let cosigner = self.user(from + 1).clone();
        let cosigners: Vec<&Keypair> = if cosigned { vec![&cosigner] } else { vec![] };
        builder
            .context(self.context())
            .build(&self.view, self.user(from), &cosigners)
            .expect("the call builds")
            .tx
    }
}

/// A valid transaction to attack.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// A closed, fully signed transfer to another user.
    Transfer { from: usize, to: usize, wei: u64 },
    /// An `open` transfer whose recipient's record is left to the filler (mask 0).
    OpenTransfer { from: usize, to: usize, wei: u64 },
    /// An `open` AMM swap: the pool's four keys unsigned, the output balance `INTX | PREV`.
    Swap { from: usize, amount: u64 },
    /// A closed creation of two contracts (two `created_code` entries).
    Create { from: usize },
}

fn shape() -> impl Strategy<Value = Shape> {
    let u = || 0..USERS;
    prop_oneof![
        (u(), 0..USERS - 1, 1u64..1_000_000).prop_map(|(from, to, wei)| Shape::Transfer {
            from,
            to,
            wei
        }),
        (u(), 0..USERS - 1, 1u64..1_000_000).prop_map(|(from, to, wei)| Shape::OpenTransfer {
            from,
            to,
            wei
        }),
        (u(), 1u64..100).prop_map(|(from, amount)| Shape::Swap { from, amount }),
        u().prop_map(|from| Shape::Create { from }),
    ]
}

/// A key a third party adds a move on.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// A never-written account.
    Fresh(u8),
    /// A user's account record at its live version.
    User(usize),
    /// A pool key at its live version.
    Pool(usize),
    /// The key of one of the transaction's own moves (a duplicate).
    Own(usize),
}

/// What a third party (without any signer's key) does to the transaction. Indices are
/// taken modulo the lengths they index.
#[derive(Clone, Debug)]
enum Change {
    /// Swaps two `created_code` entries.
    SwapCode(usize, usize),
    /// Repeats a `created_code` entry at a position.
    RepeatCode(usize, usize),
    /// Adds a `created_code` entry (then, if `sort`, puts the list in hash order).
    AddCode(Vec<u8>, usize, bool),
    /// Removes a `created_code` entry.
    RemoveCode(usize),
    /// Moves the move at one position to another.
    MoveMove(usize, usize),
    /// Adds a move with mask 0 (a reference, or a consume that changes the value), at a
    /// position or in its canonical place.
    AddUnsigned {
        target: Target,
        consume: bool,
        at: Option<usize>,
    },
    /// Removes a move.
    RemoveMove(usize),
    /// Replaces a move's `intx` (random, or the genesis id).
    Intx(usize, Option<[u8; 32]>),
    /// Adds `d` to a move's `prev` (balance or word).
    Prev(usize, u64),
    /// Adds `d` to a move's `next`.
    Next(usize, u64),
    /// Adds `d` to both `prev` and `next` of a move (consistent for execution).
    Shift(usize, u64),
    /// Turns a consume into a reference (`next = prev`) or a reference into a consume
    /// (`next` + 1).
    FlipKind(usize),
    /// Sets a move's mask.
    Mask(usize, u8),
    /// Drops the authorisation at a position (a co-signature, or the sender's).
    StripAuth(usize),
    /// Swaps two authorisations.
    SwapAuths(usize, usize),
    /// Repeats an authorisation.
    RepeatAuth(usize),
    /// A third party adds its own co-signature over the plain signing digest (`false`) or
    /// over the digest bound to the new list of signers (`true`).
    AddCosigner(u8, bool),
    /// Flips one bit of a signature.
    FlipSignatureBit(usize, u16),
}

fn change() -> impl Strategy<Value = Change> {
    let i = || 0usize..64;
    let target = prop_oneof![
        any::<u8>().prop_map(Target::Fresh),
        (0..USERS).prop_map(Target::User),
        (0usize..4).prop_map(Target::Pool),
        i().prop_map(Target::Own),
    ];
    prop_oneof![
        (i(), i()).prop_map(|(a, b)| Change::SwapCode(a, b)),
        (i(), i()).prop_map(|(a, b)| Change::RepeatCode(a, b)),
        (
            proptest::collection::vec(any::<u8>(), 1..8),
            i(),
            any::<bool>()
        )
            .prop_map(|(c, at, sort)| Change::AddCode(c, at, sort)),
        i().prop_map(Change::RemoveCode),
        (i(), i()).prop_map(|(a, b)| Change::MoveMove(a, b)),
        (target, any::<bool>(), proptest::option::of(i())).prop_map(|(target, consume, at)| {
            Change::AddUnsigned {
                target,
                consume,
                at,
            }
        }),
        i().prop_map(Change::RemoveMove),
        (i(), proptest::option::of(any::<[u8; 32]>())).prop_map(|(a, id)| Change::Intx(a, id)),
        (i(), 1u64..1_000_000).prop_map(|(a, d)| Change::Prev(a, d)),
        (i(), 1u64..1_000_000).prop_map(|(a, d)| Change::Next(a, d)),
        (i(), 1u64..1_000_000).prop_map(|(a, d)| Change::Shift(a, d)),
        i().prop_map(Change::FlipKind),
        (i(), 0u8..8).prop_map(|(a, m)| Change::Mask(a, m)),
        i().prop_map(Change::StripAuth),
        (i(), i()).prop_map(|(a, b)| Change::SwapAuths(a, b)),
        i().prop_map(Change::RepeatAuth),
        (any::<u8>(), any::<bool>()).prop_map(|(k, bound)| Change::AddCosigner(k, bound)),
        (i(), 0u16..512).prop_map(|(a, bit)| Change::FlipSignatureBit(a, bit)),
    ]
}

fn add(v: Value, d: u64) -> Value {
    match v {
        Value::Account(a) => Value::Account(Account {
            balance: a.balance.wrapping_add(U256::from(d)),
            ..a
        }),
        Value::Storage(w) => Value::Storage(w.wrapping_add(U256::from(d))),
    }
}

/// A move with mask 0 on `key` at its live version in `view`.
fn unsigned_on(view: &MemoryView, key: Key, consume: bool) -> Move {
    let (intx, prev) = view
        .version(&key)
        .expect("memory view")
        .unwrap_or_else(|| key.never_written());
    Move {
        mask: Mask::NONE,
        kind: if consume {
            MoveKind::Consume
        } else {
            MoveKind::Reference
        },
        mark: key.mark,
        intx,
        addr: key.addr,
        slot: key.slot,
        prev,
        next: if consume { add(prev, 1) } else { prev },
    }
}

/// Applies `c` to a copy of `tx`; `None` when it does not apply (nothing to index).
fn apply_change(c: &Change, tx: &Transaction, ch: &Chain) -> Option<Transaction> {
    let mut t = tx.clone();
    let b = &mut t.body;
    let n = b.moves.len();
    let codes = b.created_code.len();
    let auths = t.auths.len();
    match c {
        Change::SwapCode(i, j) => {
            if codes < 2 {
                return None;
            }
            b.created_code.swap(i % codes, j % codes);
        }
        Change::RepeatCode(i, at) => {
            if codes == 0 {
                return None;
            }
            let code = b.created_code[i % codes].clone();
            b.created_code.insert(at % (codes + 1), code);
        }
        Change::AddCode(code, at, sort) => {
            b.created_code.insert(at % (codes + 1), code.clone());
            if *sort {
                b.created_code
                    .sort_by_cached_key(|c| alloy_primitives::keccak256(c));
            }
        }
        Change::RemoveCode(i) => {
            if codes == 0 {
                return None;
            }
            b.created_code.remove(i % codes);
        }
        Change::MoveMove(i, j) => {
            let m = b.moves.remove(i % n);
            b.moves.insert(j % n, m);
        }
        Change::AddUnsigned {
            target,
            consume,
            at,
        } => {
            let key = match target {
                Target::Fresh(k) => {
                    Key::account(Keypair::from_label(&format!("malleability fresh {k}")).address())
                }
                Target::User(u) => Key::account(ch.user(*u).address()),
                Target::Pool(p) => ch.pool_keys()[p % 4],
                Target::Own(i) => b.moves[i % n].key(),
            };
            let m = unsigned_on(&ch.view, key, *consume);
            match at {
                Some(at) => b.moves.insert(at % (n + 1), m),
                None => {
                    b.moves.push(m);
                    b.canonicalize();
                }
            }
        }
        Change::RemoveMove(i) => {
            b.moves.remove(i % n);
        }
        Change::Intx(i, id) => {
            b.moves[i % n].intx = id.map_or(GENESIS_INTX, TxId::from);
        }
        Change::Prev(i, d) => {
            let m = &mut b.moves[i % n];
            m.prev = add(m.prev, *d);
        }
        Change::Next(i, d) => {
            let m = &mut b.moves[i % n];
            m.next = add(m.next, *d);
        }
        Change::Shift(i, d) => {
            let m = &mut b.moves[i % n];
            m.prev = add(m.prev, *d);
            m.next = add(m.next, *d);
        }
        Change::FlipKind(i) => {
            let m = &mut b.moves[i % n];
            match m.kind {
                MoveKind::Consume => {
                    m.kind = MoveKind::Reference;
                    m.next = m.prev;
                }
                MoveKind::Reference => {
                    m.kind = MoveKind::Consume;
                    m.next = add(m.prev, 1);
                }
            }
        }
        Change::Mask(i, mask) => {
            b.moves[i % n].mask = Mask(*mask);
        }
        Change::StripAuth(i) => {
            t.auths.remove(i % auths);
        }
        Change::SwapAuths(i, j) => {
            t.auths.swap(i % auths, j % auths);
        }
        Change::RepeatAuth(i) => {
            let a = t.auths[i % auths];
            t.auths.push(a);
        }
        Change::AddCosigner(k, bound) => {
            let third = Keypair::from_label(&format!("malleability third party {k}"));
            let digest = signing_digest(&t.body);
            let msg = if *bound {
                let mut keys: Vec<[u8; 32]> = t.auths.iter().map(|a| a.public_key).collect();
                keys.push(third.public_key());
                authorization_digest(&digest, &keys)
            } else {
                digest
            };
            t.auths.push(Authorization {
                public_key: third.public_key(),
                signature: third.sign_digest(&msg),
            });
        }
        Change::FlipSignatureBit(i, bit) => {
            let a = &mut t.auths[i % auths];
            a.signature.0[usize::from(*bit / 8)] ^= 1 << (bit % 8);
        }
    }
    Some(t)
}

fn touches_auths(c: &Change) -> bool {
    matches!(
        c,
        Change::StripAuth(_)
            | Change::SwapAuths(..)
            | Change::RepeatAuth(_)
            | Change::AddCosigner(..)
            | Change::FlipSignatureBit(..)
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Items 4 and 8e: any change a third party can make to a valid transaction is refused at
    /// the state where the original is valid, or keeps the original's id; and a change to
    /// the authorisations is always refused (the signers are bound).
    #[test]
    fn third_party_changes_invalidate_or_keep_the_id(
        prior in proptest::collection::vec(shape(), 0..3),
        target in shape(),
        cosigned in any::<bool>(),
        changes in proptest::collection::vec(change(), 12..24),
    ) {
        let mut c = chain();
        // A few earlier transactions, so versions chain on non-genesis ids.
        for s in prior {
            let tx = c.build(s, false);
            prop_assert_eq!(c.submit(&tx), Status::Accepted, "prior {:?}", s);
        }
        let tx = c.build(target, cosigned);
        let id = tx_id(&tx.body);
        let mut taken = false;
        for ch in &changes {
            let Some(bad) = apply_change(ch, &tx, &c) else { continue };
            if bad == tx {
                continue;
            }
            let before = (c.v.state_hash(), *c.v.head());
            let status = c.submit(&bad);
            if status == Status::Accepted {
                prop_assert_eq!(
                    tx_id(&bad.body), id,
                    "{:?} on {:?} (co-signed {}) was accepted under another id", ch, target, cosigned
                );
                prop_assert!(
                    !touches_auths(ch),
                    "{:?} on {:?} (co-signed {}): the changed authorisations were accepted",
                    ch, target, cosigned
                );
                taken = true;
                break;
            }
            prop_assert_eq!(
                (c.v.state_hash(), *c.v.head()),
                before,
                "{:?}: a rejection changed the state", ch
            );
        }
        if !taken {
            prop_assert_eq!(c.submit(&tx), Status::Accepted, "the original {:?}", target);
        }
    }
}

/// The id of `tx` and the versions of `key` it creates.
fn output(tx: &Transaction, key: Key) -> (TxId, Value) {
    let m = tx
        .body
        .moves
        .iter()
        .find(|m| m.key() == key && m.kind == MoveKind::Consume)
        .expect("a consume of the key");
    (tx_id(&tx.body), m.next)
}

/// Item 4, the demonstrated attack: a wallet signs an open transfer P and, before P is
/// applied, a child C that spends P's output (the sender's new record, named by P's id).
/// A third party adds one unread mask-0 reference to P: the signatures hold, the id
/// changes, and (before the fix) the validator accepted it, so C named a version that never
/// existed. Now the renamed parent is refused, and P and C are both accepted.
#[test]
fn an_unread_reference_cannot_rename_a_parent_under_its_child() {
    let mut c = chain();
    let (a, b) = (c.user(0).clone(), c.user(1).clone());
    let parent = TxBuilder::transfer(CHAIN, b.address(), U256::from(5u64))
        .open(true)
        .context(c.context())
        .build(&c.view, &a, &[])
        .expect("the parent")
        .tx;
    // The child, pre-signed against the parent's outputs.
    let mut after = c.view.clone();
    after.apply(&parent.body).expect("the parent applies");
    let sender = Key::account(a.address());
    assert_eq!(
        after.version(&sender).expect("view"),
        Some(output(&parent, sender))
    );
    let child = TxBuilder::transfer(CHAIN, b.address(), U256::from(6u64))
        .context(c.context())
        .build(&after, &a, &[])
        .expect("the child")
        .tx;
    assert!(
        child
            .body
            .moves
            .iter()
            .any(|m| m.key() == sender && m.intx == tx_id(&parent.body)),
        "the child names the parent's id"
    );

    // The third party's version of the parent.
    let stranger = Keypair::from_label("malleability stranger").address();
    let mut renamed = parent.clone();
    renamed
        .body
        .moves
        .push(unsigned_on(&c.view, Key::account(stranger), false));
    renamed.body.canonicalize();
    assert_ne!(tx_id(&renamed.body), tx_id(&parent.body));
    assert_eq!(mf_format::verify_tx_signatures(&renamed), Ok(()));

    assert_eq!(
        c.submit(&renamed),
        Status::Rejected(Reason::UnreadReference)
    );
    assert_eq!(c.submit(&parent), Status::Accepted);
    assert_eq!(c.submit(&child), Status::Accepted);
}

/// Item 4, the demonstrated attack: reversing the two `created_code` entries of a fully
/// signed creation gave a second valid id. Now only the canonical order is valid.
#[test]
fn a_reversed_created_code_is_refused() {
    let mut c = chain();
    let tx = c.build(Shape::Create { from: 2 }, false);
    assert_eq!(tx.body.created_code.len(), 2);
    let mut reversed = tx.clone();
    reversed.body.created_code.reverse();
    assert_ne!(tx_id(&reversed.body), tx_id(&tx.body));
    assert_eq!(mf_format::verify_tx_signatures(&reversed), Ok(()));
    assert_eq!(
        c.submit(&reversed),
        Status::Rejected(Reason::InvalidCreatedCode)
    );
    assert_eq!(c.submit(&tx), Status::Accepted);
}

/// Item 8e: a co-signature stripped by a third party leaves a transaction no validator
/// accepts (every signer signed the list of signers); the co-signed original is accepted.
#[test]
fn a_stripped_cosignature_is_refused() {
    let mut c = chain();
    let tx = c.build(
        Shape::Transfer {
            from: 1,
            to: 0,
            wei: 3,
        },
        true,
    );
    assert_eq!(tx.auths.len(), 2);
    let mut stripped = tx.clone();
    stripped.auths.pop();
    assert_eq!(tx_id(&stripped.body), tx_id(&tx.body));
    assert_eq!(c.submit(&stripped), Status::Rejected(Reason::BadSignature));
    // Re-signed by the sender alone it is the sender's own (valid) choice.
    let alone = sign(tx.body.clone(), &[c.user(1)]);
    assert_eq!(tx_id(&alone.body), tx_id(&tx.body));
    assert_eq!(c.submit(&tx), Status::Accepted);
}
