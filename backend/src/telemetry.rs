//! Partout's own counters, exposed at `/metrics` in the OpenMetrics text
//! format that Prometheus scrapes.
//!
//! Invariant: every label has a small, fixed set of values (a route
//! template, a protocol name, a reject reason), never a metric name, a peer
//! address or anything else a client chooses.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels of `partout_http_requests_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpRequestLabels {
    /// The matched route template (`/api/v1/deploys`), or `unmatched`.
    pub route: String,
    pub method: String,
    /// `2xx`, `3xx`, `4xx` or `5xx`.
    pub status: String,
}

/// Labels of the per-protocol ingest counters.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProtocolLabels {
    pub protocol: String,
}

/// Labels of the storage failure counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StoreLabels {
    pub store: String,
}

/// Labels of the sign-in counter: `accepted`, `rejected`, `throttled`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SignInLabels {
    pub outcome: String,
}

/// Labels of the per-protocol reject counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectLabels {
    pub protocol: String,
    pub reason: String,
}

/// Labels of the storage size gauge.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StorageFileLabels {
    pub file: String,
}

/// Labels of the skipped Sentry items counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ItemTypeLabels {
    /// A known envelope item type, or `other`.
    pub item_type: String,
}

/// Labels of the issue changes counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IssueChangeLabels {
    /// `new` or `regressed`.
    pub change: String,
}

/// Labels of the error notifications counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotificationLabels {
    /// `sent`, `retried`, `given_up` (per delivery) or `suppressed` (per
    /// notification over the project's limit).
    pub outcome: String,
}

/// Every counter partout keeps about itself.
pub struct Telemetry {
    registry: Registry,
    pub http_requests: Family<HttpRequestLabels, Counter>,
    /// Items accepted per protocol (a StatsD line, a log line, an event).
    pub ingested_items: Family<ProtocolLabels, Counter>,
    /// Items refused per protocol and reason.
    pub rejected_items: Family<RejectLabels, Counter>,
    pub storage_bytes: Family<StorageFileLabels, Gauge>,
    pub store_write_queue: Gauge,
    /// The store writer's commits and WAL flushes (`Store::open_counted`).
    pub store_writer: crate::store::WriterCounters,
    pub uptime_seconds: Gauge,
    pub deploys_recorded: Counter,
    /// Web-app sign-ins by outcome.
    pub sign_ins: Family<SignInLabels, Counter>,
    /// HTTP connections closed at once: the listener was at its cap.
    pub http_connections_refused: Counter,
    /// Log index commits that failed (a full or read-only disk); their
    /// lines stay in the journal and are indexed again.
    pub log_commit_failures: Counter,
    /// Writes refused because the disk is full or read-only, by store.
    pub storage_write_failures: Family<StoreLabels, Counter>,
    /// Metric points committed to storage, by protocol.
    pub metric_points_written: Family<ProtocolLabels, Counter>,
    /// Series in the metrics catalog.
    pub metric_series: Gauge,
    /// Raw points held in memory, not yet sealed into chunks.
    pub metric_head_points: Gauge,
    /// Chunks written by seals (raw and rollups).
    pub metric_chunks_written: Counter,
    /// Chunk bytes written by seals, after compression.
    pub metric_chunk_bytes_written: Counter,
    /// Log lines made durable in the journal and handed to the index.
    pub log_lines_written: Counter,
    /// Log lines waiting in the queue to the log writer.
    pub log_queue_lines: Gauge,
    /// Bytes of the log journal (what arrived since the last commit).
    pub log_journal_bytes: Gauge,
    /// Log partitions (days) on disk.
    pub log_partitions: Gauge,
    /// Bytes of the log partitions on disk.
    pub log_index_bytes: Gauge,
    /// Log partitions removed by retention, by reason (`age`, `size`).
    pub log_partitions_dropped: Family<ReasonLabels, Counter>,
    /// Live-tail subscribers that fell behind and skipped lines.
    pub log_tail_lagged: Counter,
    /// Log lines longer than the limit, kept cut and marked.
    pub log_lines_truncated: Counter,
    /// Sentry envelope items accepted but not processed, by type.
    pub sentry_items_skipped: Family<ItemTypeLabels, Counter>,
    /// Issues opened or reopened by events, by change.
    pub error_issue_changes: Family<IssueChangeLabels, Counter>,
    /// Webhook deliveries and suppressed notifications, by outcome.
    pub error_notifications: Family<NotificationLabels, Counter>,
    /// Error events refused by the per-project rate limit.
    pub error_events_rate_limited: Counter,
    /// Writer jobs that recorded requests' events, and the requests they
    /// took: their ratio is how many requests share a job.
    pub error_event_queue: crate::errors::event_queue::QueueCounters,
    /// Issue counts held in memory, their batches, and the events read
    /// back to count them.
    pub error_counts: crate::errors::counts::CountsCounters,
    /// Memory held by the issue dictionaries ingestion keeps prepared.
    pub error_dictionary_cache_bytes: Gauge,
    /// Error log lines with an exception that did not become error
    /// events, by reason (`queue_full`, `rate_limited`, `no_project`,
    /// `failed`).
    pub errors_from_logs_dropped: Family<ReasonLabels, Counter>,
}

/// Labels of counters split by a reason only.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

impl Telemetry {
    pub fn new() -> Telemetry {
        let mut registry = Registry::with_prefix("partout");
        let http_requests = Family::<HttpRequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status class",
            http_requests.clone(),
        );
        let ingested_items = Family::<ProtocolLabels, Counter>::default();
        registry.register(
            "ingested_items",
            "Items accepted, by protocol",
            ingested_items.clone(),
        );
        let rejected_items = Family::<RejectLabels, Counter>::default();
        registry.register(
            "rejected_items",
            "Items refused, by protocol and reason",
            rejected_items.clone(),
        );
        let storage_bytes = Family::<StorageFileLabels, Gauge>::default();
        registry.register(
            "storage_bytes",
            "Size of partout's storage files in bytes",
            storage_bytes.clone(),
        );
        let store_write_queue = Gauge::default();
        registry.register(
            "store_write_queue_depth",
            "Jobs waiting for the database writer thread",
            store_write_queue.clone(),
        );
        let store_writer = crate::store::WriterCounters::default();
        registry.register(
            "store_commits",
            "Write transactions the database writer committed",
            store_writer.commits.clone(),
        );
        registry.register(
            "store_wal_flushes",
            "Flushes (fdatasync) of the database's write-ahead log; each covers the commits made since the last, which are answered only after it",
            store_writer.flushes.clone(),
        );
        registry.register(
            "store_wal_flush_seconds",
            "Time spent in those flushes",
            store_writer.flush_seconds.clone(),
        );
        let uptime_seconds = Gauge::default();
        registry.register(
            "uptime_seconds",
            "Seconds since this partout process started",
            uptime_seconds.clone(),
        );
        let deploys_recorded = Counter::default();
        registry.register(
            "deploys_recorded",
            "Deploys recorded through the API",
            deploys_recorded.clone(),
        );
        let sign_ins = Family::<SignInLabels, Counter>::default();
        registry.register(
            "sign_ins",
            "Web-app sign-in attempts by outcome (accepted, rejected, throttled)",
            sign_ins.clone(),
        );
        let http_connections_refused = Counter::default();
        registry.register(
            "http_connections_refused",
            "HTTP connections closed on arrival because http.max_connections were open",
            http_connections_refused.clone(),
        );
        let log_commit_failures = Counter::default();
        registry.register(
            "log_commit_failures",
            "Log index commits that failed; their lines stay in the journal and are indexed again",
            log_commit_failures.clone(),
        );
        let storage_write_failures = Family::<StoreLabels, Counter>::default();
        registry.register(
            "storage_write_failures",
            "Writes refused because the disk is full or read-only, by store (logs_journal, database)",
            storage_write_failures.clone(),
        );
        let metric_points_written = Family::<ProtocolLabels, Counter>::default();
        registry.register(
            "metric_points_written",
            "Metric points committed to storage, by protocol",
            metric_points_written.clone(),
        );
        let metric_series = Gauge::default();
        registry.register(
            "metric_series",
            "Series in the metrics catalog",
            metric_series.clone(),
        );
        let metric_head_points = Gauge::default();
        registry.register(
            "metric_head_points",
            "Raw metric points held in memory (and in the write-ahead log), not yet sealed into chunks",
            metric_head_points.clone(),
        );
        let metric_chunks_written = Counter::default();
        registry.register(
            "metric_chunks_written",
            "Metric chunks written by seals, raw and rollups",
            metric_chunks_written.clone(),
        );
        let metric_chunk_bytes_written = Counter::default();
        registry.register(
            "metric_chunk_bytes_written",
            "Compressed bytes of metric chunks written by seals",
            metric_chunk_bytes_written.clone(),
        );
        let log_lines_written = Counter::default();
        registry.register(
            "log_lines_written",
            "Log lines made durable in the journal and handed to the index",
            log_lines_written.clone(),
        );
        let log_queue_lines = Gauge::default();
        registry.register(
            "log_queue_lines",
            "Log lines accepted and waiting for the log writer",
            log_queue_lines.clone(),
        );
        let log_journal_bytes = Gauge::default();
        registry.register(
            "log_journal_bytes",
            "Bytes of the log journal: lines not yet committed to the index",
            log_journal_bytes.clone(),
        );
        let log_partitions = Gauge::default();
        registry.register(
            "log_partitions",
            "Log partitions (UTC days) on disk",
            log_partitions.clone(),
        );
        let log_index_bytes = Gauge::default();
        registry.register(
            "log_index_bytes",
            "Bytes of the log partitions on disk (index and compressed lines)",
            log_index_bytes.clone(),
        );
        let log_partitions_dropped = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "log_partitions_dropped",
            "Log partitions removed by retention, by reason (age or size)",
            log_partitions_dropped.clone(),
        );
        let log_tail_lagged = Counter::default();
        registry.register(
            "log_tail_lagged",
            "Times a live-tail subscriber fell behind and skipped lines",
            log_tail_lagged.clone(),
        );
        let log_lines_truncated = Counter::default();
        registry.register(
            "log_lines_truncated",
            "Log lines longer than logs.max_line_bytes, kept cut and marked truncated",
            log_lines_truncated.clone(),
        );
        let sentry_items_skipped = Family::<ItemTypeLabels, Counter>::default();
        registry.register(
            "sentry_items_skipped",
            "Sentry envelope items accepted and skipped (not processed yet), by item type",
            sentry_items_skipped.clone(),
        );
        let error_issue_changes = Family::<IssueChangeLabels, Counter>::default();
        registry.register(
            "error_issue_changes",
            "Issues opened (new) or reopened (regressed) by incoming error events",
            error_issue_changes.clone(),
        );
        let error_notifications = Family::<NotificationLabels, Counter>::default();
        registry.register(
            "error_notifications",
            "Issue notifications: webhook deliveries by outcome, and notifications suppressed by the per-project limit",
            error_notifications.clone(),
        );
        let error_events_rate_limited = Counter::default();
        registry.register(
            "error_events_rate_limited",
            "Error events refused by the per-project rate limit",
            error_events_rate_limited.clone(),
        );
        let error_event_queue = crate::errors::event_queue::QueueCounters::default();
        registry.register(
            "error_event_jobs",
            "Writer jobs that recorded the error events of queued Sentry requests",
            error_event_queue.jobs.clone(),
        );
        registry.register(
            "error_event_job_requests",
            "Sentry requests whose events those writer jobs recorded",
            error_event_queue.requests.clone(),
        );
        let error_counts = crate::errors::counts::CountsCounters::default();
        registry.register(
            "error_count_batches",
            "Batches of issue counts (hours, users, tag values) written from memory",
            error_counts.batches.clone(),
        );
        registry.register(
            "error_count_replayed_events",
            "Stored error events read back to count them (after a crash, or a failed write)",
            error_counts.replayed_events.clone(),
        );
        registry.register(
            "error_count_pending_events",
            "Error events whose issue counts are held in memory, not yet written (bounded)",
            error_counts.pending_events.clone(),
        );
        let error_dictionary_cache_bytes = Gauge::default();
        registry.register(
            "error_dictionary_cache_bytes",
            "Bytes of the issue dictionaries kept prepared for compressing error events (bounded)",
            error_dictionary_cache_bytes.clone(),
        );
        let errors_from_logs_dropped = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "errors_from_logs_dropped",
            "Error log lines with an exception that did not become error events, by reason",
            errors_from_logs_dropped.clone(),
        );
        let build_info = Family::<Vec<(String, String)>, Gauge>::default();
        registry.register(
            "build_info",
            "Always 1; the version label says which partout this is",
            build_info.clone(),
        );
        build_info
            .get_or_create(&vec![(
                "version".to_owned(),
                env!("CARGO_PKG_VERSION").to_owned(),
            )])
            .set(1);
        Telemetry {
            registry,
            http_requests,
            ingested_items,
            rejected_items,
            storage_bytes,
            store_write_queue,
            store_writer,
            uptime_seconds,
            deploys_recorded,
            sign_ins,
            http_connections_refused,
            log_commit_failures,
            storage_write_failures,
            metric_points_written,
            metric_series,
            metric_head_points,
            metric_chunks_written,
            metric_chunk_bytes_written,
            log_lines_written,
            log_queue_lines,
            log_journal_bytes,
            log_partitions,
            log_index_bytes,
            log_partitions_dropped,
            log_tail_lagged,
            log_lines_truncated,
            sentry_items_skipped,
            error_issue_changes,
            error_notifications,
            error_events_rate_limited,
            error_event_queue,
            error_counts,
            error_dictionary_cache_bytes,
            errors_from_logs_dropped,
        }
    }

    /// Counts an error event recorded from `protocol`, and the change it
    /// made to its issue (`new`, `regressed`), if any.
    pub fn count_recorded_event(&self, protocol: &str, change: Option<&str>) {
        self.ingested_items
            .get_or_create(&ProtocolLabels {
                protocol: protocol.to_owned(),
            })
            .inc();
        if let Some(change) = change {
            self.error_issue_changes
                .get_or_create(&IssueChangeLabels {
                    change: change.to_owned(),
                })
                .inc();
        }
    }

    /// Counts one sign-in attempt.
    pub fn count_login(&self, outcome: &str) {
        self.sign_ins
            .get_or_create(&SignInLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// The exposition text of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail; an empty page is the fallback.
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_appear_with_their_labels_in_the_exposition() {
        let telemetry = Telemetry::new();
        telemetry
            .rejected_items
            .get_or_create(&RejectLabels {
                protocol: "statsd".into(),
                reason: "bad_type".into(),
            })
            .inc_by(3);
        let text = telemetry.encode();
        assert!(
            text.contains(
                "partout_rejected_items_total{protocol=\"statsd\",reason=\"bad_type\"} 3"
            ),
            "{text}"
        );
        assert!(text.contains("partout_build_info{version=\""), "{text}");
        assert!(text.trim_end().ends_with("# EOF"), "{text}");
    }
}
