//! The `mf-validator` binary end to end: gen, init, ingest, check, inspect, and its errors.

use crate::util::*;

#[test]
fn gen_init_ingest_check_inspect() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sample = tmp.path().join("sample");
    let data = tmp.path().join("data");
    let files = gen_sample(&sample, 50, 600, 100);
    assert_eq!(files.len(), 6);

    let out = run_ok(&[
        "init",
        "--data",
        p(&data),
        "--genesis",
        p(&sample.join("genesis.json")),
    ]);
    assert!(out.contains("initialised"), "{out}");
    let (h0, hash0) = height_and_hash(&data);
    assert_eq!(h0, 0);

    let mut args = vec![
        "ingest",
        "--fixed-time",
        SAMPLE_TIME,
        "--data",
        p(&data),
        "--mode",
        "filter",
    ];
    args.extend(files.iter().map(|f| p(f)));
    let out = run(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ingest failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("6 batches applied"),
        "summary names the batches:\n{stdout}"
    );
    assert!(stdout.contains("600 accepted, 0 rejected"), "{stdout}");
    assert!(stdout.contains("moves: 1200"), "{stdout}");
    assert!(stdout.contains("time per stage"), "{stdout}");
    assert!(stdout.contains("height 0 -> 6"), "{stdout}");
    // One log line per file.
    assert_eq!(
        stderr.matches(" applied").count(),
        6,
        "one log line per batch:\n{stderr}"
    );

    let out = run_ok(&["check", "--data", p(&data)]);
    assert!(out.contains("OK"), "{out}");

    let text = run_ok(&["inspect", "--data", p(&data)]);
    assert!(text.contains("height:          6"), "{text}");
    assert!(text.contains("index entries"), "{text}");
    let j = inspect(&data);
    assert_eq!(j["height"], 6);
    assert_ne!(j["state_hash"].as_str(), Some(hash0.as_str()));
    assert_eq!(j["entries"]["headers"], 7);
    assert!(j["disk_bytes"].as_u64().expect("disk_bytes") > 0);
    assert_eq!(j["head"]["height"], 6);
    assert_eq!(j["head"]["state_hash"], j["state_hash"]);

    // Ingesting the same files again changes nothing: every transaction is a double use,
    // so no batch is written (filter mode) and the state stays.
    let (h, hash) = height_and_hash(&data);
    let mut args = vec![
        "ingest",
        "--fixed-time",
        SAMPLE_TIME,
        "--data",
        p(&data),
        "--mode",
        "filter",
    ];
    args.push(p(&files[0]));
    let out = run(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("0 accepted, 100 rejected"), "{stdout}");
    assert_eq!(height_and_hash(&data), (h, hash));

    // Strict mode refuses the replayed batch as a whole and exits 1.
    let out = run(&[
        "ingest",
        "--fixed-time",
        SAMPLE_TIME,
        "--data",
        p(&data),
        p(&files[1]),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("batch refused (strict)"), "{stderr}");
    assert!(stdout.contains("1 refused"), "{stdout}");
    assert_eq!(height_and_hash(&data).0, 6);
}

#[test]
fn garbage_batch_is_refused_and_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sample = tmp.path().join("sample");
    let data = tmp.path().join("data");
    let files = gen_sample(&sample, 20, 40, 20);
    run_ok(&[
        "init",
        "--data",
        p(&data),
        "--genesis",
        p(&sample.join("genesis.json")),
    ]);
    run_ok(&[
        "ingest",
        "--fixed-time",
        SAMPLE_TIME,
        "--data",
        p(&data),
        p(&files[0]),
    ]);
    let before = height_and_hash(&data);
    assert_eq!(before.0, 1);

    // A transaction count of 1 followed by junk: malformed. (ASCII text would announce an
    // absurd transaction count in its first 8 bytes: limit_exceeded.)
    let garbage = tmp.path().join("garbage.bin");
    std::fs::write(
        &garbage,
        b"\x01\x00\x00\x00\x00\x00\x00\x00not a transaction",
    )
    .expect("write");
    let text = tmp.path().join("text.bin");
    std::fs::write(&text, b"this is not a batch").expect("write");
    let missing = tmp.path().join("missing.bin");
    for mode in ["strict", "filter"] {
        let out = run(&[
            "ingest",
            "--fixed-time",
            SAMPLE_TIME,
            "--data",
            p(&data),
            "--mode",
            mode,
            p(&garbage),
            p(&missing),
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
        assert!(
            stderr.contains("garbage.bin") && stderr.contains("malformed"),
            "the error names the file and the reason:\n{stderr}"
        );
        assert!(
            stderr.contains("missing.bin") && stderr.contains("cannot read"),
            "{stderr}"
        );
        assert!(stdout.contains("2 refused"), "{stdout}");
        assert!(stdout.contains("malformed 1"), "{stdout}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(height_and_hash(&data), before);
    }
    let out = run(&[
        "ingest",
        "--fixed-time",
        SAMPLE_TIME,
        "--data",
        p(&data),
        p(&text),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("limit_exceeded"), "{stderr}");
    assert_eq!(height_and_hash(&data), before);
    // An empty file is an undecodable batch too.
    let empty = tmp.path().join("empty.bin");
    std::fs::write(&empty, b"").expect("write");
    let out = run(&[
        "ingest",
        "--fixed-time",
        SAMPLE_TIME,
        "--data",
        p(&data),
        p(&empty),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(height_and_hash(&data), before);
    run_ok(&["check", "--data", p(&data)]);

    // The next good file still applies.
    run_ok(&[
        "ingest",
        "--fixed-time",
        SAMPLE_TIME,
        "--data",
        p(&data),
        p(&files[1]),
    ]);
    assert_eq!(height_and_hash(&data).0, 2);
}

#[test]
fn init_refuses_existing_data_and_bad_genesis() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sample = tmp.path().join("sample");
    let data = tmp.path().join("data");
    gen_sample(&sample, 10, 10, 10);
    let genesis = sample.join("genesis.json");
    run_ok(&["init", "--data", p(&data), "--genesis", p(&genesis)]);
    let before = height_and_hash(&data);

    let out = run(&["init", "--data", p(&data), "--genesis", p(&genesis)]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("already holds validator data"),
        "clear error:\n{stderr}"
    );
    assert_eq!(height_and_hash(&data), before);

    let bad = tmp.path().join("bad.json");
    for (text, expect) in [
        ("{ not json", "not valid JSON"),
        (r#"{"alloc": {}}"#, "no chain id"),
        (
            r#"{"config": {"chainId": 1}, "alloc": {"0xzz": {"balance": "1"}}}"#,
            "not an address",
        ),
        (
            r#"{"config": {"chainId": 1}, "alloc": {"0x0000000000000000000000000000000000000001": {"balance": "lots"}}}"#,
            "balance",
        ),
    ] {
        std::fs::write(&bad, text).expect("write");
        let fresh = tmp.path().join("fresh");
        let out = run(&["init", "--data", p(&fresh), "--genesis", p(&bad)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}: {stderr}");
        assert!(stderr.contains("bad genesis file"), "{stderr}");
        assert!(
            stderr.contains(expect),
            "{text}: expected {expect:?} in\n{stderr}"
        );
        assert!(
            !fresh.join("lmdb").exists(),
            "nothing created for a bad genesis"
        );
    }
    let out = run(&[
        "init",
        "--data",
        p(&tmp.path().join("other")),
        "--genesis",
        p(&tmp.path().join("no-such-genesis.json")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the genesis file"));

    // Commands on a directory that was never initialised say so.
    let out = run(&["inspect", "--data", p(&tmp.path().join("nothing"))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("run `mf-validator init"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn help_explains_every_command() {
    let out = run_ok(&["--help"]);
    for cmd in ["init", "gen", "ingest", "serve", "check", "inspect"] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(cmd)),
            "--help lists {cmd}:\n{out}"
        );
    }
    for cmd in ["init", "gen", "ingest", "serve", "check", "inspect"] {
        let out = run_ok(&[cmd, "--help"]);
        assert!(
            out.contains("--data") || out.contains("--out"),
            "{cmd}: {out}"
        );
    }
    let out = run(&[
        "ingest",
        "--fixed-time",
        SAMPLE_TIME,
        "--data",
        "x",
        "--mode",
        "sloppy",
        "f",
    ]);
    assert_eq!(out.status.code(), Some(2), "clap usage error");
}

/// `ethtest` on a folder of blockchain tests: the report on stdout, its last line the
/// counts, exit code 0 when every case passes and 1 when one fails.
#[test]
fn ethtest_reports_and_exits_by_the_verdict() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sender = "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b";
    let target = "0x1000000000000000000000000000000000000001";
    // A value transfer at gas price zero: the post-state is worked out by hand.
    let case = |target_balance: &str| {
        serde_json::json!({ "transfer": {
            "network": "Cancun",
            "pre": {
                sender: { "balance": "0x0de0b6b3a7640000", "nonce": "0x00", "code": "0x", "storage": {} },
            },
            "blocks": [{
                "blockHeader": { "number": "0x01", "timestamp": "0x03e8" },
                "transactions": [{ "sender": sender, "to": target, "value": "0x03e8", "data": "0x",
                                   "gasLimit": "0x5208", "gasPrice": "0x00", "nonce": "0x00" }],
                "uncleHeaders": [], "withdrawals": []
            }],
            "postState": {
                sender: { "balance": "0x0de0b6b3a763fc18", "nonce": "0x01", "code": "0x", "storage": {} },
                target: { "balance": target_balance, "nonce": "0x00", "code": "0x", "storage": {} },
            }
        }})
        .to_string()
    };
    let good = tmp.path().join("good");
    std::fs::create_dir(&good).expect("mkdir");
    std::fs::write(good.join("t.json"), case("0x03e8")).expect("write");
    let out = run_ok(&["ethtest", p(&good)]);
    assert!(out.contains("     1  pass: post-state equal"), "{out}");
    assert!(out.ends_with("1 passed, 0 failed, 0 skipped\n"), "{out}");

    std::fs::write(tmp.path().join("bad.json"), case("0x03e9")).expect("write");
    let out = run(&["ethtest", p(&good), p(&tmp.path().join("bad.json"))]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("     1  fail: post-state differs"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{target}: balance: Ethereum 0x3e9, here 0x3e8")),
        "the first difference is named:\n{stdout}"
    );
    assert!(
        stdout.ends_with("1 passed, 1 failed, 0 skipped\n"),
        "{stdout}"
    );
}
