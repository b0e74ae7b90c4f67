//! The log store end to end in process: durable appends, search with
//! cursors, histogram, top values, context, retention with an injected
//! clock, journal replay without doubles, and the live-tail matcher
//! agreeing with the index on every query form.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use super::day::{NANOS_PER_DAY, NANOS_PER_SECOND};
use super::journal::Journal;
use super::lang;
use super::raw::{RawLog, Source};
use super::search::{matcher, Cursor, Scope};
use super::{test_config, Clock, LogConfig, LogStore, WriterThread};
use crate::telemetry::Telemetry;

/// 2026-11-23T00:00:00Z: the lines of most tests fall on the day before.
const NOON: i64 = 1_795_392_000 * NANOS_PER_SECOND;

fn clock_at(now: &Arc<AtomicI64>) -> Clock {
    let now = Arc::clone(now);
    Arc::new(move || now.load(Ordering::Relaxed))
}

fn open(config: LogConfig, now: &Arc<AtomicI64>) -> (LogStore, WriterThread) {
    LogStore::open(config, Arc::new(Telemetry::new()), clock_at(now)).unwrap()
}

fn json(received: i64, text: &str) -> RawLog {
    RawLog::new(Source::JsonLine, received, text.as_bytes(), 1 << 20)
}

fn scope(query: &str, from: i64, until: i64) -> Scope {
    Scope {
        query: lang::parse(query).unwrap(),
        from_nanos: from,
        until_nanos: until,
    }
}

fn messages(store: &LogStore, query: &str) -> Vec<String> {
    let (hits, _) = store
        .search(&scope(query, 0, i64::MAX), 1000, None)
        .unwrap();
    hits.into_iter().map(|hit| hit.record.message).collect()
}

/// A line at `NOON + offset_secs` with a message and fields.
fn line_at(offset_secs: i64, message: &str, extra: &str) -> RawLog {
    let ts = NOON + offset_secs * NANOS_PER_SECOND;
    json(
        NOON,
        &format!(r#"{{"ts":{},"msg":"{message}"{extra}}}"#, ts / 1_000_000),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_walk_newest_first_without_repeats_across_equal_times() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(NOON));
    let (store, _writer) = open(test_config(dir.path()), &now);
    // Ten lines share each second, across two days (so two partitions).
    let mut lines = Vec::new();
    for second in [-86_400 - 5, -3, -2, -1] {
        for n in 0..10 {
            lines.push(line_at(second, &format!("s{second}n{n}"), ""));
        }
    }
    store.append(lines).await.unwrap();
    store.commit().await.unwrap();
    assert_eq!(store.shared.partitions().len(), 2);

    let mut seen = Vec::new();
    let mut cursor: Option<Cursor> = None;
    let whole = scope("", 0, i64::MAX);
    loop {
        let (hits, next) = store.search(&whole, 7, cursor).unwrap();
        let mut previous = seen
            .last()
            .map(|(ts, seq, _): &(i64, u64, String)| (*ts, *seq));
        for hit in &hits {
            let key = (hit.record.timestamp_nanos, hit.seq);
            if let Some(before) = previous {
                assert!(key < before, "not newest first: {key:?} after {before:?}");
            }
            previous = Some(key);
            seen.push((key.0, key.1, hit.record.message.clone()));
        }
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 40);
    let mut unique: Vec<u64> = seen.iter().map(|(_, seq, _)| *seq).collect();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 40);
    assert!(seen[0].2.starts_with("s-1n"));
    assert!(seen[39].2.starts_with("s-86405n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histogram_top_values_and_context_count_what_matches() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(NOON));
    let (store, _writer) = open(test_config(dir.path()), &now);
    let mut lines = Vec::new();
    for n in 0..60i64 {
        let service = if n % 3 == 0 { "api" } else { "web" };
        let level = if n % 10 == 0 { "error" } else { "info" };
        lines.push(line_at(
            n,
            &format!("request {n}"),
            &format!(
                r#","service":"{service}","host":"h1","level":"{level}","user":"u{}""#,
                n % 4
            ),
        ));
    }
    store.append(lines).await.unwrap();
    store.commit().await.unwrap();

    let minute = scope("", NOON, NOON + 60 * NANOS_PER_SECOND);
    let (start, buckets) = store.histogram(&minute, 10 * NANOS_PER_SECOND).unwrap();
    assert_eq!(start, NOON);
    assert_eq!(buckets.len(), 6);
    for bucket in &buckets {
        assert_eq!(bucket.iter().sum::<u64>(), 10);
        assert_eq!(bucket[4], 1, "one error per 10 s: {bucket:?}");
    }
    // A range starting mid-bucket: the bucket starts on the step, but
    // lines before `from` are not counted.
    let (start, late) = store
        .histogram(
            &scope(
                "",
                NOON + 5 * NANOS_PER_SECOND,
                NOON + 60 * NANOS_PER_SECOND,
            ),
            10 * NANOS_PER_SECOND,
        )
        .unwrap();
    assert_eq!(start, NOON);
    assert_eq!(late[0].iter().sum::<u64>(), 5);
    assert_eq!(late.iter().flatten().sum::<u64>(), 55);
    let (_, errors) = store
        .histogram(
            &scope("level:error", NOON, NOON + 60 * NANOS_PER_SECOND),
            60 * NANOS_PER_SECOND,
        )
        .unwrap();
    assert_eq!(errors[0][4], 6);

    let (services, counted, sampled) = store.top_values(&minute, "service", 100).unwrap();
    assert_eq!(
        services,
        vec![("web".to_owned(), 40), ("api".to_owned(), 20)]
    );
    assert_eq!((counted, sampled), (60, false));
    let (users, counted, _) = store.top_values(&minute, "user", 100).unwrap();
    assert_eq!(counted, 60);
    assert_eq!(users.len(), 4);
    assert!(users.iter().all(|(_, count)| *count == 15));
    let (levels, _, _) = store.top_values(&minute, "level", 100).unwrap();
    assert_eq!(
        levels,
        vec![("info".to_owned(), 54), ("error".to_owned(), 6)]
    );

    // Context of "request 30" (api): the api lines around it.
    let (hits, _) = store
        .search(&scope("\"request 30\"", 0, i64::MAX), 1, None)
        .unwrap();
    let (before, line, after) = store.context(hits[0].seq, 2, 3).unwrap().unwrap();
    assert_eq!(line.record.message, "request 30");
    let names = |hits: &[super::search::Hit]| -> Vec<String> {
        hits.iter().map(|hit| hit.record.message.clone()).collect()
    };
    assert_eq!(names(&before), ["request 24", "request 27"]);
    assert_eq!(names(&after), ["request 33", "request 36", "request 39"]);
    assert!(store.context(9_999, 1, 1).unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_drops_old_days_then_the_oldest_over_the_size_cap() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(NOON));
    let config = LogConfig {
        max_age_nanos: 3 * NANOS_PER_DAY,
        ..test_config(dir.path())
    };
    let (store, writer) = open(config.clone(), &now);
    let mut lines = Vec::new();
    for day in 0..3 {
        lines.push(line_at(-day * 86_400, &format!("day{day}"), ""));
    }
    store.append(lines).await.unwrap();
    store.commit().await.unwrap();
    assert_eq!(messages(&store, "day*").len(), 3);

    // Two days later, the oldest day is past three days of age.
    now.store(NOON + 2 * NANOS_PER_DAY, Ordering::Relaxed);
    store.apply_retention().await.unwrap();
    assert_eq!(messages(&store, "day*"), ["day0", "day1"]);
    assert!(!dir
        .path()
        .join(super::day::name(super::day::day_of(NOON) - 2))
        .exists());

    // A size cap smaller than two partitions keeps only the newest.
    drop(store);
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .unwrap();
    let (store, _writer) = open(
        LogConfig {
            max_bytes: 1,
            ..config
        },
        &now,
    );
    assert_eq!(messages(&store, "day*"), ["day0"]);
}

/// A day written in an older on-disk format (no format marker) cannot be
/// read: it is set aside, and that day's new lines still get stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_in_an_older_format_is_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(NOON));
    let config = test_config(dir.path());
    let (store, writer) = open(config.clone(), &now);
    store.append(vec![line_at(-1, "before", "")]).await.unwrap();
    store.commit().await.unwrap();
    drop(store);
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .unwrap();
    let day = super::day::name(super::day::day_of(NOON - NANOS_PER_SECOND));
    let partition = config.dir.join(&day);
    std::fs::remove_file(partition.join("partout-format")).unwrap();

    let (store, _writer) = open(config.clone(), &now);
    assert!(messages(&store, "before").is_empty());
    let mut aside = partition.as_os_str().to_owned();
    aside.push(".format-1");
    assert!(std::path::Path::new(&aside).join("meta.json").exists());
    store.append(vec![line_at(-1, "after", "")]).await.unwrap();
    store.commit().await.unwrap();
    assert_eq!(messages(&store, "after"), ["after"]);
}

/// A day written before lines were stored as text (format 2: no `line`
/// field, every line in the binary form) is still read, and its new lines
/// are stored as it stores them; a new day stores text, except a line that
/// is not UTF-8.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_of_format_2_is_read_and_written_in_binary() {
    use tantivy::schema::Schema;
    use tantivy::{Index, IndexSettings};

    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(NOON));
    let config = test_config(dir.path());
    let log_schema = super::schema::LogSchema::new();
    let day = super::day::name(super::day::day_of(NOON - NANOS_PER_SECOND));
    let partition = config.dir.join(&day);
    std::fs::create_dir_all(&partition).unwrap();
    std::fs::write(partition.join("partout-format"), "2").unwrap();
    let mut old = Schema::builder();
    for (_, entry) in log_schema.schema.fields() {
        if entry.name() != "line" {
            old.add_field(entry.clone());
        }
    }
    let index = Index::builder()
        .schema(old.build())
        .settings(IndexSettings::default())
        .create_in_dir(&partition)
        .unwrap();
    super::schema::register_tokenizers(&index);
    assert!(!log_schema.stores_text(&index.schema()));
    let raw = line_at(-1, "written by format 2", "");
    let record = super::record::normalize(&raw, &config.normalize);
    let stored = log_schema.stored_line(&raw, false);
    assert!(matches!(stored, super::schema::StoredLine::Binary(_)));
    let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
    writer
        .add_document(log_schema.document(0, &record, stored))
        .unwrap();
    let mut commit = writer.prepare_commit().unwrap();
    commit.set_payload("0");
    commit.commit().unwrap();
    drop(writer);

    let (store, _writer) = open(config.clone(), &now);
    assert_eq!(messages(&store, "format"), ["written by format 2"]);
    // The same day again, and the next day, where a new partition starts.
    let not_utf8 = RawLog::new(
        Source::JsonLine,
        NOON,
        b"{\"msg\":\"latin1 caf\xe9\"}",
        1 << 20,
    );
    store
        .append(vec![
            line_at(-2, "added to format 2", ""),
            line_at(5, "a new day in text", ""),
            not_utf8,
        ])
        .await
        .unwrap();
    store.commit().await.unwrap();
    let mut found = messages(&store, "");
    found.sort();
    assert_eq!(
        found,
        [
            "a new day in text",
            "added to format 2",
            "latin1 caf\u{fffd}",
            "written by format 2"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(partition.join("partout-format")).unwrap(),
        "2"
    );
    let today = config.dir.join(super::day::name(super::day::day_of(NOON)));
    assert_eq!(
        std::fs::read_to_string(today.join("partout-format")).unwrap(),
        "3"
    );
    // What each partition stores, read from its documents.
    for (dir, texts, binaries) in [(&partition, 0, 2), (&today, 1, 1)] {
        let index = Index::open_in_dir(dir).unwrap();
        let searcher = index.reader().unwrap().searcher();
        let (mut text, mut binary) = (0, 0);
        for segment in searcher.segment_readers() {
            let store = segment.get_store_reader(1).unwrap();
            for doc in store.iter::<tantivy::TantivyDocument>(segment.alive_bitset()) {
                let doc = doc.unwrap();
                let has = |name: &str| {
                    index
                        .schema()
                        .get_field(name)
                        .is_ok_and(|field| doc.get_first(field).is_some())
                };
                text += usize::from(has("line"));
                binary += usize::from(has("raw"));
            }
        }
        assert_eq!((text, binary), (texts, binaries), "{}", dir.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_journal_indexes_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(NOON));
    let (store, writer) = open(test_config(dir.path()), &now);
    let lines: Vec<RawLog> = (0..5)
        .map(|n| line_at(n, &format!("once{n}"), ""))
        .collect();
    store.append(lines.clone()).await.unwrap();
    store.commit().await.unwrap();
    drop(store);
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .unwrap();

    // A crash between the index commit and the journal's release leaves
    // the same lines in the journal, and one line that never got indexed.
    {
        let (mut journal, _) = Journal::open(&dir.path().join("journal")).unwrap();
        journal.append(0, &lines).unwrap();
        journal
            .append(5, &[line_at(9, "only in the journal", "")])
            .unwrap();
    }
    let (store, _writer) = open(test_config(dir.path()), &now);
    let mut found = messages(&store, "");
    found.sort();
    assert_eq!(
        found,
        [
            "once0",
            "once1",
            "once2",
            "once3",
            "once4",
            "only in the journal"
        ]
    );
    // New lines continue the numbering.
    store.append(vec![line_at(10, "after", "")]).await.unwrap();
    store.commit().await.unwrap();
    let (hits, _) = store.search(&scope("after", 0, i64::MAX), 1, None).unwrap();
    assert_eq!(hits[0].seq, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tail_matcher_agrees_with_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicI64::new(NOON));
    let (store, _writer) = open(test_config(dir.path()), &now);
    let bodies = [
        r#""level":"error","service":"api","user":"Ann","http":{"status":502},"duration_ms":12.5"#,
        r#""level":"warn","service":"api","user":"bob","http":{"status":404,"method":"PUT"},"duration_ms":300"#,
        r#""level":"info","service":"web","user":"carol","http":{"status":200},"path":"/pay/now""#,
        r#""level":"debug","service":"worker","job":"mail-sender","ok":true,"span":{"trace":"4BF92F3577B34DA6A3CE929D0E0E4736"}"#,
        r#""service":"web","request_id":"ab12-cd34","trace":"86c2ae29-56e5-4395-806e-18ba0f2f53e2""#,
    ];
    let texts = [
        "payment failed for card",
        "slow query on orders",
        "GET /pay/now done",
        "sent 3 mails",
        "connection reset by peer",
    ];
    let lines: Vec<RawLog> = bodies
        .iter()
        .zip(texts)
        .enumerate()
        .map(|(n, (body, text))| line_at(n as i64, text, &format!(",{body}")))
        .collect();
    store.append(lines).await.unwrap();
    store.commit().await.unwrap();
    let (all, _) = store.search(&scope("", 0, i64::MAX), 100, None).unwrap();
    assert_eq!(all.len(), 5);

    for query in [
        "payment",
        "PAYMENT",
        "pay*",
        "\"reset by peer\"",
        "\"by reset\"",
        "ann",
        "BOB",
        "car*",
        "bob slow",
        "put",
        "86c2ae29-56e5-4395-806e-18ba0f2f53e2",
        "86c2ae29*",
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "4BF92F*",
        "sent 4bf92f3577b34da6a3ce929d0e0e4736",
        "ab12-cd34",
        "mail*",
        "user:ann",
        "user:an*",
        "http.status:>=500",
        "http.status:[400 TO 499]",
        "http.status:{200 TO 502}",
        "duration_ms:>12",
        "duration_ms:<=12.5",
        "duration_ms:>12.5",
        "ok:true",
        "level:error",
        "level:>=warn",
        "level:[debug TO info]",
        "service:api",
        "service:w*",
        "request_id:*",
        "path:\"/pay/now\"",
        "message:\"query on\"",
        "source:json",
        "NOT service:api",
        "-level:info",
        "service:api OR user:carol",
        "service:(api OR worker) AND NOT level:debug",
        "*",
    ] {
        let parsed = lang::parse(query).unwrap();
        let (hits, _) = store.search(&scope(query, 0, i64::MAX), 100, None).unwrap();
        let mut indexed: Vec<&str> = hits.iter().map(|hit| hit.record.message.as_str()).collect();
        let mut matched: Vec<&str> = all
            .iter()
            .filter(|hit| matcher::matches(&parsed, &hit.record))
            .map(|hit| hit.record.message.as_str())
            .collect();
        indexed.sort_unstable();
        matched.sort_unstable();
        assert_eq!(indexed, matched, "query {query:?}");
        assert!(
            !indexed.is_empty() || query == "\"by reset\"",
            "query {query:?} matched nothing"
        );
    }
}
