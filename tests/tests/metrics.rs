//! StatsD (UDP and TCP) and carbon (TCP, UDP and pickle) into the real
//! binary, read back through the Graphite API: exact counter totals, gauge
//! deltas, timer percentiles within the sketch's 1% of an exact computation,
//! carbon points at their slots, pickles written by the real Python pickle
//! module, and data that survives restarts and shutdowns.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use partout_e2e::{http, Partout};
use serde_json::Value;

const FLUSH_1S: &[&str] = &["--metrics-flush-interval-secs", "1"];

fn addr(partout: &Partout, key: &str) -> String {
    partout
        .addrs
        .get(key)
        .unwrap_or_else(|| panic!("{key} not bound: {:?}", partout.addrs))
        .clone()
}

fn send_udp(partout: &Partout, key: &str, datagrams: &[String]) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for datagram in datagrams {
        socket
            .send_to(datagram.as_bytes(), addr(partout, key))
            .unwrap();
        // Loopback drops nothing at this pace; be gentle anyway.
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn send_tcp(partout: &Partout, key: &str, text: &str) {
    let mut stream = TcpStream::connect(addr(partout, key)).unwrap();
    stream.write_all(text.as_bytes()).unwrap();
}

fn render(partout: &Partout, query: &str) -> Vec<Value> {
    let url = format!("{}/render?format=json&{query}", partout.url());
    let response = http().get(&url).send().unwrap();
    assert_eq!(
        response.status(),
        200,
        "{url}: {}",
        response.text().unwrap_or_default()
    );
    response.json().unwrap()
}

/// `GET <path>` as JSON.
fn get_json(partout: &Partout, path: &str) -> Value {
    http()
        .get(format!("{}{path}", partout.url()))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// The `/metrics` exposition, or `None` while the server does not answer.
fn metrics_text(partout: &Partout) -> Option<String> {
    http()
        .get(format!("{}/metrics", partout.url()))
        .send()
        .ok()?
        .text()
        .ok()
}

fn values(series: &Value) -> Vec<f64> {
    series["datapoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p[0].as_f64())
        .collect()
}

/// Polls `check` until it returns `Some`, for at most 15 s.
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Sum of every datapoint of one target over the last 10 minutes.
fn total(partout: &Partout, target: &str) -> f64 {
    render(partout, &format!("from=-10min&target={target}"))
        .iter()
        .flat_map(values)
        .sum()
}

/// Nearest-rank percentile, the definition statsd and Graphite use.
fn exact_percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
    sorted[rank - 1]
}

#[test]
fn statsd_over_udp_and_tcp_reads_back_exactly() {
    let partout = Partout::start_with(None, FLUSH_1S);

    // Counters: 300 datagrams of 1, plus sampled lines over TCP worth 40.
    let counters: Vec<String> = (0..300).map(|_| "e2e.hits:1|c".to_owned()).collect();
    send_udp(&partout, "statsd_udp", &counters);
    send_tcp(
        &partout,
        "statsd_tcp",
        "e2e.hits:2|c|@0.1\ne2e.hits:4|c|@0.2\n",
    );
    // Gauges: absolute then deltas.
    send_udp(
        &partout,
        "statsd_udp",
        &["e2e.queue:100|g\ne2e.queue:+25|g\ne2e.queue:-5|g".to_owned()],
    );
    // Timers: a long-tailed latency distribution, split across transports.
    let samples: Vec<f64> = (1..=2000)
        .map(|i| 1.0 + (f64::from(i) / 2000.0).powi(8) * 5000.0)
        .collect();
    let (over_udp, over_tcp) = samples.split_at(1500);
    let datagrams: Vec<String> = over_udp
        .chunks(50)
        .map(|c| {
            c.iter()
                .map(|v| format!("e2e.latency:{v}|ms"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    send_udp(&partout, "statsd_udp", &datagrams);
    let tcp_lines: String = over_tcp
        .iter()
        .map(|v| format!("e2e.latency:{v}|ms\n"))
        .collect();
    send_tcp(&partout, "statsd_tcp", &tcp_lines);
    // Meters (metricsd's `m`): marked events, counted as a counter.
    send_udp(
        &partout,
        "statsd_udp",
        &["e2e.logins:3|m\ne2e.logins:1|m|@0.5".to_owned()],
    );
    // Sets and one bad line among good ones.
    send_udp(
        &partout,
        "statsd_udp",
        &["e2e.users:ann|s\ne2e.users:bob|s\nnot a metric\ne2e.users:ann|s".to_owned()],
    );

    eventually("all counter increments", || {
        (total(&partout, "stats.counters.e2e.hits.count") == 340.0).then_some(())
    });
    eventually("both meter marks", || {
        (total(&partout, "stats.counters.e2e.logins.count") == 5.0).then_some(())
    });
    eventually("every timer sample", || {
        (total(&partout, "stats.timers.e2e.latency.count") == 2000.0).then_some(())
    });

    let gauge = render(&partout, "from=-10min&target=stats.gauges.e2e.queue");
    assert_eq!(values(&gauge[0]).last().copied(), Some(120.0));
    assert_eq!(total(&partout, "stats.sets.e2e.users.count"), 2.0);

    // Over the whole range (one output point), timer statistics come from
    // the merged sketches: exact count/min/max/sum, percentiles within 1%.
    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    let one_point = |leaf: &str| -> f64 {
        let series = render(
            &partout,
            &format!("from=-10min&maxDataPoints=1&target=stats.timers.e2e.latency.{leaf}"),
        );
        let points = values(&series[0]);
        assert_eq!(points.len(), 1, "{leaf}: {series:?}");
        points[0]
    };
    assert_eq!(one_point("count"), 2000.0);
    assert_eq!(one_point("lower"), sorted[0]);
    assert_eq!(one_point("upper"), sorted[1999]);
    let sum: f64 = samples.iter().sum();
    assert!((one_point("sum") - sum).abs() < 1e-6 * sum);
    for (leaf, q) in [
        ("median", 0.5),
        ("upper_90", 0.9),
        ("upper_99", 0.99),
        ("upper_99_9", 0.999),
        ("upper_99_99", 0.9999),
    ] {
        let truth = exact_percentile(&sorted, q);
        let got = one_point(leaf);
        assert!(
            (got - truth).abs() <= 0.01 * truth,
            "{leaf}: got {got}, exact {truth}"
        );
    }

    // The native API answers the same question from the same sketches.
    let answer: Value = get_json(
        &partout,
        "/api/v1/metrics/quantiles?name=e2e.latency&q=0.5,0.99,0.9999&from=-10min&until=now",
    );
    assert_eq!(answer["count"], 2000);
    for (i, q) in [0.5, 0.99, 0.9999].iter().enumerate() {
        let truth = exact_percentile(&sorted, *q);
        let got = answer["quantiles"][i]["value"].as_f64().unwrap();
        assert!(
            (got - truth).abs() <= 0.01 * truth,
            "q {q}: got {got}, exact {truth}"
        );
    }
    // Points at a chosen step and consolidation: the counter's hourly sums
    // add up to every hit, sample rates applied (300 + 2/0.1 + 4/0.2).
    let counters = get_json(
        &partout,
        "/api/v1/metrics/series?match=stats.counters.e2e.*",
    );
    let counter_name = counters[0]["name"].as_str().unwrap().to_owned();
    let hourly = get_json(
        &partout,
        &format!("/api/v1/metrics/points?name={counter_name}&from=-10min&until=now&step=1h&consolidation=sum"),
    );
    assert_eq!(hourly["step"], 3600);
    let total: f64 = hourly["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p[1].as_f64())
        .sum();
    assert_eq!(total, 340.0, "{hourly}");

    let found = get_json(&partout, "/api/v1/metrics/series?match=stats.timers.e2e.*");
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["kind"], "timer");
    assert!(found[0]["graphite_names"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n == "stats.timers.e2e.latency.upper_99"));
    // A text finds names containing it, across nodes; a limit cuts.
    let by_text = get_json(&partout, "/api/v1/metrics/series?contains=E2E.LAT");
    assert_eq!(by_text, Value::Array(found.clone()));
    let one = get_json(&partout, "/api/v1/metrics/series?contains=e2e&limit=1");
    assert_eq!(one.as_array().map(Vec::len), Some(1));
    let both = http()
        .get(format!(
            "{}/api/v1/metrics/series?match=*&contains=e2e",
            partout.url()
        ))
        .send()
        .unwrap();
    assert_eq!(both.status(), 400);

    // The bad line was counted, the rest accepted.
    let metrics = metrics_text(&partout).unwrap();
    assert!(
        metrics.contains(
            "partout_rejected_items_total{protocol=\"statsd\",reason=\"missing_value\"} 1"
        ),
        "{metrics}"
    );
    let accepted: f64 = metrics
        .lines()
        .find(|l| l.starts_with("partout_ingested_items_total{protocol=\"statsd\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    // Counters, gauges, timers, meters, sets.
    assert_eq!(accepted, 300.0 + 2.0 + 3.0 + 2000.0 + 2.0 + 3.0);
}

#[test]
fn carbon_over_tcp_and_udp_lands_in_its_slots() {
    let partout = Partout::start_with(None, FLUSH_1S);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let base = now - now % 60 - 120;
    let tcp: String = (0..10)
        .map(|i| format!("e2e.web1.load {}.5 {}\n", i, base + i * 6))
        .collect();
    send_tcp(&partout, "carbon_tcp", &tcp);
    send_udp(&partout, "carbon_udp", &[format!("e2e.web2.load 7 {base}\ne2e.web2.load 8 {}\ne2e.disk;host=db1;mount=/var 91 {base}\ngarbage", base + 1)]);
    // A broken clock: far in the future, and before any retention.
    send_tcp(
        &partout,
        "carbon_tcp",
        &format!("e2e.future 1 {}\ne2e.ancient 1 1000\n", now + 86_400),
    );

    let web1 = eventually("carbon tcp points", || {
        let series = render(
            &partout,
            &format!("from={}&until={}&target=e2e.web1.load", base, base + 60),
        );
        (values(series.first()?).len() == 10).then_some(series)
    });
    let points: Vec<(f64, i64)> = web1[0]["datapoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| Some((p[0].as_f64()?, p[1].as_i64()?)))
        .collect();
    assert_eq!(points[0], (0.5, base));
    assert_eq!(points[9], (9.5, base + 54));

    // Two points in one 1-second slot? No: base and base+1 are two slots.
    let web2 = eventually("carbon udp points", || {
        let series = render(
            &partout,
            &format!("from={base}&until={}&target=e2e.web2.load", base + 10),
        );
        (values(series.first()?).len() == 2).then_some(series)
    });
    assert_eq!(values(&web2[0]), [7.0, 8.0]);

    // Globs, functions and tags through the same API.
    let sum = render(
        &partout,
        &format!(
            "from={base}&until={}&target=sumSeries(e2e.{{web1,web2}}.load)",
            base + 1
        ),
    );
    assert_eq!(sum[0]["target"], "sumSeries(e2e.{web1,web2}.load)");
    // Both buckets overlapping [base, base + 1]: web2 alone in the second.
    assert_eq!(values(&sum[0]), [7.5, 8.0]);
    let tagged = render(
        &partout,
        &format!(
            "from={base}&until={}&target=seriesByTag('name=e2e.disk','host=db1')",
            base + 1
        ),
    );
    assert_eq!(tagged[0]["tags"]["mount"], "/var");
    assert_eq!(values(&tagged[0]), [91.0]);

    let find = get_json(&partout, "/metrics/find?query=e2e.*");
    let find = find.as_array().unwrap();
    let ids: Vec<&str> = find.iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["e2e.web1", "e2e.web2"],
        "tagged series are found by tag, not by path"
    );
    let expand: Value = get_json(&partout, "/metrics/expand?query=e2e.*.load&leavesOnly=1");
    assert_eq!(
        expand["results"],
        serde_json::json!(["e2e.web1.load", "e2e.web2.load"])
    );

    // Grafana posts its targets as a form.
    let form = http()
        .post(format!("{}/render", partout.url()))
        .form(&[
            ("target", "e2e.web2.load"),
            ("from", &base.to_string()),
            ("until", &(base + 2).to_string()),
            ("format", "json"),
        ])
        .send()
        .unwrap();
    let posted: Vec<Value> = form.json().unwrap();
    assert_eq!(values(&posted[0]), [7.0, 8.0]);

    // The tag endpoints Grafana's query editor calls.
    assert_eq!(
        get_json(&partout, "/tags/autoComplete/tags?expr=name%3De2e.disk"),
        serde_json::json!(["host", "mount"])
    );
    assert_eq!(
        get_json(
            &partout,
            "/tags/autoComplete/values?tag=host&expr=name%3De2e.disk"
        ),
        serde_json::json!(["db1"])
    );
    assert_eq!(
        get_json(&partout, "/tags/findSeries?expr=host%3Ddb1"),
        serde_json::json!(["e2e.disk;host=db1;mount=/var"])
    );

    // The broken-clock points were refused, counted, and never stored.
    eventually("broken-clock points counted", || {
        let metrics = metrics_text(&partout)?;
        ["timestamp_in_future", "timestamp_too_old"]
            .iter()
            .all(|reason| {
                metrics.contains(&format!(
                    "partout_rejected_items_total{{protocol=\"carbon\",reason=\"{reason}\"}} 1"
                ))
            })
            .then_some(())
    });
    let expand: Value = get_json(&partout, "/metrics/expand?query=e2e.*");
    assert_eq!(
        expand["results"],
        serde_json::json!(["e2e.web1", "e2e.web2"])
    );

    let bad = http()
        .get(format!("{}/render?target=sumSeries(e2e.*", partout.url()))
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().unwrap().contains("bad target"));
}

#[test]
fn metrics_survive_a_restart_and_a_shutdown_mid_interval() {
    // Default 10 s flush: a counter sent just before SIGTERM is only in the
    // aggregator, and the shutdown must write it.
    let mut partout = Partout::start();
    send_udp(
        &partout,
        "statsd_udp",
        &["e2e.restart:5|c\ne2e.restart:7|c".to_owned()],
    );
    send_tcp(&partout, "carbon_tcp", "e2e.kept 42 1700000000\n");
    // Wait until the UDP datagram has been received (counted), not stored.
    eventually("statsd lines received", || {
        let metrics = metrics_text(&partout)?;
        metrics
            .contains("partout_ingested_items_total{protocol=\"statsd\"} 2")
            .then_some(())
    });
    let data_dir = partout.data_dir.clone();
    // Stop, but keep `partout` (and so its temporary data dir) alive.
    partout.signal(libc::SIGTERM);
    assert!(partout.wait_exit().success(), "{}", partout.log());

    let restarted = Partout::start_with(Some(&data_dir), &[]);
    let restored = total(&restarted, "stats.counters.e2e.restart.count");
    assert_eq!(
        restored,
        12.0,
        "first run:\n{}\nrestart:\n{}",
        partout.log(),
        restarted.log()
    );
    let kept = render(
        &restarted,
        "from=1699999990&until=1700000010&target=e2e.kept",
    );
    assert_eq!(values(&kept[0]), [42.0]);
    drop(partout);
}

/// `literal` (a Python expression) pickled by the real `pickle` module of
/// `python3`, as carbon-relay and other Python senders write it.
fn python_pickle(protocol: u8, literal: &str) -> Vec<u8> {
    let script = format!(
        "import pickle, sys; sys.stdout.buffer.write(pickle.dumps({literal}, protocol={protocol}))"
    );
    let output = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 is needed to write the pickles of this test");
    assert!(
        output.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Sends `messages` over one connection, each with its 4-byte big-endian
/// length, as carbon's pickle protocol frames them.
fn send_pickles(partout: &Partout, messages: &[Vec<u8>]) {
    let mut stream = TcpStream::connect(addr(partout, "carbon_pickle")).unwrap();
    for message in messages {
        let length = u32::try_from(message.len()).unwrap();
        stream.write_all(&length.to_be_bytes()).unwrap();
        stream.write_all(message).unwrap();
    }
}

/// `(value, timestamp)` of every non-null datapoint.
fn datapoints(series: &Value) -> Vec<(f64, i64)> {
    series["datapoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| Some((p[0].as_f64()?, p[1].as_i64()?)))
        .collect()
}

#[test]
fn carbon_pickle_from_python_reads_back_exactly() {
    let partout = Partout::start_with(None, FLUSH_1S);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let base = now - now % 60 - 120;
    // What carbon-relay sends: protocol 2, a list of (str, (int, float)),
    // here with a Graphite 1.1 tagged path too.
    let relay = python_pickle(
        2,
        &format!(
            "[('e2e.pickle.relay', ({base} + i, i * 1.25)) for i in range(5)] \
             + [('e2e.pickle.tagged;dc=par;host=web1', ({base}, 42.5))]"
        ),
    );
    // Protocol 0, as older Python senders write it: a float timestamp (to
    // be floored), an int, a numeric string, a long, and a bad point that
    // must cost only itself.
    let old = python_pickle(
        0,
        &format!(
            "[('e2e.pickle.p0', ({base}.9, 7)), ('e2e.pickle.p0', ({base} + 1, '8.5')), \
              ('e2e.pickle.p0', ({base} + 2, None)), ('e2e.pickle.p0', ({base} + 3, -2**40))]"
        ),
    );
    // An object a naive unpickler would construct: refused whole.
    let object = python_pickle(
        2,
        &format!("[('e2e.pickle.object', ({base}, __import__('decimal').Decimal('1.5')))]"),
    );
    send_pickles(&partout, &[relay, old, object]);

    let relay = eventually("pickled relay points", || {
        let series = render(
            &partout,
            &format!("from={base}&until={}&target=e2e.pickle.relay", base + 10),
        );
        (values(series.first()?).len() == 5).then_some(series)
    });
    assert_eq!(
        datapoints(&relay[0]),
        [
            (0.0, base),
            (1.25, base + 1),
            (2.5, base + 2),
            (3.75, base + 3),
            (5.0, base + 4)
        ]
    );
    let old = eventually("protocol 0 points", || {
        let series = render(
            &partout,
            &format!("from={base}&until={}&target=e2e.pickle.p0", base + 10),
        );
        (values(series.first()?).len() == 3).then_some(series)
    });
    assert_eq!(
        datapoints(&old[0]),
        [
            (7.0, base),
            (8.5, base + 1),
            (-1_099_511_627_776.0, base + 3)
        ]
    );
    let tagged = render(
        &partout,
        &format!(
            "from={base}&until={}&target=seriesByTag('name=e2e.pickle.tagged','dc=par')",
            base + 1
        ),
    );
    assert_eq!(tagged[0]["tags"]["host"], "web1");
    assert_eq!(datapoints(&tagged[0]), [(42.5, base)]);

    // The refused object left no series behind, and every refusal and
    // acceptance is counted under the pickle listener's own label.
    let expand: Value = get_json(&partout, "/metrics/expand?query=e2e.pickle.*");
    assert_eq!(
        expand["results"],
        serde_json::json!(["e2e.pickle.p0", "e2e.pickle.relay"])
    );
    eventually("pickle counters", || {
        let metrics = metrics_text(&partout)?;
        [
            "partout_ingested_items_total{protocol=\"carbon_pickle\"} 9",
            "partout_rejected_items_total{protocol=\"carbon_pickle\",reason=\"bad_value\"} 1",
            "partout_rejected_items_total{protocol=\"carbon_pickle\",reason=\"pickle_opcode\"} 1",
        ]
        .iter()
        .all(|line| metrics.contains(line))
        .then_some(())
    });
}
