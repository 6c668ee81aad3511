//! sscard-core: the card operating system of the sscard emulator.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod apdu;
pub mod nvm;
pub mod status;
pub mod tlv;

pub use status::Status;
