//! Stream labels as text, the way Prometheus and Loki print a label set
//! and the way the protobuf push body carries it:
//!
//! ```text
//! {app="api", filename="/var/log/api.log", msg="say \"hi\"\n"}
//! ```
//!
//! Values are double-quoted with Go's escapes (Promtail prints them with
//! Go's `strconv.Quote`, so any of them may appear: `\"`, `\\`, `\n`,
//! `\t`, `\xHH`, `\u00e9`, octal...) or backquoted raw strings. Names are
//! identifiers, or quoted strings as Prometheus 3 writes names that are
//! not (`{"service.name"="api"}`). A trailing comma and whitespace around
//! tokens are accepted.

use crate::ParseError;

/// Parses `{name="value", ...}` into pairs sorted by name (see
/// [`super::LokiStream::labels`]). Escapes that produce invalid UTF-8
/// (`\xff`) are replaced by U+FFFD.
pub fn parse_labels(text: &str) -> Result<Vec<(String, String)>, ParseError> {
    let mut cursor = Cursor {
        bytes: text.as_bytes(),
        position: 0,
    };
    cursor.skip_spaces();
    cursor.expect(b'{', "expected `{`")?;
    let mut labels = Vec::new();
    loop {
        cursor.skip_spaces();
        if cursor.eat(b'}') {
            break;
        }
        let name = cursor.name()?;
        cursor.skip_spaces();
        cursor.expect(b'=', "expected `=` after a label name")?;
        cursor.skip_spaces();
        let value = cursor.quoted()?.ok_or(bad("expected a quoted value"))?;
        labels.push((name, value));
        cursor.skip_spaces();
        if !cursor.eat(b',') {
            cursor.expect(b'}', "expected `,` or `}`")?;
            break;
        }
    }
    cursor.skip_spaces();
    if cursor.peek().is_some() {
        return Err(bad("text after `}`"));
    }
    super::normalize_labels(labels)
}

fn bad(what: &'static str) -> ParseError {
    ParseError::BadLabels { what }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.position += 1;
        Some(byte)
    }

    fn eat(&mut self, expected: u8) -> bool {
        let found = self.peek() == Some(expected);
        if found {
            self.position += 1;
        }
        found
    }

    fn expect(&mut self, expected: u8, what: &'static str) -> Result<(), ParseError> {
        if self.eat(expected) {
            Ok(())
        } else {
            Err(bad(what))
        }
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(|byte| byte.is_ascii_whitespace()) {
            self.position += 1;
        }
    }

    /// An identifier (`[a-zA-Z_][a-zA-Z0-9_]*`) or a quoted name.
    fn name(&mut self) -> Result<String, ParseError> {
        if let Some(name) = self.quoted()? {
            return Ok(name);
        }
        let start = self.position;
        if !self
            .peek()
            .is_some_and(|byte| byte.is_ascii_alphabetic() || byte == b'_')
        {
            return Err(bad("expected a label name"));
        }
        while self
            .peek()
            .is_some_and(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
        {
            self.position += 1;
        }
        let name = self.bytes.get(start..self.position).unwrap_or_default();
        Ok(String::from_utf8_lossy(name).into_owned())
    }

    /// A `"..."` or `` `...` `` string, or `None` when neither starts here.
    fn quoted(&mut self) -> Result<Option<String>, ParseError> {
        let mut value = Vec::new();
        if self.eat(b'`') {
            // Raw: everything up to the closing backquote, no escapes.
            loop {
                match self.next() {
                    None => return Err(bad("unterminated string")),
                    Some(b'`') => break,
                    Some(byte) => value.push(byte),
                }
            }
        } else if self.eat(b'"') {
            loop {
                match self.next() {
                    None => return Err(bad("unterminated string")),
                    Some(b'"') => break,
                    Some(b'\\') => self.escape(&mut value)?,
                    Some(byte) => value.push(byte),
                }
            }
        } else {
            return Ok(None);
        }
        Ok(Some(String::from_utf8_lossy(&value).into_owned()))
    }

    /// One escape of Go's string literals, after its backslash.
    fn escape(&mut self, value: &mut Vec<u8>) -> Result<(), ParseError> {
        let byte = match self.next() {
            Some(b'a') => 0x07,
            Some(b'b') => 0x08,
            Some(b'f') => 0x0c,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'v') => 0x0b,
            Some(byte @ (b'\\' | b'"' | b'\'')) => byte,
            Some(b'x') => u8::try_from(self.digits(2, 16)?).map_err(|_| bad("bad escape"))?,
            Some(first @ b'0'..=b'7') => {
                let rest = self.digits(2, 8)?;
                let code = u32::from(first - b'0') * 64 + rest;
                u8::try_from(code).map_err(|_| bad("octal escape above \\377"))?
            }
            Some(b'u') => return self.push_char(4, value),
            Some(b'U') => return self.push_char(8, value),
            _ => return Err(bad("unknown escape")),
        };
        value.push(byte);
        Ok(())
    }

    /// `\u` and `\U`: a Unicode scalar value, encoded as UTF-8.
    fn push_char(&mut self, count: usize, value: &mut Vec<u8>) -> Result<(), ParseError> {
        let code = self.digits(count, 16)?;
        let character = char::from_u32(code).ok_or(bad("escape is not a character"))?;
        let mut buffer = [0; 4];
        value.extend_from_slice(character.encode_utf8(&mut buffer).as_bytes());
        Ok(())
    }

    /// Exactly `count` digits in `radix` (at most 8, so no overflow).
    fn digits(&mut self, count: usize, radix: u32) -> Result<u32, ParseError> {
        let mut code = 0u32;
        for _ in 0..count {
            let digit = self
                .next()
                .and_then(|byte| char::from(byte).to_digit(radix))
                .ok_or(bad("bad escape"))?;
            code = code * radix + digit;
        }
        Ok(code)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse_labels(text).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    fn owned(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn promtail_label_text() {
        assert_eq!(
            pairs(r#"{job="varlogs", filename="/var/log/syslog", host="web-1"}"#),
            owned(&[
                ("filename", "/var/log/syslog"),
                ("host", "web-1"),
                ("job", "varlogs"),
            ])
        );
    }

    #[test]
    fn spacing_trailing_commas_and_empty_sets() {
        assert_eq!(pairs("{}"), owned(&[]));
        assert_eq!(pairs("  { }  "), owned(&[]));
        assert_eq!(
            pairs("{\n\ta = \"1\" ,\n_b=\"\",}"),
            owned(&[("_b", ""), ("a", "1")])
        );
    }

    #[test]
    fn go_escapes() {
        let text = r#"{a="q\"b\\s\n\t\a\x41\101\u00e9\U0001F600\'", b=`raw \n "x"`, c="\xff"}"#;
        assert_eq!(
            pairs(text),
            owned(&[
                ("a", "q\"b\\s\n\t\x07AAé😀'"),
                ("b", "raw \\n \"x\""),
                ("c", "\u{fffd}"),
            ])
        );
    }

    #[test]
    fn quoted_names() {
        assert_eq!(
            pairs(r#"{"service.name"="api", `k8s pod`="p-1"}"#),
            owned(&[("k8s pod", "p-1"), ("service.name", "api")])
        );
    }

    #[test]
    fn malformed_label_text() {
        let cases = [
            ("", "expected `{`"),
            ("app=\"x\"", "expected `{`"),
            ("{app=\"x\"", "expected `,` or `}`"),
            ("{app=x}", "expected a quoted value"),
            ("{app!=\"x\"}", "expected `=` after a label name"),
            ("{1app=\"x\"}", "expected a label name"),
            ("{,}", "expected a label name"),
            ("{app=\"x}", "unterminated string"),
            ("{app=\"\\q\"}", "unknown escape"),
            ("{app=\"\\400\"}", "octal escape above \\377"),
            ("{app=\"\\x4\"}", "bad escape"),
            ("{app=\"\\ud800\"}", "escape is not a character"),
            ("{app=\"x\"} {}", "text after `}`"),
            ("{a=\"1\", a=\"2\"}", "label name given twice"),
            ("{\"\"=\"1\"}", "empty label name"),
        ];
        for (text, what) in cases {
            assert_eq!(parse_labels(text), Err(bad(what)), "{text}");
        }
    }
}
