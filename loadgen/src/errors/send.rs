//! Sending the envelopes as SDKs do: `POST /api/{project}/envelope/`,
//! gzip-encoded, with `X-Sentry-Auth`, over concurrent HTTP/1.1
//! keep-alive connections.
//!
//! The envelopes are made before the clock starts (see `mod.rs`), so the
//! sending side costs only HTTP. One tokio worker thread drives every
//! connection, leaving the other core to partout. Each connection writes
//! a request in one `write` and reads its answer with `httparse`, as `wrk`
//! does: the SDKs run on other machines, so what the client costs here is
//! CPU partout would not have to share in production. A general client
//! (reqwest) took about 45 µs of this machine's CPU per request, a fifth
//! of a core at 5,000 events/s.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where and as whom to send.
pub struct Target {
    pub url: String,
    pub public_key: String,
    pub connections: usize,
    pub deadline: Instant,
}

/// What sending did.
pub struct Sent {
    /// Envelopes answered 200.
    pub accepted: u64,
    /// Other answers and failed requests, with the first few reasons.
    pub refused: u64,
    pub reasons: Vec<String>,
    /// Per request, from the first byte sent to the answer read, ms.
    pub latencies_ms: Vec<f64>,
    pub first_post: Instant,
    pub last_answer: Instant,
}

/// Largest answer head or body read; partout's answers are a few hundred
/// bytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Sends every body once, `target.connections` at a time, and stops early
/// at `target.deadline`.
pub fn send_all(bodies: Arc<Vec<Vec<u8>>>, target: &Target) -> anyhow::Result<Sent> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the sender's runtime")?;
    let url = reqwest::Url::parse(&target.url).context("the envelope URL")?;
    let host = url.host_str().context("the envelope URL has no host")?;
    let port = url.port_or_known_default().unwrap_or(80);
    let address = format!("{host}:{port}");
    let head = Arc::new(format!(
        "POST {} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-sentry-envelope\r\n\
         Content-Encoding: gzip\r\nUser-Agent: sentry.python/2.75.0\r\n\
         X-Sentry-Auth: Sentry sentry_version=7, sentry_key={}, sentry_client=partout-loadgen/1.0\r\n",
        url.path(),
        target.public_key
    ));
    let next = Arc::new(AtomicUsize::new(0));
    let first_post = Instant::now();
    let outcomes = runtime.block_on(async {
        let mut tasks = Vec::with_capacity(target.connections);
        for _ in 0..target.connections {
            let connection = Connection {
                address: address.clone(),
                head: Arc::clone(&head),
                stream: None,
                request: Vec::new(),
                answer: Vec::new(),
            };
            let bodies = Arc::clone(&bodies);
            let next = Arc::clone(&next);
            let deadline = target.deadline;
            tasks.push(tokio::spawn(connection.run(bodies, next, deadline)));
        }
        let mut parts = Vec::with_capacity(tasks.len());
        for task in tasks {
            parts.push(task.await.context("a sender task failed")?);
        }
        anyhow::Ok(parts)
    })?;
    let mut sent = Sent {
        accepted: 0,
        refused: 0,
        reasons: Vec::new(),
        latencies_ms: Vec::with_capacity(bodies.len()),
        first_post,
        last_answer: first_post,
    };
    for part in outcomes {
        sent.accepted += part.accepted;
        sent.refused += part.refused;
        for reason in part.reasons {
            if sent.reasons.len() < 5 {
                sent.reasons.push(reason);
            }
        }
        sent.latencies_ms.extend(part.latencies_ms);
        if let Some(last) = part.last {
            sent.last_answer = sent.last_answer.max(last);
        }
    }
    sent.latencies_ms.sort_by(f64::total_cmp);
    Ok(sent)
}

/// One keep-alive connection and its reused buffers.
struct Connection {
    address: String,
    /// The request line and fixed headers, up to `Content-Length`.
    head: Arc<String>,
    /// Open between requests; `None` until the first, and after the
    /// server closed it.
    stream: Option<TcpStream>,
    request: Vec<u8>,
    answer: Vec<u8>,
}

/// An answer's status and body.
struct Answer {
    status: u16,
    body: String,
}

impl Connection {
    async fn run(
        mut self,
        bodies: Arc<Vec<Vec<u8>>>,
        next: Arc<AtomicUsize>,
        deadline: Instant,
    ) -> Part {
        let mut part = Part::default();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(body) = bodies.get(index) else { break };
            if Instant::now() > deadline {
                part.refuse("the time limit ran out while sending".to_owned());
                break;
            }
            let started = Instant::now();
            match self.post(body).await {
                Ok(answer) => {
                    part.latencies_ms
                        .push(started.elapsed().as_secs_f64() * 1000.0);
                    if answer.status == 200 {
                        part.accepted += 1;
                    } else {
                        part.refuse(format!("{}: {}", answer.status, answer.body.trim()));
                    }
                }
                Err(error) => {
                    // The next request opens a new connection.
                    self.stream = None;
                    part.refuse(format!("{error:#}"));
                }
            }
            part.last = Some(Instant::now());
        }
        part
    }

    /// Sends one request and reads its answer, opening the connection
    /// first when there is none.
    async fn post(&mut self, body: &[u8]) -> anyhow::Result<Answer> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.address)
                .await
                .with_context(|| format!("connecting to {}", self.address))?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        let stream = self.stream.as_mut().context("no connection")?;
        self.request.clear();
        self.request.extend_from_slice(self.head.as_bytes());
        self.request
            .extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        self.request.extend_from_slice(body);
        stream.write_all(&self.request).await.context("sending")?;
        self.answer.clear();
        let (status, head_len, body_len, close) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head_len) = response
                .parse(&self.answer)
                .context("reading the answer's head")?
            {
                let status = response.code.unwrap_or(0);
                let header = |name: &str| {
                    response
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .map(|h| String::from_utf8_lossy(h.value).into_owned())
                };
                let body_len: usize = header("content-length")
                    .context("an answer without Content-Length")?
                    .trim()
                    .parse()
                    .context("the answer's Content-Length")?;
                let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
                break (status, head_len, body_len, close);
            }
            read_more(stream, &mut self.answer).await?;
        };
        anyhow::ensure!(
            body_len <= MAX_ANSWER_BYTES,
            "an answer of {body_len} bytes"
        );
        while self.answer.len() < head_len + body_len {
            read_more(stream, &mut self.answer).await?;
        }
        let body =
            String::from_utf8_lossy(&self.answer[head_len..head_len + body_len]).into_owned();
        if close {
            self.stream = None;
        }
        Ok(Answer { status, body })
    }
}

/// Reads what the stream has into `buffer`; EOF or an oversized answer
/// is an error.
async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> anyhow::Result<()> {
    anyhow::ensure!(
        buffer.len() < MAX_ANSWER_BYTES,
        "an answer over {MAX_ANSWER_BYTES} bytes"
    );
    let mut chunk = [0u8; 4096];
    let read = stream
        .read(&mut chunk)
        .await
        .context("reading the answer")?;
    anyhow::ensure!(read > 0, "the server closed the connection");
    buffer.extend_from_slice(&chunk[..read]);
    Ok(())
}

/// What one connection did.
#[derive(Default)]
struct Part {
    accepted: u64,
    refused: u64,
    reasons: Vec<String>,
    latencies_ms: Vec<f64>,
    last: Option<Instant>,
}

impl Part {
    fn refuse(&mut self, reason: String) {
        self.refused += 1;
        if self.reasons.len() < 5 {
            self.reasons.push(reason);
        }
    }
}

/// The `q` quantile of sorted values; NaN when there are none.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
