//! Configuration in two levels: the raw [`FileConfig`] read from TOML, and the
//! validated [`Settings`] the rest of the server uses.
//!
//! Precedence, highest first: command-line flags, `PARTOUT_*` environment
//! variables (clap merges these two), the `--config` file, the defaults below.

use crate::tsdb::schema::{default_retentions, SchemaError, SchemaText, Schemas};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cli::ServeArgs;

/// The commented default configuration that `partout config default` prints.
/// A test checks that it parses to exactly the built-in defaults.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("default-config.toml");

const DEFAULT_DATA_DIR: &str = "./partout-data";
const DEFAULT_HTTP_LISTEN: &str = "8080";
const DEFAULT_SHUTDOWN_TIMEOUT_SECS: u64 = 30;
const MIN_BOOTSTRAP_TOKEN_LEN: usize = 16;
const DEFAULT_FLUSH_INTERVAL_SECS: u64 = 10;
const DEFAULT_MAX_SERIES: u64 = 100_000;
const DEFAULT_MAX_BUFFERED_POINTS: u64 = 4_000_000;
const DEFAULT_LOG_RETENTION: &str = "30d";
const DEFAULT_LOG_MAX_DISK: &str = "20GB";
const DEFAULT_LOG_MAX_LINE_BYTES: usize = 64 * 1024;
const DEFAULT_LOG_MAX_FIELDS: usize = 100;
/// More events per issue than anyone pages through; the bound keeps one
/// noisy issue from taking the disk.
const MAX_EVENTS_PER_ISSUE: usize = 100_000;

/// Format of partout's own log output.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per event, for log shippers.
    Json,
}

/// The config file as written by a person; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub log_format: Option<LogFormat>,
    pub shutdown_timeout_secs: Option<u64>,
    pub listen_all_interfaces: Option<bool>,
    pub http: HttpSection,
    pub statsd: UdpTcpSection,
    pub carbon: CarbonSection,
    pub syslog: UdpTcpSection,
    pub jsonlines: TcpSection,
    pub metrics: MetricsSection,
    pub logs: LogsSection,
    pub errors: ErrorsSection,
    pub auth: AuthSection,
}

/// `[auth]`: what may be used without signing in or a token.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSection {
    pub open_ingest: Option<Vec<String>>,
    pub metrics_open: Option<bool>,
}

/// `[errors]`: how many events of each issue are kept.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ErrorsSection {
    pub events_per_issue: Option<usize>,
    pub events_per_minute: Option<u32>,
    pub notifications_per_minute: Option<u32>,
    pub attachment_max_size: Option<String>,
    pub attachment_max_disk: Option<String>,
}

/// `[logs]`: how long and how much log data is kept, and line limits.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogsSection {
    pub retention: Option<String>,
    pub max_disk: Option<String>,
    pub max_line_bytes: Option<usize>,
    pub max_fields: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSection {
    pub flush_interval_secs: Option<u64>,
    pub max_series: Option<u64>,
    pub max_buffered_points: Option<u64>,
    pub retention: Option<String>,
    pub schemas: Vec<SchemaSection>,
}

/// One `[[metrics.schemas]]` table: retention for names matching a regex.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchemaSection {
    pub name: String,
    pub pattern: String,
    pub retention: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSection {
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub max_connections: Option<usize>,
    pub header_timeout_secs: Option<u64>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UdpTcpSection {
    pub udp_listen: Option<String>,
    pub tcp_listen: Option<String>,
}

/// `[carbon]`: plaintext over UDP and TCP, and the pickle protocol.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CarbonSection {
    pub udp_listen: Option<String>,
    pub tcp_listen: Option<String>,
    pub pickle_listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TcpSection {
    pub tcp_listen: Option<String>,
}

/// A configuration problem, worded for the person who wrote the config.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("bad config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid address {value:?} for {key}: expected ip:port, a port number, or \"off\"")]
    Address { key: &'static str, value: String },
    #[error("the http listener cannot be \"off\": the API and web app need it")]
    HttpOff,
    #[error("the bootstrap token must be at least {MIN_BOOTSTRAP_TOKEN_LEN} characters long")]
    BootstrapTokenTooShort,
    #[error("metrics.flush_interval_secs must be between 1 and 3600, not {0}")]
    FlushInterval(u64),
    #[error("{0}")]
    Retention(#[from] SchemaError),
    #[error("logs.retention {0:?} is not a duration such as \"30d\" (units s, m, h, d, w, y)")]
    LogRetention(String),
    #[error("logs.max_disk {0:?} is not a size such as \"20GB\" (units KB, MB, GB, TB, or bytes)")]
    LogMaxDisk(String),
    #[error("logs.{0} must be at least {1}")]
    LogLimit(&'static str, usize),
    #[error("errors.events_per_issue must be between 1 and {max}, not {found}")]
    EventsPerIssue { found: usize, max: usize },
    #[error("http.public_url {0:?} must be an http:// or https:// URL with a host")]
    PublicUrl(String),
    #[error("errors.{key} {value:?} must be a size such as \"1MiB\" (units KB, MB, KiB, MiB..., or bytes), {limit}")]
    AttachmentSize {
        key: &'static str,
        value: String,
        limit: String,
    },
    #[error("http.tls_cert and http.tls_key go together: give both or neither")]
    TlsPair,
    #[error("http.max_connections must be at least 1")]
    MaxConnections,
    #[error("http.header_timeout_secs must be between 1 and 300, not {0}")]
    HeaderTimeout(u64),
    #[error("auth.open_ingest: unknown api {0:?} (expected logs, deploys, elasticsearch or loki)")]
    OpenIngest(String),
}

/// A socket listener other than HTTP, under the key it has in
/// `partout.addrs.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSetting {
    /// Key in `partout.addrs.json`, e.g. `statsd_udp`.
    pub key: &'static str,
    /// Where to listen; `None` when turned off.
    pub addr: Option<SocketAddr>,
}

/// Validated settings: what the server runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    /// How long a graceful shutdown may take before partout gives up on it.
    pub shutdown_timeout: Duration,
    pub http_listen: SocketAddr,
    /// StatsD, carbon, syslog and JSON-lines listeners, in a fixed order.
    pub listeners: Vec<ListenerSetting>,
    pub bootstrap_token: Option<String>,
    /// The first admin's password (used when there are no users yet).
    pub admin_password: Option<String>,
    /// What may be used without signing in or a token.
    pub open_routes: crate::access::policy::OpenRoutes,
    /// Most HTTP connections open at once.
    pub http_max_connections: usize,
    /// How long a client may take to send a request's headers.
    pub http_header_timeout: Duration,
    /// HTTPS: the PEM certificate chain and key, when set.
    pub http_tls: Option<(PathBuf, PathBuf)>,
    /// StatsD flush interval and raw resolution of every series, seconds.
    pub flush_interval_secs: u64,
    /// Most metric series the catalog may hold.
    pub max_series: u64,
    /// Raw points held in memory before the oldest are sealed early.
    pub max_buffered_points: u64,
    /// Levels of series no schema matches, e.g. `10s:14d,1m:90d,1h:5y`.
    pub metric_retention: String,
    /// Per-pattern schemas, first match wins; validated.
    pub metric_schemas: Vec<SchemaText>,
    /// Log partitions older than this many seconds are dropped.
    pub log_retention_secs: i64,
    /// Most bytes of log partitions on disk; the oldest go first.
    pub log_max_disk_bytes: u64,
    /// Longest log line kept whole, bytes.
    pub log_max_line_bytes: usize,
    /// Most structured fields a log line may add.
    pub log_max_fields: usize,
    /// Error events kept per issue (the newest); counts are kept forever.
    pub errors_events_per_issue: usize,
    /// Error events a project may send per minute; 0 is no limit.
    pub errors_events_per_minute: u32,
    /// Issue notifications a project sends per minute; 0 is no limit.
    pub errors_notifications_per_minute: u32,
    /// Largest attachment kept, bytes as sent.
    pub errors_attachment_max_bytes: usize,
    /// Stored attachment bytes per project; the oldest go first.
    pub errors_attachment_max_disk_bytes: u64,
    /// Where people reach the web app (links in notifications), without
    /// a trailing slash; `None`: the HTTP listen address.
    pub public_url: Option<String>,
}

impl Settings {
    /// The validated retention schemas.
    pub fn schemas(&self) -> Result<Schemas, SchemaError> {
        Schemas::new(
            &self.metric_schemas,
            &self.metric_retention,
            i64::try_from(self.flush_interval_secs).unwrap_or(i64::MAX),
        )
    }
}

impl Settings {
    /// Merges flags and environment (`args`) over the config file named by
    /// `args.config`, over the defaults, and validates the result.
    pub fn resolve(args: &ServeArgs) -> Result<Settings, ConfigError> {
        let file = match &args.config {
            Some(path) => load_file(path)?,
            None => FileConfig::default(),
        };
        Settings::merge(args, file)
    }

    fn merge(args: &ServeArgs, file: FileConfig) -> Result<Settings, ConfigError> {
        let host = if args
            .listen_all_interfaces
            .or(file.listen_all_interfaces)
            .unwrap_or(false)
        {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        };
        let http_listen = pick(&args.http_listen, &file.http.listen, DEFAULT_HTTP_LISTEN);
        let http_listen =
            parse_listen_on("http.listen", &http_listen, host)?.ok_or(ConfigError::HttpOff)?;
        let reserved = [
            Reserved::new(
                "statsd_udp",
                "statsd.udp_listen",
                &args.statsd_udp_listen,
                &file.statsd.udp_listen,
                "8125",
            ),
            Reserved::new(
                "statsd_tcp",
                "statsd.tcp_listen",
                &args.statsd_tcp_listen,
                &file.statsd.tcp_listen,
                "8125",
            ),
            Reserved::new(
                "carbon_tcp",
                "carbon.tcp_listen",
                &args.carbon_tcp_listen,
                &file.carbon.tcp_listen,
                "2003",
            ),
            Reserved::new(
                "carbon_udp",
                "carbon.udp_listen",
                &args.carbon_udp_listen,
                &file.carbon.udp_listen,
                "2003",
            ),
            Reserved::new(
                "carbon_pickle",
                "carbon.pickle_listen",
                &args.carbon_pickle_listen,
                &file.carbon.pickle_listen,
                "2004",
            ),
            Reserved::new(
                "syslog_udp",
                "syslog.udp_listen",
                &args.syslog_udp_listen,
                &file.syslog.udp_listen,
                "1514",
            ),
            Reserved::new(
                "syslog_tcp",
                "syslog.tcp_listen",
                &args.syslog_tcp_listen,
                &file.syslog.tcp_listen,
                "1514",
            ),
            Reserved::new(
                "jsonlines_tcp",
                "jsonlines.tcp_listen",
                &args.jsonlines_tcp_listen,
                &file.jsonlines.tcp_listen,
                "5170",
            ),
        ];
        let mut listeners = Vec::with_capacity(reserved.len());
        for listener in reserved {
            let value = pick(listener.flag, listener.from_file, listener.default);
            listeners.push(ListenerSetting {
                key: listener.key,
                addr: parse_listen_on(listener.config_key, &value, host)?,
            });
        }
        let bootstrap_token = match &args.bootstrap_token {
            Some(token) if token.chars().count() < MIN_BOOTSTRAP_TOKEN_LEN => {
                return Err(ConfigError::BootstrapTokenTooShort)
            }
            other => other.clone(),
        };
        let mut open_routes = crate::access::policy::OpenRoutes {
            metrics: args
                .metrics_open
                .or(file.auth.metrics_open)
                .unwrap_or(false),
            ..Default::default()
        };
        let open_ingest = args.open_ingest.as_ref().or(file.auth.open_ingest.as_ref());
        for name in open_ingest.into_iter().flatten() {
            if name.trim().is_empty() {
                continue;
            }
            let api = crate::access::policy::IngestApi::parse(name)
                .ok_or_else(|| ConfigError::OpenIngest(name.clone()))?;
            open_routes.ingest.insert(api);
        }
        let http_tls = match (
            args.http_tls_cert.clone().or(file.http.tls_cert.clone()),
            args.http_tls_key.clone().or(file.http.tls_key.clone()),
        ) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err(ConfigError::TlsPair),
        };
        let http_max_connections = file
            .http
            .max_connections
            .unwrap_or(crate::http::serve::DEFAULT_MAX_CONNECTIONS);
        if http_max_connections == 0 {
            return Err(ConfigError::MaxConnections);
        }
        let header_timeout_secs = file
            .http
            .header_timeout_secs
            .unwrap_or(crate::http::serve::DEFAULT_HEADER_TIMEOUT.as_secs());
        if !(1..=300).contains(&header_timeout_secs) {
            return Err(ConfigError::HeaderTimeout(header_timeout_secs));
        }
        let flush_interval_secs = args
            .metrics_flush_interval_secs
            .or(file.metrics.flush_interval_secs)
            .unwrap_or(DEFAULT_FLUSH_INTERVAL_SECS);
        if !(1..=3600).contains(&flush_interval_secs) {
            return Err(ConfigError::FlushInterval(flush_interval_secs));
        }
        let metric_schemas: Vec<SchemaText> = file
            .metrics
            .schemas
            .iter()
            .map(|schema| SchemaText {
                name: schema.name.clone(),
                pattern: schema.pattern.clone(),
                retentions: schema.retention.clone(),
            })
            .collect();
        let metric_retention = file.metrics.retention.clone().unwrap_or_else(|| {
            default_retentions(i64::try_from(flush_interval_secs).unwrap_or(10))
        });
        Schemas::new(
            &metric_schemas,
            &metric_retention,
            i64::try_from(flush_interval_secs).unwrap_or(i64::MAX),
        )?;
        let log_retention = file
            .logs
            .retention
            .as_deref()
            .unwrap_or(DEFAULT_LOG_RETENTION);
        let log_retention_secs = crate::tsdb::schema::duration(log_retention, 1)
            .ok_or_else(|| ConfigError::LogRetention(log_retention.to_owned()))?;
        let log_max_disk = file
            .logs
            .max_disk
            .as_deref()
            .unwrap_or(DEFAULT_LOG_MAX_DISK);
        let log_max_disk_bytes = parse_size(log_max_disk)
            .ok_or_else(|| ConfigError::LogMaxDisk(log_max_disk.to_owned()))?;
        let log_max_line_bytes = file
            .logs
            .max_line_bytes
            .unwrap_or(DEFAULT_LOG_MAX_LINE_BYTES);
        if log_max_line_bytes < 256 {
            return Err(ConfigError::LogLimit("max_line_bytes", 256));
        }
        let log_max_fields = file.logs.max_fields.unwrap_or(DEFAULT_LOG_MAX_FIELDS);
        if log_max_fields < 1 {
            return Err(ConfigError::LogLimit("max_fields", 1));
        }
        let errors_events_per_issue = file
            .errors
            .events_per_issue
            .unwrap_or(crate::errors::DEFAULT_EVENTS_PER_ISSUE);
        if !(1..=MAX_EVENTS_PER_ISSUE).contains(&errors_events_per_issue) {
            return Err(ConfigError::EventsPerIssue {
                found: errors_events_per_issue,
                max: MAX_EVENTS_PER_ISSUE,
            });
        }
        let (errors_attachment_max_bytes, errors_attachment_max_disk_bytes) =
            attachment_limits(&file.errors)?;
        let public_url = file
            .http
            .public_url
            .as_deref()
            .map(|text| {
                crate::errors::notify::webhooks::checked_url(text)
                    .map(|url| url.trim_end_matches('/').to_owned())
                    .map_err(|_| ConfigError::PublicUrl(text.to_owned()))
            })
            .transpose()?;
        Ok(Settings {
            errors_events_per_issue,
            errors_events_per_minute: file
                .errors
                .events_per_minute
                .unwrap_or(crate::errors::DEFAULT_EVENTS_PER_MINUTE),
            errors_notifications_per_minute: file
                .errors
                .notifications_per_minute
                .unwrap_or(crate::errors::notify::DEFAULT_NOTIFICATIONS_PER_MINUTE),
            errors_attachment_max_bytes,
            errors_attachment_max_disk_bytes,
            public_url,
            log_retention_secs,
            log_max_disk_bytes,
            log_max_line_bytes,
            log_max_fields,
            flush_interval_secs,
            max_series: file.metrics.max_series.unwrap_or(DEFAULT_MAX_SERIES),
            max_buffered_points: file
                .metrics
                .max_buffered_points
                .unwrap_or(DEFAULT_MAX_BUFFERED_POINTS),
            metric_retention,
            metric_schemas,
            data_dir: args
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            shutdown_timeout: Duration::from_secs(
                file.shutdown_timeout_secs
                    .unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT_SECS),
            ),
            http_listen,
            listeners,
            bootstrap_token,
            admin_password: args.admin_password.clone(),
            open_routes,
            http_max_connections,
            http_header_timeout: Duration::from_secs(header_timeout_secs),
            http_tls,
        })
    }
}

/// `errors.attachment_max_size` and `errors.attachment_max_disk`: one
/// attachment must fit an envelope item, and the per-project total must
/// hold at least one attachment.
fn attachment_limits(errors: &ErrorsSection) -> Result<(usize, u64), ConfigError> {
    use crate::errors::attachments::{DEFAULT_MAX_ATTACHMENT_BYTES, DEFAULT_MAX_PROJECT_BYTES};
    let item_limit = crate::errors::ErrorsConfig::default()
        .envelope
        .max_item_bytes;
    let size = |key: &'static str, text: &Option<String>, default: u64, min: u64, max: u64| {
        let Some(text) = text else {
            return Ok(default);
        };
        parse_size(text)
            .filter(|bytes| (min..=max).contains(bytes))
            .ok_or_else(|| ConfigError::AttachmentSize {
                key,
                value: text.clone(),
                limit: format!("between {min} and {max} bytes"),
            })
    };
    let item_limit = u64::try_from(item_limit).unwrap_or(u64::MAX);
    let max_size = size(
        "attachment_max_size",
        &errors.attachment_max_size,
        u64::try_from(DEFAULT_MAX_ATTACHMENT_BYTES).unwrap_or(u64::MAX),
        1,
        item_limit,
    )?;
    let max_disk = size(
        "attachment_max_disk",
        &errors.attachment_max_disk,
        DEFAULT_MAX_PROJECT_BYTES,
        max_size.saturating_mul(2),
        u64::MAX,
    )?;
    Ok((usize::try_from(max_size).unwrap_or(usize::MAX), max_disk))
}

/// `20GB`, `512MB`, `1TB`, or a number of bytes; decimal units, as disks
/// are sold.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok().filter(|&n| n > 0)?;
    let unit: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" | "K" => 1_000,
        "MB" | "M" => 1_000_000,
        "GB" | "G" => 1_000_000_000,
        "TB" | "T" => 1_000_000_000_000,
        "KIB" => 1 << 10,
        "MIB" => 1 << 20,
        "GIB" => 1 << 30,
        "TIB" => 1 << 40,
        _ => return None,
    };
    number.checked_mul(unit)
}

/// One listener's sources, before precedence is applied.
struct Reserved<'a> {
    key: &'static str,
    config_key: &'static str,
    flag: &'a Option<String>,
    from_file: &'a Option<String>,
    default: &'static str,
}

impl<'a> Reserved<'a> {
    fn new(
        key: &'static str,
        config_key: &'static str,
        flag: &'a Option<String>,
        from_file: &'a Option<String>,
        default: &'static str,
    ) -> Reserved<'a> {
        Reserved {
            key,
            config_key,
            flag,
            from_file,
            default,
        }
    }
}

fn pick(flag: &Option<String>, from_file: &Option<String>, default: &str) -> String {
    flag.clone()
        .or_else(|| from_file.clone())
        .unwrap_or_else(|| default.to_owned())
}

fn load_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|err| ConfigError::Parse {
        path: path.to_owned(),
        // toml's Display spans several lines with a caret diagram; keep the
        // first line and the location so the error stays one line.
        message: one_line_toml_error(&err, &text),
    })
}

fn one_line_toml_error(err: &toml::de::Error, text: &str) -> String {
    let message = err.message().trim_end_matches('\n').replace('\n', "; ");
    match err.span() {
        Some(span) => {
            let line = text
                .get(..span.start)
                .map_or(1, |before| before.matches('\n').count() + 1);
            format!("line {line}: {message}")
        }
        None => message,
    }
}

/// Parses a listen address: `ip:port`, `[v6]:port`, a bare port (on
/// 127.0.0.1), or `off`. Port 0 asks the OS for a free port.
pub fn parse_listen(key: &'static str, value: &str) -> Result<Option<SocketAddr>, ConfigError> {
    parse_listen_on(key, value, IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Like [`parse_listen`], with `host` for a bare port.
fn parse_listen_on(
    key: &'static str,
    value: &str,
    host: IpAddr,
) -> Result<Option<SocketAddr>, ConfigError> {
    let trimmed = value.trim();
    if trimmed.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    if let Ok(addr) = trimmed.parse::<SocketAddr>() {
        return Ok(Some(addr));
    }
    if let Ok(port) = trimmed.parse::<u16>() {
        return Ok(Some(SocketAddr::new(host, port)));
    }
    Err(ConfigError::Address {
        key,
        value: value.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Settings {
        Settings::merge(&ServeArgs::default(), FileConfig::default()).unwrap()
    }

    #[test]
    fn default_config_text_parses_to_the_built_in_defaults() {
        let file: FileConfig = toml::from_str(DEFAULT_CONFIG_TOML).unwrap();
        let from_text = Settings::merge(&ServeArgs::default(), file).unwrap();
        assert_eq!(from_text, defaults());
    }

    #[test]
    fn default_config_text_names_every_listener_key() {
        for listener in defaults().listeners {
            let (section, _) = listener.key.split_once('_').unwrap();
            assert!(
                DEFAULT_CONFIG_TOML.contains(&format!("[{section}]")),
                "missing section for {}",
                listener.key
            );
        }
    }

    #[test]
    fn defaults_bind_loopback_only() {
        let settings = defaults();
        assert_eq!(settings.http_listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(settings.listeners.len(), 8);
        for listener in settings.listeners {
            assert!(listener.addr.unwrap().ip().is_loopback(), "{listener:?}");
        }
    }

    #[test]
    fn listen_all_interfaces_moves_bare_ports_only() {
        let file: FileConfig = toml::from_str(
            "listen_all_interfaces = true\n[syslog]\ntcp_listen = \"127.0.0.1:1514\"\n",
        )
        .unwrap();
        let settings = Settings::merge(&ServeArgs::default(), file).unwrap();
        assert_eq!(settings.http_listen, "0.0.0.0:8080".parse().unwrap());
        for listener in &settings.listeners {
            let ip = listener.addr.unwrap().ip();
            assert_eq!(
                ip.is_loopback(),
                listener.key == "syslog_tcp",
                "{listener:?}"
            );
        }
        let args = ServeArgs {
            listen_all_interfaces: Some(false),
            ..ServeArgs::default()
        };
        let file: FileConfig = toml::from_str("listen_all_interfaces = true\n").unwrap();
        let settings = Settings::merge(&args, file).unwrap();
        assert!(settings.http_listen.ip().is_loopback(), "the flag wins");
    }

    #[test]
    fn open_routes_are_named_and_checked() {
        use crate::access::policy::IngestApi;
        let file: FileConfig =
            toml::from_str("[auth]\nopen_ingest = [\"logs\", \"loki\"]\nmetrics_open = true\n")
                .unwrap();
        let settings = Settings::merge(&ServeArgs::default(), file).unwrap();
        assert!(settings.open_routes.metrics);
        assert_eq!(
            settings.open_routes.ingest.into_iter().collect::<Vec<_>>(),
            [IngestApi::Logs, IngestApi::Loki]
        );
        assert!(!defaults().open_routes.metrics);
        assert!(defaults().open_routes.ingest.is_empty());
        let args = ServeArgs {
            open_ingest: Some(vec!["logs".into(), "syslog".into()]),
            ..ServeArgs::default()
        };
        let err = Settings::merge(&args, FileConfig::default()).unwrap_err();
        assert!(err.to_string().contains("\"syslog\""), "{err}");
    }

    #[test]
    fn flags_outrank_the_file_which_outranks_defaults() {
        let file: FileConfig = toml::from_str(
            "data_dir = \"/from/file\"\n[http]\nlisten = \"127.0.0.1:9000\"\n[statsd]\nudp_listen = \"off\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            http_listen: Some("0".into()),
            ..ServeArgs::default()
        };
        let settings = Settings::merge(&args, file).unwrap();
        assert_eq!(settings.data_dir, PathBuf::from("/from/file"));
        assert_eq!(settings.http_listen, "127.0.0.1:0".parse().unwrap());
        let statsd_udp = &settings.listeners[0];
        assert_eq!((statsd_udp.key, statsd_udp.addr), ("statsd_udp", None));
    }

    #[test]
    fn listen_addresses_accept_ports_v6_and_off() {
        assert_eq!(parse_listen("k", "off").unwrap(), None);
        assert_eq!(
            parse_listen("k", "9999").unwrap(),
            Some("127.0.0.1:9999".parse().unwrap())
        );
        assert_eq!(
            parse_listen("k", "[::1]:0").unwrap(),
            Some("[::1]:0".parse().unwrap())
        );
        let err = parse_listen("statsd.udp_listen", "localhost:x").unwrap_err();
        assert!(err.to_string().contains("statsd.udp_listen"), "{err}");
    }

    #[test]
    fn log_limits_parse_and_refuse_nonsense() {
        let file: FileConfig =
            toml::from_str("[logs]\nretention = \"7d\"\nmax_disk = \"512MiB\"\n").unwrap();
        let settings = Settings::merge(&ServeArgs::default(), file).unwrap();
        assert_eq!(settings.log_retention_secs, 7 * 86_400);
        assert_eq!(settings.log_max_disk_bytes, 512 << 20);
        for bad in [
            "[logs]\nretention = \"soon\"\n",
            "[logs]\nmax_disk = \"lots\"\n",
            "[logs]\nmax_line_bytes = 10\n",
        ] {
            let file: FileConfig = toml::from_str(bad).unwrap();
            let error = Settings::merge(&ServeArgs::default(), file).unwrap_err();
            assert!(error.to_string().contains("logs."), "{error}");
        }
    }

    #[test]
    fn events_per_issue_is_bounded() {
        let file: FileConfig = toml::from_str("[errors]\nevents_per_issue = 5\n").unwrap();
        let settings = Settings::merge(&ServeArgs::default(), file).unwrap();
        assert_eq!(settings.errors_events_per_issue, 5);
        let file: FileConfig = toml::from_str("[errors]\nevents_per_issue = 0\n").unwrap();
        let error = Settings::merge(&ServeArgs::default(), file).unwrap_err();
        assert!(
            error.to_string().contains("errors.events_per_issue"),
            "{error}"
        );
    }

    #[test]
    fn error_limits_and_the_public_url_are_read_and_checked() {
        let file: FileConfig = toml::from_str(
            "[http]\npublic_url = \"https://partout.example/\"\n\
             [errors]\nevents_per_minute = 0\nnotifications_per_minute = 3\n",
        )
        .unwrap();
        let settings = Settings::merge(&ServeArgs::default(), file).unwrap();
        assert_eq!(
            settings.public_url.as_deref(),
            Some("https://partout.example")
        );
        assert_eq!(settings.errors_events_per_minute, 0);
        assert_eq!(settings.errors_notifications_per_minute, 3);
        let file: FileConfig = toml::from_str("[http]\npublic_url = \"partout\"\n").unwrap();
        let error = Settings::merge(&ServeArgs::default(), file).unwrap_err();
        assert!(error.to_string().contains("http.public_url"), "{error}");
    }

    #[test]
    fn attachment_limits_are_read_and_checked() {
        assert_eq!(defaults().errors_attachment_max_bytes, 1 << 20);
        assert_eq!(defaults().errors_attachment_max_disk_bytes, 100 << 20);
        let file: FileConfig = toml::from_str(
            "[errors]\nattachment_max_size = \"64KiB\"\nattachment_max_disk = \"1GB\"\n",
        )
        .unwrap();
        let settings = Settings::merge(&ServeArgs::default(), file).unwrap();
        assert_eq!(settings.errors_attachment_max_bytes, 64 << 10);
        assert_eq!(settings.errors_attachment_max_disk_bytes, 1_000_000_000);
        for bad in [
            "attachment_max_size = \"11MiB\"",
            "attachment_max_size = \"lots\"",
            "attachment_max_size = \"1MiB\"\nattachment_max_disk = \"1MiB\"",
        ] {
            let file: FileConfig = toml::from_str(&format!("[errors]\n{bad}\n")).unwrap();
            let error = Settings::merge(&ServeArgs::default(), file).unwrap_err();
            assert!(
                error.to_string().contains("errors.attachment_max_"),
                "{error}"
            );
        }
    }

    #[test]
    fn http_cannot_be_turned_off() {
        let args = ServeArgs {
            http_listen: Some("off".into()),
            ..ServeArgs::default()
        };
        assert!(matches!(
            Settings::merge(&args, FileConfig::default()),
            Err(ConfigError::HttpOff)
        ));
    }

    #[test]
    fn unknown_keys_and_bad_types_are_one_line_errors_with_a_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("partout.toml");
        std::fs::write(&path, "[http]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n").unwrap();
        let err = load_file(&path).unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("lisen"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn short_bootstrap_tokens_are_refused() {
        let args = ServeArgs {
            bootstrap_token: Some("short".into()),
            ..ServeArgs::default()
        };
        assert!(matches!(
            Settings::merge(&args, FileConfig::default()),
            Err(ConfigError::BootstrapTokenTooShort)
        ));
    }
}
