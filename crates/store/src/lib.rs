//! Durable metadata store for ironsage.
//!
//! One SQLite database (WAL) holds every service's metadata as JSON documents
//! with a few indexed key columns. Each service gets a [`ServiceStore`] handle
//! bound to its own name: a service can only read and write its own rows, so
//! "a service never touches another service's tables" is enforced by the type
//! system rather than by convention.
//!
//! Rows live in namespaces called *scopes*: `"<account>"` for global-per-account
//! services such as IAM, `"<account>/<region>"` for regional ones.
//!
//! Writes go through [`ServiceStore::write`]: one transaction per mutating
//! request, serialized. Its changes are appended to a journal with one
//! `write(2)` before the caller answers, so a `kill -9` never loses an
//! acknowledged change, and are visible to every read at once (reads overlay
//! the journal's not-yet-applied changes on SQLite). A flusher thread
//! applies the journal to SQLite in batches, one transaction per batch,
//! every 20 ms: a commit costs one append, not a B-tree update and WAL
//! write per request. Start-up replays what a crash left in the journal.
//! Reads use a small pool of read connections and never block on the
//! flusher (WAL).

pub mod blobs;
mod journal;
mod presence;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;

/// Errors from the store. These are infrastructure failures: services turn
/// them into `InternalFailure` (HTTP 500) answers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A value could not be encoded as a JSON document.
    #[error("cannot encode document {kind}/{key}: {source}")]
    Encode {
        /// Row kind.
        kind: String,
        /// Row key.
        key: String,
        /// Encoding error.
        source: serde_json::Error,
    },
    /// A stored document was not valid JSON.
    #[error("corrupt document {kind}/{key}: {source}")]
    Corrupt {
        /// Row kind.
        kind: String,
        /// Row key.
        key: String,
        /// Parse error.
        source: serde_json::Error,
    },
    /// The data directory could not be prepared.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// A lock was poisoned by a panicking thread.
    #[error("store lock poisoned")]
    Poisoned,
    /// Another process (a running server) owns the data directory; this
    /// one opened it read-only.
    #[error("the data directory is in use by another ironsage process; opened read-only")]
    ReadOnly,
}

/// How hard SQLite syncs on commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=NORMAL` in WAL mode: survives process crashes (`kill -9`);
    /// may lose the last commits on power loss.
    #[default]
    Normal,
    /// `synchronous=FULL`: also survives power loss, slower.
    Full,
}

/// Schema migrations of the core tables, applied in order; the index + 1 is
/// stored in `PRAGMA user_version`. Never edit an entry once released: append.
const MIGRATIONS: &[&str] = &[
    // 1: documents and a monotonically increasing sequence for stable ordering.
    "CREATE TABLE docs (
        svc TEXT NOT NULL,
        kind TEXT NOT NULL,
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        parent TEXT,
        seq INTEGER NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (svc, kind, scope, key)
    ) WITHOUT ROWID;
    CREATE INDEX docs_parent ON docs (svc, kind, scope, parent, key);
    CREATE TABLE seqs (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;",
    // 2: rows without a parent (most) keep no entry in the parent index.
    "DROP INDEX docs_parent;
    CREATE INDEX docs_parent ON docs (svc, kind, scope, parent, key) WHERE parent IS NOT NULL;",
    // 3: documents move to a rowid table with a unique key index. A WITHOUT
    // ROWID table keeps whole rows in its interior pages too, so 2 KiB
    // documents (an S3 object with its inline body) left four per interior
    // page: deep trees, and an insert at a scattered key rewrote a chain of
    // them. Now the table appends (new rowids are the largest) and only the
    // small key index takes scattered inserts (sqlite.org/withoutrowid.html §4).
    "CREATE TABLE docs_rowid (
        svc TEXT NOT NULL,
        kind TEXT NOT NULL,
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        parent TEXT,
        seq INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    INSERT INTO docs_rowid (svc, kind, scope, key, parent, seq, doc)
        SELECT svc, kind, scope, key, parent, seq, doc FROM docs ORDER BY seq;
    DROP TABLE docs;
    ALTER TABLE docs_rowid RENAME TO docs;
    CREATE UNIQUE INDEX docs_key ON docs (svc, kind, scope, key);
    CREATE INDEX docs_parent ON docs (svc, kind, scope, parent, key) WHERE parent IS NOT NULL;",
];

/// Rows waiting in the journal before this many make the flusher run at
/// once rather than at its next tick.
const FLUSH_AT: usize = 2048;
/// How long the flusher lets a batch gather once something is pending
/// (while nothing is, it sleeps until a commit wakes it).
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(20);

/// A committed row not yet in SQLite: its text (what the journal and
/// SQLite get) and its document, parsed from the text on first read when
/// the writer handed over only the text ([`Tx::put_serialized`]).
#[derive(Debug)]
struct Staged {
    parent: Option<String>,
    seq: i64,
    text: String,
    doc: std::sync::OnceLock<Value>,
}

/// A committed change not yet in SQLite: the row, or `None` for a delete,
/// with the version of the commit that made it.
type Change = (u64, Option<Arc<Staged>>);

/// Decodes journal bytes as start-up replay does: the number of whole
/// records and of trailing bytes ignored (a torn or corrupt tail). For
/// inspection and fuzzing; never panics.
pub fn journal_records(bytes: &[u8]) -> (usize, usize) {
    let (records, left) = journal::decode(bytes, 0);
    (records.len(), left)
}

/// A pending change with its composite key (a delete when `None`).
type KeyedChange = (String, Option<Arc<Staged>>);

/// Committed changes not yet applied to SQLite (they are in the journal).
#[derive(Debug)]
struct Pending {
    /// By composite key (see [`row_key`]).
    rows: BTreeMap<String, Change>,
    /// Counter values not yet in SQLite: name → (version, value).
    seqs: HashMap<String, (u64, i64)>,
    /// Counter values known to be current (loaded once, then kept up to
    /// date by every commit).
    counters: HashMap<String, i64>,
    /// Version of the last commit.
    ver: u64,
    /// `None` when another process owns the store (read-only).
    journal: Option<journal::Writer>,
    /// Rows as read from SQLite (`None`: known absent), by composite key,
    /// with their approximate size. A commit drops the keys it wrote; a
    /// read fills an entry only if no commit happened since it began
    /// (`ver` unchanged), so an entry is never older than what it shadows.
    cache: HashMap<String, (Option<Arc<Row>>, usize)>,
    cache_bytes: usize,
    /// Which keys may exist, so a lookup of a new key need not probe
    /// SQLite (`None` when read-only: another process writes).
    presence: Option<presence::Presence>,
}

/// Bytes of rows [`Pending::cache`] holds before it is emptied.
const ROW_CACHE_BYTES: usize = 16 << 20;

/// Where a read found a row.
enum Lookup {
    /// A pending change (`None`: a pending delete).
    Pending(Option<Arc<Staged>>),
    /// The row cache (`None`: known absent).
    Cached(Option<Arc<Row>>),
    /// Neither: read SQLite, then offer the result with this version.
    Miss(u64),
}

/// What the flusher thread shares with the store.
#[derive(Debug)]
struct Shared {
    /// The SQLite connection that writes (the flusher's, and replay's).
    conn: Mutex<Connection>,
    pending: Mutex<Pending>,
    wake: Condvar,
    stop: std::sync::atomic::AtomicBool,
    /// One flush at a time (the flusher's, or an explicit [`Store::flush`]).
    flush_lock: Mutex<()>,
    /// Tests: stop without the final flush (a simulated `kill -9`).
    halt: std::sync::atomic::AtomicBool,
    /// Held by a write transaction from start to commit; the flusher takes
    /// it to drop flushed changes, so a transaction sees them either
    /// pending or in its SQLite snapshot, never in neither.
    tx_lock: Mutex<()>,
    durability: Durability,
}

/// The whole store: committed changes in the journal and in memory until
/// the flusher applies them to SQLite in batches; reads see both.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    shared: Arc<Shared>,
    readers: Mutex<Vec<Connection>>,
    durability: Durability,
    flusher: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The advisory lock that makes this process the store's only writer
    /// (`None`: another process holds it and this one is read-only).
    owner: Mutex<Option<std::fs::File>>,
    /// Point reads answered by SQLite (see [`Store::sqlite_point_reads`]).
    point_reads: std::sync::atomic::AtomicU64,
}

fn configure(conn: &Connection, durability: Durability) -> Result<(), StoreError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        match durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        },
    )?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Reads map the database instead of copying pages through read(2):
    // a point lookup costs about a third as much CPU.
    conn.pragma_update(None, "mmap_size", 256i64 << 20)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}

/// The composite key of a row: `svc \0 kind \0 scope \0 key` (sorts as the
/// tuple does; only the last part may itself hold a NUL).
fn row_key(svc: &str, kind: &str, scope: &str, key: &str) -> String {
    let mut k = String::with_capacity(svc.len() + kind.len() + scope.len() + key.len() + 3);
    k.push_str(svc);
    k.push('\0');
    k.push_str(kind);
    k.push('\0');
    k.push_str(scope);
    k.push('\0');
    k.push_str(key);
    k
}

/// The parts of a composite key.
fn split_key(k: &str) -> Option<(&str, &str, &str, &str)> {
    let mut it = k.splitn(4, '\0');
    Some((it.next()?, it.next()?, it.next()?, it.next()?))
}

/// Applies journal operations to SQLite (inside the caller's transaction).
fn apply_ops<'a>(
    conn: &Connection,
    ops: impl Iterator<Item = journal::OpRef<'a>>,
) -> Result<(), StoreError> {
    let mut put = conn.prepare_cached(
        "INSERT OR REPLACE INTO docs (svc, kind, scope, key, parent, seq, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut del =
        conn.prepare_cached("DELETE FROM docs WHERE svc=?1 AND kind=?2 AND scope=?3 AND key=?4")?;
    let mut seq =
        conn.prepare_cached("INSERT OR REPLACE INTO seqs (name, value) VALUES (?1, ?2)")?;
    let bad = |k: &str| StoreError::Io(std::io::Error::other(format!("bad row key {k:?}")));
    for op in ops {
        match op {
            journal::OpRef::Put {
                key,
                parent,
                seq: s,
                text,
            } => {
                let (a, b, c, d) = split_key(key).ok_or_else(|| bad(key))?;
                put.execute(params![a, b, c, d, parent, s, text])?;
            }
            journal::OpRef::Delete { key } => {
                let (a, b, c, d) = split_key(key).ok_or_else(|| bad(key))?;
                del.execute(params![a, b, c, d])?;
            }
            journal::OpRef::Seq { name, value } => {
                seq.execute(params![name, value])?;
            }
        }
    }
    Ok(())
}

/// The journal operation of a row change (`None`: a delete).
fn row_op<'a>(key: &'a str, change: &'a Option<Arc<Staged>>) -> journal::OpRef<'a> {
    match change {
        Some(s) => journal::OpRef::Put {
            key,
            parent: s.parent.as_deref(),
            seq: s.seq,
            text: &s.text,
        },
        None => journal::OpRef::Delete { key },
    }
}

fn op_ref(op: &journal::Op) -> journal::OpRef<'_> {
    match op {
        journal::Op::Put {
            key,
            parent,
            seq,
            text,
        } => journal::OpRef::Put {
            key,
            parent: parent.as_deref(),
            seq: *seq,
            text,
        },
        journal::Op::Delete { key } => journal::OpRef::Delete { key },
        journal::Op::Seq { name, value } => journal::OpRef::Seq {
            name,
            value: *value,
        },
    }
}

/// Replays journal files a crash left (oldest first) into SQLite, removes
/// them, and returns the next generation to use.
fn replay(conn: &mut Connection, db: &Path) -> Result<u64, StoreError> {
    let (dir, base) = journal::location(db);
    let files = journal::list(&dir, &base)?;
    let Some(last) = files.last().map(|(g, _)| *g) else {
        return Ok(0);
    };
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut records = 0usize;
    for (gen, path) in &files {
        let bytes = std::fs::read(path)?;
        let (recs, torn) = journal::decode(&bytes, *gen);
        if torn > 0 {
            tracing::warn!(file = %path.display(), bytes = torn, "store: ignoring journal bytes after the last whole record (an unacknowledged write, or an earlier generation's in a reused file)");
        }
        records += recs.len();
        for ops in &recs {
            apply_ops(&tx, ops.iter().map(op_ref))?;
        }
    }
    tx.commit()?;
    for (_, path) in &files {
        std::fs::remove_file(path)?;
    }
    if records > 0 {
        tracing::info!(
            records,
            "store: replayed committed transactions from the journal"
        );
    }
    Ok(last + 1)
}

impl Shared {
    /// Appends a transaction's changes to the journal, then makes them
    /// visible; nothing is visible if the append fails.
    fn commit(&self, buf: TxBuf) -> Result<(), StoreError> {
        if buf.rows.is_empty() && buf.seqs.is_empty() {
            return Ok(());
        }
        let mut record = journal::encode(
            buf.rows.iter().map(|(k, r)| row_op(k, r)).chain(
                buf.seqs
                    .iter()
                    .map(|(n, v)| journal::OpRef::Seq { name: n, value: *v }),
            ),
        );
        let mut p = self.pending.lock().map_err(|_| StoreError::Poisoned)?;
        p.journal
            .as_mut()
            .ok_or(StoreError::ReadOnly)?
            .append(&mut record, self.durability == Durability::Full)?;
        // The flusher sleeps while nothing is pending: this wakes it.
        let first = p.rows.is_empty() && p.seqs.is_empty();
        p.ver += 1;
        let ver = p.ver;
        for (k, r) in buf.rows {
            if let Some((_, size)) = p.cache.remove(&k) {
                p.cache_bytes -= size;
            }
            if r.is_some() {
                if let Some(presence) = p.presence.as_mut() {
                    presence.insert(&k);
                }
            }
            p.rows.insert(k, (ver, r));
        }
        for (n, v) in buf.seqs {
            p.seqs.insert(n.clone(), (ver, v));
            p.counters.insert(n, v);
        }
        let busy = p.rows.len() >= FLUSH_AT;
        drop(p);
        if busy || first {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Applies everything pending to SQLite in one transaction; returns
    /// whether there was anything.
    fn flush(&self) -> Result<bool, StoreError> {
        let _one = self.flush_lock.lock().map_err(|_| StoreError::Poisoned)?;
        let (rows, seqs, old_gen) = {
            let mut p = self.pending.lock().map_err(|_| StoreError::Poisoned)?;
            if p.rows.is_empty() && p.seqs.is_empty() {
                return Ok(false);
            }
            let old = match p.journal.as_mut() {
                Some(j) => j.rotate()?,
                None => return Ok(false),
            };
            let rows: Vec<(String, Change)> =
                p.rows.iter().map(|(k, c)| (k.clone(), c.clone())).collect();
            let seqs: Vec<(String, (u64, i64))> =
                p.seqs.iter().map(|(k, v)| (k.clone(), *v)).collect();
            (rows, seqs, old)
        };
        {
            let mut conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            apply_ops(
                &tx,
                rows.iter().map(|(k, (_, r))| row_op(k, r)).chain(
                    seqs.iter()
                        .map(|(n, (_, v))| journal::OpRef::Seq { name: n, value: *v }),
                ),
            )?;
            tx.commit()?;
        }
        let _tx = self.tx_lock.lock().map_err(|_| StoreError::Poisoned)?;
        let mut p = self.pending.lock().map_err(|_| StoreError::Poisoned)?;
        for (k, (v, _)) in rows {
            if p.rows.get(&k).is_some_and(|(cur, _)| *cur == v) {
                p.rows.remove(&k);
            }
        }
        for (n, (v, _)) in seqs {
            if p.seqs.get(&n).is_some_and(|(cur, _)| *cur == v) {
                p.seqs.remove(&n);
            }
        }
        if let Some(j) = p.journal.as_mut() {
            j.remove_upto(old_gen)?;
        }
        Ok(true)
    }

    /// Adds the key of every row in SQLite to the presence filter, then
    /// lets lookups trust it. Runs on the flusher thread before its first
    /// flush (holding the flush lock), so SQLite holds exactly what it
    /// held at open; rows committed meanwhile were added by their commit.
    fn scan_presence(&self) -> Result<(), StoreError> {
        let _one = self.flush_lock.lock().map_err(|_| StoreError::Poisoned)?;
        let mut keys = Vec::new();
        {
            let conn = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
            let mut stmt = conn.prepare("SELECT svc, kind, scope, key FROM docs")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let part = |i: usize| r.get::<_, String>(i);
                keys.push(row_key(&part(0)?, &part(1)?, &part(2)?, &part(3)?));
                if keys.len() >= 4096 {
                    self.add_present(&mut keys)?;
                }
            }
        }
        self.add_present(&mut keys)?;
        let mut p = self.pending.lock().map_err(|_| StoreError::Poisoned)?;
        if let Some(presence) = p.presence.as_mut() {
            presence.set_ready();
        }
        Ok(())
    }

    fn add_present(&self, keys: &mut Vec<String>) -> Result<(), StoreError> {
        let mut p = self.pending.lock().map_err(|_| StoreError::Poisoned)?;
        if let Some(presence) = p.presence.as_mut() {
            for k in keys.drain(..) {
                presence.insert(&k);
            }
        }
        Ok(())
    }

    fn run_flusher(&self) {
        if let Err(e) = self.scan_presence() {
            // Lookups keep probing SQLite: slower, still correct.
            tracing::error!(error = %e, "store: reading the keys of stored rows failed");
        }
        loop {
            if self.halt.load(std::sync::atomic::Ordering::Acquire) {
                return;
            }
            let stopping = self.stop.load(std::sync::atomic::Ordering::Acquire);
            if let Err(e) = self.flush() {
                // The journal keeps everything: retried at the next tick,
                // replayed at the next start.
                tracing::error!(error = %e, "store: flushing the journal to SQLite failed");
            }
            if stopping {
                return;
            }
            let Ok(mut p) = self.pending.lock() else {
                return;
            };
            let stop = || {
                self.stop.load(std::sync::atomic::Ordering::Acquire)
                    || self.halt.load(std::sync::atomic::Ordering::Acquire)
            };
            // Idle: sleep until a commit brings work (no timer wake-ups
            // while nothing is written).
            while p.rows.is_empty() && p.seqs.is_empty() && !stop() {
                p = match self.wake.wait(p) {
                    Ok(p) => p,
                    Err(_) => return,
                };
            }
            // Work arrived: let a batch gather, unless it is big already.
            if p.rows.len() < FLUSH_AT && !stop() {
                let _ = self.wake.wait_timeout(p, FLUSH_EVERY);
            }
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.stop_flusher(&self.shared.stop);
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path`, applies pending
    /// migrations, replays what a crash left in the journal, and starts
    /// the flusher. One process at a time owns a store (an advisory lock on
    /// `<db>.lock`); while another does (a running server), this one gets a
    /// read-only view of what that one has flushed, and writes fail with
    /// [`StoreError::ReadOnly`].
    pub fn open(path: &Path, durability: Durability) -> Result<Arc<Store>, StoreError> {
        let lock_path = {
            let (dir, base) = journal::location(path);
            dir.join(format!("{base}.lock"))
        };
        let lock = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(&lock_path)?
        };
        let owner = match lock.try_lock() {
            Ok(()) => Some(lock),
            Err(std::fs::TryLockError::WouldBlock) => None,
            Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
        };
        // Created 0600 before SQLite opens it: SQLite gives the -wal and
        // -shm files the database file's mode, and they hold its secrets too.
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(path)?;
        }
        let mut conn = Connection::open(path)?;
        // 8 KiB pages for a new database (an existing one keeps its own):
        // typical documents (1–2 KiB) stay on their leaf page instead of
        // spilling to overflow pages, halving the flusher's work per row.
        conn.pragma_update(None, "page_size", 8192)?;
        configure(&conn, durability)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let target = i as i64 + 1;
            if version < target {
                let tx = conn.unchecked_transaction()?;
                tx.execute_batch(sql)?;
                tx.pragma_update(None, "user_version", target)?;
                tx.commit()?;
            }
        }
        let journal = match owner {
            Some(_) => {
                let gen = replay(&mut conn, path)?;
                Some(journal::Writer::start(
                    path,
                    gen,
                    durability == Durability::Full,
                )?)
            }
            None => None,
        };
        let writer = journal.is_some();
        let shared = Arc::new(Shared {
            conn: Mutex::new(conn),
            pending: Mutex::new(Pending {
                rows: BTreeMap::new(),
                seqs: HashMap::new(),
                counters: HashMap::new(),
                ver: 0,
                journal,
                cache: HashMap::new(),
                cache_bytes: 0,
                presence: writer.then(|| presence::Presence::new(0)),
            }),
            wake: Condvar::new(),
            stop: std::sync::atomic::AtomicBool::new(false),
            halt: std::sync::atomic::AtomicBool::new(false),
            flush_lock: Mutex::new(()),
            tx_lock: Mutex::new(()),
            durability,
        });
        let flusher = if writer {
            let worker = Arc::clone(&shared);
            Some(
                std::thread::Builder::new()
                    .name("store-flush".into())
                    .spawn(move || worker.run_flusher())?,
            )
        } else {
            None
        };
        Ok(Arc::new(Store {
            path: path.to_path_buf(),
            shared,
            readers: Mutex::new(Vec::new()),
            durability,
            flusher: Mutex::new(flusher),
            owner: Mutex::new(owner),
            point_reads: std::sync::atomic::AtomicU64::new(0),
        }))
    }

    /// The schema version after migrations.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let conn = self.shared.conn.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// Applies everything committed so far to SQLite now (the flusher does
    /// it on its own within [`FLUSH_EVERY`]).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.shared.flush().map(|_| ())
    }

    /// Tests: stops the flusher without flushing and leaks the store, as a
    /// `kill -9` would leave it (journal files stay for the next open).
    #[cfg(test)]
    fn crash(self: Arc<Self>) {
        self.stop_flusher(&self.shared.halt);
        // The process would be gone: so is its lock.
        drop(self.owner.lock().ok().and_then(|mut o| o.take()));
        std::mem::forget(self);
    }

    /// Raises `flag` (`stop`: flush once more and end; `halt`: end at once)
    /// and waits for the flusher thread to end.
    fn stop_flusher(&self, flag: &std::sync::atomic::AtomicBool) {
        {
            // Under the lock the flusher checks the flags with, so it either
            // sees the flag or is already waiting for this notification.
            let _p = self.shared.pending.lock();
            flag.store(true, std::sync::atomic::Ordering::Release);
            self.shared.wake.notify_one();
        }
        if let Some(h) = self.flusher.lock().ok().and_then(|mut f| f.take()) {
            let _ = h.join();
        }
    }

    /// Tests: waits until the presence filter answers lookups.
    #[cfg(test)]
    fn wait_presence_ready(&self) {
        for _ in 0..2000 {
            let ready = self
                .shared
                .pending
                .lock()
                .map(|p| p.presence.as_ref().is_some_and(|f| f.is_ready()))
                .unwrap_or(false);
            if ready {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        panic!("presence filter never became ready");
    }

    /// Point reads that went to SQLite (memory could not answer them).
    pub fn sqlite_point_reads(&self) -> u64 {
        self.point_reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether another process owns the store (this view cannot write).
    pub fn read_only(&self) -> bool {
        self.owner.lock().map_or(true, |o| o.is_none())
    }

    /// A handle for one service's rows.
    pub fn service(self: &Arc<Self>, svc: &'static str) -> ServiceStore {
        ServiceStore {
            store: Arc::clone(self),
            svc,
        }
    }

    fn take_reader(&self) -> Result<Connection, StoreError> {
        let conn = {
            let mut pool = self.readers.lock().map_err(|_| StoreError::Poisoned)?;
            pool.pop()
        };
        match conn {
            Some(c) => Ok(c),
            None => {
                let c = Connection::open(&self.path)?;
                configure(&c, self.durability)?;
                Ok(c)
            }
        }
    }

    fn give_reader(&self, conn: Connection) {
        if let Ok(mut pool) = self.readers.lock() {
            if pool.len() < 8 {
                pool.push(conn);
            }
        }
    }

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.take_reader()?;
        let out = f(&conn);
        self.give_reader(conn);
        out
    }

    /// Pending changes under `prefix` (a composite-key prefix), cloned out.
    fn pending_range(&self, prefix: &str) -> Result<Vec<KeyedChange>, StoreError> {
        let p = self
            .shared
            .pending
            .lock()
            .map_err(|_| StoreError::Poisoned)?;
        Ok(p.rows
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, (_, r))| (k.clone(), r.clone()))
            .collect())
    }

    /// A committed row from memory: pending, or cached.
    fn lookup(&self, k: &str) -> Result<Lookup, StoreError> {
        let p = self
            .shared
            .pending
            .lock()
            .map_err(|_| StoreError::Poisoned)?;
        if let Some((_, r)) = p.rows.get(k) {
            return Ok(Lookup::Pending(r.clone()));
        }
        if let Some((r, _)) = p.cache.get(k) {
            return Ok(Lookup::Cached(r.clone()));
        }
        if p.presence.as_ref().is_some_and(|f| f.surely_absent(k)) {
            return Ok(Lookup::Cached(None));
        }
        Ok(Lookup::Miss(p.ver))
    }

    /// Offers a row read from SQLite after [`Store::lookup`] answered
    /// `Miss(ver)`: cached only if nothing was committed since.
    fn fill(&self, k: &str, ver: u64, row: Option<(Row, usize)>) -> Option<Row> {
        self.point_reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (row, size) = match row {
            Some((r, n)) => (Some(r), n),
            None => (None, 0),
        };
        let size = size + k.len() + 64;
        if let Ok(mut p) = self.shared.pending.lock() {
            if p.ver == ver && size < ROW_CACHE_BYTES / 16 {
                if p.cache_bytes + size > ROW_CACHE_BYTES {
                    p.cache.clear();
                    p.cache_bytes = 0;
                }
                let shared = row.clone().map(Arc::new);
                if let Some((_, old)) = p.cache.insert(k.to_string(), (shared, size)) {
                    p.cache_bytes -= old;
                }
                p.cache_bytes += size;
            }
        }
        row
    }
}

fn staged_row(key: &str, s: &Staged) -> Result<Row, StoreError> {
    let doc = match s.doc.get() {
        Some(d) => d.clone(),
        None => {
            let d: Value = serde_json::from_str(&s.text).map_err(|source| StoreError::Corrupt {
                kind: "(pending)".to_string(),
                key: key.to_string(),
                source,
            })?;
            // Another reader may have parsed it first: the same value.
            let _ = s.doc.set(d.clone());
            d
        }
    };
    Ok(Row {
        key: key.to_string(),
        parent: s.parent.clone(),
        seq: s.seq,
        doc,
    })
}

/// Overlays pending changes (key suffix → change) on rows read from SQLite,
/// keeping only rows under `parent` when given.
fn overlay(
    rows: Vec<Row>,
    changes: impl Iterator<Item = (String, Option<Arc<Staged>>)>,
    parent: Option<&str>,
) -> Result<Vec<Row>, StoreError> {
    let mut by_key: BTreeMap<String, Row> = rows.into_iter().map(|r| (r.key.clone(), r)).collect();
    for (key, change) in changes {
        by_key.remove(&key);
        if let Some(s) = change {
            if parent.is_none() || s.parent.as_deref() == parent {
                by_key.insert(key.clone(), staged_row(&key, &s)?);
            }
        }
    }
    Ok(by_key.into_values().collect())
}

/// One stored row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Key within (kind, scope).
    pub key: String,
    /// Optional parent key (secondary index).
    pub parent: Option<String>,
    /// Insertion sequence number.
    pub seq: i64,
    /// The JSON document.
    pub doc: Value,
}

/// A service's view of the store: every call is confined to its own rows.
#[derive(Debug, Clone)]
pub struct ServiceStore {
    store: Arc<Store>,
    svc: &'static str,
}

/// A transaction's own changes, applied at commit.
#[derive(Debug, Default)]
struct TxBuf {
    rows: BTreeMap<String, Option<Arc<Staged>>>,
    seqs: HashMap<String, i64>,
}

/// An open write transaction confined to one service's rows. Reads see the
/// transaction's own changes, then committed ones (pending or in SQLite,
/// through one read snapshot held for the whole transaction).
#[derive(Debug)]
pub struct Tx<'a> {
    store: &'a Store,
    svc: &'static str,
    buf: RefCell<TxBuf>,
    /// A reader connection with an open read transaction, taken on first
    /// use.
    reader: RefCell<Option<Connection>>,
}

fn row_from(
    kind: &str,
    key: String,
    parent: Option<String>,
    seq: i64,
    doc: String,
) -> Result<Row, StoreError> {
    let doc = serde_json::from_str(&doc).map_err(|source| StoreError::Corrupt {
        kind: kind.to_string(),
        key: key.clone(),
        source,
    })?;
    Ok(Row {
        key,
        parent,
        seq,
        doc,
    })
}

/// One row and the length of its document text.
fn get_in(
    conn: &Connection,
    svc: &str,
    kind: &str,
    scope: &str,
    key: &str,
) -> Result<Option<(Row, usize)>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT key, parent, seq, doc FROM docs WHERE svc=?1 AND kind=?2 AND scope=?3 AND key=?4",
        )?
        .query_row(params![svc, kind, scope, key], |r| {
            Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?))
        })
        .optional()?;
    row.map(|(k, p, s, d)| {
        let n = d.len();
        row_from(kind, k, p, s, d).map(|r| (r, n))
    })
    .transpose()
}

fn list_in(
    conn: &Connection,
    svc: &str,
    kind: &str,
    scope: &str,
    parent: Option<&str>,
) -> Result<Vec<Row>, StoreError> {
    let mut out = Vec::new();
    let map = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(String, Option<String>, i64, String)> {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    };
    let rows: Vec<_> = match parent {
        Some(p) => conn
            .prepare_cached(
                "SELECT key, parent, seq, doc FROM docs WHERE svc=?1 AND kind=?2 AND scope=?3 AND parent=?4 ORDER BY key",
            )?
            .query_map(params![svc, kind, scope, p], map)?
            .collect::<Result<_, _>>()?,
        None => conn
            .prepare_cached(
                "SELECT key, parent, seq, doc FROM docs WHERE svc=?1 AND kind=?2 AND scope=?3 ORDER BY key",
            )?
            .query_map(params![svc, kind, scope], map)?
            .collect::<Result<_, _>>()?,
    };
    for (k, p, s, d) in rows {
        out.push(row_from(kind, k, p, s, d)?);
    }
    Ok(out)
}

impl ServiceStore {
    /// The service this handle is bound to.
    pub fn service_name(&self) -> &'static str {
        self.svc
    }

    /// Runs `f` as one transaction: if it returns `Ok`, its changes are
    /// journaled (one append; durable against `kill -9` before this
    /// returns) and visible to every later read; otherwise nothing
    /// changes. Transactions run one at a time. The outer result carries
    /// store failures, the inner one the closure's own outcome.
    pub fn write<T, E>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<Result<T, E>, StoreError> {
        let shared = &self.store.shared;
        let _serial = shared.tx_lock.lock().map_err(|_| StoreError::Poisoned)?;
        let tx = Tx {
            store: &self.store,
            svc: self.svc,
            buf: RefCell::new(TxBuf::default()),
            reader: RefCell::new(None),
        };
        let out = f(&tx);
        let Tx { buf, reader, .. } = tx;
        if let Some(conn) = reader.into_inner() {
            // End the read snapshot before the connection goes back.
            if conn.execute_batch("COMMIT").is_ok() {
                self.store.give_reader(conn);
            }
        }
        match out {
            Ok(v) => {
                shared.commit(buf.into_inner())?;
                Ok(Ok(v))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    /// Reads one row.
    pub fn get(&self, kind: &str, scope: &str, key: &str) -> Result<Option<Row>, StoreError> {
        // Pending first: a change leaves it only after it is in SQLite.
        let k = row_key(self.svc, kind, scope, key);
        match self.store.lookup(&k)? {
            Lookup::Pending(change) => change.map(|s| staged_row(key, &s)).transpose(),
            Lookup::Cached(row) => Ok(row.map(|r| (*r).clone())),
            Lookup::Miss(ver) => {
                let row = self
                    .store
                    .with_reader(|c| get_in(c, self.svc, kind, scope, key))?;
                Ok(self.store.fill(&k, ver, row))
            }
        }
    }

    /// Reads one row's document straight into `T`, without building a
    /// JSON tree and without filling the store's row cache: for services
    /// that keep their own typed cache of the rows (S3's objects).
    pub fn get_typed<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        scope: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let k = row_key(self.svc, kind, scope, key);
        let corrupt = |source| StoreError::Corrupt {
            kind: kind.to_string(),
            key: key.to_string(),
            source,
        };
        match self.store.lookup(&k)? {
            Lookup::Pending(None) | Lookup::Cached(None) => Ok(None),
            Lookup::Pending(Some(s)) => match s.doc.get() {
                Some(doc) => T::deserialize(doc).map(Some).map_err(corrupt),
                None => serde_json::from_str(&s.text).map(Some).map_err(corrupt),
            },
            Lookup::Cached(Some(row)) => T::deserialize(&row.doc).map(Some).map_err(corrupt),
            Lookup::Miss(_) => {
                self.store
                    .point_reads
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let text: Option<String> = self.store.with_reader(|c| {
                    Ok(c.prepare_cached(
                        "SELECT doc FROM docs WHERE svc=?1 AND kind=?2 AND scope=?3 AND key=?4",
                    )?
                    .query_row(params![self.svc, kind, scope, key], |r| r.get(0))
                    .optional()?)
                })?;
                text.map(|t| serde_json::from_str(&t).map_err(corrupt))
                    .transpose()
            }
        }
    }

    /// Lists rows of a kind in a scope, ordered by key; optionally only
    /// those with the given parent.
    pub fn list(
        &self,
        kind: &str,
        scope: &str,
        parent: Option<&str>,
    ) -> Result<Vec<Row>, StoreError> {
        let prefix = row_key(self.svc, kind, scope, "");
        let pending = self.store.pending_range(&prefix)?;
        let rows = self
            .store
            .with_reader(|c| list_in(c, self.svc, kind, scope, parent))?;
        let changes = pending
            .into_iter()
            .map(|(k, c)| (k.get(prefix.len()..).unwrap_or_default().to_string(), c));
        overlay(rows, changes, parent)
    }

    /// Lists every row of a kind across all scopes (used at start-up to warm
    /// caches), as (scope, row).
    pub fn list_all_scopes(&self, kind: &str) -> Result<Vec<(String, Row)>, StoreError> {
        let prefix = format!("{}\0{}\0", self.svc, kind);
        let pending = self.store.pending_range(&prefix)?;
        let rows = self.store.with_reader(|c| {
            let rows: Vec<(String, String, Option<String>, i64, String)> = c
                .prepare_cached(
                    "SELECT scope, key, parent, seq, doc FROM docs WHERE svc=?1 AND kind=?2 ORDER BY scope, key",
                )?
                .query_map(params![self.svc, kind], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<Result<_, _>>()?;
            rows.into_iter()
                .map(|(scope, k, p, s, d)| Ok((scope, row_from(kind, k, p, s, d)?)))
                .collect::<Result<Vec<_>, StoreError>>()
        })?;
        let mut by: BTreeMap<(String, String), Row> = rows
            .into_iter()
            .map(|(scope, r)| ((scope, r.key.clone()), r))
            .collect();
        for (k, change) in pending {
            let Some((_, _, scope, key)) = split_key(&k) else {
                continue;
            };
            let id = (scope.to_string(), key.to_string());
            by.remove(&id);
            if let Some(s) = change {
                by.insert(id, staged_row(key, &s)?);
            }
        }
        Ok(by.into_iter().map(|((scope, _), r)| (scope, r)).collect())
    }
}

impl Tx<'_> {
    /// Runs `f` on this transaction's reader, opening its read snapshot on
    /// first use.
    fn with_snapshot<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut slot = self.reader.borrow_mut();
        if slot.is_none() {
            let conn = self.store.take_reader()?;
            conn.execute_batch("BEGIN")?;
            *slot = Some(conn);
        }
        match slot.as_ref() {
            Some(conn) => f(conn),
            None => Err(StoreError::Poisoned),
        }
    }

    /// The transaction's own change to a row, else what memory knows.
    fn lookup(&self, k: &str) -> Result<Lookup, StoreError> {
        if let Some(c) = self.buf.borrow().rows.get(k) {
            return Ok(Lookup::Pending(c.clone()));
        }
        // Inside a transaction nothing commits and nothing leaves the
        // pending set, so memory and this snapshot agree.
        self.store.lookup(k)
    }

    /// Reads one row inside the transaction (sees the transaction's writes).
    pub fn get(&self, kind: &str, scope: &str, key: &str) -> Result<Option<Row>, StoreError> {
        let k = row_key(self.svc, kind, scope, key);
        match self.lookup(&k)? {
            Lookup::Pending(change) => change.map(|s| staged_row(key, &s)).transpose(),
            Lookup::Cached(row) => Ok(row.map(|r| (*r).clone())),
            Lookup::Miss(ver) => {
                let row = self.with_snapshot(|c| get_in(c, self.svc, kind, scope, key))?;
                Ok(self.store.fill(&k, ver, row))
            }
        }
    }

    /// [`Tx::get`] without copying the document out of the store's cache
    /// (for rows a transaction only reads).
    pub fn get_shared(
        &self,
        kind: &str,
        scope: &str,
        key: &str,
    ) -> Result<Option<Arc<Row>>, StoreError> {
        let k = row_key(self.svc, kind, scope, key);
        match self.lookup(&k)? {
            Lookup::Cached(row) => Ok(row),
            Lookup::Pending(change) => Ok(change
                .map(|s| staged_row(key, &s))
                .transpose()?
                .map(Arc::new)),
            Lookup::Miss(ver) => {
                let row = self.with_snapshot(|c| get_in(c, self.svc, kind, scope, key))?;
                Ok(self.store.fill(&k, ver, row).map(Arc::new))
            }
        }
    }

    /// Lists rows inside the transaction.
    pub fn list(
        &self,
        kind: &str,
        scope: &str,
        parent: Option<&str>,
    ) -> Result<Vec<Row>, StoreError> {
        let prefix = row_key(self.svc, kind, scope, "");
        let rows = self.with_snapshot(|c| list_in(c, self.svc, kind, scope, parent))?;
        let mut changes: BTreeMap<String, Option<Arc<Staged>>> =
            self.store.pending_range(&prefix)?.into_iter().collect();
        {
            let buf = self.buf.borrow();
            for (k, c) in buf
                .rows
                .range::<str, _>((
                    std::ops::Bound::Included(prefix.as_str()),
                    std::ops::Bound::Unbounded,
                ))
                .take_while(|(k, _)| k.starts_with(&prefix))
            {
                changes.insert(k.clone(), c.clone());
            }
        }
        let changes = changes
            .into_iter()
            .map(|(k, c)| (k.get(prefix.len()..).unwrap_or_default().to_string(), c));
        overlay(rows, changes, parent)
    }

    /// The sequence number of an existing row, if any.
    fn existing_seq(
        &self,
        k: &str,
        kind: &str,
        scope: &str,
        key: &str,
    ) -> Result<Option<i64>, StoreError> {
        match self.lookup(k)? {
            Lookup::Pending(change) => return Ok(change.map(|s| s.seq)),
            Lookup::Cached(row) => return Ok(row.map(|r| r.seq)),
            Lookup::Miss(_) => {}
        }
        self.store
            .point_reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.with_snapshot(|c| {
            Ok(c.prepare_cached(
                "SELECT seq FROM docs WHERE svc=?1 AND kind=?2 AND scope=?3 AND key=?4",
            )?
            .query_row(params![self.svc, kind, scope, key], |r| r.get(0))
            .optional()?)
        })
    }

    /// Inserts or replaces a row. A replaced row keeps its sequence number.
    pub fn put(
        &self,
        kind: &str,
        scope: &str,
        key: &str,
        parent: Option<&str>,
        doc: &Value,
    ) -> Result<(), StoreError> {
        let parsed = std::sync::OnceLock::from(doc.clone());
        self.stage(kind, scope, key, parent, doc.to_string(), parsed)
    }

    /// [`Tx::put`] of a value serialized straight to its stored text: no
    /// JSON tree is built unless a read of the still-pending row asks for
    /// one (for writers that keep their own typed copy, such as S3's
    /// object cache).
    pub fn put_serialized<T: serde::Serialize + ?Sized>(
        &self,
        kind: &str,
        scope: &str,
        key: &str,
        parent: Option<&str>,
        value: &T,
    ) -> Result<(), StoreError> {
        let text = serde_json::to_string(value).map_err(|source| StoreError::Encode {
            kind: kind.to_string(),
            key: key.to_string(),
            source,
        })?;
        self.stage(kind, scope, key, parent, text, std::sync::OnceLock::new())
    }

    /// Adds a row to the transaction's changes; a replaced row keeps its
    /// sequence number.
    fn stage(
        &self,
        kind: &str,
        scope: &str,
        key: &str,
        parent: Option<&str>,
        text: String,
        doc: std::sync::OnceLock<Value>,
    ) -> Result<(), StoreError> {
        let k = row_key(self.svc, kind, scope, key);
        let seq = match self.existing_seq(&k, kind, scope, key)? {
            Some(s) => s,
            None => self.next_seq("docs")?,
        };
        let staged = Staged {
            parent: parent.map(str::to_string),
            seq,
            text,
            doc,
        };
        self.buf.borrow_mut().rows.insert(k, Some(Arc::new(staged)));
        Ok(())
    }

    /// Deletes a row; returns whether it existed.
    pub fn delete(&self, kind: &str, scope: &str, key: &str) -> Result<bool, StoreError> {
        let k = row_key(self.svc, kind, scope, key);
        let existed = self.existing_seq(&k, kind, scope, key)?.is_some();
        if existed {
            self.buf.borrow_mut().rows.insert(k, None);
        }
        Ok(existed)
    }

    /// Next value of a named counter (per service).
    pub fn next_seq(&self, name: &str) -> Result<i64, StoreError> {
        let full = format!("{}:{}", self.svc, name);
        let own = self.buf.borrow().seqs.get(&full).copied();
        let cur = match own {
            Some(v) => v,
            None => {
                let known = {
                    let p = self
                        .store
                        .shared
                        .pending
                        .lock()
                        .map_err(|_| StoreError::Poisoned)?;
                    p.counters.get(&full).copied()
                };
                match known {
                    Some(v) => v,
                    None => self
                        .with_snapshot(|c| {
                            Ok(c.prepare_cached("SELECT value FROM seqs WHERE name=?1")?
                                .query_row(params![full], |r| r.get::<_, i64>(0))
                                .optional()?)
                        })?
                        .unwrap_or(0),
                }
            }
        };
        let next = cur + 1;
        self.buf.borrow_mut().seqs.insert(full, next);
        Ok(next)
    }
}

#[cfg(test)]
mod tests;
