//! The outbox against a real store: recorded once, rate-limited per
//! project, delivered, retried with backoff, given up; and the sender
//! against a local webhook that fails first.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use partout_model::errors::WebhookKind;
use serde_json::json;

use super::*;
use crate::errors::counts::IssueCounts;
use crate::errors::notify::sender::{self, SenderConfig};
use crate::errors::notify::webhooks;
use crate::errors::prepare::prepare;
use crate::errors::projects;
use crate::errors::record::{record_and_notify, record_event, Outcome};
use crate::store::Store;
use crate::telemetry::{NotificationLabels, Telemetry};
use partout_protocols::sentry::event::{normalize_event, NormalizeLimits};

const T0: i64 = 1_800_000_000_000;

async fn store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .write(|c| projects::ensure_default(c, 0))
        .await
        .unwrap();
    (store, dir)
}

fn event(id: u32, function: &str, received_at_ms: i64) -> NewEvent {
    let payload = json!({
        "event_id": format!("{id:032x}"),
        "release": "1.0",
        "environment": "prod",
        "exception": {"values": [{"type": "KeyError", "value": "'k'",
            "stacktrace": {"frames": [{"filename": "app/cart.py", "module": "app", "function": function,
                "lineno": 12, "in_app": true}]}}]}
    });
    let event =
        normalize_event(payload.to_string().as_bytes(), &NormalizeLimits::default()).unwrap();
    prepare(event, received_at_ms, None, None).unwrap()
}

async fn add_webhook(store: &Store, url: &str) -> i64 {
    let url = url.to_owned();
    store
        .write(move |c| webhooks::add(c, 1, &url, WebhookKind::Generic, 0))
        .await
        .unwrap()
        .unwrap()
        .id
}

/// Records an event and, when it changed its issue, its notification.
async fn ingest(store: &Store, event: NewEvent, per_minute: u32) -> Option<Enqueued> {
    store
        .write(move |c| {
            let counts = IssueCounts::default();
            let recorded = record_event(c, 1, &event, 10, &counts)?;
            let change = match recorded.outcome {
                Outcome::NewIssue => Change::New,
                Outcome::Regressed => Change::Regressed,
                _ => return Ok(None),
            };
            enqueue(c, 1, recorded.issue_id, change, &event, per_minute, &counts).map(Some)
        })
        .await
        .unwrap()
}

async fn due_at(store: &Store, now_ms: i64) -> Vec<Due> {
    store.read(move |c| due(c, now_ms, 100)).await.unwrap()
}

#[tokio::test]
async fn nothing_is_recorded_without_webhooks() {
    let (store, _dir) = store().await;
    assert_eq!(
        ingest(&store, event(1, "load", T0), 10).await,
        Some(Enqueued::NoWebhooks)
    );
    assert!(due_at(&store, T0).await.is_empty());
}

#[tokio::test]
async fn a_new_issue_is_queued_once_with_its_context() {
    let (store, _dir) = store().await;
    add_webhook(&store, "http://127.0.0.1:9/a").await;
    add_webhook(&store, "http://127.0.0.1:9/b").await;
    assert_eq!(
        ingest(&store, event(1, "load", T0), 10).await,
        Some(Enqueued::Queued { deliveries: 2 })
    );
    // A second event of the same issue changes nothing.
    assert_eq!(ingest(&store, event(2, "load", T0 + 5), 10).await, None);
    let due = due_at(&store, T0).await;
    assert_eq!(due.len(), 2);
    let context = &due[0].context;
    assert_eq!(context.change, Change::New);
    assert_eq!(context.title, "KeyError: 'k'");
    assert_eq!(context.project, "default");
    assert_eq!(
        context.first_in_app_frame.as_deref(),
        Some("app/cart.py:12 in load")
    );
    assert_eq!(context.release.as_deref(), Some("1.0"));
    assert_eq!(context.environment.as_deref(), Some("prod"));
    assert_eq!(context.count, 1);

    // The same change recorded again is refused by its key.
    let issue_id = context.issue_id;
    let again = store
        .write(move |c| {
            enqueue(
                c,
                1,
                issue_id,
                Change::New,
                &event(1, "load", T0),
                10,
                &IssueCounts::default(),
            )
        })
        .await
        .unwrap();
    assert_eq!(again, Enqueued::Duplicate);

    for delivery in due {
        let next = store
            .write(move |c| record_result(c, &delivery, &Attempt::Delivered, T0 + 10))
            .await
            .unwrap();
        assert_eq!(next, Next::Sent);
    }
    assert!(due_at(&store, T0 + 3_600_000).await.is_empty());
}

#[tokio::test]
async fn a_regression_tells_every_event_before_it_though_their_counts_are_held() {
    let (store, _dir) = store().await;
    add_webhook(&store, "http://127.0.0.1:9/a").await;
    let counts = Arc::new(IssueCounts::default());
    let record = |event: NewEvent| {
        let counts = Arc::clone(&counts);
        store.write(move |c| record_and_notify(c, 1, &event, 10, 10, &counts))
    };
    counts.settle(&store).await.unwrap();
    for (id, at) in [(1, T0), (2, T0 + 10), (3, T0 + 20)] {
        record(event(id, "load", at)).await.unwrap();
    }
    let issue_id = due_at(&store, T0).await[0].context.issue_id;
    store
        .write(move |c| {
            crate::errors::issues::set_status(
                c,
                issue_id,
                crate::errors::status::IssueStatus::Resolved,
            )
        })
        .await
        .unwrap();
    // Events 2 and 3 are held in memory, not in the issue's row.
    record(event(4, "load", T0 + 30)).await.unwrap();
    let due = due_at(&store, T0 + 30).await;
    let regressed = due
        .iter()
        .find(|due| due.context.change == Change::Regressed)
        .expect("a regression notification");
    assert_eq!(regressed.context.count, 4);
    assert_eq!(regressed.context.last_seen_ms, T0 + 30);
}

#[tokio::test]
async fn over_the_project_limit_notifications_are_suppressed() {
    let (store, _dir) = store().await;
    add_webhook(&store, "http://127.0.0.1:9/a").await;
    let functions = ["a", "b", "c", "d"];
    let mut outcomes = Vec::new();
    for (i, function) in functions.iter().enumerate() {
        let at = T0 + i64::try_from(i).unwrap();
        outcomes.push(ingest(&store, event(i as u32, function, at), 2).await);
    }
    let queued = Some(Enqueued::Queued { deliveries: 1 });
    assert_eq!(
        outcomes,
        [
            queued,
            queued,
            Some(Enqueued::Suppressed),
            Some(Enqueued::Suppressed)
        ]
    );
    assert_eq!(due_at(&store, T0 + 10).await.len(), 2);
    // A minute later the window has room again.
    assert_eq!(ingest(&store, event(9, "e", T0 + 60_001), 2).await, queued);
}

#[tokio::test]
async fn failures_back_off_then_give_up() {
    let (store, _dir) = store().await;
    add_webhook(&store, "http://127.0.0.1:9/a").await;
    ingest(&store, event(1, "load", T0), 10).await;
    let mut now = T0;
    for attempt in 1..=MAX_ATTEMPTS {
        let due = due_at(&store, now).await;
        assert_eq!(due.len(), 1, "attempt {attempt}");
        let delivery = due.into_iter().next().unwrap();
        let next = store
            .write(move |c| record_result(c, &delivery, &Attempt::Failed("503".into()), now))
            .await
            .unwrap();
        if attempt == MAX_ATTEMPTS {
            assert_eq!(next, Next::GivenUp);
        } else {
            assert_eq!(next, Next::RetryAt(now + backoff_ms(attempt)));
            assert!(due_at(&store, now + backoff_ms(attempt) - 1)
                .await
                .is_empty());
            now += backoff_ms(attempt);
        }
    }
    assert!(due_at(&store, now + 3_600_000).await.is_empty());
}

#[test]
fn backoff_doubles_up_to_five_minutes() {
    let waits: Vec<i64> = (1..=10).map(backoff_ms).collect();
    assert_eq!(
        waits,
        [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000]
    );
    assert_eq!(backoff_ms(u32::MAX), 300_000);
    assert_eq!(
        next_after(&Attempt::Refused("404".into()), 1, T0),
        Next::GivenUp
    );
}

static CLOCK: AtomicI64 = AtomicI64::new(T0);

fn test_clock() -> i64 {
    CLOCK.load(Ordering::SeqCst)
}

#[tokio::test]
async fn the_sender_retries_a_failing_webhook_and_posts_the_link() {
    use axum::http::StatusCode;
    use axum::routing::post;

    // A webhook that answers 503 once, then 200, keeping what it got.
    let calls = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(std::sync::Mutex::new(Vec::<serde_json::Value>::new()));
    let app = axum::Router::new().route(
        "/hook",
        post({
            let (calls, bodies) = (Arc::clone(&calls), Arc::clone(&bodies));
            move |body: axum::Json<serde_json::Value>| async move {
                bodies.lock().unwrap().push(body.0);
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (store, _dir) = store().await;
    add_webhook(&store, &format!("http://{addr}/hook")).await;
    ingest(&store, event(1, "load", T0), 10).await;
    let telemetry = Telemetry::new();
    let config = SenderConfig {
        public_url: "https://partout.example".into(),
        clock: test_clock,
    };
    let client = sender::client().unwrap();
    let count = |outcome: &str| {
        telemetry
            .error_notifications
            .get_or_create(&NotificationLabels {
                outcome: outcome.into(),
            })
            .get()
    };

    assert_eq!(
        sender::round(&store, &client, &config, &telemetry)
            .await
            .unwrap(),
        1
    );
    assert_eq!(count("retried"), 1);
    // Not due again until the backoff has passed.
    assert_eq!(
        sender::round(&store, &client, &config, &telemetry)
            .await
            .unwrap(),
        0
    );
    CLOCK.store(T0 + backoff_ms(1), Ordering::SeqCst);
    assert_eq!(
        sender::round(&store, &client, &config, &telemetry)
            .await
            .unwrap(),
        1
    );
    assert_eq!(count("sent"), 1);
    assert_eq!(
        sender::round(&store, &client, &config, &telemetry)
            .await
            .unwrap(),
        0
    );

    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[1]["event"], "issue.new");
    let id = bodies[1]["issue"]["id"].as_i64().unwrap();
    assert_eq!(
        bodies[1]["issue"]["url"],
        format!("https://partout.example/ui/errors/{id}")
    );
}
