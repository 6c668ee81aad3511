//! `CommandView::parse` on any bytes, then the encode round trip
//! (see `sscard_testkit::fuzz_checks::apdu_parse`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(failure) = sscard_testkit::fuzz_checks::apdu_parse(data) {
        panic!("{failure}");
    }
});
