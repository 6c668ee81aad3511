//! The status words only the PBOC application answers (spec/pboc.md §2.16: the
//! extended application's 697x and the electronic cash load limit). The card OS names
//! the status words every layer shares; these are [`Status::Proprietary`] values named
//! here, beside the application that answers them.

use sscard_core::Status;

/// 6971 — extended application: record or transaction not matched.
pub const CAPP_MISMATCH: Status = Status::Proprietary(0x6971);
/// 6972 — extended application locked.
pub const CAPP_LOCKED: Status = Status::Proprietary(0x6972);
/// 6973 — extended application: record already exists.
pub const CAPP_RECORD_EXISTS: Status = Status::Proprietary(0x6973);
/// 6974 — extended application: balance or amount error.
pub const CAPP_AMOUNT: Status = Status::Proprietary(0x6974);
/// 6976 — electronic cash balance limit exceeded by a load (§2.11).
pub const EC_LIMIT_EXCEEDED: Status = Status::Proprietary(0x6976);

/// A short English explanation of a status word only PBOC answers, for traces; `None`
/// for any other.
pub fn meaning(sw: u16) -> Option<&'static str> {
    Some(match sw {
        0x6971 => "extended application: not matched",
        0x6972 => "extended application locked",
        0x6973 => "extended application record exists",
        0x6974 => "extended application amount error",
        0x6976 => "electronic cash balance limit exceeded",
        _ => return None,
    })
}
