//! Masked signing and filling end to end: wallets sign swaps with the pool's fields left to
//! a filler, a filler fills them against the current state (a `MemoryView` mirroring the
//! validator by applying the accepted bodies), and a real validator (LMDB, ed25519, revm
//! re-execution) accepts or rejects them.

use crate::util::fixtures::*;
use mf_format::{
    Address, Batch, Key, Mask, Reason, Status, Transaction, TxBody, U256, Value,
    verify_tx_signatures,
};
use mf_movegen::{MemoryView, SignPolicy, TxBuilder, fill};
use mf_validator::genesis::Genesis;
use mf_validator::{Mode, Validator};
use tempfile::TempDir;

struct Chain {
    _dir: TempDir,
    v: Validator,
    /// The validator's state, as a filler follows it.
    mirror: MemoryView,
    w: World,
}

fn chain(users: usize) -> Chain {
    let w = world(users);
    let genesis = Genesis {
        chain_id: CHAIN,
        rules: Default::default(),
        versions: w.view.versions().map(|(k, (_, v))| (*k, *v)).collect(),
        code: w.view.codes().map(|(h, c)| (*h, c.to_vec())).collect(),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let v = Validator::init(dir.path(), &genesis).expect("init");
    Chain {
        _dir: dir,
        v,
        mirror: w.view.clone(),
        w,
    }
}

impl Chain {
    /// Applies one transaction in filter mode; mirrors it when accepted.
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
            self.mirror.apply(&tx.body).expect("mirror");
        }
        status
    }

    fn pool_keys(&self) -> [Key; 4] {
        let w = &self.w;
        [
            Key::storage(w.pair, U256::from(2u64)),
            Key::storage(w.pair, U256::from(3u64)),
            Key::storage(w.token_a, bal_slot(w.pair)),
            Key::storage(w.token_b, bal_slot(w.pair)),
        ]
    }

    /// Pool fields unsigned in an open transaction, the user's output balance signed up to
    /// its value before.
    fn policy(&self, user: Address) -> SignPolicy {
        SignPolicy::all()
            .open(true)
            .with_masks(self.pool_keys(), Mask::NONE)
            .with_mask(
                Key::storage(self.w.token_b, bal_slot(user)),
                SignPolicy::KNOWN_BEFORE,
            )
    }

    fn swap(&self, amount: U256, min_out: U256) -> TxBuilder {
        TxBuilder::call(
            CHAIN,
            self.w.pair,
            swap_data(self.w.token_a, amount, min_out),
        )
    }

    fn reserves(&self) -> (U256, U256) {
        (
            self.mirror.storage(self.w.pair, U256::from(2u64)),
            self.mirror.storage(self.w.pair, U256::from(3u64)),
        )
    }
}

#[test]
fn a_masked_swap_filled_after_another_swap_is_accepted() {
    let mut c = chain(2);
    let (a, b) = (c.w.users[0].clone(), c.w.users[1].clone());
    let amount_b = eth(40);
    // B signs against the genesis pool, leaving the pool to the filler.
    let signed_b = c
        .swap(amount_b, eth(1))
        .sign_policy(c.policy(b.address()))
        .build(&c.mirror, &b, &[])
        .expect("build b");
    // A's swap lands first.
    let swap_a = c
        .swap(eth(300), U256::from(1u64))
        .build(&c.mirror, &a, &[])
        .expect("build a");
    assert_eq!(c.submit(&swap_a.tx), Status::Accepted);
    // B's transaction as signed names spent pool versions.
    let stale = c.submit(&signed_b.tx);
    assert!(matches!(stale, Status::Rejected(_)), "{stale:?}");

    let (ra, rb) = c.reserves();
    let filled = fill(&signed_b.tx, &c.mirror).expect("fill");
    assert_eq!(filled.auths, signed_b.tx.auths);
    assert_eq!(c.submit(&filled), Status::Accepted);
    let out = amount_out(amount_b, ra, rb);
    assert_eq!(
        c.mirror.storage(c.w.token_b, bal_slot(b.address())),
        eth(1_000_000) + out
    );
    assert_eq!(c.reserves(), (ra + amount_b, rb - out));
    assert_eq!(c.v.head().height, 2);
    let (fresh, stored) = c.v.check().expect("check");
    assert_eq!(fresh, stored);
}

#[test]
fn a_tampered_filled_swap_is_a_bad_signature() {
    let mut c = chain(2);
    let (a, b) = (c.w.users[0].clone(), c.w.users[1].clone());
    let signed_b = c
        .swap(eth(40), eth(1))
        .sign_policy(c.policy(b.address()))
        .build(&c.mirror, &b, &[])
        .expect("build b");
    let swap_a = c
        .swap(eth(300), U256::from(1u64))
        .build(&c.mirror, &a, &[])
        .expect("build a");
    assert_eq!(c.submit(&swap_a.tx), Status::Accepted);
    let filled = fill(&signed_b.tx, &c.mirror).expect("fill");
    // The filler takes one wei more from B's input balance (a signed `next`).
    let mut tampered = filled.clone();
    let m = tampered
        .body
        .moves
        .iter_mut()
        .find(|m| m.key() == Key::storage(c.w.token_a, bal_slot(b.address())))
        .expect("input balance move");
    assert_eq!(m.mask, Mask::ALL);
    if let Value::Storage(x) = &mut m.next {
        *x -= U256::from(1u64);
    }
    let hash = c.v.state_hash();
    assert_eq!(c.submit(&tampered), Status::Rejected(Reason::BadSignature));
    assert_eq!(c.v.state_hash(), hash, "nothing applied");
    // The honest fill still goes through.
    assert_eq!(c.submit(&filled), Status::Accepted);
}

#[test]
fn a_fill_below_the_minimum_output_cannot_be_made_or_accepted() {
    let mut c = chain(2);
    let (a, b) = (c.w.users[0].clone(), c.w.users[1].clone());
    let amount = eth(40);
    let (ra, rb) = c.reserves();
    // B wants exactly what the pool gives now.
    let signed_b = c
        .swap(amount, amount_out(amount, ra, rb))
        .sign_policy(c.policy(b.address()))
        .build(&c.mirror, &b, &[])
        .expect("build b");
    let swap_a = c
        .swap(eth(300), U256::from(1u64))
        .build(&c.mirror, &a, &[])
        .expect("build a");
    assert_eq!(c.submit(&swap_a.tx), Status::Accepted);

    // The filler refuses.
    let err = fill(&signed_b.tx, &c.mirror).expect_err("fill must refuse");
    assert_eq!(err.revert_reason(), Some("insufficient output"), "{err}");

    // A hand-built fill that declares the worse outcome: the moves of the same swap without
    // a minimum against the current state, under B's signed call and authorisations. Every
    // signed field is unchanged, so the signatures hold; re-execution of the signed call
    // (with its minimum) reverts.
    let (low, _) = c
        .swap(amount, U256::from(1u64))
        .sign_policy(c.policy(b.address()))
        .body(&c.mirror, b.address())
        .expect("body");
    let hand = Transaction {
        eth: None,
        body: TxBody {
            call: signed_b.tx.body.call.clone(),
            ..low
        },
        auths: signed_b.tx.auths.clone(),
    };
    assert_eq!(verify_tx_signatures(&hand), Ok(()));
    let hash = c.v.state_hash();
    // The call reverts: only a transaction declaring the failed run's moves (the sender's
    // nonce bump) could be included, as failed; these moves are the swap's.
    assert_eq!(c.submit(&hand), Status::Rejected(Reason::WriteMismatch));
    assert_eq!(c.v.state_hash(), hash, "nothing applied");
}
