//! `cargo xtask run [--route rustup|debian] [-- partout flags]`: the README's
//! first command. Builds everything and runs partout with its embedded
//! defaults (or the flags after `--`).

use std::os::unix::process::CommandExt as _;
use std::process::Command;

use anyhow::bail;

use crate::{dist, paths, wasm};

pub fn cmd(args: &[String]) -> anyhow::Result<()> {
    let (ours, theirs) = match args.iter().position(|arg| arg == "--") {
        Some(split) => (&args[..split], &args[split + 1..]),
        None => (args, &[][..]),
    };
    let options = wasm::Options {
        route: wasm::parse_route_flag(ours)?,
        locked: false,
    };
    let binary = dist::build_release(&options)?;
    println!(
        "xtask: starting {} (Ctrl-C stops it and flushes its data)",
        binary.display()
    );
    // Replace this process so signals reach partout directly and its exit
    // status is ours.
    let error = Command::new(&binary)
        .arg("serve")
        .args(theirs)
        .current_dir(paths::workspace_root())
        .exec();
    bail!("cannot start {}: {error}", binary.display())
}
