//! Keyset pages. Two shapes: the rows of one workspace in one of four sort
//! orders (projects, codebases, bridges: `(sort key, id)` walks the
//! `(workspace_id, created_at, id)` index), and newest-first lists of what
//! one `FROM ... WHERE` selects (members, invitations, organizations,
//! organization members, tokens: `(created_at, id)` descending walks the
//! owner's index). Either way a page costs the same at any depth.
//!
//! Every keyset query here (and the workspaces list's) reads the id first
//! and the sort key last, so one step makes the page and its cursor from
//! the rows: [`Pager`], fed a row at a time (the workspaces list feeds it
//! rows read in place), or [`cut`] for decoded rows.

use super::db::{Columns, Db, DbError, Row, Value};
use crate::domain::ids::WorkspaceId;
use crate::domain::pagination::{Cursor, CursorKey, Page, PageRequest, Sort};
use crate::domain::Error;
use crate::params;

/// A table of workspace rows: its name, its ids' prefix and the columns to
/// read (the first must be `id`).
pub(crate) struct Table {
    pub name: &'static str,
    pub id_prefix: &'static str,
    pub cols: &'static str,
}

/// One page of `table`'s rows of `workspace`.
pub(crate) async fn page_in_workspace<T, E>(
    db: &Db,
    table: &Table,
    workspace: &WorkspaceId,
    sort: Sort,
    page: &PageRequest,
    decode: impl FnMut(Row) -> Result<T, E>,
) -> Result<Page<T>, Error>
where
    Error: From<E>,
{
    let Table {
        name: table,
        id_prefix,
        cols,
    } = *table;
    // Names sort case-insensitively and byte-wise, the same on both
    // databases (see `Backend::name_key`).
    let key = match sort.by_name() {
        false => "created_at".to_owned(),
        true => db.backend().name_key("name"),
    };
    let (dir, cmp) = if sort.descending() {
        ("DESC", "<")
    } else {
        ("ASC", ">")
    };
    let mut params = params![workspace];
    let (after, offset) = page.position();
    let mut keyset = String::new();
    if let Some(c) = after {
        let (at, id) = c.of_list(id_prefix, sort)?;
        params.push(match at {
            CursorKey::Int(v) => (*v).into(),
            CursorKey::Text(t) => t.as_str().into(),
        });
        params.push(id.into());
        keyset = format!(" AND ({key}, id) {cmp} ($2, $3)");
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
    let total = if page.include_total {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE workspace_id = $1");
        Some(db.fetch_all(&sql, params![workspace]).await?[0].int(0)?)
    } else {
        None
    };
    cut(rows, page, sort, total, decode)
}

/// A newest-first list: the rows `from` (`FROM ... WHERE ...`, binding the
/// parameters it is given) selects, `cols` of each (the first must be the
/// id), walked by `(created_at, id)` descending.
pub(crate) struct NewestFirst<'a> {
    pub cols: &'a str,
    pub from: &'a str,
    /// The keyset columns: the creation time, then the id.
    pub created_at: &'a str,
    pub id: &'a str,
    /// The prefix of the ids in this list's cursors.
    pub id_prefix: &'a str,
}

/// One page of `list`; `params` are the ones `list.from` binds.
pub(crate) async fn page_newest_first<T, E>(
    db: &Db,
    list: &NewestFirst<'_>,
    mut params: Vec<Value>,
    page: &PageRequest,
    decode: impl FnMut(Row) -> Result<T, E>,
) -> Result<Page<T>, Error>
where
    Error: From<E>,
{
    let NewestFirst {
        cols,
        from,
        created_at,
        id,
        id_prefix,
    } = list;
    let total = if page.include_total {
        let sql = format!("SELECT COUNT(*) {from}");
        Some(db.fetch_all(&sql, params.clone()).await?[0].int(0)?)
    } else {
        None
    };
    let (after, offset) = page.position();
    let mut keyset = String::new();
    if let Some(c) = after {
        let (at, after_id) = c.created_at_of(id_prefix)?;
        params.push(at.into());
        params.push(after_id.into());
        let (a, b) = (params.len() - 1, params.len());
        keyset = format!(" AND ({created_at}, {id}) < (${a}, ${b})");
    }
    params.push((page.limit + 1).into());
    params.push(offset.into());
    let (l, o) = (params.len() - 1, params.len());
    let sql = format!(
        "SELECT {cols}, {created_at} {from}{keyset}
         ORDER BY {created_at} DESC, {id} DESC LIMIT ${l} OFFSET ${o}"
    );
    let rows = db.fetch_all(&sql, params).await?;
    cut(rows, page, Sort::CreatedDesc, total, decode)
}

/// The page of the `limit + 1` rows a keyset query returned in the order
/// `sort`, each with its id first and its sort key last: `limit` rows,
/// whether there are more, and the cursor after the last row kept.
pub(crate) fn cut<T, E>(
    rows: Vec<Row>,
    page: &PageRequest,
    sort: Sort,
    total: Option<i64>,
    mut decode: impl FnMut(Row) -> Result<T, E>,
) -> Result<Page<T>, Error>
where
    Error: From<E>,
{
    let mut pager = Pager::new(page, sort);
    for mut row in rows {
        pager.push(&mut row, |r| Ok::<_, Error>(decode(std::mem::take(r))?))?;
    }
    Ok(pager.finish(total))
}

/// [`cut`] one row at a time, for rows read in place
/// ([`Db::for_each_row`](super::db::Db::for_each_row)).
pub(crate) struct Pager<T> {
    limit: usize,
    /// The order the rows come in, which the cursor names.
    sort: Sort,
    items: Vec<T>,
    has_more: bool,
    /// The cursor after the `limit`-th row, once it has come.
    after_last: Option<Cursor>,
}

impl<T> Pager<T> {
    pub fn new(page: &PageRequest, sort: Sort) -> Self {
        let limit = page.limit.max(0) as usize;
        Pager {
            limit,
            sort,
            // Sized up front: a page of workspaces (450 bytes each) regrew
            // four times, copying every row.
            items: Vec::with_capacity(limit),
            has_more: false,
            after_last: None,
        }
    }

    /// One row, its id first and its sort key last: decoded while the page
    /// has room; a row past it only says there are more.
    pub fn push<C: Columns + ?Sized, E: From<DbError>>(
        &mut self,
        row: &mut C,
        decode: impl FnOnce(&mut C) -> Result<T, E>,
    ) -> Result<(), E> {
        if self.items.len() == self.limit {
            self.has_more = true;
            return Ok(());
        }
        if self.items.len() + 1 == self.limit {
            // Read before decoding, which may take the id out of the row.
            let at = row.count().saturating_sub(1);
            let key = match self.sort.by_name() {
                true => CursorKey::Text(row.str(at)?.to_owned()),
                false => CursorKey::Int(row.int(at)?),
            };
            let id = row.str(0)?.to_owned();
            self.after_last = Some(Cursor {
                sort: self.sort,
                key,
                id,
            });
        }
        self.items.push(decode(row)?);
        Ok(())
    }

    pub fn finish(self, total: Option<i64>) -> Page<T> {
        Page {
            next_cursor: self
                .after_last
                .filter(|_| self.has_more)
                .map(|c| c.encode()),
            items: self.items,
            has_more: self.has_more,
            total,
            limit: self.limit as i64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, key: i64) -> Row {
        Row(vec![
            Value::Text(id.into()),
            Value::NullText,
            Value::Int(key),
        ])
    }

    fn page(limit: i64) -> PageRequest {
        PageRequest::parse(Some(&limit.to_string()), None, None, None).unwrap()
    }

    #[test]
    fn pages_cut_the_extra_row_and_point_after_the_last_kept() {
        let ids = |r: Row| r.text(0);
        let rows = vec![row("x_5", 5), row("x_4", 4), row("x_3", 3)];
        let p = cut(rows, &page(2), Sort::CreatedDesc, None, ids).unwrap();
        assert_eq!(p.items, vec!["x_5", "x_4"]);
        assert!(p.has_more);
        assert_eq!(
            Cursor::decode(p.next_cursor.as_deref().unwrap()),
            Some(Cursor {
                sort: Sort::CreatedDesc,
                key: CursorKey::Int(4),
                id: "x_4".into()
            })
        );
        let last = cut(
            vec![row("x_2", 2), row("x_1", 1)],
            &page(2),
            Sort::CreatedDesc,
            Some(7),
            ids,
        )
        .unwrap();
        assert!(!last.has_more && last.next_cursor.is_none());
        assert_eq!(last.total, Some(7));
    }

    #[test]
    fn a_name_order_makes_a_text_cursor_naming_its_direction() {
        let rows = vec![
            Row(vec![Value::Text("p_1".into()), Value::Text("alpha".into())]),
            Row(vec![Value::Text("p_2".into()), Value::Text("beta".into())]),
        ];
        let p = cut(rows, &page(1), Sort::NameDesc, None, |r| r.text(0)).unwrap();
        assert_eq!(
            Cursor::decode(p.next_cursor.as_deref().unwrap()),
            Some(Cursor {
                sort: Sort::NameDesc,
                key: CursorKey::Text("alpha".into()),
                id: "p_1".into()
            })
        );
    }
}
