//! The echo card: the smallest useful [`VirtualCard`], used as the transport round-trip
//! reference (benchmarks, the pcscd end-to-end test, binary `sscard-echo-card`).
//!
//! Every C-APDU is answered with its command data field followed by `90 00`: case 1 and 2
//! commands (no data) get a bare `90 00`, case 3 and 4 commands (short or extended) get their
//! `Lc` data bytes back; Le is ignored. A C-APDU that is not a well-formed ISO 7816-4 command
//! gets `67 00` (wrong length).
//!
//! # ATR
//!
//! [`ECHO_ATR`] = `3B 80 80 01 01`, the shortest ATR that offers T=1:
//!
//! | byte | value | meaning |
//! |---|---|---|
//! | TS | `3B` | direct convention |
//! | T0 | `80` | TD1 follows, no historical bytes |
//! | TD1 | `80` | TD2 follows, protocol T=0 |
//! | TD2 | `01` | no more interface bytes, protocol T=1 |
//! | TCK | `01` | XOR of T0..TD2 (required because T=1 is offered) |
//!
//! (vpcd is APDU-level and always reports T=1 to pcscd; the ATR only has to parse.)

use crate::VirtualCard;

/// ATR of the echo card (see the module docs for its decoding).
pub const ECHO_ATR: [u8; 5] = [0x3B, 0x80, 0x80, 0x01, 0x01];

/// Status word `90 00`.
const SW_OK: [u8; 2] = [0x90, 0x00];
/// Status word `67 00` (wrong length).
const SW_WRONG_LENGTH: [u8; 2] = [0x67, 0x00];

/// Answers every APDU with its data ‖ `90 00`, and counts what the reader did to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EchoCard {
    powered: bool,
    power_ons: u64,
    power_offs: u64,
    resets: u64,
    apdus: u64,
}

impl EchoCard {
    /// A new, unpowered echo card.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the card is powered (last event was power on or reset).
    #[must_use]
    pub fn is_powered(&self) -> bool {
        self.powered
    }

    /// Power-on count.
    #[must_use]
    pub fn power_ons(&self) -> u64 {
        self.power_ons
    }

    /// Power-off count.
    #[must_use]
    pub fn power_offs(&self) -> u64 {
        self.power_offs
    }

    /// Warm-reset count.
    #[must_use]
    pub fn resets(&self) -> u64 {
        self.resets
    }

    /// Number of APDUs answered.
    #[must_use]
    pub fn apdus(&self) -> u64 {
        self.apdus
    }
}

/// The command data field of an ISO 7816-4 C-APDU (empty for cases 1 and 2), or `None` if the
/// lengths are inconsistent.
#[must_use]
pub fn command_data(apdu: &[u8]) -> Option<&[u8]> {
    let body = apdu.get(4..)?; // CLA INS P1 P2
    match *body {
        [] | [_] => Some(&[]), // case 1, case 2 short
        [0, hi, lo, ref rest @ ..] => {
            // Extended length.
            let lc = usize::from(u16::from_be_bytes([hi, lo]));
            if rest.is_empty() {
                return Some(&[]); // case 2 extended (Le = hi lo)
            }
            if lc == 0 {
                return None;
            }
            match rest.len().checked_sub(lc)? {
                0 | 2 => rest.get(..lc), // case 3E / case 4E (2-byte Le)
                _ => None,
            }
        }
        [lc, ref rest @ ..] if lc != 0 => {
            let lc = usize::from(lc);
            match rest.len().checked_sub(lc)? {
                0 | 1 => rest.get(..lc), // case 3S / case 4S (1-byte Le)
                _ => None,
            }
        }
        _ => None,
    }
}

impl VirtualCard for EchoCard {
    fn atr(&self) -> Vec<u8> {
        ECHO_ATR.to_vec()
    }

    fn power_on(&mut self) {
        self.powered = true;
        self.power_ons += 1;
    }

    fn power_off(&mut self) {
        self.powered = false;
        self.power_offs += 1;
    }

    fn reset(&mut self) {
        self.powered = true;
        self.resets += 1;
    }

    fn transmit(&mut self, apdu: &[u8], response: &mut Vec<u8>) {
        self.apdus += 1;
        match command_data(apdu) {
            Some(data) => {
                response.extend_from_slice(data);
                response.extend_from_slice(&SW_OK);
            }
            None => response.extend_from_slice(&SW_WRONG_LENGTH),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo(apdu: &[u8]) -> Vec<u8> {
        let mut card = EchoCard::new();
        let mut response = Vec::new();
        card.transmit(apdu, &mut response);
        response
    }

    #[test]
    fn atr_checksum_is_valid() {
        let tck = ECHO_ATR
            .iter()
            .skip(1)
            .take(ECHO_ATR.len() - 2)
            .fold(0u8, |acc, b| acc ^ b);
        assert_eq!(Some(&tck), ECHO_ATR.last());
    }

    #[test]
    fn cases() {
        assert_eq!(echo(&[0, 0xA4, 0, 0]), [0x90, 0]); // case 1
        assert_eq!(echo(&[0, 0xB0, 0, 0, 0x10]), [0x90, 0]); // case 2S
        assert_eq!(echo(&[0, 0xA4, 0, 0x0C, 2, 0x3F, 0]), [0x3F, 0, 0x90, 0]); // 3S
        assert_eq!(echo(&[0, 0xA4, 0, 0, 2, 0x3F, 0, 0]), [0x3F, 0, 0x90, 0]); // 4S
        assert_eq!(echo(&[0, 0xB0, 0, 0, 0, 1, 0]), [0x90, 0]); // 2E
        assert_eq!(echo(&[0, 0xD6, 0, 0, 0, 0, 2, 7, 8]), [7, 8, 0x90, 0]); // 3E
        assert_eq!(echo(&[0, 0xD6, 0, 0, 0, 0, 1, 9, 0, 0]), [9, 0x90, 0]); // 4E
        let mut big = vec![0x80, 0x10, 0, 0, 0, 0x01, 0x00];
        big.extend((0..256u32).map(|i| i.to_le_bytes()[0]));
        let resp = echo(&big);
        assert_eq!(resp.len(), 258);
        assert_eq!(resp.get(..256), big.get(7..));
    }

    #[test]
    fn malformed() {
        for apdu in [
            &[0u8, 0xA4][..],
            &[0, 0xA4, 0, 0, 3, 1],       // Lc too long
            &[0, 0xA4, 0, 0, 1, 1, 2, 3], // trailing garbage
            &[0, 0xA4, 0, 0, 0, 0],       // truncated extended
            &[0, 0xA4, 0, 0, 0, 0, 0, 1], // extended Lc = 0
        ] {
            assert_eq!(echo(apdu), [0x67, 0], "{apdu:02X?}");
        }
    }

    #[test]
    fn counts_power_events() {
        let mut card = EchoCard::new();
        card.power_on();
        card.reset();
        card.power_off();
        assert!(!card.is_powered());
        assert_eq!(
            (card.power_ons(), card.resets(), card.power_offs()),
            (1, 1, 1)
        );
    }
}
