//! A typed card session: the input decodes (`arbitrary`) to terminal operations that the
//! harness sends with the right challenges and cryptograms, so the fuzzer reaches the
//! authenticated, purse, PKI and PBOC states (see `sscard_testkit::fuzz_ops`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(failure) = sscard_testkit::fuzz_ops::ops_session(data) {
        panic!("{failure}");
    }
});
