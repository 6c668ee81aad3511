//! Gen-3 extras: biometric templates up to 32 KiB over extended and short APDUs, card
//! capacity limits, and the dual interface.
#![allow(clippy::restriction)]

mod common;

use common::indep::{self, Alg};
use common::*;
use sscard_core::Interface;
use sscard_host::profile::Profile;

fn key(root: u8) -> Vec<u8> {
    card_key(&[root; 16])
}

fn ext_auth(c: &mut TestCard, id: u8, k: &[u8]) {
    let (ch, sw) = send_hex(c, "0084000008");
    assert_eq!(sw, 0x9000);
    let p = [3u8; 8];
    let sk = indep::session_key(Alg::Sm4, k, &ch);
    let mut cmd = vec![0x00, 0x82, 0x00, id, 0x10];
    cmd.extend(indep::auth_data(Alg::Sm4, &sk, &p));
    cmd.extend(p);
    assert_eq!(send(c, &cmd).1, 0x9000);
}

fn biometric_profile() -> Profile {
    let text = sscard_host::profile::DEFAULT_GEN3
        .replace("dir_sfi = 0x1E", "dir_sfi = 0x1E\nnvm_size = 131072")
        + "\n[[extra_ef]]\nfid = \"EF0C\"   # face template\nsfi = 12\nsize = 32768\n";
    Profile::parse(&text).unwrap()
}

#[test]
fn a_32k_template_round_trips_over_extended_and_short_apdus() {
    let mut c = card_from(&biometric_profile(), 1);
    send_hex(&mut c, SELECT_SSSE);
    let template: Vec<u8> = (0..32768u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    assert_eq!(tx(&mut c, "00D68C0001AA"), "6982", "UKSSSE first");
    ext_auth(&mut c, 0x04, &key(0x44));
    // First half in short UPDATE BINARY (offset in P1 P2), second half extended.
    assert_eq!(tx(&mut c, "00A4020002EF0C"), "9000");
    for (i, chunk) in template[..16384].chunks(255).enumerate() {
        let apdu = format!("00D6{:04X}{:02X}{}", i * 255, chunk.len(), to_hex(chunk));
        assert_eq!(tx(&mut c, &apdu), "9000");
    }
    for (i, chunk) in template[16384..].chunks(1000).enumerate() {
        let offset = 16384 + i * 1000;
        let apdu = format!("00D6{offset:04X}00{:04X}{}", chunk.len(), to_hex(chunk));
        assert_eq!(tx(&mut c, &apdu), "9000");
    }
    // More than one command can change atomically → 6A84, nothing written.
    let big = format!("00D6000000{:04X}{}", 2000, "55".repeat(2000));
    assert_eq!(tx(&mut c, &big), "6A84");
    // Past the end of the file.
    assert_eq!(tx(&mut c, "00D67FFF02AAAA"), "6700");
    ext_auth(&mut c, 0x0A, &key(0xAA));
    // One extended READ BINARY (Le = 0000 → up to 65536) returns all 32 KiB.
    let (all, sw) = send_hex(&mut c, "00B00000000000");
    assert_eq!(sw, 0x9000);
    assert_eq!(all, template);
    // By SFI with an explicit extended Le.
    let (all, sw) = send_hex(&mut c, "00B08C00008000");
    assert_eq!((all.len(), sw), (0x8000, 0x9000));
    assert_eq!(all, template);
    // Short APDUs with offsets up to 7FFF.
    let mut back = vec![];
    for offset in (0..32768).step_by(256) {
        let (d, sw) = send_hex(&mut c, &format!("00B0{offset:04X}00"));
        assert_eq!(sw, 0x9000);
        back.extend(d);
    }
    assert_eq!(back, template);
    assert_eq!(
        tx(&mut c, "00B07FFF01"),
        format!("{:02X}9000", template[32767])
    );
    assert_eq!(tx(&mut c, "00B07FFF02"), "6C01");
    // The fingerprint and photo files of V2.0 are there too.
    assert_eq!(send_hex(&mut c, "00B0870000").0.len(), 256);
    assert_eq!(send_hex(&mut c, "00B08800000000").0.len(), 0x1000);
}

#[test]
fn capacity_limits_are_clean_errors() {
    let text = sscard_host::profile::DEFAULT_GEN3.to_owned()
        + "\n[[extra_ef]]\nfid = \"EF0C\"\nsfi = 12\nsize = 70000\n";
    let e = Profile::parse(&text).unwrap_err();
    assert!(e.to_string().contains("memory"), "{e}");
}

#[test]
fn dual_interface() {
    let p = profile("gen3-contactless.toml");
    let mut c = card_from(&p, 2);
    // Contact: T=0 ATR, 61xx, everything selectable.
    assert_eq!(to_hex(c.atr()), format!("3B6D0000{HIST}"));
    assert_responses(
        &mut c,
        &[
            (SELECT_SSSE, "611E"),
            ("00A404000C504B492EC9E7BBE1B1A3D5CF00", "6110"),
        ],
    );
    // Contactless: the PC/SC ATR of an ISO 14443-4 card, direct answers, policy applied.
    let atr = c.power_on(Interface::Contactless).unwrap().to_vec();
    assert_eq!(to_hex(&atr[..4]), "3B8D8001");
    assert_eq!(to_hex(&atr[4..17]), HIST);
    assert_eq!(atr[1..].iter().fold(0, |x, b| x ^ b), 0, "TCK");
    assert_eq!(
        tx(&mut c, SELECT_SSSE),
        "6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA50988011E9F0C038601039000"
    );
    assert_eq!(
        tx(&mut c, "00A4040006D15600000503"),
        "6A82",
        "DF04 is contact-only here"
    );
    assert_eq!(tx(&mut c, "00A404000C504B492EC9E7BBE1B1A3D5CF00"), "6A82");
    assert_eq!(
        tx(&mut c, "00A4040006D15600000500").len(),
        24,
        "DF01 answers"
    );
    // The default profile answers everything on both interfaces.
    let mut d = card_from(&profile("gen3-default.toml"), 3);
    d.power_on(Interface::Contactless).unwrap();
    assert!(tx(&mut d, "00A4040006D15600000503").ends_with("9000"));
}
