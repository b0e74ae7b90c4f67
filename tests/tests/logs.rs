//! Logs into the real binary over every protocol, found again by search:
//! syslog from the real `logger` (UDP, TCP newline-framed and
//! octet-counted, RFC 3164 and 5424), JSON lines over TCP, and
//! `POST /api/v1/logs` (NDJSON gzip, JSON array zstd); a structlog-style
//! event found by one of its bound fields; the live tail; bad input kept
//! and marked; and acknowledged lines surviving `kill -9`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use partout_e2e::{http, Partout};
use serde_json::{json, Value};

const TOKEN: &str = partout_e2e::E2E_TOKEN;

fn start(data_dir: Option<&std::path::Path>, extra: &[&str]) -> Partout {
    let mut args = vec!["--bootstrap-token", TOKEN];
    args.extend_from_slice(extra);
    Partout::start_with(data_dir, &args)
}

fn port(partout: &Partout, key: &str) -> String {
    partout.addrs[key].rsplit(':').next().unwrap().to_owned()
}

/// Runs the real `logger` against a listener.
fn logger(partout: &Partout, key: &str, args: &[&str], message: &str) {
    let status = Command::new("logger")
        .args(["-n", "127.0.0.1", "-P", &port(partout, key)])
        .args(args)
        .arg(message)
        .status()
        .expect("the `logger` command (bsdutils) is needed");
    assert!(status.success(), "logger {args:?} failed");
}

fn post_logs(
    partout: &Partout,
    body: Vec<u8>,
    encoding: Option<&str>,
) -> reqwest::blocking::Response {
    let mut request = http()
        .post(format!("{}/api/v1/logs", partout.url()))
        .bearer_auth(TOKEN)
        .body(body);
    if let Some(encoding) = encoding {
        request = request.header("Content-Encoding", encoding);
    }
    request.send().unwrap()
}

fn search(partout: &Partout, query: &str, limit: usize) -> Value {
    let url = reqwest::Url::parse_with_params(
        &format!("{}/api/v1/logs/search", partout.url()),
        &[("q", query), ("from", "-2d"), ("limit", &limit.to_string())],
    )
    .unwrap();
    let response = http().get(url).send().unwrap();
    assert_eq!(response.status(), 200, "{query}: {:?}", response.text());
    response.json().unwrap()
}

/// Searches until `query` finds `want` lines (a log is searchable within a
/// commit interval of acceptance; allow a few).
fn wait_for(partout: &Partout, query: &str, want: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines = search(partout, query, 1000)["lines"]
            .as_array()
            .unwrap()
            .clone();
        if lines.len() >= want {
            assert_eq!(lines.len(), want, "{query}: {lines:#?}");
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "{query}: found {} of {want}\n{}",
            lines.len(),
            partout.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn every_protocol_is_found_by_search() {
    let partout = start(None, &[]);
    logger(
        &partout,
        "syslog_udp",
        &["-d", "--rfc3164", "-t", "cron", "-p", "cron.err"],
        "udp3164 job failed",
    );
    logger(
        &partout,
        "syslog_udp",
        &[
            "-d",
            "--rfc5424",
            "-t",
            "billing",
            "--sd-id",
            "req@32473",
            "--sd-param",
            "user=\"dora\"",
        ],
        "udp5424 invoice sent",
    );
    logger(
        &partout,
        "syslog_tcp",
        &["-T", "-t", "sshd", "-p", "auth.warning"],
        "tcpline accepted key",
    );
    logger(
        &partout,
        "syslog_tcp",
        &["-T", "--octet-count", "-t", "nginx"],
        "tcpoctet GET /health",
    );

    let mut stream = TcpStream::connect(&partout.addrs["jsonlines_tcp"]).unwrap();
    // An hour ago, at a microsecond of its own: kept as the line's time.
    let now_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let event_time = partout_e2e::rfc3339_micros((now_secs - 3600) * 1_000_000 + 123_456);
    let event = json!({
        "event": "jsonlines user logged in",
        "level": "info",
        "logger": "auth",
        "timestamp": event_time,
        "user": "erin",
        "request_id": "req-7f3a",
        "ip": "10.1.2.3",
    });
    // A structlog-style event at a time of its own, then one without a
    // final newline (closing the stream ends it).
    writeln!(stream, "{event}").unwrap();
    write!(stream, r#"{{"msg":"jsonlines last","level":"debug"}}"#).unwrap();
    drop(stream);

    let ndjson = b"{\"msg\":\"httpgz one\",\"level\":\"warn\",\"service\":\"web\",\"duration_ms\":250}\n\
                   {\"msg\":\"httpgz two\",\"level\":\"error\",\"service\":\"web\",\"http\":{\"status\":503}}\n";
    let response = post_logs(&partout, gzip(ndjson), Some("gzip"));
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().unwrap()["accepted"], 2);
    let array = serde_json::to_vec(&json!([
        {"message": "httpzst first", "app": "mobile", "severity": "ERROR"},
        {"message": "httpzst second", "app": "mobile"}
    ]))
    .unwrap();
    let response = post_logs(
        &partout,
        zstd::encode_all(&array[..], 3).unwrap(),
        Some("zstd"),
    );
    assert_eq!(response.status(), 200);

    let line = &wait_for(&partout, "udp3164", 1)[0];
    assert_eq!(line["service"], "cron");
    assert_eq!(line["level"], "error");
    assert_eq!(line["source"], "syslog");
    let line = &wait_for(&partout, "\"invoice sent\"", 1)[0];
    assert_eq!(line["service"], "billing");
    assert_eq!(line["fields"]["req@32473.user"], "dora");
    assert_eq!(
        wait_for(&partout, "tcpline AND service:sshd", 1)[0]["level"],
        "warn"
    );
    wait_for(&partout, "tcpoctet AND service:nginx", 1);
    // Found by a bound field alone, with its own timestamp.
    let line = &wait_for(&partout, "user:erin", 1)[0];
    assert_eq!(line["message"], "jsonlines user logged in");
    assert_eq!(line["service"], "auth");
    assert_eq!(line["time"], event_time.as_str());
    assert_eq!(line["fields"]["request_id"], "req-7f3a");
    wait_for(&partout, "request_id:req-7f3a AND ip:10.1.2.3", 1);
    wait_for(&partout, "\"jsonlines last\" AND level:debug", 1);
    wait_for(&partout, "httpgz AND level:>=warn AND service:web", 2);
    wait_for(&partout, "http.status:>=500", 1);
    wait_for(&partout, "httpzst AND service:mobile", 2);
    wait_for(&partout, "httpzst AND level:error", 1);

    // The histogram and top values see the same lines.
    let histogram: Value = http()
        .get(format!(
            "{}/api/v1/logs/histogram?q=httpgz&from=-1h",
            partout.url()
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(histogram["total"], 2);
    let top: Value = http()
        .get(format!(
            "{}/api/v1/logs/top?field=service&q=httpzst%20OR%20httpgz",
            partout.url()
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        top["values"],
        json!([{"value": "mobile", "count": 2}, {"value": "web", "count": 2}])
    );

    // Ingest needs a token.
    let response = partout_e2e::http_anonymous()
        .post(format!("{}/api/v1/logs", partout.url()))
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(response.status(), 401);
    let metrics = http()
        .get(format!("{}/metrics", partout.url()))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("partout_log_lines_written_total"),
        "{metrics}"
    );
}

#[test]
fn bad_input_is_kept_marked_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("partout.toml");
    std::fs::write(&config, "[logs]\nmax_line_bytes = 300\n").unwrap();
    let partout = start(None, &["--config", config.to_str().unwrap()]);
    let mut stream = TcpStream::connect(&partout.addrs["jsonlines_tcp"]).unwrap();
    stream
        .write_all(b"{\"msg\": \"badjson unterminated\n")
        .unwrap();
    stream
        .write_all(b"{\"msg\":\"badutf8 caf\xe9\"}\n")
        .unwrap();
    let long = format!("{{\"msg\":\"longline {}\"}}\n", "x".repeat(5000));
    stream.write_all(long.as_bytes()).unwrap();
    stream
        .write_all(b"{\"msg\":\"after the bad ones\"}\n")
        .unwrap();
    drop(stream);

    let line = &wait_for(&partout, "badjson", 1)[0];
    assert_eq!(line["message"], "{\"msg\": \"badjson unterminated");
    assert_eq!(line["flags"], json!(["parse_error"]));
    let line = &wait_for(&partout, "badutf8", 1)[0];
    assert_eq!(line["message"], "badutf8 caf\u{fffd}");
    assert_eq!(line["flags"], json!(["invalid_utf8"]));
    let line = &wait_for(&partout, "longline", 1)[0];
    assert_eq!(line["message"].as_str().unwrap().len(), 300);
    assert_eq!(line["flags"], json!(["parse_error", "truncated"]));
    wait_for(&partout, "\"after the bad ones\"", 1);
    let metrics = http()
        .get(format!("{}/metrics", partout.url()))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("partout_log_lines_truncated_total 1"),
        "{metrics}"
    );

    // A query that does not parse is a 400 that says where.
    let response = http()
        .get(format!("{}/api/v1/logs/search?q=%22open", partout.url()))
        .send()
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().unwrap().contains("at "));
}

#[test]
fn the_live_tail_streams_new_matching_lines() {
    let partout = start(None, &[]);
    let response = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
        .get(format!(
            "{}/api/v1/logs/tail?q=service:checkout",
            partout.url()
        ))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let body = b"{\"msg\":\"tail skip me\",\"service\":\"other\"}\n{\"msg\":\"tail order 42 paid\",\"service\":\"checkout\"}\n".to_vec();
    assert_eq!(post_logs(&partout, body, None).status(), 200);
    let mut reader = BufReader::new(response);
    let mut event = String::new();
    let data = loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "tail ended");
        let line = line.trim_end();
        if let Some(name) = line.strip_prefix("event:") {
            event = name.trim().to_owned();
        } else if let Some(data) = line.strip_prefix("data:") {
            break data.trim().to_owned();
        }
    };
    assert_eq!(event, "line");
    let line: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(line["message"], "tail order 42 paid");
}

#[test]
fn acknowledged_lines_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut partout = start(Some(&data), &[]);
    let batches = 20;
    let per_batch = 500;
    for batch in 0..batches {
        let body: String = (0..per_batch)
            .map(|n| format!("{{\"msg\":\"durable b{batch} n{n}\",\"service\":\"crash\"}}\n"))
            .collect();
        assert_eq!(post_logs(&partout, body.into_bytes(), None).status(), 200);
    }
    // Every batch got its 2xx: now the process dies without any chance to
    // flush or commit.
    partout.signal(libc::SIGKILL);
    partout.wait_exit();
    let partout = start(Some(&data), &[]);
    let histogram: Value = http()
        .get(format!(
            "{}/api/v1/logs/histogram?q=service:crash&from=-1h",
            partout.url()
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(histogram["total"], batches * per_batch, "{}", partout.log());
    wait_for(&partout, "\"durable b19 n499\"", 1);
}
