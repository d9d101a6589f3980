//! Each fork's gas schedule (PROTOCOL.md §6.3): the static cost of every opcode comes from
//! the instruction table of the fork in force, also when one engine runs transactions of
//! several forks one after the other (a reused EVM built for another fork once charged
//! EIP-2929's warm prices before Berlin).

use mf_format::{Account, Address, Call, ChainRules, EMPTY_CODE_HASH, ExecContext, Fork, U256};
use mf_movegen::{MemoryView, execute_under};

/// `SLOAD(0)`, `BALANCE(0x..ee)`, `EXTCODESIZE(0x..ee)`: three accesses whose price each
/// fork changed.
const ACCESSES: &[u8] = &[
    0x60, 0x00, 0x54, 0x50, // SLOAD(0), POP
    0x73, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
    0xee, 0xee, 0xee, 0xee, 0xee, 0x31, 0x50, // BALANCE, POP
    0x73, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
    0xee, 0xee, 0xee, 0xee, 0xee, 0x3b, 0x50, // EXTCODESIZE, POP
    0x00,
];

#[test]
fn every_fork_charges_its_own_static_gas() {
    let from = Address::repeat_byte(0x11);
    let to = Address::repeat_byte(0x22);
    let mut view = MemoryView::new();
    view.set_account(
        from,
        Account {
            balance: U256::from(10u64).pow(U256::from(18u64)),
            nonce: 0,
            code_hash: EMPTY_CODE_HASH,
        },
    );
    view.deploy(to, ACCESSES.to_vec(), U256::ZERO, []);
    let call = Call {
        from,
        to: Some(to),
        value: U256::ZERO,
        input: vec![],
        gas_limit: 100_000,
        fee: Default::default(),
        access_list: Vec::new(),
        blob: None,
    };
    // 21,000 + pushes and pops (3 x 3 + 3 x 2) + the three accesses, by fork:
    // Byzantium SLOAD 200, BALANCE 400, EXTCODESIZE 700; Istanbul (EIP-1884) SLOAD 800,
    // BALANCE 700; Berlin on (EIP-2929) 2,100 and 2,600 cold, then 100 for the address now
    // warm.
    let base = 21_000 + 9 + 6;
    let want = [
        (Fork::Byzantium, base + 200 + 400 + 700),
        (Fork::Istanbul, base + 800 + 700 + 700),
        (Fork::Berlin, base + 2_100 + 2_600 + 100),
        (Fork::Cancun, base + 2_100 + 2_600 + 100),
    ];
    // Twice in alternation: nothing of one fork's run may leak into the next.
    for _ in 0..2 {
        for (fork, gas) in want {
            let rules = ChainRules::from_genesis(fork, 30_000_000);
            let ex = execute_under(&view, 1, &rules, &call, &ExecContext::default(), false)
                .expect("runs");
            assert_eq!(ex.gas_used, gas, "{fork:?}");
        }
    }
}
