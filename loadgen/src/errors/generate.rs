//! The errors data set: what the Sentry SDKs of a small web shop send
//! when things break. Events come from [`super::templates`] (a few hundred
//! bugs in a Django shop and a Node API), picked with a skewed, Zipf-like
//! distribution: a handful of issues take most of the events, the long
//! tail a few each, as in real projects.
//!
//! Each event is one envelope, as SDKs send it: an envelope header with
//! the event id, `sent_at`, the SDK and the trace's DSN public key, one
//! `event` item, the whole gzip-compressed. An event has its exception
//! chain with source context, breadcrumbs, tags, the user, the request,
//! contexts, release and environment, and varies per event in values,
//! users (2,000, skewed), hosts, releases and breadcrumbs.
//!
//! Every envelope is a pure function of the seed, its index and the
//! dataset's start time ([`Rng::for_item`]), so any thread can make any
//! part of it and runs are alike.

use std::io::Write as _;

use serde_json::{json, Map, Value};

use super::templates::{templates, ExceptionSpec, FrameSpec, Platform, Template};
use crate::rng::Rng;

pub const SEED: u64 = 0xE220_5EED_0005;
/// Distinct issues (templates) by default.
pub const DEFAULT_ISSUES: usize = 300;
/// The Zipf exponent of the issue distribution.
const SKEW: f64 = 1.1;
/// Users per project; picked with a skew too.
const USERS: u64 = 2000;
/// The events' times spread over this many ms before the start time.
const SPAN_MS: i64 = 10 * 60 * 1000;

const REGIONS: &[&str] = &["eu-west-1", "eu-central-1", "us-east-1", "ap-southeast-2"];
const TIERS: &[&str] = &["free", "pro", "pro", "enterprise"];
const FLAGS: &[&str] = &["new-checkout", "legacy-cart", "fast-search", "none", "none"];
const PY_RELEASES: &[&str] = &["shop@1.4.0", "shop@1.4.1", "shop@1.4.2", "shop@1.5.0"];
const JS_RELEASES: &[&str] = &["shop-api@2.2.9", "shop-api@2.3.0", "shop-api@2.3.1"];
const PY_MODULES: &[(&str, &str)] = &[
    ("django", "4.2.11"),
    ("djangorestframework", "3.15.1"),
    ("psycopg2-binary", "2.9.9"),
    ("celery", "5.3.6"),
    ("redis", "5.0.3"),
    ("requests", "2.31.0"),
    ("urllib3", "2.2.1"),
    ("certifi", "2024.2.2"),
    ("gunicorn", "21.2.0"),
    ("sentry-sdk", "2.75.0"),
    ("stripe", "8.8.0"),
    ("pillow", "10.3.0"),
];
const JS_MODULES: &[(&str, &str)] = &[
    ("express", "4.21.1"),
    ("pg", "8.11.5"),
    ("ioredis", "5.4.1"),
    ("axios", "1.7.2"),
    ("zod", "3.23.8"),
    ("@sentry/node", "8.40.0"),
];

/// The data set: `events` events over `issues` templates.
pub struct Dataset {
    pub events: u64,
    pub templates: Vec<Template>,
    /// Cumulative template weights, for the skewed pick.
    cumulative: Vec<f64>,
    /// Unix ms the event times lead up to.
    pub end_ms: i64,
}

/// One generated event: which template, and its envelope.
pub struct Envelope {
    pub template: usize,
    /// As sent: gzip-compressed.
    pub body: Vec<u8>,
    /// Before compression.
    pub raw_bytes: usize,
}

impl Dataset {
    pub fn new(events: u64, issues: usize, end_ms: i64) -> Dataset {
        let templates = templates(SEED, issues.max(1));
        let mut total = 0.0;
        let cumulative = (1..=templates.len())
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(SKEW);
                total
            })
            .collect();
        Dataset {
            events,
            templates,
            cumulative,
            end_ms,
        }
    }

    fn pick_template(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let target = rng.unit() * total;
        self.cumulative
            .partition_point(|&c| c <= target)
            .min(self.templates.len() - 1)
    }

    /// Event `index` as its JSON payload and its envelope header.
    pub fn event(&self, index: u64, public_key: &str) -> (usize, Value, Value) {
        let mut rng = Rng::for_item(SEED, index);
        let which = self.pick_template(&mut rng);
        let template = &self.templates[which];
        let event_id = format!("{:016x}{:016x}", rng.next(), rng.next());
        let offset = SPAN_MS - SPAN_MS * index as i64 / self.events.max(1) as i64;
        let at_ms = self.end_ms - offset;
        let trace_id = format!("{:016x}{:016x}", rng.next(), rng.next());
        let span_id = format!("{:016x}", rng.next());
        // Skewed: a few users meet most of the errors.
        let user = (rng.unit().powi(3) * USERS as f64) as u64;
        let host = format!("web-{}", 1 + rng.below(12));
        let releases = match template.platform {
            Platform::Python => PY_RELEASES,
            Platform::Node => JS_RELEASES,
        };
        // Newer releases carry more of the traffic.
        let release = releases[releases.len()
            - 1
            - (rng.unit().powi(2) * releases.len() as f64) as usize % releases.len()];
        let environment = if rng.below(8) == 0 {
            "staging"
        } else {
            "production"
        };
        let order = 10_000 + rng.below(90_000);
        let exceptions: Vec<Value> = template
            .chain
            .iter()
            .map(|exception| exception_json(&mut rng, template, exception, order))
            .collect();
        let path = template
            .transaction
            .split_once(' ')
            .map_or("/", |(_, path)| path)
            .replace("{id}", &order.to_string());
        let breadcrumbs = breadcrumbs(&mut rng, template.platform, at_ms);
        let mut event = json!({
            "event_id": event_id,
            "level": if rng.below(20) == 0 { "fatal" } else { "error" },
            "exception": {"values": exceptions},
            "release": release,
            "environment": environment,
            "server_name": host,
            "transaction": template.transaction,
            "user": {
                "id": format!("u{user}"),
                "email": format!("customer{user}@example.com"),
                "ip_address": format!("10.{}.{}.{}", user % 7, user % 251, 1 + user % 200),
            },
            "tags": {
                "region": rng.pick(REGIONS),
                "customer_tier": rng.pick(TIERS),
                "feature_flag": rng.pick(FLAGS),
            },
            "request": {
                "method": template.method,
                "url": format!("https://shop.example.com{path}"),
                "query_string": format!("ref=mail&page={}", 1 + rng.below(5)),
                "headers": {
                    "Host": "shop.example.com",
                    "User-Agent": rng.pick(&[
                        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
                        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
                    ]),
                    "Accept": "application/json",
                    "Content-Type": "application/json",
                    "X-Request-Id": format!("{:016x}", rng.next()),
                },
            },
            "contexts": {
                "trace": {"trace_id": trace_id, "span_id": span_id, "op": "http.server"},
            },
            "breadcrumbs": breadcrumbs,
        });
        let (platform, sdk) = match template.platform {
            Platform::Python => {
                event["platform"] = json!("python");
                event["timestamp"] = json!(rfc3339_micros(at_ms * 1000 + rng.below(1000) as i64));
                event["contexts"]["runtime"] = json!({"name": "CPython", "version": "3.11.9"});
                event["contexts"]["os"] = json!({"name": "Linux", "version": "6.1.0-21-amd64"});
                event["modules"] = modules(PY_MODULES);
                event["extra"] =
                    json!({"sys.argv": ["/usr/local/bin/gunicorn", "shop.wsgi", "-w", "4"]});
                (
                    "python",
                    json!({"name": "sentry.python.django", "version": "2.75.0",
                        "packages": [{"name": "pypi:sentry-sdk", "version": "2.75.0"}],
                        "integrations": ["django", "celery", "redis", "logging", "stdlib", "threading"]}),
                )
            }
            Platform::Node => {
                event["platform"] = json!("node");
                event["timestamp"] =
                    json!((at_ms as f64 + rng.below(1000) as f64 / 1000.0) / 1000.0);
                event["contexts"]["runtime"] = json!({"name": "node", "version": "v22.11.0"});
                event["contexts"]["os"] =
                    json!({"name": "Linux", "kernel_version": "6.1.0-21-amd64"});
                event["contexts"]["app"] = json!({"app_start_time": rfc3339_micros((at_ms - 3_600_000) * 1000), "app_memory": 180_000_000 + rng.below(90_000_000)});
                event["modules"] = modules(JS_MODULES);
                (
                    "node",
                    json!({"name": "sentry.javascript.node", "version": "8.40.0",
                        "packages": [{"name": "npm:@sentry/node", "version": "8.40.0"}],
                        "integrations": ["Http", "Express", "Postgres", "OnUncaughtException", "OnUnhandledRejection"]}),
                )
            }
        };
        event["sdk"] = sdk.clone();
        let header = json!({
            "event_id": event_id,
            "sent_at": rfc3339_micros(at_ms * 1000 + 20_000),
            "sdk": {"name": sdk["name"], "version": sdk["version"]},
            "trace": {
                "trace_id": trace_id,
                "environment": environment,
                "release": release,
                "public_key": public_key,
                "transaction": template.transaction,
                "sample_rate": "1.0",
            },
        });
        let _ = platform;
        (which, event, header)
    }

    /// Event `index` as the gzip-compressed envelope an SDK sends.
    pub fn envelope(&self, index: u64, public_key: &str) -> Envelope {
        let (template, event, header) = self.event(index, public_key);
        let payload = serde_json::to_vec(&event).unwrap_or_default();
        let mut raw = serde_json::to_vec(&header).unwrap_or_default();
        raw.push(b'\n');
        raw.extend_from_slice(
            format!(
                "{{\"type\":\"event\",\"content_type\":\"application/json\",\"length\":{}}}\n",
                payload.len()
            )
            .as_bytes(),
        );
        raw.extend_from_slice(&payload);
        raw.push(b'\n');
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(raw.len() / 4),
            flate2::Compression::default(),
        );
        // Writing to a Vec cannot fail.
        let _ = encoder.write_all(&raw);
        let body = encoder.finish().unwrap_or_default();
        Envelope {
            template,
            body,
            raw_bytes: raw.len(),
        }
    }
}

fn modules(list: &[(&str, &str)]) -> Value {
    let map: Map<String, Value> = list
        .iter()
        .map(|(name, version)| ((*name).to_owned(), json!(version)))
        .collect();
    Value::Object(map)
}

fn exception_json(
    rng: &mut Rng,
    template: &Template,
    exception: &ExceptionSpec,
    order: u64,
) -> Value {
    let detail = match rng.below(3) {
        0 => format!("A-{order}"),
        1 => format!("{}", rng.below(100_000)),
        _ => format!("sku_{}", rng.below(5000)),
    };
    let frames: Vec<Value> = exception
        .frames
        .iter()
        .map(|frame| frame_json(rng, template.platform, frame))
        .collect();
    let mut value = json!({
        "type": exception.kind,
        "value": exception.value.replace("{}", &detail),
        "stacktrace": {"frames": frames},
        "mechanism": {"type": template.mechanism, "handled": template.handled},
    });
    if let Some(module) = exception.module {
        value["module"] = json!(module);
    }
    value
}

fn frame_json(rng: &mut Rng, platform: Platform, frame: &FrameSpec) -> Value {
    let mut value = json!({
        "filename": frame.filename,
        "abs_path": frame.abs_path,
        "function": frame.function,
        "module": frame.module,
        "lineno": frame.lineno,
        "in_app": frame.in_app,
        "pre_context": frame.pre_context,
        "context_line": frame.context_line,
        "post_context": frame.post_context,
    });
    if let Some(colno) = frame.colno {
        value["colno"] = json!(colno);
    }
    if platform == Platform::Python {
        let vars: Map<String, Value> = frame
            .vars
            .iter()
            .map(|name| {
                let shown = match *name {
                    "self" => format!(
                        "<{} object at 0x7f{:010x}>",
                        frame.function,
                        rng.below(1 << 40)
                    ),
                    "request" => "<WSGIRequest: POST '/api/orders'>".to_owned(),
                    "kwargs" => format!("{{'id': {}}}", rng.below(100_000)),
                    "args" => "()".to_owned(),
                    "response" => "None".to_owned(),
                    _ => format!("<Model: {name} {}>", rng.below(100_000)),
                };
                ((*name).to_owned(), json!(shown))
            })
            .collect();
        value["vars"] = Value::Object(vars);
    }
    value
}

fn breadcrumbs(rng: &mut Rng, platform: Platform, at_ms: i64) -> Value {
    let count = 5 + rng.below(20) as i64;
    let crumbs: Vec<Value> = (0..count)
        .map(|i| {
            let ms = at_ms - (count - i) * 40 - rng.below(30) as i64;
            let timestamp = match platform {
                Platform::Python => json!(rfc3339_micros(ms * 1000)),
                Platform::Node => json!(ms as f64 / 1000.0),
            };
            match rng.below(4) {
                0 => json!({"type": "http", "category": "httplib", "level": "info", "timestamp": timestamp,
                    "data": {"method": "GET", "url": format!("http://inventory.internal/items/{}", rng.below(5000)),
                        "status_code": rng.pick(&[200, 200, 200, 404, 502])}}),
                1 => json!({"type": "default", "category": "query", "level": "info", "timestamp": timestamp,
                    "message": format!("SELECT \"orders\".\"id\", \"orders\".\"total\" FROM \"orders\" WHERE \"orders\".\"customer_id\" = {} LIMIT 21", rng.below(100_000))}),
                2 => json!({"type": "default", "category": "redis", "level": "info", "timestamp": timestamp,
                    "message": format!("GET cart:{}", rng.below(100_000))}),
                _ => json!({"type": "log", "category": "shop", "level": rng.pick(&["info", "warning"]), "timestamp": timestamp,
                    "message": format!("cart {} has {} items", rng.below(100_000), rng.below(12))}),
            }
        })
        .collect();
    match platform {
        Platform::Python => json!({"values": crumbs}),
        Platform::Node => json!(crumbs),
    }
}

/// `2026-11-22T11:47:10.061164Z` for Unix microseconds.
pub fn rfc3339_micros(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{fraction:06}Z",
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60
    )
}

/// Howard Hinnant's days-to-civil, for the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::io::Read as _;

    use partout_protocols::sentry::envelope::{parse_envelope, EnvelopeLimits};
    use partout_protocols::sentry::event::{normalize_event, NormalizeLimits};
    use partout_protocols::sentry::grouping::group_event;

    use super::*;

    const END_MS: i64 = 1_800_000_000_000;

    fn gunzip(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn the_same_seed_makes_the_same_envelopes() {
        let a = Dataset::new(1000, 50, END_MS);
        let b = Dataset::new(1000, 50, END_MS);
        for index in [0, 1, 499, 999] {
            let (x, y) = (a.envelope(index, "k"), b.envelope(index, "k"));
            assert_eq!(x.template, y.template);
            assert_eq!(gunzip(&x.body), gunzip(&y.body));
        }
        assert_ne!(
            gunzip(&a.envelope(1, "k").body),
            gunzip(&a.envelope(2, "k").body)
        );
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339_micros(1_795_348_030_061_164),
            "2026-11-22T11:47:10.061164Z"
        );
    }

    #[test]
    fn envelopes_parse_and_group_by_template_as_partout_does() {
        let data = Dataset::new(800, 40, END_MS);
        let mut keys_of_template: Vec<HashSet<String>> = vec![HashSet::new(); 40];
        let mut counts = vec![0u64; 40];
        for index in 0..800 {
            let envelope = data.envelope(index, "0123456789abcdef0123456789abcdef");
            let raw = gunzip(&envelope.body);
            assert_eq!(raw.len(), envelope.raw_bytes);
            let parsed = parse_envelope(&raw, &EnvelopeLimits::default()).unwrap();
            assert_eq!(parsed.items.len(), 1);
            let event =
                normalize_event(parsed.items[0].payload, &NormalizeLimits::default()).unwrap();
            let frames = event
                .exceptions
                .last()
                .unwrap()
                .stacktrace
                .as_ref()
                .unwrap()
                .frames
                .len();
            assert!((20..=40).contains(&frames), "{frames} frames");
            keys_of_template[envelope.template].insert(group_event(&event).key);
            counts[envelope.template] += 1;
        }
        let mut all = HashSet::new();
        for keys in &keys_of_template {
            assert!(
                keys.len() <= 1,
                "a template split into {} issues",
                keys.len()
            );
            all.extend(keys.iter().cloned());
        }
        let used = counts.iter().filter(|&&c| c > 0).count();
        assert_eq!(all.len(), used, "two templates grouped together");
        // Skewed: the top issue takes far more than the median one.
        let mut sorted = counts.clone();
        sorted.sort_unstable();
        assert!(sorted[39] > 10 * sorted[20].max(1), "{sorted:?}");
    }
}
