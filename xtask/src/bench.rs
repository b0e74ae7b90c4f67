//! `cargo xtask bench`: builds partout and the load generator in release
//! mode and runs the metrics benchmark, which prints its figures.

use crate::dist::cargo;
use crate::{exec, paths};

pub fn cmd(_args: &[String]) -> anyhow::Result<()> {
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
    exec::run(
        std::process::Command::new(release.join("partout-loadgen"))
            .arg("metrics")
            .arg("--partout")
            .arg(release.join("partout"))
            .current_dir(&root),
    )
}
