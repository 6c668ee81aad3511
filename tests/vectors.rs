//! Runs every `vectors/**/*.apdu` script in-process on a fresh card (the profile the
//! script names, or the default gen-3 profile), with a fixed seed. The same scripts run
//! through pcscd in `tests/e2e.rs`.
#![allow(clippy::restriction)]

use sscard_core::card::applet::Interface;
use sscard_host::link::CardLink;
use sscard_host::profile::Profile;
use sscard_host::script::{Script, run};
use sscard_testkit::exchange::apdu_scripts;
use sscard_vcard::virtual_card::{HostRng, SscVirtualCard};
use std::path::Path;

fn card_for(script: &Script) -> SscVirtualCard {
    let profile = match &script.profile {
        Some(p) => Profile::load(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        None => Profile::default_gen3(),
    };
    let mut card =
        SscVirtualCard::from_profile(&profile, HostRng::seeded(42), Interface::Contact).unwrap();
    CardLink::power_on(&mut card).unwrap();
    card
}

#[test]
fn every_vector_script_passes_in_process() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors");
    let files = apdu_scripts(&root);
    assert!(
        files
            .iter()
            .filter(|f| f.starts_with(root.join("ssc")))
            .count()
            >= 6,
        "social-security scripts missing: {files:?}"
    );
    let mut failed = Vec::new();
    let mut commands = 0;
    for file in &files {
        let script = Script::load(file).unwrap();
        let mut card = card_for(&script);
        let outcome = run(&script, &mut card, true, &mut |_| {});
        commands += outcome.commands;
        for f in outcome.failures {
            failed.push(format!(
                "{}:{} {}\n    {}",
                file.display(),
                f.line,
                f.summary,
                f.failure.unwrap_or_default()
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} failures:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert!(commands > 100, "only {commands} commands ran");
}

#[test]
fn a_wrong_expectation_fails_at_its_line() {
    // The runner must be able to fail: change one expected SW of a real script.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/ssc/pin.apdu");
    let text = std::fs::read_to_string(&path).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("0020000000 => 63C3"))
        .unwrap()
        + 1;
    let broken = text.replacen("0020000000 => 63C3", "0020000000 => 63C1", 1);
    let script = Script::parse(&broken, Some(&path)).unwrap();
    let outcome = run(&script, &mut card_for(&script), true, &mut |_| {});
    assert_eq!(outcome.failures.len(), 1);
    assert_eq!(outcome.failures[0].line, line);
}

#[test]
fn scriptor_files_run_with_their_expected_output() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/ssse.scriptor");
    let script = Script::load(&path).unwrap();
    let outcome = run(&script, &mut card_for(&script), false, &mut |_| {});
    assert!(outcome.passed(), "{:?}", outcome.failures);
    assert!(outcome.commands >= 4);
}
