//! The `partout` binary: parse the command line, set up logging, run, and
//! turn any failure into one line on stderr and a non-zero exit.

use std::process::ExitCode;

use clap::Parser as _;
use partout::cli::{Cli, Command, ConfigCommand};
use partout::config::{LogFormat, Settings, DEFAULT_CONFIG_TOML};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return clap_error(&err),
    };
    let serve_args = match cli.command {
        Some(Command::Config {
            command: ConfigCommand::Default,
        }) => {
            print!("{DEFAULT_CONFIG_TOML}");
            return ExitCode::SUCCESS;
        }
        Some(Command::Serve(args)) => *args,
        None => cli.serve,
    };
    let settings = match Settings::resolve(&serve_args) {
        Ok(settings) => settings,
        Err(err) => return fail(&err),
    };
    init_logging(settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("partout")
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&err),
    };
    match runtime.block_on(partout::app::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err),
    }
}

/// Help and version go to stdout with success; usage errors become one line.
fn clap_error(err: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    let rendered = err.render().to_string();
    let first = rendered.lines().next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    eprintln!("partout: error: {first} (see 'partout --help')");
    ExitCode::from(2)
}

fn fail(err: &dyn std::error::Error) -> ExitCode {
    // One line: the error and its causes, as "outer: inner".
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    eprintln!("partout: error: {line}");
    ExitCode::FAILURE
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("PARTOUT_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal: in a file or a journal the
    // escape codes are noise that breaks grep.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_target(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}
