//! The synthetic log data set: what a small web shop's servers send.
//!
//! About 47% of the lines are syslog, sent over TCP:
//! - `sshd` (12%, RFC 5424): logins, sessions, failed passwords, and the
//!   "Connection reset by peer" read errors the phrase query looks for;
//! - `CRON` (5%, RFC 5424 with rsyslog's `timeQuality` element);
//! - `nginx` access lines (25%, RFC 3164, combined format plus `rt=`);
//! - `kernel` (5%, RFC 3164): firewall blocks, SYN floods, conntrack, and
//!   exactly [`RARE_LINES`] `segfault` lines spread over the data set.
//!
//! The other 53% are structlog-style JSON, sent over HTTP: five services
//! (`api` 40%, `web`, `worker`, `billing`, `auth`), 5 to 14 fields each,
//! 5,000 users (skewed: a few are very active), 20,000 client addresses,
//! a unique `request_id` or `job_id` per line, status mostly 200.
//!
//! Every line is a pure function of the seed and its index ([`Rng::for_item`]),
//! so both transports and any thread see the same data, run after run.
//! Timestamps follow the index across [`SPAN_NANOS`] with up to half a
//! second of jitter.

mod app;
mod syslog;

use crate::rng::Rng;

pub const NANOS_PER_SEC: i64 = 1_000_000_000;
/// The data spans the 20 hours before the run: inside partout's 30-day
/// retention, in one or two UTC day partitions.
pub const SPAN_NANOS: i64 = 20 * 3600 * NANOS_PER_SEC;
/// A word only the kernel's segfault lines carry.
pub const RARE_TERM: &str = "segfault";
/// How many lines carry [`RARE_TERM`] (fewer when the data set is smaller).
pub const RARE_LINES: u64 = 10;
/// The HTTP method, in about a third of the lines (access lines and
/// request logs).
pub const COMMON_TERM: &str = "get";
pub const PHRASE: &str = "connection reset by peer";

const SEED: u64 = 0x5EED_0F10_6500;

/// Which way a line is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Syslog over TCP, newline framed.
    Syslog,
    /// NDJSON over `POST /api/v1/logs`.
    Json,
}

/// What the generator wrote, to check the server's answers against.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub lines: u64,
    /// Bytes as sent, newlines included.
    pub bytes: u64,
    /// Lines with [`RARE_TERM`].
    pub rare: u64,
    /// Lines with [`COMMON_TERM`].
    pub common: u64,
    /// Lines whose message holds [`PHRASE`].
    pub phrase: u64,
    /// Lines of service `api` at level error inside [`Dataset::quarter`].
    pub api_errors_in_quarter: u64,
}

impl Tally {
    pub fn add(&mut self, other: &Tally) {
        self.lines += other.lines;
        self.bytes += other.bytes;
        self.rare += other.rare;
        self.common += other.common;
        self.phrase += other.phrase;
        self.api_errors_in_quarter += other.api_errors_in_quarter;
    }
}

/// `lines` log lines over the [`SPAN_NANOS`] before `end_nanos`.
#[derive(Debug, Clone, Copy)]
pub struct Dataset {
    pub lines: u64,
    pub start_nanos: i64,
    pub end_nanos: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    Sshd,
    Cron,
    Nginx,
    Kernel,
    Segfault,
    App,
}

impl Dataset {
    pub fn new(lines: u64, end_nanos: i64) -> Dataset {
        Dataset {
            lines,
            start_nanos: end_nanos - SPAN_NANOS,
            end_nanos,
        }
    }

    /// A quarter of the span, in its middle: the field filter's range. It
    /// starts on a whole hour because the histogram that counts its matches
    /// starts its buckets on a multiple of their width.
    pub fn quarter(&self) -> (i64, i64) {
        let hour = 3600 * NANOS_PER_SEC;
        let middle = self.start_nanos + SPAN_NANOS / 8 * 3;
        let from = middle - middle.rem_euclid(hour);
        (from, from + SPAN_NANOS / 4)
    }

    pub fn transport(&self, index: u64) -> Transport {
        let mut rng = Rng::for_item(SEED, index);
        match self.category(index, &mut rng) {
            Category::App => Transport::Json,
            _ => Transport::Syslog,
        }
    }

    /// Draws the category; always the generator's first draw, so
    /// [`Dataset::transport`] and [`Dataset::write`] agree.
    fn category(&self, index: u64, rng: &mut Rng) -> Category {
        let roll = rng.unit();
        let every = (self.lines / RARE_LINES).max(1);
        if index % every == every / 2 && index / every < RARE_LINES {
            return Category::Segfault;
        }
        match roll {
            r if r < 0.12 => Category::Sshd,
            r if r < 0.17 => Category::Cron,
            r if r < 0.42 => Category::Nginx,
            r if r < 0.47 => Category::Kernel,
            _ => Category::App,
        }
    }

    /// The request or job id of a JSON line near the middle of the data
    /// set: ids are random UUIDs, so exactly one line holds it.
    pub fn middle_id(&self) -> Option<String> {
        (self.lines / 2..self.lines).take(1000).find_map(|index| {
            if self.transport(index) != Transport::Json {
                return None;
            }
            let mut line = Vec::new();
            self.write(index, &mut line, &mut Tally::default());
            let value: serde_json::Value = serde_json::from_slice(&line).ok()?;
            ["request_id", "job_id"]
                .iter()
                .find_map(|key| value.get(key)?.as_str().map(str::to_owned))
        })
    }

    /// Appends line `index` and its newline to `out`, and counts it.
    pub fn write(&self, index: u64, out: &mut Vec<u8>, tally: &mut Tally) {
        let mut rng = Rng::for_item(SEED, index);
        let category = self.category(index, &mut rng);
        let base = self.start_nanos
            + (i128::from(SPAN_NANOS) * i128::from(index) / i128::from(self.lines.max(1))) as i64;
        let jitter = rng.below(NANOS_PER_SEC as u64) as i64 - NANOS_PER_SEC / 2;
        let ts = (base + jitter).clamp(self.start_nanos, self.end_nanos - 1);
        let before = out.len();
        let mut line = Line {
            rng: &mut rng,
            out: &mut *out,
            ts,
            tally: &mut *tally,
            quarter: self.quarter(),
        };
        // Writing into a Vec cannot fail.
        let _ = match category {
            Category::Sshd => line.sshd(),
            Category::Cron => line.cron(),
            Category::Nginx => line.nginx(),
            Category::Kernel => line.kernel(),
            Category::Segfault => line.segfault(),
            Category::App => line.app(),
        };
        line.out.push(b'\n');
        let written = (line.out.len() - before) as u64;
        tally.lines += 1;
        tally.bytes += written;
    }
}

const HOSTS: [&str; 14] = [
    "lb-01",
    "lb-02",
    "web-01",
    "web-02",
    "web-03",
    "web-04",
    "web-05",
    "web-06",
    "db-01",
    "db-02",
    "worker-01",
    "worker-02",
    "worker-03",
    "worker-04",
];
const PATHS: [&str; 14] = [
    "/api/v1/orders/{}",
    "/api/v1/orders",
    "/api/v1/users/{}",
    "/api/v1/users/{}/settings",
    "/api/v1/products/{}",
    "/api/v1/products",
    "/api/v1/search",
    "/api/v1/cart",
    "/api/v1/checkout",
    "/healthz",
    "/static/js/app.{}.js",
    "/login",
    "/",
    "/favicon.ico",
];
const USER_AGENTS: [&str; 8] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "python-requests/2.32.3",
    "okhttp/4.12.0",
    "curl/8.5.0",
    "Go-http-client/1.1",
];
const METHODS: [(&str, f64); 6] = [
    ("GET", 0.70),
    ("POST", 0.20),
    ("PUT", 0.04),
    ("DELETE", 0.03),
    ("PATCH", 0.02),
    ("HEAD", 0.01),
];
const STATUSES: [(u16, f64); 13] = [
    (200, 0.86),
    (201, 0.03),
    (204, 0.01),
    (304, 0.03),
    (301, 0.005),
    (400, 0.01),
    (401, 0.01),
    (404, 0.025),
    (429, 0.003),
    (499, 0.002),
    (500, 0.01),
    (502, 0.004),
    (503, 0.001),
];

fn weighted<T: Copy>(rng: &mut Rng, table: &[(T, f64)]) -> T {
    let mut roll = rng.unit();
    for &(item, weight) in table {
        if roll < weight {
            return item;
        }
        roll -= weight;
    }
    table[table.len() - 1].0
}

/// One line being written.
struct Line<'a> {
    rng: &'a mut Rng,
    out: &'a mut Vec<u8>,
    ts: i64,
    tally: &'a mut Tally,
    quarter: (i64, i64),
}

type Written = std::io::Result<()>;

impl Line<'_> {
    fn host(&mut self) -> &'static str {
        self.rng.pick(&HOSTS)
    }

    /// One of 20,000 client addresses, the first ones far more often.
    fn client_ip(&mut self) -> String {
        let client = (20_000.0 * self.rng.unit().powi(2)) as u64;
        let mut mix = Rng::for_item(0xC11E, client);
        let first = mix.pick(&[203u64, 198, 185, 93, 81, 66, 45, 176, 37, 24]);
        format!(
            "{first}.{}.{}.{}",
            mix.below(256),
            mix.below(256),
            1 + mix.below(254)
        )
    }

    fn internal_ip(&mut self) -> String {
        format!("10.0.{}.{}", self.rng.below(4), 1 + self.rng.below(254))
    }

    /// One of 5,000 users, skewed towards the first.
    fn user(&mut self) -> String {
        format!("u{:05}", (5000.0 * self.rng.unit().powi(3)) as u64)
    }

    fn uuid(&mut self) -> String {
        let (a, b) = (self.rng.next(), self.rng.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }

    fn path(&mut self) -> String {
        let template = self.rng.pick(&PATHS);
        let id = if template.contains("app.") {
            format!("{:08x}", self.rng.below(4) * 0x1f2e_3d4c)
        } else {
            (1 + self.rng.below(200_000)).to_string()
        };
        template.replace("{}", &id)
    }

    /// A log-normal latency in ms around `median`.
    fn duration_ms(&mut self, median: f64) -> f64 {
        (median * (0.8 * self.rng.normal()).exp() * 1000.0).round() / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_deterministic_and_counted() {
        let data = Dataset::new(1000, 1_795_346_300 * NANOS_PER_SEC);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let (mut tally_a, mut tally_b) = (Tally::default(), Tally::default());
        for index in 0..1000 {
            data.write(index, &mut a, &mut tally_a);
        }
        for index in (0..1000).rev() {
            data.write(index, &mut b, &mut Tally::default());
        }
        let text = String::from_utf8(a.clone()).unwrap_or_default();
        assert_eq!(text.lines().count(), 1000);
        assert_eq!(tally_a.bytes, a.len() as u64);
        assert_eq!(tally_a.rare, RARE_LINES);
        assert_eq!(text.matches(RARE_TERM).count() as u64, RARE_LINES);
        for index in 0..1000 {
            data.write(index, &mut Vec::new(), &mut tally_b);
        }
        assert_eq!(tally_a.common, tally_b.common);
        assert_eq!(a.len(), b.len());
        for line in text.lines().filter(|line| line.starts_with('{')) {
            let value: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
            assert!(value.get("event").is_some(), "{line}");
            let fields = value.as_object().map_or(0, serde_json::Map::len);
            assert!((5..=15).contains(&fields), "{line}");
        }
    }
}
