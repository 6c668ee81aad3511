//! What the C ABI adds to an in-process APDU: `sscard_transmit` (handle lookup, card lock,
//! `catch_unwind`, copy into the caller's buffer) vs `VirtualCard::transmit` on the same
//! kind of card called directly from Rust, alternating blocks of 100 in one run; medians
//! of the per-block means.
//!
//! ```text
//! cargo bench -p sscard-ffi --bench abi_overhead [-- N]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use sscard_core::Interface;
use sscard_ffi::{SSCARD_MAX_RESPONSE, SSCARD_OK, SscardCard, sscard_card_new, sscard_power_on};
use sscard_host::profile::Profile;
use sscard_testkit::sample::ROUND_TRIP_WORKLOADS;
use sscard_vcard::VirtualCard;
use sscard_vcard::virtual_card::{HostRng, SscVirtualCard};
use std::hint::black_box;
use std::time::Instant;

const BLOCK: usize = 100;
const SELECT_SSSE: &[u8] = &[
    0x00, 0xA4, 0x04, 0x0C, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1,
    0xB1, 0xA3, 0xD5, 0xCF,
];

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let blocks = (n / BLOCK).max(1);
    let mut direct = SscVirtualCard::from_profile(
        &Profile::default_gen3(),
        HostRng::seeded(1),
        Interface::Contact,
    )
    .unwrap();
    direct.power_on();
    let mut card: *mut SscardCard = std::ptr::null_mut();
    // SAFETY: `card` is a valid out pointer; NULL profile = the default card.
    assert_eq!(
        unsafe { sscard_card_new(std::ptr::null(), 0, 0, &mut card) },
        SSCARD_OK
    );
    // SAFETY: NULL, 0, NULL: the ATR is not wanted.
    assert_eq!(
        unsafe { sscard_power_on(card, std::ptr::null_mut(), 0, std::ptr::null_mut()) },
        SSCARD_OK
    );
    let mut buffer = vec![0u8; SSCARD_MAX_RESPONSE];
    let mut response = Vec::with_capacity(SSCARD_MAX_RESPONSE);
    let abi = |apdu: &[u8], out: &mut [u8]| -> usize {
        let mut len = 0;
        // SAFETY: all buffers are valid for their lengths.
        let status = unsafe {
            sscard_ffi::sscard_transmit(
                card,
                apdu.as_ptr(),
                apdu.len(),
                out.as_mut_ptr(),
                out.len(),
                &mut len,
            )
        };
        assert_eq!(status, SSCARD_OK);
        len
    };
    let mut rust = |apdu: &[u8], out: &mut Vec<u8>| {
        out.clear();
        direct.transmit(apdu, out);
        out.len()
    };
    abi(SELECT_SSSE, &mut buffer);
    rust(SELECT_SSSE, &mut response);
    let workloads = ROUND_TRIP_WORKLOADS;
    println!(
        "{} APDUs per path per workload, blocks of {BLOCK}, alternating",
        blocks * BLOCK
    );
    println!(
        "{:<34} {:>12} {:>12} {:>10}",
        "workload", "Rust call", "C ABI", "ABI/Rust"
    );
    for (name, apdu) in workloads {
        let len = abi(apdu, &mut buffer);
        let want = buffer[..len].to_vec();
        assert_eq!(rust(apdu, &mut response), len);
        assert_eq!(response, want, "{name}");
        let (mut direct_ns, mut abi_ns) = (Vec::new(), Vec::new());
        for _ in 0..blocks {
            let t0 = Instant::now();
            for _ in 0..BLOCK {
                black_box(rust(black_box(apdu), &mut response));
            }
            let t1 = Instant::now();
            for _ in 0..BLOCK {
                black_box(abi(black_box(apdu), &mut buffer));
            }
            let t2 = Instant::now();
            direct_ns.push((t1 - t0).as_nanos() as f64 / BLOCK as f64);
            abi_ns.push((t2 - t1).as_nanos() as f64 / BLOCK as f64);
        }
        let (d, a) = (median(&mut direct_ns), median(&mut abi_ns));
        println!("{name:<34} {d:>9.1} ns {a:>9.1} ns {:>10.3}", a / d);
    }
    sscard_ffi::sscard_card_free(card);
}
