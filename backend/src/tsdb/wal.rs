//! The write-ahead log of the head: each batch of samples is one row of
//! `metric_wal`, committed before the samples enter the head, so a crash
//! loses nothing acknowledged and a restart replays the head.
//!
//! A seal writes chunks, deletes the log and writes back what is still
//! unsealed, all in one transaction: there is never a moment where a point
//! is in neither place, nor in both.
//!
//! Batch layout before zstd (varints LEB128):
//! ```text
//! version:u8  count
//! per sample: series_id  ts(zigzag)  tag:u8  value:f64le
//!             [tag 1 (timer): summary_len  summary bytes]
//! ```

use std::cell::RefCell;

use rusqlite::Connection;

use super::head::Sample;
use super::point::RawValue;
use crate::metrics::TimerSummary;
use crate::store::StoreError;
use crate::varint::{put_varint, unzigzag, zigzag, Reader};

const VERSION: u8 = 2;
/// Batches of earlier releases: the same layout, but their timer summaries
/// are in [`TimerSummary::decode_legacy`]'s form, upgraded on replay.
const LEGACY_SUMMARY_VERSION: u8 = 1;
const TAG_PLAIN: u8 = 0;
const TAG_TIMER: u8 = 1;
/// Fast: this runs on every flush, and rows live only until the next seal.
const ZSTD_LEVEL: i32 = 1;
/// Largest decompressed batch accepted when replaying.
const MAX_BATCH_BYTES: usize = 1 << 30;

/// Raw batches larger than this are not kept for the next batch.
const KEEP_RAW_BYTES: usize = 16 << 20;

thread_local! {
    /// The uncompressed buffer of the last batch this thread encoded: a
    /// fresh one grows through copies on every flush otherwise. (The zstd
    /// context is kept per thread too: [`crate::zstd_context`].)
    static RAW: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

pub fn encode<'a>(
    samples: impl ExactSizeIterator<Item = &'a Sample>,
) -> Result<Vec<u8>, StoreError> {
    let failed =
        |e: std::io::Error| StoreError::Task(format!("cannot compress a metrics log batch: {e}"));
    RAW.with(|cell| {
        let mut raw = cell
            .try_borrow_mut()
            .map_err(|_| StoreError::Task("metrics log encoder in use".to_owned()))?;
        raw.clear();
        encode_raw(&mut raw, samples);
        let compressed = crate::zstd_context::compress(ZSTD_LEVEL, &raw).map_err(failed);
        if raw.capacity() > KEEP_RAW_BYTES {
            *raw = Vec::new();
        }
        compressed
    })
}

fn encode_raw<'a>(raw: &mut Vec<u8>, samples: impl ExactSizeIterator<Item = &'a Sample>) {
    raw.reserve(8 + samples.len() * 14);
    raw.push(VERSION);
    put_varint(raw, samples.len() as u64);
    for sample in samples {
        put_varint(raw, zigzag(sample.series_id));
        put_varint(raw, zigzag(sample.ts));
        match &sample.value {
            RawValue::Plain(value) => {
                raw.push(TAG_PLAIN);
                raw.extend_from_slice(&value.to_le_bytes());
            }
            RawValue::Timer { count, summary } => {
                raw.push(TAG_TIMER);
                raw.extend_from_slice(&count.to_le_bytes());
                put_varint(raw, summary.len() as u64);
                raw.extend_from_slice(summary);
            }
        }
    }
}

/// Decodes a batch; `None` when it is corrupt.
pub fn decode(blob: &[u8]) -> Option<Vec<Sample>> {
    let raw = zstd::bulk::decompress(blob, MAX_BATCH_BYTES).ok()?;
    let mut cursor = Reader::new(&raw);
    let version = cursor.byte()?;
    if version != VERSION && version != LEGACY_SUMMARY_VERSION {
        return None;
    }
    let count = usize::try_from(cursor.varint()?).ok()?;
    // Each sample takes at least 11 bytes: a corrupt count cannot make
    // this allocate more than the batch's size.
    let mut samples = Vec::with_capacity(count.min(raw.len() / 11));
    for _ in 0..count {
        let series_id = unzigzag(cursor.varint()?);
        let ts = unzigzag(cursor.varint()?);
        let tag = cursor.byte()?;
        let value = cursor.f64()?;
        let value = match tag {
            TAG_PLAIN => RawValue::Plain(value),
            TAG_TIMER => {
                let len = usize::try_from(cursor.varint()?).ok()?;
                let summary = cursor.bytes(len)?;
                RawValue::Timer {
                    count: value,
                    summary: if version == LEGACY_SUMMARY_VERSION {
                        TimerSummary::upgrade_legacy(summary).into_boxed_slice()
                    } else {
                        summary.into()
                    },
                }
            }
            _ => return None,
        };
        samples.push(Sample {
            series_id,
            ts,
            value,
        });
    }
    cursor.is_done().then_some(samples)
}

/// Appends one encoded batch.
pub fn append(conn: &Connection, batch: &[u8]) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO metric_wal (batch) VALUES (?1)")?
        .execute([batch])?;
    Ok(())
}

/// Replaces the whole log with `batch` (the head after a seal).
pub fn rewrite(conn: &Connection, batch: Option<&[u8]>) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM metric_wal")?.execute([])?;
    if let Some(batch) = batch {
        append(conn, batch)?;
    }
    Ok(())
}

/// Every batch in order; corrupt ones are skipped and counted.
pub fn read_all(conn: &Connection) -> Result<(Vec<Sample>, usize), StoreError> {
    let mut stmt = conn.prepare("SELECT batch FROM metric_wal ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    let mut samples = Vec::new();
    let mut corrupt = 0;
    while let Some(row) = rows.next()? {
        let blob: Vec<u8> = row.get(0)?;
        match decode(&blob) {
            Some(batch) => samples.extend(batch),
            None => corrupt += 1,
        }
    }
    Ok((samples, corrupt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_and_garbage_is_refused() {
        let samples = [
            Sample {
                series_id: 7,
                ts: 1_700_000_000,
                value: RawValue::Plain(f64::NAN),
            },
            Sample {
                series_id: 1 << 40,
                ts: -5,
                value: RawValue::Timer {
                    count: 3.5,
                    summary: vec![1, 2, 3].into(),
                },
            },
        ];
        let decoded = decode(&encode(samples.iter()).unwrap()).unwrap();
        assert_eq!(decoded.len(), 2);
        assert!(decoded[0].value.value().is_nan());
        assert_eq!(decoded[1], samples[1]);
        assert_eq!(decode(b"junk"), None);
        let mut blob = encode(samples.iter()).unwrap();
        blob.truncate(blob.len() - 3);
        assert_eq!(decode(&blob), None);
    }

    #[test]
    fn batches_of_earlier_releases_replay_with_their_summaries_upgraded() {
        let (summary, legacy) = crate::metrics::tests::summary_and_legacy_bytes();
        let sample = Sample {
            series_id: 3,
            ts: 60,
            value: RawValue::Timer {
                count: 6.0,
                summary: legacy.into(),
            },
        };
        // Same layout, the version byte an earlier release wrote.
        let mut raw =
            zstd::bulk::decompress(&encode([&sample].into_iter()).unwrap(), 1 << 20).unwrap();
        raw[0] = LEGACY_SUMMARY_VERSION;
        let decoded = decode(&zstd::bulk::compress(&raw, 1).unwrap()).unwrap();
        assert_eq!(
            decoded[0].value,
            RawValue::Timer {
                count: 6.0,
                summary: summary.encode().into(),
            }
        );
    }

    proptest::proptest! {
        #[test]
        fn decoding_any_bytes_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = decode(&bytes);
            if let Ok(compressed) = zstd::bulk::compress(&bytes, 1) {
                let _ = decode(&compressed);
            }
        }
    }
}
