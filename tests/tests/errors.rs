//! Errors from the real Python `sentry-sdk` into the real binary: the SDK
//! is pointed at the default project's DSN (as `GET /api/v1/projects`
//! shows it), raises the same exception twice from the same code and
//! another from other code, and the API must show two issues with the
//! right counts, stack traces, release, environment and tags. Then a
//! resolved issue that comes back in a new release regresses.
//!
//! The SDK lives in a virtualenv that `cargo xtask test` makes
//! (`xtask/src/deps.rs`) and names in `PARTOUT_SENTRY_PYTHON`. Run
//! outside xtask without that virtualenv, these tests say so and pass.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use partout_e2e::{http, output_dir, target_dir, Partout};
use serde_json::{json, Value};

const TOKEN: &str = partout_e2e::E2E_TOKEN;

/// The program the SDK runs. `capture` catches and reports; the frames
/// of a report run from `capture` down to the `raise`.
const SCRIPT: &str = r#"import sys

import sentry_sdk

dsn, release, scenario = sys.argv[1], sys.argv[2], sys.argv[3]
sentry_sdk.init(
    dsn=dsn,
    release=release,
    environment="e2e",
    server_name="e2e-host",
    debug=True,
)
sentry_sdk.set_tag("team", "checkout")
sentry_sdk.set_user({"id": "user-42", "email": "ada@example.com"})


class PaymentDeclined(Exception):
    pass


def charge_card(order_id):
    raise PaymentDeclined("card declined for order %s" % order_id)


def checkout(order_id):
    sentry_sdk.add_breadcrumb(category="cart", message="checkout %s" % order_id, level="info")
    return charge_card(order_id)


def load_inventory(sku):
    stock = {}
    return stock[sku]


def capture(function, *args):
    try:
        function(*args)
    except Exception:
        sentry_sdk.capture_exception()


if scenario == "mixed":
    capture(checkout, "A-1001")
    capture(checkout, "A-1002")
    capture(load_inventory, "LAMP-7")
elif scenario == "checkout":
    capture(checkout, "B-2001")
else:
    sys.exit("unknown scenario " + scenario)
sentry_sdk.flush(timeout=30)
"#;

/// The virtualenv's Python, or `None` (with a message) when it is absent
/// and this is not a `cargo xtask test` run.
fn sentry_python() -> Option<PathBuf> {
    if let Some(python) = std::env::var_os("PARTOUT_SENTRY_PYTHON") {
        let python = PathBuf::from(python);
        assert!(
            python.is_file(),
            "PARTOUT_SENTRY_PYTHON={} does not exist",
            python.display()
        );
        return Some(python);
    }
    let python = target_dir().join("sentry-sdk-venv/bin/python");
    if python.is_file() {
        return Some(python);
    }
    eprintln!(
        "skipping: the Python sentry-sdk virtualenv {} is missing; \
         `cargo xtask test` (or `cargo xtask deps`) makes it",
        python.display()
    );
    None
}

fn start() -> Partout {
    Partout::start_with(None, &["--bootstrap-token", TOKEN])
}

/// The default project's DSN, as the API shows it.
fn dsn(partout: &Partout) -> String {
    let projects: Value = http()
        .get(format!("{}/api/v1/projects", partout.url()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let dsn = projects[0]["keys"][0]["dsn"].as_str().unwrap().to_owned();
    assert!(dsn.ends_with("/1"), "{dsn}");
    dsn
}

/// Runs the script with the real SDK; its debug output goes to the test
/// output dir, and into the failure message when it fails.
fn run_sdk(python: &Path, partout: &Partout, release: &str, scenario: &str, log_name: &str) {
    let dir = output_dir(log_name);
    let script = dir.join("shop.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let output = Command::new(python)
        .arg(&script)
        .args([&dsn(partout), release, scenario])
        .env_remove("SENTRY_DSN")
        // An app runs from its project root: the SDK marks the frames of
        // files under the working directory as in-app.
        .current_dir(&dir)
        .output()
        .expect("cannot run the sentry-sdk virtualenv's python");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::write(dir.join("sdk.log"), &log).unwrap();
    assert!(output.status.success(), "the SDK script failed:\n{log}");
}

fn get(partout: &Partout, path: &str) -> Value {
    let response = http()
        .get(format!("{}{path}", partout.url()))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().unwrap()
}

/// The 1-based line of `text` in the script.
fn script_line(text: &str) -> u64 {
    partout_e2e::line_of(SCRIPT, text)
}

#[test]
fn the_python_sdk_groups_two_bugs_into_two_issues() {
    let Some(python) = sentry_python() else {
        return;
    };
    let partout = start();
    assert!(
        partout
            .log()
            .contains("sentry DSN of project \"default\": http://"),
        "{}",
        partout.log()
    );
    run_sdk(&python, &partout, "shop@1.0", "mixed", "errors-mixed");

    let list = get(&partout, "/api/v1/issues?sort=count");
    let issues = list["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 2, "{list:#}\n{}", partout.log());
    let (checkout, inventory) = (&issues[0], &issues[1]);
    assert_eq!(checkout["count"], 2);
    assert_eq!(inventory["count"], 1);
    assert_eq!(
        checkout["title"],
        "PaymentDeclined: card declined for order A-1002"
    );
    assert_eq!(checkout["culprit"], "__main__ in charge_card");
    assert_eq!(inventory["title"], "KeyError: 'LAMP-7'");
    assert_eq!(inventory["culprit"], "__main__ in load_inventory");
    for issue in issues {
        assert_eq!(issue["status"], "unresolved");
        assert_eq!(issue["level"], "error");
        assert_eq!(issue["platform"], "python");
        assert_eq!(issue["first_release"], "shop@1.0");
        assert_eq!(issue["user_count"], 1);
        assert_eq!(issue["regressed"], false);
    }

    let detail = get(&partout, &format!("/api/v1/issues/{}", checkout["id"]));
    let event = &detail["latest_event"];
    assert_eq!(event["release"], "shop@1.0");
    assert_eq!(event["environment"], "e2e");
    assert_eq!(event["server_name"], "e2e-host");
    assert_eq!(event["sdk"]["name"], "sentry.python");
    assert_eq!(event["sdk"]["version"], "2.75.0");
    assert_eq!(event["user"]["id"], "user-42");
    assert!(event["tags"]
        .as_array()
        .unwrap()
        .contains(&json!({"key": "team", "value": "checkout"})));
    let exception = &event["exceptions"][0];
    assert_eq!(exception["type"], "PaymentDeclined");
    assert_eq!(exception["value"], "card declined for order A-1002");
    assert_eq!(exception["handled"], true);
    let frames = exception["stacktrace"]["frames"].as_array().unwrap();
    let functions: Vec<&str> = frames
        .iter()
        .map(|frame| frame["function"].as_str().unwrap())
        .collect();
    assert_eq!(functions, ["capture", "checkout", "charge_card"]);
    let raising = frames.last().unwrap();
    assert_eq!(raising["in_app"], true);
    assert_eq!(raising["module"], "__main__");
    assert!(raising["abs_path"].as_str().unwrap().ends_with("shop.py"));
    assert_eq!(raising["lineno"], script_line("raise PaymentDeclined"));
    assert_eq!(
        raising["context_line"],
        "    raise PaymentDeclined(\"card declined for order %s\" % order_id)"
    );
    assert!(!raising["pre_context"].as_array().unwrap().is_empty());
    let crumbs: Vec<&str> = event["breadcrumbs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|crumb| crumb["message"].as_str())
        .collect();
    assert!(crumbs.contains(&"checkout A-1002"), "{crumbs:?}");
    assert_eq!(
        partout_e2e::tag_values(&detail, "team"),
        [("checkout".to_owned(), 2)]
    );
    assert_eq!(
        partout_e2e::tag_values(&detail, "environment"),
        [("e2e".to_owned(), 2)]
    );
    assert_eq!(
        partout_e2e::tag_values(&detail, "release"),
        [("shop@1.0".to_owned(), 2)]
    );
    assert_eq!(
        partout_e2e::tag_values(&detail, "user"),
        [("id:user-42".to_owned(), 2)]
    );
    let hourly = detail["hourly"].as_array().unwrap();
    let hourly_total: u64 = hourly
        .iter()
        .map(|hour| hour["count"].as_u64().unwrap())
        .sum();
    assert_eq!(hourly_total, 2);

    let inventory_detail = get(&partout, &format!("/api/v1/issues/{}", inventory["id"]));
    let frames = inventory_detail["latest_event"]["exceptions"][0]["stacktrace"]["frames"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        frames.last().unwrap()["lineno"],
        script_line("return stock[sku]")
    );

    let events = get(
        &partout,
        &format!("/api/v1/issues/{}/events", checkout["id"]),
    );
    let values: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["exceptions"][0]["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        values,
        [
            "card declined for order A-1002",
            "card declined for order A-1001"
        ]
    );

    let metrics = http()
        .get(format!("{}/metrics", partout.url()))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("partout_ingested_items_total{protocol=\"sentry\"} 3"),
        "{metrics}"
    );
    assert!(partout.stop().success());
}

#[test]
fn a_resolved_issue_that_recurs_in_a_new_release_regresses() {
    let Some(python) = sentry_python() else {
        return;
    };
    let partout = start();
    run_sdk(
        &python,
        &partout,
        "shop@1.0",
        "checkout",
        "errors-regression-1",
    );
    let list = get(&partout, "/api/v1/issues");
    assert_eq!(list["issues"].as_array().unwrap().len(), 1, "{list:#}");
    let id = list["issues"][0]["id"].as_i64().unwrap();

    let response = http()
        .patch(format!("{}/api/v1/issues/{id}", partout.url()))
        .bearer_auth(TOKEN)
        .json(&json!({"status": "resolved"}))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let resolved: Value = response.json().unwrap();
    assert_eq!(resolved["status"], "resolved");

    run_sdk(
        &python,
        &partout,
        "shop@1.1",
        "checkout",
        "errors-regression-2",
    );
    let detail = get(&partout, &format!("/api/v1/issues/{id}"));
    let issue = &detail["issue"];
    assert_eq!(issue["status"], "unresolved", "{detail:#}");
    assert_eq!(issue["regressed"], true);
    assert_eq!(issue["regressed_in_release"], "shop@1.1");
    assert_eq!(issue["count"], 2);
    assert_eq!(issue["first_release"], "shop@1.0");
    assert_eq!(issue["last_release"], "shop@1.1");
    assert_eq!(detail["latest_event"]["release"], "shop@1.1");
    assert!(
        partout.log().contains("issue regressed"),
        "{}",
        partout.log()
    );
    assert!(partout.stop().success());
}
