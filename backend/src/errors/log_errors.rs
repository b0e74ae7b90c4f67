//! The task that turns stored error log lines into error events.
//!
//! ```text
//! log writer (after journal + index) --ExceptionLine, try_send--> [QUEUE]
//!     --> this task: default project, rate limit, event_from_log + prepare
//!         (blocking pool), record_event + notification (one writer job)
//! ```
//!
//! Which lines: every stored line at level error or above whose JSON
//! carries exception data ([`crate::logs::record::LogRecord::is_error_with_exception`]),
//! whichever way it came in (`POST /api/v1/logs`, JSON lines over TCP,
//! Elasticsearch `_bulk`, Loki, syslog with a JSON body). The events go to
//! the default project (the one named `default`, else the first), and
//! count against its `errors.events_per_minute` like SDK events.
//!
//! Off the hot path on purpose: the log writer only tests two fields and
//! `try_send`s, so ingestion never waits for error tracking. The price is
//! that this is at most once: a full queue, the rate limit, or a crash
//! before the writer job commits drops the event (the line itself is
//! stored), counted in `partout_errors_from_logs_dropped_total`.
//!
//! Shutdown: the queue's sender lives in the log writer, so the queue
//! ends when the writer exits; this task records what is left and ends,
//! before the store closes.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::from_logs::event_from_log;
use super::notify::outbox::Enqueued;
use super::prepare::{prepare, NewEvent};
use super::projects::{self, DEFAULT_PROJECT};
use super::record::{record_and_notify, Outcome};
use super::{ErrorRuntime, ErrorsConfig};
use crate::logs::ExceptionLine;
use crate::store::{unix_ms_now, Store, StoreError};
use crate::telemetry::{ReasonLabels, Telemetry};

/// Lines the queue holds before the log writer drops new ones.
pub const QUEUE_LINES: usize = 1024;
/// Lines recorded in one writer job, at most.
const BATCH_LINES: usize = 64;
/// The `protocol` label of the events this task records.
pub const PROTOCOL: &str = "log_errors";

/// What the task needs; clones of the app's handles.
pub struct LogErrors {
    pub store: Store,
    pub config: ErrorsConfig,
    pub runtime: ErrorRuntime,
    pub telemetry: Arc<Telemetry>,
}

/// The queue the log store forwards to, and its reader.
pub fn queue() -> (mpsc::Sender<ExceptionLine>, mpsc::Receiver<ExceptionLine>) {
    mpsc::channel(QUEUE_LINES)
}

/// Records lines until the queue ends.
pub async fn run(task: LogErrors, mut receiver: mpsc::Receiver<ExceptionLine>) {
    let mut batch = Vec::with_capacity(BATCH_LINES);
    while receiver.recv_many(&mut batch, BATCH_LINES).await > 0 {
        let lines = std::mem::take(&mut batch);
        let count = lines.len();
        if let Err(error) = record_lines(&task, lines).await {
            tracing::error!(%error, lines = count, "error events from log lines were not recorded");
            task.drop_lines("failed", count);
        }
    }
    tracing::debug!("errors from logs: queue closed");
}

impl LogErrors {
    fn drop_lines(&self, reason: &str, count: usize) {
        self.telemetry
            .errors_from_logs_dropped
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc_by(u64::try_from(count).unwrap_or(u64::MAX));
    }
}

/// One batch: project, limit, prepare, one writer job.
async fn record_lines(task: &LogErrors, lines: Vec<ExceptionLine>) -> Result<(), StoreError> {
    let Some(project_id) = task.store.read(default_project).await? else {
        task.drop_lines("no_project", lines.len());
        return Ok(());
    };
    let now_ms = unix_ms_now();
    let limited = task.runtime.limiter.take(
        project_id,
        lines.len(),
        task.config.events_per_minute,
        now_ms,
    );
    if limited.is_err() {
        let count = u64::try_from(lines.len()).unwrap_or(u64::MAX);
        task.telemetry.error_events_rate_limited.inc_by(count);
        task.drop_lines("rate_limited", lines.len());
        return Ok(());
    }
    let limits = task.config.normalize;
    let events = tokio::task::spawn_blocking(move || {
        lines
            .iter()
            .map(|line| prepare(event_from_log(line, &limits), now_ms, None, None))
            .collect::<std::io::Result<Vec<NewEvent>>>()
    })
    .await
    .map_err(|error| StoreError::Task(error.to_string()))?
    .map_err(|error| StoreError::Task(format!("cannot encode an event: {error}")))?;
    let keep = task.config.events_per_issue;
    let per_minute = task.config.notifications_per_minute;
    let counts = Arc::clone(&task.runtime.counts);
    let outcomes = task
        .store
        .write(move |conn| {
            let mut outcomes = Vec::with_capacity(events.len());
            for event in &events {
                let (recorded, notification) =
                    record_and_notify(conn, project_id, event, keep, per_minute, &counts)?;
                outcomes.push((recorded.outcome, notification));
            }
            Ok(outcomes)
        })
        .await?;
    count(task, &outcomes);
    Ok(())
}

/// The project error log lines go to: `default`, else the first.
fn default_project(conn: &rusqlite::Connection) -> Result<Option<i64>, StoreError> {
    let projects = projects::list(conn)?;
    Ok(projects
        .iter()
        .find(|project| project.name == DEFAULT_PROJECT)
        .or(projects.first())
        .map(|project| project.id))
}

fn count(task: &LogErrors, outcomes: &[(Outcome, Option<Enqueued>)]) {
    let telemetry = &task.telemetry;
    for (outcome, notification) in outcomes {
        if let Some(Enqueued::Queued { .. }) = notification {
            task.runtime.outbox_wake.notify_one();
        }
        let change = match outcome {
            Outcome::Duplicate => continue,
            Outcome::Counted => None,
            Outcome::NewIssue => Some("new"),
            Outcome::Regressed => Some("regressed"),
        };
        telemetry.count_recorded_event(PROTOCOL, change);
    }
}

#[cfg(test)]
mod tests;
