//! A small personalized tree with free access conditions, shared by the workspace tests
//! (tear tests and the model-based test). Defined as data so the reference model of
//! `fs_model.rs` is built from the same definition as the card.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

use sscard_core::card::applet::Interface;
use sscard_core::fs::build::{Capacities, DfSpec, EfSpec, Personalizer, Structure};
use sscard_core::fs::layout::{Access, FileKind, MF};
use sscard_core::nvm::{RamNvm, TearingNvm};
use sscard_core::rng::SplitMixRng;
use sscard_core::{Card, CosOptions};
use sscard_ssc::SscCard;
use sscard_testkit::tear::TearCard;

/// An EF of the test tree. `init` holds the records in append order (a transparent EF:
/// one entry, its first bytes).
pub struct EfDef {
    pub fid: u16,
    pub sfi: u8,
    pub structure: Structure,
    pub tlv_records: bool,
    pub init: &'static [&'static [u8]],
}

/// An ADF of the test tree, directly under the MF.
pub struct DfDef {
    pub fid: u16,
    pub name: &'static [u8],
    pub fci_proprietary: &'static [u8],
    pub efs: &'static [EfDef],
}

pub const ATR: &[u8] = &[0x3B, 0x02, 0x53, 0x01];

/// EFs directly under the MF.
pub const MF_EFS: &[EfDef] = &[EfDef {
    fid: 0x2F01,
    sfi: 1,
    structure: Structure::Transparent { size: 8 },
    tlv_records: false,
    init: &[&[0x2F, 0x01]],
}];

pub const DF01_NAME: &[u8] = &[0xD1, 0x56, 0x00, 0x00, 0x05, 0x01];
pub const DF02_NAME: &[u8] = &[0xD1, 0x56, 0x00, 0x00, 0x05, 0x02];

/// The ADFs, in creation (file-table) order.
pub const DFS: &[DfDef] = &[
    DfDef {
        fid: 0xDF01,
        name: DF01_NAME,
        fci_proprietary: &[0x88, 0x01, 0x03],
        efs: &[
            EfDef {
                fid: 0xA001,
                sfi: 1,
                structure: Structure::Transparent { size: 40 },
                tlv_records: false,
                init: &[&[0xA5; 16]],
            },
            EfDef {
                fid: 0xA002,
                sfi: 2,
                structure: Structure::LinearFixed {
                    record_len: 4,
                    records: 4,
                },
                tlv_records: false,
                init: &[&[0x11; 4], &[0x12; 4]],
            },
            EfDef {
                fid: 0xA003,
                sfi: 3,
                structure: Structure::LinearVariable {
                    max_len: 8,
                    records: 5,
                },
                tlv_records: true,
                init: &[
                    &[0x01, 0x01, 0xAA],
                    &[0x02, 0x02, 0xBB, 0xBB],
                    &[0x01, 0x01, 0xCC],
                ],
            },
            EfDef {
                fid: 0xA004,
                sfi: 4,
                structure: Structure::Cyclic {
                    record_len: 3,
                    records: 3,
                },
                tlv_records: false,
                init: &[&[0x01; 3], &[0x02; 3]],
            },
        ],
    },
    DfDef {
        fid: 0xDF02,
        name: DF02_NAME,
        fci_proprietary: &[],
        efs: &[
            EfDef {
                fid: 0xA001,
                sfi: 1,
                structure: Structure::LinearVariable {
                    max_len: 6,
                    records: 3,
                },
                tlv_records: false,
                init: &[&[0xC0, 0xFF, 0xEE]],
            },
            EfDef {
                fid: 0xB002,
                sfi: 5,
                structure: Structure::Transparent { size: 8 },
                tlv_records: false,
                init: &[],
            },
        ],
    },
];

/// Bytes of NVM the test cards get: room for the tables and the small file bodies.
pub const NVM_LEN: usize = 4096;

fn create_ef(p: &mut Personalizer<'_, RamNvm<Vec<u8>>>, parent: u8, ef: &EfDef) {
    let index = p
        .ef(
            parent,
            EfSpec {
                fid: ef.fid,
                sfi: ef.sfi,
                structure: ef.structure,
                read: Access::Always,
                write: Access::Always,
                tlv_records: ef.tlv_records,
            },
        )
        .unwrap();
    for data in ef.init {
        match ef.structure {
            Structure::Transparent { .. } => p.write_body(index, 0, data).unwrap(),
            _ => p.append_record(index, data).unwrap(),
        }
    }
}

/// The personalized NVM image of the test tree.
pub fn image() -> Vec<u8> {
    let mut nvm = RamNvm::new(vec![0u8; NVM_LEN]);
    let mut p = Personalizer::format(
        &mut nvm,
        Capacities {
            files: 16,
            secrets: 4,
        },
        ATR,
    )
    .unwrap();
    for ef in MF_EFS {
        create_ef(&mut p, MF, ef);
    }
    for df in DFS {
        let index = p
            .df(
                MF,
                DfSpec {
                    kind: FileKind::Adf,
                    fid: df.fid,
                    name: df.name,
                    fci_proprietary: df.fci_proprietary,
                    role: 0,
                },
            )
            .unwrap();
        for ef in df.efs {
            create_ef(&mut p, index, ef);
        }
    }
    p.finish().unwrap();
    nvm.into_inner()
}

/// Options that answer directly (no T=0 `61xx`) and return records for `Le = 00`.
pub fn direct_options() -> CosOptions {
    CosOptions {
        le_zero: sscard_core::options::LeZero::Lenient,
        t0_get_response: false,
        ..CosOptions::default()
    }
}

/// A powered card over the test tree.
pub fn card(options: CosOptions) -> SscCard<RamNvm<Vec<u8>>, SplitMixRng> {
    let mut card = Card::load(
        RamNvm::new(image()),
        SplitMixRng::new(1),
        (),
        sscard_ssc::SocialSecurity::default(),
        options,
    )
    .unwrap();
    card.power_on(Interface::Contact).unwrap();
    card
}

/// An unpowered card over `image` behind a tearing NVM, for the tear harness.
pub fn tear_card(image: &[u8], options: CosOptions) -> TearCard<SplitMixRng> {
    let nvm = TearingNvm::new(RamNvm::new(image.to_vec()));
    Card::load(
        nvm,
        SplitMixRng::new(1),
        (),
        sscard_ssc::SocialSecurity::default(),
        options,
    )
    .unwrap()
}

pub use sscard_testkit::exchange::{hex, to_hex};
