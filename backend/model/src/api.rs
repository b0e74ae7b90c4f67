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

/// `GET /api/v1/whoami`: the API token the request was authenticated with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhoAmI {
    /// The token's name, for people (`bootstrap` for the bootstrap token).
    pub token_name: String,
    /// The token's scope: `read`, `write`, `ingest` or `admin`.
    pub scope: String,
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
