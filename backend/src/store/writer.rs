//! The single writer thread.
//!
//! One OS thread owns the read-write connection. Callers send jobs over a
//! bounded channel (a full queue makes `submit` wait: back-pressure, never
//! unbounded memory). The thread takes every job already queued, up to
//! [`MAX_BATCH`], runs each inside its own savepoint of one transaction, commits
//! once, and only then answers the callers: an answer means durable.

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::StoreError;

/// Jobs that may wait for the writer before `submit` has to wait.
const QUEUE_CAPACITY: usize = 1024;
/// Jobs committed together at most; bounds the latency one batch adds.
const MAX_BATCH: usize = 512;

/// Runs a job inside the open transaction and returns what to do once the
/// transaction's fate is known.
type Job = Box<dyn FnOnce(&Connection) -> Completion + Send>;
/// Told `Ok` after the commit, or the commit's error.
type Completion = Box<dyn FnOnce(Result<(), &rusqlite::Error>) + Send>;

enum Message {
    Job(Job),
    Close(oneshot::Sender<Result<(), StoreError>>),
}

/// The sending side, held by [`super::Store`].
pub struct WriterHandle {
    sender: mpsc::Sender<Message>,
}

pub fn spawn(conn: Connection) -> Result<WriterHandle, StoreError> {
    let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
    std::thread::Builder::new()
        .name("partout-store-writer".into())
        .spawn(move || run(conn, receiver))
        .map_err(|err| StoreError::Task(format!("cannot start the writer thread: {err}")))?;
    Ok(WriterHandle { sender })
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
            Box::new(move |commit: Result<(), &rusqlite::Error>| {
                let outcome = match commit {
                    Ok(()) => result,
                    Err(err) => Err(StoreError::Task(format!("commit failed: {err}"))),
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
    conn.execute_batch("SAVEPOINT job")?;
    let result = work(conn);
    let end = if result.is_ok() {
        "RELEASE job"
    } else {
        "ROLLBACK TO job; RELEASE job"
    };
    conn.execute_batch(end)?;
    result
}

fn run(conn: Connection, mut receiver: mpsc::Receiver<Message>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    loop {
        let mut close_reply = None;
        match receiver.blocking_recv() {
            Some(Message::Job(job)) => batch.push(job),
            Some(Message::Close(reply)) => close_reply = Some(reply),
            None => {}
        }
        while close_reply.is_none() && !batch.is_empty() && batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(Message::Job(job)) => batch.push(job),
                Ok(Message::Close(reply)) => close_reply = Some(reply),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            commit_batch(&conn, &mut batch);
        }
        if let Some(reply) = close_reply {
            // Refuse what arrives after the close; dropping queued jobs
            // drops their reply senders, which their callers see as Closed.
            receiver.close();
            while receiver.try_recv().is_ok() {}
            let _ = reply.send(finish(conn));
            return;
        }
        if receiver.is_closed() && receiver.is_empty() {
            let _ = finish(conn);
            return;
        }
    }
}

fn commit_batch(conn: &Connection, batch: &mut Vec<Job>) {
    if let Err(err) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(error = %err, "cannot begin a write transaction");
        for job in batch.drain(..) {
            drop(job); // callers see Closed-like failure via the dropped reply
        }
        return;
    }
    let completions: Vec<Completion> = batch.drain(..).map(|job| job(conn)).collect();
    let commit = conn.execute_batch("COMMIT");
    if let Err(err) = &commit {
        tracing::error!(error = %err, "write transaction failed to commit");
        let _ = conn.execute_batch("ROLLBACK");
    }
    for completion in completions {
        completion(commit.as_ref().map(|_| ()));
    }
}

fn finish(conn: Connection) -> Result<(), StoreError> {
    // Move the WAL's pages into the main file so a stopped partout leaves
    // one self-contained database file behind.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    conn.close().map_err(|(_, err)| StoreError::Sqlite(err))
}
