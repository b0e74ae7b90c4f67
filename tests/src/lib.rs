//! Harness for end-to-end tests: builds and starts the real `partout`
//! binary on port 0 in a temporary data dir, finds its listeners through
//! `partout.addrs.json`, waits for `/readyz`, and stops it with SIGTERM.
//!
//! Tests unwrap freely: a failure should stop the test with a message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod webdriver;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long partout may take to become ready.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a graceful stop may take.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// The partout binary under test: `PARTOUT_BIN` if set, else the workspace's
/// debug build, rebuilt once per test process so it is never stale.
pub fn partout_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("PARTOUT_BIN") {
            return PathBuf::from(bin);
        }
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "--package",
                "partout",
                "--bin",
                "partout",
            ])
            .current_dir(workspace_root())
            .status()
            .expect("cannot run cargo to build partout");
        assert!(status.success(), "building partout failed");
        target_dir().join("debug").join("partout")
    })
    .clone()
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Cargo's target directory, where `cargo xtask` also puts test tools.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// A folder for a test's screenshots and logs, kept after the run:
/// `<target>/e2e-output/<name>`.
pub fn output_dir(name: &str) -> PathBuf {
    let dir = target_dir().join("e2e-output").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Arguments that bind every listener on a free loopback port.
pub fn all_ports_zero() -> Vec<String> {
    [
        "--http-listen",
        "--statsd-udp-listen",
        "--statsd-tcp-listen",
        "--carbon-tcp-listen",
        "--carbon-udp-listen",
        "--carbon-pickle-listen",
        "--syslog-udp-listen",
        "--syslog-tcp-listen",
        "--jsonlines-tcp-listen",
    ]
    .iter()
    .flat_map(|flag| [flag.to_string(), "127.0.0.1:0".to_string()])
    .collect()
}

/// The admin API token every partout started here has (unless a test
/// passes its own `--bootstrap-token`); [`http`] sends it.
pub const E2E_TOKEN: &str = "e2e-admin-token-0123456789";
/// The password of the first admin user, `admin`.
pub const ADMIN_PASSWORD: &str = "e2e-admin-password";

/// A running partout.
pub struct Partout {
    child: Option<Child>,
    pub data_dir: PathBuf,
    pub log_path: PathBuf,
    pub addrs: BTreeMap<String, String>,
    /// Serving HTTPS (started with `--http-tls-cert`).
    pub tls: bool,
    _temp: Option<tempfile::TempDir>,
}

impl Partout {
    /// Starts partout in a fresh temporary data dir with every port 0.
    pub fn start() -> Partout {
        Partout::start_with(None, &[])
    }

    /// Starts partout with `extra` arguments after the port-0 ones, in
    /// `data_dir` if given (kept), else a fresh temporary one.
    pub fn start_with(data_dir: Option<&Path>, extra: &[&str]) -> Partout {
        let mut args: Vec<String> = all_ports_zero();
        if !extra.contains(&"--bootstrap-token") {
            args.extend(["--bootstrap-token".into(), E2E_TOKEN.into()]);
        }
        if !extra.contains(&"--admin-password") {
            args.extend(["--admin-password".into(), ADMIN_PASSWORD.into()]);
        }
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        Partout::spawn(data_dir, &args)
    }

    /// Starts partout with exactly `args` after `serve --data-dir`: no
    /// port-0 listeners, no token, no admin password.
    pub fn start_raw(data_dir: Option<&Path>, args: &[&str]) -> Partout {
        let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
        Partout::spawn(data_dir, &args)
    }

    fn spawn(data_dir: Option<&Path>, args: &[String]) -> Partout {
        let (temp, data_dir) = match data_dir {
            Some(dir) => (None, dir.to_owned()),
            None => {
                let temp = tempfile::tempdir().unwrap();
                let dir = temp.path().join("data");
                (Some(temp), dir)
            }
        };
        std::fs::create_dir_all(&data_dir).unwrap();
        let log_path = data_dir.with_extension(format!("log-{}", unique()));
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(partout_bin())
            .arg("serve")
            .arg("--data-dir")
            .arg(&data_dir)
            .args(args)
            .env_remove("PARTOUT_CONFIG")
            .env_remove("PARTOUT_BOOTSTRAP_TOKEN")
            .env_remove("PARTOUT_ADMIN_PASSWORD")
            .env_remove("PARTOUT_LISTEN_ALL_INTERFACES")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cannot start partout");
        let mut partout = Partout {
            child: Some(child),
            data_dir,
            log_path,
            addrs: BTreeMap::new(),
            tls: args.iter().any(|arg| arg == "--http-tls-cert"),
            _temp: temp,
        };
        partout.wait_ready();
        partout
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        let addrs_path = self.data_dir.join("partout.addrs.json");
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("partout exited with {status} before ready:\n{}", self.log());
            }
            if let Ok(text) = std::fs::read_to_string(&addrs_path) {
                if let Ok(addrs) = serde_json::from_str(&text) {
                    self.addrs = addrs;
                    let ready = http()
                        .get(format!("{}/readyz", self.url()))
                        .send()
                        .is_ok_and(|response| response.status() == 200);
                    if ready {
                        return;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "partout not ready in time:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `http://ip:port` of the HTTP listener, without a trailing slash.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addrs["http"])
    }

    /// Everything partout printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.as_ref().unwrap().id()).unwrap()
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) with a pid we own and a valid signal number.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Stops partout with SIGTERM and returns its exit status. This drops
    /// a temporary data dir too: to restart on the same data, use
    /// [`Partout::signal`] and [`Partout::wait_exit`] instead.
    pub fn stop(mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait_exit()
    }

    /// Waits for the process to exit on its own.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let child = self.child.as_mut().unwrap();
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("partout did not exit in time:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Partout {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// A blocking HTTP client with a timeout, no proxy (loopback only).
/// An HTTP client that authenticates with [`E2E_TOKEN`] (a request's own
/// `Authorization` wins).
pub fn http() -> reqwest::blocking::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {E2E_TOKEN}").parse().unwrap(),
    );
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .no_proxy()
        // Tests serve HTTPS with self-signed certificates.
        .danger_accept_invalid_certs(true)
        .default_headers(headers)
        .build()
        .unwrap()
}

/// An HTTP client with no credentials.
pub fn http_anonymous() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
}

/// Runs partout with `args` to completion (for commands that exit at once).
pub fn run_to_exit(args: &[&str]) -> std::process::Output {
    Command::new(partout_bin())
        .args(args)
        .env_remove("PARTOUT_CONFIG")
        .env_remove("PARTOUT_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("cannot run partout")
}

/// The 1-based number of the first line of `source` that contains `text`
/// (where a test script raises, for asserting stack frames).
pub fn line_of(source: &str, text: &str) -> u64 {
    let index = source
        .lines()
        .position(|line| line.contains(text))
        .unwrap_or_else(|| panic!("{text:?} is not in the script"));
    u64::try_from(index + 1).unwrap()
}

/// An issue detail's values of tag `key`, with their counts, as listed.
pub fn tag_values(detail: &serde_json::Value, key: &str) -> Vec<(String, u64)> {
    let tag = detail["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tag| tag["key"] == key)
        .unwrap_or_else(|| panic!("no tag {key}: {detail:#}"));
    tag["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|value| {
            (
                value["value"].as_str().unwrap().to_owned(),
                value["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// `unix_micros` as RFC 3339 in UTC with six decimals
/// (`2026-11-22T10:00:00.123456Z`): a test's event times must follow the
/// clock, since searches look back a bounded range from now.
pub fn rfc3339_micros(unix_micros: i64) -> String {
    let secs = unix_micros.div_euclid(1_000_000);
    let micros = unix_micros.rem_euclid(1_000_000);
    let at = time::OffsetDateTime::from_unix_timestamp(secs)
        .expect("a test's instant is within the calendar time handles");
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    use super::rfc3339_micros;

    #[test]
    fn rfc3339_micros_gives_known_instants() {
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339_micros(1_795_341_600_123_456),
            "2026-11-22T10:00:00.123456Z"
        );
        // 2024-02-29, a leap day, and the second before 2000-03-01.
        assert_eq!(
            rfc3339_micros(1_709_164_800_000_001),
            "2024-02-29T00:00:00.000001Z"
        );
        assert_eq!(
            rfc3339_micros(951_868_799_000_000),
            "2000-02-29T23:59:59.000000Z"
        );
        assert_eq!(rfc3339_micros(-1), "1969-12-31T23:59:59.999999Z");
    }
}
