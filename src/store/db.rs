//! One small executor over two databases, so every query in `store/` is
//! written once.
//!
//! SQL is written with PostgreSQL placeholders (`$1`, `$2`, ...); the SQLite
//! side binds each by the number in its name (SQLite would otherwise number
//! `$N` names by first appearance, not by N). Integers, text, bytes and NULL are the only
//! column types the schema uses, so rows decode into [`Value`]s the same way
//! on both backends.
//!
//! SQLite runs in-process through rusqlite: one writer connection behind an
//! async mutex, where concurrent write transactions share one IMMEDIATE
//! transaction as savepoints (group commit; see `sqlite/writer.rs`), and a
//! small pool of reader connections. Statements run on the calling task: a
//! read of cached pages is a few microseconds, shorter than a hand-off to a
//! blocking thread would be, and in WAL mode with `synchronous=NORMAL` a
//! commit does no fsync (the WAL checkpoint, which does, runs on a thread of
//! its own; see `sqlite/checkpoint.rs`).
//! PostgreSQL goes through sqlx's pool.

use std::sync::Arc;

use sqlx::postgres::PgArguments;
use sqlx::{Arguments, Column, Row as _, TypeInfo};

use super::sqlite::{SqliteDb, SqliteWriter};

/// A bound parameter or a decoded column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// NULL of an integer column (PostgreSQL wants the parameter's type).
    NullInt,
    /// NULL of a text column.
    NullText,
    /// NULL of a bytes column.
    NullBytes,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(v as i64)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Value::NullInt, Value::Int)
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        v.map_or(Value::NullText, Value::Text)
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        v.map_or(Value::NullText, |s| Value::Text(s.to_owned()))
    }
}
impl From<Option<Vec<u8>>> for Value {
    fn from(v: Option<Vec<u8>>) -> Self {
        v.map_or(Value::NullBytes, Value::Bytes)
    }
}

/// Builds a `Vec<Value>` from anything convertible: `params![id, name, 3]`.
#[macro_export]
macro_rules! params {
    () => { Vec::<$crate::store::db::Value>::new() };
    ($($v:expr),+ $(,)?) => { vec![$($crate::store::db::Value::from($v)),+] };
}

/// Errors from the database layer. Unique violations carry the constraint
/// (index) name, the same on both backends, so callers map them to 409s.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unique constraint {0} violated")]
    Unique(String),
    #[error("column {0} has an unexpected type")]
    Decode(usize),
    #[error("serialization failure, retry")]
    Retry,
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
    #[error("{0}")]
    Other(String),
}

impl DbError {
    /// The violated unique constraint, if this is one.
    pub fn unique_constraint(&self) -> Option<&str> {
        match self {
            DbError::Unique(name) => Some(name),
            _ => None,
        }
    }
}

pub(crate) fn map_pg_error(e: sqlx::Error) -> DbError {
    if let sqlx::Error::Database(db) = &e {
        match db.code().as_deref() {
            Some("23505") => {
                return DbError::Unique(db.constraint().unwrap_or("unknown").to_owned())
            }
            Some("40001") | Some("40P01") => return DbError::Retry,
            _ => {}
        }
    }
    DbError::Postgres(e)
}

/// One decoded row.
#[derive(Debug, Clone, Default)]
pub struct Row(pub(crate) Vec<Value>);

impl Row {
    pub fn int(&self, i: usize) -> Result<i64, DbError> {
        match self.0.get(i) {
            Some(Value::Int(v)) => Ok(*v),
            _ => Err(DbError::Decode(i)),
        }
    }
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, DbError> {
        match self.0.get(i) {
            Some(Value::Int(v)) => Ok(Some(*v)),
            Some(Value::NullInt | Value::NullText | Value::NullBytes) => Ok(None),
            _ => Err(DbError::Decode(i)),
        }
    }
    pub fn text(&self, i: usize) -> Result<String, DbError> {
        match self.0.get(i) {
            Some(Value::Text(v)) => Ok(v.clone()),
            _ => Err(DbError::Decode(i)),
        }
    }
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, DbError> {
        match self.0.get(i) {
            Some(Value::Text(v)) => Ok(Some(v.clone())),
            Some(Value::NullInt | Value::NullText | Value::NullBytes) => Ok(None),
            _ => Err(DbError::Decode(i)),
        }
    }
    /// Whether the column is NULL (or missing).
    pub fn is_null(&self, i: usize) -> bool {
        !matches!(
            self.0.get(i),
            Some(Value::Int(_) | Value::Text(_) | Value::Bytes(_))
        )
    }
    /// A text column, borrowed (no copy).
    pub fn str(&self, i: usize) -> Result<&str, DbError> {
        match self.0.get(i) {
            Some(Value::Text(v)) => Ok(v),
            _ => Err(DbError::Decode(i)),
        }
    }
    /// A text column, moved out of the row (no copy); the row then holds an
    /// empty string there. For decoders that read each column once.
    pub fn take_text(&mut self, i: usize) -> Result<String, DbError> {
        match self.0.get_mut(i) {
            Some(Value::Text(v)) => Ok(std::mem::take(v)),
            _ => Err(DbError::Decode(i)),
        }
    }
    /// [`Row::take_text`] for a nullable column.
    pub fn take_opt_text(&mut self, i: usize) -> Result<Option<String>, DbError> {
        match self.0.get_mut(i) {
            Some(Value::Text(v)) => Ok(Some(std::mem::take(v))),
            Some(Value::NullInt | Value::NullText | Value::NullBytes) => Ok(None),
            _ => Err(DbError::Decode(i)),
        }
    }
    pub fn bytes(&self, i: usize) -> Result<Vec<u8>, DbError> {
        match self.0.get(i) {
            Some(Value::Bytes(v)) => Ok(v.clone()),
            _ => Err(DbError::Decode(i)),
        }
    }
    pub fn bool(&self, i: usize) -> Result<bool, DbError> {
        Ok(self.int(i)? != 0)
    }
}

/// A row's columns, read by index: a decoded [`Row`], or on SQLite the row
/// a statement has just stepped to, read in place ([`Db::for_each_row`]),
/// so that nothing is copied out of it but what the decoder keeps.
/// Decoders are written once against this and serve both.
pub trait Columns {
    fn int(&self, i: usize) -> Result<i64, DbError>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, DbError>;
    /// A text column, borrowed.
    fn str(&self, i: usize) -> Result<&str, DbError>;
    /// Whether the column is NULL (or missing).
    fn is_null(&self, i: usize) -> bool;
    /// A text column to keep: moved out of a [`Row`] (which then holds an
    /// empty string there), copied from a row read in place.
    fn take_text(&mut self, i: usize) -> Result<String, DbError>;
    /// [`Columns::take_text`] for a nullable column.
    fn take_opt_text(&mut self, i: usize) -> Result<Option<String>, DbError>;
    /// How many columns the row has.
    fn count(&self) -> usize;
}

impl Columns for Row {
    fn int(&self, i: usize) -> Result<i64, DbError> {
        Row::int(self, i)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, DbError> {
        Row::opt_int(self, i)
    }
    fn str(&self, i: usize) -> Result<&str, DbError> {
        Row::str(self, i)
    }
    fn is_null(&self, i: usize) -> bool {
        Row::is_null(self, i)
    }
    fn take_text(&mut self, i: usize) -> Result<String, DbError> {
        Row::take_text(self, i)
    }
    fn take_opt_text(&mut self, i: usize) -> Result<Option<String>, DbError> {
        Row::take_opt_text(self, i)
    }
    fn count(&self) -> usize {
        self.0.len()
    }
}

/// Which database we talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `expr` (text) case-folded as [`fold_case`](crate::domain::text::fold_case)
    /// folds a `q` pattern: SQLite's `fold()` is that very function
    /// (`sqlite/functions.rs`); PostgreSQL's `lower()` maps each character
    /// to its simple lowercase too, under a UTF-8 `LC_CTYPE` (checked at
    /// connect time, see `Store::connect_postgres`).
    pub fn fold(self, expr: &str) -> String {
        match self {
            Backend::Sqlite => format!("fold({expr})"),
            Backend::Postgres => format!("lower({expr})"),
        }
    }

    /// The key `sort=name` orders `expr` by: folded, then compared byte by
    /// byte (code point order), the same on both databases. SQLite compares
    /// text that way already; PostgreSQL would use the database's collation.
    pub fn name_key(self, expr: &str) -> String {
        match self {
            Backend::Sqlite => self.fold(expr),
            Backend::Postgres => format!("{} COLLATE \"C\"", self.fold(expr)),
        }
    }
}

/// A handle to the database: cheap to clone.
#[derive(Clone)]
pub enum Db {
    Sqlite(Arc<SqliteDb>),
    Postgres(sqlx::PgPool),
}

impl Db {
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs a read-only query and returns every row.
    pub async fn fetch_all(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, DbError> {
        match self {
            Db::Sqlite(db) => db.read(|conn| super::sqlite::query(conn, sql, &params)),
            // Boxed: sqlx's future is large, and unboxed it would size this
            // one and every future awaiting it, up to the handler's, on
            // SQLite too, where they are moved on each await.
            Db::Postgres(pool) => Box::pin(pg_fetch_all(pool, sql, params)).await,
        }
    }

    pub async fn fetch_optional(
        &self,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Option<Row>, DbError> {
        Ok(self.fetch_all(sql, params).await?.into_iter().next())
    }

    /// Runs a read-only query and hands each row to `each` as it comes. On
    /// SQLite the row is read in place, while the statement is on it: a
    /// decoder copies only the columns it keeps, and no row is built (for
    /// a page of workspaces, ~250 allocations fewer). PostgreSQL's rows
    /// arrive decoded and are handed over as [`Row`]s.
    pub async fn for_each_row(
        &self,
        sql: &str,
        params: Vec<Value>,
        mut each: impl FnMut(&mut dyn Columns) -> Result<(), DbError> + Send,
    ) -> Result<(), DbError> {
        match self {
            Db::Sqlite(db) => {
                db.read(|conn| super::sqlite::for_each_row(conn, sql, &params, &mut each))
            }
            Db::Postgres(pool) => {
                for mut row in Box::pin(pg_fetch_all(pool, sql, params)).await? {
                    each(&mut row)?;
                }
                Ok(())
            }
        }
    }

    /// The first row a read-only query selects, decoded in place by
    /// `decode` (see [`Db::for_each_row`]); `None` when it selects none.
    pub async fn find<T: Send>(
        &self,
        sql: &str,
        params: Vec<Value>,
        decode: impl FnMut(&mut dyn Columns) -> Result<T, DbError> + Send,
    ) -> Result<Option<T>, DbError> {
        match self {
            Db::Sqlite(db) => db.read(|conn| super::sqlite::find(conn, sql, &params, decode)),
            Db::Postgres(pool) => {
                let rows = Box::pin(pg_fetch_all(pool, sql, params)).await?;
                let mut decode = decode;
                rows.into_iter()
                    .next()
                    .map(|mut r| decode(&mut r))
                    .transpose()
            }
        }
    }

    /// A single writing statement with `RETURNING`, as its own transaction.
    /// (On SQLite a member of a group commit like any other: it returns once
    /// its batch is committed.)
    pub async fn write_fetch_all(
        &self,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Vec<Row>, DbError> {
        match self {
            Db::Sqlite(db) => {
                let w = db.begin().await?;
                let rows = super::sqlite::query(w.conn()?, sql, &params)?;
                w.commit().await?;
                Ok(rows)
            }
            Db::Postgres(pool) => pg_fetch_all(pool, sql, params).await,
        }
    }

    /// A single statement outside an explicit transaction (it is its own
    /// transaction). On SQLite it goes through the writer connection, as a
    /// member of a group commit.
    pub async fn execute(&self, sql: &str, params: Vec<Value>) -> Result<u64, DbError> {
        match self {
            Db::Sqlite(db) => {
                let w = db.begin().await?;
                let n = super::sqlite::execute(w.conn()?, sql, &params)?;
                w.commit().await?;
                Ok(n)
            }
            Db::Postgres(pool) => pg_execute(pool, sql, params).await,
        }
    }

    /// Begins a write transaction. On SQLite it holds the one writer
    /// connection, inside an IMMEDIATE transaction shared with the write
    /// transactions queued around it (group commit), so check-then-write rules
    /// inside it are serialized; on PostgreSQL use `FOR UPDATE` (see
    /// [`Tx::for_update`]) or constraints for the same guarantee.
    pub async fn begin(&self) -> Result<Tx, DbError> {
        match self {
            Db::Sqlite(db) => Ok(Tx::Sqlite(db.begin().await?)),
            Db::Postgres(pool) => Ok(Tx::Postgres(PgTx(Some(
                pool.begin().await.map_err(map_pg_error)?,
            )))),
        }
    }
}

/// A write transaction. Dropped without [`Tx::commit`], it rolls back.
pub enum Tx {
    Sqlite(SqliteWriter),
    Postgres(PgTx),
}

/// A PostgreSQL transaction that rolls back as soon as it is dropped.
/// (sqlx only queues the ROLLBACK until the connection is next used, so an
/// error path would leave the connection idle in transaction, holding its
/// row locks, until some later request happens to take that connection.)
pub struct PgTx(Option<sqlx::Transaction<'static, sqlx::Postgres>>);

impl std::ops::Deref for PgTx {
    type Target = sqlx::Transaction<'static, sqlx::Postgres>;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref().expect("live transaction")
    }
}

impl std::ops::DerefMut for PgTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.0.as_mut().expect("live transaction")
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    let _ = tx.rollback().await;
                });
            }
        }
    }
}

impl Tx {
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    /// `" FOR UPDATE"` on PostgreSQL; empty on SQLite, where the IMMEDIATE
    /// transaction (the batch this one is a savepoint of) already holds the
    /// database's write lock, and transactions run one after another.
    pub fn for_update(&self) -> &'static str {
        match self {
            Tx::Sqlite(_) => "",
            Tx::Postgres(_) => " FOR UPDATE",
        }
    }

    pub async fn fetch_all(&mut self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, DbError> {
        match self {
            Tx::Sqlite(w) => super::sqlite::query(w.conn()?, sql, &params),
            Tx::Postgres(tx) => {
                let rows = bind(sqlx::query_with(sql, pg_args(params)?))
                    .fetch_all(&mut ***tx)
                    .await
                    .map_err(map_pg_error)?;
                rows.iter().map(decode_pg_row).collect()
            }
        }
    }

    pub async fn fetch_optional(
        &mut self,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Option<Row>, DbError> {
        Ok(self.fetch_all(sql, params).await?.into_iter().next())
    }

    pub async fn execute(&mut self, sql: &str, params: Vec<Value>) -> Result<u64, DbError> {
        match self {
            Tx::Sqlite(w) => super::sqlite::execute(w.conn()?, sql, &params),
            Tx::Postgres(tx) => Ok(bind(sqlx::query_with(sql, pg_args(params)?))
                .execute(&mut ***tx)
                .await
                .map_err(map_pg_error)?
                .rows_affected()),
        }
    }

    /// Commits; on SQLite, returns once the group commit holding this
    /// transaction is durable (and fails if it failed).
    ///
    /// Call it on every successful path, also one that wrote nothing (a
    /// PATCH that changes nothing, a join by a member): on SQLite what the
    /// transaction read may be an earlier batch member's write, not yet
    /// committed, and an answer must not show what a failed COMMIT would
    /// take back. Dropping a `Tx` rolls it back and is for error paths.
    pub async fn commit(self) -> Result<(), DbError> {
        match self {
            Tx::Sqlite(w) => w.commit().await,
            Tx::Postgres(mut tx) => {
                tx.0.take()
                    .expect("live transaction")
                    .commit()
                    .await
                    .map_err(map_pg_error)
            }
        }
    }
}

fn bind<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, PgArguments>,
) -> sqlx::query::Query<'q, sqlx::Postgres, PgArguments> {
    // Statements are prepared and cached per connection by sqlx.
    q.persistent(true)
}

fn pg_args(params: Vec<Value>) -> Result<PgArguments, DbError> {
    let mut args = PgArguments::default();
    for p in params {
        let r = match p {
            Value::NullInt => args.add(None::<i64>),
            Value::NullText => args.add(None::<String>),
            Value::NullBytes => args.add(None::<Vec<u8>>),
            Value::Int(v) => args.add(v),
            Value::Text(v) => args.add(v),
            Value::Bytes(v) => args.add(v),
        };
        r.map_err(|e| DbError::Other(e.to_string()))?;
    }
    Ok(args)
}

async fn pg_fetch_all(
    pool: &sqlx::PgPool,
    sql: &str,
    params: Vec<Value>,
) -> Result<Vec<Row>, DbError> {
    let rows = bind(sqlx::query_with(sql, pg_args(params)?))
        .fetch_all(pool)
        .await
        .map_err(map_pg_error)?;
    rows.iter().map(decode_pg_row).collect()
}

async fn pg_execute(pool: &sqlx::PgPool, sql: &str, params: Vec<Value>) -> Result<u64, DbError> {
    Ok(bind(sqlx::query_with(sql, pg_args(params)?))
        .execute(pool)
        .await
        .map_err(map_pg_error)?
        .rows_affected())
}

fn decode_pg_row(row: &sqlx::postgres::PgRow) -> Result<Row, DbError> {
    let mut out = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let v = match col.type_info().name() {
            "INT8" => row
                .try_get::<Option<i64>, _>(i)?
                .map_or(Value::NullInt, Value::Int),
            "INT4" => row
                .try_get::<Option<i32>, _>(i)?
                .map_or(Value::NullInt, |v| Value::Int(v.into())),
            "INT2" => row
                .try_get::<Option<i16>, _>(i)?
                .map_or(Value::NullInt, |v| Value::Int(v.into())),
            "BOOL" => row
                .try_get::<Option<bool>, _>(i)?
                .map_or(Value::NullInt, |v| Value::Int(v.into())),
            "NUMERIC" => {
                // COUNT/SUM results are INT8; NUMERIC only appears if a query
                // forgets a cast, which is a bug worth failing loudly on.
                return Err(DbError::Decode(i));
            }
            "BYTEA" => row
                .try_get::<Option<Vec<u8>>, _>(i)?
                .map_or(Value::NullBytes, Value::Bytes),
            _ => row
                .try_get::<Option<String>, _>(i)?
                .map_or(Value::NullText, Value::Text),
        };
        out.push(v);
    }
    Ok(Row(out))
}
