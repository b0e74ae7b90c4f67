//! The benchmark driver, run through `cargo xtask bench`, which builds it
//! and partout in release mode first:
//! - `partout-loadgen metrics --partout <binary> [--scale X]` and
//!   `partout-loadgen logs --partout <binary> [--lines N]` start a real
//!   partout in a temporary data dir, drive it over real sockets on
//!   127.0.0.1, and print the figures the metrics and logs issues ask for
//!   (`partout-loadgen logs --sample N` prints N lines of its data set);
//! - `partout-loadgen errors --partout <binary> [--events N] [--issues N]
//!   [--connections N]` sends Sentry envelopes and prints accepted
//!   events/s end to end, request latency, peak RSS and disk per event
//!   (`--sample N` prints N of its events; `--against <binary>` runs it
//!   against two builds at the same time and prints them side by side);
//! - `partout-loadgen storage [--series N] [--keep DIR]` measures the
//!   metrics store in process (`--keep` leaves its database in DIR).
//!
//! Every loop is bounded in count and time.
//!
//! # Layout
//! - `server.rs`: starting partout, its addresses, counters and CPU time
//! - `rng.rs`: the seeded PRNG every data set comes from
//! - `statsd.rs`, `storage.rs`: the metrics benchmarks
//! - `logs/`: the logs benchmark
//! - `errors/`: the errors (Sentry envelopes) benchmark

mod errors;
mod logs;
mod rng;
mod server;
mod statsd;
mod storage;

use std::path::PathBuf;

use anyhow::{bail, Context as _};

/// The storage benchmark runs partout's store in this process: with the
/// binary's allocator, its figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What `--help` prints, and what a wrong command line is shown.
const USAGE: &str = "\
usage: partout-loadgen <command> [options]

commands:
  metrics --partout <binary> [--scale X]
      StatsD over UDP and TCP, carbon over TCP, /render latency
  logs --partout <binary> [--lines N]
      syslog TCP and HTTP NDJSON ingest, disk, search latency
  logs --sample N
      print N lines of the logs data set
  logs-index [--lines N]
      in process: indexing CPU and disk of each part of a log line
  errors --partout <binary> [--events N] [--issues N] [--connections N]
      Sentry envelopes: events/s end to end, latency, RSS, disk
  errors --partout <binary> --against <binary> [--events N] ...
      two builds benchmarked at the same time, their figures side by side
  errors [--events N] [--issues N] --sample N
      print N of the generated events
  errors-stages [--events N] [--issues N]
      in process: the Sentry handler's CPU per event, stage by stage
  storage [--series N] [--keep DIR]
      the metrics store in process: bytes per point, timer reads

Each benchmark starts its own partout on 127.0.0.1 in a temporary data dir.
`cargo xtask bench <metrics|logs|errors|storage>` builds both in release mode first.";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        bail!("{USAGE}");
    };
    if matches!(command.as_str(), "-h" | "--help" | "help") {
        println!("{USAGE}");
        return Ok(());
    }
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    match command.as_str() {
        "metrics" => {
            let partout =
                PathBuf::from(value("--partout").context("--partout <path> is required")?);
            let scale: f64 = value("--scale")
                .map_or(Ok(1.0), |s| s.parse())
                .context("--scale takes a number")?;
            statsd::run_all(&partout, scale)
        }
        "logs" => {
            if let Some(count) = value("--sample") {
                let count = count.parse().context("--sample takes a whole number")?;
                logs::print_sample(logs::DEFAULT_LINES, count);
                return Ok(());
            }
            let partout =
                PathBuf::from(value("--partout").context("--partout <path> is required")?);
            let lines: u64 = value("--lines")
                .map_or(Ok(logs::DEFAULT_LINES), |s| s.replace('_', "").parse())
                .context("--lines takes a whole number")?;
            if lines == 0 {
                bail!("--lines must be at least 1");
            }
            logs::run(&partout, lines)
        }
        "logs-index" => {
            let lines: u64 = value("--lines")
                .map_or(Ok(1_000_000), |s| s.replace('_', "").parse())
                .context("--lines takes a whole number")?;
            if lines == 0 {
                bail!("--lines must be at least 1");
            }
            logs::index_cost::run(lines)
        }
        "errors" => {
            let mut options = errors::Options {
                events: errors::DEFAULT_EVENTS,
                issues: errors::DEFAULT_ISSUES,
                connections: errors::DEFAULT_CONNECTIONS,
            };
            if let Some(events) = value("--events") {
                options.events = errors::whole(&events, "--events")?;
            }
            if let Some(issues) = value("--issues") {
                options.issues = usize::try_from(errors::whole(&issues, "--issues")?)?;
            }
            if let Some(connections) = value("--connections") {
                options.connections =
                    usize::try_from(errors::whole(&connections, "--connections")?)?;
            }
            if options.events == 0 || options.issues == 0 || options.connections == 0 {
                bail!("--events, --issues and --connections must be at least 1");
            }
            if let Some(count) = value("--sample") {
                errors::print_sample(&options, errors::whole(&count, "--sample")?);
                return Ok(());
            }
            let partout =
                PathBuf::from(value("--partout").context("--partout <path> is required")?);
            match value("--against") {
                Some(other) => errors::pair::run(&partout, &PathBuf::from(other), &options),
                None => errors::run(&partout, &options),
            }
        }
        "errors-stages" => {
            let mut options = errors::Options {
                events: errors::STAGES_EVENTS,
                issues: errors::DEFAULT_ISSUES,
                connections: 1,
            };
            if let Some(events) = value("--events") {
                options.events = errors::whole(&events, "--events")?;
            }
            if let Some(issues) = value("--issues") {
                options.issues = usize::try_from(errors::whole(&issues, "--issues")?)?;
            }
            if options.events == 0 || options.issues == 0 {
                bail!("--events and --issues must be at least 1");
            }
            errors::stages_only(&options);
            Ok(())
        }
        "storage" => {
            let series = value("--series")
                .map_or(Ok(storage::DEFAULT_SERIES), |s| s.replace('_', "").parse())
                .context("--series takes a whole number")?;
            if series == 0 {
                bail!("--series must be at least 1");
            }
            storage::run(series, value("--keep").map(PathBuf::from))
        }
        other => bail!("unknown command {other}\n\n{USAGE}"),
    }
}
