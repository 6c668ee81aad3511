//! The checks behind the cargo-fuzz targets in `fuzz/`, kept here so that the corpus
//! replay test (`tests/fuzz_corpus.rs`) and the proptests run exactly the same code on
//! every `cargo test`, and the targets cannot rot. Not a stable API.
//!
//! Every check takes the fuzz input and returns `Err` with a description when a
//! property fails; the fuzz targets turn that into a panic, which libFuzzer reports.
//! (A panic inside the card code is a failure in itself.)
//!
//! * [`apdu_parse`]: `CommandView::parse` accepts or answers `6700`; an accepted APDU's
//!   fields lie inside the input, and encoding them again parses to the same fields
//!   (byte for byte when the input used the short form).
//! * [`tlv`]: nothing a TLV reader returns lies outside its input (or outside its
//!   parent, for nested objects); accepted objects re-encode to their exact bytes; the
//!   whole-buffer functions agree with the readers.
//! * [`card_session`]: the input is split into APDUs and power events (see
//!   [`split_session`]) and played against a personalized card ([`sample_card`]): while
//!   the card is powered every APDU gets at least a status word, and a valid one;
//!   while it is not, none.

use std::sync::OnceLock;

use sscard_core::apdu::{CommandView, encode_command};
use sscard_core::fs::build::{Capacities, DfSpec, EfSpec, Personalizer, Structure};
use sscard_core::fs::layout::{Access, FileKind, MF};
use sscard_core::nvm::{Nvm, RamNvm};
use sscard_core::rng::{CardRng, SplitMixRng};
use sscard_core::tlv::{
    BerReader, BerWriter, DolReader, MAX_DEPTH, SimpleReader, Tag, dol_value_len, find, find_path,
    parse_one, parse_simple, validate, write_simple,
};
use sscard_core::{Applets, Card, CosOptions, Interface, Status};

/// True if `inner` is empty or lies within `outer` (the same memory, not equal bytes).
fn within(outer: &[u8], inner: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr_range(), inner.as_ptr_range());
    inner.is_empty() || (o.start <= i.start && i.end <= o.end)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

// ---------------------------------------------------------------------------------------
// APDU parsing

/// Parse, field and round-trip checks of a command APDU.
pub fn apdu_parse(data: &[u8]) -> Result<(), String> {
    let cmd = match CommandView::parse(data) {
        Ok(cmd) => cmd,
        Err(Status::WrongLength) => return Ok(()),
        Err(other) => return Err(format!("{}: parse error {other:?}, not 6700", hex(data))),
    };
    let fail = |what: &str| Err(format!("{}: {what}", hex(data)));
    if cmd.raw() != data || data.get(..4) != Some(&cmd.header()[..]) {
        return fail("raw bytes or header differ from the input");
    }
    if !within(data, cmd.data()) || !data.ends_with(cmd.data()) && cmd.le().is_none() {
        return fail("command data does not lie at the end of the input");
    }
    let le_range = if cmd.is_extended() { 65_536 } else { 256 };
    if cmd.le().is_some_and(|le| le == 0 || le > le_range) {
        return fail("Le out of range");
    }
    let mut out = vec![0u8; data.len() + 8];
    let n = encode_command(cmd.header(), cmd.data(), cmd.le(), &mut out)
        .map_err(|e| format!("{}: re-encoding failed: {e:?}", hex(data)))?;
    let encoded = out.get(..n).unwrap_or_default();
    let again = CommandView::parse(encoded).map_err(|e| {
        format!(
            "{}: re-encoded as {} which fails: {e:?}",
            hex(data),
            hex(encoded)
        )
    })?;
    if (again.header(), again.data(), again.le()) != (cmd.header(), cmd.data(), cmd.le()) {
        return Err(format!(
            "{}: re-encoded as {}, fields differ",
            hex(data),
            hex(encoded)
        ));
    }
    // The short form is the one the encoder prefers: a short input comes back unchanged.
    if !cmd.is_extended() && encoded != data {
        return Err(format!("{}: re-encoded as {}", hex(data), hex(encoded)));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// TLV

/// Bounds, round-trip and consistency checks of the BER-TLV, simple-TLV and DOL readers.
pub fn tlv(data: &[u8]) -> Result<(), String> {
    let fail = |what: String| Err(format!("{}: {what}", hex(data)));
    check_ber_level(data, BerReader::new(data), 1)?;
    check_ber_level(data, BerReader::new(data).skipping_padding(), 1)?;

    let valid = validate(data).is_ok();
    let top_level_ok = BerReader::new(data).all(|item| item.is_ok());
    if valid && !top_level_ok {
        return fail("validate accepts what the reader rejects".into());
    }
    if let Ok(one) = parse_one(data)
        && !std::ptr::eq(one.raw(), data)
    {
        return fail("parse_one accepted without using the whole input".into());
    }
    // Search for the first tags present and for tags of the card's FCI.
    let first_tags: Vec<Tag> = BerReader::new(data)
        .flatten()
        .map(|t| t.tag())
        .take(2)
        .collect();
    let fci_tags = [Tag(0x6F), Tag(0x84), Tag(0xA5), Tag(0x88), Tag(0x9F0C)];
    for tag in first_tags.iter().chain(&fci_tags) {
        match find(data, *tag) {
            Ok(Some(hit)) if hit.tag() != *tag || !within(data, hit.raw()) => {
                return fail(format!(
                    "find({tag:X?}) returned {:X?} outside the input",
                    hit
                ));
            }
            Err(e) if valid => return fail(format!("find({tag:X?}) fails ({e:?}) on valid input")),
            _ => {}
        }
    }
    if let Ok(Some(hit)) = find_path(data, &first_tags)
        && !within(data, hit.raw())
    {
        return fail("find_path returned an object outside the input".into());
    }

    // Simple-TLV: consecutive objects that re-encode to exactly the bytes they came from.
    let mut at = 0usize;
    for item in SimpleReader::new(data) {
        let Ok(object) = item else { break };
        let mut buf = vec![0u8; object.value.len() + 4];
        let n = write_simple(&mut buf, object.tag, object.value)
            .map_err(|e| format!("{}: write_simple failed: {e:?}", hex(data)))?;
        let source = data.get(at..at + n);
        if !within(data, object.value) || source != buf.get(..n) {
            return fail(format!(
                "simple-TLV at {at} does not re-encode to its bytes"
            ));
        }
        at += n;
    }
    if let Ok(object) = parse_simple(data)
        && (!within(data, object.value) || !data.ends_with(object.value))
    {
        return fail("parse_simple's value is not the tail of the input".into());
    }

    // DOL: the total the list asks for is the sum of its entries.
    let mut total = Some(0usize);
    for entry in DolReader::new(data) {
        match entry {
            Ok(e) if !e.tag.is_valid() => return fail(format!("DOL entry with bad tag {e:?}")),
            Ok(e) => total = total.and_then(|t| t.checked_add(e.len)),
            Err(_) => total = None,
        }
    }
    if let Some(total) = total
        && dol_value_len(data) != Ok(total)
    {
        return fail(format!(
            "dol_value_len disagrees with the entries ({total})"
        ));
    }
    Ok(())
}

/// Each object of `level` lies inside `parent`, its value is the tail of its bytes, and
/// writing its tag and value gives its bytes back; then the same for its children.
fn check_ber_level(parent: &[u8], level: BerReader<'_>, depth: usize) -> Result<(), String> {
    for item in level {
        let Ok(object) = item else { break };
        let (raw, value) = (object.raw(), object.value());
        if !within(parent, raw) || !within(raw, value) || !raw.ends_with(value) {
            return Err(format!(
                "{} (in {}): object outside its parent or value not at its end",
                hex(raw),
                hex(parent)
            ));
        }
        let mut buf = vec![0u8; raw.len() + 8];
        let mut writer = BerWriter::new(&mut buf);
        writer.tlv(object.tag(), value).map_err(|e| {
            format!(
                "{}: writer refuses what the reader accepted: {e:?}",
                hex(raw)
            )
        })?;
        if writer.written() != raw {
            return Err(format!(
                "{}: re-encodes as {}",
                hex(raw),
                hex(writer.written())
            ));
        }
        if depth < MAX_DEPTH + 2
            && let Ok(children) = object.children()
        {
            check_ber_level(value, children, depth + 1)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Card sessions

/// One event of a card session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A command APDU (any bytes).
    Apdu(Vec<u8>),
    /// Power off, then on through this interface.
    PowerCycle(Interface),
    /// Power off (the card stays unpowered until the next power cycle).
    PowerOff,
}

/// Splits a fuzz input into session events, one length-prefixed record at a time:
///
/// | first byte | event |
/// |---|---|
/// | `00`–`FB` | an APDU of that many following bytes (fewer if the input ends) |
/// | `FC` | an APDU whose length is the next two bytes, big-endian (extended APDUs) |
/// | `FD` | power off |
/// | `FE` | power cycle through the contactless interface |
/// | `FF` | power cycle through the contacts |
pub fn split_session(data: &[u8]) -> Vec<Event> {
    let mut events = Vec::new();
    let mut rest = data;
    while let Some((&first, tail)) = rest.split_first() {
        let (len, body) = match first {
            0xFD => (None, Some(Event::PowerOff)),
            0xFE => (None, Some(Event::PowerCycle(Interface::Contactless))),
            0xFF => (None, Some(Event::PowerCycle(Interface::Contact))),
            0xFC => match tail {
                [hi, lo, ..] => (Some((usize::from(*hi) << 8 | usize::from(*lo), 2)), None),
                _ => (Some((tail.len(), 0)), None),
            },
            n => (Some((usize::from(n), 0)), None),
        };
        match (len, body) {
            (Some((len, skip)), _) => {
                let after_len = tail.get(skip..).unwrap_or_default();
                let (apdu, next) = after_len.split_at(len.min(after_len.len()));
                events.push(Event::Apdu(apdu.to_vec()));
                rest = next;
            }
            (None, Some(event)) => {
                events.push(event);
                rest = tail;
            }
            (None, None) => break,
        }
    }
    events
}

/// Plays `data` as a session (see [`split_session`]) against a fresh [`sample_card`].
pub fn card_session(data: &[u8]) -> Result<(), String> {
    let mut card = sample_card();
    check_session(&mut card, &split_session(data))
}

/// Plays `events` against `card`: while powered, every APDU must get a response of at
/// least two bytes ending in a status word (`6xxx` or `9xxx`, never the `60` null
/// procedure byte); while unpowered, none. A power-up must give an ATR.
pub fn check_session<N: Nvm, R: CardRng, A: Applets>(
    card: &mut Card<N, R, A>,
    events: &[Event],
) -> Result<(), String> {
    let mut out = vec![0u8; 65_536 + 2];
    for (i, event) in events.iter().enumerate() {
        match event {
            Event::Apdu(apdu) => {
                let powered = card.is_powered();
                let n = card.process(apdu, &mut out);
                let response = out.get(..n).unwrap_or_default();
                let well_formed = match response {
                    [.., sw1, _] => matches!(sw1 & 0xF0, 0x60 | 0x90) && *sw1 != 0x60,
                    _ => false,
                };
                if powered && !well_formed {
                    return Err(format!(
                        "event {i}: {} answered {:?} while powered",
                        hex(apdu),
                        hex(response)
                    ));
                }
                if !powered && n != 0 {
                    return Err(format!("event {i}: {} answered while unpowered", hex(apdu)));
                }
            }
            Event::PowerCycle(interface) => {
                card.power_off();
                let atr = card
                    .power_on(*interface)
                    .map_err(|e| format!("event {i}: power-up failed: {e}"))?;
                if atr.is_empty() {
                    return Err(format!("event {i}: empty ATR"));
                }
            }
            Event::PowerOff => card.power_off(),
        }
    }
    Ok(())
}

/// The SSSE DDF name "sx1.sh.社会保障" (GBK), spec/ssc.md §2.1.
pub const SSSE_NAME: &[u8] = &[
    0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF,
];

/// The contact ATR of the sample card (the gen-3 shape of spec/ssc.md §1).
const SAMPLE_ATR: &[u8] = &[
    0x3B, 0x6D, 0x00, 0x00, 0x00, 0x81, 0x53, 0x53, 0x43, 0x86, 0x60, 0x51, 0x99, 0x00, 0x00, 0x00,
    0x01,
];

/// NVM size of the sample card.
const SAMPLE_NVM_LEN: usize = 16 * 1024;

/// The personalized NVM image of the sample card (built once per process).
///
/// A small social-security tree: MF ─ SSSE (DDF) ─ EF05 (TLV records, free read, write
/// key 04), EF07 (transparent 0x300, read key 0A), EF0A (linear fixed 4×3, free),
/// DF01 (ADF) ─ EF05 (read PIN or key 84), DF04 (ADF) ─ EF08 (cyclic 4×5, free).
pub fn sample_image() -> &'static [u8] {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let mut nvm = RamNvm::new(vec![0u8; SAMPLE_NVM_LEN]);
        // A failed build leaves an unloadable image; `sample_card` then reports it.
        let _ = personalize_sample(&mut nvm);
        nvm.into_inner()
    })
}

/// A powered card over [`sample_image`] with the default options (T=0 responses,
/// strict `Le = 00`).
///
/// # Panics
/// If the sample image does not load, which is a bug in this module.
pub fn sample_card() -> Card<RamNvm<Vec<u8>>, SplitMixRng> {
    sample_card_with(CosOptions::default())
}

/// [`sample_card`] with other options.
///
/// # Panics
/// If the sample image does not load, which is a bug in this module.
#[allow(clippy::panic)]
pub fn sample_card_with(options: CosOptions) -> Card<RamNvm<Vec<u8>>, SplitMixRng> {
    let nvm = RamNvm::new(sample_image().to_vec());
    let mut card = match Card::load(nvm, SplitMixRng::new(7), (), options) {
        Ok(card) => card,
        Err(e) => panic!("the sample card image does not load: {e}"),
    };
    if let Err(e) = card.power_on(Interface::Contact) {
        panic!("the sample card does not power up: {e}");
    }
    card
}

fn personalize_sample(nvm: &mut RamNvm<Vec<u8>>) -> Result<(), sscard_core::fs::build::BuildError> {
    let mut p = Personalizer::format(nvm, Capacities::default(), SAMPLE_ATR)?;
    let ssse = p.df(
        MF,
        DfSpec {
            kind: FileKind::Ddf,
            fid: 0,
            name: SSSE_NAME,
            // DIR SFI 1E and algorithm 03 (SM4), as a gen-3 card answers (spec/ssc.md §2.2).
            fci_proprietary: &[0x88, 0x01, 0x1E, 0x9F, 0x0C, 0x03, 0x86, 0x01, 0x03],
            role: 0,
        },
    )?;
    let ef05 = p.ef(
        ssse,
        EfSpec {
            fid: 0xEF05,
            sfi: 5,
            structure: Structure::LinearVariable {
                max_len: 18,
                records: 7,
            },
            read: Access::Always,
            write: Access::Key(0x04),
            tlv_records: true,
        },
    )?;
    let records: [&[u8]; 3] = [
        &[
            0x01, 0x10, 0x51, 0x99, 0x00, 0xD1, 0x56, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01,
            0x12, 0x34, 0x56, 0x78,
        ],
        &[0x02, 0x01, 0x33],
        &[0x03, 0x04, 0x33, 0x2E, 0x30, 0x30],
    ];
    for record in records {
        p.append_record(ef05, record)?;
    }
    let ef07 = p.ef(
        ssse,
        EfSpec {
            fid: 0xEF07,
            sfi: 7,
            structure: Structure::Transparent { size: 0x300 },
            read: Access::Key(0x0A),
            write: Access::Key(0x04),
            tlv_records: false,
        },
    )?;
    p.write_body(ef07, 0, &[0xA5; 16])?;
    let ef0a = p.ef(
        ssse,
        EfSpec {
            fid: 0xEF0A,
            sfi: 10,
            structure: Structure::LinearFixed {
                record_len: 3,
                records: 4,
            },
            read: Access::Always,
            write: Access::Always,
            tlv_records: false,
        },
    )?;
    p.append_record(ef0a, &[1, 1, 1])?;
    let df01 = p.df(
        ssse,
        DfSpec {
            kind: FileKind::Adf,
            fid: 0xDF01,
            name: &[0xD1, 0x56, 0x00, 0x00, 0x05, 0x00],
            fci_proprietary: &[],
            role: 0,
        },
    )?;
    let df01_ef05 = p.ef(
        df01,
        EfSpec {
            fid: 0xEF05,
            sfi: 5,
            structure: Structure::LinearVariable {
                max_len: 40,
                records: 4,
            },
            read: Access::PinOrKey { pin: 0, key: 0x84 },
            write: Access::Key(0x83),
            tlv_records: true,
        },
    )?;
    p.append_record(df01_ef05, &[0x20, 0x02, 0x31, 0x30])?;
    let df04 = p.df(
        ssse,
        DfSpec {
            kind: FileKind::Adf,
            fid: 0xDF04,
            name: &[0xD1, 0x56, 0x00, 0x00, 0x05, 0x03],
            fci_proprietary: &[],
            role: 0,
        },
    )?;
    let ef08 = p.ef(
        df04,
        EfSpec {
            fid: 0xEF08,
            sfi: 8,
            structure: Structure::Cyclic {
                record_len: 5,
                records: 4,
            },
            read: Access::Always,
            write: Access::Always,
            tlv_records: false,
        },
    )?;
    for i in 1..=2u8 {
        p.append_record(ef08, &[i; 5])?;
    }
    p.finish()?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn sessions_split_into_length_prefixed_apdus_and_power_events() {
        let input = [
            0x04, 0x00, 0xA4, 0x00, 0x00, // APDU of 4 bytes
            0xFF, // power cycle, contact
            0xFC, 0x00, 0x02, 0x00, 0x84, // APDU of 2 bytes, long length form
            0xFD, 0xFE, // power off, power cycle contactless
            0x05, 0x01, 0x02, // APDU cut short by the end of the input
        ];
        assert_eq!(
            split_session(&input),
            vec![
                Event::Apdu(vec![0x00, 0xA4, 0x00, 0x00]),
                Event::PowerCycle(Interface::Contact),
                Event::Apdu(vec![0x00, 0x84]),
                Event::PowerOff,
                Event::PowerCycle(Interface::Contactless),
                Event::Apdu(vec![0x01, 0x02]),
            ]
        );
        assert_eq!(split_session(&[0xFC, 0x01]), vec![Event::Apdu(vec![0x01])]);
        assert_eq!(split_session(&[]), vec![]);
    }

    #[test]
    fn the_sample_card_answers_like_a_gen3_card() {
        let mut card = sample_card();
        let mut out = [0u8; 64];
        let select_ssse = [
            &[0x00, 0xA4, 0x04, 0x00, 0x0F][..],
            SSSE_NAME,
            &[0x00], // Le
        ]
        .concat();
        let n = card.process(&select_ssse, &mut out);
        assert_eq!(&out[..n], &[0x61, 0x1E]);
    }

    #[test]
    fn within_means_the_same_memory() {
        let a = [1u8, 2, 3, 4];
        let b = a;
        assert!(within(&a, &a[1..3]));
        assert!(!within(&a[1..], &a[..2]));
        assert!(!within(&a, &b[1..2]));
        assert!(within(&a, &b[..0]));
    }
}
