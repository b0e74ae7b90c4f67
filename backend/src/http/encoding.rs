//! Request bodies by `Content-Encoding`: identity, gzip, deflate, brotli
//! and zstd, each decoded with a cap on the decompressed size, so a small
//! body cannot expand into gigabytes. Gzip, what nearly every client
//! sends, is inflated in one pass (`partout_protocols::gzip`); the others
//! are read as streams.
//!
//! `deflate` is meant to be zlib-wrapped (RFC 9110), but some clients
//! send raw deflate; the zlib header is checked and raw deflate assumed
//! without one, as browsers do for responses.

use std::io::Read;

use axum::http::{header, HeaderMap};
use partout_protocols::gzip::GzipError;

/// Why a body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unsupported Content-Encoding {0:?}: use gzip, deflate, br or zstd")]
    Unsupported(String),
    #[error("cannot decompress the {encoding} body: {source}")]
    Corrupt {
        encoding: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("body larger than {limit} bytes once decompressed")]
    TooLarge { limit: usize },
}

/// Brotli's window buffer for the streaming decoder.
const BROTLI_BUFFER: usize = 4096;

/// The body decoded per the request's `Content-Encoding`, at most `limit`
/// bytes.
pub fn decode_body(headers: &HeaderMap, body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let (name, reader): (&'static str, Box<dyn Read + '_>) = match encoding.as_str() {
        "" | "identity" => {
            if body.len() > limit {
                return Err(DecodeError::TooLarge { limit });
            }
            return Ok(body.to_vec());
        }
        "gzip" | "x-gzip" => {
            return partout_protocols::gzip::gunzip(body, limit).map_err(|error| match error {
                GzipError::TooLarge { limit } => DecodeError::TooLarge { limit },
                other => DecodeError::Corrupt {
                    encoding: "gzip",
                    source: std::io::Error::other(other),
                },
            })
        }
        "deflate" if has_zlib_header(body) => {
            ("deflate", Box::new(flate2::read::ZlibDecoder::new(body)))
        }
        "deflate" => ("deflate", Box::new(flate2::read::DeflateDecoder::new(body))),
        "br" => (
            "brotli",
            Box::new(brotli_decompressor::Decompressor::new(body, BROTLI_BUFFER)),
        ),
        "zstd" => (
            "zstd",
            Box::new(zstd::stream::read::Decoder::new(body).map_err(|source| {
                DecodeError::Corrupt {
                    encoding: "zstd",
                    source,
                }
            })?),
        ),
        other => return Err(DecodeError::Unsupported(other.to_owned())),
    };
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|source| DecodeError::Corrupt {
            encoding: name,
            source,
        })?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(out)
}

/// A zlib stream starts with a header whose method is deflate (8) and
/// whose two bytes, read big-endian, are a multiple of 31 (RFC 1950).
fn has_zlib_header(body: &[u8]) -> bool {
    match body {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use axum::http::HeaderValue;

    fn headers(encoding: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_str(encoding).unwrap(),
        );
        headers
    }

    const TEXT: &[u8] = b"{\"message\":\"hello hello hello hello\"}";

    fn compressed(encoding: &str) -> Vec<u8> {
        match encoding {
            "gzip" => {
                let mut writer =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                writer.write_all(TEXT).unwrap();
                writer.finish().unwrap()
            }
            "deflate" => {
                let mut writer =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                writer.write_all(TEXT).unwrap();
                writer.finish().unwrap()
            }
            "raw-deflate" => {
                let mut writer =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                writer.write_all(TEXT).unwrap();
                writer.finish().unwrap()
            }
            "br" => {
                let mut out = Vec::new();
                let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                writer.write_all(TEXT).unwrap();
                drop(writer);
                out
            }
            "zstd" => zstd::bulk::compress(TEXT, 3).unwrap(),
            _ => TEXT.to_vec(),
        }
    }

    #[test]
    fn every_encoding_decodes() {
        for encoding in ["identity", "gzip", "deflate", "br", "zstd"] {
            let body = compressed(encoding);
            assert_eq!(
                decode_body(&headers(encoding), &body, 1000).unwrap(),
                TEXT,
                "{encoding}"
            );
        }
        let raw = compressed("raw-deflate");
        assert_eq!(decode_body(&headers("deflate"), &raw, 1000).unwrap(), TEXT);
        assert_eq!(decode_body(&HeaderMap::new(), TEXT, 1000).unwrap(), TEXT);
    }

    #[test]
    fn limits_and_bad_bodies_say_why() {
        for encoding in ["identity", "gzip", "br", "zstd"] {
            let error = decode_body(&headers(encoding), &compressed(encoding), 10).unwrap_err();
            assert!(
                matches!(error, DecodeError::TooLarge { limit: 10 }),
                "{encoding}"
            );
        }
        for encoding in ["gzip", "br", "zstd", "deflate"] {
            let error = decode_body(&headers(encoding), b"not compressed at all", 1000);
            assert!(
                matches!(error, Err(DecodeError::Corrupt { .. })),
                "{encoding}: {error:?}"
            );
        }
        let error = decode_body(&headers("compress"), b"x", 10).unwrap_err();
        assert!(error.to_string().contains("\"compress\""), "{error}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bodies_never_panic_or_pass_the_limit(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            encoding in proptest::sample::select(vec!["identity", "gzip", "deflate", "br", "zstd"]),
        ) {
            if let Ok(decoded) = decode_body(&headers(encoding), &body, 256) {
                proptest::prop_assert!(decoded.len() <= 256);
            }
        }
    }
}
