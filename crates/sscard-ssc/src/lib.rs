//! sscard-ssc: the social-security applications of the sscard emulator, on the card OS
//! of `sscard-core`.
//!
//! `no_std`, no heap, no `unsafe`. What is here is what LD/T 32 defines above the COS:
//! [`layout`] (the SSSE, DF01–DF07 and their files, the data dictionary's places),
//! [`perso`] (writing them, with diversified keys and PINs, into a formatted card),
//! [`purse`] (the medical purse of DF04, LD/T 32 P5 §7), [`pki`] (the PKI application,
//! spec/ssc.md §9 item 4), their spec choices ([`options`]) and the status words only they
//! answer ([`status`]).
//!
//! The OS hosts them through [`sscard_core::DfApplication`]: [`SocialSecurity`] is the
//! card's DF application; a card is `Card<N, R, A, SocialSecurity>` ([`SscCard`]).
//!
//! Embedding it: `docs/embedder.md` in the repository.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod layout;
pub mod options;
pub mod perso;
pub mod pki;
pub mod purse;
pub mod status;

pub use options::SscOptions;
pub use perso::{Generation, PersoError, SscPersonalization, personalize};

use pki::{Pki, ROLE_PKI_ADF};
use purse::{Purse, PurseState, ROLE_MEDICAL_DF};
use sscard_core::apdu::CommandView;
use sscard_core::nvm::Nvm;
use sscard_core::status::{Result, Status};
use sscard_core::{Card, DfApplication, DfCall};

/// A social-security card: the OS hosting [`SocialSecurity`] beside applets `A`.
pub type SscCard<N, R, A = ()> = Card<N, R, A, SocialSecurity>;

/// The social-security applications that take commands inside the file system: the
/// medical purse in DF04 and the PKI application in its ADF (the SSSE's files, keys and
/// PINs need nothing beyond the OS's commands).
#[derive(Clone, Debug, Default)]
pub struct SocialSecurity {
    options: SscOptions,
    /// The medical purse state machine (P5 T49); transient.
    purse: PurseState,
}

impl SocialSecurity {
    /// The applications as the card's memory stores their options (bytes of
    /// [`SscOptions::encode`]); `None` for bytes they cannot read. For
    /// `Card::load_stored`.
    pub fn from_stored(bytes: &[u8]) -> Option<Self> {
        // The memory holds all of them (only old image metadata left some out).
        if bytes.len() != SscOptions::ENCODED_LEN {
            return None;
        }
        SscOptions::decode(bytes).map(Self::new)
    }

    /// The applications with these spec choices.
    pub fn new(options: SscOptions) -> Self {
        SocialSecurity {
            options,
            purse: PurseState::Idle,
        }
    }

    /// The spec choices in force.
    pub fn options(&self) -> &SscOptions {
        &self.options
    }

    /// The purse state machine (for tests and traces).
    pub fn purse_state(&self) -> &PurseState {
        &self.purse
    }
}

impl DfApplication for SocialSecurity {
    fn command_arrives(&mut self, cmd: &CommandView<'_>) {
        if cmd.cla() != 0xB0 {
            // An INITIALIZE applies to the next purse command only (P5 §7.5.1, §7.6.1).
            self.purse = PurseState::Idle;
        }
    }

    fn claims(&self, role: u8, cmd: &CommandView<'_>) -> Result<bool> {
        if role == ROLE_PKI_ADF && self.options.pki.handles(cmd) {
            return Ok(true);
        }
        match cmd.cla() {
            // The purse commands (class B0, P5 §7) exist only in the medical DF04.
            0xB0 if role == ROLE_MEDICAL_DF => Ok(true),
            0xB0 => Err(Status::InstructionNotSupported),
            _ => Ok(false),
        }
    }

    fn process<N: Nvm>(&mut self, role: u8, mut call: DfCall<'_, '_, '_, '_, N>) -> Result<()> {
        let (ctx, cmd, reply) = (&mut call.ctx, call.cmd, call.reply);
        if role == ROLE_PKI_ADF && self.options.pki.handles(cmd) {
            return Pki {
                auth: ctx,
                commands: self.options.pki,
                keys: self.options.pki_keys,
            }
            .process(cmd, reply);
        }
        Purse {
            auth: ctx,
            state: &mut self.purse,
            options: self.options.purse,
        }
        .process(cmd, reply)
    }

    fn clear(&mut self) {
        self.purse = PurseState::Idle;
    }
}
