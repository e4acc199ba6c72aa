//! Archive, soft delete, restore, purge.

use super::*;
use crate::domain::error::check_version;
use crate::domain::event::{Changes, NewEvent};
use crate::domain::ids::{UserId, WorkspaceId};
use crate::domain::time::{now_ms, Millis};
use crate::domain::workspace::{Status, Workspace};
use crate::domain::Error;
use crate::params;
use crate::store::events::record;
use crate::store::Store;

impl Store {
    /// Archives or unarchives; a no-op when already in that state.
    pub async fn set_archived(
        &self,
        id: &WorkspaceId,
        archive: bool,
        if_match: Option<i64>,
    ) -> Result<Workspace, Error> {
        let mut tx = self.db.begin().await?;
        let mut ws = locked_workspace(&mut tx, id).await?;
        check_version(if_match, ws.version)?;
        let target = if archive {
            Status::Archived
        } else {
            Status::Active
        };
        if ws.status == target {
            tx.commit().await?;
            return Ok(ws);
        }
        let now = now_ms();
        let changes = Changes::new().field("status", ws.status.as_str(), target.as_str());
        ws.status = target;
        ws.archived_at = archive.then_some(now);
        ws.updated_at = now;
        ws.version += 1;
        tx.execute(
            "UPDATE workspaces SET status = $2, archived_at = $3, updated_at = $4, version = $5 WHERE id = $1",
            params![&ws.id, target.as_str(), ws.archived_at, now, ws.version],
        )
        .await?;
        let kind = if archive {
            "workspace.archived"
        } else {
            "workspace.unarchived"
        };
        let event = NewEvent::in_workspace(kind, &ws.id, "workspace", ws.id.as_str())
            .in_org(ws.organization_id.clone())
            .with_changes(changes);
        record(&mut tx, event).await?;
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
        check_version(if_match, ws.version)?;
        if ws.status == Status::Deleted {
            tx.commit().await?;
            return Ok(ws);
        }
        keep_last(&mut tx, id, keep_last_for).await?;
        let now = now_ms();
        let changes = Changes::new().field("status", ws.status.as_str(), "deleted");
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
        let event =
            NewEvent::in_workspace("workspace.deleted", &ws.id, "workspace", ws.id.as_str())
                .in_org(ws.organization_id.clone())
                .with_changes(changes);
        record(&mut tx, event).await?;
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
        check_version(if_match, ws.version)?;
        if ws.status != Status::Deleted {
            tx.commit().await?;
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
        let event =
            NewEvent::in_workspace("workspace.restored", &ws.id, "workspace", ws.id.as_str())
                .in_org(ws.organization_id.clone())
                .with_changes(Changes::new().field("status", "deleted", ws.status.as_str()));
        record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(ws)
    }

    /// Purges a workspace and everything in it (foreign keys cascade) at
    /// once (`DELETE ...?permanent=true`), under the same
    /// `keep_last_workspace` policy as a soft delete (a workspace that is
    /// already soft-deleted no longer counts as one the user has).
    pub async fn purge_workspace(
        &self,
        id: &WorkspaceId,
        keep_last_for: Option<&UserId>,
        if_match: Option<i64>,
    ) -> Result<bool, Error> {
        let mut tx = self.db.begin().await?;
        let ws = locked_workspace(&mut tx, id).await?;
        check_version(if_match, ws.version)?;
        if ws.status != Status::Deleted {
            keep_last(&mut tx, id, keep_last_for).await?;
        }
        let purged = tx
            .execute("DELETE FROM workspaces WHERE id = $1", params![id])
            .await?
            > 0;
        tx.commit().await?;
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

/// The `keep_last_workspace` policy: `user` (when the policy applies) must
/// keep at least one workspace besides `id` that is not deleted.
async fn keep_last(tx: &mut Tx, id: &WorkspaceId, user: Option<&UserId>) -> Result<(), Error> {
    let Some(user) = user else { return Ok(()) };
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
    Ok(())
}
