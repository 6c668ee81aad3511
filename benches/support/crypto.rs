//! The card's cryptography, the RustCrypto crates it wraps and OpenSSL 3, doing the same
//! work: one function per (operation, implementation), shared by the criterion bench
//! (`benches/crypto.rs`, wall time) and the instruction counter
//! (`benches/crypto_count.rs` under callgrind).
//!
//! * `sscard` — the card's own `crypto` module (what the card runs);
//! * `RustCrypto` — the crate the module wraps, called directly for the same result
//!   (shows what the wrapper adds: key-length checks, zeroizing, chaining, folding);
//! * `OpenSSL` — OpenSSL 3 through the `openssl` crate (EVP), cipher and digest contexts
//!   and keys prepared outside the loop wherever OpenSSL allows reusing them.
//!
//! SM2 in OpenSSL: the distinguishing ID is set with `EVP_PKEY_CTX_set1_id` (a libcrypto
//! function the `openssl` crates do not bind; declared here) on the context of each
//! `EVP_DigestSign`/`EVP_DigestVerify`, so OpenSSL hashes `Z_A` for every signature
//! (its API has no way to keep it); the card caches `Z_A` of its own key
//! (`Sm2KeyPair`). Verification starts from the public key's bytes on all three sides
//! (point decoding and check, `Z_A`), as the card does with a key from a certificate.
//! [`Ops::new`] checks that the three give the same results (and that each side's
//! SM2 signatures verify on the other) before anything is measured.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use cipher::array::Array;
use cipher::{BlockCipherEncrypt, KeyInit};
use openssl::bn::{BigNum, BigNumContext};
use openssl::cipher::{Cipher, CipherRef};
use openssl::cipher_ctx::CipherCtx;
use openssl::ec::{EcGroup, EcGroupRef, EcKey, EcPoint};
use openssl::md::Md;
use openssl::md_ctx::MdCtx;
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, PKey, Private, Public};
use sm2::dsa::signature::{Signer, Verifier};
use sscard_core::crypto::{
    Algorithm, CardCipher, SM2_DEFAULT_ID, Sm2KeyPair, auth_data, card_mac, session_key, sm2_verify,
};

/// The implementations, in report order.
pub const OURS: &str = "sscard";
/// The RustCrypto crate called directly.
pub const CRATE: &str = "RustCrypto";
/// OpenSSL 3 (EVP).
pub const OPENSSL: &str = "OpenSSL";

const KEY: [u8; 16] = [
    0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10,
];
const INPUT: [u8; 8] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
const P: [u8; 8] = [0xA5; 8];
const SM2_SECRET: [u8; 32] = [
    0x39, 0x45, 0x20, 0x8F, 0x7B, 0x21, 0x44, 0xB1, 0x3F, 0x36, 0xE3, 0x8A, 0xC6, 0xD3, 0x9F, 0x95,
    0x88, 0x93, 0x93, 0x69, 0x28, 0x60, 0xB5, 0x1A, 0x42, 0xFB, 0x81, 0xEF, 0x4D, 0xF7, 0xC5, 0xB8,
];
const SM2_ID: &str = "1234567812345678";

/// `EVP_PKEY_CTX_set1_id` (OpenSSL ≥ 1.1.1; a function since 3.0): the SM2
/// distinguishing ID of a signing or verifying context.
mod ffi {
    use std::ffi::{c_int, c_void};

    use foreign_types_shared::ForeignTypeRef;
    use openssl::pkey_ctx::PkeyCtxRef;

    unsafe extern "C" {
        fn EVP_PKEY_CTX_set1_id(
            ctx: *mut openssl_sys::EVP_PKEY_CTX,
            id: *const c_void,
            len: c_int,
        ) -> c_int;
    }

    /// Sets the distinguishing ID of `ctx` (a context from `digest_sign_init` /
    /// `digest_verify_init` on an SM2 key).
    pub fn set_sm2_id<T>(ctx: &mut PkeyCtxRef<T>, id: &[u8]) {
        let len = c_int::try_from(id.len()).expect("short ID");
        // SAFETY: `ctx` is a live EVP_PKEY_CTX owned by its EVP_MD_CTX for this call;
        // OpenSSL copies `len` bytes from `id`, which outlives the call.
        let ok = unsafe { EVP_PKEY_CTX_set1_id(ctx.as_ptr(), id.as_ptr().cast(), len) };
        assert_eq!(ok, 1, "EVP_PKEY_CTX_set1_id");
    }
}

/// Everything the operations need, prepared once.
pub struct Ops {
    sm4: CardCipher,
    sm4_raw: sm4::Sm4,
    sm4_ecb: CipherCtx,
    sm4_cbc: CipherCtx,
    tdes: CardCipher,
    tdes_raw: des::TdesEde2,
    tdes_ecb: CipherCtx,
    md: MdCtx,
    data64: [u8; 64],
    data1k: Vec<u8>,
    sm2: Sm2KeyPair,
    sm2_raw: sm2::dsa::SigningKey,
    sm2_ossl: PKey<Private>,
    sm2_public: [u8; 64],
    sm2_sec1: [u8; 65],
    sm2_group: EcGroup,
    bn: BigNumContext,
    msg: [u8; 32],
    sig: [u8; 64],
    sig_der: Vec<u8>,
    rsa_n: Vec<u8>,
    rsa_e: Vec<u8>,
    rsa_crt: [Vec<u8>; 5],
    rsa_ossl: openssl::rsa::Rsa<Private>,
    rsa_in: Vec<u8>,
    rsa_out: Vec<u8>,
}

/// One measured operation: its group (the operation) and its implementation.
pub struct Case {
    /// What is measured.
    pub group: &'static str,
    /// Whose code: [`OURS`], [`CRATE`] or [`OPENSSL`].
    pub implementation: &'static str,
    /// One operation.
    pub run: fn(&mut Ops),
}

macro_rules! cases {
    ($($group:literal => [$($imp:ident : $f:ident),+ $(,)?]),+ $(,)?) => {
        /// Every operation, grouped, in report order.
        pub const CASES: &[Case] = &[$($(Case { group: $group, implementation: $imp, run: $f }),+),+];
    };
}

cases! {
    "SM4 one block (key scheduled)" =>
        [OURS: sm4_block_ours, CRATE: sm4_block_crate, OPENSSL: sm4_block_openssl],
    "SM4 session key (key schedule + one block)" =>
        [OURS: sm4_session_ours, CRATE: sm4_session_crate, OPENSSL: sm4_session_openssl],
    "SM4 authentication data (session key + auth data)" =>
        [OURS: sm4_auth_ours, CRATE: sm4_auth_crate, OPENSSL: sm4_auth_openssl],
    "SM4 card MAC over 64 bytes" =>
        [OURS: sm4_mac_ours, CRATE: sm4_mac_crate, OPENSSL: sm4_mac_openssl],
    "3DES (2-key EDE) one block (key scheduled)" =>
        [OURS: tdes_block_ours, CRATE: tdes_block_crate, OPENSSL: tdes_block_openssl],
    "SM3 64 bytes" => [OURS: sm3_64_ours, CRATE: sm3_64_crate, OPENSSL: sm3_64_openssl],
    "SM3 1 KiB" => [OURS: sm3_1k_ours, CRATE: sm3_1k_crate, OPENSSL: sm3_1k_openssl],
    "SM2 sign (ID 1234567812345678, 32-byte message)" =>
        [OURS: sm2_sign_ours, CRATE: sm2_sign_crate, OPENSSL: sm2_sign_openssl],
    "SM2 verify (ID 1234567812345678, key from bytes)" =>
        [OURS: sm2_verify_ours, CRATE: sm2_verify_crate, OPENSSL: sm2_verify_openssl],
    "RSA-1024 private operation (the ICC key, CRT; sscard checks with e)" =>
        [OURS: rsa_private_ours, OPENSSL: rsa_private_openssl],
    "RSA-1024 DDA signature (Book 2 Table 17: SHA-1 + private operation)" =>
        [OURS: rsa_dda_ours, OPENSSL: rsa_dda_openssl],
}

/// The default card's ICC RSA key (TEST ONLY, `vectors/pboc/test-keys/icc.pem`).
const ICC_PEM: &[u8] = include_bytes!("../../vectors/pboc/test-keys/icc.pem");
/// DDA input of the measured signatures: ICC dynamic number and the DDOL data (`9F37`).
const DDA_NUMBER: [u8; 8] = [0x00, 0x01, 1, 2, 3, 4, 5, 6];
const DDA_UN: [u8; 4] = [0xCA, 0xFE, 0xBA, 0xBE];
fn rsa_key(o: &Ops) -> sscard_pboc::rsa_oda::RsaCrtKey<'_> {
    let [p, q, dp, dq, qinv] = &o.rsa_crt;
    sscard_pboc::rsa_oda::RsaCrtKey::new(&o.rsa_n, &o.rsa_e, [p, q, dp, dq, qinv]).unwrap()
}

fn rsa_private(o: &mut Ops, imp: &str) -> Out {
    let out = if imp == OURS {
        rsa_key(o)
            .private_operation(black_box(&o.rsa_in))
            .unwrap()
            .to_vec()
    } else {
        let n = o
            .rsa_ossl
            .private_encrypt(
                black_box(&o.rsa_in),
                &mut o.rsa_out,
                openssl::rsa::Padding::NONE,
            )
            .unwrap();
        o.rsa_out[..n].to_vec()
    };
    result(&out[..32])
}
fn rsa_private_ours(o: &mut Ops) {
    black_box(rsa_private(o, OURS));
}
fn rsa_private_openssl(o: &mut Ops) {
    black_box(rsa_private(o, OPENSSL));
}

fn rsa_dda(o: &mut Ops, imp: &str) -> Out {
    let out = if imp == OURS {
        sscard_pboc::rsa_oda::signed_dynamic_data(&rsa_key(o), &DDA_NUMBER, &[&DDA_UN])
            .unwrap()
            .to_vec()
    } else {
        // The same recovered data, hashed and raised by OpenSSL.
        let mut data = vec![0x05, 0x01, 9, 8];
        data.extend_from_slice(&DDA_NUMBER);
        data.resize(128 - 22, 0xBB);
        let mut hashed = data.clone();
        hashed.extend_from_slice(&DDA_UN);
        let digest = openssl::hash::hash(openssl::hash::MessageDigest::sha1(), &hashed).unwrap();
        let mut block = vec![0x6A];
        block.extend_from_slice(&data);
        block.extend_from_slice(&digest);
        block.push(0xBC);
        let n = o
            .rsa_ossl
            .private_encrypt(&block, &mut o.rsa_out, openssl::rsa::Padding::NONE)
            .unwrap();
        o.rsa_out[..n].to_vec()
    };
    result(&out[..32])
}
fn rsa_dda_ours(o: &mut Ops) {
    black_box(rsa_dda(o, OURS));
}
fn rsa_dda_openssl(o: &mut Ops) {
    black_box(rsa_dda(o, OPENSSL));
}

/// An OpenSSL cipher context for `cipher` keyed with `key`, no padding.
fn openssl_ctx(cipher: &CipherRef, key: &[u8]) -> CipherCtx {
    let mut ctx = CipherCtx::new().unwrap();
    ctx.encrypt_init(Some(cipher), Some(key), None).unwrap();
    ctx.set_padding(false);
    ctx
}

/// The same SM2 key in OpenSSL.
fn openssl_sm2_key(group: &EcGroupRef, secret: &[u8; 32]) -> PKey<Private> {
    let d = BigNum::from_slice(secret).unwrap();
    let mut bn = BigNumContext::new().unwrap();
    let mut public = EcPoint::new(group).unwrap();
    public.mul_generator2(group, &d, &mut bn).unwrap();
    let key = EcKey::from_private_components(group, &d, &public).unwrap();
    // An EC key on the SM2 curve becomes an SM2 key (OpenSSL 3: EVP_PKEY_assign).
    PKey::from_ec_key(key).unwrap()
}

/// An OpenSSL public key from `04 ‖ X ‖ Y`, as the card gets one from a certificate.
fn openssl_public(group: &EcGroupRef, bn: &mut BigNumContext, sec1: &[u8]) -> PKey<Public> {
    let point = EcPoint::from_bytes(group, sec1, bn).unwrap();
    PKey::from_ec_key(EcKey::from_public_key(group, &point).unwrap()).unwrap()
}

fn openssl_sign(pkey: &PKey<Private>, msg: &[u8]) -> Vec<u8> {
    let mut ctx = MdCtx::new().unwrap();
    let pctx = ctx.digest_sign_init(Some(Md::sm3()), pkey).unwrap();
    ffi::set_sm2_id(pctx, SM2_DEFAULT_ID);
    let mut der = vec![0u8; 80];
    let n = ctx.digest_sign(msg, Some(&mut der)).unwrap();
    der.truncate(n);
    der
}

fn openssl_verify<T: HasPublic>(pkey: &PKey<T>, msg: &[u8], der: &[u8]) -> bool {
    let mut ctx = MdCtx::new().unwrap();
    let pctx = ctx.digest_verify_init(Some(Md::sm3()), pkey).unwrap();
    ffi::set_sm2_id(pctx, SM2_DEFAULT_ID);
    ctx.digest_verify(msg, der).unwrap_or(false)
}

/// `r ‖ s` from an ECDSA-Sig-Value DER.
fn der_to_rs(der: &[u8]) -> [u8; 64] {
    let sig = openssl::ecdsa::EcdsaSig::from_der(der).unwrap();
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&sig.r().to_vec_padded(32).unwrap());
    out[32..].copy_from_slice(&sig.s().to_vec_padded(32).unwrap());
    out
}

fn rs_to_der(rs: &[u8; 64]) -> Vec<u8> {
    let r = BigNum::from_slice(&rs[..32]).unwrap();
    let s = BigNum::from_slice(&rs[32..]).unwrap();
    openssl::ecdsa::EcdsaSig::from_private_components(r, s)
        .unwrap()
        .to_der()
        .unwrap()
}

/// An operation's result, at the front of a zeroed buffer (no allocation while measuring).
type Out = [u8; 32];

fn result(bytes: &[u8]) -> Out {
    let mut o = [0u8; 32];
    o[..bytes.len()].copy_from_slice(bytes);
    o
}

fn fold(s: &[u8]) -> [u8; 4] {
    core::array::from_fn(|i| s[i] ^ s[i + 4] ^ s[i + 8] ^ s[i + 12])
}

impl Ops {
    /// Prepares keys and contexts, and checks that the implementations agree.
    pub fn new() -> Ops {
        let sm2_group = EcGroup::from_curve_name(Nid::SM2).unwrap();
        let sm2 = Sm2KeyPair::from_secret_bytes(&SM2_SECRET).unwrap();
        let sm2_public = *sm2.public_key_xy();
        let mut sm2_sec1 = [0x04u8; 65];
        sm2_sec1[1..].copy_from_slice(&sm2_public);
        let msg: [u8; 32] = core::array::from_fn(|i| (i * 7) as u8);
        let sig = sm2.sign(SM2_DEFAULT_ID, &msg).unwrap();
        let des_ede = Cipher::fetch(None, "DES-EDE-ECB", None).unwrap();
        let rsa_ossl = PKey::private_key_from_pem(ICC_PEM).unwrap().rsa().unwrap();
        let rsa_n = rsa_ossl.n().to_vec();
        let rsa_e = rsa_ossl.e().to_vec();
        let rsa_crt = [
            rsa_ossl.p().unwrap().to_vec(),
            rsa_ossl.q().unwrap().to_vec(),
            rsa_ossl.dmp1().unwrap().to_vec(),
            rsa_ossl.dmq1().unwrap().to_vec(),
            rsa_ossl.iqmp().unwrap().to_vec(),
        ];
        let mut rsa_in = vec![0x6Au8; rsa_n.len()];
        rsa_in[rsa_n.len() - 1] = 0xBC;
        let mut ops = Ops {
            sm4: CardCipher::new(Algorithm::Sm4, &KEY).unwrap(),
            sm4_raw: sm4::Sm4::new(&KEY.into()),
            sm4_ecb: openssl_ctx(Cipher::sm4_ecb(), &KEY),
            sm4_cbc: openssl_ctx(Cipher::sm4_cbc(), &KEY),
            tdes: CardCipher::new(Algorithm::Des3, &KEY).unwrap(),
            tdes_raw: des::TdesEde2::new(&KEY.into()),
            tdes_ecb: openssl_ctx(&des_ede, &KEY),
            md: MdCtx::new().unwrap(),
            data64: core::array::from_fn(|i| i as u8),
            data1k: (0..1024).map(|i| i as u8).collect(),
            sm2_raw: sm2::dsa::SigningKey::new(
                SM2_ID,
                &sm2::SecretKey::from_slice(&SM2_SECRET).unwrap(),
            )
            .unwrap(),
            sm2_ossl: openssl_sm2_key(&sm2_group, &SM2_SECRET),
            sm2,
            sm2_public,
            sm2_sec1,
            sm2_group,
            bn: BigNumContext::new().unwrap(),
            msg,
            sig,
            sig_der: rs_to_der(&sig),
            rsa_out: vec![0u8; rsa_n.len()],
            rsa_n,
            rsa_e,
            rsa_crt,
            rsa_ossl,
            rsa_in,
        };
        ops.check();
        ops
    }

    fn check(&mut self) {
        let same = |a: Out, b: Out, c: Out, what: &str| {
            assert_eq!(a, b, "{what}: sscard = RustCrypto");
            assert_eq!(a, c, "{what}: sscard = OpenSSL");
        };
        same(
            sm4_block(self, OURS),
            sm4_block(self, CRATE),
            sm4_block(self, OPENSSL),
            "SM4",
        );
        same(
            sm4_session(self, OURS),
            sm4_session(self, CRATE),
            sm4_session(self, OPENSSL),
            "SM4 session key",
        );
        same(
            sm4_auth(self, OURS),
            sm4_auth(self, CRATE),
            sm4_auth(self, OPENSSL),
            "auth data",
        );
        same(
            sm4_mac(self, OURS),
            sm4_mac(self, CRATE),
            sm4_mac(self, OPENSSL),
            "MAC",
        );
        same(
            tdes_block(self, OURS),
            tdes_block(self, CRATE),
            tdes_block(self, OPENSSL),
            "3DES",
        );
        for len in [64, 1024] {
            same(
                sm3(self, OURS, len),
                sm3(self, CRATE, len),
                sm3(self, OPENSSL, len),
                "SM3",
            );
        }
        // SM2: deterministic signing (RFC 6979) makes the crate's and ours equal; each
        // side verifies the other's signature, with the ID, and not with another ID.
        let raw: sm2::dsa::Signature = self.sm2_raw.sign(&self.msg);
        assert_eq!(raw.to_bytes()[..], self.sig[..], "SM2: sscard = RustCrypto");
        assert!(openssl_verify(&self.sm2_ossl, &self.msg, &self.sig_der));
        let theirs = der_to_rs(&openssl_sign(&self.sm2_ossl, &self.msg));
        assert!(sm2_verify(
            &self.sm2_public,
            SM2_DEFAULT_ID,
            &self.msg,
            &theirs
        ));
        assert!(!sm2_verify(
            &self.sm2_public,
            b"another",
            &self.msg,
            &theirs
        ));
        sm2_verify_ours(self);
        sm2_verify_crate(self);
        sm2_verify_openssl(self);
        assert_eq!(
            rsa_private(self, OURS),
            rsa_private(self, OPENSSL),
            "RSA private operation: sscard = OpenSSL"
        );
        assert_eq!(
            rsa_dda(self, OURS),
            rsa_dda(self, OPENSSL),
            "DDA signature: sscard = OpenSSL"
        );
    }
}

impl Default for Ops {
    fn default() -> Self {
        Ops::new()
    }
}

// The operations, each with its result returned for the checks.

fn sm4_block(o: &mut Ops, imp: &str) -> Out {
    let mut b = [0x5Au8; 16];
    match imp {
        OURS => o.sm4.encrypt_block(black_box(&mut b)).unwrap(),
        CRATE => o.sm4_raw.encrypt_block(black_box((&mut b).into())),
        _ => {
            let mut out = [0u8; 32];
            o.sm4_ecb
                .cipher_update(black_box(&b), Some(&mut out))
                .unwrap();
            b.copy_from_slice(&out[..16]);
        }
    }
    result(&black_box(b))
}

fn sm4_session(o: &mut Ops, imp: &str) -> Out {
    let input = black_box(&INPUT);
    match imp {
        OURS => {
            let sk = session_key(Algorithm::Sm4, black_box(&KEY), input).unwrap();
            result(black_box(sk.as_bytes()))
        }
        CRATE => {
            let c = sm4::Sm4::new(black_box(&KEY).into());
            let mut b = Array::from([0u8; 16]);
            b[..8].copy_from_slice(input);
            c.encrypt_block(&mut b);
            result(&black_box(b))
        }
        _ => {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(input);
            let mut out = [0u8; 32];
            o.sm4_ecb
                .encrypt_init(None, Some(black_box(&KEY)), None)
                .unwrap();
            o.sm4_ecb.cipher_update(&b, Some(&mut out)).unwrap();
            result(black_box(&out[..16]))
        }
    }
}

fn sm4_auth(o: &mut Ops, imp: &str) -> Out {
    let (input, p) = (black_box(&INPUT), black_box(&P));
    match imp {
        OURS => {
            let sk = session_key(Algorithm::Sm4, black_box(&KEY), input).unwrap();
            result(&black_box(auth_data(&sk.cipher(), p)))
        }
        CRATE => {
            let mut s = Array::from([0u8; 16]);
            s[..8].copy_from_slice(input);
            sm4::Sm4::new(black_box(&KEY).into()).encrypt_block(&mut s);
            let mut t = Array::from([0u8; 16]);
            t[..8].copy_from_slice(p);
            sm4::Sm4::new(&s).encrypt_block(&mut t);
            let ad: [u8; 8] = core::array::from_fn(|i| t[i] ^ t[i + 8]);
            result(&black_box(ad))
        }
        _ => {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(input);
            let mut sk = [0u8; 32];
            o.sm4_ecb
                .encrypt_init(None, Some(black_box(&KEY)), None)
                .unwrap();
            o.sm4_ecb.cipher_update(&b, Some(&mut sk)).unwrap();
            let mut t = [0u8; 16];
            t[..8].copy_from_slice(p);
            let mut out = [0u8; 32];
            o.sm4_ecb.encrypt_init(None, Some(&sk[..16]), None).unwrap();
            o.sm4_ecb.cipher_update(&t, Some(&mut out)).unwrap();
            let ad: [u8; 8] = core::array::from_fn(|i| out[i] ^ out[i + 8]);
            result(&black_box(ad))
        }
    }
}

fn sm4_mac(o: &mut Ops, imp: &str) -> Out {
    let data = black_box(&o.data64);
    let mac = match imp {
        OURS => card_mac(&o.sm4, &[], data).unwrap(),
        CRATE => {
            const PAD: [u8; 16] = [0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            let mut st = Array::from([0u8; 16]);
            for chunk in data.chunks(16).chain([&PAD[..]]) {
                for (s, d) in st.iter_mut().zip(chunk) {
                    *s ^= d;
                }
                o.sm4_raw.encrypt_block(&mut st);
            }
            fold(&st)
        }
        _ => {
            // The padding is part of the work: the card pads as it chains.
            let mut padded = [0u8; 80];
            padded[..64].copy_from_slice(data);
            padded[64] = 0x80;
            let mut out = [0u8; 96];
            o.sm4_cbc
                .encrypt_init(None, None, Some(&[0u8; 16]))
                .unwrap();
            o.sm4_cbc.cipher_update(&padded, Some(&mut out)).unwrap();
            fold(&out[64..80])
        }
    };
    result(&black_box(mac))
}

fn tdes_block(o: &mut Ops, imp: &str) -> Out {
    let mut b = [0x5Au8; 8];
    match imp {
        OURS => o.tdes.encrypt_block(black_box(&mut b)).unwrap(),
        CRATE => o.tdes_raw.encrypt_block(black_box((&mut b).into())),
        _ => {
            let mut out = [0u8; 16];
            o.tdes_ecb
                .cipher_update(black_box(&b), Some(&mut out))
                .unwrap();
            b.copy_from_slice(&out[..8]);
        }
    }
    result(&black_box(b))
}

fn sm3(o: &mut Ops, imp: &str, len: usize) -> Out {
    let data = black_box(if len == 64 {
        &o.data64[..]
    } else {
        &o.data1k[..]
    });
    let digest: [u8; 32] = match imp {
        OURS => sscard_core::crypto::sm3(data),
        CRATE => {
            use sm3::Digest;
            sm3::Sm3::digest(data).into()
        }
        _ => {
            let mut out = [0u8; 32];
            o.md.digest_init(Md::sm3()).unwrap();
            o.md.digest_update(data).unwrap();
            o.md.digest_final(&mut out).unwrap();
            out
        }
    };
    result(&black_box(digest))
}

// The entry points: one per case, never inlined.

macro_rules! entry {
    ($($name:ident => $body:expr;)+) => {
        $(
            #[inline(never)]
            pub fn $name(o: &mut Ops) {
                #[allow(clippy::redundant_closure_call)]
                black_box(($body)(o));
            }
        )+
    };
}

entry! {
    sm4_block_ours => |o: &mut Ops| sm4_block(o, OURS);
    sm4_block_crate => |o: &mut Ops| sm4_block(o, CRATE);
    sm4_block_openssl => |o: &mut Ops| sm4_block(o, OPENSSL);
    sm4_session_ours => |o: &mut Ops| sm4_session(o, OURS);
    sm4_session_crate => |o: &mut Ops| sm4_session(o, CRATE);
    sm4_session_openssl => |o: &mut Ops| sm4_session(o, OPENSSL);
    sm4_auth_ours => |o: &mut Ops| sm4_auth(o, OURS);
    sm4_auth_crate => |o: &mut Ops| sm4_auth(o, CRATE);
    sm4_auth_openssl => |o: &mut Ops| sm4_auth(o, OPENSSL);
    sm4_mac_ours => |o: &mut Ops| sm4_mac(o, OURS);
    sm4_mac_crate => |o: &mut Ops| sm4_mac(o, CRATE);
    sm4_mac_openssl => |o: &mut Ops| sm4_mac(o, OPENSSL);
    tdes_block_ours => |o: &mut Ops| tdes_block(o, OURS);
    tdes_block_crate => |o: &mut Ops| tdes_block(o, CRATE);
    tdes_block_openssl => |o: &mut Ops| tdes_block(o, OPENSSL);
    sm3_64_ours => |o: &mut Ops| sm3(o, OURS, 64);
    sm3_64_crate => |o: &mut Ops| sm3(o, CRATE, 64);
    sm3_64_openssl => |o: &mut Ops| sm3(o, OPENSSL, 64);
    sm3_1k_ours => |o: &mut Ops| sm3(o, OURS, 1024);
    sm3_1k_crate => |o: &mut Ops| sm3(o, CRATE, 1024);
    sm3_1k_openssl => |o: &mut Ops| sm3(o, OPENSSL, 1024);
    sm2_sign_ours => |o: &mut Ops| o.sm2.sign(SM2_DEFAULT_ID, black_box(&o.msg)).unwrap();
    sm2_sign_crate => |o: &mut Ops| -> sm2::dsa::Signature { o.sm2_raw.sign(black_box(&o.msg)) };
    sm2_sign_openssl => |o: &mut Ops| openssl_sign(&o.sm2_ossl, black_box(&o.msg));
    sm2_verify_ours => |o: &mut Ops| {
        assert!(sm2_verify(black_box(&o.sm2_public), SM2_DEFAULT_ID, black_box(&o.msg), &o.sig));
    };
    sm2_verify_crate => |o: &mut Ops| {
        let key = sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_ID, black_box(&o.sm2_sec1)).unwrap();
        let sig = sm2::dsa::Signature::from_slice(&o.sig).unwrap();
        assert!(key.verify(black_box(&o.msg), &sig).is_ok());
    };
    sm2_verify_openssl => |o: &mut Ops| {
        let key = openssl_public(&o.sm2_group, &mut o.bn, black_box(&o.sm2_sec1));
        assert!(openssl_verify(&key, black_box(&o.msg), &o.sig_der));
    };
}
