//! The one SQLite writer connection, with group commit.
//!
//! Each COMMIT in WAL mode appends every page the transaction dirtied to the
//! WAL and writes it out; under concurrent creates that per-commit work was
//! most of the server's time. So concurrent write transactions share one
//! SQLite transaction (a *batch*):
//!
//! * a writer takes the connection (an async mutex, FIFO); if no batch is
//!   open it opens one (`BEGIN IMMEDIATE`), and runs its own transaction (a
//!   *member*) inside `SAVEPOINT member`;
//! * a member commits with `RELEASE`; it rolls back (explicitly, on an
//!   error, or when its `Tx` is dropped) with `ROLLBACK TO` + `RELEASE`,
//!   which leaves the other members' work alone. A statement that fails
//!   (a unique violation, say) only undoes itself. A member that rolls back
//!   in a batch holding others' work then commits that batch on the spot:
//!   what it failed on may be their rows, and its caller must find them
//!   committed (on PostgreSQL too a unique violation is only raised once the
//!   other transaction committed);
//! * after its `RELEASE`, a member that sees writers waiting for the
//!   connection hands it on and awaits the batch's outcome. One that sees
//!   nobody yields once first (other requests ready to run may be about to
//!   write, and on one worker thread they cannot queue while it runs), then
//!   takes the connection back and runs the real `COMMIT` for everyone who
//!   joined meanwhile, publishing the outcome. A batch of
//!   [`MAX_BATCH_MEMBERS`], or whose first member has waited
//!   [`MAX_BATCH_WAIT`], is committed by its next member right away. **No
//!   member returns success before the COMMIT of its batch succeeded**; if
//!   that COMMIT fails (disk full, I/O error), every member of the batch gets
//!   the error and the batch is rolled back.
//!
//! What members see: the writes of the earlier members of their batch, not
//! yet committed (one connection). The batch is still serial, one member
//! after another, inside one IMMEDIATE transaction that holds the database's
//! write lock, so check-then-write rules (unique slugs, the last owner)
//! decide exactly as before; only if the batch's COMMIT then fails, a member
//! may have been refused (a 409, say) because of a write that never landed.
//!
//! Liveness: an open batch always has someone to commit it. Waiters are
//! counted before they queue (a member yielding before its COMMIT counts
//! too) and uncounted when they get the connection or give up (a drop
//! guard); whoever releases the connection with a batch open
//! and nobody counted commits it, and the last waiter to give up while a
//! batch is open commits it or has a small task do so. A member dropped while
//! holding the connection (its task cancelled, a panic) rolls its savepoint
//! back and releases the same way.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Mutex, OwnedMutexGuard};

use super::checkpoint::WalSignal;
use super::Conn;
use crate::store::db::DbError;

/// Members per batch, at most: bounds the latency the first member pays for
/// the ones after it.
const MAX_BATCH_MEMBERS: usize = 64;
/// A batch whose first member committed this long ago is committed by its
/// next member: the first member's wait, bounded.
const MAX_BATCH_WAIT: Duration = Duration::from_millis(10);

/// The outcome of a batch, once it is over. (`DbError` does not clone.)
type Outcome = Option<Result<(), Arc<str>>>;

/// The writer connection and the batch open on it, behind the writer mutex.
pub struct WriterState {
    // Declared before `wal`: the connection (and its WAL hook) goes first.
    pub(super) conn: Conn,
    batch: Option<Batch>,
    pub(super) wal: Arc<WalSignal>,
}

struct Batch {
    /// Members that released their savepoint, awaiting the COMMIT.
    members: usize,
    /// When the first member released its savepoint.
    first: Option<Instant>,
    outcome: watch::Sender<Outcome>,
}

/// The writer connection and who queues for it.
pub(super) struct Writer {
    pub(super) state: Arc<Mutex<WriterState>>,
    /// Writers queueing for the connection (counted before they queue).
    waiters: AtomicUsize,
    /// A batch is open. Stored by the holder of the connection; read by a
    /// waiter that gives up, which must not leave an open batch to nobody.
    batch_open: AtomicBool,
}

impl WriterState {
    pub(super) fn new(conn: Conn, wal: Arc<WalSignal>) -> Self {
        WriterState {
            conn,
            batch: None,
            wal,
        }
    }

    /// A transaction-control statement, through the connection's kept
    /// statements like every other.
    fn run(&self, sql: &str) -> Result<(), DbError> {
        super::execute(&self.conn, sql, &[]).map(|_| ())
    }

    /// Ends the open batch, if any: COMMIT (or ROLLBACK when nothing in it
    /// committed) and tell its members. Returns the COMMIT's own error.
    pub(super) fn end_batch(&mut self, writer: &Writer) -> Result<(), DbError> {
        let Some(batch) = self.batch.take() else {
            return Ok(());
        };
        let result = if self.conn.is_autocommit() {
            // SQLite rolls a transaction back by itself after some errors
            // (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM, ...).
            Err(DbError::Other(
                "the write batch was rolled back after an error in one of its transactions".into(),
            ))
        } else if batch.members == 0 {
            self.run("ROLLBACK")
        } else {
            self.run("COMMIT").inspect_err(|_| {
                let _ = self.run("ROLLBACK");
            })
        };
        writer.batch_open.store(false, SeqCst);
        batch.outcome.send_replace(Some(match &result {
            Ok(()) => Ok(()),
            Err(e) => Err(e.to_string().into()),
        }));
        result
    }

    /// Rolls the open batch back and fails its members.
    fn abort_batch(&mut self, writer: &Writer) {
        let _ = self.run("ROLLBACK");
        if let Some(batch) = self.batch.take() {
            writer.batch_open.store(false, SeqCst);
            batch.outcome.send_replace(Some(Err(
                "the write batch was rolled back: a transaction in it could not be undone".into(),
            )));
        }
    }

    /// A batch to run a member in: the open one, or a new one.
    fn open_batch(&mut self, writer: &Writer) -> Result<(), DbError> {
        if self.batch.is_none() && !self.conn.is_autocommit() {
            // A COMMIT and the ROLLBACK after it both failed: the connection
            // is still inside that transaction; leave it before a new batch.
            let _ = self.run("ROLLBACK");
        }
        if self.batch.is_some() && self.conn.is_autocommit() {
            let _ = self.end_batch(writer);
        }
        if self.batch.is_none() {
            self.run("BEGIN IMMEDIATE")?;
            self.batch = Some(Batch {
                members: 0,
                first: None,
                outcome: watch::channel(None).0,
            });
            writer.batch_open.store(true, SeqCst);
        }
        Ok(())
    }

    /// Called whenever a holder lets go of the connection: with nobody
    /// counted as waiting, nobody else would commit the open batch.
    fn release(&mut self, writer: &Writer) {
        if self.batch.is_some() && (self.conn.is_autocommit() || writer.waiters.load(SeqCst) == 0) {
            let _ = self.end_batch(writer);
        }
    }
}

/// Holds the connection; lets go of it through [`WriterState::release`].
struct Held {
    guard: OwnedMutexGuard<WriterState>,
    writer: Arc<Writer>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.guard.release(&self.writer);
    }
}

/// Counts a writer queueing for the connection, until it has it or gives up.
struct Waiting<'a> {
    writer: &'a Arc<Writer>,
    acquired: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let left = self.writer.waiters.fetch_sub(1, SeqCst) - 1;
        // A holder may have counted us and left its batch to us. (Its store
        // of `batch_open` comes before its load of `waiters`, our decrement
        // before our load of `batch_open`; with SeqCst one of us sees the
        // other.)
        if !self.acquired && left == 0 && self.writer.batch_open.load(SeqCst) {
            self.writer.flush_soon();
        }
    }
}

impl Writer {
    pub(super) fn new(state: WriterState) -> Arc<Self> {
        Arc::new(Writer {
            state: Arc::new(Mutex::new(state)),
            waiters: AtomicUsize::new(0),
            batch_open: AtomicBool::new(false),
        })
    }

    /// Counts the caller as waiting for the connection, until
    /// [`Writer::acquire`] gets it or the returned guard is dropped.
    fn count(self: &Arc<Self>) -> Waiting<'_> {
        self.waiters.fetch_add(1, SeqCst);
        Waiting {
            writer: self,
            acquired: false,
        }
    }

    async fn acquire(self: &Arc<Self>, mut waiting: Waiting<'_>) -> Held {
        let guard = self.state.clone().lock_owned().await;
        waiting.acquired = true;
        drop(waiting);
        Held {
            guard,
            writer: self.clone(),
        }
    }

    async fn lock(self: &Arc<Self>) -> Held {
        let waiting = self.count();
        self.acquire(waiting).await
    }

    /// Commits an open batch that a waiter who gave up may have been left:
    /// right here if the connection is free, else from a task that queues
    /// for it (whoever holds it now may already have counted on us).
    fn flush_soon(self: &Arc<Self>) {
        if let Ok(guard) = self.state.clone().try_lock_owned() {
            drop(Held {
                guard,
                writer: self.clone(),
            });
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let writer = self.clone();
            rt.spawn(async move {
                let guard = writer.state.clone().lock_owned().await;
                drop(Held { guard, writer });
            });
        }
    }

    /// Starts a write transaction: a member of the open batch, or of a new one.
    pub(super) async fn begin(self: &Arc<Self>) -> Result<SqliteWriter, DbError> {
        let mut held = self.lock().await;
        held.guard.open_batch(self)?;
        held.guard.run("SAVEPOINT member")?;
        Ok(SqliteWriter {
            held,
            in_savepoint: true,
        })
    }

    /// The connection with no batch open, for a checkpoint (blocking: for
    /// the checkpoint thread).
    pub(super) fn blocking_quiet(&self) -> tokio::sync::MutexGuard<'_, WriterState> {
        let mut state = self.state.blocking_lock();
        let _ = state.end_batch(self);
        state
    }

    /// The connection with no batch open, for a checkpoint.
    pub(super) async fn quiet(&self) -> OwnedMutexGuard<WriterState> {
        let mut state = self.state.clone().lock_owned().await;
        let _ = state.end_batch(self);
        state
    }

    #[cfg(test)]
    fn waiters(&self) -> usize {
        self.waiters.load(SeqCst)
    }
}

/// One write transaction: a member of a batch, holding the writer
/// connection until it commits or is dropped (which rolls it back).
pub struct SqliteWriter {
    held: Held,
    in_savepoint: bool,
}

impl SqliteWriter {
    /// The connection, for this transaction's statements.
    pub fn conn(&self) -> Result<&Conn, DbError> {
        let conn = &self.held.guard.conn;
        // After an error that made SQLite roll the whole transaction back, a
        // statement would run (and commit) on its own.
        if conn.is_autocommit() {
            return Err(DbError::Other(
                "the transaction was rolled back after an error".into(),
            ));
        }
        Ok(conn)
    }

    /// Commits this member, and returns once its batch is committed.
    pub async fn commit(mut self) -> Result<(), DbError> {
        self.held.guard.run("RELEASE member")?;
        self.in_savepoint = false;
        let state = &mut *self.held.guard;
        let Some(batch) = state.batch.as_mut() else {
            return Err(DbError::Other("no write batch is open".into()));
        };
        batch.members += 1;
        let first = *batch.first.get_or_insert_with(Instant::now);
        if batch.members >= MAX_BATCH_MEMBERS || first.elapsed() >= MAX_BATCH_WAIT {
            return state.end_batch(&self.held.writer);
        }
        let mut outcome = batch.outcome.subscribe();
        let writer = self.held.writer.clone();
        if writer.waiters.load(SeqCst) > 0 {
            // Hand the connection on; the batch is committed by a later
            // member (or whoever lets go of it with nobody waiting).
            drop(self);
        } else {
            // Nobody queues yet, but on a busy server other requests are
            // ready to run and about to write (on a single worker thread
            // they cannot even queue while this task runs): give them one
            // turn to join the batch, counted as waiting meanwhile so that
            // they leave the COMMIT to us.
            let waiting = writer.count();
            drop(self);
            tokio::task::yield_now().await;
            let mut held = writer.acquire(waiting).await;
            if outcome.borrow().is_none() {
                // Still open (no cap ended it meanwhile), so still ours.
                return held.guard.end_batch(&writer);
            }
            drop(held);
        }
        let result = match outcome.wait_for(Option::is_some).await {
            Ok(done) => match &*done {
                Some(Ok(())) => Ok(()),
                Some(Err(e)) => Err(DbError::Other(format!(
                    "commit of the write batch failed: {e}"
                ))),
                None => unreachable!("wait_for returns a published outcome"),
            },
            Err(_) => Err(DbError::Other("the write batch was abandoned".into())),
        };
        result
    }
}

impl Drop for SqliteWriter {
    fn drop(&mut self) {
        if self.in_savepoint {
            let Held { guard, writer } = &mut self.held;
            if guard.run("ROLLBACK TO member").is_err() && !guard.conn.is_autocommit() {
                // The member's writes could not be undone: releasing the
                // savepoint would fold them into the batch's COMMIT. The
                // whole batch is rolled back instead and its members fail.
                guard.abort_batch(writer);
                return;
            }
            let _ = guard.run("RELEASE member");
            // What this transaction saw and failed or returned on (a unique
            // violation, say) may be the work of earlier members, not yet
            // committed: commit it before the caller learns of it (and reads
            // it back through another connection, as the idempotency keys do).
            if guard.batch.as_ref().is_some_and(|b| b.members > 0) {
                let _ = guard.end_batch(writer);
            }
        }
        // Then `held` lets go of the connection (committing the batch if
        // nobody else will).
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{execute, query, SqliteDb, Synchronous};
    use crate::store::db::{DbError, Value};

    async fn open() -> (tempfile::TempDir, std::sync::Arc<SqliteDb>) {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("t.db"), Synchronous::Normal).unwrap();
        let w = db.begin().await.unwrap();
        for sql in [
            "CREATE TABLE t (k TEXT PRIMARY KEY)",
            "CREATE TABLE child (k TEXT REFERENCES t (k) DEFERRABLE INITIALLY DEFERRED)",
        ] {
            execute(w.conn().unwrap(), sql, &[]).unwrap();
        }
        w.commit().await.unwrap();
        (dir, db)
    }

    fn insert(w: &super::SqliteWriter, table: &str, k: &str) -> Result<u64, DbError> {
        execute(
            w.conn()?,
            &format!("INSERT INTO {table} (k) VALUES ($1)"),
            &[Value::from(k)],
        )
    }

    /// The keys of `t`, as a reader sees them (committed rows only).
    fn keys(db: &SqliteDb) -> Vec<String> {
        db.read(|c| query(c, "SELECT k FROM t ORDER BY k", &[]))
            .unwrap()
            .iter()
            .map(|r| r.text(0).unwrap())
            .collect()
    }

    async fn until_waiting(db: &SqliteDb, n: usize) {
        for _ in 0..10_000 {
            if db.writer.waiters() == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("never {n} waiting writers");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_unique_violation_fails_only_its_own_member_of_the_batch() {
        let (_dir, db) = open().await;
        let a = db.begin().await.unwrap();
        insert(&a, "t", "x").unwrap();
        let b = tokio::spawn({
            let db = db.clone();
            async move {
                let w = db.begin().await?;
                // Sees `x` from `a`: same batch, not committed yet.
                assert!(keys(&db).is_empty(), "a's batch was committed");
                let failed = insert(&w, "t", "x");
                drop(w);
                // ...and what it failed on is committed once it returns.
                assert_eq!(keys(&db), ["x"]);
                failed.map(drop)
            }
        });
        until_waiting(&db, 1).await;
        let c = tokio::spawn({
            let db = db.clone();
            async move {
                let w = db.begin().await?;
                insert(&w, "t", "y")?;
                w.commit().await
            }
        });
        until_waiting(&db, 2).await;
        // `b` and `c` queue: `a` hands the connection on and awaits the batch.
        a.commit().await.unwrap();
        assert_eq!(
            b.await.unwrap().unwrap_err().unique_constraint(),
            Some("t_k_key")
        );
        c.await.unwrap().unwrap();
        assert_eq!(keys(&db), ["x", "y"]);
    }

    // One worker thread, as on the benchmark's pinned server: a writer that
    // is ready to run joins the batch of the one committing before it.
    #[tokio::test]
    async fn writers_ready_to_run_join_the_batch_on_a_single_thread() {
        let (_dir, db) = open().await;
        let a = db.begin().await.unwrap();
        insert(&a, "t", "a").unwrap();
        // Spawned, not yet run: it cannot queue for the writer.
        let b = tokio::spawn({
            let db = db.clone();
            async move {
                let w = db.begin().await?;
                assert!(keys(&db).is_empty(), "a's batch was committed alone");
                insert(&w, "t", "b")?;
                w.commit().await
            }
        });
        a.commit().await.unwrap();
        b.await.unwrap().unwrap();
        assert_eq!(keys(&db), ["a", "b"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_member_returns_before_its_batch_is_committed() {
        let (_dir, db) = open().await;
        let a = db.begin().await.unwrap();
        insert(&a, "t", "a").unwrap();
        let (inside_tx, inside) = tokio::sync::oneshot::channel();
        let (go, go_rx) = tokio::sync::oneshot::channel::<()>();
        // `b` takes the connection after `a`, writes, and is dropped while
        // holding it (as when its request is cancelled).
        let b = tokio::spawn({
            let db = db.clone();
            async move {
                let w = db.begin().await.unwrap();
                insert(&w, "t", "b").unwrap();
                inside_tx.send(()).unwrap();
                go_rx.await.unwrap();
                drop(w);
            }
        });
        until_waiting(&db, 1).await;
        let c = tokio::spawn({
            let db = db.clone();
            async move {
                let w = db.begin().await?;
                insert(&w, "t", "c")?;
                w.commit().await
            }
        });
        until_waiting(&db, 2).await;
        let a_done = tokio::spawn(a.commit());
        inside.await.unwrap();
        // `a` released its savepoint but its batch is still open: it has
        // not returned, and no reader sees its row.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!a_done.is_finished());
        assert!(keys(&db).is_empty());
        go.send(()).unwrap();
        b.await.unwrap();
        c.await.unwrap().unwrap();
        a_done.await.unwrap().unwrap();
        assert_eq!(keys(&db), ["a", "c"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_member_dropped_holding_the_connection_commits_the_batch_it_leaves() {
        let (_dir, db) = open().await;
        let a = db.begin().await.unwrap();
        insert(&a, "t", "a").unwrap();
        let b = tokio::spawn({
            let db = db.clone();
            async move {
                let w = db.begin().await.unwrap();
                insert(&w, "t", "b").unwrap();
                panic!("the request handler panics while holding the writer");
            }
        });
        until_waiting(&db, 1).await;
        tokio::time::timeout(Duration::from_secs(10), a.commit())
            .await
            .expect("a's batch was left open")
            .unwrap();
        assert!(b.await.unwrap_err().is_panic());
        assert_eq!(keys(&db), ["a"]);
    }

    // A current-thread runtime: nothing runs between the steps below unless
    // the test yields.
    #[tokio::test]
    async fn a_waiter_that_gives_up_does_not_leave_the_batch_open() {
        let (_dir, db) = open().await;
        let a = db.begin().await.unwrap();
        insert(&a, "t", "a").unwrap();
        let b = tokio::spawn({
            let db = db.clone();
            async move {
                let w = db.begin().await.unwrap();
                insert(&w, "t", "b").unwrap();
                w.commit().await.unwrap();
            }
        });
        until_waiting(&db, 1).await;
        // `a` commits, sees `b` waiting, hands the connection to it...
        let mut a_done = Box::pin(a.commit());
        tokio::select! {
            biased;
            _ = &mut a_done => panic!("a committed alone with b waiting"),
            _ = std::future::ready(()) => {}
        }
        // ...and `b` gives up before it ran again (its request was cancelled).
        b.abort();
        tokio::time::timeout(Duration::from_secs(10), a_done)
            .await
            .expect("a's batch was left open")
            .unwrap();
        assert!(b.await.unwrap_err().is_cancelled());
        assert_eq!(keys(&db), ["a"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn when_the_batch_commit_fails_every_member_fails() {
        let (_dir, db) = open().await;
        let a = db.begin().await.unwrap();
        insert(&a, "t", "a").unwrap();
        let b = tokio::spawn({
            let db = db.clone();
            async move {
                let w = db.begin().await?;
                // A deferred foreign key: only the batch's COMMIT checks it.
                insert(&w, "child", "no such parent")?;
                w.commit().await
            }
        });
        until_waiting(&db, 1).await;
        let a_result = a.commit().await;
        let b_result = b.await.unwrap();
        assert!(a_result.is_err(), "{a_result:?}");
        assert!(b_result.is_err(), "{b_result:?}");
        assert!(keys(&db).is_empty());
        // The writer goes on with a fresh batch.
        let w = db.begin().await.unwrap();
        insert(&w, "t", "later").unwrap();
        w.commit().await.unwrap();
        assert_eq!(keys(&db), ["later"]);
    }
}
