//! The functions of `benches/crypto.rs` for counting instructions with callgrind
//! (`scripts/bench-crypto.sh --count`). Without arguments: lists the cases as
//! `index <TAB> group <TAB> implementation <TAB> runs`. With `INDEX`: runs that case a
//! fixed number of times inside `measure`, the only function to collect
//! (`valgrind --tool=callgrind --toggle-collect=crypto_count::measure`): the count
//! divided by the runs is the case's instructions per operation. The
//! counts are repeatable whatever the machine is doing; they compare the card's wrapper
//! with the crate it wraps exactly (same compiler, same code underneath). Against
//! OpenSSL an instruction ratio is not a time ratio (instructions per cycle differ):
//! the wall-clock bench is the reference there.

#[path = "support/crypto.rs"]
mod ops;

use ops::{CASES, Case, Ops};

/// How many times a case runs: fewer for the slow SM2 operations.
fn runs(case: &Case) -> u32 {
    if case.group.starts_with("SM2") {
        20
    } else {
        1000
    }
}

#[inline(never)]
fn measure(o: &mut Ops, case: &Case) {
    for _ in 0..runs(case) {
        (case.run)(o);
    }
}

fn main() {
    let index: Option<usize> = std::env::args().skip(1).find_map(|a| a.parse().ok());
    match index.and_then(|i| CASES.get(i)) {
        Some(case) => {
            let mut o = Ops::new();
            measure(&mut o, case);
        }
        None => {
            for (i, case) in CASES.iter().enumerate() {
                println!(
                    "{i}\t{}\t{}\t{}",
                    case.group,
                    case.implementation,
                    runs(case)
                );
            }
        }
    }
}
