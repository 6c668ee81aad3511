//! EMV / PBOC 3.0 key derivation and cryptograms (JR/T 0025, CVN 01, 2-key 3DES).
//!
//! The card's application cryptogram and script MACs use [`retail_mac`]
//! (ISO/IEC 9797-1 algorithm 3, padding method 2, IV zero) under a session key
//! from [`pboc_session_key`].

use cipher::{BlockCipherEncrypt, KeyInit};
use des::TdesEde2;
use zeroize::Zeroizing;

pub use super::mac::{RetailMac, retail_mac};

use super::CryptoError;
use super::ssc::join;

/// ICC master key (UDK) by EMV Option A (EMV Book 2 Annex A1.4.1; JR/T 0025):
///
/// `D` = the rightmost 16 digits of `PAN ‖ PSN` (left-padded with `0` if
/// shorter), packed as 8 BCD bytes; `L = 3DES(IMK, D)`, `R = 3DES(IMK, D ⊕ FF..FF)`;
/// the result `L ‖ R` gets odd parity on every byte.
///
/// `pan` is the PAN as ASCII digits (1 to 19), `psn` the PAN sequence number as
/// stored in tag `5F34` (one BCD byte, e.g. `0x45` for "45").
///
/// # Errors
/// [`CryptoError::InvalidDigits`] if `pan` is empty, longer than 19 or not all
/// digits, or `psn` is not two BCD digits.
pub fn udk_option_a(
    imk: &[u8; 16],
    pan: &[u8],
    psn: u8,
) -> Result<Zeroizing<[u8; 16]>, CryptoError> {
    if pan.is_empty() || pan.len() > 19 || !pan.iter().all(u8::is_ascii_digit) {
        return Err(CryptoError::InvalidDigits);
    }
    let (psn_hi, psn_lo) = (psn >> 4, psn & 0x0F);
    if psn_hi > 9 || psn_lo > 9 {
        return Err(CryptoError::InvalidDigits);
    }
    // Rightmost 16 digits of PAN ‖ PSN, right-aligned in a field of '0's.
    let mut digits = [0u8; 16];
    let all = pan.iter().map(|c| c & 0x0F).chain([psn_hi, psn_lo]);
    for (d, v) in digits.iter_mut().rev().zip(all.rev()) {
        *d = v;
    }
    let mut d = [0u8; 8];
    for (byte, pair) in d.iter_mut().zip(digits.chunks_exact(2)) {
        if let [hi, lo] = pair {
            *byte = (hi << 4) | lo;
        }
    }
    let tdes = TdesEde2::new(imk.into());
    let mut l = Zeroizing::new(d);
    let mut r = Zeroizing::new(d.map(|b| !b));
    tdes.encrypt_block((&mut *l).into());
    tdes.encrypt_block((&mut *r).into());
    let mut out = Zeroizing::new(join(&l, &r));
    for b in out.iter_mut() {
        *b = with_odd_parity(*b);
    }
    Ok(out)
}

/// PBOC session key (JR/T 0025 CVN 01; not the EMV "common session key"):
/// `SK_L = 3DES(UDK, 00×6 ‖ ATC)`, `SK_R = 3DES(UDK, 00×6 ‖ (ATC ⊕ FFFF))`. The
/// same derivation serves the AC, MAC and ENC session keys, each from its own UDK.
#[must_use]
pub fn pboc_session_key(udk: &[u8; 16], atc: u16) -> Zeroizing<[u8; 16]> {
    let tdes = TdesEde2::new(udk.into());
    let [a0, a1] = atc.to_be_bytes();
    let mut l = Zeroizing::new([0, 0, 0, 0, 0, 0, a0, a1]);
    let mut r = Zeroizing::new([0, 0, 0, 0, 0, 0, !a0, !a1]);
    tdes.encrypt_block((&mut *l).into());
    tdes.encrypt_block((&mut *r).into());
    Zeroizing::new(join(&l, &r))
}

/// ARPC method 1 (EMV Book 2 §8.2.1; JR/T 0025):
/// `3DES-ECB(SK_AC, ARQC ⊕ (ARC ‖ 00×6))`.
#[must_use]
pub fn arpc_method1(sk_ac: &[u8; 16], arqc: &[u8; 8], arc: &[u8; 2]) -> [u8; 8] {
    let [c0, c1] = *arc;
    let mut block = *arqc;
    for (b, x) in block.iter_mut().zip([c0, c1]) {
        *b ^= x;
    }
    TdesEde2::new(sk_ac.into()).encrypt_block((&mut block).into());
    block
}

/// `b` with its least significant bit set so that the byte has an odd number of
/// one bits (DES key parity).
const fn with_odd_parity(b: u8) -> u8 {
    let high = b & 0xFE;
    if high.count_ones() & 1 == 0 {
        high | 1
    } else {
        high
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parity() {
        assert_eq!(with_odd_parity(0x00), 0x01);
        assert_eq!(with_odd_parity(0x01), 0x01);
        assert_eq!(with_odd_parity(0xFF), 0xFE);
        assert_eq!(with_odd_parity(0x03), 0x02);
        for b in 0..=255u8 {
            assert_eq!(with_odd_parity(b).count_ones() % 2, 1);
        }
    }

    #[test]
    fn pan_validation() {
        let imk = [0x11; 16];
        for (pan, sequence) in [
            (&b""[..], 0),
            (b"12345678901234567890", 0),
            (b"1234567890123456A", 0),
            (b"1234567890123456", 0x4A),
        ] {
            assert_eq!(
                udk_option_a(&imk, pan, sequence).err(),
                Some(CryptoError::InvalidDigits)
            );
        }
        assert!(udk_option_a(&imk, b"1234567890123456789", 0x99).is_ok());
        assert!(udk_option_a(&imk, b"1", 0x00).is_ok());
        // Only the rightmost 16 digits count.
        assert_eq!(
            *udk_option_a(&imk, b"9991234567890123456", 0x01).unwrap(),
            *udk_option_a(&imk, b"1234567890123456", 0x01).unwrap()
        );
        // Short input is left-padded with zeros.
        assert_eq!(
            *udk_option_a(&imk, b"123", 0x01).unwrap(),
            *udk_option_a(&imk, b"0000000000123", 0x01).unwrap()
        );
    }
}
