//! A whole PSAM session: the input is split into APDUs and power events as for
//! `card_session` and played against the default PSAM, which must always answer while
//! powered, give away no key and answer the same after a reload from its image (see
//! `sscard_testkit::psam_fuzz`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(failure) = sscard_testkit::psam_fuzz::psam_session(data) {
        panic!("{failure}");
    }
});
