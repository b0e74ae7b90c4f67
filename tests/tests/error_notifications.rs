//! Issue notifications and ingestion limits, end to end: a local webhook
//! receiver (a tiny HTTP server on 127.0.0.1, port 0) is added to the
//! default project, and events are sent to the Sentry store endpoint as
//! an SDK would. A new issue is notified once, with its title and link;
//! a second event of it is not; a restart on the same data sends nothing
//! again; a resolved issue that recurs is notified as a regression. Over
//! the per-project event limit, the answer is 429 with the headers SDKs
//! back off by.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use partout_e2e::{http, Partout};
use serde_json::{json, Value};

const TOKEN: &str = partout_e2e::E2E_TOKEN;
const PUBLIC_URL: &str = "http://partout.example:8080";
/// How long a notification may take to arrive.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long to watch for a notification that must not come: longer than
/// the sender's poll interval (1 s) and its wake-up after an event.
const QUIET_PERIOD: Duration = Duration::from_millis(2500);

/// Bodies received by the webhook, in order.
type Received = Arc<Mutex<Vec<Value>>>;

/// Starts the webhook receiver; returns its URL and what it receives.
/// Every request is answered 200 and its JSON body kept.
fn webhook_receiver() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received: Received = Arc::default();
    let bodies = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if let Some(body) = read_request(stream) {
                bodies.lock().unwrap().push(body);
            }
        }
    });
    (url, received)
}

/// Reads one request (headers, then `Content-Length` bytes), answers 200
/// and closes.
fn read_request(mut stream: TcpStream) -> Option<Value> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .ok()?;
    serde_json::from_slice(&body).ok()
}

fn start(data_dir: &Path, config: &Path) -> Partout {
    Partout::start_with(
        Some(data_dir),
        &[
            "--bootstrap-token",
            TOKEN,
            "--config",
            config.to_str().unwrap(),
        ],
    )
}

fn public_key(partout: &Partout) -> String {
    let projects: Value = http()
        .get(format!("{}/api/v1/projects", partout.url()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    projects[0]["keys"][0]["public_key"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Sends one event of the checkout bug (or `function`'s) to the store
/// endpoint; returns the response.
fn send_event(
    partout: &Partout,
    key: &str,
    id: u32,
    function: &str,
    release: &str,
) -> reqwest::blocking::Response {
    let event = json!({
        "event_id": format!("{id:032x}"),
        "platform": "python",
        "release": release,
        "environment": "e2e",
        "exception": {"values": [{"type": "PaymentDeclined", "value": format!("card declined for order {id}"),
            "stacktrace": {"frames": [
                {"filename": "shop/main.py", "module": "shop.main", "function": "checkout", "lineno": 20, "in_app": true},
                {"filename": "shop/pay.py", "module": "shop.pay", "function": function, "lineno": 42, "in_app": true}
            ]}}]}
    });
    http()
        .post(format!("{}/api/1/store/", partout.url()))
        .header(
            "X-Sentry-Auth",
            format!("Sentry sentry_version=7, sentry_client=e2e/1.0, sentry_key={key}"),
        )
        .json(&event)
        .send()
        .unwrap()
}

/// Waits until `count` notifications arrived, then returns them.
fn wait_for(received: &Received, count: usize, partout: &Partout) -> Vec<Value> {
    let deadline = Instant::now() + DELIVERY_TIMEOUT;
    loop {
        let bodies = received.lock().unwrap().clone();
        if bodies.len() >= count {
            return bodies;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} notifications arrived:\n{bodies:#?}\n{}",
            bodies.len(),
            partout.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn metric(partout: &Partout, line_start: &str) -> Option<f64> {
    let text = http()
        .get(format!("{}/metrics", partout.url()))
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find(|line| line.starts_with(line_start))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[test]
fn a_new_issue_is_notified_once_across_events_and_restarts_and_again_when_it_regresses() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let config = temp.path().join("partout.toml");
    std::fs::write(&config, format!("[http]\npublic_url = \"{PUBLIC_URL}/\"\n")).unwrap();
    let (hook_url, received) = webhook_receiver();

    let mut partout = start(&data_dir, &config);
    let webhooks = format!("{}/api/v1/projects/1/webhooks", partout.url());
    let added = http()
        .post(&webhooks)
        .bearer_auth(TOKEN)
        .json(&json!({"url": hook_url}))
        .send()
        .unwrap();
    assert_eq!(added.status(), 201);
    let added: Value = added.json().unwrap();
    assert_eq!(added["kind"], "generic");
    // Webhook URLs can be secrets: listing them needs a token.
    assert_eq!(
        partout_e2e::http_anonymous()
            .get(&webhooks)
            .send()
            .unwrap()
            .status(),
        401
    );
    let listed: Value = http()
        .get(&webhooks)
        .bearer_auth(TOKEN)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed:#}");
    let key = public_key(&partout);

    // A new issue: exactly one notification, with the title and link.
    assert_eq!(
        send_event(&partout, &key, 1, "charge", "shop@1.0").status(),
        200
    );
    let bodies = wait_for(&received, 1, &partout);
    let first = &bodies[0];
    assert_eq!(first["event"], "issue.new", "{first:#}");
    let issue = &first["issue"];
    let id = issue["id"].as_i64().unwrap();
    assert_eq!(issue["title"], "PaymentDeclined: card declined for order 1");
    assert_eq!(issue["url"], format!("{PUBLIC_URL}/ui/errors/{id}"));
    assert_eq!(issue["first_in_app_frame"], "shop/pay.py:42 in charge");
    assert_eq!(issue["release"], "shop@1.0");
    assert_eq!(issue["environment"], "e2e");
    assert_eq!(issue["count"], 1);
    assert_eq!(first["project"]["name"], "default");

    // The same bug again: no notification.
    assert_eq!(
        send_event(&partout, &key, 2, "charge", "shop@1.0").status(),
        200
    );
    std::thread::sleep(QUIET_PERIOD);
    assert_eq!(received.lock().unwrap().len(), 1);
    assert_eq!(
        metric(
            &partout,
            "partout_error_notifications_total{outcome=\"sent\"}"
        ),
        Some(1.0)
    );

    // A restart on the same data: nothing is sent again.
    partout.signal(libc::SIGTERM);
    assert!(partout.wait_exit().success(), "{}", partout.log());
    drop(partout);
    let partout = start(&data_dir, &config);
    std::thread::sleep(QUIET_PERIOD);
    assert_eq!(received.lock().unwrap().len(), 1, "{}", partout.log());

    // Resolved, then back: one regression notification.
    let resolved = http()
        .patch(format!("{}/api/v1/issues/{id}", partout.url()))
        .bearer_auth(TOKEN)
        .json(&json!({"status": "resolved"}))
        .send()
        .unwrap();
    assert_eq!(resolved.status(), 200);
    assert_eq!(
        send_event(&partout, &key, 3, "charge", "shop@1.1").status(),
        200
    );
    let bodies = wait_for(&received, 2, &partout);
    let regression = &bodies[1];
    assert_eq!(regression["event"], "issue.regressed", "{regression:#}");
    assert_eq!(regression["issue"]["id"], id);
    assert_eq!(regression["issue"]["release"], "shop@1.1");
    assert_eq!(regression["issue"]["count"], 3);
    std::thread::sleep(QUIET_PERIOD);
    assert_eq!(received.lock().unwrap().len(), 2);
    assert!(partout.stop().success());
}

#[test]
fn a_project_over_its_event_limit_is_told_to_back_off() {
    let temp = tempfile::tempdir().unwrap();
    let config = temp.path().join("partout.toml");
    std::fs::write(&config, "[errors]\nevents_per_minute = 2\n").unwrap();
    let partout = start(&temp.path().join("data"), &config);
    let key = public_key(&partout);
    for id in 1..=2 {
        assert_eq!(
            send_event(&partout, &key, id, "charge", "shop@1.0").status(),
            200
        );
    }
    let refused = send_event(&partout, &key, 3, "charge", "shop@1.0");
    assert_eq!(refused.status(), 429);
    let header = |name: &str| {
        refused
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    // Two a minute: the next event is 30 s away.
    assert_eq!(header("retry-after"), "30");
    assert_eq!(
        header("x-sentry-rate-limits"),
        "30:error;default:project:project_quota"
    );
    assert_eq!(
        metric(&partout, "partout_error_events_rate_limited_total"),
        Some(1.0)
    );
    let issues: Value = http()
        .get(format!("{}/api/v1/issues", partout.url()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        issues["issues"][0]["count"], 2,
        "the refused event is not stored"
    );
    assert!(partout.stop().success());
}
