//! `cargo xtask bench [metrics|storage|logs|errors] [options]`: builds partout and
//! the load generator in release mode and runs the benchmarks, which print
//! their figures: `metrics` (StatsD parse and UDP, carbon TCP, `/render`),
//! `storage` (bytes per point on a realistic day, several minutes) and
//! `logs` (syslog TCP and HTTP ingest end to end, disk per byte sent,
//! acceptance to searchable, search latency over 10,000,000 lines: about
//! ten minutes) and `errors` (Sentry envelopes end to end: accepted
//! events/s, request latency, peak RSS, disk per event; about a minute).
//! Without a name, all four in that order. Options after a name go to the
//! load generator (`bench logs --lines 200000`, `bench errors --events
//! 50000 --connections 4`).

use crate::dist::cargo;
use crate::{exec, paths};

const ALL: [&str; 4] = ["metrics", "storage", "logs", "errors"];

pub fn cmd(args: &[String]) -> anyhow::Result<()> {
    let (which, options): (Vec<&str>, &[String]) = match args.split_first() {
        None => (ALL.to_vec(), &[]),
        Some((one, rest)) if ALL.contains(&one.as_str()) => (vec![one.as_str()], rest),
        Some((other, _)) => {
            anyhow::bail!("unknown benchmark {other}: use metrics, storage, logs or errors")
        }
    };
    let root = paths::workspace_root();
    exec::run(
        cargo()
            .args([
                "build",
                "--release",
                "--package",
                "partout",
                "--package",
                "partout-loadgen",
            ])
            .current_dir(&root),
    )?;
    let release = paths::target_dir()?.join("release");
    for bench in which {
        exec::run(
            std::process::Command::new(release.join("partout-loadgen"))
                .arg(bench)
                .arg("--partout")
                .arg(release.join("partout"))
                .args(options)
                .current_dir(&root),
        )?;
    }
    Ok(())
}
