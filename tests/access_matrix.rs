//! The access matrix: every file and key command of the default card × every operation ×
//! every security state, each row's expectation written from the spec table it cites (not
//! from the card's code), plus the firewall between the social-security and financial
//! environments in both directions. The test prints its size: rows tried, rows allowed,
//! rows matching the expectation (all of them, or it fails).
//!
//! Sources: spec/ssc.md §2.3 (V2.0 tables 3–8: files and access conditions), §9 item 4
//! (PKI), spec-extract P5 §6.14 / P7 §5.6–5.8 (a PIN is remembered until power-off),
//! P7 §6.4–6.6 (an external authentication until power-off or another application is
//! selected), P4 §5.5 / §6.1 (the firewall), P4 §7.4 (keys cannot be read from outside),
//! P5 §7.3–7.6 (the purse commands need the PIN), EMV 4.3 Book 3 §6.5 and PBOC 3.0 part 5
//! (the financial application's commands).
#![allow(clippy::restriction)]

mod common;

use common::indep::{self, Alg};
use common::{VERIFY_RIGHT, card_key, external_auth_command, hex, to_hex};
use sscard_core::Interface;
use sscard_core::nvm::RamNvm;
use sscard_core::rng::SplitMixRng;
use sscard_pboc::PbocApplet;
use sscard_ssc::SscCard;
use sscard_testkit::sample::pboc_sample_card;

type DefaultCard = SscCard<RamNvm<Vec<u8>>, SplitMixRng, (PbocApplet,)>;

const SELECT_SSSE: &str = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF";
const SELECT_PKI_DDF: &str = "00A404000C504B492EC9E7BBE1B1A3D5CF";
const SELECT_PKI_ADF: &str = "00A404000C53532E434552542E41444631";
const SELECT_PBOC: &str = "00A4040008A000000333010101";

/// A fresh default card (social security + PKI + PBOC), powered through the contactless
/// interface so that every answer comes at once (no 61xx).
fn card() -> DefaultCard {
    let mut c = pboc_sample_card();
    c.power_on(Interface::Contactless).unwrap();
    c
}

fn send(c: &mut DefaultCard, apdu: &[u8]) -> (Vec<u8>, u16) {
    let mut out = vec![0u8; 70_000];
    let n = c.process(apdu, &mut out);
    assert!(n >= 2, "{}: mute", to_hex(apdu));
    let sw = u16::from_be_bytes([out[n - 2], out[n - 1]]);
    (out[..n - 2].to_vec(), sw)
}

fn sw(c: &mut DefaultCard, apdu: &str) -> u16 {
    send(c, &hex(apdu)).1
}

/// A read with Le = 00, resent with the exact length if the card answers `6Cxx`.
fn read(c: &mut DefaultCard, apdu: &str) -> (Vec<u8>, u16) {
    let (data, s) = send(c, &hex(apdu));
    if s >> 8 == 0x6C {
        let mut again = hex(apdu);
        *again.last_mut().unwrap() = s as u8;
        return send(c, &again);
    }
    (data, s)
}

/// The default profile's DF key roots: DF number ‖ key id, repeated.
fn df_key(df: u8, id: u8) -> Vec<u8> {
    card_key(&hex(&format!("{df:02X}{id:02X}").repeat(8)))
}

/// GET CHALLENGE then EXTERNAL AUTHENTICATE (P7 §6.4): the SW.
fn external_auth(c: &mut DefaultCard, key_id: u8, key: &[u8], good: bool) -> u16 {
    let (challenge, s) = send(c, &hex("0084000008"));
    assert_eq!(s, 0x9000);
    let spoil = (!good).then_some((0, 1));
    send(
        c,
        &external_auth_command(Alg::Sm4, key_id, key, &challenge, [0x5A; 8], spoil),
    )
    .1
}

/// The PKI VERIFY: SM4(SM3(PIN)[0..16], challenge) (spec/ssc.md §9 item 4).
fn pki_verify(c: &mut DefaultCard, p2: &str, pin: &str) -> u16 {
    let (challenge, s) = send(c, &hex("0084000010"));
    assert_eq!(s, 0x9000);
    let mut block = challenge.clone();
    indep::encrypt(Alg::Sm4, &indep::sm3_first16(&hex(pin)), &mut block);
    sw(c, &format!("002001{p2}10{}", to_hex(&block)))
}

fn power_cycle(c: &mut DefaultCard) {
    c.power_off();
    c.power_on(Interface::Contactless).unwrap();
}

/// What a row expects and what it saw.
#[derive(Default)]
struct Tally {
    tried: usize,
    allowed: usize,
    as_expected: usize,
    failures: Vec<String>,
}

impl Tally {
    /// `denied`: the card refused for security (`6982`, or `6985` where the row says a
    /// target is not allowed at all). Any other status is the operation being allowed
    /// (the data may still be wrong: `6A80`, `6700`, `6A83`…), except those that say the
    /// target was not even found, which make the row fail.
    fn row(&mut self, what: String, expected_allowed: bool, sw: u16, refusals: &[u16]) {
        self.tried += 1;
        let not_reached = matches!(sw, 0x6A82 | 0x6A86 | 0x6D00 | 0x6E00 | 0x6F00 | 0x6986);
        let denied = refusals.contains(&sw);
        if !denied && !not_reached {
            self.allowed += 1;
        }
        if not_reached || denied == expected_allowed {
            self.failures.push(format!(
                "{what}: expected {}, got {sw:04X}",
                if expected_allowed {
                    "allowed"
                } else {
                    "denied"
                }
            ));
        } else {
            self.as_expected += 1;
        }
    }

    /// Sends `apdu` and records its status word as a row (see [`Tally::row`]).
    fn send(
        &mut self,
        c: &mut DefaultCard,
        apdu: &str,
        what: String,
        expected_allowed: bool,
        refusals: &[u16],
    ) {
        let got = sw(c, apdu);
        self.row(what, expected_allowed, got, refusals);
    }

    fn report(&self, name: &str) {
        println!(
            "access matrix {name}: {} rows tried, {} allowed, {} as expected",
            self.tried, self.allowed, self.as_expected
        );
        assert!(
            self.failures.is_empty(),
            "{name}: {} of {} rows differ:\n{}",
            self.failures.len(),
            self.tried,
            self.failures.join("\n")
        );
    }
}

// ---------------------------------------------------------------------------------------
// The social-security files (spec/ssc.md §2.3)

#[derive(Clone, Copy, Debug, PartialEq)]
enum Cond {
    Free,
    Never,
    Pin,
    /// The read key: RKSSSE (0A) in the SSSE, RK1DFxx (84) in a DF.
    Rk,
    /// The update key: UKSSSE (04), UKDFxx (83).
    Uk,
    PinOrRk,
    PinOrRk2,
    PinAndRk,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Records,
    Cyclic,
    Transparent,
}

/// (DF number, 0 for the SSSE; SFI; structure; read; write): spec/ssc.md §2.3 rows.
const SSC_FILES: &[(u8, u8, Kind, Cond, Cond)] = {
    use Cond::*;
    use Kind::*;
    &[
        // SSSE (§2.3 rows 1–4; gen 3: EF06 read with RKSSSE).
        (0, 0x05, Records, Free, Uk),
        (0, 0x06, Records, Rk, Uk),
        (0, 0x07, Transparent, Rk, Uk),
        (0, 0x08, Transparent, Rk, Uk),
        // DF01 (§2.3 "PIN or RK1DF01"; EF16–EF1A 预留, free read).
        (1, 0x05, Records, PinOrRk, Uk),
        (1, 0x06, Records, PinOrRk, Uk),
        (1, 0x07, Records, PinOrRk, Uk),
        (1, 0x08, Records, PinOrRk, Uk),
        (1, 0x09, Records, PinOrRk, Uk),
        (1, 0x0A, Records, PinOrRk, Uk),
        (1, 0x15, Records, PinOrRk, Uk),
        (1, 0x16, Transparent, Free, Uk),
        (1, 0x17, Transparent, Free, Uk),
        (1, 0x18, Transparent, Free, Uk),
        (1, 0x19, Transparent, Free, Uk),
        (1, 0x1A, Transparent, Free, Uk),
        // DF02 ("PIN or RK1DF02"; EF07 and EF16 cyclic).
        (2, 0x05, Records, PinOrRk, Uk),
        (2, 0x06, Records, PinOrRk, Uk),
        (2, 0x07, Cyclic, PinOrRk, Uk),
        (2, 0x09, Records, PinOrRk, Uk),
        (2, 0x15, Records, PinOrRk, Uk),
        (2, 0x16, Cyclic, PinOrRk, Uk),
        // DF03 (EF05 "PIN or RK2DF03", the others "PIN or RK1DF03").
        (3, 0x05, Records, PinOrRk2, Uk),
        (3, 0x06, Records, PinOrRk, Uk),
        (3, 0x07, Records, PinOrRk, Uk),
        (3, 0x15, Records, PinOrRk, Uk),
        (3, 0x16, Records, PinOrRk, Uk),
        (3, 0x17, Records, PinOrRk, Uk),
        (3, 0x18, Records, PinOrRk, Uk),
        (3, 0x19, Records, PinOrRk, Uk),
        // DF04 (EF05 "PIN or RK1DF04", EF06 "PIN & RK1DF04", EF08 PIN and never
        // written by APDU, EF15 cyclic: its read condition is not in the table; sscard
        // reads it with the PIN like EF08, docs/spec-choices.md).
        (4, 0x05, Records, PinOrRk, Uk),
        (4, 0x06, Records, PinAndRk, Uk),
        (4, 0x08, Cyclic, Pin, Never),
        (4, 0x15, Cyclic, Pin, Uk),
        // DF07 (read RK1..RK3 DF07: sscard's one read key per DF, key ids in layout.rs).
        (7, 0x05, Records, Rk, Uk),
        (7, 0x06, Records, Rk, Uk),
        (7, 0x07, Records, Rk, Uk),
    ]
};

/// SELECT of a DF by its AID (`D156000005` ‖ DF index, spec/ssc.md §2.1).
fn select_df(c: &mut DefaultCard, df: u8) {
    // Contact: `61xx` (the FCI waits for GET RESPONSE); contactless: `9000`.
    let selected = |s: u16| s == 0x9000 || s >> 8 == 0x61;
    assert!(selected(sw(c, SELECT_SSSE)));
    if df != 0 {
        let index = match df {
            1 => 0,
            2 => 1,
            3 => 2,
            4 => 3,
            _ => 4,
        };
        assert!(selected(sw(c, &format!("00A4040006D156000005{index:02X}"))));
    }
}

/// The security states of a row: what was granted, and what happened after.
#[derive(Clone, Copy, Debug)]
enum State {
    /// Any combination of PIN (b0), read keys (b1), update key (b2).
    Granted(u8),
    /// External authentications with wrong cryptograms only.
    FailedAuth,
    /// Everything granted, then a warm reset.
    Reset,
    /// Everything granted, then a power cycle.
    PowerCycle,
    /// Everything granted, then another DF selected and this one again.
    Reselected,
}

/// The states that follow granting everything (or a failed authentication).
const AFTER_GRANTS: [State; 4] = [
    State::FailedAuth,
    State::Reset,
    State::PowerCycle,
    State::Reselected,
];

/// Every state: each combination of grants, then [`AFTER_GRANTS`].
fn states() -> impl Iterator<Item = State> {
    (0..8).map(State::Granted).chain(AFTER_GRANTS)
}

fn grant(c: &mut DefaultCard, df: u8, bits: u8, good: bool) {
    if bits & 1 != 0 {
        assert_eq!(sw(c, VERIFY_RIGHT), 0x9000);
    }
    let expect = if good { 0x9000 } else { 0x63C2 };
    for (bit, id, key) in grant_keys(df) {
        if bits & bit != 0 {
            assert_eq!(external_auth(c, id, &key, good), expect);
        }
    }
}

/// The keys whose external authentication grants bit 2 (read: RK, and DF03's RK2) and
/// bit 4 (update: UK) in `df` (0: the SSSE), in the order they are used: (bit, id, key).
fn grant_keys(df: u8) -> Vec<(u8, u8, Vec<u8>)> {
    if df == 0 {
        return vec![
            (2, 0x0A, card_key(&[0xAA; 16])),
            (4, 0x04, card_key(&[0x44; 16])),
        ];
    }
    let mut keys = vec![(2, 0x84, df_key(df, 0x84))];
    if df == 3 {
        keys.push((2, 0x85, df_key(3, 0x85)));
    }
    keys.push((4, 0x83, df_key(df, 0x83)));
    keys
}

/// Puts a fresh card in `state` with `df` selected; returns (PIN, read keys, update key)
/// as the spec says they hold afterwards.
fn enter(c: &mut DefaultCard, df: u8, state: State) -> (bool, bool, bool) {
    select_df(c, df);
    match state {
        State::Granted(bits) => {
            grant(c, df, bits, true);
            (bits & 1 != 0, bits & 2 != 0, bits & 4 != 0)
        }
        State::FailedAuth => {
            grant(c, df, 6, false);
            (false, false, false)
        }
        // P5 §6.14: the PIN until power-off; P7 §6.4: keys until power-off.
        State::Reset => {
            grant(c, df, 7, true);
            c.reset().unwrap();
            select_df(c, df);
            (false, false, false)
        }
        State::PowerCycle => {
            grant(c, df, 7, true);
            power_cycle(c);
            select_df(c, df);
            (false, false, false)
        }
        // P7 §6.4: an external authentication lasts until another application is
        // selected; the PIN (owned by the SSSE) until power-off.
        State::Reselected => {
            grant(c, df, 7, true);
            select_df(c, if df == 2 { 1 } else { 2 });
            select_df(c, df);
            (true, false, false)
        }
    }
}

fn allows(cond: Cond, pin: bool, rk: bool, uk: bool) -> bool {
    match cond {
        Cond::Free => true,
        Cond::Never => false,
        Cond::Pin => pin,
        Cond::Rk => rk,
        Cond::Uk => uk,
        Cond::PinOrRk | Cond::PinOrRk2 => pin || rk,
        Cond::PinAndRk => pin && rk,
    }
}

#[test]
fn social_security_files_by_state() {
    let mut t = Tally::default();
    for &(df, sfi, kind, read, write) in SSC_FILES {
        for state in states() {
            for write_op in [false, true] {
                let mut c = card();
                let (pin, rk, uk) = enter(&mut c, df, state);
                let (cond, apdu) = match (write_op, kind) {
                    (false, Kind::Transparent) => (read, format!("00B0{:02X}0001", 0x80 | sfi)),
                    (false, _) => (read, format!("00B201{:02X}00", sfi << 3 | 4)),
                    (true, Kind::Transparent) => (write, format!("00D6{:02X}000130", 0x80 | sfi)),
                    (true, Kind::Records) => (write, format!("00DC01{:02X}03200130", sfi << 3 | 4)),
                    (true, Kind::Cyclic) => (write, format!("00E200{:02X}0130", sfi << 3)),
                };
                t.send(
                    &mut c,
                    &apdu,
                    format!(
                        "DF{df:02} SFI {sfi:02X} {} in {state:?}",
                        if write_op { "write" } else { "read" }
                    ),
                    allows(cond, pin, rk, uk),
                    &[0x6982],
                );
            }
        }
    }
    t.report("social-security files");
}

// ---------------------------------------------------------------------------------------
// The PKI application (spec/ssc.md §9 item 4; P4 §7.4)

/// PKI states: user PIN (b0), administrator PIN (b1); then reset or power cycle.
#[derive(Clone, Copy, Debug)]
enum PkiState {
    Pins(u8),
    ResetAfterBoth,
    PowerCycleAfterBoth,
}

/// A fresh card with the PKI application selected in `state`, and whether the user and the
/// administrator PINs are verified in it.
fn pki_card(state: PkiState) -> (DefaultCard, bool, bool) {
    let mut card = card();
    let c = &mut card;
    let select = |c: &mut DefaultCard| {
        assert_eq!(sw(c, SELECT_PKI_DDF), 0x9000);
        assert_eq!(sw(c, SELECT_PKI_ADF), 0x9000);
    };
    select(c);
    let both = |c: &mut DefaultCard| {
        assert_eq!(pki_verify(c, "81", "123456"), 0x9000);
        assert_eq!(pki_verify(c, "00", "12345678"), 0x9000);
    };
    let (user, admin) = match state {
        PkiState::Pins(bits) => {
            if bits & 1 != 0 {
                assert_eq!(pki_verify(c, "81", "123456"), 0x9000);
            }
            if bits & 2 != 0 {
                assert_eq!(pki_verify(c, "00", "12345678"), 0x9000);
            }
            (bits & 1 != 0, bits & 2 != 0)
        }
        PkiState::ResetAfterBoth => {
            both(c);
            c.reset().unwrap();
            select(c);
            (false, false)
        }
        PkiState::PowerCycleAfterBoth => {
            both(c);
            power_cycle(c);
            select(c);
            (false, false)
        }
    };
    (card, user, admin)
}

const PKI_STATES: [PkiState; 6] = [
    PkiState::Pins(0),
    PkiState::Pins(1),
    PkiState::Pins(2),
    PkiState::Pins(3),
    PkiState::ResetAfterBoth,
    PkiState::PowerCycleAfterBoth,
];

/// (FID, read, write through file commands): public keys free to read, written only by
/// the key commands; private keys never (P4 §7.4: keys cannot be read from outside, and
/// they are key objects, not files); certificates free to read, written under the
/// administrator PIN.
const PKI_FILES: &[(&str, bool, Option<bool>)] = &[
    ("0012", true, None),
    ("0013", false, None),
    ("0014", true, None),
    ("0015", false, None),
    ("0018", true, Some(true)),
    ("0019", true, Some(true)),
];

#[test]
fn pki_files_and_key_commands_by_state() {
    let mut t = Tally::default();
    let xy = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";
    let d = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";
    for state in PKI_STATES {
        for &(fid, read, write) in PKI_FILES {
            for write_op in [false, true] {
                let (mut c, _, admin) = pki_card(state);
                let selected = sw(&mut c, &format!("00A4020002{fid}"));
                let got = if selected == 0x9000 {
                    sw(
                        &mut c,
                        if write_op {
                            "00D6000002CB20"
                        } else {
                            "00B0000022"
                        },
                    )
                } else {
                    selected
                };
                let expected = if write_op {
                    write.is_some_and(|admin_only| admin_only && admin)
                } else {
                    read
                };
                t.row(
                    format!(
                        "PKI EF {fid} {} in {state:?}",
                        if write_op {
                            "UPDATE BINARY"
                        } else {
                            "READ BINARY"
                        }
                    ),
                    expected,
                    got,
                    &[0x6982],
                );
            }
        }
        // The key commands into every EF. GENERATE KEY PAIR into (0012, fid): only the
        // signature slot, under the user or administrator PIN. IMPORT KEY (public, then
        // private): only the encryption slot, under the administrator PIN.
        for &(fid, _, _) in PKI_FILES {
            let (mut c, user, admin) = pki_card(state);
            t.send(
                &mut c,
                &format!("8040000008C0020012C202{fid}"),
                format!("GENERATE KEY PAIR 0012/{fid} in {state:?}"),
                fid == "0013" && (user || admin),
                &[0x6982, 0x6985],
            );
            let (mut c, _, admin) = pki_card(state);
            t.send(
                &mut c,
                &format!("80C2400046C002{fid}CA40{xy}"),
                format!("IMPORT public key into {fid} in {state:?}"),
                fid == "0014" && admin,
                &[0x6982, 0x6985],
            );
            if admin {
                // The private half after its public half in the right slot.
                sw(&mut c, &format!("80C2400046C0020014CA40{xy}"));
            }
            t.send(
                &mut c,
                &format!("80C2C00126C202{fid}CB20{d}"),
                format!("IMPORT private key into {fid} in {state:?}"),
                fid == "0015" && admin,
                &[0x6982, 0x6985],
            );
        }
    }
    t.report("PKI");
}

// ---------------------------------------------------------------------------------------
// The medical purse commands (P5 §7.3–7.6: they need the PIN)

#[test]
fn purse_commands_by_state() {
    let mut t = Tally::default();
    let commands = [
        ("GET BALANCE CIA", "B026000104"),
        ("GET BALANCE SPIP", "B026000206"),
        ("GET BALANCE SPFP", "B026000306"),
        ("INITIALIZE FOR LOAD", "B02800010B0100000064112233445566"),
        (
            "INITIALIZE FOR PURCHASE",
            "B02801011301000000000000000000000000112233445566",
        ),
    ];
    let granted = [0, 1, 6].map(State::Granted);
    for state in granted.into_iter().chain(AFTER_GRANTS) {
        for (name, apdu) in commands {
            let mut c = card();
            let (pin, _, _) = enter(&mut c, 4, state);
            t.send(&mut c, apdu, format!("{name} in {state:?}"), pin, &[0x6982]);
        }
    }
    t.report("purse");
}

// ---------------------------------------------------------------------------------------
// The firewall (P4 §5.5, §6.1) and the financial application's data

/// The first record of the SSSE EF05 (free to read) and of PBOC SFI 1 (track 2).
fn reference_data() -> (Vec<u8>, Vec<u8>) {
    let mut c = card();
    assert_eq!(sw(&mut c, SELECT_SSSE), 0x9000);
    let (ssse, s) = read(&mut c, "00B2012C00");
    assert_eq!(s, 0x9000);
    assert_eq!(sw(&mut c, SELECT_PBOC), 0x9000);
    let (pboc, s) = read(&mut c, "00B2010C00");
    assert_eq!(s, 0x9000);
    (ssse, pboc)
}

#[test]
fn the_firewall_both_ways_and_the_financial_data() {
    let mut t = Tally::default();
    let (ssse_record, pboc_record) = reference_data();
    // Financial → social security: with the PBOC application selected, no SSSE file or
    // security state is reachable, whatever was granted before.
    for state in [State::Granted(0), State::Granted(7)] {
        for (name, apdu, data) in [
            ("SSSE EF05 by SFI", "00B2012C00", Some(&ssse_record)),
            ("SSSE EF07 by SFI", "00B0870001", None),
            ("SSSE EF05 update", "00DC012C03200130", None),
            ("DF04 purse balance", "B026000104", None),
        ] {
            let mut c = card();
            enter(&mut c, 0, state);
            assert_eq!(sw(&mut c, SELECT_PBOC), 0x9000);
            let (got, s) = read(&mut c, apdu);
            let leaked = s == 0x9000 && data.is_none_or(|d| &got == d);
            t.tried += 1;
            if leaked {
                t.allowed += 1;
                t.failures.push(format!(
                    "{name} from PBOC in {state:?}: {s:04X} {}",
                    to_hex(&got)
                ));
            } else {
                t.as_expected += 1;
            }
        }
    }
    // Social security → financial: with the SSSE selected, no PBOC data answers.
    for (name, apdu) in [
        ("PBOC SFI 1 record 1", "00B2010C00"),
        ("GET DATA ATC", "80CA9F3600"),
        ("GET PROCESSING OPTIONS", "80A8000002830000"),
    ] {
        let mut c = card();
        assert_eq!(sw(&mut c, SELECT_PBOC), 0x9000);
        assert_eq!(sw(&mut c, SELECT_SSSE), 0x9000);
        let (got, s) = read(&mut c, apdu);
        t.tried += 1;
        if s == 0x9000 && (got == pboc_record || apdu.starts_with("80")) {
            t.allowed += 1;
            t.failures
                .push(format!("{name} from the SSSE: {s:04X} {}", to_hex(&got)));
        } else {
            t.as_expected += 1;
        }
    }
    // Security does not cross: the PBOC PIN verified, then the SSSE: DF04 EF08 (PIN to
    // read) stays closed. The SSSE PIN and keys granted, then PBOC, then the SSSE again:
    // all gone, PIN included: leaving an application clears its security state
    // (DESIGN.md invariant 2; P4 §5.5, the environments do not affect each other; P7
    // §6.4 for the keys).
    {
        let mut c = card();
        c.power_off();
        c.power_on(Interface::Contact).unwrap();
        assert_eq!(sw(&mut c, SELECT_PBOC) >> 8, 0x61);
        // GPO (the contact PDOL: 9F7A, 9F02, 5F2A, DF69) opens the transaction VERIFY needs.
        assert_eq!(sw(&mut c, "80A800000C830A00000000000000015600") >> 8, 0x61);
        assert_eq!(sw(&mut c, "002000800826123456FFFFFFFF"), 0x9000);
        select_df(&mut c, 4);
        t.send(
            &mut c,
            "00B2014400",
            "DF04 EF08 after the PBOC PIN only".into(),
            false,
            &[0x6982],
        );
        let mut c = card();
        select_df(&mut c, 1);
        grant(&mut c, 1, 7, true);
        assert_eq!(sw(&mut c, SELECT_PBOC), 0x9000);
        select_df(&mut c, 1);
        t.send(
            &mut c,
            "00DC012C03200130",
            "DF01 EF05 update after a visit to PBOC".into(),
            false,
            &[0x6982],
        );
        t.send(
            &mut c,
            "00B2012C00",
            "DF01 EF05 read (PIN) after a visit to PBOC".into(),
            false,
            &[0x6982],
        );
    }
    // The financial application's data (EMV 4.3 Book 3 §6.5.7, §6.5.11; PBOC 3.0 part
    // 5): records and public data objects read without any state; data objects written
    // only by an issuer script with its MAC.
    for (name, apdu, expected) in [
        ("READ RECORD SFI 1 rec 1", "00B2010C00", true),
        ("READ RECORD SFI 2 rec 1", "00B2011400", true),
        ("READ RECORD SFI 3 rec 1", "00B2011C00", true),
        ("GET DATA ATC 9F36", "80CA9F3600", true),
        ("GET DATA last online ATC 9F13", "80CA9F1300", true),
        ("GET DATA PIN try counter 9F17", "80CA9F1700", true),
        ("GET DATA log format 9F4F", "80CA9F4F00", true),
        ("GET DATA EC balance 9F79", "80CA9F7900", true),
        (
            "PUT DATA EC balance limit without MAC",
            "04DA9F770600000010000000",
            false,
        ),
        (
            "PUT DATA EC balance limit, wrong MAC",
            "04DA9F770A0000001000001122334455",
            false,
        ),
    ] {
        for power_cycled in [false, true] {
            let mut c = card();
            if power_cycled {
                power_cycle(&mut c);
            }
            assert_eq!(sw(&mut c, SELECT_PBOC), 0x9000);
            t.send(
                &mut c,
                apdu,
                format!(
                    "PBOC {name}{}",
                    if power_cycled {
                        " after a power cycle"
                    } else {
                        ""
                    }
                ),
                expected,
                &[0x6982, 0x6985, 0x6988, 0x6987, 0x6A88],
            );
        }
    }
    t.report("firewall and PBOC data");
}
