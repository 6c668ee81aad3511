//! The national terminal interface's card functions (人社信息函〔2016〕38号, LD/T 33;
//! spec/ssc.md §7), as a terminal runs them against a user card with a
//! [`SecurityModule`] — a PSAM or an HSM — computing every cryptogram:
//!
//! | function | what the terminal sends (spec) |
//! |---|---|
//! | [`read_card_bas`] `iReadCardBas` | SELECT SSSE, INTERNAL AUTHENTICATE (IRK), 3.0: EXTERNAL AUTHENTICATE (RKSSSE), EF05/EF06 reads (SC-TERM §1.1.3) |
//! | [`verify_pin`] `iVerifyPIN` | VERIFY (P5 §6.14) |
//! | [`change_pin`] `iChangePIN` | CHANGE PIN `80 5E 01 00` (P5 §6.3) |
//! | [`reload_pin`] `iReloadPIN` | EXTERNAL AUTHENTICATE (PUK), GET CHALLENGE, PIN CHANGE/UNBLOCK `84 24 00 01` under STK SM (P5 §6.8, P7 §13.3) |
//! | [`do_debit`] `iDoDebit` | INITIALIZE FOR PURCHASE, MAC1 from the module, DEBIT FOR PURCHASE, MAC2 and TAC checked (P7 §12) |
//! | [`read_debit_records`] `iReadDebitRecord` | READ RECORD of DF04/EF08 (V2 T9) |
//! | [`external_authenticate_df`] | EXTERNAL AUTHENTICATE in DF01–DF07 (P7 §6.4–6.6) |
//!
//! Every function first identifies the card (ATR, SELECT SSSE, 卡识别码) for the
//! diversification factors. `random` supplies the terminal's random numbers.
//!
//! **Output formats.** `iReadCardBas`'s string is the interface's (spec/ssc.md §7). The
//! texts available give no layout for `iDoDebit` and `iReadDebitRecord`'s outputs;
//! [`Debit`] and [`DebitRecord`] print sscard's (`|`-separated, ending with `|`, as the
//! interface's other strings).

use crate::annotate as trace;
use crate::link::CardLink;
use crate::profile::cn;
use crate::security::{CardFactors, KeyRef, Purchase, SecurityModule, Session, SmCommand, Tac};
use crate::terminal::{Terminal, TerminalError};
use sscard_core::crypto::ssc::sm_encrypted_len;
use sscard_core::crypto::{Algorithm, ct_eq};
use sscard_core::tlv::{Tag, find_path};
use sscard_ssc::layout::AppDf;
use std::fmt;

/// SELECT of the SSSE by its name "sx1.sh.社会保障".
const SELECT_SSSE: [u8; 21] = [
    0x00, 0xA4, 0x04, 0x00, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1,
    0xB1, 0xA3, 0xD5, 0xCF, 0x00,
];

/// What `iReadCardBas` returns (spec/ssc.md §7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardBas {
    /// 发卡地区行政区划代码 (first 6 digits of 卡识别码).
    pub area: String,
    /// 社会保障号码.
    pub ssn: String,
    /// 卡号 (first 9 characters).
    pub card_number: String,
    /// 卡识别码 (32 hex digits).
    pub card_id: String,
    /// 姓名 ‖ 姓名扩展, decoded from GBK.
    pub name: String,
    /// 卡复位信息: the ATR's historical bytes.
    pub reset_info: String,
    /// 规范版本.
    pub spec_version: String,
    /// 发卡日期.
    pub issue_date: String,
    /// 卡有效期.
    pub expiry_date: String,
    /// 终端机编号 (12 zeros without a PSAM).
    pub terminal_id: String,
    /// 终端设备号.
    pub device_id: String,
}

impl fmt::Display for CardBas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|",
            self.area,
            self.ssn,
            self.card_number,
            self.card_id,
            self.name,
            self.reset_info,
            self.spec_version,
            self.issue_date,
            self.expiry_date,
            self.terminal_id,
            self.device_id
        )
    }
}

fn text(bytes: &[u8]) -> String {
    let trimmed: Vec<u8> = bytes.iter().copied().take_while(|b| *b != 0).collect();
    let (s, _, _) = encoding_rs::GBK.decode(&trimmed);
    s.trim_end().to_string()
}

fn digits(bytes: &[u8]) -> String {
    trace::hex(bytes).trim_end_matches('F').to_string()
}

/// The value of a `tag len value` record.
fn record_value(record: &[u8]) -> &[u8] {
    record.get(2..).unwrap_or(&[])
}

/// What the terminal learns of the card before any cryptogram.
struct CardContext {
    /// The ATR's historical bytes.
    historical: Vec<u8>,
    /// 卡识别码.
    card_id: Vec<u8>,
    /// Its first 6 digits, the area code.
    area: String,
    /// Algorithm and diversification factors.
    factors: CardFactors,
}

/// ATR, SELECT SSSE (algorithm id: `9F0C 03 86 01 xx` in A5, absent → DES, SC-TERM
/// §10.1) and READ 卡识别码 (EF05, the area code of the city factor).
fn identify<T: CardLink>(t: &mut Terminal<T>) -> Result<CardContext, TerminalError> {
    let atr = t.link.atr()?;
    let historical = sscard_core::atr::historical_bytes(&atr)
        .ok_or(TerminalError::Check("ATR without historical bytes"))?
        .to_vec();
    let fci = t.expect_ok("SELECT SSSE", &SELECT_SSSE)?;
    let alg_id = find_path(&fci, &[Tag(0x6F), Tag(0xA5), Tag(0x9F0C), Tag(0x86)])
        .ok()
        .flatten()
        .and_then(|t| t.value().first().copied())
        .unwrap_or(0x01);
    let alg = Algorithm::from_id(alg_id).ok_or(TerminalError::Check("algorithm not supported"))?;
    let card_id = read_item(t, "READ 卡识别码", 5, 0x01)?;
    let area = digits(card_id.get(..3).unwrap_or(&[]));
    let area_code: [u8; 6] = area
        .as_bytes()
        .try_into()
        .map_err(|_| TerminalError::Check("area code in 卡识别码"))?;
    let head = card_id.first().copied().unwrap_or(0);
    let factors = CardFactors::new(alg, &area_code, &historical, head)?;
    Ok(CardContext {
        historical,
        card_id,
        area,
        factors,
    })
}

/// READ RECORD of the first record with tag `tag` in EF `sfi` (P5 T32), its value.
fn read_item<T: CardLink>(
    t: &mut Terminal<T>,
    step: &'static str,
    sfi: u8,
    tag: u8,
) -> Result<Vec<u8>, TerminalError> {
    let data = t.expect_ok(step, &[0x00, 0xB2, tag, sfi << 3, 0x00])?;
    Ok(record_value(&data).to_vec())
}

/// GET CHALLENGE, then EXTERNAL AUTHENTICATE `00 82 00 <key id>` with the module's
/// authentication data over a terminal random (P7 §6.4–6.6: the card derives the
/// session key from its challenge).
fn external_authenticate<T: CardLink, M: SecurityModule + ?Sized>(
    t: &mut Terminal<T>,
    module: &mut M,
    card: &CardFactors,
    key: KeyRef,
    step: &'static str,
    random: &mut dyn FnMut(&mut [u8]),
) -> Result<(), TerminalError> {
    let challenge = t.expect_ok("GET CHALLENGE", &[0x00, 0x84, 0x00, 0x00, 0x08])?;
    let mut p = [0u8; 8];
    random(&mut p);
    let ad = module.auth_data(
        Session {
            card,
            key,
            input: &challenge,
        },
        &p,
    )?;
    let mut cmd = vec![0x00, 0x82, 0x00, key.id, 0x10];
    cmd.extend_from_slice(&ad);
    cmd.extend_from_slice(&p);
    t.expect_ok(step, &cmd).map(drop)
}

/// `iReadCardBas` (spec/ssc.md §7; SC-TERM §1.1.3): SELECT SSSE and read the algorithm
/// id, INTERNAL AUTHENTICATE (the module checks the card's answer with the IRK), for 3.0
/// cards EXTERNAL AUTHENTICATE with RKSSSE, the EF05/EF06 items, and the terminal id
/// from the module (a PSAM's `0016`; 12 zeros for an HSM by default).
pub fn read_card_bas<T: CardLink, M: SecurityModule + ?Sized>(
    t: &mut Terminal<T>,
    module: &mut M,
    random: &mut dyn FnMut(&mut [u8]),
) -> Result<CardBas, TerminalError> {
    let card = identify(t)?;
    // INTERNAL AUTHENTICATE: the card proves it holds the diversified IRK.
    let mut r = [0u8; 16];
    random(&mut r);
    let mut cmd = vec![0x00, 0x88, 0x00, 0x00, 0x10];
    cmd.extend_from_slice(&r);
    cmd.push(0x00);
    let ad = t.expect_ok("INTERNAL AUTHENTICATE", &cmd)?;
    let (r1, r2) = r.split_at(8);
    let r2: [u8; 8] = r2.try_into().map_err(|_| TerminalError::Check("random"))?;
    let expected = module.auth_data(
        Session {
            card: &card.factors,
            key: KeyRef::IRK,
            input: r1,
        },
        &r2,
    )?;
    if !ct_eq(&expected, &ad) {
        return Err(TerminalError::Check(
            "internal authentication: card not genuine",
        ));
    }
    let spec_version = text(&read_item(t, "READ 规范版本", 5, 0x03)?);
    if spec_version.starts_with("3.") {
        // 3.0 cards: EF06 needs RKSSSE (key id 0A) first (SC-TERM §10.2).
        external_authenticate(
            t,
            module,
            &card.factors,
            KeyRef::RK,
            "EXTERNAL AUTHENTICATE RKSSSE",
            random,
        )?;
    }
    let issue_date = digits(&read_item(t, "READ 发卡日期", 5, 0x05)?);
    let expiry_date = digits(&read_item(t, "READ 卡有效期", 5, 0x06)?);
    let card_number: String = text(&read_item(t, "READ 卡号", 5, 0x07)?)
        .chars()
        .take(9)
        .collect();
    let ssn = text(&read_item(t, "READ 社会保障号码", 6, 0x08)?);
    let mut name = text(&read_item(t, "READ 姓名", 6, 0x09)?);
    if !spec_version.starts_with("1.") {
        name.push_str(&text(&read_item(t, "READ 姓名扩展", 6, 0x4E)?));
    }
    let terminal_id = module.terminal_id(&card.factors)?;
    Ok(CardBas {
        area: card.area,
        ssn,
        card_number,
        card_id: trace::hex(&card.card_id),
        name,
        reset_info: trace::hex(&card.historical),
        spec_version,
        issue_date,
        expiry_date,
        terminal_id: trace::hex(&terminal_id),
        device_id: "0".repeat(32),
    })
}

/// What the card said to a PIN command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinOutcome {
    /// 9000.
    Accepted,
    /// 63Cx: wrong PIN, x tries left.
    Refused {
        /// Tries left.
        tries_left: u8,
    },
    /// 6983: the PIN is blocked.
    Blocked,
}

impl PinOutcome {
    fn from_sw(step: &'static str, sw: u16) -> Result<PinOutcome, TerminalError> {
        match sw {
            0x9000 => Ok(PinOutcome::Accepted),
            0x63C0..=0x63CF => Ok(PinOutcome::Refused {
                tries_left: (sw & 0x0F) as u8,
            }),
            0x6983 => Ok(PinOutcome::Blocked),
            sw => Err(TerminalError::Status { step, sw }),
        }
    }

    /// The interface's return value: 0, or −SW (spec/ssc.md §5.1: `-25538` = 63C2).
    pub fn return_code(self) -> i32 {
        match self {
            PinOutcome::Accepted => 0,
            PinOutcome::Refused { tries_left } => -(0x63C0 + i32::from(tries_left)),
            PinOutcome::Blocked => -0x6983,
        }
    }
}

impl fmt::Display for PinOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PinOutcome::Accepted => f.write_str("0"),
            PinOutcome::Refused { tries_left } => write!(
                f,
                "{} (wrong PIN, {tries_left} tries left)",
                self.return_code()
            ),
            PinOutcome::Blocked => write!(f, "{} (PIN blocked)", self.return_code()),
        }
    }
}

/// A PIN of 4–16 digits in cn (`123456` → `12 34 56`, odd lengths padded with F).
fn pin_cn(pin: &str) -> Result<Vec<u8>, TerminalError> {
    if !(4..=16).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TerminalError::Check("a PIN is 4-16 digits"));
    }
    cn("pin", pin, pin.len().div_ceil(2)).map_err(|_| TerminalError::Check("PIN digits"))
}

/// VERIFY `00 20 00 00` with `pin` in the current DF (P5 §6.14).
fn verify<T: CardLink>(t: &mut Terminal<T>, pin: &str) -> Result<PinOutcome, TerminalError> {
    let pin = pin_cn(pin)?;
    let mut cmd = vec![0x00, 0x20, 0x00, 0x00, pin.len() as u8];
    cmd.extend_from_slice(&pin);
    PinOutcome::from_sw("VERIFY", t.send(&cmd)?.sw)
}

/// `iVerifyPIN`: SELECT SSSE, VERIFY (P5 §6.14; the PIN comes from the PIN pad).
pub fn verify_pin<T: CardLink>(
    t: &mut Terminal<T>,
    pin: &str,
) -> Result<PinOutcome, TerminalError> {
    t.expect_ok("SELECT SSSE", &SELECT_SSSE)?;
    verify(t, pin)
}

/// `iChangePIN`: SELECT SSSE, CHANGE PIN `80 5E 01 00` old ‖ `FF` ‖ new, in plain
/// (P5 §6.3).
pub fn change_pin<T: CardLink>(
    t: &mut Terminal<T>,
    old: &str,
    new: &str,
) -> Result<PinOutcome, TerminalError> {
    let (old, new) = (pin_cn(old)?, pin_cn(new)?);
    t.expect_ok("SELECT SSSE", &SELECT_SSSE)?;
    let mut data = old;
    data.push(0xFF);
    data.extend_from_slice(&new);
    let mut cmd = vec![0x80, 0x5E, 0x01, 0x00, data.len() as u8];
    cmd.extend_from_slice(&data);
    PinOutcome::from_sw("CHANGE PIN", t.send(&cmd)?.sw)
}

/// `iReloadPIN` (spec/ssc.md §6.2 "PIN UNBLOCK / RELOAD"; P7 §13.3): EXTERNAL
/// AUTHENTICATE with the PUK (id 06), GET CHALLENGE, then PIN CHANGE/UNBLOCK
/// `84 24 00 01` with the new PIN enciphered and MACed under the STK session key of
/// that challenge, both from the module.
pub fn reload_pin<T: CardLink, M: SecurityModule + ?Sized>(
    t: &mut Terminal<T>,
    module: &mut M,
    new_pin: &str,
    random: &mut dyn FnMut(&mut [u8]),
) -> Result<(), TerminalError> {
    let pin = zeroize::Zeroizing::new(pin_cn(new_pin)?);
    let card = identify(t)?.factors;
    external_authenticate(
        t,
        module,
        &card,
        KeyRef::PUK,
        "EXTERNAL AUTHENTICATE PUK",
        random,
    )?;
    let challenge = t.expect_ok("GET CHALLENGE", &[0x00, 0x84, 0x00, 0x00, 0x08])?;
    let lc = u8::try_from(sm_encrypted_len(card.algorithm, pin.len()) + 4)
        .map_err(|_| TerminalError::Check("PIN too long"))?;
    let header = [0x84, 0x24, 0x00, 0x01, lc];
    let (ciphertext, mac) = module.secure_message(
        Session {
            card: &card,
            key: KeyRef::STK,
            input: &challenge,
        },
        SmCommand {
            header: &header,
            plaintext: &pin,
        },
    )?;
    let mut cmd = header.to_vec();
    cmd.extend_from_slice(&ciphertext);
    cmd.extend_from_slice(&mac);
    t.expect_ok("PIN CHANGE/UNBLOCK", &cmd).map(drop)
}

/// The application DF numbered `n`: 1 → DF01, …, 7 → DF07 (DF05 and DF06 do not exist).
pub fn application_df(n: u8) -> Option<AppDf> {
    AppDf::ALL
        .into_iter()
        .find(|df| df.fid() == 0xDF00 | u16::from(n))
}

/// SELECT of application DF `df` by its AID (P5 §6.11).
fn select_df<T: CardLink>(t: &mut Terminal<T>, df: AppDf) -> Result<(), TerminalError> {
    let mut cmd = vec![0x00, 0xA4, 0x04, 0x00, 0x06];
    cmd.extend_from_slice(&df.aid());
    t.expect_ok("SELECT DF", &cmd).map(drop)
}

/// The external authentication of an application DF (DF01–DF07): SELECT the DF, GET
/// CHALLENGE, EXTERNAL AUTHENTICATE with its key `key_id` (`84`, RK1DFxx, for the reads
/// of `iReadCard`'s "RK" mode), the module computing the authentication data.
pub fn external_authenticate_df<T: CardLink, M: SecurityModule + ?Sized>(
    t: &mut Terminal<T>,
    module: &mut M,
    df: AppDf,
    key_id: u8,
    random: &mut dyn FnMut(&mut [u8]),
) -> Result<(), TerminalError> {
    let card = identify(t)?.factors;
    select_df(t, df)?;
    external_authenticate(
        t,
        module,
        &card,
        KeyRef::df(df, key_id),
        "EXTERNAL AUTHENTICATE",
        random,
    )
}

/// What `iDoDebit` is asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DebitRequest {
    /// The holder PIN, verified in DF04 first (the purse needs it when one is set,
    /// P7 §12); `None`: not sent.
    pub pin: Option<String>,
    /// Purchase key index (the DPK version).
    pub key_index: u8,
    /// Account, self-pay and pooled-fund amounts (fen).
    pub amounts: [u32; 3],
    /// 交易类型 byte (sscard's card default: `'2'`, V2 T51).
    pub kind: u8,
    /// Terminal date and time, BCD yyyymmddhhmmss.
    pub time: [u8; 7],
}

impl DebitRequest {
    /// A purchase of `account` fen from the account at `time` (14 digits
    /// yyyymmddhhmmss), key index 1, type `'2'`, no PIN.
    pub fn new(account: u32, time: &str) -> Result<Self, TerminalError> {
        if time.len() != 14 || !time.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TerminalError::Check("time is 14 digits yyyymmddhhmmss"));
        }
        let time: [u8; 7] = cn("time", time, 7)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(TerminalError::Check("time digits"))?;
        Ok(DebitRequest {
            pin: None,
            key_index: 1,
            amounts: [account, 0, 0],
            kind: b'2',
            time,
        })
    }
}

/// What `iDoDebit` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Debit {
    /// Balance before the purchase (fen).
    pub balance_before: u32,
    /// Balance after it.
    pub balance_after: u32,
    /// The card's purchase sequence number of this purchase.
    pub sequence: u16,
    /// Terminal id.
    pub terminal_id: [u8; 6],
    /// Terminal transaction serial.
    pub ttsn: [u8; 4],
    /// Date and time.
    pub time: [u8; 7],
    /// The card's TAC, for the host.
    pub tac: [u8; 4],
    /// Whether the module could check the TAC (`None`: a PSAM cannot).
    pub tac_verified: Option<bool>,
}

/// `balance before|balance after|sequence|terminal id|TTSN|time|TAC|TAC checked|`, the
/// last field `1` (checked by the module) or `0` (left to the host).
impl fmt::Display for Debit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}|{}|{}|{}|{}|{}|{}|{}|",
            self.balance_before,
            self.balance_after,
            self.sequence,
            trace::hex(&self.terminal_id),
            trace::hex(&self.ttsn),
            trace::hex(&self.time),
            trace::hex(&self.tac),
            u8::from(self.tac_verified == Some(true)),
        )
    }
}

/// `iDoDebit`, a medical-purse purchase (P7 §12; spec-extract §1.8, §1.11): SELECT
/// DF04, VERIFY, INITIALIZE FOR PURCHASE `B0 28 01 01` with the module's terminal id,
/// MAC1 from the module (PSAM: INIT SAM FOR PURCHASE), DEBIT FOR PURCHASE `B0 2C 01 00`
/// → TAC ‖ MAC2, MAC2 checked by the module (PSAM: CREDIT SAM FOR PURCHASE), the TAC by
/// the module when it holds the TAC key (an HSM does).
pub fn do_debit<T: CardLink, M: SecurityModule + ?Sized>(
    t: &mut Terminal<T>,
    module: &mut M,
    request: &DebitRequest,
) -> Result<Debit, TerminalError> {
    let card = identify(t)?.factors;
    select_df(t, AppDf::Df04)?;
    if let Some(pin) = &request.pin {
        match verify(t, pin)? {
            PinOutcome::Accepted => {}
            PinOutcome::Refused { tries_left } => {
                return Err(TerminalError::Status {
                    step: "VERIFY",
                    sw: 0x63C0 | u16::from(tries_left),
                });
            }
            PinOutcome::Blocked => {
                return Err(TerminalError::Status {
                    step: "VERIFY",
                    sw: 0x6983,
                });
            }
        }
    }
    let terminal_id = module.terminal_id(&card)?;
    let mut init = vec![0xB0, 0x28, 0x01, 0x01, 0x13, request.key_index];
    for amount in request.amounts {
        init.extend_from_slice(&amount.to_be_bytes());
    }
    init.extend_from_slice(&terminal_id);
    init.push(0x16);
    let answer = t.expect_ok("INITIALIZE FOR PURCHASE", &init)?;
    // Balance ‖ SPIP ‖ SPFP ‖ payment year ‖ sequence ‖ key version ‖ algorithm ‖
    // random (P5 T71).
    let a: [u8; 22] = answer
        .as_slice()
        .try_into()
        .map_err(|_| TerminalError::Check("INITIALIZE FOR PURCHASE answer is not 22 bytes"))?;
    let balance_before = u32::from_be_bytes([a[0], a[1], a[2], a[3]]);
    let purchase = Purchase {
        card_random: [a[18], a[19], a[20], a[21]],
        sequence: [a[14], a[15]],
        amounts: request.amounts,
        kind: request.kind,
        terminal_id,
        time: request.time,
        key_version: a[16],
        algorithm_id: a[17],
    };
    let authorisation = module.init_purchase(&card, &purchase)?;
    let mut debit = vec![0xB0, 0x2C, 0x01, 0x00, 0x0F];
    debit.extend_from_slice(&authorisation.ttsn);
    debit.extend_from_slice(&request.time);
    debit.extend_from_slice(&authorisation.mac1);
    debit.push(0x08);
    let answer = t.expect_ok("DEBIT FOR PURCHASE", &debit)?;
    let [t0, t1, t2, t3, m0, m1, m2, m3] = answer.as_slice() else {
        return Err(TerminalError::Check(
            "DEBIT FOR PURCHASE answer is not TAC ‖ MAC2",
        ));
    };
    let tac = [*t0, *t1, *t2, *t3];
    module.credit_purchase(&[*m0, *m1, *m2, *m3])?;
    let tac_verified = module.verify_tac(
        &card,
        Tac {
            data: &purchase.tac_data(&authorisation.ttsn),
            value: tac,
        },
    )?;
    if tac_verified == Some(false) {
        return Err(TerminalError::Check("TAC: the card's debit is not genuine"));
    }
    Ok(Debit {
        balance_before,
        balance_after: balance_before.saturating_sub(request.amounts[0]),
        sequence: u16::from_be_bytes(purchase.sequence),
        terminal_id,
        ttsn: authorisation.ttsn,
        time: request.time,
        tac,
        tac_verified,
    })
}

/// One record of the medical transaction log (DF04/EF08; V2 T9, §8.5.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DebitRecord {
    /// 交易序号.
    pub sequence: u16,
    /// 交易类型 ('1' load, '2' purchase).
    pub kind: u8,
    /// 终端机编号.
    pub terminal_id: [u8; 6],
    /// 交易时间, BCD yyyymmddhhmmss.
    pub time: [u8; 7],
    /// Account, self-pay and pooled-fund amounts (the last two 0 in a 20-byte,
    /// account-only record, P7 §12).
    pub amounts: [u32; 3],
}

impl DebitRecord {
    fn parse(record: &[u8]) -> Option<DebitRecord> {
        let (head, amounts) = record.split_at_checked(16)?;
        let [s0, s1, kind, rest @ ..] = head else {
            return None;
        };
        let (terminal_id, time) = rest.split_at_checked(6)?;
        let mut parsed = [0u32; 3];
        if !matches!(amounts.len(), 4 | 12) {
            return None;
        }
        for (slot, chunk) in parsed.iter_mut().zip(amounts.chunks_exact(4)) {
            *slot = u32::from_be_bytes(chunk.try_into().ok()?);
        }
        Some(DebitRecord {
            sequence: u16::from_be_bytes([*s0, *s1]),
            kind: *kind,
            terminal_id: terminal_id.try_into().ok()?,
            time: time.try_into().ok()?,
            amounts: parsed,
        })
    }
}

/// `sequence|type|terminal id|time|account|self-pay|pooled-fund|`.
impl fmt::Display for DebitRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}|{}|{}|{}|{}|{}|{}|",
            self.sequence,
            char::from(self.kind),
            trace::hex(&self.terminal_id),
            trace::hex(&self.time),
            self.amounts[0],
            self.amounts[1],
            self.amounts[2],
        )
    }
}

/// `iReadDebitRecord`: SELECT SSSE and DF04, VERIFY, then READ RECORD of EF08 (SFI 08),
/// newest first, until the card has no more (`6A83`).
pub fn read_debit_records<T: CardLink>(
    t: &mut Terminal<T>,
    pin: Option<&str>,
) -> Result<Vec<DebitRecord>, TerminalError> {
    t.expect_ok("SELECT SSSE", &SELECT_SSSE)?;
    select_df(t, AppDf::Df04)?;
    if let Some(pin) = pin
        && verify(t, pin)? != PinOutcome::Accepted
    {
        return Err(TerminalError::Check("VERIFY: the PIN was refused"));
    }
    let mut records = vec![];
    for number in 1..=0xFEu8 {
        let r = t.send(&[0x00, 0xB2, number, 0x44, 0x00])?;
        match r.sw {
            0x9000 => records.push(
                DebitRecord::parse(&r.data)
                    .ok_or(TerminalError::Check("EF08 record of an unexpected length"))?,
            ),
            0x6A83 => break,
            sw => {
                return Err(TerminalError::Status {
                    step: "READ RECORD EF08",
                    sw,
                });
            }
        }
    }
    Ok(records)
}
