//! PC/SC client helpers for end-to-end tests against a real pcscd (cargo feature `pcsc`),
//! and the gate those tests share ([`require_e2e`]) with the messages they print ([`say`]).
//!
//! Building needs `libpcsclite-dev` and `pkg-config` (`scripts/pcscd.sh install`); running needs
//! pcscd with the vpcd driver (`scripts/pcscd.sh start`). Card presence is observed with
//! `SCardGetStatusChange` — never a fixed sleep: pcscd notices a new vpcd connection in
//! ~130–200 ms and a closed one in ~100 ms (`shared/spec/pcsc.md` §2).

use std::ffi::{CStr, CString};
use std::fmt;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use pcsc::{Context, ReaderState, State};

/// Name pcscd gives vpcd slot `slot`: `"Virtual PCD 00 00"`, `"Virtual PCD 00 01"`, … (vpcd's
/// `FRIENDLYNAME`, reader index `00`, slot number in hex).
#[must_use]
pub fn reader_name(slot: u8) -> CString {
    // A formatted string never contains NUL; the fallback is unreachable.
    CString::new(format!("Virtual PCD 00 {slot:02X}")).unwrap_or_default()
}

/// Wait until `reader` reports a card (`present = true`, returns its ATR) or reports it empty
/// (`present = false`, returns an empty vector), by polling `SCardGetStatusChange`.
///
/// # Errors
/// [`pcsc::Error::Timeout`] when `timeout` passes first; any other PC/SC error as is
/// (e.g. `UnknownReader` when pcscd has no such reader).
pub fn wait_for_card(
    ctx: &Context,
    reader: &CStr,
    present: bool,
    timeout: Duration,
) -> Result<Vec<u8>, pcsc::Error> {
    let deadline = Instant::now() + timeout;
    let mut states = [ReaderState::new(reader.to_owned(), State::UNAWARE)];
    loop {
        for rs in &states {
            let ev = rs.event_state();
            if present && ev.contains(State::PRESENT) && !ev.contains(State::MUTE) {
                return Ok(rs.atr().to_vec());
            }
            if !present && ev.contains(State::EMPTY) {
                return Ok(Vec::new());
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(pcsc::Error::Timeout);
        }
        for rs in &mut states {
            rs.sync_current_state();
        }
        match ctx.get_status_change(
            (deadline - now).min(Duration::from_millis(500)),
            &mut states,
        ) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Summary of round-trip samples (nearest-rank percentiles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundTripStats {
    /// Number of samples.
    pub n: usize,
    /// Fastest sample.
    pub min: Duration,
    /// 50th percentile.
    pub median: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest sample.
    pub max: Duration,
    /// Arithmetic mean.
    pub mean: Duration,
}

impl RoundTripStats {
    /// Statistics of `samples` (sorted in place); `None` if there are none.
    #[must_use]
    pub fn from_samples(samples: &mut [Duration]) -> Option<Self> {
        samples.sort_unstable();
        let n = samples.len();
        let rank = |p: usize| {
            let idx = (p * n).div_ceil(100).saturating_sub(1);
            samples.get(idx).copied()
        };
        let total: Duration = samples.iter().sum();
        Some(Self {
            n,
            min: *samples.first()?,
            median: rank(50)?,
            p90: rank(90)?,
            p99: rank(99)?,
            max: *samples.last()?,
            mean: total / u32::try_from(n).ok()?,
        })
    }
}

impl fmt::Display for RoundTripStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        write!(
            f,
            "n={} median={:.1} µs p90={:.1} µs p99={:.1} µs mean={:.1} µs min={:.1} µs max={:.1} µs",
            self.n,
            us(self.median),
            us(self.p90),
            us(self.p99),
            us(self.mean),
            us(self.min),
            us(self.max)
        )
    }
}

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

    #[test]
    fn names() {
        assert_eq!(reader_name(0).as_bytes(), b"Virtual PCD 00 00");
        assert_eq!(reader_name(1).as_bytes(), b"Virtual PCD 00 01");
    }

    #[test]
    fn stats() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        let s = RoundTripStats::from_samples(&mut samples);
        let s = s.unwrap_or_else(|| unreachable!());
        assert_eq!(s.median, Duration::from_micros(50));
        assert_eq!(s.p99, Duration::from_micros(99));
        assert_eq!(s.max, Duration::from_micros(100));
        assert!(RoundTripStats::from_samples(&mut []).is_none());
    }
}
