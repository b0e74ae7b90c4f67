//! Signing in and managing access in the web app, in headless Chromium:
//! a wrong password, API tokens made and revoked, a viewer added who then
//! signs in and cannot manage users.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use partout_e2e::webdriver::Browser;
use partout_e2e::{http_anonymous, output_dir, Partout, ADMIN_PASSWORD};

const RENDER_TIMEOUT: Duration = Duration::from_secs(30);

fn type_into(browser: &Browser, css: &str, text: &str) {
    let field = browser.find(css).unwrap_or_else(|| panic!("no {css}"));
    browser.clear(&field);
    browser.send_keys(&field, text);
}

fn click(browser: &Browser, css: &str) {
    let element = browser.find(css).unwrap_or_else(|| panic!("no {css}"));
    browser.click(&element);
}

#[test]
fn signing_in_making_tokens_and_adding_a_viewer() {
    let out = output_dir("browser_access");
    let partout = Partout::start();
    let settings = format!("{}/ui/settings", partout.url());
    let browser = Browser::start().unwrap();

    // A wrong password is refused on the page; nothing else shows.
    browser.goto(&settings);
    browser.wait_until(
        "the sign-in form shows",
        "return !!document.querySelector('#login-form')",
        &out,
    );
    browser.screenshot(&out.join("1-sign-in.png"));
    type_into(&browser, "#login-username", "admin");
    type_into(&browser, "#login-password", "not-the-password\u{E007}");
    browser
        .wait_for_text(
            "#login-error",
            "Wrong user name or password",
            RENDER_TIMEOUT,
        )
        .unwrap();
    assert!(browser.find("#signed-in-as").is_none());

    // The right one lands on the page asked for.
    type_into(
        &browser,
        "#login-password",
        &format!("{ADMIN_PASSWORD}\u{E007}"),
    );
    browser
        .wait_for_text("#signed-in-as", "admin", RENDER_TIMEOUT)
        .unwrap();
    browser
        .wait_for_text("h1", "Settings", RENDER_TIMEOUT)
        .unwrap();

    // A read token, shown once, works until it is revoked.
    type_into(&browser, "#token-name", "grafana");
    click(&browser, "#token-form button[type=submit]");
    let secret = browser
        .wait_for_text("#new-token-secret", "pt_", RENDER_TIMEOUT)
        .unwrap();
    browser.screenshot(&out.join("2-token.png"));
    let issues = format!("{}/api/v1/issues", partout.url());
    let with_token = http_anonymous()
        .get(&issues)
        .bearer_auth(secret.trim())
        .send()
        .unwrap();
    assert_eq!(with_token.status(), 200);
    browser.wait_until("the token is listed",
        "return !!document.querySelector('#tokens-table tr[data-token=grafana][data-state=active] .revoke')",
        &out,
    );
    click(&browser, "#tokens-table tr[data-token=grafana] .revoke");
    browser.wait_until("the token shows as revoked",
        "return !!document.querySelector('#tokens-table tr[data-token=grafana][data-state=revoked]')",
        &out,
    );
    let revoked = http_anonymous()
        .get(&issues)
        .bearer_auth(secret.trim())
        .send()
        .unwrap();
    assert_eq!(revoked.status(), 401);

    // A viewer is added, and signs in after the admin signs out.
    type_into(&browser, "#new-user-name", "vera");
    type_into(&browser, "#new-user-password", "vera-password");
    click(&browser, "#user-form button[type=submit]");
    browser.wait_until(
        "vera is listed",
        "return !!document.querySelector('#users-table tr[data-user=vera]')",
        &out,
    );
    browser.screenshot(&out.join("3-users.png"));
    click(&browser, "#sign-out");
    browser.wait_until(
        "the sign-in form is back",
        "return !!document.querySelector('#login-form')",
        &out,
    );
    type_into(&browser, "#login-username", "vera");
    type_into(&browser, "#login-password", "vera-password\u{E007}");
    browser
        .wait_for_text("#signed-in-as", "viewer", RENDER_TIMEOUT)
        .unwrap();
    browser
        .wait_for_text("h1", "Settings", RENDER_TIMEOUT)
        .unwrap();
    assert!(
        browser.find("#users-table").is_none(),
        "a viewer sees no user management"
    );
    let scopes = browser
        .execute("return [...document.querySelectorAll('#token-scope option')].map(o => o.value)");
    assert_eq!(scopes, serde_json::json!(["read"]));
    browser.screenshot(&out.join("4-viewer.png"));
    partout.stop();
}
