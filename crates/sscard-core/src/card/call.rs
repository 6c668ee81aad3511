//! What the processor hands an application with each command: [`Call`], as
//! `AppletCall` (card::applet) and `DfCall` (card::df_application) name it for each kind.

use crate::apdu::{CommandView, Writer};

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
