//! The gen-3 PKI application: the §9 PIN-hash vector, SM4-challenge VERIFY, on-card SM2
//! key generation, signatures checked by an independent SM2 implementation (Python
//! gmssl, `vectors/pki/sm2_verify.py`), key import, certificates.
#![allow(clippy::restriction)]

mod common;

use common::indep::{self, Alg};
use common::{assert_responses, hex, profile, to_hex, tx};
use sscard_core::nvm::RamNvm;
use sscard_core::rng::{CardRng, SplitMixRng};
use sscard_core::{Card, Interface};
use sscard_ssc::SscCard;
use std::io::Write;
use std::process::{Command, Stdio};

const SELECT_PKI_DDF: &str = "00A404000C504B492EC9E7BBE1B1A3D5CF00";
const SELECT_PKI_ADF: &str = "00A404000C53532E434552542E4144463100";

/// Gives scripted bytes first, then SplitMix output.
struct ScriptedRng {
    script: Vec<u8>,
    rest: SplitMixRng,
}

impl CardRng for ScriptedRng {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf.iter_mut() {
            *b = if self.script.is_empty() {
                let mut one = [0u8];
                self.rest.fill(&mut one);
                one[0]
            } else {
                self.script.remove(0)
            };
        }
    }
}

type PkiCard = SscCard<RamNvm<Vec<u8>>, ScriptedRng>;

fn card(script: &[u8]) -> PkiCard {
    let p = profile("gen3-default.toml");
    let rng = ScriptedRng {
        script: script.to_vec(),
        rest: SplitMixRng::new(77),
    };
    let mut c = Card::load(
        RamNvm::new(p.image().unwrap()),
        rng,
        (),
        p.applications(),
        p.options(),
    )
    .unwrap();
    c.power_on(Interface::Contactless).unwrap(); // direct answers, no 61xx
    c
}

/// Selects the PKI DDF, then its ADF.
fn select_pki(c: &mut PkiCard) {
    ok(c, SELECT_PKI_DDF);
    ok(c, SELECT_PKI_ADF);
}

fn ok(c: &mut PkiCard, apdu: &str) -> Vec<u8> {
    let r = hex(&tx(c, apdu));
    assert_eq!(&r[r.len() - 2..], &[0x90, 0x00], "{apdu} → {}", to_hex(&r));
    r[..r.len() - 2].to_vec()
}

fn verify_user_pin(c: &mut PkiCard, pin: &str) -> String {
    let challenge = ok(c, "0084000010");
    let k = indep::sm3_first16(&hex(pin));
    let mut block = challenge.clone();
    indep::encrypt(Alg::Sm4, &k, &mut block);
    tx(c, &format!("0020018110{}", to_hex(&block)))
}

fn gmssl_verifies(lines: &[(Vec<u8>, Vec<u8>, Vec<u8>)]) -> Vec<String> {
    let script = format!("{}/vectors/pki/sm2_verify.py", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 needed for the independent SM2 check");
    let mut input = String::new();
    for (public, msg, sig) in lines {
        input.push_str(&format!(
            "{} {} {}\n",
            to_hex(public),
            to_hex(msg),
            to_hex(sig)
        ));
    }
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_ne!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn pin_hash_and_the_published_verify_vector() {
    // spec/ssc.md §9 item 4: SM3(12 34 56) as recorded in the issuing tool.
    let challenge = hex("178CEDCF32C5D7990216632170C7CD37");
    let mut c = card(&challenge);
    select_pki(&mut c);
    assert_eq!(
        to_hex(&ok(&mut c, "80C4010305C10312345600")),
        "3DE741F445DD357BEA4E6C3FE6437036F62B5E3EC0F00D62796EDB4305ED627F"
    );
    // The card's challenge is the recorded one; the recorded VERIFY data must pass.
    assert_eq!(to_hex(&ok(&mut c, "0084000010")), to_hex(&challenge));
    assert_responses(
        &mut c,
        &[
            ("0020018110358B51056B9B9EB2C96B20E7DB7A6B8F", "9000"),
            // Replay: the challenge was used up.
            ("0020018110358B51056B9B9EB2C96B20E7DB7A6B8F", "6984"),
        ],
    );
}

#[test]
fn pki_pin_counts_tries() {
    let mut c = card(&[]);
    select_pki(&mut c);
    assert_eq!(tx(&mut c, "0020018100"), "63C3");
    assert_eq!(verify_user_pin(&mut c, "654321"), "63C2");
    assert_eq!(verify_user_pin(&mut c, "123456"), "9000");
    assert_eq!(tx(&mut c, "0020018100"), "63C3");
    for sw in ["63C2", "63C1", "63C0", "6983"] {
        assert_eq!(verify_user_pin(&mut c, "000000"), sw);
    }
    assert_eq!(verify_user_pin(&mut c, "123456"), "6983");
}

#[test]
#[ignore = "needs python3 with gmssl (the independent SM2 check); scripts/test runs it"]
fn on_card_key_generation_and_signatures_verify_independently() {
    let mut c = card(&[]);
    select_pki(&mut c);
    // No key yet: the public-key EF is all zero, the read-out says so.
    ok(&mut c, "00A40200020012");
    assert_eq!(to_hex(&ok(&mut c, "00B0000042")), "00".repeat(0x42));
    assert_responses(
        &mut c,
        &[
            ("80C9828042", "6A88"),
            // Generation needs a PIN.
            ("8040000008C0020012C2020013", "6982"),
        ],
    );
    assert_eq!(verify_user_pin(&mut c, "123456"), "9000");
    ok(&mut c, "8040000008C0020012C2020013");
    ok(&mut c, "80C9820008C0020012C2020013");
    let public = ok(&mut c, "80C9828042");
    assert_eq!(public.len(), 66);
    assert_eq!(&public[..2], &[0xCA, 0x40]);
    assert_eq!(ok(&mut c, "00B0000042"), public);
    let xy = public[2..].to_vec();
    // The private key never leaves the card.
    assert_eq!(tx(&mut c, "00A4020002001300").len(), 4);
    assert_eq!(tx(&mut c, "00B0000022"), "6982");
    ok(&mut c, SELECT_PKI_ADF);
    // Signatures over terminal data; verified by gmssl with the read-out public key.
    let messages = [
        b"identity authentication".to_vec(),
        vec![0u8; 1],
        (0..=255u8).collect::<Vec<_>>(),
    ];
    let mut lines = vec![];
    for m in &messages {
        let mut apdu = vec![0x00, 0x2A, 0x9E, 0x9A];
        let enc = if m.len() > 255 {
            let mut v = vec![0x00, (m.len() >> 8) as u8, m.len() as u8];
            v.extend(m);
            v.extend([0x00, 0x40]);
            v
        } else {
            let mut v = vec![m.len() as u8];
            v.extend(m);
            v.push(0x40);
            v
        };
        apdu.extend(enc);
        let sig = ok(&mut c, &to_hex(&apdu));
        assert_eq!(sig.len(), 64);
        lines.push((xy.clone(), m.clone(), sig));
    }
    // A tampered signature must fail.
    let mut bad = lines[0].clone();
    bad.2[10] ^= 0x01;
    lines.push(bad);
    assert_eq!(gmssl_verifies(&lines), ["ok", "ok", "ok", "bad"]);
    // Without the PIN (after a power cycle) no signature.
    c.power_off();
    c.power_on(Interface::Contactless).unwrap();
    select_pki(&mut c);
    assert_eq!(tx(&mut c, "002A9E9A0301020340"), "6982");
}

#[test]
fn encryption_key_import_and_certificates() {
    let mut c = card(&[]);
    select_pki(&mut c);
    // The GB/T 32918 recommended-curve test key pair.
    let d = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";
    let xy = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";
    let import_pub = format!("80C2400046C0020014CA40{xy}");
    let import_priv = format!("80C2C00126C2020015CB20{d}");
    assert_eq!(tx(&mut c, &import_pub), "6982", "administrator PIN first");
    let challenge = ok(&mut c, "0084000010");
    let mut block = challenge.clone();
    indep::encrypt(Alg::Sm4, &indep::sm3_first16(&hex("12345678")), &mut block);
    assert_eq!(tx(&mut c, &format!("0020010010{}", to_hex(&block))), "9000");
    ok(&mut c, &import_pub);
    // A private key that does not match the public one is refused.
    let other = "1945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";
    assert_eq!(
        tx(&mut c, &format!("80C2C00126C2020015CB20{other}")),
        "6A80"
    );
    ok(&mut c, &import_priv);
    assert_eq!(to_hex(&ok(&mut c, "80C9820008C0020014C2020015")), "");
    // Certificates: written in chunks under the administrator PIN, read by anyone.
    let cert: Vec<u8> = (0..600u32).map(|i| (i * 7) as u8).collect();
    ok(&mut c, "00A4020002001800");
    for (i, chunk) in cert.chunks(0xFA).enumerate() {
        let offset = i * 0xFA;
        ok(
            &mut c,
            &format!("00D6{:04X}{:02X}{}", offset, chunk.len(), to_hex(chunk)),
        );
    }
    let mut back = vec![];
    for offset in (0..600).step_by(0x70) {
        let n = (600 - offset).min(0x70);
        back.extend(ok(&mut c, &format!("00B0{offset:04X}{n:02X}")));
    }
    assert_eq!(back, cert);
    // Invalid public key point → 6A80.
    assert_eq!(
        tx(
            &mut c,
            &format!("80C2400046C0020014CA40{}", "11".repeat(64))
        ),
        "6A80"
    );
}

/// Every transparent EF of the PKI ADF, read in full through READ BINARY: `(FID, SW, data)`.
fn read_all_pki_efs(c: &mut PkiCard) -> Vec<(&'static str, String)> {
    let mut out = vec![];
    for fid in ["0012", "0013", "0014", "0015", "0018", "0019"] {
        ok(c, SELECT_PKI_ADF);
        let sel = tx(c, &format!("00A4020002{fid}00"));
        // The private-key EFs may be selectable or not; either way no byte of them comes back.
        let read = if sel.ends_with("9000") {
            let mut all = String::new();
            for offset in (0..0x800).step_by(0xF0) {
                let r = tx(c, &format!("00B0{offset:04X}F0"));
                all.push_str(&r);
                if !r.ends_with("9000") {
                    break;
                }
            }
            all
        } else {
            sel
        };
        out.push((fid, read));
    }
    out
}

#[test]
fn key_pairs_go_only_into_the_key_slots_and_never_come_back() {
    // The signature key d the card will draw: after the 16-byte VERIFY challenge.
    let d = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";
    let challenge = [0x5Au8; 16];
    let mut script = challenge.to_vec();
    script.extend(hex(d));
    let mut c = card(&script);
    select_pki(&mut c);
    assert_eq!(verify_user_pin(&mut c, "123456"), "9000");
    let before = read_all_pki_efs(&mut c);
    ok(&mut c, SELECT_PKI_ADF);
    // The attacks of issue #10: a readable EF, a certificate EF, the public EF twice, the
    // two slots mixed, the encryption pair (imported, not generated, by default).
    for (public, private) in [
        ("0012", "0014"),
        ("0012", "0019"),
        ("0012", "0018"),
        ("0018", "0019"),
        ("0012", "0012"),
        ("0013", "0012"),
        ("0014", "0013"),
        ("0012", "0015"),
        ("0014", "0015"),
        ("0012", "7777"),
    ] {
        assert_eq!(
            tx(&mut c, &format!("8040000008C002{public}C202{private}")),
            "6985",
            "generation into {public}/{private}"
        );
    }
    assert_eq!(
        read_all_pki_efs(&mut c),
        before,
        "refused generations changed nothing"
    );
    ok(&mut c, SELECT_PKI_ADF);
    ok(&mut c, "8040000008C0020012C2020013");
    // The card holds the scripted key (so the leak check below looks for the right bytes).
    let nvm = to_hex(c.store().nvm().bytes());
    assert!(
        nvm.contains(&format!("CB20{d}")),
        "the scripted key was generated"
    );
    for (fid, read) in read_all_pki_efs(&mut c) {
        assert!(
            !read.contains(&d[..16]),
            "EF {fid} read back key bytes: {read}"
        );
        if fid == "0013" || fid == "0015" {
            assert!(read.ends_with("6982"), "EF {fid}: {read}");
        }
    }
    // Nor with the administrator PIN, nor through UPDATE BINARY (key objects are not files).
    let admin_challenge = ok(&mut c, "0084000010");
    let mut block = admin_challenge.clone();
    indep::encrypt(Alg::Sm4, &indep::sm3_first16(&hex("12345678")), &mut block);
    assert_eq!(tx(&mut c, &format!("0020010010{}", to_hex(&block))), "9000");
    for (fid, read) in read_all_pki_efs(&mut c) {
        assert!(
            !read.contains(&d[..16]),
            "EF {fid} read back key bytes: {read}"
        );
    }
    ok(&mut c, SELECT_PKI_ADF);
    if tx(&mut c, "00A4020002001300").ends_with("9000") {
        assert_eq!(tx(&mut c, "00D6000002CB20"), "6982");
    }
    // Import accepts only the encryption slot's files (the signature pair is generated).
    let xy = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";
    ok(&mut c, SELECT_PKI_ADF);
    for fid in ["0012", "0013", "0015", "0018", "0019", "7777"] {
        assert_eq!(
            tx(&mut c, &format!("80C2400046C002{fid}CA40{xy}")),
            "6985",
            "public key import into {fid}"
        );
    }
    for fid in ["0012", "0013", "0014", "0018", "0019"] {
        assert_eq!(
            tx(&mut c, &format!("80C2C00126C202{fid}CB20{d}")),
            "6985",
            "private key import into {fid}"
        );
    }
}

#[test]
fn a_profile_may_let_generation_fill_the_encryption_pair() {
    let path = format!(
        "{}/vectors/profiles/gen3-default.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    let text = if text.contains("\n[options]\n") {
        text.replacen(
            "\n[options]\n",
            "\n[options]\npki_generate_encryption = true\n",
            1,
        )
    } else {
        format!("{text}\n[options]\npki_generate_encryption = true\n")
    };
    let p = sscard_host::profile::Profile::parse(&text).unwrap();
    assert!(p.ssc_options().pki_keys.encryption.generate);
    let mut c = Card::load(
        RamNvm::new(p.image().unwrap()),
        ScriptedRng {
            script: vec![],
            rest: SplitMixRng::new(5),
        },
        (),
        p.applications(),
        p.options(),
    )
    .unwrap();
    c.power_on(Interface::Contactless).unwrap();
    select_pki(&mut c);
    assert_eq!(verify_user_pin(&mut c, "123456"), "9000");
    ok(&mut c, "8040000008C0020014C2020015");
    assert_eq!(ok(&mut c, "80C9820008C0020014C2020015"), b"");
    // Still never into a readable EF.
    assert_eq!(tx(&mut c, "8040000008C0020014C2020019"), "6985");
}
