//! The pool of reader connections, and the read snapshots they keep.
//!
//! In WAL mode every read transaction takes a read lock on the shared
//! wal-index and gives it back at its end: two `fcntl` system calls, which
//! the profile of `GET /v1/workspaces/{id}` put at 9 % of the server's time,
//! more than all the B-tree descents of the query. So a reader keeps its read
//! transaction (its snapshot) open after a query, and the next query on it
//! reuses that snapshot when both hold:
//!
//! - **nothing was committed since** through this process's writer. Every
//!   commit of the writer connection bumps a counter from its WAL hook, after
//!   the commit and before the writer tells anyone it is done; a snapshot is
//!   reused only while the counter reads as when it was taken. So a read
//!   that starts after a write was acknowledged always sees that write.
//! - **it is younger than [`MAX_SNAPSHOT_AGE`]**, which bounds how late this
//!   process sees a commit made by another process on the same file (the
//!   admin CLI, say): at most that much.
//!
//! A held snapshot also holds back checkpoints (they cannot copy past it, and
//! a RESTART waits for it). So a snapshot that a commit made stale while it
//! was read is ended before the reader goes back to the pool (under a write
//! load, readers hold nothing between reads, as before); the checkpoint
//! thread ends the snapshots of idle readers before each of its rounds
//! ([`Readers::release_idle`]); and while it restarts the WAL, readers keep
//! no snapshot at all ([`Readers::release_snapshots`]).
//!
//! What a lookup found can be kept and handed to the next lookup of the
//! same key while the database is unchanged, since that lookup would read
//! the same rows: the [`ReadMemo`]. Each reader keeps its own. When a
//! reader takes a new snapshot it reads the connection's `PRAGMA
//! data_version`, which SQLite changes whenever another connection (our
//! writer, or another process) has committed since this one last looked,
//! and which is documented for exactly this: telling a cache that the
//! database changed. A memo read at another version is emptied. So a memo
//! entry is never older than the snapshot it is used in, and a read that
//! must see a commit (every read after one this process acknowledged: it
//! takes a new snapshot) finds the memo empty. A failed read empties it too.
//! `data_version` does not count the connection's own commits: readers
//! never write (`PRAGMA query_only`), which this relies on. That the pragma,
//! run first after the deferred `BEGIN`, reads the version of the snapshot
//! it takes is how SQLite compiles it (a read transaction, then the
//! version), and `the_memo_lives_as_long_as_the_database_is_unchanged`
//! fails if it ever does not.
//!
//! Kept this way, a read load stops reading the rows it reads most (the
//! token and the workspace of a point read) until the next commit; a write
//! load empties the memo at every commit and costs one `PRAGMA` per read.
//! Every commit empties it, including the one a minute that records a
//! token's use, so with many callers it is emptied far more often than in
//! the bench, where one token reads.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Conn;

use crate::store::db::DbError;

/// How many idle reader connections are kept.
const MAX_IDLE_READERS: usize = 8;

/// The longest a read snapshot is reused; see the module comment.
pub(super) const MAX_SNAPSHOT_AGE: Duration = Duration::from_millis(1);

/// Commits made through this process's writer, counted by its WAL hook.
#[derive(Default)]
pub(super) struct Commits(AtomicU64);

impl Commits {
    /// Called by the writer's WAL hook after each commit.
    pub(super) fn bump(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// Roughly how much memory a reader's memo may hold, by what its callers
/// say each entry takes. Past this the memo starts over: a bound on memory,
/// not an eviction policy worth tuning. (A bench workspace takes ~1 KiB, so
/// this holds a few thousand; one with 16 KiB of settings, far fewer.)
const MEMO_BYTES: usize = 4 << 20;

/// Lookups answered from the database as it is, by kind (the value's type)
/// and key; see the module comment. Filled and read by the store (tokens
/// and workspaces, `store/accounts.rs` and `store/workspaces`), emptied
/// here when the database changes.
#[derive(Default)]
pub struct ReadMemo {
    /// The `data_version` of the reader's connection the entries were read at.
    version: Option<i64>,
    entries: HashMap<Box<str>, Vec<Box<dyn Any + Send>>, foldhash::fast::RandomState>,
    /// What the entries take, as their callers told (a value replaced by
    /// another of its kind still counts: the memo starts over sooner).
    bytes: usize,
}

impl ReadMemo {
    /// The `T` kept under `key`.
    pub fn get<T: 'static>(&self, key: &str) -> Option<&T> {
        self.entries.get(key)?.iter().find_map(|v| v.downcast_ref())
    }

    /// Keeps `value` as what a lookup of `key` found; `bytes` is roughly
    /// the heap it takes.
    pub fn put<T: Send + 'static>(&mut self, key: &str, value: T, bytes: usize) {
        let bytes = bytes + key.len() + 64;
        if self.bytes + bytes > MEMO_BYTES {
            self.entries.clear();
            self.bytes = 0;
        }
        self.bytes += bytes;
        let kinds = self.entries.entry(key.into()).or_default();
        match kinds.iter_mut().find(|v| v.is::<T>()) {
            Some(v) => *v = Box::new(value),
            None => kinds.push(Box::new(value)),
        }
    }

    /// The `T` kept under `key`, or what `read` finds, then kept (`bytes`
    /// tells roughly the heap it takes; see [`ReadMemo::put`]).
    pub fn get_or_read<T: Clone + Send + 'static>(
        &mut self,
        key: &str,
        read: impl FnOnce() -> Result<T, DbError>,
        bytes: impl FnOnce(&T) -> usize,
    ) -> Result<T, DbError> {
        if let Some(found) = self.get::<T>(key) {
            return Ok(found.clone());
        }
        let found = read()?;
        self.put(key, found.clone(), bytes(&found));
        Ok(found)
    }

    /// Empties the memo unless it was read at `version`, and marks it so.
    fn at_version(&mut self, version: i64) {
        if self.version != Some(version) {
            self.clear();
            self.version = Some(version);
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
        self.version = None;
    }
}

struct Reader {
    conn: Conn,
    /// The open read transaction: the commit count before it began, and when.
    snapshot: Option<(u64, Instant)>,
    /// What lookups found, while the database is as they found it.
    memo: ReadMemo,
}

impl Reader {
    fn new(conn: Conn) -> Self {
        Reader {
            conn,
            snapshot: None,
            memo: ReadMemo::default(),
        }
    }

    fn end_snapshot(&mut self) {
        if self.snapshot.take().is_some() && !self.conn.is_autocommit() {
            // A read transaction has nothing to lose; if even this fails the
            // connection is not reused (the next read sees `is_autocommit`
            // false and drops it).
            let _ = self.conn.execute_batch("COMMIT");
        }
    }
}

pub(super) struct Readers {
    idle: Mutex<Vec<Reader>>,
    /// [`MAX_SNAPSHOT_AGE`], in microseconds (tests lengthen it).
    max_age_us: AtomicU64,
    /// Readers keep their snapshot between reads (cleared while a
    /// checkpoint restarts the WAL).
    hold: AtomicBool,
}

impl Default for Readers {
    fn default() -> Self {
        Readers {
            idle: Mutex::default(),
            max_age_us: AtomicU64::new(MAX_SNAPSHOT_AGE.as_micros() as u64),
            hold: AtomicBool::new(true),
        }
    }
}

impl Readers {
    /// Runs `f` on an idle reader (or a new one from `open`), inside a read
    /// snapshot that is current by the rules of the module comment.
    pub(super) fn read<T>(
        &self,
        commits: &Commits,
        open: impl Fn() -> Result<Conn, DbError>,
        f: impl FnOnce(&Conn, &mut ReadMemo) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let popped = self.idle.lock().expect("reader pool poisoned").pop();
        let mut reader = match popped {
            Some(r) => r,
            None => Reader::new(open()?),
        };
        let now = commits.get();
        if let Some((at_commit, since)) = reader.snapshot {
            let max_age = Duration::from_micros(self.max_age_us.load(Ordering::Relaxed));
            if at_commit != now || since.elapsed() >= max_age {
                reader.end_snapshot();
            }
        }
        if reader.snapshot.is_none() {
            if !reader.conn.is_autocommit() {
                // Left inside a transaction by a failure: not reused.
                reader = Reader::new(open()?);
            }
            // Deferred: the snapshot is taken by the first read, which is
            // the data version's; see the module comment.
            reader.conn.execute_batch("BEGIN")?;
            let version = super::find(&reader.conn, "PRAGMA data_version", &[], |r| r.int(0))?;
            reader.memo.at_version(version.ok_or(DbError::Decode(0))?);
            reader.snapshot = Some((now, Instant::now()));
        }
        let out = f(&reader.conn, &mut reader.memo);
        if out.is_err() {
            reader.memo.clear();
        }
        if out.is_err() || commits.get() != now {
            // Whatever went wrong, the next read starts afresh; and a
            // snapshot that a commit already made stale is of no use to
            // the next read, while it would hold back the checkpoints.
            reader.end_snapshot();
        }
        let mut idle = self.idle.lock().expect("reader pool poisoned");
        // Checked under the pool's lock, which `release_idle` takes after
        // clearing `hold`: no snapshot slips into the pool past it.
        if !self.hold.load(Ordering::SeqCst) {
            reader.end_snapshot();
        }
        if idle.len() < MAX_IDLE_READERS {
            idle.push(reader);
        }
        out
    }

    /// While a checkpoint restarts the WAL (it waits for every reader to
    /// leave the WAL, with our writers queued behind it), readers give
    /// their snapshot back after each read, as without reuse: a held
    /// snapshot would make the restart wait its full timeout (250 ms of
    /// stalled writes, seen in the bench's create, PATCH and add-member
    /// runs) and then fail. They hold snapshots again once the returned
    /// guard is dropped, however the checkpoint ends.
    pub(super) fn release_snapshots(&self) -> SnapshotsReleased<'_> {
        self.hold.store(false, Ordering::SeqCst);
        self.release_idle();
        SnapshotsReleased(self)
    }

    /// Ends the snapshots of the idle readers, so that a checkpoint can copy
    /// the whole WAL back and start it over.
    pub(super) fn release_idle(&self) {
        let mut idle = self.idle.lock().expect("reader pool poisoned");
        for r in idle.iter_mut() {
            r.end_snapshot();
        }
    }

    pub(super) fn idle_count(&self) -> usize {
        self.idle.lock().expect("reader pool poisoned").len()
    }

    #[cfg(test)]
    fn set_max_age(&self, age: Duration) {
        self.max_age_us
            .store(age.as_micros() as u64, Ordering::Relaxed);
    }
}

/// While alive, readers keep no snapshot between reads; see
/// [`Readers::release_snapshots`].
pub(super) struct SnapshotsReleased<'a>(&'a Readers);

impl Drop for SnapshotsReleased<'_> {
    fn drop(&mut self) {
        self.0.hold.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rusqlite::Connection;

    use super::super::checkpoint::checkpoint;
    use super::super::{execute, query, SqliteDb, Synchronous};
    use super::MAX_SNAPSHOT_AGE;
    use crate::store::db::Value;

    async fn open() -> (tempfile::TempDir, std::sync::Arc<SqliteDb>) {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("t.db"), Synchronous::Normal).unwrap();
        let w = db.begin().await.unwrap();
        execute(
            w.conn().unwrap(),
            "CREATE TABLE t (k TEXT PRIMARY KEY)",
            &[],
        )
        .unwrap();
        w.commit().await.unwrap();
        (dir, db)
    }

    async fn write(db: &SqliteDb, k: &str) {
        let w = db.begin().await.unwrap();
        execute(
            w.conn().unwrap(),
            "INSERT INTO t (k) VALUES ($1)",
            &[Value::from(k)],
        )
        .unwrap();
        w.commit().await.unwrap();
    }

    fn count(db: &SqliteDb) -> i64 {
        db.read(|c| query(c, "SELECT count(*) FROM t", &[]))
            .unwrap()[0]
            .int(0)
            .unwrap()
    }

    #[tokio::test]
    async fn a_read_after_an_acknowledged_write_sees_it_on_a_reused_reader() {
        let (dir, db) = open().await;
        // Snapshots are reused for as long as nothing commits through our
        // writer: only the commit counter tells a reader to move on.
        db.readers.set_max_age(Duration::from_secs(3600));
        for i in 0..100 {
            assert_eq!(count(&db), i);
            write(&db, &format!("k{i}")).await;
            assert_eq!(count(&db), i + 1);
        }
        assert_eq!(db.idle_readers(), 1);
        // The snapshot really is reused: a commit the counter does not see
        // (another process's) stays invisible to it. (The checkpoint thread
        // ends idle snapshots every 500 ms; one of a few tries is enough.)
        let other = Connection::open(dir.path().join("t.db")).unwrap();
        let stale = (0..5).any(|i| {
            let before = count(&db);
            other
                .execute("INSERT INTO t (k) VALUES (?1)", [format!("other{i}")])
                .unwrap();
            count(&db) == before
        });
        assert!(stale, "the reader took a new snapshot for every read");
    }

    #[tokio::test]
    async fn another_process_commit_is_seen_once_the_snapshot_is_older_than_the_bound() {
        let (dir, db) = open().await;
        assert_eq!(count(&db), 0);
        let other = Connection::open(dir.path().join("t.db")).unwrap();
        other.execute("INSERT INTO t (k) VALUES ('x')", []).unwrap();
        std::thread::sleep(MAX_SNAPSHOT_AGE + Duration::from_millis(1));
        assert_eq!(count(&db), 1);
    }

    #[tokio::test]
    async fn releasing_idle_readers_lets_a_checkpoint_start_the_wal_over() {
        let (dir, db) = open().await;
        write(&db, "a").await;
        // The idle reader now holds a snapshot that reads from the WAL.
        assert_eq!(count(&db), 1);
        let other = Connection::open(dir.path().join("t.db")).unwrap();
        other.busy_timeout(Duration::ZERO).unwrap();
        // Hold the writer, as the checkpoint thread does, so that no batch
        // gets in the way; only the reader's snapshot can.
        let state = db.writer.quiet().await;
        assert!(checkpoint(&other, "TRUNCATE").unwrap().busy);
        db.readers.release_idle();
        assert!(!checkpoint(&other, "TRUNCATE").unwrap().busy);
        drop(state);
        assert_eq!(count(&db), 1);
    }

    #[tokio::test]
    async fn while_snapshots_are_not_held_a_read_leaves_none_behind() {
        let (dir, db) = open().await;
        write(&db, "a").await;
        let other = Connection::open(dir.path().join("t.db")).unwrap();
        other.busy_timeout(Duration::ZERO).unwrap();
        let state = db.writer.quiet().await;
        let released = db.readers.release_snapshots();
        // A read during the restart window gives its snapshot back.
        assert_eq!(count(&db), 1);
        assert!(!checkpoint(&other, "TRUNCATE").unwrap().busy);
        drop(released);
        drop(state);
        assert_eq!(count(&db), 1);
    }

    #[tokio::test]
    async fn a_snapshot_made_stale_by_a_commit_is_not_kept_in_the_pool() {
        let (dir, db) = open().await;
        db.readers.set_max_age(Duration::from_secs(3600));
        write(&db, "a").await;
        let other = Connection::open(dir.path().join("t.db")).unwrap();
        other.busy_timeout(Duration::ZERO).unwrap();
        // A commit lands while the reader reads: its snapshot is stale.
        let n = db
            .read(|c| {
                let n = query(c, "SELECT count(*) FROM t", &[])?[0].int(0)?;
                db.wal.commits.bump();
                Ok(n)
            })
            .unwrap();
        assert_eq!(n, 1);
        let state = db.writer.quiet().await;
        assert!(!checkpoint(&other, "TRUNCATE").unwrap().busy);
        drop(state);
    }

    /// What a lookup kept in the memo, and whether this read found it there.
    fn memo_read(db: &SqliteDb) -> (i64, bool) {
        db.read_memo(|c, memo| {
            if let Some(n) = memo.get::<i64>("count") {
                return Ok((*n, true));
            }
            let n = query(c, "SELECT count(*) FROM t", &[])?[0].int(0)?;
            memo.put("count", n, 8);
            Ok((n, false))
        })
        .unwrap()
    }

    #[tokio::test]
    async fn the_memo_lives_as_long_as_the_database_is_unchanged() {
        let (dir, db) = open().await;
        db.readers.set_max_age(Duration::from_secs(3600));
        assert_eq!(memo_read(&db), (0, false));
        assert_eq!(memo_read(&db), (0, true));
        // A snapshot ended with nothing committed: the memo outlives it,
        // whether it ended by its age or by the checkpoint thread.
        db.readers.set_max_age(MAX_SNAPSHOT_AGE);
        std::thread::sleep(MAX_SNAPSHOT_AGE + Duration::from_millis(1));
        assert_eq!(memo_read(&db), (0, true));
        db.readers.release_idle();
        assert_eq!(memo_read(&db), (0, true));
        db.readers.set_max_age(Duration::from_secs(3600));
        // A commit through our writer ends the snapshot, and the next one
        // is at another data version: the memo is emptied.
        write(&db, "a").await;
        assert_eq!(memo_read(&db), (1, false));
        assert_eq!(memo_read(&db), (1, true));
        // Another process's commit: invisible to the snapshot, so to the
        // memo too, until the snapshot is ended (here by the checkpoint
        // thread's release of idle readers; otherwise by its age).
        let other = Connection::open(dir.path().join("t.db")).unwrap();
        other.execute("INSERT INTO t (k) VALUES ('b')", []).unwrap();
        db.readers.release_idle();
        assert_eq!(memo_read(&db), (2, false));
        // By its age.
        db.readers.set_max_age(MAX_SNAPSHOT_AGE);
        other.execute("INSERT INTO t (k) VALUES ('c')", []).unwrap();
        std::thread::sleep(MAX_SNAPSHOT_AGE + Duration::from_millis(1));
        assert_eq!(memo_read(&db), (3, false));
        // A failed read empties it as well.
        db.readers.set_max_age(Duration::from_secs(3600));
        assert_eq!(memo_read(&db), (3, true));
        let failed = db.read_memo(|c, _| query(c, "SELECT nope FROM t", &[]));
        assert!(failed.is_err());
        assert_eq!(memo_read(&db), (3, false));
    }

    #[test]
    fn the_memo_keeps_entries_by_key_and_kind_up_to_a_bound() {
        let mut memo = super::ReadMemo::default();
        memo.put("a", 1i64, 8);
        memo.put("a", "one".to_owned(), 3);
        assert_eq!(memo.get::<i64>("a"), Some(&1));
        assert_eq!(memo.get::<String>("a").map(String::as_str), Some("one"));
        assert_eq!(memo.get::<i64>("b"), None);
        memo.put("a", 2i64, 8);
        assert_eq!(memo.get::<i64>("a"), Some(&2));
        // Filled to just under the bound, it keeps everything.
        let used = memo.bytes;
        let each = 1000 + "k0".len() + 64;
        let room = (super::MEMO_BYTES - used) / each;
        for i in 0..room as i64 {
            memo.put(&format!("k{}", i % 10), i, 1000);
        }
        assert!(memo.bytes <= super::MEMO_BYTES);
        assert_eq!(memo.get::<String>("a").map(String::as_str), Some("one"));
        // Past it, the memo starts over.
        memo.put("big", 0i64, super::MEMO_BYTES - 100);
        assert_eq!(memo.get::<String>("a"), None);
        assert_eq!(memo.get::<i64>("k0"), None);
        assert_eq!(memo.get::<i64>("big"), Some(&0));
        // What `get_or_read` read once, it hands out from then on.
        let mut reads = 0;
        for _ in 0..2 {
            let read = || {
                reads += 1;
                Ok(5i64)
            };
            assert_eq!(memo.get_or_read("read", read, |_| 8).unwrap(), 5);
        }
        assert_eq!(reads, 1);
    }
}
