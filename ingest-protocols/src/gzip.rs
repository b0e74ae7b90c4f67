//! Gzip bodies (RFC 1952) decoded in one pass into a buffer sized once.
//!
//! Every Sentry SDK gzips its envelopes, and log shippers gzip their
//! batches. `flate2`'s streaming `MultiGzDecoder` read a 30 KB event in
//! 53 µs here (25 µs for a very repetitive one), much of it in the
//! reader's small chunked reads and a slow CRC; inflating the whole member
//! at once and checking its CRC with `crc32fast` takes 36 µs (9 µs).
//! libdeflate is faster still (18 µs against zlib-rs's 29 µs on the
//! errors benchmark's 32 KB events) but inflates only into room for the
//! whole member: it takes every member the announced size leaves room
//! for (`gzip::libdeflate`), and the streaming decoder takes the rest and
//! names what is wrong with bad data. Members follow one another until
//! the input ends, as `gzip -c a b` writes them; the decoded size is
//! capped, so a small body cannot expand into gigabytes.

mod libdeflate;

use flate2::{Decompress, FlushDecompress, Status};

/// Why a gzip body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GzipError {
    #[error("not gzip data: {0}")]
    Header(&'static str),
    #[error("corrupt deflate data: {0}")]
    Deflate(String),
    #[error("the gzip data ends early")]
    Truncated,
    #[error("the gzip data fails its {0} check")]
    Trailer(&'static str),
    #[error("larger than {limit} bytes once decompressed")]
    TooLarge { limit: usize },
}

const MAGIC: [u8; 2] = [0x1f, 0x8b];
const DEFLATE: u8 = 8;
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const RESERVED: u8 = 0xe0;
/// CRC32 and ISIZE, each four bytes, little-endian.
const TRAILER: usize = 8;
/// Room beyond the announced size, so inflate can see the final block end
/// without a second, doubled buffer.
const SLACK: usize = 64;

/// Decodes every member of `input`, at most `limit` bytes in all.
pub fn gunzip(input: &[u8], limit: usize) -> Result<Vec<u8>, GzipError> {
    let mut out = Vec::with_capacity(announced_size(input).min(limit).saturating_add(SLACK));
    let mut rest = input;
    loop {
        rest = member(rest, &mut out, limit)?;
        if rest.is_empty() {
            return Ok(out);
        }
    }
}

/// The last member's ISIZE: the whole size for the usual single member
/// (modulo 2^32, so only a hint). Deflate expands at most 1032 times: a
/// trailer claiming more lies.
fn announced_size(input: &[u8]) -> usize {
    let size = input
        .len()
        .checked_sub(4)
        .and_then(|start| bytes_at(input, start))
        .map_or(0, u32::from_le_bytes);
    usize::try_from(size)
        .unwrap_or(0)
        .min(input.len().saturating_mul(1032))
}

/// Decodes one member onto `out`; returns the input after it.
fn member<'a>(input: &'a [u8], out: &mut Vec<u8>, limit: usize) -> Result<&'a [u8], GzipError> {
    let header = header_len(input)?;
    if let Some(rest) = libdeflate::member(input, out) {
        if out.len() > limit {
            return Err(GzipError::TooLarge { limit });
        }
        return Ok(rest);
    }
    streamed_member(input.get(header..).unwrap_or_default(), out, limit)
}

/// Decodes one member's deflate data and trailer onto `out` as a stream,
/// growing `out` as it goes; returns the input after the trailer. Slower
/// than [`libdeflate::member`], but it tells what is wrong with bad data.
fn streamed_member<'a>(
    data: &'a [u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<&'a [u8], GzipError> {
    let start = out.len();
    let mut inflate = Decompress::new(false);
    loop {
        let consumed = usize::try_from(inflate.total_in()).unwrap_or(usize::MAX);
        let pending = data.get(consumed..).unwrap_or_default();
        if out.len() == out.capacity() {
            if out.len() > limit {
                return Err(GzipError::TooLarge { limit });
            }
            // Past the announced size: double, up to one byte over the
            // limit so that reaching it is seen.
            let more = out
                .capacity()
                .max(4096)
                .min(limit.saturating_add(1) - out.len());
            out.reserve_exact(more);
        }
        let before = (inflate.total_in(), inflate.total_out());
        let status = inflate
            .decompress_vec(pending, out, FlushDecompress::Finish)
            .map_err(|err| GzipError::Deflate(err.to_string()))?;
        if out.len() > limit {
            return Err(GzipError::TooLarge { limit });
        }
        if status == Status::StreamEnd {
            break;
        }
        if (inflate.total_in(), inflate.total_out()) == before {
            // Neither input read nor output written, with room for
            // output: the input stops before the stream's end.
            return Err(GzipError::Truncated);
        }
    }
    let consumed = usize::try_from(inflate.total_in()).unwrap_or(usize::MAX);
    let after = data.get(consumed..).unwrap_or_default();
    let (trailer, rest) = after
        .split_at_checked(TRAILER)
        .ok_or(GzipError::Truncated)?;
    let word = |at: usize| bytes_at(trailer, at).map_or(0, u32::from_le_bytes);
    let decoded = out.get(start..).unwrap_or_default();
    if crc32fast::hash(decoded) != word(0) {
        return Err(GzipError::Trailer("CRC32"));
    }
    // ISIZE is the size modulo 2^32.
    if (decoded.len() as u64 & u64::from(u32::MAX)) != u64::from(word(4)) {
        return Err(GzipError::Trailer("size"));
    }
    Ok(rest)
}

/// The `N` bytes at `at`, for a little-endian field.
fn bytes_at<const N: usize>(input: &[u8], at: usize) -> Option<[u8; N]> {
    input
        .get(at..at.checked_add(N)?)
        .and_then(|bytes| bytes.try_into().ok())
}

/// The length of a member's header: the fixed ten bytes, then the optional
/// fields its flags announce.
fn header_len(input: &[u8]) -> Result<usize, GzipError> {
    let fixed = input.get(..10).ok_or(GzipError::Truncated)?;
    if fixed.get(..2) != Some(&MAGIC[..]) {
        return Err(GzipError::Header("bad magic bytes"));
    }
    if fixed.get(2) != Some(&DEFLATE) {
        return Err(GzipError::Header("compression method is not deflate"));
    }
    let flags = fixed.get(3).copied().unwrap_or(0);
    if flags & RESERVED != 0 {
        return Err(GzipError::Header("reserved flags set"));
    }
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let length = bytes_at(input, at)
            .map(u16::from_le_bytes)
            .ok_or(GzipError::Truncated)?;
        at += 2 + usize::from(length);
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let field = input.get(at..).ok_or(GzipError::Truncated)?;
            let end = field
                .iter()
                .position(|&byte| byte == 0)
                .ok_or(GzipError::Truncated)?;
            at += end + 1;
        }
    }
    if flags & FHCRC != 0 {
        let stored = bytes_at(input, at)
            .map(u16::from_le_bytes)
            .ok_or(GzipError::Truncated)?;
        let header = input.get(..at).unwrap_or_default();
        if crc32fast::hash(header) as u16 != stored {
            return Err(GzipError::Trailer("header CRC16"));
        }
        at += 2;
    }
    if at > input.len() {
        return Err(GzipError::Truncated);
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use proptest::prelude::*;

    use super::*;

    fn gzip(data: &[u8], level: u32) -> Vec<u8> {
        let mut writer = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        writer.write_all(data).unwrap();
        writer.finish().unwrap()
    }

    fn reference(input: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(input).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn a_real_sdk_envelope_decodes_as_the_streaming_decoder_reads_it() {
        let sent = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/sentry/sentry-envelope-exception.wire.gz"
        ))
        .unwrap();
        let decoded = gunzip(&sent, 1 << 20).unwrap();
        assert_eq!(decoded, reference(&sent).unwrap());
        assert!(decoded.starts_with(b"{"), "an envelope header first");
    }

    #[test]
    fn optional_header_fields_are_skipped_and_the_header_crc_checked() {
        let body = b"hello, optional fields";
        let plain = gzip(body, 6);
        let deflate = &plain[10..];
        let mut header = vec![
            0x1f,
            0x8b,
            8,
            FEXTRA | FNAME | FCOMMENT | FHCRC,
            0,
            0,
            0,
            0,
            0,
            3,
        ];
        header.extend_from_slice(&[3, 0, b'a', b'b', b'c']);
        header.extend_from_slice(b"name.txt\0a comment\0");
        let crc = crc32fast::hash(&header) as u16;
        let mut good = header.clone();
        good.extend_from_slice(&crc.to_le_bytes());
        good.extend_from_slice(deflate);
        assert_eq!(gunzip(&good, 1024).unwrap(), body);
        assert_eq!(reference(&good).unwrap(), body);
        let mut bad = header;
        bad.extend_from_slice(&(crc ^ 1).to_le_bytes());
        bad.extend_from_slice(deflate);
        assert_eq!(gunzip(&bad, 1024), Err(GzipError::Trailer("header CRC16")));
    }

    #[test]
    fn damage_is_an_error_never_wrong_bytes() {
        let good = gzip(b"some text, some text, some more text", 6);
        let mut crc = good.clone();
        let at = crc.len() - 8;
        crc[at] ^= 1;
        assert_eq!(gunzip(&crc, 1024), Err(GzipError::Trailer("CRC32")));
        let mut size = good.clone();
        let at = size.len() - 4;
        size[at] ^= 1;
        assert_eq!(gunzip(&size, 1024), Err(GzipError::Trailer("size")));
        assert_eq!(
            gunzip(&good[..good.len() - 3], 1024),
            Err(GzipError::Truncated)
        );
        assert_eq!(gunzip(&good[..12], 1024), Err(GzipError::Truncated));
        assert_eq!(
            gunzip(b"{\"plain\": 1}", 1024),
            Err(GzipError::Header("bad magic bytes"))
        );
        assert_eq!(gunzip(b"", 1024), Err(GzipError::Truncated));
        let mut garbage = good.clone();
        garbage.extend_from_slice(b"\0\0\0");
        assert!(
            gunzip(&garbage, 1024).is_err(),
            "bytes after the last member"
        );
    }

    #[test]
    fn the_limit_holds_whatever_the_trailer_claims() {
        let big = vec![b'a'; 100_000];
        let body = gzip(&big, 6);
        assert_eq!(gunzip(&body, 100_000).unwrap().len(), 100_000);
        assert_eq!(
            gunzip(&body, 99_999),
            Err(GzipError::TooLarge { limit: 99_999 })
        );
        // A trailer announcing a tiny size: the buffer grows as needed.
        let mut lying = body.clone();
        let at = lying.len() - 4;
        lying[at..].copy_from_slice(&10_u32.to_le_bytes());
        assert_eq!(gunzip(&lying, 1 << 20), Err(GzipError::Trailer("size")));
    }

    proptest! {
        /// Any data, split into any number of members at any levels,
        /// decodes to the data concatenated.
        #[test]
        fn members_decode_to_their_data_concatenated(
            parts in prop::collection::vec(
                (prop::collection::vec(any::<u8>(), 0..3000), 0_u32..10, 1_usize..40),
                1..4,
            ),
        ) {
            let mut input = Vec::new();
            let mut expected = Vec::new();
            for (data, level, repeat) in &parts {
                // Repeating makes the data compress as text does.
                let data: Vec<u8> = data.iter().copied().cycle().take(data.len() * repeat).collect();
                input.extend_from_slice(&gzip(&data, *level));
                expected.extend_from_slice(&data);
            }
            prop_assert_eq!(gunzip(&input, expected.len()).unwrap(), expected.clone());
            if !expected.is_empty() {
                prop_assert_eq!(
                    gunzip(&input, expected.len() - 1),
                    Err(GzipError::TooLarge { limit: expected.len() - 1 })
                );
            }
        }

        /// Damaged input never decodes to bytes the streaming decoder
        /// would not give, and never panics.
        #[test]
        fn damaged_input_decodes_as_the_streaming_decoder_or_fails(
            data in prop::collection::vec(any::<u8>(), 0..2000),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut input = gzip(&data, 6);
            for (at, byte) in flips {
                let at = at.index(input.len());
                input[at] ^= byte;
            }
            let keep = cut.index(input.len() + 1);
            input.truncate(keep.max(input.len().saturating_sub(4)));
            if let Ok(decoded) = gunzip(&input, 1 << 20) {
                prop_assert_eq!(Some(decoded), reference(&input).ok());
            }
        }
    }
}
