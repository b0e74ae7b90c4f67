//! `partout-loadgen errors`: the figures the errors issue asks for,
//! against a real partout over real HTTP.
//!
//! 1. Start partout with a bootstrap token and a config file that lifts
//!    the per-project event limit (`errors.events_per_minute = 0`), and
//!    read the default project's DSN key from `GET /api/v1/projects`.
//! 2. Make every envelope first (gzip included), so the clock measures
//!    partout and HTTP, not the generator. Then time the handler's
//!    stages in this process on one core (`stages.rs`), while partout
//!    idles.
//! 3. Send them over [`DEFAULT_CONNECTIONS`] keep-alive connections; each
//!    200 means the event is committed (partout answers only after its
//!    writer's commit). Ingest runs from the first POST until the issue
//!    list shows every event counted, in as many issues as were generated.
//! 4. Peak RSS (`VmHWM`) before the stop, and bytes on disk in the data
//!    dir after a graceful stop, per event.
//!
//! The whole run is bounded by [`HARD_TIMEOUT`]; every loop has a limit.
//!
//! # Layout
//! - `templates.rs`: the bugs (exception chains and stacks)
//! - `generate.rs`: events and envelopes from them
//! - `send.rs`: the senders; `check.rs`: the API reads, RSS and disk
//! - `stages.rs`: the handler's stages timed in process, on one core
//! - `pair.rs`: two builds benchmarked at the same time (`--against`)

mod check;
mod generate;
pub mod pair;
mod send;
mod stages;
mod templates;
mod writer;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use self::generate::Dataset;
use self::send::{percentile, Target};
use crate::server::{cpu_seconds, Launch, Server, ThreadSampler};

/// Events sent by default.
pub const DEFAULT_EVENTS: u64 = 100_000;
/// Concurrent connections by default. 10,000 events a second come from
/// hundreds of SDK processes, each sending on its own connection, one
/// event at a time; with few connections the rate measures how long one
/// request waits for its commit and `fdatasync`, not what partout can
/// take (8 connections: about 4,000 events/s with a quarter to a third
/// of a core idle).
pub const DEFAULT_CONNECTIONS: usize = 64;
pub use self::generate::DEFAULT_ISSUES;
/// The whole run's limit.
const HARD_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// An admin token for the `/api/v1` reads.
const TOKEN: &str = "partout-loadgen-errors-bench-token";
const TARGET_EVENTS_PER_SEC: f64 = 10_000.0;
/// partout's default `errors.events_per_issue`: events kept per issue.
const EVENTS_PER_ISSUE: u64 = 100;

/// What a run sends.
pub struct Options {
    pub events: u64,
    pub issues: usize,
    pub connections: usize,
}

/// Prints `count` envelopes of the data set, decompressed.
pub fn print_sample(options: &Options, count: u64) {
    let data = Dataset::new(options.events, options.issues, now_ms());
    let step = (options.events / count.max(1)).max(1);
    for index in (0..options.events)
        .step_by(step as usize)
        .take(count as usize)
    {
        let (_, event, header) = data.event(index, "0123456789abcdef0123456789abcdef");
        println!("{header}\n{{\"type\":\"event\"}}\n{event}");
    }
}

/// Events `errors-stages` makes by default: the stages' whole sample.
pub const STAGES_EVENTS: u64 = stages::SAMPLE as u64;

/// Times the handler's stages alone, in this process, on envelopes made
/// for a key no server checks: quick figures while working on a stage.
pub fn stages_only(options: &Options) {
    let data = Dataset::new(options.events, options.issues, now_ms());
    let bodies: Vec<Vec<u8>> = generate_all(&data, "0123456789abcdef0123456789abcdef")
        .into_iter()
        .map(|envelope| envelope.body)
        .collect();
    println!("{}", stages::one_core(&bodies));
    println!("{}", writer::one_thread(&bodies));
}

pub fn run(partout: &Path, options: &Options) -> anyhow::Result<()> {
    let deadline = Instant::now() + HARD_TIMEOUT;
    println!(
        "partout errors benchmark: {} events over {} issue templates, {} connections (2-core machine, release builds, 127.0.0.1)",
        options.events, options.issues, options.connections
    );
    let config_dir = tempfile::tempdir()?;
    let config = config_dir.path().join("bench.toml");
    // Lift the per-project limit: the benchmark sends one project's events
    // far faster than the default allows.
    std::fs::write(&config, "[errors]\nevents_per_minute = 0\n")?;
    let mut server = Server::launch(
        partout,
        &Launch {
            bootstrap_token: Some(TOKEN.to_owned()),
            config: Some(config),
            ..Launch::default()
        },
    )?;
    let (project_id, public_key) = check::default_key(&server, TOKEN)?;
    let url = server.url(&format!("/api/{project_id}/envelope/"))?;

    let generating = Instant::now();
    let data = Dataset::new(options.events, options.issues, now_ms());
    let envelopes = generate_all(&data, &public_key);
    let mut per_template: BTreeMap<usize, u64> = BTreeMap::new();
    let (mut gz_bytes, mut raw_bytes) = (0u64, 0u64);
    let bodies: Vec<Vec<u8>> = envelopes
        .into_iter()
        .map(|envelope| {
            *per_template.entry(envelope.template).or_default() += 1;
            gz_bytes += envelope.body.len() as u64;
            raw_bytes += envelope.raw_bytes as u64;
            envelope.body
        })
        .collect();
    let groups = per_template.len() as u64;
    let kept: u64 = per_template
        .values()
        .map(|&count| count.min(EVENTS_PER_ISSUE))
        .sum();
    let top: Vec<u64> = {
        let mut counts: Vec<u64> = per_template.values().copied().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        counts.into_iter().take(3).collect()
    };
    println!(
        "  generated in {:.1} s: {} envelopes, {groups} distinct issues (top three {top:?} events), average {:.0} bytes as sent (gzip), {:.0} bytes decompressed",
        generating.elapsed().as_secs_f64(),
        bodies.len(),
        gz_bytes as f64 / bodies.len().max(1) as f64,
        raw_bytes as f64 / bodies.len().max(1) as f64,
    );

    // Timed while partout sits idle: the line shares no core with it.
    let stages = stages::one_core(&bodies);
    println!("  {stages}");

    let pid = server.pid();
    let cpu_before = (cpu_seconds(&pid.to_string()), cpu_seconds("self"));
    let threads = ThreadSampler::start(pid);
    let target = Target {
        url,
        public_key,
        connections: options.connections,
        deadline,
    };
    let sent = send::send_all(Arc::new(bodies), &target)?;
    let verified = check::wait_counted(&server, TOKEN, project_id, sent.accepted, groups, deadline);
    let done = Instant::now();
    let secs = match &verified {
        Ok(at) => (*at - sent.first_post).as_secs_f64(),
        Err(_) => (done - sent.first_post).as_secs_f64(),
    };
    let cpu = cpu_lines(pid, cpu_before, threads, secs, sent.accepted);
    let rss = check::peak_rss_bytes(pid);

    let mut summary = vec![stages];
    let rate = sent.accepted as f64 / secs;
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    summary.push(format!(
        "ingest end to end: {rate:.0} events/s ({} accepted in {secs:.2} s, first POST to all counted; sending {:.2} s) [target >= 10,000 events/s: {}]",
        sent.accepted,
        (sent.last_answer - sent.first_post).as_secs_f64(),
        verdict(rate >= TARGET_EVENTS_PER_SEC && verified.is_ok() && sent.refused == 0)
    ));
    if sent.refused > 0 {
        summary.push(format!(
            "refused or failed requests: {} (first: {})",
            sent.refused,
            sent.reasons.join(" | ")
        ));
    }
    match &verified {
        Ok(_) => summary.push(format!(
            "grouping check: {groups} issues, their counts sum to {} accepted events: ok",
            sent.accepted
        )),
        Err(error) => summary.push(format!("grouping check: FAILED: {error:#}")),
    }
    let lat = &sent.latencies_ms;
    summary.push(format!(
        "request latency (POST to 200): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(lat, 0.5),
        percentile(lat, 0.9),
        percentile(lat, 0.99),
        percentile(lat, 1.0)
    ));
    summary.extend(cpu);
    summary.push(writer_batching(&server, sent.accepted));
    summary.push(match rss {
        Some(bytes) => format!("partout peak RSS (VmHWM): {:.0} MB", bytes as f64 / 1e6),
        None => "partout peak RSS: unknown (no /proc)".to_owned(),
    });
    match server.stop() {
        Ok(()) => {
            let disk = check::tree_bytes(server.data_dir.path());
            let accepted = sent.accepted.max(1) as f64;
            summary.push(format!(
                "disk after a graceful stop: {:.1} MB in the data dir: {:.0} bytes per accepted event; {:.0} bytes per stored event ({kept} stored: the newest {EVENTS_PER_ISSUE} per issue are kept); sent {:.0} bytes per event gzipped",
                disk as f64 / 1e6,
                disk as f64 / accepted,
                disk as f64 / kept.max(1) as f64,
                gz_bytes as f64 / accepted,
            ));
        }
        Err(error) => summary.push(format!("stopping partout: FAILED: {error:#}")),
    }
    let warnings = server.warnings();
    if !warnings.is_empty() {
        summary.push(format!(
            "partout logged {} warnings or errors, first: {}",
            warnings.len(),
            warnings.first().map_or("", String::as_str)
        ));
    }
    println!("\nsummary (partout errors benchmark):");
    for line in &summary {
        println!("  {line}");
    }
    if verified.is_err() || sent.refused > 0 {
        bail!("the errors benchmark did not ingest every event");
    }
    Ok(())
}

/// Every envelope, made on two threads.
fn generate_all(data: &Dataset, public_key: &str) -> Vec<generate::Envelope> {
    let half = data.events / 2;
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| {
            (0..half)
                .map(|index| data.envelope(index, public_key))
                .collect::<Vec<_>>()
        });
        let second: Vec<_> = (half..data.events)
            .map(|index| data.envelope(index, public_key))
            .collect();
        (first.join().unwrap_or_default(), second)
    });
    let mut all = first;
    all.extend(second);
    all
}

/// CPU cores partout (whole and its busiest threads) and the load
/// generator used over `secs`, then the same as CPU time per accepted
/// event: the figure the target bounds, whatever the machine's speed.
fn cpu_lines(
    pid: u32,
    before: (Option<f64>, Option<f64>),
    threads: ThreadSampler,
    secs: f64,
    accepted: u64,
) -> [String; 2] {
    let used = |before: Option<f64>, after: Option<f64>| match (before, after) {
        (Some(before), Some(after)) => Some(after - before),
        _ => None,
    };
    let partout = used(before.0, cpu_seconds(&pid.to_string()));
    let loadgen = used(before.1, cpu_seconds("self"));
    let mut busiest: Vec<(String, f64)> = threads.finish().into_iter().collect();
    busiest.sort_by(|a, b| b.1.total_cmp(&a.1));
    let cores =
        |seconds: Option<f64>| seconds.map_or("?".to_owned(), |s| format!("{:.2}", s / secs));
    let top: Vec<String> = busiest
        .iter()
        .take(4)
        .map(|(name, used)| format!("{name} {:.2}", used / secs))
        .collect();
    let per_event = |seconds: Option<f64>| {
        seconds.map_or("?".to_owned(), |s| {
            format!("{:.0}", s * 1e6 / accepted.max(1) as f64)
        })
    };
    let top_per_event: Vec<String> = busiest
        .iter()
        .take(3)
        .map(|(name, used)| format!("{name} {}", per_event(Some(*used))))
        .collect();
    // Two cores give 2,000,000 µs of CPU a second; at the target rate
    // that is this much per event for partout and the sender together.
    let budget = 2e6 / TARGET_EVENTS_PER_SEC;
    [
        format!(
            "CPU cores while ingesting: partout {} (by thread name: {}), loadgen {}",
            cores(partout),
            top.join(", "),
            cores(loadgen)
        ),
        format!(
            "CPU per accepted event: partout {} µs (by thread name: {}), loadgen {} µs [10,000 events/s on 2 cores leaves {budget:.0} µs for both]",
            per_event(partout),
            top_per_event.join(", "),
            per_event(loadgen)
        ),
    ]
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Parses `--events`-style whole numbers, `_` allowed.
pub fn whole(text: &str, flag: &str) -> anyhow::Result<u64> {
    text.replace('_', "")
        .parse()
        .with_context(|| format!("{flag} takes a whole number"))
}

/// How the store's writer grouped the events: events per transaction
/// decide how many of an issue's rows and index pages one commit shares,
/// commits per flush how many waited for one `fdatasync`.
fn writer_batching(server: &Server, accepted: u64) -> String {
    let read = |name: &str| server.metric(name).ok().filter(|value| *value > 0.0);
    match (
        read("partout_store_commits_total"),
        read("partout_store_wal_flushes_total"),
    ) {
        (Some(commits), Some(flushes)) => {
            let jobs = match (
                read("partout_error_event_jobs_total"),
                read("partout_error_event_job_requests_total"),
            ) {
                (Some(jobs), Some(requests)) => {
                    format!(
                        ", {jobs:.0} event jobs ({:.1} requests each)",
                        requests / jobs
                    )
                }
                _ => String::new(),
            };
            // How long the disk takes to flush: while it does, the
            // writer may run one more batch and then waits.
            let flush_ms = read("partout_store_wal_flush_seconds_total")
                .map(|seconds| format!(", {:.2} ms each", seconds * 1000.0 / flushes))
                .unwrap_or_default();
            format!(
                "store writer: {commits:.0} commits ({:.1} events each), {flushes:.0} WAL flushes ({:.1} commits each{flush_ms}){jobs} [no target]",
                accepted as f64 / commits,
                commits / flushes
            )
        }
        _ => "store writer: commits and flushes not in /metrics".to_owned(),
    }
}
