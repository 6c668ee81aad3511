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
//!   [`split_session`]) and played against the [sample card](crate::sample): while
//!   the card is powered every APDU gets at least a status word, and a valid one;
//!   while it is not, none; no response gives away a secret of the card (the
//!   [secrets oracle](crate::secret_oracle)); and at every power cycle a copy of the
//!   card reloaded from its image answers the rest of the session exactly as it does.

use crate::{Violation, violation};
use sscard_core::apdu::{CommandView, encode_command};
use sscard_core::rng::CardRng;
use sscard_core::tlv::{
    BerReader, BerWriter, DolReader, MAX_DEPTH, SimpleReader, Tag, dol_value_len, find, find_path,
    parse_one, parse_simple, validate, write_simple,
};
use sscard_core::{Applets, Card, Interface, Status};
use sscard_ssc::SscCard;

use crate::sample::{default_profile, sample_card, sample_image, snapshot_card};
use crate::secret_oracle::SecretOracle;
use crate::snapshot::{self, ImageNvm, SnapshotNvm};
use sscard_core::rng::SplitMixRng;
use std::sync::OnceLock;

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
pub fn apdu_parse(data: &[u8]) -> Result<(), Violation> {
    let cmd = match CommandView::parse(data) {
        Ok(cmd) => cmd,
        Err(Status::WrongLength) => return Ok(()),
        Err(other) => return Err(violation!("{}: parse error {other:?}, not 6700", hex(data))),
    };
    let fail = |what: &str| Err(violation!("{}: {what}", hex(data)));
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
        return Err(violation!(
            "{}: re-encoded as {}, fields differ",
            hex(data),
            hex(encoded)
        ));
    }
    // The short form is the one the encoder prefers: a short input comes back unchanged.
    if !cmd.is_extended() && encoded != data {
        return Err(violation!("{}: re-encoded as {}", hex(data), hex(encoded)));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// TLV

/// Bounds, round-trip and consistency checks of the BER-TLV, simple-TLV and DOL readers.
pub fn tlv(data: &[u8]) -> Result<(), Violation> {
    let fail = |what: String| Err(violation!("{}: {what}", hex(data)));
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
fn check_ber_level(parent: &[u8], level: BerReader<'_>, depth: usize) -> Result<(), Violation> {
    for item in level {
        let Ok(object) = item else { break };
        let (raw, value) = (object.raw(), object.value());
        if !within(parent, raw) || !within(raw, value) || !raw.ends_with(value) {
            return Err(violation!(
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
            return Err(violation!(
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

/// One event of a card session; the APDU bytes are owned (`Vec<u8>`) or borrowed from
/// the fuzz input (`&[u8]`, see [`session_events`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<B = Vec<u8>> {
    /// A command APDU (any bytes).
    Apdu(B),
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
    session_events(data)
        .map(|event| match event {
            Event::Apdu(apdu) => Event::Apdu(apdu.to_vec()),
            Event::PowerCycle(interface) => Event::PowerCycle(interface),
            Event::PowerOff => Event::PowerOff,
        })
        .collect()
}

/// The events of [`split_session`], borrowing the APDUs from `data`.
pub fn session_events(data: &[u8]) -> impl Iterator<Item = Event<&[u8]>> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let (&first, tail) = rest.split_first()?;
        let (len, skip) = match first {
            0xFD..=0xFF => {
                rest = tail;
                return Some(match first {
                    0xFD => Event::PowerOff,
                    0xFE => Event::PowerCycle(Interface::Contactless),
                    _ => Event::PowerCycle(Interface::Contact),
                });
            }
            0xFC => match tail {
                [hi, lo, ..] => (usize::from(*hi) << 8 | usize::from(*lo), 2),
                _ => (tail.len(), 0),
            },
            n => (usize::from(n), 0),
        };
        let after_len = tail.get(skip..).unwrap_or_default();
        let (apdu, next) = after_len.split_at(len.min(after_len.len()));
        rest = next;
        Some(Event::Apdu(apdu))
    })
}

/// Plays `data` as a session (see [`split_session`]) against a fresh sample card.
pub fn card_session(data: &[u8]) -> Result<(), Violation> {
    on_snapshot_card((), |card| play_input(card, data))
}

/// Plays `data` as a session against a fresh gen-3 card carrying the PBOC applet
/// (`crates/sscard-pboc`): the same never-mute rule, through the financial environment.
pub fn pboc_session(data: &[u8]) -> Result<(), Violation> {
    on_snapshot_card((sscard_pboc::PbocApplet::new(),), |card| {
        play_input(card, data)
    })
}

/// Runs `f` on a fresh sample card with `applets` over a reused memory
/// ([`crate::snapshot`]), which goes back to the pool afterwards.
pub fn on_snapshot_card<A: Applets, T>(
    applets: A,
    f: impl FnOnce(&mut SscCard<SnapshotNvm, SplitMixRng, A>) -> T,
) -> T {
    let mut card = snapshot_card(applets);
    let result = f(&mut card);
    snapshot::give_back(card.into_nvm());
    result
}

/// Plays the events of `data` against `card` with every check of [`check_session`].
fn play_input<N: ImageNvm, R: CardRng + Clone, A: Applets + Clone>(
    card: &mut SscCard<N, R, A>,
    data: &[u8],
) -> Result<(), Violation> {
    with_sample_oracle(|oracle| {
        with_checker(card, oracle, |checker| checker.play(session_events(data)))
    })
}

/// Longest session the tear check plays: each execution replays it some twenty times.
const TEAR_SESSION_EVENTS: usize = 48;

/// A session with a power cut: the first two bytes pick the NVM write at which the power
/// is lost (big-endian, modulo the session's writes), the third the [`TearMode`](sscard_core::nvm::TearMode) (modulo
/// 3), the rest is a session as for [`card_session`], played against the sample card
/// with the PBOC applet (power events become power cycles). After recovery the card's
/// persistent memory must be the state before or after the torn commit (so try counters
/// and purse money are old or new, never mixed), and the card must answer
/// ([`crate::tear::tear_at_write`]).
pub fn tear_session(data: &[u8]) -> Result<(), Violation> {
    let (k, mode, session) = match data {
        [hi, lo, mode, rest @ ..] => (
            u32::from(u16::from_be_bytes([*hi, *lo])),
            crate::tear::TEAR_MODES
                .get(usize::from(*mode) % 3)
                .copied()
                .unwrap_or(sscard_core::nvm::TearMode::Nothing),
            rest,
        ),
        _ => return Ok(()),
    };
    let steps: Vec<crate::tear::Step> = split_session(session)
        .into_iter()
        .take(TEAR_SESSION_EVENTS)
        .map(|e| match e {
            Event::Apdu(apdu) => crate::tear::Step::Apdu(apdu),
            Event::PowerCycle(_) | Event::PowerOff => crate::tear::Step::PowerCycle,
        })
        .collect();
    crate::tear::tear_at_write(crate::tear::probed_tear_card, &steps, k, mode).map(|_| ())
}

/// The secrets oracle of the sample cards: every secret of the default profile.
pub fn sample_oracle() -> SecretOracle {
    primed_sample_oracle().clone()
}

/// The sample oracle, made and primed once per process.
fn primed_sample_oracle() -> &'static SecretOracle {
    static ORACLE: OnceLock<SecretOracle> = OnceLock::new();
    ORACLE.get_or_init(|| {
        let mut oracle = SecretOracle::for_profile(default_profile());
        oracle.prime(&sample_card());
        oracle
    })
}

/// Runs `f` with [`sample_oracle`] as it starts a session, reusing the thread's oracle
/// of the previous run (its maps keep their room).
pub fn with_sample_oracle<T>(f: impl FnOnce(&mut SecretOracle) -> T) -> T {
    thread_local! {
        static ORACLE: std::cell::RefCell<SecretOracle> = std::cell::RefCell::default();
    }
    ORACLE.with_borrow_mut(|oracle| {
        oracle.reset_to(primed_sample_oracle());
        f(oracle)
    })
}

/// Plays `events` against `card`: while powered, every APDU must get a response of at
/// least two bytes ending in a status word (`6xxx` or `9xxx`, never the `60` null
/// procedure byte); while unpowered, none. A power-up must give an ATR. Two more
/// oracles:
///
/// * **secrets**: no response may give away a secret `oracle` knows (see
///   [`crate::secret_oracle`]); it learns the card's stored and session secrets as the
///   session goes;
/// * **persistence**: at every power cycle the card's memory (an image file's body) and
///   options are loaded into a second card (with a copy of the random source), and the
///   rest of the session must get the same answers, byte for byte, from both: nothing
///   the card needs lives outside its image.
pub fn check_session<N: ImageNvm, R: CardRng + Clone, A: Applets + Clone>(
    card: &mut SscCard<N, R, A>,
    events: &[Event],
    oracle: &mut SecretOracle,
) -> Result<(), Violation> {
    with_checker(card, oracle, |checker| checker.play(events))
}

/// Runs `f` with a [`Checker`] of `card` (the response buffers are per thread, kept
/// across runs: zeroing 128 KiB per fuzz execution costs more than many sessions).
pub fn with_checker<N, R, A, T>(
    card: &mut SscCard<N, R, A>,
    oracle: &mut SecretOracle,
    f: impl FnOnce(&mut Checker<'_, N, R, A>) -> Result<T, Violation>,
) -> Result<T, Violation>
where
    N: ImageNvm,
    R: CardRng + Clone,
    A: Applets + Clone,
{
    thread_local! {
        static BUFFERS: std::cell::RefCell<[Vec<u8>; 2]> =
            std::cell::RefCell::new([vec![0u8; 65_538], vec![0u8; 65_538]]);
    }
    BUFFERS.with_borrow_mut(|[out, out_reloaded]| {
        let mut checker = Checker {
            card,
            oracle,
            out,
            out_reloaded,
            reloaded: None,
            events: 0,
        };
        let result = f(&mut checker);
        if let Some((copy, _)) = checker.reloaded.take() {
            snapshot::give_back(copy.into_nvm());
        }
        result
    })
}

/// Plays events against a card, one at a time, with every check of [`check_session`].
pub struct Checker<'a, N: ImageNvm, R: CardRng + Clone, A: Applets + Clone> {
    card: &'a mut SscCard<N, R, A>,
    oracle: &'a mut SecretOracle,
    out: &'a mut [u8],
    out_reloaded: &'a mut [u8],
    /// The card reloaded from its image at the last power cycle, and that event.
    reloaded: Option<(ReloadedCard<R, A>, usize)>,
    events: usize,
}

impl<N: ImageNvm, R: CardRng + Clone, A: Applets + Clone> Checker<'_, N, R, A> {
    /// The card being checked.
    pub fn card(&self) -> &SscCard<N, R, A> {
        self.card
    }

    /// Plays `events`. A power cycle followed by another through the same interface
    /// powers the live card off and on but makes no reloaded copy: the next one
    /// replaces it before it answers anything, loaded from the same memory (fuzzed
    /// inputs are full of `FF FF FF` runs, and a reload costs a card load and power-up).
    pub fn play<B: AsRef<[u8]>>(
        &mut self,
        events: impl IntoIterator<Item = impl std::borrow::Borrow<Event<B>>>,
    ) -> Result<(), Violation> {
        let mut events = events.into_iter().peekable();
        while let Some(event) = events.next() {
            match (event.borrow(), events.peek().map(|next| next.borrow())) {
                (Event::PowerCycle(now), Some(Event::PowerCycle(next))) if now == next => {
                    self.power_cycle_live(*now)?;
                }
                (event, _) => self.event(event)?,
            }
        }
        Ok(())
    }

    /// Plays one event.
    pub fn event(&mut self, event: &Event<impl AsRef<[u8]>>) -> Result<(), Violation> {
        match event {
            Event::Apdu(apdu) => self.apdu(apdu.as_ref()).map(|_| ()),
            Event::PowerCycle(interface) => self.power_cycle(*interface),
            Event::PowerOff => {
                self.events += 1;
                self.card.power_off();
                if let Some((copy, _)) = self.reloaded.as_mut() {
                    copy.power_off();
                }
                Ok(())
            }
        }
    }

    /// Sends one APDU; returns the response (data and status word).
    pub fn apdu(&mut self, apdu: &[u8]) -> Result<Vec<u8>, Violation> {
        let i = self.events;
        self.events += 1;
        let powered = self.card.is_powered();
        self.oracle.before_command(apdu);
        let n = self.card.process(apdu, self.out);
        let response = self.out.get(..n).unwrap_or_default();
        self.oracle
            .after_command(self.card, apdu, response)
            .map_err(|leak| format!("event {i}: {}: {leak}", hex(apdu)))?;
        let well_formed = match response {
            [.., sw1, _] => matches!(sw1 & 0xF0, 0x60 | 0x90) && *sw1 != 0x60,
            _ => false,
        };
        if powered && !well_formed {
            return Err(violation!(
                "event {i}: {} answered {:?} while powered",
                hex(apdu),
                hex(response)
            ));
        }
        if !powered && n != 0 {
            return Err(violation!(
                "event {i}: {} answered while unpowered",
                hex(apdu)
            ));
        }
        if let Some((copy, since)) = self.reloaded.as_mut() {
            let m = copy.process(apdu, self.out_reloaded);
            let other = self.out_reloaded.get(..m).unwrap_or_default();
            if other != response {
                return Err(violation!(
                    "event {i}: {}: the card reloaded from its image at event {since} \
                     answered {}, the live card {}",
                    hex(apdu),
                    hex(other),
                    hex(response)
                ));
            }
        }
        Ok(response.to_vec())
    }

    /// Power off, then on through `interface`, for the live card only (the previous
    /// copy stays unused until the next power cycle replaces it); returns the ATR.
    fn power_cycle_live(&mut self, interface: Interface) -> Result<(), Violation> {
        let i = self.events;
        self.events += 1;
        self.card.power_off();
        self.power_up_live(i, interface).map(|_| ())
    }

    /// Powers the live card on at event `i`; it must give an ATR, which is returned.
    fn power_up_live(&mut self, i: usize, interface: Interface) -> Result<Vec<u8>, Violation> {
        let atr = self
            .card
            .power_on(interface)
            .map_err(|e| format!("event {i}: power-up failed: {e}"))?
            .to_vec();
        if atr.is_empty() {
            return Err(violation!("event {i}: empty ATR"));
        }
        Ok(atr)
    }

    /// Power off, then on through `interface`; the persistence oracle's reload point.
    pub fn power_cycle(&mut self, interface: Interface) -> Result<(), Violation> {
        let i = self.events;
        self.events += 1;
        self.card.power_off();
        let spare = self.reloaded.take().map(|(copy, _)| copy.into_nvm());
        let mut copy = reload_from_image(self.card, spare)
            .map_err(|e| format!("event {i}: the saved image does not load: {e}"))?;
        let atr = self.power_up_live(i, interface)?;
        let copy_atr = copy
            .power_on(interface)
            .map_err(|e| format!("event {i}: the reloaded card fails to power up: {e}"))?;
        if copy_atr != atr.as_slice() {
            return Err(violation!(
                "event {i}: the reloaded card's ATR {} differs from {}",
                hex(copy_atr),
                hex(&atr)
            ));
        }
        self.reloaded = Some((copy, i));
        Ok(())
    }
}

/// A card loaded from an image file's body.
type ReloadedCard<R, A> = SscCard<SnapshotNvm, R, A>;

/// The card as a restarted `sscard run --image` would load it: the same NVM bytes (what
/// an image file's body holds; the file format itself has its own tests in
/// `tests/image_compat.rs`), the same options, a copy of the random source and of the
/// applets. The bytes go into `spare` (the previous copy's memory) when there is one.
fn reload_from_image<N: ImageNvm, R: CardRng + Clone, A: Applets + Clone>(
    card: &SscCard<N, R, A>,
    spare: Option<SnapshotNvm>,
) -> Result<ReloadedCard<R, A>, Violation> {
    let mut body = spare.unwrap_or_else(|| snapshot::take(sample_image()));
    card.store()
        .nvm()
        .copy_into(&mut body)
        .map_err(|e| Violation(e.to_string()))?;
    Card::load(
        body,
        card.rng().clone(),
        card.applets().clone(),
        card.df_applications().clone(),
        *card.options(),
    )
    .map_err(|e| Violation(e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use sscard_core::AppletCall;
    use sscard_core::nvm::{Nvm, RamNvm};

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

    /// An applet that counts its selections in RAM, across power cycles, and whose
    /// copy starts from zero: state outside the image, which the persistence oracle
    /// must catch.
    struct Forgetful(u8);

    impl Clone for Forgetful {
        fn clone(&self) -> Self {
            Forgetful(0)
        }
    }

    impl sscard_core::card::applet::Applet for Forgetful {
        fn region_name(&self) -> &[u8] {
            // The sample image reserves the PBOC applet's region.
            &sscard_pboc::REGION_AID
        }
        fn claims(&self, name: &[u8], _: Interface) -> Option<u8> {
            (name == b"FORGET").then_some(0)
        }
        fn select<M: Nvm>(&mut self, _: u8, call: AppletCall<'_, '_, M>) -> Result<(), Status> {
            self.0 += 1;
            call.reply.push_byte(self.0)
        }
        fn process<M: Nvm>(&mut self, _: AppletCall<'_, '_, M>) -> Result<(), Status> {
            Err(Status::InstructionNotSupported)
        }
        fn deselect(&mut self) {}
    }

    #[test]
    fn state_outside_the_image_is_caught_after_any_run_of_power_cycles() {
        // SELECT, then GET RESPONSE of the count (the sample card speaks T=0).
        let select = Event::Apdu(b"\x00\xA4\x04\x00\x06FORGET\x00".to_vec());
        let count = Event::Apdu(vec![0x00, 0xC0, 0x00, 0x00, 0x01]);
        let contact = Event::PowerCycle(Interface::Contact);
        let contactless = Event::PowerCycle(Interface::Contactless);
        let run = |events: &[Event]| {
            let nvm = RamNvm::new(sample_image().to_vec());
            let mut card =
                crate::sample::card_over(nvm, (Forgetful(0),), default_profile().options());
            check_session(&mut card, events, &mut SecretOracle::default())
        };
        assert!(run(&[select.clone(), count.clone(), select.clone(), count.clone()]).is_ok());
        // One power cycle, three of the same (one copy made, at the last), or mixed.
        for cycles in [
            vec![contact.clone()],
            vec![contact.clone(), contact.clone(), contact.clone()],
            vec![contactless.clone(), contact.clone(), contact.clone()],
            vec![contact.clone(), Event::PowerOff, contact.clone()],
        ] {
            let events = [
                vec![select.clone(), count.clone()],
                cycles.clone(),
                vec![select.clone(), count.clone()],
            ]
            .concat();
            let failure = run(&events).unwrap_err();
            assert!(failure.0.contains("reloaded"), "{cycles:?}: {failure}");
        }
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
