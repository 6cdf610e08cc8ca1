//! The store's journal: committed transactions not yet applied to SQLite.
//!
//! A transaction is acknowledged once its record is appended to the current
//! journal file with one `write(2)` (and `fdatasync` with
//! [`crate::Durability::Full`]): from then on a `kill -9` cannot lose it.
//! The flusher applies batches of records to SQLite in one transaction and
//! deletes the journal files the batch covered. At start-up, journal files
//! left by a crash are replayed in order (records are whole-row puts,
//! deletes and counter values, so replaying one already applied changes
//! nothing) and removed.
//!
//! File: `<db>.pending.<gen>` (16 hex digits), mode 0600. Record:
//! `u32 len | u32 crc32(gen ‖ payload) | payload` (little-endian, `gen` as
//! 8 bytes); a torn or corrupt record ends the file (only an
//! unacknowledged write can be torn). Records written before the
//! generation was part of the checksum (`crc32(payload)`) are read too.
//!
//! Applied files are recycled: the newest one the flusher has applied is
//! kept as `<db>.pending-spare` and becomes the next generation's file,
//! overwritten from its start. Appending into pages the file already has
//! costs the kernel far less than growing a new file (no page allocation,
//! no block reservation). What lies beyond the last record written is an
//! earlier generation's, and its checksums (over that generation) end the
//! file there. A spare is never carried over a restart, so generations in
//! a reused file are always older than its own.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

const PUT: u8 = 1;
const DELETE: u8 = 2;
const SEQ: u8 = 3;

/// One change in a record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// Insert or replace a row (the document as JSON text).
    Put {
        key: String,
        parent: Option<String>,
        seq: i64,
        text: String,
    },
    /// Delete a row.
    Delete { key: String },
    /// A counter's new value.
    Seq { name: String, value: i64 },
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The largest applied file kept for reuse (a bigger one is deleted).
const SPARE_MAX: u64 = 16 << 20;

/// Encodes a record (length, payload; the checksum is [`seal`]ed by the
/// writer, which knows the generation) for `ops`. `key` is the store's
/// composite row key.
pub(crate) fn encode<'a>(ops: impl Iterator<Item = OpRef<'a>> + Clone) -> Vec<u8> {
    // Sized once: a record holds a whole row's text.
    let size: usize = ops
        .clone()
        .map(|op| match op {
            OpRef::Put {
                key, parent, text, ..
            } => 22 + key.len() + parent.map_or(0, str::len) + text.len(),
            OpRef::Delete { key } => 5 + key.len(),
            OpRef::Seq { name, .. } => 13 + name.len(),
        })
        .sum();
    let mut out = Vec::with_capacity(8 + size);
    out.resize(8, 0);
    for op in ops {
        match op {
            OpRef::Put {
                key,
                parent,
                seq,
                text,
            } => {
                out.push(PUT);
                put_str(&mut out, key);
                match parent {
                    Some(p) => {
                        out.push(1);
                        put_str(&mut out, p);
                    }
                    None => out.push(0),
                }
                out.extend_from_slice(&seq.to_le_bytes());
                put_str(&mut out, text);
            }
            OpRef::Delete { key } => {
                out.push(DELETE);
                put_str(&mut out, key);
            }
            OpRef::Seq { name, value } => {
                out.push(SEQ);
                put_str(&mut out, name);
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
    }
    let len = (out.len() - 8) as u32;
    out[..4].copy_from_slice(&len.to_le_bytes());
    out
}

/// The checksum of a record of generation `gen`.
fn checksum(gen: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&gen.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// Sets the checksum of an [`encode`]d record for generation `gen`.
pub(crate) fn seal(record: &mut [u8], gen: u64) {
    let crc = checksum(gen, record.get(8..).unwrap_or_default());
    if let Some(field) = record.get_mut(4..8) {
        field.copy_from_slice(&crc.to_le_bytes());
    }
}

/// A borrowed [`Op`] for encoding.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OpRef<'a> {
    Put {
        key: &'a str,
        parent: Option<&'a str>,
        seq: i64,
        text: &'a str,
    },
    Delete {
        key: &'a str,
    },
    Seq {
        name: &'a str,
        value: i64,
    },
}

struct Cursor<'a> {
    buf: &'a [u8],
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).and_then(|b| b.first().copied())
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)?.try_into().ok().map(u32::from_le_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take(8)?.try_into().ok().map(i64::from_le_bytes)
    }
    fn str(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

fn decode_payload(payload: &[u8]) -> Option<Vec<Op>> {
    let mut c = Cursor { buf: payload };
    let mut ops = Vec::new();
    while !c.buf.is_empty() {
        ops.push(match c.u8()? {
            PUT => {
                let key = c.str()?;
                let parent = match c.u8()? {
                    0 => None,
                    1 => Some(c.str()?),
                    _ => return None,
                };
                let seq = c.i64()?;
                let text = c.str()?;
                Op::Put {
                    key,
                    parent,
                    seq,
                    text,
                }
            }
            DELETE => Op::Delete { key: c.str()? },
            SEQ => Op::Seq {
                name: c.str()?,
                value: c.i64()?,
            },
            _ => return None,
        });
    }
    Some(ops)
}

/// Decodes the records of one journal file's bytes (generation `gen`), in
/// order, stopping at the first torn, corrupt or older one. Returns the
/// records and how many bytes were not used.
pub(crate) fn decode(bytes: &[u8], gen: u64) -> (Vec<Vec<Op>>, usize) {
    let mut records = Vec::new();
    let mut at = 0usize;
    loop {
        let rest = bytes.get(at..).unwrap_or_default();
        if rest.len() < 8 {
            break;
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        let Some(payload) = rest.get(8..8 + len) else {
            break;
        };
        if checksum(gen, payload) != crc && crc32fast::hash(payload) != crc {
            break;
        }
        match decode_payload(payload) {
            Some(ops) => records.push(ops),
            None => break,
        }
        at += 8 + len;
    }
    (records, bytes.len() - at)
}

/// The journal file currently appended to.
#[derive(Debug)]
pub(crate) struct Writer {
    dir: PathBuf,
    base: String,
    gen: u64,
    file: File,
    /// Make each new file's directory entry durable (power-loss safety).
    sync_dir: bool,
    /// Bytes appended to the current file.
    pub(crate) len: u64,
    /// An applied file waits at [`spare_path`] for reuse.
    spare: bool,
}

fn spare_path(dir: &Path, base: &str) -> PathBuf {
    dir.join(format!("{base}.pending-spare"))
}

/// Makes the spare file generation `gen`'s, positioned at its start.
fn reuse(dir: &Path, base: &str, gen: u64, sync_dir: bool) -> io::Result<File> {
    let path = dir.join(file_name(base, gen));
    fs::rename(spare_path(dir, base), &path)?;
    let file = OpenOptions::new().write(true).open(&path)?;
    if sync_dir {
        File::open(dir)?.sync_all()?;
    }
    Ok(file)
}

fn file_name(base: &str, gen: u64) -> String {
    format!("{base}.pending.{gen:016x}")
}

fn create(dir: &Path, base: &str, gen: u64, sync_dir: bool) -> io::Result<File> {
    let file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join(file_name(base, gen)))?;
    if sync_dir {
        File::open(dir)?.sync_all()?;
    }
    Ok(file)
}

impl Writer {
    /// Starts journal generation `gen` beside the database at `db`.
    pub(crate) fn start(db: &Path, gen: u64, sync_dir: bool) -> io::Result<Writer> {
        let (dir, base) = location(db);
        // A spare left by an earlier run may hold generations as new as
        // this run's: never reused.
        match fs::remove_file(spare_path(&dir, &base)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let file = create(&dir, &base, gen, sync_dir)?;
        Ok(Writer {
            dir,
            base,
            gen,
            file,
            sync_dir,
            len: 0,
            spare: false,
        })
    }

    /// Seals one [`encode`]d record for the current generation and appends
    /// it with a single write; syncs it when `sync`.
    pub(crate) fn append(&mut self, record: &mut [u8], sync: bool) -> io::Result<()> {
        seal(record, self.gen);
        self.file.write_all(record)?;
        if sync {
            self.file.sync_data()?;
        }
        self.len += record.len() as u64;
        Ok(())
    }

    /// Moves on to a new file; returns the generation of the one left,
    /// which may be deleted once its records are in SQLite.
    pub(crate) fn rotate(&mut self) -> io::Result<u64> {
        let old = self.gen;
        let reused = if std::mem::take(&mut self.spare) {
            reuse(&self.dir, &self.base, old + 1, self.sync_dir).ok()
        } else {
            None
        };
        self.file = match reused {
            Some(f) => f,
            None => create(&self.dir, &self.base, old + 1, self.sync_dir)?,
        };
        self.gen = old + 1;
        self.len = 0;
        Ok(old)
    }

    /// Retires journal files of generation `gen` and older (applied to
    /// SQLite): the newest becomes the spare when there is none, the
    /// others are deleted.
    pub(crate) fn remove_upto(&mut self, gen: u64) -> io::Result<()> {
        for (g, path) in list(&self.dir, &self.base)? {
            if g > gen {
                continue;
            }
            if g == gen
                && !self.spare
                && g != self.gen
                && fs::metadata(&path).is_ok_and(|m| m.len() <= SPARE_MAX)
                && fs::rename(&path, spare_path(&self.dir, &self.base)).is_ok()
            {
                self.spare = true;
                continue;
            }
            fs::remove_file(path)?;
        }
        Ok(())
    }
}

/// The journal files beside `base` in `dir`, oldest first.
pub(crate) fn list(dir: &Path, base: &str) -> io::Result<Vec<(u64, PathBuf)>> {
    let prefix = format!("{base}.pending.");
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(hex) = name.strip_prefix(&prefix) {
            if let Ok(g) = u64::from_str_radix(hex, 16) {
                out.push((g, entry.path()));
            }
        }
    }
    out.sort_by_key(|(g, _)| *g);
    Ok(out)
}

/// The directory and base name of the database at `db`.
pub(crate) fn location(db: &Path) -> (PathBuf, String) {
    let dir = db
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let base = db
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state.db".to_string());
    (dir, base)
}
