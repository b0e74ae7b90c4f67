//! Named examples for each construct, each error and the precedence rules.
//! Structure is checked through a compact s-expression (`(and a (not b))`)
//! so a test reads like the tree it expects.

use super::*;

/// The tree as an s-expression: words bare, `"..."` phrases, `w*`
/// prefixes, `name=v` exact, `name=v*` prefix, `name?` exists,
/// `name>=v` comparisons, `name[a,b}` ranges (`-` for an open bound).
fn sexp(query: &Query) -> String {
    fn list(head: &str, children: &[Query]) -> String {
        let inner: Vec<String> = children.iter().map(sexp).collect();
        format!("({head} {})", inner.join(" "))
    }
    fn bound(bound: &RangeBound) -> (Option<bool>, String) {
        match bound {
            RangeBound::Unbounded => (None, "-".to_owned()),
            RangeBound::Included(v) => (Some(true), v.raw().to_owned()),
            RangeBound::Excluded(v) => (Some(false), v.raw().to_owned()),
        }
    }
    match query {
        Query::All => "*".to_owned(),
        Query::Term(t) => t.clone(),
        Query::Prefix(p) => format!("{p}*"),
        Query::Phrase(p) => format!("{p:?}"),
        Query::Field { name, filter } => match filter {
            FieldFilter::Exact(v) => format!("{name}={v}"),
            FieldFilter::Prefix(p) => format!("{name}={p}*"),
            FieldFilter::Exists => format!("{name}?"),
            FieldFilter::Compare { op, value } => format!("{name}{op}{}", value.raw()),
            FieldFilter::Range { lower, upper } => {
                let (lower_in, lower) = bound(lower);
                let (upper_in, upper) = bound(upper);
                let open = if lower_in == Some(false) { '{' } else { '[' };
                let close = if upper_in == Some(false) { '}' } else { ']' };
                format!("{name}{open}{lower},{upper}{close}")
            }
        },
        Query::And(children) => list("and", children),
        Query::Or(children) => list("or", children),
        Query::Not(child) => format!("(not {})", sexp(child)),
    }
}

/// Parses `input` and compares its tree with `expected` (an s-expression),
/// then checks that the canonical text parses back to the same tree.
#[track_caller]
fn check(input: &str, expected: &str) {
    let query = parse(input).unwrap_or_else(|e| panic!("{input:?} failed: {e}"));
    assert_eq!(sexp(&query), expected, "input {input:?}");
    let text = query.to_string();
    assert_eq!(parse(&text), Ok(query), "canonical text {text:?}");
}

/// Parses `input`, expecting an error at `position` whose message
/// contains `message`.
#[track_caller]
fn check_error(input: &str, position: usize, message: &str) {
    match parse(input) {
        Ok(query) => panic!("{input:?} parsed as {}", sexp(&query)),
        Err(error) => {
            assert_eq!(error.position, position, "input {input:?}: {error}");
            assert!(
                error.message.contains(message),
                "input {input:?}: {error:?} lacks {message:?}"
            );
        }
    }
}

fn field(name: &str, filter: FieldFilter) -> Query {
    Query::Field {
        name: name.to_owned(),
        filter,
    }
}

#[test]
fn empty_and_blank_input_match_everything() {
    check("", "*");
    check("   \t\n", "*");
    check("*", "*");
}

#[test]
fn bare_words_are_anded_and_kept_as_typed() {
    check("timeout", "timeout");
    check("Timeout DB01", "(and Timeout DB01)");
    check("  a   b  c ", "(and a b c)");
    check("db-01 a.b [ERROR] <html>", "(and db-01 a.b [ERROR] <html>)");
    check("naïve 日本", "(and naïve 日本)");
}

#[test]
fn lowercase_operators_are_words() {
    check("a and b or not c", "(and a and b or not c)");
    check("ANDROID ORACLE NOTE", "(and ANDROID ORACLE NOTE)");
}

#[test]
fn phrases_and_their_escapes() {
    check(r#""disk full""#, r#""disk full""#);
    check(r#""say \"hi\"""#, r#""say \"hi\"""#);
    check(r#""back\\slash""#, r#""back\\slash""#);
    // Other backslashes are literal, so paths need no doubling.
    check(r#""C:\logs\app""#, r#""C:\\logs\\app""#);
    check(r#""""#, r#""""#);
    check(r#"a"b c"d"#, r#"(and a "b c" d)"#);
}

#[test]
fn prefix_wildcards() {
    check("time*", "time*");
    check("-time*", "(not time*)");
    check(r"a\**", "a**");
}

#[test]
fn backslash_escapes_in_words() {
    check(r"http\://x", "http://x");
    check(r"\-1", "-1");
    check(r"\AND", "AND");
    check(r"a\ b", "a b");
    check(r"a\*", "a*");
    assert_eq!(parse(r"a\*"), Ok(Query::Term("a*".to_owned())));
    // Nothing to escape at the very end: the backslash is kept.
    assert_eq!(parse(r"a\"), Ok(Query::Term(r"a\".to_owned())));
}

#[test]
fn field_filters() {
    check("level:error", "level=error");
    check("http.status:500", "http.status=500");
    check(
        "@timestamp:x trace-id:y a_b:z",
        "(and @timestamp=x trace-id=y a_b=z)",
    );
    check(r#"msg:"disk full""#, "msg=disk full");
    check("host:web*", "host=web*");
    check("host:*", "host?");
    check(r#"host:"*""#, "host=*");
    check("time:12:30", "time=12:30");
    check("n:-1", "n=-1");
    check(
        r#"x:\[ERROR] y:a] z:"[ERROR]""#,
        "(and x=[ERROR] y=a] z=[ERROR])",
    );
}

#[test]
fn a_colon_after_a_non_name_is_text() {
    check(":a", ":a");
    check("a/b:c", "a/b:c");
    check(r"a\:b", "a:b");
    // A name never starts with '-', which negates.
    check("--a:b", "(not -a:b)");
}

#[test]
fn comparisons_keep_raw_text_and_number() {
    check("status:>=500", "status>=500");
    check(
        "status:>500 status:<600 status:<=599",
        "(and status>500 status<600 status<=599)",
    );
    check(r#"name:>"m a""#, "name>m a");
    let Ok(Query::Field { filter, .. }) = parse("latency:<0.25") else {
        panic!("not a field");
    };
    let FieldFilter::Compare { op, value } = filter else {
        panic!("not a comparison");
    };
    assert_eq!(op, CompareOp::Lt);
    assert_eq!(value.raw(), "0.25");
    assert_eq!(value.number(), Some(0.25));
    assert_eq!(Value::new("abc").number(), None);
    assert_eq!(Value::new("NaN").number(), None);
    assert_eq!(Value::new("inf").number(), None);
    assert_eq!(Value::new("1e999").number(), None);
    assert_eq!(Value::new("-1e3").number(), Some(-1000.0));
}

#[test]
fn ranges() {
    check("status:[400 TO 499]", "status[400,499]");
    check("status:{400 TO 500}", "status{400,500}");
    check("status:[400 TO 500}", "status[400,500}");
    check("status:[500 TO *]", "status[500,-]");
    check("t:{* TO 2026-01-01}", "t[-,2026-01-01}");
    check(r#"name:["a b" TO "c"]"#, "name[a b,c]");
    check(r#"name:["*" TO z]"#, "name[*,z]");
    check("s:[  1   TO   2  ]", "s[1,2]");
    check("s:[TO TO TO]", "s[TO,TO]");
}

#[test]
fn boolean_operators_and_negation() {
    check("a AND b", "(and a b)");
    check("a OR b", "(or a b)");
    check("NOT a", "(not a)");
    check("-a", "(not a)");
    check("-level:debug", "(not level=debug)");
    check("-\"a b\"", "(not \"a b\")");
    check("-(a OR b)", "(not (or a b))");
    check("NOT NOT a", "(not (not a))");
    check("NOT(a)", "(not a)");
    check("a NOT b", "(and a (not b))");
    check("-AND", "(not AND)");
    // `-` takes one primary, so a second dash is text.
    check("--a", "(not -a)");
}

#[test]
fn precedence_is_not_then_and_then_or() {
    check("a OR b c", "(or a (and b c))");
    check("a b OR c", "(or (and a b) c)");
    check("a AND b OR c AND d", "(or (and a b) (and c d))");
    check("NOT a b", "(and (not a) b)");
    check("NOT a OR b", "(or (not a) b)");
    check("a OR NOT b AND c", "(or a (and (not b) c))");
    check("(a OR b) c", "(and (or a b) c)");
    check("-a OR -b c", "(or (not a) (and (not b) c))");
}

#[test]
fn nested_and_or_are_flattened() {
    check("a AND (b AND c)", "(and a b c)");
    check("(a OR b) OR (c OR d)", "(or a b c d)");
    check("((a))", "a");
    check("a (b (c d))", "(and a b c d)");
    check("(a OR b) (c OR d)", "(and (or a b) (or c d))");
}

#[test]
fn field_groups_apply_the_field_to_each_leaf() {
    check("level:(error OR warn)", "(or level=error level=warn)");
    check("level:(error warn)", "(and level=error level=warn)");
    check(r#"msg:("a b" OR c*)"#, "(or msg=a b msg=c*)");
    check("s:(>=500 OR [400 TO 404])", "(or s>=500 s[400,404])");
    check("s:(-a OR NOT b)", "(or (not s=a) (not s=b))");
    check("s:(a OR (b c))", "(or s=a (and s=b s=c))");
    check("s:(*)", "s?");
    // Inside a group a colon is part of the value, as after `field:`.
    check("a:(b:c)", "a=b:c");
}

#[test]
fn display_is_canonical() {
    let cases = [
        ("a b", "a AND b"),
        ("a b OR c", "a AND b OR c"),
        ("(a OR b) c", "(a OR b) AND c"),
        ("-a", "NOT a"),
        ("-(a b)", "NOT (a AND b)"),
        ("lvl:(a OR b)", "lvl:a OR lvl:b"),
        (r#"msg:"a b""#, r#"msg:"a b""#),
        ("s:>=5", "s:>=5"),
        ("s:{1 TO *]", "s:{1 TO *]"),
        (r#"s:[* TO "a]"]"#, r#"s:[* TO "a]"]"#),
        (r"\AND \-x a\:b", r"\AND AND \-x AND a\:b"),
        ("a:b:c", "a:b:c"),
        ("", "*"),
    ];
    for (input, expected) in cases {
        assert_eq!(
            parse(input).map(|q| q.to_string()),
            Ok(expected.to_owned()),
            "{input:?}"
        );
    }
}

#[test]
fn module_doc_examples_hold() {
    check(
        r#"level:error (timeout OR "connection reset") -service:health http.status:>=500"#,
        r#"(and level=error (or timeout "connection reset") (not service=health) http.status>=500)"#,
    );
    let display = parse(r#"level:error (timeout OR "reset") -svc:(a b)"#).map(|q| q.to_string());
    assert_eq!(
        display,
        Ok(r#"level:error AND (timeout OR "reset") AND NOT (svc:a AND svc:b)"#.to_owned())
    );
}

#[test]
fn display_quotes_values_and_escapes_words() {
    let term = Query::Term("a b:c".to_owned());
    assert_eq!(term.to_string(), r"a\ b\:c");
    let exact = field("f", FieldFilter::Exact("[x".to_owned()));
    assert_eq!(exact.to_string(), r#"f:"[x""#);
    let prefix = field("f", FieldFilter::Prefix("[x y".to_owned()));
    assert_eq!(prefix.to_string(), r"f:\[x\ y*");
    let compare = field(
        "f",
        FieldFilter::Compare {
            op: CompareOp::Gt,
            value: Value::new("=1"),
        },
    );
    assert_eq!(compare.to_string(), r#"f:>"=1""#);
    assert_eq!(Query::And(vec![]).to_string(), "*");
    assert_eq!(Query::Or(vec![]).to_string(), "NOT *");
}

#[test]
fn normalize_flattens_and_unwraps() {
    let a = || Query::Term("a".to_owned());
    let b = || Query::Term("b".to_owned());
    let nested = Query::And(vec![
        Query::And(vec![a(), Query::Or(vec![b()])]),
        Query::Not(Box::new(Query::Or(vec![Query::Or(vec![a(), b()])]))),
        Query::And(vec![]),
    ]);
    assert_eq!(sexp(&nested.normalize()), "(and a b (not (or a b)) *)");
    assert_eq!(Query::And(vec![]).normalize(), Query::All);
    assert_eq!(Query::Or(vec![]).normalize(), Query::Or(vec![]));
}

#[test]
fn error_display_says_where() {
    let error = parse("(a").unwrap_err();
    assert_eq!(
        error.to_string(),
        "at 2: expected ')' to close the '(' at 0"
    );
}

#[test]
fn unbalanced_parentheses() {
    check_error("(a", 2, "expected ')' to close the '(' at 0");
    check_error("a (b (c)", 8, "to close the '(' at 2");
    check_error("a)", 1, "unexpected ')'");
    check_error(")", 0, "found ')'");
    check_error("()", 1, "expected a clause after '(', found ')'");
    check_error("level:(a", 8, "to close the '(' at 6");
    check_error("level:()", 7, "after '('");
}

#[test]
fn unclosed_quotes() {
    check_error(r#""abc"#, 0, "unclosed '\"'");
    check_error(r#"a "b\""#, 2, "unclosed");
    check_error(r#"f:"x"#, 2, "unclosed");
    check_error(r#""a"*"#, 3, "not a wildcard");
}

#[test]
fn a_field_needs_a_value_right_after_the_colon() {
    check_error("level:", 6, "expected a value right after 'level:'");
    check_error("level: error", 6, "right after 'level:'");
    check_error("(level:)", 7, "right after 'level:'");
    check_error("s:>", 3, "expected a value right after '>'");
    check_error("s:>= 5", 4, "right after '>='");
    check_error("s:<)", 3, "right after '<'");
}

#[test]
fn misplaced_wildcards() {
    check_error("*foo", 0, "only at the end of a word");
    check_error("fo*o", 2, "only at the end");
    check_error("a**", 1, "only at the end");
    check_error("f:a*b", 3, "only at the end");
    check_error("f:>1*", 4, "not a wildcard in a comparison");
    check_error("f:[a* TO b]", 4, "must stand alone");
    check_error("f:[a TO *b]", 8, "only at the end");
}

#[test]
fn unfinished_ranges() {
    check_error("s:[", 3, "expected a range bound");
    check_error("s:[a", 4, "expected 'TO' in the range opened at 2");
    check_error("s:[a TO", 7, "expected a range bound after 'TO'");
    check_error("s:[a TO b", 9, "not closed");
    check_error("s:[a b]", 5, "expected 'TO'");
    check_error("s:[a to b]", 5, "expected 'TO'");
    check_error("s:[a TO]", 7, "expected a range bound after 'TO'");
    check_error("s:[a TO b c]", 10, "expected ']' or '}'");
    check_error("s:[]", 3, "expected a range bound");
}

#[test]
fn dangling_operators() {
    check_error("a AND", 5, "expected a clause after 'AND'");
    check_error("a OR", 4, "expected a clause after 'OR'");
    check_error("NOT", 3, "expected a clause after 'NOT'");
    check_error("OR a", 0, "at the start of the query, found 'OR'");
    check_error("AND a", 0, "found 'AND'");
    check_error("a OR OR b", 5, "after 'OR', found 'OR'");
    check_error("a AND OR b", 6, "after 'AND', found 'OR'");
    check_error("(a OR)", 5, "after 'OR', found ')'");
    check_error("a -", 3, "right after '-'");
    check_error("a - b", 3, "right after '-'");
    check_error("(-)", 2, "right after '-'");
}

#[test]
fn limits() {
    let long = "a ".repeat(2049);
    check_error(&long, MAX_QUERY_BYTES, "longer than 4096 bytes");
    // The error position stays on a char boundary in multi-byte text.
    let wide = "é".repeat(2049);
    let error = parse(&wide).unwrap_err();
    assert!(wide.is_char_boundary(error.position) && error.position <= MAX_QUERY_BYTES);

    let deep_ok = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    check(&deep_ok, "a");
    let too_deep = format!(
        "{}a{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    check_error(&too_deep, MAX_DEPTH, "deeper than 32 levels");
    let nots = "NOT ".repeat(MAX_DEPTH + 1) + "a";
    check_error(&nots, 4 * MAX_DEPTH, "deeper than 32 levels");
    // `-(` nests twice: the negation and the parenthesis.
    let half = MAX_DEPTH / 2;
    let negated = format!("{}a{}", "-(".repeat(half), ")".repeat(half));
    assert!(parse(&negated).is_ok());
    let negated = format!("{}a{}", "-(".repeat(half + 1), ")".repeat(half + 1));
    check_error(&negated, MAX_DEPTH, "deeper");

    let many_ok = "a ".repeat(MAX_CLAUSES);
    assert!(parse(&many_ok).is_ok());
    let too_many = "a ".repeat(MAX_CLAUSES + 1);
    check_error(&too_many, 2 * MAX_CLAUSES, "more than 256 clauses");
    // Field groups count each value.
    let group = format!("f:({})", "a ".repeat(MAX_CLAUSES + 1));
    check_error(&group, 3 + 2 * MAX_CLAUSES, "more than 256 clauses");
}
