//! The partout server: listeners, storage, HTTP API and the embedded web app.
//!
//! # Layout
//! - [`config`]: flags, environment and TOML merged and validated into `Settings`
//! - [`access`]: users, sessions, API tokens: who may call what
//! - [`app`]: wiring and the shutdown drain order
//! - [`shutdown`]: SIGINT/SIGTERM handling
//! - [`ingest`]: UDP/TCP listeners and per-protocol sessions
//! - [`metrics`]: StatsD aggregation, quantile sketches, the metrics writer
//! - [`query`]: read paths (the Graphite render engine)
//! - [`store`]: SQLite, the single writer thread, migrations
//! - [`errors`]: Sentry events grouped into issues: projects, keys,
//!   ingestion, issue state and queries
//! - [`tsdb`]: the metrics store: catalog cache, head and its log, chunks,
//!   rollups and retention
//! - [`http`]: the router, health endpoints, `/api/v1`, the web app assets
//! - [`telemetry`]: partout's own counters for `/metrics`
//! - [`varint`]: varints and zigzag for our binary encodings
//!
//! Data flows one way: listener -> parser (`partout-protocols`) -> record ->
//! store -> query -> HTTP -> web app.

pub mod access;
pub mod app;
pub mod cli;
pub mod config;
pub mod errors;
pub mod http;
pub mod ingest;
pub mod logs;
pub mod metrics;
pub mod query;
pub mod shutdown;
pub mod store;
pub mod telemetry;
pub mod tsdb;
pub mod varint;
pub mod zstd_context;
