//! The default profile's SM2 material is what its documented test seeds produce.
//!
//! TEST ONLY: the CA, issuer and ICC SM2 private keys are `SM3(seed)` for the published
//! seeds below; anyone can recompute them. The certificates use the assumed layouts of
//! `assumed_sm2_oda` (PBOC part 17 is not public).
#![allow(clippy::restriction)]

mod common;

use common::{hex, to_hex};
use sscard_core::crypto::{Sm2KeyPair, sm3};
use sscard_pboc::assumed_sm2_oda::{
    CertificateTerms, icc_certificate, issuer_certificate, signed_static_data,
};

pub const CA_SEED: &str = "sscard PBOC test CA SM2 key - TEST ONLY";
pub const ISSUER_SEED: &str = "sscard PBOC test issuer SM2 key - TEST ONLY";
pub const ICC_SEED: &str = "sscard PBOC test ICC SM2 key - TEST ONLY";

fn key(seed: &str) -> Sm2KeyPair {
    Sm2KeyPair::from_secret_bytes(&sm3(seed.as_bytes())).unwrap()
}

fn records() -> Vec<(i64, i64, Vec<u8>)> {
    let v: toml::Value = toml::from_str(common::DEFAULT_PROFILE).unwrap();
    let recs = v["pboc"]["applications"][0]["records"].as_array().unwrap();
    recs.iter()
        .map(|r| {
            let data: String = r["data"].as_str().unwrap().split_whitespace().collect();
            let bytes = if data.chars().all(|c| c.is_ascii_hexdigit()) {
                hex(&data)
            } else {
                Vec::new()
            };
            (
                r["sfi"].as_integer().unwrap(),
                r["number"].as_integer().unwrap(),
                bytes,
            )
        })
        .collect()
}

#[test]
fn default_profile_sm2_material_matches_the_test_seeds() {
    let (ca, issuer, icc) = (key(CA_SEED), key(ISSUER_SEED), key(ICC_SEED));
    let recs = records();
    // Static data to be authenticated: the ODA record of the AFL (SFI 3 rec 1), then the
    // AIP named by 9F4A = 82.
    let oda = &recs.iter().find(|r| r.0 == 3 && r.1 == 1).unwrap().2;
    let mut static_data = oda.clone();
    static_data.extend(hex("7C00"));
    let terms = CertificateTerms {
        expiry_mmyy: [0x12, 0x30],
        serial: [0, 0, 1],
    };
    let issuer_id = [0x62, 0x12, 0x34, 0x56];
    let issuer_cert = issuer_certificate(&ca, issuer_id, terms, issuer.public_key_xy()).unwrap();
    let pan = hex("6212345678901232FFFF").try_into().unwrap();
    let icc_cert = icc_certificate(&issuer, pan, terms, icc.public_key_xy(), &static_data).unwrap();
    let ssad = signed_static_data(&issuer, [0xDA, 0xC1], &static_data).unwrap();
    let expected = [
        ("sm2_secret", to_hex(&icc.secret_bytes()[..])),
        (
            "SFI 2 rec 1",
            format!(
                "8F0180 9081{:02X} {}",
                issuer_cert.len(),
                to_hex(&issuer_cert)
            ),
        ),
        (
            "SFI 2 rec 2",
            format!("9F4681{:02X} {}", icc_cert.len(), to_hex(&icc_cert)),
        ),
        (
            "SFI 2 rec 3",
            format!("93{:02X} {}", ssad.len(), to_hex(&ssad)),
        ),
    ];
    let v: toml::Value = toml::from_str(common::DEFAULT_PROFILE).unwrap();
    let secret = v["pboc"]["applications"][0]["sm2_secret"]
        .as_str()
        .unwrap()
        .to_string();
    let actual = [
        secret,
        to_hex(&recs[1].2),
        to_hex(&recs[2].2),
        to_hex(&recs[3].2),
    ];
    let mut report = String::new();
    for ((what, exp), act) in expected.iter().zip(actual.iter()) {
        let exp: String = exp.split_whitespace().collect();
        if &exp != act {
            report.push_str(&format!("{what}: expected\n{exp}\n"));
        }
    }
    assert!(report.is_empty(), "default profile out of date:\n{report}");
    println!(
        "CA public key (for the CAPK list, index 80): {}",
        to_hex(ca.public_key_xy())
    );
}

/// The entry of the array `list` in a `vectors/pboc` TOML file for `algorithm`.
fn by_algorithm<'v>(file: &'v toml::Value, list: &str, algorithm: &str) -> &'v toml::Value {
    let entries = file[list].as_array().unwrap();
    entries
        .iter()
        .find(|k| k["algorithm"].as_str() == Some(algorithm))
        .unwrap()
}

#[test]
fn capk_toml_publishes_the_sm2_ca_public_key_and_test_ca_keys_its_secret() {
    let ca = key(CA_SEED);
    let capk: toml::Value =
        toml::from_str(include_str!("../../../vectors/pboc/capk.toml")).unwrap();
    let sm2 = by_algorithm(&capk, "capk", "sm2");
    assert_eq!(sm2["index"].as_str(), Some("80"));
    let published: String = sm2["public_key"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(published, format!("04{}", to_hex(ca.public_key_xy())));
    let secrets: toml::Value =
        toml::from_str(include_str!("../../../vectors/pboc/test-ca-keys.toml")).unwrap();
    let sm2 = by_algorithm(&secrets, "key", "sm2");
    assert_eq!(
        sm2["private_key"].as_str().unwrap(),
        to_hex(&ca.secret_bytes()[..])
    );
}
