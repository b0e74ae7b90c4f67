//! A stack trace's `frames` read with their text borrowed from the
//! payload, and made into [`Frame`]s only when the process has not made
//! the same ones lately.
//!
//! Why: events of one issue nearly always carry the same frames, the
//! same code failing the same way, and a frame's text (its names and a
//! dozen source lines) was a dozen strings to allocate, copy and later
//! free: for a 30-frame event, a tenth of the CPU partout spent on it.
//! So the process keeps the frames it built last ([`Known`]), and a stack
//! trace whose frames, as read, are a kept one's shares them (an `Arc`).
//!
//! "Are" is decided by a keyed BLAKE3 digest of the frames as read,
//! not by comparing them: the kept copy is cold in memory, and comparing
//! took as long as building the frames anew. The key is drawn when the
//! process starts and never leaves it, and BLAKE3 with a secret key is a
//! MAC: kept frames are shared across projects, and no sender can make
//! its frames stand for someone else's, even one who reads this.
//!
//! What is kept per frame is what [`Frame`] keeps, as the `Value` reader
//! (`event::frame`) makes it: names and the context line cut to their
//! limits, at most `max_context_lines` lines before and after (the
//! nearest ones), a line that is not a string read as an empty one.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::ops::Range;
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError};

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{Key, Scalar};
use crate::sentry::event::{with_layout_buffer, Frame, FrameLayout, NormalizeLimits};

/// Stack traces kept at most: 3,000 of the errors benchmark's events (300
/// issues) carry 325 distinct ones, and with room for 256 too many were
/// built again.
const MAX_KNOWN: usize = 512;
/// Bytes kept at most, counted as the frames and their strings take.
const MAX_KNOWN_BYTES: usize = 16 * 1024 * 1024;

/// The frames of one `frames` array, as read: text borrowed where the
/// payload had no escapes, source lines in one list for the whole array.
#[derive(Default)]
pub(super) struct ReadFrames<'de> {
    frames: Vec<FrameRef<'de>>,
    lines: Vec<Cow<'de, str>>,
}

/// One frame as read; its source lines are ranges of
/// [`ReadFrames::lines`]. Text is uncut and never empty.
struct FrameRef<'de> {
    filename: Option<Cow<'de, str>>,
    abs_path: Option<Cow<'de, str>>,
    function: Option<Cow<'de, str>>,
    module: Option<Cow<'de, str>>,
    lineno: Option<u32>,
    colno: Option<u32>,
    in_app: Option<bool>,
    context_line: Option<Cow<'de, str>>,
    pre_context: Range<usize>,
    post_context: Range<usize>,
}

impl<'de> ReadFrames<'de> {
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Drops `count` frames from `at` (the middle of a trace over the
    /// frame limit).
    pub fn omit(&mut self, at: usize, count: usize) {
        let end = at.saturating_add(count).min(self.frames.len());
        self.frames.drain(at.min(end)..end);
    }

    /// The frames as [`Frame`]s: the kept ones when they are equal, else
    /// built and kept.
    pub fn into_frames(self, limits: &NormalizeLimits) -> Arc<[Frame]> {
        self.into_frames_known(limits, &KNOWN)
    }

    fn into_frames_known(self, limits: &NormalizeLimits, known: &Mutex<Known>) -> Arc<[Frame]> {
        // Nothing panics while holding it; were it poisoned, what it holds
        // is still whole.
        let lock = || known.lock().unwrap_or_else(PoisonError::into_inner);
        let digest = self.digest(limits);
        if let Some(kept) = lock().get(digest) {
            return kept;
        }
        let frames = self.build(limits);
        lock().keep(digest, &frames);
        frames
    }

    fn build(self, limits: &NormalizeLimits) -> Arc<[Frame]> {
        let ReadFrames { frames, mut lines } = self;
        let name = limits.max_name_chars;
        let text = limits.max_text_chars;
        let cut = |field: Option<Cow<'_, str>>, max_chars: usize| {
            field.map(|field| super::cut(field, max_chars))
        };
        frames
            .into_iter()
            .map(|frame| {
                let mut lines_of = |range: Range<usize>| -> Vec<String> {
                    lines
                        .get_mut(range)
                        .unwrap_or_default()
                        .iter_mut()
                        .map(|line| super::cut(std::mem::take(line), text))
                        .collect()
                };
                Frame {
                    pre_context: lines_of(frame.pre_context),
                    post_context: lines_of(frame.post_context),
                    filename: cut(frame.filename, name),
                    abs_path: cut(frame.abs_path, name),
                    function: cut(frame.function, name),
                    module: cut(frame.module, name),
                    lineno: frame.lineno,
                    colno: frame.colno,
                    in_app: frame.in_app,
                    context_line: cut(frame.context_line, text),
                }
            })
            .collect()
    }

    /// The keyed digest of the frames as read, and of the limits that
    /// cut them: equal digests, equal frames once built.
    fn digest(&self, limits: &NormalizeLimits) -> u128 {
        with_layout_buffer(|bytes| {
            for number in [
                limits.max_name_chars,
                limits.max_text_chars,
                self.frames.len(),
            ] {
                bytes.extend_from_slice(&(number as u64).to_le_bytes());
            }
            for frame in &self.frames {
                self.frame_into(bytes, frame);
            }
            let hash = blake3::keyed_hash(key(), bytes);
            let mut first = [0u8; 16];
            first.copy_from_slice(&hash.as_bytes()[..16]);
            u128::from_le_bytes(first)
        })
    }

    /// Lays out `frame` as [`FrameLayout`] lays out a kept one, its text
    /// uncut.
    fn frame_into(&self, bytes: &mut Vec<u8>, frame: &FrameRef<'_>) {
        let lines = |range: &Range<usize>| self.lines.get(range.clone()).unwrap_or_default();
        FrameLayout {
            filename: frame.filename.as_deref(),
            abs_path: frame.abs_path.as_deref(),
            function: frame.function.as_deref(),
            module: frame.module.as_deref(),
            lineno: frame.lineno,
            colno: frame.colno,
            in_app: frame.in_app,
            context_line: frame.context_line.as_deref(),
            pre_context: lines(&frame.pre_context),
            post_context: lines(&frame.post_context),
        }
        .append_to(bytes);
    }
}

/// This process's digest key: drawn at start, never stored or sent.
fn key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| {
        // The standard library seeds each `RandomState` from the OS.
        let mut key = [0u8; 32];
        for (at, chunk) in key.chunks_exact_mut(8).enumerate() {
            let drawn = std::collections::hash_map::RandomState::new().hash_one(at);
            chunk.copy_from_slice(&drawn.to_le_bytes());
        }
        key
    })
}

static KNOWN: LazyLock<Mutex<Known>> = LazyLock::new(|| Mutex::new(Known::default()));

/// The frames built last, by [`ReadFrames::digest`].
#[derive(Default)]
struct Known {
    by_digest: HashMap<u128, Kept>,
    bytes: usize,
}

struct Kept {
    frames: Arc<[Frame]>,
    bytes: usize,
}

impl Known {
    fn get(&self, digest: u128) -> Option<Arc<[Frame]>> {
        self.by_digest
            .get(&digest)
            .map(|kept| Arc::clone(&kept.frames))
    }

    /// Keeps `frames` under `digest`.
    fn keep(&mut self, digest: u128, frames: &Arc<[Frame]>) {
        let bytes = text_bytes(frames);
        if bytes > MAX_KNOWN_BYTES / 8 {
            return;
        }
        if let Some(replaced) = self.by_digest.remove(&digest) {
            self.bytes -= replaced.bytes;
        }
        // Any other one makes room: which is gone matters little, a
        // frequent trace comes back at once.
        while self.by_digest.len() >= MAX_KNOWN || self.bytes + bytes > MAX_KNOWN_BYTES {
            let Some(&other) = self.by_digest.keys().next() else {
                break;
            };
            if let Some(gone) = self.by_digest.remove(&other) {
                self.bytes -= gone.bytes;
            }
        }
        self.bytes += bytes;
        self.by_digest.insert(
            digest,
            Kept {
                frames: Arc::clone(frames),
                bytes,
            },
        );
    }
}

/// The bytes of the frames' strings, with a little for each string.
fn text_bytes(frames: &[Frame]) -> usize {
    const PER_STRING: usize = 32;
    let text = |field: &Option<String>| field.as_ref().map_or(0, |text| text.len() + PER_STRING);
    frames
        .iter()
        .map(|frame| {
            let lines: usize = frame
                .pre_context
                .iter()
                .chain(&frame.post_context)
                .map(|line| line.len() + PER_STRING)
                .sum();
            std::mem::size_of::<Frame>()
                + lines
                + text(&frame.filename)
                + text(&frame.abs_path)
                + text(&frame.function)
                + text(&frame.module)
                + text(&frame.context_line)
        })
        .sum()
}

/// A `frames` array: its object items as frames; `None` when not an
/// array.
pub(super) struct FramesSeed<'a> {
    pub limits: &'a NormalizeLimits,
}

impl<'de> DeserializeSeed<'de> for FramesSeed<'_> {
    type Value = Option<ReadFrames<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FramesSeed<'_> {
    type Value = Option<ReadFrames<'de>>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an array of frames")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let frames = seq.size_hint().unwrap_or(0).min(256);
        let mut read = ReadFrames {
            frames: Vec::with_capacity(frames),
            // SDKs send about five lines each side of a frame's line:
            // grown from empty, the list went through a dozen doublings.
            lines: Vec::with_capacity(frames.saturating_mul(10)),
        };
        while let Some(frame) = seq.next_element_seed(FrameSeed {
            limits: self.limits,
            lines: &mut read.lines,
        })? {
            read.frames.extend(frame);
        }
        Ok(Some(read))
    }

    skip_scalars!(None);
    skip_map!(None);
}

/// One frame: `Some` for an object. Local variables and unknown fields are
/// skipped unread.
struct FrameSeed<'a, 'de> {
    limits: &'a NormalizeLimits,
    lines: &'a mut Vec<Cow<'de, str>>,
}

impl<'de> DeserializeSeed<'de> for FrameSeed<'_, 'de> {
    type Value = Option<FrameRef<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FrameSeed<'_, 'de> {
    type Value = Option<FrameRef<'de>>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a frame")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let FrameSeed { limits, lines } = self;
        let start = lines.len();
        let mut frame = FrameRef {
            filename: None,
            abs_path: None,
            function: None,
            module: None,
            lineno: None,
            colno: None,
            in_app: None,
            context_line: None,
            pre_context: start..start,
            post_context: start..start,
        };
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.0.as_ref() {
                "filename" => frame.filename = map.next_value::<Scalar>()?.text(),
                "abs_path" => frame.abs_path = map.next_value::<Scalar>()?.text(),
                "function" => frame.function = map.next_value::<Scalar>()?.text(),
                "module" => frame.module = map.next_value::<Scalar>()?.text(),
                "lineno" => frame.lineno = map.next_value::<Scalar>()?.small_uint(),
                "colno" => frame.colno = map.next_value::<Scalar>()?.small_uint(),
                "in_app" => frame.in_app = map.next_value::<Scalar>()?.boolean(),
                "context_line" => frame.context_line = map.next_value::<Scalar>()?.text(),
                // A repeated key's earlier lines stay in the list, unused.
                "pre_context" => {
                    frame.pre_context = map.next_value_seed(LinesSeed {
                        limits,
                        nearest_last: true,
                        lines: &mut *lines,
                    })?;
                }
                "post_context" => {
                    frame.post_context = map.next_value_seed(LinesSeed {
                        limits,
                        nearest_last: false,
                        lines: &mut *lines,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(frame))
    }

    skip_scalars!(None);
    skip_seq!(None);
}

/// Source lines around a frame's line, added to the array's list: at most
/// `max_context_lines`, the ones nearest the frame's line (the last of
/// `pre_context`, the first of `post_context`); an item that is not a
/// string reads as an empty line. Gives their range of the list.
struct LinesSeed<'a, 'de> {
    limits: &'a NormalizeLimits,
    nearest_last: bool,
    lines: &'a mut Vec<Cow<'de, str>>,
}

impl<'de> DeserializeSeed<'de> for LinesSeed<'_, 'de> {
    type Value = Range<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for LinesSeed<'_, 'de> {
    type Value = Range<usize>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an array of source lines")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let LinesSeed {
            limits,
            nearest_last,
            lines,
        } = self;
        let keep = limits.max_context_lines;
        let start = lines.len();
        while let Some(scalar) = seq.next_element::<Scalar>()? {
            let held = lines.len() - start;
            if held == keep && !nearest_last {
                continue;
            }
            if keep == 0 {
                continue;
            }
            // Which lines are the last is only known at the end: hold up
            // to twice as many, then drop the older half.
            if nearest_last && held == keep.saturating_mul(2) {
                lines.drain(start..start + keep);
            }
            lines.push(match scalar {
                Scalar::Text(text) => text,
                _ => Cow::Borrowed(""),
            });
        }
        let held = lines.len() - start;
        if held > keep {
            lines.drain(start..start + (held - keep));
        }
        Ok(start..lines.len())
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(self.empty())
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(self.empty())
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(self.empty())
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(self.empty())
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(self.empty())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.empty())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(self.empty())
    }
}

impl LinesSeed<'_, '_> {
    /// No lines: what a value that is not an array reads as.
    fn empty(&self) -> Range<usize> {
        self.lines.len()..self.lines.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frames of a `frames` array whose second frame has
    /// `pre_context` lines `pre` and the given `in_app`, kept in `known`.
    fn frames_in(
        known: &Mutex<Known>,
        pre: &[&str],
        in_app: bool,
        limits: &NormalizeLimits,
    ) -> Arc<[Frame]> {
        let frames = serde_json::json!([
            {"function": "outer", "module": "app", "lineno": 3, "vars": {"x": 1}},
            {"function": "load", "module": "app.data", "lineno": 12, "in_app": in_app,
             "pre_context": pre, "context_line": "x = d[k]", "post_context": ["return x"]},
        ])
        .to_string();
        let mut deserializer = serde_json::Deserializer::from_str(&frames);
        let read = FramesSeed { limits }
            .deserialize(&mut deserializer)
            .unwrap()
            .unwrap();
        read.into_frames_known(limits, known)
    }

    /// As [`frames_in`], through the whole payload reader.
    fn frames_of(pre: &[&str], in_app: bool, limits: &NormalizeLimits) -> Arc<[Frame]> {
        let payload = serde_json::json!({
            "stacktrace": {"frames": [
                {"function": "outer", "module": "app", "lineno": 3, "vars": {"x": 1}},
                {"function": "load", "module": "app.data", "lineno": 12, "in_app": in_app,
                 "pre_context": pre, "context_line": "x = d[k]", "post_context": ["return x"]},
            ]}
        })
        .to_string();
        match super::super::read(payload.as_bytes(), limits) {
            Ok(read) => read.stacktrace.map(|trace| trace.frames).unwrap(),
            Err(_) => panic!("the payload was refused"),
        }
    }

    #[test]
    fn equal_frames_are_built_once() {
        let known = Mutex::new(Known::default());
        let limits = NormalizeLimits::default();
        let first = frames_in(&known, &["a = 1", "b = 2"], true, &limits);
        let again = frames_in(&known, &["a = 1", "b = 2"], true, &limits);
        assert!(Arc::ptr_eq(&first, &again), "the kept frames are shared");
        assert_eq!(first[1].pre_context, ["a = 1", "b = 2"]);
        assert_eq!(first[1].post_context, ["return x"]);
        assert_eq!(first[1].context_line.as_deref(), Some("x = d[k]"));
        assert_eq!(first, frames_of(&["a = 1", "b = 2"], true, &limits));
    }

    #[test]
    fn frames_in_the_same_place_that_differ_are_not_shared() {
        let known = Mutex::new(Known::default());
        let limits = NormalizeLimits::default();
        let first = frames_in(&known, &["a = 1", "b = 2"], true, &limits);
        let edited = frames_in(&known, &["a = 1", "b = 3"], true, &limits);
        assert!(!Arc::ptr_eq(&first, &edited));
        assert_eq!(edited[1].pre_context, ["a = 1", "b = 3"]);
        let library = frames_in(&known, &["a = 1", "b = 3"], false, &limits);
        assert_eq!(library[1].in_app, Some(false));
        let fewer = frames_in(&known, &["b = 3"], true, &limits);
        assert_eq!(fewer[1].pre_context, ["b = 3"]);
    }

    #[test]
    fn lines_are_cut_and_the_same_lines_share_their_frames() {
        let known = Mutex::new(Known::default());
        let limits = NormalizeLimits {
            max_text_chars: 4,
            max_context_lines: 2,
            ..NormalizeLimits::default()
        };
        let first = frames_in(&known, &["skipped", "abcdefgh", "xy"], true, &limits);
        assert_eq!(first[1].pre_context, ["abc…", "xy"], "the nearest two, cut");
        let same = frames_in(&known, &["other", "abcdefgh", "xy"], true, &limits);
        assert!(Arc::ptr_eq(&first, &same), "the lines kept are the same");
        let after_the_cut = frames_in(&known, &["other", "abcdZZZZ", "xy"], true, &limits);
        assert_eq!(after_the_cut, first, "the same once cut");
        let other_cut = frames_in(&known, &["other", "abXdefgh", "xy"], true, &limits);
        assert!(!Arc::ptr_eq(&first, &other_cut));
        assert_eq!(other_cut[1].pre_context, ["abX…", "xy"]);
        let longer_names = NormalizeLimits {
            max_name_chars: 3,
            ..limits
        };
        let cut_names = frames_in(&known, &["skipped", "abcdefgh", "xy"], true, &longer_names);
        assert_eq!(
            cut_names[1].function.as_deref(),
            Some("lo…"),
            "other limits, other frames"
        );
    }

    #[test]
    fn the_nearest_lines_are_kept_from_a_long_list() {
        let limits = NormalizeLimits {
            max_context_lines: 3,
            ..NormalizeLimits::default()
        };
        let lines: Vec<String> = (0..50).map(|n| format!("line {n}")).collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let frames = frames_of(&lines, true, &limits);
        assert_eq!(frames[1].pre_context, ["line 47", "line 48", "line 49"]);
    }

    #[test]
    fn a_bounded_number_of_traces_is_kept() {
        let mut known = Known::default();
        let frames = frames_of(&["a = 1"], true, &NormalizeLimits::default());
        for digest in 0..(MAX_KNOWN as u128 * 3) {
            known.keep(digest, &frames);
            assert!(known.by_digest.len() <= MAX_KNOWN);
        }
        let bytes: usize = known.by_digest.values().map(|kept| kept.bytes).sum();
        assert_eq!(bytes, known.bytes, "the count follows what is kept");
        assert_eq!(known.bytes, MAX_KNOWN * text_bytes(&frames));
        known.keep(7, &frames);
        assert_eq!(
            known.by_digest.len(),
            MAX_KNOWN,
            "a digest is replaced, not added"
        );
        let line = "x".repeat(MAX_KNOWN_BYTES / 8);
        let large = frames_of(
            &[&line],
            true,
            &NormalizeLimits {
                max_text_chars: usize::MAX,
                ..NormalizeLimits::default()
            },
        );
        known.keep(u128::MAX, &large);
        assert!(known.get(u128::MAX).is_none(), "too large to keep");
    }
}
