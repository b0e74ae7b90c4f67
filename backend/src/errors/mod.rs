//! Errors: events from Sentry SDKs, grouped into issues.
//!
//! The flow for one event (the HTTP side is `http::sentry_api`):
//! 1. `envelope` turns a decompressed envelope (or an old `store` body)
//!    into normalized events with the pure parsers of
//!    `partout_protocols::sentry`, counting the item types it skips;
//! 2. `prepare` fixes each event's time, id, user digest and the tags its
//!    issue counts, groups it, and compresses it for storage, against its
//!    issue's dictionary once it has one (before the writer sees it: on
//!    the async worker for a small body, else on a blocking thread);
//! 3. `event_queue` gathers the events of the requests waiting for the
//!    writer into one job, in which `record` runs: the issue is created or
//!    updated (`status` decides regressions) and its total counted, the
//!    event stored, and events past the per-issue limit dropped, all in
//!    the writer's transaction, so an answer means durable; its hour,
//!    user and tag values go to `counts`, written in batches;
//! 4. `issues` and `events` read it back for `http::issues_api`, and
//!    `view` turns stored events into API bodies.
//!
//! # Layout
//! - `projects`: projects and their DSN keys; the default project.
//! - `envelope`: request bodies into events and skipped items.
//! - `prepare`: one normalized event into what `record` writes.
//! - `event_queue`: the events of concurrent requests, recorded together
//!   in one writer job.
//! - `record`: the write path, inside a writer job.
//! - `counts`: issues' hourly, user and tag value counts, held in memory
//!   and written in batches, with the events not counted yet kept and
//!   read back after a crash.
//! - `status`: issue statuses and what an event does to them (pure).
//! - `issues`: issue queries: list, detail aggregates, status changes.
//! - `events`: the stored event codec (zstd JSON) and event pages.
//! - `dictionaries`: each issue's first event, the zstd dictionary its
//!   later events are compressed against, and their cache.
//! - `view`: normalized events into `partout_model::errors` bodies.
//! - `notify`: webhooks told of new and regressed issues, through a
//!   durable outbox.
//! - `rate_limit`: the per-project events-per-minute limit of ingestion.
//! - `sentry_logs`: SDK structured logs (`log` items) into log store lines.
//! - `from_logs`: a stored error log line with an exception into a
//!   Sentry event, with a link back to the line (pure).
//! - `log_errors`: the task that records those events, fed by the log
//!   writer through a bounded queue.
//! - `checkins`: cron monitors and their check-ins (`check_in` items):
//!   the update rules of a run, the per-monitor and per-project bounds,
//!   and their reads.
//! - `attachments`: files sent with events (`attachment` items),
//!   zstd-compressed, within a per-file limit and a per-project byte cap.
//! - `items`: the check-ins and attachments of one request, from the
//!   parsed body to one writer job.
//!
//! - `item_stats`: the transactions, sessions and client reports of one
//!   request, counted rather than stored: from the parsed body to one
//!   writer job.
//! - `transactions`: counts, failures and duration sketches per
//!   transaction name and hour, and the per-name summary.
//! - `sessions`: release health: the session counting rules (pure), the
//!   per-release hourly counts and users, and the release summary.
//! - `client_reports`: what SDKs dropped, by reason and category per
//!   hour.
//!
//! Invariant: aggregates (counts, hours, users, tag values) are counted
//! once per event and never recomputed from all stored events, because
//! stored events are cut to the newest N per issue; only the events after
//! `counts`' stored row, which retention keeps, are ever read back.

pub mod attachments;
pub mod checkins;
pub mod client_reports;
pub mod counts;
pub mod dictionaries;
pub mod envelope;
pub mod event_queue;
pub mod events;
pub mod from_logs;
pub mod issues;
pub mod item_stats;
pub mod items;
pub mod log_errors;
pub mod notify;
pub mod prepare;
pub mod projects;
pub mod rate_limit;
pub mod record;
pub mod sentry_logs;
pub mod sessions;
pub mod status;
pub mod traces;
pub mod transactions;
pub mod view;

use partout_protocols::sentry::envelope::EnvelopeLimits;
use partout_protocols::sentry::event::NormalizeLimits;

/// Default of `errors.events_per_issue`.
pub const DEFAULT_EVENTS_PER_ISSUE: usize = 100;
/// Default of `errors.events_per_minute`: far above what one application
/// sends when healthy, low enough that a crash loop cannot fill the disk.
pub const DEFAULT_EVENTS_PER_MINUTE: u32 = 60_000;

/// How errors are ingested and kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorsConfig {
    /// Events kept per issue, the newest; older ones are deleted, their
    /// counts stay.
    pub events_per_issue: usize,
    /// Bounds of one decompressed envelope.
    pub envelope: EnvelopeLimits,
    /// Bounds applied to each event.
    pub normalize: NormalizeLimits,
    /// Events a project may send per minute (0: no limit); over it SDKs
    /// are told to back off (429).
    pub events_per_minute: u32,
    /// Notifications a project sends per minute (0: no limit); the rest
    /// are recorded as suppressed.
    pub notifications_per_minute: u32,
    /// Bounds of stored check-ins and monitors.
    pub check_ins: checkins::CheckInLimits,
    /// Bounds of stored attachments.
    pub attachments: attachments::AttachmentLimits,
}

impl Default for ErrorsConfig {
    fn default() -> Self {
        ErrorsConfig {
            events_per_issue: DEFAULT_EVENTS_PER_ISSUE,
            envelope: EnvelopeLimits::default(),
            normalize: NormalizeLimits::default(),
            events_per_minute: DEFAULT_EVENTS_PER_MINUTE,
            notifications_per_minute: notify::DEFAULT_NOTIFICATIONS_PER_MINUTE,
            check_ins: checkins::CheckInLimits::default(),
            attachments: attachments::AttachmentLimits::default(),
        }
    }
}

/// What the errors side shares between requests and tasks at run time.
#[derive(Clone)]
pub struct ErrorRuntime {
    /// Request bodies decoded and parsed at once, one per core: more only
    /// queue for the same cores, and each extra blocking thread keeps its
    /// own allocator heap (64 concurrent SDK connections grew partout to
    /// 1.6 GB when every body had a thread of its own).
    pub body_permits: std::sync::Arc<tokio::sync::Semaphore>,
    /// The per-project ingestion limit.
    pub limiter: std::sync::Arc<rate_limit::EventLimiter>,
    /// Woken when a notification was recorded, so it goes out at once.
    pub outbox_wake: std::sync::Arc<tokio::sync::Notify>,
    /// DSN keys as ingestion last read them; invalidated by every key
    /// change.
    pub keys: std::sync::Arc<projects::KeyCache>,
    /// Issue dictionaries as ingestion last read them; they never change.
    pub dictionaries: std::sync::Arc<dictionaries::DictionaryCache>,
    /// Requests' events waiting to be recorded together.
    pub event_queue: std::sync::Arc<event_queue::EventQueue>,
    /// Issue counts not yet written.
    pub counts: std::sync::Arc<counts::IssueCounts>,
}

impl Default for ErrorRuntime {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        ErrorRuntime {
            body_permits: std::sync::Arc::new(tokio::sync::Semaphore::new(cores)),
            limiter: std::sync::Arc::default(),
            outbox_wake: std::sync::Arc::default(),
            keys: std::sync::Arc::default(),
            dictionaries: std::sync::Arc::default(),
            event_queue: std::sync::Arc::default(),
            counts: std::sync::Arc::default(),
        }
    }
}
