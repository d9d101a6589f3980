//! `mf-coordinator dev`: a development node, the way `anvil` is one. A validator and a
//! coordinator run as real processes on loopback (the ones the devnet starts,
//! [`mf_devkit::process`]) on the development world ([`mf_devkit::dev`]): chain id 31337,
//! the ten well-known development accounts with 10,000 ETH and a million of each token, the
//! project's token and pair contracts deployed. It prints the RPC URL, the chain id, the
//! contracts and the accounts with their private keys, then runs until SIGINT (Ctrl-C) or
//! SIGTERM, and stops both processes.
//!
//! The data directory is a temporary one (removed on exit) unless `--data` names one; a
//! directory that already holds a development node's data is resumed where it stopped.

use anyhow::{Context, Result, bail};
use mf_devkit::dev::{self, DevWorld};
use mf_devkit::process::{Proc, init_validator, serve_validator, start_coordinator_at, wait_ready};
use mf_movegen::remote::RpcClient;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

/// Development node options.
#[derive(Clone, Debug)]
pub struct DevConfig {
    /// Where the coordinator's JSON-RPC listens (port 0: a free one).
    pub listen: SocketAddr,
    /// The data directory (`None`: a temporary one, removed on exit).
    pub data: Option<PathBuf>,
    /// The `mf-validator` binary.
    pub validator_bin: PathBuf,
    /// The `mf-coordinator` binary (this one).
    pub coordinator_bin: PathBuf,
}

/// The names of the two processes' data directories (and logs) under the data directory.
const VALIDATOR: &str = "validator";
const COORDINATOR: &str = "coordinator";

/// Runs the development node until a shutdown signal (or until a process of it exits, an
/// error).
pub fn run(cfg: &DevConfig) -> Result<()> {
    if !cfg.validator_bin.exists() {
        bail!(
            "no validator binary at {}: build it first (cargo build -p mf-validator-cli) or pass \
             --validator-bin",
            cfg.validator_bin.display()
        );
    }
    if cfg.listen.port() != 0 {
        // Say so plainly before starting anything (the coordinator would only log it).
        std::net::TcpListener::bind(cfg.listen).with_context(|| {
            format!(
                "cannot listen on {} (is another node, anvil for one, running there? \
                 pick another with --port)",
                cfg.listen
            )
        })?;
    }
    let (dir, tmp, resume) = data_dir(cfg.data.as_deref())?;
    let world = DevWorld::new()?;
    if !resume {
        init_validator(&cfg.validator_bin, &dir, VALIDATOR, &world.genesis())?;
    }
    let (mut validator, vurl) = serve_validator(&cfg.validator_bin, &dir, VALIDATOR, &[])?;
    let (mut coordinator, curl) = start_coordinator_at(
        &cfg.coordinator_bin,
        &dir,
        COORDINATOR,
        &vurl,
        &cfg.listen.to_string(),
        // Like anvil's automine: a sent transaction is final when its hash comes back.
        &["--send-wait-ms".to_string(), "10000".to_string()],
    )?;
    wait_ready(&RpcClient::new(&curl), Duration::from_secs(30))?;
    let addr = curl.trim_start_matches("http://").to_string();

    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    mf_cli::on_shutdown_signal(move || flag.store(true, Relaxed));

    let mut out = std::io::stdout().lock();
    out.write_all(banner(&world, &addr, &dir, tmp.is_some(), resume, &vurl).as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write to stdout")?;
    drop(out);

    let exited = wait(
        &stop,
        &mut [(&mut validator, VALIDATOR), (&mut coordinator, COORDINATOR)],
    );
    eprintln!("dev: stopping the coordinator and the validator");
    coordinator.stop(Duration::from_secs(10));
    validator.stop(Duration::from_secs(10));
    match exited {
        None => {
            drop(tmp);
            Ok(())
        }
        Some(which) => {
            // Keep the logs of a failed run.
            if let Some(t) = tmp {
                let _ = t.keep();
            }
            bail!(
                "the {which} exited on its own; its log: {}",
                dir.join(format!("{which}.log")).display()
            )
        }
    }
}

/// The data directory: `(path, the temporary directory to remove on exit, whether it holds
/// an earlier run's data)`.
fn data_dir(data: Option<&Path>) -> Result<(PathBuf, Option<tempfile::TempDir>, bool)> {
    let Some(d) = data else {
        let t = tempfile::Builder::new()
            .prefix("mf-dev-")
            .tempdir()
            .context("cannot create a temporary directory")?;
        return Ok((t.path().to_path_buf(), Some(t), false));
    };
    if d.join(VALIDATOR).is_dir() {
        return Ok((d.to_path_buf(), None, true));
    }
    if has_entries(d)? {
        bail!(
            "{} is neither empty nor a development node's data directory: give a new one",
            d.display()
        );
    }
    std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    Ok((d.to_path_buf(), None, false))
}

/// Waits until `stop` is set (`None`) or a process exits (`Some(its name)`).
fn wait(stop: &AtomicBool, procs: &mut [(&mut Proc, &'static str)]) -> Option<&'static str> {
    while !stop.load(Relaxed) {
        for (p, name) in procs.iter_mut() {
            if let Some(status) = p.try_wait() {
                tracing::error!("{name} exited ({status})");
                return Some(name);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// What the node prints once it is ready, in the manner of anvil: the accounts and their
/// keys, the wallet, the contracts, the chain id, the base fee, the RPC URL. Its last line is
/// `listening on ADDR`, as `serve`'s is.
fn banner(
    world: &DevWorld,
    addr: &str,
    dir: &Path,
    temporary: bool,
    resumed: bool,
    vurl: &str,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nmf-coordinator dev: a validator and a coordinator on loopback\n"
    );
    let _ = writeln!(s, "Available Accounts\n==================\n");
    for (i, a) in dev::ADDRESSES.iter().enumerate() {
        let _ = writeln!(s, "({i}) {a} ({} ETH)", dev::BALANCE_ETH);
    }
    let _ = writeln!(s, "\nPrivate Keys\n==================\n");
    for (i, k) in dev::KEYS.iter().enumerate() {
        let _ = writeln!(s, "({i}) {k}");
    }
    let _ = writeln!(s, "\nWallet\n==================");
    let _ = writeln!(s, "Mnemonic:          {}", dev::MNEMONIC);
    let _ = writeln!(s, "Derivation path:   m/44'/60'/0'/0/");
    let _ = writeln!(s, "\nContracts\n==================\n");
    for t in &world.tokens {
        let _ = writeln!(
            s,
            "Token {} ({}, ERC20, 18 decimals): {}",
            t.symbol, t.name, t.addr
        );
    }
    let _ = writeln!(
        s,
        "Pair {}/{} (constant product): {}",
        world.tokens[0].symbol, world.tokens[1].symbol, world.pair
    );
    let _ = writeln!(
        s,
        "(every account holds {} of each token and lets the pair spend them; account 0 holds \
         the pair's LP shares)",
        dev::TOKENS_EACH
    );
    let _ = writeln!(s, "\nChain ID\n==================\n\n{}", dev::CHAIN_ID);
    let _ = writeln!(
        s,
        "\nBase Fee\n==================\n\n{}",
        mf_devkit::devnet::BASE_FEE
    );
    let _ = writeln!(s, "\nValidator: {vurl}");
    let _ = writeln!(
        s,
        "Data: {}{} (logs: {VALIDATOR}.log, {COORDINATOR}.log)",
        dir.display(),
        if temporary {
            ", removed on exit"
        } else if resumed {
            ", resumed"
        } else {
            ""
        }
    );
    let _ = writeln!(s, "\nRPC URL: http://{}", url_host(addr));
    let _ = writeln!(s, "listening on {addr}");
    s
}

/// `addr` with an unspecified IP (`0.0.0.0`, `[::]`) replaced by loopback: where a client
/// on this machine connects.
fn url_host(addr: &str) -> String {
    match addr.parse::<SocketAddr>() {
        Ok(a) if a.ip().is_unspecified() => {
            let ip = if a.is_ipv4() { "127.0.0.1" } else { "[::1]" };
            format!("{ip}:{}", a.port())
        }
        _ => addr.to_string(),
    }
}

/// Whether `d` exists and holds anything (a data directory given on the command line must
/// be new or empty, unless it is resumable).
pub(crate) fn has_entries(d: &std::path::Path) -> Result<bool> {
    Ok(d.exists()
        && std::fs::read_dir(d)
            .with_context(|| format!("cannot read {}", d.display()))?
            .next()
            .is_some())
}
