//! `mf-coordinator dev`, the development node, as a real process: it prints the RPC URL, the
//! contracts and the ten development accounts with their keys; the node answers chain id
//! 31337, the balances and a token's `balanceOf` through `eth_call`; SIGINT (Ctrl-C) stops
//! it and both processes it started, and its temporary data directory goes with them.

use crate::util::*;
use mf_devkit::dev;
use mf_devkit::units;
use mf_movegen::remote::RpcClient;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The dev node's process, killed if the test fails before stopping it.
struct DevNode(Child);

impl Drop for DevNode {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The value printed after `prefix` on a line of `out`.
fn printed<'a>(out: &'a [String], prefix: &str) -> &'a str {
    out.iter()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{}", out.join("\n")))
        .trim()
}

fn quantity(v: &Value) -> alloy_primitives::U256 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a quantity: {v}"));
    alloy_primitives::U256::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex quantity")
}

#[test]
fn dev_node_serves_the_development_accounts_and_stops_on_ctrl_c() {
    let mut cmd = Command::new(coordinator_bin());
    cmd.args(["dev", "--listen", "127.0.0.1:0", "--validator-bin"])
        .arg(validator_bin())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut node = DevNode(cmd.spawn().expect("start mf-coordinator dev"));
    let stdout = node.0.stdout.take().expect("stdout");
    let mut out = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read stdout");
        let done = line.starts_with("listening on ");
        out.push(line);
        if done {
            break;
        }
    }

    let url = printed(&out, "RPC URL: ").to_string();
    let vurl = printed(&out, "Validator: ").to_string();
    let data = printed(&out, "Data: ")
        .split(',')
        .next()
        .expect("a path")
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_ne!(url, "http://127.0.0.1:0");
    // The accounts and keys as anvil prints them.
    for (i, (a, k)) in dev::ADDRESSES.iter().zip(dev::KEYS).enumerate() {
        let account = format!("({i}) {a} ({} ETH)", dev::BALANCE_ETH);
        let key = format!("({i}) {k}");
        assert!(out.contains(&account), "no `{account}` in the output");
        assert!(out.contains(&key), "no `{key}` in the output");
    }
    assert!(out.iter().any(|l| l == "31337"), "the chain id is printed");
    let token = printed(&out, "Token TKA (Dev Token A, ERC20, 18 decimals): ").to_string();

    let client = RpcClient::new(&url);
    let rpc = |m: &str, p: Value| client.call_raw(m, p).expect(m);
    assert_eq!(rpc("eth_chainId", json!([])), json!("0x7a69"));
    for a in dev::ADDRESSES {
        assert_eq!(
            quantity(&rpc("eth_getBalance", json!([a, "latest"]))),
            units(dev::BALANCE_ETH),
            "the balance of {a}"
        );
    }
    // balanceOf(account 0) through eth_call.
    let data_arg = format!(
        "0x70a08231{:0>64}",
        alloy_primitives::hex::encode(dev::ADDRESSES[0])
    );
    let got = rpc(
        "eth_call",
        json!([{ "to": token, "data": data_arg }, "latest"]),
    );
    assert_eq!(
        quantity(&got),
        units(dev::TOKENS_EACH),
        "balanceOf(account 0)"
    );

    // Ctrl-C: SIGINT to the dev node alone (its children have process groups of their own,
    // as they do under a terminal); it stops both and exits cleanly.
    let pid = node.0.id().to_string();
    let sent = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("run kill");
    assert!(sent.success());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = node.0.try_wait().expect("wait") {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the dev node did not stop within 30 s of SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status after SIGINT: {status}");
    for u in [&url, &vurl] {
        let addr = u.trim_start_matches("http://");
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "{u} still answers after the dev node stopped"
        );
    }
    assert!(
        !std::path::Path::new(&data).exists(),
        "the temporary data directory {data} is left behind"
    );
    #[cfg(target_os = "linux")]
    {
        // No process is left running on the data directory (the children's command lines
        // name it).
        let left: Vec<String> = std::fs::read_dir("/proc")
            .expect("/proc")
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| c.contains(&data))
            .collect();
        assert!(left.is_empty(), "left running: {left:?}");
    }
}
