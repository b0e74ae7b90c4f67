//! The writer's statement journals stay in memory. Its own test process:
//! it counts the temporary files the whole process has open, which other
//! tests' connections would add to.

use partout::store::{Store, StoreError};
use rusqlite::Connection;

/// Rows of about a page each, so that changing a row changes one page.
const ROWS: i64 = 200;
/// Jobs queued at once, so that the writer runs them in one transaction.
const JOBS: usize = 24;

/// Files this process has open that were deleted: SQLite's temporary
/// files (it unlinks them as it opens them, or opens them unnamed).
fn deleted_files_open() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| std::fs::read_link(entry.path()).ok())
                .filter(|target| target.to_string_lossy().ends_with(" (deleted)"))
                .count()
        })
        .unwrap_or(0)
}

/// One job: changes every row (each page an earlier job of the batch has
/// changed too, so SQLite must journal it to roll this job back alone),
/// then reports the deleted files open at that moment.
fn change_every_row(conn: &Connection, round: usize) -> Result<usize, StoreError> {
    let size = 3000 + i64::try_from(round % 200).unwrap_or(0);
    conn.execute("UPDATE pages SET body = zeroblob(?1)", [size])?;
    Ok(deleted_files_open())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_jobs_journal_in_memory_not_in_temporary_files() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().map_err(|err| StoreError::Task(err.to_string()))?;
    let store = Store::open(dir.path())?;
    store
        .write(|conn| {
            conn.execute_batch("CREATE TABLE pages (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")?;
            conn.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
                 INSERT INTO pages SELECT i, zeroblob(3500) FROM n",
                [ROWS],
            )?;
            Ok(())
        })
        .await?;
    let before = deleted_files_open();

    let jobs = (0..JOBS).map(|round| store.write(move |conn| change_every_row(conn, round)));
    let seen = futures_util::future::try_join_all(jobs).await?;

    // Every job ran and changed every row (each job sees the earlier ones).
    let sizes: Vec<i64> = store
        .read(|conn| {
            let mut statement = conn.prepare("SELECT DISTINCT length(body) FROM pages")?;
            let sizes = statement
                .query_map([], |row| row.get(0))?
                .collect::<Result<Vec<i64>, _>>()?;
            Ok(sizes)
        })
        .await?;
    assert_eq!(sizes, vec![3000 + i64::try_from(JOBS - 1).unwrap_or(0)]);
    assert_eq!(
        seen.iter().max().copied(),
        Some(before),
        "a job's statement journal went to a temporary file: {seen:?}"
    );
    Ok(())
}
