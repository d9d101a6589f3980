//! Shared helpers: real `mf-validator` and `mf-coordinator` processes on loopback.
#![allow(dead_code)]

pub mod replicas;

use mf_devkit::devnet::DevnetWorld;
use mf_devkit::process::{Proc, start_coordinator, start_validator};
use mf_movegen::remote::RpcClient;
use std::path::PathBuf;
use std::time::Duration;
use tempfile::TempDir;

/// This package's binary.
pub fn coordinator_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mf-coordinator"))
}

/// The validator binary of the same build (another package, `mf-validator-cli`: built on
/// demand when this package's tests run alone).
pub fn validator_bin() -> PathBuf {
    let bin =
        coordinator_bin().with_file_name(format!("mf-validator{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        cmd.args(["build", "-p", "mf-validator-cli", "--bin", "mf-validator"]);
        if bin
            .parent()
            .and_then(|p| p.file_name())
            .is_some_and(|n| n == "release")
        {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build for mf-validator");
        assert!(status.success(), "building mf-validator failed");
    }
    bin
}

/// A validator and its data, plus coordinators.
pub struct Net {
    pub dir: TempDir,
    pub world: DevnetWorld,
    pub validator: Proc,
    pub vurl: String,
}

impl Net {
    pub fn start(world: DevnetWorld) -> Net {
        let dir = tempfile::tempdir().expect("tempdir");
        let (validator, vurl) =
            start_validator(&validator_bin(), dir.path(), &world.genesis()).expect("validator");
        Net {
            dir,
            world,
            validator,
            vurl,
        }
    }

    /// Starts a coordinator named `name` (its data dir is `dir/name`).
    pub fn coordinator(&self, name: &str, extra: &[&str]) -> (Proc, RpcClient) {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let (p, url) = start_coordinator(
            &coordinator_bin(),
            self.dir.path(),
            name,
            &self.vurl,
            &extra,
        )
        .expect("coordinator");
        let client = RpcClient::new(&url);
        mf_devkit::process::wait_ready(&client, Duration::from_secs(30)).expect("ready");
        (p, client)
    }

    /// Restarts the validator on its data directory (a new port is not possible for
    /// followers: it listens on the same address again).
    pub fn validator_addr(&self) -> String {
        self.vurl.trim_start_matches("http://").to_string()
    }
}

/// Raw JSON-RPC POST: `(HTTP status, body)`.
pub fn post_raw(url: &str, body: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut r = agent
        .post(url)
        .header("content-type", "application/json")
        .send(body.as_bytes())
        .expect("post");
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_string().expect("body"))
}

/// GET a path of a base URL: the body.
pub fn get_text(url: &str) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    agent
        .get(url)
        .call()
        .expect("get")
        .body_mut()
        .read_to_string()
        .expect("body")
}

/// The context of an intent built now: the block after `height`, the current time
/// (PROTOCOL.md §6.3.1: a wallet's context).
pub fn next_block(height: u64) -> mf_format::ExecContext {
    mf_format::ExecContext {
        block_number: height + 1,
        timestamp: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    }
}

/// A Prometheus metric's value.
pub fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// The validator's accepted transactions at heights `1..=height`, in chain order
/// (`GET /batch/{h}`), with that height: what clients sent, so without the validator's
/// fee credits (the devnet charges fees, PROTOCOL.md §6.4.6).
pub fn chain(vurl: &str) -> (u64, Vec<mf_format::Transaction>) {
    let head: serde_json::Value =
        serde_json::from_str(&get_text(&format!("{vurl}/head"))).expect("head");
    let height = head["height"].as_u64().expect("height");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut txs = Vec::new();
    for h in 1..=height {
        let bytes = agent
            .get(format!("{vurl}/batch/{h}"))
            .call()
            .expect("GET /batch")
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .expect("batch bytes");
        txs.extend(
            mf_format::decode_batch(&bytes)
                .expect("a stored batch decodes")
                .txs
                .into_iter()
                .filter(|t| !mf_format::is_fee_credit(t)),
        );
    }
    (height, txs)
}

/// SplitMix64: a small seeded generator, so a failing run can be replayed from its seed.
pub use mf_devkit::rng::SplitMix as SplitMix64;

/// The client-conformance scripts' directory (`tests/clients`, with its npm packages).
pub fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Fails unless viem is installed in [`clients_dir`].
pub fn need_viem() {
    assert!(
        clients_dir().join("node_modules/viem").exists(),
        "the npm packages of cli/coordinator/tests/clients are not installed: run ./test.sh \
         (or `npm ci --prefix cli/coordinator/tests/clients`; needs Node.js)"
    );
}
