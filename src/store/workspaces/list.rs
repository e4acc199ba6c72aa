//! The workspaces a user can access, in keyset pages.

use super::*;
use crate::domain::ids::UserId;
use crate::domain::pagination::{CursorKey, Page, PageRequest};
use crate::domain::time::now_ms;
use crate::domain::workspace::{Status, Workspace};
use crate::domain::Error;
use crate::store::db::Backend;
use crate::store::lists::cut;
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
    pub async fn list_workspaces(
        &self,
        user: &UserId,
        filter: &ListFilter,
        page: &PageRequest,
    ) -> Result<Page<Workspace>, Error> {
        let mut p = Params::default();
        let uid = p.bind(user);
        let mut conds = Vec::new();
        if filter.statuses.is_empty() {
            conds.push("w.status IN ('active', 'archived')".to_owned());
        } else {
            let mut alts = Vec::new();
            for s in &filter.statuses {
                alts.push(match s {
                    Status::Deleted => {
                        format!(
                            "(w.status = 'deleted' AND {EFFECTIVE_RANK} = 4 AND w.purge_at > {})",
                            p.bind(now_ms())
                        )
                    }
                    other => format!("w.status = '{}'", other.as_str()),
                });
            }
            conds.push(format!("({})", alts.join(" OR ")));
        }
        if let Some(r) = filter.role {
            conds.push(format!("{EFFECTIVE_RANK} = {}", p.bind(r.rank())));
        }
        if let Some(org) = &filter.organization_id {
            conds.push(format!("w.organization_id = {}", p.bind(org.as_str())));
        }
        if let Some(q) = &filter.q {
            let pat = p.bind(like_pattern(q));
            conds.push(format!(
                "(lower(w.name) LIKE {pat} ESCAPE '\\' OR w.slug LIKE {pat} ESCAPE '\\')"
            ));
        }
        let common = conds.join(" AND ");
        let total = if page.include_total {
            let sql = format!(
                "SELECT COUNT(*) FROM (
                   SELECT w.id FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
                   LEFT JOIN org_members om ON om.organization_id = w.organization_id AND om.user_id = m.user_id
                   WHERE m.user_id = {uid} AND {common}
                   UNION
                   SELECT w.id FROM org_members om CROSS JOIN workspaces w
                   LEFT JOIN memberships m ON m.workspace_id = w.id AND m.user_id = om.user_id
                   WHERE w.organization_id = om.organization_id AND om.user_id = {uid} AND {common}) AS t"
            );
            Some(self.db.fetch_all(&sql, p.0.clone()).await?[0].int(0)?)
        } else {
            None
        };

        // Sort key of each branch (the membership branch uses its copy of
        // created_at so the walk stays on its index) and of the outer query.
        let (desc, by_name) = match filter.sort {
            Sort::CreatedDesc => (true, false),
            Sort::CreatedAsc => (false, false),
            Sort::NameAsc => (false, true),
            Sort::NameDesc => (true, true),
        };
        let dir = if desc { "DESC" } else { "ASC" };
        let cmp = if desc { "<" } else { ">" };
        // Names sort case-insensitively and byte-wise on both databases
        // (PostgreSQL would otherwise use the database's collation).
        let name_key = match self.backend() {
            Backend::Sqlite => "lower(w.name)",
            Backend::Postgres => "lower(w.name) COLLATE \"C\"",
        };
        let (k1, id1, k2) = if by_name {
            (name_key, "w.id", name_key)
        } else {
            ("m.ws_created_at", "m.workspace_id", "w.created_at")
        };
        let (mut keyset1, mut keyset2) = (String::new(), String::new());
        let (after, offset) = page.position();
        if let Some(c) = after {
            let (at, id) = c.of_list(WorkspaceId::PREFIX, by_name)?;
            let key = match at {
                CursorKey::Int(v) => p.bind(*v),
                CursorKey::Text(t) => p.bind(t.as_str()),
            };
            let cid = p.bind(id);
            keyset1 = format!(" AND ({k1}, {id1}) {cmp} ({key}, {cid})");
            keyset2 = format!(" AND ({k2}, w.id) {cmp} ({key}, {cid})");
        }
        let outer_limit = p.bind(page.limit + 1);
        let outer_offset = p.bind(offset);
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
        static A_COLS: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| WS_COLS.replacen("w.id,", "m.workspace_id AS id,", 1));
        let a_cols = &*A_COLS;
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
        let page_clause =
            format!("ORDER BY sort_key {dir}, id {dir} LIMIT {outer_limit} OFFSET {outer_offset}");
        let sql = match self.backend() {
            // Most users belong to no organization: then the first branch
            // is the whole answer, and SQLite skips the compound's merge and
            // the second branch's sort (a temporary B-tree per request),
            // ~10 % of a page, for one index probe.
            Backend::Sqlite if !self.in_any_organization(user).await? => {
                format!("{branch_a} {page_clause}")
            }
            Backend::Sqlite => format!("{branch_a} UNION ALL {branch_b} {page_clause}"),
            Backend::Postgres => {
                let inner_limit = p.bind(offset + page.limit + 1);
                format!(
                    "SELECT * FROM ({branch_a} ORDER BY {k1} {dir}, {id1} {dir} LIMIT {inner_limit}) AS a
                     UNION ALL
                     SELECT * FROM ({branch_b} ORDER BY {k2} {dir}, w.id {dir} LIMIT {inner_limit}) AS b
                     {page_clause}"
                )
            }
        };
        let rows = self.db.fetch_all(&sql, p.0).await?;
        // Each branch reads the id first and `sort_key` last.
        cut(rows, page, total, |mut r| workspace_from(&mut r))
    }

    /// Whether the user is a member of any organization.
    async fn in_any_organization(&self, user: &UserId) -> Result<bool, Error> {
        Ok(self
            .db
            .fetch_optional(
                "SELECT 1 FROM org_members WHERE user_id = $1 LIMIT 1",
                crate::params![user],
            )
            .await?
            .is_some())
    }
}
