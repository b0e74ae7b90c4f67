//! The figures as they are measured, and what backs them: the summary,
//! CPU use per thread, the watchdog.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::HARD_TIMEOUT;
use crate::server::{cpu_seconds, ThreadSampler};

/// The figures so far, shared with the watchdog.
#[derive(Clone, Default)]
pub struct Report(Arc<Mutex<Vec<String>>>);

impl Report {
    pub fn figure(&self, line: String) {
        println!("{line}");
        if let Ok(mut lines) = self.0.lock() {
            lines.push(line);
        }
    }

    pub fn failed(&self, what: &str, error: &anyhow::Error) {
        self.figure(format!("{what}: FAILED: {error:#}"));
    }

    pub fn print_summary(&self) {
        println!("\nsummary (partout logs benchmark):");
        if let Ok(lines) = self.0.lock() {
            for line in lines.iter() {
                println!("  {line}");
            }
        }
    }
}

/// CPU time partout (whole and per thread name) and the load generator
/// used during an ingest phase, to show where its time went.
pub struct Cpu {
    partout: Option<f64>,
    loadgen: Option<f64>,
    threads: ThreadSampler,
}

impl Cpu {
    pub fn start(pid: u32) -> Cpu {
        Cpu {
            partout: cpu_seconds(&pid.to_string()),
            loadgen: cpu_seconds("self"),
            threads: ThreadSampler::start(pid),
        }
    }

    /// What was used since [`Cpu::start`], over `secs` of wall time, in
    /// cores.
    pub fn finish(self, pid: u32, secs: f64) -> String {
        let cores = |before: Option<f64>, after: Option<f64>| match (before, after) {
            (Some(before), Some(after)) => format!("{:.2}", (after - before) / secs),
            _ => "?".to_owned(),
        };
        let partout = cores(self.partout, cpu_seconds(&pid.to_string()));
        let loadgen = cores(self.loadgen, cpu_seconds("self"));
        let mut busiest: Vec<(String, f64)> = self.threads.finish().into_iter().collect();
        busiest.sort_by(|a, b| b.1.total_cmp(&a.1));
        let threads: Vec<String> = busiest
            .iter()
            .take(4)
            .map(|(name, used)| format!("{name} {:.2}", used / secs))
            .collect();
        format!(
            "CPU cores: partout {partout} (by thread name: {}), loadgen {loadgen}",
            threads.join(", ")
        )
    }
}

pub fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

/// Ends the process if the run outlives its limit by a minute: every
/// loop is bounded, so this only fires if a request hangs.
pub fn spawn_watchdog(report: Report, partout_pid: u32, deadline: Instant) {
    std::thread::spawn(move || {
        let until = deadline + Duration::from_secs(60);
        while Instant::now() < until {
            std::thread::sleep(Duration::from_secs(1));
        }
        report.figure(format!(
            "hard timeout: the run took longer than {} min; the figures above are all there is",
            HARD_TIMEOUT.as_secs() / 60
        ));
        report.print_summary();
        if let Ok(pid) = i32::try_from(partout_pid) {
            // SAFETY: kill(2) on our own child with a valid signal.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::process::exit(1);
    });
}
