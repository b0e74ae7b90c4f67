//! Access control on the real binary: the first admin, signing in over
//! HTTP, and where listeners bind by default.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use partout_e2e::{http_anonymous, Partout, ADMIN_PASSWORD};
use serde_json::{json, Value};

/// Every listener given as a bare port 0: where it binds is partout's
/// default choice.
const BARE_PORTS: &[&str] = &[
    "--http-listen",
    "0",
    "--statsd-udp-listen",
    "0",
    "--statsd-tcp-listen",
    "0",
    "--carbon-tcp-listen",
    "0",
    "--carbon-udp-listen",
    "0",
    "--carbon-pickle-listen",
    "0",
    "--syslog-udp-listen",
    "0",
    "--syslog-tcp-listen",
    "0",
    "--jsonlines-tcp-listen",
    "0",
];

fn sign_in(partout: &Partout, username: &str, password: &str) -> reqwest::blocking::Response {
    http_anonymous()
        .post(format!("{}/api/v1/auth/login", partout.url()))
        .json(&json!({"username": username, "password": password}))
        .send()
        .unwrap()
}

/// The generated password in the start-up log, if any.
fn generated_password(log: &str) -> Option<String> {
    let line = log
        .lines()
        .find(|line| line.contains("generated password"))?;
    let start = line.find("password=")? + "password=".len();
    Some(line[start..].split_whitespace().next()?.to_owned())
}

#[test]
fn the_first_admin_gets_a_password_printed_once_and_stored_hashed() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let mut partout = Partout::start_raw(Some(&data_dir), BARE_PORTS);
    let password = generated_password(&partout.log())
        .unwrap_or_else(|| panic!("no generated password in the log:\n{}", partout.log()));
    assert_eq!(password.len(), 20, "{password}");
    let answer = sign_in(&partout, "admin", &password);
    assert_eq!(answer.status(), 200);
    let session: Value = answer.json().unwrap();
    assert_eq!(session["role"], "admin");
    assert_eq!(sign_in(&partout, "admin", "not-the-password").status(), 401);
    partout.signal(libc::SIGTERM);
    assert!(partout.wait_exit().success());

    let database = std::fs::read(data_dir.join("partout.sqlite")).unwrap();
    let needle = password.as_bytes();
    assert!(
        !database
            .windows(needle.len())
            .any(|window| window == needle),
        "the password is in the database in clear"
    );

    let again = Partout::start_raw(Some(&data_dir), BARE_PORTS);
    assert!(
        generated_password(&again.log()).is_none(),
        "a second start made another password:\n{}",
        again.log()
    );
    assert_eq!(sign_in(&again, "admin", &password).status(), 200);
    again.stop();
}

#[test]
fn a_browser_session_reads_and_the_web_app_is_public() {
    let partout = Partout::start();
    let anonymous = http_anonymous();
    let page = anonymous.get(partout.url()).send().unwrap();
    assert_eq!(page.status(), 200);
    let issues = format!("{}/api/v1/issues", partout.url());
    assert_eq!(anonymous.get(&issues).send().unwrap().status(), 401);

    let answer = sign_in(&partout, "admin", ADMIN_PASSWORD);
    assert_eq!(answer.status(), 200);
    let cookie = answer.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    let pair = cookie.split(';').next().unwrap().to_owned();
    let listed = anonymous
        .get(&issues)
        .header("cookie", &pair)
        .send()
        .unwrap();
    assert_eq!(listed.status(), 200);
    let deploy = json!({"service": "api", "version": "2"});
    let deploys = format!("{}/api/v1/deploys", partout.url());
    let forged = anonymous
        .post(&deploys)
        .header("cookie", &pair)
        .json(&deploy)
        .send()
        .unwrap();
    assert_eq!(forged.status(), 403, "no CSRF token");
    let session: Value = answer.json().unwrap();
    let made = anonymous
        .post(&deploys)
        .header("cookie", &pair)
        .header("x-csrf-token", session["csrf_token"].as_str().unwrap())
        .json(&deploy)
        .send()
        .unwrap();
    assert_eq!(made.status(), 201);
    partout.stop();
}

#[test]
fn listeners_bind_loopback_unless_told_to_bind_every_interface() {
    let local = Partout::start_raw(None, BARE_PORTS);
    assert_eq!(local.addrs.len(), 9, "{:?}", local.addrs);
    for (key, addr) in &local.addrs {
        assert!(addr.starts_with("127.0.0.1:"), "{key} on {addr}");
    }
    assert!(!local.log().contains("reachable beyond this machine"));
    local.stop();

    let mut args = BARE_PORTS.to_vec();
    args.push("--listen-all-interfaces");
    let exposed = Partout::start_raw(None, &args);
    for (key, addr) in &exposed.addrs {
        assert!(addr.starts_with("0.0.0.0:"), "{key} on {addr}");
    }
    let log = exposed.log();
    for key in ["statsd_udp", "syslog_tcp", "jsonlines_tcp", "carbon_pickle"] {
        assert!(
            log.lines()
                .any(|line| line.contains("reachable beyond this machine") && line.contains(key)),
            "no warning for {key}:\n{log}"
        );
    }
    exposed.stop();
}
