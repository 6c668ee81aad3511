//! The sscard cards as [`VirtualCard`]s: what the vpcd transport, the in-process script
//! runner and the tests drive. [`ServedCard`] serves any card of the OS; the user card
//! ([`SscVirtualCard`]: the social-security applications, PBOC behind the firewall) and
//! the PSAM beside it ([`PsamVirtualCard`], LD/T 32 part 9) are its two instances.
//!
//! Power events reach the card as a real reader's would: power-off and reset wipe the
//! transient state (selected files, security status, challenge, pending response); only
//! NVM survives. With an [`ImageFile`], every command that committed an NVM transaction
//! is saved to disk *before* its response is returned, so whatever the host saw
//! acknowledged is durable. If the save fails, the card acts as if power had been cut
//! during that command: NVM goes back to the last saved state, the card powers down and
//! gives no response (the reader reports a mute card), and the image stays as it was.

use crate::VirtualCard;
use crate::image::{CardKind, ImageFile, ImageMeta};
use crate::trace::Tracer;
use sscard_core::card::applet::Interface;
use sscard_core::nvm::{Nvm, RamNvm, TearMode, TearingNvm};
use sscard_core::rng::{CardRng, SplitMixRng};
use sscard_core::{Applets, Card, CosOptions, DfApplication};
use sscard_host::link::LinkError;
use sscard_host::profile::Profile;
use sscard_pboc::PbocApplet;
use sscard_psam::Psam;
use sscard_ssc::{SocialSecurity, SscOptions};
use std::time::Instant;

/// Card randomness: the operating system's (`getrandom`), or a seeded sequence for
/// reproducible runs.
#[derive(Debug, Clone)]
pub enum HostRng {
    /// `getrandom`; should it ever fail, a SplitMix sequence seeded from the clock.
    Os(SplitMixRng),
    /// Deterministic.
    Seeded(SplitMixRng),
}

impl HostRng {
    /// The operating system's randomness.
    pub fn os() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        HostRng::Os(SplitMixRng::new(nanos ^ u64::from(std::process::id())))
    }
    /// A reproducible sequence.
    pub fn seeded(seed: u64) -> Self {
        HostRng::Seeded(SplitMixRng::new(seed))
    }
}

impl CardRng for HostRng {
    fn fill(&mut self, buf: &mut [u8]) {
        match self {
            HostRng::Os(fallback) => {
                if getrandom::fill(buf).is_err() {
                    fallback.fill(buf);
                }
            }
            HostRng::Seeded(r) => r.fill(buf),
        }
    }
}

/// The memory of a served card: RAM behind a [`TearingNvm`], so the test bench can cut
/// the power at a chosen write.
pub type ServedNvm = TearingNvm<RamNvm<Vec<u8>>>;

/// The user card type served: [`ServedNvm`], host randomness, and the PBOC applet behind
/// the firewall (it answers only when the image has a PBOC region, i.e. the profile had
/// a `[pboc]` section; otherwise its names stay "not found", as before).
pub type SscCard = sscard_ssc::SscCard<ServedNvm, HostRng, (PbocApplet,)>;

/// The PSAM type served: [`ServedNvm`], host randomness, no applets.
pub type PsamCard = sscard_psam::PsamCard<ServedNvm, HostRng>;

/// The user card behind a reader.
pub type SscVirtualCard = ServedCard<(PbocApplet,), SocialSecurity>;

/// The PSAM behind a reader (`sscard run --psam`: the slot after the user card's).
pub type PsamVirtualCard = ServedCard<(), Psam>;

/// The contactless UID reported when the profile names none (defined with the profile,
/// which the virtual card builds on).
pub use sscard_host::profile::DEFAULT_UID;

/// Largest response: 65536 data bytes and the SW.
const RESPONSE_CAPACITY: usize = sscard_core::card::MAX_RESPONSE_CAPACITY;

struct Persistence {
    file: ImageFile,
    /// The NVM bytes as last saved: what the file holds.
    saved: Vec<u8>,
    /// Saves made since the card was served: the image's generation.
    saves: u64,
}

/// A power cut armed for the next command that writes NVM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ArmedTear {
    /// 1-based write of that command at which the power goes.
    at_write: u32,
    mode: TearMode,
}

/// What an armed power cut did to the command that met it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TearOutcome {
    /// The power went at the armed write; the card recovered its memory as at the next
    /// power-up and holds the state before the command (`old`) or after it (`new`).
    Torn {
        /// The write the power went at (1-based).
        at_write: u32,
        /// Instruction byte of the torn command.
        ins: u8,
        /// True when the recovered memory is the command's result, false when it is the
        /// state before it.
        new_state: bool,
    },
    /// The command wrote fewer times than the armed write: no cut, the cut is disarmed.
    NotReached {
        /// The writes the command made.
        writes: u32,
        /// Instruction byte of the command.
        ins: u8,
    },
}

/// A card of the sscard OS behind a reader: applets `A` behind the firewall, DF
/// application `D`.
pub struct ServedCard<A: Applets, D: DfApplication> {
    card: Card<ServedNvm, HostRng, A, D>,
    interface: Interface,
    /// ATR of the current interface, kept so the presence poll (GET ATR) is answered
    /// while the card is unpowered too, as a card sitting in a reader is.
    atr: Vec<u8>,
    persistence: Option<Persistence>,
    tracer: Option<Tracer>,
    out: Vec<u8>,
    /// What the emulated contactless reader reports for `FF CA 00 00`.
    uid: Vec<u8>,
    /// A power cut armed by the test bench, waiting for a command that writes.
    tear: Option<ArmedTear>,
    /// What the last armed cut did, until taken.
    tear_outcome: Option<TearOutcome>,
}

impl<A: Applets, D: DfApplication> std::fmt::Debug for ServedCard<A, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServedCard")
            .field("interface", &self.interface)
            .field("powered", &self.card.is_powered())
            .field("image", &self.persistence.as_ref().map(|p| p.file.path()))
            .finish_non_exhaustive()
    }
}

/// Why a virtual card cannot be made or switched.
#[derive(Debug)]
pub enum CardError {
    /// The NVM body is not a card (bad header, newer format, unreadable).
    Load(sscard_core::fs::layout::LoadError),
    /// The profile cannot be personalized.
    Profile(sscard_host::profile::ProfileError),
    /// Another process serves the image (its lock is held), or the lock file fails.
    Locked(crate::image_lock::LockError),
    /// The card's memory could not be read at power-on.
    PowerOn(sscard_core::nvm::NvmError),
    /// The card answered power-on with no ATR (its card-information record is empty).
    NoAtr,
    /// The image holds another kind of card (a PSAM's image given for the user card, or
    /// the other way round).
    OtherKind {
        /// What the image holds.
        image: CardKind,
        /// What was to be served.
        wanted: CardKind,
    },
}

impl std::fmt::Display for CardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CardError::Load(e) => write!(f, "cannot load the card: {e}"),
            CardError::Profile(e) => write!(f, "{e}"),
            CardError::Locked(e) => write!(f, "{e}"),
            CardError::PowerOn(e) => write!(f, "card does not power on: {e}"),
            CardError::NoAtr => f.write_str("card has no ATR"),
            CardError::OtherKind { image, wanted } => {
                write!(f, "the image holds {image}, not {wanted}")
            }
        }
    }
}

impl std::error::Error for CardError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CardError::Load(e) => Some(e),
            CardError::Profile(e) => Some(e),
            CardError::Locked(e) => Some(e),
            CardError::PowerOn(e) => Some(e),
            CardError::NoAtr | CardError::OtherKind { .. } => None,
        }
    }
}

impl SscVirtualCard {
    /// A card whose NVM is `nvm` (a personalized image body). Unpowered.
    pub fn new(
        nvm: Vec<u8>,
        options: CosOptions,
        ssc_options: SscOptions,
        rng: HostRng,
        interface: Interface,
    ) -> Result<Self, CardError> {
        let applications = SocialSecurity::new(ssc_options);
        let card = Card::load(
            TearingNvm::new(RamNvm::new(nvm)),
            rng,
            (PbocApplet::new(),),
            applications,
            options,
        )
        .map_err(CardError::Load)?;
        ServedCard::serve(card, interface)
    }

    /// A fresh card personalized from `profile`, in RAM only.
    pub fn from_profile(
        profile: &Profile,
        rng: HostRng,
        interface: Interface,
    ) -> Result<Self, CardError> {
        let nvm = profile.image().map_err(CardError::Profile)?;
        let mut card = SscVirtualCard::new(
            nvm,
            profile.options(),
            profile.ssc_options(),
            rng,
            interface,
        )?;
        card.set_uid(profile.uid());
        Ok(card)
    }
}

impl PsamVirtualCard {
    /// A PSAM whose NVM is `nvm` (a personalized PSAM image body, its choices in its
    /// memory: `Psam::store_options`). Unpowered.
    pub fn new(nvm: Vec<u8>, rng: HostRng, interface: Interface) -> Result<Self, CardError> {
        let card = Card::load_stored(
            TearingNvm::new(RamNvm::new(nvm)),
            rng,
            (),
            Psam::from_stored,
        )
        .map_err(CardError::Load)?;
        ServedCard::serve(card, interface)
    }

    /// A fresh PSAM personalized from `profile`'s `[psam]` (the defaults without one: the
    /// roots of the profile's card), in RAM only.
    pub fn from_profile(
        profile: &Profile,
        rng: HostRng,
        interface: Interface,
    ) -> Result<Self, CardError> {
        let psam = profile.psam().map_err(CardError::Profile)?;
        PsamVirtualCard::new(psam.image, rng, interface)
    }
}

/// What differs between the kinds of card a reader serves when one loads from an image:
/// the mark its image carries, and where its choices come from (the user card's from the
/// image's metadata, the PSAM's from its own memory).
pub trait ServedKind: Sized {
    /// The kind an image must be marked with to hold this card.
    const KIND: CardKind;

    /// The card in `body`, with the choices `meta` records. Unpowered.
    fn load(
        body: Vec<u8>,
        meta: &ImageMeta,
        rng: HostRng,
        interface: Interface,
    ) -> Result<Self, CardError>;
}

impl ServedKind for SscVirtualCard {
    const KIND: CardKind = CardKind::User;

    fn load(
        body: Vec<u8>,
        meta: &ImageMeta,
        rng: HostRng,
        interface: Interface,
    ) -> Result<Self, CardError> {
        SscVirtualCard::new(body, meta.options, meta.ssc_options, rng, interface)
    }
}

impl ServedKind for PsamVirtualCard {
    const KIND: CardKind = CardKind::Psam;

    /// A PSAM's image metadata holds none of its choices: they are in its body.
    fn load(
        body: Vec<u8>,
        _: &ImageMeta,
        rng: HostRng,
        interface: Interface,
    ) -> Result<Self, CardError> {
        PsamVirtualCard::new(body, rng, interface)
    }
}

impl<A: Applets, D: DfApplication> ServedCard<A, D>
where
    Self: ServedKind,
{
    /// A card kept in `file`, whose current body is `body`: every change (for a PSAM its
    /// TTSN and keys) is saved there. Takes the image's lock if `file` does not hold it
    /// yet: a second process serving the same image is refused here, naming the holder.
    /// An image of another kind of card is refused.
    pub fn with_image(
        mut file: ImageFile,
        body: Vec<u8>,
        rng: HostRng,
        interface: Interface,
    ) -> Result<Self, CardError> {
        if file.meta().kind != Self::KIND {
            return Err(CardError::OtherKind {
                image: file.meta().kind,
                wanted: Self::KIND,
            });
        }
        file.lock().map_err(CardError::Locked)?;
        let mut me = Self::load(body.clone(), file.meta(), rng, interface)?;
        me.persistence = Some(Persistence {
            file,
            saved: body,
            saves: 0,
        });
        Ok(me)
    }
}

impl<A: Applets, D: DfApplication> ServedCard<A, D> {
    /// Serves `card` through `interface`, unpowered; learns its ATR.
    fn serve(
        card: Card<ServedNvm, HostRng, A, D>,
        interface: Interface,
    ) -> Result<Self, CardError> {
        let mut me = ServedCard {
            card,
            interface,
            atr: Vec::new(),
            persistence: None,
            tracer: None,
            out: vec![0u8; RESPONSE_CAPACITY],
            uid: DEFAULT_UID.to_vec(),
            tear: None,
            tear_outcome: None,
        };
        me.learn_atr()?;
        Ok(me)
    }

    /// The card.
    pub fn card(&self) -> &Card<ServedNvm, HostRng, A, D> {
        &self.card
    }

    /// The contactless UID the emulated reader reports (4, 7 or 10 bytes; the profile's
    /// `card.uid`). A card image does not keep it: it belongs to the reader's view.
    pub fn set_uid(&mut self, uid: &[u8]) {
        self.uid = uid.to_vec();
    }

    /// The reader's own answer to a pseudo-APDU, or `None` for a command the card must
    /// process. PC/SC part 3 §3.2.2.1.3 GET DATA `FF CA P1 00 Le` (spec/pcsc.md §2.1):
    /// behind vpcd no reader driver answers it, so the virtual card answers for the
    /// reader. Contactless: P1 `00` the UID, P1 `01` the historical bytes of the ATS
    /// (those of the contactless ATR, PC/SC part 3 §3.1.3.2.3.1), both ‖ `9000`; Le shorter
    /// than the data → `6Cxx`, longer → data ‖ `6282`. Contact, other P1 or P2 → `6A81`,
    /// as a reader answers for a function it does not support. Other class-`FF` commands go
    /// to the card (which answers `6E00`), as through a transparent reader.
    fn reader_command(&self, apdu: &[u8]) -> Option<Vec<u8>> {
        let [0xFF, 0xCA, p1, p2, rest @ ..] = apdu else {
            return None;
        };
        const NOT_SUPPORTED: [u8; 2] = [0x6A, 0x81];
        let data: Vec<u8> = match (self.interface, p1, p2) {
            (Interface::Contactless, 0x00, 0x00) => self.uid.clone(),
            (Interface::Contactless, 0x01, 0x00) => {
                sscard_core::atr::historical_bytes(self.card.atr())
                    .unwrap_or(&[])
                    .to_vec()
            }
            _ => return Some(NOT_SUPPORTED.to_vec()),
        };
        // Short case 2 only: Le absent (case 1 sent by some hosts) or one byte, 00 = all.
        let le = match rest {
            [] | [0x00] => None,
            [le] => Some(usize::from(*le)),
            _ => return Some(vec![0x67, 0x00]),
        };
        let mut out = match le {
            Some(le) if le < data.len() => return Some(vec![0x6C, data.len() as u8]),
            Some(le) if le > data.len() => {
                let mut d = data;
                d.extend_from_slice(&[0x62, 0x82]);
                return Some(d);
            }
            _ => data,
        };
        out.extend_from_slice(&[0x90, 0x00]);
        Some(out)
    }

    /// Traces exchanges and power events from now on.
    pub fn set_tracer(&mut self, tracer: Tracer) {
        self.tracer = Some(tracer);
    }

    /// The interface the next power-on uses. Takes effect at once: like moving a card
    /// from a contact reader to a contactless one, the card loses power.
    pub fn set_interface(&mut self, interface: Interface) -> Result<(), CardError> {
        if self.card.is_powered() {
            self.cut_power();
        }
        self.interface = interface;
        self.learn_atr()
    }

    /// The interface in use.
    pub fn interface(&self) -> Interface {
        self.interface
    }

    /// The card's NVM bytes.
    pub fn nvm(&self) -> &[u8] {
        self.card.store().nvm().inner().bytes()
    }

    /// Saves of the image since the card was served (0 without an image).
    pub fn image_generation(&self) -> u64 {
        self.persistence.as_ref().map_or(0, |p| p.saves)
    }

    /// The card's tracer, if any.
    pub fn tracer_mut(&mut self) -> Option<&mut Tracer> {
        self.tracer.as_mut()
    }

    /// Arms a power cut at write `at_write` (1-based) of the next command that writes
    /// NVM; `mode` says what that write leaves. Replaces a cut armed before.
    pub fn arm_tear(&mut self, at_write: u32, mode: TearMode) {
        self.tear = Some(ArmedTear {
            at_write: at_write.max(1),
            mode,
        });
        self.tear_outcome = None;
    }

    /// Cancels an armed power cut.
    pub fn disarm_tear(&mut self) {
        self.tear = None;
    }

    /// The armed power cut, if any: its write and mode.
    pub fn armed_tear(&self) -> Option<(u32, TearMode)> {
        self.tear.map(|t| (t.at_write, t.mode))
    }

    /// What the armed cut did to the last command, once: `None` while it waits.
    pub fn take_tear_outcome(&mut self) -> Option<TearOutcome> {
        self.tear_outcome.take()
    }

    /// The image file, if any.
    pub fn image(&self) -> Option<&ImageFile> {
        self.persistence.as_ref().map(|p| &p.file)
    }

    /// Power-on to read the ATR of the current interface, then power-off: the transient
    /// state is wiped either way.
    fn learn_atr(&mut self) -> Result<(), CardError> {
        let atr = self
            .card
            .power_on(self.interface)
            .map_err(CardError::PowerOn)?
            .to_vec();
        self.card.power_off();
        if atr.is_empty() {
            return Err(CardError::NoAtr);
        }
        self.atr = atr;
        Ok(())
    }

    /// Saves NVM if it differs from the image. On failure, puts NVM back to the saved
    /// state (the command did not happen) and returns false.
    fn persist(&mut self) -> bool {
        let Some(p) = self.persistence.as_mut() else {
            return true;
        };
        let now = self.card.store().nvm().inner().bytes();
        if now == p.saved.as_slice() {
            return true;
        }
        match p.file.save(now) {
            Ok(()) => {
                p.saved.clear();
                p.saved.extend_from_slice(now);
                p.saves = p.saves.saturating_add(1);
                true
            }
            Err(e) => {
                tracing::error!(image = %p.file.path().display(), error = %e,
                    "image save failed; the command is undone and the card goes mute");
                let _ = self
                    .card
                    .store_mut()
                    .nvm_mut()
                    .inner_mut()
                    .write(0, &p.saved);
                self.card.power_off();
                false
            }
        }
    }

    /// Powers the card on without tracing or saving: for a throw-away copy.
    pub(crate) fn power_on_quietly(&mut self) -> Result<(), sscard_core::nvm::NvmError> {
        self.card.power_on(self.interface).map(|_| ())
    }

    /// The data of a command answered `9000`, fetching `61xx` data as a T=0 terminal
    /// does; `None` for any other status. For a throw-away copy.
    pub(crate) fn ask(&mut self, apdu: &[u8]) -> Option<Vec<u8>> {
        let mut command = apdu.to_vec();
        // A card chains at most a few GET RESPONSEs; more means it is not answering.
        for _ in 0..4 {
            let n = self.card.process(&command, &mut self.out);
            let response = self.out.get(..n)?;
            let (data, sw) = response.split_at(n.checked_sub(2)?);
            match sw {
                [0x90, 0x00] => return Some(data.to_vec()),
                [0x61, le] => command = vec![0x00, 0xC0, 0x00, 0x00, *le],
                _ => return None,
            }
        }
        None
    }

    /// Schedules the armed cut in the memory for the command about to run; returns the
    /// memory as it was, to tell old from new after a cut.
    fn prepare_tear(&mut self) -> Option<Vec<u8>> {
        let tear = self.tear?;
        if !self.card.is_powered() {
            return None;
        }
        let before = self.nvm().to_vec();
        self.card
            .store_mut()
            .nvm_mut()
            .tear_at(tear.at_write.saturating_sub(1), tear.mode);
        Some(before)
    }

    /// After a command run with a cut scheduled: if the power went, recover the memory as
    /// the next power-up does (LD/T 32 P7 §14: restore a consistent state without any
    /// terminal command) and save that to the image, so the image holds old or new
    /// data, never a torn journal. A command that did not write leaves the cut armed.
    fn settle_tear(&mut self, apdu: &[u8], before: &[u8]) {
        let ins = apdu.get(1).copied().unwrap_or(0);
        let nvm = self.card.store().nvm();
        let (torn, writes) = (nvm.is_torn(), nvm.writes());
        self.card.store_mut().nvm_mut().reset_counter();
        let Some(tear) = self.tear else { return };
        if torn {
            self.tear = None;
            self.card.store_mut().nvm_mut().restore_power();
            if let Err(e) = self.card.store_mut().recover() {
                tracing::error!(error = %e, "recovery after the power cut failed");
            }
            let new_state = self.nvm() != before;
            // The card is unpowered: a failed save leaves memory and image at the old state.
            self.persist();
            self.tear_outcome = Some(TearOutcome::Torn {
                at_write: tear.at_write,
                ins,
                new_state,
            });
        } else if writes > 0 {
            self.tear = None;
            self.tear_outcome = Some(TearOutcome::NotReached { writes, ins });
        }
    }

    /// Power-off, traced.
    fn cut_power(&mut self) {
        self.card.power_off();
        self.trace_event("power-off");
    }

    fn trace_event(&mut self, event: &str) {
        if let Some(t) = self.tracer.as_mut() {
            let atr = if self.card.is_powered() {
                self.card.atr()
            } else {
                &[]
            };
            t.event(event, atr);
        }
    }
}

impl<A: Applets + Send, D: DfApplication + Send> VirtualCard for ServedCard<A, D> {
    fn atr(&self) -> Vec<u8> {
        self.atr.clone()
    }

    fn power_on(&mut self) {
        match self.card.power_on(self.interface) {
            Ok(atr) => self.atr = atr.to_vec(),
            Err(e) => tracing::error!(error = %e, "card memory unusable at power-on"),
        }
        // Power-on replays an interrupted NVM transaction, if one was left.
        if !self.persist() {
            return;
        }
        let event = match self.interface {
            Interface::Contact => "power-on (contact)",
            Interface::Contactless => "power-on (contactless)",
        };
        self.trace_event(event);
    }

    fn power_off(&mut self) {
        self.cut_power();
    }

    fn reset(&mut self) {
        match self.card.reset() {
            Ok(atr) => self.atr = atr.to_vec(),
            Err(e) => tracing::error!(error = %e, "card memory unusable at reset"),
        }
        if self.persist() {
            self.trace_event("reset");
        }
    }

    fn transmit(&mut self, apdu: &[u8], response: &mut Vec<u8>) {
        let started = Instant::now();
        if self.card.is_powered()
            && let Some(answer) = self.reader_command(apdu)
        {
            response.extend_from_slice(&answer);
            if let Some(t) = self.tracer.as_mut() {
                t.reader_exchange(apdu, response, started.elapsed());
            }
            return;
        }
        let commits = self.card.store().commits();
        let before_tear = self.prepare_tear();
        let n = self.card.process(apdu, &mut self.out);
        if let Some(before) = before_tear {
            self.settle_tear(apdu, &before);
        }
        // Save before answering: the host must never see an acknowledgement of a change
        // that is not on disk yet.
        let answered = self.card.store().commits() == commits || self.persist();
        if answered {
            response.extend_from_slice(self.out.get(..n).unwrap_or(&[]));
        }
        let elapsed = started.elapsed();
        if let Some(t) = self.tracer.as_mut() {
            // An applet behind the firewall answered, or the card's DF application: the
            // social-security one, or the PSAM's (whose readable records are BER-TLV DIR
            // entries, decoded alike).
            let application = match self.card.transient().applet {
                Some(_) => sscard_host::annotate::Application::Financial,
                None => sscard_host::annotate::Application::SocialSecurity,
            };
            t.exchange_in(application, apdu, response, elapsed);
        }
    }
}

/// Scripts and terminals run on the card in this process: every directive is supported,
/// including interface switches.
impl<A: Applets + Send, D: DfApplication + Send> sscard_host::link::CardLink for ServedCard<A, D> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, LinkError> {
        let mut response = Vec::new();
        VirtualCard::transmit(self, apdu, &mut response);
        Ok(response)
    }
    fn reset(&mut self) -> Result<Vec<u8>, LinkError> {
        VirtualCard::reset(self);
        Ok(self.atr.clone())
    }
    fn power_off(&mut self) -> Result<(), LinkError> {
        VirtualCard::power_off(self);
        Ok(())
    }
    fn power_on(&mut self) -> Result<Vec<u8>, LinkError> {
        VirtualCard::power_on(self);
        Ok(self.atr.clone())
    }
    fn set_interface(&mut self, interface: Interface) -> Result<(), LinkError> {
        ServedCard::set_interface(self, interface).map_err(|e| LinkError::Card(Box::new(e)))?;
        VirtualCard::power_on(self);
        Ok(())
    }
    fn atr(&mut self) -> Result<Vec<u8>, LinkError> {
        Ok(self.atr.clone())
    }
    /// `tear-at K` arms a power cut (nothing of write K lands); the card then answers
    /// nothing until it is powered again. The other faults are the host's to play
    /// (`sscard_host::link::Faulty`).
    fn inject(&mut self, fault: &sscard_host::link::Fault) -> Result<(), LinkError> {
        match *fault {
            sscard_host::link::Fault::TearAt(k) => {
                self.arm_tear(k, sscard_core::nvm::TearMode::Nothing);
                Ok(())
            }
            _ => Err(LinkError::Unsupported(
                "faults other than tear-at on the card itself",
            )),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn card() -> SscVirtualCard {
        SscVirtualCard::from_profile(
            &Profile::default_gen3(),
            HostRng::seeded(1),
            Interface::Contact,
        )
        .unwrap()
    }

    fn send(card: &mut SscVirtualCard, apdu: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        card.transmit(apdu, &mut r);
        r
    }

    #[test]
    fn atr_is_answered_while_unpowered_and_per_interface() {
        let mut c = card();
        assert_eq!(c.atr()[..4], [0x3B, 0x6D, 0x00, 0x00]);
        c.set_interface(Interface::Contactless).unwrap();
        assert_eq!(c.atr()[..4], [0x3B, 0x8D, 0x80, 0x01]);
    }

    #[test]
    fn the_reader_answers_ff_ca_on_contactless_and_refuses_it_on_contact() {
        let mut c = card();
        c.power_on();
        // Contact: a reader does not support GET DATA UID there (PC/SC part 3 §3.2.2.1.3).
        assert_eq!(send(&mut c, &[0xFF, 0xCA, 0x00, 0x00, 0x00]), [0x6A, 0x81]);
        c.set_interface(Interface::Contactless).unwrap();
        c.power_on();
        assert_eq!(
            send(&mut c, &[0xFF, 0xCA, 0x00, 0x00, 0x00]),
            [0x53, 0x53, 0x43, 0x01, 0x90, 0x00]
        );
        assert_eq!(
            send(&mut c, &[0xFF, 0xCA, 0x00, 0x00]),
            [0x53, 0x53, 0x43, 0x01, 0x90, 0x00]
        );
        assert_eq!(send(&mut c, &[0xFF, 0xCA, 0x00, 0x00, 0x02]), [0x6C, 0x04]);
        assert_eq!(
            send(&mut c, &[0xFF, 0xCA, 0x00, 0x00, 0x06]),
            [0x53, 0x53, 0x43, 0x01, 0x62, 0x82]
        );
        // The ATS historical bytes are those of the contactless ATR 3B 8D 80 01 <hist> TCK.
        let atr = c.atr();
        let mut hist = atr[4..atr.len() - 1].to_vec();
        hist.extend_from_slice(&[0x90, 0x00]);
        assert_eq!(send(&mut c, &[0xFF, 0xCA, 0x01, 0x00, 0x00]), hist);
        assert_eq!(send(&mut c, &[0xFF, 0xCA, 0x02, 0x00, 0x00]), [0x6A, 0x81]);
        // Other reader-class commands reach the card, which does not know class FF.
        assert_eq!(send(&mut c, &[0xFF, 0xB0, 0x00, 0x00, 0x00]), [0x6E, 0x00]);
        // A profile's UID replaces the default.
        c.set_uid(&[1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(
            send(&mut c, &[0xFF, 0xCA, 0x00, 0x00, 0x00]),
            [1, 2, 3, 4, 5, 6, 7, 0x90, 0x00]
        );
    }

    #[test]
    fn power_off_and_reset_wipe_the_security_state() {
        let mut c = card();
        c.power_on();
        let verify = [0x00, 0x20, 0x00, 0x00, 0x03, 0x12, 0x34, 0x56];
        let select_ssse = [
            0x00, 0xA4, 0x04, 0x0C, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7,
            0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF,
        ];
        assert_eq!(send(&mut c, &select_ssse), [0x90, 0x00]);
        assert_eq!(send(&mut c, &verify), [0x90, 0x00]);
        // Challenge issued, then a reset: EXTERNAL AUTHENTICATE finds no challenge.
        assert_eq!(send(&mut c, &[0, 0x84, 0, 0, 8]).len(), 10);
        c.reset();
        assert_eq!(send(&mut c, &select_ssse), [0x90, 0x00]);
        let ext = [
            0, 0x82, 0, 0x0A, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(send(&mut c, &ext), [0x69, 0x84]);
        c.power_off();
        assert_eq!(
            send(&mut c, &select_ssse),
            Vec::<u8>::new(),
            "mute while unpowered"
        );
    }

    #[test]
    fn state_changes_are_saved_before_the_answer_and_reads_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.img");
        let profile = Profile::default_gen3();
        let (file, body, _) = ImageFile::open_or_create(&path, &profile, true).unwrap();
        let mut c =
            SscVirtualCard::with_image(file, body, HostRng::seeded(2), Interface::Contact).unwrap();
        c.power_on();
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        let select_ssse = [
            0x00, 0xA4, 0x04, 0x0C, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7,
            0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF,
        ];
        send(&mut c, &select_ssse);
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            before
        );
        // A wrong PIN decrements the try counter in NVM: saved before the 63C2 comes back.
        assert_eq!(
            send(&mut c, &[0x00, 0x20, 0x00, 0x00, 0x03, 0x99, 0x99, 0x99]),
            [0x63, 0xC2]
        );
        let (_, on_disk) = ImageFile::load(&path).unwrap();
        assert_eq!(on_disk, c.nvm());
        // While this card serves the image, no second card may.
        let (file, body) = ImageFile::load(&path).unwrap();
        let refused =
            SscVirtualCard::with_image(file, body, HostRng::seeded(3), Interface::Contact)
                .unwrap_err();
        assert!(matches!(refused, CardError::Locked(_)), "{refused}");
        assert!(
            refused.to_string().contains("in use by process"),
            "{refused}"
        );
        // A restarted card from the image remembers the try counter.
        drop(c);
        let (file, body) = ImageFile::load(&path).unwrap();
        let mut again =
            SscVirtualCard::with_image(file, body, HostRng::seeded(3), Interface::Contact).unwrap();
        again.power_on();
        send(&mut again, &select_ssse);
        assert_eq!(send(&mut again, &[0x00, 0x20, 0x00, 0x00]), [0x63, 0xC2]);
    }

    #[test]
    fn a_failed_save_undoes_the_command_and_mutes_the_card() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("gone");
        std::fs::create_dir(&sub).unwrap();
        let path = sub.join("card.img");
        let (file, body, _) =
            ImageFile::open_or_create(&path, &Profile::default_gen3(), false).unwrap();
        let mut c =
            SscVirtualCard::with_image(file, body, HostRng::seeded(2), Interface::Contact).unwrap();
        let saved = c.nvm().to_vec();
        c.power_on();
        let select_ssse = [
            0x00, 0xA4, 0x04, 0x0C, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7,
            0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF,
        ];
        send(&mut c, &select_ssse);
        // The directory disappears: the temporary file cannot be created.
        std::fs::remove_dir_all(&sub).unwrap();
        assert_eq!(
            send(&mut c, &[0x00, 0x20, 0x00, 0x00, 0x03, 0x99, 0x99, 0x99]),
            Vec::<u8>::new()
        );
        assert_eq!(c.nvm(), saved.as_slice(), "NVM rolled back");
        assert!(!c.card().is_powered());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod psam_tests {
    use super::*;

    #[test]
    fn a_psam_image_is_never_served_as_a_user_card_nor_the_other_way_round() {
        let dir = tempfile::tempdir().unwrap();
        let profile = Profile::default_gen3();
        let (psam_path, card_path) = (dir.path().join("psam.img"), dir.path().join("card.img"));
        let (file, body, _) =
            ImageFile::open_or_create_as(CardKind::Psam, &psam_path, &profile, false).unwrap();
        drop(file);
        let (file, _) = ImageFile::load(&psam_path).unwrap();
        let refused =
            SscVirtualCard::with_image(file, body, HostRng::seeded(1), Interface::Contact)
                .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "the image holds a PSAM, not a user card"
        );
        let refused = ImageFile::open_or_create(&psam_path, &profile, false).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("holds a PSAM, not a user card"),
            "{refused}"
        );
        let (file, body, _) = ImageFile::open_or_create(&card_path, &profile, false).unwrap();
        drop(file);
        let (file, _) = ImageFile::load(&card_path).unwrap();
        let refused =
            PsamVirtualCard::with_image(file, body, HostRng::seeded(1), Interface::Contact)
                .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "the image holds a user card, not a PSAM"
        );
        let refused =
            ImageFile::open_or_create_as(CardKind::Psam, &card_path, &profile, false).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("holds a user card, not a PSAM"),
            "{refused}"
        );
    }
}
