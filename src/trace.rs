//! APDU traces people can read: each command named, each status word explained, secrets
//! masked (PIN data of VERIFY / CHANGE PIN, enciphered PIN blocks, MACs are shown only
//! as their length).

use sscard_core::Status;
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
        _ => "(unknown command)",
    }
}

/// The command with secret-bearing data masked.
pub fn masked_command(apdu: &[u8]) -> String {
    let secret = matches!(apdu, [0x00, 0x20, ..] | [0x80, 0x5E, ..] | [0x84, 0x24, ..]);
    match (secret, apdu.len() > 5) {
        (true, true) => format!(
            "{} <{} bytes masked>",
            hex(apdu.get(..5).unwrap_or(&[])),
            apdu.len() - 5
        ),
        _ => hex(apdu),
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
                if data.is_empty() {
                    String::new()
                } else {
                    hex(data)
                },
                st.to_u16(),
                st.meaning()
            );
        }
        None => s.push_str("← (no response: card mute)"),
    }
    s
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
