//! `partout-loadgen metrics --partout <binary>`: starts a real partout in a
//! temporary data dir, drives it over real sockets on 127.0.0.1, and prints
//! the figures the metrics issue asks for. Every loop is bounded in count
//! and time. Run it through `cargo xtask bench`, which builds both in
//! release mode first.

mod server;
mod statsd;
mod storage;

use std::path::PathBuf;

use anyhow::{bail, Context as _};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        bail!("usage: partout-loadgen metrics --partout <path to partout>");
    };
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    match command.as_str() {
        "metrics" => {
            let partout =
                PathBuf::from(value("--partout").context("--partout <path> is required")?);
            let scale: f64 = value("--scale")
                .map_or(Ok(1.0), |s| s.parse())
                .context("--scale takes a number")?;
            statsd::run_all(&partout, scale)
        }
        "storage" => storage::run(),
        other => bail!("unknown command {other}"),
    }
}
