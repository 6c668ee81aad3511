//! Runs the APDU scripts of `vectors/pboc/` in-process on a PBOC-only card (the subset of
//! the project's script format they use: `C-APDU => response` with `XX` wildcards, a bare
//! SW, `contact` / `contactless`, `profile`). The project's runner (`tests/vectors.rs`)
//! runs the same files on the full gen-3 card of `vectors/profiles/gen3-default.toml`.
#![allow(clippy::restriction)]

mod common;

use common::{hex, raw, to_hex};
use sscard_core::Interface;

/// Does `actual` (data ‖ SW, hex) match `expected` (hex with `XX` wildcards, or a bare SW)?
fn matches(expected: &str, actual: &str) -> bool {
    let e: String = expected.chars().filter(|c| !c.is_whitespace()).collect();
    if e.len() == 4 {
        return actual.ends_with(&e.to_uppercase());
    }
    e.len() == actual.len()
        && e.as_bytes()
            .chunks(2)
            .zip(actual.as_bytes().chunks(2))
            .all(|(x, a)| x == b"XX" || x.eq_ignore_ascii_case(a))
}

fn run(name: &str, text: &str) -> usize {
    let mut card = None;
    let mut count = 0;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        // Directives of the project's script format (vectors/README.md): the interface
        // powers a fresh card; `profile` names the gen-3 card with the same `[pboc]`
        // section, whose PBOC behaviour is this PBOC-only card's.
        match line {
            "contact" | "contactless" => {
                let interface = if line == "contact" {
                    Interface::Contact
                } else {
                    Interface::Contactless
                };
                card = Some(common::card(interface));
                continue;
            }
            _ if line.starts_with("profile ") => continue,
            _ => {}
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (cmd, expected) = line
            .split_once("=>")
            .unwrap_or_else(|| panic!("{name}:{}: no =>", n + 1));
        let card = card.get_or_insert_with(|| common::card(Interface::Contact));
        let (data, sw) = raw(card, &hex(cmd));
        let actual = format!("{}{sw:04X}", to_hex(&data));
        assert!(
            matches(expected, &actual),
            "{name}:{}: {cmd}\n expected {expected}\n got      {actual}",
            n + 1
        );
        count += 1;
    }
    count
}

#[test]
fn wildcard_matching() {
    assert!(matches("9000", "01029000"));
    assert!(matches("01XX9000", "01029000"));
    assert!(!matches("01XX9000", "0102039000"));
    assert!(!matches("6A83", "9000"));
}

#[test]
fn every_script_passes() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors/pboc");
    let mut total = 0;
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "apdu") {
            let text = std::fs::read_to_string(&path).unwrap();
            total += run(&path.display().to_string(), &text);
            files += 1;
        }
    }
    assert!(files >= 3, "{files} scripts");
    assert!(total > 100, "{total} commands");
}
