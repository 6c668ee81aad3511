//! The card's persistent memory and its atomic transactions.
//!
//! All persistent state lives behind the [`Nvm`] trait. Every change goes through a
//! [`Store`] transaction (begin / write… / commit), made atomic by a redo journal:
//!
//! 1. writes are buffered in RAM (the commit buffer, [`TX_CAPACITY`] bytes) and reads
//!    inside the transaction see them;
//! 2. commit writes the buffered entries to the journal area, then the journal header
//!    (sequence, length, CRC-32) — this single write is the commit point;
//! 3. the entries are then copied to their home addresses and the header is erased.
//!
//! At power-up [`Store::recover`] replays a journal whose header and CRC are intact
//! (replay is idempotent) and ignores anything else, so a power cut at any NVM write leaves
//! each transaction's data old or new, never mixed (LD/T 32 P7 §14: the card backs data up
//! before each update and recovers at the next power-up without a terminal command).
//! A transaction never spans two APDUs: the processor aborts any transaction still open
//! when a command returns (as JCRE §7.6.2 does).
//!
//! [`TearingNvm`] cuts power after write *k* for the tear tests.

use crc::{CRC_32_ISO_HDLC, Crc};
use heapless::Vec;

/// Why an NVM access failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NvmError {
    /// Address range outside the memory.
    OutOfRange,
    /// Power was cut (only [`TearingNvm`] says this); the card is now unpowered.
    PowerLost,
    /// A transaction is already open (no nesting) or none is open.
    TransactionState,
    /// The commit buffer or the journal area is full.
    CommitBufferFull,
    /// The memory device reported a failure (a flash that would not erase or program).
    Device,
}

impl core::fmt::Display for NvmError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            NvmError::OutOfRange => "NVM address out of range",
            NvmError::PowerLost => "power lost during NVM access",
            NvmError::TransactionState => "transaction already open or not open",
            NvmError::CommitBufferFull => "commit buffer full",
            NvmError::Device => "the memory device failed",
        })
    }
}

impl core::error::Error for NvmError {}

/// Byte-addressed persistent memory, as an EEPROM or flash page layer presents it.
pub trait Nvm {
    /// Size in bytes.
    fn len(&self) -> usize;
    /// True if the memory has no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Reads `buf.len()` bytes at `addr`.
    fn read(&self, addr: usize, buf: &mut [u8]) -> Result<(), NvmError>;
    /// Writes `data` at `addr`. One call is one "NVM write" for the tear tests.
    ///
    /// **The tear contract** — what the card assumes of a memory when power is cut: the
    /// writes of one [`Store`] land in call order; a write interrupted by the cut leaves
    /// its range with nothing, a prefix, or all of `data` written (the tear harness tries
    /// the three: [`TearMode`]), and every byte outside that range as it was; once the cut
    /// happened no later write lands. Under that contract the journal makes each
    /// transaction old or new after [`Store::recover`]. A flash that must erase a page
    /// before writing it does not keep this contract by itself (the erase touches bytes
    /// outside the range): its adapter must, as `flash::NorFlashNvm` does for an
    /// `embedded-storage` NOR flash (cargo feature `embedded-storage`).
    ///
    /// A memory that wants to see commits (test instrumentation) recognizes a commit's
    /// first write by its address, [`JOURNAL_BODY_AT`]: no other write goes there.
    fn write(&mut self, addr: usize, data: &[u8]) -> Result<(), NvmError>;
}

impl<N: Nvm + ?Sized> Nvm for &mut N {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn read(&self, addr: usize, buf: &mut [u8]) -> Result<(), NvmError> {
        (**self).read(addr, buf)
    }
    fn write(&mut self, addr: usize, data: &[u8]) -> Result<(), NvmError> {
        (**self).write(addr, data)
    }
}

/// NVM kept in a byte buffer (a `[u8; N]`, a `&mut [u8]` or, on std, a `Vec<u8>`).
#[derive(Clone, Debug)]
pub struct RamNvm<S> {
    bytes: S,
}

impl<S: AsRef<[u8]> + AsMut<[u8]>> RamNvm<S> {
    /// Wraps a buffer; its length is the memory size.
    pub fn new(bytes: S) -> Self {
        RamNvm { bytes }
    }
    /// The raw contents (a card image).
    pub fn bytes(&self) -> &[u8] {
        self.bytes.as_ref()
    }
    /// Gives the buffer back.
    pub fn into_inner(self) -> S {
        self.bytes
    }
}

impl<S: AsRef<[u8]> + AsMut<[u8]>> Nvm for RamNvm<S> {
    fn len(&self) -> usize {
        self.bytes.as_ref().len()
    }
    fn read(&self, addr: usize, buf: &mut [u8]) -> Result<(), NvmError> {
        let src = self.bytes.as_ref().get(span(addr, buf.len())?);
        buf.copy_from_slice(src.ok_or(NvmError::OutOfRange)?);
        Ok(())
    }
    fn write(&mut self, addr: usize, data: &[u8]) -> Result<(), NvmError> {
        let dst = self.bytes.as_mut().get_mut(span(addr, data.len())?);
        dst.ok_or(NvmError::OutOfRange)?.copy_from_slice(data);
        Ok(())
    }
}

/// The byte range `len` bytes long from `addr`, unless its end overflows.
fn span(addr: usize, len: usize) -> Result<core::ops::Range<usize>, NvmError> {
    let end = addr.checked_add(len).ok_or(NvmError::OutOfRange)?;
    Ok(addr..end)
}

/// What the write that loses power leaves behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TearMode {
    /// The torn write changes nothing.
    Nothing,
    /// The first half of the torn write lands (a partial page program).
    FirstHalf,
    /// The torn write lands completely; power is lost right after it.
    Complete,
}

/// An [`Nvm`] wrapper that counts writes and cuts power at write number `k` (0-based).
/// After the cut every access fails with [`NvmError::PowerLost`] until
/// [`TearingNvm::restore_power`].
#[derive(Clone, Debug)]
pub struct TearingNvm<N> {
    inner: N,
    writes: u32,
    commits: u32,
    tear_at: Option<u32>,
    mode: TearMode,
    torn: bool,
}

impl<N: Nvm> TearingNvm<N> {
    /// Wraps `inner` with no tear scheduled.
    pub fn new(inner: N) -> Self {
        TearingNvm {
            inner,
            writes: 0,
            commits: 0,
            tear_at: None,
            mode: TearMode::Nothing,
            torn: false,
        }
    }
    /// Schedules the power cut at write `k` counted from now.
    pub fn tear_at(&mut self, k: u32, mode: TearMode) {
        self.writes = 0;
        self.commits = 0;
        self.tear_at = Some(k);
        self.mode = mode;
    }
    /// Writes performed since the counter was last reset.
    pub fn writes(&self) -> u32 {
        self.writes
    }
    /// Commits started since the counter was last reset (the torn one included).
    pub fn commits(&self) -> u32 {
        self.commits
    }
    /// Resets the write and commit counters and cancels any scheduled tear.
    pub fn reset_counter(&mut self) {
        self.writes = 0;
        self.commits = 0;
        self.tear_at = None;
    }
    /// True once the scheduled cut has happened.
    pub fn is_torn(&self) -> bool {
        self.torn
    }
    /// Powers the memory again (the tear schedule is cleared).
    pub fn restore_power(&mut self) {
        self.torn = false;
        self.tear_at = None;
        self.writes = 0;
    }
    /// The wrapped memory.
    pub fn inner(&self) -> &N {
        &self.inner
    }
    /// The wrapped memory, mutably.
    pub fn inner_mut(&mut self) -> &mut N {
        &mut self.inner
    }
}

impl<N: Nvm> Nvm for TearingNvm<N> {
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn read(&self, addr: usize, buf: &mut [u8]) -> Result<(), NvmError> {
        if self.torn {
            return Err(NvmError::PowerLost);
        }
        self.inner.read(addr, buf)
    }
    fn write(&mut self, addr: usize, data: &[u8]) -> Result<(), NvmError> {
        if self.torn {
            return Err(NvmError::PowerLost);
        }
        if addr == JOURNAL_BODY_AT {
            self.commits = self.commits.saturating_add(1);
        }
        let this = self.writes;
        self.writes = self.writes.saturating_add(1);
        if self.tear_at == Some(this) {
            self.torn = true;
            let landed = match self.mode {
                TearMode::Nothing => &[][..],
                TearMode::FirstHalf => data.get(..data.len() / 2).unwrap_or(&[]),
                TearMode::Complete => data,
            };
            // Passed on even when nothing lands (an empty write), so an instrumented
            // memory underneath sees where the cut fell (a commit start included).
            self.inner.write(addr, landed)?;
            return Err(NvmError::PowerLost);
        }
        self.inner.write(addr, data)
    }
}

/// Where the card's journal area starts: after the 64-byte header and the 64-byte card
/// info (`fs::layout` places the other regions around it).
pub const JOURNAL_AT: usize = 0x80;
/// Where a commit writes its journal body: the first write of every commit on the
/// card's store, and the only write to that address, so instrumented memories (the
/// tear harness) see a commit start without a hook on [`Nvm`].
pub const JOURNAL_BODY_AT: usize = JOURNAL_AT + JOURNAL_HEADER_LEN;
/// Capacity of the RAM commit buffer, entry headers included.
pub const TX_CAPACITY: usize = 1024;
/// Bytes of the journal header on NVM.
pub const JOURNAL_HEADER_LEN: usize = 16;
/// NVM bytes a journal area needs to hold the largest transaction.
pub const JOURNAL_AREA_LEN: usize = JOURNAL_HEADER_LEN + TX_CAPACITY;
/// Per-entry overhead in the commit buffer: address (4) and length (2).
const ENTRY_HEADER_LEN: usize = 6;
const JOURNAL_MAGIC: [u8; 4] = *b"JRNL";
const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// Persistent memory with journaled transactions.
#[derive(Debug)]
pub struct Store<N> {
    nvm: N,
    journal_at: usize,
    buffer: Vec<u8, TX_CAPACITY>,
    open: bool,
    seq: u32,
    writes_committed: u32,
    power_lost: core::cell::Cell<bool>,
}

impl<N: Nvm> Store<N> {
    /// A store whose journal area starts at `journal_at` ([`JOURNAL_AREA_LEN`] bytes).
    pub fn new(nvm: N, journal_at: usize) -> Self {
        Store {
            nvm,
            journal_at,
            buffer: Vec::new(),
            open: false,
            seq: 0,
            writes_committed: 0,
            power_lost: core::cell::Cell::new(false),
        }
    }

    /// The memory underneath (for images and tests). Writing to it bypasses the journal.
    pub fn nvm(&self) -> &N {
        &self.nvm
    }
    /// Mutable access to the memory underneath, for personalization and the tear harness.
    pub fn nvm_mut(&mut self) -> &mut N {
        &mut self.nvm
    }
    /// Gives the memory back.
    pub fn into_nvm(self) -> N {
        self.nvm
    }
    /// Where the journal area starts.
    pub fn journal_at(&self) -> usize {
        self.journal_at
    }
    /// Transactions committed since this store was created.
    pub fn commits(&self) -> u32 {
        self.writes_committed
    }

    /// True once any access reported [`NvmError::PowerLost`] (cleared by
    /// [`Store::recover`]): the card must fall silent.
    pub fn power_lost(&self) -> bool {
        self.power_lost.get()
    }

    fn note<T>(&self, r: Result<T, NvmError>) -> Result<T, NvmError> {
        if matches!(r, Err(NvmError::PowerLost)) {
            self.power_lost.set(true);
        }
        r
    }

    /// Power-up recovery: replays a committed journal, discards a torn one.
    pub fn recover(&mut self) -> Result<(), NvmError> {
        self.power_lost.set(false);
        let r = self.recover_inner();
        self.note(r)
    }

    fn recover_inner(&mut self) -> Result<(), NvmError> {
        self.buffer.clear();
        self.open = false;
        let mut header = [0u8; JOURNAL_HEADER_LEN];
        self.nvm.read(self.journal_at, &mut header)?;
        let Some((seq, body_len, crc)) = parse_journal_header(&header) else {
            return Ok(());
        };
        self.seq = seq;
        if body_len > TX_CAPACITY {
            return self.erase_journal_header();
        }
        let mut body: Vec<u8, TX_CAPACITY> = Vec::new();
        body.resize(body_len, 0)
            .map_err(|_| NvmError::CommitBufferFull)?;
        self.nvm
            .read(self.journal_at + JOURNAL_HEADER_LEN, &mut body)?;
        if journal_crc(seq, &body) != crc {
            // Torn before the commit point: the home data is still the old data.
            return self.erase_journal_header();
        }
        self.apply(&body)?;
        self.erase_journal_header()
    }

    /// Opens a transaction. Transactions do not nest.
    pub fn begin(&mut self) -> Result<(), NvmError> {
        if self.open {
            return Err(NvmError::TransactionState);
        }
        self.open = true;
        self.buffer.clear();
        Ok(())
    }

    /// True while a transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.open
    }

    /// Drops every write of the open transaction (no NVM access).
    pub fn abort(&mut self) {
        self.open = false;
        self.buffer.clear();
    }

    /// Buffers a write in the open transaction.
    pub fn write(&mut self, addr: usize, data: &[u8]) -> Result<(), NvmError> {
        if !self.open {
            return Err(NvmError::TransactionState);
        }
        let end = addr.checked_add(data.len()).ok_or(NvmError::OutOfRange)?;
        if end > self.nvm.len() || data.is_empty() && addr > self.nvm.len() {
            return Err(NvmError::OutOfRange);
        }
        if data.is_empty() {
            return Ok(());
        }
        let addr32 = u32::try_from(addr).map_err(|_| NvmError::OutOfRange)?;
        let len16 = u16::try_from(data.len()).map_err(|_| NvmError::CommitBufferFull)?;
        if self.buffer.len() + ENTRY_HEADER_LEN + data.len() > TX_CAPACITY {
            return Err(NvmError::CommitBufferFull);
        }
        let push = |b: &mut Vec<u8, TX_CAPACITY>, s: &[u8]| {
            b.extend_from_slice(s)
                .map_err(|_| NvmError::CommitBufferFull)
        };
        push(&mut self.buffer, &addr32.to_be_bytes())?;
        push(&mut self.buffer, &len16.to_be_bytes())?;
        push(&mut self.buffer, data)
    }

    /// Bytes still free in the commit buffer for one more entry's data.
    pub fn room(&self) -> usize {
        TX_CAPACITY.saturating_sub(self.buffer.len() + ENTRY_HEADER_LEN)
    }

    /// Reads, seeing the open transaction's writes.
    pub fn read(&self, addr: usize, buf: &mut [u8]) -> Result<(), NvmError> {
        self.note(self.nvm.read(addr, buf))?;
        if self.open {
            for (at, data) in entries(&self.buffer) {
                overlay(addr, buf, at, data);
            }
        }
        Ok(())
    }

    /// Reads one byte.
    pub fn read_u8(&self, addr: usize) -> Result<u8, NvmError> {
        let mut b = [0u8; 1];
        self.read(addr, &mut b)?;
        Ok(b[0])
    }

    /// Commits the open transaction atomically.
    pub fn commit(&mut self) -> Result<(), NvmError> {
        if !self.open {
            return Err(NvmError::TransactionState);
        }
        self.open = false;
        if self.buffer.is_empty() {
            return Ok(());
        }
        let body = core::mem::take(&mut self.buffer);
        let result = self.commit_body(&body);
        let result = self.note(result);
        self.buffer = body;
        self.buffer.clear();
        result
    }

    fn commit_body(&mut self, body: &[u8]) -> Result<(), NvmError> {
        let seq = self.seq.wrapping_add(1);
        self.seq = seq;
        let body_at = self.journal_at + JOURNAL_HEADER_LEN;
        self.nvm.write(body_at, body)?;
        let len = u32::try_from(body.len()).map_err(|_| NvmError::CommitBufferFull)?;
        let mut header = [0u8; JOURNAL_HEADER_LEN];
        header[..4].copy_from_slice(&JOURNAL_MAGIC);
        header[4..8].copy_from_slice(&seq.to_be_bytes());
        header[8..12].copy_from_slice(&len.to_be_bytes());
        header[12..].copy_from_slice(&journal_crc(seq, body).to_be_bytes());
        // The commit point.
        self.nvm.write(self.journal_at, &header)?;
        self.apply(body)?;
        self.erase_journal_header()?;
        self.writes_committed = self.writes_committed.wrapping_add(1);
        Ok(())
    }

    fn apply(&mut self, body: &[u8]) -> Result<(), NvmError> {
        for (at, data) in entries(body) {
            self.nvm.write(at, data)?;
        }
        Ok(())
    }

    fn erase_journal_header(&mut self) -> Result<(), NvmError> {
        self.nvm.write(self.journal_at, &[0u8; 4])
    }
}

fn parse_journal_header(h: &[u8; JOURNAL_HEADER_LEN]) -> Option<(u32, usize, u32)> {
    let word = |i: usize| -> Option<u32> {
        let b: [u8; 4] = h.get(i..i + 4)?.try_into().ok()?;
        Some(u32::from_be_bytes(b))
    };
    if h.get(..4)? != JOURNAL_MAGIC {
        return None;
    }
    Some((word(4)?, usize::try_from(word(8)?).ok()?, word(12)?))
}

fn journal_crc(seq: u32, body: &[u8]) -> u32 {
    let mut digest = CRC32.digest();
    digest.update(&seq.to_be_bytes());
    digest.update(&(body.len() as u32).to_be_bytes());
    digest.update(body);
    digest.finalize()
}

/// Iterates the (address, data) entries of a commit buffer; stops at the first malformed
/// entry (which a CRC-checked buffer never has).
fn entries(body: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut rest = body;
    core::iter::from_fn(move || {
        let (head, tail) = rest.split_at_checked(ENTRY_HEADER_LEN)?;
        let addr = u32::from_be_bytes(head.get(..4)?.try_into().ok()?) as usize;
        let len = usize::from(u16::from_be_bytes(head.get(4..6)?.try_into().ok()?));
        let (data, next) = tail.split_at_checked(len)?;
        rest = next;
        Some((addr, data))
    })
}

/// Copies the part of a pending write `(at, data)` that falls inside `[addr, addr+buf.len())`.
fn overlay(addr: usize, buf: &mut [u8], at: usize, data: &[u8]) {
    let start = addr.max(at);
    let end = (addr + buf.len()).min(at + data.len());
    if start >= end {
        return;
    }
    if let (Some(dst), Some(src)) = (
        buf.get_mut(start - addr..end - addr),
        data.get(start - at..end - at),
    ) {
        dst.copy_from_slice(src);
    }
}

impl From<NvmError> for crate::status::Status {
    fn from(e: NvmError) -> Self {
        match e {
            // The processor notices lost power separately; the SW is never sent.
            NvmError::PowerLost => crate::status::Status::MemoryFailure,
            NvmError::CommitBufferFull => crate::status::Status::NotEnoughMemory,
            // 6581 (ISO/IEC 7816-4 §5.6: memory failure) for a device that failed too.
            NvmError::OutOfRange | NvmError::TransactionState | NvmError::Device => {
                crate::status::Status::MemoryFailure
            }
        }
    }
}

/// What groups NVM writes into transactions: the [`Store`], and an applet's view of
/// its region (`card::applet::AppletContext`).
pub trait Transactional {
    /// Opens a transaction.
    fn begin_transaction(&mut self) -> Result<(), NvmError>;
    /// Commits the open transaction atomically.
    fn commit_transaction(&mut self) -> Result<(), NvmError>;
    /// Drops the open transaction.
    fn abort_transaction(&mut self);

    /// Runs `f` inside a transaction: commit on `Ok`, abort on `Err`.
    fn atomic<T, E: From<NvmError>>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> Result<T, E>
    where
        Self: Sized,
    {
        self.begin_transaction()?;
        match f(self) {
            Ok(v) => {
                self.commit_transaction()?;
                Ok(v)
            }
            Err(e) => {
                self.abort_transaction();
                Err(e)
            }
        }
    }
}

impl<N: Nvm> Transactional for Store<N> {
    fn begin_transaction(&mut self) -> Result<(), NvmError> {
        self.begin()
    }
    fn commit_transaction(&mut self) -> Result<(), NvmError> {
        self.commit()
    }
    fn abort_transaction(&mut self) {
        self.abort()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::prelude::rust_2024::*;

    const J: usize = 0;
    const DATA: usize = JOURNAL_AREA_LEN;

    fn store() -> Store<TearingNvm<RamNvm<[u8; 2048]>>> {
        Store::new(TearingNvm::new(RamNvm::new([0u8; 2048])), J)
    }

    #[test]
    fn reads_see_pending_writes_and_abort_drops_them() {
        let mut s = store();
        s.begin().unwrap();
        s.write(DATA + 2, &[1, 2, 3]).unwrap();
        s.write(DATA + 3, &[9]).unwrap();
        let mut b = [0u8; 6];
        s.read(DATA, &mut b).unwrap();
        assert_eq!(b, [0, 0, 1, 9, 3, 0]);
        s.abort();
        s.read(DATA, &mut b).unwrap();
        assert_eq!(b, [0; 6]);
    }

    #[test]
    fn commit_lands_and_uses_a_fixed_number_of_writes() {
        let mut s = store();
        s.begin().unwrap();
        s.write(DATA, &[1, 2]).unwrap();
        s.write(DATA + 10, &[3]).unwrap();
        s.nvm_mut().reset_counter();
        s.commit().unwrap();
        // body, header, two entries, header erase
        assert_eq!(s.nvm().writes(), 5);
        let mut b = [0u8; 11];
        s.read(DATA, &mut b).unwrap();
        assert_eq!(b, [1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 3]);
    }

    #[test]
    fn nesting_and_capacity_are_errors() {
        let mut s = store();
        assert_eq!(s.write(DATA, &[1]), Err(NvmError::TransactionState));
        s.begin().unwrap();
        assert_eq!(s.begin(), Err(NvmError::TransactionState));
        let big = [0u8; TX_CAPACITY];
        assert_eq!(s.write(100, &big), Err(NvmError::CommitBufferFull));
        assert_eq!(s.write(5000, &[1]), Err(NvmError::OutOfRange));
    }

    /// A tear at every write of a commit, in every tear mode, leaves old or new.
    #[test]
    fn every_tear_point_is_old_or_new() {
        for mode in [TearMode::Nothing, TearMode::FirstHalf, TearMode::Complete] {
            for k in 0..8 {
                let mut s = store();
                s.atomic(|s| s.write(DATA, &[7; 20])).unwrap();
                s.begin().unwrap();
                s.write(DATA, &[8; 20]).unwrap();
                s.write(DATA + 40, &[8; 4]).unwrap();
                s.nvm_mut().tear_at(k, mode);
                let committed = s.commit();
                s.nvm_mut().restore_power();
                s.recover().unwrap();
                let mut a = [0u8; 20];
                let mut b = [0u8; 4];
                s.read(DATA, &mut a).unwrap();
                s.read(DATA + 40, &mut b).unwrap();
                let old = a == [7; 20] && b == [0; 4];
                let new = a == [8; 20] && b == [8; 4];
                assert!(old || new, "mode {mode:?} k {k}: {a:?} {b:?}");
                if committed.is_ok() {
                    assert!(new);
                }
            }
        }
    }

    proptest! {
        /// Random transactions torn at a random write: the memory equals the state
        /// before or after the torn transaction.
        #[test]
        fn random_tears(
            writes in proptest::collection::vec((0usize..200, proptest::collection::vec(any::<u8>(), 1..40)), 1..8),
            k in 0u32..16,
            mode in prop_oneof![Just(TearMode::Nothing), Just(TearMode::FirstHalf), Just(TearMode::Complete)],
        ) {
            let mut s = store();
            let before = *s.nvm().inner().bytes().first_chunk::<2048>().unwrap();
            let mut expected = before;
            for (at, d) in &writes {
                expected[DATA + at..DATA + at + d.len()].copy_from_slice(d);
            }
            s.begin().unwrap();
            for (at, d) in &writes {
                s.write(DATA + at, d).unwrap();
            }
            s.nvm_mut().tear_at(k, mode);
            let _ = s.commit();
            s.nvm_mut().restore_power();
            s.recover().unwrap();
            let after = &s.nvm().inner().bytes()[DATA..];
            prop_assert!(after == &before[DATA..] || after == &expected[DATA..]);
        }
    }
}
