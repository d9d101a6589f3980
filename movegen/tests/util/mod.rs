//! Shared fixtures: the committed `Token` and `Pair` artifacts deployed in a genesis.
#![allow(dead_code)]

pub mod plain;

use mf_format::{Account, Address, EMPTY_CODE_HASH, Keypair, U256};
use mf_movegen::MemoryView;
use mf_movegen::abi::{Arg, calldata, mapping_slot, nested_mapping_slot};

pub const CHAIN: u64 = 1337;

pub fn artifact(name: &str, field: &str) -> Vec<u8> {
    // Relative to this file, so that test crates elsewhere can include it with `#[path]`.
    let text = match name {
        "Token" => include_str!("../../../contracts/artifacts/Token.json"),
        "Pair" => include_str!("../../../contracts/artifacts/Pair.json"),
        _ => panic!("no artifact {name}"),
    };
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    let hex = v[field].as_str().unwrap();
    alloy_primitives::hex::decode(hex.trim_start_matches("0x")).unwrap()
}

pub fn addr(n: u8) -> Address {
    let mut a = [0u8; 20];
    a[0] = 0xc0;
    a[19] = n;
    Address::from(a)
}

pub const TOKEN_A: u8 = 1;
pub const TOKEN_B: u8 = 2;
pub const PAIR: u8 = 3;

pub fn eth(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

pub fn bal_slot(holder: Address) -> U256 {
    mapping_slot(holder, U256::ZERO)
}

pub fn allowance_slot(owner: Address, spender: Address) -> U256 {
    nested_mapping_slot(owner, spender, U256::from(1u64))
}

pub struct World {
    pub view: MemoryView,
    pub users: Vec<Keypair>,
    pub token_a: Address,
    pub token_b: Address,
    pub pair: Address,
}

/// Users with 1000 ETH each, two tokens (1,000,000 each to every user), a pool with
/// 10,000/20,000 liquidity, and every user's max allowance to the pool.
pub fn world(users: usize) -> World {
    let users: Vec<Keypair> = (0..users)
        .map(|i| Keypair::from_label(&format!("movegen test user {i}")))
        .collect();
    let (ta, tb, pair) = (addr(TOKEN_A), addr(TOKEN_B), addr(PAIR));
    let mut view = MemoryView::new();
    for u in &users {
        view.set_account(
            u.address(),
            Account {
                balance: eth(1000),
                nonce: 0,
                code_hash: EMPTY_CODE_HASH,
            },
        );
    }
    let token_code = artifact("Token", "deployedBytecode");
    let per_user = eth(1_000_000);
    let (ra, rb) = (eth(10_000), eth(20_000));
    for (t, reserve) in [(ta, ra), (tb, rb)] {
        let mut storage = vec![
            (
                U256::from(2u64),
                per_user * U256::from(users.len()) + reserve,
            ),
            (bal_slot(pair), reserve),
        ];
        for u in &users {
            storage.push((bal_slot(u.address()), per_user));
            storage.push((allowance_slot(u.address(), pair), U256::MAX));
        }
        view.deploy(t, token_code.clone(), U256::ZERO, storage);
    }
    let lp = U256::from(1_000_000u64);
    view.deploy(
        pair,
        artifact("Pair", "deployedBytecode"),
        U256::ZERO,
        [
            (U256::ZERO, U256::from_be_slice(ta.as_slice())),
            (U256::from(1u64), U256::from_be_slice(tb.as_slice())),
            (U256::from(2u64), ra),
            (U256::from(3u64), rb),
            (U256::from(4u64), lp),
            (mapping_slot(users[0].address(), U256::from(5u64)), lp),
        ],
    );
    World {
        view,
        users,
        token_a: ta,
        token_b: tb,
        pair,
    }
}

pub fn transfer_data(to: Address, amount: U256) -> Vec<u8> {
    calldata(
        "transfer(address,uint256)",
        &[Arg::Address(to), Arg::Uint(amount)],
    )
}

pub fn swap_data(token_in: Address, amount: U256, min_out: U256) -> Vec<u8> {
    calldata(
        "swap(address,uint256,uint256)",
        &[
            Arg::Address(token_in),
            Arg::Uint(amount),
            Arg::Uint(min_out),
        ],
    )
}

/// Expected output of the pool's formula.
pub fn amount_out(amount_in: U256, reserve_in: U256, reserve_out: U256) -> U256 {
    let fee_in = amount_in * U256::from(997u64);
    fee_in * reserve_out / (reserve_in * U256::from(1000u64) + fee_in)
}

/// Creation code of `Token(name, symbol, supply, holder)`.
pub fn token_init_code(name: &str, symbol: &str, supply: U256, holder: Address) -> Vec<u8> {
    let mut code = artifact("Token", "bytecode");
    let word = |u: U256| u.to_be_bytes::<32>();
    let padded = |s: &str| {
        let mut b = s.as_bytes().to_vec();
        b.resize(s.len().div_ceil(32) * 32, 0);
        b
    };
    let name_len = 32 + padded(name).len();
    code.extend_from_slice(&word(U256::from(0x80u64)));
    code.extend_from_slice(&word(U256::from(0x80 + name_len)));
    code.extend_from_slice(&word(supply));
    code.extend_from_slice(&holder.into_word().0);
    for s in [name, symbol] {
        code.extend_from_slice(&word(U256::from(s.len())));
        code.extend_from_slice(&padded(s));
    }
    code
}

/// Init code that creates two contracts with different runtime code: it first `CREATE`s a
/// child whose runtime is `STOP` (`00`), then deploys itself with the runtime `ADD` (`01`).
/// So a creation with it declares two `created_code` entries, whose canonical order is by
/// keccak-256 hash (PROTOCOL.md §6.1 #7b): `01` (5fe7…) before `00` (bc36…).
///
/// ```text
/// PUSH10 <child init: MSTORE8(0, 0) RETURN(0, 1)> PUSH1 0 MSTORE   child init at mem[22..32]
/// PUSH1 10 PUSH1 22 PUSH1 0 CREATE POP                             CREATE(0, 22, 10)
/// PUSH1 1 PUSH1 0 MSTORE8 PUSH1 1 PUSH1 0 RETURN                   runtime 01
/// ```
pub const TWO_CONTRACTS_INIT: &[u8] = &[
    0x69, 0x60, 0x00, 0x60, 0x00, 0x53, 0x60, 0x01, 0x60, 0x00, 0xf3, 0x60, 0x00, 0x52, 0x60, 0x0a,
    0x60, 0x16, 0x60, 0x00, 0xf0, 0x50, 0x60, 0x01, 0x60, 0x00, 0x53, 0x60, 0x01, 0x60, 0x00, 0xf3,
];
