//! Wiring: takes the data directory, opens the store, binds listeners,
//! writes `partout.addrs.json`, serves until shutdown, then drains in order.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{ListenerSetting, Settings};
use crate::http::{self, AppState};
use crate::ingest::carbon::Carbon;
use crate::ingest::logs::LogProtocol;
use crate::ingest::net::{self, Limits};
use crate::ingest::statsd::Statsd;
use crate::ingest::Protocol;
use crate::logs::partition::WriterBudget;
use crate::logs::record::{NormalizeConfig, TimePolicy};
use crate::logs::{LogConfig, LogError, LogStore};
use crate::metrics::aggregate::{self, Aggregator};
use crate::metrics::pipeline::{self, PipelineConfig, CARBON_QUEUE_BATCHES};
use crate::store::{tokens, Store, StoreError};
use crate::telemetry::Telemetry;
use crate::tsdb::{Tsdb, TsdbConfig};
use partout_protocols::jsonlog::JsonLogLimits;

/// File in the data dir naming every bound listener, for scripts and tests.
pub const ADDRS_FILE: &str = "partout.addrs.json";
/// Held with an exclusive lock while partout runs on a data dir.
const LOCK_FILE: &str = "partout.lock";

/// Why partout could not start or stop cleanly; each is one line for a person.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot use data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("data directory {0} is in use by another running partout")]
    DataDirLocked(PathBuf),
    #[error("cannot listen on {addr} for {key}: {source}")]
    Bind {
        key: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Logs(#[from] LogError),
    #[error(transparent)]
    Config(#[from] crate::tsdb::schema::SchemaError),
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] std::io::Error),
    #[error("http server failed: {0}")]
    Serve(#[source] std::io::Error),
    #[error("cannot make the webhook client: {0}")]
    WebhookClient(#[source] reqwest::Error),
    #[error("graceful shutdown did not finish within {0} s")]
    ShutdownTimeout(u64),
    #[error(transparent)]
    Tls(#[from] crate::http::serve::TlsError),
    #[error("cannot create the first admin user: {0}")]
    FirstAdmin(#[from] crate::access::FirstAdminError),
}

/// Seconds a metric chunk window stays open after its end for late points:
/// the last interval of a window is only flushed at its end, and carbon
/// senders lag a little.
fn seal_grace_secs(flush_interval_secs: u64) -> i64 {
    i64::try_from(flush_interval_secs)
        .unwrap_or(3600)
        .saturating_mul(2)
        .max(60)
}

/// The log store's settings.
fn log_config(settings: &Settings, data_dir: &Path) -> LogConfig {
    let second = 1_000_000_000i64;
    let max_age_nanos = settings.log_retention_secs.saturating_mul(second);
    LogConfig {
        dir: data_dir.join("logs"),
        normalize: NormalizeConfig {
            json: JsonLogLimits {
                max_fields: settings.log_max_fields,
                ..JsonLogLimits::default()
            },
            time: TimePolicy {
                max_past_nanos: max_age_nanos,
                max_future_nanos: 3600 * second,
            },
        },
        max_age_nanos,
        max_bytes: settings.log_max_disk_bytes,
        commit_interval: std::time::Duration::from_secs(1),
        writer: WriterBudget::serving(),
        queue_lines: 256 * 1024,
        max_line_bytes: settings.log_max_line_bytes,
    }
}

/// Runs partout until SIGINT/SIGTERM, then shuts down gracefully.
pub async fn run(settings: Settings) -> Result<(), AppError> {
    let shutdown = CancellationToken::new();
    crate::shutdown::watch_signals(shutdown.clone()).map_err(AppError::Signals)?;
    run_until(settings, shutdown).await
}

/// Runs partout until `shutdown` is cancelled. Separate from [`run`] so
/// the caller decides what stops it.
pub async fn run_until(settings: Settings, shutdown: CancellationToken) -> Result<(), AppError> {
    let started = Instant::now();
    let data_dir = prepare_data_dir(&settings.data_dir)?;
    let lock = lock_data_dir(&data_dir)?;
    let addrs_path = data_dir.join(ADDRS_FILE);
    // A file left by a crashed run must not send scripts to dead ports.
    let _ = std::fs::remove_file(&addrs_path);

    let telemetry = Arc::new(Telemetry::new());
    let store = {
        let dir = data_dir.clone();
        let counters = telemetry.store_writer.clone();
        tokio::task::spawn_blocking(move || Store::open_counted(&dir, counters))
            .await
            .map_err(|err| StoreError::Task(err.to_string()))??
    };
    let tsdb = Tsdb::open(
        store.clone(),
        TsdbConfig {
            schemas: settings.schemas()?,
            max_series: settings.max_series,
            max_head_points: usize::try_from(settings.max_buffered_points).unwrap_or(usize::MAX),
            seal_grace_secs: seal_grace_secs(settings.flush_interval_secs),
        },
        Arc::clone(&telemetry),
    )
    .await?;
    let (logs, log_writer) = {
        let config = log_config(&settings, &data_dir);
        let telemetry = Arc::clone(&telemetry);
        tokio::task::spawn_blocking(move || {
            LogStore::open(config, telemetry, crate::logs::system_clock())
        })
        .await
        .map_err(|err| StoreError::Task(err.to_string()))??
    };
    // Error log lines with an exception become error events: the log
    // writer hands them to this queue from the first line ingested; the
    // task that records them starts with the errors side below.
    let (exception_sender, exception_receiver) = crate::errors::log_errors::queue();
    logs.forward_exceptions(exception_sender).await?;
    if let Some(secret) = settings.bootstrap_token.clone() {
        store
            .write(move |conn| tokens::ensure(conn, "bootstrap", tokens::Scope::Admin, &secret))
            .await?;
        tracing::info!("bootstrap admin token is active");
    }
    match crate::access::ensure_first_admin(&store, settings.admin_password.clone()).await? {
        crate::access::FirstAdmin::Existing => {}
        crate::access::FirstAdmin::FromEnvironment => tracing::info!(
            user = crate::access::FIRST_ADMIN,
            "created the first admin user with the password from PARTOUT_ADMIN_PASSWORD"
        ),
        // Shown this once: only its argon2 hash is stored.
        crate::access::FirstAdmin::Generated(password) => tracing::warn!(
            user = crate::access::FIRST_ADMIN,
            %password,
            "created the first admin user with a generated password, shown only this once: sign in and change it"
        ),
    }

    let http_listener = tokio::net::TcpListener::bind(settings.http_listen)
        .await
        .map_err(|source| AppError::Bind {
            key: "http",
            addr: settings.http_listen,
            source,
        })?;
    let http_addr = http_listener
        .local_addr()
        .map_err(|source| AppError::Bind {
            key: "http",
            addr: settings.http_listen,
            source,
        })?;
    let mut listeners = BTreeMap::new();
    listeners.insert("http".to_owned(), http_addr.to_string());
    announce_default_dsn(&store, http_addr, settings.http_tls.is_some()).await?;

    // Metrics ingestion: listeners feed the aggregator and the carbon queue;
    // the pipeline task writes both to the store.
    let aggregator = Arc::new(Mutex::new(Aggregator::new(aggregate::Limits::default())));
    let (carbon_sender, carbon_receiver) = mpsc::channel(CARBON_QUEUE_BATCHES);
    let statsd: Arc<dyn Protocol> =
        Arc::new(Statsd::new(Arc::clone(&aggregator), Arc::clone(&telemetry)));
    let carbon_pickle: Arc<dyn Protocol> = Arc::new(Carbon::pickle(
        carbon_sender.clone(),
        Arc::clone(&telemetry),
    ));
    let carbon: Arc<dyn Protocol> = Arc::new(Carbon::new(carbon_sender, Arc::clone(&telemetry)));
    let syslog: Arc<dyn Protocol> = Arc::new(LogProtocol::syslog(
        logs.clone(),
        settings.log_max_line_bytes,
        Arc::clone(&telemetry),
    ));
    let json_lines: Arc<dyn Protocol> = Arc::new(LogProtocol::json_lines(
        logs.clone(),
        settings.log_max_line_bytes,
        Arc::clone(&telemetry),
    ));
    let listener_tasks = TaskTracker::new();
    for setting in &settings.listeners {
        let protocol = match setting.key {
            "statsd_udp" | "statsd_tcp" => &statsd,
            "carbon_udp" | "carbon_tcp" => &carbon,
            "carbon_pickle" => &carbon_pickle,
            "syslog_udp" | "syslog_tcp" => &syslog,
            "jsonlines_tcp" => &json_lines,
            _ => {
                tracing::debug!(
                    listener = setting.key,
                    "listener reserved; its protocol arrives later"
                );
                continue;
            }
        };
        if let Some(bound) = start_listener(setting, protocol, &shutdown, &listener_tasks).await? {
            listeners.insert(setting.key.to_owned(), bound.to_string());
        }
    }
    // Only the listeners hold the protocols now: when they stop, the carbon
    // queue's senders are gone and the pipeline sees the end of its input.
    drop((statsd, carbon, carbon_pickle, syslog, json_lines));
    listener_tasks.close();
    let pipeline_stop = CancellationToken::new();
    let pipeline_task = tokio::spawn(pipeline::run(
        tsdb.clone(),
        Arc::clone(&telemetry),
        PipelineConfig {
            step_secs: i64::try_from(settings.flush_interval_secs).unwrap_or(10),
        },
        aggregator,
        carbon_receiver,
        pipeline_stop.clone(),
    ));
    write_addrs_file(&addrs_path, &listeners).map_err(|source| AppError::DataDir {
        path: addrs_path.clone(),
        source,
    })?;

    // Issue notifications: the sender works through the outbox until the
    // HTTP server (which records notifications) has stopped.
    let error_runtime = crate::errors::ErrorRuntime {
        counts: Arc::new(crate::errors::counts::IssueCounts::new(
            telemetry.error_counts.clone(),
        )),
        ..crate::errors::ErrorRuntime::default()
    };
    // Issue counts are written from memory every second; the first write
    // counts the events a crash left uncounted.
    let counts_stop = CancellationToken::new();
    let counts_task = tokio::spawn(crate::errors::counts::run(
        Arc::clone(&error_runtime.counts),
        store.clone(),
        counts_stop.clone(),
    ));
    let sender_stop = CancellationToken::new();
    let sender_task = {
        use crate::errors::notify::sender;
        let client = sender::client().map_err(AppError::WebhookClient)?;
        let public_url = settings.public_url.clone().unwrap_or_else(|| {
            web_url(http_addr, settings.http_tls.is_some())
                .trim_end_matches('/')
                .to_owned()
        });
        tokio::spawn(sender::run(
            store.clone(),
            client,
            sender::SenderConfig {
                public_url,
                clock: crate::store::unix_ms_now,
            },
            Arc::clone(&error_runtime.outbox_wake),
            Arc::clone(&telemetry),
            sender_stop.clone(),
        ))
    };

    let ready = Arc::new(AtomicBool::new(false));
    let state = AppState::new(crate::http::AppStateInner {
        store: store.clone(),
        tsdb,
        logs: logs.clone(),
        shutdown: shutdown.clone(),
        telemetry,
        started,
        started_at_unix_ms: crate::store::unix_ms_now(),
        data_dir: data_dir.clone(),
        listeners: Arc::new(listeners.clone()),
        ready: Arc::clone(&ready),
        metrics_step: i64::try_from(settings.flush_interval_secs).unwrap_or(10),
        errors: crate::errors::ErrorsConfig {
            events_per_issue: settings.errors_events_per_issue,
            events_per_minute: settings.errors_events_per_minute,
            notifications_per_minute: settings.errors_notifications_per_minute,
            attachments: crate::errors::attachments::AttachmentLimits {
                max_bytes: settings.errors_attachment_max_bytes,
                max_project_bytes: settings.errors_attachment_max_disk_bytes,
            },
            ..crate::errors::ErrorsConfig::default()
        },
        error_runtime,
        access: crate::access::Access::new(crate::access::AccessConfig {
            open: settings.open_routes.clone(),
            secure_cookies: settings.http_tls.is_some()
                || settings
                    .public_url
                    .as_deref()
                    .is_some_and(|url| url.starts_with("https://")),
        }),
    });
    warn_exposed(&settings, &listeners);
    let log_errors_task = tokio::spawn(crate::errors::log_errors::run(
        crate::errors::log_errors::LogErrors {
            store: store.clone(),
            config: state.errors,
            runtime: state.error_runtime.clone(),
            telemetry: Arc::clone(&state.telemetry),
        },
        exception_receiver,
    ));
    let serve_config = http::serve::ServeConfig {
        max_connections: settings.http_max_connections,
        header_timeout: settings.http_header_timeout,
        tls: match &settings.http_tls {
            Some((cert, key)) => Some(http::serve::tls_config(cert, key)?),
            None => None,
        },
    };
    let server = tokio::spawn({
        let shutdown = shutdown.clone();
        let telemetry = Arc::clone(&state.telemetry);
        let app = http::router(state);
        async move {
            http::serve::serve(http_listener, app, serve_config, telemetry, shutdown).await;
            Ok::<(), std::io::Error>(())
        }
    });
    ready.store(true, Ordering::Release);
    if !http::web_app_embedded() {
        tracing::warn!("this binary has no web app embedded; build it with `cargo xtask dist`");
    }
    tracing::info!(
        data_dir = %data_dir.display(),
        "partout {} is ready: web app at {}",
        env!("CARGO_PKG_VERSION"),
        web_url(http_addr, settings.http_tls.is_some())
    );

    shutdown.cancelled().await;
    let timeout = settings.shutdown_timeout;
    let drained = tokio::time::timeout(timeout, async {
        ready.store(false, Ordering::Release);
        let served = server.await;
        // Listeners drain what the kernel holds and hand it on; then the
        // pipeline writes the last partial interval; then the store closes.
        listener_tasks.wait().await;
        pipeline_stop.cancel();
        if let Err(err) = pipeline_task.await {
            tracing::error!(error = %err, "the metrics writer failed");
        }
        // The listeners and the HTTP server are gone: with the last handle
        // dropped, the log writer takes what is queued, commits and exits.
        drop(logs);
        if let Err(err) = tokio::task::spawn_blocking(move || log_writer.join()).await {
            tracing::error!(error = %err, "the log writer failed");
        }
        // The writer held the queue of error log lines: its end lets the
        // task record what is left and stop, before the store closes.
        if let Err(err) = log_errors_task.await {
            tracing::error!(error = %err, "recording errors from logs failed");
        }
        // The notification sender finishes its round (marking what it
        // sent) before the store closes; pending ones go after a restart.
        sender_stop.cancel();
        if let Err(err) = sender_task.await {
            tracing::error!(error = %err, "the notification sender failed");
        }
        // Nothing records events any more: the counts in memory are the
        // last ones.
        counts_stop.cancel();
        if let Err(err) = counts_task.await {
            tracing::error!(error = %err, "writing issue counts failed");
        }
        store.close().await?;
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(AppError::Serve(err)),
            Err(join) => Err(AppError::Serve(std::io::Error::other(join.to_string()))),
        }
    })
    .await;
    let _ = std::fs::remove_file(&addrs_path);
    drop(lock);
    match drained {
        Ok(result) => {
            result?;
            tracing::info!("shutdown complete: everything buffered was written");
            Ok(())
        }
        Err(_) => Err(AppError::ShutdownTimeout(timeout.as_secs())),
    }
}

/// Makes the default error project on first start and logs the DSN SDKs
/// can use at once (also shown by `GET /api/v1/projects`).
async fn announce_default_dsn(
    store: &Store,
    http_addr: SocketAddr,
    tls: bool,
) -> Result<(), AppError> {
    let now = crate::store::unix_ms_now();
    let (project, key) = store
        .write(move |conn| crate::errors::projects::ensure_default(conn, now))
        .await?;
    match key {
        Some(key) => {
            let base = web_url(http_addr, tls);
            let base = base.trim_end_matches('/');
            tracing::info!(
                project = project.id,
                "sentry DSN of project {:?}: {}",
                project.name,
                crate::errors::projects::dsn(base, &key.public_key, project.id)
            );
        }
        None => tracing::warn!(
            project = project.id,
            "project {:?} has no active key: create one with POST /api/v1/projects/{}/keys",
            project.name,
            project.id
        ),
    }
    Ok(())
}

/// Binds one listener and starts its loop; returns the bound address.
async fn start_listener(
    setting: &ListenerSetting,
    protocol: &Arc<dyn Protocol>,
    shutdown: &CancellationToken,
    tasks: &TaskTracker,
) -> Result<Option<SocketAddr>, AppError> {
    let Some(addr) = setting.addr else {
        return Ok(None);
    };
    let fail = |source| AppError::Bind {
        key: setting.key,
        addr,
        source,
    };
    let limits = Limits::default();
    let protocol = Arc::clone(protocol);
    let shutdown = shutdown.clone();
    if setting.key.ends_with("_udp") {
        let socket = net::bind_udp(addr, limits.udp_receive_buffer).map_err(fail)?;
        let bound = socket.local_addr().map_err(fail)?;
        tasks.spawn(net::run_udp(socket, protocol, shutdown));
        Ok(Some(bound))
    } else {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(fail)?;
        let bound = listener.local_addr().map_err(fail)?;
        tasks.spawn(net::run_tcp(
            listener,
            protocol,
            limits,
            shutdown,
            tasks.clone(),
        ));
        Ok(Some(bound))
    }
}

fn prepare_data_dir(path: &Path) -> Result<PathBuf, AppError> {
    let fail = |source| AppError::DataDir {
        path: path.to_owned(),
        source,
    };
    std::fs::create_dir_all(path).map_err(fail)?;
    std::fs::canonicalize(path).map_err(fail)
}

fn lock_data_dir(dir: &Path) -> Result<File, AppError> {
    let path = dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| AppError::DataDir {
            path: dir.to_owned(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(AppError::DataDirLocked(dir.to_owned())),
        Err(std::fs::TryLockError::Error(source)) => Err(AppError::DataDir {
            path: dir.to_owned(),
            source,
        }),
    }
}

/// Writes the file whole or not at all, so a reader never sees half of it.
fn write_addrs_file(path: &Path, listeners: &BTreeMap<String, String>) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(listeners).map_err(std::io::Error::other)?;
    let temporary = path.with_extension("json.tmp");
    let mut file = File::create(&temporary)?;
    file.write_all(&json)?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// The URL a person should open: a wildcard bind is reachable on loopback.
fn web_url(addr: SocketAddr, tls: bool) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{}/", SocketAddr::new(ip, addr.port()))
}

/// Warns about what anyone on the network can use: the listeners with no
/// authentication (StatsD, carbon, syslog, JSON lines) and the HTTP routes
/// the configuration opened, when bound beyond loopback.
fn warn_exposed(settings: &Settings, bound: &BTreeMap<String, String>) {
    for setting in &settings.listeners {
        let Some(addr) = setting.addr else { continue };
        if !addr.ip().is_loopback() {
            tracing::warn!(
                listener = setting.key,
                address = bound.get(setting.key).map_or("", String::as_str),
                "listener is reachable beyond this machine and takes data from anyone who can reach it (no authentication in this protocol); restrict it with a firewall or bind it to 127.0.0.1"
            );
        }
    }
    let open = &settings.open_routes;
    if !settings.http_listen.ip().is_loopback() && (open.metrics || !open.ingest.is_empty()) {
        let apis: Vec<&str> = open.ingest.iter().map(|api| api.as_str()).collect();
        tracing::warn!(
            open_ingest = %apis.join(","),
            metrics_open = open.metrics,
            "HTTP routes open without a token are reachable beyond this machine"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_url_points_wildcard_binds_at_loopback() {
        assert_eq!(
            web_url("0.0.0.0:8080".parse().unwrap(), false),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(
            web_url("[::]:80".parse().unwrap(), false),
            "http://[::1]:80/"
        );
        assert_eq!(
            web_url("10.1.2.3:9".parse().unwrap(), true),
            "https://10.1.2.3:9/"
        );
    }

    #[test]
    fn a_second_lock_on_the_same_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = lock_data_dir(dir.path()).unwrap();
        assert!(matches!(
            lock_data_dir(dir.path()),
            Err(AppError::DataDirLocked(_))
        ));
    }
}
