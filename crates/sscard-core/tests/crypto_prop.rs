//! Property tests: SM encryption round-trips, random ciphertexts and random
//! inputs never panic, incremental MACs equal one-shot MACs.
#![allow(clippy::restriction)]

use proptest::prelude::*;
use sscard_core::crypto::{
    Algorithm, CardCipher, CryptoError, Mac, card_factor, card_mac, diversify, retail_mac,
    session_key, sm_decrypt, sm_decrypt_in_place, sm_encrypt, sm_encrypted_len, sm2_verify,
    tac_key, udk_option_a,
};

fn cipher_strategy() -> impl Strategy<Value = CardCipher> {
    (
        prop_oneof![Just(8usize), Just(16usize), Just(0usize)],
        any::<[u8; 16]>(),
    )
        .prop_map(|(len, key)| {
            if len == 0 {
                CardCipher::new(Algorithm::Sm4, &key).unwrap()
            } else {
                CardCipher::new(Algorithm::Des3, &key[..len]).unwrap()
            }
        })
}

proptest! {
    #[test]
    fn sm_roundtrip(c in cipher_strategy(), x in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut ct = [0u8; 80];
        let n = sm_encrypt(&c, &x, &mut ct).unwrap();
        prop_assert_eq!(n, sm_encrypted_len(c.algorithm(), x.len()));
        prop_assert_eq!(n % c.block_len(), 0);
        let mut out = [0u8; 80];
        let pt = sm_decrypt(&c, &ct[..n], &mut out).unwrap();
        prop_assert_eq!(pt, &x[..]);
        let pt = sm_decrypt_in_place(&c, &mut ct[..n]).unwrap();
        prop_assert_eq!(pt, &x[..]);
    }

    #[test]
    fn sm_decrypt_random_never_panics(
        c in cipher_strategy(),
        ct in proptest::collection::vec(any::<u8>(), 0..80),
        out_len in 0usize..90,
    ) {
        let mut out = vec![0u8; out_len];
        match sm_decrypt(&c, &ct, &mut out) {
            Ok(pt) => prop_assert!(pt.len() < ct.len()),
            Err(e) => prop_assert!(matches!(
                e,
                CryptoError::NotBlockAligned
                    | CryptoError::BufferTooSmall
                    | CryptoError::BadLength
                    | CryptoError::BadPadding
            )),
        }
        let mut buf = ct.clone();
        let _ = sm_decrypt_in_place(&c, &mut buf);
    }

    #[test]
    fn sm_encrypt_small_buffers(c in cipher_strategy(), len in 0usize..300, out_len in 0usize..300) {
        let x = vec![0xA5u8; len];
        let mut out = vec![0u8; out_len];
        match sm_encrypt(&c, &x, &mut out) {
            Ok(n) => prop_assert!(n <= out_len && len <= 255),
            Err(e) => prop_assert!(e == CryptoError::InputLength || e == CryptoError::BufferTooSmall),
        }
    }

    #[test]
    fn mac_split_equals_one_shot(
        c in cipher_strategy(),
        data in proptest::collection::vec(any::<u8>(), 0..100),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..5),
        iv in proptest::collection::vec(any::<u8>(), 0..17),
    ) {
        let whole = card_mac(&c, &iv, &data);
        let Ok(whole) = whole else {
            prop_assert!(iv.len() > c.block_len());
            return Ok(());
        };
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
        points.sort_unstable();
        let mut m = Mac::new(&c, &iv).unwrap();
        let mut prev = 0;
        for p in points {
            m.update(&data[prev..p]);
            prev = p;
        }
        m.update(&data[prev..]);
        prop_assert_eq!(m.finish(), whole);
    }

    #[test]
    fn retail_split_equals_one_shot(
        key in any::<[u8; 16]>(),
        iv in any::<[u8; 8]>(),
        data in proptest::collection::vec(any::<u8>(), 0..70),
        cut in any::<prop::sample::Index>(),
    ) {
        let cut = cut.index(data.len() + 1);
        prop_assert_eq!(
            retail_mac(&key, &iv, &[&data[..cut], &data[cut..]]),
            retail_mac(&key, &iv, &[&data])
        );
    }

    #[test]
    fn arbitrary_lengths_never_panic(
        id in any::<u8>(),
        key in proptest::collection::vec(any::<u8>(), 0..40),
        input in proptest::collection::vec(any::<u8>(), 0..40),
        factor in any::<[u8; 8]>(),
    ) {
        if let Some(alg) = Algorithm::from_id(id) {
            let ok_key = alg.accepts_key_len(key.len());
            prop_assert_eq!(CardCipher::new(alg, &key).is_ok(), ok_key);
            let _ = session_key(alg, &key, &input);
            prop_assert_eq!(diversify(alg, &key, &factor).is_ok(), ok_key);
            prop_assert_eq!(tac_key(alg, &key).is_ok(), key.len() == 16);
            if let Ok(c) = CardCipher::new(alg, &key) {
                let mut block = input.clone();
                prop_assert_eq!(c.encrypt_block(&mut block).is_ok(), input.len() == c.block_len());
                prop_assert_eq!(c.decrypt_block(&mut block).is_ok(), input.len() == c.block_len());
                prop_assert_eq!(c.encrypt_ecb(&mut block).is_ok(), input.len() % c.block_len() == 0);
            }
        } else {
            prop_assert!(id != 0x01 && id != 0x03);
        }
        let _ = card_factor(&input);
        let _ = udk_option_a(&[0x42; 16], &input, id);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn sm2_verify_random_is_false(
        public in any::<[u8; 32]>(),
        sig in any::<[u8; 32]>(),
        id in proptest::collection::vec(any::<u8>(), 0..20),
        msg in proptest::collection::vec(any::<u8>(), 0..20),
    ) {
        let mut p = [0u8; 64];
        p[..32].copy_from_slice(&public);
        p[32..].copy_from_slice(&public);
        let mut s = [0u8; 64];
        s[..32].copy_from_slice(&sig);
        s[32..].copy_from_slice(&sig);
        prop_assert!(!sm2_verify(&p, &id, &msg, &s));
    }
}
