//! PSAM mode: a social-security PSAM (LD/T 32 part 9; spec-extract §4) behind any
//! [`CardLink`], spoken to only in APDUs:
//!
//! * entering: SELECT of the environment matching the card's algorithm (MF `3F00`, 8-byte
//!   algorithm; DDF `DDF1`, 16-byte algorithm), the terminal id from its EF `0016`
//!   (SELECT + READ BINARY), SELECT of the application `DF01` (AID `D15600000590`),
//!   INITIALIZE ENVIRONMENT `BF EC` if [`PsamChoices::initialize_environment`];
//! * authentication data and secure messaging: DELIVERY SESSION KEY `BF DE` (P1 = usage:
//!   levels ‖ type, P2 = PSAM key id, data = factors ‖ session input), then CIPHER DATA
//!   `80 FA` (P1 00 encrypt; 05 or 07/03/01 MAC, first block the IV) (P9 §9.7, §9.8);
//! * purchase: INIT SAM FOR PURCHASE `80 70 01 00` (factors card first, P9 §9.9) →
//!   TTSN ‖ MAC1, CREDIT SAM FOR PURCHASE `80 72 00 00` with MAC2 (P9 §9.10).
//!
//! **Choices** where the spec is open (spec-extract §4.6, §8), in [`PsamChoices`]: the
//! number of levels N of a PSAM's roots (P9 §8: a terminal must work with N = 1, 2 or 3;
//! searched and remembered per key class by default), the PSAM key ids and types of the
//! card's keys (P9 TA1/TB1), `BF DE`'s factor order (card first by default, as `80 70`
//! and the field traces), how the ADF is selected, whether `BF EC` is sent. What a PSAM
//! may answer either way is accepted either way: CIPHER DATA's MAC as 4 bytes or a whole
//! block (truncated or folded here), 16-byte authentication data folded by the PSAM or
//! here, a wrong MAC2 as `9302` (T31) or `63CF` (§9.10.1).

use super::{
    CardFactors, KeyRef, Purchase, PurchaseAuthorisation, SecurityModule, Session, SmCommand,
};
use crate::link::CardLink;
use crate::psam::{psam_key_id, psam_key_type};
use crate::terminal::{Terminal, TerminalError};
use sscard_core::crypto::Algorithm;
use sscard_core::crypto::ssc::sm_encrypted_len;
use sscard_psam::perso::RootLevel;
use sscard_ssc::layout::Location;

/// How many diversification levels the PSAM's roots need (P9 §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Levels {
    /// Try N = 1, 2, 3 until the PSAM accepts one, and keep it per key class (DDF keys,
    /// application keys, the purchase key) for the rest of the session.
    Search,
    /// Always N.
    Fixed(u8),
}

/// Order of the factors in DELIVERY SESSION KEY (P9 §9.7 gives none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactorOrder {
    /// Card factor first, as INIT SAM FOR PURCHASE and the field traces (default).
    CardFirst,
    /// Highest level first.
    CardLast,
}

/// The PSAM's choices the terminal must match (module docs).
#[derive(Clone, Copy, Debug)]
pub struct PsamChoices {
    /// Levels of the roots.
    pub levels: Levels,
    /// `BF DE`'s factor order.
    pub factor_order: FactorOrder,
    /// Select the application by AID `D15600000590` instead of by FID `DF01` (both
    /// environments hold it under the same AID, so the FID is the default).
    pub adf_by_aid: bool,
    /// Send INITIALIZE ENVIRONMENT (`BF EC`, the 卡识别码's first byte) after selecting.
    pub initialize_environment: bool,
    /// The PSAM key id of a card key whose root needs N levels (`None`: not held).
    pub key_id: fn(KeyRef, u8) -> Option<u8>,
    /// The PSAM key type (usage b5–b1) of a card key.
    pub key_type: fn(KeyRef) -> u8,
}

impl Default for PsamChoices {
    fn default() -> Self {
        PsamChoices {
            levels: Levels::Search,
            factor_order: FactorOrder::CardFirst,
            adf_by_aid: false,
            initialize_environment: false,
            key_id: default_key_id,
            key_type: default_key_type,
        }
    }
}

/// The key ids of the PSAM `sscard_psam` personalizes for a profile
/// ([`crate::psam::psam_key_id`]: P9 TA1's ranges for roots needing N = 3, 2, 1
/// diversifications, places in them chosen by sscard).
pub fn default_key_id(key: KeyRef, levels: u8) -> Option<u8> {
    let level = [RootLevel::National, RootLevel::Provincial, RootLevel::City]
        .into_iter()
        .find(|l| l.levels() == levels)?;
    psam_key_id(key.location, key.id, level)
}

/// P9 TB1 ([`crate::psam::psam_key_type`]): the STKs are MAC keys, the others encryption
/// keys.
pub fn default_key_type(key: KeyRef) -> u8 {
    psam_key_type(key.id).code()
}

/// Key classes whose level is remembered apart.
#[derive(Clone, Copy)]
enum KeyClass {
    Ddf = 0,
    App = 1,
    Purchase = 2,
}

fn class_of(key: KeyRef) -> KeyClass {
    match key.location {
        Location::Ssse => KeyClass::Ddf,
        Location::App(_) => KeyClass::App,
    }
}

/// Status words of a PSAM that does not hold a key at the level asked: wrong level
/// (`6A80`, T24), no such key (`6A88`) or a length its level count refuses (`6700`).
fn wrong_level(sw: u16) -> bool {
    matches!(sw, 0x6A80 | 0x6A88 | 0x6700)
}

/// A PSAM behind a link, with its own trace.
pub struct Psam<L: CardLink> {
    /// The PSAM's terminal (T=0 handling, trace).
    pub terminal: Terminal<L>,
    /// The choices this terminal makes for it.
    pub choices: PsamChoices,
    /// The environment entered and the terminal id read there.
    entered: Option<(Algorithm, [u8; 6])>,
    /// Levels found per [`KeyClass`].
    levels: [Option<u8>; 3],
}

impl<L: CardLink> Psam<L> {
    /// A PSAM on `link` with the default choices; its trace lines are labelled "psam".
    pub fn new(link: L) -> Self {
        Psam::with_choices(link, PsamChoices::default())
    }

    /// A PSAM on `link` with `choices`.
    pub fn with_choices(link: L, choices: PsamChoices) -> Self {
        let mut terminal = Terminal::new(link);
        terminal.label = "psam";
        Psam {
            terminal,
            choices,
            entered: None,
            levels: [None; 3],
        }
    }

    /// Enters the environment of the card's algorithm and the application (module docs).
    fn enter(&mut self, card: &CardFactors) -> Result<[u8; 6], TerminalError> {
        if let Some((alg, terminal_id)) = self.entered
            && alg == card.algorithm
        {
            return Ok(terminal_id);
        }
        self.entered = None;
        let environment: [u8; 2] = match card.algorithm {
            Algorithm::Des3 => [0x3F, 0x00],
            Algorithm::Sm4 => [0xDD, 0xF1],
        };
        let t = &mut self.terminal;
        t.expect_ok("PSAM SELECT environment", &select(0x00, &environment))?;
        t.expect_ok("PSAM SELECT 0016", &select(0x02, &[0x00, 0x16]))?;
        let info = t.expect_ok("PSAM READ 0016", &[0x00, 0xB0, 0x00, 0x00, 0x06])?;
        let terminal_id: [u8; 6] = info
            .as_slice()
            .try_into()
            .map_err(|_| TerminalError::Check("PSAM terminal id (0016) is not 6 bytes"))?;
        let adf = if self.choices.adf_by_aid {
            select(0x04, &[0xD1, 0x56, 0x00, 0x00, 0x05, 0x90])
        } else {
            select(0x00, &[0xDF, 0x01])
        };
        t.expect_ok("PSAM SELECT DF01", &adf)?;
        if self.choices.initialize_environment {
            t.expect_ok(
                "PSAM INITIALIZE ENVIRONMENT",
                &[0xBF, 0xEC, 0x00, 0x00, 0x01, card.card_id_head],
            )?;
        }
        self.entered = Some((card.algorithm, terminal_id));
        Ok(terminal_id)
    }

    /// The level counts to try for `class`.
    fn candidates(&self, class: KeyClass) -> Vec<u8> {
        match (
            self.choices.levels,
            self.levels.get(class as usize).copied().flatten(),
        ) {
            (Levels::Fixed(n), _) | (Levels::Search, Some(n)) => vec![n],
            (Levels::Search, None) => vec![1, 2, 3],
        }
    }

    /// Sends the command `build(N)` for each candidate N of `class` until the PSAM
    /// accepts one; remembers it. Returns the response data.
    fn with_levels(
        &mut self,
        card: &CardFactors,
        class: KeyClass,
        step: &'static str,
        build: impl Fn(u8) -> Option<Vec<u8>>,
    ) -> Result<Vec<u8>, TerminalError> {
        self.enter(card)?;
        let candidates = self.candidates(class);
        let mut last = TerminalError::Check("the PSAM holds no key for this");
        for n in candidates {
            let Some(apdu) = build(n) else { continue };
            let r = self.terminal.send(&apdu)?;
            if r.sw == 0x9000 {
                if let Some(slot) = self.levels.get_mut(class as usize) {
                    *slot = Some(n);
                }
                return Ok(r.data);
            }
            last = TerminalError::Status { step, sw: r.sw };
            if !wrong_level(r.sw) {
                break;
            }
        }
        Err(last)
    }

    /// DELIVERY SESSION KEY for card key `key` and `session_input`.
    fn deliver_session_key(&mut self, session: Session<'_>) -> Result<(), TerminalError> {
        let Session {
            card,
            key,
            input: session_input,
        } = session;
        let block = card.algorithm.block_len();
        if session_input.len() > block {
            return Err(TerminalError::Check("session input longer than a block"));
        }
        let choices = self.choices;
        let kind = (choices.key_type)(key) & 0x1F;
        self.with_levels(card, class_of(key), "PSAM DELIVERY SESSION KEY", |n| {
            let id = (choices.key_id)(key, n)?;
            let mut factors = card.card_first(n);
            if choices.factor_order == FactorOrder::CardLast {
                factors.reverse();
            }
            let mut data: Vec<u8> = factors.concat();
            data.extend_from_slice(session_input);
            data.resize(8 * usize::from(n) + block, 0);
            Some(command(0xBF, 0xDE, (n << 5) | kind, id, &data, None))
        })
        .map(drop)
    }

    /// CIPHER DATA: ECB encryption of whole blocks (`80 FA 00 00`).
    fn encrypt(&mut self, data: &[u8]) -> Result<Vec<u8>, TerminalError> {
        self.terminal.expect_ok(
            "PSAM CIPHER DATA (encrypt)",
            &command(0x80, 0xFA, 0x00, 0x00, data, None),
        )
    }

    /// CIPHER DATA: the 4-byte MAC of `message` from the zero IV (P4 §8.2.4), the
    /// terminal padding it (ISO 9797-1 method 2) and chaining `07`/`03`/`01` when it
    /// does not fit one `05`.
    fn mac(&mut self, alg: Algorithm, message: &[u8]) -> Result<[u8; 4], TerminalError> {
        let block = alg.block_len();
        let mut data = vec![0u8; block];
        data.extend_from_slice(message);
        data.push(0x80);
        data.resize(data.len().div_ceil(block) * block, 0);
        // P9 §9.8: at most 40 (DES) or 80 (16-byte) hex bytes per command.
        let most = 8 * block;
        let chunks: Vec<&[u8]> = data.chunks(most).collect();
        let last = chunks.len().saturating_sub(1);
        let mut answer = vec![];
        for (i, chunk) in chunks.iter().enumerate() {
            let p1 = match (i, i == last) {
                (0, true) => 0x05,
                (0, false) => 0x07,
                (_, true) => 0x01,
                (_, false) => 0x03,
            };
            answer = self.terminal.expect_ok(
                "PSAM CIPHER DATA (MAC)",
                &command(0x80, 0xFA, p1, 0x00, chunk, None),
            )?;
        }
        match (alg, answer.as_slice()) {
            (_, [a, b, c, d]) | (Algorithm::Des3, [a, b, c, d, _, _, _, _]) => Ok([*a, *b, *c, *d]),
            (Algorithm::Sm4, words) if words.len() == 16 => {
                let mut mac = [0u8; 4];
                for word in words.chunks_exact(4) {
                    mac.iter_mut().zip(word).for_each(|(m, w)| *m ^= w);
                }
                Ok(mac)
            }
            _ => Err(TerminalError::Check("PSAM MAC of an unexpected length")),
        }
    }
}

/// `00 A4 p1 00 Lc data`.
fn select(p1: u8, data: &[u8]) -> Vec<u8> {
    command(0x00, 0xA4, p1, 0x00, data, None)
}

/// A short command APDU `CLA INS P1 P2 [Lc data] [Le]` (data of at most 255 bytes).
fn command(cla: u8, ins: u8, p1: u8, p2: u8, data: &[u8], le: Option<u8>) -> Vec<u8> {
    let mut apdu = vec![cla, ins, p1, p2];
    if let Ok(lc) = u8::try_from(data.len())
        && lc > 0
    {
        apdu.push(lc);
        apdu.extend_from_slice(data);
    }
    apdu.extend(le);
    apdu
}

impl<L: CardLink> SecurityModule for Psam<L> {
    fn kind(&self) -> &'static str {
        "PSAM"
    }

    fn terminal_id(&mut self, card: &CardFactors) -> Result<[u8; 6], TerminalError> {
        self.enter(card)
    }

    /// `BF DE` with the session input, `80 FA 00` over `original ‖ 00..`; a 16-byte
    /// answer is folded (P4 §9.3: left half ⊕ right half).
    fn auth_data(
        &mut self,
        session: Session<'_>,
        original: &[u8; 8],
    ) -> Result<[u8; 8], TerminalError> {
        self.deliver_session_key(session)?;
        let mut block = original.to_vec();
        block.resize(session.card.algorithm.block_len(), 0);
        let answer = self.encrypt(&block)?;
        if let Some((left, right)) = answer.split_at_checked(8)
            && right.len() == 8
        {
            let mut ad = [0u8; 8];
            for ((a, x), y) in ad.iter_mut().zip(left).zip(right) {
                *a = x ^ y;
            }
            return Ok(ad);
        }
        answer
            .as_slice()
            .try_into()
            .map_err(|_| TerminalError::Check("PSAM authentication data of an unexpected length"))
    }

    /// One `BF DE`, then `80 FA 00` for the enciphered data and `80 FA 05` (or a chain)
    /// for the MAC: the temporary key serves one encryption and one MAC (P9 §9.8.1).
    fn secure_message(
        &mut self,
        session: Session<'_>,
        command: SmCommand<'_>,
    ) -> Result<(Vec<u8>, [u8; 4]), TerminalError> {
        let alg = session.card.algorithm;
        let ld = u8::try_from(command.plaintext.len())
            .map_err(|_| TerminalError::Check("secure messaging: plaintext too long"))?;
        let mut block = vec![ld];
        block.extend_from_slice(command.plaintext);
        let len = sm_encrypted_len(alg, command.plaintext.len());
        if block.len() < len {
            block.push(0x80);
            block.resize(len, 0);
        }
        self.deliver_session_key(session)?;
        let ciphertext = self.encrypt(&block)?;
        let mut message = command.header.to_vec();
        message.extend_from_slice(&ciphertext);
        let mac = self.mac(alg, &message)?;
        Ok((ciphertext, mac))
    }

    /// `80 70 01 00`: random ‖ sequence ‖ amounts ‖ type ‖ date ‖ time ‖ key version ‖
    /// algorithm ‖ N factors card first, Lc = 1C + 8N, Le 08 → TTSN ‖ MAC1. The PSAM
    /// covers MAC1 with its own terminal id (0016): `purchase.terminal_id` must be it.
    fn init_purchase(
        &mut self,
        card: &CardFactors,
        purchase: &Purchase,
    ) -> Result<PurchaseAuthorisation, TerminalError> {
        let mut head = purchase.card_random.to_vec();
        head.extend_from_slice(&purchase.sequence);
        head.extend_from_slice(&purchase.amount_bytes());
        head.push(purchase.kind);
        head.extend_from_slice(&purchase.time);
        head.push(purchase.key_version);
        head.push(purchase.algorithm_id);
        let answer = self.with_levels(
            card,
            KeyClass::Purchase,
            "PSAM INIT SAM FOR PURCHASE",
            |n| {
                let mut data = head.clone();
                data.extend(card.card_first(n).concat());
                Some(command(0x80, 0x70, 0x01, 0x00, &data, Some(0x08)))
            },
        )?;
        match answer.as_slice() {
            [t0, t1, t2, t3, m0, m1, m2, m3] => Ok(PurchaseAuthorisation {
                ttsn: [*t0, *t1, *t2, *t3],
                mac1: [*m0, *m1, *m2, *m3],
            }),
            _ => Err(TerminalError::Check("PSAM: TTSN ‖ MAC1 is not 8 bytes")),
        }
    }

    /// `80 72 00 00 04 MAC2`: 9000, or `9302` / `63CF` for a wrong MAC2.
    fn credit_purchase(&mut self, mac2: &[u8; 4]) -> Result<(), TerminalError> {
        let r = self
            .terminal
            .send(&command(0x80, 0x72, 0x00, 0x00, mac2, None))?;
        match r.sw {
            0x9000 => Ok(()),
            0x9302 | 0x63CF => Err(TerminalError::Check(
                "MAC2: the card's debit is not genuine",
            )),
            sw => Err(TerminalError::Status {
                step: "PSAM CREDIT SAM FOR PURCHASE",
                sw,
            }),
        }
    }
}
