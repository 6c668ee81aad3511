//! sscard: an emulator of China's third-generation social security card (社会保障卡).
//!
//! This package is the std facade over [`sscard_core`] (the `no_std` card operating
//! system):
//!
//! * [`profile`]: personalization profiles (TOML) → card images;
//! * [`terminal`]: an in-process terminal (T=0 handling, `iReadCardBas`);
//! * [`trace`]: readable APDU traces;
//! * [`demo`]: the main job;
//! * [`tear`]: the power-loss harness — a scenario of APDUs torn at every NVM write,
//!   recovered, and checked for old-or-new data.
//!
//! The `sscard` binary (the command-line front end) lives next to this library.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use sscard_core;
pub use sscard_ssc;

pub mod demo;
pub mod image;
pub mod image_lock;
#[cfg(feature = "pcsc")]
pub mod pcsc_target;
pub mod profile;
pub mod script;
pub mod tear;
pub mod terminal;
pub mod trace;
pub mod virtual_card;

#[doc(hidden)]
pub mod fuzz_checks;
#[doc(hidden)]
pub mod fuzz_ops;
#[doc(hidden)]
pub mod sample;
pub mod secret_oracle;
