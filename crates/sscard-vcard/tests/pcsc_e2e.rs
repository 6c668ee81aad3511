//! End-to-end test through a real pcscd + vpcd (Debian's `vsmartcard-vpcd`).
//!
//! `#[ignore]`d: it needs the cargo feature `pcsc` (which needs libpcsclite-dev +
//! pkg-config), pcscd + vpcd and `SSCARD_E2E=1`; asked for without `SSCARD_E2E=1` it fails
//! rather than passing unseen. To run it:
//!
//! ```text
//! bash scripts/pcscd.sh install    # once
//! bash scripts/pcscd.sh start
//! SSCARD_E2E=1 cargo test -p sscard-vcard --features pcsc --test pcsc_e2e -- --include-ignored --nocapture
//! bash scripts/pcscd.sh stop
//! ```
//! (`bash scripts/pcscd.sh e2e` does all of that.) The test uses both vpcd slots
//! (readers "Virtual PCD 00 00" and "Virtual PCD 00 01"); nothing else may be connected to them.
//! Messages and measurements are written straight to stderr, so they show even without
//! `--nocapture`.
#![allow(clippy::restriction)]

#[cfg(not(feature = "pcsc"))]
#[test]
#[ignore = "built without the cargo feature `pcsc`: SSCARD_E2E=1 cargo test -p sscard-vcard --features pcsc --test pcsc_e2e -- --include-ignored"]
fn pcsc_end_to_end() {}

#[cfg(feature = "pcsc")]
mod e2e {
    use std::ffi::CStr;
    use std::thread;
    use std::time::{Duration, Instant};

    use pcsc::{Card, Context, Protocols, Scope, ShareMode};
    use sscard_vcard::echo::{ECHO_ATR, EchoCard};
    use sscard_vcard::pcsc_harness::{
        RoundTripStats, reader_name, require_e2e, say, wait_for_card,
    };
    use sscard_vcard::vpcd::{RunningSlot, Slot};

    const WAIT: Duration = Duration::from_secs(10);

    fn transmit(card: &Card, apdu: &[u8]) -> Result<Vec<u8>, pcsc::Error> {
        let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        card.transmit(apdu, &mut buf).map(<[u8]>::to_vec)
    }

    /// Case 3 APDU whose data is `data`; the echo card answers data ‖ 90 00.
    fn case3(data: &[u8]) -> Vec<u8> {
        let mut apdu = vec![0x00, 0xD6, 0x00, 0x00];
        match u8::try_from(data.len()) {
            Ok(lc) if lc > 0 => apdu.push(lc),
            _ => {
                apdu.push(0);
                apdu.extend(u16::try_from(data.len()).unwrap().to_be_bytes());
            }
        }
        apdu.extend_from_slice(data);
        apdu
    }

    fn check_echo(card: &Card, data: &[u8]) {
        let resp = transmit(card, &case3(data)).unwrap();
        let (body, sw) = resp.split_at(resp.len() - 2);
        assert_eq!(sw, [0x90, 0x00], "SW for {} data bytes", data.len());
        assert_eq!(body, data, "echo of {} data bytes", data.len());
    }

    fn connect(ctx: &Context, reader: &CStr) -> Card {
        ctx.connect(reader, ShareMode::Shared, Protocols::ANY)
            .unwrap_or_else(|e| panic!("SCardConnect {reader:?}: {e}"))
    }

    fn wait_present(ctx: &Context, reader: &CStr) -> Duration {
        let t = Instant::now();
        let atr = wait_for_card(ctx, reader, true, WAIT)
            .unwrap_or_else(|e| panic!("card never present in {reader:?}: {e}"));
        assert_eq!(atr, ECHO_ATR, "ATR seen by pcscd");
        t.elapsed()
    }

    /// Serves an echo card in vpcd slot `slot`, waits for pcscd to see it in `reader`
    /// (saying how long that took) and connects to it.
    fn insert_echo(ctx: &Context, slot: u8, reader: &CStr) -> (RunningSlot<EchoCard>, Card) {
        let served = Slot::local(slot).spawn(EchoCard::new()).unwrap();
        let dt = wait_present(ctx, reader);
        say(&format!(
            "card present in {reader:?} {} ms after start",
            dt.as_millis()
        ));
        (served, connect(ctx, reader))
    }

    fn wait_empty(ctx: &Context, reader: &CStr) -> Duration {
        let t = Instant::now();
        wait_for_card(ctx, reader, false, WAIT)
            .unwrap_or_else(|e| panic!("card never removed from {reader:?}: {e}"));
        t.elapsed()
    }

    #[test]
    #[ignore = "needs pcscd + vpcd: bash scripts/pcscd.sh start; SSCARD_E2E=1 cargo test -p sscard-vcard --features pcsc --test pcsc_e2e -- --include-ignored"]
    fn pcsc_end_to_end() {
        require_e2e("pcsc_end_to_end");
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_max_level(tracing::Level::INFO)
            .try_init();
        assert!(
            std::path::Path::new("/run/pcscd/pcscd.comm").exists(),
            "SSCARD_E2E=1 but pcscd is not running: `bash scripts/pcscd.sh start` first"
        );
        let ctx = Context::establish(Scope::User).expect("SCardEstablishContext");
        let (r0, r1) = (reader_name(0), reader_name(1));
        let readers = ctx.list_readers_owned().expect("SCardListReaders");
        assert!(
            readers.contains(&r0) && readers.contains(&r1),
            "vpcd readers missing (is vsmartcard-vpcd installed?): {readers:?}"
        );
        for r in [&r0, &r1] {
            wait_for_card(&ctx, r, false, Duration::from_secs(3))
                .unwrap_or_else(|_| panic!("{r:?} already holds a card: stop other virtual cards"));
        }

        // --- slot 0: insert the echo card, wait for presence, exchange APDUs.
        let (slot0, card0) = insert_echo(&ctx, 0, &r0);
        let status = card0.status2_owned().unwrap();
        assert_eq!(status.atr(), ECHO_ATR);
        assert_eq!(
            transmit(&card0, &[0x00, 0x84, 0x00, 0x00]).unwrap(),
            [0x90, 0x00]
        ); // case 1
        assert_eq!(
            transmit(&card0, &[0x00, 0xB0, 0x00, 0x00, 0x10]).unwrap(),
            [0x90, 0x00]
        ); // case 2
        assert_eq!(
            transmit(&card0, &[0x00, 0xA4, 0x00, 0x00, 0x02, 0x3F, 0x00, 0x00]).unwrap(),
            [0x3F, 0x00, 0x90, 0x00]
        ); // case 4
        for len in [1usize, 2, 16, 255, 256, 261, 1000, 4096] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            check_echo(&card0, &data);
        }

        // --- slot 1 concurrently with slot 0.
        let (slot1, card1) = insert_echo(&ctx, 1, &r1);
        thread::scope(|s| {
            for (tag, card) in [(0u8, &card0), (1u8, &card1)] {
                s.spawn(move || {
                    for n in 0..500u16 {
                        let [hi, lo] = n.to_be_bytes();
                        check_echo(card, &[tag, hi, lo]);
                    }
                });
            }
        });
        say("slots 0 and 1: 500 concurrent echoes each OK");

        // --- round-trip time on slot 0 (measured and printed, not asserted).
        let select_mf = [0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00];
        let mut buf = [0u8; 258];
        for _ in 0..20 {
            card0.transmit(&select_mf, &mut buf).unwrap();
        }
        let mut samples = Vec::with_capacity(2000);
        for _ in 0..2000 {
            let t = Instant::now();
            let resp = card0.transmit(&select_mf, &mut buf).unwrap();
            samples.push(t.elapsed());
            assert_eq!(resp, [0x3F, 0x00, 0x90, 0x00]);
        }
        let stats = RoundTripStats::from_samples(&mut samples).unwrap();
        say(&format!("round trip, SELECT MF on {r0:?}: {stats}"));

        // --- remove the card of slot 1: the reader reports "card removed".
        slot1.handle().remove();
        let dt = wait_empty(&ctx, &r1);
        let err = transmit(&card1, &select_mf).expect_err("transmit to a removed card");
        assert_eq!(err, pcsc::Error::RemovedCard, "error after removal");
        say(&format!(
            "card removed from {r1:?} ({} ms after remove; transmit -> {err})",
            dt.as_millis()
        ));
        // Slot 0 is unaffected.
        check_echo(&card0, b"still here");

        // Re-insert: the same card object comes back and works.
        slot1.handle().insert();
        wait_present(&ctx, &r1);
        let card1 = connect(&ctx, &r1);
        check_echo(&card1, b"back again");
        drop(card1);
        let echo1 = slot1.stop().unwrap();
        assert!(echo1.power_ons() >= 2, "power-ons: {}", echo1.power_ons());
        assert_eq!(
            echo1.apdus(),
            501,
            "500 concurrent echoes + 1 after re-insert"
        );
        wait_empty(&ctx, &r1);

        // Stopping slot 0 also removes its card.
        drop(card0);
        let echo0 = slot0.stop().unwrap();
        wait_empty(&ctx, &r0);
        say(&format!(
            "slot 0 card: {} APDUs, {} power-ons, {} power-offs, {} resets",
            echo0.apdus(),
            echo0.power_ons(),
            echo0.power_offs(),
            echo0.resets()
        ));
    }
}
