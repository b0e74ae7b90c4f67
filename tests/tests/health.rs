//! `/healthz`, `/readyz`, `/metrics`, `partout.addrs.json` and the status
//! API of a real partout process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use partout_e2e::{http, Partout};
use serde_json::Value;

#[test]
fn health_readiness_and_addrs_file() {
    let partout = Partout::start();
    let client = http();

    let healthz = client
        .get(format!("{}/healthz", partout.url()))
        .send()
        .unwrap();
    assert_eq!(healthz.status(), 200);
    assert_eq!(healthz.text().unwrap().trim(), "ok");
    let readyz = client
        .get(format!("{}/readyz", partout.url()))
        .send()
        .unwrap();
    assert_eq!(readyz.status(), 200);

    // Only bound listeners are listed; the http one is a real loopback port.
    let addrs: Value = serde_json::from_str(
        &std::fs::read_to_string(partout.data_dir.join("partout.addrs.json")).unwrap(),
    )
    .unwrap();
    let http_addr: std::net::SocketAddr = addrs["http"].as_str().unwrap().parse().unwrap();
    assert!(http_addr.ip().is_loopback());
    assert_ne!(http_addr.port(), 0);
    for value in addrs.as_object().unwrap().values() {
        assert!(
            value
                .as_str()
                .unwrap()
                .parse::<std::net::SocketAddr>()
                .is_ok(),
            "{value}"
        );
    }

    let status: Value = client
        .get(format!("{}/api/v1/status", partout.url()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(status["listeners"], addrs);
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert!(status["storage"]["sqlite_bytes"].as_u64().unwrap() > 0);

    // The start-up log names the web app's URL on one line.
    let url_line = format!("web app at {}/", partout.url());
    assert!(partout.log().contains(&url_line), "{}", partout.log());
}

#[test]
fn metrics_exposes_request_counters_and_storage_sizes() {
    let partout = Partout::start();
    let client = http();
    for _ in 0..3 {
        client
            .get(format!("{}/healthz", partout.url()))
            .send()
            .unwrap();
    }
    let response = client
        .get(format!("{}/metrics", partout.url()))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().unwrap();
    let sample = |prefix: &str| -> f64 {
        text.lines()
            .find(|line| line.starts_with(prefix))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no sample {prefix} in\n{text}"))
    };
    assert_eq!(
        sample("partout_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"2xx\"}"),
        3.0
    );
    assert!(sample("partout_storage_bytes{file=\"sqlite\"}") > 0.0);
    // Start-up writes (the default project, the bootstrap token) were
    // committed and flushed; a flush covers one commit or more.
    let commits = sample("partout_store_commits_total");
    let flushes = sample("partout_store_wal_flushes_total");
    assert!(
        flushes >= 1.0 && flushes <= commits,
        "{flushes} flushes, {commits} commits"
    );
    assert!(sample("partout_store_wal_flush_seconds_total") > 0.0);
    assert_eq!(sample("partout_build_info{"), 1.0);
    assert!(text.trim_end().ends_with("# EOF"));
}

#[test]
fn json_log_format_gives_one_json_object_per_line() {
    let partout = Partout::start_with(None, &["--log-format", "json"]);
    let log = partout.log();
    let mut saw_ready = false;
    for line in log.lines().filter(|line| !line.trim().is_empty()) {
        let event: Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        if event["message"]
            .as_str()
            .is_some_and(|m| m.contains("web app at http://"))
        {
            saw_ready = true;
        }
    }
    assert!(saw_ready, "{log}");
}

#[test]
fn bootstrap_token_authenticates_the_api() {
    let token = "e2e-bootstrap-token-0123456789";
    let partout = Partout::start_with(None, &["--bootstrap-token", token]);
    let client = http();
    let me: Value = client
        .get(format!("{}/api/v1/whoami", partout.url()))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(me["scope"], "admin");
    let anonymous = partout_e2e::http_anonymous()
        .get(format!("{}/api/v1/whoami", partout.url()))
        .send()
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = client
        .get(format!("{}/api/v1/whoami", partout.url()))
        .bearer_auth("e2e-bootstrap-token-012345678X")
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);
}
