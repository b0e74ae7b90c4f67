//! Bodies of the `/api/v1` HTTP API.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET /api/v1/status`: what the server is and how it is doing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The server's version (`CARGO_PKG_VERSION` of the `partout` crate).
    pub version: String,
    /// When the process started, in milliseconds since the Unix epoch.
    pub started_at_unix_ms: i64,
    /// Seconds since the process started.
    pub uptime_seconds: u64,
    /// The data directory, as an absolute path.
    pub data_dir: String,
    /// Every bound listener, keyed as in `partout.addrs.json` (`http`, ...),
    /// valued `ip:port`.
    pub listeners: BTreeMap<String, String>,
    /// Storage files and their sizes.
    pub storage: StorageStatus,
}

/// Sizes of the embedded storage, in bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorageStatus {
    /// The schema version the database was migrated to.
    pub schema_version: u32,
    /// Size of the main SQLite file.
    pub sqlite_bytes: u64,
    /// Size of the SQLite write-ahead log.
    pub sqlite_wal_bytes: u64,
}

/// `GET /api/v1/whoami`: who the request was authenticated as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhoAmI {
    /// The API token's name, for people (`bootstrap` for the bootstrap
    /// token); empty when a signed-in user asks.
    pub token_name: String,
    /// The scope held: `read`, `write`, `ingest` or `admin` (a user's
    /// role gives theirs: viewer read, editor write, admin admin).
    pub scope: String,
    /// The signed-in user, when the request came with a session cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// The body of every non-2xx response of `/api/v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A lowercase sentence that says what went wrong, safe to show a person.
    pub error: String,
}

/// `POST /api/v1/deploys`: a deploy announced by CI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDeployRequest {
    /// The service that was deployed, e.g. `api`.
    pub service: String,
    /// The version, tag or release name that went out.
    pub version: String,
    /// Where it was deployed [default: `production`].
    #[serde(default)]
    pub environment: Option<String>,
    /// The commit SHA.
    #[serde(default)]
    pub commit: Option<String>,
    /// A link to the CI run or the change.
    #[serde(default)]
    pub url: Option<String>,
    /// Free text, e.g. the change's title.
    #[serde(default)]
    pub description: Option<String>,
    /// Who or what deployed it.
    #[serde(default)]
    pub deployed_by: Option<String>,
    /// When it happened, in ms since the epoch [default: when received].
    #[serde(default)]
    pub deployed_at_ms: Option<i64>,
}

/// A stored deploy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deploy {
    pub id: i64,
    pub service: String,
    pub version: String,
    pub environment: String,
    pub commit: Option<String>,
    pub url: Option<String>,
    pub description: Option<String>,
    pub deployed_by: Option<String>,
    pub deployed_at_ms: i64,
}

/// Query string of `GET /api/v1/deploys`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeployQuery {
    pub service: Option<String>,
    pub environment: Option<String>,
    /// Inclusive lower bound, ms since the epoch.
    #[serde(rename = "from")]
    pub from_ms: Option<i64>,
    /// Exclusive upper bound, ms since the epoch.
    #[serde(rename = "until")]
    pub until_ms: Option<i64>,
    /// At most this many, newest first [default 100, max 1000].
    pub limit: Option<u32>,
}

/// One series of `GET /api/v1/metrics/series`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSeries {
    /// The stored name (`stats.timers.api.latency`, `servers.web1.load`).
    pub name: String,
    pub tags: BTreeMap<String, String>,
    /// `gauge`, `counter`, `timer` or `set`.
    pub kind: String,
    /// The Graphite names that read it (`....count`, `....upper_99`, ...).
    pub graphite_names: Vec<String>,
}

/// `GET /api/v1/metrics/quantiles`: quantiles of a timer over a range, from
/// the merged sketches of every interval in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    pub name: String,
    pub tags: BTreeMap<String, String>,
    /// Unix seconds; the range covers every interval overlapping it.
    pub from: i64,
    pub until: i64,
    /// Samples in the range (not scaled by sample rate).
    pub count: u64,
    /// The relative error bound of every quantile (0.01 = 1%).
    pub relative_accuracy: f64,
    pub quantiles: Vec<QuantileValue>,
    /// Per `step` bucket, when a step was asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<QuantileBucket>,
}

/// One quantile; `value` is null when there were no samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantileValue {
    pub q: f64,
    pub value: Option<f64>,
}

/// Quantiles of one bucket of a [`Quantiles`] answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantileBucket {
    /// Unix seconds; the bucket is `[start, start + step)`.
    pub start: i64,
    pub count: u64,
    pub quantiles: Vec<QuantileValue>,
}

/// `GET /api/v1/metrics/points`: one series' points over a range at a
/// chosen resolution and consolidation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricPoints {
    pub name: String,
    pub tags: BTreeMap<String, String>,
    /// `gauge`, `counter`, `timer` or `set`.
    pub kind: String,
    /// Seconds between points.
    pub step: i64,
    /// The stored resolution read, seconds (the step is a multiple of it).
    pub resolution: i64,
    /// How each point merges what its bucket holds: `avg`, `sum`, `min`,
    /// `max`, `last`, `count`, or a quantile `p99.9` (timers).
    pub consolidation: String,
    /// `[unix seconds, value]`; value is null for an empty bucket.
    pub points: Vec<(i64, Option<f64>)>,
}

/// A structured field's value in a [`LogLine`], as JSON shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LogFieldValue {
    Bool(bool),
    Integer(i64),
    Unsigned(u64),
    Float(f64),
    Text(String),
    Null(()),
}

/// One stored log line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// Stable id of the line (for `/api/v1/logs/context`).
    pub id: String,
    /// RFC 3339 with up to nanoseconds, UTC.
    pub time: String,
    /// Unix milliseconds of `time` (rounded down), for charts.
    pub time_ms: i64,
    /// `trace`, `debug`, `info`, `warn`, `error` or `fatal`.
    pub level: Option<String>,
    pub service: Option<String>,
    pub host: Option<String>,
    pub message: String,
    /// Every other key, by dotted name.
    pub fields: BTreeMap<String, LogFieldValue>,
    /// `syslog`, `json` or `loki`.
    pub source: String,
    /// What was odd about the line: `parse_error`, `invalid_utf8`,
    /// `truncated`, `time_replaced`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

/// `GET /api/v1/logs/search`: matching lines, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogSearch {
    pub lines: Vec<LogLine>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Milliseconds the search took on the server.
    pub took_ms: f64,
}

/// `GET /api/v1/logs/histogram`: matching lines per time bucket and level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogHistogram {
    /// Unix milliseconds; buckets are `[start, start + step_ms)`.
    pub from_ms: i64,
    pub until_ms: i64,
    pub step_ms: i64,
    pub total: u64,
    pub buckets: Vec<LogHistogramBucket>,
    pub took_ms: f64,
}

/// One bucket of a [`LogHistogram`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogHistogramBucket {
    pub start_ms: i64,
    pub total: u64,
    /// Count per level; lines without a level count under `none`.
    pub levels: BTreeMap<String, u64>,
}

/// `GET /api/v1/logs/top`: the most frequent values of a field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogTopValues {
    pub field: String,
    /// Lines counted (all matching lines, or the newest `sample` of them).
    pub counted: u64,
    /// Set when only the newest lines were counted (structured fields are
    /// read from the stored lines, so a sample keeps this fast).
    pub sampled: bool,
    pub values: Vec<LogTopValue>,
    pub took_ms: f64,
}

/// One value of a [`LogTopValues`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogTopValue {
    pub value: String,
    pub count: u64,
}

/// `GET /api/v1/logs/context`: lines around one line from the same
/// service and host, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogContext {
    pub before: Vec<LogLine>,
    pub line: LogLine,
    pub after: Vec<LogLine>,
}

/// Answer to `POST /api/v1/logs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogIngestResult {
    /// Lines stored (durably, before this answer was sent).
    pub accepted: u64,
}
