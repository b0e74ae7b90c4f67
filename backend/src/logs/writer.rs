//! The index thread: the back half of the log writer, and the only owner
//! of the index writers.
//!
//! Per round, as the journal thread ([`super::journaler`]) hands them over:
//! normalize each journaled line and index it. Every commit interval,
//! commit the partitions that changed (searchable from then on), release
//! the journal up to what the commit holds, close idle writers, and now
//! and then apply retention.

use std::collections::BTreeMap;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::journal::Journal;
use super::journaler::{Ahead, CloseOnDrop};
use super::partition::{Partition, PartitionReader};
use super::raw::RawLog;
use super::record::{normalize, LogRecord};
use super::{day, Clock, ExceptionLine, LogConfig, Shared, TailLine};
use crate::telemetry::{ReasonLabels, Telemetry};

/// Commit rounds a partition's writer may sit unused before it is closed
/// (the current day's stays open).
const IDLE_ROUNDS_BEFORE_CLOSE: u32 = 30;
/// How often retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(60);

/// One journaled group and what else its round asks for.
#[derive(Default)]
pub struct Round {
    /// The sequence number of the first line.
    pub first_seq: u64,
    /// Lines on disk in the journal, acknowledged, in order.
    pub lines: Vec<RawLog>,
    /// Their weight, counted in [`super::journaler::Ahead`] until indexed.
    pub bytes: usize,
    pub commit_now: bool,
    pub retention_now: bool,
    /// Answered once the round's commit and retention are done.
    pub replies: Vec<oneshot::Sender<()>>,
    pub forward_exceptions: Option<mpsc::Sender<ExceptionLine>>,
}

pub struct Writer {
    pub config: Arc<LogConfig>,
    pub shared: Arc<Shared>,
    pub telemetry: Arc<Telemetry>,
    pub clock: Clock,
    /// Shared with the journal thread, which appends; this thread releases.
    pub journal: Arc<Mutex<Journal>>,
    pub partitions: BTreeMap<i64, Partition>,
    /// The sequence number after the last line handed to [`Writer::index`].
    pub next_seq: u64,
    pub last_commit: Instant,
    pub last_retention: Instant,
    /// A line could not be indexed, or a commit failed (a full or
    /// read-only disk): the journal is kept, and the next commit round
    /// indexes again, from the journal, what no partition committed.
    pub unindexed: bool,
    /// Where lines that should become error events go; dropped with the
    /// writer, which ends the queue's reader.
    pub exceptions: Option<mpsc::Sender<ExceptionLine>>,
}

impl Writer {
    /// Runs until the journal thread is gone, then commits and returns.
    pub fn run(mut self, rounds: std_mpsc::Receiver<Round>, ahead: Arc<Ahead>) {
        let ahead = CloseOnDrop(ahead);
        while let Ok(round) = rounds.recv() {
            if let Some(sender) = round.forward_exceptions {
                self.exceptions = Some(sender);
            }
            let count = round.lines.len() as u64;
            for (offset, raw) in round.lines.into_iter().enumerate() {
                self.index(round.first_seq + offset as u64, raw);
            }
            ahead.0.release(round.bytes);
            if count > 0 {
                self.next_seq = round.first_seq + count;
            }
            if round.commit_now || self.last_commit.elapsed() >= self.config.commit_interval {
                self.commit();
            }
            if round.retention_now || self.last_retention.elapsed() >= RETENTION_EVERY {
                self.apply_retention();
            }
            for reply in round.replies {
                let _ = reply.send(());
            }
        }
        self.commit();
        for partition in self.partitions.values_mut() {
            if let Err(error) = partition.close_writer() {
                tracing::error!(%error, "closing a log partition writer failed");
            }
        }
    }

    /// Adds one line to its day's partition (unless a replay finds it
    /// already committed there).
    pub fn index(&mut self, seq: u64, raw: RawLog) {
        let record = normalize(&raw, &self.config.normalize);
        let day_number = day::day_of(record.timestamp_nanos);
        let shared = Arc::clone(&self.shared);
        let budget = self.config.writer;
        let partition = match self.partition(day_number) {
            Ok(partition) => partition,
            Err(error) => {
                tracing::error!(%error, day = %day::name(day_number), "cannot open log partition; the line stays in the journal until a restart retries it");
                self.unindexed = true;
                return;
            }
        };
        if partition.holds(seq) {
            return;
        }
        let stored = shared.schema.stored_line(&raw, partition.stores_text);
        let document = shared.schema.document(seq, &record, stored);
        if let Err(error) = partition.add(seq, document, budget) {
            // Once per round: a broken writer fails every line after.
            if !self.unindexed {
                tracing::error!(%error, "indexing log lines failed; they stay in the journal and are indexed again at the next commit");
            }
            self.unindexed = true;
            return;
        }
        if record.is_error_with_exception() {
            self.forward_exception(seq, &record);
        }
        if shared.tail.receiver_count() > 0 {
            let _ = shared.tail.send(Arc::new(TailLine { seq, record }));
        }
    }

    /// Hands a line to error tracking without waiting: when its queue is
    /// full, the line is only counted (it is stored and searchable all
    /// the same).
    fn forward_exception(&self, seq: u64, record: &LogRecord) {
        let Some(sender) = &self.exceptions else {
            return;
        };
        let line = ExceptionLine {
            seq,
            record: record.clone(),
        };
        if let Err(mpsc::error::TrySendError::Full(_)) = sender.try_send(line) {
            self.telemetry
                .errors_from_logs_dropped
                .get_or_create(&ReasonLabels {
                    reason: "queue_full".to_owned(),
                })
                .inc();
        }
    }

    fn partition(&mut self, day_number: i64) -> tantivy::Result<&mut Partition> {
        if !self.partitions.contains_key(&day_number) {
            let partition = Partition::open(&self.config.dir, day_number, &self.shared.schema)?;
            self.shared.publish_partition(partition.shared.clone());
            self.partitions.insert(day_number, partition);
            self.telemetry
                .log_partitions
                .set(self.partitions.len() as i64);
        }
        self.partitions
            .get_mut(&day_number)
            .ok_or_else(|| tantivy::TantivyError::InternalError("partition vanished".into()))
    }

    /// Commits every partition that changed, then releases the journal.
    pub fn commit(&mut self) {
        self.last_commit = Instant::now();
        if self.unindexed {
            self.recover();
        }
        let today = day::day_of((self.clock)());
        let mut all_committed = true;
        for partition in self.partitions.values_mut() {
            if let Err(error) = partition.commit() {
                all_committed = false;
                self.unindexed = true;
                self.telemetry.log_commit_failures.inc();
                tracing::error!(%error, day = %day::name(partition.day()), "log partition commit failed; its lines stay in the journal and are indexed again once the disk takes them");
            }
            if partition.has_writer()
                && partition.day() < today
                && partition.idle_rounds >= IDLE_ROUNDS_BEFORE_CLOSE
            {
                if let Err(error) = partition.close_writer() {
                    tracing::error!(%error, "closing an idle log partition writer failed");
                }
            }
        }
        let Ok(mut journal) = self.journal.lock() else {
            tracing::error!("the log journal's lock is poisoned; it is not released");
            return;
        };
        if all_committed && !self.unindexed {
            if let Err(error) = journal.release(self.next_seq) {
                tracing::error!(%error, "releasing the log journal failed");
            }
        }
        self.telemetry
            .log_journal_bytes
            .set(i64::try_from(journal.disk_bytes()).unwrap_or(i64::MAX));
    }

    /// After a failed commit, what a partition held uncommitted may be
    /// half-written inside tantivy, and committing more on top would
    /// record lines as stored that are not: drop every uncommitted line,
    /// and index again from the journal whatever no partition committed.
    fn recover(&mut self) {
        let unreleased = match self.journal.lock() {
            Ok(journal) => journal.unreleased(),
            Err(_) => Err(std::io::Error::other("the journal's lock is poisoned")),
        };
        // Lines journaled since the last round this thread saw are on
        // their way to it: they are indexed when they arrive.
        let lines = match unreleased {
            Ok(mut lines) => {
                lines.retain(|(seq, _)| *seq < self.next_seq);
                lines
            }
            Err(error) => {
                tracing::error!(%error, "cannot read the log journal back; retrying at the next commit");
                return;
            }
        };
        for partition in self.partitions.values_mut() {
            partition.discard_uncommitted();
        }
        self.unindexed = false;
        let count = lines.len();
        for (seq, raw) in lines {
            self.index(seq, raw);
        }
        tracing::info!(
            lines = count,
            "log lines indexed again from the journal after a failure"
        );
    }

    /// Drops partitions past the age limit, then the oldest ones while the
    /// total is over the size limit (never the newest one).
    pub fn apply_retention(&mut self) {
        self.last_retention = Instant::now();
        let now = (self.clock)();
        let oldest_kept = day::day_of(now.saturating_sub(self.config.max_age_nanos));
        let expired: Vec<i64> = self
            .partitions
            .keys()
            .copied()
            .filter(|&day_number| day_number < oldest_kept)
            .collect();
        for day_number in expired {
            self.drop_partition(day_number, "age");
        }
        let mut sizes: Vec<(i64, u64)> = self
            .partitions
            .values()
            .map(|partition| (partition.day(), partition.disk_bytes()))
            .collect();
        let mut total: u64 = sizes.iter().map(|(_, bytes)| bytes).sum();
        while total > self.config.max_bytes && sizes.len() > 1 {
            let (day_number, bytes) = sizes.remove(0);
            self.drop_partition(day_number, "size");
            total -= bytes;
        }
        self.telemetry
            .log_index_bytes
            .set(i64::try_from(total).unwrap_or(i64::MAX));
        self.telemetry
            .log_partitions
            .set(self.partitions.len() as i64);
    }

    fn drop_partition(&mut self, day_number: i64, reason: &str) {
        let Some(mut partition) = self.partitions.remove(&day_number) else {
            return;
        };
        partition.abandon();
        self.shared.unpublish_partition(day_number);
        let dir = partition.dir.clone();
        drop(partition);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {
                tracing::info!(day = %day::name(day_number), reason, "log partition removed by retention")
            }
            Err(error) => {
                tracing::error!(%error, dir = %dir.display(), "removing a log partition failed")
            }
        }
        self.telemetry
            .log_partitions_dropped
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }
}

/// Partitions found on disk at start, by day.
pub fn open_existing(
    config: &LogConfig,
    shared: &Shared,
) -> std::io::Result<BTreeMap<i64, Partition>> {
    let mut partitions = BTreeMap::new();
    for entry in std::fs::read_dir(&config.dir)? {
        let entry = entry?;
        let Some(day_number) = entry.file_name().to_str().and_then(day::parse) else {
            continue;
        };
        match Partition::open(&config.dir, day_number, &shared.schema) {
            Ok(partition) => {
                shared.publish_partition(partition.shared.clone());
                partitions.insert(day_number, partition);
            }
            Err(error) => {
                tracing::error!(%error, day = %day::name(day_number), "cannot open log partition; it is left alone and not searched");
            }
        }
    }
    Ok(partitions)
}

/// Shared view for searches: partitions by day.
pub type PartitionMap = BTreeMap<i64, PartitionReader>;

/// A record decoded from a stored document.
pub fn record_of(config: &LogConfig, raw: &RawLog) -> LogRecord {
    normalize(raw, &config.normalize)
}
