//! Social-security card constructions (LD/T 32 parts 4, 7 and 9).
//!
//! | operation | 8-byte algorithm (DES/3DES) | 16-byte algorithm (SM4) | ref |
//! |---|---|---|---|
//! | session key | `DES/3DES(K, in ‖ 00..)`, 8 bytes | `SM4(K, in ‖ 00..)`, 16 bytes | P4 §8.4 |
//! | auth data | `DES(SK, P)` | `T = SM4(SK, P ‖ 00×8)`, `T[0..8] ⊕ T[8..16]` | P4 §9.3 |
//! | MAC | [`Mac`](super::Mac): leftmost 4 bytes | XOR of the four words | P4 §8.2.4 |
//! | SM encryption | `LD ‖ data ‖ 80 00..` (pad only if unaligned), ECB | same | P4 §8.3 |
//! | TAC key | `DTK_L ⊕ DTK_R` | `DTK` | P7 §15 |
//! | diversification | `DES(K,F)`; 3DES: `3DES(K,F) ‖ 3DES(K,¬F)` | `SM4(K, F ‖ ¬F)` | P9 §7.1.1, §7.2.1 |

use cipher::array::Array;
use cipher::consts::{U8, U16};
use zeroize::Zeroizing;

use super::CryptoError;
use super::block::{Algorithm, CardCipher, CardKey, MAX_BLOCK, State};

/// A session ("过程") key: a [`CardKey`] derived by [`session_key`]. Single-use by
/// the specification (P4 §8.4.1); build its cipher with [`CardKey::cipher`].
pub type SessionKey = CardKey;

/// Derive a session key from card key `key` and the session input (usually the
/// card's or the terminal's random) (P4 §8.4; P9 §7.1.5, §7.2.5).
///
/// * 8-byte algorithm: `input` (4 or 8 bytes) right-padded with `00` to 8 bytes;
///   single-length key: `DES(K, in)`, double-length key: 3DES-EDE
///   (`DES_KL(DES⁻¹_KR(DES_KL(in)))`). The session key is always a **single**
///   8-byte DES key.
/// * 16-byte algorithm: `input` (4, 8 or 16 bytes) right-padded with `00` to 16;
///   `SM4(K, in16)`, a 16-byte key.
///
/// # Errors
/// [`CryptoError::KeyLength`] for a bad key length; [`CryptoError::InputLength`]
/// if `input` is not 4, 8 or 16 bytes or is longer than the block.
#[inline]
pub fn session_key(alg: Algorithm, key: &[u8], input: &[u8]) -> Result<SessionKey, CryptoError> {
    let cipher = CardCipher::new(alg, key)?;
    if !matches!(input.len(), 4 | 8 | 16) || input.len() > alg.block_len() {
        return Err(CryptoError::InputLength);
    }
    let mut st = Zeroizing::new([0u8; MAX_BLOCK]);
    for (s, i) in st.iter_mut().zip(input) {
        *s = *i;
    }
    cipher.encrypt_state(&mut st);
    Ok(match alg {
        Algorithm::Des3 => CardKey::des(halves(&st).0),
        Algorithm::Sm4 => CardKey::sm4(*st),
    })
}

/// Authentication data ("鉴别数据", 8 bytes) over the original data `p`, under a
/// session-key cipher (P4 §9.3; INTERNAL/EXTERNAL AUTHENTICATE).
///
/// * 8-byte algorithm: `DES(SK, P)`;
/// * 16-byte algorithm: `T = SM4(SK, P ‖ 00×8)`, result `T[0..8] ⊕ T[8..16]`.
///
/// Compare a received value with [`ct_eq`](super::ct_eq).
#[must_use]
pub fn auth_data(session: &CardCipher, p: &[u8; 8]) -> [u8; 8] {
    let mut st: State = [0; MAX_BLOCK];
    for (s, i) in st.iter_mut().zip(p) {
        *s = *i;
    }
    session.encrypt_state(&mut st);
    let (l, r) = halves(&st);
    match session.algorithm() {
        Algorithm::Des3 => l,
        Algorithm::Sm4 => xor8(&l, &r),
    }
}

/// The TAC key from the purse's DTK (P7 §15): 8-byte algorithm
/// `DTK[0..8] ⊕ DTK[8..16]` as a single-DES key; 16-byte algorithm the DTK
/// itself. There is no session key: compute the TAC with [`Mac`](super::Mac)
/// (zero IV) under this key.
///
/// # Errors
/// [`CryptoError::KeyLength`] unless `dtk` is 16 bytes.
pub fn tac_key(alg: Algorithm, dtk: &[u8]) -> Result<CardKey, CryptoError> {
    let dtk: &[u8; 16] = dtk.try_into().map_err(|_| CryptoError::KeyLength)?;
    Ok(match alg {
        Algorithm::Des3 => {
            let (l, r) = halves(dtk);
            CardKey::des(xor8(&l, &r))
        }
        Algorithm::Sm4 => CardKey::sm4(*dtk),
    })
}

/// Length of the SM ciphertext for `plaintext_len` bytes of data: `1 + len`
/// rounded up to the block length.
#[must_use]
pub const fn sm_encrypted_len(alg: Algorithm, plaintext_len: usize) -> usize {
    let bl = alg.block_len();
    (plaintext_len + 1).div_ceil(bl).saturating_mul(bl)
}

/// Secure-messaging data encryption (P4 §8.3; P9 §7.1.2): the block
/// `LD ‖ plaintext`, padded with `80 00..` **only if** not block-aligned, ECB
/// under `cipher`, written to `out`. Returns the ciphertext length
/// ([`sm_encrypted_len`]).
///
/// LD is one byte, so the plaintext is at most 255 bytes. An empty plaintext
/// (LD = 0) is accepted, although P4 §8.3.3 expects LD ≥ 1 for 16-byte algorithms.
///
/// # Errors
/// [`CryptoError::InputLength`] for more than 255 bytes of plaintext;
/// [`CryptoError::BufferTooSmall`] if `out` is shorter than the ciphertext.
pub fn sm_encrypt(
    cipher: &CardCipher,
    plaintext: &[u8],
    out: &mut [u8],
) -> Result<usize, CryptoError> {
    let ld = u8::try_from(plaintext.len()).map_err(|_| CryptoError::InputLength)?;
    let n = sm_encrypted_len(cipher.algorithm(), plaintext.len());
    let buf = out.get_mut(..n).ok_or(CryptoError::BufferTooSmall)?;
    let (ld_byte, rest) = buf.split_first_mut().ok_or(CryptoError::BufferTooSmall)?;
    *ld_byte = ld;
    let (data, pad) = rest
        .split_at_mut_checked(plaintext.len())
        .ok_or(CryptoError::BufferTooSmall)?;
    data.copy_from_slice(plaintext);
    if let Some((first, zeros)) = pad.split_first_mut() {
        *first = 0x80;
        zeros.fill(0);
    }
    cipher.encrypt_ecb(buf)?;
    Ok(n)
}

/// Secure-messaging data decryption (P4 §8.3.4) into `out`; returns the
/// plaintext without LD and padding (a sub-slice of `out`).
///
/// Verify the command MAC over the ciphertext before decrypting.
///
/// # Errors
/// [`CryptoError::NotBlockAligned`] if `ciphertext` is empty or not a whole
/// number of blocks; [`CryptoError::BufferTooSmall`] if `out` is shorter than
/// `ciphertext`; otherwise as [`sm_decrypt_in_place`].
pub fn sm_decrypt<'o>(
    cipher: &CardCipher,
    ciphertext: &[u8],
    out: &'o mut [u8],
) -> Result<&'o [u8], CryptoError> {
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(cipher.block_len()) {
        return Err(CryptoError::NotBlockAligned);
    }
    let buf = out
        .get_mut(..ciphertext.len())
        .ok_or(CryptoError::BufferTooSmall)?;
    buf.copy_from_slice(ciphertext);
    sm_decrypt_in_place(cipher, buf)
}

/// [`sm_decrypt`] in place: decrypts `buf` (e.g. the APDU data field) and
/// returns the plaintext as a sub-slice of it.
///
/// The decrypted block must be `LD ‖ LD bytes ‖ padding`, where the padding is
/// empty if `1 + LD` is block-aligned and otherwise `80 00..` up to the end of
/// the block. `buf` is decrypted in place even when the format check then
/// fails.
///
/// # Errors
/// [`CryptoError::NotBlockAligned`] if `buf` is empty or not a whole number of
/// blocks; [`CryptoError::BadLength`] if LD is larger than the data present or
/// leaves a whole block or more of padding; [`CryptoError::BadPadding`] if the
/// padding is not `80 00..`.
pub fn sm_decrypt_in_place<'b>(
    cipher: &CardCipher,
    buf: &'b mut [u8],
) -> Result<&'b [u8], CryptoError> {
    if buf.is_empty() {
        return Err(CryptoError::NotBlockAligned);
    }
    cipher.decrypt_ecb(buf)?;
    let buf: &'b [u8] = buf;
    let (ld, rest) = buf.split_first().ok_or(CryptoError::NotBlockAligned)?;
    let (data, pad) = rest
        .split_at_checked(usize::from(*ld))
        .ok_or(CryptoError::BadLength)?;
    if pad.len() >= cipher.block_len() {
        return Err(CryptoError::BadLength);
    }
    match pad.split_first() {
        None => Ok(data),
        Some((0x80, zeros)) if zeros.iter().all(|z| *z == 0) => Ok(data),
        Some(_) => Err(CryptoError::BadPadding),
    }
}

/// Key diversification ("分散") with an 8-byte factor (P9 §7.1.1, §7.2.1):
///
/// * single DES (8-byte parent): `DES(K, F)`, an 8-byte key;
/// * 2-key 3DES (16-byte parent): `3DES(K, F) ‖ 3DES(K, ¬F)` (bitwise NOT), 16 bytes;
/// * SM4: `SM4(K, F ‖ ¬F)`, 16 bytes (the SSF33 scheme of P9 §7.2.1 applied to SM4).
///
/// No parity adjustment is made (the specification does not ask for one).
///
/// # Errors
/// [`CryptoError::KeyLength`] if the parent key length does not fit `alg`.
pub fn diversify(alg: Algorithm, parent: &[u8], factor: &[u8; 8]) -> Result<CardKey, CryptoError> {
    let cipher = CardCipher::new(alg, parent)?;
    let not_f = factor.map(|b| !b);
    let encrypt = |l: &[u8; 8], r: &[u8; 8]| {
        let mut st = Zeroizing::new(join(l, r));
        cipher.encrypt_state(&mut st);
        st
    };
    Ok(match (alg, parent.len()) {
        (Algorithm::Des3, 8) => CardKey::des(halves(&encrypt(factor, &[0; 8])).0),
        (Algorithm::Des3, _) => {
            let l = Zeroizing::new(halves(&encrypt(factor, &[0; 8])).0);
            let r = Zeroizing::new(halves(&encrypt(&not_f, &[0; 8])).0);
            CardKey::tdes2(join(&l, &r))
        }
        (Algorithm::Sm4, _) => CardKey::sm4(*encrypt(factor, &not_f)),
    })
}

/// Diversify `root` through several levels, highest level first (province,
/// city, card: P9 §7.3, "root →(L1)→ →(L2)→ →(L3)→ card key"). Note that the
/// PSAM's `BF DE` command lists the factors the other way round (card first).
///
/// # Errors
/// [`CryptoError::KeyLength`] if the root key length does not fit `alg`.
pub fn diversify_path(
    alg: Algorithm,
    root: &[u8],
    factors: &[[u8; 8]],
) -> Result<CardKey, CryptoError> {
    let mut key = CardKey::new(alg, root)?;
    for f in factors {
        key = diversify(alg, key.as_bytes(), f)?;
    }
    Ok(key)
}

/// Level-1 (province) factor (P9 §7.3.1): the first two ASCII digits of the
/// 6-digit area code ‖ `30 30 30 30 73 68` ("0000sh"); `650100` gives
/// `36 35 30 30 30 30 73 68`.
///
/// # Errors
/// [`CryptoError::InvalidDigits`] unless `area_code` is 6 ASCII digits.
pub fn province_factor(area_code: &[u8; 6]) -> Result<[u8; 8], CryptoError> {
    let [a, b, ..] = ascii_digits(area_code)?;
    Ok([a, b, 0x30, 0x30, 0x30, 0x30, 0x73, 0x68])
}

/// Level-2 (city) factor (P9 §7.3.2): the 6 ASCII digits of the area code ‖
/// `73 78` ("sx"); `650100` gives `36 35 30 31 30 30 73 78`.
///
/// A terminal-side note (ssc.md §6.2) reports that for area codes starting
/// with `33` (Zhejiang) the level-2 factor is built from the first 4 digits
/// ‖ `00`; callers needing that pass the area code with its last two digits
/// set to `0`.
///
/// # Errors
/// [`CryptoError::InvalidDigits`] unless `area_code` is 6 ASCII digits.
pub fn city_factor(area_code: &[u8; 6]) -> Result<[u8; 8], CryptoError> {
    let [a, b, c, d, e, f] = ascii_digits(area_code)?;
    Ok([a, b, c, d, e, f, 0x73, 0x78])
}

/// Level-3 (card) factor (P9 §7.3.3): ATR historical bytes 6..=13 (1-based,
/// T6..TD).
///
/// # Errors
/// [`CryptoError::HistoricalBytesTooShort`] with fewer than 13 historical bytes.
pub fn card_factor(historical_bytes: &[u8]) -> Result<[u8; 8], CryptoError> {
    historical_bytes
        .get(5..13)
        .and_then(|s| s.try_into().ok())
        .ok_or(CryptoError::HistoricalBytesTooShort)
}

fn ascii_digits(s: &[u8; 6]) -> Result<[u8; 6], CryptoError> {
    if s.iter().all(u8::is_ascii_digit) {
        Ok(*s)
    } else {
        Err(CryptoError::InvalidDigits)
    }
}

pub(crate) fn halves(b: &[u8; 16]) -> ([u8; 8], [u8; 8]) {
    let (l, r) = Array::<u8, U16>::from(*b).split::<U8>();
    (l.into(), r.into())
}

pub(crate) fn join(l: &[u8; 8], r: &[u8; 8]) -> [u8; 16] {
    Array::<u8, U8>::from(*l)
        .concat(Array::<u8, U8>::from(*r))
        .into()
}

pub(crate) fn xor8(a: &[u8; 8], b: &[u8; 8]) -> [u8; 8] {
    let mut out = *a;
    for (o, y) in out.iter_mut().zip(b) {
        *o ^= *y;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn factors() {
        assert_eq!(
            city_factor(b"650100").unwrap(),
            [0x36, 0x35, 0x30, 0x31, 0x30, 0x30, 0x73, 0x78]
        );
        assert_eq!(
            province_factor(b"650100").unwrap(),
            [0x36, 0x35, 0x30, 0x30, 0x30, 0x30, 0x73, 0x68]
        );
        assert_eq!(city_factor(b"65010X"), Err(CryptoError::InvalidDigits));
        assert_eq!(province_factor(b" 50100"), Err(CryptoError::InvalidDigits));
        let hist: [u8; 15] = core::array::from_fn(|i| i as u8 + 1);
        assert_eq!(card_factor(&hist).unwrap(), [6, 7, 8, 9, 10, 11, 12, 13]);
        assert_eq!(
            card_factor(&hist[..13]).unwrap(),
            [6, 7, 8, 9, 10, 11, 12, 13]
        );
        assert_eq!(
            card_factor(&hist[..12]),
            Err(CryptoError::HistoricalBytesTooShort)
        );
        assert_eq!(card_factor(&[]), Err(CryptoError::HistoricalBytesTooShort));
    }

    #[test]
    fn session_input_lengths() {
        for len in 0..20 {
            let input = [0xA5u8; 20];
            let des = session_key(Algorithm::Des3, &[1; 16], &input[..len]);
            assert_eq!(des.is_ok(), len == 4 || len == 8, "des {len}");
            let sm4 = session_key(Algorithm::Sm4, &[1; 16], &input[..len]);
            assert_eq!(sm4.is_ok(), matches!(len, 4 | 8 | 16), "sm4 {len}");
        }
        assert_eq!(
            session_key(Algorithm::Sm4, &[1; 8], &[0; 8]).err(),
            Some(CryptoError::KeyLength)
        );
        let sk = session_key(Algorithm::Des3, &[1; 16], &[0; 4]).unwrap();
        assert_eq!(sk.as_bytes().len(), 8);
        // A 4-byte input is the same as the input padded with zeros.
        let sk8 = session_key(Algorithm::Des3, &[1; 16], &[0; 8]).unwrap();
        assert_eq!(sk.as_bytes(), sk8.as_bytes());
    }

    #[test]
    fn tac_key_lengths() {
        assert_eq!(
            tac_key(Algorithm::Des3, &[0; 8]).err(),
            Some(CryptoError::KeyLength)
        );
        let mut dtk = [0u8; 16];
        dtk[0] = 0xF0;
        dtk[8] = 0x0F;
        assert_eq!(
            tac_key(Algorithm::Des3, &dtk).unwrap().as_bytes(),
            &[0xFF, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(tac_key(Algorithm::Sm4, &dtk).unwrap().as_bytes(), &dtk);
    }

    #[test]
    fn sm_lengths_and_errors() {
        assert_eq!(sm_encrypted_len(Algorithm::Des3, 0), 8);
        assert_eq!(sm_encrypted_len(Algorithm::Des3, 7), 8);
        assert_eq!(sm_encrypted_len(Algorithm::Des3, 8), 16);
        assert_eq!(sm_encrypted_len(Algorithm::Sm4, 3), 16);
        assert_eq!(sm_encrypted_len(Algorithm::Sm4, 15), 16);
        assert_eq!(sm_encrypted_len(Algorithm::Sm4, 16), 32);

        let c = CardCipher::new(Algorithm::Sm4, &[2; 16]).unwrap();
        let mut out = [0u8; 300];
        assert_eq!(
            sm_encrypt(&c, &[0; 256], &mut out),
            Err(CryptoError::InputLength)
        );
        assert_eq!(
            sm_encrypt(&c, &[0; 15], &mut out[..15]),
            Err(CryptoError::BufferTooSmall)
        );
        assert_eq!(sm_encrypt(&c, &[0; 255], &mut out), Ok(256));

        let mut small = [0u8; 8];
        assert_eq!(
            sm_decrypt(&c, &[0; 16], &mut small),
            Err(CryptoError::BufferTooSmall)
        );
        assert_eq!(
            sm_decrypt(&c, &[0; 8], &mut out),
            Err(CryptoError::NotBlockAligned)
        );
        assert_eq!(
            sm_decrypt(&c, &[], &mut out),
            Err(CryptoError::NotBlockAligned)
        );
        assert_eq!(
            sm_decrypt_in_place(&c, &mut []),
            Err(CryptoError::NotBlockAligned)
        );
    }

    /// Encrypt a raw (already formatted) block sequence, then check what
    /// decryption says about it.
    fn decrypt_raw(c: &CardCipher, plain: &[u8]) -> Result<([u8; 64], usize), CryptoError> {
        let mut buf = [0u8; 64];
        buf[..plain.len()].copy_from_slice(plain);
        c.encrypt_ecb(&mut buf[..plain.len()]).unwrap();
        let mut out = [0u8; 64];
        let pt = sm_decrypt(c, &buf[..plain.len()], &mut out)?;
        let mut r = [0u8; 64];
        r[..pt.len()].copy_from_slice(pt);
        Ok((r, pt.len()))
    }

    #[test]
    fn sm_decrypt_format_checks() {
        let c = CardCipher::new(Algorithm::Des3, &[3; 8]).unwrap();
        // Good: LD=3, data, 80 00 00 00.
        let (pt, n) = decrypt_raw(&c, &[3, 1, 2, 3, 0x80, 0, 0, 0]).unwrap();
        assert_eq!(&pt[..n], &[1, 2, 3]);
        // Good: aligned, no padding.
        let (pt, n) = decrypt_raw(&c, &[7, 1, 2, 3, 4, 5, 6, 7]).unwrap();
        assert_eq!(&pt[..n], &[1, 2, 3, 4, 5, 6, 7]);
        let refused: [(&[u8], CryptoError); 5] = [
            // LD too large.
            (&[8, 1, 2, 3, 4, 5, 6, 7], CryptoError::BadLength),
            (&[0xFF, 1, 2, 3, 4, 5, 6, 7], CryptoError::BadLength),
            // Bad padding byte / non-zero tail.
            (&[3, 1, 2, 3, 0x00, 0, 0, 0], CryptoError::BadPadding),
            (&[3, 1, 2, 3, 0x80, 0, 1, 0], CryptoError::BadPadding),
            // A whole extra padding block is not P4 §8.3 format.
            (
                &[7, 1, 2, 3, 4, 5, 6, 7, 0x80, 0, 0, 0, 0, 0, 0, 0],
                CryptoError::BadLength,
            ),
        ];
        for (ciphertext, error) in refused {
            assert_eq!(
                decrypt_raw(&c, ciphertext).err(),
                Some(error),
                "{ciphertext:02X?}"
            );
        }
        // LD = 0 with padding.
        let (_, n) = decrypt_raw(&c, &[0, 0x80, 0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn diversify_lengths() {
        let f = [1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(
            diversify(Algorithm::Des3, &[0; 8], &f)
                .unwrap()
                .as_bytes()
                .len(),
            8
        );
        assert_eq!(
            diversify(Algorithm::Des3, &[0; 16], &f)
                .unwrap()
                .as_bytes()
                .len(),
            16
        );
        assert_eq!(
            diversify(Algorithm::Sm4, &[0; 16], &f).unwrap().algorithm(),
            Algorithm::Sm4
        );
        assert!(diversify(Algorithm::Sm4, &[0; 8], &f).is_err());
        assert!(diversify(Algorithm::Des3, &[0; 24], &f).is_err());
        // A 3DES key with K_L = K_R is single DES: left half of the child equals the
        // single-DES child.
        let single = diversify(Algorithm::Des3, &[0x11; 8], &f).unwrap();
        let double = diversify(Algorithm::Des3, &[0x11; 16], &f).unwrap();
        assert_eq!(&double.as_bytes()[..8], single.as_bytes());
    }

    #[test]
    fn auth_data_sm4_folds() {
        let sk = CardKey::new(Algorithm::Sm4, &[5; 16]).unwrap();
        let c = sk.cipher();
        let p = [9u8; 8];
        let mut t = [0u8; 16];
        t[..8].copy_from_slice(&p);
        c.encrypt_block(&mut t).unwrap();
        let want: [u8; 8] = core::array::from_fn(|i| t[i] ^ t[i + 8]);
        assert_eq!(auth_data(&c, &p), want);
    }
}
