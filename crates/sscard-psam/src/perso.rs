//! Personalization: a PSAM image from a typed description (LD/T 32 P9 §5, §6, §8).
//!
//! Root keys are given with their level (P9 §8, TB1): a national root (level 1) still
//! needs the province, city and card factors, a provincial root (level 2) the city and
//! card factors, a city root (level 3) the card factor only. Each goes, as a key record
//! whose usage says how many levels it needs, into the key file of its level (`0011`
//! national, `0012` provincial, `0013` city) of the environment its algorithm belongs
//! to (DES/3DES: the MF; SM4: `DDF1`).

use crate::keys::{KeyAlgorithm, KeyType, MAX_RECORD_LEN, RECORD_HEAD_LEN, usage_byte};
use crate::layout::*;
use sscard_core::auth::secret::{KeyUsage, SecretAttributes, SecretKind, SecretSpec};
use sscard_core::crypto::Algorithm;
use sscard_core::fs::build::{BuildError, Capacities, DfSpec, EfSpec, Personalizer, Structure};
use sscard_core::fs::layout::{Access, FileFlags, FileIndex, FileKind, Header, MF};
use sscard_core::nvm::Nvm;

/// NVM size that takes a PSAM with full key files in both environments.
pub const NVM_SIZE: usize = 32 * 1024;

/// The ATR of the test PSAM: `3B 6C 00 00` and 12 historical bytes (synthetic).
pub const TEST_ATR: [u8; 16] = [
    0x3B, 0x6C, 0x00, 0x00, 0x00, 0x81, 0x53, 0x53, 0x50, 0x53, 0x41, 0x4D, 0x00, 0x00, 0x00, 0x01,
];

/// Which root a key is (P9 §8, TB1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootLevel {
    /// 一级根密钥: the national root; 3 diversification levels; key file `0011`.
    National,
    /// 二级根密钥: a provincial root; 2 levels; key file `0012`.
    Provincial,
    /// 三级根密钥: a city root; 1 level (the card); key file `0013`.
    City,
}

impl RootLevel {
    /// The level of P9 §8 numbered `n` (1, 2 or 3).
    pub const fn from_number(n: u8) -> Option<Self> {
        match n {
            1 => Some(RootLevel::National),
            2 => Some(RootLevel::Provincial),
            3 => Some(RootLevel::City),
            _ => None,
        }
    }

    /// Diversifications still to apply.
    pub const fn levels(self) -> u8 {
        match self {
            RootLevel::National => 3,
            RootLevel::Provincial => 2,
            RootLevel::City => 1,
        }
    }

    /// The key file of this level.
    pub const fn key_file(self) -> u16 {
        match self {
            RootLevel::National => KEY_FILE_FIDS[0],
            RootLevel::Provincial => KEY_FILE_FIDS[1],
            RootLevel::City => KEY_FILE_FIDS[2],
        }
    }
}

/// A root key to load into a key file.
#[derive(Clone, Copy, Debug)]
pub struct RootKey<'a> {
    /// Its level.
    pub level: RootLevel,
    /// Its type.
    pub kind: KeyType,
    /// Key id (P9 TA1), or the version for a medical-purchase key.
    pub id: u8,
    /// Algorithm; decides the environment.
    pub algorithm: KeyAlgorithm,
    /// The key value (8 bytes DES, 16 otherwise).
    pub value: &'a [u8],
}

/// The PSAM's own keys of one environment (DES/3DES: 8 or 16 bytes; SM4: 16).
#[derive(Clone, Copy, Debug)]
pub struct OwnKeys<'a> {
    /// DDF-MK (writes `0001`, `0015`, `0016`).
    pub ddf_master: &'a [u8],
    /// ADF-MK (encrypts and MACs CREATE / CHANGE KEY).
    pub adf_master: &'a [u8],
    /// KID-01..03 (write `001A`–`001C` and the key files `0011`–`0013`).
    pub auth: [&'a [u8]; 3],
}

/// Test values of the PSAM's own keys: every byte `D0 + n` (DES environment) or
/// `E0 + n` (SM4): DDF-MK n = 4, ADF-MK n = 5, KID-0n n = 1..3. TEST KEYS ONLY.
pub const TEST_DES_KEYS: OwnKeys<'static> = OwnKeys {
    ddf_master: &[0xD4; 16],
    adf_master: &[0xD5; 16],
    auth: [&[0xD1; 16], &[0xD2; 16], &[0xD3; 16]],
};
/// See [`TEST_DES_KEYS`].
pub const TEST_SM4_KEYS: OwnKeys<'static> = OwnKeys {
    ddf_master: &[0xE4; 16],
    adf_master: &[0xE5; 16],
    auth: [&[0xE1; 16], &[0xE2; 16], &[0xE3; 16]],
};

/// Everything a PSAM is made from.
#[derive(Clone, Copy, Debug)]
pub struct PsamPersonalization<'a> {
    /// Contact ATR.
    pub atr: &'a [u8],
    /// 发行机构标识 (`0015` byte 1).
    pub issuer_id: u8,
    /// PSAM serial, cn10 (`0015` bytes 2–11).
    pub serial: [u8; 10],
    /// PSAM version (`0015` byte 12).
    pub version: u8,
    /// 密钥卡类型 (`0015` byte 13).
    pub key_card_type: u8,
    /// Issuer-defined FCI data (`0015` bytes 14–15).
    pub fci_data: [u8; 2],
    /// 终端机编号, cn6 (`0016`).
    pub terminal_id: [u8; 6],
    /// Initial terminal transaction serial (`0019`).
    pub ttsn: u32,
    /// Application information `001A`–`001C`: key index ‖ auth key version ‖ start
    /// date cn4 ‖ expiry date cn4.
    pub app_info: [[u8; 10]; 3],
    /// Try limit of the PSAM's own keys (0: unlimited; P9 gives none).
    pub key_try_limit: u8,
    /// Own keys of the DES environment (MF).
    pub des_keys: OwnKeys<'a>,
    /// Own keys of the SM4 environment (`DDF1`).
    pub sm4_keys: OwnKeys<'a>,
    /// Root keys, each into its environment and level.
    pub roots: &'a [RootKey<'a>],
}

impl<'a> PsamPersonalization<'a> {
    /// A test PSAM holding `roots`: serial 1, terminal `000000000001`, TTSN 0, the
    /// test own keys, try limit 3, [`TEST_ATR`].
    pub fn test_default(roots: &'a [RootKey<'a>]) -> Self {
        PsamPersonalization {
            atr: &TEST_ATR,
            issuer_id: 0x01,
            serial: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01],
            version: 0x01,
            key_card_type: 0x00,
            fci_data: [0, 0],
            terminal_id: [0, 0, 0, 0, 0, 0x01],
            ttsn: 0,
            app_info: [[0x01, 0x01, 0x20, 0x25, 0x01, 0x01, 0x20, 0x35, 0x12, 0x31]; 3],
            key_try_limit: 3,
            des_keys: TEST_DES_KEYS,
            sm4_keys: TEST_SM4_KEYS,
            roots,
        }
    }
}

/// Formats `nvm` and builds the PSAM described by `perso` into it.
pub fn personalize<N: Nvm>(
    nvm: &mut N,
    perso: &PsamPersonalization<'_>,
) -> Result<Header, BuildError> {
    let caps = Capacities {
        files: 32,
        secrets: 16,
    };
    let mut p = Personalizer::format(nvm, caps, perso.atr)?;
    // FCI proprietary template: the DIR's SFI (a choice, P9 defines no FCI).
    let fci = [0x88, 0x01, 0x01];
    p.set_mf(&MF_NAME, &fci)?;
    environment(&mut p, MF, Algorithm::Des3, perso, &perso.des_keys)?;
    let ddf = p.df(
        MF,
        DfSpec {
            kind: FileKind::Ddf,
            fid: DDF_FID,
            name: &DDF_NAME,
            fci_proprietary: &fci,
            role: 0,
        },
    )?;
    environment(&mut p, ddf, Algorithm::Sm4, perso, &perso.sm4_keys)?;
    p.finish()
}

fn transparent(fid: u16, size: u32, write: Access) -> EfSpec {
    EfSpec {
        fid,
        sfi: (fid & 0x1F) as u8,
        structure: Structure::Transparent { size },
        read: Access::Always,
        write,
        tlv_records: false,
    }
}

fn own_key<N: Nvm>(
    p: &mut Personalizer<'_, N>,
    owner: FileIndex,
    id: u8,
    usage: KeyUsage,
    algorithm: Algorithm,
    value: &[u8],
    try_limit: u8,
) -> Result<(), BuildError> {
    if !algorithm.accepts_key_len(value.len()) {
        return Err(BuildError::BadKey(
            "own key length does not fit the environment",
        ));
    }
    let entry = SecretSpec {
        attributes: SecretAttributes {
            kind: SecretKind::Key,
            owner,
            id,
            usage,
            algorithm: algorithm.id(),
            version: 1,
            try_limit,
        },
        value,
    }
    .encode()
    .ok_or(BuildError::BadKey("own key longer than 16 bytes"))?;
    p.push_secret(&entry)?;
    Ok(())
}

/// One environment: its DIR, `0015`, `0016`, DDF-MK, and the ADF with its files, own
/// keys and the roots of its algorithm.
fn environment<N: Nvm>(
    p: &mut Personalizer<'_, N>,
    df: FileIndex,
    algorithm: Algorithm,
    perso: &PsamPersonalization<'_>,
    own: &OwnKeys<'_>,
) -> Result<(), BuildError> {
    let ddf_mk = Access::Key(DDF_MASTER_KEY);
    let dir = p.ef(
        df,
        EfSpec {
            fid: DIR_FID,
            sfi: 1,
            structure: Structure::LinearVariable {
                max_len: 32,
                records: 4,
            },
            read: Access::Always,
            write: ddf_mk,
            tlv_records: false,
        },
    )?;
    // 61 { 4F AID, 50 label } (P3 §5.1.4's application template).
    let mut record = [0u8; 2 + 2 + ADF_AID.len() + 2 + DIR_LABEL.len()];
    let inner = (record.len() - 2) as u8;
    let parts: [&[u8]; 6] = [
        &[0x61, inner],
        &[0x4F, ADF_AID.len() as u8],
        &ADF_AID,
        &[0x50, DIR_LABEL.len() as u8],
        DIR_LABEL,
        &[],
    ];
    let mut at = 0;
    for part in parts {
        if let Some(dst) = record.get_mut(at..at + part.len()) {
            dst.copy_from_slice(part);
        }
        at += part.len();
    }
    p.append_record(dir, &record)?;
    let public = p.ef(df, transparent(PUBLIC_INFO_FID, PUBLIC_INFO_LEN, ddf_mk))?;
    p.write_body(public, 0, &[perso.issuer_id])?;
    p.write_body(public, 1, &perso.serial)?;
    p.write_body(public, 11, &[perso.version, perso.key_card_type])?;
    p.write_body(public, 13, &perso.fci_data)?;
    let terminal = p.ef(
        df,
        transparent(TERMINAL_INFO_FID, TERMINAL_INFO_LEN, ddf_mk),
    )?;
    p.write_body(terminal, 0, &perso.terminal_id)?;
    let ext = KeyUsage::EXTERNAL_AUTH;
    let limit = perso.key_try_limit;
    own_key(p, df, DDF_MASTER_KEY, ext, algorithm, own.ddf_master, limit)?;

    let role = match algorithm {
        Algorithm::Des3 => ROLE_DES_ADF,
        Algorithm::Sm4 => ROLE_SM4_ADF,
    };
    let adf = p.df(
        df,
        DfSpec {
            kind: FileKind::Adf,
            fid: ADF_FID,
            name: &ADF_AID,
            fci_proprietary: &[],
            role,
        },
    )?;
    let ttsn = p.ef(adf, transparent(TTSN_FID, TTSN_LEN, Access::Never))?;
    p.write_body(ttsn, 0, &perso.ttsn.to_be_bytes())?;
    for ((fid, kid), info) in APP_INFO_FIDS.iter().zip(KID).zip(&perso.app_info) {
        let ef = p.ef(adf, transparent(*fid, APP_INFO_LEN, Access::Key(kid)))?;
        p.write_body(ef, 0, info)?;
    }
    let master_usage = KeyUsage::SECURE_MESSAGING | ext;
    own_key(
        p,
        adf,
        ADF_MASTER_KEY,
        master_usage,
        algorithm,
        own.adf_master,
        limit,
    )?;
    for (kid, value) in KID.iter().zip(own.auth) {
        own_key(p, adf, *kid, ext, algorithm, value, limit)?;
    }
    let mut files = [0; 3];
    for (file, fid) in files.iter_mut().zip(KEY_FILE_FIDS) {
        *file = p.ef(
            adf,
            EfSpec {
                fid,
                sfi: 0,
                structure: Structure::LinearVariable {
                    max_len: MAX_RECORD_LEN as u8,
                    records: KEY_FILE_RECORDS,
                },
                read: Access::Never,
                write: Access::Never,
                tlv_records: false,
            },
        )?;
        p.add_flags(*file, FileFlags::KEY_OBJECT)?;
    }
    for root in perso
        .roots
        .iter()
        .filter(|r| r.algorithm.family() == algorithm)
    {
        if root.value.len() != root.algorithm.key_len() {
            return Err(BuildError::BadKey(
                "root key length does not fit its algorithm",
            ));
        }
        let mut record = [0u8; MAX_RECORD_LEN];
        let head = [
            usage_byte(root.level.levels(), root.kind),
            root.id,
            0,
            root.algorithm.code(),
        ];
        record[..4].copy_from_slice(&head);
        let len = RECORD_HEAD_LEN + root.value.len();
        record
            .get_mut(RECORD_HEAD_LEN..len)
            .ok_or(BuildError::BadKey("root key longer than 16 bytes"))?
            .copy_from_slice(root.value);
        let file = match root.level {
            RootLevel::National => files[0],
            RootLevel::Provincial => files[1],
            RootLevel::City => files[2],
        };
        p.append_record(file, record.get(..len).unwrap_or(&[]))
            .map_err(|_| BuildError::BadKey("key file full"))?;
    }
    Ok(())
}
