//! Power loss, not only process death. The `kill -9` tests (`crash.rs`) kill the process but
//! the page cache survives, so a validator that handed out receipts before its writes were
//! synced would still pass them. Here the data directory lives on [`disk`], a FUSE layer that
//! keeps every write in memory until an fsync reaches it: at the cut, everything unsynced is
//! gone, the validator is killed, and it restarts on a fresh mount of only the synced data.
//!
//! Required after every cut: every batch whose `POST /batch` answered 200 with a height is in
//! the chain at that height with the same header hash, state hash and receipts; the chain is
//! a prefix of each poster's sequence (nothing half-applied, nothing foreign). At the end the
//! stored state is checked (`check`, `verify-chain`) and equals a reference validator's that
//! ingested the same batches without any crash.
//!
//! That the check can fail is shown by [`a_disk_that_ignores_fsync_passes_kill_9_but_loses_receipts_at_the_cut`]:
//! on a disk that acknowledges fsync and keeps nothing (the same as a validator that never
//! syncs), a `kill -9` loses nothing, and the power cut loses every receipt. The layer's own
//! tests (`disk::tests`) show that it drops unsynced writes and LMDB commits made with
//! `MDB_NOSYNC`, and keeps synced ones.
//!
//! The layer is a module of this test binary rather than of `mf-devkit`: this is its one
//! user, fuser stays a dev-dependency of this package (out of every production build and of
//! the crates that depend on the devkit), and its daemon runs on a thread of the test process,
//! so the test arms cuts and reads what each cut dropped directly.
//!
//! FUSE needs root and `/dev/fuse` (and, in a container, the right to mount): without them
//! the tests print why and skip, unless `MF_REQUIRE_FUSE` is set, which turns the skip into
//! a failure (for machines known to have FUSE, so that a skip cannot hide the test there).

mod disk;

use crate::util::http::get;
use crate::util::*;
use disk::{Mounted, Stats};
use mf_format::{Key, TxId, Value, decode_batch, tx_id};
use mf_validator::genesis::Genesis;
use mf_validator::sample::{GenConfig, SplitMix, generate};
use mf_validator::store::Store;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Posters, each with accounts of its own, so their batches apply in any interleaving.
const LANES: usize = 4;
/// Batches prepared per poster (the context window, 256 heights, bounds the total).
const LANE_BATCHES: usize = 50;
const LANE_ACCOUNTS: usize = 16;
const BATCH_TXS: usize = 6;
/// Power cuts in the main test.
const CUTS: usize = 10;
/// Bound on the main test; it normally takes far less.
const BUDGET: Duration = Duration::from_secs(60);

/// Mounts the layer, or says why it cannot (a skip, or a failure with `MF_REQUIRE_FUSE`).
fn mount_or_skip(backing: &Path, mountpoint: &Path) -> Option<Mounted> {
    let why = match disk::unavailable() {
        Some(why) => why,
        None => match Mounted::mount(backing, mountpoint) {
            Ok(m) => return Some(m),
            Err(e) => format!("mounting FUSE at {} failed: {e}", mountpoint.display()),
        },
    };
    assert!(
        std::env::var_os("MF_REQUIRE_FUSE").is_none(),
        "power-loss test: {why} (MF_REQUIRE_FUSE is set: this machine must run it as root, \
         with /dev/fuse)"
    );
    eprintln!("SKIPPED power-loss test: {why}");
    None
}

/// One poster's prepared batches.
struct Lane {
    /// Encoded batches, in order.
    batches: Vec<Vec<u8>>,
    /// Each batch's transaction ids.
    ids: Vec<Vec<TxId>>,
    /// The first batch not (known to be) in the chain.
    next: usize,
}

/// A `POST /batch` answered 200 with a height: a receipt handed out.
#[derive(Clone, Debug)]
struct Ack {
    lane: usize,
    index: usize,
    height: u64,
    answer: Json,
}

/// Genesis of all lanes together, and each lane's batches (lanes use disjoint accounts).
fn prepare(lanes: usize, batches: usize) -> (Genesis, Vec<Lane>) {
    let mut versions: Vec<(Key, Value)> = Vec::new();
    let mut out = Vec::new();
    for l in 0..lanes {
        let s = generate(&GenConfig {
            chain_id: 1337,
            accounts: LANE_ACCOUNTS,
            txs: batches * BATCH_TXS,
            batch_size: BATCH_TXS,
            seed: 1000 + l as u64,
            // The default time: `serve --fixed-time SAMPLE_TIME` keeps every height in the
            // context window, however long the test takes.
            ..GenConfig::default()
        });
        versions.extend(s.genesis.versions);
        out.push(Lane {
            ids: s
                .batches
                .iter()
                .map(|b| b.txs.iter().map(|t| tx_id(&t.body)).collect())
                .collect(),
            batches: s.batches.iter().map(mf_format::encode).collect(),
            next: 0,
        });
    }
    versions.sort_by_key(|v| v.0);
    (
        Genesis {
            chain_id: 1337,
            rules: Default::default(),
            versions,
            code: Vec::new(),
        },
        out,
    )
}

/// One request on its own connection, every failure returned (the server may vanish).
fn try_request(
    addr: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let bad = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.set_write_timeout(Some(Duration::from_secs(30)))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad(format!("status line {line:?}")))?;
    let mut len = None;
    loop {
        let mut l = String::new();
        if r.read_line(&mut l)? == 0 {
            return Err(bad("headers cut short".into()));
        }
        let l = l.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = Vec::new();
    match len {
        Some(n) => {
            body.resize(n, 0);
            r.read_exact(&mut body)?;
        }
        None => {
            r.read_to_end(&mut body)?;
        }
    }
    Ok((status, body))
}

/// A running `serve` on a mount.
struct Boot {
    mount: Mounted,
    server: Guard,
    addr: String,
}

/// Mounts a fresh layer over `backing` at `root/mnt-{k}` and starts `serve` on it.
fn boot(root: &Path, backing: &Path, k: usize) -> Option<Boot> {
    let mnt = root.join(format!("mnt-{k}"));
    std::fs::create_dir_all(&mnt).expect("mountpoint");
    let mount = mount_or_skip(backing, &mnt)?;
    let (server, addr) = serve(&mnt.join("data"), &root.join(format!("serve-{k}.log")));
    Some(Boot {
        mount,
        server,
        addr,
    })
}

/// `serve` on a free port, its log in a file (warnings only: the cut makes some).
fn serve(data: &Path, log: &Path) -> (Guard, String) {
    let log_file = std::fs::File::create(log).expect("log file");
    let mut child = Command::new(BIN)
        .args(["serve", "--data", p(data), "--listen", "127.0.0.1:0"])
        .args(["--fixed-time", SAMPLE_TIME])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .expect("spawn serve");
    let stdout = child.stdout.take().expect("stdout");
    let guard = Guard(Some(child));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        while let Some(Ok(line)) = lines.next() {
            if let Some(addr) = line.strip_prefix("listening on ") {
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(addr) => (guard, addr),
        Err(_) => panic!(
            "serve on {} did not start:\n{}",
            data.display(),
            std::fs::read_to_string(log).unwrap_or_default()
        ),
    }
}

/// How a power cut is timed.
#[derive(Clone, Copy, Debug)]
enum When {
    /// When the n-th sync of unsynced data arrives, before it is persisted.
    BeforeSync(u64),
    /// Just after the n-th sync of unsynced data is persisted and acknowledged.
    AfterSync(u64),
    /// After this many receipts in the round, then this many milliseconds.
    Wall(usize, u64),
}

/// What one round of posting saw.
struct Round {
    acks: Vec<Ack>,
    /// Posts that failed or answered something else (fate unknown): `(lane, index)`.
    unanswered: Vec<(usize, usize)>,
    stats: Stats,
}

/// Posts every lane concurrently until the cut `when`, then cuts the power, kills the
/// validator and unmounts. Returns what was handed out.
fn post_until_cut(b: Boot, lanes: &[Lane], when: When) -> Round {
    let Boot {
        mount,
        mut server,
        addr,
    } = b;
    let acks = Arc::new(Mutex::new(Vec::<Ack>::new()));
    let unanswered = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicUsize::new(0));
    match when {
        When::BeforeSync(n) => mount.arm_cut_at_sync(n, false),
        When::AfterSync(n) => mount.arm_cut_at_sync(n, true),
        When::Wall(..) => {}
    }
    let posters: Vec<_> = lanes
        .iter()
        .enumerate()
        .map(|(l, lane)| {
            let batches: Vec<Vec<u8>> = lane.batches[lane.next..].to_vec();
            let first = lane.next;
            let (addr, acks, unanswered, stop, acked) = (
                addr.clone(),
                Arc::clone(&acks),
                Arc::clone(&unanswered),
                Arc::clone(&stop),
                Arc::clone(&acked),
            );
            std::thread::spawn(move || {
                for (k, bytes) in batches.iter().enumerate() {
                    let index = first + k;
                    loop {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        match try_request(&addr, "POST", "/batch", bytes) {
                            Ok((200, body)) => {
                                let answer: Json =
                                    serde_json::from_slice(&body).expect("200 answers JSON");
                                let Some(height) = answer["height"].as_u64() else {
                                    panic!("lane {l} batch {index} accepted nothing: {answer}")
                                };
                                acks.lock().expect("acks").push(Ack {
                                    lane: l,
                                    index,
                                    height,
                                    answer,
                                });
                                acked.fetch_add(1, Ordering::SeqCst);
                                break;
                            }
                            Ok((503, _)) => std::thread::sleep(Duration::from_millis(2)),
                            Ok(_) | Err(_) => {
                                // The cut (a store error, a reset connection): unknown fate.
                                unanswered.lock().expect("unanswered").push((l, index));
                                return;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    let cut = match when {
        When::BeforeSync(_) | When::AfterSync(_) => mount.wait_cut(Duration::from_secs(30)),
        When::Wall(n, ms) => {
            let t = Instant::now();
            while acked.load(Ordering::SeqCst) < n && t.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(ms));
            true
        }
    };
    assert!(cut, "the armed cut ({when:?}) did not happen within 30 s");
    // The power cut, as one moment: the disk drops what is unsynced and stops answering,
    // the process dies with it.
    mount.cut();
    let _ = server.child().kill();
    let _ = server.child().wait();
    server.0 = None;
    stop.store(true, Ordering::SeqCst);
    for t in posters {
        t.join().expect("poster");
    }
    let stats = mount.unmount();
    let acks = acks.lock().expect("acks").clone();
    let unanswered = unanswered.lock().expect("unanswered").clone();
    Round {
        acks,
        unanswered,
        stats,
    }
}

/// The chain as the running validator serves it: each height's transaction ids, headers.
struct Chain {
    ids: Vec<Vec<TxId>>,
    headers: Vec<Json>,
    batches: Vec<Vec<u8>>,
}

fn read_chain(addr: &str) -> Chain {
    let head = get(addr, "/head").json();
    let height = head["height"].as_u64().expect("height");
    let mut c = Chain {
        ids: vec![Vec::new()],
        headers: vec![get(addr, "/header/0").json()],
        batches: vec![Vec::new()],
    };
    for h in 1..=height {
        let r = get(addr, &format!("/batch/{h}"));
        assert_eq!(r.status, 200, "batch {h}: {}", r.text());
        let b = decode_batch(&r.body).expect("stored batch decodes");
        c.ids.push(b.txs.iter().map(|t| tx_id(&t.body)).collect());
        c.batches.push(r.body);
        c.headers.push(get(addr, &format!("/header/{h}")).json());
    }
    c
}

/// Every receipt handed out must be there, identical. Returns the problems found.
fn audit(addr: &str, acks: &[Ack], lanes: &[Lane]) -> Vec<String> {
    let mut problems = Vec::new();
    let head = get(addr, "/head").json();
    let height = head["height"].as_u64().unwrap_or(0);
    for a in acks {
        let h = a.height;
        if h > height {
            problems.push(format!(
                "lane {} batch {}: receipt for height {h} handed out, the chain ends at {height}",
                a.lane, a.index
            ));
            continue;
        }
        let header = get(addr, &format!("/header/{h}")).json();
        if header["hash"] != a.answer["header_hash"]
            || header["state_hash"] != a.answer["state_hash"]
        {
            problems.push(format!(
                "height {h}: header {} / state {} after the cut, {} / {} handed out",
                header["hash"],
                header["state_hash"],
                a.answer["header_hash"],
                a.answer["state_hash"]
            ));
        }
        let receipts = get(addr, &format!("/receipts/{h}")).json();
        if receipts["receipts"] != a.answer["receipts"] {
            problems.push(format!("height {h}: receipts differ from those handed out"));
        }
        let r = get(addr, &format!("/batch/{h}"));
        let ids: Vec<TxId> = decode_batch(&r.body)
            .map(|b| b.txs.iter().map(|t| tx_id(&t.body)).collect())
            .unwrap_or_default();
        if ids != lanes[a.lane].ids[a.index] {
            problems.push(format!(
                "height {h}: another batch than lane {} batch {}",
                a.lane, a.index
            ));
        }
    }
    problems
}

/// Each lane's progress in the chain: a prefix of its batches, each batch whole, and no
/// batch from nowhere. Returns the batches per lane found in the chain.
fn lane_progress(chain: &Chain, lanes: &[Lane]) -> Vec<usize> {
    let mut at: HashMap<&[TxId], (usize, usize)> = HashMap::new();
    for (l, lane) in lanes.iter().enumerate() {
        for (i, ids) in lane.ids.iter().enumerate() {
            at.insert(ids.as_slice(), (l, i));
        }
    }
    let mut found: Vec<Vec<usize>> = vec![Vec::new(); lanes.len()];
    for (h, ids) in chain.ids.iter().enumerate().skip(1) {
        let (l, i) = at
            .get(ids.as_slice())
            .unwrap_or_else(|| panic!("height {h} holds no posted batch, or a part of one"));
        found[*l].push(*i);
    }
    found
        .iter()
        .enumerate()
        .map(|(l, got)| {
            let want: Vec<usize> = (0..got.len()).collect();
            assert_eq!(
                got, &want,
                "lane {l}: its batches in the chain are not a prefix"
            );
            got.len()
        })
        .collect()
}

/// Ten power cuts while four clients post: before and after a commit's syncs (counted by
/// the layer) and at moments picked by the clock; after each, a restart on a fresh mount of
/// what was synced keeps every receipt handed out. Then `check`, `verify-chain` and a
/// crash-free reference agree with what is stored.
#[test]
fn power_loss_keeps_every_receipt_handed_out() {
    let t0 = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let backing = root.join("disk");
    std::fs::create_dir_all(&backing).expect("backing");
    let (genesis, mut lanes) = prepare(LANES, LANE_BATCHES);
    let genesis_path = root.join("genesis.json");
    std::fs::write(
        &genesis_path,
        serde_json::to_string(&genesis.to_json()).expect("genesis json"),
    )
    .expect("write genesis");

    // `init` on the layer too: the genesis must be durable before the first cut.
    {
        let mnt = root.join("mnt-init");
        std::fs::create_dir_all(&mnt).expect("mountpoint");
        let Some(m) = mount_or_skip(&backing, &mnt) else {
            return;
        };
        run_ok(&[
            "init",
            "--data",
            p(&mnt.join("data")),
            "--genesis",
            p(&genesis_path),
        ]);
        let s = m.cut();
        eprintln!(
            "init: {} writes, {} syncs persisted",
            s.writes, s.syncs_persisted
        );
        m.unmount();
    }

    let mut rng = SplitMix(0x9_0be5);
    let mut all_acks: Vec<Ack> = Vec::new();
    let mut b = boot(root, &backing, 0).expect("mounted before");
    let mut report = Vec::new();
    for round in 0..CUTS {
        assert!(t0.elapsed() < BUDGET, "over budget after {round} cuts");
        // A commit is two syncs (the pages' fdatasync, then the meta page's O_DSYNC write):
        // odd and even counts land on either, before or after it is persisted.
        let n = 3 + 2 * rng.below(16) as u64 + (round as u64 % 2);
        let when = match round % 6 {
            0 | 1 => When::BeforeSync(n),
            2 | 3 => When::AfterSync(n),
            _ => When::Wall(2 + rng.below(10), rng.below(20) as u64),
        };
        let r = post_until_cut(b, &lanes, when);
        all_acks.extend(r.acks.iter().cloned());

        // Power back: a fresh mount of what was synced, the validator restarted on it.
        b = boot(root, &backing, round + 1).expect("mounted before");
        let problems = audit(&b.addr, &all_acks, &lanes);
        assert!(
            problems.is_empty(),
            "cut {round} ({when:?}) lost what was handed out:\n{}",
            problems.join("\n")
        );
        let chain = read_chain(&b.addr);
        let progress = lane_progress(&chain, &lanes);
        // A batch in flight at the cut may have committed without its answer arriving.
        let mut durable_unanswered = 0;
        for (l, lane) in lanes.iter_mut().enumerate() {
            let acked_here = all_acks.iter().filter(|a| a.lane == l).count();
            assert!(
                progress[l] >= acked_here,
                "lane {l} lost acknowledged batches"
            );
            durable_unanswered += progress[l] - acked_here;
            lane.next = progress[l];
        }
        // Those now count as handed out too (the chain shows them): later cuts must keep them.
        for (h, ids) in chain.ids.iter().enumerate().skip(1) {
            if all_acks.iter().any(|a| a.height == h as u64) {
                continue;
            }
            let (l, i) = lanes
                .iter()
                .enumerate()
                .find_map(|(l, lane)| lane.ids.iter().position(|x| x == ids).map(|i| (l, i)))
                .expect("a posted batch");
            let receipts = get(&b.addr, &format!("/receipts/{h}")).json();
            let header = &chain.headers[h];
            all_acks.push(Ack {
                lane: l,
                index: i,
                height: h as u64,
                answer: serde_json::json!({
                    "header_hash": header["hash"],
                    "state_hash": header["state_hash"],
                    "receipts": receipts["receipts"],
                }),
            });
        }
        let line = format!(
            "cut {round} ({when:?}): {} receipts handed out in the round, {} posts unanswered, \
             {} durable without an answer; height after restart {}; disk: {} writes, {} syncs \
             persisted, dropped at the cut {} unsynced writes ({} bytes, {} pages, {} files)",
            r.acks.len(),
            r.unanswered.len(),
            durable_unanswered,
            chain.ids.len() - 1,
            r.stats.writes,
            r.stats.syncs_persisted,
            r.stats.dropped.writes,
            r.stats.dropped.bytes,
            r.stats.dropped.pages,
            r.stats.dropped.files,
        );
        eprintln!("{line}");
        report.push(r);
    }
    assert!(
        report.iter().all(|r| !r.acks.is_empty()),
        "every round hands out receipts before its cut"
    );
    let cuts_mid_commit = report.iter().filter(|r| r.stats.dropped.writes > 0).count();
    assert!(
        cuts_mid_commit >= 2,
        "at least the cuts before a sync land with unsynced writes: {cuts_mid_commit}"
    );

    // The end: a clean stop, then the stored state against a crash-free reference.
    let chain = read_chain(&b.addr);
    let height = chain.ids.len() as u64 - 1;
    let st = terminate(&mut b.server, Duration::from_secs(30));
    assert!(st.success(), "serve stops cleanly: {st}");
    b.mount.unmount();
    // What the last boot left on the disk, read without the layer.
    let data = backing.join("data");
    let out = run_ok(&["check", "--data", p(&data)]);
    let checked = out
        .lines()
        .find_map(|l| l.strip_prefix("height:"))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert_eq!(checked, Some(height), "{out}");
    run_ok(&["verify-chain", "--data", p(&data)]);

    let reference = root.join("reference");
    run_ok(&[
        "init",
        "--data",
        p(&reference),
        "--genesis",
        p(&genesis_path),
    ]);
    let files: Vec<PathBuf> = (1..=height)
        .map(|h| {
            let f = root.join(format!("chain-{h:06}.bin"));
            std::fs::write(&f, &chain.batches[h as usize]).expect("write batch");
            f
        })
        .collect();
    // The same pinned clock: the reference's headers are byte for byte the stored ones.
    let mut args = vec![
        "ingest",
        "--mode",
        "strict",
        "--fixed-time",
        SAMPLE_TIME,
        "--data",
        p(&reference),
    ];
    args.extend(files.iter().map(|f| p(f)));
    run_ok(&args);
    let store = Store::open(&reference, false).expect("open reference");
    for h in 0..=height {
        let r = store.header(h).expect("read").expect("reference header");
        let ours = &chain.headers[h as usize];
        for (field, theirs) in [
            ("hash", format!("{}", mf_format::header_hash(&r))),
            ("state_hash", format!("{}", r.state_hash)),
            ("tx_root", format!("{}", r.tx_root)),
            ("receipts_root", format!("{}", r.receipts_root)),
        ] {
            assert_eq!(
                ours[field].as_str(),
                Some(theirs.as_str()),
                "height {h}: {field} differs from the crash-free reference"
            );
        }
    }
    drop(store);
    let (ref_height, ref_hash) = height_and_hash(&reference);
    assert_eq!(ref_height, height);
    assert_eq!(
        Some(ref_hash.as_str()),
        chain.headers[height as usize]["state_hash"].as_str()
    );
    let handed_out = report.iter().map(|r| r.acks.len()).sum::<usize>();
    let dropped: u64 = report.iter().map(|r| r.stats.dropped.writes).sum();
    eprintln!(
        "{CUTS} power cuts, {handed_out} receipts handed out before them, all kept; final \
         height {height}; {dropped} unsynced writes dropped in all; {:?}",
        t0.elapsed()
    );
}

/// The check above can fail: on a disk that acknowledges fsync and keeps nothing (what a
/// validator that never syncs amounts to), `kill -9` loses nothing because the page cache
/// (here the layer's memory) survives it, and the power cut loses every receipt since `init`.
#[test]
fn a_disk_that_ignores_fsync_passes_kill_9_but_loses_receipts_at_the_cut() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let backing = root.join("disk");
    std::fs::create_dir_all(&backing).expect("backing");
    let (genesis, lanes) = prepare(1, 6);
    let genesis_path = root.join("genesis.json");
    std::fs::write(
        &genesis_path,
        serde_json::to_string(&genesis.to_json()).expect("genesis json"),
    )
    .expect("write genesis");
    let mnt = root.join("mnt-0");
    std::fs::create_dir_all(&mnt).expect("mountpoint");
    let Some(mount) = mount_or_skip(&backing, &mnt) else {
        return;
    };
    let data = mnt.join("data");
    run_ok(&["init", "--data", p(&data), "--genesis", p(&genesis_path)]);
    mount.set_ignore_syncs(true);

    let post_all = |addr: &str, from: usize, to: usize| -> Vec<Ack> {
        (from..to)
            .map(|i| {
                let (st, body) =
                    try_request(addr, "POST", "/batch", &lanes[0].batches[i]).expect("post");
                assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
                let answer: Json = serde_json::from_slice(&body).expect("json");
                Ack {
                    lane: 0,
                    index: i,
                    height: answer["height"].as_u64().expect("height"),
                    answer,
                }
            })
            .collect()
    };
    let (mut server, addr) = serve(&data, &root.join("serve-0.log"));
    let mut acks = post_all(&addr, 0, 3);

    // kill -9, restart on the same mount: the unsynced writes are still there.
    let _ = server.child().kill();
    let _ = server.child().wait();
    server.0 = None;
    let (mut server, addr) = serve(&data, &root.join("serve-1.log"));
    assert_eq!(audit(&addr, &acks, &lanes), Vec::<String>::new());
    acks.extend(post_all(&addr, 3, 6));

    // The power cut.
    let stats = mount.cut();
    let _ = server.child().kill();
    let _ = server.child().wait();
    server.0 = None;
    mount.unmount();
    assert!(stats.syncs_ignored > 0, "{stats:?}");
    assert!(stats.dropped.writes > 0, "{stats:?}");

    let b = boot(root, &backing, 1).expect("mounted before");
    let problems = audit(&b.addr, &acks, &lanes);
    eprintln!(
        "a disk ignoring fsync: {} syncs ignored, {} unsynced writes dropped; {} of {} \
         receipts lost:\n{}",
        stats.syncs_ignored,
        stats.dropped.writes,
        problems.len(),
        acks.len(),
        problems.join("\n")
    );
    assert_eq!(
        problems.len(),
        acks.len(),
        "every receipt since init is lost: {problems:?}"
    );
    assert_eq!(get(&b.addr, "/head").json()["height"], 0);
}
