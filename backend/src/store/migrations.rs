//! Schema migrations, keyed by SQLite's `PRAGMA user_version`.
//!
//! Invariant: entries are only ever appended. Migration `i` (0-based) takes
//! the schema from version `i` to `i + 1`, in one transaction with the
//! version bump, so a crash mid-migration leaves the previous version.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

const MIGRATIONS: &[&str] = &[
    // 1: API tokens. Only a SHA-256 of the secret is kept: tokens are long
    // random strings, so a fast hash is enough and lookups stay O(1).
    "CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'ingest', 'admin')),
        secret_sha256 BLOB NOT NULL UNIQUE,
        created_at_ms INTEGER NOT NULL,
        revoked_at_ms INTEGER
    );",
    // 2: deploys posted from CI.
    "CREATE TABLE deploys (
        id INTEGER PRIMARY KEY,
        service TEXT NOT NULL,
        version TEXT NOT NULL,
        environment TEXT NOT NULL,
        commit_sha TEXT,
        url TEXT,
        description TEXT,
        deployed_by TEXT,
        deployed_at_ms INTEGER NOT NULL,
        received_at_ms INTEGER NOT NULL
    );
    CREATE INDEX deploys_by_time ON deploys (deployed_at_ms);
    CREATE INDEX deploys_by_service_time ON deploys (service, deployed_at_ms);",
    // 3: metrics. The catalog maps a Graphite name plus canonical tags to an
    // id; points are keyed by series and time (unix seconds, aligned to the
    // raw resolution), one value each, plus a quantile sketch for timers.
    "CREATE TABLE metric_series (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        tags TEXT NOT NULL DEFAULT '',
        kind TEXT NOT NULL CHECK (kind IN ('gauge', 'counter', 'timer', 'set')),
        created_at_ms INTEGER NOT NULL,
        UNIQUE (name, tags)
    );
    CREATE TABLE metric_points (
        series_id INTEGER NOT NULL REFERENCES metric_series (id),
        ts INTEGER NOT NULL,
        value REAL NOT NULL,
        sketch BLOB,
        PRIMARY KEY (series_id, ts)
    ) WITHOUT ROWID;",
    // 4: metric points move to compressed chunks (see tsdb/). Rows of the
    // pre-release point table are not carried over.
    "DROP TABLE metric_points;
    CREATE TABLE metric_chunks (
        series_id INTEGER NOT NULL REFERENCES metric_series (id),
        level INTEGER NOT NULL,
        start INTEGER NOT NULL,
        blob BLOB NOT NULL,
        PRIMARY KEY (series_id, level, start)
    ) WITHOUT ROWID;
    CREATE TABLE metric_wal (
        seq INTEGER PRIMARY KEY,
        batch BLOB NOT NULL
    );",
    // 5: errors (Sentry-compatible ingestion, see errors/). Issues keep
    // their aggregates (counts, hours, users, tag values) forever; events
    // are zstd-compressed normalized JSON, only the newest N per issue.
    // Users are kept as 8-byte digests: distinct counts need no names.
    "CREATE TABLE error_projects (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at_ms INTEGER NOT NULL
    );
    CREATE TABLE error_project_keys (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES error_projects (id),
        public_key TEXT NOT NULL UNIQUE,
        label TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        revoked_at_ms INTEGER
    );
    CREATE INDEX error_project_keys_by_project ON error_project_keys (project_id);
    CREATE TABLE error_issues (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES error_projects (id),
        grouping_key TEXT NOT NULL,
        grouping_method TEXT NOT NULL,
        grouping_components TEXT NOT NULL,
        title TEXT NOT NULL,
        culprit TEXT,
        level TEXT NOT NULL,
        platform TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN
            ('unresolved', 'resolved', 'resolved_in_next_release', 'ignored')),
        resolved_in_release TEXT,
        regressed_at_ms INTEGER,
        regressed_in_release TEXT,
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms INTEGER NOT NULL,
        event_count INTEGER NOT NULL,
        user_count INTEGER NOT NULL,
        first_release TEXT,
        last_release TEXT,
        UNIQUE (project_id, grouping_key)
    );
    CREATE INDEX error_issues_by_last_seen ON error_issues (last_seen_ms);
    CREATE INDEX error_issues_by_first_seen ON error_issues (first_seen_ms);
    CREATE INDEX error_issues_by_count ON error_issues (event_count);
    CREATE TABLE error_events (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES error_projects (id),
        issue_id INTEGER NOT NULL REFERENCES error_issues (id),
        event_id TEXT NOT NULL,
        timestamp_ms INTEGER NOT NULL,
        received_at_ms INTEGER NOT NULL,
        body BLOB NOT NULL,
        UNIQUE (project_id, event_id)
    );
    CREATE INDEX error_events_by_issue ON error_events (issue_id, id);
    CREATE TABLE error_issue_hours (
        issue_id INTEGER NOT NULL REFERENCES error_issues (id),
        hour_ms INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (issue_id, hour_ms)
    ) WITHOUT ROWID;
    CREATE TABLE error_issue_users (
        issue_id INTEGER NOT NULL REFERENCES error_issues (id),
        user_digest INTEGER NOT NULL,
        PRIMARY KEY (issue_id, user_digest)
    ) WITHOUT ROWID;
    CREATE TABLE error_issue_tags (
        issue_id INTEGER NOT NULL REFERENCES error_issues (id),
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (issue_id, key, value)
    ) WITHOUT ROWID;",
    // 6: error notifications (see errors/notify/). Webhooks per project;
    // a notification per issue state change (new, regressed), written in
    // the same transaction as the change, unique per change so it is
    // recorded once; one delivery row per webhook, the durable outbox the
    // sender works through with retries.
    "CREATE TABLE error_webhooks (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES error_projects (id),
        url TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('generic', 'slack')),
        created_at_ms INTEGER NOT NULL
    );
    CREATE INDEX error_webhooks_by_project ON error_webhooks (project_id);
    CREATE TABLE error_notifications (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES error_projects (id),
        issue_id INTEGER NOT NULL REFERENCES error_issues (id),
        change TEXT NOT NULL CHECK (change IN ('new', 'regressed')),
        changed_at_ms INTEGER NOT NULL,
        suppressed INTEGER NOT NULL,
        context TEXT NOT NULL,
        UNIQUE (issue_id, change, changed_at_ms)
    );
    CREATE INDEX error_notifications_by_project_time
        ON error_notifications (project_id, changed_at_ms);
    CREATE TABLE error_deliveries (
        notification_id INTEGER NOT NULL REFERENCES error_notifications (id),
        webhook_id INTEGER NOT NULL REFERENCES error_webhooks (id),
        state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
        attempts INTEGER NOT NULL,
        next_attempt_ms INTEGER NOT NULL,
        last_error TEXT,
        PRIMARY KEY (notification_id, webhook_id)
    ) WITHOUT ROWID;
    CREATE INDEX error_deliveries_due ON error_deliveries (state, next_attempt_ms);",
    // 7: people who sign in to the web app, their browser sessions, and
    // who made each API token and when it was last used.
    "CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
        password_hash TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        disabled_at_ms INTEGER
    );
    CREATE TABLE user_sessions (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id),
        secret_sha256 BLOB NOT NULL UNIQUE,
        csrf_token TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL
    );
    CREATE INDEX user_sessions_by_user ON user_sessions (user_id);
    ALTER TABLE api_tokens ADD COLUMN created_by_user_id INTEGER REFERENCES users (id);
    ALTER TABLE api_tokens ADD COLUMN last_used_at_ms INTEGER;",
    // 8: cron monitors and attachments (see errors/checkins.rs and
    // errors/attachments.rs). A monitor per project and slug, with the
    // schedule its SDK last sent and its last status; a row per job run,
    // the newest N per monitor, `in_progress` runs indexed by start for
    // timeout detection. Attachments are zstd-compressed, with a running
    // total per project for its byte cap.
    "CREATE TABLE error_monitors (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES error_projects (id),
        slug TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        last_status TEXT,
        last_check_in_ms INTEGER,
        schedule_type TEXT CHECK (schedule_type IN ('crontab', 'interval')),
        schedule_value TEXT,
        schedule_unit TEXT,
        checkin_margin_min INTEGER,
        max_runtime_min INTEGER,
        timezone TEXT,
        failure_issue_threshold INTEGER,
        recovery_threshold INTEGER,
        config_updated_at_ms INTEGER,
        UNIQUE (project_id, slug)
    );
    CREATE TABLE error_check_ins (
        id INTEGER PRIMARY KEY,
        monitor_id INTEGER NOT NULL REFERENCES error_monitors (id),
        check_in_id TEXT,
        status TEXT NOT NULL CHECK (status IN
            ('in_progress', 'ok', 'error', 'missed', 'timeout')),
        duration_ms REAL,
        release TEXT,
        environment TEXT,
        trace_id TEXT,
        started_at_ms INTEGER NOT NULL,
        finished_at_ms INTEGER,
        received_at_ms INTEGER NOT NULL,
        UNIQUE (monitor_id, check_in_id)
    );
    CREATE INDEX error_check_ins_by_monitor ON error_check_ins (monitor_id, id);
    CREATE INDEX error_check_ins_in_progress ON error_check_ins (started_at_ms)
        WHERE status = 'in_progress';
    CREATE TABLE error_attachments (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES error_projects (id),
        event_id TEXT NOT NULL,
        filename TEXT NOT NULL,
        content_type TEXT NOT NULL,
        attachment_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        stored_size INTEGER NOT NULL,
        received_at_ms INTEGER NOT NULL,
        body BLOB NOT NULL
    );
    CREATE INDEX error_attachments_by_event ON error_attachments (project_id, event_id);
    CREATE INDEX error_attachments_by_project ON error_attachments (project_id, id);
    CREATE TABLE error_attachment_usage (
        project_id INTEGER PRIMARY KEY REFERENCES error_projects (id),
        stored_bytes INTEGER NOT NULL
    );",
    // Transactions, sessions and client reports (see errors/item_stats.rs):
    // counts per project and hour, never the items. Transactions keep a
    // DDSketch of durations (ms) per name, op, release and environment;
    // sessions keep counts per release and environment in the hour they
    // started, a state per recent session so repeated updates count once,
    // and user digests per day; client reports keep quantities per reason
    // and category. Absent release, environment and op are ''.
    "CREATE TABLE error_transaction_hours (
        project_id INTEGER NOT NULL REFERENCES error_projects (id),
        hour_ms INTEGER NOT NULL,
        name TEXT NOT NULL,
        op TEXT NOT NULL,
        release TEXT NOT NULL,
        environment TEXT NOT NULL,
        count INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        durations BLOB NOT NULL,
        PRIMARY KEY (project_id, hour_ms, name, op, release, environment)
    ) WITHOUT ROWID;
    CREATE TABLE error_session_hours (
        project_id INTEGER NOT NULL REFERENCES error_projects (id),
        release TEXT NOT NULL,
        environment TEXT NOT NULL,
        hour_ms INTEGER NOT NULL,
        started INTEGER NOT NULL,
        exited INTEGER NOT NULL,
        errored INTEGER NOT NULL,
        crashed INTEGER NOT NULL,
        abnormal INTEGER NOT NULL,
        PRIMARY KEY (project_id, release, environment, hour_ms)
    ) WITHOUT ROWID;
    CREATE INDEX error_session_hours_by_time ON error_session_hours (project_id, hour_ms);
    CREATE TABLE error_session_states (
        project_id INTEGER NOT NULL REFERENCES error_projects (id),
        sid TEXT NOT NULL,
        started_ms INTEGER NOT NULL,
        release TEXT NOT NULL,
        environment TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN
            ('healthy', 'errored', 'exited', 'crashed', 'abnormal')),
        ended INTEGER NOT NULL,
        PRIMARY KEY (project_id, sid)
    ) WITHOUT ROWID;
    CREATE INDEX error_session_states_by_start ON error_session_states (started_ms);
    CREATE TABLE error_release_users (
        project_id INTEGER NOT NULL REFERENCES error_projects (id),
        release TEXT NOT NULL,
        environment TEXT NOT NULL,
        day_ms INTEGER NOT NULL,
        user_digest INTEGER NOT NULL,
        PRIMARY KEY (project_id, release, environment, day_ms, user_digest)
    ) WITHOUT ROWID;
    CREATE TABLE error_client_report_hours (
        project_id INTEGER NOT NULL REFERENCES error_projects (id),
        hour_ms INTEGER NOT NULL,
        reason TEXT NOT NULL,
        category TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        PRIMARY KEY (project_id, hour_ms, reason, category)
    ) WITHOUT ROWID;",
    // Issue dictionaries: an issue's events are compressed against its
    // first stored event (errors/dictionaries.rs); `body_kind` says how a
    // body was made, 0 (alone) for every row stored before.
    "CREATE TABLE error_dictionaries (
        issue_id INTEGER PRIMARY KEY REFERENCES error_issues (id),
        body BLOB NOT NULL
    );
    ALTER TABLE error_events ADD COLUMN body_kind INTEGER NOT NULL DEFAULT 0;",
    // Metric chunks move to a rowid table with their key in an index. In
    // the key-ordered table a blob kept at most about 1,000 bytes in its
    // leaf page and spilled the rest to overflow pages whose last one was
    // half empty on average: 17% of the file. A rowid table keeps up to a
    // page of the blob in its leaf, chosen so that its overflow pages are
    // full (see tsdb/chunks.rs for how a rewritten chunk keeps its place).
    "CREATE TABLE metric_chunks_by_rowid (
        id INTEGER PRIMARY KEY,
        series_id INTEGER NOT NULL REFERENCES metric_series (id),
        level INTEGER NOT NULL,
        start INTEGER NOT NULL,
        blob BLOB NOT NULL
    );
    INSERT INTO metric_chunks_by_rowid (series_id, level, start, blob)
        SELECT series_id, level, start, blob FROM metric_chunks ORDER BY level, start, series_id;
    DROP TABLE metric_chunks;
    ALTER TABLE metric_chunks_by_rowid RENAME TO metric_chunks;
    CREATE UNIQUE INDEX metric_chunks_by_key ON metric_chunks (series_id, level, start);",
    // Issue counts (hours, users, tag values) are written in batches from
    // memory (errors/counts.rs): the row says through which event they
    // are complete. Every event stored before was counted as it came.
    "CREATE TABLE error_counts_through (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        event_row_id INTEGER NOT NULL
    );
    INSERT INTO error_counts_through (id, event_row_id)
        SELECT 1, coalesce(max(id), 0) FROM error_events;",
    // Retried events are found by the unique index of (issue_id,
    // event_id) instead of the table's UNIQUE (project_id, event_id): a
    // new id fell on a random page of that index, and each event deleted
    // by retention on another (errors/record.rs). SQLite cannot drop a
    // table's constraint, so the table is rebuilt, row ids kept.
    "CREATE TABLE error_events_rebuilt (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES error_projects (id),
        issue_id INTEGER NOT NULL REFERENCES error_issues (id),
        event_id TEXT NOT NULL,
        timestamp_ms INTEGER NOT NULL,
        received_at_ms INTEGER NOT NULL,
        body BLOB NOT NULL,
        body_kind INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO error_events_rebuilt
            (id, project_id, issue_id, event_id, timestamp_ms, received_at_ms, body, body_kind)
        SELECT id, project_id, issue_id, event_id, timestamp_ms, received_at_ms, body, body_kind
        FROM error_events ORDER BY id;
    DROP TABLE error_events;
    ALTER TABLE error_events_rebuilt RENAME TO error_events;
    CREATE INDEX error_events_by_issue ON error_events (issue_id, id);
    CREATE UNIQUE INDEX error_events_by_issue_event ON error_events (issue_id, event_id);",
];

/// The schema version this build migrates to.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database to [`SCHEMA_VERSION`]; returns the version found.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<u32, StoreError> {
    migrate_to(conn, path, SCHEMA_VERSION)
}

fn migrate_to(conn: &mut Connection, path: &Path, target: u32) -> Result<u32, StoreError> {
    let found: u32 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: path.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for version in found..target {
        let sql = MIGRATIONS
            .get(version as usize)
            .ok_or(StoreError::Migration {
                version: version + 1,
                source: rusqlite::Error::InvalidQuery,
            })?;
        let next = version + 1;
        let fail = |source| StoreError::Migration {
            version: next,
            source,
        };
        let tx = conn.transaction().map_err(fail)?;
        tx.execute_batch(sql).map_err(fail)?;
        tx.pragma_update(None, "user_version", next).map_err(fail)?;
        tx.commit().map_err(fail)?;
        tracing::info!(version = next, "database migrated");
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        let names = stmt.query_map([], |row| row.get(0)).unwrap();
        names.collect::<Result<_, _>>().unwrap()
    }

    fn user_version(conn: &Connection) -> u32 {
        conn.pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn from_empty_reaches_the_latest_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn, Path::new(":memory:")).unwrap(), 0);
        assert_eq!(user_version(&conn), SCHEMA_VERSION);
        assert_eq!(
            tables(&conn),
            [
                "api_tokens",
                "deploys",
                "error_attachment_usage",
                "error_attachments",
                "error_check_ins",
                "error_client_report_hours",
                "error_counts_through",
                "error_deliveries",
                "error_dictionaries",
                "error_events",
                "error_issue_hours",
                "error_issue_tags",
                "error_issue_users",
                "error_issues",
                "error_monitors",
                "error_notifications",
                "error_project_keys",
                "error_projects",
                "error_release_users",
                "error_session_hours",
                "error_session_states",
                "error_transaction_hours",
                "error_webhooks",
                "metric_chunks",
                "metric_series",
                "metric_wal",
                "user_sessions",
                "users"
            ]
        );
    }

    #[test]
    fn from_every_intermediate_version_reaches_the_same_schema() {
        let mut fresh = Connection::open_in_memory().unwrap();
        migrate(&mut fresh, Path::new(":memory:")).unwrap();
        let schema = |conn: &Connection| -> Vec<String> {
            let mut stmt = conn
                .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
                .unwrap();
            let rows = stmt.query_map([], |row| row.get(0)).unwrap();
            rows.collect::<Result<_, _>>().unwrap()
        };
        for start in 0..SCHEMA_VERSION {
            let mut conn = Connection::open_in_memory().unwrap();
            migrate_to(&mut conn, Path::new(":memory:"), start).unwrap();
            assert_eq!(user_version(&conn), start);
            assert_eq!(migrate(&mut conn, Path::new(":memory:")).unwrap(), start);
            assert_eq!(schema(&conn), schema(&fresh), "from version {start}");
        }
    }

    #[test]
    fn metric_chunks_keep_their_blobs_when_they_move_to_a_rowid_table() {
        let mut conn = Connection::open_in_memory().unwrap();
        let key_ordered = MIGRATIONS
            .iter()
            .position(|sql| sql.contains("metric_chunks_by_rowid"))
            .unwrap() as u32;
        migrate_to(&mut conn, Path::new(":memory:"), key_ordered).unwrap();
        conn.execute_batch(
            "INSERT INTO metric_series (id, name, kind, created_at_ms) VALUES (1, 'a', 'gauge', 0), (2, 'b', 'timer', 0);
             INSERT INTO metric_chunks (series_id, level, start, blob) VALUES
                 (1, 0, 3600, x'01'), (1, 0, 0, x'0203'), (2, 1, 0, zeroblob(9000));",
        )
        .unwrap();
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        let rows: Vec<(i64, i64, i64, Vec<u8>)> = conn
            .prepare("SELECT series_id, level, start, blob FROM metric_chunks ORDER BY series_id, level, start")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (1, 0, 0, vec![2, 3]),
                (1, 0, 3600, vec![1]),
                (2, 1, 0, vec![0; 9000]),
            ]
        );
        // The key stays unique: a replaced chunk takes the old one's place.
        conn.execute(
            "INSERT OR REPLACE INTO metric_chunks (series_id, level, start, blob) VALUES (1, 0, 0, x'04')",
            [],
        )
        .unwrap();
        let blobs: Vec<Vec<u8>> = conn
            .prepare(
                "SELECT blob FROM metric_chunks WHERE series_id = 1 AND level = 0 ORDER BY start",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(blobs, [vec![4], vec![1]]);
    }

    #[test]
    fn error_events_keep_their_rows_when_the_table_is_rebuilt() {
        let mut conn = Connection::open_in_memory().unwrap();
        let before = MIGRATIONS
            .iter()
            .position(|sql| sql.contains("error_events_rebuilt"))
            .unwrap() as u32;
        migrate_to(&mut conn, Path::new(":memory:"), before).unwrap();
        conn.execute_batch(
            "INSERT INTO error_projects (id, name, created_at_ms) VALUES (1, 'p', 0);
             INSERT INTO error_issues (id, project_id, grouping_key, grouping_method,
                 grouping_components, title, level, platform, status, first_seen_ms,
                 last_seen_ms, event_count, user_count)
             VALUES (7, 1, 'k', 'message', '[]', 't', 'error', 'python', 'unresolved', 0, 0, 2, 0),
                    (8, 1, 'l', 'message', '[]', 't', 'error', 'python', 'unresolved', 0, 0, 1, 0);
             INSERT INTO error_events (id, project_id, issue_id, event_id, timestamp_ms,
                 received_at_ms, body, body_kind)
             VALUES (40, 1, 7, 'aa', 1, 2, x'0102', 2), (41, 1, 8, 'bb', 3, 4, zeroblob(9000), 0),
                    (45, 1, 7, 'cc', 5, 6, x'03', 3);",
        )
        .unwrap();
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        type Row = (i64, i64, String, i64, i64, Vec<u8>, i64);
        let rows: Vec<Row> = conn
            .prepare(
                "SELECT id, issue_id, event_id, timestamp_ms, received_at_ms, body, body_kind
                 FROM error_events ORDER BY id",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (40, 7, "aa".into(), 1, 2, vec![1, 2], 2),
                (41, 8, "bb".into(), 3, 4, vec![0; 9000], 0),
                (45, 7, "cc".into(), 5, 6, vec![3], 3),
            ]
        );
        let insert = |issue_id: i64, event_id: &str| {
            conn.execute(
                "INSERT INTO error_events (project_id, issue_id, event_id, timestamp_ms,
                     received_at_ms, body)
                 VALUES (1, ?1, ?2, 0, 0, x'00') ON CONFLICT (issue_id, event_id) DO NOTHING",
                rusqlite::params![issue_id, event_id],
            )
            .unwrap()
        };
        assert_eq!(insert(7, "aa"), 0, "an issue holds each event id once");
        assert_eq!(insert(8, "aa"), 1, "another issue may hold it");
        assert_eq!(
            conn.last_insert_rowid(),
            46,
            "new rows come after the kept ids"
        );
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT id FROM error_events WHERE issue_id = 7 ORDER BY id DESC",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("error_events_by_issue"), "{plan}");
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, Path::new(":memory:")).unwrap();
        assert_eq!(
            migrate(&mut conn, Path::new(":memory:")).unwrap(),
            SCHEMA_VERSION
        );
    }

    #[test]
    fn a_newer_database_is_refused_with_a_clear_error() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = migrate(&mut conn, Path::new("/data/partout.sqlite")).unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { .. }));
        assert!(err.to_string().contains("upgrade partout"), "{err}");
    }
}
