//! Key records of the key files `0011`–`0013` (LD/T 32 P9 §6; spec-extract §4.2):
//! `usage ‖ id (or version) ‖ 00 ‖ algorithm ‖ rights 00 00 ‖ 00 00 ‖ value`. The usage
//! byte's b8–b6 count the diversification levels still to apply, b5–b1 name the type.
//!
//! The key files are record EFs flagged as key objects: no file command reads or writes
//! them, only CREATE KEY / CHANGE KEY (writes) and the PSAM's own computations (reads).

use crate::layout::KEY_FILE_FIDS;
use sscard_core::crypto::{Algorithm, CardKey};
use sscard_core::fs::FileSystem;
use sscard_core::fs::layout::{FileEntry, FileFlags, FileIndex};
use sscard_core::nvm::Nvm;
use sscard_core::status::{Result, Status};
use zeroize::Zeroize;

/// Length of a record's head, before the key value.
pub const RECORD_HEAD_LEN: usize = 8;
/// Longest record: the head and a 16-byte value.
pub const MAX_RECORD_LEN: usize = RECORD_HEAD_LEN + 16;

/// Key type, usage b5–b1 (P9 §6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// 2: medical purchase (医疗消费认证); the record's second byte is a version.
    Purchase,
    /// 6: MAC.
    Mac,
    /// 7: encryption.
    Encryption,
    /// 8: MAC and encryption.
    MacEncryption,
    /// 9: load (账户划入).
    Load,
    /// 12: TAC.
    Tac,
}

impl KeyType {
    /// The type number.
    pub const fn code(self) -> u8 {
        match self {
            KeyType::Purchase => 2,
            KeyType::Mac => 6,
            KeyType::Encryption => 7,
            KeyType::MacEncryption => 8,
            KeyType::Load => 9,
            KeyType::Tac => 12,
        }
    }

    /// The type with number `code` (usage b5–b1).
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            2 => KeyType::Purchase,
            6 => KeyType::Mac,
            7 => KeyType::Encryption,
            8 => KeyType::MacEncryption,
            9 => KeyType::Load,
            12 => KeyType::Tac,
            _ => return None,
        })
    }
}

/// Algorithm byte of a key record (P9 §6.2): `00` 3DES (16-byte value), `01` DES (8),
/// `02` the 16-byte algorithm — SSF33 in the text, SM4 in sscard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// `00`: 2-key 3DES.
    TripleDes,
    /// `01`: single DES.
    Des,
    /// `02`: the 16-byte algorithm (SM4 in place of SSF33).
    Sm4,
}

impl KeyAlgorithm {
    /// The stored byte.
    pub const fn code(self) -> u8 {
        match self {
            KeyAlgorithm::TripleDes => 0x00,
            KeyAlgorithm::Des => 0x01,
            KeyAlgorithm::Sm4 => 0x02,
        }
    }

    /// The algorithm stored as `code`.
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x00 => KeyAlgorithm::TripleDes,
            0x01 => KeyAlgorithm::Des,
            0x02 => KeyAlgorithm::Sm4,
            _ => return None,
        })
    }

    /// Length of the key value.
    pub const fn key_len(self) -> usize {
        match self {
            KeyAlgorithm::Des => 8,
            KeyAlgorithm::TripleDes | KeyAlgorithm::Sm4 => 16,
        }
    }

    /// The cipher family, which is also the environment the key belongs in.
    pub const fn family(self) -> Algorithm {
        match self {
            KeyAlgorithm::TripleDes | KeyAlgorithm::Des => Algorithm::Des3,
            KeyAlgorithm::Sm4 => Algorithm::Sm4,
        }
    }
}

/// A key record, decoded. The value is wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Usage byte: levels (b8–b6) and type (b5–b1).
    pub usage: u8,
    /// Key id, or version for a purchase key.
    pub id: u8,
    /// Algorithm.
    pub algorithm: KeyAlgorithm,
    value: [u8; 16],
}

impl core::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyRecord")
            .field("usage", &self.usage)
            .field("id", &self.id)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl Drop for KeyRecord {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}

/// The usage byte of a key of `kind` that still needs `levels` diversifications.
pub const fn usage_byte(levels: u8, kind: KeyType) -> u8 {
    (levels << 5) | kind.code()
}

impl KeyRecord {
    /// Decodes a record; `None` unless it is a well-formed key record (head, a known
    /// type and algorithm, a value of the algorithm's length, zero RFU and rights).
    pub fn decode(record: &[u8]) -> Option<KeyRecord> {
        let (head, value) = record.split_at_checked(RECORD_HEAD_LEN)?;
        let [usage, id, rfu, algorithm, r0, r1, r2, r3] = *head else {
            return None;
        };
        let algorithm = KeyAlgorithm::from_code(algorithm)?;
        let well_formed = rfu == 0
            && [r0, r1, r2, r3] == [0; 4]
            && usage >> 5 <= 3
            && KeyType::from_code(usage & 0x1F).is_some()
            && value.len() == algorithm.key_len();
        if !well_formed {
            return None;
        }
        let mut v = [0u8; 16];
        v.get_mut(..value.len())?.copy_from_slice(value);
        Some(KeyRecord {
            usage,
            id,
            algorithm,
            value: v,
        })
    }

    /// The key type.
    pub fn kind(&self) -> Option<KeyType> {
        KeyType::from_code(self.usage & 0x1F)
    }

    /// Diversification levels (usage b8–b6).
    pub fn levels(&self) -> u8 {
        self.usage >> 5
    }

    /// The key value.
    pub fn value(&self) -> &[u8] {
        self.value.get(..self.algorithm.key_len()).unwrap_or(&[])
    }

    /// The key as the crypto module takes it.
    pub fn key(&self) -> Result<CardKey> {
        CardKey::new(self.algorithm.family(), self.value()).map_err(|_| Status::MemoryFailure)
    }
}

/// A key found in a key file, with where it is.
pub struct Found {
    /// The key file.
    pub file: FileEntry,
    /// Its NVM address of the record's first byte (after the slot's length byte).
    pub at: usize,
    /// The record.
    pub record: KeyRecord,
}

/// The key file `fid` of ADF `adf`.
pub fn key_file<N: Nvm>(fs: &FileSystem<'_, N>, adf: FileIndex, fid: u16) -> Result<FileEntry> {
    fs.find(|e| {
        (e.parent == adf && e.fid == fid && e.flags.contains(FileFlags::KEY_OBJECT)).then_some(*e)
    })?
    .ok_or(Status::FileNotFound)
}

/// The first record of `file` that `pick` accepts.
pub fn find_in<N: Nvm>(
    fs: &FileSystem<'_, N>,
    file: &FileEntry,
    mut pick: impl FnMut(&KeyRecord) -> bool,
) -> Result<Option<Found>> {
    let count = file.record_count.min(file.max_records);
    for slot in 0..usize::from(count) {
        let at = file.body_at as usize + slot * file.slot_len();
        let len = usize::from(fs.store.read_u8(at)?).min(MAX_RECORD_LEN);
        let mut raw = [0u8; MAX_RECORD_LEN];
        let raw_slice = raw.get_mut(..len).ok_or(Status::MemoryFailure)?;
        fs.store.read(at + 1, raw_slice)?;
        let record = KeyRecord::decode(raw_slice);
        raw.zeroize();
        if let Some(record) = record
            && pick(&record)
        {
            return Ok(Some(Found {
                file: *file,
                at: at + 1,
                record,
            }));
        }
    }
    Ok(None)
}

/// The first key of ADF `adf`, in any of its three key files, that `pick` accepts.
pub fn find<N: Nvm>(
    fs: &FileSystem<'_, N>,
    adf: FileIndex,
    mut pick: impl FnMut(&KeyRecord) -> bool,
) -> Result<Option<Found>> {
    for fid in KEY_FILE_FIDS {
        let Ok(file) = key_file(fs, adf, fid) else {
            continue;
        };
        if let Some(found) = find_in(fs, &file, &mut pick)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// Appends `record` to key file `file` as one transaction (`6A84` when full).
pub fn append<N: Nvm>(fs: &mut FileSystem<'_, N>, file: &FileEntry, record: &[u8]) -> Result<()> {
    if file.record_count >= file.max_records {
        return Err(Status::NotEnoughMemory);
    }
    fs.store.begin()?;
    match fs.append_record_in_transaction(file, record) {
        Ok(_) => Ok(fs.store.commit()?),
        Err(e) => {
            fs.store.abort();
            Err(e)
        }
    }
}

/// Replaces the value of the key `found` as one transaction.
pub fn replace_value<N: Nvm>(
    fs: &mut FileSystem<'_, N>,
    found: &Found,
    value: &[u8],
) -> Result<()> {
    use sscard_core::nvm::Transactional;
    let at = found.at + RECORD_HEAD_LEN;
    fs.store.atomic(|s| s.write(at, value))?;
    Ok(())
}
