//! READ BINARY and UPDATE BINARY (LD/T 32 P5 §6.9, §6.12).

use super::layout::FileEntry;
use super::layout::FileKind;
use super::{FileSystem, binary_address, require_kind};
use crate::apdu::{CommandView, Writer};
use crate::nvm::Nvm;
use crate::nvm::Transactional;
use crate::options::LeZero;
use crate::status::{Result, Status};

impl<N: Nvm> FileSystem<'_, N> {
    /// READ BINARY. Le = 00 (or extended 0000) reads up to the end of the file (P5 T29
    /// "up to 256 bytes or EOF"), or answers `6Cxx` when fewer than 256 bytes are left
    /// and the options ask for T=0 exactness; a shorter explicit Le reads exactly Le
    /// bytes; an Le beyond the end answers `6Cxx` with the bytes available (P5 T30)
    /// unless the options say otherwise. Offset at or beyond the end: `6B00`.
    pub fn read_binary(&mut self, cmd: &CommandView<'_>, reply: &mut Writer<'_>) -> Result<()> {
        let (sfi, offset) = binary_address(cmd.p1(), cmd.p2())?;
        if !cmd.data().is_empty() {
            return Err(Status::WrongLength);
        }
        let le = cmd.le().ok_or(Status::WrongLength)? as usize;
        let (ef, available) = self.transparent_from(sfi, offset, Self::check_read)?;
        let short_max = cmd.le_is_max() && !cmd.is_extended();
        let n = if short_max && self.options.le_zero == LeZero::ExactLength && available < 256 {
            return Err(Status::WrongLe(available as u8));
        } else if cmd.le_is_max() {
            available.min(le).min(reply.remaining())
        } else if le <= available {
            le
        } else if self.options.read_binary_le_exact && !cmd.is_extended() {
            return Err(Status::WrongLe(available as u8));
        } else {
            available
        };
        let dst = reply.reserve(n)?;
        self.store.read(ef.body_at as usize + offset, dst)?;
        Ok(())
    }

    /// The transparent EF a binary command addresses, once `access` allows the command,
    /// and the bytes from `offset` to its end (6B00 if `offset` is not inside it).
    fn transparent_from(
        &mut self,
        sfi: Option<u8>,
        offset: usize,
        access: fn(&Self, &FileEntry) -> Result<()>,
    ) -> Result<(FileEntry, usize)> {
        let ef = self.resolve_ef(sfi)?;
        require_kind(&ef, |k| k == FileKind::Transparent)?;
        access(self, &ef)?;
        let size = ef.body_len as usize;
        if offset >= size {
            return Err(Status::WrongOffset);
        }
        Ok((ef, size - offset))
    }

    /// UPDATE BINARY: writes the data at the offset in one transaction. Offset at or
    /// beyond the end: `6B00`; data running past the end: `6700`.
    pub fn update_binary(&mut self, cmd: &CommandView<'_>) -> Result<()> {
        let (sfi, offset) = binary_address(cmd.p1(), cmd.p2())?;
        let data = cmd.data();
        if data.is_empty() {
            return Err(Status::WrongLength);
        }
        let (ef, available) = self.transparent_from(sfi, offset, Self::check_write)?;
        if data.len() > available {
            return Err(Status::WrongLength);
        }
        if data.len() > self.store.room() {
            // More than one command can change atomically: the card's buffer limit.
            return Err(Status::NotEnoughMemory);
        }
        let at = ef.body_at as usize + offset;
        self.store.atomic(|s| s.write(at, data))?;
        Ok(())
    }
}
