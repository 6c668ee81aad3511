//! Shared test support of the root package: cards from the shipped profiles. The hex
//! helpers, the T=0 loop and the independent algorithms come from `sscard-testkit`.
#![allow(dead_code, unused_imports, clippy::restriction)]

use sscard_core::nvm::{Nvm, RamNvm};
use sscard_core::rng::{CardRng, SplitMixRng};
use sscard_core::{Applets, Card, DfApplication, Interface};
use sscard_host::profile::Profile;
use sscard_ssc::SscCard;
pub use sscard_testkit::exchange::{hex, send, send_hex, to_hex, tx};
pub use sscard_testkit::indep;

pub type TestCard = SscCard<RamNvm<Vec<u8>>, SplitMixRng>;

pub fn card_from(profile: &Profile, seed: u64) -> TestCard {
    let mut card = Card::load(
        RamNvm::new(profile.image().unwrap()),
        SplitMixRng::new(seed),
        (),
        profile.applications(),
        profile.options(),
    )
    .unwrap();
    card.power_on(Interface::Contact).unwrap();
    card
}

/// The default gen-3 profile's TOML with `fen` in its medical purse.
pub fn funded_gen3(fen: u32) -> String {
    sscard_host::profile::DEFAULT_GEN3.replace("balance = 0 ", &format!("balance = {fen} "))
}

pub fn profile(name: &str) -> Profile {
    Profile::load(std::path::Path::new(&format!(
        "{}/vectors/profiles/{name}",
        env!("CARGO_MANIFEST_DIR")
    )))
    .unwrap()
}

pub const SELECT_SSSE: &str = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00";

/// The default profiles' city code (区号) and ATR historical bytes, whose bytes 6–13
/// are the card factor.
pub const AREA: &str = "519900";
pub const HIST: &str = "00815353438660519900000001";

/// The default card's SM4 key of an issuer root (LD/T 32 P4 §8.2 diversification,
/// independent implementation).
pub fn card_key(root: &[u8]) -> Vec<u8> {
    indep::card_key(indep::Alg::Sm4, root, AREA, &hex(HIST))
}

/// The default card's purse keys (LD/T 32 P7 §11), each diversified from its issuer
/// root: load (DLK), purchase (DPK) and transaction authentication (DTK).
pub fn dlk() -> Vec<u8> {
    card_key(&[0x77; 16])
}
pub fn dpk() -> Vec<u8> {
    card_key(&[0x88; 16])
}
pub fn dtk() -> Vec<u8> {
    card_key(&[0x99; 16])
}

/// The terminal number the purse tests send (the area code and a terminal 000001).
pub const TERMINAL: &str = "519900000001";

/// VERIFY (LD/T 32 P5 §6.14) of the default card's PIN 123456, of a wrong PIN, and with
/// no data (the tries left, `63Cx`).
pub const VERIFY_RIGHT: &str = "0020000003123456";
pub const VERIFY_WRONG: &str = "0020000003999999";
pub const VERIFY_PROBE: &str = "00200000";

/// Sends each command in turn (raw, no T=0 loop) and checks its response, both in hex.
pub fn assert_responses<N: Nvm, R: CardRng, A: Applets, D: DfApplication>(
    card: &mut Card<N, R, A, D>,
    steps: &[(&str, &str)],
) {
    for &(apdu, response) in steps {
        assert_eq!(tx(card, apdu), response, "response to {apdu}");
    }
}

/// EXTERNAL AUTHENTICATE (LD/T 32 P7 §6.4) with key `key_id`: the authentication data
/// made with `key` from the card's `challenge` and the terminal's random `p`, then `p`.
/// `spoil` = (index, mask) flips bits of the authentication data to make it wrong.
pub fn external_auth_command(
    alg: indep::Alg,
    key_id: u8,
    key: &[u8],
    challenge: &[u8],
    p: [u8; 8],
    spoil: Option<(usize, u8)>,
) -> Vec<u8> {
    let session_key = indep::session_key(alg, key, challenge);
    let mut auth_data = indep::auth_data(alg, &session_key, &p);
    if let Some((index, mask)) = spoil {
        auth_data[index] ^= mask;
    }
    let mut cmd = vec![0x00, 0x82, 0x00, key_id, 0x10];
    cmd.extend(auth_data);
    cmd.extend(p);
    cmd
}
