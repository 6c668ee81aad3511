//! Cryptography of the card: the social-security (LD/T 32) and EMV/PBOC
//! (JR/T 0025, CVN 01) constructions, on top of the RustCrypto primitives.
//!
//! The block ciphers (DES, 2-key 3DES-EDE, SM4), the SM3 hash and SM2 signatures
//! come from the RustCrypto crates `des`, `sm4`, `sm3` and `sm2`; this module only
//! adds what the card specifications define around them (chaining, padding,
//! folding, key derivation). Nothing here allocates and nothing panics: wrong key
//! or data lengths are reported as [`CryptoError`].
//!
//! Specification references in the docs:
//! * "P4 §x", "P7 §x", "P9 §x": LD/T 32 《社会保障（个人）卡规范》 parts 4 (security
//!   mechanisms), 7 (medical purse transactions) and 9 (PSAM);
//! * "JR/T 0025": PBOC 3.0 (EMV-compatible debit/credit application), CVN 01;
//! * "ISO/IEC 9797-1": MAC algorithms 1 and 3, padding method 2;
//! * GB/T 32905 (SM3), GB/T 32907 (SM4), GB/T 32918 (SM2).
//!
//! Module map:
//! * [`block`]: [`Algorithm`], [`CardKey`], [`CardCipher`], [`kcv`];
//! * [`mac`]: the card MAC ([`Mac`], [`card_mac`]) and the ISO 9797-1 retail MAC
//!   ([`RetailMac`], [`retail_mac`]);
//! * [`ssc`]: session keys, authentication data, TAC key, SM data encryption, key
//!   diversification and its factors;
//! * [`emv`]: EMV Option A card key, PBOC session key, ARPC method 1;
//! * [`hash`]: SM3; [`sign`]: SM2 signatures.

pub mod block;
pub mod emv;
pub mod hash;
pub mod mac;
pub mod sign;
pub mod ssc;

pub use block::{Algorithm, CardCipher, CardKey, kcv};
pub use emv::{arpc_method1, pboc_session_key, udk_option_a};
pub use hash::{Sm3Hasher, sm3};
pub use mac::{Mac, RetailMac, card_mac, retail_mac};
pub use sign::{SM2_DEFAULT_ID, Sm2KeyPair, sm2_public_key_is_valid, sm2_verify, sm2_verify_parts};
pub use ssc::{
    SessionKey, auth_data, card_factor, city_factor, diversify, diversify_path, province_factor,
    session_key, sm_decrypt, sm_decrypt_in_place, sm_encrypt, sm_encrypted_len, tac_key,
};

use core::fmt;
use subtle::ConstantTimeEq;

/// Compares a received MAC, cryptogram or enciphered challenge with the expected value,
/// in constant time.
///
/// # Fuzzing
/// Under `cfg(fuzzing)` (set by cargo-fuzz) this always answers true, so that fuzzers
/// reach the code behind secure messaging and cryptogram checks, as smoltcp does for its
/// checksums. Normal builds never set that cfg.
pub fn mac_matches(expected: &[u8], received: &[u8]) -> bool {
    cfg!(fuzzing) || ct_eq(expected, received)
}

/// Errors of the crypto module. Every fallible function returns one of these
/// instead of panicking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CryptoError {
    /// The key length does not fit the algorithm (DES: 8 or 16 bytes, SM4: 16).
    KeyLength,
    /// A single-block operation got a slice that is not exactly one block long.
    BlockLength,
    /// Data for an ECB operation or an SM decryption is not a whole, non-zero
    /// number of blocks.
    NotBlockAligned,
    /// An input has a length the construction does not define (session input not
    /// 4, 8 or 16 bytes or longer than the block, IV longer than a block,
    /// SM plaintext longer than 255 bytes, ...).
    InputLength,
    /// The output buffer is too small.
    BufferTooSmall,
    /// SM decryption: the decrypted length byte LD claims more data than is
    /// present, or leaves more than one block of padding.
    BadLength,
    /// SM decryption: the bytes after the data are not `80 00..`.
    BadPadding,
    /// A digit string (area code, PAN, PSN) holds something other than digits or
    /// has the wrong length.
    InvalidDigits,
    /// Fewer than 13 ATR historical bytes (the card factor needs bytes 6..=13).
    HistoricalBytesTooShort,
    /// SM2 secret key not in `[1, n-2]`.
    InvalidSecretKey,
    /// SM2 public key not a valid curve point.
    InvalidPublicKey,
    /// SM2 distinguishing ID not UTF-8 or longer than 8191 bytes.
    InvalidId,
    /// The random source gave no valid SM2 secret within the bounded number of
    /// draws (it is broken, e.g. constant).
    RngFailure,
    /// SM2 signing failed (does not happen with a valid key).
    SignatureFailed,
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::KeyLength => "key length does not fit the algorithm",
            Self::BlockLength => "data is not exactly one block",
            Self::NotBlockAligned => "data is not a whole, non-zero number of blocks",
            Self::InputLength => "input length not defined for this construction",
            Self::BufferTooSmall => "output buffer too small",
            Self::BadLength => "decrypted length byte does not match the data",
            Self::BadPadding => "padding is not 80 00..",
            Self::InvalidDigits => "not a digit string of the expected length",
            Self::HistoricalBytesTooShort => "fewer than 13 historical bytes",
            Self::InvalidSecretKey => "SM2 secret key out of range",
            Self::InvalidPublicKey => "SM2 public key is not a curve point",
            Self::InvalidId => "SM2 distinguishing ID not UTF-8 or too long",
            Self::RngFailure => "random source gave no valid secret",
            Self::SignatureFailed => "SM2 signing failed",
        };
        f.write_str(s)
    }
}

impl core::error::Error for CryptoError {}

/// Constant-time comparison of two byte strings, for PINs, MACs and
/// cryptograms.
///
/// The running time depends only on the lengths, never on the contents. Strings
/// of different lengths compare unequal (lengths are not secret here).
#[must_use]
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ct_eq_basics() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"1234", b"1234"));
        assert!(!ct_eq(b"1234", b"1235"));
        assert!(!ct_eq(b"1234", b"123"));
        assert!(!ct_eq(b"", b"0"));
    }
}
