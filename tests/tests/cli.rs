//! Bad command lines and environments: one clear error line on stderr and a
//! non-zero exit, never a panic or a backtrace.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use partout_e2e::{run_to_exit, Partout};

fn assert_one_line_error(output: &std::process::Output, expected: &str) {
    assert!(!output.status.success(), "should fail: {output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "want one error line, got:\n{stderr}");
    assert!(lines[0].starts_with("partout: error: "), "{stderr}");
    assert!(
        lines[0].contains(expected),
        "want {expected:?} in:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn unknown_flag() {
    let output = run_to_exit(&["--no-such-flag"]);
    assert_eq!(output.status.code(), Some(2));
    assert_one_line_error(&output, "--no-such-flag");
}

#[test]
fn unusable_data_dir() {
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let output = run_to_exit(&[
        "--data-dir",
        file.join("data").to_str().unwrap(),
        "--http-listen",
        "127.0.0.1:0",
    ]);
    assert_one_line_error(&output, "cannot use data directory");
}

#[test]
fn bad_config_file_names_the_line() {
    let temp = tempfile::tempdir().unwrap();
    let config = temp.path().join("partout.toml");
    std::fs::write(
        &config,
        "[http]\nlisten = \"127.0.0.1:0\"\n\n[statsd]\nudp_listen = 8125\n",
    )
    .unwrap();
    let output = run_to_exit(&["--config", config.to_str().unwrap()]);
    assert_one_line_error(&output, "line 5");
    let output = run_to_exit(&[
        "--config",
        temp.path().join("missing.toml").to_str().unwrap(),
    ]);
    assert_one_line_error(&output, "cannot read config file");
    std::fs::write(&config, "[syslog]\nudp_listen = \"localhost:abc\"\n").unwrap();
    let output = run_to_exit(&["--config", config.to_str().unwrap()]);
    assert_one_line_error(&output, "syslog.udp_listen");
}

#[test]
fn port_in_use_and_data_dir_in_use() {
    let first = Partout::start();
    let temp = tempfile::tempdir().unwrap();
    let taken = first.addrs["http"].clone();
    let output = run_to_exit(&[
        "--data-dir",
        temp.path().to_str().unwrap(),
        "--http-listen",
        &taken,
    ]);
    assert_one_line_error(&output, &format!("cannot listen on {taken} for http"));

    let output = run_to_exit(&[
        "--data-dir",
        first.data_dir.to_str().unwrap(),
        "--http-listen",
        "127.0.0.1:0",
    ]);
    assert_one_line_error(&output, "in use by another running partout");
}

#[test]
fn config_default_round_trips_through_a_running_server() {
    let output = run_to_exit(&["config", "default"]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for section in ["[http]", "[statsd]", "[carbon]", "[syslog]", "[jsonlines]"] {
        assert!(text.contains(section), "{section} missing from\n{text}");
    }
    // The printed default, used as a config file, starts a server (the
    // harness's port-0 flags override its fixed ports).
    let temp = tempfile::tempdir().unwrap();
    let config = temp.path().join("partout.toml");
    std::fs::write(&config, text).unwrap();
    let partout = Partout::start_with(None, &["--config", config.to_str().unwrap()]);
    assert!(partout.addrs.contains_key("http"));
}
