//! The servable bundle in `frontend/dist/`:
//!
//! ```text
//! index.html                         not hashed: the server's SPA fallback
//! assets/partout_web-<hash>.js       wasm-bindgen's glue (an ES module)
//! assets/partout_web_bg-<hash>.wasm  the app
//! assets/style-<hash>.css            frontend/style.css
//! assets/boot-<hash>.js              imports the glue and calls `init`
//! X.gz, X.br                         beside every file above
//! ```
//!
//! Invariant: a file under `assets/` never changes content without changing
//! name (`<hash>` is the first 16 hex digits of its SHA-256), so the server
//! can let browsers cache `/assets/` forever. `index.html` has no inline
//! script, so a Content-Security-Policy without `'unsafe-inline'` works.

use std::{fs, io::Write as _, path::Path};

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};

/// Where the server mounts `dist/assets/`; index.html refers to assets by
/// absolute URL so it works for any `/ui/...` path it is served at.
const ASSETS_URL: &str = "/assets";

/// The built files the bundle is made of.
pub struct Inputs {
    /// wasm-bindgen's JS glue, generated without a default wasm path.
    pub glue_js: Vec<u8>,
    /// The wasm after wasm-bindgen.
    pub wasm: Vec<u8>,
    /// The stylesheet.
    pub css: Vec<u8>,
}

/// One file written to dist, with the sizes of its three encodings in bytes.
pub struct Written {
    /// The path relative to the dist directory.
    pub name: String,
    pub raw: usize,
    pub gzip: usize,
    pub brotli: usize,
}

/// Replaces `dist_dir` with the bundle made from `inputs`.
pub fn write(dist_dir: &Path, inputs: &Inputs) -> anyhow::Result<Vec<Written>> {
    let glue = hashed_name("partout_web", "js", &inputs.glue_js);
    let wasm = hashed_name("partout_web_bg", "wasm", &inputs.wasm);
    let css = hashed_name("style", "css", &inputs.css);
    let boot_source = boot_js(&glue, &wasm);
    let boot = hashed_name("boot", "js", boot_source.as_bytes());
    let index = index_html(&glue, &wasm, &css, &boot);

    let files: [(String, &[u8]); 5] = [
        ("index.html".to_owned(), index.as_bytes()),
        (format!("assets/{glue}"), &inputs.glue_js),
        (format!("assets/{wasm}"), &inputs.wasm),
        (format!("assets/{css}"), &inputs.css),
        (format!("assets/{boot}"), boot_source.as_bytes()),
    ];

    // Start from nothing, so assets of earlier builds do not pile up.
    if dist_dir.exists() {
        fs::remove_dir_all(dist_dir).with_context(|| format!("removing {}", dist_dir.display()))?;
    }
    let assets_dir = dist_dir.join("assets");
    fs::create_dir_all(&assets_dir)
        .with_context(|| format!("creating {}", assets_dir.display()))?;

    let mut written = Vec::with_capacity(files.len());
    for (name, content) in files {
        let gzip = gzip(content)?;
        let brotli = brotli(content)?;
        let path = dist_dir.join(&name);
        write_file(&path, content)?;
        write_file(
            &path.with_file_name(format!("{}.gz", file_name(&name))),
            &gzip,
        )?;
        write_file(
            &path.with_file_name(format!("{}.br", file_name(&name))),
            &brotli,
        )?;
        written.push(Written {
            name,
            raw: content.len(),
            gzip: gzip.len(),
            brotli: brotli.len(),
        });
    }
    Ok(written)
}

/// `stem-<hash>.ext`, with the first 16 hex digits of the content's SHA-256:
/// 64 bits, plenty against collisions among a handful of files.
fn hashed_name(stem: &str, ext: &str, content: &[u8]) -> String {
    let digest = Sha256::digest(content);
    let hash: String = digest
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{stem}-{hash}.{ext}")
}

/// The module index.html loads. The glue has no default wasm path, so the
/// hashed wasm URL is passed here, matching the preload in index.html.
fn boot_js(glue: &str, wasm: &str) -> String {
    format!(
        "// Starts Partout's web app. A module file rather than an inline script so that\n\
         // a Content-Security-Policy without 'unsafe-inline' allows it.\n\
         import init from \"{ASSETS_URL}/{glue}\";\n\
         \n\
         init({{ module_or_path: \"{ASSETS_URL}/{wasm}\" }}).catch((error) => {{\n\
         \x20 console.error(error);\n\
         \x20 document.body.textContent = \"Partout's web app failed to start: \" + error;\n\
         }});\n"
    )
}

fn index_html(glue: &str, wasm: &str, css: &str, boot: &str) -> String {
    // The wasm preload is `as="fetch"` with `crossorigin` because the glue
    // fetches it in CORS mode; without it the browser would download it twice.
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Partout</title>
<link rel="stylesheet" href="{ASSETS_URL}/{css}">
<link rel="modulepreload" href="{ASSETS_URL}/{glue}">
<link rel="preload" href="{ASSETS_URL}/{wasm}" as="fetch" type="application/wasm" crossorigin>
<script type="module" src="{ASSETS_URL}/{boot}"></script>
</head>
<body>
<noscript>Partout's web interface needs JavaScript and WebAssembly. Its HTTP API under /api/v1 works without them.</noscript>
</body>
</html>
"#
    )
}

/// The part of a dist-relative path after the last `/`.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn gzip(content: &[u8]) -> anyhow::Result<Vec<u8>> {
    // flate2 writes a zero mtime in the header, so output is reproducible.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(content).context("gzip compression")?;
    encoder.finish().context("gzip compression")
}

fn brotli(content: &[u8]) -> anyhow::Result<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        // A 4 MiB window: larger than any file here, so the whole file is one
        // window, and still what every browser accepts.
        lgwin: 22,
        ..Default::default()
    };
    let mut out = Vec::new();
    brotli::BrotliCompress(&mut &content[..], &mut out, &params).context("brotli compression")?;
    Ok(out)
}

fn write_file(path: &Path, content: &[u8]) -> anyhow::Result<()> {
    fs::write(path, content).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    #[test]
    fn hashed_names_follow_content() {
        let a = hashed_name("style", "css", b"a");
        assert_eq!(a, "style-ca978112ca1bbdca.css");
        assert_ne!(a, hashed_name("style", "css", b"b"));
    }

    #[test]
    fn index_refers_to_every_asset_by_absolute_url() {
        let html = index_html("g.js", "w.wasm", "s.css", "b.js");
        for url in [
            "/assets/g.js",
            "/assets/w.wasm",
            "/assets/s.css",
            "/assets/b.js",
        ] {
            assert!(html.contains(&format!("\"{url}\"")), "{url} missing");
        }
        // No inline script: the only <script> has a src.
        assert_eq!(html.matches("<script").count(), 1);
        assert!(html.contains("<script type=\"module\" src="));
    }

    #[test]
    fn boot_passes_the_hashed_wasm_to_init() {
        let js = boot_js("g-1.js", "w-2.wasm");
        assert!(js.contains("import init from \"/assets/g-1.js\";"));
        assert!(js.contains("init({ module_or_path: \"/assets/w-2.wasm\" })"));
    }

    #[test]
    fn compressed_siblings_round_trip() -> anyhow::Result<()> {
        let content = b"partout partout partout partout".repeat(10);

        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&gzip(&content)?[..]).read_to_end(&mut unzipped)?;
        assert_eq!(unzipped, content);

        let mut unbrotli = Vec::new();
        brotli::BrotliDecompress(&mut &brotli(&content)?[..], &mut unbrotli)?;
        assert_eq!(unbrotli, content);
        Ok(())
    }

    #[test]
    fn dist_layout() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("xtask-dist-{}", std::process::id()));
        let inputs = Inputs {
            glue_js: b"export default function init() {}".to_vec(),
            wasm: b"\0asm".to_vec(),
            css: b"body {}".to_vec(),
        };
        let written = write(&dir, &inputs)?;
        let names: Vec<&str> = written.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names.first(), Some(&"index.html"));
        for name in &names {
            assert!(dir.join(name).is_file(), "{name}");
            assert!(dir.join(format!("{name}.gz")).is_file(), "{name}.gz");
            assert!(dir.join(format!("{name}.br")).is_file(), "{name}.br");
        }
        fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
