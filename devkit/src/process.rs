//! Real `mf-validator` and `mf-coordinator` processes on loopback (and, for replicated
//! validators, a `nats-server` cluster), for the devnet and the tests: started with their logs in a directory, found by the `listening on ADDR` line they
//! print, and stopped (SIGTERM, then SIGKILL) when dropped, so that a failing test or an
//! interrupted devnet leaves nothing running.

use crate::DevkitError;
use mf_movegen::genesis::Genesis;
use mf_movegen::remote::RpcClient;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
    ) -> Result<(Proc, String), DevkitError> {
        let log_file = std::fs::File::create(log).map_err(DevkitError::setup)?;
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
            .map_err(|e| DevkitError::setup(format!("cannot start {}: {e}", bin.display())))?;
        let Some(out) = child.stdout.take() else {
            return Err(DevkitError::setup("no stdout"));
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
                    return Err(DevkitError::setup(format!(
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
        // Already exited (and reaped): its pid may belong to another process by now.
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
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

    /// Its exit status if it has exited (reaped then), `None` while it runs.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
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
) -> Result<(Proc, String), DevkitError> {
    start_validator_named(bin, dir, "validator", genesis, &[])
}

/// [`start_validator`] with the data directory and logs named `name` and `extra` arguments
/// for `serve` (a replica: `--order URLS --order-replicas 3`).
pub fn start_validator_named(
    bin: &Path,
    dir: &Path,
    name: &str,
    genesis: &Genesis,
    extra: &[String],
) -> Result<(Proc, String), DevkitError> {
    init_validator(bin, dir, name, genesis)?;
    serve_validator(bin, dir, name, extra)
}

/// Writes `genesis` to `dir/genesis.json` and runs `mf-validator init` on the data
/// directory `dir/name` (its log: `dir/name-init.log`).
pub fn init_validator(
    bin: &Path,
    dir: &Path,
    name: &str,
    genesis: &Genesis,
) -> Result<(), DevkitError> {
    let gpath = dir.join("genesis.json");
    std::fs::write(&gpath, genesis.to_json().to_string()).map_err(DevkitError::setup)?;
    let data = dir.join(name);
    let status = Command::new(bin)
        .args(["init", "--data"])
        .arg(&data)
        .arg("--genesis")
        .arg(&gpath)
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join(format!("{name}-init.log")))
                .map_err(DevkitError::setup)?,
        ))
        .status()
        .map_err(|e| DevkitError::setup(format!("cannot run {}: {e}", bin.display())))?;
    if !status.success() {
        return Err(DevkitError::setup(format!(
            "mf-validator init failed ({status})"
        )));
    }
    Ok(())
}

/// Starts `mf-validator serve` on the data directory `dir/name` (made by
/// [`init_validator`], or by an earlier run) on a free loopback port, with `extra`
/// arguments: `(process, base URL)`.
pub fn serve_validator(
    bin: &Path,
    dir: &Path,
    name: &str,
    extra: &[String],
) -> Result<(Proc, String), DevkitError> {
    let mut args: Vec<String> = vec![
        "serve".into(),
        "--data".into(),
        dir.join(name).display().to_string(),
        "--listen".into(),
        "127.0.0.1:0".into(),
    ];
    args.extend(extra.iter().cloned());
    let (p, addr) = Proc::start(name, bin, &args, &dir.join(format!("{name}.log")))?;
    Ok((p, format!("http://{addr}")))
}

/// `nats-server` on the PATH, or in the sbin directories Debian installs it to.
pub fn nats_server_bin() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join("nats-server"))
        .find(|f| f.is_file())
}

/// One `nats-server` of a [`NatsCluster`]: its command line and log, so that it can be
/// started again on the same ports and store.
struct NatsNode {
    args: Vec<String>,
    log: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl NatsNode {
    fn spawn(&mut self, bin: &Path) -> Result<(), DevkitError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(DevkitError::setup)?;
        let mut cmd = Command::new(bin);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .map_err(|e| DevkitError::setup(format!("cannot start {}: {e}", bin.display())))?;
        self.child = Some(child);
        Ok(())
    }

    fn wait_listening(&self) -> Result<(), DevkitError> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > deadline {
                return Err(DevkitError::setup(format!(
                    "nats-server on port {} did not start; see {}",
                    self.port,
                    self.log.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A NATS cluster with JetStream on loopback (`nats-server` processes), stopped when
/// dropped: the ordered batch log of replicated validators (docs/REPLICATION.md). A node
/// can be killed and started again on its ports and store ([`NatsCluster::kill`],
/// [`NatsCluster::restart`]).
pub struct NatsCluster {
    bin: PathBuf,
    nodes: Vec<NatsNode>,
    /// The servers' client URLs, comma-separated (`nats://127.0.0.1:PORT,...`): what a
    /// replica's `--order` takes.
    pub url: String,
}

impl NatsCluster {
    /// How many servers.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether it has no server.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// SIGKILLs server `i` (no-op for an index past the end).
    pub fn kill(&mut self, i: usize) {
        if let Some(n) = self.nodes.get_mut(i) {
            n.kill();
        }
    }

    /// Starts server `i` again on its ports and store, and waits until it accepts
    /// connections.
    pub fn restart(&mut self, i: usize) -> Result<(), DevkitError> {
        let Some(n) = self.nodes.get_mut(i) else {
            return Err(DevkitError::setup(format!("no NATS server {i}")));
        };
        n.spawn(&self.bin)?;
        n.wait_listening()
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.kill();
        }
    }
}

/// A free loopback port (free when asked: good enough for processes started right after).
pub fn free_port() -> Result<u16, DevkitError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(DevkitError::setup)
}

/// Whether a server still holds `c` open without having answered on it: a connection
/// refused at a connection cap gets its answer and is closed at once (the connection-cap
/// tests keep idle connections that are really admitted).
pub fn still_open(c: &std::net::TcpStream) -> bool {
    let mut b = [0u8; 1];
    if c.set_nonblocking(true).is_err() {
        return false;
    }
    let open = matches!(c.peek(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    let _ = c.set_nonblocking(false);
    open
}

/// Starts `n` `nats-server -js` processes on free loopback ports, clustered when `n > 1`
/// (one cluster name, routes to every node), each with its store (`nats-I/`) and log
/// (`nats-I.log`) under `dir`, and waits until every one accepts connections.
pub fn start_nats_cluster(bin: &Path, dir: &Path, n: usize) -> Result<NatsCluster, DevkitError> {
    std::fs::create_dir_all(dir).map_err(DevkitError::setup)?;
    let mut ports = Vec::with_capacity(n);
    for _ in 0..n {
        ports.push((free_port()?, free_port()?));
    }
    let routes = ports
        .iter()
        .map(|(_, c)| format!("nats://127.0.0.1:{c}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut cluster = NatsCluster {
        bin: bin.to_path_buf(),
        nodes: Vec::with_capacity(n),
        url: ports
            .iter()
            .map(|(p, _)| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(","),
    };
    for (i, (port, cport)) in ports.iter().enumerate() {
        let mut args: Vec<String> = vec![
            "-js".into(),
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
            "-sd".into(),
            dir.join(format!("nats-{i}")).display().to_string(),
        ];
        if n > 1 {
            args.extend([
                "--server_name".into(),
                format!("n{i}"),
                "--cluster_name".into(),
                "mf".into(),
                "--cluster".into(),
                format!("nats://127.0.0.1:{cport}"),
                "--routes".into(),
                routes.clone(),
            ]);
        }
        let mut node = NatsNode {
            args,
            log: dir.join(format!("nats-{i}.log")),
            port: *port,
            child: None,
        };
        node.spawn(bin)?;
        cluster.nodes.push(node);
    }
    for node in &cluster.nodes {
        node.wait_listening()?;
    }
    Ok(cluster)
}

/// Starts `mf-coordinator serve` against `validator`: `(process, base URL)`.
pub fn start_coordinator(
    bin: &Path,
    dir: &Path,
    name: &str,
    validator: &str,
    extra: &[String],
) -> Result<(Proc, String), DevkitError> {
    start_coordinator_at(bin, dir, name, validator, "127.0.0.1:0", extra)
}

/// [`start_coordinator`] listening on `listen` (`HOST:PORT`; port 0: a free one).
pub fn start_coordinator_at(
    bin: &Path,
    dir: &Path,
    name: &str,
    validator: &str,
    listen: &str,
    extra: &[String],
) -> Result<(Proc, String), DevkitError> {
    let mut args: Vec<String> = vec![
        "serve".into(),
        "--validator".into(),
        validator.into(),
        "--data".into(),
        dir.join(name).display().to_string(),
        "--listen".into(),
        listen.into(),
    ];
    args.extend(extra.iter().cloned());
    let (p, addr) = Proc::start(name, bin, &args, &dir.join(format!("{name}.log")))?;
    Ok((p, format!("http://{addr}")))
}

/// Waits until the coordinator has loaded the genesis.
pub fn wait_ready(client: &RpcClient, timeout: Duration) -> Result<u64, DevkitError> {
    let start = Instant::now();
    loop {
        match client.block_number() {
            Ok(h) => return Ok(h),
            Err(e) if start.elapsed() > timeout => {
                return Err(DevkitError::Run(format!("coordinator not ready: {e}")));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
