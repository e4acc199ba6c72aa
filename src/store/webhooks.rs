//! Webhook endpoints and their deliveries (SPEC §9). Deliveries are
//! written by [`enqueue_deliveries`] inside the transaction that records
//! their event (an outbox); the delivery job takes due ones with
//! [`Store::take_due_deliveries`] (a lease, so replicas never send the same
//! attempt twice at once) and reports with [`Store::finish_delivery`].

use serde_json::Value as Json;

use super::db::{Row, Tx};
use super::events::record;
use super::events::Event;
use super::lists::{page_newest_first, NewestFirst};
use super::Store;
use crate::domain::error::check_version;
use crate::domain::event::{Changes, NewEvent};
use crate::domain::ids::{EventId, OrganizationId, WebhookId, WorkspaceId};
use crate::domain::pagination::{Page, PageRequest};
use crate::domain::time::{Millis, MINUTE};
use crate::domain::webhook::{backoff, DISABLE_AFTER, DISABLE_AFTER_FAILURES, RETRY_FOR};
use crate::domain::Error;
use crate::params;

/// An endpoint as stored (its secret sealed).
#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: WebhookId,
    pub workspace_id: WorkspaceId,
    pub url: String,
    pub events: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
}

/// A new endpoint, validated, its secret already sealed.
#[derive(Debug)]
pub struct NewWebhook {
    pub id: WebhookId,
    pub url: String,
    pub events: Vec<String>,
    pub enabled: bool,
    pub sealed_secret: Vec<u8>,
}

/// What a PATCH changes.
#[derive(Debug, Default)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub webhook_id: WebhookId,
    pub event_id: EventId,
    pub event_type: String,
    pub status: String,
    pub attempts: i64,
    /// JSON array of `{at, status_code, error, duration_ms}`.
    pub attempt_log: String,
    pub next_attempt_at: Option<Millis>,
    pub created_at: Millis,
    pub delivered_at: Option<Millis>,
}

/// A due delivery, taken: what the job needs to send it.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: String,
    pub webhook_id: WebhookId,
    pub url: String,
    pub sealed_secret: Vec<u8>,
    pub attempts: i64,
    pub created_at: Millis,
    pub event: Event,
}

/// How an attempt went.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub at: Millis,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

impl AttemptOutcome {
    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|c| (200..300).contains(&c))
    }
}

const COLS: &str =
    "id, workspace_id, url, events, enabled, disabled_reason, created_at, updated_at, version";
const DELIVERY_COLS: &str = "id, webhook_id, event_id, event_type, status, attempts, attempt_log, \
     next_attempt_at, created_at, delivered_at";

/// `",member.*,run.failed,"`: the stored form of a subscription list.
fn events_text(events: &[String]) -> String {
    format!(",{},", events.join(","))
}

fn events_from(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn webhook_from(r: &Row) -> Result<Webhook, Error> {
    Ok(Webhook {
        id: WebhookId::from_db(r.text(0)?),
        workspace_id: WorkspaceId::from_db(r.text(1)?),
        url: r.text(2)?,
        events: events_from(r.str(3)?),
        enabled: r.bool(4)?,
        disabled_reason: r.opt_text(5)?,
        created_at: r.int(6)?,
        updated_at: r.int(7)?,
        version: r.int(8)?,
    })
}

fn delivery_from(r: &Row) -> Result<Delivery, Error> {
    Ok(Delivery {
        id: r.text(0)?,
        webhook_id: WebhookId::from_db(r.text(1)?),
        event_id: EventId::from_db(r.text(2)?),
        event_type: r.text(3)?,
        status: r.text(4)?,
        attempts: r.int(5)?,
        attempt_log: r.text(6)?,
        next_attempt_at: r.opt_int(7)?,
        created_at: r.int(8)?,
        delivered_at: r.opt_int(9)?,
    })
}

/// Whose endpoints an event goes to.
pub(crate) enum Subscribers {
    /// The workspace's.
    Workspace(WorkspaceId),
    /// An organization's event (no workspace): the endpoints of every
    /// workspace of the organization that is not deleted.
    Organization(OrganizationId),
}

/// Queues the event for every enabled endpoint of its workspace that wants
/// its type, in the recording transaction. One statement, matching the
/// stored subscriptions with LIKE (`_` in a type matches itself and, as a
/// LIKE wildcard, any one character; no two types differ only there).
pub(crate) async fn enqueue_deliveries(
    tx: &mut Tx,
    to: &Subscribers,
    event: &EventId,
    kind: &str,
    now: Millis,
) -> Result<(), Error> {
    let resource = kind.split('.').next().unwrap_or(kind);
    let (whose, key) = match to {
        Subscribers::Workspace(ws) => ("w.workspace_id = $1", ws.as_str()),
        Subscribers::Organization(org) => (
            "w.workspace_id IN (SELECT id FROM workspaces WHERE organization_id = $1 AND status <> 'deleted')",
            org.as_str(),
        ),
    };
    tx.execute(
        &format!(
            "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, status, attempts,
                 next_attempt_at, created_at)
             SELECT 'msg_' || substr($2, 5) || substr(w.id, 5), w.id, $2, $3, 'pending', 0, $6, $6
             FROM webhooks w
             WHERE {whose} AND w.enabled = 1
               AND (w.events LIKE '%,*,%' OR w.events LIKE $4 OR w.events LIKE $5)"
        ),
        params![
            key,
            event.as_str(),
            kind,
            format!("%,{kind},%"),
            format!("%,{resource}.*,%"),
            now
        ],
    )
    .await?;
    Ok(())
}

async fn locked_webhook(tx: &mut Tx, ws: &WorkspaceId, id: &str) -> Result<Webhook, Error> {
    let sql = format!(
        "SELECT {COLS} FROM webhooks WHERE workspace_id = $1 AND id = $2{}",
        tx.for_update()
    );
    let row = tx
        .fetch_optional(&sql, params![ws, id])
        .await?
        .ok_or(Error::NotFound)?;
    webhook_from(&row)
}

impl Store {
    pub async fn create_webhook(
        &self,
        ws: &WorkspaceId,
        new: NewWebhook,
        now: Millis,
    ) -> Result<Webhook, Error> {
        let mut tx = self.db.begin().await?;
        tx.execute(
            "INSERT INTO webhooks (id, workspace_id, url, events, enabled, secret, failures,
                 created_at, updated_at, version)
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7, 1)",
            params![
                &new.id,
                ws,
                &new.url,
                events_text(&new.events),
                new.enabled,
                new.sealed_secret,
                now
            ],
        )
        .await?;
        let changes = Changes::new()
            .field("url", Json::Null, new.url.as_str())
            .field("events", Json::Null, new.events.clone())
            .field("enabled", Json::Null, new.enabled);
        let event = NewEvent::in_workspace("webhook.created", ws, "webhook", new.id.as_str())
            .with_changes(changes);
        record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(Webhook {
            id: new.id,
            workspace_id: ws.clone(),
            url: new.url,
            events: new.events,
            enabled: new.enabled,
            disabled_reason: None,
            created_at: now,
            updated_at: now,
            version: 1,
        })
    }

    pub async fn webhook(&self, ws: &WorkspaceId, id: &str) -> Result<Webhook, Error> {
        let row = self
            .db
            .fetch_optional(
                &format!("SELECT {COLS} FROM webhooks WHERE workspace_id = $1 AND id = $2"),
                params![ws, id],
            )
            .await?
            .ok_or(Error::NotFound)?;
        webhook_from(&row)
    }

    pub async fn list_webhooks(
        &self,
        ws: &WorkspaceId,
        page: &PageRequest,
    ) -> Result<Page<Webhook>, Error> {
        let list = NewestFirst {
            cols: COLS,
            from: "FROM webhooks WHERE workspace_id = $1",
            created_at: "created_at",
            id: "id",
            id_prefix: WebhookId::PREFIX,
        };
        page_newest_first(&self.db, &list, params![ws], page, |r| webhook_from(&r)).await
    }

    /// Applies a validated patch; enabling an endpoint again clears its
    /// failure count.
    pub async fn update_webhook(
        &self,
        ws: &WorkspaceId,
        id: &str,
        patch: &WebhookPatch,
        if_match: Option<i64>,
        now: Millis,
    ) -> Result<Webhook, Error> {
        let mut tx = self.db.begin().await?;
        let mut w = locked_webhook(&mut tx, ws, id).await?;
        check_version(if_match, w.version)?;
        let before = (w.url.clone(), w.events.clone(), w.enabled);
        if let Some(v) = &patch.url {
            w.url = v.clone();
        }
        if let Some(v) = &patch.events {
            w.events = v.clone();
        }
        if let Some(v) = patch.enabled {
            w.enabled = v;
        }
        if before == (w.url.clone(), w.events.clone(), w.enabled) {
            tx.commit().await?;
            return Ok(w);
        }
        let reenabled = w.enabled && !before.2;
        if reenabled {
            w.disabled_reason = None;
        }
        w.updated_at = now;
        w.version += 1;
        tx.execute(
            "UPDATE webhooks SET url = $2, events = $3, enabled = $4, updated_at = $5, version = $6,
                 failures = CASE WHEN $7 = 1 THEN 0 ELSE failures END,
                 failing_since = CASE WHEN $7 = 1 THEN NULL ELSE failing_since END,
                 disabled_reason = CASE WHEN $7 = 1 THEN NULL ELSE disabled_reason END
             WHERE id = $1",
            params![
                &w.id,
                &w.url,
                events_text(&w.events),
                w.enabled,
                now,
                w.version,
                reenabled
            ],
        )
        .await?;
        let changes = Changes::new()
            .field("url", before.0.as_str(), w.url.as_str())
            .field("events", before.1.clone(), w.events.clone())
            .field("enabled", before.2, w.enabled);
        let event = NewEvent::in_workspace("webhook.updated", ws, "webhook", w.id.as_str())
            .with_changes(changes);
        record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(w)
    }

    pub async fn delete_webhook(
        &self,
        ws: &WorkspaceId,
        id: &str,
        if_match: Option<i64>,
    ) -> Result<(), Error> {
        let mut tx = self.db.begin().await?;
        let w = locked_webhook(&mut tx, ws, id).await?;
        check_version(if_match, w.version)?;
        tx.execute("DELETE FROM webhooks WHERE id = $1", params![&w.id])
            .await?;
        let changes = Changes::new().field("url", w.url.as_str(), Json::Null);
        let event = NewEvent::in_workspace("webhook.deleted", ws, "webhook", w.id.as_str())
            .with_changes(changes);
        record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An endpoint's deliveries, newest first, with their attempts.
    pub async fn list_deliveries(
        &self,
        ws: &WorkspaceId,
        webhook: &str,
        page: &PageRequest,
    ) -> Result<Page<Delivery>, Error> {
        // The endpoint must be this workspace's: 404 otherwise.
        self.webhook(ws, webhook).await?;
        let list = NewestFirst {
            cols: DELIVERY_COLS,
            from: "FROM webhook_deliveries WHERE webhook_id = $1",
            created_at: "created_at",
            id: "id",
            id_prefix: "msg_",
        };
        page_newest_first(&self.db, &list, params![webhook], page, |r| {
            delivery_from(&r)
        })
        .await
    }

    /// Takes up to `limit` due deliveries of enabled endpoints for one
    /// attempt: each is leased for a minute (its next attempt time moves
    /// on), so no other replica sends it meanwhile; a sender that dies
    /// leaves it to be tried again when the lease ends.
    pub async fn take_due_deliveries(
        &self,
        now: Millis,
        limit: i64,
    ) -> Result<Vec<DueDelivery>, Error> {
        // Read first: an idle tick (or one where only disabled endpoints
        // wait) opens no write transaction.
        let any = self
            .db
            .fetch_optional(
                "SELECT 1 FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
                 WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND w.enabled = 1 LIMIT 1",
                params![now],
            )
            .await?;
        if any.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = self.db.begin().await?;
        // Past their 24 hours (e.g. waiting while the endpoint was
        // disabled): failed without another attempt.
        tx.execute(
            "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL
             WHERE status = 'pending' AND next_attempt_at <= $1 AND created_at < $2",
            params![now, now - RETRY_FOR],
        )
        .await?;
        let lock = match tx.backend() {
            super::db::Backend::Postgres => " FOR UPDATE OF d SKIP LOCKED",
            super::db::Backend::Sqlite => "",
        };
        let sql = format!(
            "SELECT d.id, d.webhook_id, w.url, w.secret, d.attempts, d.created_at, d.event_id
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
             WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND w.enabled = 1
             ORDER BY d.next_attempt_at, d.id LIMIT $2{lock}"
        );
        let rows = tx.fetch_all(&sql, params![now, limit]).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id = r.text(0)?;
            tx.execute(
                "UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE id = $1",
                params![&id, now + MINUTE],
            )
            .await?;
            let event = super::events::event_by_id(&mut tx, r.str(6)?).await?;
            out.push(DueDelivery {
                id,
                webhook_id: WebhookId::from_db(r.text(1)?),
                url: r.text(2)?,
                sealed_secret: r.bytes(3)?,
                attempts: r.int(4)?,
                created_at: r.int(5)?,
                event,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Records an attempt: a 2xx delivers it; otherwise it is tried again
    /// after the backoff, or fails once [`RETRY_FOR`] has passed since the
    /// event. The endpoint's run of failures disables it at the limit.
    pub async fn finish_delivery(
        &self,
        d: &DueDelivery,
        outcome: &AttemptOutcome,
    ) -> Result<(), Error> {
        let mut tx = self.db.begin().await?;
        // The endpoint row first, as deleting it (then its deliveries by
        // cascade) locks them: one order, no deadlock.
        let hook = tx
            .fetch_optional(
                &format!(
                    "SELECT enabled, failures, failing_since, workspace_id, version FROM webhooks WHERE id = $1{}",
                    tx.for_update()
                ),
                params![&d.webhook_id],
            )
            .await?;
        let Some(hook) = hook else {
            return Ok(()); // the endpoint was deleted meanwhile
        };
        let row = tx
            .fetch_optional(
                &format!(
                    "SELECT attempt_log, status, attempts FROM webhook_deliveries WHERE id = $1{}",
                    tx.for_update()
                ),
                params![&d.id],
            )
            .await?;
        // Still ours: pending, and no other sender counted an attempt since
        // this one was taken (its lease could have ended meanwhile).
        let Some(row) = row else {
            return Ok(());
        };
        if row.str(1)? != "pending" || row.int(2)? != d.attempts {
            return Ok(());
        }
        let mut log: Vec<Json> = serde_json::from_str(row.str(0)?).unwrap_or_default();
        log.push(serde_json::json!({
            "at": crate::domain::time::format(outcome.at),
            "status_code": outcome.status_code,
            "error": outcome.error,
            "duration_ms": outcome.duration_ms,
        }));
        let attempts = d.attempts + 1;
        let (status, next, delivered) = if outcome.succeeded() {
            ("succeeded", None, Some(outcome.at))
        } else if outcome.at + backoff(attempts) > d.created_at + RETRY_FOR {
            ("failed", None, None)
        } else {
            ("pending", Some(outcome.at + backoff(attempts)), None)
        };
        tx.execute(
            "UPDATE webhook_deliveries SET status = $2, attempts = $3, attempt_log = $4,
                 next_attempt_at = $5, delivered_at = $6 WHERE id = $1",
            params![
                &d.id,
                status,
                attempts,
                Json::Array(log).to_string(),
                next,
                delivered
            ],
        )
        .await?;
        let (enabled, failures, since) = (hook.bool(0)?, hook.int(1)?, hook.opt_int(2)?);
        if outcome.succeeded() {
            if failures != 0 {
                tx.execute(
                    "UPDATE webhooks SET failures = 0, failing_since = NULL WHERE id = $1",
                    params![&d.webhook_id],
                )
                .await?;
            }
        } else {
            let since = since.unwrap_or(outcome.at);
            let disable = enabled
                && failures + 1 >= DISABLE_AFTER_FAILURES
                && outcome.at - since >= DISABLE_AFTER;
            tx.execute(
                "UPDATE webhooks SET failures = failures + 1, failing_since = $2,
                     enabled = CASE WHEN $3 = 1 THEN 0 ELSE enabled END,
                     disabled_reason = CASE WHEN $3 = 1
                         THEN 'disabled after repeated failed deliveries' ELSE disabled_reason END,
                     version = CASE WHEN $3 = 1 THEN version + 1 ELSE version END
                 WHERE id = $1",
                params![&d.webhook_id, since, disable],
            )
            .await?;
            if disable {
                let ws = WorkspaceId::from_db(hook.text(3)?);
                let event = NewEvent::in_workspace(
                    "webhook.updated",
                    &ws,
                    "webhook",
                    d.webhook_id.as_str(),
                )
                .with_changes(Changes::new().field("enabled", true, false))
                .by_system();
                record(&mut tx, event).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
