//! `partout-loadgen errors --partout A --against B`: the errors benchmark
//! against two builds at the same time, to tell them apart.
//!
//! Why: this machine's speed drifts by a fifth and more within an hour,
//! so two runs made one after the other often differ by more than the
//! change between them. Run together, each benchmark with its own partout
//! and senders, the two builds share the cores and whatever the machine
//! is doing, and partout's CPU per event (its own threads' time over the
//! events they accepted) compares them. The absolute figures are not the
//! benchmark's: each partout has about one core.
//!
//! Each run is a child process of this binary running `errors --partout
//! X` with the same options; the two are started together, and the lines
//! that compare them are printed side by side.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context as _};

use super::Options;

/// The lines of a run's summary printed side by side.
const COMPARED: [&str; 4] = [
    "ingest end to end:",
    "CPU per accepted event:",
    "partout peak RSS",
    "disk after a graceful stop:",
];

/// Runs the benchmark against `first` and `second` at once and prints
/// the lines that compare them.
pub fn run(first: &Path, second: &Path, options: &Options) -> anyhow::Result<()> {
    println!(
        "partout errors benchmark, two builds at once: A = {}, B = {} ({} events each, {} connections each)",
        first.display(),
        second.display(),
        options.events,
        options.connections
    );
    let me = std::env::current_exe().context("cannot find this binary to run it twice")?;
    let start = |partout: &Path| {
        Command::new(&me)
            .arg("errors")
            .arg("--partout")
            .arg(partout)
            .args(["--events", &options.events.to_string()])
            .args(["--issues", &options.issues.to_string()])
            .args(["--connections", &options.connections.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start the benchmark against {}", partout.display()))
    };
    let a = start(first)?;
    let b = match start(second) {
        Ok(b) => b,
        Err(error) => {
            let mut a = a;
            // Its partout goes with it (started with PR_SET_PDEATHSIG).
            let _ = a.kill();
            let _ = a.wait();
            return Err(error);
        }
    };
    // Each is read on its own thread, so neither can stall on a full pipe
    // while the other is waited for.
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| a.wait_with_output());
        let b = b.wait_with_output();
        (a.join(), b)
    });
    let a = a.map_err(|_| anyhow::anyhow!("the thread reading run A panicked"))??;
    let b = b?;
    for (name, output) in [("A", &a), ("B", &b)] {
        if !output.status.success() {
            bail!(
                "the run against {name} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
    }
    let (a, b) = (
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&b.stdout),
    );
    for line in side_by_side(&a, &b) {
        println!("{line}");
    }
    Ok(())
}

/// The summary lines of [`COMPARED`] from each run's output, A's above
/// B's; a line a run did not print is said to be missing.
fn side_by_side(a: &str, b: &str) -> Vec<String> {
    let summary = |output: &str| -> Vec<String> {
        let after = output
            .split_once("\nsummary")
            .map_or(output, |(_, summary)| summary);
        after.lines().map(|line| line.trim().to_owned()).collect()
    };
    let (a, b) = (summary(a), summary(b));
    let mut lines = Vec::new();
    for start in COMPARED {
        for (name, run) in [("A", &a), ("B", &b)] {
            match run.iter().find(|line| line.starts_with(start)) {
                Some(line) => lines.push(format!("  {name}  {line}")),
                None => lines.push(format!("  {name}  ({start} missing)")),
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lines_are_paired_and_a_missing_one_is_said() {
        let a = "partout errors benchmark\n  ingest end to end: 1 events/s (early)\n\
                 summary (partout errors benchmark):\n  ingest end to end: 10 events/s\n  \
                 CPU per accepted event: partout 400 µs\n  partout peak RSS (VmHWM): 140 MB\n  \
                 disk after a graceful stop: 16 MB\n";
        let b = "summary (partout errors benchmark):\n  ingest end to end: 12 events/s\n  \
                 CPU per accepted event: partout 380 µs\n";
        let lines = side_by_side(a, b);
        assert_eq!(lines.len(), 2 * COMPARED.len());
        assert_eq!(lines[0], "  A  ingest end to end: 10 events/s");
        assert_eq!(lines[1], "  B  ingest end to end: 12 events/s");
        assert_eq!(lines[3], "  B  CPU per accepted event: partout 380 µs");
        assert_eq!(lines[5], "  B  (partout peak RSS missing)");
    }
}
