//! Messages captured from real senders (`tests/fixtures/syslog/`, copied
//! from the shared samples) and every field parsed from them.
//!
//! Each case renders the parsed message as one `field=value` line per
//! field, so a failure shows the whole difference at once.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::fmt::Write;

use partout_protocols::syslog::{parse_message, SyslogMessage};

/// When the samples were captured; BSD timestamps take their year from it.
const CAPTURED_AT_UNIX_NANOS: i64 = 1_795_346_301_500_000_000; // 2026-11-22T11:18:21.5Z

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/syslog/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn describe(message: &SyslogMessage<'_>) -> String {
    let mut out = String::new();
    writeln!(out, "format={:?}", message.format).unwrap();
    writeln!(out, "facility={}", message.facility.keyword()).unwrap();
    writeln!(out, "severity={}", message.severity.keyword()).unwrap();
    writeln!(out, "version={:?}", message.version).unwrap();
    writeln!(out, "timestamp={:?}", message.timestamp_unix_nanos).unwrap();
    writeln!(out, "hostname={:?}", message.hostname).unwrap();
    writeln!(out, "app_name={:?}", message.app_name).unwrap();
    writeln!(out, "proc_id={:?}", message.proc_id).unwrap();
    writeln!(out, "msg_id={:?}", message.msg_id).unwrap();
    for element in &message.structured_data {
        write!(out, "sd={}", element.id).unwrap();
        for param in &element.params {
            write!(out, " {}={:?}", param.name, param.value).unwrap();
        }
        out.push('\n');
    }
    writeln!(out, "message={:?}", message.message).unwrap();
    writeln!(out, "flags={:?}", message.flags).unwrap();
    out
}

fn check(frame: &[u8], expected: &str) {
    let message = parse_message(frame, CAPTURED_AT_UNIX_NANOS);
    let expected: String = expected
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(describe(&message), expected);
}

const FLAGS_NONE: &str =
    "flags=SyslogFlags { missing_pri: false, invalid_utf8: false, malformed_structured_data: false }";

#[test]
fn logger_rfc5424_udp() {
    check(
        &fixture("logger-rfc5424-udp.bin"),
        &format!(
            r#"
            format=Rfc5424
            facility=local3
            severity=warning
            version=Some(1)
            timestamp=Some(1795346300977735000)
            hostname=Some("vm")
            app_name=Some("peerbench")
            proc_id=Some("4242")
            msg_id=None
            sd=timeQuality tzKnown="1" isSynced="0"
            message="hello from logger: disk 91% full"
            {FLAGS_NONE}
            "#
        ),
    );
}

#[test]
fn logger_rfc5424_tcp_newline_framed() {
    // The frame still holds its `\n`, as a UDP-style sender would leave it.
    check(
        &fixture("logger-rfc5424-tcp.bin"),
        &format!(
            r#"
            format=Rfc5424
            facility=local3
            severity=warning
            version=Some(1)
            timestamp=Some(1795346300981204000)
            hostname=Some("vm")
            app_name=Some("peerbench")
            proc_id=Some("4242")
            msg_id=None
            sd=timeQuality tzKnown="1" isSynced="0"
            message="hello from logger: disk 91% full"
            {FLAGS_NONE}
            "#
        ),
    );
}

#[test]
fn logger_rfc5424_tcp_octet_counted() {
    // Framing (crate::framing, tested there) strips the `131 ` count.
    let stream = fixture("logger-rfc5424-tcp-octet-count.bin");
    let (count, frame) = stream.split_at(stream.iter().position(|&b| b == b' ').unwrap());
    let frame = &frame[1..];
    assert_eq!(
        std::str::from_utf8(count)
            .unwrap()
            .parse::<usize>()
            .unwrap(),
        frame.len()
    );
    check(
        frame,
        &format!(
            r#"
            format=Rfc5424
            facility=local3
            severity=warning
            version=Some(1)
            timestamp=Some(1795346300984845000)
            hostname=Some("vm")
            app_name=Some("peerbench")
            proc_id=Some("4242")
            msg_id=None
            sd=timeQuality tzKnown="1" isSynced="0"
            message="hello from logger: disk 91% full"
            {FLAGS_NONE}
            "#
        ),
    );
}

#[test]
fn logger_rfc5424_two_sd_elements_and_msgid() {
    check(
        &fixture("logger-rfc5424-sd-udp.bin"),
        &format!(
            r#"
            format=Rfc5424
            facility=local3
            severity=warning
            version=Some(1)
            timestamp=Some(1795346301001333000)
            hostname=Some("vm")
            app_name=Some("peerbench")
            proc_id=Some("4242")
            msg_id=Some("MSG1")
            sd=timeQuality tzKnown="1" isSynced="0"
            sd=peer@32473 k="v"
            message="hello from logger: disk 91% full"
            {FLAGS_NONE}
            "#
        ),
    );
}

const LOGGER_RFC3164: &str = r#"
    format=Rfc3164
    facility=local3
    severity=warning
    version=None
    timestamp=Some(1795346300000000000)
    hostname=Some("vm")
    app_name=Some("peerbench")
    proc_id=Some("4242")
    msg_id=None
    message="hello from logger: disk 91% full"
"#;

#[test]
fn logger_rfc3164_udp() {
    check(
        &fixture("logger-rfc3164-udp.bin"),
        &format!("{LOGGER_RFC3164}\n{FLAGS_NONE}"),
    );
}

#[test]
fn logger_rfc3164_tcp() {
    check(
        &fixture("logger-rfc3164-tcp.bin"),
        &format!("{LOGGER_RFC3164}\n{FLAGS_NONE}"),
    );
}

/// The capture holds two datagrams back to back, each ending in the NUL
/// that `SysLogHandler` appends.
fn python_datagrams() -> Vec<Vec<u8>> {
    fixture("python-syslog-udp.bin")
        .split_inclusive(|&byte| byte == 0)
        .map(<[u8]>::to_vec)
        .collect()
}

#[test]
fn python_syslog_handler_without_timestamp_or_hostname() {
    let datagrams = python_datagrams();
    assert_eq!(datagrams.len(), 2);
    check(
        &datagrams[0],
        &format!(
            r#"
            format=Rfc3164
            facility=local3
            severity=warning
            version=None
            timestamp=None
            hostname=None
            app_name=Some("peerbench")
            proc_id=Some("20157")
            msg_id=None
            message="WARNING peerbench.udp disk almost full: 91%"
            {FLAGS_NONE}
            "#
        ),
    );
}

#[test]
fn python_syslog_handler_unicode_and_embedded_newline() {
    check(
        &python_datagrams()[1],
        &format!(
            r#"
            format=Rfc3164
            facility=local3
            severity=err
            version=None
            timestamp=None
            hostname=None
            app_name=Some("peerbench")
            proc_id=Some("20157")
            msg_id=None
            message="ERROR peerbench.udp second message with unicode éè and a\nnewline"
            {FLAGS_NONE}
            "#
        ),
    );
}
