//! Answer-to-reset: parsing the contact ATR and building the contactless one.
//!
//! The contact ATR is personalized (LD/T 32 P2 §8.2: `3B 6x 00 00 <historical bytes>`).
//! On the contactless interface a PC/SC reader synthesises the ATR of an ISO 14443-4
//! card from its historical bytes (PC/SC Part 3 §3.1.3.2.3.1):
//! `3B 8n 80 01 <n historical bytes> TCK`, TCK = XOR of T0 … last historical byte.

use heapless::Vec;

/// Longest ATR (TS + 32 characters).
pub const MAX_ATR_LEN: usize = 33;

/// An ATR.
pub type Atr = Vec<u8, MAX_ATR_LEN>;

/// The historical bytes of `atr` (ISO 7816-3 §8.2), or `None` if the ATR is malformed
/// or truncated.
pub fn historical_bytes(atr: &[u8]) -> Option<&[u8]> {
    let (&ts, rest) = atr.split_first()?;
    if ts != 0x3B && ts != 0x3F {
        return None;
    }
    let (&t0, mut rest) = rest.split_first()?;
    let k = usize::from(t0 & 0x0F);
    let mut y = InterfaceBytes::of(t0);
    loop {
        let plain = (y & (InterfaceBytes::TA | InterfaceBytes::TB | InterfaceBytes::TC))
            .bits()
            .count_ones() as usize;
        rest = rest.get(plain..)?;
        if !y.contains(InterfaceBytes::TD) {
            break;
        }
        let (&td, tail) = rest.split_first()?;
        rest = tail;
        y = InterfaceBytes::of(td);
    }
    rest.get(..k)
}

bitflags::bitflags! {
    /// The indicator Y in the high nibble of T0 and of every TDi: which interface bytes
    /// of the next group follow (ISO/IEC 7816-3:2006 §8.2.2).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct InterfaceBytes: u8 {
        /// b5: TAi follows.
        const TA = 0x01;
        /// b6: TBi follows.
        const TB = 0x02;
        /// b7: TCi follows.
        const TC = 0x04;
        /// b8: TDi follows (another group).
        const TD = 0x08;
    }
}

impl InterfaceBytes {
    /// Y of a T0 or TDi byte.
    pub fn of(byte: u8) -> Self {
        InterfaceBytes::from_bits_retain(byte >> 4)
    }
}

/// The ATR a PC/SC reader reports for an ISO 14443-4 card with these historical bytes
/// (at most 15).
pub fn contactless_atr(historical: &[u8]) -> Option<Atr> {
    if historical.len() > 15 {
        return None;
    }
    let mut atr = Atr::new();
    let t0 = 0x80 | historical.len() as u8;
    atr.extend_from_slice(&[0x3B, t0, 0x80, 0x01]).ok()?;
    atr.extend_from_slice(historical).ok()?;
    let tck = atr.iter().skip(1).fold(0u8, |x, b| x ^ b);
    atr.push(tck).ok()?;
    Some(atr)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const GEN3: [u8; 17] = [
        0x3B, 0x6D, 0x00, 0x00, 0x00, 0x81, 0x4A, 0x44, 0x46, 0x86, 0x60, 0x51, 0x99, 0x00, 0x00,
        0x01, 0xAC,
    ];

    #[test]
    fn historical_bytes_of_real_atrs() {
        // gen-3 test card ATR (spec/ssc.md §1): TB1 TC1 present, 13 historical bytes.
        assert_eq!(historical_bytes(&GEN3).unwrap(), &GEN3[4..]);
        // TA1 variant 3B 7D 94 00 00 ...
        let ta1 = [
            0x3B, 0x7D, 0x94, 0x00, 0x00, 0x00, 0x81, 0x50, 0x22, 0x08, 0x86, 0x43, 0x1E, 0x10,
            0xC9, 0x02, 0x27, 0x36,
        ];
        assert_eq!(historical_bytes(&ta1).unwrap(), &ta1[5..]);
        // TD1/TD2 chain: 3B 9x 18 81 31 FE ... (T=1)
        let td = [0x3B, 0x8A, 0x80, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0x00];
        assert_eq!(historical_bytes(&td).unwrap(), &td[4..14]);
        assert_eq!(historical_bytes(&GEN3[..10]), None);
        assert_eq!(historical_bytes(&[]), None);
        assert_eq!(historical_bytes(&[0x3B, 0xF0]), None);
    }

    #[test]
    fn contactless_atr_has_tck() {
        let atr = contactless_atr(&GEN3[4..]).unwrap();
        assert_eq!(&atr[..4], &[0x3B, 0x8D, 0x80, 0x01]);
        assert_eq!(atr.iter().skip(1).fold(0, |x, b| x ^ b), 0);
        assert_eq!(historical_bytes(&atr).unwrap(), &GEN3[4..]);
    }
}
