//! The secret table: keys and PINs with their try counters, stored in NVM.
//!
//! Entry layout (48 bytes): kind, owner DF, id, usage, algorithm, version, try limit,
//! tries left (mutable), value length, value (16), flags. A key id follows LD/T 32 P5
//! T14: b8 = 0 for a global (MF/DDF-level) key, 1 for a DF-specific key; b4–b1 = number.
//! Lookups walk from the current DF up to the MF, so a DF's own key shadows an
//! ancestor's key with the same id.

use crate::fs::layout::{FileIndex, Header, MF, SECRET_ENTRY_LEN, read_entry};
use crate::nvm::{Nvm, NvmError, Store};
use zeroize::Zeroize;

/// What a secret is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKind {
    /// A symmetric key.
    Key,
    /// A cardholder PIN (value = the cn bytes VERIFY carries).
    Pin,
}

bitflags::bitflags! {
    /// What a key may be used for: byte 3 of a secret entry, one bit per use, after
    /// the key types of LD/T 32 P6 T3 and P9 App. B TB1 (the card stores the type as
    /// the set of commands the key serves).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct KeyUsage: u8 {
        /// b1: EXTERNAL AUTHENTICATE with this key (UK, RK, PUK, BK…; P5 §6.4).
        const EXTERNAL_AUTH = 0x01;
        /// b2: INTERNAL AUTHENTICATE (IRK; P5 §6.7).
        const INTERNAL_AUTH = 0x02;
        /// b3: secure-messaging MAC and encryption (STK; P4 §8).
        const SECURE_MESSAGING = 0x04;
        /// b4: authority to reload/unblock the PIN (PUK): its external authentication
        /// must precede PIN CHANGE/UNBLOCK (P7 §13).
        const PIN_UNBLOCK = 0x08;
        /// b5: authority for CARD BLOCK (BK, P6 T3 "card-block control").
        const CARD_BLOCK = 0x10;
        /// b6: medical purse load key DLK (P5 §7.7.1).
        const PURSE_LOAD = 0x20;
        /// b7: medical purse purchase key DPK (P5 §7.7.1).
        const PURSE_PURCHASE = 0x40;
        /// b8: medical purse TAC key DTK (and DSK for the starting day, with
        /// EXTERNAL_AUTH; P5 §7.7.1, P7 §15).
        const PURSE_TAC = 0x80;
    }
}

const KIND_KEY: u8 = 1;
const KIND_PIN: u8 = 2;
/// Offset of "tries left" inside an entry.
pub const OFF_TRIES_LEFT: usize = 7;
const OFF_VALUE_LEN: usize = 8;
const OFF_VALUE: usize = 9;
/// Longest secret value.
pub const MAX_SECRET_LEN: usize = 16;

/// What a secret is and what it may do: its entry but for the value and the tries left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecretAttributes {
    /// Key or PIN.
    pub kind: SecretKind,
    /// The DF the secret belongs to.
    pub owner: FileIndex,
    /// Key id / PIN reference.
    pub id: u8,
    /// What the key may be used for.
    pub usage: KeyUsage,
    /// Algorithm identifier (01 DES/3DES, 03 SM4).
    pub algorithm: u8,
    /// Key version.
    pub version: u8,
    /// Try limit (0: unlimited).
    pub try_limit: u8,
}

/// A decoded secret. Its value is wiped when dropped. It reads as its
/// [`SecretAttributes`] (`secret.id`, `secret.version`, …).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    /// Index in the secret table.
    pub index: u16,
    /// Kind, owner, id, usage, algorithm, version and try limit.
    pub attributes: SecretAttributes,
    /// Tries left.
    pub tries_left: u8,
    value_len: u8,
    value: [u8; MAX_SECRET_LEN],
}

impl core::ops::Deref for Secret {
    type Target = SecretAttributes;
    fn deref(&self) -> &SecretAttributes {
        &self.attributes
    }
}

impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Secret")
            .field("index", &self.index)
            .field("kind", &self.kind)
            .field("owner", &self.owner)
            .field("id", &self.id)
            .field("tries_left", &self.tries_left)
            .finish_non_exhaustive()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}

impl Secret {
    /// The secret value (key bytes or PIN cn bytes).
    pub fn value(&self) -> &[u8] {
        self.value.get(..usize::from(self.value_len)).unwrap_or(&[])
    }
    /// True if the try counter has run out.
    pub fn is_blocked(&self) -> bool {
        self.try_limit != 0 && self.tries_left == 0
    }
    /// True if this secret may be used for every use in `uses`.
    pub fn allows(&self, uses: KeyUsage) -> bool {
        self.usage.contains(uses)
    }
    /// The NVM address of this entry's try counter.
    pub fn tries_at(&self, header: &Header) -> Option<usize> {
        header.secret_at(self.index).map(|a| a + OFF_TRIES_LEFT)
    }
}

/// A secret to personalize.
#[derive(Clone, Copy, Debug)]
pub struct SecretSpec<'a> {
    /// Kind, owner, id, usage, algorithm, version and try limit.
    pub attributes: SecretAttributes,
    /// Value (≤ 16 bytes).
    pub value: &'a [u8],
}

impl SecretSpec<'_> {
    /// Encodes the entry with a full try counter; `None` if the value is too long.
    pub fn encode(&self) -> Option<[u8; SECRET_ENTRY_LEN]> {
        if self.value.len() > MAX_SECRET_LEN {
            return None;
        }
        let mut e = [0u8; SECRET_ENTRY_LEN];
        let a = &self.attributes;
        let kind = match a.kind {
            SecretKind::Key => KIND_KEY,
            SecretKind::Pin => KIND_PIN,
        };
        let head = [
            kind,
            a.owner,
            a.id,
            a.usage.bits(),
            a.algorithm,
            a.version,
            a.try_limit,
            a.try_limit,
            self.value.len() as u8,
        ];
        e.get_mut(..head.len())?.copy_from_slice(&head);
        e.get_mut(OFF_VALUE..OFF_VALUE + self.value.len())?
            .copy_from_slice(self.value);
        Some(e)
    }
}

/// Reads the first `L` bytes of secret entry `index` into a buffer that is wiped
/// afterwards, and decodes them with `decode`; `None` for an index past the table.
fn decode_entry<N: Nvm, T, const L: usize>(
    store: &Store<N>,
    header: &Header,
    index: u16,
    decode: impl FnOnce(&[u8; L]) -> Option<T>,
) -> Result<Option<T>, NvmError> {
    let Some(at) = header.secret_at(index) else {
        return Ok(None);
    };
    let mut entry = [0u8; L];
    store.read(at, &mut entry)?;
    let decoded = decode(&entry);
    entry.zeroize();
    Ok(decoded)
}

/// Reads secret `index`; `None` for a free or malformed slot.
pub fn read_secret<N: Nvm>(
    store: &Store<N>,
    header: &Header,
    index: u16,
) -> Result<Option<Secret>, NvmError> {
    decode_entry(store, header, index, |e: &[u8; SECRET_ENTRY_LEN]| {
        let SecretHead {
            kind, value_len, ..
        } = secret_head(e)?;
        let mut value = [0u8; MAX_SECRET_LEN];
        value.copy_from_slice(
            e.get(OFF_VALUE..OFF_VALUE + MAX_SECRET_LEN)
                .unwrap_or(&[0; 16]),
        );
        Some(Secret {
            index,
            attributes: SecretAttributes {
                kind,
                owner: e[1],
                id: e[2],
                usage: KeyUsage::from_bits_retain(e[3]),
                algorithm: e[4],
                version: e[5],
                try_limit: e[6],
            },
            tries_left: e[OFF_TRIES_LEFT],
            value_len,
            value,
        })
    })
}

/// The fixed head of a secret entry: enough to decide whether an entry is the one
/// sought, without copying (and wiping) its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecretHead {
    /// Key or PIN.
    pub kind: SecretKind,
    /// The DF the secret belongs to.
    pub owner: FileIndex,
    /// Key id / PIN reference.
    pub id: u8,
    /// Length of the value.
    pub value_len: u8,
}

/// Reads the head of secret `index`; `None` for a free or malformed slot (the slots
/// [`read_secret`] refuses).
pub fn peek_secret<N: Nvm>(
    store: &Store<N>,
    header: &Header,
    index: u16,
) -> Result<Option<SecretHead>, NvmError> {
    decode_entry::<N, _, OFF_VALUE>(store, header, index, |head| secret_head(head))
}

/// The head of a secret-table entry from its first bytes; `None` for a free or
/// malformed entry.
fn secret_head(entry: &[u8]) -> Option<SecretHead> {
    let kind = match *entry.first()? {
        KIND_KEY => SecretKind::Key,
        KIND_PIN => SecretKind::Pin,
        _ => return None,
    };
    let value_len = *entry.get(OFF_VALUE_LEN)?;
    if usize::from(value_len) > MAX_SECRET_LEN {
        return None;
    }
    Some(SecretHead {
        kind,
        owner: *entry.get(1)?,
        id: *entry.get(2)?,
        value_len,
    })
}

/// Calls `f` with the head of every secret in the table, in table order, reading the
/// table a few entries at a time (one NVM read per chunk rather than per entry: what
/// power-on pays for [`AuthContext::refresh_pin_absence`](super::AuthContext)).
pub fn for_each_secret_head<N: Nvm>(
    store: &Store<N>,
    header: &Header,
    mut f: impl FnMut(SecretHead),
) -> Result<(), NvmError> {
    const CHUNK: usize = 8;
    let mut chunk = [0u8; SECRET_ENTRY_LEN * CHUNK];
    let used = usize::from(header.secrets_used);
    let mut first = 0usize;
    while first < used {
        let n = (used - first).min(CHUNK);
        let at = header.secrets_at as usize + first * SECRET_ENTRY_LEN;
        let buf = chunk
            .get_mut(..n * SECRET_ENTRY_LEN)
            .ok_or(NvmError::OutOfRange)?;
        store.read(at, buf)?;
        buf.chunks_exact(SECRET_ENTRY_LEN)
            .filter_map(secret_head)
            .for_each(&mut f);
        first += n;
    }
    Ok(())
}

/// Which DFs' secrets a lookup sees.
#[derive(Clone, Copy)]
enum Scope {
    /// Only the DF's own (a DF-specific key id).
    Own(FileIndex),
    /// The DF's own, then each ancestor's up to the MF.
    Inherited(FileIndex),
}

/// Walks the DFs of `scope`, nearest first, returning the first secret owned by the DF
/// being visited that passes `pick`.
fn walk<N: Nvm>(
    store: &Store<N>,
    header: &Header,
    scope: Scope,
    mut pick: impl FnMut(&Secret) -> bool,
) -> Result<Option<Secret>, NvmError> {
    let (mut df, only_from) = match scope {
        Scope::Own(df) => (df, true),
        Scope::Inherited(df) => (df, false),
    };
    for _ in 0..=header.files_used {
        for i in 0..header.secrets_used {
            // Only an entry of the DF being visited is decoded in full.
            if peek_secret(store, header, i)?.is_some_and(|h| h.owner == df)
                && let Some(s) = read_secret(store, header, i)?
                && pick(&s)
            {
                return Ok(Some(s));
            }
        }
        if df == MF || only_from {
            break;
        }
        df = match read_entry(store, header, df)? {
            Some(e) => e.parent,
            None => break,
        };
    }
    Ok(None)
}

/// Finds the secret of `kind` and `id` visible from DF `from`: the DF's own first, then
/// its ancestors up to the MF (a DF-specific key id, b8 = 1, is only looked up in `from`).
/// `pick` filters candidates (usage, version).
pub fn find_secret<N: Nvm>(
    store: &Store<N>,
    header: &Header,
    from: FileIndex,
    kind: SecretKind,
    id: u8,
    mut pick: impl FnMut(&Secret) -> bool,
) -> Result<Option<Secret>, NvmError> {
    let scope = if kind == SecretKind::Key && id & 0x80 != 0 {
        Scope::Own(from)
    } else {
        Scope::Inherited(from)
    };
    walk(store, header, scope, |s| {
        s.kind == kind && s.id == id && pick(s)
    })
}

/// Finds the first key visible from `from` (same walk) that has usage `bits` and passes
/// `pick`.
pub fn find_by_usage<N: Nvm>(
    store: &Store<N>,
    header: &Header,
    from: FileIndex,
    bits: KeyUsage,
    mut pick: impl FnMut(&Secret) -> bool,
) -> Result<Option<Secret>, NvmError> {
    walk(store, header, Scope::Inherited(from), |s| {
        s.kind == SecretKind::Key && s.allows(bits) && pick(s)
    })
}
