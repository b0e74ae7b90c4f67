//! `cargo xtask wasm`: builds the web app (`partout-web`) into `frontend/dist/`.
//!
//! Steps: pick a toolchain route, compile for wasm32 with the `wasm-release`
//! profile, generate the JS glue with wasm-bindgen (as a library, so it is
//! always the Cargo.lock version), then lay out hashed assets and their
//! precompressed siblings (see `dist`).
//!
//! Two toolchain routes exist because rustup's wasm32 target cannot always be
//! downloaded on these machines, while Debian's Rust always can:
//! - `rustup`: rustup's toolchain with its prebuilt wasm32 std;
//! - `debian`: Debian's `rustc-web` 1.96, rebuilding std from `rust-web-src`
//!   with `-Zbuild-std` (no prebuilt wasm32 std is packaged).

mod dist;

use std::{
    fmt,
    path::{Path, PathBuf},
    process::Command,
    str::FromStr,
    time::Instant,
};

use anyhow::{bail, Context as _};

use crate::{deps, exec, paths};

/// The Debian packages route `debian` builds with. `lld-22` is named because
/// `rust-web-llvm` ships the `rust-lld` link but does not depend on it.
pub const DEBIAN_RUST_PACKAGES: &[&str] = &[
    "rustc-web",
    "cargo-web",
    "rust-web-src",
    "rust-web-llvm",
    "lld-22",
];

/// Overrides route detection with `rustup` or `debian`.
pub const ROUTE_ENV: &str = "PARTOUT_WASM_ROUTE";

const TARGET: &str = "wasm32-unknown-unknown";
const PROFILE: &str = "wasm-release";
const PACKAGE: &str = "partout-web";
/// The file name stem of the glue and wasm (`partout_web.js`,
/// `partout_web_bg.wasm`); cargo names the binary `partout-web.wasm`.
const OUT_NAME: &str = "partout_web";

/// Which compiler builds the wasm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// rustup's toolchain and its prebuilt `wasm32-unknown-unknown` std.
    Rustup,
    /// Debian's `rustc-web` with std rebuilt from source (`-Zbuild-std`).
    Debian,
}

impl Route {
    /// The cargo target directory for this route, under `target`. Each route
    /// has its own: fingerprints from two compilers would invalidate each
    /// other on every switch.
    fn target_dir(self, target: &Path) -> PathBuf {
        match self {
            Route::Rustup => target.join("wasm"),
            Route::Debian => target.join("wasm-debian"),
        }
    }
}

impl FromStr for Route {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Route> {
        match s {
            "rustup" => Ok(Route::Rustup),
            "debian" => Ok(Route::Debian),
            other => bail!("unknown wasm route `{other}`, expected `rustup` or `debian`"),
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Route::Rustup => "rustup",
            Route::Debian => "debian",
        })
    }
}

/// How to build the web app.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Forces a route; `None` reads `PARTOUT_WASM_ROUTE`, then detects.
    pub route: Option<Route>,
    /// Passes `--locked` to cargo, so a stale Cargo.lock fails instead of
    /// being rewritten (what CI wants).
    pub locked: bool,
}

/// `cargo xtask wasm [--route rustup|debian] [--locked]`.
pub fn cmd(args: &[String]) -> anyhow::Result<()> {
    let mut options = Options {
        route: parse_route_flag(args)?,
        locked: false,
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--locked" => options.locked = true,
            // Parsed above; skip its value.
            "--route" => {
                rest.next();
            }
            arg if arg.starts_with("--route=") => {}
            other => bail!("unknown option `{other}` for `cargo xtask wasm`"),
        }
    }
    let dist = build_dist(&options)?;
    println!("xtask: web app ready in {}", dist.display());
    Ok(())
}

/// Reads `--route <r>` or `--route=<r>` from a command's arguments.
pub fn parse_route_flag(args: &[String]) -> anyhow::Result<Option<Route>> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--route" {
            let value = iter
                .next()
                .context("`--route` needs a value: rustup or debian")?;
            return value.parse().map(Some);
        }
        if let Some(value) = arg.strip_prefix("--route=") {
            return value.parse().map(Some);
        }
    }
    Ok(None)
}

/// Builds `partout-web` and writes the servable bundle to `frontend/dist/`,
/// replacing what was there. Returns the dist directory.
pub fn build_dist(options: &Options) -> anyhow::Result<PathBuf> {
    let started = Instant::now();
    let route = select_route(options.route)?;
    let target = paths::target_dir()?;

    let wasm = compile(route, &target, options.locked)?;
    let compiled_in = started.elapsed();

    let bindgen_dir = target.join("wasm-bindgen").join(route.to_string());
    let bindgen_started = Instant::now();
    bindgen(&wasm, &bindgen_dir)?;
    let bindgen_in = bindgen_started.elapsed();

    let frontend = paths::workspace_root().join("frontend");
    let dist_dir = frontend.join("dist");
    let bundle = dist::Inputs {
        glue_js: read(&bindgen_dir.join(format!("{OUT_NAME}.js")))?,
        wasm: read(&bindgen_dir.join(format!("{OUT_NAME}_bg.wasm")))?,
        css: read(&frontend.join("style.css"))?,
    };
    let dist_started = Instant::now();
    let written = dist::write(&dist_dir, &bundle)?;
    let dist_in = dist_started.elapsed();

    for file in &written {
        println!(
            "xtask: {:<44} {:>8} raw {:>8} gzip {:>8} brotli",
            file.name, file.raw, file.gzip, file.brotli
        );
    }
    println!(
        "xtask: built with route {route} in {:.1}s (cargo {:.1}s, wasm-bindgen {:.1}s, \
         hashing and compression {:.1}s)",
        started.elapsed().as_secs_f64(),
        compiled_in.as_secs_f64(),
        bindgen_in.as_secs_f64(),
        dist_in.as_secs_f64(),
    );
    Ok(dist_dir)
}

/// Picks the toolchain route and makes it usable, printing which and why.
///
/// Order: the explicit `route`, then `PARTOUT_WASM_ROUTE`, then detection:
/// rustup's wasm32 std if present, else `rustup target add` (bounded to two
/// minutes, as it may hang without network), else Debian's packages, which
/// get installed.
pub fn select_route(route: Option<Route>) -> anyhow::Result<Route> {
    if let Some(route) = route {
        println!("xtask: wasm route {route} (as chosen by the caller or --route)");
        return prepare(route);
    }
    if let Some(value) = std::env::var_os(ROUTE_ENV) {
        let value = value.to_string_lossy();
        let route: Route = value
            .parse()
            .with_context(|| format!("reading {ROUTE_ENV}"))?;
        println!("xtask: wasm route {route} ({ROUTE_ENV}={value})");
        return prepare(route);
    }

    if rustup_has_wasm_std() {
        println!("xtask: wasm route rustup (the toolchain has the {TARGET} std)");
        return Ok(Route::Rustup);
    }
    if rustup_add_target() && rustup_has_wasm_std() {
        println!("xtask: wasm route rustup (added rustup's {TARGET} target)");
        return Ok(Route::Rustup);
    }
    println!(
        "xtask: wasm route debian (rustup has no {TARGET} std and could not add it; \
         using Debian's rustc-web with a rebuilt std)"
    );
    prepare(Route::Debian).context(
        "no wasm toolchain: rustup's wasm32 target is missing and could not be added, \
         and Debian's Rust could not be set up either",
    )
}

/// Makes sure a chosen route can build, installing what it needs.
fn prepare(route: Route) -> anyhow::Result<Route> {
    match route {
        Route::Rustup => {
            let ready = rustup_has_wasm_std() || (rustup_add_target() && rustup_has_wasm_std());
            if !ready {
                bail!(
                    "route rustup: the toolchain has no {TARGET} std and \
                     `rustup target add {TARGET}` failed; try {ROUTE_ENV}=debian"
                );
            }
        }
        Route::Debian => {
            deps::ensure_debian_packages(DEBIAN_RUST_PACKAGES)?;
            let version = exec::stdout(Command::new("/usr/bin/rustc").arg("--version"))
                .context("route debian: Debian's rustc does not run")?;
            println!("xtask: using Debian's {version}");
        }
    }
    Ok(route)
}

/// The rustc that rustup's cargo would use: `RUSTC` if set, else `rustc`
/// from PATH (the rustup proxy, following `RUSTUP_TOOLCHAIN`).
fn rustup_rustc() -> Command {
    Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
}

/// Whether the toolchain's wasm32 library directory holds libcore. The
/// directory is printed even when the target is not installed, so look in it.
fn rustup_has_wasm_std() -> bool {
    let Ok(libdir) =
        exec::stdout(rustup_rustc().args(["--print", "target-libdir", "--target", TARGET]))
    else {
        return false;
    };
    let Ok(entries) = std::fs::read_dir(libdir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        name.starts_with("libcore-") && name.ends_with(".rlib")
    })
}

/// Tries `rustup target add`, for at most two minutes.
fn rustup_add_target() -> bool {
    println!("xtask: trying to add rustup's {TARGET} target");
    let mut cmd = Command::new("timeout");
    cmd.args(["120", "rustup", "target", "add", TARGET]);
    match exec::run(&mut cmd) {
        Ok(()) => true,
        Err(error) => {
            println!("xtask: {error:#}");
            false
        }
    }
}

/// Runs cargo for the route and returns the path of the linked `.wasm`.
fn compile(route: Route, target: &Path, locked: bool) -> anyhow::Result<PathBuf> {
    let target_dir = route.target_dir(target);
    let mut cmd = match route {
        // `CARGO` is the cargo running xtask, so the build uses the same
        // toolchain; `RUSTUP_TOOLCHAIN`, inherited, pins rustc to it too.
        Route::Rustup => Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())),
        Route::Debian => {
            let mut cmd = Command::new("/usr/bin/cargo");
            // rustup's proxies set RUSTUP_TOOLCHAIN; Debian's cargo must not
            // be pointed at rustup's rustc through it or through PATH.
            cmd.env_remove("RUSTUP_TOOLCHAIN")
                .env("RUSTC", "/usr/bin/rustc")
                // `-Zbuild-std` is unstable; Debian's stable rustc needs this
                // to accept it.
                .env("RUSTC_BOOTSTRAP", "1");
            cmd
        }
    };
    cmd.current_dir(paths::workspace_root())
        .args([
            "build",
            "--profile",
            PROFILE,
            "-p",
            PACKAGE,
            "--target",
            TARGET,
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    if route == Route::Debian {
        // Kept out of .cargo/config.toml: it would rebuild std for the host
        // server build as well.
        cmd.arg("-Zbuild-std=std,panic_abort");
    }
    if locked {
        cmd.arg("--locked");
    }
    exec::run(&mut cmd).with_context(|| format!("building {PACKAGE} (route {route})"))?;

    let wasm = target_dir
        .join(TARGET)
        .join(PROFILE)
        .join(format!("{PACKAGE}.wasm"));
    if !wasm.is_file() {
        bail!("cargo succeeded but {} is missing", wasm.display());
    }
    Ok(wasm)
}

/// Generates the JS glue and the final wasm into a fresh `out_dir`.
fn bindgen(wasm: &Path, out_dir: &Path) -> anyhow::Result<()> {
    if out_dir.exists() {
        std::fs::remove_dir_all(out_dir)
            .with_context(|| format!("removing {}", out_dir.display()))?;
    }
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(wasm)
        .out_name(OUT_NAME)
        .web(true)?
        .typescript(false)
        // The name section was two thirds of the output in a tiny app; the
        // producers section only says which tools ran.
        .remove_name_section(true)
        .remove_producers_section(true)
        // The boot module passes the hashed wasm URL to `init`, so the glue
        // needs no default path naming the unhashed file.
        .omit_default_module_path(true)
        .generate(out_dir)
        .with_context(|| format!("running wasm-bindgen on {}", wasm.display()))?;

    // Inline JS snippets land in `snippets/` and are imported by relative
    // path, which hashed, immutable assets would have to rewrite. None of our
    // dependencies emit any today; fail loudly if one starts to.
    let snippets = out_dir.join("snippets");
    if snippets.exists() {
        bail!(
            "wasm-bindgen emitted JS snippets ({}); dist does not bundle them yet",
            snippets.display()
        );
    }
    Ok(())
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn route_flag() {
        assert_eq!(parse_route_flag(&args(&[])).ok(), Some(None));
        assert_eq!(
            parse_route_flag(&args(&["--route", "debian"])).ok(),
            Some(Some(Route::Debian))
        );
        assert_eq!(
            parse_route_flag(&args(&["--locked", "--route=rustup"])).ok(),
            Some(Some(Route::Rustup))
        );
        assert!(parse_route_flag(&args(&["--route", "nix"])).is_err());
        assert!(parse_route_flag(&args(&["--route"])).is_err());
    }

    #[test]
    fn routes_build_in_separate_dirs() {
        let target = Path::new("/t");
        assert_ne!(
            Route::Rustup.target_dir(target),
            Route::Debian.target_dir(target)
        );
    }
}
