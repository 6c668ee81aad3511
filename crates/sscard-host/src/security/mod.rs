//! The terminal's security module: what holds the issuer's keys and computes the
//! cryptograms of the national terminal interface's card functions, so the terminal
//! functions built on it (the `national` module) never see a key.
//!
//! Two kinds, as LD/T 6001.5 tests them (spec/ssc.md §7, §8):
//!
//! * [`Hsm`] — the HSM (加密机) mode: root keys in this process (a profile's `[keys]`),
//!   diversified per card here;
//! * [`Psam`] — the PSAM mode: a social-security PSAM behind any [`CardLink`], spoken to
//!   only in APDUs (LD/T 32 part 9: `BF DE` + `80 FA`, `80 70`, `80 72`, file `0016`).
//!
//! [`CardLink`]: crate::link::CardLink

pub mod hsm;
pub mod psam;

pub use hsm::{Hsm, HsmKeys};
pub use psam::{FactorOrder, Levels, Psam, PsamChoices};

use crate::terminal::TerminalError;
use sscard_core::crypto::Algorithm;
use sscard_core::crypto::ssc::{card_factor, city_factor, province_factor};
use sscard_ssc::layout::{AppDf, Location, key_id};
use sscard_ssc::purse::key_id as purse_key;

/// A key of the user card, named as the card names it: the DF it lives in and its id
/// (spec/ssc.md §6.1; the purse keys by their sscard ids).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyRef {
    /// The SSSE or an application DF.
    pub location: Location,
    /// The card's key id.
    pub id: u8,
}

impl KeyRef {
    /// IRK: internal authentication.
    pub const IRK: KeyRef = KeyRef::ssse(key_id::IRK);
    /// STKSSSE: secure messaging (PIN reload).
    pub const STK: KeyRef = KeyRef::ssse(key_id::STK);
    /// UKSSSE: update key.
    pub const UK: KeyRef = KeyRef::ssse(key_id::UK);
    /// BK: card block.
    pub const BK: KeyRef = KeyRef::ssse(key_id::BK);
    /// PUK: PIN reload and unblock authority.
    pub const PUK: KeyRef = KeyRef::ssse(key_id::PUK);
    /// RKSSSE: read control of EF06 on 3.0 cards.
    pub const RK: KeyRef = KeyRef::ssse(key_id::RK);
    /// DPK: the medical purse's purchase key (DF04).
    pub const DPK: KeyRef = KeyRef::df(AppDf::Df04, purse_key::DPK);
    /// DTK: the medical purse's TAC key (DF04).
    pub const DTK: KeyRef = KeyRef::df(AppDf::Df04, purse_key::DTK);

    const fn ssse(id: u8) -> KeyRef {
        KeyRef {
            location: Location::Ssse,
            id,
        }
    }

    /// Key `id` of application DF `df`.
    pub const fn df(df: AppDf, id: u8) -> KeyRef {
        KeyRef {
            location: Location::App(df),
            id,
        }
    }
}

/// What a security module needs to know of the card in front of the terminal: its
/// algorithm, the three diversification factors (P9 §7.3) and the first byte of its
/// 卡识别码 (PSAM INITIALIZE ENVIRONMENT, P9 §9.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardFactors {
    /// The SSSE's algorithm.
    pub algorithm: Algorithm,
    /// Level 1: province.
    pub province: [u8; 8],
    /// Level 2: city.
    pub city: [u8; 8],
    /// Level 3: the card (ATR historical bytes 6–13).
    pub card: [u8; 8],
    /// The first byte of 卡识别码.
    pub card_id_head: u8,
}

impl CardFactors {
    /// The factors of a card with `algorithm`, 6-digit `area` code, ATR historical bytes
    /// `historical` and 卡识别码 first byte `card_id_head`.
    pub fn new(
        algorithm: Algorithm,
        area: &[u8; 6],
        historical: &[u8],
        card_id_head: u8,
    ) -> Result<Self, TerminalError> {
        Ok(CardFactors {
            algorithm,
            province: province_factor(area).map_err(|_| TerminalError::Check("area code"))?,
            city: city_factor(area).map_err(|_| TerminalError::Check("area code"))?,
            card: card_factor(historical).map_err(|_| TerminalError::Check("historical bytes"))?,
            card_id_head,
        })
    }

    /// The factors of `levels` diversifications (1–3), card first, as INIT SAM FOR
    /// PURCHASE lists them (P9 §9.9: 3rd ‖ 2nd ‖ 1st level).
    pub fn card_first(&self, levels: u8) -> Vec<[u8; 8]> {
        [self.card, self.city, self.province]
            .into_iter()
            .take(usize::from(levels))
            .collect()
    }

    /// The same factors in the order they are applied, highest level first (P9 §7.3, F12).
    pub fn root_first(&self, levels: u8) -> Vec<[u8; 8]> {
        let mut factors = self.card_first(levels);
        factors.reverse();
        factors
    }
}

/// A purchase as the card's INITIALIZE FOR PURCHASE left it, with the terminal's side:
/// what MAC1, MAC2 and the TAC are computed over (P7 §12.2–12.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purchase {
    /// The card's pseudo-random number.
    pub card_random: [u8; 4],
    /// The card's purchase sequence number before the transaction.
    pub sequence: [u8; 2],
    /// Account, self-pay and pooled-fund amounts (fen).
    pub amounts: [u32; 3],
    /// 交易类型 byte.
    pub kind: u8,
    /// Terminal id (cn 6).
    pub terminal_id: [u8; 6],
    /// Transaction date and time, BCD yyyymmddhhmmss.
    pub time: [u8; 7],
    /// The purchase key version (the key index the card accepted).
    pub key_version: u8,
    /// The card's algorithm id.
    pub algorithm_id: u8,
}

impl Purchase {
    /// The three amounts, big-endian, one after the other (MAC2's data).
    pub fn amount_bytes(&self) -> [u8; 12] {
        let mut out = [0u8; 12];
        for (chunk, amount) in out.chunks_exact_mut(4).zip(self.amounts) {
            chunk.copy_from_slice(&amount.to_be_bytes());
        }
        out
    }

    /// MAC1's data: amounts ‖ type ‖ terminal id ‖ time (P7 §12.3).
    pub fn mac1_data(&self) -> Vec<u8> {
        let mut data = self.amount_bytes().to_vec();
        data.push(self.kind);
        data.extend_from_slice(&self.terminal_id);
        data.extend_from_slice(&self.time);
        data
    }

    /// The TAC's data: amounts ‖ type ‖ terminal id ‖ TTSN ‖ time (P7 §12.6).
    pub fn tac_data(&self, ttsn: &[u8; 4]) -> Vec<u8> {
        let mut data = self.amount_bytes().to_vec();
        data.push(self.kind);
        data.extend_from_slice(&self.terminal_id);
        data.extend_from_slice(ttsn);
        data.extend_from_slice(&self.time);
        data
    }
}

/// What a session key is derived from: card key `key` of `card`, diversified for the
/// card, then with `input` (the card's challenge, or the terminal's session input; P4 §9.3).
#[derive(Clone, Copy, Debug)]
pub struct Session<'a> {
    /// The card's factors and algorithm.
    pub card: &'a CardFactors,
    /// Which card key.
    pub key: KeyRef,
    /// The session input.
    pub input: &'a [u8],
}

/// A command to protect with secure messaging (P4 §8.2–8.3).
#[derive(Clone, Copy, Debug)]
pub struct SmCommand<'a> {
    /// CLA INS P1 P2 Lc, Lc counting the MAC.
    pub header: &'a [u8; 5],
    /// The data to encipher.
    pub plaintext: &'a [u8],
}

/// The TAC a card answered to DEBIT FOR PURCHASE and the data it covers
/// ([`Purchase::tac_data`], P7 §12.6).
#[derive(Clone, Copy, Debug)]
pub struct Tac<'a> {
    /// The data the TAC is computed over.
    pub data: &'a [u8],
    /// The card's TAC.
    pub value: [u8; 4],
}

/// What the module answers to a purchase: the terminal transaction serial and MAC1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PurchaseAuthorisation {
    /// Terminal transaction serial (TTSN).
    pub ttsn: [u8; 4],
    /// MAC1 for DEBIT FOR PURCHASE.
    pub mac1: [u8; 4],
}

/// The security module of a terminal: it holds the keys and computes every cryptogram
/// of the card functions. Errors are [`TerminalError`]s: a PSAM that refuses answers
/// [`TerminalError::Status`] with its status word.
pub trait SecurityModule {
    /// "HSM" or "PSAM", for messages.
    fn kind(&self) -> &'static str;

    /// The terminal id (终端机编号, cn 6): the PSAM's file `0016`; an HSM's is configured.
    fn terminal_id(&mut self, card: &CardFactors) -> Result<[u8; 6], TerminalError>;

    /// Authentication data (P4 §9.3) over `original` with the session key of card key
    /// `key` and `session_input`: what EXTERNAL AUTHENTICATE sends, and what checks the
    /// card's INTERNAL AUTHENTICATE answer.
    fn auth_data(
        &mut self,
        session: Session<'_>,
        original: &[u8; 8],
    ) -> Result<[u8; 8], TerminalError>;

    /// Secure messaging (P4 §8.2–8.3) under the session key of card key `key` and the
    /// card's `challenge`: `plaintext` enciphered (`LD ‖ data`, padded only if
    /// unaligned) and the MAC over `header ‖ ciphertext` (`header` = CLA INS P1 P2 Lc,
    /// Lc counting the MAC).
    fn secure_message(
        &mut self,
        session: Session<'_>,
        command: SmCommand<'_>,
    ) -> Result<(Vec<u8>, [u8; 4]), TerminalError>;

    /// Starts a purchase (PSAM: INIT SAM FOR PURCHASE): the TTSN and MAC1.
    fn init_purchase(
        &mut self,
        card: &CardFactors,
        purchase: &Purchase,
    ) -> Result<PurchaseAuthorisation, TerminalError>;

    /// Checks the card's MAC2 (PSAM: CREDIT SAM FOR PURCHASE); an error if it is wrong.
    fn credit_purchase(&mut self, mac2: &[u8; 4]) -> Result<(), TerminalError>;

    /// Checks the card's TAC when the module holds the TAC key: `Some(valid)`;
    /// by default `None`, as for a module that cannot (a PSAM holds no DTK: the host checks
    /// the TAC later, P7 §12.6).
    fn verify_tac(
        &mut self,
        _card: &CardFactors,
        _tac: Tac<'_>,
    ) -> Result<Option<bool>, TerminalError> {
        Ok(None)
    }
}
