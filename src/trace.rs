//! APDU traces people can read: each command named and its parameters explained, each
//! status word explained, TLV responses decoded (BER-TLV: FCI, DIR entries, PBOC
//! templates; simple-TLV: the social-security records, named from the data dictionary),
//! and secrets masked — PIN data of VERIFY / CHANGE PIN, enciphered PIN blocks, MACs of
//! secure-messaging commands, keys, and the MACs/TACs the medical purse returns. Masked
//! bytes are shown as `**`, so lengths stay visible and values never are.
//!
//! [`Tracer`] writes a trace as text or as JSON lines (one object per command and per
//! response: time, direction, masked hex, name, SW and its meaning).

use sscard_core::Status;
use sscard_core::tlv::{BerReader, BerTlv, SimpleReader};
use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Hex without separators.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

/// The name of a command, from CLA/INS/P1/P2 (LD/T 32 P5, JR/T 0025, ISO 7816-4).
pub fn command_name(apdu: &[u8]) -> &'static str {
    let (cla, ins, p1) = match apdu {
        [cla, ins, p1, ..] => (*cla, *ins, *p1),
        _ => return "(truncated APDU)",
    };
    match (cla, ins) {
        (0x00, 0xA4) => match p1 {
            0x04 => "SELECT by name",
            0x00 => "SELECT by FID",
            0x01 => "SELECT child DF",
            0x02 => "SELECT EF",
            0x03 => "SELECT parent",
            _ => "SELECT",
        },
        (0x00, 0xB0) => "READ BINARY",
        (0x00 | 0x04, 0xD6) => "UPDATE BINARY",
        (0x00, 0xB2) => "READ RECORD",
        (0x00 | 0x04, 0xDC) => "UPDATE RECORD",
        (0x00, 0xE2) => "APPEND RECORD",
        (0x00, 0x20) => "VERIFY",
        (0x80, 0x5E) => "CHANGE PIN",
        (0x84, 0x24) => "PIN CHANGE/UNBLOCK",
        (0x00, 0x84) => "GET CHALLENGE",
        (0x00, 0x88) => "INTERNAL AUTHENTICATE",
        (0x00, 0x82) => "EXTERNAL AUTHENTICATE",
        (0x00, 0xC0) => "GET RESPONSE",
        (0xFF, 0xCA) => match p1 {
            0x00 => "GET DATA (reader): UID",
            0x01 => "GET DATA (reader): ATS historical bytes",
            _ => "GET DATA (reader)",
        },
        (0x84, 0x1E) => "APPLICATION BLOCK",
        (0x84, 0x18) => "APPLICATION UNBLOCK",
        (0x84, 0x16) => "CARD BLOCK",
        (0xB0, 0x28) => "INITIALIZE FOR LOAD/PURCHASE",
        (0xB0, 0x2A) => "CREDIT FOR LOAD",
        (0xB0, 0x2C) => "DEBIT FOR PURCHASE",
        (0xB0, 0x26) => "GET BALANCE",
        (0xB0, 0x2E) => "GET TRANSACTION PROOF",
        (0xB0, 0x56) => "UPDATE/GET STARTING DAY",
        (0x80, 0xA8) => "GET PROCESSING OPTIONS",
        (0x80, 0xAE) => "GENERATE AC",
        (0x80, 0xCA) => "GET DATA",
        (0x04, 0xDA) => "PUT DATA",
        (0x80 | 0x84, 0xD4) => "WRITE KEY",
        _ => "(unknown command)",
    }
}

/// Which bytes of a command carry secrets: a byte range of the whole APDU.
fn command_secret(apdu: &[u8]) -> Option<std::ops::Range<usize>> {
    let (&[cla, ins, ..], Some(&lc)) = (apdu, apdu.get(4)) else {
        return None;
    };
    let lc = usize::from(lc);
    if lc == 0 || apdu.len() < 5 + lc {
        return None;
    }
    let data = 5..5 + lc;
    let mac = 5 + lc.saturating_sub(4)..5 + lc;
    match (cla, ins) {
        // PIN in clear, old ‖ FF ‖ new PIN, enciphered PIN block ‖ MAC, keys.
        (0x00, 0x20) | (0x80, 0x5E) | (0x84, 0x24) | (0x80 | 0x84, 0xD4) => Some(data),
        // Secure messaging: the MAC closes the data field. Medical purse: MAC1 / MAC2.
        (0x04 | 0x84 | 0x0C | 0x8C, _) | (0xB0, 0x2A | 0x2C) => Some(mac),
        _ => None,
    }
}

/// Which bytes of a response's data carry secrets (MACs and TACs of the medical purse),
/// given the header of the command that produced the data.
fn response_secret(header: &[u8], data_len: usize) -> Option<std::ops::Range<usize>> {
    match header {
        [0xB0, 0x2A | 0x2C | 0x2E, ..] => Some(0..data_len),
        [0xB0, 0x28, ..] if data_len >= 4 => Some(data_len - 4..data_len),
        _ => None,
    }
}

fn masked_hex(bytes: &[u8], secret: Option<std::ops::Range<usize>>) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for (i, b) in bytes.iter().enumerate() {
        if secret.as_ref().is_some_and(|r| r.contains(&i)) {
            s.push_str("**");
        } else {
            let _ = write!(s, "{b:02X}");
        }
    }
    s
}

/// The command in hex with secret-bearing bytes shown as `**`.
pub fn masked_command(apdu: &[u8]) -> String {
    masked_hex(apdu, command_secret(apdu))
}

/// Names of well-known application and DF names.
fn known_name(name: &[u8]) -> Option<&'static str> {
    Some(match name {
        b"sx1.sh.\xC9\xE7\xBB\xE1\xB1\xA3\xD5\xCF" => "SSSE sx1.sh.社会保障",
        b"PKI.\xC9\xE7\xBB\xE1\xB1\xA3\xD5\xCF" => "PKI.社会保障",
        b"1PAY.SYS.DDF01" => "PSE 1PAY.SYS.DDF01",
        b"2PAY.SYS.DDF01" => "PPSE 2PAY.SYS.DDF01",
        [0xD1, 0x56, 0x00, 0x00, 0x05, 0x00] => "DF01 公共应用",
        [0xD1, 0x56, 0x00, 0x00, 0x05, 0x01] => "DF02 就业与失业",
        [0xD1, 0x56, 0x00, 0x00, 0x05, 0x02] => "DF03 社会保险1",
        [0xD1, 0x56, 0x00, 0x00, 0x05, 0x03] => "DF04 社会保险2",
        [0xD1, 0x56, 0x00, 0x00, 0x05, 0x04] => "DF07 人事与人才",
        [0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01, 0x01] => "PBOC debit",
        [0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01, 0x02] => "PBOC credit",
        [0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01, 0x06] => "PBOC e-cash",
        _ => return None,
    })
}

/// What the parameters of a command mean (spec/ssc.md §4, §5), or empty.
pub fn command_detail(apdu: &[u8]) -> String {
    let [cla, ins, p1, p2, rest @ ..] = apdu else {
        return String::new();
    };
    let data = match rest {
        [lc, d @ ..] if *lc != 0 && d.len() >= usize::from(*lc) => d.get(..usize::from(*lc)),
        _ => None,
    }
    .unwrap_or(&[]);
    let sfi_mode = |p2: u8| match p2 >> 3 {
        0 => "current EF".to_string(),
        sfi => format!("SFI {sfi:02X}"),
    };
    match (*cla, *ins) {
        (0x00, 0xA4) if *p1 == 0x04 => match known_name(data) {
            Some(n) => n.to_string(),
            None => hex(data),
        },
        (0x00, 0xA4) => hex(data),
        (0x00 | 0x04, 0xB2 | 0xDC) => {
            let what = match p2 & 0x07 {
                4 if *p1 == 0 => "current record".to_string(),
                4 => format!("record {p1}"),
                5 => format!("records {p1} to last"),
                6 => format!("records last to {p1}"),
                0 => format!("first record with tag {p1:02X}"),
                1 => format!("last record with tag {p1:02X}"),
                2 => format!("next record with tag {p1:02X}"),
                3 => format!("previous record with tag {p1:02X}"),
                _ => "RFU addressing".to_string(),
            };
            format!("{what}, {}", sfi_mode(*p2))
        }
        (0x00 | 0x04, 0xB0 | 0xD6) if p1 & 0x80 != 0 => {
            format!("SFI {:02X}, offset {p2}", p1 & 0x1F)
        }
        (0x00 | 0x04, 0xB0 | 0xD6) => format!("offset {}", u16::from_be_bytes([*p1, *p2])),
        (0x00, 0x20) if data.is_empty() => "query tries left".to_string(),
        (0x00, 0x20) => format!("PIN {p2:02X} ({} bytes, masked)", data.len()),
        (0x00, 0x84) => format!("{} bytes", rest.first().copied().unwrap_or(0)),
        (0x00, 0x82) => format!("key {p2:02X}"),
        (0x00, 0xC0) => format!("{} bytes", rest.first().copied().unwrap_or(0)),
        _ => String::new(),
    }
}

/// One line per exchange: `→ command  NAME` / `← response  SW meaning`.
pub fn describe(apdu: &[u8], response: &[u8]) -> String {
    let (data, sw) = split_response(response);
    let status = sw.map(Status::from_u16);
    let mut s = format!("→ {:<44} {}\n", masked_command(apdu), command_name(apdu));
    match status {
        Some(st) => {
            let _ = write!(
                s,
                "← {:<44} {:04X} {}",
                masked_hex(data, response_secret(apdu, data.len())),
                st.to_u16(),
                sw_meaning(st.to_u16())
            );
        }
        None => s.push_str("← (no response: card mute)"),
    }
    s
}

/// What a status word means, with its parameter spelled out (61xx, 63Cx, 6Cxx).
pub fn sw_meaning(sw: u16) -> String {
    let [sw1, sw2] = sw.to_be_bytes();
    match Status::from_u16(sw) {
        Status::BytesAvailable(n) => {
            let n = if n == 0 { 256 } else { usize::from(n) };
            format!("{n} response bytes waiting for GET RESPONSE")
        }
        Status::RemainingTries(n) => format!("verification failed, {n} tries left"),
        Status::WrongLe(n) => format!("wrong Le: {n} bytes available"),
        Status::Proprietary(_) if sw1 == 0x63 => format!("warning, SW2 {sw2:02X}"),
        // The status words only one application answers are named by that application.
        Status::Proprietary(_) => sscard_ssc::status::meaning(sw)
            .or_else(|| sscard_pboc::status::meaning(sw))
            .unwrap_or("proprietary status")
            .to_string(),
        st => st.meaning().to_string(),
    }
}

/// Splits a response into data and SW.
pub fn split_response(response: &[u8]) -> (&[u8], Option<u16>) {
    match response.len() {
        0 | 1 => (&[], None),
        n => {
            let (d, sw) = response.split_at(n - 2);
            match sw {
                [a, b] => (d, Some(u16::from_be_bytes([*a, *b]))),
                _ => (d, None),
            }
        }
    }
}

/// How a value of the social-security data dictionary is written.
#[derive(Clone, Copy)]
enum Kind {
    /// Text (GBK), 00-padded.
    An,
    /// BCD digits, F-padded.
    Cn,
    /// Bytes.
    B,
}

/// The social-security data dictionary (spec/ssc.md §3 and Appendix A), for the tags
/// that name the same item in every file they occur in.
fn ssc_item(tag: u8) -> Option<(&'static str, Kind)> {
    use Kind::{An, B, Cn};
    Some(match tag {
        0x01 => ("卡的识别码", B),
        0x02 => ("卡的类别", An),
        0x03 => ("规范版本", An),
        0x04 => ("初始化机构编号", B),
        0x05 => ("发卡日期", Cn),
        0x06 => ("卡有效期", Cn),
        0x07 => ("卡号", An),
        0x08 => ("社会保障号码", An),
        0x09 => ("姓名", An),
        0x4E => ("姓名扩展", An),
        0x0A => ("性别", An),
        0x0B => ("民族", Cn),
        0x0C => ("出生地", Cn),
        0x0D => ("出生日期", Cn),
        0x0E => ("户口所在地区划", Cn),
        0x20 => ("户口类别", An),
        0x21 => ("户口所在地地址", An),
        0x23 => ("常住地址", An),
        0x24 => ("常住地区划", Cn),
        0x28 => ("联系电话", An),
        0x29 => ("就业/离退休状态", An),
        0x3A => ("现从事职业", An),
        0x4C => ("最近一次就业登记日期", Cn),
        0x6E => ("个人账户建立日期", Cn),
        0x70 => ("险种类型", An),
        0x71 => ("参保地区划", Cn),
        0x81 => ("险种类型及标识", An),
        0x84 => ("参保地区划", Cn),
        0x8C => ("参保人员类别", Cn),
        0x8F => ("医疗保险用卡方式", An),
        0xEA => ("人员识别码", An),
        0xEB => ("初次申领地", Cn),
        0xF5 => ("专家类别", An),
        0xF6 => ("批准日期", Cn),
        _ => return None,
    })
}

fn render_value(value: &[u8], kind: Kind) -> String {
    match kind {
        Kind::An => {
            let text: Vec<u8> = value.iter().copied().take_while(|b| *b != 0).collect();
            let (s, _, bad) = encoding_rs::GBK.decode(&text);
            if bad || s.chars().any(char::is_control) {
                hex(value)
            } else {
                format!("{:?}", s.trim_end())
            }
        }
        Kind::Cn => hex(value).trim_end_matches('F').to_string(),
        Kind::B => hex(value),
    }
}

/// Names of BER-TLV tags (ISO 7816-4, LD/T 32 P5 T36–38, JR/T 0025).
fn ber_tag_name(tag: u32) -> &'static str {
    match tag {
        0x6F => "FCI template",
        0x84 => "DF name",
        0xA5 => "FCI proprietary template",
        0x88 => "SFI of the DIR file",
        0x9F0C => "issuer discretionary data (algorithm)",
        0x86 => "algorithm id",
        0x61 => "application template",
        0x4F => "AID",
        0x50 => "application label",
        0x87 => "application priority",
        0x70 => "record template",
        0x77 => "response template (format 2)",
        0x80 => "response (format 1)",
        0x82 => "AIP",
        0x94 => "AFL",
        0x57 => "track 2 equivalent",
        0x5A => "PAN",
        0x5F20 => "cardholder name",
        0x5F24 => "expiry date",
        0x5F25 => "effective date",
        0x5F2D => "language preference",
        0x5F34 => "PAN sequence number",
        0x8C => "CDOL1",
        0x8D => "CDOL2",
        0x8E => "CVM list",
        0x8F => "CA public key index",
        0x9F07 => "application usage control",
        0x9F08 => "application version",
        0x9F10 => "issuer application data",
        0x9F11 => "issuer code table index",
        0x9F12 => "application preferred name",
        0x9F26 => "application cryptogram",
        0x9F27 => "cryptogram information data",
        0x9F36 => "ATC",
        0x9F38 => "PDOL",
        0x9F4D => "log entry",
        0x9F79 => "EC balance",
        0xBF0C => "FCI issuer discretionary data",
        _ => "",
    }
}

fn ber_lines(data: &[u8], depth: usize, out: &mut Vec<String>) -> bool {
    let items: Vec<Result<BerTlv<'_>, _>> = BerReader::new(data).collect();
    if items.is_empty() || items.iter().any(Result::is_err) || depth > 6 {
        return false;
    }
    for tlv in items.into_iter().flatten() {
        let tag = tlv.tag();
        let name = ber_tag_name(tag.0);
        let indent = "  ".repeat(depth + 1);
        let tag_hex = format!("{:X}", tag.0);
        if tag.is_constructed() {
            out.push(format!("{indent}{tag_hex} {name}"));
            let mut sub = Vec::new();
            if ber_lines(tlv.value(), depth + 1, &mut sub) {
                out.extend(sub);
            } else {
                out.push(format!("{indent}  {}", hex(tlv.value())));
            }
            continue;
        }
        let shown = match tag.0 {
            0x84 | 0x4F => match known_name(tlv.value()) {
                Some(n) => format!("{} ({n})", hex(tlv.value())),
                None => hex(tlv.value()),
            },
            0x50 | 0x9F12 | 0x5F20 => render_value(tlv.value(), Kind::An),
            _ => hex(tlv.value()),
        };
        out.push(format!("{indent}{tag_hex} {name}: {shown}").replace(" : ", ": "));
        // 9F0C of the SSSE FCI holds `86 01 alg` (spec/ssc.md §2.2).
        if tag.0 == 0x9F0C {
            let mut sub = Vec::new();
            if ber_lines(tlv.value(), depth + 1, &mut sub) {
                out.extend(sub);
            }
        }
    }
    true
}

/// Which environment of the card answered: the data of a READ RECORD means different
/// things in each (a PBOC record is BER-TLV template `70`; a social-security record is
/// simple-TLV whose tag `70` is 险种类型).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Application {
    /// The social-security environment: MF, SSSE, DF01–DF07, PKI.
    #[default]
    SocialSecurity,
    /// An applet behind the firewall (PBOC, its PSE / PPSE).
    Financial,
}

impl Application {
    /// The environment after a SELECT by name of `name` succeeded, as far as the name
    /// tells (the social-security DF names and AIDs are fixed; every other name belongs
    /// to an applet).
    fn after_selecting(name: &[u8]) -> Application {
        let social = name == b"sx1.sh.\xC9\xE7\xBB\xE1\xB1\xA3\xD5\xCF"
            || name == b"PKI.\xC9\xE7\xBB\xE1\xB1\xA3\xD5\xCF"
            || name.starts_with(&[0xD1, 0x56, 0x00, 0x00, 0x05]);
        if social {
            Application::SocialSecurity
        } else {
            Application::Financial
        }
    }
}

/// Decoded lines for a response's data, given the environment that answered and the
/// header of the command that produced it (for GET RESPONSE: the command that answered
/// 61xx). Empty if there is nothing to decode or the data is secret.
pub fn decode_response(application: Application, header: &[u8], data: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    if data.is_empty() || response_secret(header, data.len()).is_some() {
        return out;
    }
    let is_record = matches!(header, [0x00, 0xB2, ..]);
    let first = data.first().copied().unwrap_or(0);
    // Social-security records are simple-TLV with data-dictionary tags; DIR records,
    // every PBOC record and everything else structured is BER-TLV (6F, 61, 70, 77, …).
    if application == Application::SocialSecurity && is_record && ssc_item(first).is_some() {
        for item in SimpleReader::new(data) {
            match item {
                Ok(t) => match ssc_item(t.tag) {
                    Some((name, kind)) => out.push(format!(
                        "  {:02X} {name}: {}",
                        t.tag,
                        render_value(t.value, kind)
                    )),
                    None => out.push(format!("  {:02X}: {}", t.tag, hex(t.value))),
                },
                Err(_) => return Vec::new(),
            }
        }
        return out;
    }
    if matches!(first, 0x6F | 0x61 | 0x70 | 0x77 | 0x80 | 0xA5) && !ber_lines(data, 0, &mut out) {
        out.clear();
    }
    out
}

/// Trace output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TraceFormat {
    /// Lines for people.
    #[default]
    Text,
    /// JSON lines for programs.
    Json,
}

/// Writes a trace of one card's exchanges and power events to a shared sink.
#[derive(Clone)]
pub struct Tracer {
    sink: Arc<Mutex<Box<dyn Write + Send>>>,
    format: TraceFormat,
    source: String,
    /// Header of the last command that answered 61xx, for decoding GET RESPONSE data.
    pending: Vec<u8>,
    /// The environment selected, as seen from the traffic (see [`Tracer::exchange`]).
    application: Application,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("format", &self.format)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// RFC 3339 UTC time with microseconds.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_micros()
    )
}

impl Tracer {
    /// A tracer writing to `sink`.
    pub fn new(sink: Box<dyn Write + Send>, format: TraceFormat) -> Self {
        Tracer {
            sink: Arc::new(Mutex::new(sink)),
            format,
            source: String::new(),
            pending: Vec::new(),
            application: Application::default(),
        }
    }

    /// A tracer sharing this one's sink, labelling its lines with `source` (e.g. `slot 0`).
    pub fn with_source(&self, source: &str) -> Self {
        Tracer {
            sink: Arc::clone(&self.sink),
            format: self.format,
            source: source.to_string(),
            pending: Vec::new(),
            application: Application::default(),
        }
    }

    fn emit(&self, lines: &[String]) {
        let mut sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        for line in lines {
            // A trace that cannot be written must not stop the card.
            let _ = writeln!(sink, "{line}");
        }
        let _ = sink.flush();
    }

    fn prefix(&self) -> String {
        if self.source.is_empty() {
            String::new()
        } else {
            format!("[{}] ", self.source)
        }
    }

    /// A power event (`power-on`, `power-off`, `reset`, …) with the ATR, if any.
    pub fn event(&mut self, event: &str, atr: &[u8]) {
        self.pending.clear();
        // Power-on and reset start in the MF (social security).
        self.application = Application::SocialSecurity;
        let line = match self.format {
            TraceFormat::Text if atr.is_empty() => format!("{}• {event}", self.prefix()),
            TraceFormat::Text => format!("{}• {event}: ATR {}", self.prefix(), hex(atr)),
            TraceFormat::Json => serde_json::json!({
                "time": rfc3339(SystemTime::now()),
                "source": self.source,
                "direction": "event",
                "event": event,
                "atr": hex(atr),
            })
            .to_string(),
        };
        self.emit(&[line]);
    }

    /// One command and its response (empty = card mute), with the card's processing time.
    /// The environment that answered is followed from the traffic: a successful SELECT by
    /// name enters the environment its name belongs to, a SELECT of the MF the social
    /// security one. [`Tracer::exchange_in`] takes it from the card instead.
    pub fn exchange(&mut self, apdu: &[u8], response: &[u8], elapsed: Duration) {
        let (_, sw) = split_response(response);
        let selected = matches!(sw, Some(0x9000 | 0x6283)) || sw.is_some_and(|sw| sw >> 8 == 0x61);
        match apdu {
            [0x00, 0xA4, 0x04, _, lc, name @ ..] if selected => {
                let name = name.get(..usize::from(*lc)).unwrap_or(name);
                self.application = Application::after_selecting(name);
            }
            [0x00, 0xA4, 0x00, _, rest @ ..]
                if selected && matches!(rest, [] | [0x00] | [0x02, 0x3F, 0x00, ..]) =>
            {
                self.application = Application::SocialSecurity;
            }
            _ => {}
        }
        let application = self.application;
        self.exchange_in(application, apdu, response, elapsed);
    }

    /// [`Tracer::exchange`] with the environment that answered given by the caller (the
    /// card knows which applet is selected).
    pub fn exchange_in(
        &mut self,
        application: Application,
        apdu: &[u8],
        response: &[u8],
        elapsed: Duration,
    ) {
        self.exchange_by(application, apdu, response, elapsed, false);
    }

    /// A pseudo-APDU the emulated reader answered itself (class `FF`, PC/SC part 3
    /// §3.2.2.1): traced like an exchange but marked as the reader's, never the card's.
    pub fn reader_exchange(&mut self, apdu: &[u8], response: &[u8], elapsed: Duration) {
        let application = self.application;
        self.exchange_by(application, apdu, response, elapsed, true);
    }

    fn exchange_by(
        &mut self,
        application: Application,
        apdu: &[u8],
        response: &[u8],
        elapsed: Duration,
        reader: bool,
    ) {
        self.application = application;
        let (data, sw) = split_response(response);
        let is_get_response = matches!(apdu, [0x00, 0xC0, ..]);
        let context: Vec<u8> = if is_get_response && !self.pending.is_empty() {
            self.pending.clone()
        } else {
            apdu.get(..4).unwrap_or(apdu).to_vec()
        };
        let secret = response_secret(&context, data.len());
        let name = command_name(apdu);
        let detail = command_detail(apdu);
        let data_hex = masked_hex(data, secret);
        let sw_text = sw.map(|sw| format!("{sw:04X}"));
        let meaning = sw.map(sw_meaning);
        let now = SystemTime::now();
        let lines = match self.format {
            TraceFormat::Text => {
                let p = self.prefix();
                let p = if reader { format!("{p}[reader] ") } else { p };
                let mut lines = vec![if detail.is_empty() {
                    format!("{p}→ {}  {name}", masked_command(apdu))
                } else {
                    format!("{p}→ {}  {name}: {detail}", masked_command(apdu))
                }];
                match (&sw_text, &meaning) {
                    (Some(sw), Some(m)) => {
                        let data_part = if data.is_empty() {
                            String::new()
                        } else {
                            format!("{data_hex} ")
                        };
                        lines.push(format!(
                            "{p}← {data_part}{sw}  {m}  ({} µs)",
                            elapsed.as_micros()
                        ));
                        lines.extend(
                            decode_response(application, &context, data)
                                .into_iter()
                                .map(|l| format!("{p}  {l}")),
                        );
                    }
                    _ => lines.push(format!("{p}← (no response: card mute)")),
                }
                lines
            }
            TraceFormat::Json => {
                let time = rfc3339(now);
                vec![
                    serde_json::json!({
                        "time": time,
                        "source": self.source,
                        "direction": if reader { "reader-command" } else { "command" },
                        "apdu": masked_command(apdu),
                        "name": name,
                        "detail": detail,
                    })
                    .to_string(),
                    serde_json::json!({
                        "time": time,
                        "source": self.source,
                        "direction": if reader { "reader-response" } else { "response" },
                        "response": format!("{data_hex}{}", sw_text.clone().unwrap_or_default()),
                        "name": name,
                        "sw": sw_text,
                        "meaning": meaning,
                        "decoded": decode_response(application, &context, data)
                            .iter()
                            .map(|l| l.trim().to_string())
                            .collect::<Vec<_>>(),
                        "card_us": elapsed.as_micros() as u64,
                    })
                    .to_string(),
                ]
            }
        };
        self.pending = match sw {
            Some(sw) if sw >> 8 == 0x61 => context,
            _ => Vec::new(),
        };
        self.emit(&lines);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn traced(format: TraceFormat, exchanges: &[(&[u8], &[u8])]) -> String {
        let buf = Shared::default();
        let mut t = Tracer::new(Box::new(buf.clone()), format);
        for (c, r) in exchanges {
            t.exchange(c, r, Duration::from_micros(5));
        }
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    const SELECT_SSSE: &[u8] = &[
        0x00, 0xA4, 0x04, 0x00, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB,
        0xE1, 0xB1, 0xA3, 0xD5, 0xCF, 0x00,
    ];
    const FCI: &[u8] = &[
        0x6F, 0x1C, 0x84, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1,
        0xB1, 0xA3, 0xD5, 0xCF, 0xA5, 0x09, 0x88, 0x01, 0x1E, 0x9F, 0x0C, 0x03, 0x86, 0x01, 0x03,
        0x90, 0x00,
    ];

    #[test]
    fn pin_data_and_macs_are_masked() {
        assert_eq!(
            masked_command(&[0, 0x20, 0, 0, 3, 0x12, 0x34, 0x56]),
            "0020000003******"
        );
        assert_eq!(
            masked_command(&[0x80, 0x5E, 1, 0, 3, 0x12, 0xFF, 0x34]),
            "805E010003******"
        );
        // SM update: data visible, MAC masked.
        assert_eq!(
            masked_command(&[0x04, 0xD6, 0x87, 0, 6, 0xAA, 0xBB, 1, 2, 3, 4]),
            "04D6870006AABB********"
        );
        // Nothing secret in a SELECT.
        assert_eq!(
            masked_command(&[0, 0xA4, 0, 0, 2, 0x3F, 0]),
            "00A40000023F00"
        );
        let text = traced(
            TraceFormat::Json,
            &[(&[0, 0x20, 0, 0, 3, 0x12, 0x34, 0x56], &[0x63, 0xC2])],
        );
        assert!(!text.contains("123456"), "{text}");
        assert!(text.contains("2 tries left"), "{text}");
    }

    #[test]
    fn get_response_data_is_decoded_as_the_fci_of_the_select() {
        let text = traced(
            TraceFormat::Text,
            &[(SELECT_SSSE, &[0x61, 0x1C]), (&[0, 0xC0, 0, 0, 0x1C], FCI)],
        );
        assert!(
            text.contains("SELECT by name: SSSE sx1.sh.社会保障"),
            "{text}"
        );
        assert!(text.contains("28 response bytes waiting"), "{text}");
        assert!(text.contains("6F FCI template"), "{text}");
        assert!(text.contains("88 SFI of the DIR file: 1E"), "{text}");
        assert!(text.contains("86 algorithm id: 03"), "{text}");
    }

    #[test]
    fn records_are_decoded_with_the_data_dictionary() {
        let mut name = vec![0x09, 0x1E, 0xD5, 0xC5, 0xC8, 0xFD];
        name.resize(32, 0);
        name.extend_from_slice(&[0x90, 0x00]);
        let text = traced(TraceFormat::Text, &[(&[0, 0xB2, 0x09, 0x30, 0x20], &name)]);
        assert!(text.contains("first record with tag 09, SFI 06"), "{text}");
        assert!(text.contains("09 姓名: \"张三\""), "{text}");
    }

    #[test]
    fn a_pboc_record_is_a_ber_template_not_a_social_security_element() {
        // PBOC READ RECORD SFI 3 rec 2: 70 { 9F74 "ECC001" } (vectors/pboc/contact.apdu).
        let record: &[u8] = &[
            0x70, 0x09, 0x9F, 0x74, 0x06, 0x45, 0x43, 0x43, 0x30, 0x30, 0x31, 0x90, 0x00,
        ];
        let select_debit: &[u8] = &[
            0x00, 0xA4, 0x04, 0x00, 0x08, 0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01, 0x01, 0x00,
        ];
        let read: &[u8] = &[0x00, 0xB2, 0x02, 0x1C, 0x00];
        // Followed from the traffic: the SELECT of the debit AID enters PBOC.
        let text = traced(
            TraceFormat::Text,
            &[(select_debit, &[0x61, 0x52]), (read, record)],
        );
        assert!(text.contains("70 record template"), "{text}");
        assert!(!text.contains("险种类型"), "{text}");
        // Given by the card.
        let buf = Shared::default();
        let mut t = Tracer::new(Box::new(buf.clone()), TraceFormat::Json);
        t.exchange_in(Application::Financial, read, record, Duration::ZERO);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("70 record template"), "{text}");
        assert!(!text.contains("险种类型"), "{text}");
        // The same bytes read from DF03/EF07 of the social-security side are 险种类型.
        let ssc: &[u8] = &[0x70, 0x03, 0x31, 0x31, 0x30, 0x90, 0x00];
        let text = traced(
            TraceFormat::Text,
            &[
                (select_debit, &[0x61, 0x52]),
                (SELECT_SSSE, &[0x61, 0x1E]),
                (&[0, 0xB2, 0x01, 0x3C, 0x00], ssc),
            ],
        );
        assert!(text.contains("70 险种类型: \"110\""), "{text}");
    }

    #[test]
    fn json_lines_carry_direction_name_sw_and_meaning() {
        let text = traced(
            TraceFormat::Json,
            &[(&[0, 0xB2, 1, 0x2C, 0], &[0x6C, 0x12])],
        );
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["direction"], "command");
        assert_eq!(lines[0]["name"], "READ RECORD");
        assert_eq!(lines[0]["apdu"], "00B2012C00");
        assert_eq!(lines[1]["direction"], "response");
        assert_eq!(lines[1]["sw"], "6C12");
        assert_eq!(lines[1]["meaning"], "wrong Le: 18 bytes available");
        assert!(lines[1]["time"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn purse_macs_in_responses_are_masked() {
        let text = traced(
            TraceFormat::Text,
            &[(&[0xB0, 0x2C, 1, 0, 0], &[1, 2, 3, 4, 5, 6, 7, 8, 0x90, 0])],
        );
        assert!(text.contains("← **************** 9000"), "{text}");
    }

    #[test]
    fn reader_pseudo_apdus_are_traced_as_the_readers() {
        let buf = Shared::default();
        let mut t = Tracer::new(Box::new(buf.clone()), TraceFormat::Json);
        t.reader_exchange(
            &[0xFF, 0xCA, 0, 0, 0],
            &[0x53, 0x53, 0x43, 0x01, 0x90, 0x00],
            Duration::from_micros(1),
        );
        t.exchange(
            &[0, 0xB2, 1, 0x0C, 0],
            &[0x6A, 0x83],
            Duration::from_micros(1),
        );
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["direction"], "reader-command");
        assert_eq!(lines[0]["name"], "GET DATA (reader): UID");
        assert_eq!(lines[1]["direction"], "reader-response");
        assert_eq!(
            lines[2]["direction"], "command",
            "card commands stay the card's"
        );
        let text = traced(TraceFormat::Text, &[]);
        assert!(text.is_empty());
        let buf = Shared::default();
        let mut t = Tracer::new(Box::new(buf.clone()), TraceFormat::Text);
        t.reader_exchange(
            &[0xFF, 0xCA, 1, 0, 0],
            &[0x6A, 0x81],
            Duration::from_micros(1),
        );
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(text.starts_with("[reader] → FFCA010000"), "{text}");
    }

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096) + Duration::from_micros(7);
        assert_eq!(rfc3339(t), "2024-02-29T12:34:56.000007Z");
    }
}
