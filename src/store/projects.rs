//! Projects of a workspace: slugs unique in the workspace, the plan's
//! `max_projects` decided inside the create transaction.

use super::db::{DbError, Row, Tx};
use super::events::record;
use super::lists::{page_in_workspace, Table};
use super::workspaces::locked_workspace;
use super::Store;
use crate::domain::error::check_version;
use crate::domain::event::{Changes, NewEvent};
use crate::domain::ids::{ProjectId, WorkspaceId};
use crate::domain::pagination::{Page, PageRequest, Sort};
use crate::domain::project::{NewProject, Project, ProjectPatch, ProjectStatus};
use crate::domain::time::now_ms;
use crate::domain::{settings, slug, Error};
use crate::params;
use serde_json::Value as Json;

const COLS: &str = "id, name, slug, description, status, created_at, updated_at, version";
const TABLE: Table = Table {
    name: "projects",
    id_prefix: ProjectId::PREFIX,
    cols: COLS,
};
const SLUG_KEY: &str = "projects_workspace_id_slug_key";

fn project_from(r: &Row) -> Result<Project, DbError> {
    Ok(Project {
        id: ProjectId::from_db(r.text(0)?),
        name: r.text(1)?,
        slug: r.text(2)?,
        description: r.opt_text(3)?,
        status: ProjectStatus::parse(&r.text(4)?).ok_or(DbError::Decode(4))?,
        created_at: r.int(5)?,
        updated_at: r.int(6)?,
        version: r.int(7)?,
    })
}

/// `id = $2` for a project id, `slug = $2` otherwise (slugs have no `_`).
fn key_column(key: &str) -> &'static str {
    if key.starts_with(ProjectId::PREFIX) {
        "id"
    } else {
        "slug"
    }
}

async fn locked_project(tx: &mut Tx, ws: &WorkspaceId, key: &str) -> Result<Project, Error> {
    let sql = format!(
        "SELECT {COLS} FROM projects WHERE workspace_id = $1 AND {} = $2{}",
        key_column(key),
        tx.for_update()
    );
    let row = tx
        .fetch_optional(&sql, params![ws, key])
        .await?
        .ok_or(Error::NotFound)?;
    Ok(project_from(&row)?)
}

/// The first of `base`, `base-2`, ... free among the workspace's projects.
async fn free_project_slug(tx: &mut Tx, ws: &WorkspaceId, base: &str) -> Result<String, Error> {
    let rows = tx
        .fetch_all(
            "SELECT slug FROM projects WHERE workspace_id = $1 AND (slug = $2 OR (slug > $3 AND slug < $4))",
            params![ws, base, format!("{base}-"), format!("{base}.")],
        )
        .await?;
    let used: std::collections::HashSet<String> =
        rows.iter().map(|r| r.text(0)).collect::<Result<_, _>>()?;
    let n = (1u32..)
        .find(|n| !used.contains(&slug::with_suffix(base, *n)))
        .expect("a free suffix exists");
    Ok(slug::with_suffix(base, n))
}

impl Store {
    /// Creates a project. The workspace row is locked first, so the project
    /// count checked against the plan cannot change until this commits.
    pub async fn create_project(
        &self,
        ws: &WorkspaceId,
        new: &NewProject,
    ) -> Result<Project, Error> {
        let mut tx = self.db.begin().await?;
        let w = locked_workspace(&mut tx, ws).await?;
        if let Some(max) = self.plans().limits(&w.plan).max_projects {
            let n = tx
                .fetch_all(
                    "SELECT COUNT(*) FROM projects WHERE workspace_id = $1",
                    params![ws],
                )
                .await?[0]
                .int(0)?;
            if n >= max {
                return Err(Error::PlanLimit("projects".into()));
            }
        }
        let slug = match &new.slug {
            Some(s) => s.clone(),
            None => {
                let base = slug::from_name(&new.name).unwrap_or_else(slug::random);
                free_project_slug(&mut tx, ws, &base).await?
            }
        };
        let now = now_ms();
        let p = Project {
            id: ProjectId::new(),
            name: new.name.clone(),
            slug,
            description: new.description.clone(),
            status: new.status,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let r = tx
            .execute(
                "INSERT INTO projects (id, workspace_id, name, slug, description, status, created_at, updated_at, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 1)",
                params![&p.id, ws, &p.name, &p.slug, p.description.clone(), p.status.as_str(), now],
            )
            .await;
        match r {
            Err(e) if e.unique_constraint() == Some(SLUG_KEY) => {
                return Err(Error::SlugTaken(p.slug))
            }
            r => r?,
        };
        let changes = Changes::new()
            .field("name", Json::Null, p.name.as_str())
            .field("slug", Json::Null, p.slug.as_str());
        let event = NewEvent::in_workspace("project.created", ws, "project", p.id.as_str())
            .with_changes(changes);
        record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(p)
    }

    /// A project by id or slug.
    pub async fn project(&self, ws: &WorkspaceId, key: &str) -> Result<Project, Error> {
        let row = self
            .db
            .fetch_optional(
                &format!(
                    "SELECT {COLS} FROM projects WHERE workspace_id = $1 AND {} = $2",
                    key_column(key)
                ),
                params![ws, key],
            )
            .await?
            .ok_or(Error::NotFound)?;
        Ok(project_from(&row)?)
    }

    pub async fn list_projects(
        &self,
        ws: &WorkspaceId,
        sort: Sort,
        page: &PageRequest,
    ) -> Result<Page<Project>, Error> {
        page_in_workspace(&self.db, &TABLE, ws, sort, page, |r| project_from(&r)).await
    }

    pub async fn update_project(
        &self,
        ws: &WorkspaceId,
        key: &str,
        patch: &ProjectPatch,
        if_match: Option<i64>,
    ) -> Result<Project, Error> {
        let mut tx = self.db.begin().await?;
        let mut p = locked_project(&mut tx, ws, key).await?;
        check_version(if_match, p.version)?;
        let before = (
            p.name.clone(),
            p.slug.clone(),
            p.description.clone(),
            p.status,
        );
        if let Some(v) = &patch.name {
            p.name = v.clone();
        }
        if let Some(v) = &patch.slug {
            p.slug = v.clone();
        }
        if let Some(v) = &patch.description {
            p.description = v.clone();
        }
        if let Some(v) = patch.status {
            p.status = v;
        }
        if before
            == (
                p.name.clone(),
                p.slug.clone(),
                p.description.clone(),
                p.status,
            )
        {
            tx.commit().await?;
            return Ok(p);
        }
        p.updated_at = now_ms();
        p.version += 1;
        let r = tx
            .execute(
                "UPDATE projects SET name = $2, slug = $3, description = $4, status = $5, updated_at = $6, version = $7
                 WHERE id = $1",
                params![&p.id, &p.name, &p.slug, p.description.clone(), p.status.as_str(), p.updated_at, p.version],
            )
            .await;
        match r {
            Err(e) if e.unique_constraint() == Some(SLUG_KEY) => {
                return Err(Error::SlugTaken(p.slug))
            }
            r => r?,
        };
        let changes = Changes::new()
            .field("name", before.0.as_str(), p.name.as_str())
            .field("slug", before.1.as_str(), p.slug.as_str())
            .field("description", before.2.clone(), p.description.clone())
            .field("status", before.3.as_str(), p.status.as_str());
        let event = NewEvent::in_workspace("project.updated", ws, "project", p.id.as_str())
            .with_changes(changes);
        record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(p)
    }

    /// Deletes a project; a `default_project_id` naming it is cleared in the
    /// same transaction, so the setting never points at nothing.
    pub async fn delete_project(
        &self,
        ws: &WorkspaceId,
        key: &str,
        if_match: Option<i64>,
    ) -> Result<(), Error> {
        let mut tx = self.db.begin().await?;
        let mut w = locked_workspace(&mut tx, ws).await?;
        let p = locked_project(&mut tx, ws, key).await?;
        check_version(if_match, p.version)?;
        tx.execute("DELETE FROM projects WHERE id = $1", params![&p.id])
            .await?;
        if settings::default_project(&w.settings) == Some(p.id.as_str()) {
            w.settings
                .insert(settings::DEFAULT_PROJECT_ID.into(), serde_json::Value::Null);
            tx.execute(
                "UPDATE workspaces SET settings = $2, updated_at = $3, version = version + 1 WHERE id = $1",
                params![ws, serde_json::Value::Object(w.settings).to_string(), now_ms()],
            )
            .await?;
            let changes =
                Changes::new().field(settings::DEFAULT_PROJECT_ID, p.id.as_str(), Json::Null);
            let event = NewEvent::in_workspace("settings.updated", ws, "settings", ws.as_str())
                .with_changes(changes);
            record(&mut tx, event).await?;
        }
        let changes = Changes::new().field("name", p.name.as_str(), Json::Null);
        let event = NewEvent::in_workspace("project.deleted", ws, "project", p.id.as_str())
            .with_changes(changes);
        record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }
}
