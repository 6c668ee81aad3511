//! Independent implementations of the card algorithms (LD/T 32 P4 §8–9, P9 §7),
//! written from the spec text directly on the `sm4`, `des` and `sm3` crates, not on the
//! card's `crypto` module, so a bug there cannot hide from the tests that compare with
//! them. Test support: a bad key length panics.
#![allow(clippy::restriction, missing_docs)]

use cipher::array::Array;
use cipher::{BlockCipherEncrypt, KeyInit};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Alg {
    Sm4,
    Tdes,
}

pub fn block(alg: Alg) -> usize {
    match alg {
        Alg::Sm4 => 16,
        Alg::Tdes => 8,
    }
}

pub fn encrypt(alg: Alg, key: &[u8], data: &mut [u8]) {
    match (alg, key.len()) {
        (Alg::Sm4, 16) => ecb(&sm4::Sm4::new_from_slice(key).unwrap(), data),
        (Alg::Tdes, 16) => ecb(&des::TdesEde2::new_from_slice(key).unwrap(), data),
        (Alg::Tdes, 8) => ecb(&des::Des::new_from_slice(key).unwrap(), data),
        _ => panic!("bad key"),
    }
}

/// Each whole block of `data` encrypted in place.
fn ecb<C: BlockCipherEncrypt>(cipher: &C, data: &mut [u8]) {
    for chunk in data.chunks_mut(C::block_size()) {
        let mut b = Array::try_from(&*chunk).unwrap();
        cipher.encrypt_block(&mut b);
        chunk.copy_from_slice(&b);
    }
}

/// Diversification (P9 §7.1.1 / §7.2.1).
pub fn diversify(alg: Alg, key: &[u8], f: [u8; 8]) -> Vec<u8> {
    let not_f = f.map(|b| !b);
    match alg {
        Alg::Sm4 => {
            let mut b = [f, not_f].concat();
            encrypt(alg, key, &mut b);
            b
        }
        Alg::Tdes => {
            let mut l = f.to_vec();
            let mut r = not_f.to_vec();
            encrypt(alg, key, &mut l);
            encrypt(alg, key, &mut r);
            [l, r].concat()
        }
    }
}

/// Card key = div(div(root, ASCII(area) ‖ "sx"), historical bytes 6–13).
pub fn card_key(alg: Alg, root: &[u8], area: &str, hist: &[u8]) -> Vec<u8> {
    let mut city = [0u8; 8];
    city[..6].copy_from_slice(area.as_bytes());
    city[6..].copy_from_slice(b"sx");
    let card: [u8; 8] = hist[5..13].try_into().unwrap();
    diversify(alg, &diversify(alg, root, city), card)
}

/// Session key (P4 §8.4): input right-padded with 00 to a block.
pub fn session_key(alg: Alg, key: &[u8], input: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; block(alg)];
    b[..input.len()].copy_from_slice(input);
    encrypt(alg, key, &mut b);
    b
}

/// MAC1, MAC2 and TAC of a medical-purse purchase of type '2' (P7 §12.4–12.6), as a PSAM and the
/// card compute them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurchaseMacs {
    /// MAC(SESPK, amounts ‖ type ‖ terminal ‖ time): the terminal's proof.
    pub mac1: Vec<u8>,
    /// MAC(SESPK, amounts): the card's proof.
    pub mac2: Vec<u8>,
    /// MAC(DTK, amounts ‖ type ‖ terminal ‖ TTSN ‖ time).
    pub tac: Vec<u8>,
}

impl PurchaseMacs {
    /// Asserts that the card's MAC1, MAC2 and TAC are these.
    pub fn assert_proofs(&self, mac1: &[u8], mac2: &[u8], tac: &[u8]) {
        assert_eq!(
            ::hex::encode_upper(mac1),
            ::hex::encode_upper(&self.mac1),
            "MAC1"
        );
        assert_eq!(
            ::hex::encode_upper(mac2),
            ::hex::encode_upper(&self.mac2),
            "MAC2"
        );
        assert_eq!(
            ::hex::encode_upper(tac),
            ::hex::encode_upper(&self.tac),
            "TAC"
        );
    }
}

/// [`PurchaseMacs`] from the card's purchase key DPK and TAC key DTK (`keys`), the
/// INITIALIZE FOR PURCHASE answer and the DEBIT FOR PURCHASE command (`exchange`):
/// SESPK = KS(DPK, random ‖ sequence ‖ TTSN[2..4]).
pub fn purchase_macs(
    alg: Alg,
    [dpk, dtk]: &[Vec<u8>; 2],
    [init, debit]: [&[u8]; 2],
    amounts: &[u8],
    terminal: &[u8],
) -> PurchaseMacs {
    let (ttsn, time) = (&debit[5..9], &debit[9..16]);
    let sespk = session_key(
        alg,
        dpk,
        &[&init[18..22], &init[14..16], &ttsn[2..4]].concat(),
    );
    PurchaseMacs {
        mac1: mac(alg, &sespk, &[amounts, b"2", terminal, time].concat()),
        mac2: mac(alg, &sespk, amounts),
        tac: mac(alg, dtk, &[amounts, b"2", terminal, ttsn, time].concat()),
    }
}

/// Authentication data (P4 §9.3).
pub fn auth_data(alg: Alg, sk: &[u8], p: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; block(alg)];
    b[..8].copy_from_slice(p);
    encrypt(alg, sk, &mut b);
    match alg {
        Alg::Tdes => b,
        Alg::Sm4 => (0..8).map(|i| b[i] ^ b[i + 8]).collect(),
    }
}

/// MAC (P4 §8.2.4): ISO 9797-1 padding 2, CBC from a zero IV, 4 bytes.
pub fn mac(alg: Alg, sk: &[u8], data: &[u8]) -> Vec<u8> {
    let n = block(alg);
    let mut m = data.to_vec();
    m.push(0x80);
    while !m.len().is_multiple_of(n) {
        m.push(0);
    }
    let mut state = vec![0u8; n];
    for chunk in m.chunks(n) {
        for (s, c) in state.iter_mut().zip(chunk) {
            *s ^= c;
        }
        encrypt(alg, sk, &mut state);
    }
    match alg {
        Alg::Tdes => state[..4].to_vec(),
        Alg::Sm4 => (0..4)
            .map(|i| state[i] ^ state[i + 4] ^ state[i + 8] ^ state[i + 12])
            .collect(),
    }
}

/// SM3(data)[0..16], from the `sm3` crate directly.
pub fn sm3_first16(data: &[u8]) -> Vec<u8> {
    use sm3::Digest;
    sm3::Sm3::digest(data)[..16].to_vec()
}

/// SM data encryption (P4 §8.3): LD ‖ data, 80 00.. padding only if not aligned, ECB.
pub fn sm_encrypt(alg: Alg, sk: &[u8], plain: &[u8]) -> Vec<u8> {
    let n = block(alg);
    let mut m = vec![plain.len() as u8];
    m.extend_from_slice(plain);
    if !m.len().is_multiple_of(n) {
        m.push(0x80);
        while !m.len().is_multiple_of(n) {
            m.push(0);
        }
    }
    encrypt(alg, sk, &mut m);
    m
}
