//! A whole card session: the input is split into length-prefixed APDUs and power events
//! and played against a personalized card, which must always answer while powered
//! (see `sscard_testkit::fuzz_checks::card_session` for the input format).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(failure) = sscard_testkit::fuzz_checks::card_session(data) {
        panic!("{failure}");
    }
});
