//! The devnet's world and the intents its wallets send: shared by `mf-coordinator devnet`
//! (which drives many wallets through a coordinator) and the coordinator's tests (which
//! send a few on purpose).
//!
//! The world: `wallets` funded accounts, a token for payments, a hub token and one more
//! token per pool, constant-product pairs (one **hot** pool and `cold_pools` cold ones, each
//! trading the hub token against its own), every wallet's allowance to every pair it can
//! trade on, and `merchants` receiving accounts that never send.

use crate::DevkitError;
use crate::world::{PairSpec, WorldBuilder, fixed_addr, units};
use mf_format::{Address, Keypair};
use mf_movegen::MemoryView;
use mf_movegen::genesis::Genesis;
#[cfg(feature = "remote")]
use {
    crate::slots,
    mf_format::{ExecContext, Key, Mask, U256},
    mf_movegen::abi::{Arg, calldata},
    mf_movegen::remote::RemoteView,
    mf_movegen::{SignPolicy, TxBuilder},
};

/// The chain id of the devnet.
pub const CHAIN_ID: u64 = 31337;

/// The devnet's base fee (1 gwei, a chain constant: PROTOCOL.md §6.3): the devnet charges
/// fees as a real chain does.
pub const BASE_FEE: u64 = 1_000_000_000;

/// The devnet's beneficiary: the priority fees of every batch are credited to it.
pub const BENEFICIARY: Address = mf_format::Address::repeat_byte(0xbe);

/// What the devnet's wallets offer: an EIP-1559 fee cap of twice the base fee and a
/// priority fee of 1 gwei, so every batch credits its beneficiary.
pub const WALLET_FEE: mf_format::Fee = mf_format::Fee::dynamic(2_000_000_000, 1_000_000_000);

/// The devnet's rules: Cancun, 30,000,000 gas, [`BASE_FEE`], [`BENEFICIARY`].
pub fn rules() -> mf_format::ChainRules {
    mf_format::ChainRules {
        base_fee: BASE_FEE,
        beneficiary: BENEFICIARY,
        ..mf_format::ChainRules::default()
    }
}

/// The contracts and accounts of a devnet genesis.
#[derive(Clone, Debug)]
pub struct DevnetWorld {
    /// The genesis state.
    pub view: MemoryView,
    /// Wallets.
    pub wallets: Vec<Keypair>,
    /// Payment receivers (never send).
    pub merchants: Vec<Address>,
    /// The token used for payments.
    pub pay_token: Address,
    /// The hub token every pool trades against.
    pub hub: Address,
    /// `(pair, other token)`; the first is the hot pool.
    pub pools: Vec<(Address, Address)>,
}

impl DevnetWorld {
    /// Builds the world: `wallets` wallets, `merchants` merchants, one hot pool and
    /// `cold_pools` cold ones.
    pub fn new(
        wallets: usize,
        merchants: usize,
        cold_pools: usize,
    ) -> Result<DevnetWorld, DevkitError> {
        let keys: Vec<Keypair> = (0..wallets)
            .map(|i| Keypair::from_label(&format!("devnet wallet {i}")))
            .collect();
        let merchants: Vec<Address> = (0..merchants).map(|i| fixed_addr(0xaa, i)).collect();
        let pay_token = fixed_addr(0xd0, 0);
        let hub = fixed_addr(0xd0, 1);
        let pools: Vec<(Address, Address)> = (0..=cold_pools)
            .map(|i| (fixed_addr(0xe0, i), fixed_addr(0xd0, 2 + i)))
            .collect();
        let (per_wallet, reserve) = (units(1_000_000), units(1_000_000));
        let mut b = WorldBuilder::new(keys, units(1_000_000))
            .token(pay_token, per_wallet)
            .token(hub, per_wallet);
        for &(pair, token) in &pools {
            b = b
                .token(token, per_wallet)
                .pair(PairSpec::new(pair, hub, token, reserve, reserve));
        }
        let w = b.build()?;
        Ok(DevnetWorld {
            view: w.view,
            wallets: w.wallets,
            merchants,
            pay_token,
            hub,
            pools,
        })
    }

    /// The genesis of this world.
    pub fn genesis(&self) -> Genesis {
        Genesis {
            rules: rules(),
            ..Genesis::from_view(CHAIN_ID, &self.view)
        }
    }
}

/// Which intent a wallet sends next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// ETH to a merchant.
    Pay,
    /// Payment tokens to a merchant.
    PayToken,
    /// A swap on pool `i` (0 is the hot pool); `sell_hub` sells the hub token.
    Swap {
        /// Pool index.
        pool: usize,
        /// Direction.
        sell_hub: bool,
        /// A tight minimum output (0.05% below the quote): may be refused when the pool
        /// moves first.
        tight: bool,
    },
}

/// Builds the signed intent for `op` against the coordinator's state: executed locally
/// through the [`RemoteView`] (one round trip per state read), or with `simulate` by the
/// coordinator (`mf_simulate`, one round trip).
#[cfg(feature = "remote")]
#[allow(clippy::too_many_arguments)]
pub fn build_intent(
    world: &DevnetWorld,
    view: &RemoteView,
    wallet: &Keypair,
    op: Op,
    merchant: Address,
    amount: U256,
    ctx: ExecContext,
    simulate: bool,
) -> Result<mf_format::Transaction, DevkitError> {
    let me = wallet.address();
    let (builder, policy) = match op {
        Op::Pay => (
            TxBuilder::transfer(CHAIN_ID, merchant, amount / U256::from(1_000_000u64)),
            SignPolicy::all()
                .open(true)
                .with_mask(Key::account(merchant), Mask::NONE),
        ),
        Op::PayToken => (
            TxBuilder::call(
                CHAIN_ID,
                world.pay_token,
                calldata(
                    "transfer(address,uint256)",
                    &[Arg::Address(merchant), Arg::Uint(amount)],
                ),
            ),
            SignPolicy::all().open(true).with_mask(
                Key::storage(world.pay_token, slots::token::balance(merchant)),
                Mask::NONE,
            ),
        ),
        Op::Swap {
            pool,
            sell_hub,
            tight,
        } => {
            let (pair, token) = world.pools[pool % world.pools.len()];
            let (tin, tout) = if sell_hub {
                (world.hub, token)
            } else {
                (token, world.hub)
            };
            let (rin, rout) = {
                let (r2, r3) = reserves(view, pair)?;
                if sell_hub { (r2, r3) } else { (r3, r2) }
            };
            let quote = slots::amount_out(amount, rin, rout);
            let min_out = if tight {
                quote * U256::from(9995u64) / U256::from(10_000u64)
            } else {
                quote * U256::from(95u64) / U256::from(100u64)
            };
            let pool_keys = slots::pair::pool_keys(pair, world.hub, token);
            (
                TxBuilder::call(
                    CHAIN_ID,
                    pair,
                    calldata(
                        "swap(address,uint256,uint256)",
                        &[Arg::Address(tin), Arg::Uint(amount), Arg::Uint(min_out)],
                    ),
                ),
                SignPolicy::all()
                    .open(true)
                    .with_masks(pool_keys, Mask::NONE)
                    .with_mask(
                        Key::storage(tout, slots::token::balance(me)),
                        SignPolicy::KNOWN_BEFORE,
                    ),
            )
        }
    };
    // A gas limit with headroom over what each operation uses, as a wallet sets after
    // estimating: a batch's gas budget sums gas limits (PROTOCOL.md §6.4.3 step 0).
    let gas_limit = match op {
        Op::Pay => 21_000,
        Op::PayToken => 120_000,
        Op::Swap { .. } => 300_000,
    };
    let builder = builder
        .context(ctx)
        .sign_policy(policy)
        .gas_limit(gas_limit)
        .fee(WALLET_FEE)
        .rules(rules());
    if !simulate {
        return builder
            .build(view, wallet, &[])
            .map(|b| b.tx)
            .map_err(|e| DevkitError::Run(format!("building an intent: {e}")));
    }
    let execution = view
        .client()
        .simulate(&builder.to_call(me), &ctx)
        .map_err(|e| DevkitError::Run(format!("simulating an intent: {e}")))?;
    builder
        .build_with(execution, wallet, &[])
        .map(|b| b.tx)
        .map_err(|e| DevkitError::Run(format!("building an intent: {e}")))
}

/// The pool's reserves in one batch request.
#[cfg(feature = "remote")]
fn reserves(view: &RemoteView, pair: Address) -> Result<(U256, U256), DevkitError> {
    let slot = |s: U256| serde_json::json!(["s", pair, alloy_primitives::B256::from(s)]);
    let answers = view
        .client()
        .batch(&[
            ("mf_getVersion", slot(slots::pair::RESERVE0)),
            ("mf_getVersion", slot(slots::pair::RESERVE1)),
        ])
        .map_err(|e| DevkitError::Run(e.to_string()))?;
    let mut out = [U256::ZERO; 2];
    for (o, a) in out.iter_mut().zip(answers) {
        let v: mf_movegen::rpc::RpcVersion = a
            .map_err(|e| DevkitError::Run(e.to_string()))
            .and_then(|j| serde_json::from_value(j).map_err(|e| DevkitError::Run(e.to_string())))?;
        match v.value.to_value(mf_format::Mark::Storage) {
            Some(mf_format::Value::Storage(w)) => *o = w,
            _ => {
                return Err(DevkitError::Run(
                    "a storage answer of the wrong type".into(),
                ));
            }
        }
    }
    Ok((out[0], out[1]))
}
