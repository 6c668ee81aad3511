//! Tear tests of the file-system write commands: the power is cut at every NVM write of
//! UPDATE BINARY, UPDATE RECORD (replace and append; linear and cyclic) and APPEND
//! RECORD, in every tear mode. After recovery the harness checks the raw image for
//! old-or-new; these tests then read the files back through APDUs and check that the
//! record count and every record match the state before or after the torn command.
#![allow(clippy::restriction)]

mod fs_tree;

use fs_tree::{direct_options, hex, image, tear_card, to_hex};
use sscard_core::Applets;
use sscard_core::nvm::Nvm;
use sscard_core::rng::CardRng;
use sscard_ssc::SscCard;
use sscard_testkit::tear::{Step, TEAR_MODES, TearCard, TearPoint, tear_every_write};

/// What DF01's files hold, read through APDUs.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Df01 {
    /// EF A001 (SFI 1), the whole transparent body.
    binary: Vec<u8>,
    /// EF A002 (SFI 2, linear fixed), A003 (SFI 3, linear variable) and A004 (SFI 4,
    /// cyclic), records in record-number order.
    records: [Vec<Vec<u8>>; 3],
}

fn send<N: Nvm, R: CardRng, A: Applets>(card: &mut SscCard<N, R, A>, apdu: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 512];
    let n = card.process(apdu, &mut out);
    out.truncate(n);
    out
}

/// Splits a response into data and SW; `Err` for a mute card.
fn split(response: &[u8]) -> Result<(&[u8], [u8; 2]), String> {
    match response {
        [data @ .., a, b] => Ok((data, [*a, *b])),
        _ => Err(format!("response too short: {}", to_hex(response))),
    }
}

/// Reads DF01 back: selects it, reads EF A001 whole, and reads each record file record
/// by record until `6A83`, then checks that "record 1 to last" (P2 mode 101) returns the
/// same records concatenated, so the record count and the slots agree.
fn read_df01<N: Nvm, R: CardRng, A: Applets>(card: &mut SscCard<N, R, A>) -> Result<Df01, String> {
    let selected = send(card, &hex("00A4040C06D15600000501"));
    if selected != [0x90, 0x00] {
        return Err(format!("SELECT DF01 answered {}", to_hex(&selected)));
    }
    let response = send(card, &hex("00B0810000"));
    let (binary, sw) = split(&response)?;
    if sw != [0x90, 0x00] {
        return Err(format!("READ BINARY answered {}", to_hex(&response)));
    }
    let binary = binary.to_vec();
    let mut records: [Vec<Vec<u8>>; 3] = Default::default();
    for (sfi, list) in (2u8..=4).zip(records.iter_mut()) {
        for n in 1u8.. {
            let response = send(card, &[0x00, 0xB2, n, sfi << 3 | 4, 0x00]);
            match split(&response)? {
                (data, [0x90, 0x00]) => list.push(data.to_vec()),
                (_, [0x6A, 0x83]) => break,
                _ => {
                    return Err(format!(
                        "READ RECORD {n} of SFI {sfi}: {}",
                        to_hex(&response)
                    ));
                }
            }
        }
        let all = send(card, &[0x00, 0xB2, 0x01, sfi << 3 | 5, 0x00]);
        let expected: Vec<u8> = if list.is_empty() {
            vec![0x6A, 0x83]
        } else {
            list.concat().into_iter().chain([0x90, 0x00]).collect()
        };
        if all != expected {
            return Err(format!(
                "SFI {sfi}: {} records one by one but records 1..last read {}",
                list.len(),
                to_hex(&all)
            ));
        }
    }
    Ok(Df01 { binary, records })
}

fn steps(script: &[&str]) -> Vec<Step> {
    script
        .iter()
        .map(|s| match *s {
            "power cycle" => Step::PowerCycle,
            apdu => Step::Apdu(hex(apdu)),
        })
        .collect()
}

const SELECT_DF01: &str = "00A4040C06D15600000501";

fn initial() -> Df01 {
    let mut binary = vec![0xA5; 16];
    binary.resize(40, 0);
    Df01 {
        binary,
        records: [
            vec![vec![0x11; 4], vec![0x12; 4]],
            vec![hex("0101AA"), hex("0202BBBB"), hex("0101CC")],
            // Cyclic: record 1 is the most recent.
            vec![vec![0x02; 3], vec![0x01; 3]],
        ],
    }
}

/// Runs the scenario on a fresh card without tears and reads DF01 back after each step:
/// `states[0]` is the initial state, `states[s + 1]` the state after step `s`.
fn states_by_step(image: &[u8], scenario: &[Step]) -> Vec<Df01> {
    let mut states = vec![read_df01(&mut powered(image)).unwrap()];
    for end in 1..=scenario.len() {
        let mut card = powered(image);
        for (i, step) in scenario[..end].iter().enumerate() {
            match step {
                Step::Apdu(apdu) => {
                    let response = send(&mut card, apdu);
                    assert_eq!(
                        to_hex(&response),
                        "9000",
                        "step {i} of the clean run: {}",
                        to_hex(apdu)
                    );
                }
                Step::PowerCycle => {
                    card.power_off();
                    card.power_on(card.interface()).unwrap();
                }
            }
        }
        states.push(read_df01(&mut card).unwrap());
    }
    states
}

fn powered(image: &[u8]) -> TearCard<sscard_core::rng::SplitMixRng> {
    let mut card = tear_card(image, direct_options());
    card.power_on(card.interface()).unwrap();
    card
}

/// Tears `script` at every write; after each recovery DF01 must read back exactly as
/// before or after the torn step (each write command here is one commit). Checks the
/// clean run's end state against `expected_change` applied to the initial state.
/// Returns the number of tear points.
fn tear_check(name: &str, script: &[&str], expected_change: impl Fn(&mut Df01)) -> usize {
    let image = image();
    let scenario = steps(script);
    let states = states_by_step(&image, &scenario);
    let mut expected_end = initial();
    expected_change(&mut expected_end);
    assert_eq!(states[0], initial(), "{name}: initial state");
    assert_eq!(states[scenario.len()], expected_end, "{name}: end state");

    let mut landed = [0usize; 2];
    let checked = tear_every_write(
        || tear_card(&image, direct_options()),
        &scenario,
        |card, point: &TearPoint| {
            let want = &states[point.step + usize::from(point.landed)];
            let got = read_df01(card)?;
            landed[usize::from(point.landed)] += 1;
            if &got != want {
                return Err(format!("read back {got:?}, expected {want:?}").into());
            }
            Ok(())
        },
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let writes = checked / TEAR_MODES.len();
    eprintln!(
        "{name}: {writes} NVM writes x {} modes = {checked} tear points \
         ({} recovered old, {} new)",
        TEAR_MODES.len(),
        landed[0],
        landed[1]
    );
    // Both outcomes must occur, or the scenario did not exercise the commit point.
    assert!(landed[0] > 0 && landed[1] > 0, "{name}: {landed:?}");
    checked
}

#[test]
fn update_binary() {
    tear_check(
        "UPDATE BINARY (SFI, 8 bytes)",
        &[SELECT_DF01, "00D681040811223344556677 88"],
        |s| s.binary[4..12].copy_from_slice(&hex("1122334455667788")),
    );
    tear_check(
        "UPDATE BINARY (current EF, whole file)",
        &[
            SELECT_DF01,
            "00A4020C02A001",
            &format!("00D6000028{}", "5A".repeat(40)),
        ],
        |s| s.binary = vec![0x5A; 40],
    );
}

#[test]
fn update_record_replace_linear_fixed() {
    tear_check(
        "UPDATE RECORD replace (linear fixed)",
        &[SELECT_DF01, "00DC021404AABBCCDD"],
        |s| s.records[0][1] = hex("AABBCCDD"),
    );
}

#[test]
fn update_record_append_linear_fixed() {
    tear_check(
        "UPDATE RECORD append (linear fixed, record count + 1)",
        &[SELECT_DF01, "00DC03140413131313"],
        |s| s.records[0].push(vec![0x13; 4]),
    );
}

#[test]
fn update_record_by_identifier_linear_variable() {
    tear_check(
        "UPDATE RECORD replace by identifier (linear variable, longer record)",
        &[SELECT_DF01, "00DC0218050203DDEEFF"],
        |s| s.records[1][1] = hex("0203DDEEFF"),
    );
    tear_check(
        "UPDATE RECORD append by absent identifier (linear variable)",
        &[SELECT_DF01, "00DC0518030501EE"],
        |s| s.records[1].push(hex("0501EE")),
    );
}

#[test]
fn update_record_cyclic() {
    tear_check(
        "UPDATE RECORD replace (cyclic)",
        &[SELECT_DF01, "00DC022403090909"],
        |s| s.records[2][1] = vec![0x09; 3],
    );
    tear_check(
        "UPDATE RECORD add (cyclic, previous occurrence)",
        &[SELECT_DF01, "00DC002303030303"],
        |s| s.records[2].insert(0, vec![0x03; 3]),
    );
}

#[test]
fn append_record() {
    tear_check(
        "APPEND RECORD (linear fixed)",
        &[SELECT_DF01, "00E2001004EEEEEEEE"],
        |s| s.records[0].push(vec![0xEE; 4]),
    );
    tear_check(
        "APPEND RECORD (linear variable)",
        &[SELECT_DF01, "00E20018030601AB"],
        |s| s.records[1].push(hex("0601AB")),
    );
    tear_check(
        "APPEND RECORD (cyclic, filling then wrapping)",
        &[SELECT_DF01, "00E2002003030303", "00E2002003040404"],
        |s| {
            // Three slots: 04 overwrites the oldest (01).
            s.records[2] = vec![vec![0x04; 3], vec![0x03; 3], vec![0x02; 3]];
        },
    );
}

#[test]
fn several_commands_across_a_power_cycle() {
    tear_check(
        "UPDATE BINARY + UPDATE RECORD + power cycle + APPEND RECORD",
        &[
            SELECT_DF01,
            "00D6810002BEEF",
            "00DC011404CAFECAFE",
            "power cycle",
            SELECT_DF01,
            "00E20018030701FF",
        ],
        |s| {
            s.binary[0..2].copy_from_slice(&[0xBE, 0xEF]);
            s.records[0][0] = hex("CAFECAFE");
            s.records[1].push(hex("0701FF"));
        },
    );
}

/// The harness can fail: an invariant that only accepts one outcome is refuted, because
/// some tears recover the old state and others the new one.
#[test]
fn the_harness_reports_both_outcomes_and_invariant_failures() {
    let image = image();
    let scenario = steps(&[SELECT_DF01, "00E2001004EEEEEEEE"]);
    for must_land in [false, true] {
        let result = tear_every_write(
            || tear_card(&image, direct_options()),
            &scenario,
            |_, point| {
                if point.landed == must_land {
                    Ok(())
                } else {
                    Err(format!("landed = {}", point.landed).into())
                }
            },
        );
        let error = result.expect_err("one outcome alone cannot cover every tear");
        assert!(error.0.contains("tear at write"), "{error}");
    }
}

/// A scenario without NVM writes has no tear points.
#[test]
fn reads_alone_have_no_tear_points() {
    let image = image();
    let scenario = steps(&[SELECT_DF01, "00B2011400", "00B0810000"]);
    let checked = tear_every_write(
        || tear_card(&image, direct_options()),
        &scenario,
        |_, _| Ok(()),
    );
    assert_eq!(checked, Ok(0));
}
