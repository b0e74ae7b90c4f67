//! Partout's build automation, run as `cargo xtask <command>` (the alias is in
//! `.cargo/config.toml`), so building the project needs nothing but cargo.
//!
//! # Layout
//! - `main.rs`: argument dispatch only; each command lives in its own module
//!   with a `cmd(args)` entry point and public functions other commands reuse.
//! - `wasm`: builds the web app into `frontend/dist/` (toolchain route,
//!   cargo, wasm-bindgen, hashed assets, precompression).
//! - `deps`: installs the Debian packages that builds and tests need.
//! - `dist`: the release binary with the web app embedded.
//! - `run`, `test`: the README's two commands (`.ci/run` calls `test`).
//! - `bench`: the benchmarks, on release builds.
//! - `paths`, `exec`: where things are, and running child processes.

mod bench;
mod deps;
mod dist;
mod exec;
mod fuzz;
mod paths;
mod run;
mod test;
mod wasm;

use std::process::ExitCode;

const HELP: &str = "\
usage: cargo xtask <command> [options]

commands:
  run [--route rustup|debian] [-- <partout flags>]
        build the web app and the release binary, then run partout
  test [--route rustup|debian]
        install test dependencies, build, check formatting and lints, run
        every test (what CI runs)
  bench [metrics|storage|logs|errors] [options]
        build partout and the load generator (release) and print the
        benchmarks' figures (all four when none is named; options such
        as `--lines N` for logs or `--events N` for errors go to the load
        generator)
  fuzz [--seconds N] [target...]
        run the parsers' cargo-fuzz targets, N seconds each (default 60;
        `test` runs each for 10 s first, PARTOUT_FUZZ_SECONDS to change)
  dist [--route rustup|debian] [--locked]
        build the release binary with the web app embedded
  wasm [--route rustup|debian] [--locked]
        build the web app into frontend/dist/ (hashed assets, .gz and .br)
  deps [--route rustup|debian]
        install the Debian packages the tests need (chromium, chromium-driver,
        and Debian's Rust for wasm when that route is the one chosen)
  help  print this text

environment:
  PARTOUT_WASM_ROUTE=rustup|debian   force the wasm toolchain route
  CARGO_TARGET_DIR                   where build output goes (default: target/)
  PARTOUT_FUZZ_SECONDS=N             seconds per fuzz target in `test` (0 skips)
";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole context chain on one line.
            eprintln!("xtask: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(command) = args.next() else {
        print!("{HELP}");
        anyhow::bail!("no command given");
    };
    let rest: Vec<String> = args.collect();
    match command.as_str() {
        "run" => run::cmd(&rest),
        "test" => test::cmd(&rest),
        "dist" => dist::cmd(&rest),
        "bench" => bench::cmd(&rest),
        "fuzz" => fuzz::cmd(&rest),
        "wasm" => wasm::cmd(&rest),
        "deps" => deps::cmd(&rest),
        "help" | "-h" | "--help" => {
            print!("{HELP}");
            Ok(())
        }
        other => anyhow::bail!("unknown command `{other}`; `cargo xtask help` lists them"),
    }
}
