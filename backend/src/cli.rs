//! Command-line flags. Every flag is optional: `partout` alone serves with
//! embedded defaults. Each serve flag also reads a `PARTOUT_*` environment
//! variable; flags and environment outrank the config file, which outranks
//! the defaults (see `config::Settings::resolve`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::LogFormat;

/// The raw command line, before validation.
#[derive(Debug, Parser)]
#[command(
    name = "partout",
    version,
    about = "Self-hosted observability: metrics, logs, errors and deploys in one binary",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of `serve`, accepted without the subcommand too.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start every listener and the web app (the default).
    Serve(Box<ServeArgs>),
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the default configuration, commented, as TOML.
    Default,
}

/// Flags of `partout serve`.
#[derive(Debug, Default, Clone, Args)]
pub struct ServeArgs {
    /// A TOML config file (see `partout config default`).
    #[arg(long, env = "PARTOUT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where partout keeps all its data [default: ./partout-data].
    #[arg(long, env = "PARTOUT_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address of the web app and HTTP API [default: 127.0.0.1:8080].
    #[arg(long, env = "PARTOUT_HTTP_LISTEN", value_name = "ADDR")]
    pub http_listen: Option<String>,
    /// StatsD over UDP [default: 127.0.0.1:8125].
    #[arg(long, env = "PARTOUT_STATSD_UDP_LISTEN", value_name = "ADDR")]
    pub statsd_udp_listen: Option<String>,
    /// StatsD over TCP [default: 127.0.0.1:8125].
    #[arg(long, env = "PARTOUT_STATSD_TCP_LISTEN", value_name = "ADDR")]
    pub statsd_tcp_listen: Option<String>,
    /// Carbon plaintext over TCP [default: 127.0.0.1:2003].
    #[arg(long, env = "PARTOUT_CARBON_TCP_LISTEN", value_name = "ADDR")]
    pub carbon_tcp_listen: Option<String>,
    /// Carbon plaintext over UDP [default: 127.0.0.1:2003].
    #[arg(long, env = "PARTOUT_CARBON_UDP_LISTEN", value_name = "ADDR")]
    pub carbon_udp_listen: Option<String>,
    /// Carbon pickle protocol over TCP, as carbon-relay forwards
    /// [default: 127.0.0.1:2004].
    #[arg(long, env = "PARTOUT_CARBON_PICKLE_LISTEN", value_name = "ADDR")]
    pub carbon_pickle_listen: Option<String>,
    /// Syslog over UDP [default: 127.0.0.1:1514].
    #[arg(long, env = "PARTOUT_SYSLOG_UDP_LISTEN", value_name = "ADDR")]
    pub syslog_udp_listen: Option<String>,
    /// Syslog over TCP [default: 127.0.0.1:1514].
    #[arg(long, env = "PARTOUT_SYSLOG_TCP_LISTEN", value_name = "ADDR")]
    pub syslog_tcp_listen: Option<String>,
    /// Newline-delimited JSON logs over TCP [default: 127.0.0.1:5170].
    #[arg(long, env = "PARTOUT_JSONLINES_TCP_LISTEN", value_name = "ADDR")]
    pub jsonlines_tcp_listen: Option<String>,
    /// StatsD flush interval, which is also the raw resolution of every
    /// metric series, in seconds [default: 10].
    #[arg(long, env = "PARTOUT_METRICS_FLUSH_INTERVAL_SECS", value_name = "SECS")]
    pub metrics_flush_interval_secs: Option<u64>,
    /// Format of partout's own logs [default: text].
    #[arg(long, env = "PARTOUT_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Ensure an admin API token with this value exists (for automation).
    #[arg(
        long,
        env = "PARTOUT_BOOTSTRAP_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub bootstrap_token: Option<String>,
    /// The first admin's password, used once: when partout starts with
    /// no users. Unset, a password is generated and printed to the log.
    #[arg(
        long,
        env = "PARTOUT_ADMIN_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub admin_password: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (with --http-tls-key).
    #[arg(long, env = "PARTOUT_HTTP_TLS_CERT", value_name = "FILE")]
    pub http_tls_cert: Option<PathBuf>,
    /// The PEM private key of --http-tls-cert.
    #[arg(long, env = "PARTOUT_HTTP_TLS_KEY", value_name = "FILE")]
    pub http_tls_key: Option<PathBuf>,
    /// Bind listeners given as a bare port (and the defaults) on every
    /// interface instead of 127.0.0.1 [default: false].
    #[arg(
        long,
        env = "PARTOUT_LISTEN_ALL_INTERFACES",
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
        value_name = "BOOL"
    )]
    pub listen_all_interfaces: Option<bool>,
    /// Ingestion APIs that accept data without a token, comma-separated:
    /// logs, deploys, elasticsearch, loki [default: none].
    #[arg(
        long,
        env = "PARTOUT_OPEN_INGEST",
        value_delimiter = ',',
        value_name = "APIS"
    )]
    pub open_ingest: Option<Vec<String>>,
    /// Serve /metrics without a token, for Prometheus [default: false].
    #[arg(
        long,
        env = "PARTOUT_METRICS_OPEN",
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
        value_name = "BOOL"
    )]
    pub metrics_open: Option<bool>,
}
