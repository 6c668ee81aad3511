//! A small personalized social-security card for fuzzing, property tests and benchmarks.
//! Not a stable API: the real personalization profiles come with the social-security
//! application.

use std::sync::OnceLock;

use sscard_core::fs::build::{BuildError, Capacities, DfSpec, EfSpec, Personalizer, Structure};
use sscard_core::fs::layout::{Access, FileKind, MF};
use sscard_core::nvm::RamNvm;
use sscard_core::rng::SplitMixRng;
use sscard_core::{Card, CosOptions, Interface};

/// The SSSE DDF name "sx1.sh.社会保障" (GBK), spec/ssc.md §2.1.
pub const SSSE_NAME: &[u8] = &[
    0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF,
];

/// The contact ATR of the sample card (the gen-3 shape of spec/ssc.md §1).
const SAMPLE_ATR: &[u8] = &[
    0x3B, 0x6D, 0x00, 0x00, 0x00, 0x81, 0x53, 0x53, 0x43, 0x86, 0x60, 0x51, 0x99, 0x00, 0x00, 0x00,
    0x01,
];

/// NVM size of the sample card.
const SAMPLE_NVM_LEN: usize = 16 * 1024;

/// The personalized NVM image of the sample card (built once per process).
///
/// A small social-security tree: MF ─ SSSE (DDF) ─ EF05 (TLV records, free read, write
/// key 04), EF07 (transparent 0x300, read key 0A), EF0A (linear fixed 4×3, free),
/// DF01 (ADF) ─ EF05 (read PIN or key 84), DF04 (ADF) ─ EF08 (cyclic 4×5, free).
pub fn sample_image() -> &'static [u8] {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let mut nvm = RamNvm::new(vec![0u8; SAMPLE_NVM_LEN]);
        // A failed build leaves an unloadable image; `sample_card` then reports it.
        let _ = personalize_sample(&mut nvm);
        nvm.into_inner()
    })
}

/// A powered card over [`sample_image`] with the default options (T=0 responses,
/// strict `Le = 00`).
///
/// # Panics
/// If the sample image does not load, which is a bug in this module.
pub fn sample_card() -> Card<RamNvm<Vec<u8>>, SplitMixRng> {
    sample_card_with(CosOptions::default())
}

/// [`sample_card`] with other options.
///
/// # Panics
/// If the sample image does not load, which is a bug in this module.
#[allow(clippy::panic)]
pub fn sample_card_with(options: CosOptions) -> Card<RamNvm<Vec<u8>>, SplitMixRng> {
    let nvm = RamNvm::new(sample_image().to_vec());
    let mut card = match Card::load(nvm, SplitMixRng::new(7), (), options) {
        Ok(card) => card,
        Err(e) => panic!("the sample card image does not load: {e}"),
    };
    if let Err(e) = card.power_on(Interface::Contact) {
        panic!("the sample card does not power up: {e}");
    }
    card
}

fn personalize_sample(nvm: &mut RamNvm<Vec<u8>>) -> Result<(), BuildError> {
    let mut p = Personalizer::format(nvm, Capacities::default(), SAMPLE_ATR)?;
    let ssse = p.df(
        MF,
        DfSpec {
            kind: FileKind::Ddf,
            fid: 0,
            name: SSSE_NAME,
            // DIR SFI 1E and algorithm 03 (SM4), as a gen-3 card answers (spec/ssc.md §2.2).
            fci_proprietary: &[0x88, 0x01, 0x1E, 0x9F, 0x0C, 0x03, 0x86, 0x01, 0x03],
            role: 0,
        },
    )?;
    let ef05 = p.ef(
        ssse,
        EfSpec {
            fid: 0xEF05,
            sfi: 5,
            structure: Structure::LinearVariable {
                max_len: 18,
                records: 7,
            },
            read: Access::Always,
            write: Access::Key(0x04),
            tlv_records: true,
        },
    )?;
    let records: [&[u8]; 3] = [
        &[
            0x01, 0x10, 0x51, 0x99, 0x00, 0xD1, 0x56, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01,
            0x12, 0x34, 0x56, 0x78,
        ],
        &[0x02, 0x01, 0x33],
        &[0x03, 0x04, 0x33, 0x2E, 0x30, 0x30],
    ];
    for record in records {
        p.append_record(ef05, record)?;
    }
    let ef07 = p.ef(
        ssse,
        EfSpec {
            fid: 0xEF07,
            sfi: 7,
            structure: Structure::Transparent { size: 0x300 },
            read: Access::Key(0x0A),
            write: Access::Key(0x04),
            tlv_records: false,
        },
    )?;
    p.write_body(ef07, 0, &[0xA5; 16])?;
    let ef0a = p.ef(
        ssse,
        EfSpec {
            fid: 0xEF0A,
            sfi: 10,
            structure: Structure::LinearFixed {
                record_len: 3,
                records: 4,
            },
            read: Access::Always,
            write: Access::Always,
            tlv_records: false,
        },
    )?;
    p.append_record(ef0a, &[1, 1, 1])?;
    let df01 = p.df(
        ssse,
        DfSpec {
            kind: FileKind::Adf,
            fid: 0xDF01,
            name: &[0xD1, 0x56, 0x00, 0x00, 0x05, 0x00],
            fci_proprietary: &[],
            role: 0,
        },
    )?;
    let df01_ef05 = p.ef(
        df01,
        EfSpec {
            fid: 0xEF05,
            sfi: 5,
            structure: Structure::LinearVariable {
                max_len: 40,
                records: 4,
            },
            read: Access::PinOrKey { pin: 0, key: 0x84 },
            write: Access::Key(0x83),
            tlv_records: true,
        },
    )?;
    p.append_record(df01_ef05, &[0x20, 0x02, 0x31, 0x30])?;
    let df04 = p.df(
        ssse,
        DfSpec {
            kind: FileKind::Adf,
            fid: 0xDF04,
            name: &[0xD1, 0x56, 0x00, 0x00, 0x05, 0x03],
            fci_proprietary: &[],
            role: 0,
        },
    )?;
    let ef08 = p.ef(
        df04,
        EfSpec {
            fid: 0xEF08,
            sfi: 8,
            structure: Structure::Cyclic {
                record_len: 5,
                records: 4,
            },
            read: Access::Always,
            write: Access::Always,
            tlv_records: false,
        },
    )?;
    for i in 1..=2u8 {
        p.append_record(ef08, &[i; 5])?;
    }
    p.finish()?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_card_answers_like_a_gen3_card() {
        let mut card = sample_card();
        let mut out = [0u8; 64];
        let select_ssse = [
            &[0x00, 0xA4, 0x04, 0x00, 0x0F][..],
            SSSE_NAME,
            &[0x00], // Le
        ]
        .concat();
        let n = card.process(&select_ssse, &mut out);
        assert_eq!(&out[..n], &[0x61, 0x1E]);
    }
}
