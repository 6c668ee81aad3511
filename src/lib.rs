//! sscard: emulator of China's third-generation social security card (社会保障卡).
//!
//! The card OS is `sscard-core` (no_std). This crate is the std facade: personalization
//! profiles (TOML), the in-process terminal used by the demo, and the `sscard` CLI.

pub mod demo;
pub mod image;
pub mod profile;
pub mod terminal;
pub mod trace;
