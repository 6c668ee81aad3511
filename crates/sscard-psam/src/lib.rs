//! sscard-psam: the social-security PSAM (LD/T 32 part 9) of the sscard emulator, a card
//! personality on the card OS of `sscard-core`.
//!
//! A terminal never holds card keys: its PSAM, in a SAM slot, holds the issuer's root
//! keys, diversifies them for the user card in front of it and computes what the card
//! checks — the external authentications (DELIVERY SESSION KEY + CIPHER DATA) and the
//! medical purse's MAC1, MAC2 check and serial numbers (INIT / CREDIT SAM FOR PURCHASE).
//! This crate is that PSAM, for terminal vendors and test suites that have none.
//!
//! `no_std`, no heap, no `unsafe`. The OS serves SELECT, GET CHALLENGE, READ BINARY and
//! READ RECORD of the PSAM's files ([`layout`]); [`Psam`], its
//! [`DfApplication`], takes the PSAM's own commands
//! ([`command`]) in the ADF `DF01` of either environment. Keys live in key files
//! ([`keys`]) no file command can read; derived keys live only in RAM and are wiped when
//! dropped, on power-off, reset and leaving the environment. Where part 9 is silent the
//! behaviour is a documented choice ([`options`]); [`perso`] builds a PSAM image from a
//! typed description.
//!
//! ```
//! use sscard_core::nvm::RamNvm;
//! use sscard_core::rng::SplitMixRng;
//! use sscard_core::{Card, CosOptions, Interface};
//! use sscard_psam::{Psam, PsamOptions, perso};
//!
//! let mut nvm = RamNvm::new(vec![0u8; perso::NVM_SIZE]);
//! perso::personalize(&mut nvm, &perso::PsamPersonalization::test_default(&[]))?;
//! let mut psam = Card::load(nvm, SplitMixRng::new(1), (), Psam::new(PsamOptions::default()),
//!     CosOptions::default())?;
//! psam.power_on(Interface::Contact)?;
//! let mut out = [0u8; 258];
//! // SELECT DF01 by AID (its FCI waits for GET RESPONSE: T=0), then READ BINARY of
//! // 0019 (the TTSN) by its SFI.
//! let n = psam.process(&[0x00, 0xA4, 0x04, 0x00, 0x06, 0xD1, 0x56, 0, 0, 0x05, 0x90], &mut out);
//! assert_eq!(&out[..n], &[0x61, 0x0A]);
//! let n = psam.process(&[0x00, 0xB0, 0x99, 0x00, 0x04], &mut out);
//! assert_eq!(&out[..n], &[0, 0, 0, 0, 0x90, 0x00]);
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod command;
mod exec;
pub mod keys;
pub mod layout;
pub mod options;
pub mod perso;
mod session;
pub mod status;

pub use options::PsamOptions;
pub use session::Session;

use command::PsamCommand;
use sscard_core::apdu::CommandView;
use sscard_core::nvm::Nvm;
use sscard_core::status::{Result, Status};
use sscard_core::{Card, DfApplication, DfCall};

/// A PSAM: the card OS hosting [`Psam`].
pub type PsamCard<N, R> = Card<N, R, (), Psam>;

/// The PSAM application: its spec choices and its transient session.
#[derive(Clone, Debug, Default)]
pub struct Psam {
    options: PsamOptions,
    session: Session,
}

impl Psam {
    /// The PSAM with these spec choices.
    pub fn new(options: PsamOptions) -> Self {
        Psam {
            options,
            session: Session::default(),
        }
    }

    /// The PSAM as the card's memory stores its choices (the application bytes of
    /// [`StoredOptions`](sscard_core::options::StoredOptions): [`PsamOptions::encode`]'s
    /// byte); `None` for bytes it cannot read. For `Card::load_stored`.
    pub fn from_stored(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [byte] => PsamOptions::decode(*byte).map(Self::new),
            _ => None,
        }
    }

    /// Stores the card's options in a personalized PSAM memory: the OS's choices, then
    /// this application's byte (what [`Psam::from_stored`] reads).
    pub fn store_options<N: sscard_core::nvm::Nvm>(
        nvm: &mut N,
        cos: &sscard_core::CosOptions,
        options: &PsamOptions,
    ) -> core::result::Result<(), sscard_core::nvm::NvmError> {
        let mut application = heapless::Vec::new();
        application
            .push(options.encode())
            .map_err(|_| sscard_core::nvm::NvmError::OutOfRange)?;
        sscard_core::options::StoredOptions {
            cos: *cos,
            application,
        }
        .write(nvm)
    }

    /// The spec choices in force.
    pub fn options(&self) -> &PsamOptions {
        &self.options
    }

    /// The transient session (for tests and traces; it shows no key material).
    pub fn session(&self) -> &Session {
        &self.session
    }
}

impl DfApplication for Psam {
    fn command_arrives(&mut self, cmd: &CommandView<'_>) {
        // Selecting a DF leaves the application: its temporary keys go (P4 §7.5).
        if cmd.cla() == 0x00 && cmd.ins() == 0xA4 && matches!(cmd.p1(), 0x00 | 0x04) {
            self.session.clear();
        }
    }

    fn claims(&self, role: u8, cmd: &CommandView<'_>) -> Result<bool> {
        if !PsamCommand::is_psam_instruction(cmd.cla(), cmd.ins()) {
            return Ok(false);
        }
        match layout::environment(role) {
            Some(_) => Ok(true),
            // Outside the ADF, EXTERNAL AUTHENTICATE is the OS's (DDF-MK, P9 §5).
            None if cmd.ins() == 0x82 => Ok(false),
            // P9 T18, T20: "current application does not exist".
            None => Err(Status::ConditionsNotSatisfied),
        }
    }

    fn process<N: Nvm>(&mut self, role: u8, mut call: DfCall<'_, '_, '_, '_, N>) -> Result<()> {
        let algorithm = layout::environment(role).ok_or(Status::ConditionsNotSatisfied)?;
        let (ctx, cmd, reply) = (&mut call.ctx, call.cmd, call.reply);
        exec::Exec {
            auth: ctx,
            session: &mut self.session,
            options: self.options,
            algorithm,
        }
        .run(cmd, reply)
    }

    fn clear(&mut self) {
        self.session.clear();
    }
}
