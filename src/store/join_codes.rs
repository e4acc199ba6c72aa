//! Join codes: at most one per workspace, stored normalized under a unique
//! index. Joining locks the workspace, then the code row, and counts the
//! use in the same transaction, so `max_uses` holds under concurrency.

use super::db::Row;
use super::events::record;
use super::members::{insert_membership, lock_workspace, member_in_tx};
use super::Store;
use crate::domain::event::{Changes, NewEvent};
use crate::domain::ids::{UserId, WorkspaceId};
use crate::domain::join_code;
use crate::domain::members::Member;
use crate::domain::roles::Role;
use crate::domain::time::{now_ms, Millis};
use crate::domain::Error;
use crate::params;
use serde_json::Value as Json;

#[derive(Debug, Clone)]
pub struct JoinCode {
    /// Normalized (no hyphens).
    pub code: String,
    pub role: Role,
    pub expires_at: Option<Millis>,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub created_at: Millis,
}

const CODE_COLS: &str = "code, role, expires_at, max_uses, uses, created_at";

fn code_from(r: &Row) -> Result<JoinCode, Error> {
    Ok(JoinCode {
        code: r.text(0)?,
        role: Role::from_rank(r.int(1)?).ok_or_else(|| Error::Internal("bad role rank".into()))?,
        expires_at: r.opt_int(2)?,
        max_uses: r.opt_int(3)?,
        uses: r.int(4)?,
        created_at: r.int(5)?,
    })
}

/// What `POST /v1/join` did.
pub enum JoinOutcome {
    Joined(WorkspaceId, Member),
    AlreadyMember(WorkspaceId, Member),
}

impl Store {
    pub async fn join_code(&self, ws: &WorkspaceId) -> Result<Option<JoinCode>, Error> {
        self.db
            .fetch_optional(
                &format!("SELECT {CODE_COLS} FROM join_codes WHERE workspace_id = $1"),
                params![ws],
            )
            .await?
            .map(|r| code_from(&r))
            .transpose()
    }

    /// Creates or rotates the code; the old one stops working.
    pub async fn set_join_code(
        &self,
        ws: &WorkspaceId,
        by: Option<&UserId>,
        role: Role,
        expires_at: Option<Millis>,
        max_uses: Option<i64>,
    ) -> Result<JoinCode, Error> {
        // 32^12 codes: a collision is astronomically rare, but the unique
        // index decides, and we draw again.
        for _ in 0..4 {
            let now = now_ms();
            let code = join_code::generate();
            let mut tx = self.db.begin().await?;
            lock_workspace(&mut tx, ws).await?;
            tx.execute(
                "DELETE FROM join_codes WHERE workspace_id = $1",
                params![ws],
            )
            .await?;
            let r = tx
                .execute(
                    "INSERT INTO join_codes (workspace_id, code, role, expires_at, max_uses, uses, created_by, created_at)
                     VALUES ($1, $2, $3, $4, $5, 0, $6, $7)",
                    params![ws, &code, role.rank(), expires_at, max_uses, by.map(|u| u.as_str()), now],
                )
                .await;
            match r {
                Err(e) if e.unique_constraint() == Some("join_codes_code_key") => continue,
                r => r?,
            };
            let changes = Changes::new().field("role", Json::Null, role.as_str());
            let event = NewEvent::in_workspace("join_code.rotated", ws, "join_code", ws.as_str())
                .with_changes(changes);
            record(&mut tx, event).await?;
            tx.commit().await?;
            return Ok(JoinCode {
                code,
                role,
                expires_at,
                max_uses,
                uses: 0,
                created_at: now,
            });
        }
        Err(Error::Conflict("could not draw a free code, retry".into()))
    }

    /// Disables the code; false when there was none.
    pub async fn delete_join_code(&self, ws: &WorkspaceId) -> Result<bool, Error> {
        let mut tx = self.db.begin().await?;
        let deleted = tx
            .execute(
                "DELETE FROM join_codes WHERE workspace_id = $1",
                params![ws],
            )
            .await?
            > 0;
        if deleted {
            let event = NewEvent::in_workspace("join_code.disabled", ws, "join_code", ws.as_str());
            record(&mut tx, event).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    /// Joins with a normalized code. Unknown (or rotated, disabled) 404;
    /// expired or used up 410; already a member: the existing membership.
    pub async fn join_with_code(&self, code: &str, user: &UserId) -> Result<JoinOutcome, Error> {
        let ws = self
            .db
            .fetch_optional(
                "SELECT workspace_id FROM join_codes WHERE code = $1",
                params![code],
            )
            .await?
            .ok_or(Error::NotFound)?;
        let ws = WorkspaceId::from_db(ws.text(0)?);
        let now = now_ms();
        let mut tx = self.db.begin().await?;
        // Workspace lock first, as every membership change takes it.
        let (locked, _) = lock_workspace(&mut tx, &ws).await?;
        let sql = format!(
            "SELECT {CODE_COLS} FROM join_codes WHERE workspace_id = $1 AND code = $2{}",
            tx.for_update()
        );
        let jc = tx
            .fetch_optional(&sql, params![&ws, code])
            .await?
            .ok_or(Error::NotFound)
            .and_then(|r| code_from(&r))?;
        if locked.status == "deleted" {
            return Err(Error::NotFound);
        }
        if jc.expires_at.is_some_and(|at| at <= now) {
            return Err(Error::Gone("The join code has expired.".into()));
        }
        if let Some(m) = member_in_tx(&mut tx, &ws, user).await? {
            tx.commit().await?;
            return Ok(JoinOutcome::AlreadyMember(ws, m));
        }
        if jc.max_uses.is_some_and(|max| jc.uses >= max) {
            return Err(Error::Gone("The join code has been used up.".into()));
        }
        if locked.status == "archived" {
            return Err(Error::WorkspaceArchived);
        }
        insert_membership(&mut tx, &locked, &self.plans(), user, jc.role, None, now).await?;
        tx.execute(
            "UPDATE join_codes SET uses = uses + 1 WHERE workspace_id = $1",
            params![&ws],
        )
        .await?;
        let m = member_in_tx(&mut tx, &ws, user)
            .await?
            .ok_or(Error::NotFound)?;
        let changes = Changes::new().field("role", Json::Null, jc.role.as_str());
        super::members::member_event(&mut tx, "member.joined", &locked, user, changes).await?;
        tx.commit().await?;
        Ok(JoinOutcome::Joined(ws, m))
    }
}
