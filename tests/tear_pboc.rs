//! Tear tests of the PBOC applet: the power is cut at every NVM write of GPO, VERIFY,
//! GENERATE AC (1 and 2), EXTERNAL AUTHENTICATE and the issuer script commands (PUT DATA
//! 9F79, UPDATE RECORD, APPLICATION BLOCK) on contact, and of a qPBOC offline approval on
//! contactless (with SM2 and with RSA fDDA), in every tear mode (`sscard_testkit::tear::tear_every_write`).
//!
//! After each recovery the PBOC state visible through APDUs (ATC, PIN try counter, EC
//! balance, both logs, the updated record, the blocked flag) must be exactly the state
//! before or after the torn command, as taken from a clean run; on top of that the ATC
//! never goes back, the PIN try counter never goes up, and the EC balance moves together
//! with its log record (spec/reliability.md §A1.4 item 2, §A3 "tearing of counters").
#![allow(clippy::restriction)]

use sscard_core::crypto::{arpc_method1, pboc_session_key, retail_mac, udk_option_a};
use sscard_core::nvm::{Nvm, RamNvm, TearingNvm};
use sscard_core::rng::SplitMixRng;
use sscard_core::{Card, CosOptions, Interface};
use sscard_pboc::PbocApplet;
use sscard_ssc::SscCard;
use sscard_testkit::tear::{Step, TearCard, tear_every_write};

type PbocCard = TearCard<SplitMixRng, (PbocApplet,)>;

use sscard_testkit::sample::pboc_only_image as image;

fn card_from(bytes: Vec<u8>, interface: Interface) -> PbocCard {
    let mut card = Card::load(
        TearingNvm::new(RamNvm::new(bytes)),
        SplitMixRng::new(3),
        (PbocApplet::new(),),
        sscard_ssc::SocialSecurity::default(),
        CosOptions::default(),
    )
    .unwrap();
    card.power_on(interface).unwrap();
    card
}

use sscard_testkit::exchange::hex;

use sscard_testkit::exchange::to_hex;

use sscard_testkit::exchange::send as exchange;

/// The PBOC state as a terminal can see it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Snapshot {
    select_sw: u16,
    atc: u16,
    pin_tries: u8,
    balance: Vec<u8>,
    transaction_log: Vec<Vec<u8>>,
    load_log: Vec<Vec<u8>>,
    record_3_2: Vec<u8>,
}

fn snapshot<N: Nvm>(card: &mut SscCard<N, SplitMixRng, (PbocApplet,)>) -> Result<Snapshot, String> {
    let (_, select_sw) = exchange(card, &hex("00A4040008A00000033301010100"));
    if !matches!(select_sw, 0x9000 | 0x6283) {
        return Err(format!("SELECT answered {select_sw:04X}"));
    }
    let get =
        |card: &mut SscCard<N, SplitMixRng, (PbocApplet,)>, tag: &str| -> Result<Vec<u8>, String> {
            let (d, sw) = exchange(card, &hex(&format!("80CA{tag}00")));
            if sw != 0x9000 {
                return Err(format!("GET DATA {tag} answered {sw:04X}"));
            }
            Ok(d[3..].to_vec())
        };
    let atc = get(card, "9F36")?;
    let pin = get(card, "9F17")?;
    let balance = get(card, "9F79")?;
    let mut logs = [Vec::new(), Vec::new()];
    for (sfi, log) in [11u8, 12].iter().zip(logs.iter_mut()) {
        for n in 1u8..=10 {
            let (d, sw) = exchange(card, &[0x00, 0xB2, n, sfi << 3 | 4, 0x00]);
            match sw {
                0x9000 => log.push(d),
                0x6A83 => break,
                other => {
                    return Err(format!("READ RECORD {n} of log SFI {sfi}: {other:04X}"));
                }
            }
        }
    }
    let (record_3_2, sw) = exchange(card, &hex("00B2021C00"));
    if sw != 0x9000 {
        return Err(format!("READ RECORD 2 of SFI 3: {sw:04X}"));
    }
    let [transaction_log, load_log] = logs;
    Ok(Snapshot {
        select_sw,
        atc: u16::from_be_bytes([atc[0], atc[1]]),
        pin_tries: pin[0],
        balance,
        transaction_log,
        load_log,
        record_3_2,
    })
}

/// Runs `apdus` on a clean card and returns the snapshot before and after each step
/// (taken on a copy of the NVM image, so the transaction in progress is not disturbed)
/// and the responses.
fn clean_run(interface: Interface, apdus: &[Vec<u8>]) -> (Vec<Snapshot>, Vec<(Vec<u8>, u16)>) {
    let mut card = card_from(image(), interface);
    let copy = |card: &PbocCard| {
        let bytes = card.store().nvm().inner().bytes().to_vec();
        snapshot(&mut card_from(bytes, interface)).unwrap()
    };
    let mut states = vec![copy(&card)];
    let mut responses = Vec::new();
    for a in apdus {
        responses.push(exchange(&mut card, a));
        states.push(copy(&card));
    }
    (states, responses)
}

/// Checks the recovered card against the clean run: old or new state of the torn step,
/// plus the monotonicity and consistency rules.
fn check(
    card: &mut PbocCard,
    apdus: &[Vec<u8>],
    states: &[Snapshot],
    step: usize,
) -> Result<(), String> {
    let now = snapshot(card)?;
    let (before, after) = (&states[step], &states[step + 1]);
    // VERIFY commits the decremented try counter before comparing, then (right PIN)
    // restores it in a second commit: a tear between the two leaves one try spent. That
    // is the anti-tearing rule at work (§A1.4 item 3), so it is a legal third state.
    let spent_a_try = Snapshot {
        pin_tries: before.pin_tries.saturating_sub(1),
        ..before.clone()
    };
    let verify = apdus[step].get(..2) == Some(&[0x00, 0x20][..]);
    if now != *before && now != *after && !(verify && now == spent_a_try) {
        return Err(format!(
            "state after the tear is neither old nor new:\n now    {now:?}\n before {before:?}\n after  {after:?}"
        ));
    }
    if now.atc < before.atc {
        return Err(format!("ATC went back from {} to {}", before.atc, now.atc));
    }
    // Only a successful VERIFY (the completed state after it) may raise the counter.
    if now.pin_tries > before.pin_tries && !(verify && now == *after) {
        return Err("the PIN try counter went up".to_string());
    }
    // EC balance and logs move together: a balance change comes with a new log record
    // (load log for a load, transaction log for a purchase), and a load-log record never
    // appears without its balance change. (An online transaction logs without touching
    // the EC balance.)
    let balance_changed = now.balance != before.balance;
    let load_logged = now.load_log.len() != before.load_log.len();
    let logged = load_logged || now.transaction_log.len() != before.transaction_log.len();
    if (balance_changed && !logged) || (load_logged && !balance_changed) {
        return Err(format!(
            "EC balance and log did not move together (balance changed: {balance_changed}, logged: {logged})"
        ));
    }
    Ok(())
}

fn steps(apdus: &[Vec<u8>]) -> Vec<Step> {
    apdus.iter().cloned().map(Step::Apdu).collect()
}

#[test]
fn contact_transaction_and_scripts_survive_a_tear_at_every_write() {
    let udk_ac = *udk_option_a(
        &hex("0123456789ABCDEFFEDCBA9876543210").try_into().unwrap(),
        b"6212345678901232",
        1,
    )
    .unwrap();
    let udk_mac = *udk_option_a(&[0x11; 16], b"6212345678901232", 1).unwrap();
    let gac1 = hex(&format!(
        "80AE800037 000000001000 000000000000 0156 0000000000 0156 261129 00 11223344 120000 {} 410302 00",
        "00".repeat(20)
    ));
    let head = vec![
        hex("00A4040008A00000033301010100"),
        hex("80A800000C830A0000000000100001560100"),
        hex("002000800826999999FFFFFFFF"),
        hex("0020008008261234 56FFFFFFFF"),
        gac1,
    ];
    // The card is deterministic: learn the ARQC once, then build the issuer's answers.
    let (_, responses) = clean_run(Interface::Contact, &head);
    let r = &responses[4].0;
    assert_eq!(responses[4].1, 0x9000);
    let atc = u16::from_be_bytes([r[3], r[4]]);
    let arqc: [u8; 8] = r[5..13].try_into().unwrap();
    let mut ea = hex("008200000A");
    ea.extend(arpc_method1(&pboc_session_key(&udk_ac, atc), &arqc, b"00"));
    ea.extend(b"00");
    // Issuer script: MAC over header ‖ Lc ‖ ATC ‖ AC ‖ data with the MAC session key.
    let script = |header: &str, data: &[u8]| {
        let mut cmd = hex(header);
        cmd.push((data.len() + 4) as u8);
        let sk = pboc_session_key(&udk_mac, atc);
        let mac = retail_mac(&sk, &[0; 8], &[&cmd, &atc.to_be_bytes(), &arqc, data]);
        cmd.extend_from_slice(data);
        cmd.extend_from_slice(&mac[..4]);
        cmd
    };
    let mut apdus = head.clone();
    apdus.push(ea);
    apdus.push(hex("80AE400024 3030 000000001000 000000000000 0156 0000000000 0156 261129 00 55667788 120001 0000 00"));
    apdus.push(script("04DA9F79", &hex("000000020000")));
    apdus.push(script("04DC021C", &hex("70099F7406454343303032")));
    apdus.push(script("841E0000", &[]));
    let (states, responses) = clean_run(Interface::Contact, &apdus);
    for (i, (d, sw)) in responses.iter().enumerate() {
        let expected = if i == 2 { 0x63C2 } else { 0x9000 };
        assert_eq!(*sw, expected, "step {i}: {}", to_hex(d));
    }
    assert_eq!(to_hex(&states.last().unwrap().balance), "000000020000");
    assert_eq!(states.last().unwrap().select_sw, 0x6283);

    let checked = tear_every_write(
        || card_from(image(), Interface::Contact),
        &steps(&apdus),
        |card, tp| check(card, &apdus, &states, tp.step).map_err(|e| format!("{tp}: {e}").into()),
    )
    .unwrap();
    assert!(checked > 50, "{checked} tear points");
}

#[test]
fn qpboc_offline_approval_survives_a_tear_at_every_write() {
    qpboc_offline_approval_torn("01"); // SM2 fDDA
}

#[test]
fn qpboc_offline_approval_with_rsa_fdda_survives_a_tear_at_every_write() {
    qpboc_offline_approval_torn("00"); // RSA fDDA: a terminal without SM (DF69 = 00)
}

/// The qPBOC offline approval torn at every write, the terminal's `DF69` choosing the
/// fDDA algorithm.
fn qpboc_offline_approval_torn(df69: &str) {
    let apdus = vec![
        hex("00A404000E325041592E5359532E444446303100"),
        hex("00A4040008A00000033301010100"),
        hex(&format!(
            "80A80000258323 36000080 000000000100 000000000000 0156 0000000000 0156 261129 00 CAFEBABE 00 {df69} 00",
        )),
    ];
    let (states, responses) = clean_run(Interface::Contactless, &apdus);
    assert_eq!(responses[2].1, 0x9000);
    // The signed dynamic data of the chosen algorithm: RSA 128 bytes, SM2 70.
    let sdad = if df69 == "00" { "9F4B8180" } else { "9F4B4615" };
    assert!(to_hex(&responses[2].0).contains(sdad), "{df69}");
    assert_eq!(to_hex(&states[3].balance), "000000009900");
    assert_eq!(states[3].transaction_log.len(), 1);
    let checked = tear_every_write(
        || card_from(image(), Interface::Contactless),
        &steps(&apdus),
        |card, tp| {
            check(card, &apdus, &states, tp.step)?;
            // The deduction and the ATC increment are one commit.
            let now = snapshot(card)?;
            if (now.atc == 1) != (now.balance != states[0].balance) {
                return Err(format!(
                    "{tp}: ATC {} with balance {}",
                    now.atc,
                    to_hex(&now.balance)
                )
                .into());
            }
            Ok(())
        },
    )
    .unwrap();
    assert!(checked > 5, "{checked} tear points");
}
