//! How an SDK says which project it writes to: the `X-Sentry-Auth` header
//! (server SDKs), the `sentry_key` query parameters (browser SDKs, whose
//! requests must stay CORS-simple, so they cannot set headers), and the DSN
//! string the user configures:
//!
//! ```text
//! X-Sentry-Auth: Sentry sentry_key=<public_key>, sentry_version=7, sentry_client=sentry.python/2.75.0
//! POST /api/42/envelope/?sentry_key=<public_key>&sentry_version=7
//! http://<public_key>@partout.example:9000/42
//! ```
//! The legacy `sentry_secret` is accepted and ignored: SDKs stopped sending
//! it years ago, and partout authenticates with the public key alone.

use crate::sentry::value::truncate;
use crate::sentry::SentryError;

/// Longest public key accepted; Sentry's are 32 hex digits.
const MAX_KEY_LEN: usize = 64;
/// Longest `sentry_client` kept (it is only shown and logged).
const MAX_CLIENT_CHARS: usize = 200;

/// What an SDK presented with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentryAuth {
    /// The DSN's public key: ASCII letters and digits, 1 to 64 of them.
    pub public_key: String,
    /// The protocol version (`7` for every current SDK), when numeric.
    pub version: Option<u32>,
    /// The SDK's name and version (`sentry.python/2.75.0`).
    pub client: Option<String>,
}

/// Parses an `X-Sentry-Auth` header value. The `Sentry ` prefix is
/// optional and case-insensitive, pairs are separated by commas, and
/// values may be quoted.
pub fn parse_auth_header(header: &str) -> Result<SentryAuth, SentryError> {
    let trimmed = header.trim();
    let pairs = match trimmed.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("sentry ") => trimmed.get(7..).unwrap_or(""),
        _ => trimmed,
    };
    let pairs = pairs.split(',').filter_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|inner| inner.strip_suffix('"'))
            .unwrap_or(value);
        Some((key.trim(), value.to_owned()))
    });
    auth_from_pairs(pairs)
}

/// Parses a request's query string (without the `?`) for `sentry_key`,
/// `sentry_version` and `sentry_client`; other parameters are ignored.
/// Values are percent-decoded.
pub fn parse_auth_query(query: &str) -> Result<SentryAuth, SentryError> {
    let pairs = query.split('&').filter_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        Some((key, percent_decode(value)))
    });
    auth_from_pairs(pairs)
}

fn auth_from_pairs<'a>(
    pairs: impl Iterator<Item = (&'a str, String)>,
) -> Result<SentryAuth, SentryError> {
    let mut key = None;
    let mut version = None;
    let mut client = None;
    for (name, value) in pairs {
        match name {
            "sentry_key" => key = Some(value),
            "sentry_version" => version = value.parse().ok(),
            "sentry_client" if !value.is_empty() => {
                client = Some(truncate(&value, MAX_CLIENT_CHARS));
            }
            _ => {}
        }
    }
    let key = key.ok_or(SentryError::BadAuth {
        detail: "missing sentry_key",
    })?;
    Ok(SentryAuth {
        public_key: checked_key(&key).map_err(|detail| SentryError::BadAuth { detail })?,
        version,
        client,
    })
}

/// A DSN, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    /// `true` for `https`, `false` for `http`.
    pub https: bool,
    pub public_key: String,
    /// The host as written, IPv6 literals with their brackets.
    pub host: String,
    pub port: Option<u16>,
    /// The path before the project id, without a trailing slash: empty for
    /// a server at the root, `/sentry` behind a prefix.
    pub path: String,
    pub project_id: u64,
}

/// Parses `http(s)://<public_key>[:<secret>]@<host>[:<port>][/<path>]/<project_id>`.
pub fn parse_dsn(dsn: &str) -> Result<Dsn, SentryError> {
    let bad = |detail| SentryError::BadDsn { detail };
    let dsn = dsn.trim();
    let (scheme, rest) = dsn.split_once("://").ok_or(bad("missing scheme"))?;
    let https = match scheme {
        "https" => true,
        "http" => false,
        _ => return Err(bad("scheme must be http or https")),
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (userinfo, rest) = rest.split_once('@').ok_or(bad("missing public key"))?;
    let key = userinfo.split(':').next().unwrap_or_default();
    let public_key = checked_key(key).map_err(bad)?;
    let (authority, path) = rest.split_once('/').ok_or(bad("missing project id"))?;
    let (host, port) = split_host_port(authority).ok_or(bad("invalid host or port"))?;
    let path = path.strip_suffix('/').unwrap_or(path);
    let (prefix, project) = match path.rsplit_once('/') {
        Some((prefix, project)) => (format!("/{prefix}"), project),
        None => (String::new(), path),
    };
    if project.is_empty() {
        return Err(bad("missing project id"));
    }
    let project_id = project
        .parse()
        .map_err(|_| bad("project id is not a number"))?;
    Ok(Dsn {
        https,
        public_key,
        host: host.to_owned(),
        port,
        path: prefix,
        project_id,
    })
}

/// `host[:port]` or `[v6]:port`; `None` when the host is empty or has
/// characters no host has, or the port is not a number.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, after) = authority.split_at(end + 1);
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '[' | ']' | ':'));
    if !host_ok {
        return None;
    }
    let port = match port {
        None => None,
        Some(port) => Some(port.parse().ok()?),
    };
    Some((host, port))
}

fn checked_key(key: &str) -> Result<String, &'static str> {
    if key.is_empty() {
        return Err("missing public key");
    }
    if key.len() > MAX_KEY_LEN || !key.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
        return Err("public key must be 1 to 64 ASCII letters or digits");
    }
    Ok(key.to_owned())
}

/// `%XX` escapes and `+` as space, as in form-encoded query strings; a
/// malformed escape is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        let escaped = match (byte, bytes.get(at + 1), bytes.get(at + 2)) {
            (b'%', Some(&high), Some(&low)) => hex_value(high).zip(hex_value(low)),
            _ => None,
        };
        match (byte, escaped) {
            (_, Some((high, low))) => {
                out.push(high << 4 | low);
                at += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                at += 1;
            }
            _ => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn python_sdk_header() {
        let auth = parse_auth_header(&format!(
            "Sentry sentry_key={KEY}, sentry_version=7, sentry_client=sentry.python/2.75.0"
        ))
        .unwrap();
        assert_eq!(
            auth,
            SentryAuth {
                public_key: KEY.to_owned(),
                version: Some(7),
                client: Some("sentry.python/2.75.0".to_owned()),
            }
        );
    }

    #[test]
    fn header_variants() {
        let legacy = parse_auth_header(&format!(
            "sentry sentry_version=5,sentry_timestamp=1,sentry_key=\"{KEY}\",sentry_secret=s"
        ))
        .unwrap();
        assert_eq!((legacy.public_key.as_str(), legacy.version), (KEY, Some(5)));
        let bare = parse_auth_header(&format!("sentry_key={KEY}")).unwrap();
        assert_eq!((bare.version, bare.client), (None, None));
    }

    #[test]
    fn bad_headers_say_why() {
        for (header, detail) in [
            ("Sentry sentry_version=7", "missing sentry_key"),
            ("", "missing sentry_key"),
            ("Sentry sentry_key=", "missing public key"),
            (
                "Sentry sentry_key=ab/cd",
                "public key must be 1 to 64 ASCII letters or digits",
            ),
        ] {
            let error = parse_auth_header(header).unwrap_err();
            assert_eq!(error, SentryError::BadAuth { detail }, "{header}");
            assert_eq!(error.reason(), "bad_auth");
        }
    }

    #[test]
    fn browser_query_auth() {
        let auth = parse_auth_query(&format!(
            "sentry_version=7&sentry_key={KEY}&sentry_client=sentry.javascript.browser%2F8.0.0"
        ))
        .unwrap();
        assert_eq!(auth.public_key, KEY);
        assert_eq!(
            auth.client.as_deref(),
            Some("sentry.javascript.browser/8.0.0")
        );
        assert!(parse_auth_query("a=b").is_err());
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn dsns() {
        let dsn = parse_dsn(&format!("http://{KEY}@127.0.0.1:9000/42")).unwrap();
        assert_eq!(
            dsn,
            Dsn {
                https: false,
                public_key: KEY.to_owned(),
                host: "127.0.0.1".to_owned(),
                port: Some(9000),
                path: String::new(),
                project_id: 42,
            }
        );
        let dsn = parse_dsn(&format!(
            "https://{KEY}:secret@errors.example.com/sentry/7/"
        ))
        .unwrap();
        assert_eq!(
            (
                dsn.https,
                dsn.host.as_str(),
                dsn.port,
                dsn.path.as_str(),
                dsn.project_id
            ),
            (true, "errors.example.com", None, "/sentry", 7)
        );
        let dsn = parse_dsn(&format!("http://{KEY}@[::1]:8080/1")).unwrap();
        assert_eq!((dsn.host.as_str(), dsn.port), ("[::1]", Some(8080)));
    }

    #[test]
    fn bad_dsns_say_why() {
        for (dsn, detail) in [
            ("127.0.0.1/42", "missing scheme"),
            ("ftp://k@h/1", "scheme must be http or https"),
            ("http://h/1", "missing public key"),
            ("http://@h/1", "missing public key"),
            ("http://k@h", "missing project id"),
            ("http://k@h/", "missing project id"),
            ("http://k@h/abc", "project id is not a number"),
            ("http://k@h:x/1", "invalid host or port"),
            ("http://k@:80/1", "invalid host or port"),
            ("http://k@h h/1", "invalid host or port"),
        ] {
            assert_eq!(parse_dsn(dsn), Err(SentryError::BadDsn { detail }), "{dsn}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,80}") {
            if let Ok(auth) = parse_auth_header(&text) {
                proptest::prop_assert!(!auth.public_key.is_empty());
            }
            let _ = parse_auth_query(&text);
            if let Ok(dsn) = parse_dsn(&text) {
                proptest::prop_assert!(!dsn.host.is_empty());
            }
        }
    }
}
