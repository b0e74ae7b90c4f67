//! The embedded SQLite database: the only door to persisted data.
//!
//! [`Store`] is a cheap-to-clone handle. Writes go through one writer thread
//! that owns the read-write connection ([`writer`]), so concurrent ingest never
//! sees "database is locked"; reads use a small pool of read-only connections
//! that WAL mode lets run beside the writer. Nothing here holds a connection
//! across an `.await`: every SQLite call runs on the writer thread or in
//! `spawn_blocking`.

pub mod deploys;
pub mod metrics;
mod migrations;
pub mod tokens;
pub mod users;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};

pub use migrations::SCHEMA_VERSION;
pub use writer::WriterCounters;
use writer::{Flush, WriterHandle};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "partout.sqlite";
/// Read-only connections kept open for reuse; more are opened on demand.
const MAX_IDLE_READERS: usize = 4;
/// Page cache of the writer connection, KiB.
const WRITER_CACHE_KIB: i64 = 32 * 1024;
/// Page cache of each reader connection, KiB.
const READER_CACHE_KIB: i64 = 8 * 1024;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "database {path} has schema version {found}, newer than this partout supports ({supported}): upgrade partout"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("database migration to version {version} failed: {source}")]
    Migration {
        version: u32,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the store is closed")]
    Closed,
    #[error("the database task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// Whether the write failed because the disk is full or read-only:
    /// the caller should say so (507), not report an internal error.
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(failure, _)) => matches!(
                failure.code,
                rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::ReadOnly
            ),
            // The writer thread reports commit failures as text.
            StoreError::Task(message) => {
                message.contains("database or disk is full")
                    || message.contains("readonly database")
                    || message.contains("No space left on device")
            }
            _ => false,
        }
    }
}

/// Whether an I/O error means the disk is full (or over quota) or the
/// file system read-only: conditions that pass once an operator acts.
pub fn is_disk_full(error: &std::io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(code) if code == libc::ENOSPC || code == libc::EDQUOT || code == libc::EROFS
    )
}

/// Handle to the database. Clones share one writer thread and reader pool.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: WriterHandle,
    idle_readers: Mutex<Vec<Connection>>,
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir`, runs pending
    /// migrations and starts the writer thread. Blocking: call it from
    /// `spawn_blocking` or before the runtime starts serving.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        Store::open_counted(data_dir, WriterCounters::default())
    }

    /// [`Store::open`], with the writer counting into `counters` (which
    /// `/metrics` shows).
    pub fn open_counted(data_dir: &Path, counters: WriterCounters) -> Result<Store, StoreError> {
        let path = data_dir.join(DB_FILE);
        let mut conn = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        let mut flush =
            configure_writer_connection(&conn, &path).map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        migrations::migrate(&mut conn, &path)?;
        flush()
            .map_err(|err| StoreError::Task(format!("cannot sync {}: {err}", path.display())))?;
        let writer = writer::spawn(conn, flush, counters, writer::COMMIT_INTERVAL)?;
        Ok(Store {
            inner: Arc::new(Inner {
                path,
                writer,
                idle_readers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Runs `job` in the writer's next transaction and returns its result
    /// once that transaction is committed (durable). A job that fails is
    /// rolled back alone; the other jobs of the batch still commit.
    pub async fn write<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.inner.writer.submit(job).await
    }

    /// Runs `query` on a read-only connection in the blocking pool.
    pub async fn read<T, F>(&self, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_blocking(query))
            .await
            .map_err(|err| StoreError::Task(err.to_string()))?
    }

    /// Runs `query` on a read-only connection on this thread, for callers
    /// already on a blocking thread.
    pub fn read_blocking<T>(
        &self,
        query: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.inner.take_reader()?;
        let result = query(&conn);
        self.inner.return_reader(conn);
        result
    }

    /// Path of the main database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Sizes of the database file and its write-ahead log, in bytes.
    pub fn file_sizes(&self) -> (u64, u64) {
        let size = |path: &Path| std::fs::metadata(path).map_or(0, |meta| meta.len());
        (size(&self.inner.path), size(&wal_path(&self.inner.path)))
    }

    /// Jobs waiting for the writer thread.
    pub fn write_queue_depth(&self) -> usize {
        self.inner.writer.queue_depth()
    }

    /// Commits everything queued so far, checkpoints the WAL into the main
    /// file and stops the writer thread. Writes submitted afterwards fail
    /// with [`StoreError::Closed`].
    pub async fn close(&self) -> Result<(), StoreError> {
        if let Ok(mut idle) = self.inner.idle_readers.lock() {
            idle.clear();
        }
        self.inner.writer.close().await
    }
}

impl Inner {
    fn take_reader(&self) -> Result<Connection, StoreError> {
        if let Some(conn) = self
            .idle_readers
            .lock()
            .ok()
            .and_then(|mut idle| idle.pop())
        {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        configure_cache(&conn, READER_CACHE_KIB)?;
        keep_plans_across_bindings(&conn)?;
        Ok(conn)
    }

    fn return_reader(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle_readers.lock() {
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
    }
}

/// The write-ahead log beside a database file.
fn wal_path(db: &Path) -> PathBuf {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

/// The WAL file the syncer flushes, opened once.
struct WalFile {
    path: PathBuf,
    file: std::fs::File,
}

impl WalFile {
    fn open(path: PathBuf) -> std::io::Result<WalFile> {
        let file = std::fs::File::open(&path)?;
        Ok(WalFile { path, file })
    }

    /// `fdatasync`s the WAL. SQLite keeps the file while a connection is
    /// open and nothing here changes the journal mode, but should the file
    /// ever be another one (removed and made again from outside), flushing
    /// the old one would be a silent no-op: a stat per flush rules it out.
    fn flush(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let current = std::fs::metadata(&self.path)?;
        let open = self.file.metadata()?;
        if (current.dev(), current.ino()) != (open.dev(), open.ino()) {
            tracing::warn!(path = %self.path.display(), "the write-ahead log was replaced: reopened");
            self.file = std::fs::File::open(&self.path)?;
        }
        self.file.sync_data()
    }
}

/// Sets up the writer's connection and returns how its commits are made
/// durable. WAL lets readers run beside the single writer. A job is
/// answered only once its commit is on disk: in WAL mode the writer's
/// syncer flushes the WAL file after each commit (`synchronous=NORMAL`
/// then only skips SQLite's own flush, which would stall the writer); where
/// WAL mode or its file is not available, SQLite flushes at every commit
/// (`synchronous=FULL`).
fn configure_writer_connection(conn: &Connection, path: &Path) -> rusqlite::Result<Flush> {
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    // Opening the WAL for a read makes SQLite create its file.
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))?;
    let wal = if mode.eq_ignore_ascii_case("wal") {
        WalFile::open(wal_path(path))
            .inspect_err(|err| {
                tracing::warn!(error = %err, "cannot open the write-ahead log: SQLite syncs each commit itself");
            })
            .ok()
    } else {
        tracing::warn!(%mode, "the database is not in WAL mode: SQLite syncs each commit itself");
        None
    };
    let flush: Flush = match wal {
        Some(mut wal) => {
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            Box::new(move || wal.flush())
        }
        None => {
            conn.pragma_update(None, "synchronous", "FULL")?;
            Box::new(|| Ok(()))
        }
    };
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Every job runs in its own savepoint, so SQLite first copies each
    // page a job changes (that an earlier job of the batch changed too)
    // into a statement journal, to roll that job back alone. Past 64 KiB
    // that journal spills to a temporary file, and one error event
    // changes about fifteen pages: under error ingest half the writer's
    // write calls went there, each page written twice (journal, then
    // WAL). Held in memory, it is dropped as each job's savepoint is
    // released, so it holds at most one job's pages. The largest jobs are
    // metrics flushes: the in-process storage benchmark (2,000 series, a
    // day) peaked at 445 MB with it against 427 MB without.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Checkpoints run on the writer and wait for the disk twice; at
    // SQLite's default of 1,000 pages a busy error ingest ran forty a
    // second. 10,000 pages (40 MB of WAL) makes them rare, and a page
    // rewritten many times between two checkpoints is copied once.
    conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
    configure_cache(conn, WRITER_CACHE_KIB)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    keep_plans_across_bindings(conn)?;
    Ok(flush)
}

/// A cached statement is otherwise compiled again whenever a bound integer
/// moves in or out of 0 and 1 (the planner's guess at how selective
/// `x = 1` is): that is every use, since the cache clears the bindings
/// between uses, and a render that reads a hundred series' chunks spent a
/// tenth of its time in the SQL compiler. A plan that does not depend on
/// the bound values (the query planner stability guarantee) costs nothing
/// here: there are no `sqlite_stat4` samples, and no `LIKE ?` on an index.
fn keep_plans_across_bindings(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// SQLite's default page cache is 2 MiB, far less than the hot part of a
/// metrics B-tree; a larger cache and memory-mapped reads keep inserts and
/// range scans from going back to the file for every page. Readers get
/// less: they also read through the memory map, and there are several.
fn configure_cache(conn: &Connection, kib: i64) -> rusqlite::Result<()> {
    conn.pragma_update(None, "cache_size", -kib)?;
    conn.pragma_update(None, "mmap_size", 1_i64 << 30)?;
    Ok(())
}

/// Milliseconds since the Unix epoch, the unit every stored time uses.
pub fn unix_ms_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cached statement bound with ids that cross 0 and 1 and back, as
    /// a render's reads of series 1, 2, 3... do, is compiled once, on the
    /// readers and on the writer.
    #[tokio::test]
    async fn cached_statements_are_not_compiled_again_for_new_bindings() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        const SQL: &str = "SELECT start, blob FROM metric_chunks
                           WHERE series_id = ?1 AND level = ?2 AND start > ?3 AND start < ?4
                           ORDER BY start";
        let run = |conn: &Connection| -> Result<i32, StoreError> {
            for id in [0_i64, 1, 2, 1, 3, 0, 7] {
                let mut statement = conn.prepare_cached(SQL)?;
                let mut rows = statement.query(rusqlite::params![id, id % 2, 0, 100])?;
                while rows.next()?.is_some() {}
            }
            let statement = conn.prepare_cached(SQL)?;
            Ok(statement.get_status(rusqlite::StatementStatus::RePrepare))
        };
        assert_eq!(store.read(run).await.unwrap(), 0, "reader");
        assert_eq!(store.write(run).await.unwrap(), 0, "writer");
    }

    /// SQLite leaves the flush of each commit to the writer's syncer only
    /// where the syncer has the WAL file to flush.
    #[tokio::test]
    async fn commits_are_flushed_by_the_syncer_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (mode, synchronous) = store
            .write(|conn| {
                let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
                let synchronous: i64 =
                    conn.query_row("PRAGMA synchronous", [], |row| row.get(0))?;
                Ok((mode, synchronous))
            })
            .await
            .unwrap();
        assert_eq!((mode.as_str(), synchronous), ("wal", 1), "WAL and NORMAL");
        assert!(wal_path(store.path()).exists());
        store.close().await.unwrap();
    }

    /// A WAL file replaced under the syncer is reopened, not flushed as the
    /// old, unlinked one.
    #[test]
    fn a_replaced_wal_file_is_reopened() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x-wal");
        std::fs::write(&path, b"first").unwrap();
        let mut wal = WalFile::open(path.clone()).unwrap();
        wal.flush().unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"second").unwrap();
        wal.flush().unwrap();
        assert_eq!(
            wal.file.metadata().unwrap().ino(),
            std::fs::metadata(&path).unwrap().ino()
        );
        std::fs::remove_file(&path).unwrap();
        assert!(
            wal.flush().is_err(),
            "no WAL at all is an error, not a flush"
        );
    }

    #[tokio::test]
    async fn concurrent_writes_all_commit_without_locking_errors() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write(|tx| {
                tx.execute_batch("CREATE TABLE t (v INTEGER NOT NULL)")?;
                Ok(())
            })
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for value in 0..200i64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .write(move |tx| {
                        tx.execute("INSERT INTO t (v) VALUES (?1)", [value])?;
                        Ok(())
                    })
                    .await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let (count, sum): (i64, i64) = store
            .read(|conn| {
                Ok(conn.query_row("SELECT count(*), sum(v) FROM t", [], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?)
            })
            .await
            .unwrap();
        assert_eq!((count, sum), (200, (0..200).sum()));
    }

    #[tokio::test]
    async fn a_failing_job_rolls_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write(|tx| Ok(tx.execute_batch("CREATE TABLE t (v INTEGER NOT NULL UNIQUE)")?))
            .await
            .unwrap();
        let good = store.write(|tx| Ok(tx.execute("INSERT INTO t VALUES (1)", [])?));
        let bad = store.write(|tx| {
            tx.execute("INSERT INTO t VALUES (2)", [])?;
            tx.execute("INSERT INTO t VALUES (1)", [])?; // violates UNIQUE
            Ok(())
        });
        let (good, bad) = tokio::join!(good, bad);
        assert!(good.is_ok());
        assert!(bad.is_err());
        let values: Vec<i64> = store
            .read(|conn| {
                let mut stmt = conn.prepare("SELECT v FROM t ORDER BY v")?;
                let rows = stmt.query_map([], |row| row.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap();
        assert_eq!(values, vec![1]);
    }

    #[tokio::test]
    async fn close_commits_queued_writes_and_empties_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .write(|tx| Ok(tx.execute_batch("CREATE TABLE t (v INTEGER)")?))
            .await
            .unwrap();
        let pending: Vec<_> = (0..50)
            .map(|v| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .write(move |tx| Ok(tx.execute("INSERT INTO t VALUES (?1)", [v])?))
                        .await
                })
            })
            .collect();
        tokio::task::yield_now().await;
        store.close().await.unwrap();
        let acknowledged = futures_count(pending).await;
        assert!(matches!(
            store.write(|_| Ok(())).await,
            Err(StoreError::Closed)
        ));
        let (_, wal_bytes) = store.file_sizes();
        assert_eq!(wal_bytes, 0, "a clean close checkpoints the WAL");

        let reopened = Store::open(dir.path()).unwrap();
        let count: i64 = reopened
            .read(|conn| Ok(conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(count as usize, acknowledged);
    }

    async fn futures_count(
        tasks: Vec<tokio::task::JoinHandle<Result<usize, StoreError>>>,
    ) -> usize {
        let mut ok = 0;
        for task in tasks {
            if task.await.unwrap().is_ok() {
                ok += 1;
            }
        }
        ok
    }
}
