//! URL query strings, built by hand. Pure, so it is tested on the host.
//!
//! Both the API calls (`crate::api`) and the app's own links (the logs page
//! keeps its view in `/ui/logs?q=...`) need them; the browser's
//! `URLSearchParams` would do, but only in the browser.

/// `key=value` pairs joined with `&`, each side percent-encoded. Pairs
/// with an empty value are left out, so an unset parameter takes the
/// server's default and links stay short.
pub fn build(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `path?query`, or just `path` when no pair has a value.
pub fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let query = build(pairs);
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters, byte by
/// byte of the UTF-8 text. A space becomes `%20`, never `+`, which every
/// decoder reads the same way.
pub fn encode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_characters_stay() {
        assert_eq!(encode("level-2_a.b~"), "level-2_a.b~");
    }

    #[test]
    fn the_query_language_is_escaped() {
        assert_eq!(
            encode("service:api level:>=warn"),
            "service%3Aapi%20level%3A%3E%3Dwarn"
        );
        assert_eq!(encode("path:\"/a&b\""), "path%3A%22%2Fa%26b%22");
        assert_eq!(encode("+1h"), "%2B1h");
    }

    #[test]
    fn non_ascii_is_encoded_per_utf8_byte() {
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[test]
    fn empty_values_are_left_out() {
        assert_eq!(build(&[("q", ""), ("from", "-1h")]), "from=-1h");
        assert_eq!(with_query("/ui/logs", &[("q", "")]), "/ui/logs");
        assert_eq!(with_query("/ui/logs", &[("q", "a b")]), "/ui/logs?q=a%20b");
    }
}
