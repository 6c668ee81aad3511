//! The `[pboc]` section in the project's profile loader and the PBOC applet in the
//! virtual card: `vectors/profiles/gen3-default.toml` is the social-security card of
//! `gen3-ssc.toml` plus the default PBOC section, and both environments answer, separated by the firewall.
#![allow(clippy::restriction)]

use sscard_core::card::applet::Interface;
use sscard_host::link::CardLink;
use sscard_host::profile::Profile;
use sscard_vcard::virtual_card::{HostRng, SscVirtualCard};
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> String {
    std::fs::read_to_string(root().join("vectors/profiles").join(name)).unwrap()
}

use sscard_testkit::exchange::hex;

/// The virtual card of a shipped profile (contact interface, fixed seed), not yet powered.
fn virtual_card(profile: &str) -> SscVirtualCard {
    let path = root().join("vectors/profiles").join(profile);
    let profile = Profile::load(&path).unwrap();
    SscVirtualCard::from_profile(&profile, HostRng::seeded(1), Interface::Contact).unwrap()
}

/// The card's whole answer to `apdu` (hex): data ‖ SW.
fn answer(card: &mut SscVirtualCard, apdu: &str) -> Vec<u8> {
    card.transmit(&hex(apdu)).unwrap()
}

fn sw(r: &[u8]) -> u16 {
    u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]])
}

#[test]
fn the_default_card_is_gen3_ssc_plus_the_pboc_section() {
    let combined = read("gen3-default.toml");
    let body = combined.splitn(4, '\n').nth(3).unwrap();
    assert_eq!(
        body,
        format!("{}\n{}", read("gen3-ssc.toml"), read("pboc-default.toml")),
        "regenerate vectors/profiles/gen3-default.toml from its two parts"
    );
}

#[test]
fn both_environments_answer_behind_the_firewall() {
    let mut card = virtual_card("gen3-default.toml");
    CardLink::power_on(&mut card).unwrap();
    // PBOC: PSE and the debit application (T=0: 61xx).
    let r = answer(&mut card, "00A404000E315041592E5359532E444446303100");
    assert_eq!(sw(&r), 0x611C);
    let r = answer(&mut card, "00A4040008A00000033301010100");
    assert_eq!(sw(&r) >> 8, 0x61);
    let r = answer(&mut card, "80CA9F7900");
    assert_eq!(r, hex("9F79060000000100009000"));
    // Social security: selecting the SSSE leaves the financial environment.
    let r = answer(&mut card, "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00");
    assert_eq!(sw(&r) >> 8, 0x61);
    let r = answer(&mut card, "80CA9F7900");
    assert_ne!(
        sw(&r),
        0x9000,
        "PBOC data is not reachable from the social-security side"
    );

    // A card without [pboc] answers "not found" to the PBOC names.
    let mut card = virtual_card("gen3-ssc.toml");
    CardLink::power_on(&mut card).unwrap();
    let r = answer(&mut card, "00A404000E325041592E5359532E444446303100");
    assert_eq!(sw(&r), 0x6A82);
}

#[test]
fn a_bad_pboc_field_is_named() {
    let text = read("gen3-default.toml").replacen(
        "pan = \"6212345678901232\"",
        "pan = \"6212345678901233\"",
        1,
    );
    let e = Profile::parse(&text).unwrap_err();
    assert_eq!(e.field, "pboc.applications[0].pan", "{e}");
    let text = read("gen3-default.toml").replacen("ppse = true", "ppse = true\nunknown = 1", 1);
    let e = Profile::parse(&text).unwrap_err();
    assert!(e.to_string().contains("unknown"), "{e}");
}

#[test]
fn the_trace_of_sscard_run_decodes_records_by_the_application_that_answered() {
    use sscard_vcard::trace::{TraceBuffer, TraceFormat, Tracer};
    let mut card = virtual_card("gen3-default.toml");
    let sink = TraceBuffer::default();
    card.set_tracer(Tracer::new(Box::new(sink.clone()), TraceFormat::Text));
    CardLink::power_on(&mut card).unwrap();
    // PBOC: SFI 3 record 2 is 70 { 9F74 … }.
    answer(&mut card, "00A4040008A00000033301010100");
    let r = answer(&mut card, "00B2021C00");
    assert_eq!(r, hex("70099F74064543433030319000"));
    // Social security: DF03/EF07 record 1 starts with tag 70 险种类型 too.
    answer(&mut card, "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00");
    answer(&mut card, "00A4040C06D15600000502");
    answer(&mut card, "0020000003123456");
    let r = answer(&mut card, "00B2013C00");
    assert_eq!(&r[..2], [0x70, 0x03]);
    let text = sink.text();
    let (pboc, ssc) = text.split_once("00A404000F").unwrap();
    assert!(pboc.contains("70 record template"), "{pboc}");
    assert!(pboc.contains("9F74"), "{pboc}");
    assert!(!pboc.contains("险种类型"), "{pboc}");
    assert!(ssc.contains("70 险种类型: \"110\""), "{ssc}");
}
