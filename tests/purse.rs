//! The medical purse (LD/T 32 P5 §7, P7 §11–15) checked against an independent
//! implementation of the spec's formulas with the profile's root keys, and under tearing.
#![allow(
    clippy::restriction,
    // Amounts are written yuan_fen (100_00 = 100.00 yuan).
    clippy::inconsistent_digit_grouping
)]

mod common;

use common::indep::{self, Alg};
use common::{
    SELECT_SSSE, TERMINAL, TestCard, VERIFY_RIGHT, card_from, card_key, dlk, dpk, dtk, hex,
    profile, to_hex,
};
use sscard_core::card::applet::Applets;
use sscard_core::nvm::{Nvm, RamNvm, TearMode, TearingNvm};
use sscard_core::rng::{CardRng, SplitMixRng};
use sscard_core::{Card, Interface};
use sscard_host::profile::Profile;
use sscard_ssc::SscCard;

use sscard_testkit::exchange::send;

fn ok<N: Nvm, R: CardRng, A: Applets>(card: &mut SscCard<N, R, A>, apdu: &str) -> Vec<u8> {
    let (d, sw) = send(card, &hex(apdu));
    assert_eq!(sw, 0x9000, "{apdu}");
    d
}

/// The status word `apdu` (hex) gets.
fn sw<N: Nvm, R: CardRng, A: Applets>(card: &mut SscCard<N, R, A>, apdu: &str) -> u16 {
    send(card, &hex(apdu)).1
}

fn open_df04<N: Nvm, R: CardRng, A: Applets>(card: &mut SscCard<N, R, A>) {
    ok(card, SELECT_SSSE);
    ok(card, "00A4040006D15600000503");
    ok(card, VERIFY_RIGHT);
}

fn gen3_card() -> TestCard {
    card_from(&profile("gen3-default.toml"), 42)
}

/// The card of profile `p` (personalized as `image`) on memory that loses power where a
/// test says, powered on, in DF04 with the PIN verified.
fn tearable_in_df04(
    p: &Profile,
    image: &[u8],
    seed: u64,
) -> SscCard<TearingNvm<RamNvm<Vec<u8>>>, SplitMixRng> {
    let mut card = Card::load(
        TearingNvm::new(RamNvm::new(image.to_vec())),
        SplitMixRng::new(seed),
        (),
        p.applications(),
        p.options(),
    )
    .unwrap();
    card.power_on(Interface::Contact).unwrap();
    open_df04(&mut card);
    card
}

/// A load: INITIALIZE (MAC1 checked), CREDIT (MAC2 from the host, TAC checked).
fn load<N: Nvm, R: CardRng, A: Applets>(
    card: &mut SscCard<N, R, A>,
    amount: u32,
    time: &str,
) -> u32 {
    let init = ok(card, &format!("B02800010B01{amount:08X}{TERMINAL}10"));
    assert_eq!(init.len(), 16);
    let balance = u32::from_be_bytes(init[..4].try_into().unwrap());
    let seq = &init[4..6];
    assert_eq!(init[6], 0x01, "key version");
    assert_eq!(init[7], 0x03, "algorithm id: SM4");
    let random = &init[8..12];
    let seslk = indep::session_key(Alg::Sm4, &dlk(), &[random, seq, &[0x80, 0x00]].concat());
    let mac1 = indep::mac(
        Alg::Sm4,
        &seslk,
        &[
            &balance.to_be_bytes()[..],
            &amount.to_be_bytes(),
            b"1",
            &hex(TERMINAL),
        ]
        .concat(),
    );
    assert_eq!(to_hex(&init[12..16]), to_hex(&mac1), "MAC1");
    let time = hex(time);
    let mac2 = indep::mac(
        Alg::Sm4,
        &seslk,
        &[&amount.to_be_bytes()[..], b"1", &hex(TERMINAL), &time].concat(),
    );
    let tac = ok(
        card,
        &format!("B02A00000B{}{}04", to_hex(&time), to_hex(&mac2)),
    );
    let new_balance = balance + amount;
    let expected_tac = indep::mac(
        Alg::Sm4,
        &dtk(),
        &[
            &new_balance.to_be_bytes()[..],
            seq,
            &amount.to_be_bytes(),
            b"1",
            &hex(TERMINAL),
            &time,
        ]
        .concat(),
    );
    assert_eq!(to_hex(&tac), to_hex(&expected_tac), "load TAC");
    new_balance
}

struct Purchase {
    seq: Vec<u8>,
    mac2: Vec<u8>,
    tac: Vec<u8>,
    balance_before: u32,
}

/// INITIALIZE FOR PURCHASE and the terminal-side MAC1 for DEBIT (what a PSAM computes).
fn init_purchase<N: Nvm, R: CardRng, A: Applets>(
    card: &mut SscCard<N, R, A>,
    amounts: [u32; 3],
    ttsn: &str,
    time: &str,
) -> (Vec<u8>, Purchase) {
    let init = ok(
        card,
        &format!(
            "B028010113 01{:08X}{:08X}{:08X}{TERMINAL}16",
            amounts[0], amounts[1], amounts[2]
        )
        .replace(' ', ""),
    );
    assert_eq!(init.len(), 22);
    let balance_before = u32::from_be_bytes(init[..4].try_into().unwrap());
    let seq = init[14..16].to_vec();
    assert_eq!((init[16], init[17]), (0x01, 0x03));
    let random = &init[18..22];
    let ttsn = hex(ttsn);
    let sespk = indep::session_key(Alg::Sm4, &dpk(), &[random, &seq, &ttsn[2..4]].concat());
    let amt: Vec<u8> = amounts.iter().flat_map(|a| a.to_be_bytes()).collect();
    let time = hex(time);
    let mac1 = indep::mac(
        Alg::Sm4,
        &sespk,
        &[&amt[..], b"2", &hex(TERMINAL), &time].concat(),
    );
    let debit = hex(&format!(
        "B02C01000F{}{}{}08",
        to_hex(&ttsn),
        to_hex(&time),
        to_hex(&mac1)
    ));
    let mac2 = indep::mac(Alg::Sm4, &sespk, &amt);
    let tac = indep::mac(
        Alg::Sm4,
        &dtk(),
        &[&amt[..], b"2", &hex(TERMINAL), &ttsn, &time].concat(),
    );
    (
        debit,
        Purchase {
            seq,
            mac2,
            tac,
            balance_before,
        },
    )
}

fn balance<N: Nvm, R: CardRng, A: Applets>(card: &mut SscCard<N, R, A>) -> u32 {
    u32::from_be_bytes(ok(card, "B026000104").try_into().unwrap())
}

#[test]
fn load_then_purchases_compute_spec_mac2_and_tac() {
    let mut c = gen3_card();
    open_df04(&mut c);
    assert_eq!(balance(&mut c), 0);
    assert_eq!(load(&mut c, 100_00, "20260315103000"), 100_00);
    assert_eq!(load(&mut c, 50_00, "20260316103000"), 150_00);
    assert_eq!(balance(&mut c), 150_00);
    // Purchases in payment year 2025 with starting day 0101: 2026 rolls the year over.
    let (debit, p) = init_purchase(&mut c, [30_00, 5_00, 12_00], "00000007", "20260320090000");
    let r = ok(&mut c, &to_hex(&debit));
    assert_eq!(
        to_hex(&r),
        to_hex(&[p.tac.clone(), p.mac2.clone()].concat()),
        "TAC ‖ MAC2"
    );
    assert_eq!(balance(&mut c), 120_00);
    assert_eq!(to_hex(&ok(&mut c, "B026000206")), "000001F42026");
    assert_eq!(to_hex(&ok(&mut c, "B026000306")), "000004B02026");
    // Same settlement year: totals accumulate.
    let (debit, _) = init_purchase(&mut c, [10_00, 1_00, 2_00], "00000008", "20260401090000");
    ok(&mut c, &to_hex(&debit));
    assert_eq!(
        to_hex(&ok(&mut c, "B026000206")),
        format!("{:08X}2026", 6_00)
    );
    assert_eq!(
        to_hex(&ok(&mut c, "B026000306")),
        format!("{:08X}2026", 14_00)
    );
    // GET TRANSACTION PROOF of the last purchase: MAC2 ‖ TAC (P5 T63).
    let (debit, p2) = init_purchase(&mut c, [1_00, 0, 0], "00000009", "20260402090000");
    ok(&mut c, &to_hex(&debit));
    let proof = ok(&mut c, &format!("B02E003202{}08", to_hex(&p2.seq)));
    assert_eq!(to_hex(&proof), to_hex(&[p2.mac2, p2.tac].concat()));
    assert_eq!(
        sw(&mut c, &format!("B02E003202{}08", to_hex(&p.seq))),
        0x9406
    );
    assert_eq!(
        sw(&mut c, &format!("B02E003102{}08", to_hex(&p2.seq))),
        0x9406
    );
    // The log (DF04/EF08, record 1 = most recent): seq ‖ '2' ‖ terminal ‖ time ‖ amounts.
    let (log, sw) = send(&mut c, &hex("00B2014400"));
    assert_eq!(sw, 0x9000);
    assert_eq!(
        to_hex(&log),
        format!(
            "{}32{TERMINAL}20260402090000{:08X}0000000000000000",
            to_hex(&p2.seq),
            1_00
        )
    );
    let (log5, _) = send(&mut c, &hex("00B2054400"));
    assert_eq!(&log5[2..3], b"1", "the first load is record 5");
}

#[test]
fn state_machine_and_errors() {
    let mut c = gen3_card();
    open_df04(&mut c);
    // Wrong state: CREDIT/DEBIT without INITIALIZE → 6901.
    assert_eq!(sw(&mut c, "B02A00000B2026031510300011223344"), 0x6901);
    assert_eq!(
        sw(&mut c, "B02C01000F000000012026031510300011223344"),
        0x6901
    );
    // Unknown key index → 9403; insufficient funds → 9401.
    assert_eq!(
        sw(&mut c, &format!("B02800010B0900000001{TERMINAL}")),
        0x9403
    );
    assert_eq!(
        sw(
            &mut c,
            &format!("B02801011301000000010000000000000000{TERMINAL}")
        ),
        0x9401
    );
    // A wrong MAC2 → 9302 and back to idle (the CREDIT cannot be retried).
    ok(&mut c, &format!("B02800010B0100000100{TERMINAL}10"));
    assert_eq!(sw(&mut c, "B02A00000B2026031510300011223344"), 0x9302);
    assert_eq!(sw(&mut c, "B02A00000B2026031510300011223344"), 0x6901);
    // DEBIT after an INITIALIZE FOR LOAD → 6901 (T49) and idle.
    ok(&mut c, &format!("B02800010B0100000100{TERMINAL}10"));
    assert_eq!(
        sw(&mut c, "B02C01000F000000012026031510300011223344"),
        0x6901
    );
    // An unrelated command between INITIALIZE and CREDIT returns the purse to idle.
    ok(&mut c, &format!("B02800010B0100000100{TERMINAL}10"));
    ok(&mut c, "B026000104"); // GET BALANCE keeps the state…
    ok(&mut c, "0084000004"); // …another command does not
    assert_eq!(sw(&mut c, "B02A00000B2026031510300011223344"), 0x6901);
    // Lengths and P1/P2.
    assert_eq!(sw(&mut c, "B02800010A0100000100519900000001"), 0x6700);
    assert_eq!(
        sw(&mut c, &format!("B02800020B0100000100{TERMINAL}10")),
        0x6A86
    );
    assert_eq!(sw(&mut c, "B026000404"), 0x6A86);
    assert_eq!(sw(&mut c, "B026000108"), 0x6700);
    // Starting day: DSK external authentication first.
    assert_eq!(to_hex(&ok(&mut c, "B056010002")), "0101");
    assert_eq!(sw(&mut c, "B05600000207 01"), 0x6982);
    let dsk = card_key(&[0xBB; 16]);
    let (challenge, _) = send(&mut c, &hex("0084000008"));
    let sk = indep::session_key(Alg::Sm4, &dsk, &challenge);
    let p = [7u8; 8];
    let mut cmd = hex("0082008910");
    cmd.extend(indep::auth_data(Alg::Sm4, &sk, &p));
    cmd.extend(p);
    assert_eq!(send(&mut c, &cmd).1, 0x9000);
    assert_eq!(sw(&mut c, "B05600000213 01"), 0x6A80);
    assert_eq!(sw(&mut c, "B0560000020701"), 0x9000);
    assert_eq!(to_hex(&ok(&mut c, "B056010002")), "0701");
    // Outside DF04 the purse commands do not exist.
    ok(&mut c, SELECT_SSSE);
    assert_eq!(sw(&mut c, "B026000104"), 0x6D00);
}

#[test]
fn pin_is_needed_when_set() {
    let mut c = gen3_card();
    ok(&mut c, SELECT_SSSE);
    ok(&mut c, "00A4040006D15600000503");
    assert_eq!(sw(&mut c, "B026000104"), 0x6982);
    assert_eq!(
        sw(&mut c, &format!("B02800010B0100000100{TERMINAL}10")),
        0x6982
    );
    ok(&mut c, VERIFY_RIGHT);
    assert_eq!(balance(&mut c), 0);
}

/// A power cut at any NVM write of a purchase never loses or duplicates money: after the
/// card comes back, either nothing happened (balance unchanged, proof 9406, log unchanged)
/// or the purchase is complete (balance debited once, proof gives MAC2 ‖ TAC, one log
/// record) — and the terminal's recovery with GET TRANSACTION PROOF works.
#[test]
fn tearing_a_purchase_never_loses_or_duplicates_money() {
    let p = profile("gen3-default.toml");
    let image = p.image().unwrap();
    let make = || {
        let mut card = tearable_in_df04(&p, &image, 9);
        load(&mut card, 200_00, "20260101080000");
        card
    };
    // The clean run: how many writes does the DEBIT make?
    let mut clean = make();
    let (debit, _) = init_purchase(
        &mut clean,
        [70_00, 3_00, 4_00],
        "00000042",
        "20260105120000",
    );
    clean.store_mut().nvm_mut().reset_counter();
    assert_eq!(send(&mut clean, &debit).1, 0x9000);
    let writes = clean.store().nvm().writes();
    assert!(writes >= 5, "journaled commit");
    let mut seen_old = false;
    let mut seen_new = false;
    for k in 0..writes {
        for mode in [TearMode::Nothing, TearMode::FirstHalf, TearMode::Complete] {
            let mut card = make();
            let (debit, pur) =
                init_purchase(&mut card, [70_00, 3_00, 4_00], "00000042", "20260105120000");
            card.store_mut().nvm_mut().tear_at(k, mode);
            let (_, sw) = send(&mut card, &debit);
            assert_eq!(sw, 0, "the card falls silent at the tear");
            card.store_mut().nvm_mut().restore_power();
            card.power_on(Interface::Contact).unwrap();
            open_df04(&mut card);
            let b = balance(&mut card);
            let (proof, sw) = send(
                &mut card,
                &hex(&format!("B02E003202{}08", to_hex(&pur.seq))),
            );
            let (_, log_sw) = send(&mut card, &hex("00B2024400")); // 2 records = the purchase landed
            if b == pur.balance_before {
                seen_old = true;
                assert_eq!(sw, 0x9406, "k={k} {mode:?}: old amounts, no proof");
                assert_eq!(log_sw, 0x6A83, "k={k}: no log record without the debit");
                // The terminal restarts the transaction: it goes through once.
                let (debit, again) =
                    init_purchase(&mut card, [70_00, 3_00, 4_00], "00000043", "20260105120100");
                assert_eq!(again.seq, pur.seq, "sequence unchanged by the torn debit");
                assert_eq!(send(&mut card, &debit).1, 0x9000);
                assert_eq!(balance(&mut card), pur.balance_before - 70_00);
            } else {
                seen_new = true;
                assert_eq!(
                    b,
                    pur.balance_before - 70_00,
                    "k={k} {mode:?}: debited once"
                );
                assert_eq!(sw, 0x9000);
                assert_eq!(
                    to_hex(&proof),
                    to_hex(&[pur.mac2.clone(), pur.tac.clone()].concat())
                );
                assert_eq!(log_sw, 0x9000);
            }
        }
    }
    assert!(
        seen_old && seen_new,
        "both outcomes occur across the tear points"
    );
}

/// The same for a load.
#[test]
fn tearing_a_load_is_all_or_nothing() {
    let p = profile("gen3-default.toml");
    let image = p.image().unwrap();
    let make = || tearable_in_df04(&p, &image, 10);
    let mut writes = 0;
    {
        let mut clean = make();
        clean.store_mut().nvm_mut().reset_counter();
        load(&mut clean, 10_00, "20260101080000");
        writes = writes.max(clean.store().nvm().writes());
    }
    for k in 0..writes {
        let mut card = make();
        let init = ok(&mut card, &format!("B02800010B0100000100{TERMINAL}10"));
        let seq = init[4..6].to_vec();
        let seslk = indep::session_key(
            Alg::Sm4,
            &dlk(),
            &[&init[8..12], &seq[..], &[0x80, 0x00]].concat(),
        );
        let time = hex("20260101080000");
        let mac2 = indep::mac(
            Alg::Sm4,
            &seslk,
            &[&256u32.to_be_bytes()[..], b"1", &hex(TERMINAL), &time].concat(),
        );
        card.store_mut().nvm_mut().tear_at(k, TearMode::FirstHalf);
        let _ = send(
            &mut card,
            &hex(&format!("B02A00000B{}{}04", to_hex(&time), to_hex(&mac2))),
        );
        card.store_mut().nvm_mut().restore_power();
        card.power_on(Interface::Contact).unwrap();
        open_df04(&mut card);
        let b = balance(&mut card);
        let (_, sw) = send(&mut card, &hex(&format!("B02E003102{}08", to_hex(&seq))));
        match b {
            0 => assert_eq!(sw, 0x9406, "k={k}"),
            256 => assert_eq!(sw, 0x9000, "k={k}"),
            other => panic!("k={k}: balance {other}"),
        }
    }
}
