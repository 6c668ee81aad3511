//! Where the PSAM keeps things (LD/T 32 P9 §5, F1; spec-extract §4.1): two environments,
//! the MF `3F00` (8-byte algorithm: DES/3DES) and the DDF `DDF1` (16-byte algorithm:
//! SSF33 in the text, SM4 here), each holding DIR `0001`, `0015` (card public
//! information), `0016` (terminal information) and the ADF `DF01`
//! (AID `D15600000590`) with `0019` (TTSN), `001A`–`001C` (application information) and
//! the key files `0011`–`0013`.
//!
//! **Choices** (docs/spec-choices.md "Social-security PSAM"): the PSAM's own keys sit in
//! the OS's key table (P9 §6: "only the master key sits in the default slot"), with the
//! ids [`KID`] `01`–`03` (the write keys of `001A`–`001C` and of the key files),
//! [`DDF_MASTER_KEY`] `04` and [`ADF_MASTER_KEY`] `05` (P9 TA1 gives `00`–`07` to the
//! PSAM's own keys without naming them); every EF has the SFI equal to its FID's low
//! five bits, the key files none.

use sscard_core::crypto::Algorithm;

/// Name of the MF, the DES environment: "sx1.sh.社会保障" (P9 §5).
pub const MF_NAME: [u8; 15] = *b"sx1.sh.\xC9\xE7\xBB\xE1\xB1\xA3\xD5\xCF";
/// Name of the DDF `DDF1`, the 16-byte environment: "sx2.sh.社会保障" (P9 §5).
pub const DDF_NAME: [u8; 15] = *b"sx2.sh.\xC9\xE7\xBB\xE1\xB1\xA3\xD5\xCF";
/// FID of the 16-byte environment's DDF.
pub const DDF_FID: u16 = 0xDDF1;
/// FID of the PSAM application's ADF in either environment.
pub const ADF_FID: u16 = 0xDF01;
/// AID of the PSAM application (P9 §5).
pub const ADF_AID: [u8; 6] = [0xD1, 0x56, 0x00, 0x00, 0x05, 0x90];
/// Application label in the DIR records (a choice: P9 defines no DIR content).
pub const DIR_LABEL: &[u8] = b"SSC PSAM";

/// DIR (P9 T1).
pub const DIR_FID: u16 = 0x0001;
/// Card public information: issuer id ‖ PSAM serial ‖ version ‖ key-card type ‖ FCI
/// data (P9 T2).
pub const PUBLIC_INFO_FID: u16 = 0x0015;
/// Length of `0015`.
pub const PUBLIC_INFO_LEN: u32 = 15;
/// Terminal information: the terminal id (P9 T3).
pub const TERMINAL_INFO_FID: u16 = 0x0016;
/// Length of `0016`.
pub const TERMINAL_INFO_LEN: u32 = 6;
/// Terminal transaction serial number, written only by INIT SAM FOR PURCHASE (P9 T4).
pub const TTSN_FID: u16 = 0x0019;
/// Length of `0019`.
pub const TTSN_LEN: u32 = 4;
/// Application information, national / provincial / city (P9 T5–T7).
pub const APP_INFO_FIDS: [u16; 3] = [0x001A, 0x001B, 0x001C];
/// Length of `001A`–`001C`.
pub const APP_INFO_LEN: u32 = 10;
/// Key files, national / provincial / city (P9 §5, §6).
pub const KEY_FILE_FIDS: [u16; 3] = [0x0011, 0x0012, 0x0013];
/// Records per key file (P9 allows 254; sscard sizes for a real chip).
pub const KEY_FILE_RECORDS: u8 = 32;

/// KID-01..03: the keys whose external authentication opens `001A`–`001C` and the key
/// files `0011`–`0013` for writing (P9 §5).
pub const KID: [u8; 3] = [0x01, 0x02, 0x03];
/// DDF-MK of an environment (writes `0001`, `0015`, `0016`).
pub const DDF_MASTER_KEY: u8 = 0x04;
/// ADF-MK: encrypts and MACs CREATE KEY / CHANGE KEY (P9 §9.5, §9.6).
pub const ADF_MASTER_KEY: u8 = 0x05;

/// Role byte of the ADF `DF01` of the DES environment (under the MF).
pub const ROLE_DES_ADF: u8 = 0x50;
/// Role byte of the ADF `DF01` of the 16-byte environment (under `DDF1`).
pub const ROLE_SM4_ADF: u8 = 0x51;

/// The algorithm family of the PSAM ADF with role byte `role`, if it is one.
pub const fn environment(role: u8) -> Option<Algorithm> {
    match role {
        ROLE_DES_ADF => Some(Algorithm::Des3),
        ROLE_SM4_ADF => Some(Algorithm::Sm4),
        _ => None,
    }
}
