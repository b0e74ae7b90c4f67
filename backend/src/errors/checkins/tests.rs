//! The check-in update rules and bounds, against a real store.

use partout_protocols::sentry::check_in::{parse_check_in, CheckIn};
use serde_json::{json, Value};

use super::*;
use crate::store::Store;

const NOW: i64 = 1_800_000_000_000;
const ID: &str = "d15a218c5517417591258d073ea16f99";

async fn store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .write(|conn| {
            conn.execute(
                "INSERT INTO error_projects (id, name, created_at_ms) VALUES (1, 'a', 0), (2, 'b', 0)",
                [],
            )?;
            Ok(())
        })
        .await
        .unwrap();
    (store, dir)
}

fn check_in(payload: Value) -> CheckIn {
    parse_check_in(payload.to_string().as_bytes()).unwrap()
}

/// Records `check_in` for project 1, received at `at_ms` (no SDK time).
async fn record(
    store: &Store,
    check_in: CheckIn,
    at_ms: i64,
    limits: CheckInLimits,
) -> CheckInOutcome {
    let new = NewCheckIn {
        check_in,
        sent_at_micros: None,
    };
    store
        .write(move |conn| record_check_in(conn, 1, &new, at_ms, limits))
        .await
        .unwrap()
}

async fn page(store: &Store, project: i64, slug: &str) -> Option<Vec<CheckInBody>> {
    let slug = slug.to_owned();
    store
        .read(move |conn| check_in_page(conn, project, &slug, None, 100))
        .await
        .unwrap()
        .map(|(rows, _)| rows)
}

async fn monitors(store: &Store) -> Vec<Monitor> {
    store
        .read(|conn| list_monitors(conn, 1, NOW - RECENT_WINDOW_MS))
        .await
        .unwrap()
}

#[tokio::test]
async fn in_progress_then_ok_is_one_run() {
    let (store, _dir) = store().await;
    let limits = CheckInLimits::default();
    let started = check_in(json!({
        "monitor_slug": "nightly-backup", "check_in_id": ID, "status": "in_progress",
        "release": "shop@1.4.2", "environment": "production",
        "monitor_config": {"schedule": {"type": "crontab", "value": "0 3 * * *"},
            "checkin_margin": 5, "max_runtime": 30, "timezone": "Europe/Vienna"},
    }));
    assert_eq!(
        record(&store, started, NOW, limits).await,
        CheckInOutcome::Created
    );
    let running = page(&store, 1, "nightly-backup").await.unwrap();
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].status, "in_progress");
    assert_eq!(running[0].finished_at_ms, None);
    assert_eq!(running[0].duration_ms, None);

    let finished = check_in(json!({
        "monitor_slug": "nightly-backup", "check_in_id": ID, "status": "ok", "duration": 52.5,
    }));
    assert_eq!(
        record(&store, finished, NOW + 60_000, limits).await,
        CheckInOutcome::Finished
    );
    let rows = page(&store, 1, "nightly-backup").await.unwrap();
    assert_eq!(rows.len(), 1);
    let run = &rows[0];
    assert_eq!(run.status, "ok");
    assert_eq!(run.check_in_id.as_deref(), Some(ID));
    assert_eq!(run.duration_ms, Some(52_500.0));
    assert_eq!(run.started_at_ms, NOW);
    assert_eq!(run.finished_at_ms, Some(NOW + 60_000));
    assert_eq!(run.release.as_deref(), Some("shop@1.4.2"));
    assert_eq!(run.environment.as_deref(), Some("production"));

    let listed = monitors(&store).await;
    assert_eq!(listed.len(), 1);
    let monitor = &listed[0];
    assert_eq!(monitor.slug, "nightly-backup");
    assert_eq!(monitor.last_status.as_deref(), Some("ok"));
    assert_eq!(monitor.last_check_in_ms, Some(NOW + 60_000));
    assert_eq!(monitor.created_at_ms, NOW);
    assert_eq!(monitor.recent.ok, 1);
    assert_eq!(monitor.recent.in_progress, 0);
    let config = monitor.config.as_ref().unwrap();
    assert_eq!(
        config.schedule,
        MonitorSchedule::Crontab {
            value: "0 3 * * *".to_owned()
        }
    );
    assert_eq!(config.checkin_margin_minutes, Some(5));
    assert_eq!(config.max_runtime_minutes, Some(30));
    assert_eq!(config.timezone.as_deref(), Some("Europe/Vienna"));
    assert_eq!(config.updated_at_ms, NOW);
}

#[tokio::test]
async fn a_finished_run_stays_finished() {
    let (store, _dir) = store().await;
    let limits = CheckInLimits::default();
    let status = |status: &str| {
        check_in(json!({"monitor_slug": "job", "check_in_id": ID, "status": status}))
    };
    assert_eq!(
        record(&store, status("in_progress"), NOW, limits).await,
        CheckInOutcome::Created
    );
    // No duration from the SDK: the time since the start.
    assert_eq!(
        record(&store, status("error"), NOW + 2_000, limits).await,
        CheckInOutcome::Finished
    );
    // A retry, a second end, a late start: nothing changes.
    assert_eq!(
        record(&store, status("error"), NOW + 3_000, limits).await,
        CheckInOutcome::Unchanged
    );
    assert_eq!(
        record(&store, status("ok"), NOW + 4_000, limits).await,
        CheckInOutcome::Unchanged
    );
    assert_eq!(
        record(&store, status("in_progress"), NOW + 5_000, limits).await,
        CheckInOutcome::Unchanged
    );
    let rows = page(&store, 1, "job").await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "error");
    assert_eq!(rows[0].duration_ms, Some(2_000.0));
    assert_eq!(rows[0].finished_at_ms, Some(NOW + 2_000));
    let monitor = &monitors(&store).await[0];
    assert_eq!(monitor.last_status.as_deref(), Some("error"));
    assert_eq!(monitor.last_check_in_ms, Some(NOW + 2_000));
    assert_eq!(monitor.config, None);
}

#[tokio::test]
async fn runs_without_an_id_or_reported_only_at_the_end_stand_alone() {
    let (store, _dir) = store().await;
    let limits = CheckInLimits::default();
    let lone = || check_in(json!({"monitor_slug": "job", "status": "ok", "duration": 1.5}));
    assert_eq!(
        record(&store, lone(), NOW, limits).await,
        CheckInOutcome::Created
    );
    assert_eq!(
        record(&store, lone(), NOW + 10, limits).await,
        CheckInOutcome::Created
    );
    let rows = page(&store, 1, "job").await.unwrap();
    assert_eq!(rows.len(), 2);
    // Newest first; a run reported at its end started `duration` before.
    assert_eq!(rows[0].started_at_ms, NOW + 10 - 1_500);
    assert_eq!(rows[1].started_at_ms, NOW - 1_500);
    assert_eq!(rows[1].finished_at_ms, Some(NOW));
    // An older check-in arriving later does not hide the newer one.
    let late = check_in(json!({"monitor_slug": "job", "status": "error"}));
    let new = NewCheckIn {
        check_in: CheckIn {
            timestamp_micros: Some((NOW - 60_000) * 1000),
            ..late
        },
        sent_at_micros: None,
    };
    store
        .write(move |conn| record_check_in(conn, 1, &new, NOW + 20, limits))
        .await
        .unwrap();
    let monitor = &monitors(&store).await[0];
    assert_eq!(monitor.last_status.as_deref(), Some("ok"));
    assert_eq!(monitor.last_check_in_ms, Some(NOW + 10));
    assert_eq!(monitor.recent.ok, 2);
    assert_eq!(monitor.recent.error, 1);
}

#[tokio::test]
async fn only_the_newest_check_ins_are_kept_per_monitor() {
    let (store, _dir) = store().await;
    let limits = CheckInLimits {
        check_ins_per_monitor: 3,
        ..CheckInLimits::default()
    };
    for n in 0..5 {
        let payload = json!({"monitor_slug": "job", "status": "ok", "release": format!("r{n}")});
        record(&store, check_in(payload), NOW + n, limits).await;
    }
    record(
        &store,
        check_in(json!({"monitor_slug": "other", "status": "ok"})),
        NOW,
        limits,
    )
    .await;
    let releases: Vec<_> = page(&store, 1, "job")
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.release.unwrap())
        .collect();
    assert_eq!(releases, ["r4", "r3", "r2"]);
    assert_eq!(page(&store, 1, "other").await.unwrap().len(), 1);
    // Pages follow `before`.
    let (first, next) = store
        .read(|conn| check_in_page(conn, 1, "job", None, 2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.len(), 2);
    let (rest, end) = store
        .read(move |conn| check_in_page(conn, 1, "job", next, 2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].release.as_deref(), Some("r2"));
    assert_eq!(end, None);
}

#[tokio::test]
async fn monitors_per_project_are_bounded() {
    let (store, _dir) = store().await;
    let limits = CheckInLimits {
        monitors_per_project: 2,
        ..CheckInLimits::default()
    };
    for slug in ["a", "b"] {
        let payload = json!({"monitor_slug": slug, "status": "ok"});
        assert_eq!(
            record(&store, check_in(payload), NOW, limits).await,
            CheckInOutcome::Created
        );
    }
    let third = json!({"monitor_slug": "c", "status": "ok"});
    assert_eq!(
        record(&store, check_in(third), NOW, limits).await,
        CheckInOutcome::TooManyMonitors
    );
    // Known monitors still take check-ins.
    let again = json!({"monitor_slug": "a", "status": "error"});
    assert_eq!(
        record(&store, check_in(again), NOW, limits).await,
        CheckInOutcome::Created
    );
    assert_eq!(monitors(&store).await.len(), 2);
    assert!(page(&store, 1, "c").await.is_none());
    // Monitors belong to their project.
    assert!(page(&store, 2, "a").await.is_none());
}

#[tokio::test]
async fn a_new_config_replaces_the_old_one() {
    let (store, _dir) = store().await;
    let limits = CheckInLimits::default();
    let with = |schedule: Value| {
        check_in(
            json!({"monitor_slug": "job", "status": "ok", "monitor_config": {"schedule": schedule}}),
        )
    };
    record(
        &store,
        with(json!({"type": "crontab", "value": "0 * * * *"})),
        NOW,
        limits,
    )
    .await;
    record(
        &store,
        with(json!({"type": "interval", "value": 2, "unit": "hour"})),
        NOW + 1,
        limits,
    )
    .await;
    // An unreadable one is ignored; the stored one stays.
    record(
        &store,
        with(json!({"type": "interval", "value": -2, "unit": "hour"})),
        NOW + 2,
        limits,
    )
    .await;
    let config = monitors(&store).await[0].config.clone().unwrap();
    assert_eq!(
        config.schedule,
        MonitorSchedule::Interval {
            value: 2,
            unit: "hour".to_owned()
        }
    );
    assert_eq!(config.updated_at_ms, NOW + 1);
    assert_eq!(config.checkin_margin_minutes, None);
}
