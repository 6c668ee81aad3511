//! Many virtual cards in one process: memory per card and aggregate in-process APDUs per
//! second, for 1, 100 and 10 000 default gen-3 cards (`cargo bench --bench scale`, or
//! `cargo bench --bench scale -- 1,100,10000 1,2` for the card counts and thread counts).
//!
//! * Memory: each card count is built in a fresh child process (this binary again), which
//!   reports its resident set (`VmRSS`) before and after building the cards; the delta
//!   over N is the measured cost of a card, printed next to the computed size of its
//!   state (`size_of` the `Card` plus its NVM image, all of which is written, hence
//!   resident).
//! * Throughput: the cards are split between threads, each thread driving its share round
//!   robin with SELECT SSSE (`P2 = 0C`, no FCI) + READ RECORD 1 of EF05 (exact Le), the
//!   pair of `benches/select_read_record.rs`. Every configuration runs in short slices
//!   interleaved with the others, and is reported as a ratio to one card on one thread
//!   measured in the same rounds (median over the rounds). A control — an arithmetic
//!   loop on 1 and 2 threads — shows how much of the two cores the process actually got
//!   (other jobs share the machine).
#![allow(clippy::restriction)]

mod support;

use sscard_ssc::SscCard;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sscard_core::nvm::RamNvm;
use sscard_core::rng::SplitMixRng;
use sscard_testkit::sample::{SSSE_NAME, sample_image};
use support::{BenchCard, card};

/// One slice of a throughput measurement.
const SLICE: Duration = Duration::from_millis(150);
/// Interleaved rounds.
const ROUNDS: usize = 7;

fn select() -> Vec<u8> {
    [
        &[0x00, 0xA4, 0x04, 0x0C, SSSE_NAME.len() as u8][..],
        SSSE_NAME,
    ]
    .concat()
}
/// READ RECORD 1 of SFI 5 (EF05, 卡识别码, 18 bytes).
const READ: [u8; 5] = [0x00, 0xB2, 0x01, 0x2C, 0x12];

fn cards(n: usize) -> Vec<BenchCard> {
    (0..n).map(|i| card(i as u64)).collect()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Child: build `n` cards, print the RSS before and after (KiB).
fn child(n: usize) {
    let _ = sample_image(); // the shared image, personalized once, is not a card's cost
    let _warm = cards(1);
    let before = rss_kib();
    let cards = cards(n);
    let after = rss_kib();
    assert_eq!(cards.len(), n);
    println!("{before} {after}");
}

/// Drives `cards` round robin until `stop`; returns the APDUs sent.
fn drive(cards: &mut [BenchCard], stop: &AtomicBool) -> u64 {
    let select = select();
    let mut out = [0u8; 258];
    let mut apdus = 0u64;
    while !stop.load(Ordering::Relaxed) {
        for card in cards.iter_mut() {
            card.process(&select, &mut out);
            let n = card.process(&READ, &mut out);
            debug_assert_eq!(&out[n - 2..n], &[0x90, 0x00]);
            apdus += 2;
        }
    }
    apdus
}

/// APDUs per second over one slice, `cards` split between `threads`.
fn slice(cards: &mut [BenchCard], threads: usize) -> f64 {
    let stop = AtomicBool::new(false);
    let per = cards.len().div_ceil(threads);
    let start = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = cards
            .chunks_mut(per)
            .map(|share| s.spawn(|| drive(share, &stop)))
            .collect();
        std::thread::sleep(SLICE);
        stop.store(true, Ordering::Relaxed);
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    total as f64 / start.elapsed().as_secs_f64()
}

/// The control: a pure arithmetic loop (no memory) per thread, operations per second.
/// Its 2-thread / 1-thread ratio is the parallelism the machine gives this process at
/// the time (other jobs share the cores).
fn control(threads: usize) -> f64 {
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|i| {
                let stop = &stop;
                s.spawn(move || {
                    let mut rng = SplitMixRng::new(i as u64);
                    let mut ops = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..1000 {
                            std::hint::black_box(rng.next_u64());
                        }
                        ops += 1000;
                    }
                    ops
                })
            })
            .collect();
        std::thread::sleep(SLICE);
        stop.store(true, Ordering::Relaxed);
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    total as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn list(arg: Option<&String>, default: &[usize]) -> Vec<usize> {
    arg.map(|a| a.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("--child") {
        child(args[1].parse().unwrap());
        return;
    }
    let counts = list(args.first(), &[1, 100, 10_000]);
    let threads = list(args.get(1), &[1, 2]);

    // Check the APDU pair once.
    let mut one = cards(1);
    let mut out = [0u8; 258];
    let n = one[0].process(&select(), &mut out);
    assert_eq!(&out[..n], &[0x90, 0x00], "SELECT SSSE");
    let n = one[0].process(&READ, &mut out);
    assert_eq!((n, &out[n - 2..n]), (20, &[0x90, 0x00][..]), "READ RECORD");

    let image = sample_image().len();
    let state = std::mem::size_of::<BenchCard>();
    let card_ram = std::mem::size_of::<SscCard<RamNvm<&mut [u8]>, SplitMixRng>>();
    println!(
        "computed per card: Card {state} bytes (with a borrowed NVM: {card_ram}) + NVM image \
         {image} bytes = {} bytes",
        state + image
    );
    println!();
    println!("| cards | RSS delta | measured per card | computed per card |");
    println!("|---|---|---|---|");
    let exe = std::env::current_exe().unwrap();
    for &n in &counts {
        let out = Command::new(&exe)
            .args(["--child", &n.to_string()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let kib: Vec<u64> = text
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        let delta = (kib[1] - kib[0]) * 1024;
        println!(
            "| {n} | {:.1} MiB | {:.1} KiB | {:.1} KiB |",
            delta as f64 / 1048576.0,
            delta as f64 / n as f64 / 1024.0,
            (state + image) as f64 / 1024.0
        );
    }

    println!();
    let max = counts.iter().copied().max().unwrap_or(1);
    let mut all = cards(max);
    let mut reference = cards(1);
    let configs: Vec<(usize, usize)> = counts
        .iter()
        .flat_map(|&n| threads.iter().map(move |&t| (n, t)))
        .collect();
    let mut rates = vec![Vec::new(); configs.len()];
    let mut ratios = vec![Vec::new(); configs.len()];
    let mut parallelism = Vec::new();
    for _ in 0..ROUNDS {
        let single = control(1);
        parallelism.push(control(2) / single);
        let base = slice(&mut reference, 1);
        for (i, &(n, t)) in configs.iter().enumerate() {
            let r = slice(&mut all[..n], t.min(n));
            rates[i].push(r);
            ratios[i].push(r / base);
        }
    }
    println!(
        "{ROUNDS} interleaved rounds of {} ms slices; reference: 1 card on 1 thread, same rounds",
        SLICE.as_millis()
    );
    println!(
        "control (arithmetic loop, no memory): 2 threads / 1 thread = {:.2} (the cores this \
         process got)",
        median(parallelism)
    );
    println!();
    println!("| cards | threads | APDUs/s (median) | ratio to 1 card, 1 thread |");
    println!("|---|---|---|---|");
    for (i, &(n, t)) in configs.iter().enumerate() {
        println!(
            "| {n} | {t} | {:.0} | {:.2} |",
            median(rates[i].clone()),
            median(ratios[i].clone())
        );
    }
}
