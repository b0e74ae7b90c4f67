//! Sending the envelopes as SDKs do: `POST /api/{project}/envelope/`,
//! gzip-encoded, with `X-Sentry-Auth`, over a few concurrent HTTP/1.1
//! keep-alive connections.
//!
//! The envelopes are made before the clock starts (see `mod.rs`), so the
//! sending side costs only HTTP. One tokio worker thread drives every
//! connection, leaving the other core to partout; each connection is its
//! own client with a pool of one, so the count is exact.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

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

/// Sends every body once, `target.connections` at a time, and stops early
/// at `target.deadline`.
pub fn send_all(bodies: Arc<Vec<Vec<u8>>>, target: &Target) -> anyhow::Result<Sent> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the sender's runtime")?;
    let next = Arc::new(AtomicUsize::new(0));
    let auth = format!(
        "Sentry sentry_version=7, sentry_key={}, sentry_client=partout-loadgen/1.0",
        target.public_key
    );
    let first_post = Instant::now();
    let outcomes = runtime.block_on(async {
        let mut tasks = Vec::with_capacity(target.connections);
        for _ in 0..target.connections {
            let client = reqwest::Client::builder()
                .no_proxy()
                .http1_only()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(60))
                .build()?;
            let bodies = Arc::clone(&bodies);
            let next = Arc::clone(&next);
            let url = target.url.clone();
            let auth = auth.clone();
            let deadline = target.deadline;
            tasks.push(tokio::spawn(async move {
                let mut part = Part::default();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(index) else { break };
                    if Instant::now() > deadline {
                        part.refuse("the time limit ran out while sending".to_owned());
                        break;
                    }
                    let started = Instant::now();
                    let answer = client
                        .post(&url)
                        .header("Content-Type", "application/x-sentry-envelope")
                        .header("Content-Encoding", "gzip")
                        .header("X-Sentry-Auth", &auth)
                        .header("User-Agent", "sentry.python/2.75.0")
                        .body(body.clone())
                        .send()
                        .await;
                    match answer {
                        Ok(response) => {
                            let status = response.status();
                            let text = response.text().await.unwrap_or_default();
                            part.latencies_ms
                                .push(started.elapsed().as_secs_f64() * 1000.0);
                            if status == reqwest::StatusCode::OK {
                                part.accepted += 1;
                            } else {
                                part.refuse(format!("{status}: {}", text.trim()));
                            }
                        }
                        Err(error) => part.refuse(format!("{error:#}")),
                    }
                    part.last = Some(Instant::now());
                }
                part
            }));
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
