//! sscard-vcard: the PC/SC virtual card — an sscard card as a reader sees it.
//!
//! The card is exposed to PC/SC applications through pcscd and the vsmartcard
//! project's `vpcd` reader driver (`libifdvpcd.so`). vpcd listens on TCP
//! `35963 + slot`; this crate's [`vpcd`] module is the *card* side of that
//! connection. The transport serves anything implementing [`VirtualCard`]: the
//! social-security card of [`virtual_card`] or the [`echo::EchoCard`] used as a
//! round-trip reference.
//!
//! * [`virtual_card`] — the card OS with the social-security applications and PBOC,
//!   or with the PSAM (`sscard run --psam`), in RAM, personalized from a profile or
//!   loaded from an [`image`], saved after each command that changed it, traced by
//!   [`trace`].
//! * [`image`] — card image files (header, metadata, NVM body) and their lock
//!   ([`image_lock`]: one process per image).
//! * [`trace`] — trace files of exchanges and power events (text or JSON lines).
//! * [`faults`] — the test bench's faults around a served card: late answers, no answer,
//!   a replaced status word, a corrupted byte, a power cut at the K-th NVM write.
//! * `control` (Unix) — the control channel of a served card: JSON lines on a Unix socket
//!   (`sscard run --control`, `sscard ctl`; `docs/control.md`).
//! * [`personas`] — shipped card states for test plans (PIN blocked, expired, …).
//! * [`card_state`] — a served card's observable state as JSON.
//! * [`vpcd`] — the vpcd client: framing, control codes, TCP_QUICKACK,
//!   reconnect with back-off, insert/remove, clean shutdown.
//! * [`echo`] — a minimal card answering every APDU with its data ‖ `90 00`
//!   (binary `sscard-echo-card`).
//! * `pcsc_harness` (cargo feature `pcsc`) — PC/SC client helpers for
//!   end-to-end tests against a real pcscd (`scripts/pcscd.sh`).
//!
//! # Running a card
//!
//! ```no_run
//! use sscard_vcard::{echo::EchoCard, vpcd::Slot};
//!
//! // Reader "Virtual PCD 00 00" of a local pcscd: 127.0.0.1:35963.
//! let running = Slot::local(0).spawn(EchoCard::new())?;
//! let handle = running.handle();
//! handle.remove(); // the reader now reports "card removed"
//! handle.insert(); // ...and the card is back (vpcd powers it on)
//! let _card: EchoCard = running.stop().map_err(|_| std::io::Error::other("panicked"))?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Tests
//!
//! * `cargo test -p sscard-vcard` needs no pcscd: `tests/fake_vpcd.rs` drives the client with a
//!   fake vpcd on 127.0.0.1 (round trips, reset, malformed frames, peer restart, insert/remove,
//!   stop flag, two slots, and the delayed-ACK regression that TCP_QUICKACK fixes).
//! * `tests/pcsc_e2e.rs` runs through a real pcscd + vpcd. It is `#[ignore]`d with its
//!   reason: a plain `cargo test` builds it (the `pcsc` feature is checked inside the file,
//!   not with `required-features`) and lists it as ignored; asked for with
//!   `--include-ignored` it fails unless `SSCARD_E2E=1` (`pcsc_harness::require_e2e`).
//!   A plain `cargo build` never needs libpcsclite-dev. Run it with
//!   `bash scripts/pcscd.sh install && bash scripts/pcscd.sh start`, then
//!   `SSCARD_E2E=1 cargo test -p sscard-vcard --features pcsc --test pcsc_e2e -- --include-ignored --nocapture`,
//!   then `bash scripts/pcscd.sh stop` (or just `bash scripts/pcscd.sh e2e`).
//!
//! Serving a card to a terminal: `docs/terminal-vendor.md` in the repository.
#![deny(unsafe_code)]

pub mod card_state;
#[cfg(unix)]
pub mod control;
pub mod echo;
pub mod faults;
pub mod image;
pub mod image_lock;
#[cfg(feature = "pcsc")]
pub mod pcsc_harness;
pub mod personas;
pub mod trace;
pub mod virtual_card;
pub mod vpcd;

/// What a reader sees of a card. Implemented by [`virtual_card::ServedCard`] (the user
/// card [`virtual_card::SscVirtualCard`], the PSAM [`virtual_card::PsamVirtualCard`]) and
/// by the echo card.
///
/// The transport calls these methods from the thread serving the slot, one at
/// a time, in the order the reader asks for them. A real reader cuts power
/// when the card leaves it: the transport calls [`power_off`](Self::power_off)
/// when the connection ends while the card is powered, and the reader sends a
/// power-on after the next connection.
pub trait VirtualCard: Send {
    /// Current ATR (1..=33 bytes). An empty or longer ATR makes the transport
    /// drop the connection (the reader would report a mute card).
    fn atr(&self) -> Vec<u8>;
    /// Cold reset / power up: contacts activated.
    fn power_on(&mut self);
    /// Contacts deactivated; volatile state should be lost like on a real card.
    fn power_off(&mut self);
    /// Warm reset.
    fn reset(&mut self);
    /// Process one C-APDU. `response` is empty on entry; fill it with data ‖ SW1 SW2.
    /// Leaving it empty means the card is mute: the connection will be closed.
    fn transmit(&mut self, apdu: &[u8], response: &mut Vec<u8>);
}

impl<C: VirtualCard + ?Sized> VirtualCard for Box<C> {
    fn atr(&self) -> Vec<u8> {
        (**self).atr()
    }
    fn power_on(&mut self) {
        (**self).power_on();
    }
    fn power_off(&mut self) {
        (**self).power_off();
    }
    fn reset(&mut self) {
        (**self).reset();
    }
    fn transmit(&mut self, apdu: &[u8], response: &mut Vec<u8>) {
        (**self).transmit(apdu, response);
    }
}
