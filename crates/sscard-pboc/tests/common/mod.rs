//! Test kernel helpers: a card built from the default profile, a T=0-aware exchange,
//! TLV lookup, and the terminal/issuer side's OWN cryptography on the `des` crate (never
//! the card's `crypto` module), so that an error in the card's code cannot hide.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use des::{Des, TdesEde2};
use serde::Deserialize;
use sscard_core::fs::build::{Capacities, Personalizer};
use sscard_core::nvm::{Nvm, RamNvm};
use sscard_core::rng::SplitMixRng;
use sscard_core::{Card, CosOptions, Interface};
use sscard_pboc::PbocApplet;
use sscard_pboc::profile::{PbocProfile, PbocSection};

pub const DEFAULT_PROFILE: &str = include_str!("../../../../vectors/profiles/pboc-default.toml");
pub const ATR: &str = "3B6D00000081535343866051990000000001";
pub const IMK_AC: &str = "0123456789ABCDEFFEDCBA9876543210";
pub const IMK_MAC: &str = "11111111111111111111111111111111";
pub const IMK_ENC: &str = "22222222222222222222222222222222";
pub const PAN: &str = "6212345678901232";
pub const PSN: &str = "01";

pub type TestCard<N = RamNvm<Vec<u8>>> = Card<N, SplitMixRng, (PbocApplet,)>;

#[derive(Deserialize)]
struct ProfileFile {
    pboc: PbocSection,
}

pub fn profile() -> PbocProfile {
    let file: ProfileFile = toml::from_str(DEFAULT_PROFILE).expect("default profile parses");
    file.pboc.build().expect("default profile is valid")
}

/// A personalized card image (64 KiB) with the default profile.
pub fn image() -> Vec<u8> {
    let mut nvm = RamNvm::new(vec![0u8; 64 * 1024]);
    let mut p = Personalizer::format(&mut nvm, Capacities::default(), &hex(ATR)).unwrap();
    profile().personalize(&mut p).unwrap();
    p.finish().unwrap();
    nvm.into_inner()
}

pub fn card_on<N: Nvm>(nvm: N, interface: Interface) -> TestCard<N> {
    let mut card = Card::load(
        nvm,
        SplitMixRng::new(7),
        (PbocApplet::new(),),
        (),
        CosOptions::default(),
    )
    .unwrap();
    card.power_on(interface).unwrap();
    card
}

pub fn card(interface: Interface) -> TestCard {
    card_on(RamNvm::new(image()), interface)
}

pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(s.len().is_multiple_of(2), "odd hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// One raw APDU: (data, SW). Empty answer (mute card) is SW 0.
pub fn raw<N: Nvm>(card: &mut TestCard<N>, apdu: &[u8]) -> (Vec<u8>, u16) {
    let mut out = [0u8; 300];
    let n = card.process(apdu, &mut out);
    if n < 2 {
        return (Vec::new(), 0);
    }
    (
        out[..n - 2].to_vec(),
        u16::from_be_bytes([out[n - 2], out[n - 1]]),
    )
}

/// An exchange as a T=0 terminal does it (python-emv, cardpeek): `61xx` → GET RESPONSE,
/// `6Cxx` → the same command with Le = xx.
pub fn exchange<N: Nvm>(card: &mut TestCard<N>, apdu: &[u8]) -> (Vec<u8>, u16) {
    let (mut data, mut sw) = raw(card, apdu);
    if sw & 0xFF00 == 0x6C00 {
        let mut again = apdu.to_vec();
        *again.last_mut().unwrap() = sw as u8;
        (data, sw) = raw(card, &again);
    }
    while sw & 0xFF00 == 0x6100 {
        let (more, sw2) = raw(card, &[0x00, 0xC0, 0x00, 0x00, sw as u8]);
        data.extend(more);
        sw = sw2;
    }
    (data, sw)
}

pub fn tx<N: Nvm>(card: &mut TestCard<N>, apdu: &str) -> (Vec<u8>, u16) {
    exchange(card, &hex(apdu))
}

/// Sends and asserts the SW; returns the data.
pub fn ok<N: Nvm>(card: &mut TestCard<N>, apdu: &str) -> Vec<u8> {
    let (d, sw) = tx(card, apdu);
    assert_eq!(sw, 0x9000, "{apdu} -> {} {sw:04X}", to_hex(&d));
    d
}

pub fn sw<N: Nvm>(card: &mut TestCard<N>, apdu: &str) -> u16 {
    tx(card, apdu).1
}

/// A command APDU `header ‖ Lc ‖ data ‖ 00`.
pub fn apdu(header: &str, data: &[u8]) -> Vec<u8> {
    let mut v = hex(header);
    v.push(data.len() as u8);
    v.extend_from_slice(data);
    v.push(0);
    v
}

// ----- BER-TLV, written here again on purpose (the kernel's own parser) -----

pub fn tlv_read(b: &[u8]) -> Option<(u32, &[u8], &[u8])> {
    let (&first, mut rest) = b.split_first()?;
    let mut tag = u32::from(first);
    if first & 0x1F == 0x1F {
        loop {
            let (&n, r) = rest.split_first()?;
            tag = (tag << 8) | u32::from(n);
            rest = r;
            if n & 0x80 == 0 {
                break;
            }
        }
    }
    let (&l, mut rest) = rest.split_first()?;
    let len = match l {
        0..=0x7F => usize::from(l),
        0x81 => {
            let (&x, r) = rest.split_first()?;
            rest = r;
            usize::from(x)
        }
        0x82 => {
            let v = usize::from(*rest.first()?) << 8 | usize::from(*rest.get(1)?);
            rest = &rest[2..];
            v
        }
        _ => return None,
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

pub fn is_constructed(tag: u32) -> bool {
    let mut t = tag;
    while t > 0xFF {
        t >>= 8;
    }
    t & 0x20 != 0
}

/// Depth-first search for `tag`.
pub fn find(b: &[u8], tag: u32) -> Option<Vec<u8>> {
    let mut rest = b;
    while !rest.is_empty() {
        let (t, v, r) = tlv_read(rest)?;
        if t == tag {
            return Some(v.to_vec());
        }
        if is_constructed(t)
            && let Some(x) = find(v, tag)
        {
            return Some(x);
        }
        rest = r;
    }
    None
}

/// All occurrences of `tag`.
pub fn find_all(b: &[u8], tag: u32, out: &mut Vec<Vec<u8>>) {
    let mut rest = b;
    while let Some((t, v, r)) = tlv_read(rest) {
        if t == tag {
            out.push(v.to_vec());
        } else if is_constructed(t) {
            find_all(v, tag, out);
        }
        rest = r;
    }
}

/// Parses a DOL into (tag, len).
pub fn dol(b: &[u8]) -> Vec<(u32, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let mut tag = u32::from(b[i]);
        if b[i] & 0x1F == 0x1F {
            loop {
                i += 1;
                tag = (tag << 8) | u32::from(b[i]);
                if b[i] & 0x80 == 0 {
                    break;
                }
            }
        }
        i += 1;
        out.push((tag, usize::from(b[i])));
        i += 1;
    }
    out
}

/// Fills a DOL from (tag, value) pairs; unknown tags are zeros.
pub fn fill_dol(d: &[u8], values: &[(u32, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (tag, len) in dol(d) {
        let v = values
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| hex(v))
            .unwrap_or_else(|| vec![0; len]);
        assert_eq!(v.len(), len, "value for {tag:X}");
        out.extend(v);
    }
    out
}

/// The value a filled DOL carries for `tag`.
pub fn dol_value(d: &[u8], data: &[u8], tag: u32) -> Option<Vec<u8>> {
    let mut at = 0;
    for (t, len) in dol(d) {
        if t == tag {
            return Some(data[at..at + len].to_vec());
        }
        at += len;
    }
    None
}

// ----- The issuer's cryptography (3DES, retail MAC, EMV option A, PBOC session key) -----

pub fn des3(key: &[u8], block: &[u8]) -> [u8; 8] {
    let key: [u8; 16] = key.try_into().unwrap();
    let mut b: [u8; 8] = block.try_into().unwrap();
    TdesEde2::new((&key).into()).encrypt_block((&mut b).into());
    b
}

pub fn des3_decrypt(key: &[u8], block: &[u8]) -> [u8; 8] {
    let key: [u8; 16] = key.try_into().unwrap();
    let mut b: [u8; 8] = block.try_into().unwrap();
    TdesEde2::new((&key).into()).decrypt_block((&mut b).into());
    b
}

fn des_enc(key: &[u8], b: &mut [u8; 8]) {
    let key: [u8; 8] = key.try_into().unwrap();
    Des::new((&key).into()).encrypt_block(b.into());
}

fn des_dec(key: &[u8], b: &mut [u8; 8]) {
    let key: [u8; 8] = key.try_into().unwrap();
    Des::new((&key).into()).decrypt_block(b.into());
}

/// ISO/IEC 9797-1 MAC algorithm 3, padding method 2, IV zero.
pub fn retail_mac(key: &[u8], data: &[u8]) -> [u8; 8] {
    let mut m = data.to_vec();
    m.push(0x80);
    while !m.len().is_multiple_of(8) {
        m.push(0);
    }
    let mut state = [0u8; 8];
    for chunk in m.chunks(8) {
        for (s, c) in state.iter_mut().zip(chunk) {
            *s ^= c;
        }
        des_enc(&key[..8], &mut state);
    }
    des_dec(&key[8..], &mut state);
    des_enc(&key[..8], &mut state);
    state
}

/// EMV option A: rightmost 16 digits of PAN ‖ PSN.
pub fn udk(imk: &str, pan: &str, psn: &str) -> Vec<u8> {
    let digits = format!("{pan}{psn}");
    let d = hex(&digits[digits.len() - 16..]);
    let l = des3(&hex(imk), &d);
    let inv: Vec<u8> = d.iter().map(|b| !b).collect();
    let r = des3(&hex(imk), &inv);
    l.iter()
        .chain(r.iter())
        .map(|b| {
            let hi = b & 0xFE;
            if hi.count_ones() % 2 == 0 { hi | 1 } else { hi }
        })
        .collect()
}

/// PBOC session key: 3DES(UDK, 00×6 ‖ ATC) ‖ 3DES(UDK, 00×6 ‖ ~ATC).
pub fn session_key(udk: &[u8], atc: u16) -> Vec<u8> {
    let [a, b] = atc.to_be_bytes();
    let mut out = des3(udk, &[0, 0, 0, 0, 0, 0, a, b]).to_vec();
    out.extend(des3(udk, &[0, 0, 0, 0, 0, 0, !a, !b]));
    out
}

pub fn udk_ac() -> Vec<u8> {
    udk(IMK_AC, PAN, PSN)
}
pub fn udk_mac() -> Vec<u8> {
    udk(IMK_MAC, PAN, PSN)
}
pub fn udk_enc() -> Vec<u8> {
    udk(IMK_ENC, PAN, PSN)
}

/// CVN 01 cryptogram input: the 8 terminal fields taken from a DOL, AIP, ATC, CVR.
pub fn ac_input(d: &[u8], data: &[u8], aip: &[u8], atc: u16, cvr: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    for (tag, len) in sscard_pboc::CVN01_TERMINAL_FIELDS {
        m.extend(dol_value(d, data, tag).unwrap_or_else(|| vec![0; len]));
    }
    m.extend_from_slice(aip);
    m.extend(atc.to_be_bytes());
    m.extend_from_slice(cvr);
    m
}

pub fn expected_ac(d: &[u8], data: &[u8], aip: &[u8], atc: u16, cvr: &[u8]) -> [u8; 8] {
    retail_mac(
        &session_key(&udk_ac(), atc),
        &ac_input(d, data, aip, atc, cvr),
    )
}

pub fn arpc(arqc: &[u8], arc: &[u8], atc: u16) -> [u8; 8] {
    let mut b = arqc.to_vec();
    b[0] ^= arc[0];
    b[1] ^= arc[1];
    des3(&session_key(&udk_ac(), atc), &b)
}

/// An issuer script command with its MAC over header ‖ Lc ‖ ATC ‖ AC ‖ data.
pub fn script(header: &str, data: &[u8], atc: u16, ac: &[u8]) -> Vec<u8> {
    let h = hex(header);
    let lc = (data.len() + 4) as u8;
    let mut m = h.clone();
    m.push(lc);
    m.extend(atc.to_be_bytes());
    m.extend_from_slice(ac);
    m.extend_from_slice(data);
    let mac = retail_mac(&session_key(&udk_mac(), atc), &m);
    let mut cmd = h;
    cmd.push(lc);
    cmd.extend_from_slice(data);
    cmd.extend_from_slice(&mac[..4]);
    cmd
}

/// A parsed format-1 GENERATE AC answer.
#[derive(Debug)]
pub struct AcResponse {
    pub cid: u8,
    pub atc: u16,
    pub ac: Vec<u8>,
    pub iad: Vec<u8>,
}

impl AcResponse {
    pub fn parse(r: &[u8]) -> AcResponse {
        let (tag, v, _) = tlv_read(r).unwrap();
        assert_eq!(tag, 0x80, "format 1");
        AcResponse {
            cid: v[0],
            atc: u16::from_be_bytes([v[1], v[2]]),
            ac: v[3..11].to_vec(),
            iad: v[11..].to_vec(),
        }
    }
    /// CVR (4 bytes, `03` + 3) from the IAD (§2.7 bytes 4–7).
    pub fn cvr(&self) -> Vec<u8> {
        self.iad[3..7].to_vec()
    }
}
