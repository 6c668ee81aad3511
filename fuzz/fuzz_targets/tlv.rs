//! The BER-TLV, simple-TLV and DOL readers on any bytes: nothing returned lies outside
//! the input (see `sscard_testkit::fuzz_checks::tlv`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(failure) = sscard_testkit::fuzz_checks::tlv(data) {
        panic!("{failure}");
    }
});
