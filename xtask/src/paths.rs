//! Where things are in the workspace.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The workspace root. xtask is only ever run from its own checkout, so the
/// path baked in at compile time is the right one.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
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
