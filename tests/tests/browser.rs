//! The web app in a real browser: headless Chromium, driven over WebDriver,
//! loads the WebAssembly app from the real binary and renders the server's
//! status. Screenshots go to `<target>/e2e-output/browser_*`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use partout_e2e::webdriver::Browser;
use partout_e2e::{http, output_dir, Partout};

const RENDER_TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn browser_renders_the_wasm_app_with_live_status() {
    let out = output_dir("browser_overview");
    let partout = Partout::start();
    let index = http().get(partout.url()).send().unwrap();
    assert_eq!(
        index.status(),
        200,
        "the web app is not embedded: run `cargo xtask wasm` first"
    );
    let html = index.text().unwrap();
    // The page the server sends is a shell: the status is rendered by the
    // WebAssembly app in the browser, not by the server.
    assert!(
        !html.contains("server-status"),
        "index.html should not be server-rendered"
    );

    let browser = Browser::start().unwrap();
    browser
        .sign_in(
            &format!("{}/", partout.url()),
            "admin",
            partout_e2e::ADMIN_PASSWORD,
        )
        .unwrap();
    let status_text = browser
        .wait_for_text(
            "#server-status",
            &format!("Partout {}", env!("CARGO_PKG_VERSION")),
            RENDER_TIMEOUT,
        )
        .unwrap_or_else(|err| {
            browser.screenshot(&out.join("failure.png"));
            panic!("{err}")
        });
    assert!(!status_text.is_empty());
    browser
        .wait_for_text(
            "[data-testid=listener-http]",
            &partout.addrs["http"],
            RENDER_TIMEOUT,
        )
        .unwrap();
    browser.screenshot(&out.join("overview.png"));

    // The code that rendered it is WebAssembly, served as application/wasm.
    let resources =
        browser.execute("return performance.getEntriesByType('resource').map(e => e.name)");
    let wasm_url = resources
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .find(|name| name.ends_with(".wasm"))
        .unwrap_or_else(|| panic!("no .wasm loaded: {resources}"))
        .to_owned();
    let wasm = http().get(&wasm_url).send().unwrap();
    assert_eq!(wasm.headers()["content-type"], "application/wasm");
    assert_eq!(
        wasm.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(wasm.bytes().unwrap().starts_with(b"\0asm"));

    // Client-side navigation, then a reload on the client route.
    let logs_link = browser
        .find("a[href='/ui/logs']")
        .expect("no Logs link in the navigation");
    browser.click(&logs_link);
    browser.wait_for_text("h1", "Logs", RENDER_TIMEOUT).unwrap();
    assert!(
        browser.current_url().ends_with("/ui/logs"),
        "{}",
        browser.current_url()
    );
    browser.goto(&format!("{}/ui/errors", partout.url()));
    browser
        .wait_for_text("h1", "Errors", RENDER_TIMEOUT)
        .unwrap();
    browser.screenshot(&out.join("errors.png"));
}

#[test]
fn browser_shows_an_error_when_the_api_is_unreachable() {
    // Stop the server after the app has loaded, then navigate back to the
    // overview: the app must say the status could not be fetched rather
    // than render stale or empty data.
    let out = output_dir("browser_api_down");
    let partout = Partout::start();
    let browser = Browser::start().unwrap();
    browser
        .sign_in(
            &format!("{}/ui/settings", partout.url()),
            "admin",
            partout_e2e::ADMIN_PASSWORD,
        )
        .unwrap();
    browser
        .wait_for_text("h1", "Settings", RENDER_TIMEOUT)
        .unwrap();
    let status = partout.stop();
    assert!(status.success());
    let overview = browser.find("a[href='/']").expect("no Overview link");
    browser.click(&overview);
    let shown = browser
        .wait_for_text(
            "#status-error",
            "could not reach the server",
            RENDER_TIMEOUT,
        )
        .unwrap_or_else(|err| {
            browser.screenshot(&out.join("failure.png"));
            panic!("{err}")
        });
    assert!(
        shown.contains("Could not load the server status"),
        "{shown}"
    );
    assert!(
        browser.find("#server-status").is_none(),
        "stale status shown beside the error"
    );
    browser.screenshot(&out.join("api-down.png"));
}
