//! Card-specific constructions checked against vectors produced by an
//! independent Python implementation (`vectors/crypto/gen_vectors.py`, DES/3DES
//! from pycryptodome, SM3/SM4/SM2 from gmssl), written from the specification
//! text and not from this crate.
#![allow(clippy::restriction)]

use std::collections::{BTreeMap, HashMap};

use sscard_core::crypto::{
    Algorithm, CardCipher, CardKey, Mac, Sm2KeyPair, arpc_method1, auth_data, card_factor,
    card_mac, city_factor, diversify, diversify_path, kcv, pboc_session_key, province_factor,
    retail_mac, session_key, sm_decrypt, sm_encrypt, sm2_verify, tac_key, udk_option_a,
};

const VECTORS: &str = include_str!("../../../vectors/crypto/card_algorithms.txt");

fn unhex(s: &str) -> Vec<u8> {
    if s == "-" {
        return Vec::new();
    }
    assert!(s.len().is_multiple_of(2), "odd hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

struct Vector {
    kind: String,
    fields: HashMap<String, Vec<u8>>,
    line: usize,
}

impl Vector {
    fn get(&self, k: &str) -> &[u8] {
        self.fields
            .get(k)
            .unwrap_or_else(|| panic!("line {}: no field {k}", self.line))
    }
    fn alg(&self) -> Algorithm {
        Algorithm::from_id(self.get("alg")[0]).unwrap()
    }
    fn arr<const N: usize>(&self, k: &str) -> [u8; N] {
        self.get(k).try_into().unwrap()
    }
}

fn vectors() -> Vec<Vector> {
    VECTORS
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(n, l)| {
            let mut it = l.split_whitespace();
            let kind = it.next().unwrap().to_owned();
            let fields = it
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    (k.to_owned(), unhex(v))
                })
                .collect();
            Vector {
                kind,
                fields,
                line: n + 1,
            }
        })
        .collect()
}

#[test]
fn all_card_vectors() {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for v in vectors() {
        *counts.entry(v.kind.clone()).or_default() += 1;
        let line = v.line;
        match v.kind.as_str() {
            "session_key" => {
                let sk = session_key(v.alg(), v.get("key"), v.get("input")).unwrap();
                assert_eq!(sk.as_bytes(), v.get("out"), "line {line}");
                assert_eq!(sk.algorithm(), v.alg());
            }
            "auth_data" => {
                let c = CardKey::new(v.alg(), v.get("sk")).unwrap().cipher();
                assert_eq!(auth_data(&c, &v.arr("p")), v.get("out"), "line {line}");
            }
            "internal_auth" => {
                let sk = session_key(v.alg(), v.get("key"), v.get("r1")).unwrap();
                let ad = auth_data(&sk.cipher(), &v.arr("r2"));
                assert_eq!(ad, v.get("out"), "line {line}");
            }
            "ssc_mac" => {
                let c = CardCipher::new(v.alg(), v.get("key")).unwrap();
                let data = v.get("data");
                assert_eq!(
                    card_mac(&c, v.get("iv"), data).unwrap(),
                    v.get("out"),
                    "line {line}"
                );
                // Byte by byte through the builder.
                let mut m = Mac::new(&c, v.get("iv")).unwrap();
                for b in data {
                    m.update(std::slice::from_ref(b));
                }
                assert_eq!(m.finish(), v.get("out"), "line {line}");
            }
            "sm_mac" => {
                let sk = session_key(v.alg(), v.get("key"), v.get("challenge")).unwrap();
                assert_eq!(sk.as_bytes(), v.get("sk"), "line {line}");
                let c = sk.cipher();
                let mut m = Mac::zero_iv(&c);
                m.update(v.get("header"));
                m.update(v.get("data"));
                assert_eq!(m.finish(), v.get("out"), "line {line}");
            }
            "sm_encrypt" => {
                let c = CardCipher::new(v.alg(), v.get("key")).unwrap();
                let mut out = [0u8; 64];
                let n = sm_encrypt(&c, v.get("plain"), &mut out).unwrap();
                assert_eq!(&out[..n], v.get("cipher"), "line {line}");
                let mut back = [0u8; 64];
                let pt = sm_decrypt(&c, v.get("cipher"), &mut back).unwrap();
                assert_eq!(pt, v.get("plain"), "line {line}");
            }
            "diversify" => {
                let k = diversify(v.alg(), v.get("key"), &v.arr("factor")).unwrap();
                assert_eq!(k.as_bytes(), v.get("out"), "line {line}");
            }
            "diversify_chain" => {
                let area: [u8; 6] = v.arr("area");
                let pf = province_factor(&area).unwrap();
                let cf = city_factor(&area).unwrap();
                let kf = card_factor(v.get("hist")).unwrap();
                assert_eq!(pf, v.get("province"), "line {line}");
                assert_eq!(cf, v.get("city"), "line {line}");
                assert_eq!(kf, v.get("card"), "line {line}");
                let k = diversify_path(v.alg(), v.get("key"), &[pf, cf, kf]).unwrap();
                assert_eq!(k.as_bytes(), v.get("out"), "line {line}");
            }
            "tac" => {
                let k = tac_key(v.alg(), v.get("dtk")).unwrap();
                assert_eq!(k.as_bytes(), v.get("key"), "line {line}");
                let tac = card_mac(&k.cipher(), &[], v.get("data")).unwrap();
                assert_eq!(tac, v.get("out"), "line {line}");
            }
            "kcv" => {
                assert_eq!(
                    kcv(v.alg(), v.get("key")).unwrap(),
                    v.get("out"),
                    "line {line}"
                );
            }
            "udk" => {
                let udk = udk_option_a(&v.arr("imk"), v.get("pan"), v.get("psn")[0]).unwrap();
                assert_eq!(&udk[..], v.get("out"), "line {line}");
            }
            "pboc_sk" => {
                let atc = u16::from_be_bytes(v.arr("atc"));
                let sk = pboc_session_key(&v.arr("udk"), atc);
                assert_eq!(&sk[..], v.get("out"), "line {line}");
            }
            "retail_mac" => {
                let m = retail_mac(&v.arr("key"), &v.arr("iv"), &[v.get("data")]);
                assert_eq!(m, v.get("out"), "line {line}");
            }
            "arpc" => {
                let a = arpc_method1(&v.arr("sk"), &v.arr("arqc"), &v.arr("arc"));
                assert_eq!(a, v.get("out"), "line {line}");
            }
            "sm2" => {
                let kp = Sm2KeyPair::from_secret_bytes(&v.arr("d")).unwrap();
                let public: [u8; 64] = v.arr("pub");
                assert_eq!(kp.public_key_xy(), &public, "line {line}");
                let sig: [u8; 64] = v.arr("sig");
                let (id, msg) = (v.get("id"), v.get("msg"));
                assert!(sm2_verify(&public, id, msg, &sig), "line {line}");
                let mut bad = sig;
                bad[63] ^= 1;
                assert!(!sm2_verify(&public, id, msg, &bad), "line {line}");
                let ours = kp.sign(id, msg).unwrap();
                assert!(sm2_verify(&public, id, msg, &ours), "line {line}");
            }
            other => panic!("line {line}: unknown vector kind {other}"),
        }
    }
    for kind in [
        "session_key",
        "auth_data",
        "internal_auth",
        "ssc_mac",
        "sm_mac",
        "sm_encrypt",
        "diversify",
        "diversify_chain",
        "tac",
        "kcv",
        "udk",
        "pboc_sk",
        "retail_mac",
        "arpc",
        "sm2",
    ] {
        assert!(
            counts.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} vectors"
        );
    }
}
