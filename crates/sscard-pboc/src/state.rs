//! Transient, per-transaction state: what the applet remembers between two commands of
//! one transaction. It lives in RAM only and is wiped by `deselect` (which the core also
//! calls at power-off), as JCRE CLEAR_ON_DESELECT memory is (spec/reliability.md §A1.1).

use heapless::Vec;
use sscard_core::tlv::{DolReader, Tag};
use zeroize::Zeroize;

use crate::bits::{Cid, Cvr, ReferenceControl};
use crate::layout::{App, AppFlags};

/// What SELECT chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Selection {
    /// Nothing of ours (never routed to us in this state).
    Nothing,
    /// The contact directory `1PAY.SYS.DDF01`.
    Pse,
    /// The contactless directory `2PAY.SYS.DDF01`.
    Ppse,
    /// Application `index`.
    App {
        /// Index in the region.
        index: u8,
        /// Its configuration.
        app: App,
    },
}

/// Where the transaction is (pboc.md §1.3: the broadthinking applet's trade states
/// APP_SELECT → APP_INIT → CARD_ACTION_ANALYSE → ON_LINE, plus the one-shot qPBOC GPO).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Selected; GET PROCESSING OPTIONS not yet given.
    Selected,
    /// GPO answered in format 1: records, VERIFY, INTERNAL AUTHENTICATE, GAC1.
    Initiated,
    /// GAC1 answered ARQC: EXTERNAL AUTHENTICATE, GAC2, issuer scripts.
    OnlineRequested,
    /// The transaction has its final cryptogram (GAC1 TC/AAC, or GAC2). Issuer
    /// scripts are still accepted when it went online.
    Completed,
    /// qPBOC GPO answered in format 2: only records and data remain to be read.
    QpbocDone,
}

/// Which processing GPO chose (§2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Path {
    /// Standard debit/credit (contact, or contactless PBOC).
    Pboc,
    /// Electronic cash on the contact interface (9F7A = 01 and within the EC limits).
    ElectronicCash,
    /// qPBOC (contactless, format 2).
    Qpboc,
}

/// Result of EXTERNAL AUTHENTICATE in this transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IssuerAuth {
    NotPerformed,
    Passed,
    Failed,
}

/// Cryptogram types, ordered by how much they let through: AAC < ARQC < TC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum AcType {
    Aac,
    Arqc,
    Tc,
}

impl AcType {
    /// The cryptogram the terminal asks for in GENERATE AC P1 b8–b7 (EMV Book 3 Table 12).
    pub fn requested(reference: ReferenceControl) -> Self {
        if reference.contains(ReferenceControl::ARQC) {
            AcType::Arqc
        } else if reference.contains(ReferenceControl::TC) {
            AcType::Tc
        } else {
            AcType::Aac
        }
    }
    /// Cryptogram information data (9F27) b8–b7.
    pub fn cid(self) -> Cid {
        match self {
            AcType::Aac => Cid::empty(),
            AcType::Arqc => Cid::ARQC,
            AcType::Tc => Cid::TC,
        }
    }
    /// CVR byte 1 b6–b5 for the first GENERATE AC (§2.7: 00 AAC, 01 TC, 10 ARQC).
    pub fn cvr_first(self) -> Cvr {
        match self {
            AcType::Aac => Cvr::empty(),
            AcType::Tc => Cvr::GAC1_TC,
            AcType::Arqc => Cvr::GAC1_ARQC,
        }
    }
    /// CVR byte 1 b8–b7 for the second GENERATE AC (00 AAC, 01 TC).
    pub fn cvr_second(self) -> Cvr {
        match self {
            AcType::Aac => Cvr::empty(),
            AcType::Tc | AcType::Arqc => Cvr::GAC2_TC,
        }
    }
}

/// Longest DOL kept.
pub(crate) const MAX_DOL: usize = 64;
/// Longest DOL value data kept (the personalization caps DOLs at 200 bytes).
pub(crate) const MAX_DOL_DATA: usize = 200;

/// A data object list and the values the terminal sent for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TermData {
    pub dol: Vec<u8, MAX_DOL>,
    pub data: Vec<u8, MAX_DOL_DATA>,
}

impl TermData {
    pub fn set(&mut self, dol: &[u8], data: &[u8]) {
        self.clear();
        // Both fit: the personalization limits DOLs and the handlers check Lc first.
        let _ = self.dol.extend_from_slice(dol);
        let _ = self.data.extend_from_slice(data);
    }

    pub fn clear(&mut self) {
        self.data.zeroize();
        self.dol.clear();
        self.data.clear();
    }

    /// The value sent for `tag`, if the DOL asked for it.
    pub fn value(&self, tag: u32) -> Option<&[u8]> {
        let mut at = 0usize;
        for e in DolReader::new(&self.dol) {
            let e = e.ok()?;
            let end = at.checked_add(e.len)?;
            if e.tag == Tag(tag) {
                return self.data.get(at..end);
            }
            at = end;
        }
        None
    }
}

/// Everything the applet remembers within one transaction.
#[derive(Clone, Debug)]
pub(crate) struct Transaction {
    pub phase: Phase,
    pub path: Path,
    /// ATC of this transaction (after the GPO increment).
    pub atc: u16,
    /// CVR bits set by this transaction (§2.7).
    pub cvr: Cvr,
    pub pdol: TermData,
    pub cdol1: TermData,
    pub cdol2: TermData,
    /// The first GENERATE AC's cryptogram (input of ARPC and script MACs, §2.8).
    pub ac1: [u8; 8],
    /// An ARQC was produced (issuer scripts are possible).
    pub went_online: bool,
    pub issuer_auth: IssuerAuth,
    pub external_auth_tried: bool,
    /// A script MAC failed: later scripts answer 6985 (§2.8).
    pub script_failed: bool,
    /// The PIN try limit was reached by a VERIFY of this transaction (6983 vs 6984).
    pub pin_blocked_now: bool,
    /// Card authentication related data 9F69 of an fDDA 01 signature, appended to the
    /// last AFL record (§2.12).
    pub card_auth_data: Option<[u8; 8]>,
    /// (SFI, record) of the last record of the AFL returned by a qPBOC offline approval.
    pub last_afl_record: Option<(u8, u8)>,
    /// The application was blocked during this transaction (script or ADA).
    pub blocked: bool,
    /// What the previous transactions left, read at GPO (CVR "last transaction" bits).
    pub prior: Prior,
    /// GPO chose RSA offline data authentication (the terminal did not ask for SM with
    /// `DF69`, or the card is RSA-only): RSA AFLs, RSA DDA/fDDA.
    pub rsa: bool,
}

/// Persistent indicators as they stood when this transaction started (GPO).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Prior {
    /// The persistent indicators.
    pub flags: AppFlags,
    /// Issuer script commands processed in the last transaction.
    pub scripts: u8,
    /// No online transaction has completed yet (last online ATC = 0).
    pub new_card: bool,
}

impl Transaction {
    pub fn new() -> Self {
        Transaction {
            phase: Phase::Selected,
            path: Path::Pboc,
            atc: 0,
            cvr: Cvr::empty(),
            pdol: TermData::default(),
            cdol1: TermData::default(),
            cdol2: TermData::default(),
            ac1: [0; 8],
            went_online: false,
            issuer_auth: IssuerAuth::NotPerformed,
            external_auth_tried: false,
            script_failed: false,
            pin_blocked_now: false,
            card_auth_data: None,
            last_afl_record: None,
            blocked: false,
            prior: Prior::default(),
            rsa: false,
        }
    }

    /// Forgets everything, wiping the terminal data and the cryptogram.
    pub fn clear(&mut self) {
        self.pdol.clear();
        self.cdol1.clear();
        self.cdol2.clear();
        self.ac1.zeroize();
        *self = Transaction::new();
    }

    /// A terminal value from the latest DOL that carried it (CDOL2, CDOL1, PDOL).
    pub fn terminal(&self, tag: u32) -> Option<&[u8]> {
        self.cdol2
            .value(tag)
            .or_else(|| self.cdol1.value(tag))
            .or_else(|| self.pdol.value(tag))
    }
}
