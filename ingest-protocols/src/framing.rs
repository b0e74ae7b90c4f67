//! Splitting a TCP byte stream into frames.
//!
//! [`Framer`] is a small state machine over the caller's read buffer: the
//! caller appends what the socket gave, calls [`Framer::next`] until it says
//! [`Step::NeedMore`], and after every other step drops the `consumed` bytes
//! from the front of its buffer. Memory stays bounded by `max_frame_len`: a frame
//! that grows past it is reported once as [`ParseError::FrameTooLong`] and
//! its remaining bytes are discarded up to the next delimiter, so one bad
//! sender line never costs the rest of the stream.
//!
//! Three modes:
//! - [`Mode::Lines`]: frames end with `\n` (a `\r` before it is dropped).
//!   StatsD, carbon and JSON lines over TCP.
//! - [`Mode::Syslog`]: RFC 6587. Per frame, a leading ASCII digit means
//!   octet counting (`LEN SP MSG`, as `logger --octet-count` and rsyslog's
//!   RELP-less TCP forwarding send); anything else means non-transparent
//!   framing with `\n` as the trailer. Senders may mix both on one stream.
//! - [`Mode::LengthPrefixed`]: a 4-byte big-endian unsigned length, then
//!   that many bytes, as carbon's pickle protocol sends (Twisted's
//!   `Int32StringReceiver`). A frame announced longer than the limit is
//!   reported when its header arrives and its bytes are skipped as they
//!   come, never buffered.

use crate::ParseError;

/// How frames are delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Lines,
    Syslog,
    LengthPrefixed,
}

/// What one call to [`Framer::next`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// A complete frame (without its delimiter or length prefix); drop
    /// `consumed` bytes.
    Frame { frame: &'a [u8], consumed: usize },
    /// Bad input that was skipped; drop `consumed` bytes and go on.
    Skipped { error: ParseError, consumed: usize },
    /// Bytes of an oversized frame, already reported, thrown away; drop
    /// `consumed` bytes and go on.
    Discarded { consumed: usize },
    /// The first `max_frame_len` bytes of an oversized frame, when the
    /// framer truncates (see [`Framer::truncating`]); the rest of the frame
    /// is discarded as it comes. Drop `consumed` bytes and go on.
    Truncated { frame: &'a [u8], consumed: usize },
    /// No complete frame in the buffer; read more (or call
    /// [`Framer::finish`] at end of stream).
    NeedMore,
}

/// The longest octet count prefix accepted (`"1048576 "` is 8 bytes).
const MAX_COUNT_DIGITS: usize = 9;
/// Size of the length header of [`Mode::LengthPrefixed`].
const LENGTH_PREFIX: usize = 4;

/// Stream framing state for one connection.
#[derive(Debug, Clone)]
pub struct Framer {
    mode: Mode,
    max_frame_len: usize,
    /// Inside an oversized newline-delimited frame: skip to the next `\n`.
    discarding_line: bool,
    /// Bytes of an oversized octet-counted or length-prefixed frame still
    /// to skip.
    discarding_octets: usize,
    /// Oversized newline or octet-counted frames yield their head as
    /// [`Step::Truncated`] instead of an error.
    truncate: bool,
}

impl Framer {
    pub fn new(mode: Mode, max_frame_len: usize) -> Framer {
        Framer {
            mode,
            max_frame_len: max_frame_len.max(1),
            discarding_line: false,
            discarding_octets: 0,
            truncate: false,
        }
    }

    /// Oversized frames are cut to `max_frame_len` and handed on as
    /// [`Step::Truncated`] rather than refused: log lines are kept, cut,
    /// never dropped. (Length-prefixed frames are still refused: a cut
    /// pickle is no pickle.)
    pub fn truncating(mut self) -> Framer {
        self.truncate = true;
        self
    }

    /// The next step over `buf`, the unconsumed bytes read so far.
    pub fn next<'a>(&mut self, buf: &'a [u8]) -> Step<'a> {
        if buf.is_empty() {
            return Step::NeedMore;
        }
        if self.discarding_octets > 0 {
            let skip = self.discarding_octets.min(buf.len());
            self.discarding_octets -= skip;
            return Step::Discarded { consumed: skip };
        }
        if self.discarding_line {
            let consumed = match memchr(b'\n', buf) {
                Some(end) => {
                    self.discarding_line = false;
                    end + 1
                }
                None => buf.len(),
            };
            return Step::Discarded { consumed };
        }
        if self.mode == Mode::LengthPrefixed {
            return self.next_length_prefixed(buf);
        }
        let octet_counted =
            self.mode == Mode::Syslog && buf.first().is_some_and(u8::is_ascii_digit);
        if octet_counted {
            self.next_octet_counted(buf)
        } else {
            self.next_line(buf)
        }
    }

    /// At end of stream: the unterminated rest of `buf` as a last frame, if
    /// any (senders often omit the final newline). A length-prefixed frame
    /// is only ever whole: a rest there is an error (the sender died
    /// mid-frame).
    pub fn finish<'a>(&mut self, buf: &'a [u8]) -> Option<Result<&'a [u8], ParseError>> {
        if self.discarding_line || self.discarding_octets > 0 || buf.is_empty() {
            return None;
        }
        if self.mode == Mode::LengthPrefixed {
            return Some(Err(ParseError::TruncatedFrame));
        }
        let frame = trim_line(buf);
        (!frame.is_empty()).then_some(Ok(frame))
    }

    fn next_length_prefixed<'a>(&mut self, buf: &'a [u8]) -> Step<'a> {
        let Some(header) = buf.first_chunk::<LENGTH_PREFIX>() else {
            return Step::NeedMore;
        };
        // u32 always fits in usize on the 32- and 64-bit targets we build.
        let length = usize::try_from(u32::from_be_bytes(*header)).unwrap_or(usize::MAX);
        let available = buf.len() - LENGTH_PREFIX;
        if length > self.max_frame_len {
            // Reported now, skipped as it streams in: waiting for the whole
            // frame would mean buffering it.
            let skip = length.min(available);
            self.discarding_octets = length - skip;
            return Step::Skipped {
                error: ParseError::FrameTooLong {
                    limit: self.max_frame_len,
                },
                consumed: LENGTH_PREFIX + skip,
            };
        }
        match buf.get(LENGTH_PREFIX..LENGTH_PREFIX + length) {
            Some(frame) => Step::Frame {
                frame,
                consumed: LENGTH_PREFIX + length,
            },
            None => Step::NeedMore,
        }
    }

    fn next_line<'a>(&mut self, buf: &'a [u8]) -> Step<'a> {
        let limit = self.max_frame_len;
        match memchr(b'\n', buf) {
            Some(end) if end <= limit => Step::Frame {
                frame: trim_line(buf.get(..end).unwrap_or_default()),
                consumed: end + 1,
            },
            Some(end) if self.truncate => Step::Truncated {
                frame: buf.get(..limit).unwrap_or_default(),
                consumed: end + 1,
            },
            Some(end) => Step::Skipped {
                error: ParseError::FrameTooLong { limit },
                consumed: end + 1,
            },
            None if buf.len() > limit => {
                self.discarding_line = true;
                if self.truncate {
                    return Step::Truncated {
                        frame: buf.get(..limit).unwrap_or_default(),
                        consumed: buf.len(),
                    };
                }
                Step::Skipped {
                    error: ParseError::FrameTooLong { limit },
                    consumed: buf.len(),
                }
            }
            None => Step::NeedMore,
        }
    }

    fn next_octet_counted<'a>(&mut self, buf: &'a [u8]) -> Step<'a> {
        let digits = buf.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > MAX_COUNT_DIGITS {
            return self.bad_count(buf);
        }
        let Some(&after_digits) = buf.get(digits) else {
            return Step::NeedMore;
        };
        if after_digits != b' ' || buf.first() == Some(&b'0') {
            return self.bad_count(buf);
        }
        let count: usize = buf
            .get(..digits)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| d.parse().ok())
            .unwrap_or(0);
        let header = digits + 1;
        if count > self.max_frame_len && self.truncate {
            // Wait for the head, then hand it on and skip the rest.
            let limit = self.max_frame_len;
            let Some(frame) = buf.get(header..header + limit) else {
                return Step::NeedMore;
            };
            let skip = count.min(buf.len() - header);
            self.discarding_octets = count - skip;
            return Step::Truncated {
                frame,
                consumed: header + skip,
            };
        }
        if count > self.max_frame_len {
            let available = buf.len() - header;
            let skip = count.min(available);
            self.discarding_octets = count - skip;
            return Step::Skipped {
                error: ParseError::FrameTooLong {
                    limit: self.max_frame_len,
                },
                consumed: header + skip,
            };
        }
        match buf.get(header..header + count) {
            Some(frame) => Step::Frame {
                frame: trim_line(frame),
                consumed: header + count,
            },
            None => Step::NeedMore,
        }
    }

    /// A digit-led frame that is not a valid count: skip it up to the next
    /// newline, which is where a sender that got out of step resumes.
    fn bad_count<'a>(&mut self, buf: &'a [u8]) -> Step<'a> {
        match self.next_line(buf) {
            Step::Frame { consumed, .. } => Step::Skipped {
                error: ParseError::BadOctetCount,
                consumed,
            },
            other => other,
        }
    }
}

fn trim_line(frame: &[u8]) -> &[u8] {
    let frame = frame.strip_suffix(b"\n").unwrap_or(frame);
    frame.strip_suffix(b"\r").unwrap_or(frame)
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// Feeds `input` in chunks of `chunk` bytes and collects frames and errors.
    fn frames(
        mode: Mode,
        max: usize,
        input: &[u8],
        chunk: usize,
    ) -> (Vec<Vec<u8>>, Vec<ParseError>) {
        let mut framer = Framer::new(mode, max);
        let mut buf: Vec<u8> = Vec::new();
        let (mut out, mut errors) = (Vec::new(), Vec::new());
        for piece in input.chunks(chunk.max(1)) {
            buf.extend_from_slice(piece);
            loop {
                match framer.next(&buf) {
                    Step::Frame { frame, consumed } => {
                        out.push(frame.to_vec());
                        buf.drain(..consumed);
                    }
                    Step::Skipped { error, consumed } => {
                        errors.push(error);
                        buf.drain(..consumed);
                    }
                    Step::Discarded { consumed } => {
                        buf.drain(..consumed);
                    }
                    Step::Truncated { frame, consumed } => {
                        out.push(frame.to_vec());
                        buf.drain(..consumed);
                    }
                    Step::NeedMore => break,
                }
            }
        }
        match framer.finish(&buf) {
            Some(Ok(last)) => out.push(last.to_vec()),
            Some(Err(error)) => errors.push(error),
            None => {}
        }
        (out, errors)
    }

    /// Like `frames`, with a truncating framer.
    fn truncated_frames(mode: Mode, max: usize, input: &[u8], chunk: usize) -> Vec<Vec<u8>> {
        let mut framer = Framer::new(mode, max).truncating();
        let mut buf: Vec<u8> = Vec::new();
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            buf.extend_from_slice(piece);
            loop {
                match framer.next(&buf) {
                    Step::Frame { frame, consumed } => {
                        out.push(frame.to_vec());
                        buf.drain(..consumed);
                    }
                    Step::Truncated { frame, consumed } => {
                        let mut cut = frame.to_vec();
                        cut.extend_from_slice(b"~");
                        out.push(cut);
                        buf.drain(..consumed);
                    }
                    Step::Skipped { consumed, .. } | Step::Discarded { consumed } => {
                        buf.drain(..consumed);
                    }
                    Step::NeedMore => break,
                }
            }
        }
        if let Some(Ok(last)) = framer.finish(&buf) {
            out.push(last.to_vec());
        }
        out
    }

    #[test]
    fn a_truncating_framer_keeps_the_head_of_long_frames() {
        for chunk in [1, 3, 100] {
            assert_eq!(
                truncated_frames(Mode::Lines, 4, b"abcdefgh\nxy\nlonglonglong", chunk),
                [b"abcd~".to_vec(), b"xy".to_vec(), b"long~".to_vec()],
                "chunk {chunk}"
            );
            assert_eq!(
                truncated_frames(Mode::Syslog, 4, b"8 abcdefgh6 uvwxyz2 ok", chunk),
                [b"abcd~".to_vec(), b"uvwx~".to_vec(), b"ok".to_vec()],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn lines_split_on_newline_and_drop_carriage_returns() {
        let (out, errors) = frames(Mode::Lines, 100, b"a:1|c\r\nb:2|c\nc:3|c", 3);
        assert_eq!(
            out,
            [b"a:1|c".to_vec(), b"b:2|c".to_vec(), b"c:3|c".to_vec()]
        );
        assert!(errors.is_empty());
    }

    #[test]
    fn an_oversized_line_is_skipped_and_the_next_one_kept() {
        let mut input = vec![b'x'; 50];
        input.extend_from_slice(b"\nok\n");
        for chunk in [1, 7, 64] {
            let (out, errors) = frames(Mode::Lines, 10, &input, chunk);
            assert_eq!(out, [b"ok".to_vec()], "chunk {chunk}");
            assert_eq!(
                errors,
                [ParseError::FrameTooLong { limit: 10 }],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn syslog_octet_counting_from_the_logger_sample() {
        let sample = include_bytes!("../tests/data/logger-rfc5424-tcp-octet-count.bin");
        let (out, errors) = frames(Mode::Syslog, 8192, sample, 5);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(out.len(), 1);
        assert!(
            out[0].starts_with(b"<"),
            "{:?}",
            String::from_utf8_lossy(&out[0])
        );
    }

    #[test]
    fn syslog_mixes_octet_counted_and_newline_frames() {
        let input = b"5 <1>ab<2>cd\n3 <3>";
        let (out, errors) = frames(Mode::Syslog, 100, input, 2);
        assert_eq!(out, [b"<1>ab".to_vec(), b"<2>cd".to_vec(), b"<3>".to_vec()]);
        assert!(errors.is_empty());
    }

    #[test]
    fn syslog_oversized_octet_frame_is_skipped_exactly() {
        let mut input = b"20 ".to_vec();
        input.extend_from_slice(&[b'y'; 20]);
        input.extend_from_slice(b"4 <1>z");
        let (out, errors) = frames(Mode::Syslog, 10, &input, 3);
        assert_eq!(out, [b"<1>z".to_vec()]);
        assert_eq!(errors, [ParseError::FrameTooLong { limit: 10 }]);
    }

    #[test]
    fn a_digit_led_line_that_is_not_a_count_is_reported() {
        let (out, errors) = frames(Mode::Syslog, 100, b"12abc\n<1>ok\n", 4);
        assert_eq!(out, [b"<1>ok".to_vec()]);
        assert_eq!(errors, [ParseError::BadOctetCount]);
    }

    /// Length-prefixed `payloads`, as a carbon pickle sender writes them.
    fn length_prefixed(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for payload in payloads {
            out.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
            out.extend_from_slice(payload);
        }
        out
    }

    #[test]
    fn length_prefixed_frames_keep_every_byte() {
        // Newlines, carriage returns and empty frames are payload here.
        let input = length_prefixed(&[b"ab\r\n", b"", b"\n"]);
        for chunk in [1, 3, 64] {
            let (out, errors) = frames(Mode::LengthPrefixed, 100, &input, chunk);
            assert_eq!(out, [b"ab\r\n".to_vec(), Vec::new(), b"\n".to_vec()]);
            assert!(errors.is_empty(), "chunk {chunk}: {errors:?}");
        }
    }

    #[test]
    fn an_oversized_length_prefixed_frame_is_skipped_without_buffering() {
        let big = vec![b'x'; 5000];
        let input = length_prefixed(&[b"first", &big, b"after"]);
        for chunk in [1, 7, 4096] {
            let mut framer = Framer::new(Mode::LengthPrefixed, 16);
            let (mut buf, mut out, mut errors) = (Vec::new(), Vec::new(), Vec::new());
            for piece in input.chunks(chunk) {
                buf.extend_from_slice(piece);
                loop {
                    match framer.next(&buf) {
                        Step::Frame { frame, consumed } => {
                            out.push(frame.to_vec());
                            buf.drain(..consumed);
                        }
                        Step::Skipped { error, consumed } => {
                            errors.push(error);
                            buf.drain(..consumed);
                        }
                        Step::Discarded { consumed } => {
                            buf.drain(..consumed);
                        }
                        Step::Truncated { consumed, .. } => {
                            buf.drain(..consumed);
                        }
                        Step::NeedMore => break,
                    }
                }
                // Never more than one frame's worth held back.
                assert!(
                    buf.len() < 16 + LENGTH_PREFIX,
                    "chunk {chunk}: {}",
                    buf.len()
                );
            }
            assert_eq!(out, [b"first".to_vec(), b"after".to_vec()], "chunk {chunk}");
            assert_eq!(errors, [ParseError::FrameTooLong { limit: 16 }]);
        }
    }

    #[test]
    fn a_length_header_past_u32_max_frames_is_refused_at_once() {
        let (out, errors) = frames(Mode::LengthPrefixed, 1 << 20, &[0xff; 4], 4);
        assert!(out.is_empty());
        assert_eq!(errors, [ParseError::FrameTooLong { limit: 1 << 20 }]);
    }

    #[test]
    fn a_stream_ending_mid_frame_reports_a_truncated_frame() {
        let mut input = length_prefixed(&[b"whole"]);
        input.extend_from_slice(&[0, 0, 0, 9, b'p']);
        let (out, errors) = frames(Mode::LengthPrefixed, 100, &input, 2);
        assert_eq!(out, [b"whole".to_vec()]);
        assert_eq!(errors, [ParseError::TruncatedFrame]);
        // A header cut short is the same loss.
        let (_, errors) = frames(Mode::LengthPrefixed, 100, &[0, 0], 1);
        assert_eq!(errors, [ParseError::TruncatedFrame]);
    }

    proptest::proptest! {
        /// Length-prefixed frames round-trip whatever bytes they carry and
        /// however the stream is cut; oversized ones cost only themselves.
        #[test]
        fn length_prefixed_round_trips(messages in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..80), 0..10), chunk in 1usize..90) {
            let payloads: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
            let (out, errors) = frames(Mode::LengthPrefixed, 50, &length_prefixed(&payloads), chunk);
            let expected: Vec<Vec<u8>> = messages.iter().filter(|m| m.len() <= 50).cloned().collect();
            proptest::prop_assert_eq!(out, expected);
            proptest::prop_assert_eq!(errors.len(), messages.iter().filter(|m| m.len() > 50).count());
        }

        /// Whatever the chunking, newline framing returns exactly the lines
        /// that fit, and reports one error per line that does not.
        #[test]
        fn lines_survive_any_chunking(lines in proptest::collection::vec("[a-z:|0-9]{0,40}", 0..20), chunk in 1usize..50) {
            let input: Vec<u8> = lines.iter().flat_map(|l| format!("{l}\n").into_bytes()).collect();
            let (out, errors) = frames(Mode::Lines, 30, &input, chunk);
            let expected: Vec<Vec<u8>> = lines.iter().filter(|l| l.len() <= 30).map(|l| l.as_bytes().to_vec()).collect();
            proptest::prop_assert_eq!(out, expected);
            proptest::prop_assert_eq!(errors.len(), lines.iter().filter(|l| l.len() > 30).count());
        }

        /// Octet-counted frames round-trip whatever bytes they carry.
        #[test]
        fn octet_counting_round_trips(messages in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 1..60), 0..10), chunk in 1usize..70) {
            let mut input = Vec::new();
            for m in &messages {
                input.extend_from_slice(format!("{} ", m.len()).as_bytes());
                input.extend_from_slice(m);
            }
            let (out, errors) = frames(Mode::Syslog, 100, &input, chunk);
            // A trailing newline inside a counted frame is dropped, as
            // senders add one out of habit.
            let expected: Vec<Vec<u8>> = messages.iter().map(|m| trim_line(m).to_vec()).collect();
            proptest::prop_assert!(errors.is_empty());
            proptest::prop_assert_eq!(out.len(), expected.len());
            for (got, want) in out.iter().zip(expected.iter()) {
                proptest::prop_assert_eq!(got, want);
            }
        }

        /// Arbitrary bytes never panic and every step consumes within bounds.
        #[test]
        fn never_panics_and_stays_in_bounds(input in proptest::collection::vec(proptest::num::u8::ANY, 0..400), chunk in 1usize..64, mode in 0u8..3, truncate: bool) {
            let mode = [Mode::Lines, Mode::Syslog, Mode::LengthPrefixed][usize::from(mode)];
            let mut framer = Framer::new(mode, 32);
            if truncate {
                framer = framer.truncating();
            }
            let mut buf: Vec<u8> = Vec::new();
            for piece in input.chunks(chunk) {
                buf.extend_from_slice(piece);
                for _ in 0..1000 {
                    let consumed = match framer.next(&buf) {
                        Step::Frame { frame, consumed } => { proptest::prop_assert!(frame.len() <= 32); consumed }
                        Step::Skipped { consumed, .. } => consumed,
                        Step::Discarded { consumed } => consumed,
                        Step::Truncated { frame, consumed } => { proptest::prop_assert!(frame.len() == 32); consumed }
                        Step::NeedMore => break,
                    };
                    proptest::prop_assert!(consumed > 0 && consumed <= buf.len());
                    buf.drain(..consumed);
                }
                // Bounded memory: what stays buffered is at most one frame
                // plus an octet-count header.
                proptest::prop_assert!(buf.len() <= 32 + MAX_COUNT_DIGITS + 2, "buffered {}", buf.len());
            }
        }
    }
}
