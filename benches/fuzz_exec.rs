//! What one fuzz execution costs, in-process and without libFuzzer's instrumentation:
//! each target's check over its committed corpus, and for the whole-card targets the
//! parts of a run (a fresh card, the APDUs alone, the secrets oracle). Figures are
//! executions per second and ratios to `apdu_parse` measured in the same run.
//!
//! `cargo bench --bench fuzz_exec`

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use sscard_testkit::fuzz_checks::{self, Event, split_session};
use sscard_testkit::sample::{pboc_sample_card, sample_card};

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// Executions per second of `run` over `inputs`, cycling for about `budget`.
fn rate(inputs: &[Vec<u8>], budget: Duration, mut run: impl FnMut(&[u8])) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for input in inputs {
            run(black_box(input));
            n += 1;
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn apdus_only(data: &[u8], pboc: bool) {
    let mut out = vec![0u8; 65_538];
    let events = split_session(data);
    macro_rules! play {
        ($card:expr) => {{
            let mut card = $card;
            for e in &events {
                match e {
                    Event::Apdu(a) => {
                        black_box(card.process(a, &mut out));
                    }
                    Event::PowerCycle(i) => {
                        card.power_off();
                        let _ = card.power_on(*i);
                    }
                    Event::PowerOff => card.power_off(),
                }
            }
        }};
    }
    if pboc {
        play!(pboc_sample_card())
    } else {
        play!(sample_card())
    }
}

fn main() {
    let budget = Duration::from_millis(
        std::env::var("FUZZ_EXEC_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1500),
    );
    let parse = corpus("apdu_parse");
    let reference = rate(&parse, budget, |d| {
        let _ = fuzz_checks::apdu_parse(d);
    });
    println!("target / part                         execs/s   ratio to apdu_parse");
    let row = |name: &str, r: f64| println!("{name:<36} {r:>10.0}   {:.5}", r / reference);
    row("apdu_parse (check)", reference);
    row(
        "tlv (check)",
        rate(&corpus("tlv"), budget, |d| {
            let _ = fuzz_checks::tlv(d);
        }),
    );
    // FUZZ_EXEC_ONLY=card_session (or pboc_session) measures one whole-card target,
    // for a profiler.
    let only = std::env::var("FUZZ_EXEC_ONLY").ok();
    for (target, pboc) in [("card_session", false), ("pboc_session", true)] {
        if only.as_deref().is_some_and(|o| o != target) {
            continue;
        }
        let inputs = corpus(target);
        row(
            &format!("{target} (check)"),
            rate(&inputs, budget, |d| {
                let _ = if pboc {
                    fuzz_checks::pboc_session(d)
                } else {
                    fuzz_checks::card_session(d)
                };
            }),
        );
        row(
            &format!("  {target}: fresh card only"),
            rate(&inputs, budget, |_| {
                if pboc {
                    black_box(pboc_sample_card());
                } else {
                    black_box(sample_card());
                }
            }),
        );
        row(
            &format!("  {target}: card + APDUs, no checks"),
            rate(&inputs, budget, |d| apdus_only(d, pboc)),
        );
        row(
            &format!("  {target}: secrets oracle set-up"),
            rate(&inputs, budget, |_| {
                black_box(fuzz_checks::sample_oracle());
            }),
        );
    }
}
