//! Which issue an event belongs to: a grouping key, plus the title and
//! culprit an issue list shows.
//!
//! The key hashes a list of components, chosen by the first rule that
//! applies:
//! 1. the event's `fingerprint`, where `{{ default }}` expands to the
//!    components of rules 2 to 5 and `{{ transaction }}`, `{{ type }}`,
//!    `{{ value }}`, `{{ message }}`, `{{ level }}`, `{{ logger }}` to the
//!    event's own values;
//! 2. exceptions: per exception of the chain, its type and, per frame,
//!    the module (or file name when there is no module) and function,
//!    taken from the in-app frames, or from all frames when none is in-app.
//!    Line and column numbers are left out on purpose, so that editing
//!    code above a crash site does not split its issue. An exception
//!    without frames adds its masked value instead;
//! 3. a stack trace without an exception (threads, `attach_stacktrace`),
//!    by the same frame rule;
//! 4. the message, with [`crate::sentry::message::mask_variables`] applied
//!    to the template (`logentry.message`) or, without one, to the text;
//! 5. otherwise one catch-all group.
//!
//! Components are hashed with XXH3-128 (a versioned prefix first, each
//! component length-prefixed so no two lists encode alike) into 32 hex
//! digits. Changing any rule changes keys and splits existing issues, so
//! rules only change with a new prefix version.
//!
//! XXH3 is not collision-resistant against an attacker; that is fine here
//! because a client that can send events can set any fingerprint anyway.

use xxhash_rust::xxh3::xxh3_128;

use crate::sentry::event::{Event, Exception, Frame, Stacktrace};
use crate::sentry::message::mask_variables;
use crate::sentry::value::truncate;

/// Bumped whenever a rule changes, so old and new keys never collide.
const KEY_PREFIX: &[u8] = b"partout-grouping-v1";
/// Issue titles and culprits are one line of a list.
const MAX_TITLE_CHARS: usize = 200;
/// Shown when an event has nothing to name it by.
const UNLABELED: &str = "<unlabeled event>";

/// An event's issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    /// 32 lowercase hex digits; equal keys mean the same issue.
    pub key: String,
    /// Which rule chose the components.
    pub method: GroupingMethod,
    /// What was hashed, to explain why two events did or did not group.
    pub components: Vec<String>,
    /// `PaymentDeclined: card declined for order A-1001`, or the message.
    pub title: String,
    /// Where it happened: `module in function` of the top in-app frame, or
    /// the transaction.
    pub culprit: Option<String>,
}

/// The rule that grouped an event, see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupingMethod {
    Fingerprint,
    Exception,
    Stacktrace,
    Message,
    Fallback,
}

impl GroupingMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupingMethod::Fingerprint => "fingerprint",
            GroupingMethod::Exception => "exception",
            GroupingMethod::Stacktrace => "stacktrace",
            GroupingMethod::Message => "message",
            GroupingMethod::Fallback => "fallback",
        }
    }
}

/// Groups one normalized event.
pub fn group_event(event: &Event) -> Grouping {
    let (default_method, default_components) = default_components(event);
    let (method, components) = if event.fingerprint.is_empty() {
        (default_method, default_components)
    } else {
        let mut components = Vec::new();
        let mut only_default = true;
        for part in &event.fingerprint {
            match fingerprint_variable(part) {
                Some("default") => components.extend(default_components.iter().cloned()),
                Some(name) => {
                    only_default = false;
                    components.push(format!("{name}:{}", variable_value(event, name)));
                }
                None => {
                    only_default = false;
                    components.push(format!("fingerprint:{part}"));
                }
            }
        }
        let method = if only_default {
            default_method
        } else {
            GroupingMethod::Fingerprint
        };
        (method, components)
    };
    Grouping {
        key: hash_components(&components),
        method,
        components,
        title: title(event),
        culprit: culprit(event),
    }
}

fn hash_components(components: &[String]) -> String {
    let mut bytes = Vec::with_capacity(
        KEY_PREFIX.len() + components.iter().map(|c| c.len() + 8).sum::<usize>(),
    );
    bytes.extend_from_slice(KEY_PREFIX);
    for component in components {
        bytes.extend_from_slice(&(component.len() as u64).to_le_bytes());
        bytes.extend_from_slice(component.as_bytes());
    }
    format!("{:032x}", xxh3_128(&bytes))
}

fn default_components(event: &Event) -> (GroupingMethod, Vec<String>) {
    if !event.exceptions.is_empty() {
        let mut components = Vec::new();
        for exception in &event.exceptions {
            components.push(format!("type:{}", exception.kind.as_deref().unwrap_or("")));
            let frames = exception
                .stacktrace
                .as_ref()
                .map(frame_components)
                .unwrap_or_default();
            if frames.is_empty() {
                let value = exception.value.as_deref().map(first_line).unwrap_or("");
                components.push(format!("value:{}", mask_variables(value)));
            }
            components.extend(frames);
        }
        return (GroupingMethod::Exception, components);
    }
    if let Some(stacktrace) = &event.stacktrace {
        let frames = frame_components(stacktrace);
        if !frames.is_empty() {
            return (GroupingMethod::Stacktrace, frames);
        }
    }
    if let Some(message) = &event.message {
        if let Some(text) = message.message.as_deref().or(message.formatted.as_deref()) {
            return (
                GroupingMethod::Message,
                vec![format!("message:{}", mask_variables(text))],
            );
        }
    }
    (GroupingMethod::Fallback, vec![String::from("fallback")])
}

/// The frames that identify a stack: in-app ones, or all when none is.
fn grouping_frames(stacktrace: &Stacktrace) -> impl Iterator<Item = &Frame> {
    let any_in_app = stacktrace
        .frames
        .iter()
        .any(|frame| frame.in_app == Some(true));
    stacktrace
        .frames
        .iter()
        .filter(move |frame| !any_in_app || frame.in_app == Some(true))
}

fn frame_components(stacktrace: &Stacktrace) -> Vec<String> {
    grouping_frames(stacktrace)
        .filter_map(|frame| {
            let location = frame_location(frame);
            let function = frame.function.as_deref();
            if location.is_none() && function.is_none() {
                return None;
            }
            // Not `format!`: its machinery cost more than the copies, for
            // each of some twenty frames an event.
            let (location, function) = (location.unwrap_or(""), function.unwrap_or(""));
            let mut component = String::with_capacity(7 + location.len() + function.len());
            component.push_str("frame:");
            component.push_str(location);
            component.push('|');
            component.push_str(function);
            Some(component)
        })
        .collect()
}

/// The module, else the file name without its query string or fragment
/// (browser SDKs add cache busters there).
fn frame_location(frame: &Frame) -> Option<&str> {
    frame.module.as_deref().or_else(|| {
        let filename = frame.filename.as_deref()?;
        filename.split(['?', '#']).next()
    })
}

/// `{{ name }}` as `name`, lowercased, for a fingerprint part that is a
/// variable Sentry documents; `None` for a literal part.
fn fingerprint_variable(part: &str) -> Option<&'static str> {
    let inner = part.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
    match inner.to_ascii_lowercase().as_str() {
        "default" => Some("default"),
        "transaction" => Some("transaction"),
        "type" | "error.type" => Some("type"),
        "value" | "error.value" => Some("value"),
        "message" => Some("message"),
        "level" => Some("level"),
        "logger" => Some("logger"),
        _ => None,
    }
}

fn variable_value(event: &Event, name: &str) -> String {
    let main = main_exception(event);
    match name {
        "transaction" => event.transaction.clone().unwrap_or_default(),
        "type" => main.and_then(|e| e.kind.clone()).unwrap_or_default(),
        "value" => mask_variables(main.and_then(|e| e.value.as_deref()).unwrap_or("")),
        "message" => {
            let message = event.message.as_ref();
            let text = message.and_then(|m| m.message.as_deref().or(m.formatted.as_deref()));
            mask_variables(text.unwrap_or(""))
        }
        "level" => event.level.as_str().to_owned(),
        "logger" => event.logger.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

/// The exception the event is about: the last of the chain, the one that
/// was caught or crashed the program.
fn main_exception(event: &Event) -> Option<&Exception> {
    event.exceptions.last()
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

fn title(event: &Event) -> String {
    let title = if let Some(exception) = main_exception(event) {
        let value = exception.value.as_deref().map(first_line).unwrap_or("");
        match (exception.kind.as_deref(), value) {
            (Some(kind), "") => kind.to_owned(),
            (Some(kind), value) => format!("{kind}: {value}"),
            (None, "") => String::from("<unknown error>"),
            (None, value) => value.to_owned(),
        }
    } else if let Some(text) = event.message.as_ref().and_then(|m| m.text()) {
        first_line(text).to_owned()
    } else if let Some(transaction) = &event.transaction {
        transaction.clone()
    } else {
        String::from(UNLABELED)
    };
    let title = if title.trim().is_empty() {
        String::from(UNLABELED)
    } else {
        title
    };
    truncate(&title, MAX_TITLE_CHARS)
}

/// The top in-app frame (the last one, nearest the failure) of the main
/// exception's stack, or of the event's stack; else the transaction.
fn culprit(event: &Event) -> Option<String> {
    let stacktrace = event
        .exceptions
        .iter()
        .rev()
        .find_map(|exception| exception.stacktrace.as_ref())
        .or(event.stacktrace.as_ref());
    let from_frame = stacktrace.and_then(|stacktrace| {
        let frame = grouping_frames(stacktrace).last()?;
        match (frame_location(frame), frame.function.as_deref()) {
            (Some(location), Some(function)) => Some(format!("{location} in {function}")),
            (Some(only), None) | (None, Some(only)) => Some(only.to_owned()),
            (None, None) => None,
        }
    });
    from_frame
        .or_else(|| event.transaction.clone())
        .map(|culprit| truncate(&culprit, MAX_TITLE_CHARS))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::sentry::event::{normalize_event, NormalizeLimits};
    use serde_json::{json, Value};

    fn group(value: Value) -> Grouping {
        let event =
            normalize_event(value.to_string().as_bytes(), &NormalizeLimits::default()).unwrap();
        group_event(&event)
    }

    fn exception(kind: &str, frames: Value) -> Value {
        json!({"exception": {"values": [{"type": kind, "value": "boom 1", "stacktrace": {"frames": frames}}]}})
    }

    #[test]
    fn exception_groups_by_type_and_in_app_frames() {
        let grouping = group(exception(
            "ValueError",
            json!([
                {"module": "lib", "function": "helper", "lineno": 3, "in_app": false},
                {"module": "app.views", "function": "index", "lineno": 10, "in_app": true},
                {"filename": "app/util.py", "function": "parse", "lineno": 20, "in_app": true},
            ]),
        ));
        assert_eq!(grouping.method, GroupingMethod::Exception);
        assert_eq!(
            grouping.components,
            [
                "type:ValueError",
                "frame:app.views|index",
                "frame:app/util.py|parse"
            ]
        );
        assert_eq!(grouping.title, "ValueError: boom 1");
        assert_eq!(grouping.culprit.as_deref(), Some("app/util.py in parse"));
        assert_eq!(grouping.key.len(), 32);
        assert!(grouping
            .key
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn all_frames_count_when_none_is_in_app() {
        let grouping = group(exception(
            "E",
            json!([{"module": "a", "function": "f"}, {"module": "b", "function": "g", "in_app": false}]),
        ));
        assert_eq!(grouping.components, ["type:E", "frame:a|f", "frame:b|g"]);
        assert_eq!(grouping.culprit.as_deref(), Some("b in g"));
    }

    #[test]
    fn line_numbers_do_not_split_issues_but_functions_do() {
        let at = |line: u32, function: &str| {
            group(exception(
                "E",
                json!([{"module": "m", "function": function, "lineno": line, "in_app": true}]),
            ))
            .key
        };
        assert_eq!(at(10, "f"), at(15, "f"));
        assert_ne!(at(10, "f"), at(10, "g"));
    }

    #[test]
    fn exception_without_frames_uses_its_masked_value() {
        let a =
            group(json!({"exception": {"values": [{"type": "Timeout", "value": "after 30s"}]}}));
        let b =
            group(json!({"exception": {"values": [{"type": "Timeout", "value": "after 45s"}]}}));
        assert_eq!(a.components, ["type:Timeout", "value:after <int>s"]);
        assert_eq!(a.key, b.key);
    }

    #[test]
    fn messages_prefer_the_template() {
        let a = group(
            json!({"logentry": {"message": "user %s logged in", "formatted": "user ada logged in"}}),
        );
        let b = group(
            json!({"logentry": {"message": "user %s logged in", "formatted": "user bob logged in"}}),
        );
        assert_eq!(a.key, b.key);
        assert_eq!(a.method, GroupingMethod::Message);
        assert_eq!(a.title, "user ada logged in");
        let c = group(json!({"message": "job 17 failed\nTraceback..."}));
        let d = group(json!({"message": "job 18 failed\nTraceback..."}));
        assert_eq!(c.key, d.key);
        assert_eq!(c.title, "job 17 failed");
    }

    #[test]
    fn thread_stacks_group_when_there_is_no_exception() {
        let grouping = group(json!({
            "message": "deadlock",
            "threads": {"values": [{"crashed": true, "stacktrace": {"frames": [{"function": "lock"}]}}]}
        }));
        assert_eq!(grouping.method, GroupingMethod::Stacktrace);
        assert_eq!(grouping.components, ["frame:|lock"]);
        assert_eq!(grouping.title, "deadlock");
        assert_eq!(grouping.culprit.as_deref(), Some("lock"));
    }

    #[test]
    fn fingerprints() {
        let base = exception(
            "E",
            json!([{"module": "m", "function": "f", "in_app": true}]),
        );
        let with = |fingerprint: Value| {
            let mut event = base.clone();
            event["fingerprint"] = fingerprint;
            event["transaction"] = json!("GET /");
            group(event)
        };
        let default = group(base.clone());
        for spelling in ["{{ default }}", "{{default}}", " {{ DEFAULT }} "] {
            let grouping = with(json!([spelling]));
            assert_eq!(grouping.key, default.key, "{spelling}");
            assert_eq!(grouping.method, GroupingMethod::Exception);
        }
        let custom = with(json!(["database-down"]));
        assert_eq!(custom.method, GroupingMethod::Fingerprint);
        assert_eq!(custom.components, ["fingerprint:database-down"]);
        assert_eq!(custom.title, "E: boom 1");
        let mixed = with(json!([
            "{{ default }}",
            "{{ transaction }}",
            "{{ unknown }}"
        ]));
        assert_eq!(
            mixed.components,
            [
                "type:E",
                "frame:m|f",
                "transaction:GET /",
                "fingerprint:{{ unknown }}"
            ]
        );
        assert_ne!(mixed.key, default.key);
    }

    #[test]
    fn component_boundaries_are_unambiguous() {
        assert_ne!(
            hash_components(&["ab".to_owned(), "c".to_owned()]),
            hash_components(&["a".to_owned(), "bc".to_owned()])
        );
    }

    #[test]
    fn the_key_encoding_is_frozen() {
        // Stored issues hold these keys: if this fails, the encoding
        // changed and KEY_PREFIX needs a new version. The value was checked
        // against the reference XXH3 (Python `xxhash`).
        assert_eq!(
            hash_components(&["type:E".to_owned()]),
            "7e75dd4ac6e530457707abc7c7037a29"
        );
    }

    #[test]
    fn empty_events_fall_back() {
        let grouping = group(json!({}));
        assert_eq!(grouping.method, GroupingMethod::Fallback);
        assert_eq!(grouping.title, UNLABELED);
        assert_eq!(grouping.culprit, None);
        let transaction = group(json!({"transaction": "POST /checkout", "type": "transaction"}));
        assert_eq!(transaction.title, "POST /checkout");
        assert_eq!(transaction.culprit.as_deref(), Some("POST /checkout"));
    }
}
