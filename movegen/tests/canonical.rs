//! Item 4 of the hardening review: transaction ids are not malleable by third parties. The
//! parts of a body the signing digest leaves out (unsigned moves, `created_code`) have one
//! valid form, and movegen (builder, fill) emits it, so honest wallets and coordinators
//! never produce a transaction that validators refuse.

use crate::util::*;
use mf_format::{
    Account, B256, GENESIS_INTX, Key, Keypair, Mark, Mask, Move, MoveKind, Reason, Transaction,
    TxBody, U256, Value, check::created_code_is_canonical, check::moves_are_canonical,
    check_structure, sign, tx_id, verify_tx_signatures,
};
use mf_movegen::{
    Built, CodeLookup, MemoryView, Reexec, ReexecCheck, SignPolicy, StateView, TxBuilder, fill,
};

struct ViewCode<'a>(&'a MemoryView);

impl CodeLookup for ViewCode<'_> {
    fn code(&self, hash: &B256) -> Option<Vec<u8>> {
        self.0.code(hash).ok().flatten().map(|b| b.to_vec())
    }
}

/// Structure, signatures and re-execution: the stateless verdict of a validator.
fn stateless(view: &MemoryView, tx: &Transaction) -> Result<(), Reason> {
    check_structure(tx, CHAIN)?;
    verify_tx_signatures(tx)?;
    ReexecCheck::default()
        .reexec(tx, &tx_id(&tx.body), &ViewCode(view))
        .map(|_| ())
}

fn canonical(body: &TxBody) -> bool {
    moves_are_canonical(&body.moves) && created_code_is_canonical(&body.created_code)
}

fn never_written_ref(addr: mf_format::Address, mask: Mask) -> Move {
    Move {
        mask,
        kind: MoveKind::Reference,
        mark: Mark::Account,
        intx: GENESIS_INTX,
        addr,
        slot: U256::ZERO,
        prev: Value::Account(Account::EMPTY),
        next: Value::Account(Account::EMPTY),
    }
}

/// The contested keys of a token A -> token B swap and the policy that leaves them to the
/// filler (as in the devnet).
fn swap(w: &World, view: &MemoryView, user: &Keypair, amount: U256) -> Built {
    let pool = [
        Key::storage(w.pair, U256::from(2u64)),
        Key::storage(w.pair, U256::from(3u64)),
        Key::storage(w.token_a, bal_slot(w.pair)),
        Key::storage(w.token_b, bal_slot(w.pair)),
    ];
    TxBuilder::call(
        CHAIN,
        w.pair,
        swap_data(w.token_a, amount, U256::from(1u64)),
    )
    .sign_policy(
        SignPolicy::all()
            .open(true)
            .with_masks(pool, Mask::NONE)
            .with_mask(
                Key::storage(w.token_b, bal_slot(user.address())),
                SignPolicy::KNOWN_BEFORE,
            ),
    )
    .build(view, user, &[])
    .expect("build a swap")
}

/// The demonstrated attack: a third party adds one unread mask-0 reference to an open
/// transfer. The signatures hold (unsigned moves are not in the digest) and the id
/// changes; re-execution now refuses it, since execution never reads that key.
#[test]
fn an_unread_unsigned_reference_is_refused() {
    let w = world(2);
    let (a, b) = (&w.users[0], &w.users[1]);
    let open = TxBuilder::transfer(CHAIN, b.address(), U256::from(7u64))
        .open(true)
        .build(&w.view, a, &[])
        .expect("an open transfer");
    assert_eq!(stateless(&w.view, &open.tx), Ok(()));

    let stranger = Keypair::from_label("canonical stranger").address();
    let mut grown = open.tx.clone();
    grown
        .body
        .moves
        .push(never_written_ref(stranger, Mask::NONE));
    grown.body.canonicalize();
    assert_ne!(tx_id(&grown.body), open.id, "a second id");
    assert_eq!(check_structure(&grown, CHAIN), Ok(()));
    assert_eq!(verify_tx_signatures(&grown), Ok(()));
    assert_eq!(stateless(&w.view, &grown), Err(Reason::UnreadReference));

    // The same reference signed by the wallet is its own choice (a precondition): valid.
    let mut body = open.tx.body.clone();
    body.moves.push(never_written_ref(stranger, Mask::ALL));
    assert_eq!(stateless(&w.view, &sign(body, &[a])), Ok(()));

    // An unsigned reference that execution does read is fine: a zero-value transfer only
    // reads the recipient's record, left to the filler.
    let zero = TxBuilder::transfer(CHAIN, b.address(), U256::ZERO)
        .open(true)
        .with_mask(Key::account(b.address()), Mask::NONE)
        .build(&w.view, a, &[])
        .expect("a zero-value open transfer");
    let r = zero
        .tx
        .body
        .moves
        .iter()
        .find(|m| m.key() == Key::account(b.address()))
        .expect("the recipient's move");
    assert_eq!((r.kind, r.mask), (MoveKind::Reference, Mask::NONE));
    assert_eq!(stateless(&w.view, &zero.tx), Ok(()));
}

/// What movegen emits is canonical: the builder's open swap (unsigned pool moves after the
/// signed ones, in key order), its fill after the pool moved, the fill of a body whose pool
/// moves were left out, and the builder's creation of two contracts.
#[test]
fn builder_and_fill_emit_canonical_bodies() {
    let w = world(2);
    let mut view = w.view.clone();
    let (a, b) = (&w.users[0], &w.users[1]);
    let built = swap(&w, &view, b, eth(10));
    assert!(canonical(&built.tx.body));
    let unsigned: Vec<Key> = built
        .tx
        .body
        .moves
        .iter()
        .filter(|m| !m.mask.is_signed())
        .map(|m| m.key())
        .collect();
    assert_eq!(unsigned.len(), 4, "the pool's four keys");
    assert!(
        built.tx.body.moves[..built.tx.body.moves.len() - 4]
            .iter()
            .all(|m| m.mask.is_signed()),
        "signed moves first"
    );
    assert_eq!(stateless(&view, &built.tx), Ok(()));

    // Another swap moves the pool first; the filler refreshes the unsigned moves.
    let first = swap(&w, &view, a, eth(20));
    view.apply(&first.tx.body).expect("apply the first swap");
    let filled = fill(&built.tx, &view).expect("fill");
    assert_ne!(
        tx_id(&filled.body),
        built.id,
        "filled against another state"
    );
    assert!(canonical(&filled.body));
    assert_eq!(stateless(&view, &filled), Ok(()));

    // A wallet that leaves the pool out entirely: the filler adds the moves in place.
    let mut partial = built.tx.body.clone();
    partial.moves.retain(|m| m.mask.is_signed());
    let filled2 = fill(&sign(partial, &[b]), &view).expect("fill a partial body");
    assert_eq!(filled2.body, filled.body);

    // A creation that deploys two contracts: created_code in hash order.
    let c = Keypair::from_label("canonical creator");
    view.set_account(
        c.address(),
        Account {
            balance: eth(1),
            ..Account::EMPTY
        },
    );
    let created = TxBuilder::create(CHAIN, TWO_CONTRACTS_INIT.to_vec())
        .build(&view, &c, &[])
        .expect("a creation of two contracts");
    assert_eq!(created.tx.body.created_code, vec![vec![0x01], vec![0x00]]);
    assert!(canonical(&created.tx.body));
    assert_eq!(stateless(&view, &created.tx), Ok(()));
    // Reversed by a third party: same signatures, another id, refused by structure
    // (re-execution alone could not tell: the entries are looked up by hash).
    let mut reversed = created.tx.clone();
    reversed.body.created_code.reverse();
    assert_ne!(tx_id(&reversed.body), created.id);
    assert_eq!(verify_tx_signatures(&reversed), Ok(()));
    assert_eq!(
        ReexecCheck::default()
            .reexec(&reversed, &tx_id(&reversed.body), &ViewCode(&view))
            .map(|_| ()),
        Ok(())
    );
    assert_eq!(
        check_structure(&reversed, CHAIN),
        Err(Reason::InvalidCreatedCode)
    );
}
