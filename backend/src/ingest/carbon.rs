//! Carbon plaintext over TCP and UDP: parse each line into a point and
//! send batches to the metrics writer.
//!
//! A session batches the points of one read (or datagram) and sends them
//! as one message. The channel is bounded: a full channel makes a TCP
//! connection wait before its next read (the sender slows down, nothing is
//! lost), and drops a UDP datagram's points with a count (UDP has no way to
//! push back).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use partout_protocols::carbon::parse_line;
use partout_protocols::ParseError;
use tokio::sync::mpsc;

use super::{IngestCounters, LineSession, Protocol};

/// Points more than this far ahead of the clock are refused: a sender with
/// a broken clock must not create data "from the future" that hides the
/// present.
const MAX_FUTURE_SECS: i64 = 10 * 60;
/// Points older than this are refused (the longest retention there is).
const MAX_AGE_SECS: i64 = 5 * 365 * 86_400;
use crate::metrics::pipeline::CarbonPoint;
use crate::metrics::SeriesKey;
use crate::telemetry::Telemetry;

pub struct Carbon {
    sender: mpsc::Sender<Vec<CarbonPoint>>,
    telemetry: Arc<Telemetry>,
    last_logged: Arc<AtomicI64>,
}

impl Carbon {
    pub fn new(sender: mpsc::Sender<Vec<CarbonPoint>>, telemetry: Arc<Telemetry>) -> Carbon {
        Carbon {
            sender,
            telemetry,
            last_logged: Arc::new(AtomicI64::new(0)),
        }
    }
}

impl Protocol for Carbon {
    fn name(&self) -> &'static str {
        "carbon"
    }

    fn session(&self) -> Box<dyn LineSession> {
        Box::new(CarbonSession {
            sender: self.sender.clone(),
            batch: Vec::new(),
            pending: None,
            now: unix_now(),
            counters: IngestCounters::new(
                "carbon",
                Arc::clone(&self.telemetry),
                Arc::clone(&self.last_logged),
            ),
            datagram_mode: false,
        })
    }
}

struct CarbonSession {
    sender: mpsc::Sender<Vec<CarbonPoint>>,
    batch: Vec<CarbonPoint>,
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
}

impl LineSession for CarbonSession {
    fn line(&mut self, line: &[u8]) {
        match parse_line(line) {
            Ok(point) if point.timestamp > self.now + MAX_FUTURE_SECS => {
                self.counters.refused("timestamp_in_future", line);
            }
            Ok(point) if point.timestamp < self.now - MAX_AGE_SECS => {
                self.counters.refused("timestamp_too_old", line);
            }
            Ok(point) => {
                let tags = point.tags().map(|(k, v)| (k.to_owned(), v.to_owned()));
                self.batch.push(CarbonPoint {
                    key: SeriesKey::new(point.path.to_owned(), tags),
                    ts: point.timestamp,
                    value: point.value,
                });
            }
            Err(error) => self.counters.refused(error.reason(), line),
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

fn unix_now() -> i64 {
    crate::store::unix_ms_now() / 1000
}
