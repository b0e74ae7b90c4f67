//! Test helpers shared by the item parsers' property tests.

use proptest::prelude::*;
use serde_json::Value;

/// Arbitrary JSON whose object keys are drawn mostly from `keys` (the
/// protocol's field names), so generated values reach the code that reads
/// those fields, with wrong types and odd nesting as often as right ones.
pub(crate) fn json_with_keys(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        4 => proptest::sample::select(keys).prop_map(str::to_owned),
        1 => "[a-z_]{1,3}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (0u64..2_000_000_000).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        Just(Value::from("2026-11-22T11:47:10.072521Z")),
        Just(Value::from("58c4053d-1f31-4d3f-bee9-54d0c31bec3a")),
        Just(Value::from("crashed")),
        Just(Value::from("exited")),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}
