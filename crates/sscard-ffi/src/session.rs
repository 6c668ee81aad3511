//! The card session behind both foreign interfaces: the C ABI of this crate and the
//! Python package (`bindings/python`). Safe Rust; the ABI layer only adds pointer checks,
//! handles and panic containment.
//!
//! A session is one [`SscVirtualCard`], the card `sscard run` serves to PC/SC, driven
//! in-process: same power events, same T=0 behaviour, same image persistence.

use sscard_host::profile::Profile;
use sscard_vcard::VirtualCard;
use sscard_vcard::image::{self, ImageFile, ImageMeta};
use sscard_vcard::image_lock::{ImageLock, LockError};
use sscard_vcard::trace::{TraceBuffer, Tracer};
use sscard_vcard::virtual_card::{HostRng, SscVirtualCard};
use std::fmt;
use std::fs;
use std::path::Path;

pub use sscard_core::Interface;
pub use sscard_vcard::trace::TraceFormat;

/// What went wrong, coarse enough to map onto C status codes and Python exceptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// An argument is out of its range (interface number, flags).
    InvalidArgument,
    /// The profile cannot be read or is invalid.
    Profile,
    /// The image cannot be read, is not an image, or fails a check.
    Image,
    /// A file could not be written.
    Io,
    /// The card is not powered: power it on first.
    NotPowered,
    /// The card gave no response (it lost power while saving its image, see
    /// [`SscVirtualCard`]).
    CardMute,
}

/// An error with a message for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// Its kind.
    pub kind: ErrorKind,
    /// What happened.
    pub message: String,
}

impl Error {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// How a session's card is made ([`Session::from_profile`], [`Session::from_image`]).
#[derive(Clone, Debug, Default)]
pub struct SessionOptions {
    /// Seed for the card's random numbers (challenges, keys it generates); `None`: the
    /// operating system's randomness.
    pub seed: Option<u64>,
    /// The interface of the first power-on.
    pub contactless: bool,
    /// For a card from an image: save every change back to the image before answering,
    /// as `sscard run --image` does. Otherwise the image is only read, and
    /// [`Session::save_image`] writes snapshots.
    pub persist: bool,
}

/// Largest trace kept unread: past it the oldest lines go, so a trace that is switched
/// on and never read cannot eat the host's memory.
pub(crate) const TRACE_LIMIT: usize = 8 * 1024 * 1024;

/// One in-process card.
pub struct Session {
    card: SscVirtualCard,
    /// Metadata written with [`Session::save_image`]: where the card came from and the
    /// spec choices it was made with.
    meta: ImageMeta,
    trace: Option<TraceBuffer>,
    response: Vec<u8>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("card", &self.card)
            .field("profile", &self.meta.profile_label)
            .finish_non_exhaustive()
    }
}

fn rng(options: &SessionOptions) -> HostRng {
    options.seed.map_or_else(HostRng::os, HostRng::seeded)
}

fn interface(options: &SessionOptions) -> Interface {
    if options.contactless {
        Interface::Contactless
    } else {
        Interface::Contact
    }
}

impl Session {
    /// A fresh card personalized from `profile` (the default gen-3 card when `None`), in
    /// memory. Unpowered.
    pub fn from_profile(profile: Option<&Path>, options: &SessionOptions) -> Result<Self, Error> {
        let profile = match profile {
            None => Profile::default_gen3(),
            Some(path) => Profile::load(path).map_err(|e| {
                Error::new(
                    ErrorKind::Profile,
                    format!("profile {}: {e}", path.display()),
                )
            })?,
        };
        let card = SscVirtualCard::from_profile(&profile, rng(options), interface(options))
            .map_err(|e| Error::new(ErrorKind::Profile, e.to_string()))?;
        Ok(Session::around(card, ImageMeta::from_profile(&profile)))
    }

    /// The card kept in the image file at `path`. Unpowered. With `options.persist`,
    /// every change is saved back to the file before the card answers.
    pub fn from_image(path: &Path, options: &SessionOptions) -> Result<Self, Error> {
        let image_error = |e: &dyn fmt::Display| {
            Error::new(ErrorKind::Image, format!("image {}: {e}", path.display()))
        };
        let (mut file, mut body) = ImageFile::load(path).map_err(|e| image_error(&e))?;
        if file.meta().kind != image::CardKind::User {
            return Err(image_error(&format_args!(
                "holds {}, not a user card",
                file.meta().kind
            )));
        }
        if options.persist {
            // One process at a time serves an image (`sscard_vcard::image_lock`); the body is
            // read again under the lock, so it is not one another process was replacing.
            file.lock().map_err(|e| image_error(&e))?;
            let (again, locked_body) = ImageFile::load(path).map_err(|e| image_error(&e))?;
            if again.meta() != file.meta() {
                return Err(image_error(&"replaced while being opened; open it again"));
            }
            body = locked_body;
        }
        let meta = file.meta().clone();
        let card = if options.persist {
            SscVirtualCard::with_image(file, body, rng(options), interface(options))
        } else {
            SscVirtualCard::new(
                body,
                meta.options,
                meta.ssc_options,
                rng(options),
                interface(options),
            )
        }
        .map_err(|e| Error::new(ErrorKind::Image, format!("image {}: {e}", path.display())))?;
        Ok(Session::around(card, meta))
    }

    fn around(card: SscVirtualCard, meta: ImageMeta) -> Self {
        Session {
            card,
            meta,
            trace: None,
            // The largest response: 65536 data bytes and the SW.
            response: Vec::with_capacity(65_538),
        }
    }

    /// Powers the card on (cold reset) and returns its ATR.
    pub fn power_on(&mut self) -> Result<&[u8], Error> {
        VirtualCard::power_on(&mut self.card);
        self.powered_atr()
    }

    /// Powers the card off: every transient state (selection, security status,
    /// challenge) is lost, as on a real card.
    pub fn power_off(&mut self) {
        VirtualCard::power_off(&mut self.card);
    }

    /// Warm reset; returns the ATR. An unpowered card is powered on.
    pub fn reset(&mut self) -> Result<&[u8], Error> {
        if self.is_powered() {
            VirtualCard::reset(&mut self.card);
        } else {
            VirtualCard::power_on(&mut self.card);
        }
        self.powered_atr()
    }

    fn powered_atr(&self) -> Result<&[u8], Error> {
        if self.is_powered() {
            Ok(self.card.card().atr())
        } else {
            Err(Error::new(
                ErrorKind::CardMute,
                "the card did not power on (its image could not be saved)",
            ))
        }
    }

    /// Whether the card is powered.
    pub fn is_powered(&self) -> bool {
        self.card.card().is_powered()
    }

    /// The ATR of the current interface (answered while unpowered too, as a reader
    /// reports the card it holds).
    pub fn atr(&self) -> Vec<u8> {
        VirtualCard::atr(&self.card)
    }

    /// The interface the card uses.
    pub fn interface(&self) -> Interface {
        self.card.interface()
    }

    /// Moves the card to the other interface: like moving it from a contact reader to a
    /// contactless one, it loses power.
    pub fn set_interface(&mut self, interface: Interface) -> Result<(), Error> {
        self.card
            .set_interface(interface)
            .map_err(|e| Error::new(ErrorKind::CardMute, e.to_string()))
    }

    /// Sends one C-APDU; returns the response: data ‖ SW1 SW2.
    pub fn transmit(&mut self, apdu: &[u8]) -> Result<&[u8], Error> {
        self.response.clear();
        if !self.is_powered() {
            return Err(Error::new(
                ErrorKind::NotPowered,
                "the card is not powered: power it on first",
            ));
        }
        VirtualCard::transmit(&mut self.card, apdu, &mut self.response);
        if self.response.len() < 2 {
            return Err(Error::new(
                ErrorKind::CardMute,
                "the card gave no response: it could not save its image and lost power",
            ));
        }
        Ok(&self.response)
    }

    /// The response of the last successful [`Session::transmit`] (empty if none).
    pub fn last_response(&self) -> &[u8] {
        &self.response
    }

    /// Writes the card's persistent state as an image file at `path` (atomically: a
    /// temporary file beside it, fsynced, renamed over it). The image loads with
    /// [`Session::from_image`], `sscard run --image` and `sscard image info`.
    ///
    /// A card that persists to `path` itself saves through the lock it holds; any other
    /// image is written under its lock, so an image another process serves is refused
    /// rather than overwritten.
    pub fn save_image(&self, path: &Path) -> Result<(), Error> {
        let io_error = |e: &dyn fmt::Display| {
            Error::new(ErrorKind::Io, format!("image {}: {e}", path.display()))
        };
        if let Some(own) = self.card.image().filter(|own| same_file(own.path(), path)) {
            return own.save(self.card.nvm()).map_err(|e| io_error(&e));
        }
        let _lock = ImageLock::acquire(path).map_err(|e| {
            let kind = match e {
                LockError::InUse { .. } => ErrorKind::Image,
                LockError::Io { .. } => ErrorKind::Io,
            };
            Error::new(kind, format!("image {}: {e}", path.display()))
        })?;
        let bytes = image::encode(&self.meta, self.card.nvm());
        image::write_atomically(path, &bytes).map_err(|e| io_error(&e))
    }

    /// Starts tracing exchanges and power events (in `format`), or restarts with another
    /// format; lines pile up until [`Session::take_trace`].
    pub fn enable_trace(&mut self, format: TraceFormat) {
        let buffer = self
            .trace
            .clone()
            .unwrap_or_else(|| TraceBuffer::with_limit(TRACE_LIMIT));
        self.card
            .set_tracer(Tracer::new(Box::new(buffer.clone()), format));
        self.trace = Some(buffer);
    }

    /// Takes the trace lines written since the last call, at most `limit` bytes of whole
    /// lines. `Err(n)`: the next line alone needs `n` bytes.
    pub fn take_trace(&mut self, limit: usize) -> Result<Vec<u8>, usize> {
        let Some(buffer) = &self.trace else {
            return Ok(Vec::new());
        };
        buffer.take_lines(limit)
    }

    /// The card's persistent memory.
    pub fn nvm(&self) -> &[u8] {
        self.card.nvm()
    }
}

/// Whether two paths name one file (an image not written yet: the same path text).
fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn an_unread_trace_keeps_its_newest_whole_lines() {
        let mut buffer = TraceBuffer::with_limit(TRACE_LIMIT);
        let line = [b'x'; 99].iter().chain(b"\n").copied().collect::<Vec<u8>>();
        for _ in 0..(TRACE_LIMIT / 100 + 50) {
            buffer.write_all(&line).unwrap();
        }
        let kept = buffer.contents();
        assert!(kept.len() <= TRACE_LIMIT);
        assert!(kept.len() > TRACE_LIMIT - 100);
        assert_eq!(kept.len() % 100, 0, "whole lines only");
        assert_eq!(kept.first(), Some(&b'x'));
    }

    #[test]
    fn trace_is_taken_in_whole_lines() {
        let mut session = Session::from_profile(None, &SessionOptions::default()).unwrap();
        session.enable_trace(TraceFormat::Text);
        session.power_on().unwrap();
        session.transmit(&[0x00, 0x20, 0x00, 0x00]).unwrap();
        let Err(first_line) = session.take_trace(3) else {
            panic!("a 3-byte buffer holds no line")
        };
        let head = session.take_trace(first_line).unwrap();
        assert_eq!(head.len(), first_line);
        assert!(head.ends_with(b"\n") && head.starts_with("• power-on".as_bytes()));
        let rest = session.take_trace(usize::MAX).unwrap();
        assert!(String::from_utf8(rest).unwrap().contains("VERIFY"));
        assert!(session.take_trace(usize::MAX).unwrap().is_empty());
    }

    #[test]
    fn responses_of_every_length_come_back_whole() {
        let mut session = Session::from_profile(None, &SessionOptions::default()).unwrap();
        assert_eq!(
            session
                .transmit(&[0x00, 0xA4, 0x00, 0x00])
                .unwrap_err()
                .kind,
            ErrorKind::NotPowered
        );
        session.power_on().unwrap();
        for len in 0..=300usize {
            let apdu: Vec<u8> = (0..len).map(|i| (i * 131 + 7) as u8).collect();
            let response = session.transmit(&apdu).unwrap().to_vec();
            assert!(response.len() >= 2);
            assert_eq!(session.last_response(), response.as_slice());
        }
    }
}
