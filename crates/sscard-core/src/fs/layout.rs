//! How the card's persistent state is laid out in NVM (format version 1).
//!
//! ```text
//! 0x0000  header (64 B): magic, version, region offsets, CRC-32 of the header
//! 0x0040  card info (64 B): the contact ATR as personalized
//! 0x0080  journal area (JOURNAL_AREA_LEN B), see `nvm`
//! ....    card state (16 B, mutable): lifecycle (card blocked), reserved
//! ....    file table: `file_capacity` entries of 64 B (mutable counters inside)
//! ....    secret table: `secret_capacity` entries of 48 B (keys and PINs, issue "auth")
//! ....    heap: file bodies, DF FCI templates, applet regions, allocated at personalization
//! ```
//! Everything after the header is reached through offsets in the header, so later
//! format versions can move regions while still loading version-1 images.

use crate::nvm::{JOURNAL_AREA_LEN, Nvm, NvmError, Store};

/// Magic at NVM offset 0.
pub const MAGIC: [u8; 8] = *b"SSCARD\x00\x01";
/// Current layout version.
pub const FORMAT_VERSION: u16 = 1;
/// Header length.
pub const HEADER_LEN: usize = 64;
/// Card info (ATR) area.
pub const CARD_INFO_AT: usize = HEADER_LEN;
/// Card info length.
pub const CARD_INFO_LEN: usize = 64;
/// Journal area offset.
pub const JOURNAL_AT: usize = crate::nvm::JOURNAL_AT;
const _: () = assert!(JOURNAL_AT == CARD_INFO_AT + CARD_INFO_LEN);
/// Card-state area offset.
pub const CARD_STATE_AT: usize = JOURNAL_AT + JOURNAL_AREA_LEN;
/// Card-state length.
pub const CARD_STATE_LEN: usize = 16;
/// File table offset.
pub const FILE_TABLE_AT: usize = CARD_STATE_AT + CARD_STATE_LEN;
/// One file-table entry.
pub const FILE_ENTRY_LEN: usize = 64;
/// One secret-table entry.
pub const SECRET_ENTRY_LEN: usize = 48;
/// Largest number of files (indices are u8; 0xFF means "none").
pub const MAX_FILE_CAPACITY: usize = 255;
/// Longest DF name (ISO 7816-4: 1–16 bytes).
pub const MAX_NAME_LEN: usize = 16;
/// Longest record (its length is one byte in the slot, 0xFF is reserved).
pub const MAX_RECORD_LEN: usize = 254;
/// Card lifecycle value: operational.
pub const CARD_OPERATIONAL: u8 = 0x00;
/// Card lifecycle value: blocked by CARD BLOCK (LD/T 32 P5 §6.2); every command → 6A81.
pub const CARD_BLOCKED: u8 = 0x01;

/// Index of a file in the file table; the MF is always 0.
pub type FileIndex = u8;
/// The MF's index.
pub const MF: FileIndex = 0;

/// The parsed NVM header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Total NVM size recorded at personalization.
    pub nvm_len: u32,
    /// File table capacity.
    pub file_capacity: u16,
    /// Secret table capacity.
    pub secret_capacity: u16,
    /// Secret table offset.
    pub secrets_at: u32,
    /// First heap byte.
    pub heap_at: u32,
    /// First free heap byte after personalization.
    pub heap_used_to: u32,
    /// File-table entries in use (allocated in order from index 0).
    pub files_used: u16,
    /// Secret-table entries in use (allocated in order from index 0).
    pub secrets_used: u16,
}

/// Why an NVM body cannot be loaded as a card ([`Card::load`](crate::Card::load)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// No sscard magic at offset 0: not a card image, or never personalized.
    NotACard,
    /// Written by a newer format this build cannot read.
    UnsupportedVersion(u16),
    /// Header CRC mismatch or offsets pointing outside the memory.
    Corrupt,
    /// The memory could not be read.
    Nvm(NvmError),
    /// Loading from the stored options, but the memory was personalized before the
    /// options record existed (the options module's `StoredOptions`): the options must
    /// be given.
    NoStoredOptions,
}

impl core::fmt::Display for LoadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LoadError::NotACard => f.write_str("not an sscard card image (bad magic)"),
            LoadError::UnsupportedVersion(v) => {
                write!(f, "card image format version {v} is newer than this build")
            }
            LoadError::Corrupt => f.write_str("card image header corrupt (CRC or offsets)"),
            LoadError::Nvm(e) => write!(f, "card memory unreadable: {e}"),
            LoadError::NoStoredOptions => {
                f.write_str("the card memory stores no options (personalized by an older sscard)")
            }
        }
    }
}

impl core::error::Error for LoadError {}

impl From<NvmError> for LoadError {
    fn from(e: NvmError) -> Self {
        LoadError::Nvm(e)
    }
}

/// Big-endian u16 at `at` (0 when out of range).
pub fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

/// Big-endian u32 at `at` (0 when out of range).
pub fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[w, x, y, z]) => u32::from_be_bytes([w, x, y, z]),
        _ => 0,
    }
}

pub(crate) fn put(b: &mut [u8], at: usize, v: &[u8]) {
    if let Some(dst) = b.get_mut(at..at + v.len()) {
        dst.copy_from_slice(v);
    }
}

pub(crate) fn header_crc(bytes: &[u8]) -> u32 {
    crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(bytes)
}

impl Header {
    /// Encodes the header, CRC included.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        put(&mut h, 0, &MAGIC);
        put(&mut h, 8, &FORMAT_VERSION.to_be_bytes());
        put(&mut h, 10, &(HEADER_LEN as u16).to_be_bytes());
        put(&mut h, 12, &self.nvm_len.to_be_bytes());
        put(&mut h, 16, &(JOURNAL_AT as u32).to_be_bytes());
        put(&mut h, 20, &(FILE_TABLE_AT as u32).to_be_bytes());
        put(&mut h, 24, &self.file_capacity.to_be_bytes());
        put(&mut h, 26, &self.secret_capacity.to_be_bytes());
        put(&mut h, 28, &self.secrets_at.to_be_bytes());
        put(&mut h, 32, &self.heap_at.to_be_bytes());
        put(&mut h, 36, &self.heap_used_to.to_be_bytes());
        put(&mut h, 40, &(CARD_STATE_AT as u32).to_be_bytes());
        put(&mut h, 44, &self.files_used.to_be_bytes());
        put(&mut h, 46, &self.secrets_used.to_be_bytes());
        let crc = header_crc(h.get(..60).unwrap_or(&[]));
        put(&mut h, 60, &crc.to_be_bytes());
        h
    }

    /// Reads and validates the header of a personalized card.
    pub fn load<N: Nvm>(nvm: &N) -> Result<Header, LoadError> {
        let mut h = [0u8; HEADER_LEN];
        nvm.read(0, &mut h).map_err(|_| LoadError::NotACard)?;
        if h.get(..8) != Some(&MAGIC[..]) {
            return Err(LoadError::NotACard);
        }
        let version = be16(&h, 8);
        if version != FORMAT_VERSION {
            return Err(LoadError::UnsupportedVersion(version));
        }
        if header_crc(h.get(..60).unwrap_or(&[])) != be32(&h, 60) {
            return Err(LoadError::Corrupt);
        }
        let header = Header {
            nvm_len: be32(&h, 12),
            file_capacity: be16(&h, 24),
            secret_capacity: be16(&h, 26),
            secrets_at: be32(&h, 28),
            heap_at: be32(&h, 32),
            heap_used_to: be32(&h, 36),
            files_used: be16(&h, 44),
            secrets_used: be16(&h, 46),
        };
        let fixed_ok = be32(&h, 16) as usize == JOURNAL_AT
            && be32(&h, 20) as usize == FILE_TABLE_AT
            && be32(&h, 40) as usize == CARD_STATE_AT;
        let files_end = FILE_TABLE_AT + usize::from(header.file_capacity) * FILE_ENTRY_LEN;
        let secrets_end =
            header.secrets_at as usize + usize::from(header.secret_capacity) * SECRET_ENTRY_LEN;
        let sane = fixed_ok
            && header.nvm_len as usize == nvm.len()
            && usize::from(header.file_capacity) <= MAX_FILE_CAPACITY
            && header.file_capacity > 0
            && header.files_used <= header.file_capacity
            && header.secrets_used <= header.secret_capacity
            && header.secrets_at as usize >= files_end
            && header.heap_at as usize >= secrets_end
            && header.heap_used_to >= header.heap_at
            && header.heap_used_to <= header.nvm_len;
        if !sane {
            return Err(LoadError::Corrupt);
        }
        Ok(header)
    }

    /// NVM address of file-table entry `index`.
    pub fn entry_at(&self, index: FileIndex) -> Option<usize> {
        (u16::from(index) < self.files_used)
            .then(|| FILE_TABLE_AT + usize::from(index) * FILE_ENTRY_LEN)
    }

    /// NVM address of secret-table entry `index`.
    pub fn secret_at(&self, index: u16) -> Option<usize> {
        (index < self.secrets_used)
            .then(|| self.secrets_at as usize + usize::from(index) * SECRET_ENTRY_LEN)
    }
}

/// What a file-table entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// The master file 3F00.
    Mf,
    /// A directory DF (has a DIR file announced by FCI tag 88), e.g. the SSSE.
    Ddf,
    /// An application DF, e.g. DF01–DF07.
    Adf,
    /// Transparent (binary) EF.
    Transparent,
    /// Linear EF, records of one fixed length.
    LinearFixed,
    /// Linear EF, records of variable length.
    LinearVariable,
    /// Cyclic EF, fixed-length records, record 1 = the most recent.
    Cyclic,
    /// A region owned by an applet: invisible to file-system commands (firewall).
    AppletRegion,
    /// A COS-internal file (no FID, not selectable), e.g. the medical purse file.
    Internal,
}

impl FileKind {
    /// Byte stored in NVM.
    pub const fn code(self) -> u8 {
        match self {
            FileKind::Mf => 0x01,
            FileKind::Ddf => 0x02,
            FileKind::Adf => 0x03,
            FileKind::Transparent => 0x11,
            FileKind::LinearFixed => 0x12,
            FileKind::LinearVariable => 0x13,
            FileKind::Cyclic => 0x14,
            FileKind::AppletRegion => 0x20,
            FileKind::Internal => 0x21,
        }
    }
    /// Decodes a stored byte (0 = free slot → `None`).
    pub const fn from_code(c: u8) -> Option<FileKind> {
        Some(match c {
            0x01 => FileKind::Mf,
            0x02 => FileKind::Ddf,
            0x03 => FileKind::Adf,
            0x11 => FileKind::Transparent,
            0x12 => FileKind::LinearFixed,
            0x13 => FileKind::LinearVariable,
            0x14 => FileKind::Cyclic,
            0x20 => FileKind::AppletRegion,
            0x21 => FileKind::Internal,
            _ => return None,
        })
    }
    /// MF, DDF or ADF.
    pub const fn is_df(self) -> bool {
        matches!(self, FileKind::Mf | FileKind::Ddf | FileKind::Adf)
    }
    /// An EF that SELECT and the file commands can reach.
    pub const fn is_ef(self) -> bool {
        matches!(
            self,
            FileKind::Transparent
                | FileKind::LinearFixed
                | FileKind::LinearVariable
                | FileKind::Cyclic
        )
    }
    /// A record-structured EF.
    pub const fn is_record(self) -> bool {
        matches!(
            self,
            FileKind::LinearFixed | FileKind::LinearVariable | FileKind::Cyclic
        )
    }
}

/// An access condition for one operation on a file (LD/T 32 P6 / V2.0 tables 3–8:
/// "free", "PIN", "RKxx", "PIN 或 RKxx", "PIN & RKxx", "不允许").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Always allowed.
    Always,
    /// Never allowed through APDUs (e.g. the medical log, written only by the COS).
    Never,
    /// Needs the PIN `pin` verified.
    Pin(u8),
    /// Needs external authentication with key `key`.
    Key(u8),
    /// Either the PIN or the key.
    PinOrKey {
        /// PIN reference.
        pin: u8,
        /// Key id.
        key: u8,
    },
    /// Both the PIN and the key.
    PinAndKey {
        /// PIN reference.
        pin: u8,
        /// Key id.
        key: u8,
    },
}

impl Access {
    /// Three stored bytes: kind, PIN reference, key id.
    pub const fn encode(self) -> [u8; 3] {
        match self {
            Access::Always => [0, 0, 0],
            Access::Never => [1, 0, 0],
            Access::Pin(p) => [2, p, 0],
            Access::Key(k) => [3, 0, k],
            Access::PinOrKey { pin, key } => [4, pin, key],
            Access::PinAndKey { pin, key } => [5, pin, key],
        }
    }
    /// Decodes; unknown kinds decode as `Never` (fail closed).
    pub const fn decode(b: [u8; 3]) -> Access {
        match b[0] {
            0 => Access::Always,
            2 => Access::Pin(b[1]),
            3 => Access::Key(b[2]),
            4 => Access::PinOrKey {
                pin: b[1],
                key: b[2],
            },
            5 => Access::PinAndKey {
                pin: b[1],
                key: b[2],
            },
            _ => Access::Never,
        }
    }
}

/// A file-table entry, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Index in the file table.
    pub index: FileIndex,
    /// Kind of file.
    pub kind: FileKind,
    /// Parent DF (the MF is its own parent).
    pub parent: FileIndex,
    /// File identifier (0 when none).
    pub fid: u16,
    /// Short EF identifier 1–30, 0 when none.
    pub sfi: u8,
    /// How the file system treats the file.
    pub flags: FileFlags,
    /// Application behaviour attached to a DF (see `DfRole`); 0 for plain files.
    pub role: u8,
    /// Length of `name`.
    pub name_len: u8,
    /// DF name / AID (or the applet's AID for an applet region).
    pub name: [u8; MAX_NAME_LEN],
    /// Read (EF) condition.
    pub read: Access,
    /// Update (EF) condition.
    pub write: Access,
    /// Body offset in NVM.
    pub body_at: u32,
    /// Body length: file size, records area, FCI template or region size.
    pub body_len: u32,
    /// Record length (fixed) or maximum record length (variable).
    pub record_len: u16,
    /// Number of record slots.
    pub max_records: u8,
    /// Records present (mutable).
    pub record_count: u8,
    /// Cyclic files: slot of the most recent record (mutable).
    pub cyclic_head: u8,
    /// Lifecycle (mutable): [`LIFECYCLE_ACTIVE`] or [`LIFECYCLE_BLOCKED`].
    pub lifecycle: u8,
}

bitflags::bitflags! {
    /// Byte 5 of a file entry: how the file system treats the file. sscard's own NVM
    /// format; each bit carries a rule of LD/T 32 (cited per flag).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct FileFlags: u8 {
        /// b1: records of this EF are simple-TLV (`tag len value`) and the tag is the
        /// record identifier (P5 §6.10, T32; P3 §6 for the SSSE's TLV record files).
        const TLV_RECORDS = 0x01;
        /// b2: this DF cannot be selected through the contactless interface (a profile
        /// choice: the texts leave it open, spec-extract §6.2).
        const NO_CONTACTLESS = 0x02;
        /// b3: this DF cannot be selected through the contact interface (as b2).
        const NO_CONTACT = 0x04;
        /// b4: this EF holds key material (a private key): no file command reads or
        /// writes it, whatever its access conditions say; only the owning application's
        /// key commands use it (LD/T 32 P5 §5.1: keys are stored in key files, which are
        /// never readable).
        const KEY_OBJECT = 0x08;
    }
}

/// Entry lifecycle: usable.
pub const LIFECYCLE_ACTIVE: u8 = 0x00;
/// Entry lifecycle: application permanently blocked (LD/T 32 P5 §6.1) → 9303.
pub const LIFECYCLE_BLOCKED: u8 = 0x01;

/// Offset of the record count inside an entry (mutable).
pub const OFF_RECORD_COUNT: usize = 43;
/// Offset of the cyclic head inside an entry (mutable).
pub const OFF_CYCLIC_HEAD: usize = 44;
/// Offset of the lifecycle byte inside an entry (mutable).
pub const OFF_LIFECYCLE: usize = 45;

impl FileEntry {
    /// The DF name.
    pub fn name(&self) -> &[u8] {
        self.name.get(..usize::from(self.name_len)).unwrap_or(&[])
    }

    /// Encodes the entry.
    pub fn encode(&self) -> [u8; FILE_ENTRY_LEN] {
        let mut e = [0u8; FILE_ENTRY_LEN];
        put(&mut e, 0, &[self.kind.code(), self.parent]);
        put(&mut e, 2, &self.fid.to_be_bytes());
        put(
            &mut e,
            4,
            &[self.sfi, self.flags.bits(), self.role, self.name_len],
        );
        put(&mut e, 8, &self.name);
        put(&mut e, 24, &self.read.encode());
        put(&mut e, 27, &self.write.encode());
        put(&mut e, 32, &self.body_at.to_be_bytes());
        put(&mut e, 36, &self.body_len.to_be_bytes());
        put(&mut e, 40, &self.record_len.to_be_bytes());
        put(
            &mut e,
            42,
            &[
                self.max_records,
                self.record_count,
                self.cyclic_head,
                self.lifecycle,
            ],
        );
        e
    }

    /// Decodes the entry at `index`; `None` for a free or unknown slot.
    pub fn decode(index: FileIndex, e: &[u8; FILE_ENTRY_LEN]) -> Option<FileEntry> {
        let kind = FileKind::from_code(e[0])?;
        let mut name = [0u8; MAX_NAME_LEN];
        name.copy_from_slice(e.get(8..24)?);
        let ac = |at: usize| -> Option<Access> {
            Some(Access::decode(e.get(at..at + 3)?.try_into().ok()?))
        };
        Some(FileEntry {
            index,
            kind,
            parent: e[1],
            fid: be16(e, 2),
            sfi: e[4],
            flags: FileFlags::from_bits_retain(e[5]),
            role: e[6],
            name_len: e[7].min(MAX_NAME_LEN as u8),
            name,
            read: ac(24)?,
            write: ac(27)?,
            body_at: be32(e, 32),
            body_len: be32(e, 36),
            record_len: be16(e, 40),
            max_records: e[42],
            record_count: e[43],
            cyclic_head: e[44],
            lifecycle: e[45],
        })
    }

    /// Bytes of one record slot: a length byte then the record.
    pub fn slot_len(&self) -> usize {
        1 + usize::from(self.record_len)
    }
}

/// Reads entry `index` through the store (so an open transaction's writes are seen).
pub fn read_entry<N: Nvm>(
    store: &Store<N>,
    header: &Header,
    index: FileIndex,
) -> Result<Option<FileEntry>, NvmError> {
    let Some(at) = header.entry_at(index) else {
        return Ok(None);
    };
    let mut e = [0u8; FILE_ENTRY_LEN];
    store.read(at, &mut e)?;
    Ok(FileEntry::decode(index, &e).filter(|f| f.body_fits(header)))
}

/// Visits the used entries in table order; stops at the first `Some` from `f`.
pub fn scan<N: Nvm, T>(
    store: &Store<N>,
    header: &Header,
    mut f: impl FnMut(&FileEntry) -> Option<T>,
) -> Result<Option<T>, NvmError> {
    // A few entries per NVM read: a SELECT walks much of the table.
    const CHUNK: usize = 8;
    let mut chunk = [0u8; FILE_ENTRY_LEN * CHUNK];
    let used = usize::from(header.files_used).min(MAX_FILE_CAPACITY);
    let mut first = 0usize;
    while first < used {
        let n = (used - first).min(CHUNK);
        let buf = chunk
            .get_mut(..n * FILE_ENTRY_LEN)
            .ok_or(NvmError::OutOfRange)?;
        store.read(FILE_TABLE_AT + first * FILE_ENTRY_LEN, buf)?;
        for (k, raw) in buf.chunks_exact(FILE_ENTRY_LEN).enumerate() {
            let (Ok(index), Ok(raw)) = (FileIndex::try_from(first + k), raw.try_into()) else {
                return Ok(None);
            };
            if let Some(e) = FileEntry::decode(index, raw).filter(|e| e.body_fits(header))
                && let Some(t) = f(&e)
            {
                return Ok(Some(t));
            }
        }
        first += n;
    }
    Ok(None)
}

impl FileEntry {
    /// A body outside the heap means a corrupt entry; it is treated as absent.
    fn body_fits(&self, header: &Header) -> bool {
        let end = u64::from(self.body_at) + u64::from(self.body_len);
        let in_heap = self.body_len == 0
            || (self.body_at >= header.heap_at && end <= u64::from(header.heap_used_to));
        let records_fit = !self.kind.is_record()
            || (usize::from(self.record_len) <= MAX_RECORD_LEN
                && (self.slot_len() * usize::from(self.max_records)) as u64
                    <= u64::from(self.body_len));
        in_heap && records_fit && usize::from(self.name_len) <= MAX_NAME_LEN
    }
}
