//! BSD syslog (RFC 3164) as senders really write it:
//!
//! ```text
//! [<PRI>][TIMESTAMP SP][HOSTNAME SP][TAG[[PID]]: ]MSG
//! ```
//!
//! RFC 3164 only describes what it observed, and senders leave out
//! whatever they like, so each part is recognized by its shape:
//! - TIMESTAMP is `Mmm dd hh:mm:ss` (see [`super::bsd_timestamp`]) or an
//!   RFC 3339 timestamp, as rsyslog's high-precision format sends.
//! - TAG is `name[pid]:`, `name[pid]` or `name:` in one token.
//! - HOSTNAME is a host-like token followed by a TAG, or any host-like
//!   token right after PRI and TIMESTAMP, where the RFC puts it. Without
//!   either, a lone first word is more likely the message's (`<13>disk
//!   full` from Python's `SysLogHandler`, `2026-11-22T11:18:20Z INFO
//!   started` from a plain log file), so it is not taken for a hostname.
//!
//! A frame with neither PRI nor timestamp is not syslog: its whole text is
//! the message.

use super::{
    bsd_timestamp, message_text, printable_ascii, skip_spaces, split_token, Facility, Pri,
    SyslogFlags, SyslogFormat, SyslogMessage, DEFAULT_SEVERITY,
};
use crate::timestamp::parse_rfc3339;

/// Longest TAG name accepted. RFC 3164 says 32; systemd unit names and Java
/// loggers run longer, and a cap still keeps an ordinary long word ending
/// in `:` from being taken for a tag.
const MAX_TAG_LEN: usize = 64;

/// RFC 1035's limit on a host name.
const MAX_HOSTNAME_LEN: usize = 255;

/// `text` is the frame after its PRI (or the whole frame when it has none).
pub(super) fn parse(pri: Option<Pri>, text: &[u8], now_unix_nanos: i64) -> SyslogMessage<'_> {
    let mut flags = SyslogFlags {
        missing_pri: pri.is_none(),
        ..SyslogFlags::default()
    };
    let (facility, severity) = match pri {
        Some(pri) => (pri.facility, pri.severity),
        None => (Facility::USER, DEFAULT_SEVERITY),
    };
    // Some senders put a space after the PRI.
    let header = skip_spaces(text);
    let (timestamp_unix_nanos, after_timestamp) = match read_timestamp(header, now_unix_nanos) {
        Some((unix_nanos, rest)) => (Some(unix_nanos), skip_spaces(rest)),
        None => (None, header),
    };
    let format = if pri.is_none() && timestamp_unix_nanos.is_none() {
        SyslogFormat::Unrecognized
    } else {
        SyslogFormat::Rfc3164
    };
    let origin = match format {
        SyslogFormat::Unrecognized => Origin {
            message: text,
            ..Origin::default()
        },
        _ => read_origin(
            after_timestamp,
            pri.is_some() && timestamp_unix_nanos.is_some(),
        ),
    };
    let message = message_text(origin.message, &mut flags);
    SyslogMessage {
        format,
        facility,
        severity,
        version: None,
        timestamp_unix_nanos,
        hostname: origin.hostname,
        app_name: origin.app_name,
        proc_id: origin.proc_id,
        msg_id: None,
        structured_data: Vec::new(),
        message,
        flags,
    }
}

/// A BSD or RFC 3339 timestamp at the start of `text`, and what follows.
fn read_timestamp(text: &[u8], now_unix_nanos: i64) -> Option<(i64, &[u8])> {
    if let Some(found) = bsd_timestamp::parse(text, now_unix_nanos) {
        return Some(found);
    }
    let (token, rest) = split_token(text);
    Some((parse_rfc3339(token)?, rest))
}

/// Who sent the message, and the message itself.
#[derive(Debug, Default)]
struct Origin<'a> {
    hostname: Option<&'a str>,
    app_name: Option<&'a str>,
    proc_id: Option<&'a str>,
    message: &'a [u8],
}

/// `full_header` says the message had both PRI and TIMESTAMP, so a
/// hostname may stand without a tag after it.
fn read_origin(text: &[u8], full_header: bool) -> Origin<'_> {
    let (first, after_first) = split_token(text);
    if let Some(tag) = parse_tag(first) {
        return Origin {
            app_name: Some(tag.name),
            proc_id: tag.pid,
            message: after_first,
            ..Origin::default()
        };
    }
    let Some(hostname) = hostname_like(first) else {
        return Origin {
            message: text,
            ..Origin::default()
        };
    };
    let (second, after_second) = split_token(skip_spaces(after_first));
    match parse_tag(second) {
        Some(tag) => Origin {
            hostname: Some(hostname),
            app_name: Some(tag.name),
            proc_id: tag.pid,
            message: after_second,
        },
        None if full_header => Origin {
            hostname: Some(hostname),
            message: after_first,
            ..Origin::default()
        },
        None => Origin {
            message: text,
            ..Origin::default()
        },
    }
}

struct Tag<'a> {
    name: &'a str,
    pid: Option<&'a str>,
}

/// `name[pid]:`, `name[pid]` or `name:` as one whole token.
fn parse_tag(token: &[u8]) -> Option<Tag<'_>> {
    let token = printable_ascii(token)?;
    let tag = match token.split_once('[') {
        Some((name, bracketed)) => {
            let (pid, after) = bracketed.split_once(']')?;
            if !matches!(after, "" | ":") || pid.is_empty() || pid.contains('[') {
                return None;
            }
            Tag {
                name,
                pid: Some(pid),
            }
        }
        None => Tag {
            name: token.strip_suffix(':')?,
            pid: None,
        },
    };
    let valid_name =
        !tag.name.is_empty() && tag.name.len() <= MAX_TAG_LEN && !tag.name.contains([':', ']']);
    valid_name.then_some(tag)
}

/// A token made of what host names and addresses are made of (letters,
/// digits, `.`, `-`, `_`, and `:` for IPv6).
fn hostname_like(token: &[u8]) -> Option<&str> {
    let looks_like_host = token.len() <= MAX_HOSTNAME_LEN
        && token
            .iter()
            .all(|&byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_' | b':'));
    if looks_like_host {
        printable_ascii(token)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse_message, Severity};
    use super::*;
    use crate::timestamp::parse_rfc3339;

    fn now() -> i64 {
        parse_rfc3339(b"2026-11-22T12:00:00Z").unwrap()
    }

    fn parse(text: &str) -> SyslogMessage<'_> {
        parse_message(text.as_bytes(), now())
    }

    /// (hostname, app_name, proc_id, message) of a parsed line.
    fn origin(text: &str) -> (Option<&str>, Option<&str>, Option<&str>, String) {
        let message = parse(text);
        (
            message.hostname,
            message.app_name,
            message.proc_id,
            message.message.into_owned(),
        )
    }

    #[test]
    fn classic_line() {
        let message =
            parse("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8");
        assert_eq!(message.format, SyslogFormat::Rfc3164);
        assert_eq!(
            (message.facility.code(), message.severity),
            (4, Severity::Critical)
        );
        assert_eq!(
            message.timestamp_unix_nanos,
            parse_rfc3339(b"2026-10-11T22:14:15Z")
        );
        assert_eq!(message.hostname, Some("mymachine"));
        assert_eq!(message.app_name, Some("su"));
        assert_eq!(message.proc_id, None);
        assert_eq!(
            message.message,
            "'su root' failed for lonvick on /dev/pts/8"
        );
        assert_eq!(message.version, None);
    }

    #[test]
    fn tag_shapes() {
        let cases = [
            (
                "<13>Nov  2 11:18:20 vm sshd[42]: hi",
                (Some("vm"), Some("sshd"), Some("42"), "hi"),
            ),
            (
                "<13>Nov  2 11:18:20 vm sshd[42] hi",
                (Some("vm"), Some("sshd"), Some("42"), "hi"),
            ),
            (
                "<13>Nov  2 11:18:20 vm postfix/smtpd[7]:  two",
                (Some("vm"), Some("postfix/smtpd"), Some("7"), " two"),
            ),
            (
                "<13>Nov  2 11:18:20 vm kernel: oops",
                (Some("vm"), Some("kernel"), None, "oops"),
            ),
            (
                "<13>Nov  2 11:18:20 vm hello world",
                (Some("vm"), None, None, "hello world"),
            ),
            (
                "<13>Nov  2 11:18:20 cron[1]: no host",
                (None, Some("cron"), Some("1"), "no host"),
            ),
            (
                "<13>Nov  2 11:18:20 vm  sshd[42]: two spaces",
                (Some("vm"), Some("sshd"), Some("42"), "two spaces"),
            ),
            (
                "<13>Nov  2 11:18:20 vm sshd[]: x",
                (Some("vm"), None, None, "sshd[]: x"),
            ),
        ];
        for (text, (hostname, app_name, proc_id, message)) in cases {
            assert_eq!(
                origin(text),
                (hostname, app_name, proc_id, message.to_owned()),
                "{text}"
            );
        }
    }

    #[test]
    fn without_timestamp() {
        assert_eq!(
            origin("<13>app[9]: started"),
            (None, Some("app"), Some("9"), "started".to_owned())
        );
        assert_eq!(
            origin("<13>web1 app: started"),
            (Some("web1"), Some("app"), None, "started".to_owned())
        );
        // Without a timestamp the first word is a hostname only before a tag.
        assert_eq!(
            origin("<13>disk almost full"),
            (None, None, None, "disk almost full".to_owned())
        );
        assert_eq!(parse("<13>disk almost full").timestamp_unix_nanos, None);
    }

    #[test]
    fn iso_timestamps() {
        let message = parse("<13>2026-11-22T11:18:20.5+01:00 vm app[3]: x");
        assert_eq!(
            message.timestamp_unix_nanos,
            parse_rfc3339(b"2026-11-22T10:18:20.5Z")
        );
        assert_eq!(message.hostname, Some("vm"));
        assert_eq!(message.format, SyslogFormat::Rfc3164);
    }

    #[test]
    fn missing_pri_defaults_to_user_notice() {
        let message = parse("Nov 22 11:18:20 vm app: x");
        assert_eq!(message.format, SyslogFormat::Rfc3164);
        assert!(message.flags.missing_pri);
        assert_eq!(message.facility, Facility::USER);
        assert_eq!(message.severity, Severity::Notice);
        assert_eq!(message.app_name, Some("app"));
        // Without PRI, a lone first word stays in the message.
        let plain = parse("2026-11-22T11:18:20Z INFO server started");
        assert_eq!(plain.format, SyslogFormat::Rfc3164);
        assert_eq!(plain.hostname, None);
        assert_eq!(plain.message, "INFO server started");
    }

    #[test]
    fn not_syslog_is_kept_whole() {
        for text in ["GET /index.html 200", "<999>x y", "  indented: text", ""] {
            let message = parse(text);
            assert_eq!(message.format, SyslogFormat::Unrecognized, "{text}");
            assert!(message.flags.missing_pri);
            assert_eq!(message.message, text);
            assert_eq!((message.hostname, message.app_name), (None, None));
        }
    }

    #[test]
    fn space_after_pri_and_empty_body() {
        assert_eq!(parse("<13> Nov 22 11:18:20 vm a: b").app_name, Some("a"));
        let empty = parse("<13>");
        assert_eq!(
            (empty.format, empty.message.as_ref()),
            (SyslogFormat::Rfc3164, "")
        );
    }
}
