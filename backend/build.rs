//! Embeds the built web app (`frontend/dist`, made by `cargo xtask wasm`)
//! into the binary as a static table, `WEB_ASSETS`, included by
//! `src/http/assets.rs`. `PARTOUT_WEB_DIST` points elsewhere if needed.
//!
//! Without a dist folder the table is empty and the server says, at `/`, how
//! to build the app: the API and the tests that do not need a browser still
//! build and run.

use std::collections::hash_map::DefaultHasher;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=PARTOUT_WEB_DIST");
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dist = std::env::var_os("PARTOUT_WEB_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("../frontend/dist"));
    println!("cargo:rerun-if-changed={}", dist.display());

    let mut files = Vec::new();
    if dist.join("index.html").is_file() {
        collect(&dist, &mut files);
        files.sort();
    } else {
        println!(
            "cargo:warning=web app not embedded: {} has no index.html (run `cargo xtask wasm`)",
            dist.display()
        );
    }

    let mut code = String::from("pub static WEB_ASSETS: &[EmbeddedAsset] = &[\n");
    for file in &files {
        let Ok(relative) = file.strip_prefix(&dist) else {
            continue;
        };
        let url = format!("/{}", relative.to_string_lossy().replace('\\', "/"));
        let Ok(content) = std::fs::read(file) else {
            continue;
        };
        let mut hasher = DefaultHasher::new();
        content.hash(&mut hasher);
        let sibling = |ext: &str| {
            let mut name = file.clone().into_os_string();
            name.push(ext);
            let path = PathBuf::from(name);
            if path.is_file() {
                format!("Some(include_bytes!({:?}))", path.display().to_string())
            } else {
                "None".to_owned()
            }
        };
        let _ = writeln!(
            code,
            "    EmbeddedAsset {{ path: {url:?}, content_type: {:?}, etag: \"\\\"{:016x}\\\"\", immutable: {}, identity: include_bytes!({:?}), gzip: {}, brotli: {} }},",
            content_type(file),
            hasher.finish(),
            url.starts_with("/assets/"),
            file.display().to_string(),
            sibling(".gz"),
            sibling(".br"),
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("web_assets.rs");
    if let Err(err) = std::fs::write(&out, code) {
        panic!("cannot write {}: {err}", out.display());
    }
}

/// Every file under `dir` except the precompressed siblings.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else if !matches!(path.extension().and_then(|e| e.to_str()), Some("gz" | "br")) {
            files.push(path);
        }
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|ext| ext.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
