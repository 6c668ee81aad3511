//! A card session with a power cut at a write the input picks: after recovery the card's
//! memory is old or new, never mixed, and the card answers (see
//! `sscard_testkit::fuzz_checks::tear_session` for the input format).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(failure) = sscard_testkit::fuzz_checks::tear_session(data) {
        panic!("{failure}");
    }
});
