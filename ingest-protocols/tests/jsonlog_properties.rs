//! Property tests of the JSON log parser: flattening keeps every leaf
//! reachable by its dotted path (as a field, or in the overflow field past
//! the caps), well-known keys round-trip, and no input panics.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use proptest::prelude::*;
use serde_json::{Map, Value};

use partout_protocols::jsonlog::{parse_line, FieldValue, JsonLogLimits, Level, OVERFLOW_FIELD};

/// Keys that never collide with the well-known ones (all start with `k`);
/// dots make some flattened names collide.
const KEY: &str = "k[a-z0-9.]{0,3}";

/// JSON values whose floats survive a print-and-parse exactly (multiples
/// of 1/8), so expected and parsed leaves compare with `==`.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1_000_000i32..1_000_000).prop_map(|eighths| Value::from(f64::from(eighths) / 8.0)),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(KEY, inner, 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// Every leaf (scalar, array, empty object) with its dotted path.
fn leaves(object: &Map<String, Value>, prefix: &str, out: &mut Vec<(String, Value)>) {
    for (name, value) in object {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            Value::Object(inner) if !inner.is_empty() => leaves(inner, &path, out),
            leaf => out.push((path, leaf.clone())),
        }
    }
}

fn same(field: &FieldValue, value: &Value) -> bool {
    match (field, value) {
        (FieldValue::Null, Value::Null) => true,
        (FieldValue::Bool(flag), Value::Bool(other)) => flag == other,
        (FieldValue::Integer(integer), Value::Number(number)) => number.as_i64() == Some(*integer),
        (FieldValue::Unsigned(unsigned), Value::Number(number)) => {
            number.as_i64().is_none() && number.as_u64() == Some(*unsigned)
        }
        (FieldValue::Float(float), Value::Number(number)) => {
            number.is_f64() && number.as_f64() == Some(*float)
        }
        (FieldValue::Text(text), Value::String(other)) => text == other,
        (FieldValue::Json(text), other @ (Value::Array(_) | Value::Object(_))) => {
            serde_json::from_str::<Value>(text).ok().as_ref() == Some(other)
        }
        _ => false,
    }
}

proptest! {
    #[test]
    fn every_leaf_is_reachable_by_its_dotted_path(
        members in proptest::collection::btree_map(KEY, json_value(), 0..12),
        max_fields in 0usize..20,
        max_field_name_len in 1usize..12,
    ) {
        let line = Value::Object(members.into_iter().collect()).to_string();
        // What the parser sees, so expected floats went through the same parse.
        let Value::Object(sent) = serde_json::from_str::<Value>(&line).unwrap() else { unreachable!() };
        let mut expected = Vec::new();
        leaves(&sent, "", &mut expected);

        let limits = JsonLogLimits { max_fields, max_field_name_len };
        let parsed = parse_line(line.as_bytes(), &limits);
        prop_assert_eq!(parsed.parse_error, None);

        let (overflow, fields): (Vec<_>, Vec<_>) =
            parsed.fields.iter().partition(|(name, _)| name == OVERFLOW_FIELD);
        prop_assert!(fields.len() <= max_fields);
        prop_assert!(overflow.len() <= 1);
        if !overflow.is_empty() {
            prop_assert_eq!(&parsed.fields.last().unwrap().0, OVERFLOW_FIELD);
        }
        for pair in fields.windows(2) {
            prop_assert!(pair[0].0 < pair[1].0, "names sorted and distinct");
        }
        for (name, _) in &fields {
            prop_assert!(!name.is_empty() && name.len() <= max_field_name_len);
        }
        let overflow: Map<String, Value> = match overflow.first() {
            Some((_, FieldValue::Json(text))) => serde_json::from_str(text).unwrap(),
            Some(other) => panic!("overflow is not JSON: {other:?}"),
            None => Map::new(),
        };
        prop_assert_eq!(fields.len() + overflow.len(), expected.len());
        for (path, value) in &expected {
            let as_field = fields.iter().any(|(name, field)| name == path && same(field, value));
            // Colliding paths are numbered in the overflow: `a.b`, `a.b#2`...
            let in_overflow = overflow.iter().any(|(name, kept)| {
                let base = name.split_once('#').map_or(name.as_str(), |(base, _)| base);
                base == path && kept == value
            });
            prop_assert!(as_field || in_overflow, "{} = {} lost", path, value);
        }
    }

    #[test]
    fn pino_lines_round_trip(
        level in proptest::sample::select(vec![(10, Level::Trace), (20, Level::Debug), (30, Level::Info), (40, Level::Warn), (50, Level::Error), (60, Level::Fatal)]),
        time_millis in 100_000_000_000i64..9_000_000_000_000,
        message in "\\PC{0,40}",
        hostname in "[a-z][a-z0-9-]{0,12}",
    ) {
        let line = serde_json::json!({
            "level": level.0, "time": time_millis, "pid": 7, "hostname": hostname, "msg": message,
        }).to_string();
        let parsed = parse_line(line.as_bytes(), &JsonLogLimits::default());
        prop_assert_eq!(parsed.level, Some(level.1));
        prop_assert_eq!(parsed.timestamp_unix_nanos, Some(time_millis * 1_000_000));
        prop_assert_eq!(parsed.message.as_deref(), Some(message.trim_end_matches(['\n', '\r'])));
        prop_assert_eq!(parsed.host.as_deref(), Some(hostname.as_str()));
        prop_assert_eq!(parsed.fields, vec![("pid".to_owned(), FieldValue::Integer(7))]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(line in proptest::collection::vec(any::<u8>(), 0..300)) {
        let parsed = parse_line(&line, &JsonLogLimits { max_fields: 4, max_field_name_len: 8 });
        if parsed.parse_error.is_some() {
            prop_assert!(parsed.message.is_some());
            prop_assert!(parsed.fields.is_empty());
        }
        prop_assert!(parsed.fields.len() <= 5);
    }

    #[test]
    fn json_shaped_noise_never_panics(line in "\\{(\"(message|msg|event|log|[a-z@.]{0,8})\": ?(\"[^\"]{0,10}\"|-?[0-9.e+]{1,12}|true|null|\\[\\]|\\{\\}), ?){0,6}\\}?") {
        let parsed = parse_line(line.as_bytes(), &JsonLogLimits { max_fields: 3, max_field_name_len: 6 });
        // The message is the first message key holding text.
        if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(&line) {
            let sent = ["message", "msg", "event", "log"]
                .into_iter()
                .find_map(|key| object.get(key).and_then(Value::as_str));
            prop_assert_eq!(parsed.message.as_deref(), sent.map(|text| text.trim_end_matches(['\n', '\r'])));
        }
        prop_assert!(parsed.fields.len() <= 4);
    }
}
