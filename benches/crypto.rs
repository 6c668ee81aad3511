//! The card's cryptography against OpenSSL on the same machine, in the same run: SM4 (one
//! block, the session key, INTERNAL AUTHENTICATE's authentication data, the card MAC
//! over 64 bytes), 3DES one block, SM3 (64 B, 1 KiB), SM2 sign and verify with the
//! ID 1234567812345678 — each as the card's `crypto` module (`sscard`), the RustCrypto
//! crate it wraps called directly (`RustCrypto`) and OpenSSL 3 (`OpenSSL`). What each
//! measures and how: `benches/support/crypto.rs`.
//!
//! `scripts/bench-crypto.sh` runs this bench and prints the ratios (each median over
//! OpenSSL's, and the card's over the crate's); `benches/crypto_count.rs` counts the
//! instructions of the same functions under callgrind.

#[path = "support/crypto.rs"]
mod ops;

use criterion::{Criterion, criterion_group, criterion_main};
use ops::{CASES, Ops};

fn crypto(c: &mut Criterion) {
    let mut o = Ops::new();
    let mut groups: Vec<&str> = CASES.iter().map(|case| case.group).collect();
    groups.dedup();
    for name in groups {
        let mut g = c.benchmark_group(name);
        for case in CASES.iter().filter(|case| case.group == name) {
            g.bench_function(case.implementation, |b| b.iter(|| (case.run)(&mut o)));
        }
        g.finish();
    }
}

criterion_group!(benches, crypto);
criterion_main!(benches);
