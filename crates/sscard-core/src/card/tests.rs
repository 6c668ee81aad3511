//! Byte-exact command/response fixtures for the processor and the file system.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::applet::Interface;
use super::*;
use crate::fs::build::{Capacities, DfSpec, EfSpec, Personalizer, Structure};
use crate::fs::layout::{Access, FileIndex, FileKind};
use crate::nvm::RamNvm;
use crate::nvm::Transactional;
use crate::rng::SplitMixRng;
use std::prelude::rust_2024::*;
use std::vec::Vec;

pub(crate) const SSSE: &[u8] = &[
    0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF,
];
pub(crate) const ATR: &[u8] = &[
    0x3B, 0x6D, 0x00, 0x00, 0x00, 0x81, 0x53, 0x53, 0x43, 0x86, 0x60, 0x51, 0x99, 0x00, 0x00, 0x00,
    0x01,
];

pub(crate) fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub(crate) fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// A small social-security-like tree:
/// MF ─ SSSE (DDF) ─ EF05 (TLV records, free read, write key 04), EF07 (transparent 0x300,
/// read key 0A), EF0A (linear fixed 4×3), DF01 (ADF) ─ EF05 (read PIN or key 84),
/// DF04 (ADF) ─ EF08 (cyclic 4×5, read PIN, never written).
/// An ADF below `parent`, named `name` (hex), with no proprietary FCI data.
fn adf(
    p: &mut Personalizer<'_, RamNvm<Vec<u8>>>,
    parent: FileIndex,
    fid: u16,
    name: &str,
) -> FileIndex {
    let spec = DfSpec {
        kind: FileKind::Adf,
        fid,
        name: &hex(name),
        fci_proprietary: &[],
        role: 0,
    };
    p.df(parent, spec).unwrap()
}

/// An EF `fid` of `structure` that anyone may read and update, with plain records and its
/// SFI the FID's last byte (EF05 → 5).
fn free_ef(fid: u16, structure: Structure) -> EfSpec {
    EfSpec {
        fid,
        sfi: fid.to_be_bytes()[1],
        structure,
        read: Access::Always,
        write: Access::Always,
        tlv_records: false,
    }
}

pub(crate) fn personalize(nvm: &mut RamNvm<Vec<u8>>) {
    let mut p = Personalizer::format(nvm, Capacities::default(), ATR).unwrap();
    let ssse = p
        .df(
            0,
            DfSpec {
                kind: FileKind::Ddf,
                fid: 0,
                name: SSSE,
                fci_proprietary: &hex("88011E9F0C03860103"),
                role: 0,
            },
        )
        .unwrap();
    let ef05 = p
        .ef(
            ssse,
            EfSpec {
                write: Access::Key(0x04),
                tlv_records: true,
                ..free_ef(
                    0xEF05,
                    Structure::LinearVariable {
                        max_len: 18,
                        records: 7,
                    },
                )
            },
        )
        .unwrap();
    for r in [
        "0110519900D1560000050000000112345678",
        "020133",
        "030433 2E3030",
    ] {
        p.append_record(ef05, &hex(r)).unwrap();
    }
    let ef07 = p
        .ef(
            ssse,
            EfSpec {
                read: Access::Key(0x0A),
                write: Access::Key(0x04),
                ..free_ef(0xEF07, Structure::Transparent { size: 0x300 })
            },
        )
        .unwrap();
    p.write_body(ef07, 0, &[0xA5; 16]).unwrap();
    let ef0a = p
        .ef(
            ssse,
            free_ef(
                0xEF0A,
                Structure::LinearFixed {
                    record_len: 3,
                    records: 4,
                },
            ),
        )
        .unwrap();
    p.append_record(ef0a, &[1, 1, 1]).unwrap();
    let df01 = adf(&mut p, ssse, 0xDF01, "D15600000500");
    let d1ef05 = p
        .ef(
            df01,
            EfSpec {
                read: Access::PinOrKey { pin: 0, key: 0x84 },
                write: Access::Key(0x83),
                tlv_records: true,
                ..free_ef(
                    0xEF05,
                    Structure::LinearVariable {
                        max_len: 40,
                        records: 4,
                    },
                )
            },
        )
        .unwrap();
    p.append_record(d1ef05, &hex("20023130")).unwrap();
    let df04 = adf(&mut p, ssse, 0xDF04, "D15600000503");
    let ef08 = p
        .ef(
            df04,
            free_ef(
                0xEF08,
                Structure::Cyclic {
                    record_len: 5,
                    records: 4,
                },
            ),
        )
        .unwrap();
    for i in 1..=2u8 {
        p.append_record(ef08, &[i; 5]).unwrap();
    }
    p.finish().unwrap();
}

pub(crate) type TestCard = Card<RamNvm<Vec<u8>>, SplitMixRng>;

pub(crate) fn card_with(options: CosOptions) -> TestCard {
    let mut nvm = RamNvm::new(vec![0u8; 16 * 1024]);
    personalize(&mut nvm);
    let mut card = Card::load(nvm, SplitMixRng::new(7), (), (), options).unwrap();
    card.power_on(Interface::Contact).unwrap();
    card
}

pub(crate) fn card() -> TestCard {
    card_with(CosOptions::default())
}

/// Options that answer Le = 00 with whatever there is.
fn lenient() -> CosOptions {
    CosOptions {
        le_zero: LeZero::Lenient,
        ..CosOptions::default()
    }
}

const SELECT_SSSE: &str = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00";

/// `card` after SELECT of the SSSE by name (its answer is not checked).
fn in_ssse(mut card: TestCard) -> TestCard {
    tx(&mut card, SELECT_SSSE);
    card
}

/// Sends hex, returns the response as hex.
pub(crate) fn tx<N: Nvm, R: CardRng, A: Applets>(card: &mut Card<N, R, A>, apdu: &str) -> String {
    let mut out = vec![0u8; 70_000];
    let n = card.process(&hex(apdu), &mut out);
    to_hex(&out[..n])
}

/// Sends each command in turn and checks its response, both in hex.
pub(crate) fn assert_responses<N: Nvm, R: CardRng, A: Applets>(
    card: &mut Card<N, R, A>,
    steps: &[(&str, &str)],
) {
    for &(apdu, response) in steps {
        assert_eq!(tx(card, apdu), response, "response to {apdu}");
    }
}

/// Grants external-authentication key `key` (as its EXTERNAL AUTHENTICATE would), then
/// checks `steps`.
fn assert_responses_with_key(card: &mut TestCard, key: u8, steps: &[(&str, &str)]) {
    card.t.security.grant_key(key);
    assert_responses(card, steps);
}

#[test]
fn power_on_gives_the_personalized_atr_and_contactless_builds_one() {
    let mut c = card();
    assert_eq!(c.atr(), ATR);
    let atr = c.power_on(Interface::Contactless).unwrap().to_vec();
    assert_eq!(to_hex(&atr), "3B8D800100815353438660519900000001E1");
}

#[test]
fn select_ssse_over_t0_then_get_response() {
    let mut c = card();
    // Real gen-3 trace shape: SELECT by name → 61 1C, GET RESPONSE → FCI.
    assert_responses(
        &mut c,
        &[
            (SELECT_SSSE, "611E"),
            // Le = 00: up to 256 bytes (ISO/IEC 7816-4), as real cards answer.
            (
                "00C0000000",
                "6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA50988011E9F0C038601039000",
            ),
            // Nothing pending any more.
            ("00C000001E", "6F00"),
        ],
    );
}

#[test]
fn le_zero_exact_option_answers_6cxx_everywhere() {
    let mut c = card_with(CosOptions {
        le_zero: LeZero::ExactLength,
        ..CosOptions::default()
    });
    assert_responses(
        &mut c,
        &[
            (SELECT_SSSE, "611E"),
            // P5 §6.6.4: GET RESPONSE with Le = 00 → 6Cxx, the data stays for the resend.
            ("00C0000000", "6C1E"),
            (
                "00C000001E",
                "6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA50988011E9F0C038601039000",
            ),
            // P5 §6.10.4: READ RECORD with Le = 00 → 6Cxx.
            ("00B2012C00", "6C12"),
            ("00B2012C12", "0110519900D15600000500000001123456789000"),
        ],
    );
    // READ BINARY with Le = 00 and fewer than 256 bytes left: 6Cxx too.
    assert_responses_with_key(
        &mut c,
        0x0A,
        &[
            ("00B0870004", "A5A5A5A59000"),
            ("00B002FE00", "6C02"),
            ("00B002FE02", "00009000"),
        ],
    );
}

#[test]
fn le_zero_default_answers_like_the_cards_in_the_field() {
    let mut c = in_ssse(card());
    // 00 B2 01 2C 00 on a real card: the record and 9000.
    assert_eq!(
        tx(&mut c, "00B2012C00"),
        "0110519900D15600000500000001123456789000"
    );
    assert_responses_with_key(
        &mut c,
        0x0A,
        &[("00B0870004", "A5A5A5A59000"), ("00B002FE00", "00009000")],
    );
}

#[test]
fn get_response_class_rules() {
    let mut c = card();
    let fci = "6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA50988011E9F0C03860103";
    // A class other than 00 and the pending command's: 6E00, and the data stays.
    assert_responses(
        &mut c,
        &[
            (SELECT_SSSE, "611E"),
            ("80C000001E", "6E00"),
            ("84C000001E", "6E00"),
        ],
    );
    assert_eq!(tx(&mut c, "00C000001E"), format!("{fci}9000"));
    // Channel bits of class 00 are accepted as before.
    tx(&mut c, SELECT_SSSE);
    assert_eq!(tx(&mut c, "01C000001E"), format!("{fci}9000"));
    // Nothing pending: class 80 is still refused, class 00 finds no data.
    assert_responses(&mut c, &[("80C0000010", "6E00"), ("00C0000010", "6F00")]);
}

#[test]
fn get_response_in_parts_and_discarded_by_another_command() {
    let mut c = card();
    assert_responses(
        &mut c,
        &[
            (SELECT_SSSE, "611E"),
            ("00C0000010", "6F1C840F7378312E73682EC9E7BBE1B1610E"),
            ("00C000000E", "A3D5CFA50988011E9F0C038601039000"),
            (SELECT_SSSE, "611E"),
            ("00B2012C00", "0110519900D15600000500000001123456789000"),
            ("00C000001E", "6F00"),
        ],
    );
}

#[test]
fn direct_answers_without_t0() {
    let mut c = card_with(CosOptions {
        t0_get_response: false,
        le_zero: LeZero::Lenient,
        ..CosOptions::default()
    });
    assert_responses(
        &mut c,
        &[
            (
                SELECT_SSSE,
                "6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA50988011E9F0C038601039000",
            ),
            ("00B2012C00", "0110519900D15600000500000001123456789000"),
        ],
    );
}

#[test]
fn select_modes() {
    let mut c = in_ssse(card());
    // EF by P1=02 and P1=00: no data.
    assert_responses(
        &mut c,
        &[
            ("00A4020002EF05", "9000"),
            ("00A4000002EF05", "9000"),
            // DF by P1=01, by name (partial), next occurrence.
            ("00A4010002DF01", "610A"),
            ("00C000000A", "6F088406D156000005009000"),
        ],
    );
    tx(&mut c, "00A40300");
    assert_responses(
        &mut c,
        &[
            ("00A4040005D15600000500", "610A"),
            ("00A4040205D15600000500", "610A"),
            ("00C000000A", "6F088406D156000005039000"),
            ("00A4040205D15600000500", "6A82"),
            // No data with P2=0C.
            ("00A4040C06D15600000500", "9000"),
            // Parent (P1=03), MF by empty data and by 3F00.
            ("00A40300", "611E"),
            ("00A4000C023F00", "9000"),
            ("00A40000", "6106"),
            ("00C0000006", "6F0483023F009000"),
            // Errors.
            ("00A4020002EF99", "6A82"),
            ("00A4050002EF05", "6A86"),
            ("00A400000101", "6700"),
            ("00A4000101", "6A86"),
            ("00A4000003EF0501", "6700"),
            ("00A40004023F00", "6106"),
            ("00A40001023F00", "6A86"),
        ],
    );
}

#[test]
fn read_record_every_addressing_mode() {
    let mut c = in_ssse(card());
    // By SFI without selecting the EF (spec/ssc.md §4).
    assert_responses(
        &mut c,
        &[
            ("00B2012C12", "0110519900D15600000500000001123456789000"),
            ("00B2012C00", "0110519900D15600000500000001123456789000"),
            ("00B2012C10", "6C12"),
            ("00B2012C20", "0110519900D15600000500000001123456789000"),
            // By tag with SFI (P2 = 28) and current EF (P2 = 00), record number current EF (04).
            ("00B2032806", "0304332E30309000"),
            ("00A4020002EF05", "9000"),
            ("00B2020003", "0201339000"),
            ("00B2020403", "0201339000"),
            // From 1 to last (05) and last to 2 (06).
            (
                "00B201051B",
                "0110519900D15600000500000001123456780201330304332E30309000",
            ),
            ("00B2020609", "0304332E30300201339000"),
            // Next / previous occurrence of any record, current record via P1=00.
            ("00B2000012", "0110519900D15600000500000001123456789000"),
            ("00B2000203", "0201339000"),
            ("00B2000406", "0201339000"),
            ("00B2000403", "0201339000"),
            ("00B2000312", "0110519900D15600000500000001123456789000"),
            ("00B2000112", "0304332E30309000"),
            // Errors: record not found, unknown SFI, RFU mode, transparent EF, no current EF.
            ("00B2042C00", "6A83"),
            ("00B2070012", "6A83"),
            ("00B2010700", "6A86"),
            ("00B2016C00", "6A82"),
            ("00B2013C00", "6981"),
            ("00B201FC00", "6A86"),
        ],
    );
    tx(&mut c, SELECT_SSSE);
    assert_responses(&mut c, &[("00B2010400", "6986"), ("00B2010C", "6700")]);
}

#[test]
fn cyclic_files_are_cyclic() {
    let mut c = card_with(lenient());
    tx(&mut c, "00A4040C06D15600000503");
    // Record 1 is the most recent.
    assert_responses(
        &mut c,
        &[
            ("00B2014400", "02020202029000"),
            ("00B2024400", "01010101019000"),
        ],
    );
    for i in 3..=6u8 {
        assert_eq!(
            tx(&mut c, &format!("00E2004005{}", to_hex(&[i; 5]))),
            "9000"
        );
    }
    // Four slots: 6,5,4,3 remain.
    assert_responses(
        &mut c,
        &[
            ("00B2014400", "06060606069000"),
            ("00B2044400", "03030303039000"),
            ("00B2054400", "6A83"),
            // UPDATE RECORD "previous occurrence" adds; by number replaces.
            ("00DC0043050707070707", "9000"),
            ("00B2014400", "07070707079000"),
            ("00DC0244050909090909", "9000"),
            ("00B2024400", "09090909099000"),
            ("00DC02440409090909", "6700"),
        ],
    );
}

#[test]
fn update_record_rules() {
    let mut c = in_ssse(card_with(lenient()));
    // EF0A: linear fixed, free write. Replace 1, append 2 (= count+1), 4 is a gap.
    assert_responses(
        &mut c,
        &[
            ("00DC015403020202", "9000"),
            ("00DC025403030303", "9000"),
            ("00DC045403040404", "6A83"),
            ("00B2025400", "0303039000"),
            ("00DC0154020202", "6700"),
            // APPEND until full.
            ("00E2005003050505", "9000"),
            ("00E2005003060606", "9000"),
            ("00E2005003070707", "6A84"),
            ("00E2015003070707", "6A86"),
            // EF05 needs key 04.
            ("00DC022803020131", "6982"),
        ],
    );
}

#[test]
fn read_and_update_binary() {
    let mut c = in_ssse(card_with(lenient()));
    assert_eq!(tx(&mut c, "00B0870000"), "6982");
    assert_responses_with_key(
        &mut c,
        0x0A,
        &[
            ("00B0870004", "A5A5A5A59000"),
            ("00B0000E02", "A5A59000"),
            ("00B002FE00", "00009000"),
            ("00B002FE04", "6C02"),
            ("00B0030000", "6B00"),
            ("00B0A00000", "6A86"),
        ],
    );
    // Whole file with an extended Le.
    let r = tx(&mut c, "00B00000000300");
    assert_eq!(r.len(), (0x300 + 2) * 2);
    assert_eq!(tx(&mut c, "00D6870002BEEF"), "6982");
    assert_responses_with_key(
        &mut c,
        0x04,
        &[
            ("00D6870002BEEF", "9000"),
            ("00B0870003", "BEEFA59000"),
            ("00D602FF02BEEF", "6700"),
            ("00D6030002BEEF", "6B00"),
            // Binary on a record file.
            ("00B0850000", "6981"),
        ],
    );
}

#[test]
fn security_state_scope() {
    let mut c = in_ssse(card());
    c.t.security.grant_pin(0, c.t.fs.current_df);
    c.t.security.grant_key(0x0A);
    // Into DF01: the key ends, the SSSE PIN stays (DF01 is inside the SSSE).
    tx(&mut c, "00A4040C06D15600000500");
    assert!(c.t.security.has_pin(0) && !c.t.security.has_key(0x0A));
    assert_eq!(tx(&mut c, "00B2012C14"), "200231309000");
    // Back to the MF: outside the SSSE, the PIN ends too.
    tx(&mut c, "00A4000C023F00");
    assert!(!c.t.security.has_pin(0));
    // Power cycle clears everything.
    c.t.security.grant_key(1);
    c.power_off();
    assert_eq!(tx(&mut c, "00A4000C023F00"), "");
    c.power_on(Interface::Contact).unwrap();
    assert!(!c.t.security.has_key(1));
}

#[test]
fn class_instruction_and_length_errors() {
    let mut c = card();
    assert_responses(
        &mut c,
        &[
            ("10A4000C023F00", "6E00"),
            ("00FE000000", "6D00"),
            ("80CA9F7900", "6D00"),
            ("00A4", "6700"),
            ("00A4000C053F00", "6700"),
            ("04DC01040401020304", "6984"), // SM without a challenge
        ],
    );
}

#[test]
fn get_challenge_lengths() {
    let mut c = card();
    for le in ["04", "08", "10"] {
        let r = tx(&mut c, &format!("00840000{le}"));
        assert_eq!(r.len(), usize::from_str_radix(le, 16).unwrap() * 2 + 4);
        assert!(r.ends_with("9000"));
        assert!(c.t.challenge.is_set());
    }
    assert_responses(&mut c, &[("0084000005", "6700"), ("0084010008", "6A86")]);
    let a = tx(&mut c, "0084000008");
    let b = tx(&mut c, "0084000008");
    assert_ne!(a, b);
}

#[test]
fn card_blocked_answers_6a81_to_everything() {
    let mut c = card();
    c.store_mut()
        .atomic(|s| s.write(CARD_STATE_AT, &[CARD_BLOCKED]))
        .unwrap();
    c.reset().unwrap();
    assert_responses(
        &mut c,
        &[
            ("00A4000C023F00", "6A81"),
            ("00C0000000", "6A81"),
            ("00", "6A81"),
        ],
    );
}

#[test]
fn unpowered_or_tiny_buffers_are_mute() {
    let mut c = card();
    let mut out = [0u8; 1];
    assert_eq!(c.process(&hex("00A4000C023F00"), &mut out), 0);
    c.power_off();
    let mut out = [0u8; 64];
    assert_eq!(c.process(&hex("00A4000C023F00"), &mut out), 0);
}

#[test]
fn corrupt_images_are_refused() {
    let load = |image: Vec<u8>| {
        Card::load(
            RamNvm::new(image),
            SplitMixRng::new(1),
            (),
            (),
            CosOptions::default(),
        )
        .err()
    };
    let mut nvm = RamNvm::new(vec![0u8; 16 * 1024]);
    assert_eq!(load(nvm.clone().into_inner()), Some(LoadError::NotACard));
    personalize(&mut nvm);
    let mut bad = nvm.clone().into_inner();
    bad[20] ^= 1;
    assert_eq!(load(bad), Some(LoadError::Corrupt));
    let mut newer = nvm.into_inner();
    newer[9] = 9;
    assert_eq!(load(newer), Some(LoadError::UnsupportedVersion(9)));
}
