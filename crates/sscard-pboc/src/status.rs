//! The status words only the PBOC application answers (spec/pboc.md §2.16: the
//! extended application's 697x and the electronic cash load limit). The card OS names
//! the status words every layer shares; these are `Status::Proprietary` values named
//! here, beside the application that answers them.

sscard_core::application_status_words! {
    CAPP_MISMATCH = 0x6971, "extended application: not matched", "spec/pboc.md §2.16";
    CAPP_LOCKED = 0x6972, "extended application locked", "spec/pboc.md §2.16";
    CAPP_RECORD_EXISTS = 0x6973, "extended application record exists", "spec/pboc.md §2.16";
    CAPP_AMOUNT = 0x6974, "extended application amount error", "spec/pboc.md §2.16";
    EC_LIMIT_EXCEEDED = 0x6976, "electronic cash balance limit exceeded", "§2.11";
}
