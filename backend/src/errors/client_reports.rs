//! Client reports: how many items SDKs dropped before sending, by reason
//! and category, per project and hour (`error_client_report_hours`).
//!
//! A report counts in the hour of its `timestamp` after the time policy
//! of [`super::prepare`] (the time received when it has none). Reasons
//! and categories are client strings: each project's hour holds at most
//! [`MAX_ROWS_PER_HOUR`] pairs, later ones count under [`OTHER_VALUE`]
//! for both.

use std::collections::BTreeMap;

use partout_model::errors::DiscardedCount;
use partout_protocols::sentry::client_report::ClientReport;
use rusqlite::{Connection, OptionalExtension};

use super::counts::OTHER_VALUE;
use super::prepare::trusted_time_ms;
use crate::store::StoreError;

/// Reason and category pairs per project and hour.
pub const MAX_ROWS_PER_HOUR: i64 = 200;
const HOUR_MS: i64 = 3_600_000;

/// A row of `error_client_report_hours`, but the project.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReportKey {
    pub hour_ms: i64,
    pub reason: String,
    pub category: String,
}

/// A body's reports summed per row. Pure.
pub fn aggregate(
    reports: &[ClientReport],
    sent_at_micros: Option<i64>,
    received_at_ms: i64,
) -> BTreeMap<ReportKey, u64> {
    let mut keyed: BTreeMap<ReportKey, u64> = BTreeMap::new();
    for report in reports {
        let at = trusted_time_ms(report.timestamp_micros, sent_at_micros, received_at_ms);
        for entry in &report.discarded {
            let key = ReportKey {
                hour_ms: at - at.rem_euclid(HOUR_MS),
                reason: entry.reason.clone(),
                category: entry.category.clone(),
            };
            let quantity = keyed.entry(key).or_default();
            *quantity = quantity.saturating_add(entry.quantity);
        }
    }
    keyed
}

/// Adds a body's counts to `project_id`'s rows, in a writer job.
pub fn record(
    conn: &Connection,
    project_id: i64,
    keyed: &BTreeMap<ReportKey, u64>,
) -> Result<(), StoreError> {
    for (key, quantity) in keyed {
        let exists = conn
            .prepare_cached(
                "SELECT 1 FROM error_client_report_hours
                 WHERE project_id = ?1 AND hour_ms = ?2 AND reason = ?3 AND category = ?4",
            )?
            .query_row(
                rusqlite::params![project_id, key.hour_ms, key.reason, key.category],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        let full = !exists && {
            let rows: i64 = conn
                .prepare_cached(
                    "SELECT count(*) FROM error_client_report_hours
                     WHERE project_id = ?1 AND hour_ms = ?2",
                )?
                .query_row(rusqlite::params![project_id, key.hour_ms], |row| row.get(0))?;
            rows >= MAX_ROWS_PER_HOUR
        };
        let (reason, category) = if full {
            (OTHER_VALUE, OTHER_VALUE)
        } else {
            (key.reason.as_str(), key.category.as_str())
        };
        conn.prepare_cached(
            "INSERT INTO error_client_report_hours (project_id, hour_ms, reason, category, quantity)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (project_id, hour_ms, reason, category)
             DO UPDATE SET quantity = quantity + excluded.quantity",
        )?
        .execute(rusqlite::params![
            project_id,
            key.hour_ms,
            reason,
            category,
            i64::try_from(*quantity).unwrap_or(i64::MAX)
        ])?;
    }
    Ok(())
}

/// Dropped counts per reason and category over every hour that overlaps
/// `[from_ms, until_ms)`, the largest first.
pub fn summary(
    conn: &Connection,
    project_id: i64,
    from_ms: i64,
    until_ms: i64,
) -> Result<Vec<DiscardedCount>, StoreError> {
    let first_hour = from_ms - from_ms.rem_euclid(HOUR_MS);
    let mut statement = conn.prepare_cached(
        "SELECT reason, category, sum(quantity) AS total FROM error_client_report_hours
         WHERE project_id = ?1 AND hour_ms >= ?2 AND hour_ms < ?3
         GROUP BY reason, category ORDER BY total DESC, reason, category",
    )?;
    let rows = statement.query_map(rusqlite::params![project_id, first_hour, until_ms], |row| {
        Ok(DiscardedCount {
            reason: row.get(0)?,
            category: row.get(1)?,
            quantity: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::projects;
    use crate::store::Store;
    use partout_protocols::sentry::client_report::Discarded;

    const NOW_MS: i64 = 1_795_390_000_000;

    fn report(at_ms: Option<i64>, entries: &[(&str, &str, u64)]) -> ClientReport {
        ClientReport {
            timestamp_micros: at_ms.map(|ms| ms * 1000),
            discarded: entries
                .iter()
                .map(|(reason, category, quantity)| Discarded {
                    reason: (*reason).to_owned(),
                    category: (*category).to_owned(),
                    quantity: *quantity,
                })
                .collect(),
            dropped_entries: 0,
        }
    }

    #[test]
    fn reports_sum_per_hour_reason_and_category() {
        let keyed = aggregate(
            &[
                report(
                    None,
                    &[("before_send", "error", 3), ("sample_rate", "span", 1)],
                ),
                report(Some(NOW_MS - 10), &[("before_send", "error", 2)]),
                report(Some(NOW_MS - HOUR_MS), &[("before_send", "error", 1)]),
            ],
            None,
            NOW_MS,
        );
        let hour = NOW_MS - NOW_MS.rem_euclid(HOUR_MS);
        let quantity = |hour_ms: i64, reason: &str, category: &str| {
            keyed
                .get(&ReportKey {
                    hour_ms,
                    reason: reason.to_owned(),
                    category: category.to_owned(),
                })
                .copied()
        };
        assert_eq!(keyed.len(), 3);
        assert_eq!(quantity(hour, "before_send", "error"), Some(5));
        assert_eq!(quantity(hour - HOUR_MS, "before_send", "error"), Some(1));
        assert_eq!(quantity(hour, "sample_rate", "span"), Some(1));
    }

    #[tokio::test]
    async fn stored_counts_add_up_and_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (project, _) = store
            .write(|conn| projects::ensure_default(conn, 1))
            .await
            .unwrap();
        let project = project.id;
        let reasons: Vec<String> = (0..MAX_ROWS_PER_HOUR + 3)
            .map(|i| format!("r{i}"))
            .collect();
        let entries: Vec<(&str, &str, u64)> = reasons
            .iter()
            .map(|reason| (reason.as_str(), "error", 1))
            .collect();
        for _ in 0..2 {
            let keyed = aggregate(&[report(None, &entries)], None, NOW_MS);
            store
                .write(move |conn| record(conn, project, &keyed))
                .await
                .unwrap();
        }
        let counts = store
            .read(move |conn| summary(conn, project, NOW_MS - HOUR_MS, NOW_MS + 1))
            .await
            .unwrap();
        assert_eq!(
            counts.len(),
            usize::try_from(MAX_ROWS_PER_HOUR).unwrap() + 1
        );
        assert_eq!(
            counts[0],
            DiscardedCount {
                reason: OTHER_VALUE.to_owned(),
                category: OTHER_VALUE.to_owned(),
                quantity: 6
            }
        );
        assert!(counts[1..].iter().all(|count| count.quantity == 2));
        let total: u64 = counts.iter().map(|count| count.quantity).sum();
        assert_eq!(total, 2 * (u64::try_from(MAX_ROWS_PER_HOUR).unwrap() + 3));
        let none = store
            .read(move |conn| summary(conn, project, NOW_MS + HOUR_MS, NOW_MS + 2 * HOUR_MS))
            .await
            .unwrap();
        assert!(none.is_empty());
    }
}
