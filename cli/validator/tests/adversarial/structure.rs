//! The S rows: structure (re-signed, so only the structural fault counts).

use super::*;

#[test]
fn structure() {
    let mut n = Net::start();
    // ---- S: structure (re-signed, so only the structural fault counts) -----------------
    let u1 = n.key(1);
    let to = n.fresh();
    let base = n.transfer(1, to, 7);
    let rkey = Key::account(to);
    let skey = Key::account(u1.address());
    let ri = move_on(&base.body, rkey);
    let si = move_on(&base.body, skey);
    let tamper = |f: &dyn Fn(&mut TxBody)| {
        let mut b = base.body.clone();
        f(&mut b);
        resign(b, &[&u1])
    };
    n.one(
        "S1",
        tamper(&|b| b.chain_id = CHAIN + 1),
        Some(Reason::WrongChainId),
    );
    n.one(
        "S2",
        tamper(&|b| b.call.gas_limit = MAX_GAS_LIMIT + 1),
        Some(Reason::GasLimitTooHigh),
    );
    n.one(
        "S3",
        tamper(&|b| b.moves[ri].mask = Mask(16 | 7)),
        Some(Reason::InvalidMask),
    );
    n.one(
        "S4",
        tamper(&|b| b.moves[ri].prev = Value::Storage(U256::ZERO)),
        Some(Reason::ValueTypeMismatch),
    );
    n.one(
        "S5",
        tamper(&|b| b.moves[ri].slot = U256::from(1u64)),
        Some(Reason::NonZeroAccountSlot),
    );
    n.one(
        "S6",
        tamper(&|b| b.moves[ri].kind = MoveKind::Reference),
        Some(Reason::ReferenceChangesValue),
    );
    n.one(
        "S7",
        tamper(&|b| {
            let m = b.moves[ri];
            b.moves.push(m)
        }),
        Some(Reason::DuplicateKey),
    );
    n.one(
        "S8",
        tamper(&|b| {
            for m in &mut b.moves {
                m.kind = MoveKind::Reference;
                m.next = m.prev;
            }
        }),
        Some(Reason::NoConsumeMove),
    );
    n.one(
        "S9",
        tamper(&|b| {
            b.moves.remove(si);
        }),
        Some(Reason::SenderNotConsumed),
    );
    n.one(
        "S10",
        tamper(&|b| {
            b.open = true;
            b.moves[si].mask = Mask::NONE;
        }),
        Some(Reason::SenderMoveUnsigned),
    );
    n.one(
        "S11",
        tamper(&|b| b.created_code = vec![vec![]]),
        Some(Reason::InvalidCreatedCode),
    );
    // Two non-empty entries in descending keccak-256 order (keccak(00) = bc36…,
    // keccak(01) = 5fe7…): created_code is not signed, so only ascending order is valid.
    n.one(
        "S12",
        tamper(&|b| b.created_code = vec![vec![0x00], vec![0x01]]),
        Some(Reason::InvalidCreatedCode),
    );
    // An open transfer whose unsigned recipient move comes before the signed sender move.
    n.one(
        "S13",
        tamper(&|b| {
            b.open = true;
            b.moves[ri].mask = Mask::NONE;
            let m = b.moves.remove(ri);
            b.moves.insert(0, m);
        }),
        Some(Reason::NoncanonicalMoveOrder),
    );

    n.finish('S');
}
