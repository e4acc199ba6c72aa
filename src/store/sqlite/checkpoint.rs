//! WAL checkpoints, and what keeps the WAL small under sustained writes.
//!
//! The writer runs with `wal_autocheckpoint=0` (an automatic checkpoint would
//! run inside some request's COMMIT, fsyncs included); a thread of its own
//! runs `PRAGMA wal_checkpoint(PASSIVE)` every [`CHECKPOINT_EVERY`]. That
//! copies frames back into the database file, but a WAL only starts over
//! from its beginning when a writer begins while every frame is backfilled,
//! and under a steady stream of commits there are always new frames: the
//! file grew to gigabytes, and a long WAL slows every page lookup (the
//! wal-index is searched one 4,096-frame block at a time).
//!
//! So once the WAL holds [`RESTART_AT_BYTES`] the thread takes our own writer
//! mutex, which makes the writers queue on the async mutex (instead of
//! spinning in SQLite's busy handler on a runtime thread), and runs
//! `wal_checkpoint(RESTART)`: backfill the few frames the PASSIVE run left,
//! wait for readers to leave the WAL. The next commit then writes from the
//! start of the file, and `journal_size_limit` cuts a file that overshot back
//! to [`JOURNAL_SIZE_LIMIT`]. A WAL hook on the writer wakes the thread
//! each time the WAL grew by a quarter of the mark, so that the PASSIVE runs
//! keep up with a fast writer and the RESTART has little left to copy.
//!
//! Little left to copy is not little left to sync: SQLite syncs the database
//! file only in a checkpoint that copied the whole WAL back, so the RESTART
//! used to `fsync` every page the PASSIVE runs had copied since the last one
//! (45-66 ms on the bench host, every writer waiting). So the thread syncs
//! the database file itself after each PASSIVE run that copied frames
//! ([`copy_back`]), with the writers running, except the run that finds the
//! WAL at the restart mark: the RESTART follows at once and syncs that
//! round's pages itself, so it is left with one round's pages at most.

use std::os::raw::{c_char, c_int, c_void};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Duration;

use rusqlite::{ffi, Connection};

use super::readers::{Commits, Readers};
use super::writer::{Writer, WriterState};
use crate::store::db::DbError;

/// How often the PASSIVE checkpoint runs.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// WAL size (frames × page size) at which the log is restarted.
pub(super) const RESTART_AT_BYTES: i64 = 16 << 20;
/// `PRAGMA journal_size_limit`: a WAL that grew past this is truncated back
/// to it when it starts over.
pub(super) const JOURNAL_SIZE_LIMIT: i64 = 32 << 20;
/// How long a RESTART checkpoint waits for readers (and another process's
/// writer) while our writers queue behind it; a busy RESTART is retried on
/// the next round.
const RESTART_BUSY_TIMEOUT: Duration = Duration::from_millis(250);

/// What a `PRAGMA wal_checkpoint` answered.
#[derive(Debug, Clone, Copy)]
pub(super) struct Checkpointed {
    /// Could not finish (readers or a writer were in the way).
    pub busy: bool,
    /// Frames in the WAL.
    pub log: i64,
    /// Of those, frames copied back into the database.
    pub backfilled: i64,
}

pub(super) fn checkpoint(conn: &Connection, mode: &str) -> Result<Checkpointed, DbError> {
    Ok(
        conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            Ok(Checkpointed {
                busy: r.get::<_, i64>(0)? != 0,
                log: r.get(1)?,
                backfilled: r.get(2)?,
            })
        })?,
    )
}

/// Shared by the writer's WAL hook, the checkpoint thread and the database
/// handle (which closes it).
pub(super) struct WalSignal {
    restart_frames: i64,
    /// The hook wakes the thread every this many new frames, so that PASSIVE
    /// runs keep up with a fast writer and a RESTART has little left to copy
    /// while the writers wait.
    step_frames: i64,
    /// WAL length at the last wake-up (only the writer's hook touches it).
    noted: AtomicI64,
    /// Woken, and the thread has not looked yet.
    pending: AtomicBool,
    /// Every commit of the writer, for the readers' snapshots.
    pub(super) commits: Commits,
    closed: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

impl WalSignal {
    pub(super) fn new(page_size: i64) -> Arc<Self> {
        let restart_frames = (RESTART_AT_BYTES / page_size.max(512)).max(4);
        Arc::new(WalSignal {
            restart_frames,
            step_frames: restart_frames / 4,
            noted: AtomicI64::new(0),
            pending: AtomicBool::new(false),
            commits: Commits::default(),
            closed: AtomicBool::new(false),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        })
    }

    /// Called after every commit of the writer with the WAL's length in
    /// frames: cheap unless it grew by another step.
    fn note(&self, frames: c_int) {
        self.commits.bump();
        let frames = i64::from(frames);
        let noted = self.noted.load(Ordering::Relaxed);
        if frames < noted {
            // The WAL started over.
            self.noted.store(0, Ordering::Relaxed);
        } else if frames >= noted + self.step_frames {
            self.noted.store(frames, Ordering::Relaxed);
            self.pending.store(true, Ordering::Release);
            let _held = self.lock.lock();
            self.wake.notify_one();
        }
    }

    /// Stops the checkpoint thread.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let _held = self.lock.lock();
        self.wake.notify_one();
    }

    /// Sleeps until the next round; false once closed.
    fn wait(&self, at_most: Duration) -> bool {
        if let Ok(held) = self.lock.lock() {
            let _ = self.wake.wait_timeout_while(held, at_most, |_| {
                !self.pending.load(Ordering::Acquire) && !self.closed.load(Ordering::Acquire)
            });
        }
        self.pending.store(false, Ordering::Release);
        !self.closed.load(Ordering::Acquire)
    }
}

/// Has the writer connection tell `signal` the WAL's size after each commit.
/// (This replaces SQLite's autocheckpoint hook, which is off anyway; a later
/// `PRAGMA wal_autocheckpoint` would replace ours.)
pub(super) fn install_wal_hook(state: &WriterState) {
    unsafe extern "C" fn hook(
        arg: *mut c_void,
        _db: *mut ffi::sqlite3,
        _name: *const c_char,
        frames: c_int,
    ) -> c_int {
        // SAFETY: `arg` is the `WalSignal` that `WriterState` keeps alive
        // for as long as the connection (it is dropped after `conn`).
        let signal = unsafe { &*(arg as *const WalSignal) };
        signal.note(frames);
        ffi::SQLITE_OK
    }
    // SAFETY: the handle is the live connection owned by `state`; the
    // argument outlives it (see above), and the hook only reads atomics and
    // signals a condvar.
    unsafe {
        ffi::sqlite3_wal_hook(
            state.conn.handle(),
            Some(hook),
            Arc::as_ptr(&state.wal) as *mut c_void,
        );
    }
}

/// Checkpoints the WAL from a thread of its own, so no request pays for the
/// fsync and copy-back a checkpoint does; restarts the WAL when it grew
/// large (see the module comment). Holds the writer only weakly: the thread
/// ends with the database handle.
pub(super) fn spawn_checkpointer(
    path: PathBuf,
    signal: Arc<WalSignal>,
    writer: Weak<Writer>,
    readers: Weak<Readers>,
) {
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let Ok(conn) = Connection::open(&path) else {
                return;
            };
            let _ = conn.busy_timeout(RESTART_BUSY_TIMEOUT);
            // Only to flush the file's dirty pages (see `copy_back`); SQLite
            // does all the writing through its own handles.
            let db_file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .ok();
            let mut restarted_at = -1;
            let mut synced = None;
            while signal.wait(CHECKPOINT_EVERY) {
                // Idle readers' snapshots would stop the copy short.
                match readers.upgrade() {
                    Some(r) => r.release_idle(),
                    None => return,
                }
                let copied = copy_back(&conn, db_file.as_ref(), &mut synced, signal.restart_frames);
                let passive = match copied {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "sqlite checkpoint failed");
                        continue;
                    }
                };
                // The counts are from the start of the run: with writes
                // coming in meanwhile, the WAL is never found fully copied
                // when a writer begins, and so never starts over. After our
                // RESTART with no write since, it is (and will).
                if passive.log < signal.restart_frames || passive.log == restarted_at {
                    continue;
                }
                let Some(writer) = writer.upgrade() else {
                    return;
                };
                // Ends the open write batch, if any: a RESTART waits for
                // it otherwise.
                let state = writer.blocking_quiet();
                let pool = readers.upgrade();
                let released = pool.as_deref().map(|r| r.release_snapshots());
                let outcome = checkpoint(&conn, "RESTART");
                drop(released);
                match outcome {
                    Ok(c) if !c.busy => {
                        drop(state);
                        restarted_at = c.log;
                    }
                    outcome => {
                        drop(state);
                        match outcome {
                            Err(e) => tracing::warn!(error = %e, "sqlite WAL restart failed"),
                            Ok(c) => tracing::debug!(frames = c.log, "sqlite WAL restart busy"),
                        }
                        // The hook keeps signalling while the WAL is long:
                        // give the readers in the way a round to finish.
                        std::thread::sleep(CHECKPOINT_EVERY);
                    }
                }
            }
        })
        .expect("spawn checkpoint thread");
}

/// A PASSIVE checkpoint, then, if it copied frames since the last sync,
/// an `fsync` of the database file (`file`, a handle of this thread's own),
/// all without holding any lock. SQLite itself syncs the database file only
/// in a checkpoint that copied the whole WAL back, which under writes is
/// only the RESTART, run while every writer waits: it used to sync all that
/// the PASSIVE runs had copied since the last one (45-66 ms seen in the
/// bench's add-member run, its p99). Synced as it goes, that is one round's
/// pages at most. An extra `fsync` never weakens what SQLite promises.
///
/// No sync when the WAL holds `restart_frames` or more: then either the
/// RESTART runs next and syncs these pages itself (a sync first would let
/// the writers run on while the disk works, and the WAL grow past its
/// bound: CI's WAL-bound test saw 68 MiB on a host with a slow disk), or a
/// RESTART has just copied the whole WAL back, which SQLite synced.
fn copy_back(
    conn: &Connection,
    file: Option<&std::fs::File>,
    synced: &mut Option<(i64, i64)>,
    restart_frames: i64,
) -> Result<Checkpointed, DbError> {
    let done = checkpoint(conn, "PASSIVE")?;
    let copied = (done.log, done.backfilled);
    if let Some(file) = file {
        if done.backfilled > 0 && done.log < restart_frames && *synced != Some(copied) {
            match file.sync_data() {
                Ok(()) => *synced = Some(copied),
                Err(e) => tracing::warn!(error = %e, "sqlite database file sync failed"),
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rusqlite::Connection;

    use super::copy_back;

    fn insert(conn: &Connection, keys: std::ops::Range<i64>) {
        for k in keys {
            conn.execute("INSERT INTO t (k, v) VALUES (?1, ?2)", (k, "x".repeat(100)))
                .unwrap();
        }
    }

    /// Rows in a copy of the database file alone, without its WAL.
    fn rows_in_the_file_alone(path: &Path) -> i64 {
        let copy = path.with_extension("copy");
        std::fs::copy(path, &copy).unwrap();
        let alone = Connection::open(&copy).unwrap();
        let ok: String = alone
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        alone
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn copying_back_puts_the_wal_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
                 CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL);",
            )
            .unwrap();
        let ckpt = Connection::open(&path).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let mut synced = None;
        copy_back(&ckpt, Some(&file), &mut synced, i64::MAX).unwrap();
        insert(&writer, 0..2_000);
        assert_eq!(rows_in_the_file_alone(&path), 0, "still in the WAL");
        let done = copy_back(&ckpt, Some(&file), &mut synced, i64::MAX).unwrap();
        assert_eq!(rows_in_the_file_alone(&path), 2_000);
        assert_eq!(done.backfilled, done.log);
        assert_eq!(
            synced,
            Some((done.log, done.backfilled)),
            "synced what it copied"
        );
        // Without a file it still copies.
        insert(&writer, 2_000..2_500);
        copy_back(&ckpt, None, &mut synced, i64::MAX).unwrap();
        assert_eq!(rows_in_the_file_alone(&path), 2_500);
        // At the restart mark it copies and leaves the sync to the RESTART.
        let before = synced;
        insert(&writer, 2_500..3_000);
        let done = copy_back(&ckpt, Some(&file), &mut synced, 1).unwrap();
        assert_eq!(done.backfilled, done.log);
        assert_ne!(before, Some((done.log, done.backfilled)));
        assert_eq!(synced, before, "no sync at the restart mark");
        assert_eq!(rows_in_the_file_alone(&path), 3_000);
    }
}
