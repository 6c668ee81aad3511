//! Exchanges as a PC/SC terminal makes them: hex in and out, and the T=0 loop
//! (`6Cxx`: resend with Le = xx; `61xx`: GET RESPONSE until the data is all there;
//! ISO/IEC 7816-3 §12.2.5, ISO/IEC 7816-4 §5.1.3); and the `.apdu` script files that
//! hold exchanges. Test support: bad hex or an unreadable folder panics.
#![allow(clippy::restriction)]

use sscard_core::nvm::Nvm;
use sscard_core::rng::CardRng;
use sscard_core::{Applets, Card, DfApplication};
use std::path::{Path, PathBuf};

/// `s` as bytes; whitespace between the digits is allowed.
pub fn hex(s: &str) -> Vec<u8> {
    let digits: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    match ::hex::decode(&digits) {
        Ok(bytes) => bytes,
        Err(e) => panic!("bad hex {s:?}: {e}"),
    }
}

/// `b` in upper-case hex, without separators.
pub fn to_hex(b: &[u8]) -> String {
    ::hex::encode_upper(b)
}

/// Every `.apdu` script below `dir`, in path order.
pub fn apdu_scripts(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "apdu") {
                out.push(path);
            }
        }
    }
    let mut scripts = Vec::new();
    walk(dir, &mut scripts);
    scripts.sort();
    scripts
}

/// The T=0 loop over any card answering `process(apdu) -> data ‖ SW` (empty: mute).
/// Returns the data and the last SW; a mute card gives `(empty, 0)`.
pub fn t0_exchange(mut process: impl FnMut(&[u8]) -> Vec<u8>, apdu: &[u8]) -> (Vec<u8>, u16) {
    let mut response = process(apdu);
    let Some([sw1, sw2]) = sw_of(&response) else {
        return (Vec::new(), 0);
    };
    if sw1 == 0x6C {
        let mut again = apdu.to_vec();
        // A case-2 command (Le in P3) takes the new Le in place; a case-4 one gains it.
        if apdu.len() == 5 || (apdu.len() > 5 && usize::from(apdu[4]) + 6 == apdu.len()) {
            *again.last_mut().unwrap() = sw2;
        } else {
            again.push(sw2);
        }
        response = process(&again);
    }
    let mut data = Vec::new();
    loop {
        let Some([sw1, sw2]) = sw_of(&response) else {
            return (data, 0);
        };
        data.extend_from_slice(&response[..response.len() - 2]);
        if sw1 != 0x61 {
            return (data, u16::from_be_bytes([sw1, sw2]));
        }
        response = process(&[0x00, 0xC0, 0x00, 0x00, sw2]);
    }
}

fn sw_of(response: &[u8]) -> Option<[u8; 2]> {
    let n = response.len();
    (n >= 2).then(|| [response[n - 2], response[n - 1]])
}

/// One raw `process` call: the response data ‖ SW (empty when the card is mute).
pub fn process<N: Nvm, R: CardRng, A: Applets, D: DfApplication>(
    card: &mut Card<N, R, A, D>,
    apdu: &[u8],
) -> Vec<u8> {
    let mut out = vec![0u8; sscard_core::card::MAX_RESPONSE_CAPACITY];
    let n = card.process(apdu, &mut out);
    out.truncate(n);
    out
}

/// [`t0_exchange`] with a card in this process.
pub fn send<N: Nvm, R: CardRng, A: Applets, D: DfApplication>(
    card: &mut Card<N, R, A, D>,
    apdu: &[u8],
) -> (Vec<u8>, u16) {
    t0_exchange(|c| process(card, c), apdu)
}

/// [`send`] with the command in hex.
pub fn send_hex<N: Nvm, R: CardRng, A: Applets, D: DfApplication>(
    card: &mut Card<N, R, A, D>,
    apdu: &str,
) -> (Vec<u8>, u16) {
    send(card, &hex(apdu))
}

/// Raw exchange, hex in and hex out (data ‖ SW), no T=0 handling.
pub fn tx<N: Nvm, R: CardRng, A: Applets, D: DfApplication>(
    card: &mut Card<N, R, A, D>,
    apdu: &str,
) -> String {
    to_hex(&process(card, &hex(apdu)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_resends_on_6c_and_collects_61() {
        let mut log = Vec::new();
        let (data, sw) = t0_exchange(
            |apdu| {
                log.push(apdu.to_vec());
                match apdu {
                    [0x00, 0xB2, 0x01, 0x04, 0x00] => vec![0x6C, 0x03],
                    [0x00, 0xB2, 0x01, 0x04, 0x03] => vec![1, 0x61, 0x02],
                    [0x00, 0xC0, 0x00, 0x00, 0x02] => vec![2, 3, 0x90, 0x00],
                    _ => vec![],
                }
            },
            &[0x00, 0xB2, 0x01, 0x04, 0x00],
        );
        assert_eq!((data, sw), (vec![1, 2, 3], 0x9000));
        assert_eq!(log.len(), 3);
        assert_eq!(
            t0_exchange(|_| vec![], &[0x00, 0x84, 0x00, 0x00]),
            (vec![], 0)
        );
        assert_eq!(hex("00 A4"), [0x00, 0xA4]);
        assert_eq!(to_hex(&[0xAB, 0x01]), "AB01");
    }
}
