//! zstd contexts kept per thread, for the hot paths that compress or
//! decompress many small payloads (stored events, metric chunks, metric
//! log batches).
//!
//! `zstd::bulk::compress` makes a context per call: about a megabyte of
//! tables, zeroed by the kernel, which for a payload of a few kilobytes
//! costs as much as the compression itself. Each thread keeps one
//! compression context per level it has used (callers use one or two
//! fixed levels) and one decompression context.

use std::cell::RefCell;
use std::io;

thread_local! {
    static COMPRESSORS: RefCell<Vec<(i32, zstd::bulk::Compressor<'static>)>> =
        const { RefCell::new(Vec::new()) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

/// `data` compressed at `level`, with this thread's context for it.
pub fn compress(level: i32, data: &[u8]) -> io::Result<Vec<u8>> {
    COMPRESSORS.with(|cell| {
        let mut compressors = cell.try_borrow_mut().map_err(io::Error::other)?;
        let at = match compressors.iter().position(|(kept, _)| *kept == level) {
            Some(at) => at,
            None => {
                compressors.push((level, zstd::bulk::Compressor::new(level)?));
                compressors.len() - 1
            }
        };
        match compressors.get_mut(at) {
            Some((_, compressor)) => compressor.compress(data),
            None => Err(io::Error::other("zstd context missing")),
        }
    })
}

/// `data` decompressed, refused past `capacity` bytes, with this thread's
/// context.
pub fn decompress(data: &[u8], capacity: usize) -> io::Result<Vec<u8>> {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.try_borrow_mut().map_err(io::Error::other)?;
        let decompressor = match &mut *slot {
            Some(decompressor) => decompressor,
            empty => empty.insert(zstd::bulk::Decompressor::new()?),
        };
        decompressor.decompress(data, capacity)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_at_several_levels_on_one_thread() {
        let data: Vec<u8> = (0..50_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let fast = compress(1, &data).unwrap();
        let small = compress(19, &data).unwrap();
        assert_ne!(fast, small, "each level keeps its own context");
        // Again, on the kept contexts: same bytes as a fresh context.
        assert_eq!(compress(1, &data).unwrap(), fast);
        assert_eq!(
            compress(19, &data).unwrap(),
            zstd::bulk::compress(&data, 19).unwrap()
        );
        assert_eq!(decompress(&fast, data.len()).unwrap(), data);
        assert_eq!(decompress(&small, data.len()).unwrap(), data);
        assert!(
            decompress(&fast, data.len() - 1).is_err(),
            "capacity is a limit"
        );
    }
}
