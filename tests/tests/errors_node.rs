//! Errors from the real JavaScript `@sentry/node` into the real binary:
//! `tests/node/shop.js` is pointed at the default project's DSN (as
//! `GET /api/v1/projects` shows it), reports the same caught error twice
//! and one message, then a second run dies of an uncaught exception. The
//! API must show three issues with the counts, stack traces, release,
//! environment, tags and SDK the SDK sent.
//!
//! A second test replays an envelope the SDK sent (`tests/fixtures/`), so
//! the shape of its events is checked even where Node.js is missing.
//!
//! The SDK lives in `<target>/sentry-node`, which `cargo xtask test` makes
//! (`xtask/src/deps.rs`) and names in `PARTOUT_SENTRY_NODE`. Without it
//! this test fails and says how to make it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use partout_e2e::{http, output_dir, target_dir, Partout};
use serde_json::{json, Value};

const TOKEN: &str = "e2e-errors-node-token-0123456789";

/// The program the SDK runs; its line numbers are the frames' `lineno`.
const SCRIPT: &str = include_str!("../node/shop.js");

/// The npm project the SDK was installed from, for its pinned version.
const PACKAGE_JSON: &str = include_str!("../node/package.json");

/// The envelope `@sentry/node` 10.78.0 sent for `checkout("N-1002")` of
/// `shop.js`, run from `/srv/shop`, byte for byte.
const RECORDED_ENVELOPE: &[u8] =
    include_bytes!("../fixtures/sentry-node-10.78.0-exception.envelope");

/// The directory with `node_modules/@sentry/node`.
fn sentry_node() -> PathBuf {
    let dir = match std::env::var_os("PARTOUT_SENTRY_NODE") {
        Some(dir) => PathBuf::from(dir),
        None => target_dir().join("sentry-node"),
    };
    assert!(
        dir.join("node_modules/@sentry/node/package.json").is_file(),
        "@sentry/node is not installed in {}: run `cargo xtask test` (or \
         `cargo xtask deps`), which installs it there and sets PARTOUT_SENTRY_NODE",
        dir.display()
    );
    dir
}

/// The `@sentry/node` version `tests/node/package.json` pins.
fn pinned_version() -> String {
    let manifest: Value = serde_json::from_str(PACKAGE_JSON).unwrap();
    manifest["dependencies"]["@sentry/node"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A GET or PATCH to `/api/v1`, always with the token.
fn api(partout: &Partout, path: &str) -> Value {
    let response = http()
        .get(format!("{}/api/v1{path}", partout.url()))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().unwrap()
}

/// The default project's DSN, as the API shows it.
fn dsn(partout: &Partout) -> String {
    let projects = api(partout, "/projects");
    let dsn = projects[0]["keys"][0]["dsn"].as_str().unwrap().to_owned();
    assert!(dsn.ends_with("/1"), "{dsn}");
    dsn
}

/// Runs the script with the real SDK from its own folder in the test
/// output dir (an app's files are in-app: they are outside `node_modules`).
/// The SDK's debug output is kept there as `sdk.log`. Returns how node
/// exited, its output, and the script's path as Node.js reports it.
fn run_sdk(sentry_node: &Path, partout: &Partout, scenario: &str) -> (Output, String, String) {
    let dir = output_dir(&format!("errors-node-{scenario}"));
    std::fs::write(dir.join("shop.js"), SCRIPT).unwrap();
    let output = Command::new("node")
        .arg("shop.js")
        .args([&dsn(partout), scenario])
        .env("NODE_PATH", sentry_node.join("node_modules"))
        .env_remove("NODE_OPTIONS")
        .env_remove("SENTRY_DSN")
        .env_remove("SENTRY_RELEASE")
        .env_remove("SENTRY_ENVIRONMENT")
        .current_dir(&dir)
        .output()
        .expect("cannot run node");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::write(dir.join("sdk.log"), &log).unwrap();
    let script = std::fs::canonicalize(dir.join("shop.js")).unwrap();
    (output, log, script.to_str().unwrap().to_owned())
}

/// The 1-based line of `text` in the script.
fn script_line(text: &str) -> u64 {
    partout_e2e::line_of(SCRIPT, text)
}

/// The issue of the list with `title`.
fn issue_titled<'a>(issues: &'a [Value], title: &str) -> &'a Value {
    issues
        .iter()
        .find(|issue| issue["title"] == title)
        .unwrap_or_else(|| panic!("no issue {title:?} in {issues:#?}"))
}

/// The in-app frames' function names, outermost first, after checking
/// that they are the script's and that the other frames are Node.js's
/// own, not in-app.
fn in_app_functions<'a>(frames: &'a [Value], script: &str) -> Vec<&'a str> {
    let (app, runtime): (Vec<&Value>, Vec<&Value>) =
        frames.iter().partition(|frame| frame["in_app"] == true);
    for frame in runtime {
        assert_eq!(frame["in_app"], false, "{frame:#}");
        let filename = frame["filename"].as_str().unwrap();
        assert!(filename.starts_with("node:internal/"), "{frame:#}");
    }
    for frame in &app {
        assert_eq!(frame["filename"], script, "{frame:#}");
        assert_eq!(frame["module"], "shop", "{frame:#}");
    }
    app.iter()
        .map(|frame| frame["function"].as_str().unwrap())
        .collect()
}

#[test]
fn the_node_sdk_groups_errors_and_messages_into_issues() {
    let sentry_node = sentry_node();
    let version = pinned_version();
    let partout = Partout::start_with(None, &["--bootstrap-token", TOKEN]);

    let (output, log, handled_script) = run_sdk(&sentry_node, &partout, "handled");
    assert!(output.status.success(), "the SDK script failed:\n{log}");
    // Nothing catches this one: the SDK reports it as fatal, flushes, and
    // the process exits with 1 as Node.js does for an uncaught exception.
    let (output, log, crash_script) = run_sdk(&sentry_node, &partout, "crash");
    assert_eq!(output.status.code(), Some(1), "{log}");
    assert!(
        log.contains("TypeError: Cannot read properties of undefined (reading 'count')"),
        "{log}"
    );

    let list = api(&partout, "/issues?sort=count");
    let issues = list["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 3, "{list:#}\n{}", partout.log());
    let declined = issue_titled(issues, "PaymentDeclined: card declined for order N-1002");
    let message = issue_titled(issues, "inventory sync skipped 3 items");
    let crash = issue_titled(
        issues,
        "TypeError: Cannot read properties of undefined (reading 'count')",
    );
    assert_eq!(issues[0], *declined, "the most frequent comes first");
    assert_eq!(declined["count"], 2);
    assert_eq!(declined["culprit"], "shop in chargeCard");
    assert_eq!(declined["level"], "error");
    assert_eq!(declined["grouping_method"], "exception");
    assert_eq!(message["count"], 1);
    assert_eq!(message["level"], "warning");
    assert_eq!(message["grouping_method"], "message");
    assert_eq!(crash["count"], 1);
    assert_eq!(crash["culprit"], "shop in loadInventory");
    assert_eq!(crash["level"], "fatal");
    for issue in issues {
        assert_eq!(issue["status"], "unresolved");
        assert_eq!(issue["platform"], "node");
        assert_eq!(issue["first_release"], "node-app@1.2.3");
        assert_eq!(issue["last_release"], "node-app@1.2.3");
        assert_eq!(issue["user_count"], 1);
    }

    let detail = api(&partout, &format!("/issues/{}", declined["id"]));
    let event = &detail["latest_event"];
    assert_eq!(event["platform"], "node");
    assert_eq!(event["level"], "error");
    assert_eq!(event["release"], "node-app@1.2.3");
    assert_eq!(event["environment"], "e2e");
    assert_eq!(event["server_name"], "e2e-node-host");
    assert_eq!(event["sdk"]["name"], "sentry.javascript.node");
    assert_eq!(event["sdk"]["version"], version.as_str());
    assert_eq!(event["user"]["id"], "user-7");
    assert_eq!(event["user"]["email"], "grace@example.com");
    assert!(
        event["tags"]
            .as_array()
            .unwrap()
            .contains(&json!({"key": "team", "value": "payments"})),
        "{event:#}"
    );
    assert_eq!(event["contexts"]["runtime"]["name"], "node");
    let exception = &event["exceptions"][0];
    assert_eq!(exception["type"], "PaymentDeclined");
    assert_eq!(exception["value"], "card declined for order N-1002");
    assert_eq!(exception["mechanism"], "generic");
    assert_eq!(exception["handled"], true);
    let frames = exception["stacktrace"]["frames"].as_array().unwrap();
    assert_eq!(
        in_app_functions(frames, &handled_script),
        ["main", "capture", "checkout", "chargeCard"]
    );
    let throwing = frames.last().unwrap();
    assert_eq!(throwing["lineno"], script_line("throw new PaymentDeclined"));
    assert_eq!(throwing["colno"], 9);
    assert_eq!(
        throwing["context_line"],
        "  throw new PaymentDeclined(`card declined for order ${orderId}`);"
    );
    assert!(!throwing["pre_context"].as_array().unwrap().is_empty());
    let calling = &frames[frames.len() - 2];
    assert_eq!(calling["function"], "checkout");
    assert_eq!(calling["lineno"], script_line("return chargeCard(orderId)"));
    let crumbs: Vec<&str> = event["breadcrumbs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|crumb| crumb["message"].as_str())
        .collect();
    assert!(crumbs.contains(&"checkout N-1002"), "{crumbs:?}");
    assert_eq!(
        partout_e2e::tag_values(&detail, "team"),
        [("payments".to_owned(), 2)]
    );
    assert_eq!(
        partout_e2e::tag_values(&detail, "environment"),
        [("e2e".to_owned(), 2)]
    );
    assert_eq!(
        partout_e2e::tag_values(&detail, "release"),
        [("node-app@1.2.3".to_owned(), 2)]
    );
    assert_eq!(
        partout_e2e::tag_values(&detail, "user"),
        [("id:user-7".to_owned(), 2)]
    );

    let events = api(&partout, &format!("/issues/{}/events", declined["id"]));
    let values: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["exceptions"][0]["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        values,
        [
            "card declined for order N-1002",
            "card declined for order N-1001"
        ]
    );

    let detail = api(&partout, &format!("/issues/{}", message["id"]));
    let event = &detail["latest_event"];
    assert_eq!(event["message"], "inventory sync skipped 3 items");
    assert_eq!(event["level"], "warning");
    assert_eq!(event["exceptions"], json!([]), "{event:#}");
    assert_eq!(event["release"], "node-app@1.2.3");
    assert_eq!(event["sdk"]["name"], "sentry.javascript.node");

    let detail = api(&partout, &format!("/issues/{}", crash["id"]));
    let event = &detail["latest_event"];
    assert_eq!(event["level"], "fatal");
    let exception = &event["exceptions"][0];
    assert_eq!(exception["type"], "TypeError");
    assert_eq!(exception["mechanism"], "auto.node.onuncaughtexception");
    assert_eq!(exception["handled"], false);
    let frames = exception["stacktrace"]["frames"].as_array().unwrap();
    assert_eq!(
        in_app_functions(frames, &crash_script),
        ["Timeout._onTimeout", "loadInventory"]
    );
    assert_eq!(
        frames.last().unwrap()["lineno"],
        script_line("return stock[sku].count")
    );

    assert!(partout.stop().success());
}

#[test]
fn a_recorded_node_envelope_becomes_an_issue() {
    let partout = Partout::start_with(None, &["--bootstrap-token", TOKEN]);
    let dsn = dsn(&partout);
    let key = dsn
        .strip_prefix("http://")
        .and_then(|rest| rest.split_once('@'))
        .unwrap()
        .0;
    // As the SDK sends it: the key in the query, no X-Sentry-Auth header.
    let response = http()
        .post(format!(
            "{}/api/1/envelope/?sentry_version=7&sentry_key={key}\
             &sentry_client=sentry.javascript.node%2F10.78.0",
            partout.url()
        ))
        .header("content-type", "text/plain;charset=UTF-8")
        .body(RECORDED_ENVELOPE)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().unwrap();
    assert_eq!(answer["id"], "a7c783bfadc14fa0b4aa0cfd1e6bd151");

    let list = api(&partout, "/issues");
    let issue = issue_titled(
        list["issues"].as_array().unwrap(),
        "PaymentDeclined: card declined for order N-1002",
    );
    assert_eq!(issue["culprit"], "shop in chargeCard");
    assert_eq!(issue["platform"], "node");
    let detail = api(&partout, &format!("/issues/{}", issue["id"]));
    let event = &detail["latest_event"];
    assert_eq!(event["sdk"]["version"], "10.78.0");
    assert_eq!(event["server_name"], "e2e-node-host");
    let frames = event["exceptions"][0]["stacktrace"]["frames"]
        .as_array()
        .unwrap();
    let app_files: Vec<&str> = frames
        .iter()
        .filter(|frame| frame["in_app"] == true)
        .map(|frame| frame["filename"].as_str().unwrap())
        .collect();
    assert_eq!(app_files, ["/srv/shop/shop.js"; 4]);
    assert_eq!(frames[0]["filename"], "node:internal/process/task_queues");
    assert_eq!(frames[0]["in_app"], false);
    assert!(partout.stop().success());
}
