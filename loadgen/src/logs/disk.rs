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
    match space_by_field(&logs) {
        Ok(parts) if raw_bytes > 0 => {
            let parts: Vec<String> = parts
                .iter()
                .filter(|(_, bytes)| *bytes * 1000 >= raw_bytes)
                .map(|((part, field), bytes)| {
                    format!(
                        "{part} {field} {:.1}%",
                        *bytes as f64 * 100.0 / raw_bytes as f64
                    )
                })
                .collect();
            println!(
                "  index and store by part and field, of the bytes sent (0.1% and more): {}",
                parts.join(", ")
            );
        }
        Ok(_) => {}
        Err(error) => println!("  index and store by part and field: cannot read ({error})"),
    }
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

/// Bytes of every day's index under `logs`, by part (the doc store, and
/// per field the term dictionary, postings, positions and fast column),
/// largest first: where a change to the schema would save bytes.
fn space_by_field(logs: &Path) -> tantivy::Result<Vec<((String, String), u64)>> {
    let mut totals: BTreeMap<(String, String), u64> = BTreeMap::new();
    for entry in std::fs::read_dir(logs)?.filter_map(Result::ok) {
        let dir = entry.path();
        if !dir.join("meta.json").exists() {
            continue;
        }
        let searcher = tantivy::Index::open_in_dir(&dir)?.reader()?.searcher();
        for segment in searcher.space_usage()?.segments() {
            let parts = [
                ("terms", segment.termdict()),
                ("postings", segment.postings()),
                ("positions", segment.positions()),
                ("column", segment.fast_fields()),
            ];
            for (part, fields) in parts {
                for field in fields.fields() {
                    *totals
                        .entry((part.to_owned(), field.field_name().to_owned()))
                        .or_default() += field.total().get_bytes();
                }
            }
            *totals
                .entry(("store".to_owned(), "(lines)".to_owned()))
                .or_default() += segment.store().total().get_bytes();
        }
    }
    let mut totals: Vec<_> = totals.into_iter().collect();
    totals.sort_by_key(|(_, bytes)| std::cmp::Reverse(*bytes));
    Ok(totals)
}
