//! The national terminal interface's card functions (`sscard_host::national`) in HSM
//! and PSAM modes against the default card, in-process: the card accepts the
//! terminal's cryptograms, the terminal accepts the card's, and MAC1, MAC2 and the TAC
//! of a purchase are recomputed from the profile's roots by the independent
//! implementation (`sscard_testkit::indep`). PSAM mode runs the PSAM `sscard-psam`
//! personalizes for the profile, in-process.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
// Amounts in fen written yuan_fen: 45_67 is 45.67 yuan.
#![allow(clippy::inconsistent_digit_grouping)]

mod common;

use common::indep::{self, Alg};
use common::{AREA, HIST, hex, to_hex};
use sscard_core::crypto::Algorithm;
use sscard_core::nvm::RamNvm;
use sscard_core::options::CosOptions;
use sscard_core::rng::{CardRng, SplitMixRng};
use sscard_core::{Card, Interface};
use sscard_host::link::{CardLink, InProcess};
use sscard_host::national::{self, DebitRequest, PinOutcome, application_df};
use sscard_host::profile::{DEFAULT_GEN3, Profile};
use sscard_host::security::{CardFactors, Hsm, Psam, Purchase, SecurityModule};
use sscard_host::terminal::{Terminal, TerminalError};
use sscard_vcard::image::{CardKind, ImageFile, Origin};
use sscard_vcard::trace::{TraceBuffer, TraceFormat, Tracer};
use sscard_vcard::virtual_card::{HostRng, PsamVirtualCard};

const DEMO: &str = "519900|11010519491231002X|A00000003|519900D15600000500000001A1B2C3D4|张三|00815353438660519900000001|3.00|20251201|20351201|000000000000|00000000000000000000000000000000|";

/// A terminal's raw exchanges, a 61xx answer replaced by what the GET RESPONSE after
/// it returned.
fn commands<T: CardLink>(t: &Terminal<T>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = vec![];
    for (c, r) in t.raw_log.as_deref().unwrap_or(&[]) {
        match out.last_mut() {
            Some(last) if c[..2] == [0x00, 0xC0] && last.1[0] == 0x61 => last.1 = r.clone(),
            _ => out.push((c.clone(), r.clone())),
        }
    }
    out
}

/// The last command starting with `head` (hex), and its whole answer.
fn last<T: CardLink>(t: &Terminal<T>, head: &str) -> (Vec<u8>, Vec<u8>) {
    let head = hex(head);
    commands(t)
        .into_iter()
        .rev()
        .find(|(c, _)| c.starts_with(&head))
        .unwrap_or_else(|| panic!("no {}", to_hex(&head)))
}

/// CLA INS P1 P2 of every command but GET RESPONSE, in hex.
fn headers<T: CardLink>(t: &Terminal<T>) -> Vec<String> {
    commands(t).iter().map(|(c, _)| to_hex(&c[..4])).collect()
}

type CardLinkOf = InProcess<RamNvm<Vec<u8>>, SplitMixRng, ()>;

/// The default card with `balance` fen in its purse, and its profile.
fn profile_with(balance: u32) -> Profile {
    Profile::parse(&common::funded_gen3(balance)).unwrap()
}

fn card(profile: &Profile) -> Terminal<CardLinkOf> {
    let card = common::card_from(profile, 42);
    let mut t = Terminal::new(InProcess::new(card, Interface::Contact).unwrap());
    t.raw_log = Some(vec![]);
    t
}

type PsamLink = InProcess<RamNvm<Vec<u8>>, SplitMixRng, (), sscard_psam::Psam>;

/// The PSAM the profile's `[psam]` (default) describes, in-process.
fn psam(profile: &Profile) -> Psam<PsamLink> {
    let image = profile.psam().unwrap();
    let card = Card::load(
        RamNvm::new(image.image.clone()),
        SplitMixRng::new(9),
        (),
        image.application(),
        CosOptions::default(),
    )
    .unwrap();
    let mut psam = Psam::new(InProcess::new(card, Interface::Contact).unwrap());
    psam.terminal.raw_log = Some(vec![]);
    psam
}

fn random() -> impl FnMut(&mut [u8]) {
    let mut rng = SplitMixRng::new(7);
    move |b: &mut [u8]| rng.fill(b)
}

fn card_key(root: u8) -> Vec<u8> {
    indep::card_key(Alg::Sm4, &[root; 16], AREA, &hex(HIST))
}

#[test]
fn read_card_bas_in_hsm_mode_is_the_demo_string() {
    let p = Profile::default_gen3();
    assert_eq!(sscard_host::demo::run(&p, 2025, false).unwrap(), DEMO);
    let mut t = card(&p);
    let mut hsm = Hsm::from_profile(&p).unwrap();
    let bas = national::read_card_bas(&mut t, &mut hsm, &mut random()).unwrap();
    assert_eq!(bas.to_string(), DEMO);
    // The card's internal authentication recomputed independently.
    let (cmd, ad) = last(&t, "0088");
    let sk = indep::session_key(Alg::Sm4, &card_key(0x11), &cmd[5..13]);
    assert_eq!(
        to_hex(&ad[..8]),
        to_hex(&indep::auth_data(Alg::Sm4, &sk, &cmd[13..21]))
    );
}

#[test]
fn read_card_bas_in_psam_mode_has_the_psam_s_terminal_id() {
    // The default PSAM's terminal id is twelve zeros: the demo's string exactly.
    let p = Profile::default_gen3();
    let bas = national::read_card_bas(&mut card(&p), &mut psam(&p), &mut random()).unwrap();
    assert_eq!(bas.to_string(), DEMO);
    // Another terminal id in the PSAM's 0016 is what iReadCardBas reports.
    let p = Profile::parse(&format!(
        "{DEFAULT_GEN3}\n[psam]\nterminal_id = \"000000000001\"\n"
    ))
    .unwrap();
    let mut t = card(&p);
    let mut psam = psam(&p);
    let bas = national::read_card_bas(&mut t, &mut psam, &mut random()).unwrap();
    assert_eq!(
        bas.to_string(),
        DEMO.replace("|000000000000|", "|000000000001|")
    );
    // SM4 environment DDF1, terminal id from 0016, DF01; the IRK searched at N = 1
    // (city roots: id 18, not held: 6A88), found at N = 2 (id 10); RKSSSE then at N = 2.
    assert_eq!(
        headers(&psam.terminal),
        [
            "00A40000", "00A40200", "00B00000", "00A40000", "BFDE2718", "BFDE4710", "80FA0000",
            "BFDE4715", "80FA0000"
        ]
    );
    let (bfde, sw) = commands(&psam.terminal)[4].clone();
    assert_eq!(
        (to_hex(&bfde[5..13]), to_hex(&sw)),
        (HIST[10..].to_string(), "6A88".into())
    );
}

#[test]
fn pin_functions_in_both_modes() {
    let p = Profile::default_gen3();
    let mut t = card(&p);
    assert_eq!(
        national::verify_pin(&mut t, "111111").unwrap(),
        PinOutcome::Refused { tries_left: 2 }
    );
    assert_eq!(PinOutcome::Refused { tries_left: 2 }.return_code(), -25538);
    assert_eq!(
        national::verify_pin(&mut t, "123456").unwrap(),
        PinOutcome::Accepted
    );
    assert_eq!(
        national::change_pin(&mut t, "123456", "2468").unwrap(),
        PinOutcome::Accepted
    );
    assert_eq!(
        national::verify_pin(&mut t, "2468").unwrap(),
        PinOutcome::Accepted
    );
    assert!(national::verify_pin(&mut t, "12a4").is_err());

    let mut modules: [Box<dyn SecurityModule>; 2] =
        [Box::new(Hsm::from_profile(&p).unwrap()), Box::new(psam(&p))];
    for (i, module) in modules.iter_mut().enumerate() {
        for _ in 0..3 {
            national::verify_pin(&mut t, "000000").unwrap();
        }
        assert_eq!(
            national::verify_pin(&mut t, "2468").unwrap(),
            PinOutcome::Blocked
        );
        let new = ["13579", "864200"][i];
        national::reload_pin(&mut t, &mut **module, new, &mut random()).unwrap();
        assert_eq!(
            national::verify_pin(&mut t, new).unwrap(),
            PinOutcome::Accepted,
            "{}",
            module.kind()
        );
        national::change_pin(&mut t, new, "2468").unwrap();
        // The enciphered PIN block and its MAC, recomputed from STK and the challenge.
        let (_, challenge) = last(&t, "0084");
        let (reload, _) = last(&t, "84240001");
        let sk = indep::session_key(Alg::Sm4, &card_key(0x22), &challenge[..8]);
        let pin = hex(&format!("{new:F<8}")[..new.len().div_ceil(2) * 2]);
        assert_eq!(
            to_hex(&reload[5..21]),
            to_hex(&indep::sm_encrypt(Alg::Sm4, &sk, &pin))
        );
        assert_eq!(
            to_hex(&reload[21..]),
            to_hex(&indep::mac(Alg::Sm4, &sk, &reload[..21]))
        );
    }
}

#[test]
fn external_authentication_of_every_df_in_both_modes() {
    let p = Profile::default_gen3();
    let mut t = card(&p);
    let mut hsm = Hsm::from_profile(&p).unwrap();
    let mut psam = psam(&p);
    for n in [1, 2, 3, 4, 7] {
        let df = application_df(n).unwrap();
        national::external_authenticate_df(&mut t, &mut hsm, df, 0x84, &mut random()).unwrap();
        national::external_authenticate_df(&mut t, &mut psam, df, 0x84, &mut random()).unwrap();
        // DF keys at N = 2: 40 + 4 × the DF's place + (84 − 82).
        let (bfde, _) = last(&psam.terminal, "BFDE");
        let place = [1, 2, 3, 4, 7].iter().position(|d| *d == n).unwrap() as u8;
        assert_eq!(bfde[3], 0x40 + 4 * place + 2);
    }
    assert_eq!(application_df(5), None);
    // A key the modules do not hold: the HSM says so; the PSAM answers 6A88 at every N.
    let df01 = application_df(1).unwrap();
    assert!(matches!(
        national::external_authenticate_df(&mut t, &mut hsm, df01, 0x87, &mut random()),
        Err(TerminalError::Check(_))
    ));
    assert!(
        national::external_authenticate_df(&mut t, &mut psam, df01, 0x85, &mut random()).is_err()
    );
}

/// A purchase of the default card with `module`; checks MAC1, MAC2 and the TAC against
/// the independent implementation, the balance and the log record.
fn purchase_checks<M: SecurityModule>(module: &mut M, terminal_id: &str, psam_mode: bool) {
    let p = profile_with(200_00);
    let mut t = card(&p);
    let mut request = DebitRequest::new(45_67, "20260320093000").unwrap();
    request.amounts = [45_67, 3_00, 12_00];
    request.pin = Some("123456".into());
    let debit = national::do_debit(&mut t, module, &request).unwrap();
    assert_eq!(
        (debit.balance_before, debit.balance_after),
        (200_00, 200_00 - 45_67)
    );
    assert_eq!(to_hex(&debit.terminal_id), terminal_id);
    assert_eq!(debit.tac_verified, (!psam_mode).then_some(true));

    let (_, init) = last(&t, "B0280101");
    let (debit_cmd, debit_answer) = last(&t, "B02C0100");
    let (ttsn, time) = (&debit_cmd[5..9], &debit_cmd[9..16]);
    assert_eq!(to_hex(time), "20260320093000");
    let amounts = hex(&format!("{:08X}{:08X}{:08X}", 45_67, 3_00, 12_00));
    let keys = [card_key(0x88), card_key(0x99)];
    let terminal = hex(terminal_id);
    let macs = indep::purchase_macs(Alg::Sm4, &keys, [&init, &debit_cmd], &amounts, &terminal);
    macs.assert_proofs(&debit_cmd[16..20], &debit_answer[4..8], &debit.tac);
    assert_eq!(
        debit.to_string(),
        format!(
            "20000|15433|0|{terminal_id}|{}|20260320093000|{}|{}|",
            to_hex(ttsn),
            to_hex(&debit.tac),
            u8::from(!psam_mode)
        )
    );

    let balance = t.expect_ok("GET BALANCE", &hex("B026000104")).unwrap();
    assert_eq!(to_hex(&balance), format!("{:08X}", 200_00 - 45_67));
    let records = national::read_debit_records(&mut t, Some("123456")).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].to_string(),
        format!("0|2|{terminal_id}|20260320093000|4567|300|1200|")
    );
    // A second purchase: the next TTSN.
    request.amounts = [1_00, 0, 0];
    let again = national::do_debit(&mut t, module, &request).unwrap();
    assert_eq!(
        u32::from_be_bytes(again.ttsn),
        u32::from_be_bytes(debit.ttsn) + 1
    );
    assert_eq!(again.sequence, 1);
}

#[test]
fn purchase_in_hsm_mode() {
    let mut hsm = Hsm::from_profile(&profile_with(0)).unwrap();
    purchase_checks(&mut hsm, "000000000000", false);
}

#[test]
fn purchase_in_psam_mode() {
    let p = profile_with(0);
    let mut psam = psam(&p);
    purchase_checks(&mut psam, "000000000000", true);
    // 80 70 searched the purchase key's level (N = 1: 6A88, N = 2), 80 72 checked MAC2;
    // the second purchase went straight to N = 2.
    let heads: Vec<String> = headers(&psam.terminal)
        .into_iter()
        .filter(|h| h.starts_with("807"))
        .collect();
    assert_eq!(
        heads,
        ["80700100", "80700100", "80720000", "80700100", "80720000"]
    );
    let exchanges = commands(&psam.terminal);
    let init = exchanges
        .iter()
        .find(|(c, _)| c[..2] == [0x80, 0x70])
        .unwrap();
    assert_eq!((init.0[4], to_hex(&init.1)), (0x24, "6A88".to_string()));
}

/// The default card's purchase factors and one purchase of 0.01 yuan at terminal
/// 000000000001, as a PSAM or HSM is asked to authorize it.
fn sample_purchase() -> (CardFactors, Purchase) {
    let factors = CardFactors::new(Algorithm::Sm4, b"519900", &hex(HIST), 0x51).unwrap();
    let purchase = Purchase {
        card_random: [1, 2, 3, 4],
        sequence: [0, 0],
        amounts: [1, 0, 0],
        kind: b'2',
        terminal_id: [0, 0, 0, 0, 0, 1],
        time: [0x20, 0x26, 0x03, 0x20, 0x09, 0x30, 0x00],
        key_version: 1,
        algorithm_id: 3,
    };
    (factors, purchase)
}

/// The TTSN the PSAM's file 0019 holds (SM4 environment DDF1, ADF DF01), and SW.
fn ttsn(psam: &mut PsamVirtualCard) -> Vec<u8> {
    psam.power_on().unwrap();
    for select in ["00A4000C02DDF1", "00A4000C02DF01"] {
        assert_eq!(psam.transmit(&hex(select)).unwrap(), [0x90, 0x00]);
    }
    psam.transmit(&hex("00B0990004")).unwrap()
}

#[test]
fn a_served_psam_keeps_its_ttsn_in_its_image_and_its_trace_names_its_commands() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("psam.img");
    let profile = Profile::default_gen3();
    let (file, body, origin) =
        ImageFile::open_or_create_as(CardKind::Psam, &path, &profile, false).unwrap();
    assert_eq!(origin, Origin::Created);
    assert_eq!(file.meta().kind, CardKind::Psam);
    let mut served =
        PsamVirtualCard::with_image(file, body, HostRng::seeded(4), Interface::Contact).unwrap();
    assert_eq!(served.atr().unwrap()[..2], [0x3B, 0x6C]);
    let sink = TraceBuffer::default();
    served.set_tracer(Tracer::new(Box::new(sink.clone()), TraceFormat::Text));
    served.power_on().unwrap();
    let mut module = Psam::new(served);
    let (factors, purchase) = sample_purchase();
    let authorisation = module.init_purchase(&factors, &purchase).unwrap();
    assert_eq!(authorisation.ttsn, [0, 0, 0, 0]);
    let trace = sink.text();
    assert!(trace.contains("INIT SAM FOR PURCHASE"), "{trace}");
    // MAC1 is masked, the TTSN before it is not.
    assert!(trace.contains("00000000******** 9000"), "{trace}");
    // The TTSN went up, and the image holds it.
    drop(module);
    let (file, body) = ImageFile::load(&path).unwrap();
    let mut again =
        PsamVirtualCard::with_image(file, body, HostRng::seeded(5), Interface::Contact).unwrap();
    assert_eq!(ttsn(&mut again), [0, 0, 0, 1, 0x90, 0x00]);
    // A fresh PSAM of the profile, in memory, starts from the profile's TTSN.
    let mut fresh =
        PsamVirtualCard::from_profile(&profile, HostRng::seeded(6), Interface::Contact).unwrap();
    assert_eq!(ttsn(&mut fresh), [0, 0, 0, 0, 0x90, 0x00]);
}

#[test]
fn a_wrong_mac2_is_refused_in_both_modes() {
    let p = Profile::default_gen3();
    let (factors, purchase) = sample_purchase();
    let mut modules: [Box<dyn SecurityModule>; 2] =
        [Box::new(Hsm::from_profile(&p).unwrap()), Box::new(psam(&p))];
    for module in &mut modules {
        module.init_purchase(&factors, &purchase).unwrap();
        assert!(matches!(
            module.credit_purchase(&[0; 4]),
            Err(TerminalError::Check(_))
        ));
    }
}
