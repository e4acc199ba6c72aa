//! `DELETE /v1/me`: an account goes with its tokens, memberships, the
//! pending invitations it sent, and every workspace where it was the only
//! member. The last owner of a workspace (or organization) that has other
//! members blocks it: nothing is deleted and the blockers are listed. A
//! workspace whose organization has other members is not purged: those
//! members reach it through the organization, so it blocks too.

use super::members::lock_workspace;
use super::Store;
use crate::domain::ids::{UserId, WorkspaceId};
use crate::domain::Error;
use crate::params;

impl Store {
    pub async fn delete_account(&self, user: &UserId) -> Result<(), Error> {
        let mut tx = self.db.begin().await?;
        // Workspaces in id order, so two deletions lock them in one order.
        let rows = tx
            .fetch_all(
                "SELECT workspace_id, role FROM memberships WHERE user_id = $1 ORDER BY workspace_id",
                params![user],
            )
            .await?;
        let mut purge = Vec::new();
        let mut leave = Vec::new();
        let mut blocked = Vec::new();
        for r in &rows {
            let ws = WorkspaceId::from_db(r.text(0)?);
            let (locked, owners) = lock_workspace(&mut tx, &ws).await?;
            // Others reach a workspace of an organization through it: it is
            // then not "only mine" even with no other direct member.
            let others_via_org = match &locked.organization_id {
                Some(org) => {
                    tx.fetch_all(
                        "SELECT COUNT(*) FROM org_members WHERE organization_id = $1 AND user_id <> $2",
                        params![org, user],
                    )
                    .await?[0]
                        .int(0)?
                        > 0
                }
                None => false,
            };
            if locked.member_count <= 1 && others_via_org {
                blocked.push(ws.to_string());
            } else if locked.member_count <= 1 {
                purge.push(ws);
            } else if r.int(1)? == 4 && owners.len() <= 1 {
                blocked.push(ws.to_string());
            } else {
                leave.push((ws, r.int(1)?));
            }
        }
        // Organizations: the sole owner of one that has other members
        // blocks too, or the organization would be left without an owner.
        let orgs = tx
            .fetch_all(
                "SELECT organization_id, role FROM org_members WHERE user_id = $1 ORDER BY organization_id",
                params![user],
            )
            .await?;
        let mut empty_orgs = Vec::new();
        for r in &orgs {
            let org = r.text(0)?;
            // The organization row first, as org member changes lock it.
            let sql = format!(
                "SELECT id FROM organizations WHERE id = $1{}",
                tx.for_update()
            );
            tx.fetch_optional(&sql, params![&org]).await?;
            let sql = format!(
                "SELECT user_id, role FROM org_members WHERE organization_id = $1{}",
                tx.for_update()
            );
            let members = tx.fetch_all(&sql, params![&org]).await?;
            let owners = members.iter().filter(|m| m.int(1).ok() == Some(4)).count();
            if members.len() <= 1 {
                empty_orgs.push(org);
            } else if r.int(1)? == 4 && owners <= 1 {
                blocked.push(org);
            }
        }
        if !blocked.is_empty() {
            return Err(Error::LastOwner(blocked));
        }
        for ws in &purge {
            tx.execute("DELETE FROM workspaces WHERE id = $1", params![ws])
                .await?;
        }
        for (ws, rank) in &leave {
            tx.execute(
                "DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2",
                params![ws, user],
            )
            .await?;
            tx.execute(
                "UPDATE workspaces SET member_count = member_count - 1 WHERE id = $1",
                params![ws],
            )
            .await?;
            let ws = crate::domain::ids::WorkspaceId::from_db(ws.to_string());
            let role = crate::domain::roles::Role::from_rank(*rank).map(|r| r.as_str());
            let event = crate::domain::event::NewEvent::in_workspace(
                "member.left",
                &ws,
                "member",
                user.as_str(),
            )
            .with_changes(crate::domain::event::Changes::new().field(
                "role",
                role,
                serde_json::Value::Null,
            ));
            super::events::record(&mut tx, event).await?;
        }
        tx.execute(
            "DELETE FROM invitations WHERE invited_by = $1 AND status = 'pending'",
            params![user],
        )
        .await?;
        for org in &empty_orgs {
            // Kept while it still holds workspaces of other people.
            tx.execute(
                "DELETE FROM organizations WHERE id = $1
                 AND NOT EXISTS (SELECT 1 FROM workspaces WHERE organization_id = $1)",
                params![org],
            )
            .await?;
        }
        // Tokens, memberships and org memberships cascade.
        tx.execute("DELETE FROM users WHERE id = $1", params![user])
            .await?;
        Ok(tx.commit().await?)
    }
}
