//! Syslog over UDP and TCP, and newline-delimited JSON logs over TCP, into
//! the log store.
//!
//! Sessions do not parse: they keep each line's bytes (cut at the line
//! limit, marked) with its arrival time and, for syslog, the sender's
//! address, and queue them for the log writer, which journals, parses and
//! indexes them. A full queue makes a TCP connection wait before its next
//! read (nothing is lost); a UDP datagram that finds it full is dropped
//! and counted, as UDP cannot push back.
//!
//! A syslog datagram is one message (RFC 5426), even with newlines in it;
//! a JSON-lines datagram is not a thing, JSON lines are TCP only.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use partout_protocols::framing::Mode;
use partout_protocols::ParseError;

use super::{IngestCounters, LineSession, Protocol};
use crate::logs::raw::{RawLog, Source};
use crate::logs::record::PEER_CONTEXT;
use crate::logs::{LogError, LogStore};
use crate::telemetry::Telemetry;

pub struct LogProtocol {
    source: Source,
    store: LogStore,
    max_line: usize,
    telemetry: Arc<Telemetry>,
    last_logged: Arc<AtomicI64>,
}

impl LogProtocol {
    pub fn syslog(store: LogStore, max_line: usize, telemetry: Arc<Telemetry>) -> LogProtocol {
        LogProtocol::new(Source::Syslog, store, max_line, telemetry)
    }

    pub fn json_lines(store: LogStore, max_line: usize, telemetry: Arc<Telemetry>) -> LogProtocol {
        LogProtocol::new(Source::JsonLine, store, max_line, telemetry)
    }

    fn new(
        source: Source,
        store: LogStore,
        max_line: usize,
        telemetry: Arc<Telemetry>,
    ) -> LogProtocol {
        LogProtocol {
            source,
            store,
            max_line,
            telemetry,
            last_logged: Arc::new(AtomicI64::new(0)),
        }
    }

    fn new_session(&self, peer: Option<SocketAddr>) -> LogSession {
        LogSession {
            source: self.source,
            store: self.store.clone(),
            max_line: self.max_line,
            batch: Vec::new(),
            pending: None,
            now_nanos: now_nanos(),
            peer: peer.map(|peer| peer.ip().to_string()),
            counters: IngestCounters::new(
                self.name(),
                Arc::clone(&self.telemetry),
                Arc::clone(&self.last_logged),
            ),
            datagram_mode: false,
        }
    }
}

impl Protocol for LogProtocol {
    fn name(&self) -> &'static str {
        match self.source {
            Source::Syslog => "syslog",
            _ => "jsonlines",
        }
    }

    fn framing(&self) -> Mode {
        match self.source {
            Source::Syslog => Mode::Syslog,
            _ => Mode::Lines,
        }
    }

    fn max_frame_len(&self) -> Option<usize> {
        Some(self.max_line)
    }

    fn truncates_long_frames(&self) -> bool {
        true
    }

    fn session(&self) -> Box<dyn LineSession> {
        Box::new(self.new_session(None))
    }

    fn session_for_peer(&self, peer: SocketAddr) -> Box<dyn LineSession> {
        Box::new(self.new_session(Some(peer)))
    }
}

struct LogSession {
    source: Source,
    store: LogStore,
    max_line: usize,
    batch: Vec<RawLog>,
    /// A TCP batch that found the queue full; sent by `ready`.
    pending: Option<Vec<RawLog>>,
    /// Arrival time, refreshed after every read (not per line).
    now_nanos: i64,
    /// The sender's IP (syslog keeps it: host when the message has none).
    peer: Option<String>,
    counters: IngestCounters,
    datagram_mode: bool,
}

impl LogSession {
    fn push(&mut self, bytes: &[u8], truncated: bool) {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let mut raw = RawLog::new(self.source, self.now_nanos, bytes, self.max_line);
        raw.truncated |= truncated;
        if self.source == Source::Syslog {
            if let Some(peer) = &self.peer {
                raw = raw.with_context(PEER_CONTEXT, peer);
            }
        }
        self.batch.push(raw);
    }

    fn send_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        let lines = batch.len() as u64;
        match self.store.try_send(batch) {
            Ok(()) => self.counters.accepted(lines),
            Err((LogError::QueueFull, batch)) if !self.datagram_mode => {
                self.pending = Some(batch);
            }
            Err((error, _)) => {
                let reason = match error {
                    LogError::QueueFull => "queue_full",
                    _ => "shutting_down",
                };
                for _ in 0..lines {
                    self.counters.refused(reason, b"");
                }
            }
        }
    }
}

impl LineSession for LogSession {
    fn line(&mut self, line: &[u8]) {
        self.push(line, false);
    }

    fn truncated_line(&mut self, head: &[u8]) {
        self.store.telemetry().log_lines_truncated.inc();
        self.push(head, true);
    }

    fn datagram(&mut self, datagram: &[u8]) {
        self.datagram_mode = true;
        match self.source {
            Source::Syslog => {
                let message = datagram.strip_suffix(b"\n").unwrap_or(datagram);
                self.push(message, false);
            }
            _ => {
                for line in datagram.split(|&b| b == b'\n') {
                    self.push(line, false);
                }
            }
        }
        self.end_of_chunk();
        self.datagram_mode = false;
    }

    fn datagram_from(&mut self, datagram: &[u8], peer: SocketAddr) {
        if self.source == Source::Syslog {
            let ip = peer.ip().to_string();
            if self.peer.as_deref() != Some(ip.as_str()) {
                self.peer = Some(ip);
            }
        }
        self.datagram(datagram);
    }

    fn end_of_chunk(&mut self) {
        self.send_batch();
        self.counters.publish();
        self.now_nanos = now_nanos();
    }

    fn ready(&mut self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            if let Some(batch) = self.pending.take() {
                let lines = batch.len() as u64;
                match self.store.send(batch).await {
                    Ok(()) => self.counters.accepted(lines),
                    Err(_) => {
                        for _ in 0..lines {
                            self.counters.refused("shutting_down", b"");
                        }
                    }
                }
                self.counters.publish();
            }
        })
    }

    fn frame_error(&mut self, error: &ParseError) {
        self.counters.refused(error.reason(), b"");
    }
}

fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX)
        })
}
