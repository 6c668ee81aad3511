//! Tear tests of every try-counter and PIN update of the social-security application:
//! VERIFY (wrong and right), EXTERNAL AUTHENTICATE (wrong and right), CHANGE PIN, PIN
//! reload/unblock `84 24` under SM, the PKI VERIFY. The power is cut at every NVM write
//! in every tear mode; the harness checks old-or-new on the image, and these tests check
//! that a try counter never goes back up through a tear and that a PIN is the old one or
//! the new one.
#![allow(clippy::restriction)]

mod common;

use common::indep::{self, Alg};
use common::{SELECT_SSSE, external_auth_command, hex, profile, to_hex};
use sscard_core::nvm::{RamNvm, TearingNvm};
use sscard_core::rng::SplitMixRng;
use sscard_core::{Card, Interface};
use sscard_testkit::tear::{Step, TearCard, tear_every_write};

const AREA: &str = "519900";
const HIST: &str = "00815353438660519900000001";

fn key(root: u8) -> Vec<u8> {
    indep::card_key(Alg::Sm4, &[root; 16], AREA, &hex(HIST))
}

fn image() -> (Vec<u8>, sscard_core::CosOptions) {
    let p = profile("gen3-default.toml");
    (p.image().unwrap(), p.options())
}

fn make() -> TearCard<SplitMixRng> {
    let (img, options) = image();
    let mut c = Card::load(
        TearingNvm::new(RamNvm::new(img)),
        SplitMixRng::new(99),
        (),
        sscard_ssc::SocialSecurity::default(),
        options,
    )
    .unwrap();
    c.power_on(Interface::Contact).unwrap();
    c
}

use sscard_testkit::exchange::send;

/// Builds a scenario step by step on a dry-run card (same seed as `make`), so steps can
/// depend on earlier answers (challenges); returns the APDUs.
struct Builder {
    card: TearCard<SplitMixRng>,
    steps: Vec<Step>,
}

impl Builder {
    fn new() -> Self {
        Builder {
            card: make(),
            steps: vec![],
        }
    }
    fn send(&mut self, apdu: &[u8]) -> (Vec<u8>, u16) {
        self.steps.push(Step::Apdu(apdu.to_vec()));
        // GET RESPONSE steps happen inside `send`; replay them too.
        let mut out = vec![0u8; 4096];
        let n = self.card.process(apdu, &mut out);
        let mut data = out[..n - 2].to_vec();
        let mut sw = u16::from_be_bytes([out[n - 2], out[n - 1]]);
        while sw >> 8 == 0x61 {
            let get = vec![0x00, 0xC0, 0x00, 0x00, sw as u8];
            self.steps.push(Step::Apdu(get.clone()));
            let n = self.card.process(&get, &mut out);
            data.extend_from_slice(&out[..n - 2]);
            sw = u16::from_be_bytes([out[n - 2], out[n - 1]]);
        }
        (data, sw)
    }
    fn ok(&mut self, apdu: &str) -> Vec<u8> {
        let (d, sw) = self.send(&hex(apdu));
        assert_eq!(sw, 0x9000, "{apdu}");
        d
    }
    fn external_auth(&mut self, id: u8, k: &[u8], good: bool) -> u16 {
        let challenge = self.ok("0084000008");
        let spoil = (!good).then_some((7, 0x80));
        self.send(&external_auth_command(
            Alg::Sm4,
            id,
            k,
            &challenge,
            [9; 8],
            spoil,
        ))
        .1
    }
    fn sm(&mut self, header: [u8; 4], body: impl FnOnce(&[u8]) -> Vec<u8>) -> u16 {
        let challenge = self.ok("0084000008");
        let sk = indep::session_key(Alg::Sm4, &key(0x22), &challenge);
        let body = body(&sk);
        let lc = (body.len() + 4) as u8;
        let mac = indep::mac(Alg::Sm4, &sk, &[&header[..], &[lc], &body].concat());
        let mut cmd = header.to_vec();
        cmd.push(lc);
        cmd.extend(body);
        cmd.extend(mac);
        self.send(&cmd).1
    }
}

/// PIN tries left as the free VERIFY query reports them (after selecting the SSSE).
fn pin_tries(card: &mut TearCard<SplitMixRng>) -> u8 {
    send(card, &hex(SELECT_SSSE));
    match send(card, &hex("0020000000")).1 {
        sw if sw & 0xFFF0 == 0x63C0 => (sw & 0x0F) as u8,
        0x6983 => 0,
        sw => panic!("probe answered {sw:04X}"),
    }
}

/// RKSSSE tries left before one more (wrong) external authentication, from the answer
/// to it (63Cx counts the failure itself).
fn rk_tries_after_one_more_failure(card: &mut TearCard<SplitMixRng>) -> u8 {
    send(card, &hex(SELECT_SSSE));
    let (challenge, _) = send(card, &hex("0084000008"));
    let sk = indep::session_key(Alg::Sm4, &key(0xAA), &challenge);
    let p = [1u8; 8];
    let mut ad = indep::auth_data(Alg::Sm4, &sk, &p);
    ad[0] ^= 1;
    let mut cmd = hex("0082000A10");
    cmd.extend(ad);
    cmd.extend(p);
    match send(card, &cmd).1 {
        sw if sw & 0xFFF0 == 0x63C0 => (sw & 0x0F) as u8,
        0x6983 => 0,
        sw => panic!("external auth answered {sw:04X}"),
    }
}

#[test]
fn verify_wrong_and_right_never_gives_a_try_back() {
    let mut b = Builder::new();
    b.ok(SELECT_SSSE);
    let wrong1 = b.steps.len();
    assert_eq!(b.send(&hex("0020000003000000")).1, 0x63C2);
    let right = b.steps.len();
    assert_eq!(b.send(&hex("0020000003123456")).1, 0x9000);
    let wrong2 = b.steps.len();
    assert_eq!(b.send(&hex("0020000003111111")).1, 0x63C2);
    let points = tear_every_write(make, &b.steps, |card, point| {
        let tries = pin_tries(card);
        let ok = match point.step {
            // A failed attempt: the decrement is committed before the comparison, so a
            // tear leaves 3 (nothing happened) or 2, never more.
            s if s == wrong1 || s == wrong2 => tries == if point.landed { 2 } else { 3 },
            // The right PIN: decrement (2 → 1) then restore (→ 3); a tear between the two
            // costs the try, as on a real card.
            s if s == right => matches!(tries, 1..=3),
            _ => tries <= 3,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{point}: {tries} tries left").into())
        }
    })
    .unwrap();
    assert!(points >= 3 * 3, "{points} tear points");
}

#[test]
fn external_authentication_counter_is_monotonic_through_tears() {
    let mut b = Builder::new();
    b.ok(SELECT_SSSE);
    assert_eq!(b.external_auth(0x0A, &key(0xAA), false), 0x63C2);
    let before_right = b.steps.len();
    assert_eq!(b.external_auth(0x0A, &key(0xAA), true), 0x9000);
    tear_every_write(make, &b.steps, |card, point| {
        // One more failure tells how many tries were left: 3 → answers 2, 2 → answers 1.
        let left_before = rk_tries_after_one_more_failure(card) + 1;
        // Before the right attempt: 3 or 2 (the failure's decrement). During it: 2, then
        // 1 once its own decrement landed, then 3 once the success restored it.
        let allowed: &[u8] = if point.step < before_right {
            &[3, 2]
        } else {
            &[2, 1, 3]
        };
        if !allowed.contains(&left_before) {
            return Err(format!("{point}: {left_before} tries").into());
        }
        if point.step < before_right && point.landed && left_before != 2 {
            return Err(format!("{point}: decrement landed but {left_before} tries").into());
        }
        Ok(())
    })
    .unwrap();
}

#[test]
fn change_pin_is_old_or_new() {
    let mut b = Builder::new();
    b.ok(SELECT_SSSE);
    b.ok("805E010007123456FF654321");
    tear_every_write(make, &b.steps, |card, point| {
        send(card, &hex(SELECT_SSSE));
        let old = send(card, &hex("0020000003123456")).1;
        let new = send(card, &hex("0020000003654321")).1;
        match (old, new) {
            (0x9000, sw) if sw & 0xFFF0 == 0x63C0 => Ok(()),
            (sw, 0x9000) if sw & 0xFFF0 == 0x63C0 => Ok(()),
            other => Err(format!("{point}: old/new PIN answered {other:04X?}").into()),
        }
    })
    .unwrap();
}

#[test]
fn pin_reload_under_sm_is_old_or_new_and_unblocks_once() {
    let mut b = Builder::new();
    b.ok(SELECT_SSSE);
    for _ in 0..3 {
        b.send(&hex("0020000003000000"));
    }
    assert_eq!(b.external_auth(0x06, &key(0x66), true), 0x9000);
    assert_eq!(
        b.sm([0x84, 0x24, 0x00, 0x01], |sk| indep::sm_encrypt(
            Alg::Sm4,
            sk,
            &hex("778899")
        )),
        0x9000
    );
    let last = b.steps.len() - 1;
    tear_every_write(make, &b.steps, |card, point| {
        let tries = pin_tries(card);
        send(card, &hex(SELECT_SSSE));
        if point.step < last {
            if tries > 3 {
                return Err(format!("{point}: {tries}").into());
            }
            return Ok(());
        }
        // Torn reload: either still blocked with the old PIN, or the new PIN with a full
        // counter — never a new PIN with a blocked counter or vice versa.
        match (tries, point.landed) {
            (0, false) => Ok(()),
            (3, true) => match send(card, &hex("0020000003778899")).1 {
                0x9000 => Ok(()),
                sw => Err(format!("{point}: new PIN answered {sw:04X}").into()),
            },
            other => Err(format!("{point}: tries/landed {other:?}").into()),
        }
    })
    .unwrap();
}

#[test]
fn pki_verify_predecrements() {
    let mut b = Builder::new();
    b.card.power_on(Interface::Contact).unwrap();
    b.ok("00A404000C504B492EC9E7BBE1B1A3D5CF00");
    b.ok("00A404000C53532E434552542E4144463100");
    let challenge = b.ok("0084000010");
    let mut wrong = challenge.clone();
    indep::encrypt(Alg::Sm4, &indep::sm3_first16(&hex("000000")), &mut wrong);
    assert_eq!(
        b.send(&hex(&format!("0020018110{}", to_hex(&wrong)))).1,
        0x63C2
    );
    tear_every_write(make, &b.steps, |card, point| {
        send(card, &hex("00A404000C504B492EC9E7BBE1B1A3D5CF00"));
        send(card, &hex("00A404000C53532E434552542E4144463100"));
        let sw = send(card, &hex("0020018100")).1;
        match (sw, point.landed) {
            (0x63C2, true) | (0x63C3, false) => Ok(()),
            other => Err(format!("{point}: {other:04X?}").into()),
        }
    })
    .unwrap();
}
