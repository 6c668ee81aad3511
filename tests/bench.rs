//! The test bench in-process (issue 13): every fault of `sscard_vcard::faults`, the
//! control requests of `sscard_vcard::control` without a socket, every persona, and
//! random fault schedules that must never crash the card, break its image, raise a try
//! counter or lose money.
#![allow(
    clippy::restriction,
    // Amounts are written yuan_fen (100_00 = 100.00 yuan).
    clippy::inconsistent_digit_grouping
)]

mod common;

use common::indep::{self, Alg};
use common::{TERMINAL, VERIFY_PROBE, VERIFY_RIGHT, VERIFY_WRONG, dpk, hex, to_hex};
use proptest::prelude::*;
use serde_json::Value;
use sscard_core::card::applet::Interface;
use sscard_core::nvm::TearMode;
use sscard_host::profile::{DEFAULT_GEN3, Profile};
use sscard_vcard::VirtualCard;
use sscard_vcard::control::{Bench, Request};
use sscard_vcard::faults::{Effects, FaultLayer, ResponseFault};
use sscard_vcard::image::ImageFile;
use sscard_vcard::personas::{self, PERSONAS};
use sscard_vcard::virtual_card::{HostRng, SscVirtualCard};
use sscard_vcard::vpcd::Slot;
use std::path::Path;
use std::time::Duration;

const SELECT_SSSE: &str = "00A4040C0F7378312E73682EC9E7BBE1B1A3D5CF";
const SELECT_DF04: &str = "00A4040C06D15600000503";

/// The default card with 100.00 yuan in its medical purse.
fn funded_profile() -> Profile {
    let text = DEFAULT_GEN3.replace("balance = 0                 # fen", "balance = 10000");
    assert_ne!(text, DEFAULT_GEN3, "the default profile's purse line moved");
    Profile::parse(&text).unwrap()
}

fn layer_over(card: SscVirtualCard) -> FaultLayer<SscVirtualCard> {
    let mut layer = FaultLayer::new(card);
    layer.card_mut().power_on();
    layer
}

fn fresh() -> FaultLayer<SscVirtualCard> {
    layer_over(
        SscVirtualCard::from_profile(&funded_profile(), HostRng::seeded(7), Interface::Contact)
            .unwrap(),
    )
}

/// A card kept in an image file in `dir`.
fn imaged(dir: &Path) -> FaultLayer<SscVirtualCard> {
    let path = dir.join("card.img");
    let (file, body, _) = ImageFile::open_or_create(&path, &funded_profile(), true).unwrap();
    layer_over(
        SscVirtualCard::with_image(file, body, HostRng::seeded(7), Interface::Contact).unwrap(),
    )
}

fn send(layer: &mut FaultLayer<SscVirtualCard>, apdu: &str) -> (String, Effects) {
    let mut response = Vec::new();
    let effects = layer.transmit(&hex(apdu), &mut response);
    (to_hex(&response), effects)
}

fn answer(layer: &mut FaultLayer<SscVirtualCard>, apdu: &str) -> String {
    send(layer, apdu).0
}

/// The answer with `61xx` data fetched by GET RESPONSE, as a T=0 terminal does.
fn answer_t0(layer: &mut FaultLayer<SscVirtualCard>, apdu: &str) -> String {
    let first = answer(layer, apdu);
    match first.strip_prefix("61") {
        Some(le) if first.len() == 4 => answer(layer, &format!("00C00000{le}")),
        _ => first,
    }
}

fn pin_tries(state: &Value) -> u64 {
    state["pins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["df"] == "7378312E73682EC9E7BBE1B1A3D5CF" && p["id"] == 0)
        .unwrap()["tries_left"]
        .as_u64()
        .unwrap()
}

fn balance(state: &Value) -> u64 {
    state["purse"]["balance"].as_u64().unwrap()
}

#[test]
fn delay_holds_back_the_next_count_answers_only() {
    let mut l = fresh();
    l.arm(ResponseFault::Delay { ms: 250 }, 2);
    for _ in 0..2 {
        let (r, e) = send(&mut l, SELECT_SSSE);
        assert_eq!((r.as_str(), e.delay), ("9000", Duration::from_millis(250)));
    }
    assert_eq!(send(&mut l, SELECT_SSSE).1, Effects::default());
    assert_eq!(l.faults(), serde_json::json!([]));
}

#[test]
fn mute_answers_nothing_and_the_command_never_reaches_the_card() {
    let mut l = fresh();
    answer(&mut l, SELECT_SSSE);
    l.arm(ResponseFault::Mute, 2);
    assert_eq!(answer(&mut l, VERIFY_WRONG), "");
    assert_eq!(answer(&mut l, VERIFY_WRONG), "");
    assert_eq!(pin_tries(&l.card().state()), 3, "no try was taken");
    assert_eq!(answer(&mut l, VERIFY_PROBE), "63C3");
}

#[test]
fn a_status_word_replaces_the_answer_for_its_instruction_only() {
    let mut l = fresh();
    answer(&mut l, SELECT_SSSE);
    l.arm(
        ResponseFault::Sw {
            sw: 0x6581,
            ins: Some(0x20),
        },
        1,
    );
    assert!(
        answer(&mut l, "00B2012C00").ends_with("9000"),
        "READ RECORD untouched"
    );
    assert_eq!(answer(&mut l, VERIFY_WRONG), "6581");
    assert_eq!(
        pin_tries(&l.card().state()),
        3,
        "VERIFY did not reach the card"
    );
    assert_eq!(answer(&mut l, VERIFY_PROBE), "63C3", "used up");
    l.arm(
        ResponseFault::Sw {
            sw: 0x6A82,
            ins: None,
        },
        1,
    );
    assert_eq!(answer(&mut l, SELECT_SSSE), "6A82");
}

#[test]
fn corrupt_inverts_the_chosen_byte_or_the_last() {
    let mut l = fresh();
    answer(&mut l, SELECT_SSSE);
    let clean = hex(&answer(&mut l, "00B2012C00"));
    l.arm(ResponseFault::Corrupt { byte: 2 }, 1);
    l.arm(ResponseFault::Corrupt { byte: 100_000 }, 1);
    let once = hex(&answer(&mut l, "00B2012C00"));
    let mut want = clean.clone();
    want[2] = !want[2];
    assert_eq!(once, want);
    let twice = hex(&answer(&mut l, "00B2012C00"));
    let mut want = clean.clone();
    let last = want.len() - 1;
    want[last] = !want[last];
    assert_eq!(twice, want, "past the end: the last byte (SW2)");
    assert_eq!(hex(&answer(&mut l, "00B2012C00")), clean);
}

/// Writes of one wrong VERIFY: a cut armed beyond them is disarmed by it, and a cut at
/// write k lands for every k up to their number.
fn writes_of_a_wrong_verify() -> u32 {
    let mut l = fresh();
    answer(&mut l, SELECT_SSSE);
    l.arm_tear(1000, TearMode::Nothing);
    assert_eq!(
        answer(&mut l, VERIFY_PROBE),
        "63C3",
        "a read does not disarm"
    );
    assert_eq!(l.faults()[0]["fault"], "tear");
    assert_eq!(answer(&mut l, VERIFY_WRONG), "63C2");
    assert_eq!(
        l.faults(),
        serde_json::json!([]),
        "disarmed by the writing command"
    );
    let first_missed = (1..1000)
        .find(|&k| {
            let mut l = fresh();
            answer(&mut l, SELECT_SSSE);
            l.arm_tear(k, TearMode::Nothing);
            !send(&mut l, VERIFY_WRONG).1.power_lost
        })
        .unwrap();
    first_missed - 1
}

#[test]
fn a_tear_at_every_write_of_a_pin_try_leaves_old_or_new_and_a_loadable_image() {
    let writes = writes_of_a_wrong_verify();
    assert!(
        writes >= 3,
        "a journaled commit writes several times: {writes}"
    );
    for k in 1..=writes {
        for mode in [TearMode::Nothing, TearMode::FirstHalf, TearMode::Complete] {
            let dir = tempfile::tempdir().unwrap();
            let mut l = imaged(dir.path());
            answer(&mut l, SELECT_SSSE);
            l.arm_tear(k, mode);
            let (r, e) = send(&mut l, VERIFY_WRONG);
            assert_eq!((r.as_str(), e.power_lost), ("", true), "k={k} {mode:?}");
            assert!(!l.card().card().is_powered(), "the card lost power");
            // The image is a card, equal to the recovered memory, old or new.
            let (_, on_disk) = ImageFile::load(&dir.path().join("card.img")).unwrap();
            assert_eq!(on_disk, l.card().nvm(), "k={k} {mode:?}");
            let tries = pin_tries(&l.card().state());
            assert!(tries == 3 || tries == 2, "k={k} {mode:?}: {tries}");
            // Inserted again, the card answers from that state.
            l.card_mut().power_on();
            answer(&mut l, SELECT_SSSE);
            assert_eq!(answer(&mut l, VERIFY_PROBE), format!("63C{tries}"));
        }
    }
}

#[test]
fn a_tear_not_reached_by_the_command_is_disarmed() {
    let mut l = fresh();
    answer(&mut l, SELECT_SSSE);
    l.arm_tear(1000, TearMode::Complete);
    assert_eq!(answer(&mut l, VERIFY_WRONG), "63C2");
    assert_eq!(answer(&mut l, VERIFY_WRONG), "63C1", "no cut left");
    assert_eq!(l.clear(), 0);
    l.arm_tear(1, TearMode::Nothing);
    l.arm(ResponseFault::Mute, 1);
    assert_eq!(l.clear(), 2, "a cut and a mute cancelled");
    assert_eq!(answer(&mut l, VERIFY_RIGHT), "9000");
}

/// The purse, as a terminal with its PSAM drives it: open DF04 with the PIN, then
/// INITIALIZE FOR PURCHASE; returns the DEBIT command and the purchase's sequence number,
/// or `None` when a step of the setup did not answer 9000 (faults armed).
fn try_purchase(
    l: &mut FaultLayer<SscVirtualCard>,
    amount: u32,
    ttsn: u32,
) -> Option<(String, String)> {
    for apdu in [SELECT_SSSE, SELECT_DF04, VERIFY_RIGHT] {
        if answer(l, apdu) != "9000" {
            return None;
        }
    }
    let init = answer_t0(
        l,
        &format!("B02801011301{amount:08X}0000000000000000{TERMINAL}16"),
    );
    let init = hex(init.strip_suffix("9000")?);
    let seq = init.get(14..16)?.to_vec();
    let random = init.get(18..22)?;
    let ttsn = ttsn.to_be_bytes();
    let sespk = indep::session_key(Alg::Sm4, &dpk(), &[random, &seq, &ttsn[2..4]].concat());
    let amounts = [amount.to_be_bytes(), [0; 4], [0; 4]].concat();
    let time = hex("20260320090000");
    let mac1 = indep::mac(
        Alg::Sm4,
        &sespk,
        &[&amounts[..], b"2", &hex(TERMINAL), &time].concat(),
    );
    let debit = format!(
        "B02C01000F{}{}{}08",
        to_hex(&ttsn),
        to_hex(&time),
        to_hex(&mac1)
    );
    Some((debit, to_hex(&seq)))
}

/// The worked example of docs/control.md, in-process: the card is pulled during DEBIT FOR
/// PURCHASE at every write; after reinsertion GET TRANSACTION PROOF tells whether the
/// money moved (proof) or not (9406), and the balance agrees.
#[test]
fn a_purchase_torn_at_any_write_is_recovered_with_get_transaction_proof() {
    let mut landed = 0;
    for k in 1.. {
        let dir = tempfile::tempdir().unwrap();
        let mut l = imaged(dir.path());
        let (debit, seq) = try_purchase(&mut l, 30_00, 7).unwrap();
        l.arm_tear(k, TearMode::FirstHalf);
        let (r, e) = send(&mut l, &debit);
        if !e.power_lost {
            assert!(
                r.starts_with("61"),
                "TAC and MAC2 wait for GET RESPONSE: {r}"
            );
            assert!(k > 3, "the debit writes more than that");
            break;
        }
        l.card_mut().power_on();
        for apdu in [SELECT_SSSE, SELECT_DF04, VERIFY_RIGHT] {
            assert_eq!(answer(&mut l, apdu), "9000");
        }
        let proof = answer_t0(&mut l, &format!("B02E003202{seq}08"));
        let state = l.card().state();
        match proof.as_str() {
            "9406" => assert_eq!(balance(&state), 100_00, "k={k}: no proof, no debit"),
            p if p.len() == 20 && p.ends_with("9000") => {
                assert_eq!(balance(&state), 70_00, "k={k}: debited once");
                landed += 1;
            }
            other => panic!("k={k}: GET TRANSACTION PROOF answered {other}"),
        }
        let (_, on_disk) = ImageFile::load(&dir.path().join("card.img")).unwrap();
        assert_eq!(on_disk, l.card().nvm());
    }
    assert!(landed > 0, "some cuts come after the commit point");
}

fn bench() -> std::sync::Arc<Bench> {
    let card =
        SscVirtualCard::from_profile(&funded_profile(), HostRng::seeded(3), Interface::Contact)
            .unwrap();
    Bench::new(card, Slot::local(0).handle(), Some(3))
}

fn ok(bench: &Bench, request: Request) -> Value {
    let answer = bench.handle(request.clone());
    assert_eq!(answer["ok"], true, "{request:?}: {answer}");
    answer
}

#[test]
fn control_requests_do_what_they_say_and_bad_ones_are_refused() {
    let b = bench();
    let mut served = b.served();
    ok(&b, Request::Remove);
    assert_eq!(ok(&b, Request::State)["state"]["inserted"], false);
    ok(&b, Request::Insert);
    assert_eq!(ok(&b, Request::State)["state"]["inserted"], true);
    ok(
        &b,
        Request::Sw {
            sw: "6a82".into(),
            ins: Some("A4".into()),
            count: 2,
        },
    );
    ok(&b, Request::Delay { ms: 5, count: 1 });
    ok(
        &b,
        Request::Tear {
            at_write: 2,
            mode: Default::default(),
        },
    );
    let faults = ok(&b, Request::Faults)["faults"].clone();
    assert_eq!(faults.as_array().unwrap().len(), 3, "{faults}");
    assert_eq!(faults[0]["sw"], "6A82");
    served.power_on();
    let mut r = Vec::new();
    served.transmit(&hex(SELECT_SSSE), &mut r);
    assert_eq!(r, [0x6A, 0x82]);
    // The SELECT used one status word and the delay: one status word and the cut remain.
    assert_eq!(ok(&b, Request::Clear)["cleared"], 2);
    r.clear();
    served.transmit(&hex(SELECT_SSSE), &mut r);
    assert_eq!(r, [0x90, 0x00]);
    let state = ok(&b, Request::State)["state"].clone();
    assert_eq!(
        state["current_df"]["name"],
        "7378312E73682EC9E7BBE1B1A3D5CF"
    );
    assert_eq!(state["purse"]["balance"], 100_00);
    assert_eq!(state["pboc"]["ec_balance"], 100_00);
    assert_eq!(state["pboc"]["atc"], 0);
    // The interface: a power cycle, then the contactless ATR.
    ok(
        &b,
        Request::Interface {
            interface: sscard_vcard::control::InterfaceArg::Contactless,
        },
    );
    assert_eq!(served.atr()[..2], [0x3B, 0x8D]);
    assert_eq!(ok(&b, Request::State)["state"]["interface"], "contactless");
    // A persona swap: the new card answers.
    ok(
        &b,
        Request::Persona {
            name: "pin-one-try".into(),
        },
    );
    served.power_on();
    for (apdu, want) in [(SELECT_SSSE, "9000"), (VERIFY_PROBE, "63C1")] {
        r.clear();
        served.transmit(&hex(apdu), &mut r);
        assert_eq!(to_hex(&r), want);
    }
    // Refusals, each with a reason, and the card unharmed.
    for (line, why) in [
        ("", "bad request"),
        ("{", "bad request"),
        (r#"{"cmd":"fly"}"#, "unknown variant"),
        (r#"{"cmd":"delay"}"#, "missing field `ms`"),
        (r#"{"cmd":"delay","ms":1,"count":0}"#, "at least 1"),
        (r#"{"cmd":"delay","ms":-1}"#, "bad request"),
        (r#"{"cmd":"delay","ms":600001}"#, "at most 600000"),
        (r#"{"cmd":"sw","sw":"6A8"}"#, "4 hex digits"),
        (r#"{"cmd":"sw","sw":"6A82","ins":"XYZ"}"#, "2 hex digits"),
        (r#"{"cmd":"tear","at_write":0}"#, "from 1"),
        (
            r#"{"cmd":"tear","at_write":1,"mode":"boom"}"#,
            "unknown variant",
        ),
        (r#"{"cmd":"persona","name":"nobody"}"#, "no such persona"),
        (
            r#"{"cmd":"interface","interface":"usb"}"#,
            "unknown variant",
        ),
    ] {
        let a = b.handle_line(line);
        assert_eq!(a["ok"], false, "{line}: {a}");
        let error = a["error"].as_str().unwrap();
        assert!(error.contains(why), "{line}: {error}");
    }
    r.clear();
    served.transmit(&hex(VERIFY_PROBE), &mut r);
    assert_eq!(to_hex(&r), "63C1");
}

fn persona_answers(name: &str, steps: &[(&str, &str)]) {
    let p = personas::build(name, HostRng::seeded(1)).unwrap();
    let mut card = p.card;
    card.power_on();
    for (apdu, want) in steps {
        let mut r = Vec::new();
        card.transmit(&hex(apdu), &mut r);
        let got = to_hex(&r);
        assert!(got.ends_with(want), "{name}: {apdu} → {got}, want …{want}");
    }
}

#[test]
fn every_persona_loads_and_shows_its_property() {
    let names: Vec<&str> = PERSONAS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names.len(), 10);
    persona_answers("app-blocked", &[(SELECT_SSSE, "9303")]);
    persona_answers(
        "card-blocked",
        &[("00A4000C023F00", "6A81"), (SELECT_SSSE, "6A81")],
    );
    persona_answers(
        "pin-blocked",
        &[(SELECT_SSSE, "9000"), (VERIFY_RIGHT, "6983")],
    );
    persona_answers(
        "pin-one-try",
        &[(SELECT_SSSE, "9000"), (VERIFY_PROBE, "63C1")],
    );
    // EF05 record 6 is the expiry date (卡有效期), cn 4.
    persona_answers(
        "expired",
        &[(SELECT_SSSE, "9000"), ("00B2062C00", "0604202001019000")],
    );
    persona_answers(
        "purse-full",
        &[
            (SELECT_SSSE, "9000"),
            (SELECT_DF04, "9000"),
            (VERIFY_RIGHT, "9000"),
            ("B026000104", "FFFFFFFF9000"),
            (&format!("B02800010B0100000001{TERMINAL}10"), "6985"),
        ],
    );
    // Gen-1 and gen-2: their SSSE FCI (spec/ssc.md §2.2): gen 1 has no 9F0C, gen 2 names
    // 3DES (86 01 01).
    for (name, fci) in [
        ("gen1", "6F16840F7378312E73682EC9E7BBE1B1A3D5CFA50388010B"),
        (
            "gen2-3des",
            "6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA50988011E9F0C03860101",
        ),
    ] {
        let mut card = personas::build(name, HostRng::seeded(1)).unwrap().card;
        card.power_on();
        let mut r = Vec::new();
        card.transmit(&hex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF00"), &mut r);
        let mut got = Vec::new();
        card.transmit(&[0x00, 0xC0, 0x00, 0x00, r[1]], &mut got);
        assert_eq!(to_hex(&got), format!("{fci}9000"), "{name}");
    }
    let contactless = personas::build("gen3-contactless", HostRng::seeded(1)).unwrap();
    assert_eq!(contactless.interface, Interface::Contactless);
    assert_eq!(contactless.card.atr()[..2], [0x3B, 0x8D]);
    let low = personas::build("pboc-ec-low", HostRng::seeded(1)).unwrap();
    assert_eq!(low.card.state()["pboc"]["ec_balance"], 1);
}

/// One step of a random schedule.
#[derive(Clone, Debug)]
enum Step {
    Command(usize),
    Arm(ResponseFault, u32),
    Tear(u32, TearMode),
    PowerCycle,
    Clear,
}

const SCHEDULE_COMMANDS: &[&str] = &[
    SELECT_SSSE,
    SELECT_DF04,
    VERIFY_RIGHT,
    VERIFY_WRONG,
    VERIFY_PROBE,
    "00B2012C00",
    "B026000104",
    "0084000008",
];

fn step() -> impl Strategy<Value = Step> {
    let mode = prop_oneof![
        Just(TearMode::Nothing),
        Just(TearMode::FirstHalf),
        Just(TearMode::Complete)
    ];
    let fault = prop_oneof![
        (0u64..3).prop_map(|ms| ResponseFault::Delay { ms }),
        Just(ResponseFault::Mute),
        (any::<u16>(), proptest::option::of(any::<u8>()))
            .prop_map(|(sw, ins)| ResponseFault::Sw { sw, ins }),
        (0usize..40).prop_map(|byte| ResponseFault::Corrupt { byte }),
    ];
    prop_oneof![
        6 => (0..SCHEDULE_COMMANDS.len() + 1).prop_map(Step::Command),
        2 => (fault, 1u32..4).prop_map(|(f, c)| Step::Arm(f, c)),
        2 => (1u32..40, mode).prop_map(|(k, m)| Step::Tear(k, m)),
        1 => Just(Step::PowerCycle),
        1 => Just(Step::Clear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random faults between random commands (purchases among them): the card never
    /// panics, its image always loads and equals its memory, the PIN counter never
    /// rises except through a right PIN, and the purse holds 100.00 or 100.00 − k × 1.00.
    #[test]
    fn random_fault_schedules_never_break_the_card(steps in proptest::collection::vec(step(), 1..30)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.img");
        let mut l = imaged(dir.path());
        let mut tries = pin_tries(&l.card().state());
        let mut purse = balance(&l.card().state());
        let mut ttsn = 0u32;
        for step in steps {
            match step {
                Step::Command(i) => {
                    let apdu = match SCHEDULE_COMMANDS.get(i) {
                        Some(apdu) => Some(apdu.to_string()),
                        // A purchase of 1.00, its setup exposed to the faults too.
                        None => {
                            ttsn += 1;
                            try_purchase(&mut l, 1_00, ttsn).map(|(debit, _)| debit)
                        }
                    };
                    let mut response = Vec::new();
                    let effects = match apdu {
                        Some(apdu) => l.transmit(&hex(&apdu), &mut response),
                        None => Effects::default(),
                    };
                    if effects.power_lost {
                        prop_assert!(response.is_empty());
                    }
                    if !l.card().card().is_powered() {
                        // Pulled out by a cut (or a setup command met one): inserted again.
                        l.card_mut().power_on();
                    }
                }
                Step::Arm(fault, count) => l.arm(fault, count),
                Step::Tear(k, mode) => l.arm_tear(k, mode),
                Step::PowerCycle => {
                    l.card_mut().power_off();
                    l.card_mut().power_on();
                }
                Step::Clear => { l.clear(); }
            }
            let (_, on_disk) = ImageFile::load(&path).unwrap();
            prop_assert_eq!(on_disk.as_slice(), l.card().nvm());
            let state = l.card().state();
            let now = pin_tries(&state);
            // Only a right PIN restores tries (to the limit); otherwise they never rise.
            prop_assert!(now <= tries || now == 3, "tries {} → {}", tries, now);
            tries = now;
            let money = balance(&state);
            // Only purchases of 1.00 happen: the balance falls by whole purchases, old or new.
            prop_assert!(money <= purse && (purse - money).is_multiple_of(1_00), "balance {} → {}", purse, money);
            purse = money;
        }
        // Whatever happened, the image loads as a card.
        let (file, body) = ImageFile::load(&path).unwrap();
        drop(l);
        let mut again = SscVirtualCard::with_image(file, body, HostRng::seeded(9), Interface::Contact).unwrap();
        again.power_on();
        let mut r = Vec::new();
        again.transmit(&hex(SELECT_SSSE), &mut r);
        prop_assert_eq!(r, vec![0x90, 0x00]);
    }
}

#[test]
fn the_control_socket_answers_lines_refuses_garbage_and_a_second_listener() {
    use sscard_vcard::control::{ControlServer, MAX_REQUEST_LEN, request};
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixStream;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.sock");
    // A socket file left by a process that is gone is replaced.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let b = bench();
    let server = ControlServer::start(&path, std::sync::Arc::clone(&b)).unwrap();
    let refused = ControlServer::start(&path, bench()).unwrap_err();
    assert!(refused.to_string().contains("another card"), "{refused}");
    assert_eq!(
        request(&path, &Request::Mute { count: 2 }).unwrap()["ok"],
        true
    );
    assert_eq!(
        request(&path, &Request::Faults).unwrap()["faults"][0]["count"],
        2
    );
    // Several lines on one connection, garbage among them; then a line too long.
    let mut stream = UnixStream::connect(&path).unwrap();
    let mut lines = BufReader::new(stream.try_clone().unwrap()).lines();
    stream
        .write_all(b"{\"cmd\":\"clear\"}\nnot json\n\n\xff\xfe\n{\"cmd\":\"faults\"}\n")
        .unwrap();
    let answers: Vec<Value> = (0..4)
        .map(|_| serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap())
        .collect();
    assert_eq!(answers[0]["cleared"], 1);
    assert_eq!(answers[1]["ok"], false);
    assert_eq!(answers[2]["error"], "request is not UTF-8");
    assert_eq!(answers[3]["faults"], serde_json::json!([]));
    stream.write_all(&vec![b' '; MAX_REQUEST_LEN + 10]).unwrap();
    stream.write_all(b"\n").unwrap_or(());
    let long: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert!(
        long["error"].as_str().unwrap().contains("longer than"),
        "{long}"
    );
    assert!(lines.next().is_none(), "the connection is closed after it");
    // The card is unharmed and the socket goes with the server.
    assert_eq!(request(&path, &Request::State).unwrap()["ok"], true);
    drop(server);
    assert!(!path.exists());
}
