//! StatsD over UDP and TCP: parse each line and add it to the shared
//! interval aggregator.
//!
//! The aggregator lock is taken once per datagram (or per TCP line), held
//! for the parse-and-add of its lines only: microseconds. The flusher takes
//! the lock only to swap the interval out, so flushing never stalls
//! receiving.

use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};

use partout_protocols::statsd::{parse_datagram, parse_line};
use partout_protocols::ParseError;

use super::{IngestCounters, LineSession, Protocol};
use crate::metrics::aggregate::Aggregator;
use crate::telemetry::Telemetry;

pub struct Statsd {
    aggregator: Arc<Mutex<Aggregator>>,
    telemetry: Arc<Telemetry>,
    last_logged: Arc<AtomicI64>,
}

impl Statsd {
    pub fn new(aggregator: Arc<Mutex<Aggregator>>, telemetry: Arc<Telemetry>) -> Statsd {
        Statsd {
            aggregator,
            telemetry,
            last_logged: Arc::new(AtomicI64::new(0)),
        }
    }
}

impl Protocol for Statsd {
    fn name(&self) -> &'static str {
        "statsd"
    }

    fn session(&self) -> Box<dyn LineSession> {
        Box::new(StatsdSession {
            aggregator: Arc::clone(&self.aggregator),
            counters: IngestCounters::new(
                "statsd",
                Arc::clone(&self.telemetry),
                Arc::clone(&self.last_logged),
            ),
        })
    }
}

struct StatsdSession {
    aggregator: Arc<Mutex<Aggregator>>,
    counters: IngestCounters,
}

impl StatsdSession {
    fn add(
        &mut self,
        aggregator: &mut Aggregator,
        raw: &[u8],
        parsed: Result<partout_protocols::statsd::StatsdLine<'_>, ParseError>,
    ) {
        match parsed {
            Ok(line) => match aggregator.add_line(&line) {
                Ok(()) => self.counters.accepted(line.value_count() as u64),
                Err(refused) => self.counters.refused(refused.reason(), raw),
            },
            Err(error) => self.counters.refused(error.reason(), raw),
        }
    }
}

impl LineSession for StatsdSession {
    fn line(&mut self, line: &[u8]) {
        let aggregator = Arc::clone(&self.aggregator);
        let Ok(mut aggregator) = aggregator.lock() else {
            return; // a panic elsewhere poisoned it; the flusher reports that
        };
        self.add(&mut aggregator, line, parse_line(line));
    }

    fn datagram(&mut self, datagram: &[u8]) {
        let aggregator = Arc::clone(&self.aggregator);
        if let Ok(mut aggregator) = aggregator.lock() {
            let lines = datagram
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty() && *l != b"\r");
            for (raw, parsed) in lines.zip(parse_datagram(datagram)) {
                self.add(&mut aggregator, raw, parsed);
            }
        }
        self.end_of_chunk();
    }

    fn end_of_chunk(&mut self) {
        self.counters.publish();
    }

    fn frame_error(&mut self, error: &ParseError) {
        self.counters.refused(error.reason(), b"");
    }
}
