//! An in-process terminal session: the default gen-3 card, read as the national terminal
//! interface's `iReadCardBas` does (HSM mode: the terminal holds the profile's root keys).
//!
//! `cargo run --example terminal_session`

use sscard_core::rng::{CardRng, SplitMixRng};
use sscard_core::{Card, Interface};
use sscard_host::link::InProcess;
use sscard_host::national::read_card_bas;
use sscard_host::profile::{Profile, hex};
use sscard_host::security::{Hsm, HsmKeys};
use sscard_host::terminal::Terminal;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let profile = Profile::default_gen3();
    let card = Card::load(
        sscard_core::nvm::RamNvm::new(profile.image()?),
        SplitMixRng::new(1),
        (),
        profile.applications(),
        profile.options(),
    )?;
    let mut terminal = Terminal::new(InProcess::new(card, Interface::Contact)?);
    let keys = HsmKeys {
        irk: hex("keys.irk", &profile.toml.keys.irk)?,
        rk: hex("keys.rk", &profile.toml.keys.rk)?,
        card_level: false,
    };
    let mut terminal_rng = SplitMixRng::new(2);
    let bas = read_card_bas(&mut terminal, &mut Hsm::from(&keys), &mut |b| {
        terminal_rng.fill(b)
    })?;
    for line in &terminal.trace {
        println!("{line}");
    }
    println!("iReadCardBas: {bas}");
    Ok(())
}
