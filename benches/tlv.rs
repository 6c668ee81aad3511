//! The TLV codecs of the card (`sscard_core::tlv`) on the objects the applications read
//! most: data object lists (the PDOLs and CDOL1 of the default PBOC profile, EMV Book 3
//! §5.4) and BER-TLV FCIs (the PPSE FCI of PBOC, the SSSE DDF FCI of spec/ssc.md §4).
//! Throughput in objects per second.
//!
//! `cargo bench --bench tlv`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sscard_core::tlv::{DolReader, Tag, dol_value_len, find, find_path, validate};

/// Contact PDOL, contactless PDOL and CDOL1 of `vectors/profiles/pboc-default.toml`.
const DOLS: &[&[u8]] = &[
    &[
        0x9F, 0x7A, 0x01, 0x9F, 0x02, 0x06, 0x5F, 0x2A, 0x02, 0xDF, 0x69, 0x01,
    ],
    &[
        0x9F, 0x66, 0x04, 0x9F, 0x02, 0x06, 0x9F, 0x03, 0x06, 0x9F, 0x1A, 0x02, 0x95, 0x05, 0x5F,
        0x2A, 0x02, 0x9A, 0x03, 0x9C, 0x01, 0x9F, 0x37, 0x04, 0xDF, 0x60, 0x01, 0xDF, 0x69, 0x01,
    ],
    &[
        0x9F, 0x02, 0x06, 0x9F, 0x03, 0x06, 0x9F, 0x1A, 0x02, 0x95, 0x05, 0x5F, 0x2A, 0x02, 0x9A,
        0x03, 0x9C, 0x01, 0x9F, 0x37, 0x04,
    ],
];

/// The PPSE FCI of a UnionPay card: 6F { 84, A5 { BF0C { 61 { 4F, 50, 87 } } } }.
const PPSE_FCI: &[u8] = &[
    0x6F, 0x30, 0x84, 0x0E, 0x32, 0x50, 0x41, 0x59, 0x2E, 0x53, 0x59, 0x53, 0x2E, 0x44, 0x44, 0x46,
    0x30, 0x31, 0xA5, 0x1E, 0xBF, 0x0C, 0x1B, 0x61, 0x19, 0x4F, 0x08, 0xA0, 0x00, 0x00, 0x03, 0x33,
    0x01, 0x01, 0x01, 0x50, 0x0A, 0x50, 0x42, 0x4F, 0x43, 0x20, 0x44, 0x45, 0x42, 0x49, 0x54, 0x87,
    0x01, 0x01,
];

/// The SSSE DDF FCI: 6F { 84, A5 { 88, 9F0C { 86 } } }.
const SSC_DDF_FCI: &[u8] = &[
    0x6F, 0x1C, 0x84, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1, 0xB1,
    0xA3, 0xD5, 0xCF, 0xA5, 0x09, 0x88, 0x01, 0x1E, 0x9F, 0x0C, 0x03, 0x86, 0x01, 0x03,
];

fn dol(c: &mut Criterion) {
    let mut group = c.benchmark_group("tlv_dol");
    group.throughput(Throughput::Elements(DOLS.len() as u64));
    // The value lengths summed, so no DOL's parse can be optimised away.
    group.bench_function("dol_value_len (2 PDOLs + CDOL1)", |b| {
        b.iter(|| {
            DOLS.iter()
                .map(|dol| dol_value_len(black_box(dol)).unwrap_or(0))
                .sum::<usize>()
        })
    });
    // How the PBOC applet asks whether a DOL names a tag (perso.rs, records.rs).
    let wanted = Tag(0x9F37);
    group.bench_function("DolReader, tag lookup (2 PDOLs + CDOL1)", |b| {
        b.iter(|| {
            DOLS.iter()
                .filter(|dol| {
                    DolReader::new(black_box(dol))
                        .any(|e| e.is_ok_and(|e| e.tag == black_box(wanted)))
                })
                .count()
        })
    });
    group.finish();
}

fn ber(c: &mut Criterion) {
    let mut group = c.benchmark_group("tlv_ber");
    group.throughput(Throughput::Elements(2));
    group.bench_function("validate (PPSE FCI + SSSE FCI)", |b| {
        b.iter(|| {
            let _ = black_box(validate(black_box(PPSE_FCI)));
            let _ = black_box(validate(black_box(SSC_DDF_FCI)));
        })
    });
    group.bench_function("find 4F, find_path 6F/A5/9F0C/86", |b| {
        b.iter(|| {
            let _ = black_box(find(black_box(PPSE_FCI), Tag(0x4F)));
            let path = [Tag(0x6F), Tag(0xA5), Tag(0x9F0C), Tag(0x86)];
            let _ = black_box(find_path(black_box(SSC_DDF_FCI), &path));
        })
    });
    group.finish();
}

criterion_group!(benches, dol, ber);
criterion_main!(benches);
