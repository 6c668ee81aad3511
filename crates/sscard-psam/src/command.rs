//! The PSAM's commands (LD/T 32 P9 §9; spec-extract §4.4), parsed once from the header.
//! SELECT, GET CHALLENGE and READ BINARY are the card OS's.

use sscard_core::apdu::CommandView;
use sscard_core::status::{Result, Status};

/// A step of CIPHER DATA, its P1 (P9 §9.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CipherStep {
    /// `00`: encrypt, no more blocks.
    EncryptLast,
    /// `02`: encrypt, more blocks follow.
    EncryptMore,
    /// `07`: first MAC block (its first block is the IV).
    MacFirst,
    /// `03`: next MAC block.
    MacNext,
    /// `01`: last MAC block.
    MacLast,
    /// `05`: the only MAC block (its first block is the IV).
    MacOnly,
}

impl CipherStep {
    /// The step P1 names.
    pub const fn from_p1(p1: u8) -> Option<Self> {
        Some(match p1 {
            0x00 => CipherStep::EncryptLast,
            0x02 => CipherStep::EncryptMore,
            0x07 => CipherStep::MacFirst,
            0x03 => CipherStep::MacNext,
            0x01 => CipherStep::MacLast,
            0x05 => CipherStep::MacOnly,
            _ => return None,
        })
    }

    /// True for the encryption steps.
    pub const fn encrypts(self) -> bool {
        matches!(self, CipherStep::EncryptLast | CipherStep::EncryptMore)
    }

    /// True for the steps whose first block is the MAC's IV.
    pub const fn starts_chain(self) -> bool {
        matches!(self, CipherStep::MacFirst | CipherStep::MacOnly)
    }

    /// True for the steps that finish a computation.
    pub const fn finishes(self) -> bool {
        matches!(
            self,
            CipherStep::EncryptLast | CipherStep::MacLast | CipherStep::MacOnly
        )
    }
}

/// A PSAM command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsamCommand {
    /// `BF EC 00 00` INITIALIZE ENVIRONMENT (P9 §9.3, T15).
    InitializeEnvironment,
    /// `00 82 00 P2` EXTERNAL AUTHENTICATION with the PSAM key P2 (P9 §9.4, T17).
    ExternalAuthentication,
    /// `84 D4 00 P2` CREATE KEY in key file P2 (P9 §9.5, T19).
    CreateKey {
        /// The key file, as P2 names it.
        file: u8,
    },
    /// `84 D4 01 P2` CHANGE KEY in key file P2 (P9 §9.6, T21).
    ChangeKey {
        /// The key file, as P2 names it.
        file: u8,
    },
    /// `BF DE P1 P2` DELIVERY SESSION KEY: the key of usage P1 and id P2 (P9 §9.7, T23).
    DeliverySessionKey {
        /// Usage byte: levels and type.
        usage: u8,
        /// Key id.
        id: u8,
    },
    /// `80 FA P1 00` CIPHER DATA (P9 §9.8, T25).
    CipherData(CipherStep),
    /// `80 70 01 00` INIT SAM FOR PURCHASE (P9 §9.9, T27).
    InitSamForPurchase,
    /// `80 72 00 00` CREDIT SAM FOR PURCHASE (P9 §9.10, T30).
    CreditSamForPurchase,
}

impl PsamCommand {
    /// True if `(cla, ins)` is one of the PSAM's instructions.
    pub const fn is_psam_instruction(cla: u8, ins: u8) -> bool {
        matches!(
            (cla, ins),
            (0xBF, 0xEC | 0xDE) | (0x00, 0x82) | (0x84, 0xD4) | (0x80, 0xFA | 0x70 | 0x72)
        )
    }
}

impl TryFrom<&CommandView<'_>> for PsamCommand {
    type Error = Status;

    /// A PSAM instruction with other parameters is `6A86`; anything else `6D00`.
    fn try_from(cmd: &CommandView<'_>) -> Result<Self> {
        let (cla, ins, p1, p2) = (cmd.cla(), cmd.ins(), cmd.p1(), cmd.p2());
        Ok(match (cla, ins, p1, p2) {
            (0xBF, 0xEC, 0x00, 0x00) => PsamCommand::InitializeEnvironment,
            (0x00, 0x82, 0x00, _) => PsamCommand::ExternalAuthentication,
            (0x84, 0xD4, 0x00, file) => PsamCommand::CreateKey { file },
            (0x84, 0xD4, 0x01, file) => PsamCommand::ChangeKey { file },
            (0xBF, 0xDE, usage, id) => PsamCommand::DeliverySessionKey { usage, id },
            (0x80, 0xFA, p1, 0x00) => {
                PsamCommand::CipherData(CipherStep::from_p1(p1).ok_or(Status::WrongP1P2)?)
            }
            (0x80, 0x70, 0x01, 0x00) => PsamCommand::InitSamForPurchase,
            (0x80, 0x72, 0x00, 0x00) => PsamCommand::CreditSamForPurchase,
            _ if Self::is_psam_instruction(cla, ins) => return Err(Status::WrongP1P2),
            _ => return Err(Status::InstructionNotSupported),
        })
    }
}
