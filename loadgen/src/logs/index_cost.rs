//! `partout-loadgen logs-index`: what indexing a line costs partout, part
//! by part, in process and without the network.
//!
//! The end-to-end benchmark shows where partout's CPU goes by thread; this
//! one shows why the indexing threads cost what they cost. It reads the
//! logs benchmark's data set into records as the server does, then indexes
//! it into a real partition (the server's schema, settings, writer budget
//! and merge policy, a commit every [`COMMIT_EVERY`] lines) once with every
//! part of the document and once without each part in turn. For each run
//! it prints the indexing CPU per line (the whole process's, less what
//! building the documents took; merges included), the lines/s that CPU
//! alone would allow on this machine's cores, and the bytes on disk after
//! merging.

use std::time::Instant;

use partout::logs::partition::{Partition, WriterBudget};
use partout::logs::raw::{RawLog, Source};
use partout::logs::record::{normalize, NormalizeConfig, TimePolicy};
use partout::logs::schema::{DocumentParts, LogSchema};
use partout_protocols::jsonlog::JsonLogLimits;

use super::generate::{Dataset, Tally, NANOS_PER_SEC};
use super::query::unix_nanos_now;
use crate::server::cpu_seconds;

/// About one second of lines at the ingest target: the server commits
/// once a second.
const COMMIT_EVERY: usize = 150_000;
/// Documents are built, untimed, this many at a time.
const BUILD_BATCH: usize = 20_000;
const DAY_NANOS: i64 = 86_400 * NANOS_PER_SEC;

/// One indexing run: its name and the parts its documents hold.
pub struct Variant {
    pub name: &'static str,
    pub parts: DocumentParts,
}

/// What one indexing run measured.
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    pub lines: usize,
    /// The process's CPU seconds less those spent building documents:
    /// adding, committing, the indexing threads and the merges.
    pub index_cpu_secs: f64,
    /// CPU seconds that thread spent normalizing lines into documents.
    pub build_cpu_secs: f64,
    pub disk_bytes: u64,
    pub raw_bytes: u64,
}

pub fn variants() -> Vec<Variant> {
    let all = DocumentParts::ALL;
    vec![
        Variant {
            name: "every part (as partout indexes)",
            parts: all,
        },
        Variant {
            name: "without field values' words",
            parts: DocumentParts {
                words: false,
                ..all
            },
        },
        Variant {
            name: "without structured fields",
            parts: DocumentParts {
                fields: false,
                ..all
            },
        },
        Variant {
            name: "without the message",
            parts: DocumentParts {
                message: false,
                ..all
            },
        },
        Variant {
            name: "time, level, service, host and the stored line only",
            parts: DocumentParts {
                message: false,
                fields: false,
                words: false,
                stored: true,
            },
        },
        Variant {
            name: "time, level, service and host only",
            parts: DocumentParts {
                message: false,
                fields: false,
                words: false,
                stored: false,
            },
        },
    ]
}

/// `lines` lines of the logs benchmark's data set, as received.
pub fn received_lines(lines: u64) -> Vec<RawLog> {
    let now = unix_nanos_now();
    let data = Dataset::new(lines, now - 300 * NANOS_PER_SEC);
    let mut out = Vec::new();
    let mut tally = Tally::default();
    (0..lines)
        .map(|index| {
            out.clear();
            data.write(index, &mut out, &mut tally);
            let line = out.strip_suffix(b"\n").unwrap_or(&out);
            let source = if line.first() == Some(&b'{') {
                Source::JsonLine
            } else {
                Source::Syslog
            };
            RawLog::new(source, now, line, 64 * 1024)
        })
        .collect()
}

/// Indexes `lines` with `parts` into a new partition under `root`, as the
/// server would, and measures it.
pub fn index(
    root: &std::path::Path,
    lines: &[RawLog],
    parts: DocumentParts,
    budget: WriterBudget,
) -> anyhow::Result<Cost> {
    let schema = LogSchema::new();
    let config = NormalizeConfig {
        json: JsonLogLimits::default(),
        time: TimePolicy {
            max_past_nanos: 30 * DAY_NANOS,
            max_future_nanos: 3600 * NANOS_PER_SEC,
        },
    };
    let mut partitions: Vec<Partition> = Vec::new();
    let process_before = cpu_seconds("self").unwrap_or(0.0);
    let mut build_cpu_secs = 0.0;
    let mut since_commit = 0;
    for (batch_number, batch) in lines.chunks(BUILD_BATCH).enumerate() {
        let build_started = thread_cpu_seconds();
        let mut documents = Vec::with_capacity(batch.len());
        for (offset, raw) in batch.iter().enumerate() {
            let record = normalize(raw, &config);
            let day = partout::logs::day::day_of(record.timestamp_nanos);
            let seq = (batch_number * BUILD_BATCH + offset) as u64;
            let stored = schema.stored_line(raw, true);
            let document = schema.document_of_parts(seq, &record, stored, parts);
            documents.push((day, seq, document));
        }
        build_cpu_secs += thread_cpu_seconds() - build_started;
        for (day, seq, document) in documents {
            let position = match partitions.iter().position(|p| p.day() == day) {
                Some(position) => position,
                None => {
                    partitions.push(Partition::open(root, day, &schema)?);
                    partitions.len() - 1
                }
            };
            partitions[position].add(seq, document, budget)?;
        }
        since_commit += batch.len();
        if since_commit >= COMMIT_EVERY {
            since_commit = 0;
            for partition in &mut partitions {
                partition.commit()?;
            }
        }
    }
    for partition in &mut partitions {
        partition.commit()?;
        // Waits for the merges, whose CPU is counted too.
        partition.close_writer()?;
    }
    let process_secs = cpu_seconds("self").unwrap_or(0.0) - process_before;
    Ok(Cost {
        lines: lines.len(),
        index_cpu_secs: (process_secs - build_cpu_secs).max(0.0),
        build_cpu_secs,
        disk_bytes: partitions.iter().map(Partition::disk_bytes).sum(),
        raw_bytes: lines.iter().map(|raw| raw.bytes.len() as u64 + 1).sum(),
    })
}

/// CPU seconds the calling thread has used.
fn thread_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) } != 0 {
        return 0.0;
    }
    let secs = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

pub fn run(lines: u64) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let budget = WriterBudget::serving();
    println!(
        "partout log indexing cost, in process: {lines} lines of the logs benchmark's data set, {} indexing threads, {} MB writer budget, a commit every {COMMIT_EVERY} lines ({cores}-core machine)",
        budget.threads,
        budget.memory_bytes >> 20
    );
    let started = Instant::now();
    let received = received_lines(lines);
    println!("  generated in {:.1} s", started.elapsed().as_secs_f64());
    let mut baseline: Option<Cost> = None;
    for variant in variants() {
        let root = tempfile::tempdir()?;
        let cost = index(root.path(), &received, variant.parts, budget)?;
        let per_line = |secs: f64| secs / cost.lines.max(1) as f64 * 1e6;
        let index_us = per_line(cost.index_cpu_secs);
        let saved = baseline
            .map(|all| {
                format!(
                    ", {:+.2} µs against every part",
                    index_us - per_line(all.index_cpu_secs)
                )
            })
            .unwrap_or_default();
        println!(
            "{}: indexing {index_us:.2} µs CPU a line{saved} (all {cores} cores on it alone: {:.0} lines/s); normalizing into documents {:.2} µs a line on one thread; {:.1}% of the raw bytes on disk after merging",
            variant.name,
            cost.lines as f64 * cores as f64 / cost.index_cpu_secs.max(1e-9),
            per_line(cost.build_cpu_secs),
            cost.disk_bytes as f64 * 100.0 / cost.raw_bytes.max(1) as f64,
        );
        baseline.get_or_insert(cost);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_indexed_and_each_part_left_out_costs_disk() {
        let received = received_lines(3000);
        let budget = WriterBudget {
            threads: 1,
            memory_bytes: 15_000_000,
        };
        let costs: Vec<(DocumentParts, Cost, u64)> = variants()
            .into_iter()
            .map(|variant| {
                let root = tempfile::tempdir().unwrap();
                let cost = index(root.path(), &received, variant.parts, budget).unwrap();
                let mut documents = 0;
                for entry in std::fs::read_dir(root.path()).unwrap() {
                    let index = tantivy::Index::open_in_dir(entry.unwrap().path()).unwrap();
                    documents += index.reader().unwrap().searcher().num_docs();
                }
                (variant.parts, cost, documents)
            })
            .collect();
        let all = costs[0].1;
        assert_eq!(costs[0].0, DocumentParts::ALL);
        for (parts, cost, documents) in &costs {
            assert_eq!(*documents, 3000, "{parts:?}");
            assert_eq!(cost.lines, 3000);
            assert!(cost.raw_bytes > 3000 * 100, "{cost:?}");
            assert!(cost.build_cpu_secs > 0.0, "{cost:?}");
            if *parts != DocumentParts::ALL {
                assert!(
                    cost.disk_bytes < all.disk_bytes,
                    "{parts:?}: {cost:?} against {all:?}"
                );
            }
        }
        let least = costs.last().unwrap().1;
        assert!(
            least.disk_bytes * 4 < all.disk_bytes,
            "{least:?} against {all:?}"
        );
    }
}
