//! APDU traces people can read: each command named and its parameters explained, each
//! status word explained, TLV responses decoded (BER-TLV: FCI, DIR entries, PBOC
//! templates; simple-TLV: the social-security records, named from the data dictionary),
//! and secrets masked — PIN data of VERIFY / CHANGE PIN, enciphered PIN blocks, MACs of
//! secure-messaging commands, keys, and the MACs/TACs the medical purse returns. Masked
//! bytes are shown as `**`, so lengths stay visible and values never are.
//!
//! `sscard_vcard::trace::Tracer` writes these annotations to a trace file.

use sscard_core::Status;
use sscard_core::tlv::{BerReader, BerTlv, SimpleReader};
use std::fmt::Write as _;

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
        // The PSAM's (LD/T 32 P9 §9).
        (0xBF, 0xEC) => "INITIALIZE ENVIRONMENT",
        (0xBF, 0xDE) => "DELIVERY SESSION KEY",
        (0x80, 0xFA) => "CIPHER DATA",
        (0x80, 0x70) => "INIT SAM FOR PURCHASE",
        (0x80, 0x72) => "CREDIT SAM FOR PURCHASE",
        _ => "(unknown command)",
    }
}

/// Which bytes of a command carry secrets: a byte range of the whole APDU.
pub fn command_secret(apdu: &[u8]) -> Option<std::ops::Range<usize>> {
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
        // PSAM CIPHER DATA: the blocks may be a PIN to encipher.
        (0x00, 0x20) | (0x80, 0x5E) | (0x84, 0x24) | (0x80 | 0x84, 0xD4) | (0x80, 0xFA) => {
            Some(data)
        }
        // Secure messaging: the MAC closes the data field. Medical purse: MAC1 / MAC2.
        (0x04 | 0x84 | 0x0C | 0x8C, _) | (0xB0, 0x2A | 0x2C) | (0x80, 0x72) => Some(mac),
        _ => None,
    }
}

/// Which bytes of a response's data carry secrets (MACs and TACs of the medical purse),
/// given the header of the command that produced the data.
pub fn response_secret(header: &[u8], data_len: usize) -> Option<std::ops::Range<usize>> {
    match header {
        [0xB0, 0x2A | 0x2C | 0x2E, ..] => Some(0..data_len),
        // The last 4 bytes: MAC1 of a load; the PSAM's MAC1 after the TTSN.
        [0xB0, 0x28, ..] | [0x80, 0x70, ..] if data_len >= 4 => Some(data_len - 4..data_len),
        // The PSAM's CIPHER DATA results (an enciphered PIN among them).
        [0x80, 0xFA, ..] => Some(0..data_len),
        _ => None,
    }
}

/// `bytes` in hex with the range `secret` shown as `**` per byte.
pub fn masked_hex(bytes: &[u8], secret: Option<std::ops::Range<usize>>) -> String {
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
    /// The environment the card is in after a SELECT by name `name`.
    pub fn after_selecting(name: &[u8]) -> Application {
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
