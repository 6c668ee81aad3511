//! sscard: an emulator of China's third-generation social security card.
//!
//! This package is the std facade over [`sscard_core`] (the `no_std` card operating
//! system) and home of the host-side verification tools:
//!
//! * [`tear`]: the power-loss harness — a scenario of APDUs torn at every NVM write,
//!   recovered, and checked for old-or-new data.
//!
//! The `sscard` binary (the command-line front end) lives next to this library.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use sscard_core;

pub mod tear;

#[doc(hidden)]
pub mod fuzz_checks;
#[doc(hidden)]
pub mod sample;
