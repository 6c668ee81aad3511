//! Algorithm identifiers, keys and the card's block cipher.

use core::fmt;

use cipher::array::{Array, ArraySize};
use cipher::consts::{U8, U16};
use cipher::{Block, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use des::{Des, TdesEde2};
use sm4::Sm4;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::CryptoError;

/// The largest block length of any supported algorithm.
pub(crate) const MAX_BLOCK: usize = 16;

/// A working block: the first [`CardCipher::block_len`] bytes are used.
pub(crate) type State = [u8; MAX_BLOCK];

/// The social-security application's algorithm identifier (SSSE FCI tag `9F0C`,
/// PSAM key records).
///
/// The 8-byte-block family (DES / 3DES) and the 16-byte-block family differ in
/// every construction built on the cipher (P4 §8, §9; the constructions are in the `ssc` module).
/// SSF33 (id `02`) is a classified algorithm and is not supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Id `01`: DES with an 8-byte key or 2-key 3DES-EDE with a 16-byte key; 8-byte
    /// block.
    Des3,
    /// Id `03`: SM4 (GB/T 32907), 16-byte key, 16-byte block.
    Sm4,
}

impl Algorithm {
    /// The algorithm with social-security id `id` (`01` DES/3DES, `03` SM4), or
    /// `None` for any other value (including SSF33's `02`).
    #[must_use]
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            0x01 => Some(Self::Des3),
            0x03 => Some(Self::Sm4),
            _ => None,
        }
    }

    /// The social-security algorithm id.
    #[must_use]
    pub const fn id(self) -> u8 {
        match self {
            Self::Des3 => 0x01,
            Self::Sm4 => 0x03,
        }
    }

    /// The block length in bytes: 8 or 16.
    #[must_use]
    pub const fn block_len(self) -> usize {
        match self {
            Self::Des3 => 8,
            Self::Sm4 => 16,
        }
    }

    /// Whether a key of `len` bytes is valid for the algorithm (DES: 8 or 16,
    /// SM4: 16).
    #[must_use]
    pub const fn accepts_key_len(self, len: usize) -> bool {
        match self {
            Self::Des3 => len == 8 || len == 16,
            Self::Sm4 => len == 16,
        }
    }
}

#[derive(Clone)]
enum KeyRepr {
    Des([u8; 8]),
    Tdes2([u8; 16]),
    Sm4([u8; 16]),
}

/// Key material of one card key: the algorithm and 8 or 16 key bytes.
///
/// Derived keys (session keys, diversified keys, TAC keys) are returned as
/// `CardKey`. The bytes are wiped when the value is dropped; it is deliberately
/// not `Clone` and its `Debug` output hides the bytes.
pub struct CardKey {
    repr: KeyRepr,
}

impl CardKey {
    /// Key bytes for `alg`: DES 8 bytes (single DES) or 16 (2-key 3DES-EDE), SM4 16.
    ///
    /// # Errors
    /// [`CryptoError::KeyLength`] for any other length.
    pub fn new(alg: Algorithm, key: &[u8]) -> Result<Self, CryptoError> {
        let repr = match (alg, key.len()) {
            (Algorithm::Des3, 8) => KeyRepr::Des(to_array(key)?),
            (Algorithm::Des3, 16) => KeyRepr::Tdes2(to_array(key)?),
            (Algorithm::Sm4, 16) => KeyRepr::Sm4(to_array(key)?),
            _ => return Err(CryptoError::KeyLength),
        };
        Ok(Self { repr })
    }

    pub(crate) const fn des(key: [u8; 8]) -> Self {
        Self {
            repr: KeyRepr::Des(key),
        }
    }

    pub(crate) const fn tdes2(key: [u8; 16]) -> Self {
        Self {
            repr: KeyRepr::Tdes2(key),
        }
    }

    pub(crate) const fn sm4(key: [u8; 16]) -> Self {
        Self {
            repr: KeyRepr::Sm4(key),
        }
    }

    /// The key's algorithm.
    #[must_use]
    pub const fn algorithm(&self) -> Algorithm {
        match self.repr {
            KeyRepr::Des(_) | KeyRepr::Tdes2(_) => Algorithm::Des3,
            KeyRepr::Sm4(_) => Algorithm::Sm4,
        }
    }

    /// The key bytes (8 or 16).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.repr {
            KeyRepr::Des(k) => k,
            KeyRepr::Tdes2(k) | KeyRepr::Sm4(k) => k,
        }
    }

    /// A cipher keyed with this key.
    #[must_use]
    #[inline]
    pub fn cipher(&self) -> CardCipher {
        let inner = match &self.repr {
            KeyRepr::Des(k) => Inner::Des(Des::new(k.into())),
            KeyRepr::Tdes2(k) => Inner::Tdes2(TdesEde2::new(k.into())),
            KeyRepr::Sm4(k) => Inner::Sm4(Sm4::new(k.into())),
        };
        CardCipher { inner }
    }
}

impl Drop for CardKey {
    fn drop(&mut self) {
        match &mut self.repr {
            KeyRepr::Des(k) => k.zeroize(),
            KeyRepr::Tdes2(k) | KeyRepr::Sm4(k) => k.zeroize(),
        }
    }
}

impl ZeroizeOnDrop for CardKey {}

impl fmt::Debug for CardKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardKey")
            .field("algorithm", &self.algorithm())
            .field("len", &self.as_bytes().len())
            .finish_non_exhaustive()
    }
}

enum Inner {
    Des(Des),
    Tdes2(TdesEde2),
    Sm4(Sm4),
}

/// The card's block cipher: single DES, 2-key 3DES-EDE or SM4, chosen by the
/// algorithm and the key length.
///
/// The RustCrypto ciphers are built with their `zeroize` feature, so the key
/// schedule is wiped when the `CardCipher` is dropped. The raw key bytes given
/// to [`CardCipher::new`] are not kept.
pub struct CardCipher {
    inner: Inner,
}

impl CardCipher {
    /// A cipher for `alg` keyed with `key` (DES: 8 bytes single DES, 16 bytes
    /// 2-key 3DES-EDE; SM4: 16 bytes).
    ///
    /// # Errors
    /// [`CryptoError::KeyLength`] if the key length does not fit `alg`.
    #[inline]
    pub fn new(alg: Algorithm, key: &[u8]) -> Result<Self, CryptoError> {
        let inner = match (alg, key.len()) {
            (Algorithm::Des3, 8) => Inner::Des(Des::new_from_slice(key).map_err(key_len)?),
            (Algorithm::Des3, 16) => Inner::Tdes2(TdesEde2::new_from_slice(key).map_err(key_len)?),
            (Algorithm::Sm4, 16) => Inner::Sm4(Sm4::new_from_slice(key).map_err(key_len)?),
            _ => return Err(CryptoError::KeyLength),
        };
        Ok(Self { inner })
    }

    /// The cipher's algorithm family.
    #[must_use]
    pub const fn algorithm(&self) -> Algorithm {
        match self.inner {
            Inner::Des(_) | Inner::Tdes2(_) => Algorithm::Des3,
            Inner::Sm4(_) => Algorithm::Sm4,
        }
    }

    /// The block length in bytes: 8 or 16.
    #[must_use]
    pub const fn block_len(&self) -> usize {
        self.algorithm().block_len()
    }

    /// Encrypt one block in place.
    ///
    /// # Errors
    /// [`CryptoError::BlockLength`] unless `block.len() == self.block_len()`.
    pub fn encrypt_block(&self, block: &mut [u8]) -> Result<(), CryptoError> {
        self.one_block(block, Direction::Encrypt)
    }

    /// Decrypt one block in place.
    ///
    /// # Errors
    /// [`CryptoError::BlockLength`] unless `block.len() == self.block_len()`.
    pub fn decrypt_block(&self, block: &mut [u8]) -> Result<(), CryptoError> {
        self.one_block(block, Direction::Decrypt)
    }

    /// ECB-encrypt `data` in place, block by block.
    ///
    /// # Errors
    /// [`CryptoError::NotBlockAligned`] if `data` is not a whole number of
    /// blocks (an empty slice is accepted and left alone).
    pub fn encrypt_ecb(&self, data: &mut [u8]) -> Result<(), CryptoError> {
        self.ecb(data, Direction::Encrypt)
    }

    /// ECB-decrypt `data` in place, block by block.
    ///
    /// # Errors
    /// [`CryptoError::NotBlockAligned`] if `data` is not a whole number of
    /// blocks (an empty slice is accepted and left alone).
    pub fn decrypt_ecb(&self, data: &mut [u8]) -> Result<(), CryptoError> {
        self.ecb(data, Direction::Decrypt)
    }

    /// Exactly one block (else [`CryptoError::BlockLength`]), in place.
    fn one_block(&self, block: &mut [u8], direction: Direction) -> Result<(), CryptoError> {
        if block.len() != self.block_len() {
            return Err(CryptoError::BlockLength);
        }
        self.ecb(block, direction)
    }

    /// Whole blocks (else [`CryptoError::NotBlockAligned`]), in place, one by one.
    fn ecb(&self, data: &mut [u8], direction: Direction) -> Result<(), CryptoError> {
        match &self.inner {
            Inner::Des(c) => direction.apply(c, whole_blocks(data)?),
            Inner::Tdes2(c) => direction.apply(c, whole_blocks(data)?),
            Inner::Sm4(c) => direction.apply(c, whole_blocks(data)?),
        }
        Ok(())
    }

    /// Encrypt the first `block_len()` bytes of `state` in place (the rest is
    /// untouched). Infallible by construction; used by the chaining code.
    #[inline]
    pub(crate) fn encrypt_state(&self, state: &mut State) {
        let state: &mut Array<u8, U16> = state.into();
        match &self.inner {
            Inner::Des(c) => c.encrypt_block(state.split_ref_mut::<U8>().0),
            Inner::Tdes2(c) => c.encrypt_block(state.split_ref_mut::<U8>().0),
            Inner::Sm4(c) => c.encrypt_block(state),
        }
    }
}

impl fmt::Debug for CardCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.inner {
            Inner::Des(_) => "DES",
            Inner::Tdes2(_) => "3DES-EDE2",
            Inner::Sm4(_) => "SM4",
        };
        f.debug_struct("CardCipher")
            .field("cipher", &kind)
            .finish_non_exhaustive()
    }
}

impl From<&CardKey> for CardCipher {
    fn from(key: &CardKey) -> Self {
        key.cipher()
    }
}

/// Key check value: the first 3 bytes of `E(K, 00..00)` (one block of zeros).
///
/// # Errors
/// [`CryptoError::KeyLength`] if the key length does not fit `alg`.
pub fn kcv(alg: Algorithm, key: &[u8]) -> Result<[u8; 3], CryptoError> {
    let cipher = CardCipher::new(alg, key)?;
    let mut state: State = [0; MAX_BLOCK];
    cipher.encrypt_state(&mut state);
    let [a, b, c, ..] = state;
    Ok([a, b, c])
}

fn key_len(_: cipher::InvalidLength) -> CryptoError {
    CryptoError::KeyLength
}

fn to_array<const N: usize>(key: &[u8]) -> Result<[u8; N], CryptoError> {
    key.try_into().map_err(|_| CryptoError::KeyLength)
}

/// Which way a block cipher runs.
#[derive(Clone, Copy)]
enum Direction {
    Encrypt,
    Decrypt,
}

impl Direction {
    fn apply<C: BlockCipherEncrypt + BlockCipherDecrypt>(
        self,
        cipher: &C,
        blocks: &mut [Block<C>],
    ) {
        match self {
            Direction::Encrypt => cipher.encrypt_blocks(blocks),
            Direction::Decrypt => cipher.decrypt_blocks(blocks),
        }
    }
}

fn whole_blocks<B: ArraySize>(data: &mut [u8]) -> Result<&mut [Array<u8, B>], CryptoError> {
    match Array::slice_as_chunks_mut(data) {
        (blocks, []) => Ok(blocks),
        _ => Err(CryptoError::NotBlockAligned),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_ids() {
        assert_eq!(Algorithm::from_id(0x01), Some(Algorithm::Des3));
        assert_eq!(Algorithm::from_id(0x03), Some(Algorithm::Sm4));
        assert_eq!(Algorithm::from_id(0x02), None);
        assert_eq!(Algorithm::from_id(0x00), None);
        assert_eq!(Algorithm::from_id(0xFF), None);
        for a in [Algorithm::Des3, Algorithm::Sm4] {
            assert_eq!(Algorithm::from_id(a.id()), Some(a));
        }
        assert_eq!(Algorithm::Des3.block_len(), 8);
        assert_eq!(Algorithm::Sm4.block_len(), 16);
    }

    #[test]
    fn key_lengths() {
        for len in 0..40 {
            let key = [0x5Au8; 40];
            let des_ok = len == 8 || len == 16;
            assert_eq!(
                CardCipher::new(Algorithm::Des3, &key[..len]).is_ok(),
                des_ok
            );
            assert_eq!(CardKey::new(Algorithm::Des3, &key[..len]).is_ok(), des_ok);
            assert_eq!(
                CardCipher::new(Algorithm::Sm4, &key[..len]).is_ok(),
                len == 16
            );
            assert_eq!(CardKey::new(Algorithm::Sm4, &key[..len]).is_ok(), len == 16);
        }
        assert_eq!(
            CardCipher::new(Algorithm::Sm4, &[0; 8]).err(),
            Some(CryptoError::KeyLength)
        );
    }

    #[test]
    fn block_length_errors() {
        let c = CardCipher::new(Algorithm::Sm4, &[1; 16]).unwrap();
        let mut b = [0u8; 8];
        assert_eq!(c.encrypt_block(&mut b), Err(CryptoError::BlockLength));
        assert_eq!(c.decrypt_block(&mut b), Err(CryptoError::BlockLength));
        let mut b = [0u8; 17];
        assert_eq!(c.encrypt_ecb(&mut b), Err(CryptoError::NotBlockAligned));
        let d = CardCipher::new(Algorithm::Des3, &[1; 8]).unwrap();
        let mut b = [0u8; 16];
        assert_eq!(d.encrypt_block(&mut b), Err(CryptoError::BlockLength));
        assert!(d.encrypt_ecb(&mut b).is_ok());
        assert!(d.decrypt_ecb(&mut b).is_ok());
        assert_eq!(b, [0; 16]);
        assert!(d.encrypt_ecb(&mut []).is_ok());
    }

    #[test]
    fn state_matches_block() {
        for (alg, klen) in [
            (Algorithm::Des3, 8),
            (Algorithm::Des3, 16),
            (Algorithm::Sm4, 16),
        ] {
            let key: [u8; 16] = core::array::from_fn(|i| (i * 17 + 3) as u8);
            let c = CardCipher::new(alg, &key[..klen]).unwrap();
            let mut st: State = core::array::from_fn(|i| i as u8);
            let mut blk = st;
            c.encrypt_state(&mut st);
            let bl = c.block_len();
            c.encrypt_block(&mut blk[..bl]).unwrap();
            assert_eq!(st, blk);
            c.decrypt_block(&mut blk[..bl]).unwrap();
            assert_eq!(blk, core::array::from_fn(|i| i as u8));
        }
    }

    #[test]
    fn card_key_roundtrip() {
        let k = CardKey::new(Algorithm::Des3, &[7; 16]).unwrap();
        assert_eq!(k.algorithm(), Algorithm::Des3);
        assert_eq!(k.as_bytes(), &[7; 16]);
        assert_eq!(k.cipher().block_len(), 8);
        let k = CardKey::new(Algorithm::Sm4, &[7; 16]).unwrap();
        assert_eq!(CardCipher::from(&k).block_len(), 16);
    }
}
