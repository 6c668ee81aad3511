//! SM2 digital signatures (GB/T 32918.2) on the recommended curve sm2p256v1,
//! wrapping the RustCrypto `sm2` crate.
//!
//! Signatures are `r ‖ s` (64 bytes), over `SM3(Z_A ‖ M)` where
//! `Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A)` binds the signer's
//! distinguishing ID (default [`SM2_DEFAULT_ID`], `1234567812345678`).
//!
//! Notes on the wrapped crate (`sm2` 0.14, features `dsa` only):
//! * the distinguishing ID is a `&str` there, so IDs must be UTF-8 (any ASCII ID
//!   is) and at most 8191 bytes (ENTL is 16 bits); other IDs give
//!   [`CryptoError::InvalidId`];
//! * signing is deterministic (RFC 6979 nonce from the secret and the digest),
//!   which GB/T 32918 allows since the nonce is secret and unpredictable;
//! * `precomputed-tables` is off: it needs `std` or a `critical-section`
//!   implementation on bare metal and 25 KB of RAM; signing is 2–3× slower
//!   without it, verification the same;
//! * `sm2::dsa::SigningKey` does not wipe its secret scalar on drop, and gives no
//!   mutable access to it; [`Sm2KeyPair`] therefore cannot zeroize the scalar it
//!   holds. Secret bytes handed out ([`Sm2KeyPair::secret_bytes`]) and the
//!   temporary copies made here are wiped.

#[cfg(not(fuzzing))]
use ::sm2::dsa::SigningKey;
#[cfg(not(fuzzing))]
use ::sm2::dsa::signature::MultipartSigner;
use ::sm2::dsa::signature::MultipartVerifier;
use ::sm2::dsa::{Signature, VerifyingKey};
use ::sm2::elliptic_curve::sec1::{Coordinates, ToSec1Point};
use ::sm2::{NonZeroScalar, Scalar};
use zeroize::Zeroizing;

use super::CryptoError;

/// The default distinguishing ID of GB/T 32918 / GM/T 0009: `1234567812345678`.
pub const SM2_DEFAULT_ID: &[u8] = b"1234567812345678";

/// How many 32-byte draws [`Sm2KeyPair::generate`] makes before giving up. A
/// uniform draw is invalid with probability below 2⁻³², so only a broken source
/// ever exhausts this.
const GENERATE_TRIES: usize = 16;

/// An SM2 key pair (secret scalar `d ∈ [1, n-2]` and public point `P = dG`).
///
/// # Fuzzing
/// Under `cfg(fuzzing)` (set by cargo-fuzz) the pair is a cheap stand-in: the public key
/// and the signatures are SM3 digests of the secret and the message, and
/// [`sm2_verify`] accepts any signature, so that fuzzers spend their time in the card
/// rather than in curve arithmetic (as [`mac_matches`](super::mac_matches) does for
/// MACs). Normal builds never set that cfg.
pub struct Sm2KeyPair {
    /// Signing key built with [`SM2_DEFAULT_ID`] (its `Z_A` is cached).
    #[cfg(not(fuzzing))]
    signing: SigningKey,
    /// The secret, for the stand-in.
    #[cfg(fuzzing)]
    secret: Zeroizing<[u8; 32]>,
    /// Uncompressed public key `X ‖ Y`.
    public: [u8; 64],
}

impl Sm2KeyPair {
    /// The key pair with secret `d` (32 bytes big-endian).
    ///
    /// # Errors
    /// [`CryptoError::InvalidSecretKey`] unless `1 ≤ d ≤ n-2` (GB/T 32918.1 §6.1;
    /// `d = n-1` is excluded because signing needs `(1+d)⁻¹`).
    pub fn from_secret_bytes(secret: &[u8; 32]) -> Result<Self, CryptoError> {
        let d = NonZeroScalar::try_from(&secret[..]).map_err(|_| CryptoError::InvalidSecretKey)?;
        let d_plus_1: Scalar = *d + Scalar::ONE;
        if bool::from(d_plus_1.is_zero()) {
            return Err(CryptoError::InvalidSecretKey);
        }
        #[cfg(fuzzing)]
        {
            Ok(Self {
                secret: Zeroizing::new(*secret),
                public: stand_in::public(secret),
            })
        }
        #[cfg(not(fuzzing))]
        {
            let signing = SigningKey::from_nonzero_scalar(default_id(), d)
                .map_err(|_| CryptoError::InvalidSecretKey)?;
            let public = point_xy(signing.verifying_key()).ok_or(CryptoError::InvalidSecretKey)?;
            Ok(Self { signing, public })
        }
    }

    /// Generate a key pair: draw 32 random bytes from `fill_random` and retry
    /// (at most 16 draws) while they are not a valid secret.
    ///
    /// With a [`CardRng`](crate::rng::CardRng) `rng`:
    /// `Sm2KeyPair::generate(|b| rng.fill(b))`.
    ///
    /// # Errors
    /// [`CryptoError::RngFailure`] if no draw was valid.
    pub fn generate(mut fill_random: impl FnMut(&mut [u8])) -> Result<Self, CryptoError> {
        let mut d = Zeroizing::new([0u8; 32]);
        for _ in 0..GENERATE_TRIES {
            fill_random(&mut d[..]);
            if let Ok(pair) = Self::from_secret_bytes(&d) {
                return Ok(pair);
            }
        }
        Err(CryptoError::RngFailure)
    }

    /// The public key `X ‖ Y` (64 bytes, without the `04` prefix).
    #[must_use]
    pub const fn public_key_xy(&self) -> &[u8; 64] {
        &self.public
    }

    /// The secret `d`, 32 bytes big-endian, wiped when dropped.
    #[must_use]
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        #[cfg(fuzzing)]
        {
            self.secret.clone()
        }
        #[cfg(not(fuzzing))]
        {
            Zeroizing::new(self.signing.to_bytes().into())
        }
    }

    /// Sign `msg` with distinguishing ID `id`; returns `r ‖ s`.
    ///
    /// The default ID uses the cached `Z_A`; any other ID costs one extra
    /// scalar multiplication (the `sm2` crate rebuilds the key for it).
    ///
    /// # Errors
    /// [`CryptoError::InvalidId`] if `id` is not UTF-8 or longer than 8191 bytes;
    /// [`CryptoError::SignatureFailed`] if the crate reports a signing failure.
    pub fn sign(&self, id: &[u8], msg: &[u8]) -> Result<[u8; 64], CryptoError> {
        self.sign_parts(id, &[msg])
    }

    /// [`sign`](Self::sign) over the concatenation of `parts`, without
    /// concatenating them.
    ///
    /// # Errors
    /// As [`sign`](Self::sign).
    pub fn sign_parts(&self, id: &[u8], parts: &[&[u8]]) -> Result<[u8; 64], CryptoError> {
        #[cfg(fuzzing)]
        {
            let id = id_str(id)?;
            Ok(stand_in::sign(&self.secret, id.as_bytes(), parts))
        }
        #[cfg(not(fuzzing))]
        self.sign_parts_sm2(id, parts)
    }

    #[cfg(not(fuzzing))]
    fn sign_parts_sm2(&self, id: &[u8], parts: &[&[u8]]) -> Result<[u8; 64], CryptoError> {
        let sig: Signature = if id == SM2_DEFAULT_ID {
            self.signing.try_multipart_sign(parts)
        } else {
            let id = id_str(id)?;
            let key = SigningKey::from_nonzero_scalar(id, *self.signing.as_nonzero_scalar())
                .map_err(|_| CryptoError::InvalidId)?;
            key.try_multipart_sign(parts)
        }
        .map_err(|_| CryptoError::SignatureFailed)?;
        Ok(sig.to_bytes().into())
    }
}

impl core::fmt::Debug for Sm2KeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sm2KeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// Verify signature `sig` (`r ‖ s`) over `msg` by public key `X ‖ Y` with
/// distinguishing ID `id`. Any malformed input (point not on the curve, `r` or
/// `s` out of range, ID not UTF-8) verifies as `false`.
#[must_use]
pub fn sm2_verify(public_xy: &[u8; 64], id: &[u8], msg: &[u8], sig: &[u8; 64]) -> bool {
    sm2_verify_parts(public_xy, id, &[msg], sig)
}

/// [`sm2_verify`] over the concatenation of `parts`.
#[must_use]
pub fn sm2_verify_parts(public_xy: &[u8; 64], id: &[u8], parts: &[&[u8]], sig: &[u8; 64]) -> bool {
    let Ok(id) = id_str(id) else {
        return false;
    };
    if cfg!(fuzzing) {
        return true;
    }
    let mut sec1 = [0x04u8; 65];
    for (d, s) in sec1.iter_mut().skip(1).zip(public_xy) {
        *d = *s;
    }
    let Ok(key) = VerifyingKey::from_sec1_bytes(id, &sec1) else {
        return false;
    };
    let Ok(sig) = Signature::from_slice(sig) else {
        return false;
    };
    key.multipart_verify(parts, &sig).is_ok()
}

/// Whether `public_xy` is a valid public key (a point on the curve, not the
/// identity).
#[must_use]
pub fn sm2_public_key_is_valid(public_xy: &[u8; 64]) -> bool {
    let mut sec1 = [0x04u8; 65];
    for (d, s) in sec1.iter_mut().skip(1).zip(public_xy) {
        *d = *s;
    }
    VerifyingKey::from_sec1_bytes(default_id(), &sec1).is_ok()
}

fn default_id() -> &'static str {
    "1234567812345678"
}

fn id_str(id: &[u8]) -> Result<&str, CryptoError> {
    if id.len() > 8191 {
        return Err(CryptoError::InvalidId);
    }
    core::str::from_utf8(id).map_err(|_| CryptoError::InvalidId)
}

/// The fuzzing stand-in of the key pair (see [`Sm2KeyPair`]).
#[cfg(fuzzing)]
mod stand_in {
    use super::super::hash::Sm3Hasher;

    fn digest(label: &[u8], secret: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
        let mut h = Sm3Hasher::new();
        h.update(label);
        h.update(secret);
        for part in parts {
            h.update(part);
        }
        h.finalize()
    }

    fn pair(a: [u8; 32], b: [u8; 32]) -> [u8; 64] {
        let mut out = [0u8; 64];
        for (d, s) in out.iter_mut().zip(a.iter().chain(b.iter())) {
            *d = *s;
        }
        out
    }

    pub(super) fn public(secret: &[u8; 32]) -> [u8; 64] {
        pair(digest(b"X", secret, &[]), digest(b"Y", secret, &[]))
    }

    pub(super) fn sign(secret: &[u8; 32], id: &[u8], parts: &[&[u8]]) -> [u8; 64] {
        let r = digest(b"R", secret, &[id]);
        let mut h = Sm3Hasher::new();
        h.update(b"S");
        h.update(secret);
        h.update(&r);
        for part in parts {
            h.update(part);
        }
        pair(r, h.finalize())
    }
}

#[cfg_attr(fuzzing, allow(dead_code))]
fn point_xy(key: &VerifyingKey) -> Option<[u8; 64]> {
    let point = key.as_affine().to_sec1_point(false);
    match point.coordinates() {
        Coordinates::Uncompressed { x, y } => {
            let mut out = [0u8; 64];
            for (d, s) in out.iter_mut().zip(x.iter().chain(y.iter())) {
                *d = *s;
            }
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn default_id_consistent() {
        assert_eq!(default_id().as_bytes(), SM2_DEFAULT_ID);
    }

    #[test]
    fn secret_range() {
        assert_eq!(
            Sm2KeyPair::from_secret_bytes(&[0; 32]).err(),
            Some(CryptoError::InvalidSecretKey)
        );
        assert_eq!(
            Sm2KeyPair::from_secret_bytes(&[0xFF; 32]).err(),
            Some(CryptoError::InvalidSecretKey)
        );
        // n - 1 and n are rejected, n - 2 and 1 accepted.
        let n = [
            0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            0xFF, 0xFF, 0x72, 0x03, 0xDF, 0x6B, 0x21, 0xC6, 0x05, 0x2B, 0x53, 0xBB, 0xF4, 0x09,
            0x39, 0xD5, 0x41, 0x23,
        ];
        assert!(Sm2KeyPair::from_secret_bytes(&n).is_err());
        let mut nm1 = n;
        nm1[31] = 0x22;
        assert!(Sm2KeyPair::from_secret_bytes(&nm1).is_err());
        let mut nm2 = n;
        nm2[31] = 0x21;
        assert!(Sm2KeyPair::from_secret_bytes(&nm2).is_ok());
        let mut one = [0u8; 32];
        one[31] = 1;
        assert!(Sm2KeyPair::from_secret_bytes(&one).is_ok());
    }

    #[test]
    fn bad_ids() {
        let mut one = [0u8; 32];
        one[31] = 7;
        let kp = Sm2KeyPair::from_secret_bytes(&one).unwrap();
        assert_eq!(
            kp.sign(&[0xFF, 0xFE], b"m").err(),
            Some(CryptoError::InvalidId)
        );
        let long = [b'a'; 8192];
        assert_eq!(kp.sign(&long, b"m").err(), Some(CryptoError::InvalidId));
        assert!(kp.sign(&long[..8191], b"m").is_ok());
        let sig = kp.sign(b"", b"m").unwrap();
        assert!(sm2_verify(kp.public_key_xy(), b"", b"m", &sig));
        assert!(!sm2_verify(kp.public_key_xy(), &[0xFF], b"m", &sig));
    }
}
