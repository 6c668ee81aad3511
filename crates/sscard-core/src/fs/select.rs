//! SELECT (LD/T 32 P5 §6.11; ISO 7816-4 §11.1.1).

use super::layout::{FileEntry, FileFlags, FileIndex, FileKind, LIFECYCLE_BLOCKED, MF};
use super::{FileSystem, require_kind};
use crate::apdu::{CommandView, Writer};
use crate::card::applet::Interface;
use crate::nvm::Nvm;
use crate::status::{Result, Status};
use crate::tlv::{BerWriter, Tag};

/// What a successful SELECT made current.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectOutcome {
    /// A DF (MF, DDF or ADF) became the current DF.
    Df {
        /// The DF.
        index: FileIndex,
        /// True if the current DF changed (security state of the old one ended).
        changed: bool,
    },
    /// An EF of the current DF became the current EF.
    Ef(FileIndex),
}

/// Occurrence and response options of P2.
struct SelectP2 {
    next: bool,
    fci: bool,
}

fn parse_p2(p2: u8, fcp_as_fci: bool) -> Result<SelectP2> {
    let next = match p2 & 0x03 {
        0x00 => false,
        0x02 => true,
        _ => return Err(Status::WrongP1P2), // last / previous occurrence: not supported
    };
    let fci = match p2 & 0xFC {
        0x00 => true,
        0x04 if fcp_as_fci => true,
        0x0C => false,
        _ => return Err(Status::WrongP1P2),
    };
    Ok(SelectP2 { next, fci })
}

impl<N: Nvm> FileSystem<'_, N> {
    /// Executes SELECT. P1: `00` MF/DF/EF by FID (real cards accept EF FIDs here too,
    /// spec/ssc.md §2.2), `01` child DF, `02` EF of the current DF, `03` parent DF, `04` DF
    /// by name (partial names allowed; P2 `02` = next occurrence, P5 §6.11.1).
    /// Selecting an EF returns no data; a DF returns its FCI (P5 T36–T38). Selecting a
    /// blocked application makes it current and answers `9303` (P5 §6.1).
    pub fn select(
        &mut self,
        cmd: &CommandView<'_>,
        reply: &mut Writer<'_>,
    ) -> Result<SelectOutcome> {
        let p2 = parse_p2(cmd.p2(), self.options.fcp_as_fci)?;
        let data = cmd.data();
        let fid = || -> Result<u16> {
            match data {
                [a, b] => Ok(u16::from_be_bytes([*a, *b])),
                _ => Err(Status::WrongLength),
            }
        };
        let df = self.state.current_df;
        let target = match cmd.p1() {
            0x00 if data.is_empty() || data == [0x3F, 0x00] => self.entry(MF)?,
            0x00 => {
                let fid = fid()?;
                let parent = self.entry(df)?.parent;
                let hit =
                    self.find(|e| (e.parent == df && e.index != MF && e.fid == fid).then_some(*e))?;
                let hit = match hit {
                    Some(e) => Some(e),
                    None => self.find(|e| {
                        ((e.index == df || e.index == parent) && e.fid == fid
                            || e.parent == parent
                                && e.index != MF
                                && e.kind.is_df()
                                && e.fid == fid)
                            .then_some(*e)
                    })?,
                };
                hit.filter(|e| e.kind.is_df() || e.kind.is_ef())
                    .ok_or(Status::FileNotFound)?
            }
            0x01 => {
                let fid = fid()?;
                self.find(|e| {
                    (e.parent == df && e.kind.is_df() && e.index != MF && e.fid == fid)
                        .then_some(*e)
                })?
                .ok_or(Status::FileNotFound)?
            }
            0x02 => {
                let fid = fid()?;
                self.find(|e| (e.parent == df && e.kind.is_ef() && e.fid == fid).then_some(*e))?
                    .ok_or(Status::FileNotFound)?
            }
            0x03 => {
                if !data.is_empty() {
                    return Err(Status::WrongLength);
                }
                let parent = self.entry(df)?.parent;
                self.entry(parent)?
            }
            0x04 => {
                if data.is_empty() || data.len() > 16 {
                    return Err(Status::WrongLength);
                }
                let after = if p2.next {
                    self.state.last_name_match
                } else {
                    None
                };
                let e = self
                    .find(|e| {
                        let later = after.is_none_or(|a| e.index > a);
                        (later && e.kind.is_df() && e.name().starts_with(data)).then_some(*e)
                    })?
                    .ok_or(Status::FileNotFound)?;
                self.state.last_name_match = Some(e.index);
                e
            }
            _ => return Err(Status::WrongP1P2),
        };
        if cmd.p1() != 0x04 {
            self.state.last_name_match = None;
        }
        if target.kind.is_ef() {
            if self.state.current_ef != Some(target.index) {
                self.state.current_record = None;
            }
            self.state.current_ef = Some(target.index);
            return Ok(SelectOutcome::Ef(target.index));
        }
        require_kind(&target, FileKind::is_df)?;
        // Per-application interface policy (profile): a DF closed on this interface is
        // answered as absent.
        let closed = match self.interface {
            Interface::Contact => target.flags.contains(FileFlags::NO_CONTACT),
            Interface::Contactless => target.flags.contains(FileFlags::NO_CONTACTLESS),
        };
        if closed {
            return Err(Status::FileNotFound);
        }
        let changed = self.make_current_df(target.index)?;
        if target.lifecycle == LIFECYCLE_BLOCKED {
            return Err(Status::ApplicationBlocked);
        }
        if p2.fci {
            self.write_fci(&target, reply)?;
        }
        Ok(SelectOutcome::Df {
            index: target.index,
            changed,
        })
    }

    /// Makes `index` the current DF; ends key authentications and out-of-scope PINs when
    /// the DF changes. Returns whether it changed.
    pub fn make_current_df(&mut self, index: FileIndex) -> Result<bool> {
        self.state.current_ef = None;
        self.state.current_record = None;
        if self.state.current_df == index {
            return Ok(false);
        }
        self.state.current_df = index;
        let mut error = None;
        // Take the status out so the scope check can borrow the file system.
        let mut security = core::mem::take(self.security);
        security.on_df_change(|owner| match self.is_within(index, owner) {
            Ok(b) => b,
            Err(e) => {
                error = Some(e);
                false
            }
        });
        *self.security = security;
        match error {
            Some(e) => Err(e),
            None => Ok(true),
        }
    }

    /// FCI of a DF: `6F { 84 name | 83 FID, A5 { proprietary } }` (P5 T36–T38). The
    /// proprietary template content is what personalization stored for the DF.
    pub fn write_fci(&self, df: &FileEntry, reply: &mut Writer<'_>) -> Result<()> {
        let mut prop = [0u8; 128];
        let prop_len = (df.body_len as usize).min(prop.len());
        let prop = prop.get_mut(..prop_len).ok_or(Status::MemoryFailure)?;
        self.store.read(df.body_at as usize, prop)?;
        let mut buf = [0u8; 180];
        let mut w = BerWriter::new(&mut buf);
        w.constructed(Tag(0x6F), |w| {
            if df.name().is_empty() {
                w.tlv(Tag(0x83), &df.fid.to_be_bytes())?;
            } else {
                w.tlv(Tag(0x84), df.name())?;
            }
            if !prop.is_empty() {
                w.tlv(Tag(0xA5), prop)?;
            }
            Ok(())
        })
        .map_err(|_| Status::MemoryFailure)?;
        reply.push(w.written())
    }
}
