//! Profiles that describe real cards (issue 18): unwritten data elements, raw element
//! bytes, the name's padding byte, card-level keys, FCIs and file sizes — each checked on
//! the personalized card, card keys against an independent implementation, and every
//! malformed value refused with an error naming its field.
#![allow(clippy::restriction)]

mod common;

use common::indep::{self, Alg};
use common::*;
use sscard_host::profile::{DEFAULT_GEN3, Profile};

const AREA: &str = "519900";
const HIST3: &str = "00815353438660519900000001";
const IRK_ROOT: &str = "11111111111111111111111111111111";
const RK_ROOT: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn replaced(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from}");
    text.replacen(from, to, 1)
}

fn field_of_error(text: &str) -> String {
    Profile::parse(text).unwrap_err().field
}

/// The default card's IRK and RKSSSE as the card holds them, computed independently.
fn card_keys() -> (Vec<u8>, Vec<u8>) {
    let hist = hex(HIST3);
    (
        indep::card_key(Alg::Sm4, &hex(IRK_ROOT), AREA, &hist),
        indep::card_key(Alg::Sm4, &hex(RK_ROOT), AREA, &hist),
    )
}

/// The default card described by its own keys instead of the issuer's roots.
fn card_level_profile(irk: &[u8], rk: &[u8]) -> String {
    let text = replaced(
        DEFAULT_GEN3,
        "[keys]\ntry_limit = 3",
        "[keys]\nlevel = \"card\"\ntry_limit = 3",
    );
    let text = replaced(
        &text,
        &format!("irk = \"{IRK_ROOT}\""),
        &format!("irk = \"{}\"", to_hex(irk)),
    );
    replaced(
        &text,
        &format!("rk  = \"{RK_ROOT}\""),
        &format!("rk  = \"{}\"", to_hex(rk)),
    )
}

const INTERNAL_AUTH: &str = "008800001032D9E876ADB31BBFDBF7A936D0D18C9E";

#[test]
fn card_level_keys_reproduce_the_cards_cryptograms() {
    let (irk, rk) = card_keys();
    let by_root = Profile::default_gen3();
    let by_card = Profile::parse(&card_level_profile(&irk, &rk)).unwrap();
    let mut a = card_from(&by_root, 3);
    let mut b = card_from(&by_card, 3);
    send_hex(&mut a, SELECT_SSSE);
    send_hex(&mut b, SELECT_SSSE);
    let (ad_root, sw) = send_hex(&mut a, INTERNAL_AUTH);
    assert_eq!(sw, 0x9000);
    let (ad_card, sw) = send_hex(&mut b, INTERNAL_AUTH);
    assert_eq!(sw, 0x9000);
    assert_eq!(ad_card, ad_root, "the same card, described two ways");
    let sk = indep::session_key(Alg::Sm4, &irk, &hex("32D9E876ADB31BBF"));
    assert_eq!(
        ad_card,
        indep::auth_data(Alg::Sm4, &sk, &hex("DBF7A936D0D18C9E"))
    );
    // EXTERNAL AUTHENTICATE with RKSSSE made from the card key opens EF06 (gen 3).
    let (challenge, _) = send_hex(&mut b, "0084000008");
    let p = [0x5Au8; 8];
    let sk = indep::session_key(Alg::Sm4, &rk, &challenge);
    let cmd = format!(
        "0082000A10{}{}",
        to_hex(&indep::auth_data(Alg::Sm4, &sk, &p)),
        to_hex(&p)
    );
    assert_eq!(send_hex(&mut b, &cmd).1, 0x9000);
    assert_eq!(send_hex(&mut b, "00B2013414").1, 0x9000);
    // The reference terminal reads the card-level card like the other one.
    assert_eq!(
        sscard_host::demo::run(&by_card, 1, false).unwrap(),
        sscard_host::demo::run(&by_root, 1, false).unwrap()
    );
    // "card" really stores the bytes as given: the roots as card keys are another card.
    let roots_as_card = Profile::parse(&replaced(
        DEFAULT_GEN3,
        "[keys]\ntry_limit = 3",
        "[keys]\nlevel = \"card\"\ntry_limit = 3",
    ))
    .unwrap();
    let mut c = card_from(&roots_as_card, 3);
    send_hex(&mut c, SELECT_SSSE);
    let (ad, _) = send_hex(&mut c, INTERNAL_AUTH);
    let sk = indep::session_key(Alg::Sm4, &hex(IRK_ROOT), &hex("32D9E876ADB31BBF"));
    assert_eq!(
        ad,
        indep::auth_data(Alg::Sm4, &sk, &hex("DBF7A936D0D18C9E"))
    );
    assert_ne!(ad, ad_root);
}

#[test]
fn a_df_key_can_be_given_at_the_other_level() {
    // DF01's RK1 (id 84) given as the card's key on a root-level card.
    let rk1 = indep::card_key(
        Alg::Sm4,
        &hex("01840184018401840184018401840184"),
        AREA,
        &hex(HIST3),
    );
    let text = replaced(
        DEFAULT_GEN3,
        "id = 0x84\nroot = \"01840184018401840184018401840184\"",
        &format!("id = 0x84\nroot = \"{}\"\nlevel = \"card\"", to_hex(&rk1)),
    );
    let mut card = card_from(&Profile::parse(&text).unwrap(), 5);
    send_hex(&mut card, SELECT_SSSE);
    send_hex(&mut card, "00A4040C06D15600000500");
    let (challenge, _) = send_hex(&mut card, "0084000008");
    let cmd = external_auth_command(Alg::Sm4, 0x84, &rk1, &challenge, [0x33; 8], None);
    assert_eq!(send(&mut card, &cmd).1, 0x9000);
    assert_eq!(
        send_hex(&mut card, "00B2012C04").1,
        0x9000,
        "DF01/EF05 opened by RK1"
    );
}

#[test]
fn unwritten_and_raw_elements_are_stored_as_real_cards_hold_them() {
    let text = replaced(DEFAULT_GEN3, "nation = \"01\"", "nation = \"\"");
    let text = replaced(&text, "birth_place = \"110105\"", "birth_place = \"\"");
    let text = replaced(
        &text,
        "birth_date = \"19491231\"",
        "birth_date = { hex = \"19490000\" }",
    );
    let text = replaced(&text, "sex = \"1\"", "sex = \"\"");
    let text = replaced(&text, "expiry_date = \"20351201\"", "expiry_date = \"\"");
    let text = replaced(&text, "card_type = \"3\"", "card_type = { hex = \"33\" }");
    let text = replaced(
        &text,
        "name_ext = \"\"",
        "name_ext = \"\"\nname_padding = 0x20\nname_ext_padding = 0xFF",
    );
    let profile = Profile::parse(&text).unwrap();
    let mut card = card_from(&profile, 1);
    send_hex(&mut card, SELECT_SSSE);
    let read = |card: &mut TestCard, apdu: &str| {
        let (data, sw) = send_hex(card, apdu);
        assert_eq!(sw, 0x9000, "{apdu}");
        to_hex(&data)
    };
    assert_eq!(read(&mut card, "00B2062C00"), "0604FFFFFFFF");
    assert_eq!(read(&mut card, "00B2022C00"), "020133");
    // EF06 needs RKSSSE on gen 3.
    let (_, rk) = card_keys();
    let (challenge, _) = send_hex(&mut card, "0084000008");
    let cmd = external_auth_command(Alg::Sm4, 0x0A, &rk, &challenge, [0x5A; 8], None);
    assert_eq!(send(&mut card, &cmd).1, 0x9000);
    assert_eq!(
        read(&mut card, "00B2023400"),
        format!("091ED5C5C8FD{}", "20".repeat(26))
    );
    assert_eq!(
        read(&mut card, "00B2033400"),
        format!("4E14{}", "FF".repeat(20))
    );
    assert_eq!(read(&mut card, "00B2043400"), "0A0100");
    assert_eq!(read(&mut card, "00B2053400"), "0B01FF");
    assert_eq!(read(&mut card, "00B2063400"), "0C03FFFFFF");
    assert_eq!(read(&mut card, "00B2073400"), "0D0419490000");
}

#[test]
fn fci_and_layout_overrides_reach_the_card() {
    let text = format!(
        "{DEFAULT_GEN3}\n[[fci]]\ndf = \"MF\"\nproprietary = \"8A0105\"\nname = \"A00000000386980701\"\n\
         [[fci]]\ndf = \"PKI/DF01\"\nproprietary = \"\"\n\
         [[fci]]\ndf = \"DF03\"\nproprietary = \"9F0C03860103\"\n\
         [[layout]]\nfile = \"DF04/EF05\"\nrecord_len = 0x30\n\
         [[records]]\nfile = \"DF04/EF05\"\nitems = [{{ tag = 0x8B, len = 0x2E, an = \"A\" }}]\n"
    );
    let mut card = card_from(&Profile::parse(&text).unwrap(), 1);
    let (fci, sw) = send_hex(&mut card, "00A4000000");
    assert_eq!(sw, 0x9000);
    assert_eq!(
        to_hex(&fci),
        "6F1084 09A00000000386980701A5038A0105".replace(' ', "")
    );
    let (fci, _) = send_hex(&mut card, SELECT_SSSE);
    assert!(
        to_hex(&fci).ends_with("A50988011E9F0C03860103"),
        "default SSSE FCI"
    );
    let (fci, _) = send_hex(&mut card, "00A4040006D15600000502");
    assert_eq!(to_hex(&fci), "6F108406D15600000502A5069F0C03860103");
    // The 48-byte record fits DF04/EF05 only because of the layout entry.
    let without = text.replace("[[layout]]\nfile = \"DF04/EF05\"\nrecord_len = 0x30\n", "");
    assert!(Profile::parse(&without).is_err());
}

#[test]
fn malformed_values_name_their_field() {
    let cases: Vec<(String, &str)> = vec![
        (
            replaced(
                DEFAULT_GEN3,
                "birth_date = \"19491231\"",
                "birth_date = \"1949\"",
            ),
            "ef06.birth_date",
        ),
        (
            replaced(
                DEFAULT_GEN3,
                "nation = \"01\"",
                "nation = { hex = \"FFFF\" }",
            ),
            "ef06.nation.hex",
        ),
        (
            replaced(DEFAULT_GEN3, "nation = \"01\"", "nation = { hex = \"F\" }"),
            "ef06.nation.hex",
        ),
        (
            replaced(DEFAULT_GEN3, "nation = \"01\"", "nation = \"1a\""),
            "ef06.nation",
        ),
        (
            replaced(
                DEFAULT_GEN3,
                "name_ext = \"\"",
                "name_ext = \"\"\nname_padding = 256",
            ),
            "ef06.name_padding",
        ),
        (
            replaced(
                DEFAULT_GEN3,
                "[keys]\ntry_limit = 3",
                "[keys]\nlevel = \"leaf\"\ntry_limit = 3",
            ),
            "keys.level",
        ),
        (
            replaced(
                DEFAULT_GEN3,
                "id = 0x84\nroot = \"01840184018401840184018401840184\"",
                "id = 0x84\nroot = \"01840184018401840184018401840184\"\nlevel = \"x\"",
            ),
            "keys.df[2].level",
        ),
        (
            format!("{DEFAULT_GEN3}\n[[fci]]\ndf = \"DF05\"\nproprietary = \"\"\n"),
            "fci[0].df",
        ),
        (
            format!("{DEFAULT_GEN3}\n[[fci]]\ndf = \"DF01\"\nproprietary = \"8G\"\n"),
            "fci[0].proprietary",
        ),
        (
            format!("{DEFAULT_GEN3}\n[[fci]]\ndf = \"DF01\"\nproprietary = \"\"\nname = \"01\"\n"),
            "fci[0].name",
        ),
        (
            format!(
                "{DEFAULT_GEN3}\n[[fci]]\ndf = \"SSSE\"\nproprietary = \"{}\"\n",
                "00".repeat(121)
            ),
            "fci[0]",
        ),
        (
            format!(
                "{DEFAULT_GEN3}\n[[fci]]\ndf = \"DF01\"\nproprietary = \"\"\n[[fci]]\ndf = \"DF01\"\nproprietary = \"\"\n"
            ),
            "fci[1]",
        ),
        (
            format!("{DEFAULT_GEN3}\n[[layout]]\nfile = \"SSSE/EF99\"\nsize = 4\n"),
            "layout[0]",
        ),
        (
            format!("{DEFAULT_GEN3}\n[[layout]]\nfile = \"DF04/EF05\"\nsize = 4\n"),
            "layout[0]",
        ),
        (
            format!("{DEFAULT_GEN3}\n[[layout]]\nfile = \"SSSE/EF07\"\nrecords = 4\n"),
            "layout[0]",
        ),
        (
            format!("{DEFAULT_GEN3}\n[[layout]]\nfile = \"SSSE/EF06\"\n"),
            "layout[0]",
        ),
        (
            format!("{DEFAULT_GEN3}\n[[layout]]\nfile = \"SSSE/EF06\"\nrecords = 0\n"),
            "layout[0]",
        ),
        (
            format!("{DEFAULT_GEN3}\n[[layout]]\nfile = \"SSSE\"\nrecords = 3\n"),
            "layout[0].file",
        ),
    ];
    for (text, field) in cases {
        assert_eq!(field_of_error(&text), field, "expected an error on {field}");
    }
    // An element neither text nor { hex }: the field and the two forms.
    let e = Profile::parse(&replaced(
        DEFAULT_GEN3,
        "nation = \"01\"",
        "nation = { hexx = \"FF\" }",
    ))
    .unwrap_err();
    assert_eq!(e.field, "ef06.nation");
    assert!(e.message.contains("{ hex = "), "{e}");
    // A PKI FCI on a card without the PKI application.
    let gen2 = std::fs::read_to_string(format!(
        "{}/vectors/profiles/gen2-3des.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let text = format!("{gen2}\n[[fci]]\ndf = \"PKI\"\nproprietary = \"\"\n");
    let e = Profile::parse(&text).unwrap_err();
    assert_eq!(e.field, "fci[0]");
    assert!(e.message.contains("no PKI"), "{e}");
}
