//! SQL functions of our own, registered on every connection.
//!
//! `fold(text)`: [`fold_case`], for `q` searches and the `sort=name` key.
//! SQLite's own `lower()` and `LIKE` fold ASCII only (without the ICU
//! extension), so "Café Ünïcode" was not found by `q=ünï` and "Éclair"
//! sorted before "ärger". PostgreSQL computes the same folding with its
//! `lower()` (see [`Backend::fold`](crate::store::db::Backend::fold)), so
//! the queries keep one text with one function name swapped. Chosen over
//! a stored folded column (which would need a migration and a backfill on
//! both databases and a second write wherever a name changes) and over
//! overriding SQLite's `lower()` (a trap for anyone reading the SQL, and
//! for any index built on it): nothing is stored, and the default list,
//! which neither searches nor sorts by name, never calls it.
//!
//! Deterministic (the same text always folds the same), so SQLite may
//! factor calls and an index or generated column could use it; innocuous
//! (no side effects), so a schema may name it safely.

use std::borrow::Cow;

use rusqlite::functions::{FunctionFlags, SqlFnArg};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};

use crate::domain::text::fold_case;

/// Registers our functions on `conn`.
pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "fold",
        1,
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx| {
            let same = || Folded::Same(ctx.get_arg(0));
            Ok(match ctx.get_raw(0) {
                ValueRef::Text(t) => match std::str::from_utf8(t).map(fold_case) {
                    Ok(Cow::Owned(folded)) => Folded::Changed(folded),
                    // Already folded (most names), or not UTF-8 (not ours):
                    // the argument itself, copied by SQLite, no allocation.
                    Ok(Cow::Borrowed(_)) | Err(_) => same(),
                },
                // NULL stays NULL; numbers and blobs have no case.
                _ => same(),
            })
        },
    )
}

/// A `fold()` result.
enum Folded {
    Same(SqlFnArg),
    Changed(String),
}

impl ToSql for Folded {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Folded::Same(arg) => arg.to_sql(),
            Folded::Changed(s) => Ok(ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        conn
    }

    #[test]
    fn fold_lowercases_unicode_text_and_leaves_the_rest() {
        let conn = conn();
        let fold = |sql: &str| -> Option<String> { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(
            fold("SELECT fold('Café ÜNÏCODE')").as_deref(),
            Some("café ünïcode")
        );
        assert_eq!(
            fold("SELECT fold('already lower')").as_deref(),
            Some("already lower")
        );
        assert_eq!(fold("SELECT fold(NULL)"), None);
        let n: i64 = conn.query_row("SELECT fold(42)", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 42);
        // What SQLite alone does, for contrast.
        assert_eq!(fold("SELECT lower('ÜNÏ')").as_deref(), Some("ÜnÏ"));
    }

    #[test]
    fn fold_orders_and_matches_without_regard_to_case() {
        let conn = conn();
        conn.execute_batch(
            "CREATE TABLE t (name TEXT);
             INSERT INTO t VALUES ('éclat'), ('Zoo'), ('Éclair'), ('ärger'), ('apple');",
        )
        .unwrap();
        let mut stmt = conn
            .prepare("SELECT name FROM t ORDER BY fold(name), name")
            .unwrap();
        let names: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(names, ["apple", "Zoo", "ärger", "Éclair", "éclat"]);
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM t WHERE fold(name) LIKE '%écla%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 2);
    }
}
