//! Properties: any text either parses or fails at a position inside it,
//! without panicking; what parses is normalized and survives a trip
//! through its canonical text; and every generated tree survives the trip
//! from its text too.

use proptest::prelude::*;

use super::*;

/// Short strings of any characters, weighted towards the ones the grammar
/// gives a meaning to.
fn text(min: usize) -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        ' ', '\\', '"', '(', ')', '[', ']', '{', '}', ':', '*', '-', '<', '>', '=', '\t',
    ]);
    let c = prop_oneof![
        4 => proptest::char::range('a', 'z'),
        2 => special,
        1 => any::<char>(),
    ];
    prop::collection::vec(c, min..8).prop_map(String::from_iter)
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9]{1,6}",
        1 => prop::sample::select(vec!["AND", "OR", "NOT", "TO", "and", "-", "*"])
            .prop_map(str::to_owned),
        3 => text(1),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof!["-?[0-9]{1,4}(\\.[0-9]{1,2})?", text(0)].prop_map(Value::new)
}

fn bound() -> impl Strategy<Value = RangeBound> {
    prop_oneof![
        Just(RangeBound::Unbounded),
        value().prop_map(RangeBound::Included),
        value().prop_map(RangeBound::Excluded),
    ]
}

fn filter() -> impl Strategy<Value = FieldFilter> {
    let op = prop::sample::select(vec![
        CompareOp::Lt,
        CompareOp::Le,
        CompareOp::Gt,
        CompareOp::Ge,
    ]);
    prop_oneof![
        text(0).prop_map(FieldFilter::Exact),
        word().prop_map(FieldFilter::Prefix),
        Just(FieldFilter::Exists),
        (op, value()).prop_map(|(op, value)| FieldFilter::Compare { op, value }),
        (bound(), bound()).prop_map(|(lower, upper)| FieldFilter::Range { lower, upper }),
    ]
}

/// Trees within the documented round-trip domain: non-empty words, valid
/// field names, non-empty `Or`s.
fn query() -> impl Strategy<Value = Query> {
    let name = "[a-zA-Z0-9_@.é][a-zA-Z0-9_@.-]{0,6}";
    let leaf = prop_oneof![
        Just(Query::All),
        word().prop_map(Query::Term),
        word().prop_map(Query::Prefix),
        text(0).prop_map(Query::Phrase),
        (name, filter()).prop_map(|(name, filter)| Query::Field { name, filter }),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Query::And),
            prop::collection::vec(inner.clone(), 1..4).prop_map(Query::Or),
            inner.prop_map(|child| Query::Not(Box::new(child))),
        ]
    })
}

/// Text that looks like a query: operators, brackets and words glued with
/// or without spaces, so the parser's deeper paths are reached.
fn query_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            "AND", "OR", "NOT", "TO", "(", ")", "[", "]", "{", "}", "\"", "\\", "*", "-", ":", ">",
            ">=", "<", "<=", "f:", "a.b:", " ", " ", "x", "12",
        ])
        .prop_map(str::to_owned),
        text(1),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

/// What must hold for any input.
fn check_any(input: &str) -> Result<(), TestCaseError> {
    match parse(input) {
        Err(error) => {
            prop_assert!(error.position <= input.len(), "{input:?}: {error}");
            prop_assert!(input.is_char_boundary(error.position), "{input:?}: {error}");
            prop_assert!(!error.message.is_empty());
        }
        Ok(query) => {
            prop_assert_eq!(query.clone().normalize(), query.clone(), "{:?}", input);
            let text = query.to_string();
            // Writing a field group out per leaf can make the text longer
            // than the limit even though the input was not.
            if text.len() <= MAX_QUERY_BYTES {
                prop_assert_eq!(parse(&text), Ok(query), "{:?} printed as {:?}", input, text);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(input in any::<String>()) {
        check_any(&input)?;
    }

    #[test]
    fn query_like_text_never_panics(input in query_like()) {
        check_any(&input)?;
    }

    #[test]
    fn generated_trees_round_trip(query in query()) {
        let expected = query.normalize();
        let text = expected.to_string();
        prop_assert_eq!(parse(&text), Ok(expected), "printed as {:?}", text);
    }
}
