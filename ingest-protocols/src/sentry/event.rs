//! Normalizing a Sentry event payload (an `event` or `transaction` item)
//! into typed, size-capped structs.
//!
//! Tolerance: only a payload that is not a JSON object is an error. Every
//! field is optional, and one of the wrong type reads as absent, because
//! SDKs and their users put surprising things in events and one odd field
//! must not lose the error report.
//!
//! Bounds ([`NormalizeLimits`]): strings, frames per stack trace,
//! exceptions per chain, breadcrumbs, tags and free-form JSON (contexts,
//! extra, breadcrumb data) are cut, each cut keeping the part that matters
//! most (both ends of a stack trace, the outermost exceptions, the latest
//! breadcrumbs), so a normalized event is never much larger than the
//! limits allow whatever the payload held.
//!
//! Privacy: frame local variables (`vars`), request bodies, cookies, query
//! strings and environment, and request headers that carry credentials
//! (names containing `cookie`, `auth`, `token`, `secret`, `password`,
//! `key`, `session`, `csrf` or `xsrf`) are never kept, nor are user names
//! and passwords in request URLs. The SDKs already scrub some of this by
//! default; partout does not rely on every SDK and setting getting it right.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::sentry::value::{
    boolean, bounded_json, object, scalar_string, small_uint, string, truncate, values_array,
    JsonBounds,
};
use crate::sentry::{timestamp, SentryError};

/// Size bounds applied while normalizing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormalizeLimits {
    /// Frames per stack trace; longer ones keep both ends (where the
    /// program started and where it failed) and count the dropped middle.
    pub max_frames: usize,
    /// Exceptions per chain; the outermost (last) ones are kept.
    pub max_exceptions: usize,
    /// Breadcrumbs; the most recent (last) ones are kept.
    pub max_breadcrumbs: usize,
    /// Tags and request headers, each.
    pub max_tags: usize,
    /// Source lines kept before and after a frame's line.
    pub max_context_lines: usize,
    /// Characters of long text: messages, exception values, source lines.
    pub max_text_chars: usize,
    /// Characters of names and identifiers: release, tags, function names.
    pub max_name_chars: usize,
    /// Entries of a fingerprint.
    pub max_fingerprint: usize,
    /// Nesting depth of free-form JSON (contexts, extra, breadcrumb data).
    pub max_json_depth: usize,
    /// Entries per object or array of free-form JSON.
    pub max_json_entries: usize,
}

impl Default for NormalizeLimits {
    /// Close to Sentry's own limits (250 frames, 100 breadcrumbs, 200
    /// characters for tag values, 8 KiB messages).
    fn default() -> Self {
        NormalizeLimits {
            max_frames: 250,
            max_exceptions: 25,
            max_breadcrumbs: 100,
            max_tags: 100,
            max_context_lines: 5,
            max_text_chars: 8192,
            max_name_chars: 200,
            max_fingerprint: 50,
            max_json_depth: 6,
            max_json_entries: 100,
        }
    }
}

/// A normalized event. Field names follow the Sentry protocol.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// 32 lowercase hex digits; when absent, use the envelope header's.
    pub event_id: Option<String>,
    /// The event's `type`: `error`, `default` (a message), `transaction`...
    pub event_type: Option<String>,
    /// When it happened, Unix microseconds, as the client's clock said.
    pub timestamp_micros: Option<i64>,
    /// Transactions: when they started, Unix microseconds.
    pub start_timestamp_micros: Option<i64>,
    /// `error` when absent (`info` for transactions), as Sentry assumes.
    pub level: Level,
    /// The SDK's platform (`python`, `node`, `javascript`...); `other` when
    /// absent.
    pub platform: String,
    pub logger: Option<String>,
    pub release: Option<String>,
    pub dist: Option<String>,
    pub environment: Option<String>,
    pub server_name: Option<String>,
    /// The route or task the event happened in (`POST /checkout`).
    pub transaction: Option<String>,
    /// The message of a `capture_message` or log-record event.
    pub message: Option<LogEntry>,
    /// The exception chain, innermost cause first, the exception that was
    /// caught or crashed the program last (Sentry's order).
    pub exceptions: Vec<Exception>,
    /// An event-level stack trace: the top-level `stacktrace`, or the
    /// crashed (else current, else first) thread's. Only filled when no
    /// exception has a stack trace of its own.
    pub stacktrace: Option<Stacktrace>,
    /// Tags in the order sent (objects arrive sorted by key).
    pub tags: Vec<(String, String)>,
    /// Free-form contexts (`trace`, `runtime`, `os`, `browser`...), each a
    /// bounded copy of the JSON object sent.
    pub contexts: Map<String, Value>,
    /// The free-form `extra` object, bounded.
    pub extra: Map<String, Value>,
    pub user: Option<User>,
    pub request: Option<Request>,
    /// Oldest first; the most recent ones are kept when cut.
    pub breadcrumbs: Vec<Breadcrumb>,
    pub sdk: Option<Sdk>,
    /// The client's grouping override; `{{ default }}` stands for the
    /// default grouping (see [`crate::sentry::grouping`]).
    pub fingerprint: Vec<String>,
}

/// Severity, Sentry's five levels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Debug,
    Info,
    Warning,
    #[default]
    Error,
    Fatal,
}

impl Level {
    /// A level name as SDKs and logging libraries write it; `None` when
    /// unknown.
    pub fn from_name(name: &str) -> Option<Level> {
        match name.to_ascii_lowercase().as_str() {
            "debug" | "trace" => Some(Level::Debug),
            "info" | "log" | "notice" => Some(Level::Info),
            "warning" | "warn" => Some(Level::Warning),
            "error" | "err" => Some(Level::Error),
            "fatal" | "critical" => Some(Level::Fatal),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }
}

/// A message, from `logentry` or the plain `message` string.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The template before formatting (`inventory low for sku %s`), when
    /// the SDK sent one; grouping prefers it, since it has no variable parts.
    pub message: Option<String>,
    /// The final text as the user would read it.
    pub formatted: Option<String>,
    /// The template's parameters as text.
    pub params: Vec<String>,
}

impl LogEntry {
    /// The text to show: the formatted message, else the template.
    pub fn text(&self) -> Option<&str> {
        self.formatted.as_deref().or(self.message.as_deref())
    }
}

/// One exception of a chain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Exception {
    /// The exception's type (`PaymentDeclined`), the protocol's `type`.
    pub kind: Option<String>,
    pub value: Option<String>,
    /// The module that defines the type.
    pub module: Option<String>,
    pub mechanism: Option<Mechanism>,
    pub stacktrace: Option<Stacktrace>,
}

/// How the exception was captured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mechanism {
    /// `generic`, `excepthook`, `onunhandledrejection`... (the protocol's
    /// `type`).
    pub kind: Option<String>,
    /// `false` when nothing caught it: a crash.
    pub handled: Option<bool>,
}

/// A stack trace, outermost call first and the failing frame last.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stacktrace {
    /// Shared: events of one issue mostly carry the same frames, and a
    /// reader that has built them once hands out the same ones
    /// (`payload::KnownStacktraces`).
    pub frames: std::sync::Arc<[Frame]>,
    /// Frames dropped from the middle to respect the limit.
    pub frames_omitted: usize,
}

/// One stack frame. Local variables are never kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    pub filename: Option<String>,
    pub abs_path: Option<String>,
    pub function: Option<String>,
    pub module: Option<String>,
    pub lineno: Option<u32>,
    pub colno: Option<u32>,
    /// Whether the frame is the application's own code rather than a
    /// library's; absent means unknown, which grouping treats as `false`.
    pub in_app: Option<bool>,
    pub context_line: Option<String>,
    pub pre_context: Vec<String>,
    pub post_context: Vec<String>,
}

/// Runs `digest` on this thread's buffer for laying out frames, cleared.
///
/// Frames are laid out end to end and hashed in one call: fed to a hasher
/// field by field, the calls cost more than the hashing. The buffer is
/// kept for the next trace, unless one unusually large trace grew it past
/// a megabyte; a call made while the buffer is in use gets a buffer of
/// its own.
pub fn with_layout_buffer<R>(digest: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    const MAX_KEPT_BYTES: usize = 1024 * 1024;
    thread_local! {
        static BYTES: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BYTES.with(|kept| {
        let mut owned = Vec::new();
        let mut kept = kept.try_borrow_mut();
        let bytes = match kept.as_deref_mut() {
            Ok(kept) => kept,
            Err(_) => &mut owned,
        };
        bytes.clear();
        let result = digest(bytes);
        if bytes.capacity() > MAX_KEPT_BYTES {
            *bytes = Vec::new();
        }
        result
    })
}

/// A frame's fields as a digest covers them, borrowed from a [`Frame`] or
/// from a frame as read: both are laid out alike.
pub struct FrameLayout<'a, S> {
    pub filename: Option<&'a str>,
    pub abs_path: Option<&'a str>,
    pub function: Option<&'a str>,
    pub module: Option<&'a str>,
    pub lineno: Option<u32>,
    pub colno: Option<u32>,
    pub in_app: Option<bool>,
    pub context_line: Option<&'a str>,
    pub pre_context: &'a [S],
    pub post_context: &'a [S],
}

impl<'a> FrameLayout<'a, String> {
    pub fn of(frame: &'a Frame) -> Self {
        FrameLayout {
            filename: frame.filename.as_deref(),
            abs_path: frame.abs_path.as_deref(),
            function: frame.function.as_deref(),
            module: frame.module.as_deref(),
            lineno: frame.lineno,
            colno: frame.colno,
            in_app: frame.in_app,
            context_line: frame.context_line.as_deref(),
            pre_context: &frame.pre_context,
            post_context: &frame.post_context,
        }
    }
}

impl<S: AsRef<str>> FrameLayout<'_, S> {
    /// Appends every field, each told apart from its neighbours (a
    /// presence byte, a length), so that moving text between fields
    /// changes what a digest of the bytes says.
    pub fn append_to(&self, bytes: &mut Vec<u8>) {
        let text = |bytes: &mut Vec<u8>, text: Option<&str>| match text {
            None => bytes.push(0),
            Some(text) => {
                bytes.push(1);
                bytes.extend_from_slice(&(text.len() as u64).to_le_bytes());
                bytes.extend_from_slice(text.as_bytes());
            }
        };
        let number = |bytes: &mut Vec<u8>, number: Option<u32>| match number {
            None => bytes.push(0),
            Some(number) => {
                bytes.push(1);
                bytes.extend_from_slice(&number.to_le_bytes());
            }
        };
        text(bytes, self.filename);
        text(bytes, self.abs_path);
        text(bytes, self.function);
        text(bytes, self.module);
        number(bytes, self.lineno);
        number(bytes, self.colno);
        bytes.push(match self.in_app {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        });
        text(bytes, self.context_line);
        for lines in [self.pre_context, self.post_context] {
            bytes.extend_from_slice(&(lines.len() as u64).to_le_bytes());
            for line in lines {
                text(bytes, Some(line.as_ref()));
            }
        }
    }
}

/// The user the event happened to, the fields partout shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: Option<String>,
    pub email: Option<String>,
    pub username: Option<String>,
    /// As sent; `{{auto}}` asks the server to use the request's address,
    /// which only the caller knows.
    pub ip_address: Option<String>,
}

impl User {
    /// Who this is for counting distinct users: the id, else the email,
    /// the user name or the IP address, prefixed with which it is
    /// (`id:42`), as Sentry's `user` tag does. `{{auto}}` (the server is to
    /// fill in the request's address) names nobody yet, so it is skipped.
    pub fn identity(&self) -> Option<String> {
        let ip = self
            .ip_address
            .as_deref()
            .filter(|ip| !ip.eq_ignore_ascii_case("{{auto}}"));
        [
            ("id", self.id.as_deref()),
            ("email", self.email.as_deref()),
            ("username", self.username.as_deref()),
            ("ip", ip),
        ]
        .into_iter()
        .find_map(|(kind, value)| value.map(|value| format!("{kind}:{value}")))
    }
}

/// The HTTP request being served. See the module docs for what is dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The URL without user name and password.
    pub url: Option<String>,
    pub method: Option<String>,
    /// Headers without those that carry credentials.
    pub headers: Vec<(String, String)>,
}

/// Something that happened before the event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Breadcrumb {
    pub timestamp_micros: Option<i64>,
    /// `default`, `http`, `navigation`, `query`... (the protocol's `type`).
    pub kind: Option<String>,
    pub category: Option<String>,
    pub message: Option<String>,
    pub level: Option<Level>,
    /// Bounded copy of the breadcrumb's `data` object.
    pub data: Option<Map<String, Value>>,
}

/// The SDK that sent the event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sdk {
    pub name: Option<String>,
    pub version: Option<String>,
}

/// Normalizes an event payload. Fails only when it is not a JSON object.
///
/// Reads the payload in one pass ([`super::payload`]); the result is what
/// [`normalize_event_map`] makes of the same payload as a `Value`.
pub fn normalize_event(payload: &[u8], limits: &NormalizeLimits) -> Result<Event, SentryError> {
    match super::payload::read(payload, limits) {
        Ok(read) => Ok(from_payload(read, limits)),
        Err(super::payload::ReadError::NotAnObject) => Err(SentryError::BadEvent {
            detail: String::from("not a JSON object"),
        }),
        Err(super::payload::ReadError::Syntax(error)) => Err(SentryError::BadEvent {
            detail: error.to_string(),
        }),
    }
}

fn from_payload(mut read: super::payload::Payload, limits: &NormalizeLimits) -> Event {
    let has_exception_stack = read
        .exceptions
        .iter()
        .any(|exception| exception.stacktrace.is_some());
    let stacktrace = if has_exception_stack {
        None
    } else {
        read.stacktrace.take().or_else(|| read.thread_stacktrace())
    };
    super::fields::assemble_owned(
        read.fields,
        read.exceptions,
        stacktrace,
        read.breadcrumbs,
        limits,
    )
}

/// Normalizes an event already parsed as a JSON object.
pub fn normalize_event_map(map: &Map<String, Value>, limits: &NormalizeLimits) -> Event {
    let exceptions = exceptions(map.get("exception"), limits);
    let has_exception_stack = exceptions
        .iter()
        .any(|exception| exception.stacktrace.is_some());
    let stacktrace = if has_exception_stack {
        None
    } else {
        stacktrace(map.get("stacktrace"), limits).or_else(|| thread_stacktrace(map, limits))
    };
    assemble(map, exceptions, stacktrace, limits)
}

/// The event from its stack traces, read already, and the rest of its
/// top-level fields.
fn assemble(
    map: &Map<String, Value>,
    exceptions: Vec<Exception>,
    stacktrace: Option<Stacktrace>,
    limits: &NormalizeLimits,
) -> Event {
    let name = |key: &str| string(map.get(key), limits.max_name_chars);
    let event_type = name("type");
    let default_level = match event_type.as_deref() {
        Some("transaction") => Level::Info,
        _ => Level::Error,
    };
    Event {
        event_id: map.get("event_id").and_then(event_id),
        timestamp_micros: map.get("timestamp").and_then(timestamp::from_json),
        start_timestamp_micros: map.get("start_timestamp").and_then(timestamp::from_json),
        level: map
            .get("level")
            .and_then(Value::as_str)
            .and_then(Level::from_name)
            .unwrap_or(default_level),
        platform: name("platform").unwrap_or_else(|| String::from("other")),
        logger: name("logger"),
        release: name("release"),
        dist: name("dist"),
        environment: name("environment"),
        server_name: name("server_name"),
        transaction: name("transaction"),
        event_type,
        message: log_entry(map, limits),
        exceptions,
        stacktrace,
        tags: pairs(map.get("tags"), limits.max_tags, limits.max_name_chars),
        contexts: contexts(map.get("contexts"), limits),
        extra: object(map.get("extra"))
            .map(|extra| bounded_map(extra, limits))
            .unwrap_or_default(),
        user: user(map.get("user"), limits),
        request: request(map.get("request"), limits),
        breadcrumbs: breadcrumbs(map.get("breadcrumbs"), limits),
        sdk: sdk(map.get("sdk")),
        fingerprint: fingerprint(map.get("fingerprint"), limits),
    }
}

/// An event id as 32 lowercase hex digits, from the plain or the dashed
/// UUID form; `None` for anything else.
pub(crate) fn event_id(value: &Value) -> Option<String> {
    let text = value.as_str()?;
    if text.len() > 36 {
        return None;
    }
    let hex: String = text.chars().filter(|&c| c != '-').collect();
    (hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

pub(crate) fn sdk(value: Option<&Value>) -> Option<Sdk> {
    let map = object(value)?;
    let sdk = Sdk {
        name: string(map.get("name"), 200),
        version: string(map.get("version"), 200),
    };
    (sdk != Sdk::default()).then_some(sdk)
}

/// `logentry` (preferred) or `message`, which is a plain string in
/// `capture_message` events and an object in old SDKs.
pub(crate) fn log_entry(map: &Map<String, Value>, limits: &NormalizeLimits) -> Option<LogEntry> {
    let text = |value: Option<&Value>| string(value, limits.max_text_chars);
    let from_object = |entry: &Map<String, Value>| LogEntry {
        message: text(entry.get("message")),
        formatted: text(entry.get("formatted")),
        params: match entry.get("params") {
            Some(Value::Array(params)) => params
                .iter()
                .take(limits.max_tags)
                .map(|param| {
                    scalar_string(param, limits.max_name_chars)
                        .unwrap_or_else(|| truncate(&param.to_string(), limits.max_name_chars))
                })
                .collect(),
            _ => Vec::new(),
        },
    };
    let mut entry = match (object(map.get("logentry")), map.get("message")) {
        (Some(logentry), _) => from_object(logentry),
        (None, Some(Value::Object(message))) => from_object(message),
        _ => LogEntry::default(),
    };
    if entry.formatted.is_none() {
        if let Some(Value::String(_)) = map.get("message") {
            entry.formatted = text(map.get("message"));
        }
    }
    (entry != LogEntry::default()).then_some(entry)
}

fn exceptions(value: Option<&Value>, limits: &NormalizeLimits) -> Vec<Exception> {
    let values = match value {
        // A single exception object without the `values` wrapper also occurs.
        Some(single @ Value::Object(map)) if !map.contains_key("values") => {
            std::slice::from_ref(single)
        }
        _ => values_array(value),
    };
    let skip = values.len().saturating_sub(limits.max_exceptions);
    values
        .iter()
        .skip(skip)
        .filter_map(Value::as_object)
        .map(|map| Exception {
            kind: string(map.get("type"), limits.max_name_chars),
            value: string(map.get("value"), limits.max_text_chars),
            module: string(map.get("module"), limits.max_name_chars),
            mechanism: object(map.get("mechanism")).map(|mechanism| Mechanism {
                kind: string(mechanism.get("type"), limits.max_name_chars),
                handled: boolean(mechanism.get("handled")),
            }),
            stacktrace: stacktrace(map.get("stacktrace"), limits),
        })
        .filter(|exception| {
            exception.kind.is_some() || exception.value.is_some() || exception.stacktrace.is_some()
        })
        .collect()
}

/// A stack trace with at least one frame, or `None`.
fn stacktrace(value: Option<&Value>, limits: &NormalizeLimits) -> Option<Stacktrace> {
    let frames: Vec<&Map<String, Value>> = match object(value)?.get("frames") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
        _ => return None,
    };
    if frames.is_empty() {
        return None;
    }
    let omitted = frames.len().saturating_sub(limits.max_frames);
    let head = limits.max_frames / 2;
    let kept = frames
        .iter()
        .take(head)
        .chain(frames.iter().skip(head + omitted))
        .map(|map| frame(map, limits))
        .collect();
    Some(Stacktrace {
        frames: kept,
        frames_omitted: omitted,
    })
}

fn frame(map: &Map<String, Value>, limits: &NormalizeLimits) -> Frame {
    let name = |key: &str| string(map.get(key), limits.max_name_chars);
    let lines = |key: &str| match map.get(key) {
        Some(Value::Array(lines)) => {
            let skip = match key {
                // The lines nearest the frame's line are the useful ones.
                "pre_context" => lines.len().saturating_sub(limits.max_context_lines),
                _ => 0,
            };
            lines
                .iter()
                .skip(skip)
                .take(limits.max_context_lines)
                .map(|line| {
                    line.as_str()
                        .map_or_else(String::new, |line| truncate(line, limits.max_text_chars))
                })
                .collect()
        }
        _ => Vec::new(),
    };
    Frame {
        filename: name("filename"),
        abs_path: name("abs_path"),
        function: name("function"),
        module: name("module"),
        lineno: small_uint(map.get("lineno")),
        colno: small_uint(map.get("colno")),
        in_app: boolean(map.get("in_app")),
        context_line: string(map.get("context_line"), limits.max_text_chars),
        pre_context: lines("pre_context"),
        post_context: lines("post_context"),
    }
}

/// The crashed thread's stack, else the current thread's, else the first
/// one that has frames.
fn thread_stacktrace(map: &Map<String, Value>, limits: &NormalizeLimits) -> Option<Stacktrace> {
    let threads: Vec<&Map<String, Value>> = values_array(map.get("threads"))
        .iter()
        .filter_map(Value::as_object)
        .collect();
    let flagged = |flag: &str| {
        threads
            .iter()
            .filter(|thread| boolean(thread.get(flag)) == Some(true))
            .find_map(|thread| stacktrace(thread.get("stacktrace"), limits))
    };
    flagged("crashed")
        .or_else(|| flagged("current"))
        .or_else(|| {
            threads
                .iter()
                .find_map(|thread| stacktrace(thread.get("stacktrace"), limits))
        })
}

/// Tags and headers: an object, or an array of `[name, value]` pairs.
/// Entries without a usable name or value are dropped.
fn pairs(value: Option<&Value>, max_entries: usize, max_chars: usize) -> Vec<(String, String)> {
    let pair = |name: &Value, value: &Value| {
        let name = string(Some(name), max_chars)?;
        Some((name, scalar_string(value, max_chars)?))
    };
    match value {
        Some(Value::Object(map)) => map
            .iter()
            .filter_map(|(name, value)| pair(&Value::String(name.clone()), value))
            .take(max_entries)
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| match item.as_array()?.as_slice() {
                [name, value] => pair(name, value),
                _ => None,
            })
            .take(max_entries)
            .collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn json_bounds(limits: &NormalizeLimits) -> JsonBounds {
    JsonBounds {
        max_depth: limits.max_json_depth,
        max_entries: limits.max_json_entries,
        max_chars: limits.max_text_chars,
    }
}

fn bounded_map(map: &Map<String, Value>, limits: &NormalizeLimits) -> Map<String, Value> {
    match bounded_json(&Value::Object(map.clone()), json_bounds(limits)) {
        Value::Object(bounded) => bounded,
        _ => Map::new(),
    }
}

/// Contexts whose value is an object; anything else is not a context.
fn contexts(value: Option<&Value>, limits: &NormalizeLimits) -> Map<String, Value> {
    let Some(map) = object(value) else {
        return Map::new();
    };
    map.iter()
        .filter(|(_, context)| context.is_object())
        .take(limits.max_json_entries)
        .map(|(name, context)| {
            let name = truncate(name, limits.max_name_chars);
            (name, bounded_json(context, json_bounds(limits)))
        })
        .collect()
}

pub(crate) fn user(value: Option<&Value>, limits: &NormalizeLimits) -> Option<User> {
    let map = object(value)?;
    let field = |key: &str| {
        map.get(key)
            .and_then(|value| scalar_string(value, limits.max_name_chars))
    };
    let user = User {
        id: field("id"),
        email: field("email"),
        username: field("username"),
        ip_address: field("ip_address"),
    };
    (user != User::default()).then_some(user)
}

/// Header names (lowercased) containing any of these are dropped.
const SECRET_HEADER_PARTS: &[&str] = &[
    "cookie", "auth", "token", "secret", "password", "key", "session", "csrf", "xsrf",
];

fn request(value: Option<&Value>, limits: &NormalizeLimits) -> Option<Request> {
    let map = object(value)?;
    let request = Request {
        url: string(map.get("url"), limits.max_text_chars).map(|url| without_userinfo(&url)),
        method: string(map.get("method"), limits.max_name_chars),
        headers: without_secrets(
            pairs(map.get("headers"), usize::MAX, limits.max_text_chars),
            limits,
        ),
    };
    (request != Request::default()).then_some(request)
}

/// Request headers without those that carry credentials, at most
/// `max_tags` of them.
pub(crate) fn without_secrets(
    headers: Vec<(String, String)>,
    limits: &NormalizeLimits,
) -> Vec<(String, String)> {
    headers
        .into_iter()
        .filter(|(name, _)| {
            let name = name.to_ascii_lowercase();
            !SECRET_HEADER_PARTS.iter().any(|part| name.contains(part))
        })
        .take(limits.max_tags)
        .collect()
}

/// `https://user:pass@host/path` without `user:pass@`.
pub(crate) fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..authority_end).unwrap_or_default();
    match authority.rfind('@') {
        Some(at) => format!("{scheme}://{}", rest.get(at + 1..).unwrap_or_default()),
        None => url.to_owned(),
    }
}

fn breadcrumbs(value: Option<&Value>, limits: &NormalizeLimits) -> Vec<Breadcrumb> {
    let values = values_array(value);
    let skip = values.len().saturating_sub(limits.max_breadcrumbs);
    values
        .iter()
        .skip(skip)
        .filter_map(Value::as_object)
        .map(|map| Breadcrumb {
            timestamp_micros: map.get("timestamp").and_then(timestamp::from_json),
            kind: string(map.get("type"), limits.max_name_chars),
            category: string(map.get("category"), limits.max_name_chars),
            message: string(map.get("message"), limits.max_text_chars),
            level: map
                .get("level")
                .and_then(Value::as_str)
                .and_then(Level::from_name),
            data: object(map.get("data")).map(|data| bounded_map(data, limits)),
        })
        .collect()
}

pub(crate) fn fingerprint(value: Option<&Value>, limits: &NormalizeLimits) -> Vec<String> {
    match value {
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| scalar_string(part, limits.max_name_chars))
            .take(limits.max_fingerprint)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    fn normalize(value: Value) -> Event {
        normalize_event(value.to_string().as_bytes(), &NormalizeLimits::default()).unwrap()
    }

    #[test]
    fn only_non_objects_are_errors() {
        for payload in [&b"[]"[..], b"\"x\"", b"null", b"{", b"", b"\xff"] {
            let error = normalize_event(payload, &NormalizeLimits::default()).unwrap_err();
            assert_eq!(error.reason(), "bad_event");
        }
        let empty = normalize(json!({}));
        assert_eq!(empty.level, Level::Error);
        assert_eq!(empty.platform, "other");
    }

    #[test]
    fn wrong_types_are_ignored() {
        let event = normalize(json!({
            "event_id": 5, "timestamp": "soon", "level": 3, "platform": [],
            "release": {"v": 1}, "exception": "boom", "tags": "a=b",
            "user": "ada", "request": [], "breadcrumbs": 7, "sdk": "py",
            "fingerprint": "x", "contexts": {"os": "linux", "app": {"v": 1}},
            "logentry": 1, "message": 2,
        }));
        assert_eq!(
            event,
            Event {
                level: Level::Error,
                platform: "other".to_owned(),
                contexts: json!({"app": {"v": 1}}).as_object().unwrap().clone(),
                ..Event::default()
            }
        );
    }

    #[test]
    fn messages_in_every_form() {
        let plain = normalize(json!({"message": "disk full"}));
        assert_eq!(plain.message.unwrap().text(), Some("disk full"));
        let logentry = normalize(json!({
            "logentry": {"message": "disk %s full", "params": ["/var", 3, null]},
            "message": "disk /var full"
        }))
        .message
        .unwrap();
        assert_eq!(logentry.message.as_deref(), Some("disk %s full"));
        assert_eq!(logentry.params, ["/var", "3", "null"]);
        // `message` fills in the formatted text a logentry lacks.
        assert_eq!(logentry.formatted.as_deref(), Some("disk /var full"));
        let old = normalize(json!({"message": {"message": "a %s", "formatted": "a b"}}));
        assert_eq!(old.message.unwrap().text(), Some("a b"));
    }

    #[test]
    fn levels_and_timestamps() {
        let event = normalize(json!({"level": "WARN", "timestamp": 1_700_000_000.5}));
        assert_eq!(event.level, Level::Warning);
        assert_eq!(event.timestamp_micros, Some(1_700_000_000_500_000));
        let transaction = normalize(json!({"type": "transaction", "level": "bogus"}));
        assert_eq!(transaction.level, Level::Info);
        assert_eq!(
            normalize(json!({"event_id": "9EC79C33-EC99-42AB-8353-589FCB2E04DC"})).event_id,
            Some("9ec79c33ec9942ab8353589fcb2e04dc".to_owned())
        );
        assert_eq!(normalize(json!({"event_id": "xyz"})).event_id, None);
    }

    #[test]
    fn tags_as_object_or_pairs() {
        let object = normalize(json!({"tags": {"b": "2", "a": 1, "c": null, "": "x"}}));
        assert_eq!(
            object.tags,
            [
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "2".to_owned())
            ]
        );
        let pairs = normalize(json!({"tags": [["z", "1"], ["y", true], ["bad"], 3]}));
        assert_eq!(
            pairs.tags,
            [
                ("z".to_owned(), "1".to_owned()),
                ("y".to_owned(), "true".to_owned())
            ]
        );
    }

    #[test]
    fn exception_shapes() {
        let bare = normalize(json!({"exception": [{"type": "A"}, {"value": "b"}, {}]}));
        assert_eq!(bare.exceptions.len(), 2);
        let single = normalize(
            json!({"exception": {"type": "A", "mechanism": {"type": "x", "handled": false}}}),
        );
        assert_eq!(
            single.exceptions[0].mechanism,
            Some(Mechanism {
                kind: Some("x".to_owned()),
                handled: Some(false)
            })
        );
    }

    #[test]
    fn frames_keep_both_ends_and_drop_vars() {
        let frames: Vec<Value> = (0..10)
            .map(|n| json!({"function": format!("f{n}"), "lineno": n, "vars": {"password": "x"}}))
            .collect();
        let limits = NormalizeLimits {
            max_frames: 4,
            ..NormalizeLimits::default()
        };
        let payload =
            json!({"exception": {"values": [{"type": "E", "stacktrace": {"frames": frames}}]}});
        let event = normalize_event(payload.to_string().as_bytes(), &limits).unwrap();
        let stack = event.exceptions[0].stacktrace.as_ref().unwrap();
        let functions: Vec<_> = stack
            .frames
            .iter()
            .map(|f| f.function.as_deref().unwrap())
            .collect();
        assert_eq!(functions, ["f0", "f1", "f8", "f9"]);
        assert_eq!(stack.frames_omitted, 6);
        assert!(!serde_json::to_string(&event).unwrap().contains("password"));
    }

    #[test]
    fn context_lines_nearest_the_frame_are_kept() {
        let limits = NormalizeLimits {
            max_context_lines: 2,
            ..NormalizeLimits::default()
        };
        let payload = json!({"stacktrace": {"frames": [{
            "pre_context": ["1", "2", "3"], "post_context": ["5", "6", "7"], "context_line": "4"
        }]}});
        let event = normalize_event(payload.to_string().as_bytes(), &limits).unwrap();
        let frame = &event.stacktrace.unwrap().frames[0];
        assert_eq!(
            (frame.pre_context.clone(), frame.post_context.clone()),
            (
                vec!["2".to_owned(), "3".to_owned()],
                vec!["5".to_owned(), "6".to_owned()]
            )
        );
    }

    #[test]
    fn thread_stacks_only_without_exception_stacks() {
        let threads = json!({"values": [
            {"id": 1, "stacktrace": {"frames": [{"function": "idle"}]}},
            {"id": 2, "crashed": true, "stacktrace": {"frames": [{"function": "boom"}]}},
        ]});
        let event = normalize(json!({"threads": threads}));
        assert_eq!(
            event.stacktrace.unwrap().frames[0].function.as_deref(),
            Some("boom")
        );
        let with_exception = normalize(json!({
            "threads": threads,
            "exception": {"values": [{"type": "E", "stacktrace": {"frames": [{"function": "f"}]}}]}
        }));
        assert_eq!(with_exception.stacktrace, None);
        // The crashed thread before the current one, the current one
        // before the first, in either reader.
        let stack = |function: &str| json!({"frames": [{"function": function}]});
        for (threads, expected) in [
            (
                json!([{"current": true, "stacktrace": stack("current")},
                       {"crashed": true, "stacktrace": stack("crashed")}]),
                "crashed",
            ),
            (
                json!({"values": [{"stacktrace": stack("first")},
                                  {"current": true, "stacktrace": stack("current")},
                                  {"crashed": true}]}),
                "current",
            ),
            (
                json!([{"crashed": "yes"}, {"stacktrace": stack("first")}]),
                "first",
            ),
        ] {
            let payload = json!({"threads": threads});
            let from_bytes = normalize(payload.clone());
            let frame = &from_bytes.stacktrace.as_ref().unwrap().frames[0];
            assert_eq!(frame.function.as_deref(), Some(expected));
            let from_value =
                normalize_event_map(payload.as_object().unwrap(), &NormalizeLimits::default());
            assert_eq!(from_bytes, from_value);
        }
    }

    #[test]
    fn request_drops_credentials() {
        let event = normalize(json!({"request": {
            "url": "https://ada:hunter2@shop.example/checkout?x=1",
            "method": "POST",
            "cookies": "sid=1",
            "data": {"card": "4111"},
            "query_string": "token=abc",
            "headers": {"Cookie": "sid=1", "Authorization": "Bearer x", "X-Api-Key": "k",
                        "User-Agent": "curl/8", "X-CSRFToken": "t", "Accept": "*/*"}
        }}));
        let request = event.request.unwrap();
        assert_eq!(
            request.url.as_deref(),
            Some("https://shop.example/checkout?x=1")
        );
        assert_eq!(
            request.headers,
            [
                ("Accept".to_owned(), "*/*".to_owned()),
                ("User-Agent".to_owned(), "curl/8".to_owned())
            ]
        );
        let pairs =
            normalize(json!({"request": {"headers": [["Set-Cookie", "a"], ["Host", "h"]]}}));
        assert_eq!(
            pairs.request.unwrap().headers,
            [("Host".to_owned(), "h".to_owned())]
        );
        assert_eq!(without_userinfo("http://h/a@b"), "http://h/a@b");
    }

    #[test]
    fn breadcrumbs_keep_the_latest() {
        let crumbs: Vec<Value> = (0..5)
            .map(|n| json!({"message": format!("m{n}"), "level": "info"}))
            .collect();
        let limits = NormalizeLimits {
            max_breadcrumbs: 2,
            ..NormalizeLimits::default()
        };
        let event = normalize_event(
            json!({"breadcrumbs": crumbs}).to_string().as_bytes(),
            &limits,
        )
        .unwrap();
        let messages: Vec<_> = event
            .breadcrumbs
            .iter()
            .map(|b| b.message.as_deref().unwrap())
            .collect();
        assert_eq!(messages, ["m3", "m4"]);
        assert_eq!(event.breadcrumbs[0].level, Some(Level::Info));
    }

    #[test]
    fn user_identity_prefers_the_id() {
        let user = |value: Value| normalize(json!({"user": value})).user.unwrap();
        let full = user(json!({"id": 42, "email": "a@b.c", "ip_address": "10.0.0.1"}));
        assert_eq!(full.identity().as_deref(), Some("id:42"));
        let email = user(json!({"email": "a@b.c", "username": "ada"}));
        assert_eq!(email.identity().as_deref(), Some("email:a@b.c"));
        let ip = user(json!({"ip_address": "10.0.0.1"}));
        assert_eq!(ip.identity().as_deref(), Some("ip:10.0.0.1"));
        assert_eq!(user(json!({"ip_address": "{{auto}}"})).identity(), None);
    }

    #[test]
    fn strings_are_capped() {
        let limits = NormalizeLimits {
            max_name_chars: 4,
            max_text_chars: 6,
            ..NormalizeLimits::default()
        };
        let payload =
            json!({"release": "shop@1.4.2", "message": "a long message", "user": {"id": 123456}});
        let event = normalize_event(payload.to_string().as_bytes(), &limits).unwrap();
        assert_eq!(event.release.as_deref(), Some("sho…"));
        assert_eq!(event.message.unwrap().text(), Some("a lon…"));
        assert_eq!(event.user.unwrap().id.as_deref(), Some("123…"));
    }

    proptest::proptest! {
        /// The one-pass reader of payload bytes and the reader of a parsed
        /// `Value` must agree on everything, cuts included.
        #[test]
        fn reading_bytes_equals_reading_the_value(
            value in proptest::prop_oneof![arbitrary_json(), event_json(), fields_json()]
        ) {
            let limits = NormalizeLimits {
                max_frames: 3,
                max_breadcrumbs: 2,
                max_exceptions: 2,
                max_context_lines: 2,
                max_name_chars: 4,
                max_text_chars: 6,
                max_tags: 3,
                max_json_depth: 3,
                max_json_entries: 3,
                ..NormalizeLimits::default()
            };
            let bytes = value.to_string();
            let from_bytes = normalize_event(bytes.as_bytes(), &limits);
            // The `Value` as parsed back, not as generated: serde_json (without
            // `float_roundtrip`) may read a long float back one digit off.
            let parsed: Value = serde_json::from_str(&bytes).unwrap();
            match &parsed {
                Value::Object(map) => {
                    let from_value = normalize_event_map(map, &limits);
                    let from_bytes = from_bytes.ok();
                    proptest::prop_assert!(
                        same_but_last_float_digit(&from_bytes, &Some(from_value.clone())),
                        "{:?} != {:?}", from_bytes, from_value
                    );
                    // Both byte readers, not only the one that answered.
                    let simd = crate::sentry::payload::read_with_simd_json(bytes.as_bytes(), &limits);
                    proptest::prop_assert!(simd.is_some(), "simd-json refused {}", bytes);
                    let serde = crate::sentry::payload::read_with_serde_json(bytes.as_bytes(), &limits);
                    let serde = serde.ok().map(|read| from_payload(read, &limits));
                    proptest::prop_assert_eq!(serde.as_ref(), Some(&from_value));
                }
                _ => proptest::prop_assert!(from_bytes.is_err()),
            }
        }

        #[test]
        fn arbitrary_json_never_panics(value in arbitrary_json()) {
            let limits = NormalizeLimits { max_frames: 3, max_breadcrumbs: 2, max_exceptions: 2, ..NormalizeLimits::default() };
            if let Value::Object(map) = &value {
                let event = normalize_event_map(map, &limits);
                proptest::prop_assert!(event.breadcrumbs.len() <= 2);
                proptest::prop_assert!(event.exceptions.len() <= 2);
                for exception in &event.exceptions {
                    if let Some(stack) = &exception.stacktrace {
                        proptest::prop_assert!(stack.frames.len() <= 3);
                    }
                }
            }
        }
    }

    /// Equal events, but for floats in free-form JSON that may differ in
    /// their last binary digit: simd-json does not round every long
    /// decimal correctly (serde_json does).
    fn same_but_last_float_digit(a: &Option<Event>, b: &Option<Event>) -> bool {
        fn close(a: &Value, b: &Value) -> bool {
            match (a, b) {
                (Value::Number(x), Value::Number(y)) if x.is_f64() && y.is_f64() => {
                    let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                    (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs())
                }
                (Value::Array(x), Value::Array(y)) => {
                    x.len() == y.len() && x.iter().zip(y).all(|(x, y)| close(x, y))
                }
                (Value::Object(x), Value::Object(y)) => {
                    x.len() == y.len()
                        && x.iter()
                            .zip(y)
                            .all(|((kx, x), (ky, y))| kx == ky && close(x, y))
                }
                _ => a == b,
            }
        }
        close(
            &serde_json::to_value(a).unwrap(),
            &serde_json::to_value(b).unwrap(),
        )
    }

    /// Objects shaped like events, with stack traces deep enough to reach
    /// every cut, and a value of the wrong type in any place.
    fn event_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::collection::vec;
        use proptest::option::of;
        use proptest::prelude::*;
        fn object(fields: Vec<(&str, Option<Value>)>) -> Value {
            Value::Object(
                fields
                    .into_iter()
                    .filter_map(|(key, value)| Some((key.to_owned(), value?)))
                    .collect(),
            )
        }
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (-3_i64..5_000_000_000).prop_map(Value::from),
            Just(Value::from(2.5)),
            "[a-zé ]{0,9}".prop_map(Value::from),
            Just(json!({"values": [1]})),
        ]
        .boxed();
        let text =
            prop_oneof![4 => "[a-zé\\\\\"]{0,9}".prop_map(Value::from), 1 => leaf.clone()].boxed();
        let lines =
            prop_oneof![4 => vec(text.clone(), 0..5).prop_map(Value::Array), 1 => leaf.clone()]
                .boxed();
        let frame = (
            (
                of(text.clone()),
                of(text.clone()),
                of(text.clone()),
                of(text.clone()),
            ),
            (
                of(leaf.clone()),
                of(leaf.clone()),
                of(leaf.clone()),
                of(text.clone()),
            ),
            (of(lines.clone()), of(lines), of(leaf.clone())),
        )
            .prop_map(
                |(
                    (filename, abs_path, function, module),
                    (lineno, colno, in_app, line),
                    (pre, post, vars),
                )| {
                    object(vec![
                        ("filename", filename),
                        ("abs_path", abs_path),
                        ("function", function),
                        ("module", module),
                        ("lineno", lineno),
                        ("colno", colno),
                        ("in_app", in_app),
                        ("context_line", line),
                        ("pre_context", pre),
                        ("post_context", post),
                        ("vars", vars),
                    ])
                },
            )
            .boxed();
        let frame_item = prop_oneof![5 => frame, 1 => leaf.clone()].boxed();
        let stacktrace = prop_oneof![
            4 => vec(frame_item, 0..7).prop_map(|frames| json!({"frames": frames, "x": 1})),
            1 => leaf.clone().prop_map(|frames| json!({"frames": frames})),
            1 => leaf.clone(),
        ]
        .boxed();
        let mechanism = prop_oneof![
            (of(text.clone()), of(leaf.clone()))
                .prop_map(|(kind, handled)| object(vec![("type", kind), ("handled", handled)])),
            leaf.clone(),
        ]
        .boxed();
        let exception = (
            of(text.clone()),
            of(text.clone()),
            of(text),
            of(mechanism),
            of(stacktrace.clone()),
        )
            .prop_map(|(kind, value, module, mechanism, stacktrace)| {
                object(vec![
                    ("type", kind),
                    ("value", value),
                    ("module", module),
                    ("mechanism", mechanism),
                    ("stacktrace", stacktrace),
                ])
            })
            .boxed();
        let exception_item = prop_oneof![4 => exception.clone(), 1 => leaf.clone()].boxed();
        let exceptions = vec(exception_item, 0..5).boxed();
        let interface = prop_oneof![
            exception.clone(),
            exceptions
                .clone()
                .prop_map(|values| json!({"values": values})),
            (exception, exceptions.clone()).prop_map(|(mut single, values)| {
                if let Value::Object(map) = &mut single {
                    map.insert("values".to_owned(), Value::Array(values));
                }
                single
            }),
            exceptions.prop_map(Value::Array),
            leaf.clone().prop_map(|values| json!({"values": values})),
            leaf.clone(),
        ]
        .boxed();
        let flag = prop_oneof![3 => any::<bool>().prop_map(Value::from), 1 => leaf.clone()];
        let thread = (of(flag.clone()), of(flag), of(stacktrace.clone()))
            .prop_map(|(crashed, current, stacktrace)| {
                object(vec![
                    ("crashed", crashed),
                    ("current", current),
                    ("stacktrace", stacktrace),
                ])
            })
            .boxed();
        let threads = vec(prop_oneof![4 => thread, 1 => leaf.clone()], 0..4).boxed();
        let threads = prop_oneof![
            threads.clone().prop_map(|values| json!({"values": values})),
            threads.prop_map(Value::Array),
            leaf.clone(),
        ]
        .boxed();
        (
            of(interface),
            of(stacktrace),
            of(threads),
            of(arbitrary_json()),
        )
            .prop_map(|(exception, stacktrace, threads, other)| {
                object(vec![
                    ("exception", exception),
                    ("stacktrace", stacktrace),
                    ("threads", threads),
                    ("message", other),
                ])
            })
    }

    /// Top-level fields other than stack traces, each present often: the
    /// one-pass reader moves free-form JSON, tags and request headers out
    /// of its map (`fields`) and reads breadcrumbs straight into theirs.
    fn fields_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::collection::{btree_map, vec};
        use proptest::prelude::*;
        let any_json = arbitrary_json().boxed();
        let field = |keys: &'static [&'static str]| {
            btree_map(
                proptest::sample::select(keys),
                arbitrary_json(),
                0..keys.len(),
            )
            .prop_map(|map| {
                Value::Object(
                    map.into_iter()
                        .map(|(key, value)| (key.to_owned(), value))
                        .collect(),
                )
            })
            .boxed()
        };
        let crumb = field(&["type", "category", "message", "level", "data", "timestamp"]);
        let request = field(&["url", "method", "headers"]);
        let crumbs = prop_oneof![
            vec(crumb.clone(), 0..4).prop_map(Value::Array),
            vec(crumb, 0..4).prop_map(|items| json!({ "values": items })),
            any_json.clone(),
        ];
        (
            any_json.clone(),
            any_json.clone(),
            any_json.clone(),
            prop_oneof![request, any_json.clone()],
            crumbs,
            field(&["release", "platform", "type", "logger", "environment"]),
        )
            .prop_map(|(tags, contexts, extra, request, breadcrumbs, names)| {
                let mut event = json!({
                    "tags": tags, "contexts": contexts, "extra": extra,
                    "request": request, "breadcrumbs": breadcrumbs,
                });
                if let (Value::Object(event), Value::Object(names)) = (&mut event, names) {
                    event.extend(names);
                }
                event
            })
    }

    /// JSON shaped like events often enough to reach the interesting code:
    /// keys are drawn from the protocol's field names.
    fn arbitrary_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let key = prop_oneof![
            Just("exception".to_owned()),
            Just("values".to_owned()),
            Just("stacktrace".to_owned()),
            Just("frames".to_owned()),
            Just("type".to_owned()),
            Just("value".to_owned()),
            Just("in_app".to_owned()),
            Just("function".to_owned()),
            Just("tags".to_owned()),
            Just("breadcrumbs".to_owned()),
            Just("threads".to_owned()),
            Just("request".to_owned()),
            Just("headers".to_owned()),
            Just("logentry".to_owned()),
            Just("message".to_owned()),
            Just("contexts".to_owned()),
            Just("fingerprint".to_owned()),
            Just("timestamp".to_owned()),
            Just("module".to_owned()),
            Just("mechanism".to_owned()),
            Just("handled".to_owned()),
            Just("lineno".to_owned()),
            Just("filename".to_owned()),
            Just("context_line".to_owned()),
            Just("pre_context".to_owned()),
            Just("post_context".to_owned()),
            Just("vars".to_owned()),
            Just("crashed".to_owned()),
            Just("current".to_owned()),
            Just("extra".to_owned()),
            Just("data".to_owned()),
            Just("category".to_owned()),
            Just("level".to_owned()),
            Just("url".to_owned()),
            Just("method".to_owned()),
            Just("release".to_owned()),
            Just("platform".to_owned()),
            Just("user".to_owned()),
            Just("id".to_owned()),
            Just("params".to_owned()),
            Just("formatted".to_owned()),
            Just("a long key".to_owned()),
            "[a-z]{1,3}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (0..10_000_000_000_u64).prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::from),
            Just(Value::from("")),
        ];
        leaf.prop_recursive(8, 256, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(key.clone(), inner, 0..6)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }
}
