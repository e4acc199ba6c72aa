//! Workspace settings and providers: both live on the workspace row and
//! share its version (one ETag for the workspace's configuration).

use serde_json::{Map, Value as Json};

use super::db::Tx;
use super::events::record;
use super::workspaces::locked_workspace;
use super::Store;
use crate::domain::error::check_version;
use crate::domain::event::{Changes, NewEvent};
use crate::domain::ids::WorkspaceId;
use crate::domain::settings;
use crate::domain::time::now_ms;
use crate::domain::validation::FieldError;
use crate::domain::workspace::Workspace;
use crate::domain::Error;
use crate::params;

/// The whole settings rule: known keys' types and values, the size limit,
/// and `default_project_id` naming a project of this workspace (read in the
/// caller's transaction, so a concurrent delete cannot slip between).
pub(crate) async fn check_settings(
    tx: &mut Tx,
    ws: &WorkspaceId,
    doc: &Map<String, Json>,
) -> Result<(), Error> {
    let mut errors = settings::validate(doc).err().unwrap_or_default();
    if let Some(pid) = settings::default_project(doc) {
        let found = tx
            .fetch_optional(
                &format!(
                    "SELECT id FROM projects WHERE workspace_id = $1 AND id = $2{}",
                    tx.for_update()
                ),
                params![ws, pid],
            )
            .await?;
        if found.is_none() {
            errors.push(FieldError::new(
                "settings.default_project_id",
                "not_found",
                "must name a project of this workspace",
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

fn providers_from(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

impl Store {
    /// Changes the settings document with `change`, validates the result,
    /// and bumps the workspace's version (unless nothing changed).
    pub async fn update_settings(
        &self,
        ws: &WorkspaceId,
        if_match: Option<i64>,
        change: impl FnOnce(&mut Map<String, Json>),
    ) -> Result<Workspace, Error> {
        let mut tx = self.db.begin().await?;
        let mut w = locked_workspace(&mut tx, ws).await?;
        check_version(if_match, w.version)?;
        let before = w.settings.clone();
        change(&mut w.settings);
        if w.settings == before {
            tx.commit().await?;
            return Ok(w);
        }
        check_settings(&mut tx, ws, &w.settings).await?;
        w.updated_at = now_ms();
        w.version += 1;
        tx.execute(
            "UPDATE workspaces SET settings = $2, updated_at = $3, version = $4 WHERE id = $1",
            params![
                ws,
                Json::Object(w.settings.clone()).to_string(),
                w.updated_at,
                w.version
            ],
        )
        .await?;
        // Key by key: `{theme: ["system", "dark"]}`, null for absent.
        let mut changes = Changes::new();
        for key in before.keys().chain(w.settings.keys()) {
            let value = |m: &Map<String, Json>| m.get(key).cloned().unwrap_or(Json::Null);
            changes = changes.field(key, value(&before), value(&w.settings));
        }
        let event = NewEvent::in_workspace("settings.updated", ws, "settings", ws.as_str())
            .with_changes(changes);
        record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(w)
    }

    /// The workspace's providers and its version.
    pub async fn providers(&self, ws: &WorkspaceId) -> Result<(Vec<String>, i64), Error> {
        let row = self
            .db
            .fetch_optional(
                "SELECT providers, version FROM workspaces WHERE id = $1",
                params![ws],
            )
            .await?
            .ok_or(Error::NotFound)?;
        Ok((providers_from(&row.text(0)?), row.int(1)?))
    }

    /// Replaces the providers (already validated); bumps the version when
    /// they change.
    pub async fn set_providers(
        &self,
        ws: &WorkspaceId,
        providers: &[String],
        if_match: Option<i64>,
    ) -> Result<(Vec<String>, i64), Error> {
        let mut tx = self.db.begin().await?;
        let row = tx
            .fetch_optional(
                &format!(
                    "SELECT providers, version FROM workspaces WHERE id = $1{}",
                    tx.for_update()
                ),
                params![ws],
            )
            .await?
            .ok_or(Error::NotFound)?;
        let (current, version) = (providers_from(&row.text(0)?), row.int(1)?);
        check_version(if_match, version)?;
        if current == providers {
            tx.commit().await?;
            return Ok((current, version));
        }
        tx.execute(
            "UPDATE workspaces SET providers = $2, updated_at = $3, version = $4 WHERE id = $1",
            params![
                ws,
                Json::from(providers.to_vec()).to_string(),
                now_ms(),
                version + 1
            ],
        )
        .await?;
        let changes = Changes::new().field("providers", current.clone(), providers.to_vec());
        let event = NewEvent::in_workspace("providers.updated", ws, "providers", ws.as_str())
            .with_changes(changes);
        record(&mut tx, event).await?;
        tx.commit().await?;
        Ok((providers.to_vec(), version + 1))
    }
}
