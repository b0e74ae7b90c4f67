//! `cargo xtask test [--route rustup|debian]`: the README's second command,
//! and what `.ci/run` calls. Installs what the tests need, builds the web app
//! and the server, checks formatting and lints, then runs every test; the
//! test runner's summary is the last thing printed.

use std::process::Stdio;
use std::time::Instant;

use crate::dist::cargo;
use crate::{deps, exec, fuzz, paths, wasm};

pub fn cmd(args: &[String]) -> anyhow::Result<()> {
    let started = Instant::now();
    let in_ci = std::env::var_os("CI").is_some_and(|value| !value.is_empty() && value != "false");
    let options = wasm::Options {
        route: wasm::parse_route_flag(args)?,
        locked: in_ci,
    };
    deps::ensure_debian_packages(deps::BROWSER_PACKAGES)?;
    let sentry_python = deps::ensure_sentry_sdk_venv()?;
    let sentry_node = deps::ensure_sentry_node()?;
    let route = wasm::select_route(options.route)?;
    let options = wasm::Options {
        route: Some(route),
        ..options
    };
    wasm::build_dist(&options)?;
    let root = paths::workspace_root();
    let locked: &[&str] = if options.locked { &["--locked"] } else { &[] };

    exec::run(
        cargo()
            .args(["fmt", "--all", "--", "--check"])
            .current_dir(&root),
    )?;
    exec::run(
        cargo()
            .args(["clippy", "--all-targets"])
            .args(locked)
            .args(["--", "-D", "warnings"])
            .current_dir(&root),
    )?;
    if route == wasm::Route::Rustup {
        // The web app's own lints, on the target it is built for. (Debian's
        // route has no prebuilt wasm32 std for clippy; the app still builds
        // there and its host tests run below.)
        exec::run(
            cargo()
                .args([
                    "clippy",
                    "--package",
                    "partout-web",
                    "--target",
                    "wasm32-unknown-unknown",
                ])
                .args(locked)
                .args(["--", "-D", "warnings"])
                .current_dir(&root),
        )?;
    }
    exec::run(
        cargo()
            .args(["build", "--package", "partout", "--bin", "partout"])
            .args(locked)
            .current_dir(&root),
    )?;
    // Every parser's fuzz target, briefly: a crash fails the suite.
    fuzz::run(fuzz::test_seconds()?, &[])?;
    let partout_bin = paths::target_dir()?.join("debug").join("partout");
    println!(
        "xtask: built and checked in {:.0} s; running the tests",
        started.elapsed().as_secs_f64()
    );

    let mut tests = if has_nextest() {
        let mut command = cargo();
        command.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
        command
    } else {
        let mut command = cargo();
        command.args(["test", "--workspace", "--no-fail-fast"]);
        command
    };
    tests
        .args(locked)
        .env("PARTOUT_BIN", &partout_bin)
        // The errors e2e tests must run here, not skip for want of an SDK.
        .env("PARTOUT_SENTRY_PYTHON", &sentry_python)
        .env("PARTOUT_SENTRY_NODE", &sentry_node)
        .current_dir(&root);
    exec::run(&mut tests)
}

fn has_nextest() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
