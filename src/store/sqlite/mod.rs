//! The embedded SQLite backend: one writer connection with group commit
//! (`writer.rs`), a pool of readers, WAL mode, and a background checkpointer
//! (`checkpoint.rs`).

mod checkpoint;
mod conn;
mod functions;
mod readers;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, ToSql};

use self::checkpoint::{WalSignal, JOURNAL_SIZE_LIMIT};
use self::readers::Readers;
use self::writer::{Writer, WriterState};
use super::db::{Columns, DbError, Row, Value};

pub use self::conn::Conn;
pub use self::readers::ReadMemo;
pub use self::writer::SqliteWriter;

/// `synchronous` setting for the writer. NORMAL in WAL mode loses nothing on
/// a process crash (`kill -9`); FULL also survives power loss, at the cost of
/// an fsync per commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    Normal,
    Full,
}

pub struct SqliteDb {
    path: PathBuf,
    writer: Arc<Writer>,
    readers: Arc<Readers>,
    wal: Arc<WalSignal>,
}

impl SqliteDb {
    /// Opens (creating if needed) the database file and applies migrations.
    pub fn open(path: &Path, synchronous: Synchronous) -> Result<Arc<Self>, DbError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| DbError::Other(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut writer = Connection::open(path)?;
        functions::register(&writer)?;
        writer.execute_batch(&format!(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous={};
             PRAGMA busy_timeout=5000;
             PRAGMA temp_store=MEMORY;
             PRAGMA wal_autocheckpoint=0;
             PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT};",
            match synchronous {
                Synchronous::Normal => "NORMAL",
                Synchronous::Full => "FULL",
            }
        ))?;
        migrate(&mut writer)?;
        // Start from an empty WAL: one left long by a crash or a bulk load
        // (`admin seed-bench`) would otherwise slow every page lookup until
        // the checkpointer first manages to restart it. Briefly: another
        // process on the same file may be busy, and then this can wait.
        writer.busy_timeout(Duration::from_millis(100))?;
        match checkpoint::checkpoint(&writer, "TRUNCATE") {
            Ok(c) if c.busy => tracing::info!(frames = c.log, "sqlite WAL in use, not truncated"),
            Ok(_) => {}
            Err(e) => tracing::info!(error = %e, "sqlite WAL not truncated"),
        }
        writer.busy_timeout(Duration::from_millis(5000))?;
        let page_size: i64 = writer.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        let wal = WalSignal::new(page_size);
        let state = WriterState::new(Conn::new(writer), wal.clone());
        checkpoint::install_wal_hook(&state);
        let writer = Writer::new(state);
        let readers = Arc::new(Readers::default());
        checkpoint::spawn_checkpointer(
            path.to_owned(),
            wal.clone(),
            Arc::downgrade(&writer),
            Arc::downgrade(&readers),
        );
        Ok(Arc::new(SqliteDb {
            path: path.to_owned(),
            writer,
            readers,
            wal,
        }))
    }

    /// A reader keeps up to 64 MiB of pages in its own cache and reads the
    /// file with `pread`, without a memory map. Measured on the bench data
    /// (1,000,000 memberships, a 570 MB file): with the former 256 MiB map
    /// and SQLite's default 2 MiB cache, pages past the map missed the cache
    /// on every other request (2.45 `pread`s per point read; the cause of its
    /// scaling ratio). A 2 GiB map read as fast as this cache but the kernel
    /// maps 64 KiB around every faulting page, so the process's RSS rose to
    /// 169 MiB against 50 MiB here. With one runtime worker, reads run one
    /// at a time and the pool hands back the same connection, so one cache is
    /// hot; the cache only grows with the pages actually read.
    fn open_reader(&self) -> Result<Conn, DbError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        functions::register(&conn)?;
        conn.execute_batch(
            "PRAGMA query_only=1;
             PRAGMA busy_timeout=5000;
             PRAGMA temp_store=MEMORY;
             PRAGMA mmap_size=0;
             PRAGMA cache_size=-65536;",
        )?;
        Ok(Conn::new(conn))
    }

    /// Runs `f` on a reader connection, in a read snapshot that includes
    /// every write this process acknowledged (see `readers.rs`).
    pub fn read<T>(&self, f: impl FnOnce(&Conn) -> Result<T, DbError>) -> Result<T, DbError> {
        self.read_memo(|conn, _| f(conn))
    }

    /// [`SqliteDb::read`], with what earlier lookups found in the database
    /// as it still is (see `readers.rs`).
    pub fn read_memo<T>(
        &self,
        f: impl FnOnce(&Conn, &mut ReadMemo) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.readers
            .read(&self.wal.commits, || self.open_reader(), f)
    }

    pub fn idle_readers(&self) -> usize {
        self.readers.idle_count()
    }

    /// Begins a write transaction on the writer connection (one member of
    /// a group commit; see `writer.rs`).
    pub async fn begin(&self) -> Result<SqliteWriter, DbError> {
        self.writer.begin().await
    }

    /// Copies the whole WAL into the database file and truncates it, with
    /// the writers held off. For the end of a bulk load (`admin
    /// seed-bench`), which would leave a WAL of gigabytes for the server to
    /// start on. Runs on a blocking thread: the fsyncs take a while.
    ///
    /// The checkpoint thread may be in the middle of its own (PASSIVE) run,
    /// which a bulk load keeps it busy with: SQLite then answers at once
    /// with busy and no frame counts (-1), without calling the busy handler.
    /// That run ends by itself, so this one is retried for a while.
    pub async fn checkpoint_truncate(&self) -> Result<(), DbError> {
        let state = self.writer.quiet().await;
        let released = self.readers.release_snapshots();
        let done = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let done = checkpoint::checkpoint(&state.conn, "TRUNCATE")?;
                if !(done.busy && done.log < 0) || Instant::now() >= deadline {
                    return Ok::<_, DbError>(done);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .await
        .map_err(|e| DbError::Other(format!("checkpoint task failed: {e}")))??;
        drop(released);
        if done.busy {
            return Err(DbError::Other(format!(
                "WAL checkpoint incomplete: {} of {} frames copied (a reader was in the way)",
                done.backfilled, done.log
            )));
        }
        Ok(())
    }
}

/// Applies the migrations with foreign key enforcement off, as SQLite's
/// procedure for rebuilding a table asks (dropping a parent table would
/// otherwise delete or refuse its children), then checks every foreign key
/// and turns enforcement on for good. The pragma cannot change inside the
/// migrations' transactions, hence here.
fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    let version = |c: &Connection| c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0));
    let before = version(conn)?;
    conn.execute_batch("PRAGMA foreign_keys=OFF;")?;
    super::migrations::sqlite_migrations()
        .to_latest(conn)
        .map_err(|e| DbError::Other(format!("sqlite migration failed: {e}")))?;
    // The check reads every foreign key of every table: only after a
    // migration ran, not at every start.
    let broken: Option<String> = if version(conn)? != before {
        conn.query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
            .optional()?
    } else {
        None
    };
    if let Some(table) = broken {
        return Err(DbError::Other(format!(
            "sqlite migration left a broken foreign key in table {table}"
        )));
    }
    conn.execute_batch("PRAGMA foreign_keys=ON;")?;
    Ok(())
}

impl Drop for SqliteDb {
    fn drop(&mut self) {
        self.wal.close();
    }
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::NullInt | Value::NullText | Value::NullBytes => {
                ToSqlOutput::Borrowed(ValueRef::Null)
            }
            Value::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Value::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Value::Bytes(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
        })
    }
}

fn map_err(e: rusqlite::Error) -> DbError {
    if let rusqlite::Error::SqliteFailure(err, Some(msg)) = &e {
        if err.code == rusqlite::ErrorCode::ConstraintViolation
            && (err.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || err.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
        {
            return DbError::Unique(constraint_name(msg));
        }
        if err.code == rusqlite::ErrorCode::DatabaseBusy {
            return DbError::Retry;
        }
    }
    DbError::Sqlite(e)
}

/// SQLite says `UNIQUE constraint failed: memberships.user_id,
/// memberships.workspace_id` (or `index 'name'` for expression indexes); the
/// PostgreSQL schema names the same index `memberships_user_id_workspace_id_key`.
fn constraint_name(msg: &str) -> String {
    let rest = msg.trim_start_matches("UNIQUE constraint failed: ");
    if let Some(name) = rest
        .strip_prefix("index '")
        .and_then(|r| r.strip_suffix('\''))
    {
        return name.to_owned();
    }
    let mut table = "";
    let mut cols = Vec::new();
    for part in rest.split(',') {
        let (t, c) = part.trim().split_once('.').unwrap_or(("", part.trim()));
        table = t;
        cols.push(c);
    }
    format!("{table}_{}_key", cols.join("_"))
}

pub fn query(conn: &Conn, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
    let (mut stmt, raw) = conn.bound(sql, params)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while rows.next().map_err(map_err)?.is_some() {
        // SAFETY: `raw` is this statement's handle, and its step just
        // returned a row. Counted after the step: a kept statement is
        // prepared again by its first step after a schema change, and may
        // then have more columns.
        out.push(Row(unsafe { raw.current() }.values()?));
    }
    Ok(out)
}

/// Steps through the rows of `sql`, handing each to `each` in place (see
/// [`StepRow`](conn::StepRow)).
pub fn for_each_row(
    conn: &Conn,
    sql: &str,
    params: &[Value],
    each: &mut dyn FnMut(&mut dyn Columns) -> Result<(), DbError>,
) -> Result<(), DbError> {
    let (mut stmt, raw) = conn.bound(sql, params)?;
    let mut rows = stmt.raw_query();
    while rows.next().map_err(map_err)?.is_some() {
        // SAFETY: `raw` is this statement's handle, its step just returned
        // a row, and the row read in place is gone before the next step.
        let mut row = unsafe { raw.current() };
        each(&mut row)?;
    }
    Ok(())
}

/// The first row `sql` selects, decoded in place by `decode`.
pub fn find<T>(
    conn: &Conn,
    sql: &str,
    params: &[Value],
    mut decode: impl FnMut(&mut dyn Columns) -> Result<T, DbError>,
) -> Result<Option<T>, DbError> {
    let mut found = None;
    for_each_row(conn, sql, params, &mut |r| {
        if found.is_none() {
            found = Some(decode(r)?);
        }
        Ok(())
    })?;
    Ok(found)
}

pub fn execute(conn: &Conn, sql: &str, params: &[Value]) -> Result<u64, DbError> {
    let (mut stmt, _) = conn.bound(sql, params)?;
    let n = stmt.raw_execute().map_err(map_err)?;
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_bound_by_the_number_in_their_name() {
        let conn = Conn::new(Connection::open_in_memory().unwrap());
        let params: Vec<Value> = (1..=10).map(|i| Value::Int(i * 10)).collect();
        let rows = query(
            &conn,
            "SELECT $2, $1, $10, $2 + $3, '$1', $4, $5, $6, $7, $8, $9",
            &params,
        )
        .unwrap();
        assert_eq!(rows[0].int(0).unwrap(), 20);
        assert_eq!(rows[0].int(1).unwrap(), 10);
        assert_eq!(rows[0].int(2).unwrap(), 100);
        assert_eq!(rows[0].int(3).unwrap(), 50);
        assert_eq!(rows[0].text(4).unwrap(), "$1");
        assert!(query(&conn, "SELECT $1, $2", &params[..1]).is_err());
    }

    #[test]
    fn long_parameter_lists_bind_to_their_numbers_in_either_order() {
        let conn = Conn::new(Connection::open_in_memory().unwrap());
        // 40 parameters, in order and reversed: both bind to their numbers.
        let params: Vec<Value> = (1..=40).map(Value::Int).collect();
        let in_order: Vec<String> = (1..=40).map(|n| format!("${n}")).collect();
        let reversed: Vec<String> = (1..=40).rev().map(|n| format!("${n}")).collect();
        for cols in [in_order, reversed] {
            let sql = format!("SELECT {}", cols.join(", "));
            let row = &query(&conn, &sql, &params).unwrap()[0];
            for (i, col) in cols.iter().enumerate() {
                assert_eq!(row.int(i).unwrap(), col[1..].parse::<i64>().unwrap());
            }
        }
    }

    #[test]
    fn clustering_workspaces_keeps_their_rows_and_references() {
        // A database as migration 0006 left it, with a workspace that has
        // every kind of column set and rows in tables that reference it.
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys=ON;").unwrap();
        super::super::migrations::sqlite_migrations()
            .to_version(&mut conn, 6)
            .unwrap();
        conn.execute_batch(
            "INSERT INTO users (id, email, email_lower, name, password_hash, created_at, updated_at)
                 VALUES ('usr_1', 'A@x.io', 'a@x.io', 'A', 'h', 1, 1);
             INSERT INTO workspaces (id, slug, name, description, status, settings, metadata,
                     onboarding_completed_at, plan, member_count, created_at, updated_at,
                     version, providers)
                 VALUES ('ws_1', 'one', 'One', 'first', 'archived', '{\"a\":1}', '{}',
                     7, 'pro', 1, 5, 6, 3, '[\"openai\"]');
             INSERT INTO memberships (workspace_id, user_id, id, role, ws_created_at, created_at)
                 VALUES ('ws_1', 'usr_1', 'mem_1', 4, 5, 5);",
        )
        .unwrap();
        let row = "SELECT id, slug, name, description, status, settings, onboarding_completed_at,
                plan, member_count, created_at, updated_at, version, providers FROM workspaces";
        let read = |c: &Connection| -> Vec<String> {
            c.query_row(row, [], |r| {
                (0..13)
                    .map(|i| r.get_ref(i).map(|v| format!("{v:?}")))
                    .collect()
            })
            .unwrap()
        };
        let before = read(&conn);

        migrate(&mut conn).unwrap();

        assert_eq!(read(&conn), before);
        // Clustered by id: the table has no rowid any more.
        assert!(conn.prepare("SELECT rowid FROM workspaces").is_err());
        let slug_lookup: String = conn
            .query_row("SELECT id FROM workspaces WHERE slug = 'one'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(slug_lookup, "ws_1");
        // References still hold both ways: a membership of a missing
        // workspace is refused, and deleting the workspace deletes its
        // memberships.
        assert!(conn
            .execute(
                "INSERT INTO memberships (workspace_id, user_id, id, role, ws_created_at, created_at)
                 VALUES ('ws_missing', 'usr_1', 'mem_2', 4, 5, 5)",
                [],
            )
            .is_err());
        conn.execute("DELETE FROM workspaces WHERE id = 'ws_1'", [])
            .unwrap();
        let left: i64 = conn
            .query_row("SELECT COUNT(*) FROM memberships", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
    }

    #[test]
    fn keying_memberships_by_user_keeps_their_rows_and_references() {
        // A database as migration 0007 left it, with two users in two
        // workspaces, one membership with every column set.
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys=ON;").unwrap();
        super::super::migrations::sqlite_migrations()
            .to_version(&mut conn, 7)
            .unwrap();
        conn.execute_batch(
            "INSERT INTO users (id, email, email_lower, name, password_hash, created_at, updated_at)
                 VALUES ('usr_1', 'A@x.io', 'a@x.io', 'A', 'h', 1, 1),
                        ('usr_2', 'B@x.io', 'b@x.io', 'B', 'h', 1, 1);
             INSERT INTO workspaces (id, slug, name, status, created_at, updated_at)
                 VALUES ('ws_1', 'one', 'One', 'active', 5, 5),
                        ('ws_2', 'two', 'Two', 'active', 6, 6);
             INSERT INTO memberships (workspace_id, user_id, id, role, ws_created_at, invited_by, created_at)
                 VALUES ('ws_1', 'usr_1', 'mem_1', 4, 5, NULL, 5),
                        ('ws_1', 'usr_2', 'mem_2', 2, 5, 'usr_1', 7),
                        ('ws_2', 'usr_2', 'mem_3', 4, 6, NULL, 6);",
        )
        .unwrap();
        let all = "SELECT workspace_id, user_id, id, role, ws_created_at, invited_by, created_at
                   FROM memberships ORDER BY id";
        let read = |c: &Connection| -> Vec<Vec<String>> {
            let mut stmt = c.prepare(all).unwrap();
            let rows = stmt
                .query_map([], |r| {
                    (0..7)
                        .map(|i| r.get_ref(i).map(|v| format!("{v:?}")))
                        .collect()
                })
                .unwrap();
            rows.map(Result::unwrap).collect()
        };
        let before = read(&conn);

        migrate(&mut conn).unwrap();

        assert_eq!(read(&conn), before);
        // Stored by user, then workspace: the primary key's columns, in order.
        let key: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('memberships') WHERE pk > 0 ORDER BY pk")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(key, ["user_id", "workspace_id"]);
        assert!(conn.prepare("SELECT rowid FROM memberships").is_err());
        // A second membership of the same pair is refused under the name
        // the store maps to "already a member".
        let dup = conn
            .execute(
                "INSERT INTO memberships (workspace_id, user_id, id, role, ws_created_at, created_at)
                 VALUES ('ws_1', 'usr_1', 'mem_9', 2, 5, 5)",
                [],
            )
            .unwrap_err();
        assert!(matches!(
            map_err(dup),
            DbError::Unique(name) if name == "memberships_user_id_workspace_id_key"
        ));
        // References hold both ways: a membership of a missing workspace is
        // refused, and deleting a workspace or a user deletes theirs.
        assert!(conn
            .execute(
                "INSERT INTO memberships (workspace_id, user_id, id, role, ws_created_at, created_at)
                 VALUES ('ws_missing', 'usr_1', 'mem_8', 4, 5, 5)",
                [],
            )
            .is_err());
        conn.execute("DELETE FROM workspaces WHERE id = 'ws_2'", [])
            .unwrap();
        conn.execute("DELETE FROM users WHERE id = 'usr_1'", [])
            .unwrap();
        let left: Vec<String> = conn
            .prepare("SELECT id FROM memberships")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(left, ["mem_2"]);
    }

    #[test]
    fn rows_read_every_column_type_from_their_own_statement() {
        let conn = Conn::new(Connection::open_in_memory().unwrap());
        let a = "SELECT 7, 2.9, 'héllo', x'00ff', x'', NULL, $1";
        let b = "SELECT 'second', $1";
        // Prepared one after the other, then used in turn: each reads its
        // own statement's row.
        for round in 0..2 {
            let rows = query(&conn, a, &[Value::Text(format!("a{round}"))]).unwrap();
            assert_eq!(
                rows[0].0,
                vec![
                    Value::Int(7),
                    Value::Int(2),
                    Value::Text("héllo".into()),
                    Value::Bytes(vec![0, 255]),
                    Value::Bytes(vec![]),
                    Value::NullText,
                    Value::Text(format!("a{round}")),
                ]
            );
            let rows = query(&conn, b, &[Value::Int(round)]).unwrap();
            assert_eq!(
                rows[0].0,
                vec![Value::Text("second".into()), Value::Int(round)]
            );
        }
        let many = query(
            &conn,
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
             SELECT i, printf('row %d', i) FROM n",
            &[],
        )
        .unwrap();
        assert_eq!(many.len(), 50);
        assert_eq!(
            many[49].0,
            vec![Value::Int(50), Value::Text("row 50".into())]
        );
        // SQL that goes on past its statement (a `;`, white space) is found too.
        for (sql, n) in [("SELECT 1;", 1), ("SELECT 2\n   ", 2), ("SELECT 3; \n", 3)] {
            let rows = query(&conn, sql, &[]).unwrap();
            assert_eq!(rows[0].0, vec![Value::Int(n)]);
        }
    }

    #[test]
    fn rows_read_in_place_answer_as_decoded_rows_do() {
        let conn = Conn::new(Connection::open_in_memory().unwrap());
        let sql = "SELECT 7, 2.9, 'héllo', '', NULL, x'00ff', $1, $2";
        let params = [Value::Text("ws_1".into()), Value::NullInt];
        let decoded = query(&conn, sql, &params).unwrap().remove(0);
        // Every reading accessor on every column (and one past the last),
        // as a comparable string: the value or the error.
        fn reads(r: &dyn Columns) -> Vec<String> {
            (0..=r.count())
                .map(|i| {
                    format!(
                        "{:?} {:?} {:?} {}",
                        r.int(i).map_err(|e| e.to_string()),
                        r.opt_int(i).map_err(|e| e.to_string()),
                        r.str(i).map_err(|e| e.to_string()),
                        r.is_null(i),
                    )
                })
                .collect()
        }
        // The taking ones, each on its own copy of a decoded row (which
        // gives its text away).
        fn takes(mut fresh: impl FnMut() -> Box<dyn Columns>) -> Vec<String> {
            let n = fresh().count();
            (0..=n)
                .map(|i| {
                    format!(
                        "{:?} {:?}",
                        fresh().take_text(i).map_err(|e| e.to_string()),
                        fresh().take_opt_text(i).map_err(|e| e.to_string()),
                    )
                })
                .collect()
        }
        let mut seen = Vec::new();
        for_each_row(&conn, sql, &params, &mut |r| {
            let read = reads(r);
            let mut took = Vec::new();
            for i in 0..=r.count() {
                took.push(format!(
                    "{:?} {:?}",
                    r.take_text(i).map_err(|e| e.to_string()),
                    r.take_opt_text(i).map_err(|e| e.to_string()),
                ));
            }
            seen.push((read, took));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(decoded.count(), 8);
        assert_eq!(seen[0].0, reads(&decoded));
        assert_eq!(seen[0].1, takes(|| Box::new(decoded.clone())));
        assert_eq!(
            seen[0].0[2],
            "Err(\"column 2 has an unexpected type\") \
            Err(\"column 2 has an unexpected type\") Ok(\"héllo\") false"
        );
        assert_eq!(seen[0].1[6], "Ok(\"ws_1\") Ok(Some(\"ws_1\"))");
        assert_eq!(
            seen[0].1[7],
            "Err(\"column 7 has an unexpected type\") Ok(None)"
        );
        assert_eq!(
            seen[0].0[8],
            "Err(\"column 8 has an unexpected type\") \
            Err(\"column 8 has an unexpected type\") Err(\"column 8 has an unexpected type\") true"
        );
        // A decoder's error stops the walk and is returned.
        let mut calls = 0;
        let err = for_each_row(&conn, "SELECT 1 UNION ALL SELECT 2", &[], &mut |_| {
            calls += 1;
            Err(DbError::Decode(9))
        })
        .unwrap_err();
        assert!(matches!(err, DbError::Decode(9)));
        assert_eq!(calls, 1);
    }

    #[test]
    fn constraint_names_match_the_postgres_schema() {
        assert_eq!(
            constraint_name(
                "UNIQUE constraint failed: memberships.user_id, memberships.workspace_id"
            ),
            "memberships_user_id_workspace_id_key"
        );
        assert_eq!(
            constraint_name("UNIQUE constraint failed: index 'users_email_key'"),
            "users_email_key"
        );
    }
}
