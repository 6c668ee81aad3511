//! The main job: personalize the default card and run a terminal session against it in
//! this process — what the national terminal interface's `iReadCardBas` does, then a PIN
//! verification — printing an annotated APDU trace and the `iReadCardBas` output string.

use crate::link::{CardLink, InProcess};
use crate::national::read_card_bas;
use crate::profile::{Profile, hex};
use crate::security::{Hsm, HsmKeys};
use crate::terminal::Terminal;
use sscard_core::nvm::RamNvm;
use sscard_core::rng::{CardRng, SplitMixRng};
use sscard_core::{Card, Interface};

/// Runs the demo on `profile`; `seed` drives both the card's and the terminal's random
/// numbers so that runs are reproducible.
pub fn run(profile: &Profile, seed: u64, echo: bool) -> Result<String, Box<dyn std::error::Error>> {
    let image = profile.image()?;
    let card = Card::load(
        RamNvm::new(image),
        SplitMixRng::new(seed),
        (),
        profile.applications(),
        profile.options(),
    )?;
    let mut terminal = Terminal::new(InProcess::new(card, Interface::Contact)?);
    terminal.echo = echo;
    if echo {
        println!("ATR {}", crate::annotate::hex(&terminal.link.atr()?));
    }
    let keys = HsmKeys {
        irk: hex("keys.irk", &profile.toml.keys.irk)?,
        rk: hex("keys.rk", &profile.toml.keys.rk)?,
        card_level: profile.toml.keys.level.as_deref() == Some("card"),
    };
    let mut terminal_rng = SplitMixRng::new(seed ^ 0x5EED);
    let bas = read_card_bas(&mut terminal, &mut Hsm::from(&keys), &mut |b| {
        terminal_rng.fill(b)
    })?;
    // PIN verification: probe, then the PIN from the profile.
    let probe = terminal.send(&[0x00, 0x20, 0x00, 0x00, 0x00])?;
    if echo {
        println!("PIN probe: {:04X}", probe.sw);
    }
    let pin = crate::profile::cn(
        "pin.value",
        &profile.toml.pin.value,
        profile.toml.pin.value.len().div_ceil(2),
    )?;
    if !pin.is_empty() {
        let mut verify = vec![0x00, 0x20, 0x00, 0x00, pin.len() as u8];
        verify.extend_from_slice(&pin);
        terminal.expect_ok("VERIFY", &verify)?;
    }
    Ok(bas.to_string())
}
