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
//! Writes go through [`ServiceStore::write`]: one `BEGIN IMMEDIATE`
//! transaction per mutating request, committed before the caller answers, so a
//! `kill -9` never loses an acknowledged change. Reads use a small pool of
//! read connections and never block on the writer (WAL).

pub mod blobs;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;

/// Errors from the store. These are infrastructure failures: services turn
/// them into `InternalFailure` (HTTP 500) answers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
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
];

/// The whole store: one writer connection and a pool of readers.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    durability: Durability,
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

impl Store {
    /// Opens (creating if needed) the database at `path` and applies pending
    /// migrations.
    pub fn open(path: &Path, durability: Durability) -> Result<Arc<Store>, StoreError> {
        let conn = Connection::open(path)?;
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
        Ok(Arc::new(Store {
            path: path.to_path_buf(),
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            durability,
        }))
    }

    /// The schema version after migrations.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let conn = self.writer.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// A handle for one service's rows.
    pub fn service(self: &Arc<Self>, svc: &'static str) -> ServiceStore {
        ServiceStore {
            store: Arc::clone(self),
            svc,
        }
    }

    fn writer(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.writer.lock().map_err(|_| StoreError::Poisoned)
    }

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = {
            let mut pool = self.readers.lock().map_err(|_| StoreError::Poisoned)?;
            pool.pop()
        };
        let conn = match conn {
            Some(c) => c,
            None => {
                let c = Connection::open(&self.path)?;
                configure(&c, self.durability)?;
                c
            }
        };
        let out = f(&conn);
        if let Ok(mut pool) = self.readers.lock() {
            if pool.len() < 8 {
                pool.push(conn);
            }
        }
        out
    }
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

/// An open write transaction confined to one service's rows.
#[derive(Debug)]
pub struct Tx<'a> {
    tx: rusqlite::Transaction<'a>,
    svc: &'static str,
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

fn get_in(
    conn: &Connection,
    svc: &str,
    kind: &str,
    scope: &str,
    key: &str,
) -> Result<Option<Row>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT key, parent, seq, doc FROM docs WHERE svc=?1 AND kind=?2 AND scope=?3 AND key=?4",
        )?
        .query_row(params![svc, kind, scope, key], |r| {
            Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?))
        })
        .optional()?;
    row.map(|(k, p, s, d)| row_from(kind, k, p, s, d))
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

    /// Runs `f` inside one `BEGIN IMMEDIATE` transaction; commits if it
    /// returns `Ok`, rolls back otherwise, so a validation failure inside `f`
    /// changes nothing. The outer result carries store failures, the inner
    /// one the closure's own outcome.
    pub fn write<T, E>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<Result<T, E>, StoreError> {
        let mut conn = self.store.writer()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let wrapped = Tx { tx, svc: self.svc };
        match f(&wrapped) {
            Ok(v) => {
                wrapped.tx.commit()?;
                Ok(Ok(v))
            }
            Err(e) => {
                wrapped.tx.rollback()?;
                Ok(Err(e))
            }
        }
    }

    /// Reads one row.
    pub fn get(&self, kind: &str, scope: &str, key: &str) -> Result<Option<Row>, StoreError> {
        self.store
            .with_reader(|c| get_in(c, self.svc, kind, scope, key))
    }

    /// Lists rows of a kind in a scope, ordered by key; optionally only
    /// those with the given parent.
    pub fn list(
        &self,
        kind: &str,
        scope: &str,
        parent: Option<&str>,
    ) -> Result<Vec<Row>, StoreError> {
        self.store
            .with_reader(|c| list_in(c, self.svc, kind, scope, parent))
    }

    /// Lists every row of a kind across all scopes (used at start-up to warm
    /// caches), as (scope, row).
    pub fn list_all_scopes(&self, kind: &str) -> Result<Vec<(String, Row)>, StoreError> {
        self.store.with_reader(|c| {
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
                .collect()
        })
    }
}

impl Tx<'_> {
    /// Reads one row inside the transaction (sees the transaction's writes).
    pub fn get(&self, kind: &str, scope: &str, key: &str) -> Result<Option<Row>, StoreError> {
        get_in(&self.tx, self.svc, kind, scope, key)
    }

    /// Lists rows inside the transaction.
    pub fn list(
        &self,
        kind: &str,
        scope: &str,
        parent: Option<&str>,
    ) -> Result<Vec<Row>, StoreError> {
        list_in(&self.tx, self.svc, kind, scope, parent)
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
        let text = doc.to_string();
        let existing: Option<i64> = self
            .tx
            .prepare_cached(
                "SELECT seq FROM docs WHERE svc=?1 AND kind=?2 AND scope=?3 AND key=?4",
            )?
            .query_row(params![self.svc, kind, scope, key], |r| r.get(0))
            .optional()?;
        let seq = match existing {
            Some(s) => s,
            None => self.next_seq("docs")?,
        };
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO docs (svc, kind, scope, key, parent, seq, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![self.svc, kind, scope, key, parent, seq, text])?;
        Ok(())
    }

    /// Deletes a row; returns whether it existed.
    pub fn delete(&self, kind: &str, scope: &str, key: &str) -> Result<bool, StoreError> {
        let n = self
            .tx
            .prepare_cached("DELETE FROM docs WHERE svc=?1 AND kind=?2 AND scope=?3 AND key=?4")?
            .execute(params![self.svc, kind, scope, key])?;
        Ok(n > 0)
    }

    /// Next value of a named counter (per service).
    pub fn next_seq(&self, name: &str) -> Result<i64, StoreError> {
        let full = format!("{}:{}", self.svc, name);
        let cur: Option<i64> = self
            .tx
            .prepare_cached("SELECT value FROM seqs WHERE name=?1")?
            .query_row(params![full], |r| r.get(0))
            .optional()?;
        let next = cur.unwrap_or(0) + 1;
        self.tx
            .prepare_cached("INSERT OR REPLACE INTO seqs (name, value) VALUES (?1, ?2)")?
            .execute(params![full, next])?;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn open() -> (tempfile::TempDir, Arc<Store>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state.db"), Durability::Normal).unwrap();
        (dir, store)
    }

    #[test]
    fn put_get_list_delete() {
        let (_d, s) = open();
        let iam = s.service("iam");
        iam.write(|tx| -> Result<(), StoreError> {
            tx.put("role", "111122223333", "b", None, &json!({"n": "b"}))?;
            tx.put("role", "111122223333", "a", None, &json!({"n": "a"}))?;
            tx.put("policy", "111122223333", "a/p", Some("a"), &json!({"p": 1}))?;
            Ok(())
        })
        .unwrap()
        .unwrap();
        let rows = iam.list("role", "111122223333", None).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(
            iam.get("role", "111122223333", "b").unwrap().unwrap().doc,
            json!({"n": "b"})
        );
        assert_eq!(
            iam.list("policy", "111122223333", Some("a")).unwrap().len(),
            1
        );
        assert!(iam.get("role", "other", "a").unwrap().is_none());
        iam.write(|tx| tx.delete("role", "111122223333", "a"))
            .unwrap()
            .unwrap();
        assert!(iam.get("role", "111122223333", "a").unwrap().is_none());
    }

    #[test]
    fn services_are_isolated() {
        let (_d, s) = open();
        s.service("iam")
            .write(|tx| tx.put("role", "acct", "r", None, &json!(1)))
            .unwrap()
            .unwrap();
        assert!(s.service("sts").get("role", "acct", "r").unwrap().is_none());
    }

    #[test]
    fn failed_write_changes_nothing() {
        let (_d, s) = open();
        let iam = s.service("iam");
        let r: Result<(), StoreError> = iam
            .write(|tx| {
                tx.put("role", "acct", "r", None, &json!(1))?;
                Err(StoreError::Poisoned)
            })
            .unwrap();
        assert!(r.is_err());
        assert!(iam.get("role", "acct", "r").unwrap().is_none());
    }

    #[test]
    fn survives_reopen_and_keeps_seq() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let s = Store::open(&path, Durability::Full).unwrap();
            s.service("iam")
                .write(|tx| tx.put("role", "acct", "r", None, &json!({"id": "AROA1"})))
                .unwrap()
                .unwrap();
        }
        let s = Store::open(&path, Durability::Normal).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let row = s.service("iam").get("role", "acct", "r").unwrap().unwrap();
        assert_eq!(row.doc, json!({"id": "AROA1"}));
        let seq = row.seq;
        s.service("iam")
            .write(|tx| tx.put("role", "acct", "r", None, &json!({"id": "AROA1", "x": 1})))
            .unwrap()
            .unwrap();
        assert_eq!(
            s.service("iam")
                .get("role", "acct", "r")
                .unwrap()
                .unwrap()
                .seq,
            seq
        );
    }
}
