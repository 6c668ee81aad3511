//! What one fuzz execution costs, in-process and without libFuzzer's instrumentation:
//! each target's check over its committed corpus, and for the byte-level whole-card
//! targets the parts of a run (a fresh card reset from the snapshot, the card's work on
//! the APDUs without any check). Figures are executions per second and ratios to
//! `apdu_parse` measured in the same run. Under libFuzzer: `scripts/fuzz-speed.sh`.
//!
//! `cargo bench --bench fuzz_exec`

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use sscard_pboc::PbocApplet;
use sscard_testkit::fuzz_checks::{self, Event, on_snapshot_card, session_events};
use sscard_testkit::fuzz_ops;

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

/// A fuzz target's check.
type Check = fn(&[u8]) -> Result<(), sscard_testkit::Violation>;

/// The card's own work on `data`: its APDUs and power events, no check.
fn apdus_only(data: &[u8], pboc: bool) {
    let mut out = vec![0u8; 65_538];
    macro_rules! play {
        ($card:expr) => {{
            for e in session_events(data) {
                match e {
                    Event::Apdu(a) => {
                        black_box($card.process(a, &mut out));
                    }
                    Event::PowerCycle(i) => {
                        $card.power_off();
                        let _ = $card.power_on(i);
                    }
                    Event::PowerOff => $card.power_off(),
                }
            }
        }};
    }
    if pboc {
        on_snapshot_card((PbocApplet::new(),), |card| play!(card))
    } else {
        on_snapshot_card((), |card| play!(card))
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
    // FUZZ_EXEC_ONLY=<target> measures one target (and its parts), for a profiler.
    let only = std::env::var("FUZZ_EXEC_ONLY").ok();
    let targets: [(&str, Check); 5] = [
        ("tlv", fuzz_checks::tlv),
        ("card_session", fuzz_checks::card_session),
        ("pboc_session", fuzz_checks::pboc_session),
        ("tear_session", fuzz_checks::tear_session),
        ("ops_session", fuzz_ops::ops_session),
    ];
    for (target, check) in targets {
        if only.as_deref().is_some_and(|o| o != target) {
            continue;
        }
        let inputs = corpus(target);
        row(
            &format!("{target} (check)"),
            rate(&inputs, budget, |d| {
                let _ = check(d);
            }),
        );
        let pboc = match target {
            "card_session" => false,
            "pboc_session" => true,
            _ => continue,
        };
        row(
            &format!("  {target}: fresh card only"),
            rate(&inputs, budget, |_| {
                if pboc {
                    on_snapshot_card((PbocApplet::new(),), |card| black_box(card.is_powered()));
                } else {
                    on_snapshot_card((), |card| black_box(card.is_powered()));
                }
            }),
        );
        row(
            &format!("  {target}: card + APDUs, no checks"),
            rate(&inputs, budget, |d| apdus_only(d, pboc)),
        );
    }
}
