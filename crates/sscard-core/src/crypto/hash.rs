//! SM3 (GB/T 32905), from the RustCrypto `sm3` crate.

use ::sm3::{Digest, Sm3};

/// SM3 digest of `data`.
#[must_use]
pub fn sm3(data: &[u8]) -> [u8; 32] {
    Sm3::digest(data).into()
}

/// Incremental SM3. The internal state is wiped on drop (the `sm3` crate's
/// `zeroize` feature), which matters when hashing PINs.
#[derive(Clone, Default)]
pub struct Sm3Hasher {
    inner: Sm3,
}

impl Sm3Hasher {
    /// A fresh hasher.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed more data.
    pub fn update(&mut self, data: &[u8]) {
        Digest::update(&mut self.inner, data);
    }

    /// The digest of everything fed so far.
    #[must_use]
    pub fn finalize(self) -> [u8; 32] {
        self.inner.finalize().into()
    }
}

impl core::fmt::Debug for Sm3Hasher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Sm3Hasher { .. }")
    }
}
