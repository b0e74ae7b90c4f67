//! The log store: durable ingestion into day partitions of tantivy
//! indexes, search, and the live tail.
//!
//! ```text
//! listeners / HTTP --RawLog--> [bounded queue] --> journal thread
//!     journal append + fdatasync --> ack --> [bounded queue] --> index thread
//!     normalize --> index (day partition)
//!     every commit interval: commit (searchable) --> release journal
//! search: query --> partitions overlapping the range, newest first
//! ```
//!
//! # Layout
//! - [`raw`]: a line as received, the unit of the journal and doc store
//! - [`record`]: a raw line read into time, level, service, host, message,
//!   fields (pure)
//! - [`journal`]: the append-only journal with CRC-checked records
//! - [`schema`]: the tantivy schema, tokenizers, record into document;
//!   [`tokenizer`]: the words tokenizer (UUIDs kept whole)
//! - [`partition`]: one UTC day's index
//! - [`journaler`]: the journal thread, which acknowledges
//! - [`writer`]: the index thread, which indexes and commits
//! - [`lang`]: the query language (pure), [`search`]: its evaluation
//! - [`day`]: UTC day numbers and RFC 3339 text
//!
//! Invariants: a line is acknowledged only once its journal record is
//! synced; it is searchable within one commit interval after that; the
//! journal only holds lines not yet committed, and replay skips what a
//! partition's commit already holds, so nothing is lost or doubled.

pub mod day;
pub mod journal;
pub mod journaler;
pub mod lang;
pub mod partition;
pub mod raw;
pub mod record;
pub mod schema;
pub mod search;
pub mod tokenizer;
pub mod writer;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, oneshot};

use self::journal::Journal;
use self::journaler::{Ahead, Journaler, Message};
use self::partition::{PartitionReader, WriterBudget};
use self::raw::RawLog;
use self::record::{LogRecord, NormalizeConfig};
use self::schema::LogSchema;
use self::writer::{PartitionMap, Writer};
use crate::telemetry::Telemetry;

/// Unix nanoseconds now; injected so tests control retention.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(|| crate::store::unix_ms_now().saturating_mul(1_000_000))
}

/// How the log store behaves.
#[derive(Clone)]
pub struct LogConfig {
    /// `<data dir>/logs`: partitions, and the journal in `journal/`.
    pub dir: PathBuf,
    pub normalize: NormalizeConfig,
    /// Partitions whose day ended longer ago than this are removed.
    pub max_age_nanos: i64,
    /// Over this many bytes, the oldest partitions are removed.
    pub max_bytes: u64,
    /// How often new lines are committed and so become searchable.
    pub commit_interval: Duration,
    pub writer: WriterBudget,
    /// Lines (roughly) the queue to the writer holds before senders wait.
    pub queue_lines: usize,
    /// Longer lines are cut to this many bytes and marked.
    pub max_line_bytes: usize,
}

/// A small store for tests: commits every 50 ms, 30 days, 1 GB.
#[cfg(test)]
pub fn test_config(dir: &std::path::Path) -> LogConfig {
    use partout_protocols::jsonlog::JsonLogLimits;
    let day = 86_400 * 1_000_000_000i64;
    LogConfig {
        dir: dir.to_owned(),
        normalize: NormalizeConfig {
            json: JsonLogLimits::default(),
            time: record::TimePolicy {
                max_past_nanos: 30 * day,
                max_future_nanos: 3_600_000_000_000,
            },
        },
        max_age_nanos: 30 * day,
        max_bytes: 1_000_000_000,
        commit_interval: Duration::from_millis(50),
        writer: WriterBudget {
            threads: 1,
            memory_bytes: 15_000_000,
        },
        queue_lines: 8192,
        max_line_bytes: 64 * 1024,
    }
}

/// A new line, as live-tail subscribers get it.
#[derive(Debug)]
pub struct TailLine {
    pub seq: u64,
    pub record: LogRecord,
}

/// A stored line at level error or above that carries an exception,
/// handed to error tracking after it was journaled and indexed.
#[derive(Debug)]
pub struct ExceptionLine {
    /// The line's journal sequence number.
    pub seq: u64,
    pub record: LogRecord,
}

/// Lines a live-tail subscriber may fall behind by before it skips.
const TAIL_CAPACITY: usize = 4096;
/// Lines in one queued message, at most: the queue is counted in messages.
pub const MAX_BATCH_LINES: usize = 1024;

/// State shared by the store's handles and its writer.
pub struct Shared {
    pub schema: LogSchema,
    partitions: RwLock<Arc<PartitionMap>>,
    pub tail: broadcast::Sender<Arc<TailLine>>,
    queued_lines: AtomicI64,
}

impl Shared {
    fn publish_partition(&self, reader: PartitionReader) {
        self.update_partitions(|map| {
            map.insert(reader.day, reader);
        });
    }

    fn unpublish_partition(&self, day_number: i64) {
        self.update_partitions(|map| {
            map.remove(&day_number);
        });
    }

    fn update_partitions(&self, change: impl FnOnce(&mut PartitionMap)) {
        let mut guard = match self.partitions.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut map = (**guard).clone();
        change(&mut map);
        *guard = Arc::new(map);
    }

    /// Lines taken off the queue by the writer.
    fn dequeued(&self, lines: usize, telemetry: &Telemetry) {
        let left = self.queued_lines.fetch_sub(lines as i64, Ordering::Relaxed) - lines as i64;
        telemetry.log_queue_lines.set(left);
    }

    /// The partitions as they are now (a snapshot: retention may remove
    /// one later, its open files stay readable).
    pub fn partitions(&self) -> Arc<PartitionMap> {
        match self.partitions.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

/// Why lines were not stored.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("the log store is shutting down")]
    Closed,
    #[error("the log queue is full")]
    QueueFull,
    #[error("{0}")]
    Journal(String),
    /// The disk is full or read-only: nothing of the batch was stored.
    #[error("the disk is full or read-only, nothing was stored: {0}")]
    DiskFull(String),
    #[error("cannot open the log store: {0}")]
    Open(String),
    #[error("log search failed: {0}")]
    Search(String),
}

/// Handle on the log store; clones share it.
#[derive(Clone)]
pub struct LogStore {
    sender: mpsc::Sender<Message>,
    pub shared: Arc<Shared>,
    pub config: Arc<LogConfig>,
    telemetry: Arc<Telemetry>,
}

/// The writer's two threads, for the shutdown drain.
pub struct WriterThread {
    journal: std::thread::JoinHandle<()>,
    index: std::thread::JoinHandle<()>,
}

impl WriterThread {
    /// Waits (blocking) until the writer has committed and exited; it does
    /// once every [`LogStore`] handle is dropped.
    pub fn join(self) {
        if self.journal.join().is_err() {
            tracing::error!("the log journal thread panicked");
        }
        if self.index.join().is_err() {
            tracing::error!("the log writer thread panicked");
        }
    }
}

impl LogStore {
    /// Opens the store (blocking: replays the journal), starts the writer
    /// thread and a ticker on the current tokio runtime.
    pub fn open(
        config: LogConfig,
        telemetry: Arc<Telemetry>,
        clock: Clock,
    ) -> Result<(LogStore, WriterThread), LogError> {
        let open_error = |error: &dyn std::fmt::Display| LogError::Open(error.to_string());
        std::fs::create_dir_all(&config.dir).map_err(|e| open_error(&e))?;
        let config = Arc::new(config);
        let (tail, _) = broadcast::channel(TAIL_CAPACITY);
        let shared = Arc::new(Shared {
            schema: LogSchema::new(),
            partitions: RwLock::new(Arc::new(PartitionMap::new())),
            tail,
            queued_lines: AtomicI64::new(0),
        });
        let partitions = writer::open_existing(&config, &shared).map_err(|e| open_error(&e))?;
        let (journal, replay) =
            Journal::open(&config.dir.join("journal")).map_err(|e| open_error(&e))?;
        let committed = partitions
            .values()
            .filter_map(|partition| partition.committed_seq)
            .max()
            .map_or(0, |seq| seq + 1);
        let replayed_next = replay.lines.last().map_or(0, |(seq, _)| seq + 1);
        let next_seq = committed.max(replayed_next).max(journal.next_seq());
        let journal = Arc::new(std::sync::Mutex::new(journal));
        let mut writer = Writer {
            config: Arc::clone(&config),
            shared: Arc::clone(&shared),
            telemetry: Arc::clone(&telemetry),
            clock,
            journal: Arc::clone(&journal),
            partitions,
            next_seq,
            last_commit: Instant::now(),
            last_retention: Instant::now(),
            unindexed: false,
            exceptions: None,
        };
        let replayed = replay.lines.len();
        for (seq, raw) in replay.lines {
            writer.index(seq, raw);
        }
        writer.commit();
        writer.apply_retention();
        if replayed > 0 {
            tracing::info!(lines = replayed, "log journal replayed");
        }
        let queue_messages = (config.queue_lines / MAX_BATCH_LINES).max(16);
        let (sender, receiver) = mpsc::channel(queue_messages);
        // Unbounded in rounds: `Ahead` bounds it in bytes.
        let (to_index, rounds) = std::sync::mpsc::channel();
        let ahead = Arc::new(Ahead::default());
        let journaler = Journaler {
            journal,
            shared: Arc::clone(&shared),
            telemetry: Arc::clone(&telemetry),
            next_seq: writer.next_seq,
            ahead: Arc::clone(&ahead),
        };
        let index = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || writer.run(rounds, ahead))
            .map_err(|e| open_error(&e))?;
        let journal = std::thread::Builder::new()
            .name("log-journal".into())
            .spawn(move || journaler.run(receiver, to_index))
            .map_err(|e| open_error(&e))?;
        spawn_ticker(sender.downgrade(), config.commit_interval);
        Ok((
            LogStore {
                sender,
                shared,
                config,
                telemetry,
            },
            WriterThread { journal, index },
        ))
    }

    fn count_queued(&self, lines: usize) {
        let queued = self
            .shared
            .queued_lines
            .fetch_add(lines as i64, Ordering::Relaxed)
            + lines as i64;
        self.telemetry.log_queue_lines.set(queued);
    }

    /// Stores lines and waits until they are durable (HTTP ingest: the
    /// 2xx means the lines survive a crash).
    pub async fn append(&self, lines: Vec<RawLog>) -> Result<(), LogError> {
        // Every chunk is queued before any acknowledgement is awaited, so
        // the writer journals them in one group with one sync, instead of
        // a sync (and the indexing of the chunk before) per chunk.
        let mut acks = Vec::new();
        for chunk in chunks(lines) {
            let (ack, heard) = oneshot::channel();
            self.count_queued(chunk.len());
            self.sender
                .send(Message::Lines {
                    lines: chunk,
                    ack: Some(ack),
                })
                .await
                .map_err(|_| LogError::Closed)?;
            acks.push(heard);
        }
        for heard in acks {
            heard.await.map_err(|_| LogError::Closed)??;
        }
        Ok(())
    }

    /// Queues lines, waiting while the queue is full (TCP: the sender is
    /// slowed down, nothing is lost).
    pub async fn send(&self, lines: Vec<RawLog>) -> Result<(), LogError> {
        for chunk in chunks(lines) {
            self.count_queued(chunk.len());
            self.sender
                .send(Message::Lines {
                    lines: chunk,
                    ack: None,
                })
                .await
                .map_err(|_| LogError::Closed)?;
        }
        Ok(())
    }

    /// Queues lines if there is room now (UDP: there is no way to push
    /// back); gives them back otherwise.
    pub fn try_send(&self, lines: Vec<RawLog>) -> Result<(), (LogError, Vec<RawLog>)> {
        let count = lines.len();
        match self.sender.try_send(Message::Lines { lines, ack: None }) {
            Ok(()) => {
                self.count_queued(count);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(Message::Lines { lines, .. })) => {
                Err((LogError::QueueFull, lines))
            }
            Err(mpsc::error::TrySendError::Closed(Message::Lines { lines, .. })) => {
                Err((LogError::Closed, lines))
            }
            Err(_) => Err((LogError::Closed, Vec::new())),
        }
    }

    /// From now on, lines at level error or above that carry an
    /// exception go to `sender` once indexed, without waiting: a full
    /// queue drops them (counted in `errors_from_logs_dropped`), so error
    /// tracking never slows ingestion. Lines replayed from the journal at
    /// start, before this call, are not forwarded. The queue ends when the
    /// writer does.
    pub async fn forward_exceptions(
        &self,
        sender: mpsc::Sender<ExceptionLine>,
    ) -> Result<(), LogError> {
        self.sender
            .send(Message::ForwardExceptions(sender))
            .await
            .map_err(|_| LogError::Closed)
    }

    /// Commits what was queued before this call, making it searchable.
    pub async fn commit(&self) -> Result<(), LogError> {
        self.round_trip(Message::Commit).await
    }

    /// Applies retention now.
    pub async fn apply_retention(&self) -> Result<(), LogError> {
        self.round_trip(Message::Retention).await
    }

    async fn round_trip(
        &self,
        message: impl FnOnce(oneshot::Sender<()>) -> Message,
    ) -> Result<(), LogError> {
        let (reply, heard) = oneshot::channel();
        self.sender
            .send(message(reply))
            .await
            .map_err(|_| LogError::Closed)?;
        heard.await.map_err(|_| LogError::Closed)
    }

    /// New lines as they are indexed.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<TailLine>> {
        self.shared.tail.subscribe()
    }

    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }
}

/// Splits lines into queue messages of at most [`MAX_BATCH_LINES`].
fn chunks(mut lines: Vec<RawLog>) -> Vec<Vec<RawLog>> {
    if lines.len() <= MAX_BATCH_LINES {
        return vec![lines];
    }
    let mut out = Vec::with_capacity(lines.len() / MAX_BATCH_LINES + 1);
    while lines.len() > MAX_BATCH_LINES {
        let rest = lines.split_off(MAX_BATCH_LINES);
        out.push(std::mem::replace(&mut lines, rest));
    }
    out.push(lines);
    out
}

/// Sends the writer a tick every commit interval, so lines that arrived
/// in a quiet moment are committed without waiting for more; ends with
/// the store.
fn spawn_ticker(sender: mpsc::WeakSender<Message>, interval: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(sender) = sender.upgrade() else {
                return;
            };
            // A full queue means the writer is busy and will commit on its
            // own clock.
            let _ = sender.try_send(Message::Tick);
        }
    });
}
