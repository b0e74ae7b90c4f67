//! The logs page in a real browser: lines sent to the real binary over
//! `POST /api/v1/logs` are found, filtered, zoomed into and tailed from
//! `/ui/logs` in headless Chromium. Screenshots go to
//! `<target>/e2e-output/browser_logs_*`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use partout_e2e::webdriver::Browser;
use partout_e2e::{http, output_dir, Partout};
use serde_json::{json, Value};

const TOKEN: &str = partout_e2e::E2E_TOKEN;
const RENDER_TIMEOUT: Duration = Duration::from_secs(30);
/// The Enter key, for WebDriver's "send keys".
const ENTER: &str = "\u{E007}";

fn start() -> Partout {
    Partout::start_with(None, &["--bootstrap-token", TOKEN])
}

fn now_ms() -> i64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since_epoch.as_millis()).unwrap()
}

/// Sends `lines` as NDJSON and waits until a search finds them all.
fn ingest(partout: &Partout, lines: &[Value]) {
    let body: String = lines.iter().map(|line| format!("{line}\n")).collect();
    let response = http()
        .post(format!("{}/api/v1/logs", partout.url()))
        .bearer_auth(TOKEN)
        .body(body)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text());
    let accepted: Value = response.json().unwrap();
    assert_eq!(accepted["accepted"], lines.len());
}

/// Searches until `query` finds `want` lines: lines become searchable
/// within a commit interval of being acknowledged.
fn wait_searchable(partout: &Partout, query: &str, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/v1/logs/search", partout.url()),
            &[("q", query), ("limit", "1000")],
        )
        .unwrap();
        let found: Value = http().get(url).send().unwrap().json().unwrap();
        let count = found["lines"].as_array().map_or(0, Vec::len);
        if count == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{query}: {count} of {want} lines searchable\n{}",
            partout.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One JSON log line `minutes_ago` before `now`.
fn line(now: i64, minutes_ago: f64, fields: Value) -> Value {
    let mut line = fields;
    line["timestamp"] = json!(now - (minutes_ago * 60_000.0) as i64);
    line
}

/// The lines every search test starts from: an hour of a small system.
fn sample_lines(now: i64) -> Vec<Value> {
    let mut lines = vec![
        line(
            now,
            5.0,
            json!({"msg": "payment failed for order 42", "level": "error", "service": "api", "host": "web1", "order": 42, "user": "ann"}),
        ),
        line(
            now,
            5.1,
            json!({"msg": "checkout started", "level": "info", "service": "api", "host": "web1", "user": "ann"}),
        ),
        line(
            now,
            20.0,
            json!({"msg": "payment failed for order 43", "level": "error", "service": "api", "host": "web2", "order": 43, "user": "bob"}),
        ),
        line(
            now,
            40.0,
            json!({"msg": "payment failed for order 44", "level": "error", "service": "api", "host": "web1", "order": 44, "user": "ann"}),
        ),
        line(
            now,
            12.0,
            json!({"msg": "request served", "level": "info", "service": "api", "host": "web2", "http": {"status": 200}}),
        ),
        line(
            now,
            30.0,
            json!({"msg": "upstream timeout talking to db", "level": "warn", "service": "api", "host": "web2"}),
        ),
        line(
            now,
            8.0,
            json!({"msg": "queue is slow", "level": "warn", "service": "worker", "host": "worker1"}),
        ),
        line(
            now,
            18.0,
            json!({"msg": "job finished", "level": "info", "service": "worker", "host": "worker1"}),
        ),
        line(
            now,
            28.0,
            json!({"msg": "job finished", "level": "info", "service": "worker", "host": "worker1"}),
        ),
        line(
            now,
            38.0,
            json!({"msg": "job retried", "level": "warn", "service": "worker", "host": "worker1"}),
        ),
        line(
            now,
            48.0,
            json!({"msg": "job finished", "level": "info", "service": "worker", "host": "worker1"}),
        ),
        line(
            now,
            25.0,
            json!({"msg": "cache warmed", "level": "debug", "service": "web", "host": "web1"}),
        ),
    ];
    // Enough heartbeats for more than one page (the page asks for 100).
    for beat in 0..120 {
        lines.push(line(
            now,
            1.0 + f64::from(beat) * 0.25,
            json!({"msg": format!("heartbeat {beat}"), "level": "info", "service": "beat", "host": "beat1"}),
        ));
    }
    lines
}

/// The text of every result row's `selector` part, top to bottom.
fn column(browser: &Browser, list: &str, selector: &str) -> Vec<String> {
    let script = format!(
        "return [...document.querySelectorAll('{list} li.log-line')].map(row => row.querySelector('{selector}').textContent)"
    );
    browser
        .execute(&script)
        .as_array()
        .unwrap()
        .iter()
        .map(|value| value.as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A script that is true once the results list holds exactly `count` rows
/// and no search is running.
fn rows_are(count: usize) -> String {
    format!(
        "const list = document.querySelector('#log-results');
         return !!list && !list.classList.contains('stale')
             && list.querySelectorAll('li.log-line').length === {count}"
    )
}

fn query_box(browser: &Browser) -> String {
    browser
        .execute("return document.querySelector('#log-query').value")
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn logs_page_finds_filters_pages_and_zooms() {
    let out = output_dir("browser_logs_search");
    let partout = start();
    let now = now_ms();
    let lines = sample_lines(now);
    ingest(&partout, &lines);
    wait_searchable(&partout, "", lines.len());
    let browser = Browser::start().unwrap();

    // "Every error of service api in the last hour", from a link.
    browser
        .sign_in(
            &format!("{}/ui/logs?q=service%3Aapi%20level%3Aerror", partout.url()),
            "admin",
            partout_e2e::ADMIN_PASSWORD,
        )
        .unwrap();
    browser.wait_until("three errors are listed", &rows_are(3), &out);
    assert_eq!(query_box(&browser), "service:api level:error");
    let messages = column(&browser, "#log-results", ".log-message");
    assert_eq!(
        messages,
        [
            "payment failed for order 42",
            "payment failed for order 43",
            "payment failed for order 44"
        ],
        "newest first"
    );
    assert!(column(&browser, "#log-results", ".log-level")
        .iter()
        .all(|level| level == "error"));
    assert!(column(&browser, "#log-results", ".log-service")
        .iter()
        .all(|service| service == "api"));
    browser.wait_until("the histogram has bars",
        "return document.querySelectorAll('[data-testid=log-histogram] rect.seg.lvl-error').length >= 3",
        &out,
    );
    let total = browser
        .wait_for_text("#histogram-total", "3 lines", RENDER_TIMEOUT)
        .unwrap();
    assert!(total.contains("from"), "{total}");
    // The facets count the same lines.
    browser
        .wait_for_text("[data-testid=facet-host]", "web1", RENDER_TIMEOUT)
        .unwrap();
    browser.screenshot(&out.join("1-errors-of-api.png"));

    // Open the newest line: its fields, then the lines around it.
    let newest = browser
        .find("#log-results li.log-line .log-summary")
        .unwrap();
    browser.click(&newest);
    let details = browser
        .wait_for_text("#log-results .log-details", "order", RENDER_TIMEOUT)
        .unwrap();
    assert!(
        details.contains("ann") && details.contains("42"),
        "{details}"
    );
    let context = browser.find("#log-results .show-context").unwrap();
    browser.click(&context);
    let around = browser
        .wait_for_text(
            "[data-testid=log-context]",
            "checkout started",
            RENDER_TIMEOUT,
        )
        .unwrap();
    assert!(around.contains("payment failed for order 42"), "{around}");
    browser.screenshot(&out.join("2-line-and-context.png"));

    // A field value is a filter: only ann's errors remain.
    let user = browser
        .find("#log-results .log-details [data-clause='user:ann']")
        .unwrap();
    browser.click(&user);
    browser.wait_until("ann's two errors are listed", &rows_are(2), &out);
    assert_eq!(query_box(&browser), "service:api level:error user:ann");
    assert!(
        browser
            .current_url()
            .contains("q=service%3Aapi%20level%3Aerror%20user%3Aann"),
        "{}",
        browser.current_url()
    );

    // Everything of the last hour, then a click on a facet.
    browser.goto(&format!("{}/ui/logs", partout.url()));
    browser.wait_until("the first page is listed", &rows_are(100), &out);
    let worker = browser
        .find("[data-testid=facet-service] button[data-value=worker]")
        .unwrap_or_else(|| {
            browser.screenshot(&out.join("failure.png"));
            panic!("no facet value worker")
        });
    browser.click(&worker);
    browser.wait_until("worker's five lines are listed", &rows_are(5), &out);
    assert!(column(&browser, "#log-results", ".log-service")
        .iter()
        .all(|service| service == "worker"));
    assert_eq!(query_box(&browser), "service:worker");
    browser.wait_until("the facet shows as active",
        "return document.querySelector('[data-testid=facet-service] button[data-value=worker]')?.getAttribute('aria-pressed') === 'true'",
        &out,
    );
    browser.screenshot(&out.join("3-facet-worker.png"));

    // Typing a query.
    let input = browser.find("#log-query").unwrap();
    browser.clear(&input);
    browser.send_keys(&input, &format!("timeout{ENTER}"));
    browser.wait_until("one timeout is listed", &rows_are(1), &out);
    assert_eq!(
        column(&browser, "#log-results", ".log-message"),
        ["upstream timeout talking to db"]
    );
    assert!(browser.current_url().ends_with("/ui/logs?q=timeout"));

    // Paging: 120 heartbeats come 100 at a time.
    browser.goto(&format!("{}/ui/logs?q=service%3Abeat", partout.url()));
    browser.wait_until("the first 100 heartbeats", &rows_are(100), &out);
    browser
        .wait_for_text("#log-summary", "newest 100 of 120", RENDER_TIMEOUT)
        .unwrap();
    let older = browser.find("#load-older").unwrap();
    browser.click(&older);
    browser.wait_until("all 120 heartbeats", &rows_are(120), &out);
    assert!(browser.find("#load-older").is_none(), "no more pages");
    let beats = column(&browser, "#log-results", ".log-message");
    assert_eq!(beats.first().unwrap(), "heartbeat 0");
    assert_eq!(beats.last().unwrap(), "heartbeat 119");

    // Dragging across the chart narrows the range to whole buckets.
    browser.goto(&format!("{}/ui/logs?from=-6h", partout.url()));
    browser.wait_until("the first page is listed", &rows_are(100), &out);
    browser.wait_until(
        "the chart is drawn",
        "return document.querySelectorAll('[data-testid=log-histogram] rect.seg').length > 0",
        &out,
    );
    browser.screenshot(&out.join("4-six-hours.png"));
    let chart = browser.find("[data-testid=log-histogram] svg").unwrap();
    let width = browser
        .execute("return document.querySelector('[data-testid=log-histogram] svg').getBoundingClientRect().width")
        .as_f64()
        .unwrap();
    // The last hour is the right sixth of the chart; take its right half.
    let half = (width / 2.0) as i64;
    browser.drag_horizontally(&chart, half - (width / 12.0) as i64, half - 1);
    browser.wait_until(
        "the range is a fixed one",
        "return location.search.includes('from=20') && location.search.includes('until=20')",
        &out,
    );
    browser.wait_until(
        "no preset is pressed",
        "return document.querySelectorAll('[data-range][aria-pressed=true]').length === 0",
        &out,
    );
    browser.wait_until(
        "the narrower range lists lines",
        "const list = document.querySelector('#log-results');
         const rows = list ? list.querySelectorAll('li.log-line').length : 0;
         return !list.classList.contains('stale') && rows > 0 && rows <= 100",
        &out,
    );
    browser.screenshot(&out.join("5-zoomed.png"));

    // A preset puts a relative range back in the link.
    let week = browser.find("[data-range='7d']").unwrap();
    browser.click(&week);
    browser.wait_until(
        "the link says the last 7 days",
        "return location.search === '?from=-7d'",
        &out,
    );

    // A custom range starts as the range shown; applying it fixes it.
    let custom = browser.find("#custom-range-toggle").unwrap();
    browser.click(&custom);
    browser.wait_until("the custom range is filled in",
        "return !!document.querySelector('#range-from')?.value && !!document.querySelector('#range-until')?.value",
        &out,
    );
    browser.screenshot(&out.join("6-custom-range.png"));
    let apply = browser.find(".custom-range button[type=submit]").unwrap();
    browser.click(&apply);
    browser.wait_until(
        "the link holds the custom range",
        "return location.search.startsWith('?from=20') && location.search.includes('until=20')",
        &out,
    );
    assert!(browser.find(".custom-range").is_none(), "the form closes");

    // A query that does not parse is explained, not hidden.
    browser.goto(&format!("{}/ui/logs?q=%22unclosed", partout.url()));
    let problem = browser
        .wait_for_text("#log-error", "unclosed", RENDER_TIMEOUT)
        .unwrap();
    assert!(problem.contains("The query has a mistake"), "{problem}");
    // The chart and the facets say so quietly, without spinning forever.
    browser
        .wait_for_text(
            "[data-testid=log-histogram]",
            "No chart for this query",
            RENDER_TIMEOUT,
        )
        .unwrap();
    browser.wait_until("every facet gave up",
        "return [...document.querySelectorAll('.facet')].every(f => f.textContent.includes('Not available'))",
        &out,
    );
    browser.screenshot(&out.join("7-bad-query.png"));
}

#[test]
fn logs_page_tails_new_lines_live() {
    let out = output_dir("browser_logs_tail");
    let partout = start();
    let now = now_ms();
    ingest(
        &partout,
        &[line(
            now,
            2.0,
            json!({"msg": "old news", "level": "info", "service": "live"}),
        )],
    );
    wait_searchable(&partout, "service:live", 1);

    let browser = Browser::start().unwrap();
    browser
        .sign_in(
            &format!("{}/ui/logs?q=service%3Alive", partout.url()),
            "admin",
            partout_e2e::ADMIN_PASSWORD,
        )
        .unwrap();
    browser.wait_until("the old line is listed", &rows_are(1), &out);
    let toggle = browser.find("#live-toggle").unwrap();
    browser.click(&toggle);
    browser
        .wait_for_text(
            "#tail-status",
            "waiting for new matching lines",
            RENDER_TIMEOUT,
        )
        .unwrap_or_else(|err| {
            browser.screenshot(&out.join("failure.png"));
            panic!("{err}")
        });

    // A matching line and one that does not match.
    ingest(
        &partout,
        &[
            json!({"msg": "fresh from the tail", "level": "warn", "service": "live", "host": "h1"}),
            json!({"msg": "somebody else's line", "level": "warn", "service": "other"}),
        ],
    );
    browser
        .wait_for_text("#tail-lines", "fresh from the tail", RENDER_TIMEOUT)
        .unwrap();
    browser
        .wait_for_text("#tail-status", "1 line received", RENDER_TIMEOUT)
        .unwrap();
    let shown = column(&browser, "#tail-lines", ".log-message");
    assert_eq!(shown, ["fresh from the tail"]);
    browser.screenshot(&out.join("live-tail.png"));

    // Off again: the search results come back, with the new line (which
    // the tail shows as soon as it is durable, a search once it is
    // indexed, within a second).
    wait_searchable(&partout, "service:live", 2);
    browser.click(&toggle);
    browser.wait_until("both lines are listed", &rows_are(2), &out);
    assert_eq!(
        column(&browser, "#log-results", ".log-message"),
        ["fresh from the tail", "old news"]
    );
}
