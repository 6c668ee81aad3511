//! Card images: a card's persistent state in a file, saved atomically after every
//! command that changed it.
//!
//! # Format (version 2)
//!
//! All integers big-endian.
//!
//! ```text
//! offset  size  field
//!      0     8  magic 89 53 53 43 49 4D 47 0A ("\x89SSCIMG\n": the high byte and the
//!               newline catch 7-bit and line-ending mangling, as PNG's signature does)
//!      8     2  format version (2)
//!     10     2  M = metadata length
//!     12     4  B = body length
//!     16     4  CRC-32 (ISO-HDLC) of the body
//!     20     4  CRC-32 of bytes 0..20 followed by the metadata
//!     24     M  metadata: simple-TLV entries (tag, length, value), see [`meta`]
//!   24+M     B  body: the card's NVM, byte for byte
//! ```
//!
//! The file is exactly `24 + M + B` bytes. Metadata says where the card came from
//! (profile name and SM3 digest of its TOML, ATR) and, for a PSAM, what kind of card it
//! is ([`CardKind`], tag [`meta::KIND`]: a PSAM image is never served as a user card,
//! nor a user card's as a PSAM). The spec choices the card was made
//! with ([`CosOptions`], [`SscOptions`]) are in the body, in the card's own options
//! record ([`StoredOptions`]), so the body alone is a complete card (`sscard image
//! export-nvm`). Version 1 kept them in the metadata (tag [`meta::OPTIONS`]); a
//! version-1 image still loads, its options move into the body and its next save is
//! version 2. Readers skip metadata tags they do not know, so later versions can add
//! tags without a version bump; a version bump is for changes older readers must not
//! misread, and every later version keeps loading the earlier ones (snapshot test
//! `tests/image_compat.rs`).
//!
//! # Durability
//!
//! [`ImageFile::save`] writes a temporary file in the same directory, fsyncs it, renames
//! it over the image and fsyncs the directory: after a crash the file holds either the
//! old or the new image, never a mix. The virtual card saves *before* it answers, so an
//! acknowledged command is on disk.
//!
//! # One process at a time
//!
//! A process that serves an image holds its exclusive advisory lock
//! ([`crate::image_lock`]); a second one is refused at start with the holder's PID.
//!
//! # Refusals
//!
//! A file that is not an image, is truncated, fails a CRC, was written by a newer
//! format, or whose body is not a card is refused with a message saying which, and is
//! never written to.

use crate::image_lock::{ImageLock, LockError};
use sscard_core::CosOptions;
use sscard_core::options::StoredOptions;
use sscard_host::annotate::hex;
use sscard_host::profile::Profile;
use sscard_psam::Psam;
use sscard_ssc::options::SscOptions;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The image signature.
pub const MAGIC: [u8; 8] = *b"\x89SSCIMG\n";
/// The format version this build writes.
pub const FORMAT_VERSION: u16 = 2;
/// Length of the fixed header, before the metadata.
pub const FIXED_HEADER_LEN: usize = 24;
/// Largest body accepted (the profile limit on NVM size).
pub const MAX_BODY_LEN: usize = 4 * 1024 * 1024;

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// Metadata tags.
pub mod meta {
    /// Profile label (UTF-8), e.g. `gen3-default`.
    pub const PROFILE_LABEL: u8 = 0x01;
    /// SM3 digest of the profile's TOML text (32 bytes).
    pub const PROFILE_DIGEST: u8 = 0x02;
    /// Contact ATR as personalized.
    pub const ATR: u8 = 0x03;
    /// Version 1 only (version 2 keeps them in the body): spec choices, le_zero (0
    /// exact, 1 lenient), t0_get_response, fcp_as_fci, read_binary_le_exact (0/1 each),
    /// then optionally the purse's load and purchase transaction-type bytes and the PKI
    /// key-policy byte (absent: the defaults).
    pub const OPTIONS: u8 = 0x04;
    /// Version of the sscard that created the image (UTF-8).
    pub const CREATED_BY: u8 = 0x05;
    /// What card the body is, one byte: `02` a PSAM. Absent (or `01`): a user card, as
    /// in every image written before the tag; it is written only for other kinds, so a
    /// user card's image is the same bytes as before. Another value is refused: a later
    /// kind must not be served as one of these.
    pub const KIND: u8 = 0x06;
}

/// What kind of card an image holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CardKind {
    /// The user card: the social-security applications (and PBOC behind the firewall).
    #[default]
    User,
    /// A social-security PSAM (LD/T 32 part 9, `sscard_psam`).
    Psam,
}

impl CardKind {
    fn code(self) -> u8 {
        match self {
            CardKind::User => 0x01,
            CardKind::Psam => 0x02,
        }
    }

    fn from_code(value: &[u8]) -> Result<Self, ImageError> {
        match value {
            [0x01] => Ok(CardKind::User),
            [0x02] => Ok(CardKind::Psam),
            _ => Err(ImageError::Corrupt("unknown card kind")),
        }
    }
}

impl fmt::Display for CardKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CardKind::User => "a user card",
            CardKind::Psam => "a PSAM",
        })
    }
}

/// Where an image came from and how its card behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageMeta {
    /// Profile label.
    pub profile_label: String,
    /// SM3 digest of the profile's TOML text.
    pub profile_digest: [u8; 32],
    /// Contact ATR.
    pub atr: Vec<u8>,
    /// Spec choices of the card OS.
    pub options: CosOptions,
    /// Spec choices of the social-security applications (a PSAM image: the defaults,
    /// unused; the PSAM's own choices are in its body, read by `Psam::from_stored`).
    pub ssc_options: SscOptions,
    /// sscard version that created the image.
    pub created_by: String,
    /// The kind of card the body is.
    pub kind: CardKind,
}

impl ImageMeta {
    /// Metadata of a card personalized from `profile`.
    pub fn from_profile(profile: &Profile) -> Self {
        ImageMeta {
            profile_label: profile.label().to_string(),
            profile_digest: profile.digest(),
            atr: profile.atr().to_vec(),
            options: profile.options(),
            ssc_options: profile.ssc_options(),
            created_by: format!("sscard {}", env!("CARGO_PKG_VERSION")),
            kind: CardKind::User,
        }
    }

    /// Metadata of the PSAM personalized from `profile`'s `[psam]` into `body`: the
    /// ATR and the OS's choices are the ones the body holds.
    pub fn psam_from_profile(profile: &Profile, body: &[u8]) -> Result<Self, ImageError> {
        let nvm = sscard_core::nvm::RamNvm::new(body.to_vec());
        let stored = StoredOptions::read(&nvm)
            .map_err(|e| ImageError::NotACard(e.to_string()))?
            .ok_or(ImageError::Corrupt("no options record in the body"))?;
        let mut card = sscard_core::Card::load(
            nvm,
            sscard_core::rng::SplitMixRng::new(0),
            (),
            (),
            stored.cos,
        )
        .map_err(|e| ImageError::NotACard(e.to_string()))?;
        let atr = card
            .power_on(sscard_core::Interface::Contact)
            .map_err(|e| ImageError::NotACard(e.to_string()))?
            .to_vec();
        Ok(ImageMeta {
            atr,
            options: stored.cos,
            ssc_options: SscOptions::default(),
            kind: CardKind::Psam,
            ..ImageMeta::from_profile(profile)
        })
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let kind = [self.kind.code()];
        let kind_entry = (self.kind != CardKind::User).then_some((meta::KIND, &kind[..]));
        for (tag, value) in [
            (meta::PROFILE_LABEL, self.profile_label.as_bytes()),
            (meta::PROFILE_DIGEST, &self.profile_digest[..]),
            (meta::ATR, &self.atr[..]),
            (meta::CREATED_BY, self.created_by.as_bytes()),
        ]
        .into_iter()
        .chain(kind_entry)
        {
            // Values are short by construction; cap at 255 so the length byte is right.
            let value = value.get(..value.len().min(255)).unwrap_or(&[]);
            out.push(tag);
            out.push(value.len() as u8);
            out.extend_from_slice(value);
        }
        out
    }

    /// Reads the metadata; the options come from the body's record (`stored`, given the
    /// kind of card the metadata names) when it has one, else from the metadata
    /// (version-1 images).
    fn decode(
        mut bytes: &[u8],
        stored: impl FnOnce(CardKind) -> Result<Option<(CosOptions, SscOptions)>, ImageError>,
    ) -> Result<Self, ImageError> {
        let mut kind = CardKind::User;
        let mut label = None;
        let mut digest = None;
        let mut atr = None;
        let mut options = None;
        let mut created_by = String::new();
        while let [tag, len, rest @ ..] = bytes {
            let len = usize::from(*len);
            let value = rest
                .get(..len)
                .ok_or(ImageError::Corrupt("metadata overruns"))?;
            match *tag {
                meta::PROFILE_LABEL => label = Some(String::from_utf8_lossy(value).into_owned()),
                meta::PROFILE_DIGEST => digest = <[u8; 32]>::try_from(value).ok(),
                meta::ATR => atr = Some(value.to_vec()),
                meta::OPTIONS => options = decode_options(value),
                meta::CREATED_BY => created_by = String::from_utf8_lossy(value).into_owned(),
                meta::KIND => kind = CardKind::from_code(value)?,
                _ => {} // a later version's tag: not needed to run the card
            }
            bytes = rest.get(len..).unwrap_or(&[]);
        }
        if !bytes.is_empty() {
            return Err(ImageError::Corrupt("metadata truncated"));
        }
        let (options, ssc_options) = stored(kind)?
            .or(options)
            .ok_or(ImageError::Corrupt("no options"))?;
        Ok(ImageMeta {
            profile_label: label.ok_or(ImageError::Corrupt("no profile label"))?,
            profile_digest: digest.ok_or(ImageError::Corrupt("no profile digest"))?,
            atr: atr.ok_or(ImageError::Corrupt("no ATR"))?,
            options,
            ssc_options,
            created_by,
            kind,
        })
    }
}

fn decode_options(v: &[u8]) -> Option<(CosOptions, SscOptions)> {
    let cos = CosOptions::decode(v)?;
    let ssc = SscOptions::decode(v.get(CosOptions::ENCODED_LEN..).unwrap_or(&[]))?;
    Some((cos, ssc))
}

/// Why an image file cannot be used.
#[derive(Debug)]
pub enum ImageError {
    /// Reading, writing or syncing failed.
    Io(std::io::Error),
    /// The file does not start with the image signature.
    NotAnImage,
    /// Written by a newer format than this build reads.
    NewerVersion(u16),
    /// Shorter or longer than its header says.
    Truncated {
        /// Bytes the header announces.
        expected: usize,
        /// Bytes in the file.
        actual: usize,
    },
    /// A CRC or a structure check failed.
    Corrupt(&'static str),
    /// The body is not a card the core can load.
    NotACard(String),
    /// Another process serves the image.
    Locked(LockError),
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::Io(e) => write!(f, "{e}"),
            ImageError::NotAnImage => f.write_str("not an sscard card image (no image signature)"),
            ImageError::NewerVersion(v) => write!(
                f,
                "image format version {v} was written by a newer sscard (this one reads up to {FORMAT_VERSION})"
            ),
            ImageError::Truncated { expected, actual } => write!(
                f,
                "image is {actual} bytes but its header says {expected} (truncated or extended)"
            ),
            ImageError::Corrupt(what) => write!(f, "image corrupt: {what}"),
            ImageError::NotACard(why) => write!(f, "image body is not a card: {why}"),
            ImageError::Locked(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ImageError {}

impl From<std::io::Error> for ImageError {
    fn from(e: std::io::Error) -> Self {
        ImageError::Io(e)
    }
}

/// Why [`ImageFile::open_or_create`] could not give a card; the file is left as it was.
#[derive(Debug)]
pub struct OpenError {
    /// The image file.
    pub path: PathBuf,
    /// What went wrong.
    pub cause: OpenCause,
}

/// The cause of an [`OpenError`].
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenCause {
    /// Another process holds the image (or the lock file cannot be made).
    Lock(LockError),
    /// The file exists but is not a usable image.
    Load(ImageError),
    /// The image holds another kind of card than the one to serve (a PSAM's image given
    /// for the user card, or the other way round).
    OtherKind {
        /// What the image holds.
        image: CardKind,
        /// What was to be served.
        wanted: CardKind,
    },
    /// The image was made from another profile than the one given.
    OtherProfile {
        /// The label of the image's profile.
        image: String,
        /// The label of the given profile.
        given: String,
    },
    /// The profile cannot personalize a card.
    Profile(sscard_host::profile::ProfileError),
    /// A new image could not be written.
    Create(ImageError),
    /// The file cannot be looked at.
    Stat(std::io::Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.path.display();
        match &self.cause {
            OpenCause::Lock(e) => write!(f, "{e}"),
            OpenCause::Load(e) => write!(f, "image {shown}: {e}; not modified"),
            OpenCause::OtherKind { image, wanted } => write!(
                f,
                "image {shown} holds {image}, not {wanted}; give another --image for it"
            ),
            OpenCause::OtherProfile { image, given } => write!(
                f,
                "image {shown} holds a card made from profile '{image}', not from the given \
                 profile '{given}'; drop --profile to use the image, or give another --image"
            ),
            OpenCause::Profile(e) => write!(f, "{e}"),
            OpenCause::Create(e) => write!(f, "cannot create image {shown}: {e}"),
            OpenCause::Stat(e) => write!(f, "image {shown}: {e}"),
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.cause {
            OpenCause::Lock(e) => Some(e),
            OpenCause::Load(e) | OpenCause::Create(e) => Some(e),
            OpenCause::Profile(e) => Some(e),
            OpenCause::Stat(e) => Some(e),
            OpenCause::OtherProfile { .. } | OpenCause::OtherKind { .. } => None,
        }
    }
}

/// Encodes an image: header, metadata, body.
pub fn encode(meta: &ImageMeta, body: &[u8]) -> Vec<u8> {
    let m = meta.encode();
    let mut out = Vec::with_capacity(FIXED_HEADER_LEN + m.len() + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    out.extend_from_slice(&(m.len() as u16).to_be_bytes());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&CRC32.checksum(body).to_be_bytes());
    let mut digest = CRC32.digest();
    digest.update(&out);
    digest.update(&m);
    out.extend_from_slice(&digest.finalize().to_be_bytes());
    out.extend_from_slice(&m);
    out.extend_from_slice(body);
    out
}

fn be16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .and_then(|s| <[u8; 2]>::try_from(s).ok())
        .map_or(0, u16::from_be_bytes)
}

fn be32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map_or(0, u32::from_be_bytes)
}

/// Decodes and checks an image: signature, version, lengths, both CRCs, metadata, and
/// that the body loads as a card. Returns the metadata and the body.
pub fn decode(bytes: &[u8]) -> Result<(ImageMeta, Vec<u8>), ImageError> {
    if bytes.get(..MAGIC.len()) != Some(&MAGIC[..]) {
        return Err(ImageError::NotAnImage);
    }
    let fixed = bytes.get(..FIXED_HEADER_LEN).ok_or(ImageError::Truncated {
        expected: FIXED_HEADER_LEN,
        actual: bytes.len(),
    })?;
    let version = be16(fixed, 8);
    if version > FORMAT_VERSION {
        return Err(ImageError::NewerVersion(version));
    }
    if version == 0 {
        return Err(ImageError::Corrupt("format version 0"));
    }
    let meta_len = usize::from(be16(fixed, 10));
    let body_len = be32(fixed, 12) as usize;
    if body_len > MAX_BODY_LEN {
        return Err(ImageError::Corrupt("body length beyond 4 MiB"));
    }
    let expected = FIXED_HEADER_LEN + meta_len + body_len;
    if bytes.len() != expected {
        return Err(ImageError::Truncated {
            expected,
            actual: bytes.len(),
        });
    }
    let meta_bytes = bytes
        .get(FIXED_HEADER_LEN..FIXED_HEADER_LEN + meta_len)
        .unwrap_or(&[]);
    let mut digest = CRC32.digest();
    digest.update(fixed.get(..20).unwrap_or(&[]));
    digest.update(meta_bytes);
    if digest.finalize() != be32(fixed, 20) {
        return Err(ImageError::Corrupt("header CRC mismatch"));
    }
    let body = bytes.get(FIXED_HEADER_LEN + meta_len..).unwrap_or(&[]);
    if CRC32.checksum(body) != be32(fixed, 16) {
        return Err(ImageError::Corrupt("body CRC mismatch"));
    }
    // The body must be a card this build can run.
    let mut nvm = sscard_core::nvm::RamNvm::new(body.to_vec());
    sscard_core::fs::layout::Header::load(&nvm).map_err(|e| ImageError::NotACard(e.to_string()))?;
    let stored = StoredOptions::read(&nvm).map_err(|e| ImageError::NotACard(e.to_string()))?;
    let meta = ImageMeta::decode(meta_bytes, |kind| {
        body_options(kind, stored.as_ref(), version)
    })?;
    if stored.is_none() {
        // A version-1 image: its options move into the body, where the card (and the
        // next save, in version 2) keeps them.
        sscard_ssc::options::store(&mut nvm, &meta.options, &meta.ssc_options)
            .map_err(|e| ImageError::NotACard(e.to_string()))?;
    }
    Ok((meta, nvm.into_inner()))
}

/// The options the body's record holds, as the application of a `kind` card reads them;
/// `None` for a version-1 user card, whose options are in its metadata.
fn body_options(
    kind: CardKind,
    stored: Option<&StoredOptions>,
    version: u16,
) -> Result<Option<(CosOptions, SscOptions)>, ImageError> {
    match (kind, stored) {
        (CardKind::User, Some(record)) => Ok(Some((
            record.cos,
            sscard_ssc::SocialSecurity::from_stored(&record.application)
                .map(|app| *app.options())
                .ok_or(ImageError::Corrupt("the stored application options"))?,
        ))),
        (CardKind::Psam, Some(record)) => {
            Psam::from_stored(&record.application)
                .ok_or(ImageError::Corrupt("the stored PSAM options"))?;
            Ok(Some((record.cos, SscOptions::default())))
        }
        (CardKind::User, None) if version < 2 => Ok(None),
        // PSAM images began with version 2: their options were always in the body.
        (_, None) => Err(ImageError::Corrupt("no options record in the body")),
    }
}

/// An image file on disk.
#[derive(Debug, Clone)]
pub struct ImageFile {
    path: PathBuf,
    meta: ImageMeta,
    /// Held while this process serves or writes the image ([`ImageFile::lock`]).
    lock: Option<Arc<ImageLock>>,
}

/// How [`ImageFile::open_or_create`] got its card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The file existed and was loaded.
    Loaded,
    /// The file did not exist; it was created from the profile.
    Created,
}

impl ImageFile {
    /// Loads the image at `path` and checks it, without locking it (reading is safe
    /// beside a process that serves the image: saves replace the file atomically).
    pub fn load(path: &Path) -> Result<(ImageFile, Vec<u8>), ImageError> {
        let bytes = fs::read(path)?;
        let (meta, body) = decode(&bytes)?;
        Ok((
            ImageFile {
                path: path.to_path_buf(),
                meta,
                lock: None,
            },
            body,
        ))
    }

    /// Takes the image's exclusive lock for as long as this `ImageFile` (or a clone)
    /// lives, unless it is already held: a process serving the image calls this first.
    /// Another process holding it: [`LockError::InUse`] naming the image and the holder.
    pub fn lock(&mut self) -> Result<(), LockError> {
        if self.lock.is_none() {
            self.lock = Some(Arc::new(ImageLock::acquire(&self.path)?));
        }
        Ok(())
    }

    /// Loads the image at `path`, or, when there is no such file, personalizes a card
    /// from `profile` and saves it there. `profile_given`: the user named the profile,
    /// so an existing image made from another profile is refused rather than silently
    /// served in its place. The image holds a user card ([`ImageFile::open_or_create_as`]
    /// for a PSAM).
    pub fn open_or_create(
        path: &Path,
        profile: &Profile,
        profile_given: bool,
    ) -> Result<(ImageFile, Vec<u8>, Origin), OpenError> {
        ImageFile::open_or_create_as(CardKind::User, path, profile, profile_given)
    }

    /// [`ImageFile::open_or_create`] for a card of `kind`: a PSAM is personalized from
    /// the profile's `[psam]` (its defaults without one). An existing image of another
    /// kind is refused.
    pub fn open_or_create_as(
        kind: CardKind,
        path: &Path,
        profile: &Profile,
        profile_given: bool,
    ) -> Result<(ImageFile, Vec<u8>, Origin), OpenError> {
        let failed = |cause| OpenError {
            path: path.to_path_buf(),
            cause,
        };
        // Locked before anything is read, so the card is never loaded from a file that
        // another process is about to overwrite.
        let lock = Arc::new(ImageLock::acquire(path).map_err(|e| failed(OpenCause::Lock(e)))?);
        match fs::metadata(path) {
            Ok(_) => {
                let (mut file, body) =
                    ImageFile::load(path).map_err(|e| failed(OpenCause::Load(e)))?;
                file.lock = Some(lock);
                if file.meta.kind != kind {
                    return Err(failed(OpenCause::OtherKind {
                        image: file.meta.kind,
                        wanted: kind,
                    }));
                }
                if profile_given && file.meta.profile_digest != profile.digest() {
                    return Err(failed(OpenCause::OtherProfile {
                        image: file.meta.profile_label.clone(),
                        given: profile.label().to_string(),
                    }));
                }
                file.remove_stale_temporaries();
                Ok((file, body, Origin::Loaded))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (body, meta) = match kind {
                    CardKind::User => (
                        profile.image().map_err(|e| failed(OpenCause::Profile(e)))?,
                        ImageMeta::from_profile(profile),
                    ),
                    CardKind::Psam => {
                        let psam = profile.psam().map_err(|e| failed(OpenCause::Profile(e)))?;
                        let meta = ImageMeta::psam_from_profile(profile, &psam.image)
                            .map_err(|e| failed(OpenCause::Create(e)))?;
                        (psam.image, meta)
                    }
                };
                let file = ImageFile {
                    path: path.to_path_buf(),
                    meta,
                    lock: Some(lock),
                };
                file.save(&body).map_err(|e| failed(OpenCause::Create(e)))?;
                Ok((file, body, Origin::Created))
            }
            Err(e) => Err(failed(OpenCause::Stat(e))),
        }
    }

    /// Removes temporary files a killed process left beside the image (a kill between
    /// creating the temporary file and the rename). They never hold the image itself.
    fn remove_stale_temporaries(&self) {
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            return;
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let prefix = format!(".{}.tmp-", name.to_string_lossy());
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// The image's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The image's metadata.
    pub fn meta(&self) -> &ImageMeta {
        &self.meta
    }

    /// Writes `body` as the new image, atomically and durably: a temporary file in the
    /// same directory is written and fsynced, renamed over the image, and the directory
    /// is fsynced so the rename itself survives a crash.
    ///
    /// Without the lock held ([`ImageFile::lock`]), the save takes it for its own
    /// duration and refuses when another process serves the image.
    pub fn save(&self, body: &[u8]) -> Result<(), ImageError> {
        let _held_for_this_save = match self.lock {
            Some(_) => None,
            None => Some(ImageLock::acquire(&self.path).map_err(ImageError::Locked)?),
        };
        let bytes = encode(&self.meta, body);
        write_atomically(&self.path, &bytes)?;
        Ok(())
    }
}

/// Writes `bytes` to `path` so that after a crash the file is either the old or the new
/// one: a temporary file beside it, synced, renamed over it, and the directory synced.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
        return written;
    }
    // Persist the directory entry (the rename). Directories open read-only on Unix.
    File::open(&dir)?.sync_all()
}

/// One line about an image: `profile gen3-default (SM3 1A2B…), ATR …, created by …`;
/// a PSAM's starts `PSAM of profile …`.
pub fn describe(meta: &ImageMeta) -> String {
    format!(
        "{}profile '{}' (SM3 {}…), ATR {}, {}",
        match meta.kind {
            CardKind::User => "",
            CardKind::Psam => "PSAM of ",
        },
        meta.profile_label,
        hex(meta.profile_digest.get(..4).unwrap_or(&[])),
        hex(&meta.atr),
        if meta.created_by.is_empty() {
            "creator unknown".to_string()
        } else {
            format!("created by {}", meta.created_by)
        }
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn sample() -> (ImageMeta, Vec<u8>) {
        let profile = Profile::default_gen3();
        (ImageMeta::from_profile(&profile), profile.image().unwrap())
    }

    #[test]
    fn round_trip() {
        let (meta, body) = sample();
        let bytes = encode(&meta, &body);
        let (m, b) = decode(&bytes).unwrap();
        assert_eq!(m, meta);
        assert_eq!(b, body);
    }

    #[test]
    fn every_single_byte_corruption_is_refused() {
        let (meta, body) = sample();
        let bytes = encode(&meta, &body);
        // Every header and metadata byte, and a spread of body bytes.
        let positions = (0..FIXED_HEADER_LEN + 80).chain((100..bytes.len()).step_by(997));
        for at in positions {
            let mut bad = bytes.clone();
            bad[at] ^= 0x01;
            assert!(decode(&bad).is_err(), "flip at {at} accepted");
        }
    }

    #[test]
    fn truncation_and_extension_are_refused() {
        let (meta, body) = sample();
        let bytes = encode(&meta, &body);
        for len in [0, 7, 8, 23, 24, 60, bytes.len() - 1] {
            assert!(
                decode(&bytes[..len]).is_err(),
                "truncated to {len} accepted"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(decode(&longer), Err(ImageError::Truncated { .. })));
    }

    #[test]
    fn newer_version_is_refused_by_name() {
        let (meta, body) = sample();
        let mut bytes = encode(&meta, &body);
        bytes[9] = 3;
        assert!(matches!(decode(&bytes), Err(ImageError::NewerVersion(3))));
    }

    #[test]
    fn unknown_metadata_tags_are_skipped() {
        let (meta, body) = sample();
        let mut m = meta.encode();
        m.extend_from_slice(&[0x7E, 3, 1, 2, 3]);
        // Rebuild by hand with the extra tag, as a later version would write it.
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&(m.len() as u16).to_be_bytes());
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(&CRC32.checksum(&body).to_be_bytes());
        let mut d = CRC32.digest();
        d.update(&out);
        d.update(&m);
        out.extend_from_slice(&d.finalize().to_be_bytes());
        out.extend_from_slice(&m);
        out.extend_from_slice(&body);
        assert_eq!(decode(&out).unwrap().0, meta);
    }

    #[test]
    fn body_that_is_not_a_card_is_refused() {
        let (meta, _) = sample();
        let bytes = encode(&meta, &[0u8; 4096]);
        assert!(matches!(decode(&bytes), Err(ImageError::NotACard(_))));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod psam_image_tests {
    use super::*;

    fn psam_sample() -> (ImageMeta, Vec<u8>) {
        let profile = Profile::default_gen3();
        let body = profile.psam().unwrap().image;
        (ImageMeta::psam_from_profile(&profile, &body).unwrap(), body)
    }

    #[test]
    fn a_psam_image_round_trips_and_says_what_it_holds() {
        let (meta, body) = psam_sample();
        assert_eq!(meta.kind, CardKind::Psam);
        let bytes = encode(&meta, &body);
        let (m, b) = decode(&bytes).unwrap();
        assert_eq!((m, b), (meta.clone(), body));
        assert!(describe(&meta).starts_with("PSAM of profile 'gen3-default'"));
        // A user card's image has no kind tag: the same bytes as before the tag.
        let user = ImageMeta::from_profile(&Profile::default_gen3());
        assert!(!user.encode().windows(3).any(|w| w == [meta::KIND, 1, 1]));
        assert_eq!(meta.encode().last_chunk::<3>(), Some(&[meta::KIND, 1, 2]));
    }

    #[test]
    fn a_body_of_the_other_kind_or_an_unknown_kind_is_refused() {
        let (meta, body) = psam_sample();
        let user_body = Profile::default_gen3().image().unwrap();
        // Metadata that names a PSAM over a user card's body: its options do not read as
        // a PSAM's. (The user card's options take any short record: the tag is the mark.)
        assert!(matches!(
            decode(&encode(&meta, &user_body)),
            Err(ImageError::Corrupt("the stored PSAM options"))
        ));
        let mut later = meta.clone();
        later.kind = CardKind::Psam;
        let mut bytes = encode(&later, &body);
        // The kind byte is the metadata's last; a kind this build does not know.
        let at = FIXED_HEADER_LEN + later.encode().len() - 1;
        bytes[at] = 0x03;
        let mut digest = CRC32.digest();
        digest.update(&bytes[..20]);
        digest.update(&bytes[FIXED_HEADER_LEN..=at]);
        bytes[20..24].copy_from_slice(&digest.finalize().to_be_bytes());
        assert!(matches!(
            decode(&bytes),
            Err(ImageError::Corrupt("unknown card kind"))
        ));
    }
}
