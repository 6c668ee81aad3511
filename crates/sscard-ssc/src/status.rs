//! The status words only the medical purse answers (LD/T 32 P5 table 5 and the purse
//! command tables). The card OS names the status words every layer shares; these are
//! [`Status::Proprietary`] values named here, beside the application that answers them.

use sscard_core::Status;

/// 9302 — MAC invalid (P5 T53, CREDIT FOR LOAD / DEBIT FOR PURCHASE).
pub const MAC_INVALID: Status = Status::Proprietary(0x9302);
/// 9401 — insufficient funds (P5 T72).
pub const INSUFFICIENT_FUNDS: Status = Status::Proprietary(0x9401);
/// 9402 — transaction counter at its maximum (P5 T68).
pub const COUNTER_AT_MAXIMUM: Status = Status::Proprietary(0x9402);
/// 9403 — key index not supported (P5 T68).
pub const KEY_INDEX_NOT_SUPPORTED: Status = Status::Proprietary(0x9403);
/// 9406 — required MAC not available (P5 T64, GET TRANSACTION PROOF).
pub const MAC_NOT_AVAILABLE: Status = Status::Proprietary(0x9406);

/// A short English explanation of a status word these applications answer, for
/// traces; `None` for any other.
pub fn meaning(sw: u16) -> Option<&'static str> {
    Some(match sw {
        0x9302 => "MAC invalid",
        0x9401 => "insufficient funds",
        0x9402 => "transaction counter at maximum",
        0x9403 => "key index not supported",
        0x9406 => "required MAC not available",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_word_has_a_meaning_and_round_trips() {
        for s in [
            MAC_INVALID,
            INSUFFICIENT_FUNDS,
            COUNTER_AT_MAXIMUM,
            KEY_INDEX_NOT_SUPPORTED,
            MAC_NOT_AVAILABLE,
        ] {
            assert!(meaning(s.to_u16()).is_some());
            assert_eq!(Status::from_u16(s.to_u16()), s);
        }
        assert_eq!(meaning(0x9000), None);
    }
}
