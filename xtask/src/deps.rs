//! `cargo xtask deps`: installs the Debian packages builds and tests need.
//!
//! Other commands call [`ensure_debian_packages`] for what they need, so a
//! fresh machine (or CI) gets its tools from the project's own files.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicBool, Ordering},
};

use anyhow::{bail, Context as _};

use crate::{exec, paths, wasm};

/// What the browser tests drive: headless Chromium and its WebDriver.
pub const BROWSER_PACKAGES: &[&str] = &["chromium", "chromium-driver"];

/// What the Sentry end-to-end test needs to make its Python virtualenv.
pub const PYTHON_PACKAGES: &[&str] = &["python3", "python3-venv"];

/// The real Sentry SDK the end-to-end test drives, pinned so that a new
/// SDK release cannot change what a test run sends.
pub const SENTRY_SDK_VERSION: &str = "2.75.0";

/// The virtualenv with the Sentry SDK, inside the target dir; the e2e
/// test looks for it there too (`tests/tests/errors.rs`).
pub const SENTRY_VENV_DIR: &str = "sentry-sdk-venv";

/// What the JavaScript Sentry end-to-end test needs: Node.js and npm.
/// Debian's `nodejs` (18 in bookworm) is enough for the pinned SDK.
pub const NODE_PACKAGES: &[&str] = &["nodejs", "npm"];

/// The JavaScript SDK the Node.js end-to-end test drives. The 10.x line
/// still runs on Node.js 18, Debian bookworm's; 11.x needs 20.19. Keep it
/// equal to the pin in `tests/node/package.json` (a test below checks).
pub const SENTRY_NODE_VERSION: &str = "10.78.0";

/// Where `@sentry/node` is installed, inside the target dir, so that
/// `node_modules` never lands in the repository; the e2e test looks for it
/// there too (`tests/tests/errors_node.rs`).
pub const SENTRY_NODE_DIR: &str = "sentry-node";

/// The committed npm project the install starts from: the exact pin and
/// the lock file that fixes the SDK's own dependencies.
const SENTRY_NODE_PROJECT: &str = "tests/node";

/// Set once `apt-get update` has run in this process: one refresh is enough
/// however many install calls follow.
static APT_UPDATED: AtomicBool = AtomicBool::new(false);

/// How long apt waits for a lock held by another apt or dpkg (an unattended
/// upgrade, a parallel job) before giving up, in seconds.
const APT_LOCK_TIMEOUT: &str = "DPkg::Lock::Timeout=600";

/// `cargo xtask deps [--route rustup|debian]`.
pub fn cmd(args: &[String]) -> anyhow::Result<()> {
    let route = wasm::parse_route_flag(args)?;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            // Parsed above; skip its value.
            "--route" => {
                rest.next();
            }
            arg if arg.starts_with("--route=") => {}
            other => bail!("unknown option `{other}` for `cargo xtask deps`"),
        }
    }
    ensure_debian_packages(BROWSER_PACKAGES)?;
    ensure_sentry_sdk_venv()?;
    ensure_sentry_node()?;
    // Picking the route installs Debian's Rust when that route is chosen, and
    // nothing when rustup's wasm32 target is there.
    wasm::select_route(route)?;
    println!("xtask: dependencies are installed");
    Ok(())
}

/// Installs whichever of `pkgs` are not installed yet, with `apt-get` (through
/// `sudo` when not root). Runs `apt-get update` once per process before the
/// first install, since a fresh machine's package lists may be empty or miss
/// the security archive.
pub fn ensure_debian_packages(pkgs: &[&str]) -> anyhow::Result<()> {
    let missing = missing_packages(pkgs)?;
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing.join(" ");
    if !command_exists("apt-get") {
        bail!(
            "packages {list} are needed but apt-get is not available; \
             install them (or your system's equivalents) by hand"
        );
    }

    println!("xtask: installing {list}");
    if !APT_UPDATED.load(Ordering::Relaxed) {
        exec::run(&mut apt_get(&["update"])?).context("refreshing the package lists")?;
        APT_UPDATED.store(true, Ordering::Relaxed);
    }
    let mut install_args = vec!["install", "-y"];
    install_args.extend(missing.iter().copied());
    exec::run(&mut apt_get(&install_args)?).with_context(|| format!("installing {list}"))?;

    let still_missing = missing_packages(&missing)?;
    if !still_missing.is_empty() {
        bail!(
            "apt-get succeeded but {} are still not installed",
            still_missing.join(" ")
        );
    }
    Ok(())
}

/// Makes `<target>/sentry-sdk-venv` with the pinned `sentry-sdk` from
/// PyPI unless it is there already, and returns its Python. Debian's
/// `python3` makes it (through `python3-venv`), so a pyenv or other
/// Python first on PATH does not matter.
pub fn ensure_sentry_sdk_venv() -> anyhow::Result<PathBuf> {
    let dir = paths::target_dir()?.join(SENTRY_VENV_DIR);
    let python = dir.join("bin").join("python");
    if has_sentry_sdk(&python) {
        return Ok(python);
    }
    ensure_debian_packages(PYTHON_PACKAGES)?;
    let system_python = if Path::new("/usr/bin/python3").is_file() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    exec::run(
        Command::new(system_python)
            .args(["-m", "venv", "--clear"])
            .arg(&dir),
    )
    .context("making the Sentry SDK virtualenv")?;
    exec::run(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        &format!("sentry-sdk=={SENTRY_SDK_VERSION}"),
    ]))
    .context("installing sentry-sdk from PyPI")?;
    if !has_sentry_sdk(&python) {
        bail!(
            "pip succeeded but {} cannot import sentry_sdk {SENTRY_SDK_VERSION}",
            python.display()
        );
    }
    Ok(python)
}

/// Makes `<target>/sentry-node` with the pinned `@sentry/node` from npm
/// unless it is there already, and returns that directory (its
/// `node_modules` is what the test puts on `NODE_PATH`). The install starts
/// from the committed `tests/node/package.json` and `package-lock.json`.
pub fn ensure_sentry_node() -> anyhow::Result<PathBuf> {
    let dir = paths::target_dir()?.join(SENTRY_NODE_DIR);
    if has_sentry_node(&dir) {
        return Ok(dir);
    }
    // Only when a tool is missing: NodeSource's `nodejs`, common on
    // developer machines, bundles npm and conflicts with Debian's `npm`
    // package, which apt would otherwise replace it with.
    if !command_exists("node") || !command_exists("npm") {
        ensure_debian_packages(NODE_PACKAGES)?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("making {}", dir.display()))?;
    let project = paths::workspace_root().join(SENTRY_NODE_PROJECT);
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(project.join(file), dir.join(file))
            .with_context(|| format!("copying {file} from {}", project.display()))?;
    }
    exec::run(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund"])
            .current_dir(&dir),
    )
    .context("installing @sentry/node from npm")?;
    if !has_sentry_node(&dir) {
        bail!(
            "npm succeeded but {} has no @sentry/node {SENTRY_NODE_VERSION}",
            dir.display()
        );
    }
    Ok(dir)
}

/// Whether `dir` holds the pinned `@sentry/node`, as Node.js itself
/// resolves it from there.
fn has_sentry_node(dir: &Path) -> bool {
    let check = format!(
        "process.exit(require('@sentry/node/package.json').version === '{SENTRY_NODE_VERSION}' ? 0 : 1)"
    );
    dir.join("node_modules").is_dir()
        && Command::new("node")
            .args(["-e", &check])
            .current_dir(dir)
            .output()
            .is_ok_and(|output| output.status.success())
}

/// Whether `python` imports the pinned `sentry_sdk`.
fn has_sentry_sdk(python: &Path) -> bool {
    let check = format!(
        "import sys, sentry_sdk; sys.exit(0 if sentry_sdk.VERSION == '{SENTRY_SDK_VERSION}' else 1)"
    );
    python.is_file()
        && Command::new(python)
            .args(["-c", &check])
            .output()
            .is_ok_and(|output| output.status.success())
}

/// The subset of `pkgs` that dpkg does not report as installed.
fn missing_packages<'a>(pkgs: &[&'a str]) -> anyhow::Result<Vec<&'a str>> {
    if !command_exists("dpkg-query") {
        // Not a Debian system: every package counts as missing, and the
        // caller explains that apt is not there to install them.
        return Ok(pkgs.to_vec());
    }
    let mut missing = Vec::new();
    for &pkg in pkgs {
        let output = Command::new("dpkg-query")
            .args(["-W", "-f=${Status}", pkg])
            .output()
            .with_context(|| format!("asking dpkg-query about {pkg}"))?;
        // An unknown package makes dpkg-query exit non-zero with no output,
        // which the status check below also reads as "not installed".
        let status = String::from_utf8_lossy(&output.stdout);
        if !is_installed_status(&status) {
            missing.push(pkg);
        }
    }
    Ok(missing)
}

/// Reads dpkg's `${Status}` field, `want flag state`, where only the state
/// `installed` means the package is usable (`deinstall ok config-files` is not).
fn is_installed_status(status: &str) -> bool {
    status.split_whitespace().nth(2) == Some("installed")
}

/// An `apt-get` command that never prompts: as root directly, otherwise
/// through sudo (which does not pass the environment on, hence `env`).
fn apt_get(args: &[&str]) -> anyhow::Result<Command> {
    let mut cmd = if is_root() {
        Command::new("apt-get")
    } else {
        if !command_exists("sudo") {
            bail!("installing packages needs root, and sudo is not available");
        }
        let mut cmd = Command::new("sudo");
        cmd.args(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
        cmd
    };
    cmd.env("DEBIAN_FRONTEND", "noninteractive")
        .args(["-o", APT_LOCK_TIMEOUT])
        .args(args);
    Ok(cmd)
}

fn is_root() -> bool {
    exec::stdout(Command::new("id").arg("-u")).is_ok_and(|uid| uid == "0")
}

/// Whether `program` can be found on PATH.
fn command_exists(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_status_field() {
        assert!(is_installed_status("install ok installed"));
        assert!(is_installed_status("hold ok installed"));
        assert!(!is_installed_status("deinstall ok config-files"));
        assert!(!is_installed_status("install ok unpacked"));
        assert!(!is_installed_status(""));
    }

    #[test]
    fn the_node_sdk_pin_matches_its_package_json() {
        let project = paths::workspace_root().join(SENTRY_NODE_PROJECT);
        let manifest = std::fs::read_to_string(project.join("package.json")).unwrap();
        let pin = format!("\"@sentry/node\": \"{SENTRY_NODE_VERSION}\"");
        assert!(manifest.contains(&pin), "{manifest}");
        let lock = std::fs::read_to_string(project.join("package-lock.json")).unwrap();
        assert!(
            lock.contains(&pin),
            "package-lock.json is stale: run `npm install --package-lock-only` in tests/node"
        );
    }
}
