//! Replica validators on the ordered batch log (docs/REPLICATION.md) for the coordinator's
//! tests: a real `nats-server -js` (or a cluster of them) on free loopback ports, and real `mf-validator serve
//! --order` processes on one genesis, each on a fixed port so that a replica restarted after
//! a SIGKILL answers at the URL the coordinators were given.
//!
//! Without `nats-server` a test that needs it prints a SKIPPED line and passes, unless
//! `MF_REQUIRE_NATS` is set (then it fails): see [`nats_server_or_skip`].

use super::validator_bin;
use mf_devkit::devnet::DevnetWorld;
use mf_devkit::process::{NatsCluster, Proc, nats_server_bin, start_nats_cluster};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// `nats-server`, or `None` after printing a SKIPPED line for `test` (a failure instead
/// when `MF_REQUIRE_NATS` is set).
pub fn nats_server_or_skip(test: &str) -> Option<PathBuf> {
    let found = nats_server_bin();
    if found.is_none() {
        assert!(
            std::env::var_os("MF_REQUIRE_NATS").is_none(),
            "MF_REQUIRE_NATS is set but nats-server is not on the PATH"
        );
        println!("SKIPPED {test}: nats-server not found on the PATH (apt-get install nats-server)");
    }
    found
}

/// A free loopback port (free when asked: good enough for a test's own processes).
pub fn free_port() -> u16 {
    mf_devkit::process::free_port().expect("a free port")
}

/// One replica: its data directory, its fixed port, and its process while it runs.
pub struct Replica {
    pub name: String,
    pub data: PathBuf,
    pub port: u16,
    log_dir: PathBuf,
    order: String,
    order_replicas: usize,
    proc: Option<Proc>,
    starts: usize,
}

impl Replica {
    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts (or restarts) `serve --order` on its data directory and port; returns once
    /// it listens. A restart right after a SIGKILL may find the port still held for a
    /// moment: it is tried again for a few seconds.
    pub fn start(&mut self) {
        let bin = validator_bin();
        let args: Vec<String> = [
            "serve",
            "--data",
            &self.data.display().to_string(),
            "--listen",
            &format!("127.0.0.1:{}", self.port),
            "--order",
            &self.order,
            "--order-replicas",
            &self.order_replicas.to_string(),
        ]
        .map(String::from)
        .to_vec();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.starts += 1;
            let log = self
                .log_dir
                .join(format!("{}-{}.log", self.name, self.starts));
            match Proc::start(&self.name, &bin, &args, &log) {
                Ok((p, _)) => {
                    self.proc = Some(p);
                    return;
                }
                Err(e) => {
                    assert!(
                        Instant::now() < deadline,
                        "{} did not start: {e}",
                        self.name
                    );
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }

    /// SIGTERM, and waits for it to stop.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop(Duration::from_secs(20));
        }
    }
}

/// A NATS server and replica validators of one chain on it.
pub struct ReplicaSet {
    pub dir: tempfile::TempDir,
    pub nats: NatsCluster,
    pub replicas: Vec<Replica>,
}

impl ReplicaSet {
    /// `n` replicas of `world`'s genesis on a new NATS server, started.
    pub fn start(nats_bin: &Path, world: &DevnetWorld, n: usize) -> ReplicaSet {
        ReplicaSet::start_with(nats_bin, world, n, 1)
    }

    /// `n` replicas of `world`'s genesis on `nats_nodes` new NATS servers (a cluster when
    /// more than one; the stream then has that many copies), started.
    pub fn start_with(
        nats_bin: &Path,
        world: &DevnetWorld,
        n: usize,
        nats_nodes: usize,
    ) -> ReplicaSet {
        let dir = tempfile::tempdir().expect("tempdir");
        let nats = start_nats_cluster(nats_bin, &dir.path().join("js"), nats_nodes)
            .expect("nats-server starts");
        let genesis = dir.path().join("genesis.json");
        std::fs::write(&genesis, world.genesis().to_json().to_string()).expect("genesis");
        let mut set = ReplicaSet {
            dir,
            nats,
            replicas: Vec::new(),
        };
        for _ in 0..n {
            set.add_replica();
        }
        set
    }

    /// Initialises a new replica on the genesis and starts it (it replays the stream from
    /// its first message); returns its index.
    pub fn add_replica(&mut self) -> usize {
        let i = self.replicas.len();
        let name = format!("replica-{i}");
        let data = self.dir.path().join(&name);
        let genesis = self.dir.path().join("genesis.json");
        run_validator(&["init", "--data", &p(&data), "--genesis", &p(&genesis)]);
        let mut r = Replica {
            name,
            data,
            port: free_port(),
            log_dir: self.dir.path().to_path_buf(),
            order: self.nats.url.clone(),
            order_replicas: self.nats.len(),
            proc: None,
            starts: 0,
        };
        r.start();
        self.replicas.push(r);
        i
    }

    /// The replicas' URLs, comma-separated, starting with replica `first`: a coordinator's
    /// `--validator`.
    pub fn urls_from(&self, first: usize) -> String {
        let n = self.replicas.len();
        (0..n)
            .map(|i| self.replicas[(first + i) % n].url())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Waits until every replica has the same head height for a moment (nothing more is
    /// being applied), then checks that they hold the same header hash at every height;
    /// returns that height.
    pub fn wait_agreement(&self, timeout: Duration) -> u64 {
        let clients: Vec<mf_api::Client> = self
            .replicas
            .iter()
            .map(|r| mf_api::Client::new(&r.url()))
            .collect();
        let deadline = Instant::now() + timeout;
        let mut stable = 0;
        let mut last = None;
        let height = loop {
            let heights: Vec<Option<u64>> = clients
                .iter()
                .map(|c| c.head().ok().map(|h| h.height))
                .collect();
            let all_same = heights.windows(2).all(|w| w[0] == w[1]) && heights[0].is_some();
            if all_same && last == heights[0] {
                stable += 1;
                if stable >= 10 {
                    break heights[0].unwrap_or(0);
                }
            } else {
                stable = 0;
            }
            last = heights[0];
            assert!(
                Instant::now() < deadline,
                "the replicas do not reach one head: {heights:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        for h in 1..=height {
            let hashes: Vec<_> = clients
                .iter()
                .map(|c| c.header(h).expect("header").expect("a header").hash)
                .collect();
            assert!(
                hashes.windows(2).all(|w| w[0] == w[1]),
                "the replicas' header hashes differ at height {h}: {hashes:?}"
            );
        }
        height
    }

    /// Stops every replica (SIGTERM), then runs `check` and `verify-chain` on each data
    /// directory.
    pub fn stop_and_verify(&mut self) {
        for r in &mut self.replicas {
            r.stop();
        }
        for r in &self.replicas {
            run_validator(&["check", "--data", &p(&r.data)]);
            run_validator(&["verify-chain", "--data", &p(&r.data)]);
        }
    }
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// Runs `mf-validator ARGS` and asserts it succeeds; returns its stdout.
pub fn run_validator(args: &[&str]) -> String {
    let out = Command::new(validator_bin())
        .args(args)
        .output()
        .expect("run mf-validator");
    assert!(
        out.status.success(),
        "mf-validator {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
