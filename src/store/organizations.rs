//! Organizations (SPEC §6): create (also from workspace creation), resolve
//! by id or slug with the caller's role, list, rename, delete when empty.

use super::db::{Row, Tx};
use super::events::record;
use super::lists::{page_newest_first, NewestFirst};
use super::ratelimit::{add_in_tx, window_start};
use super::workspaces::CountedLimit;
use crate::domain::error::check_version;
use crate::domain::event::{Changes, NewEvent};
use crate::domain::ids::{OrganizationId, UserId, WorkspaceId};
use crate::domain::pagination::{Page, PageRequest};
use crate::domain::roles::OrgRole;
use crate::domain::slug;
use crate::domain::time::{now_ms, Millis};
use crate::domain::workspace::Status;
use crate::domain::Error;
use crate::params;
use serde_json::Value as Json;

/// Inserts an organization with `owner` as its owner; generates the slug
/// from the name when none is given.
pub(crate) async fn insert_organization(
    tx: &mut Tx,
    name: &str,
    chosen_slug: Option<&str>,
    owner: &UserId,
    now: Millis,
) -> Result<OrganizationId, Error> {
    let slug = match chosen_slug {
        Some(s) => s.to_owned(),
        None => {
            let base = slug::from_name(name).unwrap_or_else(slug::random);
            super::workspaces::free_slug(tx, "organizations", &base).await?
        }
    };
    let id = OrganizationId::new();
    let r = tx
        .execute(
            "INSERT INTO organizations (id, name, slug, created_by, created_at, updated_at, version)
             VALUES ($1, $2, $3, $4, $5, $5, 1)",
            params![&id, name, &slug, owner, now],
        )
        .await;
    match r {
        Err(e) if e.unique_constraint() == Some("organizations_slug_key") => {
            return Err(if chosen_slug.is_some() {
                Error::SlugTaken(slug)
            } else {
                Error::Conflict("organization slug race, retry".into())
            })
        }
        r => r?,
    };
    tx.execute(
        "INSERT INTO org_members (organization_id, user_id, role, created_at) VALUES ($1, $2, 4, $3)",
        params![&id, owner, now],
    )
    .await?;
    Ok(id)
}

/// The short form of an organization, for `expand=organization`.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct OrganizationSummary {
    pub id: String,
    pub name: String,
    pub slug: String,
}

impl super::Store {
    pub async fn organization_summary(
        &self,
        id: &OrganizationId,
    ) -> Result<Option<OrganizationSummary>, Error> {
        let row = self
            .db
            .fetch_optional(
                "SELECT id, name, slug FROM organizations WHERE id = $1",
                params![id],
            )
            .await?;
        Ok(match row {
            Some(r) => Some(OrganizationSummary {
                id: r.text(0)?,
                name: r.text(1)?,
                slug: r.text(2)?,
            }),
            None => None,
        })
    }
}

/// An organization as the caller sees it.
#[derive(Debug, Clone)]
pub struct Organization {
    pub id: OrganizationId,
    pub name: String,
    pub slug: String,
    /// The caller's org role; `None` for the platform admin.
    pub role: Option<OrgRole>,
    /// Live (not deleted) workspaces.
    pub workspace_count: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
}

const ORG_COLS: &str = "o.id, o.name, o.slug, om.role, \
    (SELECT COUNT(*) FROM workspaces w WHERE w.organization_id = o.id AND w.status <> 'deleted'), \
    o.created_at, o.updated_at, o.version";

fn org_from(r: &Row) -> Result<Organization, Error> {
    Ok(Organization {
        id: OrganizationId::from_db(r.text(0)?),
        name: r.text(1)?,
        slug: r.text(2)?,
        role: r.opt_int(3)?.and_then(OrgRole::from_rank),
        workspace_count: r.int(4)?,
        created_at: r.int(5)?,
        updated_at: r.int(6)?,
        version: r.int(7)?,
    })
}

/// Fields of `PATCH /v1/organizations/{org}`, validated.
#[derive(Debug, Clone, Default)]
pub struct OrgPatch {
    pub name: Option<String>,
    pub slug: Option<String>,
}

impl super::Store {
    /// Resolves `{org}` (id or slug) with the caller's org role. `user` is
    /// `None` for the platform admin.
    pub async fn organization_for(
        &self,
        key: &str,
        user: Option<&UserId>,
    ) -> Result<Option<Organization>, Error> {
        let by = if key.starts_with(OrganizationId::PREFIX) {
            "o.id"
        } else {
            "o.slug"
        };
        let row = self
            .db
            .fetch_optional(
                &format!(
                    "SELECT {ORG_COLS} FROM organizations o
                     LEFT JOIN org_members om ON om.organization_id = o.id AND om.user_id = $2
                     WHERE {by} = $1"
                ),
                params![key, user.map(|u| u.as_str()).unwrap_or("")],
            )
            .await?;
        row.map(|r| org_from(&r)).transpose()
    }

    /// Creates an organization with `owner` as its owner; the rate limit is
    /// counted inside the transaction, so refused creations do not count.
    pub async fn create_organization(
        &self,
        name: &str,
        slug: Option<&str>,
        owner: &UserId,
        limit: Option<CountedLimit<'_>>,
    ) -> Result<Organization, Error> {
        let now = now_ms();
        let mut tx = self.db.begin().await?;
        if let Some(l) = &limit {
            let window = window_start(*l.spec, now);
            let count = add_in_tx(&mut tx, &l.key, window, 1).await?;
            if count as u64 > l.spec.count {
                return Err(Error::RateLimited(crate::limits::info(
                    *l.spec, count, window, now,
                )));
            }
        }
        let id = insert_organization(&mut tx, name, slug, owner, now).await?;
        let event =
            NewEvent::in_organization("organization.created", &id, "organization", id.as_str())
                .with_changes(Changes::new().field("name", Json::Null, name));
        record(&mut tx, event).await?;
        tx.commit().await?;
        self.organization_for(id.as_str(), Some(owner))
            .await?
            .ok_or(Error::NotFound)
    }

    /// The organizations a user belongs to, newest first.
    pub async fn list_organizations(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<Organization>, Error> {
        let list = NewestFirst {
            cols: ORG_COLS,
            from: "FROM org_members om JOIN organizations o ON o.id = om.organization_id
                   WHERE om.user_id = $1",
            created_at: "o.created_at",
            id: "o.id",
            id_prefix: OrganizationId::PREFIX,
        };
        page_newest_first(&self.db, &list, params![user], page, |r| org_from(&r)).await
    }

    /// Renames (or re-slugs) an organization.
    pub async fn update_organization(
        &self,
        id: &OrganizationId,
        patch: &OrgPatch,
        if_match: Option<i64>,
    ) -> Result<(), Error> {
        let mut tx = self.db.begin().await?;
        let sql = format!(
            "SELECT name, slug, version FROM organizations WHERE id = $1{}",
            tx.for_update()
        );
        let row = tx
            .fetch_optional(&sql, params![id])
            .await?
            .ok_or(Error::NotFound)?;
        let version = row.int(2)?;
        check_version(if_match, version)?;
        if patch.name.is_none() && patch.slug.is_none() {
            tx.commit().await?;
            return Ok(());
        }
        let name = patch.name.clone().unwrap_or(row.text(0)?);
        let slug = patch.slug.clone().unwrap_or(row.text(1)?);
        let r = tx
            .execute(
                "UPDATE organizations SET name = $2, slug = $3, updated_at = $4, version = version + 1
                 WHERE id = $1",
                params![id, &name, &slug, now_ms()],
            )
            .await;
        match r {
            Err(e) if e.unique_constraint() == Some("organizations_slug_key") => {
                return Err(Error::SlugTaken(slug))
            }
            r => r?,
        };
        let changes = Changes::new()
            .field("name", row.text(0)?, name.as_str())
            .field("slug", row.text(1)?, slug.as_str());
        let event =
            NewEvent::in_organization("organization.updated", id, "organization", id.as_str())
                .with_changes(changes);
        record(&mut tx, event).await?;
        Ok(tx.commit().await?)
    }

    /// Deletes an organization that holds no workspaces. Soft-deleted ones
    /// do not count (SPEC §6: the organization then lists none and shows
    /// `workspace_count` 0): they leave the organization and stay
    /// restorable by their owners until purged.
    pub async fn delete_organization(
        &self,
        id: &OrganizationId,
        if_match: Option<i64>,
    ) -> Result<(), Error> {
        let mut tx = self.db.begin().await?;
        let sql = format!(
            "SELECT version FROM organizations WHERE id = $1{}",
            tx.for_update()
        );
        let row = tx
            .fetch_optional(&sql, params![id])
            .await?
            .ok_or(Error::NotFound)?;
        check_version(if_match, row.int(0)?)?;
        // Locked, so a restore cannot bring one back between the check and
        // the detaching below.
        let sql = format!(
            "SELECT id, status FROM workspaces WHERE organization_id = $1{}",
            tx.for_update()
        );
        let held = tx.fetch_all(&sql, params![id]).await?;
        let mut deleted = Vec::with_capacity(held.len());
        for row in &held {
            if row.str(1)? != Status::Deleted.as_str() {
                return Err(Error::OrganizationNotEmpty);
            }
            deleted.push(WorkspaceId::from_db(row.text(0)?));
        }
        if !deleted.is_empty() {
            tx.execute(
                "UPDATE workspaces SET organization_id = NULL, updated_at = $2, version = version + 1
                 WHERE organization_id = $1",
                params![id, now_ms()],
            )
            .await?;
            for ws in &deleted {
                let event =
                    NewEvent::in_workspace("workspace.updated", ws, "workspace", ws.as_str())
                        .with_changes(Changes::new().field(
                            "organization_id",
                            id.as_str(),
                            Json::Null,
                        ));
                record(&mut tx, event).await?;
            }
        }
        tx.execute("DELETE FROM organizations WHERE id = $1", params![id])
            .await?;
        let event =
            NewEvent::in_organization("organization.deleted", id, "organization", id.as_str());
        record(&mut tx, event).await?;
        Ok(tx.commit().await?)
    }
}
