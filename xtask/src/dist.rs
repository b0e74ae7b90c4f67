//! `cargo xtask dist`: the release binary with the web app embedded.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context as _;

use crate::{exec, paths, wasm};

/// Builds the web app, then the release `partout` that embeds it; returns
/// the binary's path.
pub fn build_release(options: &wasm::Options) -> anyhow::Result<PathBuf> {
    wasm::build_dist(options)?;
    let mut build = cargo();
    build.args([
        "build",
        "--release",
        "--package",
        "partout",
        "--bin",
        "partout",
    ]);
    if options.locked {
        build.arg("--locked");
    }
    exec::run(build.current_dir(paths::workspace_root()))?;
    Ok(paths::target_dir()?.join("release").join("partout"))
}

/// `cargo xtask dist [--route rustup|debian] [--locked]`.
pub fn cmd(args: &[String]) -> anyhow::Result<()> {
    let options = wasm::Options {
        route: wasm::parse_route_flag(args)?,
        locked: args.iter().any(|arg| arg == "--locked"),
    };
    let binary = build_release(&options)?;
    let size = std::fs::metadata(&binary)
        .with_context(|| format!("reading {}", binary.display()))?
        .len();
    println!("xtask: release binary {} ({size} bytes)", binary.display());
    Ok(())
}

/// The cargo that runs xtask (so the same toolchain builds everything).
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}
