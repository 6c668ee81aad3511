//! **ASSUMPTION — not from a public specification.** Offline data authentication with
//! SM2/SM3 (JR/T 0025.17, "基于SM2、SM3、SM4算法的借记/贷记应用安全功能").
//!
//! pboc.md §2.15: the SM2 certificate and signed-data layouts of PBOC part 17 were not
//! found in any public source. This module is the one place that fixes them; everything
//! else in the applet only calls [`signed_dynamic_data`]. What is *known* and used:
//!
//! * the terminal negotiates the national algorithm with `DF69` in the PDOL (§2.3, §2.15);
//! * CAPK indicators: hash algorithm `07` = SM3, public-key algorithm `04` = SM2
//!   (`idx:32845816989`);
//! * an SM2 signature is `r ‖ s`, 64 bytes, over `SM3(Z_A ‖ M)` with the default
//!   distinguishing ID `1234567812345678` (GB/T 32918.2, GM/T 0009);
//! * the RSA fDDA/DDA dynamic data and terminal data of §2.12: ICC dynamic number = ATC
//!   for fDDA, terminal data = `9F37` (fDDA 00) or `9F37 ‖ 9F02 ‖ 5F2A ‖ 9F69` (fDDA 01),
//!   DDOL values for DDA.
//!
//! What is *assumed* (SM2 cannot recover a message, so the RSA "recovered data" framing
//! `6A … BC` cannot carry over; the data are sent in clear next to the signature, the way
//! EMV's own ECC ODA and GM/T certificate formats do):
//!
//! ```text
//! Signed Dynamic Application Data (9F4B), SM2 variant:
//!   15            signed data format (RSA's 05 with the "national algorithm" nibble 1)
//!   07            hash algorithm indicator: SM3
//!   LDD           length of the ICC dynamic data
//!   ICC dynamic data, LDD bytes:
//!     LDN ‖ ICC dynamic number       fDDA: 02 ‖ ATC
//!                                    DDA:  08 ‖ ATC ‖ 6 card random bytes
//!   signature     64 bytes r ‖ s: SM2 (ID 1234567812345678) over
//!                 15 ‖ 07 ‖ LDD ‖ ICC dynamic data ‖ terminal dynamic data
//! ```
//!
//! The terminal dynamic data are not sent back (the terminal has them). Certificates
//! (issuer `90`, ICC `9F46`, CA index `8F`) and the signed static data `93` are opaque
//! bytes in the records: the card never reads them. The ICC SM2 private key comes from the
//! profile (`sm2_secret`). When the real part 17 layout is known, only this module and the
//! profile's certificates change.
//!
//! For the issuer side (tools, the default profile's test certificates) the module also
//! builds certificates in the same assumed style, every one signed with SM2/SM3 and ID
//! `1234567812345678`:
//!
//! ```text
//! Issuer public key certificate (90), 141 bytes, signed by the CA:
//!   12 ‖ issuer identifier (4, leftmost PAN digits, F-padded) ‖ expiry MMYY (2) ‖
//!   serial (3) ‖ 07 (SM3) ‖ 04 (SM2) ‖ 40 ‖ issuer public key X‖Y (64) ‖ signature (64)
//!   over everything before it
//! ICC public key certificate (9F46), 147 bytes, signed by the issuer:
//!   14 ‖ PAN (10, F-padded) ‖ expiry MMYY (2) ‖ serial (3) ‖ 07 ‖ 04 ‖ 40 ‖
//!   ICC public key X‖Y (64) ‖ signature (64) over everything before it ‖ static data
//!   to be authenticated
//! Signed static application data (93), 68 bytes, signed by the issuer:
//!   13 ‖ 07 ‖ data authentication code (2) ‖ signature (64) over 13 ‖ 07 ‖ DAC ‖
//!   static data to be authenticated
//! ```
//!
//! The static data to be authenticated are those of EMV Book 3 §10.3: the value fields of
//! the AFL records counted for ODA (SFI 1–10), then the data named by the SDA tag list
//! `9F4A` (the AIP).

pub use crate::rsa_oda::CertificateTerms;
use sscard_core::crypto::{SM2_DEFAULT_ID, Sm2KeyPair};
use sscard_core::status::{Result, Status};

/// Signed data format byte of the assumed SM2 signed dynamic application data.
pub const SDAD_FORMAT_SM2: u8 = 0x15;
/// Hash algorithm indicator SM3 (pboc.md §2.15).
pub const HASH_ALGORITHM_SM3: u8 = 0x07;
/// Length of an SM2 signature `r ‖ s`.
pub const SIGNATURE_LEN: usize = 64;
/// Longest ICC dynamic data produced here (`08 ‖ ATC ‖ 6 random`).
pub const MAX_ICC_DYNAMIC_DATA: usize = 9;
/// Longest signed dynamic application data.
pub const MAX_SDAD_LEN: usize = 3 + MAX_ICC_DYNAMIC_DATA + SIGNATURE_LEN;

/// Builds the signed dynamic application data (value of `9F4B`) into `out`; returns its
/// length. `icc_dynamic_number` is the ATC (fDDA) or ATC ‖ random (DDA);
/// `terminal_data` are the parts of the terminal dynamic data, signed but not sent.
///
/// # Errors
/// `6A80` if the dynamic number is empty or longer than 8 bytes, `6581` if signing fails.
pub fn signed_dynamic_data(
    key: &Sm2KeyPair,
    icc_dynamic_number: &[u8],
    terminal_data: &[&[u8]],
    out: &mut [u8; MAX_SDAD_LEN],
) -> Result<usize> {
    let ldn = icc_dynamic_number.len();
    if ldn == 0 || ldn > MAX_ICC_DYNAMIC_DATA - 1 {
        return Err(Status::WrongData);
    }
    let ldd = 1 + ldn;
    let head_len = 3 + ldd;
    let head = out.get_mut(..head_len).ok_or(Status::WrongData)?;
    let fixed = [SDAD_FORMAT_SM2, HASH_ALGORITHM_SM3, ldd as u8, ldn as u8];
    let parts = fixed.iter().chain(icc_dynamic_number.iter()).copied();
    for (d, s) in head.iter_mut().zip(parts) {
        *d = s;
    }
    let mut signed: [&[u8]; 8] = [&[]; 8];
    if let Some(first) = signed.first_mut() {
        *first = head;
    }
    for (slot, part) in signed.iter_mut().skip(1).zip(terminal_data) {
        *slot = part;
    }
    let signature = key
        .sign_parts(SM2_DEFAULT_ID, &signed)
        .map_err(|_| Status::MemoryFailure)?;
    let end = head_len + SIGNATURE_LEN;
    out.get_mut(head_len..end)
        .ok_or(Status::WrongData)?
        .copy_from_slice(&signature);
    Ok(end)
}

/// Length of an issuer public key certificate in the assumed layout.
pub const ISSUER_CERTIFICATE_LEN: usize = 77 + SIGNATURE_LEN;
/// Length of an ICC public key certificate in the assumed layout.
pub const ICC_CERTIFICATE_LEN: usize = 83 + SIGNATURE_LEN;
/// Length of signed static application data in the assumed layout.
pub const SSAD_LEN: usize = 4 + SIGNATURE_LEN;

/// Certificate format byte of an issuer certificate (assumed).
pub const ISSUER_CERTIFICATE_FORMAT: u8 = 0x12;
/// Certificate format byte of an ICC certificate (assumed).
pub const ICC_CERTIFICATE_FORMAT: u8 = 0x14;
/// Format byte of signed static application data (assumed).
pub const SSAD_FORMAT_SM2: u8 = 0x13;
/// Public key algorithm indicator SM2 (pboc.md §2.15).
pub const PUBLIC_KEY_ALGORITHM_SM2: u8 = 0x04;

fn copy_into(out: &mut [u8], parts: &[&[u8]]) -> usize {
    let mut at = 0;
    for p in parts {
        for b in p.iter() {
            if let Some(d) = out.get_mut(at) {
                *d = *b;
            }
            at += 1;
        }
    }
    at
}

/// Hash and public key algorithm indicators and key length of a certified SM2 key.
const CERTIFIED_KEY: [u8; 3] = [HASH_ALGORITHM_SM3, PUBLIC_KEY_ALGORITHM_SM2, 0x40];

/// `fields ‖ signature`, the signer's SM2 signature over `fields ‖ static_data`: the
/// shape of every object below.
fn sign_fields<const L: usize>(
    signer: &Sm2KeyPair,
    fields: &[&[u8]],
    static_data: &[u8],
) -> Result<[u8; L]> {
    let mut out = [0u8; L];
    let n = copy_into(&mut out, fields);
    let sig = signer
        .sign_parts(SM2_DEFAULT_ID, &[out.get(..n).unwrap_or(&[]), static_data])
        .map_err(|_| Status::MemoryFailure)?;
    copy_into(out.get_mut(n..).unwrap_or(&mut []), &[&sig]);
    Ok(out)
}

/// Issuer public key certificate (`90`) signed by `ca` (issuer-side tool).
///
/// # Errors
/// `6581` if signing fails.
pub fn issuer_certificate(
    ca: &Sm2KeyPair,
    issuer_id: [u8; 4],
    terms: CertificateTerms,
    issuer_public: &[u8; 64],
) -> Result<[u8; ISSUER_CERTIFICATE_LEN]> {
    let [format, id, expiry, serial] = terms.fields(&[ISSUER_CERTIFICATE_FORMAT], &issuer_id);
    sign_fields(
        ca,
        &[format, id, expiry, serial, &CERTIFIED_KEY, issuer_public],
        &[],
    )
}

/// ICC public key certificate (`9F46`) signed by `issuer` over its fields and the
/// static data to be authenticated (issuer-side tool).
///
/// # Errors
/// `6581` if signing fails.
pub fn icc_certificate(
    issuer: &Sm2KeyPair,
    pan: [u8; 10],
    terms: CertificateTerms,
    icc_public: &[u8; 64],
    static_data: &[u8],
) -> Result<[u8; ICC_CERTIFICATE_LEN]> {
    let [format, id, expiry, serial] = terms.fields(&[ICC_CERTIFICATE_FORMAT], &pan);
    sign_fields(
        issuer,
        &[format, id, expiry, serial, &CERTIFIED_KEY, icc_public],
        static_data,
    )
}

/// Signed static application data (`93`) (issuer-side tool).
///
/// # Errors
/// `6581` if signing fails.
pub fn signed_static_data(
    issuer: &Sm2KeyPair,
    dac: [u8; 2],
    static_data: &[u8],
) -> Result<[u8; SSAD_LEN]> {
    let head = [SSAD_FORMAT_SM2, HASH_ALGORITHM_SM3, dac[0], dac[1]];
    sign_fields(issuer, &[&head], static_data)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use sscard_core::crypto::sm2_verify_parts;

    #[test]
    fn layout_and_signature() {
        let key = Sm2KeyPair::from_secret_bytes(&[7; 32]).unwrap();
        let mut out = [0u8; MAX_SDAD_LEN];
        let n = signed_dynamic_data(&key, &[0x00, 0x05], &[&[1, 2, 3, 4]], &mut out).unwrap();
        assert_eq!(n, 3 + 3 + 64);
        assert_eq!(&out[..6], &[0x15, 0x07, 0x03, 0x02, 0x00, 0x05]);
        let sig: [u8; 64] = out[6..70].try_into().unwrap();
        let signed: &[&[u8]] = &[&out[..6], &[1, 2, 3, 4]];
        assert!(sm2_verify_parts(
            key.public_key_xy(),
            SM2_DEFAULT_ID,
            signed,
            &sig
        ));
        assert!(!sm2_verify_parts(
            key.public_key_xy(),
            SM2_DEFAULT_ID,
            &[&out[..6], &[1, 2, 3, 5]],
            &sig
        ));
    }

    #[test]
    fn rejects_bad_dynamic_numbers() {
        let key = Sm2KeyPair::from_secret_bytes(&[7; 32]).unwrap();
        let mut out = [0u8; MAX_SDAD_LEN];
        assert!(signed_dynamic_data(&key, &[], &[], &mut out).is_err());
        assert!(signed_dynamic_data(&key, &[0; 9], &[], &mut out).is_err());
    }
}
