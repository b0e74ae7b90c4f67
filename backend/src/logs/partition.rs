//! One UTC day of logs: a tantivy index in `logs/<YYYY-MM-DD>/`.
//!
//! Retention drops whole partitions, so expiring a day is one directory
//! removal, never a delete-and-merge. Each commit records the highest
//! journal sequence number it holds in the commit payload: replay skips
//! what a partition already has, so a crash between a commit and the
//! journal's release indexes nothing twice.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tantivy::indexer::{LogMergePolicy, NoMergePolicy};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{
    Executor, Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, Searcher,
    TantivyDocument,
};

use super::day;
use super::schema::{register_tokenizers, LogSchema};

/// The doc store compresses blocks this large: log lines repeat across
/// lines, so bigger blocks compress much better, and a result page reads
/// only a few blocks.
const DOC_STORE_BLOCK: usize = 512 * 1024;
/// zstd level 1. On the logs benchmark's lines, in 256 KB blocks
/// level 6 compressed at 122 MB/s to 15.7% of the text; level 1 in 512 KB
/// blocks compresses at 537 MB/s to 16.8%. At level 6 the doc store's
/// thread took about a seventh of partout's CPU while ingesting, for a
/// point of disk.
const DOC_STORE_ZSTD_LEVEL: i32 = 1;
/// Decompressed blocks a segment's reader keeps, per searcher: a result
/// page newest first reads a few neighbouring blocks, and tantivy's
/// default (100 blocks, 50 MB a segment) let one search over many
/// segments hold gigabytes.
const DOC_STORE_CACHED_BLOCKS: usize = 4;

/// Names the on-disk format of a partition. Format 2 keeps term
/// dictionaries as sstables (tantivy's `quickwit` feature) instead of
/// FSTs: half the bytes for log terms, most of them unique ids, and
/// quicker to build. tantivy cannot read one format as the other.
/// Format 3 adds the `line` field (lines stored as text): this release
/// reads format 2 as well, a release that knows only 2 sets 3 aside.
const FORMAT_FILE: &str = "partout-format";
const FORMAT: &str = "3";
/// Formats this release reads.
const READABLE_FORMATS: [&str; 2] = ["2", FORMAT];

/// A partition written in another format cannot be read: it is renamed
/// out of the way (`<day>.format-<n>`, never searched, never counted by
/// retention) so that day's new lines still get a partition, and the
/// operator can delete it or read it with the release that wrote it.
fn set_aside_if_unreadable(dir: &Path) -> std::io::Result<()> {
    if !dir.join("meta.json").exists() {
        return Ok(());
    }
    let format = match std::fs::read_to_string(dir.join(FORMAT_FILE)) {
        Ok(format) => format,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => "1".to_owned(),
        Err(error) => return Err(error),
    };
    let format = format.trim();
    if READABLE_FORMATS.contains(&format) {
        return Ok(());
    }
    let mut aside = dir.as_os_str().to_owned();
    aside.push(format!(".format-{format}"));
    std::fs::rename(dir, &aside)?;
    tracing::warn!(
        dir = %dir.display(),
        moved_to = %Path::new(&aside).display(),
        format,
        "a log partition from an older partout cannot be read by this one; it was set aside and is not searched"
    );
    Ok(())
}

/// Segments merged at once. A commit every second makes many small
/// segments, and every merge rewrites its segments' terms and postings:
/// merging 16 at a time instead of tantivy's 8 rewrites each line about
/// two times over a day instead of three, for some more segments to
/// search (each costs a term lookup, and they are searched in parallel).
const SEGMENTS_PER_MERGE: usize = 16;

fn merge_policy() -> LogMergePolicy {
    let mut policy = LogMergePolicy::default();
    policy.set_min_num_segments(SEGMENTS_PER_MERGE);
    policy
}

/// The threads every partition's searches run their segments on, one per
/// core: a search over a day's several segments (a full-range histogram,
/// a common term) uses every core instead of one. Shared, so more days do
/// not mean more threads.
fn search_executor() -> Executor {
    static EXECUTOR: OnceLock<Executor> = OnceLock::new();
    EXECUTOR
        .get_or_init(|| {
            let threads = std::thread::available_parallelism().map_or(1, usize::from);
            Executor::multi_thread(threads, "log-search-").unwrap_or_else(|error| {
                tracing::warn!(%error, "no search thread pool; log searches use one thread");
                Executor::single_thread()
            })
        })
        .clone()
}

/// What searches see of a partition: cheap to clone, safe to share.
#[derive(Clone)]
pub struct PartitionReader {
    pub day: i64,
    pub reader: IndexReader,
    pub index: Index,
}

impl PartitionReader {
    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    /// Time range this partition covers, Unix nanoseconds, end exclusive.
    pub fn span(&self) -> (i64, i64) {
        let start = self.day.saturating_mul(day::NANOS_PER_DAY);
        (start, start.saturating_add(day::NANOS_PER_DAY))
    }
}

/// A partition as its writer sees it.
pub struct Partition {
    pub shared: PartitionReader,
    pub dir: PathBuf,
    writer: Option<IndexWriter>,
    /// Highest sequence number committed here.
    pub committed_seq: Option<u64>,
    /// Highest sequence number added since the last commit.
    pending_seq: Option<u64>,
    /// Commit rounds since a line was last added: idle writers are closed.
    pub idle_rounds: u32,
    /// Lines are stored in their text form ([`LogSchema::stores_text`]).
    pub stores_text: bool,
}

/// Memory and threads of one partition's writer.
#[derive(Debug, Clone, Copy)]
pub struct WriterBudget {
    pub threads: usize,
    pub memory_bytes: usize,
}

impl WriterBudget {
    /// What the server gives its partitions' writer.
    pub fn serving() -> WriterBudget {
        WriterBudget {
            // One indexing thread per core (up to 4): on 2 cores, two
            // threads index about a quarter more lines per second than
            // one, which sat idle while each second's commit built its
            // segment.
            threads: std::thread::available_parallelism()
                .map_or(1, |cores| cores.get().clamp(1, 4)),
            memory_bytes: 96 * 1024 * 1024,
        }
    }
}

impl Partition {
    /// Opens the partition of `day` under `root`, creating it if needed.
    pub fn open(root: &Path, day_number: i64, schema: &LogSchema) -> tantivy::Result<Partition> {
        let dir = root.join(day::name(day_number));
        set_aside_if_unreadable(&dir)?;
        std::fs::create_dir_all(&dir)?;
        let mut index = if dir.join("meta.json").exists() {
            Index::open_in_dir(&dir)?
        } else {
            // Written before the index exists, so an index without it is
            // always one from an older format.
            std::fs::write(dir.join(FORMAT_FILE), FORMAT)?;
            Index::builder()
                .schema(schema.schema.clone())
                .settings(IndexSettings {
                    docstore_compression: Compressor::Zstd(ZstdCompressor {
                        compression_level: Some(DOC_STORE_ZSTD_LEVEL),
                    }),
                    docstore_blocksize: DOC_STORE_BLOCK,
                    ..IndexSettings::default()
                })
                .create_in_dir(&dir)?
        };
        index.set_executor(search_executor());
        register_tokenizers(&index);
        let committed_seq = index
            .load_metas()?
            .payload
            .and_then(|payload| payload.parse::<u64>().ok());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .doc_store_cache_num_blocks(DOC_STORE_CACHED_BLOCKS)
            .try_into()?;
        let stores_text = schema.stores_text(&index.schema());
        Ok(Partition {
            stores_text,
            shared: PartitionReader {
                day: day_number,
                reader,
                index,
            },
            dir,
            writer: None,
            committed_seq,
            pending_seq: None,
            idle_rounds: 0,
        })
    }

    pub fn day(&self) -> i64 {
        self.shared.day
    }

    /// Whether line `seq` is already committed here (a replay after a
    /// crash between commit and journal release).
    pub fn holds(&self, seq: u64) -> bool {
        self.committed_seq.is_some_and(|committed| seq <= committed)
    }

    pub fn add(
        &mut self,
        seq: u64,
        document: TantivyDocument,
        budget: WriterBudget,
    ) -> tantivy::Result<()> {
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => {
                let writer = self
                    .shared
                    .index
                    .writer_with_num_threads(budget.threads.max(1), budget.memory_bytes)?;
                writer.set_merge_policy(Box::new(merge_policy()));
                self.writer.insert(writer)
            }
        };
        writer.add_document(document)?;
        self.pending_seq = Some(seq);
        self.idle_rounds = 0;
        Ok(())
    }

    /// Commits what was added, if anything, and makes it searchable.
    pub fn commit(&mut self) -> tantivy::Result<bool> {
        let (Some(writer), Some(seq)) = (&mut self.writer, self.pending_seq) else {
            self.idle_rounds = self.idle_rounds.saturating_add(1);
            return Ok(false);
        };
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&seq.to_string());
        prepared.commit()?;
        self.committed_seq = Some(seq);
        self.pending_seq = None;
        self.shared.reader.reload()?;
        Ok(true)
    }

    /// Commits, then closes the writer and waits for its merges: frees its
    /// memory (an old day rarely gets more lines).
    pub fn close_writer(&mut self) -> tantivy::Result<()> {
        self.commit()?;
        if let Some(writer) = self.writer.take() {
            writer.wait_merging_threads()?;
        }
        Ok(())
    }

    /// Drops what was added since the last commit (after a failure, to be
    /// indexed again): the writer goes, the next line opens a new one.
    pub fn discard_uncommitted(&mut self) {
        if let Some(mut writer) = self.writer.take() {
            writer.set_merge_policy(Box::new(NoMergePolicy));
            if let Err(error) = writer.rollback() {
                tracing::warn!(%error, "rolling back a log partition writer failed");
            }
        }
        self.pending_seq = None;
        if let Err(error) = self.shared.reader.reload() {
            tracing::warn!(%error, "reloading a log partition reader failed");
        }
    }

    /// Whether a writer is open (and holding memory).
    pub fn has_writer(&self) -> bool {
        self.writer.is_some()
    }

    /// Closes the writer without merging: for removal.
    pub fn abandon(&mut self) {
        if let Some(mut writer) = self.writer.take() {
            writer.set_merge_policy(Box::new(NoMergePolicy));
            let _ = writer.rollback();
        }
    }

    /// Bytes the partition's files take.
    pub fn disk_bytes(&self) -> u64 {
        dir_bytes(&self.dir)
    }
}

pub fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| entry.metadata().ok())
                .filter(|meta| meta.is_file())
                .map(|meta| meta.len())
                .sum()
        })
        .unwrap_or(0)
}
