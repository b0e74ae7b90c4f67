//! Sending one transport's share of the data set over real sockets, and
//! waiting until partout can search all of it.
//!
//! A background thread generates the lines into buffers (about 1 MiB of
//! syslog lines, or [`BODY_LINES`] NDJSON lines per request body) through
//! a bounded queue; [`CONNECTIONS`] sender threads take buffers from it,
//! each over its own connection.

use std::io::Write as _;
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use super::civil::rfc3339;
use super::generate::{Dataset, Tally, Transport};
use crate::server::Server;

/// Connections per transport, as the issue asks: two TCP connections for
/// syslog, two concurrent HTTP connections for JSON.
pub const CONNECTIONS: usize = 2;
/// Lines per `POST /api/v1/logs` body: what a log shipper batches.
pub const BODY_LINES: usize = 2000;
/// Bytes per syslog write.
const SYSLOG_BUFFER: usize = 1 << 20;
/// Buffers the generator may be ahead by.
const QUEUE_BUFFERS: usize = 16;
/// How long an ingest phase's counters may stand still before the wait
/// gives up.
const STALL: Duration = Duration::from_secs(30);
/// partout's count of lines written to its journal.
const WRITTEN: &str = "partout_log_lines_written_total";

/// What a sending phase did.
pub struct Sent {
    /// Lines and bytes the senders got out (HTTP: lines the server
    /// accepted).
    pub lines: u64,
    pub bytes: u64,
    /// What the generator made, for checking search results; equal to
    /// `lines` when nothing failed.
    pub generated: Tally,
    pub first_byte: Instant,
    pub last_byte: Instant,
    /// HTTP: each request's time to its answer, ms, sorted; empty for
    /// syslog, which has no answers.
    pub answer_ms: Vec<f64>,
}

/// Generates `transport`'s lines in a background thread, packed into
/// buffers, through a bounded queue. The thread stops early when the
/// queue's receiver is dropped.
fn spawn_generator(data: Dataset, transport: Transport) -> (Receiver<Vec<u8>>, JoinHandle<Tally>) {
    let (queue, buffers) = sync_channel::<Vec<u8>>(QUEUE_BUFFERS);
    let capacity = SYSLOG_BUFFER + 4096;
    let handle = std::thread::spawn(move || {
        let mut tally = Tally::default();
        let mut buffer = Vec::with_capacity(capacity);
        let mut in_buffer = 0;
        for index in 0..data.lines {
            if data.transport(index) != transport {
                continue;
            }
            data.write(index, &mut buffer, &mut tally);
            in_buffer += 1;
            let full = match transport {
                Transport::Syslog => buffer.len() >= SYSLOG_BUFFER,
                Transport::Json => in_buffer >= BODY_LINES,
            };
            if full {
                in_buffer = 0;
                let next = Vec::with_capacity(capacity);
                if queue.send(std::mem::replace(&mut buffer, next)).is_err() {
                    return tally;
                }
            }
        }
        if !buffer.is_empty() {
            let _ = queue.send(buffer);
        }
        tally
    });
    (buffers, handle)
}

/// Counts shared by the sender threads.
struct Progress {
    lines: AtomicU64,
    bytes: AtomicU64,
    first_byte: Mutex<Option<Instant>>,
}

/// Runs [`CONNECTIONS`] senders over the generator's buffers. `connect`
/// opens one connection; `send` sends one buffer over it and returns the
/// lines the other end took.
fn drive<C>(
    data: Dataset,
    transport: Transport,
    deadline: Instant,
    connect: impl Fn() -> anyhow::Result<C> + Sync,
    send: impl Fn(&mut C, Vec<u8>) -> anyhow::Result<u64> + Sync,
) -> anyhow::Result<Sent> {
    let (buffers, generator) = spawn_generator(data, transport);
    let buffers = Mutex::new(buffers);
    let progress = Progress {
        lines: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        first_byte: Mutex::new(None),
    };
    let results: Vec<anyhow::Result<()>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CONNECTIONS)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    let mut connection = connect()?;
                    loop {
                        if Instant::now() > deadline {
                            bail!("the overall time limit ran out while sending");
                        }
                        let next = match buffers.lock() {
                            Ok(queue) => queue.recv_timeout(Duration::from_secs(1)),
                            Err(_) => bail!("another sender panicked"),
                        };
                        let buffer = match next {
                            Ok(buffer) => buffer,
                            Err(RecvTimeoutError::Timeout) => continue,
                            Err(RecvTimeoutError::Disconnected) => return Ok(()),
                        };
                        if let Ok(mut first) = progress.first_byte.lock() {
                            first.get_or_insert_with(Instant::now);
                        }
                        let bytes = buffer.len() as u64;
                        let lines = send(&mut connection, buffer)?;
                        progress.lines.fetch_add(lines, Ordering::Relaxed);
                        progress.bytes.fetch_add(bytes, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a sender panicked")))
            })
            .collect()
    });
    let last_byte = Instant::now();
    // A failed sender may leave the generator blocked on a full queue:
    // dropping the receiver releases it.
    drop(buffers);
    let generated = generator
        .join()
        .map_err(|_| anyhow::anyhow!("the generator panicked"))?;
    for result in results {
        result?;
    }
    let first_byte = progress
        .first_byte
        .into_inner()
        .ok()
        .flatten()
        .context("nothing was sent")?;
    Ok(Sent {
        lines: progress.lines.into_inner(),
        bytes: progress.bytes.into_inner(),
        generated,
        first_byte,
        last_byte,
        answer_ms: Vec::new(),
    })
}

/// The syslog share, newline framed, over TCP.
pub fn syslog_tcp(server: &Server, data: Dataset, deadline: Instant) -> anyhow::Result<Sent> {
    let target = server.addr("syslog_tcp")?;
    drive(
        data,
        Transport::Syslog,
        deadline,
        || {
            let stream = TcpStream::connect(&target)
                .with_context(|| format!("connecting to syslog at {target}"))?;
            // A partout that stops reading fails the phase instead of
            // hanging it.
            stream.set_write_timeout(Some(Duration::from_secs(120)))?;
            Ok(stream)
        },
        |stream, buffer| {
            stream.write_all(&buffer).context("writing syslog lines")?;
            Ok(buffer.iter().filter(|&&b| b == b'\n').count() as u64)
        },
    )
}

/// The JSON share, as NDJSON bodies of `POST /api/v1/logs`.
pub fn http_json(
    server: &Server,
    token: &str,
    data: Dataset,
    deadline: Instant,
) -> anyhow::Result<Sent> {
    let url = server.url("/api/v1/logs")?;
    let authorization = format!("Bearer {token}");
    let answer_ms = Mutex::new(Vec::new());
    let mut sent = drive(
        data,
        Transport::Json,
        deadline,
        || {
            // One client per thread: its own keep-alive connection.
            Ok(reqwest::blocking::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(120))
                .build()?)
        },
        |client, body| {
            let lines = body.iter().filter(|&&b| b == b'\n').count() as u64;
            let started = Instant::now();
            let response = client
                .post(&url)
                .header("Authorization", &authorization)
                .header("Content-Type", "application/x-ndjson")
                .body(body)
                .send()
                .context("POST /api/v1/logs")?;
            let status = response.status();
            let text = response.text()?;
            if let Ok(mut times) = answer_ms.lock() {
                times.push(started.elapsed().as_secs_f64() * 1e3);
            }
            if !status.is_success() {
                bail!("POST /api/v1/logs answered {status}: {text}");
            }
            let answer: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("POST /api/v1/logs answered {text:?}"))?;
            let accepted = answer["accepted"].as_u64().unwrap_or(0);
            if accepted != lines {
                bail!("POST /api/v1/logs accepted {accepted} of {lines} lines");
            }
            Ok(accepted)
        },
    )?;
    sent.answer_ms = answer_ms.into_inner().unwrap_or_default();
    sent.answer_ms.sort_by(f64::total_cmp);
    Ok(sent)
}

/// How many lines in `[from, until)` partout can search now, per the
/// histogram.
pub fn searchable(server: &Server, from_nanos: i64, until_nanos: i64) -> anyhow::Result<u64> {
    let url = reqwest::Url::parse_with_params(
        &server.url("/api/v1/logs/histogram")?,
        &[
            ("from", rfc3339(from_nanos)),
            ("until", rfc3339(until_nanos)),
        ],
    )?;
    let response = server.http.get(url).send()?;
    let status = response.status();
    let text = response.text()?;
    if !status.is_success() {
        bail!("histogram answered {status}: {text}");
    }
    let answer: serde_json::Value = serde_json::from_str(&text)?;
    answer["total"]
        .as_u64()
        .with_context(|| format!("histogram without a total: {text}"))
}

/// The wait's outcome: when every line was searchable, or how many were.
pub enum Searchable {
    At(Instant),
    Stalled { seen: u64, after: Duration },
}

/// Waits until `expected` lines in `[from, until)` are searchable. It
/// first watches partout's journal counter (cheap) reach `written`, so the
/// histogram, which costs more, is not polled while lines still arrive;
/// then polls the histogram every 50 ms. Gives up when a count stands
/// still for [`STALL`] or at `deadline`.
pub fn wait_searchable(
    server: &Server,
    window: (i64, i64),
    written: u64,
    expected: u64,
    deadline: Instant,
) -> anyhow::Result<Searchable> {
    let started = Instant::now();
    let mut last = -1.0;
    let mut moved = Instant::now();
    loop {
        let now = server
            .metric_if_present(WRITTEN)?
            .with_context(|| format!("partout's /metrics has no {WRITTEN}"))?;
        if now >= written as f64 || moved.elapsed() > STALL || Instant::now() > deadline {
            break;
        }
        if now > last {
            last = now;
            moved = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut seen = 0;
    let mut moved = Instant::now();
    loop {
        let now = searchable(server, window.0, window.1)?;
        if now == expected {
            return Ok(Searchable::At(Instant::now()));
        }
        if now != seen {
            seen = now;
            moved = Instant::now();
        }
        if moved.elapsed() > STALL || Instant::now() > deadline {
            return Ok(Searchable::Stalled {
                seen,
                after: started.elapsed(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
