//! One syslog message, already framed (see [`crate::framing`]), into a
//! [`SyslogMessage`] borrowing from the frame.
//!
//! ```text
//! RFC 5424: <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID k="v"...] MSG
//!           <165>1 2026-11-22T11:18:20.98Z web1 nginx 4242 ACCESS [meta seq="7"] GET /
//! RFC 3164: <PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG
//!           <13>Nov  2 11:18:20 web1 cron[99]: job done
//! ```
//!
//! Parsing never fails: Partout never drops a line, so input that is not
//! syslog at all still yields a message (the whole frame, with
//! [`SyslogFormat::Unrecognized`]). The RFC 3164 side takes what real
//! senders emit: no PRI (default `user.notice`, as RFC 3164 section 4.3.3
//! says a relay must assume), ISO 8601 instead of BSD timestamps, no
//! timestamp, no hostname, `tag[pid]:` or `tag:`, single-digit days padded
//! with a second space, trailing NULs and newlines.
//!
//! Specs: <https://www.rfc-editor.org/rfc/rfc5424>,
//! <https://www.rfc-editor.org/rfc/rfc3164>.

mod bsd_timestamp;
mod rfc3164;
mod rfc5424;

use std::borrow::Cow;

/// Which grammar a message was read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyslogFormat {
    /// `<PRI>1 ...` with a valid RFC 5424 header.
    Rfc5424,
    /// BSD syslog, including its common deviations.
    Rfc3164,
    /// Neither a PRI nor a timestamp: not syslog. The whole frame is the
    /// message and facility/severity are the RFC 3164 default `user.notice`.
    Unrecognized,
}

/// RFC 5424 severity, the low three bits of PRI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Emergency = 0,
    Alert = 1,
    Critical = 2,
    Error = 3,
    Warning = 4,
    Notice = 5,
    Informational = 6,
    Debug = 7,
}

impl Severity {
    /// The severity of a code's low three bits, so every `u8` maps.
    pub fn from_code(code: u8) -> Severity {
        match code & 7 {
            0 => Severity::Emergency,
            1 => Severity::Alert,
            2 => Severity::Critical,
            3 => Severity::Error,
            4 => Severity::Warning,
            5 => Severity::Notice,
            6 => Severity::Informational,
            _ => Severity::Debug,
        }
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    /// The keyword syslog daemons print (`err`, `warning`, ...).
    pub fn keyword(self) -> &'static str {
        match self {
            Severity::Emergency => "emerg",
            Severity::Alert => "alert",
            Severity::Critical => "crit",
            Severity::Error => "err",
            Severity::Warning => "warning",
            Severity::Notice => "notice",
            Severity::Informational => "info",
            Severity::Debug => "debug",
        }
    }
}

/// RFC 5424 facility, PRI divided by 8.
///
/// Invariant: the code is at most 23, the highest facility defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Facility(u8);

impl Facility {
    /// `user`, the default for a message without PRI.
    pub const USER: Facility = Facility(1);

    /// The facility of a code, if it is one (0 to 23).
    pub fn from_code(code: u8) -> Option<Facility> {
        (code <= 23).then_some(Facility(code))
    }

    pub fn code(self) -> u8 {
        self.0
    }

    /// The keyword syslog daemons use (`daemon`, `local3`, ...).
    pub fn keyword(self) -> &'static str {
        const KEYWORDS: [&str; 24] = [
            "kern",
            "user",
            "mail",
            "daemon",
            "auth",
            "syslog",
            "lpr",
            "news",
            "uucp",
            "cron",
            "authpriv",
            "ftp",
            "ntp",
            "security",
            "console",
            "solaris-cron",
            "local0",
            "local1",
            "local2",
            "local3",
            "local4",
            "local5",
            "local6",
            "local7",
        ];
        KEYWORDS.get(usize::from(self.0)).copied().unwrap_or("user")
    }
}

/// One RFC 5424 SD-ELEMENT: `[id name="value" ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdElement<'a> {
    /// SD-ID, such as `timeQuality` or `origin@32473`.
    pub id: &'a str,
    /// Parameters in the order sent; names may repeat, as the RFC allows.
    pub params: Vec<SdParam<'a>>,
}

/// One SD-PARAM: `name="value"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdParam<'a> {
    pub name: &'a str,
    /// The value with `\"`, `\\` and `\]` unescaped; owned only when it
    /// held an escape or invalid UTF-8.
    pub value: Cow<'a, str>,
}

/// What was odd about a message, for counters and for display; none of
/// these lose data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyslogFlags {
    /// No valid `<PRI>`: facility and severity are the default
    /// `user.notice`, and the frame's first bytes are kept.
    pub missing_pri: bool,
    /// The message or an SD value held bytes that are not UTF-8; they were
    /// replaced by U+FFFD.
    pub invalid_utf8: bool,
    /// RFC 5424 structured data that did not parse: it is left at the
    /// start of the message, and [`SyslogMessage::structured_data`] is
    /// empty.
    pub malformed_structured_data: bool,
}

/// One syslog message. Header fields borrow from the frame; RFC 5424's
/// NILVALUE `-` and absent RFC 3164 fields are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogMessage<'a> {
    pub format: SyslogFormat,
    pub facility: Facility,
    pub severity: Severity,
    /// The RFC 5424 VERSION (1 today); `None` for other formats.
    pub version: Option<u16>,
    /// When the sender says the event happened, as Unix nanoseconds (UTC)
    /// with the sender's offset applied. `None` when the message has none,
    /// and callers use the arrival time. RFC 3164 timestamps carry neither
    /// year nor zone: the year is inferred from the caller's `now` and the
    /// zone is taken as UTC. Not checked for plausibility: which window to
    /// trust is the caller's policy.
    pub timestamp_unix_nanos: Option<i64>,
    pub hostname: Option<&'a str>,
    /// RFC 5424 APP-NAME, or the RFC 3164 TAG without `[pid]:`.
    pub app_name: Option<&'a str>,
    /// RFC 5424 PROCID, or the pid in an RFC 3164 `tag[pid]:`.
    pub proc_id: Option<&'a str>,
    /// RFC 5424 MSGID.
    pub msg_id: Option<&'a str>,
    pub structured_data: Vec<SdElement<'a>>,
    /// The free-form text, without a leading UTF-8 BOM or trailing NULs
    /// and line ends; owned only when invalid UTF-8 had to be replaced.
    pub message: Cow<'a, str>,
    pub flags: SyslogFlags,
}

/// The PRI a message without one is given: `user.notice` (RFC 3164, 4.3.3).
const DEFAULT_SEVERITY: Severity = Severity::Notice;

/// The highest valid PRI: facility 23, severity 7.
const MAX_PRI: u16 = 191;

/// Parses one frame. `now_unix_nanos` is the caller's clock reading, used
/// only to infer the year of RFC 3164 timestamps, which have none.
pub fn parse_message(frame: &[u8], now_unix_nanos: i64) -> SyslogMessage<'_> {
    let frame = trim_trailer(frame);
    let (pri, after_pri) = match parse_pri(frame) {
        Some((pri, rest)) => (Some(pri), rest),
        None => (None, frame),
    };
    if let Some(pri) = pri {
        if let Some(message) = rfc5424::parse(pri, after_pri) {
            return message;
        }
    }
    rfc3164::parse(pri, after_pri, now_unix_nanos)
}

/// Facility and severity of a valid PRI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pri {
    facility: Facility,
    severity: Severity,
}

/// `<N>` with N from 0 to 191, and what follows it. Leading zeros are
/// tolerated (`<013>`), though RFC 5424 forbids them: they lose nothing.
fn parse_pri(frame: &[u8]) -> Option<(Pri, &[u8])> {
    let rest = frame.strip_prefix(b"<")?;
    let close = rest.iter().take(4).position(|&byte| byte == b'>')?;
    let digits = rest.get(..close)?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits
        .iter()
        .fold(0u16, |value, &digit| value * 10 + u16::from(digit - b'0'));
    if value > MAX_PRI {
        return None;
    }
    let code = u8::try_from(value).ok()?;
    let pri = Pri {
        facility: Facility::from_code(code / 8)?,
        severity: Severity::from_code(code % 8),
    };
    Some((pri, rest.get(close + 1..)?))
}

/// Drops what senders append after the message: NULs (Python's
/// `SysLogHandler`), `\n` and `\r\n` (line-framed UDP senders).
fn trim_trailer(frame: &[u8]) -> &[u8] {
    let kept = frame
        .iter()
        .rposition(|&byte| !matches!(byte, b'\0' | b'\n' | b'\r'))
        .map_or(0, |last| last + 1);
    frame.get(..kept).unwrap_or_default()
}

/// The message text: without a UTF-8 BOM (RFC 5424 MSG-UTF8 starts with
/// one), invalid UTF-8 replaced and reported in `flags`.
fn message_text<'a>(bytes: &'a [u8], flags: &mut SyslogFlags) -> Cow<'a, str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = crate::text::lossy(bytes);
    if matches!(text, Cow::Owned(_)) {
        flags.invalid_utf8 = true;
    }
    text
}

/// Splits at the first space: `(token, rest after the space)`, the rest
/// empty when there is no space.
fn split_token(text: &[u8]) -> (&[u8], &[u8]) {
    match text.iter().position(|&byte| byte == b' ') {
        Some(space) => (
            text.get(..space).unwrap_or_default(),
            text.get(space + 1..).unwrap_or_default(),
        ),
        None => (text, &[]),
    }
}

fn skip_spaces(text: &[u8]) -> &[u8] {
    let start = text
        .iter()
        .position(|&byte| byte != b' ')
        .unwrap_or(text.len());
    text.get(start..).unwrap_or_default()
}

/// A header token as text, if it is printable US-ASCII as RFC 5424 wants
/// header fields (`PRINTUSASCII`, bytes 33 to 126).
fn printable_ascii(token: &[u8]) -> Option<&str> {
    if token.is_empty() || !token.iter().all(u8::is_ascii_graphic) {
        return None;
    }
    std::str::from_utf8(token).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pri_bounds_and_shapes() {
        let pri = |text: &[u8]| parse_pri(text).map(|(pri, _)| (pri.facility.code(), pri.severity));
        assert_eq!(pri(b"<0>x"), Some((0, Severity::Emergency)));
        assert_eq!(pri(b"<191>x"), Some((23, Severity::Debug)));
        assert_eq!(pri(b"<013>x"), Some((1, Severity::Notice)));
        assert_eq!(pri(b"<192>x"), None);
        assert_eq!(pri(b"<>x"), None);
        assert_eq!(pri(b"<1a>x"), None);
        assert_eq!(pri(b"<1234>x"), None);
        assert_eq!(pri(b"<13"), None);
        assert_eq!(pri(b"13>"), None);
    }

    #[test]
    fn trailer_trimming_keeps_inner_newlines() {
        assert_eq!(trim_trailer(b"a\nb\r\n\0\0"), b"a\nb");
        assert_eq!(trim_trailer(b"\0\n"), b"");
        assert_eq!(trim_trailer(b""), b"");
    }

    #[test]
    fn facility_and_severity_keywords() {
        assert_eq!(
            Facility::from_code(19).map(Facility::keyword),
            Some("local3")
        );
        assert_eq!(Facility::from_code(24), None);
        assert_eq!(Severity::from_code(4).keyword(), "warning");
    }
}
