//! Durable blob files for object bytes (S3 objects and parts).
//!
//! Object bytes never go into SQLite. Each blob is one file under
//! `<dir>/ab/cd/<id>` (the first four characters of the id fan the files out).
//! A blob is written to a temporary file in `<dir>/tmp/`, synced
//! (`fdatasync`), renamed into place and its directory synced, and only then
//! may the metadata row that references it be committed — so an answered PUT
//! is always backed by durable bytes, and a crash at any point leaves at worst
//! an unreferenced file, which [`BlobStore::sweep`] removes at start-up.
//!
//! Ids from [`BlobStore::new_id`] share one fan-out directory for a run of
//! [`DIR_RUN`] blobs: the directory is created (and made durable) once, so
//! a PUT pays no `mkdir` and no extra directory syncs.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::StoreError;

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Blobs placed in one fan-out directory before [`BlobStore::new_id`]
/// moves on to another.
pub const DIR_RUN: u32 = 4096;

/// A directory of immutable blob files.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
    /// The fan-out prefix new ids get (its directory exists and is
    /// durable) and how many ids it has given.
    current: Arc<Mutex<Option<(String, u32)>>>,
}

/// Whether `id` is a safe blob id: at least 4 characters of `[0-9a-zA-Z_-]`.
fn valid_id(id: &str) -> bool {
    id.len() >= 4
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn bad_id(id: &str) -> StoreError {
    StoreError::Io(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("invalid blob id {id:?}"),
    ))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl BlobStore {
    /// Opens (creating if needed) a blob directory.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(dir.join("tmp"))?;
        Ok(BlobStore {
            dir: dir.to_path_buf(),
            current: Arc::new(Mutex::new(None)),
        })
    }

    /// A new blob id made from `random` (at least 8 characters of
    /// `[0-9a-zA-Z_-]`, e.g. 32 random hex digits): its first four
    /// characters are replaced by the current fan-out prefix, whose
    /// directory already exists and is durable; every [`DIR_RUN`] ids a new
    /// prefix is taken from `random` and its directory created and synced.
    pub fn new_id(&self, random: &str) -> Result<String, StoreError> {
        if random.len() < 8 || !valid_id(random) {
            return Err(bad_id(random));
        }
        let rest = random.get(4..).ok_or_else(|| bad_id(random))?;
        let mut cur = self.current.lock().map_err(|_| StoreError::Poisoned)?;
        if let Some((prefix, n)) = cur.as_mut() {
            if *n < DIR_RUN {
                *n += 1;
                return Ok(format!("{prefix}{rest}"));
            }
        }
        let prefix = random.get(..4).ok_or_else(|| bad_id(random))?;
        self.ensure_fan_out(prefix)?;
        *cur = Some((prefix.to_string(), 1));
        Ok(random.to_string())
    }

    /// Creates the fan-out directories of `prefix` and makes their entries
    /// durable.
    fn ensure_fan_out(&self, prefix: &str) -> Result<(), StoreError> {
        let (a, b) = (
            prefix.get(0..2).ok_or_else(|| bad_id(prefix))?,
            prefix.get(2..4).ok_or_else(|| bad_id(prefix))?,
        );
        let leaf = self.dir.join(a).join(b);
        if leaf.is_dir() {
            return Ok(());
        }
        fs::create_dir_all(&leaf)?;
        sync_dir(&self.dir.join(a))?;
        sync_dir(&self.dir)?;
        Ok(())
    }

    /// The directory this store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The final path of blob `id`.
    pub fn path(&self, id: &str) -> Result<PathBuf, StoreError> {
        if !valid_id(id) {
            return Err(bad_id(id));
        }
        let (a, b) = (id.get(0..2).unwrap_or("00"), id.get(2..4).unwrap_or("00"));
        Ok(self.dir.join(a).join(b).join(id))
    }

    /// Starts a new blob: a temporary file deleted on drop unless finished.
    pub fn begin(&self) -> Result<BlobWriter, StoreError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}-{nanos:x}-{n:x}", std::process::id());
        let path = self.dir.join("tmp").join(name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(BlobWriter {
            store: self.clone(),
            file: Some(file),
            tmp: path,
            written: 0,
            committed: false,
        })
    }

    /// Opens blob `id` for reading.
    pub fn open_blob(&self, id: &str) -> Result<File, StoreError> {
        Ok(File::open(self.path(id)?)?)
    }

    /// Removes blob `id`; a missing blob is not an error.
    pub fn remove(&self, id: &str) -> Result<(), StoreError> {
        match fs::remove_file(self.path(id)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes every temporary file and every blob for which `keep` answers
    /// false. Returns how many files were deleted. Run at start-up, before
    /// any writer starts: a blob written but not yet referenced by a
    /// committed row would otherwise be swept.
    pub fn sweep(&self, keep: impl Fn(&str) -> bool) -> Result<usize, StoreError> {
        let mut removed = 0;
        for entry in fs::read_dir(self.dir.join("tmp"))? {
            fs::remove_file(entry?.path())?;
            removed += 1;
        }
        for a in fs::read_dir(&self.dir)? {
            let a = a?;
            if a.file_name() == "tmp" || !a.file_type()?.is_dir() {
                continue;
            }
            for b in fs::read_dir(a.path())? {
                let b = b?;
                if !b.file_type()?.is_dir() {
                    continue;
                }
                for f in fs::read_dir(b.path())? {
                    let f = f?;
                    let name = f.file_name();
                    let name = name.to_string_lossy();
                    if !keep(&name) {
                        fs::remove_file(f.path())?;
                        removed += 1;
                    }
                }
            }
        }
        Ok(removed)
    }
}

/// A blob being written. Dropping it without [`BlobWriter::finish`] deletes
/// the temporary file.
#[derive(Debug)]
pub struct BlobWriter {
    store: BlobStore,
    file: Option<File>,
    tmp: PathBuf,
    written: u64,
    committed: bool,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("blob writer closed"))?;
        let n = file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Makes the blob durable as `id`: fdatasync, rename into place, fsync
    /// the directory. Returns its length.
    pub fn finish(mut self, id: &str) -> Result<u64, StoreError> {
        let dest = self.store.path(id)?;
        let file = self
            .file
            .take()
            .ok_or_else(|| StoreError::Io(io::Error::other("blob writer closed")))?;
        file.sync_data()?;
        drop(file);
        let parent = dest.parent().ok_or_else(|| bad_id(id))?;
        // The fan-out directory almost always exists: rename first and
        // create it only when the rename says it is missing (a `mkdir` per
        // blob costs more than the rename itself).
        match fs::rename(&self.tmp, &dest) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(parent)?;
                // The new fan-out directories' own entries must be durable too.
                if let Some(up) = parent.parent() {
                    sync_dir(up)?;
                }
                sync_dir(&self.store.dir)?;
                fs::rename(&self.tmp, &dest)?;
            }
            Err(e) => return Err(e.into()),
        }
        self.committed = true;
        sync_dir(parent)?;
        Ok(self.written)
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.committed {
            self.file = None;
            if let Err(e) = fs::remove_file(&self.tmp) {
                tracing::warn!(path = %self.tmp.display(), error = %e, "could not remove temporary blob");
            }
        }
    }
}
