//! The RFC 5424 grammar:
//!
//! ```text
//! <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]
//! ```
//!
//! A frame is taken as RFC 5424 only when a version and a valid timestamp
//! (or `-`) follow the PRI, so `<13>1 apple fell` stays BSD syslog. Past
//! that point the rest is read leniently: a missing field is `None`, and
//! structured data that does not parse stays in the message with a flag.

use std::borrow::Cow;

use super::{
    message_text, printable_ascii, split_token, Pri, SdElement, SdParam, SyslogFlags, SyslogFormat,
    SyslogMessage,
};
use crate::timestamp::parse_rfc3339;

/// `text` is what follows the PRI; `None` when it is not RFC 5424.
pub(super) fn parse(pri: Pri, text: &[u8]) -> Option<SyslogMessage<'_>> {
    let (version_token, rest) = split_token(text);
    let version = parse_version(version_token)?;
    let (timestamp_token, rest) = split_token(rest);
    let timestamp_unix_nanos = match timestamp_token {
        b"-" => None,
        token => Some(parse_rfc3339(token)?),
    };
    let (hostname, rest) = header_field(rest)?;
    let (app_name, rest) = header_field(rest)?;
    let (proc_id, rest) = header_field(rest)?;
    let (msg_id, rest) = header_field(rest)?;

    let mut flags = SyslogFlags::default();
    let (structured_data, message_bytes) = match rest.first() {
        None => (Vec::new(), rest),
        Some(b'-') if matches!(rest.get(1), None | Some(b' ')) => {
            (Vec::new(), rest.get(2..).unwrap_or_default())
        }
        Some(b'[') => match parse_structured_data(rest, &mut flags) {
            Some(parsed) => parsed,
            None => {
                flags.malformed_structured_data = true;
                (Vec::new(), rest)
            }
        },
        // Some senders leave STRUCTURED-DATA out and start the message
        // right after MSGID.
        Some(_) => {
            flags.malformed_structured_data = true;
            (Vec::new(), rest)
        }
    };
    let message = message_text(message_bytes, &mut flags);
    Some(SyslogMessage {
        format: SyslogFormat::Rfc5424,
        facility: pri.facility,
        severity: pri.severity,
        version: Some(version),
        timestamp_unix_nanos,
        hostname,
        app_name,
        proc_id,
        msg_id,
        structured_data,
        message,
        flags,
    })
}

/// `NONZERO-DIGIT 0*2DIGIT`.
fn parse_version(token: &[u8]) -> Option<u16> {
    let valid = matches!(token.len(), 1..=3)
        && token.iter().all(u8::is_ascii_digit)
        && token.first() != Some(&b'0');
    if !valid {
        return None;
    }
    Some(
        token
            .iter()
            .fold(0u16, |value, &digit| value * 10 + u16::from(digit - b'0')),
    )
}

/// One header field: `Some(None)` for `-` or a field cut off by the end of
/// the frame, `None` (not RFC 5424 after all) for bytes that are not
/// printable ASCII.
fn header_field(text: &[u8]) -> Option<(Option<&str>, &[u8])> {
    let (token, rest) = split_token(text);
    match token {
        b"" | b"-" => Some((None, rest)),
        _ => Some((Some(printable_ascii(token)?), rest)),
    }
}

/// One or more SD-ELEMENTs and the message after them, or `None` when
/// they are malformed.
fn parse_structured_data<'a>(
    mut text: &'a [u8],
    flags: &mut SyslogFlags,
) -> Option<(Vec<SdElement<'a>>, &'a [u8])> {
    let mut elements = Vec::new();
    while text.first() == Some(&b'[') {
        let (element, rest) = parse_element(text, flags)?;
        elements.push(element);
        text = rest;
    }
    // The SP before MSG; a sender that omits it still has a message.
    Some((elements, text.strip_prefix(b" ").unwrap_or(text)))
}

/// `[SD-ID *(SP PARAM-NAME="PARAM-VALUE")]`.
fn parse_element<'a>(text: &'a [u8], flags: &mut SyslogFlags) -> Option<(SdElement<'a>, &'a [u8])> {
    let (id, mut rest) = sd_name(text.strip_prefix(b"[")?)?;
    let mut params = Vec::new();
    loop {
        match rest.first()? {
            b']' => return Some((SdElement { id, params }, rest.get(1..)?)),
            b' ' => {
                let (name, after_name) = sd_name(rest.get(1..)?)?;
                let (value, after_value) = param_value(after_name.strip_prefix(b"=\"")?, flags)?;
                params.push(SdParam { name, value });
                rest = after_value;
            }
            _ => return None,
        }
    }
}

/// SD-NAME: printable ASCII except `=`, space, `]` and `"`. RFC 5424 caps
/// it at 32 characters; longer names are kept, since refusing them would
/// only move their bytes into the message.
fn sd_name(text: &[u8]) -> Option<(&str, &[u8])> {
    let end = text
        .iter()
        .position(|&byte| !byte.is_ascii_graphic() || matches!(byte, b'=' | b']' | b'"'))
        .unwrap_or(text.len());
    let name = printable_ascii(text.get(..end)?)?;
    Some((name, text.get(end..)?))
}

/// A PARAM-VALUE up to its closing quote, and what follows the quote.
/// Only `\"`, `\\` and `\]` are escapes; any other backslash is itself.
fn param_value<'a>(text: &'a [u8], flags: &mut SyslogFlags) -> Option<(Cow<'a, str>, &'a [u8])> {
    let mut end = 0;
    let mut has_escape = false;
    loop {
        match text.get(end)? {
            b'"' => break,
            b'\\' if matches!(text.get(end + 1), Some(b'"' | b'\\' | b']')) => {
                has_escape = true;
                end += 2;
            }
            _ => end += 1,
        }
    }
    let raw = text.get(..end)?;
    let rest = text.get(end + 1..)?;
    let value = if has_escape {
        let mut unescaped = Vec::with_capacity(raw.len());
        let mut bytes = raw.iter().copied().peekable();
        while let Some(byte) = bytes.next() {
            if byte == b'\\' {
                if let Some(escaped) = bytes.next_if(|next| matches!(next, b'"' | b'\\' | b']')) {
                    unescaped.push(escaped);
                    continue;
                }
            }
            unescaped.push(byte);
        }
        match String::from_utf8(unescaped) {
            Ok(text) => Cow::Owned(text),
            Err(error) => {
                flags.invalid_utf8 = true;
                Cow::Owned(String::from_utf8_lossy(error.as_bytes()).into_owned())
            }
        }
    } else {
        let text = crate::text::lossy(raw);
        if matches!(text, Cow::Owned(_)) {
            flags.invalid_utf8 = true;
        }
        text
    };
    Some((value, rest))
}

#[cfg(test)]
mod tests {
    use super::super::{parse_message, Severity, SyslogFormat};
    use super::*;

    fn parse(text: &str) -> SyslogMessage<'_> {
        parse_message(text.as_bytes(), 0)
    }

    #[test]
    fn full_header_with_structured_data() {
        let message = parse(
            r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] An application event"#,
        );
        assert_eq!(message.format, SyslogFormat::Rfc5424);
        assert_eq!(
            (message.facility.code(), message.severity),
            (20, Severity::Notice)
        );
        assert_eq!(message.version, Some(1));
        assert_eq!(
            message.timestamp_unix_nanos,
            Some(1_065_910_455_003_000_000)
        );
        assert_eq!(message.hostname, Some("mymachine.example.com"));
        assert_eq!(message.app_name, Some("evntslog"));
        assert_eq!(message.proc_id, None);
        assert_eq!(message.msg_id, Some("ID47"));
        let ids: Vec<_> = message.structured_data.iter().map(|e| e.id).collect();
        assert_eq!(ids, ["exampleSDID@32473", "examplePriority@32473"]);
        let first = &message.structured_data[0].params;
        assert_eq!(
            (first[1].name, first[1].value.as_ref()),
            ("eventSource", "Application")
        );
        assert_eq!(message.message, "An application event");
        assert_eq!(message.flags, SyslogFlags::default());
    }

    #[test]
    fn offsets_are_applied() {
        let message = parse("<34>1 2003-08-24T05:14:15.000003-07:00 host su - - - hi");
        assert_eq!(
            message.timestamp_unix_nanos,
            Some(1_061_727_255_000_003_000)
        );
    }

    #[test]
    fn escapes_are_unescaped_and_other_backslashes_kept() {
        let message = parse(r#"<13>1 - - - - - [x a="q\"b\\c\]d\e" b=""]"#);
        let params = &message.structured_data[0].params;
        assert_eq!(params[0].value, r#"q"b\c]d\e"#);
        assert_eq!(params[1].value, "");
        assert!(matches!(params[1].value, Cow::Borrowed(_)));
        assert_eq!(message.message, "");
    }

    #[test]
    fn nil_everything_and_a_bom_message() {
        let message = parse("<13>1 - - - - - - \u{feff}héllo");
        assert_eq!(message.timestamp_unix_nanos, None);
        assert_eq!(message.hostname, None);
        assert!(message.structured_data.is_empty());
        assert_eq!(message.message, "héllo");
    }

    #[test]
    fn truncated_header_leaves_fields_empty() {
        let message = parse("<13>1 2003-10-11T22:14:15Z host");
        assert_eq!(message.format, SyslogFormat::Rfc5424);
        assert_eq!(message.hostname, Some("host"));
        assert_eq!(message.app_name, None);
        assert_eq!(message.message, "");
    }

    #[test]
    fn malformed_structured_data_stays_in_the_message() {
        for text in [
            r#"<13>1 - h a - - [x a="unterminated] msg"#,
            r#"<13>1 - h a - - [x a=unquoted] msg"#,
            r#"<13>1 - h a - - [] msg"#,
            r#"<13>1 - h a - - no structured data"#,
        ] {
            let message = parse(text);
            assert_eq!(message.format, SyslogFormat::Rfc5424, "{text}");
            assert!(message.flags.malformed_structured_data, "{text}");
            assert!(message.structured_data.is_empty());
            assert_eq!(message.message, text["<13>1 - h a - - ".len()..]);
        }
    }

    #[test]
    fn invalid_utf8_is_replaced_and_flagged() {
        let message = parse_message(b"<13>1 - - - - - [x a=\"\xff\"] caf\xe9", 0);
        assert_eq!(message.structured_data[0].params[0].value, "\u{fffd}");
        assert_eq!(message.message, "caf\u{fffd}");
        assert!(message.flags.invalid_utf8);
    }

    #[test]
    fn not_rfc5424_falls_back() {
        for text in [
            "<13>1 apple fell",
            "<13>01 - - - - - -",
            "<13>1 - h\u{e9}st - - - -",
        ] {
            assert_eq!(parse(text).format, SyslogFormat::Rfc3164, "{text}");
        }
    }
}
