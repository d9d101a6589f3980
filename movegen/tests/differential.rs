//! Differential test: a random sequence of transfers, ERC20 transfers and swaps executed
//! through movegen + `MemoryView` (moves applied one transaction at a time) ends in the same
//! state as plain revm committing to one in-memory `CacheDB`.

use crate::util::plain::{cache_db, value_in};
use crate::util::*;
use mf_format::{Address, Call, ExecContext, Key, Keypair, U256, Value};
use mf_movegen::exec::{new_evm, tx_env};
use mf_movegen::{MemoryView, Reexec, ReexecCheck, StateView, TxBuilder};
use revm::{DatabaseCommit, ExecuteEvm};
use std::collections::BTreeSet;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn value_of(view: &MemoryView, key: &Key) -> Value {
    view.version(key)
        .unwrap()
        .map(|(_, v)| v)
        .unwrap_or(Value::zero(key.mark))
}

fn run_sequence(seed: u64, steps: usize) {
    let w = world(4);
    let mut view = w.view.clone();
    let mut evm = new_evm(cache_db(&view), CHAIN);
    let fresh: Vec<Address> = (0..3)
        .map(|i| Keypair::from_label(&format!("fresh {i}")).address())
        .collect();
    let mut rng = Rng(seed);
    let mut keys: BTreeSet<Key> = view.versions().map(|(k, _)| *k).collect();
    let (mut ok, mut failed) = (0, 0);
    for step in 0..steps {
        let user = &w.users[rng.below(4) as usize];
        let other = w.users[rng.below(4) as usize].address();
        let builder = match rng.below(4) {
            0 => {
                let to = if rng.below(3) == 0 {
                    fresh[rng.below(3) as usize]
                } else {
                    other
                };
                TxBuilder::transfer(CHAIN, to, U256::from(rng.below(1_000_000)))
            }
            1 => {
                let token = if rng.below(2) == 0 {
                    w.token_a
                } else {
                    w.token_b
                };
                // Sometimes more than the balance: both sides must reject it.
                let amount = eth(rng.below(1_500_000));
                TxBuilder::call(CHAIN, token, transfer_data(other, amount))
            }
            _ => {
                let token = if rng.below(2) == 0 {
                    w.token_a
                } else {
                    w.token_b
                };
                let amount = eth(1 + rng.below(500));
                TxBuilder::call(CHAIN, w.pair, swap_data(token, amount, U256::from(1u64)))
            }
        };
        let ctx = ExecContext {
            block_number: 1 + step as u64,
            timestamp: 1_700_000_000 + step as u64,
        };
        let builder = builder.context(ctx);
        let call: Call = builder.to_call(user.address());
        let plain = evm.transact(tx_env(&call, CHAIN)).unwrap();
        match builder.build(&view, user, &[]) {
            Ok(built) => {
                assert!(plain.result.is_success(), "step {step}: plain revm failed");
                assert_eq!(plain.result.tx_gas_used(), built.execution.gas_used);
                let id = built.id;
                let out = ReexecCheck::default()
                    .reexec(&built.tx, &id, &mf_movegen::NoCode)
                    .map(|o| o.gas_used);
                // Contracts' code comes from the view in real use; NoCode suffices only when
                // no contract runs.
                if built.tx.body.call.input.is_empty() {
                    assert_eq!(out, Ok(built.execution.gas_used));
                }
                keys.extend(built.tx.body.moves.iter().map(|m| m.key()));
                view.apply(&built.tx.body).unwrap();
                evm.ctx.journaled_state.database.commit(plain.state);
                ok += 1;
            }
            Err(e) => {
                assert!(
                    !plain.result.is_success(),
                    "step {step}: only movegen failed: {e}"
                );
                failed += 1;
            }
        }
    }
    assert!(ok > steps / 2, "{ok} ok, {failed} failed");
    let db = &evm.ctx.journaled_state.database;
    for key in &keys {
        assert_eq!(value_of(&view, key), value_in(db, key), "{key:?}");
    }
    // And every account plain revm knows agrees with the view.
    for (addr, _) in db.cache.accounts.iter() {
        let key = Key::account(*addr);
        assert_eq!(value_of(&view, &key), value_in(db, &key), "{key:?}");
    }
}

#[test]
fn random_sequences_match_plain_revm() {
    for seed in 1..=4 {
        run_sequence(seed, 60);
    }
}
