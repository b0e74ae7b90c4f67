//! A data directory on a small tmpfs that fills up: ingestion answers
//! 507 with a clear error and counts it, nothing stored before is lost,
//! and everything resumes once space returns, across a restart too.
//! Mounting needs root (CI runs as root); elsewhere the test says so and
//! passes without running.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use partout_e2e::{http, Partout};
use serde_json::{json, Value};

/// A tmpfs mounted for the test, unmounted when dropped.
struct SmallDisk {
    dir: PathBuf,
    _parent: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Option<SmallDisk> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("disk_full: not root, cannot mount a tmpfs; skipped (CI runs it as root)");
            return None;
        }
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("disk");
        std::fs::create_dir(&dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "mount -t tmpfs failed as root");
        Some(SmallDisk {
            dir,
            _parent: parent,
        })
    }

    /// Fills the disk but for `spare` bytes.
    fn fill(&self, spare: u64) -> PathBuf {
        let free = free_bytes(&self.dir);
        let filler = self.dir.join("filler");
        let status = Command::new("fallocate")
            .args(["-l", &free.saturating_sub(spare).to_string()])
            .arg(&filler)
            .status()
            .unwrap();
        assert!(status.success());
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

fn free_bytes(dir: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn post_logs(partout: &Partout, body: String) -> reqwest::blocking::Response {
    http()
        .post(format!("{}/api/v1/logs", partout.url()))
        .body(body)
        .send()
        .unwrap()
}

/// `count` NDJSON lines tagged `tag`, each with 800 hex digits of noise:
/// text that compresses as badly as real high-entropy logs, so the index
/// needs about as much disk as the journal.
fn batch(tag: &str, count: usize) -> String {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ tag.len() as u64;
    let mut noise = move || {
        // xorshift64: plenty for filling a disk.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count)
        .map(|n| {
            let text: String = (0..50).map(|_| format!("{:016x}", noise())).collect();
            json!({"message": format!("{tag} line {n} {text}"), "tag": tag}).to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// How many lines match `query` in the last hour (the histogram's total).
fn found(partout: &Partout, query: &str) -> usize {
    let answer: Value = http()
        .get(format!(
            "{}/api/v1/logs/histogram?q={}&from=-1h",
            partout.url(),
            query.replace(':', "%3A")
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    usize::try_from(answer["total"].as_u64().unwrap()).unwrap()
}

fn wait_found(partout: &Partout, query: &str, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let have = found(partout, query);
        if have == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{query}: {have} lines searchable, want {want}\n{}",
            partout.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_full_disk_refuses_clearly_loses_nothing_and_recovers() {
    let Some(disk) = SmallDisk::mount(48) else {
        return;
    };
    let data_dir = disk.dir.join("data");
    let mut partout = Partout::start_with(Some(&data_dir), &[]);
    assert_eq!(post_logs(&partout, batch("before", 50)).status(), 200);
    wait_found(&partout, "tag:before", 50);

    let filler = disk.fill(64 * 1024);
    let refused = post_logs(&partout, batch("during", 2000));
    assert_eq!(refused.status(), 507);
    let why: Value = refused.json().unwrap();
    assert!(
        why["error"].as_str().unwrap().contains("disk is full"),
        "{why}"
    );
    let deploy = http()
        .post(format!("{}/api/v1/deploys", partout.url()))
        .json(&json!({"service": "api", "version": "during", "description": "y".repeat(3000)}))
        .send()
        .unwrap();
    // SQLite may still fit a small row in its free pages; if not, 507.
    assert!(
        [201, 507].contains(&deploy.status().as_u16()),
        "{}",
        deploy.status()
    );
    let metrics = http()
        .get(format!("{}/metrics", partout.url()))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("partout_storage_write_failures_total{store=\"logs_journal\"}"),
        "{metrics}"
    );
    // What was stored before is still there.
    assert_eq!(found(&partout, "tag:before"), 50);
    // Carbon senders cannot be told: their points are counted as lost.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut carbon = std::net::TcpStream::connect(&partout.addrs["carbon_tcp"]).unwrap();
        std::io::Write::write_all(&mut carbon, format!("disk.full.lost 1 {now}\n").as_bytes())
            .unwrap();
        drop(carbon);
        std::thread::sleep(Duration::from_millis(500));
        let metrics = http()
            .get(format!("{}/metrics", partout.url()))
            .send()
            .unwrap()
            .text()
            .unwrap();
        if metrics.contains("protocol=\"carbon\",reason=\"disk_full\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no carbon loss counted:\n{metrics}"
        );
    }

    std::fs::remove_file(filler).unwrap();
    assert_eq!(post_logs(&partout, batch("after", 300)).status(), 200);
    wait_found(&partout, "tag:after", 300);
    assert_eq!(found(&partout, "tag:before"), 50);
    assert_eq!(
        found(&partout, "tag:during"),
        0,
        "refused lines were not kept"
    );

    // And a restart finds everything the same.
    partout.signal(libc::SIGTERM);
    assert!(partout.wait_exit().success());
    let partout = Partout::start_with(Some(&data_dir), &[]);
    wait_found(&partout, "tag:before", 50);
    wait_found(&partout, "tag:after", 300);
    partout.stop();
}

#[test]
fn a_disk_that_fills_while_indexing_recovers_every_acknowledged_line() {
    let Some(disk) = SmallDisk::mount(48) else {
        return;
    };
    let data_dir = disk.dir.join("data");
    let mut partout = Partout::start_with(Some(&data_dir), &[]);
    // Room for the batch in the journal (about 1.3 MB) and not for its
    // index: it is acknowledged, then indexing or committing it fails
    // until space returns.
    let filler = disk.fill(1_700_000);
    let answer = post_logs(&partout, batch("r0", 1500));
    assert_eq!(answer.status(), 200, "{}", answer.text().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !partout.log().contains("stay in the journal") {
        assert!(
            Instant::now() < deadline,
            "indexing never failed, the test proves nothing:\n{}",
            partout.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::fs::remove_file(filler).unwrap();
    wait_found(&partout, "tag:r0", 1500);
    assert!(partout.log().contains("indexed again from the journal"));
    let acknowledged = 1500;
    partout.signal(libc::SIGTERM);
    assert!(partout.wait_exit().success());
    let partout = Partout::start_with(Some(&data_dir), &[]);
    let again: usize = (0..6)
        .map(|round| found(&partout, &format!("tag:r{round}")))
        .sum();
    assert_eq!(again, acknowledged);
    partout.stop();
}
