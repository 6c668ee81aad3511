//! The commands of the financial application, identified once from the APDU header.
//!
//! [`PbocCommand::try_from`] decides what a `CommandView` is: its class and instruction
//! (`6E00` for an instruction of ours under another class, `6D00` for any other) and the
//! parameters that are fixed whatever the card holds or has selected (`6A86`, `6700`).
//! Everything that depends on the selected directory or application, the personalized
//! DOLs or the transaction phase is checked by the applet afterwards (`PbocApplet::run`).

use sscard_core::apdu::CommandView;
use sscard_core::status::{Result, Status};

/// Issuer script commands (§2.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptCommand {
    /// `84 1E` APPLICATION BLOCK.
    ApplicationBlock,
    /// `84 18` APPLICATION UNBLOCK.
    ApplicationUnblock,
    /// `84 16` CARD BLOCK.
    CardBlock,
    /// `84 24` PIN CHANGE/UNBLOCK.
    PinChangeUnblock,
    /// `04 DA` PUT DATA.
    PutData,
    /// `04 DC` UPDATE RECORD.
    UpdateRecord,
}

/// A command of the financial application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PbocCommand {
    /// `80 A8` GET PROCESSING OPTIONS.
    GetProcessingOptions,
    /// `00 B2` READ RECORD of `record` in `sfi`.
    ReadRecord {
        /// Short file identifier (1–31).
        sfi: u8,
        /// Record number.
        record: u8,
    },
    /// `80 CA` GET DATA of `tag`.
    GetData {
        /// The requested tag (P1 P2).
        tag: u16,
    },
    /// `00 20` VERIFY (offline plaintext PIN).
    Verify,
    /// `80 AE` GENERATE APPLICATION CRYPTOGRAM.
    GenerateAc,
    /// `00 82` EXTERNAL AUTHENTICATE.
    ExternalAuthenticate,
    /// `00 88` INTERNAL AUTHENTICATE.
    InternalAuthenticate,
    /// An issuer script command.
    Script(ScriptCommand),
}

/// The instructions of [`PbocCommand`]: under another class they are `6E00`, not `6D00`.
const INSTRUCTIONS: [u8; 13] = [
    0xA8, 0xB2, 0xCA, 0x20, 0xAE, 0x82, 0x88, 0x1E, 0x18, 0x16, 0x24, 0xDA, 0xDC,
];

impl TryFrom<&CommandView<'_>> for PbocCommand {
    type Error = Status;

    /// Identifies the command (§2.16 for the status words).
    ///
    /// # Errors
    /// The status word of the first broken rule.
    fn try_from(cmd: &CommandView<'_>) -> Result<Self> {
        let command = match (cmd.cla(), cmd.ins()) {
            // EMV Book 3 §6.5.8; pboc.md §2.4: P1P2 and the PDOL data are checked against
            // the selected application.
            (0x80, 0xA8) => PbocCommand::GetProcessingOptions,
            // EMV Book 3 §6.5.11: P2 b3–b1 = 100 (P1 is a record number), case 2.
            (0x00, 0xB2) => {
                if cmd.p2() & 0x07 != 0x04 {
                    return Err(Status::WrongP1P2);
                }
                if !cmd.data().is_empty() {
                    return Err(Status::WrongLength);
                }
                PbocCommand::ReadRecord {
                    sfi: cmd.p2() >> 3,
                    record: cmd.p1(),
                }
            }
            // EMV Book 3 §6.5.7; pboc.md §2.11: P1 P2 is the tag.
            (0x80, 0xCA) => PbocCommand::GetData { tag: cmd.p1p2() },
            // EMV Book 3 §6.5.12; pboc.md §2.10: plaintext PIN only (P2 = 80), Lc = 08.
            (0x00, 0x20) => fixed(cmd, 0x0080, 8, PbocCommand::Verify)?,
            // EMV Book 3 §6.5.5; pboc.md §2.6: P1 is checked by the application.
            (0x80, 0xAE) => PbocCommand::GenerateAc,
            // EMV Book 3 §6.5.4; pboc.md §2.8: P1P2 = 0000, Lc must be 0A.
            (0x00, 0x82) => fixed(cmd, 0x0000, 10, PbocCommand::ExternalAuthenticate)?,
            // EMV Book 3 §6.5.9; pboc.md §2.12: the DDOL data are checked by the application.
            (0x00, 0x88) => PbocCommand::InternalAuthenticate,
            // EMV Book 3 §6.5.1; pboc.md §2.8.
            (0x84, 0x1E) => PbocCommand::Script(ScriptCommand::ApplicationBlock),
            // EMV Book 3 §6.5.2; pboc.md §2.8.
            (0x84, 0x18) => PbocCommand::Script(ScriptCommand::ApplicationUnblock),
            // EMV Book 3 §6.5.3; pboc.md §2.8.
            (0x84, 0x16) => PbocCommand::Script(ScriptCommand::CardBlock),
            // EMV Book 3 §6.5.10; pboc.md §2.8.
            (0x84, 0x24) => PbocCommand::Script(ScriptCommand::PinChangeUnblock),
            // PBOC 3.0 part 5 issuer script; pboc.md §2.8, §2.11 (`putDataTags`).
            (0x04, 0xDA) => PbocCommand::Script(ScriptCommand::PutData),
            // PBOC 3.0 part 5 issuer script; pboc.md §2.8 (`onUpdateRecord`).
            (0x04, 0xDC) => PbocCommand::Script(ScriptCommand::UpdateRecord),
            // pboc.md §2.16, ISO 7816-4 §5.1.3 (6E00): one of our instructions under a
            // class it does not use.
            (_, ins) if INSTRUCTIONS.contains(&ins) => return Err(Status::ClassNotSupported),
            // pboc.md §2.16, ISO 7816-4 §5.1.3 (6D00): not an instruction of this application.
            _ => return Err(Status::InstructionNotSupported),
        };
        Ok(command)
    }
}

/// `command` when P1P2 and Lc are the fixed ones; else `6A86`, then `6700`.
fn fixed(cmd: &CommandView<'_>, p1p2: u16, lc: usize, command: PbocCommand) -> Result<PbocCommand> {
    if cmd.p1p2() != p1p2 {
        return Err(Status::WrongP1P2);
    }
    if cmd.lc() != lc {
        return Err(Status::WrongLength);
    }
    Ok(command)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &[u8]) -> Result<PbocCommand> {
        PbocCommand::try_from(&CommandView::parse(b)?)
    }

    #[test]
    fn rejects_bad_headers() {
        assert_eq!(parse(&[0x00, 0xA8, 0, 0]), Err(Status::ClassNotSupported));
        assert_eq!(
            parse(&[0x80, 0x50, 0, 0]),
            Err(Status::InstructionNotSupported)
        );
        assert_eq!(parse(&[0x00, 0xB2, 1, 0x0B, 0]), Err(Status::WrongP1P2));
        assert_eq!(
            parse(&[0x00, 0x82, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]),
            Err(Status::WrongLength)
        );
        assert_eq!(
            parse(&[0x00, 0xB2, 1, 0x0C, 0]),
            Ok(PbocCommand::ReadRecord { sfi: 1, record: 1 })
        );
    }

    #[test]
    fn every_instruction_is_known_under_its_class_only() {
        for ins in INSTRUCTIONS {
            let known = [0x00, 0x04, 0x80, 0x84]
                .iter()
                .filter(|cla| parse(&[**cla, ins, 0, 0]) != Err(Status::ClassNotSupported))
                .count();
            assert_eq!(known, 1, "{ins:02X}");
        }
    }
}
