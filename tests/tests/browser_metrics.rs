//! The metrics page in a real browser: carbon points and StatsD timings
//! sent to the real binary, and a deploy posted through the API, are
//! found by name, charted with the deploy marked, and a timer's
//! percentiles read, and a refreshing chart picks up a new point; the
//! deploy is listed on the deploys page and leads to
//! its logs, in headless Chromium. Screenshots go to
//! `<target>/e2e-output/browser_metrics`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use partout_e2e::webdriver::Browser;
use partout_e2e::{http, output_dir, Partout};
use serde_json::{json, Value};

const TOKEN: &str = partout_e2e::E2E_TOKEN;
const RENDER_TIMEOUT: Duration = Duration::from_secs(30);
const ENTER: &str = "\u{E007}";
/// Timings the StatsD timer gets: 1 to 1000 ms, once each.
const TIMINGS: u32 = 1000;

fn now_s() -> i64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since_epoch.as_secs()).unwrap()
}

/// An hour of a load average every 10 s: 0.5 before the deploy half an
/// hour ago, 1.5 after it (web1); a steady 0.25 (web2).
fn send_carbon(partout: &Partout, now: i64, deploy: i64) {
    let mut text = String::new();
    for at in (now - 3_600..now).step_by(10) {
        let web1 = if at < deploy { 0.5 } else { 1.5 };
        text.push_str(&format!("servers.web1.load {web1} {at}\n"));
        text.push_str(&format!("servers.web2.load 0.25 {at}\n"));
    }
    let mut stream = TcpStream::connect(&partout.addrs["carbon_tcp"]).unwrap();
    stream.write_all(text.as_bytes()).unwrap();
}

fn send_timings(partout: &Partout) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let lines: Vec<String> = (1..=TIMINGS)
        .map(|ms| format!("web.checkout:{ms}|ms"))
        .collect();
    for chunk in lines.chunks(50) {
        socket
            .send_to(chunk.join("\n").as_bytes(), &partout.addrs["statsd_udp"])
            .unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn post_deploy(partout: &Partout, at_ms: i64) {
    let response = http()
        .post(format!("{}/api/v1/deploys", partout.url()))
        .bearer_auth(TOKEN)
        .json(&json!({
            "service": "api", "version": "1.4.2", "environment": "prod",
            "deployed_by": "ci", "deployed_at_ms": at_ms
        }))
        .send()
        .unwrap();
    assert_eq!(response.status(), 201, "{:?}", response.text());
}

fn api(partout: &Partout, path_and_query: &str) -> Value {
    let response = http()
        .get(format!("{}{path_and_query}", partout.url()))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200, "{path_and_query}");
    response.json().unwrap()
}

/// Waits until the API lists the timer and answers all its samples; its
/// stored name.
fn wait_for_timer(partout: &Partout) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let series = api(partout, "/api/v1/metrics/series?contains=");
        let timer = series.as_array().unwrap().iter().find_map(|series| {
            (series["kind"] == "timer").then(|| series["name"].as_str().unwrap().to_owned())
        });
        if let Some(name) = timer {
            let quantiles = api(
                partout,
                &format!("/api/v1/metrics/quantiles?name={name}&from=-1h"),
            );
            if quantiles["count"] == TIMINGS {
                return name;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the timer never arrived whole\n{}",
            partout.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether the current URL has `pair` in its query.
fn url_has(browser: &Browser, pair: &str) -> bool {
    browser.current_url().contains(pair)
}

#[test]
fn metrics_page_finds_charts_marks_deploys_and_reads_percentiles() {
    let out = output_dir("browser_metrics");
    let partout = Partout::start_with(
        None,
        &[
            "--bootstrap-token",
            TOKEN,
            "--metrics-flush-interval-secs",
            "1",
        ],
    );
    let now = now_s();
    let deploy = now - 1_800;
    send_carbon(&partout, now, deploy);
    send_timings(&partout);
    post_deploy(&partout, deploy * 1000);
    let timer = wait_for_timer(&partout);

    let browser = Browser::start().unwrap();
    browser
        .sign_in(
            &format!("{}/ui/metrics?match=servers.*.load&from=-1h", partout.url()),
            "admin",
            partout_e2e::ADMIN_PASSWORD,
        )
        .unwrap();
    browser.wait_until(
        "both servers are listed",
        "return document.querySelectorAll('#series-list a.series').length === 2",
        &out,
    );
    let names = browser.execute(
        "return [...document.querySelectorAll('#series-list a.series')].map(a => a.dataset.name)",
    );
    assert_eq!(names, json!(["servers.web1.load", "servers.web2.load"]));

    // Chart web1 over the last hour: 10-second points, the step at the
    // deploy, the deploy marked and listed.
    let web1 = browser
        .find("#series-list a.series[data-name='servers.web1.load']")
        .unwrap();
    browser.click(&web1);
    let summary = browser
        .wait_for_text("#metric-summary", "avg per 10 s", RENDER_TIMEOUT)
        .unwrap();
    assert!(summary.contains("min 0.5"), "{summary}");
    assert!(summary.contains("max 1.5"), "{summary}");
    assert!(summary.contains("last 1.5"), "{summary}");
    let points: u64 = summary
        .split(" · ")
        .find_map(|part| part.strip_suffix(" points"))
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no point count in {summary:?}"));
    assert!((355..=361).contains(&points), "{summary}");
    browser.wait_until(
        "the line and the deploy are drawn",
        "return document.querySelectorAll('[data-testid=metric-chart] path.line').length >= 1
             && document.querySelectorAll('[data-testid=metric-chart] line.deploy').length === 1",
        &out,
    );
    // The marker sits half way across an hour-long chart.
    let marker_x = browser.execute(
        "return Number(document.querySelector('[data-testid=metric-chart] line.deploy').getAttribute('x1'))",
    );
    let marker_x = marker_x.as_f64().unwrap();
    assert!(
        (480.0..=520.0).contains(&marker_x),
        "deploy at x {marker_x}"
    );
    let deploys = browser
        .wait_for_text("#metric-deploys", "api 1.4.2", RENDER_TIMEOUT)
        .unwrap();
    assert!(deploys.contains("by ci"), "{deploys}");
    assert!(url_has(&browser, "name=servers.web1.load"));
    browser.screenshot(&out.join("1-web1-last-hour.png"));

    // Max per bucket over a day: the link holds the choice.
    let max = browser.find("[data-by=max]").unwrap();
    browser.click(&max);
    browser
        .wait_for_text("#metric-summary", "max per 10 s", RENDER_TIMEOUT)
        .unwrap();
    assert!(url_has(&browser, "by=max"));
    let day = browser.find("[data-range='-24h']").unwrap();
    browser.click(&day);
    let summary = browser
        .wait_for_text("#metric-summary", "max per 5 min", RENDER_TIMEOUT)
        .unwrap();
    assert!(
        summary.contains("max 1.5") && summary.contains("min 0.5"),
        "{summary}"
    );

    // Find the timer by name and read its percentiles over the range. A
    // new search leaves the chart as it is (the same element, not redrawn).
    browser
        .execute("document.querySelector('[data-testid=metric-chart] svg').dataset.kept = 'yes'");
    let search = browser.find("#metric-search").unwrap();
    browser.clear(&search);
    // Part of the name is enough: no glob, across its dots.
    browser.send_keys(&search, &format!("checkout{ENTER}"));
    browser.wait_until(
        "the timer is found",
        "return document.querySelectorAll('#series-list a.series').length === 1",
        &out,
    );
    assert_eq!(
        browser.execute(
            "return document.querySelector('[data-testid=metric-chart] svg')?.dataset.kept ?? null"
        ),
        json!("yes"),
        "the chart was drawn again for a new search"
    );
    let timer_link = browser
        .find(&format!("#series-list a.series[data-name='{timer}']"))
        .unwrap();
    browser.click(&timer_link);
    browser
        .wait_for_text("#metric-summary", "p99 per 5 min", RENDER_TIMEOUT)
        .unwrap();
    let caption = browser
        .wait_for_text("#metric-quantiles", "1,000 samples", RENDER_TIMEOUT)
        .unwrap();
    assert!(caption.contains("within 1%"), "{caption}");
    let quantile = |q: &str| -> f64 {
        let text = browser.execute(&format!(
            "return document.querySelector('#metric-quantiles tr[data-q=\"{q}\"] td.value').textContent"
        ));
        text.as_str().unwrap().parse().unwrap()
    };
    // The exact percentiles of 1..=1000 ms, within the sketch's 1% (and
    // the two-digit rounding of the page).
    for (q, exact) in [("0.5", 500.0), ("0.99", 990.0), ("0.999", 999.0)] {
        let shown = quantile(q);
        assert!(
            (shown - exact).abs() <= exact * 0.012,
            "p{q}: {shown} against {exact}"
        );
    }
    browser.screenshot(&out.join("2-timer-percentiles.png"));

    // Refreshing on its own: a point sent after the chart is drawn shows
    // up without a reload, and the link keeps the interval.
    browser.goto(&format!(
        "{}/ui/metrics?name=servers.web1.load&from=-1h",
        partout.url()
    ));
    browser
        .wait_for_text("#metric-summary", "max 1.5", RENDER_TIMEOUT)
        .unwrap();
    let every_5s = browser.find("[data-refresh='5s']").unwrap();
    browser.click(&every_5s);
    browser.wait_until(
        "the link holds the interval",
        "return location.search.includes('refresh=5s')
             && document.querySelector('[data-refresh=\"5s\"]').getAttribute('aria-pressed') === 'true'",
        &out,
    );
    let mut stream = TcpStream::connect(&partout.addrs["carbon_tcp"]).unwrap();
    stream
        .write_all(format!("servers.web1.load 9 {}\n", now_s()).as_bytes())
        .unwrap();
    drop(stream);
    let summary = browser
        .wait_for_text("#metric-summary", "max 9", RENDER_TIMEOUT)
        .unwrap();
    assert!(summary.contains("last 9"), "{summary}");
    assert!(url_has(&browser, "name=servers.web1.load"));
    browser.screenshot(&out.join("3-refreshed.png"));

    // The deploys page lists it, filters, and leads to its logs.
    browser.goto(&format!("{}/ui/deploys", partout.url()));
    let row = browser
        .wait_for_text(
            "#deploy-list tr.deploy[data-service=api]",
            "1.4.2",
            RENDER_TIMEOUT,
        )
        .unwrap();
    assert!(row.contains("prod") && row.contains("ci"), "{row}");
    assert!(
        row.contains("30 min ago") || row.contains("31 min ago"),
        "{row}"
    );
    browser.screenshot(&out.join("3-deploys.png"));
    let environment = browser.find("#deploy-environment").unwrap();
    browser.send_keys(&environment, &format!("staging{ENTER}"));
    browser
        .wait_for_text("#deploys-none", "No deploys", RENDER_TIMEOUT)
        .unwrap();
    assert!(url_has(&browser, "environment=staging"));
    browser.goto(&format!("{}/ui/deploys?environment=prod", partout.url()));
    browser
        .wait_for_text("#deploy-list", "1.4.2", RENDER_TIMEOUT)
        .unwrap();
    let logs = browser.find("#deploy-list a.deploy-logs").unwrap();
    browser.click(&logs);
    browser.wait_until(
        "the logs page opens on the service around the deploy",
        "return location.pathname === '/ui/logs' && location.search.includes('q=service%3Aapi')
             && location.search.includes('until=')",
        &out,
    );

    // The overview puts the day's deploys, errors and log lines together.
    let lines = "{\"msg\":\"payment failed\",\"level\":\"error\",\"service\":\"api\"}\n\
                 {\"msg\":\"served\",\"level\":\"info\",\"service\":\"api\"}\n";
    let response = http()
        .post(format!("{}/api/v1/logs", partout.url()))
        .bearer_auth(TOKEN)
        .body(lines)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(15);
    // The overview counts them from the histogram, which sees a line once
    // its commit is searchable.
    while api(&partout, "/api/v1/logs/histogram?from=-24h")["total"] != 2 {
        assert!(Instant::now() < deadline, "lines never searchable");
        std::thread::sleep(Duration::from_millis(100));
    }
    browser.goto(&format!("{}/", partout.url()));
    let deploys = browser
        .wait_for_text("#last-day-deploys", "api 1.4.2", RENDER_TIMEOUT)
        .unwrap();
    assert!(deploys.contains("(prod)"), "{deploys}");
    let logs = browser
        .wait_for_text("#last-day-logs", "2 lines", RENDER_TIMEOUT)
        .unwrap();
    assert!(
        logs.contains("1 error ·") && logs.contains("0 warnings"),
        "{logs}"
    );
    browser
        .wait_for_text("#last-day-issues", "No errors seen.", RENDER_TIMEOUT)
        .unwrap();
    browser.screenshot(&out.join("4-overview.png"));

    // With `refresh=5s` in the link the card reads its day again on its
    // own: a new warning is counted on the page as it is, not reloaded.
    browser.goto(&format!("{}/?refresh=5s", partout.url()));
    browser
        .wait_for_text("#last-day-logs", "2 lines", RENDER_TIMEOUT)
        .unwrap();
    assert_eq!(
        browser.execute("return document.querySelector('#overview-refresh').value"),
        json!("5s")
    );
    browser.execute("window.partoutSamePage = true; return null;");
    let response = http()
        .post(format!("{}/api/v1/logs", partout.url()))
        .bearer_auth(TOKEN)
        .body("{\"msg\":\"disk almost full\",\"level\":\"warn\",\"service\":\"api\"}\n")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    browser.wait_until(
        "the card counts the new warning without a reload",
        "const logs = document.querySelector('#last-day-logs')?.textContent ?? '';
         return logs.includes('3 lines') && logs.includes('1 warning');",
        &out,
    );
    assert_eq!(
        browser.execute("return window.partoutSamePage === true;"),
        json!(true),
        "the page was reloaded"
    );
    browser.screenshot(&out.join("5-overview-refreshed.png"));
    // Turning it off is written into the link, so a bookmark keeps it.
    let off = browser.find("#overview-refresh option[value=off]").unwrap();
    browser.click(&off);
    browser.wait_until(
        "the link says the overview does not refresh",
        "return location.pathname === '/' && location.search === '?refresh=off';",
        &out,
    );

    // Both servers on one chart: the search's compare link charts them
    // together, a line and a legend row each, on one value axis.
    browser.goto(&format!(
        "{}/ui/metrics?match=servers.*.load&from=-1h",
        partout.url()
    ));
    browser
        .wait_for_text(
            "#compare-link",
            "Chart the first 2 together",
            RENDER_TIMEOUT,
        )
        .unwrap();
    let compare = browser.find("#compare-link").unwrap();
    browser.click(&compare);
    let summary = browser
        .wait_for_text("#metric-summary", "2 series", RENDER_TIMEOUT)
        .unwrap();
    assert!(summary.contains("avg per 10 s"), "{summary}");
    assert!(url_has(&browser, "compare=1"));
    browser.wait_until(
        "a line per server, each in its own colour",
        "const chart = '[data-testid=metric-chart]';
         const first = document.querySelector(chart + ' path.line.series-0');
         const second = document.querySelector(chart + ' path.line.series-1');
         return first !== null && second !== null
             && getComputedStyle(first).stroke !== getComputedStyle(second).stroke;",
        &out,
    );
    let legend = browser.execute(
        "return [...document.querySelectorAll('#metric-legend li')].map(li => li.dataset.name)",
    );
    assert_eq!(legend, json!(["servers.web1.load", "servers.web2.load"]));
    browser
        .wait_for_text(
            "#metric-legend li[data-name='servers.web2.load']",
            "last avg 0.25",
            RENDER_TIMEOUT,
        )
        .unwrap();
    // One axis for both, up to web1's 9: web2's steady 0.25 runs along
    // the bottom (y near 200 of 200), where alone it would fill the chart.
    let web2_heights = browser.execute(
        "const d = document.querySelector('[data-testid=metric-chart] path.line.series-1').getAttribute('d');
         return d.split(/[ML ]+/).filter(p => p).map(p => Number(p.split(',')[1]));",
    );
    let web2_heights: Vec<f64> = serde_json::from_value(web2_heights).unwrap();
    assert!(
        !web2_heights.is_empty() && web2_heights.iter().all(|y| (190.0..=200.0).contains(y)),
        "{web2_heights:?}"
    );
    browser.screenshot(&out.join("6-compared.png"));
    // Two gauges merge alike, so the merge can be chosen for both.
    let max = browser.find("[data-by=max]").unwrap();
    browser.click(&max);
    browser
        .wait_for_text("#metric-summary", "max per 10 s", RENDER_TIMEOUT)
        .unwrap();
    assert!(url_has(&browser, "by=max") && url_has(&browser, "compare=1"));
    browser
        .wait_for_text(
            "#metric-legend li[data-name='servers.web2.load']",
            "last max 0.25",
            RENDER_TIMEOUT,
        )
        .unwrap();
    // A legend row opens its series alone.
    let web2 = browser
        .find("#metric-legend li[data-name='servers.web2.load'] a")
        .unwrap();
    browser.click(&web2);
    browser
        .wait_for_text("#metric-title", "servers.web2.load", RENDER_TIMEOUT)
        .unwrap();
    assert!(url_has(&browser, "name=servers.web2.load"));
    assert!(!url_has(&browser, "compare=1"));

    // Series picked from two searches, charted together: web2's load
    // and the checkout timer, each merged its own kind's way.
    let pick_web2 = browser
        .find("#series-list input.pick[data-name='servers.web2.load']")
        .unwrap();
    browser.click(&pick_web2);
    browser.wait_until(
        "the link holds the pick",
        "return new URLSearchParams(location.search).getAll('pick').join() === 'servers.web2.load';",
        &out,
    );
    browser
        .wait_for_text("#compare-link", "Chart the picked series", RENDER_TIMEOUT)
        .unwrap();
    let search = browser.find("#metric-search").unwrap();
    browser.clear(&search);
    browser.send_keys(&search, &format!("checkout{ENTER}"));
    browser.wait_until(
        "the timer is found, and not yet picked",
        "const boxes = document.querySelectorAll('#series-list input.pick');
         return boxes.length === 1 && !boxes[0].checked;",
        &out,
    );
    let pick_timer = browser
        .find(&format!("#series-list input.pick[data-name='{timer}']"))
        .unwrap();
    browser.click(&pick_timer);
    browser
        .wait_for_text(
            "#compare-link",
            "Chart the 2 picked together",
            RENDER_TIMEOUT,
        )
        .unwrap();
    let compare = browser.find("#compare-link").unwrap();
    browser.click(&compare);
    browser
        .wait_for_text("#metric-title", "Picked series", RENDER_TIMEOUT)
        .unwrap();
    let summary = browser
        .wait_for_text("#metric-summary", "2 series", RENDER_TIMEOUT)
        .unwrap();
    assert!(summary.contains("timers at p99"), "{summary}");
    let legend = browser.execute(
        "return [...document.querySelectorAll('#metric-legend li')].map(li => li.dataset.name)",
    );
    assert_eq!(
        legend,
        json!(["servers.web2.load", timer]),
        "in the order picked"
    );
    browser
        .wait_for_text(
            &format!("#metric-legend li[data-name='{timer}']"),
            "last p99",
            RENDER_TIMEOUT,
        )
        .unwrap();
    assert!(url_has(&browser, "compare=1"));
    // A load average beside milliseconds: each on its own scale, web2's
    // steady 0.25 runs across the middle instead of along the bottom.
    let each = browser.find("[data-scale=each]").unwrap();
    browser.click(&each);
    browser
        .wait_for_text("#metric-summary", "each on its own scale", RENDER_TIMEOUT)
        .unwrap();
    assert!(url_has(&browser, "scale=each") && url_has(&browser, "pick="));
    browser
        .wait_for_text(
            "#metric-legend li[data-name='servers.web2.load']",
            "from 0.25 to 0.25",
            RENDER_TIMEOUT,
        )
        .unwrap();
    let web2_heights = browser.execute(
        "const d = document.querySelector('[data-testid=metric-chart] path.line.series-0').getAttribute('d');
         return d.split(/[ML ]+/).filter(p => p).map(p => Number(p.split(',')[1]));",
    );
    let web2_heights: Vec<f64> = serde_json::from_value(web2_heights).unwrap();
    assert!(
        !web2_heights.is_empty() && web2_heights.iter().all(|y| (y - 100.0).abs() < 0.5),
        "{web2_heights:?}"
    );
    let top_label = browser.execute(
        "return [...document.querySelectorAll('.value-tick')].map(t => t.textContent).join(' ')",
    );
    assert!(
        top_label
            .as_str()
            .is_some_and(|labels| labels.contains("100%")),
        "{top_label}"
    );
    browser.screenshot(&out.join("7-picked.png"));
    // Unpicking the timer charts web2 alone in the comparison; clearing
    // the picks ends it.
    let pick_timer = browser
        .find(&format!("#series-list input.pick[data-name='{timer}']"))
        .unwrap();
    browser.click(&pick_timer);
    browser
        .wait_for_text("#metric-summary", "1 series", RENDER_TIMEOUT)
        .unwrap();
    let clear = browser.find("#clear-picks").unwrap();
    browser.click(&clear);
    browser.wait_until(
        "no picks and no comparison are left in the link",
        "const params = new URLSearchParams(location.search);
         return !params.has('pick') && !params.has('compare');",
        &out,
    );
}
