//! `partout-loadgen logs`: the figures the logs issue asks for, against a
//! real partout over real sockets.
//!
//! 1. Ingest, end to end: the syslog share over TCP, then the JSON share
//!    over HTTP; each from its first byte until every line is searchable.
//! 2. Bytes on disk under `logs/` (after a graceful stop) over bytes sent.
//! 3. Acceptance to searchable, with single-line probes.
//! 4. Search and histogram latency over the whole data set.
//!
//! Every figure is printed as one line with its target, and again in a
//! summary at the end; a phase that fails says so and the next still runs.
//! The whole run is bounded by [`HARD_TIMEOUT`].
//!
//! # Layout
//! - `generate.rs`: the synthetic, seeded data set (`generate/syslog.rs`,
//!   `generate/app.rs`: the two shares' line formats); `civil.rs`: dates
//! - `send.rs`: the senders and the wait until searchable
//! - `query.rs`: probes and timed queries
//! - `disk.rs`: bytes under `logs/`; `report.rs`: printing, CPU, watchdog
//! - `index_cost.rs`: `logs-index`, what each part of a line's document
//!   costs to index, in process

mod civil;
mod disk;
mod generate;
pub mod index_cost;
mod query;
mod report;
mod send;

use std::path::Path;
use std::time::{Duration, Instant};

use self::generate::{
    Dataset, Tally, Transport, COMMON_TERM, NANOS_PER_SEC, PHRASE, RARE_TERM, SPAN_NANOS,
};
use self::query::{percentile, QuerySpec};
use self::report::{spawn_watchdog, verdict, Cpu, Report};
use self::send::{Searchable, Sent};
use crate::server::{Launch, Server};

/// The default data set size.
pub const DEFAULT_LINES: u64 = 10_000_000;
/// The whole run's limit; the watchdog ends the process a little after.
pub const HARD_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// An admin token: it may ingest over HTTP.
const TOKEN: &str = "partout-loadgen-bench-token";
const INGEST_TARGET_LINES_PER_SEC: f64 = 150_000.0;
pub const DISK_TARGET_RATIO: f64 = 0.15;
const VISIBLE_TARGET_MS: f64 = 2000.0;
const RARE_TARGET_MS: f64 = 50.0;
const HISTOGRAM_TARGET_MS: f64 = 200.0;
const PROBES: usize = 50;

/// Prints `count` lines of the data set, spread over it, to see what it
/// looks like.
pub fn print_sample(lines: u64, count: u64) {
    let data = Dataset::new(lines, query::unix_nanos_now());
    let mut out = Vec::new();
    let mut tally = Tally::default();
    let step = (lines / count.max(1)).max(1);
    for index in (0..lines).step_by(step as usize).take(count as usize) {
        data.write(index, &mut out, &mut tally);
    }
    print!("{}", String::from_utf8_lossy(&out));
}

pub fn run(partout: &Path, lines: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + HARD_TIMEOUT;
    let report = Report::default();
    // The data ends 5 minutes ago, so the probes (stamped on arrival)
    // never fall inside its window.
    let data = Dataset::new(lines, query::unix_nanos_now() - 300 * NANOS_PER_SEC);
    let window = (
        data.start_nanos - 60 * NANOS_PER_SEC,
        data.end_nanos + 60 * NANOS_PER_SEC,
    );
    println!(
        "partout logs benchmark: {lines} lines over the last {} h (2-core machine, release builds, 127.0.0.1)",
        SPAN_NANOS / 3600 / NANOS_PER_SEC
    );
    // Before partout starts, which would share the cores.
    parse_one_core(&report, &data);
    let mut server = Server::launch(
        partout,
        &Launch {
            syslog_tcp: true,
            bootstrap_token: Some(TOKEN.to_owned()),
            ..Launch::default()
        },
    )?;
    spawn_watchdog(report.clone(), server.pid(), deadline);

    // 1. Ingest.
    let mut generated = Tally::default();
    let mut raw_bytes = 0u64;
    let mut written = 0u64;
    let mut searchable = 0u64;
    for transport in [Transport::Syslog, Transport::Json] {
        let name = match transport {
            Transport::Syslog => "ingest, syslog TCP (RFC 5424 + 3164, 2 connections)",
            Transport::Json => "ingest, HTTP NDJSON (2000-line bodies, 2 connections)",
        };
        let cpu = Cpu::start(server.pid());
        let sent = match transport {
            Transport::Syslog => send::syslog_tcp(&server, data, deadline),
            Transport::Json => send::http_json(&server, TOKEN, data, deadline),
        };
        let sent = match sent {
            Ok(sent) => sent,
            Err(error) => {
                report.failed(name, &error);
                eprintln!("  {}", server.log_tail(5));
                searchable = send::searchable(&server, window.0, window.1).unwrap_or(searchable);
                continue;
            }
        };
        generated.add(&sent.generated);
        raw_bytes += sent.bytes;
        written += sent.lines;
        let expected = searchable + sent.lines;
        match send::wait_searchable(&server, window, written, expected, deadline) {
            Ok(Searchable::At(at)) => {
                searchable = expected;
                print_ingest(&report, name, &sent, at, cpu, server.pid());
            }
            Ok(Searchable::Stalled { seen, after }) => {
                searchable = seen;
                report.figure(format!(
                    "{name}: FAILED: {} of {expected} lines searchable {:.1} s after the last byte, no progress for 30 s ({} sent in {:.1} s)",
                    seen,
                    after.as_secs_f64(),
                    sent.lines,
                    (sent.last_byte - sent.first_byte).as_secs_f64()
                ));
            }
            Err(error) => report.failed(name, &error),
        }
    }
    data_check(&server, window);
    let complete = generated.lines == lines && searchable == lines;
    if !complete {
        report.figure(format!(
            "note: {searchable} of {lines} lines are searchable; the search figures below are over those"
        ));
    }

    // 3. Acceptance to searchable.
    match query::probes(&server, TOKEN, PROBES, deadline) {
        Ok(probes) => {
            let p50 = percentile(&probes.visible_ms, 0.5);
            let p99 = percentile(&probes.visible_ms, 0.99);
            let met = probes.lost == 0 && p99 <= VISIBLE_TARGET_MS;
            report.figure(format!(
                "acceptance (2xx) to searchable: p50 {p50:.0} ms, p99 {p99:.0} ms, max {:.0} ms ({} single-line probes, {} not found within 10 s; POST p50 {:.1} ms; idle server holding the data set) [target <= 2 s: {}]",
                probes.visible_ms.last().copied().unwrap_or(f64::NAN),
                PROBES,
                probes.lost,
                percentile(&probes.ack_ms, 0.5),
                verdict(met)
            ));
            // The probes are stored too, so they count as sent.
            raw_bytes += probes.bytes;
        }
        Err(error) => report.failed("acceptance to searchable", &error),
    }

    // 4. Search latency.
    search_latency(
        &report, &server, &data, window, &generated, complete, deadline,
    );

    // 2. Disk.
    disk::measure(&report, &mut server, raw_bytes, lines);

    let warnings = server.warnings();
    if !warnings.is_empty() {
        println!(
            "partout logged {} warnings or errors; the first ones:",
            warnings.len()
        );
        for line in warnings.iter().take(5) {
            println!("  {line}");
        }
    }
    report.print_summary();
    Ok(())
}

/// Lines of the JSON share parsed on one core, timed in this process: the
/// normalizing part of the HTTP ingest cost, apart from indexing.
fn parse_one_core(report: &Report, data: &Dataset) {
    const SAMPLE_LINES: u64 = 200_000;
    const ROUNDS: usize = 5;
    let mut out = Vec::new();
    let mut tally = Tally::default();
    let step = (data.lines / SAMPLE_LINES).max(1);
    let mut json_lines = Vec::new();
    for index in (0..data.lines)
        .step_by(step as usize)
        .take(SAMPLE_LINES as usize)
    {
        out.clear();
        data.write(index, &mut out, &mut tally);
        if out.first() == Some(&b'{') {
            json_lines.push(out.clone());
        }
    }
    let limits = partout_protocols::jsonlog::JsonLogLimits::default();
    let mut fields = 0usize;
    let started = Instant::now();
    for _ in 0..ROUNDS {
        for line in &json_lines {
            fields += partout_protocols::jsonlog::parse_line(line, &limits)
                .fields
                .len();
        }
    }
    let parsed = json_lines.len() * ROUNDS;
    let rate = parsed as f64 / started.elapsed().as_secs_f64();
    report.figure(format!(
        "JSON log parse, one core: {rate:.0} lines/s ({} lines of the JSON share x {ROUNDS} rounds, {:.1} fields a line) [no target]",
        json_lines.len(),
        fields as f64 / parsed.max(1) as f64
    ));
}

/// How partout read the lines: every one should parse, keep its own
/// time, and come out with the generator's services.
fn data_check(server: &Server, window: (i64, i64)) {
    let count = |q: &str| -> String {
        let params = [
            ("q", q.to_owned()),
            ("from", civil::rfc3339(window.0)),
            ("until", civil::rfc3339(window.1)),
        ];
        query::get_json(server, "/api/v1/logs/histogram", &params).map_or_else(
            |error| format!("{q}: failed ({error:#})"),
            |answer| format!("{q} {}", answer["total"]),
        )
    };
    let checks: Vec<String> = [
        "source:syslog",
        "flag:parse_error",
        "flag:time_replaced",
        "service:nginx",
        "service:sshd",
        "service:api",
        "level:error",
    ]
    .iter()
    .map(|q| count(q))
    .collect();
    println!("  data check (matching lines): {}", checks.join(", "));
}

fn print_ingest(
    report: &Report,
    name: &str,
    sent: &Sent,
    searchable_at: Instant,
    cpu: Cpu,
    pid: u32,
) {
    let secs = (searchable_at - sent.first_byte).as_secs_f64();
    let send_secs = (sent.last_byte - sent.first_byte).as_secs_f64();
    let rate = sent.lines as f64 / secs;
    report.figure(format!(
        "{name}: {rate:.0} lines/s, {:.1} MB/s end to end ({} lines, {:.0} MB, first byte to all searchable {secs:.1} s, sending {send_secs:.1} s) [target >= 150,000 lines/s: {}]",
        sent.bytes as f64 / secs / 1e6,
        sent.lines,
        sent.bytes as f64 / 1e6,
        verdict(rate >= INGEST_TARGET_LINES_PER_SEC)
    ));
    if !sent.answer_ms.is_empty() {
        // How long a shipper waits for its 2xx while partout is busy:
        // what its concurrency, and so its rate, follows.
        report.figure(format!(
            "HTTP NDJSON answers (POST to 2xx) while ingesting: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} requests) [no target]",
            percentile(&sent.answer_ms, 0.5),
            percentile(&sent.answer_ms, 0.99),
            percentile(&sent.answer_ms, 1.0),
            sent.answer_ms.len()
        ));
    }
    println!("  {}", cpu.finish(pid, secs));
}

fn search_latency(
    report: &Report,
    server: &Server,
    data: &Dataset,
    window: (i64, i64),
    generated: &Tally,
    complete: bool,
    deadline: Instant,
) {
    let quarter = data.quarter();
    let id = data.middle_id().unwrap_or_default();
    let specs = [
        (
            format!("rare term {RARE_TERM:?}"),
            "/api/v1/logs/search",
            RARE_TERM.to_owned(),
            window,
            generated.rare,
            Some(RARE_TARGET_MS),
        ),
        (
            format!("common term {COMMON_TERM:?}"),
            "/api/v1/logs/search",
            COMMON_TERM.to_owned(),
            window,
            generated.common,
            None,
        ),
        (
            format!("an id alone ({id}, a request or job id)"),
            "/api/v1/logs/search",
            id.clone(),
            window,
            1,
            None,
        ),
        (
            format!("phrase \"{PHRASE}\""),
            "/api/v1/logs/search",
            format!("\"{PHRASE}\""),
            window,
            generated.phrase,
            None,
        ),
        (
            "field filter service:api AND level:error, a quarter of the span".to_owned(),
            "/api/v1/logs/search",
            "service:api AND level:error".to_owned(),
            quarter,
            generated.api_errors_in_quarter,
            None,
        ),
        (
            "histogram, whole span, no query".to_owned(),
            "/api/v1/logs/histogram",
            String::new(),
            window,
            generated.lines,
            Some(HISTOGRAM_TARGET_MS),
        ),
    ];
    for (label, path, q, (from_nanos, until_nanos), expected, target) in specs {
        let spec = QuerySpec {
            label,
            path,
            q,
            from_nanos,
            until_nanos,
        };
        match query::time_query(server, &spec, deadline) {
            Ok(timings) => {
                let wall = (
                    percentile(&timings.wall_ms, 0.5),
                    percentile(&timings.wall_ms, 0.99),
                );
                let took = (
                    percentile(&timings.server_ms, 0.5),
                    percentile(&timings.server_ms, 0.99),
                );
                let counted = if timings.matches == expected {
                    format!("{} matches as generated", timings.matches)
                } else if complete {
                    format!(
                        "{} matches, but {expected} were generated: MISMATCH",
                        timings.matches
                    )
                } else {
                    format!("{} matches ({expected} generated)", timings.matches)
                };
                let page = if path.ends_with("search") {
                    format!(", {} lines returned per page", timings.returned)
                } else {
                    String::new()
                };
                let target = match target {
                    Some(ms) => format!(" [target < {ms:.0} ms: {}]", verdict(wall.1 < ms)),
                    None => " [no target]".to_owned(),
                };
                report.figure(format!(
                    "{} over {} lines: p50 {:.1} ms, p99 {:.1} ms (server took_ms p50 {:.1}, p99 {:.1}; {} requests; {counted}{page}){target}",
                    spec.label,
                    generated.lines,
                    wall.0,
                    wall.1,
                    took.0,
                    took.1,
                    timings.wall_ms.len(),
                ));
            }
            Err(error) => report.failed(&spec.label, &error),
        }
    }
}
