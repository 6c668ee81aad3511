//! CBC-MACs: the social-security card MAC (P4 §8.2.4) and the ISO/IEC 9797-1
//! "retail" MAC (algorithm 3) of EMV/PBOC and the PSAM.
//!
//! Both take their input in any number of pieces (`update`), so a caller can MAC
//! `header ‖ data` straight from where the bytes are, without concatenating. Both
//! pad with ISO/IEC 9797-1 method 2: a `80` byte is always appended, then `00`s up
//! to the block boundary, so block-aligned data gets a whole extra block.

use cipher::array::Array;
use cipher::consts::U8;
use cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use des::Des;
use zeroize::Zeroize;

use super::CryptoError;
use super::block::{CardCipher, MAX_BLOCK, State};

/// The CBC chaining state shared by the MACs: XOR input into `state`, encrypt
/// each time a block is full.
///
/// Because padding method 2 always adds at least one byte, a full block is never
/// the last one, so it can be encrypted as soon as it fills.
struct Cbc {
    state: State,
    pos: usize,
    block_len: usize,
}

impl Cbc {
    /// `iv` is right-padded with `00` to the block; the caller checked its length.
    fn new(block_len: usize, iv: &[u8]) -> Self {
        let mut state: State = [0; MAX_BLOCK];
        for (s, v) in state.iter_mut().zip(iv) {
            *s = *v;
        }
        Self {
            state,
            pos: 0,
            block_len,
        }
    }

    #[inline]
    fn update(&mut self, mut data: &[u8], mut encrypt: impl FnMut(&mut State)) {
        while !data.is_empty() {
            let room = self.block_len.saturating_sub(self.pos);
            let Some((head, rest)) = data.split_at_checked(room.min(data.len())) else {
                break;
            };
            for (s, d) in self.state.iter_mut().skip(self.pos).zip(head) {
                *s ^= *d;
            }
            self.pos += head.len();
            if self.pos >= self.block_len {
                encrypt(&mut self.state);
                self.pos = 0;
            }
            data = rest;
        }
    }

    /// Append the `80 00..` padding to the open block (the zeros are implicit:
    /// XOR with 0). The caller then encrypts the last block.
    fn pad(&mut self) {
        if let Some(s) = self.state.get_mut(self.pos) {
            *s ^= 0x80;
        }
    }
}

/// The social-security card MAC (P4 §8.2.4; also the TAC, P7 §15, and the PSAM
/// `80FA` MAC chains, P9 §9.8).
///
/// CBC over the method-2-padded data under the cipher, starting from an IV
/// (normally all zeros). Output, 4 bytes:
/// * 8-byte algorithm: the leftmost 4 bytes of the last block (P4 §8.2.4.1);
/// * 16-byte algorithm: the XOR of the four 4-byte words of the last block
///   (P4 §8.2.4.2).
///
/// P4 MAC keys are single-length DES session keys. With a 16-byte DES key this
/// computes plain CBC-3DES (ISO/IEC 9797-1 algorithm 1); the PSAM's double-key
/// key-load MAC (P9 §7.1.3) is algorithm 3 instead: use [`RetailMac`] and keep
/// its first 4 bytes.
///
/// ```
/// use sscard_core::crypto::{Algorithm, CardCipher, Mac};
/// let cipher = CardCipher::new(Algorithm::Sm4, &[0x11; 16])?;
/// let mut mac = Mac::zero_iv(&cipher);
/// mac.update(&[0x84, 0x24, 0x00, 0x00, 0x04]); // header, Lc counts the MAC
/// let tag: [u8; 4] = mac.finish();
/// # let _ = tag;
/// # Ok::<(), sscard_core::crypto::CryptoError>(())
/// ```
pub struct Mac<'c> {
    cipher: &'c CardCipher,
    cbc: Cbc,
}

impl<'c> Mac<'c> {
    /// Start a MAC with an initial value: `iv` is right-padded with `00` to the
    /// block length, so an empty `iv` means the all-zero IV of P4, a 4-byte PSAM
    /// challenge becomes `challenge ‖ 00..` (P9 §7.1.3) and the PKI application
    /// passes its 16-byte challenge.
    ///
    /// # Errors
    /// [`CryptoError::InputLength`] if `iv` is longer than a block.
    pub fn new(cipher: &'c CardCipher, iv: &[u8]) -> Result<Self, CryptoError> {
        if iv.len() > cipher.block_len() {
            return Err(CryptoError::InputLength);
        }
        Ok(Self {
            cipher,
            cbc: Cbc::new(cipher.block_len(), iv),
        })
    }

    /// Start a MAC with the all-zero IV (P4 §8.2.4 step 1).
    #[must_use]
    pub fn zero_iv(cipher: &'c CardCipher) -> Self {
        Self {
            cipher,
            cbc: Cbc::new(cipher.block_len(), &[]),
        }
    }

    /// Feed more data.
    pub fn update(&mut self, data: &[u8]) {
        let cipher = self.cipher;
        self.cbc.update(data, |st| cipher.encrypt_state(st));
    }

    /// Pad, finish the chain and return the 4-byte MAC.
    #[must_use]
    pub fn finish(mut self) -> [u8; 4] {
        self.cbc.pad();
        self.cipher.encrypt_state(&mut self.cbc.state);
        let [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p] = self.cbc.state;
        if self.cbc.block_len == 8 {
            [a, b, c, d]
        } else {
            [a ^ e ^ i ^ m, b ^ f ^ j ^ n, c ^ g ^ k ^ o, d ^ h ^ l ^ p]
        }
    }
}

/// One-shot [`Mac`]: the 4-byte card MAC of `data` with IV `iv` (right-padded
/// with `00`; pass `&[]` for the zero IV).
///
/// # Errors
/// [`CryptoError::InputLength`] if `iv` is longer than a block.
pub fn card_mac(cipher: &CardCipher, iv: &[u8], data: &[u8]) -> Result<[u8; 4], CryptoError> {
    let mut m = Mac::new(cipher, iv)?;
    m.update(data);
    Ok(m.finish())
}

/// ISO/IEC 9797-1 MAC algorithm 3 ("retail MAC") with padding method 2, for a
/// 2-key (16-byte) DES key `K = K_L ‖ K_R`: single-DES CBC under `K_L` over all
/// blocks, then the last block is decrypted under `K_R` and encrypted under `K_L`.
///
/// Used by EMV/PBOC (JR/T 0025) for the issuer-script MAC and by the PSAM for
/// double-key MACs (P9 §7.1.3, with a 4-byte challenge ‖ `00000000` as IV). The
/// result is the full 8-byte block; callers truncate (usually to 4 bytes).
/// Both DES key schedules are wiped on drop.
pub struct RetailMac {
    left: Des,
    right: Des,
    cbc: Cbc,
}

impl RetailMac {
    /// Start with key `key` and IV `iv` (all zeros for EMV).
    #[must_use]
    pub fn new(key: &[u8; 16], iv: &[u8; 8]) -> Self {
        let [
            l0,
            l1,
            l2,
            l3,
            l4,
            l5,
            l6,
            l7,
            r0,
            r1,
            r2,
            r3,
            r4,
            r5,
            r6,
            r7,
        ] = *key;
        let mut kl = [l0, l1, l2, l3, l4, l5, l6, l7];
        let mut kr = [r0, r1, r2, r3, r4, r5, r6, r7];
        let left = Des::new((&kl).into());
        let right = Des::new((&kr).into());
        kl.zeroize();
        kr.zeroize();
        Self {
            left,
            right,
            cbc: Cbc::new(8, iv),
        }
    }

    /// Feed more data.
    pub fn update(&mut self, data: &[u8]) {
        let left = &self.left;
        self.cbc.update(data, |st| left.encrypt_block(low8(st)));
    }

    /// Pad, finish and return the 8-byte MAC.
    #[must_use]
    pub fn finish(mut self) -> [u8; 8] {
        self.cbc.pad();
        let block = low8(&mut self.cbc.state);
        self.left.encrypt_block(block);
        self.right.decrypt_block(block);
        self.left.encrypt_block(block);
        (*block).into()
    }
}

/// One-shot [`RetailMac`] over the concatenation of `parts`.
#[must_use]
pub fn retail_mac(key: &[u8; 16], iv: &[u8; 8], parts: &[&[u8]]) -> [u8; 8] {
    let mut m = RetailMac::new(key, iv);
    for p in parts {
        m.update(p);
    }
    m.finish()
}

fn low8(state: &mut State) -> &mut Array<u8, U8> {
    let state: &mut Array<u8, cipher::consts::U16> = state.into();
    state.split_ref_mut::<U8>().0
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::crypto::block::Algorithm;

    fn split_all(cipher: &CardCipher, iv: &[u8], data: &[u8]) {
        let whole = card_mac(cipher, iv, data).unwrap();
        for cut1 in 0..=data.len() {
            for cut2 in cut1..=data.len() {
                let mut m = Mac::new(cipher, iv).unwrap();
                m.update(&data[..cut1]);
                m.update(&[]);
                m.update(&data[cut1..cut2]);
                m.update(&data[cut2..]);
                assert_eq!(m.finish(), whole);
            }
        }
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data: [u8; 40] = core::array::from_fn(|i| (i * 7 + 1) as u8);
        for (alg, klen) in [
            (Algorithm::Des3, 8),
            (Algorithm::Des3, 16),
            (Algorithm::Sm4, 16),
        ] {
            let c = CardCipher::new(alg, &[0x3C; 16][..klen]).unwrap();
            for len in [0, 1, 7, 8, 9, 16, 17, 33, 40] {
                split_all(&c, &[], &data[..len]);
                split_all(&c, &[1, 2, 3, 4], &data[..len]);
            }
        }
    }

    #[test]
    fn iv_too_long() {
        let c = CardCipher::new(Algorithm::Des3, &[1; 8]).unwrap();
        assert_eq!(Mac::new(&c, &[0; 9]).err(), Some(CryptoError::InputLength));
        assert!(Mac::new(&c, &[0; 8]).is_ok());
        let c = CardCipher::new(Algorithm::Sm4, &[1; 16]).unwrap();
        assert!(card_mac(&c, &[0; 17], b"x").is_err());
        assert!(card_mac(&c, &[0; 16], b"x").is_ok());
    }

    #[test]
    fn zero_iv_is_empty_iv() {
        let c = CardCipher::new(Algorithm::Sm4, &[9; 16]).unwrap();
        let mut m = Mac::zero_iv(&c);
        m.update(b"hello");
        assert_eq!(m.finish(), card_mac(&c, &[0; 16], b"hello").unwrap());
        assert_eq!(
            card_mac(&c, &[], b"hello").unwrap(),
            card_mac(&c, &[0; 4], b"hello").unwrap()
        );
    }

    #[test]
    fn retail_incremental() {
        let key: [u8; 16] = core::array::from_fn(|i| (i * 29 + 5) as u8);
        let data: [u8; 30] = core::array::from_fn(|i| i as u8);
        let whole = retail_mac(&key, &[0; 8], &[&data]);
        for cut in 0..=data.len() {
            assert_eq!(
                retail_mac(&key, &[0; 8], &[&data[..cut], &data[cut..]]),
                whole
            );
        }
        // With K_L == K_R algorithm 3 collapses to single-DES CBC (algorithm 1).
        let k8 = [0x42u8; 8];
        let mut k16 = [0x42u8; 16];
        k16[8..].copy_from_slice(&k8);
        let c = CardCipher::new(Algorithm::Des3, &k8).unwrap();
        let full = retail_mac(&k16, &[0; 8], &[&data]);
        assert_eq!(card_mac(&c, &[], &data).unwrap(), full[..4]);
    }
}
