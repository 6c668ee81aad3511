//! READ RECORD, UPDATE RECORD and APPEND RECORD (LD/T 32 P3 §5.3, P5 §6.10, §6.13).
//!
//! Records are numbered from 1. Linear files number them in creation order; in cyclic
//! files record 1 is the most recent (P3 §5.3). Access by identifier moves the record
//! pointer, access by number does not. The record identifier is the record's first byte
//! (the simple-TLV tag of SSC records).

use super::layout::{
    FileEntry, FileFlags, FileKind, MAX_RECORD_LEN, OFF_CYCLIC_HEAD, OFF_RECORD_COUNT,
};
use super::{FileSystem, record_sfi, require_kind};
use crate::apdu::{CommandView, Writer};
use crate::nvm::Transactional;
use crate::nvm::{Nvm, Store};
use crate::options::LeZero;
use crate::status::{Result, Status};
use crate::tlv::parse_simple;

/// Record addressing of P2 b3–b1 (P5 T32/T44).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Addressing {
    FirstId,
    LastId,
    NextId,
    PreviousId,
    Number,
    NumberToLast,
    LastToNumber,
}

fn addressing(p2: u8) -> Result<Addressing> {
    Ok(match p2 & 0x07 {
        0 => Addressing::FirstId,
        1 => Addressing::LastId,
        2 => Addressing::NextId,
        3 => Addressing::PreviousId,
        4 => Addressing::Number,
        5 => Addressing::NumberToLast,
        6 => Addressing::LastToNumber,
        _ => return Err(Status::WrongP1P2),
    })
}

/// Storage of one record EF.
struct Records<'e> {
    e: &'e FileEntry,
}

impl Records<'_> {
    fn count(&self) -> u8 {
        self.e.record_count.min(self.e.max_records)
    }

    /// NVM address of the slot holding record `n` (1-based).
    fn slot_at(&self, n: u8) -> Result<usize> {
        if n == 0 || n > self.count() {
            return Err(Status::RecordNotFound);
        }
        let slot = if self.e.kind == FileKind::Cyclic {
            let max = u16::from(self.e.max_records).max(1);
            ((u16::from(self.e.cyclic_head) + max - u16::from(n - 1) % max) % max) as usize
        } else {
            usize::from(n - 1)
        };
        Ok(self.e.body_at as usize + slot * self.e.slot_len())
    }

    fn len<N: Nvm>(&self, store: &Store<N>, n: u8) -> Result<usize> {
        let len = usize::from(store.read_u8(self.slot_at(n)?)?);
        if len == 0 || len > usize::from(self.e.record_len) {
            return Err(Status::MemoryFailure); // a corrupt slot, never written this way
        }
        Ok(len)
    }

    fn identifier<N: Nvm>(&self, store: &Store<N>, n: u8) -> Result<u8> {
        self.len(store, n)?;
        Ok(store.read_u8(self.slot_at(n)? + 1)?)
    }

    fn read_into<N: Nvm>(&self, store: &Store<N>, n: u8, reply: &mut Writer<'_>) -> Result<()> {
        let len = self.len(store, n)?;
        let at = self.slot_at(n)? + 1;
        let dst = reply.reserve(len)?;
        store.read(at, dst)?;
        Ok(())
    }

    /// Finds the record whose identifier is `id` (0 = any) per `how`, starting from the
    /// current record `from` for next/previous (P3 §5.3: no current record → first/last).
    fn search<N: Nvm>(
        &self,
        store: &Store<N>,
        how: Addressing,
        id: u8,
        from: Option<u8>,
    ) -> Result<Option<u8>> {
        let count = self.count();
        let (mut n, forward) = match how {
            Addressing::FirstId => (1, true),
            Addressing::LastId => (count, false),
            Addressing::NextId => (from.map_or(1, |c| c.saturating_add(1)), true),
            Addressing::PreviousId => (from.map_or(count, |c| c.saturating_sub(1)), false),
            _ => return Err(Status::WrongP1P2),
        };
        while n >= 1 && n <= count {
            if id == 0 || self.identifier(store, n)? == id {
                return Ok(Some(n));
            }
            n = if forward { n.saturating_add(1) } else { n - 1 };
            if n == u8::MAX {
                break;
            }
        }
        Ok(None)
    }

    /// Buffers the record write `(n, data)` in the open transaction.
    fn write<N: Nvm>(&self, store: &mut Store<N>, n: u8, data: &[u8]) -> Result<()> {
        let at = self.slot_at(n)?;
        store.write(at, &[data.len() as u8])?;
        store.write(at + 1, data)?;
        Ok(())
    }

    /// Buffers the addition of a record; returns its number (linear: last, cyclic: 1).
    fn append<N: Nvm>(&self, store: &mut Store<N>, header_at: usize, data: &[u8]) -> Result<u8> {
        let count = self.count();
        if self.e.max_records == 0 {
            return Err(Status::NotEnoughMemory);
        }
        let (slot, new_count, number) = if self.e.kind == FileKind::Cyclic {
            let next = self.e.cyclic_head.wrapping_add(1);
            let slot = if count == 0 {
                0
            } else {
                next.checked_rem(self.e.max_records).unwrap_or(0)
            };
            store.write(header_at + OFF_CYCLIC_HEAD, &[slot])?;
            (slot, count.saturating_add(1).min(self.e.max_records), 1)
        } else {
            if count >= self.e.max_records {
                return Err(Status::NotEnoughMemory);
            }
            (count, count + 1, count + 1)
        };
        let at = self.e.body_at as usize + usize::from(slot) * self.e.slot_len();
        store.write(at, &[data.len() as u8])?;
        store.write(at + 1, data)?;
        store.write(header_at + OFF_RECORD_COUNT, &[new_count])?;
        Ok(number)
    }

    /// Checks a record to be written against the file (P5 T45): fixed length `6700`,
    /// too long for the file `6A84`, TLV files need one well-formed simple-TLV (`6A85`).
    fn check_data(&self, data: &[u8]) -> Result<()> {
        let max = usize::from(self.e.record_len);
        match self.e.kind {
            FileKind::LinearFixed | FileKind::Cyclic if data.len() != max => {
                return Err(Status::WrongLength);
            }
            _ if data.is_empty() => return Err(Status::WrongLength),
            _ if data.len() > max || data.len() > MAX_RECORD_LEN => {
                return Err(Status::NotEnoughMemory);
            }
            _ => {}
        }
        if self.e.flags.contains(FileFlags::TLV_RECORDS) && parse_simple(data).is_err() {
            return Err(Status::LcInconsistentWithTlv);
        }
        Ok(())
    }
}

impl<N: Nvm> FileSystem<'_, N> {
    /// READ RECORD (P5 §6.10). Returns the whole record (several for P2 modes 101/110).
    /// Short Le = 00 returns the record, as the cards in the field do (ISO/IEC 7816-4
    /// Ne = 256), or `6Cxx` when the options follow P5 §6.10.4 literally; an Le below the
    /// record length answers `6Cxx`; a larger Le is tolerated (spec/ssc.md §4).
    pub fn read_record(&mut self, cmd: &CommandView<'_>, reply: &mut Writer<'_>) -> Result<()> {
        let how = addressing(cmd.p2())?;
        let sfi = record_sfi(cmd.p2())?;
        if !cmd.data().is_empty() {
            return Err(Status::WrongLength);
        }
        let le = cmd.le().ok_or(Status::WrongLength)? as usize;
        let ef = self.resolve_ef(sfi)?;
        require_kind(&ef, FileKind::is_record)?;
        self.check_read(&ef)?;
        let records = Records { e: &ef };
        let p1 = cmd.p1();
        let current = self.state.current_record;
        // Which records, in answer order.
        let (first, last, step): (u8, u8, i16) = match how {
            Addressing::Number => {
                let n = if p1 == 0 {
                    current.ok_or(Status::RecordNotFound)?
                } else {
                    p1
                };
                (n, n, 1)
            }
            Addressing::NumberToLast => {
                let n = if p1 == 0 {
                    current.ok_or(Status::RecordNotFound)?
                } else {
                    p1
                };
                (n, records.count(), 1)
            }
            Addressing::LastToNumber => {
                let n = if p1 == 0 {
                    current.ok_or(Status::RecordNotFound)?
                } else {
                    p1
                };
                (records.count(), n, -1)
            }
            _ => {
                let n = records
                    .search(self.store, how, p1, current)?
                    .ok_or(Status::RecordNotFound)?;
                self.state.current_record = Some(n);
                (n, n, 1)
            }
        };
        if first == 0 || first > records.count() || last == 0 || last > records.count() {
            return Err(Status::RecordNotFound);
        }
        if (step > 0 && first > last) || (step < 0 && first < last) {
            return Err(Status::RecordNotFound);
        }
        // Total length first, for the Le checks.
        let mut total = 0usize;
        let mut n = first;
        loop {
            total += records.len(self.store, n)?;
            if n == last {
                break;
            }
            n = (i16::from(n) + step) as u8;
        }
        let short_max = cmd.le_is_max() && !cmd.is_extended();
        let take = if short_max && self.options.le_zero == LeZero::ExactLength && total <= 255 {
            return Err(Status::WrongLe(total as u8));
        } else if cmd.le_is_max() {
            total.min(le)
        } else if le < total {
            return Err(Status::WrongLe(total.min(255) as u8));
        } else {
            total
        };
        // Whole records only, up to `take` bytes.
        let mut n = first;
        let mut written = 0;
        loop {
            let len = records.len(self.store, n)?;
            if written + len > take {
                break;
            }
            records.read_into(self.store, n, reply)?;
            written += len;
            if n == last {
                break;
            }
            n = (i16::from(n) + step) as u8;
        }
        Ok(())
    }

    /// UPDATE RECORD (P5 §6.13): replaces the addressed record. SSC rules: a record
    /// number one past the last appends; an identifier not found appends; on a cyclic
    /// file "previous occurrence" adds a new record; `P1 = 00` with number addressing
    /// means the current record, and the pointer is reset afterwards.
    pub fn update_record(&mut self, cmd: &CommandView<'_>) -> Result<()> {
        let how = addressing(cmd.p2())?;
        let sfi = record_sfi(cmd.p2())?;
        let data = cmd.data();
        let ef = self.resolve_ef(sfi)?;
        require_kind(&ef, FileKind::is_record)?;
        self.check_write(&ef)?;
        let records = Records { e: &ef };
        records.check_data(data)?;
        let header_at = self
            .header
            .entry_at(ef.index)
            .ok_or(Status::MemoryFailure)?;
        let p1 = cmd.p1();
        let current = self.state.current_record;
        enum Target {
            Replace(u8),
            Append,
        }
        let target = match how {
            Addressing::Number => {
                let n = if p1 == 0 {
                    current.ok_or(Status::RecordNotFound)?
                } else {
                    p1
                };
                if n <= records.count() {
                    Target::Replace(n)
                } else if n == records.count().saturating_add(1) && ef.kind != FileKind::Cyclic {
                    Target::Append
                } else {
                    return Err(Status::RecordNotFound);
                }
            }
            Addressing::PreviousId if ef.kind == FileKind::Cyclic => Target::Append,
            Addressing::FirstId
            | Addressing::LastId
            | Addressing::NextId
            | Addressing::PreviousId => {
                if p1 != 0 && ef.flags.contains(FileFlags::TLV_RECORDS) && data.first() != Some(&p1)
                {
                    return Err(Status::WrongData);
                }
                match records.search(self.store, how, p1, current)? {
                    Some(n) => Target::Replace(n),
                    None => Target::Append,
                }
            }
            Addressing::NumberToLast | Addressing::LastToNumber => return Err(Status::WrongP1P2),
        };
        let written = self.store.atomic(|s| -> Result<u8> {
            match target {
                Target::Replace(n) => records.write(s, n, data).map(|()| n),
                Target::Append => records.append(s, header_at, data),
            }
        })?;
        self.state.current_record = match how {
            Addressing::Number if p1 == 0 => None,
            Addressing::Number => current,
            _ => Some(written),
        };
        Ok(())
    }

    /// APPEND RECORD (ISO 7816-4 §11.4.6): P1 = 00, P2 = SFI‖000. A linear file gains a
    /// last record (`6A84` when full); a cyclic file's new record becomes record 1. The
    /// new record becomes the current record.
    pub fn append_record(&mut self, cmd: &CommandView<'_>) -> Result<()> {
        if cmd.p1() != 0 || cmd.p2() & 0x07 != 0 {
            return Err(Status::WrongP1P2);
        }
        let sfi = record_sfi(cmd.p2())?;
        let ef = self.resolve_ef(sfi)?;
        require_kind(&ef, FileKind::is_record)?;
        self.check_write(&ef)?;
        let records = Records { e: &ef };
        records.check_data(cmd.data())?;
        let header_at = self
            .header
            .entry_at(ef.index)
            .ok_or(Status::MemoryFailure)?;
        let n = self
            .store
            .atomic(|s| records.append(s, header_at, cmd.data()))?;
        self.state.current_record = Some(n);
        Ok(())
    }
}

impl<N: Nvm> FileSystem<'_, N> {
    /// Appends a record on the COS's own behalf (e.g. the medical transaction log, which
    /// no APDU may write), inside the caller's open transaction, without access checks.
    pub fn append_record_in_transaction(&mut self, ef: &FileEntry, data: &[u8]) -> Result<u8> {
        if !self.store.in_transaction() {
            return Err(Status::MemoryFailure);
        }
        require_kind(ef, FileKind::is_record)?;
        let records = Records { e: ef };
        records.check_data(data)?;
        let header_at = self
            .header
            .entry_at(ef.index)
            .ok_or(Status::MemoryFailure)?;
        records.append(self.store, header_at, data)
    }
}
