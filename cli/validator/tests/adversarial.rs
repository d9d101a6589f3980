//! The adversarial catalogue (`docs/ADVERSARIAL.md`) against running validators.
//!
//! Two real `mf-validator serve` processes on loopback, initialised from the same genesis:
//! one in filter mode, one in strict mode. Every row of the catalogue posts its batch to
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
//! mirrors the chain, then tampered with. Rows are identified by the ids of the catalogue;
//! at the end the test checks that the document lists exactly these rows with exactly
//! these verdicts, so the catalogue and the test cannot drift apart.

mod common;
#[path = "../../../movegen/tests/util/mod.rs"]
mod fixtures;

use common::{Guard, p, run_ok, start_server};
use fixtures::{CHAIN, World, eth, transfer_data, world};
use mf_format::limits::{
    MAX_AUTHS, MAX_BATCH_BYTES, MAX_CODE_BYTES, MAX_CREATED_CODES, MAX_GAS_LIMIT, MAX_INPUT_BYTES,
    MAX_MOVES_PER_TX, MAX_TXS_PER_BATCH,
};
use mf_format::{
    Account, Address, Authorization, B256, Batch, Call, ExecContext, GENESIS_INTX, Key, Keypair,
    Mark, Mask, Move, MoveKind, Reason, SignatureBytes, Transaction, TxBody, TxId, U256, Value,
    encode, sign, tx_id,
};
use mf_movegen::{MemoryView, SignPolicy, StateView, TxBuilder};
use mf_validator::genesis::Genesis;
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client (one request per connection), as in tests/server.rs.

struct Resp {
    status: u16,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    s.set_write_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    s
}

fn read_response(s: TcpStream) -> Resp {
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut length = None;
    let mut chunked = false;
    loop {
        let mut l = String::new();
        r.read_line(&mut l).expect("header line");
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').expect("header");
        if k.eq_ignore_ascii_case("content-length") {
            length = Some(v.trim().parse::<usize>().expect("content-length"));
        }
        if k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked") {
            chunked = true;
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).expect("chunk size");
            let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
            let mut buf = vec![0u8; n + 2];
            r.read_exact(&mut buf).expect("chunk");
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        r.read_exact(&mut body).expect("body");
    } else {
        r.read_to_end(&mut body).expect("body");
    }
    Resp { status, body }
}

fn request(addr: &str, method: &str, path: &str, body: &[u8]) -> Resp {
    let mut s = connect(addr);
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write head");
    s.write_all(body).expect("write body");
    read_response(s)
}

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

fn verdict_text(v: Option<Reason>) -> String {
    match v {
        None => "accepted".into(),
        Some(r) => r.to_string(),
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
}

/// The account that collides with the creator's first creation (it has code).
fn creator_collider(creator: Address) -> Address {
    creator.create(0)
}

impl Net {
    fn start() -> Net {
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
        }
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
            let v = if code == 0 {
                assert_eq!(status, "accepted", "{id}");
                None
            } else {
                let reason = Reason::from_code(code).expect("a known reason code");
                assert_eq!(status, reason.name(), "{id}: name and number agree");
                assert_eq!(rc["gas_used"], 0, "{id}: a rejection uses no gas");
                Some(reason)
            };
            got.push(v);
        }
        let accepted: Vec<bool> = got.iter().map(Option::is_none).collect();
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
        match got.iter().position(Option::is_some) {
            None => {
                assert_eq!(r.status, 200, "{id}: strict answer: {}", r.text());
                assert_eq!(self.strict.head(), f1, "{id}: strict applies the same");
            }
            Some(first) => {
                assert_eq!(r.status, 422, "{id}: strict answer: {}", r.text());
                let j = r.json();
                let reason = got[first].expect("rejected");
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

#[test]
fn adversarial_catalogue_against_running_validators() {
    let t0 = Instant::now();
    let mut n = Net::start();
    let head0 = n.filter.head();
    assert_eq!(head0, n.strict.head(), "one genesis");
    assert_eq!(head0.0, 0);

    // ---- D: decoding and size limits (refused whole, in both modes) --------------------
    let good = n.transfer(0, fresh(1000), 5);
    n.refused(
        "D1",
        |s| s.post(b"\x02\x00\x00\x00\x00\x00\x00\x00garbage"),
        400,
        Some(Reason::Malformed),
    );
    let enc = encode(&Batch {
        txs: vec![good.clone()],
    });
    let truncated = enc[..enc.len() - 1].to_vec();
    n.refused("D2", |s| s.post(&truncated), 400, Some(Reason::Malformed));
    let mut trailing = enc.clone();
    trailing.push(0);
    n.refused("D3", |s| s.post(&trailing), 400, Some(Reason::Malformed));
    n.refused(
        "D4",
        |s| announce_only(&s.addr, MAX_BATCH_BYTES as u64 + 1),
        413,
        Some(Reason::LimitExceeded),
    );
    let count = (MAX_TXS_PER_BATCH as u64 + 1).to_le_bytes();
    n.refused("D5", |s| s.post(&count), 400, Some(Reason::LimitExceeded));
    // Too many moves, behind a valid transaction: filter mode does not salvage it.
    let mut body = good.body.clone();
    for i in 0..(MAX_MOVES_PER_TX + 1 - body.moves.len()) {
        body.moves
            .push(never_written_ref(fresh(10_000 + i as u32), Mask::ALL));
    }
    assert_eq!(body.moves.len(), MAX_MOVES_PER_TX + 1);
    let big = resign(body, &[&n.key(0)]);
    let b = encode(&Batch {
        txs: vec![good.clone(), big],
    });
    n.refused("D6", |s| s.post(&b), 400, Some(Reason::LimitExceeded));
    let mut body = good.body.clone();
    body.call.input = vec![0; MAX_INPUT_BYTES + 1];
    let b = encode(&Batch {
        txs: vec![resign(body, &[&n.key(0)])],
    });
    n.refused("D7", |s| s.post(&b), 400, Some(Reason::LimitExceeded));
    let cosigners: Vec<Keypair> = (0..MAX_AUTHS)
        .map(|i| Keypair::from_label(&format!("adversarial cosigner {i}")))
        .collect();
    let sender = n.key(0);
    let mut keys: Vec<&Keypair> = vec![&sender];
    keys.extend(cosigners.iter());
    assert_eq!(keys.len(), MAX_AUTHS + 1);
    let b = encode(&Batch {
        txs: vec![resign(good.body.clone(), &keys)],
    });
    n.refused("D8", |s| s.post(&b), 400, Some(Reason::LimitExceeded));
    let mut body = good.body.clone();
    body.created_code = vec![vec![0x00]; MAX_CREATED_CODES + 1];
    let b = encode(&Batch {
        txs: vec![resign(body, &[&n.key(0)])],
    });
    n.refused("D9", |s| s.post(&b), 400, Some(Reason::LimitExceeded));
    let mut body = good.body.clone();
    body.created_code = vec![vec![0x00; MAX_CODE_BYTES + 1]];
    let b = encode(&Batch {
        txs: vec![resign(body, &[&n.key(0)])],
    });
    n.refused("D10", |s| s.post(&b), 400, Some(Reason::LimitExceeded));
    let empty = encode(&Batch::default());
    n.refused("D11", |s| s.post(&empty), 400, None);
    // Exactly at the limits: 1024 moves (1022 references to never-written accounts, which
    // execution never reads) and 16 signers. Decodes, and is valid.
    let mut body = n.transfer(0, fresh(1001), 5).body;
    for i in 0..(MAX_MOVES_PER_TX - body.moves.len()) {
        body.moves
            .push(never_written_ref(fresh(20_000 + i as u32), Mask::ALL));
    }
    assert_eq!(body.moves.len(), MAX_MOVES_PER_TX);
    let keys16: Vec<&Keypair> = keys[..MAX_AUTHS].to_vec();
    n.one("D12", resign(body, &keys16), None);

    // ---- S: structure (re-signed, so only the structural fault counts) -----------------
    let u1 = n.key(1);
    let to = n.fresh();
    let base = n.transfer(1, to, 7);
    let rkey = Key::account(to);
    let skey = Key::account(u1.address());
    let ri = move_on(&base.body, rkey);
    let si = move_on(&base.body, skey);
    let tamper = |f: &dyn Fn(&mut TxBody)| {
        let mut b = base.body.clone();
        f(&mut b);
        resign(b, &[&u1])
    };
    n.one(
        "S1",
        tamper(&|b| b.chain_id = CHAIN + 1),
        Some(Reason::WrongChainId),
    );
    n.one(
        "S2",
        tamper(&|b| b.call.gas_limit = MAX_GAS_LIMIT + 1),
        Some(Reason::GasLimitTooHigh),
    );
    n.one(
        "S3",
        tamper(&|b| b.moves[ri].mask = Mask(8 | 7)),
        Some(Reason::InvalidMask),
    );
    n.one(
        "S4",
        tamper(&|b| b.moves[ri].prev = Value::Storage(U256::ZERO)),
        Some(Reason::ValueTypeMismatch),
    );
    n.one(
        "S5",
        tamper(&|b| b.moves[ri].slot = U256::from(1u64)),
        Some(Reason::NonZeroAccountSlot),
    );
    n.one(
        "S6",
        tamper(&|b| b.moves[ri].kind = MoveKind::Reference),
        Some(Reason::ReferenceChangesValue),
    );
    n.one(
        "S7",
        tamper(&|b| {
            let m = b.moves[ri];
            b.moves.push(m)
        }),
        Some(Reason::DuplicateKey),
    );
    n.one(
        "S8",
        tamper(&|b| {
            for m in &mut b.moves {
                m.kind = MoveKind::Reference;
                m.next = m.prev;
            }
        }),
        Some(Reason::NoConsumeMove),
    );
    n.one(
        "S9",
        tamper(&|b| {
            b.moves.remove(si);
        }),
        Some(Reason::SenderNotConsumed),
    );
    n.one(
        "S10",
        tamper(&|b| {
            b.open = true;
            b.moves[si].mask = Mask::NONE;
        }),
        Some(Reason::SenderMoveUnsigned),
    );
    n.one(
        "S11",
        tamper(&|b| b.created_code = vec![vec![]]),
        Some(Reason::InvalidCreatedCode),
    );

    // ---- G: signatures -----------------------------------------------------------------
    let u2 = n.key(2);
    let base = n.transfer(1, fresh(1100), 9);
    fn with_auths(tx: &Transaction, f: impl Fn(&mut Vec<Authorization>)) -> Transaction {
        let mut t = tx.clone();
        f(&mut t.auths);
        t
    }
    n.one(
        "G1",
        with_auths(&base, |a| a[0].signature.0[10] ^= 1),
        Some(Reason::BadSignature),
    );
    n.one(
        "G2",
        with_auths(&base, |a| {
            let s = add_le(&a[0].signature.0[32..], &L);
            a[0].signature.0[32..].copy_from_slice(&s);
        }),
        Some(Reason::BadSignature),
    );
    n.one(
        "G3",
        with_auths(&base, |a| {
            let r = add_order_two_point(&a[0].signature.0[..32]);
            a[0].signature.0[..32].copy_from_slice(&r);
        }),
        Some(Reason::BadSignature),
    );
    n.one(
        "G4",
        with_auths(&base, |a| {
            a[0].signature.0[..32].copy_from_slice(&identity_point())
        }),
        Some(Reason::BadSignature),
    );
    n.one(
        "G5",
        resign(base.body.clone(), &[&u2]),
        Some(Reason::SenderNotFirstSigner),
    );
    n.one(
        "G6",
        with_auths(&base, |a| a.clear()),
        Some(Reason::NoAuthorization),
    );
    n.one(
        "G7",
        with_auths(&base, |a| {
            a.push(Authorization {
                public_key: identity_point(),
                signature: SignatureBytes([0; 64]),
            })
        }),
        Some(Reason::InvalidPublicKey),
    );
    n.one(
        "G8",
        with_auths(&base, |a| {
            let first = a[0];
            a.push(first)
        }),
        Some(Reason::DuplicateSigner),
    );
    let other = n.transfer(1, fresh(1002), 10);
    n.one(
        "G9",
        with_auths(&base, |a| a[0].signature = other.auths[0].signature),
        Some(Reason::BadSignature),
    );

    // ---- C: a coordinator (filler) misbehaving -----------------------------------------
    // An open payment: the recipient's record is left to the filler (mask 0).
    let to = n.fresh();
    let open = TxBuilder::transfer(CHAIN, to, U256::from(11u64))
        .sign_policy(
            SignPolicy::all()
                .open(true)
                .with_mask(Key::account(to), Mask::NONE),
        )
        .build(&n.view, &u2, &[])
        .expect("build an open transfer")
        .tx;
    let ri = move_on(&open.body, Key::account(to));
    let si = move_on(&open.body, Key::account(u2.address()));
    assert_eq!(open.body.moves[ri].mask, Mask::NONE);
    let alter = |tx: &Transaction, f: &dyn Fn(&mut TxBody)| {
        let mut t = tx.clone();
        f(&mut t.body);
        t
    };
    n.one(
        "C1",
        alter(&open, &|b| b.call.value += U256::from(1u64)),
        Some(Reason::BadSignature),
    );
    n.one(
        "C2",
        alter(&open, &|b| {
            b.moves[si].next = with_balance(b.moves[si].next, |x| x - U256::from(1u64))
        }),
        Some(Reason::BadSignature),
    );
    n.one(
        "C3",
        alter(&open, &|b| {
            b.moves[ri].next = with_balance(b.moves[ri].next, |x| x + U256::from(1u64))
        }),
        Some(Reason::WriteMismatch),
    );
    // A closed payment (everything signed, open = false).
    let to = n.fresh();
    let closed = n.transfer(2, to, 12);
    let extra = n.fresh();
    n.one(
        "C4",
        alter(&closed, &|b| {
            b.moves.push(never_written_ref(extra, Mask::NONE))
        }),
        Some(Reason::UnsignedMoveInClosedTx),
    );
    n.one(
        "C5",
        alter(&closed, &|b| {
            b.moves.push(never_written_ref(extra, Mask::ALL))
        }),
        Some(Reason::BadSignature),
    );
    let ri = move_on(&closed.body, Key::account(to));
    n.one(
        "C6",
        alter(&closed, &|b| {
            b.moves.remove(ri);
        }),
        Some(Reason::BadSignature),
    );
    n.one(
        "C7",
        alter(&closed, &|b| b.moves.reverse()),
        Some(Reason::BadSignature),
    );
    // The filler adds an unsigned consume of someone else's record (user 6) that the call
    // never touches, with next = prev: refused by the structural rule that a consume must
    // change its value (PROTOCOL.md §6.1 3f), and the victim's version stays where it was.
    let victim = n.key(6);
    let victim_key = Key::account(victim.address());
    let grief = alter(&open, &|b| {
        b.moves.push(declared(
            &n.view,
            victim_key,
            MoveKind::Consume,
            Mask::NONE,
            None,
        ))
    });
    let victim_before = n.view.version(&victim_key).expect("view").expect("funded");
    assert!(
        !n.one("C8", grief, Some(Reason::ConsumeUnchanged)),
        "C8 refused"
    );
    assert_eq!(
        n.view.version(&victim_key).expect("view").expect("funded"),
        victim_before,
        "the victim's record is untouched"
    );

    // ---- E: re-execution ---------------------------------------------------------------
    let u3 = n.key(3);
    // E1: an endless loop with the full 30M gas.
    let me = Key::account(u3.address());
    let (_, prev) = n.view.version(&me).expect("view").expect("funded");
    let next = Value::Account(Account {
        nonce: acct(&prev).nonce + 1,
        ..acct(&prev)
    });
    let body = TxBody {
        chain_id: CHAIN,
        call: Call {
            from: u3.address(),
            to: Some(contract(LOOP)),
            value: U256::ZERO,
            input: vec![],
            gas_limit: MAX_GAS_LIMIT,
        },
        context: ExecContext::default(),
        open: false,
        moves: vec![
            declared(&n.view, me, MoveKind::Consume, Mask::ALL, Some(next)),
            declared(
                &n.view,
                Key::account(contract(LOOP)),
                MoveKind::Reference,
                Mask::ALL,
                None,
            ),
        ],
        created_code: vec![],
    };
    let spin = resign(body, &[&u3]);
    let t = Instant::now();
    let r = n.filter.post(&encode(&Batch {
        txs: vec![spin.clone()],
    }));
    assert_eq!(r.status, 200, "{}", r.text());
    eprintln!(
        "E1: one 30M-gas endless loop costs the filter validator {:?} per post",
        t.elapsed()
    );
    n.one("E1", spin, Some(Reason::ExecutionFailed));
    // E2: a token transfer that runs out of gas half-way.
    let tt = n.token_transfer(3, fresh(1003), 1);
    let mut b = tt.body.clone();
    b.call.gas_limit = 30_000;
    n.one("E2", resign(b, &[&u3]), Some(Reason::ExecutionFailed));
    // E3: a plain transfer below its intrinsic gas.
    let mut b = n.transfer(3, fresh(1004), 1).body;
    b.call.gas_limit = 20_999;
    n.one("E3", resign(b, &[&u3]), Some(Reason::ExecutionFailed));
    // E4: the token reverts (more than the balance).
    let mut b = tt.body.clone();
    b.call.input = transfer_data(fresh(1003), eth(2_000_000));
    n.one("E4", resign(b, &[&u3]), Some(Reason::ExecutionFailed));
    // E5: the declared reference to the token contract's record left out.
    let mut b = tt.body.clone();
    b.moves.remove(move_on(&b, Key::account(n.w.token_a)));
    n.one("E5", resign(b, &[&u3]), Some(Reason::UndeclaredRead));
    // E6: a declared next that execution does not produce.
    let to = n.fresh();
    let t = n.transfer(3, to, 13);
    let ri = move_on(&t.body, Key::account(to));
    let mut b = t.body.clone();
    b.moves[ri].next = with_balance(b.moves[ri].next, |x| x + U256::from(1u64));
    n.one("E6", resign(b, &[&u3]), Some(Reason::WriteMismatch));
    // E7: the recipient declared as a reference (it is written).
    let mut b = t.body.clone();
    b.moves[ri].kind = MoveKind::Reference;
    b.moves[ri].next = b.moves[ri].prev;
    n.one("E7", resign(b, &[&u3]), Some(Reason::ReferenceWritten));
    // E8: the token's record declares a code hash no one has code for.
    let mut b = tt.body.clone();
    let ti = move_on(&b, Key::account(n.w.token_a));
    let mut a = acct(&b.moves[ti].prev);
    a.code_hash = B256::repeat_byte(0xab);
    b.moves[ti].prev = Value::Account(a);
    b.moves[ti].next = Value::Account(a);
    n.one("E8", resign(b, &[&u3]), Some(Reason::CodeHashMismatch));
    // E9: a creation whose created_code entry is swapped for other code (created_code is
    // not signed: a filler could try this without the key).
    let created = TxBuilder::create(CHAIN, INIT_STOP.to_vec())
        .build(&n.view, &u3, &[])
        .expect("build a creation")
        .tx;
    assert_eq!(created.body.created_code, vec![vec![0x00]]);
    let mut t = created.clone();
    t.body.created_code = vec![vec![0x01]];
    n.one("E9", t, Some(Reason::CodeHashMismatch));
    // E10: a creation onto an address that already has code and a nonce (EIP-684).
    let creator = n.key(7);
    let collider = creator_collider(creator.address());
    let mut without = n.view.clone();
    without.set_account(collider, Account::EMPTY);
    let made = TxBuilder::create(CHAIN, vec![])
        .build(&without, &creator, &[])
        .expect("a creation where nothing collides");
    assert_eq!(
        made.execution.created,
        Some(collider),
        "the creator's first address"
    );
    let mut b = made.tx.body.clone();
    let ci = move_on(&b, Key::account(collider));
    b.moves[ci] = declared(
        &n.view,
        Key::account(collider),
        MoveKind::Reference,
        Mask::ALL,
        None,
    );
    b.created_code.clear();
    n.one("E10", resign(b, &[&creator]), Some(Reason::ExecutionFailed));
    // E11: a CREATE opcode onto an address that already has code: the inner creation
    // fails (CREATE pushes 0), the call goes on and succeeds.
    let fac = contract(FACTORY);
    let collider2 = fac.create(1);
    let built = TxBuilder::call(CHAIN, fac, vec![])
        .build(&n.view, &u3, &[])
        .expect("build the factory call");
    let id = built.id;
    let fm = &built.tx.body.moves[move_on(&built.tx.body, Key::account(fac))];
    let fac_next_nonce = acct(&fm.next).nonce;
    let cm = built.tx.body.moves[move_on(&built.tx.body, Key::account(collider2))];
    assert_eq!(cm.kind, MoveKind::Reference, "the collider is only read");
    assert!(n.one("E11", built.tx.clone(), None), "E11 accepted");
    let slot0 = n.filter.version(&id, &Key::storage(fac, U256::ZERO));
    assert_eq!(slot0["value"], "0x1", "CREATE returned 0 (failed)");
    let c = n.filter.version(&GENESIS_INTX, &Key::account(collider2));
    assert_eq!(c["state"], "live", "the collider is untouched");
    assert_eq!(c["value"], value_json(&cm.prev));
    eprintln!("E11: the factory's nonce goes 1 -> {fac_next_nonce} on a colliding CREATE");
    assert_eq!(fac_next_nonce, 2, "EIP-684: the creator's nonce is bumped");
    // E12: deep recursion. EIP-150 leaves each callee 63/64 of the gas, so 30M gas runs
    // out long before the 1024-frame limit: the innermost calls fail for lack of gas, CALL
    // returns 0 to their callers, and the outer frames complete.
    let rec = contract(RECURSE);
    let depth_with = |gas: u64| {
        let built = TxBuilder::call(CHAIN, rec, vec![])
            .gas_limit(gas)
            .build(&n.view, &u3, &[])
            .expect("build the recursive call");
        let sm = built.tx.body.moves[move_on(&built.tx.body, Key::storage(rec, U256::ZERO))];
        let depth = match sm.next {
            Value::Storage(w) => w.to::<u64>(),
            Value::Account(_) => panic!("a storage move"),
        };
        (built, depth)
    };
    let (_, depth_1m) = depth_with(1_000_000);
    let (built, depth) = depth_with(MAX_GAS_LIMIT);
    eprintln!(
        "E12: the first failing frame is at depth {depth} with 30M gas ({depth_1m} with 1M), \
         gas used {}",
        built.execution.gas_used
    );
    assert!(
        depth_1m < depth && depth < 1024,
        "depth {depth_1m} (1M gas), {depth} (30M gas): gas, not the 1024-frame limit, ends \
         the recursion"
    );
    let id = built.id;
    assert!(n.one("E12", built.tx, None), "E12 accepted");
    assert_eq!(
        n.filter.version(&id, &Key::storage(rec, U256::ZERO))["value"],
        hex_u256(&U256::from(depth))
    );
    // E13, E14: the context window.
    let h = n.height() + 1;
    let t = TxBuilder::transfer(CHAIN, fresh(1005), U256::from(1u64))
        .context(ExecContext {
            block_number: h + 1,
            timestamp: 0,
        })
        .build(&n.view, &u3, &[])
        .expect("build")
        .tx;
    n.one("E13", t, Some(Reason::ContextOutOfWindow));
    let t = TxBuilder::transfer(CHAIN, fresh(1005), U256::from(1u64))
        .context(ExecContext {
            block_number: h,
            timestamp: now_s() + 3600,
        })
        .build(&n.view, &u3, &[])
        .expect("build")
        .tx;
    n.one("E14", t, Some(Reason::ContextOutOfWindow));

    // ---- A: application to the UTXO set -----------------------------------------------
    let u4 = n.key(4);
    // A1: a version that was never created.
    let to = n.fresh();
    let t = n.transfer(3, to, 1);
    let mut b = t.body.clone();
    let ri = move_on(&b, Key::account(to));
    b.moves[ri].intx = TxId::repeat_byte(0x5a);
    n.one("A1", resign(b, &[&u3]), Some(Reason::VersionNotLive));
    // A2: a stale read: the version was created by t1, then spent by t2.
    let t1 = n.transfer(3, fresh(1006), 1);
    n.setup(vec![t1]);
    let after_t1 = n.view.clone();
    let t2 = n.transfer(3, fresh(1007), 1);
    n.setup(vec![t2]);
    let stale = n.transfer_on(&after_t1, 3, fresh(1008), 1);
    n.one("A2", stale, Some(Reason::VersionNotLive));
    // A3: re-spending a genesis version (user 3's was spent by its first transfer).
    let again = n.transfer_on(&n.genesis, 3, fresh(1009), 1);
    assert_eq!(
        again
            .body
            .moves
            .iter()
            .filter(|m| m.intx == GENESIS_INTX)
            .count(),
        2
    );
    n.one("A3", again, Some(Reason::VersionNotLive));
    // A4: the live version, declared with another value (consistent for execution).
    let t = n.transfer(3, fresh(1010), 1);
    let mut b = t.body.clone();
    let si = move_on(&b, Key::account(u3.address()));
    b.moves[si].prev = with_balance(b.moves[si].prev, |x| x + U256::from(1000u64));
    b.moves[si].next = with_balance(b.moves[si].next, |x| x + U256::from(1000u64));
    n.one("A4", resign(b, &[&u3]), Some(Reason::PrevMismatch));
    // A5: double spend inside a batch.
    let before_a5 = n.view.clone();
    let a = n.transfer(4, fresh(1011), 1);
    let b2 = n.transfer(4, fresh(1012), 2);
    n.row(
        "A5",
        vec![a.clone(), b2],
        &[None, Some(Reason::DoubleUseInBatch)],
    );
    // A6: double spend across batches: another transaction on the version `a` spent.
    let c = n.transfer_on(&before_a5, 4, fresh(1013), 3);
    n.one("A6", c, Some(Reason::VersionNotLive));
    // A7: replay of an accepted transaction.
    n.one("A7", a, Some(Reason::VersionNotLive));
    // A8: the same transaction twice in one batch.
    let d = n.transfer(4, fresh(1014), 4);
    n.row(
        "A8",
        vec![d.clone(), d],
        &[None, Some(Reason::DoubleUseInBatch)],
    );
    // A9: a reference to a version spent in an earlier batch. A zero-value transfer only
    // reads the recipient's record: movegen declares it as a reference.
    let u0 = Key::account(n.key(0).address());
    let r = TxBuilder::transfer(CHAIN, n.key(0).address(), U256::ZERO)
        .build(&n.view, &u1, &[])
        .expect("build")
        .tx;
    assert_eq!(r.body.moves[move_on(&r.body, u0)].kind, MoveKind::Reference);
    let spend = n.transfer(0, fresh(1015), 1);
    n.setup(vec![spend]);
    n.one("A9", r, Some(Reason::VersionNotLive));
    // A10: a reference to a version spent earlier in the same batch.
    let spend = n.transfer(0, fresh(1016), 1);
    let r = TxBuilder::transfer(CHAIN, n.key(0).address(), U256::ZERO)
        .build(&n.view, &u1, &[])
        .expect("build")
        .tx;
    n.row(
        "A10",
        vec![spend, r],
        &[None, Some(Reason::DoubleUseInBatch)],
    );
    // A11: the reference before the spend in one batch is valid.
    let r = TxBuilder::transfer(CHAIN, n.key(0).address(), U256::ZERO)
        .build(&n.view, &u1, &[])
        .expect("build")
        .tx;
    let spend = n.transfer(0, fresh(1017), 1);
    n.row("A11", vec![r, spend], &[None, None]);
    // A12: the filter-mode cascade: x is forged, y and z chain on what x would create.
    let mut x = n.transfer(4, fresh(1018), 1);
    x.auths[0].signature.0[3] ^= 1;
    let mut v = n.view.clone();
    v.apply(&x.body).expect("chain x");
    let y = n.transfer_on(&v, 4, fresh(1019), 1);
    v.apply(&y.body).expect("chain y");
    let z = n.transfer_on(&v, 4, fresh(1020), 1);
    n.row(
        "A12",
        vec![x, y, z],
        &[
            Some(Reason::BadSignature),
            Some(Reason::DependsOnRejected),
            Some(Reason::DependsOnRejected),
        ],
    );
    // A13: a never-written key claimed with a non-zero prev (execution is consistent).
    let to = n.fresh();
    let t = n.transfer(4, to, 1);
    let mut b = t.body.clone();
    let ri = move_on(&b, Key::account(to));
    b.moves[ri].prev = with_balance(b.moves[ri].prev, |x| x + U256::from(5u64));
    b.moves[ri].next = with_balance(b.moves[ri].next, |x| x + U256::from(5u64));
    n.one("A13", resign(b, &[&u4]), Some(Reason::PrevMismatch));
    // A14, A15: a third party tries to spend and re-create someone else's record with
    // next = prev (the call never touches it) in its own signed transaction. Refused
    // (§6.1 3f): the victim's pre-signed transaction still applies.
    let victim_tx = n.transfer(5, fresh(1021), 1);
    let vk = Key::account(n.key(5).address());
    let mut b = n.transfer(4, fresh(1022), 1).body;
    b.moves
        .push(declared(&n.view, vk, MoveKind::Consume, Mask::ALL, None));
    n.one("A14", resign(b, &[&u4]), Some(Reason::ConsumeUnchanged));
    n.one("A15", victim_tx, None);

    // ---- The document lists exactly these rows, with these verdicts --------------------
    let doc = catalogue();
    let ran: BTreeMap<&str, &str> = n
        .rows
        .iter()
        .map(|(i, v)| (i.as_str(), v.as_str()))
        .collect();
    assert_eq!(ran.len(), n.rows.len(), "row ids are unique");
    let listed: BTreeMap<&str, &str> = doc.iter().map(|(i, v)| (i.as_str(), v.as_str())).collect();
    assert_eq!(
        listed.len(),
        doc.len(),
        "docs/ADVERSARIAL.md lists each id once"
    );
    for (id, v) in &ran {
        match listed.get(id) {
            None => n
                .mismatches
                .push(format!("{id} is tested but not in docs/ADVERSARIAL.md")),
            Some(d) if d != v => n.mismatches.push(format!(
                "{id}: docs/ADVERSARIAL.md says [{d}], the test expects [{v}]"
            )),
            Some(_) => {}
        }
    }
    for id in listed.keys() {
        if !ran.contains_key(id) {
            n.mismatches
                .push(format!("{id} is in docs/ADVERSARIAL.md but not tested"));
        }
    }

    eprintln!("adversarial catalogue: {} rows", n.rows.len());
    for (id, v) in &n.rows {
        eprintln!("  {id:<4} {v}");
    }
    let end = n.filter.head();
    eprintln!(
        "final height {}, state hash {}; took {:?}",
        end.0,
        end.1,
        t0.elapsed()
    );
    assert!(
        n.mismatches.is_empty(),
        "{} mismatches:\n{}",
        n.mismatches.len(),
        n.mismatches.join("\n")
    );
}
