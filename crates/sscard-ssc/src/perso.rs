//! Personalization of the social-security applications: the SSSE file layout of
//! generations 1–3, its keys (diversified here) and PIN, the medical purse file and the
//! PKI application, written into a card the OS formats (no_std; the TOML profile is
//! parsed on the std side).
//!
//! Keys are diversified here, at personalization: the profile carries the issuer's root
//! keys and the card stores `div(div(root, city factor), card factor)` (spec/ssc.md
//! §6.2, P9 §7.3: city factor = ASCII(6-digit area code) ‖ "sx", card factor = ATR
//! historical bytes 6–13), "一卡一密" as P10 §5.2.5 requires.

use crate::layout::{APPLICATION_EFS, AppDf, Location, PIN, SSSE_NAME, key_id};
use crate::{pki, purse};
use sscard_core::atr::historical_bytes;
use sscard_core::auth::secret::{KeyUsage, SecretAttributes, SecretKind, SecretSpec};
use sscard_core::crypto::ssc::{card_factor, city_factor, diversify_path};
use sscard_core::crypto::{Algorithm, CryptoError};
use sscard_core::fs::build::{BuildError, DfSpec, EfSpec, Personalizer, Structure};
use sscard_core::fs::layout::{Access, FileFlags, FileIndex, FileKind, MF};
use sscard_core::nvm::Nvm;
use sscard_core::tlv::{BerWriter, Tag};

/// Card generation (spec/ssc.md §0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generation {
    /// LB002-2000: 规范版本 "1.00", DES/3DES, no 姓名扩展, EF07 free to read.
    One,
    /// V2.0 (2012): "2.00", 3DES or SM4, algorithm id in the SSSE FCI, RKSSSE on EF07/EF08.
    Two,
    /// Third generation: "3.00", SM4, EF06 readable only after external authentication
    /// with RKSSSE (spec/ssc.md §9.2).
    Three,
}

/// A key to load: its root is diversified for this card unless `diversify` is false.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec<'a> {
    /// Where the key lives.
    pub location: Location,
    /// Key id (P5 T14).
    pub id: u8,
    /// What the key may be used for.
    pub usage: KeyUsage,
    /// Key version.
    pub version: u8,
    /// Issuer root key (16 bytes; 8 for single DES).
    pub root: &'a [u8],
    /// Diversify with the city and card factors (true for every key of a real card).
    pub diversify: bool,
}

/// Records to store in a record EF, in order.
#[derive(Clone, Copy, Debug)]
pub struct RecordsSpec<'a> {
    /// Where the EF lives.
    pub location: Location,
    /// Its FID.
    pub fid: u16,
    /// The records (complete, e.g. `tag len value`).
    pub records: &'a [&'a [u8]],
}

/// Bytes to store in a transparent EF.
#[derive(Clone, Copy, Debug)]
pub struct BinarySpec<'a> {
    /// Where the EF lives.
    pub location: Location,
    /// Its FID.
    pub fid: u16,
    /// Offset.
    pub offset: u32,
    /// Data.
    pub data: &'a [u8],
}

/// An extra transparent EF in the SSSE (gen-3 biometric templates: face, finger vein…).
#[derive(Clone, Copy, Debug)]
pub struct ExtraEf {
    /// FID.
    pub fid: u16,
    /// SFI (0 for none).
    pub sfi: u8,
    /// Size in bytes.
    pub size: u32,
}

/// A standard EF whose size differs on the card being described: each given field
/// replaces the default of the layout (spec/ssc.md §2.3, V2.0 Appendix A).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EfLayout {
    /// Where the EF lives.
    pub location: Location,
    /// Its FID (the DIR file too: `EF` ‖ DIR SFI).
    pub fid: u16,
    /// Record length (fixed-length and cyclic EFs) or longest record (variable-length).
    pub record_len: Option<u8>,
    /// Number of records.
    pub records: Option<u8>,
    /// Size of a transparent EF.
    pub size: Option<u32>,
}

/// A DF whose FCI can be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DfRef {
    /// The MF.
    Mf,
    /// The SSSE DDF.
    Ssse,
    /// An application DF under the SSSE.
    App(AppDf),
    /// The PKI DDF `PKI.社会保障`.
    PkiDdf,
    /// The PKI ADF `SS.CERT.ADF1`.
    PkiAdf,
}

/// The FCI proprietary template (`A5` content) of a DF, where a card differs from the
/// default (SSSE: `88 <DIR SFI> [9F0C 03 86 01 <alg>]`; the other DFs: none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DfFci<'a> {
    /// Which DF.
    pub df: DfRef,
    /// `A5` content; empty: the FCI has no `A5`.
    pub proprietary: &'a [u8],
    /// A DF name for the MF (empty: none, the FCI carries `83 3F00`); ignored otherwise.
    pub mf_name: &'a [u8],
}

/// Everything the SSC personalization needs.
#[derive(Clone, Copy, Debug)]
pub struct SscPersonalization<'a> {
    /// Generation.
    pub generation: Generation,
    /// Algorithm of the SSSE (its id goes into the FCI `9F0C 03 86 01 <id>`).
    pub algorithm: Algorithm,
    /// Issuing area code, 6 ASCII digits.
    pub area_code: [u8; 6],
    /// SFI of the DIR file announced in FCI tag 88.
    pub dir_sfi: u8,
    /// Keys.
    pub keys: &'a [KeySpec<'a>],
    /// Holder PIN in cn bytes (e.g. `12 34 56`), empty for none.
    pub pin: &'a [u8],
    /// PIN try limit.
    pub pin_try_limit: u8,
    /// Key try limit (every external-authentication key).
    pub key_try_limit: u8,
    /// Record contents.
    pub records: &'a [RecordsSpec<'a>],
    /// Transparent contents.
    pub binaries: &'a [BinarySpec<'a>],
    /// Extra SSSE transparent EFs (read RKSSSE, write UKSSSE).
    pub extra_efs: &'a [ExtraEf],
    /// The medical purse of DF04 (`None`: no purse file).
    pub purse: Option<purse::PurseValues>,
    /// The PKI application (`None`: not on this card).
    pub pki: Option<PkiSpec<'a>>,
    /// Which applications answer on which interface.
    pub interfaces: InterfacePolicy,
    /// Standard EFs sized differently from the layout.
    pub layout: &'a [EfLayout],
    /// FCIs that differ from the defaults.
    pub fci: &'a [DfFci<'a>],
}

/// Where an application can be selected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Availability {
    /// Contact and contactless.
    #[default]
    Both,
    /// Contact only.
    ContactOnly,
    /// Contactless only.
    ContactlessOnly,
}

impl Availability {
    /// The DF flags that implement it.
    pub fn flags(self) -> FileFlags {
        match self {
            Availability::Both => FileFlags::empty(),
            Availability::ContactOnly => FileFlags::NO_CONTACTLESS,
            Availability::ContactlessOnly => FileFlags::NO_CONTACT,
        }
    }
}

/// The per-application interface policy (the public texts say nothing about which
/// social-security commands work contactless, spec-extract §6.2: it is a profile choice).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InterfacePolicy {
    /// The SSSE and its files.
    pub ssse: Availability,
    /// DF01, DF02, DF03, DF04, DF07 in [`AppDf::ALL`] order.
    pub apps: [Availability; 5],
    /// The PKI application.
    pub pki: Availability,
}

/// The PKI application's personalization.
#[derive(Clone, Copy, Debug)]
pub struct PkiSpec<'a> {
    /// User PIN, BCD.
    pub user_pin: &'a [u8],
    /// Administrator PIN, BCD.
    pub admin_pin: &'a [u8],
    /// Try limit of both PINs.
    pub try_limit: u8,
    /// Size of each certificate file.
    pub cert_size: u32,
}

/// Why the social-security personalization failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersoError {
    /// File-system building failed.
    Build(BuildError),
    /// A key could not be diversified or loaded.
    Crypto(CryptoError),
    /// The ATR has fewer than 13 historical bytes (the card factor needs 6–13).
    AtrHistoricalBytes,
    /// A record or binary names a file the layout does not have.
    UnknownFile(u16),
    /// A PIN that is not 2–8 bytes of cn digits.
    BadPin,
    /// Entry `index` of [`SscPersonalization::layout`] cannot apply.
    Layout {
        /// Index in the list.
        index: usize,
        /// Why.
        problem: &'static str,
    },
    /// Entry `index` of [`SscPersonalization::fci`] cannot apply.
    Fci {
        /// Index in the list.
        index: usize,
        /// Why.
        problem: &'static str,
    },
}

impl From<BuildError> for PersoError {
    fn from(e: BuildError) -> Self {
        PersoError::Build(e)
    }
}

impl From<CryptoError> for PersoError {
    fn from(e: CryptoError) -> Self {
        PersoError::Crypto(e)
    }
}

impl core::fmt::Display for PersoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PersoError::Build(e) => write!(f, "{e}"),
            PersoError::Crypto(e) => write!(f, "key error: {e:?}"),
            PersoError::AtrHistoricalBytes => {
                f.write_str("the ATR needs at least 13 historical bytes (card factor)")
            }
            PersoError::UnknownFile(fid) => write!(f, "no file {fid:04X} in the layout"),
            PersoError::BadPin => f.write_str("PIN must be 4-16 digits in cn bytes"),
            PersoError::Layout { problem, .. } | PersoError::Fci { problem, .. } => {
                f.write_str(problem)
            }
        }
    }
}

impl core::error::Error for PersoError {}

/// Where the standard files ended up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SscFiles {
    /// The SSSE DDF.
    pub ssse: FileIndex,
    /// DF01, DF02, DF03, DF04, DF07 in [`AppDf::ALL`] order.
    pub apps: [FileIndex; 5],
}

impl SscFiles {
    /// Index of `location`'s DF.
    pub fn df(&self, location: Location) -> FileIndex {
        match location {
            Location::Ssse => self.ssse,
            Location::App(app) => {
                let i = AppDf::ALL.iter().position(|d| *d == app).unwrap_or(0);
                self.apps.get(i).copied().unwrap_or(self.ssse)
            }
        }
    }
}

/// Builds the SSSE, its DFs and files, keys and PIN into a formatted card whose ATR is
/// `atr`. The caller formats the memory first and finishes it afterwards, so other
/// applications (PBOC) can be added to the same card.
pub fn personalize<N: Nvm>(
    p: &mut Personalizer<'_, N>,
    atr: &[u8],
    perso: &SscPersonalization<'_>,
) -> Result<SscFiles, PersoError> {
    let hist = historical_bytes(atr).ok_or(PersoError::AtrHistoricalBytes)?;
    let card = card_factor(hist).map_err(|_| PersoError::AtrHistoricalBytes)?;
    let city = city_factor(&perso.area_code)?;
    if !perso.pin.is_empty() && !sscard_core::auth::valid_pin(perso.pin) {
        return Err(PersoError::BadPin);
    }

    // The SSSE FCI: A5 { 88 DIR-SFI [9F0C 03 86 01 alg] } (P5 T36, spec/ssc.md §2.2).
    let mut fci = [0u8; 16];
    let mut w = BerWriter::new(&mut fci);
    w.tlv(Tag(0x88), &[perso.dir_sfi])
        .map_err(|_| BuildError::BadParameter("FCI"))?;
    if perso.generation != Generation::One {
        w.tlv(Tag(0x9F0C), &[0x86, 0x01, perso.algorithm.id()])
            .map_err(|_| BuildError::BadParameter("FCI"))?;
    }
    let fci_len = w.len();
    check_overrides(perso)?;
    check_layout_fits(perso)?;
    if let Some(mf) = fci_of(perso, DfRef::Mf) {
        p.set_mf(mf.mf_name, mf.proprietary)?;
    }
    let ssse = p.df(
        MF,
        DfSpec {
            kind: FileKind::Ddf,
            fid: 0,
            name: &SSSE_NAME,
            fci_proprietary: fci_of(perso, DfRef::Ssse)
                .map_or(fci.get(..fci_len).unwrap_or(&[]), |f| f.proprietary),
            role: 0,
        },
    )?;
    let gen3 = perso.generation == Generation::Three;
    let gen1 = perso.generation == Generation::One;
    let uk = Access::Key(key_id::UK);
    let rk = Access::Key(key_id::RK);
    let sized = |location: Location, fid: u16, structure: Structure| {
        sized_structure(perso, location, fid, structure)
    };
    let record_ef = |fid: u16, structure, read, write| EfSpec {
        fid,
        sfi: (fid & 0x1F) as u8,
        structure: sized(Location::Ssse, fid, structure),
        read,
        write,
        tlv_records: true,
    };
    p.ef(
        ssse,
        record_ef(
            0xEF05,
            Structure::LinearVariable {
                max_len: 0x12,
                records: 7,
            },
            Access::Always,
            uk,
        ),
    )?;
    p.ef(
        ssse,
        record_ef(
            0xEF06,
            Structure::LinearVariable {
                max_len: 0x20,
                records: if gen1 { 6 } else { 7 },
            },
            if gen3 { rk } else { Access::Always },
            uk,
        ),
    )?;
    let transparent = |fid: u16, size, read| EfSpec {
        fid,
        sfi: (fid & 0x1F) as u8,
        structure: sized(Location::Ssse, fid, Structure::Transparent { size }),
        read,
        write: uk,
        tlv_records: false,
    };
    p.ef(
        ssse,
        transparent(0xEF07, 0x300, if gen1 { Access::Always } else { rk }),
    )?;
    if !gen1 {
        p.ef(ssse, transparent(0xEF08, 0x1000, rk))?;
    }
    for extra in perso.extra_efs {
        p.ef(
            ssse,
            EfSpec {
                sfi: extra.sfi,
                ..transparent(extra.fid, extra.size, rk)
            },
        )?;
    }
    // The DIR file (P3 §5.1.4, §6.3): one `61 {4F AID, 50 label}` per application.
    let dir = p.ef(
        ssse,
        EfSpec {
            fid: 0xEF00 | u16::from(perso.dir_sfi),
            sfi: perso.dir_sfi,
            structure: sized(
                Location::Ssse,
                0xEF00 | u16::from(perso.dir_sfi),
                Structure::LinearVariable {
                    max_len: 0x20,
                    records: 5,
                },
            ),
            read: Access::Always,
            write: uk,
            tlv_records: true,
        },
    )?;
    let mut apps = [0u8; 5];
    for (slot, app) in apps.iter_mut().zip(AppDf::ALL) {
        if gen1 && app == AppDf::Df07 {
            *slot = ssse; // DF07 is a V2.0 addition; gen 1 has none.
            continue;
        }
        *slot = p.df(
            ssse,
            DfSpec {
                kind: FileKind::Adf,
                fid: app.fid(),
                name: &app.aid(),
                fci_proprietary: fci_of(perso, DfRef::App(app)).map_or(&[], |f| f.proprietary),
                role: if app == AppDf::Df04 {
                    purse::ROLE_MEDICAL_DF
                } else {
                    0
                },
            },
        )?;
        let mut entry = [0u8; 0x20];
        let mut w = BerWriter::new(&mut entry);
        w.constructed(Tag(0x61), |w| {
            w.tlv(Tag(0x4F), &app.aid())?;
            w.tlv(Tag(0x50), app.label())
        })
        .map_err(|_| BuildError::BadParameter("DIR entry"))?;
        let n = w.len();
        p.append_record(dir, entry.get(..n).unwrap_or(&[]))?;
    }
    let files = SscFiles { ssse, apps };
    p.add_flags(ssse, perso.interfaces.ssse.flags())?;
    for (df, policy) in apps.iter().zip(perso.interfaces.apps) {
        if *df != ssse {
            p.add_flags(*df, policy.flags())?;
        }
    }
    for ef in APPLICATION_EFS {
        let df = files.df(ef.location);
        if df == ssse {
            continue; // DF07 on gen 1
        }
        p.ef(
            df,
            EfSpec {
                fid: ef.fid,
                sfi: (ef.fid & 0x1F) as u8,
                structure: sized(ef.location, ef.fid, ef.structure),
                read: ef.read,
                write: ef.write,
                tlv_records: ef.tlv,
            },
        )?;
    }

    if let Some(spec) = perso.pki {
        let (ddf, adf) = personalize_pki(p, &spec, perso.fci)?;
        p.add_flags(ddf, perso.interfaces.pki.flags())?;
        p.add_flags(adf, perso.interfaces.pki.flags())?;
    }
    if let Some(values) = perso.purse {
        let df04 = files.df(Location::App(AppDf::Df04));
        let file = p.internal(df04, purse::ROLE_PURSE_FILE, purse::PURSE_FILE_LEN)?;
        p.write_body(file, 0, &values.encode())?;
    }

    // Keys, diversified for this card, and the holder PIN.
    for key in perso.keys {
        let value = if key.diversify {
            diversify_path(perso.algorithm, key.root, &[city, card])?
        } else {
            sscard_core::crypto::CardKey::new(perso.algorithm, key.root)?
        };
        let tries = if key.usage.contains(KeyUsage::EXTERNAL_AUTH) {
            perso.key_try_limit
        } else {
            0
        };
        let entry = SecretSpec {
            attributes: SecretAttributes {
                kind: SecretKind::Key,
                owner: files.df(key.location),
                id: key.id,
                usage: key.usage,
                algorithm: perso.algorithm.id(),
                version: key.version,
                try_limit: tries,
            },
            value: value.as_bytes(),
        }
        .encode()
        .ok_or(BuildError::BadParameter("key longer than 16 bytes"))?;
        p.push_secret(&entry)?;
    }
    let pin = SecretSpec {
        attributes: SecretAttributes {
            kind: SecretKind::Pin,
            owner: ssse,
            id: PIN,
            usage: KeyUsage::empty(),
            algorithm: 0,
            version: 0,
            try_limit: perso.pin_try_limit,
        },
        value: perso.pin,
    }
    .encode()
    .ok_or(PersoError::BadPin)?;
    p.push_secret(&pin)?;

    // Contents.
    for spec in perso.records {
        let ef = find_ef(p, files.df(spec.location), spec.fid)?;
        for record in spec.records {
            p.append_record(ef, record)?;
        }
    }
    for spec in perso.binaries {
        let ef = find_ef(p, files.df(spec.location), spec.fid)?;
        p.write_body(ef, spec.offset, spec.data)?;
    }
    Ok(files)
}

/// MF → DDF `PKI.社会保障` → ADF `SS.CERT.ADF1` (DF01) with the key and certificate EFs
/// and the two PINs (spec/ssc.md §9 item 4).
fn personalize_pki<N: Nvm>(
    p: &mut Personalizer<'_, N>,
    spec: &PkiSpec<'_>,
    fci: &[DfFci<'_>],
) -> Result<(FileIndex, FileIndex), PersoError> {
    let given = |df: DfRef| {
        fci.iter()
            .find(|f| f.df == df)
            .map_or(&[][..], |f| f.proprietary)
    };
    let df_spec = |kind, fid, name, df, role| DfSpec {
        kind,
        fid,
        name,
        fci_proprietary: given(df),
        role,
    };
    let ddf = p.df(
        MF,
        df_spec(FileKind::Ddf, 0, &pki::PKI_DDF_NAME, DfRef::PkiDdf, 0),
    )?;
    let adf = p.df(
        ddf,
        df_spec(
            FileKind::Adf,
            0xDF01,
            &pki::PKI_ADF_NAME,
            DfRef::PkiAdf,
            pki::ROLE_PKI_ADF,
        ),
    )?;
    let admin = Access::Pin(pki::ADMIN_PIN);
    for (fid, size, read, write) in [
        (pki::SIGN_PUBLIC, 66, Access::Always, Access::Never),
        (pki::SIGN_PRIVATE, 34, Access::Never, Access::Never),
        (pki::ENC_PUBLIC, 66, Access::Always, Access::Never),
        (pki::ENC_PRIVATE, 34, Access::Never, Access::Never),
        (pki::SIGN_CERT, spec.cert_size, Access::Always, admin),
        (pki::ENC_CERT, spec.cert_size, Access::Always, admin),
    ] {
        let ef = p.ef(
            adf,
            EfSpec {
                fid,
                sfi: 0,
                structure: Structure::Transparent { size },
                read,
                write,
                tlv_records: false,
            },
        )?;
        if fid == pki::SIGN_PRIVATE || fid == pki::ENC_PRIVATE {
            // Private keys are key objects, not files (no file command reaches them).
            p.add_flags(ef, FileFlags::KEY_OBJECT)?;
        }
    }
    for (id, pin) in [
        (pki::USER_PIN, spec.user_pin),
        (pki::ADMIN_PIN, spec.admin_pin),
    ] {
        if !sscard_core::auth::valid_pin(pin) {
            return Err(PersoError::BadPin);
        }
        let key = zeroize::Zeroizing::new(pki::pin_key(pin));
        let entry = SecretSpec {
            attributes: SecretAttributes {
                kind: SecretKind::Pin,
                owner: adf,
                id,
                usage: KeyUsage::empty(),
                algorithm: Algorithm::Sm4.id(),
                version: 0,
                try_limit: spec.try_limit,
            },
            value: &key[..],
        }
        .encode()
        .ok_or(PersoError::BadPin)?;
        p.push_secret(&entry)?;
    }
    Ok((ddf, adf))
}

/// Longest FCI proprietary template a DF can carry (the SELECT answer is built in a
/// 128-byte buffer, `fs::select`).
pub const MAX_FCI_PROPRIETARY: usize = 120;

fn fci_of<'a>(perso: &SscPersonalization<'a>, df: DfRef) -> Option<DfFci<'a>> {
    perso.fci.iter().copied().find(|f| f.df == df)
}

/// True if `location`/`fid` names a standard EF of this generation.
fn standard_ef(perso: &SscPersonalization<'_>, location: Location, fid: u16) -> bool {
    let gen1 = perso.generation == Generation::One;
    match location {
        Location::Ssse => {
            matches!(fid, 0xEF05..=0xEF07)
                || (fid == 0xEF08 && !gen1)
                || fid == 0xEF00 | u16::from(perso.dir_sfi)
        }
        Location::App(AppDf::Df07) if gen1 => false,
        Location::App(_) => APPLICATION_EFS
            .iter()
            .any(|e| e.location == location && e.fid == fid),
    }
}

/// The first entry of `items` that `check` finds a problem with: its index and the problem.
fn first_problem<T>(
    items: &[T],
    check: impl Fn(usize, &T) -> Option<&'static str>,
) -> Result<(), (usize, &'static str)> {
    let found = items
        .iter()
        .enumerate()
        .find_map(|(index, item)| check(index, item).map(|problem| (index, problem)));
    found.map_or(Ok(()), Err)
}

/// Checks the layout and FCI overrides before anything is built, so an error names the
/// entry.
fn check_overrides(perso: &SscPersonalization<'_>) -> Result<(), PersoError> {
    first_problem(perso.layout, |index, l| {
        if !standard_ef(perso, l.location, l.fid) {
            Some("not a standard EF of this generation (extra EFs: [[extra_ef]])")
        } else if perso
            .layout
            .iter()
            .take(index)
            .any(|o| o.location == l.location && o.fid == l.fid)
        {
            Some("the EF is sized twice")
        } else if l.record_len == Some(0) || l.records == Some(0) || l.size == Some(0) {
            Some("sizes must not be 0")
        } else {
            None
        }
    })
    .map_err(|(index, problem)| PersoError::Layout { index, problem })?;
    first_problem(perso.fci, |index, f| {
        if f.proprietary.len() > MAX_FCI_PROPRIETARY {
            Some("FCI proprietary template longer than 120 bytes")
        } else if perso.fci.iter().take(index).any(|o| o.df == f.df) {
            Some("the DF's FCI is given twice")
        } else if matches!(f.df, DfRef::PkiDdf | DfRef::PkiAdf) && perso.pki.is_none() {
            Some("the card has no PKI application")
        } else if f.df == DfRef::App(AppDf::Df07) && perso.generation == Generation::One {
            Some("a first-generation card has no DF07")
        } else if !f.mf_name.is_empty() && f.df != DfRef::Mf {
            Some("only the MF takes a name here")
        } else if f.mf_name.len() > 16 {
            Some("a DF name is at most 16 bytes")
        } else {
            None
        }
    })
    .map_err(|(index, problem)| PersoError::Fci { index, problem })
}

/// The structure of a standard EF with the given sizes applied (the fields that do not
/// fit its structure were refused by [`check_layout_fits`]).
fn sized_structure(
    perso: &SscPersonalization<'_>,
    location: Location,
    fid: u16,
    default: Structure,
) -> Structure {
    let Some(l) = perso
        .layout
        .iter()
        .find(|l| l.location == location && l.fid == fid)
    else {
        return default;
    };
    match default {
        Structure::Transparent { size } => Structure::Transparent {
            size: l.size.unwrap_or(size),
        },
        Structure::LinearFixed {
            record_len,
            records,
        } => Structure::LinearFixed {
            record_len: l.record_len.unwrap_or(record_len),
            records: l.records.unwrap_or(records),
        },
        Structure::LinearVariable { max_len, records } => Structure::LinearVariable {
            max_len: l.record_len.unwrap_or(max_len),
            records: l.records.unwrap_or(records),
        },
        Structure::Cyclic {
            record_len,
            records,
        } => Structure::Cyclic {
            record_len: l.record_len.unwrap_or(record_len),
            records: l.records.unwrap_or(records),
        },
    }
}

/// A layout entry whose fields do not match the EF's structure (a size for a record
/// EF, a record length for a transparent one).
pub fn check_layout_fits(perso: &SscPersonalization<'_>) -> Result<(), PersoError> {
    first_problem(perso.layout, |_, l| {
        let transparent = match l.location {
            Location::Ssse => matches!(l.fid, 0xEF07 | 0xEF08),
            Location::App(_) => APPLICATION_EFS.iter().any(|e| {
                e.location == l.location
                    && e.fid == l.fid
                    && matches!(e.structure, Structure::Transparent { .. })
            }),
        };
        if transparent && (l.record_len.is_some() || l.records.is_some()) {
            Some("a transparent EF takes `size`, not record_len / records")
        } else if !transparent && l.size.is_some() {
            Some("a record EF takes record_len / records, not `size`")
        } else {
            None
        }
    })
    .map_err(|(index, problem)| PersoError::Layout { index, problem })
}

fn find_ef<N: Nvm>(
    p: &Personalizer<'_, N>,
    df: FileIndex,
    fid: u16,
) -> Result<FileIndex, PersoError> {
    for i in 0..p.header().files_used {
        let Ok(i) = FileIndex::try_from(i) else { break };
        let e = p.entry(i)?;
        if e.parent == df && e.kind.is_ef() && e.fid == fid {
            return Ok(i);
        }
    }
    Err(PersoError::UnknownFile(fid))
}

/// The standard key set of a social-security card, from the issuer's root keys
/// (spec/ssc.md §6.1; ids as [`crate::layout::key_id`]).
pub fn ssse_key_usage(id: u8) -> KeyUsage {
    match id {
        purse::key_id::DLK => KeyUsage::PURSE_LOAD,
        purse::key_id::DPK => KeyUsage::PURSE_PURCHASE,
        purse::key_id::DTK => KeyUsage::PURSE_TAC,
        key_id::IRK => KeyUsage::INTERNAL_AUTH,
        key_id::STK | key_id::DF_STK => KeyUsage::SECURE_MESSAGING,
        key_id::BK => KeyUsage::EXTERNAL_AUTH | KeyUsage::CARD_BLOCK,
        key_id::PUK => KeyUsage::EXTERNAL_AUTH | KeyUsage::PIN_UNBLOCK,
        _ => KeyUsage::EXTERNAL_AUTH,
    }
}
