//! The write path: one prepared event into its issue, inside a writer job
//! (so inside the writer's transaction: everything below commits together
//! or not at all, and the SDK hears 200 only after the commit).
//!
//! Per event: find or create its issue; store its body, unless the issue
//! holds an event with its id (SDKs retry), which ends there; apply the
//! status rules; add what it changes on its issue (the count, last seen,
//! the latest title, the releases, its hour, user and tag values) to
//! `counts`, which writes them in batches; every [`retention_slack`]
//! events of the issue, delete its events past the newest
//! `events_per_issue` that are counted.

use std::borrow::Cow;

use rusqlite::{Connection, OptionalExtension};

use super::attachments;
use super::counts::{self, Counted, Details, IssueCounts};
use super::dictionaries;
use super::events::{self, EncodedBody};
use super::notify::message::Change;
use super::notify::outbox::{self, Enqueued};
use super::prepare::NewEvent;
use super::status::{self, IssueStatus};
use crate::store::StoreError;

/// What happened to one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It opened a new issue.
    NewIssue,
    /// It reopened a resolved issue.
    Regressed,
    /// It counted towards an existing issue.
    Counted,
    /// Its id was stored before: a retry, not counted again.
    Duplicate,
}

/// The issue an event went to and what it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub issue_id: i64,
    pub outcome: Outcome,
}

/// Records one event of `project_id` and, when it opens or reopens its
/// issue, that change's notification, in the same writer job: the path
/// every source of events (SDK envelopes, error log lines) takes, so a
/// change is notified exactly when it is committed. `per_minute` is the
/// project's notification limit.
pub fn record_and_notify(
    conn: &Connection,
    project_id: i64,
    event: &NewEvent,
    keep: usize,
    per_minute: u32,
    counts: &IssueCounts,
) -> Result<(Recorded, Option<Enqueued>), StoreError> {
    let recorded = record_event(conn, project_id, event, keep, counts)?;
    let change = match recorded.outcome {
        Outcome::NewIssue => Some(Change::New),
        Outcome::Regressed => Some(Change::Regressed),
        Outcome::Counted | Outcome::Duplicate => None,
    };
    let notification = change
        .map(|change| {
            outbox::enqueue(
                conn,
                project_id,
                recorded.issue_id,
                change,
                event,
                per_minute,
                counts,
            )
        })
        .transpose()?;
    Ok((recorded, notification))
}

/// Records one event of `project_id`, keeping `events_per_issue` events
/// per issue, and adds it to its issue's `counts`.
pub fn record_event(
    conn: &Connection,
    project_id: i64,
    event: &NewEvent,
    events_per_issue: usize,
    counts: &IssueCounts,
) -> Result<Recorded, StoreError> {
    let found = find_issue(conn, project_id, &event.grouping.key)?;
    let issue_id = match &found {
        Some(issue) => issue.id,
        None => insert_issue(conn, project_id, event)?,
    };
    // Before the status rules: a retry must not reopen its issue.
    let Some(row_id) = insert_event(conn, project_id, issue_id, event)? else {
        return Ok(Recorded {
            issue_id,
            outcome: Outcome::Duplicate,
        });
    };
    let (outcome, stored_count) = match found {
        Some(issue) => (apply_status_rules(conn, &issue, event)?, issue.event_count),
        // Its first event counts with the others, in `counts`.
        None => (Outcome::NewIssue, 0),
    };
    let held = counts.add(
        conn,
        &Counted {
            row_id,
            issue_id,
            timestamp_ms: event.timestamp_ms,
            details: Some(Details {
                facets: &event.facets,
                title: &event.grouping.title,
                culprit: event.grouping.culprit.as_deref(),
                level: event.level,
                platform: &event.platform,
                release: event.release.as_deref(),
            }),
        },
    )?;
    let event_count = stored_count + held;
    // Deleting one old event per new one costs more than storing it (the
    // freed blob pages, a walk of N index entries); a sweep every
    // `slack` events of the issue costs the walk once.
    if event_count % retention_slack(events_per_issue) == 0 {
        delete_past_newest(conn, project_id, issue_id, events_per_issue)?;
    }
    Ok(Recorded { issue_id, outcome })
}

/// Stores the event's row under `issue_id`; its row id, or `None` when
/// the issue already holds an event with its id (SDKs retry).
///
/// The check is the insert itself, on the unique index of
/// `(issue_id, event_id)`: a retry carries the same payload, so it groups
/// into the same issue. An index of event ids across the project puts
/// each new id on a random page of it, and each id a sweep deletes on
/// another, every one a page the commit writes to the WAL again: with it,
/// the writer took about a tenth more CPU per event (the errors
/// benchmark's writer line, median of three). Within an issue, the pages
/// an event touches are its issue's, few and hot.
fn insert_event(
    conn: &Connection,
    project_id: i64,
    issue_id: i64,
    event: &NewEvent,
) -> Result<Option<i64>, StoreError> {
    let (kind, body) = stored_body(conn, issue_id, &event.body)?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO error_events
                 (project_id, issue_id, event_id, timestamp_ms, received_at_ms, body_kind, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (issue_id, event_id) DO NOTHING",
        )?
        .execute(rusqlite::params![
            project_id,
            issue_id,
            event.event_id,
            event.timestamp_ms,
            event.received_at_ms,
            kind,
            body.as_ref(),
        ])?;
    Ok((inserted > 0).then(|| conn.last_insert_rowid()))
}

/// How an event's body is stored (`body_kind`, `body`): an offered body
/// becomes the issue's dictionary when it has none, and then needs no
/// bytes of its own; a body compressed against another issue's
/// dictionary (which no grouping key can name twice, but a row is
/// forever) is stored alone instead.
fn stored_body<'a>(
    conn: &Connection,
    issue_id: i64,
    body: &'a EncodedBody,
) -> Result<(i64, Cow<'a, [u8]>), StoreError> {
    Ok(match body {
        EncodedBody::Offered(bytes) => {
            if dictionaries::offer(conn, issue_id, bytes)? {
                (events::KIND_IS_DICTIONARY, Cow::Borrowed(&[][..]))
            } else {
                (events::KIND_ALONE, Cow::Borrowed(bytes.as_slice()))
            }
        }
        EncodedBody::AgainstIssue {
            dictionary,
            bytes,
            shared_traces,
        } if dictionary.issue_id == issue_id => {
            let kind = if *shared_traces {
                events::KIND_SHARED_TRACES
            } else {
                events::KIND_AGAINST_ISSUE
            };
            (kind, Cow::Borrowed(bytes.as_slice()))
        }
        EncodedBody::AgainstIssue { .. } => {
            let alone = body.json().and_then(|json| events::compress_alone(&json));
            let alone = alone
                .map_err(|error| StoreError::Task(format!("cannot store an event: {error}")))?;
            (events::KIND_ALONE, Cow::Owned(alone))
        }
    })
}

/// How many events an issue may store past its `events_per_issue` before
/// they are deleted: a tenth more, so a sweep runs every tenth event.
pub fn retention_slack(events_per_issue: usize) -> i64 {
    i64::try_from(events_per_issue / 10)
        .unwrap_or(i64::MAX)
        .max(1)
}

/// Deletes the issue's events past its newest `events_per_issue`, and the
/// attachments that came with them.
fn delete_past_newest(
    conn: &Connection,
    project_id: i64,
    issue_id: i64,
    events_per_issue: usize,
) -> Result<(), StoreError> {
    // The row ids only grow, so "newest" is arrival order. With at most N
    // events stored there is no cut-off and nothing goes.
    let cut_off: Option<i64> = conn
        .prepare_cached(
            "SELECT id FROM error_events WHERE issue_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2",
        )?
        .query_row(
            rusqlite::params![
                issue_id,
                i64::try_from(events_per_issue.max(1)).unwrap_or(i64::MAX)
            ],
            |row| row.get(0),
        )
        .optional()?;
    let Some(cut_off) = cut_off else {
        return Ok(());
    };
    // Events not counted yet stay until they are: a crash leaves their
    // counts to be read back from them.
    let cut_off = cut_off.min(counts::stored_through(conn)?);
    attachments::delete_for_events(conn, project_id, issue_id, cut_off)?;
    conn.prepare_cached("DELETE FROM error_events WHERE issue_id = ?1 AND id <= ?2")?
        .execute(rusqlite::params![issue_id, cut_off])?;
    Ok(())
}

/// What the status rules need of an existing issue.
struct FoundIssue {
    id: i64,
    status: String,
    resolved_in_release: Option<String>,
    first_seen_ms: i64,
    /// Its event count as stored (without the events `counts` holds).
    event_count: i64,
}

/// The project's issue of `grouping_key`, if it has one.
fn find_issue(
    conn: &Connection,
    project_id: i64,
    grouping_key: &str,
) -> Result<Option<FoundIssue>, StoreError> {
    let found = conn
        .prepare_cached(
            "SELECT id, status, resolved_in_release, first_seen_ms, event_count FROM error_issues
             WHERE project_id = ?1 AND grouping_key = ?2",
        )?
        .query_row(rusqlite::params![project_id, grouping_key], |row| {
            Ok(FoundIssue {
                id: row.get(0)?,
                status: row.get(1)?,
                resolved_in_release: row.get(2)?,
                first_seen_ms: row.get(3)?,
                event_count: row.get(4)?,
            })
        })
        .optional()?;
    Ok(found)
}

/// Opens the issue of the event's grouping; its id. The rest of what an
/// event changes on its issue row (the count, last seen, the latest
/// title, culprit, level and platform, the releases) is written with the
/// issue's counts: updating the row for every event moved two of its
/// index entries each time.
fn insert_issue(conn: &Connection, project_id: i64, event: &NewEvent) -> Result<i64, StoreError> {
    let grouping = &event.grouping;
    let components = serde_json::to_string(&grouping.components)
        .map_err(|error| StoreError::Task(format!("cannot encode grouping components: {error}")))?;
    conn.prepare_cached(
        "INSERT INTO error_issues (project_id, grouping_key, grouping_method,
             grouping_components, title, culprit, level, platform, status,
             first_seen_ms, last_seen_ms, event_count, user_count, first_release, last_release)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'unresolved', ?9, ?9, 0, 0, ?10, ?10)",
    )?
    .execute(rusqlite::params![
        project_id,
        grouping.key,
        grouping.method.as_str(),
        components,
        grouping.title,
        grouping.culprit,
        event.level,
        event.platform,
        event.timestamp_ms,
        event.release,
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Applies the status rules to an existing issue for a new event of it,
/// and moves its first seen back for an event older than every other.
fn apply_status_rules(
    conn: &Connection,
    issue: &FoundIssue,
    event: &NewEvent,
) -> Result<Outcome, StoreError> {
    // A status the schema allows but this build does not know cannot
    // happen (the CHECK constraint lists them); treat it as open.
    let current = IssueStatus::parse(&issue.status).unwrap_or(IssueStatus::Unresolved);
    let change = status::on_event(
        current,
        issue.resolved_in_release.as_deref(),
        event.release.as_deref(),
    );
    if change.regressed || change.status != current {
        conn.prepare_cached(
            "UPDATE error_issues SET
             status = ?2,
             resolved_in_release = CASE WHEN ?3 THEN NULL ELSE resolved_in_release END,
             regressed_at_ms = CASE WHEN ?3 THEN ?4 ELSE regressed_at_ms END,
             regressed_in_release = CASE WHEN ?3 THEN ?5 ELSE regressed_in_release END
         WHERE id = ?1",
        )?
        .execute(rusqlite::params![
            issue.id,
            change.status.as_str(),
            change.regressed,
            event.received_at_ms,
            event.release,
        ])?;
    }
    // Only an event older than every other moves `first_seen_ms`; setting
    // it on every event would rewrite its index entry each time.
    if event.timestamp_ms < issue.first_seen_ms {
        conn.prepare_cached("UPDATE error_issues SET first_seen_ms = ?2 WHERE id = ?1")?
            .execute(rusqlite::params![issue.id, event.timestamp_ms])?;
    }
    Ok(if change.regressed {
        Outcome::Regressed
    } else {
        Outcome::Counted
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::errors::counts::{MAX_TAG_VALUES, OTHER_VALUE};
    use crate::errors::issues::{self, IssueFilter};
    use crate::errors::prepare::prepare;
    use crate::errors::{events, projects};
    use crate::store::Store;
    use partout_protocols::sentry::event::{normalize_event, NormalizeLimits};
    use serde_json::json;

    fn event(payload: serde_json::Value, received_at_ms: i64) -> NewEvent {
        let event =
            normalize_event(payload.to_string().as_bytes(), &NormalizeLimits::default()).unwrap();
        prepare(event, received_at_ms, None, None).unwrap()
    }

    fn crash(id: u32, function: &str, release: &str, user: &str) -> serde_json::Value {
        json!({
            "event_id": format!("{id:032x}"),
            "release": release,
            "environment": "prod",
            "user": {"id": user},
            "tags": {"request_id": format!("req-{id}")},
            "exception": {"values": [{"type": "KeyError", "value": format!("'k{id}'"),
                "stacktrace": {"frames": [{"module": "app", "function": function, "lineno": id, "in_app": true}]}}]}
        })
    }

    /// A store in a temporary dir with the default project (id 1).
    pub(crate) async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write(|c| projects::ensure_default(c, 0))
            .await
            .unwrap();
        (store, dir)
    }

    /// A store with the default project, and the issue counts of its
    /// events.
    struct Fixture {
        store: Store,
        counts: Arc<IssueCounts>,
        _dir: tempfile::TempDir,
    }

    impl Fixture {
        async fn new() -> Fixture {
            let (store, dir) = store().await;
            Fixture {
                store,
                counts: Arc::default(),
                _dir: dir,
            }
        }

        /// Records an event and writes its issue's counts, as the next
        /// batch would.
        async fn set_status(&self, id: i64, status: IssueStatus) -> partout_model::errors::Issue {
            self.store
                .write(move |c| issues::set_status(c, id, status))
                .await
                .unwrap()
                .unwrap()
        }

        async fn issue(&self, id: i64) -> partout_model::errors::Issue {
            self.store
                .read(move |c| issues::get(c, id))
                .await
                .unwrap()
                .unwrap()
        }

        async fn record(&self, event: NewEvent, keep: usize) -> Recorded {
            let counts = Arc::clone(&self.counts);
            self.store
                .write(move |c| {
                    let recorded = record_event(c, 1, &event, keep, &counts)?;
                    counts.write(c)?;
                    Ok(recorded)
                })
                .await
                .unwrap()
        }
    }

    const HOUR: i64 = 3_600_000;
    const T0: i64 = 1_800_000_000_000;

    #[tokio::test]
    async fn events_group_count_and_retain_the_newest() {
        let fixture = Fixture::new().await;
        let store = fixture.store.clone();
        let first = fixture
            .record(event(crash(1, "load", "1.0", "ada"), T0), 2)
            .await;
        assert_eq!(first.outcome, Outcome::NewIssue);
        for (id, user) in [(2, "bob"), (3, "ada"), (4, "cy")] {
            let recorded = fixture
                .record(event(crash(id, "load", "1.1", user), T0 + HOUR), 2)
                .await;
            assert_eq!(
                recorded,
                Recorded {
                    issue_id: first.issue_id,
                    outcome: Outcome::Counted
                }
            );
        }
        let retry = fixture
            .record(event(crash(4, "load", "1.1", "cy"), T0 + HOUR), 2)
            .await;
        assert_eq!(retry.outcome, Outcome::Duplicate);
        let other = fixture
            .record(event(crash(5, "save", "1.1", "ada"), T0), 2)
            .await;
        assert_eq!(other.outcome, Outcome::NewIssue);
        assert_ne!(other.issue_id, first.issue_id);

        let id = first.issue_id;
        let issue = store
            .read(move |c| issues::get(c, id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((issue.count, issue.user_count), (4, 3));
        assert_eq!((issue.first_seen_ms, issue.last_seen_ms), (T0, T0 + HOUR));
        assert_eq!(issue.first_release.as_deref(), Some("1.0"));
        assert_eq!(issue.last_release.as_deref(), Some("1.1"));
        assert_eq!(issue.status, "unresolved");
        assert_eq!(issue.title, "KeyError: 'k4'");
        let stored = store
            .read(move |c| events::stored_count(c, id))
            .await
            .unwrap();
        assert_eq!(stored, 2, "only the newest two events are kept");
        let (page, _) = store
            .read(move |c| events::page(c, id, None, 10))
            .await
            .unwrap();
        let ids: Vec<&str> = page.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids, [format!("{:032x}", 4), format!("{:032x}", 3)]);

        let hours = store.read(move |c| issues::hours(c, id, 0)).await.unwrap();
        let counts: Vec<(i64, u64)> = hours.iter().map(|h| (h.start_ms, h.count)).collect();
        assert_eq!(counts, [(T0 - T0 % HOUR, 1), (T0 - T0 % HOUR + HOUR, 3)]);

        let tags = store
            .read(move |c| issues::tag_distribution(c, id, 10))
            .await
            .unwrap();
        let release = tags.iter().find(|t| t.key == "release").unwrap();
        assert_eq!(release.total, 4);
        assert_eq!(
            (release.values[0].value.as_str(), release.values[0].count),
            ("1.1", 3)
        );
        let requests = tags.iter().find(|t| t.key == "request_id").unwrap();
        assert_eq!(requests.values.len(), 4);

        let listed = store
            .read(|c| {
                issues::list(
                    c,
                    &IssueFilter {
                        release: Some("1.0".into()),
                        ..IssueFilter::default()
                    },
                )
            })
            .await
            .unwrap();
        assert_eq!(listed.0.len(), 1);
        assert_eq!(listed.0[0].id, id);
    }

    #[tokio::test]
    async fn an_older_event_moves_first_seen_back_and_a_newer_one_last_seen() {
        let fixture = Fixture::new().await;
        let store = fixture.store.clone();
        let first = fixture
            .record(event(crash(1, "load", "1.0", "ada"), T0), 10)
            .await;
        let id = first.issue_id;
        let seen = |store: &Store| {
            let store = store.clone();
            async move {
                let issue = store
                    .read(move |c| issues::get(c, id))
                    .await
                    .unwrap()
                    .unwrap();
                (issue.first_seen_ms, issue.last_seen_ms)
            }
        };
        fixture
            .record(event(crash(2, "load", "1.0", "bob"), T0 + HOUR), 10)
            .await;
        assert_eq!(seen(&store).await, (T0, T0 + HOUR));
        // Sent late: an SDK that was offline, or a slow retry.
        fixture
            .record(event(crash(3, "load", "1.0", "cy"), T0 - HOUR), 10)
            .await;
        assert_eq!(seen(&store).await, (T0 - HOUR, T0 + HOUR));
        fixture
            .record(event(crash(4, "load", "1.0", "cy"), T0), 10)
            .await;
        assert_eq!(seen(&store).await, (T0 - HOUR, T0 + HOUR));
    }

    #[tokio::test]
    async fn resolved_issues_regress_with_the_release_they_came_back_in() {
        let fixture = Fixture::new().await;
        let first = fixture
            .record(event(crash(1, "load", "1.0", "ada"), T0), 10)
            .await;
        let id = first.issue_id;
        fixture.set_status(id, IssueStatus::Resolved).await;
        let back = fixture
            .record(event(crash(2, "load", "1.1", "ada"), T0 + 10), 10)
            .await;
        assert_eq!(back.outcome, Outcome::Regressed);
        let issue = fixture.issue(id).await;
        assert_eq!(issue.status, "unresolved");
        assert!(issue.regressed);
        assert_eq!(issue.regressed_in_release.as_deref(), Some("1.1"));
        assert_eq!(issue.regressed_at_ms, Some(T0 + 10));

        // Resolved in the next release: 1.1 events are expected, 1.2 is not.
        let issue = fixture
            .set_status(id, IssueStatus::ResolvedInNextRelease)
            .await;
        assert_eq!(issue.resolved_in_release.as_deref(), Some("1.1"));
        assert!(!issue.regressed, "leaving unresolved clears the mark");
        let old = fixture
            .record(event(crash(3, "load", "1.1", "ada"), T0 + 20), 10)
            .await;
        assert_eq!(old.outcome, Outcome::Counted);
        let new = fixture
            .record(event(crash(4, "load", "1.2", "ada"), T0 + 30), 10)
            .await;
        assert_eq!(new.outcome, Outcome::Regressed);

        let ignored = fixture.set_status(id, IssueStatus::Ignored).await;
        assert_eq!(ignored.status, "ignored");
        let quiet = fixture
            .record(event(crash(5, "load", "1.3", "ada"), T0 + 40), 10)
            .await;
        assert_eq!(quiet.outcome, Outcome::Counted);
    }

    #[tokio::test]
    async fn a_retried_event_neither_reopens_nor_counts() {
        let fixture = Fixture::new().await;
        let store = fixture.store.clone();
        let first = fixture
            .record(event(crash(1, "load", "1.0", "ada"), T0), 10)
            .await;
        let id = first.issue_id;
        fixture.set_status(id, IssueStatus::Resolved).await;
        let retry = fixture
            .record(event(crash(1, "load", "1.0", "ada"), T0), 10)
            .await;
        assert_eq!(
            retry,
            Recorded {
                issue_id: id,
                outcome: Outcome::Duplicate
            }
        );
        let issue = fixture.issue(id).await;
        assert_eq!(issue.status, "resolved", "a retry is not a recurrence");
        assert!(!issue.regressed);
        assert_eq!(issue.count, 1);
        let rows: i64 = store
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM error_events WHERE issue_id = ?1",
                    [id],
                    |row| row.get(0),
                )?)
            })
            .await
            .unwrap();
        assert_eq!(rows, 1, "stored once");
    }

    #[tokio::test]
    async fn old_events_go_in_sweeps_that_keep_the_newest() {
        let fixture = Fixture::new().await;
        let store = fixture.store.clone();
        let keep = 20;
        assert_eq!(retention_slack(keep), 2);
        let mut issue_id = 0;
        for id in 1..=25 {
            issue_id = fixture
                .record(event(crash(id, "load", "1.0", "ada"), T0), keep)
                .await
                .issue_id;
            let stored = store
                .read(move |c| events::stored_count(c, issue_id))
                .await
                .unwrap();
            let expected = match id {
                // The sweeps at the 22nd and 24th events leave 20.
                22 | 24 => 20,
                id => u64::from(id.min(21)),
            };
            assert_eq!(stored, expected, "after event {id}");
        }
        let (page, _) = store
            .read(move |c| events::page(c, issue_id, None, 100))
            .await
            .unwrap();
        let ids: Vec<String> = page.iter().map(|e| e.event_id.clone()).collect();
        let newest: Vec<String> = (5..=25).rev().map(|id| format!("{id:032x}")).collect();
        assert_eq!(ids, newest, "the oldest go first");
    }

    #[tokio::test]
    async fn a_swept_event_takes_its_attachments_with_it() {
        use crate::errors::attachments::{self, AttachmentLimits, NewAttachment};
        let fixture = Fixture::new().await;
        let store = fixture.store.clone();
        let keep = 2;
        let attach = |id: u32, bytes: &'static [u8]| {
            store.write(move |c| {
                let file = NewAttachment {
                    filename: format!("f{id}.txt"),
                    content_type: "text/plain".to_owned(),
                    attachment_type: "event.attachment".to_owned(),
                    size: bytes.len() as u64,
                    body: zstd::bulk::compress(bytes, 3).unwrap(),
                };
                attachments::record_attachments(
                    c,
                    1,
                    &format!("{id:032x}"),
                    &[file],
                    T0,
                    &AttachmentLimits::default(),
                )
            })
        };
        for id in 1..=2 {
            attach(id, b"a file of the event").await.unwrap();
            fixture
                .record(event(crash(id, "load", "1.0", "ada"), T0), keep)
                .await;
        }
        let before = store.read(|c| attachments::usage(c, 1)).await.unwrap();
        assert!(before > 0);
        // The third event's sweep deletes the first event and its file,
        // and gives its bytes back to the project's allowance.
        fixture
            .record(event(crash(3, "load", "1.0", "ada"), T0), keep)
            .await;
        let left =
            |id: u32| store.read(move |c| attachments::list_for_event(c, 1, &format!("{id:032x}")));
        assert!(left(1).await.unwrap().is_empty());
        assert_eq!(left(2).await.unwrap().len(), 1);
        let after = store.read(|c| attachments::usage(c, 1)).await.unwrap();
        assert_eq!(after * 2, before, "one of two equal files is left");
    }

    #[tokio::test]
    async fn tag_values_per_key_are_bounded() {
        let fixture = Fixture::new().await;
        let store = fixture.store.clone();
        let mut issue_id = 0;
        for id in 0..(MAX_TAG_VALUES as u32 + 5) {
            issue_id = fixture
                .record(event(crash(id, "load", "1.0", "ada"), T0), 1)
                .await
                .issue_id;
        }
        let tags = store
            .read(move |c| issues::tag_distribution(c, issue_id, 1000))
            .await
            .unwrap();
        let requests = tags.iter().find(|t| t.key == "request_id").unwrap();
        assert_eq!(requests.values.len(), MAX_TAG_VALUES as usize + 1);
        assert_eq!(requests.values[0].value, OTHER_VALUE);
        assert_eq!(requests.values[0].count, 5);
        assert_eq!(requests.total, u64::from(MAX_TAG_VALUES as u32 + 5));
    }

    /// How the rows of an issue's events are stored, oldest first.
    async fn kinds(store: &Store, issue_id: i64) -> Vec<(i64, i64)> {
        store
            .read(move |c| {
                let mut stmt = c.prepare(
                    "SELECT body_kind, length(body) FROM error_events WHERE issue_id = ?1 ORDER BY id",
                )?;
                let rows = stmt.query_map([issue_id], |row| Ok((row.get(0)?, row.get(1)?)))?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_issue_takes_its_first_event_as_dictionary_and_its_events_read_back() {
        use crate::errors::dictionaries::DictionaryCache;
        use crate::errors::prepare::prepare_against;
        let fixture = Fixture::new().await;
        let store = fixture.store.clone();
        let cache = DictionaryCache::default();
        let normalized = |id: u32| {
            normalize_event(
                crash(id, "load", "1.0", "ada").to_string().as_bytes(),
                &NormalizeLimits::default(),
            )
            .unwrap()
        };
        let prepared = |id: u32, store: &Store, cache: &DictionaryCache| {
            let lookup = |key: &str| cache.lookup(store, 1, key).unwrap();
            prepare_against(normalized(id), T0, None, None, &lookup).unwrap()
        };
        // Two events prepared before either is stored both offer
        // themselves; the first stored wins, the second is stored alone.
        let first = prepared(1, &store, &cache);
        let second = prepared(2, &store, &cache);
        assert!(matches!(first.body, EncodedBody::Offered(_)));
        let issue_id = fixture.record(first, 100).await.issue_id;
        fixture.record(second, 100).await;
        // Later events find the dictionary in the store, then in memory.
        let third = prepared(3, &store, &cache);
        assert!(matches!(third.body, EncodedBody::AgainstIssue { .. }));
        assert_eq!(cache.usage().0, 1);
        fixture.record(third, 100).await;
        fixture.record(prepared(4, &store, &cache), 100).await;
        let stored = kinds(&store, issue_id).await;
        let kinds_only: Vec<i64> = stored.iter().map(|(kind, _)| *kind).collect();
        assert_eq!(
            kinds_only,
            [
                events::KIND_IS_DICTIONARY,
                events::KIND_ALONE,
                events::KIND_AGAINST_ISSUE,
                events::KIND_AGAINST_ISSUE
            ]
        );
        assert_eq!(stored[0].1, 0, "the dictionary is not stored twice");
        assert!(stored[2].1 < stored[1].1, "{stored:?}");
        // Every event reads back whole, and an event compressed against
        // one issue's dictionary but stored under another reads back too.
        let mut foreign = prepared(5, &store, &cache);
        foreign.grouping.key = "0".repeat(32);
        let other_issue = fixture.record(foreign, 100).await.issue_id;
        assert_ne!(other_issue, issue_id);
        assert_eq!(kinds(&store, other_issue).await[0].0, events::KIND_ALONE);
        let (page, _) = store
            .read(move |c| events::page(c, issue_id, None, 10))
            .await
            .unwrap();
        let ids: Vec<u32> = page
            .iter()
            .map(|stored| u32::from_str_radix(&stored.event_id, 16).unwrap())
            .collect();
        assert_eq!(ids, [4, 3, 2, 1]);
        for stored in &page {
            let id = u32::from_str_radix(&stored.event_id, 16).unwrap();
            let mut expected = normalized(id);
            expected.event_id = Some(stored.event_id.clone());
            expected.timestamp_micros = stored.event.timestamp_micros;
            assert_eq!(stored.event, expected);
        }
        let (other, _) = store
            .read(move |c| events::page(c, other_issue, None, 10))
            .await
            .unwrap();
        assert_eq!(other[0].event.exceptions, normalized(5).exceptions);

        // An event that failed exactly where the first did (same frames)
        // is stored without its frames and reads back whole; so does one
        // prepared against this issue's dictionary but stored under
        // another issue.
        let same_place = |id: u32| {
            let mut event = normalized(id);
            event.exceptions[0].stacktrace = normalized(1).exceptions[0].stacktrace.clone();
            event
        };
        let lookup = |key: &str| cache.lookup(&store, 1, key).unwrap();
        let sixth = prepare_against(same_place(6), T0, None, None, &lookup).unwrap();
        assert!(matches!(
            sixth.body,
            EncodedBody::AgainstIssue {
                shared_traces: true,
                ..
            }
        ));
        assert_eq!(fixture.record(sixth, 100).await.issue_id, issue_id);
        let stored = kinds(&store, issue_id).await;
        assert_eq!(stored.last().unwrap().0, events::KIND_SHARED_TRACES);
        let mut moved = prepare_against(same_place(7), T0, None, None, &lookup).unwrap();
        moved.grouping.key = "1".repeat(32);
        let moved_issue = fixture.record(moved, 100).await.issue_id;
        assert_eq!(kinds(&store, moved_issue).await[0].0, events::KIND_ALONE);
        for (issue, id) in [(issue_id, 6), (moved_issue, 7)] {
            let latest = store
                .read(move |c| events::latest(c, issue))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(latest.event.exceptions, same_place(id).exceptions);
            assert!(!latest.event.exceptions[0]
                .stacktrace
                .as_ref()
                .unwrap()
                .frames
                .is_empty());
        }
    }
}
