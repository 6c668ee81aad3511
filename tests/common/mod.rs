//! Shared test support of the root package: cards from the shipped profiles. The hex
//! helpers, the T=0 loop and the independent algorithms come from `sscard-testkit`.
#![allow(dead_code, unused_imports, clippy::restriction)]

use sscard_core::nvm::RamNvm;
use sscard_core::rng::SplitMixRng;
use sscard_core::{Card, Interface};
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

pub fn profile(name: &str) -> Profile {
    Profile::load(std::path::Path::new(&format!(
        "{}/vectors/profiles/{name}",
        env!("CARGO_MANIFEST_DIR")
    )))
    .unwrap()
}

pub const SELECT_SSSE: &str = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00";
