//! A firmware-like image of the card for measuring its flash and RAM footprint on a
//! Cortex-M4F (`thumbv7em-none-eabihf`): it loads a [`Card`] from a RAM NVM and answers
//! APDUs forever. The APDUs, their lengths, the interface and the options come through
//! [`black_box`], so the compiler must keep every path a real terminal could reach.
//! It is linked, never run: `_start` stands for the reset handler and the NVM buffer
//! for the chip's EEPROM/flash.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::mem::size_of;
use core::panic::PanicInfo;

use sscard_core::nvm::RamNvm;
use sscard_core::rng::CardRng;
use sscard_core::{Card, CosOptions, Interface};

/// The applets linked in: none for core + SSC, the PBOC applet with `--features pboc`.
#[cfg(not(feature = "pboc"))]
type Applets = ();
#[cfg(feature = "pboc")]
type Applets = (sscard_pboc::PbocApplet,);

/// The card as a chip would hold it: NVM borrowed from a fixed memory area.
type FirmwareCard<'n> = Card<RamNvm<&'n mut [u8]>, Trng, Applets, sscard_ssc::SocialSecurity>;

/// NVM size: the default gen-3 profile's.
const NVM_LEN: usize = 64 * 1024;

/// Stands for the chip's true random number generator.
struct Trng;

impl CardRng for Trng {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = black_box(0);
        }
    }
}

/// The RAM one card takes (its transient state and commit buffer), as a symbol whose
/// size the script reads (`nm -S`). It sits in a section of its own, which the flash
/// count leaves out (a real firmware keeps the card in `.bss` or on the stack).
#[used]
#[unsafe(no_mangle)]
#[unsafe(link_section = ".sscard_probe")]
static SSCARD_CARD_RAM: [u8; size_of::<FirmwareCard<'static>>()] =
    [0; size_of::<FirmwareCard<'static>>()];

/// The applets, built where the optimizer cannot see them.
#[inline(never)]
fn applets() -> Applets {
    Applets::default()
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    loop {
        black_box(());
    }
}

/// The reset handler.
// Without PBOC the applets are `()`.
#[allow(clippy::unit_arg)]
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let mut nvm = [0u8; NVM_LEN];
    black_box(&mut nvm);
    let options: CosOptions = black_box(CosOptions::default());
    let Ok(mut card) = Card::load(
        RamNvm::new(&mut nvm[..]),
        Trng,
        applets(),
        sscard_ssc::SocialSecurity::default(),
        options,
    ) else {
        loop {
            black_box(());
        }
    };
    let mut apdu = [0u8; 261];
    let mut response = [0u8; 258];
    loop {
        match black_box(0u8) {
            0 => {
                let _ = black_box(card.power_on(black_box(Interface::Contact)).is_ok());
            }
            1 => card.power_off(),
            2 => {
                let _ = black_box(card.reset().is_ok());
            }
            _ => {
                black_box(&mut apdu);
                let len = black_box(apdu.len());
                let n = card.process(apdu.get(..len).unwrap_or(&[]), &mut response);
                black_box(response.get(..n));
            }
        }
    }
}
