//! Status words: the error type of every command handler.
//!
//! One enum names every status word of the card OS (LD/T 32 Part 5 table 5,
//! `spec/ssc.md` §5.1, plus those used but missing from table 5: 6Cxx, 6A84, 6A85, 6987;
//! ISO/IEC 7816-4 §5.6) and those PBOC shares with it (`spec/pboc.md` §2.16). A handler
//! returns `Result<_, Status>` so that `?` maps straight to the wire SW;
//! [`Status::Proprietary`] carries anything else, and the status words only one
//! application answers (the medical purse's 93xx/94xx, PBOC's 697x) are named as
//! `Proprietary` constants by that application.

use core::fmt;

/// A status word (SW1 SW2). Success is [`Status::Success`]; everything else is either a
/// warning (61xx, 62xx, 63xx) or an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// 9000 — normal processing.
    Success,
    /// 61xx — response bytes still available (T=0; fetch with GET RESPONSE). Carries xx
    /// (00 = 256 or more).
    BytesAvailable(u8),
    /// 6283 — selected file (application) is blocked; the FCI follows (PBOC §2.3, §2.16).
    SelectedFileBlocked,
    /// 6300 — authentication failed, no counter (PBOC EXTERNAL AUTHENTICATE, §2.8).
    AuthenticationFailed,
    /// 63Cx — verification failed, x tries left (LD/T 32 P5 T5; PBOC VERIFY).
    /// Values above 15 are clamped when encoded.
    RemainingTries(u8),
    /// 6581 — memory failure (EEPROM write failed; P5 T5).
    MemoryFailure,
    /// 6700 — wrong length (Lc or Le; P5 T5).
    WrongLength,
    /// 6901 — command not accepted: invalid state (medical purse state machine, P5 T49).
    InvalidState,
    /// 6981 — command incompatible with file structure (P5 T5).
    IncompatibleFileStructure,
    /// 6982 — security status not satisfied (P5 T5).
    SecurityStatusNotSatisfied,
    /// 6983 — authentication method blocked: PIN or key tries exhausted (P5 T5).
    AuthMethodBlocked,
    /// 6984 — referenced data invalidated, e.g. no valid challenge (P5 T5; PBOC: PIN
    /// blocked in an earlier transaction).
    ReferencedDataInvalid,
    /// 6985 — conditions of use not satisfied (P5 T5).
    ConditionsNotSatisfied,
    /// 6986 — command not allowed: no current EF (P5 T5).
    NoCurrentEf,
    /// 6987 — expected secure-messaging data objects missing (P7 §7.4).
    SmDataMissing,
    /// 6988 — secure-messaging data objects incorrect: bad MAC (P5 T5).
    SmDataIncorrect,
    /// 6A80 — incorrect parameters in the data field (P5 T5).
    WrongData,
    /// 6A81 — function not supported; also every answer of a blocked card (P5 §6.2).
    FunctionNotSupported,
    /// 6A82 — file or application not found (P5 T5).
    FileNotFound,
    /// 6A83 — record not found (P5 T5).
    RecordNotFound,
    /// 6A84 — not enough memory space in the file (P5 T45).
    NotEnoughMemory,
    /// 6A85 — Lc inconsistent with TLV structure (P5 T45).
    LcInconsistentWithTlv,
    /// 6A86 — incorrect P1 or P2 (P5 T5).
    WrongP1P2,
    /// 6A88 — referenced data (key, PIN, tag) not found (P5 T5; PBOC GET DATA).
    ReferencedDataNotFound,
    /// 6B00 — offset beyond the end of the EF (P5 T5).
    WrongOffset,
    /// 6Cxx — wrong Le; xx is the exact length available (P5 §6.10.4).
    WrongLe(u8),
    /// 6D00 — instruction not supported (P5 T5).
    InstructionNotSupported,
    /// 6E00 — class not supported (P5 T5).
    ClassNotSupported,
    /// 6F00 — data invalid / no precise diagnosis (P5 T5; GET RESPONSE without data).
    NoPreciseDiagnosis,
    /// 9303 — application permanently blocked (P5 §6.1).
    ApplicationBlocked,
    /// Any other SW1 SW2, e.g. a COS vendor's proprietary code.
    Proprietary(u16),
}

impl Status {
    /// The two-byte status word.
    pub const fn to_u16(self) -> u16 {
        match self {
            Status::Success => 0x9000,
            Status::BytesAvailable(n) => 0x6100 | n as u16,
            Status::SelectedFileBlocked => 0x6283,
            Status::AuthenticationFailed => 0x6300,
            Status::RemainingTries(n) => 0x63C0 | (if n > 15 { 15 } else { n }) as u16,
            Status::MemoryFailure => 0x6581,
            Status::WrongLength => 0x6700,
            Status::InvalidState => 0x6901,
            Status::IncompatibleFileStructure => 0x6981,
            Status::SecurityStatusNotSatisfied => 0x6982,
            Status::AuthMethodBlocked => 0x6983,
            Status::ReferencedDataInvalid => 0x6984,
            Status::ConditionsNotSatisfied => 0x6985,
            Status::NoCurrentEf => 0x6986,
            Status::SmDataMissing => 0x6987,
            Status::SmDataIncorrect => 0x6988,
            Status::WrongData => 0x6A80,
            Status::FunctionNotSupported => 0x6A81,
            Status::FileNotFound => 0x6A82,
            Status::RecordNotFound => 0x6A83,
            Status::NotEnoughMemory => 0x6A84,
            Status::LcInconsistentWithTlv => 0x6A85,
            Status::WrongP1P2 => 0x6A86,
            Status::ReferencedDataNotFound => 0x6A88,
            Status::WrongOffset => 0x6B00,
            Status::WrongLe(n) => 0x6C00 | n as u16,
            Status::InstructionNotSupported => 0x6D00,
            Status::ClassNotSupported => 0x6E00,
            Status::NoPreciseDiagnosis => 0x6F00,
            Status::ApplicationBlocked => 0x9303,
            Status::Proprietary(sw) => sw,
        }
    }

    /// Decodes a status word; anything not named above becomes [`Status::Proprietary`].
    pub const fn from_u16(sw: u16) -> Status {
        let low = (sw & 0xFF) as u8;
        match sw & 0xFF00 {
            0x6100 => return Status::BytesAvailable(low),
            0x6C00 => return Status::WrongLe(low),
            _ => {}
        }
        if sw & 0xFFF0 == 0x63C0 {
            return Status::RemainingTries(low & 0x0F);
        }
        match sw {
            0x9000 => Status::Success,
            0x6283 => Status::SelectedFileBlocked,
            0x6300 => Status::AuthenticationFailed,
            0x6581 => Status::MemoryFailure,
            0x6700 => Status::WrongLength,
            0x6901 => Status::InvalidState,
            0x6981 => Status::IncompatibleFileStructure,
            0x6982 => Status::SecurityStatusNotSatisfied,
            0x6983 => Status::AuthMethodBlocked,
            0x6984 => Status::ReferencedDataInvalid,
            0x6985 => Status::ConditionsNotSatisfied,
            0x6986 => Status::NoCurrentEf,
            0x6987 => Status::SmDataMissing,
            0x6988 => Status::SmDataIncorrect,
            0x6A80 => Status::WrongData,
            0x6A81 => Status::FunctionNotSupported,
            0x6A82 => Status::FileNotFound,
            0x6A83 => Status::RecordNotFound,
            0x6A84 => Status::NotEnoughMemory,
            0x6A85 => Status::LcInconsistentWithTlv,
            0x6A86 => Status::WrongP1P2,
            0x6A88 => Status::ReferencedDataNotFound,
            0x6B00 => Status::WrongOffset,
            0x6D00 => Status::InstructionNotSupported,
            0x6E00 => Status::ClassNotSupported,
            0x6F00 => Status::NoPreciseDiagnosis,
            0x9303 => Status::ApplicationBlocked,
            other => Status::Proprietary(other),
        }
    }

    /// SW1 and SW2 as bytes.
    pub const fn to_bytes(self) -> [u8; 2] {
        self.to_u16().to_be_bytes()
    }

    /// True for 9000 and 61xx: the command completed (61xx only says data is waiting).
    pub const fn is_success(self) -> bool {
        matches!(self, Status::Success | Status::BytesAvailable(_))
    }

    /// A short English explanation, for traces.
    pub const fn meaning(self) -> &'static str {
        match self {
            Status::Success => "normal processing",
            Status::BytesAvailable(_) => "response bytes available (GET RESPONSE)",
            Status::SelectedFileBlocked => "selected application blocked",
            Status::AuthenticationFailed => "authentication failed",
            Status::RemainingTries(_) => "verification failed, tries left in low nibble",
            Status::MemoryFailure => "memory failure",
            Status::WrongLength => "wrong length (Lc/Le)",
            Status::InvalidState => "command not accepted in this state",
            Status::IncompatibleFileStructure => "command incompatible with file structure",
            Status::SecurityStatusNotSatisfied => "security status not satisfied",
            Status::AuthMethodBlocked => "authentication method blocked",
            Status::ReferencedDataInvalid => "referenced data invalid (e.g. no challenge)",
            Status::ConditionsNotSatisfied => "conditions of use not satisfied",
            Status::NoCurrentEf => "no current EF",
            Status::SmDataMissing => "secure messaging data missing",
            Status::SmDataIncorrect => "secure messaging data incorrect (MAC)",
            Status::WrongData => "incorrect data field",
            Status::FunctionNotSupported => "function not supported / card blocked",
            Status::FileNotFound => "file or application not found",
            Status::RecordNotFound => "record not found",
            Status::NotEnoughMemory => "not enough memory space",
            Status::LcInconsistentWithTlv => "Lc inconsistent with TLV structure",
            Status::WrongP1P2 => "incorrect P1/P2",
            Status::ReferencedDataNotFound => "referenced data not found",
            Status::WrongOffset => "offset beyond end of file",
            Status::WrongLe(_) => "wrong Le, exact length in SW2",
            Status::InstructionNotSupported => "instruction not supported",
            Status::ClassNotSupported => "class not supported",
            Status::NoPreciseDiagnosis => "no precise diagnosis / no data",
            Status::ApplicationBlocked => "application permanently blocked",
            Status::Proprietary(_) => "proprietary status",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X} ({})", self.to_u16(), self.meaning())
    }
}

impl core::error::Error for Status {}

impl From<u16> for Status {
    fn from(sw: u16) -> Self {
        Status::from_u16(sw)
    }
}

impl From<Status> for u16 {
    fn from(s: Status) -> Self {
        s.to_u16()
    }
}

/// Result of a command handler.
pub type Result<T> = core::result::Result<T, Status>;

/// Names the status words only one application answers, in that application's module:
/// a [`Status::Proprietary`] constant each (`NAME = sw, "meaning", "where the spec
/// says so";`), and `meaning(sw)` (a short English explanation for traces, `None` for
/// any other word).
#[macro_export]
macro_rules! application_status_words {
    ($($name:ident = $sw:literal, $meaning:literal, $clause:literal;)+) => {
        $(
            #[doc = concat!("`", stringify!($sw), "`: ", $meaning, " (", $clause, ").")]
            pub const $name: $crate::Status = $crate::Status::Proprietary($sw);
        )+

        /// A short English explanation of a status word this application answers, for
        /// traces; `None` for any other.
        pub fn meaning(sw: u16) -> Option<&'static str> {
            match sw {
                $($sw => Some($meaning),)+
                _ => None,
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sw_round_trips() {
        for sw in 0u16..=0xFFFF {
            let s = Status::from_u16(sw);
            assert_eq!(s.to_u16(), sw, "{sw:04X}");
        }
    }

    #[test]
    fn named_words() {
        assert_eq!(Status::RemainingTries(2).to_bytes(), [0x63, 0xC2]);
        assert_eq!(Status::WrongLe(0x12).to_bytes(), [0x6C, 0x12]);
        assert_eq!(Status::BytesAvailable(0x1E).to_u16(), 0x611E);
        assert_eq!(Status::from_u16(0x9303), Status::ApplicationBlocked);
        assert_eq!(Status::RemainingTries(99).to_u16(), 0x63CF);
    }
}
