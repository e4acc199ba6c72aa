//! Workspaces: access resolution, create, list, update, lifecycle, purge.

use serde_json::{Map, Value as Json};

use super::db::{Backend, DbError, Row, Tx, Value};
use super::ratelimit::{add_in_tx, window_start};
use super::Store;
use crate::config::RateSpec;
use crate::domain::error::RateInfo;
use crate::domain::ids::{MembershipId, OrganizationId, UserId, WorkspaceId};
use crate::domain::json::{check_size, merge_patch};
use crate::domain::pagination::{Cursor, CursorKey, Page, PageRequest, Start};
use crate::domain::roles::{effective_role, OrgRole, Role};
use crate::domain::slug;
use crate::domain::time::{now_ms, Millis};
use crate::domain::workspace::{NewWorkspace, OrgChoice, Status, Workspace, WorkspacePatch};
use crate::domain::Error;
use crate::params;

pub(crate) const WS_COLS: &str =
    "w.id, w.slug, w.name, w.description, w.icon, w.domain, w.repo_path, \
    w.branch, w.status, w.organization_id, w.settings, w.metadata, w.onboarding, \
    w.onboarding_completed_at, w.logo_key, w.plan, w.trial_ends_at, w.member_count, w.created_at, \
    w.updated_at, w.archived_at, w.deleted_at, w.purge_at, w.version";
const WS_NCOLS: usize = 24;

/// The caller's effective role rank: the higher of the direct (`m`) and the
/// organization (`om`) role; 0 for none. CASE rather than max()/GREATEST(),
/// which the two databases spell differently.
const EFFECTIVE_RANK: &str = "CASE WHEN COALESCE(m.role, 0) >= COALESCE(om.role, 0) \
    THEN COALESCE(m.role, 0) ELSE COALESCE(om.role, 0) END";

fn json_map(s: &str) -> Map<String, Json> {
    serde_json::from_str(s).unwrap_or_default()
}

/// Decodes `WS_COLS` followed by the direct and the organization role rank.
pub(crate) fn workspace_from(row: &Row) -> Result<Workspace, DbError> {
    let direct = row.opt_int(WS_NCOLS)?.and_then(Role::from_rank);
    let inherited = row.opt_int(WS_NCOLS + 1)?.and_then(OrgRole::from_rank);
    Ok(Workspace {
        id: WorkspaceId::from_db(row.text(0)?),
        slug: row.text(1)?,
        name: row.text(2)?,
        description: row.opt_text(3)?,
        icon: row.opt_text(4)?,
        domain: row.opt_text(5)?,
        repo_path: row.opt_text(6)?,
        branch: row.opt_text(7)?,
        status: Status::parse(&row.text(8)?).ok_or(DbError::Decode(8))?,
        organization_id: row.opt_text(9)?.map(OrganizationId::from_db),
        settings: json_map(&row.text(10)?),
        metadata: json_map(&row.text(11)?),
        onboarding: json_map(&row.text(12)?),
        onboarding_completed_at: row.opt_int(13)?,
        logo_key: row.opt_text(14)?,
        plan: row.text(15)?,
        trial_ends_at: row.opt_int(16)?,
        member_count: row.int(17)?,
        created_at: row.int(18)?,
        updated_at: row.int(19)?,
        archived_at: row.opt_int(20)?,
        deleted_at: row.opt_int(21)?,
        purge_at: row.opt_int(22)?,
        version: row.int(23)?,
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    #[default]
    CreatedDesc,
    CreatedAsc,
    NameAsc,
    NameDesc,
}

/// Collects parameters while SQL is assembled; `bind` returns `$N`.
#[derive(Default)]
struct Params(Vec<Value>);

impl Params {
    fn bind(&mut self, v: impl Into<Value>) -> String {
        self.0.push(v.into());
        format!("${}", self.0.len())
    }
}

pub(crate) fn like_pattern(q: &str) -> String {
    let escaped = q
        .to_lowercase()
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
        let by = if key.starts_with(WorkspaceId::PREFIX) {
            "w.id"
        } else {
            "w.slug"
        };
        let row = self
            .db
            .fetch_optional(
                &format!(
                    "SELECT {WS_COLS}, m.role, om.role FROM workspaces w
                     LEFT JOIN memberships m ON m.workspace_id = w.id AND m.user_id = $2
                     LEFT JOIN org_members om ON om.organization_id = w.organization_id AND om.user_id = $2
                     WHERE {by} = $1"
                ),
                params![key, user.map(|u| u.as_str()).unwrap_or("")],
            )
            .await?;
        Ok(row.map(|r| workspace_from(&r)).transpose()?)
    }

    /// Creates a workspace with its owner membership (and a new organization
    /// when asked) in one transaction. The rate limit is counted inside it.
    pub async fn create_workspace(
        &self,
        new: &NewWorkspace,
        limit: Option<CountedLimit<'_>>,
        max_owned: Option<i64>,
    ) -> Result<Workspace, Error> {
        // A generated slug can lose a race on PostgreSQL (the insert then
        // fails on the unique index); pick again. A chosen one cannot retry.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .try_create_workspace(new, limit.as_ref(), max_owned)
                .await
            {
                Err(Error::Internal(msg)) if msg == RETRY_SLUG && attempt < 8 => continue,
                Err(Error::Internal(msg)) if msg == RETRY_SLUG => {
                    return Err(Error::Conflict("could not find a free slug".into()))
                }
                other => return other,
            }
        }
    }

    async fn try_create_workspace(
        &self,
        new: &NewWorkspace,
        limit: Option<&CountedLimit<'_>>,
        max_owned: Option<i64>,
    ) -> Result<Workspace, Error> {
        let now = now_ms();
        let mut tx = self.db.begin().await?;
        if let Some(l) = limit {
            let window = window_start(*l.spec, now);
            let count = add_in_tx(&mut tx, &l.key, window, 1).await?;
            if count as u64 > l.spec.count {
                return Err(Error::RateLimited(RateInfo {
                    limit: l.spec.count,
                    remaining: 0,
                    reset_secs: ((window + l.spec.period_ms - now) as u64).div_ceil(1000),
                }));
            }
        }
        if let Some(max) = max_owned {
            let owned = tx
                .fetch_all(
                    "SELECT COUNT(*) FROM memberships WHERE user_id = $1 AND role = 4",
                    params![&new.owner],
                )
                .await?;
            if owned[0].int(0)? >= max {
                return Err(Error::OwnedWorkspaceLimit);
            }
        }
        let (org_id, org_role) = match &new.organization {
            None => (None, None),
            Some(OrgChoice::Existing(id)) => {
                let row = tx
                    .fetch_optional(
                        "SELECT role FROM org_members WHERE organization_id = $1 AND user_id = $2",
                        params![id, &new.owner],
                    )
                    .await?;
                let role = row.ok_or(Error::NotFound)?.int(0)?;
                (Some(id.clone()), OrgRole::from_rank(role))
            }
            Some(OrgChoice::New { name }) => {
                let id =
                    super::organizations::insert_organization(&mut tx, name, None, &new.owner, now)
                        .await?;
                (Some(id), Some(OrgRole::Owner))
            }
        };
        let slug = match &new.slug {
            Some(s) => s.clone(),
            None => {
                let base = slug::from_name(&new.name).unwrap_or_else(slug::random);
                free_slug(&mut tx, "workspaces", &base).await?
            }
        };
        let id = WorkspaceId::new();
        let f = &new.fields;
        let inserted = tx
            .execute(
                "INSERT INTO workspaces (id, slug, name, description, icon, domain, repo_path, branch, status,
                    organization_id, settings, metadata, onboarding, plan, member_count, created_by,
                    created_at, updated_at, version, providers)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $10, $11, '{}', 'free', 1, $12, $13, $13, 1, $14)",
                params![
                    &id,
                    &slug,
                    &new.name,
                    f.description.clone(),
                    f.icon.clone(),
                    f.domain.clone(),
                    f.repo_path.clone(),
                    f.branch.clone(),
                    org_id.as_ref().map(|o| o.as_str()),
                    Json::Object(new.settings.clone()).to_string(),
                    Json::Object(new.metadata.clone()).to_string(),
                    &new.owner,
                    now,
                    Json::from(new.providers.clone()).to_string()
                ],
            )
            .await;
        match inserted {
            Err(e) if e.unique_constraint() == Some("workspaces_slug_key") => {
                return Err(if new.slug.is_some() {
                    Error::SlugTaken(slug)
                } else {
                    Error::Internal(RETRY_SLUG.into())
                });
            }
            r => r?,
        };
        tx.execute(
            "INSERT INTO memberships (id, workspace_id, user_id, role, ws_created_at, created_at)
             VALUES ($1, $2, $3, 4, $4, $4)",
            params![MembershipId::new(), &id, &new.owner, now],
        )
        .await?;
        // The template's bridges, and the settings rule (a new workspace has
        // no projects, so a default_project_id cannot name one yet).
        for b in &new.bridges {
            super::bridges::insert_bridge(&mut tx, &id, b, now).await?;
        }
        super::settings::check_settings(&mut tx, &id, &new.settings).await?;
        tx.commit().await?;
        Ok(Workspace {
            id,
            slug,
            name: new.name.clone(),
            description: f.description.clone(),
            icon: f.icon.clone(),
            domain: f.domain.clone(),
            repo_path: f.repo_path.clone(),
            branch: f.branch.clone(),
            status: Status::Active,
            organization_id: org_id,
            settings: new.settings.clone(),
            metadata: new.metadata.clone(),
            onboarding: Map::new(),
            onboarding_completed_at: None,
            logo_key: None,
            plan: crate::domain::plans::DEFAULT_PLAN.into(),
            trial_ends_at: None,
            member_count: 1,
            created_at: now,
            updated_at: now,
            archived_at: None,
            deleted_at: None,
            purge_at: None,
            version: 1,
            role: effective_role(Some(Role::Owner), org_role),
        })
    }

    /// The workspaces a user can access, one keyset (or offset) page.
    ///
    /// Two branches, each walking its own index with its own LIMIT: direct
    /// memberships (`memberships_user_idx`, newest first) and workspaces of
    /// the user's organizations (`workspaces_org_idx`). Their UNION is
    /// ordered once more and cut to the page, so the cost follows the page
    /// size, not the number of memberships or the depth of the page.
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
                   SELECT w.id FROM org_members om JOIN workspaces w ON w.organization_id = om.organization_id
                   LEFT JOIN memberships m ON m.workspace_id = w.id AND m.user_id = om.user_id
                   WHERE om.user_id = {uid} AND {common}) AS t"
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
        let mut offset = 0;
        match &page.start {
            Start::First => {}
            Start::Offset(n) => offset = *n,
            Start::After(c) => {
                let key = match (&c.key, by_name) {
                    (CursorKey::Int(v), false) => p.bind(*v),
                    (CursorKey::Text(t), true) => p.bind(t.as_str()),
                    _ => {
                        return Err(Error::field(
                            "cursor",
                            "invalid",
                            "the cursor belongs to another sort order",
                        ))
                    }
                };
                let cid = p.bind(c.id.as_str());
                keyset1 = format!(" AND ({k1}, {id1}) {cmp} ({key}, {cid})");
                keyset2 = format!(" AND ({k2}, w.id) {cmp} ({key}, {cid})");
            }
        }
        let inner_limit = p.bind(offset + page.limit + 1);
        let outer_limit = p.bind(page.limit + 1);
        let outer_offset = p.bind(offset);
        // The union carries only ids and sort keys; the page's full rows are
        // joined once at the end, so no wide row is copied or sorted twice.
        let sql = format!(
            "SELECT {WS_COLS}, m.role, om.role, k.sort_key FROM (
               SELECT id, sort_key FROM (
                 SELECT w.id AS id, {k1} AS sort_key
                 FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
                 LEFT JOIN org_members om ON om.organization_id = w.organization_id AND om.user_id = m.user_id
                 WHERE m.user_id = {uid} AND {common}{keyset1}
                 ORDER BY {k1} {dir}, {id1} {dir} LIMIT {inner_limit}) AS a
               UNION
               SELECT id, sort_key FROM (
                 SELECT w.id AS id, {k2} AS sort_key
                 FROM org_members om JOIN workspaces w ON w.organization_id = om.organization_id
                 LEFT JOIN memberships m ON m.workspace_id = w.id AND m.user_id = om.user_id
                 WHERE om.user_id = {uid} AND {common}{keyset2}
                 ORDER BY {k2} {dir}, w.id {dir} LIMIT {inner_limit}) AS b
               ORDER BY sort_key {dir}, id {dir} LIMIT {outer_limit} OFFSET {outer_offset}
             ) AS k
             JOIN workspaces w ON w.id = k.id
             LEFT JOIN memberships m ON m.workspace_id = w.id AND m.user_id = {uid}
             LEFT JOIN org_members om ON om.organization_id = w.organization_id AND om.user_id = {uid}
             ORDER BY k.sort_key {dir}, k.id {dir}"
        );
        let rows = self.db.fetch_all(&sql, p.0).await?;
        let has_more = rows.len() as i64 > page.limit;
        let rows = &rows[..rows.len().min(page.limit as usize)];
        let items = rows
            .iter()
            .map(workspace_from)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = match (has_more, rows.last()) {
            (true, Some(last)) => {
                let key = if by_name {
                    CursorKey::Text(last.text(WS_NCOLS + 2)?)
                } else {
                    CursorKey::Int(last.int(WS_NCOLS + 2)?)
                };
                Some(
                    Cursor {
                        key,
                        id: last.text(0)?,
                    }
                    .encode(),
                )
            }
            _ => None,
        };
        Ok(Page {
            items,
            has_more,
            next_cursor,
            total,
            limit: page.limit,
        })
    }

    /// Applies a validated patch. `if_match` is the expected version.
    pub async fn update_workspace(
        &self,
        id: &WorkspaceId,
        patch: &WorkspacePatch,
        if_match: Option<i64>,
    ) -> Result<Workspace, Error> {
        let mut tx = self.db.begin().await?;
        let mut ws = locked_workspace(&mut tx, id).await?;
        if if_match.is_some_and(|v| v != ws.version) {
            return Err(Error::VersionMismatch);
        }
        if patch.is_empty() {
            return Ok(ws);
        }
        if let Some(v) = &patch.name {
            ws.name = v.clone();
        }
        if let Some(v) = &patch.slug {
            ws.slug = v.clone();
        }
        let set = |slot: &mut Option<String>, v: &Option<Option<String>>| {
            if let Some(v) = v {
                *slot = v.clone();
            }
        };
        set(&mut ws.description, &patch.description);
        set(&mut ws.icon, &patch.icon);
        set(&mut ws.domain, &patch.domain);
        set(&mut ws.repo_path, &patch.repo_path);
        set(&mut ws.branch, &patch.branch);
        let mut errors = Vec::new();
        for (field, doc, p) in [
            ("settings", &mut ws.settings, &patch.settings),
            ("metadata", &mut ws.metadata, &patch.metadata),
        ] {
            if let Some(p) = p {
                let mut merged = Json::Object(std::mem::take(doc));
                merge_patch(&mut merged, p);
                *doc = match merged {
                    Json::Object(m) => m,
                    _ => Map::new(),
                };
                if field == "metadata" {
                    if let Err(e) = check_size(field, doc) {
                        errors.push(e);
                    }
                }
            }
        }
        if patch.settings.is_some() {
            // The same rule as the settings routes (known keys, size, and a
            // default project of this workspace).
            match super::settings::check_settings(&mut tx, &ws.id, &ws.settings).await {
                Err(Error::Validation(e)) => errors.extend(e),
                r => r?,
            }
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        if let Some(v) = &patch.onboarding {
            ws.onboarding = v.clone();
        }
        if let Some(v) = patch.onboarding_completed_at {
            ws.onboarding_completed_at = v;
        }
        ws.updated_at = now_ms();
        ws.version += 1;
        let r = tx
            .execute(
                "UPDATE workspaces SET name = $2, slug = $3, description = $4, icon = $5, domain = $6,
                    repo_path = $7, branch = $8, settings = $9, metadata = $10, onboarding = $11,
                    onboarding_completed_at = $12, updated_at = $13, version = $14
                 WHERE id = $1",
                params![
                    &ws.id,
                    &ws.name,
                    &ws.slug,
                    ws.description.clone(),
                    ws.icon.clone(),
                    ws.domain.clone(),
                    ws.repo_path.clone(),
                    ws.branch.clone(),
                    Json::Object(ws.settings.clone()).to_string(),
                    Json::Object(ws.metadata.clone()).to_string(),
                    Json::Object(ws.onboarding.clone()).to_string(),
                    ws.onboarding_completed_at,
                    ws.updated_at,
                    ws.version
                ],
            )
            .await;
        match r {
            Err(e) if e.unique_constraint() == Some("workspaces_slug_key") => {
                return Err(Error::SlugTaken(ws.slug))
            }
            r => r?,
        };
        tx.commit().await?;
        Ok(ws)
    }

    /// Archives or unarchives; a no-op when already in that state.
    pub async fn set_archived(
        &self,
        id: &WorkspaceId,
        archive: bool,
        if_match: Option<i64>,
    ) -> Result<Workspace, Error> {
        let mut tx = self.db.begin().await?;
        let mut ws = locked_workspace(&mut tx, id).await?;
        if if_match.is_some_and(|v| v != ws.version) {
            return Err(Error::VersionMismatch);
        }
        let target = if archive {
            Status::Archived
        } else {
            Status::Active
        };
        if ws.status == target {
            return Ok(ws);
        }
        let now = now_ms();
        ws.status = target;
        ws.archived_at = archive.then_some(now);
        ws.updated_at = now;
        ws.version += 1;
        tx.execute(
            "UPDATE workspaces SET status = $2, archived_at = $3, updated_at = $4, version = $5 WHERE id = $1",
            params![&ws.id, target.as_str(), ws.archived_at, now, ws.version],
        )
        .await?;
        tx.commit().await?;
        Ok(ws)
    }

    /// Soft-deletes: status `deleted` until `purge_at`. With
    /// `keep_last_for`, refuses when it is that user's last live workspace.
    pub async fn soft_delete_workspace(
        &self,
        id: &WorkspaceId,
        retention_ms: Millis,
        keep_last_for: Option<&UserId>,
        if_match: Option<i64>,
    ) -> Result<Workspace, Error> {
        let mut tx = self.db.begin().await?;
        let mut ws = locked_workspace(&mut tx, id).await?;
        if if_match.is_some_and(|v| v != ws.version) {
            return Err(Error::VersionMismatch);
        }
        if ws.status == Status::Deleted {
            return Ok(ws);
        }
        if let Some(user) = keep_last_for {
            let others = tx
                .fetch_all(
                    "SELECT COUNT(*) FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
                     WHERE m.user_id = $1 AND w.id <> $2 AND w.status <> 'deleted'",
                    params![user, id],
                )
                .await?;
            if others[0].int(0)? == 0 {
                return Err(Error::LastWorkspace);
            }
        }
        let now = now_ms();
        ws.status = Status::Deleted;
        ws.deleted_at = Some(now);
        ws.purge_at = Some(now + retention_ms);
        ws.updated_at = now;
        ws.version += 1;
        tx.execute(
            "UPDATE workspaces SET status = 'deleted', deleted_at = $2, purge_at = $3, updated_at = $2, version = $4
             WHERE id = $1",
            params![&ws.id, now, ws.purge_at, ws.version],
        )
        .await?;
        tx.commit().await?;
        Ok(ws)
    }

    /// Restores a soft-deleted workspace (to archived if it was archived).
    pub async fn restore_workspace(
        &self,
        id: &WorkspaceId,
        if_match: Option<i64>,
    ) -> Result<Workspace, Error> {
        let mut tx = self.db.begin().await?;
        let mut ws = locked_workspace(&mut tx, id).await?;
        if if_match.is_some_and(|v| v != ws.version) {
            return Err(Error::VersionMismatch);
        }
        if ws.status != Status::Deleted {
            return Ok(ws);
        }
        let now = now_ms();
        if ws.purge_at.is_some_and(|p| p <= now) {
            return Err(Error::NotFound);
        }
        ws.status = if ws.archived_at.is_some() {
            Status::Archived
        } else {
            Status::Active
        };
        ws.deleted_at = None;
        ws.purge_at = None;
        ws.updated_at = now;
        ws.version += 1;
        tx.execute(
            "UPDATE workspaces SET status = $2, deleted_at = NULL, purge_at = NULL, updated_at = $3, version = $4
             WHERE id = $1",
            params![&ws.id, ws.status.as_str(), now, ws.version],
        )
        .await?;
        tx.commit().await?;
        Ok(ws)
    }

    /// Deletes a workspace and everything in it (foreign keys cascade).
    pub async fn purge_workspace(&self, id: &WorkspaceId) -> Result<bool, Error> {
        let purged = self
            .db
            .execute("DELETE FROM workspaces WHERE id = $1", params![id])
            .await?
            > 0;
        if purged {
            self.collect_orphan_logos().await?;
        }
        Ok(purged)
    }

    /// Purges up to `batch` workspaces whose `purge_at` has passed.
    pub async fn purge_due(&self, now: Millis, batch: i64) -> Result<u64, Error> {
        let purged = self
            .db
            .execute(
                "DELETE FROM workspaces WHERE id IN (
                   SELECT id FROM workspaces WHERE status = 'deleted' AND purge_at <= $1 LIMIT $2)",
                params![now, batch],
            )
            .await?;
        if purged > 0 {
            self.collect_orphan_logos().await?;
        }
        Ok(purged)
    }
}

const RETRY_SLUG: &str = "generated slug lost a race";

/// Reads a workspace inside a write transaction, locked for the update.
pub(crate) async fn locked_workspace(tx: &mut Tx, id: &WorkspaceId) -> Result<Workspace, Error> {
    let sql = format!(
        "SELECT {WS_COLS}, NULL, NULL FROM workspaces w WHERE w.id = $1{}",
        tx.for_update()
    );
    let row = tx
        .fetch_optional(&sql, params![id])
        .await?
        .ok_or(Error::NotFound)?;
    Ok(workspace_from(&row)?)
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
