//! Bytes on disk: what the `logs/` directory holds after a graceful stop,
//! against the bytes sent.

use std::collections::BTreeMap;
use std::path::Path;

use super::report::{verdict, Report};
use super::DISK_TARGET_RATIO;
use crate::server::Server;

/// Bytes of the files under `dir`, recursively: (apparent, allocated).
fn tree_bytes(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt as _;
    let mut total = (0, 0);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return total;
    };
    for entry in entries.filter_map(Result::ok) {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            let (apparent, allocated) = tree_bytes(&entry.path());
            total.0 += apparent;
            total.1 += allocated;
        } else {
            total.0 += meta.len();
            total.1 += meta.blocks() * 512;
        }
    }
    total
}

/// Bytes and files under `dir` per file extension (tantivy's `.store`,
/// `.idx`, `.pos`, `.term`, `.fast`...), recursively.
fn files_by_extension(dir: &Path, out: &mut BTreeMap<String, (u64, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            files_by_extension(&path, out);
            continue;
        }
        let ext = path
            .extension()
            .map_or_else(|| "(none)".to_owned(), |e| e.to_string_lossy().into_owned());
        let slot = out.entry(ext).or_insert((0, 0));
        slot.0 += 1;
        slot.1 += meta.len();
    }
}

pub fn measure(report: &Report, server: &mut Server, raw_bytes: u64, lines: u64) {
    let logs = server.data_dir.path().join("logs");
    let running = tree_bytes(&logs).0;
    if let Err(error) = server.stop() {
        report.failed("stopping partout (SIGTERM)", &error);
    }
    let (apparent, allocated) = tree_bytes(&logs);
    let journal = tree_bytes(&logs.join("journal")).0;
    let mut days: Vec<String> = std::fs::read_dir(&logs)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().is_dir() && e.file_name() != "journal")
                .map(|e| {
                    let (bytes, _) = tree_bytes(&e.path());
                    format!(
                        "{} {:.0} MB",
                        e.file_name().to_string_lossy(),
                        bytes as f64 / 1e6
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    days.sort();
    let mut kinds = BTreeMap::new();
    files_by_extension(&logs, &mut kinds);
    let kinds: Vec<String> = kinds
        .iter()
        .map(|(ext, (files, bytes))| format!(".{ext} {:.1} MB ({files})", *bytes as f64 / 1e6))
        .collect();
    println!(
        "  files under logs/ by extension (count): {}",
        kinds.join(", ")
    );
    if raw_bytes == 0 {
        report.figure("logs on disk: nothing was sent, no ratio".to_owned());
        return;
    }
    let ratio = apparent as f64 / raw_bytes as f64;
    report.figure(format!(
        "logs on disk after a graceful stop: {:.1}% of the bytes sent ({:.0} MB under logs/ for {:.0} MB of {lines} lines and the probes; allocated {:.0} MB; journal {journal} bytes; partitions: {}; {:.0} MB before the stop) [target <= 15%: {}]",
        ratio * 100.0,
        apparent as f64 / 1e6,
        raw_bytes as f64 / 1e6,
        allocated as f64 / 1e6,
        days.join(", "),
        running as f64 / 1e6,
        verdict(ratio <= DISK_TARGET_RATIO)
    ));
}
