//! `CommandView::parse` of the APDU shapes a terminal sends most (spec/ssc.md §4, §5):
//! throughput in parsed APDUs per second.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sscard_core::apdu::CommandView;

/// One APDU of each ISO case, short and extended, as they occur in the field.
const TYPICAL: &[&[u8]] = &[
    // SELECT SSSE by name, case 4S.
    &[
        0x00, 0xA4, 0x04, 0x00, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB,
        0xE1, 0xB1, 0xA3, 0xD5, 0xCF, 0x00,
    ],
    // READ RECORD by SFI, case 2S.
    &[0x00, 0xB2, 0x01, 0x2C, 0x12],
    // UPDATE RECORD by tag, case 3S.
    &[
        0x00, 0xDC, 0x05, 0x28, 0x06, 0x05, 0x04, 0x20, 0x24, 0x01, 0x01,
    ],
    // SELECT parent, case 1.
    &[0x00, 0xA4, 0x03, 0x00],
    // READ BINARY of the whole fingerprint EF, case 2E.
    &[0x00, 0xB0, 0x00, 0x00, 0x00, 0x03, 0x00],
];

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("apdu_parse");
    group.throughput(Throughput::Elements(TYPICAL.len() as u64));
    group.bench_function("typical mix (5 APDUs)", |b| {
        b.iter(|| {
            for apdu in TYPICAL {
                let _ = black_box(CommandView::parse(black_box(apdu)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
