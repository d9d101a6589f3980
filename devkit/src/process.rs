//! Real `mf-validator` and `mf-coordinator` processes on loopback, for the devnet and the
//! tests: started with their logs in a directory, found by the `listening on ADDR` line they
//! print, and stopped (SIGTERM, then SIGKILL) when dropped, so that a failing test or an
//! interrupted devnet leaves nothing running.

use crate::DevkitError;
use mf_movegen::genesis::Genesis;
use mf_movegen::remote::RpcClient;
use std::io::{BufRead, BufReader};
use std::path::Path;
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
) -> Result<(Proc, String), DevkitError> {
    let gpath = dir.join("genesis.json");
    std::fs::write(&gpath, genesis.to_json().to_string()).map_err(DevkitError::setup)?;
    let data = dir.join("validator");
    let status = Command::new(bin)
        .args(["init", "--data"])
        .arg(&data)
        .arg("--genesis")
        .arg(&gpath)
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("validator-init.log")).map_err(DevkitError::setup)?,
        ))
        .status()
        .map_err(|e| DevkitError::setup(format!("cannot run {}: {e}", bin.display())))?;
    if !status.success() {
        return Err(DevkitError::setup(format!(
            "mf-validator init failed ({status})"
        )));
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
) -> Result<(Proc, String), DevkitError> {
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
