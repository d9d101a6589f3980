//! Writes the seed corpora: valid transactions and batches built on the fuzz world
//! (`mf_fuzz::world`), with movegen's `TxBuilder` for ETH/ERC20/swap/liquidity/creation
//! calls and `mf_validator::sample` for chained plain transfers.
//!
//! ```sh
//! cd fuzz && cargo run --release --example gen_seeds            # writes seeds/<target>/
//! cd fuzz && cargo run --release --example gen_seeds -- DIR     # writes DIR/<target>/
//! ```
//!
//! Output is deterministic (keys from labels, deterministic signatures): rerunning it
//! rewrites the same files. Existing files in the target directories are left alone (a file
//! of the same name is overwritten).
//!
//! - `structure/`, `reexec/`: one encoded transaction per file (`decode_tx`);
//! - `decode_batch/`: every batch below, every single transaction, a header and receipts;
//! - `http_batch/`: encoded batches (`decode_batch`), as `POST /batch` bodies.

use mf_format::{
    Address, Batch, Header, Keypair, Mask, Receipt, Status, Transaction, U256, encode,
};
use mf_fuzz::{CHAIN_ID, CONTEXT, World, balance_slot, recipient, units, world};
use mf_movegen::abi::{Arg, calldata};
use mf_movegen::{MemoryView, SignPolicy, TxBuilder};
use std::path::{Path, PathBuf};

fn call(to: Address, sig: &str, args: &[Arg]) -> TxBuilder {
    TxBuilder::call(CHAIN_ID, to, calldata(sig, args)).context(CONTEXT)
}

fn build(view: &MemoryView, b: TxBuilder, signer: &Keypair, co: &[&Keypair]) -> Transaction {
    b.build(view, signer, co)
        .unwrap_or_else(|e| panic!("building a seed: {e}"))
        .tx
}

fn swap(w: &World, token_in: Address, amount: U256) -> TxBuilder {
    call(
        w.pair,
        "swap(address,uint256,uint256)",
        &[
            Arg::Address(token_in),
            Arg::Uint(amount),
            Arg::Uint(U256::from(1u64)),
        ],
    )
}

fn txs(w: &World) -> Vec<(&'static str, Transaction)> {
    let v = &w.view;
    let [w0, w1, w2] = [&w.wallets[0], &w.wallets[1], &w.wallets[2]];
    let mut out = vec![
        (
            "eth_transfer",
            build(
                v,
                TxBuilder::transfer(CHAIN_ID, recipient(0), U256::from(1_000u64)).context(CONTEXT),
                w0,
                &[],
            ),
        ),
        (
            "eth_transfer_cosigned",
            build(
                v,
                TxBuilder::transfer(CHAIN_ID, w2.address(), U256::from(7u64)).context(CONTEXT),
                w1,
                &[w2, w0],
            ),
        ),
        (
            "erc20_transfer",
            build(
                v,
                call(
                    w.token_a,
                    "transfer(address,uint256)",
                    &[Arg::Address(recipient(1)), Arg::Uint(units(3))],
                ),
                w0,
                &[],
            ),
        ),
        (
            "erc20_approve",
            build(
                v,
                call(
                    w.token_b,
                    "approve(address,uint256)",
                    &[Arg::Address(w.pair), Arg::Uint(units(42))],
                ),
                w1,
                &[],
            ),
        ),
        (
            "erc20_balance_of_view",
            build(
                v,
                call(
                    w.token_a,
                    "balanceOf(address)",
                    &[Arg::Address(w2.address())],
                ),
                w2,
                &[],
            ),
        ),
        (
            "swap_a_for_b",
            build(v, swap(w, w.token_a, units(1)), w0, &[]),
        ),
        // Wallet 0's allowance on token B is finite: the swap consumes it.
        (
            "swap_b_for_a_finite_allowance",
            build(v, swap(w, w.token_b, units(2)), w0, &[]),
        ),
        (
            "add_liquidity",
            build(
                v,
                call(
                    w.pair,
                    "addLiquidity(uint256,uint256,uint256)",
                    &[
                        Arg::Uint(units(10)),
                        Arg::Uint(units(10)),
                        Arg::Uint(U256::from(1u64)),
                    ],
                ),
                w1,
                &[],
            ),
        ),
        (
            "get_reserves_view",
            build(v, call(w.pair, "getReserves()", &[]), w2, &[]),
        ),
    ];
    // A swap intent as a wallet hands it to a coordinator: open, pool moves unsigned, the
    // output balance signed as known before.
    let pool = [
        mf_format::Key::storage(w.pair, U256::from(2u64)),
        mf_format::Key::storage(w.pair, U256::from(3u64)),
        mf_format::Key::storage(w.token_a, balance_slot(w.pair)),
        mf_format::Key::storage(w.token_b, balance_slot(w.pair)),
    ];
    let policy = SignPolicy::all()
        .open(true)
        .with_masks(pool, Mask::NONE)
        .with_mask(
            mf_format::Key::storage(w.token_b, balance_slot(w2.address())),
            SignPolicy::KNOWN_BEFORE,
        );
    out.push((
        "swap_intent_open",
        build(v, swap(w, w.token_a, units(1)).sign_policy(policy), w2, &[]),
    ));
    // A contract creation: a new pair over the two tokens (created_code is its runtime).
    let mut init = mf_devkit::contracts::pair()
        .expect("Pair artifact")
        .creation
        .clone();
    init.extend_from_slice(&Arg::Address(w.token_a).word());
    init.extend_from_slice(&Arg::Address(w.token_b).word());
    out.push((
        "create_pair",
        build(
            v,
            TxBuilder::create(CHAIN_ID, init).context(CONTEXT),
            w2,
            &[],
        ),
    ));
    // An EIP-1559 transfer authorised by a signed Ethereum transaction (PROTOCOL.md §5.5).
    let key = mf_fuzz::eth_key();
    let call = mf_format::Call {
        from: key.address(),
        to: Some(recipient(9)),
        value: U256::from(5u64),
        input: vec![],
        gas_limit: 21_000,
        fee: mf_format::Fee::dynamic(2, 1),
        access_list: Vec::new(),
        blob: None,
    };
    let envelope = key.sign_call(&call, CHAIN_ID, 0);
    out.push((
        "eth_authorised_transfer",
        mf_movegen::eth_transaction(v, CHAIN_ID, &Default::default(), &envelope, CONTEXT)
            .expect("an Ethereum-authorised transfer")
            .tx,
    ));
    out
}

/// Three swaps on the pool, each on the versions the previous one created.
fn chained_swaps(w: &World) -> Vec<Transaction> {
    let mut view = w.view.clone();
    let mut out = Vec::new();
    for (i, k) in w.wallets.iter().enumerate() {
        let token = if i % 2 == 0 { w.token_a } else { w.token_b };
        let t = build(&view, swap(w, token, units(1 + i as u64)), k, &[]);
        view.apply(&t.body).expect("chain swap");
        out.push(t);
    }
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("create seed dir");
    std::fs::write(dir.join(name), bytes).expect("write seed");
}

fn main() {
    let root = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds"));
    let w = world();
    let singles = txs(w);
    let chain = chained_swaps(w);

    let mut batches: Vec<(String, Batch)> = Vec::new();
    for (name, t) in &singles {
        batches.push((
            format!("batch_{name}"),
            Batch {
                txs: vec![t.clone()],
            },
        ));
    }
    batches.push(("batch_chained_swaps".into(), Batch { txs: chain.clone() }));
    // Independent-looking transactions that conflict on the pool: filter mode's cascade.
    let pick = |n: &str| {
        singles
            .iter()
            .find(|(m, _)| *m == n)
            .expect("seed")
            .1
            .clone()
    };
    batches.push((
        "batch_mixed_conflicts".into(),
        Batch {
            txs: vec![
                pick("eth_transfer_cosigned"),
                pick("swap_a_for_b"),
                pick("erc20_transfer"),
                chain[0].clone(),
                pick("add_liquidity"),
            ],
        },
    ));
    // The same transaction twice: the second is a double spend.
    batches.push((
        "batch_double_spend".into(),
        Batch {
            txs: vec![pick("erc20_transfer"), pick("erc20_transfer")],
        },
    ));
    for (i, b) in w.sample.batches.iter().enumerate() {
        // Batch 0 applies at height 1 (chained transfers inside it); batch 1 names height 2
        // and chains on batch 0's versions, so it is refused at height 1.
        batches.push((format!("batch_sample_{i}"), b.clone()));
    }
    batches.push(("batch_empty".into(), Batch::default()));

    let tx_dirs = ["structure", "reexec"];
    for (name, t) in &singles {
        for d in tx_dirs {
            write(&root.join(d), &format!("tx_{name}"), &encode(t));
        }
        write(
            &root.join("decode_batch"),
            &format!("tx_{name}"),
            &encode(t),
        );
    }
    for (i, t) in chain.iter().enumerate() {
        for d in tx_dirs {
            write(&root.join(d), &format!("tx_chained_swap_{i}"), &encode(t));
        }
    }
    for (i, t) in w
        .sample
        .batches
        .iter()
        .flat_map(|b| &b.txs)
        .enumerate()
        .take(2)
    {
        for d in tx_dirs {
            write(
                &root.join(d),
                &format!("tx_sample_transfer_{i}"),
                &encode(t),
            );
        }
    }
    for (name, b) in &batches {
        for d in ["decode_batch", "http_batch"] {
            write(&root.join(d), name, &encode(b));
        }
    }
    let header = Header {
        height: 1,
        time_ms: 1_700_000_000_000,
        ..Header::default()
    };
    write(&root.join("decode_batch"), "header", &encode(&header));
    let receipts = vec![
        Receipt {
            tx_id: mf_format::tx_id(&singles[0].1.body),
            status: Status::Accepted,
            gas_used: 21_000,
            logs: vec![mf_format::Log {
                address: w.token_a,
                topics: vec![mf_format::B256::repeat_byte(0xdd); 3],
                data: vec![1, 2, 3],
            }],
        },
        Receipt {
            tx_id: mf_format::tx_id(&singles[1].1.body),
            status: Status::Rejected(mf_format::Reason::WriteMismatch),
            gas_used: 0,
            logs: vec![],
        },
    ];
    write(&root.join("decode_batch"), "receipts", &encode(&receipts));
    println!("seeds written under {}", root.display());
    report(&singles, &batches);
}

/// Prints what a validator makes of each seed, so that a change in the world or the
/// validator that silently turns the seeds invalid shows.
fn report(singles: &[(&str, Transaction)], batches: &[(String, Batch)]) {
    use mf_movegen::{Reexec, ReexecCheck};
    for (name, t) in singles {
        let s = mf_format::check_structure(t, CHAIN_ID).and(mf_format::verify_tx_signatures(t));
        let r = ReexecCheck::default()
            .reexec(t, &mf_format::tx_id(&t.body), &mf_fuzz::Committed)
            .map(|o| o.gas_used);
        println!("tx_{name}: stateless {s:?}, reexec gas {r:?}");
    }
    for (name, b) in batches {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut v = mf_validator::Validator::init(dir.path(), &world().genesis()).expect("init");
        v.set_clock(mf_fuzz::clock);
        match v.apply_bytes(&encode(b), mf_validator::Mode::Filter) {
            Ok(out) => {
                let verdicts: Vec<String> = out
                    .receipts
                    .iter()
                    .map(|r| match r.status {
                        Status::Accepted => "ok".to_string(),
                        Status::Failed => "failed".to_string(),
                        Status::Rejected(reason) => reason.name().to_string(),
                    })
                    .collect();
                println!(
                    "{name}: {}/{} accepted [{}]",
                    out.accepted,
                    out.receipts.len(),
                    verdicts.join(", ")
                );
            }
            Err(e) => println!("{name}: refused: {e}"),
        }
    }
}
