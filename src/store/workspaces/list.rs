//! The workspaces a user can access, in keyset pages.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use super::*;
use crate::domain::ids::UserId;
use crate::domain::pagination::{CursorKey, Page, PageRequest};
use crate::domain::time::now_ms;
use crate::domain::workspace::{Status, Workspace};
use crate::domain::Error;
use crate::store::db::Backend;
use crate::store::lists::Pager;
use crate::store::Store;

impl Store {
    /// The workspaces a user can access, one keyset (or offset) page.
    ///
    /// Two disjoint branches: direct memberships (`memberships_user_idx`,
    /// walked newest first) and workspaces of the user's organizations
    /// (`workspaces_org_idx`) where the user is not also a direct member,
    /// merged in order and cut to the page, so for direct memberships the
    /// cost follows the page size, not the number of memberships or the
    /// depth of the page.
    ///
    /// The text of the statement depends only on the [`ListShape`] of the
    /// request and is written once per shape ([`list_sql`]); the values go
    /// into the places [`Slots`] numbers for that shape.
    pub async fn list_workspaces(
        &self,
        user: &UserId,
        filter: &ListFilter,
        page: &PageRequest,
    ) -> Result<Page<Workspace>, Error> {
        let (after, offset) = page.position();
        let cursor = after
            .map(|c| c.of_list(WorkspaceId::PREFIX, filter.sort))
            .transpose()?;
        let request = ListRequest {
            user,
            filter,
            page,
            offset,
            cursor,
        };
        if let Db::Sqlite(db) = &self.db {
            return Ok(db.read_memo(|conn, memo| request.on_sqlite(conn, memo))?);
        }
        let (shape, params) = request.statement(Plan::Postgres);
        let at = Slots::of(&shape);
        let total = if page.include_total {
            // The count takes the filters' values only, which come first.
            let params = params[..at.filters].to_vec();
            Some(self.db.fetch_all(&count_sql(&shape), params).await?[0].int(0)?)
        } else {
            None
        };
        // Each branch reads the id first and `sort_key` last.
        let mut pager = Pager::new(page, filter.sort);
        self.db
            .for_each_row(&list_sql(&shape), params, |r| pager.push(r, workspace_from))
            .await?;
        Ok(pager.finish(total))
    }
}

/// One list request, validated.
struct ListRequest<'a> {
    user: &'a UserId,
    filter: &'a ListFilter,
    page: &'a PageRequest,
    offset: i64,
    cursor: Option<(&'a CursorKey, &'a str)>,
}

impl ListRequest<'_> {
    /// The shape of the statement for `plan`, and its parameters.
    fn statement(&self, plan: Plan) -> (ListShape, Vec<Value>) {
        let (filter, page) = (self.filter, self.page);
        let shape = ListShape {
            // `status=archived,active` and `status=active,archived,active`
            // are one shape.
            statuses: StatusSet::of(&filter.statuses),
            role: filter.role.is_some(),
            organization: filter.organization_id.is_some(),
            q: filter.q.is_some(),
            sort: filter.sort,
            cursor: self.cursor.is_some(),
            plan,
        };
        let at = Slots::of(&shape);
        let mut params = vec![Value::NullText; at.count];
        let mut put = |slot: usize, v: Value| params[slot - 1] = v;
        put(at.user, self.user.into());
        if let Some(slot) = at.deleted_before {
            put(slot, now_ms().into());
        }
        if let (Some(slot), Some(r)) = (at.role, filter.role) {
            put(slot, r.rank().into());
        }
        if let (Some(slot), Some(org)) = (at.organization, &filter.organization_id) {
            put(slot, org.as_str().into());
        }
        if let (Some(slot), Some(q)) = (at.q, &filter.q) {
            put(slot, like_pattern(q).into());
        }
        if let (Some((key_slot, id_slot)), Some((key, id))) = (at.cursor, self.cursor) {
            put(
                key_slot,
                match key {
                    CursorKey::Int(v) => (*v).into(),
                    CursorKey::Text(t) => t.as_str().into(),
                },
            );
            put(id_slot, id.into());
        }
        put(at.limit, (page.limit + 1).into());
        put(at.offset, self.offset.into());
        if let Some(slot) = at.branch_limit {
            put(slot, (self.offset + page.limit + 1).into());
        }
        (shape, params)
    }

    /// The page on a SQLite reader, through its memo (see
    /// `store/sqlite/readers.rs`): a page is what the same request read in
    /// the database as it still is, so a read load reads it once until the
    /// next commit. Not kept when it lists deleted workspaces, whose
    /// condition depends on the time (`purge_at` against now).
    fn on_sqlite(&self, conn: &Conn, memo: &mut ReadMemo) -> Result<Page<Workspace>, DbError> {
        if self.filter.statuses.contains(&Status::Deleted) {
            return self.read_sqlite(conn);
        }
        let user = self.user.as_str();
        // Debug output quotes and escapes its strings; the user's length
        // first: no two requests make the same key.
        let key = format!("{}:{user}{:?}{:?}", user.len(), self.filter, self.page);
        let bytes = |page: &Page<Workspace>| page.items.iter().map(heap_bytes).sum();
        memo.get_or_read(&key, || self.read_sqlite(conn), bytes)
    }

    /// The page, read on a SQLite reader.
    fn read_sqlite(&self, conn: &Conn) -> Result<Page<Workspace>, DbError> {
        // Most users belong to no organization: then the first branch is
        // the whole answer, and SQLite skips the compound's merge and the
        // second branch's sort (a temporary B-tree per request), ~10 % of a
        // page, for one index probe.
        let in_org = sqlite::find(conn, IN_ANY_ORGANIZATION, &[self.user.into()], |_| Ok(()))?;
        let plan = match in_org {
            None => Plan::SqliteDirect,
            Some(()) => Plan::SqliteBoth,
        };
        let (shape, params) = self.statement(plan);
        let total = match self.page.include_total {
            // The count takes the filters' values only, which come first.
            true => {
                let filters = &params[..Slots::of(&shape).filters];
                sqlite::find(conn, &count_sql(&shape), filters, |r| r.int(0))?
            }
            false => None,
        };
        // Each branch reads the id first and `sort_key` last.
        let mut pager = Pager::new(self.page, self.filter.sort);
        let sql = list_sql(&shape);
        sqlite::for_each_row(conn, &sql, &params, &mut |r| pager.push(r, workspace_from))?;
        Ok(pager.finish(total))
    }
}

/// Whether the user is a member of any organization.
const IN_ANY_ORGANIZATION: &str = "SELECT 1 FROM org_members WHERE user_id = $1 LIMIT 1";

/// What the text of a list statement depends on: which filters are set
/// (their values are parameters), the sort, whether a cursor is given, and
/// the plan. At most 8 × 2³ × 4 × 2 × 3 shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ListShape {
    statuses: StatusSet,
    role: bool,
    organization: bool,
    q: bool,
    sort: Sort,
    cursor: bool,
    plan: Plan,
}

/// How the two branches are put together (see [`write_list_sql`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Plan {
    /// SQLite, for a user in no organization: the direct branch alone.
    SqliteDirect,
    SqliteBoth,
    Postgres,
}

impl Plan {
    fn backend(self) -> Backend {
        match self {
            Plan::SqliteDirect | Plan::SqliteBoth => Backend::Sqlite,
            Plan::Postgres => Backend::Postgres,
        }
    }
}

/// The statuses a list asks for, as a set; empty means active and archived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct StatusSet(u8);

impl StatusSet {
    /// The order their conditions are written in.
    const ORDER: [Status; 3] = [Status::Active, Status::Archived, Status::Deleted];

    fn of(list: &[Status]) -> StatusSet {
        StatusSet(list.iter().fold(0, |set, s| set | Self::bit(*s)))
    }

    fn bit(s: Status) -> u8 {
        match s {
            Status::Active => 1,
            Status::Archived => 2,
            Status::Deleted => 4,
        }
    }

    fn has(self, s: Status) -> bool {
        self.0 & Self::bit(s) != 0
    }

    fn iter(self) -> impl Iterator<Item = Status> {
        Self::ORDER.into_iter().filter(move |s| self.has(*s))
    }
}

/// Where each parameter of a shape goes: its number (`$n`), counted in one
/// place, here, for both the text and the values. The filters' come first,
/// so the count query takes the first [`Slots::filters`] values.
struct Slots {
    user: usize,
    deleted_before: Option<usize>,
    role: Option<usize>,
    organization: Option<usize>,
    q: Option<usize>,
    /// How many of the parameters are the filters' (with the user's).
    filters: usize,
    /// The cursor's sort key and id.
    cursor: Option<(usize, usize)>,
    limit: usize,
    offset: usize,
    /// PostgreSQL: the limit of each branch.
    branch_limit: Option<usize>,
    count: usize,
}

impl Slots {
    fn of(shape: &ListShape) -> Slots {
        let mut n = 0;
        let next = |n: &mut usize| {
            *n += 1;
            *n
        };
        let user = next(&mut n);
        let deleted_before = shape.statuses.has(Status::Deleted).then(|| next(&mut n));
        let role = shape.role.then(|| next(&mut n));
        let organization = shape.organization.then(|| next(&mut n));
        let q = shape.q.then(|| next(&mut n));
        let filters = n;
        let cursor = shape.cursor.then(|| (next(&mut n), next(&mut n)));
        let limit = next(&mut n);
        let offset = next(&mut n);
        let branch_limit = (shape.plan == Plan::Postgres).then(|| next(&mut n));
        Slots {
            user,
            deleted_before,
            role,
            organization,
            q,
            filters,
            cursor,
            limit,
            offset,
            branch_limit,
            count: n,
        }
    }
}

/// `$n`.
fn slot(n: usize) -> String {
    format!("${n}")
}

/// The filters' conditions, joined by AND.
fn conditions(shape: &ListShape, at: &Slots) -> String {
    let mut conds = Vec::new();
    if shape.statuses.0 == 0 {
        conds.push("w.status IN ('active', 'archived')".to_owned());
    } else {
        let alts: Vec<String> = shape
            .statuses
            .iter()
            .map(|s| match (s, at.deleted_before) {
                (Status::Deleted, Some(now)) => format!(
                    "(w.status = 'deleted' AND {EFFECTIVE_RANK} = 4 AND w.purge_at > {})",
                    slot(now)
                ),
                (other, _) => format!("w.status = '{}'", other.as_str()),
            })
            .collect();
        conds.push(format!("({})", alts.join(" OR ")));
    }
    if let Some(r) = at.role {
        conds.push(format!("{EFFECTIVE_RANK} = {}", slot(r)));
    }
    if let Some(org) = at.organization {
        conds.push(format!("w.organization_id = {}", slot(org)));
    }
    if let Some(pat) = at.q.map(slot) {
        // Slugs are lowercase ASCII already.
        let name = shape.plan.backend().fold("w.name");
        conds.push(format!(
            "({name} LIKE {pat} ESCAPE '\\' OR w.slug LIKE {pat} ESCAPE '\\')"
        ));
    }
    conds.join(" AND ")
}

/// `total`: the accessible workspaces that pass the filters.
fn count_sql(shape: &ListShape) -> String {
    let at = Slots::of(shape);
    let (uid, common) = (slot(at.user), conditions(shape, &at));
    format!(
        "SELECT COUNT(*) FROM (
           SELECT w.id FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
           LEFT JOIN org_members om ON om.organization_id = w.organization_id AND om.user_id = m.user_id
           WHERE m.user_id = {uid} AND {common}
           UNION
           SELECT w.id FROM org_members om CROSS JOIN workspaces w
           LEFT JOIN memberships m ON m.workspace_id = w.id AND m.user_id = om.user_id
           WHERE w.organization_id = om.organization_id AND om.user_id = {uid} AND {common}) AS t"
    )
}

/// The page's statement for `shape`, written once per shape (the statement
/// itself is prepared once per connection, by its text). Writing it for
/// every request was 1.3 % of a first page's instructions (callgrind, bench
/// data).
fn list_sql(shape: &ListShape) -> Arc<str> {
    type Texts = HashMap<ListShape, Arc<str>, foldhash::fast::RandomState>;
    static TEXTS: LazyLock<Mutex<Texts>> = LazyLock::new(Mutex::default);
    TEXTS
        .lock()
        .expect("list texts poisoned")
        .entry(*shape)
        .or_insert_with(|| write_list_sql(shape).into())
        .clone()
}

fn write_list_sql(shape: &ListShape) -> String {
    let at = Slots::of(shape);
    let (uid, common) = (slot(at.user), conditions(shape, &at));
    // Sort key of each branch (the membership branch uses its copy of
    // created_at so the walk stays on its index) and of the outer query.
    let desc = shape.sort.descending();
    let dir = if desc { "DESC" } else { "ASC" };
    let cmp = if desc { "<" } else { ">" };
    // Names sort case-insensitively and byte-wise, the same on both
    // databases (see `Backend::name_key`).
    let name_key = shape.plan.backend().name_key("w.name");
    let (k1, id1, k2) = if shape.sort.by_name() {
        (name_key.as_str(), "w.id", name_key.as_str())
    } else {
        ("m.ws_created_at", "m.workspace_id", "w.created_at")
    };
    let (keyset1, keyset2) = match at.cursor {
        Some((key, cid)) => {
            let (key, cid) = (slot(key), slot(cid));
            (
                format!(" AND ({k1}, {id1}) {cmp} ({key}, {cid})"),
                format!(" AND ({k2}, w.id) {cmp} ({key}, {cid})"),
            )
        }
        None => (String::new(), String::new()),
    };
    // Each branch starts from the caller's own rows (`CROSS JOIN` fixes
    // the join order on SQLite, whose planner otherwise may, with
    // statistics saying org_members is empty, scan every workspace);
    // PostgreSQL plans CROSS JOIN + WHERE like the inner join it is.
    // The branches are disjoint (the second skips workspaces the caller
    // is a direct member of), so UNION ALL needs no duplicate removal.
    // Both read whole rows with both roles (the direct one from the
    // index the first walks), so the page needs no second lookup. The
    // first branch names its id `m.workspace_id`: the compound's ORDER
    // BY is then the order of `memberships_user_idx`.
    let a_cols = WS_COLS.replacen("w.id,", "m.workspace_id AS id,", 1);
    let branch_a = format!(
        "SELECT {a_cols}, m.role AS m_role, om.role AS om_role, {k1} AS sort_key
         FROM memberships m CROSS JOIN workspaces w
         LEFT JOIN org_members om ON om.organization_id = w.organization_id AND om.user_id = m.user_id
         WHERE w.id = m.workspace_id AND m.user_id = {uid} AND {common}{keyset1}"
    );
    let branch_b = format!(
        "SELECT {WS_COLS}, m.role AS m_role, om.role AS om_role, {k2} AS sort_key
         FROM org_members om CROSS JOIN workspaces w
         LEFT JOIN memberships m ON m.workspace_id = w.id AND m.user_id = om.user_id
         WHERE w.organization_id = om.organization_id AND om.user_id = {uid}
           AND m.workspace_id IS NULL AND {common}{keyset2}"
    );
    // Where the two databases need different shapes for the same result:
    // SQLite merges the plain compound as the first branch streams out
    // of its index, so a page reads about `limit` entries (a LIMITed
    // subquery would lose that order and re-sort whole rows). PostgreSQL
    // would hash-join all of the caller's memberships for the plain
    // compound, so each branch gets its own ORDER BY and LIMIT there.
    let (limit, offset) = (slot(at.limit), slot(at.offset));
    let page_clause = format!("ORDER BY sort_key {dir}, id {dir} LIMIT {limit} OFFSET {offset}");
    match shape.plan {
        Plan::SqliteDirect => format!("{branch_a} {page_clause}"),
        Plan::SqliteBoth => format!("{branch_a} UNION ALL {branch_b} {page_clause}"),
        Plan::Postgres => {
            let inner = slot(at.branch_limit.expect("a PostgreSQL plan has it"));
            format!(
                "SELECT * FROM ({branch_a} ORDER BY {k1} {dir}, {id1} {dir} LIMIT {inner}) AS a
                 UNION ALL
                 SELECT * FROM ({branch_b} ORDER BY {k2} {dir}, w.id {dir} LIMIT {inner}) AS b
                 {page_clause}"
            )
        }
    }
}
