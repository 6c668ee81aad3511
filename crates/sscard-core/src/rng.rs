//! Randomness for the card: challenges, purse randoms, key generation.
//!
//! The card takes its random source from the platform (injected), so tests and fuzzing
//! are deterministic and a real deployment can plug in its TRNG or the OS generator.

/// A source of random bytes.
pub trait CardRng {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

impl<R: CardRng + ?Sized> CardRng for &mut R {
    fn fill(&mut self, buf: &mut [u8]) {
        (**self).fill(buf)
    }
}

/// SplitMix64: fast and deterministic. **Not cryptographic**: for tests, fuzzing and
/// benchmarks only.
#[derive(Clone, Debug)]
pub struct SplitMixRng {
    state: u64,
}

impl SplitMixRng {
    /// A generator starting from `seed`.
    pub const fn new(seed: u64) -> Self {
        SplitMixRng { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl CardRng for SplitMixRng {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(v.get(..chunk.len()).unwrap_or(&[]));
        }
    }
}
