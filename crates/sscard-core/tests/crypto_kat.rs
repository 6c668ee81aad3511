//! Known-answer tests from published standards and independent sources.
//!
//! * SM4: GB/T 32907-2016 Appendix A (examples 1 and 2).
//! * SM3: GB/T 32905-2016 Appendix A (examples 1 and 2).
//! * SM2: GB/T 32918 / GM/T 0003 recommended-curve signature example
//!   (ID `1234567812345678`, message "message digest"); the same vector is in
//!   ww-rm/gmalg `tests.py` (`test_sign2`).
//! * DES: the classic FIPS 46 worked example (key 133457799BBCDFF1).
//! * PIN hash (ssc.md §9 item 4): SM3 of the PIN `12 34 56` as returned by a real
//!   card, and the SM4 PIN-verify cryptogram from an issuing tool's trace.
//! * EMV: pyemv (`tests/test_kd_hsm.py`) IMK KCV and Option-A card key KCV.
#![allow(clippy::restriction)]

use sscard_core::crypto::{
    Algorithm, CardCipher, SM2_DEFAULT_ID, Sm2KeyPair, Sm3Hasher, kcv, sm2_verify, sm3,
    udk_option_a,
};
use sscard_core::rng::{CardRng, SplitMixRng};

fn h<const N: usize>(s: &str) -> [u8; N] {
    let v: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    v.try_into().unwrap()
}

#[test]
fn sm4_gbt32907_example_1() {
    let key: [u8; 16] = h("0123456789abcdeffedcba9876543210");
    let c = CardCipher::new(Algorithm::Sm4, &key).unwrap();
    let mut b = key;
    c.encrypt_block(&mut b).unwrap();
    assert_eq!(b, h::<16>("681edf34d206965e86b3e94f536e4246"));
    c.decrypt_block(&mut b).unwrap();
    assert_eq!(b, key);
}

/// 1,000,000 encryptions of the block under the same key (about 1.5 s in a
/// debug build on the reference machine).
#[test]
fn sm4_gbt32907_example_2_million_rounds() {
    let key: [u8; 16] = h("0123456789abcdeffedcba9876543210");
    let c = CardCipher::new(Algorithm::Sm4, &key).unwrap();
    let mut b = key;
    for _ in 0..1_000_000 {
        c.encrypt_block(&mut b).unwrap();
    }
    assert_eq!(b, h::<16>("595298c7c6fd271f0402f804c33d3f66"));
}

#[test]
fn des_fips46_example() {
    let c = CardCipher::new(Algorithm::Des3, &h::<8>("133457799BBCDFF1")).unwrap();
    let mut b: [u8; 8] = h("0123456789ABCDEF");
    c.encrypt_block(&mut b).unwrap();
    assert_eq!(b, h::<8>("85E813540F0AB405"));
}

#[test]
fn sm3_gbt32905_examples() {
    assert_eq!(
        sm3(b"abc"),
        h::<32>("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    );
    let abcd = b"abcd".repeat(16);
    let want = h::<32>("debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
    assert_eq!(sm3(&abcd), want);
    let mut hasher = Sm3Hasher::new();
    for chunk in abcd.chunks(7) {
        hasher.update(chunk);
    }
    assert_eq!(hasher.finalize(), want);
}

#[test]
fn pki_pin_hash_and_verify_cryptogram() {
    let hash = sm3(&[0x12, 0x34, 0x56]);
    assert_eq!(
        hash,
        h::<32>("3DE741F445DD357BEA4E6C3FE6437036F62B5E3EC0F00D62796EDB4305ED627F")
    );
    let c = CardCipher::new(Algorithm::Sm4, &hash[..16]).unwrap();
    let mut challenge: [u8; 16] = h("178CEDCF32C5D7990216632170C7CD37");
    c.encrypt_block(&mut challenge).unwrap();
    assert_eq!(challenge, h::<16>("358B51056B9B9EB2C96B20E7DB7A6B8F"));
}

const SM2_D: &str = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";
const SM2_X: &str = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020";
const SM2_Y: &str = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";
const SM2_R: &str = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3";
const SM2_S: &str = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA";

fn concat64(a: &str, b: &str) -> [u8; 64] {
    h(&format!("{a}{b}"))
}

#[test]
fn sm2_recommended_curve_example() {
    let kp = Sm2KeyPair::from_secret_bytes(&h(SM2_D)).unwrap();
    let public = concat64(SM2_X, SM2_Y);
    assert_eq!(kp.public_key_xy(), &public);
    assert_eq!(*kp.secret_bytes(), h::<32>(SM2_D));

    let sig = concat64(SM2_R, SM2_S);
    let msg = b"message digest";
    assert!(sm2_verify(&public, SM2_DEFAULT_ID, msg, &sig));
    // Every single-bit flip of the signature, message or ID must fail.
    for bit in [0usize, 7, 255, 256, 300, 511] {
        let mut bad = sig;
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(
            !sm2_verify(&public, SM2_DEFAULT_ID, msg, &bad),
            "sig bit {bit}"
        );
    }
    assert!(!sm2_verify(
        &public,
        SM2_DEFAULT_ID,
        b"message digesu",
        &sig
    ));
    assert!(!sm2_verify(&public, b"1234567812345679", msg, &sig));
    let mut bad_pub = public;
    bad_pub[63] ^= 1;
    assert!(!sm2_verify(&bad_pub, SM2_DEFAULT_ID, msg, &sig));
    assert!(!sm2_verify(&[0; 64], SM2_DEFAULT_ID, msg, &sig));
    assert!(!sm2_verify(&public, SM2_DEFAULT_ID, msg, &[0; 64]));
    assert!(!sm2_verify(&public, SM2_DEFAULT_ID, msg, &[0xFF; 64]));

    // Our own (deterministic, RFC 6979) signature verifies and is stable.
    let ours = kp.sign(SM2_DEFAULT_ID, msg).unwrap();
    assert!(sm2_verify(&public, SM2_DEFAULT_ID, msg, &ours));
    assert_eq!(ours, kp.sign(SM2_DEFAULT_ID, msg).unwrap());
    let mut flipped = ours;
    flipped[10] ^= 0x20;
    assert!(!sm2_verify(&public, SM2_DEFAULT_ID, msg, &flipped));
    // Multi-part signing equals signing the concatenation.
    let parts = kp
        .sign_parts(SM2_DEFAULT_ID, &[b"message", b" ", b"digest"])
        .unwrap();
    assert_eq!(parts, ours);

    // A non-default ID binds the signature to that ID.
    let alice = kp.sign(b"ALICE123@YAHOO.COM", msg).unwrap();
    assert!(sm2_verify(&public, b"ALICE123@YAHOO.COM", msg, &alice));
    assert!(!sm2_verify(&public, SM2_DEFAULT_ID, msg, &alice));
}

#[test]
fn sm2_generate() {
    let mut rng = SplitMixRng::new(42);
    let kp = Sm2KeyPair::generate(|b| rng.fill(b)).unwrap();
    let again = Sm2KeyPair::from_secret_bytes(&kp.secret_bytes()).unwrap();
    assert_eq!(kp.public_key_xy(), again.public_key_xy());
    let sig = kp.sign(SM2_DEFAULT_ID, b"x").unwrap();
    assert!(sm2_verify(kp.public_key_xy(), SM2_DEFAULT_ID, b"x", &sig));

    // A broken source (constant zero / all ones) gives an error, not a loop.
    assert_eq!(
        Sm2KeyPair::generate(|b| b.fill(0)).err(),
        Some(sscard_core::crypto::CryptoError::RngFailure)
    );
    assert!(Sm2KeyPair::generate(|b| b.fill(0xFF)).is_err());
    // A source that is bad only at first is retried.
    let mut calls = 0;
    let kp = Sm2KeyPair::generate(|b| {
        calls += 1;
        b.fill(if calls < 3 { 0 } else { 0x11 });
    })
    .unwrap();
    assert_eq!(calls, 3);
    assert_eq!(*kp.secret_bytes(), [0x11; 32]);
}

#[test]
fn pyemv_kcvs() {
    let imk: [u8; 16] = h("0123456789ABCDEFFEDCBA9876543210");
    assert_eq!(kcv(Algorithm::Des3, &imk).unwrap()[..2], h::<2>("08D7"));
    let udk = udk_option_a(&imk, b"12345678901234567", 0x45).unwrap();
    assert_eq!(kcv(Algorithm::Des3, &udk[..]).unwrap()[..2], h::<2>("FF08"));
}
