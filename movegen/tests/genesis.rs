//! The genesis file (PROTOCOL.md §6.4.1): storage words are read as geth reads them.

use mf_format::{Address, Key, U256, Value};
use mf_movegen::genesis::Genesis;

fn with_storage(storage: &str) -> Result<Genesis, String> {
    Genesis::parse(&format!(
        r#"{{"config": {{"chainId": 7}},
            "alloc": {{"0x00000000000000000000000000000000000000aa": {{"balance": "0x1", "nonce": "0x1", "storage": {storage}}}}}}}"#
    ))
    .map_err(|e| e.to_string())
}

fn slot_value(g: &Genesis, slot: u64) -> Option<U256> {
    let mut addr = [0u8; 20];
    addr[19] = 0xaa;
    let key = Key::storage(Address::from(addr), U256::from(slot));
    g.versions
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| match v {
            Value::Storage(w) => *w,
            Value::Account(_) => U256::MAX,
        })
}

/// The hardening review's item 8: storage keys without `0x` were read as decimal where geth
/// reads hex, and two spellings of one slot resolved silently to one of the two values.
#[test]
fn genesis_storage_words_are_hex_and_each_slot_is_spelled_once() {
    let g = with_storage(r#"{"10": "ff", "0x02": "0x0100"}"#).expect("hex words parse");
    assert_eq!(
        slot_value(&g, 0x10),
        Some(U256::from(0xffu64)),
        "\"10\" is slot 16"
    );
    assert_eq!(slot_value(&g, 10), None, "not slot 10");
    assert_eq!(slot_value(&g, 2), Some(U256::from(0x100u64)));
    let full = format!("0x{}", "0".repeat(63) + "3");
    let g = with_storage(&format!(r#"{{"{full}": "0x1"}}"#)).expect("a 32-byte key");
    assert_eq!(slot_value(&g, 3), Some(U256::from(1u64)));

    for (storage, why) in [
        (r#"{"0x1": "0x5", "0x01": "0x6"}"#, "the same slot"),
        (r#"{"1": "0x5", "0x0001": "0x6"}"#, "the same slot"),
        (r#"{"0x1g": "0x5"}"#, "not hex"),
        (r#"{"12.5": "0x5"}"#, "not hex"),
        (r#"{"0x": "0x5"}"#, "no hex digits"),
        (r#"{"0x1": "-1"}"#, "not hex"),
    ] {
        let e = with_storage(storage).expect_err(storage);
        assert!(e.contains(why), "{storage}: {e}");
    }
    let long = format!(r#"{{"0x1{}": "0x5"}}"#, "0".repeat(64));
    let e = with_storage(&long).expect_err("65 digits");
    assert!(e.contains("more than 64 hex digits"), "{e}");
}

/// What `to_json` writes parses back to the same genesis.
#[test]
fn genesis_json_round_trips() {
    let g = with_storage(r#"{"0x1": "0x5", "0xabc": "0xffffffffffffffffffffffffffffffff"}"#)
        .expect("parse");
    let again = Genesis::parse(&g.to_json().to_string()).expect("round trip");
    assert_eq!(g, again);
}

/// The hardening review's item 8 (EIP-7610: no contract is created at an address with
/// storage). Moves cannot show that an address has no storage, so the one way to get storage
/// without code or a nonce in Cancun, a genesis entry, is refused; zero words are no storage.
#[test]
fn eip7610_genesis_storage_without_code_or_nonce_is_refused() {
    let file = |account: &str| {
        Genesis::parse(&format!(
            r#"{{"config": {{"chainId": 7}},
                "alloc": {{"0x00000000000000000000000000000000000000bb": {account}}}}}"#
        ))
        .map_err(|e| e.to_string())
    };
    let e = file(r#"{"balance": "0x5", "storage": {"0x1": "0x2"}}"#).expect_err("EIP-7610");
    assert!(e.contains("EIP-7610"), "{e}");
    file(r#"{"balance": "0x5", "storage": {"0x1": "0x0"}}"#).expect("a zero word is no storage");
    file(r#"{"nonce": "0x1", "storage": {"0x1": "0x2"}}"#).expect("a nonce");
    file(r#"{"code": "0x00", "storage": {"0x1": "0x2"}}"#).expect("code");
}

/// The semantics issue's items 3 and 4: the chain's gas limit and fork schedule come from
/// the genesis as geth writes them, survive the round trip, and an inconsistent schedule is
/// refused.
#[test]
fn genesis_rules_fork_schedule_and_gas_limit() {
    use mf_format::{Activation, ChainRules, Fork};
    let parse = |config: &str, top: &str| {
        Genesis::parse(&format!(
            r#"{{"config": {{"chainId": 7 {config}}} {top}, "alloc": {{}}}}"#
        ))
        .map_err(|e| e.to_string())
    };
    // No fork named, no gas limit: Cancun from genesis and 30,000,000.
    let g = parse("", "").expect("parse");
    assert_eq!(g.rules, ChainRules::default());
    assert_eq!(g.rules.fork_at(0, 0), Fork::Cancun);

    let g = parse(
        r#", "homesteadBlock": 0, "eip150Block": 0, "eip155Block": 0, "eip158Block": 0,
           "byzantiumBlock": 0, "constantinopleBlock": 0, "petersburgBlock": 0,
           "istanbulBlock": 0, "berlinBlock": 0, "londonBlock": 10, "mergeNetsplitBlock": 10,
           "shanghaiTime": 1000, "cancunTime": "0x7d0", "terminalTotalDifficulty": 0"#,
        r#", "gasLimit": "0x3938700""#,
    )
    .expect("parse");
    assert_eq!(g.rules.gas_limit, 60_000_000);
    assert_eq!(
        g.rules.fork_at(9, 5000),
        Fork::Berlin,
        "time forks wait for London"
    );
    assert_eq!(g.rules.fork_at(10, 999), Fork::Paris);
    assert_eq!(g.rules.fork_at(10, 1000), Fork::Shanghai);
    assert_eq!(g.rules.fork_at(10, 2000), Fork::Cancun);
    assert!(
        g.rules
            .forks
            .contains(&(Fork::Cancun, Activation::Time(2000)))
    );
    let again = Genesis::parse(&g.to_json().to_string()).expect("round trip");
    assert_eq!(g, again);

    let err = parse(r#", "londonBlock": 10, "berlinBlock": 20"#, "").unwrap_err();
    assert!(err.contains("fork schedule"), "{err}");
    let err = parse("", r#", "gasLimit": "0x0""#).unwrap_err();
    assert!(err.contains("gas limit 0"), "{err}");
}

/// A genesis that continues another chain names its block number and its ancestors' hashes
/// (PROTOCOL.md §6.3); they survive the JSON a validator serves, and bad ones are refused.
#[test]
fn genesis_number_and_block_hashes_round_trip() {
    let text = r#"{"config": {"chainId": 1}, "number": "0x3e8", "gasLimit": "0x1c9c380",
        "blockHashes": {"999": "0x5959595959595959595959595959595959595959595959595959595959595959",
                        "0x3e8": "0x5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"},
        "alloc": {}}"#;
    let g = Genesis::parse(text).expect("parses");
    assert_eq!(g.rules.genesis_number, 1_000);
    assert_eq!(
        g.rules.ancestor_hash(999),
        Some(mf_format::B256::repeat_byte(0x59))
    );
    assert_eq!(
        g.rules.ancestor_hash(1_000),
        Some(mf_format::B256::repeat_byte(0x5a))
    );
    let again = Genesis::parse(&g.to_json().to_string()).expect("round trip");
    assert_eq!(again.rules, g.rules);
    // A hash for a block after the genesis, or one block named twice, is refused.
    for bad in [
        r#"{"config": {"chainId": 1}, "number": "0x1", "blockHashes": {"2": "0x5959595959595959595959595959595959595959595959595959595959595959"}, "alloc": {}}"#,
        r#"{"config": {"chainId": 1}, "number": "0x9", "blockHashes": {"2": "0x5959595959595959595959595959595959595959595959595959595959595959", "0x2": "0x5959595959595959595959595959595959595959595959595959595959595959"}, "alloc": {}}"#,
    ] {
        assert!(Genesis::parse(bad).is_err(), "{bad}");
    }
}
