//! A card session against the gen-3 card carrying the PBOC applet: the input is split
//! into length-prefixed APDUs and power events (see `sscard_testkit::fuzz_checks::split_session`);
//! the card must always answer while powered. Under cfg(fuzzing) ARPC and script MACs
//! pass, so the fuzzer reaches GENERATE AC 2 and the issuer scripts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(failure) = sscard_testkit::fuzz_checks::pboc_session(data) {
        panic!("{failure}");
    }
});
