//! The durable outbox: `error_notifications` (one row per issue state
//! change) and `error_deliveries` (one row per notification and webhook).
//!
//! [`enqueue`] runs in the writer job that creates or regresses the
//! issue, so the notification commits with the change or not at all: a
//! crash cannot lose it, and the unique (issue, change, time) key means a
//! change is recorded once. The sender reads [`due`] deliveries, POSTs
//! them, and writes each result with [`record_result`]; a delivery is
//! marked sent only after the webhook answered 2xx, so a crash between the
//! two sends that one again after the restart (at least once, never lost).
//!
//! Rate limit: at most `per_minute` notifications of a project are sent
//! in any 60 s (counted from the stored rows, so it holds across
//! restarts); the rest are recorded as suppressed, without deliveries.

use rusqlite::{Connection, OptionalExtension};

use super::message::{Change, Context};
use crate::errors::counts::IssueCounts;
use crate::errors::prepare::NewEvent;
use crate::store::StoreError;

/// The window of the per-project notification limit, ms.
pub const RATE_WINDOW_MS: i64 = 60_000;
/// Attempts per delivery before it is given up.
pub const MAX_ATTEMPTS: u32 = 8;
/// Wait after the first failed attempt, ms; doubled after each failure.
const FIRST_RETRY_MS: i64 = 1_000;
/// Longest wait between two attempts, ms.
const MAX_RETRY_MS: i64 = 5 * 60_000;
/// Longest error text kept with a delivery, characters.
const MAX_ERROR_CHARS: usize = 500;

/// What [`enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Recorded with a delivery per webhook.
    Queued { deliveries: usize },
    /// Recorded, but over the project's rate limit: nothing is sent.
    Suppressed,
    /// The project has no webhooks: nothing to record.
    NoWebhooks,
    /// This change was recorded before.
    Duplicate,
}

/// Records the notification of `change` to `issue_id`, made by `event`,
/// inside the writer job that made the change. `per_minute` is the
/// project's notification limit (0: no limit); `counts` are written
/// first when a notification is made, for its issue's count.
pub fn enqueue(
    conn: &Connection,
    project_id: i64,
    issue_id: i64,
    change: Change,
    event: &NewEvent,
    per_minute: u32,
    counts: &IssueCounts,
) -> Result<Enqueued, StoreError> {
    let webhooks: Vec<i64> = {
        let mut stmt =
            conn.prepare_cached("SELECT id FROM error_webhooks WHERE project_id = ?1 ORDER BY id")?;
        let rows = stmt.query_map([project_id], |row| row.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    if webhooks.is_empty() {
        return Ok(Enqueued::NoWebhooks);
    }
    let now_ms = event.received_at_ms;
    let recent: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM error_notifications
             WHERE project_id = ?1 AND changed_at_ms > ?2 AND suppressed = 0",
        )?
        .query_row(
            rusqlite::params![project_id, now_ms.saturating_sub(RATE_WINDOW_MS)],
            |row| row.get(0),
        )?;
    let suppressed = per_minute > 0 && recent >= i64::from(per_minute);
    // The snapshot tells the issue's count and last seen, which its row
    // holds only once the events held in memory are written.
    counts.write(conn)?;
    let Some(context) = context(conn, project_id, issue_id, change, event)? else {
        // The issue was written by this same job; not finding it would be
        // a bug, and a missing notification is better than a failed event.
        tracing::error!(
            issue = issue_id,
            "notification for an issue that is not stored"
        );
        return Ok(Enqueued::Duplicate);
    };
    let context = serde_json::to_string(&context)
        .map_err(|error| StoreError::Task(format!("cannot encode a notification: {error}")))?;
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO error_notifications
                 (project_id, issue_id, change, changed_at_ms, suppressed, context)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(rusqlite::params![
            project_id,
            issue_id,
            change.as_str(),
            now_ms,
            suppressed,
            context
        ])?;
    if inserted == 0 {
        return Ok(Enqueued::Duplicate);
    }
    if suppressed {
        return Ok(Enqueued::Suppressed);
    }
    let notification_id = conn.last_insert_rowid();
    let mut insert = conn.prepare_cached(
        "INSERT INTO error_deliveries (notification_id, webhook_id, state, attempts, next_attempt_ms)
         VALUES (?1, ?2, 'pending', 0, ?3)",
    )?;
    for webhook_id in &webhooks {
        insert.execute(rusqlite::params![notification_id, webhook_id, now_ms])?;
    }
    Ok(Enqueued::Queued {
        deliveries: webhooks.len(),
    })
}

/// The notification's snapshot, from the issue as this job left it.
fn context(
    conn: &Connection,
    project_id: i64,
    issue_id: i64,
    change: Change,
    event: &NewEvent,
) -> Result<Option<Context>, StoreError> {
    let issue = conn
        .prepare_cached(
            "SELECT i.title, i.culprit, i.level, i.event_count, i.first_seen_ms, i.last_seen_ms, p.name
             FROM error_issues i JOIN error_projects p ON p.id = i.project_id
             WHERE i.id = ?1 AND i.project_id = ?2",
        )?
        .query_row([issue_id, project_id], |row| {
            Ok(Context {
                change,
                project_id,
                project: row.get(6)?,
                issue_id,
                title: row.get(0)?,
                culprit: row.get(1)?,
                first_in_app_frame: event.first_in_app_frame.clone(),
                level: row.get(2)?,
                release: event.release.clone(),
                environment: event.environment.clone(),
                count: row.get(3)?,
                first_seen_ms: row.get(4)?,
                last_seen_ms: row.get(5)?,
            })
        })
        .optional()?;
    Ok(issue)
}

/// One delivery to make: where, how, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub notification_id: i64,
    pub webhook_id: i64,
    pub url: String,
    pub kind: partout_model::errors::WebhookKind,
    /// Attempts made before this one.
    pub attempts: u32,
    pub context: Context,
}

/// Up to `limit` pending deliveries whose time has come, oldest first.
/// A row whose context cannot be read (it was written by this code, so
/// never) is skipped and logged.
pub fn due(conn: &Connection, now_ms: i64, limit: usize) -> Result<Vec<Due>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.notification_id, d.webhook_id, w.url, w.kind, d.attempts, n.context
         FROM error_deliveries d
         JOIN error_webhooks w ON w.id = d.webhook_id
         JOIN error_notifications n ON n.id = d.notification_id
         WHERE d.state = 'pending' AND d.next_attempt_ms <= ?1
         ORDER BY d.next_attempt_ms, d.notification_id
         LIMIT ?2",
    )?;
    let rows = stmt.query_map(
        rusqlite::params![now_ms, i64::try_from(limit).unwrap_or(i64::MAX)],
        |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, String>(5)?,
            ))
        },
    )?;
    let mut due = Vec::new();
    for row in rows {
        let (notification_id, webhook_id, url, kind, attempts, context) = row?;
        match serde_json::from_str(&context) {
            Ok(context) => due.push(Due {
                notification_id,
                webhook_id,
                url,
                kind: super::webhooks::parse_kind(&kind),
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                context,
            }),
            Err(error) => {
                tracing::error!(notification = notification_id, %error, "unreadable notification")
            }
        }
    }
    Ok(due)
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The webhook answered 2xx.
    Delivered,
    /// Worth trying again (no answer, 5xx, 408, 429).
    Failed(String),
    /// Trying again cannot help (other 4xx: wrong URL, revoked hook).
    Refused(String),
}

/// What became of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Sent,
    RetryAt(i64),
    GivenUp,
}

/// The retry policy: after failed attempt number `attempts` (1-based),
/// wait 1 s, 2 s, 4 s, ... up to 5 min; after [`MAX_ATTEMPTS`] give up.
pub fn next_after(attempt: &Attempt, attempts: u32, now_ms: i64) -> Next {
    match attempt {
        Attempt::Delivered => Next::Sent,
        Attempt::Refused(_) => Next::GivenUp,
        Attempt::Failed(_) if attempts >= MAX_ATTEMPTS => Next::GivenUp,
        Attempt::Failed(_) => Next::RetryAt(now_ms.saturating_add(backoff_ms(attempts))),
    }
}

/// The wait after failed attempt number `attempts` (1-based), ms.
pub fn backoff_ms(attempts: u32) -> i64 {
    let doublings = attempts.saturating_sub(1).min(30);
    FIRST_RETRY_MS
        .saturating_mul(1i64 << doublings)
        .min(MAX_RETRY_MS)
}

/// Writes the result of an attempt on a delivery; returns what became of
/// it.
pub fn record_result(
    conn: &Connection,
    delivery: &Due,
    attempt: &Attempt,
    now_ms: i64,
) -> Result<Next, StoreError> {
    let attempts = delivery.attempts.saturating_add(1);
    let next = next_after(attempt, attempts, now_ms);
    let error = match attempt {
        Attempt::Delivered => None,
        Attempt::Failed(text) | Attempt::Refused(text) => {
            Some(text.chars().take(MAX_ERROR_CHARS).collect::<String>())
        }
    };
    let (state, next_attempt_ms) = match next {
        Next::Sent => ("sent", now_ms),
        Next::RetryAt(at) => ("pending", at),
        Next::GivenUp => ("failed", now_ms),
    };
    conn.prepare_cached(
        "UPDATE error_deliveries SET state = ?3, attempts = ?4, next_attempt_ms = ?5, last_error = ?6
         WHERE notification_id = ?1 AND webhook_id = ?2",
    )?
    .execute(rusqlite::params![
        delivery.notification_id,
        delivery.webhook_id,
        state,
        attempts,
        next_attempt_ms,
        error
    ])?;
    Ok(next)
}

#[cfg(test)]
mod tests;
