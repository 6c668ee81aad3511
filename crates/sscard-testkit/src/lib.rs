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
//! * [`secret_oracle`]: no response holds a key, PIN or private key of the card;
//! * [`snapshot`]: card memories reset to the sample image by copying back only what a
//!   run wrote (what makes the fuzz targets fast).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod fuzz_checks;
pub mod fuzz_ops;
pub mod sample;
pub mod secret_oracle;
pub mod snapshot;
pub mod tear;
