//! Running child processes with readable errors.

use std::process::Command;

use anyhow::{bail, Context as _};

/// Runs `cmd` with inherited stdio and fails unless it exits successfully.
pub fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let shown = show(cmd);
    println!("xtask: running {shown}");
    let status = cmd
        .status()
        .with_context(|| format!("could not start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Runs `cmd` quietly and returns its stdout, trimmed. On failure the error
/// carries stderr, which is where tools say what went wrong.
pub fn stdout(cmd: &mut Command) -> anyhow::Result<String> {
    let shown = show(cmd);
    let output = cmd
        .output()
        .with_context(|| format!("could not start `{shown}`"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!("`{shown}` failed ({}): {}", output.status, stderr.trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The command line as a person would type it, for messages.
pub fn show(cmd: &Command) -> String {
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}
