//! RSA offline data authentication (EMV 4.x Book 2 §5–6, PBOC 3.0 part 5; qPBOC fDDA
//! after JR/T 0025.12; pboc.md §2.17).
//!
//! Everything signed here is an RSA "signature with message recovery" (Book 2 Annex A2.1):
//! a block as long as the signer's modulus, `6A ‖ data ‖ SHA-1(data ‖ extra) ‖ BC`, raised
//! to the signer's private exponent. The signer is the CA (issuer certificate `90`), the
//! issuer (ICC certificate `9F46`, signed static application data `93`) or the card
//! (signed dynamic application data `9F4B`). Only the last runs on the card; the others are
//! the personalization side, kept here so that one piece of code owns each table's layout.
//!
//! The private operation is a Montgomery exponentiation on a fixed-size integer
//! (`crypto-bigint`), constant time in the exponent's value (its length, the modulus
//! length, is public), no heap. The card's own key works on 1152 bits
//! ([`MAX_CARD_MODULUS_LEN`]): one width keeps the flash cost of the arithmetic to one
//! instance. The personalization side signs certificates with CA and issuer keys up to
//! [`MAX_MODULUS_LEN`] on 2048 bits; the card never links that width.

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Limb, Odd, U2048, Uint};
use heapless::Vec;
use sha1::{Digest, Sha1};
use sscard_core::status::{Result, Status};
use zeroize::{Zeroize, Zeroizing};

/// Shortest modulus accepted (512 bits; EMV keys are 1024 bits and up, tests go lower).
pub const MIN_MODULUS_LEN: usize = 64;
/// Longest modulus EMV allows (1984 bits, Book 2 §5.1).
pub const MAX_MODULUS_LEN: usize = 248;
/// Longest modulus the card's own operations take (1152 bits; `perso` limits the ICC key
/// to it so that the qPBOC GPO answer with `9F4B` fits in 256 bytes).
pub const MAX_CARD_MODULUS_LEN: usize = 144;
/// Limbs of the card's integers: 1152 bits on either word size.
const CARD_LIMBS: usize = (8 * MAX_CARD_MODULUS_LEN) / Limb::BITS as usize;
/// Hash algorithm indicator SHA-1 (Book 2 Annex B2.3).
pub const HASH_ALGORITHM_SHA1: u8 = 0x01;
/// Public key algorithm indicator RSA (Book 2 Annex B2.2).
pub const PUBLIC_KEY_ALGORITHM_RSA: u8 = 0x01;
/// Recovered data header (Book 2 Tables 6, 13, 14, 17).
pub const RECOVERED_DATA_HEADER: u8 = 0x6A;
/// Recovered data trailer.
pub const RECOVERED_DATA_TRAILER: u8 = 0xBC;
/// Padding byte of the recovered data.
pub const PAD: u8 = 0xBB;
/// Length of a SHA-1 hash.
pub const HASH_LEN: usize = 20;
/// Certificate format of an issuer public key certificate (Book 2 Table 13).
pub const ISSUER_CERTIFICATE_FORMAT: u8 = 0x02;
/// Signed data format of signed static application data (Book 2 Table 7).
pub const SSAD_FORMAT: u8 = 0x03;
/// Certificate format of an ICC public key certificate (Book 2 Table 14).
pub const ICC_CERTIFICATE_FORMAT: u8 = 0x04;
/// Signed data format of signed dynamic application data (Book 2 Table 17).
pub const SDAD_FORMAT: u8 = 0x05;

/// A byte string as long as a modulus, at most [`MAX_MODULUS_LEN`].
pub type Block = Vec<u8, MAX_MODULUS_LEN>;

/// An RSA private key as the card keeps it: modulus and private exponent, big-endian,
/// the exponent left-padded to the modulus length.
#[derive(Clone, Copy)]
pub struct RsaPrivateKey<'a> {
    modulus: &'a [u8],
    private_exponent: &'a [u8],
}

/// A key's debug output: its size, never key material.
fn debug_key(f: &mut core::fmt::Formatter<'_>, name: &str, modulus: &[u8]) -> core::fmt::Result {
    f.debug_struct(name)
        .field("modulus_len", &modulus.len())
        .finish_non_exhaustive()
}

/// An EMV RSA modulus of `MIN_MODULUS_LEN`–`max_len` bytes: odd, top bit set.
fn modulus_ok(modulus: &[u8], max_len: usize) -> bool {
    let top = modulus.first().copied().unwrap_or(0);
    (MIN_MODULUS_LEN..=max_len).contains(&modulus.len()) && top >= 0x80 && is_odd(modulus)
}

fn is_odd(v: &[u8]) -> bool {
    v.last().is_some_and(|b| b & 1 == 1)
}

/// A private-operation input: exactly as long as the modulus and below it, else `6A80`.
fn check_input(modulus: &[u8], input: &[u8]) -> Result<()> {
    if input.len() != modulus.len() || input >= modulus {
        return Err(Status::WrongData);
    }
    Ok(())
}

/// The last `len` bytes of a big-endian integer encoding, as a block.
fn right_aligned(bytes: &[u8], len: usize) -> Result<Block> {
    let skip = bytes.len().checked_sub(len).ok_or(Status::WrongData)?;
    let mut out = Block::new();
    out.extend_from_slice(bytes.get(skip..).unwrap_or(&[]))
        .map_err(|_| Status::WrongData)?;
    Ok(out)
}

impl core::fmt::Debug for RsaPrivateKey<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        debug_key(f, "RsaPrivateKey", self.modulus)
    }
}

impl<'a> RsaPrivateKey<'a> {
    /// A key from its modulus and private exponent. The modulus must be odd, have its top
    /// bit set (EMV moduli are full length, so `6A…` is always below it) and be
    /// [`MIN_MODULUS_LEN`]–[`MAX_MODULUS_LEN`] bytes; the exponent no longer than it.
    ///
    /// # Errors
    /// `6A80` for a key outside these rules.
    pub fn new(modulus: &'a [u8], private_exponent: &'a [u8]) -> Result<Self> {
        if !modulus_ok(modulus, MAX_MODULUS_LEN)
            || private_exponent.len() > modulus.len()
            || private_exponent.iter().all(|b| *b == 0)
        {
            return Err(Status::WrongData);
        }
        Ok(RsaPrivateKey {
            modulus,
            private_exponent,
        })
    }

    /// Bytes of the modulus (N_CA, N_I or N_IC of Book 2).
    pub fn len(&self) -> usize {
        self.modulus.len()
    }

    /// Never true: a key has a modulus.
    pub fn is_empty(&self) -> bool {
        self.modulus.is_empty()
    }

    /// The modulus, big-endian.
    pub fn modulus(&self) -> &'a [u8] {
        self.modulus
    }

    /// `input ^ d mod n` for a card key (modulus at most [`MAX_CARD_MODULUS_LEN`]),
    /// `input` exactly as long as the modulus and below it.
    ///
    /// # Errors
    /// `6A80` if `input` has the wrong length or is not below the modulus, or the modulus
    /// is longer than a card key.
    pub fn private_operation(&self, input: &[u8]) -> Result<Block> {
        check_input(self.modulus, input)?;
        if self.modulus.len() > MAX_CARD_MODULUS_LEN {
            return Err(Status::WrongData);
        }
        exponentiate::<CARD_LIMBS>(self, input)
    }

    /// `input ^ d mod n` for any EMV modulus (CA and issuer keys, personalization side).
    ///
    /// # Errors
    /// As [`Self::private_operation`], without the card-key length limit.
    pub fn private_operation_wide(&self, input: &[u8]) -> Result<Block> {
        check_input(self.modulus, input)?;
        exponentiate::<{ U2048::LIMBS }>(self, input)
    }

    /// Signs `data` (exactly N − 22 bytes: the fields after `6A`, padding included) with
    /// message recovery: `(6A ‖ data ‖ SHA-1(data ‖ extra…) ‖ BC) ^ d mod n`, with a card
    /// key.
    ///
    /// # Errors
    /// `6A80` if `data` is not N − 22 bytes.
    pub fn sign_recoverable(&self, data: &[u8], extra: &[&[u8]]) -> Result<Block> {
        let block = recoverable_block(self.len(), data, extra)?;
        self.private_operation(&block)
    }

    /// [`Self::sign_recoverable`] with a CA or issuer key of any EMV length.
    ///
    /// # Errors
    /// As [`Self::sign_recoverable`].
    pub fn sign_recoverable_wide(&self, data: &[u8], extra: &[&[u8]]) -> Result<Block> {
        let block = recoverable_block(self.len(), data, extra)?;
        self.private_operation_wide(&block)
    }
}

/// `6A ‖ data ‖ SHA-1(data ‖ extra…) ‖ BC`, `n` bytes (Book 2 Annex A2.1).
fn recoverable_block(n: usize, data: &[u8], extra: &[&[u8]]) -> Result<Block> {
    if data.len() + HASH_LEN + 2 != n {
        return Err(Status::WrongData);
    }
    let mut hasher = Sha1::new();
    hasher.update(data);
    for part in extra {
        hasher.update(part);
    }
    let hash = hasher.finalize();
    // The block is public (the terminal recovers it); only the exponent is secret.
    let mut block = Block::new();
    let too_long = |_| Status::WrongData;
    block.push(RECOVERED_DATA_HEADER).map_err(too_long)?;
    block
        .extend_from_slice(data)
        .map_err(|_| Status::WrongData)?;
    block
        .extend_from_slice(hash.as_slice())
        .map_err(|_| Status::WrongData)?;
    block.push(RECOVERED_DATA_TRAILER).map_err(too_long)?;
    Ok(block)
}

/// Reads a big-endian byte string into a `Uint<L>` (it must fit).
fn uint_from_be<const L: usize>(bytes: &[u8]) -> Result<Uint<L>> {
    let mut buf = Zeroizing::new([0u8; 256]);
    let width = Uint::<L>::BYTES;
    let start = width.checked_sub(bytes.len()).ok_or(Status::WrongData)?;
    buf.get_mut(start..width)
        .ok_or(Status::WrongData)?
        .copy_from_slice(bytes);
    let padded = buf.get(..width).ok_or(Status::WrongData)?;
    Ok(Uint::<L>::from_be_slice(padded))
}

fn exponentiate<const L: usize>(key: &RsaPrivateKey<'_>, input: &[u8]) -> Result<Block> {
    let modulus = uint_from_be::<L>(key.modulus)?;
    let modulus = Odd::new(modulus).into_option().ok_or(Status::WrongData)?;
    // The modulus is public: the variable-time setup is as good and smaller.
    let params = FixedMontyParams::new_vartime(modulus);
    let mut exponent = uint_from_be::<L>(key.private_exponent)?;
    let base = uint_from_be::<L>(input)?;
    // The exponent's length is the modulus length, which is public.
    let bits = u32::try_from(8 * key.private_exponent.len()).map_err(|_| Status::WrongData)?;
    let result = FixedMontyForm::new(&base, &params)
        .pow_bounded_exp(&exponent, bits)
        .retrieve();
    exponent.zeroize();
    right_aligned(result.to_be_bytes().as_ref(), key.len())
}

/// A card key that signs a recoverable block (the card's DDA / fDDA signer).
pub trait CardSigner {
    /// Bytes of the modulus.
    fn modulus_len(&self) -> usize;
    /// `block ^ d mod n`.
    ///
    /// # Errors
    /// `6A80` for a block that is not as long as the modulus or not below it; `6581` if a
    /// computation fault is detected.
    fn sign_block(&self, block: &[u8]) -> Result<Block>;
}

impl CardSigner for RsaPrivateKey<'_> {
    fn modulus_len(&self) -> usize {
        self.len()
    }
    fn sign_block(&self, block: &[u8]) -> Result<Block> {
        #[cfg(fuzzing)]
        return fuzzing_stand_in(self.modulus, block);
        #[cfg(not(fuzzing))]
        self.private_operation(block)
    }
}

/// Under `cfg(fuzzing)` (set by cargo-fuzz) the card's signatures are a cheap stand-in,
/// SM3 digests of the modulus and the block as long as the modulus, so that fuzzers
/// spend their time in the card rather than in modular exponentiation (as
/// `sscard_core::crypto::mac_matches` does for MACs; no terminal verifies them there).
#[cfg(fuzzing)]
fn fuzzing_stand_in(modulus: &[u8], block: &[u8]) -> Result<Block> {
    check_input(modulus, block)?;
    let mut out = Block::new();
    let mut counter = 0u32;
    while out.len() < modulus.len() {
        let mut h = sscard_core::crypto::Sm3Hasher::new();
        h.update(&counter.to_be_bytes());
        h.update(modulus);
        h.update(block);
        for byte in h.finalize() {
            if out.len() < modulus.len() {
                out.push(byte).map_err(|_| Status::WrongData)?;
            }
        }
        counter = counter.wrapping_add(1);
    }
    // Below the modulus, whose top bit is set.
    if let Some(top) = out.first_mut() {
        *top &= 0x7F;
    }
    Ok(out)
}

/// Half of the card width: the CRT primes' integers (576 bits).
const HALF_LIMBS: usize = CARD_LIMBS / 2;

/// The card's RSA key in Chinese-remainder form, as a PBOC card is personalized with it
/// (DGI 8201–8205: `qInv`, `dQ`, `dP`, `Q`, `P`; pboc.md §2.14), with the modulus and the
/// public exponent to check every result before it leaves the card (a fault in one half
/// of a CRT signature would otherwise give away a factor of `n`, Boneh–DeMillo–Lipton).
#[derive(Clone, Copy)]
pub struct RsaCrtKey<'a> {
    modulus: &'a [u8],
    public_exponent: &'a [u8],
    /// `p`, `q`, `dP`, `dQ`, `qInv`.
    crt: [&'a [u8]; 5],
}

impl core::fmt::Debug for RsaCrtKey<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        debug_key(f, "RsaCrtKey", self.modulus)
    }
}

/// Bytes of each CRT component of a modulus of `n` bytes.
pub const fn crt_component_len(n: usize) -> usize {
    n.div_ceil(2)
}

impl<'a> RsaCrtKey<'a> {
    /// A card key: modulus (`MIN_MODULUS_LEN`–[`MAX_CARD_MODULUS_LEN`] bytes, odd, top
    /// bit set), public exponent (1–4 bytes), and `p`, `q`, `dP`, `dQ`, `qInv`, each at
    /// most half the modulus length (rounded up), `p` and `q` odd.
    ///
    /// # Errors
    /// `6A80` for a key outside these rules.
    pub fn new(modulus: &'a [u8], public_exponent: &'a [u8], crt: [&'a [u8]; 5]) -> Result<Self> {
        let [p, q, ..] = crt;
        let half = crt_component_len(modulus.len());
        let components_fit = crt.iter().all(|c| !c.is_empty() && c.len() <= half);
        if !modulus_ok(modulus, MAX_CARD_MODULUS_LEN)
            || !is_odd(p)
            || !is_odd(q)
            || !components_fit
            || public_exponent.is_empty()
            || public_exponent.len() > 4
        {
            return Err(Status::WrongData);
        }
        Ok(RsaCrtKey {
            modulus,
            public_exponent,
            crt,
        })
    }

    /// The modulus, big-endian.
    pub fn modulus(&self) -> &'a [u8] {
        self.modulus
    }

    /// `input ^ d mod n` by the CRT (Garner's recombination), checked by raising the
    /// result to the public exponent.
    ///
    /// # Errors
    /// `6A80` for an input not as long as the modulus or not below it; `6581` when the
    /// check fails (a fault, or a key whose components do not belong together).
    pub fn private_operation(&self, input: &[u8]) -> Result<Block> {
        check_input(self.modulus, input)?;
        let c = uint_from_be::<CARD_LIMBS>(input)?;
        let half = |v: &[u8]| uint_from_be::<HALF_LIMBS>(v);
        let [p_bytes, q_bytes, dp_bytes, dq_bytes, qinv_bytes] = self.crt;
        let (p, q) = (half(p_bytes)?, half(q_bytes)?);
        let mut dp = half(dp_bytes)?;
        let mut dq = half(dq_bytes)?;
        let qinv = half(qinv_bytes)?;
        let p_odd = Odd::new(p).into_option().ok_or(Status::WrongData)?;
        let q_odd = Odd::new(q).into_option().ok_or(Status::WrongData)?;
        let p_params = FixedMontyParams::new_vartime(p_odd);
        let q_params = FixedMontyParams::new_vartime(q_odd);
        let p_nz = p_odd.as_nz_ref();
        let q_nz = q_odd.as_nz_ref();
        // The exponents' lengths are the primes' lengths: public.
        let bits = |v: &[u8]| u32::try_from(8 * v.len()).map_err(|_| Status::WrongData);
        let m1 = FixedMontyForm::new(&c.rem(p_nz), &p_params)
            .pow_bounded_exp(&dp, bits(dp_bytes)?)
            .retrieve();
        let m2 = FixedMontyForm::new(&c.rem(q_nz), &q_params)
            .pow_bounded_exp(&dq, bits(dq_bytes)?)
            .retrieve();
        dp.zeroize();
        dq.zeroize();
        // h = qInv · (m1 − m2) mod p; m = m2 + q · h < n.
        let m1_p = FixedMontyForm::new(&m1, &p_params);
        let m2_p = FixedMontyForm::new(&m2.rem(p_nz), &p_params);
        let qinv_p = FixedMontyForm::new(&qinv, &p_params);
        let h = m1_p.sub(&m2_p).mul(&qinv_p).retrieve();
        let (lo, hi) = q.widening_mul(&h);
        let mut wide = [0u8; 2 * HALF_LIMBS * Limb::BYTES];
        let (hi_bytes, lo_bytes) = wide.split_at_mut(HALF_LIMBS * Limb::BYTES);
        hi_bytes.copy_from_slice(hi.to_be_bytes().as_ref());
        lo_bytes.copy_from_slice(lo.to_be_bytes().as_ref());
        let qh = Uint::<CARD_LIMBS>::from_be_slice(&wide);
        let m = qh.wrapping_add(&m2.resize::<CARD_LIMBS>());
        // Fault check: m^e mod n must give the input back.
        let n = uint_from_be::<CARD_LIMBS>(self.modulus)?;
        let n_odd = Odd::new(n).into_option().ok_or(Status::WrongData)?;
        let e = uint_from_be::<CARD_LIMBS>(self.public_exponent)?;
        let back = FixedMontyForm::new(&m, &FixedMontyParams::new_vartime(n_odd))
            .pow_bounded_exp(&e, bits(self.public_exponent)?)
            .retrieve();
        if back != c {
            return Err(Status::MemoryFailure);
        }
        right_aligned(m.to_be_bytes().as_ref(), self.modulus.len())
    }
}

impl CardSigner for RsaCrtKey<'_> {
    fn modulus_len(&self) -> usize {
        self.modulus.len()
    }
    fn sign_block(&self, block: &[u8]) -> Result<Block> {
        #[cfg(fuzzing)]
        return fuzzing_stand_in(self.modulus, block);
        #[cfg(not(fuzzing))]
        self.private_operation(block)
    }
}

/// Longest ICC dynamic number produced (`ATC ‖ 6 random bytes`).
pub const MAX_ICC_DYNAMIC_NUMBER: usize = 8;

/// Signed dynamic application data (`9F4B`), Book 2 Table 17: `05 ‖ 01 ‖ LDD ‖ LDN ‖
/// ICC dynamic number ‖ BB…` signed with a hash that also covers the terminal dynamic
/// data (DDA: the DDOL values, §6.5.1; fDDA: `9F37` or `9F37 ‖ 9F02 ‖ 5F2A ‖ 9F69`).
///
/// # Errors
/// `6A80` for an empty or too long dynamic number or a modulus too short for it.
pub fn signed_dynamic_data<K: CardSigner>(
    key: &K,
    icc_dynamic_number: &[u8],
    terminal_data: &[&[u8]],
) -> Result<Block> {
    let ldn = icc_dynamic_number.len();
    if ldn == 0 || ldn > MAX_ICC_DYNAMIC_NUMBER {
        return Err(Status::WrongData);
    }
    let data_len = key
        .modulus_len()
        .checked_sub(HASH_LEN + 2)
        .ok_or(Status::WrongData)?;
    let mut data: Block = Vec::new();
    let head = [SDAD_FORMAT, HASH_ALGORITHM_SHA1, 1 + ldn as u8, ldn as u8];
    data.extend_from_slice(&head)
        .map_err(|_| Status::WrongData)?;
    data.extend_from_slice(icc_dynamic_number)
        .map_err(|_| Status::WrongData)?;
    if data.len() > data_len {
        return Err(Status::WrongData);
    }
    data.resize(data_len, PAD).map_err(|_| Status::WrongData)?;
    let block = recoverable_block(key.modulus_len(), &data, terminal_data)?;
    key.sign_block(&block)
}

/// A public key to be certified: modulus and exponent (`03` or `010001`).
#[derive(Clone, Copy, Debug)]
pub struct PublicKey<'a> {
    /// Modulus, big-endian.
    pub modulus: &'a [u8],
    /// Exponent, big-endian (1 or 3 bytes).
    pub exponent: &'a [u8],
}

/// A certificate and the part of the certified modulus that did not fit in it.
#[derive(Clone, Debug)]
pub struct Certificate {
    /// The certificate (`90` or `9F46`), as long as the signer's modulus.
    pub certificate: Block,
    /// The public key remainder (`92` or `9F48`); empty when the key fit.
    pub remainder: Block,
}

/// A public key certificate signed by `signer` (Book 2 §5.3, §6.3): `fields ‖ 01 ‖ 01 ‖
/// N ‖ e length ‖ leftmost bytes of the modulus, BB-padded`, the hash over those ‖ the
/// modulus remainder ‖ the exponent ‖ `static_data`.
fn certify(
    signer: &RsaPrivateKey<'_>,
    fields: &[&[u8]],
    key: &PublicKey<'_>,
    static_data: &[u8],
) -> Result<Certificate> {
    let n = u8::try_from(key.modulus.len()).map_err(|_| Status::WrongData)?;
    let e = u8::try_from(key.exponent.len()).map_err(|_| Status::WrongData)?;
    if !matches!(key.exponent, [0x03] | [0x01, 0x00, 0x01]) {
        return Err(Status::WrongData);
    }
    let algorithms_and_lengths = [HASH_ALGORITHM_SHA1, PUBLIC_KEY_ALGORITHM_RSA, n, e];
    let data_len = signer.len() - HASH_LEN - 2;
    let mut data = Block::new();
    for part in fields.iter().chain([&&algorithms_and_lengths[..]]) {
        data.extend_from_slice(part)
            .map_err(|_| Status::WrongData)?;
    }
    let room = data_len.checked_sub(data.len()).ok_or(Status::WrongData)?;
    let (inside, rest) = key.modulus.split_at(key.modulus.len().min(room));
    data.extend_from_slice(inside)
        .map_err(|_| Status::WrongData)?;
    data.resize(data_len, PAD).map_err(|_| Status::WrongData)?;
    let mut remainder = Block::new();
    remainder
        .extend_from_slice(rest)
        .map_err(|_| Status::WrongData)?;
    let certificate =
        signer.sign_recoverable_wide(&data, &[&remainder, key.exponent, static_data])?;
    Ok(Certificate {
        certificate,
        remainder,
    })
}

/// What an issuer or ICC public key certificate says after its holder's identifier,
/// in either ODA algorithm (EMV Book 2 Tables 6 and 14).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CertificateTerms {
    /// Expiry date, MMYY.
    pub expiry_mmyy: [u8; 2],
    /// Certificate serial number.
    pub serial: [u8; 3],
}

impl CertificateTerms {
    /// The leading fields of a certificate: `format ‖ holder ‖ expiry ‖ serial`.
    pub(crate) fn fields<'a>(&'a self, format: &'a [u8; 1], holder: &'a [u8]) -> [&'a [u8]; 4] {
        [format, holder, &self.expiry_mmyy, &self.serial]
    }
}

/// Issuer public key certificate (`90`) signed by the CA, Book 2 Table 6: `02 ‖ issuer
/// identifier (4) ‖ expiry MMYY (2) ‖ serial (3) ‖ 01 ‖ 01 ‖ N_I ‖ e length ‖ leftmost
/// N_CA − 36 bytes of the issuer modulus`, hash over those fields ‖ remainder ‖ exponent.
///
/// # Errors
/// `6A80` for an exponent other than 3 or 65537 or a modulus that does not fit.
pub fn issuer_certificate(
    ca: &RsaPrivateKey<'_>,
    issuer_id: [u8; 4],
    terms: CertificateTerms,
    issuer: &PublicKey<'_>,
) -> Result<Certificate> {
    certify(
        ca,
        &terms.fields(&[ISSUER_CERTIFICATE_FORMAT], &issuer_id),
        issuer,
        &[],
    )
}

/// ICC public key certificate (`9F46`) signed by the issuer, Book 2 Table 14: `04 ‖
/// PAN (10, F-padded) ‖ expiry MMYY ‖ serial (3) ‖ 01 ‖ 01 ‖ N_IC ‖ e length ‖ leftmost
/// N_I − 42 bytes of the ICC modulus`, hash over those ‖ remainder ‖ exponent ‖ static
/// data to be authenticated.
///
/// # Errors
/// As [`issuer_certificate`].
pub fn icc_certificate(
    issuer: &RsaPrivateKey<'_>,
    pan: [u8; 10],
    terms: CertificateTerms,
    icc: &PublicKey<'_>,
    static_data: &[u8],
) -> Result<Certificate> {
    certify(
        issuer,
        &terms.fields(&[ICC_CERTIFICATE_FORMAT], &pan),
        icc,
        static_data,
    )
}

/// Signed static application data (`93`), Book 2 Table 7: `03 ‖ 01 ‖ data
/// authentication code (2) ‖ BB…`, hash over those ‖ static data to be authenticated.
///
/// # Errors
/// `6A80` for an issuer key too short.
pub fn signed_static_data(
    issuer: &RsaPrivateKey<'_>,
    data_authentication_code: [u8; 2],
    static_data: &[u8],
) -> Result<Block> {
    let data_len = issuer.len() - HASH_LEN - 2;
    let [d0, d1] = data_authentication_code;
    let mut data = Block::new();
    data.extend_from_slice(&[SSAD_FORMAT, HASH_ALGORITHM_SHA1, d0, d1])
        .map_err(|_| Status::WrongData)?;
    data.resize(data_len, PAD).map_err(|_| Status::WrongData)?;
    issuer.sign_recoverable_wide(&data, &[static_data])
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// An arbitrary odd 512-bit modulus with its top bit set: the arithmetic needs no
    /// primes. Signatures with real keys are checked by an independent RSA in the
    /// integration tests (`tests/rsa_oda.rs`).
    const N: &str = "C6C3B6E1A6A1E7DE5C2C8E08E6B2B2B8F2C1D6A79E0F8A3E6E1F3E0C8C8A2C0D\
                     7D5B2D9E5A1C2B3E4F5061728394A5B6C7D8E9FA0B1C2D3E4F5061728394A5B7";

    fn hex(s: &str) -> std::vec::Vec<u8> {
        let s: std::string::String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A 512-bit key made by OpenSSL 3.0 (`genpkey`, e = 65537) and the signature OpenSSL
    /// (`rsautl -sign -raw`) gives for `6A 01 02 … 3E BC`: a known answer from an
    /// independent implementation.
    const KAT_N: &str = "AA428C040CCEF3B0B0F6D08287344E1D0198DA2197AA6601C653F8BA4BAF5885\
                         052B347CA9A1A91100A5D340BA24B1F82FFEDDD5A7A490BD4E2BAFE4106B9741";
    const KAT_P: &str = "D8FDC798390E4953EA2EB590FBBAE63FDF747BB88C6AEF67CA646933C6BB23A3";
    const KAT_Q: &str = "C8DE210B00B37596A9AB73689DC722D1C97D0D5A764C2B6D0B10A41A778DA7CB";
    const KAT_DP: &str = "27348B187CCE90FF2163B9186DF311E0DE7DCC50C6C6176558531612EDC82823";
    const KAT_DQ: &str = "11FDC35BE6EE2C0418A260ADE823E3FC825D8F0AA139E551D901DE90F85059CD";
    const KAT_QINV: &str = "251F07EFCDE1FB21B4723CC24AB1838CB74FBF48865E0DA4AB9D51F06CBBB19F";
    const KAT_D: &str = "48F7C2380E2137913716602040BFAAE68583B3A087F670473C6F4A7ED4E6EE21\
                         491377E75529FA98C331B9E547D84E5895F2A1ABD5B12B421951F4760F1BF88D";
    const KAT_SIG: &str = "7ED88750CF851F952FA6E5A3786389CD3EA1625B720C94A5B00CF6CCB8DAD31E\
                           C7D0790A700639F2F236D545075C953D5CD680A82D46FED4D295681E8826ED17";

    fn kat_block() -> std::vec::Vec<u8> {
        let mut b = std::vec![0x6A];
        b.extend(1u8..=62);
        b.push(0xBC);
        b
    }

    #[test]
    fn crt_and_plain_exponent_match_openssl() {
        let (n, p, q) = (hex(KAT_N), hex(KAT_P), hex(KAT_Q));
        let (dp, dq, qinv, d) = (hex(KAT_DP), hex(KAT_DQ), hex(KAT_QINV), hex(KAT_D));
        let e = [0x01, 0x00, 0x01];
        let crt = RsaCrtKey::new(&n, &e, [&p, &q, &dp, &dq, &qinv]).unwrap();
        assert_eq!(
            crt.private_operation(&kat_block()).unwrap().as_slice(),
            hex(KAT_SIG)
        );
        let plain = RsaPrivateKey::new(&n, &d).unwrap();
        assert_eq!(
            plain.private_operation(&kat_block()).unwrap().as_slice(),
            hex(KAT_SIG)
        );
        assert_eq!(
            plain
                .private_operation_wide(&kat_block())
                .unwrap()
                .as_slice(),
            hex(KAT_SIG)
        );
    }

    #[test]
    fn a_faulty_crt_component_is_caught_before_the_signature_leaves() {
        let (n, p, q) = (hex(KAT_N), hex(KAT_P), hex(KAT_Q));
        let (dp, dq, mut qinv) = (hex(KAT_DP), hex(KAT_DQ), hex(KAT_QINV));
        qinv[31] ^= 0x02; // as a glitch in one half of the recombination would
        let e = [0x01, 0x00, 0x01];
        let crt = RsaCrtKey::new(&n, &e, [&p, &q, &dp, &dq, &qinv]).unwrap();
        assert_eq!(
            crt.private_operation(&kat_block()),
            Err(Status::MemoryFailure)
        );
        assert!(RsaCrtKey::new(&n, &e, [&p[..31], &q, &dp, &dq, &hex(KAT_N)]).is_err());
    }

    #[test]
    fn rejects_malformed_keys_and_inputs() {
        let n = hex(N);
        assert!(RsaPrivateKey::new(&n[..63], &[3]).is_err(), "too short");
        let mut even = n.clone();
        *even.last_mut().unwrap() &= 0xFE;
        assert!(RsaPrivateKey::new(&even, &[3]).is_err(), "even modulus");
        assert!(RsaPrivateKey::new(&n, &[0, 0]).is_err(), "zero exponent");
        let key = RsaPrivateKey::new(&n, &[3]).unwrap();
        assert!(key.private_operation(&n).is_err(), "input not below n");
        assert!(key.private_operation(&n[1..]).is_err(), "wrong length");
        assert!(key.sign_recoverable(&[0; 10], &[]).is_err());
        assert!(signed_dynamic_data(&key, &[], &[]).is_err());
        assert!(signed_dynamic_data(&key, &[0; 9], &[]).is_err());
    }

    #[test]
    fn small_exponent_matches_schoolbook_arithmetic() {
        // 2^3 = 8 (no reduction) and x^1 = x, whatever the width chosen.
        let n = hex(N);
        let key = RsaPrivateKey::new(&n, &[3]).unwrap();
        let mut two = [0u8; 64];
        two[63] = 2;
        let out = key.private_operation(&two).unwrap();
        let mut eight = [0u8; 64];
        eight[63] = 8;
        assert_eq!(out.as_slice(), &eight);
        let identity = RsaPrivateKey::new(&n, &[1]).unwrap();
        let mut x = [0x5Au8; 64];
        x[0] = 0x6A;
        assert_eq!(identity.private_operation(&x).unwrap().as_slice(), &x);
    }
}
