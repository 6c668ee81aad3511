//! Structure-aware card sessions for fuzzing: the fuzzer chooses a typed sequence of
//! terminal operations ([`Op`], decoded with `arbitrary`), and the harness turns each into
//! the APDUs a terminal would send, with the right lengths, the card's current challenge
//! and correct (or, when the operation says so, deliberately wrong) cryptograms and MACs.
//! So byte-level mutation no longer has to guess a MAC to reach the authenticated states,
//! secure messaging, every purse state, the PKI application after its PIN, or PBOC after
//! GPO and GENERATE AC. Every APDU goes through the same checks as
//! [`card_session`](crate::fuzz_checks::card_session) (status word, secrets, persistence).
//!
//! The harness plays the terminal and its key store: it takes the keys from the card's
//! own secret table (what an issuer's HSM holds), as a fuzzing harness may; the cryptograms
//! are checked against independent implementations elsewhere (tests/, vectors/).

use crate::Violation;
use arbitrary::Arbitrary;
use sscard_core::apdu::encode_command;
use sscard_core::auth::secret::{KeyUsage, SecretKind, find_by_usage, find_secret};
use sscard_core::crypto::{Algorithm, CardCipher, Mac, auth_data, pboc_session_key, session_key};
use sscard_core::rng::CardRng;
use sscard_core::{Applets, Interface};
use sscard_ssc::SscCard;

use crate::fuzz_checks::{Checker, on_snapshot_card, with_checker, with_sample_oracle};
use crate::snapshot::ImageNvm;
use sscard_pboc::PbocApplet;

/// Where a SELECT goes.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Target {
    /// The MF.
    Mf,
    /// The social-security environment.
    Ssse,
    /// DF01–DF04 or DF07 (the index modulo 5).
    Df(u8),
    /// The PKI application (DDF, then ADF).
    Pki,
    /// The PBOC debit application.
    Pboc,
    /// The PBOC payment system environment (PSE, contact) or its contactless PPSE.
    PaymentDirectory {
        /// The PPSE (`2PAY.SYS.DDF01`), else the PSE.
        contactless: bool,
    },
    /// A file by identifier under the current DF (`P1 = 00`, or `02` for an EF).
    File {
        /// The FID.
        fid: u16,
        /// Select as an EF (`P1 = 02`).
        ef: bool,
    },
    /// The parent of the current DF (`P1 = 03`).
    Parent,
}

/// What a record write carries.
#[derive(Arbitrary, Clone, Debug)]
pub enum RecordData {
    /// One simple-TLV object (what the TLV files of the social-security applications
    /// hold).
    Tlv {
        /// The tag.
        tag: u8,
        /// The value (at most 253 bytes).
        value: Vec<u8>,
    },
    /// Exactly the file's record length (fixed and cyclic files), of this byte.
    Fit {
        /// The byte.
        fill: u8,
    },
    /// Any bytes.
    Raw(Vec<u8>),
}

/// A command under secure messaging (CLA `04`/`84`, MAC with the STK session key of a
/// fresh challenge, LD/T 32 P4 §8).
#[derive(Arbitrary, Clone, Debug)]
pub enum SecureCommand {
    /// UPDATE RECORD.
    UpdateRecord {
        /// SFI (modulo 31).
        sfi: u8,
        /// P1.
        record: u8,
        /// P2 addressing mode (modulo 8).
        mode: u8,
        /// The record.
        data: RecordData,
    },
    /// UPDATE BINARY by SFI.
    UpdateBinary {
        /// SFI (modulo 31).
        sfi: u8,
        /// Offset.
        offset: u8,
        /// The bytes.
        data: Vec<u8>,
    },
    /// PIN UNBLOCK `84 24 00 00` (after the PUK).
    PinUnblock,
    /// PIN CHANGE `84 24 00 01` with the new PIN enciphered under the session key.
    PinReload {
        /// The new PIN (BCD, at most 6 bytes; empty removes it).
        pin: Vec<u8>,
    },
    /// APPLICATION BLOCK `84 1E 00 01`.
    ApplicationBlock,
    /// CARD BLOCK `84 16 00 00`.
    CardBlock,
}

/// One issuer script command of PBOC (MAC over the header, ATC, ARQC and data; the
/// harness sends four bytes that pass only under `cfg(fuzzing)`).
#[derive(Arbitrary, Clone, Debug)]
pub enum Script {
    /// APPLICATION BLOCK `84 1E`.
    ApplicationBlock,
    /// APPLICATION UNBLOCK `84 18`.
    ApplicationUnblock,
    /// CARD BLOCK `84 16`.
    CardBlock,
    /// PIN CHANGE/UNBLOCK `84 24 00 P2` with any data.
    PinChangeUnblock {
        /// P2 (00 unblock, 01/02 change).
        p2: u8,
        /// The (enciphered) PIN block.
        block: Vec<u8>,
    },
    /// PIN CHANGE `84 24 00 01/02` with a new PIN enciphered as the issuer does (EMV
    /// Book 2 A1.5: under the ENC session key of the current ATC, masked with UDK-AC,
    /// and for P2 = 01 with the current PIN block).
    PinChange {
        /// P2 = 01 (with the current PIN), else 02.
        with_current: bool,
        /// The new six-digit PIN (BCD).
        digits: [u8; 3],
    },
    /// PUT DATA `04 DA` of one of the tags the applet updates.
    PutData {
        /// Which tag (index modulo their number).
        tag: u8,
        /// The value.
        value: Vec<u8>,
    },
    /// UPDATE RECORD `04 DC`.
    UpdateRecord {
        /// Record number.
        record: u8,
        /// SFI (modulo 31).
        sfi: u8,
        /// The record.
        data: Vec<u8>,
    },
}

/// A change to the main command of an operation, made before its MAC: error paths of
/// every handler behind a valid preamble.
#[derive(Arbitrary, Clone, Debug)]
pub enum Tweak {
    /// Another CLA.
    Cla(u8),
    /// Another P1.
    P1(u8),
    /// Another P2.
    P2(u8),
    /// The data without its last bytes (this many).
    Shorten(u8),
    /// More data.
    Lengthen(Vec<u8>),
    /// Another Le, or none.
    Le(Option<u8>),
}

/// One terminal operation.
#[derive(Arbitrary, Clone, Debug)]
pub enum Op {
    /// Any bytes, sent as they are.
    Raw(Vec<u8>),
    /// Power off and on.
    PowerCycle {
        /// Through the contactless interface (else the contacts).
        contactless: bool,
    },
    /// SELECT.
    Select(Target),
    /// VERIFY of the holder PIN (the profile's `123456`, or a wrong one).
    VerifyPin {
        /// The right PIN.
        good: bool,
    },
    /// CHANGE PIN `80 5E 01 00`: current PIN ‖ `FF` ‖ new PIN.
    ChangePin {
        /// The right current PIN.
        good: bool,
        /// The new PIN (BCD, empty removes it).
        new: Vec<u8>,
    },
    /// GET CHALLENGE then EXTERNAL AUTHENTICATE with one of the keys the current DF sees.
    ExternalAuth {
        /// Which key (index into the usual key ids, modulo their number).
        key: u8,
        /// A correct cryptogram.
        good: bool,
    },
    /// INTERNAL AUTHENTICATE with the terminal's random.
    InternalAuth {
        /// r1 ‖ r2.
        random: [u8; 16],
        /// A key version after them.
        version: Option<u8>,
    },
    /// GET CHALLENGE of 4, 8 or 16 bytes (or any Le).
    GetChallenge {
        /// Le.
        len: u8,
    },
    /// READ RECORD.
    ReadRecord {
        /// SFI (modulo 31).
        sfi: u8,
        /// P1.
        record: u8,
        /// P2 addressing mode (modulo 8; 4 is "record number").
        mode: u8,
        /// Le.
        le: u8,
    },
    /// UPDATE RECORD.
    UpdateRecord {
        /// SFI (modulo 31).
        sfi: u8,
        /// P1.
        record: u8,
        /// P2 addressing mode (modulo 8).
        mode: u8,
        /// The record.
        data: RecordData,
    },
    /// APPEND RECORD `00 E2`.
    AppendRecord {
        /// SFI (modulo 31).
        sfi: u8,
        /// The record.
        data: RecordData,
    },
    /// A command under secure messaging.
    Secure {
        /// The command.
        command: SecureCommand,
        /// A correct MAC.
        good: bool,
    },
    /// READ BINARY by SFI.
    ReadBinary {
        /// SFI (modulo 31).
        sfi: u8,
        /// Offset.
        offset: u8,
        /// Le.
        len: u8,
    },
    /// UPDATE BINARY by SFI.
    UpdateBinary {
        /// SFI (modulo 31).
        sfi: u8,
        /// Offset.
        offset: u8,
        /// The bytes (at most 255).
        data: Vec<u8>,
    },
    /// INITIALIZE FOR LOAD then CREDIT FOR LOAD with MAC2 under SESLK.
    PurseLoad {
        /// Amount in fen.
        amount: u16,
        /// A correct MAC2.
        good: bool,
    },
    /// INITIALIZE FOR PURCHASE then DEBIT FOR PURCHASE with MAC1 under SESPK.
    PursePurchase {
        /// Account amount in fen.
        amount: u16,
        /// The two other amounts (individual, family pools).
        pools: [u16; 2],
        /// A correct MAC1.
        good: bool,
    },
    /// GET BALANCE (P2 modulo 4).
    GetBalance {
        /// Which balance.
        which: u8,
    },
    /// GET TRANSACTION PROOF `B0 2E 00 <type>` of a sequence number.
    TransactionProof {
        /// Transaction type (P2).
        kind: u8,
        /// Sequence number.
        sequence: u16,
    },
    /// UPDATE STARTING DAY `B0 56 00 00` (mmdd), or GET STARTING DAY.
    StartingDay {
        /// Month and day (BCD), or `None` to read it.
        mmdd: Option<[u8; 2]>,
    },
    /// The PKI VERIFY with the SM4-enciphered challenge.
    PkiVerify {
        /// The administrator PIN (else the user PIN).
        admin: bool,
        /// The right PIN.
        good: bool,
    },
    /// GENERATE KEY PAIR into the signature or encryption slot, or a refused target.
    PkiGenerate {
        /// Which pair: signature, encryption, or the certificate EF as private file.
        slot: u8,
    },
    /// READ PUBLIC KEY of the signature pair, or the check of a pair by its FIDs.
    PkiReadPublicKey {
        /// Check the encryption pair by FIDs instead.
        pair: bool,
    },
    /// IMPORT KEY: the public half (a valid point, the card's own signature key) or the
    /// private half of a pair.
    PkiImport {
        /// The private half (else the public).
        private: bool,
        /// Into the encryption slot (else the signature slot).
        encryption: bool,
    },
    /// The PIN hash `80 C4 01 03`.
    PkiHashPin {
        /// The PIN (BCD).
        pin: Vec<u8>,
    },
    /// The identity signature over some data.
    PkiSign {
        /// The data (at most 255 bytes, at least 1).
        data: Vec<u8>,
    },
    /// GET PROCESSING OPTIONS with the contact or contactless PDOL.
    PbocGpo {
        /// Amount authorized.
        amount: u16,
        /// DF69 = 01 (SM) or 00 (RSA).
        sm: bool,
        /// The terminal supports electronic cash (9F7A = 01).
        ec: bool,
        /// Contactless TTQ (9F66).
        ttq: [u8; 4],
        /// A foreign currency and country.
        foreign: bool,
    },
    /// The offline PIN (plaintext PIN block).
    PbocVerify {
        /// The right PIN.
        good: bool,
    },
    /// GENERATE AC 1 (P1 from the fuzzer) with the CDOL1 data.
    PbocGenerateAc {
        /// P1.
        p1: u8,
        /// Amount authorized.
        amount: u16,
        /// TVR (95).
        tvr: [u8; 5],
        /// Transaction type (9C).
        kind: u8,
        /// A foreign currency and country.
        foreign: bool,
    },
    /// EXTERNAL AUTHENTICATE with an ARPC (passes only under `cfg(fuzzing)`) and ARC.
    PbocExternalAuth {
        /// Authorisation response code (8A).
        arc: [u8; 2],
    },
    /// GENERATE AC 2 with the CDOL2 data.
    PbocGenerateAc2 {
        /// P1.
        p1: u8,
        /// Authorisation response code (8A).
        arc: [u8; 2],
    },
    /// An issuer script command.
    PbocScript(Script),
    /// GET DATA of one of the tags the applet answers (or any).
    PbocGetData {
        /// Index into the known tags (modulo their number), or a raw tag.
        tag: Result<u8, u16>,
    },
    /// INTERNAL AUTHENTICATE (DDA) with an unpredictable number.
    PbocInternalAuth {
        /// The DDOL data.
        data: Vec<u8>,
    },
    /// READ RECORD of the PBOC files.
    PbocReadRecord {
        /// SFI (modulo 31).
        sfi: u8,
        /// Record number.
        record: u8,
    },
}

/// One operation of a fuzzed session, maybe with its main command changed.
#[derive(Arbitrary, Clone, Debug)]
pub struct Step {
    /// The operation.
    pub op: Op,
    /// The change to its main command.
    pub tweak: Option<Tweak>,
}

/// Most operations a session runs (bounds one execution's cost).
const MAX_OPS: usize = 64;

/// Most operations of each kind that make the card generate or use a private key (PKI
/// key generation and signature, PBOC GPO and GENERATE AC with their dynamic
/// signatures, INTERNAL AUTHENTICATE of PBOC) a session runs; the rest are skipped. One
/// costs as much as a few hundred other commands under the fuzzer's instrumentation,
/// and a third of a kind in one session reaches nothing the first two did not.
const MAX_KEY_OPS: u8 = 2;

/// The key ids a terminal authenticates with: RKSSSE, UKSSSE, BK, PUK, RK1/UK/RK2 of a
/// DF, the purse's DSK.
const KEY_IDS: [u8; 8] = [0x0A, 0x04, 0x05, 0x06, 0x84, 0x83, 0x85, 0x89];

/// The CDOL1 data of `vectors/pboc/contact.apdu`'s first GENERATE AC: amount (6), other
/// amount (6), country (2), TVR (5), currency (2), date (3), type (1), unpredictable
/// number (4), time (3), merchant name (20), CVM results (3).
const CDOL1_DATA: [u8; 55] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x56, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x56, 0x26, 0x11, 0x29, 0x00, 0x11, 0x22, 0x33, 0x44, 0x12, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x41, 0x03, 0x02, 0x00,
];

/// The CDOL2 data of the same file's GENERATE AC 2 after the ARC: amounts, country,
/// TVR, currency, date, type, unpredictable number, time, TSI.
const CDOL2_REST: [u8; 34] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x56, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x56, 0x26, 0x11, 0x29, 0x00, 0x55, 0x66, 0x77, 0x88, 0x12, 0x00, 0x01,
    0x00, 0x00,
];

/// Tags GET DATA answers in PBOC (ATC, last online ATC, PIN tries, log formats, EC
/// data, risk parameters) and PUT DATA updates (the EC data and the limits).
const PBOC_TAGS: [u16; 26] = [
    0x9F79, 0x9F77, 0x9F78, 0x9F6D, 0x9F53, 0x9F54, 0x9F58, 0x9F59, 0x9F5C, 0x9F6B, 0x9F72, 0x9F73,
    0x9F75, 0x9F76, 0xDF61, 0x9F36, 0x9F13, 0x9F17, 0x9F4F, 0xDF4F, 0x9F51, 0x9F52, 0x9F56, 0x9F57,
    0x9F68, 0x9F5D,
];

const SELECT_SSSE: &[u8] = &[
    0x00, 0xA4, 0x04, 0x00, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1,
    0xB1, 0xA3, 0xD5, 0xCF,
];

/// Plays `data`, decoded as a sequence of [`Step`]s, against the sample card with PBOC.
pub fn ops_session(data: &[u8]) -> Result<(), Violation> {
    let u = arbitrary::Unstructured::new(data);
    let Ok(steps) = Vec::<Step>::arbitrary_take_rest(u) else {
        return Ok(());
    };
    play_steps(&steps).map(|_| ())
}

/// Plays `ops` (none changed) like [`play_steps`].
pub fn play_ops(ops: &[Op]) -> Result<Vec<Vec<u8>>, Violation> {
    let steps: Vec<Step> = ops
        .iter()
        .map(|op| Step {
            op: op.clone(),
            tweak: None,
        })
        .collect();
    play_steps(&steps)
}

/// Plays `steps` against a fresh sample card with PBOC, with every session check;
/// returns the response of the last APDU of each operation (empty when it sent none).
pub fn play_steps(steps: &[Step]) -> Result<Vec<Vec<u8>>, Violation> {
    on_snapshot_card((PbocApplet::new(),), |card| {
        with_sample_oracle(|oracle| {
            with_checker(card, oracle, |checker| {
                let mut terminal = Terminal {
                    checker,
                    key_ops: [0; 5],
                    tweak: None,
                };
                steps
                    .iter()
                    .take(MAX_OPS)
                    .map(|step| {
                        terminal.tweak = step.tweak.clone();
                        terminal.run(&step.op)
                    })
                    .collect()
            })
        })
    })
}

/// The terminal side: turns operations into APDUs.
struct Terminal<'c, 'a, N: ImageNvm, R: CardRng + Clone, A: Applets + Clone> {
    checker: &'c mut Checker<'a, N, R, A>,
    /// Private-key operations run, by kind (see [`MAX_KEY_OPS`]).
    key_ops: [u8; 5],
    /// The change to the current operation's main command (used once).
    tweak: Option<Tweak>,
}

/// P2 of a record command: the SFI (modulo 31) and the addressing mode (modulo 8).
fn record_p2(sfi: u8, mode: u8) -> u8 {
    ((sfi % 31) << 3) | (mode % 8)
}

/// A short command APDU (data cut to 255 bytes; `Some(0)` is Le = 00, up to 256).
fn apdu(header: [u8; 4], data: &[u8], le: Option<u8>) -> Vec<u8> {
    let data = data.get(..255).unwrap_or(data);
    let le = le.map(|l| if l == 0 { 256 } else { u32::from(l) });
    let mut out = vec![0u8; data.len() + 6];
    let n = encode_command(header, data, le, &mut out).unwrap_or(0);
    out.truncate(n);
    out
}

/// A key's card MAC (ISO 9797-1 padding 2, zero IV) over `parts` under `KS(K, input)`
/// (P4 §8.4, P7 §11–12).
fn mac_under(alg: Algorithm, key: &[u8], input: &[u8], parts: &[&[u8]]) -> [u8; 4] {
    session_key(alg, key, input)
        .map(|sk| {
            let cipher = sk.cipher();
            let mut m = Mac::zero_iv(&cipher);
            for p in parts {
                m.update(p);
            }
            m.finish()
        })
        .unwrap_or_default()
}

/// A purse transaction the card started: the card's key for it (algorithm, value) and
/// its random ‖ sequence number.
type PurseStart = (Algorithm, Vec<u8>, Vec<u8>);

impl<N: ImageNvm, R: CardRng + Clone, A: Applets + Clone> Terminal<'_, '_, N, R, A> {
    fn send(&mut self, apdu: &[u8]) -> Result<Vec<u8>, Violation> {
        let mut r = self.checker.apdu(apdu)?;
        // T=0: fetch what waits with GET RESPONSE, as a PC/SC host does.
        while let [.., 0x61, n] = r[..] {
            r = self.checker.apdu(&[0x00, 0xC0, 0x00, 0x00, n])?;
        }
        if let [.., 0x6C, n] = r[..]
            && let Some(mut again) = apdu.get(..apdu.len().saturating_sub(1)).map(<[u8]>::to_vec)
        {
            again.push(n);
            r = self.checker.apdu(&again)?;
        }
        Ok(r)
    }

    /// The operation's main command with its tweak applied (once).
    fn tweaked(
        &mut self,
        mut header: [u8; 4],
        data: &[u8],
        mut le: Option<u8>,
    ) -> ([u8; 4], Vec<u8>, Option<u8>) {
        let mut data = data.get(..255).unwrap_or(data).to_vec();
        match self.tweak.take() {
            None => {}
            Some(Tweak::Cla(cla)) => header[0] = cla,
            Some(Tweak::P1(p1)) => header[2] = p1,
            Some(Tweak::P2(p2)) => header[3] = p2,
            Some(Tweak::Shorten(n)) => data.truncate(data.len().saturating_sub(usize::from(n))),
            Some(Tweak::Lengthen(more)) => data.extend(more),
            Some(Tweak::Le(other)) => le = other,
        }
        (header, data, le)
    }

    /// Sends the operation's main command, tweaked.
    fn send_main(
        &mut self,
        header: [u8; 4],
        data: &[u8],
        le: Option<u8>,
    ) -> Result<Vec<u8>, Violation> {
        let (header, data, le) = self.tweaked(header, data, le);
        self.send(&apdu(header, &data, le))
    }

    fn card(&self) -> &SscCard<N, R, A> {
        self.checker.card()
    }

    /// The key `id` as the current DF sees it, with its algorithm.
    fn key(&self, id: u8) -> Option<(Algorithm, Vec<u8>)> {
        let card = self.card();
        let df = card.transient().fs.current_df;
        let s = find_secret(card.store(), card.header(), df, SecretKind::Key, id, |_| {
            true
        })
        .ok()
        .flatten()?;
        Some((Algorithm::from_id(s.algorithm)?, s.value().to_vec()))
    }

    /// The first key with usage `bits` the current DF sees.
    fn key_by_usage(&self, bits: KeyUsage) -> Option<(Algorithm, Vec<u8>)> {
        let card = self.card();
        let df = card.transient().fs.current_df;
        let s = find_by_usage(card.store(), card.header(), df, bits, |_| true)
            .ok()
            .flatten()?;
        Some((Algorithm::from_id(s.algorithm)?, s.value().to_vec()))
    }

    /// The record length of the record EF `sfi` under the current DF (0 if none).
    fn record_len(&self, sfi: u8) -> usize {
        let card = self.card();
        let df = card.transient().fs.current_df;
        let found = sscard_core::fs::layout::scan(card.store(), card.header(), |e| {
            (e.parent == df && e.sfi == sfi && e.kind.is_record()).then_some(e.record_len)
        });
        found.ok().flatten().map_or(0, usize::from)
    }

    /// The bytes of a record write to EF `sfi`.
    fn record_bytes(&self, sfi: u8, data: &RecordData) -> Vec<u8> {
        let bytes = match data {
            RecordData::Tlv { tag, value } => {
                let value = value.get(..253).unwrap_or(value);
                [&[*tag, value.len() as u8][..], value].concat()
            }
            RecordData::Fit { fill } => vec![*fill; self.record_len(sfi).max(1)],
            RecordData::Raw(bytes) => bytes.clone(),
        };
        if bytes.is_empty() { vec![0] } else { bytes }
    }

    /// GET CHALLENGE of `n` bytes; empty if refused.
    fn challenge(&mut self, n: u8) -> Result<Vec<u8>, Violation> {
        let r = self.send(&[0x00, 0x84, 0x00, 0x00, n])?;
        Ok(match r.split_last_chunk::<2>() {
            Some((data, [0x90, 0x00])) => data.to_vec(),
            _ => Vec::new(),
        })
    }

    /// The kind of private-key operation `op` is, if any.
    fn key_op_kind(op: &Op) -> Option<usize> {
        match op {
            Op::PkiGenerate { .. } | Op::PkiImport { private: true, .. } => Some(0),
            Op::PkiSign { .. } => Some(1),
            Op::PbocGpo { .. } => Some(2),
            Op::PbocGenerateAc { .. } | Op::PbocGenerateAc2 { .. } => Some(3),
            Op::PbocInternalAuth { .. } => Some(4),
            _ => None,
        }
    }

    fn run(&mut self, op: &Op) -> Result<Vec<u8>, Violation> {
        if let Some(count) = Self::key_op_kind(op).and_then(|kind| self.key_ops.get_mut(kind)) {
            if *count >= MAX_KEY_OPS {
                return Ok(Vec::new());
            }
            *count += 1;
        }
        match op {
            Op::Raw(bytes) => self.checker.apdu(bytes),
            Op::PowerCycle { contactless } => {
                let interface = if *contactless {
                    Interface::Contactless
                } else {
                    Interface::Contact
                };
                self.checker.power_cycle(interface).map(|()| Vec::new())
            }
            Op::Select(target) => self.select(*target),
            Op::VerifyPin { good } => {
                let pin = if *good {
                    [0x12, 0x34, 0x56]
                } else {
                    [0x65, 0x43, 0x21]
                };
                self.send_main([0x00, 0x20, 0x00, 0x00], &pin, None)
            }
            Op::ChangePin { good, new } => {
                let old: &[u8] = if *good {
                    &[0x12, 0x34, 0x56]
                } else {
                    &[0x65, 0x43, 0x21]
                };
                let new = new.get(..8).unwrap_or(new);
                let data = [old, &[0xFF], new].concat();
                self.send_main([0x80, 0x5E, 0x01, 0x00], &data, None)
            }
            Op::ExternalAuth { key, good } => {
                let id = KEY_IDS
                    .get(usize::from(*key) % KEY_IDS.len())
                    .copied()
                    .unwrap_or(0x0A);
                let Some((alg, value)) = self.key(id) else {
                    return self.send_main([0x00, 0x82, 0x00, id], &[0u8; 16], None);
                };
                let challenge = self.challenge(8)?;
                let p = [0x5Au8; 8];
                let mut ad = session_key(alg, &value, &challenge)
                    .map(|sk| auth_data(&sk.cipher(), &p))
                    .unwrap_or_default();
                if !*good && let Some(b) = ad.first_mut() {
                    *b ^= 1;
                }
                let data = [&ad[..], &p[..]].concat();
                self.send_main([0x00, 0x82, 0x00, id], &data, None)
            }
            Op::InternalAuth { random, version } => {
                let data = [&random[..], version.as_slice()].concat();
                self.send_main([0x00, 0x88, 0x00, 0x00], &data, Some(0))
            }
            Op::GetChallenge { len } => self.send_main([0x00, 0x84, 0x00, 0x00], &[], Some(*len)),
            Op::ReadRecord {
                sfi,
                record,
                mode,
                le,
            } => self.send_main(
                [0x00, 0xB2, *record, record_p2(*sfi, *mode)],
                &[],
                Some(*le),
            ),
            Op::UpdateRecord {
                sfi,
                record,
                mode,
                data,
            } => {
                let bytes = self.record_bytes(sfi % 31, data);
                self.send_main([0x00, 0xDC, *record, record_p2(*sfi, *mode)], &bytes, None)
            }
            Op::AppendRecord { sfi, data } => {
                let bytes = self.record_bytes(sfi % 31, data);
                self.send_main([0x00, 0xE2, 0x00, (sfi % 31) << 3], &bytes, None)
            }
            Op::Secure { command, good } => self.secure(command, *good),
            Op::ReadBinary { sfi, offset, len } => {
                self.send_main([0x00, 0xB0, 0x80 | (sfi % 31), *offset], &[], Some(*len))
            }
            Op::UpdateBinary { sfi, offset, data } => {
                let data = if data.is_empty() { &[0u8][..] } else { data };
                self.send_main([0x00, 0xD6, 0x80 | (sfi % 31), *offset], data, None)
            }
            Op::PurseLoad { amount, good } => self.purse_load(*amount, *good),
            Op::PursePurchase {
                amount,
                pools,
                good,
            } => self.purse_purchase([*amount, pools[0], pools[1]], *good),
            Op::GetBalance { which } => {
                let p2 = which % 4;
                let le = if p2 == 1 { 4 } else { 6 };
                self.send_main([0xB0, 0x26, 0x00, p2], &[], Some(le))
            }
            Op::TransactionProof { kind, sequence } => {
                self.send_main([0xB0, 0x2E, 0x00, *kind], &sequence.to_be_bytes(), Some(8))
            }
            Op::StartingDay { mmdd } => match mmdd {
                Some(mmdd) => self.send_main([0xB0, 0x56, 0x00, 0x00], mmdd, None),
                None => self.send_main([0xB0, 0x56, 0x01, 0x00], &[], Some(2)),
            },
            Op::PkiVerify { admin, good } => self.pki_verify(*admin, *good),
            Op::PkiGenerate { slot } => {
                let (public, private) = match slot % 3 {
                    0 => (0x12, 0x13),
                    1 => (0x14, 0x15),
                    _ => (0x12, 0x18),
                };
                let data = [0xC0, 0x02, 0x00, public, 0xC2, 0x02, 0x00, private];
                self.send_main([0x80, 0x40, 0x00, 0x00], &data, None)
            }
            Op::PkiReadPublicKey { pair } => {
                if *pair {
                    let data = [0xC0, 0x02, 0x00, 0x14, 0xC2, 0x02, 0x00, 0x15];
                    self.send_main([0x80, 0xC9, 0x82, 0x00], &data, None)
                } else {
                    self.send_main([0x80, 0xC9, 0x82, 0x80], &[], Some(0x42))
                }
            }
            Op::PkiImport {
                private,
                encryption,
            } => self.pki_import(*private, *encryption),
            Op::PkiHashPin { pin } => {
                let pin = pin.get(..16).unwrap_or(pin);
                let data = [&[0xC1, pin.len() as u8][..], pin].concat();
                self.send_main([0x80, 0xC4, 0x01, 0x03], &data, Some(0))
            }
            Op::PkiSign { data } => {
                let data = if data.is_empty() { &[0u8][..] } else { data };
                self.send_main([0x00, 0x2A, 0x9E, 0x9A], data, Some(0))
            }
            Op::PbocGpo {
                amount,
                sm,
                ec,
                ttq,
                foreign,
            } => self.pboc_gpo(*amount, *sm, *ec, *ttq, *foreign),
            Op::PbocVerify { good } => {
                let block: [u8; 8] = if *good {
                    [0x26, 0x12, 0x34, 0x56, 0xFF, 0xFF, 0xFF, 0xFF]
                } else {
                    [0x26, 0x99, 0x99, 0x99, 0xFF, 0xFF, 0xFF, 0xFF]
                };
                self.send_main([0x00, 0x20, 0x00, 0x80], &block, None)
            }
            Op::PbocGenerateAc {
                p1,
                amount,
                tvr,
                kind,
                foreign,
            } => {
                let mut data = CDOL1_DATA;
                let country = if *foreign { [0x08, 0x40] } else { [0x01, 0x56] };
                let fields: [(usize, &[u8]); 5] = [
                    (2, &amount.to_be_bytes()),
                    (12, &country),
                    (14, tvr),
                    (19, &country),
                    (24, &[*kind]),
                ];
                for (at, value) in fields {
                    if let Some(dst) = data.get_mut(at..at + value.len()) {
                        dst.copy_from_slice(value);
                    }
                }
                self.send_main([0x80, 0xAE, *p1, 0x00], &data, Some(0))
            }
            Op::PbocExternalAuth { arc } => {
                // An ARPC the issuer would compute from the ARQC; any 8 bytes pass under
                // cfg(fuzzing), where the check is off.
                let data = [&[0x5A; 8][..], arc].concat();
                self.send_main([0x00, 0x82, 0x00, 0x00], &data, None)
            }
            Op::PbocGenerateAc2 { p1, arc } => {
                let data = [&arc[..], &CDOL2_REST].concat();
                self.send_main([0x80, 0xAE, *p1, 0x00], &data, Some(0))
            }
            Op::PbocScript(script) => self.pboc_script(script),
            Op::PbocGetData { tag } => {
                let tag = match tag {
                    Ok(i) => PBOC_TAGS
                        .get(usize::from(*i) % PBOC_TAGS.len())
                        .copied()
                        .unwrap_or(0x9F36),
                    Err(raw) => *raw,
                };
                let [p1, p2] = tag.to_be_bytes();
                self.send_main([0x80, 0xCA, p1, p2], &[], Some(0))
            }
            Op::PbocInternalAuth { data } => {
                let data = if data.is_empty() {
                    &[0x12, 0x34, 0x56, 0x78][..]
                } else {
                    data
                };
                self.send_main([0x00, 0x88, 0x00, 0x00], data, Some(0))
            }
            Op::PbocReadRecord { sfi, record } => {
                self.send_main([0x00, 0xB2, *record, (sfi % 31) << 3 | 4], &[], Some(0))
            }
        }
    }

    fn select(&mut self, target: Target) -> Result<Vec<u8>, Violation> {
        match target {
            Target::Mf => self.send_main([0x00, 0xA4, 0x00, 0x00], &[0x3F, 0x00], None),
            Target::Ssse => {
                let name = SELECT_SSSE.get(5..).unwrap_or_default().to_vec();
                self.send_main([0x00, 0xA4, 0x04, 0x00], &name, None)
            }
            Target::Df(n) => {
                self.send(SELECT_SSSE)?;
                let aid = [0xD1, 0x56, 0x00, 0x00, 0x05, n % 5];
                self.send_main([0x00, 0xA4, 0x04, 0x00], &aid, None)
            }
            Target::Pki => {
                self.send(&apdu(
                    [0x00, 0xA4, 0x04, 0x00],
                    &sscard_ssc::pki::PKI_DDF_NAME,
                    None,
                ))?;
                self.send_main(
                    [0x00, 0xA4, 0x04, 0x00],
                    &sscard_ssc::pki::PKI_ADF_NAME,
                    None,
                )
            }
            Target::Pboc => self.send_main(
                [0x00, 0xA4, 0x04, 0x00],
                &[0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01, 0x01],
                Some(0),
            ),
            Target::PaymentDirectory { contactless } => {
                let name: &[u8] = if contactless {
                    b"2PAY.SYS.DDF01"
                } else {
                    b"1PAY.SYS.DDF01"
                };
                self.send_main([0x00, 0xA4, 0x04, 0x00], name, Some(0))
            }
            Target::File { fid, ef } => {
                let p1 = if ef { 0x02 } else { 0x00 };
                self.send_main([0x00, 0xA4, p1, 0x00], &fid.to_be_bytes(), None)
            }
            Target::Parent => self.send_main([0x00, 0xA4, 0x03, 0x00], &[], None),
        }
    }

    /// A secure-messaging command (LD/T 32 P4 §8.3): MAC over header ‖ Lc ‖ data with
    /// the STK session key of the card's challenge; the new PIN of a reload enciphered
    /// under the same session key.
    fn secure(&mut self, command: &SecureCommand, good: bool) -> Result<Vec<u8>, Violation> {
        let stk = self.key_by_usage(KeyUsage::SECURE_MESSAGING);
        let challenge = self.challenge(8)?;
        let session = stk
            .as_ref()
            .and_then(|(alg, key)| session_key(*alg, key, &challenge).ok());
        let (header, body) = match command {
            SecureCommand::UpdateRecord {
                sfi,
                record,
                mode,
                data,
            } => (
                [0x04, 0xDC, *record, record_p2(*sfi, *mode)],
                self.record_bytes(sfi % 31, data),
            ),
            SecureCommand::UpdateBinary { sfi, offset, data } => (
                [0x04, 0xD6, 0x80 | (sfi % 31), *offset],
                data.get(..200).unwrap_or(data).to_vec(),
            ),
            SecureCommand::PinUnblock => ([0x84, 0x24, 0x00, 0x00], Vec::new()),
            SecureCommand::PinReload { pin } => {
                let pin = pin.get(..6).unwrap_or(pin);
                let mut cipher_text = vec![0u8; 32];
                let n = session
                    .as_ref()
                    .and_then(|sk| {
                        sscard_core::crypto::ssc::sm_encrypt(&sk.cipher(), pin, &mut cipher_text)
                            .ok()
                    })
                    .unwrap_or(0);
                cipher_text.truncate(n);
                ([0x84, 0x24, 0x00, 0x01], cipher_text)
            }
            SecureCommand::ApplicationBlock => ([0x84, 0x1E, 0x00, 0x01], Vec::new()),
            SecureCommand::CardBlock => ([0x84, 0x16, 0x00, 0x00], Vec::new()),
        };
        let (header, body, _) = self.tweaked(header, &body, None);
        let body = body.get(..200).unwrap_or(&body);
        let lc = body.len() as u8 + 4;
        let mut mac = session
            .map(|sk| {
                let cipher = sk.cipher();
                let mut m = Mac::zero_iv(&cipher);
                m.update(&header);
                m.update(&[lc]);
                m.update(body);
                m.finish()
            })
            .unwrap_or_default();
        if !good {
            mac[0] ^= 1;
        }
        self.send(&apdu(header, &[body, &mac[..]].concat(), None))
    }

    /// INITIALIZE FOR LOAD (P1 00) or PURCHASE (P1 01), key index 01, with `amounts` and
    /// `terminal` (P5 §7.3, §7.5): the answer and, when it holds the card's sequence number
    /// at `seq_at` (its random 2 bytes later), the key of `usage` and random ‖ sequence.
    fn purse_init(
        &mut self,
        p1: u8,
        amounts: &[u8],
        terminal: &[u8],
        seq_at: usize,
        usage: KeyUsage,
    ) -> Result<(Vec<u8>, Option<PurseStart>), Violation> {
        let init = [&[0x01][..], amounts, terminal].concat();
        let r = self.send(&apdu([0xB0, 0x28, p1, 0x01], &init, Some(0)))?;
        let seq = r.get(seq_at..seq_at + 2);
        let random = r.get(seq_at + 4..seq_at + 8);
        let started = match (seq, random, self.key_by_usage(usage)) {
            (Some(seq), Some(random), Some((alg, key))) => Some((alg, key, [random, seq].concat())),
            _ => None,
        };
        Ok((r, started))
    }

    fn purse_load(&mut self, amount: u16, good: bool) -> Result<Vec<u8>, Violation> {
        let terminal = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66];
        let amount = u32::from(amount).to_be_bytes();
        // balance(4) ‖ sequence(2) ‖ key version ‖ algorithm ‖ random(4) ‖ MAC1(4).
        let (r, started) = self.purse_init(0x00, &amount, &terminal, 4, KeyUsage::PURSE_LOAD)?;
        let Some((alg, dlk, random_seq)) = started else {
            return Ok(r);
        };
        let time = [0x20, 0x26, 0x12, 0x07, 0x12, 0x00, 0x00];
        let input = [&random_seq[..], &[0x80, 0x00]].concat();
        let mut mac2 = mac_under(alg, &dlk, &input, &[&amount, b"1", &terminal, &time]);
        if !good {
            mac2[0] ^= 1;
        }
        self.send_main(
            [0xB0, 0x2A, 0x00, 0x00],
            &[&time[..], &mac2].concat(),
            Some(0),
        )
    }

    fn purse_purchase(&mut self, amounts: [u16; 3], good: bool) -> Result<Vec<u8>, Violation> {
        let terminal = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66];
        let amounts: Vec<u8> = amounts
            .iter()
            .flat_map(|a| u32::from(*a).to_be_bytes())
            .collect();
        // balance(4) ‖ SPIP(4) ‖ SPFP(4) ‖ year(2) ‖ sequence(2) ‖ kv ‖ alg ‖ random(4).
        let usage = KeyUsage::PURSE_PURCHASE;
        let (r, started) = self.purse_init(0x01, &amounts, &terminal, 14, usage)?;
        let Some((alg, dpk, random_seq)) = started else {
            return Ok(r);
        };
        let ttsn = [0x00, 0x00, 0x00, 0x01];
        let time = [0x20, 0x26, 0x12, 0x07, 0x12, 0x00, 0x00];
        let input = [&random_seq[..], &ttsn[2..]].concat();
        let mut mac1 = mac_under(alg, &dpk, &input, &[&amounts, b"2", &terminal, &time]);
        if !good {
            mac1[0] ^= 1;
        }
        let data = [&ttsn[..], &time, &mac1].concat();
        self.send_main([0xB0, 0x2C, 0x01, 0x00], &data, Some(0))
    }

    fn pki_verify(&mut self, admin: bool, good: bool) -> Result<Vec<u8>, Violation> {
        let pin: &[u8] = match (admin, good) {
            (false, true) => &[0x12, 0x34, 0x56],
            (true, true) => &[0x12, 0x34, 0x56, 0x78],
            (_, false) => &[0x99, 0x99, 0x99],
        };
        let challenge = self.challenge(16)?;
        let mut block = [0u8; 16];
        if let Some(head) = block.get_mut(..challenge.len().min(16)) {
            head.copy_from_slice(challenge.get(..head.len()).unwrap_or_default());
        }
        let key = sscard_ssc::pki::pin_key(pin);
        if let Ok(cipher) = CardCipher::new(Algorithm::Sm4, &key) {
            let _ = cipher.encrypt_block(&mut block);
        }
        let p2 = if admin { 0x00 } else { 0x81 };
        self.send_main([0x00, 0x20, 0x01, p2], &block, None)
    }

    /// IMPORT KEY (spec/ssc.md §9 item 4): the public half is the card's own signature
    /// key read back (a valid point), the private half a fixed scalar (whose public key
    /// then does not match: the card refuses it unless the pair was imported whole).
    fn pki_import(&mut self, private: bool, encryption: bool) -> Result<Vec<u8>, Violation> {
        let (public_fid, private_fid) = if encryption {
            (0x14, 0x15)
        } else {
            (0x12, 0x13)
        };
        if private {
            let d: [u8; 32] = core::array::from_fn(|i| (i as u8).wrapping_mul(7) ^ 0x3C);
            let data = [&[0xC2, 0x02, 0x00, private_fid, 0xCB, 0x20][..], &d].concat();
            return self.send_main([0x80, 0xC2, 0xC0, 0x01], &data, None);
        }
        let r = self.send(&apdu([0x80, 0xC9, 0x82, 0x80], &[], Some(0x42)))?;
        let xy = match r.get(2..66) {
            Some(xy) if r.get(..2) == Some(&[0xCA, 0x40][..]) => xy.to_vec(),
            _ => vec![0x04; 64],
        };
        let data = [&[0xC0, 0x02, 0x00, public_fid, 0xCA, 0x40][..], &xy].concat();
        self.send_main([0x80, 0xC2, 0x40, 0x00], &data, None)
    }

    fn pboc_gpo(
        &mut self,
        amount: u16,
        sm: bool,
        ec: bool,
        ttq: [u8; 4],
        foreign: bool,
    ) -> Result<Vec<u8>, Violation> {
        let amount = u32::from(amount).to_be_bytes();
        let df69 = u8::from(sm);
        let currency: [u8; 2] = if foreign { [0x08, 0x40] } else { [0x01, 0x56] };
        let pdol: Vec<u8> = if self.card().interface() == Interface::Contact {
            // 9F7A 9F02 5F2A DF69.
            [&[u8::from(ec), 0x00, 0x00][..], &amount, &currency, &[df69]].concat()
        } else {
            // 9F66 9F02 9F03 9F1A 95 5F2A 9A 9C 9F37 DF60 DF69.
            [
                &ttq[..],
                &[0x00, 0x00],
                &amount,
                &[0u8; 6],
                &currency,
                &[0u8; 5],
                &currency,
                &[0x26, 0x12, 0x07, 0x00],
                &[0x12, 0x34, 0x56, 0x78],
                &[u8::from(ec), df69],
            ]
            .concat()
        };
        let data = [&[0x83, pdol.len() as u8][..], &pdol].concat();
        self.send_main([0x80, 0xA8, 0x00, 0x00], &data, Some(0))
    }

    /// The enciphered PIN block of a PIN CHANGE script (see [`Script::PinChange`]); the
    /// ATC is read with GET DATA, the UDKs are the profile's.
    fn pboc_pin_change(
        &mut self,
        with_current: bool,
        digits: [u8; 3],
    ) -> Result<Vec<u8>, Violation> {
        let r = self.send(&[0x80, 0xCA, 0x9F, 0x36, 0x00])?;
        let atc = match r[..] {
            [0x9F, 0x36, 0x02, hi, lo, 0x90, 0x00] => u16::from_be_bytes([hi, lo]),
            _ => 0,
        };
        let udk = |name: &str| {
            crate::sample::default_profile()
                .secrets()
                .into_iter()
                .find(|(label, _)| label.ends_with(name))
                .and_then(|(_, value)| <[u8; 16]>::try_from(&value[..]).ok())
                .unwrap_or([0; 16])
        };
        let [d0, d1, d2] = digits;
        let mut x = [0x26, d0, d1, d2, 0xFF, 0xFF, 0xFF, 0xFF];
        for (b, m) in x
            .iter_mut()
            .skip(4)
            .zip(udk("udk from imk_ac").iter().skip(4))
        {
            *b ^= m;
        }
        if with_current {
            let current = [0x26, 0x12, 0x34, 0x56, 0xFF, 0xFF, 0xFF, 0xFF];
            for (b, c) in x.iter_mut().zip(current) {
                *b ^= c;
            }
        }
        // 08 ‖ X ‖ 80 00…: one 16-byte plaintext.
        let mut block = [0u8; 16];
        for (dst, src) in block.iter_mut().zip([&[0x08][..], &x, &[0x80]].concat()) {
            *dst = src;
        }
        let sk = pboc_session_key(&udk("udk from imk_enc"), atc);
        if let Ok(cipher) = CardCipher::new(Algorithm::Des3, &sk[..]) {
            let _ = cipher.encrypt_ecb(&mut block);
        }
        Ok(block.to_vec())
    }

    fn pboc_script(&mut self, script: &Script) -> Result<Vec<u8>, Violation> {
        let mac = [0xA5, 0x5A, 0x0F, 0xF0];
        let (header, body) = match script {
            Script::ApplicationBlock => ([0x84, 0x1E, 0x00, 0x00], Vec::new()),
            Script::ApplicationUnblock => ([0x84, 0x18, 0x00, 0x00], Vec::new()),
            Script::CardBlock => ([0x84, 0x16, 0x00, 0x00], Vec::new()),
            Script::PinChangeUnblock { p2, block } => (
                [0x84, 0x24, 0x00, p2 % 3],
                block.get(..16).unwrap_or(block).to_vec(),
            ),
            Script::PinChange {
                with_current,
                digits,
            } => {
                let body = self.pboc_pin_change(*with_current, *digits)?;
                let p2 = if *with_current { 0x01 } else { 0x02 };
                ([0x84, 0x24, 0x00, p2], body)
            }
            Script::PutData { tag, value } => {
                let tag = PBOC_TAGS
                    .get(usize::from(*tag) % PBOC_TAGS.len())
                    .copied()
                    .unwrap_or(0x9F79);
                let [p1, p2] = tag.to_be_bytes();
                (
                    [0x04, 0xDA, p1, p2],
                    value.get(..32).unwrap_or(value).to_vec(),
                )
            }
            Script::UpdateRecord { record, sfi, data } => (
                [0x04, 0xDC, *record, (sfi % 31) << 3 | 4],
                data.get(..200).unwrap_or(data).to_vec(),
            ),
        };
        self.send_main(header, &[&body[..], &mac].concat(), None)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn sw(r: &[u8]) -> u16 {
        u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]])
    }

    #[test]
    fn typed_operations_reach_the_authenticated_states() {
        let ops = [
            Op::Select(Target::Ssse),
            Op::VerifyPin { good: true },
            Op::ExternalAuth { key: 0, good: true },
            Op::Select(Target::Df(3)),
            Op::ExternalAuth { key: 4, good: true },
            Op::PurseLoad {
                amount: 500,
                good: true,
            },
            Op::PursePurchase {
                amount: 200,
                pools: [0, 0],
                good: true,
            },
            Op::GetBalance { which: 1 },
            Op::Select(Target::Df(0)),
            Op::ExternalAuth { key: 5, good: true },
            Op::Secure {
                command: SecureCommand::UpdateRecord {
                    sfi: 5,
                    record: 1,
                    mode: 4,
                    data: RecordData::Tlv {
                        tag: 0x20,
                        value: vec![0x31],
                    },
                },
                good: true,
            },
            Op::Select(Target::Pki),
            Op::PkiVerify {
                admin: false,
                good: true,
            },
            Op::PkiGenerate { slot: 0 },
            Op::PkiSign {
                data: vec![1, 2, 3],
            },
            Op::Select(Target::Pboc),
            Op::PbocGpo {
                amount: 100,
                sm: true,
                ec: false,
                ttq: [0; 4],
                foreign: false,
            },
            Op::PbocVerify { good: true },
            Op::PbocGenerateAc {
                p1: 0x80,
                amount: 0x1000,
                tvr: [0; 5],
                kind: 0,
                foreign: false,
            },
        ];
        let responses = play_ops(&ops).unwrap();
        let sws: Vec<u16> = responses.iter().map(|r| sw(r)).collect();
        for (i, (op, s)) in ops.iter().zip(&sws).enumerate() {
            assert!(
                *s == 0x9000 || matches!(op, Op::Secure { .. }) && *s == 0x6A83,
                "op {i} {op:?}: {s:04X} (all: {sws:04X?})"
            );
        }
        // The purse moved: 500 in, 200 out.
        assert_eq!(&responses[7][..4], &300u32.to_be_bytes());
        // The first GENERATE AC answered a cryptogram (format 1, tag 80).
        assert_eq!(responses.last().unwrap()[0], 0x80);
        // Wrong cryptograms are refused, not executed.
        let bad = play_ops(&[
            Op::Select(Target::Df(3)),
            Op::VerifyPin { good: true },
            Op::PurseLoad {
                amount: 500,
                good: false,
            },
        ])
        .unwrap();
        assert_eq!(sw(&bad[2]), 0x9302);
    }

    #[test]
    fn a_session_runs_two_private_key_operations_of_a_kind() {
        let mut ops = vec![
            Op::Select(Target::Pki),
            Op::PkiVerify {
                admin: false,
                good: true,
            },
        ];
        ops.extend([Op::PkiGenerate { slot: 0 }, Op::PkiGenerate { slot: 0 }]);
        ops.extend([Op::PkiSign { data: vec![1] }, Op::PkiSign { data: vec![2] }]);
        ops.extend([Op::PkiGenerate { slot: 0 }, Op::PkiSign { data: vec![3] }]);
        let responses = play_ops(&ops).unwrap();
        assert!(responses[2..6].iter().all(|r| sw(r) == 0x9000));
        assert_eq!(
            responses[6..],
            [vec![], vec![]],
            "the third of each is skipped"
        );
    }

    #[test]
    fn the_pin_change_seed_decodes_to_a_pboc_transaction_with_scripts() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fuzz/corpus/ops_session/pboc_pin_change_by_script"
        );
        let data = std::fs::read(path).unwrap();
        let steps = Vec::<Step>::arbitrary_take_rest(arbitrary::Unstructured::new(&data)).unwrap();
        let ops: Vec<String> = steps.iter().map(|s| format!("{:?}", s.op)).collect();
        assert_eq!(steps.len(), 10, "{ops:?}");
        assert!(ops[0].starts_with("Select(Pboc)"), "{ops:?}");
        assert!(ops[2].starts_with("PbocGenerateAc {"), "{ops:?}");
        assert!(ops[4].contains("PinChange { with_current: true"), "{ops:?}");
        assert!(steps.iter().all(|s| s.tweak.is_none()));
    }

    #[test]
    fn any_bytes_decode_to_a_session() {
        for seed in 0u8..32 {
            let data: Vec<u8> = (0..200u16)
                .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed))
                .collect();
            ops_session(&data).unwrap();
        }
    }
}
