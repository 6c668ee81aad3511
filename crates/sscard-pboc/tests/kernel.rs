//! A kernel-side test driver: contact and contactless PBOC transactions against the core
//! `Card` with `(PbocApplet,)`, checking every cryptogram, ARPC and script MAC with the
//! test's own 3DES code (`common`), and the fDDA signature with the `sm2` crate.
#![allow(clippy::restriction)]

mod common;

use common::*;
use sscard_core::Interface;

/// Terminal data of the test transactions.
const AMOUNT: &str = "000000001000"; // 10.00
const CNY: &str = "0156";
const UN: &str = "11223344";
const DATE: &str = "261129";
const TVR: &str = "0000000000";
/// GET PROCESSING OPTIONS with the PDOL data (`83 0A …`) these contact tests send.
const GPO_CONTACT: &str = "80A800000C830A0000000000100001560100";

struct Contact {
    card: TestCard,
    cdol1: Vec<u8>,
    cdol2: Vec<u8>,
    aip: Vec<u8>,
    afl: Vec<u8>,
}

/// PSE → directory record → SELECT the AID → GPO from the PDOL → READ RECORD every AFL
/// record. Returns the card ready for cardholder verification.
/// A contact card with the debit/credit application selected.
fn application_selected() -> TestCard {
    let mut card = card(Interface::Contact);
    ok(&mut card, "00A4040008A00000033301010100");
    card
}

fn contact_start(card: TestCard) -> Contact {
    let mut card = card;
    let fci = ok(&mut card, "00A404000E315041592E5359532E444446303100");
    assert_eq!(find(&fci, 0x84).unwrap(), b"1PAY.SYS.DDF01");
    let sfi = find(&fci, 0x88).unwrap()[0];
    let p2 = format!("{:02X}", (sfi << 3) | 4);
    let rec = ok(&mut card, &format!("00B201{p2}00"));
    let aid = find(&rec, 0x4F).unwrap();
    assert_eq!(to_hex(&aid), "A000000333010101");
    assert_eq!(find(&rec, 0x50).unwrap(), b"PBOC DEBIT");
    assert_eq!(sw(&mut card, &format!("00B202{p2}00")), 0x6A83);

    // A blocked application answers its FCI with 6283 (§2.16) and can still initiate.
    let (fci, status) = tx(&mut card, &to_hex(&apdu("00A40400", &aid)));
    assert!(matches!(status, 0x9000 | 0x6283), "{status:04X}");
    assert_eq!(find(&fci, 0x84).unwrap(), aid);
    let pdol = find(&fci, 0x9F38).unwrap();
    assert_eq!(to_hex(&pdol), "9F7A019F02065F2A02DF6901");
    let log_entry = find(&fci, 0x9F4D).unwrap();
    assert_eq!(log_entry, [0x0B, 0x0A]);

    // DF69 = 01: an SM-capable terminal (the RSA path has its own tests, rsa_oda.rs).
    let pdol_data = fill_dol(
        &pdol,
        &[
            (0x9F7A, "00"),
            (0x9F02, AMOUNT),
            (0x5F2A, CNY),
            (0xDF69, "01"),
        ],
    );
    let mut gpo = vec![0x83, pdol_data.len() as u8];
    gpo.extend(&pdol_data);
    let r = ok(&mut card, &to_hex(&apdu("80A80000", &gpo)));
    let (tag, v, _) = tlv_read(&r).unwrap();
    assert_eq!(tag, 0x80, "format 1 on contact");
    let (aip, afl) = (v[..2].to_vec(), v[2..].to_vec());
    assert_eq!(aip, [0x7C, 0x00]);

    let mut records = Vec::new();
    for e in afl.chunks(4) {
        for n in e[1]..=e[2] {
            let r = ok(&mut card, &format!("00B2{n:02X}{:02X}00", e[0] | 4));
            assert_eq!(r[0], 0x70);
            records.extend(r);
        }
    }
    let cdol1 = find(&records, 0x8C).unwrap();
    let cdol2 = find(&records, 0x8D).unwrap();
    assert_eq!(find(&records, 0x5A).unwrap(), hex(PAN));
    Contact {
        card,
        cdol1,
        cdol2,
        aip,
        afl,
    }
}

/// The transaction's data both CDOLs ask for: amount, country, TVR, currency, date, type.
const TRANSACTION: [(u32, &str); 6] = [
    (0x9F02, AMOUNT),
    (0x9F1A, CNY),
    (0x95, TVR),
    (0x5F2A, CNY),
    (0x9A, DATE),
    (0x9C, "00"),
];

fn cdol1_data(c: &Contact) -> Vec<u8> {
    fill_dol(
        &c.cdol1,
        &[
            &TRANSACTION[..],
            &[(0x9F37, UN), (0x9F21, "120000"), (0x9F34, "410302")],
        ]
        .concat(),
    )
}

fn cdol2_data(c: &Contact, arc: &str) -> Vec<u8> {
    fill_dol(
        &c.cdol2,
        &[
            &[(0x8A, arc)][..],
            &TRANSACTION,
            &[(0x9F37, "55667788"), (0x9F21, "120001")],
        ]
        .concat(),
    )
}

/// GAC1 asking ARQC; checks the cryptogram with the kernel's own computation.
/// A contact transaction up to its first GENERATE AC asking for an ARQC.
fn start_with_arqc(card: TestCard) -> (Contact, AcResponse) {
    let mut c = contact_start(card);
    let r = first_ac(&mut c, "80");
    (c, r)
}

fn first_ac(c: &mut Contact, p1: &str) -> AcResponse {
    let data = cdol1_data(c);
    let r = ok(&mut c.card, &to_hex(&apdu(&format!("80AE{p1}00"), &data)));
    let r = AcResponse::parse(&r);
    let expected = expected_ac(&c.cdol1, &data, &c.aip, r.atc, &r.cvr());
    assert_eq!(to_hex(&r.ac), to_hex(&expected), "GAC1 cryptogram");
    r
}

fn second_ac(c: &mut Contact, arc: &str) -> AcResponse {
    let data = cdol2_data(c, arc);
    let r = ok(&mut c.card, &to_hex(&apdu("80AE4000", &data)));
    let r = AcResponse::parse(&r);
    let expected = expected_ac(&c.cdol2, &data, &c.aip, r.atc, &r.cvr());
    assert_eq!(to_hex(&r.ac), to_hex(&expected), "GAC2 cryptogram");
    r
}

fn get_data(card: &mut TestCard, tag: &str) -> Vec<u8> {
    let r = ok(card, &format!("80CA{tag}00"));
    assert_eq!(to_hex(&r[..tag.len() / 2]), tag);
    r[tag.len() / 2 + 1..].to_vec()
}

#[test]
fn contact_transaction_online_with_issuer_authentication_and_scripts() {
    let mut c = contact_start(card(Interface::Contact));
    assert!(!c.afl.is_empty());
    assert_eq!(get_data(&mut c.card, "9F36"), [0x00, 0x01]);
    assert_eq!(get_data(&mut c.card, "9F17"), [0x03]);
    assert_eq!(get_data(&mut c.card, "9F13"), [0x00, 0x00]);
    assert_eq!(to_hex(&get_data(&mut c.card, "9F79")), "000000010000");
    assert_eq!(to_hex(&get_data(&mut c.card, "9F77")), "000000100000");
    assert_eq!(
        to_hex(&get_data(&mut c.card, "9F4F")),
        "9A039F21039F02069F03069F1A025F2A029F4E149C019F3602"
    );

    // Wrong PIN, then right.
    assert_eq!(sw(&mut c.card, "0020008008261111 11FFFFFFFF"), 0x63C2);
    assert_eq!(get_data(&mut c.card, "9F17"), [0x02]);
    ok(&mut c.card, "0020008008261234 56FFFFFFFF");
    assert_eq!(get_data(&mut c.card, "9F17"), [0x03]);

    // GAC1 ARQC, verified by the kernel.
    let r = first_ac(&mut c, "80");
    assert_eq!(r.cid, 0x80);
    assert_eq!(r.atc, 1);
    // IAD: 07 DKI CVN CVR 01 0A 01 balance MAC (§2.7).
    assert_eq!(to_hex(&r.iad[..3]), "070101");
    assert_eq!(r.iad[7], 0x01);
    // CVR: GAC2 not requested, GAC1 ARQC, offline PIN performed and not failed; new card.
    assert_eq!(to_hex(&r.cvr()), "03A41000");
    assert_eq!(to_hex(&r.iad[8..15]), "0A010000010000");
    let mut m = r.atc.to_be_bytes().to_vec();
    m.extend(&r.iad[10..15]);
    m.push(0);
    let mac = retail_mac(&session_key(&udk_mac(), r.atc), &m);
    assert_eq!(
        to_hex(&r.iad[15..19]),
        to_hex(&mac[..4]),
        "IAD discretionary MAC"
    );

    // EXTERNAL AUTHENTICATE: the 8-byte form is 6700; the ARPC 9000.
    let arc = hex("3030");
    let arpc = arpc(&r.ac, &arc, r.atc);
    assert_eq!(
        sw(&mut c.card, &format!("0082000008{}", to_hex(&arpc))),
        0x6700
    );
    let mut ea = arpc.to_vec();
    ea.extend(&arc);
    ok(&mut c.card, &to_hex(&apdu("00820000", &ea)[..15]));

    // GAC2 TC.
    let r2 = second_ac(&mut c, "3030");
    assert_eq!(r2.cid, 0x40);
    assert_eq!(to_hex(&r2.cvr()), "03641000");
    assert_eq!(
        get_data(&mut c.card, "9F13"),
        [0x00, 0x01],
        "last online ATC"
    );

    // Issuer script: PUT DATA 9F79 (EC load) with a MAC over header ‖ ATC ‖ ARQC ‖ data.
    let load = script("04DA9F79", &hex("000000020000"), r.atc, &r.ac);
    ok(&mut c.card, &to_hex(&load));
    assert_eq!(to_hex(&get_data(&mut c.card, "9F79")), "000000020000");
    // The load log: 9F79 before after ‖ DF4F values.
    let log = ok(&mut c.card, "00B2016400");
    assert_eq!(to_hex(&log[..14]), "9F79000000010000000000020000");
    assert_eq!(log.len(), 14 + 31);
    // The transaction log records the approved transaction (9F4F format).
    let tlog = ok(&mut c.card, "00B2015C00");
    assert_eq!(tlog.len(), 45);
    assert_eq!(to_hex(&tlog[..3]), DATE);
    assert_eq!(to_hex(&tlog[6..12]), AMOUNT);
    assert_eq!(to_hex(&tlog[43..45]), "0001");
    assert_eq!(sw(&mut c.card, "00B2025C00"), 0x6A83);

    // A bad MAC is 6988, and every later script 6985.
    let mut bad = script("04DA9F79", &hex("000000030000"), r.atc, &r.ac);
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(raw(&mut c.card, &bad).1, 0x6988);
    assert_eq!(raw(&mut c.card, &load).1, 0x6985);
    assert_eq!(to_hex(&get_data(&mut c.card, "9F79")), "000000020000");
}

#[test]
fn application_block_by_script_then_select_is_6283() {
    let (mut c, r) = start_with_arqc(card(Interface::Contact));
    let block = script("841E0000", &[], r.atc, &r.ac);
    ok(&mut c.card, &to_hex(&block));
    // Next SELECT: FCI with 6283.
    let (fci, status) = tx(&mut c.card, "00A4040008A00000033301010100");
    assert_eq!(status, 0x6283);
    assert_eq!(to_hex(&find(&fci, 0x84).unwrap()), "A000000333010101");
    // The issuer can still unblock it after an ARQC; offline approval is refused.
    let mut c = contact_start(c.card);
    let r = first_ac(&mut c, "40");
    assert_eq!(
        r.cid, 0x80,
        "a blocked application is never approved offline"
    );
    let unblock = script("84180000", &[], r.atc, &r.ac);
    ok(&mut c.card, &to_hex(&unblock));
    assert_eq!(sw(&mut c.card, "00A4040008A00000033301010100"), 0x9000);
    // The next transaction's CVR counts the scripts of the last one (byte 3 b8-b5).
    let (_, r) = start_with_arqc(c.card);
    assert_eq!(r.cvr()[3] >> 4, 1);
}

#[test]
fn wrong_arpc_is_6300_and_once_per_transaction() {
    let (mut c, r) = start_with_arqc(card(Interface::Contact));
    let mut ea = arpc(&r.ac, &hex("3030"), r.atc).to_vec();
    ea[0] ^= 0xFF;
    ea.extend(hex("3030"));
    assert_eq!(
        sw(&mut c.card, &to_hex(&apdu("00820000", &ea)[..15])),
        0x6300
    );
    // A second attempt in the same transaction: 6985.
    let mut good = arpc(&r.ac, &hex("3030"), r.atc).to_vec();
    good.extend(hex("3030"));
    assert_eq!(
        sw(&mut c.card, &to_hex(&apdu("00820000", &good)[..15])),
        0x6985
    );
    // Scripts after a failed issuer authentication are refused.
    let load = script("04DA9F79", &hex("000000020000"), r.atc, &r.ac);
    assert_eq!(raw(&mut c.card, &load).1, 0x6985);
    // GAC2: the CVR shows issuer authentication performed and failed.
    let r2 = second_ac(&mut c, "3030");
    assert_eq!(r2.cvr()[1] & 0x08, 0x08);
    // Next transaction: "issuer authentication failed on last online" and, by ADA b8,
    // online: a TC request gets an ARQC.
    let mut c = contact_start(c.card);
    let r = first_ac(&mut c, "40");
    assert_eq!(r.cid, 0x80);
    assert_eq!(r.cvr()[2] & 0x08, 0x08);
}

#[test]
fn cvr_in_the_arqc_tells_the_truth_about_the_pin() {
    // Wrong PIN only: performed + failed; both covered by the ARQC the kernel verified.
    let mut c = contact_start(card(Interface::Contact));
    assert_eq!(sw(&mut c.card, "002000800826999999FFFFFFFF"), 0x63C2);
    let r = first_ac(&mut c, "80");
    assert_eq!(r.cvr()[1] & 0x06, 0x06);
    // A kernel that lies about the CVR cannot reproduce the cryptogram.
    let data = cdol1_data(&c);
    let mut forged = r.cvr();
    forged[1] &= !0x02;
    assert_ne!(
        expected_ac(&c.cdol1, &data, &c.aip, r.atc, &forged).to_vec(),
        r.ac
    );

    // No VERIFY at all (a PIN-bypass relay): neither bit.
    let (_, r) = start_with_arqc(c.card);
    assert_eq!(r.cvr()[1] & 0x06, 0x00);
}

#[test]
fn pin_try_counter_blocks_and_survives_power_cycles() {
    let mut c = contact_start(card(Interface::Contact));
    assert_eq!(sw(&mut c.card, "002000800826999999FFFFFFFF"), 0x63C2);
    assert_eq!(sw(&mut c.card, "002000800826999999FFFFFFFF"), 0x63C1);
    c.card.power_off();
    c.card.power_on(Interface::Contact).unwrap();
    let mut c = contact_start(c.card);
    assert_eq!(sw(&mut c.card, "002000800826999999FFFFFFFF"), 0x63C0);
    assert_eq!(sw(&mut c.card, "0020008008261234 56FFFFFFFF"), 0x6983);
    c.card.power_off();
    c.card.power_on(Interface::Contact).unwrap();
    let mut c = contact_start(c.card);
    // EMV Book 3 §6.5.12.4: blocked in an earlier transaction is still 6983.
    assert_eq!(sw(&mut c.card, "0020008008261234 56FFFFFFFF"), 0x6983);
    // A malformed PIN block is a wrong PIN, not a format error (no free oracle).
    let mut c2 = contact_start(card(Interface::Contact));
    assert_eq!(sw(&mut c2.card, "0020008008FFFFFFFFFFFFFFFF"), 0x63C2);
    // PIN UNBLOCK by script restores the counter.
    let r = first_ac(&mut c, "80");
    let unblock = script("84240000", &[], r.atc, &r.ac);
    ok(&mut c.card, &to_hex(&unblock));
    assert_eq!(get_data(&mut c.card, "9F17"), [0x03]);
}

#[test]
fn pin_change_by_script() {
    let (mut c, r) = start_with_arqc(card(Interface::Contact));
    // New PIN 4321: block 24 4321 FF..., masked with 00000000 ‖ UDK-AC[4..8], then
    // 08 ‖ masked ‖ 80 00.. enciphered with the ENC session key (3DES ECB).
    let mut block = hex("244321FFFFFFFFFF");
    let udk = udk_ac();
    for i in 4..8 {
        block[i] ^= udk[i];
    }
    let mut plain = vec![0x08];
    plain.extend(&block);
    plain.extend(hex("80000000000000"));
    let sk = session_key(&udk_enc(), r.atc);
    let mut enc = des3(&sk, &plain[..8]).to_vec();
    enc.extend(des3(&sk, &plain[8..]));
    let cmd = script("84240002", &enc, r.atc, &r.ac);
    ok(&mut c.card, &to_hex(&cmd));
    let mut c = contact_start(c.card);
    assert_eq!(sw(&mut c.card, "0020008008261234 56FFFFFFFF"), 0x63C2);
    ok(&mut c.card, "0020008008244321FFFFFFFFFF");
}

#[test]
fn electronic_cash_offline_purchase_on_contact() {
    let mut card = application_selected();
    // 9F7A = 01: EC path, amount 10.00 within the balance.
    let r = ok(&mut card, "80A800000C830A0100000000100001560100");
    assert_eq!(r[0], 0x80);
    let c = Contact {
        card,
        cdol1: hex("9F02069F03069F1A0295055F2A029A039C019F37049F21039F4E149F3403"),
        cdol2: Vec::new(),
        aip: hex("7C00"),
        afl: Vec::new(),
    };
    let mut c = c;
    let r = first_ac(&mut c, "40");
    assert_eq!(r.cid, 0x40, "EC offline approval");
    assert_eq!(to_hex(&get_data(&mut c.card, "9F79")), "000000009000");
    // The IAD carries the new balance.
    assert_eq!(to_hex(&r.iad[10..15]), "0000009000");
    // Logged.
    let tlog = ok(&mut c.card, "00B2015C00");
    assert_eq!(to_hex(&tlog[6..12]), AMOUNT);
}

#[test]
fn ec_request_inconsistent_with_the_pdol_is_declined() {
    let mut card = application_selected();
    ok(&mut card, "80A800000C830A0100000000100001560100");
    let mut c = Contact {
        card,
        cdol1: hex("9F02069F03069F1A0295055F2A029A039C019F37049F21039F4E149F3403"),
        cdol2: Vec::new(),
        aip: hex("7C00"),
        afl: Vec::new(),
    };
    // CDOL1 amount differs from the PDOL amount: AAC, balance untouched.
    let data = fill_dol(
        &c.cdol1,
        &[(0x9F02, "000000002000"), (0x5F2A, CNY), (0x9F37, UN)],
    );
    let r = AcResponse::parse(&ok(&mut c.card, &to_hex(&apdu("80AE4000", &data))));
    assert_eq!(r.cid, 0x00);
    assert_eq!(to_hex(&get_data(&mut c.card, "9F79")), "000000010000");
}

/// The contactless PDOL data of a qPBOC terminal.
fn qpboc_gpo(card: &mut TestCard, ttq: &str, amount: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let fci = ok(card, "00A404000E325041592E5359532E444446303100");
    let mut entries = Vec::new();
    find_all(&fci, 0x61, &mut entries);
    assert_eq!(entries.len(), 1);
    let aid = find(&entries[0], 0x4F).unwrap();
    let fci = ok(card, &to_hex(&apdu("00A40400", &aid)));
    let pdol = find(&fci, 0x9F38).unwrap();
    let data = fill_dol(
        &pdol,
        &[
            (0x9F66, ttq),
            (0x9F02, amount),
            (0x9F1A, CNY),
            (0x5F2A, CNY),
            (0x9A, DATE),
            (0x9F37, "CAFEBABE"),
            (0xDF69, "01"),
        ],
    );
    let mut gpo = vec![0x83, data.len() as u8];
    gpo.extend(&data);
    let r = ok(card, &to_hex(&apdu("80A80000", &gpo)));
    (r, pdol, data)
}

#[test]
fn qpboc_offline_approval_with_sm2_fdda() {
    use sm2::dsa::signature::Verifier;
    let mut card = card(Interface::Contactless);
    let (r, pdol, data) = qpboc_gpo(&mut card, "36000080", "000000000100");
    let (tag, body, _) = tlv_read(&r).unwrap();
    assert_eq!(tag, 0x77, "format 2");
    assert_eq!(find(body, 0x9F27).unwrap(), [0x40], "offline approval");
    let atc = u16::from_be_bytes(find(body, 0x9F36).unwrap().try_into().unwrap());
    let aip = find(body, 0x82).unwrap();
    let iad = find(body, 0x9F10).unwrap();
    let tc = find(body, 0x9F26).unwrap();
    assert_eq!(find(body, 0x57).unwrap()[..8], hex(PAN)[..]);
    assert_eq!(to_hex(&find(body, 0x9F5D).unwrap()), "000000009900");
    let cvr = iad[3..7].to_vec();
    assert_eq!(
        to_hex(&cvr),
        "03901002",
        "TC at GAC1, no GAC2, new card, DDA performed"
    );
    assert_eq!(
        to_hex(&tc),
        to_hex(&expected_ac(&pdol, &data, &aip, atc, &cvr)),
        "TC"
    );

    // fDDA 01: read the AFL records; the last one carries 9F69.
    let afl = find(body, 0x94).unwrap();
    let mut last = Vec::new();
    for e in afl.chunks(4) {
        for n in e[1]..=e[2] {
            last = ok(&mut card, &format!("00B2{n:02X}{:02X}00", e[0] | 4));
        }
    }
    let c9f69 = find(&last, 0x9F69).unwrap();
    assert_eq!(c9f69.len(), 8);
    assert_eq!(c9f69[0], 0x01);
    let sdad = find(body, 0x9F4B).unwrap();
    // Assumed SM2 layout: 15 07 LDD (LDN ATC) r‖s.
    assert_eq!(to_hex(&sdad[..6]), format!("15070302{atc:04X}"));
    let mut signed = sdad[..6].to_vec();
    for tag in [0x9F37, 0x9F02, 0x5F2A] {
        signed.extend(dol_value(&pdol, &data, tag).unwrap());
    }
    signed.extend(&c9f69);
    let secret = hex("B102E71FB4A5D2F33B4DCB7C61D8E00D379B95F119DA7217541FCCB494292FA4");
    let sk = sm2::SecretKey::from_slice(&secret).unwrap();
    let vk = sm2::dsa::VerifyingKey::new("1234567812345678", sk.public_key()).unwrap();
    let sig = sm2::dsa::Signature::from_slice(&sdad[6..70]).unwrap();
    vk.verify(&signed, &sig)
        .expect("fDDA signature verifies with the ICC public key");
    let mut tampered = signed.clone();
    tampered[6] ^= 1;
    assert!(vk.verify(&tampered, &sig).is_err());

    // The balance went down in the same commit as the ATC and the log.
    assert_eq!(to_hex(&get_data(&mut card, "9F79")), "000000009900");
    assert_eq!(get_data(&mut card, "9F36"), atc.to_be_bytes());
    let tlog = ok(&mut card, "00B2015C00");
    assert_eq!(to_hex(&tlog[6..12]), "000000000100");
}

#[test]
fn qpboc_online_arqc() {
    let mut card = card(Interface::Contactless);
    // TTQ B2 b8: online cryptogram required.
    let (r, pdol, data) = qpboc_gpo(&mut card, "36800000", "000000000100");
    let (_, body, _) = tlv_read(&r).unwrap();
    assert_eq!(find(body, 0x9F27).unwrap(), [0x80]);
    assert!(
        find(body, 0x94).is_none(),
        "no AFL online (real qPBOC trace, §2.4)"
    );
    assert!(find(body, 0x9F4B).is_none());
    let atc = u16::from_be_bytes(find(body, 0x9F36).unwrap().try_into().unwrap());
    let iad = find(body, 0x9F10).unwrap();
    let cvr = iad[3..7].to_vec();
    assert_eq!(cvr[1], 0xA0);
    let arqc = find(body, 0x9F26).unwrap();
    assert_eq!(
        to_hex(&arqc),
        to_hex(&expected_ac(
            &pdol,
            &data,
            &find(body, 0x82).unwrap(),
            atc,
            &cvr
        ))
    );
    assert_eq!(to_hex(&get_data(&mut card, "9F79")), "000000010000");
    // Above the EC balance: online too.
    let mut card2 = common::card(Interface::Contactless);
    let (r, _, _) = qpboc_gpo(&mut card2, "36000080", "000000020000");
    assert_eq!(find(&r, 0x9F27).unwrap(), [0x80]);
    // Offline-only terminal and online needed: AAC.
    let mut card3 = common::card(Interface::Contactless);
    let (r, _, _) = qpboc_gpo(&mut card3, "3E000080", "000000020000");
    assert_eq!(find(&r, 0x9F27).unwrap(), [0x00]);
}

#[test]
fn bad_inputs() {
    let mut card = application_selected();
    // GPO: Lc not the PDOL's → 6700; not 83 → 6A80; P1P2 → 6A86.
    assert_eq!(sw(&mut card, "80A80000028300 00"), 0x6700);
    assert_eq!(
        sw(&mut card, "80A80000 0B 8409 00 000000001000 0156 00"),
        0x6A80
    );
    assert_eq!(
        sw(&mut card, "80A801000C830A0000000000100001560100"),
        0x6A86
    );
    // GENERATE AC before GPO → 6985.
    let d = vec![0u8; 55];
    assert_eq!(raw(&mut card, &apdu("80AE8000", &d)).1, 0x6985);
    // GET DATA of an unknown or unlisted tag → 6A88.
    assert_eq!(sw(&mut card, "80CA9F9900"), 0x6A88);
    assert_eq!(sw(&mut card, "80CADF6000"), 0x6A88);
    assert_eq!(sw(&mut card, "80CA9F4D00"), 0x6A88);
    // Wrong class → 6E00; unknown instruction → 6D00.
    assert_eq!(sw(&mut card, "00CA9F3600"), 0x6E00);
    assert_eq!(sw(&mut card, "80500000"), 0x6D00);
    // READ RECORD with bad P2 → 6A86.
    assert_eq!(sw(&mut card, "00B2010B00"), 0x6A86);
    ok(&mut card, GPO_CONTACT);
    // GAC: P1 = C0 → 6A86; Lc wrong → 6700; CDA → 6985.
    assert_eq!(raw(&mut card, &apdu("80AEC000", &d)).1, 0x6A86);
    assert_eq!(raw(&mut card, &apdu("80AE8000", &d[..10])).1, 0x6700);
    assert_eq!(raw(&mut card, &apdu("80AE9000", &d)).1, 0x6985);
    // VERIFY: P2 88 (enciphered) → 6A86; Lc ≠ 8 → 6700.
    assert_eq!(sw(&mut card, "0020008808241234FFFFFFFFFF"), 0x6A86);
    assert_eq!(sw(&mut card, "0020008004241234FF"), 0x6700);
    // EXTERNAL AUTHENTICATE before GAC1 → 6985 (with the right length).
    assert_eq!(sw(&mut card, "00820000 0A 0102030405060708 3030"), 0x6985);
    // A script before any ARQC → 6985.
    assert_eq!(sw(&mut card, "841E000004 01020304"), 0x6985);
    // A second GPO → 6985.
    assert_eq!(sw(&mut card, GPO_CONTACT), 0x6985);
}

#[test]
fn record_scan_of_sfi_1_to_31_is_fast_and_consistent() {
    let mut card = application_selected();
    ok(&mut card, GPO_CONTACT);
    let personalized = [(1u8, 1u8), (2, 3), (3, 2), (4, 3)];
    let start = std::time::Instant::now();
    let mut answers = 0;
    for sfi in 1u8..=31 {
        for rec in 1u8..=16 {
            let (data, sw) = raw(&mut card, &[0x00, 0xB2, rec, (sfi << 3) | 4, 0x00]);
            answers += 1;
            let has_sfi = personalized.iter().find(|(s, _)| *s == sfi);
            match (sfi, has_sfi) {
                (11 | 12, _) => assert!(matches!(sw, 0x6A83 | 0x9000), "log SFI {sfi}"),
                (_, Some((_, n))) if rec <= *n => {
                    assert_eq!(sw, 0x9000, "SFI {sfi} rec {rec}");
                    assert_eq!(data[0], 0x70);
                }
                (_, Some(_)) => assert_eq!(sw, 0x6A83, "SFI {sfi} rec {rec}"),
                (_, None) => assert_eq!(sw, 0x6A82, "SFI {sfi} rec {rec}"),
            }
        }
    }
    assert_eq!(answers, 31 * 16);
    assert!(
        start.elapsed().as_secs() < 5,
        "scan took {:?}",
        start.elapsed()
    );
    // READ RECORD with a short Le: 6Cxx with the exact length.
    let (_, sw) = raw(&mut card, &hex("00B2010C05"));
    assert_eq!(sw & 0xFF00, 0x6C00);
}

/// What cardpeek's emv.lua sends (pboc.md §4): PPSE first, its PDOL filling (9F66 =
/// 30000000, 9F1A = 0250, 5F2A = 0978, 9F37 = DEADBEEF), GET DATA 9F36/9F13/9F17/9F4D/9F4F,
/// a scan of every SFI and the log.
#[test]
fn cardpeek_sequence_reads_without_errors() {
    for interface in [Interface::Contactless, Interface::Contact] {
        let mut card = card(interface);
        let fci = ok(&mut card, "00A404000E325041592E5359532E444446303100");
        let aid = find(&fci, 0x4F).unwrap();
        let fci = ok(&mut card, &to_hex(&apdu("00A40400", &aid)));
        let pdol = find(&fci, 0x9F38).unwrap();
        let data = fill_dol(
            &pdol,
            &[
                (0x9F66, "30000000"),
                (0x9F1A, "0250"),
                (0x5F2A, "0978"),
                (0x9A, DATE),
                (0x9F37, "DEADBEEF"),
            ],
        );
        let mut gpo = vec![0x83, data.len() as u8];
        gpo.extend(&data);
        let r = ok(&mut card, &to_hex(&apdu("80A80000", &gpo)));
        assert!(matches!(r[0], 0x77 | 0x80));
        for tag in ["9F36", "9F13", "9F17", "9F4F"] {
            ok(&mut card, &format!("80CA{tag}00"));
        }
        assert_eq!(sw(&mut card, "80CA9F4D00"), 0x6A88);
        for sfi in 1u8..=31 {
            for rec in 1u8..=8 {
                let s = sw(&mut card, &format!("00B2{rec:02X}{:02X}00", (sfi << 3) | 4));
                assert!(matches!(s, 0x9000 | 0x6A82 | 0x6A83), "{s:04X}");
            }
        }
        assert_eq!(sw(&mut card, "80CADF6000"), 0x6A88);
    }
}

/// What python-emv's `emvtool info` sends on contact (pboc.md §4): PSE, READ RECORD SFI
/// 1–30 × 1–15 of the PSE, SELECT PPSE, GET DATA 9F17/9F36/9F13 of the application.
#[test]
fn python_emv_info_sequence() {
    let mut card = card(Interface::Contact);
    ok(&mut card, "00A404000E315041592E5359532E444446303100");
    let mut apps = Vec::new();
    for sfi in 1u8..=30 {
        for rec in 1u8..=15 {
            let (d, s) = tx(&mut card, &format!("00B2{rec:02X}{:02X}00", (sfi << 3) | 4));
            match s {
                0x9000 => apps.push(find(&d, 0x4F).unwrap()),
                0x6A82 | 0x6A83 => {}
                other => panic!("{other:04X}"),
            }
        }
    }
    assert_eq!(apps.len(), 1);
    ok(&mut card, "00A404000E325041592E5359532E444446303100");
    ok(&mut card, &to_hex(&apdu("00A40400", &apps[0])));
    for tag in ["9F17", "9F36", "9F13"] {
        ok(&mut card, &format!("80CA{tag}00"));
    }
}

#[test]
fn deselect_and_power_off_clear_the_transaction() {
    let (mut c, _) = start_with_arqc(card(Interface::Contact));
    // Selecting the PSE ends the application: EXTERNAL AUTHENTICATE has no context.
    ok(&mut c.card, "00A404000E315041592E5359532E444446303100");
    ok(&mut c.card, "00A4040008A00000033301010100");
    assert_eq!(sw(&mut c.card, "00820000 0A 0102030405060708 3030"), 0x6985);
    // Power off mid-transaction: the next GAC2 is refused, the ATC stays.
    let (mut c, _) = start_with_arqc(c.card);
    c.card.power_off();
    c.card.power_on(Interface::Contact).unwrap();
    ok(&mut c.card, "00A4040008A00000033301010100");
    assert_eq!(
        sw(&mut c.card, &format!("80AE4000 37 {}", "00".repeat(55))),
        0x6985
    );
    assert_eq!(get_data(&mut c.card, "9F36"), [0x00, 0x02]);
    // The interrupted online transaction shows in the next CVR (byte 2 b8).
    let (_, r) = start_with_arqc(c.card);
    assert_eq!(r.cvr()[2] & 0x80, 0x80);
}

#[test]
fn card_block_script_blocks_the_financial_environment() {
    let (mut c, r) = start_with_arqc(card(Interface::Contact));
    ok(&mut c.card, &to_hex(&script("84160000", &[], r.atc, &r.ac)));
    assert_eq!(sw(&mut c.card, "80CA9F3600"), 0x6A81);
    assert_eq!(
        sw(&mut c.card, "00A404000E315041592E5359532E444446303100"),
        0x6A81
    );
    assert_eq!(sw(&mut c.card, "00A4040008A00000033301010100"), 0x6A81);
}

#[test]
fn contact_dda_internal_authenticate_in_sm2() {
    use sm2::dsa::signature::Verifier;
    let mut c = contact_start(card(Interface::Contact));
    // DDOL 9F3704: the terminal's unpredictable number.
    let r = ok(&mut c.card, "0088000004 0A0B0C0D 00");
    let (tag, sdad, _) = tlv_read(&r).unwrap();
    assert_eq!(tag, 0x80);
    // 15 07 LDD=09 LDN=08 ATC(2) random(6) r‖s
    assert_eq!(to_hex(&sdad[..6]), "1507090800 01".replace(' ', ""));
    assert_eq!(sdad.len(), 3 + 9 + 64);
    let mut signed = sdad[..12].to_vec();
    signed.extend(hex("0A0B0C0D"));
    let secret = hex("B102E71FB4A5D2F33B4DCB7C61D8E00D379B95F119DA7217541FCCB494292FA4");
    let pk = sm2::SecretKey::from_slice(&secret).unwrap().public_key();
    let vk = sm2::dsa::VerifyingKey::new("1234567812345678", pk).unwrap();
    let sig = sm2::dsa::Signature::from_slice(&sdad[12..]).unwrap();
    vk.verify(&signed, &sig).expect("DDA signature");
    // DDA performed shows in the CVR (byte 3 b2).
    let r = first_ac(&mut c, "80");
    assert_eq!(r.cvr()[3] & 0x02, 0x02);
    // Wrong DDOL length → 6700; after GAC1 → 6985.
    assert_eq!(sw(&mut c.card, "0088000002 0A0B 00"), 0x6700);
    assert_eq!(sw(&mut c.card, "0088000004 0A0B0C0D 00"), 0x6985);
}

/// A profile with two applications (debit, then pure electronic cash with its own keys,
/// counters and records): PSE records, PPSE entries, partial selection.
#[test]
fn two_applications_from_one_profile() {
    let ec_app = DEFAULT_PROFILE
        .split("[[pboc.applications]]")
        .nth(1)
        .unwrap()
        .replace("kind = \"debit\"", "kind = \"electronic_cash\"")
        .replace("A000000333010101", "A000000333010106")
        .replace("label = \"PBOC DEBIT\"", "label = \"UNIONPAY EC\"")
        .replace("priority = 1", "priority = 2")
        .replace("balance = \"100.00\"", "balance = \"50.00\"");
    let text = format!("{DEFAULT_PROFILE}\n[[pboc.applications]]{ec_app}");
    #[derive(serde::Deserialize)]
    struct F {
        pboc: sscard_pboc::profile::PbocSection,
    }
    let f: F = toml::from_str(&text).unwrap();
    let profile = f.pboc.build().unwrap();
    let mut nvm = sscard_core::nvm::RamNvm::new(vec![0u8; 64 * 1024]);
    let mut p = sscard_core::fs::build::Personalizer::format(
        &mut nvm,
        sscard_core::fs::build::Capacities::default(),
        &hex(ATR),
    )
    .unwrap();
    profile.personalize(&mut p).unwrap();
    p.finish().unwrap();
    let mut card = card_on(nvm, Interface::Contact);
    ok(&mut card, "00A404000E315041592E5359532E444446303100");
    let r1 = ok(&mut card, "00B2010C00");
    let r2 = ok(&mut card, "00B2020C00");
    assert_eq!(to_hex(&find(&r1, 0x4F).unwrap()), "A000000333010101");
    assert_eq!(to_hex(&find(&r2, 0x4F).unwrap()), "A000000333010106");
    assert_eq!(sw(&mut card, "00B2030C00"), 0x6A83);
    let ppse = ok(&mut card, "00A404000E325041592E5359532E444446303100");
    let mut entries = Vec::new();
    find_all(&ppse, 0x61, &mut entries);
    assert_eq!(entries.len(), 2);
    // Partial selection by the RID gives the first; the full AID the second, with its
    // own balance.
    let fci = ok(&mut card, "00A4040005A00000033300");
    assert_eq!(to_hex(&find(&fci, 0x84).unwrap()), "A000000333010101");
    ok(&mut card, "00A4040008A00000033301010600");
    assert_eq!(to_hex(&get_data(&mut card, "9F79")), "000000005000");
    assert_eq!(sw(&mut card, "00A4040008A00000033301010900"), 0x6A82);
}

#[test]
fn profile_errors_name_the_field() {
    #[derive(serde::Deserialize)]
    struct F {
        pboc: sscard_pboc::profile::PbocSection,
    }
    let bad = |from: &str, to: &str| {
        let text = DEFAULT_PROFILE.replacen(from, to, 1);
        let f: F = toml::from_str(&text).unwrap();
        f.pboc.build().unwrap_err()
    };
    let e = bad("pan = \"6212345678901232\"", "pan = \"6212345678901234\"");
    assert_eq!(e.field, "pboc.applications[0].pan");
    let e = bad(
        "imk_ac = \"0123456789ABCDEFFEDCBA9876543210\"",
        "imk_ac = \"0123\"",
    );
    assert_eq!(e.field, "pboc.applications[0].keys.imk_ac");
    let e = bad(
        "afl_contact = \"08010100 10010300 18010201\"",
        "afl_contact = \"08010200\"",
    );
    assert_eq!(e.field, "pboc.applications[0].afl_contact");
    let e = bad("balance = \"100.00\"", "balance = \"100.001\"");
    assert_eq!(e.field, "pboc.applications[0].ec.balance");
    let e = bad("pin_try_limit = 3", "pin_try_limit = 0");
    assert_eq!(e.field, "pboc.applications[0].pin_try_limit");
    // Unknown keys are rejected by serde.
    let text = DEFAULT_PROFILE.replacen("ppse = true", "ppse = true\nbogus = 1", 1);
    assert!(toml::from_str::<F>(&text).is_err());
}

/// §2.4: when the ATC would reach FFFF the application locks for ever (GPO 6985, then
/// SELECT 6283 and no more GPO). The image is patched to ATC = FFFD to get there.
#[test]
fn atc_exhaustion_locks_the_application_for_ever() {
    let mut img = image();
    // Object table: ATC slot [02 0000], last online ATC [02 0000], PIN tries [01 03].
    let pattern = hex("02000002000001 03");
    let at = img
        .windows(pattern.len())
        .position(|w| w == pattern)
        .unwrap();
    assert_eq!(
        img.windows(pattern.len()).filter(|w| *w == pattern).count(),
        1
    );
    img[at + 1..at + 3].copy_from_slice(&[0xFF, 0xFD]);
    let mut card = card_on(sscard_core::nvm::RamNvm::new(img), Interface::Contact);
    ok(&mut card, "00A4040008A00000033301010100");
    ok(&mut card, GPO_CONTACT);
    assert_eq!(get_data(&mut card, "9F36"), [0xFF, 0xFE]);
    ok(&mut card, "00A4040008A00000033301010100");
    assert_eq!(sw(&mut card, GPO_CONTACT), 0x6985);
    assert_eq!(
        get_data(&mut card, "9F36"),
        [0xFF, 0xFE],
        "the ATC never wraps"
    );
    assert_eq!(sw(&mut card, "00A4040008A00000033301010100"), 0x6283);
    assert_eq!(sw(&mut card, GPO_CONTACT), 0x6985);
}

/// Random commands (valid CLA/INS of the applet, random parameters and lengths) in
/// random states never panic and never leave the card mute.
#[test]
fn random_commands_never_panic() {
    let mut seed = 0x5EED_u64;
    let mut next = move || {
        seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let heads: [[u8; 2]; 14] = [
        [0x80, 0xA8],
        [0x00, 0xB2],
        [0x80, 0xCA],
        [0x00, 0x20],
        [0x80, 0xAE],
        [0x00, 0x82],
        [0x00, 0x88],
        [0x84, 0x1E],
        [0x84, 0x18],
        [0x84, 0x24],
        [0x04, 0xDA],
        [0x04, 0xDC],
        [0x00, 0xA4],
        [0x00, 0xC0],
    ];
    for interface in [Interface::Contact, Interface::Contactless] {
        let mut c = card(interface);
        for i in 0..4000 {
            if i % 50 == 0 {
                let _ = raw(&mut c, &hex("00A4040008A00000033301010100"));
                let _ = raw(&mut c, &hex(GPO_CONTACT));
            }
            let r = next();
            let h = heads[(r % heads.len() as u64) as usize];
            let len = ((r >> 8) % 70) as usize;
            let mut apdu = vec![h[0], h[1], (r >> 16) as u8, (r >> 24) as u8];
            if len > 0 {
                apdu.push(len as u8);
                for k in 0..len {
                    apdu.push((next() >> (k % 8)) as u8);
                }
            }
            if r >> 40 & 1 == 1 {
                apdu.push((r >> 48) as u8);
            }
            let (_, sw) = raw(&mut c, &apdu);
            assert_ne!(sw, 0, "mute after {}", to_hex(&apdu));
        }
    }
}
