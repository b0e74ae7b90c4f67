//! Tolerant readers over `serde_json::Value`, shared by the envelope and
//! event code: a field of the wrong type reads as absent, never as an error,
//! because SDKs in the wild disagree on types and one odd optional field
//! must not cost the whole event.

use serde_json::{Map, Value};

/// Marks text that was cut, so a reader knows it is not the whole value.
const ELLIPSIS: char = '…';

/// `text` cut to at most `max_chars` characters, the last one an ellipsis
/// when anything was cut.
pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    // No more bytes than allowed characters: nothing can be cut, and the
    // characters need not be counted.
    if text.len() <= max_chars {
        return text.to_owned();
    }
    match text.char_indices().nth(max_chars) {
        None => text.to_owned(),
        Some(_) => {
            let keep = max_chars.saturating_sub(1);
            let end = text
                .char_indices()
                .nth(keep)
                .map_or(text.len(), |(at, _)| at);
            let mut cut = text.get(..end).unwrap_or_default().to_owned();
            if max_chars > 0 {
                cut.push(ELLIPSIS);
            }
            cut
        }
    }
}

/// [`truncate`] of a string already owned: the same result, without a
/// copy when nothing is cut, and cut in place when something is.
pub(crate) fn cut_owned(mut text: String, max_chars: usize) -> String {
    if text.len() <= max_chars {
        return text;
    }
    if text.char_indices().nth(max_chars).is_none() {
        return text;
    }
    let keep = max_chars.saturating_sub(1);
    let end = text
        .char_indices()
        .nth(keep)
        .map_or(text.len(), |(at, _)| at);
    text.truncate(end);
    if max_chars > 0 {
        text.push(ELLIPSIS);
    }
    text
}

/// A non-empty string field, cut to `max_chars`.
pub(crate) fn string(value: Option<&Value>, max_chars: usize) -> Option<String> {
    match value? {
        Value::String(text) if !text.is_empty() => Some(truncate(text, max_chars)),
        _ => None,
    }
}

/// A string, number or boolean as text (tag values and fingerprint parts
/// are strings in the protocol, but SDKs pass user values through).
pub(crate) fn scalar_string(value: &Value, max_chars: usize) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(truncate(text, max_chars)),
        Value::Number(number) => Some(truncate(&number.to_string(), max_chars)),
        Value::Bool(flag) => Some(truncate(&flag.to_string(), max_chars)),
        _ => None,
    }
}

/// [`string`] of a value taken out of its map: its text is moved, not
/// copied.
pub(crate) fn take_string(value: Option<Value>, max_chars: usize) -> Option<String> {
    match value? {
        Value::String(text) if !text.is_empty() => Some(cut_owned(text, max_chars)),
        _ => None,
    }
}

/// [`scalar_string`] of a value taken out of its map.
pub(crate) fn take_scalar_string(value: Value, max_chars: usize) -> Option<String> {
    match value {
        Value::String(text) => take_string(Some(Value::String(text)), max_chars),
        other => scalar_string(&other, max_chars),
    }
}

/// A non-negative integer that fits a `u32` (line and column numbers).
pub(crate) fn small_uint(value: Option<&Value>) -> Option<u32> {
    u32::try_from(value?.as_u64()?).ok()
}

pub(crate) fn boolean(value: Option<&Value>) -> Option<bool> {
    value?.as_bool()
}

pub(crate) fn object(value: Option<&Value>) -> Option<&Map<String, Value>> {
    value?.as_object()
}

/// The `values` array of a Sentry "interface" (`exception`, `breadcrumbs`,
/// `threads`), which SDKs send either as `{"values": [...]}` or, in the
/// older form, as the bare array.
pub(crate) fn values_array(value: Option<&Value>) -> &[Value] {
    match value {
        Some(Value::Array(items)) => items,
        Some(Value::Object(map)) => match map.get("values") {
            Some(Value::Array(items)) => items,
            _ => &[],
        },
        _ => &[],
    }
}

/// Bounds for free-form JSON kept as sent (contexts, breadcrumb data).
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonBounds {
    pub max_depth: usize,
    pub max_entries: usize,
    pub max_chars: usize,
}

/// A copy of `value` with strings cut, arrays and objects cut to
/// `max_entries`, and anything nested deeper than `max_depth` replaced by
/// a marker string. Recursion depth is bounded by `max_depth`.
pub(crate) fn bounded_json(value: &Value, bounds: JsonBounds) -> Value {
    bounded_at(value, bounds, 0)
}

fn bounded_at(value: &Value, bounds: JsonBounds, depth: usize) -> Value {
    match value {
        Value::String(text) => Value::String(truncate(text, bounds.max_chars)),
        Value::Array(_) | Value::Object(_) if depth >= bounds.max_depth => {
            Value::String(String::from("[nested too deep]"))
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .take(bounds.max_entries)
                .map(|item| bounded_at(item, bounds, depth + 1))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .take(bounds.max_entries)
                .map(|(key, item)| {
                    (
                        truncate(key, bounds.max_chars),
                        bounded_at(item, bounds, depth + 1),
                    )
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// [`bounded_json`] of a value that is not needed afterwards: what is
/// kept is moved rather than copied, and an object within every bound is
/// bounded in place.
pub(crate) fn bounded_json_owned(value: Value, bounds: JsonBounds) -> Value {
    bounded_owned_at(value, bounds, 0)
}

fn bounded_owned_at(value: Value, bounds: JsonBounds, depth: usize) -> Value {
    match value {
        Value::String(text) => Value::String(cut_owned(text, bounds.max_chars)),
        Value::Array(_) | Value::Object(_) if depth >= bounds.max_depth => {
            Value::String(String::from("[nested too deep]"))
        }
        Value::Array(mut items) => {
            items.truncate(bounds.max_entries);
            Value::Array(
                items
                    .into_iter()
                    .map(|item| bounded_owned_at(item, bounds, depth + 1))
                    .collect(),
            )
        }
        Value::Object(mut map)
            if map.len() <= bounds.max_entries
                && map.keys().all(|key| key.len() <= bounds.max_chars) =>
        {
            for item in map.values_mut() {
                *item = bounded_owned_at(std::mem::take(item), bounds, depth + 1);
            }
            Value::Object(map)
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .take(bounds.max_entries)
                .map(|(key, item)| {
                    (
                        cut_owned(key, bounds.max_chars),
                        bounded_owned_at(item, bounds, depth + 1),
                    )
                })
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn truncate_counts_characters_and_marks_the_cut() {
        assert_eq!(truncate("hello", 5), "hello");
        assert_eq!(truncate("hello!", 5), "hell…");
        assert_eq!(truncate("héllo wörld", 4), "hél…");
        assert_eq!(truncate("abc", 0), "");
        assert_eq!(truncate("", 3), "");
    }

    #[test]
    fn wrong_types_read_as_absent() {
        let event = json!({"a": 5, "b": "", "c": -1, "d": "x"});
        assert_eq!(string(event.get("a"), 10), None);
        assert_eq!(string(event.get("b"), 10), None);
        assert_eq!(string(event.get("d"), 10).as_deref(), Some("x"));
        assert_eq!(small_uint(event.get("c")), None);
        assert_eq!(small_uint(event.get("a")), Some(5));
        assert_eq!(scalar_string(&json!(1.5), 10).as_deref(), Some("1.5"));
        assert_eq!(scalar_string(&json!(null), 10), None);
    }

    #[test]
    fn interfaces_come_wrapped_or_bare() {
        assert_eq!(values_array(Some(&json!({"values": [1, 2]}))).len(), 2);
        assert_eq!(values_array(Some(&json!([1]))).len(), 1);
        assert_eq!(values_array(Some(&json!({"values": 3}))).len(), 0);
        assert_eq!(values_array(None).len(), 0);
    }

    #[test]
    fn bounded_json_cuts_every_dimension() {
        let bounds = JsonBounds {
            max_depth: 2,
            max_entries: 2,
            max_chars: 3,
        };
        let value = json!({"a": [1, 2, 3], "b": {"c": {"d": 1}}, "e": "long text"});
        assert_eq!(
            bounded_json(&value, bounds),
            json!({"a": [1, 2], "b": {"c": "[nested too deep]"}})
        );
        assert_eq!(bounded_json(&json!("long"), bounds), json!("lo…"));
    }
}
