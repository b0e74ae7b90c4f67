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
    static DICTIONARY_CONTEXT: RefCell<Option<zstd::zstd_safe::CCtx<'static>>> =
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
/// context. The result is allocated at the size the frame declares, not
/// at `capacity`: a kept result must not hold the limit's memory.
pub fn decompress(data: &[u8], capacity: usize) -> io::Result<Vec<u8>> {
    let capacity = declared_size(data).map_or(capacity, |size| size.min(capacity));
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.try_borrow_mut().map_err(io::Error::other)?;
        let decompressor = match &mut *slot {
            Some(decompressor) => decompressor,
            empty => empty.insert(zstd::bulk::Decompressor::new()?),
        };
        decompressor.decompress(data, capacity)
    })
}

/// `data` compressed against a prepared dictionary (whose level it
/// takes), with this thread's context for that.
///
/// The context copies the dictionary's tables in for each frame instead
/// of consulting them beside its own, which zstd does by default for
/// inputs of up to 8 KB at this level, as stored events are once their
/// issue's dictionary holds their stack traces: copying tens of
/// kilobytes of tables cost less than the slower search of two tables.
/// Preparing an event of the errors benchmark took about 6 µs less (37
/// against 43, three interleaved runs of `partout-loadgen errors-stages`).
///
/// The preference only holds through `ZSTD_compress2` with the dictionary
/// referenced: `ZSTD_compress_usingCDict` builds its own parameters from
/// the dictionary and ignores the context's, which is why an earlier try
/// of the same setting measured nothing.
pub fn compress_with(
    dictionary: &zstd::zstd_safe::CDict<'static>,
    data: &[u8],
) -> io::Result<Vec<u8>> {
    DICTIONARY_CONTEXT.with(|cell| {
        let mut slot = cell.try_borrow_mut().map_err(io::Error::other)?;
        let context = match &mut *slot {
            Some(context) => context,
            empty => empty.insert(dictionary_context()?),
        };
        let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(data.len()));
        let compressed = context
            .ref_cdict(dictionary)
            .and_then(|_| context.compress2(&mut out, data))
            .map_err(zstd_error);
        // The context must not keep a reference past this call: the
        // dictionary may be dropped before the thread compresses again.
        // A context that cannot let go of it is dropped instead.
        if context.disable_dictionary().is_err() {
            *slot = None;
        }
        compressed?;
        Ok(out)
    })
}

fn dictionary_context() -> io::Result<zstd::zstd_safe::CCtx<'static>> {
    let mut context = zstd::zstd_safe::CCtx::try_create()
        .ok_or_else(|| io::Error::other("cannot make a zstd context"))?;
    context
        .set_parameter(zstd::zstd_safe::CParameter::ForceAttachDict(
            zstd::zstd_safe::DictAttachPref::ForceCopy,
        ))
        .map_err(zstd_error)?;
    Ok(context)
}

/// What [`compress_with`] made, decompressed against the dictionary's
/// content; refused past `capacity` bytes. Reads are rare: no context is
/// kept.
pub fn decompress_with(dictionary: &[u8], data: &[u8], capacity: usize) -> io::Result<Vec<u8>> {
    let capacity = declared_size(data).map_or(capacity, |size| size.min(capacity));
    let mut context = zstd::zstd_safe::DCtx::try_create()
        .ok_or_else(|| io::Error::other("cannot make a zstd context"))?;
    let mut out = Vec::with_capacity(capacity);
    context
        .decompress_using_dict(&mut out, data, dictionary)
        .map_err(zstd_error)?;
    Ok(out)
}

/// The decompressed size a frame's header declares, when it does.
fn declared_size(data: &[u8]) -> Option<usize> {
    match zstd::zstd_safe::get_frame_content_size(data) {
        Ok(Some(size)) => Some(usize::try_from(size).unwrap_or(usize::MAX)),
        _ => None,
    }
}

fn zstd_error(code: usize) -> io::Error {
    io::Error::other(zstd::zstd_safe::get_error_name(code))
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
        assert_eq!(
            decompress(&fast, 1 << 30).unwrap().capacity(),
            data.len(),
            "the result is sized by the frame, not by the limit"
        );
    }

    #[test]
    fn frames_against_a_dictionary_round_trip_and_need_it() {
        // Bytes that do not compress alone, and a copy changed in places.
        let mut state = 0x9e37_79b9_u32;
        let first: Vec<u8> = (0..6000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state.to_le_bytes()[0]
            })
            .collect();
        let mut second = first.clone();
        second
            .iter_mut()
            .step_by(500)
            .for_each(|byte| *byte ^= 0xff);
        let compressed = {
            let dictionary = zstd::zstd_safe::CDict::try_create(&first, 1).unwrap();
            compress_with(&dictionary, &second).unwrap()
        };
        // The dictionary is gone; the thread's context must not use it.
        let plain = compress(1, &second).unwrap();
        assert!(
            compressed.len() < plain.len() / 2,
            "the dictionary's matches are found: {} against {} bytes alone",
            compressed.len(),
            plain.len()
        );
        assert_eq!(
            decompress_with(&first, &compressed, second.len()).unwrap(),
            second
        );
        assert!(decompress(&compressed, second.len()).is_err());
        let other = zstd::zstd_safe::CDict::try_create(&second, 1).unwrap();
        let again = compress_with(&other, &second).unwrap();
        assert_eq!(
            decompress_with(&second, &again, second.len()).unwrap(),
            second
        );
    }
}
