//! The whole `iReadCardBas` flow in-process (spec/ssc.md §7): SELECT SSSE (with its FCI
//! and T=0 GET RESPONSE), READ RECORD of the card id, INTERNAL AUTHENTICATE, GET
//! CHALLENGE + EXTERNAL AUTHENTICATE with RKSSSE, and the EF05/EF06 reads — 22 APDUs
//! as a PC/SC terminal sends them. Throughput in flows per second.
//!
//! Method (card side only): the APDUs are recorded once from the real terminal code.
//! The card's RNG is the deterministic `SplitMixRng`, so a twin generator predicts each
//! GET CHALLENGE value and the EXTERNAL AUTHENTICATE cryptogram is computed outside
//! the timed section, in batches (`iter_custom`); every flow's EXTERNAL AUTHENTICATE
//! must answer 9000. The card stays powered between flows (a terminal reading many
//! cards would power each one: the warm-reset cost is measured on its own, and
//! "flow + warm reset" times both together).
//!
//! Context variants: the same flow on a card that answers `Le = 00` with the record at
//! once (`CosOptions::le_zero = Lenient`, so no `6Cxx` + resend: 14 APDUs); the card
//! plus the terminal's own crypto (HSM diversification of IRK and RK per card, the
//! INTERNAL AUTHENTICATE check, the EXTERNAL AUTHENTICATE cryptogram); the host API
//! `read_card_bas` as shipped (trace strings, GBK decoding, allocation); and a fresh
//! card from the image (the other way to replay a flow with a known challenge).
//!
//! Criterion measures these one after another: for ratios robust to a busy machine use
//! `cargo bench --bench flow_profile -- --ratio` (interleaved, with an OpenSSL SM4 block
//! as the reference), for a repeatable count `scripts/bench-callgrind.sh`.

// Measurement code: a broken setup should stop the bench loudly.
#![allow(clippy::restriction)]

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sscard_core::nvm::RamNvm;
use sscard_core::options::LeZero;
use sscard_core::rng::{CardRng, SplitMixRng};
use sscard_core::{Card, CosOptions, Interface};
use sscard_host::link::InProcess;
use sscard_host::national::read_card_bas;
use sscard_host::profile::Profile;
use sscard_host::security::Hsm;
use sscard_host::terminal::Terminal;
use sscard_testkit::sample::sample_image;
use support::{Flow, check_replay};

/// Flows per untimed preparation batch.
const BATCH: u64 = 256;

/// Times `iters` card-side flows, preparing EXTERNAL AUTHENTICATE outside the clock.
fn card_side(flow: &Flow, iters: u64, with_reset: bool) -> Duration {
    let mut card = flow.card();
    let mut predictor = flow.predictor();
    let mut out = vec![0u8; 65_538];
    let mut prepared = Vec::with_capacity(BATCH as usize);
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = BATCH.min(iters - done);
        prepared.clear();
        for _ in 0..n {
            let mut challenge = [0u8; 8];
            predictor.fill(&mut challenge);
            prepared.push(flow.external_authenticate(&challenge));
        }
        let start = Instant::now();
        for ext in &prepared {
            if with_reset {
                black_box(card.reset().is_ok());
            }
            let sw = flow.run(&mut card, black_box(ext), &mut out);
            assert_eq!(sw, 0x9000, "EXTERNAL AUTHENTICATE: challenge not predicted");
        }
        total += start.elapsed();
        done += n;
    }
    total
}

fn flows(c: &mut Criterion) {
    let flow = Flow::record(0x5EED);
    check_replay(&flow, 100);
    eprintln!(
        "iReadCardBas as sent by the terminal ({} APDUs):",
        flow.apdus.len()
    );
    for (a, r) in flow.apdus.iter().zip(&flow.responses) {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02X}")).collect::<String>();
        eprintln!(
            "  {:<44} -> {} bytes, SW {}",
            hex(a),
            r.len() - 2,
            hex(&r[r.len() - 2..])
        );
    }

    let mut group = c.benchmark_group("iReadCardBas");
    group.throughput(Throughput::Elements(1));
    group.bench_function("card side (22 APDUs)", |b| {
        b.iter_custom(|iters| card_side(&flow, iters, false))
    });
    let lenient = Flow::record_with(
        0x5EED,
        CosOptions {
            le_zero: LeZero::Lenient,
            ..Profile::default_gen3().options()
        },
    );
    check_replay(&lenient, 100);
    let name = format!(
        "card side, Le=00 answered at once ({} APDUs)",
        lenient.apdus.len()
    );
    group.bench_function(name, |b| {
        b.iter_custom(|iters| card_side(&lenient, iters, false))
    });
    group.bench_function("card side + warm reset", |b| {
        b.iter_custom(|iters| card_side(&flow, iters, true))
    });
    group.bench_function("card + terminal crypto", |b| {
        let mut card = flow.card();
        let mut out = vec![0u8; 65_538];
        b.iter(|| {
            let sw = flow.run_with_terminal(&mut card, &mut out);
            assert_eq!(sw, 0x9000);
        })
    });
    group.bench_function("host API read_card_bas (Terminal, trace)", |b| {
        let keys = support::hsm_keys();
        let mut t = Terminal::new(InProcess::new(flow.card(), Interface::Contact).unwrap());
        let mut trng = SplitMixRng::new(1);
        b.iter(|| {
            t.trace.clear();
            black_box(read_card_bas(&mut t, &mut Hsm::from(&keys), &mut |r| trng.fill(r)).is_ok())
        })
    });
    group.finish();

    let mut group = c.benchmark_group("card reset");
    group.throughput(Throughput::Elements(1));
    group.bench_function("warm reset (power off + on)", |b| {
        let mut card = flow.card();
        b.iter(|| black_box(card.reset().is_ok()))
    });
    group.bench_function("fresh card from image (copy + load + power on)", |b| {
        let image = sample_image();
        let options = Profile::default_gen3().options();
        b.iter(|| {
            let mut card = Card::load(
                RamNvm::new(image.to_vec()),
                SplitMixRng::new(0x5EED),
                (),
                sscard_ssc::SocialSecurity::default(),
                options,
            )
            .expect("image loads");
            black_box(card.power_on(Interface::Contact).is_ok());
            card
        })
    });
    group.finish();
}

criterion_group!(benches, flows);
criterion_main!(benches);
