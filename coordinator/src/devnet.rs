//! `mf-coordinator devnet`: a validator and a coordinator as real processes on loopback,
//! driven by many wallets.
//!
//! What it does, in order:
//!
//! 1. writes a genesis ([`World`]): `wallets` funded accounts, a token for payments, a hub
//!    token and one more token per pool, constant-product pairs (one **hot** pool and
//!    `cold_pools` cold ones), every wallet's allowance to every pair, and `merchants`
//!    receiving accounts;
//! 2. runs `mf-validator init` and `mf-validator serve` (the binary next to this one, or
//!    `--validator-bin`), then `mf-coordinator serve` against it, each with a data directory
//!    of its own under the devnet directory and its log file there;
//! 3. drives the wallets from a few threads: each wallet builds its next intent with
//!    [`mf_movegen::TxBuilder`] against a [`RemoteView`] of the coordinator (ETH and token
//!    payments to merchants with the merchant's record left to the filler; swaps with the
//!    pool left to the filler and a minimum output), submits it, and waits for the verdict
//!    before its next one (its own account record chains them);
//! 4. shows a progress bar, then a summary: accepted, rejected by reason, tx/s, moves/s and
//!    latency percentiles (submission to verdict), and checks that the coordinator's state
//!    hash equals the validator's.

use mf_format::{Account, Address, EMPTY_CODE_HASH, ExecContext, Key, Keypair, Mask, TxId, U256};
use mf_movegen::abi::{Arg, calldata, mapping_slot, nested_mapping_slot};
use mf_movegen::genesis::Genesis;
use mf_movegen::remote::{RemoteView, RpcClient};
use mf_movegen::rpc::IntentState;
use mf_movegen::{MemoryView, SignPolicy, TxBuilder};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The chain id of the devnet.
pub const CHAIN_ID: u64 = 31337;

const TOKEN_JSON: &str = include_str!("../../contracts/artifacts/Token.json");
const PAIR_JSON: &str = include_str!("../../contracts/artifacts/Pair.json");

/// Why the devnet failed.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// Setting up (files, processes).
    #[error("{0}")]
    Setup(String),
    /// A process or request failed.
    #[error("{0}")]
    Run(String),
}

fn setup(e: impl std::fmt::Display) -> DevnetError {
    DevnetError::Setup(e.to_string())
}

/// Runtime code of a committed artifact.
pub fn runtime_code(artifact_json: &str) -> Result<Vec<u8>, DevnetError> {
    let v: serde_json::Value = serde_json::from_str(artifact_json).map_err(setup)?;
    let hex = v["deployedBytecode"]
        .as_str()
        .ok_or_else(|| setup("artifact without deployedBytecode"))?;
    alloy_primitives::hex::decode(hex.trim_start_matches("0x")).map_err(setup)
}

/// The contracts and accounts of a devnet genesis.
#[derive(Clone, Debug)]
pub struct World {
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

/// A fixed address: `kind` in the first byte, `i` in the last four.
pub fn fixed_addr(kind: u8, i: usize) -> Address {
    let mut a = [0u8; 20];
    a[0] = kind;
    a[16..].copy_from_slice(&(i as u32).to_be_bytes());
    Address::from(a)
}

/// `n` tokens with 18 decimals.
pub fn units(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// Balance slot of the Token contract (`balanceOf` is mapping slot 0).
pub fn balance_slot(holder: Address) -> U256 {
    mapping_slot(holder, U256::ZERO)
}

impl World {
    /// Builds the world: `wallets` wallets, `merchants` merchants, one hot pool and
    /// `cold_pools` cold ones.
    pub fn new(wallets: usize, merchants: usize, cold_pools: usize) -> Result<World, DevnetError> {
        let token_code = runtime_code(TOKEN_JSON)?;
        let pair_code = runtime_code(PAIR_JSON)?;
        let wallets: Vec<Keypair> = (0..wallets)
            .map(|i| Keypair::from_label(&format!("devnet wallet {i}")))
            .collect();
        let merchants: Vec<Address> = (0..merchants).map(|i| fixed_addr(0xaa, i)).collect();
        let pay_token = fixed_addr(0xd0, 0);
        let hub = fixed_addr(0xd0, 1);
        let pools: Vec<(Address, Address)> = (0..=cold_pools)
            .map(|i| (fixed_addr(0xe0, i), fixed_addr(0xd0, 2 + i)))
            .collect();
        let mut view = MemoryView::new();
        for w in &wallets {
            view.set_account(
                w.address(),
                Account {
                    balance: units(1_000_000),
                    nonce: 0,
                    code_hash: EMPTY_CODE_HASH,
                },
            );
        }
        let per_wallet = units(1_000_000);
        let reserve = units(1_000_000);
        let n = U256::from(wallets.len());
        let mut tokens: Vec<(Address, Vec<(U256, U256)>)> = Vec::new();
        // Payment token: wallets only.
        let mut pay = vec![(U256::from(2u64), per_wallet * n)];
        for w in &wallets {
            pay.push((balance_slot(w.address()), per_wallet));
        }
        tokens.push((pay_token, pay));
        // Hub token: wallets and every pair; pool tokens: wallets and their pair.
        let mut hub_storage = vec![(
            U256::from(2u64),
            per_wallet * n + reserve * U256::from(pools.len()),
        )];
        for w in &wallets {
            hub_storage.push((balance_slot(w.address()), per_wallet));
            for (pair, _) in &pools {
                hub_storage.push((
                    nested_mapping_slot(w.address(), *pair, U256::from(1u64)),
                    U256::MAX,
                ));
            }
        }
        for (pair, token) in &pools {
            hub_storage.push((balance_slot(*pair), reserve));
            let mut s = vec![
                (U256::from(2u64), per_wallet * n + reserve),
                (balance_slot(*pair), reserve),
            ];
            for w in &wallets {
                s.push((balance_slot(w.address()), per_wallet));
                s.push((
                    nested_mapping_slot(w.address(), *pair, U256::from(1u64)),
                    U256::MAX,
                ));
            }
            tokens.push((*token, s));
        }
        tokens.push((hub, hub_storage));
        for (addr, storage) in tokens {
            view.deploy(addr, token_code.clone(), U256::ZERO, storage);
        }
        let lp = U256::from(1_000_000u64);
        for (pair, token) in &pools {
            view.deploy(
                *pair,
                pair_code.clone(),
                U256::ZERO,
                [
                    (U256::ZERO, U256::from_be_slice(hub.as_slice())),
                    (U256::from(1u64), U256::from_be_slice(token.as_slice())),
                    (U256::from(2u64), reserve),
                    (U256::from(3u64), reserve),
                    (U256::from(4u64), lp),
                    (mapping_slot(fixed_addr(0xbb, 0), U256::from(5u64)), lp),
                ],
            );
        }
        Ok(World {
            view,
            wallets,
            merchants,
            pay_token,
            hub,
            pools,
        })
    }

    /// The genesis of this world.
    pub fn genesis(&self) -> Genesis {
        Genesis::from_view(CHAIN_ID, &self.view)
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
#[allow(clippy::too_many_arguments)]
pub fn build_intent(
    world: &World,
    view: &RemoteView,
    wallet: &Keypair,
    op: Op,
    merchant: Address,
    amount: U256,
    ctx: ExecContext,
    simulate: bool,
) -> Result<mf_format::Transaction, DevnetError> {
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
                Key::storage(world.pay_token, balance_slot(merchant)),
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
            let fee_in = amount * U256::from(997u64);
            let quote = fee_in * rout / (rin * U256::from(1000u64) + fee_in);
            let min_out = if tight {
                quote * U256::from(9995u64) / U256::from(10_000u64)
            } else {
                quote * U256::from(95u64) / U256::from(100u64)
            };
            let pool_keys = [
                Key::storage(pair, U256::from(2u64)),
                Key::storage(pair, U256::from(3u64)),
                Key::storage(world.hub, balance_slot(pair)),
                Key::storage(token, balance_slot(pair)),
            ];
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
                        Key::storage(tout, balance_slot(me)),
                        SignPolicy::KNOWN_BEFORE,
                    ),
            )
        }
    };
    let builder = builder.context(ctx).sign_policy(policy);
    if !simulate {
        return builder
            .build(view, wallet, &[])
            .map(|b| b.tx)
            .map_err(|e| DevnetError::Run(format!("building an intent: {e}")));
    }
    let execution = view
        .client()
        .simulate(&builder.to_call(me), &ctx)
        .map_err(|e| DevnetError::Run(format!("simulating an intent: {e}")))?;
    builder
        .build_with(execution, wallet, &[])
        .map(|b| b.tx)
        .map_err(|e| DevnetError::Run(format!("building an intent: {e}")))
}

/// The pool's reserves (slots 2 and 3) in one batch request.
fn reserves(view: &RemoteView, pair: Address) -> Result<(U256, U256), DevnetError> {
    let slot = |s: u64| serde_json::json!(["s", pair, alloy_primitives::B256::from(U256::from(s))]);
    let answers = view
        .client()
        .batch(&[("mf_getVersion", slot(2)), ("mf_getVersion", slot(3))])
        .map_err(|e| DevnetError::Run(e.to_string()))?;
    let mut out = [U256::ZERO; 2];
    for (o, a) in out.iter_mut().zip(answers) {
        let v: mf_movegen::rpc::VersionJson = a
            .map_err(|e| DevnetError::Run(e.to_string()))
            .and_then(|j| serde_json::from_value(j).map_err(|e| DevnetError::Run(e.to_string())))?;
        match v.value.to_value(mf_format::Mark::Storage) {
            Some(mf_format::Value::Storage(w)) => *o = w,
            _ => {
                return Err(DevnetError::Run(
                    "a storage answer of the wrong type".into(),
                ));
            }
        }
    }
    Ok((out[0], out[1]))
}

/// Devnet options.
#[derive(Clone, Debug)]
pub struct DevnetConfig {
    /// Where the data directories and logs go (a fresh temporary directory if `None`).
    pub dir: Option<PathBuf>,
    /// The `mf-validator` binary.
    pub validator_bin: PathBuf,
    /// The `mf-coordinator` binary (this one).
    pub coordinator_bin: PathBuf,
    /// Wallets.
    pub wallets: usize,
    /// Merchants.
    pub merchants: usize,
    /// Cold pools (besides the hot one).
    pub cold_pools: usize,
    /// Intents to send in all.
    pub intents: u64,
    /// Stop sending after this long.
    pub max_time: Duration,
    /// Share of swaps that go to the hot pool.
    pub hot_share: f64,
    /// Driver threads.
    pub threads: usize,
    /// Show a progress bar.
    pub progress: bool,
    /// Extra arguments for `mf-coordinator serve`.
    pub coordinator_args: Vec<String>,
}

/// The outcome of a devnet run.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Intents submitted.
    pub submitted: u64,
    /// Accepted.
    pub accepted: u64,
    /// Rejected, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// Intents the wallets could not build (a local revert), by message.
    pub not_built: u64,
    /// Intents still open at the end.
    pub unfinished: u64,
    /// Seconds spent driving.
    pub seconds: f64,
    /// Moves applied by the validator during the run.
    pub moves: u64,
    /// Latencies of accepted intents, submission to verdict, in milliseconds (sorted).
    pub latencies_ms: Vec<f64>,
    /// Height at the end.
    pub height: u64,
    /// Whether the coordinator's state hash equals the validator's at the end.
    pub state_hash_agrees: bool,
    /// The directory holding data and logs.
    pub dir: PathBuf,
}

impl Summary {
    /// The `q` quantile of the latencies (0 when none).
    pub fn latency(&self, q: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_ms.len() - 1) as f64 * q).round() as usize;
        self.latencies_ms[i.min(self.latencies_ms.len() - 1)]
    }

    /// Renders the summary for a terminal.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let tps = self.accepted as f64 / self.seconds.max(1e-9);
        s.push_str(&format!(
            "devnet: {} intents submitted in {:.1} s\n",
            self.submitted, self.seconds
        ));
        s.push_str(&format!("  accepted   {:>8}\n", self.accepted));
        let rejected: u64 = self.rejected.values().sum();
        s.push_str(&format!("  rejected   {rejected:>8}\n"));
        for (r, n) in &self.rejected {
            s.push_str(&format!("    {r:<28} {n:>6}\n"));
        }
        if self.not_built > 0 {
            s.push_str(&format!(
                "  not built  {:>8} (reverted in the wallet before submission)\n",
                self.not_built
            ));
        }
        if self.unfinished > 0 {
            s.push_str(&format!("  unfinished {:>8}\n", self.unfinished));
        }
        s.push_str(&format!(
            "  throughput {tps:.0} tx/s accepted, {:.0} moves/s\n",
            self.moves as f64 / self.seconds.max(1e-9)
        ));
        s.push_str(&format!(
            "  latency    p50 {:.0} ms  p90 {:.0} ms  p99 {:.0} ms  max {:.0} ms\n",
            self.latency(0.5),
            self.latency(0.9),
            self.latency(0.99),
            self.latency(1.0)
        ));
        s.push_str(&format!(
            "  height {}; coordinator state hash {} the validator's\n",
            self.height,
            if self.state_hash_agrees {
                "equals"
            } else {
                "DIFFERS FROM"
            }
        ));
        s.push_str(&format!("  data and logs in {}\n", self.dir.display()));
        s
    }
}

/// A child process that is stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Proc {
    child: Child,
    name: String,
}

impl Proc {
    /// Spawns `bin args`, logs to `log`, and waits for its `listening on ADDR` line.
    pub fn start(
        name: &str,
        bin: &Path,
        args: &[String],
        log: &Path,
    ) -> Result<(Proc, String), DevnetError> {
        let log_file = std::fs::File::create(log).map_err(setup)?;
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file));
        // Its own process group: a Ctrl-C in the terminal reaches the devnet only, which
        // then stops its processes in order.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd
            .spawn()
            .map_err(|e| setup(format!("cannot start {}: {e}", bin.display())))?;
        let Some(out) = child.stdout.take() else {
            return Err(setup("no stdout"));
        };
        let mut proc = Proc {
            child,
            name: name.into(),
        };
        let mut lines = BufReader::new(out).lines();
        let addr = loop {
            match lines.next() {
                Some(Ok(l)) => {
                    if let Some(a) = l.strip_prefix("listening on ") {
                        break a.trim().to_string();
                    }
                }
                _ => {
                    let _ = proc.child.wait();
                    return Err(setup(format!(
                        "{name} exited before listening; see {}",
                        log.display()
                    )));
                }
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok((proc, addr))
    }

    /// Sends SIGTERM and waits up to `grace`, then kills.
    pub fn stop(&mut self, grace: Duration) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let start = Instant::now();
        while start.elapsed() < grace {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::warn!("{} did not stop in {grace:?}; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills the process with SIGKILL (no chance to clean up) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The OS process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop(Duration::from_secs(5));
        }
    }
}

/// Runs `mf-validator init`, then starts `serve`: `(process, base URL)`.
pub fn start_validator(
    bin: &Path,
    dir: &Path,
    genesis: &Genesis,
) -> Result<(Proc, String), DevnetError> {
    let gpath = dir.join("genesis.json");
    std::fs::write(&gpath, genesis.to_json().to_string()).map_err(setup)?;
    let data = dir.join("validator");
    let status = Command::new(bin)
        .args(["init", "--data"])
        .arg(&data)
        .arg("--genesis")
        .arg(&gpath)
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("validator-init.log")).map_err(setup)?,
        ))
        .status()
        .map_err(|e| setup(format!("cannot run {}: {e}", bin.display())))?;
    if !status.success() {
        return Err(setup(format!("mf-validator init failed ({status})")));
    }
    let (p, addr) = Proc::start(
        "mf-validator",
        bin,
        &[
            "serve".into(),
            "--data".into(),
            data.display().to_string(),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ],
        &dir.join("validator.log"),
    )?;
    Ok((p, format!("http://{addr}")))
}

/// Starts `mf-coordinator serve` against `validator`: `(process, base URL)`.
pub fn start_coordinator(
    bin: &Path,
    dir: &Path,
    name: &str,
    validator: &str,
    extra: &[String],
) -> Result<(Proc, String), DevnetError> {
    let mut args: Vec<String> = vec![
        "serve".into(),
        "--validator".into(),
        validator.into(),
        "--data".into(),
        dir.join(name).display().to_string(),
        "--listen".into(),
        "127.0.0.1:0".into(),
    ];
    args.extend(extra.iter().cloned());
    let (p, addr) = Proc::start(name, bin, &args, &dir.join(format!("{name}.log")))?;
    Ok((p, format!("http://{addr}")))
}

/// Waits until the coordinator has loaded the genesis.
pub fn wait_ready(client: &RpcClient, timeout: Duration) -> Result<u64, DevnetError> {
    let start = Instant::now();
    loop {
        match client.block_number() {
            Ok(h) => return Ok(h),
            Err(e) if start.elapsed() > timeout => {
                return Err(DevnetError::Run(format!("coordinator not ready: {e}")));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

struct SplitMix(u64);
impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Default)]
struct Tally {
    submitted: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    not_built: AtomicU64,
    by_reason: Mutex<BTreeMap<String, u64>>,
    latencies: Mutex<Vec<f64>>,
}

/// Drives `world`'s wallets through the coordinator at `url` (see the module
/// documentation); returns when `intents` were sent and answered, or `max_time` passed.
#[allow(clippy::too_many_arguments)]
fn drive(
    world: &Arc<World>,
    url: &str,
    intents: u64,
    max_time: Duration,
    hot_share: f64,
    threads: usize,
    progress: Option<&indicatif::ProgressBar>,
    done: &Arc<AtomicBool>,
) -> (Tally, f64, u64) {
    let tally = Arc::new(Tally::default());
    let budget = Arc::new(AtomicU64::new(intents));
    let start = Instant::now();
    let threads = threads.clamp(1, world.wallets.len().max(1));
    let mut handles = Vec::new();
    for t in 0..threads {
        let world = Arc::clone(world);
        let tally = Arc::clone(&tally);
        let budget = Arc::clone(&budget);
        let done = Arc::clone(done);
        let url = url.to_string();
        handles.push(std::thread::spawn(move || {
            let client = RpcClient::new(&url);
            let view = RemoteView::new(client.clone());
            let mine: Vec<usize> = (t..world.wallets.len()).step_by(threads).collect();
            let mut rng = SplitMix(0x5eed ^ (t as u64) << 32);
            let mut inflight: BTreeMap<usize, (TxId, Instant)> = BTreeMap::new();
            let mut stop_sending = false;
            let mut stopped_at: Option<Instant> = None;
            loop {
                if !stop_sending && (start.elapsed() > max_time || done.load(Relaxed)) {
                    stop_sending = true;
                }
                if !stop_sending {
                    let height = client.block_number().unwrap_or(0);
                    for &w in &mine {
                        if inflight.contains_key(&w) {
                            continue;
                        }
                        if budget
                            .fetch_update(Relaxed, Relaxed, |b| b.checked_sub(1))
                            .is_err()
                        {
                            stop_sending = true;
                            break;
                        }
                        let op = pick(&mut rng, world.pools.len(), hot_share);
                        let merchant = world.merchants
                            [(rng.next() % world.merchants.len().max(1) as u64) as usize];
                        let amount = units(1 + rng.next() % 50);
                        let ctx = ExecContext {
                            block_number: height + 1,
                            timestamp: std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .map_or(0, |d| d.as_secs()),
                        };
                        let tx = match build_intent(
                            &world,
                            &view,
                            &world.wallets[w],
                            op,
                            merchant,
                            amount,
                            ctx,
                            true,
                        ) {
                            Ok(tx) => tx,
                            Err(e) => {
                                tracing::debug!("wallet {w}: {e}");
                                tally.not_built.fetch_add(1, Relaxed);
                                continue;
                            }
                        };
                        match client.submit(&tx) {
                            Ok(id) => {
                                tally.submitted.fetch_add(1, Relaxed);
                                inflight.insert(w, (id, Instant::now()));
                            }
                            Err(e) => {
                                tracing::warn!("wallet {w}: submit: {e}");
                                budget.fetch_add(1, Relaxed);
                                std::thread::sleep(Duration::from_millis(20));
                            }
                        }
                    }
                }
                if inflight.is_empty() {
                    if stop_sending {
                        break;
                    }
                    continue;
                }
                // One long-poll for every open intent of this thread.
                let ids: Vec<(usize, TxId, Instant)> =
                    inflight.iter().map(|(w, (id, t))| (*w, *id, *t)).collect();
                let wait_for: Vec<TxId> = ids.iter().map(|(_, id, _)| *id).collect();
                let timeout = if stop_sending {
                    Duration::from_millis(500)
                } else {
                    Duration::from_millis(50)
                };
                if let Ok(answers) = client.wait_any(&wait_for, timeout) {
                    for ((w, _, sent), st) in ids.iter().zip(answers) {
                        let Some(st) = st else { continue };
                        if !st.status.is_final() {
                            continue;
                        }
                        inflight.remove(w);
                        if st.status == IntentState::Accepted {
                            tally.accepted.fetch_add(1, Relaxed);
                            if let Ok(mut l) = tally.latencies.lock() {
                                l.push(sent.elapsed().as_secs_f64() * 1e3);
                            }
                        } else {
                            tally.rejected.fetch_add(1, Relaxed);
                            let r = st.reason.unwrap_or_else(|| "unknown".into());
                            if let Ok(mut m) = tally.by_reason.lock() {
                                *m.entry(r).or_default() += 1;
                            }
                        }
                    }
                } else {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let give_up = if done.load(Relaxed) {
                    Duration::from_secs(5)
                } else {
                    Duration::from_secs(60)
                };
                if stop_sending && stopped_at.get_or_insert_with(Instant::now).elapsed() > give_up {
                    break;
                }
            }
            inflight.len() as u64
        }));
    }
    let mut unfinished = 0;
    let mut handles: Vec<Option<std::thread::JoinHandle<u64>>> =
        handles.into_iter().map(Some).collect();
    loop {
        if let Some(pb) = progress {
            let a = tally.accepted.load(Relaxed);
            let r = tally.rejected.load(Relaxed);
            pb.set_position(a + r);
            pb.set_message(format!(
                "accepted {a}, rejected {r}, {:.0} tx/s",
                a as f64 / start.elapsed().as_secs_f64().max(1e-9)
            ));
        }
        if handles
            .iter()
            .all(|h| h.as_ref().is_none_or(|h| h.is_finished()))
        {
            for h in handles.iter_mut() {
                if let Some(h) = h.take() {
                    unfinished += h.join().unwrap_or(0);
                }
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let secs = start.elapsed().as_secs_f64();
    let tally = Arc::try_unwrap(tally).unwrap_or_default();
    (tally, secs, unfinished)
}

fn pick(rng: &mut SplitMix, pools: usize, hot_share: f64) -> Op {
    let x = rng.unit();
    if x < 0.15 {
        Op::Pay
    } else if x < 0.3 {
        Op::PayToken
    } else {
        let pool = if rng.unit() < hot_share || pools <= 1 {
            0
        } else {
            1 + (rng.next() % (pools as u64 - 1)) as usize
        };
        Op::Swap {
            pool,
            sell_hub: rng.next().is_multiple_of(2),
            tight: rng.unit() < 0.1,
        }
    }
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

fn validator_metric(agent: &ureq::Agent, base: &str, name: &str) -> u64 {
    agent
        .get(format!("{base}/metrics"))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .map_or(0, |t| metric(&t, name))
}

/// On SIGINT or SIGTERM, raises `flag` (the wallets stop sending, the processes are stopped
/// and the summary printed) instead of dying with the children still running.
fn watch_signals(flag: &Arc<AtomicBool>) {
    let flag = Arc::clone(flag);
    let _ = std::thread::Builder::new()
        .name("mf-signals".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                #[cfg(unix)]
                {
                    use tokio::signal::unix::{SignalKind, signal};
                    let (Ok(mut int), Ok(mut term)) = (
                        signal(SignalKind::interrupt()),
                        signal(SignalKind::terminate()),
                    ) else {
                        return;
                    };
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                #[cfg(not(unix))]
                {
                    let _ = tokio::signal::ctrl_c().await;
                }
                eprintln!("devnet: stopping (waiting up to 5 s for intents in flight)");
                flag.store(true, Relaxed);
            });
        });
}

/// Runs the devnet.
pub fn run(cfg: &DevnetConfig) -> Result<Summary, DevnetError> {
    let (dir, _tmp) = match &cfg.dir {
        Some(d) => {
            if d.exists() && std::fs::read_dir(d).map_err(setup)?.next().is_some() {
                return Err(setup(format!(
                    "{} is not empty: give a new directory (or none for a temporary one)",
                    d.display()
                )));
            }
            std::fs::create_dir_all(d).map_err(setup)?;
            (d.clone(), None)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("mf-devnet-")
                .tempdir()
                .map_err(setup)?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    if !cfg.validator_bin.exists() {
        return Err(setup(format!(
            "no validator binary at {}: build it first (cargo build --release -p mf-validator) \
             or pass --validator-bin",
            cfg.validator_bin.display()
        )));
    }
    let world = Arc::new(World::new(cfg.wallets, cfg.merchants, cfg.cold_pools)?);
    let genesis = world.genesis();
    let (mut validator, vurl) = start_validator(&cfg.validator_bin, &dir, &genesis)?;
    let (mut coordinator, curl) = start_coordinator(
        &cfg.coordinator_bin,
        &dir,
        "coordinator",
        &vurl,
        &cfg.coordinator_args,
    )?;
    let client = RpcClient::new(&curl);
    wait_ready(&client, Duration::from_secs(30))?;
    let agent = mf_movegen::remote::http_agent(Some(Duration::from_secs(10)));
    let moves_before = validator_metric(&agent, &vurl, "mf_moves_applied_total");

    let pb = if cfg.progress {
        let pb = indicatif::ProgressBar::new(cfg.intents);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(pb)
    } else {
        None
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    watch_signals(&interrupted);
    let (tally, seconds, unfinished) = drive(
        &world,
        &curl,
        cfg.intents,
        cfg.max_time,
        cfg.hot_share,
        cfg.threads,
        pb.as_ref(),
        &interrupted,
    );
    if let Some(pb) = &pb {
        pb.finish_and_clear();
    }
    let moves =
        validator_metric(&agent, &vurl, "mf_moves_applied_total").saturating_sub(moves_before);

    // The coordinator's index must end where the validator is.
    let vhead: serde_json::Value = agent
        .get(format!("{vurl}/head"))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let vheight = vhead["height"].as_u64().unwrap_or(0);
    let start = Instant::now();
    let mut agrees = false;
    let mut height = 0;
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(h) = client.head() {
            height = h.height.to::<u64>();
            if height >= vheight {
                agrees = vhead["state_hash"].as_str() == Some(&format!("{:#x}", h.state_hash)[..]);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    coordinator.stop(Duration::from_secs(10));
    validator.stop(Duration::from_secs(10));
    let mut latencies = tally.latencies.into_inner().unwrap_or_default();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let summary = Summary {
        submitted: tally.submitted.load(Relaxed),
        accepted: tally.accepted.load(Relaxed),
        rejected: tally.by_reason.into_inner().unwrap_or_default(),
        not_built: tally.not_built.load(Relaxed),
        unfinished,
        seconds,
        moves,
        latencies_ms: latencies,
        height,
        state_hash_agrees: agrees,
        dir: dir.clone(),
    };
    if let Some(t) = _tmp {
        // Keep the logs when something went wrong.
        if summary.state_hash_agrees && summary.unfinished == 0 {
            drop(t);
        } else {
            let _ = t.keep();
        }
    }
    Ok(summary)
}
