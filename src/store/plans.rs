//! Plans on workspaces: the platform admin's plan change, and the limit
//! checks other writes call inside their transactions.

use super::db::Tx;
use super::workspaces::locked_workspace;
use super::Store;
use crate::domain::error::check_version;
use crate::domain::ids::WorkspaceId;
use crate::domain::plans::Plans;
use crate::domain::time::{now_ms, DAY};
use crate::domain::workspace::Workspace;
use crate::domain::Error;
use crate::params;

/// Refuses adding a member when the workspace's plan is full
/// (`Error::PlanLimit`, 403 `plan_limit`).
///
/// Call it inside the transaction that adds the member, BEFORE inserting the
/// membership. It locks the workspace row (FOR UPDATE on PostgreSQL;
/// SQLite's writer transaction is already exclusive), so two concurrent
/// adds cannot both pass on the last free seat. (After the INSERT would
/// deadlock on PostgreSQL: the insert's foreign key takes a share lock on
/// the same row, and two transactions upgrading it wait on each other.)
/// A workspace that does not exist is `Error::NotFound`.
pub async fn check_member_limit(tx: &mut Tx, ws: &WorkspaceId, plans: &Plans) -> Result<(), Error> {
    let sql = format!(
        "SELECT plan, member_count FROM workspaces WHERE id = $1{}",
        tx.for_update()
    );
    let row = tx
        .fetch_optional(&sql, params![ws])
        .await?
        .ok_or(Error::NotFound)?;
    let (plan, count) = (row.text(0)?, row.int(1)?);
    match plans.limits(&plan).max_members {
        Some(max) if count >= max => Err(Error::PlanLimit("members".into())),
        _ => Ok(()),
    }
}

impl Store {
    /// Puts a workspace on `plan`. A plan with trial days starts a trial
    /// ending that many days from now; one without clears `trial_ends_at`.
    pub async fn set_plan(
        &self,
        ws: &WorkspaceId,
        plan: &str,
        if_match: Option<i64>,
    ) -> Result<Workspace, Error> {
        let plans = self.plans();
        let Some(p) = plans.get(plan) else {
            return Err(Error::field(
                "plan",
                "unknown",
                format!(
                    "'{plan}' is not a configured plan (known: {})",
                    plans.names().join(", ")
                ),
            ));
        };
        let mut tx = self.db.begin().await?;
        let mut w = locked_workspace(&mut tx, ws).await?;
        check_version(if_match, w.version)?;
        let now = now_ms();
        let changes = crate::domain::event::Changes::new().field("plan", w.plan.as_str(), plan);
        let event = crate::domain::event::NewEvent::in_workspace(
            "workspace.updated",
            ws,
            "workspace",
            ws.as_str(),
        )
        .with_changes(changes);
        super::events::record(&mut tx, event).await?;
        w.plan = plan.to_owned();
        w.trial_ends_at = p.trial_days.map(|d| now + d * DAY);
        w.updated_at = now;
        w.version += 1;
        tx.execute(
            "UPDATE workspaces SET plan = $2, trial_ends_at = $3, updated_at = $4, version = $5 WHERE id = $1",
            params![ws, plan, w.trial_ends_at, now, w.version],
        )
        .await?;
        tx.commit().await?;
        Ok(w)
    }
}
