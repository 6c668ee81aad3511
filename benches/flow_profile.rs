//! The card side of `iReadCardBas` outside criterion. Same method as
//! `benches/read_card_bas.rs`: the EXTERNAL AUTHENTICATE cryptograms are computed before
//! the timed loop from the predicted challenges.
//!
//! * `cargo bench --bench flow_profile -- N` runs N flows (default 20 000) inside
//!   `timed_flows`, the one function to collect for instruction counting and profiling
//!   (`valgrind --tool=callgrind --toggle-collect=flow_profile::timed_flows`, see
//!   `scripts/bench-callgrind.sh`), and prints the wall time per flow for context.
//! * `cargo bench --bench flow_profile -- --ratio [ROUNDS]` measures interleaved short
//!   batches of: the flow, the flow on a card answering `Le = 00` at once (14 APDUs), a
//!   warm reset, and one OpenSSL SM4 block (EVP, key scheduled) — the machine-speed
//!   yardstick measured alongside. Prints medians over the rounds, flows per second
//!   against the 200 000 target, and each cost in OpenSSL SM4 blocks.

// Measurement code: a broken setup should stop the bench loudly.
#![allow(clippy::restriction)]

#[path = "support/crypto.rs"]
mod ops;
mod support;

use std::hint::black_box;
use std::time::Instant;

use sscard_core::CosOptions;
use sscard_core::options::LeZero;
use sscard_core::rng::{CardRng, SplitMixRng};
use support::{BenchCard, Flow, check_replay};

#[inline(never)]
fn timed_flows(flow: &Flow, card: &mut BenchCard, prepared: &[[u8; 21]], out: &mut [u8]) -> u32 {
    let mut accepted = 0;
    for ext in prepared {
        accepted += u32::from(flow.run(card, black_box(ext), out) == 0x9000);
    }
    accepted
}

/// A card replaying `flow`, with its challenge predictor.
struct Replay<'f> {
    flow: &'f Flow,
    card: BenchCard,
    predictor: SplitMixRng,
    out: Vec<u8>,
}

impl<'f> Replay<'f> {
    fn new(flow: &'f Flow) -> Self {
        Replay {
            flow,
            card: flow.card(),
            predictor: flow.predictor(),
            out: vec![0u8; 65_538],
        }
    }

    /// Nanoseconds per flow over `n` flows (cryptograms prepared first, untimed).
    fn batch(&mut self, n: usize) -> f64 {
        let prepared: Vec<[u8; 21]> = (0..n)
            .map(|_| {
                let mut challenge = [0u8; 8];
                self.predictor.fill(&mut challenge);
                self.flow.external_authenticate(&challenge)
            })
            .collect();
        let start = Instant::now();
        let accepted = timed_flows(self.flow, &mut self.card, &prepared, &mut self.out);
        let ns = start.elapsed().as_secs_f64() * 1e9 / n as f64;
        assert_eq!(accepted as usize, n, "every EXTERNAL AUTHENTICATE accepted");
        ns
    }
}

fn per_op(n: usize, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_secs_f64() * 1e9 / n as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn quartiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    (q(0.5), q(0.25), q(0.75))
}

/// Interleaved rounds: flows, lenient flows, warm resets, OpenSSL SM4 blocks.
fn ratio(rounds: usize) {
    let flow = Flow::record(0x5EED);
    let lenient = Flow::record_with(
        0x5EED,
        CosOptions {
            le_zero: LeZero::Lenient,
            ..sscard_host::profile::Profile::default_gen3().options()
        },
    );
    check_replay(&flow, 10);
    check_replay(&lenient, 10);
    let (mut a, mut b) = (Replay::new(&flow), Replay::new(&lenient));
    let mut reset_card = flow.card();
    let mut o = ops::Ops::new();
    let sm4 = ops::CASES
        .iter()
        .find(|c| c.group.starts_with("SM4 one block") && c.implementation == ops::OPENSSL)
        .expect("OpenSSL SM4 case");
    // About 0.5 ms per batch.
    let (nf, nr, nb) = (100, 400, 4000);
    let (mut fl, mut le, mut rs, mut bl) = (vec![], vec![], vec![], vec![]);
    let (mut fl_b, mut le_b, mut rs_b) = (vec![], vec![], vec![]);
    for _ in 0..rounds {
        let block = per_op(nb, || (sm4.run)(&mut o));
        let f = a.batch(nf);
        let l = b.batch(nf);
        let r = per_op(nr, || {
            black_box(reset_card.reset().is_ok());
        });
        bl.push(block);
        fl.push(f);
        le.push(l);
        rs.push(r);
        fl_b.push(f / block);
        le_b.push(l / block);
        rs_b.push(r / block);
    }
    let row = |name: &str, ns: Vec<f64>, blocks: Vec<f64>| {
        let t = median(ns);
        let (m, lo, hi) = quartiles(blocks);
        println!(
            "| {name} | {:.2} µs | {:.0} /s | {:.2} | {m:.1} [{lo:.1}–{hi:.1}] |",
            t / 1000.0,
            1e9 / t,
            1e9 / t / 200_000.0
        );
    };
    println!(
        "{rounds} interleaved rounds; reference: one OpenSSL SM4 block (EVP, key scheduled), same rounds: {:.0} ns median",
        median(bl.clone())
    );
    println!();
    println!(
        "| card side | time (median) | per second | / 200 000 target | OpenSSL SM4 blocks [IQR] |"
    );
    println!("|---|---|---|---|---|");
    row(
        &format!("iReadCardBas, {} APDUs", flow.apdus.len()),
        fl,
        fl_b,
    );
    row(
        &format!(
            "iReadCardBas, Le=00 answered at once, {} APDUs",
            lenient.apdus.len()
        ),
        le,
        le_b,
    );
    row("warm reset (power off + on)", rs, rs_b);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--ratio") {
        let rounds = args.iter().find_map(|a| a.parse().ok()).unwrap_or(201);
        ratio(rounds);
        return;
    }
    let n: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(20_000);
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
