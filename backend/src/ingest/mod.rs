//! Listeners: sockets in, parsed records out to the aggregator and stores.
//!
//! # Layout
//! - [`net`]: generic UDP and TCP listener loops (binding, connection cap,
//!   framing, cancellation); they know nothing of any protocol
//! - [`logs`]: syslog (UDP and TCP) and JSON lines (TCP) into the log store
//! - [`statsd`], [`carbon`] (plaintext and pickle): per protocol, a
//!   [`Protocol`] whose sessions parse lines or messages and hand the
//!   records on
//!
//! Invariant: a bad line costs only itself: it is counted by reason, a
//! sample is logged at most every few seconds, and the rest of the datagram
//! or stream goes on.

pub mod carbon;
pub mod logs;
pub mod net;
pub mod statsd;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use partout_protocols::framing::Mode;
use partout_protocols::ParseError;

use crate::telemetry::{ProtocolLabels, RejectLabels, Telemetry};

/// Seconds between two logged samples of bad input, per protocol.
const BAD_INPUT_LOG_EVERY_SECS: i64 = 10;

/// A wire protocol spoken over line-oriented sockets.
pub trait Protocol: Send + Sync + 'static {
    /// The label in `/metrics` (`statsd`, `carbon`, ...).
    fn name(&self) -> &'static str;
    /// How TCP streams are cut into lines (or messages).
    fn framing(&self) -> Mode {
        Mode::Lines
    }
    /// Longest TCP frame, when the protocol needs another bound than the
    /// listener's (`net::Limits::max_frame_len`), e.g. for whole messages.
    fn max_frame_len(&self) -> Option<usize> {
        None
    }
    /// State for one UDP socket task or one TCP connection.
    fn session(&self) -> Box<dyn LineSession>;
    /// State for a TCP connection from `peer` (protocols that record the
    /// sender override this).
    fn session_for_peer(&self, _peer: std::net::SocketAddr) -> Box<dyn LineSession> {
        self.session()
    }
    /// Whether an over-long TCP frame is cut and handed on
    /// ([`LineSession::truncated_line`]) rather than refused.
    fn truncates_long_frames(&self) -> bool {
        false
    }
}

/// Handles the lines of one socket task or connection.
pub trait LineSession: Send {
    /// One line, without its delimiter.
    fn line(&mut self, line: &[u8]);
    /// A datagram of `\n`-separated lines.
    fn datagram(&mut self, datagram: &[u8]) {
        for line in datagram.split(|&b| b == b'\n') {
            if !line.is_empty() && line != b"\r" {
                self.line(line);
            }
        }
        self.end_of_chunk();
    }
    /// A datagram from `peer` (protocols that record the sender override
    /// this).
    fn datagram_from(&mut self, datagram: &[u8], _peer: std::net::SocketAddr) {
        self.datagram(datagram);
    }
    /// The head of a frame longer than the limit, when the protocol
    /// truncates; refused as too long by default.
    fn truncated_line(&mut self, _head: &[u8]) {
        self.frame_error(&ParseError::FrameTooLong { limit: 0 });
    }
    /// Called after each read: publish what was batched.
    fn end_of_chunk(&mut self) {}
    /// Waits until the session can take more input: TCP reads pause here
    /// when downstream is full (back-pressure). Ready at once by default.
    fn ready(&mut self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::ready(()))
    }
    /// A frame the framer refused (too long, bad octet count).
    fn frame_error(&mut self, error: &ParseError);
}

/// Counts accepted and refused items for one protocol, batching the
/// accepted count so the hot path touches no shared counter per line.
pub struct IngestCounters {
    protocol: &'static str,
    telemetry: Arc<Telemetry>,
    accepted: u64,
    last_logged: Arc<AtomicI64>,
}

impl IngestCounters {
    pub fn new(
        protocol: &'static str,
        telemetry: Arc<Telemetry>,
        last_logged: Arc<AtomicI64>,
    ) -> IngestCounters {
        IngestCounters {
            protocol,
            telemetry,
            accepted: 0,
            last_logged,
        }
    }

    pub fn accepted(&mut self, items: u64) {
        self.accepted += items;
    }

    /// Counts a refused item and logs a sample at most every few seconds.
    pub fn refused(&mut self, reason: &'static str, sample: &[u8]) {
        self.telemetry
            .rejected_items
            .get_or_create(&RejectLabels {
                protocol: self.protocol.to_owned(),
                reason: reason.to_owned(),
            })
            .inc();
        let now = crate::store::unix_ms_now() / 1000;
        let last = self.last_logged.load(Ordering::Relaxed);
        if now - last >= BAD_INPUT_LOG_EVERY_SECS
            && self
                .last_logged
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let shown: String = String::from_utf8_lossy(sample).chars().take(200).collect();
            tracing::warn!(protocol = self.protocol, reason, line = %shown, "refused input (one sample; all are counted in /metrics)");
        }
    }

    /// Publishes the batched accepted count.
    pub fn publish(&mut self) {
        if self.accepted > 0 {
            self.telemetry
                .ingested_items
                .get_or_create(&ProtocolLabels {
                    protocol: self.protocol.to_owned(),
                })
                .inc_by(std::mem::take(&mut self.accepted));
        }
    }
}

impl Drop for IngestCounters {
    fn drop(&mut self) {
        self.publish();
    }
}
