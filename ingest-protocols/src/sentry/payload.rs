//! An event payload read in one pass over its bytes, without building a
//! `serde_json::Value` tree of the whole event.
//!
//! Why: most of a real error event is its stack traces (source context
//! lines and each frame's local variables: 30 KB of a 37 KB Python event),
//! and a `Value` tree allocates a string and a map node for every one of
//! them, only for normalization to drop the variables and copy the rest.
//! Here the stack traces (in `exception`, `stacktrace` and `threads`) are
//! read straight into their normalized structs, frame fields that are
//! never kept (`vars`, and anything unknown) are skipped without
//! allocating, and top-level fields normalization does not read are
//! skipped too. Breadcrumbs, up to a hundred small objects, are read
//! straight into theirs too (`breadcrumbs`). The small fields it does
//! read (tags, contexts, user, request...) still become `Value`s, so their
//! rules stay in one place.
//!
//! The result must equal what [`super::event::normalize_event_map`] makes
//! of the same payload parsed as a `Value`: the same tolerance (a field of
//! the wrong type reads as absent), the same cuts, the same order of
//! filtering and cutting, and the last of duplicate keys winning. A
//! property test holds the two together. The one difference: values that
//! are skipped are only checked for syntax, so a number too large for an
//! `f64` in a frame's `vars` does not fail the event here.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::event::{Breadcrumb, Exception, Mechanism, NormalizeLimits, Stacktrace};
use super::value::{cut_owned, truncate};

/// Top-level keys whose values normalization reads as JSON values. Every
/// other key but `exception`, `stacktrace`, `threads` and `breadcrumbs`
/// is skipped.
const VALUE_KEYS: &[&str] = &[
    "type",
    "event_id",
    "timestamp",
    "start_timestamp",
    "level",
    "platform",
    "logger",
    "release",
    "dist",
    "environment",
    "server_name",
    "transaction",
    "logentry",
    "message",
    "tags",
    "contexts",
    "extra",
    "user",
    "request",
    "sdk",
    "fingerprint",
];

/// What one pass over an event object found.
#[derive(Debug, Default)]
pub(crate) struct Payload {
    /// The top-level fields of [`VALUE_KEYS`] that were present.
    pub fields: Map<String, Value>,
    /// The exception chain after the per-chain cut, without exceptions
    /// that have no type, value or stack trace.
    pub exceptions: Vec<Exception>,
    /// The top-level `stacktrace`.
    pub stacktrace: Option<Stacktrace>,
    /// The `threads` interface, object items only.
    pub threads: Vec<Thread>,
    /// The breadcrumbs kept, oldest first (`breadcrumbs`).
    pub breadcrumbs: Vec<Breadcrumb>,
}

impl Payload {
    /// The crashed thread's stack, else the current thread's, else the
    /// first one that has frames (as `event::thread_stacktrace`).
    pub fn thread_stacktrace(&mut self) -> Option<Stacktrace> {
        let threads = &mut self.threads;
        let index = threads
            .iter()
            .position(|thread| thread.crashed == Some(true) && thread.stacktrace.is_some())
            .or_else(|| {
                threads
                    .iter()
                    .position(|thread| thread.current == Some(true) && thread.stacktrace.is_some())
            })
            .or_else(|| {
                threads
                    .iter()
                    .position(|thread| thread.stacktrace.is_some())
            })?;
        threads.get_mut(index)?.stacktrace.take()
    }
}

/// One thread of the `threads` interface.
#[derive(Debug, Default)]
pub(crate) struct Thread {
    pub crashed: Option<bool>,
    pub current: Option<bool>,
    pub stacktrace: Option<Stacktrace>,
}

/// Why a payload could not be read.
pub(crate) enum ReadError {
    /// Valid JSON, but not an object.
    NotAnObject,
    /// Not JSON, or cut short.
    Syntax(serde_json::Error),
}

/// Reads an event payload: a JSON object, else an error.
///
/// simd-json first: on event-sized payloads it reads about twice as fast
/// as serde_json on this kind of machine. Whatever it refuses is read
/// again with serde_json, whose verdict (and error message) stands, so
/// what is accepted never depends on simd-json's corner cases.
pub(crate) fn read(payload: &[u8], limits: &NormalizeLimits) -> Result<Payload, ReadError> {
    if let Some(read) = read_with_simd_json(payload, limits) {
        return Ok(read);
    }
    read_with_serde_json(payload, limits)
}

/// Largest payload whose copy and parser buffers a thread keeps for the
/// next one; an unusually large event must not pin its buffers for good.
const MAX_KEPT_INPUT: usize = 1024 * 1024;

/// What simd-json needs per payload, kept per thread: allocating the copy,
/// the parser's buffers and its tape afresh for every 30 KB event cost
/// more than finding its structure (a fresh tape of some thousands of
/// nodes grew through reallocations into freshly faulted pages).
struct SimdScratch {
    /// The payload, then [`simd_json::INPUT_PADDING`] bytes: simd-json
    /// unescapes strings in place and reads past the end with SIMD loads,
    /// so it parses this copy rather than copying the payload again.
    copy: Vec<u8>,
    buffers: simd_json::Buffers,
    /// Empty between parses; kept for its allocation.
    tape: simd_json::Tape<'static>,
}

impl SimdScratch {
    fn new() -> SimdScratch {
        SimdScratch {
            copy: Vec::new(),
            buffers: simd_json::Buffers::default(),
            tape: simd_json::Tape(Vec::new()),
        }
    }
}

thread_local! {
    static SIMD_SCRATCH: std::cell::RefCell<SimdScratch> =
        std::cell::RefCell::new(SimdScratch::new());
}

pub(crate) fn read_with_simd_json(payload: &[u8], limits: &NormalizeLimits) -> Option<Payload> {
    SIMD_SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => {
            let read = read_with_scratch(payload, limits, &mut scratch);
            if payload.len() > MAX_KEPT_INPUT {
                *scratch = SimdScratch::new();
            }
            read
        }
        // Only a re-entered parse finds it taken; it pays for its own.
        Err(_) => read_with_scratch(payload, limits, &mut SimdScratch::new()),
    })
}

fn read_with_scratch(
    payload: &[u8],
    limits: &NormalizeLimits,
    scratch: &mut SimdScratch,
) -> Option<Payload> {
    let SimdScratch {
        copy,
        buffers,
        tape: kept,
    } = scratch;
    copy.clear();
    copy.extend_from_slice(payload);
    copy.resize(payload.len() + simd_json::INPUT_PADDING, b' ');
    let mut tape = std::mem::replace(kept, simd_json::Tape(Vec::new())).reset();
    let read = match simd_json::fill_tape_padded(copy, payload.len(), buffers, &mut tape) {
        Ok(()) => {
            let mut deserializer = simd_json::Deserializer::from_tape(tape);
            let read = EventSeed { limits }.deserialize(&mut deserializer).ok();
            tape = deserializer.into_tape();
            read
        }
        Err(_) => None,
    };
    *kept = tape.reset();
    read
}

pub(crate) fn read_with_serde_json(
    payload: &[u8],
    limits: &NormalizeLimits,
) -> Result<Payload, ReadError> {
    let mut deserializer = serde_json::Deserializer::from_slice(payload);
    let read = EventSeed { limits }
        .deserialize(&mut deserializer)
        .and_then(|payload| deserializer.end().map(|()| payload));
    read.map_err(|error| match error.classify() {
        // Only the top level refuses a type: everything below reads a
        // value of the wrong type as absent.
        serde_json::error::Category::Data => ReadError::NotAnObject,
        _ => ReadError::Syntax(error),
    })
}

/// `text` cut to `max_chars` as [`truncate`] does, reusing a string that
/// had to be unescaped already rather than copying it again.
fn cut(text: Cow<'_, str>, max_chars: usize) -> String {
    match text {
        Cow::Owned(text) => cut_owned(text, max_chars),
        Cow::Borrowed(text) => truncate(text, max_chars),
    }
}

/// Any JSON value, kept only as far as a frame or exception field needs:
/// text, a non-negative integer, a boolean; anything else is consumed and
/// forgotten.
enum Scalar<'de> {
    Text(Cow<'de, str>),
    Unsigned(u64),
    Bool(bool),
    Other,
}

impl<'de> Scalar<'de> {
    /// A non-empty string, uncut.
    fn text(self) -> Option<Cow<'de, str>> {
        match self {
            Scalar::Text(text) if !text.is_empty() => Some(text),
            _ => None,
        }
    }

    /// A non-empty string, cut to `max_chars` (`value::string`).
    fn string(self, max_chars: usize) -> Option<String> {
        match self {
            Scalar::Text(text) if !text.is_empty() => Some(cut(text, max_chars)),
            _ => None,
        }
    }

    /// A non-negative integer that fits a `u32` (`value::small_uint`).
    fn small_uint(self) -> Option<u32> {
        match self {
            Scalar::Unsigned(number) => u32::try_from(number).ok(),
            _ => None,
        }
    }

    fn boolean(self) -> Option<bool> {
        match self {
            Scalar::Bool(flag) => Some(flag),
            _ => None,
        }
    }
}

impl<'de> serde::Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

/// Visitor methods for the JSON types a visitor does not want: scalars
/// give `$other`.
macro_rules! skip_scalars {
    ($other:expr) => {
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok($other)
        }
    };
}

/// An array a visitor does not want: skipped whole, giving `$other`.
macro_rules! skip_seq {
    ($other:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($other)
        }
    };
}

/// An object a visitor does not want: skipped whole, giving `$other`.
macro_rules! skip_map {
    ($other:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($other)
        }
    };
}

mod breadcrumbs;
mod frames;

use breadcrumbs::BreadcrumbsSeed;
use frames::{FramesSeed, ReadFrames};

/// An object key, borrowed from the payload unless it had escapes. (The
/// `Cow<str>` of serde always copies.)
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an object key")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Borrowed(text)))
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(text.to_owned())))
    }
}

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(text)))
    }

    fn visit_u64<E: serde::de::Error>(self, number: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Unsigned(number))
    }

    fn visit_i64<E: serde::de::Error>(self, number: i64) -> Result<Self::Value, E> {
        Ok(u64::try_from(number).map_or(Scalar::Other, Scalar::Unsigned))
    }

    fn visit_bool<E: serde::de::Error>(self, flag: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(flag))
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }

    skip_seq!(Scalar::Other);
    skip_map!(Scalar::Other);
}

/// The top-level object.
struct EventSeed<'a> {
    limits: &'a NormalizeLimits,
}

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = Payload;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Payload, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EventSeed<'_> {
    type Value = Payload;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Payload, A::Error> {
        let limits = self.limits;
        let mut payload = Payload::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.0.as_ref() {
                "exception" => {
                    payload.exceptions = map.next_value_seed(ExceptionsSeed { limits })?;
                }
                "stacktrace" => {
                    payload.stacktrace = map.next_value_seed(StacktraceSeed { limits })?;
                }
                "threads" => payload.threads = map.next_value_seed(ThreadsSeed { limits })?,
                "breadcrumbs" => {
                    payload.breadcrumbs = map.next_value_seed(BreadcrumbsSeed { limits })?;
                }
                name if VALUE_KEYS.contains(&name) => {
                    let value: Value = map.next_value()?;
                    payload.fields.insert(key.0.into_owned(), value);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(payload)
    }
}

/// A stack trace object: `Some` when its `frames` array holds at least one
/// object, cut to the frame limit keeping both ends.
struct StacktraceSeed<'a> {
    limits: &'a NormalizeLimits,
}

impl<'de> DeserializeSeed<'de> for StacktraceSeed<'_> {
    type Value = Option<Stacktrace>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StacktraceSeed<'_> {
    type Value = Option<Stacktrace>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a stack trace")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut frames: Option<ReadFrames<'de>> = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.0 == "frames" {
                frames = map.next_value_seed(FramesSeed {
                    limits: self.limits,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        let mut frames = match frames {
            Some(frames) if frames.len() > 0 => frames,
            _ => return Ok(None),
        };
        let max = self.limits.max_frames;
        let omitted = frames.len().saturating_sub(max);
        frames.omit(max / 2, omitted);
        Ok(Some(Stacktrace {
            frames: frames.into_frames(self.limits),
            frames_omitted: omitted,
        }))
    }

    skip_scalars!(None);
    skip_seq!(None);
}

/// The `exception` interface: `{"values": [...]}`, a bare array, or a
/// single exception object (an object without `values`). The last
/// `max_exceptions` items are kept, counting items that are not objects
/// (which are then dropped), as the `Value` reader does.
struct ExceptionsSeed<'a> {
    limits: &'a NormalizeLimits,
}

impl<'de> DeserializeSeed<'de> for ExceptionsSeed<'_> {
    type Value = Vec<Exception>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl ExceptionsSeed<'_> {
    fn keep_last(&self, items: Vec<Option<Exception>>) -> Vec<Exception> {
        let skip = items.len().saturating_sub(self.limits.max_exceptions);
        items
            .into_iter()
            .skip(skip)
            .flatten()
            .filter(|exception| {
                exception.kind.is_some()
                    || exception.value.is_some()
                    || exception.stacktrace.is_some()
            })
            .collect()
    }
}

impl<'de> Visitor<'de> for ExceptionsSeed<'_> {
    type Value = Vec<Exception>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an exception interface")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let items = ExceptionItemsSeed {
            limits: self.limits,
        }
        .visit_seq(seq)?;
        Ok(self.keep_last(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let read = read_exception(map, self.limits, true)?;
        let items = match read.values {
            Some(values) => values.unwrap_or_default(),
            None => vec![Some(read.exception)],
        };
        Ok(self.keep_last(items))
    }

    skip_scalars!(Vec::new());
}

/// The items of a `values` array: `Some` for each object. The outer
/// `Option` is `None` when `values` is not an array.
struct ExceptionItemsSeed<'a> {
    limits: &'a NormalizeLimits,
}

impl<'de> DeserializeSeed<'de> for ExceptionItemsSeed<'_> {
    type Value = Option<Vec<Option<Exception>>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(OptionalItems(self))
    }
}

impl<'de> ExceptionItemsSeed<'_> {
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Option<Exception>>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ExceptionSeed {
            limits: self.limits,
        })? {
            items.push(item);
        }
        Ok(items)
    }
}

/// [`ExceptionItemsSeed`] as a visitor of any value.
struct OptionalItems<'a>(ExceptionItemsSeed<'a>);

impl<'de> Visitor<'de> for OptionalItems<'_> {
    type Value = Option<Vec<Option<Exception>>>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an array of exceptions")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.0.visit_seq(seq).map(Some)
    }

    skip_scalars!(None);
    skip_map!(None);
}

/// One exception: `Some` for an object (even an empty one: items count
/// towards the chain's cut before empty ones are dropped).
struct ExceptionSeed<'a> {
    limits: &'a NormalizeLimits,
}

impl<'de> DeserializeSeed<'de> for ExceptionSeed<'_> {
    type Value = Option<Exception>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ExceptionSeed<'_> {
    type Value = Option<Exception>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an exception")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Ok(Some(read_exception(map, self.limits, false)?.exception))
    }

    skip_scalars!(None);
    skip_seq!(None);
}

/// An exception object, and for the interface's top level its `values`
/// (`Some` when the key was there; inside, `None` when not an array).
struct ReadException {
    exception: Exception,
    values: Option<Option<Vec<Option<Exception>>>>,
}

fn read_exception<'de, A: MapAccess<'de>>(
    mut map: A,
    limits: &NormalizeLimits,
    top_level: bool,
) -> Result<ReadException, A::Error> {
    let name = limits.max_name_chars;
    let mut read = ReadException {
        exception: Exception::default(),
        values: None,
    };
    while let Some(key) = map.next_key::<Key<'de>>()? {
        let exception = &mut read.exception;
        match key.0.as_ref() {
            "type" => exception.kind = map.next_value::<Scalar>()?.string(name),
            "value" => {
                exception.value = map.next_value::<Scalar>()?.string(limits.max_text_chars);
            }
            "module" => exception.module = map.next_value::<Scalar>()?.string(name),
            "mechanism" => exception.mechanism = map.next_value_seed(MechanismSeed { limits })?,
            "stacktrace" => {
                exception.stacktrace = map.next_value_seed(StacktraceSeed { limits })?
            }
            "values" if top_level => {
                read.values = Some(map.next_value_seed(ExceptionItemsSeed { limits })?);
            }
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(read)
}

/// A mechanism object; `None` for anything else.
struct MechanismSeed<'a> {
    limits: &'a NormalizeLimits,
}

impl<'de> DeserializeSeed<'de> for MechanismSeed<'_> {
    type Value = Option<Mechanism>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MechanismSeed<'_> {
    type Value = Option<Mechanism>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a mechanism")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut mechanism = Mechanism::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.0.as_ref() {
                "type" => {
                    mechanism.kind = map
                        .next_value::<Scalar>()?
                        .string(self.limits.max_name_chars);
                }
                "handled" => mechanism.handled = map.next_value::<Scalar>()?.boolean(),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(mechanism))
    }

    skip_scalars!(None);
    skip_seq!(None);
}

/// The `threads` interface: `{"values": [...]}` or a bare array; its
/// object items.
struct ThreadsSeed<'a> {
    limits: &'a NormalizeLimits,
}

impl<'de> DeserializeSeed<'de> for ThreadsSeed<'_> {
    type Value = Vec<Thread>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ThreadsSeed<'_> {
    type Value = Vec<Thread>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a threads interface")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut threads = Vec::new();
        while let Some(thread) = seq.next_element_seed(ThreadSeed {
            limits: self.limits,
        })? {
            threads.extend(thread);
        }
        Ok(threads)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut threads = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.0 == "values" {
                threads = map.next_value_seed(ThreadValuesSeed {
                    limits: self.limits,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(threads)
    }

    skip_scalars!(Vec::new());
}

/// The `values` of a threads object: only an array counts.
struct ThreadValuesSeed<'a> {
    limits: &'a NormalizeLimits,
}

impl<'de> DeserializeSeed<'de> for ThreadValuesSeed<'_> {
    type Value = Vec<Thread>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ThreadValuesSeed<'_> {
    type Value = Vec<Thread>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an array of threads")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        ThreadsSeed {
            limits: self.limits,
        }
        .visit_seq(seq)
    }

    skip_scalars!(Vec::new());
    skip_map!(Vec::new());
}

/// One thread: `Some` for an object.
struct ThreadSeed<'a> {
    limits: &'a NormalizeLimits,
}

impl<'de> DeserializeSeed<'de> for ThreadSeed<'_> {
    type Value = Option<Thread>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ThreadSeed<'_> {
    type Value = Option<Thread>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a thread")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut thread = Thread::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.0.as_ref() {
                "crashed" => thread.crashed = map.next_value::<Scalar>()?.boolean(),
                "current" => thread.current = map.next_value::<Scalar>()?.boolean(),
                "stacktrace" => {
                    thread.stacktrace = map.next_value_seed(StacktraceSeed {
                        limits: self.limits,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(thread))
    }

    skip_scalars!(None);
    skip_seq!(None);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::event::{normalize_event, normalize_event_map, NormalizeLimits};
    use serde_json::Value;

    /// One thread's parser buffers serve payloads of every size in turn:
    /// a large one (past what is kept), then smaller ones, each read
    /// whole and alone.
    #[test]
    fn kept_parser_buffers_serve_payloads_of_any_size_in_turn() {
        let limits = NormalizeLimits::default();
        let padding = "x".repeat(super::MAX_KEPT_INPUT + 10);
        let large = format!(r#"{{"message": "large", "extra": {{"pad": "{padding}"}}}}"#);
        let small = r#"{"message": "small", "release": "1.0"}"#;
        let smaller = r#"{"message": "s"}"#;
        for payload in [
            small,
            large.as_str(),
            small,
            smaller,
            large.as_str(),
            smaller,
        ] {
            let read = super::read_with_simd_json(payload.as_bytes(), &limits);
            assert!(read.is_some(), "simd-json refused a payload");
            let from_bytes = normalize_event(payload.as_bytes(), &limits).unwrap();
            let value: Value = serde_json::from_str(payload).unwrap();
            let from_value = normalize_event_map(value.as_object().unwrap(), &limits);
            assert_eq!(from_bytes, from_value);
        }
        // A payload simd-json refuses, at either stage, leaves the kept
        // tape and buffers whole for the next.
        for broken in [
            r#"{"message": "open"#,
            r#"{"message": "a"} trailing"#,
            "[1, 2",
        ] {
            assert!(super::read_with_simd_json(broken.as_bytes(), &limits).is_none());
            let read = super::read_with_simd_json(small.as_bytes(), &limits).unwrap();
            assert_eq!(read.fields.get("release"), Some(&Value::from("1.0")));
        }
    }

    /// Payloads a `Value` cannot come from: the last of duplicate keys
    /// wins in both readers, and escaped keys and text read the same.
    #[test]
    fn duplicate_keys_and_escapes_read_as_serde_json_does() {
        for payload in [
            r#"{"exception": {"values": [{"type": "A"}]}, "exception": {"type": "B"}}"#,
            r#"{"exception": {"type": "A", "values": 3, "values": [{"value": "v"}]}}"#,
            r#"{"stacktrace": {"frames": [{"function": "f", "function": "g"}], "frames": []}}"#,
            r#"{"excep\u0074ion": {"type": "T\"1", "stacktrace": {"frames": [{"pre_context": ["a\nb", 1, "c"]}]}}}"#,
            r#"{"threads": {"values": [], "values": [{"crashed": true, "stacktrace": {"frames": [{}]}}]}}"#,
            r#"{"breadcrumbs": {"values": [{"type": "a"}], "values": [{"type": "a", "type": 3, "data": {"x": 1}, "data": 2}, 5, {"message": "m", "message": "n\u00e9", "level": "warn", "level": "bogus", "timestamp": "2026-11-25T06:00:00Z", "timestamp": 1795586159.5}]}, "breadcrumbs": [{"category": "c", "data": 1, "data": {"y": [1]}}, {"level": "warn"}]}"#,
        ] {
            let limits = NormalizeLimits::default();
            let from_bytes = normalize_event(payload.as_bytes(), &limits).unwrap();
            let value: Value = serde_json::from_str(payload).unwrap();
            let from_value = normalize_event_map(value.as_object().unwrap(), &limits);
            assert_eq!(from_bytes, from_value, "{payload}");
        }
    }

    #[test]
    fn only_objects_are_events_and_skipped_values_are_only_checked_for_syntax() {
        let limits = NormalizeLimits::default();
        for payload in ["[]", "3", "\"x\"", "null"] {
            let error = normalize_event(payload.as_bytes(), &limits).unwrap_err();
            assert_eq!(error.to_string(), "invalid event: not a JSON object");
        }
        for payload in ["{", "{\"a\": }", "{} x"] {
            assert!(normalize_event(payload.as_bytes(), &limits).is_err());
        }
        // Local variables are never read: a huge number there is no error.
        let event = normalize_event(
            br#"{"stacktrace": {"frames": [{"function": "f", "vars": {"n": 1e999}}]}}"#,
            &limits,
        )
        .unwrap();
        assert_eq!(event.stacktrace.unwrap().frames.len(), 1);
    }
}
