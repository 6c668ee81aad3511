//! Command APDUs (zero-copy view, encoder) and the response writer.
//!
//! Length rules are those of ISO/IEC 7816-3 §12.1.3 (cases 1, 2S, 3S, 4S, 2E, 3E, 4E):
//! a short Le of `00` means 256, an extended Le of `0000` means 65536, and a body whose
//! length disagrees with Lc is `6700` (LD/T 32 P5 T5), never a panic.
//! [`CommandView::parse`] checks everything once; afterwards no accessor can fail.

use crate::status::Status;

/// Largest Lc an extended APDU can carry.
pub const MAX_EXTENDED_LC: usize = 65535;
/// Largest Le value (extended `0000`).
pub const MAX_EXTENDED_LE: u32 = 65536;

/// ISO 7816-3 §12.1.3 command cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    /// No data, no Le.
    One,
    /// Le only.
    Two,
    /// Lc and data, no Le.
    Three,
    /// Lc, data and Le.
    Four,
}

/// A parsed command APDU borrowing its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandView<'a> {
    raw: &'a [u8],
    header: [u8; 4],
    data: &'a [u8],
    le: Option<u32>,
    extended: bool,
}

impl<'a> CommandView<'a> {
    /// Parses and length-checks a command APDU. Every malformed length is `6700`.
    pub fn parse(raw: &'a [u8]) -> Result<Self, Status> {
        let (header, body) = match raw {
            [cla, ins, p1, p2, body @ ..] => ([*cla, *ins, *p1, *p2], body),
            _ => return Err(Status::WrongLength),
        };
        let view = |data, le, extended| CommandView {
            raw,
            header,
            data,
            le,
            extended,
        };
        match body {
            // Case 1.
            [] => Ok(view(&[][..], None, false)),
            // Case 2S: Le = 00 means 256.
            [le] => Ok(view(&[][..], Some(short_le(*le)), false)),
            // Extended forms start with a 00 byte followed by at least two more bytes.
            [0, hi, lo, rest @ ..] => {
                let n = u16::from_be_bytes([*hi, *lo]);
                match rest {
                    // Case 2E.
                    [] => Ok(view(&[][..], Some(extended_le(n)), true)),
                    _ if n == 0 => Err(Status::WrongLength),
                    _ => {
                        let lc = usize::from(n);
                        if rest.len() == lc {
                            Ok(view(rest, None, true)) // Case 3E.
                        } else if rest.len() == lc + 2 {
                            let (data, le) = rest.split_at(lc);
                            match le {
                                [a, b] => Ok(view(
                                    data,
                                    Some(extended_le(u16::from_be_bytes([*a, *b]))),
                                    true,
                                )),
                                _ => Err(Status::WrongLength),
                            }
                        } else {
                            Err(Status::WrongLength)
                        }
                    }
                }
            }
            [lc, rest @ ..] if *lc != 0 => {
                let lc = usize::from(*lc);
                if rest.len() == lc {
                    Ok(view(rest, None, false)) // Case 3S.
                } else if rest.len() == lc + 1 {
                    let (data, le) = rest.split_at(lc);
                    match le {
                        [le] => Ok(view(data, Some(short_le(*le)), false)), // Case 4S.
                        _ => Err(Status::WrongLength),
                    }
                } else {
                    Err(Status::WrongLength)
                }
            }
            _ => Err(Status::WrongLength),
        }
    }

    /// The whole APDU as received.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }
    /// CLA byte.
    pub fn cla(&self) -> u8 {
        self.header[0]
    }
    /// INS byte.
    pub fn ins(&self) -> u8 {
        self.header[1]
    }
    /// P1 byte.
    pub fn p1(&self) -> u8 {
        self.header[2]
    }
    /// P2 byte.
    pub fn p2(&self) -> u8 {
        self.header[3]
    }
    /// P1 and P2 as a big-endian u16.
    pub fn p1p2(&self) -> u16 {
        u16::from_be_bytes([self.header[2], self.header[3]])
    }
    /// CLA INS P1 P2.
    pub fn header(&self) -> [u8; 4] {
        self.header
    }
    /// Command data (empty for cases 1 and 2).
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
    /// Lc, 0 when absent.
    pub fn lc(&self) -> usize {
        self.data.len()
    }
    /// Le in bytes (1..=256 short, 1..=65536 extended), `None` when absent.
    pub fn le(&self) -> Option<u32> {
        self.le
    }
    /// True if Le was encoded as zero (00 / 0000): "as much as available".
    pub fn le_is_max(&self) -> bool {
        matches!(
            (self.le, self.extended),
            (Some(256), false) | (Some(MAX_EXTENDED_LE), true)
        )
    }
    /// True for the extended-length encoding.
    pub fn is_extended(&self) -> bool {
        self.extended
    }
    /// The ISO command case.
    pub fn case(&self) -> Case {
        match (self.data.is_empty(), self.le.is_some()) {
            (true, false) => Case::One,
            (true, true) => Case::Two,
            (false, false) => Case::Three,
            (false, true) => Case::Four,
        }
    }
    /// Secure messaging is signalled by the second CLA nibble = 4 (LD/T 32 P4 §8.1).
    pub fn is_secure_messaging(&self) -> bool {
        self.cla() & 0x0C == 0x04
    }
}

fn short_le(le: u8) -> u32 {
    if le == 0 { 256 } else { u32::from(le) }
}

fn extended_le(le: u16) -> u32 {
    if le == 0 {
        MAX_EXTENDED_LE
    } else {
        u32::from(le)
    }
}

/// Encodes a command APDU into `out`, short when possible, extended otherwise.
/// `le` is the expected length in bytes (1..=65536), `None` for no Le.
/// Returns the encoded length; `6700` if the values cannot be encoded or `out` is too small.
pub fn encode_command(
    header: [u8; 4],
    data: &[u8],
    le: Option<u32>,
    out: &mut [u8],
) -> Result<usize, Status> {
    let short = data.len() <= 255 && le.is_none_or(|l| (1..=256).contains(&l));
    let mut w = Writer::new(out);
    w.push(&header)?;
    if short {
        if !data.is_empty() {
            w.push(&[data.len() as u8])?;
            w.push(data)?;
        }
        if let Some(le) = le {
            w.push(&[le as u8])?; // 256 wraps to 00 by design.
        }
    } else {
        if data.len() > MAX_EXTENDED_LC || le.is_some_and(|l| !(1..=MAX_EXTENDED_LE).contains(&l)) {
            return Err(Status::WrongLength);
        }
        w.push(&[0])?;
        if !data.is_empty() {
            w.push(&(data.len() as u16).to_be_bytes())?;
            w.push(data)?;
        }
        if let Some(le) = le {
            w.push(&(le as u16).to_be_bytes())?; // 65536 wraps to 0000 by design.
        }
    }
    Ok(w.len())
}

/// An append-only writer over a caller's buffer; running out of room is an error, not a
/// panic. Used for response data.
#[derive(Debug)]
pub struct Writer<'b> {
    pub(crate) buf: &'b mut [u8],
    pub(crate) len: usize,
}

impl<'b> Writer<'b> {
    /// A writer starting at the beginning of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Writer { buf, len: 0 }
    }
    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True if nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Remaining room.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.len)
    }
    /// Total capacity.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }
    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
    /// Appends `bytes`; `6700` if they do not fit (the caller asked for more than the
    /// transport can carry).
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Status> {
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or(Status::WrongLength)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(Status::WrongLength)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
    /// Appends one byte.
    pub fn push_byte(&mut self, b: u8) -> Result<(), Status> {
        self.push(&[b])
    }
    /// Reserves `n` bytes and returns them for the caller to fill.
    pub fn reserve(&mut self, n: usize) -> Result<&mut [u8], Status> {
        let start = self.len;
        let end = start.checked_add(n).ok_or(Status::WrongLength)?;
        if end > self.buf.len() {
            return Err(Status::WrongLength);
        }
        self.len = end;
        self.buf.get_mut(start..end).ok_or(Status::WrongLength)
    }
    /// Drops everything after the first `len` bytes.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
    /// Forgets everything written.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::prelude::rust_2024::*;

    fn p(b: &[u8]) -> Result<CommandView<'_>, Status> {
        CommandView::parse(b)
    }

    #[test]
    fn the_four_short_cases() {
        let c = p(&[0x00, 0x84, 0x00, 0x00]).unwrap();
        assert_eq!((c.case(), c.le()), (Case::One, None));
        let c = p(&[0x00, 0xB2, 0x01, 0x04, 0x00]).unwrap();
        assert_eq!(
            (c.case(), c.le(), c.le_is_max()),
            (Case::Two, Some(256), true)
        );
        let c = p(&[0x00, 0x84, 0x00, 0x00, 0x08]).unwrap();
        assert_eq!(c.le(), Some(8));
        let b = hex("00A4040002EF05");
        let c = p(&b).unwrap();
        assert_eq!((c.case(), c.data()), (Case::Three, &[0xEF, 0x05][..]));
        let b = hex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF00");
        let c = p(&b).unwrap();
        assert_eq!((c.case(), c.lc(), c.le()), (Case::Four, 15, Some(256)));
    }

    #[test]
    fn extended_cases() {
        let c = p(&[0x00, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x00]).unwrap();
        assert_eq!(
            (c.case(), c.le(), c.is_extended()),
            (Case::Two, Some(65536), true)
        );
        let mut v = vec![0x00, 0xD6, 0x00, 0x00, 0x00, 0x01, 0x2C];
        v.extend(std::iter::repeat_n(0xAB, 300));
        let c = p(&v).unwrap();
        assert_eq!((c.case(), c.lc()), (Case::Three, 300));
        v.extend([0x10, 0x00]);
        let c = p(&v).unwrap();
        assert_eq!((c.case(), c.le()), (Case::Four, Some(4096)));
    }

    #[test]
    fn length_mismatches_are_6700() {
        for bad in [
            &[][..],
            &[0x00],
            &[0x00, 0xA4, 0x04],
            &[0x00, 0xA4, 0x04, 0x00, 0x02, 0xEF], // body shorter than Lc
            &[0x00, 0xA4, 0x04, 0x00, 0x02, 0xEF, 0x05, 0x00, 0x00], // two bytes too many
            &[0x00, 0xA4, 0x04, 0x00, 0x00, 0x01], // 00 then one byte
            &[0x00, 0xA4, 0x04, 0x00, 0x00, 0x00, 0x00, 0x01], // extended Lc=0 with data
            &[0x00, 0xA4, 0x04, 0x00, 0x00, 0x00, 0x02, 0x01], // extended body short
        ] {
            assert_eq!(p(bad), Err(Status::WrongLength), "{bad:02X?}");
        }
    }

    #[test]
    fn secure_messaging_bit() {
        assert!(p(&hex("841E000104AABBCCDD")).unwrap().is_secure_messaging());
        assert!(p(&hex("04DC0104021122")).unwrap().is_secure_messaging());
        assert!(!p(&hex("00DC0104021122")).unwrap().is_secure_messaging());
    }

    #[test]
    fn writer_refuses_overflow() {
        let mut buf = [0u8; 3];
        let mut w = Writer::new(&mut buf);
        w.push(&[1, 2]).unwrap();
        assert_eq!(w.push(&[3, 4]), Err(Status::WrongLength));
        assert_eq!(w.written(), &[1, 2]);
        assert!(w.reserve(2).is_err());
        w.reserve(1).unwrap()[0] = 9;
        assert_eq!(w.written(), &[1, 2, 9]);
    }

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(c) = CommandView::parse(&bytes) {
                prop_assert!(c.data().len() <= bytes.len());
                prop_assert_eq!(c.raw(), &bytes[..]);
            }
        }

        #[test]
        fn encode_parse_round_trip(
            header in any::<[u8; 4]>(),
            data in proptest::collection::vec(any::<u8>(), 0..400),
            le in proptest::option::of(1u32..=65536),
        ) {
            let mut out = vec![0u8; 70_000];
            let n = encode_command(header, &data, le, &mut out).unwrap();
            let c = CommandView::parse(&out[..n]).unwrap();
            prop_assert_eq!(c.header(), header);
            prop_assert_eq!(c.data(), &data[..]);
            prop_assert_eq!(c.le(), le);
        }
    }
}
