//! Editing the query text for people who click rather than type: a field
//! value or a facet becomes a `field:value` clause added to (or taken out
//! of) the query. Pure, so it is tested on the host.
//!
//! Written against the query language of docs/logs.md: a value is bare when
//! it reads as itself, quoted otherwise, the way the server prints queries.

/// `name:value` for a field filter, the value quoted when it has to be.
/// `None` when `name` cannot be written as a field name (only letters,
/// digits and `_ . - @` can, and not a leading `-`).
pub fn field_clause(name: &str, value: &str) -> Option<String> {
    if !is_field_name(name) {
        return None;
    }
    Some(format!("{name}:{}", value_text(value)))
}

/// The clause for "has no value for this field": `-name:*`. Facets use it
/// for the lines counted under `none`.
pub fn missing_clause(name: &str) -> Option<String> {
    is_field_name(name).then(|| format!("-{name}:*"))
}

/// The clause for "has this field, whatever its value": `name:*`.
pub fn exists_clause(name: &str) -> Option<String> {
    is_field_name(name).then(|| format!("{name}:*"))
}

/// Whether `clause` is already one of the query's top-level words, which
/// is how a facet knows it is the active filter.
pub fn has_clause(query: &str, clause: &str) -> bool {
    top_level_words(query).any(|word| word == clause)
}

/// The query narrowed by `clause` (an implicit AND). A query with a
/// top-level `OR` is wrapped in parentheses first, since AND binds tighter
/// and would otherwise only narrow the last alternative. Adding a clause
/// that is already there changes nothing.
pub fn add_clause(query: &str, clause: &str) -> String {
    let query = query.trim();
    if query.is_empty() || query == "*" {
        return clause.to_owned();
    }
    if has_clause(query, clause) {
        return query.to_owned();
    }
    if top_level_words(query).any(|word| word == "OR") {
        format!("({query}) {clause}")
    } else {
        format!("{query} {clause}")
    }
}

/// The query without the top-level word `clause`; the rest as typed.
pub fn remove_clause(query: &str, clause: &str) -> String {
    top_level_words(query)
        .filter(|word| *word != clause)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The query split at spaces outside quotes and parentheses. Enough to
/// find a clause this module wrote; not a parser of the whole language.
fn top_level_words(query: &str) -> impl Iterator<Item = &str> {
    let mut words = Vec::new();
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    let mut start = None;
    for (at, c) in query.char_indices() {
        if start.is_none() && !c.is_whitespace() {
            start = Some(at);
        }
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.saturating_sub(1),
            c if c.is_whitespace() && !quoted && depth == 0 => {
                if let Some(word) = start.take().and_then(|begin| query.get(begin..at)) {
                    words.push(word);
                }
            }
            _ => {}
        }
    }
    if let Some(word) = start.and_then(|begin| query.get(begin..)) {
        words.push(word);
    }
    words.into_iter()
}

fn is_field_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '@'))
}

/// A value after `name:`, bare when it means itself there, quoted (with
/// `"` and `\` escaped) otherwise: spaces, parentheses, quotes, a
/// backslash or `*` anywhere, or a leading range or comparison sign.
fn value_text(value: &str) -> String {
    let plain = !value.is_empty()
        && !value.starts_with(['[', '{', '<', '>'])
        && !value
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '(' | ')' | '"' | '\\' | '*'));
    if plain {
        return value.to_owned();
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_only_when_needed() {
        assert_eq!(
            field_clause("service", "api").as_deref(),
            Some("service:api")
        );
        assert_eq!(
            field_clause("http.status", "500").as_deref(),
            Some("http.status:500")
        );
        assert_eq!(
            field_clause("path", "/pay/now").as_deref(),
            Some("path:/pay/now")
        );
        assert_eq!(
            field_clause("url", "http://x:1").as_deref(),
            Some("url:http://x:1")
        );
        assert_eq!(field_clause("msg", "a b").as_deref(), Some("msg:\"a b\""));
        assert_eq!(
            field_clause("q", "say \"hi\"").as_deref(),
            Some("q:\"say \\\"hi\\\"\"")
        );
        assert_eq!(
            field_clause("p", "C:\\dir").as_deref(),
            Some("p:\"C:\\\\dir\"")
        );
        assert_eq!(field_clause("glob", "a*").as_deref(), Some("glob:\"a*\""));
        assert_eq!(field_clause("cmp", ">=5").as_deref(), Some("cmp:\">=5\""));
        assert_eq!(field_clause("empty", "").as_deref(), Some("empty:\"\""));
    }

    #[test]
    fn odd_field_names_are_refused() {
        assert_eq!(field_clause("has space", "x"), None);
        assert_eq!(field_clause("-neg", "x"), None);
        assert_eq!(field_clause("", "x"), None);
        assert_eq!(
            field_clause("req@32473.user", "dora").as_deref(),
            Some("req@32473.user:dora")
        );
        assert_eq!(missing_clause("level").as_deref(), Some("-level:*"));
        assert_eq!(exists_clause("trace_id").as_deref(), Some("trace_id:*"));
    }

    #[test]
    fn clauses_narrow_the_query() {
        assert_eq!(add_clause("", "service:api"), "service:api");
        assert_eq!(add_clause(" * ", "service:api"), "service:api");
        assert_eq!(add_clause("timeout", "service:api"), "timeout service:api");
        assert_eq!(add_clause("a OR b", "level:error"), "(a OR b) level:error");
        // An OR inside parentheses or quotes is not top level.
        assert_eq!(
            add_clause("service:(a OR b)", "x:1"),
            "service:(a OR b) x:1"
        );
        assert_eq!(add_clause("\"a OR b\"", "x:1"), "\"a OR b\" x:1");
        assert_eq!(add_clause("x:1 timeout", "x:1"), "x:1 timeout");
    }

    #[test]
    fn clauses_are_found_and_removed_as_whole_words() {
        assert!(has_clause("timeout service:api", "service:api"));
        assert!(!has_clause("service:apis", "service:api"));
        assert!(!has_clause("(service:api OR x)", "service:api"));
        assert!(has_clause("msg:\"a b\" c", "msg:\"a b\""));
        assert_eq!(
            remove_clause("timeout  service:api level:error", "service:api"),
            "timeout level:error"
        );
        assert_eq!(remove_clause("service:api", "service:api"), "");
    }
}
