//! Query-string parameters as ordered pairs: the native APIs take repeated
//! keys (`tag=a:b&tag=c:d`), which a map would lose.

use super::error::ApiError;

/// Every `key=value` pair of a raw query string, decoded, in order.
pub fn pairs(query: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// The first value of `key`.
pub fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The value of `key` read as a number: absent is `None`, anything that
/// does not parse is a 400 naming the key.
pub fn number<T: std::str::FromStr>(
    pairs: &[(String, String)],
    key: &str,
) -> Result<Option<T>, ApiError> {
    first(pairs, key)
        .map(|text| {
            text.trim()
                .parse()
                .map_err(|_| ApiError::BadRequest(format!("{key} must be a number, not {text:?}")))
        })
        .transpose()
}
