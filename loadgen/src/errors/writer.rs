//! The store writer alone, in this process: prepared events recorded as
//! partout records them (through its event queue, one request's event
//! per queued entry, `JOB_REQUESTS` to a writer job, as under the
//! benchmark's load), with the issue counts written every
//! `COUNTS_EVERY` events, as the server's once-a-second task does at
//! about that many events a second. The writer is one thread, so its CPU
//! per event bounds events/s on its own; end to end, the machine's drift
//! hides changes to it that this shows.

use std::sync::Arc;

use partout::errors::counts::IssueCounts;
use partout::errors::dictionaries::DictionaryCache;
use partout::errors::envelope::parse_envelope_body;
use partout::errors::event_queue::{EventQueue, Keep, QueueCounters};
use partout::errors::prepare::{prepare_all, NewEvent};
use partout::errors::ErrorsConfig;
use partout::store::Store;

/// Requests recorded per writer job: about what a job takes under the
/// end-to-end benchmark's 64 connections.
const JOB_REQUESTS: usize = 10;
/// Events between two writes of the issue counts.
const COUNTS_EVERY: usize = 5_000;
/// Envelopes prepared at a time, before their events are recorded.
const CHUNK: usize = 500;

/// One line: the writer thread's CPU per event, or why there is none.
pub fn one_thread(bodies: &[Vec<u8>]) -> String {
    match measure(bodies) {
        Ok(spent) if spent.events > 0 => format!(
            "store writer on its own: {:.1} µs an event on the writer thread, {:.1} µs on its syncer ({} events, {:.1} requests a job, counts written every {COUNTS_EVERY} events) [no target]",
            spent.writer_seconds * 1e6 / spent.events as f64,
            spent.syncer_seconds * 1e6 / spent.events as f64,
            spent.events,
            spent.requests_per_job,
        ),
        Ok(_) => "store writer on its own: FAILED: no event was recorded".to_owned(),
        Err(error) => format!("store writer on its own: FAILED: {error}"),
    }
}

/// What recording the events took.
struct Spent {
    events: usize,
    writer_seconds: f64,
    syncer_seconds: f64,
    requests_per_job: f64,
}

fn measure(bodies: &[Vec<u8>]) -> Result<Spent, String> {
    let dir = tempfile::tempdir().map_err(|error| error.to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    runtime.block_on(async {
        let store = Store::open(dir.path()).map_err(|error| error.to_string())?;
        let (project, _) = store
            .write(|conn| partout::errors::projects::ensure_default(conn, 0))
            .await
            .map_err(|error| error.to_string())?;
        let project_id = project.id;
        let config = ErrorsConfig::default();
        let dictionaries = DictionaryCache::default();
        let counts = Arc::new(IssueCounts::default());
        let queue = Arc::new(EventQueue::default());
        let queue_counters = QueueCounters::default();
        let keep = Keep {
            events_per_issue: config.events_per_issue,
            notifications_per_minute: config.notifications_per_minute,
            counts: Arc::clone(&counts),
        };
        let before = writer_threads();
        let mut recorded = 0;
        let mut counted_at = 0;
        let received_at_ms = super::now_ms();
        for chunk in bodies.chunks(CHUNK) {
            let mut requests: Vec<Vec<NewEvent>> = Vec::with_capacity(chunk.len());
            for body in chunk {
                let decoded =
                    partout_protocols::gzip::gunzip(body, config.envelope.max_envelope_bytes)
                        .map_err(|error| format!("gunzip: {error}"))?;
                let parsed = parse_envelope_body(&decoded, &config)
                    .map_err(|error| format!("parse: {error}"))?;
                let lookup =
                    |key: &str| dictionaries.lookup(&store, project_id, key).ok().flatten();
                requests.push(
                    prepare_all(parsed, received_at_ms, &lookup)
                        .map_err(|error| format!("prepare: {error}"))?,
                );
            }
            // Each group of requests is queued together, so one job takes
            // them all, as concurrent requests share a job in partout.
            let mut requests = requests.into_iter().peekable();
            while requests.peek().is_some() {
                let mut group = Vec::with_capacity(JOB_REQUESTS);
                for events in requests.by_ref().take(JOB_REQUESTS) {
                    recorded += events.len();
                    let (queue, store, keep, counters) = (
                        Arc::clone(&queue),
                        store.clone(),
                        keep.clone(),
                        queue_counters.clone(),
                    );
                    group.push(tokio::spawn(async move {
                        queue
                            .record(&store, keep, &counters, project_id, events)
                            .await
                    }));
                }
                for request in group {
                    request
                        .await
                        .map_err(|error| error.to_string())?
                        .map_err(|error| error.to_string())?;
                }
                if recorded - counted_at >= COUNTS_EVERY {
                    counts
                        .settle(&store)
                        .await
                        .map_err(|error| error.to_string())?;
                    counted_at = recorded;
                }
            }
        }
        counts
            .settle(&store)
            .await
            .map_err(|error| error.to_string())?;
        let after = writer_threads();
        store.close().await.map_err(|error| error.to_string())?;
        Ok(Spent {
            events: recorded,
            writer_seconds: after.0 - before.0,
            syncer_seconds: after.1 - before.1,
            requests_per_job: queue_counters.requests.get() as f64
                / queue_counters.jobs.get().max(1) as f64,
        })
    })
}

/// CPU seconds so far of this process's store writer and its syncer.
fn writer_threads() -> (f64, f64) {
    let threads = crate::server::threads_now(std::process::id());
    let of = |name: &str| {
        threads
            .iter()
            .filter(|(_, thread, _)| thread == name)
            .map(|(_, _, seconds)| seconds)
            .sum()
    };
    (of("partout-store-w"), of("partout-store-s"))
}
