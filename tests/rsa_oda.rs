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
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use sscard::profile::Profile;
use sscard::virtual_card::{HostRng, SscVirtualCard};
use sscard_core::card::applet::Interface;
use sscard_vcard::VirtualCard;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

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

#[test]
fn an_rsa_only_kernel_completes_dda_and_sda_on_contact() {
    let mut c = card(Interface::Contact);
    let r = run_kernel(&mut c, "contact", &mut |_, _| {});
    eprintln!("{r}");
    assert!(r.get("error").is_none(), "{r}");
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
fn an_rsa_only_kernel_completes_fdda_on_qpboc_after_reading_the_uid() {
    let mut c = card(Interface::Contactless);
    let r = run_kernel(&mut c, "contactless", &mut |_, _| {});
    eprintln!("{r}");
    assert!(r.get("error").is_none(), "{r}");
    assert_eq!(r["uid"], "53534301");
    assert_eq!(r["cid"], "40", "offline approval: {r}");
    assert_eq!(r["fdda"], "ok", "{r}");
    assert_eq!(r["tvr1"], "00", "{r}");
    // fDDA: ICC dynamic number = ATC.
    assert_eq!(r["icc_dynamic_data"], "020001");
}

#[test]
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
