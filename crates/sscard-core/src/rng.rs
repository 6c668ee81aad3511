//! Random numbers for the card (challenges, key generation).
//!
//! The card OS takes its randomness through [`CardRng`], so a real device can
//! plug in its hardware generator and tests can use a reproducible one.

/// A source of random bytes for the card.
///
/// Implementations for production must be cryptographically secure (a TRNG or
/// a DRBG seeded from one). [`SplitMixRng`] is **not**.
pub trait CardRng {
    /// Fill `buf` completely with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

impl<R: CardRng + ?Sized> CardRng for &mut R {
    fn fill(&mut self, buf: &mut [u8]) {
        (**self).fill(buf);
    }
}

/// A seeded, deterministic generator (SplitMix64, Steele–Lea–Flood 2014).
///
/// **Not cryptographic**: its output is predictable from one 64-bit value. It is
/// meant for tests, fuzzing and reproducible simulations only, never for the
/// challenges or keys of a card that protects anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMixRng {
    state: u64,
}

impl SplitMixRng {
    /// A generator started from `seed`. Equal seeds give equal sequences.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64-bit output.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl CardRng for SplitMixRng {
    /// Fills with consecutive outputs, each written little-endian; a final
    /// partial chunk takes the low-order bytes of one more output.
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            for (d, s) in chunk.iter_mut().zip(word) {
                *d = s;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_sequence() {
        // Reference values of SplitMix64 (Vigna's splitmix64.c) for seed 1234567.
        let mut r = SplitMixRng::new(1_234_567);
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(r.next_u64(), 9_817_491_932_198_370_423);
    }

    #[test]
    fn fill_is_deterministic_and_covers_partial_chunks() {
        let mut a = SplitMixRng::new(7);
        let mut b = SplitMixRng::new(7);
        let mut x = [0u8; 13];
        let mut y = [0u8; 13];
        a.fill(&mut x);
        b.fill(&mut y);
        assert_eq!(x, y);
        let mut c = SplitMixRng::new(7);
        let w0 = c.next_u64().to_le_bytes();
        let w1 = c.next_u64().to_le_bytes();
        assert_eq!(&x[..8], &w0);
        assert_eq!(&x[8..], &w1[..5]);
        let mut empty = [0u8; 0];
        a.fill(&mut empty);
    }

    #[test]
    fn usable_through_mut_ref() {
        fn draw(mut r: impl CardRng) -> [u8; 4] {
            let mut b = [0u8; 4];
            r.fill(&mut b);
            b
        }
        let mut r = SplitMixRng::new(1);
        let a = draw(&mut r);
        let b = draw(&mut r);
        assert_ne!(a, b);
    }
}
