//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/`) through the same
//! check the cargo-fuzz target runs (`sscard_testkit::fuzz_checks`), so the checks run on every
//! `cargo test` even where libFuzzer cannot be built. A crash found by fuzzing becomes a
//! regression test by copying its input into the target's corpus directory.
#![allow(clippy::restriction)]

use std::path::PathBuf;

use sscard_testkit::fuzz_checks;

/// A fuzz target's name (its corpus folder) and the check it runs.
type Target = (
    &'static str,
    fn(&[u8]) -> Result<(), sscard_testkit::Violation>,
);

/// Every fuzz target with a committed corpus.
const TARGETS: [Target; 7] = [
    ("apdu_parse", fuzz_checks::apdu_parse),
    ("tlv", fuzz_checks::tlv),
    ("card_session", fuzz_checks::card_session),
    ("pboc_session", fuzz_checks::pboc_session),
    ("psam_session", sscard_testkit::psam_fuzz::psam_session),
    ("tear_session", fuzz_checks::tear_session),
    ("ops_session", sscard_testkit::fuzz_ops::ops_session),
];

/// Runs `check` on every file of the target's corpus; fails with all failures listed.
fn replay((target, check): Target) {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "fuzz", "corpus", target]
        .iter()
        .collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    // An emptied or moved corpus must not pass silently.
    assert!(
        files.len() >= 10,
        "{}: only {} corpus files",
        dir.display(),
        files.len()
    );
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let input = std::fs::read(path).unwrap();
            check(&input)
                .err()
                .map(|e| format!("{}: {e}", path.display()))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Each target's corpus in turn; a failure names the corpus folder, hence the target.
#[test]
fn every_corpus_passes_its_target_check() {
    for target in TARGETS {
        replay(target);
    }
}

/// The PBOC corpus seeds reach both offline data authentication algorithms of the dual
/// default card: `DF69` = 00 gives RSA signatures (128 bytes, the ICC key's length),
/// `DF69` = 01 SM2 ones (the assumed 76-byte layout), on contact and contactless.
#[test]
fn pboc_corpus_reaches_rsa_and_sm2() {
    use sscard_testkit::fuzz_checks::{Event, split_session};
    fn responses(seed: &str) -> Vec<Vec<u8>> {
        let path: PathBuf = [
            env!("CARGO_MANIFEST_DIR"),
            "fuzz",
            "corpus",
            "pboc_session",
            seed,
        ]
        .iter()
        .collect();
        let mut card = sscard_testkit::sample::pboc_sample_card();
        let mut out = vec![0u8; 65_538];
        let mut all = Vec::new();
        for event in split_session(&std::fs::read(path).unwrap()) {
            match event {
                Event::Apdu(apdu) => {
                    let n = card.process(&apdu, &mut out);
                    all.push(out.get(..n).unwrap_or_default().to_vec());
                }
                Event::PowerCycle(i) => {
                    card.power_off();
                    card.power_on(i).unwrap();
                }
                Event::PowerOff => card.power_off(),
            }
        }
        all
    }
    let has = |rs: &[Vec<u8>], prefix: &[u8]| {
        rs.iter()
            .any(|r| r.windows(prefix.len()).any(|w| w == prefix))
    };
    // INTERNAL AUTHENTICATE's answer, fetched by GET RESPONSE: 80 81 80 (RSA) / 80 4C (SM2).
    assert!(has(&responses("rsa_contact"), &[0x80, 0x81, 0x80]));
    assert!(has(&responses("sm2_contact"), &[0x80, 0x4C, 0x15, 0x07]));
    // qPBOC fDDA in the GPO answer: 9F4B 81 80 (RSA) / 9F4B 46 15 07 (SM2).
    assert!(has(&responses("rsa_qpboc"), &[0x9F, 0x4B, 0x81, 0x80]));
    assert!(has(
        &responses("sm2_qpboc"),
        &[0x9F, 0x4B, 0x46, 0x15, 0x07]
    ));
}
