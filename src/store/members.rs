//! Workspace memberships.

use super::Store;
use crate::domain::ids::{MembershipId, UserId, WorkspaceId};
use crate::domain::roles::Role;
use crate::domain::time::now_ms;
use crate::domain::Error;
use crate::params;

impl Store {
    /// Adds a user to a workspace and counts it in `member_count`, in one
    /// transaction. An existing member is 409 `already_member`; a full plan
    /// is 403 `plan_limit` (see [`super::plans::check_member_limit`]).
    pub async fn add_member(
        &self,
        workspace: &WorkspaceId,
        user: &UserId,
        role: Role,
        invited_by: Option<&UserId>,
    ) -> Result<MembershipId, Error> {
        let now = now_ms();
        let id = MembershipId::new();
        let mut tx = self.db.begin().await?;
        // An existing member is told so even when the plan is full; the
        // unique index still decides races.
        let existing = tx
            .fetch_optional(
                "SELECT 1 FROM memberships WHERE workspace_id = $1 AND user_id = $2",
                params![workspace, user],
            )
            .await?;
        if existing.is_some() {
            return Err(Error::AlreadyMember);
        }
        super::plans::check_member_limit(&mut tx, workspace, &self.plans()).await?;
        let r = tx
            .execute(
                "INSERT INTO memberships (id, workspace_id, user_id, role, ws_created_at, invited_by, created_at)
                 SELECT $1, w.id, $3, $4, w.created_at, $5, $6 FROM workspaces w WHERE w.id = $2",
                params![&id, workspace, user, role.rank(), invited_by.map(|u| u.as_str()), now],
            )
            .await;
        match r {
            Err(e) if e.unique_constraint() == Some("memberships_workspace_id_user_id_key") => {
                return Err(Error::AlreadyMember)
            }
            Ok(0) => return Err(Error::NotFound),
            r => r?,
        };
        tx.execute(
            "UPDATE workspaces SET member_count = member_count + 1 WHERE id = $1",
            params![workspace],
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }
}
