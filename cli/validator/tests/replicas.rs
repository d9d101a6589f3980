//! Replicated validators on the ordered batch log (docs/REPLICATION.md): a real
//! `nats-server -js`, three `serve --order` replicas on one genesis, batches published with
//! `mf-validator publish`. Every replica reaches the same head with the same header hash at
//! every height; one killed with SIGKILL mid-stream resumes without skipping or applying a
//! batch twice; a replica started late on a fresh directory catches up and agrees; a batch
//! published twice is stored (and applied) once; a replica that forked stops at the first
//! height whose header hash differs from the one reported first, and says so in /health.
//!
//! Without `nats-server` on the PATH the test prints a SKIPPED line and passes, unless
//! `MF_REQUIRE_NATS` is set (then it fails).

use crate::util::{Guard, p, run_ok, start_server, terminate};
use mf_api::client::Client;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `nats-server` on the PATH (or in the sbin directories Debian installs it to).
fn nats_server() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join("nats-server"))
        .find(|f| f.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts `nats-server -js` on a free port with its store in `dir`; returns the guard and
/// its URL once it accepts connections.
fn start_nats(bin: &Path, dir: &Path) -> (Guard, String) {
    let port = free_port();
    let child = Command::new(bin)
        .args([
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-sd",
            p(dir),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn nats-server");
    let guard = Guard(Some(child));
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (guard, format!("nats://127.0.0.1:{port}"))
}

fn replica(data: &Path, url: &str) -> (Guard, Client) {
    let (g, addr) = start_server(data, &["--order", url]);
    (g, Client::new(&format!("http://{addr}")))
}

fn wait_height(c: &Client, height: u64) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(h) = c.head()
            && h.height >= height
        {
            assert_eq!(h.height, height, "{} went past height {height}", c.url());
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} did not reach height {height}",
            c.url()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `publish` the files; returns its output lines.
fn publish(url: &str, files: &[PathBuf]) -> Vec<String> {
    let mut args = vec!["publish", "--order", url];
    args.extend(files.iter().map(|f| p(f)));
    run_ok(&args).lines().map(str::to_string).collect()
}

/// Every header hash, heights 1..=height.
fn header_hashes(c: &Client, height: u64) -> Vec<String> {
    (1..=height)
        .map(|h| {
            let hdr = c
                .header(h)
                .expect("header")
                .expect("a header at every height");
            format!("{:?}", hdr.hash)
        })
        .collect()
}

#[test]
fn replicas_agree_resume_and_catch_up() {
    let Some(nats) = nats_server() else {
        assert!(
            std::env::var_os("MF_REQUIRE_NATS").is_none(),
            "MF_REQUIRE_NATS is set but nats-server is not on the PATH"
        );
        println!(
            "SKIPPED replicas: nats-server not found on the PATH (apt-get install nats-server)"
        );
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_nats, url) = start_nats(&nats, &tmp.path().join("js"));

    // The replicas take header times from the stream (the time of each publish), so the
    // transactions declare a time just ahead of now: every publish below lands within the
    // 15 s window around it (PROTOCOL.md §6.3.1).
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let sample = tmp.path().join("sample");
    let batches = 20;
    run_ok(&[
        "gen",
        "--out",
        p(&sample),
        "--accounts",
        "200",
        "--txs",
        &(batches * 40).to_string(),
        "--batch-size",
        "40",
        "--seed",
        "7",
        "--time",
        &(now + 10).to_string(),
    ]);
    let files: Vec<PathBuf> = (1..=batches)
        .map(|i| sample.join(format!("batch-{i:06}.bin")))
        .collect();
    let genesis = sample.join("genesis.json");
    let dirs: Vec<PathBuf> = ["a", "b", "c", "late"]
        .iter()
        .map(|n| tmp.path().join(n))
        .collect();
    for d in &dirs[..3] {
        run_ok(&["init", "--data", p(d), "--genesis", p(&genesis)]);
    }
    let (mut ga, a) = replica(&dirs[0], &url);
    let (mut gb, mut b) = replica(&dirs[1], &url);
    let (mut gc, c) = replica(&dirs[2], &url);

    // A batch posted to a replica goes to the stream (sequence 1) and is answered once the
    // replica applied it, as a single validator answers.
    let first = std::fs::read(&files[0]).expect("read batch");
    let applied = match a.post_batch(&first).expect("POST /batch on a replica") {
        mf_api::BatchAnswer::Applied(x) => x,
        other => panic!("POST /batch on a replica: {other:?}"),
    };
    assert_eq!(applied.height, Some(1), "{applied:?}");
    assert_eq!(applied.receipts.len(), 40);
    assert_eq!(
        applied.header_hash,
        Some(a.header(1).expect("header").expect("header 1").hash)
    );
    // The same bytes posted to another replica are the same message (a duplicate of
    // sequence 1), applied once; that replica did not keep its answer and says so.
    wait_height(&b, 1);
    let again = format!("{:?}", b.post_batch(&first).expect("POST /batch again"));
    assert!(
        again.contains("already_in_log") && again.contains("sequence 1"),
        "{again}"
    );

    let out = publish(&url, &files[..4]);
    assert_eq!(out.len(), 4);
    assert!(out[0].ends_with("seq 1 (duplicate)"), "{out:?}");
    assert!(out[3].ends_with("seq 4"), "{out:?}");
    for r in [&a, &b, &c] {
        wait_height(r, 4);
    }

    // Batches 5..=20 are published one by one while B is killed with SIGKILL three times
    // (mid-stream: it is applying or waiting) and restarted each time.
    let publisher = {
        let url = url.clone();
        let files = files[4..].to_vec();
        std::thread::spawn(move || {
            files
                .iter()
                .map(|f| publish(&url, std::slice::from_ref(f)).remove(0))
                .collect::<Vec<_>>()
        })
    };
    for pause in [60, 150, 250] {
        std::thread::sleep(Duration::from_millis(pause));
        drop(gb);
        (gb, b) = replica(&dirs[1], &url);
    }
    let out = publisher.join().expect("publisher");
    assert!(
        out.last().expect("published").ends_with("seq 20"),
        "{out:?}"
    );

    // A batch published twice is stored once.
    let again = publish(&url, &files[..1]);
    assert!(again[0].ends_with("seq 1 (duplicate)"), "{again:?}");

    let head = batches as u64;
    for r in [&a, &b, &c] {
        wait_height(r, head);
    }
    let reference = header_hashes(&a, head);
    assert_eq!(header_hashes(&b, head), reference, "B (restarted) agrees");
    assert_eq!(header_hashes(&c, head), reference, "C agrees");

    // Header times are the stream's (publish times), never decreasing.
    let times: Vec<u64> = (1..=head)
        .map(|h| a.header(h).expect("header").expect("header").time_ms)
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(
        times[0] / 1000 >= now.saturating_sub(5),
        "header times come from the stream: {times:?}"
    );

    // A replica that joins late, on a fresh directory, replays the stream and agrees.
    run_ok(&["init", "--data", p(&dirs[3]), "--genesis", p(&genesis)]);
    let (mut gl, late) = replica(&dirs[3], &url);
    wait_height(&late, head);
    assert_eq!(
        header_hashes(&late, head),
        reference,
        "the late replica agrees"
    );
    // Nothing more arrives: the duplicate was not applied.
    std::thread::sleep(Duration::from_millis(500));
    for r in [&a, &b, &c, &late] {
        assert_eq!(r.head().expect("head").height, head);
    }

    // A replica that forked (it applied batch 1 by itself, at its own time, before joining)
    // finds its header hash at height 2 differs from the one reported first, stops
    // applying, and says so in /health.
    let fork = tmp.path().join("fork");
    run_ok(&["init", "--data", p(&fork), "--genesis", p(&genesis)]);
    run_ok(&["ingest", "--data", p(&fork), p(&files[0])]);
    let (_gf, forked) = replica(&fork, &url);
    let deadline = Instant::now() + Duration::from_secs(60);
    let why = loop {
        if let Err(e) = forked.health() {
            break e.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "the forked replica reports no divergence"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(why.contains("diverged at height 2"), "{why}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        forked.head().expect("head").height,
        2,
        "it stopped applying"
    );
    for r in [&a, &b, &c, &late] {
        r.health().expect("the agreeing replicas are healthy");
    }

    for g in [&mut ga, &mut gb, &mut gc, &mut gl] {
        assert!(terminate(g, Duration::from_secs(20)).success());
    }
    let mut hashes = Vec::new();
    for d in &dirs {
        run_ok(&["check", "--data", p(d)]);
        hashes.push(crate::util::height_and_hash(d));
    }
    assert!(hashes.windows(2).all(|w| w[0] == w[1]), "{hashes:?}");
}

/// `POST /batch` on a replica whose NATS server is gone answers `503` `order_unavailable`,
/// saying that the same bytes may be posted again; once the server is back (same store, same
/// port) the same bytes are published and answered with their receipts.
#[test]
fn replica_post_without_nats_answers_503_then_succeeds() {
    let Some(nats) = nats_server() else {
        assert!(
            std::env::var_os("MF_REQUIRE_NATS").is_none(),
            "MF_REQUIRE_NATS is set but nats-server is not on the PATH"
        );
        println!(
            "SKIPPED replicas: nats-server not found on the PATH (apt-get install nats-server)"
        );
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let (nats_guard, url) = start_nats(&nats, &tmp.path().join("js"));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let sample = tmp.path().join("sample");
    run_ok(&[
        "gen",
        "--out",
        p(&sample),
        "--accounts",
        "20",
        "--txs",
        "10",
        "--batch-size",
        "10",
        "--time",
        &(now + 10).to_string(),
    ]);
    let data = tmp.path().join("r");
    run_ok(&[
        "init",
        "--data",
        p(&data),
        "--genesis",
        p(&sample.join("genesis.json")),
    ]);
    let (mut g, r) = replica(&data, &url);
    drop(nats_guard);
    let bytes = std::fs::read(sample.join("batch-000001.bin")).expect("batch");
    match r.post_batch(&bytes).expect("an answer") {
        mf_api::BatchAnswer::Unavailable(e) => {
            assert_eq!(e.error, "order_unavailable", "{e:?}");
            assert!(e.detail.contains("post the same bytes again"), "{e:?}");
        }
        other => panic!("expected 503 order_unavailable, got {other:?}"),
    }
    assert_eq!(r.head().expect("head").height, 0, "nothing was applied");

    // The server back on its port and store: the same bytes go through, once. (The
    // client may also have sent the first publish on reconnecting: the retry is then a
    // duplicate, answered with the receipts if it waited for them, or `409
    // already_in_log`.)
    let port = url.rsplit(':').next().expect("port").to_string();
    let back = Command::new(&nats)
        .args(["-js", "-a", "127.0.0.1", "-p", &port, "-sd"])
        .arg(tmp.path().join("js"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("restart nats-server");
    let _back = Guard(Some(back));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match r.post_batch(&bytes).expect("an answer") {
            mf_api::BatchAnswer::Applied(a) => {
                assert_eq!(a.height, Some(1), "{a:?}");
                break;
            }
            mf_api::BatchAnswer::Other { status: 409, body } => {
                assert!(body.contains("already_in_log"), "{body}");
                break;
            }
            other => {
                assert!(Instant::now() < deadline, "never applied: {other:?}");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    wait_height(&r, 1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(r.head().expect("head").height, 1, "applied once");
    assert!(terminate(&mut g, Duration::from_secs(20)).success());
    run_ok(&["check", "--data", p(&data)]);
}
