//! Personalization: the PBOC data of a card, written into the applet's NVM region.
//!
//! The input is [`PbocPersonalization`], a plain struct borrowing slices (no heap); it
//! carries what a CPS personalization script carries in its DGIs (pboc.md §2.14): records
//! (DGI 01xx–03xx), the internal data of DGI 0D01/0E01 (risk parameters, EC, log
//! formats), the FCIs (DGI 9102/9103), the GPO responses (AIP/AFL, DGI 9104/9207), the
//! keys (DGI 8000: here the issuer master keys, from which the card keeps only the UDKs
//! derived by EMV option A, §2.8) and the PIN (DGI 8010/9010).
//!
//! [`personalize`] validates everything first; an error names the offending field.

use sscard_core::crypto::{Sm2KeyPair, udk_option_a};
use sscard_core::fs::build::{BuildError, Personalizer};
use sscard_core::fs::layout::FileIndex;
use sscard_core::nvm::Nvm;
use sscard_core::tlv::{BerReader, BerWriter, DolReader, Tag, TlvError, dol_value_len, find};

use crate::layout::{
    ALL_OBJECTS, AppConfig, AppFlags, ApplicationKind, BLOB_COUNT, BLOB_DIR_LEN, Blob, CARD_ACTIVE,
    CFG_EC, CFG_FDDA01, CFG_IAD_EC_BALANCE, CFG_SM2, CONFIG_LEN, FLAG_PPSE, FLAG_PPSE_CONTACT,
    FLAG_PSE, FLAG_PSE_CONTACTLESS, LogArea, MAGIC, MAX_APPLICATIONS, MAX_LOG_FORMAT,
    OBJECT_TABLE_LEN, Obj, RECORD_DIR_ENTRY, REGION_AID, SUITE_REFUSE_SM_REQUEST, SUITE_RSA,
    SUITE_SM, header, u64_to_bcd6,
};
use crate::state::MAX_DOL;

/// `1PAY.SYS.DDF01`, the contact payment system environment (pboc.md §2.2).
pub const PSE_NAME: &[u8] = b"1PAY.SYS.DDF01";
/// `2PAY.SYS.DDF01`, the contactless proximity payment system environment (§2.2).
pub const PPSE_NAME: &[u8] = b"2PAY.SYS.DDF01";

/// Why personalization failed. `Invalid` names the field and the rule it breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersoError {
    /// A field of [`PbocPersonalization`] is out of range: `(field, rule)`.
    Invalid(&'static str, &'static str),
    /// The core's personalizer failed (memory full, file table full…).
    Build(BuildError),
}

impl core::fmt::Display for PersoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PersoError::Invalid(field, rule) => write!(f, "pboc.{field}: {rule}"),
            PersoError::Build(e) => write!(f, "pboc region: {e}"),
        }
    }
}

impl core::error::Error for PersoError {}

impl From<BuildError> for PersoError {
    fn from(e: BuildError) -> Self {
        PersoError::Build(e)
    }
}

type PResult<T> = core::result::Result<T, PersoError>;

/// The whole PBOC personalization of a card.
#[derive(Clone, Copy, Debug)]
pub struct PbocPersonalization<'a> {
    /// One to three financial applications.
    pub applications: &'a [Application<'a>],
    /// The contact directory `1PAY.SYS.DDF01` and its record SFI (`None`: no PSE).
    pub pse_sfi: Option<u8>,
    /// The contactless directory `2PAY.SYS.DDF01`.
    pub ppse: bool,
    /// Answer SELECT PSE on the contactless interface too. Real cards do not (python-emv
    /// issue #15 shows 6A82); sscard's default profile does, so that tools reading a
    /// card put in a contactless reader still find it (see the crate docs).
    pub pse_on_contactless: bool,
    /// Answer SELECT PPSE on the contact interface too (real cards: contactless only;
    /// the default profile answers, so PC/SC contact readers can run PPSE discovery).
    pub ppse_on_contact: bool,
    /// Language preference `5F2D` in the PSE FCI (empty: none).
    pub pse_language: &'a [u8],
}

/// One financial application (debit, credit or EC).
#[derive(Clone, Copy, Debug)]
pub struct Application<'a> {
    /// Kind (informative; the AID decides what terminals see).
    pub kind: ApplicationKind,
    /// AID `4F`, 5–16 bytes, e.g. `A000000333010101`.
    pub aid: &'a [u8],
    /// Application label `50` (ASCII, ≤ 16).
    pub label: &'a [u8],
    /// Application priority indicator `87`.
    pub priority: u8,
    /// Application preferred name `9F12` (empty: none).
    pub preferred_name: &'a [u8],
    /// Language preference `5F2D` (empty: none).
    pub language: &'a [u8],
    /// Issuer code table index `9F11` (`None`: absent).
    pub issuer_code_table_index: Option<u8>,
    /// PDOL `9F38` of the contact FCI (empty: no PDOL, GPO data `83 00`).
    pub pdol_contact: &'a [u8],
    /// PDOL of the contactless FCI (must request `9F66` for qPBOC).
    pub pdol_contactless: &'a [u8],
    /// AIP for the contact and contactless-PBOC paths (`7C00`, §2.4).
    pub aip_contact: [u8; 2],
    /// AFL for the contact paths.
    pub afl_contact: &'a [u8],
    /// AFL for a contact electronic-cash transaction (empty: same as `afl_contact`).
    pub afl_ec: &'a [u8],
    /// AIP returned by qPBOC (§2.4: kept equal to the contact one by guolong).
    pub aip_qpboc: [u8; 2],
    /// AFL returned by an offline qPBOC approval.
    pub afl_qpboc: &'a [u8],
    /// Records: `(SFI, number, TLVs inside the 70 template)`.
    pub records: &'a [Record<'a>],
    /// PAN as ASCII digits (the card keeps it for track 2 and the key derivation).
    pub pan: &'a [u8],
    /// PAN sequence number `5F34` (BCD, e.g. `0x01`).
    pub psn: u8,
    /// Expiry `YYMM` as ASCII digits, for track 2 equivalent data `57`.
    pub expiry_yymm: &'a [u8],
    /// Service code, 3 ASCII digits, for `57`.
    pub service_code: &'a [u8],
    /// Track 2 discretionary data, ASCII digits (may be empty).
    pub track2_discretionary: &'a [u8],
    /// Keys.
    pub keys: Keys,
    /// Derivation key index (IAD byte 2).
    pub dki: u8,
    /// Offline PIN, 4–12 ASCII digits.
    pub pin: &'a [u8],
    /// PIN try limit (1–15); the PIN try counter `9F17` starts there.
    pub pin_try_limit: u8,
    /// Electronic cash (`None`: no EC on this application).
    pub ec: Option<ElectronicCash>,
    /// Card risk management data.
    pub risk: RiskParameters,
    /// Transaction log (`9F4D` / `9F4F`).
    pub transaction_log: Option<LogSpec<'a>>,
    /// Load log (`DF4D` / `DF4F`).
    pub load_log: Option<LogSpec<'a>>,
    /// Put issuer discretionary data ID 01 (EC balance + MAC) in the IAD (§2.7).
    pub iad_ec_balance: bool,
    /// Application version `9F08` (fDDA 01 is used from `0030` on, §2.12).
    pub app_version: [u8; 2],
    /// ICC SM2 private key for fDDA / DDA (`None`: no dynamic authentication).
    pub sm2_secret: Option<[u8; 32]>,
    /// The RSA path: ICC RSA key and the AFLs that name the RSA certificate records
    /// (`None`: SM2 only, as before PBOC part 17 dual cards).
    pub rsa: Option<RsaOda<'a>>,
    /// Which ODA algorithms the card offers and how it chooses by `DF69`.
    pub oda_algorithms: OdaAlgorithms,
    /// Start blocked (SELECT answers 6283).
    pub blocked: bool,
}

/// The offline data authentication algorithms of a card (PBOC 3.0 part 17: a terminal
/// that supports the SM algorithms says so with `DF69` in the PDOL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OdaAlgorithms {
    /// Both chains: `DF69` ≠ 00 → SM2 (the SM AFLs), absent or 00 → RSA (the RSA AFLs).
    Dual,
    /// RSA only. `refuse_sm_request`: a terminal sending `DF69` ≠ 00 gets 6985 at GPO
    /// instead of RSA (public part 17 text does not say; `docs/spec-choices.md`).
    RsaOnly {
        /// Answer 6985 to an SM request rather than carry on in RSA.
        refuse_sm_request: bool,
    },
    /// SM2 only, whatever `DF69` says (a terminal without SM fails ODA, as on a real
    /// SM-only card).
    SmOnly,
}

/// The RSA side of a card: the ICC key (EMV Book 2 §6) in CRT form, as DGI 8201–8205
/// carry it (pboc.md §2.14), and the AFLs GPO returns on the RSA path (they name the
/// records with `8F 90 92 9F32 9F46 9F47 9F48 93`). Big-endian byte strings.
#[derive(Clone, Copy, Debug)]
pub struct RsaOda<'a> {
    /// ICC modulus (64–144 bytes: the qPBOC GPO response carries `9F4B`).
    pub icc_modulus: &'a [u8],
    /// ICC public exponent `9F47` (checks every signature before it leaves the card).
    pub icc_public_exponent: &'a [u8],
    /// Prime `P` (DGI 8205).
    pub icc_p: &'a [u8],
    /// Prime `Q` (DGI 8204).
    pub icc_q: &'a [u8],
    /// `dP` = d mod (P − 1) (DGI 8203).
    pub icc_dp: &'a [u8],
    /// `dQ` = d mod (Q − 1) (DGI 8202).
    pub icc_dq: &'a [u8],
    /// `qInv` = Q⁻¹ mod P (DGI 8201).
    pub icc_qinv: &'a [u8],
    /// AFL of a contact (or contactless PBOC) transaction on the RSA path.
    pub afl_contact: &'a [u8],
    /// AFL of a qPBOC offline approval on the RSA path.
    pub afl_qpboc: &'a [u8],
    /// AFL of a contact EC transaction on the RSA path (empty: `afl_contact`).
    pub afl_ec: &'a [u8],
}

/// Longest ICC RSA modulus: a 1152-bit key keeps the qPBOC GPO response, `9F4B`
/// included, within a short APDU's 256 bytes.
pub const MAX_ICC_RSA_MODULUS: usize = crate::rsa_oda::MAX_CARD_MODULUS_LEN;

/// Bytes of the stored ICC RSA key for a modulus of `n` bytes.
pub(crate) const fn rsa_key_blob_len(n: usize) -> usize {
    1 + n + 4 + 5 * crate::rsa_oda::crt_component_len(n)
}

/// One record of the application.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// SFI 1–30.
    pub sfi: u8,
    /// Record number 1–254.
    pub number: u8,
    /// The TLVs inside the `70` template.
    pub content: &'a [u8],
}

/// The card keys: the card stores only the UDKs.
#[derive(Clone, Copy, Debug)]
pub enum Keys {
    /// Issuer master keys: UDKs are derived from PAN ‖ PSN by EMV option A (§2.8).
    IssuerMasterKeys {
        /// IMK-AC.
        ac: [u8; 16],
        /// IMK-SMI (MAC).
        mac: [u8; 16],
        /// IMK-SMC (ENC).
        enc: [u8; 16],
    },
    /// Card master keys (UDKs) already derived.
    CardKeys {
        /// UDK-AC.
        ac: [u8; 16],
        /// UDK-MAC.
        mac: [u8; 16],
        /// UDK-ENC.
        enc: [u8; 16],
    },
}

/// Electronic cash data (§2.11); amounts in minor units (fen).
#[derive(Clone, Copy, Debug)]
pub struct ElectronicCash {
    /// `9F79` balance.
    pub balance: u64,
    /// `9F77` balance limit.
    pub balance_limit: u64,
    /// `9F78` single transaction limit.
    pub single_limit: u64,
    /// `9F6D` reset threshold.
    pub reset_threshold: u64,
    /// `9F74` EC issuer authorization code (6 ASCII bytes, e.g. `ECC001`).
    pub issuer_auth_code: [u8; 6],
}

/// Card risk management parameters (§2.9, §2.12). `None` = not personalized (the check is
/// skipped and GET DATA answers 6A88).
#[derive(Clone, Copy, Debug)]
pub struct RiskParameters {
    /// `9F51` application currency code (n3, e.g. `0156`).
    pub currency: [u8; 2],
    /// `9F57` issuer country code.
    pub country: [u8; 2],
    /// `9F52` application default action.
    pub ada: [u8; 2],
    /// `9F56` issuer authentication indicator (b8 = mandatory).
    pub issuer_auth_indicator: u8,
    /// `9F58` lower consecutive offline limit.
    pub lcol: Option<u8>,
    /// `9F59` upper consecutive offline limit.
    pub ucol: Option<u8>,
    /// `9F53` consecutive transaction limit (international).
    pub consecutive_international_limit: Option<u8>,
    /// `9F54` cumulative total transaction amount limit.
    pub cttal: Option<u64>,
    /// `9F5C` cumulative total transaction amount upper limit.
    pub cttaul: Option<u64>,
    /// `9F6B` card CVM limit (qPBOC).
    pub card_cvm_limit: Option<u64>,
    /// `9F68` card additional processes.
    pub cpp: [u8; 4],
    /// `9F6C` card transaction qualifiers as personalized.
    pub ctq: [u8; 2],
}

/// A cyclic log: SFI, number of records, record format DOL.
#[derive(Clone, Copy, Debug)]
pub struct LogSpec<'a> {
    /// SFI READ RECORD uses (11 and 12 on real cards).
    pub sfi: u8,
    /// Records kept (1–30).
    pub records: u8,
    /// Format DOL (`9F4F` / `DF4F` value).
    pub format: &'a [u8],
}

/// Writes the PBOC region of the card being built by `p`. Returns the region's file index.
///
/// # Errors
/// [`PersoError::Invalid`] for data out of range (nothing is written then),
/// [`PersoError::Build`] if the card memory or file table is full.
pub fn personalize<N: Nvm>(
    p: &mut Personalizer<'_, N>,
    perso: &PbocPersonalization<'_>,
) -> PResult<FileIndex> {
    let len = build(perso, &mut |_, _| Ok(()))?;
    let len =
        u32::try_from(len).map_err(|_| PersoError::Invalid("applications", "too much data"))?;
    let index = p.applet_region(&REGION_AID, len)?;
    build(perso, &mut |at, data| {
        let at =
            u32::try_from(at).map_err(|_| PersoError::Invalid("applications", "too much data"))?;
        p.write_body(index, at, data).map_err(PersoError::Build)
    })?;
    Ok(index)
}

/// Bytes the region of `perso` takes.
///
/// # Errors
/// As [`personalize`].
pub fn region_len(perso: &PbocPersonalization<'_>) -> PResult<usize> {
    build(perso, &mut |_, _| Ok(()))
}

type WriteFn<'s> = dyn FnMut(usize, &[u8]) -> PResult<()> + 's;

/// Append-only allocation over the region, writing through `write`.
struct Sink<'s, 'w> {
    write: &'s mut WriteFn<'w>,
    cursor: usize,
}

impl Sink<'_, '_> {
    fn alloc(&mut self, len: usize) -> PResult<usize> {
        let at = self.cursor;
        let end = at.saturating_add(len);
        if end > usize::from(u16::MAX) {
            return Err(PersoError::Invalid(
                "applications",
                "region larger than 64 KiB",
            ));
        }
        self.cursor = end;
        Ok(at)
    }
    fn put(&mut self, at: usize, data: &[u8]) -> PResult<()> {
        if data.is_empty() {
            return Ok(());
        }
        (self.write)(at, data)
    }
    /// Appends a blob; returns its directory entry.
    fn blob(&mut self, data: &[u8]) -> PResult<[u8; 4]> {
        let at = self.alloc(data.len())?;
        self.put(at, data)?;
        Ok(span(at, data.len()))
    }
}

fn span(at: usize, len: usize) -> [u8; 4] {
    let [a, b] = (at as u16).to_be_bytes();
    let [c, d] = (len as u16).to_be_bytes();
    [a, b, c, d]
}

fn tlv_err(field: &'static str) -> impl Fn(TlvError) -> PersoError {
    move |_| PersoError::Invalid(field, "does not fit its template (too long)")
}

fn build(perso: &PbocPersonalization<'_>, write: &mut WriteFn<'_>) -> PResult<usize> {
    let apps = perso.applications;
    if apps.is_empty() || apps.len() > MAX_APPLICATIONS {
        return Err(PersoError::Invalid(
            "applications",
            "must list 1 to 3 applications",
        ));
    }
    for (i, a) in apps.iter().enumerate() {
        validate(a)?;
        if apps.iter().take(i).any(|b| b.aid == a.aid) {
            return Err(PersoError::Invalid("applications.aid", "AIDs must differ"));
        }
    }
    if let Some(sfi) = perso.pse_sfi
        && !(1..=10).contains(&sfi)
    {
        return Err(PersoError::Invalid(
            "pse_sfi",
            "must be 1-10 (EMV directory SFI)",
        ));
    }
    if perso.pse_language.len() > 8 || !perso.pse_language.len().is_multiple_of(2) {
        return Err(PersoError::Invalid(
            "pse_language",
            "must be 0-4 two-letter codes",
        ));
    }

    let mut sink = Sink { write, cursor: 0 };
    sink.alloc(header::LEN)?;
    let mut head = [0u8; header::LEN];
    put_at(&mut head, header::MAGIC, &MAGIC);
    put_at(&mut head, header::APP_COUNT, &[apps.len() as u8]);
    let flags = [
        (perso.pse_sfi.is_some(), FLAG_PSE),
        (perso.ppse, FLAG_PPSE),
        (perso.pse_on_contactless, FLAG_PSE_CONTACTLESS),
        (perso.ppse_on_contact, FLAG_PPSE_CONTACT),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0u8, |acc, (_, f)| acc | f);
    put_at(&mut head, header::FLAGS, &[flags]);
    put_at(&mut head, header::PSE_SFI, &[perso.pse_sfi.unwrap_or(0)]);
    put_at(&mut head, header::CARD_STATE, &[CARD_ACTIVE]);

    // PSE FCI: 6F{84 name, A5{88 SFI [, 5F2D]}} (§2.2, the real UICS PSE).
    let mut buf = [0u8; 256];
    let mut w = BerWriter::new(&mut buf);
    w.constructed(Tag(0x6F), |w| {
        w.tlv(Tag(0x84), PSE_NAME)?;
        w.constructed(Tag(0xA5), |w| {
            w.tlv(Tag(0x88), &[perso.pse_sfi.unwrap_or(1)])?;
            if !perso.pse_language.is_empty() {
                w.tlv(Tag(0x5F2D), perso.pse_language)?;
            }
            Ok(())
        })
    })
    .map_err(tlv_err("pse"))?;
    put_at(&mut head, header::PSE_FCI, &sink.blob(w.written())?);

    // PPSE FCI: 6F{84, A5{BF0C{61{4F,50,87}…}}} (§2.2, the real qPBOC card).
    let mut w = BerWriter::new(&mut buf);
    w.constructed(Tag(0x6F), |w| {
        w.tlv(Tag(0x84), PPSE_NAME)?;
        w.constructed(Tag(0xA5), |w| {
            w.constructed(Tag(0xBF0C), |w| {
                for a in apps {
                    directory_entry(w, a)?;
                }
                Ok(())
            })
        })
    })
    .map_err(tlv_err("ppse"))?;
    put_at(&mut head, header::PPSE_FCI, &sink.blob(w.written())?);

    // PSE directory records, one application per record: 70{61{4F,50,87}} (§2.2).
    let records_at = sink.cursor;
    for a in apps {
        let mut w = BerWriter::new(&mut buf);
        w.constructed(Tag(0x70), |w| directory_entry(w, a))
            .map_err(tlv_err("applications.label"))?;
        let n = w.len();
        let at = sink.alloc(1 + n)?;
        sink.put(at, &[n as u8])?;
        sink.put(at + 1, w.written())?;
    }
    put_at(
        &mut head,
        header::PSE_RECORDS,
        &span(records_at, sink.cursor - records_at),
    );

    for (i, a) in apps.iter().enumerate() {
        let base = build_app(&mut sink, a)?;
        put_at(
            &mut head,
            header::APP_BASE + 2 * i,
            &(base as u16).to_be_bytes(),
        );
    }
    sink.put(0, &head)?;
    Ok(sink.cursor)
}

fn put_at(buf: &mut [u8], at: usize, data: &[u8]) {
    if let Some(dst) = buf.get_mut(at..at + data.len()) {
        dst.copy_from_slice(data);
    }
}

fn directory_entry(w: &mut BerWriter<'_>, a: &Application<'_>) -> Result<(), TlvError> {
    w.constructed(Tag(0x61), |w| {
        w.tlv(Tag(0x4F), a.aid)?;
        w.tlv(Tag(0x50), a.label)?;
        w.tlv(Tag(0x87), &[a.priority])
    })
}

/// The application FCI: `6F{84 AID, A5{50, 87, 9F38 PDOL, 5F2D, 9F11, 9F12, BF0C{9F4D,
/// DF4D}}}` as on the real cards of pboc.md §2.3.
fn app_fci<'b>(a: &Application<'_>, pdol: &[u8], buf: &'b mut [u8]) -> PResult<&'b [u8]> {
    let mut w = BerWriter::new(buf);
    w.constructed(Tag(0x6F), |w| {
        w.tlv(Tag(0x84), a.aid)?;
        w.constructed(Tag(0xA5), |w| {
            w.tlv(Tag(0x50), a.label)?;
            w.tlv(Tag(0x87), &[a.priority])?;
            if !pdol.is_empty() {
                w.tlv(Tag(0x9F38), pdol)?;
            }
            if !a.language.is_empty() {
                w.tlv(Tag(0x5F2D), a.language)?;
            }
            if let Some(i) = a.issuer_code_table_index {
                w.tlv(Tag(0x9F11), &[i])?;
            }
            if !a.preferred_name.is_empty() {
                w.tlv(Tag(0x9F12), a.preferred_name)?;
            }
            if a.transaction_log.is_some() || a.load_log.is_some() {
                w.constructed(Tag(0xBF0C), |w| {
                    if let Some(l) = a.transaction_log {
                        w.tlv(Tag(0x9F4D), &[l.sfi, l.records])?;
                    }
                    if let Some(l) = a.load_log {
                        w.tlv(Tag(0xDF4D), &[l.sfi, l.records])?;
                    }
                    Ok(())
                })?;
            }
            Ok(())
        })
    })
    .map_err(tlv_err("applications.fci"))?;
    let n = w.len();
    Ok(buf.get(..n).unwrap_or(&[]))
}

fn find_in_records<'r>(a: &'r Application<'_>, tag: u32) -> Option<&'r [u8]> {
    a.records
        .iter()
        .find_map(|r| find(r.content, Tag(tag)).ok().flatten().map(|t| t.value()))
}

fn build_app(sink: &mut Sink<'_, '_>, a: &Application<'_>) -> PResult<usize> {
    let log_len = |l: &Option<LogSpec<'_>>, prefix: usize| -> PResult<usize> {
        Ok(match l {
            Some(l) => {
                prefix
                    + dol_value_len(l.format)
                        .map_err(|_| PersoError::Invalid("log.format", "not a DOL"))?
            }
            None => 0,
        })
    };
    let tlen = log_len(&a.transaction_log, 0)?;
    let llen = log_len(&a.load_log, LOAD_LOG_PREFIX)?;

    let base = sink.alloc(CONFIG_LEN + BLOB_DIR_LEN + OBJECT_TABLE_LEN)?;
    let log_at = sink.alloc(tlen * usize::from(a.transaction_log.map_or(0, |l| l.records)))?;
    let load_at = sink.alloc(llen * usize::from(a.load_log.map_or(0, |l| l.records)))?;

    let mut flags = 0u8;
    if a.ec.is_some() {
        flags |= CFG_EC;
    }
    if a.iad_ec_balance {
        flags |= CFG_IAD_EC_BALANCE;
    }
    if a.sm2_secret.is_some() {
        flags |= CFG_SM2;
    }
    if (a.sm2_secret.is_some() || a.rsa.is_some()) && a.app_version >= [0x00, 0x30] {
        flags |= CFG_FDDA01;
    }
    let suite = match a.oda_algorithms {
        OdaAlgorithms::Dual => SUITE_RSA | SUITE_SM,
        OdaAlgorithms::RsaOnly {
            refuse_sm_request: false,
        } => SUITE_RSA,
        OdaAlgorithms::RsaOnly {
            refuse_sm_request: true,
        } => SUITE_RSA | SUITE_REFUSE_SM_REQUEST,
        OdaAlgorithms::SmOnly => SUITE_SM,
    };
    // The ICC RSA key (n ‖ d, d left-padded) and the RSA AFLs.
    // The ICC RSA key: `[N] ‖ n ‖ e (4) ‖ P ‖ Q ‖ dP ‖ dQ ‖ qInv`, the CRT components
    // left-padded to H = ⌈N/2⌉ bytes each.
    let (rsa_key, rsa_afls) = match a.rsa {
        Some(r) => {
            let n = r.icc_modulus.len();
            let h = crate::rsa_oda::crt_component_len(n);
            let len = rsa_key_blob_len(n);
            let key_at = sink.alloc(len)?;
            sink.put(key_at, &[n as u8])?;
            sink.put(key_at + 1, r.icc_modulus)?;
            let mut field = [0u8; crate::rsa_oda::MAX_CARD_MODULUS_LEN];
            let parts = [
                (r.icc_public_exponent, 4),
                (r.icc_p, h),
                (r.icc_q, h),
                (r.icc_dp, h),
                (r.icc_dq, h),
                (r.icc_qinv, h),
            ];
            let mut at = key_at + 1 + n;
            for (value, width) in parts {
                field.fill(0);
                let pad = width.saturating_sub(value.len());
                if let Some(dst) = field.get_mut(pad..width) {
                    dst.copy_from_slice(value);
                }
                sink.put(at, field.get(..width).unwrap_or(&[]))?;
                at += width;
            }
            zeroize::Zeroize::zeroize(&mut field);
            let afl_ec = if r.afl_ec.is_empty() {
                r.afl_contact
            } else {
                r.afl_ec
            };
            let afls_len = 3 + r.afl_contact.len() + r.afl_qpboc.len() + afl_ec.len();
            let afls_at = sink.alloc(afls_len)?;
            let mut at = afls_at;
            for afl in [r.afl_contact, r.afl_qpboc, afl_ec] {
                sink.put(at, &[afl.len() as u8])?;
                sink.put(at + 1, afl)?;
                at += 1 + afl.len();
            }
            (
                (key_at as u16, len as u16),
                (afls_at as u16, afls_len as u16),
            )
        }
        None => ((0, 0), (0, 0)),
    };
    let area = |l: &Option<LogSpec<'_>>, len: usize, at: usize| match l {
        Some(l) => LogArea {
            sfi: l.sfi,
            max: l.records,
            len: len as u8,
            at: at as u16,
        },
        None => LogArea::default(),
    };
    let cfg = AppConfig {
        base: base as u16,
        kind: a.kind,
        flags,
        dki: a.dki,
        cvn: 0x01,
        aip_contact: a.aip_contact,
        aip_qpboc: a.aip_qpboc,
        pin_limit: a.pin_try_limit,
        psn: a.psn,
        log: area(&a.transaction_log, tlen, log_at),
        load_log: area(&a.load_log, llen, load_at),
        rsa_key,
        rsa_afls,
        suite,
    };
    sink.put(base, &cfg.encode())?;

    // Blobs.
    let mut dir = [[0u8; 4]; BLOB_COUNT];
    let mut set = |b: Blob, e: [u8; 4]| {
        if let Some(d) = dir.get_mut(b as usize) {
            *d = e;
        }
    };
    set(Blob::Aid, sink.blob(a.aid)?);
    let mut buf = [0u8; 256];
    set(
        Blob::FciContact,
        sink.blob(app_fci(a, a.pdol_contact, &mut buf)?)?,
    );
    set(
        Blob::FciContactless,
        sink.blob(app_fci(a, a.pdol_contactless, &mut buf)?)?,
    );
    set(Blob::PdolContact, sink.blob(a.pdol_contact)?);
    set(Blob::PdolContactless, sink.blob(a.pdol_contactless)?);
    set(Blob::AflContact, sink.blob(a.afl_contact)?);
    set(Blob::AflQpboc, sink.blob(a.afl_qpboc)?);
    let afl_ec = if a.afl_ec.is_empty() {
        a.afl_contact
    } else {
        a.afl_ec
    };
    set(Blob::AflEc, sink.blob(afl_ec)?);
    set(
        Blob::Cdol1,
        sink.blob(find_in_records(a, 0x8C).unwrap_or(&[]))?,
    );
    set(
        Blob::Cdol2,
        sink.blob(find_in_records(a, 0x8D).unwrap_or(&[]))?,
    );
    set(
        Blob::Ddol,
        sink.blob(find_in_records(a, 0x9F49).unwrap_or(&[0x9F, 0x37, 0x04]))?,
    );
    let mut t2 = [0u8; 19];
    set(Blob::Track2, sink.blob(track2(a, &mut t2)?)?);
    set(Blob::PinBlock, sink.blob(&pin_block(a.pin)?)?);
    let mut keys = [0u8; 48];
    card_keys(a, &mut keys)?;
    set(Blob::Keys, sink.blob(&keys)?);
    zeroize::Zeroize::zeroize(&mut keys);
    set(
        Blob::Sm2Secret,
        sink.blob(a.sm2_secret.as_ref().map_or(&[][..], |s| &s[..]))?,
    );

    // Records: directory of (SFI, number, slot, capacity); slots [len][70 L content].
    let dir_at = sink.alloc(RECORD_DIR_ENTRY * a.records.len())?;
    set(
        Blob::RecordDir,
        span(dir_at, RECORD_DIR_ENTRY * a.records.len()),
    );
    for (i, r) in a.records.iter().enumerate() {
        let mut w = BerWriter::new(&mut buf);
        w.tlv(Tag(0x70), r.content)
            .map_err(tlv_err("applications.records"))?;
        let n = w.len();
        if n > 254 {
            return Err(PersoError::Invalid(
                "applications.records",
                "a record is at most 252 bytes of TLVs",
            ));
        }
        let slot = sink.alloc(1 + n)?;
        sink.put(slot, &[n as u8])?;
        sink.put(slot + 1, w.written())?;
        let [s0, s1] = (slot as u16).to_be_bytes();
        sink.put(
            dir_at + RECORD_DIR_ENTRY * i,
            &[r.sfi, r.number, s0, s1, n as u8],
        )?;
    }
    let mut dir_bytes = [0u8; BLOB_DIR_LEN];
    for (d, s) in dir_bytes.chunks_exact_mut(4).zip(dir.iter()) {
        d.copy_from_slice(s);
    }
    sink.put(cfg.blob_dir_at(), &dir_bytes)?;

    // Object table.
    let objects_at = cfg.objects_at();
    let mut obj = |o: Obj, v: &[u8]| -> PResult<()> {
        let at = objects_at + object_offset(o);
        sink.put(at, &[v.len() as u8])?;
        sink.put(at + 1, v)
    };
    obj(Obj::Atc, &[0, 0])?;
    obj(Obj::LastOnlineAtc, &[0, 0])?;
    obj(Obj::PinTryCounter, &[a.pin_try_limit])?;
    if let Some(ec) = a.ec {
        obj(Obj::EcBalance, &u64_to_bcd6(ec.balance))?;
        obj(Obj::EcBalanceLimit, &u64_to_bcd6(ec.balance_limit))?;
        obj(Obj::EcSingleLimit, &u64_to_bcd6(ec.single_limit))?;
        obj(Obj::EcResetThreshold, &u64_to_bcd6(ec.reset_threshold))?;
        obj(Obj::EcIssuerAuthCode, &ec.issuer_auth_code)?;
    }
    if let Some(l) = a.transaction_log {
        obj(Obj::LogFormat, l.format)?;
    }
    if let Some(l) = a.load_log {
        obj(Obj::LoadLogFormat, l.format)?;
    }
    let r = &a.risk;
    obj(Obj::AppCurrency, &r.currency)?;
    obj(Obj::IssuerCountry, &r.country)?;
    obj(Obj::Ada, &r.ada)?;
    obj(Obj::IssuerAuthIndicator, &[r.issuer_auth_indicator])?;
    obj(Obj::Cpp, &r.cpp)?;
    obj(Obj::Ctq, &r.ctq)?;
    obj(Obj::AppVersion, &a.app_version)?;
    if let Some(v) = r.lcol {
        obj(Obj::Lcol, &[v])?;
    }
    if let Some(v) = r.ucol {
        obj(Obj::Ucol, &[v])?;
    }
    if let Some(v) = r.consecutive_international_limit {
        obj(Obj::ConsecutiveIntlCurrencyLimit, &[v])?;
    }
    for (o, v) in [
        (Obj::Cttal, r.cttal),
        (Obj::Cttaul, r.cttaul),
        (Obj::CardCvmLimit, r.card_cvm_limit),
    ] {
        if let Some(v) = v {
            obj(o, &u64_to_bcd6(v))?;
        }
    }
    // The card's internal state (the objects without a tag) starts at zero, but for the
    // application's block state.
    let flags = if a.blocked {
        AppFlags::BLOCKED
    } else {
        AppFlags::empty()
    };
    let flags = flags.bits().to_be_bytes();
    for o in ALL_OBJECTS.into_iter().filter(|o| o.def().tag == 0) {
        let zeros = [0u8; 6];
        let value = match o {
            Obj::Flags => &flags[..],
            _ => zeros.get(..usize::from(o.def().len)).unwrap_or(&[]),
        };
        obj(o, value)?;
    }
    Ok(base)
}

/// Load-log records start with `P1 P2 before(6) after(6)` (§2.13, `updateChargeLog`).
pub(crate) const LOAD_LOG_PREFIX: usize = 14;

fn object_offset(o: Obj) -> usize {
    crate::layout::slot_offset(o as usize)
}

/// Checks one application the way [`personalize`] does (DOLs, AFLs against the records,
/// CDOLs present, Luhn, PIN, limits, log formats, SM2 key).
///
/// # Errors
/// [`PersoError::Invalid`] naming the first bad field.
pub fn validate_application(a: &Application<'_>) -> PResult<()> {
    validate(a)
}

fn validate(a: &Application<'_>) -> PResult<()> {
    let bad = |field, rule| Err(PersoError::Invalid(field, rule));
    if a.aid.len() < 5 || a.aid.len() > 16 {
        return bad("applications.aid", "must be 5-16 bytes");
    }
    if a.label.is_empty() || a.label.len() > 16 {
        return bad("applications.label", "must be 1-16 bytes");
    }
    if a.preferred_name.len() > 16 {
        return bad("applications.preferred_name", "must be at most 16 bytes");
    }
    if a.language.len() > 8 || !a.language.len().is_multiple_of(2) {
        return bad("applications.language", "must be 0-4 two-letter codes");
    }
    for (field, dol) in [
        ("applications.pdol_contact", a.pdol_contact),
        ("applications.pdol_contactless", a.pdol_contactless),
    ] {
        match dol_value_len(dol) {
            Ok(n) if n <= 200 && dol.len() <= MAX_DOL => {}
            _ => return bad(field, "must be a DOL asking for at most 200 bytes"),
        }
    }
    if !dol_has(a.pdol_contactless, 0x9F66) {
        return bad(
            "applications.pdol_contactless",
            "must request 9F66 (TTQ) for qPBOC",
        );
    }
    validate_afls(a, SM_AFLS, [a.afl_contact, a.afl_qpboc, a.afl_ec])?;
    for (i, r) in a.records.iter().enumerate() {
        if !(1..=30).contains(&r.sfi) || r.number == 0 || r.number == 0xFF {
            return bad(
                "applications.records",
                "SFI must be 1-30 and record number 1-254",
            );
        }
        if BerReader::new(r.content).any(|t| t.is_err())
            || sscard_core::tlv::validate(r.content).is_err()
        {
            return bad(
                "applications.records",
                "content must be well-formed BER-TLV",
            );
        }
        if a.records
            .iter()
            .take(i)
            .any(|q| q.sfi == r.sfi && q.number == r.number)
        {
            return bad(
                "applications.records",
                "two records with the same SFI and number",
            );
        }
        for l in [a.transaction_log, a.load_log].iter().flatten() {
            if l.sfi == r.sfi {
                return bad("applications.records", "a record uses a log SFI");
            }
        }
    }
    let cdol1 = find_in_records(a, 0x8C);
    let cdol2 = find_in_records(a, 0x8D);
    for (field, dol) in [("records.8C (CDOL1)", cdol1), ("records.8D (CDOL2)", cdol2)] {
        match dol.map(|d| (d.len(), dol_value_len(d))) {
            Some((len, Ok(n))) if n <= 200 && len <= MAX_DOL => {}
            _ => {
                return bad(
                    field,
                    "a record must carry it: at most 64 bytes, asking for at most 200",
                );
            }
        }
    }
    if !dol_has(cdol2.unwrap_or(&[]), 0x8A) {
        return bad(
            "records.8D (CDOL2)",
            "must request 8A (authorization response code)",
        );
    }
    if let Some(ddol) = find_in_records(a, 0x9F49)
        && (!matches!(dol_value_len(ddol), Ok(1..=64)) || ddol.len() > MAX_DOL)
    {
        return bad(
            "records.9F49 (DDOL)",
            "must be at most 64 bytes asking for 1-64",
        );
    }
    if !luhn_ok(a.pan) {
        return bad(
            "applications.pan",
            "must be 12-19 digits with a valid Luhn check digit",
        );
    }
    if a.psn >> 4 > 9 || a.psn & 0x0F > 9 {
        return bad("applications.psn", "must be two BCD digits");
    }
    if a.expiry_yymm.len() != 4 || !a.expiry_yymm.iter().all(u8::is_ascii_digit) {
        return bad("applications.expiry", "must be YYMM digits");
    }
    if a.service_code.len() != 3 || !a.service_code.iter().all(u8::is_ascii_digit) {
        return bad("applications.service_code", "must be 3 digits");
    }
    if a.pan.len() + 1 + 4 + 3 + a.track2_discretionary.len() > 37
        || !a.track2_discretionary.iter().all(u8::is_ascii_digit)
    {
        return bad(
            "applications.track2_discretionary",
            "digits only, track 2 at most 37 digits",
        );
    }
    if a.pin.len() < 4 || a.pin.len() > 12 || !a.pin.iter().all(u8::is_ascii_digit) {
        return bad("applications.pin", "must be 4-12 digits");
    }
    if a.pin_try_limit == 0 || a.pin_try_limit > 15 {
        return bad("applications.pin_try_limit", "must be 1-15");
    }
    if let Some(ec) = a.ec {
        if ec.balance > ec.balance_limit {
            return bad(
                "applications.ec.balance",
                "must not exceed the balance limit",
            );
        }
        if ec.balance_limit > 999_999_999_999 || ec.single_limit > 999_999_999_999 {
            return bad("applications.ec", "amounts must fit n12");
        }
    }
    for (field, l, prefix) in [
        ("applications.transaction_log", a.transaction_log, 0),
        ("applications.load_log", a.load_log, LOAD_LOG_PREFIX),
    ] {
        if let Some(l) = l {
            if !(1..=30).contains(&l.sfi) || l.records == 0 || l.records > 30 {
                return bad(field, "SFI must be 1-30 and records 1-30");
            }
            if l.format.len() > usize::from(MAX_LOG_FORMAT) {
                return bad(field, "format DOL must be at most 32 bytes");
            }
            match dol_value_len(l.format) {
                Ok(n) if n > 0 && n + prefix <= 96 => {}
                _ => return bad(field, "format must be a DOL of 1-96 value bytes"),
            }
        }
    }
    if let (Some(t), Some(l)) = (a.transaction_log, a.load_log)
        && t.sfi == l.sfi
    {
        return bad(
            "applications.load_log",
            "SFI must differ from the transaction log's",
        );
    }
    match (a.oda_algorithms, a.sm2_secret.is_some(), a.rsa.is_some()) {
        (OdaAlgorithms::Dual, true, true)
        | (OdaAlgorithms::RsaOnly { .. }, _, true)
        | (OdaAlgorithms::SmOnly, _, false) => {}
        (OdaAlgorithms::Dual, _, _) => {
            return bad(
                "applications.oda_algorithms",
                "dual needs both sm2_secret and the rsa section",
            );
        }
        (OdaAlgorithms::RsaOnly { .. }, _, false) => {
            return bad("applications.oda_algorithms", "rsa needs the rsa section");
        }
        (OdaAlgorithms::SmOnly, _, true) => {
            return bad(
                "applications.oda_algorithms",
                "sm does not take an rsa section",
            );
        }
    }
    if let Some(r) = a.rsa {
        let key = crate::rsa_oda::RsaCrtKey::new(
            r.icc_modulus,
            r.icc_public_exponent,
            [r.icc_p, r.icc_q, r.icc_dp, r.icc_dq, r.icc_qinv],
        );
        // One signature proves the components belong together (the card checks each).
        let probe = [0x6Au8; crate::rsa_oda::MAX_CARD_MODULUS_LEN];
        let probe = probe.get(..r.icc_modulus.len()).unwrap_or(&[]);
        if key.and_then(|k| k.private_operation(probe)).is_err() {
            return bad(
                "applications.rsa.icc_key",
                "must be a consistent RSA CRT key of 512-1152 bits (n, e, P, Q, dP, dQ, qInv)",
            );
        }
        validate_afls(a, RSA_AFLS, [r.afl_contact, r.afl_qpboc, r.afl_ec])?;
    }
    if let Some(s) = a.sm2_secret
        && Sm2KeyPair::from_secret_bytes(&s).is_err()
    {
        return bad(
            "applications.sm2_secret",
            "not a valid SM2 private key (1 <= d <= n-2)",
        );
    }
    Ok(())
}

fn dol_has(dol: &[u8], tag: u32) -> bool {
    DolReader::new(dol).any(|e| e.is_ok_and(|e| e.tag == Tag(tag)))
}

/// The contact, qPBOC and EC AFLs of one offline data authentication path, each valid; the
/// contact one lists at least one record.
fn validate_afls(a: &Application<'_>, fields: [&'static str; 3], afls: [&[u8]; 3]) -> PResult<()> {
    for (field, afl) in fields.into_iter().zip(afls) {
        validate_afl(a, afl, field)?;
    }
    match (fields, afls) {
        ([field, ..], [[], ..]) => Err(PersoError::Invalid(field, "must list at least one record")),
        _ => Ok(()),
    }
}

/// The profile fields of the AFLs of the SM2 path (contact, qPBOC, EC), as
/// [`validate_afls`] names them.
const SM_AFLS: [&str; 3] = [
    "applications.afl_contact",
    "applications.afl_qpboc",
    "applications.afl_ec",
];

/// The same for the RSA path.
const RSA_AFLS: [&str; 3] = [
    "applications.rsa.afl_contact",
    "applications.rsa.afl_qpboc",
    "applications.rsa.afl_ec",
];

fn validate_afl(a: &Application<'_>, afl: &[u8], field: &'static str) -> PResult<()> {
    if !afl.len().is_multiple_of(4) || afl.len() > 64 {
        return Err(PersoError::Invalid(
            field,
            "must be 4-byte entries, at most 16",
        ));
    }
    for e in afl.chunks_exact(4) {
        let (sfi, first, last, oda) = match e {
            [s, f, l, o] => (s >> 3, *f, *l, *o),
            _ => continue,
        };
        if e.first().is_some_and(|s| s & 0x07 != 0)
            || sfi == 0
            || sfi > 30
            || first == 0
            || last < first
        {
            return Err(PersoError::Invalid(
                field,
                "entry must be SFI<<3, first, last >= first, ODA count",
            ));
        }
        if usize::from(oda) > usize::from(last - first) + 1 {
            return Err(PersoError::Invalid(field, "more ODA records than records"));
        }
        for n in first..=last {
            if !a.records.iter().any(|r| r.sfi == sfi && r.number == n) {
                return Err(PersoError::Invalid(
                    field,
                    "names a record that is not personalized",
                ));
            }
        }
    }
    Ok(())
}

/// Luhn check of a PAN given as ASCII digits.
pub fn luhn_ok(pan: &[u8]) -> bool {
    if pan.len() < 12 || pan.len() > 19 || !pan.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = pan
        .iter()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = u32::from(c - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Track 2 equivalent data `57`: PAN `D` YYMM service code discretionary, BCD, F-padded.
fn track2<'b>(a: &Application<'_>, out: &'b mut [u8; 19]) -> PResult<&'b [u8]> {
    let digits = a
        .pan
        .iter()
        .map(|c| c - b'0')
        .chain([0x0D])
        .chain(a.expiry_yymm.iter().map(|c| c - b'0'))
        .chain(a.service_code.iter().map(|c| c - b'0'))
        .chain(a.track2_discretionary.iter().map(|c| c - b'0'));
    let mut n = 0usize;
    for (i, d) in digits.enumerate() {
        let byte = out.get_mut(i / 2).ok_or(PersoError::Invalid(
            "applications.track2_discretionary",
            "track 2 too long",
        ))?;
        *byte = if i % 2 == 0 {
            (d << 4) | 0x0F
        } else {
            (*byte & 0xF0) | d
        };
        n = i + 1;
    }
    Ok(out.get(..n.div_ceil(2)).unwrap_or(&[]))
}

/// Plaintext offline PIN block `2L PPPP…F` (§2.10, ISO 9564 format 2).
pub(crate) fn pin_block(pin: &[u8]) -> PResult<[u8; 8]> {
    if pin.len() < 4 || pin.len() > 12 || !pin.iter().all(u8::is_ascii_digit) {
        return Err(PersoError::Invalid(
            "applications.pin",
            "must be 4-12 digits",
        ));
    }
    let mut nibbles = [0x0Fu8; 16];
    nibbles[0] = 0x2;
    nibbles[1] = pin.len() as u8;
    for (d, c) in nibbles.iter_mut().skip(2).zip(pin) {
        *d = c - b'0';
    }
    let mut block = [0u8; 8];
    for (b, pair) in block.iter_mut().zip(nibbles.chunks_exact(2)) {
        if let [hi, lo] = pair {
            *b = (hi << 4) | lo;
        }
    }
    Ok(block)
}

fn card_keys(a: &Application<'_>, out: &mut [u8; 48]) -> PResult<()> {
    let (ac, mac, enc) = match a.keys {
        Keys::CardKeys { ac, mac, enc } => (ac, mac, enc),
        Keys::IssuerMasterKeys { ac, mac, enc } => {
            let d = |imk: &[u8; 16]| {
                udk_option_a(imk, a.pan, a.psn)
                    .map(|k| *k)
                    .map_err(|_| PersoError::Invalid("applications.pan", "cannot derive the UDK"))
            };
            (d(&ac)?, d(&mac)?, d(&enc)?)
        }
    };
    for (chunk, key) in out.chunks_exact_mut(16).zip([ac, mac, enc]) {
        chunk.copy_from_slice(&key);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn() {
        assert!(luhn_ok(b"6212345678901232"));
        assert!(!luhn_ok(b"6212345678901234"));
        assert!(!luhn_ok(b"62123"));
    }

    #[test]
    fn pin_blocks() {
        assert_eq!(
            pin_block(b"1234"),
            Ok([0x24, 0x12, 0x34, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        );
        assert_eq!(
            pin_block(b"123456"),
            Ok([0x26, 0x12, 0x34, 0x56, 0xFF, 0xFF, 0xFF, 0xFF])
        );
        assert!(pin_block(b"12a4").is_err());
    }
}
