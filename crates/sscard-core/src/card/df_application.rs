//! Applications bound to DFs of the file system: the social-security applications (the
//! medical purse of DF04, the PKI application) live inside the file system the OS keeps,
//! unlike an [`Applet`](super::applet::Applet), which is selected by AID and walled off
//! from it (LD/T 32 P4 §5.5).
//!
//! The OS knows a DF only by its role byte (set at personalization); while a DF is
//! current, the card's DF application is asked whether it takes a command before the
//! OS's own commands are tried. It reaches files, keys, PINs and the security status
//! through the same [`AuthContext`] the OS's security commands use.

use super::call::Call;
use crate::apdu::CommandView;
use crate::auth::AuthContext;
use crate::nvm::Nvm;
use crate::status::{Result, Status};

/// A command for a [`DfApplication`]: it acts in the file-system environment, with its
/// files, keys, PINs and security status.
pub type DfCall<'a, 'w, 'c, 'f, N> = Call<'a, 'w, AuthContext<'c, 'f, N>>;

/// The DF-bound application(s) a card carries; `()` for none.
pub trait DfApplication {
    /// Every command routed to the file-system environment passes here first, whoever
    /// handles it (the purse forgets a pending INITIALIZE on any other command).
    fn command_arrives(&mut self, cmd: &CommandView<'_>);
    /// `Ok(true)`: the application takes `cmd` while a DF of `role` is current;
    /// `Ok(false)`: the OS handles it; `Err`: the command is the application's but not
    /// allowed here, answer with that status word.
    fn claims(&self, role: u8, cmd: &CommandView<'_>) -> Result<bool>;
    /// Executes a command claimed by [`DfApplication::claims`].
    fn process<N: Nvm>(&mut self, role: u8, call: DfCall<'_, '_, '_, '_, N>) -> Result<()>;
    /// Power off, reset or leaving the environment: forget every transient state.
    fn clear(&mut self);
}

impl DfApplication for () {
    fn command_arrives(&mut self, _: &CommandView<'_>) {}
    fn claims(&self, _: u8, _: &CommandView<'_>) -> Result<bool> {
        Ok(false)
    }
    fn process<N: Nvm>(&mut self, _: u8, _: DfCall<'_, '_, '_, '_, N>) -> Result<()> {
        Err(Status::InstructionNotSupported)
    }
    fn clear(&mut self) {}
}
