//! Carbon (Graphite) plaintext protocol, one point per line:
//!
//! ```text
//! <path>[;<tag>=<value>...] <value> <unix timestamp>
//! ```
//! Fields are separated by runs of spaces or tabs, as carbon splits them.
//! The timestamp may carry a fraction (it is floored to whole seconds).
//! Graphite 1.1 tagged paths: tag names are non-empty without `;`, `!`,
//! `^`, `=`; values are non-empty, without `;`, and do not start with `~`.
//!
//! Spec: <https://graphite.readthedocs.io/en/latest/feeding-carbon.html>,
//! tags: <https://graphite.readthedocs.io/en/latest/tags.html>.

use crate::ParseError;

/// A parsed point borrowing from the input.
#[derive(Debug, Clone, PartialEq)]
pub struct CarbonLine<'a> {
    /// The path without its tags.
    pub path: &'a str,
    pub value: f64,
    /// Unix seconds.
    pub timestamp: i64,
    /// Validated `;`-separated `name=value` tags, empty when none.
    pub(crate) tags: &'a str,
}

impl<'a> CarbonLine<'a> {
    /// Tags as `(name, value)`, in the order sent.
    pub fn tags(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.tags
            .split(';')
            .filter(|tag| !tag.is_empty())
            .filter_map(|tag| tag.split_once('='))
    }
}

/// Parses one line (without its `\n`).
///
/// The line is checked as UTF-8 once, whole, so a line with a bad byte
/// anywhere is refused as `not_utf8` before any other reason; the fields
/// are then found by bytes (the separators are ASCII, so every cut is on a
/// character boundary) instead of by `char`, which is most of this
/// function's cost on the ingest path.
pub fn parse_line(line: &[u8]) -> Result<CarbonLine<'_>, ParseError> {
    let line = std::str::from_utf8(line).map_err(|_| ParseError::NotUtf8)?;
    let mut fields = Fields { line, at: 0 };
    let full_path = fields.next().ok_or(ParseError::BadName)?;
    let value = fields.next().ok_or(ParseError::MissingValue)?;
    let timestamp = fields.next().ok_or(ParseError::BadTimestamp)?;
    if fields.next().is_some() {
        return Err(ParseError::ExtraField);
    }
    let (path, tags) = split_path(full_path)?;
    let value = parse_value(value)?;
    let timestamp = parse_timestamp(timestamp)?;
    Ok(CarbonLine {
        path,
        value,
        timestamp,
        tags,
    })
}

/// The non-empty fields of a line, separated by runs of spaces, tabs and
/// carriage returns (what `str::split` on those three, empty fields
/// skipped, gives), found by a byte loop.
struct Fields<'a> {
    line: &'a str,
    /// Where the search for the next field starts.
    at: usize,
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let bytes = self.line.as_bytes();
        let rest = bytes.get(self.at..)?;
        let start = self.at + rest.iter().position(|&b| !is_separator(b))?;
        let after = bytes.get(start..).unwrap_or_default();
        let end = start
            + after
                .iter()
                .position(|&b| is_separator(b))
                .unwrap_or(after.len());
        self.at = end;
        // Both ends sit next to an ASCII byte or at an end of the line, so
        // they are character boundaries and `get` always succeeds.
        self.line.get(start..end)
    }
}

fn is_separator(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r')
}

/// Whether `text` holds a character for which `char::is_control` holds
/// (C0 controls, DEL and the C1 controls U+0080 to U+009F), by bytes: in
/// UTF-8 a C1 control is the lead byte 0xC2 followed by 0x80 to 0x9F, and
/// every other control is one ASCII byte.
fn has_control(text: &str) -> bool {
    let mut previous = 0u8;
    for &byte in text.as_bytes() {
        if byte < 0x20 || byte == 0x7f || (previous == 0xc2 && (0x80..0xa0).contains(&byte)) {
            return true;
        }
        previous = byte;
    }
    false
}

// The checks below are shared with the pickle protocol, so a point sent
// either way is accepted or refused for the same reason.

/// Splits `path[;name=value...]` into the path and its validated tags.
pub(crate) fn split_path(full_path: &str) -> Result<(&str, &str), ParseError> {
    let (path, tags) = full_path.split_once(';').unwrap_or((full_path, ""));
    if path.is_empty() || has_control(path) {
        return Err(ParseError::BadName);
    }
    if !tags.is_empty() {
        for tag in tags.split(';') {
            let (name, tag_value) = tag.split_once('=').ok_or(ParseError::BadTag)?;
            let bad_name = name.is_empty()
                || name
                    .as_bytes()
                    .iter()
                    .any(|b| matches!(b, b'!' | b'^' | b'='));
            let bad_value = tag_value.is_empty() || tag_value.starts_with('~');
            if bad_name || bad_value || has_control(tag) {
                return Err(ParseError::BadTag);
            }
        }
    }
    Ok((path, tags))
}

/// A value field: a number, and a finite one.
pub(crate) fn parse_value(text: &str) -> Result<f64, ParseError> {
    let value: f64 = text.parse().map_err(|_| ParseError::BadValue)?;
    finite_value(value)
}

pub(crate) fn finite_value(value: f64) -> Result<f64, ParseError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(ParseError::NonFinite)
    }
}

/// A timestamp field: whole or fractional non-negative seconds.
pub(crate) fn parse_timestamp(text: &str) -> Result<i64, ParseError> {
    if let Ok(seconds) = text.parse::<i64>() {
        return whole_seconds(seconds);
    }
    let seconds: f64 = text.parse().map_err(|_| ParseError::BadTimestamp)?;
    float_seconds(seconds)
}

pub(crate) fn whole_seconds(seconds: i64) -> Result<i64, ParseError> {
    if seconds >= 0 {
        Ok(seconds)
    } else {
        Err(ParseError::BadTimestamp)
    }
}

/// Floors fractional seconds, refusing what is not a plausible time.
pub(crate) fn float_seconds(seconds: f64) -> Result<i64, ParseError> {
    // 2^53 bounds what an f64 holds exactly; real timestamps are far below.
    if seconds.is_finite() && (0.0..9.0e15).contains(&seconds) {
        #[allow(clippy::cast_possible_truncation)]
        Ok(seconds.floor() as i64)
    } else {
        Err(ParseError::BadTimestamp)
    }
}

/// Parses every line of a chunk; empty lines are skipped, and a bad line
/// yields its error while the rest go on.
pub fn parse_lines(chunk: &[u8]) -> impl Iterator<Item = Result<CarbonLine<'_>, ParseError>> {
    chunk
        .split(|&byte| byte == b'\n')
        .filter(|line| line.iter().any(|b| !b.is_ascii_whitespace()))
        .map(parse_line)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn plain_point() {
        let point = parse_line(b"servers.web1.load 0.42 1700000000").unwrap();
        assert_eq!(
            (point.path, point.value, point.timestamp),
            ("servers.web1.load", 0.42, 1_700_000_000)
        );
        assert_eq!(point.tags().count(), 0);
    }

    #[test]
    fn tabs_runs_of_spaces_crlf_and_fractional_timestamps() {
        let point = parse_line(b"a.b\t 7  1700000000.75\r").unwrap();
        assert_eq!((point.value, point.timestamp), (7.0, 1_700_000_000));
    }

    #[test]
    fn tagged_path() {
        let point = parse_line(b"disk.used;host=web1;mount=/var 91 1700000000").unwrap();
        assert_eq!(point.path, "disk.used");
        assert_eq!(
            point.tags().collect::<Vec<_>>(),
            [("host", "web1"), ("mount", "/var")]
        );
    }

    #[test]
    fn bad_lines_say_why() {
        let cases: &[(&[u8], ParseError)] = &[
            (b"a.b", ParseError::MissingValue),
            (b"a.b 1", ParseError::BadTimestamp),
            (b"a.b x 1", ParseError::BadValue),
            (b"a.b nan 1", ParseError::NonFinite),
            (b"a.b 1 -5", ParseError::BadTimestamp),
            (b"a.b 1 soon", ParseError::BadTimestamp),
            (b"a.b 1 2 3", ParseError::ExtraField),
            (b"a;host 1 2", ParseError::BadTag),
            (b"a;=x 1 2", ParseError::BadTag),
            (b"a;k=~x 1 2", ParseError::BadTag),
            (b";k=v 1 2", ParseError::BadName),
            (b"\xffa 1 2", ParseError::NotUtf8),
        ];
        for (line, expected) in cases {
            assert_eq!(
                parse_line(line).unwrap_err(),
                *expected,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn utf8_and_controls_are_judged_as_by_char() {
        let cases: &[(&[u8], Result<&str, ParseError>)] = &[
            // A bad byte anywhere refuses the line as not UTF-8 first.
            (b"a.b 1\xff 2", Err(ParseError::NotUtf8)),
            (b"a.b 1 2 \xc3", Err(ParseError::NotUtf8)),
            (b"a.b\xe2\x82", Err(ParseError::NotUtf8)),
            // Controls other than the separators belong to a field.
            (b"a\x0bb 1 2", Err(ParseError::BadName)),
            (b"a\x7f 1 2", Err(ParseError::BadName)),
            (b"a\x00 1 2", Err(ParseError::BadName)),
            (b"a.b 1\x0c 2", Err(ParseError::BadValue)),
            // U+0085 (NEL) is a C1 control; U+00A0 and U+00E9 are not.
            ("a\u{85}b 1 2".as_bytes(), Err(ParseError::BadName)),
            ("a;k=\u{9f} 1 2".as_bytes(), Err(ParseError::BadTag)),
            ("a\u{a0}b 1 2".as_bytes(), Ok("a\u{a0}b")),
            (
                "donn\u{e9}es.\u{1f600} 1 2".as_bytes(),
                Ok("donn\u{e9}es.\u{1f600}"),
            ),
            // Leading, trailing and mixed runs of separators.
            (b" \t\ra.b\r\t 1\r2 \r", Ok("a.b")),
            (b" \t\r ", Err(ParseError::BadName)),
            (b"", Err(ParseError::BadName)),
        ];
        for (line, expected) in cases {
            let got = parse_line(line).map(|point| point.path);
            assert_eq!(got, *expected, "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn chunks_keep_good_lines_around_a_bad_one() {
        let results: Vec<_> = parse_lines(b"a 1 10\n\nbad\n  \nb 2 20\n").collect();
        assert_eq!(results.len(), 3);
        assert!(results[0].is_ok() && results[2].is_ok());
        assert_eq!(results[1], Err(ParseError::MissingValue));
    }

    proptest::proptest! {
        #[test]
        fn well_formed_points_round_trip(
            path in "[a-z][a-z0-9_.-]{0,40}",
            value in -1.0e12f64..1.0e12,
            timestamp in 0i64..4_000_000_000,
            tags in proptest::collection::vec(("[a-z]{1,6}", "[a-z0-9/]{1,6}"), 0..4),
        ) {
            let mut full = path.clone();
            for (k, v) in &tags {
                full.push_str(&format!(";{k}={v}"));
            }
            let line = format!("{full} {value} {timestamp}");
            let point = parse_line(line.as_bytes()).unwrap();
            proptest::prop_assert_eq!(point.path, path.as_str());
            proptest::prop_assert_eq!(point.value, value);
            proptest::prop_assert_eq!(point.timestamp, timestamp);
            let got: Vec<(String, String)> = point.tags().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            proptest::prop_assert_eq!(got, tags);
        }

        #[test]
        fn control_check_by_bytes_agrees_with_char(text in proptest::prelude::any::<String>()) {
            proptest::prop_assert_eq!(has_control(&text), text.chars().any(char::is_control));
        }

        /// The byte parser against the `str` one it replaced, on lines
        /// built from the bytes that matter to it.
        #[test]
        fn same_results_as_the_char_parser(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "a", "b.c", "7", "-1.5", "1e3", "nan", "inf", "1700000000", "1700000000.5", "-5",
                " ", "  ", "\t", "\r", ";", "=", "k=v", "~", "!", "^", "\u{b}", "\u{7f}", "\u{0}",
                "\u{85}", "\u{9f}", "\u{a0}", "\u{e9}", "\u{1f600}", "\u{ff}", "\u{c2}",
            ]), 0..12),
            bad_byte in proptest::option::of(0usize..40),
        ) {
            let mut line = parts.concat().into_bytes();
            if let Some(at) = bad_byte {
                if at <= line.len() {
                    line.insert(at, 0xff);
                }
            }
            let got = parse_line(&line).map(|p| (p.path, p.value.to_bits(), p.timestamp, p.tags));
            let expected = char_parser::parse_line(&line);
            proptest::prop_assert_eq!(got, expected);
        }

        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            for point in parse_lines(&input).flatten() {
                proptest::prop_assert!(point.value.is_finite());
                proptest::prop_assert!(point.timestamp >= 0);
                proptest::prop_assert!(!point.path.is_empty());
            }
        }
    }

    /// The `str`-based parser `parse_line` replaced, kept as the oracle
    /// the property test holds it to.
    mod char_parser {
        use super::super::{parse_timestamp, parse_value, ParseError};

        type Point<'a> = (&'a str, u64, i64, &'a str);

        pub fn parse_line(line: &[u8]) -> Result<Point<'_>, ParseError> {
            let line = std::str::from_utf8(line).map_err(|_| ParseError::NotUtf8)?;
            let mut fields = line
                .split([' ', '\t', '\r'])
                .filter(|field| !field.is_empty());
            let full_path = fields.next().ok_or(ParseError::BadName)?;
            let value = fields.next().ok_or(ParseError::MissingValue)?;
            let timestamp = fields.next().ok_or(ParseError::BadTimestamp)?;
            if fields.next().is_some() {
                return Err(ParseError::ExtraField);
            }
            let (path, tags) = split_path(full_path)?;
            let value = parse_value(value)?;
            let timestamp = parse_timestamp(timestamp)?;
            Ok((path, value.to_bits(), timestamp, tags))
        }

        fn split_path(full_path: &str) -> Result<(&str, &str), ParseError> {
            let (path, tags) = full_path.split_once(';').unwrap_or((full_path, ""));
            if path.is_empty() || path.chars().any(char::is_control) {
                return Err(ParseError::BadName);
            }
            if !tags.is_empty() {
                for tag in tags.split(';') {
                    let (name, tag_value) = tag.split_once('=').ok_or(ParseError::BadTag)?;
                    let bad_name = name.is_empty() || name.contains(['!', '^', '=']);
                    let bad_value = tag_value.is_empty() || tag_value.starts_with('~');
                    if bad_name || bad_value || tag.chars().any(char::is_control) {
                        return Err(ParseError::BadTag);
                    }
                }
            }
            Ok((path, tags))
        }
    }
}
