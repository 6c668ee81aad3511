//! The status words only the medical purse answers (LD/T 32 P5 table 5 and the purse
//! command tables). The card OS names the status words every layer shares; these are
//! `Status::Proprietary` values named here, beside the application that answers them.

sscard_core::application_status_words! {
    MAC_INVALID = 0x9302, "MAC invalid", "P5 T53, CREDIT FOR LOAD / DEBIT FOR PURCHASE";
    INSUFFICIENT_FUNDS = 0x9401, "insufficient funds", "P5 T72";
    COUNTER_AT_MAXIMUM = 0x9402, "transaction counter at maximum", "P5 T68";
    KEY_INDEX_NOT_SUPPORTED = 0x9403, "key index not supported", "P5 T68";
    MAC_NOT_AVAILABLE = 0x9406, "required MAC not available", "P5 T64";
}

#[cfg(test)]
mod tests {
    use super::*;
    use sscard_core::Status;

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
