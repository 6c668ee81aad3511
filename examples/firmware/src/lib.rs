//! The boot logic of the example firmware, on any NOR flash and RNG: what a chip's reset
//! handler does before it answers its first APDU (`src/main.rs` is that handler).
//!
//! * [`ChipFlash`] stands for the chip's flash controller: an `embedded-storage`
//!   [`NorFlash`] over a memory area, with the rules of a real NOR flash (erase to FF,
//!   aligned programs, each word programmed once between erases);
//! * [`ChipRng`] stands for its true random number generator;
//! * [`boot`] loads the card from the flash, or on first boot writes the image the host
//!   step included, or personalizes a card on the device (`personalize_on_device`).
#![no_std]
#![forbid(unsafe_code)]

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashErrorKind, ReadNorFlash, check_erase, check_read, check_write,
};
use sscard_core::Card;
use sscard_core::crypto::Algorithm;
use sscard_core::flash::{FlashLayoutError, NorFlashNvm};
use sscard_core::fs::build::{Capacities, Personalizer};
use sscard_core::fs::layout::{Header, LoadError};
use sscard_core::nvm::{Nvm, NvmError};
use sscard_core::rng::CardRng;
use sscard_ssc::perso::InterfacePolicy;
use sscard_ssc::{Generation, SocialSecurity, SscOptions, SscPersonalization};

/// Erase sector of the chip's flash.
pub const SECTOR: usize = 1024;
/// Program granularity of the chip's flash.
pub const WORD: usize = 4;

/// The card as this firmware holds it.
pub type FirmwareCard<'f> = Card<NorFlashNvm<ChipFlash<'f>, SECTOR>, ChipRng, (), SocialSecurity>;

/// The chip's flash controller over its memory area.
pub struct ChipFlash<'f> {
    memory: &'f mut [u8],
}

impl<'f> ChipFlash<'f> {
    /// The flash in `memory` (a whole number of sectors; a fresh chip reads all FF).
    pub fn new(memory: &'f mut [u8]) -> Self {
        ChipFlash { memory }
    }
}

impl ErrorType for ChipFlash<'_> {
    type Error = NorFlashErrorKind;
}

impl ReadNorFlash for ChipFlash<'_> {
    const READ_SIZE: usize = 1;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        check_read(self, offset, bytes.len())?;
        let src = self.memory.get(span(offset, bytes.len()));
        bytes.copy_from_slice(src.ok_or(NorFlashErrorKind::OutOfBounds)?);
        Ok(())
    }
    fn capacity(&self) -> usize {
        self.memory.len()
    }
}

impl NorFlash for ChipFlash<'_> {
    const WRITE_SIZE: usize = WORD;
    const ERASE_SIZE: usize = SECTOR;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        check_erase(self, from, to)?;
        self.memory
            .get_mut(from as usize..to as usize)
            .ok_or(NorFlashErrorKind::OutOfBounds)?
            .fill(0xFF);
        Ok(())
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        check_write(self, offset, bytes.len())?;
        let dst = self.memory.get_mut(span(offset, bytes.len()));
        for (d, s) in dst
            .ok_or(NorFlashErrorKind::OutOfBounds)?
            .iter_mut()
            .zip(bytes)
        {
            *d &= *s; // programming clears bits only
        }
        Ok(())
    }
}

/// The bytes `len` long from flash offset `offset`.
fn span(offset: u32, len: usize) -> core::ops::Range<usize> {
    let at = offset as usize;
    at..at + len
}

/// The chip's random number generator (here xorshift64* from a seed the chip would
/// take from its TRNG).
pub struct ChipRng(u64);

impl ChipRng {
    /// Seeded with `seed` (0 is replaced: xorshift needs a non-zero state).
    pub fn new(seed: u64) -> Self {
        ChipRng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }
}

impl CardRng for ChipRng {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let word = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            for (d, s) in chunk.iter_mut().zip(word) {
                *d = s;
            }
        }
    }
}

/// How the card got onto the flash at this boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boot {
    /// It was there: a later boot.
    Loaded,
    /// First boot: the image the host step included was written.
    Installed,
    /// First boot without an image: personalized on the device.
    Personalized,
}

/// Why the firmware has no card to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootError {
    /// The flash cannot hold a card memory.
    Flash(FlashLayoutError),
    /// The included image does not fit the flash.
    ImageTooLarge,
    /// Writing the card failed.
    Nvm(NvmError),
    /// On-device personalization failed (the description is refused).
    Personalization,
    /// The card on the flash does not load.
    Load(LoadError),
}

impl From<NvmError> for BootError {
    fn from(e: NvmError) -> Self {
        BootError::Nvm(e)
    }
}

/// The ATR of the card personalized on the device (the default profile's).
pub const DEVICE_ATR: [u8; 17] = [
    0x3B, 0x6D, 0x00, 0x00, 0x00, 0x81, 0x53, 0x53, 0x43, 0x86, 0x60, 0x51, 0x99, 0x00, 0x00, 0x00,
    0x01,
];
/// The holder PIN of the card personalized on the device (cn: 123456).
pub const DEVICE_PIN: [u8; 3] = [0x12, 0x34, 0x56];

/// A minimal third-generation card, built on the device: the SSSE and its DFs with the
/// default layout, a PIN, no keys or data (an issuer would load those next, through the
/// card's own commands under secure messaging).
pub fn personalize_on_device<N: Nvm>(nvm: &mut N) -> Result<(), BootError> {
    let caps = Capacities {
        files: 96,
        secrets: 48,
    };
    let mut p =
        Personalizer::format(nvm, caps, &DEVICE_ATR).map_err(|_| BootError::Personalization)?;
    let perso = SscPersonalization {
        generation: Generation::Three,
        algorithm: Algorithm::Sm4,
        area_code: *b"110100",
        dir_sfi: 1,
        keys: &[],
        pin: &DEVICE_PIN,
        pin_try_limit: 3,
        key_try_limit: 3,
        records: &[],
        binaries: &[],
        extra_efs: &[],
        purse: None,
        pki: None,
        interfaces: InterfacePolicy::default(),
        layout: &[],
        fci: &[],
    };
    sscard_ssc::personalize(&mut p, &DEVICE_ATR, &perso).map_err(|_| BootError::Personalization)?;
    p.finish().map_err(|_| BootError::Personalization)?;
    sscard_ssc::options::store(
        nvm,
        &sscard_core::CosOptions::default(),
        &SscOptions::default(),
    )?;
    Ok(())
}

/// Brings the card up from `flash`: loads it, or on first boot (no card on the flash)
/// installs `included` (the host step's image; empty for none) or personalizes one.
pub fn boot<'f>(
    flash: ChipFlash<'f>,
    included: &[u8],
    rng: ChipRng,
) -> Result<(FirmwareCard<'f>, Boot), BootError> {
    let mut nvm = NorFlashNvm::new(flash).map_err(BootError::Flash)?;
    // Looked at through a borrow: loading takes the memory and would drop it on error.
    let how = match Header::load(&nvm) {
        Ok(_) => Boot::Loaded,
        Err(_) if included.is_empty() => {
            personalize_on_device(&mut nvm)?;
            Boot::Personalized
        }
        Err(_) => {
            if included.len() > nvm.len() {
                return Err(BootError::ImageTooLarge);
            }
            nvm.write(0, included)?;
            Boot::Installed
        }
    };
    let card =
        Card::load_stored(nvm, rng, (), SocialSecurity::from_stored).map_err(BootError::Load)?;
    Ok((card, how))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]
mod tests {
    extern crate std;
    use super::*;
    use sscard_core::Interface;
    use std::vec;
    use std::vec::Vec;

    const SELECT_SSSE: [u8; 20] = [
        0x00, 0xA4, 0x04, 0x00, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB,
        0xE1, 0xB1, 0xA3, 0xD5, 0xCF,
    ];

    fn send(card: &mut FirmwareCard<'_>, apdu: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; sscard_core::card::MAX_RESPONSE_CAPACITY];
        let n = card.process(apdu, &mut out);
        out.truncate(n);
        out
    }

    fn sw(r: &[u8]) -> u16 {
        u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]])
    }

    #[test]
    fn first_boot_personalizes_and_the_next_boot_loads_the_same_card() {
        let mut memory = vec![0xFFu8; 66 * 1024];
        let (mut card, how) = boot(ChipFlash::new(&mut memory), &[], ChipRng::new(1)).unwrap();
        assert_eq!(how, Boot::Personalized);
        card.power_on(Interface::Contact).unwrap();
        assert_eq!(sw(&send(&mut card, &SELECT_SSSE)) >> 8, 0x61);
        // A wrong PIN costs a try, and the flash keeps it.
        assert_eq!(
            sw(&send(&mut card, &[0, 0x20, 0, 0, 3, 0x99, 0x99, 0x99])),
            0x63C2
        );
        drop(card);
        let (mut card, how) = boot(ChipFlash::new(&mut memory), &[], ChipRng::new(2)).unwrap();
        assert_eq!(how, Boot::Loaded);
        card.power_on(Interface::Contact).unwrap();
        send(&mut card, &SELECT_SSSE);
        assert_eq!(sw(&send(&mut card, &[0, 0x20, 0, 0, 0])), 0x63C2);
        let mut pin = vec![0, 0x20, 0, 0, 3];
        pin.extend_from_slice(&DEVICE_PIN);
        assert_eq!(sw(&send(&mut card, &pin)), 0x9000);
    }

    #[test]
    fn first_boot_installs_the_host_steps_image_with_its_options() {
        let profile = sscard_host::profile::Profile::default_gen3();
        let image = profile.image().unwrap();
        let mut memory = vec![0xFFu8; image.len() + 2 * SECTOR];
        let (mut card, how) = boot(ChipFlash::new(&mut memory), &image, ChipRng::new(1)).unwrap();
        assert_eq!(how, Boot::Installed);
        assert_eq!(*card.options(), profile.options());
        card.power_on(Interface::Contact).unwrap();
        // EF05 record 1 (卡识别码) as personalized by the profile.
        send(&mut card, &SELECT_SSSE);
        let r = send(&mut card, &[0x00, 0xB2, 0x01, 0x2C, 0x00]);
        assert_eq!(sw(&r), 0x9000, "{r:02X?}");
        assert!(r.len() > 2);
        let too_big = vec![0u8; memory.len()];
        let mut small = vec![0xFFu8; 8 * SECTOR];
        assert_eq!(
            boot(ChipFlash::new(&mut small), &too_big, ChipRng::new(1)).err(),
            Some(BootError::ImageTooLarge)
        );
    }
}
