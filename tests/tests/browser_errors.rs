//! The errors pages in a real browser: a Sentry envelope sent to the real
//! binary shows up in `/ui/errors` as an issue, and its page shows the
//! stack frames and the release; a list refreshing on its own picks up a
//! new issue, in headless Chromium. Screenshots go to
//! `<target>/e2e-output/browser_errors`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use partout_e2e::webdriver::Browser;
use partout_e2e::{http, output_dir, Partout};
use serde_json::Value;

const RENDER_TIMEOUT: Duration = Duration::from_secs(30);
/// The Enter key, for WebDriver's "send keys".
const ENTER: &str = "\u{E007}";
/// What the Python SDK sent: `checkout()` calls `charge_card()`, which
/// raises (see `shared/samples/README.md`).
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../ingest-protocols/tests/fixtures/sentry/sentry-envelope-exception.wire.gz"
);
const TITLE: &str = "PaymentDeclined: card declined for order A-1001";
const RELEASE: &str = "shop@1.4.2";

/// The default project's id, key and DSN, as the API lists them.
fn default_project(partout: &Partout) -> (i64, String, String) {
    let projects: Value = http()
        .get(format!("{}/api/v1/projects", partout.url()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let project = &projects[0];
    assert_eq!(project["name"], "default", "{projects}");
    let key = &project["keys"][0];
    (
        project["id"].as_i64().unwrap(),
        key["public_key"].as_str().unwrap().to_owned(),
        key["dsn"].as_str().unwrap().to_owned(),
    )
}

/// Posts the fixture's exact gzip body as the SDK did, with the default
/// project's key instead of the one it was recorded with.
fn send_fixture(partout: &Partout, project: i64, key: &str) {
    post_envelope(partout, project, key, std::fs::read(FIXTURE).unwrap(), true);
}

/// Posts a small envelope of one exception `kind: value`, under a new
/// event id, as an SDK does without compression.
fn send_exception(partout: &Partout, project: i64, key: &str, kind: &str, value: &str) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let event_id = format!("{nanos:032x}");
    let event = serde_json::json!({
        "event_id": event_id,
        "platform": "python",
        "level": "error",
        "exception": {"values": [{"type": kind, "value": value}]},
    });
    let body = format!("{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"event\"}}\n{event}\n");
    post_envelope(partout, project, key, body.into_bytes(), false);
}

fn post_envelope(partout: &Partout, project: i64, key: &str, body: Vec<u8>, gzip: bool) {
    let mut request = http()
        .post(format!("{}/api/{project}/envelope/", partout.url()))
        .header("Content-Type", "application/x-sentry-envelope");
    if gzip {
        request = request.header("Content-Encoding", "gzip");
    }
    let response = request
        .header(
            "X-Sentry-Auth",
            format!(
                "Sentry sentry_key={key}, sentry_version=7, sentry_client=sentry.python/2.75.0"
            ),
        )
        .body(body)
        .send()
        .unwrap();
    let status = response.status();
    assert_eq!(status, 200, "{:?}", response.text());
}

/// The text of every element matching `css`, in document order.
fn texts(browser: &Browser, css: &str) -> Vec<String> {
    let script = format!(
        "return [...document.querySelectorAll('{css}')].map(element => element.textContent.trim())"
    );
    browser
        .execute(&script)
        .as_array()
        .unwrap()
        .iter()
        .map(|value| value.as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A script that is true once the list shows `count` rows and no request
/// is running.
fn rows_are(count: usize) -> String {
    format!(
        "const table = document.querySelector('.issue-table');
         return !!table && !table.classList.contains('stale')
             && document.querySelectorAll('#issue-list li.issue-row').length === {count}"
    )
}

/// Scrolls `css` to the top of the viewport, for a screenshot of it.
fn scroll_to(browser: &Browser, css: &str) {
    browser.execute(&format!(
        "document.querySelector('{css}').scrollIntoView({{block: 'start'}}); return true"
    ));
    std::thread::sleep(Duration::from_millis(200));
}

#[test]
fn errors_pages_list_an_issue_and_show_its_stack() {
    let out = output_dir("browser_errors");
    let partout = Partout::start();
    let (project, key, dsn) = default_project(&partout);
    let browser = Browser::start().unwrap();

    // Nothing received yet: the list says where to send errors.
    browser
        .sign_in(
            &format!("{}/ui/errors", partout.url()),
            "admin",
            partout_e2e::ADMIN_PASSWORD,
        )
        .unwrap();
    let shown = browser
        .wait_for_text("#default-dsn", &key, RENDER_TIMEOUT)
        .unwrap();
    assert_eq!(shown, dsn);
    let help = browser.wait_for_text("#get-started", "sentry_sdk.init", RENDER_TIMEOUT);
    assert!(help.unwrap().contains(&format!("dsn=\"{dsn}\"")));
    browser.screenshot(&out.join("1-get-started.png"));

    send_fixture(&partout, project, &key);

    // The issue is listed with its title, count and status.
    browser.goto(&format!("{}/ui/errors", partout.url()));
    browser.wait_until("one issue is listed", &rows_are(1), &out);
    assert_eq!(texts(&browser, "#issue-list a.issue-title"), [TITLE]);
    assert_eq!(texts(&browser, "#issue-list .issue-count"), ["1"]);
    assert_eq!(texts(&browser, "#issue-list .issue-users"), ["1"]);
    let row = texts(&browser, "#issue-list li.issue-row").join("\n");
    assert!(row.contains("Unresolved") && row.contains(RELEASE), "{row}");
    assert!(row.contains("charge_card"), "the culprit: {row}");
    browser.wait_until(
        "the sparkline has drawn",
        "return document.querySelectorAll('#issue-list svg.sparkline').length === 1",
        &out,
    );
    browser.screenshot(&out.join("2-list.png"));

    // Filters live in the URL: words that match nothing, then other
    // statuses, then a link with words that match.
    let query = browser.find("#issue-query").unwrap();
    browser.clear(&query);
    browser.send_keys(&query, &format!("no-such-words{ENTER}"));
    browser
        .wait_for_text("#issue-empty", "No issue matches", RENDER_TIMEOUT)
        .unwrap();
    assert!(
        browser
            .current_url()
            .ends_with("/ui/errors?q=no-such-words"),
        "{}",
        browser.current_url()
    );
    browser.goto(&format!("{}/ui/errors?status=resolved", partout.url()));
    browser
        .wait_for_text("#issue-empty", "No issue matches", RENDER_TIMEOUT)
        .unwrap();
    browser.goto(&format!(
        "{}/ui/errors?status=all&q=declined&sort=count",
        partout.url()
    ));
    browser.wait_until("the search finds the issue", &rows_are(1), &out);
    let controls = browser.execute(
        "return [document.querySelector('#issue-query').value,
                 document.querySelector('#issue-status').value,
                 document.querySelector('#issue-sort').value]",
    );
    assert_eq!(controls, serde_json::json!(["declined", "all", "count"]));

    // The issue's page: title, release, and the stack with the app's frames.
    let link = browser.find("#issue-list a.issue-title").unwrap();
    browser.click(&link);
    browser
        .wait_for_text("#issue-title", TITLE, RENDER_TIMEOUT)
        .unwrap();
    assert!(
        browser.current_url().contains("/ui/errors/"),
        "{}",
        browser.current_url()
    );
    let facts = browser
        .wait_for_text("#issue-facts", RELEASE, RENDER_TIMEOUT)
        .unwrap();
    assert!(facts.contains("Last seen"), "{facts}");
    assert_eq!(texts(&browser, "#issue-facts dd[data-fact=count]"), ["1"]);
    browser
        .wait_for_text("[data-testid=stack-frames]", "charge_card", RENDER_TIMEOUT)
        .unwrap();
    let app_functions = texts(&browser, "li.frame.in-app .frame-function");
    assert!(
        app_functions.contains(&"checkout".to_owned())
            && app_functions.contains(&"charge_card".to_owned()),
        "in-app frames: {app_functions:?}"
    );
    // Most recent call first: the raising function above its caller.
    let at = |name: &str| app_functions.iter().position(|f| f == name).unwrap();
    assert!(at("charge_card") < at("checkout"), "{app_functions:?}");
    let current = texts(&browser, "li.frame.in-app .code-line.current .src");
    assert!(!current.is_empty(), "the error lines are shown");
    let event_release = texts(&browser, ".event-facts dd[data-fact=release]");
    assert_eq!(event_release, [RELEASE]);
    browser
        .wait_for_text("#event-position", "Event 1 of 1", RENDER_TIMEOUT)
        .unwrap();
    browser.screenshot(&out.join("3-issue.png"));
    scroll_to(&browser, ".event-pager");
    browser.screenshot(&out.join("4-stack.png"));
    browser.execute("window.scrollTo(0, document.body.scrollHeight); return true");
    std::thread::sleep(Duration::from_millis(200));
    browser.screenshot(&out.join("5-event-context.png"));

    // Signed in as an admin, the page resolves the issue (with the
    // session's CSRF token: a forged request would be refused).
    scroll_to(&browser, "#issue-status");
    let resolve = browser
        .find("#issue-status button[data-set-status=resolved]")
        .expect("no Resolve button");
    browser.click(&resolve);
    browser.wait_until(
        "the issue shows as resolved",
        "return document.querySelector('#issue-status')?.dataset.status === 'resolved'",
        &out,
    );
    let issues: serde_json::Value = http()
        .get(format!("{}/api/v1/issues?status=resolved", partout.url()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(issues["issues"].as_array().unwrap().len(), 1, "{issues}");
    browser.screenshot(&out.join("6-resolved.png"));

    // A link to an issue that does not exist says so.
    browser.goto(&format!("{}/ui/errors/999999", partout.url()));
    browser
        .wait_for_text("#issue-not-found", "no such issue", RENDER_TIMEOUT)
        .unwrap();

    // With a refresh interval in the link the list reads itself again: a
    // new issue shows up without a reload.
    browser.goto(&format!("{}/ui/errors?refresh=5s", partout.url()));
    browser.wait_until("no unresolved issue is listed", &rows_are(0), &out);
    assert_eq!(
        browser.execute("return document.querySelector('#issue-refresh').value"),
        serde_json::json!("5s")
    );
    send_exception(
        &partout,
        project,
        &key,
        "RefreshProbe",
        "seen without a reload",
    );
    browser.wait_until("the new issue is listed", &rows_are(1), &out);
    let titles = texts(&browser, "#issue-list a.issue-title");
    assert!(titles[0].contains("RefreshProbe"), "{titles:?}");
    assert!(
        browser.current_url().ends_with("/ui/errors?refresh=5s"),
        "the page was not navigated: {}",
        browser.current_url()
    );
    browser.screenshot(&out.join("7-refreshed.png"));
}
