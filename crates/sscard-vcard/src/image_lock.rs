//! The advisory lock that keeps two processes from serving one card image.
//!
//! Two processes that both load an image and both save after every command would each
//! overwrite the other's acknowledged writes. So a process that serves an image, or a
//! command that writes one, first takes an exclusive `flock` on a lock file beside it:
//! `.<image name>.lock`. The image itself cannot carry the lock, because every save
//! renames a new file over it. The lock belongs to the open file, so the kernel drops it
//! when the holder exits, however it exits: a killed process never leaves a stale lock.
//! The file's content (holder PID and command) is only for the refusal message.

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// An exclusive lock on one image, held until dropped.
#[derive(Debug)]
pub struct ImageLock {
    /// Kept open: closing the file releases the lock.
    _file: File,
    path: PathBuf,
}

/// Why an image could not be locked.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds the lock.
    InUse {
        /// The image.
        image: PathBuf,
        /// What the holder wrote into the lock file (PID and command), if readable.
        holder: String,
    },
    /// The lock file could not be opened or locked.
    Io {
        /// The lock file.
        lock: PathBuf,
        /// The failure.
        error: std::io::Error,
    },
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::InUse { image, holder } if holder.is_empty() => write!(
                f,
                "image {} is in use by another process; not modified",
                image.display()
            ),
            LockError::InUse { image, holder } => write!(
                f,
                "image {} is in use by {holder}; not modified",
                image.display()
            ),
            LockError::Io { lock, error } => {
                write!(f, "cannot lock {}: {error}", lock.display())
            }
        }
    }
}

impl std::error::Error for LockError {}

/// The lock file of `image`: `.<name>.lock` in the same directory.
pub fn lock_path(image: &Path) -> PathBuf {
    let name = image
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    image.with_file_name(format!(".{name}.lock"))
}

impl ImageLock {
    /// Takes the exclusive lock of `image` without waiting: [`LockError::InUse`] naming
    /// the holder when another process has it.
    pub fn acquire(image: &Path) -> Result<ImageLock, LockError> {
        let path = lock_path(image);
        let io = |error| LockError::Io {
            lock: path.clone(),
            error,
        };
        // Never truncated on open: the holder's note must survive a failed attempt.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                // The holder may not have written its note yet: an empty note is fine.
                let _ = file.read_to_string(&mut holder);
                return Err(LockError::InUse {
                    image: image.to_path_buf(),
                    holder: holder.trim().to_owned(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let note = format!("process {} ({})", std::process::id(), command_line());
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(note.as_bytes()).map_err(io)?;
        Ok(ImageLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// This process's command, as the refusal message shows it: `sscard run --image x.img`.
fn command_line() -> String {
    let mut args = std::env::args();
    let program = args
        .next()
        .map(|p| {
            Path::new(&p)
                .file_name()
                .map_or(p.clone(), |n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let words: Vec<String> = std::iter::once(program).chain(args.take(8)).collect();
    words.join(" ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_freed_on_drop() {
        let dir = std::env::temp_dir().join(format!("sscard-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let image = dir.join("card.img");
        let first = ImageLock::acquire(&image).unwrap();
        // flock conflicts between two open files even inside one process.
        let err = ImageLock::acquire(&image).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("card.img"), "{text}");
        assert!(
            text.contains(&format!("process {}", std::process::id())),
            "{text}"
        );
        drop(first);
        let again = ImageLock::acquire(&image).unwrap();
        assert_eq!(again.path(), lock_path(&image));
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
