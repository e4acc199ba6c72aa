//! Workspace logos, content-addressed: the key is the SHA-256 of the bytes,
//! so the same image is stored once and served at the same URL forever.
//! A logo no workspace points to any more is deleted with the change that
//! released it.

use super::db::{Backend, Tx};
use super::workspaces::locked_workspace;
use super::Store;
use crate::domain::error::check_version;
use crate::domain::ids::WorkspaceId;
use crate::domain::time::now_ms;
use crate::domain::workspace::Workspace;
use crate::domain::Error;
use crate::params;

/// An image as served.
pub struct Logo {
    pub content_type: String,
    pub data: Vec<u8>,
}

/// Logo writes take one advisory lock on PostgreSQL so that releasing an
/// unreferenced logo cannot race with another workspace adopting the same
/// bytes. (SQLite's single writer already serializes them.)
async fn lock_logos(tx: &mut Tx) -> Result<(), Error> {
    if tx.backend() == Backend::Postgres {
        tx.execute("SELECT pg_advisory_xact_lock(7428301)", vec![])
            .await?;
    }
    Ok(())
}

async fn release(tx: &mut Tx, key: Option<&str>) -> Result<(), Error> {
    if let Some(key) = key {
        tx.execute(
            "DELETE FROM logos WHERE key = $1 AND NOT EXISTS (SELECT 1 FROM workspaces WHERE logo_key = $1)",
            params![key],
        )
        .await?;
    }
    Ok(())
}

impl Store {
    /// Sets the workspace's logo to `data` stored under `key`.
    pub async fn set_logo(
        &self,
        ws: &WorkspaceId,
        key: &str,
        content_type: &str,
        data: Vec<u8>,
        if_match: Option<i64>,
    ) -> Result<Workspace, Error> {
        self.change_logo(ws, Some((key, content_type, data)), if_match)
            .await
    }

    /// Removes the workspace's logo.
    pub async fn clear_logo(
        &self,
        ws: &WorkspaceId,
        if_match: Option<i64>,
    ) -> Result<Workspace, Error> {
        self.change_logo(ws, None, if_match).await
    }

    async fn change_logo(
        &self,
        ws: &WorkspaceId,
        new: Option<(&str, &str, Vec<u8>)>,
        if_match: Option<i64>,
    ) -> Result<Workspace, Error> {
        let mut tx = self.db.begin().await?;
        lock_logos(&mut tx).await?;
        let mut w = locked_workspace(&mut tx, ws).await?;
        check_version(if_match, w.version)?;
        let now = now_ms();
        let new_key = new.as_ref().map(|(k, _, _)| (*k).to_owned());
        if w.logo_key == new_key {
            tx.commit().await?;
            return Ok(w);
        }
        if let Some((key, content_type, data)) = new {
            tx.execute(
                "INSERT INTO logos (key, content_type, data, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (key) DO NOTHING",
                params![key, content_type, data, now],
            )
            .await?;
        }
        let old = std::mem::replace(&mut w.logo_key, new_key);
        w.updated_at = now;
        w.version += 1;
        tx.execute(
            "UPDATE workspaces SET logo_key = $2, updated_at = $3, version = $4 WHERE id = $1",
            params![ws, w.logo_key.clone(), now, w.version],
        )
        .await?;
        release(&mut tx, old.as_deref()).await?;
        let changes =
            crate::domain::event::Changes::new().field("logo_key", old.clone(), w.logo_key.clone());
        let event = crate::domain::event::NewEvent::in_workspace(
            "workspace.updated",
            ws,
            "workspace",
            ws.as_str(),
        )
        .with_changes(changes);
        super::events::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(w)
    }

    /// Deletes logos no workspace points to (after purges, whose cascades
    /// do not see the logos table). Idempotent; safe on every replica.
    pub async fn collect_orphan_logos(&self) -> Result<u64, Error> {
        let mut tx = self.db.begin().await?;
        lock_logos(&mut tx).await?;
        let n = tx
            .execute(
                "DELETE FROM logos WHERE NOT EXISTS
                   (SELECT 1 FROM workspaces w WHERE w.logo_key = logos.key)",
                vec![],
            )
            .await?;
        tx.commit().await?;
        Ok(n)
    }

    pub async fn logo(&self, key: &str) -> Result<Option<Logo>, Error> {
        let row = self
            .db
            .fetch_optional(
                "SELECT content_type, data FROM logos WHERE key = $1",
                params![key],
            )
            .await?;
        Ok(match row {
            Some(r) => Some(Logo {
                content_type: r.text(0)?,
                data: r.bytes(1)?,
            }),
            None => None,
        })
    }
}
