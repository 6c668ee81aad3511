//! A terminal: what a reader plus host software do with a card — T=0 response handling
//! (61xx → GET RESPONSE, 6Cxx → resend with the right Le) and the national terminal
//! interface's `iReadCardBas` flow (spec/ssc.md §7) with the HSM's key derivation.

use crate::annotate as trace;
use sscard_core::crypto::ssc::{auth_data, card_factor, city_factor, diversify_path, session_key};
use sscard_core::crypto::{Algorithm, ct_eq};
use sscard_core::tlv::{Tag, find_path};
use std::fmt;

use crate::link::{CardLink, LinkError};

/// A response split into data and status word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Data.
    pub data: Vec<u8>,
    /// SW1 SW2.
    pub sw: u16,
}

/// Why a terminal flow stopped.
#[derive(Debug)]
#[non_exhaustive]
pub enum TerminalError {
    /// The card did not answer.
    Mute,
    /// The link to the card failed.
    Link(LinkError),
    /// A command got an unexpected status word.
    Status {
        /// What the terminal was doing.
        step: &'static str,
        /// The SW.
        sw: u16,
    },
    /// The card's answer did not check out.
    Check(&'static str),
}

impl fmt::Display for TerminalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TerminalError::Mute => f.write_str("card did not answer"),
            TerminalError::Link(e) => write!(f, "link: {e}"),
            TerminalError::Status { step, sw } => write!(f, "{step}: card answered {sw:04X}"),
            TerminalError::Check(what) => write!(f, "check failed: {what}"),
        }
    }
}

impl std::error::Error for TerminalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TerminalError::Link(e) => Some(e),
            TerminalError::Mute | TerminalError::Status { .. } | TerminalError::Check(_) => None,
        }
    }
}

impl From<LinkError> for TerminalError {
    fn from(e: LinkError) -> Self {
        TerminalError::Link(e)
    }
}

/// A terminal driving one card, keeping a readable trace.
pub struct Terminal<T: CardLink> {
    /// The card.
    pub link: T,
    /// Trace lines, one per exchange (raw exchanges, GET RESPONSE included).
    pub trace: Vec<String>,
    /// Print each exchange as it happens.
    pub echo: bool,
}

impl<T: CardLink> Terminal<T> {
    /// A terminal on `link`.
    pub fn new(link: T) -> Self {
        Terminal {
            link,
            trace: vec![],
            echo: false,
        }
    }

    fn raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, LinkError> {
        let r = self.link.transmit(apdu)?;
        let line = trace::describe(apdu, &r);
        if self.echo {
            println!("{line}");
        }
        self.trace.push(line);
        Ok(r)
    }

    /// Sends a command the way PC/SC host software does: follows 61xx with GET RESPONSE
    /// and answers 6Cxx by resending with Le = xx.
    pub fn send(&mut self, apdu: &[u8]) -> Result<Response, TerminalError> {
        let mut r = self.raw(apdu)?;
        if let [.., 0x6C, le] = r[..] {
            let mut again = apdu.to_vec();
            let has_le = apdu.len() == 5
                || apdu
                    .get(4)
                    .is_some_and(|lc| usize::from(*lc) + 6 == apdu.len());
            if has_le {
                if let Some(last) = again.last_mut() {
                    *last = le;
                }
            } else {
                again.push(le);
            }
            r = self.raw(&again)?;
        }
        let mut data = vec![];
        loop {
            let (d, sw) = trace::split_response(&r);
            let sw = sw.ok_or(TerminalError::Mute)?;
            data.extend_from_slice(d);
            match sw >> 8 {
                0x61 => {
                    let get = [0x00, 0xC0, 0x00, 0x00, sw as u8];
                    r = self.raw(&get)?;
                }
                _ => return Ok(Response { data, sw }),
            }
        }
    }

    /// Sends and requires 9000.
    pub fn expect_ok(&mut self, step: &'static str, apdu: &[u8]) -> Result<Vec<u8>, TerminalError> {
        let r = self.send(apdu)?;
        if r.sw == 0x9000 {
            Ok(r.data)
        } else {
            Err(TerminalError::Status { step, sw: r.sw })
        }
    }
}

/// The issuer's root keys the terminal's HSM holds (spec/ssc.md §6.1, §7).
#[derive(Clone, Debug)]
pub struct HsmKeys {
    /// IRK root (internal authentication).
    pub irk: Vec<u8>,
    /// RKSSSE root (gen-3 EF06 read control).
    pub rk: Vec<u8>,
    /// The keys above are already the card's own keys (a profile's `keys.level =
    /// "card"`): used as they are, not diversified.
    pub card_level: bool,
}

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

/// `iReadCardBas` (spec/ssc.md §7; SC-TERM §1.1.3): SELECT SSSE and read the algorithm
/// id, INTERNAL AUTHENTICATE with the diversified IRK (the terminal checks the card),
/// for 3.0 cards EXTERNAL AUTHENTICATE with RKSSSE, then read EF05/EF06 items.
/// `random` supplies the terminal's random numbers.
pub fn read_card_bas<T: CardLink>(
    t: &mut Terminal<T>,
    keys: &HsmKeys,
    mut random: impl FnMut(&mut [u8]),
) -> Result<CardBas, TerminalError> {
    let atr = t.link.atr()?;
    let hist = sscard_core::atr::historical_bytes(&atr)
        .ok_or(TerminalError::Check("ATR without historical bytes"))?
        .to_vec();
    let fci = t.expect_ok(
        "SELECT SSSE",
        &[
            0x00, 0xA4, 0x04, 0x00, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7,
            0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF, 0x00,
        ],
    )?;
    // Algorithm id: 9F0C 03 86 01 xx in A5; absent → DES (SC-TERM §10.1).
    let alg_id = find_path(&fci, &[Tag(0x6F), Tag(0xA5), Tag(0x9F0C), Tag(0x86)])
        .ok()
        .flatten()
        .and_then(|t| t.value().first().copied())
        .unwrap_or(0x01);
    let alg = Algorithm::from_id(alg_id).ok_or(TerminalError::Check("algorithm not supported"))?;
    let read = |t: &mut Terminal<T>, step, sfi: u8, tag: u8| -> Result<Vec<u8>, TerminalError> {
        let data = t.expect_ok(step, &[0x00, 0xB2, tag, sfi << 3, 0x00])?;
        Ok(record_value(&data).to_vec())
    };
    let card_id = read(t, "READ 卡识别码", 5, 0x01)?;
    let area_digits = digits(card_id.get(..3).unwrap_or(&[]));
    let area: [u8; 6] = area_digits
        .as_bytes()
        .try_into()
        .map_err(|_| TerminalError::Check("area code in 卡识别码"))?;
    let factors = [
        city_factor(&area).map_err(|_| TerminalError::Check("area code"))?,
        card_factor(&hist).map_err(|_| TerminalError::Check("historical bytes"))?,
    ];

    // INTERNAL AUTHENTICATE: the card proves it holds the diversified IRK.
    let mut r = [0u8; 16];
    random(&mut r);
    let mut cmd = vec![0x00, 0x88, 0x00, 0x00, 0x10];
    cmd.extend_from_slice(&r);
    cmd.push(0x00);
    let ad = t.expect_ok("INTERNAL AUTHENTICATE", &cmd)?;
    let factors: &[[u8; 8]] = if keys.card_level { &[] } else { &factors };
    let irk = diversify_path(alg, &keys.irk, factors).map_err(|_| TerminalError::Check("IRK"))?;
    let (r1, r2) = r.split_at(8);
    let sk = session_key(alg, irk.as_bytes(), r1).map_err(|_| TerminalError::Check("IRK"))?;
    let r2: [u8; 8] = r2.try_into().map_err(|_| TerminalError::Check("random"))?;
    if !ct_eq(&auth_data(&sk.cipher(), &r2), &ad) {
        return Err(TerminalError::Check(
            "internal authentication: card not genuine",
        ));
    }

    let spec_version = text(&read(t, "READ 规范版本", 5, 0x03)?);
    if spec_version.starts_with("3.") {
        // 3.0 cards: EF06 needs RKSSSE (key id 0A) first (SC-TERM §10.2).
        let challenge = t.expect_ok("GET CHALLENGE", &[0x00, 0x84, 0x00, 0x00, 0x08])?;
        let mut p = [0u8; 8];
        random(&mut p);
        let rk = diversify_path(alg, &keys.rk, factors).map_err(|_| TerminalError::Check("RK"))?;
        let sk =
            session_key(alg, rk.as_bytes(), &challenge).map_err(|_| TerminalError::Check("RK"))?;
        let mut cmd = vec![0x00, 0x82, 0x00, 0x0A, 0x10];
        cmd.extend_from_slice(&auth_data(&sk.cipher(), &p));
        cmd.extend_from_slice(&p);
        t.expect_ok("EXTERNAL AUTHENTICATE RKSSSE", &cmd)?;
    }
    let issue_date = digits(&read(t, "READ 发卡日期", 5, 0x05)?);
    let expiry_date = digits(&read(t, "READ 卡有效期", 5, 0x06)?);
    let card_number: String = text(&read(t, "READ 卡号", 5, 0x07)?)
        .chars()
        .take(9)
        .collect();
    let ssn = text(&read(t, "READ 社会保障号码", 6, 0x08)?);
    let mut name = text(&read(t, "READ 姓名", 6, 0x09)?);
    if !spec_version.starts_with("1.") {
        name.push_str(&text(&read(t, "READ 姓名扩展", 6, 0x4E)?));
    }
    Ok(CardBas {
        area: area_digits,
        ssn,
        card_number,
        card_id: trace::hex(&card_id),
        name,
        reset_info: trace::hex(&hist),
        spec_version,
        issue_date,
        expiry_date,
        terminal_id: "000000000000".into(),
        device_id: "0".repeat(32),
    })
}
