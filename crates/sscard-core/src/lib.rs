//! sscard-core: the card operating system of the sscard emulator.
//!
//! `no_std`, no heap, no `unsafe`. Layers, bottom up: [`nvm`] (persistent memory with
//! atomic transactions), [`apdu`] and [`tlv`] (codecs that never read past their input),
//! [`fs`] (the ISO 7816-4 file system of LD/T 32 Part 3), [`card`] (the APDU processor:
//! power, transient state, dispatch, T=0), and the two traits through which it hosts
//! applications it does not know: [`Applet`] (selected by AID, behind a firewall: PBOC)
//! and [`DfApplication`] (bound to DFs of the file system: the social-security
//! applications of `sscard-ssc`). Every command handler returns `Result<_, Status>`:
//! the status word is the error type.
//!
//! Embedding it: `docs/embedder.md` in the repository.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod apdu;
pub mod atr;
pub mod auth;
pub mod card;
pub mod crypto;
#[cfg(feature = "embedded-storage")]
pub mod flash;
pub mod fs;
pub mod nvm;
pub mod options;
pub mod rng;
pub mod status;
pub mod tlv;

pub use card::Card;
pub use card::applet::AppletCall;
pub use card::applet::{Applet, AppletContext, Applets, Interface};
pub use card::call::Call;
pub use card::df_application::DfApplication;
pub use card::df_application::DfCall;
pub use options::CosOptions;
pub use status::Status;
