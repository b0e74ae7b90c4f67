//! The session counting rules, pure and through the store.

use super::*;
use crate::errors::projects;
use crate::store::Store;
use partout_protocols::sentry::session::SessionBucket;

const NOW_MS: i64 = 1_795_390_000_000;

fn state(outcome: Outcome, ended: bool) -> Option<SessionState> {
    Some(SessionState { outcome, ended })
}

fn counts(started: i64, exited: i64, errored: i64, crashed: i64, abnormal: i64) -> SessionCounts {
    SessionCounts {
        started,
        exited,
        errored,
        crashed,
        abnormal,
    }
}

#[test]
fn a_first_update_starts_the_session() {
    let (next, delta) = apply(None, SessionStatus::Ok, false).unwrap();
    assert_eq!(Some(next), state(Outcome::Healthy, false));
    assert_eq!(delta, counts(1, 0, 0, 0, 0));
    // The Python SDK's only update: exited, with an error.
    let (next, delta) = apply(None, SessionStatus::Exited, true).unwrap();
    assert_eq!(Some(next), state(Outcome::Errored, true));
    assert_eq!(delta, counts(1, 0, 1, 0, 0));
    let (_, delta) = apply(None, SessionStatus::Crashed, true).unwrap();
    assert_eq!(delta, counts(1, 0, 0, 1, 0));
}

#[test]
fn repeats_and_updates_after_the_end_count_nothing() {
    assert_eq!(
        apply(state(Outcome::Healthy, false), SessionStatus::Ok, false),
        None
    );
    for status in [
        SessionStatus::Ok,
        SessionStatus::Exited,
        SessionStatus::Crashed,
        SessionStatus::Abnormal,
        SessionStatus::Errored,
    ] {
        assert_eq!(apply(state(Outcome::Exited, true), status, true), None);
        assert_eq!(apply(state(Outcome::Crashed, true), status, false), None);
    }
}

#[test]
fn a_session_moves_between_outcomes_once() {
    // ok -> errored -> crashed: errored is taken back when it crashes.
    let (errored, delta) = apply(state(Outcome::Healthy, false), SessionStatus::Ok, true).unwrap();
    assert_eq!(delta, counts(0, 0, 1, 0, 0));
    let (crashed, delta) = apply(Some(errored), SessionStatus::Crashed, true).unwrap();
    assert_eq!(delta, counts(0, 0, -1, 1, 0));
    assert!(crashed.ended);
    // Errors are never forgotten: an errored session that exits with an
    // update saying no errors stays errored.
    let (exited, delta) = apply(Some(errored), SessionStatus::Exited, false).unwrap();
    assert_eq!(Some(exited), state(Outcome::Errored, true));
    assert_eq!(delta, counts(0, 0, 0, 0, 0));
    let (_, delta) = apply(state(Outcome::Healthy, false), SessionStatus::Exited, false).unwrap();
    assert_eq!(delta, counts(0, 1, 0, 0, 0));
    let (_, delta) = apply(
        state(Outcome::Healthy, false),
        SessionStatus::Abnormal,
        false,
    )
    .unwrap();
    assert_eq!(delta, counts(0, 0, 0, 0, 1));
}

#[test]
fn every_order_of_the_same_updates_counts_the_same() {
    // Whatever order a session's updates arrive in, and however often
    // each, the sums of the deltas are one start and one outcome.
    let updates = [
        (SessionStatus::Ok, false),
        (SessionStatus::Ok, true),
        (SessionStatus::Exited, true),
    ];
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for order in orders {
        let mut total = SessionCounts::default();
        let mut current = None;
        for index in order.iter().chain(order.iter()) {
            let (status, errors) = updates[*index];
            if let Some((next, delta)) = apply(current, status, errors) {
                current = Some(next);
                total.add(&delta);
            }
        }
        assert_eq!(total.started, 1, "{order:?}");
        assert_eq!(
            total.exited + total.errored + total.crashed + total.abnormal,
            1
        );
        assert_eq!(total.errored, 1, "{order:?}");
    }
}

fn update(sid: &str, status: SessionStatus, errors: u64) -> SessionUpdate {
    SessionUpdate {
        sid: sid.to_owned(),
        did: Some("1234".to_owned()),
        seq: None,
        init: true,
        started_micros: (NOW_MS - 60_000) * 1000,
        timestamp_micros: None,
        status,
        errors,
        release: "shop@1.4.2".to_owned(),
        environment: Some("prod".to_owned()),
    }
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

async fn send(
    store: &Store,
    project: i64,
    updates: &[SessionUpdate],
    aggregates: &[SessionAggregates],
    received_at_ms: i64,
) -> u64 {
    let prepared = prepare(updates, aggregates, None, received_at_ms);
    store
        .write(move |conn| record(conn, project, &prepared))
        .await
        .unwrap()
}

async fn health(store: &Store, project: i64) -> Vec<ReleaseHealth> {
    store
        .read(move |conn| {
            releases(
                conn,
                &ReleaseFilter {
                    project_id: project,
                    from_ms: NOW_MS - DAY_MS,
                    until_ms: NOW_MS + DAY_MS,
                    environment: None,
                    limit: 10,
                },
            )
        })
        .await
        .unwrap()
        .0
}

#[tokio::test]
async fn a_session_reported_twice_counts_once() {
    let (store, _dir, project) = store().await;
    let sid = "58c4053d1f314d3fbee954d0c31bec3a";
    send(
        &store,
        project,
        &[update(sid, SessionStatus::Ok, 0)],
        &[],
        NOW_MS,
    )
    .await;
    // An error, then the end, then a retry of the end.
    send(
        &store,
        project,
        &[update(sid, SessionStatus::Ok, 1)],
        &[],
        NOW_MS,
    )
    .await;
    for _ in 0..2 {
        send(
            &store,
            project,
            &[update(sid, SessionStatus::Exited, 1)],
            &[],
            NOW_MS,
        )
        .await;
    }
    let other = "00000000000000000000000000000001";
    send(
        &store,
        project,
        &[
            update(other, SessionStatus::Crashed, 1),
            update(other, SessionStatus::Crashed, 1),
        ],
        &[],
        NOW_MS,
    )
    .await;
    let releases = health(&store, project).await;
    assert_eq!(releases.len(), 1);
    let release = &releases[0];
    assert_eq!(release.release, "shop@1.4.2");
    assert_eq!(
        (
            release.sessions,
            release.exited,
            release.errored,
            release.crashed,
            release.abnormal
        ),
        (2, 0, 1, 1, 0)
    );
    assert_eq!(release.crash_free_rate, Some(0.5));
    assert_eq!(release.users, 1);
    let hour = (NOW_MS - 60_000) - (NOW_MS - 60_000).rem_euclid(HOUR_MS);
    assert_eq!((release.first_seen_ms, release.last_seen_ms), (hour, hour));
}

#[tokio::test]
async fn aggregates_add_as_sent_and_old_sessions_are_dropped() {
    let (store, _dir, project) = store().await;
    let aggregates = SessionAggregates {
        release: "shop@1.4.2".to_owned(),
        environment: Some("prod".to_owned()),
        buckets: vec![
            SessionBucket {
                started_micros: (NOW_MS - 60_000) * 1000,
                did: None,
                exited: 4,
                errored: 1,
                abnormal: 0,
                crashed: 1,
            },
            SessionBucket {
                started_micros: (NOW_MS - MAX_SESSION_AGE_MS - 1) * 1000,
                exited: 9,
                ..SessionBucket::default()
            },
        ],
        dropped_buckets: 0,
    };
    let mut old = update("00000000000000000000000000000002", SessionStatus::Ok, 0);
    old.started_micros = (NOW_MS - MAX_SESSION_AGE_MS - 1) * 1000;
    let dropped = send(&store, project, &[old], &[aggregates], NOW_MS).await;
    assert_eq!(dropped, 2);
    let release = &health(&store, project).await[0];
    assert_eq!(
        (
            release.sessions,
            release.exited,
            release.errored,
            release.crashed
        ),
        (6, 4, 1, 1)
    );
    assert_eq!(release.users, 0);
}

#[tokio::test]
async fn a_known_session_is_counted_until_its_state_is_pruned() {
    let (store, _dir, project) = store().await;
    let sid = "58c4053d1f314d3fbee954d0c31bec3a";
    send(
        &store,
        project,
        &[update(sid, SessionStatus::Ok, 0)],
        &[],
        NOW_MS,
    )
    .await;
    // Four days later it ends: its state is still there, so it is not
    // started again, and the end counts in the hour it started.
    let later = NOW_MS + 4 * DAY_MS;
    let dropped = send(
        &store,
        project,
        &[update(sid, SessionStatus::Exited, 0)],
        &[],
        later,
    )
    .await;
    assert_eq!(dropped, 0);
    let release = &health(&store, project).await[0];
    assert_eq!((release.sessions, release.exited), (1, 1));
    // Seven days on, its state is gone, and a retry is too old to count.
    let much_later = NOW_MS + 7 * DAY_MS;
    let dropped = send(
        &store,
        project,
        &[update(sid, SessionStatus::Exited, 0)],
        &[],
        much_later,
    )
    .await;
    assert_eq!(dropped, 1);
    let states: i64 = store
        .read(|conn| {
            Ok(
                conn.query_row("SELECT count(*) FROM error_session_states", [], |row| {
                    row.get(0)
                })?,
            )
        })
        .await
        .unwrap();
    assert_eq!(states, 0);
    let release = &health(&store, project).await[0];
    assert_eq!((release.sessions, release.exited), (1, 1));
}

#[tokio::test]
async fn releases_past_the_hourly_limit_count_as_other() {
    let (store, _dir, project) = store().await;
    let updates: Vec<SessionUpdate> = (0..MAX_ROWS_PER_HOUR + 2)
        .map(|i| SessionUpdate {
            release: format!("r{i}"),
            ..update(&format!("{i:032x}"), SessionStatus::Exited, 0)
        })
        .collect();
    send(&store, project, &updates, &[], NOW_MS).await;
    let releases = store
        .read(move |conn| {
            releases(
                conn,
                &ReleaseFilter {
                    project_id: project,
                    from_ms: NOW_MS - DAY_MS,
                    until_ms: NOW_MS + DAY_MS,
                    environment: Some("prod".to_owned()),
                    limit: 5000,
                },
            )
        })
        .await
        .unwrap()
        .0;
    assert_eq!(
        releases.len(),
        usize::try_from(MAX_ROWS_PER_HOUR).unwrap() + 1
    );
    let other = releases
        .iter()
        .find(|release| release.release == OTHER_VALUE)
        .unwrap();
    assert_eq!((other.sessions, other.exited, other.users), (2, 2, 0));
}
