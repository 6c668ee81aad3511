//! The bit sets of EMV and PBOC 3.0 that the card reads or writes, one type each.
//!
//! Every constant names its byte and bit as the specifications count them: byte 1 is the
//! leftmost byte of the data object, b8 its most significant bit. A multi-byte object is
//! held big-endian in one integer, so "byte 1 b7" of a 2-byte object is `0x4000`. Only
//! the bits the card acts on, plus their neighbours where the clause lists them, are
//! named; unnamed bits are kept as they came ([`from_bits_retain`]).
//!
//! Sources: EMV 4.3 Book 3 (Annex C, §6.5.5) and the PBOC 3.0 facts of
//! `shared/spec/pboc.md` (§2.6–§2.12), which name the JR/T 0025 parts behind them.
//!
//! [`from_bits_retain`]: Aip::from_bits_retain

use bitflags::bitflags;

/// `bytes` left-aligned in `N` bytes: a shorter value is zero-filled on the right, a longer
/// one cut (how the card reads a terminal value whose DOL length differs).
fn left_aligned<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    for (d, s) in out.iter_mut().zip(bytes) {
        *d = *s;
    }
    out
}

/// `from_be_bytes` for the bit sets the card stores with their exact length.
macro_rules! from_be_bytes {
    ($($set:ident: $int:ty, $len:literal;)+) => {$(
        impl $set {
            /// The bit set as stored: big-endian, byte 1 first.
            pub fn from_be_bytes(bytes: [u8; $len]) -> Self {
                Self::from_bits_retain(<$int>::from_be_bytes(bytes))
            }
        }
    )+};
}

from_be_bytes! {
    Aip: u16, 2;
    Ctq: u16, 2;
    Cpp: u32, 4;
    Ada: u16, 2;
}

bitflags! {
    /// Application Interchange Profile `82`, 2 bytes (EMV 4.3 Book 3 Annex C1, Table 37;
    /// pboc.md §2.4: `7C00`). Byte 2 is RFU.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Aip: u16 {
        /// Byte 1 b7: SDA supported.
        const SDA = 0x4000;
        /// Byte 1 b6: DDA supported (qPBOC: fDDA).
        const DDA = 0x2000;
        /// Byte 1 b5: cardholder verification is supported.
        const CARDHOLDER_VERIFICATION = 0x1000;
        /// Byte 1 b4: terminal risk management is to be performed.
        const TERMINAL_RISK_MANAGEMENT = 0x0800;
        /// Byte 1 b3: issuer authentication is supported.
        const ISSUER_AUTHENTICATION = 0x0400;
        /// Byte 1 b1: CDA supported.
        const CDA = 0x0100;
    }
}

bitflags! {
    /// Terminal Verification Results `95`, 5 bytes in the low 40 bits (EMV 4.3 Book 3
    /// Annex C5, Table 41). The card reads byte 1 only: the offline data authentication
    /// results of a declined transaction (pboc.md §2.9 item 1).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Tvr: u64 {
        /// Byte 1 b8: offline data authentication was not performed.
        const ODA_NOT_PERFORMED = 0x80_0000_0000;
        /// Byte 1 b7: SDA failed.
        const SDA_FAILED = 0x40_0000_0000;
        /// Byte 1 b6: ICC data missing.
        const ICC_DATA_MISSING = 0x20_0000_0000;
        /// Byte 1 b5: card appears on the terminal exception file.
        const CARD_ON_EXCEPTION_FILE = 0x10_0000_0000;
        /// Byte 1 b4: DDA failed.
        const DDA_FAILED = 0x08_0000_0000;
        /// Byte 1 b3: CDA failed.
        const CDA_FAILED = 0x04_0000_0000;
        /// Byte 1 b2: SDA selected.
        const SDA_SELECTED = 0x02_0000_0000;
    }
}

impl Tvr {
    /// The TVR a terminal sent; missing bytes count as zero.
    pub fn from_value(bytes: &[u8]) -> Self {
        let [b1, b2, b3, b4, b5] = left_aligned::<5>(bytes);
        Self::from_bits_retain(u64::from_be_bytes([0, 0, 0, b1, b2, b3, b4, b5]))
    }
}

bitflags! {
    /// Card Verification Results: the 3 bytes after the length `03` in the issuer
    /// application data `9F10` (pboc.md §2.7, checked against real CVRs `A0A802` →
    /// `60AC02`), in the low 24 bits. Byte 1 b8–b7 and b6–b5 are the AC-type fields of
    /// the two GENERATE AC (00 AAC, 01 TC, 10 ARQC / not requested); byte 3 b8–b5 counts
    /// the issuer script commands of the last transaction ([`Cvr::script_count`]).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Cvr: u32 {
        /// Byte 1 b8–b7: the AC type field of the second GENERATE AC.
        const GAC2_AC_TYPE = 0x00C0_0000;
        /// Byte 1 b8–b7 = 10: second GENERATE AC not requested.
        const GAC2_NOT_REQUESTED = 0x0080_0000;
        /// Byte 1 b8–b7 = 01: second GENERATE AC returned a TC.
        const GAC2_TC = 0x0040_0000;
        /// Byte 1 b6–b5: the AC type field of the first GENERATE AC.
        const GAC1_AC_TYPE = 0x0030_0000;
        /// Byte 1 b6–b5 = 10: first GENERATE AC returned an ARQC.
        const GAC1_ARQC = 0x0020_0000;
        /// Byte 1 b6–b5 = 01: first GENERATE AC returned a TC.
        const GAC1_TC = 0x0010_0000;
        /// Byte 1 b4: issuer authentication performed and failed.
        const ISSUER_AUTH_FAILED = 0x0008_0000;
        /// Byte 1 b3: offline PIN verification performed.
        const OFFLINE_PIN_PERFORMED = 0x0004_0000;
        /// Byte 1 b2: offline PIN verification failed.
        const OFFLINE_PIN_FAILED = 0x0002_0000;
        /// Byte 1 b1: unable to go online.
        const UNABLE_TO_GO_ONLINE = 0x0001_0000;
        /// Byte 2 b8: last online transaction not completed.
        const LAST_ONLINE_NOT_COMPLETED = 0x0000_8000;
        /// Byte 2 b7: PIN try limit exceeded.
        const PIN_TRY_LIMIT_EXCEEDED = 0x0000_4000;
        /// Byte 2 b6: velocity checking exceeded.
        const VELOCITY_EXCEEDED = 0x0000_2000;
        /// Byte 2 b5: new card.
        const NEW_CARD = 0x0000_1000;
        /// Byte 2 b4: issuer authentication failed on the last online transaction.
        const LAST_ISSUER_AUTH_FAILED = 0x0000_0800;
        /// Byte 2 b3: issuer authentication not performed after online authorization.
        const ISSUER_AUTH_NOT_PERFORMED = 0x0000_0400;
        /// Byte 2 b2: application blocked because the PIN try limit was exceeded.
        const BLOCKED_BY_PIN = 0x0000_0200;
        /// Byte 2 b1: SDA failed on the last transaction and it was declined.
        const LAST_SDA_FAILED = 0x0000_0100;
        /// Byte 3 b8–b5: number of issuer script commands on the last transaction.
        const SCRIPT_COUNT = 0x0000_00F0;
        /// Byte 3 b4: issuer script failed on the last transaction.
        const LAST_SCRIPT_FAILED = 0x0000_0008;
        /// Byte 3 b3: DDA failed on the last transaction and it was declined.
        const LAST_DDA_FAILED = 0x0000_0004;
        /// Byte 3 b2: DDA (or CDA) performed.
        const DDA_PERFORMED = 0x0000_0002;
    }
}

impl Cvr {
    /// Byte 3 b8–b5 holding `scripts` (at most 15).
    pub fn script_count(scripts: u8) -> Self {
        Self::from_bits_retain(u32::from(scripts.min(15)) << 4) & Self::SCRIPT_COUNT
    }

    /// The CVR as it stands in `9F10` and in the cryptogram input: `03` and the 3 bytes.
    pub fn to_value(self) -> [u8; 4] {
        let [_, b1, b2, b3] = self.bits().to_be_bytes();
        [0x03, b1, b2, b3]
    }
}

bitflags! {
    /// Terminal Transaction Qualifiers `9F66`, 4 bytes (pboc.md §2.12, JR/T 0025.12).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Ttq: u32 {
        /// Byte 1 b7: contactless PBOC (format 1 GPO) supported.
        const CONTACTLESS_PBOC = 0x4000_0000;
        /// Byte 1 b6: qPBOC supported.
        const QPBOC = 0x2000_0000;
        /// Byte 1 b5: contact PBOC supported.
        const CONTACT_PBOC = 0x1000_0000;
        /// Byte 1 b4: offline-only reader.
        const OFFLINE_ONLY = 0x0800_0000;
        /// Byte 1 b3: online PIN supported.
        const ONLINE_PIN = 0x0400_0000;
        /// Byte 1 b2: signature supported.
        const SIGNATURE = 0x0200_0000;
        /// Byte 2 b8: online cryptogram required.
        const ONLINE_CRYPTOGRAM_REQUIRED = 0x0080_0000;
        /// Byte 2 b7: CVM required.
        const CVM_REQUIRED = 0x0040_0000;
        /// Byte 4 b8: fDDA version 01 supported.
        const FDDA_01 = 0x0000_0080;
    }
}

impl Ttq {
    /// The TTQ a terminal sent; missing bytes count as zero.
    pub fn from_value(bytes: &[u8]) -> Self {
        Self::from_bits_retain(u32::from_be_bytes(left_aligned(bytes)))
    }
}

bitflags! {
    /// Card Transaction Qualifiers `9F6C`, 2 bytes (pboc.md §2.12). Byte 2 is not used by
    /// the card.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Ctq: u16 {
        /// Byte 1 b8: online PIN required.
        const ONLINE_PIN_REQUIRED = 0x8000;
        /// Byte 1 b7: signature required.
        const SIGNATURE_REQUIRED = 0x4000;
        /// Byte 1 b6: go online if offline data authentication fails.
        const ONLINE_IF_ODA_FAILS = 0x2000;
        /// Byte 1 b5: switch interface if offline data authentication fails.
        const SWITCH_INTERFACE_IF_ODA_FAILS = 0x1000;
    }
}

bitflags! {
    /// Card Additional Processes `9F68`, 4 bytes (pboc.md §2.12, the applet's `CPP_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Cpp: u32 {
        /// Byte 1 b8: electronic cash (small amount) check.
        const EC_CHECK = 0x8000_0000;
        /// Byte 1 b7: electronic cash and CTTA check.
        const EC_AND_CTTA_CHECK = 0x4000_0000;
        /// Byte 1 b6: electronic cash or CTTA check.
        const EC_OR_CTTA_CHECK = 0x2000_0000;
        /// Byte 1 b5: new-card check (go online).
        const NEW_CARD_CHECK = 0x1000_0000;
        /// Byte 1 b4: PIN-try-limit-exceeded check (go online).
        const PIN_TRY_LIMIT_CHECK = 0x0800_0000;
        /// Byte 1 b3: allow offline with a currency other than the application's.
        const OFFLINE_OTHER_CURRENCY = 0x0400_0000;
        /// Byte 1 b2: prefer contact PBOC online (a qPBOC ARQC becomes 6985 when the
        /// terminal has contact).
        const PREFER_CONTACT_ONLINE = 0x0200_0000;
        /// Byte 1 b1: return the available offline spending amount `9F5D`.
        const RETURN_AVAILABLE_AMOUNT = 0x0100_0000;
        /// Byte 2 b8: prepaid.
        const PREPAID = 0x0080_0000;
        /// Byte 2 b7: disallow a currency other than the application's.
        const DISALLOW_OTHER_CURRENCY = 0x0040_0000;
        /// Byte 2 b6: decline a new card on an offline-only terminal.
        const DECLINE_NEW_CARD_OFFLINE_ONLY = 0x0020_0000;
        /// Byte 2 b5: log qPBOC offline-approved transactions.
        const LOG_QPBOC_OFFLINE = 0x0010_0000;
        /// Byte 3 b8: online PIN for the application currency.
        const ONLINE_PIN_SAME_CURRENCY = 0x0000_8000;
        /// Byte 3 b7: online PIN for another currency.
        const ONLINE_PIN_OTHER_CURRENCY = 0x0000_4000;
        /// Byte 3 b6: CVM required for another currency.
        const CVM_OTHER_CURRENCY = 0x0000_2000;
        /// Byte 3 b5: signature supported.
        const SIGNATURE = 0x0000_1000;
    }
}

bitflags! {
    /// Application Default Action `9F52`, 2 bytes (pboc.md §2.9, the applet's `ADA_OFF_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Ada: u16 {
        /// Byte 1 b8: issuer authentication failed → the next transaction goes online.
        const ISSUER_AUTH_FAILED_NEXT_ONLINE = 0x8000;
        /// Byte 1 b7: issuer authentication performed and failed → decline.
        const ISSUER_AUTH_FAILED_DECLINE = 0x4000;
        /// Byte 1 b6: issuer authentication mandatory and no ARPC received → decline.
        const ISSUER_AUTH_MANDATORY = 0x2000;
        /// Byte 1 b5: declined → advice.
        const DECLINE_ADVICE = 0x1000;
        /// Byte 1 b4: PIN try limit exceeded in this transaction and declined → advice.
        const PIN_LIMIT_DECLINE_ADVICE = 0x0800;
        /// Byte 1 b3: declined because issuer authentication failed or was not done →
        /// advice.
        const ISSUER_AUTH_DECLINE_ADVICE = 0x0400;
        /// Byte 1 b2: new card → online.
        const NEW_CARD_ONLINE = 0x0200;
        /// Byte 1 b1: new card that cannot go online → decline.
        const NEW_CARD_OFFLINE_DECLINE = 0x0100;
        /// Byte 2 b8: PIN try limit exceeded in this transaction → block the application.
        const PIN_LIMIT_NOW_BLOCK = 0x0080;
        /// Byte 2 b7: PIN try limit exceeded on a previous transaction → decline.
        const PIN_LIMIT_BEFORE_DECLINE = 0x0040;
        /// Byte 2 b6: PIN try limit exceeded on a previous transaction → online.
        const PIN_LIMIT_BEFORE_ONLINE = 0x0020;
        /// Byte 2 b5: PIN try limit exceeded before and cannot go online → decline.
        const PIN_LIMIT_OFFLINE_DECLINE = 0x0010;
        /// Byte 2 b4: issuer script failed on the previous transaction → online.
        const SCRIPT_FAILED_ONLINE = 0x0008;
        /// Byte 2 b3: PIN try limit exceeded on a previous transaction → decline and
        /// block the application.
        const PIN_LIMIT_BEFORE_BLOCK = 0x0004;
    }
}

bitflags! {
    /// Issuer Authentication Indicator `9F56`, 1 byte (pboc.md §2.8 "GAC2 decision").
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct IssuerAuthIndicator: u8 {
        /// b8: issuer authentication is mandatory.
        const MANDATORY = 0x80;
    }
}

bitflags! {
    /// Cryptogram Information Data `9F27` (EMV 4.3 Book 3 §6.5.5.4, Table 14; pboc.md
    /// §2.6). An AAC has both AC-type bits clear: `Cid::empty()`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Cid: u8 {
        /// b8–b7 = 10: ARQC.
        const ARQC = 0x80;
        /// b8–b7 = 01: TC.
        const TC = 0x40;
        /// b4: advice required.
        const ADVICE_REQUIRED = 0x08;
        /// b3–b1 = 010: reason "PIN try limit exceeded".
        const REASON_PIN_TRY_LIMIT = 0x02;
    }
}

bitflags! {
    /// GENERATE AC reference control parameter, P1 (EMV 4.3 Book 3 §6.5.5.2, Table 12;
    /// pboc.md §2.6). b6 and b4–b1 are RFU: a P1 with any of them set is not a
    /// [`ReferenceControl`] ([`from_bits`](Self::from_bits) gives `None`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct ReferenceControl: u8 {
        /// b8–b7 = 10: ARQC requested (11 is RFU).
        const ARQC = 0x80;
        /// b8–b7 = 01: TC requested.
        const TC = 0x40;
        /// b5: CDA signature requested.
        const CDA = 0x10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_byte_objects_are_big_endian() {
        assert!(Aip::from_be_bytes([0x7C, 0x00]).contains(Aip::DDA));
        assert!(!Aip::from_be_bytes([0x7C, 0x00]).contains(Aip::CDA));
        assert!(Ttq::from_value(&[0x36, 0x80]).contains(Ttq::ONLINE_CRYPTOGRAM_REQUIRED));
        assert!(Ttq::from_value(&[0, 0, 0, 0x80]).contains(Ttq::FDDA_01));
        assert!(Tvr::from_value(&[0x40]).contains(Tvr::SDA_FAILED));
        assert_eq!(
            (Cvr::GAC1_ARQC | Cvr::GAC2_NOT_REQUESTED | Cvr::DDA_PERFORMED).to_value(),
            [0x03, 0xA0, 0x00, 0x02]
        );
        assert_eq!(Cvr::script_count(20).to_value(), [0x03, 0, 0, 0xF0]);
        assert_eq!(ReferenceControl::from_bits(0x20), None);
        assert_eq!(
            ReferenceControl::from_bits(0x90),
            Some(ReferenceControl::ARQC | ReferenceControl::CDA)
        );
    }
}
