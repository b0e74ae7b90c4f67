//! Nested JSON objects into flat, dotted field names with bounded count
//! and name length. What does not fit is kept, not dropped: it goes into
//! one raw-JSON field, [`OVERFLOW_FIELD`].

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value};

use super::{FieldValue, JsonLogLimits};

/// The field holding what did not fit: a JSON object from dotted names to
/// their values. Senders cannot write it directly: their own field of that
/// name is kept inside it.
pub const OVERFLOW_FIELD: &str = "_overflow";

/// Fields sorted by name, each name once, then [`OVERFLOW_FIELD`] if any.
pub(super) fn flatten(
    object: Map<String, Value>,
    limits: &JsonLogLimits,
) -> Vec<(String, FieldValue)> {
    let mut flat = Flattener {
        limits,
        fields: BTreeMap::new(),
        overflow: Map::new(),
    };
    let mut path = String::new();
    flat.object(object, &mut path);
    let mut fields: Vec<_> = flat.fields.into_iter().collect();
    if !flat.overflow.is_empty() {
        fields.push((
            OVERFLOW_FIELD.to_owned(),
            FieldValue::Json(Value::Object(flat.overflow).to_string()),
        ));
    }
    fields
}

struct Flattener<'l> {
    limits: &'l JsonLogLimits,
    fields: BTreeMap<String, FieldValue>,
    overflow: Map<String, Value>,
}

impl Flattener<'_> {
    /// Visits members in name order, whatever order serde_json keeps, so
    /// which fields reach the cap does not depend on a feature flag.
    fn object(&mut self, object: Map<String, Value>, path: &mut String) {
        let mut members: Vec<(String, Value)> = object.into_iter().collect();
        members.sort_by(|(left, _), (right, _)| left.cmp(right));
        for (name, value) in members {
            let parent_len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&name);
            match value {
                Value::Object(inner) if !inner.is_empty() => self.object(inner, path),
                leaf => self.leaf(path, leaf),
            }
            path.truncate(parent_len);
        }
    }

    fn leaf(&mut self, name: &str, value: Value) {
        let fits = !name.is_empty()
            && name != OVERFLOW_FIELD
            && name.len() <= self.limits.max_field_name_len
            && self.fields.len() < self.limits.max_fields
            && !self.fields.contains_key(name);
        if fits {
            self.fields.insert(name.to_owned(), field_value(value));
        } else {
            self.overflow_insert(name, value);
        }
    }

    /// `{"a.b": 1, "a": {"b": 2}}` flattens both to `a.b`: later ones get
    /// `#2`, `#3`... so none is lost.
    fn overflow_insert(&mut self, name: &str, value: Value) {
        if !self.overflow.contains_key(name) {
            self.overflow.insert(name.to_owned(), value);
            return;
        }
        let mut copy = 2usize;
        loop {
            let candidate = format!("{name}#{copy}");
            if !self.overflow.contains_key(&candidate) {
                self.overflow.insert(candidate, value);
                return;
            }
            copy += 1;
        }
    }
}

fn field_value(value: Value) -> FieldValue {
    match value {
        Value::Null => FieldValue::Null,
        Value::Bool(flag) => FieldValue::Bool(flag),
        Value::Number(number) => number_field(&number),
        Value::String(text) => FieldValue::Text(text),
        // Arrays and empty objects stay whole, as JSON text.
        other => FieldValue::Json(other.to_string()),
    }
}

/// A number as a field: an integer while it fits, else a float.
pub(super) fn number_field(number: &Number) -> FieldValue {
    if let Some(integer) = number.as_i64() {
        FieldValue::Integer(integer)
    } else if let Some(unsigned) = number.as_u64() {
        FieldValue::Unsigned(unsigned)
    } else {
        FieldValue::Float(number.as_f64().unwrap_or(f64::NAN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flat(
        value: Value,
        max_fields: usize,
        max_field_name_len: usize,
    ) -> Vec<(String, FieldValue)> {
        let Value::Object(object) = value else {
            panic!("not an object")
        };
        flatten(
            object,
            &JsonLogLimits {
                max_fields,
                max_field_name_len,
            },
        )
    }

    #[test]
    fn nested_objects_become_dotted_names() {
        let fields = flat(
            json!({"http": {"status": 200, "req": {"method": "GET"}}, "tags": ["a", 1], "empty": {}, "n": null}),
            10,
            64,
        );
        assert_eq!(
            fields,
            [
                ("empty".to_owned(), FieldValue::Json("{}".to_owned())),
                (
                    "http.req.method".to_owned(),
                    FieldValue::Text("GET".to_owned())
                ),
                ("http.status".to_owned(), FieldValue::Integer(200)),
                ("n".to_owned(), FieldValue::Null),
                ("tags".to_owned(), FieldValue::Json(r#"["a",1]"#.to_owned())),
            ]
        );
    }

    #[test]
    fn what_does_not_fit_goes_to_the_overflow_field() {
        let fields = flat(
            json!({"a": 1, "b": 2.5, "c": u64::MAX, "a_very_long_name": true, "_overflow": "mine"}),
            2,
            8,
        );
        assert_eq!(
            fields,
            [
                ("a".to_owned(), FieldValue::Integer(1)),
                ("b".to_owned(), FieldValue::Float(2.5)),
                (
                    OVERFLOW_FIELD.to_owned(),
                    FieldValue::Json(format!(
                        r#"{{"_overflow":"mine","a_very_long_name":true,"c":{}}}"#,
                        u64::MAX
                    ))
                ),
            ]
        );
    }

    #[test]
    fn colliding_dotted_names_are_all_kept() {
        let fields = flat(json!({"a.b.c": 1, "a": {"b.c": 2, "b": {"c": 3}}}), 10, 64);
        assert_eq!(
            fields,
            [
                ("a.b.c".to_owned(), FieldValue::Integer(3)),
                (
                    OVERFLOW_FIELD.to_owned(),
                    FieldValue::Json(r#"{"a.b.c":2,"a.b.c#2":1}"#.to_owned())
                ),
            ]
        );
    }

    #[test]
    fn empty_names_overflow() {
        let fields = flat(json!({"": 0, "a": {"": 1}}), 10, 64);
        assert_eq!(
            fields,
            [
                ("a.".to_owned(), FieldValue::Integer(1)),
                (
                    OVERFLOW_FIELD.to_owned(),
                    FieldValue::Json(r#"{"":0}"#.to_owned())
                ),
            ]
        );
    }
}
