//! Differential test through the whole validator: random sequences of transfers, ERC20
//! transfers and approvals, swaps, and liquidity adds and removes are built by movegen,
//! applied by a real validator (LMDB, ed25519, revm re-execution) in small batches, and must
//! end in exactly the balances and storage plain revm reaches executing the same calls on
//! one in-memory database; and every rejection by movegen is a failure of plain revm too.

use crate::util::fixtures::plain::{cache_db, value_in};
use crate::util::fixtures::*;
use mf_format::{Batch, Call, ExecContext, Key, Status, Transaction, U256, Value};
use mf_movegen::abi::{Arg, calldata};
use mf_movegen::exec::{new_evm, tx_env};
use mf_movegen::{StateView, TxBuilder};
use mf_validator::genesis::Genesis;
use mf_validator::{Mode, Validator, VersionState};
use revm::{DatabaseCommit, ExecuteEvm};
use std::collections::BTreeSet;

fn run(seed: u64, steps: usize) {
    let w = world(4);
    let mut view = w.view.clone();
    let genesis = Genesis {
        chain_id: CHAIN,
        rules: Default::default(),
        versions: w.view.versions().map(|(k, (_, v))| (*k, *v)).collect(),
        code: w.view.codes().map(|(h, c)| (*h, c.to_vec())).collect(),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut v = Validator::init(dir.path(), &genesis).expect("init");
    // The header clock follows the steps: one second each, the time the transactions of
    // each step declare (PROTOCOL.md §6.3.1).
    let now_s = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1_700_000_000));
    let clock = std::sync::Arc::clone(&now_s);
    v.set_clock(move || clock.load(std::sync::atomic::Ordering::SeqCst) * 1000);
    let mut evm = new_evm(cache_db(&view), CHAIN);
    let mut rng = mf_validator::sample::SplitMix(seed);
    let mut keys: BTreeSet<Key> = view.versions().map(|(k, _)| *k).collect();
    let mut pending: Vec<Transaction> = Vec::new();
    let mut accepted = 0;
    let flush = |v: &mut Validator, pending: &mut Vec<Transaction>, accepted: &mut usize| {
        if pending.is_empty() {
            return;
        }
        let out = v
            .apply_batch(
                &Batch {
                    txs: std::mem::take(pending),
                },
                Mode::Strict,
            )
            .expect("the validator accepts what movegen built");
        assert!(out.receipts.iter().all(|r| r.status == Status::Accepted));
        *accepted += out.accepted;
    };
    for step in 0..steps {
        now_s.store(
            1_700_000_000 + step as u64,
            std::sync::atomic::Ordering::SeqCst,
        );
        let ui = rng.below(4);
        let user = &w.users[ui];
        let other = w.users[rng.below(4)].address();
        let token = if rng.below(2) == 0 {
            w.token_a
        } else {
            w.token_b
        };
        let builder = match rng.below(7) {
            0 => TxBuilder::transfer(CHAIN, other, U256::from(rng.below(1_000_000) as u64)),
            1 => TxBuilder::call(
                CHAIN,
                token,
                transfer_data(other, eth(rng.below(1_500_000) as u64)),
            ),
            2 => TxBuilder::call(
                CHAIN,
                token,
                calldata(
                    "approve(address,uint256)",
                    &[Arg::Address(other), Arg::Uint(eth(rng.below(100) as u64))],
                ),
            ),
            3 => TxBuilder::call(
                CHAIN,
                w.pair,
                calldata(
                    "addLiquidity(uint256,uint256,uint256)",
                    &[
                        Arg::Uint(eth(1 + rng.below(50) as u64)),
                        Arg::Uint(eth(1 + rng.below(100) as u64)),
                        Arg::Uint(U256::ZERO),
                    ],
                ),
            ),
            4 => TxBuilder::call(
                CHAIN,
                w.pair,
                calldata(
                    "removeLiquidity(uint256,uint256,uint256)",
                    &[
                        Arg::Uint(eth(rng.below(20) as u64)),
                        Arg::Uint(U256::ZERO),
                        Arg::Uint(U256::ZERO),
                    ],
                ),
            ),
            _ => TxBuilder::call(
                CHAIN,
                w.pair,
                swap_data(token, eth(1 + rng.below(500) as u64), U256::from(1u64)),
            ),
        };
        // Pending transactions go into the next batch, applied at head + 1.
        let builder = builder.context(ExecContext {
            block_number: v.head().height + 1,
            timestamp: 1_700_000_000 + step as u64,
        });
        let call: Call = builder.to_call(user.address());
        let reference = evm.transact(tx_env(&call, CHAIN)).expect("plain revm runs");
        match builder.build(&view, user, &[]) {
            Ok(built) => {
                assert!(
                    reference.result.is_success(),
                    "step {step}: only plain revm failed"
                );
                keys.extend(built.tx.body.moves.iter().map(|m| m.key()));
                view.apply(&built.tx.body).expect("view applies");
                evm.ctx.journaled_state.database.commit(reference.state);
                pending.push(built.tx);
                // Small batches, so later transactions chain within and across batches.
                if pending.len() == 1 + rng.below(4) {
                    flush(&mut v, &mut pending, &mut accepted);
                }
            }
            Err(e) => assert!(
                !reference.result.is_success(),
                "step {step}: only movegen failed: {e}"
            ),
        }
    }
    flush(&mut v, &mut pending, &mut accepted);
    assert!(accepted > steps / 3, "only {accepted} of {steps} accepted");
    let db = &evm.ctx.journaled_state.database;
    for key in &keys {
        let (intx, _) = view
            .version(key)
            .expect("view")
            .unwrap_or((mf_format::GENESIS_INTX, Value::zero(key.mark)));
        let at_validator = match v.version(&intx, key).expect("lookup") {
            VersionState::Live(x) | VersionState::NeverWritten(x) => x,
            VersionState::NotLive => panic!("{key:?}: the view's version is not live"),
        };
        assert_eq!(at_validator, value_in(db, key), "{key:?}");
    }
    let (fresh, stored) = v.check().expect("check");
    assert_eq!(fresh, stored);
}

#[test]
fn validator_matches_plain_revm_on_random_sequences() {
    for seed in 1..=3 {
        run(seed, 60);
    }
}
