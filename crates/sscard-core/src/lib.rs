//! sscard-core: the card operating system of the sscard emulator.
#![no_std]
#![forbid(unsafe_code)]

pub mod crypto;
pub mod rng;
