//! What the validator's tests share: [`Transfers`], a real validator on a sample genesis with
//! the account state its keys should have, and (as `fixtures`) movegen's contract fixtures.

use mf_format::*;
use mf_movegen::{MemoryView, execute_under};
use mf_validator::sample::{GenConfig, generate, transfer_body};
use mf_validator::{ApplyError, Mode, Validator};
use tempfile::TempDir;

/// movegen's committed `Token` and `Pair` artifacts deployed in a genesis, and the plain-revm
/// reference helpers.
#[path = "../../../movegen/tests/util/mod.rs"]
pub mod fixtures;

/// A validator in a temporary directory and the latest `(intx, account)` of each sample key,
/// as the validator should hold it.
pub struct Transfers {
    _dir: TempDir,
    /// The validator.
    pub v: Validator,
    /// The sample keys.
    pub keys: Vec<Keypair>,
    /// Latest (intx, account) of each key.
    pub state: Vec<(TxId, Account)>,
}

impl Transfers {
    /// A validator on a genesis of `accounts` funded sample keys.
    pub fn new(accounts: usize) -> Transfers {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = generate(&GenConfig {
            accounts,
            txs: 0,
            ..GenConfig::default()
        });
        let v = Validator::init(dir.path(), &s.genesis).expect("init");
        let start = match s.genesis.versions[0].1 {
            Value::Account(a) => a,
            Value::Storage(_) => unreachable!("sample genesis versions are accounts"),
        };
        Transfers {
            _dir: dir,
            v,
            state: vec![(GENESIS_INTX, start); s.keys.len()],
            keys: s.keys,
        }
    }

    /// A signed transfer of `value` from key `f` to key `t` built on the tracked state,
    /// declaring `context` (does not update the state).
    pub fn transfer(&self, f: usize, t: usize, value: u64, context: ExecContext) -> Transaction {
        let body = transfer_body(
            1337,
            self.keys[f].address(),
            self.state[f],
            self.keys[t].address(),
            self.state[t],
            U256::from(value),
            context,
        );
        sign(body, &[&self.keys[f]])
    }

    /// Records that `tx` (a transfer f -> t) was accepted.
    pub fn accept(&mut self, f: usize, t: usize, tx: &Transaction) {
        let id = tx_id(&tx.body);
        if let (Value::Account(a), Value::Account(b)) =
            (tx.body.moves[0].next, tx.body.moves[1].next)
        {
            self.state[f] = (id, a);
            self.state[t] = (id, b);
        }
    }

    /// Applies a batch of `txs`.
    pub fn apply(
        &mut self,
        txs: Vec<Transaction>,
        mode: Mode,
    ) -> Result<mf_validator::Outcome, ApplyError> {
        self.v.apply_bytes(&encode(&Batch { txs }), mode)
    }
}

/// A key (from `label`) funded with 1,000 ETH and `code` deployed at `at`: the one-contract
/// world of the failed-execution and chain-rules tests.
pub fn funded_with_contract(label: &str, at: Address, code: &[u8]) -> (Keypair, MemoryView) {
    let key = Keypair::from_label(label);
    let mut view = MemoryView::new();
    view.set_account(
        key.address(),
        Account {
            balance: U256::from(10u64).pow(U256::from(21u64)),
            nonce: 0,
            code_hash: EMPTY_CODE_HASH,
        },
    );
    view.deploy(at, code.to_vec(), U256::ZERO, []);
    (key, view)
}

/// The canonical body of `call` on `chain_id` with the moves `execute_under` derives against
/// `view` under `rules` (a call that reverts or halts included as failed).
pub fn included_body(
    view: &MemoryView,
    chain_id: u64,
    rules: &ChainRules,
    call: Call,
    ctx: ExecContext,
) -> TxBody {
    let e = execute_under(view, chain_id, rules, &call, &ctx, true).expect("execute_under");
    let mut body = TxBody {
        chain_id,
        call,
        context: ctx,
        open: false,
        moves: e.moves,
        created_code: e.created_code,
    };
    body.canonicalize();
    body
}

/// The verdicts of `txs` applied as one batch in filter mode; when none is accepted, the
/// state and the head are checked unchanged (a refusal changes nothing).
pub fn statuses(v: &mut Validator, txs: &[Transaction]) -> Vec<Status> {
    let before = (v.state_hash(), *v.head());
    let out = v
        .apply_batch(&Batch { txs: txs.to_vec() }, Mode::Filter)
        .expect("apply");
    let st: Vec<Status> = out.receipts.iter().map(|r| r.status).collect();
    if st.iter().all(|s| matches!(s, Status::Rejected(_))) {
        assert_eq!(
            (v.state_hash(), *v.head()),
            before,
            "a refusal changes nothing"
        );
    }
    st
}

/// The verdict of `tx` applied alone ([`statuses`]).
pub fn status(v: &mut Validator, tx: &Transaction) -> Status {
    statuses(v, std::slice::from_ref(tx))[0]
}
