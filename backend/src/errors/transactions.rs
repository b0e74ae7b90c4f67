//! Transactions (Sentry's performance data): what is kept is counts and
//! durations, never the transactions themselves.
//!
//! Per project, hour, transaction name, operation, release and
//! environment, one row of `error_transaction_hours` holds the count, the
//! failures and a DDSketch of the durations in milliseconds
//! ([`crate::metrics::sketch`], 1% relative error). Sketches merge, so
//! the p50, p95 and p99 over any range of hours are the quantiles of
//! every transaction in it, not an average of hourly quantiles.
//!
//! A transaction counts in the hour it ended (its `timestamp`, after the
//! time policy of [`super::prepare`]). Names are client strings, and
//! routes with ids in them (`/user/123`) would add a row per request, so
//! each project's hour holds at most [`MAX_ROWS_PER_HOUR`] rows; later
//! keys count under the name [`OTHER_VALUE`] with no operation (still by
//! release and environment, which filter).

use std::collections::BTreeMap;

use partout_model::errors::TransactionStats;
use partout_protocols::sentry::transaction::Transaction;
use rusqlite::{Connection, OptionalExtension};

use super::counts::OTHER_VALUE;
use super::prepare::trusted_time_ms;
use crate::metrics::sketch::Sketch;
use crate::store::StoreError;

/// Rows of one project's hour before new keys count under [`OTHER_VALUE`].
pub const MAX_ROWS_PER_HOUR: i64 = 1000;
const HOUR_MS: i64 = 3_600_000;

/// What one row of `error_transaction_hours` is keyed by (besides the
/// project). An absent op, release or environment is the empty string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TransactionKey {
    pub hour_ms: i64,
    pub name: String,
    pub op: String,
    pub release: String,
    pub environment: String,
}

/// Counts and durations of the transactions of one key.
#[derive(Debug, Clone, Default)]
pub struct TransactionCounts {
    pub count: u64,
    pub errors: u64,
    /// Durations, milliseconds.
    pub durations: Sketch,
}

impl TransactionCounts {
    fn merge(&mut self, other: &TransactionCounts) {
        self.count = self.count.saturating_add(other.count);
        self.errors = self.errors.saturating_add(other.errors);
        self.durations.merge(&other.durations);
    }
}

/// The transactions of one body by key, so the writer updates each row
/// once. Pure.
pub fn aggregate(
    transactions: &[Transaction],
    sent_at_micros: Option<i64>,
    received_at_ms: i64,
) -> BTreeMap<TransactionKey, TransactionCounts> {
    let mut keyed: BTreeMap<TransactionKey, TransactionCounts> = BTreeMap::new();
    for transaction in transactions {
        let ended_ms =
            trusted_time_ms(Some(transaction.end_micros), sent_at_micros, received_at_ms);
        let key = TransactionKey {
            hour_ms: ended_ms - ended_ms.rem_euclid(HOUR_MS),
            name: transaction.name.clone(),
            op: transaction.op.clone().unwrap_or_default(),
            release: transaction.release.clone().unwrap_or_default(),
            environment: transaction.environment.clone().unwrap_or_default(),
        };
        let counts = keyed.entry(key).or_default();
        counts.count += 1;
        counts.errors += u64::from(transaction.failed());
        // Microseconds as milliseconds: exact below 2^53 µs (285 years).
        counts
            .durations
            .add(transaction.duration_micros() as f64 / 1000.0, 1);
    }
    keyed
}

/// Adds a body's aggregated transactions to `project_id`'s rows. Runs in
/// a writer job.
pub fn record(
    conn: &Connection,
    project_id: i64,
    keyed: &BTreeMap<TransactionKey, TransactionCounts>,
) -> Result<(), StoreError> {
    for (key, counts) in keyed {
        if add_to_row(conn, project_id, key, counts)? {
            continue;
        }
        let rows: i64 = conn
            .prepare_cached(
                "SELECT count(*) FROM error_transaction_hours WHERE project_id = ?1 AND hour_ms = ?2",
            )?
            .query_row(rusqlite::params![project_id, key.hour_ms], |row| row.get(0))?;
        let key = if rows >= MAX_ROWS_PER_HOUR {
            let other = TransactionKey {
                name: OTHER_VALUE.to_owned(),
                op: String::new(),
                ..key.clone()
            };
            if add_to_row(conn, project_id, &other, counts)? {
                continue;
            }
            other
        } else {
            key.clone()
        };
        insert_row(conn, project_id, &key, counts)?;
    }
    Ok(())
}

/// Merges `counts` into an existing row; false when there is none.
fn add_to_row(
    conn: &Connection,
    project_id: i64,
    key: &TransactionKey,
    counts: &TransactionCounts,
) -> Result<bool, StoreError> {
    let stored: Option<(i64, i64, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT count, errors, durations FROM error_transaction_hours
             WHERE project_id = ?1 AND hour_ms = ?2 AND name = ?3 AND op = ?4
               AND release = ?5 AND environment = ?6",
        )?
        .query_row(
            rusqlite::params![
                project_id,
                key.hour_ms,
                key.name,
                key.op,
                key.release,
                key.environment
            ],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    let Some((count, errors, blob)) = stored else {
        return Ok(false);
    };
    let mut merged = TransactionCounts {
        count: u64::try_from(count).unwrap_or(0),
        errors: u64::try_from(errors).unwrap_or(0),
        // A row we cannot read (it cannot happen: only we write them)
        // starts over rather than failing every later request.
        durations: Sketch::decode(&blob)
            .map(|(sketch, _)| sketch)
            .unwrap_or_default(),
    };
    merged.merge(counts);
    conn.prepare_cached(
        "UPDATE error_transaction_hours SET count = ?7, errors = ?8, durations = ?9
         WHERE project_id = ?1 AND hour_ms = ?2 AND name = ?3 AND op = ?4
           AND release = ?5 AND environment = ?6",
    )?
    .execute(rusqlite::params![
        project_id,
        key.hour_ms,
        key.name,
        key.op,
        key.release,
        key.environment,
        clamp(merged.count),
        clamp(merged.errors),
        encode(&merged.durations),
    ])?;
    Ok(true)
}

fn insert_row(
    conn: &Connection,
    project_id: i64,
    key: &TransactionKey,
    counts: &TransactionCounts,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO error_transaction_hours
             (project_id, hour_ms, name, op, release, environment, count, errors, durations)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(rusqlite::params![
        project_id,
        key.hour_ms,
        key.name,
        key.op,
        key.release,
        key.environment,
        clamp(counts.count),
        clamp(counts.errors),
        encode(&counts.durations),
    ])?;
    Ok(())
}

fn encode(sketch: &Sketch) -> Vec<u8> {
    let mut blob = Vec::new();
    sketch.encode(&mut blob);
    blob
}

fn clamp(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// Which transactions a summary covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionFilter {
    pub project_id: i64,
    /// Unix ms; every hour that overlaps `[from_ms, until_ms)` counts.
    pub from_ms: i64,
    pub until_ms: i64,
    pub release: Option<String>,
    pub environment: Option<String>,
    /// Names returned, the most frequent.
    pub limit: usize,
}

/// Counts and duration quantiles per transaction name, most frequent
/// first (then by name), and whether names were left out by the limit.
pub fn summary(
    conn: &Connection,
    filter: &TransactionFilter,
) -> Result<(Vec<TransactionStats>, bool), StoreError> {
    let first_hour = filter.from_ms - filter.from_ms.rem_euclid(HOUR_MS);
    let mut statement = conn.prepare_cached(
        "SELECT name, op, count, errors, durations FROM error_transaction_hours
         WHERE project_id = ?1 AND hour_ms >= ?2 AND hour_ms < ?3
           AND (?4 IS NULL OR release = ?4) AND (?5 IS NULL OR environment = ?5)",
    )?;
    let rows = statement.query_map(
        rusqlite::params![
            filter.project_id,
            first_hour,
            filter.until_ms,
            filter.release,
            filter.environment
        ],
        |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, Vec<u8>>(4)?,
            ))
        },
    )?;
    /// One name's rows merged, and its count per operation.
    #[derive(Default)]
    struct Merged {
        counts: TransactionCounts,
        ops: BTreeMap<String, u64>,
    }
    let mut by_name: BTreeMap<String, Merged> = BTreeMap::new();
    for row in rows {
        let (name, op, count, errors, blob) = row?;
        let count = u64::try_from(count).unwrap_or(0);
        let merged = by_name.entry(name).or_default();
        merged.counts.merge(&TransactionCounts {
            count,
            errors: u64::try_from(errors).unwrap_or(0),
            durations: Sketch::decode(&blob)
                .map(|(sketch, _)| sketch)
                .unwrap_or_default(),
        });
        let op_count = merged.ops.entry(op).or_default();
        *op_count = op_count.saturating_add(count);
    }
    let mut stats: Vec<TransactionStats> = by_name
        .into_iter()
        .map(|(name, merged)| {
            let op = merged
                .ops
                .into_iter()
                .filter(|(op, _)| !op.is_empty())
                // The most frequent; the first by name among equals.
                .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
                .map(|(op, _)| op);
            let durations = &merged.counts.durations;
            TransactionStats {
                name,
                op,
                count: merged.counts.count,
                errors: merged.counts.errors,
                p50_ms: durations.quantile(0.5),
                p95_ms: durations.quantile(0.95),
                p99_ms: durations.quantile(0.99),
                max_ms: durations.max(),
            }
        })
        .collect();
    stats.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    let truncated = stats.len() > filter.limit;
    stats.truncate(filter.limit);
    Ok((stats, truncated))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::projects;
    use crate::store::Store;

    fn transaction(name: &str, end_micros: i64, duration_ms: i64, status: &str) -> Transaction {
        Transaction {
            event_id: None,
            name: name.to_owned(),
            op: Some("http.server".to_owned()),
            status: Some(status.to_owned()),
            http_status: None,
            release: Some("shop@1.4.2".to_owned()),
            environment: Some("prod".to_owned()),
            start_micros: end_micros - duration_ms * 1000,
            end_micros,
        }
    }

    const NOW_MS: i64 = 1_795_390_000_000;

    #[test]
    fn a_body_is_aggregated_per_hour_and_name() {
        let now = NOW_MS * 1000;
        let keyed = aggregate(
            &[
                transaction("GET /cart", now, 10, "ok"),
                transaction("GET /cart", now, 30, "internal_error"),
                transaction("GET /cart", now - 3_600_000_000, 20, "ok"),
                transaction("POST /checkout", now, 100, "ok"),
            ],
            None,
            NOW_MS,
        );
        assert_eq!(keyed.len(), 3);
        let hour = NOW_MS - NOW_MS.rem_euclid(HOUR_MS);
        let cart = keyed
            .iter()
            .find(|(key, _)| key.name == "GET /cart" && key.hour_ms == hour)
            .unwrap()
            .1;
        assert_eq!((cart.count, cart.errors), (2, 1));
        assert_eq!(cart.durations.max(), Some(30.0));
        assert!(keyed.keys().all(|key| key.op == "http.server"
            && key.release == "shop@1.4.2"
            && key.environment == "prod"));
    }

    #[test]
    fn times_far_off_count_when_received() {
        let keyed = aggregate(&[transaction("t", 1_000_000, 1, "ok")], None, NOW_MS);
        let key = keyed.keys().next().unwrap();
        assert_eq!(key.hour_ms, NOW_MS - NOW_MS.rem_euclid(HOUR_MS));
    }

    async fn store() -> (Store, tempfile::TempDir, i64) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (project, _) = store
            .write(|conn| projects::ensure_default(conn, 1))
            .await
            .unwrap();
        (store, dir, project.id)
    }

    fn filter(project_id: i64) -> TransactionFilter {
        TransactionFilter {
            project_id,
            from_ms: NOW_MS - 86_400_000,
            until_ms: NOW_MS + 1,
            release: None,
            environment: None,
            limit: 10,
        }
    }

    #[tokio::test]
    async fn quantiles_merge_across_bodies_and_hours() {
        let (store, _dir, project) = store().await;
        // 100 transactions of 1..=100 ms, spread over two hours and many
        // bodies: the quantiles are those of all of them.
        for body in 0..10i64 {
            let transactions: Vec<Transaction> = (1..=10i64)
                .map(|i| {
                    let end = (NOW_MS - (body % 2) * HOUR_MS) * 1000;
                    let status = if i == 10 { "internal_error" } else { "ok" };
                    transaction("GET /cart", end, body * 10 + i, status)
                })
                .collect();
            let keyed = aggregate(&transactions, None, NOW_MS);
            store
                .write(move |conn| record(conn, project, &keyed))
                .await
                .unwrap();
        }
        let (stats, truncated) = store
            .read(move |conn| summary(conn, &filter(project)))
            .await
            .unwrap();
        assert!(!truncated);
        assert_eq!(stats.len(), 1);
        let cart = &stats[0];
        assert_eq!((cart.count, cart.errors), (100, 10));
        assert_eq!(cart.op.as_deref(), Some("http.server"));
        let near = |value: Option<f64>, expected: f64| {
            let value = value.unwrap();
            assert!(
                (value - expected).abs() <= expected * 0.011,
                "{value} vs {expected}"
            );
        };
        near(cart.p50_ms, 50.0);
        near(cart.p95_ms, 95.0);
        near(cart.p99_ms, 99.0);
        assert_eq!(cart.max_ms, Some(100.0));
        // Filters: another release has none.
        let (none, _) = store
            .read(move |conn| {
                summary(
                    conn,
                    &TransactionFilter {
                        release: Some("other".to_owned()),
                        ..filter(project)
                    },
                )
            })
            .await
            .unwrap();
        assert!(none.is_empty());
    }

    #[tokio::test]
    async fn names_past_the_hourly_limit_count_as_other() {
        let (store, _dir, project) = store().await;
        let now = NOW_MS * 1000;
        let transactions: Vec<Transaction> = (0..MAX_ROWS_PER_HOUR + 5)
            .map(|i| transaction(&format!("GET /user/{i}"), now, 5, "ok"))
            .collect();
        let keyed = aggregate(&transactions, None, NOW_MS);
        store
            .write(move |conn| record(conn, project, &keyed))
            .await
            .unwrap();
        let again = aggregate(&[transaction("GET /user/new", now, 7, "ok")], None, NOW_MS);
        store
            .write(move |conn| record(conn, project, &again))
            .await
            .unwrap();
        let (stats, truncated) = store
            .read(move |conn| {
                summary(
                    conn,
                    &TransactionFilter {
                        limit: 2000,
                        ..filter(project)
                    },
                )
            })
            .await
            .unwrap();
        assert!(!truncated);
        assert_eq!(stats.len(), usize::try_from(MAX_ROWS_PER_HOUR).unwrap() + 1);
        let other = &stats[0];
        assert_eq!(other.name, OTHER_VALUE);
        assert_eq!(other.count, 6);
        assert_eq!(other.op, None);
        assert_eq!(other.max_ms, Some(7.0));
        let rows: i64 = store
            .read(|conn| {
                Ok(
                    conn.query_row("SELECT count(*) FROM error_transaction_hours", [], |row| {
                        row.get(0)
                    })?,
                )
            })
            .await
            .unwrap();
        assert_eq!(rows, MAX_ROWS_PER_HOUR + 1);
        let (top, truncated) = store
            .read(move |conn| summary(conn, &filter(project)))
            .await
            .unwrap();
        assert!(truncated);
        assert_eq!(top.len(), 10);
    }
}
