//! The in-process APDU round trip: SELECT SSSE by name (P2 = 0C, no FCI) then READ
//! RECORD by SFI, the two commands every social-security terminal starts with
//! (spec/ssc.md §4). Answered directly (no T=0 `61xx`, `Le = 00` returns the record), so
//! each iteration is exactly two APDUs; throughput in APDUs per second.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sscard_core::CosOptions;
use sscard_core::options::LeZero;
use sscard_testkit::sample::{SSSE_NAME, sample_card_with};

fn select_read_record(c: &mut Criterion) {
    let mut card = sample_card_with(CosOptions {
        le_zero: LeZero::Lenient,
        t0_get_response: false,
        ..CosOptions::default()
    });
    let select = [
        &[0x00, 0xA4, 0x04, 0x0C, SSSE_NAME.len() as u8][..],
        SSSE_NAME,
    ]
    .concat();
    // Record 1 of EF05 (SFI 5), Le = 00.
    let read = [0x00, 0xB2, 0x01, 0x2C, 0x00];
    let mut out = [0u8; 258];

    // Benchmark the success path only: both commands must answer 9000 (and the read,
    // the 18-byte record).
    let n = card.process(&select, &mut out);
    assert_eq!(out.get(..n), Some(&[0x90, 0x00][..]), "SELECT SSSE");
    let n = card.process(&read, &mut out);
    assert_eq!(
        (n, out.get(n - 2..n)),
        (20, Some(&[0x90, 0x00][..])),
        "READ RECORD"
    );

    let mut group = c.benchmark_group("select_read_record");
    group.throughput(Throughput::Elements(2));
    group.bench_function("SELECT SSSE + READ RECORD SFI 5", |b| {
        b.iter(|| {
            black_box(card.process(black_box(&select), &mut out));
            black_box(card.process(black_box(&read), &mut out));
        })
    });
    group.finish();
}

criterion_group!(benches, select_read_record);
criterion_main!(benches);
