//! Personas: the card states terminal test plans ask for, shipped ready to serve
//! (`sscard run --persona NAME`, `sscard ctl persona NAME`).
//!
//! Each persona is a small overlay on a shipped profile (the default gen-3 card unless
//! it says otherwise): a few profile fields changed, and/or a state change made after
//! personalization — through real card commands where the card has one a terminal could
//! send without issuer keys (wrong PINs), or at personalization level where the change
//! needs an issuer's MAC (an application or the card blocked: the lifecycle byte the
//! APPLICATION BLOCK / CARD BLOCK commands write, LD/T 32 P5 §6.1, §6.2).

use crate::VirtualCard;
use crate::virtual_card::{CardError, HostRng, SscVirtualCard};
use sscard_core::card::applet::Interface;
use sscard_core::fs::layout::{
    CARD_BLOCKED, CARD_STATE_AT, Header, JOURNAL_AT, LIFECYCLE_BLOCKED, OFF_LIFECYCLE, scan,
};
use sscard_core::nvm::{RamNvm, Store};
use sscard_host::profile::{DEFAULT_GEN3, Profile};
use std::path::Path;

/// The shipped personas: name and what it shows, one line each.
pub const PERSONAS: &[(&str, &str)] = &[
    (
        "app-blocked",
        "social-security application (SSSE) blocked: SELECT answers 9303",
    ),
    ("card-blocked", "card blocked: every command answers 6A81"),
    (
        "pin-blocked",
        "holder PIN blocked by three wrong tries: VERIFY answers 6983",
    ),
    (
        "pin-one-try",
        "holder PIN with one try left: VERIFY answers 63C1",
    ),
    ("expired", "card expired: EF05 expiry date 2020-01-01"),
    (
        "purse-full",
        "medical purse at its limit (4294967295 fen): a load answers 6985",
    ),
    ("gen1", "first-generation card (DES/3DES)"),
    ("gen2-3des", "second-generation card, 3DES"),
    (
        "gen3-contactless",
        "gen-3 card served contactless; purse and PKI contact-only",
    ),
    (
        "pboc-ec-low",
        "PBOC electronic cash balance 0.01 yuan (9F79 = 000000000001)",
    ),
];

const GEN1: &str = include_str!("../../../vectors/profiles/gen1.toml");
const GEN2_3DES: &str = include_str!("../../../vectors/profiles/gen2-3des.toml");
const GEN3_CONTACTLESS: &str = include_str!("../../../vectors/profiles/gen3-contactless.toml");

/// The SSSE's DF name, "sx1.sh.社会保障" in GBK.
const SSSE_NAME: &[u8] = &[
    0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF,
];

/// A persona made ready: the card and the interface it is served through.
#[derive(Debug)]
pub struct PersonaCard {
    /// The card, unpowered.
    pub card: SscVirtualCard,
    /// The interface it is meant for.
    pub interface: Interface,
}

/// A profile field to change: a dotted path (`ef05.expiry_date`; `[0]` for the first
/// element of an array of tables) and its new value.
type Edit = (&'static str, toml::Value);

/// What to do after personalization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum After {
    Nothing,
    BlockSsse,
    BlockCard,
    WrongPins(u8),
}

fn persona_recipe(name: &str) -> Option<(&'static str, Vec<Edit>, After, Interface)> {
    let contact = Interface::Contact;
    Some(match name {
        "app-blocked" => (DEFAULT_GEN3, vec![], After::BlockSsse, contact),
        "card-blocked" => (DEFAULT_GEN3, vec![], After::BlockCard, contact),
        "pin-blocked" => (DEFAULT_GEN3, vec![], After::WrongPins(3), contact),
        "pin-one-try" => (DEFAULT_GEN3, vec![], After::WrongPins(2), contact),
        "expired" => (
            DEFAULT_GEN3,
            vec![("ef05.expiry_date", "20200101".into())],
            After::Nothing,
            contact,
        ),
        "purse-full" => (
            DEFAULT_GEN3,
            vec![("purse.balance", i64::from(u32::MAX).into())],
            After::Nothing,
            contact,
        ),
        "gen1" => (GEN1, vec![], After::Nothing, contact),
        "gen2-3des" => (GEN2_3DES, vec![], After::Nothing, contact),
        "gen3-contactless" => (
            GEN3_CONTACTLESS,
            vec![],
            After::Nothing,
            Interface::Contactless,
        ),
        "pboc-ec-low" => (
            DEFAULT_GEN3,
            vec![("pboc.applications[0].ec.balance", "0.01".into())],
            After::Nothing,
            contact,
        ),
        _ => return None,
    })
}

/// Sets `path` in `table` to `value`; the path must exist (a typo is an error, not a new
/// field the profile would refuse later with a less helpful message).
fn set_field(table: &mut toml::Table, path: &str, value: toml::Value) -> Result<(), String> {
    let mut parts = path.split('.').peekable();
    let mut here = table;
    while let Some(part) = parts.next() {
        let (key, index) = match part.split_once('[') {
            Some((key, rest)) => (key, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        if parts.peek().is_none() {
            return match here.get_mut(key) {
                Some(slot) => {
                    *slot = value;
                    Ok(())
                }
                None => Err(format!("persona field {path}: no {key}")),
            };
        }
        let next = here
            .get_mut(key)
            .ok_or_else(|| format!("persona field {path}: no {key}"))?;
        let next = match (next, index) {
            (toml::Value::Array(items), Some(i)) => items.get_mut(i),
            (other, None) => Some(other),
            _ => None,
        };
        here = next
            .and_then(toml::Value::as_table_mut)
            .ok_or_else(|| format!("persona field {path}: {part} is not a table"))?;
    }
    Err(format!("persona field {path}: empty path"))
}

/// Writes one lifecycle byte of a personalized memory (the byte APPLICATION BLOCK or
/// CARD BLOCK would write).
fn block(nvm: &mut [u8], after: After) -> Result<(), String> {
    let at = match after {
        After::BlockCard => CARD_STATE_AT,
        After::BlockSsse => {
            let store = Store::new(RamNvm::new(&mut *nvm), JOURNAL_AT);
            let header = Header::load(store.nvm()).map_err(|e| e.to_string())?;
            let index = scan(&store, &header, |e| {
                (e.name() == SSSE_NAME).then_some(e.index)
            })
            .map_err(|e| e.to_string())?
            .ok_or("the profile has no SSSE")?;
            header
                .entry_at(index)
                .ok_or("the SSSE entry is out of the table")?
                + OFF_LIFECYCLE
        }
        After::Nothing | After::WrongPins(_) => return Ok(()),
    };
    let byte = match after {
        After::BlockCard => CARD_BLOCKED,
        _ => LIFECYCLE_BLOCKED,
    };
    let slot = nvm.get_mut(at).ok_or("card memory too short")?;
    *slot = byte;
    Ok(())
}

/// Sends wrong PINs to the SSSE, as a terminal would: each VERIFY takes a try.
fn wrong_pins(card: &mut SscVirtualCard, tries: u8) -> Result<(), String> {
    const SELECT_SSSE: [u8; 20] = [
        0x00, 0xA4, 0x04, 0x0C, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB,
        0xE1, 0xB1, 0xA3, 0xD5, 0xCF,
    ];
    const WRONG_PIN: [u8; 8] = [0x00, 0x20, 0x00, 0x00, 0x03, 0x99, 0x99, 0x99];
    card.power_on();
    let mut answer = Vec::new();
    card.transmit(&SELECT_SSSE, &mut answer);
    if answer != [0x90, 0x00] {
        return Err(format!("SELECT SSSE answered {answer:02X?}"));
    }
    for _ in 0..tries {
        answer.clear();
        card.transmit(&WRONG_PIN, &mut answer);
        if !matches!(answer.as_slice(), [0x63, _] | [0x69, 0x83]) {
            return Err(format!("a wrong PIN answered {answer:02X?}"));
        }
    }
    card.power_off();
    Ok(())
}

/// The profile of persona `name` (its overlay applied), or `None` for an unknown name.
pub fn profile(name: &str) -> Option<Result<Profile, String>> {
    let (base, edits, _, _) = persona_recipe(name)?;
    Some(overlay(base, edits).map(|p| p.with_label(name)))
}

fn overlay(base: &str, edits: Vec<Edit>) -> Result<Profile, String> {
    if edits.is_empty() {
        return Profile::parse(base).map_err(|e| e.to_string());
    }
    let mut table: toml::Table = base.parse().map_err(|e| format!("{e}"))?;
    for (path, value) in edits {
        set_field(&mut table, path, value)?;
    }
    let text = toml::to_string(&table).map_err(|e| e.to_string())?;
    Profile::parse(&text).map_err(|e| e.to_string())
}

/// Persona `name` as a card in memory, or — when `name` is not a persona — the profile
/// file of that path. `rng` is the card's randomness.
pub fn build(name: &str, rng: HostRng) -> Result<PersonaCard, String> {
    let Some((base, edits, after, interface)) = persona_recipe(name) else {
        let path = Path::new(name);
        if !path.exists() {
            return Err(format!(
                "{name}: no such persona (see `sscard personas`) and no such profile file"
            ));
        }
        let profile = Profile::load(path).map_err(|e| format!("{name}: {e}"))?;
        let card = SscVirtualCard::from_profile(&profile, rng, Interface::Contact)
            .map_err(|e| format!("{name}: {e}"))?;
        return Ok(PersonaCard {
            card,
            interface: Interface::Contact,
        });
    };
    let profile = overlay(base, edits)?.with_label(name);
    let fail = |e: CardError| format!("persona {name}: {e}");
    let mut nvm = profile
        .image()
        .map_err(|e| format!("persona {name}: {e}"))?;
    block(&mut nvm, after)?;
    let mut card = SscVirtualCard::new(
        nvm,
        profile.options(),
        profile.ssc_options(),
        rng,
        Interface::Contact,
    )
    .map_err(fail)?;
    card.set_uid(profile.uid());
    if let After::WrongPins(tries) = after {
        wrong_pins(&mut card, tries)?;
    }
    card.set_interface(interface).map_err(fail)?;
    Ok(PersonaCard { card, interface })
}
