//! Ratios of the card's cryptography to OpenSSL's (and to the crate it wraps), measured
//! interleaved: in each round every implementation of an operation runs one short batch
//! (≈ 0.3 ms), in rotating order, so that a busy machine slows all of them alike; the
//! ratio is taken per round and the median over the rounds is reported with its
//! interquartile range. Same functions as `benches/crypto.rs` (criterion, absolute
//! times): `benches/support/crypto.rs`.
//!
//! `cargo bench --bench crypto_ratio [-- ROUNDS]` (default 301 rounds), or
//! `scripts/bench-crypto.sh`. Prints a Markdown table.
#![allow(clippy::restriction)]

#[path = "support/crypto.rs"]
mod ops;

use std::time::{Duration, Instant};

use ops::{CASES, CRATE, Case, OPENSSL, OURS, Ops};

/// Batch length aimed at per implementation and round.
const BATCH: Duration = Duration::from_micros(300);

fn time(o: &mut Ops, case: &Case, runs: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..runs {
        (case.run)(o);
    }
    start.elapsed().as_secs_f64() * 1e9 / f64::from(runs)
}

/// Runs per batch so that one batch lasts about [`BATCH`].
fn calibrate(o: &mut Ops, case: &Case) -> u32 {
    let mut runs = 1u32;
    loop {
        let start = Instant::now();
        for _ in 0..runs {
            (case.run)(o);
        }
        if start.elapsed() >= BATCH / 2 || runs >= 1 << 20 {
            return runs.saturating_mul(2).max(1);
        }
        runs *= 2;
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

fn summary(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (quantile(&v, 0.5), quantile(&v, 0.25), quantile(&v, 0.75))
}

fn ns(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1} µs", v / 1000.0)
    } else {
        format!("{v:.0} ns")
    }
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(301);
    let mut o = Ops::new();
    let mut groups: Vec<&str> = CASES.iter().map(|c| c.group).collect();
    groups.dedup();

    println!(
        "{rounds} interleaved rounds per operation; ratio = median of the per-round ratios [interquartile range]"
    );
    println!();
    println!(
        "| operation | sscard | RustCrypto | OpenSSL | sscard / OpenSSL | RustCrypto / OpenSSL | sscard / RustCrypto |"
    );
    println!("|---|---|---|---|---|---|---|");
    for group in groups {
        let cases: Vec<&Case> = CASES.iter().filter(|c| c.group == group).collect();
        let runs: Vec<u32> = cases.iter().map(|c| calibrate(&mut o, c)).collect();
        let mut per_op = vec![Vec::with_capacity(rounds); cases.len()];
        for round in 0..rounds {
            for k in 0..cases.len() {
                let i = (round + k) % cases.len();
                per_op[i].push(time(&mut o, cases[i], runs[i]));
            }
        }
        let at = |imp: &str| cases.iter().position(|c| c.implementation == imp);
        let ratio = |a: Option<usize>, b: Option<usize>| match (a, b) {
            (Some(a), Some(b)) => {
                let r: Vec<f64> = (0..rounds).map(|k| per_op[a][k] / per_op[b][k]).collect();
                let (m, lo, hi) = summary(r);
                format!("{m:.2} [{lo:.2}–{hi:.2}]")
            }
            _ => "–".into(),
        };
        let median = |i: Option<usize>| i.map_or("–".into(), |i| ns(summary(per_op[i].clone()).0));
        let (ours, krate, ossl) = (at(OURS), at(CRATE), at(OPENSSL));
        println!(
            "| {group} | {} | {} | {} | {} | {} | {} |",
            median(ours),
            median(krate),
            median(ossl),
            ratio(ours, ossl),
            ratio(krate, ossl),
            ratio(ours, krate)
        );
    }
}
