//! What the PC/SC end-to-end tests (the root package's `tests/e2e.rs`, `sscard-vcard`'s
//! `tests/pcsc_e2e.rs`) share: the gate that keeps them from passing unseen, and messages
//! that reach the terminal.

use std::io::Write;
use std::path::Path;

/// Fails the end-to-end test `test` unless `SSCARD_E2E=1`. The tests are `#[ignore]`d
/// (they need pcscd and vpcd): one that runs was asked for (`--include-ignored`), and
/// without the set-up it fails rather than passing unseen.
///
/// # Panics
/// Without `SSCARD_E2E=1`.
#[track_caller]
#[allow(clippy::panic)]
pub fn require_e2e(test: &str) {
    if std::env::var("SSCARD_E2E").as_deref() != Ok("1") {
        panic!(
            "{test}: needs pcscd + vsmartcard-vpcd (`bash scripts/pcscd.sh install`, then \
             `start`) and SSCARD_E2E=1"
        );
    }
}

/// Writes `msg` to stderr after the test binary's name (`e2e: …`). Not `eprintln!`:
/// libtest captures that; this reaches the terminal with or without `--nocapture`.
pub fn say(msg: &str) {
    let binary = std::env::current_exe().unwrap_or_default();
    let _ = writeln!(std::io::stderr(), "{}: {msg}", test_name(&binary));
}

/// The test target's name: its binary's without the hash cargo appends
/// (`deps/e2e-1d08e0899dc1feab` → `e2e`).
fn test_name(binary: &Path) -> &str {
    let stem = binary.file_stem().and_then(|s| s.to_str()).unwrap_or("e2e");
    stem.rsplit_once('-').map_or(stem, |(name, _hash)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_name_drops_cargo_s_hash() {
        assert_eq!(
            test_name(Path::new("target/debug/deps/pcsc_e2e-1d08e0899dc1feab")),
            "pcsc_e2e"
        );
        assert_eq!(test_name(Path::new("e2e")), "e2e");
    }
}
