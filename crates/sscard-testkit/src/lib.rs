//! sscard-testkit: what the tests, benches and fuzz targets of sscard share. Not a
//! stable API.
//!
//! * [`sample`]: the default gen-3 card (with and without PBOC), personalized once per
//!   process;
//! * [`tear`]: the power-loss harness — a scenario of APDUs torn at every NVM write,
//!   recovered, and checked for old-or-new data;
//! * [`fuzz_checks`]: the checks every whole-card fuzz target and the corpus replay run
//!   (a status word for every APDU, persistence equivalence, the secrets oracle);
//! * [`fuzz_ops`]: typed, structure-aware fuzz sessions (`arbitrary`);
//! * [`psam_fuzz`]: the fuzz check of the virtual PSAM (target `psam_session`);
//! * [`secret_oracle`]: no response holds a key, PIN or private key of the card;
//! * [`exchange`]: hex helpers, the T=0 loop a PC/SC terminal runs and the `.apdu`
//!   script files;
//! * [`indep`]: independent implementations of the card algorithms, for tests to
//!   compare the card with;
//! * [`snapshot`]: card memories reset to the sample image by copying back only what a
//!   run wrote (what makes the fuzz targets fast).
//!
//! Writing tests with it: `docs/suite-author.md` in the repository.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod exchange;
pub mod fuzz_checks;
pub mod fuzz_ops;
pub mod indep;
pub mod psam_fuzz;
pub mod sample;
pub mod secret_oracle;
pub mod snapshot;
pub mod tear;

/// A property the card broke, or a harness step that could not run: what the fuzz
/// checks, the tear harness and the secrets oracle report. The text names the rule and
/// the evidence (the APDU, the write, the bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation(pub String);

impl core::fmt::Display for Violation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Violation {}

impl From<String> for Violation {
    fn from(text: String) -> Self {
        Violation(text)
    }
}

impl From<&str> for Violation {
    fn from(text: &str) -> Self {
        Violation(text.to_string())
    }
}

/// A [`Violation`] from `format!` arguments.
macro_rules! violation {
    ($($arg:tt)*) => {
        $crate::Violation(format!($($arg)*))
    };
}
pub(crate) use violation;
