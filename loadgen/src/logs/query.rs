//! Reading back: how soon an accepted line is searchable, and how fast
//! searches and histograms answer over the whole data set.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use super::civil::rfc3339;
use super::generate::NANOS_PER_SEC;
use crate::rng::Rng;
use crate::server::Server;

/// Searches run before timing each query (caches, first segment loads).
const WARM_UP: usize = 3;
/// Timed searches per query.
pub const REPETITIONS: usize = 30;
/// Most time one query's repetitions may take.
const QUERY_BUDGET: Duration = Duration::from_secs(90);
/// Longest a probe may take to show up before it counts as lost.
const PROBE_LIMIT: Duration = Duration::from_secs(10);

/// The value at quantile `q` of sorted samples (nearest rank).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub fn unix_nanos_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// `GET path?params` as JSON; fails on a non-2xx answer, with its body.
pub fn get_json(
    server: &Server,
    path: &str,
    params: &[(&str, String)],
) -> anyhow::Result<serde_json::Value> {
    let url = reqwest::Url::parse_with_params(&server.url(path)?, params)?;
    let response = server.http.get(url).send()?;
    let status = response.status();
    let text = response.text()?;
    if !status.is_success() {
        bail!("GET {path} answered {status}: {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("GET {path} answered {text:?}"))
}

/// Acceptance to searchable: each probe is one JSON line with a word of
/// its own, sent alone; the clock starts when the 2xx comes back and stops
/// when a search for the word finds it (polled every 10 ms).
pub struct Probes {
    /// Milliseconds from the 2xx to found, for the probes found.
    pub visible_ms: Vec<f64>,
    /// Milliseconds the POST took (the line is durable when it answers).
    pub ack_ms: Vec<f64>,
    /// Probes not found within [`PROBE_LIMIT`].
    pub lost: usize,
    /// Bytes of the probe lines sent.
    pub bytes: u64,
}

pub fn probes(
    server: &Server,
    token: &str,
    count: usize,
    deadline: Instant,
) -> anyhow::Result<Probes> {
    let url = server.url("/api/v1/logs")?;
    let mut rng = Rng::for_item(0x9E0B, 0);
    let mut out = Probes {
        visible_ms: Vec::new(),
        ack_ms: Vec::new(),
        lost: 0,
        bytes: 0,
    };
    for probe in 0..count {
        if Instant::now() > deadline {
            bail!("the overall time limit ran out after {probe} probes");
        }
        // Arrive at random moments of partout's commit cycle, as real
        // lines do: a probe sent right after the last one was found would
        // always arrive just after a commit.
        std::thread::sleep(Duration::from_millis(rng.below(2000)));
        let word = format!("probe{probe}q{:012x}", rng.next() >> 16);
        let body = format!(
            "{{\"event\":\"latency probe {word}\",\"level\":\"info\",\"service\":\"loadgen\"}}\n"
        );
        out.bytes += body.len() as u64;
        let sent = Instant::now();
        let response = server
            .http
            .post(&url)
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/x-ndjson")
            .body(body)
            .send()?;
        let acked = Instant::now();
        if !response.status().is_success() {
            bail!(
                "probe POST answered {}: {}",
                response.status(),
                response.text().unwrap_or_default()
            );
        }
        out.ack_ms.push((acked - sent).as_secs_f64() * 1000.0);
        let now = unix_nanos_now();
        let params = [
            ("q", word),
            ("from", rfc3339(now - 600 * NANOS_PER_SEC)),
            ("until", rfc3339(now + 600 * NANOS_PER_SEC)),
            ("limit", "1".to_owned()),
        ];
        loop {
            let answer = get_json(server, "/api/v1/logs/search", &params)?;
            if answer["lines"].as_array().is_some_and(|l| !l.is_empty()) {
                out.visible_ms.push(acked.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            if acked.elapsed() > PROBE_LIMIT {
                out.lost += 1;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    out.visible_ms.sort_by(f64::total_cmp);
    out.ack_ms.sort_by(f64::total_cmp);
    Ok(out)
}

/// One query to time.
pub struct QuerySpec {
    pub label: String,
    /// `/api/v1/logs/search` or `/api/v1/logs/histogram`.
    pub path: &'static str,
    pub q: String,
    pub from_nanos: i64,
    pub until_nanos: i64,
}

/// A query's timings, sorted, in milliseconds.
pub struct Timings {
    /// Request sent to body read, on the client.
    pub wall_ms: Vec<f64>,
    /// The server's own `took_ms`.
    pub server_ms: Vec<f64>,
    /// Matching lines, per the histogram of the same query.
    pub matches: u64,
    /// Lines the search returned (its page; at most the default limit).
    pub returned: usize,
}

pub fn time_query(server: &Server, spec: &QuerySpec, deadline: Instant) -> anyhow::Result<Timings> {
    let params = [
        ("q", spec.q.clone()),
        ("from", rfc3339(spec.from_nanos)),
        ("until", rfc3339(spec.until_nanos)),
    ];
    let counted = get_json(server, "/api/v1/logs/histogram", &params)?;
    let matches = counted["total"]
        .as_u64()
        .context("histogram without total")?;
    let mut timings = Timings {
        wall_ms: Vec::new(),
        server_ms: Vec::new(),
        matches,
        returned: 0,
    };
    let budget = Instant::now() + QUERY_BUDGET;
    for round in 0..WARM_UP + REPETITIONS {
        if Instant::now() > deadline.min(budget) {
            break;
        }
        let started = Instant::now();
        let answer = get_json(server, spec.path, &params)?;
        let wall = started.elapsed().as_secs_f64() * 1000.0;
        if round < WARM_UP {
            continue;
        }
        timings.wall_ms.push(wall);
        if let Some(took) = answer["took_ms"].as_f64() {
            timings.server_ms.push(took);
        }
        timings.returned = answer["lines"].as_array().map_or(0, Vec::len);
    }
    if timings.wall_ms.is_empty() {
        bail!("no timed request fit in the time limit");
    }
    timings.wall_ms.sort_by(f64::total_cmp);
    timings.server_ms.sort_by(f64::total_cmp);
    Ok(timings)
}
