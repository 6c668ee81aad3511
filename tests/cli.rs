//! The `sscard` binary as a user meets it: exit codes, one-line errors, no backtraces.
#![allow(clippy::restriction)]

use std::path::Path;
use std::process::{Command, Output};

fn sscard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sscard"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bad_profiles_name_the_field() {
    for (file, field) in [
        ("bad-atr.toml", "`card.atr`"),
        ("bad-type.toml", "`card.dir_sfi`"),
        ("bad-unknown-field.toml", "`ef05.cardid`"),
        ("bad-date.toml", "`ef05.issue_date`"),
        ("bad-access.toml", "`extra_ef[0].write`"),
    ] {
        let o = sscard(&["profile", "check", &format!("tests/profiles/{file}")]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{file}: {err}");
        assert!(err.contains(field), "{file}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{file}: one line, got {err}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{err}"
        );
    }
    let ok = sscard(&["profile", "check", "vectors/profiles/gen3-default.toml"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let ok = sscard(&["profile", "check", "tests/profiles/free-write.toml"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
}

#[test]
fn script_exit_status_follows_the_outcome() {
    let o = sscard(&["script", "-q", "vectors/ssc/pin.apdu"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("PASS"));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.apdu");
    std::fs::write(&bad, "00A4040C0F 7378312E73682EC9E7BBE1B1A3D5CF => 6A82\n").unwrap();
    let o = sscard(&["script", "-q", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("bad.apdu:1"), "{}", stderr(&o));
    std::fs::write(&bad, "00A4 => 9000 junk\n").unwrap();
    let o = sscard(&["script", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("line 1"), "{}", stderr(&o));
}

#[test]
fn script_state_persists_in_an_image_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("card.img");
    let wrong_pin = dir.path().join("wrong.apdu");
    std::fs::write(
        &wrong_pin,
        "00A4040C0F 7378312E73682EC9E7BBE1B1A3D5CF => 9000\n0020000003 999999 => 63CX\n",
    )
    .unwrap();
    let query = dir.path().join("query.apdu");
    std::fs::write(
        &query,
        "00A4040C0F 7378312E73682EC9E7BBE1B1A3D5CF => 9000\n0020000000 => 63C1\n",
    )
    .unwrap();
    let run_on_image = |script: &std::path::Path| {
        sscard(&[
            "script",
            "-q",
            "--image",
            img.to_str().unwrap(),
            script.to_str().unwrap(),
        ])
    };
    for _ in 0..2 {
        let o = run_on_image(&wrong_pin);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = run_on_image(&query);
    assert!(
        o.status.success(),
        "two wrong PINs remembered: {}",
        stderr(&o)
    );
    let o = sscard(&["image", "info", img.to_str().unwrap()]);
    assert!(o.status.success());
    // Another profile for an existing image is refused, the image untouched.
    let before = std::fs::read(&img).unwrap();
    let o = sscard(&[
        "script",
        "--image",
        img.to_str().unwrap(),
        "--profile",
        "tests/profiles/free-write.toml",
        query.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("made from profile 'gen3-default'"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&img).unwrap(), before);
}

#[test]
fn corrupt_image_is_refused_in_one_line_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("card.img");
    let snapshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/images/gen3-default-v1.img");
    let mut bytes = std::fs::read(snapshot).unwrap();
    bytes[5000] ^= 1;
    std::fs::write(&img, &bytes).unwrap();
    let o = sscard(&[
        "script",
        "--image",
        img.to_str().unwrap(),
        "vectors/ssc/pin.apdu",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("body CRC mismatch") && err.contains("not modified"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert_eq!(std::fs::read(&img).unwrap(), bytes);
}

#[test]
fn run_refuses_shared_images_and_bad_addresses_before_serving() {
    let o = sscard(&["run", "--cards", "2", "--image", "/tmp/x.img"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("{slot}"), "{}", stderr(&o));
    let o = sscard(&["run", "--vpcd", "no-such-host.invalid:1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("sscard: --vpcd"), "{}", stderr(&o));
}

#[test]
fn run_with_a_psam_refuses_a_shared_image_and_a_card_image_for_the_psam() {
    let o = sscard(&["run", "--psam", "--image", "/tmp/x.img"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("{slot}"), "{}", stderr(&o));
    let o = sscard(&[
        "run",
        "--psam-profile",
        "vectors/profiles/gen3-default.toml",
    ]);
    assert_eq!(o.status.code(), Some(2), "--psam-profile needs --psam");
    let dir = tempfile::tempdir().unwrap();
    let card = dir.path().join("card-1.img");
    assert!(
        sscard(&["image", "create", card.to_str().unwrap()])
            .status
            .success()
    );
    let images = dir.path().join("card-{slot}.img");
    let o = sscard(&["run", "--psam", "--image", images.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("card-1.img holds a user card, not a PSAM"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("card-0.img").exists(), "nothing served");
}

#[test]
fn json_trace_of_a_script_masks_the_pin() {
    let o = sscard(&[
        "script",
        "-q",
        "--trace",
        "-",
        "--trace-format",
        "json",
        "vectors/ssc/pin.apdu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let mut commands = 0;
    for line in out.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["direction"] == "command" && v["name"] == "VERIFY" {
            commands += 1;
            let apdu = v["apdu"].as_str().unwrap();
            assert!(
                !apdu.contains("123456") && !apdu.contains("999999"),
                "{apdu}"
            );
        }
    }
    assert!(commands >= 10, "{commands} VERIFY lines");
}

#[test]
fn a_second_process_on_an_image_in_use_is_refused_and_a_killed_holder_never_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("card.img");
    let img_arg = img.to_str().unwrap();
    // Nothing listens on the discard port: the first card keeps retrying vpcd, holding
    // its image the whole time.
    let mut first = Command::new(env!("CARGO_BIN_EXE_sscard"))
        .args([
            "run",
            "--image",
            img_arg,
            "--slot",
            "0",
            "--vpcd",
            "127.0.0.1:9",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = dir.path().join(".card.img.lock");
    let holder = format!("process {}", first.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !(img.exists() && std::fs::read_to_string(&lock).is_ok_and(|s| s.contains(&holder))) {
        assert!(
            std::time::Instant::now() < deadline,
            "first card never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let before = std::fs::read(&img).unwrap();
    for args in [
        vec![
            "run",
            "--image",
            img_arg,
            "--slot",
            "1",
            "--vpcd",
            "127.0.0.1:9",
        ],
        vec!["script", "-q", "--image", img_arg, "vectors/ssc/pin.apdu"],
    ] {
        let o = sscard(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(img_arg) && err.contains(&holder) && err.contains("not modified"),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    assert_eq!(
        std::fs::read(&img).unwrap(),
        before,
        "the image is unchanged"
    );
    // kill -9: the lock dies with its holder, the next process gets the image.
    first.kill().unwrap();
    first.wait().unwrap();
    let o = sscard(&["script", "-q", "--image", img_arg, "vectors/ssc/pin.apdu"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn export_nvm_writes_the_raw_memory_a_firmware_loads() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("card.img");
    let raw = dir.path().join("card.nvm");
    assert!(
        sscard(&["image", "create", img.to_str().unwrap()])
            .status
            .success()
    );
    let o = sscard(&[
        "image",
        "export-nvm",
        img.to_str().unwrap(),
        raw.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let body = std::fs::read(&raw).unwrap();
    let (_, from_image) = sscard_vcard::image::ImageFile::load(&img).unwrap();
    assert_eq!(body, from_image);
    // The raw memory is a card as it is: load it, power on, get the profile's ATR.
    let profile = sscard_host::profile::Profile::default_gen3();
    let mut card = sscard_core::Card::load(
        sscard_core::nvm::RamNvm::new(body),
        sscard_core::rng::SplitMixRng::new(1),
        (),
        profile.applications(),
        profile.options(),
    )
    .unwrap();
    assert_eq!(
        card.power_on(sscard_core::Interface::Contact).unwrap(),
        profile.atr()
    );
    // An existing file is never overwritten.
    let again = sscard(&[
        "image",
        "export-nvm",
        img.to_str().unwrap(),
        raw.to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("not overwritten"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn scripts_play_the_fault_directives_in_process() {
    // tests/scripts/faults.apdu: a tear at the first and last write of VERIFY (old, then
    // new try counter), a card out of the reader until `insert`, a status word in place
    // of the card's answer, a late answer.
    let started = std::time::Instant::now();
    let o = sscard(&["script", "-q", "tests/scripts/faults.apdu"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
}
