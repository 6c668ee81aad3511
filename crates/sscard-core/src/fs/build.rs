//! Personalization: builds the file tree of a fresh card in NVM (no_std, no heap).
//!
//! LD/T 32 P10 §5.2 leaves the creation commands to the COS vendor; sscard therefore has
//! no APDU-level CREATE FILE: a profile drives this builder instead. Files are allocated
//! once, in order; nothing is ever freed.

use super::layout::{
    Access, CARD_INFO_AT, FILE_ENTRY_LEN, FILE_TABLE_AT, FileEntry, FileFlags, FileIndex, FileKind,
    HEADER_LEN, Header, LIFECYCLE_ACTIVE, MAX_FILE_CAPACITY, MAX_NAME_LEN, MAX_RECORD_LEN, MF,
    SECRET_ENTRY_LEN,
};
use crate::nvm::{Nvm, NvmError};

/// Why personalization failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// The memory failed.
    Nvm(NvmError),
    /// Not enough NVM for the requested files.
    OutOfMemory,
    /// The file table is full.
    TooManyFiles,
    /// The secret (key/PIN) table is full.
    TooManySecrets,
    /// The parent is not a DF, or does not exist.
    BadParent,
    /// A DF name / AID must be 1–16 bytes.
    BadName,
    /// The ATR is longer than 33 bytes or empty.
    BadAtr,
    /// Another file under the same DF already has this FID.
    DuplicateFid(u16),
    /// Another EF under the same DF already has this SFI.
    DuplicateSfi(u8),
    /// A file parameter is out of range (record length, SFI 1–30, record count…).
    BadParameter(&'static str),
    /// A record or data write does not fit its file.
    DataDoesNotFit,
    /// A key does not fit its algorithm or its place; names which.
    BadKey(&'static str),
}

impl From<NvmError> for BuildError {
    fn from(e: NvmError) -> Self {
        BuildError::Nvm(e)
    }
}

impl core::fmt::Display for BuildError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BuildError::Nvm(e) => write!(f, "memory error: {e}"),
            BuildError::OutOfMemory => f.write_str("not enough card memory for the files"),
            BuildError::TooManyFiles => f.write_str("file table full"),
            BuildError::TooManySecrets => f.write_str("key/PIN table full"),
            BuildError::BadParent => f.write_str("parent is not a DF"),
            BuildError::BadName => f.write_str("DF name must be 1-16 bytes"),
            BuildError::BadAtr => f.write_str("ATR must be 1-33 bytes"),
            BuildError::DuplicateFid(fid) => write!(f, "duplicate FID {fid:04X} under one DF"),
            BuildError::DuplicateSfi(sfi) => write!(f, "duplicate SFI {sfi:02X} under one DF"),
            BuildError::BadParameter(what) => write!(f, "bad file parameter: {what}"),
            BuildError::DataDoesNotFit => f.write_str("data does not fit the file"),
            BuildError::BadKey(what) => write!(f, "bad key: {what}"),
        }
    }
}

impl core::error::Error for BuildError {}

/// Table sizes chosen at personalization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacities {
    /// File-table entries (≤ 255).
    pub files: u16,
    /// Secret-table entries (keys and PINs).
    pub secrets: u16,
}

impl Default for Capacities {
    fn default() -> Self {
        Capacities {
            files: 64,
            secrets: 48,
        }
    }
}

/// A DF to create.
#[derive(Clone, Copy, Debug)]
pub struct DfSpec<'a> {
    /// DDF (has a directory) or ADF.
    pub kind: FileKind,
    /// File identifier (0 for none).
    pub fid: u16,
    /// DF name / AID, 1–16 bytes.
    pub name: &'a [u8],
    /// Contents of the FCI proprietary template `A5` (empty: no `A5`).
    pub fci_proprietary: &'a [u8],
    /// Application behaviour of the DF (0: plain file-system DF).
    pub role: u8,
}

/// How an EF stores its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Structure {
    /// Transparent EF of `size` bytes (initialised to 00).
    Transparent {
        /// Size in bytes.
        size: u32,
    },
    /// Linear EF of `records` fixed-length records.
    LinearFixed {
        /// Record length.
        record_len: u8,
        /// Maximum number of records.
        records: u8,
    },
    /// Linear EF of up to `records` records of at most `max_len` bytes.
    LinearVariable {
        /// Longest record.
        max_len: u8,
        /// Maximum number of records.
        records: u8,
    },
    /// Cyclic EF of `records` fixed-length records.
    Cyclic {
        /// Record length.
        record_len: u8,
        /// Number of records in the cycle.
        records: u8,
    },
}

/// An EF to create.
#[derive(Clone, Copy, Debug)]
pub struct EfSpec {
    /// File identifier.
    pub fid: u16,
    /// Short EF identifier 1–30, 0 for none.
    pub sfi: u8,
    /// Storage.
    pub structure: Structure,
    /// Read condition.
    pub read: Access,
    /// Update condition.
    pub write: Access,
    /// Records are simple-TLV (`tag len value`), the tag being the record identifier.
    pub tlv_records: bool,
}

/// Builds a card in a blank memory.
#[derive(Debug)]
pub struct Personalizer<'n, N: Nvm> {
    nvm: &'n mut N,
    header: Header,
    heap_next: u32,
}

impl<'n, N: Nvm> Personalizer<'n, N> {
    /// Erases `nvm`, writes the ATR and creates the MF (index 0, FID 3F00, unnamed).
    pub fn format(nvm: &'n mut N, caps: Capacities, atr: &[u8]) -> Result<Self, BuildError> {
        if usize::from(caps.files) > MAX_FILE_CAPACITY || caps.files == 0 {
            return Err(BuildError::BadParameter("file capacity must be 1-255"));
        }
        if atr.is_empty() || atr.len() > 33 {
            return Err(BuildError::BadAtr);
        }
        let len = nvm.len();
        let secrets_at = FILE_TABLE_AT + usize::from(caps.files) * FILE_ENTRY_LEN;
        let heap_at = secrets_at + usize::from(caps.secrets) * SECRET_ENTRY_LEN;
        if heap_at > len || u32::try_from(len).is_err() {
            return Err(BuildError::OutOfMemory);
        }
        // Erase in chunks so no large stack buffer is needed.
        let zeros = [0u8; 256];
        let mut at = 0;
        while at < len {
            let n = (len - at).min(zeros.len());
            nvm.write(at, zeros.get(..n).unwrap_or(&[]))?;
            at += n;
        }
        let mut info = [0u8; 34];
        info[0] = atr.len() as u8;
        if let Some(dst) = info.get_mut(1..=atr.len()) {
            dst.copy_from_slice(atr);
        }
        nvm.write(CARD_INFO_AT, &info)?;
        let header = Header {
            nvm_len: len as u32,
            file_capacity: caps.files,
            secret_capacity: caps.secrets,
            secrets_at: secrets_at as u32,
            heap_at: heap_at as u32,
            heap_used_to: heap_at as u32,
            files_used: 0,
            secrets_used: 0,
        };
        let mut p = Personalizer {
            nvm,
            header,
            heap_next: heap_at as u32,
        };
        let mf = p.blank_entry(FileKind::Mf, MF);
        p.push_entry(FileEntry { fid: 0x3F00, ..mf })?;
        Ok(p)
    }

    /// The header as it stands.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Gives the MF a name and an FCI proprietary template.
    pub fn set_mf(&mut self, name: &[u8], fci_proprietary: &[u8]) -> Result<(), BuildError> {
        let mut mf = self.entry(MF)?;
        set_name(&mut mf, name, true)?;
        let (at, len) = self.alloc_with(fci_proprietary)?;
        mf.body_at = at;
        mf.body_len = len;
        self.store_entry(&mf)
    }

    /// Creates a DF under `parent`.
    pub fn df(&mut self, parent: FileIndex, spec: DfSpec<'_>) -> Result<FileIndex, BuildError> {
        if !matches!(spec.kind, FileKind::Ddf | FileKind::Adf) {
            return Err(BuildError::BadParameter("a DF is a DDF or an ADF"));
        }
        self.check_parent(parent)?;
        self.check_unique(parent, spec.fid, 0)?;
        let index = self.next_index()?;
        let mut e = self.blank_entry(spec.kind, parent);
        e.index = index;
        e.fid = spec.fid;
        e.role = spec.role;
        set_name(&mut e, spec.name, false)?;
        let (at, len) = self.alloc_with(spec.fci_proprietary)?;
        e.body_at = at;
        e.body_len = len;
        self.push_entry(e)?;
        Ok(index)
    }

    /// Creates an EF under `parent`.
    pub fn ef(&mut self, parent: FileIndex, spec: EfSpec) -> Result<FileIndex, BuildError> {
        self.check_parent(parent)?;
        if spec.sfi > 30 {
            return Err(BuildError::BadParameter("SFI must be 1-30"));
        }
        self.check_unique(parent, spec.fid, spec.sfi)?;
        let index = self.next_index()?;
        let mut e = self.blank_entry(FileKind::Transparent, parent);
        e.index = index;
        e.fid = spec.fid;
        e.sfi = spec.sfi;
        e.read = spec.read;
        e.write = spec.write;
        e.flags = if spec.tlv_records {
            FileFlags::TLV_RECORDS
        } else {
            FileFlags::empty()
        };
        let (kind, record_len, records) = match spec.structure {
            Structure::Transparent { .. } => (FileKind::Transparent, 0u8, 0u8),
            Structure::LinearFixed {
                record_len,
                records,
            } => (FileKind::LinearFixed, record_len, records),
            Structure::LinearVariable { max_len, records } => {
                (FileKind::LinearVariable, max_len, records)
            }
            Structure::Cyclic {
                record_len,
                records,
            } => (FileKind::Cyclic, record_len, records),
        };
        e.kind = kind;
        let body_len = match spec.structure {
            Structure::Transparent { size } => size,
            _ => {
                if record_len == 0 || usize::from(record_len) > MAX_RECORD_LEN || records == 0 {
                    return Err(BuildError::BadParameter(
                        "record length must be 1-254 and at least one record",
                    ));
                }
                if records == 0xFF {
                    return Err(BuildError::BadParameter("at most 254 records"));
                }
                (1 + u32::from(record_len)) * u32::from(records)
            }
        };
        e.record_len = u16::from(record_len);
        e.max_records = records;
        self.push_with_body(e, body_len)
    }

    /// Reserves a private NVM region for the applet `aid` (reachable only by it).
    pub fn applet_region(&mut self, aid: &[u8], len: u32) -> Result<FileIndex, BuildError> {
        let index = self.next_index()?;
        let mut e = self.blank_entry(FileKind::AppletRegion, MF);
        e.index = index;
        set_name(&mut e, aid, false)?;
        self.push_with_body(e, len)
    }

    /// Creates a COS-internal file (not selectable) of `len` bytes under `parent`,
    /// identified by `role` (e.g. the medical purse file of DF04).
    pub fn internal(
        &mut self,
        parent: FileIndex,
        role: u8,
        len: u32,
    ) -> Result<FileIndex, BuildError> {
        self.check_parent(parent)?;
        let index = self.next_index()?;
        let mut e = self.blank_entry(FileKind::Internal, parent);
        e.index = index;
        e.role = role;
        e.read = Access::Never;
        e.write = Access::Never;
        self.push_with_body(e, len)
    }

    /// Writes `data` into the body of file `index` at `offset` (transparent EFs, internal
    /// files, applet regions).
    pub fn write_body(
        &mut self,
        index: FileIndex,
        offset: u32,
        data: &[u8],
    ) -> Result<(), BuildError> {
        let e = self.entry(index)?;
        let end = u64::from(offset) + data.len() as u64;
        if e.kind.is_record() || e.kind.is_df() || end > u64::from(e.body_len) {
            return Err(BuildError::DataDoesNotFit);
        }
        self.nvm.write((e.body_at + offset) as usize, data)?;
        Ok(())
    }

    /// Appends a record to a record EF (cyclic: becomes record 1).
    pub fn append_record(&mut self, index: FileIndex, record: &[u8]) -> Result<(), BuildError> {
        let mut e = self.entry(index)?;
        let fixed = matches!(e.kind, FileKind::LinearFixed | FileKind::Cyclic);
        if !e.kind.is_record()
            || record.is_empty()
            || record.len() > usize::from(e.record_len)
            || (fixed && record.len() != usize::from(e.record_len))
        {
            return Err(BuildError::DataDoesNotFit);
        }
        let slot = if e.kind == FileKind::Cyclic {
            let next = if e.record_count == 0 {
                0
            } else {
                (e.cyclic_head + 1) % e.max_records
            };
            e.cyclic_head = next;
            e.record_count = e.record_count.saturating_add(1).min(e.max_records);
            next
        } else {
            if e.record_count >= e.max_records {
                return Err(BuildError::DataDoesNotFit);
            }
            e.record_count += 1;
            e.record_count - 1
        };
        let at = e.body_at as usize + usize::from(slot) * e.slot_len();
        self.nvm.write(at, &[record.len() as u8])?;
        self.nvm.write(at + 1, record)?;
        self.store_entry(&e)
    }

    /// Allocates `len` zeroed heap bytes and returns their NVM offset.
    pub fn alloc(&mut self, len: u32) -> Result<u32, BuildError> {
        let at = self.heap_next;
        let end = at.checked_add(len).ok_or(BuildError::OutOfMemory)?;
        if end > self.header.nvm_len {
            return Err(BuildError::OutOfMemory);
        }
        self.heap_next = end;
        self.header.heap_used_to = end;
        Ok(at)
    }

    /// Adds an encoded secret-table entry (see `auth::secret`); returns its index.
    pub fn push_secret(&mut self, entry: &[u8; SECRET_ENTRY_LEN]) -> Result<u16, BuildError> {
        let index = self.header.secrets_used;
        if index >= self.header.secret_capacity {
            return Err(BuildError::TooManySecrets);
        }
        let at = self.header.secrets_at as usize + usize::from(index) * SECRET_ENTRY_LEN;
        self.nvm.write(at, entry)?;
        self.header.secrets_used += 1;
        Ok(index)
    }

    /// Direct write for other personalization steps (secrets, purse file).
    pub fn raw_write(&mut self, at: u32, data: &[u8]) -> Result<(), BuildError> {
        self.nvm.write(at as usize, data)?;
        Ok(())
    }

    /// ORs `flags` into entry `index` (e.g. the interface policy of a DF).
    pub fn add_flags(&mut self, index: FileIndex, flags: FileFlags) -> Result<(), BuildError> {
        let mut e = self.entry(index)?;
        e.flags |= flags;
        self.store_entry(&e)
    }

    /// Reads a created entry.
    pub fn entry(&self, index: FileIndex) -> Result<FileEntry, BuildError> {
        if u16::from(index) >= self.header.files_used {
            return Err(BuildError::BadParent);
        }
        let mut b = [0u8; FILE_ENTRY_LEN];
        self.nvm
            .read(FILE_TABLE_AT + usize::from(index) * FILE_ENTRY_LEN, &mut b)?;
        FileEntry::decode(index, &b).ok_or(BuildError::BadParent)
    }

    /// Writes the header: the card becomes loadable.
    pub fn finish(self) -> Result<Header, BuildError> {
        self.nvm.write(0, &self.header.encode())?;
        debug_assert_eq!(HEADER_LEN, self.header.encode().len());
        Ok(self.header)
    }

    fn alloc_with(&mut self, bytes: &[u8]) -> Result<(u32, u32), BuildError> {
        let len = u32::try_from(bytes.len()).map_err(|_| BuildError::OutOfMemory)?;
        let at = self.alloc(len)?;
        if !bytes.is_empty() {
            self.nvm.write(at as usize, bytes)?;
        }
        Ok((at, len))
    }

    fn blank_entry(&self, kind: FileKind, parent: FileIndex) -> FileEntry {
        FileEntry {
            index: 0,
            kind,
            parent,
            fid: 0,
            sfi: 0,
            flags: FileFlags::empty(),
            role: 0,
            name_len: 0,
            name: [0; MAX_NAME_LEN],
            read: Access::Always,
            write: Access::Never,
            body_at: 0,
            body_len: 0,
            record_len: 0,
            max_records: 0,
            record_count: 0,
            cyclic_head: 0,
            lifecycle: LIFECYCLE_ACTIVE,
        }
    }

    fn next_index(&self) -> Result<FileIndex, BuildError> {
        if self.header.files_used >= self.header.file_capacity {
            return Err(BuildError::TooManyFiles);
        }
        FileIndex::try_from(self.header.files_used).map_err(|_| BuildError::TooManyFiles)
    }

    /// Adds `e` with a new body of `len` bytes; its index.
    fn push_with_body(&mut self, mut e: FileEntry, len: u32) -> Result<FileIndex, BuildError> {
        e.body_at = self.alloc(len)?;
        e.body_len = len;
        self.push_entry(e)?;
        Ok(e.index)
    }

    fn push_entry(&mut self, e: FileEntry) -> Result<(), BuildError> {
        let index = self.next_index()?;
        let e = FileEntry { index, ..e };
        self.header.files_used += 1;
        self.store_entry(&e)
    }

    fn store_entry(&mut self, e: &FileEntry) -> Result<(), BuildError> {
        self.nvm.write(
            FILE_TABLE_AT + usize::from(e.index) * FILE_ENTRY_LEN,
            &e.encode(),
        )?;
        Ok(())
    }

    fn check_parent(&self, parent: FileIndex) -> Result<(), BuildError> {
        if self.entry(parent)?.kind.is_df() {
            Ok(())
        } else {
            Err(BuildError::BadParent)
        }
    }

    fn check_unique(&self, parent: FileIndex, fid: u16, sfi: u8) -> Result<(), BuildError> {
        for i in 0..self.header.files_used {
            let Ok(i) = FileIndex::try_from(i) else { break };
            let e = self.entry(i)?;
            if e.parent != parent || i == MF || !(e.kind.is_df() || e.kind.is_ef()) {
                continue;
            }
            if fid != 0 && e.fid == fid {
                return Err(BuildError::DuplicateFid(fid));
            }
            if sfi != 0 && e.sfi == sfi {
                return Err(BuildError::DuplicateSfi(sfi));
            }
        }
        Ok(())
    }
}

fn set_name(e: &mut FileEntry, name: &[u8], may_be_empty: bool) -> Result<(), BuildError> {
    if name.len() > MAX_NAME_LEN || (name.is_empty() && !may_be_empty) {
        return Err(BuildError::BadName);
    }
    e.name = [0; MAX_NAME_LEN];
    if let Some(dst) = e.name.get_mut(..name.len()) {
        dst.copy_from_slice(name);
    }
    e.name_len = name.len() as u8;
    Ok(())
}
