//! Keyset pages: over the rows of one workspace (projects, codebases,
//! bridges), where `(sort key, id)` walks the `(workspace_id, created_at,
//! id)` index, and newest first over the rows one owner selects
//! (organizations and personal tokens of a user, members of an
//! organization). Either way a page costs the same at any depth.

use super::db::{Backend, Db, DbError, Row, Value};
use super::workspaces::Sort;
use crate::domain::ids::WorkspaceId;
use crate::domain::pagination::{Cursor, CursorKey, Page, PageRequest, Start};
use crate::domain::Error;
use crate::params;

/// A table of workspace rows: its name, its ids' prefix, the columns to read
/// (the first must be `id`), and how many there are.
pub(crate) struct Table {
    pub name: &'static str,
    pub id_prefix: &'static str,
    pub cols: &'static str,
    pub ncols: usize,
}

/// One page of `table`'s rows of `workspace`.
pub(crate) async fn page_in_workspace<T>(
    db: &Db,
    table: &Table,
    workspace: &WorkspaceId,
    sort: Sort,
    page: &PageRequest,
    decode: impl Fn(&Row) -> Result<T, DbError>,
) -> Result<Page<T>, Error> {
    let Table {
        name: table,
        id_prefix,
        cols,
        ncols,
    } = *table;
    let by_name = matches!(sort, Sort::NameAsc | Sort::NameDesc);
    let desc = matches!(sort, Sort::CreatedDesc | Sort::NameDesc);
    // Names sort case-insensitively and byte-wise on both databases.
    let key = match (by_name, db.backend()) {
        (false, _) => "created_at",
        (true, Backend::Sqlite) => "lower(name)",
        (true, Backend::Postgres) => "lower(name) COLLATE \"C\"",
    };
    let (dir, cmp) = if desc { ("DESC", "<") } else { ("ASC", ">") };
    let mut params = params![workspace];
    let mut keyset = String::new();
    let mut offset = 0;
    match &page.start {
        Start::First => {}
        Start::Offset(n) => offset = *n,
        Start::After(c) => {
            let (at, id) = c.of_list(id_prefix, by_name)?;
            params.push(match at {
                CursorKey::Int(v) => (*v).into(),
                CursorKey::Text(t) => t.as_str().into(),
            });
            params.push(id.into());
            keyset = format!(" AND ({key}, id) {cmp} ($2, $3)");
        }
    }
    let n = params.len();
    params.push((page.limit + 1).into());
    params.push(offset.into());
    let sql = format!(
        "SELECT {cols}, {key} FROM {table} WHERE workspace_id = $1{keyset}
         ORDER BY {key} {dir}, id {dir} LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let rows = db.fetch_all(&sql, params).await?;
    let has_more = rows.len() as i64 > page.limit;
    let rows = &rows[..rows.len().min(page.limit as usize)];
    let next_cursor = match (has_more, rows.last()) {
        (true, Some(last)) => Some(
            Cursor {
                key: if by_name {
                    CursorKey::Text(last.text(ncols)?)
                } else {
                    CursorKey::Int(last.int(ncols)?)
                },
                id: last.text(0)?,
            }
            .encode(),
        ),
        _ => None,
    };
    let total = if page.include_total {
        let r = db
            .fetch_all(
                &format!("SELECT COUNT(*) FROM {table} WHERE workspace_id = $1"),
                params![workspace],
            )
            .await?;
        Some(r[0].int(0)?)
    } else {
        None
    };
    Ok(Page {
        items: rows.iter().map(decode).collect::<Result<_, _>>()?,
        has_more,
        next_cursor,
        total,
        limit: page.limit,
    })
}

/// A newest-first list of the rows that `$1` (their owner) selects.
pub(crate) struct NewestFirst<'a> {
    /// `SELECT ... FROM ... WHERE <condition on $1>`.
    pub select: &'a str,
    /// `SELECT COUNT(*)` of the same rows, for `include_total`.
    pub count: &'a str,
    /// The keyset columns: the creation time, then the id.
    pub created_at: &'a str,
    pub id: &'a str,
    /// The prefix of the ids in this list's cursors.
    pub id_prefix: &'a str,
}

/// One page of `list`: `(created_at, id)` descending, so the owner's index
/// on `(owner, created_at, id)` serves it.
pub(crate) async fn page_newest_first<T, E>(
    db: &Db,
    list: &NewestFirst<'_>,
    owner: Value,
    page: &PageRequest,
    decode: impl FnMut(Row) -> Result<T, E>,
    cursor: impl Fn(&T) -> Cursor,
) -> Result<Page<T>, Error>
where
    Error: From<E>,
{
    let mut params = vec![owner];
    let total = if page.include_total {
        Some(db.fetch_all(list.count, params.clone()).await?[0].int(0)?)
    } else {
        None
    };
    let NewestFirst { created_at, id, .. } = list;
    let mut keyset = String::new();
    let mut offset = 0;
    match &page.start {
        Start::First => {}
        Start::Offset(n) => offset = *n,
        Start::After(c) => {
            let (at, after) = c.created_at_of(list.id_prefix)?;
            params.push(at.into());
            params.push(after.into());
            keyset = format!(" AND ({created_at}, {id}) < ($2, $3)");
        }
    }
    params.push((page.limit + 1).into());
    params.push(offset.into());
    let (l, o) = (params.len() - 1, params.len());
    let sql = format!(
        "{}{keyset} ORDER BY {created_at} DESC, {id} DESC LIMIT ${l} OFFSET ${o}",
        list.select
    );
    let rows = db.fetch_all(&sql, params).await?;
    let items = rows
        .into_iter()
        .map(decode)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::cut(items, page.limit, total, cursor))
}
