//! The adversarial catalogue (`docs/ADVERSARIAL.md`) against running validators.
//!
//! One test per group of rows (one file each, named after the group), so that a failing
//! group names itself. Each starts two real `mf-validator serve` processes on loopback,
//! initialised from the same genesis: one in filter mode, one in strict mode. Every row of the catalogue posts its batch to
//! both over HTTP and checks
//!
//! - filter mode: the receipt of every transaction (reason name and number), and for a
//!   batch that does not decode the HTTP refusal;
//! - strict mode: the `422` refusal naming the first rejected transaction and its reason
//!   (or the same decoding refusal);
//! - that nothing was half-applied: `GET /head` (height, state hash) of both servers is
//!   unchanged by a rejection; every version the batch names (`GET /version/...`) is
//!   unchanged, except those an accepted transaction of the batch spent or created; the two
//!   servers hold the same state hash after every row (strict mode is brought level by
//!   posting the accepted part alone).
//!
//! Valid transactions are built with movegen's `TxBuilder` against a `MemoryView` that
//! mirrors the chain, then tampered with. Rows are identified by the ids of the catalogue
//! (a group is the ids' letter); at the end each group's test checks that the document
//! lists exactly its rows with exactly these verdicts, and
//! `catalogue_lists_each_id_once_in_a_tested_group` that the document lists no other
//! group, so the catalogue and the tests cannot drift apart.

mod application;
mod coordinator;
mod decoding;
mod execution;
mod signatures;
mod structure;

use crate::util::fixtures::{CHAIN, World, eth, transfer_data, world};
use crate::util::http::{Resp, connect, read_response, request};
use crate::util::{Guard, p, run_ok, start_server};
use mf_format::limits::{
    MAX_AUTHS, MAX_BATCH_BYTES, MAX_CODE_BYTES, MAX_CREATED_CODES, MAX_GAS_LIMIT, MAX_INPUT_BYTES,
    MAX_MOVES_PER_TX, MAX_TXS_PER_BATCH,
};
use mf_format::{
    Account, Address, Authorization, B256, Batch, Call, ExecContext, GENESIS_INTX, Key, Keypair,
    Mark, Mask, Move, MoveKind, Reason, SignatureBytes, Status, Transaction, TxBody, TxId, U256,
    Value, encode, sign, tx_id,
};
use mf_movegen::{MemoryView, SignPolicy, StateView, TxBuilder};
use mf_validator::genesis::Genesis;
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use std::time::Instant;

/// A `POST /batch` that announces `length` bytes and sends none of them.
fn announce_only(addr: &str, length: u64) -> Resp {
    let mut s = connect(addr);
    let head = format!(
        "POST /batch HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {length}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).expect("write head");
    read_response(s)
}

// ---------------------------------------------------------------------------------------
// Contracts written as raw EVM bytecode.

/// Calls itself with all the gas it may pass on (EIP-150: 63/64), passing its depth + 1 as
/// calldata. A frame returns the deepest depth its callee reported (or its own depth + 1
/// when the callee failed); the outermost frame stores that number in slot 0.
///
/// ```text
/// 00 PUSH1 0 CALLDATALOAD PUSH1 1 ADD PUSH1 0 MSTORE         mem[0] = depth + 1
/// 09 PUSH1 32 PUSH1 0 PUSH1 32 PUSH1 0 PUSH1 0 ADDRESS GAS CALL POP
/// 17 PUSH1 0 CALLDATALOAD ISZERO PUSH1 0x23 JUMPI            outermost frame?
/// 1e PUSH1 32 PUSH1 0 RETURN                                 return mem[0]
/// 23 JUMPDEST PUSH1 0 MLOAD PUSH1 0 SSTORE STOP              slot 0 = mem[0]
/// ```
const RECURSE_CODE: &[u8] = &[
    0x60, 0x00, 0x35, 0x60, 0x01, 0x01, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0x60, 0x20, 0x60,
    0x00, 0x60, 0x00, 0x30, 0x5a, 0xf1, 0x50, 0x60, 0x00, 0x35, 0x15, 0x60, 0x23, 0x57, 0x60, 0x20,
    0x60, 0x00, 0xf3, 0x5b, 0x60, 0x00, 0x51, 0x60, 0x00, 0x55, 0x00,
];

/// `JUMPDEST PUSH1 0 JUMP`: loops until the gas is gone.
const LOOP_CODE: &[u8] = &[0x5b, 0x60, 0x00, 0x56];

/// `CREATE(0, 0, 0)` (empty init code), then slot 0 = `ISZERO(created address)`: 1 when the
/// creation failed.
const FACTORY_CODE: &[u8] = &[
    0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0xf0, 0x15, 0x60, 0x00, 0x55, 0x00,
];

/// Init code that deploys the one-byte runtime code `STOP` (`MSTORE8(0, 0); RETURN(0, 1)`).
const INIT_STOP: &[u8] = &[0x60, 0x00, 0x60, 0x00, 0x53, 0x60, 0x01, 0x60, 0x00, 0xf3];

fn contract(n: u8) -> Address {
    let mut a = [0u8; 20];
    a[0] = 0xad;
    a[19] = n;
    Address::from(a)
}

const RECURSE: u8 = 1;
const LOOP: u8 = 2;
const FACTORY: u8 = 3;

fn fresh(n: u32) -> Address {
    Keypair::from_label(&format!("adversarial fresh {n}")).address()
}

// ---------------------------------------------------------------------------------------
// Signature malleation.

/// ℓ, the order of the ed25519 base point, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fn add_le(a: &[u8], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let s = a[i] as u16 + b[i] as u16 + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    out
}

/// The encoding of `R + (0, -1)` (the point of order 2) given that of `R = (x, y)`:
/// `(-x, -y)`, so `y' = p - y` and the sign bit (the parity of x) flips.
fn add_order_two_point(r: &[u8]) -> [u8; 32] {
    let p = (U256::from(1u64) << 255) - U256::from(19u64);
    let mut yb = [0u8; 32];
    yb.copy_from_slice(&r[..32]);
    let sign = yb[31] >> 7;
    yb[31] &= 0x7f;
    let y: U256 = U256::from_le_bytes(yb);
    let neg: U256 = (p - y) % p;
    let mut out: [u8; 32] = neg.to_le_bytes();
    out[31] |= (sign ^ 1) << 7;
    out
}

/// The identity point's encoding (y = 1): of small order.
fn identity_point() -> [u8; 32] {
    let mut id = [0u8; 32];
    id[0] = 1;
    id
}

// ---------------------------------------------------------------------------------------
// Tampering helpers.

fn acct(v: &Value) -> Account {
    match v {
        Value::Account(a) => *a,
        Value::Storage(_) => panic!("an account value"),
    }
}

fn with_balance(v: Value, f: impl Fn(U256) -> U256) -> Value {
    let a = acct(&v);
    Value::Account(Account {
        balance: f(a.balance),
        ..a
    })
}

fn with_nonce(v: Value, f: impl Fn(u64) -> u64) -> Value {
    let a = acct(&v);
    Value::Account(Account {
        nonce: f(a.nonce),
        ..a
    })
}

/// The index of the move on `key`.
fn move_on(body: &TxBody, key: Key) -> usize {
    body.moves
        .iter()
        .position(|m| m.key() == key)
        .unwrap_or_else(|| panic!("no move on {key:?}"))
}

/// A move on `key` at its version in `view`, `next = prev` unless given.
fn declared(view: &MemoryView, key: Key, kind: MoveKind, mask: Mask, next: Option<Value>) -> Move {
    let (intx, prev) = view
        .version(&key)
        .expect("memory view")
        .unwrap_or((GENESIS_INTX, Value::zero(key.mark)));
    Move {
        mask,
        kind,
        mark: key.mark,
        intx,
        addr: key.addr,
        slot: key.slot,
        prev,
        next: next.unwrap_or(prev),
    }
}

/// A reference to the never-written account record of `addr`.
fn never_written_ref(addr: Address, mask: Mask) -> Move {
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

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn hex_u256(v: &U256) -> String {
    format!("{v:#x}")
}

/// A value as `GET /version` renders it.
fn value_json(v: &Value) -> Json {
    match v {
        Value::Account(a) => json!({
            "balance": hex_u256(&a.balance),
            "nonce": a.nonce,
            "code_hash": format!("{}", a.code_hash),
        }),
        Value::Storage(w) => json!(hex_u256(w)),
    }
}

fn verdict_text(v: Status) -> String {
    match v {
        Status::Accepted => "accepted".into(),
        Status::Failed => format!("failed ({})", Status::FAILED_CODE),
        Status::Rejected(r) => r.to_string(),
    }
}

/// The status a row expects: `None` accepted, `Some(reason)` rejected.
fn expect_status(want: Option<Reason>) -> Status {
    match want {
        None => Status::Accepted,
        Some(r) => Status::Rejected(r),
    }
}

// ---------------------------------------------------------------------------------------
// The two servers and the mirror of their chain.

struct Server {
    _guard: Guard,
    addr: String,
    name: &'static str,
}

impl Server {
    fn get(&self, path: &str) -> Resp {
        request(&self.addr, "GET", path, b"")
    }
    fn post(&self, bytes: &[u8]) -> Resp {
        request(&self.addr, "POST", "/batch", bytes)
    }
    /// `(height, state hash)` of `GET /head`.
    fn head(&self) -> (u64, String) {
        let r = self.get("/head");
        assert_eq!(r.status, 200, "{}: /head: {}", self.name, r.text());
        let j = r.json();
        (
            j["height"].as_u64().expect("height"),
            j["state_hash"].as_str().expect("state_hash").to_string(),
        )
    }
    /// `GET /version/{intx}/{mark}/{addr}/{slot}` as JSON (`{state, value}`).
    fn version(&self, intx: &TxId, key: &Key) -> Json {
        let mark = match key.mark {
            Mark::Account => "a",
            Mark::Storage => "s",
        };
        let r = self.get(&format!(
            "/version/{intx}/{mark}/{}/{:#x}",
            key.addr, key.slot
        ));
        assert_eq!(r.status, 200, "{}: version: {}", self.name, r.text());
        r.json()
    }
}

struct Net {
    _tmp: tempfile::TempDir,
    filter: Server,
    strict: Server,
    w: World,
    /// The chain as both servers hold it (accepted transactions applied in order).
    view: MemoryView,
    /// The genesis state.
    genesis: MemoryView,
    /// `(row id, verdict text)` of every row run.
    rows: Vec<(String, String)>,
    /// Verdicts that differ from the expected ones (the test fails at the end with all).
    mismatches: Vec<String>,
    /// Fresh addresses handed out so far.
    fresh: u32,
    /// When the servers were started.
    t0: Instant,
}

/// The account that collides with the creator's first creation (it has code).
fn creator_collider(creator: Address) -> Address {
    creator.create(0)
}

impl Net {
    fn start() -> Net {
        let t0 = Instant::now();
        let mut w = world(8);
        // Users 0..=6 trade; user 7 is the creator of E10 and signs nothing before it.
        w.view
            .deploy(contract(RECURSE), RECURSE_CODE.to_vec(), U256::ZERO, []);
        w.view
            .deploy(contract(LOOP), LOOP_CODE.to_vec(), U256::ZERO, []);
        w.view
            .deploy(contract(FACTORY), FACTORY_CODE.to_vec(), U256::ZERO, []);
        // Accounts with code (nonce 1) exactly where the factory's first CREATE and the
        // creator's first creation would deploy.
        w.view
            .deploy(contract(FACTORY).create(1), vec![0x00], U256::ZERO, []);
        w.view.deploy(
            creator_collider(w.users[7].address()),
            vec![0x00],
            U256::ZERO,
            [],
        );
        let genesis = Genesis {
            chain_id: CHAIN,
            rules: Default::default(),
            versions: w.view.versions().map(|(k, (_, v))| (*k, *v)).collect(),
            code: w.view.codes().map(|(h, c)| (*h, c.to_vec())).collect(),
        };
        let tmp = tempfile::tempdir().expect("tempdir");
        let gpath = tmp.path().join("genesis.json");
        std::fs::write(&gpath, genesis.to_json().to_string()).expect("write genesis");
        let mut servers = Vec::new();
        for (name, mode) in [("filter", "filter"), ("strict", "strict")] {
            let data = tmp.path().join(name);
            run_ok(&["init", "--data", p(&data), "--genesis", p(&gpath)]);
            let (guard, addr) = start_server(&data, &["--mode", mode]);
            servers.push(Server {
                _guard: guard,
                addr,
                name,
            });
        }
        let strict = servers.pop().expect("strict");
        let filter = servers.pop().expect("filter");
        let view = w.view.clone();
        let head0 = filter.head();
        assert_eq!(head0, strict.head(), "one genesis");
        assert_eq!(head0.0, 0);
        Net {
            _tmp: tmp,
            filter,
            strict,
            genesis: view.clone(),
            view,
            w,
            rows: Vec::new(),
            mismatches: Vec::new(),
            fresh: 0,
            t0,
        }
    }

    /// Ends the test of one group of rows (the ids starting with `group`): the document
    /// lists exactly the rows run, with these verdicts, and every verdict was as expected.
    fn finish(mut self, group: char) {
        let doc = catalogue();
        let ran: BTreeMap<&str, &str> = self
            .rows
            .iter()
            .map(|(i, v)| (i.as_str(), v.as_str()))
            .collect();
        assert_eq!(ran.len(), self.rows.len(), "row ids are unique");
        assert!(
            ran.keys().all(|id| id.starts_with(group)),
            "the {group} test runs only {group} rows: {ran:?}"
        );
        let listed: BTreeMap<&str, &str> = doc
            .iter()
            .filter(|(i, _)| i.starts_with(group))
            .map(|(i, v)| (i.as_str(), v.as_str()))
            .collect();
        for (id, v) in &ran {
            match listed.get(id) {
                None => self
                    .mismatches
                    .push(format!("{id} is tested but not in docs/ADVERSARIAL.md")),
                Some(d) if d != v => self.mismatches.push(format!(
                    "{id}: docs/ADVERSARIAL.md says [{d}], the test expects [{v}]"
                )),
                Some(_) => {}
            }
        }
        for id in listed.keys() {
            if !ran.contains_key(id) {
                self.mismatches
                    .push(format!("{id} is in docs/ADVERSARIAL.md but not tested"));
            }
        }

        eprintln!(
            "adversarial catalogue, group {group}: {} rows",
            self.rows.len()
        );
        for (id, v) in &self.rows {
            eprintln!("  {id:<4} {v}");
        }
        let end = self.filter.head();
        eprintln!(
            "final height {}, state hash {}; took {:?}",
            end.0,
            end.1,
            self.t0.elapsed()
        );
        assert!(
            self.mismatches.is_empty(),
            "{} mismatches:\n{}",
            self.mismatches.len(),
            self.mismatches.join("\n")
        );
    }

    fn key(&self, i: usize) -> Keypair {
        self.w.users[i].clone()
    }

    fn fresh(&mut self) -> Address {
        self.fresh += 1;
        fresh(self.fresh)
    }

    fn height(&self) -> u64 {
        self.filter.head().0
    }

    /// A signed plain transfer built on `view`.
    fn transfer_on(&self, view: &MemoryView, from: usize, to: Address, wei: u64) -> Transaction {
        TxBuilder::transfer(CHAIN, to, U256::from(wei))
            .build(view, &self.w.users[from], &[])
            .expect("build a transfer")
            .tx
    }

    fn transfer(&self, from: usize, to: Address, wei: u64) -> Transaction {
        self.transfer_on(&self.view, from, to, wei)
    }

    /// A signed ERC20 transfer of `amount` whole tokens of token A.
    fn token_transfer(&self, from: usize, to: Address, amount: u64) -> Transaction {
        TxBuilder::call(CHAIN, self.w.token_a, transfer_data(to, eth(amount)))
            .build(&self.view, &self.w.users[from], &[])
            .expect("build a token transfer")
            .tx
    }

    /// Applies valid transactions to both servers (one batch) and to the mirror.
    fn setup(&mut self, txs: Vec<Transaction>) {
        let bytes = encode(&Batch { txs: txs.clone() });
        for s in [&self.filter, &self.strict] {
            let r = s.post(&bytes);
            assert_eq!(r.status, 200, "{}: setup batch: {}", s.name, r.text());
            assert_eq!(
                r.json()["accepted"].as_u64(),
                Some(txs.len() as u64),
                "{}: setup batch: {}",
                s.name,
                r.text()
            );
        }
        for tx in &txs {
            self.view
                .apply(&tx.body)
                .expect("mirror a setup transaction");
        }
    }

    /// The versions a batch names: each move's `(intx, key)` and, for consumes, the
    /// version `(tx id, key)` it would create (at most 12 moves per transaction).
    fn watched(txs: &[Transaction]) -> Vec<(TxId, Key)> {
        let mut out = BTreeSet::new();
        for tx in txs {
            let id = tx_id(&tx.body);
            for m in tx.body.moves.iter().take(12) {
                out.insert((m.intx, m.key()));
                if m.kind == MoveKind::Consume {
                    out.insert((id, m.key()));
                }
            }
        }
        out.into_iter().collect()
    }

    /// Posts `txs` as one batch to both servers; `want` is the expected verdict of each
    /// transaction (`None`: accepted). Checks receipts, refusals and the state, and keeps
    /// both servers and the mirror level with what was actually accepted.
    fn row(&mut self, id: &str, txs: Vec<Transaction>, want: &[Option<Reason>]) -> Vec<bool> {
        let want: Vec<Status> = want.iter().map(|w| expect_status(*w)).collect();
        self.row_status(id, txs, &want)
    }

    /// [`Net::row`] with each transaction's expected status (accepted, failed or rejected).
    fn row_status(&mut self, id: &str, txs: Vec<Transaction>, want: &[Status]) -> Vec<bool> {
        assert_eq!(txs.len(), want.len(), "{id}: one verdict per transaction");
        let (f0, s0) = (self.filter.head(), self.strict.head());
        assert_eq!(f0.1, s0.1, "{id}: the two servers agree before the row");
        assert_eq!(f0.0, s0.0, "{id}: same height before the row");
        let ids: Vec<TxId> = txs.iter().map(|t| tx_id(&t.body)).collect();
        let watched = Net::watched(&txs);
        let before: Vec<Json> = watched
            .iter()
            .map(|(i, k)| self.filter.version(i, k))
            .collect();
        let bytes = encode(&Batch { txs: txs.clone() });

        // Filter mode: one receipt per transaction, in batch order.
        let r = self.filter.post(&bytes);
        assert_eq!(r.status, 200, "{id}: filter answer: {}", r.text());
        let j = r.json();
        let receipts = j["receipts"].as_array().expect("receipts").clone();
        assert_eq!(receipts.len(), txs.len(), "{id}: one receipt each");
        let mut got = Vec::new();
        for (i, rc) in receipts.iter().enumerate() {
            assert_eq!(rc["tx_id"], format!("{}", ids[i]), "{id}: receipt order");
            let code = rc["code"].as_u64().expect("code") as u16;
            let status = rc["status"].as_str().expect("status");
            let v = Status::try_from(code).expect("a known status code");
            assert_eq!(status, v.name(), "{id}: name and number agree");
            match v {
                Status::Rejected(_) => {
                    assert_eq!(rc["gas_used"], 0, "{id}: a rejection uses no gas")
                }
                Status::Failed => {
                    assert!(
                        rc["gas_used"].as_u64() > Some(0),
                        "{id}: a failed call uses gas"
                    );
                    assert_eq!(rc["logs"], json!([]), "{id}: a failed call keeps no log");
                }
                Status::Accepted => {}
            }
            got.push(v);
        }
        let accepted: Vec<bool> = got.iter().map(Status::is_included).collect();
        let any = accepted.iter().any(|a| *a);
        let expected_text: Vec<String> = want.iter().map(|w| verdict_text(*w)).collect();
        let got_text: Vec<String> = got.iter().map(|g| verdict_text(*g)).collect();
        if got_text != expected_text {
            self.mismatches.push(format!(
                "{id}: expected [{}], the validator answered [{}]",
                expected_text.join(", "),
                got_text.join(", ")
            ));
        }
        self.rows.push((id.to_string(), expected_text.join(", ")));

        let f1 = self.filter.head();
        if any {
            assert_eq!(j["height"].as_u64(), Some(f0.0 + 1), "{id}: a new height");
            assert_eq!(f1.0, f0.0 + 1, "{id}");
            assert_ne!(f1.1, f0.1, "{id}: the state changed");
            assert_eq!(j["state_hash"].as_str(), Some(&f1.1[..]), "{id}");
        } else {
            assert!(j["height"].is_null(), "{id}: nothing written");
            assert_eq!(f1, f0, "{id}: a rejection changes neither height nor state");
        }

        // Versions: only what accepted transactions spent or created changed.
        let mut spent = BTreeSet::new();
        let mut created = BTreeMap::new();
        for (k, tx) in txs.iter().enumerate() {
            if !accepted[k] {
                continue;
            }
            for m in &tx.body.moves {
                if m.kind == MoveKind::Consume {
                    spent.insert((m.intx, m.key()));
                    created.insert((ids[k], m.key()), m.next);
                }
            }
        }
        for ((intx, key), was) in watched.iter().zip(&before) {
            let now = self.filter.version(intx, key);
            let v = (*intx, *key);
            if spent.contains(&v) {
                assert_eq!(now["state"], "not_live", "{id}: {v:?} was spent");
            } else if let Some(next) = created.get(&v) {
                assert_eq!(
                    now,
                    json!({"state": "live", "value": value_json(next)}),
                    "{id}: {v:?} was created"
                );
            } else {
                assert_eq!(&now, was, "{id}: {v:?} must be unchanged");
            }
        }

        // Strict mode: the first rejected transaction refuses the whole batch.
        let r = self.strict.post(&bytes);
        match got.iter().position(|g| !g.is_included()) {
            None => {
                assert_eq!(r.status, 200, "{id}: strict answer: {}", r.text());
                assert_eq!(self.strict.head(), f1, "{id}: strict applies the same");
            }
            Some(first) => {
                assert_eq!(r.status, 422, "{id}: strict answer: {}", r.text());
                let j = r.json();
                let Status::Rejected(reason) = got[first] else {
                    unreachable!("the first transaction not included")
                };
                assert_eq!(j["reason"], reason.name(), "{id}: strict reason");
                assert_eq!(j["code"], reason.code(), "{id}: strict code");
                assert_eq!(
                    j["index"].as_u64(),
                    Some(first as u64),
                    "{id}: strict index"
                );
                assert_eq!(j["tx_id"], format!("{}", ids[first]), "{id}");
                assert_eq!(
                    self.strict.head(),
                    s0,
                    "{id}: strict refusal changes nothing"
                );
                if any {
                    let part: Vec<Transaction> = txs
                        .iter()
                        .zip(&accepted)
                        .filter(|(_, a)| **a)
                        .map(|(t, _)| t.clone())
                        .collect();
                    let r = self.strict.post(&encode(&Batch { txs: part }));
                    assert_eq!(r.status, 200, "{id}: strict, accepted part: {}", r.text());
                }
            }
        }
        assert_eq!(
            self.strict.head(),
            f1,
            "{id}: filter and strict hold the same state"
        );
        for (k, tx) in txs.iter().enumerate() {
            if accepted[k] {
                self.view
                    .apply(&tx.body)
                    .expect("mirror an accepted transaction");
            }
        }
        accepted
    }

    /// One transaction alone.
    fn one(&mut self, id: &str, tx: Transaction, want: Option<Reason>) -> bool {
        self.row(id, vec![tx], &[want])[0]
    }

    /// One transaction alone that must be included as failed (its execution reverts or
    /// halts; only its sender's nonce bump applies).
    fn one_failed(&mut self, id: &str, tx: Transaction) {
        self.row_status(id, vec![tx], &[Status::Failed]);
    }

    /// A batch that both servers must refuse whole with HTTP `status` and `reason`.
    fn refused(
        &mut self,
        id: &str,
        send: impl Fn(&Server) -> Resp,
        status: u16,
        reason: Option<Reason>,
    ) {
        let (f0, s0) = (self.filter.head(), self.strict.head());
        let expected = match reason {
            Some(r) => format!("batch refused: {r}, HTTP {status}"),
            None => format!("batch refused: empty_batch, HTTP {status}"),
        };
        let mut got = Vec::new();
        for s in [&self.filter, &self.strict] {
            let r = send(s);
            let j = r.json();
            assert!(
                j["error"].is_string(),
                "{id}: an error message: {}",
                r.text()
            );
            let text = match (j["reason"].as_str(), j["code"].as_u64()) {
                (Some(name), Some(code)) => {
                    let reason = Reason::from_code(code as u16).expect("known code");
                    assert_eq!(name, reason.name(), "{id}");
                    format!("batch refused: {reason}, HTTP {}", r.status)
                }
                (Some(name), None) => format!("batch refused: {name}, HTTP {}", r.status),
                _ => format!("HTTP {}: {}", r.status, r.text()),
            };
            got.push(format!("{}: {text}", s.name));
            if text != expected {
                self.mismatches.push(format!(
                    "{id} ({}): expected {expected}, got {text}",
                    s.name
                ));
            }
        }
        assert_eq!(self.filter.head(), f0, "{id}: nothing applied");
        assert_eq!(self.strict.head(), s0, "{id}: nothing applied");
        self.rows.push((id.to_string(), expected));
    }
}

/// Re-signs `body` with `keys` (first the sender).
fn resign(body: TxBody, keys: &[&Keypair]) -> Transaction {
    sign(body, keys)
}

/// The table rows of `docs/ADVERSARIAL.md`: `(id, verdicts)` from the first and third
/// columns of every row whose first cell is an id like `G3`.
fn catalogue() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ADVERSARIAL.md");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix('|') else {
            continue;
        };
        let cells: Vec<&str> = rest.split('|').map(str::trim).collect();
        let Some(first) = cells.first() else { continue };
        let is_id = first.len() >= 2
            && first.starts_with(|c: char| c.is_ascii_uppercase())
            && first[1..].chars().all(|c| c.is_ascii_digit());
        if !is_id || cells.len() < 3 {
            continue;
        }
        out.push((first.to_string(), cells[2].replace('`', "")));
    }
    out
}

/// The groups of rows, one test each (`decoding`, `structure`, `signatures`,
/// `coordinator`, `execution`, `application`; the hardening rows, H, are each a test of
/// their own, which [`hardening_rows_name_tests_that_exist`] finds).
const GROUPS: &str = "DSGCEAH";

/// `docs/ADVERSARIAL.md` lists each id once, and only ids of the groups tested (each group's
/// test checks the document's rows of its group against the rows it ran).
#[test]
fn catalogue_lists_each_id_once_in_a_tested_group() {
    let doc = catalogue();
    assert!(!doc.is_empty(), "docs/ADVERSARIAL.md has rows");
    let listed: BTreeSet<&str> = doc.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(
        listed.len(),
        doc.len(),
        "docs/ADVERSARIAL.md lists each id once"
    );
    let stray: Vec<&str> = listed
        .iter()
        .copied()
        .filter(|id| !id.starts_with(|c| GROUPS.contains(c)))
        .collect();
    assert!(
        stray.is_empty(),
        "docs/ADVERSARIAL.md lists ids of no tested group: {stray:?}"
    );
}

/// Every row of group H names, in its fourth column, the test that exercises it (as
/// `path::to::test_fn`); that function exists in some test source of the workspace.
#[test]
fn hardening_rows_name_tests_that_exist() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let doc = std::fs::read_to_string(format!("{root}/docs/ADVERSARIAL.md")).unwrap_or_default();
    let mut sources = String::new();
    let mut dirs = vec![std::path::PathBuf::from(root)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "node_modules" {
                    dirs.push(path);
                }
            } else if name.ends_with(".rs") {
                sources.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Some(id) = cells.get(1) else { continue };
        if !(id.len() >= 2 && id.starts_with('H') && id[1..].chars().all(|c| c.is_ascii_digit())) {
            continue;
        }
        let test = cells.get(4).copied().unwrap_or_default().replace('`', "");
        let name = test.rsplit("::").next().unwrap_or_default().trim();
        assert!(!name.is_empty(), "row {id} names no test");
        assert!(
            sources.contains(&format!("fn {name}(")),
            "row {id} names the test {test}, which no source defines"
        );
    }
}
