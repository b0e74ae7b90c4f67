//! The metrics time-series store: a series catalog, an in-memory head of
//! recent points backed by a write-ahead log, and compressed chunks with
//! rollups in SQLite.
//!
//! # Write path
//! [`Tsdb::ingest`] resolves each row's series (creating it, within the
//! series cap), aligns its timestamp to the series' raw step, commits the
//! batch to the write-ahead log and then adds it to the head. Every
//! `step`, [`Tsdb::seal`] turns closed head windows into chunks and
//! recomputes the rollups they feed; [`Tsdb::enforce_retention`] drops
//! chunks past their level's retention.
//!
//! # Read path
//! [`Tsdb::read`] gives one level's points over a range: stored chunks,
//! with the head's unsealed points laid over them.
//!
//! # Durability
//! A batch is in the log before it is acknowledged to the pipeline, and a
//! seal swaps log for chunks in one transaction: a crash loses at most the
//! flush interval in progress (the aggregator's, in memory), a graceful
//! shutdown nothing.
//!
//! # Layout
//! - [`codec`]: chunk encoding; [`point`]: point payloads and rollups
//! - [`head`], [`wal`]: unsealed points and their log
//! - [`chunks`]: the chunk table; [`seal`]: head to chunks and rollups
//! - [`schema`]: retention schemas; [`catalog`]: the cached catalog
//! - [`cache`]: decoded chunks kept for reads; [`grid`]: points folded
//!   into a render's buckets

pub mod cache;
pub mod catalog;
pub mod chunks;
pub mod codec;
pub mod grid;
pub mod head;
pub mod point;
pub mod schema;
pub mod seal;
pub mod wal;

use std::borrow::Borrow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock as SyncRwLock};

use rusqlite::Connection;
use tokio::sync::RwLock;

use self::cache::ChunkCache;
use self::catalog::{Catalog, Entry};
use self::grid::Grid;
use self::head::{Head, Sample};
use self::point::{fold_into_buckets, Agg, RawValue};
use self::schema::{Level, Schema, Schemas};
use self::seal::SealReport;
use crate::metrics::{SeriesKey, TimerSummary};
use crate::store::metrics::{all_series, ensure_series, Series, SeriesKind};
use crate::store::{Store, StoreError};
use crate::telemetry::Telemetry;

/// How the store behaves.
#[derive(Debug, Clone)]
pub struct TsdbConfig {
    pub schemas: Schemas,
    /// Series the catalog may hold; new ones past it are refused.
    pub max_series: u64,
    /// Head points above which the oldest open windows are sealed early.
    pub max_head_points: usize,
    /// Seconds a window stays open after its end, for late points.
    pub seal_grace_secs: i64,
}

/// One point on its way in, before its series is resolved. The key is a
/// [`SeriesKey`] or anything that borrows as one: carbon hands in shared
/// keys (`Arc<SeriesKey>`) so a point does not allocate its name.
#[derive(Debug, Clone, PartialEq)]
pub struct Row<K = SeriesKey> {
    pub key: K,
    pub kind: SeriesKind,
    /// Unix seconds; aligned to the series' raw step on the way in.
    pub ts: i64,
    pub value: RawValue,
}

/// What [`Tsdb::ingest`] did with a batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestReport {
    pub written: u64,
    /// Rows refused because their series is new and the catalog is full.
    pub over_limit: u64,
}

/// Handle to the store; clones share it.
#[derive(Clone)]
pub struct Tsdb {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    config: TsdbConfig,
    telemetry: Arc<Telemetry>,
    catalog: SyncRwLock<Catalog>,
    /// Async lock: a seal holds it across its commit, so a reader never
    /// sees a window both sealed and in the head, nor in neither.
    head: RwLock<Head>,
    /// Decoded chunks for reads (seals decode without it: they would fill
    /// it with every window they touch).
    chunk_cache: Arc<ChunkCache>,
    /// Buffers of the last ingest, kept for the next one: a carbon batch is
    /// up to 200,000 rows, and fresh buffers that size cost page faults
    /// (the kernel zeroes every new page) on each batch.
    scratch: Mutex<Scratch>,
}

/// The per-batch buffers of [`Tsdb::ingest`], empty between batches.
#[derive(Default)]
struct Scratch {
    entries: Vec<Option<Entry>>,
    placed: Vec<(Sample, SeriesKind, i64)>,
}

/// Scratch buffers larger than this (in rows) are dropped after a batch
/// instead of kept, so one huge StatsD interval does not pin its memory.
const SCRATCH_KEEP_ROWS: usize = 1 << 18;

impl Tsdb {
    /// Loads the catalog and replays the write-ahead log into the head.
    pub async fn open(
        store: Store,
        config: TsdbConfig,
        telemetry: Arc<Telemetry>,
    ) -> Result<Tsdb, StoreError> {
        let (series, (samples, corrupt)) = store
            .read(|conn| Ok((all_series(conn)?, wal::read_all(conn)?)))
            .await?;
        if corrupt > 0 {
            tracing::error!(
                batches = corrupt,
                "corrupt metric log batches were skipped at start"
            );
        }
        let catalog = Catalog::new(series, &config.schemas);
        let mut head = Head::default();
        let replayed = samples.len();
        for sample in samples {
            if let Some(entry) = catalog.by_id(sample.series_id) {
                let window = config
                    .schemas
                    .get(entry.schema)
                    .raw()
                    .window_start(sample.ts);
                head.apply(sample, entry.kind, window);
            }
        }
        if replayed > 0 {
            tracing::info!(points = replayed, "metric log replayed");
        }
        telemetry.metric_series.set(catalog.len() as i64);
        telemetry.metric_head_points.set(head.len() as i64);
        Ok(Tsdb {
            inner: Arc::new(Inner {
                store,
                config,
                telemetry,
                catalog: SyncRwLock::new(catalog),
                head: RwLock::new(head),
                chunk_cache: Arc::new(ChunkCache::new(cache::DEFAULT_BUDGET_BYTES)),
                scratch: Mutex::default(),
            }),
        })
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Every series, sorted by name and tags.
    pub fn catalog(&self) -> Arc<Vec<Series>> {
        match self.inner.catalog.read() {
            Ok(catalog) => catalog.sorted(),
            Err(poisoned) => poisoned.into_inner().sorted(),
        }
    }

    fn entry(&self, series_id: i64) -> Option<Entry> {
        match self.inner.catalog.read() {
            Ok(catalog) => catalog.by_id(series_id),
            Err(poisoned) => poisoned.into_inner().by_id(series_id),
        }
    }

    /// The schema of series no pattern matches.
    pub fn default_schema(&self) -> &Schema {
        self.inner.config.schemas.default()
    }

    /// The schema a series is kept by.
    pub fn schema_of(&self, series_id: i64) -> &Schema {
        let schemas = &self.inner.config.schemas;
        match self.entry(series_id) {
            Some(entry) => schemas.get(entry.schema),
            None => schemas.default(),
        }
    }

    /// Resolves, aligns, logs and adds a batch. Returns once the batch is
    /// committed to the log.
    pub async fn ingest<K: Borrow<SeriesKey>>(
        &self,
        mut rows: Vec<Row<K>>,
    ) -> Result<IngestReport, StoreError> {
        self.ingest_from(&mut rows).await
    }

    /// [`Tsdb::ingest`] that empties `rows` and leaves its capacity to the
    /// caller, who fills it again for the next batch.
    pub async fn ingest_from<K: Borrow<SeriesKey>>(
        &self,
        rows: &mut Vec<Row<K>>,
    ) -> Result<IngestReport, StoreError> {
        if rows.is_empty() {
            return Ok(IngestReport::default());
        }
        let mut scratch = self.take_scratch();
        let result = self.ingest_with(rows, &mut scratch).await;
        rows.clear();
        self.keep_scratch(scratch);
        result
    }

    async fn ingest_with<K: Borrow<SeriesKey>>(
        &self,
        rows: &mut Vec<Row<K>>,
        scratch: &mut Scratch,
    ) -> Result<IngestReport, StoreError> {
        let entries = &mut scratch.entries;
        self.resolve(rows, entries).await?;
        let schemas = &self.inner.config.schemas;
        let mut report = IngestReport::default();
        let placed = &mut scratch.placed;
        placed.reserve(rows.len());
        for (row, entry) in rows.drain(..).zip(entries.drain(..)) {
            let Some(entry) = entry else {
                report.over_limit += 1;
                continue;
            };
            let raw = schemas.get(entry.schema).raw();
            let sample = Sample {
                series_id: entry.id,
                ts: raw.align(row.ts),
                value: row.value,
            };
            placed.push((sample, entry.kind, raw.window_start(row.ts)));
        }
        report.written = placed.len() as u64;
        if placed.is_empty() {
            return Ok(report);
        }
        let batch = wal::encode(placed.iter().map(|(sample, _, _)| sample))?;
        self.inner
            .store
            .write(move |conn| wal::append(conn, &batch))
            .await?;
        let mut head = self.inner.head.write().await;
        for (sample, kind, window) in placed.drain(..) {
            head.apply(sample, kind, window);
        }
        self.inner
            .telemetry
            .metric_head_points
            .set(head.len() as i64);
        Ok(report)
    }

    fn take_scratch(&self) -> Scratch {
        match self.inner.scratch.lock() {
            Ok(mut scratch) => std::mem::take(&mut *scratch),
            Err(_) => Scratch::default(),
        }
    }

    /// Keeps a batch's buffers for the next one (cleared: an error may
    /// have left rows in them).
    fn keep_scratch(&self, mut scratch: Scratch) {
        if scratch.entries.capacity() > SCRATCH_KEEP_ROWS
            || scratch.placed.capacity() > SCRATCH_KEEP_ROWS
        {
            return;
        }
        scratch.entries.clear();
        scratch.placed.clear();
        if let Ok(mut kept) = self.inner.scratch.lock() {
            *kept = scratch;
        }
    }

    /// Fills `entries` with the catalog entry of each row's series,
    /// creating new series while the cap allows; `None` for rows refused
    /// by the cap.
    async fn resolve<K: Borrow<SeriesKey>>(
        &self,
        rows: &[Row<K>],
        entries: &mut Vec<Option<Entry>>,
    ) -> Result<(), StoreError> {
        // Keyed by what senders chose: a randomly seeded hasher.
        let mut missing: foldhash::HashMap<SeriesKey, SeriesKind> = HashMap::default();
        entries.clear();
        entries.reserve(rows.len());
        {
            let catalog = self.read_catalog();
            for row in rows {
                let key = row.key.borrow();
                let entry = catalog.get(key);
                if entry.is_none() && !missing.contains_key(key) {
                    missing.insert(key.clone(), row.kind);
                }
                entries.push(entry);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let room = {
            let catalog = self.read_catalog();
            self.inner
                .config
                .max_series
                .saturating_sub(catalog.len() as u64)
        };
        let mut to_create: Vec<(SeriesKey, SeriesKind)> = missing.into_iter().collect();
        to_create.sort_by(|a, b| a.0.cmp(&b.0));
        to_create.truncate(usize::try_from(room).unwrap_or(usize::MAX));
        let created = self
            .inner
            .store
            .write(move |conn| {
                let mut created = Vec::with_capacity(to_create.len());
                for (key, kind) in &to_create {
                    if let Some(series) = ensure_series(conn, key, *kind, None)? {
                        created.push(series);
                    }
                }
                Ok(created)
            })
            .await?;
        let mut catalog = match self.inner.catalog.write() {
            Ok(catalog) => catalog,
            Err(poisoned) => poisoned.into_inner(),
        };
        catalog.insert(created, &self.inner.config.schemas);
        self.inner.telemetry.metric_series.set(catalog.len() as i64);
        for (entry, row) in entries.iter_mut().zip(rows) {
            if entry.is_none() {
                *entry = catalog.get(row.key.borrow());
            }
        }
        Ok(())
    }

    fn read_catalog(&self) -> std::sync::RwLockReadGuard<'_, Catalog> {
        match self.inner.catalog.read() {
            Ok(catalog) => catalog,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Seals every head window closed by `now` (and the oldest open ones
    /// when the head is over its cap), then rewrites the log to what stays
    /// in the head.
    pub async fn seal(&self, now: i64) -> Result<SealReport, StoreError> {
        let mut head = self.inner.head.write().await;
        let closed_by = now - self.inner.config.seal_grace_secs;
        let windows = head.to_seal(
            closed_by,
            |series_id| self.schema_of(series_id).raw().window,
            self.inner.config.max_head_points,
        );
        if windows.is_empty() {
            return Ok(SealReport::default());
        }
        // What the log holds after this seal: the head minus the sealed
        // windows.
        let sealed: std::collections::HashSet<(i64, i64)> =
            windows.iter().map(|w| (w.series_id, w.start)).collect();
        let remaining = head.snapshot(|series_id, start| !sealed.contains(&(series_id, start)));
        let log = if remaining.is_empty() {
            None
        } else {
            Some(wal::encode(remaining.iter())?)
        };
        let levels: HashMap<i64, Vec<Level>> = windows
            .iter()
            .map(|w| (w.series_id, self.schema_of(w.series_id).levels.clone()))
            .collect();
        let to_write = windows.clone();
        let report = self
            .inner
            .store
            .write(move |conn| {
                let report = seal::seal(conn, &to_write, |id| {
                    levels.get(&id).map_or(&[][..], Vec::as_slice)
                })?;
                wal::rewrite(conn, log.as_deref())?;
                Ok(report)
            })
            .await?;
        head.remove(&windows);
        let telemetry = &self.inner.telemetry;
        telemetry.metric_head_points.set(head.len() as i64);
        telemetry.metric_chunks_written.inc_by(report.chunks as u64);
        telemetry
            .metric_chunk_bytes_written
            .inc_by(report.bytes as u64);
        Ok(report)
    }

    /// Deletes chunks past their level's retention; returns how many.
    pub async fn enforce_retention(&self, now: i64) -> Result<usize, StoreError> {
        let plan: Vec<(i64, Vec<Level>)> = self
            .catalog()
            .iter()
            .map(|s| (s.id, self.schema_of(s.id).levels.clone()))
            .collect();
        self.inner
            .store
            .write(move |conn| {
                let mut deleted = 0;
                for (series_id, levels) in &plan {
                    for (index, level) in levels.iter().enumerate() {
                        deleted += chunks::delete_expired(
                            conn,
                            *series_id,
                            index,
                            level.window,
                            now - level.retention,
                        )?;
                    }
                }
                Ok(deleted)
            })
            .await
    }

    /// Points of `series` at `level` in `[from, until)`, oldest first:
    /// stored chunks with the head's unsealed points over them. Blocking
    /// (it reads SQLite and waits for the head): call it on a store
    /// reader.
    pub fn read(
        &self,
        conn: &Connection,
        series: &Series,
        level: usize,
        from: i64,
        until: i64,
    ) -> Result<Vec<(i64, Agg)>, StoreError> {
        self.begin_read(conn, series, level, from, until)?.finish()
    }

    /// The I/O half of [`Tsdb::read`]: the compressed chunks and the head
    /// points, copied out. Decoding them ([`PendingRead::finish`]) is the
    /// costly half, and needs neither the connection nor the head lock, so
    /// a render can decode many series in parallel.
    pub fn begin_read(
        &self,
        conn: &Connection,
        series: &Series,
        level: usize,
        from: i64,
        until: i64,
    ) -> Result<PendingRead, StoreError> {
        let schema = self.schema_of(series.id);
        let mut pending = PendingRead {
            series_id: series.id,
            kind: series.kind,
            level,
            step: schema.raw().step,
            from,
            until,
            stored: Vec::new(),
            head: Vec::new(),
            cache: Arc::clone(&self.inner.chunk_cache),
        };
        let Some(level_def) = schema.levels.get(level) else {
            return Ok(pending);
        };
        pending.step = level_def.step;
        // Head points of the buckets that overlap the range.
        pending.head = {
            let head = self.inner.head.blocking_read();
            head.points(
                series.id,
                level_def.align(from),
                level_def.align(until + level_def.step - 1),
            )
        };
        pending.stored =
            chunks::overlapping_blobs(conn, series.id, level, level_def.window, from, until)?;
        Ok(pending)
    }
}

/// A read whose data is fetched but not decoded; see [`Tsdb::begin_read`].
pub struct PendingRead {
    series_id: i64,
    kind: SeriesKind,
    level: usize,
    /// The level's step: head points fold into buckets of it.
    step: i64,
    from: i64,
    until: i64,
    stored: Vec<chunks::StoredChunk>,
    head: Vec<(i64, RawValue)>,
    cache: Arc<ChunkCache>,
}

impl PendingRead {
    /// Decodes the chunks and lays the head's points over them: the
    /// points [`Tsdb::read`] returns. Pure CPU.
    pub fn finish(self) -> Result<Vec<(i64, Agg)>, StoreError> {
        let (from, until) = (self.from, self.until);
        if self.level == 0 {
            let mut points = Vec::new();
            self.walk_raw(|ts, point| {
                points.push((
                    ts,
                    match point {
                        RawPoint::Stored { value, summary } => Agg {
                            summary: summary.map(Box::new),
                            ..Agg::plain(value)
                        },
                        RawPoint::Combined(agg) => agg,
                    },
                ));
            })?;
            return Ok(points);
        }
        let mut points = chunks::decode_rollup(
            self.series_id,
            self.level,
            &self.stored,
            from,
            until,
            Some(&self.cache),
        )?;
        let unsealed =
            fold_into_buckets(self.head.iter().map(|(ts, v)| (*ts, Agg::of(v))), self.step);
        for (bucket, agg) in unsealed {
            if !(from..until).contains(&bucket) {
                continue;
            }
            match points.binary_search_by_key(&bucket, |p| p.0) {
                Ok(i) => {
                    if let Some(slot) = points.get_mut(i) {
                        slot.1.merge(&agg);
                    }
                }
                Err(i) => points.insert(i, (bucket, agg)),
            }
        }
        Ok(points)
    }
}

impl PendingRead {
    /// What [`PendingRead::finish`] gives, folded into `grid` as it is
    /// decoded: a raw read makes no vector of its points (a day of them
    /// for each series of a panel), and only timers' points make an
    /// aggregate each.
    pub fn finish_onto(self, grid: &mut Grid) -> Result<(), StoreError> {
        let (from, until) = (self.from, self.until);
        if self.level != 0 {
            // The head's points folded into this level's buckets, merged
            // into the stored bucket of the same time as `finish` does.
            let mut unsealed =
                fold_into_buckets(self.head.iter().map(|(ts, v)| (*ts, Agg::of(v))), self.step)
                    .into_iter()
                    .filter(|(bucket, _)| (from..until).contains(bucket))
                    .peekable();
            chunks::visit_rollup(
                self.series_id,
                self.level,
                &self.stored,
                from,
                until,
                Some(&self.cache),
                |ts, mut agg| {
                    while let Some((earlier, head)) = unsealed.next_if(|(bucket, _)| *bucket < ts) {
                        grid.add(earlier, head);
                    }
                    if let Some((_, head)) = unsealed.next_if(|(bucket, _)| *bucket == ts) {
                        agg.merge(&head);
                    }
                    grid.add(ts, agg);
                },
            )?;
            for (bucket, head) in unsealed {
                grid.add(bucket, head);
            }
            return Ok(());
        }
        self.walk_raw(|ts, point| match point {
            RawPoint::Stored { value, summary } => grid.add_raw(ts, value, summary),
            RawPoint::Combined(agg) => grid.add(ts, agg),
        })
    }

    /// Calls `visit` with each raw point in `[from, until)`, oldest first:
    /// the stored ones as they are decoded, and the head's over them. A
    /// stored point with a head point in its slot is combined with it
    /// first, as `finish` of the head does.
    fn walk_raw(self, mut visit: impl FnMut(i64, RawPoint)) -> Result<(), StoreError> {
        let (from, until, kind) = (self.from, self.until, self.kind);
        // The head's points in time order, one per slot, to walk beside
        // the stored ones.
        let mut head: Vec<(i64, RawValue)> = Vec::with_capacity(self.head.len());
        let mut unsorted = self.head;
        unsorted.retain(|(ts, _)| (from..until).contains(ts));
        unsorted.sort_by_key(|point| point.0);
        for (ts, value) in unsorted {
            match head.last_mut() {
                Some((last_ts, last)) if *last_ts == ts => last.combine(value, kind),
                _ => head.push((ts, value)),
            }
        }
        let mut head = head.into_iter().peekable();
        chunks::visit_raw(
            self.series_id,
            &self.stored,
            from,
            until,
            Some(&self.cache),
            |ts, value, summary| {
                while let Some((earlier, point)) = head.next_if(|(head_ts, _)| *head_ts < ts) {
                    visit(earlier, RawPoint::Combined(Agg::of(&point)));
                }
                match head.next_if(|(head_ts, _)| *head_ts == ts) {
                    Some((_, later)) => {
                        let mut stored = RawValue::from_stored(value, summary.as_ref());
                        stored.combine(later, kind);
                        visit(ts, RawPoint::Combined(Agg::of(&stored)));
                    }
                    None => visit(ts, RawPoint::Stored { value, summary }),
                }
            },
        )?;
        for (ts, point) in head {
            visit(ts, RawPoint::Combined(Agg::of(&point)));
        }
        Ok(())
    }
}

/// A raw point of a read, as [`PendingRead::walk_raw`] gives it.
enum RawPoint {
    /// A stored point alone: its value (a timer's count) and a timer's
    /// summary, not yet made an aggregate (a plain one never is).
    Stored {
        value: f64,
        summary: Option<TimerSummary>,
    },
    /// A head point, or a stored one combined with the head's.
    Combined(Agg),
}

/// A configuration for tests: the default schema at a 10 s flush.
#[cfg(test)]
pub fn test_config() -> TsdbConfig {
    TsdbConfig {
        schemas: Schemas::new(&[], schema::DEFAULT_RETENTIONS, 10)
            .unwrap_or_else(|e| panic!("{e}")),
        max_series: 1000,
        max_head_points: 1_000_000,
        seal_grace_secs: 60,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::TimerSummary;

    const HOUR: i64 = 3600;
    /// A day boundary, so windows and rollup buckets line up simply.
    const T0: i64 = 1_700_006_400;

    async fn open(dir: &std::path::Path, config: TsdbConfig) -> Tsdb {
        let store = Store::open(dir).unwrap();
        Tsdb::open(store, config, Arc::default()).await.unwrap()
    }

    fn gauge(name: &str, ts: i64, value: f64) -> Row {
        Row {
            key: SeriesKey::new(name.into(), []),
            kind: SeriesKind::Gauge,
            ts,
            value: RawValue::Plain(value),
        }
    }

    fn counter(name: &str, ts: i64, value: f64) -> Row {
        Row {
            kind: SeriesKind::Counter,
            ..gauge(name, ts, value)
        }
    }

    fn timer(name: &str, ts: i64, samples: &[f64]) -> Row {
        let mut summary = TimerSummary::default();
        for &s in samples {
            summary.sketch.add(s, 1);
            summary.sum_of_squares += s * s;
        }
        Row {
            key: SeriesKey::new(name.into(), []),
            kind: SeriesKind::Timer,
            ts,
            value: RawValue::Timer {
                count: samples.len() as f64,
                summary: summary.encode().into_boxed_slice(),
            },
        }
    }

    async fn read(tsdb: &Tsdb, name: &str, level: usize, from: i64, until: i64) -> Vec<(i64, Agg)> {
        let reader = tsdb.clone();
        let name = name.to_owned();
        tsdb.store()
            .read(move |conn| {
                let catalog = reader.catalog();
                let series = catalog.iter().find(|s| s.key.name == name).unwrap();
                reader.read(conn, series, level, from, until)
            })
            .await
            .unwrap()
    }

    fn sums(points: &[(i64, Agg)]) -> Vec<(i64, f64)> {
        points.iter().map(|(ts, a)| (*ts, a.sum)).collect()
    }

    async fn chunk_count(tsdb: &Tsdb) -> i64 {
        tsdb.store()
            .read(
                |conn| Ok(conn.query_row("SELECT count(*) FROM metric_chunks", [], |r| r.get(0))?),
            )
            .await
            .unwrap()
    }

    /// Two hours of a gauge: the first hour's window seals into a raw chunk
    /// and its rollups; reads give the same points before and after, at
    /// every level, and the rollups hold min, max, sum, count and last.
    #[tokio::test]
    async fn sealing_keeps_every_point_and_rollups_are_exact() {
        let dir = tempfile::tempdir().unwrap();
        let tsdb = open(dir.path(), test_config()).await;
        let rows: Vec<Row> = (0..720)
            .map(|i| gauge("load", T0 + i * 10, f64::from(i as i32 % 7)))
            .collect();
        tsdb.ingest(rows).await.unwrap();
        let before = read(&tsdb, "load", 0, T0, T0 + 2 * HOUR).await;
        assert_eq!(before.len(), 720);
        let minute_before = read(&tsdb, "load", 1, T0, T0 + 2 * HOUR).await;

        // An hour and a minute later the first window has closed (grace 60 s).
        let report = tsdb.seal(T0 + HOUR + 60).await.unwrap();
        assert_eq!(report.raw_points, 360);
        assert_eq!(report.chunks, 3, "raw, 1 min and 1 h chunks");
        assert_eq!(chunk_count(&tsdb).await, 3);
        let after = read(&tsdb, "load", 0, T0, T0 + 2 * HOUR).await;
        assert_eq!(sums(&after), sums(&before));

        let minutes = read(&tsdb, "load", 1, T0, T0 + 2 * HOUR).await;
        assert_eq!(sums(&minutes), sums(&minute_before));
        assert_eq!(minutes.len(), 120);
        let first = &minutes[0].1;
        assert_eq!(
            (first.n, first.sum, first.min, first.max, first.last),
            (6.0, 15.0, 0.0, 5.0, 5.0)
        );
        let hours = read(&tsdb, "load", 2, T0, T0 + 2 * HOUR).await;
        assert_eq!(hours.len(), 2);
        let raw_total: f64 = before.iter().map(|(_, a)| a.sum).sum();
        assert_eq!(hours.iter().map(|(_, a)| a.sum).sum::<f64>(), raw_total);
        assert_eq!(hours[0].1.n, 360.0);
        assert_eq!(hours[0].1.max, 6.0);
    }

    /// Late points for a sealed window, and a counter interval written
    /// twice (a shutdown flush and its completion), merge into the chunk
    /// and its rollups are recomputed, not double counted.
    #[tokio::test]
    async fn late_points_merge_into_sealed_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let tsdb = open(dir.path(), test_config()).await;
        tsdb.ingest(vec![
            counter("hits", T0, 2.0),
            counter("hits", T0 + 10, 3.0),
        ])
        .await
        .unwrap();
        tsdb.seal(T0 + 2 * HOUR).await.unwrap();
        tsdb.ingest(vec![
            counter("hits", T0 + 10, 4.0),
            counter("hits", T0 + 20, 1.0),
        ])
        .await
        .unwrap();
        // Before the next seal, the head is laid over the chunk.
        let raw = read(&tsdb, "hits", 0, T0, T0 + HOUR).await;
        assert_eq!(sums(&raw), [(T0, 2.0), (T0 + 10, 7.0), (T0 + 20, 1.0)]);
        let hour = read(&tsdb, "hits", 2, T0, T0 + HOUR).await;
        assert_eq!(sums(&hour), [(T0, 10.0)]);
        tsdb.seal(T0 + 2 * HOUR).await.unwrap();
        let raw = read(&tsdb, "hits", 0, T0, T0 + HOUR).await;
        assert_eq!(sums(&raw), [(T0, 2.0), (T0 + 10, 7.0), (T0 + 20, 1.0)]);
        let hour = read(&tsdb, "hits", 2, T0, T0 + HOUR).await;
        assert_eq!(sums(&hour), [(T0, 10.0)]);
        assert_eq!(hour[0].1.n, 3.0);
    }

    /// A render folds points into its grid as they are decoded; what it
    /// gets is the grid of the points a read gives, stored points with
    /// late head points in their slots included, for every kind.
    #[tokio::test]
    async fn a_grid_read_folds_what_a_point_read_gives() {
        let dir = tempfile::tempdir().unwrap();
        let tsdb = open(dir.path(), test_config()).await;
        let rows = |offset: i64, scale: f64| -> Vec<Row> {
            (0..400)
                .step_by(3)
                .flat_map(|i| {
                    let ts = T0 + (i + offset) * 10;
                    let v = scale * f64::from(i as i32 % 11);
                    [
                        counter("c", ts, v),
                        gauge("g", ts, v - 2.0),
                        timer("t", ts, &[v + 1.0, 2.0 * v + 1.5]),
                    ]
                })
                .collect()
        };
        // What each slot should hold: every row of it combined in the
        // order it came, whether it was sealed by then or not.
        let mut expected_raw: HashMap<(String, i64), RawValue> = HashMap::new();
        for batch in [rows(0, 1.0), rows(0, 0.5), rows(1, 2.0)] {
            for row in batch {
                match expected_raw.entry((row.key.name.clone(), row.ts)) {
                    std::collections::hash_map::Entry::Occupied(mut slot) => {
                        slot.get_mut().combine(row.value, row.kind)
                    }
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(row.value);
                    }
                }
            }
        }
        tsdb.ingest(rows(0, 1.0)).await.unwrap();
        tsdb.seal(T0 + HOUR + 60).await.unwrap();
        // Late points: some in slots the chunk holds, some between them.
        tsdb.ingest(rows(0, 0.5)).await.unwrap();
        tsdb.ingest(rows(1, 2.0)).await.unwrap();
        for name in ["c", "g", "t"] {
            let raw = read(&tsdb, name, 0, T0, T0 + 2 * HOUR).await;
            let slots = expected_raw.keys().filter(|(n, _)| n == name).count();
            assert_eq!(raw.len(), slots, "{name}: one point per slot");
            for (ts, agg) in &raw {
                let expected = &expected_raw[&(name.to_owned(), *ts)];
                assert_eq!(agg.sum, expected.value(), "{name} at {ts}");
                let count = |summary: Option<&TimerSummary>| summary.map(|s| s.sketch.count());
                assert_eq!(
                    count(agg.summary.as_deref()),
                    count(Agg::of(expected).summary.as_deref()),
                    "{name} at {ts}"
                );
            }
        }
        for name in ["c", "g", "t"] {
            for (level, step) in [(0, 10), (0, 90), (1, 120)] {
                let reader = tsdb.clone();
                let (grid, points) = tsdb
                    .store()
                    .read(move |conn| {
                        let catalog = reader.catalog();
                        let series = catalog.iter().find(|s| s.key.name == name).unwrap();
                        let (from, until) = (T0, T0 + 2 * HOUR);
                        let mut grid = Grid::new(from, step, 80);
                        reader
                            .begin_read(conn, series, level, from, until)?
                            .finish_onto(&mut grid)?;
                        let points = reader
                            .begin_read(conn, series, level, from, until)?
                            .finish()?;
                        Ok((grid, points))
                    })
                    .await
                    .unwrap();
                assert!(points.len() > 60, "{name}: {} points", points.len());
                let mut expected = Grid::new(T0, step, 80);
                for (ts, agg) in points {
                    expected.add(ts, agg);
                }
                assert_eq!(grid, expected, "series {name}, level {level}, step {step}");
            }
        }
    }

    /// A raw chunk whose timer summaries do not read fails a read with an
    /// error (never wrong points), and the next seal of its window
    /// replaces it instead of failing for ever.
    #[tokio::test]
    async fn a_chunk_with_unreadable_summaries_is_an_error_then_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let tsdb = open(dir.path(), test_config()).await;
        let rows: Vec<Row> = (0..6)
            .map(|i| timer("t", T0 + i * 10, &[1.5, f64::from(i as i32) + 2.0]))
            .collect();
        tsdb.ingest(rows).await.unwrap();
        tsdb.seal(T0 + HOUR + 60).await.unwrap();
        tsdb.store()
            .write(|conn| {
                let blob: Vec<u8> = conn.query_row(
                    "SELECT blob FROM metric_chunks WHERE level = 0 AND start = ?1",
                    [T0],
                    |row| row.get(0),
                )?;
                let columns = codec::decode(&blob).unwrap();
                assert!(matches!(columns.blobs, codec::Blobs::Summaries(_)));
                let corrupt = codec::with_corrupt_summaries(&codec::Columns {
                    blobs: codec::Blobs::Each(columns.blobs.each().unwrap().into_owned()),
                    ..columns
                });
                conn.execute(
                    "UPDATE metric_chunks SET blob = ?1 WHERE level = 0 AND start = ?2",
                    rusqlite::params![corrupt, T0],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        let reader = tsdb.clone();
        let failed = tsdb
            .store()
            .read(move |conn| {
                let catalog = reader.catalog();
                let series = catalog.iter().find(|s| s.key.name == "t").unwrap();
                reader.read(conn, series, 0, T0, T0 + HOUR)
            })
            .await;
        assert!(
            matches!(&failed, Err(StoreError::Task(why)) if why.contains("unreadable")),
            "{failed:?}"
        );
        // A late point in the window: the seal replaces the chunk.
        tsdb.ingest(vec![timer("t", T0 + 100, &[9.0])])
            .await
            .unwrap();
        tsdb.seal(T0 + HOUR + 120).await.unwrap();
        let points = read(&tsdb, "t", 0, T0, T0 + HOUR).await;
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].0, T0 + 100);
        assert_eq!(points[0].1.summary.as_ref().unwrap().sketch.count(), 1);
    }

    /// Timer sketches survive sealing and rolling up: the hour's p99 is
    /// the p99 of all its samples.
    #[tokio::test]
    async fn timer_rollups_merge_sketches() {
        let dir = tempfile::tempdir().unwrap();
        let tsdb = open(dir.path(), test_config()).await;
        let mut all: Vec<f64> = Vec::new();
        let mut rows = Vec::new();
        for i in 0..360 {
            let samples: Vec<f64> = (0..10).map(|j| f64::from(i * 10 + j + 1)).collect();
            all.extend(&samples);
            rows.push(timer("stats.timers.api", T0 + i64::from(i) * 10, &samples));
        }
        tsdb.ingest(rows).await.unwrap();
        tsdb.seal(T0 + 2 * HOUR).await.unwrap();
        let hour = read(&tsdb, "stats.timers.api", 2, T0, T0 + HOUR).await;
        let summary = hour[0].1.summary.as_ref().unwrap();
        assert_eq!(summary.sketch.count(), 3600);
        let p99 = summary.sketch.quantile(0.99).unwrap();
        assert!((p99 - 3564.0).abs() <= 0.01 * 3564.0, "{p99}");
        assert_eq!(hour[0].1.sum, 3600.0);
    }

    /// The head survives a restart through the log; sealed chunks do too,
    /// and the log is emptied by a seal of everything.
    #[tokio::test]
    async fn a_restart_replays_the_head() {
        let dir = tempfile::tempdir().unwrap();
        {
            let tsdb = open(dir.path(), test_config()).await;
            tsdb.ingest(vec![gauge("a", T0, 1.0), gauge("a", T0 + HOUR, 2.0)])
                .await
                .unwrap();
            tsdb.seal(T0 + HOUR + 60).await.unwrap();
            tsdb.ingest(vec![counter("b", T0 + HOUR, 5.0)])
                .await
                .unwrap();
        }
        let tsdb = open(dir.path(), test_config()).await;
        assert_eq!(
            sums(&read(&tsdb, "a", 0, T0, T0 + 2 * HOUR).await),
            [(T0, 1.0), (T0 + HOUR, 2.0)]
        );
        // The counter's partial interval completes after the restart.
        tsdb.ingest(vec![counter("b", T0 + HOUR, 1.0)])
            .await
            .unwrap();
        assert_eq!(
            sums(&read(&tsdb, "b", 0, T0, T0 + 2 * HOUR).await),
            [(T0 + HOUR, 6.0)]
        );
        tsdb.seal(T0 + 3 * HOUR).await.unwrap();
        let log_rows: i64 = tsdb
            .store()
            .read(|conn| Ok(conn.query_row("SELECT count(*) FROM metric_wal", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(log_rows, 0);
        assert_eq!(
            sums(&read(&tsdb, "b", 0, T0, T0 + 2 * HOUR).await),
            [(T0 + HOUR, 6.0)]
        );
    }

    /// With an injected clock: raw chunks go after their retention, rollups
    /// stay until theirs, and queries then read the rollups.
    #[tokio::test]
    async fn retention_drops_each_level_after_its_time() {
        let dir = tempfile::tempdir().unwrap();
        let config = TsdbConfig {
            schemas: Schemas::new(&[], "10s:1d,1m:7d,1h:30d", 10).unwrap(),
            ..test_config()
        };
        let tsdb = open(dir.path(), config).await;
        tsdb.ingest((0..360).map(|i| gauge("g", T0 + i * 10, 1.0)).collect())
            .await
            .unwrap();
        tsdb.seal(T0 + 2 * HOUR).await.unwrap();
        assert_eq!(chunk_count(&tsdb).await, 3);
        assert_eq!(tsdb.enforce_retention(T0 + 86_400).await.unwrap(), 0);
        assert_eq!(tsdb.enforce_retention(T0 + HOUR + 86_400).await.unwrap(), 1);
        assert!(read(&tsdb, "g", 0, T0, T0 + HOUR).await.is_empty());
        assert_eq!(read(&tsdb, "g", 1, T0, T0 + HOUR).await.len(), 60);
        assert_eq!(tsdb.enforce_retention(T0 + 8 * 86_400).await.unwrap(), 1);
        assert_eq!(read(&tsdb, "g", 2, T0, T0 + HOUR).await.len(), 1);
        // Whole chunks go: the hour level's 15-day window must have ended
        // 30 days ago.
        assert_eq!(tsdb.enforce_retention(T0 + 31 * 86_400).await.unwrap(), 0);
        assert_eq!(tsdb.enforce_retention(T0 + 46 * 86_400).await.unwrap(), 1);
        assert_eq!(chunk_count(&tsdb).await, 0);
    }

    /// A head over its cap seals its oldest open windows early.
    #[tokio::test]
    async fn an_oversized_head_is_sealed_early() {
        let dir = tempfile::tempdir().unwrap();
        let config = TsdbConfig {
            max_head_points: 100,
            ..test_config()
        };
        let tsdb = open(dir.path(), config).await;
        tsdb.ingest((0..300).map(|i| gauge("g", T0 + i * 10, 1.0)).collect())
            .await
            .unwrap();
        // Nothing has closed at T0, but 300 points exceed the cap of 100.
        tsdb.seal(T0).await.unwrap();
        assert_eq!(chunk_count(&tsdb).await, 3);
        assert_eq!(read(&tsdb, "g", 0, T0, T0 + HOUR).await.len(), 300);
    }

    #[tokio::test]
    async fn the_series_cap_refuses_new_series_only() {
        let dir = tempfile::tempdir().unwrap();
        let config = TsdbConfig {
            max_series: 2,
            ..test_config()
        };
        let tsdb = open(dir.path(), config).await;
        let report = tsdb
            .ingest(vec![
                gauge("a", T0, 1.0),
                gauge("b", T0, 1.0),
                gauge("c", T0, 1.0),
            ])
            .await
            .unwrap();
        assert_eq!((report.written, report.over_limit), (2, 1));
        let report = tsdb
            .ingest(vec![gauge("a", T0 + 10, 1.0), gauge("d", T0, 1.0)])
            .await
            .unwrap();
        assert_eq!((report.written, report.over_limit), (1, 1));
        assert_eq!(tsdb.catalog().len(), 2);
    }
}
