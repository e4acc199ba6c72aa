//! Invitations: stored with the SHA-256 of their token (shown once), one
//! pending per email and workspace (a new one revokes the old, whose token
//! dies), single use. Accepting locks the workspace, then the invitation
//! row, so two accepts at once make one membership.

use super::db::{Row, Tx};
use super::events::record;
use super::lists::{page_newest_first, NewestFirst};
use super::members::{actor_role, insert_membership, lock_workspace, member_in_tx};
use super::Store;
use crate::domain::event::{Changes, NewEvent};
use crate::domain::ids::{InvitationId, UserId, WorkspaceId};
use crate::domain::invitations::{unusable, Invitation, Status};
use crate::domain::members::{check_grant, Actor, Member};
use crate::domain::pagination::{Page, PageRequest};
use crate::domain::roles::Role;
use crate::domain::time::{now_ms, Millis};
use crate::domain::Error;
use crate::params;
use serde_json::Value as Json;

const INV_COLS: &str =
    "i.id, i.workspace_id, i.email, i.role, i.status, i.invited_by, i.created_at, i.expires_at, i.responded_at";

/// The newest-first list of invitations (`from` is set per list).
const INVITATIONS: NewestFirst<'static> = NewestFirst {
    cols: INV_COLS,
    from: "",
    created_at: "i.created_at",
    id: "i.id",
    id_prefix: InvitationId::PREFIX,
};

fn invitation_from(r: &Row, now: Millis) -> Result<Invitation, Error> {
    let expires_at = r.int(7)?;
    Ok(Invitation {
        id: InvitationId::from_db(r.text(0)?),
        workspace_id: WorkspaceId::from_db(r.text(1)?),
        email: r.text(2)?,
        role: Role::from_rank(r.int(3)?).ok_or_else(|| Error::Internal("bad role rank".into()))?,
        status: Status::effective(&r.text(4)?, expires_at, now),
        invited_by: r.opt_text(5)?,
        created_at: r.int(6)?,
        expires_at,
        responded_at: r.opt_int(8)?,
        token: None,
    })
}

/// A pending invitation to me, with its workspace's name.
#[derive(Debug, Clone)]
pub struct MyInvitation {
    pub invitation: Invitation,
    pub workspace_name: String,
    pub workspace_slug: String,
}

/// What accepting did.
pub enum Accepted {
    Joined(WorkspaceId, Member),
    AlreadyMember(WorkspaceId, Member),
}

async fn locked_invitation(
    tx: &mut Tx,
    ws: &WorkspaceId,
    id: &InvitationId,
) -> Result<Invitation, Error> {
    let sql = format!(
        "SELECT {INV_COLS} FROM invitations i WHERE i.id = $1 AND i.workspace_id = $2{}",
        tx.for_update()
    );
    let row = tx
        .fetch_optional(&sql, params![id, ws])
        .await?
        .ok_or(Error::NotFound)?;
    invitation_from(&row, now_ms())
}

impl Store {
    /// Invites `email`; replaces a pending invitation to the same email.
    pub async fn create_invitation(
        &self,
        ws: &WorkspaceId,
        actor: &Actor,
        email: &str,
        role: Role,
        lifetime: Millis,
    ) -> Result<Invitation, Error> {
        let now = now_ms();
        let email_lower = email.to_lowercase();
        let mut tx = self.db.begin().await?;
        let (locked, _) = lock_workspace(&mut tx, ws).await?;
        let me = actor_role(&mut tx, ws, locked.organization_id.as_deref(), actor)
            .await?
            .ok_or(Error::NotFound)?;
        check_grant(me, role)?;
        let member = tx
            .fetch_optional(
                "SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id
                 WHERE m.workspace_id = $1 AND u.email_lower = $2",
                params![ws, &email_lower],
            )
            .await?;
        if member.is_some() {
            return Err(Error::AlreadyMember);
        }
        // A new invitation to the same address replaces a pending one.
        let replaced = tx
            .fetch_all(
                "SELECT id FROM invitations
                 WHERE workspace_id = $1 AND email_lower = $2 AND status = 'pending'",
                params![ws, &email_lower],
            )
            .await?;
        tx.execute(
            "UPDATE invitations SET status = 'revoked', updated_at = $3
             WHERE workspace_id = $1 AND email_lower = $2 AND status = 'pending'",
            params![ws, &email_lower, now],
        )
        .await?;
        for r in &replaced {
            let changes = Changes::new().field("status", "pending", "revoked");
            let event = NewEvent::in_workspace("invitation.revoked", ws, "invitation", r.text(0)?)
                .with_changes(changes);
            record(&mut tx, event).await?;
        }
        let token = crate::auth::new_token();
        let id = InvitationId::new();
        let invited_by = actor.user().map(|u| u.to_string());
        tx.execute(
            "INSERT INTO invitations (id, workspace_id, email, email_lower, role, token_hash, status,
                invited_by, created_at, updated_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $8, $9)",
            params![
                &id,
                ws,
                email,
                &email_lower,
                role.rank(),
                crate::auth::token_hash(&token),
                invited_by.clone(),
                now,
                now + lifetime
            ],
        )
        .await?;
        let changes = Changes::new().field("email", Json::Null, email).field(
            "role",
            Json::Null,
            role.as_str(),
        );
        let event = NewEvent::in_workspace("invitation.created", ws, "invitation", id.as_str())
            .with_changes(changes);
        record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(Invitation {
            id,
            workspace_id: ws.clone(),
            email: email.to_owned(),
            role,
            status: Status::Pending,
            invited_by,
            created_at: now,
            expires_at: now + lifetime,
            responded_at: None,
            token: Some(token),
        })
    }

    /// Invitations of a workspace, newest first, optionally of one status.
    pub async fn list_invitations(
        &self,
        ws: &WorkspaceId,
        status: Option<Status>,
        page: &PageRequest,
    ) -> Result<Page<Invitation>, Error> {
        let now = now_ms();
        let mut params = params![ws];
        let mut conds = String::from("i.workspace_id = $1");
        if let Some(status) = status {
            // `pending` and `expired` are both stored as pending; the clock
            // tells them apart.
            let cond = match status {
                Status::Pending => " AND i.status = 'pending' AND i.expires_at > $2",
                Status::Expired => " AND i.status = 'pending' AND i.expires_at <= $2",
                _ => " AND i.status = $2",
            };
            conds.push_str(cond);
            params.push(match status {
                Status::Pending | Status::Expired => now.into(),
                s => s.as_str().into(),
            });
        }
        let list = NewestFirst {
            from: &format!("FROM invitations i WHERE {conds}"),
            ..INVITATIONS
        };
        page_newest_first(&self.db, &list, params, page, |r| invitation_from(&r, now)).await
    }

    /// Pending, unexpired invitations to `email` in live workspaces.
    pub async fn my_invitations(
        &self,
        email: &str,
        page: &PageRequest,
    ) -> Result<Page<MyInvitation>, Error> {
        let now = now_ms();
        let list = NewestFirst {
            cols: &format!("{INV_COLS}, w.name, w.slug"),
            from: "FROM invitations i JOIN workspaces w ON w.id = i.workspace_id
                   WHERE i.email_lower = $1 AND i.status = 'pending' AND i.expires_at > $2
                     AND w.status <> 'deleted'",
            ..INVITATIONS
        };
        let params = params![email.to_lowercase(), now];
        page_newest_first(&self.db, &list, params, page, |r| {
            Ok::<_, Error>(MyInvitation {
                invitation: invitation_from(&r, now)?,
                workspace_name: r.text(9)?,
                workspace_slug: r.text(10)?,
            })
        })
        .await
    }

    /// Revokes a pending (or expired) invitation; its token dies.
    pub async fn revoke_invitation(
        &self,
        ws: &WorkspaceId,
        id: &InvitationId,
    ) -> Result<(), Error> {
        let mut tx = self.db.begin().await?;
        let inv = locked_invitation(&mut tx, ws, id).await?;
        match inv.status {
            Status::Pending | Status::Expired => {}
            Status::Revoked => return Err(Error::NotFound),
            s => {
                return Err(Error::Conflict(format!(
                    "The invitation is {}; only pending invitations can be revoked.",
                    s.as_str()
                )))
            }
        }
        tx.execute(
            "UPDATE invitations SET status = 'revoked', updated_at = $2 WHERE id = $1",
            params![id, now_ms()],
        )
        .await?;
        invitation_event(
            &mut tx,
            "invitation.revoked",
            &inv,
            inv.status.as_str(),
            "revoked",
        )
        .await?;
        Ok(tx.commit().await?)
    }

    /// A new token and a new expiry for a pending (or expired) invitation;
    /// the old token dies.
    pub async fn resend_invitation(
        &self,
        ws: &WorkspaceId,
        actor: &Actor,
        id: &InvitationId,
        lifetime: Millis,
    ) -> Result<Invitation, Error> {
        let now = now_ms();
        let mut tx = self.db.begin().await?;
        let (locked, _) = lock_workspace(&mut tx, ws).await?;
        let mut inv = locked_invitation(&mut tx, ws, id).await?;
        match inv.status {
            Status::Pending | Status::Expired => {}
            Status::Revoked => return Err(Error::NotFound),
            s => {
                return Err(Error::Conflict(format!(
                    "The invitation is {}; only pending invitations can be resent.",
                    s.as_str()
                )))
            }
        }
        let me = actor_role(&mut tx, ws, locked.organization_id.as_deref(), actor)
            .await?
            .ok_or(Error::NotFound)?;
        check_grant(me, inv.role)?;
        let token = crate::auth::new_token();
        tx.execute(
            "UPDATE invitations SET token_hash = $2, expires_at = $3, updated_at = $4 WHERE id = $1",
            params![id, crate::auth::token_hash(&token), now + lifetime, now],
        )
        .await?;
        tx.commit().await?;
        inv.status = Status::Pending;
        inv.expires_at = now + lifetime;
        inv.token = Some(token);
        Ok(inv)
    }

    /// Accepts with a token as `user` (whose email must match).
    pub async fn accept_invitation(
        &self,
        token: &str,
        user: &UserId,
        user_email: &str,
    ) -> Result<Accepted, Error> {
        let hash = crate::auth::token_hash(token);
        // Find the workspace first, to take its lock before the
        // invitation's (the order every membership change uses).
        let ws = self
            .db
            .fetch_optional(
                "SELECT workspace_id FROM invitations WHERE token_hash = $1",
                params![&hash],
            )
            .await?
            .ok_or(Error::NotFound)?;
        let ws = WorkspaceId::from_db(ws.text(0)?);
        let now = now_ms();
        let mut tx = self.db.begin().await?;
        let (locked, _) = lock_workspace(&mut tx, &ws).await?;
        let inv = usable(&mut tx, &hash, user_email, now).await?;
        if inv.workspace_id != ws || locked.status == "deleted" {
            return Err(Error::NotFound);
        }
        if locked.status == "archived" {
            return Err(Error::WorkspaceArchived);
        }
        tx.execute(
            "UPDATE invitations SET status = 'accepted', responded_at = $2, updated_at = $2 WHERE id = $1",
            params![&inv.id, now],
        )
        .await?;
        let joined = match insert_membership(
            &mut tx,
            &locked,
            &self.plans(),
            user,
            inv.role,
            inv.invited_by.as_deref(),
            now,
        )
        .await
        {
            Ok(_) => true,
            Err(Error::AlreadyMember) => false,
            Err(e) => return Err(e),
        };
        invitation_event(&mut tx, "invitation.accepted", &inv, "pending", "accepted").await?;
        if joined {
            let changes = Changes::new().field("role", Json::Null, inv.role.as_str());
            super::members::member_event(&mut tx, "member.joined", &locked, user, changes).await?;
        }
        let member = member_in_tx(&mut tx, &ws, user)
            .await?
            .ok_or(Error::NotFound)?;
        tx.commit().await?;
        Ok(if joined {
            Accepted::Joined(ws, member)
        } else {
            Accepted::AlreadyMember(ws, member)
        })
    }

    /// Declines with a token as the invited user.
    pub async fn decline_invitation(&self, token: &str, user_email: &str) -> Result<(), Error> {
        let hash = crate::auth::token_hash(token);
        let now = now_ms();
        let mut tx = self.db.begin().await?;
        let inv = usable(&mut tx, &hash, user_email, now).await?;
        tx.execute(
            "UPDATE invitations SET status = 'declined', responded_at = $2, updated_at = $2 WHERE id = $1",
            params![&inv.id, now],
        )
        .await?;
        invitation_event(&mut tx, "invitation.declined", &inv, "pending", "declined").await?;
        Ok(tx.commit().await?)
    }
}

/// Records an invitation's change of status.
async fn invitation_event(
    tx: &mut Tx,
    kind: &'static str,
    inv: &Invitation,
    before: &str,
    after: &str,
) -> Result<(), Error> {
    let changes = Changes::new().field("status", before, after);
    let event = NewEvent::in_workspace(kind, &inv.workspace_id, "invitation", inv.id.as_str())
        .with_changes(changes);
    record(tx, event).await
}

/// The invitation of a token, locked, if it is pending and addressed to
/// `email`: unknown or revoked 404, used or expired 410, someone else's 403.
async fn usable(tx: &mut Tx, hash: &str, email: &str, now: Millis) -> Result<Invitation, Error> {
    let sql = format!(
        "SELECT {INV_COLS} FROM invitations i WHERE i.token_hash = $1{}",
        tx.for_update()
    );
    let row = tx
        .fetch_optional(&sql, params![hash])
        .await?
        .ok_or(Error::NotFound)?;
    let inv = invitation_from(&row, now)?;
    if let Some(e) = unusable(inv.status) {
        return Err(e);
    }
    if !inv.email.eq_ignore_ascii_case(email) {
        return Err(Error::Forbidden(
            "This invitation was sent to another email address.".into(),
        ));
    }
    Ok(inv)
}
