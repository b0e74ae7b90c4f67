//! The top-level fields of an event payload (everything but its stack
//! traces and breadcrumbs, read already) into the event, taking each
//! value out of the map the one-pass reader ([`super::payload`]) built.
//!
//! Why a second assembly beside `event::assemble`: that one reads a map
//! it borrows, so every string it keeps is copied, and free-form JSON
//! (contexts, `extra`, breadcrumb data) is copied whole before it is
//! bounded. The reader's map is dropped afterwards anyway; here what is
//! kept is moved, and JSON within its bounds is bounded in place. On the
//! benchmark's Python and Node events that copying was a tenth of the
//! handler's time. The rules are `event::assemble`'s: the property test
//! `reading_bytes_equals_reading_the_value` holds the two together.

use serde_json::{Map, Value};

use super::event::{
    event_id, fingerprint, json_bounds, log_entry, sdk, user, without_secrets, without_userinfo,
    Breadcrumb, Event, Exception, Level, NormalizeLimits, Request, Stacktrace,
};
use super::timestamp;
use super::value::{bounded_json_owned, cut_owned, take_scalar_string, take_string};

/// The event from its stack traces, read already, and the rest of its
/// top-level fields, which are moved out of `map`.
pub(crate) fn assemble_owned(
    mut map: Map<String, Value>,
    exceptions: Vec<Exception>,
    stacktrace: Option<Stacktrace>,
    breadcrumbs: Vec<Breadcrumb>,
    limits: &NormalizeLimits,
) -> Event {
    // The fields read in place first: these are small, or read from two
    // keys at once (`logentry` and `message`).
    let message = log_entry(&map, limits);
    let event_id = map.get("event_id").and_then(event_id);
    let timestamp_micros = map.get("timestamp").and_then(timestamp::from_json);
    let start_timestamp_micros = map.get("start_timestamp").and_then(timestamp::from_json);
    let level = map
        .get("level")
        .and_then(Value::as_str)
        .and_then(Level::from_name);
    let user = user(map.get("user"), limits);
    let sdk = sdk(map.get("sdk"));
    let fingerprint = fingerprint(map.get("fingerprint"), limits);
    let mut name = |key: &str| take_string(map.remove(key), limits.max_name_chars);
    let event_type = name("type");
    let platform = name("platform").unwrap_or_else(|| String::from("other"));
    let logger = name("logger");
    let release = name("release");
    let dist = name("dist");
    let environment = name("environment");
    let server_name = name("server_name");
    let transaction = name("transaction");
    let default_level = match event_type.as_deref() {
        Some("transaction") => Level::Info,
        _ => Level::Error,
    };
    Event {
        event_id,
        timestamp_micros,
        start_timestamp_micros,
        level: level.unwrap_or(default_level),
        platform,
        logger,
        release,
        dist,
        environment,
        server_name,
        transaction,
        event_type,
        message,
        exceptions,
        stacktrace,
        tags: pairs(map.remove("tags"), limits.max_tags, limits.max_name_chars),
        contexts: contexts(map.remove("contexts"), limits),
        extra: match map.remove("extra") {
            Some(Value::Object(extra)) => bounded_map(extra, limits),
            _ => Map::new(),
        },
        user,
        request: request(map.remove("request"), limits),
        breadcrumbs,
        sdk,
        fingerprint,
    }
}

/// Tags and headers: an object, or an array of `[name, value]` pairs.
/// Entries without a usable name or value are dropped.
fn pairs(value: Option<Value>, max_entries: usize, max_chars: usize) -> Vec<(String, String)> {
    let pair = |name: Value, value: Value| {
        let name = take_string(Some(name), max_chars)?;
        Some((name, take_scalar_string(value, max_chars)?))
    };
    match value {
        Some(Value::Object(map)) => map
            .into_iter()
            .filter_map(|(name, value)| pair(Value::String(name), value))
            .take(max_entries)
            .collect(),
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|item| match item {
                Value::Array(entry) => {
                    let [name, value]: [Value; 2] = entry.try_into().ok()?;
                    pair(name, value)
                }
                _ => None,
            })
            .take(max_entries)
            .collect(),
        _ => Vec::new(),
    }
}

fn bounded_map(map: Map<String, Value>, limits: &NormalizeLimits) -> Map<String, Value> {
    match bounded_json_owned(Value::Object(map), json_bounds(limits)) {
        Value::Object(bounded) => bounded,
        _ => Map::new(),
    }
}

/// Contexts whose value is an object; anything else is not a context.
fn contexts(value: Option<Value>, limits: &NormalizeLimits) -> Map<String, Value> {
    let Some(Value::Object(map)) = value else {
        return Map::new();
    };
    map.into_iter()
        .filter(|(_, context)| context.is_object())
        .take(limits.max_json_entries)
        .map(|(name, context)| {
            (
                cut_owned(name, limits.max_name_chars),
                bounded_json_owned(context, json_bounds(limits)),
            )
        })
        .collect()
}

fn request(value: Option<Value>, limits: &NormalizeLimits) -> Option<Request> {
    let Some(Value::Object(mut map)) = value else {
        return None;
    };
    let request = Request {
        url: take_string(map.remove("url"), limits.max_text_chars)
            .map(|url| without_userinfo(&url)),
        method: take_string(map.remove("method"), limits.max_name_chars),
        headers: without_secrets(
            pairs(map.remove("headers"), usize::MAX, limits.max_text_chars),
            limits,
        ),
    };
    (request != Request::default()).then_some(request)
}
