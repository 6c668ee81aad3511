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
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Memory(e) => write!(f, "card memory: {e}"),
            LinkError::Reader { call, detail } => write!(f, "{call}: {detail}"),
            LinkError::Unsupported(what) => write!(f, "not supported here: {what}"),
            LinkError::Card(e) => write!(f, "card: {e}"),
        }
    }
}

impl std::error::Error for LinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LinkError::Memory(e) => Some(e),
            LinkError::Card(e) => Some(e.as_ref()),
            LinkError::Reader { .. } | LinkError::Unsupported(_) => None,
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
