//! The single writer thread, and the syncer that makes its commits durable.
//!
//! One OS thread owns the read-write connection. Callers send jobs over a
//! bounded channel (a full queue makes `submit` wait: back-pressure, never
//! unbounded memory). The thread takes every job already queued, up to
//! [`MAX_BATCH`], runs each inside its own savepoint of one transaction and
//! commits once. A commit writes the transaction's pages to the WAL but does
//! not wait for the disk (`synchronous=NORMAL`): it hands the batch to the
//! syncer thread, which flushes the WAL file (`fdatasync`) and only then
//! answers the batch's callers, so an answer still means durable. While the
//! disk flushes one batch the writer already runs the next, and one flush
//! covers every batch committed before it began: the flush, about a
//! millisecond here, was most of the writer's time when each commit waited
//! for its own. Commits come at most every [`COMMIT_INTERVAL`] while jobs
//! keep arriving: each commit rewrites the hot pages (an issue's row, the
//! index tails) into the WAL and costs the syncer a flush, so a writer
//! that commits whatever one request brings spends more per job than one
//! that waits a moment for the requests behind it.
//!
//! A crash can lose only commits nobody was answered for, and only a suffix
//! of them: SQLite's recovery reads the WAL's frames in order and stops at
//! the first whose checksum chain breaks, so what survives is always the
//! state after some commit.

use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::StoreError;

/// Jobs that may wait for the writer before `submit` has to wait.
const QUEUE_CAPACITY: usize = 1024;
/// Jobs committed together at most; bounds the latency one batch adds.
const MAX_BATCH: usize = 512;
/// Committed batches that may wait while the syncer flushes: one, so the
/// writer runs the next batch during a flush, then waits for the disk
/// instead of committing ever smaller batches (each commit rewrites the
/// hot pages, an issue's row and the index tails, into the WAL again).
const UNSYNCED_BATCHES: usize = 1;
/// The least time from one commit to the next while jobs keep coming
/// ([`Store::open`](super::Store::open)'s writer): a job that finds the
/// writer idle sooner waits out the rest, and the jobs that arrive
/// meanwhile share its commit (a group commit with a delay, as
/// PostgreSQL's `commit_delay`). Under the errors benchmark's load,
/// commits went from about 4 events to 15, the writer's CPU per event
/// fell by about a fifth and the syncer's by half, and accepted events/s
/// rose by 3 to 18% in three back-to-back pairs; a job alone, after a
/// quiet spell, is not delayed.
pub const COMMIT_INTERVAL: Duration = Duration::from_micros(1500);

/// Runs a job inside the open transaction and returns what to do once the
/// transaction's fate is known.
type Job = Box<dyn FnOnce(&Connection) -> Completion + Send>;
/// Told `Ok` once the commit is durable, or why it is not.
type Completion = Box<dyn FnOnce(Result<(), &str>) + Send>;

/// Makes every commit made so far durable: `fdatasync` of the WAL file, or
/// nothing where SQLite syncs at each commit itself (see `Store::open`).
pub type Flush = Box<dyn FnMut() -> std::io::Result<()> + Send>;

/// What the writer and its syncer count, for `/metrics`: how many commits
/// each flush covers, and how long the disk takes.
#[derive(Clone, Default)]
pub struct WriterCounters {
    pub commits: prometheus_client::metrics::counter::Counter,
    pub flushes: prometheus_client::metrics::counter::Counter,
    pub flush_seconds:
        prometheus_client::metrics::counter::Counter<f64, std::sync::atomic::AtomicU64>,
}

/// One committed (or failed) transaction's callers, waiting for a flush.
struct Committed {
    completions: Vec<Completion>,
    /// The commit's error, already final: no flush can mend it.
    commit: Result<(), String>,
}

enum Message {
    Job(Job),
    Close(oneshot::Sender<Result<(), StoreError>>),
}

/// The sending side, held by [`super::Store`].
pub struct WriterHandle {
    sender: mpsc::Sender<Message>,
}

/// Starts the writer and its syncer; `commit_interval` is
/// [`COMMIT_INTERVAL`] but in tests.
pub fn spawn(
    conn: Connection,
    flush: Flush,
    counters: WriterCounters,
    commit_interval: Duration,
) -> Result<WriterHandle, StoreError> {
    let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
    let (committed, to_sync) = std_mpsc::sync_channel(UNSYNCED_BATCHES);
    let commits = counters.commits.clone();
    let syncer = std::thread::Builder::new()
        .name("partout-store-sync".into())
        .spawn(move || sync_loop(to_sync, flush, &counters))
        .map_err(|err| StoreError::Task(format!("cannot start the syncer thread: {err}")))?;
    std::thread::Builder::new()
        .name("partout-store-writer".into())
        .spawn(move || {
            let syncer = Syncer {
                committed,
                syncer,
                commits,
            };
            run(conn, receiver, syncer, commit_interval)
        })
        .map_err(|err| StoreError::Task(format!("cannot start the writer thread: {err}")))?;
    Ok(WriterHandle { sender })
}

/// The writer's side of the syncer thread.
struct Syncer {
    committed: std_mpsc::SyncSender<Committed>,
    syncer: std::thread::JoinHandle<()>,
    commits: prometheus_client::metrics::counter::Counter,
}

impl Syncer {
    fn hand_over(&self, batch: Committed) {
        if batch.commit.is_ok() {
            self.commits.inc();
        }
        // The syncer ends only when this sender is dropped, so a failed send
        // means it panicked; the dropped completions tell their callers the
        // writer is gone.
        let _ = self.committed.send(batch);
    }

    /// Waits until every batch handed over has been flushed and answered.
    fn stop(self) {
        drop(self.committed);
        let _ = self.syncer.join();
    }
}

impl WriterHandle {
    pub async fn submit<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn: &Connection| {
            let result = in_savepoint(conn, work);
            Box::new(move |durable: Result<(), &str>| {
                // A job rolled back reports its own error: whether the
                // rest of the batch reached the disk is not its concern.
                let outcome = match (result, durable) {
                    (Err(error), _) => Err(error),
                    (Ok(value), Ok(())) => Ok(value),
                    (Ok(_), Err(why)) => Err(StoreError::Task(why.to_owned())),
                };
                // The caller may have gone away (request cancelled); the
                // write is committed either way.
                let _ = reply.send(outcome);
            })
        });
        self.sender
            .send(Message::Job(job))
            .await
            .map_err(|_| StoreError::Closed)?;
        // A dropped reply means the writer shut down before running the job.
        answer.await.map_err(|_| StoreError::Closed)?
    }

    pub fn queue_depth(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }

    pub async fn close(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        if self.sender.send(Message::Close(reply)).await.is_err() {
            return Ok(()); // already closed
        }
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

fn in_savepoint<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    // Cached statements: every job opens and releases one, and parsing
    // their SQL each time showed in the writer's profile.
    conn.prepare_cached("SAVEPOINT job")?.execute([])?;
    let result = work(conn);
    if result.is_ok() {
        conn.prepare_cached("RELEASE job")?.execute([])?;
    } else {
        conn.execute_batch("ROLLBACK TO job; RELEASE job")?;
    }
    result
}

fn run(
    conn: Connection,
    mut receiver: mpsc::Receiver<Message>,
    syncer: Syncer,
    commit_interval: Duration,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut last_commit: Option<Instant> = None;
    loop {
        let mut close_reply = None;
        match receiver.blocking_recv() {
            Some(Message::Job(job)) => batch.push(job),
            Some(Message::Close(reply)) => close_reply = Some(reply),
            None => {}
        }
        gather(&mut receiver, &mut batch, &mut close_reply);
        // Caught up with the queue, soon after the last commit: wait out
        // the interval for the jobs behind this one. A writer behind its
        // queue (a full batch taken) never waits.
        let wait = last_commit.and_then(|at| commit_interval.checked_sub(at.elapsed()));
        let caught_up = !batch.is_empty() && batch.len() < MAX_BATCH && close_reply.is_none();
        if let Some(wait) = wait.filter(|_| caught_up) {
            std::thread::sleep(wait);
            gather(&mut receiver, &mut batch, &mut close_reply);
        }
        if !batch.is_empty() {
            last_commit = Some(Instant::now());
            if let Some(committed) = commit_batch(&conn, &mut batch) {
                syncer.hand_over(committed);
            }
        }
        if let Some(reply) = close_reply {
            // Refuse what arrives after the close; dropping queued jobs
            // drops their reply senders, which their callers see as Closed.
            receiver.close();
            while receiver.try_recv().is_ok() {}
            syncer.stop();
            let _ = reply.send(finish(conn));
            return;
        }
        if receiver.is_closed() && receiver.is_empty() {
            syncer.stop();
            let _ = finish(conn);
            return;
        }
    }
}

/// Adds the jobs already queued to `batch`, up to [`MAX_BATCH`], until the
/// queue is empty or a close request comes.
fn gather(
    receiver: &mut mpsc::Receiver<Message>,
    batch: &mut Vec<Job>,
    close_reply: &mut Option<oneshot::Sender<Result<(), StoreError>>>,
) {
    while close_reply.is_none() && !batch.is_empty() && batch.len() < MAX_BATCH {
        match receiver.try_recv() {
            Ok(Message::Job(job)) => batch.push(job),
            Ok(Message::Close(reply)) => *close_reply = Some(reply),
            Err(_) => break,
        }
    }
}

/// Runs a batch in one transaction and commits it, without waiting for the
/// disk; `None` when no transaction could begin (the dropped jobs tell
/// their callers the store is closed).
fn commit_batch(conn: &Connection, batch: &mut Vec<Job>) -> Option<Committed> {
    if let Err(err) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(error = %err, "cannot begin a write transaction");
        batch.clear();
        return None;
    }
    let completions: Vec<Completion> = batch.drain(..).map(|job| job(conn)).collect();
    let commit = conn.execute_batch("COMMIT").map_err(|err| {
        tracing::error!(error = %err, "write transaction failed to commit");
        let _ = conn.execute_batch("ROLLBACK");
        format!("commit failed: {err}")
    });
    Some(Committed {
        completions,
        commit,
    })
}

/// The syncer thread: takes every batch committed so far, flushes once for
/// all of them, answers their callers, and ends when the writer does.
fn sync_loop(
    committed: std_mpsc::Receiver<Committed>,
    mut flush: Flush,
    counters: &WriterCounters,
) {
    let mut waiting: Vec<Committed> = Vec::new();
    while let Ok(first) = committed.recv() {
        waiting.push(first);
        waiting.extend(committed.try_iter());
        let flushed = if waiting.iter().any(|batch| batch.commit.is_ok()) {
            let started = std::time::Instant::now();
            let flushed = flush();
            counters.flushes.inc();
            counters
                .flush_seconds
                .inc_by(started.elapsed().as_secs_f64());
            flushed.map_err(|err| {
                tracing::error!(error = %err, "cannot sync the database's write-ahead log");
                format!("commit not durable: cannot sync the write-ahead log: {err}")
            })
        } else {
            Ok(())
        };
        for batch in waiting.drain(..) {
            let outcome = batch.commit.and_then(|()| flushed.clone());
            for completion in batch.completions {
                completion(outcome.as_ref().copied().map_err(String::as_str));
            }
        }
    }
}

fn finish(conn: Connection) -> Result<(), StoreError> {
    // Move the WAL's pages into the main file so a stopped partout leaves
    // one self-contained database file behind.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    conn.close().map_err(|(_, err)| StoreError::Sqlite(err))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use super::*;

    fn connection(dir: &tempfile::TempDir) -> Connection {
        let conn = Connection::open(dir.path().join("t.sqlite")).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (x INTEGER)")
            .unwrap();
        conn
    }

    /// Every answer comes after a flush that began once its job had run:
    /// the flush numbers itself when it starts, the job notes the last
    /// number started when it runs, and its caller checks, once answered,
    /// that a later flush has finished.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_is_answered_only_after_a_flush_that_began_after_it_ran() {
        let dir = tempfile::tempdir().unwrap();
        let started = Arc::new(AtomicU64::new(0));
        let finished = Arc::new(AtomicU64::new(0));
        let flush: Flush = {
            let (started, finished) = (Arc::clone(&started), Arc::clone(&finished));
            Box::new(move || {
                let number = started.fetch_add(1, Ordering::SeqCst) + 1;
                std::thread::sleep(std::time::Duration::from_millis(2));
                finished.store(number, Ordering::SeqCst);
                Ok(())
            })
        };
        let counters = WriterCounters::default();
        let writer =
            Arc::new(spawn(connection(&dir), flush, counters.clone(), Duration::ZERO).unwrap());
        let mut callers = Vec::new();
        for value in 0..200_i64 {
            let (writer, started, finished) = (
                Arc::clone(&writer),
                Arc::clone(&started),
                Arc::clone(&finished),
            );
            callers.push(tokio::spawn(async move {
                let seen = writer
                    .submit(move |conn| {
                        conn.execute("INSERT INTO t (x) VALUES (?1)", [value])?;
                        Ok(started.load(Ordering::SeqCst))
                    })
                    .await
                    .unwrap();
                assert!(
                    finished.load(Ordering::SeqCst) > seen,
                    "answered before a flush that began after the job ran"
                );
            }));
        }
        for caller in callers {
            caller.await.unwrap();
        }
        let flushes = started.load(Ordering::SeqCst);
        assert!(
            (1..200).contains(&flushes),
            "{flushes} flushes for 200 jobs: one flush covers several commits"
        );
        assert_eq!(counters.flushes.get(), flushes, "every flush counted");
        assert!(
            counters.commits.get() >= flushes,
            "a flush covers one commit or more"
        );
        assert!(counters.flush_seconds.get() >= 0.002 * flushes as f64);
        writer.close().await.unwrap();
        let rows: i64 = Connection::open(dir.path().join("t.sqlite"))
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 200);
    }

    /// A writer that commits as soon as it can, as the tests of
    /// durability want.
    fn spawn_unpaced(dir: &tempfile::TempDir, flush: Flush) -> WriterHandle {
        spawn(
            connection(dir),
            flush,
            WriterCounters::default(),
            Duration::ZERO,
        )
        .unwrap()
    }

    fn insert(value: i64) -> impl FnOnce(&Connection) -> Result<(), StoreError> {
        move |conn: &Connection| {
            conn.execute("INSERT INTO t (x) VALUES (?1)", [value])?;
            Ok(())
        }
    }

    /// Jobs that come within the interval after a commit share the next
    /// one, even when the writer was idle as each arrived.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_within_the_commit_interval_share_a_commit() {
        let dir = tempfile::tempdir().unwrap();
        let counters = WriterCounters::default();
        let interval = Duration::from_millis(300);
        let flush: Flush = Box::new(|| Ok(()));
        let writer = Arc::new(spawn(connection(&dir), flush, counters.clone(), interval).unwrap());
        writer.submit(insert(1)).await.unwrap();
        assert_eq!(counters.commits.get(), 1);
        let first = tokio::spawn({
            let writer = Arc::clone(&writer);
            async move { writer.submit(insert(2)).await }
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        writer.submit(insert(3)).await.unwrap();
        first.await.unwrap().unwrap();
        assert_eq!(
            counters.commits.get(),
            2,
            "the two later jobs in one commit"
        );
        writer.close().await.unwrap();
    }

    /// A job that comes after a quiet spell longer than the interval is
    /// committed at once.
    #[tokio::test]
    async fn a_job_after_a_quiet_spell_is_not_delayed() {
        let dir = tempfile::tempdir().unwrap();
        let interval = Duration::from_millis(400);
        let flush: Flush = Box::new(|| Ok(()));
        let writer = spawn(connection(&dir), flush, WriterCounters::default(), interval).unwrap();
        writer.submit(insert(1)).await.unwrap();
        tokio::time::sleep(interval + Duration::from_millis(50)).await;
        let asked = Instant::now();
        writer.submit(insert(2)).await.unwrap();
        assert!(
            asked.elapsed() < interval / 2,
            "answered after {:?}",
            asked.elapsed()
        );
        writer.close().await.unwrap();
    }

    /// A commit that cannot be flushed is not reported as stored, and the
    /// error says why; a full disk is recognised as such.
    #[tokio::test]
    async fn a_failed_flush_fails_the_jobs_it_covered() {
        let dir = tempfile::tempdir().unwrap();
        let flush: Flush = Box::new(|| Err(std::io::Error::from_raw_os_error(libc::ENOSPC)));
        let writer = spawn_unpaced(&dir, flush);
        let error = writer
            .submit(|conn| {
                conn.execute("INSERT INTO t (x) VALUES (1)", [])?;
                Ok(())
            })
            .await
            .unwrap_err();
        assert!(error.to_string().contains("not durable"), "{error}");
        assert!(error.is_disk_full(), "{error}");
        writer.close().await.unwrap();
    }

    /// A job that fails is answered with its own error, not the flush's.
    #[tokio::test]
    async fn a_failed_job_reports_its_own_error_not_the_flush() {
        let dir = tempfile::tempdir().unwrap();
        let flush: Flush = Box::new(|| Err(std::io::Error::other("disk gone")));
        let writer = spawn_unpaced(&dir, flush);
        let error = writer
            .submit(|conn| -> Result<(), StoreError> {
                conn.execute("INSERT INTO missing (x) VALUES (1)", [])?;
                Ok(())
            })
            .await
            .unwrap_err();
        assert!(error.to_string().contains("missing"), "{error}");
        writer.close().await.unwrap();
    }
}
