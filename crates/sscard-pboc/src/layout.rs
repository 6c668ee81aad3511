//! Layout of the applet's private NVM region, and typed access to it.
//!
//! ```text
//! region header (32 B)  magic "PBC1", application count, PSE/PPSE switches, PSE SFI,
//!                       card state (the only mutable byte), PSE/PPSE FCI and PSE records
//!                       (offset, length), the base of each application area
//! application area ×n:
//!   config (32 B)       kind, DKI, CVN, AIPs, PIN try limit, log geometry, switches
//!   blob directory      (offset, length) of each personalized byte string (AID, FCIs,
//!                       DOLs, AFLs, record directory, track 2, PIN block, keys, SM2 key)
//!   object table        one slot per data object of §2.11 / §2.9, `[len][value…]`,
//!                       len 0 = not personalized (GET DATA → 6A88)
//!   transaction log     `log.max` slots of `log.len` bytes (9F4F format), cyclic
//!   load log            `load.max` slots of `load.len` bytes (`P1 P2 before after ‖ DF4F`)
//!   blobs, record slots `[len][capacity bytes]` per personalized record
//! ```
//!
//! Everything mutable (card state, object slots, logs, record slots, the PIN block) is
//! written only inside a transaction of the core's journaled store, so a power cut leaves
//! each command's changes all there or not at all (spec/reliability.md §A1.4).

use bitflags::bitflags;
use sscard_core::AppletContext;
use sscard_core::nvm::Nvm;
use sscard_core::status::{Result, Status};

/// Name of the NVM region [`crate::personalize`] reserves: the PBOC applet module AID
/// `A0000003330101` used at install time (pboc.md §2.1, `idx:12127530594`).
pub const REGION_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01];

/// Most financial applications one card carries (debit, credit, electronic cash).
pub const MAX_APPLICATIONS: usize = 3;

pub(crate) const MAGIC: [u8; 4] = *b"PBC1";

/// Offsets inside the region header.
pub(crate) mod header {
    pub const MAGIC: usize = 0;
    pub const APP_COUNT: usize = 4;
    pub const FLAGS: usize = 5;
    pub const PSE_SFI: usize = 6;
    pub const CARD_STATE: usize = 7;
    pub const PSE_FCI: usize = 8;
    pub const PPSE_FCI: usize = 12;
    pub const PSE_RECORDS: usize = 16;
    pub const APP_BASE: usize = 20;
    pub const LEN: usize = 32;
}

/// Region flag: the contact directory `1PAY.SYS.DDF01` exists.
pub(crate) const FLAG_PSE: u8 = 0x01;
/// Region flag: the contactless directory `2PAY.SYS.DDF01` exists.
pub(crate) const FLAG_PPSE: u8 = 0x02;
/// Region flag: the PSE also answers on the contactless interface.
pub(crate) const FLAG_PSE_CONTACTLESS: u8 = 0x04;
/// Region flag: the PPSE also answers on the contact interface.
pub(crate) const FLAG_PPSE_CONTACT: u8 = 0x08;

/// Card state: the financial environment works.
pub(crate) const CARD_ACTIVE: u8 = 0x00;
/// Card state: CARD BLOCK was executed; every PBOC command answers 6A81.
pub(crate) const CARD_BLOCKED: u8 = 0x01;

/// Bytes of the per-application config block.
pub(crate) const CONFIG_LEN: usize = 32;

/// Personalized byte strings of one application, by directory index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Blob {
    Aid,
    FciContact,
    FciContactless,
    PdolContact,
    PdolContactless,
    AflContact,
    AflQpboc,
    AflEc,
    Cdol1,
    Cdol2,
    Ddol,
    RecordDir,
    Track2,
    PinBlock,
    Keys,
    Sm2Secret,
}

pub(crate) const BLOB_COUNT: usize = 16;
pub(crate) const BLOB_DIR_LEN: usize = BLOB_COUNT * 4;

/// One entry of the record directory: SFI, record number, slot offset (u16), capacity.
pub(crate) const RECORD_DIR_ENTRY: usize = 5;

/// Kind of financial application (pboc.md §2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplicationKind {
    /// `A000000333010101` debit.
    Debit,
    /// `A000000333010102` credit.
    Credit,
    /// `A000000333010103` quasi-credit.
    QuasiCredit,
    /// `A000000333010106` pure electronic cash.
    ElectronicCash,
}

impl ApplicationKind {
    pub(crate) fn code(self) -> u8 {
        match self {
            ApplicationKind::Debit => 1,
            ApplicationKind::Credit => 2,
            ApplicationKind::QuasiCredit => 3,
            ApplicationKind::ElectronicCash => 6,
        }
    }
    pub(crate) fn from_code(code: u8) -> Self {
        match code {
            2 => ApplicationKind::Credit,
            3 => ApplicationKind::QuasiCredit,
            6 => ApplicationKind::ElectronicCash,
            _ => ApplicationKind::Debit,
        }
    }
}

/// Where a cyclic log lives and how big it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LogArea {
    pub sfi: u8,
    pub max: u8,
    pub len: u8,
    pub at: u16,
}

impl LogArea {
    pub fn enabled(&self) -> bool {
        self.sfi != 0 && self.max != 0 && self.len != 0
    }
}

/// Config switch: electronic cash is personalized (9F79 present).
pub(crate) const CFG_EC: u8 = 0x01;
/// Config switch: the card supports fDDA version 01 (9F69 in the signature).
pub(crate) const CFG_FDDA01: u8 = 0x02;
/// Config switch: the IAD carries issuer discretionary data ID 01 (EC balance + MAC).
pub(crate) const CFG_IAD_EC_BALANCE: u8 = 0x04;
/// Config switch: an ICC SM2 key is personalized (fDDA / DDA available).
pub(crate) const CFG_SM2: u8 = 0x08;

/// The static configuration of one application, read once at SELECT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AppConfig {
    pub base: u16,
    pub kind: ApplicationKind,
    pub flags: u8,
    pub dki: u8,
    pub cvn: u8,
    pub aip_contact: [u8; 2],
    pub aip_qpboc: [u8; 2],
    pub pin_limit: u8,
    pub psn: u8,
    pub log: LogArea,
    pub load_log: LogArea,
    /// (offset, length) of the ICC RSA key `n ‖ d`; length 0 = no RSA key.
    pub rsa_key: (u16, u16),
    /// (offset, length) of the AFLs of the RSA path: `[len] contact ‖ [len] qPBOC ‖ [len] EC`.
    pub rsa_afls: (u16, u16),
    /// Which ODA algorithms the card offers, `SUITE_*`; 0 (images made before RSA) = SM2
    /// whatever the terminal says, as those cards did.
    pub suite: u8,
}

/// ODA suite bit: the RSA chain and an ICC RSA key are personalized.
pub(crate) const SUITE_RSA: u8 = 0x01;
/// ODA suite bit: the SM2 chain is offered (SM-only or dual card).
pub(crate) const SUITE_SM: u8 = 0x02;
/// ODA suite bit: an RSA-only card refuses (6985 at GPO) a terminal that asks for SM.
pub(crate) const SUITE_REFUSE_SM_REQUEST: u8 = 0x04;

impl AppConfig {
    pub fn encode(&self) -> [u8; CONFIG_LEN] {
        let mut b = [0u8; CONFIG_LEN];
        let [l0, l1] = self.log.at.to_be_bytes();
        let [d0, d1] = self.load_log.at.to_be_bytes();
        let fields = [
            self.kind.code(),
            self.flags,
            self.dki,
            self.cvn,
            self.aip_contact[0],
            self.aip_contact[1],
            self.aip_qpboc[0],
            self.aip_qpboc[1],
            self.pin_limit,
            self.psn,
            self.log.sfi,
            self.log.max,
            self.log.len,
            l0,
            l1,
            self.load_log.sfi,
            self.load_log.max,
            self.load_log.len,
            d0,
            d1,
            self.rsa_key.0.to_be_bytes()[0],
            self.rsa_key.0.to_be_bytes()[1],
            self.rsa_key.1.to_be_bytes()[0],
            self.rsa_key.1.to_be_bytes()[1],
            self.rsa_afls.0.to_be_bytes()[0],
            self.rsa_afls.0.to_be_bytes()[1],
            self.rsa_afls.1.to_be_bytes()[0],
            self.rsa_afls.1.to_be_bytes()[1],
            self.suite,
        ];
        for (d, s) in b.iter_mut().zip(fields) {
            *d = s;
        }
        b
    }

    pub fn decode(base: u16, b: &[u8; CONFIG_LEN]) -> Self {
        let at = |i: usize| b.get(i).copied().unwrap_or(0);
        AppConfig {
            base,
            kind: ApplicationKind::from_code(at(0)),
            flags: at(1),
            dki: at(2),
            cvn: at(3),
            aip_contact: [at(4), at(5)],
            aip_qpboc: [at(6), at(7)],
            pin_limit: at(8),
            psn: at(9),
            log: LogArea {
                sfi: at(10),
                max: at(11),
                len: at(12),
                at: u16::from_be_bytes([at(13), at(14)]),
            },
            load_log: LogArea {
                sfi: at(15),
                max: at(16),
                len: at(17),
                at: u16::from_be_bytes([at(18), at(19)]),
            },
            rsa_key: (
                u16::from_be_bytes([at(20), at(21)]),
                u16::from_be_bytes([at(22), at(23)]),
            ),
            rsa_afls: (
                u16::from_be_bytes([at(24), at(25)]),
                u16::from_be_bytes([at(26), at(27)]),
            ),
            suite: at(28),
        }
    }

    /// The RSA path exists: an ICC RSA key and its AFLs are personalized.
    pub fn has_rsa(&self) -> bool {
        self.suite & SUITE_RSA != 0 && self.rsa_key.1 != 0
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    pub fn blob_dir_at(&self) -> usize {
        usize::from(self.base) + CONFIG_LEN
    }

    pub fn objects_at(&self) -> usize {
        self.blob_dir_at() + BLOB_DIR_LEN
    }
}

/// Data objects kept in the object table. Tags of the issuer-visible ones are those of
/// pboc.md §2.11 (GET DATA / PUT DATA lists of `idx:3702743515`); the rest are the card's
/// internal risk-management state (§2.9), never reachable by GET DATA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Obj {
    Atc,
    LastOnlineAtc,
    PinTryCounter,
    EcBalance,
    EcBalanceLimit,
    EcSingleLimit,
    EcResetThreshold,
    EcIssuerAuthCode,
    LogFormat,
    LoadLogFormat,
    AppCurrency,
    Ada,
    ConsecutiveIntlCurrencyLimit,
    Cttal,
    IssuerAuthIndicator,
    IssuerCountry,
    Lcol,
    Ucol,
    Cttaul,
    Cpp,
    CardCvmLimit,
    Ctq,
    ConsecutiveIntlCountryLimit,
    CurrencyConversionFactor,
    DualCurrencyCttal,
    SecondaryCurrency,
    AppVersion,
    SegmentedDeduction,
    // Internal state.
    Ctta,
    ConsecutiveOffline,
    ConsecutiveIntl,
    Flags,
    ScriptCount,
    IssuerAuthFailures,
    LogHead,
    LogCount,
    LoadHead,
    LoadCount,
}

/// Definition of an object slot: tag (0 for internal ones), value length (the maximum
/// for the variable-length log formats), GET DATA and PUT DATA permission.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ObjDef {
    pub tag: u16,
    pub len: u8,
    pub variable: bool,
    pub get: bool,
    pub put: bool,
}

const fn def(tag: u16, len: u8, get: bool, put: bool) -> ObjDef {
    ObjDef {
        tag,
        len,
        variable: false,
        get,
        put,
    }
}

const fn var(tag: u16, len: u8) -> ObjDef {
    ObjDef {
        tag,
        len,
        variable: true,
        get: true,
        put: false,
    }
}

/// Longest log-format DOL kept (9F4F / DF4F).
pub(crate) const MAX_LOG_FORMAT: u8 = 32;

/// Object definitions, indexed by [`Obj`].
pub(crate) const OBJECTS: [ObjDef; 38] = [
    def(0x9F36, 2, true, false),  // ATC
    def(0x9F13, 2, true, false),  // last online ATC register
    def(0x9F17, 1, true, false),  // PIN try counter
    def(0x9F79, 6, true, true),   // EC balance
    def(0x9F77, 6, true, true),   // EC balance limit
    def(0x9F78, 6, true, true),   // EC single transaction limit
    def(0x9F6D, 6, true, true),   // EC reset threshold
    def(0x9F74, 6, false, false), // EC issuer authorization code (read in records)
    var(0x9F4F, MAX_LOG_FORMAT),  // log format
    var(0xDF4F, MAX_LOG_FORMAT),  // load log format
    def(0x9F51, 2, true, false),  // application currency code
    def(0x9F52, 2, true, false),  // application default action
    def(0x9F53, 1, true, true),   // consecutive transaction limit (international currency)
    def(0x9F54, 6, true, true),   // cumulative total transaction amount limit
    def(0x9F56, 1, true, false),  // issuer authentication indicator
    def(0x9F57, 2, true, false),  // issuer country code
    def(0x9F58, 1, true, true),   // lower consecutive offline limit
    def(0x9F59, 1, true, true),   // upper consecutive offline limit
    def(0x9F5C, 6, true, true),   // cumulative total transaction amount upper limit
    def(0x9F68, 4, true, false),  // card additional processes
    def(0x9F6B, 6, true, true),   // card CVM limit
    def(0x9F6C, 2, false, false), // card transaction qualifiers (returned at GPO)
    def(0x9F72, 1, true, true),   // consecutive transaction limit (international country)
    def(0x9F73, 4, true, true),   // currency conversion factor
    def(0x9F75, 6, true, true),   // cumulative total transaction amount limit, dual currency
    def(0x9F76, 2, true, true),   // secondary application currency code
    def(0x9F08, 2, false, false), // application version number (records)
    def(0xDF61, 1, true, true),   // segmented deduction indicator
    def(0, 6, false, false),      // CTTA
    def(0, 1, false, false),      // consecutive offline transactions
    def(0, 1, false, false),      // consecutive offline international transactions
    def(0, 2, false, false),      // persistent flags, see `AppFlags`
    def(0, 1, false, false),      // script commands of the last transaction
    def(0, 1, false, false),      // issuer authentication failures
    def(0, 1, false, false),      // transaction log head
    def(0, 1, false, false),      // transaction log count
    def(0, 1, false, false),      // load log head
    def(0, 1, false, false),      // load log count
];

/// Offset of object `i`'s slot from the start of the object table.
pub(crate) const fn slot_offset(i: usize) -> usize {
    let mut at = 0;
    let mut k = 0;
    let mut rest: &[ObjDef] = &OBJECTS;
    while let [d, tail @ ..] = rest {
        if k >= i {
            break;
        }
        at += 1 + d.len as usize;
        rest = tail;
        k += 1;
    }
    at
}

/// Bytes of the whole object table.
pub(crate) const OBJECT_TABLE_LEN: usize = slot_offset(OBJECTS.len());

impl Obj {
    pub fn def(self) -> ObjDef {
        OBJECTS
            .get(self as usize)
            .copied()
            .unwrap_or(def(0, 0, false, false))
    }
    fn offset(self) -> usize {
        slot_offset(self as usize)
    }
    /// The object with GET/PUT DATA tag `tag`.
    pub fn by_tag(tag: u16) -> Option<Obj> {
        ALL_OBJECTS
            .iter()
            .copied()
            .find(|o| o.def().tag == tag && tag != 0)
    }
}

pub(crate) const ALL_OBJECTS: [Obj; 38] = [
    Obj::Atc,
    Obj::LastOnlineAtc,
    Obj::PinTryCounter,
    Obj::EcBalance,
    Obj::EcBalanceLimit,
    Obj::EcSingleLimit,
    Obj::EcResetThreshold,
    Obj::EcIssuerAuthCode,
    Obj::LogFormat,
    Obj::LoadLogFormat,
    Obj::AppCurrency,
    Obj::Ada,
    Obj::ConsecutiveIntlCurrencyLimit,
    Obj::Cttal,
    Obj::IssuerAuthIndicator,
    Obj::IssuerCountry,
    Obj::Lcol,
    Obj::Ucol,
    Obj::Cttaul,
    Obj::Cpp,
    Obj::CardCvmLimit,
    Obj::Ctq,
    Obj::ConsecutiveIntlCountryLimit,
    Obj::CurrencyConversionFactor,
    Obj::DualCurrencyCttal,
    Obj::SecondaryCurrency,
    Obj::AppVersion,
    Obj::SegmentedDeduction,
    Obj::Ctta,
    Obj::ConsecutiveOffline,
    Obj::ConsecutiveIntl,
    Obj::Flags,
    Obj::ScriptCount,
    Obj::IssuerAuthFailures,
    Obj::LogHead,
    Obj::LogCount,
    Obj::LoadHead,
    Obj::LoadCount,
];

bitflags! {
    /// The application's persistent indicators, object [`Obj::Flags`] (2 bytes,
    /// big-endian): what a transaction leaves for the next one's CVR and risk management
    /// (§2.7, §2.9) and whether the application is blocked. The card's own layout.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub(crate) struct AppFlags: u16 {
        /// The last transaction asked for an ARQC and never completed GAC2.
        const ONLINE_NOT_COMPLETED = 0x0001;
        /// Issuer authentication failed on the last online transaction.
        const ISSUER_AUTH_FAILED = 0x0002;
        /// Issuer authentication was not performed after online authorization.
        const ISSUER_AUTH_NOT_PERFORMED = 0x0004;
        /// SDA failed on the last transaction and it was declined.
        const SDA_FAILED = 0x0008;
        /// DDA failed on the last transaction and it was declined.
        const DDA_FAILED = 0x0010;
        /// An issuer script command failed on the last transaction.
        const SCRIPT_FAILED = 0x0020;
        /// The application is blocked (APPLICATION BLOCK, ADA PIN rules).
        const BLOCKED = 0x0040;
        /// The application is blocked for ever (ATC exhausted).
        const DEAD = 0x0080;
    }
}

/// A value read from an object slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ObjValue {
    len: u8,
    bytes: [u8; MAX_LOG_FORMAT as usize],
}

impl ObjValue {
    pub fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
    pub fn is_present(&self) -> bool {
        self.len != 0
    }
}

/// Reads and writes one application's area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct App {
    pub cfg: AppConfig,
}

impl App {
    /// Loads application `index` (0-based) of the region.
    pub fn load<N: Nvm>(ctx: &AppletContext<'_, N>, index: u8) -> Result<App> {
        let mut base = [0u8; 2];
        ctx.read(header::APP_BASE + 2 * usize::from(index), &mut base)?;
        let base = u16::from_be_bytes(base);
        let mut cfg = [0u8; CONFIG_LEN];
        ctx.read(usize::from(base), &mut cfg)?;
        Ok(App {
            cfg: AppConfig::decode(base, &cfg),
        })
    }

    fn slot(&self, obj: Obj) -> usize {
        self.cfg.objects_at() + obj.offset()
    }

    /// The value of `obj` (empty if not personalized).
    pub fn get<N: Nvm>(&self, ctx: &AppletContext<'_, N>, obj: Obj) -> Result<ObjValue> {
        let d = obj.def();
        let mut v = ObjValue {
            len: 0,
            bytes: [0; MAX_LOG_FORMAT as usize],
        };
        let mut len = [0u8; 1];
        ctx.read(self.slot(obj), &mut len)?;
        let n = len[0].min(d.len);
        let dst = v
            .bytes
            .get_mut(..usize::from(n))
            .ok_or(Status::MemoryFailure)?;
        ctx.read(self.slot(obj) + 1, dst)?;
        v.len = n;
        Ok(v)
    }

    /// Fixed-width helpers: a missing object reads as zeros.
    pub fn get_array<N: Nvm, const L: usize>(
        &self,
        ctx: &AppletContext<'_, N>,
        obj: Obj,
    ) -> Result<[u8; L]> {
        let v = self.get(ctx, obj)?;
        let mut out = [0u8; L];
        for (d, s) in out.iter_mut().zip(v.as_slice()) {
            *d = *s;
        }
        Ok(out)
    }

    pub fn get_u8<N: Nvm>(&self, ctx: &AppletContext<'_, N>, obj: Obj) -> Result<u8> {
        Ok(self.get_array::<N, 1>(ctx, obj)?[0])
    }

    pub fn get_u16<N: Nvm>(&self, ctx: &AppletContext<'_, N>, obj: Obj) -> Result<u16> {
        Ok(u16::from_be_bytes(self.get_array(ctx, obj)?))
    }

    /// An n12 amount object; `None` when not personalized.
    pub fn get_amount<N: Nvm>(&self, ctx: &AppletContext<'_, N>, obj: Obj) -> Result<Option<u64>> {
        let v = self.get(ctx, obj)?;
        if !v.is_present() {
            return Ok(None);
        }
        Ok(bcd_to_u64(v.as_slice()))
    }

    /// Writes `obj` inside the open transaction.
    pub fn put<N: Nvm>(
        &self,
        ctx: &mut AppletContext<'_, N>,
        obj: Obj,
        value: &[u8],
    ) -> Result<()> {
        let d = obj.def();
        let n = u8::try_from(value.len()).map_err(|_| Status::WrongData)?;
        if n > d.len || (!d.variable && n != d.len) {
            return Err(Status::WrongData);
        }
        ctx.write(self.slot(obj), &[n])?;
        ctx.write(self.slot(obj) + 1, value)?;
        Ok(())
    }

    pub fn put_amount<N: Nvm>(
        &self,
        ctx: &mut AppletContext<'_, N>,
        obj: Obj,
        v: u64,
    ) -> Result<()> {
        self.put(ctx, obj, &u64_to_bcd6(v))
    }

    pub fn flags<N: Nvm>(&self, ctx: &AppletContext<'_, N>) -> Result<AppFlags> {
        Ok(AppFlags::from_bits_retain(self.get_u16(ctx, Obj::Flags)?))
    }

    pub fn set_flags<N: Nvm>(&self, ctx: &mut AppletContext<'_, N>, flags: AppFlags) -> Result<()> {
        self.put(ctx, Obj::Flags, &flags.bits().to_be_bytes())
    }

    /// Location (offset, length) of a blob.
    pub fn blob_at<N: Nvm>(
        &self,
        ctx: &AppletContext<'_, N>,
        blob: Blob,
    ) -> Result<(usize, usize)> {
        read_span(ctx, self.cfg.blob_dir_at() + 4 * blob as usize)
    }

    /// Reads a blob into `buf`; returns the filled part (`6A84`-free: a blob larger than
    /// the buffer is a personalization bug and reads as memory failure).
    pub fn blob<'b, N: Nvm>(
        &self,
        ctx: &AppletContext<'_, N>,
        blob: Blob,
        buf: &'b mut [u8],
    ) -> Result<&'b [u8]> {
        let (at, len) = self.blob_at(ctx, blob)?;
        let dst = buf.get_mut(..len).ok_or(Status::MemoryFailure)?;
        ctx.read(at, dst)?;
        Ok(dst)
    }
}

/// Reads an (offset, length) pair, two big-endian u16, at `at` in the region (header
/// fields and blob directory entries alike).
pub(crate) fn read_span<N: Nvm>(ctx: &AppletContext<'_, N>, at: usize) -> Result<(usize, usize)> {
    let mut e = [0u8; 4];
    ctx.read(at, &mut e)?;
    let [a, b, c, d] = e;
    Ok((
        usize::from(u16::from_be_bytes([a, b])),
        usize::from(u16::from_be_bytes([c, d])),
    ))
}

/// Packed BCD (n format) to an integer; `None` on a non-decimal nibble.
pub(crate) fn bcd_to_u64(b: &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    for byte in b {
        for nibble in [byte >> 4, byte & 0x0F] {
            if nibble > 9 {
                return None;
            }
            v = v.checked_mul(10)?.checked_add(u64::from(nibble))?;
        }
    }
    Some(v)
}

/// An integer as n12 (6 bytes packed BCD); values above 999 999 999 999 saturate.
pub(crate) fn u64_to_bcd6(v: u64) -> [u8; 6] {
    let mut v = v.min(999_999_999_999);
    let mut out = [0u8; 6];
    for byte in out.iter_mut().rev() {
        let lo = (v % 10) as u8;
        v /= 10;
        let hi = (v % 10) as u8;
        v /= 10;
        *byte = (hi << 4) | lo;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bcd_round_trip() {
        assert_eq!(u64_to_bcd6(10000), [0, 0, 0, 1, 0, 0]);
        assert_eq!(bcd_to_u64(&[0, 0, 0, 1, 0, 0]), Some(10000));
        assert_eq!(bcd_to_u64(&[0x0A]), None);
        assert_eq!(u64_to_bcd6(u64::MAX), [0x99; 6]);
    }

    #[test]
    fn object_table_is_consistent() {
        for (i, o) in ALL_OBJECTS.iter().enumerate() {
            assert_eq!(*o as usize, i);
        }
        assert_eq!(Obj::by_tag(0x9F79), Some(Obj::EcBalance));
        assert_eq!(Obj::by_tag(0), None);
        const { assert!(OBJECT_TABLE_LEN < 400) };
    }

    #[test]
    fn config_round_trip() {
        let c = AppConfig {
            base: 0x120,
            kind: ApplicationKind::ElectronicCash,
            flags: CFG_EC | CFG_SM2,
            dki: 1,
            cvn: 1,
            aip_contact: [0x7C, 0],
            aip_qpboc: [0x7C, 0],
            pin_limit: 3,
            psn: 1,
            log: LogArea {
                sfi: 11,
                max: 10,
                len: 45,
                at: 0x300,
            },
            load_log: LogArea {
                sfi: 12,
                max: 10,
                len: 48,
                at: 0x500,
            },
            rsa_key: (0x600, 256),
            rsa_afls: (0x700, 15),
            suite: SUITE_RSA | SUITE_SM,
        };
        assert_eq!(AppConfig::decode(0x120, &c.encode()), c);
    }
}
