//! Card images written by every released format version keep loading (DESIGN.md
//! invariant 6), and a damaged or foreign image is refused without being touched.
//!
//! `tests/images/gen3-default-v1.img` was written by format version 1 (`sscard image
//! create`), `gen3-default-v1-r2.img` by the same format with the options of December
//! 2026, `gen3-default-v2.img` by format version 2 (the options stored in the card's
//! memory); they must never be regenerated: add a file per new version instead.
#![allow(clippy::restriction)]

use sscard_core::card::applet::Interface;
use sscard_core::options::LeZero;
use sscard_host::profile::Profile;
use sscard_host::script::{Script, run};
use sscard_vcard::image::{self, ImageFile};
use sscard_vcard::virtual_card::{HostRng, SscVirtualCard};
use std::path::{Path, PathBuf};

fn snapshots() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/images");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "img"))
        .collect();
    v.sort();
    v
}

/// The card's Le = 00 option, and its answer to READ RECORD 1 of EF05 with Le = 00.
fn read_ef05_record_1(card: &mut SscVirtualCard) -> (LeZero, Vec<u8>) {
    let le_zero = card.card().options().le_zero;
    let apdu = [0x00, 0xB2, 0x01, 0x2C, 0x00];
    (
        le_zero,
        sscard_host::link::CardLink::transmit(card, &apdu).unwrap(),
    )
}

#[test]
fn every_snapshot_loads_and_runs_the_social_security_scripts() {
    let files = snapshots();
    assert!(!files.is_empty());
    for path in files {
        let (file, body) =
            ImageFile::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // An old image is an old card: its profile may differ from today's default.
        assert_eq!(file.meta().profile_label, "gen3-default");
        // Work on a copy: the snapshot itself is never written.
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("card.img");
        std::fs::copy(&path, &copy).unwrap();
        let (file, body2) = ImageFile::load(&copy).unwrap();
        assert_eq!(body, body2);
        let mut card =
            SscVirtualCard::with_image(file, body, HostRng::seeded(5), Interface::Contact).unwrap();
        sscard_host::link::CardLink::power_on(&mut card).unwrap();
        let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/ssc");
        for name in ["select-ssse.apdu", "ef05-addressing.apdu"] {
            let script = Script::load(&vectors.join(name)).unwrap();
            let outcome = run(&script, &mut card, true, &mut |_| {});
            assert!(
                outcome.passed(),
                "{} on {}: {:?}",
                name,
                path.display(),
                outcome.failures
            );
        }
        // The image keeps the spec choices it was written with: format 1 images of the
        // default card recorded `le_zero = exact` (the default before issue 18), so a
        // READ RECORD with Le = 00 still answers 6Cxx there.
        if path.to_string_lossy().ends_with("-v1.img") {
            let (le_zero, r) = read_ef05_record_1(&mut card);
            assert_eq!(le_zero, LeZero::ExactLength);
            assert_eq!(r, [0x6C, 0x12], "{}", path.display());
        }
        // Written just before the layered architecture (issue 11): the PKI key-slot
        // policy byte and the lenient Le = 00 default are in its metadata.
        if path.to_string_lossy().ends_with("-v1-r2.img") {
            let (le_zero, r) = read_ef05_record_1(&mut card);
            assert_eq!(le_zero, LeZero::Lenient);
            assert_eq!(r.last(), Some(&0x00), "{}", path.display());
            assert_eq!(r.get(r.len() - 2), Some(&0x90), "{}", path.display());
        }
    }
}

fn refused_untouched(bytes: &[u8], what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.img");
    std::fs::write(&path, bytes).unwrap();
    let err = ImageFile::open_or_create(&path, &Profile::default_gen3(), false)
        .err()
        .unwrap_or_else(|| panic!("{what}: accepted"));
    assert!(err.to_string().contains("not modified"), "{what}: {err}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "{what}: file changed");
    // Nothing else was left in the directory either (no temporary file); only the
    // image's lock file, which stays beside it as the lock's anchor.
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, [".card.img.lock", "card.img"], "{what}");
}

#[test]
fn corrupt_truncated_and_foreign_images_are_refused_and_left_alone() {
    let good = std::fs::read(&snapshots()[0]).unwrap();
    for at in [0, 9, 13, 17, 21, 30, 200, good.len() / 2, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        refused_untouched(&bad, &format!("byte {at} flipped"));
    }
    refused_untouched(&good[..good.len() - 1], "truncated by one byte");
    refused_untouched(&good[..100], "truncated to 100 bytes");
    refused_untouched(b"", "empty file");
    refused_untouched(b"[card]\ngeneration = 3\n", "a TOML profile");
    refused_untouched(&[0x7F, b'E', b'L', b'F', 2, 1, 1, 0], "an ELF header");
}

#[test]
fn the_snapshot_format_is_byte_stable() {
    // Decoding the current version's snapshot and encoding it again gives its exact
    // bytes (a change here is a format change and needs a new version and a new
    // snapshot).
    let current = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/images/gen3-default-v2.img");
    let (file, body) = ImageFile::load(&current).unwrap();
    assert_eq!(
        image::encode(file.meta(), &body),
        std::fs::read(&current).unwrap()
    );
}

#[test]
fn version_1_images_move_their_options_into_the_card_memory() {
    // Loaded, a version-1 image's body gains the options record with the metadata's
    // options; its next save is version 2, and firmware could load that body alone.
    for name in ["gen3-default-v1.img", "gen3-default-v1-r2.img"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/images")
            .join(name);
        let (file, body) = ImageFile::load(&path).unwrap();
        let stored =
            sscard_core::options::StoredOptions::read(&sscard_core::nvm::RamNvm::new(body.clone()))
                .unwrap()
                .unwrap();
        assert_eq!(stored.cos, file.meta().options, "{name}");
        assert_eq!(
            &stored.application[..],
            &file.meta().ssc_options.encode()[..],
            "{name}"
        );
        let resaved = image::encode(file.meta(), &body);
        assert_eq!(resaved[8..10], [0, 2], "{name}: saved as version 2");
        let (meta, body2) = image::decode(&resaved).unwrap();
        assert_eq!(
            (meta.options, meta.ssc_options, &body2),
            (file.meta().options, file.meta().ssc_options, &body),
            "{name}"
        );
        let card = sscard_core::Card::load_stored(
            sscard_core::nvm::RamNvm::new(body2),
            sscard_core::rng::SplitMixRng::new(1),
            (),
            sscard_ssc::SocialSecurity::from_stored,
        )
        .unwrap();
        assert_eq!(*card.options(), file.meta().options, "{name}");
    }
}

#[test]
fn a_psam_body_without_its_kind_tag_is_not_taken_for_a_user_card() {
    // The user card's options record holds three application bytes, the PSAM's one: a
    // PSAM memory in an image that does not say it holds a PSAM is refused.
    let profile = Profile::default_gen3();
    let psam = profile.psam().unwrap();
    let meta = image::ImageMeta::from_profile(&profile);
    let bytes = image::encode(&meta, &psam.image);
    assert!(
        matches!(image::decode(&bytes), Err(image::ImageError::Corrupt(_))),
        "{:?}",
        image::decode(&bytes).map(|(m, _)| m.profile_label)
    );
}
