//! The virtual PSAM (LD/T 32 part 9): every command and status word byte-exact, with the
//! expected cryptograms from independent implementations (`indep`, and the `des` / `sm4`
//! crates directly for the CBC chains and the key-load MACs), a whole purse purchase of
//! the default card through the default PSAM, and power cuts during TTSN and key writes.
#![allow(
    clippy::restriction,
    // Amounts are written yuan_fen (200_00 = 200.00 yuan).
    clippy::inconsistent_digit_grouping
)]

mod common;

use cipher::array::Array;
use cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use common::indep::{self, Alg};
use common::{SELECT_SSSE, VERIFY_RIGHT, card_key, dlk, dpk, dtk, hex, send, send_hex, to_hex};
use sscard_core::nvm::{Nvm, RamNvm, TearingNvm};
use sscard_core::rng::SplitMixRng;
use sscard_core::{Card, CosOptions, Interface};
use sscard_host::profile::Profile;
use sscard_psam::keys::{KeyAlgorithm, KeyType};
use sscard_psam::options::{Mac2Failure, MacOutput, PsamOptions, TtsnTiming};
use sscard_psam::perso::{self, PsamPersonalization, RootKey, RootLevel};
use sscard_psam::{Psam, PsamCard};
use sscard_testkit::tear::{Step, TearCard, tear_every_write};

const SELECT_PSAM_ADF: &str = "00A4040006D15600000590";
const SELECT_DDF1: &str = "00A4000002DDF1";
const SELECT_DF01: &str = "00A4000002DF01";
const SELECT_MF: &str = "00A40000023F00";
/// The default card's card factor (ATR historical bytes 6–13) and city factor.
const CARD_FACTOR: &str = "8660519900000001";
const CITY_FACTOR: &str = "3531393930307378";

const SM4_ROOT: [u8; 16] = [0x3C; 16];
const DES_ROOT: [u8; 16] = [
    0x5A, 0x01, 0x5A, 0x02, 0x5A, 0x03, 0x5A, 0x04, 0xA5, 0x01, 0xA5, 0x02, 0xA5, 0x03, 0xA5, 0x04,
];
const DES_SINGLE: [u8; 8] = [0x13, 0x57, 0x9B, 0xDF, 0x24, 0x68, 0xAC, 0xE0];

fn roots() -> [RootKey<'static>; 4] {
    [
        RootKey {
            level: RootLevel::Provincial,
            kind: KeyType::Encryption,
            id: 0x10,
            algorithm: KeyAlgorithm::Sm4,
            value: &SM4_ROOT,
        },
        RootKey {
            level: RootLevel::City,
            kind: KeyType::Encryption,
            id: 0x18,
            algorithm: KeyAlgorithm::TripleDes,
            value: &DES_ROOT,
        },
        RootKey {
            level: RootLevel::National,
            kind: KeyType::Mac,
            id: 0x09,
            algorithm: KeyAlgorithm::TripleDes,
            value: &DES_ROOT,
        },
        RootKey {
            level: RootLevel::City,
            kind: KeyType::Mac,
            id: 0x19,
            algorithm: KeyAlgorithm::Des,
            value: &DES_SINGLE,
        },
    ]
}

type TestPsam<N = RamNvm<Vec<u8>>> = PsamCard<N, SplitMixRng>;

fn psam_image() -> Vec<u8> {
    let roots = roots();
    let mut nvm = RamNvm::new(vec![0u8; perso::NVM_SIZE]);
    perso::personalize(&mut nvm, &PsamPersonalization::test_default(&roots)).unwrap();
    nvm.into_inner()
}

fn psam_with(options: PsamOptions) -> TestPsam {
    let mut c = Card::load(
        RamNvm::new(psam_image()),
        SplitMixRng::new(7),
        (),
        Psam::new(options),
        CosOptions::default(),
    )
    .unwrap();
    c.power_on(Interface::Contact).unwrap();
    c
}

fn psam() -> TestPsam {
    psam_with(PsamOptions::default())
}

fn ok<N: Nvm>(c: &mut TestPsam<N>, apdu: &str) -> Vec<u8> {
    let (d, sw) = send_hex(c, apdu);
    assert_eq!(sw, 0x9000, "{apdu}");
    d
}

fn sw<N: Nvm>(c: &mut TestPsam<N>, apdu: &str) -> u16 {
    send_hex(c, apdu).1
}

/// The 16-byte environment's ADF: both ADFs carry the AID, and SELECT by AID finds the
/// DES one first, so the terminal goes through DDF1 and the FID.
fn enter_sm4<N: Nvm>(c: &mut TestPsam<N>) {
    ok(c, SELECT_DDF1);
    ok(c, SELECT_DF01);
}

fn enter_des<N: Nvm>(c: &mut TestPsam<N>) {
    ok(c, SELECT_MF);
    ok(c, SELECT_PSAM_ADF);
}

/// ECB encryption with `key` (DES, 3DES or SM4 by length and family), from the crates.
fn ecb(alg: Alg, key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut b = data.to_vec();
    indep::encrypt(alg, key, &mut b);
    b
}

/// CBC over whole blocks from `iv`, no padding: the last block.
fn cbc(alg: Alg, key: &[u8], iv: &[u8], data: &[u8]) -> Vec<u8> {
    let n = indep::block(alg);
    let mut state = iv.to_vec();
    for chunk in data.chunks(n) {
        state.iter_mut().zip(chunk).for_each(|(s, d)| *s ^= d);
        indep::encrypt(alg, key, &mut state);
    }
    state
}

fn pad80(data: &[u8], n: usize) -> Vec<u8> {
    let mut m = data.to_vec();
    m.push(0x80);
    while !m.len().is_multiple_of(n) {
        m.push(0);
    }
    m
}

fn fold(block: &[u8]) -> Vec<u8> {
    (0..4)
        .map(|i| block[i] ^ block[i + 4] ^ block[i + 8] ^ block[i + 12])
        .collect()
}

/// ISO/IEC 9797-1 algorithm 3 with padding 2, from the `des` crate: the key-load MAC of
/// a 2-key 3DES ADF-MK (P9 §7.1.3, F5B), first 4 bytes.
fn retail_mac4(key: &[u8], iv: &[u8], data: &[u8]) -> Vec<u8> {
    let kl = des::Des::new_from_slice(&key[..8]).unwrap();
    let kr = des::Des::new_from_slice(&key[8..]).unwrap();
    let mut state = Array::try_from(iv).unwrap();
    for chunk in pad80(data, 8).chunks(8) {
        state.iter_mut().zip(chunk).for_each(|(s, d)| *s ^= d);
        kl.encrypt_block(&mut state);
    }
    kr.decrypt_block(&mut state);
    kl.encrypt_block(&mut state);
    state[..4].to_vec()
}

fn city_root_child(alg: Alg, root: &[u8], factors: &[&str]) -> Vec<u8> {
    factors.iter().fold(root.to_vec(), |k, f| {
        indep::diversify(alg, &k, hex(f).try_into().unwrap())
    })
}

#[test]
fn files_are_the_os_s_and_keys_and_ttsn_stay_out_of_reach() {
    let mut c = psam();
    // MF FCI: 6F { 84 name, A5 { 88 01 01 } }.
    assert_eq!(
        to_hex(&ok(
            &mut c,
            "00A40400 0F 7378312E73682EC9E7BBE1B1A3D5CF"
                .replace(' ', "")
                .as_str()
        )),
        "6F1684 0F7378312E73682EC9E7BBE1B1A3D5CF A503880101".replace(' ', "")
    );
    assert_eq!(
        to_hex(&ok(&mut c, "00B0950000")),
        "01000000000000000000010100000000".get(..30).unwrap()
    );
    assert_eq!(to_hex(&ok(&mut c, "00B0960006")), "000000000001");
    assert_eq!(
        to_hex(&ok(&mut c, "00B2010C00")),
        "61124F06D156000005905008535343205053414D"
    );
    // No write command changes 0016 without DDF-MK, nor 0019 ever.
    assert_eq!(sw(&mut c, "00D6960001FF"), 0x6982);
    ok(&mut c, SELECT_PSAM_ADF);
    assert_eq!(to_hex(&ok(&mut c, "00B0990004")), "00000000");
    assert_eq!(sw(&mut c, "00D699000100"), 0x6982);
    // Key files: selectable, never readable or writable by file commands.
    ok(&mut c, "00A4020002 0012");
    assert_eq!(sw(&mut c, "00B2010400"), 0x6982);
    assert_eq!(
        sw(&mut c, &format!("00DC010418{}", "00".repeat(24))),
        0x6982
    );
    // PSAM commands outside the ADF: 6985; unknown instruction: 6D00.
    ok(&mut c, SELECT_MF);
    assert_eq!(sw(&mut c, "80FA000008 0000000000000000"), 0x6985);
    ok(&mut c, SELECT_PSAM_ADF);
    assert_eq!(sw(&mut c, "80FA040008 0000000000000000"), 0x6A86);
    assert_eq!(sw(&mut c, "80FB000000"), 0x6D00);
}

#[test]
fn delivery_session_key_and_cipher_data_sm4() {
    let mut c = psam();
    enter_sm4(&mut c);
    let data = "0011223344556677 0000000000000000".replace(' ', "");
    // No temporary key yet: 6901 (T26).
    assert_eq!(sw(&mut c, &format!("80FA000010{data}")), 0x6901);
    let sf = "A1A2A3A4A5A6A7A8 0000000000000000".replace(' ', "");
    // Wrong Lc (not M + 8N), a level count P1 disagrees with, N disagreeing, unknown id.
    assert_eq!(
        sw(&mut c, &format!("BFDE471011{CARD_FACTOR}{sf}00")),
        0x6700
    );
    assert_eq!(
        sw(&mut c, &format!("BFDE671020{CARD_FACTOR}{CITY_FACTOR}{sf}")),
        0x6A80
    );
    assert_eq!(sw(&mut c, &format!("BFDE471018{CARD_FACTOR}{sf}")), 0x6A80);
    assert_eq!(
        sw(&mut c, &format!("BFDE471120{CARD_FACTOR}{CITY_FACTOR}{sf}")),
        0x6A88
    );
    // Card factor first; the PSAM applies the city factor, then the card factor.
    ok(&mut c, &format!("BFDE471020{CARD_FACTOR}{CITY_FACTOR}{sf}"));
    let child = city_root_child(Alg::Sm4, &SM4_ROOT, &[CITY_FACTOR, CARD_FACTOR]);
    let sk = indep::session_key(Alg::Sm4, &child, &hex(&sf));
    let ct = ok(&mut c, &format!("80FA000010{data}"));
    assert_eq!(to_hex(&ct), to_hex(&ecb(Alg::Sm4, &sk, &hex(&data))));
    // The halves of that block XORed are the user card's authentication data (P4 §9.3).
    let ad: Vec<u8> = (0..8).map(|i| ct[i] ^ ct[i + 8]).collect();
    assert_eq!(
        ad,
        indep::auth_data(Alg::Sm4, &sk, &hex("0011223344556677"))
    );
    // The encryption is spent (§9.8.1); a MAC still works: 05 = IV block ‖ data.
    assert_eq!(sw(&mut c, &format!("80FA000010{data}")), 0x6901);
    let iv = "11111111000000000000000000000000";
    let body = to_hex(&pad80(&hex("04D6960002AABB"), 16));
    let mac = ok(&mut c, &format!("80FA050020{iv}{body}"));
    assert_eq!(
        to_hex(&mac),
        to_hex(&fold(&cbc(Alg::Sm4, &sk, &hex(iv), &hex(&body))))
    );
    assert_eq!(
        mac,
        indep_card_mac_with_iv(Alg::Sm4, &sk, &hex(iv), &hex("04D6960002AABB"))
    );
    // Both spent: the key is gone.
    assert_eq!(sw(&mut c, &format!("80FA050020{iv}{body}")), 0x6901);
    // Lc limits (T25): SM4 05 needs 2–8 blocks, whole blocks.
    ok(&mut c, &format!("BFDE471020{CARD_FACTOR}{CITY_FACTOR}{sf}"));
    assert_eq!(sw(&mut c, &format!("80FA050010{iv}")), 0x6700);
    assert_eq!(sw(&mut c, "80FA000008 0011223344556677"), 0x6700);
    assert_eq!(
        sw(&mut c, &format!("80FA000090{}", "00".repeat(0x90))),
        0x6700
    );
    // A MAC chain: 07 (IV ‖ block), 03, 01; 03 without a chain is 6985.
    assert_eq!(sw(&mut c, &format!("80FA030010{iv}")), 0x6985);
    assert!(ok(&mut c, &format!("80FA070020{iv}{}", "22".repeat(16))).is_empty());
    assert!(ok(&mut c, &format!("80FA030010{}", "33".repeat(16))).is_empty());
    let mac = ok(&mut c, &format!("80FA010010{}", "44".repeat(16)));
    let chain = hex(&["22".repeat(16), "33".repeat(16), "44".repeat(16)].concat());
    assert_eq!(mac, fold(&cbc(Alg::Sm4, &sk, &hex(iv), &chain)));
    // Leaving the ADF drops the key (P4 §7.5).
    ok(&mut c, &format!("BFDE471020{CARD_FACTOR}{CITY_FACTOR}{sf}"));
    enter_sm4(&mut c);
    assert_eq!(sw(&mut c, &format!("80FA000010{data}")), 0x6901);
}

/// The card MAC with an initial value (P4 §8.2.4 from a given IV), from the crates.
fn indep_card_mac_with_iv(alg: Alg, key: &[u8], iv: &[u8], data: &[u8]) -> Vec<u8> {
    let last = cbc(alg, key, iv, &pad80(data, indep::block(alg)));
    match alg {
        Alg::Sm4 => fold(&last),
        Alg::Tdes => last[..4].to_vec(),
    }
}

#[test]
fn delivery_session_key_and_cipher_data_des_every_level() {
    let mut c = psam_with(PsamOptions {
        mac_output: MacOutput::FullBlock,
        ..PsamOptions::default()
    });
    enter_des(&mut c);
    let sf = "0102030405060708";
    // City root (1 level): card factor only; SK = 3DES(child, sf), single DES.
    ok(&mut c, &format!("BFDE271810{CARD_FACTOR}{sf}"));
    let child = city_root_child(Alg::Tdes, &DES_ROOT, &[CARD_FACTOR]);
    let sk = indep::session_key(Alg::Tdes, &child, &hex(sf));
    let ct = ok(
        &mut c,
        "80FA000010 00112233445566778899AABBCCDDEEFF"
            .replace(' ', "")
            .as_str(),
    );
    assert_eq!(
        to_hex(&ct),
        to_hex(&ecb(
            Alg::Tdes,
            &sk,
            &hex("00112233445566778899AABBCCDDEEFF")
        ))
    );
    // Encrypt in two parts: 02 then 00 (the second part finishes the encryption).
    // The MAC with the full block as output (a choice): 05 = IV ‖ one block.
    let mac = ok(
        &mut c,
        "80FA050010 1111111100000000 AABBCCDD80000000"
            .replace(' ', "")
            .as_str(),
    );
    assert_eq!(
        to_hex(&mac),
        to_hex(&cbc(
            Alg::Tdes,
            &sk,
            &hex("1111111100000000"),
            &hex("AABBCCDD80000000")
        ))
    );
    // National root (3 levels) of type MAC: factors card ‖ city ‖ province.
    let province = "3531303030307368";
    ok(
        &mut c,
        &format!("BFDE660920{CARD_FACTOR}{CITY_FACTOR}{province}{sf}"),
    );
    let child = city_root_child(Alg::Tdes, &DES_ROOT, &[province, CITY_FACTOR, CARD_FACTOR]);
    let sk = indep::session_key(Alg::Tdes, &child, &hex(sf));
    assert_eq!(
        ok(&mut c, "80FA020008 0011223344556677"),
        ecb(Alg::Tdes, &sk, &hex("0011223344556677"))
    );
    assert_eq!(
        ok(&mut c, "80FA000008 8899AABBCCDDEEFF"),
        ecb(Alg::Tdes, &sk, &hex("8899AABBCCDDEEFF"))
    );
    // A single-DES city root: child = DES(K, F).
    ok(&mut c, &format!("BFDE261910{CARD_FACTOR}{sf}"));
    let child = ecb(Alg::Tdes, &DES_SINGLE, &hex(CARD_FACTOR));
    let sk = ecb(Alg::Tdes, &child, &hex(sf));
    assert_eq!(
        ok(&mut c, "80FA000008 0011223344556677"),
        ecb(Alg::Tdes, &sk, &hex("0011223344556677"))
    );
    // DES Lc limits: 05 needs 10–40.
    assert_eq!(sw(&mut c, "80FA050008 1111111100000000"), 0x6700);
}

fn external_auth<N: Nvm>(c: &mut TestPsam<N>, alg: Alg, kid: u8, key: &[u8]) {
    let challenge = ok(c, "0084000008");
    let p = [0x42u8; 8];
    let sk = indep::session_key(alg, key, &challenge);
    let ad = indep::auth_data(alg, &sk, &p);
    ok(
        c,
        &format!("008200{kid:02X}10{}{}", to_hex(&ad), to_hex(&p)),
    );
}

/// CREATE KEY / CHANGE KEY's APDU: Enc(ADF-MK, LD ‖ plain) ‖ MAC from the challenge.
fn key_apdu(alg: Alg, mk: &[u8], challenge: &[u8], p1: u8, p2: u8, plain: &[u8]) -> String {
    let ct = indep::sm_encrypt(alg, mk, plain);
    let header = [0x84, 0xD4, p1, p2, (ct.len() + 4) as u8];
    let mac_data = [&header[..], &ct].concat();
    let mut iv = challenge.to_vec();
    iv.resize(indep::block(alg), 0);
    let mac = match (alg, mk.len()) {
        (Alg::Tdes, 16) => retail_mac4(mk, &iv, &mac_data),
        _ => indep_card_mac_with_iv(alg, mk, &iv, &mac_data),
    };
    format!("{}{}{}", to_hex(&header), to_hex(&ct), to_hex(&mac))
}

/// CREATE KEY (P1 00) or CHANGE KEY (P1 01) in the SM4 environment under a fresh
/// challenge: the status word.
fn write_key<N: Nvm>(c: &mut TestPsam<N>, mk: &[u8], p1: u8, p2: u8, plain: &[u8]) -> u16 {
    let challenge = ok(c, "0084000004");
    sw(c, &key_apdu(Alg::Sm4, mk, &challenge, p1, p2, plain))
}

/// BF DE with city-level key 30 for the default card, then CIPHER DATA: enciphered with
/// the session key from `root` diversified by the card factor (all-zero session factor).
fn enciphers_with_city_key_30<N: Nvm>(c: &mut TestPsam<N>, root: &[u8; 16]) {
    let sf = "00".repeat(16);
    ok(c, &format!("BFDE273018{CARD_FACTOR}{sf}"));
    let sk = indep::session_key(
        Alg::Sm4,
        &indep::diversify(Alg::Sm4, root, hex(CARD_FACTOR).try_into().unwrap()),
        &hex(&sf),
    );
    assert_eq!(
        ok(c, &format!("80FA000010{}", "00".repeat(16))),
        ecb(Alg::Sm4, &sk, &[0; 16])
    );
}

#[test]
fn create_and_change_key_under_the_adf_master_key() {
    let mut c = psam();
    enter_sm4(&mut c);
    let mk = [0xE5u8; 16];
    let record = [&[0x27, 0x30, 0x00, 0x02, 0, 0, 0, 0][..], &[0x77; 16]].concat();
    // Without KID-03's external authentication: 6982; without a challenge: 6984.
    let apdu = key_apdu(Alg::Sm4, &mk, &[0; 4], 0x00, 0x13, &record);
    assert_eq!(sw(&mut c, &apdu), 0x6982);
    external_auth(&mut c, Alg::Sm4, 0x03, &[0xE3; 16]);
    assert_eq!(sw(&mut c, &apdu), 0x6984);
    // A wrong MAC: 6988 (T20); the challenge is used up either way.
    let challenge = ok(&mut c, "0084000004");
    let mut bad = hex(&key_apdu(Alg::Sm4, &mk, &challenge, 0x00, 0x13, &record));
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(send(&mut c, &bad).1, 0x6988);
    // Wrong Lc (SM4: 24 only), unknown key file.
    assert_eq!(
        sw(&mut c, &format!("84D400131C{}", "00".repeat(0x1C))),
        0x6700
    );
    assert_eq!(write_key(&mut c, &mk, 0x00, 0x14, &record), 0x6A82);
    // A record of the other environment's algorithm: 6A80.
    let des_record = [&[0x47, 0x30, 0x00, 0x00, 0, 0, 0, 0][..], &[0x77; 16]].concat();
    assert_eq!(write_key(&mut c, &mk, 0x00, 0x13, &des_record), 0x6A80);
    // CREATE: the new city-level key 30 (1 level, encryption) serves BF DE at once.
    assert_eq!(write_key(&mut c, &mk, 0x00, 0x13, &record), 0x9000);
    assert_eq!(
        write_key(&mut c, &mk, 0x00, 0x13, &record),
        0x6A80,
        "exists"
    );
    enciphers_with_city_key_30(&mut c, &[0x77; 16]);
    // CHANGE: usage ‖ id ‖ 00 ‖ new value.
    let change = [&[0x27, 0x30, 0x00][..], &[0x99; 16]].concat();
    assert_eq!(write_key(&mut c, &mk, 0x01, 0x13, &change), 0x9000);
    let missing = [&[0x27, 0x31, 0x00][..], &[0x99; 16]].concat();
    assert_eq!(write_key(&mut c, &mk, 0x01, 0x13, &missing), 0x6A88);
    enciphers_with_city_key_30(&mut c, &[0x99; 16]);
}

#[test]
fn create_key_des_with_a_double_length_master_key_uses_the_retail_mac() {
    let mut c = psam();
    enter_des(&mut c);
    external_auth(&mut c, Alg::Tdes, 0x02, &[0xD2; 16]);
    let mk = [0xD5u8; 16];
    let challenge = ok(&mut c, "0084000004");
    let record = [&[0x48, 0x41, 0x00, 0x01, 0, 0, 0, 0][..], &[0x31; 8]].concat();
    let apdu = key_apdu(Alg::Tdes, &mk, &challenge, 0x00, 0x12, &record);
    assert_eq!(&apdu[8..10], "1C");
    ok(&mut c, &apdu);
    ok(
        &mut c,
        &format!("BFDE484118{CARD_FACTOR}{CITY_FACTOR}0000000000000000"),
    );
    let challenge = ok(&mut c, "0084000004");
    let change = [&[0x48, 0x41, 0x00][..], &[0x32; 8]].concat();
    let apdu = key_apdu(Alg::Tdes, &mk, &challenge, 0x01, 0x12, &change);
    assert_eq!(&apdu[8..10], "14");
    ok(&mut c, &apdu);
}

#[test]
fn initialize_environment_and_external_authentication_status_words() {
    let mut c = psam_with(PsamOptions {
        require_environment: true,
        ..PsamOptions::default()
    });
    enter_sm4(&mut c);
    let sf = "00".repeat(16);
    assert_eq!(
        sw(&mut c, &format!("BFDE471020{CARD_FACTOR}{CITY_FACTOR}{sf}")),
        0x6985
    );
    assert_eq!(sw(&mut c, "BFEC0000025100"), 0x6700);
    assert_eq!(sw(&mut c, "BFEC0000015A"), 0x6A80);
    assert_eq!(sw(&mut c, "BFEC0100015A"), 0x6A86);
    ok(&mut c, "BFEC00000151");
    ok(&mut c, &format!("BFDE471020{CARD_FACTOR}{CITY_FACTOR}{sf}"));
    // EXTERNAL AUTHENTICATION: no challenge 6984, unknown key 6A88, wrong AD 63C2.
    assert_eq!(
        sw(&mut c, &format!("0082000110{}", "00".repeat(16))),
        0x6984
    );
    ok(&mut c, "0084000008");
    assert_eq!(
        sw(&mut c, &format!("0082000710{}", "00".repeat(16))),
        0x6A88
    );
    ok(&mut c, "0084000008");
    assert_eq!(
        sw(&mut c, &format!("0082000110{}", "00".repeat(16))),
        0x63C2
    );
    external_auth(&mut c, Alg::Sm4, 0x01, &[0xE1; 16]);
    // 001A is now writable, 0019 still not.
    ok(&mut c, "00D69A000101");
    assert_eq!(sw(&mut c, "00D699000101"), 0x6982);
}

/// The default card of `gen3-default.toml` and its PSAM; the card's DF04 open.
fn default_pair() -> (common::TestCard, TestPsam) {
    let p = Profile::default_gen3();
    let mut card = common::card_from(&p, 42);
    let psam_image = p.psam().unwrap();
    let mut psam = Card::load(
        RamNvm::new(psam_image.image.clone()),
        SplitMixRng::new(9),
        (),
        psam_image.application(),
        CosOptions::default(),
    )
    .unwrap();
    psam.power_on(Interface::Contact).unwrap();
    assert_eq!(send_hex(&mut card, SELECT_SSSE).1, 0x9000);
    for apdu in ["00A4040006D15600000503", VERIFY_RIGHT] {
        assert_eq!(send_hex(&mut card, apdu).1, 0x9000);
    }
    (card, psam)
}

/// A host load so the purse has money (DLK at the host, as P7 §11 has it).
fn load(card: &mut common::TestCard, amount: u32, terminal: &str) {
    let (init, sw) = send_hex(card, &format!("B02800010B01{amount:08X}{terminal}10"));
    assert_eq!(sw, 0x9000);
    let seslk = indep::session_key(
        Alg::Sm4,
        &dlk(),
        &[&init[8..12], &init[4..6], &[0x80, 0x00]].concat(),
    );
    let time = hex("20260301080000");
    let mac2 = indep::mac(
        Alg::Sm4,
        &seslk,
        &[&amount.to_be_bytes()[..], b"1", &hex(terminal), &time].concat(),
    );
    assert_eq!(
        send_hex(
            card,
            &format!("B02A00000B{}{}04", to_hex(&time), to_hex(&mac2))
        )
        .1,
        0x9000
    );
}

#[test]
fn a_purchase_of_the_default_card_through_the_default_psam() {
    let (mut card, mut psam) = default_pair();
    let terminal = "000000000000"; // the default PSAM's 0016
    load(&mut card, 200_00, terminal);
    enter_sm4(&mut psam);
    assert_eq!(to_hex(&ok(&mut psam, "00B0990004")), "00000000");
    let amounts = format!("{:08X}{:08X}{:08X}", 45_67, 3_00, 12_00);
    let (init, status) = send_hex(
        &mut card,
        &format!("B028010113 01{amounts}{terminal}16").replace(' ', ""),
    );
    assert_eq!(status, 0x9000);
    let (seq, random) = (to_hex(&init[14..16]), to_hex(&init[18..22]));
    assert_eq!((init[16], init[17]), (0x01, 0x03));
    let (date, time) = ("20260320", "093000");
    // 80 70: random ‖ seq ‖ amounts ‖ type ‖ date ‖ time ‖ version ‖ algorithm ‖ factors.
    let r = ok(
        &mut psam,
        &format!("807001002C{random}{seq}{amounts}32{date}{time}0103{CARD_FACTOR}{CITY_FACTOR}08"),
    );
    assert_eq!(r.len(), 8);
    let (ttsn, mac1) = (to_hex(&r[..4]), to_hex(&r[4..]));
    assert_eq!(ttsn, "00000000", "use, then increment");
    assert_eq!(to_hex(&ok(&mut psam, "00B0990004")), "00000001");
    // MAC1 as an independent implementation computes it from the card's DPK.
    let sespk = indep::session_key(
        Alg::Sm4,
        &dpk(),
        &hex(&format!("{random}{seq}{}", &ttsn[4..])),
    );
    let mac_data = hex(&format!("{amounts}32{terminal}{date}{time}"));
    assert_eq!(mac1, to_hex(&indep::mac(Alg::Sm4, &sespk, &mac_data)));
    // DEBIT FOR PURCHASE with the PSAM's TTSN and MAC1; the card answers TAC ‖ MAC2.
    let (tac_mac2, status) = send_hex(&mut card, &format!("B02C01000F{ttsn}{date}{time}{mac1}08"));
    assert_eq!(status, 0x9000);
    let (tac, mac2) = (to_hex(&tac_mac2[..4]), to_hex(&tac_mac2[4..]));
    let tac_data = hex(&format!("{amounts}32{terminal}{ttsn}{date}{time}"));
    assert_eq!(tac, to_hex(&indep::mac(Alg::Sm4, &dtk(), &tac_data)), "TAC");
    // 80 72 checks MAC2; a second one has no purchase: 6901.
    ok(&mut psam, &format!("8072000004{mac2}"));
    assert_eq!(sw(&mut psam, &format!("8072000004{mac2}")), 0x6901);
    let (balance, _) = send_hex(&mut card, "B026000104");
    assert_eq!(to_hex(&balance), format!("{:08X}", 200_00 - 45_67));
}

#[test]
fn init_and_credit_sam_for_purchase_status_words_and_choices() {
    for (options, want_ttsn, bad_sw) in [
        (PsamOptions::default(), "00000000", 0x9302),
        (
            PsamOptions {
                ttsn: TtsnTiming::IncrementThenUse,
                mac2_failure: Mac2Failure::Warning63Cf,
                ..PsamOptions::default()
            },
            "00000001",
            0x63CF,
        ),
    ] {
        let p = Profile::default_gen3();
        let image = p.psam().unwrap();
        let mut psam = Card::load(
            RamNvm::new(image.image),
            SplitMixRng::new(3),
            (),
            Psam::new(options),
            CosOptions::default(),
        )
        .unwrap();
        psam.power_on(Interface::Contact).unwrap();
        enter_sm4(&mut psam);
        let head = "11223344 0005 000003E8 00000000 00000000 32 20260320 093000".replace(' ', "");
        assert_eq!(sw(&mut psam, "8072000004 00000000"), 0x6901);
        // Lc 1C + 8N: N = 0 refused by default, N = 1 with a 2-level key: 6A88.
        assert_eq!(sw(&mut psam, &format!("807001001C{head}0103")), 0x6700);
        assert_eq!(
            sw(&mut psam, &format!("8070010024{head}0103{CARD_FACTOR}")),
            0x6A88
        );
        // Another algorithm or key version: 6A88; P1 other than 01: 6A86.
        assert_eq!(
            sw(
                &mut psam,
                &format!("807001002C{head}0101{CARD_FACTOR}{CITY_FACTOR}")
            ),
            0x6A88
        );
        assert_eq!(
            sw(
                &mut psam,
                &format!("807001002C{head}0203{CARD_FACTOR}{CITY_FACTOR}")
            ),
            0x6A88
        );
        assert_eq!(
            sw(
                &mut psam,
                &format!("807000002C{head}0103{CARD_FACTOR}{CITY_FACTOR}")
            ),
            0x6A86
        );
        let r = ok(
            &mut psam,
            &format!("807001002C{head}0103{CARD_FACTOR}{CITY_FACTOR}08"),
        );
        assert_eq!(to_hex(&r[..4]), want_ttsn);
        assert_eq!(sw(&mut psam, "807200000300000000"), 0x6700);
        assert_eq!(sw(&mut psam, "8072000004 00000000"), bad_sw);
        assert_eq!(sw(&mut psam, "8072000004 00000000"), 0x6901);
        // The DES environment holds no purchase key of the SM4 card.
        enter_des(&mut psam);
        assert_eq!(
            sw(
                &mut psam,
                &format!("807001002C{head}0101{CARD_FACTOR}{CITY_FACTOR}")
            ),
            0x6A88
        );
    }
}

#[test]
fn the_default_psam_at_level_3_serves_the_same_card() {
    let mut p = Profile::default_gen3();
    p.toml.psam = Some(sscard_host::profile::PsamToml {
        level: Some(3),
        ..Default::default()
    });
    let image = p.psam().unwrap();
    let app = image.application();
    let mut psam = Card::load(
        RamNvm::new(image.image),
        SplitMixRng::new(3),
        (),
        app,
        CosOptions::default(),
    )
    .unwrap();
    psam.power_on(Interface::Contact).unwrap();
    enter_sm4(&mut psam);
    // RKSSSE (card id 0A) at city level: PSAM id 18 + 5 = 1D, 1 level, encryption.
    let challenge = "0102030405060708";
    ok(
        &mut psam,
        &format!("BFDE271D18{CARD_FACTOR}{challenge}0000000000000000"),
    );
    let ad_block = ok(
        &mut psam,
        &format!(
            "80FA000010{}",
            "4242424242424242 0000000000000000".replace(' ', "")
        ),
    );
    let rk = card_key(&[0xAA; 16]);
    let sk = indep::session_key(Alg::Sm4, &rk, &hex(challenge));
    let ad: Vec<u8> = (0..8).map(|i| ad_block[i] ^ ad_block[i + 8]).collect();
    assert_eq!(ad, indep::auth_data(Alg::Sm4, &sk, &[0x42; 8]));
    p.toml.psam = Some(sscard_host::profile::PsamToml {
        level: Some(1),
        ..Default::default()
    });
    assert!(p.psam().is_err());
}

fn tear_psam() -> TearCard<SplitMixRng, (), RamNvm<Vec<u8>>, Psam> {
    let image = Profile::default_gen3().psam().unwrap();
    let app = image.application();
    Card::load(
        TearingNvm::new(RamNvm::new(image.image)),
        SplitMixRng::new(5),
        (),
        app,
        CosOptions::default(),
    )
    .unwrap()
}

fn read_ttsn(c: &mut TearCard<SplitMixRng, (), RamNvm<Vec<u8>>, Psam>) -> u32 {
    let (_, sw) = send_hex(c, SELECT_DDF1);
    assert_eq!(sw, 0x9000);
    assert_eq!(send_hex(c, SELECT_DF01).1, 0x9000);
    let (d, sw) = send_hex(c, "00B0990004");
    assert_eq!(sw, 0x9000);
    u32::from_be_bytes(d.try_into().unwrap())
}

#[test]
fn ttsn_survives_every_power_cut_old_or_new_and_never_goes_back() {
    let head = "11223344 0005 000003E8 00000000 00000000 32 20260320 093000 0103".replace(' ', "");
    let init = hex(&format!("807001002C{head}{CARD_FACTOR}{CITY_FACTOR}08"));
    let scenario = [
        Step::Apdu(hex(SELECT_DDF1)),
        Step::Apdu(hex(SELECT_DF01)),
        Step::Apdu(init.clone()),
        Step::Apdu(init),
    ];
    let checked = tear_every_write(tear_psam, &scenario, |c, point| {
        let ttsn = read_ttsn(c);
        // Each 80 70 is one commit: 0 before the first, 2 after the second.
        let lowest = point.commit + u32::from(point.landed);
        if ttsn != lowest {
            return Err(format!(
                "TTSN {ttsn} after commit {} (landed {})",
                point.commit, point.landed
            )
            .into());
        }
        Ok(())
    })
    .unwrap();
    assert!(checked > 0);
}

#[test]
fn key_writes_survive_every_power_cut_old_or_new() {
    // KID-03 authentication, then CREATE KEY under the SM4 ADF-MK; the deterministic RNG
    // gives the same challenges every run, so the APDUs are computed on a clean card.
    let mut clean = tear_psam();
    clean.power_on(Interface::Contact).unwrap();
    let mut steps = vec![hex(SELECT_DDF1), hex(SELECT_DF01)];
    for s in &steps {
        assert_eq!(send(&mut clean, s).1, 0x9000);
    }
    let (challenge, _) = send_hex(&mut clean, "0084000008");
    steps.push(hex("0084000008"));
    let sk = indep::session_key(Alg::Sm4, &[0xE3; 16], &challenge);
    let ext = hex(&format!(
        "0082000310{}{}",
        to_hex(&indep::auth_data(Alg::Sm4, &sk, &[1; 8])),
        "0101010101010101"
    ));
    assert_eq!(send(&mut clean, &ext).1, 0x9000);
    steps.push(ext);
    let (challenge, _) = send_hex(&mut clean, "0084000004");
    steps.push(hex("0084000004"));
    let record = [&[0x27, 0x30, 0x00, 0x02, 0, 0, 0, 0][..], &[0x66; 16]].concat();
    let create = hex(&key_apdu(
        Alg::Sm4,
        &[0xE5; 16],
        &challenge,
        0x00,
        0x13,
        &record,
    ));
    assert_eq!(send(&mut clean, &create).1, 0x9000);
    steps.push(create);
    let scenario: Vec<Step> = steps.into_iter().map(Step::Apdu).collect();
    let probe = format!("BFDE273018{CARD_FACTOR}{}", "00".repeat(16));
    tear_every_write(tear_psam, &scenario, |c, point| {
        assert_eq!(send_hex(c, SELECT_DDF1).1, 0x9000);
        assert_eq!(send_hex(c, SELECT_DF01).1, 0x9000);
        let status = send_hex(c, &probe).1;
        let want = if point.landed { 0x9000 } else { 0x6A88 };
        if point.step == scenario.len() - 1 && status != want {
            return Err(format!("key present: {status:04X}, landed {}", point.landed).into());
        }
        Ok(())
    })
    .unwrap();
}

#[test]
fn the_profile_psam_carries_its_choices_in_its_memory() {
    // A non-default choice, stored at personalization, read back by load_stored alone.
    let text = format!(
        "{}\n[psam]\nmac2_failure = \"63CF\"\n",
        sscard_host::profile::DEFAULT_GEN3
    );
    let profile = sscard_host::profile::Profile::parse(&text).unwrap();
    let image = profile.psam().unwrap();
    assert_ne!(image.options, PsamOptions::default());
    let card: TestPsam = Card::load_stored(
        RamNvm::new(image.image.clone()),
        SplitMixRng::new(1),
        (),
        Psam::from_stored,
    )
    .unwrap();
    assert_eq!(card.df_applications().options(), &image.options);
    assert_eq!(*card.options(), CosOptions::default());
}
