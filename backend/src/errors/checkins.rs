//! Cron monitors and their check-ins: the write path (inside a writer
//! job) and the reads of `http::monitors_api`.
//!
//! A monitor is created by its project's first check-in with its slug;
//! a `monitor_config` sent with any check-in replaces the stored one. A
//! check-in is one run of the job, one row:
//! - a new `check_in_id` (or none) adds a row;
//! - a final status (`ok`, `error`) for a row still `in_progress` finishes
//!   it: status, finish time, and the duration the SDK measured, else the
//!   time since the run started;
//! - anything else for a known id (a retry, a late `in_progress` after
//!   its end, a second end) changes nothing: a finished run stays
//!   finished.
//!
//! Only the newest [`CheckInLimits::check_ins_per_monitor`] rows are kept
//! per monitor, and a project has at most
//! [`CheckInLimits::monitors_per_project`] monitors; check-ins for new
//! slugs past it are dropped and counted.
//!
//! What outage detection (later work) needs is kept: each monitor's
//! schedule, margin, maximum runtime and time zone, its last status and
//! check-in time; each run's start and finish times (`in_progress` runs
//! have a partial index on their start, for finding timed-out ones).

use partout_model::errors::{
    CheckIn as CheckInBody, CheckInCounts, Monitor, MonitorConfig as ConfigBody, MonitorSchedule,
};
use partout_protocols::sentry::check_in::{CheckIn, CheckInStatus, MonitorConfig, Schedule};
use rusqlite::{Connection, OptionalExtension, Row};

use super::prepare::trusted_time_ms;
use crate::store::StoreError;

/// Default of [`CheckInLimits::check_ins_per_monitor`].
pub const DEFAULT_CHECK_INS_PER_MONITOR: usize = 1000;
/// Default of [`CheckInLimits::monitors_per_project`].
pub const DEFAULT_MONITORS_PER_PROJECT: usize = 1000;
/// Check-ins per page when no limit is asked for.
pub const DEFAULT_PAGE: usize = 50;
/// Most check-ins per page.
pub const MAX_PAGE: usize = 500;
/// The window of a monitor's recent counts, ms.
pub const RECENT_WINDOW_MS: i64 = 86_400_000;

/// A check-in ready for the writer: parsed, with the envelope's times.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCheckIn {
    pub check_in: CheckIn,
    /// The envelope header's `sent_at`, to correct a client clock.
    pub sent_at_micros: Option<i64>,
}

/// What one check-in did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckInOutcome {
    /// A new run was recorded.
    Created,
    /// An `in_progress` run was finished.
    Finished,
    /// Nothing changed: a retry, or news of a run already finished.
    Unchanged,
    /// Its slug would be a new monitor past the project's limit.
    TooManyMonitors,
}

/// The bounds [`record_check_in`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckInLimits {
    pub check_ins_per_monitor: usize,
    pub monitors_per_project: usize,
}

impl Default for CheckInLimits {
    fn default() -> Self {
        CheckInLimits {
            check_ins_per_monitor: DEFAULT_CHECK_INS_PER_MONITOR,
            monitors_per_project: DEFAULT_MONITORS_PER_PROJECT,
        }
    }
}

/// Records one check-in of `project_id` that arrived at `received_at_ms`.
pub fn record_check_in(
    conn: &Connection,
    project_id: i64,
    new: &NewCheckIn,
    received_at_ms: i64,
    limits: CheckInLimits,
) -> Result<CheckInOutcome, StoreError> {
    let check_in = &new.check_in;
    let at_ms = trusted_time_ms(
        check_in.timestamp_micros,
        new.sent_at_micros,
        received_at_ms,
    );
    let Some(monitor_id) = monitor_id(conn, project_id, &check_in.monitor_slug, at_ms, limits)?
    else {
        return Ok(CheckInOutcome::TooManyMonitors);
    };
    if let Some(config) = &check_in.monitor_config {
        store_config(conn, monitor_id, config, at_ms)?;
    }
    let status = check_in.status;
    let existing: Option<(i64, String, i64)> = match &check_in.check_in_id {
        Some(id) => conn
            .prepare_cached(
                "SELECT id, status, started_at_ms FROM error_check_ins
                 WHERE monitor_id = ?1 AND check_in_id = ?2",
            )?
            .query_row(rusqlite::params![monitor_id, id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()?,
        None => None,
    };
    let outcome = match existing {
        Some((row_id, stored, started_at_ms))
            if stored == CheckInStatus::InProgress.as_str() && status.is_final() =>
        {
            let duration_ms = check_in
                .duration_ms
                .unwrap_or_else(|| at_ms.saturating_sub(started_at_ms).max(0) as f64);
            conn.prepare_cached(
                "UPDATE error_check_ins SET status = ?2, duration_ms = ?3, finished_at_ms = ?4,
                     received_at_ms = ?5, release = COALESCE(release, ?6),
                     environment = COALESCE(environment, ?7), trace_id = COALESCE(trace_id, ?8)
                 WHERE id = ?1",
            )?
            .execute(rusqlite::params![
                row_id,
                status.as_str(),
                duration_ms,
                at_ms.max(started_at_ms),
                received_at_ms,
                check_in.release,
                check_in.environment,
                check_in.trace_id,
            ])?;
            CheckInOutcome::Finished
        }
        Some(_) => CheckInOutcome::Unchanged,
        None => {
            insert(conn, monitor_id, check_in, at_ms, received_at_ms)?;
            trim(conn, monitor_id, limits.check_ins_per_monitor)?;
            CheckInOutcome::Created
        }
    };
    if outcome != CheckInOutcome::Unchanged {
        // A check-in that arrives late does not hide a newer one.
        conn.prepare_cached(
            "UPDATE error_monitors SET last_status = ?2, last_check_in_ms = ?3
             WHERE id = ?1 AND (last_check_in_ms IS NULL OR last_check_in_ms <= ?3)",
        )?
        .execute(rusqlite::params![monitor_id, status.as_str(), at_ms])?;
    }
    Ok(outcome)
}

/// The monitor's id, created if it is new and the project has room.
fn monitor_id(
    conn: &Connection,
    project_id: i64,
    slug: &str,
    at_ms: i64,
    limits: CheckInLimits,
) -> Result<Option<i64>, StoreError> {
    let found: Option<i64> = conn
        .prepare_cached("SELECT id FROM error_monitors WHERE project_id = ?1 AND slug = ?2")?
        .query_row(rusqlite::params![project_id, slug], |row| row.get(0))
        .optional()?;
    if found.is_some() {
        return Ok(found);
    }
    let count: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM error_monitors WHERE project_id = ?1")?
        .query_row([project_id], |row| row.get(0))?;
    if usize::try_from(count).unwrap_or(usize::MAX) >= limits.monitors_per_project {
        return Ok(None);
    }
    conn.prepare_cached(
        "INSERT INTO error_monitors (project_id, slug, created_at_ms) VALUES (?1, ?2, ?3)",
    )?
    .execute(rusqlite::params![project_id, slug, at_ms])?;
    Ok(Some(conn.last_insert_rowid()))
}

fn store_config(
    conn: &Connection,
    monitor_id: i64,
    config: &MonitorConfig,
    at_ms: i64,
) -> Result<(), StoreError> {
    let (kind, value, unit) = match &config.schedule {
        Schedule::Crontab(text) => ("crontab", text.clone(), None),
        Schedule::Interval { value, unit } => ("interval", value.to_string(), Some(unit.as_str())),
    };
    conn.prepare_cached(
        "UPDATE error_monitors SET schedule_type = ?2, schedule_value = ?3, schedule_unit = ?4,
             checkin_margin_min = ?5, max_runtime_min = ?6, timezone = ?7,
             failure_issue_threshold = ?8, recovery_threshold = ?9, config_updated_at_ms = ?10
         WHERE id = ?1",
    )?
    .execute(rusqlite::params![
        monitor_id,
        kind,
        value,
        unit,
        config.checkin_margin_minutes,
        config.max_runtime_minutes,
        config.timezone,
        config.failure_issue_threshold,
        config.recovery_threshold,
        at_ms,
    ])?;
    Ok(())
}

fn insert(
    conn: &Connection,
    monitor_id: i64,
    check_in: &CheckIn,
    at_ms: i64,
    received_at_ms: i64,
) -> Result<(), StoreError> {
    // A run reported only at its end started `duration` before it.
    let (started_at_ms, finished_at_ms) = if check_in.status.is_final() {
        let duration = check_in.duration_ms.map_or(0, |ms| ms.round() as i64);
        (at_ms.saturating_sub(duration), Some(at_ms))
    } else {
        (at_ms, None)
    };
    conn.prepare_cached(
        "INSERT INTO error_check_ins (monitor_id, check_in_id, status, duration_ms, release,
             environment, trace_id, started_at_ms, finished_at_ms, received_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(rusqlite::params![
        monitor_id,
        check_in.check_in_id,
        check_in.status.as_str(),
        check_in.duration_ms.filter(|_| check_in.status.is_final()),
        check_in.release,
        check_in.environment,
        check_in.trace_id,
        started_at_ms,
        finished_at_ms,
        received_at_ms,
    ])?;
    Ok(())
}

/// Deletes the monitor's check-ins past the newest `keep` (by arrival).
fn trim(conn: &Connection, monitor_id: i64, keep: usize) -> Result<(), StoreError> {
    conn.prepare_cached(
        "DELETE FROM error_check_ins WHERE monitor_id = ?1 AND id <= (
             SELECT id FROM error_check_ins WHERE monitor_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
    )?
    .execute(rusqlite::params![
        monitor_id,
        i64::try_from(keep.max(1)).unwrap_or(i64::MAX)
    ])?;
    Ok(())
}

/// The project's monitors by slug, with their check-ins since `since_ms`
/// counted by status.
pub fn list_monitors(
    conn: &Connection,
    project_id: i64,
    since_ms: i64,
) -> Result<Vec<Monitor>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, slug, created_at_ms, last_status, last_check_in_ms, schedule_type,
             schedule_value, schedule_unit, checkin_margin_min, max_runtime_min, timezone,
             failure_issue_threshold, recovery_threshold, config_updated_at_ms
         FROM error_monitors WHERE project_id = ?1 ORDER BY slug",
    )?;
    let rows = stmt.query_map([project_id], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            Monitor {
                project_id,
                slug: row.get(1)?,
                created_at_ms: row.get(2)?,
                last_status: row.get(3)?,
                last_check_in_ms: row.get(4)?,
                config: config_body(row)?,
                recent: CheckInCounts {
                    since_ms,
                    ..CheckInCounts::default()
                },
            },
        ))
    })?;
    let mut monitors: Vec<(i64, Monitor)> = rows.collect::<Result<_, _>>()?;
    let mut counts = conn.prepare_cached(
        "SELECT c.monitor_id, c.status, COUNT(*) FROM error_check_ins c
         JOIN error_monitors m ON m.id = c.monitor_id
         WHERE m.project_id = ?1 AND c.started_at_ms >= ?2
         GROUP BY c.monitor_id, c.status",
    )?;
    let counted = counts.query_map(rusqlite::params![project_id, since_ms], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, i64>(2)?,
        ))
    })?;
    for row in counted {
        let (monitor_id, status, count) = row?;
        let Some((_, monitor)) = monitors.iter_mut().find(|(id, _)| *id == monitor_id) else {
            continue;
        };
        let count = u64::try_from(count).unwrap_or(0);
        match CheckInStatus::parse(&status) {
            Some(CheckInStatus::InProgress) => monitor.recent.in_progress = count,
            Some(CheckInStatus::Ok) => monitor.recent.ok = count,
            Some(CheckInStatus::Error) => monitor.recent.error = count,
            None => {}
        }
    }
    Ok(monitors.into_iter().map(|(_, monitor)| monitor).collect())
}

/// The stored config of a monitor row (columns 5 to 13), if it has one.
fn config_body(row: &Row<'_>) -> rusqlite::Result<Option<ConfigBody>> {
    let kind: Option<String> = row.get(5)?;
    let value: Option<String> = row.get(6)?;
    let unit: Option<String> = row.get(7)?;
    let schedule = match (kind.as_deref(), value) {
        (Some("crontab"), Some(value)) => MonitorSchedule::Crontab { value },
        (Some("interval"), Some(value)) => MonitorSchedule::Interval {
            value: value.parse().unwrap_or(0),
            unit: unit.unwrap_or_default(),
        },
        _ => return Ok(None),
    };
    Ok(Some(ConfigBody {
        schedule,
        checkin_margin_minutes: row.get(8)?,
        max_runtime_minutes: row.get(9)?,
        timezone: row.get(10)?,
        failure_issue_threshold: row.get(11)?,
        recovery_threshold: row.get(12)?,
        updated_at_ms: row.get::<_, Option<i64>>(13)?.unwrap_or(0),
    }))
}

/// A page of check-ins and the `before` of the next one.
pub type CheckInPage = (Vec<CheckInBody>, Option<i64>);

/// A page of a monitor's check-ins, newest first, older than the row id
/// `before`; `None` when the project has no monitor of that slug.
pub fn check_in_page(
    conn: &Connection,
    project_id: i64,
    slug: &str,
    before: Option<i64>,
    limit: usize,
) -> Result<Option<CheckInPage>, StoreError> {
    let monitor: Option<i64> = conn
        .prepare_cached("SELECT id FROM error_monitors WHERE project_id = ?1 AND slug = ?2")?
        .query_row(rusqlite::params![project_id, slug], |row| row.get(0))
        .optional()?;
    let Some(monitor_id) = monitor else {
        return Ok(None);
    };
    let limit = limit.clamp(1, MAX_PAGE);
    let mut stmt = conn.prepare_cached(
        "SELECT id, check_in_id, status, duration_ms, release, environment, trace_id,
             started_at_ms, finished_at_ms, received_at_ms
         FROM error_check_ins WHERE monitor_id = ?1 AND id < ?2
         ORDER BY id DESC LIMIT ?3",
    )?;
    let rows = stmt.query_map(
        rusqlite::params![
            monitor_id,
            before.unwrap_or(i64::MAX),
            i64::try_from(limit + 1).unwrap_or(i64::MAX)
        ],
        |row| {
            Ok(CheckInBody {
                id: row.get(0)?,
                check_in_id: row.get(1)?,
                status: row.get(2)?,
                duration_ms: row.get(3)?,
                release: row.get(4)?,
                environment: row.get(5)?,
                trace_id: row.get(6)?,
                started_at_ms: row.get(7)?,
                finished_at_ms: row.get(8)?,
                received_at_ms: row.get(9)?,
            })
        },
    )?;
    let mut check_ins: Vec<CheckInBody> = rows.collect::<Result<_, _>>()?;
    let next_before = if check_ins.len() > limit {
        check_ins.truncate(limit);
        check_ins.last().map(|check_in| check_in.id)
    } else {
        None
    };
    Ok(Some((check_ins, next_before)))
}

#[cfg(test)]
mod tests;
