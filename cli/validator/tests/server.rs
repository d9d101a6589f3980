//! `mf-validator serve` over real HTTP: submit batches, read everything back, follow the feed,
//! back-pressure, metrics, and clean shutdown on SIGTERM.

use crate::util::http::*;
use crate::util::*;
use mf_format::{Value, decode_batch, decode_header, decode_receipts};
use std::io::BufReader;
use std::path::PathBuf;
use std::time::{Duration, Instant};

struct Setup {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    files: Vec<PathBuf>,
}

fn setup(accounts: usize, txs: usize, batch_size: usize) -> Setup {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sample = tmp.path().join("sample");
    let data = tmp.path().join("data");
    let files = gen_sample(&sample, accounts, txs, batch_size);
    run_ok(&[
        "init",
        "--data",
        p(&data),
        "--genesis",
        p(&sample.join("genesis.json")),
    ]);
    Setup {
        _tmp: tmp,
        data,
        files,
    }
}

#[test]
fn serve_post_read_feed_metrics_shutdown() {
    let t0 = Instant::now();
    let s = setup(40, 250, 50);
    assert_eq!(s.files.len(), 5);
    let (mut server, addr) = start_server(&s.data, &["--fixed-time", SAMPLE_TIME]);

    assert_eq!(get(&addr, "/health").status, 200);
    assert_eq!(get(&addr, "/health").text(), "ok");
    let head0 = get(&addr, "/head").json();
    assert_eq!(head0["height"], 0);
    let state0 = head0["state_hash"].clone();

    // A follower connected before anything is posted, from height 1.
    let mut feed = connect(&addr);
    send(&mut feed, &addr, "GET", "/feed?from=1", b"");
    let mut feed = BufReader::new(feed);
    let (st, headers) = read_head(&mut feed);
    assert_eq!(st, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v == "chunked")
    );

    // Garbage is refused as malformed, and nothing changes.
    let r = post(&addr, "/batch", b"\x02\x00\x00\x00\x00\x00\x00\x00garbage");
    assert_eq!(r.status, 400, "{}", r.text());
    let j = r.json();
    assert_eq!(j["reason"], "malformed");
    assert_eq!(j["code"], 1);
    assert!(j["error"].as_str().is_some());
    // Text announces an absurd transaction count in its first 8 bytes.
    let r = post(&addr, "/batch", b"definitely not a batch");
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["reason"], "limit_exceeded");
    assert_eq!(r.json()["code"], 2);
    let r = post(&addr, "/batch", b"");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["reason"], "malformed");
    let head = get(&addr, "/head").json();
    assert_eq!(head["height"], 0);
    assert_eq!(head["state_hash"], state0);

    // Post the batches; each gets a height and one accepted receipt per transaction.
    let mut posted = Vec::new();
    for (i, f) in s.files.iter().take(4).enumerate() {
        let bytes = std::fs::read(f).expect("read batch");
        let batch = decode_batch(&bytes).expect("decode");
        let r = post(&addr, "/batch", &bytes);
        assert_eq!(r.status, 200, "{}", r.text());
        let j = r.json();
        assert_eq!(j["height"], i as u64 + 1);
        assert_eq!(j["accepted"], 50);
        let receipts = j["receipts"].as_array().expect("receipts");
        assert_eq!(receipts.len(), 50);
        for (rc, tx) in receipts.iter().zip(&batch.txs) {
            assert_eq!(rc["status"], "accepted");
            assert_eq!(rc["code"], 0);
            assert_eq!(
                rc["tx_id"],
                format!("{}", mf_format::tx_id(&tx.body)),
                "receipt in batch order"
            );
        }
        posted.push((bytes, batch, j));
    }

    // Replaying a batch: every transaction is rejected, nothing is written.
    let r = post(&addr, "/batch", &posted[0].0);
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["accepted"], 0);
    assert!(j["height"].is_null());
    assert_eq!(j["receipts"][0]["status"], "version_not_live");
    assert_eq!(j["receipts"][0]["code"], 80);

    // Filter mode: a replayed transaction in front of batch 5 is dropped, the rest applies.
    // The stored batch holds the 50 accepted transactions, the receipts all 51.
    let b5 = std::fs::read(&s.files[4]).expect("read batch");
    let batch5 = decode_batch(&b5).expect("decode");
    let mut mixed = batch5.clone();
    mixed.txs.insert(0, posted[0].1.txs[0].clone());
    let r = post(&addr, "/batch", &mf_format::encode(&mixed));
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["height"], 5);
    assert_eq!(j["accepted"], 50);
    assert_eq!(j["receipts"].as_array().expect("receipts").len(), 51);
    assert_eq!(j["receipts"][0]["status"], "version_not_live");
    assert_eq!(j["receipts"][1]["status"], "accepted");
    posted.push((b5, batch5, j));

    // Reads.
    let head = get(&addr, "/head").json();
    assert_eq!(head["height"], 5);
    assert_eq!(head["hash"], posted[4].2["header_hash"]);
    assert_eq!(head["state_hash"], posted[4].2["state_hash"]);
    for (i, (bytes, _, j)) in posted.iter().enumerate() {
        let h = i as u64 + 1;
        let hdr = get(&addr, &format!("/header/{h}")).json();
        assert_eq!(hdr["height"], h);
        assert_eq!(hdr["hash"], j["header_hash"]);
        let b = get(&addr, &format!("/batch/{h}"));
        assert_eq!(b.status, 200);
        assert_eq!(b.header("content-type"), Some("application/octet-stream"));
        assert_eq!(&b.body, bytes);
        let rc = get(&addr, &format!("/receipts/{h}")).json();
        assert_eq!(rc["receipts"], j["receipts"]);
    }
    assert_eq!(get(&addr, "/header/99").status, 404);
    assert_eq!(get(&addr, "/batch/99").status, 404);
    assert_eq!(get(&addr, "/header/abc").status, 400);
    assert_eq!(get(&addr, "/nowhere").status, 404);

    // The same reads through the typed client of mf-api: every answer parses as its type
    // and carries what the raw JSON says.
    let client = mf_api::Client::new(&format!("http://{addr}"));
    client.health().expect("health");
    let typed_head = client.head().expect("typed head");
    assert_eq!(serde_json::to_value(&typed_head).expect("json"), head);
    assert_eq!(
        typed_head.hash,
        mf_format::header_hash(&typed_head.header())
    );
    for (i, (bytes, _, j)) in posted.iter().enumerate() {
        let h = i as u64 + 1;
        let hdr = client.header(h).expect("typed header").expect("stored");
        assert_eq!(
            Some(hdr.hash),
            j["header_hash"].as_str().and_then(|x| x.parse().ok())
        );
        let rc = client.receipts(h).expect("typed receipts").expect("stored");
        assert_eq!(
            serde_json::to_value(&rc.receipts).expect("json"),
            j["receipts"]
        );
        assert_eq!(client.batch_bytes(h).expect("batch").as_ref(), Some(bytes));
    }
    assert_eq!(client.header(99).expect("404 is None"), None);
    assert_eq!(client.receipts(99).expect("404 is None"), None);
    assert_eq!(client.batch_bytes(99).expect("404 is None"), None);

    // Versions: the last transaction's outputs are live with its declared values; the
    // genesis version its first transaction spent is not; an unknown key never written.
    let last = posted[4].1.txs.last().expect("tx");
    let last_id = mf_format::tx_id(&last.body);
    for m in &last.body.moves {
        let r = get(&addr, &format!("/version/{last_id}/a/{}/0x0", m.addr));
        assert_eq!(r.status, 200, "{}", r.text());
        let j = r.json();
        assert_eq!(j["state"], "live");
        let Value::Account(a) = m.next else {
            panic!("account move")
        };
        assert_eq!(j["value"]["balance"], format!("{:#x}", a.balance));
        assert_eq!(j["value"]["nonce"], a.nonce);
    }
    let first = &posted[0].1.txs[0];
    let zero = format!("0x{}", "00".repeat(32));
    let j = get(
        &addr,
        &format!("/version/{zero}/a/{}/0", first.body.moves[0].addr),
    )
    .json();
    assert_eq!(j["state"], "not_live");
    assert!(j["value"].is_null());
    let j = get(
        &addr,
        &format!("/version/{zero}/s/0x{}/0x2a", "ab".repeat(20)),
    )
    .json();
    assert_eq!(j["state"], "never_written");
    assert_eq!(j["value"], "0x0");
    assert_eq!(
        get(&addr, &format!("/version/{zero}/q/0x{}/0", "ab".repeat(20))).status,
        400
    );
    assert_eq!(get(&addr, "/version/xyz/a/0x00/0").status, 400);

    // The typed client agrees on versions.
    for m in &last.body.moves {
        let key = mf_format::Key {
            mark: mf_format::Mark::Account,
            addr: m.addr,
            slot: mf_format::U256::ZERO,
        };
        let v = client.version(last_id, key).expect("typed version");
        assert_eq!(v.state, mf_api::VersionStateJson::Live);
        assert_eq!(v.live_value(), Some(m.next));
    }
    let spent = mf_format::Key {
        mark: mf_format::Mark::Account,
        addr: first.body.moves[0].addr,
        slot: mf_format::U256::ZERO,
    };
    let v = client
        .version(mf_format::GENESIS_INTX, spent)
        .expect("typed version");
    assert_eq!(v, mf_api::VersionJson::not_live());

    // The feed delivers heights 1..=5 with the accepted transactions and all receipts.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = Vec::new();
    let mut records = Vec::new();
    while records.len() < posted.len() {
        assert!(Instant::now() < deadline, "feed too slow");
        let c = read_chunk(&mut feed).expect("the feed does not end");
        buf.extend_from_slice(&c);
        while let Some((rec, used)) = parse_record(&buf) {
            records.push(rec);
            buf.drain(..used);
        }
    }
    for (i, (h, b, r)) in records.iter().enumerate() {
        let header = decode_header(h).expect("header");
        assert_eq!(header.height, i as u64 + 1);
        assert_eq!(
            format!("{}", mf_format::header_hash(&header)),
            posted[i].2["header_hash"].as_str().expect("hash")
        );
        assert_eq!(b, &posted[i].0);
        let receipts = decode_receipts(r).expect("receipts");
        assert_eq!(receipts.len(), if i == 4 { 51 } else { 50 });
        let ids: Vec<_> = posted[i]
            .1
            .txs
            .iter()
            .map(|t| mf_format::tx_id(&t.body))
            .collect();
        let accepted: Vec<_> = receipts
            .iter()
            .filter(|r| r.status == mf_format::Status::Accepted)
            .map(|r| r.tx_id)
            .collect();
        assert_eq!(
            accepted, ids,
            "accepted receipts match the batch's transactions"
        );
    }
    // A late follower from height 3 gets 3, 4 and 5.
    let mut late = connect(&addr);
    send(&mut late, &addr, "GET", "/feed?from=3", b"");
    let mut late = BufReader::new(late);
    assert_eq!(read_head(&mut late).0, 200);
    let mut buf = Vec::new();
    let mut heights = Vec::new();
    while heights.len() < 3 {
        assert!(Instant::now() < deadline, "late feed too slow");
        buf.extend_from_slice(&read_chunk(&mut late).expect("chunk"));
        while let Some(((h, _, _), used)) = parse_record(&buf) {
            heights.push(decode_header(&h).expect("header").height);
            buf.drain(..used);
        }
    }
    assert_eq!(heights, vec![3, 4, 5]);
    // The typed feed reader from height 2: records 2..=5, decoded, as posted.
    let mut typed = client.feed(2).expect("typed feed");
    for (i, (bytes, _, j)) in posted.iter().enumerate().skip(1) {
        let rec = typed
            .next_record()
            .expect("record")
            .expect("the feed does not end");
        assert_eq!(rec.header.height, i as u64 + 1);
        assert_eq!(
            Some(mf_format::header_hash(&rec.header)),
            j["header_hash"].as_str().and_then(|x| x.parse().ok())
        );
        assert_eq!(&mf_format::encode(&rec.batch), bytes);
    }
    drop(typed);

    // Metrics.
    let m = get(&addr, "/metrics");
    assert_eq!(m.status, 200);
    let m = m.text();
    for (name, want) in [
        ("mf_height", 5),
        ("mf_batches_applied_total", 5),
        ("mf_txs_accepted_total", 250),
        ("mf_moves_applied_total", 500),
        ("mf_batches_refused_total{reason=\"malformed\"}", 2),
        ("mf_batches_refused_total{reason=\"limit_exceeded\"}", 1),
        ("mf_batches_nothing_accepted_total", 1),
        ("mf_queue_depth", 0),
        ("mf_apply_seconds_count", 9),
        ("mf_apply_seconds_bucket{le=\"+Inf\"}", 9),
    ] {
        assert_eq!(metric(&m, name), Some(want), "{name} in\n{m}");
    }
    let rejected: u64 = m
        .lines()
        .filter(|l| l.starts_with("mf_txs_rejected_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(rejected, 51, "50 replayed and 1 mixed in:\n{m}");
    assert!(metric(&m, "mf_index_entries").is_some_and(|n| n > 0), "{m}");

    // SIGTERM with followers still connected: a clean, prompt exit; their streams end.
    let status = terminate(&mut server, Duration::from_secs(20));
    assert!(status.success(), "serve exited with {status}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut rest = Vec::new();
    loop {
        assert!(Instant::now() < deadline);
        match read_chunk(&mut feed) {
            Some(c) => rest.extend(c),
            None => break,
        }
    }
    assert!(rest.is_empty(), "nothing new after shutdown");
    drop(late);

    // Everything posted is on disk.
    run_ok(&["check", "--data", p(&s.data)]);
    assert_eq!(height_and_hash(&s.data).0, 5);
    eprintln!("serve test took {:?}", t0.elapsed());
}

/// The value of the sample `name` (with its labels) in Prometheus text.
fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

type Record = (Vec<u8>, Vec<u8>, Vec<u8>);

/// Parses one feed record from the front of `buf`: `(header, batch, receipts)` and the
/// bytes it used, or `None` if it is not complete yet.
fn parse_record(buf: &[u8]) -> Option<(Record, usize)> {
    let mut at = 0;
    let mut parts = Vec::with_capacity(3);
    for _ in 0..3 {
        let len = u32::from_le_bytes(buf.get(at..at + 4)?.try_into().ok()?) as usize;
        at += 4;
        parts.push(buf.get(at..at + len)?.to_vec());
        at += len;
    }
    let r = parts.pop()?;
    let b = parts.pop()?;
    let h = parts.pop()?;
    Some(((h, b, r), at))
}

#[test]
fn strict_mode_refusal_and_backpressure() {
    let s = setup(500, 4000, 2000);
    let (mut server, addr) = start_server(
        &s.data,
        &[
            "--mode",
            "strict",
            "--queue",
            "1",
            "--fixed-time",
            SAMPLE_TIME,
        ],
    );

    let b1 = std::fs::read(&s.files[0]).expect("read");
    let b2 = std::fs::read(&s.files[1]).expect("read");
    // Batch 2 before batch 1: strict refuses it whole. Its transactions declare block 2 but
    // would be applied at height 1, so the context window (checked before liveness) refuses
    // the first one, before its chained versions are found not live.
    let r = post(&addr, "/batch", &b2);
    assert_eq!(r.status, 422, "{}", r.text());
    let j = r.json();
    assert_eq!(j["reason"], "context_out_of_window");
    assert_eq!(j["code"], 65);
    assert_eq!(j["index"].as_u64(), Some(0));
    assert_eq!(get(&addr, "/head").json()["height"], 0);
    // The typed client sees the same refusal.
    let client = mf_api::Client::new(&format!("http://{addr}"));
    match client.post_batch(&b2).expect("post") {
        mf_api::BatchAnswer::Refused { status, refusal } => {
            assert_eq!(status, 422);
            assert_eq!(
                refusal.protocol_reason(),
                Some(mf_format::Reason::ContextOutOfWindow)
            );
            assert_eq!(refusal.index, Some(0));
            assert!(refusal.tx_id.is_some() && refusal.receipts.is_some());
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Many concurrent posts against a queue of 1: some are turned away with 503 busy, none
    // is lost or applied twice; exactly one of them applies batch 1.
    let n = 12;
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let addr = addr.clone();
            let b1 = b1.clone();
            std::thread::spawn(move || post(&addr, "/batch", &b1))
        })
        .collect();
    let mut ok = 0;
    let mut busy = 0;
    let mut refused = 0;
    for h in handles {
        let r = h.join().expect("client thread");
        match r.status {
            200 => {
                ok += 1;
                assert_eq!(r.json()["height"], 1);
            }
            422 => refused += 1,
            503 => {
                busy += 1;
                assert_eq!(r.json()["error"], "busy");
                assert_eq!(r.header("retry-after"), Some("1"));
            }
            other => panic!("unexpected status {other}: {}", r.text()),
        }
    }
    assert_eq!(ok, 1, "batch 1 applies exactly once");
    assert_eq!(ok + busy + refused, n);
    assert!(
        busy > 0,
        "a queue of 1 turns some of {n} concurrent posts away"
    );
    let m = get(&addr, "/metrics").text();
    assert_eq!(metric(&m, "mf_busy_total"), Some(busy as u64), "{m}");
    assert_eq!(metric(&m, "mf_queue_capacity"), Some(1), "{m}");

    match client.post_batch(&b2).expect("post") {
        mf_api::BatchAnswer::Applied(a) => {
            assert_eq!(a.height, Some(2));
            assert_eq!(a.header_hash, Some(client.head().expect("head").hash));
            assert!(a.receipts.iter().all(|r| r.reason() == Ok(None)));
        }
        other => panic!("expected batch 2 applied, got {other:?}"),
    }

    let status = terminate(&mut server, Duration::from_secs(20));
    assert!(status.success());
    run_ok(&["check", "--data", p(&s.data)]);
}

#[test]
fn sigterm_finishes_the_batch_in_hand() {
    let s = setup(500, 2000, 2000);
    let (mut server, addr) = start_server(&s.data, &["--fixed-time", SAMPLE_TIME]);
    let b1 = std::fs::read(&s.files[0]).expect("read");
    let client = {
        let addr = addr.clone();
        std::thread::spawn(move || post(&addr, "/batch", &b1))
    };
    // Wait (bounded) until the worker has the batch in hand, then ask the server to stop.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = get(&addr, "/metrics").text();
        if metric(&m, "mf_applying") == Some(1) || metric(&m, "mf_apply_seconds_count") == Some(1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the batch never reached the worker"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = terminate(&mut server, Duration::from_secs(30));
    assert!(status.success(), "serve exited with {status}");
    // The batch in hand was finished and answered, and it is on disk.
    let r = client.join().expect("client thread");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["height"], 1);
    assert_eq!(r.json()["accepted"], 2000);
    run_ok(&["check", "--data", p(&s.data)]);
    assert_eq!(height_and_hash(&s.data).0, 1);
}
