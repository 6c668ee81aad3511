//! Per-APDU round trip through pcscd + vpcd: the sscard card vs the minimal echo card
//! (`sscard-echo-card`'s card) on the same stack, measured side by side in one run.
//!
//! Both cards are served from this process (the sscard card exactly as `sscard run`
//! serves it, with an image file so the persistence path is live), sscard in reader
//! "Virtual PCD 00 00" and the echo card in "… 00 01". The same C-APDUs go to both, in
//! alternating blocks so drift (CPU frequency, other load) hits both alike. Needs a running
//! pcscd with vpcd (`bash scripts/pcscd.sh start`) and the feature `pcsc`:
//!
//! ```text
//! cargo bench --features pcsc --bench pcsc_roundtrip [-- N]
//! ```

use pcsc::{Card, Context, Protocols, Scope, ShareMode};
use sscard_core::Interface;
use sscard_host::profile::Profile;
use sscard_testkit::sample::ROUND_TRIP_WORKLOADS;
use sscard_vcard::echo::EchoCard;
use sscard_vcard::image::ImageFile;
use sscard_vcard::pcsc_harness::{RoundTripStats, reader_name, wait_for_card};
use sscard_vcard::virtual_card::{HostRng, SscVirtualCard};
use sscard_vcard::vpcd::Slot;
use std::time::{Duration, Instant};

const SELECT_SSSE: &[u8] = &[
    0x00, 0xA4, 0x04, 0x0C, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1,
    0xB1, 0xA3, 0xD5, 0xCF,
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5000);
    let dir = std::env::temp_dir().join(format!("sscard-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (file, body, _) =
        ImageFile::open_or_create(&dir.join("card.img"), &Profile::default_gen3(), true)?;
    let ssc = SscVirtualCard::with_image(file, body, HostRng::os(), Interface::Contact)?;
    let ssc_slot = Slot::local(0).spawn(ssc)?;
    let echo_slot = Slot::local(1).spawn(EchoCard::new())?;
    let ctx = Context::establish(Scope::User)?;
    let wait = Duration::from_secs(10);
    wait_for_card(&ctx, &reader_name(0), true, wait)?;
    wait_for_card(&ctx, &reader_name(1), true, wait)?;
    let ssc_card = ctx.connect(&reader_name(0), ShareMode::Shared, Protocols::ANY)?;
    let echo_card = ctx.connect(&reader_name(1), ShareMode::Shared, Protocols::ANY)?;
    let mut buf = [0u8; 300];
    // READ RECORD by SFI and the PIN query need the SSSE selected; SELECT MF runs last.
    ssc_card.transmit(SELECT_SSSE, &mut buf)?;
    let workloads = ROUND_TRIP_WORKLOADS;
    println!("pcsc round trip, {n} APDUs per card per workload (after 200 warm-up)");
    println!(
        "{:<40} {:>10} {:>10} {:>10} {:>10} {:>7} {:>7}",
        "workload", "ssc med", "echo med", "ssc p99", "echo p99", "med x", "p99 x"
    );
    for (name, apdu) in workloads {
        let check = ssc_card.transmit(apdu, &mut buf)?;
        if !matches!(check, [.., 0x90, 0x00] | [.., 0x63, _]) {
            return Err(format!("{name}: sscard answered {check:02X?}").into());
        }
        let mut samples = [Vec::with_capacity(n), Vec::with_capacity(n)];
        let cards: [&Card; 2] = [&ssc_card, &echo_card];
        for card in cards {
            for _ in 0..200 {
                card.transmit(apdu, &mut buf)?;
            }
        }
        // Alternate blocks of 100 between the two cards.
        let mut done = 0;
        while done < n {
            let block = (n - done).min(100);
            for (card, out) in cards.iter().zip(samples.iter_mut()) {
                for _ in 0..block {
                    let t = Instant::now();
                    card.transmit(apdu, &mut buf)?;
                    out.push(t.elapsed());
                }
            }
            done += block;
        }
        let [mut s, mut e] = samples;
        let (Some(s), Some(e)) = (
            RoundTripStats::from_samples(&mut s),
            RoundTripStats::from_samples(&mut e),
        ) else {
            return Err("no samples".into());
        };
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "{:<40} {:>8.1}µs {:>8.1}µs {:>8.1}µs {:>8.1}µs {:>7.3} {:>7.3}",
            name,
            us(s.median),
            us(e.median),
            us(s.p99),
            us(e.p99),
            us(s.median) / us(e.median),
            us(s.p99) / us(e.p99)
        );
    }
    drop(ssc_card);
    drop(echo_card);
    let _ = ssc_slot.stop();
    let _ = echo_slot.stop();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
