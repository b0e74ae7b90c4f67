//! Bodies of the errors part of `/api/v1`: projects and their DSN keys,
//! issues (events grouped by cause) and the events themselves, as sent by
//! Sentry SDKs and normalized by the server.
//!
//! Free-form event data (contexts, `extra`, breadcrumb data) arrives as
//! arbitrary JSON; here it is flattened to text values, so this crate stays
//! on serde alone and the web app shows it as it is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A project: what one DSN sends to; issues never span projects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// The number at the end of the DSN.
    pub id: i64,
    pub name: String,
    pub created_at_ms: i64,
    /// Every key, revoked ones too (with `revoked_at_ms`), oldest first.
    pub keys: Vec<ProjectKey>,
}

/// A DSN's public key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectKey {
    pub id: i64,
    /// 32 hex digits, the user part of the DSN. Public by design: browser
    /// SDKs ship it in their JavaScript.
    pub public_key: String,
    pub label: String,
    /// `http://<public_key>@<host>/<project_id>`, with the host the request
    /// that listed it was sent to.
    pub dsn: String,
    pub created_at_ms: i64,
    /// Set once revoked: SDKs using it are refused (403) from then on.
    pub revoked_at_ms: Option<i64>,
}

/// `POST /api/v1/projects`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProjectRequest {
    /// Unique, 1 to 200 characters.
    pub name: String,
}

/// `POST /api/v1/projects/{id}/keys`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProjectKeyRequest {
    /// What the key is for [default: `default`].
    #[serde(default)]
    pub label: Option<String>,
}

/// The body a webhook is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookKind {
    /// partout's own JSON body with every field of the notification.
    #[default]
    Generic,
    /// `{"text": "..."}`, what Slack's incoming webhooks (and Mattermost's,
    /// Rocket.Chat's, ...) take.
    Slack,
}

/// A project's webhook: notified of new and regressed issues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: i64,
    pub project_id: i64,
    /// Where notifications are POSTed. Often a secret (Slack's URLs are):
    /// listing webhooks needs scope `write`.
    pub url: String,
    pub kind: WebhookKind,
    pub created_at_ms: i64,
}

/// `POST /api/v1/projects/{id}/webhooks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookRequest {
    /// An `http://` or `https://` URL.
    pub url: String,
    /// [default: `generic`]
    #[serde(default)]
    pub kind: WebhookKind,
}

/// One issue: every event with the same grouping key in a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub id: i64,
    pub project_id: i64,
    /// `PaymentDeclined: card declined for order A-1001`, from the latest
    /// event.
    pub title: String,
    /// Where it happened: `module in function` of the top in-app frame.
    pub culprit: Option<String>,
    /// The latest event's level: `debug`, `info`, `warning`, `error`, `fatal`.
    pub level: String,
    pub platform: String,
    /// `unresolved`, `resolved`, `resolved_in_next_release` or `ignored`.
    pub status: String,
    /// With `resolved_in_next_release`: the release that was current when
    /// it was resolved; events from it do not reopen the issue.
    pub resolved_in_release: Option<String>,
    /// Set when a resolved issue came back, until its status is changed
    /// again by hand.
    pub regressed: bool,
    pub regressed_at_ms: Option<i64>,
    /// The release it came back in, when the event named one.
    pub regressed_in_release: Option<String>,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// Every event ever received, including those past event retention.
    pub count: u64,
    /// Distinct users affected (by id, else email, username or IP address).
    pub user_count: u64,
    pub first_release: Option<String>,
    pub last_release: Option<String>,
    /// Which grouping rule applied: `fingerprint`, `exception`,
    /// `stacktrace`, `message` or `fallback`.
    pub grouping_method: String,
}

/// `GET /api/v1/issues`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueList {
    pub issues: Vec<Issue>,
    /// Pass as `offset` for the next page; absent on the last page.
    pub next_offset: Option<u64>,
}

/// `GET /api/v1/issues/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueDetail {
    pub issue: Issue,
    /// What the grouping key was computed from (`type:ValueError`,
    /// `frame:app.views|index`...), to explain why events grouped.
    pub grouping_components: Vec<String>,
    /// The newest stored event.
    pub latest_event: Option<ErrorEvent>,
    /// Per tag key, the most frequent values over every event received.
    pub tags: Vec<TagDistribution>,
    /// Events per hour (only hours with events), oldest first.
    pub hourly: Vec<HourCount>,
}

/// How a tag's values spread over an issue's events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagDistribution {
    pub key: String,
    /// Events that carried the tag.
    pub total: u64,
    /// The most frequent values, most frequent first.
    pub values: Vec<TagValueCount>,
}

/// One value of a [`TagDistribution`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagValueCount {
    pub value: String,
    pub count: u64,
}

/// One hour of an issue's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourCount {
    /// Unix ms of the hour's start.
    pub start_ms: i64,
    pub count: u64,
}

/// `GET /api/v1/issues/{id}/events`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventList {
    pub events: Vec<ErrorEvent>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<i64>,
}

/// `PATCH /api/v1/issues/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueUpdate {
    /// `unresolved`, `resolved`, `resolved_in_next_release` or `ignored`.
    pub status: String,
}

/// One stored event, as normalized on arrival.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEvent {
    /// 32 lowercase hex digits, the SDK's id.
    pub event_id: String,
    pub issue_id: i64,
    pub project_id: i64,
    /// When it happened (the SDK's clock, corrected for drift), Unix ms.
    pub timestamp_ms: i64,
    pub received_at_ms: i64,
    pub level: String,
    pub platform: String,
    /// The message of a `capture_message` or log-record event.
    pub message: Option<String>,
    pub logger: Option<String>,
    pub release: Option<String>,
    pub dist: Option<String>,
    pub environment: Option<String>,
    pub server_name: Option<String>,
    pub transaction: Option<String>,
    /// Innermost cause first, the exception that was raised last.
    pub exceptions: Vec<EventException>,
    /// A stack trace not attached to an exception (threads,
    /// `attach_stacktrace`).
    pub stacktrace: Option<EventStacktrace>,
    pub tags: Vec<EventTag>,
    pub user: Option<EventUser>,
    pub request: Option<EventRequest>,
    /// Oldest first.
    pub breadcrumbs: Vec<EventBreadcrumb>,
    /// Per context (`runtime`, `os`, `trace`...), its keys as text.
    pub contexts: BTreeMap<String, BTreeMap<String, String>>,
    pub extra: BTreeMap<String, String>,
    pub sdk: Option<EventSdk>,
    pub fingerprint: Vec<String>,
}

/// One exception of an event's chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventException {
    /// The exception's type (`ValueError`).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub value: Option<String>,
    pub module: Option<String>,
    /// How it was captured: `generic`, `excepthook`...
    pub mechanism: Option<String>,
    /// `false` when nothing caught it: a crash.
    pub handled: Option<bool>,
    pub stacktrace: Option<EventStacktrace>,
}

/// A stack trace, outermost call first and the failing frame last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventStacktrace {
    pub frames: Vec<EventFrame>,
    /// Frames dropped from the middle of a very deep stack.
    pub frames_omitted: u64,
}

/// One stack frame (local variables are never kept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventFrame {
    pub filename: Option<String>,
    pub abs_path: Option<String>,
    pub function: Option<String>,
    pub module: Option<String>,
    pub lineno: Option<u32>,
    pub colno: Option<u32>,
    /// The application's own code rather than a library's.
    pub in_app: Option<bool>,
    pub context_line: Option<String>,
    pub pre_context: Vec<String>,
    pub post_context: Vec<String>,
}

/// One tag of an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventTag {
    pub key: String,
    pub value: String,
}

/// The user an event happened to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventUser {
    pub id: Option<String>,
    pub email: Option<String>,
    pub username: Option<String>,
    pub ip_address: Option<String>,
}

/// The HTTP request being served, without credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRequest {
    pub url: Option<String>,
    pub method: Option<String>,
    pub headers: Vec<EventTag>,
}

/// Something that happened before the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventBreadcrumb {
    pub timestamp_ms: Option<i64>,
    /// `default`, `http`, `navigation`, `query`...
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub category: Option<String>,
    pub message: Option<String>,
    pub level: Option<String>,
    pub data: BTreeMap<String, String>,
}

/// The SDK that sent an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSdk {
    pub name: Option<String>,
    pub version: Option<String>,
}

/// A cron monitor: a scheduled job of a project that reports check-ins
/// (`sentry_sdk.crons`), keyed by its slug.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Monitor {
    pub project_id: i64,
    /// Lowercase letters, digits, `-` and `_`, as SDKs send it (names
    /// are turned into slugs the way Sentry does).
    pub slug: String,
    /// When its first check-in arrived, Unix ms.
    pub created_at_ms: i64,
    /// The latest check-in's status: `in_progress`, `ok` or `error`.
    pub last_status: Option<String>,
    /// When the latest check-in happened, Unix ms.
    pub last_check_in_ms: Option<i64>,
    /// The schedule the SDK last sent, if it ever sent one.
    pub config: Option<MonitorConfig>,
    /// Check-ins started in the last 24 hours, by status.
    pub recent: CheckInCounts,
}

/// When a monitor's job should run and how late it may be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorConfig {
    pub schedule: MonitorSchedule,
    /// Minutes a check-in may be late before it counts as missed.
    pub checkin_margin_minutes: Option<u32>,
    /// Minutes a run may stay in progress before it counts as timed out.
    pub max_runtime_minutes: Option<u32>,
    /// The IANA time zone of a crontab schedule (UTC when absent).
    pub timezone: Option<String>,
    pub failure_issue_threshold: Option<u32>,
    pub recovery_threshold: Option<u32>,
    /// When this configuration was last sent, Unix ms.
    pub updated_at_ms: i64,
}

/// A monitor's schedule, in Sentry's shape:
/// `{"type": "crontab", "value": "0 3 * * *"}` or
/// `{"type": "interval", "value": 2, "unit": "hour"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum MonitorSchedule {
    Crontab { value: String },
    Interval { value: u32, unit: String },
}

/// Check-ins by status over a window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInCounts {
    /// The window's start, Unix ms.
    pub since_ms: i64,
    pub in_progress: u64,
    pub ok: u64,
    pub error: u64,
}

/// One run of a monitored job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckIn {
    /// partout's id: the `before` cursor of check-in pages.
    pub id: i64,
    /// The SDK's id (32 hex digits) that ties `in_progress` to its end.
    pub check_in_id: Option<String>,
    /// `in_progress`, `ok` or `error`.
    pub status: String,
    /// How long the run took: as the SDK measured it, else from the
    /// `in_progress` check-in to the final one.
    pub duration_ms: Option<f64>,
    pub release: Option<String>,
    pub environment: Option<String>,
    /// The run's trace, to find the errors it caused.
    pub trace_id: Option<String>,
    /// When the run started, Unix ms.
    pub started_at_ms: i64,
    /// When it finished; `None` while in progress.
    pub finished_at_ms: Option<i64>,
    /// When the latest check-in of this run arrived, Unix ms.
    pub received_at_ms: i64,
}

/// `GET /api/v1/projects/{id}/monitors/{slug}/check-ins`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckInList {
    pub check_ins: Vec<CheckIn>,
    /// Pass as `before` for the next (older) page; `None` at the end.
    pub next_before: Option<i64>,
}

/// A file an SDK attached to an event (`scope.add_attachment`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    /// Fetch the bytes at `/api/v1/attachments/{id}`.
    pub id: i64,
    pub project_id: i64,
    /// The event it was sent with.
    pub event_id: String,
    pub filename: String,
    pub content_type: String,
    /// `event.attachment`, `event.minidump`, `event.view_hierarchy`...
    pub attachment_type: String,
    /// Bytes as sent.
    pub size: u64,
    pub received_at_ms: i64,
}

/// `GET /api/v1/projects/{id}/transactions`: performance per transaction
/// name over a time range, most frequent first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransactionList {
    /// The range counted, Unix ms; counts are kept per hour, so the hours
    /// that overlap it are counted whole.
    pub from_ms: i64,
    pub until_ms: i64,
    pub transactions: Vec<TransactionStats>,
    /// Whether more names had transactions than `limit` let through.
    pub truncated: bool,
}

/// One transaction name's counts and durations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransactionStats {
    /// The route or task (`GET /cart`); `<other>` counts names past the
    /// per-hour limit.
    pub name: String,
    /// The operation (`http.server`) of most of them, when sent.
    pub op: Option<String>,
    pub count: u64,
    /// Failed ones: a span status other than ok, cancelled or unknown, or
    /// an HTTP status of 500 or more.
    pub errors: u64,
    /// Duration quantiles, milliseconds, within 1% (merged sketches).
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// The longest, exactly.
    pub max_ms: Option<f64>,
}

/// `GET /api/v1/projects/{id}/releases`: release health per release,
/// the most recently seen first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseList {
    pub from_ms: i64,
    pub until_ms: i64,
    pub releases: Vec<ReleaseHealth>,
    /// Whether more releases had sessions than `limit` let through.
    pub truncated: bool,
}

/// One release's sessions in a time range. A session counts in the hour
/// it started and in at most one of `exited`, `errored`, `crashed` and
/// `abnormal`; sessions still running are in `sessions` only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseHealth {
    pub release: String,
    /// Sessions started.
    pub sessions: u64,
    /// Ended normally, without errors.
    pub exited: u64,
    /// Had errors but neither crashed nor ended abnormally.
    pub errored: u64,
    pub crashed: u64,
    /// Ended without the SDK learning how (killed, hung).
    pub abnormal: u64,
    /// `1 - crashed / sessions`; `None` without sessions.
    pub crash_free_rate: Option<f64>,
    /// Distinct users (the sessions' distinct ids) on the UTC days that
    /// overlap the range.
    pub users: u64,
    /// The hours the first and the last of its sessions started in, Unix
    /// ms, over all time.
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// Error events of this release, over all time.
    pub error_events: u64,
    /// Issues first seen in this release.
    pub new_issues: u64,
}

/// `GET /api/v1/projects/{id}/client-reports`: what SDKs dropped before
/// sending, most first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientReportList {
    pub from_ms: i64,
    pub until_ms: i64,
    /// Every quantity of `discarded` added up.
    pub total: u64,
    pub discarded: Vec<DiscardedCount>,
}

/// Items of one category dropped for one reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscardedCount {
    /// `sample_rate`, `before_send`, `queue_overflow`, `ratelimit_backoff`...
    pub reason: String,
    /// `error`, `transaction`, `span`, `session`...
    pub category: String,
    pub quantity: u64,
}
