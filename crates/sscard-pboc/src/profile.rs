//! The `[pboc]` section of a TOML personalization profile (feature `serde`, std).
//!
//! [`PbocSection`] is what the project's profile loader embeds as `[pboc]`: plain strings
//! and numbers (hex for byte strings, spaces allowed; decimal strings such as `"100.00"`
//! for amounts), unknown keys rejected. [`PbocSection::build`] checks it and yields a
//! [`PbocProfile`] owning the bytes, which personalizes a card through the no_std API.
//! Every error names the field: `pboc.applications[0].pan: …`.
//!
//! `vectors/profiles/pboc-default.toml` is the default profile.

use std::format;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use serde::Deserialize;
use sscard_core::fs::build::Personalizer;
use sscard_core::fs::layout::FileIndex;
use sscard_core::nvm::Nvm;

use crate::layout::ApplicationKind;
use crate::perso::{
    self, Application, ElectronicCash, Keys, LogSpec, PbocPersonalization, PersoError, Record,
    RiskParameters, RsaOda,
};

/// A profile error: the dotted path of the field and what is wrong with it. The one
/// profile error of sscard: the host's profile loader (`sscard_host::profile`) reports
/// with it too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileError {
    /// Dotted path of the offending field, e.g. `pboc.applications[0].keys.imk_ac`
    /// (empty when the TOML itself is malformed).
    pub field: String,
    /// What is wrong, e.g. `must be 16 bytes of hex`.
    pub message: String,
}

impl core::fmt::Display for ProfileError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "profile field `{}`: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for ProfileError {}

fn err<T>(field: &str, message: &str) -> Result<T, ProfileError> {
    Err(ProfileError {
        field: field.to_string(),
        message: message.to_string(),
    })
}

/// `[pboc]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PbocSection {
    /// SFI of the PSE directory records (absent: no PSE).
    #[serde(default)]
    pub pse_sfi: Option<u8>,
    /// The PPSE exists (default true).
    #[serde(default = "yes")]
    pub ppse: bool,
    /// PSE also on contactless (default true; real cards: false).
    #[serde(default = "yes")]
    pub pse_on_contactless: bool,
    /// PPSE also on contact (default true; real cards: false).
    #[serde(default = "yes")]
    pub ppse_on_contact: bool,
    /// `5F2D` of the PSE FCI, e.g. `"zh"`.
    #[serde(default)]
    pub pse_language: String,
    /// The applications.
    pub applications: Vec<ApplicationSection>,
}

fn yes() -> bool {
    true
}

/// `[[pboc.applications]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationSection {
    /// `debit`, `credit`, `quasi_credit` or `electronic_cash`.
    pub kind: String,
    /// AID hex.
    pub aid: String,
    /// Application label (ASCII).
    pub label: String,
    /// Priority indicator.
    #[serde(default = "one")]
    pub priority: u8,
    /// Preferred name `9F12` (ASCII).
    #[serde(default)]
    pub preferred_name: String,
    /// Language preference `5F2D`, e.g. `"zhen"`.
    #[serde(default)]
    pub language: String,
    /// Issuer code table index `9F11`.
    #[serde(default)]
    pub issuer_code_table_index: Option<u8>,
    /// Contact PDOL hex.
    #[serde(default)]
    pub pdol_contact: String,
    /// Contactless PDOL hex.
    pub pdol_contactless: String,
    /// AIP hex for contact.
    pub aip_contact: String,
    /// AFL hex for contact.
    pub afl_contact: String,
    /// AFL hex for contact electronic cash (default: `afl_contact`).
    #[serde(default)]
    pub afl_ec: String,
    /// AIP hex for qPBOC.
    pub aip_qpboc: String,
    /// AFL hex for qPBOC offline approvals.
    pub afl_qpboc: String,
    /// PAN digits.
    pub pan: String,
    /// PAN sequence number, two digits.
    pub psn: String,
    /// Expiry `YYMM`.
    pub expiry: String,
    /// Service code, 3 digits.
    pub service_code: String,
    /// Track 2 discretionary digits.
    #[serde(default)]
    pub track2_discretionary: String,
    /// Derivation key index (hex byte).
    #[serde(default = "dki")]
    pub dki: String,
    /// Keys.
    pub keys: KeysSection,
    /// Offline PIN digits.
    pub pin: String,
    /// PIN try limit.
    pub pin_try_limit: u8,
    /// Electronic cash.
    #[serde(default)]
    pub ec: Option<EcSection>,
    /// Risk management.
    pub risk: RiskSection,
    /// Transaction log.
    #[serde(default)]
    pub transaction_log: Option<LogSection>,
    /// Load log.
    #[serde(default)]
    pub load_log: Option<LogSection>,
    /// IAD issuer discretionary data with the EC balance (ID 01).
    #[serde(default)]
    pub iad_ec_balance: bool,
    /// Application version `9F08` hex.
    #[serde(default = "version")]
    pub app_version: String,
    /// ICC SM2 private key hex (32 bytes).
    #[serde(default)]
    pub sm2_secret: Option<String>,
    /// RSA offline data authentication: keys, certificate records and AFLs.
    #[serde(default)]
    pub rsa: Option<RsaSection>,
    /// `dual`, `rsa` or `sm` (default: `dual` when both `sm2_secret` and `rsa` are given,
    /// else the one given).
    #[serde(default)]
    pub oda_algorithms: Option<String>,
    /// An RSA-only card answers 6985 to a GPO whose `DF69` asks for SM (default false:
    /// it carries on in RSA). See `docs/spec-choices.md`.
    #[serde(default)]
    pub refuse_sm_request: bool,
    /// Start blocked.
    #[serde(default)]
    pub blocked: bool,
    /// Records.
    pub records: Vec<RecordSection>,
}

fn one() -> u8 {
    1
}
fn dki() -> String {
    "01".to_string()
}
fn version() -> String {
    "0030".to_string()
}

/// `rsa`: the RSA chain CA → issuer → ICC, built at personalization (EMV Book 2 §5–6).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsaSection {
    /// Index of the test CA key (hex byte) in `vectors/pboc/test-ca-keys.toml`; it goes
    /// in `8F`.
    pub ca_index: String,
    /// RID of the CA (default UnionPay `A000000333`).
    #[serde(default = "unionpay_rid")]
    pub ca_rid: String,
    /// SFI whose records 1–3 receive `8F 90 92 9F32`, `9F46 9F47 9F48` and `93`.
    pub sfi: u8,
    /// AFL of the contact path when RSA is chosen.
    pub afl_contact: String,
    /// AFL of a qPBOC offline approval when RSA is chosen.
    pub afl_qpboc: String,
    /// AFL of the contact EC path when RSA is chosen (default `afl_contact`).
    #[serde(default)]
    pub afl_ec: String,
    /// Certificate serial numbers, 3 bytes hex (default `000001`).
    #[serde(default = "serial")]
    pub certificate_serial: String,
    /// Certificate expiry `MMYY` (default: the application's expiry).
    #[serde(default)]
    pub certificate_expiry: Option<String>,
    /// Data authentication code `9F45` in the signed static data, 2 bytes hex.
    #[serde(default = "dac")]
    pub data_authentication_code: String,
    /// The issuer's key pair (TEST ONLY).
    pub issuer_key: RsaKeySection,
    /// The card's key pair (TEST ONLY); the card keeps `n` and `d`.
    pub icc_key: RsaKeySection,
}

fn unionpay_rid() -> String {
    "A000000333".to_string()
}
fn serial() -> String {
    "000001".to_string()
}
fn dac() -> String {
    "DAC1".to_string()
}

/// An RSA key pair, hex.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsaKeySection {
    /// Modulus.
    pub modulus: String,
    /// Public exponent: `03` or `010001`.
    pub exponent: String,
    /// Private exponent.
    pub private_exponent: String,
    /// CRT prime `P` (PKCS #1 `prime1`); required for the ICC key, which the card keeps
    /// in CRT form (DGI 8201–8205).
    #[serde(default)]
    pub prime1: Option<String>,
    /// CRT prime `Q` (`prime2`).
    #[serde(default)]
    pub prime2: Option<String>,
    /// `dP` (`exponent1`).
    #[serde(default)]
    pub exponent1: Option<String>,
    /// `dQ` (`exponent2`).
    #[serde(default)]
    pub exponent2: Option<String>,
    /// `qInv` (`coefficient`).
    #[serde(default)]
    pub coefficient: Option<String>,
}

/// `vectors/pboc/test-ca-keys.toml`: the test CA private keys profiles may name.
pub const TEST_CA_KEYS: &str = include_str!("../../../vectors/pboc/test-ca-keys.toml");

#[derive(Deserialize)]
struct TestCaKeys {
    key: Vec<TestCaKey>,
}

#[derive(Deserialize)]
struct TestCaKey {
    rid: String,
    index: String,
    algorithm: String,
    #[serde(default)]
    modulus: String,
    #[serde(default)]
    exponent: String,
    #[serde(default)]
    private_exponent: String,
}

/// An RSA key pair parsed from hex.
struct RsaKeyBytes {
    modulus: Vec<u8>,
    exponent: Vec<u8>,
    private_exponent: zeroize::Zeroizing<Vec<u8>>,
}

impl RsaKeyBytes {
    fn parse(field: &str, modulus: &str, exponent: &str, d: &str) -> Result<Self, ProfileError> {
        let key = RsaKeyBytes {
            modulus: hex(&format!("{field}.modulus"), modulus)?,
            exponent: hex(&format!("{field}.exponent"), exponent)?,
            private_exponent: zeroize::Zeroizing::new(hex(
                &format!("{field}.private_exponent"),
                d,
            )?),
        };
        if !matches!(key.exponent.as_slice(), [0x03] | [0x01, 0x00, 0x01]) {
            return err(&format!("{field}.exponent"), "must be 03 or 010001");
        }
        key.private(field)?;
        Ok(key)
    }

    fn private(&self, field: &str) -> Result<crate::rsa_oda::RsaPrivateKey<'_>, ProfileError> {
        crate::rsa_oda::RsaPrivateKey::new(&self.modulus, &self.private_exponent).map_or_else(
            |_| {
                err(
                    field,
                    "not a usable RSA key (64-248 byte odd modulus with its top bit set)",
                )
            },
            Ok,
        )
    }

    fn public(&self) -> crate::rsa_oda::PublicKey<'_> {
        crate::rsa_oda::PublicKey {
            modulus: &self.modulus,
            exponent: &self.exponent,
        }
    }
}

/// The test CA key `rid`/`index` of [`TEST_CA_KEYS`] (RSA, 1024–1984 bits).
fn test_ca_key(field: &str, rid: &[u8], index: u8) -> Result<RsaKeyBytes, ProfileError> {
    let keys: TestCaKeys = toml::from_str(TEST_CA_KEYS)
        .map_or_else(|e| err(field, &format!("test CA key file: {e}")), Ok)?;
    for k in &keys.key {
        if hex(field, &k.rid)? == rid && hex(field, &k.index)? == [index] {
            if k.algorithm != "rsa" {
                return err(field, "names an SM2 CA key; the RSA chain needs an RSA one");
            }
            let key = RsaKeyBytes::parse(field, &k.modulus, &k.exponent, &k.private_exponent)?;
            if !(128..=248).contains(&key.modulus.len()) {
                return err(field, "CA modulus must be 1024-1984 bits");
            }
            return Ok(key);
        }
    }
    err(
        field,
        "no such test CA key in vectors/pboc/test-ca-keys.toml",
    )
}

/// Appends `tag len value` (BER, one- or two-byte tag, length up to 255).
fn put_tlv(out: &mut Vec<u8>, tag: u16, value: &[u8]) {
    if tag > 0xFF {
        out.extend_from_slice(&tag.to_be_bytes());
    } else {
        out.push(tag as u8);
    }
    match value.len() {
        n @ 0..=0x7F => out.push(n as u8),
        n => {
            out.push(0x81);
            out.push(n.min(255) as u8);
        }
    }
    out.extend_from_slice(value);
}

/// Static data to be authenticated (EMV Book 3 §10.3, Book 2 §5.4): the AFL's ODA
/// records (SFI 1–10: the value inside `70`; SFI 11–30: the whole record), then the
/// values of the tags `9F4A` lists (only the AIP `82` is allowed).
fn static_data(
    field: &str,
    afl: &[u8],
    records: &[(u8, u8, Vec<u8>)],
    aip: [u8; 2],
) -> Result<Vec<u8>, ProfileError> {
    let mut out = Vec::new();
    for e in afl.chunks(4) {
        let [sfi_byte, first, _, oda] = e else {
            return err(field, "AFL entries are 4 bytes");
        };
        let sfi = sfi_byte >> 3;
        for n in *first..first.saturating_add(*oda) {
            let Some((_, _, content)) = records.iter().find(|r| r.0 == sfi && r.1 == n) else {
                return err(field, "names a record that is not personalized");
            };
            if sfi <= 10 {
                out.extend_from_slice(content);
            } else {
                put_tlv(&mut out, 0x70, content);
            }
        }
    }
    let tag_list = records.iter().find_map(|(_, _, content)| {
        sscard_core::tlv::find(content, sscard_core::tlv::Tag(0x9F4A))
            .ok()
            .flatten()
            .map(|t| t.value().to_vec())
    });
    match tag_list.as_deref() {
        None | Some([]) => {}
        Some([0x82]) => out.extend_from_slice(&aip),
        Some(_) => return err("records.9F4A", "the SDA tag list may only name 82 (AIP)"),
    }
    Ok(out)
}

impl RsaSection {
    /// Builds the three certificate records of the chain for application `a`.
    fn records(
        &self,
        at: &str,
        pan: &[u8],
        expiry_yymm: &[u8],
        aip: [u8; 2],
        aip_qpboc: [u8; 2],
        records: &[(u8, u8, Vec<u8>)],
    ) -> Result<Vec<(u8, u8, Vec<u8>)>, ProfileError> {
        use crate::rsa_oda::{
            CertificateTerms, icc_certificate, issuer_certificate, signed_static_data,
        };
        let f = |name: &str| format!("{at}.rsa.{name}");
        let rid = hex(&f("ca_rid"), &self.ca_rid)?;
        let index = hex_array::<1>(&f("ca_index"), &self.ca_index)?[0];
        let ca = test_ca_key(&f("ca_index"), &rid, index)?;
        let k = &self.issuer_key;
        let issuer = RsaKeyBytes::parse(
            &f("issuer_key"),
            &k.modulus,
            &k.exponent,
            &k.private_exponent,
        )?;
        let k = &self.icc_key;
        let icc = RsaKeyBytes::parse(&f("icc_key"), &k.modulus, &k.exponent, &k.private_exponent)?;
        if issuer.modulus.len() > ca.modulus.len() {
            return err(
                &f("issuer_key"),
                "modulus longer than the CA's (Book 2 §5.1)",
            );
        }
        if icc.modulus.len() > issuer.modulus.len() {
            return err(
                &f("icc_key"),
                "modulus longer than the issuer's (Book 2 §6.1)",
            );
        }
        let serial = hex_array::<3>(&f("certificate_serial"), &self.certificate_serial)?;
        let dac = hex_array::<2>(
            &f("data_authentication_code"),
            &self.data_authentication_code,
        )?;
        let expiry = match &self.certificate_expiry {
            Some(mmyy) => digits(&f("certificate_expiry"), mmyy)?,
            None => match expiry_yymm {
                [y1, y2, m1, m2] => vec![*m1, *m2, *y1, *y2],
                _ => return err(&format!("{at}.expiry"), "must be YYMM digits"),
            },
        };
        let bcd = |digits: &[u8], len: usize| -> Vec<u8> {
            let mut nibbles: Vec<u8> = digits.iter().map(|c| c.wrapping_sub(b'0')).collect();
            nibbles.resize(2 * len, 0x0F);
            nibbles
                .chunks_exact(2)
                .map(|p| match p {
                    [hi, lo] => (hi << 4) | lo,
                    _ => 0xFF,
                })
                .collect()
        };
        if expiry.len() != 4 {
            return err(&f("certificate_expiry"), "must be MMYY digits");
        }
        let expiry: [u8; 2] = bcd(&expiry, 2).try_into().unwrap_or([0; 2]);
        let issuer_id: [u8; 4] = bcd(pan.get(..8).unwrap_or(pan), 4)
            .try_into()
            .unwrap_or([0xFF; 4]);
        let pan_field: [u8; 10] = bcd(pan, 10).try_into().unwrap_or([0xFF; 10]);

        let afl_contact = hex(&f("afl_contact"), &self.afl_contact)?;
        let afl_qpboc = hex(&f("afl_qpboc"), &self.afl_qpboc)?;
        for (name, afl) in [("afl_contact", &afl_contact), ("afl_qpboc", &afl_qpboc)] {
            if afl
                .chunks(4)
                .any(|e| e.first().map(|s| s >> 3) == Some(self.sfi) && e.get(3) != Some(&0))
            {
                return err(&f(name), "the certificate SFI cannot hold ODA records");
            }
        }
        let signed = static_data(&f("afl_contact"), &afl_contact, records, aip)?;
        if static_data(&f("afl_qpboc"), &afl_qpboc, records, aip_qpboc)? != signed {
            return err(
                &f("afl_qpboc"),
                "must sign the same static data as afl_contact (same ODA records, same AIP)",
            );
        }

        let ca_key = ca.private(&f("ca_index"))?;
        let issuer_key = issuer.private(&f("issuer_key"))?;
        let chain = |e: sscard_core::status::Status| ProfileError {
            field: f("issuer_key"),
            message: format!("cannot build the certificate chain ({e:?})"),
        };
        let terms = CertificateTerms {
            expiry_mmyy: expiry,
            serial,
        };
        let issuer_cert =
            issuer_certificate(&ca_key, issuer_id, terms, &issuer.public()).map_err(chain)?;
        let icc_cert = icc_certificate(&issuer_key, pan_field, terms, &icc.public(), &signed)
            .map_err(chain)?;
        let ssad = signed_static_data(&issuer_key, dac, &signed).map_err(chain)?;

        let mut first = Vec::new();
        put_tlv(&mut first, 0x8F, &[index]);
        put_tlv(&mut first, 0x90, &issuer_cert.certificate);
        if !issuer_cert.remainder.is_empty() {
            put_tlv(&mut first, 0x92, &issuer_cert.remainder);
        }
        put_tlv(&mut first, 0x9F32, &issuer.exponent);
        let mut second = Vec::new();
        put_tlv(&mut second, 0x9F46, &icc_cert.certificate);
        put_tlv(&mut second, 0x9F47, &icc.exponent);
        if !icc_cert.remainder.is_empty() {
            put_tlv(&mut second, 0x9F48, &icc_cert.remainder);
        }
        let mut third = Vec::new();
        put_tlv(&mut third, 0x93, &ssad);
        Ok(vec![
            (self.sfi, 1, first),
            (self.sfi, 2, second),
            (self.sfi, 3, third),
        ])
    }
}

/// `keys`: either the issuer master keys or the card's UDKs, hex.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysSection {
    /// IMK-AC.
    #[serde(default)]
    pub imk_ac: Option<String>,
    /// IMK-MAC.
    #[serde(default)]
    pub imk_mac: Option<String>,
    /// IMK-ENC.
    #[serde(default)]
    pub imk_enc: Option<String>,
    /// UDK-AC.
    #[serde(default)]
    pub udk_ac: Option<String>,
    /// UDK-MAC.
    #[serde(default)]
    pub udk_mac: Option<String>,
    /// UDK-ENC.
    #[serde(default)]
    pub udk_enc: Option<String>,
}

/// `ec`: amounts as decimal strings in yuan (`"100.00"`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcSection {
    /// `9F79`.
    pub balance: String,
    /// `9F77`.
    pub balance_limit: String,
    /// `9F78`.
    pub single_limit: String,
    /// `9F6D`.
    #[serde(default = "zero")]
    pub reset_threshold: String,
    /// `9F74`, 6 ASCII characters.
    #[serde(default = "ecc")]
    pub issuer_auth_code: String,
}

fn zero() -> String {
    "0.00".to_string()
}
fn ecc() -> String {
    "ECC001".to_string()
}

/// `risk`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskSection {
    /// `9F51` hex, e.g. `"0156"`.
    pub currency: String,
    /// `9F57` hex.
    pub country: String,
    /// `9F52` hex.
    pub ada: String,
    /// `9F56` hex byte.
    #[serde(default = "zero_byte")]
    pub issuer_auth_indicator: String,
    /// `9F58`.
    #[serde(default)]
    pub lcol: Option<u8>,
    /// `9F59`.
    #[serde(default)]
    pub ucol: Option<u8>,
    /// `9F53`.
    #[serde(default)]
    pub consecutive_international_limit: Option<u8>,
    /// `9F54` amount.
    #[serde(default)]
    pub cttal: Option<String>,
    /// `9F5C` amount.
    #[serde(default)]
    pub cttaul: Option<String>,
    /// `9F6B` amount.
    #[serde(default)]
    pub card_cvm_limit: Option<String>,
    /// `9F68` hex.
    pub cpp: String,
    /// `9F6C` hex.
    pub ctq: String,
}

fn zero_byte() -> String {
    "00".to_string()
}

/// A log.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// SFI.
    pub sfi: u8,
    /// Number of records.
    pub records: u8,
    /// Format DOL hex.
    pub format: String,
}

/// `[[pboc.applications.records]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSection {
    /// SFI.
    pub sfi: u8,
    /// Record number.
    pub number: u8,
    /// The TLVs inside the `70` template, hex.
    pub data: String,
}

fn hex(field: &str, s: &str) -> Result<Vec<u8>, ProfileError> {
    let digits: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return err(field, "hex string has an odd number of digits");
    }
    digits
        .chunks(2)
        .map(|p| {
            core::str::from_utf8(p)
                .ok()
                .and_then(|t| u8::from_str_radix(t, 16).ok())
                .map_or_else(|| err(field, "not a hex string"), Ok)
        })
        .collect()
}

fn hex_array<const N: usize>(field: &str, s: &str) -> Result<[u8; N], ProfileError> {
    let v = hex(field, s)?;
    v.try_into()
        .map_or_else(|_| err(field, &format!("must be {N} bytes of hex")), Ok)
}

/// `"100.00"` (or `"100"`) yuan → 10000 fen.
fn amount(field: &str, s: &str) -> Result<u64, ProfileError> {
    let (whole, frac) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
    let ok = |t: &str| t.bytes().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !ok(whole) || !ok(frac) || frac.len() > 2 || whole.len() > 10 {
        return err(
            field,
            "must be an amount like \"100.00\" (at most 2 decimals)",
        );
    }
    let whole: u64 = whole
        .parse()
        .map_or_else(|_| err(field, "amount too large"), Ok)?;
    let mut cents = 0u64;
    for (i, c) in frac.bytes().enumerate() {
        cents += u64::from(c - b'0') * if i == 0 { 10 } else { 1 };
    }
    Ok(whole * 100 + cents)
}

fn digits(field: &str, s: &str) -> Result<Vec<u8>, ProfileError> {
    if !s.bytes().all(|c| c.is_ascii_digit()) {
        return err(field, "must be decimal digits");
    }
    Ok(s.as_bytes().to_vec())
}

/// A checked application, owning its bytes.
#[derive(Clone, Debug)]
struct OwnedApplication {
    kind: ApplicationKind,
    aid: Vec<u8>,
    label: Vec<u8>,
    priority: u8,
    preferred_name: Vec<u8>,
    language: Vec<u8>,
    issuer_code_table_index: Option<u8>,
    pdol_contact: Vec<u8>,
    pdol_contactless: Vec<u8>,
    aip_contact: [u8; 2],
    afl_contact: Vec<u8>,
    afl_ec: Vec<u8>,
    aip_qpboc: [u8; 2],
    afl_qpboc: Vec<u8>,
    records: Vec<(u8, u8, Vec<u8>)>,
    pan: Vec<u8>,
    psn: u8,
    expiry: Vec<u8>,
    service_code: Vec<u8>,
    track2_discretionary: Vec<u8>,
    keys: Keys,
    dki: u8,
    pin: Vec<u8>,
    pin_try_limit: u8,
    ec: Option<ElectronicCash>,
    risk: RiskParameters,
    transaction_log: Option<(u8, u8, Vec<u8>)>,
    load_log: Option<(u8, u8, Vec<u8>)>,
    iad_ec_balance: bool,
    app_version: [u8; 2],
    sm2_secret: Option<[u8; 32]>,
    rsa: Option<OwnedRsa>,
    oda_algorithms: perso::OdaAlgorithms,
    blocked: bool,
}

/// The card's side of the RSA chain.
#[derive(Clone, Debug)]
struct OwnedRsa {
    icc_modulus: Vec<u8>,
    icc_public_exponent: Vec<u8>,
    /// P, Q, dP, dQ, qInv.
    icc_crt: [zeroize::Zeroizing<Vec<u8>>; 5],
    afl_contact: Vec<u8>,
    afl_qpboc: Vec<u8>,
    afl_ec: Vec<u8>,
}

/// A checked `[pboc]` section, owning its bytes; personalizes cards.
#[derive(Clone, Debug)]
pub struct PbocProfile {
    pse_sfi: Option<u8>,
    ppse: bool,
    pse_on_contactless: bool,
    ppse_on_contact: bool,
    pse_language: Vec<u8>,
    applications: Vec<OwnedApplication>,
}

impl PbocSection {
    /// Checks every field and converts to a [`PbocProfile`].
    ///
    /// # Errors
    /// The first bad field, with its dotted path.
    pub fn build(&self) -> Result<PbocProfile, ProfileError> {
        let mut applications = Vec::new();
        for (i, a) in self.applications.iter().enumerate() {
            applications.push(a.build(&format!("pboc.applications[{i}]"))?);
        }
        let profile = PbocProfile {
            pse_sfi: self.pse_sfi,
            ppse: self.ppse,
            pse_on_contactless: self.pse_on_contactless,
            ppse_on_contact: self.ppse_on_contact,
            pse_language: self.pse_language.as_bytes().to_vec(),
            applications,
        };
        // The no_std checks (DOLs, AFLs against records, Luhn, limits…) run here too, so
        // a profile that loads personalizes; per application first, to name its index.
        profile.with_personalization(|p| {
            for (i, a) in p.applications.iter().enumerate() {
                if let Err(PersoError::Invalid(field, rule)) = perso::validate_application(a) {
                    let at = format!("applications[{i}]");
                    let field = match field.strip_prefix("applications") {
                        Some(rest) => format!("{at}{rest}"),
                        None => format!("{at}.{field}"),
                    };
                    return Err(ProfileError {
                        field: format!("pboc.{field}"),
                        message: rule.to_string(),
                    });
                }
            }
            Ok(())
        })?;
        profile
            .with_personalization(|p| perso::region_len(p).map(|_| ()))
            .map_err(|e| match e {
                PersoError::Invalid(field, rule) => ProfileError {
                    field: format!("pboc.{field}"),
                    message: rule.to_string(),
                },
                PersoError::Build(b) => ProfileError {
                    field: "pboc".to_string(),
                    message: b.to_string(),
                },
            })?;
        Ok(profile)
    }
}

impl ApplicationSection {
    fn build(&self, at: &str) -> Result<OwnedApplication, ProfileError> {
        let f = |name: &str| format!("{at}.{name}");
        let kind = match self.kind.as_str() {
            "debit" => ApplicationKind::Debit,
            "credit" => ApplicationKind::Credit,
            "quasi_credit" => ApplicationKind::QuasiCredit,
            "electronic_cash" => ApplicationKind::ElectronicCash,
            _ => {
                return err(
                    &f("kind"),
                    "must be debit, credit, quasi_credit or electronic_cash",
                );
            }
        };
        let keys = &self.keys;
        let k = |name: &str, v: &Option<String>| -> Result<Option<[u8; 16]>, ProfileError> {
            v.as_deref()
                .map(|s| hex_array::<16>(&f(&format!("keys.{name}")), s))
                .transpose()
        };
        let keys = match (
            k("imk_ac", &keys.imk_ac)?,
            k("imk_mac", &keys.imk_mac)?,
            k("imk_enc", &keys.imk_enc)?,
            k("udk_ac", &keys.udk_ac)?,
            k("udk_mac", &keys.udk_mac)?,
            k("udk_enc", &keys.udk_enc)?,
        ) {
            (Some(ac), Some(mac), Some(enc), None, None, None) => {
                Keys::IssuerMasterKeys { ac, mac, enc }
            }
            (None, None, None, Some(ac), Some(mac), Some(enc)) => Keys::CardKeys { ac, mac, enc },
            _ => {
                return err(
                    &f("keys"),
                    "give either imk_ac, imk_mac and imk_enc, or udk_ac, udk_mac and udk_enc",
                );
            }
        };
        let psn = hex_array::<1>(&f("psn"), &self.psn)?[0];
        let ec = match &self.ec {
            None => None,
            Some(e) => {
                let code = e.issuer_auth_code.as_bytes();
                let issuer_auth_code: [u8; 6] = code.try_into().map_or_else(
                    |_| err(&f("ec.issuer_auth_code"), "must be 6 ASCII characters"),
                    Ok,
                )?;
                Some(ElectronicCash {
                    balance: amount(&f("ec.balance"), &e.balance)?,
                    balance_limit: amount(&f("ec.balance_limit"), &e.balance_limit)?,
                    single_limit: amount(&f("ec.single_limit"), &e.single_limit)?,
                    reset_threshold: amount(&f("ec.reset_threshold"), &e.reset_threshold)?,
                    issuer_auth_code,
                })
            }
        };
        let r = &self.risk;
        let opt_amount = |name: &str, v: &Option<String>| {
            v.as_deref()
                .map(|s| amount(&f(&format!("risk.{name}")), s))
                .transpose()
        };
        let risk = RiskParameters {
            currency: hex_array(&f("risk.currency"), &r.currency)?,
            country: hex_array(&f("risk.country"), &r.country)?,
            ada: hex_array(&f("risk.ada"), &r.ada)?,
            issuer_auth_indicator: hex_array::<1>(
                &f("risk.issuer_auth_indicator"),
                &r.issuer_auth_indicator,
            )?[0],
            lcol: r.lcol,
            ucol: r.ucol,
            consecutive_international_limit: r.consecutive_international_limit,
            cttal: opt_amount("cttal", &r.cttal)?,
            cttaul: opt_amount("cttaul", &r.cttaul)?,
            card_cvm_limit: opt_amount("card_cvm_limit", &r.card_cvm_limit)?,
            cpp: hex_array(&f("risk.cpp"), &r.cpp)?,
            ctq: hex_array(&f("risk.ctq"), &r.ctq)?,
        };
        let log = |name: &str,
                   l: &Option<LogSection>|
         -> Result<Option<(u8, u8, Vec<u8>)>, ProfileError> {
            l.as_ref()
                .map(|l| {
                    Ok((
                        l.sfi,
                        l.records,
                        hex(&f(&format!("{name}.format")), &l.format)?,
                    ))
                })
                .transpose()
        };
        let mut records = Vec::new();
        for (i, rec) in self.records.iter().enumerate() {
            records.push((
                rec.sfi,
                rec.number,
                hex(&f(&format!("records[{i}].data")), &rec.data)?,
            ));
        }
        let pan = digits(&f("pan"), &self.pan)?;
        let expiry = digits(&f("expiry"), &self.expiry)?;
        let aip_contact: [u8; 2] = hex_array(&f("aip_contact"), &self.aip_contact)?;
        let aip_qpboc: [u8; 2] = hex_array(&f("aip_qpboc"), &self.aip_qpboc)?;
        let rsa = match &self.rsa {
            None => None,
            Some(r) => {
                let chain = r.records(at, &pan, &expiry, aip_contact, aip_qpboc, &records)?;
                records.extend(chain);
                let k = &r.icc_key;
                let icc = RsaKeyBytes::parse(
                    &f("rsa.icc_key"),
                    &k.modulus,
                    &k.exponent,
                    &k.private_exponent,
                )?;
                let crt = |name: &str, v: &Option<String>| -> Result<_, ProfileError> {
                    let field = f(&format!("rsa.icc_key.{name}"));
                    match v {
                        Some(text) => Ok(zeroize::Zeroizing::new(hex(&field, text)?)),
                        None => err(
                            &field,
                            "the card keeps its RSA key in CRT form: give prime1, prime2, exponent1, exponent2 and coefficient",
                        ),
                    }
                };
                Some(OwnedRsa {
                    icc_modulus: icc.modulus.clone(),
                    icc_public_exponent: icc.exponent.clone(),
                    icc_crt: [
                        crt("prime1", &k.prime1)?,
                        crt("prime2", &k.prime2)?,
                        crt("exponent1", &k.exponent1)?,
                        crt("exponent2", &k.exponent2)?,
                        crt("coefficient", &k.coefficient)?,
                    ],
                    afl_contact: hex(&f("rsa.afl_contact"), &r.afl_contact)?,
                    afl_qpboc: hex(&f("rsa.afl_qpboc"), &r.afl_qpboc)?,
                    afl_ec: hex(&f("rsa.afl_ec"), &r.afl_ec)?,
                })
            }
        };
        let oda_algorithms = match (
            self.oda_algorithms.as_deref(),
            self.sm2_secret.is_some(),
            rsa.is_some(),
        ) {
            (Some("dual"), _, _) | (None, true, true) => perso::OdaAlgorithms::Dual,
            (Some("rsa"), _, _) | (None, false, true) => perso::OdaAlgorithms::RsaOnly {
                refuse_sm_request: self.refuse_sm_request,
            },
            (Some("sm"), _, _) | (None, _, false) => perso::OdaAlgorithms::SmOnly,
            (Some(_), _, _) => return err(&f("oda_algorithms"), "must be dual, rsa or sm"),
        };
        for (name, aip) in [("aip_contact", aip_contact), ("aip_qpboc", aip_qpboc)] {
            if aip[0] & 0x01 != 0 {
                return err(
                    &f(name),
                    "CDA (AIP byte 1 b1) is not supported by this applet",
                );
            }
        }
        Ok(OwnedApplication {
            kind,
            aid: hex(&f("aid"), &self.aid)?,
            label: self.label.as_bytes().to_vec(),
            priority: self.priority,
            preferred_name: self.preferred_name.as_bytes().to_vec(),
            language: self.language.as_bytes().to_vec(),
            issuer_code_table_index: self.issuer_code_table_index,
            pdol_contact: hex(&f("pdol_contact"), &self.pdol_contact)?,
            pdol_contactless: hex(&f("pdol_contactless"), &self.pdol_contactless)?,
            aip_contact,
            afl_contact: hex(&f("afl_contact"), &self.afl_contact)?,
            afl_ec: hex(&f("afl_ec"), &self.afl_ec)?,
            aip_qpboc,
            afl_qpboc: hex(&f("afl_qpboc"), &self.afl_qpboc)?,
            records,
            pan,
            psn,
            expiry,
            service_code: digits(&f("service_code"), &self.service_code)?,
            track2_discretionary: digits(&f("track2_discretionary"), &self.track2_discretionary)?,
            keys,
            dki: hex_array::<1>(&f("dki"), &self.dki)?[0],
            pin: digits(&f("pin"), &self.pin)?,
            pin_try_limit: self.pin_try_limit,
            ec,
            risk,
            transaction_log: log("transaction_log", &self.transaction_log)?,
            load_log: log("load_log", &self.load_log)?,
            iad_ec_balance: self.iad_ec_balance,
            app_version: hex_array(&f("app_version"), &self.app_version)?,
            sm2_secret: self
                .sm2_secret
                .as_deref()
                .map(|s| hex_array::<32>(&f("sm2_secret"), s))
                .transpose()?,
            rsa,
            oda_algorithms,
            blocked: self.blocked,
        })
    }
}

fn log_spec(l: &Option<(u8, u8, Vec<u8>)>) -> Option<LogSpec<'_>> {
    l.as_ref().map(|(sfi, records, format)| LogSpec {
        sfi: *sfi,
        records: *records,
        format,
    })
}

impl PbocProfile {
    /// Runs `f` with the no_std personalization view of this profile.
    pub fn with_personalization<R>(&self, f: impl FnOnce(&PbocPersonalization<'_>) -> R) -> R {
        let records: Vec<Vec<Record<'_>>> = self
            .applications
            .iter()
            .map(|a| {
                a.records
                    .iter()
                    .map(|(sfi, number, content)| Record {
                        sfi: *sfi,
                        number: *number,
                        content,
                    })
                    .collect()
            })
            .collect();
        let apps: Vec<Application<'_>> = self
            .applications
            .iter()
            .zip(records.iter())
            .map(|(a, recs)| Application {
                kind: a.kind,
                aid: &a.aid,
                label: &a.label,
                priority: a.priority,
                preferred_name: &a.preferred_name,
                language: &a.language,
                issuer_code_table_index: a.issuer_code_table_index,
                pdol_contact: &a.pdol_contact,
                pdol_contactless: &a.pdol_contactless,
                aip_contact: a.aip_contact,
                afl_contact: &a.afl_contact,
                afl_ec: &a.afl_ec,
                aip_qpboc: a.aip_qpboc,
                afl_qpboc: &a.afl_qpboc,
                records: recs,
                pan: &a.pan,
                psn: a.psn,
                expiry_yymm: &a.expiry,
                service_code: &a.service_code,
                track2_discretionary: &a.track2_discretionary,
                keys: a.keys,
                dki: a.dki,
                pin: &a.pin,
                pin_try_limit: a.pin_try_limit,
                ec: a.ec,
                risk: a.risk,
                transaction_log: log_spec(&a.transaction_log),
                load_log: log_spec(&a.load_log),
                iad_ec_balance: a.iad_ec_balance,
                app_version: a.app_version,
                sm2_secret: a.sm2_secret,
                rsa: a.rsa.as_ref().map(|r| RsaOda {
                    icc_modulus: &r.icc_modulus,
                    icc_public_exponent: &r.icc_public_exponent,
                    icc_p: &r.icc_crt[0],
                    icc_q: &r.icc_crt[1],
                    icc_dp: &r.icc_crt[2],
                    icc_dq: &r.icc_crt[3],
                    icc_qinv: &r.icc_crt[4],
                    afl_contact: &r.afl_contact,
                    afl_qpboc: &r.afl_qpboc,
                    afl_ec: &r.afl_ec,
                }),
                oda_algorithms: a.oda_algorithms,
                blocked: a.blocked,
            })
            .collect();
        let p = PbocPersonalization {
            applications: &apps,
            pse_sfi: self.pse_sfi,
            ppse: self.ppse,
            pse_on_contactless: self.pse_on_contactless,
            ppse_on_contact: self.ppse_on_contact,
            pse_language: &self.pse_language,
        };
        f(&p)
    }

    /// Writes the PBOC region of the card `p` is building.
    ///
    /// # Errors
    /// [`PersoError`] if the card memory is too small.
    pub fn personalize<N: Nvm>(
        &self,
        p: &mut Personalizer<'_, N>,
    ) -> Result<FileIndex, PersoError> {
        self.with_personalization(|perso| perso::personalize(p, perso))
    }

    /// The PAN of application `index` (digits), for tools and tests.
    pub fn pan(&self, index: usize) -> Option<&str> {
        self.applications
            .get(index)
            .and_then(|a| core::str::from_utf8(&a.pan).ok())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(amount("x", "100.00"), Ok(10000));
        assert_eq!(amount("x", "1000"), Ok(100000));
        assert_eq!(amount("x", "0.5"), Ok(50));
        assert!(amount("x", "1.234").is_err());
        assert!(amount("x", "-1").is_err());
        assert!(amount("x", "").is_err());
    }

    #[test]
    fn hex_strings() {
        assert_eq!(hex("x", "0A 0b").unwrap(), [0x0A, 0x0B]);
        assert_eq!(hex("x", "0A0").unwrap_err().field, "x");
        assert!(hex("x", "zz").is_err());
    }
}
