//! The standard file layout of the social-security environment (SSSE): LD/T 32 P6 and
//! the V2.0 file-structure notice (人社信息函〔2012〕37号) tables 3–9 / Appendix A, as
//! spec/ssc.md §2.3 and Appendix A list them.
//!
//! Sizes are the largest record of each file (tag + length + value) and its record
//! count. Access conditions follow the tables: most DF files are "PIN or RK1DFxx",
//! DF03/EF05 "PIN or RK2DF03", DF04/EF06 "PIN & RK1DF04", DF04/EF08 PIN to read and
//! never written through APDUs, DF07 read with its read key.
//!
//! **Spec choice (key ids of the DF-level keys).** P6 T3, P10 §6.4.2 and V2.0 allocate
//! the DF keys differently and V2.0 gives no ids for its new keys (spec/ssc.md §11). sscard
//! uses one scheme for every DF: `82` STKDFxx (secure messaging), `83` UKDFxx (update),
//! `84` RK1DFxx (read), `85` RK2DF03. Profiles may add other keys.

use sscard_core::fs::build::Structure;
use sscard_core::fs::layout::Access;

/// PIN reference of the holder PIN (owned by the SSSE).
pub const PIN: u8 = sscard_core::auth::HOLDER_PIN;
/// Key ids of the SSSE (spec/ssc.md §6.1).
pub mod key_id {
    /// IRK, internal authentication (key implicit, P2 = 00).
    pub const IRK: u8 = 0x00;
    /// STKSSSE: MAC key for block commands and PIN reload (SM).
    pub const STK: u8 = 0x02;
    /// UKSSSE / UKMF: update EF05–EF08.
    pub const UK: u8 = 0x04;
    /// BK: card block control.
    pub const BK: u8 = 0x05;
    /// PUK: PIN unblock/reload authority.
    pub const PUK: u8 = 0x06;
    /// RKSSSE: read control (gen 2 EF07/EF08, gen 3 also EF06).
    pub const RK: u8 = 0x0A;
    /// STKDFxx (choice, see module docs).
    pub const DF_STK: u8 = 0x82;
    /// UKDFxx (choice).
    pub const DF_UK: u8 = 0x83;
    /// RK1DFxx (choice).
    pub const DF_RK1: u8 = 0x84;
    /// RK2DF03 (choice).
    pub const DF_RK2: u8 = 0x85;
}

/// The SSSE DDF name `sx1.sh.社会保障` (GBK).
pub const SSSE_NAME: [u8; 15] = [
    0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF,
];

/// The application DFs under the SSSE (V2.0 T2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppDf {
    /// DF01 公共应用.
    Df01,
    /// DF02 就业与失业.
    Df02,
    /// DF03 社会保险1.
    Df03,
    /// DF04 社会保险2 (medical).
    Df04,
    /// DF07 人事与人才.
    Df07,
}

impl AppDf {
    /// All, in creation order.
    pub const ALL: [AppDf; 5] = [
        AppDf::Df01,
        AppDf::Df02,
        AppDf::Df03,
        AppDf::Df04,
        AppDf::Df07,
    ];
    /// File identifier.
    pub const fn fid(self) -> u16 {
        match self {
            AppDf::Df01 => 0xDF01,
            AppDf::Df02 => 0xDF02,
            AppDf::Df03 => 0xDF03,
            AppDf::Df04 => 0xDF04,
            AppDf::Df07 => 0xDF07,
        }
    }
    /// AID `D156000005 0x` (V2.0 T2).
    pub const fn aid(self) -> [u8; 6] {
        let last = match self {
            AppDf::Df01 => 0,
            AppDf::Df02 => 1,
            AppDf::Df03 => 2,
            AppDf::Df04 => 3,
            AppDf::Df07 => 4,
        };
        [0xD1, 0x56, 0x00, 0x00, 0x05, last]
    }
    /// Application label in GBK (V2.0 T2), for the DIR file.
    pub const fn label(self) -> &'static [u8] {
        match self {
            // 公共应用信息区
            AppDf::Df01 => &[
                0xB9, 0xAB, 0xB9, 0xB2, 0xD3, 0xA6, 0xD3, 0xC3, 0xD0, 0xC5, 0xCF, 0xA2, 0xC7, 0xF8,
            ],
            // 就业与失业信息区
            AppDf::Df02 => &[
                0xBE, 0xCD, 0xD2, 0xB5, 0xD3, 0xEB, 0xCA, 0xA7, 0xD2, 0xB5, 0xD0, 0xC5, 0xCF, 0xA2,
                0xC7, 0xF8,
            ],
            // 社会保险信息区1
            AppDf::Df03 => &[
                0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xCF, 0xD5, 0xD0, 0xC5, 0xCF, 0xA2, 0xC7, 0xF8,
                0x31,
            ],
            // 社会保险信息区2
            AppDf::Df04 => &[
                0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xCF, 0xD5, 0xD0, 0xC5, 0xCF, 0xA2, 0xC7, 0xF8,
                0x32,
            ],
            // 人事人才信息区
            AppDf::Df07 => &[
                0xC8, 0xCB, 0xCA, 0xC2, 0xC8, 0xCB, 0xB2, 0xC5, 0xD0, 0xC5, 0xCF, 0xA2, 0xC7, 0xF8,
            ],
        }
    }
    /// Looks a DF up by FID.
    pub fn from_fid(fid: u16) -> Option<AppDf> {
        AppDf::ALL.into_iter().find(|d| d.fid() == fid)
    }
}

/// Where a file lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// Directly in the SSSE.
    Ssse,
    /// In an application DF.
    App(AppDf),
}

/// One standard EF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StandardEf {
    /// Where it lives.
    pub location: Location,
    /// FID (its SFI is the low byte: EF05 → SFI 05, spec/ssc.md §2.3 "= FID").
    pub fid: u16,
    /// Storage.
    pub structure: Structure,
    /// Read condition.
    pub read: Access,
    /// Update condition.
    pub write: Access,
    /// Records are simple-TLV.
    pub tlv: bool,
}

const fn lv(max_len: u8, records: u8) -> Structure {
    Structure::LinearVariable { max_len, records }
}

const fn cyclic(record_len: u8, records: u8) -> Structure {
    Structure::Cyclic {
        record_len,
        records,
    }
}

const PIN_OR_RK1: Access = Access::PinOrKey {
    pin: PIN,
    key: key_id::DF_RK1,
};
const UK: Access = Access::Key(key_id::DF_UK);
const PIN_OR_RK2: Access = Access::PinOrKey {
    pin: PIN,
    key: key_id::DF_RK2,
};
const PIN_AND_RK1: Access = Access::PinAndKey {
    pin: PIN,
    key: key_id::DF_RK1,
};
const RK1: Access = Access::Key(key_id::DF_RK1);
const FREE: Access = Access::Always;
const HOLDER: Access = Access::Pin(PIN);
const NEVER: Access = Access::Never;
/// The 0x128-byte transparent EFs of DF01 and DF03.
const BLOCK_128: Structure = Structure::Transparent { size: 0x128 };

const fn fixed(record_len: u8, records: u8) -> Structure {
    Structure::LinearFixed {
        record_len,
        records,
    }
}

const fn app(
    df: AppDf,
    fid: u16,
    structure: Structure,
    read: Access,
    write: Access,
    tlv: bool,
) -> StandardEf {
    StandardEf {
        location: Location::App(df),
        fid,
        structure,
        read,
        write,
        tlv,
    }
}

/// The EFs of DF01–DF07 (V2.0 Appendix A; record sizes = largest item + 2).
pub const APPLICATION_EFS: &[StandardEf] = &[
    // DF01 公共应用
    app(AppDf::Df01, 0xEF05, lv(0x52, 3), PIN_OR_RK1, UK, true),
    app(AppDf::Df01, 0xEF06, lv(0x52, 5), PIN_OR_RK1, UK, true),
    app(AppDf::Df01, 0xEF07, lv(0x03, 1), PIN_OR_RK1, UK, true),
    app(AppDf::Df01, 0xEF08, lv(0x03, 1), PIN_OR_RK1, UK, true),
    app(AppDf::Df01, 0xEF09, lv(0x48, 3), PIN_OR_RK1, UK, true),
    app(AppDf::Df01, 0xEF0A, lv(0x06, 3), PIN_OR_RK1, UK, true),
    app(AppDf::Df01, 0xEF15, lv(0x36, 4), PIN_OR_RK1, UK, true),
    app(AppDf::Df01, 0xEF16, BLOCK_128, FREE, UK, false),
    app(AppDf::Df01, 0xEF17, BLOCK_128, FREE, UK, false),
    app(AppDf::Df01, 0xEF18, BLOCK_128, FREE, UK, false),
    app(AppDf::Df01, 0xEF19, BLOCK_128, FREE, UK, false),
    app(AppDf::Df01, 0xEF1A, BLOCK_128, FREE, UK, false),
    // DF02 就业与失业
    app(AppDf::Df02, 0xEF05, lv(0x6E, 6), PIN_OR_RK1, UK, true),
    app(AppDf::Df02, 0xEF06, lv(0x09, 7), PIN_OR_RK1, UK, true),
    app(AppDf::Df02, 0xEF07, cyclic(0x55, 4), PIN_OR_RK1, UK, false),
    app(AppDf::Df02, 0xEF09, lv(0x48, 4), PIN_OR_RK1, UK, true),
    app(AppDf::Df02, 0xEF15, lv(0x12, 6), PIN_OR_RK1, UK, true),
    app(AppDf::Df02, 0xEF16, cyclic(0x12, 4), PIN_OR_RK1, UK, false),
    // DF03 社会保险1
    app(AppDf::Df03, 0xEF05, lv(0x06, 8), PIN_OR_RK2, UK, true),
    app(AppDf::Df03, 0xEF06, lv(0x63, 10), PIN_OR_RK1, UK, true),
    app(AppDf::Df03, 0xEF07, lv(0x06, 6), PIN_OR_RK1, UK, true),
    app(AppDf::Df03, 0xEF15, lv(0x06, 3), PIN_OR_RK1, UK, true),
    app(AppDf::Df03, 0xEF16, lv(0x05, 2), PIN_OR_RK1, UK, true),
    app(AppDf::Df03, 0xEF17, lv(0x48, 5), PIN_OR_RK1, UK, true),
    app(AppDf::Df03, 0xEF18, lv(0x06, 5), PIN_OR_RK1, UK, true),
    app(AppDf::Df03, 0xEF19, fixed(0x29, 4), PIN_OR_RK1, UK, true),
    // DF04 社会保险2 (医保)
    app(AppDf::Df04, 0xEF05, lv(0x1F, 16), PIN_OR_RK1, UK, true),
    app(AppDf::Df04, 0xEF06, lv(0x06, 3), PIN_AND_RK1, UK, true),
    // 医疗交易明细: written only by the COS (DEBIT FOR PURCHASE / CREDIT FOR LOAD).
    app(AppDf::Df04, 0xEF08, cyclic(0x1C, 30), HOLDER, NEVER, false),
    app(AppDf::Df04, 0xEF15, cyclic(0x03, 8), HOLDER, UK, false),
    // DF07 人事与人才
    app(AppDf::Df07, 0xEF05, lv(0x05, 5), RK1, UK, true),
    app(AppDf::Df07, 0xEF06, lv(0x48, 3), RK1, UK, true),
    app(AppDf::Df07, 0xEF07, lv(0x06, 2), RK1, UK, true),
];
