//! A minimal W3C WebDriver client for Debian's `chromedriver` driving
//! headless `chromium`: enough to load a page, wait for an element, read
//! text, click, run a script and take a screenshot.
//!
//! Written here rather than pulling a WebDriver crate: the ones available
//! bring a TLS stack for talking to remote grids, and we only ever talk to a
//! chromedriver on loopback.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

/// The key under which W3C WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Flags for Chromium on these machines (see shared/wasm-toolchain.md).
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,900",
];

/// A chromedriver process and one browser session on it.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::blocking::Client,
    _profile: tempfile::TempDir,
}

/// Why the browser cannot be driven, worded for the person running tests.
pub fn missing_tools() -> Option<String> {
    for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        if !Path::new(tool).exists() {
            return Some(format!(
                "{tool} is missing: install Debian's chromium and chromium-driver (cargo xtask deps)"
            ));
        }
    }
    None
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a session.
    pub fn start() -> Result<Browser, String> {
        if let Some(problem) = missing_tools() {
            return Err(problem);
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start chromedriver: {e}"))?;
        let http = crate::http();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = http
                .get(format!("{base}/status"))
                .send()
                .ok()
                .and_then(|r| r.json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            if Instant::now() > deadline {
                return Err("chromedriver did not become ready".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args }
            }}
        });
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .and_then(|r| r.json())
            .map_err(|e| format!("cannot create a browser session: {e}"))?;
        let session = created["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session id in {created}"))?
            .to_owned();
        Ok(Browser {
            driver,
            base,
            session,
            http,
            _profile: profile,
        })
    }

    fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response: Value = request.send().unwrap().json().unwrap();
        response["value"].clone()
    }

    pub fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })));
    }

    pub fn current_url(&self) -> String {
        self.command(reqwest::Method::GET, "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The first element matching `css`, if any right now.
    pub fn find(&self, css: &str) -> Option<String> {
        let found = self.command(
            reqwest::Method::POST,
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        );
        found[ELEMENT_KEY].as_str().map(str::to_owned)
    }

    pub fn text(&self, element: &str) -> String {
        self.command(
            reqwest::Method::GET,
            &format!("/element/{element}/text"),
            None,
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    pub fn click(&self, element: &str) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        );
    }

    /// Empties an input or textarea.
    pub fn clear(&self, element: &str) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/clear"),
            Some(json!({})),
        );
    }

    /// Types `text` into an element with real key events; `\u{E007}` is
    /// the Enter key.
    pub fn send_keys(&self, element: &str, text: &str) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Presses the mouse at `from_x` pixels right of the element's centre
    /// (negative: left), moves to `to_x` and releases there: a drag.
    pub fn drag_horizontally(&self, element: &str, from_x: i64, to_x: i64) {
        let origin = json!({ ELEMENT_KEY: element });
        let actions = json!({ "actions": [{
            "type": "pointer",
            "id": "mouse",
            "parameters": { "pointerType": "mouse" },
            "actions": [
                { "type": "pointerMove", "origin": origin, "x": from_x, "y": 0 },
                { "type": "pointerDown", "button": 0 },
                { "type": "pointerMove", "origin": origin, "x": to_x, "y": 0, "duration": 200 },
                { "type": "pointerUp", "button": 0 },
            ],
        }]});
        self.command(reqwest::Method::POST, "/actions", Some(actions));
        self.command(reqwest::Method::DELETE, "/actions", None);
    }

    /// Polls until an element matching `css` has text containing `expected`;
    /// returns the text, or the last text seen as the error.
    pub fn wait_for_text(
        &self,
        css: &str,
        expected: &str,
        timeout: Duration,
    ) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        let mut last = String::from("<no element>");
        while Instant::now() < deadline {
            if let Some(element) = self.find(css) {
                last = self.text(&element);
                if last.contains(expected) {
                    return Ok(last);
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "{css} never contained {expected:?}; last text: {last:?}"
        ))
    }

    /// Opens `url` and signs in on the sign-in page the app shows there,
    /// as `username`; returns once the app shows who is signed in.
    pub fn sign_in(&self, url: &str, username: &str, password: &str) -> Result<(), String> {
        self.goto(url);
        let deadline = Instant::now() + Duration::from_secs(30);
        let field = loop {
            if let Some(field) = self.find("#login-username") {
                break field;
            }
            if Instant::now() > deadline {
                return Err(format!("no sign-in form at {url}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        self.send_keys(&field, username);
        let password_field = self.find("#login-password").ok_or("no password field")?;
        self.send_keys(&password_field, &format!("{password}\u{E007}"));
        self.wait_for_text("#signed-in-as", username, Duration::from_secs(30))
            .map(|_| ())
    }

    /// Polls `script` (a function body) until it returns `true`, for up to
    /// 30 s; on timeout saves `out/failure.png` and panics with `what`
    /// and the page's text.
    pub fn wait_until(&self, what: &str, script: &str, out: &Path) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let value = self.execute(script);
            if value == Value::Bool(true) {
                return;
            }
            if Instant::now() > deadline {
                self.screenshot(&out.join("failure.png"));
                let page = self
                    .execute("return (document.querySelector('main') || document.body).innerText");
                panic!("timed out waiting until {what} (last: {value}); the page says:\n{page}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs `script` (a function body) in the page and returns its value.
    pub fn execute(&self, script: &str) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Saves a PNG screenshot of the viewport to `path`.
    pub fn screenshot(&self, path: &Path) {
        let encoded = self.command(reqwest::Method::GET, "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "screenshot is not a PNG");
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
