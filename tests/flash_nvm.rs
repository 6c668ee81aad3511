//! The NorFlash adapter (`sscard_core::flash`) on a simulated NOR flash that enforces
//! what real ones do (erase to FF, program each word once between erases, aligned
//! accesses) and can lose power at any erase or program: reads agree with a RAM model,
//! a cut write leaves old data or a prefix of the new, and a card on the flash keeps
//! its try counter old or new through a cut at every flash operation.
#![allow(clippy::restriction)]

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashErrorKind, ReadNorFlash, check_erase, check_read, check_write,
};
use sscard_core::flash::NorFlashNvm;
use sscard_core::nvm::{Nvm, RamNvm};
use sscard_core::rng::SplitMixRng;
use sscard_core::{Card, Interface};
use sscard_ssc::SocialSecurity;

const SECTOR: usize = 256;
const WORD: usize = 4;

#[derive(Clone)]
struct SimFlash {
    bytes: Vec<u8>,
    programmed: Vec<bool>,
    ops: u32,
    cut_at: Option<u32>,
    cut: bool,
}

impl SimFlash {
    fn new(len: usize) -> Self {
        SimFlash {
            bytes: vec![0xFF; len],
            programmed: vec![false; len / WORD],
            ops: 0,
            cut_at: None,
            cut: false,
        }
    }

    /// Counts an erase or program; true when the power goes at this one.
    fn cut_now(&mut self) -> bool {
        let this = self.ops;
        self.ops += 1;
        if self.cut_at == Some(this) {
            self.cut = true;
        }
        self.cut
    }

    fn restore_power(&mut self) {
        self.cut = false;
        self.cut_at = None;
    }
}

impl ErrorType for SimFlash {
    type Error = NorFlashErrorKind;
}

impl ReadNorFlash for SimFlash {
    const READ_SIZE: usize = 1;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        if self.cut {
            return Err(NorFlashErrorKind::Other);
        }
        check_read(self, offset, bytes.len())?;
        let at = offset as usize;
        bytes.copy_from_slice(&self.bytes[at..at + bytes.len()]);
        Ok(())
    }
    fn capacity(&self) -> usize {
        self.bytes.len()
    }
}

impl NorFlash for SimFlash {
    const WRITE_SIZE: usize = WORD;
    const ERASE_SIZE: usize = SECTOR;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        if self.cut {
            return Err(NorFlashErrorKind::Other);
        }
        check_erase(self, from, to)?;
        let (from, to) = (from as usize, to as usize);
        if self.cut_now() {
            // An interrupted erase leaves the sector undefined: half garbage here.
            for b in &mut self.bytes[from..from + (to - from) / 2] {
                *b = 0x3C;
            }
            return Err(NorFlashErrorKind::Other);
        }
        self.bytes[from..to].fill(0xFF);
        self.programmed[from / WORD..to / WORD].fill(false);
        Ok(())
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        if self.cut {
            return Err(NorFlashErrorKind::Other);
        }
        check_write(self, offset, bytes.len())?;
        let at = offset as usize;
        let words = at / WORD..(at + bytes.len()) / WORD;
        assert!(
            self.programmed[words.clone()].iter().all(|p| !p),
            "a word programmed twice without an erase at {at:#x}"
        );
        if self.cut_now() {
            // The words being written are undefined: the first half gets garbage.
            for b in &mut self.bytes[at..at + bytes.len() / 2] {
                *b &= 0xA5;
            }
            return Err(NorFlashErrorKind::Other);
        }
        for (dst, src) in self.bytes[at..].iter_mut().zip(bytes) {
            *dst &= *src; // NOR programming only clears bits
        }
        self.programmed[words].fill(true);
        Ok(())
    }
}

type FlashNvm = NorFlashNvm<SimFlash, SECTOR>;

fn rand(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn reads_and_writes_agree_with_a_ram_model() {
    let mut nvm = FlashNvm::new(SimFlash::new(12 * SECTOR)).unwrap();
    assert_eq!(nvm.len(), 10 * SECTOR);
    let mut model = RamNvm::new(vec![0xFFu8; 10 * SECTOR]);
    let mut seed = 0x5EED_u64;
    for _ in 0..400 {
        let at = (rand(&mut seed) as usize) % nvm.len();
        let len = ((rand(&mut seed) as usize) % 700).min(nvm.len() - at);
        let data: Vec<u8> = (0..len).map(|_| rand(&mut seed) as u8).collect();
        nvm.write(at, &data).unwrap();
        model.write(at, &data).unwrap();
        let (r_at, r_len) = ((rand(&mut seed) as usize) % nvm.len(), 97);
        let r_len = r_len.min(nvm.len() - r_at);
        let (mut a, mut b) = (vec![0; r_len], vec![0; r_len]);
        nvm.read(r_at, &mut a).unwrap();
        model.read(r_at, &mut b).unwrap();
        assert_eq!(a, b, "read at {r_at:#x}");
    }
    let mut all = vec![0; nvm.len()];
    nvm.read(0, &mut all).unwrap();
    assert_eq!(all, model.bytes());
    assert!(nvm.write(nvm.len() - 1, &[1, 2]).is_err(), "past the end");
    assert!(nvm.read(nvm.len(), &mut [0]).is_err(), "past the end");
}

#[test]
fn the_flash_geometry_is_checked() {
    use sscard_core::flash::FlashLayoutError;
    assert_eq!(
        NorFlashNvm::<SimFlash, 128>::new(SimFlash::new(12 * SECTOR)).err(),
        Some(FlashLayoutError::SectorSize)
    );
    assert_eq!(
        FlashNvm::new(SimFlash::new(2 * SECTOR)).err(),
        Some(FlashLayoutError::TooSmall)
    );
}

#[test]
fn a_cut_at_every_flash_operation_leaves_old_data_or_a_prefix_of_the_new() {
    let mut base = FlashNvm::new(SimFlash::new(8 * SECTOR)).unwrap();
    let old: Vec<u8> = (0..base.len()).map(|i| (i * 7) as u8).collect();
    base.write(0, &old).unwrap();
    let flash = base.into_flash();
    // Four sectors touched, the first and last in part.
    let (at, len) = (SECTOR - 10, 2 * SECTOR + 20);
    let new: Vec<u8> = (0..len).map(|i| (i * 13 + 1) as u8).collect();
    let mut clean = flash.clone();
    clean.ops = 0;
    let mut nvm = FlashNvm::new(clean).unwrap();
    nvm.write(at, &new).unwrap();
    let ops = nvm.into_flash().ops;
    assert!(ops >= 18, "{ops} flash operations");
    let mut prefixes = std::collections::BTreeSet::new();
    for k in 0..ops {
        let mut torn = flash.clone();
        torn.ops = 0;
        torn.cut_at = Some(k);
        let mut nvm = FlashNvm::new(torn).unwrap();
        assert!(nvm.write(at, &new).is_err(), "cut at operation {k}");
        let mut torn = nvm.into_flash();
        torn.restore_power();
        let nvm = FlashNvm::new(torn).unwrap();
        let mut now = vec![0; nvm.len()];
        nvm.read(0, &mut now).unwrap();
        assert_eq!(now[..at], old[..at], "before the range, cut at {k}");
        assert_eq!(
            now[at + len..],
            old[at + len..],
            "after the range, cut at {k}"
        );
        let range = &now[at..at + len];
        let prefix = (0..=len)
            .find(|&p| range[..p] == new[..p] && range[p..] == old[at + p..at + len])
            .unwrap_or_else(|| panic!("cut at {k}: neither old nor a prefix of the new"));
        prefixes.insert(prefix);
    }
    // Every sector boundary was seen as a cut point, from nothing to all.
    assert_eq!(
        prefixes.into_iter().collect::<Vec<_>>(),
        [0, 10, 10 + SECTOR, 10 + 2 * SECTOR, len]
    );
}

const SELECT_SSSE: &[u8] = &[
    0x00, 0xA4, 0x04, 0x00, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1,
    0xB1, 0xA3, 0xD5, 0xCF,
];

fn send<N: Nvm>(card: &mut Card<N, SplitMixRng, (), SocialSecurity>, apdu: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; sscard_core::card::MAX_RESPONSE_CAPACITY];
    let n = card.process(apdu, &mut out);
    out.truncate(n);
    out
}

/// Tries left of the PIN, from a probing VERIFY (63Cx).
fn tries_left(flash: SimFlash) -> u8 {
    let nvm = FlashNvm::new(flash).unwrap();
    let mut card = Card::load_stored(nvm, SplitMixRng::new(3), (), SocialSecurity::from_stored)
        .expect("the card loads after the cut");
    card.power_on(Interface::Contact).unwrap();
    let select = send(&mut card, SELECT_SSSE);
    assert!(
        matches!(select[..], [.., 0x61 | 0x90, _]),
        "SELECT SSSE: {select:02X?}"
    );
    let probe = send(&mut card, &[0x00, 0x20, 0x00, 0x00, 0x00]);
    assert_eq!(probe[0], 0x63, "probe: {probe:02X?}");
    probe[1] & 0x0F
}

#[test]
fn a_card_on_flash_keeps_its_try_counter_old_or_new_through_a_cut_anywhere() {
    let image = sscard_host::profile::Profile::default_gen3()
        .image()
        .unwrap();
    let mut nvm = FlashNvm::new(SimFlash::new(image.len() + 2 * SECTOR)).unwrap();
    nvm.write(0, &image).unwrap();
    let flash = nvm.into_flash();
    let before = tries_left(flash.clone());
    // The clean run: a wrong PIN costs one try.
    let run = |mut flash: SimFlash, cut_at: Option<u32>| -> SimFlash {
        flash.ops = 0;
        flash.cut_at = cut_at;
        let nvm = FlashNvm::new(flash).unwrap();
        let mut card =
            Card::load_stored(nvm, SplitMixRng::new(3), (), SocialSecurity::from_stored).unwrap();
        if card.power_on(Interface::Contact).is_ok() {
            send(&mut card, SELECT_SSSE);
            send(&mut card, &[0x00, 0x20, 0x00, 0x00, 0x03, 0x99, 0x99, 0x99]);
        }
        let mut flash = card.into_nvm().into_flash();
        flash.restore_power();
        flash
    };
    let clean = run(flash.clone(), None);
    let ops = clean.ops;
    assert_eq!(tries_left(clean), before - 1);
    assert!(ops > 5, "{ops} flash operations");
    for k in 0..ops {
        let left = tries_left(run(flash.clone(), Some(k)));
        assert!(
            left == before || left == before - 1,
            "cut at flash operation {k}: {left} tries (before {before})"
        );
    }
}
