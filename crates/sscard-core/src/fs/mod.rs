//! ISO 7816-4 file system: MF / DDF / ADF / EF tree, SELECT and the data commands.
//!
//! The tree lives in NVM ([`layout`]); it is created by the [`build::Personalizer`] and
//! changed only through [`Store`] transactions. [`FileSystem`] borrows everything one
//! command needs — the store, the current-file state and the security status — and
//! executes SELECT, READ/UPDATE BINARY and READ/UPDATE/APPEND RECORD with the rules of
//! LD/T 32 Part 3 §5 and Part 5 §6.9–6.13 (cited per function).

pub mod access;
pub mod build;
pub mod layout;
mod record;
mod select;
mod transparent;

use crate::apdu::{CommandView, Writer};
use crate::nvm::{Nvm, Store};
use crate::options::CosOptions;
use crate::status::{Result, Status};
use access::SecurityStatus;
use layout::{FileEntry, FileIndex, FileKind, Header, MF, read_entry};

pub use select::SelectOutcome;

/// The file-system part of the card's transient state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsState {
    /// Current DF (the MF after power-on).
    pub current_df: FileIndex,
    /// Current EF, if any.
    pub current_ef: Option<FileIndex>,
    /// Current record number of the current EF (P3 §5.3), if any.
    pub current_record: Option<u8>,
    /// Last DF matched by SELECT by name, for P2 = "next occurrence".
    pub last_name_match: Option<FileIndex>,
    /// SFI → EF of `sfi_df` (`NO_FILE` where none): the file table never changes after
    /// personalization, so one scan per DF serves every later SFI reference.
    sfi_map: [FileIndex; 31],
    /// The DF `sfi_map` describes, if built.
    sfi_df: Option<FileIndex>,
}

/// "No file" in the SFI map.
const NO_FILE: FileIndex = 0xFF;

impl Default for FsState {
    fn default() -> Self {
        FsState {
            current_df: MF,
            current_ef: None,
            current_record: None,
            last_name_match: None,
            sfi_map: [NO_FILE; 31],
            sfi_df: None,
        }
    }
}

/// One command's view of the file system.
pub struct FileSystem<'a, N: Nvm> {
    /// Persistent memory.
    pub store: &'a mut Store<N>,
    /// The card's header.
    pub header: &'a Header,
    /// Current DF/EF/record.
    pub state: &'a mut FsState,
    /// What has been proven.
    pub security: &'a mut SecurityStatus,
    /// Spec choices.
    pub options: &'a CosOptions,
    /// The interface the card is powered through.
    pub interface: crate::card::applet::Interface,
}

impl<N: Nvm> FileSystem<'_, N> {
    /// Reads entry `index`; `6581` if the memory fails, `6A82` if there is no such file.
    pub fn entry(&self, index: FileIndex) -> Result<FileEntry> {
        read_entry(self.store, self.header, index)?.ok_or(Status::FileNotFound)
    }

    /// The current DF's entry.
    pub fn current_df(&self) -> Result<FileEntry> {
        self.entry(self.state.current_df)
    }

    /// Visits the used entries in table order; stops early when `f` returns `Some`.
    pub fn find<T>(&self, f: impl FnMut(&FileEntry) -> Option<T>) -> Result<Option<T>> {
        Ok(layout::scan(self.store, self.header, f)?)
    }

    /// True if `df` is `ancestor` or lies below it.
    pub fn is_within(&self, df: FileIndex, ancestor: FileIndex) -> Result<bool> {
        let mut at = df;
        // The tree depth is bounded by the table size; a corrupt cycle ends the walk.
        for _ in 0..=self.header.files_used {
            if at == ancestor {
                return Ok(true);
            }
            if at == MF {
                return Ok(false);
            }
            at = self.entry(at)?.parent;
        }
        Ok(false)
    }

    /// Resolves the EF a data command addresses: by SFI among the current DF's EFs (which
    /// makes it the current EF, ISO 7816-4 §7.2.2), or the current EF (`6986` if none).
    pub fn resolve_ef(&mut self, sfi: Option<u8>) -> Result<FileEntry> {
        match sfi {
            None => {
                let index = self.state.current_ef.ok_or(Status::NoCurrentEf)?;
                self.entry(index)
            }
            Some(sfi) => {
                let df = self.state.current_df;
                if self.state.sfi_df != Some(df) {
                    self.build_sfi_map(df)?;
                }
                let index = self
                    .state
                    .sfi_map
                    .get(usize::from(sfi))
                    .copied()
                    .filter(|i| *i != NO_FILE)
                    .ok_or(Status::FileNotFound)?;
                let ef = self.entry(index)?;
                if self.state.current_ef != Some(ef.index) {
                    self.state.current_ef = Some(ef.index);
                    self.state.current_record = None;
                }
                Ok(ef)
            }
        }
    }

    /// Records the EFs of `df` by SFI (one scan of the file table).
    fn build_sfi_map(&mut self, df: FileIndex) -> Result<()> {
        let mut map = [NO_FILE; 31];
        layout::scan(self.store, self.header, |e| {
            if e.parent == df
                && e.kind.is_ef()
                && let Some(slot) = map.get_mut(usize::from(e.sfi))
                && e.sfi != 0
                && *slot == NO_FILE
            {
                *slot = e.index;
            }
            None::<()>
        })?;
        self.state.sfi_map = map;
        self.state.sfi_df = Some(df);
        Ok(())
    }

    /// Dispatches the file-system commands (INS A4, B0, D6, B2, DC, E2).
    pub fn process(&mut self, cmd: &CommandView<'_>, reply: &mut Writer<'_>) -> Result<()> {
        match cmd.ins() {
            0xA4 => self.select(cmd, reply).map(|_| ()),
            0xB0 => self.read_binary(cmd, reply),
            0xD6 => self.update_binary(cmd),
            0xB2 => self.read_record(cmd, reply),
            0xDC => self.update_record(cmd),
            0xE2 => self.append_record(cmd),
            _ => Err(Status::InstructionNotSupported),
        }
    }

    /// Checks the access condition `access` against the security status (`6982`).
    fn check(&self, access: layout::Access) -> Result<()> {
        if self.security.allows(access) {
            Ok(())
        } else {
            Err(Status::SecurityStatusNotSatisfied)
        }
    }

    /// May a file command read `ef`? Key objects never (`6982`), whatever their access
    /// bits say; otherwise the EF's read condition.
    fn check_read(&self, ef: &FileEntry) -> Result<()> {
        refuse_key_object(ef)?;
        self.check(ef.read)
    }

    /// May a file command write `ef`? Key objects never (`6982`); otherwise the EF's
    /// write condition.
    fn check_write(&self, ef: &FileEntry) -> Result<()> {
        refuse_key_object(ef)?;
        self.check(ef.write)
    }
}

/// Splits the P1 of READ/UPDATE BINARY (P5 §6.9.2): `100sssss` = SFI with P2 the offset,
/// `0xxxxxxx` = 15-bit offset P1·256+P2. `6A86` for `101xxxxx`/`11xxxxxx`.
fn binary_address(p1: u8, p2: u8) -> Result<(Option<u8>, usize)> {
    if p1 & 0x80 == 0 {
        Ok((None, usize::from(p1) << 8 | usize::from(p2)))
    } else if p1 & 0x60 == 0 && p1 & 0x1F != 0 {
        Ok((Some(p1 & 0x1F), usize::from(p2)))
    } else {
        Err(Status::WrongP1P2)
    }
}

/// SFI field of a record command's P2 (b8–b4): 0 = current EF, 31 = RFU.
fn record_sfi(p2: u8) -> Result<Option<u8>> {
    match p2 >> 3 {
        0 => Ok(None),
        31 => Err(Status::WrongP1P2),
        sfi => Ok(Some(sfi)),
    }
}

/// Key material is reachable only through its application's key commands (spec/ssc.md
/// §5.1 `6982` security status not satisfied).
fn refuse_key_object(ef: &FileEntry) -> Result<()> {
    if ef.flags.contains(layout::FileFlags::KEY_OBJECT) {
        Err(Status::SecurityStatusNotSatisfied)
    } else {
        Ok(())
    }
}

fn require_kind(e: &FileEntry, ok: impl Fn(FileKind) -> bool) -> Result<()> {
    if ok(e.kind) {
        Ok(())
    } else {
        Err(Status::IncompatibleFileStructure)
    }
}

#[cfg(test)]
mod tests;
