//! The status words only the PSAM answers (LD/T 32 P9 T29, T31). The card OS names the
//! status words every layer shares; these are `Status::Proprietary` values.

sscard_core::application_status_words! {
    MAC_INVALID = 0x9302, "MAC invalid", "P9 T31, CREDIT SAM FOR PURCHASE";
}
