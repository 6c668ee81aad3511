//! RSA offline data authentication on the default card, checked by an implementation that
//! is not the card's: `tests/e2e/emv_rsa_kernel.py`, an RSA-only EMV kernel (Python
//! integers for RSA, hashlib for SHA-1) given `vectors/pboc/capk.toml`. The test plays the
//! reader: the kernel writes each command as a hex line, the card's answer goes back the
//! same way. The same kernel runs over pcscd + vpcd in `tests/e2e.rs`.
//!
//! Also here: the certificate records are byte-exact what OpenSSL-made keys and the
//! kernel's own recovery give (the chain is deterministic), a tampered record makes the
//! kernel fail ODA (so these tests can fail), and a terminal that asks for SM (DF69 = 01)
//! still gets the SM2 chain.
#![allow(clippy::restriction)]

use sscard_core::card::applet::Interface;
use sscard_host::profile::Profile;
use sscard_vcard::VirtualCard;
use sscard_vcard::virtual_card::{HostRng, SscVirtualCard};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

use sscard_testkit::exchange::hex;

use sscard_testkit::exchange::to_hex;

/// The default card on `interface`, powered.
fn card(interface: Interface) -> SscVirtualCard {
    let mut c =
        SscVirtualCard::from_profile(&Profile::default_gen3(), HostRng::seeded(16), interface)
            .unwrap();
    c.power_on();
    c
}

/// Runs the Python kernel against `card`; `tamper` may change an answer before the kernel
/// sees it. Returns the kernel's JSON result.
fn run_kernel(
    card: &mut SscVirtualCard,
    interface: &str,
    tamper: &mut dyn FnMut(&[u8], &mut Vec<u8>),
) -> serde_json::Value {
    let mut child = Command::new("python3")
        .arg(root().join("tests/e2e/emv_rsa_kernel.py"))
        .args([
            "--capk",
            root().join("vectors/pboc/capk.toml").to_str().unwrap(),
        ])
        .args(["--interface", interface, "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs the independent kernel (tests/e2e/emv_rsa_kernel.py)");
    let mut to_kernel = child.stdin.take().unwrap();
    let from_kernel = BufReader::new(child.stdout.take().unwrap());
    let mut result = None;
    for line in from_kernel.lines() {
        let line = line.unwrap();
        if let Some(json) = line.strip_prefix("RESULT ") {
            result = Some(serde_json::from_str(json).unwrap());
            break;
        }
        let command = hex(&line);
        let mut response = Vec::new();
        card.transmit(&command, &mut response);
        tamper(&command, &mut response);
        writeln!(to_kernel, "{}", to_hex(&response)).unwrap();
    }
    drop(to_kernel);
    assert!(child.wait().unwrap().success());
    result.expect("the kernel printed its RESULT line")
}

/// The kernel against a fresh card over `interface`, nothing tampered; it must finish
/// without an error.
fn untampered_run(interface: Interface, kernel_interface: &str) -> serde_json::Value {
    let mut c = card(interface);
    let r = run_kernel(&mut c, kernel_interface, &mut |_, _| {});
    eprintln!("{r}");
    assert!(r.get("error").is_none(), "{r}");
    r
}

#[test]
#[ignore = "needs python3 (the independent kernel tests/e2e/emv_rsa_kernel.py); scripts/test runs it"]
fn an_rsa_only_kernel_completes_dda_and_sda_on_contact() {
    let r = untampered_run(Interface::Contact, "contact");
    assert_eq!(r["sda"], "ok", "{r}");
    assert_eq!(r["dda"], "ok", "{r}");
    assert_eq!(
        r["tvr1"], "00",
        "no SDA/DDA failed, no ICC data missing: {r}"
    );
    assert_eq!(r["issuer_modulus_bits"], 1152);
    assert_eq!(r["icc_modulus_bits"], 1024);
    assert_eq!(r["sda_dac"], "DAC1");
    // ICC dynamic data: LDN 08 ‖ ATC 0001 ‖ 6 card random bytes.
    assert!(
        r["icc_dynamic_data"]
            .as_str()
            .unwrap()
            .starts_with("080001"),
        "{r}"
    );
    // The kernel's PDOL carried DF69 (zero: it knows no SM) and GAC1 answered.
    assert!(
        r["pdol_tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "DF69")
    );
    assert!(r["cid"].is_string(), "{r}");
}

#[test]
#[ignore = "needs python3 (the independent kernel tests/e2e/emv_rsa_kernel.py); scripts/test runs it"]
fn an_rsa_only_kernel_completes_fdda_on_qpboc_after_reading_the_uid() {
    let r = untampered_run(Interface::Contactless, "contactless");
    assert_eq!(r["uid"], "53534301");
    assert_eq!(r["cid"], "40", "offline approval: {r}");
    assert_eq!(r["fdda"], "ok", "{r}");
    assert_eq!(r["tvr1"], "00", "{r}");
    // fDDA: ICC dynamic number = ATC.
    assert_eq!(r["icc_dynamic_data"], "020001");
}

#[test]
#[ignore = "needs python3 (the independent kernel tests/e2e/emv_rsa_kernel.py); scripts/test runs it"]
fn a_tampered_certificate_or_signature_fails_oda() {
    // One bit of the ICC public key remainder 9F48 (the end of SFI 4 record 2) flipped on
    // the way: the ICC certificate's hash no longer matches.
    let mut c = card(Interface::Contact);
    let r = run_kernel(&mut c, "contact", &mut |cmd, resp| {
        if cmd.starts_with(&[0x00, 0xB2, 0x02, 0x24]) && resp.len() > 40 {
            let n = resp.len();
            resp[n - 3] ^= 0x01;
        }
    });
    assert_eq!(r["dda"], "hash mismatch", "{r}");
    assert_eq!(
        r["sda"], "ok",
        "the issuer certificate and SSAD are intact: {r}"
    );
    assert_eq!(r["tvr1"], "08", "DDA failed: {r}");
    // The signed dynamic data itself altered: fDDA fails.
    let mut c = card(Interface::Contactless);
    let r = run_kernel(&mut c, "contactless", &mut |cmd, resp| {
        if cmd.starts_with(&[0x80, 0xA8]) {
            let n = resp.len();
            resp[n - 10] ^= 0x80;
        }
    });
    assert_eq!(r["tvr1"], "08", "fDDA failed: {r}");
}

/// GPO on the default card with the contact PDOL `9F7A01 9F0206 5F2A02 DF6901`.
fn contact_gpo(c: &mut SscVirtualCard, df69: &str) -> Vec<u8> {
    let send = |c: &mut SscVirtualCard, a: &[u8]| {
        let mut r = Vec::new();
        c.transmit(a, &mut r);
        r
    };
    let r = send(c, &hex("00A4040008A00000033301010100"));
    assert_eq!(r[0], 0x61);
    send(c, &[0x00, 0xC0, 0x00, 0x00, r[1]]);
    let r = send(
        c,
        &hex(&format!("80A800000C830A 00 000000000100 0156 {df69} 00")),
    );
    assert_eq!(r[0], 0x61, "{}", to_hex(&r));
    send(c, &[0x00, 0xC0, 0x00, 0x00, r[1]])
}

#[test]
fn df69_chooses_the_chain_and_sm_terminals_get_sm2_as_before() {
    // DF69 = 01: the SM AFL (certificates in SFI 2, CA index 80), as before RSA.
    let mut c = card(Interface::Contact);
    assert_eq!(
        to_hex(&contact_gpo(&mut c, "01")),
        "800E7C000801010010010300180102019000"
    );
    // DF69 = 00 (or absent): the RSA AFL (certificates in SFI 4, CA index F1).
    let mut c = card(Interface::Contact);
    assert_eq!(
        to_hex(&contact_gpo(&mut c, "00")),
        "800E7C000801010020010300180102019000"
    );
    let mut r = Vec::new();
    c.transmit(&hex("00B2012400"), &mut r);
    assert_eq!(to_hex(&r[3..6]), "8F01F1", "{}", to_hex(&r));
}

// --- OpenSSL: byte-exact certificates and a recovered DDA signature -----------------------

fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .current_dir(root().join("vectors/pboc/test-keys"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the OpenSSL CLI is installed");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A raw RSA private operation by OpenSSL (no padding; `pkeyutl -sign` insists on a
/// digest-sized input, `rsautl -raw` does not).
fn openssl_sign(key: &str, block: &[u8]) -> Vec<u8> {
    openssl(&["rsautl", "-sign", "-raw", "-inkey", key], block)
}

/// The modulus of a key file, as `openssl rsa -modulus` prints it.
fn openssl_modulus(key: &str) -> Vec<u8> {
    let out = openssl(&["rsa", "-in", key, "-noout", "-modulus"], &[]);
    let text = String::from_utf8(out).unwrap();
    hex(text.trim().strip_prefix("Modulus=").unwrap())
}

fn sha1(parts: &[&[u8]]) -> Vec<u8> {
    use sha1::Digest;
    let mut h = sha1::Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().to_vec()
}

/// `6A ‖ data ‖ SHA-1(data ‖ extra) ‖ BC` (EMV Book 2 Annex A2.1), written by the test.
fn recoverable_block(data: &[u8], extra: &[&[u8]]) -> Vec<u8> {
    let mut parts = vec![data];
    parts.extend_from_slice(extra);
    let mut block = vec![0x6A];
    block.extend_from_slice(data);
    block.extend(sha1(&parts));
    block.push(0xBC);
    block
}

/// Sends `apdu`, following 61xx with GET RESPONSE; returns data ‖ SW.
fn exchange(c: &mut SscVirtualCard, apdu: &[u8]) -> Vec<u8> {
    let mut r = Vec::new();
    c.transmit(apdu, &mut r);
    while r.len() == 2 && r[0] == 0x61 {
        let le = r[1];
        r.clear();
        c.transmit(&[0x00, 0xC0, 0x00, 0x00, le], &mut r);
    }
    r
}

/// The value of the first `tag` (one or two bytes) in a BER-TLV string, with recursion.
fn tlv_find(b: &[u8], tag: u16) -> Option<Vec<u8>> {
    let mut i = 0;
    while i < b.len() {
        let mut t = u16::from(b[i]);
        let constructed = b[i] & 0x20 != 0;
        i += 1;
        if t & 0x1F == 0x1F {
            t = (t << 8) | u16::from(b[i]);
            i += 1;
        }
        let mut n = usize::from(b[i]);
        i += 1;
        if n == 0x81 {
            n = usize::from(b[i]);
            i += 1;
        }
        let v = &b[i..i + n];
        if t == tag {
            return Some(v.to_vec());
        }
        if constructed && let Some(found) = tlv_find(v, tag) {
            return Some(found);
        }
        i += n;
    }
    None
}

#[test]
#[ignore = "needs the openssl CLI (the independent RSA); scripts/test runs it"]
fn certificates_are_byte_exact_what_openssl_signs_and_dda_recovers_with_openssl() {
    let mut c = card(Interface::Contact);
    contact_gpo(&mut c, "00");
    let read = |c: &mut SscVirtualCard, sfi: u8, n: u8| {
        let r = exchange(c, &[0x00, 0xB2, n, (sfi << 3) | 4, 0x00]);
        assert_eq!(&r[r.len() - 2..], [0x90, 0x00]);
        r[..r.len() - 2].to_vec()
    };
    let chain: Vec<u8> = (1..=3).flat_map(|n| read(&mut c, 4, n)).collect();
    let oda_record = read(&mut c, 3, 1);
    // Static data to be authenticated: SFI 3 record 1 without 70 L, then the AIP (9F4A = 82).
    let mut static_data = tlv_find(&oda_record, 0x70).unwrap();
    static_data.extend(hex("7C00"));

    let ca_n = openssl_modulus("ca-a000000333-f1.pem");
    let issuer_n = openssl_modulus("issuer.pem");
    let icc_n = openssl_modulus("icc.pem");
    assert_eq!((ca_n.len(), issuer_n.len(), icc_n.len()), (176, 144, 128));

    // Issuer certificate (Book 2 Table 6): room for N_CA − 36 = 140 of the 144 key bytes.
    let mut fields = hex("02 62123456 1230 000001 01 01 90 01");
    fields.extend(&issuer_n[..140]);
    let expected = openssl_sign(
        "ca-a000000333-f1.pem",
        &recoverable_block(&fields, &[&issuer_n[140..], &[0x03]]),
    );
    assert_eq!(to_hex(&tlv_find(&chain, 0x90).unwrap()), to_hex(&expected));
    assert_eq!(tlv_find(&chain, 0x92).unwrap(), issuer_n[140..]);
    assert_eq!(tlv_find(&chain, 0x9F32).unwrap(), [0x03]);
    assert_eq!(tlv_find(&chain, 0x8F).unwrap(), [0xF1]);

    // ICC certificate (Table 14): N_I − 42 = 102 key bytes inside, 26 in 9F48.
    let mut fields = hex("04 6212345678901232FFFF 1230 000001 01 01 80 03");
    fields.extend(&icc_n[..102]);
    let expected = openssl_sign(
        "issuer.pem",
        &recoverable_block(&fields, &[&icc_n[102..], &hex("010001"), &static_data]),
    );
    assert_eq!(
        to_hex(&tlv_find(&chain, 0x9F46).unwrap()),
        to_hex(&expected)
    );
    assert_eq!(tlv_find(&chain, 0x9F48).unwrap(), icc_n[102..]);
    assert_eq!(tlv_find(&chain, 0x9F47).unwrap(), hex("010001"));

    // Signed static application data (Table 7): 03 01 DAC, BB up to N_I − 22.
    let mut fields = hex("03 01 DAC1");
    fields.resize(144 - 22, 0xBB);
    let expected = openssl_sign("issuer.pem", &recoverable_block(&fields, &[&static_data]));
    assert_eq!(to_hex(&tlv_find(&chain, 0x93).unwrap()), to_hex(&expected));

    // DDA: OpenSSL recovers the signed dynamic data with the ICC public key (Table 17).
    let un = hex("0BADCAFE");
    let r = exchange(&mut c, &[&hex("0088000004")[..], &un, &[0x00]].concat());
    assert_eq!(&r[r.len() - 2..], [0x90, 0x00]);
    let sdad = tlv_find(&r, 0x80).unwrap();
    let args = [
        "rsautl",
        "-verify",
        "-raw",
        "-pubin",
        "-inkey",
        "icc.pub.pem",
    ];
    let recovered = openssl(&args, &sdad);
    assert_eq!(recovered.len(), 128);
    assert_eq!(
        to_hex(&recovered[..6]),
        "6A0501090800",
        "{}",
        to_hex(&recovered)
    );
    assert_eq!(recovered[127], 0xBC);
    let data = &recovered[1..128 - 21];
    assert!(data[12..].iter().all(|b| *b == 0xBB), "BB padding");
    assert_eq!(
        recovered[107..127],
        sha1(&[data, &un])[..],
        "hash over the DDOL data"
    );
}

#[test]
#[ignore = "needs the openssl CLI (the independent RSA); scripts/test runs it"]
fn the_toml_keys_are_the_openssl_key_files() {
    let capk: toml::Value =
        toml::from_str(&std::fs::read_to_string(root().join("vectors/pboc/capk.toml")).unwrap())
            .unwrap();
    let rsa = capk["capk"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["algorithm"].as_str() == Some("rsa"))
        .unwrap();
    assert_eq!(
        hex(rsa["modulus"].as_str().unwrap()),
        openssl_modulus("ca-a000000333-f1.pem")
    );
    let mut checked = vec![rsa["rid"].as_str().unwrap().to_string()];
    checked.push(rsa["index"].as_str().unwrap().to_string());
    let body = [
        hex(&checked.concat()),
        hex(rsa["modulus"].as_str().unwrap()),
        hex(rsa["exponent"].as_str().unwrap()),
    ]
    .concat();
    assert_eq!(to_hex(&sha1(&[&body])), rsa["checksum"].as_str().unwrap());
    let profile: toml::Value = toml::from_str(
        &std::fs::read_to_string(root().join("vectors/profiles/pboc-default.toml")).unwrap(),
    )
    .unwrap();
    let keys = &profile["pboc"]["applications"][0]["rsa"];
    for (name, file) in [("issuer_key", "issuer.pem"), ("icc_key", "icc.pem")] {
        assert_eq!(
            hex(keys[name]["modulus"].as_str().unwrap()),
            openssl_modulus(file),
            "{name}"
        );
    }
}

#[test]
fn profile_uid_and_rsa_errors_name_the_field() {
    let base = std::fs::read_to_string(root().join("vectors/profiles/gen3-default.toml")).unwrap();
    // card.uid: 4, 7 or 10 bytes.
    let with_uid = |uid: &str| base.replacen("[card]\n", &format!("[card]\nuid = \"{uid}\"\n"), 1);
    let p = Profile::parse(&with_uid("04A1B2C3D4E5F6")).unwrap();
    assert_eq!(p.uid(), hex("04A1B2C3D4E5F6"));
    let e = Profile::parse(&with_uid("0102")).unwrap_err();
    assert!(e.to_string().contains("card.uid"), "{e}");
    // A CA index the test key file does not have.
    let e = Profile::parse(&base.replace("ca_index = \"F1\"", "ca_index = \"F2\"")).unwrap_err();
    assert!(e.to_string().contains("rsa.ca_index"), "{e}");
    // An ICC key whose CRT part does not belong to its modulus: refused at personalization.
    let at = base.find("coefficient = \"\"\"\n").unwrap() + 18;
    let digit = if &base[at..=at] == "1" { "2" } else { "1" };
    let broken = format!("{}{digit}{}", &base[..at], &base[at + 1..]);
    let e = Profile::parse(&broken).unwrap_err();
    assert!(e.to_string().contains("icc_key"), "{e}");
    // RSA-only refusing SM requests: a DF69 = 01 GPO is 6985, DF69 = 00 goes on in RSA.
    let rsa_only = base.replace(
        "oda_algorithms = \"dual\"",
        "oda_algorithms = \"rsa\"\nrefuse_sm_request = true",
    );
    let p = Profile::parse(&rsa_only).unwrap();
    let mut c = SscVirtualCard::from_profile(&p, HostRng::seeded(1), Interface::Contact).unwrap();
    c.power_on();
    exchange(&mut c, &hex("00A4040008A00000033301010100"));
    let r = exchange(&mut c, &hex("80A800000C830A 00 000000000100 0156 01 00"));
    assert_eq!(r, [0x69, 0x85]);
    let r = exchange(&mut c, &hex("80A800000C830A 00 000000000100 0156 00 00"));
    assert_eq!(to_hex(&r), "800E7C000801010020010300180102019000");
}
