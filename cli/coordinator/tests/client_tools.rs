//! The tools developers point at a development node, used as they are: Foundry's `cast`
//! (`tests/clients/cast.sh`), web3.py (`tests/clients/web3_check.py`) and viem
//! (`tests/clients/viem_check.mjs`). Each script deploys the project's ERC20 from its
//! artifact, sends value and contract calls with automatic fees, reads receipts, blocks and
//! logs (viem also watches blocks and events over WebSocket, web3.py uses filters), and
//! prints `ok NAME` or `FAIL NAME: why` per check.
//!
//! anvil (Foundry's development node, from npm) is the reference: the `*_against_anvil`
//! tests run every script against it, so the scripts stay right; the `*_against_the_dev_node`
//! tests run the same scripts, unchanged, against `mf-coordinator dev`.
//!
//! Needs the npm packages of `tests/clients` (`npm ci`; ./test.sh runs it) and, for web3.py,
//! the virtual environment `tests/clients/.venv` with web3 and eth-account (./test.sh makes
//! it, best effort: without it the web3.py tests print SKIPPED).

use crate::util::*;
use mf_devkit::dev;
use mf_devkit::process::{Proc, free_port};
use mf_movegen::remote::RpcClient;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The first `node_modules/@foundry-rs/{tool}-*/bin/{tool}` (the platform package npm
/// installed).
fn foundry_bin(tool: &str) -> Option<PathBuf> {
    let dir = clients_dir().join("node_modules/@foundry-rs");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{tool}-"))
        })
        .map(|e| e.path().join("bin").join(tool))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.into_iter().next()
}

fn need_npm_packages() {
    need_viem();
    assert!(
        foundry_bin("cast").is_some(),
        "the npm packages of cli/coordinator/tests/clients are not installed: run ./test.sh \
         (or `npm ci --prefix cli/coordinator/tests/clients`; needs Node.js)"
    );
}

#[derive(Clone, Copy, Debug)]
enum Tool {
    Cast,
    Web3,
    Viem,
}

impl Tool {
    /// The command that runs this tool's checks, or `None` (after saying why) when its
    /// optional runtime is missing here.
    fn command(self) -> Option<Command> {
        let dir = clients_dir();
        let mut cmd = match self {
            Tool::Cast => {
                need_npm_packages();
                Command::new(dir.join("cast.sh"))
            }
            Tool::Viem => {
                need_npm_packages();
                let mut c = Command::new("node");
                c.arg(dir.join("viem_check.mjs"));
                c
            }
            Tool::Web3 => {
                let python = dir.join(".venv/bin/python");
                let usable = Command::new(&python)
                    .args(["-c", "import web3, eth_account"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                if !usable {
                    eprintln!(
                        "SKIPPED: no web3 and eth-account in {} (./test.sh installs them: \
                         python3 -m venv, then pip install -r requirements.txt)",
                        python.display()
                    );
                    return None;
                }
                let mut c = Command::new(python);
                c.arg(dir.join("web3_check.py"));
                c
            }
        };
        cmd.current_dir(&dir);
        Some(cmd)
    }
}

/// Runs `tool`'s checks against `url` with development account 0's key; they must all pass.
fn checks_pass(tool: Tool, url: &str) {
    let Some(mut cmd) = tool.command() else {
        return;
    };
    let out = cmd
        .arg(url)
        .arg(dev::KEYS[0].to_string())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run the {tool:?} checks: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{tool:?} against {url}:\n{stdout}");
    assert!(
        out.status.success() && !stdout.contains("FAIL") && stdout.contains("ok "),
        "the {tool:?} checks failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

/// anvil on a free loopback port (chain id 31337, the same ten accounts), killed when
/// dropped.
struct Anvil {
    child: Child,
    url: String,
    _dir: TempDir,
}

impl Anvil {
    fn start() -> Anvil {
        need_npm_packages();
        let bin = foundry_bin("anvil").expect("anvil from @foundry-rs/anvil");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port().expect("a free port");
        let log = std::fs::File::create(dir.path().join("anvil.log")).expect("log");
        let child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--chain-id", &dev::CHAIN_ID.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start anvil");
        let anvil = Anvil {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let client = RpcClient::new(&anvil.url);
        let start = Instant::now();
        while client
            .call_raw("eth_chainId", serde_json::json!([]))
            .is_err()
        {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "anvil did not answer on {} in 30 s",
                anvil.url
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        anvil
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `mf-coordinator dev` on a free loopback port: `(process, RPC URL, its directory)`.
fn start_dev_node() -> (Proc, String, TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let args: Vec<String> = vec![
        "dev".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--data".into(),
        dir.path().join("node").display().to_string(),
        "--validator-bin".into(),
        validator_bin().display().to_string(),
    ];
    let (p, addr) = Proc::start(
        "dev",
        &coordinator_bin(),
        &args,
        &dir.path().join("dev.log"),
    )
    .expect("start mf-coordinator dev");
    (p, format!("http://{addr}"), dir)
}

#[test]
fn cast_checks_pass_against_anvil() {
    let anvil = Anvil::start();
    checks_pass(Tool::Cast, &anvil.url);
}

#[test]
fn web3_checks_pass_against_anvil() {
    let anvil = Anvil::start();
    checks_pass(Tool::Web3, &anvil.url);
}

#[test]
fn viem_checks_pass_against_anvil() {
    let anvil = Anvil::start();
    checks_pass(Tool::Viem, &anvil.url);
}

#[test]
fn cast_checks_pass_against_the_dev_node() {
    let (_node, url, _dir) = start_dev_node();
    checks_pass(Tool::Cast, &url);
}

#[test]
fn web3_checks_pass_against_the_dev_node() {
    let (_node, url, _dir) = start_dev_node();
    checks_pass(Tool::Web3, &url);
}

#[test]
fn viem_checks_pass_against_the_dev_node() {
    let (_node, url, _dir) = start_dev_node();
    checks_pass(Tool::Viem, &url);
}
