//! Cards reset from a snapshot instead of rebuilt: what lets a whole-card fuzz target run
//! tens of thousands of sessions a second. Not a stable API.
//!
//! A fresh sample card is its personalized image (64 KiB) loaded and powered on. Copying
//! the image for every execution, and again for every card the persistence oracle
//! reloads at a power cycle, cost more than the sessions themselves; a session writes a
//! few hundred bytes of it at most. [`SnapshotNvm`] keeps the image it was made from and
//! notes which 64-byte blocks were written since, so going back to the image, or making
//! one memory equal to another made from the same image, copies only those blocks. The
//! card built over it is the same card: same bytes, same constructor arguments.

use sscard_core::nvm::{Nvm, NvmError, RamNvm};

/// Granularity of the written-block bitmap.
const BLOCK: usize = 64;

/// RAM NVM that remembers the image it was made from and the blocks written since.
///
/// Invariant: every block not marked written holds the image's bytes. The default is
/// an empty memory (of an empty image).
#[derive(Clone, Debug, Default)]
pub struct SnapshotNvm {
    bytes: Vec<u8>,
    image: &'static [u8],
    /// One bit per [`BLOCK`]-byte block.
    written: Vec<u64>,
}

/// Words of a bitmap covering `len` bytes.
fn bitmap_words(len: usize) -> usize {
    len.div_ceil(BLOCK).div_ceil(64)
}

impl SnapshotNvm {
    /// A memory holding `image`.
    pub fn new(image: &'static [u8]) -> Self {
        SnapshotNvm {
            bytes: image.to_vec(),
            image,
            written: vec![0; bitmap_words(image.len())],
        }
    }

    /// The raw contents (a card image).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Holds the image again, copying back only the blocks written since.
    pub fn restore(&mut self) {
        self.reset_to(self.image);
    }

    /// Holds `image`: only the blocks written since are copied back if it is the image
    /// this memory holds already, else all of it.
    pub fn reset_to(&mut self, image: &'static [u8]) {
        if !std::ptr::eq(self.image, image) || self.bytes.len() != image.len() {
            self.bytes.clear();
            self.bytes.extend_from_slice(image);
            self.image = image;
            self.written = vec![0; bitmap_words(image.len())];
            return;
        }
        for block in take_blocks(&mut self.written) {
            copy_block(&mut self.bytes, image, block);
        }
    }

    /// Holds the same bytes as `other`. When both come from the same image, only the
    /// blocks either wrote are copied.
    pub fn sync_from(&mut self, other: &SnapshotNvm) {
        let same_image = std::ptr::eq(self.image, other.image)
            && self.bytes.len() == other.bytes.len()
            && self.written.len() == other.written.len();
        if same_image {
            for (mine, theirs) in self.written.iter_mut().zip(&other.written) {
                *mine |= *theirs;
            }
            for block in take_blocks(&mut self.written) {
                copy_block(&mut self.bytes, &other.bytes, block);
            }
        } else {
            self.bytes.clear();
            self.bytes.extend_from_slice(&other.bytes);
            self.image = other.image;
        }
        self.written.clone_from(&other.written);
    }

    /// Holds the bytes of any memory (read whole; every block counts as written).
    pub fn fill_from(&mut self, nvm: &(impl Nvm + ?Sized)) -> Result<(), NvmError> {
        self.bytes.resize(nvm.len(), 0);
        nvm.read(0, &mut self.bytes)?;
        self.written = vec![u64::MAX; bitmap_words(self.bytes.len())];
        Ok(())
    }
}

thread_local! {
    /// Memories given back by earlier runs of this thread.
    static SPARES: std::cell::RefCell<Vec<SnapshotNvm>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A memory holding `image`: one an earlier run of this thread gave back, reset, or a new
/// one.
pub fn take(image: &'static [u8]) -> SnapshotNvm {
    match SPARES.with_borrow_mut(Vec::pop) {
        Some(mut nvm) => {
            nvm.reset_to(image);
            nvm
        }
        None => SnapshotNvm::new(image),
    }
}

/// A memory that a run no longer needs, for the next [`take`] of this thread.
pub fn give_back(nvm: SnapshotNvm) {
    SPARES.with_borrow_mut(|spares| {
        // A run uses two or three (the live card and its reloaded copy, the cards of a
        // tear point); keep a few, not empty ones.
        if spares.len() < 4 && !nvm.bytes.is_empty() {
            spares.push(nvm);
        }
    });
}

/// The indices of the set bits of `bitmap`, which is cleared.
fn take_blocks(bitmap: &mut [u64]) -> impl Iterator<Item = usize> + '_ {
    bitmap.iter_mut().enumerate().flat_map(|(word, bits)| {
        let mut rest = std::mem::take(bits);
        std::iter::from_fn(move || {
            (rest != 0).then(|| {
                let bit = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                word * 64 + bit
            })
        })
    })
}

/// Copies block `block` of `from` into `to` (as far as both reach).
fn copy_block(to: &mut [u8], from: &[u8], block: usize) {
    let start = block * BLOCK;
    let end = (start + BLOCK).min(to.len()).min(from.len());
    if let (Some(dst), Some(src)) = (to.get_mut(start..end), from.get(start..end)) {
        dst.copy_from_slice(src);
    }
}

impl Nvm for SnapshotNvm {
    fn len(&self) -> usize {
        self.bytes.len()
    }
    fn read(&self, addr: usize, buf: &mut [u8]) -> Result<(), NvmError> {
        let end = addr.checked_add(buf.len()).ok_or(NvmError::OutOfRange)?;
        buf.copy_from_slice(self.bytes.get(addr..end).ok_or(NvmError::OutOfRange)?);
        Ok(())
    }
    fn write(&mut self, addr: usize, data: &[u8]) -> Result<(), NvmError> {
        let end = addr.checked_add(data.len()).ok_or(NvmError::OutOfRange)?;
        self.bytes
            .get_mut(addr..end)
            .ok_or(NvmError::OutOfRange)?
            .copy_from_slice(data);
        if let Some(last) = end.checked_sub(1) {
            for block in addr / BLOCK..=last / BLOCK {
                if let Some(word) = self.written.get_mut(block / 64) {
                    *word |= 1 << (block % 64);
                }
            }
        }
        Ok(())
    }
}

/// A memory whose bytes a [`SnapshotNvm`] can take: the copy the persistence oracle
/// reloads at a power cycle.
pub trait ImageNvm: Nvm {
    /// Makes `copy` hold this memory's bytes.
    fn copy_into(&self, copy: &mut SnapshotNvm) -> Result<(), NvmError> {
        copy.fill_from(self)
    }
}

impl ImageNvm for SnapshotNvm {
    fn copy_into(&self, copy: &mut SnapshotNvm) -> Result<(), NvmError> {
        copy.sync_from(self);
        Ok(())
    }
}

impl<S: AsRef<[u8]> + AsMut<[u8]>> ImageNvm for RamNvm<S> {}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn image() -> &'static [u8] {
        static IMAGE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        IMAGE.get_or_init(|| (0..1000u32).map(|i| (i * 7) as u8).collect())
    }

    #[test]
    fn restore_brings_back_the_image_after_writes_across_blocks() {
        let mut nvm = SnapshotNvm::new(image());
        nvm.write(60, &[0xAA; 10]).unwrap(); // blocks 0 and 1
        nvm.write(999, &[0xBB]).unwrap(); // the last, short block
        nvm.write(500, &[]).unwrap(); // nothing
        assert_ne!(nvm.bytes(), image());
        nvm.restore();
        assert_eq!(nvm.bytes(), image());
        assert!(nvm.write(995, &[0; 6]).is_err(), "past the end");
    }

    #[test]
    fn sync_makes_two_memories_equal_whatever_each_wrote() {
        let mut live = SnapshotNvm::new(image());
        let mut copy = SnapshotNvm::new(image());
        copy.write(300, &[1, 2, 3]).unwrap(); // only the copy: must be undone
        live.write(10, &[4; 200]).unwrap();
        copy.sync_from(&live);
        assert_eq!(copy.bytes(), live.bytes());
        // Both still know what differs from the image.
        copy.restore();
        assert_eq!(copy.bytes(), image());
        // From a memory of another image, or from any memory: a whole copy.
        let other: &'static [u8] = &[9u8; 100];
        let mut small = SnapshotNvm::new(other);
        small.sync_from(&live);
        assert_eq!(small.bytes(), live.bytes());
        small.restore();
        assert_eq!(small.bytes(), image());
        let ram = RamNvm::new(vec![5u8; 128]);
        ram.copy_into(&mut small).unwrap();
        assert_eq!(small.bytes(), &[5u8; 128][..]);
        small.restore();
        assert_eq!(small.bytes(), image());
    }

    #[test]
    fn a_memory_given_back_comes_back_holding_the_image_asked_for() {
        let mut nvm = take(image());
        nvm.write(0, &[0xEE; 70]).unwrap();
        give_back(nvm);
        assert_eq!(take(image()).bytes(), image());
        let other: &'static [u8] = &[3u8; 200];
        let mut nvm = take(image());
        nvm.write(0, &[1]).unwrap();
        give_back(nvm);
        assert_eq!(take(other).bytes(), other);
    }
}
