//! Event writes from concurrent requests, recorded together in one
//! writer job.
//!
//! Each request's events used to be a writer job of their own, with its
//! own savepoint: SQLite copied every page a job changed into the
//! savepoint's journal first, so the pages events share (an issue's row,
//! index tails, the newest hour) were copied once per request, and every
//! job paid its own queueing, wake-ups and savepoint statements. Here the
//! first request that finds the queue empty submits one job; when the
//! writer runs it, the job takes every request queued by then and records
//! all their events in one savepoint. Requests keep their own results and
//! are answered only once the job's commit is durable.
//!
//! A failed job fails every request it took: its savepoint is rolled back
//! whole, so none of their events is stored, and each request says so.
//! The queue holds at most one entry per request in flight, which the
//! HTTP layer bounds.

use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::counts::IssueCounts;
use super::notify::outbox::Enqueued;
use super::prepare::NewEvent;
use super::record::{record_and_notify, Recorded};
use crate::store::{Store, StoreError};

/// What one event did, and its notification if it changed its issue.
pub struct Stored {
    pub recorded: Recorded,
    pub event: NewEvent,
    pub notification: Option<Enqueued>,
}

/// How events are kept and counted, for every job.
#[derive(Clone)]
pub struct Keep {
    /// Events kept per issue (`errors.events_per_issue`).
    pub events_per_issue: usize,
    /// Notifications a project sends per minute.
    pub notifications_per_minute: u32,
    /// Where their issues' counts go.
    pub counts: Arc<IssueCounts>,
}

/// What the queue counts, for `/metrics`.
#[derive(Clone, Default)]
pub struct QueueCounters {
    /// Writer jobs run.
    pub jobs: prometheus_client::metrics::counter::Counter,
    /// Requests those jobs took.
    pub requests: prometheus_client::metrics::counter::Counter,
}

type Reply = oneshot::Sender<Result<Vec<Stored>, StoreError>>;

/// One request's events, waiting for the job that records them.
struct Waiting {
    project_id: i64,
    events: Vec<NewEvent>,
    reply: Reply,
}

/// Requests' events waiting for their writer job.
#[derive(Default)]
pub struct EventQueue {
    waiting: Mutex<Vec<Waiting>>,
}

impl EventQueue {
    /// Records `events` of `project_id`, with those of every request
    /// queued beside them, and returns what each of them did once that is
    /// durable.
    pub async fn record(
        self: &Arc<Self>,
        store: &Store,
        keep: Keep,
        counters: &QueueCounters,
        project_id: i64,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Stored>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let first = {
            let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            waiting.push(Waiting {
                project_id,
                events,
                reply,
            });
            waiting.len() == 1
        };
        // A queue that was empty has no job coming for it: submit one. It
        // runs apart from this request, so a caller that goes away does
        // not leave the others it takes unanswered.
        if first {
            let queue = Arc::clone(self);
            let store = store.clone();
            let counters = counters.clone();
            tokio::spawn(async move { queue.write_waiting(&store, keep, counters).await });
        }
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// One writer job over every request waiting when it runs.
    async fn write_waiting(self: Arc<Self>, store: &Store, keep: Keep, counters: QueueCounters) {
        // The replies leave the job before it records anything, so a job
        // that fails (and must return its error to be rolled back) can
        // still answer them.
        let replies: Arc<Mutex<Vec<Reply>>> = Arc::default();
        let job_replies = Arc::clone(&replies);
        let queue = Arc::clone(&self);
        let written = store
            .write(move |conn| {
                let taken = std::mem::take(
                    &mut *queue.waiting.lock().unwrap_or_else(PoisonError::into_inner),
                );
                let mut requests = Vec::with_capacity(taken.len());
                let mut held = job_replies.lock().unwrap_or_else(PoisonError::into_inner);
                for waiting in taken {
                    held.push(waiting.reply);
                    requests.push((waiting.project_id, waiting.events));
                }
                drop(held);
                counters.jobs.inc();
                counters
                    .requests
                    .inc_by(u64::try_from(requests.len()).unwrap_or(u64::MAX));
                record_requests(conn, &keep, requests)
            })
            .await;
        let mut replies =
            std::mem::take(&mut *replies.lock().unwrap_or_else(PoisonError::into_inner));
        if replies.is_empty() && written.is_err() {
            // The job never ran (the store closed first): the requests it
            // was for are still queued, and no other job is coming for
            // them.
            replies =
                std::mem::take(&mut *self.waiting.lock().unwrap_or_else(PoisonError::into_inner))
                    .into_iter()
                    .map(|waiting| waiting.reply)
                    .collect();
        }
        match written {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    // A request that went away is not waiting any more.
                    let _ = reply.send(Ok(result));
                }
            }
            Err(error) => {
                for reply in replies {
                    let _ = reply.send(Err(shared_error(&error)));
                }
            }
        }
    }
}

/// Records each request's events, in the order the requests came.
fn record_requests(
    conn: &Connection,
    keep: &Keep,
    requests: Vec<(i64, Vec<NewEvent>)>,
) -> Result<Vec<Vec<Stored>>, StoreError> {
    requests
        .into_iter()
        .map(|(project_id, events)| {
            events
                .into_iter()
                .map(|event| {
                    let (recorded, notification) = record_and_notify(
                        conn,
                        project_id,
                        &event,
                        keep.events_per_issue,
                        keep.notifications_per_minute,
                        &keep.counts,
                    )?;
                    Ok(Stored {
                        recorded,
                        event,
                        notification,
                    })
                })
                .collect()
        })
        .collect()
}

/// The job's error for each request it took: a closed store stays
/// closed (the server is going away), anything else keeps its text, which
/// still tells a full disk ([`StoreError::is_disk_full`]).
fn shared_error(error: &StoreError) -> StoreError {
    match error {
        StoreError::Closed => StoreError::Closed,
        other => StoreError::Task(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::prepare::prepare;
    use crate::errors::record::tests::store;
    use crate::errors::record::Outcome;
    use partout_protocols::sentry::event::{normalize_event, NormalizeLimits};
    use serde_json::json;

    fn keep() -> Keep {
        Keep {
            events_per_issue: 100,
            notifications_per_minute: 0,
            counts: Arc::default(),
        }
    }

    fn event(id: u32, function: &str) -> NewEvent {
        let payload = json!({
            "event_id": format!("{id:032x}"),
            "exception": {"values": [{"type": "KeyError", "value": "k",
                "stacktrace": {"frames": [{"module": "app", "function": function, "in_app": true}]}}]}
        });
        let event =
            normalize_event(payload.to_string().as_bytes(), &NormalizeLimits::default()).unwrap();
        prepare(event, 1_800_000_000_000, None, None).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_each_get_their_own_events_back() {
        let (store, _dir) = store().await;
        let queue = Arc::new(EventQueue::default());
        let counters = QueueCounters::default();
        let shared = keep();
        let mut requests = Vec::new();
        for request in 0..40u32 {
            let (queue, store, counters, keep) = (
                Arc::clone(&queue),
                store.clone(),
                counters.clone(),
                shared.clone(),
            );
            requests.push(tokio::spawn(async move {
                // Two events a request; every fourth request repeats the
                // previous one's ids, as an SDK's retry does.
                let base = if request % 4 == 3 {
                    request - 1
                } else {
                    request
                };
                let events = vec![event(base * 2, "load"), event(base * 2 + 1, "save")];
                let stored = queue
                    .record(&store, keep, &counters, 1, events)
                    .await
                    .unwrap();
                (request, stored)
            }));
        }
        let mut new_issues = 0;
        let mut counted = 0;
        let mut duplicates = 0;
        for request in requests {
            let (request, stored) = request.await.unwrap();
            let base = if request % 4 == 3 {
                request - 1
            } else {
                request
            };
            let ids: Vec<String> = stored.iter().map(|s| s.event.event_id.clone()).collect();
            assert_eq!(
                ids,
                [
                    format!("{:032x}", base * 2),
                    format!("{:032x}", base * 2 + 1)
                ],
                "request {request} got another request's events"
            );
            for stored in &stored {
                match stored.recorded.outcome {
                    Outcome::NewIssue => new_issues += 1,
                    Outcome::Counted | Outcome::Regressed => counted += 1,
                    Outcome::Duplicate => duplicates += 1,
                }
            }
        }
        assert_eq!(new_issues, 2, "one issue per function");
        assert_eq!(duplicates, 20, "ten retried requests of two events each");
        assert_eq!(counted, 80 - 2 - 20);
        let events: i64 = store
            .read(|c| Ok(c.query_row("SELECT count(*) FROM error_events", [], |row| row.get(0))?))
            .await
            .unwrap();
        assert_eq!(events, 60);
        assert_eq!(counters.requests.get(), 40, "every request was taken once");
        let jobs = counters.jobs.get();
        assert!((1..=40).contains(&jobs), "{jobs} jobs for 40 requests");
    }

    #[tokio::test]
    async fn a_closed_store_answers_every_queued_request() {
        let (store, _dir) = store().await;
        store.close().await.unwrap();
        let queue = Arc::new(EventQueue::default());
        for id in 0..3 {
            let answer = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                queue.record(
                    &store,
                    keep(),
                    &QueueCounters::default(),
                    1,
                    vec![event(id, "load")],
                ),
            )
            .await
            .expect("a request waited for a job that never ran");
            assert!(
                matches!(answer, Err(StoreError::Closed)),
                "{:?}",
                answer.err()
            );
        }
    }

    #[tokio::test]
    async fn a_failed_job_fails_its_requests_and_stores_none_of_their_events() {
        let (store, _dir) = store().await;
        let queue = Arc::new(EventQueue::default());
        // An event of a project that does not exist breaks the foreign
        // key of its issue: the whole job is rolled back.
        let counters = QueueCounters::default();
        let keep = keep();
        let stored = queue
            .record(&store, keep.clone(), &counters, 999, vec![event(1, "load")])
            .await;
        assert!(stored.is_err(), "an event of no project was recorded");
        let events: i64 = store
            .read(|c| Ok(c.query_row("SELECT count(*) FROM error_events", [], |row| row.get(0))?))
            .await
            .unwrap();
        assert_eq!(events, 0);
        // The queue goes on with the next request.
        let stored = queue
            .record(&store, keep, &counters, 1, vec![event(2, "load")])
            .await
            .unwrap();
        assert_eq!(stored[0].recorded.outcome, Outcome::NewIssue);
    }
}
