//! `cargo xtask bench [metrics|storage]`: builds partout and the load
//! generator in release mode and runs the benchmarks, which print their
//! figures: `metrics` (StatsD parse and UDP, carbon TCP, `/render`) and
//! `storage` (bytes per point on a realistic day, several minutes).
//! Without an argument, both.

use crate::dist::cargo;
use crate::{exec, paths};

pub fn cmd(args: &[String]) -> anyhow::Result<()> {
    let which: Vec<&str> = match args.first().map(String::as_str) {
        None => vec!["metrics", "storage"],
        Some(one @ ("metrics" | "storage")) => vec![one],
        Some(other) => anyhow::bail!("unknown benchmark {other}: use metrics or storage"),
    };
    let root = paths::workspace_root();
    exec::run(
        cargo()
            .args([
                "build",
                "--release",
                "--package",
                "partout",
                "--package",
                "partout-loadgen",
            ])
            .current_dir(&root),
    )?;
    let release = paths::target_dir()?.join("release");
    for bench in which {
        exec::run(
            std::process::Command::new(release.join("partout-loadgen"))
                .arg(bench)
                .arg("--partout")
                .arg(release.join("partout"))
                .current_dir(&root),
        )?;
    }
    Ok(())
}
