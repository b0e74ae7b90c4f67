//! The journal thread: the front half of the log writer.
//!
//! Per round: take what is queued (up to a bound), number it, append it to
//! the journal with one `fdatasync` for the whole group, acknowledge, and
//! hand the group to the index thread ([`super::writer`]). Acknowledging
//! here, instead of on the thread that indexes, means a sender never waits
//! for the lines before its own to be indexed, nor for a commit (150 to
//! 200 ms each under load when last timed). Where the cores were not
//! already full, senders that waited through those left them idle.
//!
//! The hand-over queue is bounded by bytes ([`MAX_AHEAD_BYTES`]), so the
//! journal runs at most that far ahead of the index; then this thread
//! waits, the queue to it fills, and senders wait in turn. The bound holds
//! more than a commit's worth of lines: with a queue of two groups, tried
//! first, the answers' p99 stayed where it was.

use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Condvar, Mutex};

use tokio::sync::{mpsc, oneshot};

use super::journal::Journal;
use super::raw::RawLog;
use super::writer::Round;
use super::{ExceptionLine, LogError, Shared};
use crate::telemetry::{StoreLabels, Telemetry};

/// Most lines written to the journal in one group.
const MAX_GROUP_LINES: usize = 16_384;
/// Most bytes (roughly) written to the journal in one group.
const MAX_GROUP_BYTES: usize = 16 * 1024 * 1024;
/// Bytes of journaled lines (by [`RawLog::weight`]) that may wait for the
/// index thread, or be indexed by it: about 0.7 s of lines at full speed,
/// more than a commit takes. One group larger than this still passes,
/// alone.
pub const MAX_AHEAD_BYTES: usize = 32 * 1024 * 1024;

/// Bytes handed to the index thread and not yet indexed.
#[derive(Default)]
pub struct Ahead {
    state: Mutex<AheadState>,
    freed: Condvar,
}

#[derive(Default)]
struct AheadState {
    bytes: usize,
    /// The index thread is gone: nothing will be freed, so nobody waits.
    closed: bool,
}

impl Ahead {
    /// Waits until `bytes` more fit (or nothing is ahead), then counts them.
    fn reserve(&self, bytes: usize) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        while !state.closed
            && state.bytes > 0
            && state.bytes.saturating_add(bytes) > MAX_AHEAD_BYTES
        {
            state = match self.freed.wait(state) {
                Ok(state) => state,
                Err(_) => return,
            };
        }
        state.bytes = state.bytes.saturating_add(bytes);
    }

    /// The index thread is done with `bytes`.
    pub fn release(&self, bytes: usize) {
        if let Ok(mut state) = self.state.lock() {
            state.bytes = state.bytes.saturating_sub(bytes);
            self.freed.notify_all();
        }
    }

    /// The index thread ends (or unwinds): wake and stop every wait.
    pub fn close(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.closed = true;
            self.freed.notify_all();
        }
    }
}

/// Closes [`Ahead`] when the index thread's loop ends, even by a panic.
pub struct CloseOnDrop(pub Arc<Ahead>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// What the log store's writer is asked to do.
pub enum Message {
    /// Lines to store; `ack` hears once they are durable.
    Lines {
        lines: Vec<RawLog>,
        ack: Option<oneshot::Sender<Result<(), LogError>>>,
    },
    /// Time to commit, if the interval has passed.
    Tick,
    /// Commit now, then answer (tests, shutdown, benchmarks).
    Commit(oneshot::Sender<()>),
    /// Apply retention now, then answer.
    Retention(oneshot::Sender<()>),
    /// From now on, hand indexed lines at level error or above that carry
    /// an exception to this queue ([`super::LogStore::forward_exceptions`]).
    ForwardExceptions(mpsc::Sender<ExceptionLine>),
}

pub struct Journaler {
    pub journal: Arc<Mutex<Journal>>,
    pub shared: Arc<Shared>,
    pub telemetry: Arc<Telemetry>,
    /// The sequence number of the next line journaled.
    pub next_seq: u64,
    pub ahead: Arc<Ahead>,
}

impl Journaler {
    /// Runs until every sender is gone; the index thread then ends too.
    pub fn run(mut self, mut receiver: mpsc::Receiver<Message>, to_index: std_mpsc::Sender<Round>) {
        while let Some(first) = receiver.blocking_recv() {
            let mut round = Round::default();
            let mut acks = Vec::new();
            let mut bytes = 0usize;
            let mut next = Some(first);
            while let Some(message) = next.take() {
                match message {
                    Message::Lines {
                        lines: mut batch,
                        ack,
                    } => {
                        bytes += batch.iter().map(RawLog::weight).sum::<usize>();
                        round.lines.append(&mut batch);
                        acks.extend(ack);
                    }
                    // Ticks come once per commit interval: committing on
                    // each (cheap when nothing is pending) keeps a line's
                    // wait for search within one interval.
                    Message::Tick => round.commit_now = true,
                    Message::Commit(reply) => {
                        round.commit_now = true;
                        round.replies.push(reply);
                    }
                    Message::Retention(reply) => {
                        round.retention_now = true;
                        round.replies.push(reply);
                    }
                    Message::ForwardExceptions(sender) => round.forward_exceptions = Some(sender),
                }
                if round.lines.len() < MAX_GROUP_LINES && bytes < MAX_GROUP_BYTES {
                    next = receiver.try_recv().ok();
                }
            }
            self.shared.dequeued(round.lines.len(), &self.telemetry);
            round.first_seq = self.next_seq;
            if !self.write_group(&round.lines, acks) {
                // Refused lines are not indexed; what else the round asks
                // for still happens.
                round.lines.clear();
                bytes = 0;
            }
            round.bytes = bytes;
            self.ahead.reserve(bytes);
            if to_index.send(round).is_err() {
                tracing::error!("the log index thread is gone; log lines are no longer indexed");
                return;
            }
        }
    }

    /// Journals the group and answers its senders; whether it was written.
    fn write_group(
        &mut self,
        lines: &[RawLog],
        acks: Vec<oneshot::Sender<Result<(), LogError>>>,
    ) -> bool {
        let written = if lines.is_empty() {
            Ok(())
        } else {
            match self.journal.lock() {
                Ok(mut journal) => journal.append(self.next_seq, lines),
                Err(_) => Err(std::io::Error::other("the journal's lock is poisoned")),
            }
        };
        if let Err(error) = written {
            // Nothing of the group is acknowledged or indexed: the senders
            // hear the failure and keep their lines.
            tracing::error!(%error, "log journal write failed; the batch is refused");
            let disk_full = crate::store::is_disk_full(&error);
            if disk_full {
                self.telemetry
                    .storage_write_failures
                    .get_or_create(&StoreLabels {
                        store: "logs_journal".to_owned(),
                    })
                    .inc();
            }
            for ack in acks {
                let _ = ack.send(Err(if disk_full {
                    LogError::DiskFull(error.to_string())
                } else {
                    LogError::Journal(format!("log journal write failed: {error}"))
                }));
            }
            return false;
        }
        for ack in acks {
            let _ = ack.send(Ok(()));
        }
        self.next_seq += lines.len() as u64;
        self.telemetry.log_lines_written.inc_by(lines.len() as u64);
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::time::Duration;

    use super::{Ahead, CloseOnDrop, MAX_AHEAD_BYTES};

    /// Reserves `bytes` on another thread; the receiver hears when it got
    /// through.
    fn reserve_elsewhere(ahead: &Arc<Ahead>, bytes: usize) -> mpsc::Receiver<()> {
        let (done, heard) = mpsc::channel();
        let ahead = Arc::clone(ahead);
        std::thread::spawn(move || {
            ahead.reserve(bytes);
            let _ = done.send(());
        });
        heard
    }

    const WAIT: Duration = Duration::from_millis(100);

    #[test]
    fn the_journal_waits_while_the_index_is_a_full_bound_behind() {
        let ahead = Arc::new(Ahead::default());
        // A group larger than the bound passes when nothing is ahead.
        reserve_elsewhere(&ahead, 2 * MAX_AHEAD_BYTES)
            .recv_timeout(WAIT * 10)
            .unwrap();
        let blocked = reserve_elsewhere(&ahead, 1);
        assert!(blocked.recv_timeout(WAIT).is_err(), "no room: it waits");
        ahead.release(2 * MAX_AHEAD_BYTES);
        blocked.recv_timeout(WAIT * 10).unwrap();

        // Within the bound, no wait.
        reserve_elsewhere(&ahead, MAX_AHEAD_BYTES - 1)
            .recv_timeout(WAIT * 10)
            .unwrap();
        let blocked = reserve_elsewhere(&ahead, 1);
        assert!(blocked.recv_timeout(WAIT).is_err());
        // The index thread ending (here by a drop) ends the wait for good.
        drop(CloseOnDrop(Arc::clone(&ahead)));
        blocked.recv_timeout(WAIT * 10).unwrap();
        reserve_elsewhere(&ahead, MAX_AHEAD_BYTES)
            .recv_timeout(WAIT * 10)
            .unwrap();
    }
}
