//! Workspaces: access resolution, create, list, update, lifecycle, purge.
//!
//! Split by operation: `create`, `list`, `update`, `lifecycle` (archive,
//! delete, restore, purge).

use std::sync::LazyLock;

mod create;
mod lifecycle;
mod list;
mod update;

use serde_json::{Map, Value as Json};

use super::db::{Columns, Db, DbError, Tx, Value};
use super::sqlite::{self, Conn, ReadMemo};
use super::Store;
use crate::config::RateSpec;
use crate::domain::ids::{OrganizationId, UserId, WorkspaceId};
use crate::domain::roles::{effective_role, OrgRole, Role};
use crate::domain::slug;
use crate::domain::workspace::{Status, Workspace};
use crate::domain::Error;
use crate::params;

use crate::domain::pagination::Sort;

pub(crate) const WS_COLS: &str =
    "w.id, w.slug, w.name, w.description, w.icon, w.domain, w.repo_path, \
    w.branch, w.status, w.organization_id, w.settings, w.metadata, w.onboarding, \
    w.onboarding_completed_at, w.logo_key, w.plan, w.trial_ends_at, w.member_count, w.created_at, \
    w.updated_at, w.archived_at, w.deleted_at, w.purge_at, w.version";
pub(crate) const WS_NCOLS: usize = 24;

/// The caller's effective role rank: the higher of the direct (`m`) and the
/// organization (`om`) role; 0 for none. CASE rather than max()/GREATEST(),
/// which the two databases spell differently.
const EFFECTIVE_RANK: &str = "CASE WHEN COALESCE(m.role, 0) >= COALESCE(om.role, 0) \
    THEN COALESCE(m.role, 0) ELSE COALESCE(om.role, 0) END";

/// A stored JSON object. Most are empty (three per workspace row), and
/// those skip the parser.
fn json_map(s: &str) -> Map<String, Json> {
    if s == "{}" {
        return Map::new();
    }
    serde_json::from_str(s).unwrap_or_default()
}

/// Decodes `WS_COLS` followed by the direct and the organization role rank.
pub(crate) fn workspace_from<C: Columns + ?Sized>(row: &mut C) -> Result<Workspace, DbError> {
    workspace_from_at(row, 0)
}

/// [`workspace_from`] for a row where `WS_COLS` start at column `at`.
pub(crate) fn workspace_from_at<C: Columns + ?Sized>(
    row: &mut C,
    at: usize,
) -> Result<Workspace, DbError> {
    let direct = row.opt_int(at + WS_NCOLS)?.and_then(Role::from_rank);
    let inherited = row.opt_int(at + WS_NCOLS + 1)?.and_then(OrgRole::from_rank);
    Ok(Workspace {
        id: WorkspaceId::from_db(row.take_text(at)?),
        slug: row.take_text(at + 1)?,
        name: row.take_text(at + 2)?,
        description: row.take_opt_text(at + 3)?,
        icon: row.take_opt_text(at + 4)?,
        domain: row.take_opt_text(at + 5)?,
        repo_path: row.take_opt_text(at + 6)?,
        branch: row.take_opt_text(at + 7)?,
        status: Status::parse(row.str(at + 8)?).ok_or(DbError::Decode(at + 8))?,
        organization_id: row.take_opt_text(at + 9)?.map(OrganizationId::from_db),
        settings: json_map(row.str(at + 10)?),
        metadata: json_map(row.str(at + 11)?),
        onboarding: json_map(row.str(at + 12)?),
        onboarding_completed_at: row.opt_int(at + 13)?,
        logo_key: row.take_opt_text(at + 14)?,
        plan: row.take_text(at + 15)?,
        trial_ends_at: row.opt_int(at + 16)?,
        member_count: row.int(at + 17)?,
        created_at: row.int(at + 18)?,
        updated_at: row.int(at + 19)?,
        archived_at: row.opt_int(at + 20)?,
        deleted_at: row.opt_int(at + 21)?,
        purge_at: row.opt_int(at + 22)?,
        version: row.int(at + 23)?,
        role: effective_role(direct, inherited),
    })
}

/// A rate limit to count inside a write, rolled back with it on failure.
pub struct CountedLimit<'a> {
    pub key: String,
    pub spec: &'a RateSpec,
}

/// Filters of `GET /v1/workspaces`.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Empty means active and archived.
    pub statuses: Vec<Status>,
    pub role: Option<Role>,
    pub organization_id: Option<String>,
    /// Case-insensitive substring of name or slug.
    pub q: Option<String>,
    pub sort: Sort,
}

/// The `LIKE` pattern of a `q` search: `q` case-folded as the column it is
/// matched against is (see [`Backend::fold`](crate::store::db::Backend::fold)),
/// its wildcards escaped.
pub(crate) fn like_pattern(q: &str) -> String {
    let escaped = crate::domain::text::fold_case(q)
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

impl Store {
    /// Resolves `{workspace}` (id or slug) with the caller's effective role,
    /// in one query. `user` is `None` for the platform admin.
    pub async fn workspace_for(
        &self,
        key: &str,
        user: Option<&UserId>,
    ) -> Result<Option<Workspace>, Error> {
        let user = user.map(|u| u.as_str()).unwrap_or("");
        if let Db::Sqlite(db) = &self.db {
            return Ok(db.read_memo(|conn, memo| memoized_workspace_for(conn, memo, key, user))?);
        }
        Ok(self
            .db
            .find(workspace_for_sql(key), params![key, user], |r| {
                workspace_from(r)
            })
            .await?)
    }
}

/// The query of [`Store::workspace_for`] (`$1` the id or slug, `$2` the
/// user id or ""), decoded by [`workspace_from`]. Built once: it is on
/// every workspace route.
pub(crate) fn workspace_for_sql(key: &str) -> &'static str {
    fn sql(by: &str) -> String {
        format!(
            "SELECT {WS_COLS}, m.role, om.role FROM workspaces w
             LEFT JOIN memberships m ON m.workspace_id = w.id AND m.user_id = $2
             LEFT JOIN org_members om ON om.organization_id = w.organization_id AND om.user_id = $2
             WHERE {by} = $1"
        )
    }
    static BY_ID: LazyLock<String> = LazyLock::new(|| sql("w.id"));
    static BY_SLUG: LazyLock<String> = LazyLock::new(|| sql("w.slug"));
    if key.starts_with(WorkspaceId::PREFIX) {
        &BY_ID
    } else {
        &BY_SLUG
    }
}

/// [`Store::workspace_for`] on a SQLite reader (`user` is "" for the
/// platform admin), through the reader's memo: what the query found, roles
/// included, is kept until the database changes (see
/// `store/sqlite/readers.rs`), so a read load reads each workspace once.
pub(crate) fn memoized_workspace_for(
    conn: &Conn,
    memo: &mut ReadMemo,
    key: &str,
    user: &str,
) -> Result<Option<Workspace>, DbError> {
    // The user's length first: no two pairs make the same key.
    let memo_key = format!("{}:{user}{key}", user.len());
    let read = || {
        let params = [Value::from(key), Value::from(user)];
        sqlite::find(conn, workspace_for_sql(key), &params, |r| workspace_from(r))
    };
    memo.get_or_read(&memo_key, read, |found| {
        found.as_ref().map_or(0, heap_bytes)
    })
}

/// Roughly the memory a kept workspace takes: the struct, its text, and
/// its parsed JSON objects (a value node is counted at 64 bytes).
fn heap_bytes(w: &Workspace) -> usize {
    fn json(v: &Json) -> usize {
        64 + match v {
            Json::String(s) => s.len(),
            Json::Array(a) => a.iter().map(json).sum(),
            Json::Object(m) => m.iter().map(|(k, v)| k.len() + json(v)).sum(),
            _ => 0,
        }
    }
    let texts = [
        Some(w.id.as_str()),
        Some(&*w.slug),
        Some(&*w.name),
        w.description.as_deref(),
        w.icon.as_deref(),
        w.domain.as_deref(),
        w.repo_path.as_deref(),
        w.branch.as_deref(),
        w.organization_id.as_ref().map(|o| o.as_str()),
        w.logo_key.as_deref(),
        Some(&*w.plan),
    ];
    let maps = [&w.settings, &w.metadata, &w.onboarding];
    std::mem::size_of::<Workspace>()
        + texts.iter().flatten().map(|t| t.len()).sum::<usize>()
        + maps
            .iter()
            .flat_map(|m| m.iter())
            .map(|(k, v)| k.len() + json(v))
            .sum::<usize>()
}

pub(crate) const RETRY_SLUG: &str = "generated slug lost a race";

/// Reads a workspace inside a write transaction, locked for the update.
pub(crate) async fn locked_workspace(tx: &mut Tx, id: &WorkspaceId) -> Result<Workspace, Error> {
    let sql = format!(
        "SELECT {WS_COLS}, NULL, NULL FROM workspaces w WHERE w.id = $1{}",
        tx.for_update()
    );
    let mut row = tx
        .fetch_optional(&sql, params![id])
        .await?
        .ok_or(Error::NotFound)?;
    Ok(workspace_from(&mut row)?)
}

/// The first of `base`, `base-2`, `base-3`, ... not used in `table.slug`.
/// Reads the range of slugs that start with `base-` through the unique index.
pub(crate) async fn free_slug(tx: &mut Tx, table: &str, base: &str) -> Result<String, Error> {
    let rows = tx
        .fetch_all(
            &format!("SELECT slug FROM {table} WHERE slug = $1 OR (slug > $2 AND slug < $3)"),
            params![base, format!("{base}-"), format!("{base}.")],
        )
        .await?;
    let mut used = std::collections::HashSet::new();
    for r in &rows {
        let s = r.text(0)?;
        if s == base {
            used.insert(1u32);
        } else if let Some(n) = s
            .strip_prefix(base)
            .and_then(|t| t.strip_prefix('-'))
            .and_then(|t| t.parse().ok())
        {
            used.insert(n);
        }
    }
    let n = (1u32..)
        .find(|n| !used.contains(n))
        .expect("a free suffix exists");
    Ok(slug::with_suffix(base, n))
}
