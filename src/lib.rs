//! sscard: emulator of China's third-generation social security card (社会保障卡).
//!
//! The card OS is `sscard-core` (no_std). This crate is the std facade: personalization
//! profiles (TOML), the in-process terminal used by the demo, and the `sscard` CLI.

pub mod demo;
pub mod image;
#[cfg(feature = "pcsc")]
pub mod pcsc_target;
pub mod profile;
pub mod script;
pub mod terminal;
pub mod trace;
pub mod virtual_card;
