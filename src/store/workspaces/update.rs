//! Field updates with JSON Merge Patch documents.

use serde_json::{Map, Value as Json};

use super::*;
use crate::domain::error::check_version;
use crate::domain::event::{Changes, NewEvent};
use crate::domain::ids::WorkspaceId;
use crate::domain::json::{check_size, merge_patch};
use crate::domain::time::now_ms;
use crate::domain::workspace::{Workspace, WorkspacePatch};
use crate::domain::Error;
use crate::params;
use crate::store::events::record;
use crate::store::Store;

impl Store {
    /// Applies a validated patch. `if_match` is the expected version.
    pub async fn update_workspace(
        &self,
        id: &WorkspaceId,
        patch: &WorkspacePatch,
        if_match: Option<i64>,
    ) -> Result<Workspace, Error> {
        let mut tx = self.db.begin().await?;
        let mut ws = locked_workspace(&mut tx, id).await?;
        check_version(if_match, ws.version)?;
        if patch.is_empty() {
            tx.commit().await?;
            return Ok(ws);
        }
        let before = ws.clone();
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
            match crate::store::settings::check_settings(&mut tx, &ws.id, &ws.settings).await {
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
        // A patch that changes nothing (the same name again) is not a
        // change: no new version, no event, as for settings.
        let changed = changes(&before, &ws);
        if changed.is_empty() {
            tx.commit().await?;
            return Ok(before);
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
        let event =
            NewEvent::in_workspace("workspace.updated", &ws.id, "workspace", ws.id.as_str())
                .in_org(ws.organization_id.clone())
                .with_changes(changed);
        record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(ws)
    }
}

/// The fields a patch changed, `[before, after]` each.
fn changes(b: &Workspace, a: &Workspace) -> Changes {
    let obj = |m: &Map<String, Json>| Json::Object(m.clone());
    Changes::new()
        .field("name", b.name.as_str(), a.name.as_str())
        .field("slug", b.slug.as_str(), a.slug.as_str())
        .field("description", b.description.clone(), a.description.clone())
        .field("icon", b.icon.clone(), a.icon.clone())
        .field("domain", b.domain.clone(), a.domain.clone())
        .field("repo_path", b.repo_path.clone(), a.repo_path.clone())
        .field("branch", b.branch.clone(), a.branch.clone())
        .field("settings", obj(&b.settings), obj(&a.settings))
        .field("metadata", obj(&b.metadata), obj(&a.metadata))
        .field("onboarding", obj(&b.onboarding), obj(&a.onboarding))
        .field(
            "onboarding_completed_at",
            b.onboarding_completed_at.map(crate::domain::time::format),
            a.onboarding_completed_at.map(crate::domain::time::format),
        )
}
