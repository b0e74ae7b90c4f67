//! Graceful shutdown flushes everything: every write acknowledged before or
//! during a SIGTERM is on disk after a restart, the WAL is checkpointed, and
//! `partout.addrs.json` is gone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use partout_e2e::{http, Partout};
use serde_json::{json, Value};

const TOKEN: &str = partout_e2e::E2E_TOKEN;

#[test]
fn sigterm_during_writes_loses_nothing_acknowledged() {
    let mut partout = Partout::start_with(None, &["--bootstrap-token", TOKEN]);
    let url = partout.url();
    let acknowledged = Arc::new(Mutex::new(Vec::<i64>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let (url, acknowledged, stop) =
                (url.clone(), Arc::clone(&acknowledged), Arc::clone(&stop));
            std::thread::spawn(move || {
                let client = http();
                // Bounded: at most 2,000 requests per writer.
                for n in 0..2000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let body =
                        json!({"service": format!("svc{writer}"), "version": format!("v{n}")});
                    let Ok(response) = client
                        .post(format!("{url}/api/v1/deploys"))
                        .bearer_auth(TOKEN)
                        .json(&body)
                        .send()
                    else {
                        break; // server gone: expected once it shuts down
                    };
                    if response.status() == 201 {
                        let deploy: Value = response.json().unwrap();
                        acknowledged
                            .lock()
                            .unwrap()
                            .push(deploy["id"].as_i64().unwrap());
                    }
                }
            })
        })
        .collect();
    // Let writes flow, then stop partout while they are in flight.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while acknowledged.lock().unwrap().len() < 200 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    partout.signal(libc::SIGTERM);
    let status = partout.wait_exit();
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().unwrap();
    }
    assert!(status.success(), "exit {status}:\n{}", partout.log());
    assert!(
        partout.log().contains("shutdown complete"),
        "{}",
        partout.log()
    );
    let data_dir = partout.data_dir.clone();
    assert!(!data_dir.join("partout.addrs.json").exists());
    let wal = data_dir.join("partout.sqlite-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "WAL not checkpointed"
    );

    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 200,
        "only {} writes acknowledged",
        acknowledged.len()
    );
    let restarted = Partout::start_with(Some(&data_dir), &["--bootstrap-token", TOKEN]);
    let mut stored = Vec::new();
    for writer in 0..4 {
        let deploys: Vec<Value> = http()
            .get(format!(
                "{}/api/v1/deploys?service=svc{writer}&limit=1000",
                restarted.url()
            ))
            .bearer_auth(TOKEN)
            .send()
            .unwrap()
            .json()
            .unwrap();
        stored.extend(deploys.iter().map(|d| d["id"].as_i64().unwrap()));
    }
    for id in &acknowledged {
        assert!(
            stored.contains(id),
            "acknowledged deploy {id} lost in shutdown"
        );
    }
    drop(partout);
}
