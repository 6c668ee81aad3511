//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/`) through the same
//! check the cargo-fuzz target runs (`sscard::fuzz_checks`), so the checks run on every
//! `cargo test` even where libFuzzer cannot be built. A crash found by fuzzing becomes a
//! regression test by copying its input into the target's corpus directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use sscard::fuzz_checks;

/// Runs `check` on every file of the target's corpus; fails with all failures listed.
fn replay(target: &str, check: fn(&[u8]) -> Result<(), String>) {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "fuzz", "corpus", target]
        .iter()
        .collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    // An emptied or moved corpus must not pass silently.
    assert!(
        files.len() >= 10,
        "{}: only {} corpus files",
        dir.display(),
        files.len()
    );
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let input = std::fs::read(path).unwrap();
            check(&input)
                .err()
                .map(|e| format!("{}: {e}", path.display()))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn apdu_parse_corpus() {
    replay("apdu_parse", fuzz_checks::apdu_parse);
}

#[test]
fn tlv_corpus() {
    replay("tlv", fuzz_checks::tlv);
}

#[test]
fn card_session_corpus() {
    replay("card_session", fuzz_checks::card_session);
}

#[test]
fn pboc_session_corpus() {
    replay("pboc_session", fuzz_checks::pboc_session);
}

#[test]
fn tear_session_corpus() {
    replay("tear_session", fuzz_checks::tear_session);
}
