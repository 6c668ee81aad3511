//! Personalization profiles: TOML on disk → a personalized card image.
//!
//! A profile names the card's generation, algorithm, ATR, area code, its keys (the
//! issuer's roots, diversified per card by the core, or the card's own keys), the holder
//! PIN and the data of EF05/EF06 and of any other file, the FCIs and file sizes where the
//! card differs from the standard layout, plus the spec choices of `sscard_core::options`.
//! Values are written as people read them (dates `20251201`, names in Chinese); this
//! module encodes them as the card stores them (cn → BCD right-padded with F, an → bytes
//! right-padded with 00 or the profile's padding byte, names in GBK; LD/T 32 P10 §5.4,
//! V2.0 §7); an empty value leaves the element unwritten (its format's fill bytes).
//! Every error names the field. `docs/profile.md` is the reference.

use serde::Deserialize;
use sscard_core::crypto::Algorithm;
use sscard_core::fs::build::{Capacities, EfSpec, Personalizer, Structure};
use sscard_core::fs::layout::Access;
use sscard_core::nvm::RamNvm;
use sscard_core::options::{CosOptions, LeZero};
use sscard_ssc::SocialSecurity;
use sscard_ssc::layout::{AppDf, Location, key_id};
use sscard_ssc::options::{PkiKeyPolicy, PurseOptions, SlotPolicy, SscOptions};
use sscard_ssc::perso::{
    Availability, BinarySpec, DfFci, DfRef, EfLayout, ExtraEf, Generation, InterfacePolicy,
    KeySpec, PersoError, PkiSpec, RecordsSpec, SscPersonalization, ssse_key_usage,
};
use sscard_ssc::purse::{DSK_ID, PurseValues, key_id as purse_key, valid_mmdd};
use std::path::Path;

/// The default third-generation profile (test keys only), built into the binary.
pub const DEFAULT_GEN3: &str = include_str!("../../../vectors/profiles/gen3-default.toml");

/// A profile error, naming the field (one type for the whole profile, `[pboc]` included).
pub use sscard_pboc::profile::ProfileError;

fn err(field: impl Into<String>, message: impl Into<String>) -> ProfileError {
    ProfileError {
        field: field.into(),
        message: message.into(),
    }
}

/// The TOML document.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileToml {
    /// Card-level settings.
    pub card: CardToml,
    /// The holder PIN.
    pub pin: PinToml,
    /// Issuer root keys.
    pub keys: KeysToml,
    /// SSSE EF05 发卡机构数据.
    pub ef05: Ef05Toml,
    /// SSSE EF06 持卡人基本信息.
    pub ef06: Ef06Toml,
    /// Other records, appended in order.
    #[serde(default)]
    pub records: Vec<RecordsToml>,
    /// Transparent contents.
    #[serde(default)]
    pub binary: Vec<BinaryToml>,
    /// Extra transparent EFs in the SSSE (biometric templates).
    #[serde(default)]
    pub extra_ef: Vec<ExtraEfToml>,
    /// The medical purse (created when the purse keys are given).
    #[serde(default)]
    pub purse: PurseToml,
    /// The gen-3 PKI application.
    #[serde(default)]
    pub pki: Option<PkiToml>,
    /// Which applications answer on which interface.
    #[serde(default)]
    pub interfaces: InterfacesToml,
    /// Spec choices.
    #[serde(default)]
    pub options: OptionsToml,
    /// FCIs that differ from the defaults.
    #[serde(default)]
    pub fci: Vec<FciToml>,
    /// Standard EFs sized differently (record lengths, record counts, sizes).
    #[serde(default)]
    pub layout: Vec<LayoutToml>,
    /// The PBOC 3.0 financial application behind the firewall (`crates/sscard-pboc`).
    #[serde(default)]
    pub pboc: Option<sscard_pboc::profile::PbocSection>,
    /// The PSAM beside the card (built by `Profile::psam`).
    #[serde(default)]
    pub psam: Option<PsamToml>,
}

/// `[interfaces]`: "both" (default), "contact" or "contactless" per application.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterfacesToml {
    /// The SSSE (and so all its DFs).
    #[serde(default)]
    pub ssse: Option<String>,
    /// DF01.
    #[serde(default)]
    pub df01: Option<String>,
    /// DF02.
    #[serde(default)]
    pub df02: Option<String>,
    /// DF03.
    #[serde(default)]
    pub df03: Option<String>,
    /// DF04 (with the medical purse).
    #[serde(default)]
    pub df04: Option<String>,
    /// DF07.
    #[serde(default)]
    pub df07: Option<String>,
    /// The PKI application.
    #[serde(default)]
    pub pki: Option<String>,
}

fn availability(field: &str, v: &Option<String>) -> Result<Availability, ProfileError> {
    match v.as_deref() {
        None | Some("both") => Ok(Availability::Both),
        Some("contact") => Ok(Availability::ContactOnly),
        Some("contactless") => Ok(Availability::ContactlessOnly),
        Some(_) => Err(err(field, "\"both\", \"contact\" or \"contactless\"")),
    }
}

/// `[pki]`: the PKI application's PINs and certificate file size.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PkiToml {
    /// User PIN digits.
    pub user_pin: String,
    /// Administrator PIN digits.
    pub admin_pin: String,
    /// Try limit of both.
    pub try_limit: u8,
    /// Bytes of each certificate EF (default 2048).
    #[serde(default = "default_cert")]
    pub cert_size: u32,
}

fn default_cert() -> u32 {
    2048
}

/// `[purse]`: initial values of the medical purse.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurseToml {
    /// Initial balance in fen.
    #[serde(default)]
    pub balance: u32,
    /// 支付年度, yyyy.
    #[serde(default = "default_year")]
    pub payment_year: String,
    /// 年度起始日期, mmdd.
    #[serde(default = "default_start")]
    pub starting_day: String,
}

fn default_year() -> String {
    "2025".into()
}

fn default_start() -> String {
    "0101".into()
}

impl Default for PurseToml {
    fn default() -> Self {
        PurseToml {
            balance: 0,
            payment_year: default_year(),
            starting_day: default_start(),
        }
    }
}

/// `[card]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardToml {
    /// 1, 2 or 3.
    pub generation: u8,
    /// "SM4" or "3DES".
    pub algorithm: String,
    /// Contact ATR, hex.
    pub atr: String,
    /// Issuing area code, 6 digits.
    pub area_code: String,
    /// SFI of the DIR file (FCI tag 88).
    pub dir_sfi: u8,
    /// NVM size in bytes (default 64 KiB, the gen-3 chip budget).
    #[serde(default = "default_nvm")]
    pub nvm_size: usize,
    /// Contactless UID (ISO 14443-3 type A: 4, 7 or 10 bytes, hex) that the reader reports
    /// for `FF CA 00 00 00` (default [`DEFAULT_UID`]).
    #[serde(default)]
    pub uid: Option<String>,
}

fn default_nvm() -> usize {
    64 * 1024
}

/// `[pin]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinToml {
    /// Digits, 4–16; empty for no PIN.
    pub value: String,
    /// Try limit.
    pub try_limit: u8,
}

/// `[[fci]]`: the FCI proprietary template (`A5` content) of one DF.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FciToml {
    /// "MF", "SSSE", "DF01" … "DF07", "PKI" (the DDF) or "PKI/DF01" (the ADF).
    pub df: String,
    /// `A5` content in hex; "" for an FCI without `A5`.
    pub proprietary: String,
    /// The MF only: a DF name in hex (default none: the FCI carries `83 3F00`).
    #[serde(default)]
    pub name: Option<String>,
}

/// `[[layout]]`: a standard EF sized differently from the default layout.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayoutToml {
    /// "SSSE/EF06", "DF04/EF05", …
    pub file: String,
    /// Record length (fixed / cyclic) or longest record (variable-length records).
    #[serde(default)]
    pub record_len: Option<u8>,
    /// Number of records.
    #[serde(default)]
    pub records: Option<u8>,
    /// Size in bytes of a transparent EF.
    #[serde(default)]
    pub size: Option<u32>,
}

/// `[keys]`: 16-byte keys in hex: the issuer's roots (diversified for the card), or with
/// `level = "card"` the card's own keys, stored as given.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysToml {
    /// "root" (default: diversified with the city and card factors) or "card" (already
    /// the card's keys, as read from a known card).
    #[serde(default)]
    pub level: Option<String>,
    /// Try limit of every external-authentication key.
    pub try_limit: u8,
    /// IRK (internal authentication).
    pub irk: String,
    /// STKSSSE (secure messaging).
    pub stk: String,
    /// UKSSSE (update key, id 04).
    pub uk: String,
    /// BK (card block, id 05).
    pub bk: String,
    /// PUK (PIN unblock, id 06).
    pub puk: String,
    /// RKSSSE (read key, id 0A).
    pub rk: String,
    /// Medical purse load key (DF04).
    #[serde(default)]
    pub dlk: Option<String>,
    /// Medical purse purchase key (DF04).
    #[serde(default)]
    pub dpk: Option<String>,
    /// Medical purse TAC key (DF04).
    #[serde(default)]
    pub dtk: Option<String>,
    /// Medical purse starting-day key (DF04, external authentication id 89).
    #[serde(default)]
    pub dsk: Option<String>,
    /// DF-level keys.
    #[serde(default)]
    pub df: Vec<DfKeyToml>,
}

/// `[[keys.df]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DfKeyToml {
    /// "DF01" … "DF07".
    pub df: String,
    /// Key id (e.g. 0x84).
    pub id: u8,
    /// The key, hex (a root or the card's key, as `level` says).
    pub root: String,
    /// "root" or "card"; default: the `[keys]` level.
    #[serde(default)]
    pub level: Option<String>,
    /// Key version.
    #[serde(default = "one")]
    pub version: u8,
}

fn one() -> u8 {
    1
}

/// One data element of EF05 / EF06: a text as people read it (`""` leaves the element
/// unwritten, filled with its format's fill byte: `cn` and the hex-given elements `FF`,
/// `an` `00`; spec/ssc.md §3), or `{ hex = "…" }`, the bytes the card stores.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Element {
    /// As people read it; empty: not written.
    Text(String),
    /// The stored bytes.
    Raw(RawElement),
}

impl Default for Element {
    fn default() -> Self {
        Element::Text(String::new())
    }
}

impl Element {
    /// The text, if given as text and not empty.
    fn text(&self) -> Option<&str> {
        match self {
            Element::Text(t) if !t.is_empty() => Some(t),
            _ => None,
        }
    }
}

/// `{ hex = "…" }`: an element's stored bytes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawElement {
    /// The value bytes (at most the element's length).
    pub hex: String,
}

/// `[ef05]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ef05Toml {
    /// 卡的识别码, 32 hex digits.
    pub card_id: Element,
    /// 卡的类别, one character.
    pub card_type: Element,
    /// 规范版本, e.g. "3.00".
    pub spec_version: Element,
    /// 初始化机构编号, 24 hex digits.
    pub init_org: Element,
    /// 发卡日期 YYYYMMDD.
    pub issue_date: Element,
    /// 卡有效期 YYYYMMDD.
    pub expiry_date: Element,
    /// 卡号, 9 characters.
    pub card_number: Element,
}

/// `[ef06]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ef06Toml {
    /// 社会保障号码, 18 characters.
    pub ssn: Element,
    /// 姓名 (stored in GBK, padded to 30 bytes with `name_padding`).
    pub name: Element,
    /// 姓名扩展 (gen 2/3; GBK, padded to 20 bytes with `name_ext_padding`).
    #[serde(default)]
    pub name_ext: Element,
    /// Byte padding 姓名 (default `0x00`, as V2.0 §7 writes; some cards use `0x20`).
    #[serde(default)]
    pub name_padding: Option<u8>,
    /// Byte padding 姓名扩展 (default: `name_padding`; some issuers use `0xFF`).
    #[serde(default)]
    pub name_ext_padding: Option<u8>,
    /// 性别 '1', '2' or '9'.
    pub sex: Element,
    /// 民族, 2 digits.
    pub nation: Element,
    /// 出生地, 6 digits.
    pub birth_place: Element,
    /// 出生日期 YYYYMMDD.
    pub birth_date: Element,
}

/// `[[records]]`: records of one EF, in hex (`tag len value` for TLV files) and/or as
/// typed items (appended after the hex ones).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordsToml {
    /// "SSSE/EF0D", "DF01/EF05", …
    pub file: String,
    /// Records in hex.
    #[serde(default)]
    pub hex: Vec<String>,
    /// Simple-TLV records given by tag, length and a typed value.
    #[serde(default)]
    pub items: Vec<ItemToml>,
}

/// One simple-TLV record: exactly one of `an`, `cn`, `hex`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemToml {
    /// Tag (the record identifier).
    pub tag: u8,
    /// Value length (the data dictionary's length).
    pub len: u8,
    /// Text, stored in GBK, 00-padded.
    #[serde(default)]
    pub an: Option<String>,
    /// Digits, stored as BCD, F-padded.
    #[serde(default)]
    pub cn: Option<String>,
    /// Raw bytes.
    #[serde(default)]
    pub hex: Option<String>,
}

/// `[[binary]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinaryToml {
    /// "SSSE/EF07", …
    pub file: String,
    /// Offset.
    #[serde(default)]
    pub offset: u32,
    /// Data in hex.
    pub hex: String,
}

/// `[[extra_ef]]`: an extension EF in the SSSE (EF0C upward, spec/ssc.md §2.1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraEfToml {
    /// FID in hex, e.g. "EF0C".
    pub fid: String,
    /// SFI (0 for none).
    #[serde(default)]
    pub sfi: u8,
    /// Size in bytes of a transparent EF (the default structure).
    #[serde(default)]
    pub size: Option<u32>,
    /// "transparent" (default) or "linear-fixed" (then `record_len` and `records`).
    #[serde(default)]
    pub structure: Option<String>,
    /// Record length of a linear-fixed EF.
    #[serde(default)]
    pub record_len: Option<u8>,
    /// Record count of a linear-fixed EF.
    #[serde(default)]
    pub records: Option<u8>,
    /// Read condition (see [`access`]); default `"key:0A"` (RKSSSE), as for EF07/EF08.
    #[serde(default)]
    pub read: Option<String>,
    /// Update condition (see [`access`]); default `"key:04"` (UKSSSE).
    #[serde(default)]
    pub write: Option<String>,
}

/// Parses an access condition: `"always"`, `"never"`, `"pin"`, `"key:XX"`,
/// `"pin-or-key:XX"`, `"pin-and-key:XX"` (XX = key id in hex).
pub fn access(field: &str, s: &str) -> Result<Access, ProfileError> {
    let key = |id: &str| {
        u8::from_str_radix(id, 16)
            .map_err(|_| err(field, format!("bad key id {id:?} (two hex digits)")))
    };
    let pin = sscard_ssc::layout::PIN;
    match s.split_once(':') {
        None => match s {
            "always" => Ok(Access::Always),
            "never" => Ok(Access::Never),
            "pin" => Ok(Access::Pin(pin)),
            _ => Err(err(
                field,
                "expected always, never, pin, key:XX, pin-or-key:XX or pin-and-key:XX",
            )),
        },
        Some(("key", id)) => Ok(Access::Key(key(id)?)),
        Some(("pin-or-key", id)) => Ok(Access::PinOrKey { pin, key: key(id)? }),
        Some(("pin-and-key", id)) => Ok(Access::PinAndKey { pin, key: key(id)? }),
        Some((kind, _)) => Err(err(field, format!("unknown access kind {kind:?}"))),
    }
}

/// `[options]`: the spec choices (see `sscard_core::options`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionsToml {
    /// "lenient" (the data and 9000, as real cards answer; default) or "exact" (6Cxx).
    #[serde(default)]
    pub le_zero: Option<String>,
    /// Case-3/4 answers as 61xx on the contact interface (default true).
    #[serde(default)]
    pub t0_get_response: Option<bool>,
    /// SELECT P2=04 answered with the FCI (default true).
    #[serde(default)]
    pub fcp_as_fci: Option<bool>,
    /// READ BINARY Le beyond the end → 6Cxx (default true).
    #[serde(default)]
    pub read_binary_le_exact: Option<bool>,
    /// 交易类型 byte of a purse load (default 0x31, '1').
    #[serde(default)]
    pub purse_load_type: Option<u8>,
    /// 交易类型 byte of a purse purchase (default 0x32, '2').
    #[serde(default)]
    pub purse_purchase_type: Option<u8>,
    /// GENERATE KEY PAIR may fill the PKI signature pair (default true).
    #[serde(default)]
    pub pki_generate_signature: Option<bool>,
    /// IMPORT KEY may fill the PKI signature pair (default false).
    #[serde(default)]
    pub pki_import_signature: Option<bool>,
    /// GENERATE KEY PAIR may fill the PKI encryption pair (default false).
    #[serde(default)]
    pub pki_generate_encryption: Option<bool>,
    /// IMPORT KEY may fill the PKI encryption pair (default true).
    #[serde(default)]
    pub pki_import_encryption: Option<bool>,
}

/// The contactless UID reported when the profile names none: a fixed 4-byte (single
/// size) ISO 14443-3 type A UID, "SSC" ‖ 01. Fixed so that traces and tests repeat.
pub const DEFAULT_UID: [u8; 4] = [0x53, 0x53, 0x43, 0x01];

/// A validated profile, ready to personalize cards.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The parsed TOML.
    pub toml: ProfileToml,
    generation: Generation,
    algorithm: Algorithm,
    atr: Vec<u8>,
    uid: Vec<u8>,
    area: [u8; 6],
    pin: Vec<u8>,
    options: CosOptions,
    ssc_options: SscOptions,
    /// Location, id, value, version, diversify.
    keys: Vec<(Location, u8, Vec<u8>, u8, bool)>,
    layout: Vec<EfLayout>,
    /// DF, `A5` content, MF name.
    fci: Vec<(DfRef, Vec<u8>, Vec<u8>)>,
    records: Vec<(Location, u16, Vec<Vec<u8>>)>,
    binaries: Vec<(Location, u16, u32, Vec<u8>)>,
    extra: Vec<ExtraEf>,
    purse: Option<PurseValues>,
    pki_pins: Option<(Vec<u8>, Vec<u8>)>,
    interfaces: InterfacePolicy,
    custom_efs: Vec<EfSpec>,
    label: String,
    digest: [u8; 32],
    pboc: Option<sscard_pboc::profile::PbocProfile>,
}

/// Decodes hex, ignoring spaces.
pub fn hex(field: &str, s: &str) -> Result<Vec<u8>, ProfileError> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !s.len().is_multiple_of(2) {
        return Err(err(field, "odd number of hex digits"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(s.get(i..i + 2).unwrap_or(""), 16).map_err(|_| {
                err(
                    field,
                    format!("not hex: {:?}", s.get(i..i + 2).unwrap_or("")),
                )
            })
        })
        .collect()
}

/// TOML syntax and type errors: name the offending key (`table.key`, found from the
/// error's position) and its line, with the parser's own message.
fn toml_error(e: toml::de::Error, text: &str) -> ProfileError {
    let mut message = e.message().trim().to_string();
    if message.contains("untagged enum Element") {
        message = "expected text (\"\" leaves the element unwritten) or { hex = \"…\" }".into();
    }
    let Some(start) = e.span().map(|s| s.start) else {
        return err("", message);
    };
    let before = text.get(..start).unwrap_or("");
    let line_no = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text
        .get(line_start..)
        .and_then(|l| l.lines().next())
        .unwrap_or("");
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    // The table the key belongs to: the last `[table]` / `[[table]]` header above it.
    let table = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    let field = match (table, key) {
        (Some(t), Some(k)) => format!("{t}.{k}"),
        (None, Some(k)) => k,
        (Some(t), None) => t,
        (None, None) => String::new(),
    };
    err(field, format!("{message} (line {line_no})"))
}

fn hex_len(field: &str, s: &str, len: usize) -> Result<Vec<u8>, ProfileError> {
    let v = hex(field, s)?;
    if v.len() != len {
        return Err(err(field, format!("expected {len} bytes, got {}", v.len())));
    }
    Ok(v)
}

/// cn: decimal digits as BCD, right-padded with F to `len` bytes (P10 §5.4).
pub fn cn(field: &str, digits: &str, len: usize) -> Result<Vec<u8>, ProfileError> {
    if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > len * 2 {
        return Err(err(
            field,
            format!("expected up to {} decimal digits", len * 2),
        ));
    }
    let mut nibbles: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    nibbles.resize(len * 2, 0x0F);
    Ok(nibbles
        .chunks_exact(2)
        .map(|p| p.iter().fold(0u8, |acc, n| acc << 4 | n))
        .collect())
}

/// an: text bytes (GBK for Chinese), right-padded with 00 to `len` bytes.
pub fn an(field: &str, text: &str, len: usize) -> Result<Vec<u8>, ProfileError> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    if unmappable {
        return Err(err(field, "text has characters GBK cannot encode"));
    }
    if bytes.len() > len {
        return Err(err(
            field,
            format!("{} bytes in GBK, at most {len}", bytes.len()),
        ));
    }
    let mut v = bytes.into_owned();
    v.resize(len, 0);
    Ok(v)
}

fn tlv(tag: u8, value: Vec<u8>) -> Vec<u8> {
    let mut r = vec![tag, value.len() as u8];
    r.extend(value);
    r
}

fn date(field: &str, s: &str) -> Result<Vec<u8>, ProfileError> {
    let ok = s.len() == 8
        && s.bytes().all(|b| b.is_ascii_digit())
        && matches!(s.get(4..6).and_then(|m| m.parse::<u8>().ok()), Some(1..=12))
        && matches!(s.get(6..8).and_then(|d| d.parse::<u8>().ok()), Some(1..=31));
    if !ok {
        return Err(err(field, "expected a date YYYYMMDD"));
    }
    cn(field, s, 4)
}

/// How an EF05/EF06 element is written in the profile and stored.
#[derive(Clone, Copy)]
enum Format {
    /// Text in GBK, padded with the byte.
    An(u8),
    /// Decimal digits, BCD, F-padded.
    Cn,
    /// YYYYMMDD, BCD.
    Date,
    /// Bytes given in hex, exactly the element's length (cn elements the profile writes
    /// as hex: 卡的识别码, 初始化机构编号).
    Hex,
}

const AN: Format = Format::An(0x00);

/// Encodes one EF05/EF06 element of `len` bytes (see [`Element`]).
fn element(field: &str, e: &Element, len: usize, format: Format) -> Result<Vec<u8>, ProfileError> {
    match e {
        Element::Raw(raw) => {
            let field = format!("{field}.hex");
            let v = hex(&field, &raw.hex)?;
            if v.len() > len {
                return Err(err(
                    field,
                    format!("{} bytes, the element has at most {len}", v.len()),
                ));
            }
            Ok(v)
        }
        // Not written: the format's fill (spec/ssc.md §3: cn `FF`, an `00`).
        Element::Text(t) if t.is_empty() => Ok(match format {
            Format::An(pad) => vec![pad; len],
            Format::Cn | Format::Date | Format::Hex => vec![0xFF; len],
        }),
        Element::Text(t) => match format {
            Format::An(pad) => {
                let mut v = an(field, t, len)?;
                let used = encoding_rs::GBK.encode(t).0.len();
                if let Some(tail) = v.get_mut(used..) {
                    tail.fill(pad);
                }
                Ok(v)
            }
            Format::Cn => cn(field, t, len),
            Format::Date => date(field, t),
            Format::Hex => hex_len(field, t, len),
        },
    }
}

/// `"root"` (diversify) or `"card"` (store as given); `None`: `default`.
fn key_level(field: &str, level: Option<&str>, default: bool) -> Result<bool, ProfileError> {
    match level {
        None => Ok(default),
        Some("root") => Ok(true),
        Some("card") => Ok(false),
        Some(_) => Err(err(
            field,
            "\"root\" (diversified for the card) or \"card\"",
        )),
    }
}

/// Parses "MF", "SSSE", "DF01" … "DF07", "PKI", "PKI/DF01".
fn df_ref(field: &str, s: &str) -> Result<DfRef, ProfileError> {
    Ok(match s {
        "MF" => DfRef::Mf,
        "SSSE" => DfRef::Ssse,
        "PKI" => DfRef::PkiDdf,
        "PKI/DF01" => DfRef::PkiAdf,
        other => DfRef::App(
            u16::from_str_radix(other.strip_prefix("DF").unwrap_or("-"), 16)
                .ok()
                .and_then(|n| AppDf::from_fid(0xDF00 | n))
                .ok_or_else(|| {
                    err(
                        field,
                        format!("unknown DF {other:?}: MF, SSSE, DF01-DF04, DF07, PKI or PKI/DF01"),
                    )
                })?,
        ),
    })
}

/// Parses "SSSE/EF05" or "DF01/EF05".
pub fn file_ref(field: &str, s: &str) -> Result<(Location, u16), ProfileError> {
    let (df, ef) = s
        .split_once('/')
        .ok_or_else(|| err(field, "expected DF/EF, e.g. \"DF01/EF05\""))?;
    let location = match df {
        "SSSE" => Location::Ssse,
        other => {
            let fid = u16::from_str_radix(other.trim_start_matches("DF").trim(), 16)
                .ok()
                .map(|n| 0xDF00 | n)
                .ok_or_else(|| err(field, format!("unknown DF {other:?}")))?;
            Location::App(
                AppDf::from_fid(fid).ok_or_else(|| err(field, format!("unknown DF {other:?}")))?,
            )
        }
    };
    let fid = u16::from_str_radix(ef, 16).map_err(|_| err(field, format!("bad EF {ef:?}")))?;
    Ok((location, fid))
}

impl Profile {
    /// Parses and validates a profile.
    pub fn parse(text: &str) -> Result<Profile, ProfileError> {
        let toml: ProfileToml = toml::from_str(text).map_err(|e| toml_error(e, text))?;
        Profile::validate(toml, text)
    }

    /// Reads and validates a profile file.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| err("", format!("cannot read {}: {e}", path.display())))?;
        let mut profile = Profile::parse(&text)?;
        if let Some(stem) = path.file_stem() {
            profile.label = stem.to_string_lossy().into_owned();
        }
        Ok(profile)
    }

    /// The built-in default gen-3 profile.
    pub fn default_gen3() -> Profile {
        match Profile::parse(DEFAULT_GEN3) {
            Ok(mut p) => {
                p.label = "gen3-default".to_string();
                p
            }
            // The built-in profile is checked by a test; this arm cannot be reached.
            Err(e) => unreachable!("built-in profile invalid: {e}"),
        }
    }

    fn validate(toml: ProfileToml, text: &str) -> Result<Profile, ProfileError> {
        let c = &toml.card;
        let generation = match c.generation {
            1 => Generation::One,
            2 => Generation::Two,
            3 => Generation::Three,
            _ => return Err(err("card.generation", "must be 1, 2 or 3")),
        };
        let algorithm = match c.algorithm.to_ascii_uppercase().as_str() {
            "SM4" => Algorithm::Sm4,
            "3DES" | "DES" => Algorithm::Des3,
            _ => return Err(err("card.algorithm", "must be \"SM4\" or \"3DES\"")),
        };
        if generation == Generation::Three && algorithm != Algorithm::Sm4 {
            return Err(err("card.algorithm", "a third-generation card uses SM4"));
        }
        if generation == Generation::One && algorithm != Algorithm::Des3 {
            return Err(err(
                "card.algorithm",
                "a first-generation card uses DES/3DES",
            ));
        }
        let atr = hex("card.atr", &c.atr)?;
        match sscard_core::atr::historical_bytes(&atr) {
            Some(h) if h.len() >= 13 => {}
            _ => {
                return Err(err(
                    "card.atr",
                    "not a well-formed ATR with at least 13 historical bytes",
                ));
            }
        }
        let uid = match &c.uid {
            None => DEFAULT_UID.to_vec(),
            Some(text) => {
                let uid = hex("card.uid", text)?;
                if ![4, 7, 10].contains(&uid.len()) {
                    return Err(err(
                        "card.uid",
                        "must be 4, 7 or 10 bytes (ISO 14443-3 single, double, triple size)",
                    ));
                }
                uid
            }
        };
        let area: [u8; 6] = c
            .area_code
            .as_bytes()
            .try_into()
            .ok()
            .filter(|a: &[u8; 6]| a.iter().all(u8::is_ascii_digit))
            .ok_or_else(|| err("card.area_code", "expected 6 digits"))?;
        if !(1..=30).contains(&c.dir_sfi) {
            return Err(err("card.dir_sfi", "SFI must be 1-30"));
        }
        if c.nvm_size < 8 * 1024 || c.nvm_size > 4 * 1024 * 1024 {
            return Err(err("card.nvm_size", "must be 8 KiB - 4 MiB"));
        }
        let p = &toml.pin;
        let pin = if p.value.is_empty() {
            vec![]
        } else {
            if p.value.len() < 4 || p.value.len() > 16 {
                return Err(err("pin.value", "4-16 digits"));
            }
            cn("pin.value", &p.value, p.value.len().div_ceil(2))?
        };
        let key_len = 16;
        let k = &toml.keys;
        let diversify = key_level("keys.level", k.level.as_deref(), true)?;
        let mut keys = vec![];
        for (name, id, value) in [
            ("keys.irk", key_id::IRK, &k.irk),
            ("keys.stk", key_id::STK, &k.stk),
            ("keys.uk", key_id::UK, &k.uk),
            ("keys.bk", key_id::BK, &k.bk),
            ("keys.puk", key_id::PUK, &k.puk),
            ("keys.rk", key_id::RK, &k.rk),
        ] {
            keys.push((
                Location::Ssse,
                id,
                hex_len(name, value, key_len)?,
                1,
                diversify,
            ));
        }
        for (i, dk) in k.df.iter().enumerate() {
            let field = format!("keys.df[{i}]");
            let (location, _) = file_ref(&field, &format!("{}/EF00", dk.df))?;
            keys.push((
                location,
                dk.id,
                hex_len(&format!("{field}.root"), &dk.root, key_len)?,
                dk.version,
                key_level(&format!("{field}.level"), dk.level.as_deref(), diversify)?,
            ));
        }
        let df04 = Location::App(AppDf::Df04);
        let mut purse_keys = 0;
        for (name, id, value) in [
            ("keys.dlk", purse_key::DLK, &k.dlk),
            ("keys.dpk", purse_key::DPK, &k.dpk),
            ("keys.dtk", purse_key::DTK, &k.dtk),
        ] {
            if let Some(v) = value {
                keys.push((df04, id, hex_len(name, v, key_len)?, 1, diversify));
                purse_keys += 1;
            }
        }
        if let Some(v) = &k.dsk {
            keys.push((df04, DSK_ID, hex_len("keys.dsk", v, key_len)?, 1, diversify));
        }
        let purse = match purse_keys {
            0 => None,
            3 => {
                let pt = &toml.purse;
                if pt.payment_year.len() != 4 {
                    return Err(err("purse.payment_year", "yyyy"));
                }
                let year = cn("purse.payment_year", &pt.payment_year, 2)?;
                let start = cn("purse.starting_day", &pt.starting_day, 2)?;
                let year: [u8; 2] = year
                    .try_into()
                    .map_err(|_| err("purse.payment_year", "yyyy"))?;
                let start: [u8; 2] = start
                    .try_into()
                    .map_err(|_| err("purse.starting_day", "mmdd"))?;
                if !valid_mmdd(&start) {
                    return Err(err("purse.starting_day", "mmdd"));
                }
                Some(PurseValues {
                    balance: pt.balance,
                    year,
                    start,
                    ..PurseValues::default()
                })
            }
            _ => return Err(err("keys.dlk", "give all of dlk, dpk and dtk, or none")),
        };

        let pki_pins = match &toml.pki {
            None => None,
            Some(pk) => {
                if generation != Generation::Three {
                    return Err(err(
                        "pki",
                        "the PKI application is a third-generation feature",
                    ));
                }
                let digits = |f: &str, v: &str| {
                    if v.len() < 4 || v.len() > 16 {
                        return Err(err(f, "4-16 digits"));
                    }
                    cn(f, v, v.len().div_ceil(2))
                };
                Some((
                    digits("pki.user_pin", &pk.user_pin)?,
                    digits("pki.admin_pin", &pk.admin_pin)?,
                ))
            }
        };
        let i = &toml.interfaces;
        let interfaces = InterfacePolicy {
            ssse: availability("interfaces.ssse", &i.ssse)?,
            apps: [
                availability("interfaces.df01", &i.df01)?,
                availability("interfaces.df02", &i.df02)?,
                availability("interfaces.df03", &i.df03)?,
                availability("interfaces.df04", &i.df04)?,
                availability("interfaces.df07", &i.df07)?,
            ],
            pki: availability("interfaces.pki", &i.pki)?,
        };
        let e5 = &toml.ef05;
        let ef05 = vec![
            tlv(0x01, element("ef05.card_id", &e5.card_id, 16, Format::Hex)?),
            tlv(0x02, element("ef05.card_type", &e5.card_type, 1, AN)?),
            tlv(0x03, element("ef05.spec_version", &e5.spec_version, 4, AN)?),
            tlv(
                0x04,
                element("ef05.init_org", &e5.init_org, 12, Format::Hex)?,
            ),
            tlv(
                0x05,
                element("ef05.issue_date", &e5.issue_date, 4, Format::Date)?,
            ),
            tlv(
                0x06,
                element("ef05.expiry_date", &e5.expiry_date, 4, Format::Date)?,
            ),
            tlv(0x07, element("ef05.card_number", &e5.card_number, 9, AN)?),
        ];
        if e5.card_number.text().is_some_and(|t| t.len() != 9) {
            return Err(err(
                "ef05.card_number",
                "9 characters (8 + check character)",
            ));
        }
        let expected_version = match generation {
            Generation::One => "1.",
            Generation::Two => "2.",
            Generation::Three => "3.",
        };
        if let Some(version) = e5.spec_version.text()
            && !version.starts_with(expected_version)
        {
            return Err(err(
                "ef05.spec_version",
                format!(
                    "must start with {expected_version:?} for generation {}",
                    c.generation
                ),
            ));
        }
        let e6 = &toml.ef06;
        if e6.ssn.text().is_some_and(|t| t.len() != 18) {
            return Err(err("ef06.ssn", "18 characters"));
        }
        let name_padding = e6.name_padding.unwrap_or(0x00);
        let name_ext_padding = e6.name_ext_padding.unwrap_or(name_padding);
        let mut ef06 = vec![
            tlv(0x08, element("ef06.ssn", &e6.ssn, 18, AN)?),
            tlv(
                0x09,
                element("ef06.name", &e6.name, 30, Format::An(name_padding))?,
            ),
        ];
        if generation != Generation::One {
            ef06.push(tlv(
                0x4E,
                element(
                    "ef06.name_ext",
                    &e6.name_ext,
                    20,
                    Format::An(name_ext_padding),
                )?,
            ));
        } else if !matches!(&e6.name_ext, Element::Text(t) if t.is_empty()) {
            return Err(err("ef06.name_ext", "generation 1 cards have no 姓名扩展"));
        }
        if e6.sex.text().is_some_and(|t| !matches!(t, "1" | "2" | "9")) {
            return Err(err("ef06.sex", "'1', '2' or '9' (GB 2261.1)"));
        }
        ef06.push(tlv(0x0A, element("ef06.sex", &e6.sex, 1, AN)?));
        ef06.push(tlv(
            0x0B,
            element("ef06.nation", &e6.nation, 1, Format::Cn)?,
        ));
        ef06.push(tlv(
            0x0C,
            element("ef06.birth_place", &e6.birth_place, 3, Format::Cn)?,
        ));
        ef06.push(tlv(
            0x0D,
            element("ef06.birth_date", &e6.birth_date, 4, Format::Date)?,
        ));

        let mut records = vec![
            (Location::Ssse, 0xEF05, ef05),
            (Location::Ssse, 0xEF06, ef06),
        ];
        for (i, r) in toml.records.iter().enumerate() {
            let field = format!("records[{i}]");
            let (location, fid) = file_ref(&format!("{field}.file"), &r.file)?;
            let mut recs = r
                .hex
                .iter()
                .enumerate()
                .map(|(j, h)| hex(&format!("{field}.hex[{j}]"), h))
                .collect::<Result<Vec<_>, _>>()?;
            for (j, item) in r.items.iter().enumerate() {
                let f = format!("{field}.items[{j}]");
                let len = usize::from(item.len);
                let value = match (&item.an, &item.cn, &item.hex) {
                    (Some(t), None, None) => an(&f, t, len)?,
                    (None, Some(d), None) => cn(&f, d, len)?,
                    (None, None, Some(h)) => hex_len(&f, h, len)?,
                    _ => return Err(err(f, "give exactly one of an, cn, hex")),
                };
                recs.push(tlv(item.tag, value));
            }
            records.push((location, fid, recs));
        }
        let mut binaries = vec![];
        for (i, b) in toml.binary.iter().enumerate() {
            let field = format!("binary[{i}]");
            let (location, fid) = file_ref(&format!("{field}.file"), &b.file)?;
            binaries.push((
                location,
                fid,
                b.offset,
                hex(&format!("{field}.hex"), &b.hex)?,
            ));
        }
        let mut extra = vec![];
        let mut custom_efs = vec![];
        for (i, e) in toml.extra_ef.iter().enumerate() {
            let field = format!("extra_ef[{i}]");
            let fid = u16::from_str_radix(&e.fid, 16)
                .map_err(|_| err(format!("{field}.fid"), "4 hex digits"))?;
            if e.sfi > 30 {
                return Err(err(format!("{field}.sfi"), "SFI must be 0 (none) or 1-30"));
            }
            let structure = match e.structure.as_deref() {
                None | Some("transparent") => Structure::Transparent {
                    size: e.size.ok_or_else(|| {
                        err(format!("{field}.size"), "a transparent EF needs a size")
                    })?,
                },
                Some("linear-fixed") => Structure::LinearFixed {
                    record_len: e.record_len.ok_or_else(|| {
                        err(
                            format!("{field}.record_len"),
                            "a linear-fixed EF needs record_len",
                        )
                    })?,
                    records: e.records.ok_or_else(|| {
                        err(
                            format!("{field}.records"),
                            "a linear-fixed EF needs records",
                        )
                    })?,
                },
                Some(_) => {
                    return Err(err(
                        format!("{field}.structure"),
                        "\"transparent\" or \"linear-fixed\"",
                    ));
                }
            };
            match (&structure, e.read.as_deref(), e.write.as_deref()) {
                // The standard extension EF: RKSSSE to read, UKSSSE to write.
                (Structure::Transparent { size }, None, None) => extra.push(ExtraEf {
                    fid,
                    sfi: e.sfi,
                    size: *size,
                }),
                (_, read, write) => custom_efs.push(EfSpec {
                    fid,
                    sfi: e.sfi,
                    structure,
                    read: access(&format!("{field}.read"), read.unwrap_or("key:0A"))?,
                    write: access(&format!("{field}.write"), write.unwrap_or("key:04"))?,
                    tlv_records: false,
                }),
            }
        }
        let mut layout = vec![];
        for (i, l) in toml.layout.iter().enumerate() {
            let field = format!("layout[{i}]");
            let (location, fid) = file_ref(&format!("{field}.file"), &l.file)?;
            if l.record_len.is_none() && l.records.is_none() && l.size.is_none() {
                return Err(err(field, "give record_len, records or size"));
            }
            layout.push(EfLayout {
                location,
                fid,
                record_len: l.record_len,
                records: l.records,
                size: l.size,
            });
        }
        let mut fci = vec![];
        for (i, f) in toml.fci.iter().enumerate() {
            let field = format!("fci[{i}]");
            let df = df_ref(&format!("{field}.df"), &f.df)?;
            let proprietary = hex(&format!("{field}.proprietary"), &f.proprietary)?;
            let name = match &f.name {
                Some(n) if df == DfRef::Mf => hex(&format!("{field}.name"), n)?,
                Some(_) => return Err(err(format!("{field}.name"), "only the MF takes a name")),
                None => vec![],
            };
            fci.push((df, proprietary, name));
        }
        let o = &toml.options;
        let defaults = CosOptions::default();
        let options = CosOptions {
            le_zero: match o.le_zero.as_deref() {
                None => defaults.le_zero,
                Some("exact") => LeZero::ExactLength,
                Some("lenient") => LeZero::Lenient,
                Some(_) => return Err(err("options.le_zero", "\"exact\" or \"lenient\"")),
            },
            t0_get_response: o.t0_get_response.unwrap_or(defaults.t0_get_response),
            fcp_as_fci: o.fcp_as_fci.unwrap_or(defaults.fcp_as_fci),
            read_binary_le_exact: o
                .read_binary_le_exact
                .unwrap_or(defaults.read_binary_le_exact),
        };
        let defaults = SscOptions::default();
        let ssc_options = SscOptions {
            purse: PurseOptions {
                load_type: o.purse_load_type.unwrap_or(defaults.purse.load_type),
                purchase_type: o
                    .purse_purchase_type
                    .unwrap_or(defaults.purse.purchase_type),
            },
            pki: defaults.pki,
            pki_keys: PkiKeyPolicy {
                signature: SlotPolicy {
                    generate: o
                        .pki_generate_signature
                        .unwrap_or(defaults.pki_keys.signature.generate),
                    import: o
                        .pki_import_signature
                        .unwrap_or(defaults.pki_keys.signature.import),
                },
                encryption: SlotPolicy {
                    generate: o
                        .pki_generate_encryption
                        .unwrap_or(defaults.pki_keys.encryption.generate),
                    import: o
                        .pki_import_encryption
                        .unwrap_or(defaults.pki_keys.encryption.import),
                },
            },
        };
        let pboc = match &toml.pboc {
            Some(section) => Some(section.build()?),
            None => None,
        };
        let profile = Profile {
            toml,
            generation,
            algorithm,
            atr,
            uid,
            area,
            pin,
            options,
            ssc_options,
            keys,
            layout,
            fci,
            records,
            binaries,
            extra,
            purse,
            pki_pins,
            interfaces,
            custom_efs,
            label: "inline".to_string(),
            digest: sscard_core::crypto::hash::sm3(text.as_bytes()),
            pboc,
        };
        // Personalize once so that layout errors (unknown files, oversize records)
        // surface here, pointing at the profile.
        profile.image()?;
        Ok(profile)
    }

    /// The card OS's spec choices.
    pub fn options(&self) -> CosOptions {
        self.options
    }
    /// The social-security applications' spec choices.
    pub fn ssc_options(&self) -> SscOptions {
        self.ssc_options
    }
    /// The social-security applications the card hosts, with this profile's choices.
    pub fn applications(&self) -> SocialSecurity {
        SocialSecurity::new(self.ssc_options)
    }
    /// The contact ATR.
    pub fn atr(&self) -> &[u8] {
        &self.atr
    }
    /// The card's keys: location, id, value (a root when the flag says it is
    /// diversified for the card), version.
    pub(crate) fn key_roots(&self) -> &[(Location, u8, Vec<u8>, u8, bool)] {
        &self.keys
    }
    /// The contactless UID the reader reports (`FF CA 00 00 00`).
    pub fn uid(&self) -> &[u8] {
        &self.uid
    }
    /// The generation.
    pub fn generation(&self) -> Generation {
        self.generation
    }
    /// The SSSE algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
    /// The area code (6 ASCII digits).
    pub fn area_code(&self) -> [u8; 6] {
        self.area
    }
    /// A short name: the file stem, `gen3-default` for the built-in profile, `inline`
    /// for a profile parsed from text.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The same profile under another label (a persona's name, say).
    pub fn with_label(mut self, label: &str) -> Profile {
        self.label = label.to_string();
        self
    }
    /// SM3 digest of the profile's TOML text: which exact profile a card image came from.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// Every secret this profile gives the card, labelled by its field: the SSSE PIN, the
    /// root keys (the card holds their diversified values), the PKI PINs, and for each
    /// PBOC application its issuer master keys, the UDKs derived from them, its PIN
    /// block, SM2 secret and RSA private key (CRT parts). For the secrets oracle (`fuzz_checks`); not for display.
    pub fn secrets(&self) -> Vec<(String, zeroize::Zeroizing<Vec<u8>>)> {
        let mut out = vec![("pin.value".to_owned(), self.pin.clone().into())];
        for (location, id, value, _, _) in &self.keys {
            out.push((
                format!("keys {location:?} id {id:02X}"),
                value.clone().into(),
            ));
        }
        if let Some((user, admin)) = &self.pki_pins {
            out.push(("pki.user_pin".to_owned(), user.clone().into()));
            out.push(("pki.admin_pin".to_owned(), admin.clone().into()));
        }
        if let Some(pboc) = &self.pboc {
            pboc.with_personalization(|p| {
                for (i, a) in p.applications.iter().enumerate() {
                    let field = format!("pboc.applications[{i}]");
                    pboc_secrets(&field, a, &mut out);
                }
            });
        }
        out
    }

    /// Personalizes a fresh NVM image.
    pub fn image(&self) -> Result<Vec<u8>, ProfileError> {
        let mut nvm = RamNvm::new(vec![0u8; self.toml.card.nvm_size]);
        let caps = Capacities {
            files: 96,
            secrets: 48,
        };
        let mut p = Personalizer::format(&mut nvm, caps, &self.atr)
            .map_err(|e| err("card", e.to_string()))?;
        let keys: Vec<KeySpec<'_>> = self
            .keys
            .iter()
            .map(|(location, id, root, version, diversify)| KeySpec {
                location: *location,
                id: *id,
                usage: ssse_key_usage(*id),
                version: *version,
                root,
                diversify: *diversify,
            })
            .collect();
        let record_refs: Vec<Vec<&[u8]>> = self
            .records
            .iter()
            .map(|(_, _, r)| r.iter().map(Vec::as_slice).collect())
            .collect();
        let records: Vec<RecordsSpec<'_>> = self
            .records
            .iter()
            .zip(&record_refs)
            .map(|((location, fid, _), recs)| RecordsSpec {
                location: *location,
                fid: *fid,
                records: recs,
            })
            .collect();
        let binaries: Vec<BinarySpec<'_>> = self
            .binaries
            .iter()
            .map(|(location, fid, offset, data)| BinarySpec {
                location: *location,
                fid: *fid,
                offset: *offset,
                data,
            })
            .collect();
        let fci: Vec<DfFci<'_>> = self
            .fci
            .iter()
            .map(|(df, proprietary, name)| DfFci {
                df: *df,
                proprietary,
                mf_name: name,
            })
            .collect();
        let perso = SscPersonalization {
            generation: self.generation,
            algorithm: self.algorithm,
            area_code: self.area,
            dir_sfi: self.toml.card.dir_sfi,
            keys: &keys,
            pin: &self.pin,
            pin_try_limit: self.toml.pin.try_limit,
            key_try_limit: self.toml.keys.try_limit,
            records: &records,
            binaries: &binaries,
            extra_efs: &self.extra,
            purse: self.purse,
            pki: match (&self.pki_pins, &self.toml.pki) {
                (Some((user_pin, admin_pin)), Some(pk)) => Some(PkiSpec {
                    user_pin,
                    admin_pin,
                    try_limit: pk.try_limit,
                    cert_size: pk.cert_size,
                }),
                _ => None,
            },
            interfaces: self.interfaces,
            layout: &self.layout,
            fci: &fci,
        };
        let files = sscard_ssc::personalize(&mut p, &self.atr, &perso).map_err(|e| match e {
            PersoError::Layout { index, problem } => err(format!("layout[{index}]"), problem),
            PersoError::Fci { index, problem } => err(format!("fci[{index}]"), problem),
            e => err("", format!("personalization failed: {e}")),
        })?;
        for (i, spec) in self.custom_efs.iter().enumerate() {
            p.ef(files.ssse, *spec)
                .map_err(|e| err(format!("extra_ef[{i}]"), e.to_string()))?;
        }
        if let Some(pboc) = &self.pboc {
            pboc.personalize(&mut p)
                .map_err(|e| err("pboc", e.to_string()))?;
        }
        p.finish().map_err(|e| err("", e.to_string()))?;
        // The spec choices travel with the card (firmware loads them from the memory).
        sscard_ssc::options::store(&mut nvm, &self.options(), &self.ssc_options())
            .map_err(|e| err("", format!("cannot store the options: {e}")))?;
        Ok(nvm.into_inner())
    }
}

/// The secrets of one PBOC application (see [`Profile::secrets`]).
fn pboc_secrets(
    field: &str,
    a: &sscard_pboc::Application<'_>,
    out: &mut Vec<(String, zeroize::Zeroizing<Vec<u8>>)>,
) {
    let mut push = |name: &str, value: &[u8]| {
        out.push((format!("{field}.{name}"), value.to_vec().into()));
    };
    match a.keys {
        sscard_pboc::Keys::IssuerMasterKeys { ac, mac, enc } => {
            for (name, imk) in [("imk_ac", ac), ("imk_mac", mac), ("imk_enc", enc)] {
                push(name, &imk);
                if let Ok(udk) = sscard_core::crypto::udk_option_a(&imk, a.pan, a.psn) {
                    push(&format!("udk from {name}"), &udk[..]);
                }
            }
        }
        sscard_pboc::Keys::CardKeys { ac, mac, enc } => {
            for (name, udk) in [("udk_ac", ac), ("udk_mac", mac), ("udk_enc", enc)] {
                push(name, &udk);
            }
        }
    }
    // The plaintext offline PIN block, ISO 9564 format 2: 2L ‖ digits ‖ F padding.
    let mut nibbles = vec![0x2, a.pin.len() as u8 & 0x0F];
    nibbles.extend(a.pin.iter().map(|d| d.wrapping_sub(b'0') & 0x0F));
    nibbles.resize(16, 0x0F);
    let block: Vec<u8> = nibbles
        .chunks_exact(2)
        .map(|p| match p {
            [hi, lo] => hi << 4 | lo,
            _ => 0,
        })
        .collect();
    push("pin block", &block);
    if let Some(secret) = &a.sm2_secret {
        push("sm2_secret", secret);
    }
    // The ICC's RSA private key, in the CRT form the card stores.
    if let Some(rsa) = &a.rsa {
        for (name, part) in [
            ("rsa.icc_key.prime1", rsa.icc_p),
            ("rsa.icc_key.prime2", rsa.icc_q),
            ("rsa.icc_key.exponent1", rsa.icc_dp),
            ("rsa.icc_key.exponent2", rsa.icc_dq),
            ("rsa.icc_key.coefficient", rsa.icc_qinv),
        ] {
            push(name, part);
        }
    }
}

/// `[psam]`: the PSAM beside the card. Every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PsamToml {
    /// PSAM serial, 20 digits (default `…01`).
    #[serde(default)]
    pub serial: Option<String>,
    /// 终端机编号, 12 digits (default `000000000000`, what a terminal reports without a
    /// PSAM: the default PSAM does not change `iReadCardBas`).
    #[serde(default)]
    pub terminal_id: Option<String>,
    /// Root level of the card keys: 2 (default) or 3.
    #[serde(default)]
    pub level: Option<u8>,
    /// Initial terminal transaction serial (default 0).
    #[serde(default)]
    pub ttsn: u32,
    /// "use-then-increment" (default) or "increment-then-use".
    #[serde(default)]
    pub ttsn_timing: Option<String>,
    /// CIPHER DATA's MAC: "4" (default) or "block".
    #[serde(default)]
    pub mac_output: Option<String>,
    /// Wrong MAC2: "9302" (default) or "63CF".
    #[serde(default)]
    pub mac2_failure: Option<String>,
    /// CREATE/CHANGE KEY P2: "fid" (default, 11–13) or "number" (01–03).
    #[serde(default)]
    pub key_file_p2: Option<String>,
    /// DELIVERY SESSION KEY factors: "card-first" (default) or "card-last".
    #[serde(default)]
    pub factor_order: Option<String>,
    /// INITIALIZE ENVIRONMENT required before BF DE and 80 70 (default false).
    #[serde(default)]
    pub require_environment: bool,
    /// INIT SAM FOR PURCHASE accepts N = 0 (default false).
    #[serde(default)]
    pub purchase_without_factors: bool,
}
