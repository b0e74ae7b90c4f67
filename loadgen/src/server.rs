//! Starting partout and reading its own counters.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

/// The admin token every benchmark's partout starts with: reads of
/// `/metrics`, `/render` and `/api/v1` need one.
pub const DEFAULT_TOKEN: &str = "partout-loadgen-token";

pub struct Server {
    child: Child,
    pub data_dir: tempfile::TempDir,
    pub addrs: BTreeMap<String, String>,
    pub http: reqwest::blocking::Client,
    /// partout's stderr, kept so a failure can show what partout said.
    log: tempfile::NamedTempFile,
}

/// How partout is started: which listeners, which environment.
#[derive(Default)]
pub struct Launch {
    /// StatsD flush interval, seconds (0: partout's default).
    pub flush_secs: u32,
    /// Listen for syslog over TCP on a free port; otherwise every log
    /// listener is off.
    pub syslog_tcp: bool,
    /// `PARTOUT_BOOTSTRAP_TOKEN`: an admin API token, which may ingest;
    /// [`DEFAULT_TOKEN`] when not given. [`Server::http`] sends it.
    pub bootstrap_token: Option<String>,
    /// A TOML config file (`--config`).
    pub config: Option<std::path::PathBuf>,
}

impl Server {
    pub fn start(binary: &Path, flush_secs: u32) -> anyhow::Result<Server> {
        Server::launch(
            binary,
            &Launch {
                flush_secs,
                ..Launch::default()
            },
        )
    }

    pub fn launch(binary: &Path, launch: &Launch) -> anyhow::Result<Server> {
        let data_dir = tempfile::tempdir()?;
        let log = tempfile::NamedTempFile::new()?;
        let mut command = Command::new(binary);
        command.arg("serve").arg("--data-dir").arg(data_dir.path());
        for flag in [
            "--http-listen",
            "--statsd-udp-listen",
            "--statsd-tcp-listen",
            "--carbon-tcp-listen",
            "--carbon-udp-listen",
            // A fixed default port would clash with any other partout on
            // the machine (a test, a run left over).
            "--carbon-pickle-listen",
        ] {
            command.args([flag, "127.0.0.1:0"]);
        }
        let syslog_tcp = if launch.syslog_tcp {
            "127.0.0.1:0"
        } else {
            "off"
        };
        command.args([
            "--syslog-udp-listen",
            "off",
            "--syslog-tcp-listen",
            syslog_tcp,
            "--jsonlines-tcp-listen",
            "off",
        ]);
        if launch.flush_secs > 0 {
            command.args([
                "--metrics-flush-interval-secs",
                &launch.flush_secs.to_string(),
            ]);
        }
        command.env_remove("PARTOUT_CONFIG");
        if let Some(config) = &launch.config {
            command.arg("--config").arg(config);
        }
        let token = launch.bootstrap_token.as_deref().unwrap_or(DEFAULT_TOKEN);
        command.env("PARTOUT_BOOTSTRAP_TOKEN", token);
        // The server dies with the load generator. A run stopped by a
        // signal (Ctrl-C, a timeout) skips `Drop`, and used to leave
        // partout running, holding its temporary data dir. The signal
        // comes when the spawning thread ends: every bench launches its
        // server from the main thread, which lives as long as the run.
        // SAFETY: `prctl` is async-signal-safe, as code run between fork
        // and exec must be, and touches nothing of the parent's.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen()?)
            .spawn()
            .context("starting partout")?;
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))?,
        );
        let http = reqwest::blocking::Client::builder()
            .no_proxy()
            .default_headers(headers)
            .timeout(Duration::from_secs(120))
            .build()?;
        let mut server = Server {
            child,
            data_dir,
            addrs: BTreeMap::new(),
            http,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let path = server.data_dir.path().join("partout.addrs.json");
        while server.addrs.is_empty() {
            if let Ok(text) = std::fs::read_to_string(&path) {
                server.addrs = serde_json::from_str(&text).unwrap_or_default();
            }
            if Instant::now() > deadline {
                bail!("partout did not start: {}", server.log_tail(5));
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

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last `lines` lines partout wrote to stderr, on one line.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log.path()).unwrap_or_default();
        let all: Vec<String> = text.lines().map(without_colors).collect();
        let tail = all[all.len().saturating_sub(lines)..].join(" | ");
        if tail.is_empty() {
            "(partout wrote nothing to stderr)".to_owned()
        } else {
            format!("partout's stderr: {tail}")
        }
    }

    /// Lines of partout's stderr at WARN or ERROR level so far.
    pub fn warnings(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.log.path()).unwrap_or_default();
        text.lines()
            .map(without_colors)
            .filter(|line| line.contains(" WARN ") || line.contains(" ERROR "))
            .collect()
    }

    /// A counter or gauge sample from `/metrics`, 0 when absent.
    pub fn metric(&self, sample: &str) -> anyhow::Result<f64> {
        Ok(self.metric_if_present(sample)?.unwrap_or(0.0))
    }

    /// A counter or gauge sample from `/metrics`, `None` when absent.
    pub fn metric_if_present(&self, sample: &str) -> anyhow::Result<Option<f64>> {
        // A refused read must fail the run, not read as a zero.
        let text = self
            .http
            .get(self.url("/metrics")?)
            .send()?
            .error_for_status()?
            .text()?;
        Ok(text
            .lines()
            .find(|line| line.starts_with(sample))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse().ok()))
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
        // For a look at what the run left on disk (tantivy's files,
        // `sqlite3` on the database) after the figures are printed.
        if std::env::var_os(KEEP_DATA_ENV).is_some() {
            self.data_dir.disable_cleanup(true);
            eprintln!(
                "{KEEP_DATA_ENV}: data dir kept at {}",
                self.data_dir.path().display()
            );
        }
    }
}

/// Set (to anything) to keep every started partout's data dir.
pub const KEEP_DATA_ENV: &str = "PARTOUT_LOADGEN_KEEP_DATA";

/// CPU seconds (user and system) process `pid` (or `"self"`) has used so
/// far, from `/proc`; `None` where that cannot be read.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it do not.
    let (_, after_name) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks_per_second > 0).then(|| (user + system) / ticks_per_second as f64)
}

/// `line` without ANSI color sequences (partout colors its text logs
/// even when they go to a file).
fn without_colors(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip to the sequence's final letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// CPU seconds per thread of process `pid` now: (thread id, name, seconds).
pub(crate) fn threads_now(pid: u32) -> Vec<(String, String, f64)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| {
            let tid = task.file_name().to_string_lossy().into_owned();
            let name = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm")).ok()?;
            let seconds = cpu_seconds(&format!("{pid}/task/{tid}"))?;
            Some((tid, name.trim().to_owned(), seconds))
        })
        .collect()
}

/// Samples a process's threads every 100 ms in the background, so the CPU
/// of short-lived threads (tantivy starts new indexing threads at every
/// commit) is counted too, up to their last 100 ms.
pub struct ThreadSampler {
    stop: std::sync::mpsc::Sender<()>,
    handle: std::thread::JoinHandle<BTreeMap<String, f64>>,
}

impl ThreadSampler {
    pub fn start(pid: u32) -> ThreadSampler {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let handle = std::thread::spawn(move || {
            // Per thread id: name, seconds at the first and the last sample.
            let mut seen: BTreeMap<String, (String, f64, f64)> = BTreeMap::new();
            let mut first = true;
            loop {
                for (tid, name, seconds) in threads_now(pid) {
                    // A thread born after the first sample used all its time
                    // in the phase.
                    let baseline = if first { seconds } else { 0.0 };
                    let entry = seen.entry(tid).or_insert((name, baseline, seconds));
                    entry.2 = seconds;
                }
                first = false;
                match stopped.recv_timeout(Duration::from_millis(100)) {
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                    _ => break,
                }
            }
            let mut by_name = BTreeMap::new();
            for (name, start, end) in seen.into_values() {
                *by_name.entry(name).or_insert(0.0) += end - start;
            }
            by_name
        });
        ThreadSampler { stop, handle }
    }

    /// CPU seconds per thread name since [`ThreadSampler::start`].
    pub fn finish(self) -> BTreeMap<String, f64> {
        let _ = self.stop.send(());
        self.handle.join().unwrap_or_default()
    }
}
