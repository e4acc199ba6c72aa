//! A connection that keeps its prepared statements, and how `$N`
//! parameters are bound to them.
//!
//! rusqlite's own cache (`prepare_cached`) hands a statement out and takes
//! it back on every use: it copies the SQL text into a new `Arc<str>` each
//! time and unlinks, frees, allocates and relinks an LRU node. With our
//! joins (the point read's SQL is ~900 characters) callgrind counted 3,400
//! instructions of a point read's 93,000 there, and 1,200 more naming each
//! `$N` parameter anew. Here a statement stays where it was prepared, is
//! borrowed in place, and how its parameters bind is worked out once.

use std::cell::{RefCell, RefMut};
use std::collections::HashMap;
use std::ffi::CStr;
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;

use rusqlite::{ffi, Connection, Statement};

use super::map_err;
use crate::store::db::{Columns, DbError, Value};

/// Statements kept per connection. Past this, the cache starts over: only
/// SQL built with a varying shape (a bulk INSERT of N rows) gets there.
const MAX_STATEMENTS: usize = 512;

/// A SQLite connection and its prepared statements, keyed by SQL text.
pub struct Conn {
    // Declared before `conn`: the statements are finalized first.
    /// foldhash: std's SipHash spent 6,000 instructions on a 900-byte key.
    stmts: RefCell<HashMap<Box<str>, Prepared, foldhash::fast::RandomState>>,
    /// Boxed: the statements point at it, so it never moves.
    conn: Box<Connection>,
}

struct Prepared {
    /// Borrows `*Conn::conn`; `'static` only because a struct cannot name
    /// its own lifetime. It never leaves the `Conn` (only a `RefMut` bound
    /// to `&self` is handed out) and is dropped before the connection.
    stmt: Statement<'static>,
    /// The same statement's C handle, which rusqlite keeps to itself.
    raw: RawStmt,
    /// Where SQLite's parameters take their values from: `None` when
    /// `$1..$N` first appear in order (SQLite's parameter `n` is `$n`),
    /// else the index in `params` of each parameter's value, read once from
    /// their names (asking SQLite a name per parameter per use was 600
    /// instructions of every point read).
    order: Option<Box<[usize]>>,
}

/// A prepared statement's C handle, for reading the current row's columns
/// with SQLite's C API (see [`StepRow`]). Stepping, binding and resetting
/// stay with rusqlite's `Statement`.
#[derive(Clone, Copy)]
pub(super) struct RawStmt(NonNull<ffi::sqlite3_stmt>);

impl RawStmt {
    /// The handle of the statement just prepared on `conn` from `sql`.
    ///
    /// SQLite links a connection's statements newest first, and
    /// `sqlite3_next_stmt(db, NULL)` returns the head, so right after a
    /// prepare it is the new statement; its SQL text is checked anyway
    /// (SQLite keeps the statement's text up to its end, so `sql` starts
    /// with it and may go on with a `;` or white space). A statement
    /// prepared again after a schema change keeps its handle.
    fn newest(conn: &Connection, sql: &str) -> Result<Self, DbError> {
        // SAFETY: the connection's handle is valid while `conn` lives, and
        // both calls only read the connection's list of statements.
        let p = unsafe { ffi::sqlite3_next_stmt(conn.handle(), std::ptr::null_mut()) };
        let p = NonNull::new(p).ok_or_else(|| DbError::Other("no statement prepared".into()))?;
        // SAFETY: `p` is a live statement of `conn`; `sqlite3_sql` returns
        // its NUL-terminated text (or NULL), owned by the statement.
        let text = unsafe { ffi::sqlite3_sql(p.as_ptr()) };
        let same = !text.is_null() && {
            let text = unsafe { CStr::from_ptr(text) }.to_bytes();
            !text.is_empty() && sql.as_bytes().starts_with(text)
        };
        if !same {
            return Err(DbError::Other(
                "the statement just prepared is not the connection's newest".into(),
            ));
        }
        Ok(RawStmt(p))
    }

    /// The row the statement's last step returned, to read in place for
    /// as long as `'s`.
    ///
    /// # Safety
    /// The statement must be live and its last step must have returned a
    /// row, and it must stay on that row (neither step nor reset) for all
    /// of `'s`.
    pub(super) unsafe fn current<'s>(self) -> StepRow<'s> {
        StepRow {
            stmt: self.0,
            count: ffi::sqlite3_data_count(self.0.as_ptr()) as usize,
            _stmt: PhantomData,
        }
    }
}

/// The row a statement's last step returned, read in place through
/// [`Columns`]: text is borrowed from SQLite's own copy of the column, and
/// only what a decoder keeps is copied out ([`StepRow::values`] copies it
/// all, for a [`Row`](crate::store::db::Row)). It lives no longer than the
/// borrow `'s` of the statement, which cannot step or reset meanwhile.
///
/// One `sqlite3_column_value` per column read, then `sqlite3_value_*` on
/// it: rusqlite's `get_ref` calls `sqlite3_column_type` and then
/// `sqlite3_column_text` and `sqlite3_column_bytes`, each entering and
/// leaving the connection's mutex (callgrind: 14 % of a list page's
/// instructions went to reading columns that way). The value is the
/// unprotected kind, which SQLite allows reading like this on the thread
/// that owns the connection (a `Conn` is used by one thread at a time).
pub(super) struct StepRow<'s> {
    stmt: NonNull<ffi::sqlite3_stmt>,
    count: usize,
    _stmt: PhantomData<&'s mut ()>,
}

impl StepRow<'_> {
    /// The column's type and value.
    fn value(&self, i: usize) -> Result<(i32, *mut ffi::sqlite3_value), DbError> {
        if i >= self.count {
            return Err(DbError::Decode(i));
        }
        // SAFETY: the statement is on a row (see `RawStmt::current`), and
        // `i` is one of its columns.
        unsafe {
            let v = ffi::sqlite3_column_value(self.stmt.as_ptr(), i as i32);
            Ok((ffi::sqlite3_value_type(v), v))
        }
    }

    /// The bytes of `v`, a TEXT (or BLOB) value of this row.
    ///
    /// # Safety
    /// `v` must come from [`StepRow::value`] on this row with the type
    /// TEXT or BLOB (read as what it is, it is not converted). Its bytes,
    /// read before their length as SQLite asks, stay valid until the
    /// statement steps or resets, which it cannot while `self` is borrowed.
    unsafe fn bytes_of(&self, v: *mut ffi::sqlite3_value, text: bool) -> Result<&[u8], DbError> {
        let p = match text {
            true => ffi::sqlite3_value_text(v),
            false => ffi::sqlite3_value_blob(v).cast::<u8>(),
        };
        let len = ffi::sqlite3_value_bytes(v) as usize;
        match (p.is_null(), len) {
            // A zero-length blob comes as NULL.
            (true, 0) if !text => Ok(&[]),
            (true, _) => Err(DbError::Other("sqlite: out of memory".into())),
            (false, _) => Ok(std::slice::from_raw_parts(p, len)),
        }
    }

    /// The bytes of a TEXT column; `None` for NULL.
    fn opt_bytes(&self, i: usize) -> Result<Option<&[u8]>, DbError> {
        match self.value(i)? {
            // SAFETY: a TEXT value of this row.
            (ffi::SQLITE_TEXT, v) => Ok(Some(unsafe { self.bytes_of(v, true) }?)),
            (ffi::SQLITE_NULL, _) => Ok(None),
            _ => Err(DbError::Decode(i)),
        }
    }

    fn bytes(&self, i: usize) -> Result<&[u8], DbError> {
        self.opt_bytes(i)?.ok_or(DbError::Decode(i))
    }

    /// Every column, copied into owned values.
    pub(super) fn values(&self) -> Result<Vec<Value>, DbError> {
        (0..self.count)
            .map(|i| {
                let (kind, v) = self.value(i)?;
                // SAFETY: `v` is a column of this row, read as its type.
                Ok(match kind {
                    ffi::SQLITE_INTEGER | ffi::SQLITE_FLOAT => {
                        Value::Int(unsafe { int_of(kind, v) }.ok_or(DbError::Decode(i))?)
                    }
                    ffi::SQLITE_TEXT => Value::Text(owned_text(unsafe { self.bytes_of(v, true) }?)),
                    ffi::SQLITE_BLOB => Value::Bytes(unsafe { self.bytes_of(v, false) }?.to_vec()),
                    _ => Value::NullText,
                })
            })
            .collect()
    }
}

/// An INTEGER value, or a FLOAT one truncated; `None` for other types.
///
/// # Safety
/// `v` must be a live value whose type is `kind`.
unsafe fn int_of(kind: i32, v: *mut ffi::sqlite3_value) -> Option<i64> {
    match kind {
        ffi::SQLITE_INTEGER => Some(ffi::sqlite3_value_int64(v)),
        ffi::SQLITE_FLOAT => Some(ffi::sqlite3_value_double(v) as i64),
        _ => None,
    }
}

/// Text read from SQLite as a `String` (a column written by another
/// program may not be UTF-8: its bad bytes are replaced, not refused).
fn owned_text(t: &[u8]) -> String {
    match utf8(t) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(t).into_owned(),
    }
}

/// `t` as a `str`, if it is UTF-8. Nearly all our text is ASCII (ids,
/// slugs, statuses, the JSON we wrote), which std's `is_ascii` checks a
/// word at a time; `from_utf8`, which starts byte by byte up to its first
/// aligned word, took ~80 instructions for a 35-byte id, and reading a page
/// of workspaces checks 200 strings.
fn utf8(t: &[u8]) -> Result<&str, std::str::Utf8Error> {
    if t.is_ascii() {
        // SAFETY: ASCII is UTF-8.
        Ok(unsafe { std::str::from_utf8_unchecked(t) })
    } else {
        std::str::from_utf8(t)
    }
}

impl Columns for StepRow<'_> {
    fn int(&self, i: usize) -> Result<i64, DbError> {
        self.opt_int(i)?.ok_or(DbError::Decode(i))
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>, DbError> {
        match self.value(i)? {
            (ffi::SQLITE_NULL, _) => Ok(None),
            // SAFETY: `v` is a column of the current row, of type `kind`.
            (kind, v) => unsafe { int_of(kind, v) }
                .map(Some)
                .ok_or(DbError::Decode(i)),
        }
    }

    fn str(&self, i: usize) -> Result<&str, DbError> {
        utf8(self.bytes(i)?).map_err(|_| DbError::Decode(i))
    }

    fn is_null(&self, i: usize) -> bool {
        self.value(i).map_or(true, |(t, _)| t == ffi::SQLITE_NULL)
    }

    fn take_text(&mut self, i: usize) -> Result<String, DbError> {
        Ok(owned_text(self.bytes(i)?))
    }

    fn take_opt_text(&mut self, i: usize) -> Result<Option<String>, DbError> {
        Ok(self.opt_bytes(i)?.map(owned_text))
    }

    fn count(&self) -> usize {
        self.count
    }
}

// SAFETY: a `Statement` is not `Send` only because it holds a reference to
// its connection, which is `Send` but not `Sync`. Every statement here
// belongs to the connection it travels with, and the `Conn` is used by one
// thread at a time, as rusqlite's own statement cache is (`unsafe impl Send
// for StatementCache`).
unsafe impl Send for Conn {}

impl Deref for Conn {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl Conn {
    pub fn new(conn: Connection) -> Self {
        Conn {
            stmts: RefCell::new(HashMap::default()),
            conn: Box::new(conn),
        }
    }

    /// The statement for `sql`, prepared on first use, with `params` bound.
    /// Use it in place: it borrows this connection, so it must never be
    /// moved (swapped) out of the `RefMut` (nothing in this module does).
    pub(super) fn bound(
        &self,
        sql: &str,
        params: &[Value],
    ) -> Result<(RefMut<'_, Statement<'static>>, RawStmt), DbError> {
        // One lookup (one hash of the SQL) when the statement is there.
        let found = RefMut::filter_map(self.stmts.borrow_mut(), |s| s.get_mut(sql));
        let mut prepared = match found {
            Ok(prepared) => prepared,
            Err(mut stmts) => {
                if stmts.len() >= MAX_STATEMENTS {
                    stmts.clear();
                }
                let stmt = self.conn.prepare(sql).map_err(map_err)?;
                // SAFETY: see `Prepared::stmt`. The connection is boxed and
                // owned by `self`, which drops this statement before it.
                let stmt: Statement<'static> = unsafe { std::mem::transmute(stmt) };
                let raw = RawStmt::newest(&self.conn, sql)?;
                let order = match in_order(&stmt, sql) {
                    true => None,
                    false => Some(order_by_name(&stmt)?),
                };
                stmts.insert(sql.into(), Prepared { stmt, raw, order });
                RefMut::map(stmts, |s| s.get_mut(sql).expect("inserted above"))
            }
        };
        let raw = prepared.raw;
        let count = prepared.stmt.parameter_count();
        if count != params.len() {
            return Err(DbError::Other(format!(
                "statement takes {count} parameters, {} given",
                params.len()
            )));
        }
        let Prepared { stmt, order, .. } = &mut *prepared;
        for i in 0..count {
            let from = order.as_ref().map_or(i, |o| o[i]);
            stmt.raw_bind_parameter(i + 1, &params[from])
                .map_err(map_err)?;
        }
        Ok((RefMut::map(prepared, |p| &mut p.stmt), raw))
    }
}

/// Whether `$1..$N` first appear in order, so that SQLite's numbering of
/// the parameters (by first appearance) is N. Asked of SQLite for the
/// usual handful; read from the text for more (see `numbered_in_order`).
fn in_order(stmt: &Statement<'_>, sql: &str) -> bool {
    let count = stmt.parameter_count();
    if count > 16 {
        return numbered_in_order(sql, count);
    }
    (1..=count).all(|i| number_in_name(stmt, i) == Some(i))
}

/// N of the `$N` that SQLite numbers `i`.
fn number_in_name(stmt: &Statement<'_>, i: usize) -> Option<usize> {
    stmt.parameter_name(i)?.strip_prefix('$')?.parse().ok()
}

/// SQLite reads `$1` as a *named* parameter and numbers named parameters by
/// first appearance, not by N: each is bound by the number in its name
/// (`$3` gets `params[2]`), which this reads once per statement. This keeps
/// the SQL text as written.
fn order_by_name(stmt: &Statement<'_>) -> Result<Box<[usize]>, DbError> {
    let count = stmt.parameter_count();
    (1..=count)
        .map(|i| {
            number_in_name(stmt, i)
                .filter(|n| (1..=count).contains(n))
                .map(|n| n - 1)
                .ok_or_else(|| DbError::Other(format!("parameter {i} is not named $1..${count}")))
        })
        .collect()
}

/// Whether the `$N` parameters of `sql` first appear as 1, 2, ..., `count`
/// (repeats allowed), so that SQLite's numbering by first appearance is N.
/// Read from the text: asking SQLite each parameter's name walks a list,
/// N²/2 steps for a bulk INSERT with thousands. Quoted strings and names
/// are skipped. A misreading can only answer `false`, and the statement is
/// then bound by name.
fn numbered_in_order(sql: &str, count: usize) -> bool {
    let b = sql.as_bytes();
    let mut next = 1;
    let mut i = 0;
    while let Some(off) = b[i..]
        .iter()
        .position(|&c| matches!(c, b'$' | b'\'' | b'"'))
    {
        let at = i + off;
        if b[at] != b'$' {
            // '' inside a string reads as its end and a new start: same skip.
            let Some(len) = b[at + 1..].iter().position(|&c| c == b[at]) else {
                return false;
            };
            i = at + 1 + len + 1;
            continue;
        }
        let digits = b[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        match sql[at + 1..at + 1 + digits].parse::<usize>() {
            Ok(n) if n == next => next += 1,
            Ok(n) if n >= 1 && n < next => {}
            _ => return false,
        }
        i = at + 1 + digits;
    }
    next - 1 == count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_checked_as_std_checks_it_at_every_length() {
        for base in ["a", "é", "日本", "\u{1F600}", "\u{7f}"] {
            for n in 0..40 {
                let s = base.repeat(n);
                let ascii_then = format!("{}{s}", "x".repeat(n % 9));
                for t in [s.as_bytes(), ascii_then.as_bytes()] {
                    assert_eq!(utf8(t).ok(), std::str::from_utf8(t).ok());
                }
            }
        }
        for bad in [
            &b"\xff"[..],
            b"abcdefgh\xc3",
            b"\xc3(",
            b"abcdefghijklmno\x80p",
        ] {
            assert!(utf8(bad).is_err());
        }
    }

    #[test]
    fn parameters_in_order_are_read_from_the_text() {
        assert!(numbered_in_order("SELECT $1, '$3', \"$9\", $2, $1, $3", 3));
        assert!(!numbered_in_order("SELECT $2, $1", 2));
        assert!(!numbered_in_order("SELECT '$1', $2, $1", 2));
        assert!(!numbered_in_order("SELECT $1, $3", 3));
        assert!(!numbered_in_order("SELECT 'open $1", 1));
    }

    #[test]
    fn a_statement_is_prepared_once_and_rebound_on_every_use() {
        let conn = Conn::new(Connection::open_in_memory().unwrap());
        let sql = "SELECT $2 || $1";
        for (a, b) in [("x", "y"), ("1", "2")] {
            let (mut stmt, _) = conn.bound(sql, &[a.into(), b.into()]).unwrap();
            let mut rows = stmt.raw_query();
            let row = rows.next().unwrap().unwrap();
            assert_eq!(row.get::<_, String>(0).unwrap(), format!("{b}{a}"));
        }
        assert_eq!(conn.stmts.borrow().len(), 1);
        assert!(conn.bound(sql, &["only one".into()]).is_err());
    }

    #[test]
    fn a_kept_statement_follows_a_schema_change() {
        let conn = Conn::new(Connection::open_in_memory().unwrap());
        conn.execute_batch("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1)")
            .unwrap();
        let read = |conn: &Conn| {
            let rows = super::super::query(conn, "SELECT * FROM t", &[]).unwrap();
            (0..rows[0].0.len())
                .map(|i| rows[0].int(i).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(read(&conn), [1]);
        // SQLite prepares the kept statement again after the change.
        conn.execute_batch("ALTER TABLE t ADD COLUMN b INTEGER NOT NULL DEFAULT 2")
            .unwrap();
        assert_eq!(read(&conn), [1, 2]);
    }

    #[test]
    fn the_cache_starts_over_when_full() {
        let conn = Conn::new(Connection::open_in_memory().unwrap());
        for i in 0..MAX_STATEMENTS + 3 {
            let (mut stmt, _) = conn.bound(&format!("SELECT {i}"), &[]).unwrap();
            let mut rows = stmt.raw_query();
            assert_eq!(
                rows.next().unwrap().unwrap().get::<_, i64>(0).unwrap(),
                i as i64
            );
        }
        assert_eq!(conn.stmts.borrow().len(), 3);
    }
}
