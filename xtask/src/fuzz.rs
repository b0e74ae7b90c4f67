//! `cargo xtask fuzz [--seconds N] [target...]`: runs the cargo-fuzz
//! targets of `ingest-protocols/fuzz`, each for N seconds (default 60),
//! all of them unless some are named. `cargo xtask test` runs every
//! target for [`TEST_SECONDS`] first (`PARTOUT_FUZZ_SECONDS` changes it;
//! 0 skips), so a parser change that crashes on some input fails the
//! suite. The corpus grows run to run in `<target>/fuzz/corpus/<name>`;
//! a crashing input is saved in `<target>/fuzz/artifacts/<name>/` and
//! belongs in a regression test.
//!
//! cargo-fuzz needs nightly compiler flags (sanitizers, coverage):
//! `RUSTC_BOOTSTRAP=1` lets the stable toolchain take them.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

use anyhow::{bail, Context as _};

use crate::dist::cargo;
use crate::{exec, paths};

/// Seconds per target when the test suite runs them.
pub const TEST_SECONDS: u64 = 10;
/// Seconds per target for `cargo xtask fuzz` alone.
const DEFAULT_SECONDS: u64 = 60;

pub fn cmd(args: &[String]) -> anyhow::Result<()> {
    let mut seconds = DEFAULT_SECONDS;
    let mut only = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = rest.next().context("`--seconds` needs a number")?;
                seconds = value
                    .parse()
                    .with_context(|| format!("`--seconds {value}` is not a number"))?;
            }
            other if other.starts_with('-') => {
                bail!("unknown option `{other}` for `cargo xtask fuzz`")
            }
            target => only.push(target.to_owned()),
        }
    }
    run(seconds, &only)
}

/// Seconds per target for the test suite, from `PARTOUT_FUZZ_SECONDS`.
pub fn test_seconds() -> anyhow::Result<u64> {
    match std::env::var("PARTOUT_FUZZ_SECONDS") {
        Ok(value) => value
            .trim()
            .parse()
            .with_context(|| format!("PARTOUT_FUZZ_SECONDS={value} is not a number")),
        Err(_) => Ok(TEST_SECONDS),
    }
}

/// Runs `only` (or every target) for `seconds` each.
pub fn run(seconds: u64, only: &[String]) -> anyhow::Result<()> {
    if seconds == 0 {
        println!("xtask: fuzzing skipped (0 seconds)");
        return Ok(());
    }
    let fuzz_dir = paths::workspace_root()
        .join("ingest-protocols")
        .join("fuzz");
    let targets = if only.is_empty() {
        targets(&fuzz_dir)?
    } else {
        only.to_vec()
    };
    ensure_cargo_fuzz()?;
    let out = paths::target_dir()?.join("fuzz");
    let started = Instant::now();
    // Built first, so that code which no longer compiles is not reported
    // as an input that breaks a target.
    exec::run(
        cargo()
            .args(["fuzz", "build", "--release", "--target-dir"])
            .arg(out.join("build"))
            .env("RUSTC_BOOTSTRAP", "1")
            .current_dir(fuzz_dir.parent().unwrap_or(&fuzz_dir)),
    )
    .context("the fuzz targets do not build: see the compiler's errors above")?;
    for target in &targets {
        let corpus = out.join("corpus").join(target);
        let artifacts = out.join("artifacts").join(target);
        std::fs::create_dir_all(&corpus)?;
        std::fs::create_dir_all(&artifacts)?;
        exec::run(
            cargo()
                .args(["fuzz", "run", "--release", "--target-dir"])
                .arg(out.join("build"))
                .arg(target)
                .arg(&corpus)
                .arg("--")
                .arg(format!("-max_total_time={seconds}"))
                .arg(format!("-artifact_prefix={}/", artifacts.display()))
                .arg("-print_final_stats=1")
                .env("RUSTC_BOOTSTRAP", "1")
                .current_dir(fuzz_dir.parent().unwrap_or(&fuzz_dir)),
        )
        .with_context(|| {
            format!(
                "fuzz target `{target}` found an input that breaks it: see {} and make it a regression test",
                artifacts.display()
            )
        })?;
    }
    println!(
        "xtask: {} fuzz targets ran {seconds} s each without a finding ({:.0} s in all)",
        targets.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The targets: one file each in `fuzz_targets/`.
fn targets(fuzz_dir: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(fuzz_dir.join("fuzz_targets"))?
        .filter_map(Result::ok)
        .map(|entry| PathBuf::from(entry.file_name()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .filter_map(|path| Some(path.file_stem()?.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    Ok(names)
}

/// Installs cargo-fuzz when `cargo fuzz` is missing.
fn ensure_cargo_fuzz() -> anyhow::Result<()> {
    let present = cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !present {
        exec::run(cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    }
    Ok(())
}
