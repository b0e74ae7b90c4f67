//! Finding the exception a log line carries, wherever its logger put it,
//! so error tracking can turn the line into an error event.
//!
//! Looked for, in this order:
//! - `exception`: structlog's `format_exc_info` (traceback text) or
//!   `dict_tracebacks` (a list of `{exc_type, exc_value, frames}`), or an
//!   object such as loguru's `{type, value, traceback}`;
//! - `exc_info`: traceback text (python-json-logger);
//! - `err.stack`, `error.stack`, `error.stack_trace` with their object's
//!   type and message (pino's error serializer, Elastic Common Schema);
//! - `stack`, `stacktrace`, `stack_trace` text (zap, logstash-logback),
//!   with `error` as the value when it is text (zap's `zap.Error`).

use serde_json::{Map, Value};

use super::find;

/// An exception found in a log line; the keys it came from also stay in
/// the line's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionData {
    /// The exception's type, such as `ZeroDivisionError` or
    /// `java.io.IOException`, when the logger says or the stack shows it.
    pub type_name: Option<String>,
    /// The exception's message.
    pub value: Option<String>,
    /// The stack trace as the logger wrote it: text, or JSON text for
    /// structured tracebacks.
    pub stack: Option<String>,
    /// The key it was found under (`exception`, `err.stack`, ...).
    pub source_key: &'static str,
}

/// `loguru_text` is loguru's formatted record, which holds the traceback
/// its `exception` object lacks.
pub(super) fn detect(
    object: &Map<String, Value>,
    loguru_text: Option<&str>,
) -> Option<ExceptionData> {
    if let Some(found) = object
        .get("exception")
        .and_then(|value| from_exception_value(value, loguru_text))
    {
        return Some(found);
    }
    if let Some(Value::String(text)) = object.get("exc_info") {
        return from_stack_text(text, "exc_info");
    }
    for (parent, stack_key) in [
        ("err", "err.stack"),
        ("error", "error.stack"),
        ("error", "error.stack_trace"),
    ] {
        if let Some(Value::String(stack)) = find(object, stack_key) {
            let member = |name: &str| text_at(object, &format!("{parent}.{name}"));
            let from_stack = from_stack_text(stack, stack_key);
            return Some(ExceptionData {
                type_name: member("type").or_else(|| member("name")).or_else(|| {
                    from_stack
                        .as_ref()
                        .and_then(|found| found.type_name.clone())
                }),
                value: member("message"),
                stack: Some(stack.clone()),
                source_key: stack_key,
            });
        }
    }
    for stack_key in ["stack", "stacktrace", "stack_trace"] {
        if let Some(Value::String(stack)) = object.get(stack_key) {
            let Some(mut found) = from_stack_text(stack, stack_key) else {
                continue;
            };
            if let Some(Value::String(error)) = object.get("error") {
                found.value = Some(error.clone());
            }
            return Some(found);
        }
    }
    None
}

fn from_exception_value(value: &Value, loguru_text: Option<&str>) -> Option<ExceptionData> {
    match value {
        Value::String(text) => from_stack_text(text, "exception"),
        // structlog's dict_tracebacks: the exception caught first, then
        // the ones it was raised from.
        Value::Array(chain) => {
            let caught = chain.first()?.as_object()?;
            Some(ExceptionData {
                type_name: text_of(caught, "exc_type"),
                value: text_of(caught, "exc_value"),
                stack: Some(value.to_string()),
                source_key: "exception",
            })
        }
        Value::Object(object) => {
            let type_name = text_of(object, "type").or_else(|| text_of(object, "exc_type"));
            let message = text_of(object, "value")
                .or_else(|| text_of(object, "message"))
                .or_else(|| text_of(object, "exc_value"));
            let stack = text_of(object, "stacktrace")
                .or_else(|| text_of(object, "stack"))
                .or_else(|| text_of(object, "traceback"))
                .or_else(|| loguru_text.map(str::to_owned));
            if type_name.is_none() && message.is_none() && stack.is_none() {
                return None;
            }
            Some(ExceptionData {
                type_name,
                value: message,
                stack,
                source_key: "exception",
            })
        }
        _ => None,
    }
}

/// A stack trace as text, with type and message read from it when it
/// shows them: a Python traceback ends with `Type: message`, Java and
/// JavaScript stacks start with it.
fn from_stack_text(text: &str, source_key: &'static str) -> Option<ExceptionData> {
    if text.trim().is_empty() {
        return None;
    }
    let headline = if text.contains("Traceback (most recent call last)") {
        text.lines().rev().find(|line| !line.trim().is_empty())
    } else {
        text.lines().next()
    };
    let (type_name, value) = headline
        .and_then(|line| line.trim().split_once(": "))
        .filter(|(type_name, _)| looks_like_type_name(type_name))
        .map_or((None, None), |(type_name, value)| {
            (Some(type_name.to_owned()), Some(value.to_owned()))
        });
    Some(ExceptionData {
        type_name,
        value,
        stack: Some(text.to_owned()),
        source_key,
    })
}

/// `ValueError`, `shop.errors.PaymentDeclined`, `java.io.IOException`.
fn looks_like_type_name(text: &str) -> bool {
    let starts_well = text
        .chars()
        .next()
        .is_some_and(|first| first.is_alphabetic() || first == '_');
    starts_well
        && text
            .chars()
            .all(|character| character.is_alphanumeric() || matches!(character, '_' | '.' | '$'))
}

fn text_of(object: &Map<String, Value>, key: &str) -> Option<String> {
    object
        .get(key)?
        .as_str()
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

fn text_at(object: &Map<String, Value>, dotted_key: &str) -> Option<String> {
    find(object, dotted_key)?
        .as_str()
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn detect_in(value: Value) -> Option<ExceptionData> {
        let Value::Object(object) = value else {
            panic!("not an object")
        };
        detect(&object, None)
    }

    #[test]
    fn python_traceback_text_gives_type_and_value() {
        let traceback = "Traceback (most recent call last):\n  File \"/app/x.py\", line 3, in <module>\n    1 / 0\nZeroDivisionError: division by zero\n";
        let found = detect_in(json!({"exception": traceback})).unwrap();
        assert_eq!(found.type_name.as_deref(), Some("ZeroDivisionError"));
        assert_eq!(found.value.as_deref(), Some("division by zero"));
        assert_eq!(found.stack.as_deref(), Some(traceback));
        assert_eq!(found.source_key, "exception");
    }

    #[test]
    fn a_stack_without_a_headline_has_no_type() {
        let found =
            detect_in(json!({"stacktrace": "main.main\n\t/app/main.go:42", "error": "boom"}))
                .unwrap();
        assert_eq!(found.type_name, None);
        assert_eq!(found.value.as_deref(), Some("boom"));
        assert_eq!(found.source_key, "stacktrace");
    }

    #[test]
    fn nothing_to_find() {
        for value in [
            json!({"exception": null}),
            json!({"exception": ""}),
            json!({"exc_info": true}),
            json!({"error": "just a message"}),
            json!({"err": {"message": "no stack"}}),
            json!({"exception": []}),
        ] {
            assert_eq!(detect_in(value.clone()), None, "{value}");
        }
    }

    #[test]
    fn type_names() {
        assert!(looks_like_type_name("shop.errors.PaymentDeclined"));
        assert!(looks_like_type_name("Outer$Inner"));
        assert!(!looks_like_type_name(
            "During handling of the above exception"
        ));
        assert!(!looks_like_type_name(""));
    }
}
