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
