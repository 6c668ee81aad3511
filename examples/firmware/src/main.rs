//! The example firmware's reset handler for a Cortex-M4F (thumbv7em-none-eabihf): boot
//! the card from the chip's flash (installing the host step's image, or personalizing
//! on the device, on first boot), then answer APDUs forever. Built in CI, never run here:
//! the flash is a memory area on the stack standing for the chip's, and the APDUs come
//! through `black_box` standing for the contact interface's UART.
#![no_std]
#![no_main]
// No `forbid(unsafe_code)` here: the reset handler must be `#[unsafe(no_mangle)]`.

use core::hint::black_box;
use core::panic::PanicInfo;

use sscard_core::Interface;
use sscard_firmware_example::{ChipFlash, ChipRng, SECTOR, boot};

/// The host step's image (`sscard image export-nvm`, through SSCARD_FIRMWARE_NVM at build
/// time); empty when the build had none.
static INCLUDED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/card.nvm"));

/// The card's flash: 64 KiB of card memory and the adapter's two spare sectors.
const FLASH_LEN: usize = 64 * 1024 + 2 * SECTOR;

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    loop {
        black_box(());
    }
}

/// Reads the next command from the interface (a stand-in the optimizer cannot see through).
#[inline(never)]
fn next_command(buf: &mut [u8; 261]) -> usize {
    black_box(buf);
    black_box(5)
}

/// Sends a response on the interface.
#[inline(never)]
fn send(response: &[u8]) {
    black_box(response);
}

/// The reset handler.
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let mut memory = [0xFFu8; FLASH_LEN];
    let seed = black_box(0x5EED_u64);
    let Ok((mut card, _how)) = boot(ChipFlash::new(&mut memory), INCLUDED, ChipRng::new(seed))
    else {
        loop {
            black_box(());
        }
    };
    if card.power_on(Interface::Contact).is_ok() {
        send(card.atr());
    }
    let mut command = [0u8; 261];
    let mut response = [0u8; sscard_core::card::SHORT_RESPONSE_CAPACITY];
    loop {
        let len = next_command(&mut command);
        let n = card.process(command.get(..len).unwrap_or(&[]), &mut response);
        send(response.get(..n).unwrap_or(&[]));
    }
}
