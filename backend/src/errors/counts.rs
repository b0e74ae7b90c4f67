//! What each event adds to its issue: on the issue's row, its event
//! count, last seen, the latest event's title, culprit, level and
//! platform, and its first and last release; and the issue's events per
//! hour, distinct users, and events per tag value.
//!
//! Every event changes 10 to 14 such rows. Written as each event was
//! recorded, they took over half of the store writer's time under load:
//! a B-tree page of each table rewritten into the WAL for every event,
//! and two index entries of the issue row moved.
//!
//! Here the writer job that records an event adds its counts to memory,
//! and they are written in one batch: every second ([`run`]), before any
//! API read of them ([`IssueCounts::settle`]), before a notification
//! tells an issue's count, and at once when memory holds
//! [`MAX_PENDING_EVENTS`] events. Only the status rules still read the
//! issue row for every event (and write it when the status changes).
//!
//! `error_counts_through` holds the event row through which the stored
//! counts are complete. Retention keeps every event after it
//! ([`stored_through`]), so the events not counted yet can always be read
//! back and counted: at start, after a crash.
//!
//! Before each batch, memory is checked against the store: it must have
//! been built on the row the store holds, and hold as many events as the
//! store has after that row. A job that failed after adding its events
//! (its savepoint rolled back), or a commit that failed, breaks one of
//! the two; memory is then dropped and the events after the stored row
//! are read back and counted instead. Nothing is counted twice or lost.
//!
//! Tag values are bounded per issue: at most [`MAX_TAG_KEYS`] keys, and
//! per key [`MAX_TAG_VALUES`] distinct values (more for `release` and
//! `environment`, which filter the issue list); later values count under
//! [`OTHER_VALUE`], so a tag that holds a request id cannot grow a table
//! without end. Values meet the bounds in the order they arrived.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use foldhash::{HashMap, HashMapExt, HashSet};
use indexmap::IndexMap;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use rusqlite::Connection;
use tokio_util::sync::CancellationToken;

use partout_protocols::sentry::grouping::group_event;

use super::events;
use super::prepare::{facets, Facets};
use crate::store::{Store, StoreError};

/// Distinct tag keys counted per issue.
pub const MAX_TAG_KEYS: i64 = 200;
/// Distinct values counted per tag key of an issue.
pub const MAX_TAG_VALUES: i64 = 100;
/// Distinct releases and environments counted per issue.
pub const MAX_FILTER_TAG_VALUES: i64 = 1000;
/// What values past the per-key limit count as.
pub const OTHER_VALUE: &str = "<other>";
const HOUR_MS: i64 = 3_600_000;
/// Events whose counts memory holds before a job writes them at once:
/// bounds memory (each holds about a dozen entries, most shared with
/// other events of its issue) and the events read back after a crash.
pub const MAX_PENDING_EVENTS: u64 = 20_000;
/// How often [`run`] writes the counts held in memory.
const WRITE_EVERY: Duration = Duration::from_secs(1);
/// Events read back per step when counting stored events again.
const REPLAY_PAGE: usize = 512;

/// What the counts do, for `/metrics`.
#[derive(Clone, Default)]
pub struct CountsCounters {
    /// Batches of counts written.
    pub batches: Counter,
    /// Events read back from the store and counted again.
    pub replayed_events: Counter,
    /// Events whose counts are in memory, not yet written.
    pub pending_events: Gauge,
}

/// The counts of recorded events not yet written, shared by the writer
/// jobs that add to them and write them.
pub struct IssueCounts {
    pending: Mutex<Pending>,
    counters: CountsCounters,
    /// [`MAX_PENDING_EVENTS`], lower in tests.
    max_pending: u64,
}

impl Default for IssueCounts {
    fn default() -> Self {
        IssueCounts::new(CountsCounters::default())
    }
}

/// What one recorded event adds to its issue.
pub struct Counted<'a> {
    /// Its row in `error_events`.
    pub row_id: i64,
    pub issue_id: i64,
    /// Its time after the time policy, Unix ms.
    pub timestamp_ms: i64,
    /// `None` for an event read back whose body cannot be read: it counts
    /// in its issue's total, last seen and hour only.
    pub details: Option<Details<'a>>,
}

/// What an event says of itself that its issue counts or shows.
pub struct Details<'a> {
    pub facets: &'a Facets,
    pub title: &'a str,
    pub culprit: Option<&'a str>,
    pub level: &'a str,
    pub platform: &'a str,
    pub release: Option<&'a str>,
}

/// What an issue's row gets from the events held.
struct IssueDelta {
    events: i64,
    last_seen_ms: i64,
    /// The newest event's, in arrival order.
    latest: Option<Latest>,
    /// The first release sent, for an issue that has none yet.
    first_release: Option<String>,
    /// The last release sent.
    last_release: Option<String>,
}

struct Latest {
    title: String,
    culprit: Option<String>,
    level: String,
    platform: String,
}

impl IssueDelta {
    fn add(&mut self, timestamp_ms: i64, details: Option<&Details<'_>>) {
        self.events += 1;
        self.last_seen_ms = self.last_seen_ms.max(timestamp_ms);
        let Some(details) = details else {
            return;
        };
        // Kept, not replaced, while the same: an issue's events mostly
        // say the same.
        match &mut self.latest {
            Some(latest) => {
                replace_if_changed(&mut latest.title, details.title);
                replace_if_changed(&mut latest.level, details.level);
                replace_if_changed(&mut latest.platform, details.platform);
                if latest.culprit.as_deref() != details.culprit {
                    latest.culprit = details.culprit.map(str::to_owned);
                }
            }
            None => {
                self.latest = Some(Latest {
                    title: details.title.to_owned(),
                    culprit: details.culprit.map(str::to_owned),
                    level: details.level.to_owned(),
                    platform: details.platform.to_owned(),
                });
            }
        }
        if let Some(release) = details.release {
            if self.first_release.is_none() {
                self.first_release = Some(release.to_owned());
            }
            if self.last_release.as_deref() != Some(release) {
                self.last_release = Some(release.to_owned());
            }
        }
    }
}

fn replace_if_changed(held: &mut String, new: &str) {
    if held != new {
        new.clone_into(held);
    }
}

/// Counts held in memory.
#[derive(Default)]
struct Pending {
    /// The row the stored counts were complete through when this memory
    /// was built on them; `None` until read from the store.
    base: Option<i64>,
    /// The highest event row added.
    through: i64,
    /// Events added.
    events: u64,
    hours: HashMap<(i64, i64), i64>,
    /// (issue, user digest): each user is counted once per issue.
    users: HashSet<(i64, i64)>,
    /// (issue, key, value), in the order the values arrived.
    tags: IndexMap<(i64, String, String), i64, foldhash::fast::RandomState>,
    issues: HashMap<i64, IssueDelta>,
}

/// A key of [`Pending::tags`] by reference. Hashed as the tuple is
/// (each field in turn, and a `String` as its `str`), so it finds it.
#[derive(Hash)]
struct TagRef<'a>(i64, &'a str, &'a str);

impl indexmap::Equivalent<(i64, String, String)> for TagRef<'_> {
    fn equivalent(&self, key: &(i64, String, String)) -> bool {
        self.0 == key.0 && self.1 == key.1 && self.2 == key.2
    }
}

impl Pending {
    /// Adds an event; returns how many of its issue's events are held.
    fn add(&mut self, counted: &Counted<'_>) -> i64 {
        let Counted {
            row_id,
            issue_id,
            timestamp_ms,
            ref details,
        } = *counted;
        self.through = self.through.max(row_id);
        self.events += 1;
        let hour = timestamp_ms - timestamp_ms.rem_euclid(HOUR_MS);
        *self.hours.entry((issue_id, hour)).or_default() += 1;
        let issue = self.issues.entry(issue_id).or_insert_with(|| IssueDelta {
            events: 0,
            last_seen_ms: i64::MIN,
            latest: None,
            first_release: None,
            last_release: None,
        });
        issue.add(timestamp_ms, details.as_ref());
        let held = issue.events;
        let Some(Details { facets, .. }) = details else {
            return held;
        };
        if let Some(digest) = facets.user_digest {
            self.users.insert((issue_id, digest));
        }
        for (key, value) in &facets.tags {
            // Most values are counted already: found by reference, they
            // are not copied.
            match self.tags.get_mut(&TagRef(issue_id, key, value)) {
                Some(count) => *count += 1,
                None => {
                    self.tags.insert((issue_id, key.clone(), value.clone()), 1);
                }
            }
        }
        held
    }

    /// Empty, built on the stored counts being complete through `row`.
    fn reset(&mut self, row: i64) {
        *self = Pending {
            base: Some(row),
            through: row,
            ..Pending::default()
        };
    }
}

impl IssueCounts {
    pub fn new(counters: CountsCounters) -> IssueCounts {
        IssueCounts {
            pending: Mutex::default(),
            counters,
            max_pending: MAX_PENDING_EVENTS,
        }
    }

    /// Adds what the event just stored adds to its issue, in the writer
    /// job that stored it; returns how many of the issue's events memory
    /// holds now (the issue row's count lacks them).
    pub fn add(&self, conn: &Connection, counted: &Counted<'_>) -> Result<i64, StoreError> {
        let mut pending = self.lock();
        if pending.base.is_none() {
            // The first event since start: counting what the store holds
            // after its stored row counts this event too.
            self.replay(conn, &mut pending)?;
            self.show(&pending);
            return Ok(0);
        }
        let mut held = pending.add(counted);
        if pending.events >= self.max_pending {
            self.write_locked(conn, &mut pending)?;
            held = 0;
        }
        self.show(&pending);
        Ok(held)
    }

    /// Writes the counts held in memory. Runs in a writer job.
    pub fn write(&self, conn: &Connection) -> Result<(), StoreError> {
        let mut pending = self.lock();
        self.write_locked(conn, &mut pending)?;
        self.show(&pending);
        Ok(())
    }

    /// Whether a write has anything to do.
    fn has_work(&self) -> bool {
        let pending = self.lock();
        pending.base.is_none() || pending.events > 0
    }

    /// Writes the counts held in memory and waits until that is durable:
    /// a read of the counts after it sees every event answered before.
    pub async fn settle(self: &Arc<Self>, store: &Store) -> Result<(), StoreError> {
        if !self.has_work() {
            return Ok(());
        }
        let counts = Arc::clone(self);
        store.write(move |conn| counts.write(conn)).await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn show(&self, pending: &Pending) {
        self.counters
            .pending_events
            .set(i64::try_from(pending.events).unwrap_or(i64::MAX));
    }

    fn write_locked(&self, conn: &Connection, pending: &mut Pending) -> Result<(), StoreError> {
        let stored = stored_through(conn)?;
        if pending.base != Some(stored) {
            return self.replay(conn, pending);
        }
        if pending.events == 0 {
            return Ok(());
        }
        let present: i64 = conn
            .prepare_cached("SELECT count(*) FROM error_events WHERE id > ?1 AND id <= ?2")?
            .query_row([stored, pending.through], |row| row.get(0))?;
        if u64::try_from(present).ok() != Some(pending.events) {
            return self.replay(conn, pending);
        }
        apply(conn, pending)?;
        set_stored_through(conn, pending.through)?;
        self.counters.batches.inc();
        let through = pending.through;
        pending.reset(through);
        Ok(())
    }

    /// Drops memory and counts every event after the stored row from the
    /// store instead.
    fn replay(&self, conn: &Connection, pending: &mut Pending) -> Result<(), StoreError> {
        let mut through = stored_through(conn)?;
        loop {
            let arrived = events::arrived_after(conn, through, REPLAY_PAGE)?;
            if arrived.is_empty() {
                break;
            }
            let mut batch = Pending::default();
            for arrived in &arrived {
                let read = arrived.event.as_ref().map(|event| {
                    let grouping = group_event(event);
                    (facets(event), grouping.title, grouping.culprit)
                });
                let details = match (&arrived.event, &read) {
                    (Some(event), Some((facets, title, culprit))) => Some(Details {
                        facets,
                        title,
                        culprit: culprit.as_deref(),
                        level: event.level.as_str(),
                        platform: &event.platform,
                        release: event.release.as_deref(),
                    }),
                    _ => None,
                };
                batch.add(&Counted {
                    row_id: arrived.id,
                    issue_id: arrived.issue_id,
                    timestamp_ms: arrived.timestamp_ms,
                    details,
                });
            }
            apply(conn, &batch)?;
            through = batch.through;
            self.counters.replayed_events.inc_by(batch.events);
            self.counters.batches.inc();
        }
        set_stored_through(conn, through)?;
        pending.reset(through);
        Ok(())
    }
}

/// The event row through which the stored counts are complete: events
/// after it must stay stored until they are counted.
pub fn stored_through(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT event_row_id FROM error_counts_through WHERE id = 1")?
        .query_row([], |row| row.get(0))?)
}

fn set_stored_through(conn: &Connection, row: i64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE error_counts_through SET event_row_id = ?1 WHERE id = 1")?
        .execute([row])?;
    Ok(())
}

/// Adds a batch's counts to the stored ones.
fn apply(conn: &Connection, batch: &Pending) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "UPDATE error_issues SET
             event_count = event_count + ?2,
             last_seen_ms = max(last_seen_ms, ?3),
             title = coalesce(?4, title),
             culprit = CASE WHEN ?4 IS NULL THEN culprit ELSE ?5 END,
             level = coalesce(?6, level),
             platform = coalesce(?7, platform),
             first_release = coalesce(first_release, ?8),
             last_release = coalesce(?9, last_release)
         WHERE id = ?1",
    )?;
    for (issue_id, delta) in &batch.issues {
        let latest = delta.latest.as_ref();
        stmt.execute(rusqlite::params![
            issue_id,
            delta.events,
            delta.last_seen_ms,
            latest.map(|latest| &latest.title),
            latest.and_then(|latest| latest.culprit.as_ref()),
            latest.map(|latest| &latest.level),
            latest.map(|latest| &latest.platform),
            delta.first_release,
            delta.last_release,
        ])?;
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO error_issue_hours (issue_id, hour_ms, count) VALUES (?1, ?2, ?3)
         ON CONFLICT (issue_id, hour_ms) DO UPDATE SET count = count + excluded.count",
    )?;
    for ((issue_id, hour_ms), count) in &batch.hours {
        stmt.execute([issue_id, hour_ms, count])?;
    }
    let mut new_users: HashMap<i64, i64> = HashMap::new();
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO error_issue_users (issue_id, user_digest) VALUES (?1, ?2)",
    )?;
    for (issue_id, digest) in &batch.users {
        if stmt.execute([issue_id, digest])? > 0 {
            *new_users.entry(*issue_id).or_default() += 1;
        }
    }
    let mut stmt =
        conn.prepare_cached("UPDATE error_issues SET user_count = user_count + ?2 WHERE id = ?1")?;
    for (issue_id, added) in &new_users {
        stmt.execute([issue_id, added])?;
    }
    for ((issue_id, key, value), count) in &batch.tags {
        count_tag(conn, *issue_id, key, value, *count)?;
    }
    Ok(())
}

/// Adds `count` events to a tag value of an issue, within the bounds.
fn count_tag(
    conn: &Connection,
    issue_id: i64,
    key: &str,
    value: &str,
    count: i64,
) -> Result<(), StoreError> {
    let bump = |value: &str| -> Result<bool, StoreError> {
        let bumped = conn
            .prepare_cached(
                "UPDATE error_issue_tags SET count = count + ?4
                 WHERE issue_id = ?1 AND key = ?2 AND value = ?3",
            )?
            .execute(rusqlite::params![issue_id, key, value, count])?;
        Ok(bumped > 0)
    };
    if bump(value)? {
        return Ok(());
    }
    // A key has an `<other>` row once it is past its bound, and from then
    // on every new value counts there: one update instead of counting the
    // key's values, for each event of a tag like a user or request id.
    // A key sent a value that is literally `<other>` counts like a full
    // one from then on: a bound no SDK reaches by accident.
    if bump(OTHER_VALUE)? {
        return Ok(());
    }
    // A value not counted yet: the slow path checks the bounds.
    let values: i64 = conn
        .prepare_cached("SELECT count(*) FROM error_issue_tags WHERE issue_id = ?1 AND key = ?2")?
        .query_row(rusqlite::params![issue_id, key], |row| row.get(0))?;
    if values == 0 {
        let keys: i64 = conn
            .prepare_cached(
                "SELECT count(*) FROM (SELECT DISTINCT key FROM error_issue_tags WHERE issue_id = ?1)",
            )?
            .query_row([issue_id], |row| row.get(0))?;
        if keys >= MAX_TAG_KEYS {
            return Ok(());
        }
    }
    let limit = match key {
        "release" | "environment" => MAX_FILTER_TAG_VALUES,
        _ => MAX_TAG_VALUES,
    };
    let value = if values >= limit { OTHER_VALUE } else { value };
    conn.prepare_cached(
        "INSERT INTO error_issue_tags (issue_id, key, value, count) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (issue_id, key, value) DO UPDATE SET count = count + excluded.count",
    )?
    .execute(rusqlite::params![issue_id, key, value, count])?;
    Ok(())
}

/// Writes the counts held in memory every [`WRITE_EVERY`] until `stop`,
/// then once more. The first write, at start, counts the events a crash
/// left uncounted.
pub async fn run(counts: Arc<IssueCounts>, store: Store, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(WRITE_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stop.cancelled() => break,
        }
        if let Err(error) = counts.settle(&store).await {
            if matches!(error, StoreError::Closed) {
                return;
            }
            tracing::warn!(%error, "issue counts were not written; they are retried");
        }
    }
    if let Err(error) = counts.settle(&store).await {
        tracing::warn!(%error, "issue counts were not written at shutdown; they are counted at the next start");
    }
}

#[cfg(test)]
mod tests;
