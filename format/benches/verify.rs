//! Signature verification: one at a time against `verify_batch`, plus the costs around it
//! (key parsing, signing digest, tx id). Run: `cargo bench -p mf-format --bench verify`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mf_format::*;
use std::hint::black_box;

fn setup(n: usize) -> (Vec<PublicKey>, Vec<B256>, Vec<SignatureBytes>) {
    let keys: Vec<Keypair> = (0..n)
        .map(|i| Keypair::from_label(&format!("bench {i}")))
        .collect();
    let msgs: Vec<B256> = (0..n)
        .map(|i| B256::from(*blake3::hash(&i.to_le_bytes()).as_bytes()))
        .collect();
    let sigs = keys
        .iter()
        .zip(&msgs)
        .map(|(k, m)| k.sign_digest(m))
        .collect();
    let pks = keys
        .iter()
        .map(|k| PublicKey::parse(&k.public_key()).expect("valid key"))
        .collect();
    (pks, msgs, sigs)
}

fn verify(c: &mut Criterion) {
    let n = 1024;
    let (pks, msgs, sigs) = setup(n);
    let items: Vec<SigCheck> = (0..n)
        .map(|i| SigCheck {
            key: &pks[i],
            message: msgs[i].as_slice(),
            signature: &sigs[i],
        })
        .collect();
    let mut g = c.benchmark_group("ed25519");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("single_1024", |b| {
        b.iter(|| {
            for it in &items {
                black_box(it.key.verify(it.message, it.signature)).ok();
            }
        })
    });
    for size in [64usize, 1024] {
        g.bench_with_input(BenchmarkId::new("batch", size), &size, |b, &size| {
            b.iter(|| {
                for chunk in items.chunks(size) {
                    black_box(verify_batch(chunk));
                }
            })
        });
    }
    g.finish();

    let key = Keypair::from_label("parse");
    let pk = key.public_key();
    c.bench_function("public_key_parse", |b| {
        b.iter(|| PublicKey::parse(black_box(&pk)))
    });
}

criterion_group!(benches, verify);
criterion_main!(benches);
