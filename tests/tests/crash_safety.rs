//! Ingest under load from several clients at once, `kill -9` in the
//! middle, restart: every item that got its 2xx is there (log lines,
//! Sentry events, deploys), whatever was in flight at the kill.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use partout_e2e::{http, Partout};
use serde_json::{json, Value};

/// Runs `send(n)` for n = 0, 1, ... until `stop`, counting the answers
/// that were 2xx (and stopping at the first failure to connect: the kill).
/// A GET answered with JSON.
fn get_json(url: String) -> Value {
    http().get(url).send().unwrap().json().unwrap()
}

/// The sum of `field` over the objects of `array` (an API answer's list).
fn sum_of(array: &Value, field: &str) -> u64 {
    array
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {array}"))
        .iter()
        .map(|item| item[field].as_u64().unwrap())
        .sum()
}

fn load(
    stop: Arc<AtomicBool>,
    send: impl Fn(u64) -> Option<bool> + Send + 'static,
) -> std::thread::JoinHandle<Vec<u64>> {
    std::thread::spawn(move || {
        let mut acknowledged = Vec::new();
        let mut n = 0;
        // Bounded: at most 100,000 requests, and the test stops it.
        while !stop.load(Ordering::Relaxed) && n < 100_000 {
            match send(n) {
                Some(true) => acknowledged.push(n),
                Some(false) => {}
                None => break,
            }
            n += 1;
        }
        acknowledged
    })
}

#[test]
fn everything_acknowledged_survives_kill_9_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut partout = Partout::start_with(Some(&data), &[]);
    let base = partout.url();
    let projects = get_json(format!("{base}/api/v1/projects"));
    let key = projects[0]["keys"][0]["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));

    let logs = load(Arc::clone(&stop), {
        let (base, sent) = (base.clone(), Arc::clone(&sent));
        move |n| {
            let body: String = (0..50)
                .map(|i| format!("{{\"message\":\"crash batch {n} line {i}\",\"service\":\"crashlog\",\"batch\":{n}}}\n"))
                .collect();
            sent.fetch_add(1, Ordering::Relaxed);
            let answer = http()
                .post(format!("{base}/api/v1/logs"))
                .body(body)
                .send()
                .ok()?;
            Some(answer.status() == 200)
        }
    });
    let events = load(Arc::clone(&stop), {
        let (base, key) = (base.clone(), key.clone());
        move |n| {
            let event = json!({
                "event_id": format!("{:032x}", n + 1),
                "platform": "python",
                "message": format!("crash event {n}"),
            });
            let answer = http()
                .post(format!("{base}/api/1/store/"))
                .header(
                    "X-Sentry-Auth",
                    format!("Sentry sentry_version=7, sentry_key={key}"),
                )
                .json(&event)
                .send()
                .ok()?;
            Some(answer.status() == 200)
        }
    });
    let deploys = load(Arc::clone(&stop), {
        let base = base.clone();
        move |n| {
            let answer = http()
                .post(format!("{base}/api/v1/deploys"))
                .json(&json!({"service": "crashsvc", "version": format!("v{n}")}))
                .send()
                .ok()?;
            Some(answer.status() == 201)
        }
    });

    // Let them run, then kill without warning while requests are in flight.
    std::thread::sleep(Duration::from_secs(3));
    partout.signal(libc::SIGKILL);
    partout.wait_exit();
    stop.store(true, Ordering::Relaxed);
    let logs = logs.join().unwrap();
    let events = events.join().unwrap();
    let deploys = deploys.join().unwrap();
    assert!(
        !logs.is_empty() && !events.is_empty() && !deploys.is_empty(),
        "load never got through: {} log batches, {} events, {} deploys",
        logs.len(),
        events.len(),
        deploys.len()
    );

    let partout = Partout::start_with(Some(&data), &[]);
    let base = partout.url();
    let histogram = get_json(format!(
        "{base}/api/v1/logs/histogram?q=service:crashlog&from=-1h"
    ));
    let stored_lines = histogram["total"].as_u64().unwrap();
    assert!(
        stored_lines >= 50 * logs.len() as u64,
        "{stored_lines} lines stored, {} batches of 50 acknowledged",
        logs.len()
    );
    for batch in [logs[0], logs[logs.len() - 1]] {
        let found = get_json(format!(
            "{base}/api/v1/logs/search?q=batch:{batch}&from=-1h&limit=100"
        ));
        assert_eq!(
            found["lines"].as_array().unwrap().len(),
            50,
            "batch {batch}"
        );
    }

    let issues = get_json(format!("{base}/api/v1/issues?limit=1000"));
    let counted = sum_of(&issues["issues"], "count");
    assert!(
        counted >= events.len() as u64,
        "{counted} events stored, {} acknowledged",
        events.len()
    );
    // An issue's hours and tag values are written from memory in batches;
    // those of the events after the last batch are counted at start.
    for issue in issues["issues"].as_array().unwrap() {
        let detail = get_json(format!("{base}/api/v1/issues/{}?from=-24h", issue["id"]));
        let hourly = sum_of(&detail["hourly"], "count");
        assert_eq!(hourly, issue["count"].as_u64().unwrap(), "{detail}");
        let level = detail["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|tag| tag["key"] == "level")
            .unwrap_or_else(|| panic!("{detail}"));
        assert_eq!(level["total"], issue["count"], "{detail}");
    }

    let listed = get_json(format!("{base}/api/v1/deploys?service=crashsvc&limit=1000"));
    let versions: std::collections::BTreeSet<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|deploy| deploy["version"].as_str().unwrap().to_owned())
        .collect();
    for n in &deploys {
        assert!(
            versions.contains(&format!("v{n}")),
            "deploy v{n} was acknowledged and lost"
        );
    }
    partout.stop();
}
