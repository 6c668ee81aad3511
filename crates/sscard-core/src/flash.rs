//! A card memory on NOR flash (`embedded-storage`'s [`NorFlash`], cargo feature
//! `embedded-storage`) that keeps the tear contract of [`Nvm::write`], although a
//! flash must erase a whole sector before it can program any byte of it.
//!
//! The flash is split into data sectors, which hold the card's memory, and two spare
//! sectors after them: the *copy* sector and the *seal* sector. A write goes through
//! the sectors it touches in address order; for each one:
//!
//! 1. the new contents of the sector are built in RAM (old contents read, the data laid
//!    over them); a sector the write would not change is left alone;
//! 2. the copy sector is erased and programmed with the new contents;
//! 3. the seal sector is erased and programmed with a seal (mark, sector index, CRC-32
//!    of the copy, CRC-32 of the seal itself): the sector's commit point;
//! 4. the data sector is erased and programmed from RAM;
//! 5. the seal sector is erased.
//!
//! [`NorFlashNvm::new`] redoes steps 4–5 from the copy when it finds a valid seal (a cut
//! after the commit point; redoing is idempotent) and ignores anything else (a cut before
//! it: the data sector was not touched yet). So a power cut leaves every sector old or
//! new, and the sectors of one write new up to some address and old after it: nothing,
//! a prefix or all of the data, which is what the card's journal needs
//! ([`Store`](crate::nvm::Store)).
//!
//! Costs: three erases and two sector programs per sector a write changes; one sector
//! of RAM for the contents being built. The spare sectors are erased on every write and
//! wear first: this adapter does no wear levelling.

use crate::nvm::{Nvm, NvmError};
use core::cell::RefCell;
use crc::{CRC_32_ISO_HDLC, Crc};
use embedded_storage::nor_flash::NorFlash;

const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);
/// Bytes of a seal as programmed (the rest of the seal sector stays erased).
const SEAL_LEN: usize = 32;
/// The seal's first bytes.
const SEAL_MARK: [u8; 8] = *b"SSCSEAL1";
/// Bytes a read goes through at a time: reads are aligned to it, so any READ_SIZE that
/// divides it works.
const READ_WINDOW: usize = 32;

/// Why a flash cannot carry a card memory with this adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlashLayoutError {
    /// `SECTOR` is not the flash's erase size.
    SectorSize,
    /// The write or read size does not divide the seal (32 bytes) and the sector.
    AccessSize,
    /// Fewer than three sectors: one for data, two spares.
    TooSmall,
    /// Reading or finishing an interrupted write failed.
    Device,
}

impl core::fmt::Display for FlashLayoutError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            FlashLayoutError::SectorSize => "SECTOR differs from the flash's erase size",
            FlashLayoutError::AccessSize => {
                "the flash's read or write size does not divide 32 bytes and the sector"
            }
            FlashLayoutError::TooSmall => "the flash holds fewer than three sectors",
            FlashLayoutError::Device => "the flash failed while its last write was finished",
        })
    }
}

impl core::error::Error for FlashLayoutError {}

/// The card's memory on a NOR flash whose erase sector is `SECTOR` bytes.
pub struct NorFlashNvm<F: NorFlash, const SECTOR: usize> {
    // `Nvm::read` takes `&self`, a flash read `&mut self`: the cell lends the flash to
    // reads. Nothing holds the borrow across calls, so it is never refused in use.
    flash: RefCell<F>,
    data_len: usize,
    sector: [u8; SECTOR],
}

impl<F: NorFlash, const SECTOR: usize> NorFlashNvm<F, SECTOR> {
    /// Takes the flash, checks its geometry and finishes a write a power cut
    /// interrupted after its commit point. The card memory is every whole sector but the
    /// last two.
    pub fn new(flash: F) -> Result<Self, FlashLayoutError> {
        if F::ERASE_SIZE != SECTOR {
            return Err(FlashLayoutError::SectorSize);
        }
        let divides =
            |size: usize| size != 0 && SEAL_LEN.is_multiple_of(size) && SECTOR.is_multiple_of(size);
        if !divides(F::WRITE_SIZE) || !divides(F::READ_SIZE) || SECTOR < SEAL_LEN {
            return Err(FlashLayoutError::AccessSize);
        }
        let sectors = flash.capacity() / SECTOR;
        if sectors < 3 {
            return Err(FlashLayoutError::TooSmall);
        }
        let mut nvm = NorFlashNvm {
            flash: RefCell::new(flash),
            data_len: (sectors - 2) * SECTOR,
            sector: [0xFF; SECTOR],
        };
        nvm.finish_sealed().map_err(|_| FlashLayoutError::Device)?;
        Ok(nvm)
    }

    /// Gives the flash back.
    pub fn into_flash(self) -> F {
        self.flash.into_inner()
    }

    fn copy_at(&self) -> usize {
        self.data_len
    }

    fn seal_at(&self) -> usize {
        self.data_len + SECTOR
    }

    /// Step 4–5 again for a sealed copy (see the module documentation).
    fn finish_sealed(&mut self) -> Result<(), NvmError> {
        let (copy_at, seal_at) = (self.copy_at(), self.seal_at());
        let flash = self.flash.get_mut();
        let mut seal = [0u8; SEAL_LEN];
        flash.read(addr(seal_at)?, &mut seal).map_err(device)?;
        let Some((index, copy_crc)) = read_seal(&seal) else {
            return Ok(());
        };
        flash
            .read(addr(copy_at)?, &mut self.sector)
            .map_err(device)?;
        let target = index.checked_mul(SECTOR).filter(|t| *t < self.data_len);
        if let (Some(target), true) = (target, CRC32.checksum(&self.sector) == copy_crc) {
            erase(flash, target, SECTOR)?;
            flash.write(addr(target)?, &self.sector).map_err(device)?;
        }
        erase(flash, seal_at, SECTOR)
    }

    /// Steps 2–5 for the sector at `base`, whose new contents are in `self.sector`.
    fn replace_sector(&mut self, base: usize) -> Result<(), NvmError> {
        let (copy_at, seal_at) = (self.copy_at(), self.seal_at());
        let flash = self.flash.get_mut();
        erase(flash, copy_at, SECTOR)?;
        flash.write(addr(copy_at)?, &self.sector).map_err(device)?;
        erase(flash, seal_at, SECTOR)?;
        let seal = make_seal(base / SECTOR, CRC32.checksum(&self.sector));
        flash.write(addr(seal_at)?, &seal).map_err(device)?;
        erase(flash, base, SECTOR)?;
        flash.write(addr(base)?, &self.sector).map_err(device)?;
        erase(flash, seal_at, SECTOR)
    }
}

impl<F: NorFlash, const SECTOR: usize> Nvm for NorFlashNvm<F, SECTOR> {
    fn len(&self) -> usize {
        self.data_len
    }

    fn read(&self, at: usize, buf: &mut [u8]) -> Result<(), NvmError> {
        let end = at.checked_add(buf.len()).ok_or(NvmError::OutOfRange)?;
        if end > self.data_len {
            return Err(NvmError::OutOfRange);
        }
        let mut flash = self.flash.try_borrow_mut().map_err(|_| NvmError::Device)?;
        let mut window = [0u8; READ_WINDOW];
        let mut next = at;
        while next < end {
            let start = next - next % READ_WINDOW;
            flash.read(addr(start)?, &mut window).map_err(device)?;
            let upto = end.min(start + READ_WINDOW);
            let src = window.get(next - start..upto - start);
            let dst = buf.get_mut(next - at..upto - at);
            match (src, dst) {
                (Some(src), Some(dst)) => dst.copy_from_slice(src),
                _ => return Err(NvmError::OutOfRange),
            }
            next = upto;
        }
        Ok(())
    }

    fn write(&mut self, at: usize, data: &[u8]) -> Result<(), NvmError> {
        let end = at.checked_add(data.len()).ok_or(NvmError::OutOfRange)?;
        if end > self.data_len {
            return Err(NvmError::OutOfRange);
        }
        let mut next = at;
        while next < end {
            let base = next - next % SECTOR;
            let upto = end.min(base + SECTOR);
            self.flash
                .get_mut()
                .read(addr(base)?, &mut self.sector)
                .map_err(device)?;
            let dst = self.sector.get_mut(next - base..upto - base);
            let src = data.get(next - at..upto - at);
            let (Some(dst), Some(src)) = (dst, src) else {
                return Err(NvmError::OutOfRange);
            };
            if dst != src {
                dst.copy_from_slice(src);
                self.replace_sector(base)?;
            }
            next = upto;
        }
        Ok(())
    }
}

fn device<E>(_: E) -> NvmError {
    NvmError::Device
}

fn addr(at: usize) -> Result<u32, NvmError> {
    u32::try_from(at).map_err(|_| NvmError::OutOfRange)
}

fn erase<F: NorFlash>(flash: &mut F, at: usize, len: usize) -> Result<(), NvmError> {
    let to = at.checked_add(len).ok_or(NvmError::OutOfRange)?;
    flash.erase(addr(at)?, addr(to)?).map_err(device)
}

/// mark(8) ‖ sector index(4) ‖ CRC-32 of the copy(4) ‖ CRC-32 of bytes 0..16(4) ‖ FF…
fn make_seal(index: usize, copy_crc: u32) -> [u8; SEAL_LEN] {
    let mut seal = [0xFF; SEAL_LEN];
    let index = u32::try_from(index).unwrap_or(u32::MAX);
    let head = [
        SEAL_MARK.as_slice(),
        &index.to_be_bytes(),
        &copy_crc.to_be_bytes(),
    ];
    for (dst, src) in seal.iter_mut().zip(head.into_iter().flatten()) {
        *dst = *src;
    }
    let own = CRC32.checksum(seal.get(..16).unwrap_or(&[]));
    if let Some(dst) = seal.get_mut(16..20) {
        dst.copy_from_slice(&own.to_be_bytes());
    }
    seal
}

/// The sector index and copy CRC of a valid seal; `None` for an erased, torn or
/// foreign one.
fn read_seal(seal: &[u8; SEAL_LEN]) -> Option<(usize, u32)> {
    let word = |at: usize| -> Option<u32> {
        let bytes: [u8; 4] = seal.get(at..at + 4)?.try_into().ok()?;
        Some(u32::from_be_bytes(bytes))
    };
    if seal.get(..8)? != SEAL_MARK || CRC32.checksum(seal.get(..16)?) != word(16)? {
        return None;
    }
    Some((usize::try_from(word(8)?).ok()?, word(12)?))
}
