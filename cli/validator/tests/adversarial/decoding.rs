//! The D rows: decoding and size limits (refused whole, in both modes).

use super::*;

#[test]
fn decoding_and_size_limits() {
    let mut n = Net::start();
    // ---- D: decoding and size limits (refused whole, in both modes) --------------------
    let good = n.transfer(0, fresh(1000), 5);
    n.refused(
        "D1",
        |s| s.post(b"\x02\x00\x00\x00\x00\x00\x00\x00garbage"),
        400,
        Some(Reason::Malformed),
    );
    let enc = encode(&Batch {
        txs: vec![good.clone()],
    });
    let truncated = enc[..enc.len() - 1].to_vec();
    n.refused("D2", |s| s.post(&truncated), 400, Some(Reason::Malformed));
    let mut trailing = enc.clone();
    trailing.push(0);
    n.refused("D3", |s| s.post(&trailing), 400, Some(Reason::Malformed));
    n.refused(
        "D4",
        |s| announce_only(&s.addr, MAX_BATCH_BYTES as u64 + 1),
        413,
        Some(Reason::LimitExceeded),
    );
    let count = (MAX_TXS_PER_BATCH as u64 + 1).to_le_bytes();
    n.refused("D5", |s| s.post(&count), 400, Some(Reason::LimitExceeded));
    // Too many moves, behind a valid transaction: filter mode does not salvage it.
    let mut body = good.body.clone();
    for i in 0..(MAX_MOVES_PER_TX + 1 - body.moves.len()) {
        body.moves
            .push(never_written_ref(fresh(10_000 + i as u32), Mask::ALL));
    }
    assert_eq!(body.moves.len(), MAX_MOVES_PER_TX + 1);
    let big = resign(body, &[&n.key(0)]);
    let b = encode(&Batch {
        txs: vec![good.clone(), big],
    });
    n.refused("D6", |s| s.post(&b), 400, Some(Reason::LimitExceeded));
    let mut body = good.body.clone();
    body.call.input = vec![0; MAX_INPUT_BYTES + 1];
    let b = encode(&Batch {
        txs: vec![resign(body, &[&n.key(0)])],
    });
    n.refused("D7", |s| s.post(&b), 400, Some(Reason::LimitExceeded));
    let cosigners: Vec<Keypair> = (0..MAX_AUTHS)
        .map(|i| Keypair::from_label(&format!("adversarial cosigner {i}")))
        .collect();
    let sender = n.key(0);
    let mut keys: Vec<&Keypair> = vec![&sender];
    keys.extend(cosigners.iter());
    assert_eq!(keys.len(), MAX_AUTHS + 1);
    let b = encode(&Batch {
        txs: vec![resign(good.body.clone(), &keys)],
    });
    n.refused("D8", |s| s.post(&b), 400, Some(Reason::LimitExceeded));
    let mut body = good.body.clone();
    body.created_code = vec![vec![0x00]; MAX_CREATED_CODES + 1];
    let b = encode(&Batch {
        txs: vec![resign(body, &[&n.key(0)])],
    });
    n.refused("D9", |s| s.post(&b), 400, Some(Reason::LimitExceeded));
    let mut body = good.body.clone();
    body.created_code = vec![vec![0x00; MAX_CODE_BYTES + 1]];
    let b = encode(&Batch {
        txs: vec![resign(body, &[&n.key(0)])],
    });
    n.refused("D10", |s| s.post(&b), 400, Some(Reason::LimitExceeded));
    let empty = encode(&Batch::default());
    n.refused("D11", |s| s.post(&empty), 400, None);
    // Exactly at the limits: 1024 moves (1022 references to never-written accounts, which
    // execution never reads) and 16 signers. Decodes, and is valid.
    let mut body = n.transfer(0, fresh(1001), 5).body;
    for i in 0..(MAX_MOVES_PER_TX - body.moves.len()) {
        body.moves
            .push(never_written_ref(fresh(20_000 + i as u32), Mask::ALL));
    }
    assert_eq!(body.moves.len(), MAX_MOVES_PER_TX);
    let keys16: Vec<&Keypair> = keys[..MAX_AUTHS].to_vec();
    n.one("D12", resign(body, &keys16), None);

    n.finish('D');
}
