//! Carbon plaintext over TCP and UDP, and carbon's pickle protocol over
//! TCP: parse each line or pickled batch into points and send batches to
//! the metrics writer.
//!
//! A session batches the points of one read (or datagram) and sends them
//! as one message. The channel is bounded: a full channel makes a TCP
//! connection wait before its next read (the sender slows down, nothing is
//! lost), and drops a UDP datagram's points with a count (UDP has no way to
//! push back).
//!
//! Both wire formats share the session, so a point is checked (timestamps
//! included) and stored the same way whichever way it came. They count
//! under their own protocol label, `carbon` and `carbon_pickle`, because
//! their reject reasons differ and an operator wants to know which sender
//! is at fault; once accepted, points are stored (and counted as written)
//! as `carbon`. A pickled message that is refused whole counts as one
//! refused item: how many points it held is unknown.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use partout_protocols::carbon::{parse_line, CarbonLine};
use partout_protocols::framing::Mode;
use partout_protocols::{pickle, ParseError};
use tokio::sync::mpsc;

use super::{IngestCounters, LineSession, Protocol};

/// Points more than this far ahead of the clock are refused: a sender with
/// a broken clock must not create data "from the future" that hides the
/// present.
const MAX_FUTURE_SECS: i64 = 10 * 60;
/// Points older than this are refused (the longest retention there is).
const MAX_AGE_SECS: i64 = 5 * 365 * 86_400;
/// Largest pickled message accepted, as carbon's own receiver
/// (`MetricPickleReceiver.MAX_LENGTH`): carbon-relay sends 500 points per
/// message, far below this.
const MAX_PICKLE_MESSAGE: usize = 1024 * 1024;
/// Series keys the sessions of one listener keep between points, all
/// sessions together (each costs about a hundred bytes).
const MAX_CACHED_KEYS: usize = 1 << 17;
use crate::metrics::pipeline::CarbonPoint;
use crate::metrics::SeriesKey;
use crate::telemetry::Telemetry;

/// How a carbon listener's frames are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    /// One `path value timestamp` per line.
    Plaintext,
    /// Length-prefixed pickles of `[(path, (timestamp, value)), ...]`.
    Pickle,
}

pub struct Carbon {
    wire: Wire,
    sender: mpsc::Sender<Vec<CarbonPoint>>,
    telemetry: Arc<Telemetry>,
    last_logged: Arc<AtomicI64>,
    /// Room left in [`MAX_CACHED_KEYS`], shared by this listener's sessions.
    key_budget: Arc<AtomicUsize>,
}

impl Carbon {
    /// The plaintext protocol.
    pub fn new(sender: mpsc::Sender<Vec<CarbonPoint>>, telemetry: Arc<Telemetry>) -> Carbon {
        Carbon::with_wire(Wire::Plaintext, sender, telemetry)
    }

    /// The pickle protocol (TCP only: it has no datagram form).
    pub fn pickle(sender: mpsc::Sender<Vec<CarbonPoint>>, telemetry: Arc<Telemetry>) -> Carbon {
        Carbon::with_wire(Wire::Pickle, sender, telemetry)
    }

    fn with_wire(
        wire: Wire,
        sender: mpsc::Sender<Vec<CarbonPoint>>,
        telemetry: Arc<Telemetry>,
    ) -> Carbon {
        Carbon {
            wire,
            sender,
            telemetry,
            last_logged: Arc::new(AtomicI64::new(0)),
            key_budget: Arc::new(AtomicUsize::new(MAX_CACHED_KEYS)),
        }
    }
}

impl Protocol for Carbon {
    fn name(&self) -> &'static str {
        match self.wire {
            Wire::Plaintext => "carbon",
            Wire::Pickle => "carbon_pickle",
        }
    }

    fn framing(&self) -> Mode {
        match self.wire {
            Wire::Plaintext => Mode::Lines,
            Wire::Pickle => Mode::LengthPrefixed,
        }
    }

    fn max_frame_len(&self) -> Option<usize> {
        (self.wire == Wire::Pickle).then_some(MAX_PICKLE_MESSAGE)
    }

    fn session(&self) -> Box<dyn LineSession> {
        Box::new(CarbonSession {
            wire: self.wire,
            sender: self.sender.clone(),
            batch: Vec::new(),
            next_batch_len: 0,
            keys: KeyCache {
                keys: foldhash::HashMap::default(),
                budget: Arc::clone(&self.key_budget),
            },
            pending: None,
            now: unix_now(),
            counters: IngestCounters::new(
                self.name(),
                Arc::clone(&self.telemetry),
                Arc::clone(&self.last_logged),
            ),
            datagram_mode: false,
        })
    }
}

struct CarbonSession {
    wire: Wire,
    sender: mpsc::Sender<Vec<CarbonPoint>>,
    batch: Vec<CarbonPoint>,
    /// Points in the last batch sent: the next one likely holds as many
    /// (reads are the same size), so it is sized up front, on its first
    /// point, rather than grown through reallocations and copies. Not
    /// before: an idle connection holds no batch memory.
    next_batch_len: usize,
    keys: KeyCache,
    /// A TCP batch that found the channel full; sent by `ready`.
    pending: Option<Vec<CarbonPoint>>,
    /// Unix seconds, refreshed after every chunk (not per line).
    now: i64,
    counters: IngestCounters,
    /// Set while handling a datagram: a full channel drops instead of waiting.
    datagram_mode: bool,
}

impl CarbonSession {
    fn send_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        self.next_batch_len = self.batch.len();
        let batch = std::mem::take(&mut self.batch);
        let points = batch.len() as u64;
        match self.sender.try_send(batch) {
            Ok(()) => self.counters.accepted(points),
            Err(mpsc::error::TrySendError::Full(batch)) if !self.datagram_mode => {
                self.pending = Some(batch);
            }
            Err(_) => {
                for _ in 0..points {
                    self.counters.refused("queue_full", b"");
                }
            }
        }
    }

    /// Adds a parsed point to the batch, or says why its timestamp is
    /// refused.
    fn accept(&mut self, point: &CarbonLine<'_>) -> Result<(), &'static str> {
        if point.timestamp > self.now + MAX_FUTURE_SECS {
            return Err("timestamp_in_future");
        }
        if point.timestamp < self.now - MAX_AGE_SECS {
            return Err("timestamp_too_old");
        }
        if self.batch.capacity() == 0 {
            self.batch.reserve(self.next_batch_len);
        }
        self.batch.push(CarbonPoint {
            key: self.keys.key(point),
            ts: point.timestamp,
            value: point.value,
        });
        Ok(())
    }

    fn plaintext_line(&mut self, line: &[u8]) {
        match parse_line(line) {
            Ok(point) => {
                if let Err(reason) = self.accept(&point) {
                    self.counters.refused(reason, line);
                }
            }
            Err(error) => self.counters.refused(error.reason(), line),
        }
    }

    fn pickle_message(&mut self, payload: &[u8]) {
        let points = match pickle::parse_message(payload) {
            Ok(points) => points,
            Err(error) => {
                // The error names the opcode or bound and the offset, which
                // says more than the raw bytes would.
                let sample = error.to_string();
                self.counters.refused(error.reason(), sample.as_bytes());
                return;
            }
        };
        for point in points {
            match point {
                Ok(point) => {
                    if let Err(reason) = self.accept(&point.line()) {
                        let line = point.line();
                        let sample = format!("{} {} {}", line.path, line.value, line.timestamp);
                        self.counters.refused(reason, sample.as_bytes());
                    }
                }
                Err(bad) => self
                    .counters
                    .refused(bad.error.reason(), bad.sample.as_bytes()),
            }
        }
    }
}

impl LineSession for CarbonSession {
    /// A line (plaintext) or a whole message (pickle).
    fn line(&mut self, frame: &[u8]) {
        match self.wire {
            Wire::Plaintext => self.plaintext_line(frame),
            Wire::Pickle => self.pickle_message(frame),
        }
    }

    fn datagram(&mut self, datagram: &[u8]) {
        self.datagram_mode = true;
        for line in datagram.split(|&b| b == b'\n') {
            if line.iter().any(|b| !b.is_ascii_whitespace()) {
                self.line(line);
            }
        }
        self.end_of_chunk();
        self.datagram_mode = false;
    }

    fn end_of_chunk(&mut self) {
        self.send_batch();
        self.counters.publish();
        self.now = unix_now();
    }

    fn ready(&mut self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            if let Some(batch) = self.pending.take() {
                let points = batch.len() as u64;
                match self.sender.send(batch).await {
                    Ok(()) => self.counters.accepted(points),
                    Err(_) => self.counters.refused("shutting_down", b""),
                }
                self.counters.publish();
            }
        })
    }

    fn frame_error(&mut self, error: &ParseError) {
        self.counters.refused(error.reason(), b"");
    }
}

/// The series keys of untagged paths a session has seen, shared by its
/// points: a point then costs a lookup instead of a string allocated here
/// and freed on the metrics writer's thread, which made the allocator keep
/// taking fresh (kernel-zeroed) pages. Bounded by a budget shared by the
/// listener's sessions; past it, points allocate their key as before.
/// Tagged points always do (their key is canonicalized: tags sorted).
struct KeyCache {
    /// Keyed by what senders chose: foldhash's seed is random per process.
    keys: foldhash::HashMap<Box<str>, Arc<SeriesKey>>,
    budget: Arc<AtomicUsize>,
}

impl KeyCache {
    fn key(&mut self, point: &CarbonLine<'_>) -> Arc<SeriesKey> {
        let mut tags = point.tags().peekable();
        if tags.peek().is_some() {
            let tags = tags.map(|(k, v)| (k.to_owned(), v.to_owned()));
            return Arc::new(SeriesKey::new(point.path.to_owned(), tags));
        }
        if let Some(key) = self.keys.get(point.path) {
            return Arc::clone(key);
        }
        let key = Arc::new(SeriesKey::new(point.path.to_owned(), []));
        let reserved = self
            .budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        if reserved {
            self.keys.insert(point.path.into(), Arc::clone(&key));
        }
        key
    }
}

impl Drop for KeyCache {
    fn drop(&mut self) {
        self.budget.fetch_add(self.keys.len(), Ordering::Relaxed);
    }
}

fn unix_now() -> i64 {
    crate::store::unix_ms_now() / 1000
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_shared_within_the_budget_and_handed_back() {
        let budget = Arc::new(AtomicUsize::new(1));
        let mut cache = KeyCache {
            keys: foldhash::HashMap::default(),
            budget: Arc::clone(&budget),
        };
        let a = parse_line(b"a.b 1 1700000000").unwrap();
        let first = cache.key(&a);
        assert!(Arc::ptr_eq(&first, &cache.key(&a)));
        assert_eq!(*first, SeriesKey::new("a.b".into(), []));
        assert_eq!(budget.load(Ordering::Relaxed), 0);
        // Past the budget a key is still right, only not kept.
        let c = parse_line(b"c 1 1700000000").unwrap();
        assert!(!Arc::ptr_eq(&cache.key(&c), &cache.key(&c)));
        // Tagged keys are canonical (sorted tags), never kept.
        let tagged = parse_line(b"d;z=1;b=2 1 1700000000").unwrap();
        let key = cache.key(&tagged);
        assert_eq!(key.tags_text(), "b=2;z=1");
        drop(cache);
        assert_eq!(budget.load(Ordering::Relaxed), 1);
    }
}
