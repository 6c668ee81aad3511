//! The card side of `iReadCardBas` in a plain loop, for instruction counting and
//! profiling (`scripts/bench-callgrind.sh`): `cargo bench --bench flow_profile -- N`
//! runs N flows (default 20 000) inside `timed_flows`, the one function to collect
//! (`valgrind --tool=callgrind --toggle-collect=flow_profile::timed_flows`), and prints
//! the wall time per flow for context. Same method as `benches/read_card_bas.rs`: the
//! EXTERNAL AUTHENTICATE cryptograms are computed before the loop from the predicted
//! challenges.

// Measurement code: a broken setup should stop the bench loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::hint::black_box;
use std::time::Instant;

use sscard_core::rng::CardRng;
use support::{BenchCard, Flow, check_replay};

#[inline(never)]
fn timed_flows(flow: &Flow, card: &mut BenchCard, prepared: &[[u8; 21]], out: &mut [u8]) -> u32 {
    let mut accepted = 0;
    for ext in prepared {
        accepted += u32::from(flow.run(card, black_box(ext), out) == 0x9000);
    }
    accepted
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let flow = Flow::record(0x5EED);
    check_replay(&flow, 10);
    let mut card = flow.card();
    let mut predictor = flow.predictor();
    let prepared: Vec<[u8; 21]> = (0..n)
        .map(|_| {
            let mut challenge = [0u8; 8];
            predictor.fill(&mut challenge);
            flow.external_authenticate(&challenge)
        })
        .collect();
    let mut out = vec![0u8; 65_538];
    let start = Instant::now();
    let accepted = timed_flows(&flow, &mut card, &prepared, &mut out);
    let elapsed = start.elapsed();
    assert_eq!(accepted as usize, n, "every EXTERNAL AUTHENTICATE accepted");
    println!(
        "{n} flows of {} APDUs: {:.3} µs/flow, {:.0} flows/s (wall clock, context only)",
        flow.apdus.len(),
        elapsed.as_secs_f64() * 1e6 / n.max(1) as f64,
        n as f64 / elapsed.as_secs_f64()
    );
}
