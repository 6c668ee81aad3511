//! The commands of the card OS, parsed once from a command header.
//!
//! [`Card`](super::Card) routes every APDU in one place (`route`): SELECT by AID and the
//! selected applet first, then the DF application of the current DF
//! ([`DfApplication`](super::df_application::DfApplication)), and only then the OS, which
//! parses the header into an [`OsCommand`] and executes one match over it.

use crate::apdu::CommandView;
use crate::status::Status;

/// A command the card OS executes itself (LD/T 32 P5 §6, table in spec-extract §3.1;
/// ISO/IEC 7816-4 for APPEND RECORD and GET RESPONSE). CLA `04` marks the secure-messaging
/// variants (P5 T40, T43).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OsCommand {
    /// `00 A4` SELECT (P5 §6.11).
    Select,
    /// `00 B0` READ BINARY (P5 §6.9).
    ReadBinary,
    /// `00 D6` UPDATE BINARY (P5 §6.12).
    UpdateBinary,
    /// `00 B2` READ RECORD (P5 §6.10).
    ReadRecord,
    /// `00 DC` UPDATE RECORD (P5 §6.13).
    UpdateRecord,
    /// `00 E2` APPEND RECORD (ISO/IEC 7816-4 §11.4.6; not in P5, spec/ssc.md §5).
    AppendRecord,
    /// `04 D6` / `04 DC` UPDATE BINARY / UPDATE RECORD under secure messaging (P5 T40, T43).
    SecureUpdate,
    /// `00 84` GET CHALLENGE (P5 §6.5).
    GetChallenge,
    /// `00 C0` (any class) GET RESPONSE (P5 §6.6; ISO/IEC 7816-4:2013 §5.1.3).
    GetResponse,
    /// `00 20` VERIFY (P5 §6.14).
    Verify,
    /// `80 5E` CHANGE PIN (P5 §6.3).
    ChangePin,
    /// `00 82` EXTERNAL AUTHENTICATION (P5 §6.4).
    ExternalAuthenticate,
    /// `00 88` INTERNAL AUTHENTICATION (P5 §6.7).
    InternalAuthenticate,
    /// `84 24` PIN CHANGE/UNBLOCK (P5 §6.8).
    PinChangeUnblock,
    /// `84 1E` APPLICATION BLOCK (P5 §6.1).
    ApplicationBlock,
    /// `84 16` CARD BLOCK (P5 §6.2).
    CardBlock,
}

impl TryFrom<&CommandView<'_>> for OsCommand {
    type Error = Status;

    /// An instruction the OS does not know in a class it uses is `6D00`; any other class
    /// is `6E00` (P5 T5).
    fn try_from(cmd: &CommandView<'_>) -> Result<Self, Status> {
        Ok(match (cmd.cla(), cmd.ins()) {
            // INS C0 is GET RESPONSE in every class (ISO/IEC 7816-4 lists no other use);
            // the class is checked when it runs.
            (_, 0xC0) => OsCommand::GetResponse,
            (0x00, 0xA4) => OsCommand::Select,
            (0x00, 0xB0) => OsCommand::ReadBinary,
            (0x00, 0xD6) => OsCommand::UpdateBinary,
            (0x00, 0xB2) => OsCommand::ReadRecord,
            (0x00, 0xDC) => OsCommand::UpdateRecord,
            (0x00, 0xE2) => OsCommand::AppendRecord,
            (0x04, 0xD6 | 0xDC) => OsCommand::SecureUpdate,
            (0x00, 0x84) => OsCommand::GetChallenge,
            (0x00, 0x20) => OsCommand::Verify,
            (0x80, 0x5E) => OsCommand::ChangePin,
            (0x00, 0x82) => OsCommand::ExternalAuthenticate,
            (0x00, 0x88) => OsCommand::InternalAuthenticate,
            (0x84, 0x24) => OsCommand::PinChangeUnblock,
            (0x84, 0x1E) => OsCommand::ApplicationBlock,
            (0x84, 0x16) => OsCommand::CardBlock,
            (0x00 | 0x04 | 0x80 | 0x84, _) => return Err(Status::InstructionNotSupported),
            _ => return Err(Status::ClassNotSupported),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(header: [u8; 4]) -> Result<OsCommand, Status> {
        match CommandView::parse(&header) {
            Ok(cmd) => OsCommand::try_from(&cmd),
            Err(e) => Err(e),
        }
    }

    #[test]
    fn classes_and_instructions_of_the_p5_table() {
        assert_eq!(parse([0x00, 0xA4, 0x04, 0x00]), Ok(OsCommand::Select));
        assert_eq!(parse([0x04, 0xDC, 0x01, 0x2C]), Ok(OsCommand::SecureUpdate));
        assert_eq!(parse([0x80, 0x5E, 0x01, 0x00]), Ok(OsCommand::ChangePin));
        assert_eq!(parse([0xB0, 0xC0, 0x00, 0x00]), Ok(OsCommand::GetResponse));
        // A known instruction in the wrong class of a known family: 6D00.
        assert_eq!(
            parse([0x80, 0xA4, 0x00, 0x00]),
            Err(Status::InstructionNotSupported)
        );
        assert_eq!(
            parse([0x04, 0xB0, 0x00, 0x00]),
            Err(Status::InstructionNotSupported)
        );
        assert_eq!(
            parse([0xA0, 0xA4, 0x00, 0x00]),
            Err(Status::ClassNotSupported)
        );
    }
}
