//! End-to-end: the `sscard run` binary behind a real pcscd + vpcd, driven by real clients
//! (pcsc-tools `pcsc_scan` and `scriptor`, OpenSC `opensc-tool`, a pyscard terminal, the
//! `pcsc` crate through `sscard script --reader`).
//!
//! Needs the cargo feature `pcsc`, pcscd + vpcd and `SSCARD_E2E=1`: the tests are
//! `#[ignore]`d with that reason and run with `--include-ignored`. pcscd is started
//! through `scripts/pcscd.sh start` (installed by `scripts/pcscd.sh install`). Only one pcscd can run, so the tests of this binary take
//! one lock and run one at a time; they use the vpcd readers "Virtual PCD 00 00" and
//! "… 00 01", which nothing else may use meanwhile.
//!
//! ```text
//! SSCARD_E2E=1 cargo test --features pcsc --test e2e -- --include-ignored --nocapture
//! ```
#![allow(clippy::restriction)]

#[cfg(feature = "pcsc")]
mod common;

#[cfg(not(feature = "pcsc"))]
#[test]
#[ignore = "built without the cargo feature `pcsc`: SSCARD_E2E=1 cargo test --features pcsc --test e2e -- --include-ignored"]
fn e2e_needs_the_pcsc_feature() {}

#[cfg(feature = "pcsc")]
mod e2e {
    use pcsc::{Card, Context, Protocols, Scope, ShareMode};
    use sscard_testkit::exchange::apdu_scripts;
    use sscard_vcard::image::ImageFile;
    use sscard_vcard::pcsc_harness::{reader_name, require_e2e, say, wait_for_card};
    use std::ffi::CStr;
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Output, Stdio};
    use std::sync::{Mutex, MutexGuard, PoisonError};
    use std::time::{Duration, Instant};

    const WAIT: Duration = Duration::from_secs(15);
    const GEN3_ATR: &[u8] = &[
        0x3B, 0x6D, 0x00, 0x00, 0x00, 0x81, 0x53, 0x53, 0x43, 0x86, 0x60, 0x51, 0x99, 0x00, 0x00,
        0x00, 0x01,
    ];
    const SELECT_SSSE: &[u8] = &[
        0x00, 0xA4, 0x04, 0x0C, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB,
        0xE1, 0xB1, 0xA3, 0xD5, 0xCF,
    ];

    static SERIAL: Mutex<()> = Mutex::new(());

    /// The serializing lock, with pcscd up, and a PC/SC context. The tests are `#[ignore]`d (they need pcscd and
    /// vpcd): `scripts/test` runs them with `--include-ignored`, and without
    /// `SSCARD_E2E=1` a test that was asked for fails rather than passing unseen.
    fn setup(test: &str) -> (MutexGuard<'static, ()>, Context) {
        require_e2e(test);
        let guard = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
        pcscd("start");
        (guard, context())
    }

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    fn pcscd(action: &str) {
        let o = Command::new("bash")
            .arg(root().join("scripts/pcscd.sh"))
            .arg(action)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "pcscd.sh {action}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// An `sscard run` process.
    struct Served {
        child: Child,
        log: PathBuf,
        _dir: tempfile::TempDir,
    }

    impl Served {
        fn start(args: &[&str]) -> Served {
            let dir = tempfile::tempdir().unwrap();
            let log = dir.path().join("sscard.log");
            let child = Command::new(env!("CARGO_BIN_EXE_sscard"))
                .arg("run")
                .args(args)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap();
            Served {
                child,
                log,
                _dir: dir,
            }
        }

        fn log(&self) -> String {
            std::fs::read_to_string(&self.log).unwrap_or_default()
        }

        /// SIGTERM, as a service manager stops it: a clean exit that removes the card.
        fn terminate(mut self) -> String {
            let pid = self.child.id().to_string();
            assert!(
                Command::new("kill")
                    .args(["-TERM", &pid])
                    .status()
                    .unwrap()
                    .success()
            );
            let status = self.child.wait().unwrap();
            let log = self.log();
            assert!(status.success(), "sscard run exit {status}: {log}");
            log
        }

        /// [`Served::terminate`], then waits until pcscd saw the card of slot 0 go, so that
        /// the next card cannot arrive before.
        fn stop(self, ctx: &Context) -> String {
            let log = self.terminate();
            absent(ctx, 0);
            log
        }

        fn kill9(&mut self) {
            self.child.kill().unwrap(); // SIGKILL
            self.child.wait().unwrap();
        }
    }

    impl Drop for Served {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// `sscard run ARGS` once pcscd sees slot 0 empty, with its card present there.
    fn serve(ctx: &Context, args: &[&str]) -> Served {
        absent(ctx, 0);
        let served = Served::start(args);
        present(ctx, 0);
        served
    }

    /// `sscard script -q --reader "Virtual PCD 00 00" [--control SOCKET] SCRIPT`, which
    /// must pass.
    fn script_over_pcsc(script: &Path, control: Option<&Path>) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sscard"));
        command.args(["script", "-q", "--reader", "Virtual PCD 00 00"]);
        if let Some(socket) = control {
            command.arg("--control").arg(socket);
        }
        let o = command.arg(script).output().unwrap();
        assert!(
            o.status.success(),
            "{} over PC/SC{}:\n{}{}",
            script.display(),
            if control.is_some() {
                " with --control"
            } else {
                ""
            },
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// The default gen-3 profile with `fen` in its medical purse, written in `dir`.
    fn funded_profile(dir: &Path, fen: u32) -> PathBuf {
        let profile = dir.join("funded.toml");
        std::fs::write(&profile, crate::common::funded_gen3(fen)).unwrap();
        profile
    }

    fn context() -> Context {
        Context::establish(Scope::User).expect("SCardEstablishContext")
    }

    fn present(ctx: &Context, slot: u8) -> Vec<u8> {
        let reader = reader_name(slot);
        wait_for_card(ctx, &reader, true, WAIT)
            .unwrap_or_else(|e| panic!("no card in {reader:?}: {e}"))
    }

    fn absent(ctx: &Context, slot: u8) {
        let reader = reader_name(slot);
        wait_for_card(ctx, &reader, false, WAIT)
            .unwrap_or_else(|e| panic!("card still in {reader:?}: {e}"));
    }

    fn connect(ctx: &Context, reader: &CStr) -> Card {
        ctx.connect(reader, ShareMode::Shared, Protocols::ANY)
            .unwrap_or_else(|e| panic!("SCardConnect {reader:?}: {e}"))
    }

    fn transmit(card: &Card, apdu: &[u8]) -> Result<Vec<u8>, pcsc::Error> {
        let mut buf = [0u8; 300];
        card.transmit(apdu, &mut buf).map(<[u8]>::to_vec)
    }

    fn tool(program: &str, args: &[&str]) -> String {
        let o: Output = Command::new(program)
            .args(args)
            .current_dir(root())
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e} (scripts/pcscd.sh install)"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "{program} {args:?}: {text}");
        text
    }

    #[test]
    #[ignore = "needs pcscd + vpcd: SSCARD_E2E=1 cargo test --features pcsc --test e2e -- --include-ignored"]
    fn real_clients_drive_the_card() {
        let (_lock, ctx) = setup("real_clients_drive_the_card");
        absent(&ctx, 0);
        let served = Served::start(&["--slot", "0"]);
        let t = Instant::now();
        assert_eq!(present(&ctx, 0), GEN3_ATR, "ATR seen by pcscd");
        say(&format!(
            "card present {} ms after start",
            t.elapsed().as_millis()
        ));

        // pcsc-tools pcsc_scan sees the card and its ATR.
        let scan = tool("timeout", &["5", "pcsc_scan", "-n", "-t", "2"]);
        assert!(
            scan.contains("3B 6D 00 00 00 81 53 53 43 86 60 51 99 00 00 00 01"),
            "{scan}"
        );
        // OpenSC: the ATR, then APDUs (opensc-tool fetches 61xx itself).
        let atr = tool("opensc-tool", &["-r", "0", "-a"]);
        assert!(
            atr.contains("3b:6d:00:00:00:81:53:53:43:86:60:51:99:00:00:00:01"),
            "{atr}"
        );
        let out = tool(
            "opensc-tool",
            &[
                "-r",
                "0",
                "-s",
                "00:A4:04:00:0F:73:78:31:2E:73:68:2E:C9:E7:BB:E1:B1:A3:D5:CF:00",
                "-s",
                "00:B2:01:2C:12",
                "-s",
                "00:B2:08:34:00",
            ],
        );
        assert!(out.contains("6F 1C 84 0F 73 78 31 2E"), "FCI: {out}");
        assert!(
            out.contains("01 10 51 99 00 D1 56 00"),
            "EF05 record 1: {out}"
        );
        assert!(out.contains("SW1=0x69, SW2=0x82"), "EF06 6982: {out}");
        // pcsc-tools scriptor, with a scriptor file.
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("ssse.txt");
        std::fs::write(
            &script,
            "reset\n00 A4 04 00 0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF 00\n\
             00 C0 00 00 1E\n00 20 00 00 00\n",
        )
        .unwrap();
        let out = tool(
            "scriptor",
            &["-r", "Virtual PCD 00 00", script.to_str().unwrap()],
        );
        assert!(out.contains("< 61 1E"), "{out}");
        assert!(
            out.contains("03 86 01 03 90 00 : Normal processing"),
            "{out}"
        );
        assert!(out.contains("< 63 C3"), "{out}");
        // An independent pyscard terminal runs the social-security flow.
        let out = tool(
            "/usr/bin/python3",
            &["tests/e2e/ssc_flow.py", "Virtual PCD 00 00"],
        );
        assert!(out.contains("pyscard ssc flow OK"), "{out}");
        say(out.lines().next().unwrap_or(""));
        // The pcsc crate, held across a reset: security state is gone afterwards.
        let mut card = connect(&ctx, &reader_name(0));
        assert_eq!(transmit(&card, SELECT_SSSE).unwrap(), [0x90, 0x00]);
        let verify = [0x00, 0x20, 0x00, 0x00, 0x03, 0x12, 0x34, 0x56];
        assert_eq!(transmit(&card, &verify).unwrap(), [0x90, 0x00]);
        let df01 = [
            0x00, 0xA4, 0x04, 0x0C, 0x06, 0xD1, 0x56, 0x00, 0x00, 0x05, 0x00,
        ];
        assert_eq!(transmit(&card, &df01).unwrap(), [0x90, 0x00]);
        assert_eq!(
            transmit(&card, &[0x00, 0xB2, 0x01, 0x2C, 0x04]).unwrap(),
            [0x20, 0x02, 0x31, 0x30, 0x90, 0x00]
        );
        card.reconnect(
            ShareMode::Shared,
            Protocols::ANY,
            pcsc::Disposition::ResetCard,
        )
        .unwrap();
        assert_eq!(transmit(&card, &df01).unwrap(), [0x90, 0x00]);
        assert_eq!(
            transmit(&card, &[0x00, 0xB2, 0x01, 0x2C, 0x04]).unwrap(),
            [0x69, 0x82],
            "PIN status survived a reset"
        );
        drop(card);
        // SIGTERM: clean exit, the card leaves the reader.
        let log = served.stop(&ctx);
        assert!(log.contains("sscard: stopped"), "{log}");
    }

    /// What `javax.smartcardio` sends over T=0: after `61xx`, GET RESPONSE in the class
    /// of the command (ISO/IEC 7816-4:2013 §5.1.3). The PBOC GPO and GENERATE AC are class
    /// 80, so their GET RESPONSE is `80 C0`; the data must survive it and come back once.
    #[test]
    #[ignore = "needs pcscd + vpcd: SSCARD_E2E=1 cargo test --features pcsc --test e2e -- --include-ignored"]
    fn java_style_get_response_in_class_80_through_pcscd() {
        let (_lock, ctx) = setup("java_style_get_response_in_class_80_through_pcscd");
        let served = serve(&ctx, &["--slot", "0", "--seed", "1"]);
        let card = connect(&ctx, &reader_name(0));
        let select = [
            0x00, 0xA4, 0x04, 0x00, 0x08, 0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01, 0x01, 0x00,
        ];
        let r = transmit(&card, &select).unwrap();
        assert_eq!(r[r.len() - 2], 0x61, "{r:02X?}");
        let r = transmit(&card, &[0x00, 0xC0, 0x00, 0x00, r[r.len() - 1]]).unwrap();
        assert_eq!(&r[r.len() - 2..], [0x90, 0x00]);
        // PDOL 9F7A 9F02 5F2A DF69; DF69 = 01 asks for the SM path (issue #16).
        let gpo = [
            0x80, 0xA8, 0x00, 0x00, 0x0C, 0x83, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
            0x01, 0x56, 0x01, 0x00,
        ];
        assert_eq!(transmit(&card, &gpo).unwrap(), [0x61, 0x10]);
        let r = transmit(&card, &[0x80, 0xC0, 0x00, 0x00, 0x10]).unwrap();
        // Format 1: AIP 7C00, AFL 08010100 10010300 18010201 (vectors/pboc/contact.apdu).
        assert_eq!(
            r,
            [
                0x80, 0x0E, 0x7C, 0x00, 0x08, 0x01, 0x01, 0x00, 0x10, 0x01, 0x03, 0x00, 0x18, 0x01,
                0x02, 0x01, 0x90, 0x00
            ]
        );
        // A class refused for GET RESPONSE: 6E00, and nothing else happens.
        assert_eq!(
            transmit(&card, &[0x84, 0xC0, 0x00, 0x00, 0x10]).unwrap(),
            [0x6E, 0x00]
        );
        // GET DATA (80 CA) is case 2: its data comes at once; the ATC was spent once.
        assert_eq!(
            transmit(&card, &[0x80, 0xCA, 0x9F, 0x36, 0x00]).unwrap(),
            [0x9F, 0x36, 0x02, 0x00, 0x01, 0x90, 0x00]
        );
        drop(card);
        served.stop(&ctx);
        say("GPO in class 80 completed with an 80 C0 GET RESPONSE through pcscd + vpcd");
    }

    #[test]
    #[ignore = "needs pcscd + vpcd: SSCARD_E2E=1 cargo test --features pcsc --test e2e -- --include-ignored"]
    fn vector_scripts_pass_through_pcscd() {
        let (_lock, ctx) = setup("vector_scripts_pass_through_pcscd");
        let mut ran = 0;
        for path in apdu_scripts(&root().join("vectors")) {
            let script = sscard_host::script::Script::load(&path).unwrap();
            let switches: Vec<_> = script
                .steps
                .iter()
                .filter_map(|s| match s.action {
                    sscard_host::script::Action::Interface(i) => Some(i),
                    _ => None,
                })
                .collect();
            let contactless = switches.first() == Some(&sscard_core::Interface::Contactless);
            if switches.iter().any(|i| Some(i) != switches.first()) {
                say(&format!(
                    "{}: moves the card between interfaces, in-process only",
                    path.display()
                ));
                continue;
            }
            // A fresh card per script: the scripts change persistent state (PIN tries).
            let mut args = vec!["--slot", "0", "--seed", "1"];
            if contactless {
                args.extend(["--interface", "contactless"]);
            }
            let profile = script
                .profile
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned());
            if let Some(p) = &profile {
                args.extend(["--profile", p.as_str()]);
            }
            let served = serve(&ctx, &args);
            script_over_pcsc(&path, None);
            served.stop(&ctx);
            ran += 1;
        }
        say(&format!("{ran} vector scripts passed through pcscd + vpcd"));
        assert!(ran >= 6);
    }

    /// Issue 16: an independent RSA-only EMV kernel (`tests/e2e/emv_rsa_kernel.py`,
    /// pyscard) given `vectors/pboc/capk.toml` completes offline data authentication on the
    /// default card through pcscd + vpcd: DDA and SDA on contact, the reader UID then fDDA
    /// on contactless; TVR byte 1 clean.
    #[test]
    #[ignore = "needs pcscd + vpcd: SSCARD_E2E=1 cargo test --features pcsc --test e2e -- --include-ignored"]
    fn an_rsa_only_kernel_completes_oda_over_pcsc() {
        let (_lock, ctx) = setup("an_rsa_only_kernel_completes_oda_over_pcsc");
        for interface in ["contact", "contactless"] {
            let served = serve(&ctx, &["--slot", "0", "--interface", interface]);
            let out = tool(
                "/usr/bin/python3",
                &[
                    "tests/e2e/emv_rsa_kernel.py",
                    "--capk",
                    "vectors/pboc/capk.toml",
                    "--interface",
                    interface,
                    "--reader",
                    "Virtual PCD 00 00",
                ],
            );
            let result = line_after(&out, "RESULT ");
            let r: serde_json::Value = serde_json::from_str(result).unwrap();
            assert!(r.get("error").is_none(), "{r}");
            assert_eq!(r["tvr1"], "00", "{interface}: {r}");
            if interface == "contact" {
                assert_eq!(r["dda"], "ok", "{r}");
                assert_eq!(r["sda"], "ok", "{r}");
            } else {
                assert_eq!(r["uid"], "53534301", "{r}");
                assert_eq!(r["fdda"], "ok", "{r}");
            }
            say(&format!("RSA-only kernel over PC/SC, {interface}: {r}"));
            served.stop(&ctx);
        }
    }

    #[test]
    #[ignore = "needs pcscd + vpcd: SSCARD_E2E=1 cargo test --features pcsc --test e2e -- --include-ignored"]
    fn two_cards_in_two_slots_at_once() {
        let (_lock, ctx) = setup("two_cards_in_two_slots_at_once");
        let served = Served::start(&["--cards", "2"]);
        present(&ctx, 0);
        present(&ctx, 1);
        let cards = [
            connect(&ctx, &reader_name(0)),
            connect(&ctx, &reader_name(1)),
        ];
        std::thread::scope(|s| {
            for (slot, card) in cards.iter().enumerate() {
                s.spawn(move || {
                    assert_eq!(transmit(card, SELECT_SSSE).unwrap(), [0x90, 0x00]);
                    for _ in 0..300 {
                        let r = transmit(card, &[0x00, 0xB2, 0x01, 0x2C, 0x12]).unwrap();
                        assert_eq!(r.len(), 20, "slot {slot}");
                    }
                });
            }
        });
        // Separate cards: a wrong PIN on slot 0 costs slot 1 nothing.
        let wrong = [0x00, 0x20, 0x00, 0x00, 0x03, 0x99, 0x99, 0x99];
        assert_eq!(transmit(&cards[0], &wrong).unwrap(), [0x63, 0xC2]);
        assert_eq!(
            transmit(&cards[1], &[0x00, 0x20, 0x00, 0x00]).unwrap(),
            [0x63, 0xC3]
        );
        drop(cards);
        served.stop(&ctx);
        absent(&ctx, 1);
        say("two cards, two slots, 600 concurrent READ RECORDs OK");
    }

    #[test]
    #[ignore = "needs pcscd + vpcd: SSCARD_E2E=1 cargo test --features pcsc --test e2e -- --include-ignored"]
    fn card_reconnects_after_a_pcscd_restart() {
        let (_lock, _) = setup("card_reconnects_after_a_pcscd_restart");
        let served = Served::start(&["--slot", "0"]);
        {
            let ctx = context();
            present(&ctx, 0);
            let card = connect(&ctx, &reader_name(0));
            assert_eq!(transmit(&card, SELECT_SSSE).unwrap(), [0x90, 0x00]);
        }
        pcscd("stop");
        pcscd("start");
        let t = Instant::now();
        let ctx = context();
        assert_eq!(present(&ctx, 0), GEN3_ATR);
        say(&format!(
            "card back {} ms after pcscd restarted",
            t.elapsed().as_millis()
        ));
        let card = connect(&ctx, &reader_name(0));
        assert_eq!(transmit(&card, SELECT_SSSE).unwrap(), [0x90, 0x00]);
        drop(card);
        let log = served.terminate();
        assert!(log.matches("connected to vpcd").count() >= 2, "{log}");
    }

    /// What the host knows about the writes: the values it saw acknowledged, in order.
    struct Ledger {
        acked: Vec<(usize, [u8; 4])>, // (slot, value)
        in_flight: Option<(usize, [u8; 4])>,
    }

    const SLOTS: usize = 32;

    /// UPDATE BINARY of EF0C (16-byte slots) and UPDATE RECORD of EF0D (records 1..16)
    /// alternately; slot i < 16 is binary, i ≥ 16 is record i-15. Values are counters.
    fn write_apdu(slot: usize, value: [u8; 4]) -> Vec<u8> {
        let mut data = Vec::new();
        for _ in 0..4 {
            data.extend_from_slice(&value);
        }
        if slot < 16 {
            let offset = (slot * 16) as u8;
            let mut apdu = vec![0x00, 0xD6, 0x8C, offset, 16];
            apdu.extend_from_slice(&data);
            apdu
        } else {
            let mut rec = data.clone();
            rec.extend_from_slice(&data); // 32-byte record
            let mut apdu = vec![0x00, 0xDC, (slot - 15) as u8, 0x6C, 32];
            apdu.extend_from_slice(&rec);
            apdu
        }
    }

    fn stream_until_killed(card: &Card, start: u32, ledger: &mut Ledger) {
        assert_eq!(transmit(card, SELECT_SSSE).unwrap(), [0x90, 0x00]);
        let mut n = start;
        loop {
            let slot = (n as usize * 7) % SLOTS;
            let value = n.to_be_bytes();
            ledger.in_flight = Some((slot, value));
            match transmit(card, &write_apdu(slot, value)) {
                Ok(r) if r == [0x90, 0x00] => ledger.acked.push((slot, value)),
                // The card is gone: an error, or nothing at all from vpcd.
                Ok(r) if r.is_empty() => return,
                Err(_) => return,
                Ok(r) => panic!("write {n} answered {r:02X?}"),
            }
            n += 1;
        }
    }

    fn read_slots(image: &Path) -> Vec<Option<[u8; 4]>> {
        let (file, body) = ImageFile::load(image).expect("image loads after kill -9");
        let mut card = sscard_vcard::virtual_card::SscVirtualCard::with_image(
            file,
            body,
            sscard_vcard::virtual_card::HostRng::seeded(1),
            sscard_core::Interface::Contact,
        )
        .unwrap();
        use sscard_host::link::CardLink;
        card.power_on().unwrap();
        card.transmit(SELECT_SSSE).unwrap();
        (0..SLOTS)
            .map(|slot| {
                let apdu = if slot < 16 {
                    vec![0x00, 0xB0, 0x8C, (slot * 16) as u8, 16]
                } else {
                    vec![0x00, 0xB2, (slot - 15) as u8, 0x6C, 32]
                };
                let r = card.transmit(&apdu).unwrap();
                let value: [u8; 4] = r[..4].try_into().unwrap();
                (r.ends_with(&[0x90, 0x00]) && value != [0; 4]).then_some(value)
            })
            .collect()
    }

    #[test]
    #[ignore = "needs pcscd + vpcd: SSCARD_E2E=1 cargo test --features pcsc --test e2e -- --include-ignored"]
    fn kill_9_during_writes_loses_no_acknowledged_write() {
        let (_lock, _) = setup("kill_9_during_writes_loses_no_acknowledged_write");
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("card.img");
        let image_arg = image.to_str().unwrap().to_string();
        let profile = root().join("tests/profiles/free-write.toml");
        let args = [
            "--slot",
            "0",
            "--profile",
            profile.to_str().unwrap(),
            "--image",
            &image_arg,
        ];
        let mut ledger = Ledger {
            acked: Vec::new(),
            in_flight: None,
        };
        for round in 0..4u64 {
            let ctx = context();
            absent(&ctx, 0);
            let mut served = Served::start(&args);
            if let Err(e) = wait_for_card(&ctx, &reader_name(0), true, WAIT) {
                let mut rs = [pcsc::ReaderState::new(reader_name(0), pcsc::State::UNAWARE)];
                let _ = ctx.get_status_change(Duration::from_millis(100), &mut rs);
                panic!(
                    "round {round}: card not back from its image ({e}; reader state {:?}):\n{}",
                    rs[0].event_state(),
                    served.log()
                );
            }
            let card = connect(&ctx, &reader_name(0));
            if round == 0 {
                // Records are numbered in order: create EF0D's 16 (all zero = unwritten).
                assert_eq!(transmit(&card, SELECT_SSSE).unwrap(), [0x90, 0x00]);
                for record in 1..=16u8 {
                    let mut apdu = vec![0x00, 0xDC, record, 0x6C, 32];
                    apdu.extend_from_slice(&[0u8; 32]);
                    assert_eq!(transmit(&card, &apdu).unwrap(), [0x90, 0x00]);
                }
            }
            let start = ledger.acked.len() as u32 + 1_000 * (round as u32 + 1);
            let before = ledger.acked.len();
            std::thread::scope(|s| {
                let writer = s.spawn(|| {
                    let mut mine = Ledger {
                        acked: Vec::new(),
                        in_flight: None,
                    };
                    stream_until_killed(&card, start, &mut mine);
                    mine
                });
                // Kill at a different moment each round, mid-stream.
                std::thread::sleep(Duration::from_millis(300 + 170 * round));
                served.kill9();
                let mine = writer.join().unwrap();
                ledger.acked.extend(mine.acked);
                ledger.in_flight = mine.in_flight;
            });
            // The killed card's handle: leave the (gone) card alone instead of resetting it.
            let _ = card.disconnect(pcsc::Disposition::LeaveCard);
            let wrote = ledger.acked.len() - before;
            assert!(
                wrote > 10,
                "round {round}: only {wrote} writes before the kill"
            );
            // Restarted from its image, the card has every acknowledged write; the one
            // in flight at the kill may or may not be there.
            let on_disk = read_slots(&image);
            let mut expected: Vec<Option<[u8; 4]>> = vec![None; SLOTS];
            for (slot, value) in &ledger.acked {
                expected[*slot] = Some(*value);
            }
            for slot in 0..SLOTS {
                let in_flight = ledger.in_flight.filter(|(s, _)| *s == slot).map(|(_, v)| v);
                assert!(
                    on_disk[slot] == expected[slot]
                        || (in_flight.is_some() && on_disk[slot] == in_flight),
                    "round {round}, slot {slot}: image has {:?}, acknowledged {:?}, in flight {:?}",
                    on_disk[slot],
                    expected[slot],
                    in_flight
                );
            }
            // The in-flight write was either saved or not: count it as acknowledged only
            // if it is on disk, so the next round's expectations are exact.
            if let Some((slot, v)) = ledger.in_flight.take()
                && on_disk[slot] == Some(v)
            {
                ledger.acked.push((slot, v));
            }
            say(&format!(
                "kill -9 round {round}: {wrote} acknowledged writes, all in the image"
            ));
        }
        // No temporary file left behind, and the image is one valid image.
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != "card.img")
            .collect();
        say(&format!("temporary files left by kill -9: {leftovers:?}"));
        ImageFile::load(&image).unwrap();
    }

    /// A card served with a control socket, a funded purse (100.00 yuan) and an image,
    /// all in a temporary directory.
    struct Bench {
        served: Served,
        socket: PathBuf,
        image: PathBuf,
        _dir: tempfile::TempDir,
    }

    impl Bench {
        /// Serves the bench's card like [`serve`]: once slot 0 is empty, until its card is
        /// present there.
        fn serve(ctx: &Context) -> Bench {
            absent(ctx, 0);
            let dir = tempfile::tempdir().unwrap();
            let profile = funded_profile(dir.path(), 10_000);
            let socket = dir.path().join("card.sock");
            let image = dir.path().join("card.img");
            let served = Served::start(&[
                "--slot",
                "0",
                "--seed",
                "1",
                "--profile",
                profile.to_str().unwrap(),
                "--image",
                image.to_str().unwrap(),
                "--control",
                socket.to_str().unwrap(),
            ]);
            let t = Instant::now();
            while !socket.exists() {
                assert!(t.elapsed() < WAIT, "no control socket: {}", served.log());
                std::thread::sleep(Duration::from_millis(20));
            }
            present(ctx, 0);
            Bench {
                served,
                socket,
                image,
                _dir: dir,
            }
        }

        /// `sscard ctl --control SOCKET ARGS…`: the answer, which must be `ok`.
        fn ctl(&self, args: &[&str]) -> serde_json::Value {
            let out = Command::new(env!("CARGO_BIN_EXE_sscard"))
                .arg("ctl")
                .arg("--control")
                .arg(&self.socket)
                .args(args)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            assert!(
                out.status.success(),
                "ctl {args:?}: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_str(&text).unwrap()
        }

        fn state(&self) -> serde_json::Value {
            self.ctl(&["state"])["state"].clone()
        }
    }

    fn pin_tries(state: &serde_json::Value) -> u64 {
        state["pins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == 0 && p["df"] == "7378312E73682EC9E7BBE1B1A3D5CF")
            .unwrap()["tries_left"]
            .as_u64()
            .unwrap()
    }

    /// Issue 13: every control command seen from a PC/SC client through pcscd + vpcd.
    #[test]
    #[ignore = "needs pcscd + vpcd: SSCARD_E2E=1 cargo test --features pcsc --test e2e -- --include-ignored"]
    fn control_commands_do_what_they_say_through_pcscd() {
        let (_lock, ctx) = setup("control_commands_do_what_they_say_through_pcscd");
        let bench = Bench::serve(&ctx);
        let reader = reader_name(0);
        let card = connect(&ctx, &reader);
        let verify_wrong = [0x00, 0x20, 0x00, 0x00, 0x03, 0x99, 0x99, 0x99];
        let probe = [0x00, 0x20, 0x00, 0x00];

        // delay: measured from the client, for `count` answers only.
        bench.ctl(&["delay", "--ms", "400", "--count", "2"]);
        for _ in 0..2 {
            let t = Instant::now();
            assert_eq!(transmit(&card, SELECT_SSSE).unwrap(), [0x90, 0x00]);
            let late = t.elapsed();
            assert!(late >= Duration::from_millis(400), "{late:?}");
            say(&format!(
                "delay 400 ms: answer after {} ms",
                late.as_millis()
            ));
        }
        let t = Instant::now();
        transmit(&card, SELECT_SSSE).unwrap();
        assert!(
            t.elapsed() < Duration::from_millis(200),
            "{:?}",
            t.elapsed()
        );

        // sw, only for its instruction; corrupt.
        bench.ctl(&["sw", "6A82", "--ins", "A4"]);
        assert_eq!(transmit(&card, &probe).unwrap(), [0x63, 0xC3]);
        assert_eq!(transmit(&card, SELECT_SSSE).unwrap(), [0x6A, 0x82]);
        bench.ctl(&["corrupt", "--byte", "1"]);
        assert_eq!(transmit(&card, SELECT_SSSE).unwrap(), [0x90, 0xFF]);
        assert_eq!(transmit(&card, SELECT_SSSE).unwrap(), [0x90, 0x00]);

        // state matches what the card did.
        assert_eq!(transmit(&card, &verify_wrong).unwrap(), [0x63, 0xC2]);
        let state = bench.state();
        assert_eq!(pin_tries(&state), 2, "{state}");
        assert_eq!(
            state["current_df"]["name"],
            "7378312E73682EC9E7BBE1B1A3D5CF"
        );
        assert_eq!(state["purse"]["balance"], 10_000);
        assert_eq!(state["powered"], true);
        let generation = state["image"]["generation"].as_u64().unwrap();
        assert!(generation >= 1, "{state}");
        assert_eq!(
            transmit(&card, &[0x00, 0x20, 0x00, 0x00, 0x03, 0x12, 0x34, 0x56]).unwrap(),
            [0x90, 0x00]
        );
        assert_eq!(
            bench.state()["security"]["pins_verified"],
            serde_json::json!([0])
        );

        // faults and clear.
        bench.ctl(&["mute", "--count", "3"]);
        bench.ctl(&["tear", "--at-write", "2"]);
        assert_eq!(
            bench.ctl(&["faults"])["faults"].as_array().unwrap().len(),
            2
        );
        assert_eq!(bench.ctl(&["clear"])["cleared"], 2);

        // mute: no answer; the card leaves the reader and comes back by itself.
        bench.ctl(&["mute"]);
        // pcsc-lite reports no answer as an error or as a response without even a SW.
        let muted = transmit(&card, SELECT_SSSE);
        assert!(
            muted.as_ref().map_or(true, Vec::is_empty),
            "mute card answered {muted:02X?}"
        );
        drop(card);
        absent(&ctx, 0);
        present(&ctx, 0);

        // remove / insert, as PC/SC sees them.
        bench.ctl(&["remove"]);
        absent(&ctx, 0);
        assert_eq!(bench.state()["inserted"], false);
        bench.ctl(&["insert"]);
        present(&ctx, 0);

        // tear: no answer, the card leaves; the image holds old or new; the counter
        // never rises.
        let card = connect(&ctx, &reader);
        assert_eq!(transmit(&card, SELECT_SSSE).unwrap(), [0x90, 0x00]);
        let before = pin_tries(&bench.state());
        for k in 1..=3 {
            bench.ctl(&["tear", "--at-write", &k.to_string(), "--mode", "half"]);
            let card = connect(&ctx, &reader);
            assert_eq!(transmit(&card, SELECT_SSSE).unwrap(), [0x90, 0x00]);
            let torn = transmit(&card, &verify_wrong);
            assert!(
                torn.as_ref().map_or(true, Vec::is_empty),
                "torn VERIFY answered {torn:02X?}"
            );
            absent(&ctx, 0);
            let (_, body) = ImageFile::load(&bench.image).unwrap();
            let state = bench.state();
            let after = pin_tries(&state);
            assert!(after == before || after + 1 == before, "{before} → {after}");
            assert!(after <= before, "a try counter rose through a tear");
            bench.ctl(&["insert"]);
            present(&ctx, 0);
            let card = connect(&ctx, &reader);
            assert_eq!(transmit(&card, SELECT_SSSE).unwrap(), [0x90, 0x00]);
            assert_eq!(
                transmit(&card, &probe).unwrap(),
                [0x63, 0xC0 | after as u8],
                "k={k}: the card answers from its recovered state"
            );
            assert!(!body.is_empty());
            say(&format!("tear at write {k}: tries {before} → {after}"));
            // Put the counter back for the next round.
            assert_eq!(
                transmit(&card, &[0x00, 0x20, 0x00, 0x00, 0x03, 0x12, 0x34, 0x56]).unwrap(),
                [0x90, 0x00]
            );
        }

        // interface: a power cycle into the contactless ATR, and back.
        bench.ctl(&["interface", "contactless"]);
        let contactless = bench.state();
        assert_eq!(contactless["interface"], "contactless");
        wait_for_atr_start(&ctx, &[0x3B, 0x8D]);
        bench.ctl(&["interface", "contact"]);
        wait_for_atr(&ctx, GEN3_ATR);

        // persona: another card in the reader (the reader sees the old one leave).
        let mut states = [pcsc::ReaderState::new(reader.clone(), pcsc::State::UNAWARE)];
        ctx.get_status_change(Duration::from_millis(100), &mut states)
            .unwrap();
        let before = states[0].event_count();
        bench.ctl(&["persona", "pin-one-try"]);
        present(&ctx, 0);
        states[0].sync_current_state();
        let _ = ctx.get_status_change(Duration::from_millis(100), &mut states);
        assert!(states[0].event_count() > before, "no removal seen");
        let card = connect(&ctx, &reader);
        assert_eq!(transmit(&card, SELECT_SSSE).unwrap(), [0x90, 0x00]);
        assert_eq!(transmit(&card, &probe).unwrap(), [0x63, 0xC1]);
        drop(card);
        let log = bench.served.stop(&ctx);
        assert!(log.contains("control socket"), "{log}");
    }

    /// Issue 13 item 2: the same fault script as in-process (tests/scripts/faults.apdu,
    /// run by tests/cli.rs) through pcscd + vpcd, its directives played by the served
    /// card's control channel (`sscard script --reader … --control PATH`).
    #[test]
    #[ignore = "needs pcscd + vpcd: SSCARD_E2E=1 cargo test --features pcsc --test e2e -- --include-ignored"]
    fn script_fault_directives_play_through_the_control_channel() {
        let (_lock, ctx) = setup("script_fault_directives_play_through_the_control_channel");
        let bench = Bench::serve(&ctx);
        let script = root().join("tests/scripts/faults.apdu");
        script_over_pcsc(&script, Some(&bench.socket));
        say("tests/scripts/faults.apdu passed through pcscd + vpcd, faults by the control channel");
        // The script ends with `insert`: the card is back, and vpcd has seen it, before it
        // goes for good (a card that leaves within vpcd's poll is never seen leaving).
        present(&ctx, 0);
        std::thread::sleep(Duration::from_secs(1));
        let log = bench.served.stop(&ctx);
        assert!(log.contains("control socket"), "{log}");
    }

    /// Waits until the reader shows a card with `atr` (a power cycle changes it).
    fn wait_for_atr(ctx: &Context, atr: &[u8]) {
        wait_for_atr_start(ctx, atr);
    }

    /// Waits until the reader shows a card whose ATR starts with `atr`.
    fn wait_for_atr_start(ctx: &Context, atr: &[u8]) {
        let t = Instant::now();
        loop {
            let seen = present(ctx, 0);
            if seen.starts_with(atr) {
                return;
            }
            assert!(
                t.elapsed() < WAIT,
                "ATR {seen:02X?}, waiting for {atr:02X?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The worked example of docs/control.md: a pyscard terminal pulls the card during
    /// DEBIT FOR PURCHASE and recovers with GET TRANSACTION PROOF, before the commit point
    /// (write 1: not debited) and after it (write 9: debited).
    #[test]
    #[ignore = "needs pcscd + vpcd: SSCARD_E2E=1 cargo test --features pcsc --test e2e -- --include-ignored"]
    fn pyscard_terminal_recovers_a_torn_purchase() {
        let (_lock, _) = setup("pyscard_terminal_recovers_a_torn_purchase");
        for (k, outcome) in [(1, "OK: not debited"), (9, "OK: debited")] {
            let ctx = context();
            let bench = Bench::serve(&ctx);
            let out = tool(
                "/usr/bin/python3",
                &[
                    "tests/e2e/purse_tear.py",
                    "Virtual PCD 00 00",
                    bench.socket.to_str().unwrap(),
                    &k.to_string(),
                ],
            );
            assert!(out.contains(outcome), "{out}");
            say(out.lines().last().unwrap_or(""));
            bench.served.stop(&ctx);
        }
    }

    /// What `out` has after `prefix` on the first line that starts with it.
    fn line_after<'a>(out: &'a str, prefix: &str) -> &'a str {
        out.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {} line: {out}", prefix.trim_end_matches([' ', ':'])))
    }

    /// The iReadCardBas fields a command printed (its `iReadCardBas: ` line).
    fn read_card_bas_fields(out: &str) -> Vec<String> {
        line_after(out, "iReadCardBas: ")
            .split('|')
            .map(str::to_string)
            .collect()
    }

    /// A command the terminal sent that starts with `head` (the last such), and its data:
    /// the answer, or after `61xx` what GET RESPONSE fetched.
    fn exchange_of(log: &[(Vec<u8>, Vec<u8>)], head: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let at = log
            .iter()
            .rposition(|(c, _)| c.starts_with(head))
            .unwrap_or_else(|| panic!("no command {head:02X?}"));
        let (command, answer) = log[at].clone();
        let answer = match answer.first() {
            Some(0x61) => log[at + 1].1.clone(),
            _ => answer,
        };
        (command, answer[..answer.len() - 2].to_vec())
    }

    /// Issue 12: `sscard run --psam` serves the card in slot 0 and its PSAM in slot 1;
    /// `sscard terminal` in PSAM mode reads the card's basic information (the demo's
    /// string but for the terminal id, which comes from the PSAM's `0016`: a terminal
    /// without PSAM has none, 12 zeros) and makes medical-purse purchases, whose MAC1,
    /// MAC2 and TAC the independent implementation recomputes; both images keep their
    /// state (balance, sequence, the PSAM's TTSN) across a restart.
    #[test]
    #[ignore = "needs pcscd + vpcd: SSCARD_E2E=1 cargo test --features pcsc --test e2e -- --include-ignored"]
    fn psam_mode_terminal_functions_through_pcscd() {
        use sscard_host::national::{self, DebitRequest};
        use sscard_host::pcsc_target::PcscTarget;
        use sscard_host::terminal::Terminal;
        use sscard_testkit::exchange::{hex, to_hex};
        use sscard_testkit::indep::{self, Alg};

        let (_lock, ctx) = setup("psam_mode_terminal_functions_through_pcscd");
        absent(&ctx, 0);
        absent(&ctx, 1);
        let dir = tempfile::tempdir().unwrap();
        let profile = funded_profile(dir.path(), 20_000);
        let profile = profile.to_str().unwrap();
        let image = dir.path().join("card-{slot}.img");
        let served_args = [
            "--psam",
            "--seed",
            "1",
            "--profile",
            profile,
            "--image",
            image.to_str().unwrap(),
        ];
        let served = Served::start(&served_args);
        assert_eq!(present(&ctx, 0), GEN3_ATR);
        assert_eq!(present(&ctx, 1)[..2], [0x3B, 0x6C], "the PSAM's ATR");
        let sscard = env!("CARGO_BIN_EXE_sscard");
        let readers = [
            "--reader",
            "Virtual PCD 00 00",
            "--psam-reader",
            "Virtual PCD 00 01",
        ];
        let terminal = |function: &[&str]| {
            let args = [
                &["terminal"],
                function,
                &readers[..],
                &["--profile", profile],
            ]
            .concat();
            tool(sscard, &args)
        };

        // (a) iReadCardBas in PSAM mode against the demo's.
        let bas = read_card_bas_fields(&terminal(&["read-card-bas"]));
        let demo = read_card_bas_fields(&tool(sscard, &["demo"]));
        // The default PSAM's terminal id is twelve zeros: the string is the demo's.
        assert_eq!(bas, demo);
        say(&format!("iReadCardBas in PSAM mode: {}", bas.join("|")));

        // (b) iDoDebit by `sscard terminal debit`: the TAC covers what it prints.
        const HIST: &str = "00815353438660519900000001";
        let card_key = |root: u8| indep::card_key(Alg::Sm4, &[root; 16], "519900", &hex(HIST));
        let amounts = hex(&format!("{:08X}{:08X}{:08X}", 4567, 300, 1200));
        let out = terminal(&[
            "debit",
            "--amount",
            "4567",
            "--self-pay",
            "300",
            "--pooled",
            "1200",
            "--time",
            "20260320093000",
        ]);
        let debit = line_after(&out, "iDoDebit: ");
        let f: Vec<&str> = debit.split('|').collect();
        assert_eq!(
            f[..6],
            [
                "20000",
                "15433",
                "0",
                "000000000000",
                "00000000",
                "20260320093000"
            ]
        );
        assert_eq!(f[7], "0", "a PSAM leaves the TAC to the host");
        let tac_data = [&amounts[..], b"2", &hex(f[3]), &hex(f[4]), &hex(f[5])].concat();
        assert_eq!(
            f[6],
            to_hex(&indep::mac(Alg::Sm4, &card_key(0x99), &tac_data)),
            "TAC"
        );

        // The same purchase by the terminal library over PC/SC, its exchanges kept: MAC1
        // and MAC2 recomputed from the card's DPK and the session's factors.
        {
            let mut t = Terminal::new(PcscTarget::connect("Virtual PCD 00 00").unwrap());
            t.raw_log = Some(vec![]);
            let mut psam =
                sscard_host::security::Psam::new(PcscTarget::connect("Virtual PCD 00 01").unwrap());
            let mut request = DebitRequest::new(100, "20260321100000").unwrap();
            request.pin = Some("123456".into());
            let debit = national::do_debit(&mut t, &mut psam, &request).unwrap();
            assert_eq!((debit.balance_before, debit.balance_after), (15433, 15333));
            assert_eq!((debit.sequence, debit.ttsn), (1, [0, 0, 0, 1]));
            let log = t.raw_log.as_deref().unwrap();
            let (_, init) = exchange_of(log, &[0xB0, 0x28, 0x01, 0x01]);
            let (command, answer) = exchange_of(log, &[0xB0, 0x2C, 0x01, 0x00]);
            let amounts = hex(&format!("{:08X}{:08X}{:08X}", 100, 0, 0));
            let keys = [card_key(0x88), card_key(0x99)];
            let no_terminal = [0u8; 6];
            let macs =
                indep::purchase_macs(Alg::Sm4, &keys, [&init, &command], &amounts, &no_terminal);
            macs.assert_proofs(&command[16..20], &answer[4..8], &debit.tac);
        }
        served.stop(&ctx);
        absent(&ctx, 1);

        // Both images reloaded: the purse and the PSAM's TTSN go on where they were.
        let served = Served::start(&served_args);
        present(&ctx, 0);
        present(&ctx, 1);
        assert!(
            served.log().contains("(loaded; PSAM of profile"),
            "{}",
            served.log()
        );
        let out = terminal(&["debit", "--amount", "33", "--time", "20260322120000"]);
        assert!(
            out.contains("iDoDebit: 15333|15300|2|000000000000|00000002|20260322120000|"),
            "{out}"
        );
        served.stop(&ctx);
        absent(&ctx, 1);
        say("PSAM mode over PC/SC: iReadCardBas, three purchases, MAC1/MAC2/TAC checked");
    }
}
