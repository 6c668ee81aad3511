//! The social-security application on the default profiles, checked against the spec
//! facts (spec/ssc.md) and an independent implementation of the card algorithms.
#![allow(clippy::restriction)]

mod common;

use common::indep::{self, Alg};
use common::*;
use sscard_core::Interface;

const AREA: &str = "519900";
const HIST3: &str = "00815353438660519900000001";

fn gen3() -> TestCard {
    card_from(&profile("gen3-default.toml"), 11)
}

/// [`gen3`] with the SSSE selected.
fn gen3_in_ssse() -> TestCard {
    let mut card = gen3();
    send_hex(&mut card, SELECT_SSSE);
    card
}

fn key(root_byte: u8) -> Vec<u8> {
    indep::card_key(Alg::Sm4, &[root_byte; 16], AREA, &hex(HIST3))
}

/// GET CHALLENGE (8) then EXTERNAL AUTHENTICATE with `key_id`, authentication data made
/// with `card_key`; returns the SW.
fn external_auth(card: &mut TestCard, alg: Alg, key_id: u8, card_key: &[u8], good: bool) -> u16 {
    let (challenge, sw) = send_hex(card, "0084000008");
    assert_eq!(sw, 0x9000);
    let spoil = (!good).then_some((0, 1));
    send(
        card,
        &external_auth_command(alg, key_id, card_key, &challenge, [0x5A; 8], spoil),
    )
    .1
}

/// An SM command: GET CHALLENGE, then header ‖ Lc ‖ body ‖ MAC with the STK session key.
fn sm_command(
    card: &mut TestCard,
    alg: Alg,
    stk: &[u8],
    header: [u8; 4],
    body: impl FnOnce(&[u8]) -> Vec<u8>,
) -> u16 {
    let (challenge, sw) = send_hex(card, "0084000008");
    assert_eq!(sw, 0x9000);
    let sk = indep::session_key(alg, stk, &challenge);
    let body = body(&sk);
    let lc = (body.len() + 4) as u8;
    let mut mac_input = header.to_vec();
    mac_input.push(lc);
    mac_input.extend(&body);
    let mac = indep::mac(alg, &sk, &mac_input);
    let mut cmd = header.to_vec();
    cmd.push(lc);
    cmd.extend(body);
    cmd.extend(mac);
    send(card, &cmd).1
}

/// Powers the card off and on again (contact) and selects the SSSE.
fn power_cycle_into_ssse(card: &mut TestCard) {
    card.power_off();
    card.power_on(Interface::Contact).unwrap();
    send_hex(card, SELECT_SSSE);
}

#[test]
fn atr_and_ssse_fci_exactly_as_spec() {
    let mut c = gen3();
    assert_eq!(to_hex(c.atr()), format!("3B6D0000{HIST3}"));
    // T=0: 61 1E then the FCI (spec/ssc.md §2.2, gen-3 card).
    assert_responses(
        &mut c,
        &[
            (SELECT_SSSE, "611E"),
            (
                "00C000001E",
                "6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA50988011E9F0C038601039000",
            ),
        ],
    );
}

#[test]
fn ef05_in_every_addressing_mode() {
    let mut c = gen3_in_ssse();
    let expect = [
        "0110519900D15600000500000001A1B2C3D4",
        "020133",
        "0304332E3030",
        "040C915600000251990051990001",
        "050420251201",
        "060420351201",
        "0709413030303030303033",
    ];
    for (i, rec) in expect.iter().enumerate() {
        let n = i + 1;
        let len = rec.len() / 2;
        // SFI + record number (P2 = 2C), SFI + tag (28); Le = 00 returns the record.
        assert_eq!(
            tx(&mut c, &format!("00B2{n:02X}2C00")),
            format!("{rec}9000")
        );
        assert_eq!(
            tx(&mut c, &format!("00B2{n:02X}2C{len:02X}")),
            format!("{rec}9000")
        );
        assert_eq!(
            tx(&mut c, &format!("00B2{n:02X}28{len:02X}")),
            format!("{rec}9000")
        );
    }
    // Current EF after SELECT EF05 (P1 = 02 and 00): by number (04) and by tag (00).
    assert_responses(
        &mut c,
        &[
            ("00A4020002EF05", "9000"),
            ("00B2070409", "6C0B"),
            ("00B207040B", "07094130303030303030339000"),
            ("00A4000002EF05", "9000"),
            ("00B2030006", "0304332E30309000"),
        ],
    );
    // All records at once (P2 = 05), length 0x40 as on a real card (spec/ssc.md §4).
    let all: String = expect.concat();
    assert_eq!(all.len() / 2, 0x40);
    assert_eq!(tx(&mut c, "00B2010540"), format!("{all}9000"));
}

#[test]
fn internal_authentication_matches_independent_sm4() {
    let mut c = gen3_in_ssse();
    let (ad, sw) = send_hex(&mut c, "008800001032D9E876ADB31BBFDBF7A936D0D18C9E");
    assert_eq!(sw, 0x9000);
    let irk = key(0x11);
    let sk = indep::session_key(Alg::Sm4, &irk, &hex("32D9E876ADB31BBF"));
    assert_eq!(
        ad,
        indep::auth_data(Alg::Sm4, &sk, &hex("DBF7A936D0D18C9E"))
    );
    // With the optional key-version byte (Lc = 11).
    let (ad2, sw) = send_hex(&mut c, "008800001132D9E876ADB31BBFDBF7A936D0D18C9E01");
    assert_eq!((ad2, sw), (ad, 0x9000));
    assert_eq!(
        send_hex(&mut c, "008800001132D9E876ADB31BBFDBF7A936D0D18C9E09").1,
        0x6A88
    );
    assert_eq!(
        send_hex(&mut c, "008800000F32D9E876ADB31BBFDBF7A936D0D18C").1,
        0x6700
    );
}

#[test]
fn gen3_ef06_needs_rksssse_and_counts_failures() {
    let mut c = gen3_in_ssse();
    assert_responses(
        &mut c,
        &[
            ("00B2013414", "6982"),
            ("00B0870010", "6982"),
            // No challenge → 6984 and no try spent.
            ("0082000A1000000000000000000000000000000000", "6984"),
        ],
    );
    let rk = key(0xAA);
    assert_eq!(external_auth(&mut c, Alg::Sm4, 0x0A, &rk, false), 0x63C2);
    assert_eq!(external_auth(&mut c, Alg::Sm4, 0x0A, &rk, false), 0x63C1);
    assert_eq!(external_auth(&mut c, Alg::Sm4, 0x0A, &rk, true), 0x9000);
    // The counter is restored by the success.
    assert_eq!(external_auth(&mut c, Alg::Sm4, 0x0A, &rk, false), 0x63C2);
    assert_eq!(external_auth(&mut c, Alg::Sm4, 0x0A, &rk, true), 0x9000);
    assert_eq!(
        tx(&mut c, "00B2013414"),
        "08123131303130353139343931323331303032589000"
    );
    assert_eq!(
        tx(&mut c, "00B2023420"),
        "091ED5C5C8FD".to_owned() + &"00".repeat(26) + "9000"
    );
    assert_eq!(
        tx(&mut c, "00B2033416"),
        "4E14".to_owned() + &"00".repeat(20) + "9000"
    );
    assert_responses(
        &mut c,
        &[
            ("00B2043403", "0A01319000"),
            ("00B2053403", "0B01019000"),
            ("00B2063405", "0C031101059000"),
            ("00B2073406", "0D04194912319000"),
            ("00B0870004", "000000009000"),
        ],
    );
    // Gone after a power cycle.
    power_cycle_into_ssse(&mut c);
    assert_eq!(tx(&mut c, "00B2013414"), "6982");
    // Exhausting the key: 63C0 then 6983, even with the right cryptogram.
    for expected in [0x63C2, 0x63C1, 0x63C0, 0x6983] {
        assert_eq!(external_auth(&mut c, Alg::Sm4, 0x0A, &rk, false), expected);
    }
    assert_eq!(external_auth(&mut c, Alg::Sm4, 0x0A, &rk, true), 0x6983);
    // Blocked survives power cycles (persistent counter).
    power_cycle_into_ssse(&mut c);
    assert_eq!(external_auth(&mut c, Alg::Sm4, 0x0A, &rk, true), 0x6983);
}

#[test]
fn challenge_is_single_use_and_tied_to_the_application() {
    let mut c = gen3_in_ssse();
    let rk = key(0xAA);
    let (challenge, _) = send_hex(&mut c, "0084000008");
    let p = [1u8; 8];
    let sk = indep::session_key(Alg::Sm4, &rk, &challenge);
    let mut cmd = vec![0x00, 0x82, 0x00, 0x0A, 0x10];
    cmd.extend(indep::auth_data(Alg::Sm4, &sk, &p));
    cmd.extend(p);
    assert_eq!(send(&mut c, &cmd).1, 0x9000);
    assert_eq!(send(&mut c, &cmd).1, 0x6984); // replay
    // A challenge does not survive a change of application.
    send_hex(&mut c, "0084000008");
    send_hex(&mut c, "00A4040006D15600000500"); // DF01 (partial name … exact here)
    send_hex(&mut c, SELECT_SSSE);
    assert_eq!(send(&mut c, &cmd).1, 0x6984);
    // Unknown key id, reserved id 00, wrong lengths.
    send_hex(&mut c, "0084000008");
    assert_responses(
        &mut c,
        &[
            ("0082000E1000000000000000000000000000000000", "6A88"),
            ("008200001000000000000000000000000000000000", "6A86"),
            ("0082000A0F000000000000000000000000000000", "6700"),
        ],
    );
}

#[test]
fn pin_probe_wrong_right_change_block_and_reload() {
    let mut c = gen3_in_ssse();
    assert_responses(
        &mut c,
        &[
            ("0020000000", "63C3"), // probe, no decrement
            ("00200000", "63C3"),
            ("0020000003654321", "63C2"),
            ("0020000000", "63C2"),
            ("0020000003123456", "9000"),
            ("0020000000", "63C3"),
        ],
    );
    // CHANGE PIN: old FF new.
    assert_eq!(
        tx(
            &mut c,
            "805E0100071234 56FF 888888".replace(' ', "").as_str()
        ),
        "9000"
    );
    assert_responses(
        &mut c,
        &[
            ("0020000003123456", "63C2"),
            ("0020000003888888", "9000"),
            ("805E010007123456FF888888", "63C2"),
            ("805E010005888888FF12", "6A80"), // new PIN too short, old right
            ("805E010003888888", "6A80"),     // no separator
            ("805E020007888888FF123456", "6A86"),
        ],
    );
    // Block it.
    for sw in ["63C2", "63C1", "63C0", "6983"] {
        assert_eq!(tx(&mut c, "0020000003000000"), sw);
    }
    assert_responses(
        &mut c,
        &[("0020000003888888", "6983"), ("0020000000", "6983")],
    );
    // Reload: PUK external authentication, then 8424 0001 with the new PIN under SM.
    let stk = key(0x22);
    assert_eq!(
        sm_command(&mut c, Alg::Sm4, &stk, [0x84, 0x24, 0x00, 0x01], |sk| {
            indep::sm_encrypt(Alg::Sm4, sk, &hex("654321"))
        }),
        0x6982,
        "no PUK authentication yet"
    );
    assert_eq!(
        external_auth(&mut c, Alg::Sm4, 0x06, &key(0x66), true),
        0x9000
    );
    // A wrong MAC → 6988.
    assert_eq!(
        sm_command(
            &mut c,
            Alg::Sm4,
            &key(0x23),
            [0x84, 0x24, 0x00, 0x01],
            |sk| indep::sm_encrypt(Alg::Sm4, sk, &hex("654321"))
        ),
        0x6988
    );
    // After the reload, and again after an unblock: three tries, PIN 654321.
    let reloaded = [
        ("0020000000", "63C3"),
        ("0020000003654321", "9000"),
        ("0020000003000000", "63C2"),
    ];
    assert_eq!(
        sm_command(&mut c, Alg::Sm4, &stk, [0x84, 0x24, 0x00, 0x01], |sk| {
            indep::sm_encrypt(Alg::Sm4, sk, &hex("654321"))
        }),
        0x9000
    );
    assert_responses(&mut c, &reloaded);
    // Unblock only (8424 0000): resets the counter, keeps the PIN.
    assert_eq!(
        sm_command(&mut c, Alg::Sm4, &stk, [0x84, 0x24, 0x00, 0x00], |_| vec![]),
        0x9000
    );
    assert_responses(&mut c, &reloaded);
    // The counter is persistent; the verified status is not.
    power_cycle_into_ssse(&mut c);
    assert_eq!(tx(&mut c, "0020000000"), "63C2");
    send_hex(&mut c, "00A4040006D15600000500");
    assert_eq!(tx(&mut c, "00B2012C00"), "6982");
}

#[test]
fn pin_or_key_files_of_the_application_dfs() {
    let mut c = gen3_in_ssse();
    assert_eq!(send_hex(&mut c, "00A4040006D15600000500").1, 0x9000);
    assert_responses(
        &mut c,
        &[
            ("00B2012C00", "6982"),
            // The SSSE PIN opens "PIN or RK1DF01" files.
            ("0020000003123456", "9000"),
            ("00B2012C04", "200231309000"),
        ],
    );
    // DF04/EF06 needs PIN AND RK1DF04.
    assert_eq!(send_hex(&mut c, "00A4040006D15600000503").1, 0x9000);
    assert_eq!(tx(&mut c, "00B2013400"), "6982");
    let rk1df04 = indep::card_key(
        Alg::Sm4,
        &hex("04840484048404840484048404840484"),
        AREA,
        &hex(HIST3),
    );
    assert_eq!(
        external_auth(&mut c, Alg::Sm4, 0x84, &rk1df04, true),
        0x9000
    );
    assert_eq!(tx(&mut c, "00B2013400"), "6A83"); // allowed now; the file is empty
    // The medical log is never written through APDUs.
    assert_eq!(
        tx(&mut c, &("00E200401C".to_owned() + &"00".repeat(28))),
        "6982"
    );
}

#[test]
fn update_with_uksssse_plain_and_with_secure_messaging() {
    let mut c = gen3_in_ssse();
    assert_eq!(
        tx(&mut c, "00DC0228030201 32".replace(' ', "").as_str()),
        "6982"
    );
    assert_eq!(
        external_auth(&mut c, Alg::Sm4, 0x04, &key(0x44), true),
        0x9000
    );
    // The issuing tool's write: UPDATE RECORD by tag with SFI (spec/ssc.md §9.7).
    assert_eq!(
        tx(&mut c, "00DC0228030201 32".replace(' ', "").as_str()),
        "9000"
    );
    assert_responses(
        &mut c,
        &[
            ("00B2022C03", "0201329000"),
            // Tag in P1 must match the record; Lc vs TLV.
            ("00DC022803030132", "6A80"),
            ("00DC02280403013200", "6A85"),
            ("00DC022803020201", "6A85"),
            ("00DC022C0402023200", "9000"),
        ],
    );
    // Secure messaging (CLA 04) with STKSSSE.
    let stk = key(0x22);
    assert_eq!(
        sm_command(&mut c, Alg::Sm4, &stk, [0x04, 0xDC, 0x02, 0x2C], |_| hex(
            "020133"
        )),
        0x9000
    );
    assert_eq!(tx(&mut c, "00B2022C03"), "0201339000");
    assert_eq!(
        sm_command(
            &mut c,
            Alg::Sm4,
            &key(0x21),
            [0x04, 0xDC, 0x02, 0x2C],
            |_| hex("020134")
        ),
        0x6988
    );
    assert_responses(
        &mut c,
        &[
            ("04DC022C0102", "6987"),
            // UPDATE BINARY of the fingerprint file needs UKSSSE too; reading needs RKSSSE.
            ("00D6870004CAFEBABE", "9000"),
        ],
    );
    assert_eq!(
        external_auth(&mut c, Alg::Sm4, 0x0A, &key(0xAA), true),
        0x9000
    );
    assert_eq!(tx(&mut c, "00B0870004"), "CAFEBABE9000");
}

#[test]
fn application_block_then_9303_and_card_block_then_6a81() {
    let mut c = gen3_in_ssse();
    send_hex(&mut c, "00A4040006D15600000500");
    let stkdf01 = indep::card_key(
        Alg::Sm4,
        &hex("01820182018201820182018201820182"),
        AREA,
        &hex(HIST3),
    );
    assert_eq!(
        sm_command(
            &mut c,
            Alg::Sm4,
            &stkdf01,
            [0x84, 0x1E, 0x00, 0x01],
            |_| vec![]
        ),
        0x9000
    );
    assert_responses(
        &mut c,
        &[
            ("00B2012C00", "9303"),
            ("0084000008", "9303"),
            (SELECT_SSSE, "611E"), // another application is fine
            ("00A4040006D15600000500", "9303"),
        ],
    );
    power_cycle_into_ssse(&mut c);
    assert_eq!(tx(&mut c, "00A4040006D15600000500"), "9303");
    // CARD BLOCK needs BK authentication, then the STKSSSE MAC.
    send_hex(&mut c, SELECT_SSSE);
    let stk = key(0x22);
    assert_eq!(
        sm_command(&mut c, Alg::Sm4, &stk, [0x84, 0x16, 0x00, 0x00], |_| vec![]),
        0x6982
    );
    assert_eq!(
        external_auth(&mut c, Alg::Sm4, 0x05, &key(0x55), true),
        0x9000
    );
    assert_eq!(
        sm_command(&mut c, Alg::Sm4, &stk, [0x84, 0x16, 0x00, 0x00], |_| vec![]),
        0x9000
    );
    for apdu in [
        SELECT_SSSE,
        "0084000008",
        "00B2012C00",
        "00C0000000",
        "FFFFFFFF",
    ] {
        assert_eq!(tx(&mut c, apdu), "6A81", "{apdu}");
    }
    c.power_off();
    c.power_on(Interface::Contact).unwrap();
    assert_eq!(tx(&mut c, "00A4000C023F00"), "6A81");
}

/// Every file × read/update × security state gives the SW the access-condition tables of
/// spec/ssc.md §2.3 (V2.0 T3–T8) call for; written out here from the spec, not from the
/// card's layout table.
#[test]
fn gen2_3des_card() {
    let mut c = card_from(&profile("gen2-3des.toml"), 3);
    let hist = hex("00815353438660519900000002");
    let (fci, sw) = send_hex(&mut c, SELECT_SSSE);
    assert_eq!(sw, 0x9000);
    assert_eq!(
        to_hex(&fci),
        "6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA50988011E9F0C03860101"
    );
    let (ad, _) = send_hex(&mut c, "00880000100102030405060708A1A2A3A4A5A6A7A8");
    let irk = indep::card_key(Alg::Tdes, &[0x11; 16], AREA, &hist);
    let sk = indep::session_key(Alg::Tdes, &irk, &hex("0102030405060708"));
    assert_eq!(sk.len(), 8, "3DES session keys are single length");
    assert_eq!(
        ad,
        indep::auth_data(Alg::Tdes, &sk, &hex("A1A2A3A4A5A6A7A8"))
    );
    // EF06 is free to read on gen 2, EF07/EF08 need RKSSSE.
    assert_eq!(send_hex(&mut c, "00B2013400").1, 0x9000);
    assert_eq!(tx(&mut c, "00B0870001"), "6982");
    let rk = indep::card_key(Alg::Tdes, &[0xAA; 16], AREA, &hist);
    assert_eq!(external_auth(&mut c, Alg::Tdes, 0x0A, &rk, true), 0x9000);
    assert_eq!(tx(&mut c, "00B0870001"), "009000");
    // DES PIN reload: 8424 0001 Lc 0C (8 enc + 4 MAC).
    let puk = indep::card_key(Alg::Tdes, &[0x66; 16], AREA, &hist);
    assert_eq!(external_auth(&mut c, Alg::Tdes, 0x06, &puk, true), 0x9000);
    let stk = indep::card_key(Alg::Tdes, &[0x22; 16], AREA, &hist);
    assert_eq!(
        sm_command(&mut c, Alg::Tdes, &stk, [0x84, 0x24, 0x00, 0x01], |sk| {
            let e = indep::sm_encrypt(Alg::Tdes, sk, &hex("246810"));
            assert_eq!(e.len(), 8);
            e
        }),
        0x9000
    );
    assert_eq!(tx(&mut c, "0020000003246810"), "9000");
}

#[test]
fn gen1_card() {
    let mut c = card_from(&profile("gen1.toml"), 5);
    let (fci, sw) = send_hex(&mut c, SELECT_SSSE);
    assert_eq!(sw, 0x9000);
    // No 9F0C on gen 1 (spec/ssc.md §2.2: 6F16 … A503 88010B).
    assert_eq!(
        to_hex(&fci),
        "6F16840F7378312E73682EC9E7BBE1B1A3D5CFA50388010B"
    );
    // EF06 without 姓名扩展: 性别 is record 3 (spec/ssc.md §3).
    assert_responses(
        &mut c,
        &[("00B2033403", "0A01319000"), ("00B2073400", "6A83")],
    );
    assert_eq!(
        send_hex(&mut c, "00B0870001").1,
        0x9000,
        "EF07 free on gen 1"
    );
    assert_eq!(tx(&mut c, "00A4020002EF08"), "6A82");
    assert_eq!(
        tx(&mut c, "00A4040006D15600000504"),
        "6A82",
        "no DF07 on gen 1"
    );
}

#[test]
fn dir_file_lists_the_applications() {
    let mut c = gen3_in_ssse();
    let (r1, sw) = send_hex(&mut c, "00B201F400");
    assert_eq!(sw, 0x9000);
    assert_eq!(
        to_hex(&r1),
        "61184F06D1560000050050 0EB9ABB9B2D3A6D3C3D0C5CFA2C7F8".replace(' ', "")
    );
    for n in 2..=5 {
        assert_eq!(send_hex(&mut c, &format!("00B2{n:02X}F400")).1, 0x9000);
    }
    assert_eq!(tx(&mut c, "00B206F400"), "6A83");
}

#[test]
fn built_in_profiles_parse_and_bad_fields_are_named() {
    for name in ["gen3-default.toml", "gen2-3des.toml", "gen1.toml"] {
        profile(name);
    }
    let good = sscard_host::profile::DEFAULT_GEN3;
    let cases = [
        (
            "area_code = \"519900\"",
            "area_code = \"51990\"",
            "card.area_code",
        ),
        ("generation = 3", "generation = 4", "card.generation"),
        (
            "issue_date = \"20251201\"",
            "issue_date = \"20251301\"",
            "ef05.issue_date",
        ),
        ("sex = \"1\"", "sex = \"x\"", "ef06.sex"),
        (
            "card_id = \"519900D15600000500000001A1B2C3D4\"",
            "card_id = \"519900\"",
            "ef05.card_id",
        ),
        (
            "irk = \"11111111111111111111111111111111\"",
            "irk = \"1111\"",
            "keys.irk",
        ),
        (
            "algorithm = \"SM4\"",
            "algorithm = \"3DES\"",
            "card.algorithm",
        ),
    ];
    for (from, to, field) in cases {
        assert!(good.contains(from), "{from}");
        let bad = good.replacen(from, to, 1);
        let e = sscard_host::profile::Profile::parse(&bad).unwrap_err();
        assert_eq!(e.field, field, "{e}");
    }
    let e = sscard_host::profile::Profile::parse("[card]\nbogus = 1\n").unwrap_err();
    assert!(
        e.to_string().contains("bogus") || e.to_string().contains("unknown"),
        "{e}"
    );
}

#[test]
fn demo_prints_the_read_card_bas_string() {
    let out =
        sscard_host::demo::run(&sscard_host::profile::Profile::default_gen3(), 1, false).unwrap();
    assert_eq!(
        out,
        "519900|11010519491231002X|A00000003|519900D15600000500000001A1B2C3D4|张三|00815353438660519900000001|3.00|20251201|20351201|000000000000|00000000000000000000000000000000|"
    );
}
