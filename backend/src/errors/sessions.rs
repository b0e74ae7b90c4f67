//! Release health: sessions counted per project, release, environment and
//! the hour they started, in `error_session_hours`.
//!
//! A session is in exactly one outcome: healthy (still running, no
//! errors), errored (had errors, neither crashed nor abnormal, running or
//! not), exited (ended normally, no errors), crashed or abnormal. An
//! hour row counts the sessions started in it (`started`) and, of those,
//! each outcome but healthy; the crash-free rate is
//! `1 - crashed / started`.
//!
//! Individual updates (`session` items) are counted through a state per
//! session (`error_session_states`, by project and `sid`), because SDKs
//! send a session several times and the Python SDK marks every update
//! `init`: [`apply`] moves a session from one outcome to another, so a
//! repeated or retried update counts nothing, and a session counts as
//! started the first time its `sid` is seen, whether or not that update
//! said `init` (its first may have been lost; counting it keeps
//! `crashed <= started`). The rules are monotone (errors are never
//! forgotten, an ended session never changes), so updates may arrive in
//! any order and `seq` is not needed. Pre-aggregated counts (`sessions`
//! items, request-mode sessions) are added as sent.
//!
//! Time: `started` is corrected for the client's clock drift like event
//! times ([`super::prepare`]); one more than an hour ahead is taken as
//! the time received. An update or bucket of a session that started more
//! than [`MAX_SESSION_AGE_MS`] ago and is not known is dropped (Sentry
//! drops them too), and states are deleted once their session started
//! [`STATE_KEEP_MS`] ago, so a pruned session can never be counted again.
//!
//! Bounds: at most [`MAX_ROWS_PER_HOUR`] release and environment pairs
//! per project and hour, later ones under the release [`OTHER_VALUE`];
//! distinct users are kept as digests of the sessions' `did` per release,
//! environment and UTC day, at most [`MAX_USERS_PER_DAY`] each.

use std::collections::{BTreeMap, BTreeSet};

use partout_model::errors::ReleaseHealth;
use partout_protocols::sentry::session::{SessionAggregates, SessionStatus, SessionUpdate};
use rusqlite::{Connection, OptionalExtension};

use super::counts::OTHER_VALUE;
use super::prepare::{digest, drift_corrected_ms};
use crate::store::StoreError;

/// Sessions that started longer ago than this are not counted, ms.
pub const MAX_SESSION_AGE_MS: i64 = 5 * DAY_MS;
/// States are kept until their session started this long ago, ms; more
/// than [`MAX_SESSION_AGE_MS`], so no update can outlive its state.
pub const STATE_KEEP_MS: i64 = 6 * DAY_MS;
/// Release and environment pairs per project and hour.
pub const MAX_ROWS_PER_HOUR: i64 = 1000;
/// Distinct users kept per release, environment and day.
pub const MAX_USERS_PER_DAY: i64 = 10_000;
/// Times further ahead than this are taken as the time received, ms.
const MAX_FUTURE_MS: i64 = 3_600_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// Where a session stands for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Running, no errors: counted as started only.
    Healthy,
    Errored,
    Exited,
    Crashed,
    Abnormal,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Healthy => "healthy",
            Outcome::Errored => "errored",
            Outcome::Exited => "exited",
            Outcome::Crashed => "crashed",
            Outcome::Abnormal => "abnormal",
        }
    }

    fn parse(text: &str) -> Option<Outcome> {
        [
            Outcome::Healthy,
            Outcome::Errored,
            Outcome::Exited,
            Outcome::Crashed,
            Outcome::Abnormal,
        ]
        .into_iter()
        .find(|outcome| outcome.as_str() == text)
    }
}

/// What is known of one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionState {
    pub outcome: Outcome,
    /// An ended session takes no more updates.
    pub ended: bool,
}

/// Changes to an hour row's counts (negative when a session moves out of
/// an outcome).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionCounts {
    pub started: i64,
    pub exited: i64,
    pub errored: i64,
    pub crashed: i64,
    pub abnormal: i64,
}

impl SessionCounts {
    fn count(&mut self, outcome: Outcome, by: i64) {
        let field = match outcome {
            Outcome::Healthy => return,
            Outcome::Errored => &mut self.errored,
            Outcome::Exited => &mut self.exited,
            Outcome::Crashed => &mut self.crashed,
            Outcome::Abnormal => &mut self.abnormal,
        };
        *field = field.saturating_add(by);
    }

    fn add(&mut self, other: &SessionCounts) {
        self.started = self.started.saturating_add(other.started);
        self.exited = self.exited.saturating_add(other.exited);
        self.errored = self.errored.saturating_add(other.errored);
        self.crashed = self.crashed.saturating_add(other.crashed);
        self.abnormal = self.abnormal.saturating_add(other.abnormal);
    }
}

/// What an update does to a session known as `previous` (`None`: never
/// seen): its new state and the change to its hour's counts, or `None`
/// when it changes nothing (a repeat, or an update after the end). Pure.
pub fn apply(
    previous: Option<SessionState>,
    status: SessionStatus,
    has_errors: bool,
) -> Option<(SessionState, SessionCounts)> {
    if previous.is_some_and(|state| state.ended) {
        return None;
    }
    let errored = has_errors || previous.is_some_and(|state| state.outcome == Outcome::Errored);
    let outcome = match status {
        SessionStatus::Crashed => Outcome::Crashed,
        SessionStatus::Abnormal => Outcome::Abnormal,
        _ if errored => Outcome::Errored,
        SessionStatus::Exited => Outcome::Exited,
        SessionStatus::Ok | SessionStatus::Errored => Outcome::Healthy,
    };
    let next = SessionState {
        outcome,
        ended: status.is_terminal(),
    };
    if previous == Some(next) {
        return None;
    }
    let mut counts = SessionCounts::default();
    match previous {
        None => counts.started = 1,
        Some(state) => counts.count(state.outcome, -1),
    }
    counts.count(outcome, 1);
    Some((next, counts))
}

/// One update ready for the writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedUpdate {
    pub sid: String,
    /// After the time policy, Unix ms.
    pub started_ms: i64,
    pub release: String,
    pub environment: String,
    pub status: SessionStatus,
    pub has_errors: bool,
    pub user_digest: Option<i64>,
}

/// An hour row of `error_session_hours`, but the project.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HourKey {
    pub hour_ms: i64,
    pub release: String,
    pub environment: String,
}

/// The sessions of one body, ready for the writer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreparedSessions {
    pub updates: Vec<PreparedUpdate>,
    /// Aggregated counts, summed per hour row.
    pub buckets: BTreeMap<HourKey, SessionCounts>,
    /// Users of the aggregates: (hour row, user digest).
    pub bucket_users: BTreeSet<(HourKey, i64)>,
    /// Buckets dropped for being too old.
    pub too_old: u64,
    pub received_at_ms: i64,
}

impl PreparedSessions {
    pub fn is_empty(&self) -> bool {
        self.updates.is_empty() && self.buckets.is_empty() && self.too_old == 0
    }
}

/// A session's start after the time policy: drift-corrected, and the
/// time received when more than [`MAX_FUTURE_MS`] ahead. Too old or not
/// is decided apart.
fn started_ms(started_micros: i64, sent_at_micros: Option<i64>, received_at_ms: i64) -> i64 {
    let ms = drift_corrected_ms(started_micros, sent_at_micros, received_at_ms);
    if ms > received_at_ms.saturating_add(MAX_FUTURE_MS) {
        received_at_ms
    } else {
        ms
    }
}

/// Whether a session that started at `started_ms` is too old to count,
/// unless it is known.
fn too_old(started_ms: i64, received_at_ms: i64) -> bool {
    started_ms < received_at_ms.saturating_sub(MAX_SESSION_AGE_MS)
}

/// Applies the time policy to a body's sessions and sums its aggregates.
/// Pure. Updates are kept even when too old: only the writer knows
/// whether their session is known.
pub fn prepare(
    updates: &[SessionUpdate],
    aggregates: &[SessionAggregates],
    sent_at_micros: Option<i64>,
    received_at_ms: i64,
) -> PreparedSessions {
    let mut prepared = PreparedSessions {
        received_at_ms,
        ..PreparedSessions::default()
    };
    for update in updates {
        prepared.updates.push(PreparedUpdate {
            sid: update.sid.clone(),
            started_ms: started_ms(update.started_micros, sent_at_micros, received_at_ms),
            release: update.release.clone(),
            environment: update.environment.clone().unwrap_or_default(),
            status: update.status,
            has_errors: update.has_errors(),
            user_digest: update.did.as_deref().map(digest),
        });
    }
    for aggregate in aggregates {
        for bucket in &aggregate.buckets {
            let started = started_ms(bucket.started_micros, sent_at_micros, received_at_ms);
            if too_old(started, received_at_ms) {
                prepared.too_old += 1;
                continue;
            }
            let key = HourKey {
                hour_ms: started - started.rem_euclid(HOUR_MS),
                release: aggregate.release.clone(),
                environment: aggregate.environment.clone().unwrap_or_default(),
            };
            let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            prepared
                .buckets
                .entry(key.clone())
                .or_default()
                .add(&SessionCounts {
                    started: count(bucket.total()),
                    exited: count(bucket.exited),
                    errored: count(bucket.errored),
                    crashed: count(bucket.crashed),
                    abnormal: count(bucket.abnormal),
                });
            if let Some(did) = &bucket.did {
                prepared.bucket_users.insert((key, digest(did)));
            }
        }
    }
    prepared
}

/// Counts a body's sessions for `project_id`, in a writer job; returns
/// how many updates and buckets were dropped for being too old.
pub fn record(
    conn: &Connection,
    project_id: i64,
    prepared: &PreparedSessions,
) -> Result<u64, StoreError> {
    let received = prepared.received_at_ms;
    conn.prepare_cached("DELETE FROM error_session_states WHERE started_ms < ?1")?
        .execute([received.saturating_sub(STATE_KEEP_MS)])?;
    let mut too_old = prepared.too_old;
    for update in &prepared.updates {
        if !record_update(conn, project_id, update, received)? {
            too_old += 1;
        }
    }
    for (key, counts) in &prepared.buckets {
        let release = row_release(conn, project_id, key)?;
        let key = HourKey {
            release,
            ..key.clone()
        };
        add_counts(conn, project_id, &key, counts)?;
    }
    for (key, user) in &prepared.bucket_users {
        count_user(conn, project_id, key, *user)?;
    }
    Ok(too_old)
}

/// Counts one update; false when it was dropped for being too old.
fn record_update(
    conn: &Connection,
    project_id: i64,
    update: &PreparedUpdate,
    received_at_ms: i64,
) -> Result<bool, StoreError> {
    let stored: Option<(i64, String, String, String, bool)> = conn
        .prepare_cached(
            "SELECT started_ms, release, environment, outcome, ended
             FROM error_session_states WHERE project_id = ?1 AND sid = ?2",
        )?
        .query_row(rusqlite::params![project_id, update.sid], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })
        .optional()?;
    let (key, previous) = match stored {
        Some((started_ms, release, environment, outcome, ended)) => {
            // Outcomes are CHECKed by the schema; an unknown one cannot be.
            let outcome = Outcome::parse(&outcome).unwrap_or(Outcome::Healthy);
            let key = HourKey {
                hour_ms: started_ms - started_ms.rem_euclid(HOUR_MS),
                release,
                environment,
            };
            (key, Some(SessionState { outcome, ended }))
        }
        None => {
            if too_old(update.started_ms, received_at_ms) {
                return Ok(false);
            }
            let key = HourKey {
                hour_ms: update.started_ms - update.started_ms.rem_euclid(HOUR_MS),
                release: update.release.clone(),
                environment: update.environment.clone(),
            };
            let release = row_release(conn, project_id, &key)?;
            (HourKey { release, ..key }, None)
        }
    };
    if let Some(user) = update.user_digest {
        count_user(conn, project_id, &key, user)?;
    }
    let Some((state, counts)) = apply(previous, update.status, update.has_errors) else {
        return Ok(true);
    };
    conn.prepare_cached(
        "INSERT INTO error_session_states
             (project_id, sid, started_ms, release, environment, outcome, ended)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (project_id, sid) DO UPDATE SET outcome = ?6, ended = ?7",
    )?
    .execute(rusqlite::params![
        project_id,
        update.sid,
        update.started_ms,
        key.release,
        key.environment,
        state.outcome.as_str(),
        state.ended,
    ])?;
    add_counts(conn, project_id, &key, &counts)?;
    Ok(true)
}

/// The release a new session of `key` counts under: its own, or
/// [`OTHER_VALUE`] when its hour has no row for it and is full.
fn row_release(conn: &Connection, project_id: i64, key: &HourKey) -> Result<String, StoreError> {
    let exists = conn
        .prepare_cached(
            "SELECT 1 FROM error_session_hours
             WHERE project_id = ?1 AND release = ?2 AND environment = ?3 AND hour_ms = ?4",
        )?
        .query_row(
            rusqlite::params![project_id, key.release, key.environment, key.hour_ms],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if exists {
        return Ok(key.release.clone());
    }
    let rows: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM error_session_hours WHERE project_id = ?1 AND hour_ms = ?2",
        )?
        .query_row(rusqlite::params![project_id, key.hour_ms], |row| row.get(0))?;
    Ok(if rows >= MAX_ROWS_PER_HOUR {
        OTHER_VALUE.to_owned()
    } else {
        key.release.clone()
    })
}

fn add_counts(
    conn: &Connection,
    project_id: i64,
    key: &HourKey,
    counts: &SessionCounts,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO error_session_hours
             (project_id, release, environment, hour_ms, started, exited, errored, crashed, abnormal)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (project_id, release, environment, hour_ms) DO UPDATE SET
             started = started + excluded.started,
             exited = exited + excluded.exited,
             errored = errored + excluded.errored,
             crashed = crashed + excluded.crashed,
             abnormal = abnormal + excluded.abnormal",
    )?
    .execute(rusqlite::params![
        project_id,
        key.release,
        key.environment,
        key.hour_ms,
        counts.started,
        counts.exited,
        counts.errored,
        counts.crashed,
        counts.abnormal,
    ])?;
    Ok(())
}

/// Adds a user to the day of `key`, within [`MAX_USERS_PER_DAY`].
fn count_user(
    conn: &Connection,
    project_id: i64,
    key: &HourKey,
    user: i64,
) -> Result<(), StoreError> {
    if key.release == OTHER_VALUE {
        return Ok(());
    }
    let day_ms = key.hour_ms - key.hour_ms.rem_euclid(DAY_MS);
    let params = rusqlite::params![project_id, key.release, key.environment, day_ms];
    let known = conn
        .prepare_cached(
            "SELECT 1 FROM error_release_users WHERE project_id = ?1 AND release = ?2
               AND environment = ?3 AND day_ms = ?4 AND user_digest = ?5",
        )?
        .query_row(
            rusqlite::params![project_id, key.release, key.environment, day_ms, user],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if known {
        return Ok(());
    }
    let users: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM error_release_users WHERE project_id = ?1 AND release = ?2
               AND environment = ?3 AND day_ms = ?4",
        )?
        .query_row(params, |row| row.get(0))?;
    if users >= MAX_USERS_PER_DAY {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO error_release_users (project_id, release, environment, day_ms, user_digest)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(rusqlite::params![
        project_id,
        key.release,
        key.environment,
        day_ms,
        user
    ])?;
    Ok(())
}

/// Which releases a health summary covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFilter {
    pub project_id: i64,
    /// Unix ms; every hour that overlaps `[from_ms, until_ms)` counts.
    pub from_ms: i64,
    pub until_ms: i64,
    pub environment: Option<String>,
    pub limit: usize,
}

/// Release health per release with sessions in the range, the most
/// recently seen first, and whether releases were left out by the limit.
pub fn releases(
    conn: &Connection,
    filter: &ReleaseFilter,
) -> Result<(Vec<ReleaseHealth>, bool), StoreError> {
    let first_hour = filter.from_ms - filter.from_ms.rem_euclid(HOUR_MS);
    let mut releases: Vec<ReleaseHealth> = conn
        .prepare_cached(
            "SELECT release, sum(started), sum(exited), sum(errored), sum(crashed), sum(abnormal)
             FROM error_session_hours
             WHERE project_id = ?1 AND hour_ms >= ?2 AND hour_ms < ?3
               AND (?4 IS NULL OR environment = ?4)
             GROUP BY release",
        )?
        .query_map(
            rusqlite::params![
                filter.project_id,
                first_hour,
                filter.until_ms,
                filter.environment
            ],
            |row| {
                let count = |index: usize| -> rusqlite::Result<u64> {
                    Ok(u64::try_from(row.get::<_, i64>(index)?).unwrap_or(0))
                };
                let sessions = count(1)?;
                let crashed = count(4)?;
                Ok(ReleaseHealth {
                    release: row.get(0)?,
                    sessions,
                    exited: count(2)?,
                    errored: count(3)?,
                    crashed,
                    abnormal: count(5)?,
                    crash_free_rate: (sessions > 0)
                        .then(|| 1.0 - crashed.min(sessions) as f64 / sessions as f64),
                    users: 0,
                    first_seen_ms: 0,
                    last_seen_ms: 0,
                    error_events: 0,
                    new_issues: 0,
                })
            },
        )?
        .collect::<Result<_, _>>()?;
    for release in &mut releases {
        let (first, last): (Option<i64>, Option<i64>) = conn
            .prepare_cached(
                "SELECT min(hour_ms), max(hour_ms) FROM error_session_hours
                 WHERE project_id = ?1 AND release = ?2 AND (?3 IS NULL OR environment = ?3)",
            )?
            .query_row(
                rusqlite::params![filter.project_id, release.release, filter.environment],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
        release.first_seen_ms = first.unwrap_or_default();
        release.last_seen_ms = last.unwrap_or_default();
    }
    releases.sort_by(|a, b| {
        b.last_seen_ms
            .cmp(&a.last_seen_ms)
            .then_with(|| a.release.cmp(&b.release))
    });
    let truncated = releases.len() > filter.limit;
    releases.truncate(filter.limit);
    let first_day = filter.from_ms - filter.from_ms.rem_euclid(DAY_MS);
    let error_events = release_counts(
        conn,
        "SELECT t.value, sum(t.count) FROM error_issues i
         JOIN error_issue_tags t ON t.issue_id = i.id AND t.key = 'release'
         WHERE i.project_id = ?1 GROUP BY t.value",
        filter.project_id,
    )?;
    let new_issues = release_counts(
        conn,
        "SELECT first_release, count(*) FROM error_issues
         WHERE project_id = ?1 AND first_release IS NOT NULL GROUP BY first_release",
        filter.project_id,
    )?;
    for release in &mut releases {
        let users: i64 = conn
            .prepare_cached(
                "SELECT count(DISTINCT user_digest) FROM error_release_users
                 WHERE project_id = ?1 AND release = ?2 AND day_ms >= ?3 AND day_ms < ?4
                   AND (?5 IS NULL OR environment = ?5)",
            )?
            .query_row(
                rusqlite::params![
                    filter.project_id,
                    release.release,
                    first_day,
                    filter.until_ms,
                    filter.environment
                ],
                |row| row.get(0),
            )?;
        release.users = u64::try_from(users).unwrap_or(0);
        release.error_events = error_events.get(&release.release).copied().unwrap_or(0);
        release.new_issues = new_issues.get(&release.release).copied().unwrap_or(0);
    }
    Ok((releases, truncated))
}

/// A `release, count` query of one project as a map.
fn release_counts(
    conn: &Connection,
    sql: &str,
    project_id: i64,
) -> Result<BTreeMap<String, u64>, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map([project_id], |row| {
        Ok((
            row.get::<_, String>(0)?,
            u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests;
