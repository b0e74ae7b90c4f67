//! Starting partout and reading its own counters.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

pub struct Server {
    child: Child,
    pub data_dir: tempfile::TempDir,
    pub addrs: BTreeMap<String, String>,
    pub http: reqwest::blocking::Client,
}

impl Server {
    pub fn start(binary: &Path, flush_secs: u32) -> anyhow::Result<Server> {
        let data_dir = tempfile::tempdir()?;
        let mut command = Command::new(binary);
        command.arg("serve").arg("--data-dir").arg(data_dir.path());
        for flag in [
            "--http-listen",
            "--statsd-udp-listen",
            "--statsd-tcp-listen",
            "--carbon-tcp-listen",
            "--carbon-udp-listen",
        ] {
            command.args([flag, "127.0.0.1:0"]);
        }
        command.args([
            "--syslog-udp-listen",
            "off",
            "--syslog-tcp-listen",
            "off",
            "--jsonlines-tcp-listen",
            "off",
        ]);
        command.args(["--metrics-flush-interval-secs", &flush_secs.to_string()]);
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting partout")?;
        let http = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(120))
            .build()?;
        let mut server = Server {
            child,
            data_dir,
            addrs: BTreeMap::new(),
            http,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let path = server.data_dir.path().join("partout.addrs.json");
        while server.addrs.is_empty() {
            if let Ok(text) = std::fs::read_to_string(&path) {
                server.addrs = serde_json::from_str(&text).unwrap_or_default();
            }
            if Instant::now() > deadline {
                bail!("partout did not start");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    pub fn addr(&self, key: &str) -> anyhow::Result<String> {
        self.addrs
            .get(key)
            .cloned()
            .with_context(|| format!("no {key} listener"))
    }

    pub fn url(&self, path: &str) -> anyhow::Result<String> {
        Ok(format!("http://{}{path}", self.addr("http")?))
    }

    /// A counter or gauge sample from `/metrics`, 0 when absent.
    pub fn metric(&self, sample: &str) -> anyhow::Result<f64> {
        let text = self.http.get(self.url("/metrics")?).send()?.text()?;
        Ok(text
            .lines()
            .find(|line| line.starts_with(sample))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0))
    }

    /// Waits until `sample` stops growing for `quiet`; returns its value and
    /// when it last grew.
    pub fn settle(
        &self,
        sample: &str,
        quiet: Duration,
        limit: Duration,
    ) -> anyhow::Result<(f64, Instant)> {
        let deadline = Instant::now() + limit;
        let mut last = self.metric(sample)?;
        let mut grew_at = Instant::now();
        while Instant::now() < deadline && grew_at.elapsed() < quiet {
            std::thread::sleep(Duration::from_millis(50));
            let now = self.metric(sample)?;
            if now > last {
                last = now;
                grew_at = Instant::now();
            }
        }
        Ok((last, grew_at))
    }

    /// Stops partout gracefully (flush, WAL checkpoint) and waits.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        let pid = i32::try_from(self.child.id())?;
        // SAFETY: kill(2) on our own child with a valid signal.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                self.child.kill()?;
                bail!("partout did not stop in time");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
