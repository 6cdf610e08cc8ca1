//! Store tests over temp dirs: pending and flushed reads, crash replay,
//! concurrency, the read-only second opener.

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

fn docs_in_sqlite(path: &Path) -> usize {
    let c = Connection::open(path).unwrap();
    c.query_row("SELECT COUNT(*) FROM docs", [], |r| r.get::<_, i64>(0))
        .unwrap() as usize
}

fn journal_files(dir: &Path) -> usize {
    journal::list(dir, "state.db").unwrap().len()
}

#[test]
fn pending_changes_are_read_before_and_after_the_flush() {
    let (d, s) = open();
    let iam = s.service("iam");
    iam.write(|tx| -> Result<(), StoreError> {
        for k in ["a", "b", "c"] {
            tx.put("role", "acct", k, Some("p1"), &json!({"k": k}))?;
        }
        Ok(())
    })
    .unwrap()
    .unwrap();
    s.flush().unwrap();
    assert_eq!(docs_in_sqlite(&d.path().join("state.db")), 3);
    // Now pending over flushed: an update (moving b to another
    // parent), a delete, an insert.
    iam.write(|tx| -> Result<(), StoreError> {
        tx.put("role", "acct", "b", Some("p2"), &json!({"k": "b2"}))?;
        assert!(tx.delete("role", "acct", "a")?);
        assert!(!tx.delete("role", "acct", "zz")?);
        tx.put("role", "acct", "d", Some("p1"), &json!({"k": "d"}))?;
        // The transaction sees its own changes.
        assert!(tx.get("role", "acct", "a")?.is_none());
        let keys: Vec<String> = tx
            .list("role", "acct", Some("p1"))?
            .into_iter()
            .map(|r| r.key)
            .collect();
        assert_eq!(keys, ["c", "d"]);
        Ok(())
    })
    .unwrap()
    .unwrap();
    let check = |iam: &ServiceStore| {
        let keys = |p| -> Vec<String> {
            iam.list("role", "acct", p)
                .unwrap()
                .into_iter()
                .map(|r| r.key)
                .collect()
        };
        assert_eq!(keys(None), ["b", "c", "d"]);
        assert_eq!(keys(Some("p1")), ["c", "d"]);
        assert_eq!(keys(Some("p2")), ["b"]);
        assert!(iam.get("role", "acct", "a").unwrap().is_none());
        assert_eq!(
            iam.get("role", "acct", "b").unwrap().unwrap().doc,
            json!({"k": "b2"})
        );
        let all: Vec<(String, String)> = iam
            .list_all_scopes("role")
            .unwrap()
            .into_iter()
            .map(|(s, r)| (s, r.key))
            .collect();
        assert_eq!(all.len(), 3);
    };
    check(&iam);
    s.flush().unwrap();
    check(&iam);
    assert_eq!(docs_in_sqlite(&d.path().join("state.db")), 3);
    assert_eq!(journal_files(d.path()), 1, "only the current journal");
}

#[test]
fn cached_rows_and_absences_follow_every_commit() {
    let (_d, s) = open();
    let iam = s.service("iam");
    // Absent, cached as absent, then created: the read sees it.
    assert!(iam.get("role", "acct", "r").unwrap().is_none());
    assert!(iam.get("role", "acct", "r").unwrap().is_none());
    iam.write(|tx| {
        assert!(tx.get("role", "acct", "r")?.is_none());
        tx.put("role", "acct", "r", None, &json!(1))
    })
    .unwrap()
    .unwrap();
    assert_eq!(iam.get("role", "acct", "r").unwrap().unwrap().doc, json!(1));
    s.flush().unwrap();
    // Read from SQLite twice (the second from the cache), then updated
    // and deleted: every read follows.
    for _ in 0..2 {
        assert_eq!(iam.get("role", "acct", "r").unwrap().unwrap().doc, json!(1));
    }
    iam.write(|tx| tx.put("role", "acct", "r", None, &json!(2)))
        .unwrap()
        .unwrap();
    assert_eq!(iam.get("role", "acct", "r").unwrap().unwrap().doc, json!(2));
    s.flush().unwrap();
    assert_eq!(iam.get("role", "acct", "r").unwrap().unwrap().doc, json!(2));
    iam.write(|tx| tx.delete("role", "acct", "r"))
        .unwrap()
        .unwrap();
    s.flush().unwrap();
    assert!(iam.get("role", "acct", "r").unwrap().is_none());
    let seq = iam
        .write(|tx| -> Result<i64, StoreError> {
            tx.put("role", "acct", "r", None, &json!(3))?;
            Ok(tx.get("role", "acct", "r")?.map_or(0, |r| r.seq))
        })
        .unwrap()
        .unwrap();
    assert!(seq > 1, "a re-created row gets a new sequence number");
}

#[test]
fn a_crash_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let (seq_a, seq_b);
    {
        let s = Store::open(&path, Durability::Normal).unwrap();
        let iam = s.service("iam");
        iam.write(|tx| tx.put("role", "acct", "a", None, &json!(1)))
            .unwrap()
            .unwrap();
        s.flush().unwrap();
        iam.write(|tx| -> Result<(), StoreError> {
            tx.put("role", "acct", "b", None, &json!(2))?;
            tx.put("role", "acct", "a", None, &json!(3))?;
            tx.next_seq("event")?;
            tx.next_seq("event")?;
            Ok(())
        })
        .unwrap()
        .unwrap();
        seq_a = iam.get("role", "acct", "a").unwrap().unwrap().seq;
        seq_b = iam.get("role", "acct", "b").unwrap().unwrap().seq;
        s.crash();
    }
    assert!(journal_files(dir.path()) >= 1);
    // A torn record after the last acknowledged one (a write cut short).
    let (_, newest) = journal::list(dir.path(), "state.db")
        .unwrap()
        .pop()
        .unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&newest)
        .unwrap();
    std::io::Write::write_all(&mut f, &[9, 0, 0, 0, 1, 2]).unwrap();
    drop(f);
    let s = Store::open(&path, Durability::Normal).unwrap();
    assert_eq!(journal_files(dir.path()), 1, "replayed files are removed");
    let iam = s.service("iam");
    let a = iam.get("role", "acct", "a").unwrap().unwrap();
    assert_eq!((a.doc, a.seq), (json!(3), seq_a));
    assert_eq!(iam.get("role", "acct", "b").unwrap().unwrap().seq, seq_b);
    // Counters continue after the replayed values.
    let next = iam.write(|tx| tx.next_seq("event")).unwrap().unwrap();
    assert_eq!(next, 3);
    let new_seq = iam
        .write(|tx| -> Result<i64, StoreError> {
            tx.put("role", "acct", "c", None, &json!(4))?;
            Ok(tx.get("role", "acct", "c")?.map(|r| r.seq).unwrap_or(0))
        })
        .unwrap()
        .unwrap();
    assert!(new_seq > seq_a.max(seq_b));
}

#[test]
fn concurrent_writers_readers_and_the_flusher_agree() {
    let (_d, s) = open();
    std::thread::scope(|sc| {
        for w in 0..4 {
            let svc = s.service("iam");
            sc.spawn(move || {
                for i in 0..300 {
                    svc.write(|tx| -> Result<(), StoreError> {
                        let cur = tx
                            .get("count", "acct", "n")?
                            .and_then(|r| r.doc.as_i64())
                            .unwrap_or(0);
                        tx.put("count", "acct", "n", None, &json!(cur + 1))?;
                        tx.put("item", "acct", &format!("{w}-{i:03}"), None, &json!(i))?;
                        if i % 3 == 0 {
                            tx.delete("item", "acct", &format!("{w}-{:03}", i / 2))?;
                        }
                        Ok(())
                    })
                    .unwrap()
                    .unwrap();
                    if i % 50 == 0 {
                        std::thread::sleep(std::time::Duration::from_millis(3));
                    }
                }
            });
        }
        let svc = s.service("iam");
        sc.spawn(move || {
            for _ in 0..200 {
                let n = svc.list("item", "acct", None).unwrap().len();
                assert!(n <= 1200);
            }
        });
    });
    let iam = s.service("iam");
    assert_eq!(
        iam.get("count", "acct", "n").unwrap().unwrap().doc,
        json!(1200)
    );
    let before = iam.list("item", "acct", None).unwrap();
    s.flush().unwrap();
    let after = iam.list("item", "acct", None).unwrap();
    assert_eq!(before, after);
    // Every writer deleted the items i/2 for i % 3 == 0.
    let mut expected = 0;
    for i in 0..300 {
        let deleted = (0..300).any(|j: i32| j % 3 == 0 && j / 2 == i && j >= i);
        if !deleted {
            expected += 1;
        }
    }
    assert_eq!(after.len(), 4 * expected);
}

#[test]
fn a_second_opener_is_read_only_and_replays_nothing() {
    let (d, s) = open();
    let iam = s.service("iam");
    iam.write(|tx| tx.put("role", "acct", "a", None, &json!(1)))
        .unwrap()
        .unwrap();
    let other = Store::open(&d.path().join("state.db"), Durability::Normal).unwrap();
    assert!(other.read_only() && !s.read_only());
    // The second opener replayed and removed nothing: the owner's current
    // journal file is still there (the owner's own flusher, woken by the
    // commit, may be between rotating and removing: one or two files).
    assert!((1..=2).contains(&journal_files(d.path())));
    assert!(matches!(
        other
            .service("iam")
            .write(|tx| tx.put("role", "acct", "b", None, &json!(2))),
        Err(StoreError::ReadOnly)
    ));
    s.flush().unwrap();
    assert_eq!(
        other
            .service("iam")
            .get("role", "acct", "a")
            .unwrap()
            .unwrap()
            .doc,
        json!(1)
    );
    drop(other);
    assert!(iam.get("role", "acct", "b").unwrap().is_none());
    // Once the owner is gone, the next opener owns the store.
    drop(iam);
    drop(s);
    let next = Store::open(&d.path().join("state.db"), Durability::Normal).unwrap();
    next.service("iam")
        .write(|tx| tx.put("role", "acct", "b", None, &json!(2)))
        .unwrap()
        .unwrap();
}

#[test]
fn database_and_its_wal_are_0600() {
    use std::os::unix::fs::PermissionsExt;
    let (d, s) = open();
    s.service("iam")
        .write(|tx| tx.put("role", "acct", "r", None, &json!(1)))
        .unwrap()
        .unwrap();
    s.flush().unwrap();
    for name in ["state.db", "state.db-wal", "state.db-shm", "state.db.lock"] {
        let mode = std::fs::metadata(d.path().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    for (_, path) in journal::list(d.path(), "state.db").unwrap() {
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
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
    let page: i64 = Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "page_size", |r| r.get(0))
        .unwrap();
    assert_eq!(page, 8192);
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

#[test]
fn a_version_2_database_moves_its_documents_to_the_rowid_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "page_size", 8192).unwrap();
        for sql in &MIGRATIONS[..2] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        let mut put = conn
            .prepare("INSERT INTO docs (svc, kind, scope, key, parent, seq, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
            .unwrap();
        for (key, parent, seq) in [("b", None, 2), ("a", None, 7), ("a/p", Some("a"), 3)] {
            let kind = if parent.is_some() { "policy" } else { "role" };
            let doc = format!("{{\"k\":\"{key}\"}}");
            put.execute(params!["iam", kind, "acct", key, parent, seq, doc])
                .unwrap();
        }
        conn.execute("INSERT INTO seqs (name, value) VALUES ('iam:docs', 7)", [])
            .unwrap();
    }
    let s = Store::open(&path, Durability::Normal).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    let iam = s.service("iam");
    let roles = iam.list("role", "acct", None).unwrap();
    assert_eq!(
        roles
            .iter()
            .map(|r| (r.key.as_str(), r.seq))
            .collect::<Vec<_>>(),
        [("a", 7), ("b", 2)]
    );
    assert_eq!(
        iam.list("policy", "acct", Some("a")).unwrap()[0].doc,
        json!({"k": "a/p"})
    );
    // A replaced row keeps its sequence; a new one takes the next.
    iam.write(|tx| -> Result<(), StoreError> {
        tx.put("role", "acct", "b", None, &json!({"k": "b2"}))?;
        tx.put("role", "acct", "c", None, &json!({"k": "c"}))
    })
    .unwrap()
    .unwrap();
    drop(iam);
    drop(s);
    let conn = Connection::open(&path).unwrap();
    let sql: String = conn
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE name = 'docs'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!sql.contains("WITHOUT ROWID"), "{sql}");
    let rows: Vec<(String, i64, String)> = conn
        .prepare("SELECT key, seq, doc FROM docs WHERE kind = 'role' ORDER BY key")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        [
            ("a".into(), 7, r#"{"k":"a"}"#.into()),
            ("b".into(), 2, r#"{"k":"b2"}"#.into()),
            ("c".into(), 8, r#"{"k":"c"}"#.into()),
        ]
    );
    // The key stays unique.
    let dup = conn.execute(
        "INSERT INTO docs (svc, kind, scope, key, parent, seq, doc) VALUES ('iam', 'role', 'acct', 'a', NULL, 9, '{}')",
        [],
    );
    assert!(dup.is_err());
}

/// The journal record format.
mod journal_records {
    use crate::journal::*;

    fn sample() -> Vec<u8> {
        sealed(7)
    }

    fn sealed(gen: u64) -> Vec<u8> {
        let mut r = unsealed();
        seal(&mut r, gen);
        r
    }

    fn unsealed() -> Vec<u8> {
        encode(
            [
                OpRef::Put {
                    key: "iam\0role\0acct\0r",
                    parent: Some("p"),
                    seq: 7,
                    text: "{\"a\":1}",
                },
                OpRef::Delete {
                    key: "iam\0role\0acct\0old",
                },
                OpRef::Seq {
                    name: "iam:docs",
                    value: 8,
                },
            ]
            .into_iter(),
        )
    }

    #[test]
    fn records_round_trip() {
        let mut bytes = sample();
        bytes.extend(sample());
        let (records, left) = decode(&bytes, 7);
        assert_eq!(left, 0);
        assert_eq!(records.len(), 2);
        assert_eq!(
            records[0],
            vec![
                Op::Put {
                    key: "iam\0role\0acct\0r".into(),
                    parent: Some("p".into()),
                    seq: 7,
                    text: "{\"a\":1}".into()
                },
                Op::Delete {
                    key: "iam\0role\0acct\0old".into()
                },
                Op::Seq {
                    name: "iam:docs".into(),
                    value: 8
                },
            ]
        );
    }

    #[test]
    fn a_torn_or_corrupt_tail_ends_the_file() {
        let one = sample();
        let mut bytes = one.clone();
        bytes.extend_from_slice(&one[..one.len() - 3]);
        let (records, left) = decode(&bytes, 7);
        assert_eq!((records.len(), left), (1, one.len() - 3));
        let mut bad = one.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(decode(&bad, 7).0.len(), 0);
        // Every prefix decodes without panicking.
        for n in 0..one.len() {
            let _ = decode(&one[..n], 7);
        }
    }

    #[test]
    fn another_generations_records_end_the_file() {
        // A reused file: this generation's record, then an older one's.
        let mut bytes = sealed(9);
        bytes.extend(sealed(8));
        let (records, left) = decode(&bytes, 9);
        assert_eq!((records.len(), left), (1, sealed(8).len()));
        assert_eq!(decode(&sealed(8), 9).0.len(), 0);
        // Records sealed before the generation was checksummed still read.
        let mut legacy = unsealed();
        let crc = crc32fast::hash(&legacy[8..]);
        legacy[4..8].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(decode(&legacy, 9).0.len(), 1);
    }

    #[test]
    fn applied_files_are_reused_and_their_old_records_never_replay() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("state.db");
        let mut w = Writer::start(&db, 0, false).unwrap();
        for _ in 0..50 {
            w.append(&mut unsealed(), false).unwrap();
        }
        assert_eq!(w.rotate().unwrap(), 0);
        w.remove_upto(0).unwrap();
        let spare = d.path().join("state.db.pending-spare");
        assert!(spare.exists(), "the applied file is kept for reuse");
        assert_eq!(list(d.path(), "state.db").unwrap().len(), 1);
        w.append(&mut unsealed(), false).unwrap();
        assert_eq!(w.rotate().unwrap(), 1);
        assert!(!spare.exists(), "generation 2 reuses it");
        w.append(&mut unsealed(), false).unwrap();
        let files = list(d.path(), "state.db").unwrap();
        let (g, newest) = files.last().unwrap();
        assert_eq!(*g, 2);
        let bytes = std::fs::read(newest).unwrap();
        assert!(bytes.len() >= 50 * unsealed().len(), "overwritten in place");
        let (records, left) = decode(&bytes, 2);
        assert_eq!(records.len(), 1, "generation 0's records are not replayed");
        assert_eq!(left, bytes.len() - unsealed().len());
        // A restart never reuses a spare an earlier run left.
        w.remove_upto(1).unwrap();
        assert!(spare.exists());
        drop(w);
        let _w = Writer::start(&db, 3, false).unwrap();
        assert!(!spare.exists());
    }
}

/// Blob files.
mod blob_files {
    use crate::blobs::*;
    use std::fs;
    use std::io::Read;
    use std::io::Write;

    #[test]
    fn write_finish_read_remove() {
        let d = tempfile::tempdir().unwrap();
        let bs = BlobStore::open(d.path()).unwrap();
        let mut w = bs.begin().unwrap();
        w.write_all(b"hello ").unwrap();
        w.write_all(b"world").unwrap();
        assert_eq!(fs::read_dir(d.path().join("tmp")).unwrap().count(), 1);
        assert_eq!(w.finish("abcdef0123").unwrap(), 11);
        // temp file gone, blob in its fan-out directory
        assert_eq!(fs::read_dir(d.path().join("tmp")).unwrap().count(), 0);
        assert!(d.path().join("ab/cd/abcdef0123").is_file());
        let mut s = String::new();
        bs.open_blob("abcdef0123")
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "hello world");
        bs.remove("abcdef0123").unwrap();
        bs.remove("abcdef0123").unwrap();
        assert!(bs.open_blob("abcdef0123").is_err());
    }

    /// A pattern that shows misplaced or lost bytes.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// Writes `len` bytes through a direct writer in pieces of `piece`
    /// and reads the blob back.
    fn direct_round_trip(bs: &BlobStore, id: &str, len: usize, piece: usize) {
        let data = pattern(len);
        let mut w = bs.begin_direct().unwrap();
        for chunk in data.chunks(piece.max(1)) {
            w.write_all(chunk).unwrap();
        }
        assert_eq!(w.written(), len as u64);
        assert_eq!(w.finish(id).unwrap(), len as u64);
        let mut back = Vec::new();
        bs.open_blob(id).unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back.len(), len, "{id}: length");
        assert!(back == data, "{id}: bytes differ");
    }

    #[test]
    fn direct_writes_keep_every_byte_and_the_exact_length() {
        // /tmp (a disk file system here: O_DIRECT) and /dev/shm (tmpfs:
        // O_DIRECT or the buffered fallback, whichever it allows).
        let mut dirs = vec![tempfile::tempdir().unwrap()];
        if std::path::Path::new("/dev/shm").is_dir() {
            if let Ok(d) = tempfile::tempdir_in("/dev/shm") {
                dirs.push(d);
            }
        }
        for d in &dirs {
            let bs = BlobStore::open(d.path()).unwrap();
            let mib = 1 << 20;
            for (i, (len, piece)) in [
                (0, 1),
                (1, 1),
                (4095, 1000),
                (4096, 4096),
                (4097, 65_536),
                (mib, 65_552),
                (mib + 3, 7),
                (3 * mib + 4096 + 17, 65_552),
                (2 * mib, mib),
            ]
            .into_iter()
            .enumerate()
            {
                direct_round_trip(&bs, &format!("direct{i:02}"), len, piece);
            }
            assert_eq!(fs::read_dir(d.path().join("tmp")).unwrap().count(), 0);
            // A writer dropped unfinished leaves nothing.
            let mut w = bs.begin_direct().unwrap();
            w.write_all(&pattern(mib + 5)).unwrap();
            drop(w);
            assert_eq!(fs::read_dir(d.path().join("tmp")).unwrap().count(), 0);
        }
    }

    #[test]
    fn direct_reads_return_the_bytes_at_every_offset() {
        use std::io::{Seek, SeekFrom};
        let d = tempfile::tempdir().unwrap();
        let bs = BlobStore::open(d.path()).unwrap();
        let len = (2 << 20) + 4096 + 333;
        direct_round_trip(&bs, "readback", len, 65_552);
        let data = pattern(len);
        // Sequential reads in awkward pieces.
        let mut r = bs.open_direct("readback").unwrap();
        assert_eq!(r.len(), len as u64);
        let mut back = Vec::new();
        let mut piece = vec![0u8; 70_001];
        loop {
            let n = r.read(&mut piece).unwrap();
            if n == 0 {
                break;
            }
            back.extend_from_slice(&piece[..n]);
        }
        assert!(back == data);
        // Seeks: into the middle of a block, across a chunk, to the end.
        for from in [0, 1, 4095, 4096, (1 << 20) - 7, (2 << 20) + 4100, len - 1] {
            r.seek(SeekFrom::Start(from as u64)).unwrap();
            let want = (len - from).min(100_000);
            let mut got = vec![0u8; want];
            r.read_exact(&mut got).unwrap();
            assert!(got == data[from..from + want], "at {from}");
        }
        r.seek(SeekFrom::End(0)).unwrap();
        assert_eq!(r.read(&mut piece).unwrap(), 0);
        assert!(r.seek(SeekFrom::Current(-(len as i64) - 1)).is_err());
        // A blob written buffered reads the same way.
        let mut w = bs.begin().unwrap();
        w.write_all(&data[..5000]).unwrap();
        w.finish("buffered").unwrap();
        let mut small = Vec::new();
        bs.open_direct("buffered")
            .unwrap()
            .read_to_end(&mut small)
            .unwrap();
        assert!(small == data[..5000]);
    }

    #[test]
    fn new_ids_share_a_durable_fan_out_directory() {
        let d = tempfile::tempdir().unwrap();
        let bs = BlobStore::open(d.path()).unwrap();
        let a = bs.new_id("0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(a, "0123456789abcdef0123456789abcdef");
        assert!(d.path().join("01/23").is_dir());
        let b = bs.new_id("fedcba9876543210fedcba9876543210").unwrap();
        assert_eq!(b, "0123ba9876543210fedcba9876543210");
        let mut w = bs.begin().unwrap();
        w.write_all(b"x").unwrap();
        w.finish(&b).unwrap();
        assert!(d.path().join("01/23").join(&b).is_file());
        assert!(!d.path().join("fe").exists());
        assert!(bs.new_id("../../x/y").is_err());
        // After a run, a new prefix (and directory).
        for _ in 2..DIR_RUN {
            bs.new_id("fedcba9876543210fedcba9876543210").unwrap();
        }
        let c = bs.new_id("fedcba9876543210fedcba9876543210").unwrap();
        assert_eq!(c, "fedcba9876543210fedcba9876543210");
        assert!(d.path().join("fe/dc").is_dir());
    }

    #[test]
    fn dropped_writer_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let bs = BlobStore::open(d.path()).unwrap();
        {
            let mut w = bs.begin().unwrap();
            w.write_all(b"partial").unwrap();
        }
        assert_eq!(fs::read_dir(d.path().join("tmp")).unwrap().count(), 0);
        assert_eq!(bs.sweep(|_| true).unwrap(), 0);
    }

    #[test]
    fn rejects_path_like_ids() {
        let d = tempfile::tempdir().unwrap();
        let bs = BlobStore::open(d.path()).unwrap();
        assert!(bs.path("../../etc/passwd").is_err());
        assert!(bs.path("ab").is_err());
        let w = bs.begin().unwrap();
        assert!(w.finish("a/b/c/d").is_err());
    }

    #[test]
    fn sweep_removes_orphans_and_temps_keeps_referenced() {
        let d = tempfile::tempdir().unwrap();
        let bs = BlobStore::open(d.path()).unwrap();
        for id in ["keep0001", "orphan01", "keep0002"] {
            let mut w = bs.begin().unwrap();
            w.write_all(id.as_bytes()).unwrap();
            w.finish(id).unwrap();
        }
        // a temp file left by a crash
        fs::write(d.path().join("tmp/deadbeef"), b"x").unwrap();
        let n = bs.sweep(|id| id.starts_with("keep")).unwrap();
        assert_eq!(n, 2);
        assert!(bs.open_blob("keep0001").is_ok());
        assert!(bs.open_blob("keep0002").is_ok());
        assert!(bs.open_blob("orphan01").is_err());
        assert_eq!(fs::read_dir(d.path().join("tmp")).unwrap().count(), 0);
    }
}

#[test]
fn the_presence_filter_never_forgets_a_key_and_rarely_guesses() {
    let mut f = presence::Presence::new(0);
    f.set_ready();
    let n = 300_000;
    for i in 0..n {
        f.insert(&format!("s3\0obj\0bucket\0key-{i}"));
    }
    assert!(f.filters() > 1, "grew past its first capacity");
    for i in 0..n {
        assert!(!f.surely_absent(&format!("s3\0obj\0bucket\0key-{i}")));
    }
    let guessed = (0..100_000)
        .filter(|i| !f.surely_absent(&format!("s3\0obj\0bucket\0other-{i}")))
        .count();
    assert!(guessed < 3_000, "{guessed} false positives in 100,000");
    let unready = presence::Presence::new(0);
    assert!(
        !unready.surely_absent("anything"),
        "not ready: never absent"
    );
}

#[test]
fn new_keys_are_answered_from_memory_and_stored_rows_still_found_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let s = Store::open(&path, Durability::Normal).unwrap();
        let iam = s.service("iam");
        iam.write(|tx| -> Result<(), StoreError> {
            for i in 0..2_000 {
                tx.put("role", "1", &format!("r{i}"), None, &json!({"i": i}))?;
            }
            tx.delete("role", "1", "r7")?;
            Ok(())
        })
        .unwrap()
        .unwrap();
        s.flush().unwrap();
        // Journaled but not flushed: replayed at the next open.
        iam.write(|tx| tx.put("role", "1", "late", None, &json!({"late": true})))
            .unwrap()
            .unwrap();
        s.crash();
    }
    let s = Store::open(&path, Durability::Normal).unwrap();
    // Rows committed while the start-up scan runs are covered by their commit.
    let iam = s.service("iam");
    iam.write(|tx| tx.put("role", "1", "during", None, &json!({})))
        .unwrap()
        .unwrap();
    s.wait_presence_ready();
    for i in (0..2_000).filter(|i| *i != 7) {
        let row = iam.get("role", "1", &format!("r{i}")).unwrap();
        assert_eq!(row.unwrap().doc, json!({"i": i}), "r{i}");
    }
    assert!(iam.get("role", "1", "r7").unwrap().is_none());
    assert!(iam.get("role", "1", "late").unwrap().is_some());
    assert!(iam.get("role", "1", "during").unwrap().is_some());
    let before = s.sqlite_point_reads();
    for i in 0..500 {
        assert!(iam.get("role", "1", &format!("new{i}")).unwrap().is_none());
    }
    iam.write(|tx| -> Result<(), StoreError> {
        for i in 0..500 {
            assert!(tx.get("role", "1", &format!("new{i}"))?.is_none());
            tx.put("role", "1", &format!("new{i}"), None, &json!({"n": i}))?;
        }
        Ok(())
    })
    .unwrap()
    .unwrap();
    let probes = s.sqlite_point_reads() - before;
    assert!(
        probes < 50,
        "{probes} SQLite probes for 1,000 lookups of new keys"
    );
    // A deleted key may be re-created and is found again.
    iam.write(|tx| tx.put("role", "1", "r7", None, &json!({"again": 1})))
        .unwrap()
        .unwrap();
    assert_eq!(
        iam.get("role", "1", "r7").unwrap().unwrap().doc,
        json!({"again": 1})
    );
}

#[test]
fn rows_put_as_serialized_text_read_back_as_documents() {
    #[derive(serde::Serialize)]
    struct Doc {
        name: &'static str,
        sizes: Vec<u32>,
    }
    let (_d, s) = open();
    let s3 = s.service("s3");
    s3.write(|tx| {
        tx.put_serialized(
            "obj",
            "b",
            "k",
            Some("p"),
            &Doc {
                name: "k",
                sizes: vec![1, 2],
            },
        )
    })
    .unwrap()
    .unwrap();
    let want = json!({"name": "k", "sizes": [1, 2]});
    let pending = s3.get("obj", "b", "k").unwrap().unwrap();
    assert_eq!(
        (pending.doc, pending.parent.as_deref()),
        (want.clone(), Some("p"))
    );
    assert_eq!(s3.list("obj", "b", Some("p")).unwrap()[0].doc, want);
    s.flush().unwrap();
    assert_eq!(s3.get("obj", "b", "k").unwrap().unwrap().doc, want);
}

#[test]
fn the_idle_flusher_wakes_for_the_first_commit() {
    let (d, s) = open();
    let iam = s.service("iam");
    let db = d.path().join("state.db");
    let flushed_within = |n: usize| {
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_secs(5) {
            if docs_in_sqlite(&db) == n {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        false
    };
    for n in 1..=3 {
        // Idle long enough for the flusher to be asleep with nothing pending.
        std::thread::sleep(std::time::Duration::from_millis(60));
        iam.write(|tx| tx.put("role", "1", &format!("r{n}"), None, &json!({})))
            .unwrap()
            .unwrap();
        assert!(flushed_within(n), "commit {n} reached SQLite on its own");
    }
}

#[test]
fn typed_reads_agree_with_document_reads_wherever_the_row_is() {
    #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
    struct Doc {
        n: u32,
        name: String,
    }
    let (_d, s) = open();
    let s3 = s.service("s3");
    let doc = |n: u32| Doc {
        n,
        name: format!("k{n}"),
    };
    s3.write(|tx| -> Result<(), StoreError> {
        tx.put_serialized("obj", "b", "text-only", None, &doc(1))?;
        tx.put(
            "obj",
            "b",
            "with-tree",
            None,
            &json!({"n": 2, "name": "k2"}),
        )?;
        Ok(())
    })
    .unwrap()
    .unwrap();
    // Pending, as text and as a tree.
    assert_eq!(
        s3.get_typed::<Doc>("obj", "b", "text-only").unwrap(),
        Some(doc(1))
    );
    assert_eq!(
        s3.get_typed::<Doc>("obj", "b", "with-tree").unwrap(),
        Some(doc(2))
    );
    assert_eq!(s3.get_typed::<Doc>("obj", "b", "absent").unwrap(), None);
    s.flush().unwrap();
    // In SQLite (a probe), then cached by a document read.
    assert_eq!(
        s3.get_typed::<Doc>("obj", "b", "text-only").unwrap(),
        Some(doc(1))
    );
    assert!(s3.get("obj", "b", "with-tree").unwrap().is_some());
    assert_eq!(
        s3.get_typed::<Doc>("obj", "b", "with-tree").unwrap(),
        Some(doc(2))
    );
    s3.write(|tx| tx.delete("obj", "b", "text-only"))
        .unwrap()
        .unwrap();
    assert_eq!(s3.get_typed::<Doc>("obj", "b", "text-only").unwrap(), None);
    // A document of another shape is reported, not guessed.
    assert!(matches!(
        s3.get_typed::<Vec<u8>>("obj", "b", "with-tree"),
        Err(StoreError::Corrupt { .. })
    ));
}
