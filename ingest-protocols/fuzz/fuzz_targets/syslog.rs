//! Arbitrary frames through the syslog parser. Invariants: no panic, for
//! any clock reading; facility and severity in range; the format and the
//! fields agree (only RFC 5424 has a version, MSGID or structured data;
//! unrecognized input has no header fields and is entirely the message);
//! header fields and SD names are non-empty printable ASCII; the message
//! borrows from the frame unless invalid UTF-8 was replaced, and never
//! ends with the NULs and line ends senders append.
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use partout_protocols::syslog::{parse_message, SyslogFormat, SyslogMessage};

/// 2026-11-22T11:18:21Z, a plausible "now".
const NOW_UNIX_NANOS: i64 = 1_795_346_301_000_000_000;

fuzz_target!(|data: &[u8]| {
    check(data, &parse_message(data, NOW_UNIX_NANOS));
    // The first eight bytes as the clock, so odd clocks are covered too.
    if let (Some(clock), Some(frame)) = (data.get(..8), data.get(8..)) {
        let mut now = [0u8; 8];
        now.copy_from_slice(clock);
        check(frame, &parse_message(frame, i64::from_le_bytes(now)));
    }
});

fn check(frame: &[u8], message: &SyslogMessage<'_>) {
    assert!(message.facility.code() <= 23);
    assert!(message.severity.code() <= 7);
    assert_eq!(
        message.version.is_some(),
        message.format == SyslogFormat::Rfc5424
    );
    if message.format != SyslogFormat::Rfc5424 {
        assert!(message.msg_id.is_none() && message.structured_data.is_empty());
        assert!(!message.flags.malformed_structured_data);
    }
    if message.format == SyslogFormat::Unrecognized {
        assert!(message.flags.missing_pri && message.timestamp_unix_nanos.is_none());
        assert!(
            message.hostname.is_none() && message.app_name.is_none() && message.proc_id.is_none()
        );
    }
    if message.flags.missing_pri {
        assert_eq!(
            (message.facility.keyword(), message.severity.keyword()),
            ("user", "notice")
        );
    }
    let header = [
        message.hostname,
        message.app_name,
        message.proc_id,
        message.msg_id,
    ];
    for field in header.into_iter().flatten() {
        assert!(!field.is_empty() && field.bytes().all(|byte| byte.is_ascii_graphic()));
        assert!(borrows_from(frame, field.as_bytes()));
    }
    for element in &message.structured_data {
        let names =
            std::iter::once(element.id).chain(element.params.iter().map(|param| param.name));
        for name in names {
            assert!(!name.is_empty());
            assert!(name
                .bytes()
                .all(|byte| byte.is_ascii_graphic() && !matches!(byte, b'=' | b']' | b'"')));
        }
    }
    match &message.message {
        Cow::Borrowed(text) => assert!(borrows_from(frame, text.as_bytes())),
        Cow::Owned(_) => assert!(message.flags.invalid_utf8),
    }
    assert!(!message.message.ends_with(['\0', '\n', '\r']));
}

/// Whether `part` lies inside `whole`: the parser copies nothing it can
/// borrow.
fn borrows_from(whole: &[u8], part: &[u8]) -> bool {
    let range = whole.as_ptr_range();
    part.is_empty() || (range.start <= part.as_ptr() && part.as_ptr_range().end <= range.end)
}
