//! Signals: the first SIGINT or SIGTERM starts a graceful shutdown by
//! cancelling the root token; a second one exits at once.
//!
//! Drain order (see `app::run`): stop accepting HTTP and finish requests in
//! flight, mark not-ready, commit and checkpoint the database, remove
//! `partout.addrs.json`, release the data-dir lock.

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// Exit status after a second signal: 128 + SIGINT, as shells report it.
const FORCED_EXIT_CODE: i32 = 130;

/// Installs the handlers; returns an error if the OS refuses.
pub fn watch_signals(shutdown: CancellationToken) -> std::io::Result<()> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        let first = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        tracing::info!(
            signal = first,
            "shutting down gracefully (send the signal again to exit at once)"
        );
        shutdown.cancel();
        let second = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        tracing::warn!(
            signal = second,
            "second signal: exiting now without flushing"
        );
        std::process::exit(FORCED_EXIT_CODE);
    });
    Ok(())
}
