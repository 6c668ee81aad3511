//! What the processor hands an application with each command.

use super::applet::AppletContext;
use crate::apdu::{CommandView, Writer};
use crate::auth::AuthContext;

/// One command on its way to an application: the context the application may act
/// through, the command, and the writer its response data goes to. Every entry point of
/// an application (SELECT of an applet, a command while selected, a command for a DF
/// application) takes all three, so they travel together.
pub struct Call<'a, 'w, C> {
    /// Where the application may act (its NVM region, or the file-system environment).
    pub ctx: C,
    /// The command.
    pub cmd: &'a CommandView<'a>,
    /// The response data, without the status word.
    pub reply: &'a mut Writer<'w>,
}

/// A command for an [`Applet`](super::applet::Applet): it acts in its own NVM region.
pub type AppletCall<'a, 'w, N> = Call<'a, 'w, AppletContext<'a, N>>;

/// A command for a [`DfApplication`](super::df_application::DfApplication): it acts in
/// the file-system environment, with its files, keys, PINs and security status.
pub type DfCall<'a, 'w, 'c, 'f, N> = Call<'a, 'w, AuthContext<'c, 'f, N>>;
