//! The one card trait of the host side: what a terminal, the script runner, the tear
//! harness and the CLI need of a card, whether it runs in this process
//! ([`InProcess`]), is served to PC/SC (`sscard_vcard::SscVirtualCard`) or sits in a
//! PC/SC reader (`pcsc_target::PcscTarget`, feature `pcsc`).

use sscard_core::Interface;
use sscard_core::card::applet::Applets;
use sscard_core::card::df_application::DfApplication;
use sscard_core::nvm::{Nvm, NvmError};
use sscard_core::rng::CardRng;
use sscard_ssc::SocialSecurity;
use std::fmt;

/// A card behind a link the host drives: power, reset, commands.
///
/// An unpowered card answers nothing: `transmit` returns an empty response (a mute
/// card), which is what a script's `=> mute` expects; an error means the link itself
/// failed.
pub trait CardLink {
    /// Powers the card on (cold reset); returns the ATR.
    fn power_on(&mut self) -> Result<Vec<u8>, LinkError>;
    /// Cuts power: volatile state is lost.
    fn power_off(&mut self) -> Result<(), LinkError>;
    /// Warm reset; returns the ATR.
    fn reset(&mut self) -> Result<Vec<u8>, LinkError>;
    /// Sends one command APDU; returns data ‖ SW1 SW2, or nothing when the card is mute.
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, LinkError>;
    /// Moves the card to `interface` and powers it on there.
    fn set_interface(&mut self, interface: Interface) -> Result<(), LinkError>;
    /// The card's current ATR.
    fn atr(&mut self) -> Result<Vec<u8>, LinkError>;
    /// Arms a fault (the `.apdu` fault directives; the test bench's control channel).
    /// A link that cannot do it says so.
    fn inject(&mut self, fault: &Fault) -> Result<(), LinkError> {
        let _ = fault;
        Err(LinkError::Unsupported("faults on this link"))
    }
}

/// A fault a test arms on the card, as a terminal test plan needs them (LD/T 6001.2
/// anti-tear, LD/T 6001.5 terminal time-outs and error handling).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// `tear-at K`: during the next command that writes the card's memory, power is lost
    /// at its K-th NVM write (from 1, as the test bench's `tear --at-write K`): no answer,
    /// the card is out of the reader until `insert`, which powers it up and recovers it as
    /// a real card does.
    TearAt(u32),
    /// `delay N`: the next response comes N milliseconds late.
    Delay(u32),
    /// `answer-sw HEX`: the next command is answered with this status word instead of
    /// reaching the card.
    AnswerSw(u16),
    /// `remove`: the card leaves the reader (unpowered, mute) until `insert`.
    Remove,
    /// `insert`: the card comes back and is powered (cold reset).
    Insert,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::TearAt(k) => write!(f, "tear-at {k}"),
            Fault::Delay(ms) => write!(f, "delay {ms}"),
            Fault::AnswerSw(sw) => write!(f, "answer-sw {sw:04X}"),
            Fault::Remove => f.write_str("remove"),
            Fault::Insert => f.write_str("insert"),
        }
    }
}

/// Plays a fault on a card out of band: for a card in a PC/SC reader, the served card's
/// control channel (`sscard script --reader … --control PATH`).
pub type FaultHook = Box<dyn FnMut(&Fault) -> Result<(), LinkError> + Send>;

/// Any link with the faults a host can play on it itself: delay, a status word instead
/// of the card's answer, removal and insertion. `tear-at` goes to the inner link (only a
/// card whose memory can be torn takes it).
pub struct Faulty<L: CardLink> {
    /// The link the faults are played on.
    pub inner: L,
    delay_ms: u32,
    answer_sw: Option<u16>,
    removed: bool,
}

impl<L: CardLink> Faulty<L> {
    /// `inner` with no fault armed.
    pub fn new(inner: L) -> Self {
        Faulty {
            inner,
            delay_ms: 0,
            answer_sw: None,
            removed: false,
        }
    }
}

impl<L: CardLink> CardLink for Faulty<L> {
    fn power_on(&mut self) -> Result<Vec<u8>, LinkError> {
        if self.removed {
            return Err(LinkError::Removed);
        }
        self.inner.power_on()
    }
    fn power_off(&mut self) -> Result<(), LinkError> {
        self.inner.power_off()
    }
    fn reset(&mut self) -> Result<Vec<u8>, LinkError> {
        if self.removed {
            return Err(LinkError::Removed);
        }
        self.inner.reset()
    }
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, LinkError> {
        if self.removed {
            return Ok(Vec::new());
        }
        let response = match self.answer_sw.take() {
            Some(sw) => sw.to_be_bytes().to_vec(),
            None => self.inner.transmit(apdu)?,
        };
        let delay = core::mem::take(&mut self.delay_ms);
        if delay > 0 {
            std::thread::sleep(std::time::Duration::from_millis(u64::from(delay)));
        }
        Ok(response)
    }
    fn set_interface(&mut self, interface: Interface) -> Result<(), LinkError> {
        if self.removed {
            return Err(LinkError::Removed);
        }
        self.inner.set_interface(interface)
    }
    fn atr(&mut self) -> Result<Vec<u8>, LinkError> {
        if self.removed {
            return Err(LinkError::Removed);
        }
        self.inner.atr()
    }
    fn inject(&mut self, fault: &Fault) -> Result<(), LinkError> {
        match *fault {
            Fault::Delay(ms) => self.delay_ms = ms,
            Fault::AnswerSw(sw) => self.answer_sw = Some(sw),
            Fault::Remove => {
                self.inner.power_off()?;
                self.removed = true;
            }
            Fault::Insert => {
                self.removed = false;
                self.inner.power_on()?;
            }
            Fault::TearAt(_) => self.inner.inject(fault)?,
        }
        Ok(())
    }
}

impl<L: CardLink + ?Sized> CardLink for Box<L> {
    fn power_on(&mut self) -> Result<Vec<u8>, LinkError> {
        (**self).power_on()
    }
    fn power_off(&mut self) -> Result<(), LinkError> {
        (**self).power_off()
    }
    fn reset(&mut self) -> Result<Vec<u8>, LinkError> {
        (**self).reset()
    }
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, LinkError> {
        (**self).transmit(apdu)
    }
    fn set_interface(&mut self, interface: Interface) -> Result<(), LinkError> {
        (**self).set_interface(interface)
    }
    fn atr(&mut self) -> Result<Vec<u8>, LinkError> {
        (**self).atr()
    }
    fn inject(&mut self, fault: &Fault) -> Result<(), LinkError> {
        (**self).inject(fault)
    }
}

/// Why a link could not do what was asked.
#[derive(Debug)]
#[non_exhaustive]
pub enum LinkError {
    /// The card's persistent memory could not be read at power-on or reset (journal
    /// recovery, card state).
    Memory(NvmError),
    /// The PC/SC stack refused a call.
    Reader {
        /// The PC/SC call (`SCardTransmit`, …).
        call: &'static str,
        /// What the stack said.
        detail: String,
    },
    /// This link cannot do that (a PC/SC reader cannot move its card to another
    /// interface; the tear harness runs on the contact interface only).
    Unsupported(&'static str),
    /// The card behind the link refused (for example a profile the card cannot take).
    Card(Box<dyn std::error::Error + Send + Sync>),
    /// The card is not in the reader (removed, or lost power in a tear, until `insert`).
    Removed,
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Memory(e) => write!(f, "card memory: {e}"),
            LinkError::Reader { call, detail } => write!(f, "{call}: {detail}"),
            LinkError::Unsupported(what) => write!(f, "not supported here: {what}"),
            LinkError::Card(e) => write!(f, "card: {e}"),
            LinkError::Removed => f.write_str("no card in the reader"),
        }
    }
}

impl std::error::Error for LinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LinkError::Memory(e) => Some(e),
            LinkError::Card(e) => Some(e.as_ref()),
            LinkError::Reader { .. } | LinkError::Unsupported(_) | LinkError::Removed => None,
        }
    }
}

impl From<NvmError> for LinkError {
    fn from(e: NvmError) -> Self {
        LinkError::Memory(e)
    }
}

/// A card in this process, driven through its `process` entry point with a response
/// buffer of [`MAX_RESPONSE_CAPACITY`](sscard_core::card::MAX_RESPONSE_CAPACITY) bytes.
pub struct InProcess<N: Nvm, R: CardRng, A: Applets, D: DfApplication = SocialSecurity> {
    /// The card.
    pub card: sscard_core::Card<N, R, A, D>,
    buffer: Vec<u8>,
}

impl<N: Nvm, R: CardRng, A: Applets, D: DfApplication> InProcess<N, R, A, D> {
    /// Powers `card` on `interface` and wraps it; a card whose memory cannot be read at
    /// power-on (journal recovery, card state) is refused.
    pub fn new(
        mut card: sscard_core::Card<N, R, A, D>,
        interface: Interface,
    ) -> Result<Self, NvmError> {
        card.power_on(interface)?;
        Ok(InProcess {
            card,
            buffer: vec![0u8; sscard_core::card::MAX_RESPONSE_CAPACITY],
        })
    }
}

impl<N: Nvm, R: CardRng, A: Applets, D: DfApplication> CardLink for InProcess<N, R, A, D> {
    fn power_on(&mut self) -> Result<Vec<u8>, LinkError> {
        let interface = self.card.interface();
        Ok(self.card.power_on(interface)?.to_vec())
    }
    fn power_off(&mut self) -> Result<(), LinkError> {
        self.card.power_off();
        Ok(())
    }
    fn reset(&mut self) -> Result<Vec<u8>, LinkError> {
        Ok(self.card.reset()?.to_vec())
    }
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, LinkError> {
        let n = self.card.process(apdu, &mut self.buffer);
        Ok(self.buffer.get(..n).unwrap_or(&[]).to_vec())
    }
    fn set_interface(&mut self, interface: Interface) -> Result<(), LinkError> {
        self.card.power_off();
        self.card.power_on(interface)?;
        Ok(())
    }
    fn atr(&mut self) -> Result<Vec<u8>, LinkError> {
        Ok(self.card.atr().to_vec())
    }
}
