//! Workloads: a genesis of funded wallets, two ERC20 tokens and many constant-product pairs
//! (our own contracts from `contracts/`), and signed transactions of four kinds built on it
//! with [`TxBuilder`], exactly as a wallet would.
//!
//! | kind | what each transaction does | contention |
//! | --- | --- | --- |
//! | `transfer` | wallet `i` sends 1 wei to a fresh address | none |
//! | `erc20` | wallet `i` sends token A to a fresh address | none (the token's code record is a reference) |
//! | `swap_cold` | wallet `i` swaps A for B on pair `i` | none |
//! | `swap_hot` | wallet `i` swaps on pair 0 | every transaction consumes the pool version the previous one created |
//!
//! A workload runs without fees (base fee 0, legacy gas price 0) unless
//! [`Workload::set_fees`] turns them on: then the genesis charges [`BASE_FEE`] to
//! [`BENEFICIARY`] and every wallet pays [`WALLET_FEE`] (EIP-1559), as the devnet does, so the
//! same transactions can be validated with and without fees in one run.

use anyhow::{Context, Result};
use mf_devkit::slots::{pair as pair_slots, token::balance as balance_slot};
use mf_devkit::{PairSpec, WorldBuilder, fixed_addr, units};
use mf_format::{Address, ChainRules, Fee, Keypair, Transaction, TxId, U256};
use mf_format::{Key, Mask};
use mf_movegen::abi::{Arg, calldata};
use mf_movegen::genesis::Genesis;
use mf_movegen::{MemoryView, SignPolicy, TxBuilder};
use rayon::prelude::*;

/// The chain id of every workload.
pub const CHAIN_ID: u64 = 7777;

/// The base fee of a workload with fees: 1 gwei.
pub const BASE_FEE: u64 = 1_000_000_000;
/// The beneficiary of a workload with fees.
pub const BENEFICIARY: Address = Address::repeat_byte(0xbe);
/// What every wallet of a workload with fees offers: an EIP-1559 fee cap of 2 gwei with a
/// 1 gwei tip.
pub const WALLET_FEE: Fee = Fee::dynamic(2_000_000_000, 1_000_000_000);

/// The kinds of workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Plain value transfers.
    Transfer,
    /// ERC20 transfers.
    Erc20,
    /// Swaps, each on its own pool.
    SwapCold,
    /// Swaps, all on one pool, chained.
    SwapHot,
}

impl Kind {
    /// All kinds, in report order.
    pub const ALL: [Kind; 4] = [Kind::Transfer, Kind::Erc20, Kind::SwapCold, Kind::SwapHot];

    /// The gas limit its transactions declare: what each uses with headroom, as a wallet
    /// sets after estimating (a batch's gas budget sums gas limits, PROTOCOL.md §6.4.3).
    pub fn gas_limit(self) -> u64 {
        match self {
            Kind::Transfer => 21_000,
            Kind::Erc20 => 100_000,
            Kind::SwapCold | Kind::SwapHot => 300_000,
        }
    }

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Transfer => "transfer",
            Kind::Erc20 => "erc20",
            Kind::SwapCold => "swap_cold",
            Kind::SwapHot => "swap_hot",
        }
    }
}

/// The genesis world of a workload of `n` transactions.
pub struct Workload {
    /// The state.
    pub view: MemoryView,
    /// One wallet per transaction.
    pub wallets: Vec<Keypair>,
    /// Token A (sold in swaps, sent in ERC20 transfers).
    pub token_a: Address,
    /// Token B.
    pub token_b: Address,
    /// Pairs; pair 0 is the hot one.
    pub pairs: Vec<Address>,
    /// The chain's rules: without fees by default ([`Workload::set_fees`]).
    pub rules: ChainRules,
}

impl Workload {
    /// `n` wallets and `pairs` pairs (at least 1). Wallet `i` has ETH, both tokens, and an
    /// allowance to pair 0 and to pair `i % pairs`.
    pub fn new(n: usize, pairs: usize) -> Result<Workload> {
        let pairs = pairs.max(1);
        let wallets: Vec<Keypair> = (0..n)
            .into_par_iter()
            .map(|i| Keypair::from_label(&format!("bench wallet {i}")))
            .collect();
        let (token_a, token_b) = (fixed_addr(0xa0, 0), fixed_addr(0xb0, 0));
        let reserve = units(1_000_000);
        let mut b = WorldBuilder::new(wallets, units(1_000))
            .token(token_a, units(1_000_000))
            .token(token_b, units(1_000_000))
            .allowed_pairs(move |i| vec![0, i % pairs]);
        for j in 0..pairs {
            b = b.pair(PairSpec::new(
                fixed_addr(0xe0, j),
                token_a,
                token_b,
                reserve,
                reserve,
            ));
        }
        let w = b.build().context("building the genesis")?;
        Ok(Workload {
            view: w.view,
            wallets: w.wallets,
            token_a,
            token_b,
            pairs: w.pairs,
            rules: ChainRules::default(),
        })
    }

    /// Turns fees on ([`BASE_FEE`], [`BENEFICIARY`], wallets paying [`WALLET_FEE`]) or off
    /// for the genesis and the transactions built from now on.
    pub fn set_fees(&mut self, on: bool) {
        self.rules = if on {
            ChainRules {
                base_fee: BASE_FEE,
                beneficiary: BENEFICIARY,
                ..ChainRules::default()
            }
        } else {
            ChainRules::default()
        };
    }

    /// Whether the workload charges fees.
    pub fn fees(&self) -> bool {
        self.rules.base_fee > 0
    }

    /// The genesis file contents of this world.
    pub fn genesis(&self) -> Genesis {
        let mut g = Genesis::from_view(CHAIN_ID, &self.view);
        g.rules = self.rules.clone();
        g
    }

    /// The fresh recipient of wallet `i`'s payment.
    pub fn recipient(i: usize) -> Address {
        fixed_addr(0xcc, i)
    }

    /// The builder of wallet `i`'s transaction of `kind` (on pair `pair` for swaps), with the
    /// workload's fee and rules.
    pub fn builder(&self, kind: Kind, i: usize) -> TxBuilder {
        let b = self.call_builder(kind, i).gas_limit(kind.gas_limit());
        if self.fees() {
            b.fee(WALLET_FEE).rules(self.rules.clone())
        } else {
            b
        }
    }

    fn call_builder(&self, kind: Kind, i: usize) -> TxBuilder {
        match kind {
            Kind::Transfer => {
                TxBuilder::transfer(CHAIN_ID, Workload::recipient(i), U256::from(1u64))
            }
            Kind::Erc20 => TxBuilder::call(
                CHAIN_ID,
                self.token_a,
                calldata(
                    "transfer(address,uint256)",
                    &[Arg::Address(Workload::recipient(i)), Arg::Uint(units(1))],
                ),
            ),
            Kind::SwapCold | Kind::SwapHot => {
                let pair = self.swap_pair(kind, i);
                TxBuilder::call(
                    CHAIN_ID,
                    pair,
                    calldata(
                        "swap(address,uint256,uint256)",
                        &[
                            Arg::Address(self.token_a),
                            Arg::Uint(units(1)),
                            Arg::Uint(U256::from(1u64)),
                        ],
                    ),
                )
            }
        }
    }

    /// The pair wallet `i` swaps on.
    pub fn swap_pair(&self, kind: Kind, i: usize) -> Address {
        match kind {
            Kind::SwapHot => self.pairs[0],
            _ => self.pairs[i % self.pairs.len()],
        }
    }

    /// The keys of a pair's pool that a coordinator fills (reserves and the pair's token
    /// balances).
    pub fn pool_keys(&self, pair: Address) -> [Key; 4] {
        pair_slots::pool_keys(pair, self.token_a, self.token_b)
    }

    /// The signing policy of a coordinator-filled swap: the pool left unsigned, the
    /// wallet's output balance signed as known before.
    pub fn fill_policy(&self, pair: Address, wallet: Address) -> SignPolicy {
        SignPolicy::all()
            .open(true)
            .with_masks(self.pool_keys(pair), Mask::NONE)
            .with_mask(
                Key::storage(self.token_b, balance_slot(wallet)),
                SignPolicy::KNOWN_BEFORE,
            )
    }
}

/// `n` signed transactions of `kind`, fully signed, valid in this order from the genesis.
/// Independent kinds are built in parallel; `swap_hot` is built in order, each on the state
/// the previous one left.
pub fn build(world: &Workload, kind: Kind, n: usize) -> Result<Vec<(Transaction, TxId)>> {
    let n = n.min(world.wallets.len());
    if kind == Kind::SwapHot {
        let mut view = world.view.clone();
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let b = world
                .builder(kind, i)
                .build(&view, &world.wallets[i], &[])
                .with_context(|| format!("building {} {i}", kind.name()))?;
            view.apply(&b.tx.body)?;
            out.push((b.tx, b.id));
        }
        return Ok(out);
    }
    (0..n)
        .into_par_iter()
        .map(|i| {
            let b = world
                .builder(kind, i)
                .build(&world.view, &world.wallets[i], &[])
                .with_context(|| format!("building {} {i}", kind.name()))?;
            Ok((b.tx, b.id))
        })
        .collect()
}

/// `n` swap intents on the hot pool (or each on its own pool when `cold`), signed against
/// the genesis with the pool masked: what wallets hand a coordinator.
pub fn intents(world: &Workload, cold: bool, n: usize) -> Result<Vec<Transaction>> {
    let n = n.min(world.wallets.len());
    let kind = if cold { Kind::SwapCold } else { Kind::SwapHot };
    (0..n)
        .into_par_iter()
        .map(|i| {
            let w = &world.wallets[i];
            let pair = world.swap_pair(kind, i);
            let b = world
                .builder(kind, i)
                .sign_policy(world.fill_policy(pair, w.address()))
                .build(&world.view, w, &[])
                .with_context(|| format!("building intent {i}"))?;
            Ok(b.tx)
        })
        .collect()
}
