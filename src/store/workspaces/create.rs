//! Creating a workspace with its owner (and organization, template).

use serde_json::{Map, Value as Json};

use super::*;
use crate::domain::error::RateInfo;
use crate::domain::event::NewEvent;
use crate::domain::ids::{MembershipId, WorkspaceId};
use crate::domain::roles::{effective_role, OrgRole, Role};
use crate::domain::slug;
use crate::domain::time::now_ms;
use crate::domain::workspace::{NewWorkspace, OrgChoice, Status, Workspace};
use crate::domain::Error;
use crate::params;
use crate::store::ratelimit::{add_in_tx, window_start};
use crate::store::Store;

impl Store {
    /// Creates a workspace with its owner membership (and a new organization
    /// when asked) in one transaction. The rate limit is counted inside it.
    pub async fn create_workspace(
        &self,
        new: &NewWorkspace,
        limit: Option<CountedLimit<'_>>,
        max_owned: Option<i64>,
    ) -> Result<(Workspace, Option<RateInfo>), Error> {
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
    ) -> Result<(Workspace, Option<RateInfo>), Error> {
        let now = now_ms();
        // The count this create brings its window to, for the headers.
        let mut rate = None;
        let mut tx = self.db.begin().await?;
        if let Some(l) = limit {
            let window = window_start(*l.spec, now);
            let count = add_in_tx(&mut tx, &l.key, window, 1).await?;
            let info = RateInfo {
                limit: l.spec.count,
                remaining: l.spec.count.saturating_sub(count.max(0) as u64),
                reset_secs: ((window + l.spec.period_ms - now) as u64).div_ceil(1000),
            };
            if count as u64 > l.spec.count {
                return Err(Error::RateLimited(info));
            }
            rate = Some(info);
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
                let id = crate::store::organizations::insert_organization(
                    &mut tx, name, None, &new.owner, now,
                )
                .await?;
                let changes =
                    crate::domain::event::Changes::new().field("name", Json::Null, name.as_str());
                let event = NewEvent::in_organization(
                    "organization.created",
                    &id,
                    "organization",
                    id.as_str(),
                )
                .with_changes(changes);
                crate::store::events::record(&mut tx, event).await?;
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
            let bridge = crate::store::bridges::insert_bridge(&mut tx, &id, b, now).await?;
            crate::store::bridges::bridge_created(&mut tx, &id, &bridge).await?;
        }
        crate::store::settings::check_settings(&mut tx, &id, &new.settings).await?;
        let created = crate::domain::event::Changes::new()
            .field("name", Json::Null, new.name.as_str())
            .field("slug", Json::Null, slug.as_str());
        let event = NewEvent::in_workspace("workspace.created", &id, "workspace", id.as_str())
            .in_org(org_id.clone())
            .with_changes(created);
        crate::store::events::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok((
            Workspace {
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
            },
            rate,
        ))
    }
}
