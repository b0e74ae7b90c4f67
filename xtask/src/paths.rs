//! Where things are in the workspace.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The workspace root: where `cargo run` says xtask's manifest is, else
/// the path baked in at compile time. Checkouts that share a target
/// directory share the `xtask` binary too, and cargo does not always copy
/// its own build over another checkout's, so the baked-in path can name
/// another checkout (or one since deleted).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.clone(), Path::to_path_buf)
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set (CI may point it at
/// a cache outside the clone), else `target/` in the workspace.
pub fn target_dir() -> anyhow::Result<PathBuf> {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                Ok(dir)
            } else {
                // Cargo reads a relative CARGO_TARGET_DIR from the current
                // directory; so do we.
                let cwd = std::env::current_dir().context("reading the current directory")?;
                Ok(cwd.join(dir))
            }
        }
        _ => Ok(workspace_root().join("target")),
    }
}
