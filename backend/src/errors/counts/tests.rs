use std::sync::Arc;

use partout_protocols::sentry::event::{normalize_event, NormalizeLimits};
use serde_json::json;

use super::*;
use crate::errors::prepare::{prepare, NewEvent};
use crate::errors::record::record_event;
use crate::errors::record::tests::store;

const HOUR: i64 = 3_600_000;
const T0: i64 = 1_800_000_000_000;

/// Event `id` of one issue: over three hours, four users, two releases,
/// a title and a tag value of its own.
fn event(id: u32) -> NewEvent {
    let payload = json!({
        "event_id": format!("{id:032x}"),
        "timestamp": (T0 + i64::from(id % 3) * HOUR) / 1000,
        "release": format!("1.{}", id % 2),
        "user": {"id": format!("u{}", id % 4)},
        "tags": {"request_id": format!("req-{id}")},
        "exception": {"values": [{"type": "KeyError", "value": format!("k{id}"),
            "stacktrace": {"frames": [{"module": "app", "function": "load", "in_app": true}]}}]}
    });
    let event =
        normalize_event(payload.to_string().as_bytes(), &NormalizeLimits::default()).unwrap();
    prepare(event, T0 + 3 * HOUR, None, None).unwrap()
}

/// Records the events `ids` in one writer job, keeping `keep` per issue.
async fn record(store: &Store, counts: &Arc<IssueCounts>, ids: &[u32], keep: usize) {
    let counts = Arc::clone(counts);
    let events: Vec<NewEvent> = ids.iter().map(|id| event(*id)).collect();
    store
        .write(move |c| {
            for event in &events {
                record_event(c, 1, event, keep, &counts)?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

/// Every stored count: issues' users, hours, tag values.
#[derive(Debug, PartialEq)]
struct Snapshot {
    /// Each issue row, as text.
    issues: Vec<String>,
    user_counts: Vec<i64>,
    hours: Vec<(i64, i64, i64)>,
    tags: Vec<(i64, String, String, i64)>,
}

impl Snapshot {
    fn hour_total(&self) -> i64 {
        self.hours.iter().map(|(_, _, count)| count).sum()
    }
}

async fn snapshot(store: &Store) -> Snapshot {
    store
        .read(|c| {
            let rows = |sql: &str| -> rusqlite::Result<Vec<Vec<rusqlite::types::Value>>> {
                let mut stmt = c.prepare(sql)?;
                let columns = stmt.column_count();
                let rows = stmt.query_map([], |row| {
                    (0..columns)
                        .map(|i| row.get(i))
                        .collect::<Result<Vec<_>, _>>()
                })?;
                rows.collect()
            };
            use rusqlite::types::Value;
            let int = |value: &Value| match value {
                Value::Integer(n) => *n,
                other => panic!("not an integer: {other:?}"),
            };
            let text = |value: &Value| match value {
                Value::Text(text) => text.clone(),
                other => panic!("not text: {other:?}"),
            };
            Ok(Snapshot {
                issues: rows(
                    "SELECT event_count, first_seen_ms, last_seen_ms, title, culprit, level,
                         platform, status, first_release, last_release FROM error_issues ORDER BY id",
                )?
                .iter()
                .map(|row| format!("{row:?}"))
                .collect(),
                user_counts: rows("SELECT user_count FROM error_issues ORDER BY id")?
                    .iter()
                    .map(|row| int(&row[0]))
                    .collect(),
                hours: rows(
                    "SELECT issue_id, hour_ms, count FROM error_issue_hours ORDER BY 1, 2",
                )?
                .iter()
                .map(|row| (int(&row[0]), int(&row[1]), int(&row[2])))
                .collect(),
                tags: rows(
                    "SELECT issue_id, key, value, count FROM error_issue_tags ORDER BY 1, 2, 3",
                )?
                .iter()
                .map(|row| (int(&row[0]), text(&row[1]), text(&row[2]), int(&row[3])))
                .collect(),
            })
        })
        .await
        .unwrap()
}

/// The counts of events `ids` recorded and written as they came.
async fn reference(ids: &[u32]) -> Snapshot {
    let (store, _dir) = store().await;
    let counts = Arc::new(IssueCounts::default());
    for id in ids {
        record(&store, &counts, &[*id], 100).await;
        counts.settle(&store).await.unwrap();
    }
    snapshot(&store).await
}

async fn through(store: &Store) -> i64 {
    store.read(stored_through).await.unwrap()
}

async fn stored_events(store: &Store) -> i64 {
    store
        .read(|c| Ok(c.query_row("SELECT count(*) FROM error_events", [], |row| row.get(0))?))
        .await
        .unwrap()
}

#[tokio::test]
async fn counts_reach_the_store_when_written_and_not_before() {
    let (store, _dir) = store().await;
    let counts = Arc::new(IssueCounts::default());
    counts.settle(&store).await.unwrap();
    let ids: Vec<u32> = (0..6).collect();
    record(&store, &counts, &ids, 100).await;
    let before = snapshot(&store).await;
    assert_eq!(before.hour_total(), 0, "{before:?}");
    assert!(before.tags.is_empty());
    assert_eq!(before.user_counts, [0]);
    assert!(before.issues[0].starts_with("[Integer(0), "), "{before:?}");
    assert_eq!(through(&store).await, 0);
    assert_eq!(counts.counters.pending_events.get(), 6);

    counts.settle(&store).await.unwrap();
    let after = snapshot(&store).await;
    assert_eq!(after.user_counts, [4]);
    assert!(after.issues[0].starts_with("[Integer(6), "), "{after:?}");
    let hours: Vec<(i64, i64)> = after.hours.iter().map(|(_, h, n)| (*h, *n)).collect();
    assert_eq!(hours, [(T0, 2), (T0 + HOUR, 2), (T0 + 2 * HOUR, 2)]);
    let releases: Vec<(&str, i64)> = after
        .tags
        .iter()
        .filter(|(_, key, _, _)| key == "release")
        .map(|(_, _, value, count)| (value.as_str(), *count))
        .collect();
    assert_eq!(releases, [("1.0", 3), ("1.1", 3)]);
    assert_eq!(after, reference(&ids).await);
    assert_eq!(through(&store).await, 6);
    assert_eq!(counts.counters.pending_events.get(), 0);
    assert_eq!(counts.counters.replayed_events.get(), 0);
}

#[tokio::test]
async fn events_a_crash_left_uncounted_are_counted_once_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .write(|c| crate::errors::projects::ensure_default(c, 0))
        .await
        .unwrap();
    let counts = Arc::new(IssueCounts::default());
    counts.settle(&store).await.unwrap();
    record(&store, &counts, &[0, 1, 2, 3, 4], 100).await;
    counts.settle(&store).await.unwrap();
    record(&store, &counts, &[5, 6], 100).await;
    record(&store, &counts, &[7, 8, 9], 100).await;
    // The process dies: the counts in memory are gone, the events stay.
    drop(counts);
    store.close().await.unwrap();

    let store = Store::open(dir.path()).unwrap();
    assert_eq!(through(&store).await, 5);
    let counts = Arc::new(IssueCounts::default());
    counts.settle(&store).await.unwrap();
    let ids: Vec<u32> = (0..10).collect();
    assert_eq!(snapshot(&store).await, reference(&ids).await);
    assert_eq!(counts.counters.replayed_events.get(), 5);
    assert_eq!(through(&store).await, 10);
    // Counted once: a second start finds nothing left to count.
    let again = Arc::new(IssueCounts::default());
    again.settle(&store).await.unwrap();
    assert_eq!(again.counters.replayed_events.get(), 0);
    assert_eq!(snapshot(&store).await, reference(&ids).await);
}

#[tokio::test]
async fn a_job_that_fails_after_counting_its_events_leaves_them_out() {
    let (store, _dir) = store().await;
    let counts = Arc::new(IssueCounts::default());
    counts.settle(&store).await.unwrap();
    record(&store, &counts, &[0, 1, 2], 100).await;
    let failing = Arc::clone(&counts);
    let failed = store
        .write(move |c| {
            for id in [100, 101] {
                record_event(c, 1, &event(id), 100, &failing)?;
            }
            Err::<(), _>(StoreError::Task(
                "the job fails after its events".to_owned(),
            ))
        })
        .await;
    assert!(failed.is_err());
    // The rolled-back events' row ids are used again.
    record(&store, &counts, &[3, 4], 100).await;
    counts.settle(&store).await.unwrap();
    assert_eq!(snapshot(&store).await, reference(&[0, 1, 2, 3, 4]).await);
    assert_eq!(counts.counters.replayed_events.get(), 5);
}

#[tokio::test]
async fn retention_keeps_the_events_not_counted_yet() {
    let (store, _dir) = store().await;
    let counts = Arc::new(IssueCounts::default());
    counts.settle(&store).await.unwrap();
    // Two kept per issue, swept at every event: without the counts
    // written, all six stay.
    record(&store, &counts, &[0, 1, 2, 3, 4, 5], 2).await;
    assert_eq!(stored_events(&store).await, 6);
    counts.settle(&store).await.unwrap();
    record(&store, &counts, &[6], 2).await;
    assert_eq!(stored_events(&store).await, 2);
    counts.settle(&store).await.unwrap();
    assert_eq!(snapshot(&store).await.hour_total(), 7);
}

#[tokio::test]
async fn memory_is_written_at_once_when_it_holds_its_bound() {
    let (store, _dir) = store().await;
    let counts = Arc::new(IssueCounts {
        max_pending: 3,
        ..IssueCounts::default()
    });
    counts.settle(&store).await.unwrap();
    record(&store, &counts, &[0, 1], 100).await;
    assert_eq!(snapshot(&store).await.hour_total(), 0);
    record(&store, &counts, &[2], 100).await;
    assert_eq!(snapshot(&store).await.hour_total(), 3);
    assert_eq!(counts.counters.pending_events.get(), 0);
}

#[tokio::test]
async fn the_writer_task_writes_every_second_and_before_it_stops() {
    let (store, _dir) = store().await;
    let counts = Arc::new(IssueCounts::default());
    let stop = CancellationToken::new();
    let task = tokio::spawn(run(Arc::clone(&counts), store.clone(), stop.clone()));
    record(&store, &counts, &[0, 1], 100).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while snapshot(&store).await.hour_total() < 2 {
        assert!(std::time::Instant::now() < deadline, "not written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    record(&store, &counts, &[2], 100).await;
    stop.cancel();
    task.await.unwrap();
    assert_eq!(snapshot(&store).await.hour_total(), 3);
}
